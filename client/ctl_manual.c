/*
 * lblctl's manual commands: move, jog, goto, stop, set, prime, fill,
 * drain, reset. lbld does the work and every check against the rig file (it owns
 * the rig); here only the shape of the command line is checked, so a
 * typo is told without a round trip, and the command goes to lbld. An
 * output switched on stays on while this lblctl runs: it waits for the
 * output to go off, and ending it (Ctrl-C) switches the output off.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const struct {
	const char *name;
	int min_args, max_args;		/* after the command's name */
	const char *usage;
} ctl_manual_usages[] = {
	{ "move", 2, 4, "move AXIS POSITION [--speed SPEED]" },
	{ "jog", 2, 4, "jog AXIS DISTANCE [--speed SPEED]" },
	{ "goto", 1, 2, "goto STATION [--immerse]" },
	{ "stop", 0, 0, "stop" },
	{ "set", 2, 4, "set OUTPUT on|off|FLOW|RPM|SPEED [--for DURATION]" },
	{ "prime", 2, 4, "prime PUMP VOLUME [--flow FLOW]" },
	{ "fill", 1, 1, "fill STATION" },
	{ "drain", 1, 1, "drain STATION" },
	{ "reset", 1, 1, "reset DEVICE" },
};

int
ctl_manual(int argc, char **argv)
{
	size_t i;

	for (i = 0; i < sizeof(ctl_manual_usages) / sizeof(ctl_manual_usages[0]); i++) {
		if (strcmp(argv[0], ctl_manual_usages[i].name) != 0)
			continue;
		if (argc - 1 < ctl_manual_usages[i].min_args ||
		    argc - 1 > ctl_manual_usages[i].max_args ||
		    (argc > 1 && strcmp(argv[1], "--help") == 0)) {
			fprintf(stderr, "usage: lblctl %s\n", ctl_manual_usages[i].usage);
			return 2;
		}
		return ctl_remote(argc, argv);
	}
	fprintf(stderr, "lblctl: '%s' is not a manual command\n", argv[0]);
	return 2;
}
