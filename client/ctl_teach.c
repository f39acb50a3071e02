/*
 * lblctl teach STATION [--surface] [--no-reload]: lbld reads the transfer
 * axis (and, with --surface, the lift) where the technician jogged it, the
 * station's x (and surface_z) are written into the rig file lbld runs, in
 * place (hw/rig/rig_edit.c: comments and layout kept, a .bak beside it,
 * checked as check-rig checks before it replaces the file), and lbld
 * reloads it. lblctl writes the file, not lbld: lbld's user may not write
 * /etc/lbl, the operator who teaches may (as they would edit it by hand).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "rig_edit.h"

/* What lbld answered to 'teach': the rig file's path and the positions, as text. */
struct ctl_taught {
	char rig[4096];
	char station[128];
	char x[64], surface_z[64];
};

/* One answer line: "rig PATH", "station NAME", "x MM" or "surface_z MM". */
static void
ctl_teach_line(void *arg, const char *line)
{
	struct ctl_taught *t = arg;

	if (strncmp(line, "rig ", 4) == 0)
		snprintf(t->rig, sizeof(t->rig), "%s", line + 4);
	else if (strncmp(line, "station ", 8) == 0)
		snprintf(t->station, sizeof(t->station), "%s", line + 8);
	else if (strncmp(line, "x ", 2) == 0)
		snprintf(t->x, sizeof(t->x), "%s", line + 2);
	else if (strncmp(line, "surface_z ", 10) == 0)
		snprintf(t->surface_z, sizeof(t->surface_z), "%s", line + 10);
	else
		printf("%s\n", line);
}

/*
 * "412.500" as the rig file writes a length: "412.5 mm". Returns 0, or -1
 * when text is no number lbld would send.
 */
static int
ctl_teach_mm(const char *text, char *out, size_t size)
{
	char *end, num[64];
	double mm = strtod(text, &end);
	size_t n;

	if (end == text || *end != '\0' || mm != mm)
		return -1;
	snprintf(num, sizeof(num), "%.3f", mm);
	/* trailing zeros say nothing the drive measured */
	n = strlen(num);
	while (n > 0 && num[n - 1] == '0')
		num[--n] = '\0';
	if (n > 0 && num[n - 1] == '.')
		num[--n] = '\0';
	if (strcmp(num, "-0") == 0)
		snprintf(num, sizeof(num), "0");
	snprintf(out, size, "%s mm", num);
	return 0;
}

int
ctl_teach(int argc, char **argv)
{
	struct ctl_taught t = { "", "", "", "" };
	char *words[4], x[80], z[80], *text;
	const char *station = NULL;
	int i, n = 0, surface = 0, reload = 1, rc;
	struct rig_edit edits[2];
	struct diag d;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--surface") == 0)
			surface = 1;
		else if (strcmp(argv[i], "--no-reload") == 0)
			reload = 0;
		else if (argv[i][0] != '-' && station == NULL)
			station = argv[i];
		else {
			fprintf(stderr, "lblctl teach: unexpected '%s'\nusage: lblctl teach STATION "
			    "[--surface] [--no-reload]\n", argv[i]);
			return 2;
		}
	}
	if (station == NULL) {
		fprintf(stderr, "usage: lblctl teach STATION [--surface] [--no-reload]\n");
		return 2;
	}
	words[n++] = "teach";
	words[n++] = (char *)station;
	if (surface)
		words[n++] = "--surface";
	words[n] = NULL;
	if ((rc = ctl_remote_lines(n, words, ctl_teach_line, &t)) != 0)
		return rc;
	if (t.rig[0] == '\0' || strcmp(t.station, station) != 0 ||
	    ctl_teach_mm(t.x, x, sizeof(x)) == -1 ||
	    (surface && ctl_teach_mm(t.surface_z, z, sizeof(z)) == -1)) {
		fprintf(stderr, "lblctl teach: lbld's answer lacks the rig file or a position "
		    "(rig '%s', station '%s', x '%s', surface_z '%s'); nothing written\n", t.rig,
		    t.station, t.x, t.surface_z);
		return 1;
	}
	{
		const char *x_keys[] = { "stations", station, "x" };
		const char *z_keys[] = { "stations", station, "surface_z" };
		edits[0] = (struct rig_edit){ x_keys, 3, x };
		edits[1] = (struct rig_edit){ z_keys, 3, z };
		diag_init(&d, t.rig);
		rc = rig_edit_file(t.rig, edits, surface ? 2 : 1, &d);
		text = diag_render(&d);
		if (text != NULL && *text)
			fputs(text, stderr);
		free(text);
		diag_free(&d);
	}
	if (rc == -1) {
		fprintf(stderr, "lblctl teach: station %s not taught (x %s%s%s); %s unchanged\n",
		    station, x, surface ? ", surface_z " : "", surface ? z : "", t.rig);
		return 1;
	}
	printf("station %s: x %s%s%s written to %s (the previous file is %s.bak)\n", station, x,
	    surface ? ", surface_z " : "", surface ? z : "", t.rig, t.rig);
	if (!reload) {
		printf("lbld still runs the rig as it was: 'lblctl reload' to use it\n");
		return 0;
	}
	words[0] = "reload";
	words[1] = NULL;
	fflush(stdout);
	return ctl_remote(1, words);
}

/* ---- lblctl calibrate ---- */

/* What lbld answered to 'calibrate PUMP --measured V'. */
struct ctl_calibrated {
	char rig[4096];
	char profile[128];
	char scale[64];
};

static void
ctl_calibrate_line(void *arg, const char *line)
{
	struct ctl_calibrated *k = arg;

	if (strncmp(line, "rig ", 4) == 0)
		snprintf(k->rig, sizeof(k->rig), "%s", line + 4);
	else if (strncmp(line, "profile ", 8) == 0)
		snprintf(k->profile, sizeof(k->profile), "%s", line + 8);
	else if (strncmp(line, "scale ", 6) == 0)
		snprintf(k->scale, sizeof(k->scale), "%s", line + 6);
	else if (strncmp(line, "note ", 5) == 0)
		printf("%s\n", line + 5);
	else
		printf("%s\n", line);
}

/*
 * lblctl calibrate PUMP --flow FLOW --time TIME: lbld runs the pump and
 * says what it commanded. lblctl calibrate PUMP --measured VOLUME: lbld
 * works out the corrected flow scale from the last run; lblctl writes it
 * into the pump's profile in the rig file (profiles.NAME.ops.flow.scale)
 * and lbld reloads.
 */
int
ctl_calibrate(int argc, char **argv)
{
	struct ctl_calibrated k = { "", "", "" };
	char *words[2] = { "reload", NULL }, *text;
	int i, measured = 0, rc;
	struct diag d;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--measured") == 0)
			measured = 1;
	if (!measured)
		return ctl_remote(argc, argv);
	if ((rc = ctl_remote_lines(argc, argv, ctl_calibrate_line, &k)) != 0)
		return rc;
	if (k.rig[0] == '\0' || k.profile[0] == '\0' || k.scale[0] == '\0') {
		fprintf(stderr, "lblctl calibrate: lbld's answer lacks the rig file, the profile "
		    "or the scale; nothing written\n");
		return 1;
	}
	{
		const char *keys[] = { "profiles", k.profile, "ops", "flow", "scale" };
		struct rig_edit edit = { keys, 5, k.scale };
		diag_init(&d, k.rig);
		rc = rig_edit_file(k.rig, &edit, 1, &d);
		text = diag_render(&d);
		if (text != NULL && *text)
			fputs(text, stderr);
		free(text);
		diag_free(&d);
	}
	if (rc == -1) {
		fprintf(stderr, "lblctl calibrate: scale %s not written; %s unchanged\n", k.scale,
		    k.rig);
		return 1;
	}
	printf("profile %s: flow scale %s written to %s (the previous file is %s.bak)\n",
	    k.profile, k.scale, k.rig, k.rig);
	fflush(stdout);
	return ctl_remote(1, words);
}
