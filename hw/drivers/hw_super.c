/*
 * Supervision while a batch runs (hw.h: hw_supervise()): each device in use
 * is polled at its own period, at the bus queue's lowest priority, and what
 * it reads is held against what lbld last commanded it (hw.c keeps that in
 * hw->cmd). Everything here runs in the loop thread and does bounded work:
 * one timer, at most one poll per device in flight.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hw_private.h"
#include "lbl_limits.h"
#include "log.h"

/* Default periods by role, ms (hw.h says which; lbl-rig(5) documents them). */
#define HW_POLL_PUMP_MS		250
#define HW_POLL_AXIS_MS		500
#define HW_POLL_VALVE_MS	500
#define HW_POLL_SENSOR_MS	1000
/*
 * A device's polls take at most 1/HW_POLL_SHARE of its bus by default: with
 * a dozen devices on one RS-485 line, polling still leaves the bus mostly
 * free for timed commands.
 */
#define HW_POLL_SHARE		20
/* A Modbus TCP transaction's time by default when nothing better is known, ms. */
#define HW_POLL_TCP_READ_MS	1
/*
 * A device's flags are judged only in polls queued this long after its
 * last command ended: a real pump or valve module may report its new
 * state a few scan cycles after acknowledging the command.
 */
#define HW_SUP_SETTLE_MS	100

static const struct profile *
hw_sup_profile(const struct hw *hw, int device)
{
	return profile_of(hw->profiles, device);
}

static int
hw_sup_has(const struct profile *p, enum profile_op op)
{
	return p != NULL && p->ops[op].defined;
}

/* The transactions a poll of the device takes (hw_bus.c's status read), 0: nothing to read. */
static int
hw_sup_reads(const struct hw *hw, int device)
{
	const struct profile *p = hw_sup_profile(hw, device);

	if (p == NULL || hw->rig->devices[device].role == RIG_INPUT)
		return 0;
	return hw_status_transactions(p);
}

/*
 * One read's time on the bus, ms, by default: on RTU the wire time of an
 * 8-byte request and a reply of up to 13 bytes (four registers: a status
 * read joined into one, see hw_status_transactions()) at the bus's baud rate and
 * framing, each frame followed by 3.5 characters of silence, and the rig's
 * frame_delay; on TCP a small constant.
 */
static double
hw_sup_read_ms(const struct rig_bus *cfg)
{
	double bits;

	if (cfg->type != RIG_BUS_RTU || cfg->baud <= 0)
		return HW_POLL_TCP_READ_MS;
	bits = 1 + cfg->data_bits + (cfg->parity == 'N' ? 0 : 1) + cfg->stop_bits;
	return (21 + 2 * 3.5) * bits * 1000.0 / cfg->baud + (double)cfg->frame_delay_ms;
}

int64_t
hw_poll_period_ms(const struct hw *hw, int device)
{
	const struct rig_device *dev;
	int64_t ms, reads, floor_ms;

	if (device < 0 || (size_t)device >= hw->rig->device_count)
		return 0;
	dev = &hw->rig->devices[device];
	if (dev->bus < 0 || dev->role == RIG_INPUT || (reads = hw_sup_reads(hw, device)) == 0)
		return 0;
	if (dev->poll_period_ms > 0)
		return dev->poll_period_ms;
	switch (dev->role) {
	case RIG_PUMP: case RIG_LINE: ms = HW_POLL_PUMP_MS; break;
	case RIG_AXIS: ms = HW_POLL_AXIS_MS; break;
	case RIG_VALVE: ms = HW_POLL_VALVE_MS; break;
	default: ms = HW_POLL_SENSOR_MS; break;
	}
	floor_ms = (int64_t)ceil(reads * hw_sup_read_ms(&hw->rig->buses[dev->bus]) *
	    HW_POLL_SHARE);
	return ms > floor_ms ? ms : floor_ms;
}

int64_t
hw_supervise_budget_ms(const struct hw *hw, int device)
{
	int64_t period = hw_poll_period_ms(hw, device);

	return period == 0 ? 0 : period + hw_transaction_ms(hw, device);
}

static void
hw_sup_report(struct hw *hw, int device, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A device's fault, once: no more polls of it until supervision starts again. */
static void
hw_sup_report(struct hw *hw, int device, const char *fmt, ...)
{
	char error[400];
	va_list ap;

	hw->sup[device].reported = 1;
	va_start(ap, fmt);
	vsnprintf(error, sizeof(error), fmt, ap);
	va_end(ap);
	if (hw->sup_cb != NULL)
		hw->sup_cb(hw->sup_arg, device, error);
	else
		log_device_warnx(hw->rig->devices[device].name, "supervision: %s", error);
}

/* "device 'p' (bus b, unit u): read input 0x0002 (running)": where op was read. */
static void
hw_sup_where(const struct hw *hw, int device, enum profile_op op, char *buf, size_t size)
{
	const struct rig_device *dev = &hw->rig->devices[device];
	const struct profile_object *o = &hw_sup_profile(hw, device)->ops[op];

	snprintf(buf, size, "device '%s' (bus %s, unit %d): read %s 0x%04x (%s)", dev->name,
	    hw->rig->buses[dev->bus].name, dev->unit, profile_table_names[o->table], o->address,
	    profile_op_names[op]);
}

static void hw_sup_schedule(struct hw *hw);

/* The axis's distance from where it should be, mm, or 0 when its position is not read. */
static double
hw_sup_off_mm(const struct hw_result *res, double where_mm)
{
	return isnan(res->position_mm) ? 0 : fabs(res->position_mm - where_mm);
}

/* An axis's read teaches where it is at rest (hw_private.h); never fails. */
void
hw_sup_seen(struct hw *hw, const struct hw_job *job)
{
	int device = job->req.device;
	struct hw_cmd *c = &hw->cmd[device];
	const struct hw_result *res = &job->res;
	double tol_mm;
	int arrived;

	if (hw->rig->devices[device].role != RIG_AXIS || c->pending > 0 ||
	    c->seq != job->cmd_seq || !c->known)
		return;
	tol_mm = hw_axis_tolerance_mm(hw, device);
	switch (c->axis) {
	case HW_AXIS_RESTING:
		/* where it came to rest, read once it had (see hw_cmd) */
		if (!c->rest_known && res->busy != 1 && !isnan(res->position_mm)) {
			c->rest_mm = res->position_mm;
			c->rest_known = 1;
		}
		return;
	case HW_AXIS_MOVING:
		/* at its target by position: it rests there */
		if (res->busy != 1 && res->alarm != 1 && res->in_position != 0 &&
		    !isnan(res->position_mm) && fabs(res->position_mm - c->target_mm) <= tol_mm) {
			c->axis = HW_AXIS_RESTING;
			c->rest_mm = c->target_mm;
			c->rest_known = 1;
			return;
		}
		/* or by the drive's own flag, once it has had time to drop the last move's */
		arrived = res->busy != 1 && res->alarm != 1 && res->in_position == 1 &&
		    job->queued_ns >= c->ended_ns + HW_SUP_SETTLE_MS * 1000000;
		break;
	case HW_AXIS_STOPPING:
		/* without a busy flag, a stopping drive's end cannot be told */
		arrived = res->busy == 0 && res->alarm != 1 &&
		    job->queued_ns >= c->ended_ns + HW_SUP_SETTLE_MS * 1000000;
		break;
	default:
		return;
	}
	if (!arrived)
		return;
	/* where: read by the next read, whose position is from after the flag */
	c->axis = HW_AXIS_RESTING;
	c->rest_known = 0;
}

/*
 * An axis's poll (settled, not stale): resting, it must read not busy and
 * within its tolerance of where it came to rest; moving, a drive that
 * reads not busy, not in position and away from its target has stopped
 * short. Returns 1 when it reported a fault.
 */
static int
hw_sup_axis(struct hw *hw, int device, const struct hw_result *res)
{
	const struct hw_cmd *c = &hw->cmd[device];
	const struct profile *p = hw_sup_profile(hw, device);
	double tol_mm = hw_axis_tolerance_mm(hw, device);
	char where[200];

	switch (c->axis) {
	case HW_AXIS_RESTING:
		if (res->busy == 1) {
			hw_sup_where(hw, device, PROFILE_BUSY, where, sizeof(where));
			hw_sup_report(hw, device, "%s: busy, while it should stand still at %.3f mm",
			    where, c->rest_mm);
			return 1;
		}
		if (c->rest_known && hw_sup_off_mm(res, c->rest_mm) > tol_mm) {
			hw_sup_where(hw, device, PROFILE_POSITION, where, sizeof(where));
			hw_sup_report(hw, device, "%s: at %.3f mm, while it should stand still at "
			    "%.3f mm (moved %.3f mm, tolerance %g mm)", where, res->position_mm,
			    c->rest_mm, res->position_mm - c->rest_mm, tol_mm);
			return 1;
		}
		return 0;
	case HW_AXIS_MOVING:
		if (!hw_sup_has(p, PROFILE_BUSY) || res->busy != 0 || res->in_position == 1 ||
		    isnan(res->position_mm) || hw_sup_off_mm(res, c->target_mm) <= tol_mm) {
			hw->sup[device].short_seen = 0;
			return 0;
		}
		/* no flag read with busy: the same place twice in a row, so not an arrival between */
		if (!hw_sup_has(p, PROFILE_IN_POSITION) && (!hw->sup[device].short_seen ||
		    hw_sup_off_mm(res, hw->sup[device].short_mm) > tol_mm)) {
			hw->sup[device].short_seen = 1;
			hw->sup[device].short_mm = res->position_mm;
			return 0;
		}
		hw_sup_where(hw, device, PROFILE_BUSY, where, sizeof(where));
		hw_sup_report(hw, device, "%s: not busy, at %.3f mm, while commanded to move to "
		    "%.3f mm (stopped %.3f mm short)", where, res->position_mm, c->target_mm,
		    fabs(res->position_mm - c->target_mm));
		return 1;
	default:
		return 0;
	}
}

/*
 * A running pump's volume or line's length counter (settled, not stale
 * poll): held against the last reading of the same command; once lbld's
 * rate should have moved it HW_SUP_COUNT_STEPS steps, a counter that has
 * not moved is a fault (a pump that says it runs but dispenses nothing).
 * A counter that went back (a wrap, or the device's own reset) starts
 * afresh. Returns 1 when it reported a fault.
 */
static int
hw_sup_counter(struct hw *hw, int device, const struct hw_result *res)
{
	struct hw_sup *s = &hw->sup[device];
	const struct hw_cmd *c = &hw->cmd[device];
	const struct rig_device *dev = &hw->rig->devices[device];
	enum profile_op op = dev->role == RIG_PUMP ? PROFILE_VOLUME : PROFILE_LENGTH;
	const struct profile *p = hw_sup_profile(hw, device);
	int64_t now = loop_now_ns();
	double step, expected, moved, wrap = INFINITY;
	char where[200];
	int pump = dev->role == RIG_PUMP;

	if (!c->running || !hw_sup_has(p, op) || !isfinite(res->value) ||
	    (pump && profile_rate_op(dev) != PROFILE_FLOW))
		return 0;
	if (s->count_at_ns == 0 || s->count_seq != c->seq) {
		s->count = res->value;
		s->count_at_ns = now;
		s->count_seq = c->seq;
		return 0;
	}
	/* mL/min over ms for a pump, mm/s over ms for a line */
	expected = c->rate * (double)(now - s->count_at_ns) / 1e6 / (pump ? 60000.0 : 1000.0);
	step = fabs(p->ops[op].scale) > 0 ? fabs(p->ops[op].scale) : 1;
	if (expected < HW_SUP_COUNT_STEPS * step)
		return 0;	/* too soon to tell: held against the same reading later */
	moved = res->value - s->count;
	if (moved < 0 && pump && hw_volume_counter(hw, device, &wrap) == 1 && isfinite(wrap))
		moved += wrap;
	if (moved > step / 2 || moved < 0) {
		s->count = res->value;
		s->count_at_ns = now;
		return 0;
	}
	hw_sup_where(hw, device, op, where, sizeof(where));
	hw_sup_report(hw, device, "%s: stands at %g %s for %lld ms, while running at %g %s "
	    "(%.3g %s expected)", where, res->value, pump ? "mL" : "mm",
	    (long long)((now - s->count_at_ns) / 1000000), c->rate, pump ? "mL/min" : "mm/s",
	    expected, pump ? "mL" : "mm");
	return 1;
}

/*
 * A poll's answer: held against what was commanded (hw.h says what is a
 * fault). A poll that overlapped a command to its device, or one from
 * before supervision last started, is not judged.
 */
static void
hw_sup_done(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct hw *hw = arg;
	int device = req->device;
	struct hw_sup *s = &hw->sup[device];
	const struct hw_cmd *c = &hw->cmd[device];
	const struct rig_device *dev = &hw->rig->devices[device];
	const struct profile *p = hw_sup_profile(hw, device);
	int attempts = 1 + (hw->rig->buses[dev->bus].retries > 0 ?
	    hw->rig->buses[dev->bus].retries : 0);
	int stale = c->pending > 0 || c->seq != s->in_flight_seq;
	char where[200], why[200];

	if (req->tag != hw->sup_gen || !s->in_flight)
		return;		/* a poll of an earlier supervision */
	s->in_flight = 0;
	if (!hw->sup_on || !s->in_use || s->reported)
		return;
	if (!res->ok) {
		if (++s->fails < attempts) {
			s->next_ns = loop_now_ns();	/* again at once: the next attempt */
			hw_sup_schedule(hw);
			return;
		}
		hw_sup_report(hw, device, "device '%s' not answering: %d polls in a row failed, "
		    "the last: %s", dev->name, s->fails, res->error);
		return;
	}
	s->fails = 0;
	if (res->alarm == 1) {
		hw_sup_where(hw, device, PROFILE_ALARM, where, sizeof(where));
		hw_sup_report(hw, device, "%s: alarm raised", where);
		return;
	}
	if (stale || !c->known) {
		if (stale)
			s->next_ns = loop_now_ns();	/* judged by the next poll, at once */
		hw_sup_schedule(hw);
		return;
	}
	if (s->in_flight_ns < c->ended_ns + HW_SUP_SETTLE_MS * 1000000) {
		/* too soon after the command: judged by a poll once it has settled */
		if (s->next_ns > c->ended_ns + HW_SUP_SETTLE_MS * 1000000)
			s->next_ns = c->ended_ns + HW_SUP_SETTLE_MS * 1000000;
		hw_sup_schedule(hw);
		return;
	}
	switch (dev->role) {
	case RIG_AXIS:
		if (hw_sup_axis(hw, device, res))
			return;
		break;
	case RIG_PUMP:
	case RIG_LINE:
		if (res->running == -1 || res->running == c->running) {
			if (hw_sup_counter(hw, device, res))
				return;
			break;
		}
		hw_sup_where(hw, device, PROFILE_RUNNING, where, sizeof(where));
		if (c->running)
			hw_sup_report(hw, device, "%s: stopped, while commanded to run at %g %s",
			    where, c->rate, dev->role == RIG_LINE ? "mm/s" :
			    profile_rate_op(dev) == PROFILE_FLOW ? "mL/min" : "rpm");
		else
			hw_sup_report(hw, device, "%s: running, while commanded to stop", where);
		return;
	case RIG_VALVE:
		if (!hw_sup_has(p, PROFILE_STATE) || (res->value != 0) == c->on)
			break;
		hw_sup_where(hw, device, PROFILE_STATE, where, sizeof(where));
		hw_sup_report(hw, device, "%s: %s, while commanded %s", where,
		    res->value != 0 ? "open" : "closed", c->on ? "open" : "closed");
		return;
	case RIG_SENSOR:
		if (!hw_sup_has(p, PROFILE_VALUE) ||
		    profile_check_reading(p, dev, res->value, why, sizeof(why)) == 0)
			break;
		hw_sup_where(hw, device, PROFILE_VALUE, where, sizeof(where));
		hw_sup_report(hw, device, "%s: %s", where, why);
		return;
	default:
		break;
	}
	hw_sup_schedule(hw);
}

/*
 * When a poll of device still queued (sent at in_flight_ns) counts as
 * starved: after four periods and the device's fault budget, whichever is
 * later (hw_sup_starved()).
 */
static int64_t
hw_sup_starved_at(const struct hw *hw, int device)
{
	const struct hw_sup *s = &hw->sup[device];
	int64_t wait_ns = hw_supervise_budget_ms(hw, device) * 1000000;

	if (wait_ns < 4 * s->period_ns)
		wait_ns = 4 * s->period_ns;
	return s->in_flight_ns + wait_ns;
}

/*
 * A poll still queued long after it was due (the executor's deadlines
 * leave its bus no room for one, or the bus is saturated): the device is
 * not supervised meanwhile, and the log says so once per supervision.
 */
static void
hw_sup_starved(struct hw *hw, int device, int64_t now)
{
	struct hw_sup *s = &hw->sup[device];
	const struct rig_bus *cfg = &hw->rig->buses[hw->rig->devices[device].bus];
	int64_t waited_ms = (now - s->in_flight_ns) / 1000000;

	if (s->starved || now < hw_sup_starved_at(hw, device))
		return;
	s->starved = 1;
	log_device_warnx(hw->rig->devices[device].name, "supervision: a poll of device '%s' has "
	    "waited %lld ms for bus %s (each needs %lld ms clear of the executor's next "
	    "deadline): it is not supervised while steps follow this closely",
	    hw->rig->devices[device].name, (long long)waited_ms, cfg->name,
	    (long long)(hw_bus_poll_ms(cfg, 1) + HW_POLL_MARGIN_MS));
}

/* The op that reads everything a device of the role reports. */
static enum hw_op
hw_sup_op(enum rig_role role)
{
	return role == RIG_AXIS ? HW_STATUS : HW_PROBE;
}

/* Polls every device that is due, each at most one poll in flight; bounded work. */
static void
hw_sup_on_timer(void *arg)
{
	struct hw *hw = arg;
	int64_t now = loop_now_ns();
	size_t i;
	char err[256];

	for (i = 0; i < hw->rig->device_count; i++) {
		struct hw_sup *s = &hw->sup[i];
		struct hw_request req = { (int)i, HW_PROBE, 0, 0, 0, 0 };

		if (!s->in_use || s->reported || s->next_ns > now)
			continue;
		/* a poll dropped by a safe state never answers: do not wait for it */
		if (s->in_flight && s->in_flight_epoch == hw->epoch) {
			hw_sup_starved(hw, (int)i, now);
			continue;
		}
		s->next_ns = now + s->period_ns;
		req.op = hw_sup_op(hw->rig->devices[i].role);
		req.tag = hw->sup_gen;
		if (hw_submit_prio(hw, &req, HW_PRIO_POLL, hw_sup_done, hw, err,
		    sizeof(err)) == -1) {
			hw_sup_report(hw, (int)i, "cannot be polled: %s", err);
			continue;
		}
		s->in_flight = 1;
		s->in_flight_epoch = hw->epoch;
		s->in_flight_seq = hw->cmd[i].seq;
		s->in_flight_ns = now;
	}
	hw_sup_schedule(hw);
}

static void
hw_sup_schedule(struct hw *hw)
{
	int64_t next = INT64_MAX;
	size_t i;

	if (!hw->sup_on) {
		loop_timer_cancel(hw->sup_timer);
		return;
	}
	for (i = 0; i < hw->rig->device_count; i++) {
		const struct hw_sup *s = &hw->sup[i];
		int64_t at = s->next_ns;

		if (!s->in_use || s->reported)
			continue;
		/*
		 * A device whose poll is still queued (held clear of the
		 * executor's deadlines: hw_bus_take_locked()) is polled again
		 * only after its answer, which schedules it: the timer waits for
		 * the moment that poll counts as starved, not for its period,
		 * which has passed and would fire the timer at once, again and
		 * again, until the bus took the poll (the loop spun).
		 */
		if (s->in_flight && s->in_flight_epoch == hw->epoch) {
			if (s->starved)
				continue;
			if (at < hw_sup_starved_at(hw, (int)i))
				at = hw_sup_starved_at(hw, (int)i);
		}
		if (at < next)
			next = at;
	}
	if (next == INT64_MAX)
		loop_timer_cancel(hw->sup_timer);
	else if (loop_timer_at(hw->sup_timer, next) == -1)
		log_warnx("hw: cannot arm the supervision timer; devices are not polled");
}

void
hw_sup_reschedule(struct hw *hw)
{
	if (hw->sup_timer != NULL)	/* lbl-safe's outputs alone supervise nothing */
		hw_sup_schedule(hw);
}

/* What polling cost each bus over the supervision that just ended, one line per bus. */
static void
hw_sup_log_usage(const struct hw *hw)
{
	struct hw_bus_usage u;
	size_t b;

	for (b = 0; b < hw->bus_count; b++) {
		if (hw_bus_usage(hw, b, &u) == -1 || u.seconds <= 0)
			continue;
		log_info("supervision: bus %s: %lu polls in %.1f s (%.1f/s), busy %.2f%% of the "
		    "time with polls, %.2f%% in all", u.name, u.polls, u.seconds,
		    u.polls / u.seconds, 100 * u.poll_busy_s / u.seconds, 100 * u.busy_s / u.seconds);
	}
}

/* Marks the usage window's start (on) or end (off) with the buses' counters. */
static void
hw_sup_usage_mark(struct hw *hw, int on)
{
	size_t b;

	if (!on) {
		if (hw->usage_since_ns != 0 && hw->usage_until_ns == 0) {
			hw->usage_until_ns = loop_now_ns();
			hw_sup_log_usage(hw);
		}
		return;
	}
	hw->usage_since_ns = loop_now_ns();
	hw->usage_until_ns = 0;
	for (b = 0; b < hw->bus_count; b++) {
		struct hw_bus *bus = &hw->buses[b];

		pthread_mutex_lock(&bus->lock);
		hw->usage_polls[b] = bus->polls;
		hw->usage_poll_ns[b] = bus->poll_ns;
		hw->usage_busy_ns[b] = bus->busy_ns;
		pthread_mutex_unlock(&bus->lock);
	}
}

/*
 * One log line: which devices are polled, how often, and the budget of a
 * fault's report (hw_supervise_budget_ms()). A long list is cut with
 * "..." (the log line, not the supervision: every device is polled).
 */
static void
hw_sup_log(const struct hw *hw)
{
	char line[1024];
	size_t i, len = 0;
	int n;

	line[0] = '\0';
	for (i = 0; i < hw->rig->device_count; i++) {
		if (!hw->sup[i].in_use)
			continue;
		n = snprintf(line + len, sizeof(line) - len, "%s%s every %lld ms (a fault within "
		    "%lld ms)", len > 0 ? ", " : "", hw->rig->devices[i].name,
		    (long long)hw_poll_period_ms(hw, (int)i),
		    (long long)hw_supervise_budget_ms(hw, (int)i));
		if (n < 0 || (size_t)n >= sizeof(line) - len - 4) {
			snprintf(line + len, sizeof(line) - len, ", ...");
			break;
		}
		len += (size_t)n;
	}
	log_info("supervision: %s", line);
}

int
hw_supervise(struct hw *hw, const unsigned char *in_use)
{
	int64_t now = loop_now_ns();
	size_t i;
	int count = 0;

	if (hw->sup_timer == NULL)
		return 0;
	for (i = 0; i < hw->rig->device_count; i++) {
		struct hw_sup *s = &hw->sup[i];

		s->in_use = in_use != NULL && in_use[i] && hw_poll_period_ms(hw, (int)i) > 0;
		s->period_ns = hw_poll_period_ms(hw, (int)i) * 1000000;
		/* the first poll after one period: the batch's first commands go first */
		s->next_ns = now + s->period_ns;
		s->fails = 0;
		s->reported = 0;
		s->starved = 0;
		s->count_at_ns = 0;
		s->short_seen = 0;
		/* a poll still out belongs to the supervision before: its answer is ignored */
		s->in_flight = 0;
		s->in_flight_epoch = 0;
		count += s->in_use;
	}
	if (count > 0)
		hw_sup_log(hw);
	if (count > 0 && !hw->sup_on)
		hw_sup_usage_mark(hw, 1);
	else if (count == 0 && hw->sup_on)
		hw_sup_usage_mark(hw, 0);
	hw->sup_on = count > 0;
	/* a poll answered after this is told apart by its tag */
	hw->sup_gen++;
	hw_sup_schedule(hw);
	return count;
}

void
hw_set_supervise_cb(struct hw *hw, hw_supervise_cb cb, void *arg)
{
	hw->sup_cb = cb;
	hw->sup_arg = arg;
}

void
hw_set_next_deadline(struct hw *hw, int64_t deadline_ns)
{
	size_t b;

	for (b = 0; b < hw->bus_count; b++) {
		struct hw_bus *bus = &hw->buses[b];

		pthread_mutex_lock(&bus->lock);
		if (bus->next_deadline_ns != deadline_ns) {
			bus->next_deadline_ns = deadline_ns;
			/* a worker holding polls for the old deadline looks again */
			pthread_cond_signal(&bus->wake);
		}
		pthread_mutex_unlock(&bus->lock);
	}
}

size_t
hw_bus_count(const struct hw *hw)
{
	return hw->bus_count;
}

int
hw_bus_usage(const struct hw *hw, size_t b, struct hw_bus_usage *u)
{
	struct hw_bus *bus;
	int64_t until;

	if (b >= hw->bus_count)
		return -1;
	bus = &hw->buses[b];
	memset(u, 0, sizeof(*u));
	u->name = hw->rig->buses[b].name;
	if (hw->usage_since_ns == 0)
		return 0;
	until = hw->usage_until_ns != 0 ? hw->usage_until_ns : loop_now_ns();
	u->seconds = (until - hw->usage_since_ns) / 1e9;
	pthread_mutex_lock(&bus->lock);
	u->polls = bus->polls - hw->usage_polls[b];
	u->poll_busy_s = (bus->poll_ns - hw->usage_poll_ns[b]) / 1e9;
	u->busy_s = (bus->busy_ns - hw->usage_busy_ns[b]) / 1e9;
	pthread_mutex_unlock(&bus->lock);
	return 0;
}

int
hw_sup_open(struct hw *hw, char *err, size_t err_size)
{
	if ((hw->sup_timer = loop_timer_new(hw->loop, hw_sup_on_timer, hw)) == NULL) {
		snprintf(err, err_size, "cannot create the supervision timer");
		return -1;
	}
	return 0;
}

void
hw_sup_close(struct hw *hw)
{
	if (hw->sup_timer != NULL)
		loop_timer_free(hw->sup_timer);
	hw->sup_timer = NULL;
}
