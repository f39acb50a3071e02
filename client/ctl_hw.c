/*
 * lblctl hw: probes every device of a rig and prints what it reports — the
 * first command a technician runs when commissioning a rig. It opens the
 * buses itself (stop lbld first on an RTU line: a serial port has one
 * owner).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "gpio.h"
#include "hw.h"
#include "loop.h"
#include "profile.h"

struct ctl_hw_probe {
	struct loop *loop;
	struct hw_result *results;
	int *done;
	size_t pending;
};

static void
ctl_hw_on_result(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct ctl_hw_probe *probe = arg;

	probe->results[req->device] = *res;
	probe->done[req->device] = 1;
	if (--probe->pending == 0)
		loop_stop(probe->loop);
}

static void
ctl_hw_where(const struct rig *rig, const struct rig_device *dev, char *buf, size_t size)
{
	if (dev->bus >= 0)
		snprintf(buf, size, "%s unit %d", rig->buses[dev->bus].name, dev->unit);
	else
		snprintf(buf, size, "gpio %s/%s", dev->gpio.chip, dev->gpio.line);
}

/* "in position, 12.000 mm", "running, 3.2 mL", "engaged"... */
static void
ctl_hw_describe(const struct rig_device *dev, const struct hw_result *r, char *status,
    size_t status_size, char *reading, size_t reading_size)
{
	status[0] = reading[0] = '\0';
	switch (dev->role) {
	case RIG_AXIS:
		/* an axis the rig homes says whether its drive reports homed (its flag) */
		snprintf(status, status_size, "%s%s%s", r->busy == 1 ? "moving" :
		    r->in_position == 1 ? "in position" : "stopped", r->alarm == 1 ? ", ALARM" : "",
		    dev->home == RIG_HOME_NONE || r->homed == -1 ? "" : r->homed == 1 ? ", homed" :
		    ", NOT homed");
		if (!isnan(r->position_mm))
			snprintf(reading, reading_size, "%.3f mm", r->position_mm);
		break;
	case RIG_PUMP:
	case RIG_LINE:
		snprintf(status, status_size, "%s%s", r->running == 1 ? "running" :
		    r->running == 0 ? "stopped" : "-", r->alarm == 1 ? ", ALARM" : "");
		if (dev->role == RIG_PUMP && r->value != 0)
			snprintf(reading, reading_size, "%.3f mL dispensed", r->value);
		else if (dev->role == RIG_LINE)
			snprintf(reading, reading_size, "%.0f mm of web", r->value);
		break;
	case RIG_VALVE:
		snprintf(status, status_size, "%s", r->value == 1 ? "open" : r->value == 0 ?
		    "closed" : "-");
		break;
	case RIG_INPUT:
		snprintf(status, status_size, "%s", r->value == 1 ? "ENGAGED" : "released");
		break;
	case RIG_SENSOR:
		snprintf(status, status_size, "%s", r->alarm == 1 ? "ALARM" : "ok");
		snprintf(reading, reading_size, "%g", r->value);
		break;
	case RIG_ROLE_COUNT:
		break;
	}
}

static int
ctl_hw_print(const struct rig *rig, const struct ctl_hw_probe *probe)
{
	char where[96], status[160], reading[64];
	size_t i;
	int unreachable = 0;

	printf("%-12s %-7s %-24s %-9s %-24s %s\n", "DEVICE", "ROLE", "BUS/UNIT", "REACHABLE",
	    "STATUS", "POSITION/VALUE");
	for (i = 0; i < rig->device_count; i++) {
		const struct rig_device *dev = &rig->devices[i];
		const struct hw_result *r = &probe->results[i];

		ctl_hw_where(rig, dev, where, sizeof(where));
		if (!probe->done[i] || !r->ok) {
			unreachable++;
			printf("%-12s %-7s %-24s %-9s %s\n", dev->name, rig_role_names[dev->role],
			    where, "no", probe->done[i] ? r->error : "no answer");
			continue;
		}
		ctl_hw_describe(dev, r, status, sizeof(status), reading, sizeof(reading));
		printf("%-12s %-7s %-24s %-9s %-24s %s\n", dev->name, rig_role_names[dev->role],
		    where, "yes", status, reading);
	}
	if (unreachable > 0)
		printf("%d of %zu devices did not answer\n", unreachable, rig->device_count);
	return unreachable > 0 ? 1 : 0;
}

static int
ctl_hw_probe_all(const struct rig *rig)
{
	struct ctl_hw_probe probe = { 0 };
	struct hw *hw = NULL;
	char err[512];
	size_t i;
	int rc = 1;

	if ((probe.loop = loop_new()) == NULL)
		return 1;
	probe.results = calloc(rig->device_count + 1, sizeof(*probe.results));
	probe.done = calloc(rig->device_count + 1, sizeof(*probe.done));
	if (probe.results == NULL || probe.done == NULL) {
		fprintf(stderr, "lblctl: out of memory\n");
		goto out;
	}
	if (hw_open(rig, probe.loop, &hw, err, sizeof(err)) == -1) {
		fprintf(stderr, "lblctl: %s\n", err);
		goto out;
	}
	for (i = 0; i < rig->device_count; i++) {
		struct hw_request req = { (int)i, HW_PROBE, 0, 0, 0 };
		if (hw_submit(hw, &req, ctl_hw_on_result, &probe, err, sizeof(err)) == 0)
			probe.pending++;
		else
			fprintf(stderr, "lblctl: %s\n", err);
	}
	/* every request ends: each transaction has its bus's timeout and retries */
	if (probe.pending > 0 && loop_run(probe.loop) == -1)
		goto out;
	rc = ctl_hw_print(rig, &probe);
out:
	hw_close(hw);
	loop_free(probe.loop);
	free(probe.results);
	free(probe.done);
	return rc;
}

int
ctl_hw(int argc, char **argv)
{
	static const struct option options[] = {
		{ "rig", required_argument, NULL, 'r' },
		{ "gpio-sim", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 } };
	const char *path = CTL_DEFAULT_RIG, *gpio_sim = NULL;
	struct rig *rig = NULL;
	struct diag d;
	char *text;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "r:g:", options, NULL)) != -1) {
		if (c == 'r')
			path = optarg;
		else if (c == 'g')
			gpio_sim = optarg;
		else
			goto usage;
	}
	if (optind != argc)
		goto usage;
	diag_init(&d, path);
	rc = rig_load(path, &d, &rig) == -1 || profile_check_rig(rig, &d) == -1 ? 2 : 0;
	if ((text = diag_render(&d)) != NULL) {
		fputs(text, stderr);
		free(text);
	}
	diag_free(&d);
	if (rc == 0 && gpio_sim != NULL && gpio_use_simulation(gpio_sim) == -1) {
		fprintf(stderr, "lblctl: cannot use simulated GPIO in %s\n", gpio_sim);
		rc = 1;
	}
	if (rc == 0)
		rc = ctl_hw_probe_all(rig);
	rig_free(rig);
	return rc;
usage:
	fprintf(stderr, "usage: lblctl hw [--rig RIG] [--gpio-sim DIR]\n");
	return 2;
}
