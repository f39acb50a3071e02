/*
 * lblctl: the command-line client. Offline commands (check, plan,
 * check-rig, hw) work on files; run-control commands talk to lbld.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
} ctl_commands[] = {
	{ "check", ctl_check, "check RECIPE [--rig RIG]" },
	{ "plan", ctl_plan, "plan RECIPE [--rig RIG] [--json]" },
	{ "check-rig", ctl_check_rig, "check-rig [RIG]" },
	{ "hw", ctl_hw, "hw [--json] [--rig RIG] [--gpio-sim DIR]" },
	{ "run", ctl_remote, "run RECIPE|NAME[@VERSION] [--substrate ID] [--operator NAME] "
	    "[--note TEXT] [--lot SOLUTION=LOT]... [--wait]" },
	{ "status", ctl_remote, "status [--json] [--follow]" },
	{ "pause", ctl_remote, "pause [--now]" },
	{ "resume", ctl_remote, "resume" },
	{ "continue", ctl_remote, "continue" },
	{ "abort", ctl_remote, "abort" },
	{ "resume-batch", ctl_remote, "resume-batch ID [--wait] [--accept-rig-change]" },
	{ "abort-batch", ctl_remote, "abort-batch ID" },
	{ "park", ctl_remote, "park" },
	{ "home", ctl_remote, "home [AXIS...]" },
	{ "teach", ctl_teach, "teach STATION [--surface] [--no-reload]" },
	{ "reload", ctl_remote, "reload" },
	{ "preflight", ctl_remote, "preflight RECIPE|NAME[@VERSION]" },
	{ "calibrate", ctl_calibrate, "calibrate PUMP --flow FLOW --time TIME | calibrate PUMP "
	    "--measured VOLUME" },
	{ "move", ctl_manual, "move AXIS POSITION [--speed SPEED]" },
	{ "jog", ctl_manual, "jog AXIS DISTANCE [--speed SPEED]" },
	{ "goto", ctl_manual, "goto STATION [--immerse]" },
	{ "stop", ctl_manual, "stop" },
	{ "set", ctl_manual, "set OUTPUT on|off|FLOW|RPM|SPEED [--for DURATION]" },
	{ "prime", ctl_manual, "prime PUMP VOLUME [--flow FLOW]" },
	{ "fill", ctl_manual, "fill STATION" },
	{ "drain", ctl_manual, "drain STATION" },
	{ "reset", ctl_manual, "reset DEVICE" },
	{ "recipe", ctl_remote, "recipe add FILE | recipe list | recipe show NAME[@VERSION] | "
	    "recipe rm NAME@VERSION | recipe diff NAME@VERSION NAME@VERSION|FILE" },
	{ "history", ctl_remote, "history [--recipe NAME] [--substrate S] [--state S] "
	    "[--since DATE] [--until DATE] [--limit N] [--json] | history --between" },
	{ "show", ctl_remote, "show ID [--json] [--recipe]" },
	{ "compare", ctl_remote, "compare ID1 ID2 [--tolerance SECONDS]" },
	{ "export", ctl_remote, "export ID|--all --format csv|json [--table TABLE]" },
	{ "series", ctl_remote, "series ID" },
	{ "plot", ctl_plot, "plot ID [ID...] -o FILE.svg|FILE.png" },
};

static int
ctl_usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: lblctl [--socket PATH] [--timeout SECONDS] COMMAND [ARGS]\n"
	    "commands:\n");
	for (i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]); i++)
		fprintf(out, "  lblctl %s\n", ctl_commands[i].usage);
	return out == stdout ? 0 : 2;
}

int
main(int argc, char **argv)
{
	size_t i;

	log_init("lblctl", 6);
	if (argc < 2)
		return ctl_usage(stderr);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)
		return ctl_usage(stdout);
	/*
	 * Global options, before the command: --socket PATH, --timeout
	 * SECONDS. Each becomes the environment variable it stands for, which
	 * the commands read.
	 */
	while (argc > 2 && (strcmp(argv[1], "--socket") == 0 ||
	    strcmp(argv[1], "--timeout") == 0)) {
		double seconds;
		const char *name = strcmp(argv[1], "--socket") == 0 ? "LBL_SOCKET" : "LBL_TIMEOUT";

		if (strcmp(argv[1], "--timeout") == 0 &&
		    ctl_parse_timeout(argv[2], &seconds) == -1) {
			fprintf(stderr, "lblctl: --timeout: expected seconds, more than 0 and at "
			    "most %d, not '%s'\n", CTL_MAX_TIMEOUT_S, argv[2]);
			return 2;
		}
		if (setenv(name, argv[2], 1) == -1) {
			perror("lblctl: setenv");
			return 1;
		}
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || strcmp(argv[1], "--socket") == 0 || strcmp(argv[1], "--timeout") == 0)
		return ctl_usage(stderr);
	if (strcmp(argv[1], "--version") == 0) {
		printf("lblctl %s\n", LBL_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]); i++)
		if (strcmp(argv[1], ctl_commands[i].name) == 0)
			return ctl_commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "lblctl: unknown command '%s'\n", argv[1]);
	return ctl_usage(stderr);
}
