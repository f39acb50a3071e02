/*
 * Volumes from the devices. See dispense.h.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispense.h"
#include "lbl_limits.h"


struct dispense_pump {
	int device;
	const char *name;
	double planned_ml, tolerance_pct, wrap_ml;
	double start_ml, end_ml;	/* NAN until read */
	int start_running;		/* the first read's running flag: 1, 0, -1 not read */
	char error[256];		/* a read failed: why */
};

struct dispense {
	void (*done)(void *arg);
	void *arg;
	struct act *act;
	unsigned gen;			/* the step in hand; replies tagged otherwise are stale */
	int ending;			/* the second reads are out */
	int pending;			/* reads not back yet */
	struct dispense_pump pumps[DISPENSE_MAX_PUMPS];
	int count;
};

struct dispense *
dispense_new(void (*done)(void *arg), void *arg)
{
	struct dispense *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->done = done;
	d->arg = arg;
	return d;
}

void
dispense_free(struct dispense *d)
{
	free(d);
}

void
dispense_cancel(struct dispense *d)
{
	d->gen++;
	d->count = 0;
	d->pending = 0;
	d->ending = 0;
}

int
dispense_check(const char *pump, double planned_ml, double start_ml, double end_ml,
    double wrap_ml, double tolerance_pct, double *counted_ml, char *why, size_t why_size)
{
	double counted = end_ml - start_ml;

	*counted_ml = NAN;
	if (!isfinite(start_ml) || !isfinite(end_ml)) {
		snprintf(why, why_size, "pump '%s' counted from %.3f to %.3f mL: not a volume",
		    pump, start_ml, end_ml);
		return -1;
	}
	if (counted < 0 && isfinite(wrap_ml) && start_ml < wrap_ml && end_ml < wrap_ml)
		counted += wrap_ml;	/* the counter passed its largest value once */
	if (counted < 0) {
		snprintf(why, why_size, "pump '%s''s volume counter went back from %.3f to %.3f "
		    "mL (reset?): what it dispensed is not known", pump, start_ml, end_ml);
		return -1;
	}
	*counted_ml = counted;
	if (counted < planned_ml * (1 - tolerance_pct / 100)) {
		snprintf(why, why_size, "pump '%s' dispensed %.2f mL of %.2f mL planned by its own "
		    "counter (%.3f to %.3f mL), short by more than its tolerance of %g%%", pump,
		    counted, planned_ml, start_ml, end_ml, tolerance_pct);
		return -1;
	}
	return 0;
}

/* A counter reading came back. */
static void
dispense_on_read(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct dispense *d = arg;
	struct dispense_pump *p = NULL;
	int i;

	/* the tag is the step's generation, and which reading: 0 the first, 1 the second */
	if (req->tag >> 1 != (d->gen & (UINT_MAX >> 1)))
		return;		/* a step that ended another way */
	for (i = 0; i < d->count; i++)
		if (d->pumps[i].device == req->device)
			p = &d->pumps[i];
	if (p == NULL)
		return;
	if (!res->ok && p->error[0] == '\0')
		snprintf(p->error, sizeof(p->error), "%s", res->error);
	else if (res->ok && (req->tag & 1))
		p->end_ml = res->value;
	else if (res->ok) {
		p->start_ml = res->value;
		p->start_running = res->running;
	}
	if (--d->pending == 0 && d->ending)
		d->done(d->arg);
}

/* Queues a read of every counting pump; -1 with why when one cannot be queued. */
static int
dispense_read_all(struct dispense *d, char *why, size_t why_size)
{
	char err[256];
	int i;

	for (i = 0; i < d->count; i++) {
		if (act_read_volume(d->act, d->pumps[i].device, (d->gen & (UINT_MAX >> 1)) << 1 |
		    (unsigned)d->ending, dispense_on_read, d, err, sizeof(err)) == -1) {
			snprintf(why, why_size, "pump '%s''s volume counter cannot be read: %s",
			    d->pumps[i].name, err);
			dispense_cancel(d);
			return -1;
		}
		d->pending++;
	}
	return 0;
}

/* Adds a pump of the step, if it has a counter. */
static void
dispense_add(struct dispense *d, const struct rig *rig, int device, double planned_ml)
{
	struct dispense_pump *p;
	double wrap_ml;
	int i;

	if (device < 0 || !act_volume_counter(d->act, device, &wrap_ml))
		return;
	for (i = 0; i < d->count; i++) {
		if (d->pumps[i].device == device) {
			d->pumps[i].planned_ml += planned_ml;
			return;
		}
	}
	if (d->count == DISPENSE_MAX_PUMPS)
		return;		/* unreachable: no step runs more pumps */
	p = &d->pumps[d->count++];
	memset(p, 0, sizeof(*p));
	p->device = device;
	p->name = rig->devices[device].name;
	p->planned_ml = planned_ml;
	p->tolerance_pct = rig->devices[device].volume_tolerance_pct > 0 ?
	    rig->devices[device].volume_tolerance_pct : PUMP_VOLUME_TOLERANCE_PCT;
	p->wrap_ml = wrap_ml;
	p->start_ml = p->end_ml = NAN;
	p->start_running = -1;
}

int
dispense_begin(struct dispense *d, struct act *act, const struct rig *rig,
    const struct compile_list *list, char *why, size_t why_size)
{
	struct compile_volume pumps[DISPENSE_MAX_PUMPS];
	size_t n, i;

	dispense_cancel(d);
	d->act = act;
	/* the plan's figure per pump is the compilation's: the actions the executor runs */
	n = compile_volumes(rig, list, pumps, DISPENSE_MAX_PUMPS);
	if (n > DISPENSE_MAX_PUMPS) {
		snprintf(why, why_size, "the step runs %zu pumps; their volumes can be counted for "
		    "at most %d", n, DISPENSE_MAX_PUMPS);
		return -1;
	}
	for (i = 0; i < n; i++)
		dispense_add(d, rig, pumps[i].device, pumps[i].volume_ml);
	if (d->count == 0)
		return 0;
	return dispense_read_all(d, why, why_size) == -1 ? -1 : d->count;
}

int
dispense_counted_stopped(const struct dispense *d)
{
	int i;

	if (d->count == 0 || d->pending > 0 || d->ending)
		return 0;
	for (i = 0; i < d->count; i++)
		if (d->pumps[i].error[0] != '\0' || !isfinite(d->pumps[i].start_ml) ||
		    d->pumps[i].start_running != 0)
			return 0;
	return 1;
}

int
dispense_end(struct dispense *d, char *why, size_t why_size)
{
	if (d->count == 0)
		return 1;
	/*
	 * The first reads went ahead of the step's commands on their buses, so
	 * they are back; should one not be, done waits for it too.
	 */
	d->ending = 1;
	return dispense_read_all(d, why, why_size);
}

int
dispense_result(const struct dispense *d, double *planned_ml, double *counted_ml,
    const char **device, char *why, size_t why_size)
{
	char scratch[256];
	double counted;
	int i, rc = 0;

	*planned_ml = *counted_ml = 0;
	*device = NULL;
	if (d->count == 0)
		return 1;
	for (i = 0; i < d->count; i++) {
		const struct dispense_pump *p = &d->pumps[i];

		*planned_ml += p->planned_ml;
		if (p->error[0]) {
			if (rc == 0)
				snprintf(why, why_size, "pump '%s''s volume counter could not be read: "
				    "%s", p->name, p->error);
			*device = rc == 0 ? p->name : *device;
			rc = -1;
			*counted_ml = NAN;
			continue;
		}
		/* the first pump that fails gives the cause; the others are still summed */
		if (dispense_check(p->name, p->planned_ml, p->start_ml, p->end_ml, p->wrap_ml,
		    p->tolerance_pct, &counted, rc == 0 ? why : scratch,
		    rc == 0 ? why_size : sizeof(scratch)) == -1) {
			*device = rc == 0 ? p->name : *device;
			rc = -1;
		}
		*counted_ml += counted;	/* NaN when not known: the sum is then unknown */
	}
	return rc;
}
