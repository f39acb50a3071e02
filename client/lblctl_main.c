/*
 * lblctl: the command-line client. Offline commands (check, plan,
 * check-rig, hw) work on files; run-control commands talk to lbld.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"

/*
 * Each command's options: name, short name, the value's name (NULL: a
 * flag), its check, the help line. lblctl parses and checks them all
 * before it connects (client/ctl_opts.c); lbld checks again what it is
 * sent.
 */
#define CTL_OPT_END { NULL, 0, NULL, NULL, NULL, NULL }
static const struct ctl_option ctl_opt_rig[] = {
	{ "rig", 0, "RIG", NULL, "check against this rig file", NULL },
	CTL_OPT_END,
}, ctl_opt_plan[] = {
	{ "rig", 0, "RIG", NULL, "plan for this rig file", NULL },
	{ "json", 0, NULL, NULL, "the plan as JSON", NULL },
	CTL_OPT_END,
}, ctl_opt_hw[] = {
	{ "json", 0, NULL, NULL, "the table as JSON", NULL },
	{ "rig", 0, "RIG", NULL, "the rig file to probe without lbld", NULL },
	{ "gpio-sim", 0, "DIR", NULL, "simulated GPIO chips in DIR (without lbld)", NULL },
	CTL_OPT_END,
}, ctl_opt_run[] = {
	{ "substrate", 0, "ID", NULL, "the substrate coated", NULL },
	{ "operator", 0, "NAME", NULL, "who runs the batch", NULL },
	{ "note", 0, "TEXT", NULL, "a note kept with the record", NULL },
	{ "lot", 0, "SOLUTION=LOT", ctl_check_lot, "the lot of a solution (once for each)", NULL },
	{ "wait", 0, NULL, NULL, "answer when the batch ends", NULL },
	{ "follow", 0, NULL, NULL, "with --wait: print its progress meanwhile", NULL },
	CTL_OPT_END,
}, ctl_opt_status[] = {
	{ "json", 0, NULL, NULL, "the status as JSON", NULL },
	{ "follow", 0, NULL, NULL, "keep printing as the batch goes on", NULL },
	{ "events", 0, NULL, NULL, "with --follow --json: also each event as it is recorded, "
	    "and follow on while idle", NULL },
	CTL_OPT_END,
}, ctl_opt_pause[] = {
	{ "now", 0, NULL, NULL, "pause in the current step, not after it", NULL },
	CTL_OPT_END,
}, ctl_opt_resume_batch[] = {
	{ "wait", 0, NULL, NULL, "answer when the batch ends", NULL },
	{ "follow", 0, NULL, NULL, "with --wait: print its progress meanwhile", NULL },
	{ "accept-rig-change", 0, NULL, NULL, "resume although the rig file changed", NULL },
	CTL_OPT_END,
}, ctl_opt_teach[] = {
	{ "surface", 0, NULL, NULL, "also the lift's position as surface_z", NULL },
	{ "no-reload", 0, NULL, NULL, "do not have lbld reload the rig file", NULL },
	CTL_OPT_END,
}, ctl_opt_calibrate[] = {
	{ "flow", 0, "FLOW", NULL, "run the pump at this flow (e.g. 2mL/min)", NULL },
	{ "time", 0, "TIME", NULL, "for this long (e.g. 5min)", NULL },
	{ "measured", 0, "VOLUME", NULL, "the volume the last run delivered (e.g. 11.8mL)", NULL },
	CTL_OPT_END,
}, ctl_opt_speed[] = {
	{ "speed", 0, "SPEED", NULL, "at this speed (e.g. 20mm/s)", NULL },
	CTL_OPT_END,
}, ctl_opt_goto[] = {
	{ "immerse", 0, NULL, NULL, "lower the sample into the bath", NULL },
	CTL_OPT_END,
}, ctl_opt_set[] = {
	{ "for", 0, "DURATION", NULL, "switch back off after this long", NULL },
	CTL_OPT_END,
}, ctl_opt_prime[] = {
	{ "flow", 0, "FLOW", NULL, "at this flow", NULL },
	CTL_OPT_END,
}, ctl_opt_history[] = {
	{ "recipe", 0, "NAME", NULL, "batches of this recipe", NULL },
	{ "substrate", 0, "ID", NULL, "batches on this substrate", NULL },
	{ "state", 0, "STATE", ctl_check_state, "batches in this state (running, paused, "
	    "completed, aborted, failed, interrupted)", NULL },
	{ "since", 0, "DATE", ctl_check_since, "started at or after DATE (today, yesterday, "
	    "2026-12-01, 2026-12-01T14:00)", NULL },
	{ "until", 0, "DATE", ctl_check_until, "started by the end of DATE (the whole day, "
	    "minute or second written)", NULL },
	{ "limit", 0, "N", ctl_check_limit, "the newest N batches", NULL },
	{ "utc", 0, NULL, NULL, "dates read and times shown in UTC, not local time", NULL },
	{ "json", 0, NULL, NULL, "the list as JSON (times in UTC, ISO 8601)", NULL },
	{ "between", 0, NULL, NULL, "the events outside any batch instead", NULL },
	CTL_OPT_END,
}, ctl_opt_show[] = {
	{ "json", 0, NULL, NULL, "the whole record as JSON (times in UTC)", NULL },
	{ "recipe", 0, NULL, NULL, "the recipe's YAML as it was run", NULL },
	{ "utc", 0, NULL, NULL, "times in UTC, not local time", NULL },
	CTL_OPT_END,
}, ctl_opt_compare[] = {
	{ "tolerance", 0, "SECONDS", ctl_check_seconds, "timing differences up to this are "
	    "equal", NULL },
	{ "utc", 0, NULL, NULL, "times in UTC, not local time", NULL },
	CTL_OPT_END,
}, ctl_opt_export[] = {
	{ "all", 0, NULL, NULL, "every batch", NULL },
	{ "format", 0, "FORMAT", ctl_check_format, "csv or json", NULL },
	{ "table", 0, "TABLE", NULL, "with csv: that table alone, with its header row (batches, "
	    "steps, bilayers, solutions, baselines, events)", NULL },
	CTL_OPT_END,
}, ctl_opt_plot[] = {
	{ "output", 'o', "FILE", NULL, "the drawing: FILE.svg or FILE.png", "-o" },
	CTL_OPT_END,
};

static const struct ctl_command ctl_commands[] = {
	{ "check", ctl_check, "check RECIPE [--rig RIG]",
	    "Checks a recipe file (and, with --rig, that the rig can run it).", 1, 1, NULL,
	    ctl_opt_rig },
	{ "plan", ctl_plan, "plan RECIPE [--rig RIG] [--json]",
	    "Prints the timeline a recipe runs as: every step, its start and duration.", 1, 1,
	    NULL, ctl_opt_plan },
	{ "check-rig", ctl_check_rig, "check-rig [RIG]",
	    "Checks a rig file, its buses, devices, stations and profiles.", 0, 1, NULL, NULL },
	{ "hw", ctl_hw, "hw [--json] [--rig RIG] [--gpio-sim DIR]",
	    "Every device of the rig and what it reports (from lbld, or probed when none runs).",
	    0, 0, NULL, ctl_opt_hw },
	{ "run", ctl_remote, "run RECIPE|NAME[@VERSION] [--substrate ID] [--operator NAME] "
	    "[--note TEXT] [--lot SOLUTION=LOT]... [--wait [--follow]]",
	    "Starts a batch of a recipe file or a stored recipe.", 1, 1, NULL, ctl_opt_run },
	{ "status", ctl_remote, "status [--json] [--follow [--events]]",
	    "What lbld is doing: the batch, its step, the rig's state.", 0, 0, NULL,
	    ctl_opt_status },
	{ "pause", ctl_remote, "pause [--now]", "Pauses the batch after its step (--now: in it).",
	    0, 0, NULL, ctl_opt_pause },
	{ "resume", ctl_remote, "resume", "Resumes a paused batch.", 0, 0, NULL, NULL },
	{ "continue", ctl_remote, "continue", "Answers the batch's prompt: go on.", 0, 0, NULL,
	    NULL },
	{ "abort", ctl_remote, "abort", "Aborts the batch: outputs safe, sample withdrawn.", 0,
	    0, NULL, NULL },
	{ "resume-batch", ctl_remote, "resume-batch ID [--wait [--follow]] [--accept-rig-change]",
	    "Resumes an interrupted batch from its last settled step.", 1, 1, ctl_check_batch_id,
	    ctl_opt_resume_batch },
	{ "abort-batch", ctl_remote, "abort-batch ID",
	    "Marks an interrupted batch aborted, so it is never resumed.", 1, 1,
	    ctl_check_batch_id, NULL },
	{ "park", ctl_remote, "park", "Withdraws the sample and parks the axes.", 0, 0, NULL,
	    NULL },
	{ "home", ctl_remote, "home [AXIS...]", "Homes the axes (all, or those named).", 0, -1,
	    NULL, NULL },
	{ "teach", ctl_teach, "teach STATION [--surface] [--no-reload]",
	    "Writes where the transfer axis stands as the station's x in the rig file.", 1, 1,
	    NULL, ctl_opt_teach },
	{ "reload", ctl_remote, "reload", "Has lbld read the rig file again.", 0, 0, NULL, NULL },
	{ "preflight", ctl_remote, "preflight RECIPE|NAME[@VERSION]",
	    "Checks that the rig is ready to run a recipe; changes nothing.", 1, 1, NULL, NULL },
	{ "calibrate", ctl_calibrate, "calibrate PUMP --flow FLOW --time TIME | calibrate PUMP "
	    "--measured VOLUME",
	    "Runs a pump for a measured volume, then writes its corrected flow scale.", 1, 1,
	    NULL, ctl_opt_calibrate },
	{ "move", ctl_manual, "move AXIS POSITION [--speed SPEED]",
	    "Moves an axis to a position.", 2, 2, NULL, ctl_opt_speed },
	{ "jog", ctl_manual, "jog AXIS DISTANCE [--speed SPEED]",
	    "Moves an axis by a distance (negative: backwards).", 2, 2, NULL, ctl_opt_speed },
	{ "goto", ctl_manual, "goto STATION [--immerse]", "Moves the sample over a station.", 1,
	    1, NULL, ctl_opt_goto },
	{ "stop", ctl_manual, "stop", "Stops every motion and output now.", 0, 0, NULL, NULL },
	{ "set", ctl_manual, "set OUTPUT on|off|FLOW|RPM|SPEED [--for DURATION]",
	    "Switches or sets an output by hand.", 2, 2, NULL, ctl_opt_set },
	{ "prime", ctl_manual, "prime PUMP VOLUME [--flow FLOW]",
	    "Pumps a volume to fill a pump's line.", 2, 2, NULL, ctl_opt_prime },
	{ "fill", ctl_manual, "fill STATION", "Fills a station's bath.", 1, 1, NULL, NULL },
	{ "drain", ctl_manual, "drain STATION", "Drains a station's bath.", 1, 1, NULL, NULL },
	{ "reset", ctl_manual, "reset DEVICE", "Clears a device's fault.", 1, 1, NULL, NULL },
	{ "recipe", ctl_remote, "recipe add FILE | recipe list | recipe show NAME[@VERSION] | "
	    "recipe rm NAME@VERSION | recipe diff NAME@VERSION NAME@VERSION|FILE",
	    "Stores recipes in lbld's database, lists, shows, retires and compares them.", 1, 3,
	    NULL, NULL },
	{ "history", ctl_remote, "history [--recipe NAME] [--substrate S] [--state S] "
	    "[--since DATE] [--until DATE] [--limit N] [--utc] [--json] | history --between",
	    "The recorded batches, newest first (times in local time unless --utc).", 0, 0,
	    NULL, ctl_opt_history },
	{ "show", ctl_remote, "show ID [--json] [--recipe] [--utc]",
	    "One batch's record in full.", 1, 1, ctl_check_batch_id, ctl_opt_show },
	{ "compare", ctl_remote, "compare ID1 ID2 [--tolerance SECONDS] [--utc]",
	    "What differs between two batches' records and recipes.", 2, 2, ctl_check_batch_id,
	    ctl_opt_compare },
	{ "export", ctl_remote, "export ID|--all --format csv|json [--table TABLE]",
	    "A batch's record (or every batch's) as CSV or JSON.", 0, 1, ctl_check_batch_id,
	    ctl_opt_export },
	{ "series", ctl_remote, "series ID", "A batch's thickness against bilayer, for plots.",
	    1, 1, ctl_check_batch_id, NULL },
	{ "plot", ctl_plot, "plot ID [ID...] -o FILE.svg|FILE.png",
	    "Draws thickness against bilayer for batches (with gnuplot).", 1, -1,
	    ctl_check_batch_id, ctl_opt_plot },
};

#define CTL_COMMANDS	(sizeof(ctl_commands) / sizeof(ctl_commands[0]))

static int
ctl_usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: lblctl [--socket PATH] [--timeout SECONDS] COMMAND [ARGS]\n"
	    "       lblctl COMMAND --help   (a command's options)\n"
	    "       lblctl --version\n"
	    "The global options may also follow the command. commands:\n");
	for (i = 0; i < CTL_COMMANDS; i++)
		fprintf(out, "  lblctl %s\n", ctl_commands[i].usage);
	return out == stdout ? 0 : 2;
}

static const struct ctl_command *
ctl_find(const char *name)
{
	size_t i;

	for (i = 0; i < CTL_COMMANDS; i++)
		if (strcmp(name, ctl_commands[i].name) == 0)
			return &ctl_commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct ctl_command *cmd;
	char **words;
	int n, rc;

	log_init("lblctl", 6);
	/*
	 * Global options before the command: --socket PATH, --timeout SECONDS
	 * (or --socket=PATH). Each becomes the environment variable it stands
	 * for, which the commands read. They may follow the command too
	 * (ctl_parse_command).
	 */
	while (argc > 1 && (strncmp(argv[1], "--socket", 8) == 0 ||
	    strncmp(argv[1], "--timeout", 9) == 0)) {
		const char *name = argv[1][2] == 's' ? "socket" : "timeout";
		const char *rest = argv[1] + 2 + strlen(name);

		if (*rest == '=') {
			if (ctl_global_option(name, rest + 1) == -1)
				return 2;
			argc -= 1;
			argv += 1;
			continue;
		}
		if (*rest != '\0')
			break;
		if (argc < 3) {
			fprintf(stderr, "lblctl: option '--%s' needs a value\n", name);
			return 2;
		}
		if (ctl_global_option(name, argv[2]) == -1)
			return 2;
		argc -= 2;
		argv += 2;
	}
	if (argc < 2)
		return ctl_usage(stderr);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		/* "lblctl help COMMAND": that command's help */
		if (argc > 2 && strcmp(argv[1], "help") == 0 && (cmd = ctl_find(argv[2])) != NULL) {
			ctl_command_help(cmd, stdout);
			return 0;
		}
		return ctl_usage(stdout);
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("lblctl %s\n", LBL_VERSION);
		return 0;
	}
	if ((cmd = ctl_find(argv[1])) == NULL) {
		if (argv[1][0] == '-')
			fprintf(stderr, "lblctl: unknown option '%s'\n", argv[1]);
		else
			fprintf(stderr, "lblctl: unknown command '%s'\n", argv[1]);
		return ctl_usage(stderr);
	}
	rc = ctl_parse_command(cmd, argc - 1, argv + 1, &n, &words);
	if (rc != 0)
		return rc == 1 ? 0 : 2;
	rc = cmd->run(n, words);
	ctl_words_free(n, words);
	return rc;
}
