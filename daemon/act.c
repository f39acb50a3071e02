/*
 * Actuation over the hardware layer: one operation at a time for the run
 * executor, status polling until an axis is in position, the reaction to
 * safety inputs and the safe state with its withdrawal to park.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "hw.h"
#include "log.h"
#include "profile.h"

/* Motion must end within its ideal time times this, plus the margin. */
#define ACT_MOVE_SLACK		2.0
#define ACT_MOVE_MARGIN_MS	3000
#define ACT_POLL_MIN_MS		2
#define ACT_POLL_MAX_MS		50
#define ACT_FLAG_WINDOW_MM	0.1	/* in-position flag believed this near the target */
#define ACT_INPUT_POLL_MS	20
/*
 * A safe state ends within a deadline (act_safe_budget_ms): its commands
 * within what the hardware layer allows them (hw_safe_state_ms), then each
 * move of a park within its own limit (act_move_limit_ms) plus this many
 * transactions at their deadline: the move's commands (up to five writes:
 * enable, speed, accel, target, go), the status look that finds it late
 * (two reads), and one to spare.
 */
#define ACT_PARK_MOVE_TXNS	8

enum act_phase { ACT_IDLE, ACT_BUSY, ACT_SAFE, ACT_PARK_LIFT, ACT_PARK_TRANSFER };

/*
 * act_then()'s start, which follows the next operation on the buses: asked
 * until that operation goes, opened (that operation's request queued with
 * a gate) until act_then_queue(), queued until its own answer, answered
 * (kept) until the operation that takes it up; taken while that operation
 * waits for the answer, delivering when it came before and goes out
 * through then_timer (act never answers from within a call).
 */
enum act_then_state { ACT_THEN_NONE, ACT_THEN_ASKED, ACT_THEN_OPENED, ACT_THEN_QUEUED,
	ACT_THEN_ANSWERED, ACT_THEN_TAKEN, ACT_THEN_DELIVERING };

/*
 * The lift as last read back. A transfer move needs it withdrawn and
 * confirmed: read back at or above the safe height with no lift motion
 * commanded since. The safe state and the start of a batch take the
 * confirmation away, so the next transfer reads the lift again.
 */
struct act_lift {
	enum act_lift_state state;
	double position_mm;		/* last read, NAN if never */
	int confirmed;			/* read back since the last lift command or safe state */
	int moving;			/* a lift move is commanded and not seen to arrive */
};

struct act {
	struct loop *loop;
	const struct rig *rig;
	struct hw *hw;
	act_done_cb done;
	act_input_cb input;
	void *arg;
	double time_scale;
	enum act_phase phase;
	/* bumped by the safe state and a failed batch of stops: late replies are ignored */
	unsigned generation;
	int park;			/* withdraw and park after the safe state */
	int fire;			/* the next start was armed: its trigger alone goes */
	int64_t release_ns;		/* act_release_at(): the next request's moment, 0 none */
	int64_t op_sent_ns;		/* the operation's first request went out then, 0 not yet */
	enum act_then_state then_state;
	struct hw_request then_req;	/* act_then()'s start, as it was queued */
	struct hw_gate *then_gate;	/* ACT_THEN_OPENED: what it is to follow */
	struct hw_result then_res;	/* its answer, once ACT_THEN_ANSWERED */
	struct loop_timer *then_timer;
	/*
	 * act_stops(): its commands not yet answered (0: the operation in
	 * hand is no such batch), and why one was refused.
	 */
	size_t stops_left;
	char stops_error[320];

	/* the axis move in progress */
	int axis;
	double target_mm, speed_mm_s;
	int64_t move_deadline_ns;
	/*
	 * On a serial line, a move's travel at its speed from where the axis
	 * was known to stand (real ns; 0 unknown): after the first look, its
	 * arrival is polled for only from then on (act_on_moved).
	 */
	int64_t travel_ns, first_poll_ns;
	int64_t poll_ns;
	double last_position_mm;
	struct loop_timer *poll_timer;

	struct act_lift lift;
	double transfer_mm;		/* the transfer axis as last read, NAN if never */
	int parked;			/* the last park ended well and no axis moved since */
	struct hw_request pending;	/* a transfer move waiting for the lift's readback */
	int checking_lift;
	int safe_ok;			/* the last safe state's commands: 1 confirmed, 0 not, -1 pending */
	struct loop_timer *safe_timer;	/* the safe state's (and park's) deadline */
	int64_t safe_deadline_ns;
	int64_t safe_budget_ms;
};


static void act_submit(struct act *act, const struct hw_request *req);
static void act_on_result(void *arg, const struct hw_request *req, const struct hw_result *res);
static void act_park_next(struct act *act);
static void act_watch_move(struct act *act, int axis, double position_mm, double speed_mm_s);

/* Whether a lift position is at or above the safe height (z grows downwards). */
static int
act_withdrawn_at(const struct act *act, double position_mm)
{
	return !isnan(position_mm) && position_mm <= act->rig->safe_z_mm +
	    hw_axis_tolerance_mm(act->hw, act->rig->lift);
}

void
act_note_position(struct act *act, int device, double position_mm)
{
	if (device == act->rig->transfer && device >= 0 && !isnan(position_mm))
		act->transfer_mm = position_mm;
	if (device != act->rig->lift || act->rig->lift < 0 || isnan(position_mm))
		return;
	act->lift.position_mm = position_mm;
	act->lift.state = act_withdrawn_at(act, position_mm) ? ACT_LIFT_WITHDRAWN :
	    ACT_LIFT_LOWERED;
	act->lift.confirmed = !act->lift.moving;
}

static void
act_finish(struct act *act, int ok, double value, const char *error)
{
	act->phase = ACT_IDLE;
	act->done(act->arg, ok, value, error);
}

static void
act_fail(struct act *act, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
act_fail(struct act *act, const char *fmt, ...)
{
	char error[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, sizeof(error), fmt, ap);
	va_end(ap);
	act_finish(act, 0, NAN, error);
}

/*
 * The status of the axis in motion came back. Returns 1 when it arrived,
 * 0 when it is still on its way (the next poll is armed), -1 on failure
 * (error says why).
 */
static int
act_on_status(struct act *act, const struct hw_result *res, char *error, size_t error_size)
{
	const struct rig_device *dev = &act->rig->devices[act->axis];
	int64_t now = loop_now_ns();

	if (res->alarm == 1) {
		snprintf(error, error_size, "axis '%s' raised its alarm while moving to %.2f mm",
		    dev->name, act->target_mm);
		return -1;
	}
	if (!isnan(res->position_mm))
		act->last_position_mm = res->position_mm;
	act_note_position(act, act->axis, res->position_mm);
	/*
	 * A drive may still show in-position from its previous target just after
	 * a go: the flag counts only near the new target (within the drive's own
	 * window, which may be wider than ours).
	 */
	if ((res->in_position == 1 && res->busy != 1 && (isnan(res->position_mm) ||
	    fabs(res->position_mm - act->target_mm) <= fmax(10 * hw_axis_tolerance_mm(act->hw,
	    act->axis), ACT_FLAG_WINDOW_MM))) ||
	    /* profiles without an in-position flag: at the target, within tolerance */
	    (res->in_position == -1 && res->busy != 1 && !isnan(res->position_mm) &&
	    fabs(res->position_mm - act->target_mm) <= hw_axis_tolerance_mm(act->hw, act->axis))) {
		if (act->axis == act->rig->lift) {
			/* arrived: what was read is where the lift stays */
			act->lift.moving = 0;
			act_note_position(act, act->axis, isnan(res->position_mm) ?
			    act->target_mm : res->position_mm);
			/* the drive's in-position flag near the target is a readback too */
			act->lift.confirmed = 1;
		}
		return 1;
	}
	if (now >= act->move_deadline_ns) {
		snprintf(error, error_size, "axis '%s' did not reach %.2f mm in time (last at "
		    "%.2f mm%s)", dev->name, act->target_mm, act->last_position_mm,
		    res->busy == 1 ? ", still busy" : "");
		return -1;
	}
	loop_timer_at(act->poll_timer, now + act->poll_ns > act->first_poll_ns ?
	    now + act->poll_ns : act->first_poll_ns);
	return 0;
}

/*
 * The safe state (and the park after it, if asked for) has ended: value
 * is 1 when the substrate was parked, 0 when it was not (not asked, or it
 * failed: error says why).
 */
static void
act_safe_end(struct act *act, int ok, int parked, const char *error)
{
	loop_timer_cancel(act->safe_timer);
	act->phase = ACT_IDLE;
	act->parked = parked;
	act->done(act->arg, ok, parked, error);
}

/* A reply during the withdrawal to park. */
static void
act_on_park_result(struct act *act, const struct hw_request *req, const struct hw_result *res)
{
	char error[320];
	int arrived;

	if (!res->ok) {
		act_safe_end(act, 0, 0, res->error);
		return;
	}
	if (req->op == HW_MOVE) {
		act->first_poll_ns = loop_now_ns() + (act->travel_ns > 0 ? act->travel_ns : 0);
		loop_timer_at(act->poll_timer, loop_now_ns());
		return;
	}
	if ((arrived = act_on_status(act, res, error, sizeof(error))) == -1)
		act_safe_end(act, 0, 0, error);
	else if (arrived == 1)
		act_park_next(act);
}

/* The lift's readback before a transfer move came: go, or refuse the move. */
static void
act_on_lift_check(struct act *act, const struct hw_result *res)
{
	char error[320];

	act->checking_lift = 0;
	act_note_position(act, act->rig->lift, res->position_mm);
	if (act->lift.state != ACT_LIFT_WITHDRAWN || !act->lift.confirmed) {
		act_substrate_text(act, error, sizeof(error));
		act_fail(act, "transfer to %.2f mm refused: %s", act->pending.value, error);
		return;
	}
	act->parked = 0;
	act_watch_move(act, act->pending.device, act->pending.value, act->pending.speed_mm_s);
	act_submit(act, &act->pending);
}

static void
act_on_result(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct act *act = arg;
	/* the generation travels with each request as its tag */
	int current = req->tag == act->generation, arrived;
	char error[320];

	if (!current)
		return;
	if (act->phase == ACT_PARK_LIFT || act->phase == ACT_PARK_TRANSFER) {
		act_on_park_result(act, req, res);
		return;
	}
	if (act->phase != ACT_BUSY)
		return;
	if (act->op_sent_ns == 0)
		act->op_sent_ns = res->sent_ns;
	if (act->stops_left > 0) {
		/*
		 * A batch of stops ends with its last answer, or at its first
		 * failure: the caller makes the rig safe at once, not after the
		 * slowest of the others. The others' answers are then stale
		 * (the generation moves on), never taken for a later operation's.
		 */
		if (!res->ok) {
			act->stops_left = 0;
			act->generation++;
			act_fail(act, "%s", res->error);
		} else if (--act->stops_left == 0) {
			act_finish(act, 1, 0, NULL);
		}
		return;
	}
	if (!res->ok) {
		act_fail(act, "%s", res->error);
		return;
	}
	switch (req->op) {
	case HW_MOVE:
		/*
		 * The move is commanded; now watch it arrive. The first look is
		 * at once, so a move to where the axis already is (the next
		 * spray at the same booth) costs one transaction, not a period.
		 */
		act->first_poll_ns = loop_now_ns() + (act->travel_ns > 0 ? act->travel_ns : 0);
		loop_timer_at(act->poll_timer, loop_now_ns());
		break;
	case HW_STATUS:
		if (act->checking_lift) {
			act_on_lift_check(act, res);
			break;
		}
		if ((arrived = act_on_status(act, res, error, sizeof(error))) == -1)
			act_fail(act, "%s", error);
		else if (arrived == 1)
			act_finish(act, 1, act->last_position_mm, NULL);
		break;
	case HW_READ:
		if (res->alarm == 1)
			act_fail(act, "sensor '%s' reports an alarm",
			    act->rig->devices[req->device].name);
		else
			act_finish(act, 1, res->value, NULL);
		break;
	default:
		act_finish(act, 1, res->value, NULL);
		break;
	}
}

static void
act_on_poll(void *arg)
{
	struct act *act = arg;
	struct hw_request req = { act->axis, HW_STATUS, 0, 0, 0 };

	act_submit(act, &req);
}

/*
 * Submits through the hardware layer; a refusal fails the operation. The
 * request carries the generation, so a reply from before a safe state is
 * known for stale (and a request the safe state drops costs nothing).
 */
static void
act_submit(struct act *act, const struct hw_request *req)
{
	struct hw_request tagged = *req;
	char err[256];

	tagged.tag = act->generation;
	tagged.release_ns = act->release_ns;
	act->release_ns = 0;
	if (hw_submit(act->hw, &tagged, act_on_result, act, err, sizeof(err)) == -1)
		act_fail(act, "%s", err);
}

/* A start's stage: its trigger alone when act_fire() said it was armed. */
static void
act_stage(struct act *act, struct hw_request *req)
{
	req->stage = act->fire ? HW_FIRE : HW_WHOLE;
	act->fire = 0;
}

/*
 * Takes act for a new operation (phase ACT_BUSY): 0, or -1, logged and
 * nothing changed, when one is in progress.
 */
static int
act_claim(struct act *act)
{
	/*
	 * After a safe state without parking, new work may queue behind the
	 * stop commands: each bus keeps its order.
	 */
	if (act->phase == ACT_SAFE && !act->park) {
		loop_timer_cancel(act->safe_timer);
		act->phase = ACT_IDLE;
	}
	if (act->phase != ACT_IDLE) {
		log_warnx("act: an operation is already in progress");
		return -1;
	}
	/* a start went ahead to follow the last operation: only it may come next */
	if (act->then_state == ACT_THEN_QUEUED || act->then_state == ACT_THEN_ANSWERED) {
		log_warnx("act: device '%s' was sent its start ahead of its operation, which "
		    "another has come before", act->rig->devices[act->then_req.device].name);
		return -1;
	}
	act->phase = ACT_BUSY;
	act->op_sent_ns = 0;
	act->stops_left = 0;
	act->stops_error[0] = '\0';
	return 0;
}

/* The answer of act_then()'s start, which may come before its operation takes it up. */
static void
act_on_then(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct act *act = arg;

	if (req->tag != act->generation)
		return;
	if (act->then_state == ACT_THEN_TAKEN) {
		act->then_state = ACT_THEN_NONE;
		act_on_result(act, req, res);
	} else if (act->then_state == ACT_THEN_QUEUED) {
		act->then_res = *res;
		act->then_state = ACT_THEN_ANSWERED;
	}
}

/* An answer that came before its operation took it up, handed on now. */
static void
act_on_then_timer(void *arg)
{
	struct act *act = arg;

	if (act->then_state != ACT_THEN_DELIVERING)
		return;
	act->then_state = ACT_THEN_NONE;
	act_on_result(act, &act->then_req, &act->then_res);
}

/*
 * The operation of act_then()'s start begins: it takes up what was sent
 * (or is queued) instead of sending it again. Its values must be the
 * start's: another start now would go after one already out, so it is
 * refused (-1, logged) and the caller makes the rig safe.
 */
static int
act_take_then(struct act *act, const struct hw_request *req)
{
	const struct hw_request *t = &act->then_req;
	enum act_then_state state = act->then_state;

	if (req->device != t->device || req->op != t->op || req->value != t->value ||
	    req->speed_mm_s != t->speed_mm_s || req->reverse != t->reverse) {
		log_warnx("act: refused: the next operation (device '%s') is not the start that "
		    "went ahead to follow the last one (device '%s')",
		    act->rig->devices[req->device].name, act->rig->devices[t->device].name);
		return -1;
	}
	act->then_state = ACT_THEN_NONE;
	if (act_claim(act) == -1) {
		act->then_state = state;	/* still out: only it may come next */
		return -1;
	}
	act->release_ns = 0;
	act->fire = 0;
	if (state == ACT_THEN_QUEUED) {
		act->then_state = ACT_THEN_TAKEN;
	} else {
		act->then_state = ACT_THEN_DELIVERING;
		if (loop_timer_at(act->then_timer, loop_now_ns()) == -1) {
			act->then_state = ACT_THEN_NONE;
			act->phase = ACT_IDLE;
			log_warnx("act: cannot arm the timer that hands on device '%s''s answer",
			    act->rig->devices[t->device].name);
			return -1;
		}
	}
	return 0;
}

/* Lets go of a gate opened for act_then()'s start that was never queued. */
static void
act_then_forget(struct act *act)
{
	if (act->then_state == ACT_THEN_OPENED)
		hw_gate_release(act->then_gate);
	act->then_gate = NULL;
	act->then_state = ACT_THEN_NONE;
}

/*
 * The first request of an operation, opening a gate for act_then()'s
 * start when one was asked for (an output's, a pump's or a line's request
 * only: a move's answer is no arrival). A start that cannot follow it goes
 * with its own operation.
 */
static void
act_submit_first(struct act *act, const struct hw_request *req)
{
	struct hw_request tagged = *req;
	char err[256];

	if (act->then_state != ACT_THEN_ASKED)
		goto alone;
	act->then_state = ACT_THEN_NONE;
	if (req->op != HW_OUTPUT && req->op != HW_PUMP && req->op != HW_LINE)
		goto alone;
	tagged.tag = act->generation;
	tagged.release_ns = act->release_ns;
	if (hw_submit_opening(act->hw, &tagged, act_on_result, act, &act->then_gate, err,
	    sizeof(err)) == -1) {
		log_warnx("act: device '%s''s start goes with its own operation: %s",
		    act->rig->devices[act->then_req.device].name, err);
		goto alone;
	}
	act->release_ns = 0;
	act->then_state = ACT_THEN_OPENED;
	return;
alone:
	act_submit(act, req);
}

int
act_then_queue(struct act *act, char *err, size_t err_size)
{
	struct hw_request then = act->then_req;

	if (act->then_state != ACT_THEN_OPENED) {
		/* one asked for and not opened is forgotten; one out already stays out */
		if (act->then_state == ACT_THEN_ASKED)
			act->then_state = ACT_THEN_NONE;
		snprintf(err, err_size, "no start is waiting to be queued");
		return -1;
	}
	then.tag = act->generation;
	if (hw_submit_after(act->hw, act->then_gate, &then, act_on_then, act, err,
	    err_size) == -1) {
		act_then_forget(act);
		return -1;
	}
	act->then_gate = NULL;
	act->then_req = then;
	act->then_state = ACT_THEN_QUEUED;
	return 0;
}

static int
act_begin(struct act *act, const struct hw_request *req)
{
	if (act->then_state == ACT_THEN_QUEUED || act->then_state == ACT_THEN_ANSWERED)
		return act_take_then(act, req);
	/* opened for it, never queued: it goes with its own operation, now */
	if (act->then_state == ACT_THEN_OPENED)
		act_then_forget(act);
	if (act_claim(act) == -1)
		return -1;
	act_submit_first(act, req);
	return 0;
}

/* A move's time in real ms at its speed (0: the axis's max_speed) over the whole travel. */
static double
act_move_ideal_ms(const struct act *act, int axis, double speed_mm_s)
{
	const struct rig_device *dev = &act->rig->devices[axis];
	double speed = speed_mm_s > 0 ? speed_mm_s : dev->max_speed_mm_s;
	double travel = fabs(dev->travel_max_mm - dev->travel_min_mm);

	return speed > 0 ? travel / speed * 1000 / act->time_scale : 10000;
}

/*
 * How long a move may take to arrive: the worst case is the whole travel
 * (the start position is not known here), times the slack, plus the margin.
 */
static int64_t
act_move_limit_ms(const struct act *act, int axis, double speed_mm_s)
{
	return (int64_t)(act_move_ideal_ms(act, axis, speed_mm_s) * ACT_MOVE_SLACK +
	    ACT_MOVE_MARGIN_MS);
}

/* Arms the arrival watch of a move: deadline and polling period, in real time. */
static void
act_watch_move(struct act *act, int axis, double position_mm, double speed_mm_s)
{
	const struct rig_device *dev = &act->rig->devices[axis];
	double speed = speed_mm_s > 0 ? speed_mm_s : dev->max_speed_mm_s;
	double poll_ms = act_move_ideal_ms(act, axis, speed_mm_s) / 50;

	act->axis = axis;
	act->target_mm = position_mm;
	act->speed_mm_s = speed;
	act->last_position_mm = NAN;
	act->move_deadline_ns = loop_now_ns() + act_move_limit_ms(act, axis, speed_mm_s) * 1000000;
	act->travel_ns = 0;
	if (dev->bus >= 0 && act->rig->buses[dev->bus].type == RIG_BUS_RTU && speed > 0) {
		double from_mm = axis == act->rig->transfer ? act->transfer_mm :
		    axis == act->rig->lift ? act->lift.position_mm : NAN;
		double line_ms = rig_bus_transaction_ms(&act->rig->buses[dev->bus]);

		/*
		 * Polls while it travels only take the line from others:
		 * the first look (which finds an axis already there at once)
		 * and then from a transaction before the earliest arrival
		 * (at constant speed, no ramp: never later than the real one).
		 */
		if (!isnan(from_mm))
			act->travel_ns = (int64_t)((fabs(position_mm - from_mm) / speed * 1000 /
			    act->time_scale - line_ms) * 1e6);
	}
	poll_ms = poll_ms < ACT_POLL_MIN_MS ? ACT_POLL_MIN_MS :
	    poll_ms > ACT_POLL_MAX_MS ? ACT_POLL_MAX_MS : poll_ms;
	act->poll_ns = (int64_t)(poll_ms * 1e6);
}

int
act_move(struct act *act, int axis, double position_mm, double speed_mm_s)
{
	struct hw_request req = { axis, HW_MOVE, position_mm, speed_mm_s, 0 };
	struct hw_request check = { act->rig->lift, HW_STATUS, 0, 0, 0 };
	char why[128];

	act_stage(act, &req);
	if (act_safety_active(act, why, sizeof(why))) {
		log_warnx("motion refused: %s", why);
		return -1;
	}
	/* act_then()'s move, sent ahead (checked there as below): taken up, then watched */
	if (act->then_state == ACT_THEN_QUEUED || act->then_state == ACT_THEN_ANSWERED) {
		if (act_take_then(act, &req) == -1)
			return -1;
		act->parked = 0;
		act_watch_move(act, axis, position_mm, speed_mm_s);
		return 0;
	}
	if (axis == act->rig->transfer && act->rig->lift >= 0 &&
	    (act->lift.state != ACT_LIFT_WITHDRAWN || !act->lift.confirmed)) {
		/*
		 * Never sideways while immersed: the lift is read back first,
		 * and the move goes out only if it is at the safe height.
		 */
		if (act_claim(act) == -1)
			return -1;
		/* a start asked to follow it forgotten: this operation's first request is a read */
		if (act->then_state == ACT_THEN_ASKED)
			act->then_state = ACT_THEN_NONE;
		act->pending = req;
		act->checking_lift = 1;
		act_submit(act, &check);
		return 0;
	}
	if (axis == act->rig->lift) {
		act->lift.moving = 1;
		act->lift.confirmed = 0;
		act->lift.state = ACT_LIFT_UNKNOWN;
	}
	act->parked = 0;
	act_watch_move(act, axis, position_mm, speed_mm_s);
	return act_begin(act, &req);
}

int
act_output(struct act *act, int device, int on)
{
	struct hw_request req = { device, HW_OUTPUT, on ? 1 : 0, 0, 0 };

	return act_begin(act, &req);
}

int
act_pump(struct act *act, int device, double flow_ml_min)
{
	struct hw_request req = { device, HW_PUMP, flow_ml_min, 0, 0 };

	act_stage(act, &req);
	return act_begin(act, &req);
}

int
act_line(struct act *act, int device, double speed_mm_s, int reverse)
{
	struct hw_request req = { device, HW_LINE, speed_mm_s, 0, reverse };

	act_stage(act, &req);
	return act_begin(act, &req);
}

/* Whether req takes its device the safe way: a valve or relay off, a pump or line stopped. */
static int
act_is_stop(const struct hw_request *req)
{
	return (req->op == HW_OUTPUT || req->op == HW_PUMP || req->op == HW_LINE) &&
	    req->value <= 0;
}

int
act_stops(struct act *act, const struct hw_request *reqs, size_t n, char *err, size_t err_size)
{
	struct hw_request tagged;
	size_t i, refused = 0;

	for (i = 0; i < n; i++)
		if (!act_is_stop(&reqs[i])) {
			snprintf(err, err_size, "device %d: not a stop (a valve off, a pump or line "
			    "stopped)", reqs[i].device);
			return -1;
		}
	if (n == 0 || act_claim(act) == -1) {
		snprintf(err, err_size, n == 0 ? "no stops" : "an operation is in progress");
		return -1;
	}
	act->release_ns = 0;
	act->fire = 0;
	/* a start asked to follow the next operation: these are stops, it goes with its own */
	if (act->then_state == ACT_THEN_ASKED)
		act->then_state = ACT_THEN_NONE;
	act->stops_left = n;
	for (i = 0; i < n; i++) {
		tagged = reqs[i];
		tagged.tag = act->generation;
		tagged.release_ns = 0;
		tagged.stage = HW_WHOLE;
		/* a refused one fails the whole; the others go all the same */
		if (hw_submit(act->hw, &tagged, act_on_result, act, act->stops_error,
		    sizeof(act->stops_error)) == -1)
			refused++;
	}
	if (refused > 0) {
		/* nothing in hand: the queued ones' answers are stale (the generation moves on) */
		act->stops_left = 0;
		act->generation++;
		act->phase = ACT_IDLE;
		snprintf(err, err_size, "%s", act->stops_error);
		return -1;
	}
	return 0;
}

int
act_read(struct act *act, int device)
{
	struct hw_request req = { device, HW_READ, 0, 0, 0 };

	return act_begin(act, &req);
}

int
act_read_volume(struct act *act, int device, unsigned tag, hw_done_cb done, void *arg,
    char *err, size_t err_size)
{
	struct hw_request req = { device, HW_PROBE, 0, 0, 0 };

	req.tag = tag;
	return hw_submit(act->hw, &req, done, arg, err, err_size);
}

int
act_can_arm(const struct act *act, const struct hw_request *req, char *why, size_t why_size)
{
	return hw_can_arm(act->hw, req, why, why_size);
}

int
act_arm(struct act *act, const struct hw_request *req, hw_done_cb done, void *arg, char *err,
    size_t err_size)
{
	struct hw_request armed = *req;

	/* nothing is written toward a start while the rig must not start */
	if (act_safety_active(act, err, err_size))
		return -1;
	armed.stage = HW_ARM;
	return hw_submit(act->hw, &armed, done, arg, err, err_size);
}

void
act_fire(struct act *act)
{
	act->fire = 1;
}

int
act_then(struct act *act, const struct hw_request *req, char *err, size_t err_size)
{
	const struct rig_device *dev;

	if (req->device < 0 || (size_t)req->device >= act->rig->device_count) {
		snprintf(err, err_size, "no device %d", req->device);
		return -1;
	}
	dev = &act->rig->devices[req->device];
	if (dev->bus < 0 || (req->op != HW_OUTPUT && req->op != HW_PUMP && req->op != HW_LINE &&
	    (req->op != HW_MOVE || dev->role != RIG_AXIS))) {
		snprintf(err, err_size, "device '%s': only a Modbus output, pump, line or move "
		    "follows an operation on the buses", dev->name);
		return -1;
	}
	/* a move goes ahead only as act_move() would send it at once, never the lift's */
	if (req->op == HW_MOVE && (req->device == act->rig->lift ||
	    act_safety_active(act, err, err_size) ||
	    (req->device == act->rig->transfer && act->rig->lift >= 0 &&
	    (act->lift.state != ACT_LIFT_WITHDRAWN || !act->lift.confirmed)))) {
		if (req->device == act->rig->lift || !act_safety_active(act, NULL, 0))
			snprintf(err, err_size, "device '%s': %s", dev->name,
			    req->device == act->rig->lift ? "the lift's moves go with their step" :
			    "the lift is not known withdrawn: the transfer waits for its readback");
		return -1;
	}
	if (act->then_state == ACT_THEN_OPENED)
		act_then_forget(act);
	if (act->then_state != ACT_THEN_NONE && act->then_state != ACT_THEN_ASKED) {
		snprintf(err, err_size, "device '%s': a start that follows an operation is out "
		    "already", dev->name);
		return -1;
	}
	act->then_req = *req;
	act->then_state = ACT_THEN_ASKED;
	return 0;
}

void
act_release_at(struct act *act, int64_t release_ns)
{
	act->release_ns = release_ns;
}

int64_t
act_op_sent_ns(const struct act *act)
{
	return act->op_sent_ns;
}

int
act_volume_counter(const struct act *act, int device, double *wrap_ml)
{
	return hw_volume_counter(act->hw, device, wrap_ml);
}

static int
act_is_safety(const struct rig_device *dev)
{
	return dev->role == RIG_INPUT &&
	    (strcmp(dev->kind, "estop") == 0 || strcmp(dev->kind, "interlock") == 0);
}

int
act_input_holds(const struct act *act, int device, char *why, size_t why_size)
{
	const struct rig_device *dev = &act->rig->devices[device];
	const char *gpio;
	int level;

	if (!act_is_safety(dev))
		return 0;
	level = hw_input_level(act->hw, device);
	/* an input never read is as good as pressed, one that cannot be read too */
	if (level == -1 && (gpio = hw_gpio_error(act->hw, device)) != NULL) {
		snprintf(why, why_size, "%s '%s' cannot be read (%s), so it counts as "
		    "engaged", strcmp(dev->kind, "estop") == 0 ? "e-stop" : "interlock",
		    dev->name, gpio);
		return 1;
	}
	if (level != 0) {
		snprintf(why, why_size, "%s '%s' is %s", strcmp(dev->kind, "estop") == 0 ?
		    "e-stop" : "interlock", dev->name, level == 1 ? "engaged" :
		    "not read yet");
		return 1;
	}
	return 0;
}

int
act_safety_active(const struct act *act, char *why, size_t why_size)
{
	size_t i;

	for (i = 0; i < act->rig->device_count; i++)
		if (act_input_holds(act, (int)i, why, why_size))
			return 1;
	return 0;
}

/* Park: lift up to the safe height, then the transfer to the park station. */
static void
act_park_next(struct act *act)
{
	const struct rig *rig = act->rig;
	double park_x = rig->park >= 0 ? rig->stations[rig->park].x_mm : 0;
	struct hw_request req = { -1, HW_MOVE, 0, 0, 0 };
	char why[320];

	if (act_safety_active(act, why, sizeof(why))) {
		act_safe_end(act, 0, 0, why);
		return;
	}
	if (act->phase == ACT_SAFE && rig->lift >= 0) {
		act->phase = ACT_PARK_LIFT;
		req.device = rig->lift;
		req.value = rig->safe_z_mm;
		act->lift.moving = 1;
		act->lift.confirmed = 0;
		act->lift.state = ACT_LIFT_UNKNOWN;
	} else if ((act->phase == ACT_SAFE || act->phase == ACT_PARK_LIFT) && rig->transfer >= 0) {
		/* the lift arrived at the safe height, read back (act_on_status) */
		if (rig->lift >= 0 && (act->lift.state != ACT_LIFT_WITHDRAWN ||
		    !act->lift.confirmed)) {
			act_substrate_text(act, why, sizeof(why));
			act_safe_end(act, 0, 0, why);
			return;
		}
		act->phase = ACT_PARK_TRANSFER;
		req.device = rig->transfer;
		req.value = park_x;
	} else {
		act_safe_end(act, 1, 1, NULL);
		return;
	}
	act_watch_move(act, req.device, req.value, 0);
	act_submit(act, &req);
}

static void
act_on_safe(void *arg, int ok, const char *error)
{
	struct act *act = arg;

	if (!ok)
		log_warnx("safe state: not confirmed: %s", error);
	act->safe_ok = ok;
	/* ended already: by its deadline, or left for new work (no park) */
	if (act->phase != ACT_SAFE)
		return;
	if (!act->park)
		act_safe_end(act, ok, 0, error);
	else
		act_park_next(act);
}

/*
 * Names into buf the devices of the safe state under way whose command has
 * status st ("'fill-1', 'lift'"), and returns how many; *commands counts
 * the devices that have one.
 */
static int
act_safe_names(const struct act *act, enum hw_safe_status st, char *buf, size_t size,
    int *commands)
{
	size_t i, used = 0;
	enum hw_safe_status status;
	int n = 0;

	buf[0] = '\0';
	*commands = 0;
	for (i = 0; i < act->rig->device_count; i++) {
		if ((status = hw_safe_status(act->hw, (int)i)) == HW_SAFE_NONE)
			continue;
		(*commands)++;
		if (status != st)
			continue;
		n++;
		if (used < size)
			used += (size_t)snprintf(buf + used, size - used, "%s'%s'",
			    used > 0 ? ", " : "", act->rig->devices[i].name);
	}
	return n;
}

/*
 * What the safe state under way is at: its commands, or the park's move
 * (what has not moved yet, with its last reading). past: as the cause of
 * a deadline that passed.
 */
static void
act_safe_where(const struct act *act, int past, char *buf, size_t size)
{
	const struct rig *rig = act->rig;
	double park_x = rig->park >= 0 ? rig->stations[rig->park].x_mm : 0;
	char pending[120], failed[120], last[64];	/* names: about 8 each, then cut */
	int commands, npending, nfailed;

	switch (act->phase) {
	case ACT_SAFE:
		npending = act_safe_names(act, HW_SAFE_PENDING, pending, sizeof(pending),
		    &commands);
		nfailed = act_safe_names(act, HW_SAFE_FAILED, failed, sizeof(failed), &commands);
		snprintf(buf, size, "the stop and off commands: %d of %d confirmed%s%s%s%s%s",
		    commands - npending - nfailed, commands, npending == 0 ? "" : past ?
		    ", no answer from " : ", waiting for ", pending, nfailed > 0 ? "; failed: " :
		    "", failed, act->park ? (past ? "; the park never began" : "; then the park") :
		    "");
		break;
	case ACT_PARK_LIFT:
		if (isnan(act->lift.position_mm))
			snprintf(last, sizeof(last), "not read yet");
		else
			snprintf(last, sizeof(last), "last read %.1f mm", act->lift.position_mm);
		snprintf(buf, size, "the park: lift '%s' %s the safe height %.1f mm (%s)",
		    rig->devices[rig->lift].name, past ? "did not reach" : "rising to",
		    rig->safe_z_mm, last);
		break;
	case ACT_PARK_TRANSFER:
		if (isnan(act->transfer_mm))
			snprintf(last, sizeof(last), "not read yet");
		else
			snprintf(last, sizeof(last), "last read %.1f mm", act->transfer_mm);
		snprintf(buf, size, "the park: transfer '%s' %s park at %.1f mm (%s)",
		    rig->devices[rig->transfer].name, past ? "did not reach" : "moving to",
		    park_x, last);
		break;
	default:
		buf[0] = '\0';
		break;
	}
}

int
act_waiting_text(const struct act *act, char *buf, size_t size)
{
	char where[400];
	int64_t left_ms;

	buf[0] = '\0';
	if (act->phase != ACT_SAFE && act->phase != ACT_PARK_LIFT &&
	    act->phase != ACT_PARK_TRANSFER)
		return 0;
	act_safe_where(act, 0, where, sizeof(where));
	left_ms = (act->safe_deadline_ns - loop_now_ns()) / 1000000;
	snprintf(buf, size, "%s; gives up in %.1f s", where, left_ms > 0 ? left_ms / 1000.0 : 0);
	return 1;
}

/*
 * The safe state's deadline passed (it fires only when something did not
 * end that should have: every transaction and every move has its own
 * limit). It ends failed, naming what it waited for; motion is stopped
 * again, so a move given up on does not go on unwatched, and late replies
 * are ignored.
 */
static void
act_on_safe_deadline(void *arg)
{
	struct act *act = arg;
	char where[400], error[480];

	if (act->phase != ACT_SAFE && act->phase != ACT_PARK_LIFT &&
	    act->phase != ACT_PARK_TRANSFER)
		return;
	act_safe_where(act, 1, where, sizeof(where));
	snprintf(error, sizeof(error), "the %s did not end within its deadline of %.1f s: %s",
	    act->park ? "safe state and park" : "safe state", act->safe_budget_ms / 1000.0, where);
	log_warnx("%s", error);
	act->generation++;
	loop_timer_cancel(act->poll_timer);
	if (act->phase == ACT_PARK_LIFT || act->lift.moving)
		act->lift.state = ACT_LIFT_UNKNOWN;
	act->lift.moving = 0;
	act->lift.confirmed = 0;
	if (act->phase != ACT_SAFE)
		hw_safe_state(act->hw, NULL, NULL);
	act_safe_end(act, 0, 0, error);
}

/* The safe state's deadline, from act_safe_state(); see ACT_PARK_MOVE_TXNS. */
static int64_t
act_safe_budget_ms(const struct act *act, int park)
{
	const struct rig *rig = act->rig;
	int64_t ms = hw_safe_state_ms(act->hw);

	if (park && rig->lift >= 0)
		ms += act_move_limit_ms(act, rig->lift, 0) +
		    ACT_PARK_MOVE_TXNS * hw_transaction_ms(act->hw, rig->lift);
	if (park && rig->transfer >= 0)
		ms += act_move_limit_ms(act, rig->transfer, 0) +
		    ACT_PARK_MOVE_TXNS * hw_transaction_ms(act->hw, rig->transfer);
	return ms;
}

void
act_safe_state(struct act *act, int park)
{
	act->generation++;
	loop_timer_cancel(act->poll_timer);
	/* a start that was to follow, or went: dropped, or its answer stale */
	loop_timer_cancel(act->then_timer);
	act_then_forget(act);
	act->fire = 0;
	act->release_ns = 0;
	act->phase = ACT_SAFE;
	act->park = park;
	act->checking_lift = 0;
	act->safe_ok = -1;
	/* motion stops where it is: a lift that was moving is somewhere unknown */
	if (act->lift.moving)
		act->lift.state = ACT_LIFT_UNKNOWN;
	act->lift.moving = 0;
	act->lift.confirmed = 0;
	act->safe_budget_ms = act_safe_budget_ms(act, park);
	act->safe_deadline_ns = loop_now_ns() + act->safe_budget_ms * 1000000;
	if (loop_timer_at(act->safe_timer, act->safe_deadline_ns) == -1)
		log_warnx("act: cannot arm the safe state's deadline; it ends when its commands "
		    "and moves do");
	if (park)
		log_info("safe state: outputs off and motion stopped, then the substrate withdrawn "
		    "and parked, within %.1f s", act->safe_budget_ms / 1000.0);
	hw_safe_state(act->hw, act_on_safe, act);
}

void
act_keep_alive(struct act *act, int on)
{
	hw_watchdog_arm(act->hw, on);
}

void
act_supervise(struct act *act, const unsigned char *in_use)
{
	hw_supervise(act->hw, in_use);
}

void
act_next_deadline(struct act *act, int64_t deadline_ns)
{
	hw_set_next_deadline(act->hw, deadline_ns);
}

void
act_require_readback(struct act *act)
{
	act->lift.confirmed = 0;
}

enum act_lift_state
act_lift_state(const struct act *act, double *position_mm)
{
	if (position_mm != NULL)
		*position_mm = act->lift.position_mm;
	if (act->rig->lift < 0)
		return ACT_LIFT_WITHDRAWN;	/* no lift: nothing is ever immersed by one */
	return act->lift.state;
}

int
act_parked(const struct act *act)
{
	const struct rig *rig = act->rig;
	double park_x = rig->park >= 0 ? rig->stations[rig->park].x_mm : 0;

	/* a safe state's stops move nothing; a move or a park under way does */
	if ((act->phase != ACT_IDLE && act->phase != ACT_SAFE) ||
	    act_lift_state(act, NULL) != ACT_LIFT_WITHDRAWN)
		return 0;
	/* the last park ended well, or the axes read back where a park leaves them */
	return act->parked || (rig->transfer >= 0 && !isnan(act->transfer_mm) &&
	    fabs(act->transfer_mm - park_x) <= hw_axis_tolerance_mm(act->hw, rig->transfer));
}

int
act_making_safe(const struct act *act)
{
	return act->phase == ACT_SAFE;
}

int
act_safe_confirmed(const struct act *act)
{
	return act->safe_ok;
}

void
act_substrate_text(const struct act *act, char *buf, size_t size)
{
	const struct rig *rig = act->rig;
	const char *lift = rig->lift >= 0 ? rig->devices[rig->lift].name : NULL;

	if (lift == NULL) {
		snprintf(buf, size, "%s", act_parked(act) ? "parked" : "no lift: never immersed");
		return;
	}
	switch (act->lift.state) {
	case ACT_LIFT_WITHDRAWN:
		if (act_parked(act))
			snprintf(buf, size, "parked (lift '%s' at %.1f mm, safe height %.1f mm)",
			    lift, act->lift.position_mm, rig->safe_z_mm);
		else
			snprintf(buf, size, "withdrawn (lift '%s' at %.1f mm, safe height %.1f mm)",
			    lift, act->lift.position_mm, rig->safe_z_mm);
		break;
	case ACT_LIFT_LOWERED:
		snprintf(buf, size, "LOWERED, may be immersed: lift '%s' at %.1f mm, below the "
		    "safe height %.1f mm; 'lblctl park' withdraws and parks it", lift,
		    act->lift.position_mm, rig->safe_z_mm);
		break;
	case ACT_LIFT_UNKNOWN:
		if (isnan(act->lift.position_mm))
			snprintf(buf, size, "UNKNOWN: lift '%s' has not been read; 'lblctl park' "
			    "withdraws and parks it", lift);
		else
			snprintf(buf, size, "UNKNOWN: lift '%s' stopped while moving (last read "
			    "%.1f mm, safe height %.1f mm); 'lblctl park' withdraws and parks it",
			    lift, act->lift.position_mm, rig->safe_z_mm);
		break;
	}
}

/* A safety input changed: the safe state comes first, then the executor hears. */
static void
act_on_input(void *arg, int device, int active)
{
	struct act *act = arg;
	const struct rig_device *dev = &act->rig->devices[device];

	if (!act_is_safety(dev))
		return;
	if (active) {
		act_safe_state(act, 0);
		log_warnx("%s '%s' %s: outputs off, motion stopped", dev->kind, dev->name,
		    active == -1 ? "cannot be read" : "engaged");
	} else {
		log_info("%s '%s' released", dev->kind, dev->name);
	}
	if (act->input != NULL)
		act->input(act->arg, device, active);
}

struct act *
act_open(struct loop *loop, const struct rig *rig, struct hw *hw, act_done_cb done,
    act_input_cb input, void *arg)
{
	struct act *act = calloc(1, sizeof(*act));

	if (act == NULL)
		return NULL;
	act->loop = loop;
	act->rig = rig;
	act->hw = hw;
	act->done = done;
	act->input = input;
	act->arg = arg;
	act->time_scale = 1;
	act->lift.position_mm = NAN;
	act->transfer_mm = NAN;
	act->safe_ok = -1;
	if ((act->poll_timer = loop_timer_new(loop, act_on_poll, act)) == NULL) {
		free(act);
		return NULL;
	}
	if ((act->safe_timer = loop_timer_new(loop, act_on_safe_deadline, act)) == NULL) {
		loop_timer_free(act->poll_timer);
		free(act);
		return NULL;
	}
	if ((act->then_timer = loop_timer_new(loop, act_on_then_timer, act)) == NULL) {
		loop_timer_free(act->poll_timer);
		loop_timer_free(act->safe_timer);
		free(act);
		return NULL;
	}
	hw_set_input_cb(hw, act_on_input, act);
	/* remote safety inputs are polled for good: they guard the rig even when idle */
	hw_poll_inputs(hw, 1, ACT_INPUT_POLL_MS);
	return act;
}

void
act_set_time_scale(struct act *act, double time_scale)
{
	act->time_scale = time_scale >= 1 ? time_scale : 1;
}

void
act_close(struct act *act)
{
	if (act == NULL)
		return;
	hw_set_input_cb(act->hw, NULL, NULL);
	hw_poll_inputs(act->hw, 0, 0);
	loop_timer_free(act->poll_timer);
	loop_timer_free(act->safe_timer);
	loop_timer_free(act->then_timer);
	act_then_forget(act);
	free(act);
}
