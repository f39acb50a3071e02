/*
 * lblctl check-rig: validate a rig file, its buses, devices, stations and
 * device profiles, reporting every problem as FILE:LINE:COL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "profile.h"
#include "rig.h"
#include "text.h"

int
ctl_check_rig(int argc, char **argv)
{
	const char *path = CTL_DEFAULT_RIG;
	struct rig *rig = NULL;
	struct diag d;
	char *text;
	int rc = 0;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: lblctl check-rig [RIG]\n");
		return 2;
	}
	if (argc == 2)
		path = argv[1];
	diag_init(&d, path);
	if (rig_load(path, &d, &rig) == -1 || profile_check_rig(rig, &d) == -1)
		rc = 2;
	if ((text = diag_render(&d)) != NULL) {
		fputs(text, stderr);
		free(text);
	}
	if (rc == 0) {
		int bus;
		double transaction_ms;
		int64_t min_ms = rig_min_step_ms(rig, &bus, &transaction_ms);

		printf("%s: ok: rig %s, %zu %s, %zu %s, %zu %s\n", path, rig->name,
		    rig->bus_count, text_plural((long long)rig->bus_count, "bus", "buses"),
		    rig->device_count, text_plural((long long)rig->device_count, "device",
		    "devices"), rig->station_count, text_plural((long long)rig->station_count,
		    "station", "stations"));
		/* what lblctl check and lbld refuse below: from the slowest bus, or the floor */
		if (bus >= 0)
			printf("%s: shortest step %lld ms (bus %s: %.2f ms a transaction)\n", path,
			    (long long)min_ms, rig->buses[bus].name, transaction_ms);
		else
			printf("%s: shortest step %lld ms (the floor)\n", path, (long long)min_ms);
	}
	diag_free(&d);
	rig_free(rig);
	return rc;
}
