/*
 * Pump calibration (calibrate.h). One run at a time: the pump is started
 * with HW_PUMP at the flow asked for and stopped with HW_STOP when the
 * time is up (a loop timer), when the client goes away, or at once when
 * the start fails. The timer is armed when the start is queued, so a start
 * the safe state dropped (an e-stop) still ends the run on time; the safe
 * state itself has stopped the pump by then, and the run is reported as
 * interrupted, its volume not counted.
 *
 * The pump run is calibrate_pump_run() alone, so manual control's output
 * code can take it over later.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "db.h"
#include "hw.h"
#include "lbld.h"
#include "log.h"
#include "profile.h"
#include "units.h"

/* The run under way, if any. */
struct calibrate_run {
	struct lbld *l;
	struct control_client *client;	/* NULL once it went away */
	struct loop_timer *timer;
	int device;
	double flow_ml_min;
	int64_t ms;			/* the run's time, as the technician measures it */
	int started;			/* the start was confirmed */
	int failed;			/* the start or the stop failed: error says why */
	int stopping;			/* the stop is queued */
	int outstanding;		/* requests not yet called back */
	int ended;			/* answered; r lives until outstanding is 0 */
	char who[96];
	char error[400];
};

static struct calibrate_run *calibrate_current;

/* The last finished run per pump of the rig it ran on: what --measured refers to. */
static const struct rig *calibrate_rig;
static double *calibrate_volume_ml;	/* per device: commanded mL, 0 if none */
static double *calibrate_flow_ml_min;

int
calibrate_busy(void)
{
	return calibrate_current != NULL;
}

static void
calibrate_who(struct control_client *c, char *who, size_t size)
{
	snprintf(who, size, "%s", control_peer_who(c));
}

/*
 * Records an event outside any batch, of kind operator (the record's kinds
 * are fixed by its schema), its message starting "calibrate: "; a database
 * that refuses it is logged.
 */
static void
calibrate_event(struct lbld *l, int device, const char *text)
{
	char message[1100];

	snprintf(message, sizeof(message), "calibrate: %s", text);
	if (db_event_add(l->db, 0, "operator", l->rig->devices[device].name, message) == -1)
		log_warnx("calibrate: the database could not record: %s", text);
	log_info("device '%s': calibrate: %s", l->rig->devices[device].name, text);
}

/*
 * Frees an ended run once no request of it can still call back. A request
 * the safe state dropped never does: that run's few hundred bytes stay, but
 * the calibration is over and another (or a batch) may start.
 */
static void
calibrate_release(struct calibrate_run *r)
{
	if (!r->ended || r->outstanding > 0)
		return;
	loop_timer_free(r->timer);
	free(r);
}

static void
calibrate_end(struct calibrate_run *r)
{
	struct lbld *l = r->l;
	const char *name = l->rig->devices[r->device].name;
	char text[1000], why[400], dur[32];
	double volume_ml = r->flow_ml_min * (double)r->ms / 60000.0;
	int safety;

	if (r->ended)
		return;
	safety = act_safety_active(l->act, why, sizeof(why));

	units_format_duration(r->ms, dur, sizeof(dur));
	if (r->client != NULL)
		control_watch(r->client, NULL, NULL);
	if (r->failed || safety || r->client == NULL || !r->started) {
		snprintf(text, sizeof(text), "run of %s at %g mL/min for %s by %s did not "
		    "complete: %s", name, r->flow_ml_min, dur, r->who, r->failed ? r->error :
		    safety ? why : r->client == NULL ? "the client went away (pump stopped)" :
		    "the start was not confirmed");
		calibrate_event(l, r->device, text);
		if (r->client != NULL)
			control_finish(r->client, 1, "calibrate: %s", text);
	} else {
		snprintf(text, sizeof(text), "ran %s at %g mL/min for %s (by %s): commanded "
		    "%.3g mL", name, r->flow_ml_min, dur, r->who, volume_ml);
		calibrate_event(l, r->device, text);
		if (calibrate_rig == l->rig) {
			calibrate_volume_ml[r->device] = volume_ml;
			calibrate_flow_ml_min[r->device] = r->flow_ml_min;
		}
		control_out(r->client, "%s", text);
		control_out(r->client, "measure what it delivered, then: lblctl calibrate %s "
		    "--measured VOLUME (e.g. 11.8mL)", name);
		control_finish(r->client, 0, " ");
	}
	r->ended = 1;
	calibrate_current = NULL;
	loop_timer_cancel(r->timer);
	calibrate_release(r);
}

static void
calibrate_stopped(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct calibrate_run *r = arg;

	(void)req;
	r->outstanding--;
	if (r->ended) {
		calibrate_release(r);
		return;
	}
	if (!res->ok && !r->failed) {
		r->failed = 1;
		snprintf(r->error, sizeof(r->error), "the pump did NOT confirm it stopped: %s "
		    "('lblctl park' puts the rig in its safe state)", res->error);
		log_device_warnx(r->l->rig->devices[r->device].name, "calibrate: %s", r->error);
	}
	calibrate_end(r);
}

/* Switches the pump off; the run ends when the stop is answered. */
static void
calibrate_stop(struct calibrate_run *r)
{
	struct hw_request req = { r->device, HW_STOP, 0, 0, 0, 0, HW_WHOLE };
	char err[300];

	const struct rig_bus *bus;

	if (r->stopping)
		return;
	r->stopping = 1;
	loop_timer_cancel(r->timer);
	if (hw_submit(r->l->hw, &req, calibrate_stopped, r, err, sizeof(err)) == -1) {
		r->failed = 1;
		snprintf(r->error, sizeof(r->error), "the stop could not be sent: %s", err);
		calibrate_end(r);
		return;
	}
	r->outstanding++;
	/* the stop's answer is awaited no longer than its bus could take to try it */
	bus = &r->l->rig->buses[r->l->rig->devices[r->device].bus];
	if (loop_timer_at(r->timer, loop_now_ns() + (bus->timeout_ms * (bus->retries + 2) +
	    DEVREAD_MARGIN_MS) * 1000000) == -1)
		log_warnx("calibrate: cannot arm the stop's deadline");
}

static void
calibrate_time_up(void *arg)
{
	struct calibrate_run *r = arg;

	if (!r->stopping) {
		calibrate_stop(r);
		return;
	}
	/* the stop was never answered: dropped by a safe state, which stopped the pump */
	r->failed = 1;
	snprintf(r->error, sizeof(r->error), "the stop was not answered in time (a safe state "
	    "drops queued requests and stops every pump itself; 'lblctl hw' shows the pump)");
	calibrate_end(r);
}

static void
calibrate_started(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct calibrate_run *r = arg;

	(void)req;
	r->outstanding--;
	if (r->ended) {
		calibrate_release(r);
		return;
	}
	if (res->ok) {
		r->started = 1;
		return;
	}
	r->failed = 1;
	snprintf(r->error, sizeof(r->error), "the start failed: %s", res->error);
	calibrate_stop(r);
}

static void
calibrate_watch(void *arg, struct control_client *client, enum control_event event)
{
	struct calibrate_run *r = arg;

	(void)client;
	if (event != CONTROL_GONE)
		return;
	r->client = NULL;
	calibrate_stop(r);
}

/*
 * Runs pump device at flow_ml_min for ms (of the rig's time: lbld's
 * --time-scale shortens it as it does every step) and switches it off;
 * r is the run, which ends in calibrate_end(). Returns 0, or -1 with err
 * (nothing was sent).
 */
static int
calibrate_pump_run(struct calibrate_run *r, char *err, size_t err_size)
{
	struct hw_request req = { r->device, HW_PUMP, r->flow_ml_min, 0, 0, 0, HW_WHOLE };
	double scale = r->l->time_scale >= 1 ? r->l->time_scale : 1;

	if ((r->timer = loop_timer_new(r->l->loop, calibrate_time_up, r)) == NULL) {
		snprintf(err, err_size, "no timer for the run");
		return -1;
	}
	if (loop_timer_at(r->timer, loop_now_ns() + (int64_t)((double)r->ms * 1e6 / scale)) ==
	    -1) {
		snprintf(err, err_size, "cannot arm the run's timer");
		return -1;
	}
	if (hw_submit(r->l->hw, &req, calibrate_started, r, err, err_size) == -1) {
		loop_timer_cancel(r->timer);
		return -1;
	}
	r->outstanding++;
	return 0;
}

/* The per-pump memory of the last run, for the rig lbld runs now. */
static int
calibrate_memory(const struct rig *rig)
{
	if (calibrate_rig == rig)
		return 0;
	free(calibrate_volume_ml);
	free(calibrate_flow_ml_min);
	calibrate_volume_ml = calloc(rig->device_count + 1, sizeof(double));
	calibrate_flow_ml_min = calloc(rig->device_count + 1, sizeof(double));
	calibrate_rig = calibrate_volume_ml && calibrate_flow_ml_min ? rig : NULL;
	return calibrate_rig == rig ? 0 : -1;
}

/*
 * --measured: the corrected scale of the pump's flow. The pump's profile
 * must be one of the rig file's own (profiles:), used by this pump alone,
 * with a 'flow' operation: that is where the scale is written.
 */
static void
calibrate_measured(struct lbld *l, struct control_client *c, int device, const char *text)
{
	const struct rig_device *dev = &l->rig->devices[device];
	const struct conf_node *prof, *ops, *flow, *scale_node;
	char path[PATH_MAX], msg[600];
	const char *why;
	double measured_ml, commanded_ml, old_scale = 1, new_scale, factor;
	size_t i;

	if (units_parse(text, UNIT_VOLUME_ML, &measured_ml, &why) == -1 || !(measured_ml > 0)) {
		control_finish(c, 2, "calibrate: --measured '%s': expected a volume above 0, e.g. "
		    "11.8mL", text);
		return;
	}
	if (calibrate_rig != l->rig || calibrate_volume_ml[device] <= 0) {
		control_finish(c, 1, "calibrate: no calibration run of '%s' since lbld started or "
		    "reloaded the rig: 'lblctl calibrate %s --flow FLOW --time TIME' first",
		    dev->name, dev->name);
		return;
	}
	commanded_ml = calibrate_volume_ml[device];
	prof = l->rig->profiles != NULL ? conf_lookup(l->rig->profiles, dev->profile) : NULL;
	ops = prof != NULL && prof->type == CONF_MAP ? conf_lookup(prof, "ops") : NULL;
	flow = ops != NULL && ops->type == CONF_MAP ? conf_lookup(ops, "flow") : NULL;
	if (flow == NULL || flow->type != CONF_MAP) {
		control_finish(c, 1, "calibrate: pump '%s' uses profile '%s', which %s; the "
		    "scale is written to the rig file's own profile: give the pump a profile in "
		    "'profiles:' with its 'flow' operation (lbl-rig(5))", dev->name, dev->profile,
		    prof == NULL ? "is built in" : "has no 'flow' operation of its own");
		return;
	}
	for (i = 0; i < l->rig->device_count; i++)
		if ((int)i != device && l->rig->devices[i].profile != NULL &&
		    strcmp(l->rig->devices[i].profile, dev->profile) == 0) {
			control_finish(c, 1, "calibrate: profile '%s' is shared by '%s' and '%s': a "
			    "scale for one pump would change the other; give '%s' a profile of its "
			    "own ('base: %s' and its 'flow')", dev->profile, dev->name,
			    l->rig->devices[i].name, dev->name, dev->profile);
			return;
		}
	if ((scale_node = conf_lookup(flow, "scale")) != NULL &&
	    (scale_node->type != CONF_SCALAR || sscanf(scale_node->text, "%lf", &old_scale) != 1 ||
	    !(old_scale > 0))) {
		control_finish(c, 1, "calibrate: profile '%s': its flow 'scale' is not a number "
		    "above 0", dev->profile);
		return;
	}
	factor = measured_ml / commanded_ml;
	if (factor > CALIBRATE_MAX_FACTOR || factor < 1 / CALIBRATE_MAX_FACTOR) {
		control_finish(c, 1, "calibrate: %.3g mL measured for %.3g mL commanded is more "
		    "than %g times off: check the tubing, the profile and the measurement; nothing "
		    "stored", measured_ml, commanded_ml, CALIBRATE_MAX_FACTOR);
		return;
	}
	/* engineering = raw * scale: the pump delivered factor times what was commanded */
	new_scale = old_scale * factor;
	snprintf(msg, sizeof(msg), "measured %.4g mL for %.4g mL commanded: flow scale of "
	    "profile '%s' %.6g -> %.6g", measured_ml, commanded_ml, dev->profile, old_scale,
	    new_scale);
	calibrate_event(l, device, msg);
	control_out(c, "rig %s", realpath(l->rig_path, path) != NULL ? path : l->rig_path);
	control_out(c, "profile %s", dev->profile);
	control_out(c, "scale %.6g", new_scale);
	control_out(c, "note %s", msg);
	control_finish(c, 0, " ");
}

void
calibrate_request(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	const char *flow_text = NULL, *time_text = NULL, *measured = NULL, *why;
	struct calibrate_run *r;
	const struct rig_device *dev;
	char err[400];
	int device, i;
	double flow;
	int64_t ms;

	for (i = 2; i + 1 < req->argc; i += 2) {
		if (strcmp(req->argv[i], "--flow") == 0)
			flow_text = req->argv[i + 1];
		else if (strcmp(req->argv[i], "--time") == 0)
			time_text = req->argv[i + 1];
		else if (strcmp(req->argv[i], "--measured") == 0)
			measured = req->argv[i + 1];
		else
			break;
	}
	if (req->argc < 2 || i != req->argc || (measured == NULL) == (flow_text == NULL) ||
	    (flow_text == NULL) != (time_text == NULL)) {
		control_finish(c, 2, "usage: calibrate PUMP --flow FLOW --time TIME | calibrate "
		    "PUMP --measured VOLUME");
		return;
	}
	if ((device = rig_device_index(l->rig, req->argv[1])) == -1 ||
	    l->rig->devices[device].role != RIG_PUMP ||
	    rig_pump_is_stirrer(&l->rig->devices[device])) {
		control_finish(c, 2, "calibrate: '%s' is not a pump of rig %s (a stirrer moves no "
		    "liquid)", req->argv[1], l->rig->name);
		return;
	}
	dev = &l->rig->devices[device];
	if (calibrate_memory(l->rig) == -1) {
		control_finish(c, 1, "calibrate: out of memory");
		return;
	}
	if (measured != NULL) {
		calibrate_measured(l, c, device, measured);
		return;
	}
	if (units_parse(flow_text, UNIT_FLOW_ML_MIN, &flow, &why) == -1 || !(flow > 0) ||
	    flow > dev->max_flow_ml_min) {
		control_finish(c, 2, "calibrate: --flow '%s': expected a flow above 0 and at most "
		    "the pump's max_flow, %g mL/min", flow_text, dev->max_flow_ml_min);
		return;
	}
	if (units_parse_duration(time_text, &ms, &why) == -1 || ms < CALIBRATE_MIN_MS ||
	    ms > CALIBRATE_MAX_MS) {
		control_finish(c, 2, "calibrate: --time '%s': expected %ds to %dmin", time_text,
		    CALIBRATE_MIN_MS / 1000, CALIBRATE_MAX_MS / 60000);
		return;
	}
	if (calibrate_current != NULL) {
		control_finish(c, 1, "calibrate refused: pump '%s' is being calibrated",
		    l->rig->devices[calibrate_current->device].name);
		return;
	}
	if (run_busy(l->run) || home_busy(l->home)) {
		control_finish(c, 1, "calibrate refused: %s", run_busy(l->run) ? "a batch is "
		    "running or the rig is going to its safe state" : "homing is under way");
		return;
	}
	if (act_safety_active(l->act, err, sizeof(err))) {
		control_finish(c, 1, "calibrate refused: %s", err);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		control_finish(c, 1, "calibrate: out of memory");
		return;
	}
	r->l = l;
	r->client = c;
	r->device = device;
	r->flow_ml_min = flow;
	r->ms = ms;
	calibrate_who(c, r->who, sizeof(r->who));
	if (calibrate_pump_run(r, err, sizeof(err)) == -1) {
		loop_timer_free(r->timer);
		free(r);
		control_finish(c, 1, "calibrate: %s", err);
		return;
	}
	calibrate_current = r;
	control_watch(c, calibrate_watch, r);
	control_out(c, "running %s at %g mL/min for %s; it stops by itself (or when this "
	    "command is interrupted)", dev->name, flow, time_text);
}
