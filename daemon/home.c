/*
 * Homing of the axes the rig file homes. See home.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "home.h"
#include "lbl_limits.h"
#include "log.h"
#include "plan.h"
#include "profile.h"

struct home {
	struct loop *loop;
	const struct rig *rig;
	struct hw *hw;
	double time_scale;
	signed char *homed;		/* per device: 1, 0, or -1 (not homed by the rig) */
	size_t count;
	int first_batch_tried;
	/* the homing under way */
	int busy;
	int *queue;			/* axes still to home, in order */
	size_t queued, next;
	int axis;			/* the one homing now, -1 between */
	int polls;			/* status reads since its home command */
	unsigned generation;		/* replies to an ended homing are stale */
	int64_t deadline_ns, poll_ns;
	int64_t limit_ns;		/* the homing axis's whole allowance, for messages */
	struct loop_timer *timer;
	home_done_cb done;
	void *arg;
	struct act *act;		/* told where a homed axis is; NULL: nobody */
};

static void home_next(struct home *h);

/* Forgets what was homed: every axis the rig homes is unhomed until seen homed. */
static int
home_reset(struct home *h)
{
	size_t i;

	free(h->homed);
	free(h->queue);
	h->count = h->rig->device_count;
	h->homed = calloc(h->count + 1, sizeof(*h->homed));
	h->queue = calloc(h->count + 1, sizeof(*h->queue));
	if (h->homed == NULL || h->queue == NULL)
		return -1;
	for (i = 0; i < h->count; i++)
		h->homed[i] = h->rig->devices[i].role == RIG_AXIS &&
		    h->rig->devices[i].home != RIG_HOME_NONE ? 0 : -1;
	h->first_batch_tried = 0;
	return 0;
}

/* Ends the homing under way: done once, with the outcome. */
static void
home_end(struct home *h, int ok, const char *error)
{
	home_done_cb done = h->done;

	h->busy = 0;
	h->axis = -1;
	h->generation++;
	loop_timer_cancel(h->timer);
	h->done = NULL;
	if (ok)
		log_info("homing: done");
	else
		log_warnx("homing failed: %s", error);
	if (done != NULL)
		done(h->arg, ok, error);
}

/* How long the axis's whole travel takes at max_speed, in real ms. */
static double
home_travel_ms(const struct home *h, int axis)
{
	const struct rig_device *dev = &h->rig->devices[axis];

	return (double)plan_move_ms(dev->travel_max_mm - dev->travel_min_mm,
	    dev->max_speed_mm_s, dev->max_accel_mm_s2) / h->time_scale;
}

/*
 * Whether a status read says the axis has finished homing: its homed flag
 * when its profile has one, else its busy flag clear or in_position set.
 */
static int
home_finished(const struct home *h, int axis, const struct hw_result *res)
{
	(void)h;
	(void)axis;
	if (res->homed != -1)
		return res->homed == 1 && res->busy != 1;
	if (res->busy != -1)
		return res->busy == 0;
	return res->in_position == 1;
}

static void
home_polled(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct home *h = arg;
	const char *name;
	char why[400];

	if (req->tag != h->generation || !h->busy || req->device != h->axis)
		return;
	name = h->rig->devices[req->device].name;
	if (!res->ok) {
		snprintf(why, sizeof(why), "axis '%s': %s", name, res->error);
		home_end(h, 0, why);
		return;
	}
	if (res->alarm == 1) {
		snprintf(why, sizeof(why), "axis '%s' reports an alarm while homing", name);
		home_end(h, 0, why);
		return;
	}
	h->polls++;
	if (home_finished(h, req->device, res)) {
		h->homed[req->device] = 1;
		/* where it is now decides, as after any probe, whether a batch may start */
		if (h->act != NULL)
			act_note_position(h->act, req->device, res->position_mm);
		log_info("axis '%s' homed (position %.3f mm)", name,
		    res->position_mm);
		home_next(h);
		return;
	}
	if (loop_now_ns() >= h->deadline_ns) {
		snprintf(why, sizeof(why), "axis '%s' did not report homed within %.1f s "
		    "(twice its whole travel at max_speed, plus %d s)", name,
		    (double)h->limit_ns / 1e9, HOME_MARGIN_MS / 1000);
		home_end(h, 0, why);
		return;
	}
	loop_timer_at(h->timer, loop_now_ns() + h->poll_ns);
}

/* The poll timer: reads the homing axis's status. */
static void
home_on_timer(void *arg)
{
	struct home *h = arg;
	struct hw_request req = { h->axis, HW_STATUS, 0, 0, 0 };
	char err[256], why[400];

	if (!h->busy)
		return;
	if (h->axis < 0) {
		home_next(h);
		return;
	}
	if (loop_now_ns() >= h->deadline_ns + h->poll_ns) {
		/* no answer came back at all: a safe state dropped the request */
		snprintf(why, sizeof(why), "axis '%s': homing interrupted (the rig went to its "
		    "safe state, or the drive did not answer)", h->rig->devices[h->axis].name);
		home_end(h, 0, why);
		return;
	}
	req.tag = h->generation;
	if (hw_submit(h->hw, &req, home_polled, h, err, sizeof(err)) == -1) {
		snprintf(why, sizeof(why), "axis '%s': %s", h->rig->devices[h->axis].name, err);
		home_end(h, 0, why);
		return;
	}
	/* the next read is armed by the answer; this one is the watchdog of a lost answer */
	loop_timer_at(h->timer, h->deadline_ns + 2 * h->poll_ns);
}

static void
home_sent(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct home *h = arg;
	char why[400];

	if (req->tag != h->generation || !h->busy || req->device != h->axis)
		return;
	if (!res->ok) {
		snprintf(why, sizeof(why), "axis '%s': home command: %s",
		    h->rig->devices[req->device].name, res->error);
		home_end(h, 0, why);
		return;
	}
	loop_timer_at(h->timer, loop_now_ns() + h->poll_ns);
}

/* Sends the home command of the next axis in the queue, or ends. */
static void
home_next(struct home *h)
{
	struct hw_request req = { -1, HW_HOME, 0, 0, 0 };
	double travel_ms, poll_ms;
	char err[256], why[400];

	if (h->next == h->queued) {
		home_end(h, 1, NULL);
		return;
	}
	h->axis = h->queue[h->next++];
	h->polls = 0;
	h->generation++;
	travel_ms = home_travel_ms(h, h->axis);
	poll_ms = travel_ms / 50;
	poll_ms = poll_ms < HOME_POLL_MIN_MS ? HOME_POLL_MIN_MS :
	    poll_ms > HOME_POLL_MAX_MS ? HOME_POLL_MAX_MS : poll_ms;
	h->poll_ns = (int64_t)(poll_ms * 1e6);
	h->limit_ns = (int64_t)((2 * travel_ms + HOME_MARGIN_MS) * 1e6);
	h->deadline_ns = loop_now_ns() + h->limit_ns;
	h->homed[h->axis] = 0;
	req.device = h->axis;
	req.tag = h->generation;
	log_info("homing axis '%s'",
	    h->rig->devices[h->axis].name);
	if (hw_submit(h->hw, &req, home_sent, h, err, sizeof(err)) == -1) {
		snprintf(why, sizeof(why), "axis '%s': %s", h->rig->devices[h->axis].name, err);
		home_end(h, 0, why);
		return;
	}
	/* a lost answer (dropped by a safe state) still ends the homing */
	loop_timer_at(h->timer, h->deadline_ns + 2 * h->poll_ns);
}

struct home *
home_new(struct loop *loop, const struct rig *rig, struct hw *hw)
{
	struct home *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->loop = loop;
	h->rig = rig;
	h->hw = hw;
	h->time_scale = 1;
	h->axis = -1;
	if (home_reset(h) == -1 || (h->timer = loop_timer_new(loop, home_on_timer, h)) == NULL) {
		home_free(h);
		return NULL;
	}
	return h;
}

void
home_free(struct home *h)
{
	if (h == NULL)
		return;
	if (h->timer != NULL)
		loop_timer_free(h->timer);
	free(h->homed);
	free(h->queue);
	free(h);
}

void
home_set_rig(struct home *h, const struct rig *rig, struct hw *hw)
{
	if (h->busy)
		home_end(h, 0, "the rig file was reloaded");
	h->rig = rig;
	h->hw = hw;
	if (home_reset(h) == -1)
		log_warnx("homing: out of memory after the reload; no axis counts as homed");
}

void
home_set_time_scale(struct home *h, double time_scale)
{
	h->time_scale = time_scale > 0 ? time_scale : 1;
}

/* Whether the axis comes before the others: the lift homes first, upward, out of any bath. */
static int
home_rank(const struct home *h, int axis)
{
	return axis == h->rig->lift ? 0 : 1;
}

int
home_start(struct home *h, struct act *act, const char *const *names, size_t count,
    home_done_cb done, void *arg, char *err, size_t err_size)
{
	char why[200];
	size_t i, j;

	if (h->busy) {
		snprintf(err, err_size, "homing is already under way");
		return -1;
	}
	if (h->homed == NULL || h->queue == NULL) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	if (act != NULL && act_safety_active(act, why, sizeof(why))) {
		snprintf(err, err_size, "%s: nothing may move", why);
		return -1;
	}
	h->queued = h->next = 0;
	for (i = 0; i < count; i++) {
		int d = rig_device_index(h->rig, names[i]);

		if (d == -1 || h->rig->devices[d].role != RIG_AXIS) {
			snprintf(err, err_size, "'%s' is not an axis of rig %s", names[i],
			    h->rig->name);
			return -1;
		}
		for (j = 0; j < h->queued && h->queue[j] != d; j++)
			;
		if (j == h->queued)
			h->queue[h->queued++] = d;
	}
	if (count == 0)
		for (i = 0; i < h->count; i++)
			if (h->homed[i] != -1)
				h->queue[h->queued++] = (int)i;
	if (h->queued == 0) {
		snprintf(err, err_size, "rig %s homes no axis (no axis has 'home' in the rig file)",
		    h->rig->name);
		return -1;
	}
	/* the lift first, the others in the order given (or the rig file's) */
	for (i = 1; i < h->queued; i++) {
		if (home_rank(h, h->queue[i]) == 0) {
			int lift = h->queue[i];
			memmove(&h->queue[1], &h->queue[0], i * sizeof(*h->queue));
			h->queue[0] = lift;
			break;
		}
	}
	h->busy = 1;
	h->done = done;
	h->arg = arg;
	h->act = act;
	h->axis = -1;
	/* the first command goes from the loop, so done never runs before this returns */
	if (loop_timer_at(h->timer, loop_now_ns()) == -1) {
		h->busy = 0;
		h->done = NULL;
		snprintf(err, err_size, "cannot arm the homing timer");
		return -1;
	}
	return 0;
}

void
home_abort(struct home *h, const char *why)
{
	char error[400];

	if (!h->busy)
		return;
	if (h->axis >= 0)
		snprintf(error, sizeof(error), "axis '%s': homing stopped: %s",
		    h->rig->devices[h->axis].name, why);
	else
		snprintf(error, sizeof(error), "homing stopped: %s", why);
	home_end(h, 0, error);
}

int
home_busy(const struct home *h)
{
	return h->busy;
}

int
home_homed(const struct home *h, int device)
{
	if (device < 0 || (size_t)device >= h->count)
		return -1;
	return h->homed[device];
}

void
home_note_status(struct home *h, int device, const struct hw_result *res)
{
	if (device < 0 || (size_t)device >= h->count || h->homed[device] == -1 || !res->ok)
		return;
	/* only a flag tells; without one, lbld's own homing is what it knows */
	if (res->homed != -1 && !(h->busy && device == h->axis))
		h->homed[device] = res->homed == 1;
}

int
home_check_batch(const struct home *h, int *first_batch_pending, char *why, size_t why_size)
{
	size_t i, n = 0, len = 0;
	int all_first = 1;

	why[0] = '\0';
	for (i = 0; i < h->count; i++) {
		const struct rig_device *dev = &h->rig->devices[i];

		if (h->homed[i] != 0)
			continue;
		if (dev->home != RIG_HOME_FIRST_BATCH || h->first_batch_tried)
			all_first = 0;
		if (len < why_size)
			len += (size_t)snprintf(why + len, why_size - len, "%s'%s' (home: %s)",
			    n > 0 ? ", " : "", dev->name, rig_home_names[dev->home]);
		n++;
	}
	if (first_batch_pending != NULL)
		*first_batch_pending = n > 0 && all_first;
	if (n == 0)
		return 0;
	if (len < why_size)
		snprintf(why + len, why_size - len, " %s not homed: a batch needs %s position "
		    "known; home %s with 'lblctl home'", n > 1 ? "are" : "is",
		    n > 1 ? "their" : "its", n > 1 ? "them" : "it");
	return -1;
}

void
home_first_batch_tried(struct home *h)
{
	h->first_batch_tried = 1;
}

void
home_status_text(const struct home *h, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < h->count && len < size; i++) {
		if (h->homed[i] == -1)
			continue;
		len += (size_t)snprintf(buf + len, size - len, "%s%s %s", len > 0 ? ", " : "",
		    h->rig->devices[i].name, h->busy && (int)i == h->axis ? "homing" :
		    h->homed[i] == 1 ? "homed" : "NOT homed");
		if (h->homed[i] == 0 && !(h->busy && (int)i == h->axis) && len < size)
			len += (size_t)snprintf(buf + len, size - len, " (home: %s)",
			    rig_home_names[h->rig->devices[i].home]);
	}
}
