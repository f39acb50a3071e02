/*
 * Reads of a set of devices (devread.h), and 'lblctl hw' answered by lbld.
 *
 * A read the safe state drops (an e-stop while it waits on its bus), or a
 * reload's closing of the hardware, never calls back, so the answer does
 * not wait for every callback: a timer ends it at the deadline. The
 * read's memory is kept until its last callback, or until the hardware's
 * epoch changed since the reads were made (hw_epoch(): then no callback
 * can come), checked at the deadline and every DEVREAD_MARGIN_MS after.
 */
#include <stdlib.h>
#include <string.h>

#include "devread.h"
#include "json.h"
#include "hw_view.h"
#include "lbld.h"
#include "log.h"

struct devread {
	struct lbld *l;
	const struct rig *rig;		/* the rig read: a reload replaces it */
	struct hw_result *res;
	int *reached;
	size_t count;			/* rig devices when the read started */
	int pending;			/* reads not yet called back */
	int answered;			/* done has been called */
	unsigned epoch;			/* hw_epoch() when the reads were made */
	struct loop_timer *timer;	/* the deadline */
	devread_done_cb done;
	void *arg;
};

static void
devread_free(struct devread *r)
{
	loop_timer_free(r->timer);
	free(r->res);
	free(r->reached);
	free(r);
}

static void
devread_finish(struct devread *r)
{
	if (r->answered)
		return;
	r->answered = 1;
	loop_timer_cancel(r->timer);
	/* after a reload the results are of devices that may no longer exist */
	if (r->l->rig != r->rig)
		r->done(r->arg, NULL, NULL);
	else
		r->done(r->arg, r->res, r->reached);
}

static void
devread_deadline(void *arg)
{
	struct devread *r = arg;

	devread_finish(r);
	/* dropped by a safe state or a reload: none of the reads out will call back */
	if (hw_epoch(r->l->hw) != r->epoch) {
		devread_free(r);
		return;
	}
	/* the reads still out keep r until they call back, or are dropped later */
	if (loop_timer_at(r->timer, loop_now_ns() + (int64_t)DEVREAD_MARGIN_MS * 1000000) == -1)
		log_warnx("device reads: cannot arm their check; their memory is kept until "
		    "they call back");
}

static void
devread_result(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct devread *r = arg;

	if (!r->answered && (size_t)req->device < r->count) {
		r->res[req->device] = *res;
		r->reached[req->device] = 1;
		if (res->ok && r->l->rig == r->rig) {
			/* what a read finds is lbld's knowledge too, as its own probe's is */
			act_note_position(r->l->act, req->device, res->position_mm);
			home_note_status(r->l->home, req->device, res);
		}
	}
	if (--r->pending > 0)
		return;
	devread_finish(r);
	devread_free(r);
}

/*
 * How long the reads may take: on each bus, every device asked in turn,
 * each for its bus's timeout times its tries; the slowest bus decides.
 */
static int64_t
devread_deadline_ms(const struct rig *rig, const unsigned char *want)
{
	int64_t worst = 0, ms;
	size_t b, i;

	for (b = 0; b < rig->bus_count; b++) {
		ms = 0;
		for (i = 0; i < rig->device_count; i++)
			if (want[i] && rig->devices[i].bus == (int)b)
				ms += rig->buses[b].timeout_ms * (rig->buses[b].retries + 1);
		if (ms > worst)
			worst = ms;
	}
	return worst + DEVREAD_MARGIN_MS;
}

int
devread_start(struct lbld *l, const unsigned char *want, devread_done_cb done, void *arg,
    char *err, size_t err_size)
{
	const struct rig *rig = l->rig;
	struct devread *r;
	char why[sizeof(((struct hw_result *)0)->error)];
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->res = calloc(rig->device_count + 1, sizeof(*r->res))) == NULL ||
	    (r->reached = calloc(rig->device_count + 1, sizeof(*r->reached))) == NULL ||
	    (r->timer = loop_timer_new(l->loop, devread_deadline, r)) == NULL) {
		if (r != NULL) {
			free(r->res);
			free(r->reached);
			free(r);
		}
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	r->l = l;
	r->rig = rig;
	r->count = rig->device_count;
	r->done = done;
	r->arg = arg;
	/* one more than the reads: r lives until every submission is made */
	r->pending = 1;
	r->epoch = hw_epoch(l->hw);
	for (i = 0; i < rig->device_count; i++) {
		struct hw_request req = { (int)i, HW_PROBE, 0, 0, 0, 0, HW_WHOLE };
		if (!want[i])
			continue;
		if (hw_submit_poll(l->hw, &req, devread_result, r, why, sizeof(why)) == 0) {
			r->pending++;
			continue;
		}
		/* not even queued: the device's line says why */
		r->reached[i] = 1;
		r->res[i].ok = 0;
		snprintf(r->res[i].error, sizeof(r->res[i].error), "%s", why);
	}
	if (loop_timer_at(r->timer, loop_now_ns() + devread_deadline_ms(rig, want) * 1000000) ==
	    -1)
		log_warnx("device reads: cannot arm their deadline; they end when all answer");
	if (--r->pending == 0) {
		devread_finish(r);
		devread_free(r);
	}
	return 0;
}

/* ---- hw: the devices as lbld sees them ---- */

struct devread_hw {
	struct lbld *l;
	struct control_client *client;	/* NULL once it went away */
	int json;
};

static void
devread_hw_watch(void *arg, struct control_client *client, enum control_event event)
{
	struct devread_hw *h = arg;

	(void)client;
	if (event == CONTROL_GONE)
		h->client = NULL;
}

/*
 * A device's result as lbld sees it: an input at the level lbld acts on
 * (not the fresh read, which may be mid-bounce or behind lbld's view), an
 * axis the rig homes homed as lbld counts it.
 */
static void
devread_hw_lbld_view(const struct lbld *l, size_t i, struct hw_result *res)
{
	const struct rig_device *dev = &l->rig->devices[i];
	int level;

	if (!res->ok)
		return;
	if (dev->role == RIG_INPUT && (level = hw_input_level(l->hw, (int)i)) != -1)
		res->value = level;
	if (dev->role == RIG_AXIS && dev->home != RIG_HOME_NONE)
		res->homed = home_homed(l->home, (int)i);
}

static void
devread_hw_done(void *arg, const struct hw_result *results, const int *reached)
{
	struct devread_hw *h = arg;
	struct lbld *l = h->l;
	struct hw_result res;
	struct run_status st;
	struct json j;
	char line[600], why[sizeof(st.safety)];
	size_t i;
	int unreachable = 0, safety;

	if (h->client == NULL) {
		free(h);
		return;
	}
	control_watch(h->client, NULL, NULL);
	if (results == NULL) {
		control_finish(h->client, 1, "hw: the rig file was reloaded during the reads; ask "
		    "again");
		free(h);
		return;
	}
	/* the safety line status shows, word for word, so the two never disagree */
	run_status(l->run, &st);
	safety = st.safety[0] != '\0' || act_safety_active(l->act, why, sizeof(why));
	if (st.safety[0] != '\0')
		snprintf(why, sizeof(why), "%s", st.safety);
	if (h->json) {
		json_init(&j);
		json_object_begin(&j);
		json_key(&j, "rig");
		json_string(&j, l->rig->name);
		json_key(&j, "source");
		json_string(&j, "lbld");
		json_key(&j, "safety");
		json_string(&j, safety ? why : NULL);
		json_key(&j, "devices");
		json_array_begin(&j);
	} else {
		hw_view_header(line, sizeof(line));
		control_out(h->client, "%s", line);
	}
	for (i = 0; i < l->rig->device_count; i++) {
		res = results[i];
		devread_hw_lbld_view(l, i, &res);
		if (!reached[i] || !res.ok)
			unreachable++;
		if (h->json) {
			hw_view_json(&j, l->rig, i, reached[i], &res);
		} else {
			hw_view_line(l->rig, i, reached[i], reached[i] ? &res : NULL, line,
			    sizeof(line));
			control_out(h->client, "%s", line);
		}
	}
	if (h->json) {
		json_array_end(&j);
		json_object_end(&j);
		if (json_text(&j) == NULL)
			control_finish(h->client, 1, "hw: out of memory");
		else {
			control_out_text(h->client, json_text(&j));
			control_finish(h->client, unreachable ? 1 : 0, unreachable ?
			    "%d of %zu devices did not answer" : " ", unreachable,
			    l->rig->device_count);
		}
		json_free(&j);
		free(h);
		return;
	}
	control_out(h->client, "as lbld sees rig %s; safety: %s", l->rig->name,
	    safety ? why : "e-stop and interlocks released");
	if (unreachable > 0)
		control_finish(h->client, 1, "%d of %zu devices did not answer", unreachable,
		    l->rig->device_count);
	else
		control_finish(h->client, 0, " ");
	free(h);
}

void
devread_hw_request(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	struct devread_hw *h;
	unsigned char *want;
	char err[300];
	int i, json = 0;

	for (i = 1; i < req->argc; i++) {
		if (strcmp(req->argv[i], "--json") != 0) {
			control_finish(c, 2, "usage: hw [--json]");
			return;
		}
		json = 1;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (want = malloc(l->rig->device_count + 1)) == NULL) {
		free(h);
		control_finish(c, 1, "hw: out of memory");
		return;
	}
	memset(want, 1, l->rig->device_count + 1);
	h->l = l;
	h->client = c;
	h->json = json;
	control_watch(c, devread_hw_watch, h);
	if (devread_start(l, want, devread_hw_done, h, err, sizeof(err)) == -1) {
		control_watch(c, NULL, NULL);
		control_finish(c, 1, "hw: %s", err);
		free(h);
	}
	free(want);
}
