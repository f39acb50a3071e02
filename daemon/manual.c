/*
 * Manual control through lbld. See manual.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw.h"
#include "lbl_limits.h"
#include "lbld.h"
#include "log.h"
#include "manual.h"
#include "record.h"
#include "text.h"
#include "units.h"

#define MANUAL_MAX_MOVES	3	/* goto: up to the safe height, across, down */

/* Where an output switched on by hand is. */
enum manual_out_phase {
	OUT_OFF,
	OUT_COUNT_BEFORE,	/* reading the pump's volume counter before it starts */
	OUT_STARTING,		/* the on command is on its way */
	OUT_ON,			/* on, its client held until it goes off */
	OUT_STOPPING,		/* the off command is on its way */
	OUT_COUNT_AFTER,	/* reading the counter after it stopped */
};

struct manual_out {
	enum manual_out_phase phase;
	struct control_client *owner;	/* the client that switched it on; NULL once gone */
	unsigned tag;			/* replies to an earlier use are stale */
	double value;			/* flow mL/min, rpm, speed mm/s, or 1 for a valve */
	int64_t on_ns, off_ns;		/* when it went on and when it goes off */
	int64_t plan_ms;		/* how long it was meant to run, rig time */
	int counter;			/* a pump whose volume counter is read */
	double count_before_ml, wrap_ml;
	double target_ml;		/* prime, fill, drain: stop when counted, 0 for set */
	int64_t poll_ns, poll_period_ns;	/* the counter's next read while it runs */
	int probing;			/* a read of the counter is on its way */
	char what[24];			/* "prime", "fill", "drain", "set" */
	char why_off[700];		/* why it went off, for the client and the record */
	int failed;			/* went off on an error (the client's status 1) */
};

struct manual_move {
	int axis;
	double position_mm, speed_mm_s;
};

struct manual {
	struct lbld *l;
	struct manual_out *out;		/* one per rig device */
	size_t count;
	struct loop_timer *timer;	/* the earliest output's off time */
	/* the move under way */
	struct control_client *mc;	/* its client; NULL once gone */
	int moving;			/* moves under way (mc may have gone) */
	int act_pending;		/* act's done belongs to manual */
	struct manual_move moves[MANUAL_MAX_MOVES];
	int move_count, move_next;
	int jog_axis;			/* a jog waiting for its axis's position, -1 none */
	double jog_mm, jog_speed_mm_s;
	unsigned jog_tag;
	char jog_who[96];		/* the operator of the jog, for its record once it goes */
	int resuming;			/* the lift goes up for 'lblctl resume' */
	int moved_in_pause;		/* manual motion since the batch paused */
	char resume_by[BATCH_MAX_OPERATOR_BYTES + 64];	/* who resumes ("": the client) */
	char move_text[200];		/* "move lift to 40.00 mm", for answers */
	/* the reset under way: its client (NULL once gone) and device, -1 none */
	struct control_client *rc;
	int reset_device;
	unsigned reset_tag;
};

static void manual_arm_timer(struct manual *m);

static const char *const manual_commands[] = { "move", "jog", "goto", "stop", "set", "prime",
	"fill", "drain", "reset", NULL };

int
manual_is_command(const char *cmd)
{
	size_t i;

	for (i = 0; manual_commands[i] != NULL; i++)
		if (strcmp(cmd, manual_commands[i]) == 0)
			return 1;
	return 0;
}

/* The operator's name for the record, looked up at accept (control_peer_who()). */
static void
manual_who(struct control_client *c, char *who, size_t size)
{
	snprintf(who, size, "%s", control_peer_who(c));
}

/*
 * Records a manual action as an operator event, on the paused batch if
 * there is one. Returns 0, or -1 when the record refused it (logged).
 */
static int
manual_event(struct manual *m, int device, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
manual_event(struct manual *m, int device, const char *fmt, ...)
{
	char message[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	log_info("%s", message);
	if (record_event(m->l->record, run_batch_id(m->l->run), "operator",
	    device >= 0 ? m->l->rig->devices[device].name : NULL, message) == -1) {
		log_warnx("the manual action was not recorded: %s", message);
		return -1;
	}
	return 0;
}

static void
manual_on_timer(void *arg)
{
	manual_arm_timer(arg);
}

struct manual *
manual_new(struct lbld *l)
{
	struct manual *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->l = l;
	m->jog_axis = -1;
	m->reset_device = -1;
	m->count = l->rig->device_count;
	m->out = calloc(m->count + 1, sizeof(*m->out));
	if (m->out == NULL || (m->timer = loop_timer_new(l->loop, manual_on_timer, m)) == NULL) {
		free(m->out);
		free(m);
		return NULL;
	}
	return m;
}

void
manual_free(struct manual *m)
{
	if (m == NULL)
		return;
	loop_timer_free(m->timer);
	free(m->out);
	free(m);
}

int
manual_set_rig(struct manual *m)
{
	struct manual_out *out = calloc(m->l->rig->device_count + 1, sizeof(*out));

	if (out == NULL)
		return -1;
	free(m->out);
	m->out = out;
	m->count = m->l->rig->device_count;
	m->moved_in_pause = 0;
	return 0;
}

/* ---- limits (pure) ---- */

int
manual_check_move(const struct rig *rig, int axis, double position_mm, double speed_mm_s,
    char *why, size_t why_size)
{
	const struct rig_device *dev;

	if (axis < 0 || (size_t)axis >= rig->device_count || rig->devices[axis].role != RIG_AXIS) {
		snprintf(why, why_size, "not an axis of rig %s", rig->name);
		return -1;
	}
	dev = &rig->devices[axis];
	if (!isfinite(position_mm) || position_mm < dev->travel_min_mm) {
		snprintf(why, why_size, "%.2f mm is beyond axis '%s''s travel: travel_min is "
		    "%.2f mm in rig %s", position_mm, dev->name, dev->travel_min_mm, rig->name);
		return -1;
	}
	if (position_mm > dev->travel_max_mm) {
		snprintf(why, why_size, "%.2f mm is beyond axis '%s''s travel: travel_max is "
		    "%.2f mm in rig %s", position_mm, dev->name, dev->travel_max_mm, rig->name);
		return -1;
	}
	if (!isfinite(speed_mm_s) || speed_mm_s < 0 || speed_mm_s > dev->max_speed_mm_s) {
		snprintf(why, why_size, "speed %.2f mm/s is beyond axis '%s''s max_speed, %.2f mm/s "
		    "in rig %s", speed_mm_s, dev->name, dev->max_speed_mm_s, rig->name);
		return -1;
	}
	return 0;
}

int
manual_check_output(const struct rig *rig, int device, double value, char *why,
    size_t why_size)
{
	const struct rig_device *dev;

	if (device < 0 || (size_t)device >= rig->device_count) {
		snprintf(why, why_size, "not a device of rig %s", rig->name);
		return -1;
	}
	dev = &rig->devices[device];
	if (!isfinite(value) || value < 0) {
		snprintf(why, why_size, "'%s': expected a value of 0 or more", dev->name);
		return -1;
	}
	switch (dev->role) {
	case RIG_VALVE:
		if (value != 0 && value != 1) {
			snprintf(why, why_size, "valve '%s' is on or off", dev->name);
			return -1;
		}
		return 0;
	case RIG_PUMP:
		if (rig_pump_is_stirrer(dev)) {
			if (value > dev->max_rpm) {
				snprintf(why, why_size, "%.0f rpm is beyond stirrer '%s''s max_rpm, "
				    "%.0f rpm in rig %s", value, dev->name, dev->max_rpm, rig->name);
				return -1;
			}
		} else if (value > dev->max_flow_ml_min) {
			snprintf(why, why_size, "%.2f mL/min is beyond pump '%s''s max_flow, %.2f "
			    "mL/min in rig %s", value, dev->name, dev->max_flow_ml_min, rig->name);
			return -1;
		}
		return 0;
	case RIG_LINE:
		if (value > dev->max_line_speed_mm_s) {
			snprintf(why, why_size, "%.2f mm/s is beyond line '%s''s max_speed, %.2f mm/s "
			    "in rig %s", value, dev->name, dev->max_line_speed_mm_s, rig->name);
			return -1;
		}
		return 0;
	default:
		snprintf(why, why_size, "'%s' is not a valve, pump, stirrer or line drive",
		    dev->name);
		return -1;
	}
}

/* ---- what holds the rig ---- */

int
manual_busy(const struct manual *m, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	if (m->moving || m->jog_axis >= 0 || m->resuming)
		len += (size_t)snprintf(buf, size, "a manual move is under way ('lblctl stop' "
		    "stops it)");
	for (i = 0; i < m->count && len < size; i++)
		if (m->out[i].phase != OUT_OFF)
			len += (size_t)snprintf(buf + len, size - len, "%smanual output '%s' is on "
			    "('lblctl set %s off')", len ? "; " : "", m->l->rig->devices[i].name,
			    m->l->rig->devices[i].name);
	return len > 0;
}

/*
 * Whether the rig's state allows manual control now: 0, or -1 with the
 * client answered. Outside a batch or while one is paused; never while
 * a batch runs, homing, the rig going to its safe state or lbld stopping.
 */
static int
manual_gate(struct manual *m, struct control_client *c, const char *cmd, int motion)
{
	struct run_status st;
	char why[200];

	run_status(m->l->run, &st);
	if (st.state == RUN_SAFE) {
		control_finish(c, 1, "%s refused: the rig is going to its safe state ('lblctl "
		    "status'); try again once it is safe", cmd);
		return -1;
	}
	if (st.state != RUN_IDLE && st.state != RUN_PAUSED) {
		control_finish(c, 1, "%s refused: batch %lld is running; manual control is for "
		    "between batches or a paused batch ('lblctl pause')", cmd,
		    (long long)st.batch_id);
		return -1;
	}
	if (home_busy(m->l->home)) {
		control_finish(c, 1, "%s refused: homing is under way ('lblctl status')", cmd);
		return -1;
	}
	if (motion && (m->moving || m->jog_axis >= 0 || m->resuming)) {
		control_finish(c, 1, "%s refused: a manual move is under way (%s); 'lblctl stop' "
		    "stops it", cmd, m->move_text);
		return -1;
	}
	if (act_safety_active(m->l->act, why, sizeof(why))) {
		control_finish(c, 1, "%s refused: %s: nothing may move or run (release it first)",
		    cmd, why);
		return -1;
	}
	return 0;
}

/* ---- motion ---- */

static void
manual_move_end(struct manual *m, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The move under way ended: its client hears how (if still there). */
static void
manual_move_end(struct manual *m, int ok, const char *fmt, ...)
{
	struct control_client *c = m->mc;
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	m->moving = 0;
	m->act_pending = 0;
	m->jog_axis = -1;
	m->mc = NULL;
	lbld_status_told(m->l);
	if (c == NULL)
		return;
	control_watch(c, NULL, NULL);
	if (ok) {
		control_out(c, "%s", text);
		control_finish(c, 0, " ");
	} else {
		control_finish(c, 1, "%s", text);
	}
}

/* The next move of the list through act, or the end. */
static void
manual_move_next(struct manual *m)
{
	const struct manual_move *mv;
	struct run_status st;
	char why[200];

	if (m->move_next >= m->move_count) {
		manual_move_end(m, 1, "%s: done", m->move_text);
		return;
	}
	mv = &m->moves[m->move_next++];
	if (act_safety_active(m->l->act, why, sizeof(why))) {
		manual_move_end(m, 0, "%s stopped: %s", m->move_text, why);
		return;
	}
	run_status(m->l->run, &st);
	if (st.state == RUN_PAUSED)
		m->moved_in_pause = 1;
	m->act_pending = 1;
	if (act_move(m->l->act, mv->axis, mv->position_mm, mv->speed_mm_s) == -1) {
		m->act_pending = 0;
		manual_move_end(m, 0, "%s refused: the axis '%s' cannot be commanded now (an "
		    "operation or safety input is in the way; see the log)", m->move_text,
		    m->l->rig->devices[mv->axis].name);
	}
}

int
manual_act_pending(const struct manual *m)
{
	return m->act_pending;
}

static void manual_resumed(struct manual *m, int ok, const char *error);

void
manual_act_done(struct manual *m, int ok, double value, const char *error)
{
	const struct manual_move *mv = &m->moves[m->move_next > 0 ? m->move_next - 1 : 0];

	m->act_pending = 0;
	if (m->resuming) {
		manual_resumed(m, ok, error);
		return;
	}
	if (!ok) {
		manual_move_end(m, 0, "%s: axis '%s': %s", m->move_text,
		    m->l->rig->devices[mv->axis].name, error ? error : "device failure");
		return;
	}
	log_info("manual: axis '%s' at %.3f mm", m->l->rig->devices[mv->axis].name, value);
	manual_move_next(m);
}

/* The client of a move went away (lblctl killed, Ctrl-C): the motion stops. */
static void
manual_move_gone(struct manual *m)
{
	m->mc = NULL;
	if (!m->moving && m->jog_axis < 0)
		return;
	manual_event(m, -1, "manual: %s stopped: the client that asked for it went away",
	    m->move_text);
	manual_abort(m, "the client went away");
	act_safe_state(m->l->act, 0);
}

static void manual_out_gone(struct manual *m, int device);

/* A client went away: whatever it held stops. */
static void
manual_client_event(void *arg, struct control_client *c, enum control_event event)
{
	struct manual *m = arg;
	size_t i;

	if (event != CONTROL_GONE)
		return;
	if (m->mc == c)
		manual_move_gone(m);
	if (m->rc == c)
		m->rc = NULL;
	for (i = 0; i < m->count; i++)
		if (m->out[i].owner == c)
			manual_out_gone(m, (int)i);
}

/* Starts the list of moves in m->moves for client c. */
static void
manual_move_start(struct manual *m, struct control_client *c)
{
	m->mc = c;
	m->moving = 1;
	m->move_next = 0;
	control_watch(c, manual_client_event, m);
	control_out(c, "%s", m->move_text);
	control_follow(c, LBLD_TAG_MANUAL);
	manual_move_next(m);
	lbld_status_told(m->l);
}

/* The axis named in argv, or -1 with the client answered. */
static int
manual_axis(struct manual *m, struct control_client *c, const char *cmd, const char *name)
{
	int d = rig_device_index(m->l->rig, name);

	if (d == -1 || m->l->rig->devices[d].role != RIG_AXIS) {
		control_finish(c, 2, "%s: '%s' is not an axis of rig %s", cmd, name,
		    m->l->rig->name);
		return -1;
	}
	return d;
}

/*
 * Parses [--speed SPEED] from argv[from..] into *speed_mm_s, 0 (the axis's
 * max_speed) unless given. Returns 0, or -1 with the client answered.
 */
static int
manual_speed_opt(struct control_client *c, const char *cmd, int argc, char **argv, int from,
    double *speed_mm_s)
{
	const char *why;

	*speed_mm_s = 0;
	if (argc == from)
		return 0;
	if (argc == from + 2 && strcmp(argv[from], "--speed") == 0) {
		if (units_parse(argv[from + 1], UNIT_SPEED_MM_S, speed_mm_s, &why) == 0 &&
		    *speed_mm_s > 0)
			return 0;
		control_finish(c, 2, "%s: --speed '%s': expected %s", cmd, argv[from + 1],
		    units_expected(UNIT_SPEED_MM_S));
		return -1;
	}
	control_finish(c, 2, "usage: %s AXIS %s [--speed SPEED]", cmd, strcmp(cmd, "jog") == 0 ?
	    "DISTANCE" : "POSITION");
	return -1;
}

/*
 * A transfer move with the lift known below the safe height is refused
 * here, naming where it is; one whose lift is unknown is read back by act
 * before it goes. Returns 0, or -1 with why.
 */
static int
manual_check_immersed(struct manual *m, int axis, char *why, size_t why_size)
{
	const struct rig *rig = m->l->rig;
	double lift_mm;

	if (axis != rig->transfer || rig->lift < 0)
		return 0;
	if (act_lift_state(m->l->act, &lift_mm) != ACT_LIFT_LOWERED)
		return 0;
	snprintf(why, why_size, "the substrate is immersed: lift '%s' at %.2f mm, below the safe "
	    "height safe_z %.2f mm in rig %s; no sideways move until it is raised ('lblctl move "
	    "%s %.0fmm')", rig->devices[rig->lift].name, lift_mm, rig->safe_z_mm, rig->name,
	    rig->devices[rig->lift].name, rig->safe_z_mm);
	return -1;
}

/* move AXIS POSITION [--speed SPEED] */
static void
manual_cmd_move(struct manual *m, struct control_client *c, const struct control_request *req,
    const char *who)
{
	double position_mm, speed_mm_s;
	const char *whyu;
	char why[400];
	int axis;

	if (req->argc < 3) {
		control_finish(c, 2, "usage: move AXIS POSITION [--speed SPEED]");
		return;
	}
	if ((axis = manual_axis(m, c, "move", req->argv[1])) == -1 ||
	    manual_speed_opt(c, "move", req->argc, req->argv, 3, &speed_mm_s) == -1)
		return;
	if (units_parse(req->argv[2], UNIT_LENGTH_MM, &position_mm, &whyu) == -1) {
		control_finish(c, 2, "move: '%s': expected %s", req->argv[2],
		    units_expected(UNIT_LENGTH_MM));
		return;
	}
	if (manual_check_move(m->l->rig, axis, position_mm, speed_mm_s, why, sizeof(why)) == -1) {
		control_finish(c, 2, "move refused: %s", why);
		return;
	}
	if (manual_gate(m, c, "move", 1) == -1)
		return;
	if (manual_check_immersed(m, axis, why, sizeof(why)) == -1) {
		control_finish(c, 1, "move refused: %s", why);
		return;
	}
	snprintf(m->move_text, sizeof(m->move_text), "move %s to %.2f mm", req->argv[1],
	    position_mm);
	if (manual_event(m, axis, "manual: %s: %s", who, m->move_text) == -1) {
		control_finish(c, 1, "move refused: the database could not record it");
		return;
	}
	m->moves[0].axis = axis;
	m->moves[0].position_mm = position_mm;
	m->moves[0].speed_mm_s = speed_mm_s;
	m->move_count = 1;
	manual_move_start(m, c);
}

/* The axis's position for a jog came back: the jog goes, or is refused. */
static void
manual_jog_status(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct manual *m = arg;
	char why[400];
	double target;

	if (req->tag != m->jog_tag || m->jog_axis != req->device)
		return;
	m->jog_axis = -1;
	if (!res->ok || isnan(res->position_mm)) {
		manual_move_end(m, 0, "jog refused: axis '%s': %s", m->l->rig->devices[req->device].name,
		    res->ok ? "no position read" : res->error);
		return;
	}
	act_note_position(m->l->act, req->device, res->position_mm);
	target = res->position_mm + m->jog_mm;
	if (manual_check_move(m->l->rig, req->device, target, m->jog_speed_mm_s, why,
	    sizeof(why)) == -1) {
		manual_move_end(m, 0, "jog refused: from %.2f mm by %+.2f mm: %s", res->position_mm,
		    m->jog_mm, why);
		return;
	}
	m->moves[0].axis = req->device;
	m->moves[0].position_mm = target;
	m->moves[0].speed_mm_s = m->jog_speed_mm_s;
	m->move_count = 1;
	m->move_next = 0;
	snprintf(m->move_text, sizeof(m->move_text), "jog %s by %+.2f mm to %.2f mm",
	    m->l->rig->devices[req->device].name, m->jog_mm, target);
	if (manual_event(m, req->device, "manual: %s: %s", m->jog_who, m->move_text) == -1) {
		manual_move_end(m, 0, "jog refused: the database could not record it");
		return;
	}
	if (m->mc != NULL)
		control_out(m->mc, "%s", m->move_text);
	manual_move_next(m);
}

/* jog AXIS DISTANCE [--speed SPEED]: reads where the axis is, then moves it by DISTANCE. */
static void
manual_cmd_jog(struct manual *m, struct control_client *c, const struct control_request *req,
    const char *who)
{
	struct hw_request status = { -1, HW_STATUS, 0, 0, 0 };
	double distance_mm, speed_mm_s;
	const char *whyu;
	char why[400], err[256];
	int axis;

	if (req->argc < 3) {
		control_finish(c, 2, "usage: jog AXIS DISTANCE [--speed SPEED]");
		return;
	}
	if ((axis = manual_axis(m, c, "jog", req->argv[1])) == -1 ||
	    manual_speed_opt(c, "jog", req->argc, req->argv, 3, &speed_mm_s) == -1)
		return;
	if (units_parse(req->argv[2], UNIT_LENGTH_MM, &distance_mm, &whyu) == -1 ||
	    distance_mm == 0) {
		control_finish(c, 2, "jog: '%s': expected %s, not zero (negative is towards "
		    "travel_min)", req->argv[2], units_expected(UNIT_LENGTH_MM));
		return;
	}
	if (manual_gate(m, c, "jog", 1) == -1)
		return;
	if (manual_check_immersed(m, axis, why, sizeof(why)) == -1) {
		control_finish(c, 1, "jog refused: %s", why);
		return;
	}
	snprintf(m->move_text, sizeof(m->move_text), "jog %s by %+.2f mm", req->argv[1],
	    distance_mm);
	status.device = axis;
	status.tag = ++m->jog_tag;
	if (hw_submit(m->l->hw, &status, manual_jog_status, m, err, sizeof(err)) == -1) {
		control_finish(c, 1, "jog refused: axis '%s': %s", req->argv[1], err);
		return;
	}
	snprintf(m->jog_who, sizeof(m->jog_who), "%s", who);
	m->jog_axis = axis;
	m->jog_mm = distance_mm;
	m->jog_speed_mm_s = speed_mm_s;
	m->mc = c;
	control_watch(c, manual_client_event, m);
	control_follow(c, LBLD_TAG_MANUAL);
}

/* goto STATION [--immerse]: up to the safe height, across, and down into the bath if asked. */
static void
manual_cmd_goto(struct manual *m, struct control_client *c, const struct control_request *req,
    const char *who)
{
	const struct rig *rig = m->l->rig;
	const struct rig_station *st;
	int s, immerse = 0, n = 0;

	if (req->argc == 3 && strcmp(req->argv[2], "--immerse") == 0)
		immerse = 1;
	else if (req->argc != 2) {
		control_finish(c, 2, "usage: goto STATION [--immerse]");
		return;
	}
	if ((s = rig_station_index(rig, req->argv[1])) == -1) {
		control_finish(c, 2, "goto: '%s' is not a station of rig %s", req->argv[1],
		    rig->name);
		return;
	}
	st = &rig->stations[s];
	if (immerse && (rig->lift < 0 || isnan(st->surface_z_mm))) {
		control_finish(c, 2, "goto --immerse: station '%s' has no surface_z in rig %s (or "
		    "the rig has no lift)", st->name, rig->name);
		return;
	}
	if (rig->transfer < 0 && rig->lift < 0) {
		control_finish(c, 2, "goto: rig %s has no lift or transfer axis", rig->name);
		return;
	}
	if (manual_gate(m, c, "goto", 1) == -1)
		return;
	if (rig->lift >= 0) {
		m->moves[n].axis = rig->lift;
		m->moves[n].position_mm = rig->safe_z_mm;
		m->moves[n++].speed_mm_s = 0;
	}
	if (rig->transfer >= 0) {
		m->moves[n].axis = rig->transfer;
		m->moves[n].position_mm = st->x_mm;
		m->moves[n++].speed_mm_s = 0;
	}
	if (immerse) {
		m->moves[n].axis = rig->lift;
		m->moves[n].position_mm = st->surface_z_mm + st->max_depth_mm;
		m->moves[n++].speed_mm_s = 0;
	}
	m->move_count = n;
	snprintf(m->move_text, sizeof(m->move_text), "goto %s%s: lift to the safe height, "
	    "across to %.2f mm%s", st->name, immerse ? " --immerse" : "", st->x_mm,
	    immerse ? ", down to the station's depth" : "");
	if (manual_event(m, -1, "manual: %s: %s", who, m->move_text) == -1) {
		control_finish(c, 1, "goto refused: the database could not record it");
		return;
	}
	manual_move_start(m, c);
}

/* ---- outputs ---- */

/* The hardware request that sets device to value (0: off). */
static void
manual_out_request(struct manual *m, int device, double value, struct hw_request *req)
{
	const struct rig_device *dev = &m->l->rig->devices[device];

	memset(req, 0, sizeof(*req));
	req->device = device;
	req->value = value;
	req->op = dev->role == RIG_VALVE ? HW_OUTPUT : dev->role == RIG_LINE ? HW_LINE : HW_PUMP;
	req->tag = m->out[device].tag;
}

static void manual_out_result(void *arg, const struct hw_request *req,
    const struct hw_result *res);

/* Submits req with manual_out_result; -1 with err. */
static int
manual_out_submit(struct manual *m, const struct hw_request *req, char *err, size_t err_size)
{
	return hw_submit(m->l->hw, req, manual_out_result, m, err, err_size);
}

/* Ends an output's use: its client (if still there) hears the outcome; the record has it. */
static void
manual_out_end(struct manual *m, int device, const char *dispensed)
{
	struct manual_out *o = &m->out[device];
	struct control_client *c = o->owner;
	const char *name = m->l->rig->devices[device].name;
	double on_s = (double)(loop_now_ns() - o->on_ns) / 1e9;

	o->phase = OUT_OFF;
	o->owner = NULL;
	o->tag++;
	manual_event(m, device, "manual: %s '%s' off after %.1f s: %s%s%s", o->what, name, on_s,
	    o->why_off, dispensed[0] ? "; " : "", dispensed);
	manual_arm_timer(m);
	lbld_status_told(m->l);
	if (c == NULL)
		return;
	control_watch(c, NULL, NULL);
	if (o->failed) {
		control_finish(c, 1, "%s '%s' off after %.1f s: %s%s%s", o->what, name, on_s,
		    o->why_off, dispensed[0] ? "; " : "", dispensed);
	} else {
		control_out(c, "%s off after %.1f s: %s%s%s", name, on_s, o->why_off,
		    dispensed[0] ? "; " : "", dispensed);
		control_finish(c, 0, " ");
	}
}

/* Switches an output off (why: for the client and the record). */
static void
manual_out_off(struct manual *m, int device, int failed, const char *why)
{
	struct manual_out *o = &m->out[device];
	struct hw_request req;
	char err[256];

	if (o->phase == OUT_OFF || o->phase == OUT_STOPPING || o->phase == OUT_COUNT_AFTER)
		return;
	text_format(o->why_off, sizeof(o->why_off), "%s", why);
	o->failed = failed;
	o->phase = OUT_STOPPING;
	o->tag++;
	manual_out_request(m, device, 0, &req);
	if (manual_out_submit(m, &req, err, sizeof(err)) == -1) {
		/* the safe state is the way left to switch it off */
		text_format(o->why_off, sizeof(o->why_off), "%s; the off command was refused (%s): "
		    "the rig goes to its safe state", why, err);
		o->failed = 1;
		manual_out_end(m, device, "");
		manual_abort(m, "an off command was refused");
		act_safe_state(m->l->act, 0);
	}
}

static void
manual_out_gone(struct manual *m, int device)
{
	m->out[device].owner = NULL;
	manual_out_off(m, device, 0, "the client that switched it on went away");
}

/* What the pump dispensed, for the answer: its counter's, or the time at the flow. */
static void
manual_dispensed(struct manual *m, int device, double count_after_ml, char *buf, size_t size)
{
	const struct manual_out *o = &m->out[device];
	const struct rig_device *dev = &m->l->rig->devices[device];
	double on_min, ml;

	buf[0] = '\0';
	/* not a pump, or one only switched off (nothing was run by hand) */
	if (dev->role != RIG_PUMP || rig_pump_is_stirrer(dev) || o->value <= 0)
		return;
	if (o->counter && isfinite(count_after_ml)) {
		ml = count_after_ml - o->count_before_ml;
		if (ml < 0 && o->wrap_ml > 0)
			ml += o->wrap_ml;
		snprintf(buf, size, "dispensed %.2f mL (the pump's volume counter)", ml);
		return;
	}
	on_min = (double)(loop_now_ns() - o->on_ns) / 60e9 * m->l->time_scale;
	snprintf(buf, size, "dispensed about %.2f mL (%.2f mL/min for the time it ran; the pump "
	    "has no volume counter)", o->value * on_min, o->value);
}

/* The on command: the output runs, and goes off at its time. */
static void
manual_out_started(struct manual *m, int device)
{
	struct manual_out *o = &m->out[device];
	int64_t real_ms = (int64_t)((double)o->plan_ms / m->l->time_scale);
	char left[32];

	o->phase = OUT_ON;
	o->on_ns = loop_now_ns();
	o->probing = 0;
	if (o->counter && o->target_ml > 0) {
		/* the counter stops it; the time at the flow, and some, is the backstop */
		int64_t backstop_ms = o->plan_ms * (100 + MANUAL_VOLUME_BACKSTOP_PCT) / 100;
		double period_ms = (double)real_ms / MANUAL_VOLUME_POLLS;

		if (backstop_ms > m->l->rig->manual_max_on_ms)
			backstop_ms = m->l->rig->manual_max_on_ms;
		period_ms = period_ms < MANUAL_VOLUME_POLL_MIN_MS ? MANUAL_VOLUME_POLL_MIN_MS :
		    period_ms > MANUAL_VOLUME_POLL_MAX_MS ? MANUAL_VOLUME_POLL_MAX_MS : period_ms;
		o->poll_period_ns = (int64_t)(period_ms * 1e6);
		o->poll_ns = o->on_ns + o->poll_period_ns;
		real_ms = (int64_t)((double)backstop_ms / m->l->time_scale);
	}
	o->off_ns = o->on_ns + real_ms * 1000000;
	units_format_duration(o->plan_ms, left, sizeof(left));
	if (o->owner != NULL)
		control_out(o->owner, "%s on; off %s %s, or when this lblctl ends (Ctrl-C), "
		    "'lblctl set %s off' or 'lblctl stop'", m->l->rig->devices[device].name,
		    o->counter && o->target_ml > 0 ? "when its volume counter has counted it, "
		    "about" : "in", left, m->l->rig->devices[device].name);
	manual_arm_timer(m);
	lbld_status_told(m->l);
}

static void
manual_out_result(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct manual *m = arg;
	struct manual_out *o;
	struct hw_request on;
	char err[256], text[1000];

	if (req->device < 0 || (size_t)req->device >= m->count)
		return;
	o = &m->out[req->device];
	if (req->tag != o->tag)
		return;
	switch (o->phase) {
	case OUT_COUNT_BEFORE:
		o->counter = res->ok && isfinite(res->value);
		o->count_before_ml = res->value;
		o->phase = OUT_STARTING;
		manual_out_request(m, req->device, o->value, &on);
		if (manual_out_submit(m, &on, err, sizeof(err)) == -1) {
			text_format(o->why_off, sizeof(o->why_off), "not started: %s", err);
			o->failed = 1;
			manual_out_end(m, req->device, "");
		}
		break;
	case OUT_STARTING:
		if (!res->ok) {
			/* a start that failed half-way may have started it: off, to be sure */
			o->phase = OUT_ON;
			manual_out_off(m, req->device, 1, res->error);
			break;
		}
		manual_out_started(m, req->device);
		break;
	case OUT_STOPPING:
		if (!res->ok) {
			text_format(text, sizeof(text), "%s; the off command failed (%s): the rig goes "
			    "to its safe state", o->why_off, res->error);
			text_format(o->why_off, sizeof(o->why_off), "%s", text);
			o->failed = 1;
			manual_out_end(m, req->device, "");
			manual_abort(m, "an off command failed");
			act_safe_state(m->l->act, 0);
			break;
		}
		if (o->counter) {
			struct hw_request count = { req->device, HW_PROBE, 0, 0, 0 };

			o->phase = OUT_COUNT_AFTER;
			count.tag = o->tag;
			if (hw_submit(m->l->hw, &count, manual_out_result, m, err, sizeof(err)) == 0)
				break;
		}
		manual_dispensed(m, req->device, NAN, text, sizeof(text));
		manual_out_end(m, req->device, text);
		break;
	case OUT_COUNT_AFTER:
		manual_dispensed(m, req->device, res->ok ? res->value : NAN, text, sizeof(text));
		manual_out_end(m, req->device, text);
		break;
	case OUT_ON:
		/* the counter's read while it runs: off once it has counted the volume */
		if (req->op != HW_PROBE)
			break;
		o->probing = 0;
		if (res->ok && isfinite(res->value)) {
			double ml = res->value - o->count_before_ml;

			if (ml < 0 && o->wrap_ml > 0)
				ml += o->wrap_ml;
			if (ml >= o->target_ml) {
				snprintf(text, sizeof(text), "its volume counter counted %.2f mL of "
				    "%.2f mL", ml, o->target_ml);
				manual_out_off(m, req->device, 0, text);
				break;
			}
		}
		o->poll_ns = loop_now_ns() + o->poll_period_ns;
		manual_arm_timer(m);
		break;
	default:
		break;
	}
}

/* The off timer: outputs whose time is up go off; the timer is armed for the next. */
static void
manual_arm_timer(struct manual *m)
{
	int64_t now = loop_now_ns(), next = 0;
	size_t i;

	for (i = 0; i < m->count; i++) {
		struct manual_out *o = &m->out[i];

		if (o->phase != OUT_ON)
			continue;
		if (o->off_ns <= now) {
			if (o->counter && o->target_ml > 0)
				manual_out_off(m, (int)i, 1, "its volume counter had not counted the "
				    "volume by the backstop, the time at the flow and half again: a "
				    "stall, a lost tube or a wrong scale?");
			else
				manual_out_off(m, (int)i, 0, o->plan_ms >= m->l->rig->manual_max_on_ms &&
				    strcmp(o->what, "set") == 0 ? "its time was up (at most the rig "
				    "file's manual max_on)" : "its time was up");
			continue;
		}
		if (next == 0 || o->off_ns < next)
			next = o->off_ns;
		if (!o->counter || o->target_ml <= 0 || o->probing)
			continue;
		if (o->poll_ns <= now) {
			struct hw_request probe = { (int)i, HW_PROBE, 0, 0, 0 };
			char err[256];

			probe.tag = o->tag;
			if (hw_submit(m->l->hw, &probe, manual_out_result, m, err, sizeof(err)) == 0)
				o->probing = 1;
			else
				log_warnx("manual: '%s': volume counter not read (%s); it stops by "
				    "time", m->l->rig->devices[i].name, err);
			o->poll_ns = now + o->poll_period_ns;
			if (!o->probing)
				o->target_ml = 0;
			continue;
		}
		if (o->poll_ns < next)
			next = o->poll_ns;
	}
	if (next == 0)
		loop_timer_cancel(m->timer);
	else if (loop_timer_at(m->timer, next) == -1)
		log_warnx("manual: cannot arm the off timer; outputs go off at the next action");
}

/*
 * Switches device on at value for plan_ms (rig time) for client c, who is
 * held until it goes off. With target_ml (a prime, fill or drain) and a
 * volume counter, the counter stops it and plan_ms is the time at the flow
 * that a backstop adds half to. what names the command for the answers.
 */
static void
manual_out_start(struct manual *m, struct control_client *c, int device, double value,
    int64_t plan_ms, double target_ml, const char *what)
{
	struct manual_out *o = &m->out[device];
	struct hw_request req;
	char err[256];
	double wrap_ml = 0;

	o->owner = c;
	o->value = value;
	o->plan_ms = plan_ms;
	o->failed = 0;
	o->counter = 0;
	o->target_ml = target_ml;
	o->on_ns = loop_now_ns();
	o->why_off[0] = '\0';
	snprintf(o->what, sizeof(o->what), "%s", what);
	o->tag++;
	control_watch(c, manual_client_event, m);
	control_follow(c, LBLD_TAG_MANUAL);
	if (act_volume_counter(m->l->act, device, &wrap_ml)) {
		memset(&req, 0, sizeof(req));
		req.device = device;
		req.op = HW_PROBE;
		req.tag = o->tag;
		o->wrap_ml = wrap_ml;
		o->phase = OUT_COUNT_BEFORE;
	} else {
		manual_out_request(m, device, value, &req);
		o->phase = OUT_STARTING;
	}
	if (manual_out_submit(m, &req, err, sizeof(err)) == -1) {
		text_format(o->why_off, sizeof(o->why_off), "not started: %s", err);
		o->failed = 1;
		manual_out_end(m, device, "");
	}
}

/* The output device named, or -1 with the client answered. */
static int
manual_output(struct manual *m, struct control_client *c, const char *cmd, const char *name)
{
	int d = rig_device_index(m->l->rig, name);
	char why[300];

	if (d == -1) {
		control_finish(c, 2, "%s: '%s' is not a device of rig %s", cmd, name,
		    m->l->rig->name);
		return -1;
	}
	if (manual_check_output(m->l->rig, d, 0, why, sizeof(why)) == -1) {
		control_finish(c, 2, "%s: %s", cmd, why);
		return -1;
	}
	return d;
}

/* A refusal when the output is in use by hand already; 0 when free. */
static int
manual_out_free(struct manual *m, struct control_client *c, const char *cmd, int device)
{
	if (m->out[device].phase == OUT_OFF)
		return 0;
	control_finish(c, 1, "%s refused: '%s' is on by hand already (%s); 'lblctl set %s off' "
	    "first", cmd, m->l->rig->devices[device].name, m->out[device].what,
	    m->l->rig->devices[device].name);
	return -1;
}

/* The time an output may stay on: --for (if given) within the rig's max_on. */
static int64_t
manual_on_ms(const struct manual *m, int64_t for_ms)
{
	int64_t max = m->l->rig->manual_max_on_ms;

	return for_ms > 0 && for_ms < max ? for_ms : max;
}

/* set OUTPUT on|off|FLOW|RPM|SPEED [--for DURATION] */
static void
manual_cmd_set(struct manual *m, struct control_client *c, const struct control_request *req,
    const char *who)
{
	const struct rig_device *dev;
	const char *whyu, *arg;
	int64_t for_ms = 0;
	double value;
	char why[300], text[64];
	int d;

	if (req->argc != 3 && !(req->argc == 5 && strcmp(req->argv[3], "--for") == 0)) {
		control_finish(c, 2, "usage: set OUTPUT on|off|FLOW|RPM|SPEED [--for DURATION]");
		return;
	}
	if ((d = manual_output(m, c, "set", req->argv[1])) == -1)
		return;
	dev = &m->l->rig->devices[d];
	if (req->argc == 5 && units_parse_duration(req->argv[4], &for_ms, &whyu) == -1) {
		control_finish(c, 2, "set: --for '%s': expected a duration such as 30s or 2min",
		    req->argv[4]);
		return;
	}
	arg = req->argv[2];
	if (strcmp(arg, "off") == 0) {
		if (req->argc == 5) {
			control_finish(c, 2, "set: --for goes with on, not off");
			return;
		}
		if (m->out[d].phase == OUT_OFF) {
			/* not on by hand: off anyway, and confirmed, like any other set */
			if (manual_gate(m, c, "set", 0) == -1)
				return;
		}
		if (manual_event(m, d, "manual: %s: set %s off", who, dev->name) == -1)
			log_warnx("the off goes on unrecorded");
		if (m->out[d].phase != OUT_OFF) {
			manual_out_off(m, d, 0, "switched off with 'lblctl set off'");
			control_out(c, "%s: switched off", dev->name);
			control_finish(c, 0, " ");
			return;
		}
		/* an output nobody holds: a one-off command, answered when confirmed */
		m->out[d].owner = c;
		m->out[d].phase = OUT_ON;
		m->out[d].on_ns = loop_now_ns();
		m->out[d].value = 0;
		m->out[d].counter = 0;
		m->out[d].target_ml = 0;
		snprintf(m->out[d].what, sizeof(m->out[d].what), "set");
		control_watch(c, manual_client_event, m);
		control_follow(c, LBLD_TAG_MANUAL);
		manual_out_off(m, d, 0, "switched off with 'lblctl set off'");
		return;
	}
	if (strcmp(arg, "on") == 0) {
		value = dev->role == RIG_VALVE ? 1 : dev->role == RIG_LINE ? dev->max_line_speed_mm_s :
		    rig_pump_is_stirrer(dev) ? dev->max_rpm : dev->max_flow_ml_min;
	} else if (dev->role == RIG_VALVE) {
		control_finish(c, 2, "set: valve '%s' takes on or off, not '%s'", dev->name, arg);
		return;
	} else if (units_parse(arg, dev->role == RIG_LINE ? UNIT_SPEED_MM_S :
	    rig_pump_is_stirrer(dev) ? UNIT_ROTATION_RPM : UNIT_FLOW_ML_MIN, &value, &whyu) == -1 ||
	    value <= 0) {
		control_finish(c, 2, "set: '%s': expected on, off or %s above 0", arg,
		    units_expected(dev->role == RIG_LINE ? UNIT_SPEED_MM_S :
		    rig_pump_is_stirrer(dev) ? UNIT_ROTATION_RPM : UNIT_FLOW_ML_MIN));
		return;
	}
	if (manual_check_output(m->l->rig, d, value, why, sizeof(why)) == -1) {
		control_finish(c, 2, "set refused: %s", why);
		return;
	}
	if (manual_gate(m, c, "set", 0) == -1 || manual_out_free(m, c, "set", d) == -1)
		return;
	units_format_duration(manual_on_ms(m, for_ms), text, sizeof(text));
	if (manual_event(m, d, "manual: %s: set %s %s (value %.2f) for at most %s", who,
	    dev->name, arg, value, text) == -1) {
		control_finish(c, 1, "set refused: the database could not record it");
		return;
	}
	manual_out_start(m, c, d, value, manual_on_ms(m, for_ms), 0, "set");
}

/*
 * Runs pump d for volume_ml at flow (0: its max_flow): the time at that
 * flow, within max_on. what: prime, fill or drain.
 */
static void
manual_dispense(struct manual *m, struct control_client *c, int d, double volume_ml,
    double flow_ml_min, const char *what, const char *who, const char *where)
{
	const struct rig_device *dev = &m->l->rig->devices[d];
	char why[300], text[32];
	int64_t ms;

	if (dev->role != RIG_PUMP || rig_pump_is_stirrer(dev)) {
		control_finish(c, 2, "%s: '%s' is not a pump", what, dev->name);
		return;
	}
	if (flow_ml_min <= 0)
		flow_ml_min = dev->max_flow_ml_min;
	if (manual_check_output(m->l->rig, d, flow_ml_min, why, sizeof(why)) == -1) {
		control_finish(c, 2, "%s refused: %s", what, why);
		return;
	}
	ms = (int64_t)ceil(volume_ml / flow_ml_min * 60000.0);
	if (ms > m->l->rig->manual_max_on_ms) {
		units_format_duration(ms, text, sizeof(text));
		control_finish(c, 2, "%s refused: %.2f mL at %.2f mL/min takes %s, longer than the "
		    "rig file's manual max_on (%.0f s in rig %s)", what, volume_ml, flow_ml_min, text,
		    (double)m->l->rig->manual_max_on_ms / 1000, m->l->rig->name);
		return;
	}
	if (manual_gate(m, c, what, 0) == -1 || manual_out_free(m, c, what, d) == -1)
		return;
	units_format_duration(ms, text, sizeof(text));
	if (manual_event(m, d, "manual: %s: %s%s with '%s': %.2f mL at %.2f mL/min (%s)", who, what,
	    where, dev->name, volume_ml, flow_ml_min, text) == -1) {
		control_finish(c, 1, "%s refused: the database could not record it", what);
		return;
	}
	control_out(c, "%s%s: '%s' runs %.2f mL at %.2f mL/min, %s", what, where, dev->name,
	    volume_ml, flow_ml_min, text);
	manual_out_start(m, c, d, flow_ml_min, ms, volume_ml, what);
}

/* prime PUMP VOLUME [--flow FLOW] */
static void
manual_cmd_prime(struct manual *m, struct control_client *c, const struct control_request *req,
    const char *who)
{
	double volume_ml, flow_ml_min = 0;
	const char *whyu;
	int d;

	if (req->argc != 3 && !(req->argc == 5 && strcmp(req->argv[3], "--flow") == 0)) {
		control_finish(c, 2, "usage: prime PUMP VOLUME [--flow FLOW]");
		return;
	}
	if ((d = manual_output(m, c, "prime", req->argv[1])) == -1)
		return;
	if (units_parse(req->argv[2], UNIT_VOLUME_ML, &volume_ml, &whyu) == -1 || volume_ml <= 0) {
		control_finish(c, 2, "prime: '%s': expected %s above 0", req->argv[2],
		    units_expected(UNIT_VOLUME_ML));
		return;
	}
	if (req->argc == 5 && (units_parse(req->argv[4], UNIT_FLOW_ML_MIN, &flow_ml_min,
	    &whyu) == -1 || flow_ml_min <= 0)) {
		control_finish(c, 2, "prime: --flow '%s': expected %s above 0", req->argv[4],
		    units_expected(UNIT_FLOW_ML_MIN));
		return;
	}
	manual_dispense(m, c, d, volume_ml, flow_ml_min, "prime", who, "");
}

/* fill STATION / drain STATION: the station's own pump, its working volume. */
static void
manual_cmd_bath(struct manual *m, struct control_client *c, const struct control_request *req,
    const char *who)
{
	const char *cmd = req->argv[0];
	const struct rig_station *st;
	char where[80];
	int s, pump;

	if (req->argc != 2) {
		control_finish(c, 2, "usage: %s STATION", cmd);
		return;
	}
	if ((s = rig_station_index(m->l->rig, req->argv[1])) == -1) {
		control_finish(c, 2, "%s: '%s' is not a station of rig %s", cmd, req->argv[1],
		    m->l->rig->name);
		return;
	}
	st = &m->l->rig->stations[s];
	pump = strcmp(cmd, "fill") == 0 ? st->fill_pump : st->drain_pump;
	if (pump < 0) {
		control_finish(c, 2, "%s: station '%s' has no %s pump in rig %s", cmd, st->name,
		    strcmp(cmd, "fill") == 0 ? "fill" : "drain", m->l->rig->name);
		return;
	}
	if (isnan(st->volume_ml) || st->volume_ml <= 0) {
		control_finish(c, 2, "%s: station '%s' has no volume in rig %s (how much to pump)",
		    cmd, st->name, m->l->rig->name);
		return;
	}
	snprintf(where, sizeof(where), " %s", st->name);
	manual_dispense(m, c, pump, st->volume_ml, 0, cmd, who, where);
}

/* stop: all motion at once, and every output off (the safe state, without the park). */
static void
manual_cmd_stop(struct manual *m, struct control_client *c, const char *who)
{
	struct run_status st;

	run_status(m->l->run, &st);
	if (st.state != RUN_IDLE && st.state != RUN_PAUSED && st.state != RUN_SAFE) {
		control_finish(c, 1, "stop refused: batch %lld is %s; 'lblctl pause --now' or "
		    "'lblctl abort' stop a batch", (long long)st.batch_id,
		    run_state_names[st.state]);
		return;
	}
	if (manual_event(m, -1, "manual: %s: stop (all motion, every output off)", who) == -1)
		log_warnx("the stop goes on unrecorded");
	/*
	 * Whatever moves stops: a manual move, a homing (which must then not
	 * pass for homed) and a park under way (which ends not parked, and
	 * says so).
	 */
	manual_abort(m, "stopped with 'lblctl stop'");
	home_abort(m->l->home, "stopped with 'lblctl stop'");
	act_safe_state(m->l->act, 0);
	control_out(c, "stopped: motion stops where it is, every output off ('lblctl status' "
	    "shows where the substrate is)");
	control_finish(c, 0, " ");
}

/* The reset under way ends: its client hears how. */
static void
manual_reset_end(struct manual *m, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
manual_reset_end(struct manual *m, int status, const char *fmt, ...)
{
	struct control_client *c = m->rc;
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	m->rc = NULL;
	m->reset_device = -1;
	m->reset_tag++;
	if (c == NULL)
		return;
	control_watch(c, NULL, NULL);
	if (status == 0) {
		control_out(c, "%s", text);
		control_finish(c, 0, " ");
	} else {
		control_finish(c, status, "%s", text);
	}
}

/* The reset command's answer, then the status read after it: the alarm's state. */
static void
manual_reset_result(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct manual *m = arg;
	struct hw_request probe = { req->device, HW_PROBE, 0, 0, 0 };
	const char *name;
	char err[256];

	if (req->tag != m->reset_tag || req->device != m->reset_device)
		return;
	name = m->l->rig->devices[req->device].name;
	if (!res->ok) {
		manual_reset_end(m, 1, "reset of '%s' failed: %s", name, res->error);
		return;
	}
	if (req->op == HW_RESET) {
		probe.tag = m->reset_tag;
		if (hw_submit(m->l->hw, &probe, manual_reset_result, m, err, sizeof(err)) == -1)
			manual_reset_end(m, 1, "'%s' was reset, but its state cannot be read: %s",
			    name, err);
		return;
	}
	manual_event(m, req->device, "manual: reset '%s': %s", name, res->alarm == 1 ?
	    "still in alarm" : res->alarm == 0 ? "alarm cleared" : "sent (no alarm flag to read)");
	if (res->alarm == 1)
		manual_reset_end(m, 1, "'%s' is still in alarm after its reset: see the device "
		    "(its display, its manual) for the cause", name);
	else
		manual_reset_end(m, 0, "%s: %s", name, res->alarm == 0 ? "alarm cleared" :
		    "reset sent (its profile has no alarm flag to confirm it)");
}

/* reset DEVICE: the profile's 'reset' command, then its alarm read back. */
static void
manual_cmd_reset(struct manual *m, struct control_client *c, const struct control_request *req,
    const char *who)
{
	struct hw_request reset = { -1, HW_RESET, 0, 0, 0 };
	char err[300];
	int d;

	if (req->argc != 2) {
		control_finish(c, 2, "usage: reset DEVICE");
		return;
	}
	if ((d = rig_device_index(m->l->rig, req->argv[1])) == -1) {
		control_finish(c, 2, "reset: '%s' is not a device of rig %s", req->argv[1],
		    m->l->rig->name);
		return;
	}
	if (manual_gate(m, c, "reset", 0) == -1)
		return;
	if (m->reset_device >= 0) {
		control_finish(c, 1, "reset refused: a reset of '%s' is under way",
		    m->l->rig->devices[m->reset_device].name);
		return;
	}
	reset.device = d;
	reset.tag = ++m->reset_tag;
	if (hw_submit(m->l->hw, &reset, manual_reset_result, m, err, sizeof(err)) == -1) {
		control_finish(c, 2, "reset refused: %s", err);
		return;
	}
	manual_event(m, d, "manual: %s: reset %s", who, m->l->rig->devices[d].name);
	m->reset_device = d;
	m->rc = c;
	control_watch(c, manual_client_event, m);
	control_follow(c, LBLD_TAG_MANUAL);
}

void
manual_request(struct manual *m, struct control_client *c, const struct control_request *req)
{
	const char *cmd = req->argv[0];
	char who[96];

	manual_who(c, who, sizeof(who));
	if (strcmp(cmd, "move") == 0)
		manual_cmd_move(m, c, req, who);
	else if (strcmp(cmd, "jog") == 0)
		manual_cmd_jog(m, c, req, who);
	else if (strcmp(cmd, "goto") == 0)
		manual_cmd_goto(m, c, req, who);
	else if (strcmp(cmd, "stop") == 0)
		manual_cmd_stop(m, c, who);
	else if (strcmp(cmd, "set") == 0)
		manual_cmd_set(m, c, req, who);
	else if (strcmp(cmd, "prime") == 0)
		manual_cmd_prime(m, c, req, who);
	else if (strcmp(cmd, "fill") == 0 || strcmp(cmd, "drain") == 0)
		manual_cmd_bath(m, c, req, who);
	else if (strcmp(cmd, "reset") == 0)
		manual_cmd_reset(m, c, req, who);
	else
		control_finish(c, 2, "unknown command '%s'", cmd);
}

void
manual_abort(struct manual *m, const char *why)
{
	size_t i;

	m->act_pending = 0;
	if (m->resuming) {
		m->resuming = 0;
		if (m->mc != NULL) {
			control_watch(m->mc, NULL, NULL);
			control_finish(m->mc, 1, "resume refused: %s", why);
		}
		m->mc = NULL;
	}
	if (m->moving || m->jog_axis >= 0)
		manual_move_end(m, 0, "%s stopped: %s", m->move_text, why);
	m->jog_tag++;
	if (m->reset_device >= 0)
		manual_reset_end(m, 1, "reset stopped: %s", why);
	for (i = 0; i < m->count; i++) {
		struct manual_out *o = &m->out[i];

		if (o->phase == OUT_OFF)
			continue;
		/* the safe state switches it off; its commands are dropped */
		text_format(o->why_off, sizeof(o->why_off), "%s (the safe state switched it off)",
		    why);
		o->failed = 1;
		manual_out_end(m, (int)i, "");
	}
	loop_timer_cancel(m->timer);
}

/* ---- resuming a paused batch ---- */

static void
manual_resumed(struct manual *m, int ok, const char *error)
{
	struct control_client *c = m->mc;
	char err[300];

	m->resuming = 0;
	m->mc = NULL;
	if (c != NULL)
		control_watch(c, NULL, NULL);
	if (!ok) {
		if (c != NULL)
			control_finish(c, 1, "resume refused: the lift did not reach the safe height "
			    "after the manual moves: %s", error ? error : "device failure");
		return;
	}
	m->moved_in_pause = 0;
	if (run_resume_by(m->l->run, m->resume_by[0] ? m->resume_by : NULL, err,
	    sizeof(err)) == -1) {
		if (c != NULL)
			control_finish(c, 1, "%s", err);
		return;
	}
	if (c != NULL)
		control_finish(c, 0, " ");
}

/* The client of a resume went away: the lift keeps going up, the batch stays paused. */
static void
manual_resume_gone(void *arg, struct control_client *c, enum control_event event)
{
	struct manual *m = arg;

	if (event == CONTROL_GONE && m->mc == c)
		m->mc = NULL;
}

int
manual_resume(struct manual *m, struct control_client *c, const char *by)
{
	const struct rig *rig = m->l->rig;
	struct run_status st;
	char why[200];

	run_status(m->l->run, &st);
	if (st.state != RUN_PAUSED || !m->moved_in_pause || rig->lift < 0)
		return 0;
	if (act_safety_active(m->l->act, why, sizeof(why))) {
		control_finish(c, 1, "cannot resume: %s", why);
		return 1;
	}
	m->resuming = 1;
	m->mc = c;
	snprintf(m->resume_by, sizeof(m->resume_by), "%s", by ? by : "");
	snprintf(m->move_text, sizeof(m->move_text), "lift to the safe height before resuming");
	control_watch(c, manual_resume_gone, m);
	control_out(c, "manual moves during the pause: the lift goes to the safe height "
	    "(%.2f mm) first", rig->safe_z_mm);
	control_follow(c, LBLD_TAG_MANUAL);
	m->act_pending = 1;
	if (act_move(m->l->act, rig->lift, rig->safe_z_mm, 0) == -1) {
		m->act_pending = 0;
		manual_resumed(m, 0, "the lift cannot be commanded now (see the log)");
	}
	return 1;
}
