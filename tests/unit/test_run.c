/*
 * The run executor (daemon/run.c) without a rig, a database or a clock, in
 * the style of chrony's test/unit: run.c is included and its collaborators
 * are fakes defined here.
 *
 *   act     every call is logged with its arguments and the step it came
 *           in; an operation completes only when the test (or drive())
 *           says so, with success or with a failure; a command can also be
 *           refused outright. The safe state is logged and completed the
 *           same way.
 *   record  every write kept in memory (steps, bilayers, events, states,
 *           solutions); any write can be made to fail. The executor's
 *           boundaries (daemon/ledger.c) are the real ones, linked in, and
 *           write through these.
 *   loop    timers fired by the test, in deadline order, at a fake clock
 *           that only moves when a timer fires or a move is completed.
 *
 * Recipes (text in this file) and plans come from the real parser and
 * planner on tests/data/rig-*.yaml, so what is checked is that the
 * executor does what the plan says, in the order the plan says, and
 * records it. Nothing sleeps: a batch of hours runs in milliseconds.
 *
 * Beyond hand-written expectations, every step of every test recipe is
 * compared with its compilation (recipes/compile.c, what lblctl plan --json
 * prints): the executor must tell the rig that list, in that order.
 *
 * The fakes are written against run.h and the collaborators' headers
 * (act.h, record.h, loop.h, db.h) only; nothing here reaches into
 * struct run, so a rewrite of run.c's inside keeps these tests.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#include "act.h"
#include "compile.h"
#include "db.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "record.h"
#include "run.h"
#include "test.h"

static const char *top;

/* ---- the clock and the loop: timers fired by the test (fake_loop.h) ---- */

#include "fake_loop.h"

/* ---- the record: every write kept in memory ---- */

struct fake_step {
	int begun, ended, begins;
	int begin_group;		/* the commit group its start went in (fr.groups) */
	int begin_calls, end_calls;	/* how many act calls had been made at its start, end */
	int bilayer;
	char phase[16], kind[16], station[32], solution[32];
	int64_t planned_start_ms, planned_duration_ms;
	int64_t actual_start_ms, duration_ms, motion_ms, dwell_ms;
	char outcome[16];
};

struct fake_event {
	char kind[16], device[32], message[RUN_MAX_EVENT_BYTES + 1];
};

#define FAKE_STEPS	4096
#define FAKE_EVENTS	4096
#define FAKE_BILAYERS	64
#define FAKE_SOLUTIONS	16

static struct {
	struct fake_step steps[FAKE_STEPS];	/* by seq */
	int last_begun;				/* the seq of the last step begun */
	int bilayers;				/* records of bilayers */
	double bilayer_estimated_nm[FAKE_BILAYERS], bilayer_measured_nm[FAKE_BILAYERS];
	int bilayer_records[FAKE_BILAYERS];
	struct fake_event events[FAKE_EVENTS];
	int event_count;
	char state[16], cause[RUN_MAX_CAUSE_BYTES + 1];
	char states[512];			/* every state written, in order */
	struct {
		char name[32], lot[64];
		int dips;
		double volume_ml, area_cm2;
	} solutions[FAKE_SOLUTIONS];
	int solution_count;
	int writes;				/* every write so far */
	/* failure injection: the write numbered fail_write (from 1), or the next of a kind */
	int fail_write;
	char fail_kind[16];
	int failed;				/* writes refused */
	char failed_kind[16];			/* the kind of the last one */
	int in_group, group_failed;
	int groups;				/* groups begun */
	char group_why[320];
	/* the batch's state before the group: a failed group is rolled back whole (record.h) */
	char group_state[16], group_cause[RUN_MAX_CAUSE_BYTES + 1], group_states[512];
} fr;

struct record {
	int unused;
};

static int fa_call_count(void);

static struct record fake_record_object;

/*
 * Counts a write of kind; returns -1 when the test asked for it to fail,
 * and in a group marks the group failed (its commit says so).
 */
static int
fr_write(const char *kind, const char *what)
{
	fr.writes++;
	if (fr.writes == fr.fail_write || (fr.fail_kind[0] && strcmp(fr.fail_kind, kind) == 0)) {
		fr.fail_kind[0] = '\0';
		fr.failed++;
		snprintf(fr.failed_kind, sizeof(fr.failed_kind), "%s", kind);
		if (fr.in_group && !fr.group_failed) {
			fr.group_failed = 1;
			snprintf(fr.group_why, sizeof(fr.group_why),
			    "%s: disk I/O error (injected)", what);
		}
		return -1;
	}
	return 0;
}

int
record_step_begin(struct record *rec, int64_t batch_id, const struct db_step *row)
{
	struct fake_step *s;
	char what[64];

	(void)rec;
	(void)batch_id;
	snprintf(what, sizeof(what), "the start of step %d", row->seq);
	if (fr_write("step_begin", what) == -1)
		return -1;
	if (row->seq <= 0 || row->seq >= FAKE_STEPS)
		return 0;
	s = &fr.steps[row->seq];
	s->begun = 1;
	s->ended = 0;
	s->begins++;
	s->begin_group = fr.groups;
	s->begin_calls = fa_call_count();
	s->bilayer = row->bilayer;
	snprintf(s->phase, sizeof(s->phase), "%s", row->phase ? row->phase : "");
	snprintf(s->kind, sizeof(s->kind), "%s", row->kind ? row->kind : "");
	snprintf(s->station, sizeof(s->station), "%s", row->station ? row->station : "");
	snprintf(s->solution, sizeof(s->solution), "%s", row->solution ? row->solution : "");
	s->planned_start_ms = row->planned_start_ms;
	s->planned_duration_ms = row->planned_duration_ms;
	s->actual_start_ms = row->actual_start_ms;
	s->outcome[0] = '\0';
	fr.last_begun = row->seq;
	return 0;
}

int
record_step_end(struct record *rec, int64_t batch_id, int seq, int64_t actual_start_ms,
    int64_t duration_ms, int64_t motion_ms, int64_t dwell_ms, const char *outcome)
{
	struct fake_step *s;
	char what[64];

	(void)rec;
	(void)batch_id;
	snprintf(what, sizeof(what), "the end of step %d", seq);
	if (fr_write("step_end", what) == -1)
		return -1;
	if (seq <= 0 || seq >= FAKE_STEPS)
		return 0;
	s = &fr.steps[seq];
	s->ended = 1;
	s->end_calls = fa_call_count();
	if (actual_start_ms >= 0)
		s->actual_start_ms = actual_start_ms;
	s->duration_ms = duration_ms;
	s->motion_ms = motion_ms;
	s->dwell_ms = dwell_ms;
	snprintf(s->outcome, sizeof(s->outcome), "%s", outcome);
	return 0;
}

int
record_bilayer(struct record *rec, int64_t batch_id, int n, double estimated_nm,
    double measured_nm)
{
	char what[64];

	(void)rec;
	(void)batch_id;
	snprintf(what, sizeof(what), "bilayer %d", n);
	if (fr_write("bilayer", what) == -1)
		return -1;
	if (n > 0 && n < FAKE_BILAYERS) {
		fr.bilayer_estimated_nm[n] = estimated_nm;
		fr.bilayer_measured_nm[n] = measured_nm;
		fr.bilayer_records[n]++;
		if (n > fr.bilayers)
			fr.bilayers = n;
	}
	return 0;
}

int
record_event(struct record *rec, int64_t batch_id, const char *kind, const char *device,
    const char *message)
{
	struct fake_event *e;

	(void)rec;
	(void)batch_id;
	if (fr_write("event", "an event") == -1)
		return -1;
	if (fr.event_count == FAKE_EVENTS)
		return 0;
	e = &fr.events[fr.event_count++];
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	snprintf(e->device, sizeof(e->device), "%s", device ? device : "");
	snprintf(e->message, sizeof(e->message), "%s", message);
	return 0;
}

int
record_state(struct record *rec, int64_t batch_id, const char *state, const char *cause)
{
	(void)rec;
	(void)batch_id;
	if (fr_write("state", "the batch's state") == -1)
		return -1;
	snprintf(fr.state, sizeof(fr.state), "%s", state);
	snprintf(fr.cause, sizeof(fr.cause), "%s", cause ? cause : "");
	if (strlen(fr.states) + strlen(state) + 2 < sizeof(fr.states))
		strcat(strcat(fr.states, fr.states[0] ? " " : ""), state);
	return 0;
}

int
record_solution(struct record *rec, int64_t batch_id, const char *name, const char *lot,
    int dips, double volume_ml, double area_cm2)
{
	int i;

	(void)rec;
	(void)batch_id;
	if (fr_write("solution", "a solution's use") == -1)
		return -1;
	for (i = 0; i < fr.solution_count && strcmp(fr.solutions[i].name, name) != 0; i++)
		;
	if (i == FAKE_SOLUTIONS)
		return 0;
	if (i == fr.solution_count)
		fr.solution_count++;
	snprintf(fr.solutions[i].name, sizeof(fr.solutions[i].name), "%s", name);
	snprintf(fr.solutions[i].lot, sizeof(fr.solutions[i].lot), "%s", lot ? lot : "");
	fr.solutions[i].dips = dips;
	fr.solutions[i].volume_ml = volume_ml;
	fr.solutions[i].area_cm2 = area_cm2;
	return 0;
}

/*
 * What a step's pumps counted, and a QCM baseline: written (and refusable)
 * like every other write; the test rigs' pumps have no counter and their
 * recipes no baseline, so a batch here makes neither.
 */
int
record_step_volume(struct record *rec, int64_t batch_id, int seq, double planned_ml,
    double measured_ml)
{
	char what[64];

	(void)rec;
	(void)batch_id;
	(void)planned_ml;
	(void)measured_ml;
	snprintf(what, sizeof(what), "the volume dispensed in step %d", seq);
	return fr_write("step_volume", what);
}

int
record_baseline(struct record *rec, int64_t batch_id, const char *sensor, double hz,
    const char *source)
{
	char what[96];

	(void)rec;
	(void)batch_id;
	(void)hz;
	(void)source;
	snprintf(what, sizeof(what), "the baseline of sensor %s", sensor);
	return fr_write("baseline", what);
}

void
record_group_begin(struct record *rec)
{
	(void)rec;
	if (fr.in_group)
		return;
	fr.in_group = 1;
	fr.groups++;
	fr.group_failed = 0;
	fr.group_why[0] = '\0';
	snprintf(fr.group_state, sizeof(fr.group_state), "%s", fr.state);
	snprintf(fr.group_cause, sizeof(fr.group_cause), "%s", fr.cause);
	snprintf(fr.group_states, sizeof(fr.group_states), "%s", fr.states);
}

int
record_group_commit(struct record *rec, char *why, size_t why_size)
{
	int failed = fr.group_failed;

	(void)rec;
	if (failed && why != NULL)
		snprintf(why, why_size, "%s", fr.group_why);
	if (failed) {
		/* the group's state write is rolled back with the refused one */
		snprintf(fr.state, sizeof(fr.state), "%s", fr.group_state);
		snprintf(fr.cause, sizeof(fr.cause), "%s", fr.group_cause);
		snprintf(fr.states, sizeof(fr.states), "%s", fr.group_states);
	}
	fr.in_group = 0;
	fr.group_failed = 0;
	return failed ? -1 : 0;
}

size_t
record_held(const struct record *rec, int64_t *held_ms)
{
	(void)rec;
	if (held_ms != NULL)
		*held_ms = 0;
	return 0;
}

int
record_held_by_self(const struct record *rec)
{
	(void)rec;
	return 0;
}

static struct fake_step *
rec_step(int seq)
{
	static struct fake_step none;

	return seq > 0 && seq < FAKE_STEPS ? &fr.steps[seq] : &none;
}

/* The number of events of kind (any kind if NULL) whose message contains text. */
static int
rec_events(const char *kind, const char *text)
{
	int i, n = 0;

	for (i = 0; i < fr.event_count; i++)
		if ((kind == NULL || strcmp(fr.events[i].kind, kind) == 0) &&
		    (text == NULL || strstr(fr.events[i].message, text) != NULL))
			n++;
	return n;
}

static int
rec_solution_dips(const char *name)
{
	int i;

	for (i = 0; i < fr.solution_count; i++)
		if (strcmp(fr.solutions[i].name, name) == 0)
			return fr.solutions[i].dips;
	return -1;
}

static double
rec_solution_volume(const char *name)
{
	int i;

	for (i = 0; i < fr.solution_count; i++)
		if (strcmp(fr.solutions[i].name, name) == 0)
			return fr.solutions[i].volume_ml;
	return NAN;
}

/*
 * Whether the record's solutions are the plan's (dips, volume, area), as
 * after a completed batch: each the sum of its steps' uses as compiled.
 */
static void
check_solutions_as_planned(const char *name, const struct plan *p)
{
	char label[160];
	size_t i;
	int k;

	for (i = 0; i < p->recipe->solution_count; i++) {
		const char *sol = p->recipe->solutions[i].name;
		const struct plan_solution *ps = &p->solutions[i];

		for (k = 0; k < fr.solution_count && strcmp(fr.solutions[k].name, sol) != 0; k++)
			;
		snprintf(label, sizeof(label), "%s: solution %s recorded as planned", name, sol);
		TEST_CHECK(label, k < fr.solution_count && fr.solutions[k].dips == ps->dips &&
		    fabs(fr.solutions[k].volume_ml - ps->volume_ml) < 1e-6 &&
		    fabs(fr.solutions[k].area_cm2 - ps->area_cm2) < 1e-6, "recorded %d dips, "
		    "%g mL, %g cm2; planned %d, %g, %g", k < fr.solution_count ?
		    fr.solutions[k].dips : -1, k < fr.solution_count ? fr.solutions[k].volume_ml :
		    NAN, k < fr.solution_count ? fr.solutions[k].area_cm2 : NAN, ps->dips,
		    ps->volume_ml, ps->area_cm2);
	}
}

/* ---- the database: only a batch's creation and a resume's read-back ---- */

static int fake_db_fail_create;

int
db_batch_create(struct db *db, const struct db_batch_new *b, int64_t *batch_id)
{
	(void)db;
	(void)b;
	if (fake_db_fail_create)
		return -1;
	*batch_id = 42;
	return 0;
}

int
db_solution_get(struct db *db, int64_t batch_id, const char *name, int *dips, double *volume_ml,
    double *area_cm2)
{
	int i;

	(void)db;
	(void)batch_id;
	for (i = 0; i < fr.solution_count; i++)
		if (strcmp(fr.solutions[i].name, name) == 0) {
			*dips = fr.solutions[i].dips;
			*volume_ml = fr.solutions[i].volume_ml;
			*area_cm2 = fr.solutions[i].area_cm2;
			return 0;
		}
	*dips = 0;
	*volume_ml = 0;
	*area_cm2 = 0;
	return 0;
}

/* A resume's read-back of a QCM baseline: none on record here. */
int
db_baseline_get(struct db *db, int64_t batch_id, const char *sensor, double *hz)
{
	(void)db;
	(void)batch_id;
	(void)sensor;
	*hz = NAN;
	return 0;
}

/* ---- act: every call logged, completed when the test says ---- */

struct fake_call {
	char text[96];		/* "move lift 90 10", "pump stir-ag 300", "output n2 on", ... */
	int seq;		/* the step begun last when the call came */
	int64_t at_ns;		/* when it leaves: when made, or its release if later */
	int64_t made_ns;	/* when the executor made it */
	int released;		/* it carried a release (act_release_at) */
	/*
	 * When its bus sent it (act_op_sent_ns): when it leaves, and a command
	 * made after its moment handoff_ns later still (its bus thread's
	 * wake, which a released one waits for ahead).
	 */
	int64_t sent_ns;
};

#define FAKE_CALLS	20000

static struct {
	const struct rig *rig;
	struct run *run;
	struct fake_call calls[FAKE_CALLS];
	int count;
	int pending;		/* an operation awaits completion: its call's index + 1 */
	int batch_first;	/* act_stops(): the pending operation's first call (index + 1), or 0 */
	int stops;		/* act_stops() batches made */
	int safe_pending;	/* a safe state awaits completion: 1 + park */
	int safe_states, last_park;
	int64_t move_ms;	/* how long a move takes on the fake clock */
	int fail_call;		/* complete this call (from 1) with a failure */
	const char *fail_text;	/* its error (NULL: "CALL: no answer (injected)") */
	int stall_call;		/* never complete this call (from 1): a device that hangs */
	int refuse_call;	/* refuse this call (from 1): the act_* call returns -1 */
	int hold_safe;		/* leave the safe state pending for the test */
	int safe_parks;		/* 1: the safe state parks when asked to; 0: it fails to */
	double reads[16];	/* values sensor reads return, in turn; then the last */
	int read_count, read_next;
	int safety;		/* a safety input is active */
	enum act_lift_state lift;
	int keep_alive;
	int supervised;		/* act_supervise() with devices, not NULL */
	int64_t next_deadline_ns;	/* the last act_next_deadline() */
	int can_arm;		/* act_can_arm() says yes (0: every start goes whole) */
	int arm_fail;		/* arms complete with a failure */
	int arm_late;		/* arms made while the run waits are answered after its deadline */
	int fire;		/* act_fire() was called: the next start is its trigger */
	int64_t release_ns;	/* act_release_at(): the next operation's moment, 0 none */
	int64_t handoff_ns;	/* an unreleased command is sent this long after it is made */
	int64_t answer_ns;	/* an operation is answered this long after it is sent */
	int answer_until_seq;	/* ... only those of steps up to this one (0: every one) */
	int64_t op_sent_ns;	/* act_op_sent_ns(): the last operation answered */
	int arms, fires;	/* arms made, starts fired */
	struct {		/* arms not yet answered, answered by fa_complete_arm() */
		hw_done_cb done;
		void *arg;
		struct hw_request req;
	} arm_q[16];
	int arm_open;		/* how many */
	/*
	 * act_then(): its start, asked (1) until the next operation, opened (2)
	 * until act_then_queue(), queued (3) until the one after takes it up; thens asked, taken (by an operation
	 * of the same text), mismatched (taken by another: act refuses that).
	 */
	int then_state;
	struct hw_request then_req;
	char then_text[96];
	int thens, thens_queued, thens_taken, then_mismatches, then_queue_calls;
} fa;

/* What the executor holds as its act: the fakes keep their state in fa. */
struct act {
	int unused;
};

static struct act fake_act_object;

static const char *
dev_name(int device)
{
	return device >= 0 && (size_t)device < fa.rig->device_count ?
	    fa.rig->devices[device].name : "?";
}

static int fa_step_seq(void);

static int
fa_call_count(void)
{
	return fa.count;
}

/* Logs a call; returns -1 when the test asked for it to be refused. */
static int
fa_call(int completes, const char *fmt, ...)
{
	struct fake_call *c;
	va_list ap;

	if (fa.count == FAKE_CALLS) {
		/* the log is the test's evidence: a call it cannot keep fails the test */
		TEST_CHECK("fake act: every call logged", 0, "more than %d calls", FAKE_CALLS);
		return -1;
	}
	c = &fa.calls[fa.count++];
	va_start(ap, fmt);
	vsnprintf(c->text, sizeof(c->text), fmt, ap);
	va_end(ap);
	c->seq = fa_step_seq();
	c->made_ns = c->at_ns = fake_now_ns;
	if (completes && fa.then_state == 3) {
		/*
		 * act_then()'s start taken up: it went on the buses as the
		 * operation before was answered (as this call is made, the
		 * fake loop being instant), or on its own release if later,
		 * sent by the bus's thread (no hand-off).
		 */
		fa.then_state = 0;
		if (strcmp(c->text, fa.then_text) == 0)
			fa.thens_taken++;
		else
			fa.then_mismatches++;
		fa.release_ns = 0;
		c->released = 1;
		if (fa.then_req.release_ns > c->at_ns)
			c->at_ns = fa.then_req.release_ns;
		c->sent_ns = c->at_ns;
		if (fa.count == fa.refuse_call)
			return -1;
		fa.pending = fa.count;
		return 0;
	}
	if (completes && fa.then_state == 2)
		fa.then_state = 0;	/* opened, never queued: forgotten, it goes now */
	else if (completes && fa.then_state == 1)
		fa.then_state = 2;
	/*
	 * An operation takes the release (act.c: act_submit), an arm does not.
	 * Its bus sends it then: its answer comes no earlier (complete_op).
	 */
	if (completes && fa.release_ns != 0) {
		c->released = 1;
		if (fa.release_ns > c->at_ns)
			c->at_ns = fa.release_ns;
		fa.release_ns = 0;
	}
	c->sent_ns = c->at_ns + (c->released ? 0 : fa.handoff_ns);
	if (fa.count == fa.refuse_call)
		return -1;
	if (completes)
		fa.pending = fa.count;
	return 0;
}

/* "fire " before a start that act_fire() said was armed. */
static const char *
fa_fired(void)
{
	int fire = fa.fire;

	fa.fire = 0;
	fa.fires += fire;
	return fire ? "fire " : "";
}

/*
 * hw_submit() refuses a release on a GPIO device (a line is set when
 * commanded), which would fail the batch: the executor must never give one.
 */
static void
fa_check_release(int device)
{
	/* checked on every command: counted only when it fails */
	if (fa.release_ns != 0 && device >= 0 && (size_t)device < fa.rig->device_count &&
	    fa.rig->devices[device].bus < 0)
		TEST_CHECK("a release goes only with a command on a Modbus bus", 0,
		    "%s (GPIO) was given one", dev_name(device));
}

int
act_move(struct act *act, int axis, double position_mm, double speed_mm_s)
{
	const char *fired = fa_fired();

	fa_check_release(axis);
	(void)act;
	return fa_call(1, "%smove %s %g %g", fired, dev_name(axis), position_mm, speed_mm_s);
}

int
act_output(struct act *act, int device, int on)
{
	fa_check_release(device);
	(void)act;
	return fa_call(1, "output %s %s", dev_name(device), on ? "on" : "off");
}

int
act_pump(struct act *act, int device, double flow_ml_min)
{
	const char *fired = fa_fired();

	fa_check_release(device);
	(void)act;
	return fa_call(1, "%spump %s %g", fired, dev_name(device), flow_ml_min);
}

int
act_line(struct act *act, int device, double speed_mm_s, int reverse)
{
	const char *fired = fa_fired();

	fa_check_release(device);
	(void)act;
	return fa_call(1, "%sline %s %.4g%s", fired, dev_name(device), speed_mm_s,
	    reverse ? " reverse" : "");
}

/*
 * A close's stops at once: each logged as the single command would be,
 * all made together; the operation is answered once, after the last, and
 * fails when any of its calls is the one to fail. A refused one refuses
 * the whole.
 */
int
act_stops(struct act *act, const struct hw_request *reqs, size_t n, char *err, size_t err_size)
{
	size_t i;
	int first = fa.count + 1, rc = 0;

	(void)act;
	for (i = 0; i < n; i++) {
		const struct hw_request *r = &reqs[i];
		int last = i + 1 == n;

		fa_check_release(r->device);
		if (r->value > 0)
			TEST_CHECK("act_stops: stops only", 0, "%s at %g", dev_name(r->device), r->value);
		if ((r->op == HW_OUTPUT ? fa_call(last, "output %s off", dev_name(r->device)) :
		    r->op == HW_PUMP ? fa_call(last, "pump %s 0", dev_name(r->device)) :
		    fa_call(last, "line %s 0%s", dev_name(r->device), r->reverse ? " reverse" : "")) == -1) {
			snprintf(err, err_size, "%s: refused (injected)", dev_name(r->device));
			rc = -1;
		}
	}
	fa.pending = rc == 0 ? fa.count : 0;
	fa.batch_first = rc == 0 ? first : 0;
	fa.stops += rc == 0;
	return rc;
}

int
act_read(struct act *act, int device)
{
	fa_check_release(device);
	(void)act;
	return fa_call(1, "read %s", dev_name(device));
}

/*
 * Pumps' volume counters (daemon/dispense.c): the fake rig's pumps have
 * none, so a step counts nothing and never reads one; a read asked for
 * anyway is refused, naming the device.
 */
int
act_volume_counter(const struct act *act, int device, double *wrap_ml)
{
	(void)act;
	(void)device;
	*wrap_ml = NAN;
	return 0;
}

int
act_read_volume(struct act *act, int device, unsigned tag, hw_done_cb done, void *arg,
    char *err, size_t err_size)
{
	(void)act;
	(void)tag;
	(void)done;
	(void)arg;
	snprintf(err, err_size, "%s has no volume counter (fake rig)", dev_name(device));
	return -1;
}

int
act_can_arm(const struct act *act, const struct hw_request *req, char *why, size_t why_size)
{
	(void)act;
	(void)req;
	if (!fa.can_arm)
		snprintf(why, why_size, "the fake rig arms nothing");
	return fa.can_arm;
}

/* An arm is logged and held: fa_complete_arm() answers it, as the bus would later. */
int
act_arm(struct act *act, const struct hw_request *req, hw_done_cb done, void *arg, char *err,
    size_t err_size)
{
	(void)act;
	(void)err;
	(void)err_size;
	fa.arms++;
	if (fa.arm_open == (int)(sizeof(fa.arm_q) / sizeof(fa.arm_q[0]))) {
		TEST_CHECK("fake act: every arm held", 0, "more than 16 arms open");
		return -1;
	}
	fa.arm_q[fa.arm_open].done = done;
	fa.arm_q[fa.arm_open].arg = arg;
	fa.arm_q[fa.arm_open++].req = *req;
	return fa_call(0, "arm %s %g", dev_name(req->device), req->value);
}

/* Answers the oldest arm open: read back, or failed when the test asked. */
static void
fa_complete_arm(void)
{
	struct hw_result res;
	struct hw_request req;
	hw_done_cb done;
	void *arg;

	if (fa.arm_open == 0)
		return;
	done = fa.arm_q[0].done;
	arg = fa.arm_q[0].arg;
	req = fa.arm_q[0].req;
	memmove(&fa.arm_q[0], &fa.arm_q[1], (size_t)--fa.arm_open * sizeof(fa.arm_q[0]));
	memset(&res, 0, sizeof(res));
	res.ok = !fa.arm_fail;
	if (fa.arm_fail)
		snprintf(res.error, sizeof(res.error), "device '%s' (bus fake, unit 1): armed %s "
		    "read back as 0, written %g", dev_name(req.device), req.op == HW_MOVE ?
		    "target" : "flow", req.value);
	done(arg, &req, &res);
}

/* act_then(): held as act holds it; the operation after the next takes it up (fa_call). */
int
act_then(struct act *act, const struct hw_request *req, char *err, size_t err_size)
{
	(void)act;
	if (fa.then_state != 0 || fa.rig->devices[req->device].bus < 0) {
		snprintf(err, err_size, "refused");
		TEST_CHECK("act_then: a Modbus request, one at a time", 0,
		    "%s op %d, state %d", dev_name(req->device), req->op, fa.then_state);
		return -1;
	}
	/* as act: not the lift's move, nor the transfer's unless the lift is withdrawn */
	if (req->op == HW_MOVE && (req->device == fa.rig->lift ||
	    (req->device == fa.rig->transfer && fa.lift != ACT_LIFT_WITHDRAWN))) {
		snprintf(err, err_size, "the lift's moves go with their step");
		return -1;
	}
	fa.thens++;
	fa.then_state = 1;
	fa.then_req = *req;
	if (req->op == HW_MOVE)
		snprintf(fa.then_text, sizeof(fa.then_text), "%smove %s %g %g",
		    req->stage == HW_FIRE ? "fire " : "", dev_name(req->device), req->value,
		    req->speed_mm_s);
	else if (req->op == HW_OUTPUT)
		snprintf(fa.then_text, sizeof(fa.then_text), "output %s %s", dev_name(req->device),
		    req->value != 0 ? "on" : "off");
	else if (req->op == HW_PUMP)
		snprintf(fa.then_text, sizeof(fa.then_text), "%spump %s %g",
		    req->stage == HW_FIRE ? "fire " : "", dev_name(req->device), req->value);
	else
		snprintf(fa.then_text, sizeof(fa.then_text), "%sline %s %.4g%s",
		    req->stage == HW_FIRE ? "fire " : "", dev_name(req->device), req->value,
		    req->reverse ? " reverse" : "");
	return 0;
}

int
act_then_queue(struct act *act, char *err, size_t err_size)
{
	(void)act;
	fa.then_queue_calls++;
	if (fa.then_state != 2) {
		/* as act: one asked for and not opened is forgotten, one queued stays */
		if (fa.then_state == 1)
			fa.then_state = 0;
		snprintf(err, err_size, "nothing to queue");
		return -1;
	}
	fa.then_state = 3;
	fa.thens_queued++;
	return 0;
}

void
act_fire(struct act *act)
{
	(void)act;
	fa.fire = 1;
}

void
act_release_at(struct act *act, int64_t release_ns)
{
	(void)act;
	fa.release_ns = release_ns;
}

int64_t
act_op_sent_ns(const struct act *act)
{
	(void)act;
	return fa.op_sent_ns;
}

int
act_safety_active(const struct act *act, char *why, size_t why_size)
{
	(void)act;
	if (fa.safety && why != NULL)
		snprintf(why, why_size, "e-stop 'estop' is pressed");
	return fa.safety;
}

int
act_input_holds(const struct act *act, int device, char *why, size_t why_size)
{
	(void)device;
	return act_safety_active(act, why, why_size);
}

void
act_safe_state(struct act *act, int park)
{
	(void)act;
	fa.release_ns = 0;
	fa.then_state = 0;
	fa.safe_states++;
	fa.last_park = park;
	fa.pending = 0;		/* the pending operation is dropped, never called back */
	fa_call(0, "safe%s", park ? " park" : "");
	fa.safe_pending = 1 + park;
}

int
act_waiting_text(const struct act *act, char *buf, size_t size)
{
	(void)act;
	if (!fa.safe_pending) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	snprintf(buf, size, "the stop of every device");
	return 1;
}

int
act_making_safe(const struct act *act)
{
	(void)act;
	return fa.safe_pending == 1;
}

int
act_safe_confirmed(const struct act *act)
{
	(void)act;
	return fa.safe_pending ? -1 : 1;
}

enum act_lift_state
act_lift_state(const struct act *act, double *position_mm)
{
	(void)act;
	if (position_mm != NULL)
		*position_mm = fa.lift == ACT_LIFT_WITHDRAWN ? 20 : NAN;
	return fa.lift;
}

void
act_note_position(struct act *act, int device, double position_mm)
{
	(void)act;
	(void)device;
	(void)position_mm;
}

void
act_require_readback(struct act *act)
{
	(void)act;
}

void
act_keep_alive(struct act *act, int on)
{
	(void)act;
	fa.keep_alive = on;
}

void
act_supervise(struct act *act, const unsigned char *in_use)
{
	(void)act;
	fa.supervised = in_use != NULL;
}

void
act_next_deadline(struct act *act, int64_t deadline_ns)
{
	(void)act;
	fa.next_deadline_ns = deadline_ns;
}

int
act_parked(const struct act *act)
{
	(void)act;
	return fa.lift == ACT_LIFT_WITHDRAWN;
}

void
act_substrate_text(const struct act *act, char *buf, size_t size)
{
	(void)act;
	snprintf(buf, size, "%s", fa.lift == ACT_LIFT_WITHDRAWN ? "withdrawn" : "lowered");
}

#include "run.c"

/*
 * The step a call belongs to: the step begun last on record, but while a
 * set's successor is on record with it (next_open), the set.
 */
static int
fa_step_seq(void)
{
	if (fa.run != NULL && fa.run->plan != NULL && fa.run->next_open &&
	    fa.run->step < fa.run->plan->count)
		return fa.run->plan->steps[fa.run->step].seq;
	return fr.last_begun;
}

/* Completes the pending operation: ok, or the failure the test asked for. */
static void
complete_op(void)
{
	struct fake_call *c = &fa.calls[fa.pending - 1];
	int index = fa.pending;
	double value = 0;
	char error[160];

	fa.pending = 0;
	/* a batch of stops fails when any of its calls is the one to */
	if (fa.batch_first != 0 && fa.fail_call >= fa.batch_first && fa.fail_call < index)
		index = fa.fail_call;
	fa.batch_first = 0;
	/* a released command leaves on its release, and is answered then (or answer_ns later) */
	if (fa.answer_until_seq == 0 || c->seq <= fa.answer_until_seq) {
		if (c->sent_ns + fa.answer_ns > fake_now_ns)
			fake_now_ns = c->sent_ns + fa.answer_ns;
	} else if (c->sent_ns > fake_now_ns) {
		fake_now_ns = c->sent_ns;
	}
	fa.op_sent_ns = c->sent_ns;
	if (strncmp(c->text, "move ", 5) == 0)
		fake_now_ns += fa.move_ms * 1000000;
	if (index == fa.fail_call) {
		snprintf(error, sizeof(error), "%s: no answer (injected)", fa.calls[index - 1].text);
		run_act_done(fa.run, 0, NAN, fa.fail_text ? fa.fail_text : error);
		return;
	}
	if (strncmp(c->text, "read ", 5) == 0 && fa.read_count > 0)
		value = fa.reads[fa.read_next < fa.read_count ? fa.read_next++ :
		    fa.read_count - 1];
	run_act_done(fa.run, 1, value, NULL);
}

static void
complete_safe(void)
{
	int park = fa.safe_pending == 2;

	fa.safe_pending = 0;
	if (park && !fa.safe_parks) {
		run_act_done(fa.run, 0, 0, "lift: no answer (injected)");
		return;
	}
	if (park)
		fa.lift = ACT_LIFT_WITHDRAWN;
	run_act_done(fa.run, 1, park ? 1 : 0, NULL);
}

/*
 * The loop: completes what is pending and fires timers, in order, until the
 * run waits for the test (a prompt, a pause, the end) or max events passed.
 * Returns the events handled.
 */
static enum run_state state_of(const struct run *run);

static int
drive(int max)
{
	int n;

	for (n = 0; n < max; n++) {
		if (fa.safe_pending && !fa.hold_safe)
			complete_safe();
		else if (fa.pending && fa.pending != fa.stall_call)
			complete_op();
		else if (fa.arm_open && (!fa.arm_late || state_of(fa.run) == RUN_STEP))
			fa_complete_arm();
		else if (!fake_fire_next())
			break;
	}
	return n;
}

/* ---- setting up a run ---- */

static struct rig *rigs[4];
static const char *const rig_names[] = { "dip", "spray", "roll", "spray2" };
static int notifications;
static struct run_status last_status;

static void
on_notify(void *arg, const struct run_status *st)
{
	(void)arg;
	notifications++;
	last_status = *st;
}

static const struct rig *
rig_named(const char *name)
{
	char path[1024];
	struct diag d;
	int i;

	for (i = 0; i < 4 && strcmp(rig_names[i], name) != 0; i++)
		;
	if (i == 4)
		return NULL;
	if (rigs[i] == NULL) {
		snprintf(path, sizeof(path), "%s/tests/data/rig-%s.yaml", top, name);
		diag_init(&d, path);
		/* a FAIL, not a crash further on (run from elsewhere than the top, say) */
		TEST_CHECK("test rig loads", rig_load(path, &d, &rigs[i]) == 0,
		    "%s: %d errors", path, d.errors);
		diag_free(&d);
	}
	return rigs[i];
}

/* Parses and plans recipe text on a rig; prints the diagnostics if it fails. */
static int
make_plan(const char *name, const char *text, const struct rig *rig, struct recipe **r,
    struct plan **p)
{
	struct diag d;
	size_t i;
	int rc = -1;

	*r = NULL;
	*p = NULL;
	diag_init(&d, name);
	if (recipe_load_buffer(name, text, strlen(text), rig, time(NULL), &d, r) == 0 &&
	    plan_build(*r, rig, time(NULL), &d, p) == 0 && d.errors == 0)
		rc = 0;
	if (rc == -1)
		for (i = 0; i < d.count; i++)
			printf("info: %s:%d:%d: %s\n", name, d.entries[i].line, d.entries[i].col,
			    d.entries[i].message);
	diag_free(&d);
	if (rc == -1) {
		plan_free(*p);
		recipe_free(*r);
		*p = NULL;
		*r = NULL;
	}
	return rc;
}

/*
 * The write to refuse in the next run, from its first (its solutions at the
 * start), and the act call to fail or refuse: set before run_start, which
 * may make the first of either.
 */
static int preset_fail_write, preset_fail_call, preset_refuse_call;
/* the fake act arms starts (act_can_arm), and its arms fail */
static int preset_can_arm, preset_arm_fail, preset_arm_late;
/* a safe state (lbld's start-up one) is under way, held, as the batch starts */
static int preset_making_safe;

/* Forgets every call, write and timer of the test before. */
static void
reset(const struct rig *rig)
{
	memset(&fa, 0, sizeof(fa));
	memset(&fr, 0, sizeof(fr));
	fr.fail_write = preset_fail_write;
	fa.fail_call = preset_fail_call;
	fa.refuse_call = preset_refuse_call;
	fa.can_arm = preset_can_arm;
	fa.arm_fail = preset_arm_fail;
	fa.arm_late = preset_arm_late;
	fa.rig = rig;
	fa.move_ms = 100;
	fa.safe_parks = 1;
	fa.lift = ACT_LIFT_WITHDRAWN;
	fa.safe_pending = fa.hold_safe = preset_making_safe;
	fake_db_fail_create = 0;
	notifications = 0;
	fake_loop_reset();
}

/* The time scale of the runs started next (lbld --time-scale). */
static double start_time_scale = 1;

/* A run on rig; the fakes' state is kept (lbld restarted on the same database). */
static struct run *
new_run_keep(const struct rig *rig)
{
	struct run_context ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.act = &fake_act_object;
	ctx.record = &fake_record_object;
	ctx.rig = rig;
	ctx.rig_id = 1;
	ctx.time_scale = start_time_scale;
	ctx.notify = on_notify;
	fa.run = run_new(&ctx);
	return fa.run;
}

static struct run *
new_run(const struct rig *rig)
{
	reset(rig);
	return new_run_keep(rig);
}

/*
 * The plan the test checks against: built again from the same text, as
 * the run owns its own and frees it when the batch ends.
 */
static struct recipe *check_recipe;
static struct plan *check_plan;

/*
 * A new run of recipe text on the named rig, started; NULL (and a FAIL)
 * when the recipe does not plan or the run does not start. *plan_out (may
 * be NULL) is a copy of the plan the run executes, valid until finish().
 */
static struct run *
start(const char *name, const char *rig_name, const char *text, const struct plan **plan_out)
{
	const struct rig *rig = rig_named(rig_name);
	struct run_options o;
	struct recipe *r;
	struct plan *p;
	struct run *run;
	int64_t batch = 0;
	char err[256] = "";

	if (rig == NULL || make_plan(name, text, rig, &r, &p) == -1 ||
	    make_plan(name, text, rig, &check_recipe, &check_plan) == -1) {
		TEST_CHECK(name, 0, "the recipe does not plan on rig %s", rig_name);
		return NULL;
	}
	if ((run = new_run(rig)) == NULL) {
		TEST_CHECK(name, 0, "run_new failed");
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	o.substrate = "glass";
	if (plan_out != NULL)
		*plan_out = check_plan;
	if (run_start(run, r, p, 1, &o, &batch, err, sizeof(err)) == -1) {
		TEST_CHECK(name, 0, "run_start: %s", err);
		plan_free(p);
		recipe_free(r);
		run_free(run);
		fa.run = NULL;
		return NULL;
	}
	TEST_EQ_INT(name, batch, 42);
	return run;
}

static void
finish(struct run *run)
{
	run_free(run);
	fa.run = NULL;
	plan_free(check_plan);
	recipe_free(check_recipe);
	check_plan = NULL;
	check_recipe = NULL;
}

/* The calls that came during step seq, "; "-separated. */
static const char *
calls_of(int seq)
{
	static char buf[16384];
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < fa.count; i++)
		if (fa.calls[i].seq == seq && used + strlen(fa.calls[i].text) + 3 < sizeof(buf))
			used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s",
			    used ? "; " : "", fa.calls[i].text);
	return buf;
}

/* How many calls of step seq start with prefix. */
static int
count_calls(int seq, const char *prefix)
{
	int i, n = 0;

	for (i = 0; i < fa.count; i++)
		if ((seq == 0 || fa.calls[i].seq == seq) &&
		    strncmp(fa.calls[i].text, prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

/* When the n-th call (from 1) of step seq that is exactly text came; -1 if none. */
static int64_t
call_at_ns(int seq, const char *text, int n)
{
	int i;

	for (i = 0; i < fa.count; i++)
		if (fa.calls[i].seq == seq && strcmp(fa.calls[i].text, text) == 0 && --n == 0)
			return fa.calls[i].at_ns;
	return -1;
}

/*
 * The n-th call (from 1) of step seq that is exactly text: when the
 * executor made it, and whether it carried a release; NULL if none.
 */
static const struct fake_call *
call_named(int seq, const char *text, int n)
{
	int i;

	for (i = 0; i < fa.count; i++)
		if (fa.calls[i].seq == seq && strcmp(fa.calls[i].text, text) == 0 && --n == 0)
			return &fa.calls[i];
	return NULL;
}

/* How many calls of step seq are exactly text. */
static int
count_exact(int seq, const char *text)
{
	int i, n = 0;

	for (i = 0; i < fa.count; i++)
		if (fa.calls[i].seq == seq && strcmp(fa.calls[i].text, text) == 0)
			n++;
	return n;
}

/* The first plan step of kind at bilayer (-1: any) from seq on; 0 if none. */
static int
find_step(const struct plan *p, int from_seq, enum step_kind kind, int bilayer)
{
	size_t i;

	for (i = from_seq > 0 ? (size_t)from_seq - 1 : 0; i < p->count; i++)
		if (p->steps[i].kind == kind && (bilayer < 0 || p->steps[i].bilayer == bilayer))
			return p->steps[i].seq;
	return 0;
}

/* Whether every step of the plan was recorded begun and ended "done". */
static int
all_done(const struct plan *p, char *why, size_t size)
{
	size_t i;

	for (i = 0; i < p->count; i++) {
		const struct fake_step *s = rec_step(p->steps[i].seq);
		if (!s->begun || !s->ended || strcmp(s->outcome, "done") != 0) {
			snprintf(why, size, "step %d: begun %d ended %d outcome '%s'",
			    p->steps[i].seq, s->begun, s->ended, s->outcome);
			return 0;
		}
	}
	snprintf(why, size, "all done");
	return 1;
}

static enum run_state
state_of(const struct run *run)
{
	struct run_status st;

	run_status(run, &st);
	return st.state;
}

/* Runs to the end, continuing every prompt; returns the prompts continued. */
static int
run_through(struct run *run)
{
	char err[256];
	int prompts = 0, guard;

	for (guard = 0; guard < 1000; guard++) {
		drive(1000000);
		if (state_of(run) != RUN_PROMPT)
			break;
		if (run_continue(run, err, sizeof(err)) == -1)
			break;
		prompts++;
	}
	return prompts;
}

/* ---- the recipes ---- */

/*
 * Every dip step kind on rig-dip: a dip with agitation and a first-cycle
 * dwell, a rinse, a dry with a valve at a station, quick dips, a measure
 * every 2 bilayers, a bath replaced by pumps after 2 cycles, a post wait
 * and the final park.
 */
static const char recipe_dip[] =
    "name: t-dip\n"
    "version: \"1\"\n"
    "process: dip\n"
    "substrate: {name: glass, area: 8 cm2, dragout: 0.05 mL}\n"
    "target: {bilayers: 4}\n"
    "growth: {model: linear, per_bilayer: 5 nm}\n"
    "resume: allowed\n"
    "drip: 2s\n"
    "solutions:\n"
    "  ag: {station: ag, volume: 200 mL}\n"
    "  tca: {station: tca, volume: 200 mL}\n"
    "  rinse-ag: {station: rinse-1, rinse: true, volume: 250 mL, change_after: {cycles: 2}}\n"
    "  rinse-tca: {station: rinse-2, rinse: true, volume: 250 mL}\n"
    "pre:\n"
    "  - prompt: Load the substrate\n"
    "cycle:\n"
    "  - dip: {solution: ag, dwell: 60s, speed_in: 10 mm/s, speed_out: 5 mm/s, depth: 30 mm,\n"
    "          agitation: 300 rpm, first_cycle: {dwell: 120s}}\n"
    "  - rinse: {solution: rinse-ag, dwell: 10s, depth: 35 mm}\n"
    "  - dry: {valve: n2, station: dryer, time: 5s}\n"
    "  - dip: {solution: tca, dwell: 30s, depth: 20 mm}\n"
    "  - rinse: {solution: rinse-tca, quick_dips: 3, dwell: 6s, depth: 35 mm}\n"
    "every:\n"
    "  - bilayers: 2\n"
    "    do:\n"
    "      - measure: {sensor: gauge, method: gauge, settle: 1s}\n"
    "post:\n"
    "  - wait: 3s\n";

/* The step numbers of recipe_dip's plan (lblctl plan prints them). */
enum { DIP_PROMPT = 1, DIP_AG1 = 2, DIP_RINSE1 = 3, DIP_DRY1 = 4, DIP_TCA1 = 5, DIP_QUICK1 = 6,
	DIP_AG2 = 7, DIP_MEASURE2 = 12, DIP_REPLACE = 13, DIP_AG3 = 14, DIP_MEASURE4 = 24,
	DIP_WAIT = 25, DIP_PARK = 26 };

/* Nested repeats, and a rinse of two baths, the first of 100 quick dips (the most). */
static const char recipe_repeat[] =
    "name: t-rep\n"
    "version: \"1\"\n"
    "process: dip\n"
    "substrate: {name: glass}\n"
    "target: {bilayers: 2}\n"
    "growth: {model: linear, per_bilayer: 5 nm}\n"
    "resume: allowed\n"
    "drip: 1s\n"
    "solutions:\n"
    "  ag: {station: ag, volume: 200 mL}\n"
    "  tca: {station: tca, volume: 200 mL}\n"
    "  rinse-ag: {station: rinse-1, rinse: true, volume: 300 mL}\n"
    "  rinse-tca: {station: rinse-2, rinse: true, volume: 300 mL}\n"
    "cycle:\n"
    "  - repeat:\n"
    "      times: 2\n"
    "      steps:\n"
    "        - wait: 1s\n"
    "        - repeat:\n"
    "            times: 3\n"
    "            steps:\n"
    "              - dip: {solution: tca, dwell: 2s}\n"
    "  - rinse: {solution: rinse-tca, dwell: 5s}\n"
    "  - dip: {solution: ag, dwell: 2s, agitation: 120 rpm}\n"
    "  - rinse:\n"
    "      baths:\n"
    "        - {solution: rinse-ag, quick_dips: 100, dwell: 1s}\n"
    "        - {solution: rinse-tca, dwell: 5s}\n";

static const char recipe_spray[] =
    "name: t-spray\n"
    "version: \"1\"\n"
    "process: spray\n"
    "substrate: {name: glass, area: 25 cm2}\n"
    "target: {bilayers: 2}\n"
    "growth: {model: linear, per_bilayer: 5 nm}\n"
    "resume: allowed\n"
    "solutions:\n"
    "  ag: {nozzle: ag, volume: 250 mL}\n"
    "  tca: {nozzle: tca, volume: 250 mL}\n"
    "  rinse: {nozzle: rinse, rinse: true, volume: 500 mL}\n"
    "cycle:\n"
    "  - spray: {solution: ag, time: 5s, flow: 20 mL/min, drain: 10s, first_cycle: {time: 8s}}\n"
    "  - spray: {solution: rinse, time: 10s, drain: 4s}\n"
    "  - dry: {valve: n2, time: 3s}\n"
    "  - spray: {solutions: [ag, tca], time: 2s, flow: 10 mL/min, drain: 1s}\n"
    "  - spray: {solution: rinse, time: 10s, drain: 4s}\n";

static const char recipe_roll[] =
    "name: t-roll\n"
    "version: \"1\"\n"
    "process: roll\n"
    "substrate: {name: web}\n"
    "target: {bilayers: 2}\n"
    "growth: {model: linear, per_bilayer: 5 nm}\n"
    "resume: forbidden\n"
    "line: {speed: 0.5 m/min, web_length: 1 m, web_width: 100 mm, rewind: 1min}\n"
    "solutions:\n"
    "  ag: {station: bath-a, volume: 2 L, top_up: 2 mL/min}\n"
    "  tca: {station: bath-b, volume: 2 L}\n"
    "  rinse-a: {station: rinse-a, rinse: true}\n"
    "  rinse-b: {station: rinse-b, rinse: true}\n"
    "pre:\n"
    "  - prompt: Thread the web\n"
    "cycle:\n"
    "  - bath: {solution: ag}\n"
    "  - rinse: {solution: rinse-a}\n"
    "  - dry: {station: knife, valve: knife-air}\n"
    "  - bath: {solution: tca}\n"
    "  - rinse: {solution: rinse-b}\n"
    "  - dry: {station: dryer}\n";

/* What the rig is told for recipe_dip's ag dip (agitated) and its tca dip, per bilayer. */
#define AG_DIP_CALLS	"move transfer 100 200; move lift 60 50; move lift 90 10; " \
	"pump stir-ag 300; pump stir-ag 0; move lift 60 5; move lift 20 50"
#define TCA_DIP_CALLS	"move transfer 200 200; move lift 60 50; move lift 80 50; " \
	"move lift 60 50; move lift 20 50"

/*
 * Whether the rig was told, step by step, exactly what the step's
 * compilation (recipes/compile.c, which lblctl plan --json prints) lists:
 * device, operation, value, order, nothing dropped or added; and whether
 * each step's recorded dwell is the sum of its compiled dwells (a wait
 * step's: its wait). Steps from
 * first_seq to last_seq (0: the plan's last).
 */
static void
check_as_compiled(const char *name, const struct plan *p, int first_seq, int last_seq)
{
	struct compile_state state;
	struct compile_list list;
	char want[16384], label[160];
	size_t i, j, used;
	int bad = 0, dwell_bad = 0;

	memset(&state, 0, sizeof(state));
	memset(&list, 0, sizeof(list));
	if (last_seq == 0)
		last_seq = (int)p->count;
	for (i = 0; i < p->count; i++) {
		const struct plan_step *s = &p->steps[i];
		int64_t dwell_ms = 0;

		if (compile_step(p->recipe, fa.rig, s, &state, &list) == -1) {
			TEST_CHECK(name, 0, "compile_step failed at step %d", s->seq);
			break;
		}
		if (s->seq < first_seq || s->seq > last_seq)
			continue;
		used = 0;
		want[0] = '\0';
		for (j = 0; j < list.count && used + 100 < sizeof(want); j++) {
			const struct compile_action *a = &list.actions[j];
			const char *sep = used ? "; " : "";
			const char *dev = dev_name(a->device);

			switch (a->kind) {
			case COMPILE_MOVE:
				used += (size_t)snprintf(want + used, sizeof(want) - used,
				    "%smove %s %g %g", sep, dev, a->value, a->speed_mm_s);
				break;
			case COMPILE_OUTPUT:
				used += (size_t)snprintf(want + used, sizeof(want) - used,
				    "%soutput %s %s", sep, dev, a->value != 0 ? "on" : "off");
				break;
			case COMPILE_PUMP:
				used += (size_t)snprintf(want + used, sizeof(want) - used,
				    "%spump %s %g", sep, dev, a->value);
				break;
			case COMPILE_LINE:
				used += (size_t)snprintf(want + used, sizeof(want) - used,
				    "%sline %s %.4g%s", sep, dev, a->value,
				    a->reverse ? " reverse" : "");
				break;
			case COMPILE_READ:
				used += (size_t)snprintf(want + used, sizeof(want) - used,
				    "%sread %s", sep, dev);
				break;
			case COMPILE_DWELL:
				dwell_ms += a->ms;
				break;
			case COMPILE_WAIT:
				/*
				 * a wait step's wait, a settle, a replacement's drain
				 * and fill are their dwell; a drip or a spray's drain not
				 */
				if (s->kind == STEP_WAIT || s->kind == STEP_MEASURE ||
				    s->kind == STEP_REPLACE)
					dwell_ms += a->ms;
				break;
			default:
				break;
			}
		}
		if (strcmp(calls_of(s->seq), want) != 0 && bad++ == 0)
			printf("info: %s: step %d was told '%s', compiled '%s'\n", name, s->seq,
			    calls_of(s->seq), want);
		/*
		 * Exact, or, for a step that ends on its dwell before a step
		 * begun ahead of its release, shorter by at most the hand-off's
		 * margin its close is learnt to leave (RUN_HANDOFF_NS).
		 */
		if ((rec_step(s->seq)->dwell_ms > dwell_ms || rec_step(s->seq)->dwell_ms <
		    dwell_ms - (RUN_HANDOFF_NS + 999999) / 1000000) && dwell_bad++ == 0)
			printf("info: %s: step %d dwelt %lld ms, compiled %lld\n", name, s->seq,
			    (long long)rec_step(s->seq)->dwell_ms, (long long)dwell_ms);
	}
	compile_list_free(&list);
	snprintf(label, sizeof(label), "%s: every step told as compiled", name);
	TEST_EQ_INT(label, bad, 0);
	snprintf(label, sizeof(label), "%s: every step's dwell as compiled", name);
	TEST_EQ_INT(label, dwell_bad, 0);
}

/* ---- the tests ---- */

static void
test_dip_batch(void)
{
	const struct plan *p;
	struct run *run = start("dip", "dip", recipe_dip, &p);
	char err[256], why[128];
	int i, stamps = 0;

	if (run == NULL)
		return;
	fa.reads[0] = 9.5;
	fa.reads[1] = 19.25;
	fa.read_count = 2;
	TEST_EQ_INT("dip: the plan's steps", p->count, DIP_PARK);
	drive(1000000);
	TEST_EQ_INT("dip: the pre prompt waits for the operator", state_of(run), RUN_PROMPT);
	TEST_STR("dip: status shows the prompt", last_status.message, "Load the substrate");
	TEST_EQ_INT("dip: nothing is told to the rig before continue", fa.count, 0);
	TEST_EQ_INT("dip: the prompt is an event", rec_events("prompt", "Load the substrate"), 1);
	TEST_EQ_INT("dip: continue while not prompted is refused",
	    run_continue(run, err, sizeof(err)) == 0 &&
	    run_continue(run, err, sizeof(err)) == -1, 1);
	run_through(run);

	TEST_EQ_INT("dip: the batch ends idle", state_of(run), RUN_IDLE);
	TEST_STR("dip: the batch's state", fr.states, "completed");
	TEST_CHECK("dip: every step done", all_done(p, why, sizeof(why)), "%s", why);
	TEST_EQ_INT("dip: no safe state", fa.safe_states, 0);
	TEST_EQ_INT("dip: the devices' own timeouts disarmed at the end", fa.keep_alive, 0);
	TEST_EQ_INT("dip: the completion is an event", rec_events("info", "batch completed"), 1);
	check_as_compiled("dip", p, 1, 0);
	check_solutions_as_planned("dip", p);

	/* what the rig was told, step by step */
	TEST_STR("dip: first agitated dip", calls_of(DIP_AG1), AG_DIP_CALLS);
	TEST_STR("dip: agitated dip of bilayer 2, as bilayer 1's", calls_of(DIP_AG2),
	    AG_DIP_CALLS);
	TEST_STR("dip: rinse", calls_of(DIP_RINSE1), "move transfer 500 200; move lift 60 50; "
	    "move lift 95 50; move lift 60 50; move lift 20 50");
	TEST_STR("dip: dry with the valve at the dryer", calls_of(DIP_DRY1),
	    "move transfer 700 200; output n2 on; output n2 off");
	TEST_STR("dip: plain dip", calls_of(DIP_TCA1), TCA_DIP_CALLS);
	TEST_STR("dip: three quick dips", calls_of(DIP_QUICK1), "move transfer 600 200; "
	    "move lift 60 50; move lift 95 50; move lift 60 50; move lift 95 50; "
	    "move lift 60 50; move lift 95 50; move lift 60 50; move lift 20 50");
	TEST_STR("dip: measure every 2 bilayers", calls_of(DIP_MEASURE2), "read gauge");
	TEST_STR("dip: measure after the last bilayer", calls_of(DIP_MEASURE4), "read gauge");
	TEST_EQ_INT("dip: no other measure", count_calls(0, "read "), 2);
	TEST_STR("dip: the bath replaced by its pumps", calls_of(DIP_REPLACE),
	    "pump drain-1 200; pump drain-1 0; pump fill-1 100; pump fill-1 0");
	TEST_STR("dip: the post wait tells the rig nothing", calls_of(DIP_WAIT), "");
	TEST_STR("dip: the park", calls_of(DIP_PARK), "move transfer 0 200");
	TEST_EQ_INT("dip: the stirrer runs once per agitated dip", count_calls(0,
	    "pump stir-ag 300"), 4);
	TEST_EQ_INT("dip: and is stopped as often", count_calls(0, "pump stir-ag 0"), 4);

	TEST_EQ_INT("dip: the stirrer runs the first-cycle dwell, exactly",
	    call_at_ns(DIP_AG1, "pump stir-ag 0", 1) - call_at_ns(DIP_AG1, "pump stir-ag 300", 1),
	    120000000000LL);
	TEST_EQ_INT("dip: and the later dwell in bilayer 2",
	    call_at_ns(DIP_AG2, "pump stir-ag 0", 1) - call_at_ns(DIP_AG2, "pump stir-ag 300", 1),
	    60000000000LL);
	TEST_EQ_INT("dip: each quick dip's dwell between immersion and withdrawal",
	    call_at_ns(DIP_QUICK1, "move lift 60 50", 4) -
	    call_at_ns(DIP_QUICK1, "move lift 95 50", 3), 100000000LL + 6000000000LL);
	TEST_EQ_INT("dip: the n2 valve open for the dry time",
	    call_at_ns(DIP_DRY1, "output n2 off", 1) - call_at_ns(DIP_DRY1, "output n2 on", 1),
	    5000000000LL);
	/* the record: dwells exact, motion as the fake rig took it (100 ms a move) */
	TEST_EQ_INT("dip: first-cycle dwell recorded", rec_step(DIP_AG1)->dwell_ms, 120000);
	TEST_EQ_INT("dip: later dwell recorded", rec_step(DIP_AG2)->dwell_ms, 60000);
	TEST_EQ_INT("dip: the dip's motion", rec_step(DIP_AG1)->motion_ms, 5 * 100);
	TEST_EQ_INT("dip: quick dips' dwell is their sum", rec_step(DIP_QUICK1)->dwell_ms, 18000);
	TEST_EQ_INT("dip: quick dips' motion", rec_step(DIP_QUICK1)->motion_ms, 9 * 100);
	TEST_EQ_INT("dip: dry time", rec_step(DIP_DRY1)->dwell_ms, 5000);
	TEST_EQ_INT("dip: post wait", rec_step(DIP_WAIT)->dwell_ms, 3000);
	TEST_EQ_INT("dip: the replacement takes its planned drain and fill",
	    rec_step(DIP_REPLACE)->duration_ms, 75000 + 150000);
	TEST_STR("dip: the replacement's kind", rec_step(DIP_REPLACE)->kind, "replace");
	TEST_STR("dip: the replacement's station", rec_step(DIP_REPLACE)->station, "rinse-1");
	TEST_STR("dip: a checkpoint step's phase", rec_step(DIP_MEASURE2)->phase, "checkpoint");
	TEST_STR("dip: the first dip's solution", rec_step(DIP_AG1)->solution, "ag");
	TEST_EQ_INT("dip: the first dip's bilayer", rec_step(DIP_AG1)->bilayer, 1);
	for (i = 0; i < (int)p->count; i++) {
		const struct fake_step *s = rec_step(p->steps[i].seq);
		if (s->actual_start_ms == p->steps[i].start_ms && s->planned_start_ms ==
		    p->steps[i].start_ms && s->planned_duration_ms == p->steps[i].duration_ms)
			stamps++;
	}
	TEST_EQ_INT("dip: every step began on its deadline (the prompt shifts the schedule)",
	    stamps, (int)p->count);
	for (i = 0; i < (int)p->count; i++)
		if (rec_step(i + 1)->actual_start_ms != p->steps[i].start_ms)
			printf("info: step %d began at %lld ms, planned %lld\n", i + 1,
			    (long long)rec_step(i + 1)->actual_start_ms,
			    (long long)p->steps[i].start_ms);
	TEST_EQ_INT("dip: each step begun once", rec_step(DIP_AG2)->begins, 1);
	TEST_EQ_INT("dip: four bilayers", fr.bilayers, 4);
	for (i = 1; i <= 4; i++) {
		char name[64];
		snprintf(name, sizeof(name), "dip: bilayer %d recorded once with its estimate", i);
		TEST_CHECK(name, fr.bilayer_records[i] == 1 &&
		    fabs(fr.bilayer_estimated_nm[i] - 5.0 * i) < 1e-9, "%d records, %g nm",
		    fr.bilayer_records[i], fr.bilayer_estimated_nm[i]);
	}
	TEST_CHECK("dip: bilayers 1 and 3 not measured", isnan(fr.bilayer_measured_nm[1]) &&
	    isnan(fr.bilayer_measured_nm[3]), "%g, %g", fr.bilayer_measured_nm[1],
	    fr.bilayer_measured_nm[3]);
	TEST_NEAR("dip: bilayer 2 measured", fr.bilayer_measured_nm[2], 9.5, 1e-9);
	TEST_NEAR("dip: bilayer 4 measured", fr.bilayer_measured_nm[4], 19.25, 1e-9);
	TEST_EQ_INT("dip: the measures are events", rec_events("info", "measured"), 2);
	TEST_EQ_INT("dip: ag dips", rec_solution_dips("ag"), 4);
	TEST_EQ_INT("dip: rinse-ag dips", rec_solution_dips("rinse-ag"), 4);
	TEST_EQ_INT("dip: quick dips counted one by one", rec_solution_dips("rinse-tca"), 12);
	TEST_NEAR("dip: ag drag-out", rec_solution_volume("ag"), 4 * 0.05, 1e-6);
	TEST_NEAR("dip: the plan's volumes", rec_solution_volume("rinse-tca"),
	    p->solutions[3].volume_ml, 1e-6);
	finish(run);
}

/* Nested repeats, 100 quick dips, a stirrer: in the plan's order, none dropped. */
static void
test_repeats_and_quick_dips(void)
{
	const struct plan *p;
	struct run *run = start("repeat", "dip", recipe_repeat, &p);
	char kinds[512] = "", why[128];
	int quick = 0, i, lowered = 0, raised = 0;

	if (run == NULL)
		return;
	run_through(run);
	TEST_STR("repeat: completed", fr.states, "completed");
	TEST_CHECK("repeat: every step done", all_done(p, why, sizeof(why)), "%s", why);
	check_as_compiled("repeat", p, 1, 0);
	for (i = 1; i <= (int)p->count && rec_step(i)->bilayer <= 1; i++)
		if (strlen(kinds) + 12 < sizeof(kinds))
			strcat(strcat(kinds, kinds[0] ? " " : ""), rec_step(i)->kind);
	TEST_STR("repeat: bilayer 1's steps as nested repeats give them", kinds,
	    "wait dip dip dip wait dip dip dip rinse dip rinse rinse");
	TEST_EQ_INT("repeat: tca dips", rec_solution_dips("tca"), 2 * 2 * 3);
	TEST_EQ_INT("repeat: tca immersions told to the rig", count_calls(0,
	    "move transfer 200 200"), 2 * 2 * 3);
	for (i = 0; i < (int)p->count; i++)
		if (p->steps[i].quick_dips == 100)
			quick = p->steps[i].seq;
	TEST_CHECK("repeat: a rinse bath of 100 quick dips", quick > 0, "none in the plan");
	if (quick > 0) {
		/* no depth given: the station's max_depth, 60 mm below its surface at 60 mm */
		lowered = count_calls(quick, "move lift 120 50");
		raised = count_exact(quick, "move lift 60 50");
		TEST_EQ_INT("quick dips: 100 immersions", lowered, 100);
		TEST_EQ_INT("quick dips: 100 withdrawals and the first lowering", raised, 101);
		TEST_EQ_INT("quick dips: then up to the safe height",
		    count_calls(quick, "move lift 20 50"), 1);
		TEST_EQ_INT("quick dips: dwell 100 x 1 s", rec_step(quick)->dwell_ms, 100000);
		TEST_EQ_INT("quick dips: every move timed", rec_step(quick)->motion_ms,
		    (1 + 1 + 200 + 1) * 100);
		TEST_CHECK("quick dips: the last call raises the substrate",
		    strstr(calls_of(quick), "move lift 120 50; move lift 60 50; "
		    "move lift 20 50") != NULL &&
		    strcmp(calls_of(quick) + strlen(calls_of(quick)) - strlen("move lift 20 50"),
		    "move lift 20 50") == 0, "%s", calls_of(quick));
	}
	TEST_EQ_INT("quick dips: 200 counted on the bath", rec_solution_dips("rinse-ag"), 200);
	i = find_step(p, 1, STEP_DIP, 1);
	while (i > 0 && strcmp(rec_step(i)->solution, "ag") != 0)
		i = find_step(p, i + 1, STEP_DIP, 1);
	TEST_STR("repeat: the agitated dip", calls_of(i), "move transfer 100 200; "
	    "move lift 60 50; move lift 120 50; pump stir-ag 120; pump stir-ag 0; "
	    "move lift 60 50; move lift 20 50");
	finish(run);
}

/*
 * The boundary: a rinse of 100 quick dips (the most) with its stirrer
 * running in each, 402 calls in one step, in a beaker with a stirrer.
 */
static void
test_quick_dips_with_stirrer(void)
{
	static const char text[] =
	    "name: t-stir\n"
	    "version: \"1\"\n"
	    "process: dip\n"
	    "substrate: {name: glass}\n"
	    "target: {bilayers: 1}\n"
	    "growth: {model: linear, per_bilayer: 5 nm}\n"
	    "resume: allowed\n"
	    "drip: 1s\n"
	    "solutions:\n"
	    "  ag: {station: ag, volume: 200 mL}\n"
	    "  tca: {station: tca, volume: 200 mL}\n"
	    "  rinse-cnt: {station: cnt, rinse: true, volume: 250 mL}\n"
	    "cycle:\n"
	    "  - dip: {solution: ag, dwell: 2s}\n"
	    "  - rinse: {solution: rinse-cnt, quick_dips: 100, dwell: 1s, speed_out: 25 mm/s,\n"
	    "            agitation: 300 rpm}\n"
	    "  - dip: {solution: tca, dwell: 2s}\n"
	    "  - rinse: {solution: rinse-cnt, dwell: 1s}\n";
	const struct plan *p;
	struct run *run = start("stirred quick dips", "dip", text, &p);
	char why[128];
	const char *calls;
	int seq = 2;

	if (run == NULL)
		return;
	run_through(run);
	TEST_STR("stirred quick dips: completed", fr.states, "completed");
	TEST_CHECK("stirred quick dips: every step done", all_done(p, why, sizeof(why)), "%s",
	    why);
	TEST_EQ_INT("stirred quick dips: the plan's", p->steps[seq - 1].quick_dips, 100);
	TEST_EQ_INT("stirred quick dips: 100 immersions", count_exact(seq, "move lift 120 50"),
	    100);
	TEST_EQ_INT("stirred quick dips: 100 stirrer starts", count_exact(seq,
	    "pump stir-cnt 300"), 100);
	TEST_EQ_INT("stirred quick dips: 100 stirrer stops", count_exact(seq, "pump stir-cnt 0"),
	    100);
	TEST_EQ_INT("stirred quick dips: 100 withdrawals", count_exact(seq, "move lift 60 25"),
	    100);
	TEST_EQ_INT("stirred quick dips: every call", count_calls(seq, ""), 1 + 1 + 4 * 100 + 1);
	calls = calls_of(seq);
	TEST_STR("stirred quick dips: the last dip whole, then up", calls + strlen(calls) -
	    strlen("move lift 120 50; pump stir-cnt 300; pump stir-cnt 0; move lift 60 25; "
	    "move lift 20 50"), "move lift 120 50; pump stir-cnt 300; pump stir-cnt 0; "
	    "move lift 60 25; move lift 20 50");
	TEST_EQ_INT("stirred quick dips: the dwell is 100 x 1 s", rec_step(seq)->dwell_ms,
	    100000);
	TEST_EQ_INT("stirred quick dips: the stirrer stays off in the plain rinse",
	    count_calls(4, "pump "), 0);
	TEST_EQ_INT("stirred quick dips: 101 dips of the rinse counted",
	    rec_solution_dips("rinse-cnt"), 101);
	check_as_compiled("stirred quick dips", p, 1, 0);
	finish(run);
}

static void
test_spray(void)
{
	const struct plan *p;
	struct run *run = start("spray", "spray", recipe_spray, &p);
	char why[128];

	if (run == NULL)
		return;
	run_through(run);
	TEST_STR("spray: completed", fr.states, "completed");
	TEST_CHECK("spray: every step done", all_done(p, why, sizeof(why)), "%s", why);
	check_as_compiled("spray", p, 1, 0);
	check_solutions_as_planned("spray", p);
	TEST_STR("spray: first spray, its flow", calls_of(1), "move transfer 250 100; "
	    "pump pump-ag 20; output valve-ag on; output valve-ag off; pump pump-ag 0");
	TEST_EQ_INT("spray: first-cycle time", rec_step(1)->dwell_ms, 8000);
	TEST_EQ_INT("spray: later time", rec_step(6)->dwell_ms, 5000);
	TEST_CONTAINS("spray: without a flow, the pump's maximum", calls_of(2),
	    "pump pump-rinse 100; output valve-rinse on; output valve-rinse off; "
	    "pump pump-rinse 0");
	TEST_STR("spray: dry by the valve alone", calls_of(3), "output n2 on; output n2 off");
	TEST_CONTAINS("spray: two solutions sprayed together", calls_of(4),
	    "pump pump-ag 10; output valve-ag on; pump pump-tca 10; output valve-tca on; "
	    "output valve-ag off; pump pump-ag 0; output valve-tca off; pump pump-tca 0");
	TEST_EQ_INT("spray: together, one dwell", rec_step(4)->dwell_ms, 2000);
	TEST_EQ_INT("spray: every pump started is stopped", count_calls(0, "pump ") -
	    2 * (count_calls(0, "pump pump-ag 0") + count_calls(0, "pump pump-tca 0") +
	    count_calls(0, "pump pump-rinse 0")), 0);
	TEST_STR("spray: the park", calls_of((int)p->count), "move transfer 0 100");
	TEST_EQ_INT("spray: ag sprays", rec_solution_dips("ag"), 4);
	/* plan steps hold volumes as floats */
	TEST_NEAR("spray: the plan's volumes", rec_solution_volume("rinse"),
	    p->solutions[2].volume_ml, 1e-4);
	finish(run);
}

/*
 * Arm, then fire: a start's setpoints are written during the step before's
 * last wait, and at its deadline only the trigger goes; the compiled list
 * is the same either way. A pump the step in hand still runs is not armed;
 * a failed arm fails the batch like any device fault, parked.
 */
static void
test_arm_then_fire(void)
{
	const struct plan *p;
	struct run *run;
	char why[128];

	preset_can_arm = 1;
	run = start("arm", "spray", recipe_spray, &p);
	preset_can_arm = 0;
	if (run == NULL)
		return;
	run_through(run);
	TEST_STR("arm: completed", fr.states, "completed");
	TEST_CHECK("arm: every step done", all_done(p, why, sizeof(why)), "%s", why);
	TEST_STR("arm: the first step armed before its record and deadline", calls_of(0),
	    "arm transfer 250; arm pump-ag 20");
	/* the next step is armed as the spray begins: the rest of the step does not use them */
	TEST_STR("arm: ... then fired", calls_of(1),
	    "fire move transfer 250 100; fire pump pump-ag 20; "
	    "output valve-ag on; arm transfer 250; arm pump-rinse 100; "
	    "output valve-ag off; pump pump-ag 0");
	/* the dry step after it has only its valve: nothing to arm */
	TEST_STR("arm: the rinse spray's start is its triggers alone", calls_of(2),
	    "fire move transfer 250 100; fire pump pump-rinse 100; output valve-rinse on; "
	    "output valve-rinse off; pump pump-rinse 0");
	TEST_CONTAINS("arm: both pumps of a double spray fired", calls_of(4),
	    "fire pump pump-ag 10; output valve-ag on; fire pump pump-tca 10; output valve-tca on");
	TEST_CHECK("arm: every arm fired", fa.fires == fa.arms, "%d arms, %d fires", fa.arms,
	    fa.fires);
	finish(run);

	/*
	 * Arms still on the bus at their deadline (the first step's, answered
	 * only once it began): the start waits for them, nothing goes twice.
	 */
	preset_can_arm = preset_arm_late = 1;
	run = start("arm late", "spray", recipe_spray, &p);
	preset_can_arm = preset_arm_late = 0;
	if (run == NULL)
		return;
	run_through(run);
	TEST_STR("arm late: completed", fr.states, "completed");
	TEST_STR("arm late: the first step's start waited for its arms, then fired",
	    calls_of(1), "fire move transfer 250 100; fire pump pump-ag 20; "
	    "output valve-ag on; arm transfer 250; arm pump-rinse 100; "
	    "output valve-ag off; pump pump-ag 0");
	TEST_CHECK("arm late: every arm fired, no setpoint sent twice", fa.fires == fa.arms &&
	    fa.arms > 0, "%d arms, %d fires", fa.arms, fa.fires);
	finish(run);

	preset_can_arm = preset_arm_fail = 1;
	run = start("arm fails", "spray", recipe_spray, &p);
	preset_can_arm = preset_arm_fail = 0;
	if (run == NULL)
		return;
	run_through(run);
	TEST_STR("arm fails: the batch failed", fr.state, "failed");
	TEST_CONTAINS("arm fails: the cause names the arm and the device", fr.cause,
	    "arming step 1's start: device 'transfer' (bus fake, unit 1): armed target");
	TEST_CHECK("arm fails: the rig made safe and parked", fa.safe_states >= 1 && fa.last_park,
	    "%d safe states, park %d", fa.safe_states, fa.last_park);
	TEST_EQ_INT("arm fails: nothing fired", fa.fires, 0);
	finish(run);
}

/*
 * On a serial line a step's first command leaves before its deadline by
 * the trigger's time on the wire (run_fire_lead_ns), so that it reaches
 * its device on the deadline, and the record's start is that arrival. A
 * set of no duration whose successor starts at the same moment with a
 * command on the same line leaves half a transaction earlier still (the
 * two then reach their devices either side of their moment). A step whose
 * first command is on GPIO, or that begins with a wait, has no lead; nor
 * has any step on Modbus TCP (the other tests: every start on its plan).
 */
static const char recipe_lead[] =
    "name: t-lead\n"
    "version: \"1\"\n"
    "process: spray\n"
    "substrate: {name: glass, area: 25 cm2}\n"
    "target: {bilayers: 2}\n"
    "growth: {model: linear, per_bilayer: 5 nm}\n"
    "resume: allowed\n"
    "solutions:\n"
    "  ag: {nozzle: ag, volume: 250 mL}\n"
    "  tca: {nozzle: tca, volume: 250 mL}\n"
    "cycle:\n"
    "  - spray: {solution: ag, time: 5s, flow: 20 mL/min, drain: 2s}\n"
    "  - set: {output: pump-rinse, value: 30 mL/min}\n"
    "  - wait: 2s\n"
    "  - set: {output: pump-rinse, value: off}\n"
    "  - spray: {solution: tca, time: 2s, flow: 20 mL/min, drain: 1s}\n"
    "  - dry: {valve: n2, time: 3s}\n";

static void
test_fire_lead(void)
{
	struct rig *rig = (struct rig *)rig_named("spray");
	struct rig_bus saved;
	const struct plan *p;
	struct run *run;
	const struct fake_call *c;
	int64_t t0, trigger_ns, pair_ns, txn_ns, learnt_ns;
	char why[128];

	if (rig == NULL) {
		TEST_CHECK("lead: the spray rig", 0, "does not load");
		return;
	}
	saved = rig->buses[0];
	rig->buses[0].type = RIG_BUS_RTU;
	rig->buses[0].baud = 19200;
	rig->buses[0].data_bits = 8;
	rig->buses[0].parity = 'N';
	rig->buses[0].stop_bits = 1;
	rig->buses[0].frame_delay_ms = 0;
	trigger_ns = (int64_t)(rig_bus_trigger_ms(&rig->buses[0]) * 1e6);
	txn_ns = (int64_t)(rig_bus_transaction_ms(&rig->buses[0]) * 1e6);
	pair_ns = trigger_ns + txn_ns / 2;
	TEST_CHECK("lead: a trigger's request at 19,200 baud 8N1 is 6 ms on the wire",
	    trigger_ns > 5900000 && trigger_ns < 6100000, "%lld ns", (long long)trigger_ns);
	run = start("lead", "spray", recipe_lead, &p);
	if (run == NULL) {
		rig->buses[0] = saved;
		return;
	}
	t0 = run->t0_ns;
	run_through(run);
	TEST_STR("lead: completed", fr.states, "completed");
	TEST_CHECK("lead: every step done", all_done(p, why, sizeof(why)), "%s", why);
	TEST_EQ_INT("lead: the spray's go leaves a trigger's time early",
	    call_at_ns(1, "move transfer 250 100", 1), t0 - trigger_ns);
	TEST_EQ_INT("lead: a set followed by a wait leaves a trigger's time early",
	    call_at_ns(2, "pump pump-rinse 30", 1),
	    t0 + p->steps[1].start_ms * 1000000 - trigger_ns);
	TEST_EQ_INT("lead: a set sharing its moment with a spray leaves half a transaction "
	    "earlier still", call_at_ns(4, "pump pump-rinse 0", 1),
	    t0 + p->steps[3].start_ms * 1000000 - pair_ns);
	/*
	 * Here the set is answered at once (no line, no disk), and the spray
	 * goes on its own deadline, half the first gap after the set: that
	 * is the gap learnt, a quarter of the way.
	 */
	learnt_ns = txn_ns + (txn_ns / 2 - txn_ns) / 4;
	TEST_EQ_INT("lead: the next such set goes half the gap learnt from the first early",
	    call_at_ns(10, "pump pump-rinse 0", 1),
	    t0 + p->steps[9].start_ms * 1000000 - trigger_ns - learnt_ns / 2);
	TEST_EQ_INT("lead: a dry step's GPIO valve goes on its deadline",
	    call_at_ns(6, "output n2 on", 1), t0 + p->steps[5].start_ms * 1000000);
	/*
	 * Begun ahead, released on the moment: a step whose first command
	 * goes on a Modbus bus is made RUN_ISSUE_EARLY_NS before it leaves,
	 * and its bus sends it then; a GPIO valve is set when made, so its
	 * step is begun on the moment, with no release (fa_check_release).
	 */
	c = call_named(1, "move transfer 250 100", 1);
	TEST_CHECK("lead: the spray's go is made early and released on its moment",
	    c != NULL && c->released && c->at_ns - c->made_ns == RUN_ISSUE_EARLY_NS,
	    "released %d, made %lld ns before it left", c ? c->released : -1,
	    c ? (long long)(c->at_ns - c->made_ns) : -1LL);
	c = call_named(4, "pump pump-rinse 0", 1);
	TEST_CHECK("lead: so is the first of a pair at one moment",
	    c != NULL && c->released && c->at_ns - c->made_ns == RUN_ISSUE_EARLY_NS,
	    "released %d, made %lld ns before it left", c ? c->released : -1,
	    c ? (long long)(c->at_ns - c->made_ns) : -1LL);
	c = call_named(6, "output n2 on", 1);
	TEST_CHECK("lead: a dry step's GPIO valve is made on its moment, not released",
	    c != NULL && !c->released && c->at_ns == c->made_ns, "released %d, made %lld ns "
	    "before it left", c ? c->released : -1, c ? (long long)(c->at_ns - c->made_ns) :
	    -1LL);
	TEST_EQ_INT("lead: on record, the spray starts when its go arrives",
	    rec_step(1)->actual_start_ms, p->steps[0].start_ms);
	TEST_EQ_INT("lead: ... and the set",
	    rec_step(2)->actual_start_ms, p->steps[1].start_ms);
	TEST_EQ_INT("lead: ... and the dry step",
	    rec_step(6)->actual_start_ms, p->steps[5].start_ms);
	/*
	 * The spray sharing its moment with the set goes on record with the
	 * set, in one commit before the set's command (the set after a drain
	 * has its record committed its lead ahead, waiting as every other
	 * commit): no commit lies between the two commands. The set's end is
	 * written once the spray's first command is made. A step after one
	 * that ends on its commands (the dry step's n2 off) is recorded
	 * between the two (lbld's database waits for the disk in no commit:
	 * db_no_wait, test_db and test_record).
	 */
	TEST_CHECK("lead: the spray after a set at its moment goes on record with the set",
	    rec_step(5)->begin_group == rec_step(4)->begin_group &&
	    rec_step(11)->begin_group == rec_step(10)->begin_group, "groups: steps 4, 5: %d %d; "
	    "10, 11: %d %d", rec_step(4)->begin_group, rec_step(5)->begin_group,
	    rec_step(10)->begin_group, rec_step(11)->begin_group);
	c = call_named(4, "pump pump-rinse 0", 1);
	TEST_CHECK("lead: ... before the set's command", c != NULL &&
	    rec_step(5)->begin_calls <= (int)(c - fa.calls), "spray on record after %d calls, "
	    "the set is call %d", rec_step(5)->begin_calls, c ? (int)(c - fa.calls) : -1);
	TEST_CHECK("lead: the drain before the set ended for its lead, no sooner",
	    call_at_ns(2, "pump pump-rinse 30", 1) >= t0 + (p->steps[1].start_ms -
	    p->steps[0].duration_ms / RUN_ABSORB_DIVISOR) * 1000000, "set at %lld ms",
	    (long long)(call_at_ns(2, "pump pump-rinse 30", 1) - t0) / 1000000);
	finish(run);
	rig->buses[0] = saved;
}

/*
 * A set and the step sharing its moment on another bus (rig-spray2: the
 * valves on an RTU line, the drives on TCP): still a pair (steps 3, 4). The set goes
 * half a transaction of its line early (and its trigger's time), the
 * second goes on its moment, and both go on record together.
 */
static const char recipe_pair_buses[] =
    "name: t-pair-buses\n"
    "version: \"1\"\n"
    "process: spray\n"
    "substrate: {name: glass, area: 25 cm2}\n"
    "target: {bilayers: 1}\n"
    "growth: {model: linear, per_bilayer: 5 nm}\n"
    "resume: allowed\n"
    "solutions:\n"
    "  ag: {nozzle: ag, volume: 250 mL}\n"
    "  tca: {nozzle: tca, volume: 250 mL}\n"
    "  rinse: {nozzle: rinse, volume: 500 mL, rinse: true}\n"
    "cycle:\n"
    "  - spray: {solution: ag, time: 2s, flow: 20 mL/min, drain: 1s}\n"
    "  - spray: {solution: rinse, time: 2s, flow: 20 mL/min, drain: 1s}\n"
    "  - set: {output: valve-rinse, value: off}\n"
    "  - spray: {solution: tca, time: 2s, flow: 20 mL/min, drain: 1s}\n"
    "  - spray: {solution: rinse, time: 2s, flow: 20 mL/min, drain: 1s}\n"
    "  - set: {output: valve-rinse, value: off}\n"
    "  - wait: 2s\n";

/*
 * Runs recipe on rig rig_name through to its end (test "name"), which
 * must complete with every step done; *t0 its origin, *txn_ns a
 * transaction of the rig's bus `bus`. NULL when the rig or the recipe
 * does not load (a failed check says so).
 */
static struct run *
run_completed(const char *name, const char *rig_name, const char *recipe, int bus,
    const struct plan **p, int64_t *t0, int64_t *txn_ns)
{
	const struct rig *rig = rig_named(rig_name);
	struct run *run;
	char what[128], why[128];

	if (rig == NULL) {
		snprintf(what, sizeof(what), "%s: the rig", name);
		TEST_CHECK(what, 0, "does not load");
		return NULL;
	}
	*txn_ns = (int64_t)(rig_bus_transaction_ms(&rig->buses[bus]) * 1e6);
	if ((run = start(name, rig_name, recipe, p)) == NULL)
		return NULL;
	*t0 = run->t0_ns;
	run_through(run);
	snprintf(what, sizeof(what), "%s: completed", name);
	TEST_STR(what, fr.states, "completed");
	snprintf(what, sizeof(what), "%s: every step done", name);
	TEST_CHECK(what, all_done(*p, why, sizeof(why)), "%s", why);
	return run;
}

static void
test_pair_across_buses(void)
{
	const struct plan *p;
	struct run *run;
	int64_t t0, trigger_ns, txn_ns;

	run = run_completed("pair across buses", "spray2", recipe_pair_buses, 1, &p, &t0, &txn_ns);
	if (run == NULL)
		return;
	trigger_ns = (int64_t)(rig_bus_trigger_ms(&run->ctx.rig->buses[1]) * 1e6);
	TEST_EQ_INT("pair across buses: the set (on the RTU line) goes half a transaction "
	    "early", call_at_ns(3, "output valve-rinse off", 1),
	    t0 + p->steps[2].start_ms * 1000000 - trigger_ns - txn_ns / 2);
	TEST_EQ_INT("pair across buses: the spray's go (on TCP) on its moment",
	    call_at_ns(4, "move transfer 250 100", 1), t0 + p->steps[3].start_ms * 1000000);
	TEST_CHECK("pair across buses: both on record together",
	    rec_step(4)->begin_group == rec_step(3)->begin_group, "groups %d %d",
	    rec_step(3)->begin_group, rec_step(4)->begin_group);
	TEST_EQ_INT("pair across buses: a set before a wait is no pair (on its moment, less "
	    "its trigger)", call_at_ns(6, "output valve-rinse off", 1),
	    t0 + p->steps[5].start_ms * 1000000 - trigger_ns);
	finish(run);
}

/*
 * A pair's gap is learnt from when the buses sent the two commands, not
 * from when the executor began the second: here the set is answered
 * answer_ns after it leaves (past the second's moment), and a command
 * made after its moment leaves its bus handoff_ns after it is made (the
 * bus thread's wake). The gap is then answer + hand-off; learnt from the
 * executor's own beginning it came out short by the hand-off, and the
 * second reached its device that much later than the set went early.
 */
static void
test_pair_gap_from_sends(void)
{
	const struct rig *rig = rig_named("spray");
	const struct plan *p;
	struct run *run;
	const struct fake_call *set, *second;
	int64_t t0, txn_ns, gap_ns, learnt_ns;
	char why[128];

	if (rig == NULL) {
		TEST_CHECK("pair gap: the rig", 0, "does not load");
		return;
	}
	txn_ns = (int64_t)(rig_bus_transaction_ms(&rig->buses[0]) * 1e6);
	run = start("pair gap", "spray", recipe_lead, &p);
	if (run == NULL)
		return;
	fa.answer_ns = txn_ns * 8 / 10;
	fa.handoff_ns = txn_ns * 3 / 10;
	t0 = run->t0_ns;
	run_through(run);
	TEST_STR("pair gap: completed", fr.states, "completed");
	TEST_CHECK("pair gap: every step done", all_done(p, why, sizeof(why)), "%s", why);
	set = call_named(4, "pump pump-rinse 0", 1);
	second = call_named(5, "move transfer 250 100", 1);
	TEST_CHECK("pair gap: the set is released half a transaction early",
	    set != NULL && set->released &&
	    set->sent_ns == t0 + p->steps[3].start_ms * 1000000 - txn_ns / 2,
	    "sent at %lld ns from its moment", set ? (long long)(set->sent_ns - t0 -
	    p->steps[3].start_ms * 1000000) : 0LL);
	/* it follows the set on the buses (act_then): no hand-off to its bus thread */
	TEST_CHECK("pair gap: the second is sent on the set's answer, past its moment",
	    second != NULL && second->sent_ns == set->sent_ns + fa.answer_ns,
	    "sent %lld ns after the set", second && set ? (long long)(second->sent_ns -
	    set->sent_ns) : 0LL);
	gap_ns = fa.answer_ns;
	learnt_ns = txn_ns + (gap_ns - txn_ns) / 4;
	TEST_EQ_INT("pair gap: the next set goes half the gap between the sends early",
	    call_at_ns(10, "pump pump-rinse 0", 1),
	    t0 + p->steps[9].start_ms * 1000000 - learnt_ns / 2);
	finish(run);
}

/*
 * Two sets and a spray at one moment: two pairs, the second set being the
 * second of the first and the set of the next. Both gaps are learnt (the
 * first was lost when the second set began its own pair): here each
 * command is answered as it leaves, so the second set goes on its
 * release, the first's, and the first gap learnt is none.
 */
/* Two bilayers of a spray and a set of the rinse pump at the moment of what follows. */
#define PAIR_RECIPE_HEAD \
    "version: \"1\"\n" \
    "process: spray\n" \
    "substrate: {name: glass, area: 25 cm2}\n" \
    "target: {bilayers: 2}\n" \
    "growth: {model: linear, per_bilayer: 5 nm}\n" \
    "resume: allowed\n" \
    "solutions:\n" \
    "  ag: {nozzle: ag, volume: 250 mL}\n" \
    "  tca: {nozzle: tca, volume: 250 mL}\n" \
    "cycle:\n" \
    "  - spray: {solution: ag, time: 2s, flow: 20 mL/min, drain: 1s}\n" \
    "  - set: {output: pump-rinse, value: off}\n"

static const char recipe_chain[] =
    "name: t-chain\n"
    PAIR_RECIPE_HEAD
    "  - set: {output: valve-rinse, value: off}\n"
    "  - spray: {solution: tca, time: 2s, flow: 20 mL/min, drain: 1s}\n";

static void
test_pair_chain(void)
{
	const struct plan *p;
	struct run *run;
	int64_t t0, txn_ns, learnt_ns;

	run = run_completed("pair chain", "spray", recipe_chain, 0, &p, &t0, &txn_ns);
	if (run == NULL)
		return;
	TEST_EQ_INT("pair chain: the first set goes half a transaction early",
	    call_at_ns(2, "pump pump-rinse 0", 1), t0 + p->steps[1].start_ms * 1000000 - txn_ns / 2);
	learnt_ns = txn_ns + (0 - txn_ns) / 4;
	TEST_EQ_INT("pair chain: the next first set goes half the gap learnt from the first early",
	    call_at_ns(6, "pump pump-rinse 0", 1),
	    t0 + p->steps[5].start_ms * 1000000 - learnt_ns / 2);
	finish(run);
}

/* Six bilayers of two sprays without a drain, after the recipe's name line. */
#define TAIL_RECIPE_HEAD \
    "version: \"1\"\n" \
    "process: spray\n" \
    "substrate: {name: glass, area: 25 cm2}\n" \
    "target: {bilayers: 6}\n" \
    "growth: {model: linear, per_bilayer: 5 nm}\n" \
    "resume: allowed\n" \
    "solutions:\n" \
    "  ag: {nozzle: ag, volume: 250 mL}\n" \
    "  tca: {nozzle: tca, volume: 250 mL}\n" \
    "cycle:\n"

/*
 * A step that ends on its commands (a spray without a drain) ends its
 * dwell early by what its close is learnt to take (run_learn_tail):
 * half a lateness (at most 2 ms of it), a sixteenth of an earliness up to
 * 5 us, so that the margin settles where a late close is rare rather than
 * at the closes' mean (where the next step was late half the time). Here
 * each command of the first six sprays is answered 2 ms after it leaves
 * (the close is late, the margin grows), then at once (the close is early,
 * it shrinks slowly).
 */
static const char recipe_tail[] =
    "name: t-tail\n"
    TAIL_RECIPE_HEAD
    "  - spray: {solution: ag, time: 1s, flow: 20 mL/min}\n"
    "  - spray: {solution: tca, time: 1s, flow: 20 mL/min}\n";

/* The first valve's off of step seq, or NULL. */
static const struct fake_call *
call_valve_off(int seq)
{
	int i;
	size_t len;

	for (i = 0; i < fa.count; i++) {
		len = strlen(fa.calls[i].text);
		if (fa.calls[i].seq == seq && strncmp(fa.calls[i].text, "output valve-", 13) == 0 &&
		    len > 4 && strcmp(fa.calls[i].text + len - 4, " off") == 0)
			return &fa.calls[i];
	}
	return NULL;
}

/* The last call of step seq made, or NULL. */
static const struct fake_call *
call_last(int seq)
{
	const struct fake_call *c = NULL;
	int i;

	for (i = 0; i < fa.count; i++)
		if (fa.calls[i].seq == seq)
			c = &fa.calls[i];
	return c;
}

static void
test_learn_tail(void)
{
	const struct plan *p;
	struct run *run;
	const struct fake_call *off, *off_next, *last;
	int64_t t0, lead, lead_next, ready, ready_by, err, want;
	int n, grew = 0, shrank = 0, exact = 0;
	char why[128];

	run = start("tail", "spray", recipe_tail, &p);
	if (run == NULL)
		return;
	fa.answer_ns = 2000000;
	fa.answer_until_seq = 6;
	fa.move_ms = 0;		/* the transfer stays at the booth */
	t0 = run->t0_ns;
	run_through(run);
	TEST_STR("tail: completed", fr.states, "completed");
	TEST_CHECK("tail: every step done", all_done(p, why, sizeof(why)), "%s", why);
	/* from the second spray: the first one's travel was planned and not needed */
	for (n = 2; n + 2 <= (int)p->count; n++) {
		off = call_valve_off(n);
		off_next = call_valve_off(n + 1);
		last = call_last(n);
		if (off == NULL || off_next == NULL || last == NULL) {
			TEST_CHECK("tail: the calls of each spray", 0, "step %d", n);
			break;
		}
		/* how early each dwell ended before its step's end */
		lead = t0 + p->steps[n].start_ms * 1000000 - off->at_ns;
		lead_next = t0 + p->steps[n + 1].start_ms * 1000000 - off_next->at_ns;
		/*
		 * The close was done when its last command was answered; it is
		 * learnt to be done the hand-off's margin before the next
		 * step's moment, not the timer's issue margin.
		 */
		ready = last->sent_ns + (n <= fa.answer_until_seq ? fa.answer_ns : 0);
		ready_by = t0 + p->steps[n].start_ms * 1000000 - RUN_HANDOFF_NS;
		err = ready - ready_by;
		/*
		 * half a lateness (at most 2 ms of it), a sixteenth of an
		 * earliness up to 5 us; the kind's first close to teach (the
		 * second spray's: the first's dwell was held by its travel)
		 * teaches its lateness whole
		 */
		want = err > 0 ? (err > RUN_TAIL_STEP_NS ? RUN_TAIL_STEP_NS : err) /
		    (n == 2 ? 1 : RUN_TAIL_GAIN) :
		    -err / RUN_TAIL_GAIN_EARLY > RUN_TAIL_EASE_NS ? -RUN_TAIL_EASE_NS :
		    err / RUN_TAIL_GAIN_EARLY;
		if (lead + want < 0)
			want = -lead;	/* never less than none */
		exact += lead_next - lead == want;
		grew += err > 0 && lead_next > lead;
		shrank += err < 0 && lead_next < lead;
		if (lead_next - lead != want)
			printf("info: tail: spray %d: close %+lld ns from the next step's hand-off, "
			    "margin %lld -> %lld ns (want a change of %lld)\n", n, (long long)err,
			    (long long)lead, (long long)lead_next, (long long)want);
	}
	TEST_EQ_INT("tail: each spray's margin moved by half a late close, a sixteenth of an "
	    "early one up to 5 us", exact, (int)p->count - 3);
	TEST_CHECK("tail: late closes made it grow, early ones shrink", grew >= 3 && shrank >= 3,
	    "grew %d times, shrank %d", grew, shrank);
	finish(run);
}

/*
 * A kind of step whose close has taught nothing yet ends its dwell by the
 * largest margin another kind has learnt: the first dry step after sprays
 * whose closes came late by 2 ms ends its dwell by the sprays' margin, not
 * by none (its close then came late by most of it, as each kind's first
 * closes did).
 */
static const char recipe_tail_seed[] =
    "name: t-tail-seed\n"
    TAIL_RECIPE_HEAD
    "  - spray: {solution: ag, time: 1s, flow: 20 mL/min}\n"
    "  - spray: {solution: tca, time: 1s, flow: 20 mL/min}\n"
    "  - dry: {valve: n2, time: 1s}\n";

static int drive_into(struct run *run, int seq);

static void
test_tail_seed(void)
{
	const struct plan *p;
	const struct fake_call *off;
	struct run *run;
	int64_t t0, spray_ns, lead;
	char why[128];

	run = start("tail seed", "spray", recipe_tail_seed, &p);
	if (run == NULL)
		return;
	fa.answer_ns = 2000000;
	fa.answer_until_seq = 2;
	fa.move_ms = 0;
	t0 = run->t0_ns;
	drive_into(run, 3);
	spray_ns = run->tail_ns[STEP_SPRAY];
	TEST_CHECK("tail seed: the sprays' closes taught a margin", spray_ns > 0, "none");
	run_through(run);
	TEST_STR("tail seed: completed", fr.states, "completed");
	TEST_CHECK("tail seed: every step done", all_done(p, why, sizeof(why)), "%s", why);
	off = call_named(3, "output n2 off", 1);
	lead = off != NULL ? t0 + p->steps[3].start_ms * 1000000 - off->at_ns : -1;
	TEST_EQ_INT("tail seed: the first dry step's dwell ended by the sprays' margin", lead,
	    spray_ns);
	/*
	 * Its close was early (only the sprays' commands are answered late
	 * here): it corrects the seed down whole, not by 5 us.
	 */
	off = call_named(6, "output n2 off", 1);
	TEST_CHECK("tail seed: the next dry step's margin came down from the seed at once",
	    off != NULL && t0 + p->steps[6].start_ms * 1000000 - off->at_ns < lead / 2,
	    "%lld ns, from %lld", off ? (long long)(t0 + p->steps[6].start_ms * 1000000 -
	    off->at_ns) : -1LL, (long long)lead);
	finish(run);
}

/*
 * Sprays of 100 ms without a drain whose every command is answered 4 ms
 * late: each dwell starts 12 ms into its step and may give up only a
 * twentieth of itself, so it ends on that bound, however large the margin
 * learnt: the margin decides nothing, and nothing is learnt. Before, each
 * late close wound the margin up (2 ms a step here) for every later spray,
 * longer ones included.
 */
static const char recipe_tail_held[] =
    "name: t-tail-held\n"
    TAIL_RECIPE_HEAD
    "  - spray: {solution: ag, time: 100ms, flow: 20 mL/min}\n"
    "  - spray: {solution: tca, time: 100ms, flow: 20 mL/min}\n";

static void
test_tail_held(void)
{
	const struct plan *p;
	struct run *run;
	char why[128];

	run = start("tail held", "spray", recipe_tail_held, &p);
	if (run == NULL)
		return;
	fa.answer_ns = 4000000;
	fa.move_ms = 0;
	run_through(run);
	TEST_STR("tail held: completed", fr.states, "completed");
	TEST_CHECK("tail held: every step done", all_done(p, why, sizeof(why)), "%s", why);
	TEST_EQ_INT("tail held: dwells held at their bound teach the margin nothing",
	    run->tail_ns[STEP_SPRAY], 0);
	finish(run);
}

/* The first call of step seq whose text begins with prefix and ends with suffix, or NULL. */
static const struct fake_call *
call_shaped(int seq, const char *prefix, const char *suffix)
{
	size_t len, slen = strlen(suffix);
	int i;

	for (i = 0; i < fa.count; i++) {
		len = strlen(fa.calls[i].text);
		if (fa.calls[i].seq == seq && strncmp(fa.calls[i].text, prefix, strlen(prefix)) == 0 &&
		    len >= slen && strcmp(fa.calls[i].text + len - slen, suffix) == 0)
			return &fa.calls[i];
	}
	return NULL;
}

/*
 * A spray without a drain closes in one burst (run_close_burst): its
 * valve's off and its pump's stop are made together, one operation, and
 * the next step begins once both are answered. One at a time, the stop
 * was made only after the off's answer came back through the loop. A
 * failed off fails the batch, the stop having gone all the same, and no
 * later step begins.
 */
static void
test_close_burst(void)
{
	const struct plan *p;
	const struct fake_call *off, *stop;
	struct run *run;
	int n, sprays = 0, together = 0, fail_at = 0;
	char why[128];

	run = start("burst", "spray", recipe_tail, &p);
	if (run == NULL)
		return;
	fa.answer_ns = 1000000;		/* each operation answered 1 ms after it leaves */
	run_through(run);
	TEST_STR("burst: completed", fr.states, "completed");
	TEST_CHECK("burst: every step done", all_done(p, why, sizeof(why)), "%s", why);
	for (n = 1; n <= (int)p->count; n++) {
		if (p->steps[n - 1].kind != STEP_SPRAY)
			continue;
		sprays++;
		off = call_shaped(n, "output ", " off");
		stop = call_shaped(n, "pump ", " 0");
		if (off != NULL && stop != NULL && stop == off + 1 && stop->made_ns == off->made_ns)
			together++;
		else
			printf("info: burst: spray %d: off %s, stop %s, made %lld ns apart\n", n,
			    off ? off->text : "none", stop ? stop->text : "none",
			    off && stop ? (long long)(stop->made_ns - off->made_ns) : -1LL);
		if (n == 3 && off != NULL)
			fail_at = (int)(off - fa.calls) + 1;
	}
	TEST_EQ_INT("burst: each spray's off and stop made together, the stop right after",
	    together, 12);
	TEST_EQ_INT("burst: one operation each", fa.stops, sprays);
	finish(run);

	run = start("burst-fail", "spray", recipe_tail, &p);
	if (run == NULL)
		return;
	fa.answer_ns = 1000000;
	fa.fail_call = fail_at;
	run_through(run);
	TEST_STR("burst-fail: failed", fr.states, "failed");
	TEST_STR("burst-fail: the third spray failed", rec_step(3)->outcome, "failed");
	TEST_CHECK("burst-fail: its pump's stop went all the same",
	    call_shaped(3, "pump ", " 0") != NULL, "no stop among step 3's calls");
	TEST_EQ_INT("burst-fail: no later step began", count_calls(4, "") + rec_step(4)->begun, 0);
	TEST_CONTAINS("burst-fail: the cause names the valve", fr.cause, "valve-");
	TEST_EQ_INT("burst-fail: the rig made safe", fa.safe_states > 0, 1);
	finish(run);
}

/*
 * A batch asked for while lbld's start-up safe state is still on a slow
 * line: its schedule begins once that is confirmed, and the safe state's
 * end is never taken for the end of the first step's move (which was
 * then skipped: the spray went out with the transfer never told to go).
 */
static void
test_start_while_making_safe(void)
{
	const struct plan *p;
	struct run *run;
	char why[128], err[256];
	int64_t asked_ns;
	int now;

	preset_making_safe = preset_can_arm = 1;
	run = start("making safe", "spray", recipe_spray, &p);
	preset_making_safe = preset_can_arm = 0;
	if (run == NULL)
		return;
	asked_ns = fake_now_ns;
	drive(50);
	TEST_EQ_INT("making safe: the batch waits", state_of(run), RUN_WAITING);
	TEST_EQ_INT("making safe: nothing is armed or commanded meanwhile", fa.count, 0);
	fake_now_ns += 150 * 1000000LL;		/* the stops take their time on the line */
	fa.hold_safe = 0;
	run_through(run);
	TEST_STR("making safe: then completed", fr.states, "completed");
	TEST_CHECK("making safe: every step done", all_done(p, why, sizeof(why)), "%s", why);
	TEST_CONTAINS("making safe: the first step's move went", calls_of(1),
	    "fire move transfer 250 100; fire pump pump-ag 20");
	TEST_CHECK("making safe: its first step after the safe state", call_at_ns(1,
	    "fire move transfer 250 100", 1) >= asked_ns + 150 * 1000000LL, "at %lld ns",
	    (long long)(call_at_ns(1, "fire move transfer 250 100", 1) - asked_ns));
	finish(run);

	preset_making_safe = 1;
	run = start("making safe, unconfirmed", "spray", recipe_spray, &p);
	preset_making_safe = 0;
	if (run == NULL)
		return;
	fa.hold_safe = 0;
	fa.safe_pending = 0;
	run_act_done(run, 0, 0, "pump-ag: no answer (injected)");
	drive(1000);
	TEST_STR("making safe, unconfirmed: the batch failed", fr.state, "failed");
	TEST_CONTAINS("making safe, unconfirmed: the cause says so", fr.cause,
	    "safe state before the batch was not confirmed: pump-ag: no answer");
	TEST_EQ_INT("making safe, unconfirmed: nothing moved", count_calls(1, "fire move"), 0);
	finish(run);

	/*
	 * A pause asked for while the batch waits for the safe state: it
	 * pauses, the safe state's end starts nothing (it started the batch,
	 * its record saying paused), and the resume places the schedule then.
	 */
	for (now = 0; now <= 1; now++) {
		int64_t resumed_ns;
		int i, first = -1;

		preset_making_safe = 1;
		run = start(now ? "making safe, paused now" : "making safe, paused", "spray",
		    recipe_spray, &p);
		preset_making_safe = 0;
		if (run == NULL)
			return;
		drive(50);
		TEST_EQ_INT("making safe, paused: asked while waiting",
		    run_pause(run, now, err, sizeof(err)), 0);
		fa.hold_safe = 0;
		drive(50);
		TEST_EQ_INT("making safe, paused: paused once the rig is safe", state_of(run),
		    RUN_PAUSED);
		TEST_EQ_INT("making safe, paused: nothing commanded", count_calls(1, ""), 0);
		fake_now_ns += 10 * 1000000000LL;
		resumed_ns = fake_now_ns;
		TEST_EQ_INT("making safe, paused: resumed", run_resume(run, err, sizeof(err)), 0);
		run_through(run);
		TEST_CHECK("making safe, paused: then completed", strstr(fr.states, "completed") !=
		    NULL && all_done(p, why, sizeof(why)), "%s; %s", fr.states, why);
		for (i = 0; i < fa.count && first < 0; i++)
			if (fa.calls[i].seq == 1)
				first = i;
		TEST_CHECK("making safe, paused: the first step a start's lead after the resume",
		    first >= 0 && fa.calls[first].at_ns >= resumed_ns + RUN_START_LEAD_NS,
		    "%lld ns after", first >= 0 ? (long long)(fa.calls[first].at_ns - resumed_ns) :
		    -1LL);
		finish(run);
	}

	/* an end nobody waits for, as the first step's start waits for its arm */
	preset_can_arm = preset_arm_late = 1;
	run = start("stray end", "spray", recipe_spray, &p);
	preset_can_arm = preset_arm_late = 0;
	if (run == NULL)
		return;
	while (state_of(run) != RUN_STEP && fake_fire_next())
		;
	run_act_done(run, 1, 0, NULL);
	run_through(run);
	TEST_STR("stray end: completed", fr.states, "completed");
	TEST_CONTAINS("stray end: the move was not skipped", calls_of(1),
	    "fire move transfer 250 100; fire pump pump-ag 20");
	finish(run);
}

static void
test_roll(void)
{
	const struct plan *p;
	struct run *run = start("roll", "roll", recipe_roll, &p);
	char why[128];

	if (run == NULL)
		return;
	run_through(run);
	TEST_STR("roll: completed", fr.states, "completed");
	TEST_CHECK("roll: every step done", all_done(p, why, sizeof(why)), "%s", why);
	check_as_compiled("roll", p, 1, 0);
	check_solutions_as_planned("roll", p);
	TEST_CHECK("roll: the top-up is on record", rec_solution_volume("ag") > 0, "%g mL",
	    rec_solution_volume("ag"));
	TEST_STR("roll: the prompt tells the rig nothing", calls_of(1), "");
	TEST_STR("roll: the line starts with the first bath", calls_of(2), "line web 8.333");
	TEST_EQ_INT("roll: residence is path over speed", rec_step(2)->dwell_ms, 60000);
	TEST_STR("roll: a rinse while the line runs", calls_of(3), "");
	TEST_STR("roll: the air knife", calls_of(4), "output knife-air on; output knife-air off");
	TEST_STR("roll: a dryer without a valve", calls_of(7), "");
	TEST_STR("roll: run-out, then the line stops", calls_of(8), "line web 0");
	TEST_STR("roll: the rewind", calls_of(9), "line web 8.333 reverse; line web 0");
	TEST_STR("roll: the line starts again", calls_of(10), "line web 8.333");
	TEST_STR("roll: the last run-out", calls_of(16), "line web 0");
	TEST_EQ_INT("roll: both bilayers", fr.bilayers, 2);
	TEST_EQ_INT("roll: passes counted on the bath", rec_solution_dips("ag"), 2);
	finish(run);
}

/*
 * One event of the loop as an operator would see it: completes what is
 * pending, continues a prompt, or fires the next timer. 0 when nothing is
 * left to do (the run waits for the test, or is over).
 */
static int
step_once(struct run *run)
{
	char err[256];

	if (fa.safe_pending && !fa.hold_safe)
		complete_safe();
	else if (fa.pending && fa.pending != fa.stall_call)
		complete_op();
	else if (fa.arm_open && (!fa.arm_late || state_of(fa.run) == RUN_STEP))
		fa_complete_arm();
	else if (state_of(run) == RUN_PROMPT)
		return run_continue(run, err, sizeof(err)) == 0;
	else
		return fake_fire_next();
	return 1;
}

/* Drives until step seq has begun and its first call has gone out; 0 if never. */
static int
drive_into(struct run *run, int seq)
{
	while (count_calls(seq, "") == 0)
		if (!step_once(run))
			return 0;
	return 1;
}

/* Drives until the call numbered n (from 1) is pending; 0 if it never comes. */
static int
drive_to_call(struct run *run, int n)
{
	while (fa.count < n)
		if (!step_once(run))
			return 0;
	return 1;
}

/* A slow withdrawal (a dry step of no duration, no command), then a pump's run and stop. */
static const char recipe_then_once[] =
    "name: t-then-once\n"
    "version: \"1\"\n"
    "process: dip\n"
    "substrate: {name: glass, area: 8 cm2}\n"
    "target: {bilayers: 1}\n"
    "growth: {model: linear, per_bilayer: 5 nm}\n"
    "resume: allowed\n"
    "solutions:\n"
    "  ag: {station: ag, volume: 200 mL}\n"
    "  tca: {station: tca, volume: 200 mL}\n"
    "pre:\n"
    "  - dip: {solution: ag, dwell: 2s}\n"
    "  - dry: {slow_withdrawal: 1 mm/s}\n"
    "  - set: {output: drain-1, value: 150 mL/min}\n"
    "  - set: {output: drain-1, value: 0 mL/min}\n"
    "cycle:\n"
    "  - dip: {solution: ag, dwell: 2s}\n"
    "  - dip: {solution: tca, dwell: 2s}\n";

/* A spray, a set and a spray at its moment, whose first command is the transfer's go. */
static const char recipe_pump_then[] =
    "name: t-pump-then\n"
    PAIR_RECIPE_HEAD
    "  - spray: {solution: tca, time: 2s, flow: 20 mL/min, drain: 1s}\n";

/*
 * A pair's second whose first command is an output follows the set's on
 * the buses (act_then): asked for as the set begins, taken up by the
 * second's own first command (same device and value), and sent as the set
 * is answered, with no hand-off to a bus thread (the fake: the set answered
 * answer_ns after it left, past the second's moment). Its start on record
 * is when its bus sent it. A set that fails: the second never begins, and
 * what was asked is dropped by the safe state, never taken up.
 */
static void
test_pair_then(void)
{
	const struct rig *rig = rig_named("spray");
	const struct fake_call *set, *second;
	const struct plan *p;
	struct run *run;
	int64_t t0, txn_ns;
	char why[128];

	if (rig == NULL) {
		TEST_CHECK("pair then: the rig", 0, "does not load");
		return;
	}
	txn_ns = (int64_t)(rig_bus_transaction_ms(&rig->buses[0]) * 1e6);
	if ((run = start("pair then", "spray", recipe_chain, &p)) == NULL)
		return;
	fa.answer_ns = txn_ns * 8 / 10;
	fa.handoff_ns = txn_ns * 3 / 10;
	t0 = run->t0_ns;
	run_through(run);
	TEST_STR("pair then: completed", fr.states, "completed");
	TEST_CHECK("pair then: every step done", all_done(p, why, sizeof(why)), "%s", why);
	TEST_CHECK("pair then: each set's successor's output was asked to follow it, and taken "
	    "up by that output", fa.thens == 2 && fa.thens_taken == 2 && fa.then_mismatches == 0,
	    "asked %d, taken %d, other %d", fa.thens, fa.thens_taken, fa.then_mismatches);
	set = call_named(2, "pump pump-rinse 0", 1);
	second = call_named(3, "output valve-rinse off", 1);
	TEST_CHECK("pair then: the second went as the set was answered, no hand-off",
	    set != NULL && second != NULL && second->sent_ns == set->sent_ns + fa.answer_ns,
	    "%lld ns after the set", set && second ? (long long)(second->sent_ns -
	    set->sent_ns) : 0LL);
	TEST_EQ_INT("pair then: on record, the second starts when its bus sent it",
	    rec_step(3)->actual_start_ms, second ? (second->sent_ns - t0) / 1000000 : -1);
	finish(run);

	/*
	 * A spray after a set: its first command (the transfer's move to the
	 * booth) follows the set; armed ahead, as its trigger alone.
	 */
	for (int arm = 0; arm < 2; arm++) {
		char name[64];

		snprintf(name, sizeof(name), "pair then, spray%s", arm ? " armed" : "");
		preset_can_arm = arm;
		run = start(name, "spray", recipe_pump_then, &p);
		preset_can_arm = 0;
		if (run == NULL)
			return;
		fa.answer_ns = txn_ns * 8 / 10;
		fa.handoff_ns = txn_ns * 3 / 10;
		run_through(run);
		TEST_STR("pair then, spray: completed", fr.states, "completed");
		TEST_CHECK("pair then, spray: every step done", all_done(p, why, sizeof(why)), "%s",
		    why);
		TEST_CHECK("pair then, spray: the spray's first command followed each set, taken up",
		    fa.thens == 2 && fa.thens_queued == 2 && fa.thens_taken == 2 &&
		    fa.then_mismatches == 0, "asked %d, queued %d, taken %d, other %d", fa.thens,
		    fa.thens_queued, fa.thens_taken, fa.then_mismatches);
		set = call_named(2, "pump pump-rinse 0", 1);
		second = call_named(3, arm ? "fire move transfer 250 100" :
		    "move transfer 250 100", 1);
		TEST_CHECK("pair then, spray: sent as the set was answered", set != NULL &&
		    second != NULL && second->sent_ns == set->sent_ns + fa.answer_ns,
		    "%s: %lld ns after the set", second ? second->text : "no start",
		    set && second ? (long long)(second->sent_ns - set->sent_ns) : 0LL);
		finish(run);
	}

	/*
	 * A dry step of no duration and no command (a slow withdrawal) before
	 * the pair begins the set within its own beginning: the start that
	 * follows the set is queued once (a second call forgot it, and the
	 * second step sent its own stop too), and taken up.
	 */
	if ((run = start("pair then, after a dry", "dip", recipe_then_once, &p)) == NULL)
		return;
	run_through(run);
	TEST_STR("pair then, after a dry: completed", fr.states, "completed");
	TEST_CHECK("pair then, after a dry: the pump's stop queued once and taken up",
	    fa.thens == 1 && fa.then_queue_calls == 1 && fa.thens_taken == 1,
	    "asked %d, queued %d times, taken %d", fa.thens, fa.then_queue_calls,
	    fa.thens_taken);
	finish(run);

	/* the set fails: its successor's output is never taken up */
	if ((run = start("pair then, set fails", "spray", recipe_chain, &p)) == NULL)
		return;
	drive_into(run, 2);
	TEST_STR("pair then, set fails: the set is the call in hand",
	    fa.pending ? fa.calls[fa.pending - 1].text : "", "pump pump-rinse 0");
	fa.fail_call = fa.pending;
	run_through(run);
	TEST_STR("pair then, set fails: the batch failed", fr.states, "failed");
	TEST_CHECK("pair then, set fails: the output was asked to follow, never taken up",
	    fa.thens == 1 && fa.thens_taken == 0 && call_named(3, "output valve-rinse off", 1) ==
	    NULL, "asked %d, taken %d", fa.thens, fa.thens_taken);
	finish(run);

	/* pause --now during the set: dropped by the safe state, asked again as it runs again */
	if ((run = start("pair then, pause", "spray", recipe_chain, &p)) == NULL)
		return;
	drive_into(run, 2);
	TEST_EQ_INT("pair then, pause: pause --now during the set", run_pause(run, 1, why,
	    sizeof(why)), 0);
	drive(10);
	TEST_EQ_INT("pair then, pause: resumed", run_resume(run, why, sizeof(why)), 0);
	run_through(run);
	TEST_STR("pair then, pause: completed", fr.states, "paused running completed");
	TEST_CHECK("pair then, pause: asked again and taken up each time it ran",
	    fa.thens == 3 && fa.thens_taken == 2 && fa.then_mismatches == 0,
	    "asked %d, taken %d, other %d", fa.thens, fa.thens_taken, fa.then_mismatches);
	finish(run);
}

/*
 * A set and the step sharing its moment on Modbus TCP (recipe_lead's steps
 * 4 and 5, 10 and 11), whose record went on together before the set's
 * command: the set's end is written once the second's command is made,
 * nothing between; a set that fails ends the second never begun; pause
 * --now during the set ends both, and both run again; a pause asked for
 * during the set waits for the boundary after the second.
 */
static void
test_pair_record(void)
{
	const struct plan *p;
	struct run *run = start("pair", "spray", recipe_lead, &p);
	const struct fake_call *c;
	char err[256], why[128];

	if (run == NULL)
		return;
	run_through(run);
	TEST_STR("pair: completed", fr.states, "completed");
	TEST_CHECK("pair: every step done", all_done(p, why, sizeof(why)), "%s", why);
	c = call_named(11, "move transfer 250 100", 1);
	TEST_CHECK("pair: the set's end is written after the second's command is made, no "
	    "commit between", c != NULL && rec_step(10)->end_calls > (int)(c - fa.calls) &&
	    strcmp(rec_step(10)->outcome, "done") == 0, "set's end after %d calls (%s), the "
	    "spray's go is call %d", rec_step(10)->end_calls, rec_step(10)->outcome,
	    c ? (int)(c - fa.calls) : -1);
	TEST_EQ_INT("pair: the set is on record once", rec_step(10)->begins, 1);
	finish(run);

	/* the set fails: the second ends with it, never begun */
	run = start("pair-fail", "spray", recipe_lead, &p);
	if (run == NULL)
		return;
	drive_into(run, 4);
	TEST_STR("pair-fail: the set is the call in hand", fa.calls[fa.pending - 1].text,
	    "pump pump-rinse 0");
	fa.fail_call = fa.pending;
	run_through(run);
	TEST_STR("pair-fail: failed", fr.states, "failed");
	TEST_STR("pair-fail: the set failed", rec_step(4)->outcome, "failed");
	TEST_CHECK("pair-fail: the second ends failed, never begun", rec_step(5)->ended &&
	    strcmp(rec_step(5)->outcome, "failed") == 0 && count_calls(5, "") == 0,
	    "ended %d, %s, %d calls", rec_step(5)->ended, rec_step(5)->outcome,
	    count_calls(5, ""));
	finish(run);

	/* pause --now during the set: both aborted, both run again */
	run = start("pair-now", "spray", recipe_lead, &p);
	if (run == NULL)
		return;
	drive_into(run, 4);
	TEST_EQ_INT("pair-now: pause --now during the set", run_pause(run, 1, err, sizeof(err)),
	    0);
	TEST_CHECK("pair-now: the set and the second aborted", strcmp(rec_step(4)->outcome,
	    "aborted") == 0 && strcmp(rec_step(5)->outcome, "aborted") == 0, "%s, %s",
	    rec_step(4)->outcome, rec_step(5)->outcome);
	drive(10);
	TEST_EQ_INT("pair-now: paused", state_of(run), RUN_PAUSED);
	TEST_EQ_INT("pair-now: resumed", run_resume(run, err, sizeof(err)), 0);
	run_through(run);
	TEST_STR("pair-now: completed", fr.states, "paused running completed");
	TEST_CHECK("pair-now: both ran again, done", rec_step(4)->begins == 2 &&
	    rec_step(5)->begins == 2 && all_done(p, why, sizeof(why)), "begins %d %d; %s",
	    rec_step(4)->begins, rec_step(5)->begins, why);
	finish(run);

	/* a pause asked for during the set: after the second, before step 6 */
	run = start("pair-pause", "spray", recipe_lead, &p);
	if (run == NULL)
		return;
	drive_into(run, 4);
	TEST_EQ_INT("pair-pause: pause during the set", run_pause(run, 0, err, sizeof(err)), 0);
	drive(50);
	TEST_EQ_INT("pair-pause: paused", state_of(run), RUN_PAUSED);
	TEST_EQ_INT("pair-pause: before step 6, the second done", rec_events("pause",
	    "paused before step 6"), 1);
	TEST_STR("pair-pause: the second done", rec_step(5)->outcome, "done");
	TEST_EQ_INT("pair-pause: resumed", run_resume(run, err, sizeof(err)), 0);
	run_through(run);
	TEST_CHECK("pair-pause: every step done", all_done(p, why, sizeof(why)), "%s", why);
	finish(run);

	/* lbld stops during the set: the batch interrupted, both steps aborted */
	run = start("pair-stop", "spray", recipe_lead, &p);
	if (run == NULL)
		return;
	drive_into(run, 4);
	run_shutdown(run, "SIGTERM", NULL, NULL);
	drive(50);
	TEST_STR("pair-stop: interrupted", fr.state, "interrupted");
	TEST_CHECK("pair-stop: the set and the second aborted", strcmp(rec_step(4)->outcome,
	    "aborted") == 0 && strcmp(rec_step(5)->outcome, "aborted") == 0 &&
	    count_calls(5, "") == 0, "%s, %s, %d calls of the second", rec_step(4)->outcome,
	    rec_step(5)->outcome, count_calls(5, ""));
	finish(run);
}

static void
test_pause_at_boundary(void)
{
	const struct plan *p;
	struct run *run = start("pause", "dip", recipe_dip, &p);
	char err[256], why[128];
	int calls;

	if (run == NULL)
		return;
	drive_into(run, DIP_AG1);
	TEST_EQ_INT("pause: requested during a step", run_pause_by(run, 0,
	    "alice via lbl-web (uid 998)", err, sizeof(err)), 0);
	TEST_EQ_INT("pause: the request names who asked", rec_events("operator",
	    "pause requested at the next step boundary by alice via lbl-web (uid 998)"), 1);
	TEST_EQ_INT("pause: no resume before the pause has begun",
	    run_resume(run, err, sizeof(err)), -1);
	TEST_CONTAINS("pause: resume before the boundary says why", err, "has not begun");
	drive(1000000);
	TEST_EQ_INT("pause: paused at the boundary", state_of(run), RUN_PAUSED);
	TEST_STR("pause: the step ran to its end", rec_step(DIP_AG1)->outcome, "done");
	TEST_STR("pause: the whole dip was told", calls_of(DIP_AG1), AG_DIP_CALLS);
	TEST_EQ_INT("pause: the next step not begun", rec_step(DIP_RINSE1)->begun, 0);
	TEST_STR("pause: the batch's state", fr.state, "paused");
	TEST_EQ_INT("pause: no safe state for a pause at the boundary", fa.safe_states, 0);
	TEST_EQ_INT("pause: paused twice is refused", run_pause(run, 0, err, sizeof(err)), -1);
	TEST_CONTAINS("pause: and says so", err, "already paused");
	calls = fa.count;
	fake_now_ns += 3600LL * 1000000000;	/* an hour's pause */
	drive(1000);
	TEST_EQ_INT("pause: nothing moves while paused", fa.count, calls);
	fa.safety = 1;
	TEST_EQ_INT("pause: no resume while an e-stop is pressed",
	    run_resume(run, err, sizeof(err)), -1);
	TEST_CONTAINS("pause: it names the e-stop", err, "estop");
	fa.safety = 0;
	TEST_EQ_INT("pause: resumed", run_resume_by(run, "alice via lbl-web (uid 998)", err,
	    sizeof(err)), 0);
	TEST_EQ_INT("pause: the resume names who asked", rec_events("resume",
	    " by alice via lbl-web (uid 998)"), 1);
	run_through(run);
	TEST_STR("pause: the states in order", fr.states, "paused running completed");
	TEST_CHECK("pause: every step done", all_done(p, why, sizeof(why)), "%s", why);
	check_as_compiled("pause", p, 1, 0);
	TEST_EQ_INT("pause: the rinse after the pause began when resumed",
	    rec_step(DIP_RINSE1)->actual_start_ms, p->steps[DIP_RINSE1 - 1].start_ms);
	TEST_EQ_INT("pause: resume and pause are events", rec_events("pause", NULL) == 1 &&
	    rec_events("resume", NULL) == 1, 1);
	finish(run);
}

/*
 * A pause asked while the run waits for the next step's deadline, before
 * that step is on record: it pauses at once, before the step. Then an
 * abort while paused ends the batch aborted, parked.
 */
static void
test_pause_while_waiting_then_abort(void)
{
	const struct plan *p;
	struct run *run = start("pause waiting", "dip", recipe_dip, &p);
	char err[256];
	int calls, guard;

	if (run == NULL)
		return;
	drive_into(run, DIP_AG1);
	/* the fake rig is quicker than the plan: the run waits for the rinse's deadline */
	for (guard = 0; guard < 100000 && !(state_of(run) == RUN_WAITING &&
	    !rec_step(DIP_RINSE1)->begun); guard++)
		if (!step_once(run))
			break;
	TEST_EQ_INT("pause waiting: waiting for the next deadline", state_of(run), RUN_WAITING);
	TEST_STR("pause waiting: the step before done", rec_step(DIP_AG1)->outcome, "done");
	calls = fa.count;
	TEST_EQ_INT("pause waiting: accepted", run_pause(run, 0, err, sizeof(err)), 0);
	TEST_EQ_INT("pause waiting: paused at once", state_of(run), RUN_PAUSED);
	TEST_EQ_INT("pause waiting: the next step not begun", rec_step(DIP_RINSE1)->begun, 0);
	TEST_STR("pause waiting: on record", fr.state, "paused");
	drive(1000);
	TEST_EQ_INT("pause waiting: nothing told", fa.count, calls);
	TEST_EQ_INT("abort paused: accepted", run_abort(run, "alice", err, sizeof(err)), 0);
	TEST_STR("abort paused: the batch", fr.state, "aborted");
	TEST_STR("abort paused: the rig parked", fa.calls[fa.count - 1].text, "safe park");
	TEST_EQ_INT("abort paused: no step left open", rec_step(DIP_RINSE1)->begun, 0);
	drive(100);
	TEST_EQ_INT("abort paused: idle", state_of(run), RUN_IDLE);
	finish(run);
}

static void
test_pause_now(void)
{
	const struct plan *p;
	struct run *run = start("pause-now", "dip", recipe_dip, &p);
	char err[256], why[128];
	int at;

	if (run == NULL)
		return;
	drive_into(run, DIP_TCA1);
	drive_to_call(run, fa.count + 2);	/* lowered into the bath */
	at = fa.count;
	fa.hold_safe = 1;
	TEST_EQ_INT("pause --now: accepted", run_pause(run, 1, err, sizeof(err)), 0);
	TEST_EQ_INT("pause --now: the safe state with park at once", fa.count == at + 1 &&
	    strcmp(fa.calls[at].text, "safe park") == 0, 1);
	TEST_STR("pause --now: the step is aborted, to run again", rec_step(DIP_TCA1)->outcome,
	    "aborted");
	TEST_EQ_INT("pause --now: twice is refused", run_pause(run, 1, err, sizeof(err)), -1);
	TEST_CONTAINS("pause --now: it is pausing already", err, "pausing already");
	TEST_EQ_INT("pause --now: no resume until parked", run_resume(run, err, sizeof(err)), -1);
	fa.hold_safe = 0;
	drive(10);
	TEST_EQ_INT("pause --now: paused once parked", state_of(run), RUN_PAUSED);
	TEST_EQ_INT("pause --now: the park is an event", rec_events("info", "parked"), 1);
	TEST_EQ_INT("pause --now: resumed", run_resume(run, err, sizeof(err)), 0);
	run_through(run);
	TEST_EQ_INT("pause --now: the interrupted step ran again", rec_step(DIP_TCA1)->begins, 2);
	TEST_STR("pause --now: and was done", rec_step(DIP_TCA1)->outcome, "done");
	TEST_CONTAINS("pause --now: in full the second time", calls_of(DIP_TCA1),
	    "safe park; " TCA_DIP_CALLS);
	TEST_CHECK("pause --now: every step done", all_done(p, why, sizeof(why)), "%s", why);
	check_as_compiled("pause --now: before", p, 1, DIP_TCA1 - 1);
	check_as_compiled("pause --now: after", p, DIP_TCA1 + 1, 0);
	TEST_STR("pause --now: completed", fr.states, "paused running completed");
	TEST_EQ_INT("pause --now: tca dips counted once per bilayer", rec_solution_dips("tca"), 4);
	finish(run);
}

static void
test_abort(void)
{
	const struct plan *p;
	struct run *run = start("abort", "dip", recipe_dip, &p);
	char err[256];
	int at;

	if (run == NULL)
		return;
	drive_into(run, DIP_AG2);
	drive_to_call(run, fa.count + 3);	/* the stirrer runs */
	at = fa.count;
	TEST_EQ_INT("abort: accepted", run_abort(run, "alice", err, sizeof(err)), 0);
	TEST_EQ_INT("abort: the safe state with park next", fa.count == at + 1 &&
	    strcmp(fa.calls[at].text, "safe park") == 0, 1);
	TEST_STR("abort: the step is aborted, not failed", rec_step(DIP_AG2)->outcome, "aborted");
	TEST_STR("abort: the batch", fr.state, "aborted");
	TEST_CONTAINS("abort: its cause names who", fr.cause, "alice");
	TEST_EQ_INT("abort: an abort event", rec_events("abort", "alice"), 1);
	TEST_EQ_INT("abort: the solutions so far", rec_solution_dips("ag"), 1);
	drive(1000000);
	TEST_EQ_INT("abort: idle once parked", state_of(run), RUN_IDLE);
	TEST_EQ_INT("abort: nothing told after the safe state", fa.count, at + 1);
	TEST_EQ_INT("abort: no step after", rec_step(DIP_AG2 + 1)->begun, 0);
	TEST_EQ_INT("abort: nothing to abort now", run_abort(run, "bob", err, sizeof(err)), -1);
	TEST_CONTAINS("abort: says so", err, "no batch");
	finish(run);
}

static void
test_park(void)
{
	const struct plan *p;
	struct run *run = start("park", "dip", recipe_dip, &p);
	char err[256];

	if (run == NULL)
		return;
	drive_into(run, DIP_AG1);
	TEST_EQ_INT("park: refused while a batch runs", run_park(run, "alice", err, sizeof(err)),
	    -1);
	TEST_CONTAINS("park: it says what to do", err, "pause --now");
	run_pause(run, 0, err, sizeof(err));
	drive(1000000);
	fa.lift = ACT_LIFT_UNKNOWN;
	TEST_EQ_INT("park: while paused", run_park(run, "alice", err, sizeof(err)), 0);
	TEST_STR("park: the safe state with park", fa.calls[fa.count - 1].text, "safe park");
	TEST_EQ_INT("park: refused while one is under way", run_park(run, "alice", err,
	    sizeof(err)), -1);
	drive(10);
	TEST_EQ_INT("park: paused again after", state_of(run), RUN_PAUSED);
	TEST_EQ_INT("park: the operator's request and the park are events",
	    rec_events("operator", "park requested by alice") == 1 &&
	    rec_events("info", "parked") == 1, 1);
	TEST_EQ_INT("park: the batch runs on after it", run_resume(run, err, sizeof(err)), 0);
	run_through(run);
	TEST_STR("park: completed", fr.state, "completed");
	/* outside a batch, and a park that fails */
	fa.safe_parks = 0;
	TEST_EQ_INT("park: idle", run_park(run, "bob", err, sizeof(err)), 0);
	drive(10);
	TEST_EQ_INT("park: a failed park is a fault event", rec_events("fault",
	    "not parked"), 1);
	run_status(run, &last_status);
	TEST_CONTAINS("park: and status says so", last_status.substrate, "the last park failed");
	fa.safety = 1;
	TEST_EQ_INT("park: refused during an e-stop", run_park(run, "bob", err, sizeof(err)), -1);
	fa.safety = 0;
	finish(run);
}

static void
test_estop(void)
{
	const struct plan *p;
	struct run *run = start("estop", "dip", recipe_dip, &p);
	char err[256];
	int at, estop, i;

	if (run == NULL)
		return;
	estop = rig_device_index(fa.rig, "estop");
	drive_into(run, DIP_RINSE1);
	at = fa.count;
	fa.safety = 1;
	run_safety_input(run, estop, 1);
	TEST_EQ_INT("estop: act made the rig safe itself: no second safe state", fa.count, at);
	TEST_STR("estop: the step failed", rec_step(DIP_RINSE1)->outcome, "failed");
	TEST_STR("estop: the batch failed", fr.state, "failed");
	TEST_CONTAINS("estop: its cause names the e-stop", fr.cause, "estop");
	TEST_EQ_INT("estop: one e-stop event", rec_events("estop", NULL), 1);
	for (i = 0; i < fr.event_count && strcmp(fr.events[i].kind, "estop") != 0; i++)
		;
	TEST_STR("estop: it names the device", i < fr.event_count ? fr.events[i].device : "",
	    "estop");
	drive(1000000);
	TEST_EQ_INT("estop: nothing told after", fa.count, at);
	{
		struct run_options o;
		struct recipe *r;
		struct plan *p2;
		int64_t batch = 0;

		memset(&o, 0, sizeof(o));
		if (make_plan("estop", recipe_dip, fa.rig, &r, &p2) == 0) {
			TEST_EQ_INT("estop: no start while pressed", run_start(run, r, p2, 1, &o,
			    &batch, err, sizeof(err)), -1);
			TEST_CONTAINS("estop: it says why", err, "estop");
			plan_free(p2);
			recipe_free(r);
		}
	}
	/* pressed again with no batch: still nothing may move or run */
	at = fa.count;
	run_safety_input(run, estop, 1);
	TEST_EQ_INT("estop: outside a batch, outputs off (no park)", fa.count == at + 1 &&
	    strcmp(fa.calls[at].text, "safe") == 0, 1);
	drive(10);
	TEST_EQ_INT("estop: still idle", state_of(run), RUN_IDLE);
	finish(run);
}

/*
 * Supervision (hw_supervise() through act): on while a batch is in
 * progress, off when it ends or fails; the executor's step timer is the
 * deadline polls keep clear of; a device's fault fails a running batch
 * into the safe state with the device in its cause and fault event, and
 * is an event only while the batch is paused.
 */
static void
test_supervision(void)
{
	static const char alarm[] = "device 'lift' (bus tcp0, unit 1): read input 0x0002 (alarm): "
	    "alarm raised";
	const struct plan *p;
	struct run *run = start("supervision", "dip", recipe_dip, &p);
	char err[256];
	int lift, safe, i;

	if (run == NULL)
		return;
	lift = rig_device_index(fa.rig, "lift");
	TEST_EQ_INT("supervision: on once the batch starts", fa.supervised, 1);
	drive_into(run, DIP_RINSE1);
	TEST_CHECK("supervision: the step's deadline is told", fa.next_deadline_ns > 0,
	    "deadline %lld", (long long)fa.next_deadline_ns);
	safe = fa.safe_states;
	run_device_fault(run, lift, alarm);
	TEST_EQ_INT("supervision: a fault makes the rig safe", fa.safe_states, safe + 1);
	TEST_EQ_INT("supervision: and ends supervision", fa.supervised, 0);
	TEST_EQ_INT("supervision: no deadline left", fa.next_deadline_ns, 0);
	TEST_STR("supervision: the step failed", rec_step(DIP_RINSE1)->outcome, "failed");
	TEST_STR("supervision: the batch failed", fr.state, "failed");
	TEST_CHECK("supervision: its cause is the device's fault",
	    strncmp(fr.cause, "supervision: ", 13) == 0 && strstr(fr.cause, alarm) != NULL,
	    "cause '%s'", fr.cause);
	for (i = 0; i < fr.event_count && strcmp(fr.events[i].kind, "fault") != 0; i++)
		;
	TEST_STR("supervision: the fault event names the lift",
	    i < fr.event_count ? fr.events[i].device : "", "lift");
	drive(1000000);
	TEST_EQ_INT("supervision: idle after", state_of(run), RUN_IDLE);
	finish(run);

	/* paused: the fault is on record, the batch stays paused */
	run = start("supervision-paused", "dip", recipe_dip, &p);
	if (run == NULL)
		return;
	drive_into(run, DIP_AG1);
	TEST_EQ_INT("supervision: pause", run_pause(run, 0, err, sizeof(err)), 0);
	drive(1000000);
	TEST_EQ_INT("supervision: paused", state_of(run), RUN_PAUSED);
	TEST_EQ_INT("supervision: still on while paused", fa.supervised, 1);
	safe = fa.safe_states;
	run_device_fault(run, lift, alarm);
	TEST_EQ_INT("supervision: paused, no safe state for it", fa.safe_states, safe);
	TEST_EQ_INT("supervision: paused, still paused", state_of(run), RUN_PAUSED);
	TEST_EQ_INT("supervision: paused, the fault is an event", rec_events("fault", "alarm raised"),
	    1);
	TEST_EQ_INT("supervision: resumed", run_resume(run, err, sizeof(err)), 0);
	TEST_EQ_INT("supervision: on again after the resume", fa.supervised, 1);
	run_through(run);
	TEST_STR("supervision: completed", fr.state, "completed");
	TEST_EQ_INT("supervision: off once completed", fa.supervised, 0);
	finish(run);
}

/* A reading at the target ends the cycles early; the post steps still run. */
static void
test_stop_at_target(void)
{
	static const char text[] =
	    "name: t-target\n"
	    "version: \"1\"\n"
	    "process: dip\n"
	    "substrate: {name: glass}\n"
	    "target: {thickness: 20 nm, max_bilayers: 6}\n"
	    "growth: {model: linear, per_bilayer: 4 nm}\n"
	    "resume: allowed\n"
	    "drip: 1s\n"
	    "solutions:\n"
	    "  ag: {station: ag, volume: 200 mL}\n"
	    "  tca: {station: tca, volume: 200 mL}\n"
	    "cycle:\n"
	    "  - dip: {solution: ag, dwell: 2s}\n"
	    "  - dip: {solution: tca, dwell: 2s}\n"
	    "every:\n"
	    "  - bilayers: 1\n"
	    "    do:\n"
	    "      - measure: {sensor: gauge, method: gauge, stop_at_target: true}\n"
	    "post:\n"
	    "  - wait: 2s\n";
	const struct plan *p;
	struct run *run = start("target", "dip", text, &p);
	int last;

	if (run == NULL)
		return;
	fa.reads[0] = 8;
	fa.reads[1] = 15;
	fa.reads[2] = 21;
	fa.read_count = 3;
	run_through(run);
	TEST_STR("target: completed", fr.states, "completed");
	TEST_EQ_INT("target: three measures", count_calls(0, "read gauge"), 3);
	TEST_EQ_INT("target: three bilayers", fr.bilayers, 3);
	TEST_NEAR("target: the last measured", fr.bilayer_measured_nm[3], 21, 1e-9);
	TEST_EQ_INT("target: bilayer 4 never begun", rec_step(find_step(p, 1, STEP_DIP, 4))->begun,
	    0);
	last = p->steps[p->count - 1].seq;
	TEST_STR("target: the post steps ran", rec_step(last)->outcome, "done");
	TEST_STR("target: the park", calls_of(last), "move transfer 0 200");
	TEST_EQ_INT("target: the early end is an event", rec_events("info", "reached the target"),
	    1);
	finish(run);
}


static int stopped_calls, stopped_ok;

static void
on_stopped(void *arg, int ok, const char *error)
{
	(void)arg;
	(void)error;
	stopped_calls++;
	stopped_ok = ok;
}

/*
 * lbld stops during a dip: the rig is made safe and parked, the step is
 * aborted, the batch interrupted. A new lbld resumes it: the step runs
 * again from its start, the rest as planned, and the solutions' use read
 * back is counted on, not restarted.
 */
static void
test_shutdown_and_resume(void)
{
	const struct plan *p;
	struct run *run = start("shutdown", "dip", recipe_dip, &p);
	struct recipe *r;
	struct plan *p2;
	char err[256], why[128];
	int at;

	if (run == NULL)
		return;
	drive_into(run, DIP_TCA1);
	drive_to_call(run, fa.count + 3);	/* in the bath */
	at = fa.count;
	stopped_calls = 0;
	fa.hold_safe = 1;
	run_shutdown(run, "SIGTERM", on_stopped, NULL);
	TEST_EQ_INT("shutdown: the safe state with park first", fa.count == at + 1 &&
	    strcmp(fa.calls[at].text, "safe park") == 0, 1);
	TEST_STR("shutdown: the step aborted", rec_step(DIP_TCA1)->outcome, "aborted");
	TEST_STR("shutdown: the batch interrupted", fr.state, "interrupted");
	TEST_CONTAINS("shutdown: with its cause", fr.cause, "SIGTERM");
	TEST_EQ_INT("shutdown: not told stopped before the rig is safe", stopped_calls, 0);
	TEST_EQ_INT("shutdown: a batch is refused meanwhile", run_pause(run, 1, err, sizeof(err)),
	    -1);
	fa.hold_safe = 0;
	drive(100);
	TEST_EQ_INT("shutdown: told stopped once parked", stopped_calls == 1 && stopped_ok == 1,
	    1);
	TEST_EQ_INT("shutdown: the devices' timeouts stay armed over the exit", fa.keep_alive, 1);
	TEST_EQ_INT("shutdown: ag used so far", rec_solution_dips("ag"), 1);
	finish(run);

	/* lbld again, same record */
	fa.count = 0;
	fa.lift = ACT_LIFT_WITHDRAWN;
	fr.last_begun = 0;
	if ((run = new_run_keep(rig_named("dip"))) == NULL ||
	    make_plan("resume", recipe_dip, rig_named("dip"), &r, &p2) == -1 ||
	    make_plan("resume", recipe_dip, rig_named("dip"), &check_recipe, &check_plan) == -1) {
		TEST_CHECK("resume: set-up", 0, "failed");
		return;
	}
	p = check_plan;
	run_note_interrupted(run, 42, "SIGTERM", DIP_TCA1 - 1);
	TEST_EQ_INT("resume: status names the interrupted batch", run_has_interrupted(run), 1);
	run_status(run, &last_status);
	TEST_CONTAINS("resume: and says how to go on", last_status.next, "resume-batch 42");
	TEST_EQ_INT("resume: accepted", run_resume_batch(run, 42, r, p2, DIP_TCA1 - 1, err,
	    sizeof(err)), 0);
	TEST_EQ_INT("resume: the resume is an event", rec_events("resume", NULL), 1);
	run_through(run);
	TEST_STR("resume: completed", fr.state, "completed");
	TEST_EQ_INT("resume: the interrupted step begun again", rec_step(DIP_TCA1)->begins, 2);
	TEST_STR("resume: it is done", rec_step(DIP_TCA1)->outcome, "done");
	TEST_EQ_INT("resume: the steps before not again", rec_step(DIP_AG1)->begins, 1);
	TEST_STR("resume: the interrupted dip whole", calls_of(DIP_TCA1), TCA_DIP_CALLS);
	TEST_CHECK("resume: every step done", all_done(p, why, sizeof(why)), "%s", why);
	check_as_compiled("resume", p, DIP_TCA1, 0);
	TEST_EQ_INT("resume: ag dips counted on from the record", rec_solution_dips("ag"), 4);
	TEST_EQ_INT("resume: tca dips", rec_solution_dips("tca"), 4);
	TEST_EQ_INT("resume: the next step began at once, the rest on their spacing",
	    rec_step(DIP_QUICK1)->actual_start_ms - rec_step(DIP_TCA1)->actual_start_ms,
	    p->steps[DIP_QUICK1 - 1].start_ms - p->steps[DIP_TCA1 - 1].start_ms);
	finish(run);
}

/* A recipe that forbids resuming is refused, and nothing is written. */
static void
test_resume_forbidden(void)
{
	struct recipe *r;
	struct plan *p;
	struct run *run = new_run(rig_named("roll"));
	char err[256] = "";

	if (run == NULL || make_plan("forbidden", recipe_roll, rig_named("roll"), &r, &p) == -1)
		return;
	TEST_EQ_INT("resume forbidden: refused", run_resume_batch(run, 42, r, p, 3, err,
	    sizeof(err)), -1);
	TEST_CONTAINS("resume forbidden: says why", err, "forbidden");
	TEST_EQ_INT("resume forbidden: nothing written", fr.writes, 0);
	TEST_EQ_INT("resume forbidden: nothing told", fa.count, 0);
	plan_free(p);
	recipe_free(r);
	finish(run);
}

/* A start that is refused writes and tells nothing. */
static void
test_start_refused(void)
{
	const struct rig *rig = rig_named("dip");
	struct run_options o;
	struct recipe *r;
	struct plan *p;
	struct run *run = rig != NULL ? new_run(rig) : NULL;
	int64_t batch = 0;
	char err[256] = "";

	if (run == NULL || make_plan("refused", recipe_dip, rig, &r, &p) == -1)
		return;
	memset(&o, 0, sizeof(o));
	fa.lift = ACT_LIFT_LOWERED;
	TEST_EQ_INT("start: refused with the substrate lowered", run_start(run, r, p, 1, &o,
	    &batch, err, sizeof(err)), -1);
	TEST_CONTAINS("start: it says where the substrate is", err, "safe height");
	fa.lift = ACT_LIFT_WITHDRAWN;
	fa.safety = 1;
	TEST_EQ_INT("start: refused during an e-stop", run_start(run, r, p, 1, &o, &batch, err,
	    sizeof(err)), -1);
	fa.safety = 0;
	fake_db_fail_create = 1;
	TEST_EQ_INT("start: refused when the batch cannot be recorded", run_start(run, r, p, 1,
	    &o, &batch, err, sizeof(err)), -1);
	TEST_CONTAINS("start: it says so", err, "database");
	TEST_EQ_INT("start: nothing written", fr.writes, 0);
	TEST_EQ_INT("start: nothing told", fa.count, 0);
	TEST_EQ_INT("start: idle", state_of(run), RUN_IDLE);
	fake_db_fail_create = 0;
	TEST_EQ_INT("start: then accepted", run_start(run, r, p, 1, &o, &batch, err, sizeof(err)),
	    0);
	if (make_plan("refused", recipe_dip, rig, &r, &p) == 0) {
		TEST_EQ_INT("start: a second batch is refused", run_start(run, r, p, 1, &o, &batch,
		    err, sizeof(err)), -1);
		TEST_CONTAINS("start: one at a time", err, "one run at a time");
		plan_free(p);
		recipe_free(r);
	}
	finish(run);
}

/* A device that never finishes its move: the step's overrun limit fails the batch. */
static void
test_overrun(void)
{
	const struct plan *p;
	struct run *run = start("overrun", "dip", recipe_dip, &p);
	int64_t begun;

	if (run == NULL)
		return;
	drive_into(run, DIP_RINSE1);
	fa.stall_call = fa.count + 2;
	begun = fake_now_ns;
	fa.hold_safe = 1;
	drive(1000000);
	TEST_STR("overrun: the batch failed", fr.state, "failed");
	TEST_CONTAINS("overrun: its cause", fr.cause, "overran");
	TEST_STR("overrun: the step failed", rec_step(DIP_RINSE1)->outcome, "failed");
	TEST_STR("overrun: safe state with park", fa.calls[fa.count - 1].text, "safe park");
	TEST_CHECK("overrun: after its planned time and tolerance, not before",
	    fake_now_ns - begun >= p->steps[DIP_RINSE1 - 1].duration_ms * 1000000 * 5 / 4 &&
	    fake_now_ns - begun <= p->steps[DIP_RINSE1 - 1].duration_ms * 1000000 * 5 / 4 +
	    3100LL * 1000000, "%lld ms for a step of %lld ms",
	    (long long)(fake_now_ns - begun) / 1000000,
	    (long long)p->steps[DIP_RINSE1 - 1].duration_ms);
	finish(run);
}

/* A reading that is not a number is a device fault, never a measurement. */
static void
bad_reading(double value, const char *label)
{
	const struct plan *p;
	struct run *run = start(label, "dip", recipe_dip, &p);
	char name[96];

	if (run == NULL)
		return;
	fa.reads[0] = value;
	fa.read_count = 1;
	fa.hold_safe = 1;
	run_through(run);
	snprintf(name, sizeof(name), "%s: the batch failed at the measure", label);
	TEST_CHECK(name, strcmp(fr.state, "failed") == 0 &&
	    strcmp(rec_step(DIP_MEASURE2)->outcome, "failed") == 0 &&
	    strcmp(fa.calls[fa.count - 1].text, "safe park") == 0, "batch '%s', step '%s'",
	    fr.state, rec_step(DIP_MEASURE2)->outcome);
	snprintf(name, sizeof(name), "%s: the cause names the sensor", label);
	TEST_CONTAINS(name, fr.cause, "gauge");
	snprintf(name, sizeof(name), "%s: bilayer 2 not recorded", label);
	TEST_EQ_INT(name, fr.bilayer_records[2], 0);
	snprintf(name, sizeof(name), "%s: no measure event", label);
	TEST_EQ_INT(name, rec_events("info", "measured"), 0);
	finish(run);
}

/* A bath without pumps is replaced by the operator; a set step; a wait in the cycle. */
static void
test_operator_replacement_and_set(void)
{
	static const char text[] =
	    "name: t-op\n"
	    "version: \"1\"\n"
	    "process: dip\n"
	    "substrate: {name: glass}\n"
	    "target: {bilayers: 2}\n"
	    "growth: {model: linear, per_bilayer: 5 nm}\n"
	    "resume: allowed\n"
	    "drip: 1s\n"
	    "solutions:\n"
	    "  ag: {station: ag, volume: 200 mL}\n"
	    "  tca: {station: tca, volume: 200 mL}\n"
	    "  rinse-tca: {station: rinse-2, rinse: true, volume: 250 mL,\n"
	    "              change_after: {cycles: 1}}\n"
	    "cycle:\n"
	    "  - set: {output: fill-1, value: 50 mL/min}\n"
	    "  - dip: {solution: ag, dwell: 2s}\n"
	    "  - rinse: {solution: rinse-tca, dwell: 2s}\n"
	    "  - dip: {solution: tca, dwell: 2s}\n"
	    "  - rinse: {solution: rinse-tca, dwell: 2s}\n"
	    "  - set: {output: fill-1, value: off}\n"
	    "  - set: {output: n2, value: on}\n"
	    "  - wait: 4s\n"
	    "  - set: {output: n2, value: off}\n";
	const struct plan *p;
	struct run *run = start("operator replace", "dip", text, &p);
	char err[256], why[128];
	int replace, waited;

	if (run == NULL)
		return;
	replace = find_step(p, 1, STEP_REPLACE, -1);
	TEST_CHECK("operator replace: in the plan", replace > 0 &&
	    p->steps[replace - 1].operator_wait, "no operator replacement");
	drive(1000000);
	TEST_EQ_INT("operator replace: waits for the operator", state_of(run), RUN_PROMPT);
	TEST_CONTAINS("operator replace: status says what to do", last_status.message,
	    "replace bath rinse-2");
	TEST_EQ_INT("operator replace: at the replacement step", fr.last_begun, replace);
	TEST_STR("operator replace: nothing told for it", calls_of(replace), "");
	fake_now_ns += 600LL * 1000000000;	/* ten minutes to replace it */
	waited = drive(1000);
	TEST_EQ_INT("operator replace: nothing happens while waiting", waited == 0 &&
	    state_of(run) == RUN_PROMPT, 1);
	TEST_EQ_INT("operator replace: continued", run_continue_by(run, "bob (uid 1000)", err,
	    sizeof(err)), 0);
	TEST_EQ_INT("operator replace: the continue is an event", rec_events("continue", NULL),
	    1);
	TEST_EQ_INT("operator replace: the continue names who answered", rec_events("continue",
	    "operator bob (uid 1000) continued: "), 1);
	run_through(run);
	TEST_STR("operator replace: completed", fr.state, "completed");
	TEST_CHECK("operator replace: every step done", all_done(p, why, sizeof(why)), "%s", why);
	TEST_CHECK("operator replace: the schedule shifted by the operator's wait",
	    rec_step(replace + 1)->actual_start_ms == p->steps[replace].start_ms,
	    "step %d at %lld, planned %lld", replace + 1,
	    (long long)rec_step(replace + 1)->actual_start_ms,
	    (long long)p->steps[replace].start_ms);
	TEST_STR("set: a pump at a flow", calls_of(1), "pump fill-1 50");
	TEST_STR("set: a pump off", calls_of(6), "pump fill-1 0");
	TEST_STR("set: a valve on", calls_of(7), "output n2 on");
	TEST_STR("set: a wait tells nothing", calls_of(8), "");
	TEST_EQ_INT("set: the wait is a dwell", rec_step(8)->dwell_ms, 4000);
	TEST_STR("set: a valve off", calls_of(9), "output n2 off");
	check_as_compiled("operator replace", p, 1, 0);
	finish(run);
}

/*
 * A safety input active when a move is due, before act reported it: the
 * move is refused, the batch fails, and the rig is made safe without a
 * park (nothing moves while the input is active).
 */
static void
test_motion_refused(void)
{
	const struct plan *p;
	struct run *run = start("motion refused", "dip", recipe_dip, &p);
	int at;

	if (run == NULL)
		return;
	drive_into(run, DIP_DRY1);
	/* the valve is on: the next move is the tca dip's */
	drive_to_call(run, fa.count + 1);
	fa.safety = 1;
	at = fa.count;
	fa.hold_safe = 1;
	drive(1000000);
	TEST_STR("motion refused: the batch failed", fr.state, "failed");
	TEST_CONTAINS("motion refused: its cause", fr.cause, "motion refused");
	TEST_CONTAINS("motion refused: naming the input", fr.cause, "estop");
	TEST_EQ_INT("motion refused: no move told", count_calls(DIP_TCA1, "move "), 0);
	TEST_EQ_INT("motion refused: the valve was closed first", fa.count >= at + 1 &&
	    strcmp(fa.calls[at].text, "output n2 off") == 0, 1);
	TEST_STR("motion refused: a safe state without park", fa.calls[fa.count - 1].text,
	    "safe");
	fa.hold_safe = 0;
	drive(100);
	TEST_EQ_INT("motion refused: idle", state_of(run), RUN_IDLE);
	finish(run);
}

/* A fault whose safe state is not confirmed: that is on the batch's record too. */
static void
test_safe_state_unconfirmed(void)
{
	const struct plan *p;
	struct run *run = start("unconfirmed", "dip", recipe_dip, &p);

	if (run == NULL)
		return;
	drive_into(run, DIP_RINSE1);
	fa.fail_call = fa.count;
	fa.safe_parks = 0;
	drive(1000000);
	TEST_STR("unconfirmed: the batch failed", fr.state, "failed");
	TEST_EQ_INT("unconfirmed: the device's fault and the park's", rec_events("fault", NULL),
	    2);
	TEST_EQ_INT("unconfirmed: the park's names it", rec_events("fault", "not parked"), 1);
	TEST_EQ_INT("unconfirmed: no parked event", rec_events("info", "parked"), 0);
	run_status(run, &last_status);
	TEST_CONTAINS("unconfirmed: status says the park failed", last_status.substrate,
	    "the last park failed");
	finish(run);
}

/*
 * Each write of a whole batch refused in turn (a full disk, say): none is
 * lost in silence. A write refused at the batch's start refuses the start
 * (nothing has moved; the record says failed, naming the write); any later
 * one fails the batch into the safe state with park, its cause naming the
 * write that was lost. No batch with a refused write is recorded completed.
 */
static void
test_every_write_refused(void)
{
	const struct rig *rig = rig_named("dip");
	const struct plan *p;
	struct run_options o;
	struct recipe *r;
	struct plan *plan;
	struct run *run;
	int64_t batch;
	int total, n, refused_start = 0, failed = 0, other = 0;
	char err[256];

	if ((run = start("every write", "dip", recipe_dip, &p)) == NULL)
		return;
	run_through(run);
	total = fr.writes;
	finish(run);
	TEST_CHECK("every write: a batch writes", total > 2 * DIP_PARK, "%d writes", total);
	memset(&o, 0, sizeof(o));
	for (n = 1; n <= total; n++) {
		if (make_plan("every write", recipe_dip, rig, &r, &plan) == -1)
			return;
		preset_fail_write = n;
		run = new_run(rig);
		preset_fail_write = 0;
		if (run == NULL)
			return;
		if (run_start(run, r, plan, 1, &o, &batch, err, sizeof(err)) == -1) {
			plan_free(plan);
			recipe_free(r);
			if (strstr(err, "(injected)") != NULL && fa.count == 0 &&
			    strcmp(fr.state, "failed") == 0 && strstr(fr.cause, "(injected)"))
				refused_start++;
			else if (other++ == 0)
				printf("info: write %d (%s) refused at the start: '%s', "
				    "batch '%s', %d calls\n", n, fr.failed_kind, err, fr.state,
				    fa.count);
			finish(run);
			continue;
		}
		run_through(run);
		drive(1000);
		if (strcmp(fr.state, "failed") == 0 && fa.safe_states == 1 && fa.last_park == 1 &&
		    strstr(fr.cause, "(injected)") != NULL && state_of(run) == RUN_IDLE)
			failed++;
		else if (other++ == 0)
			printf("info: write %d (%s) refused: batch '%s' (%s), %d safe states\n", n,
			    fr.failed_kind, fr.state, fr.cause, fa.safe_states);
		finish(run);
	}
	TEST_CHECK("every write: a refused start write refuses the start, on record",
	    refused_start > 0, "none of %d", total);
	TEST_CHECK("every write: any later one fails the batch safely, naming the write",
	    failed > total / 2, "%d of %d", failed, total);
	TEST_EQ_INT("every write: none lost in silence", other, 0);
	printf("info: every write: %d writes refused one by one: %d refused the start, %d failed "
	    "the batch\n", total, refused_start, failed);
}

/*
 * At a time scale of 10 (simulation) steps start at a tenth of their
 * planned offsets in real time; the record keeps start offsets in recipe
 * time and durations, motion and dwell in wall time (README: multiply by
 * time_scale), so a 2 min dwell is 12 s on record.
 */
static void
test_time_scale(void)
{
	const struct plan *p;
	struct run *run;
	char why[128];
	int64_t t0;
	int i, on_time = 0;

	start_time_scale = 10;
	t0 = fake_now_ns;
	run = start("time scale", "dip", recipe_dip, &p);
	start_time_scale = 1;
	if (run == NULL)
		return;
	run_through(run);
	TEST_STR("time scale: completed", fr.states, "completed");
	TEST_CHECK("time scale: every step done", all_done(p, why, sizeof(why)), "%s", why);
	for (i = 0; i < (int)p->count; i++)
		if (rec_step(i + 1)->actual_start_ms == p->steps[i].start_ms)
			on_time++;
	TEST_EQ_INT("time scale: every start in recipe time, on plan", on_time, (int)p->count);
	TEST_EQ_INT("time scale: a 2 min dwell lasts 12 s of wall time",
	    rec_step(DIP_AG1)->dwell_ms, 12000);
	TEST_EQ_INT("time scale: a 3 s wait step 300 ms", rec_step(DIP_WAIT)->dwell_ms, 300);
	TEST_EQ_INT("time scale: motion is the rig's own time", rec_step(DIP_AG1)->motion_ms,
	    5 * 100);
	/* the last step, the park, ends when its move does, sooner than planned */
	TEST_CHECK("time scale: the batch took a tenth of its plan in wall time",
	    fake_now_ns - t0 >= (p->total_ms - p->steps[p->count - 1].duration_ms) * 100000 &&
	    fake_now_ns - t0 <= p->total_ms * 100000, "%lld ms for a plan of %lld ms",
	    (long long)(fake_now_ns - t0) / 1000000, (long long)p->total_ms);
	finish(run);
}

/* What status says along a batch. */
static void
test_status(void)
{
	const struct plan *p;
	struct run *run = start("status", "dip", recipe_dip, &p);
	struct run_status st;
	char err[256];
	int n;

	if (run == NULL)
		return;
	drive(1000000);
	run_status(run, &st);
	TEST_EQ_INT("status: the prompt", st.state, RUN_PROMPT);
	TEST_EQ_INT("status: batch id", st.batch_id, 42);
	TEST_STR("status: recipe", st.recipe, "t-dip");
	TEST_EQ_INT("status: step of steps", st.step_seq == DIP_PROMPT && st.step_count ==
	    DIP_PARK, 1);
	TEST_EQ_INT("status: bilayers", st.bilayers, 4);
	run_continue(run, err, sizeof(err));
	/* into the first dip's dwell: travel, surface, immersion, stirrer on */
	drive_into(run, DIP_AG1);
	drive_to_call(run, 5);
	n = notifications;
	run_status(run, &st);
	TEST_EQ_INT("status: running", st.state, RUN_STEP);
	TEST_EQ_INT("status: the step", st.step_seq, DIP_AG1);
	TEST_STR("status: its kind", st.step_kind, "dip");
	TEST_STR("status: where", st.step_where, "ag");
	TEST_EQ_INT("status: its bilayer", st.bilayer, 1);
	TEST_CHECK("status: time left in the step within its plan", st.step_left_ms > 0 &&
	    st.step_left_ms <= p->steps[DIP_AG1 - 1].duration_ms, "%lld ms",
	    (long long)st.step_left_ms);
	TEST_CHECK("status: time left in the run within the plan", st.run_left_ms >
	    st.step_left_ms && st.run_left_ms <= p->total_ms, "%lld ms of %lld",
	    (long long)st.run_left_ms, (long long)p->total_ms);
	TEST_NEAR("status: the estimate before bilayer 1", st.thickness_estimate_nm, 0, 1e-9);
	TEST_CHECK("status: nothing measured yet", isnan(st.thickness_measured_nm), "%g",
	    st.thickness_measured_nm);
	TEST_STR("status: the batch's state", st.batch_state, "running");
	drive(1000000);
	TEST_CHECK("status: followers told of every step", notifications >= n + DIP_PARK - DIP_AG1,
	    "%d notifications", notifications - n);
	run_status(run, &st);
	TEST_EQ_INT("status: idle after", st.state, RUN_IDLE);
	TEST_STR("status: the last batch's state", st.batch_state, "completed");
	TEST_EQ_INT("status: nothing to continue", run_continue(run, err, sizeof(err)), -1);
	TEST_EQ_INT("status: nothing to pause", run_pause(run, 0, err, sizeof(err)), -1);
	TEST_CONTAINS("status: says why", err, "no batch");
	finish(run);
}

/*
 * Each timer arm of a batch refused in turn (timerfd_settime failing): the
 * batch fails into the safe state with park naming the timer, and never
 * waits for ever for a timer that will not fire.
 */
static void
test_timer_refused(void)
{
	const struct plan *p;
	struct run *run;
	int total, n, failed = 0;

	if ((run = start("timer", "dip", recipe_dip, &p)) == NULL)
		return;
	run_through(run);
	total = fake_timer_arms;
	finish(run);
	for (n = 1; n <= total; n++) {
		/* from the start: the first step's deadline is armed by run_start already */
		fake_timer_fail_arm = n;
		if ((run = start("timer", "dip", recipe_dip, &p)) == NULL) {
			fake_timer_fail_arm = 0;
			return;
		}
		run_through(run);
		drive(1000);
		fake_timer_fail_arm = 0;
		if (strcmp(fr.state, "failed") == 0 && fa.safe_states == 1 && fa.last_park == 1 &&
		    state_of(run) == RUN_IDLE)
			failed++;
		else if (failed + 1 == n)
			printf("info: timer arm %d refused: batch '%s' (%s), state %d, %d safe "
			    "states\n", n, fr.state, fr.cause, state_of(run), fa.safe_states);
		finish(run);
	}
	TEST_CHECK("timers: a batch arms timers", total > DIP_PARK, "%d", total);
	TEST_EQ_INT("timers: each refused arm fails the batch safely", failed, total);
}

/*
 * A fault at each call of step only_seq (0: of the whole batch): that call
 * fails (completes with an error, or refuse: the act_* call returns -1). The batch fails
 * and asks for the safe state with park at once, nothing else is told to
 * the rig, and the record says which step failed, why, and what was used.
 */
static void
fault_at_each_call(const char *name, const char *rig, const char *text, int only_seq,
    int refuse)
{
	const struct plan *p;
	struct run *run;
	int *calls, *seqs, n = 0, k, bad = 0, idx, seq;
	char label[160];

	/* a clean run numbers the calls */
	if ((run = start(name, rig, text, &p)) == NULL)
		return;
	run_through(run);
	calls = calloc((size_t)fa.count + 1, sizeof(*calls));
	seqs = calloc((size_t)fa.count + 1, sizeof(*seqs));
	for (k = 0; calls != NULL && seqs != NULL && k < fa.count; k++)
		if (only_seq == 0 || fa.calls[k].seq == only_seq) {
			calls[n] = k + 1;
			seqs[n++] = fa.calls[k].seq;
		}
	finish(run);
	snprintf(label, sizeof(label), "%s: the rig is told something", name);
	TEST_CHECK(label, n > 0, "no call");
	for (k = 0; k < n; k++) {
		char what[96];

		idx = calls[k];
		seq = seqs[k];
		if (refuse)
			preset_refuse_call = idx;
		else
			preset_fail_call = idx;
		run = start(name, rig, text, &p);
		preset_refuse_call = preset_fail_call = 0;
		if (run == NULL)
			break;
		fa.read_count = 1;
		fa.reads[0] = 10;
		if (!drive_to_call(run, idx)) {
			bad++;
			finish(run);
			continue;
		}
		snprintf(what, sizeof(what), "%s", fa.calls[idx - 1].text);
		fa.hold_safe = 1;
		if (!refuse)
			drive(1);	/* the failure comes back */
		snprintf(label, sizeof(label), "%s: %s at step %d, call %d (%s)", name,
		    refuse ? "refused" : "failed", seq, idx, what);
		TEST_CHECK(label, fa.count == idx + 1 &&
		    strcmp(fa.calls[idx].text, "safe park") == 0 &&
		    strcmp(rec_step(seq)->outcome, "failed") == 0 &&
		    strcmp(fr.state, "failed") == 0 &&
		    rec_events("fault", NULL) == 1 &&
		    state_of(run) == RUN_SAFE,
		    "calls %d (want %d, then '%s'), step '%s', batch '%s', %d fault events",
		    fa.count, idx + 1, fa.count > idx ? fa.calls[idx].text : "",
		    rec_step(seq)->outcome, fr.state, rec_events("fault", NULL));
		if (refuse)
			TEST_CONTAINS(label, fr.cause, "could not be commanded");
		else
			TEST_CONTAINS(label, fr.cause, "no answer (injected)");
		{
			char device[32] = "";
			sscanf(what, "%*s %31s", device);
			TEST_CHECK(label, device[0] && strstr(fr.cause, device) != NULL,
			    "the cause '%s' does not name the device of '%s'", fr.cause, what);
		}
		fa.hold_safe = 0;
		drive(1000);
		TEST_CHECK(label, state_of(run) == RUN_IDLE && fa.count == idx + 1 &&
		    rec_events("info", "parked") == 1 && fa.keep_alive == 0 &&
		    rec_step(seq + 1)->begun == 0 && fr.solution_count > 0,
		    "after the park: state %d, %d calls, parked events %d", state_of(run),
		    fa.count, rec_events("info", "parked"));
		finish(run);
	}
	free(calls);
	free(seqs);
	snprintf(label, sizeof(label), "%s: every call reached", name);
	TEST_EQ_INT(label, bad, 0);
}

/*
 * A write of the record refused at a step boundary: the batch fails into
 * the safe state, with the cause naming what was not recorded.
 */
static void
record_fault(const char *kind, const char *cause)
{
	const struct plan *p;
	struct run *run = start("record", "dip", recipe_dip, &p);
	char label[96];

	if (run == NULL)
		return;
	drive_into(run, DIP_AG1);
	snprintf(fr.fail_kind, sizeof(fr.fail_kind), "%s", kind);
	fa.hold_safe = 1;
	drive(1000000);
	snprintf(label, sizeof(label), "record: a refused %s write", kind);
	TEST_CHECK(label, fr.failed == 1 && strcmp(fr.state, "failed") == 0 &&
	    fa.safe_states == 1 && fa.last_park == 1 && state_of(run) == RUN_SAFE,
	    "%d refused, batch '%s', %d safe states", fr.failed, fr.state, fa.safe_states);
	TEST_CONTAINS(label, fr.cause, cause);
	fa.hold_safe = 0;
	drive(1000);
	TEST_EQ_INT(label, state_of(run), RUN_IDLE);
	finish(run);
}

/*
 * A write refused in the batch's last commit (its solutions, here) fails
 * that commit whole (record.h): the executor records the state and its
 * cause again alone, so the batch does not stay 'running' on record.
 */
static void
test_end_refused(void)
{
	const struct plan *p;
	struct run *run = start("end refused", "dip", recipe_dip, &p);
	char err[256];

	if (run == NULL)
		return;
	drive_into(run, DIP_AG2);
	snprintf(fr.fail_kind, sizeof(fr.fail_kind), "%s", "solution");
	TEST_EQ_INT("end refused: abort accepted", run_abort(run, "alice", err, sizeof(err)), 0);
	TEST_EQ_INT("end refused: the solutions' write was refused", fr.failed, 1);
	TEST_STR("end refused: the state is on record all the same", fr.state, "aborted");
	TEST_CONTAINS("end refused: with its cause", fr.cause, "alice");
	drive(1000000);
	TEST_EQ_INT("end refused: idle once parked", state_of(run), RUN_IDLE);
	finish(run);
}

/*
 * Texts whole: a prompt of multi-byte characters at nearly
 * RECIPE_MAX_PROMPT_BYTES (four times the old 256-byte cut) is shown and
 * recorded whole (its prompt and continue events); a device error far
 * longer than RUN_MAX_CAUSE_BYTES makes a cause cut at a character, ending
 * with the mark, valid UTF-8 in the record and the status.
 */
static void
test_long_texts(void)
{
	const struct plan *p;
	struct run *run;
	char prompt[RECIPE_MAX_PROMPT_BYTES + 1], *text, *error, err[256];
	const char *head = recipe_dip, *pre = strstr(recipe_dip, "  - prompt: Load the substrate\n");
	size_t len = 0, i;

	/* "é€" is five bytes: 204 of them, 1,020 bytes, a cut at 256 or 512 fell inside one */
	prompt[0] = '\0';
	while (len + 5 <= RECIPE_MAX_PROMPT_BYTES) {
		memcpy(prompt + len, "\xc3\xa9\xe2\x82\xac", 5);
		len += 5;
	}
	prompt[len] = '\0';
	if (pre == NULL || (text = malloc(strlen(recipe_dip) + len + 64)) == NULL)
		return;
	snprintf(text, strlen(recipe_dip) + len + 64, "%.*s  - prompt: \"%s\"\n%s",
	    (int)(pre - head), head, prompt, pre + strlen("  - prompt: Load the substrate\n"));
	run = start("long prompt", "dip", text, &p);
	free(text);
	if (run == NULL)
		return;
	drive(1000000);
	TEST_EQ_INT("long prompt: waits for the operator", state_of(run), RUN_PROMPT);
	run_status(run, &last_status);
	TEST_STR("long prompt: status shows it whole", last_status.message, prompt);
	TEST_EQ_INT("long prompt: its event holds it whole", rec_events("prompt", prompt), 1);
	TEST_EQ_INT("long prompt: continued", run_continue(run, err, sizeof(err)), 0);
	TEST_EQ_INT("long prompt: the continue event holds it whole",
	    rec_events("continue", prompt), 1);

	/* a device's error of 6,000 bytes of two-byte characters: the cause is bounded */
	error = malloc(6001);
	if (error != NULL) {
		/* after one byte: wherever the cut falls, one of the two offsets splits a character */
		error[0] = 'x';
		for (i = 1; i + 2 <= 6000; i += 2)
			memcpy(error + i, "\xc3\xa9", 2);
		error[i] = '\0';
		drive_into(run, DIP_AG1);
		fa.fail_call = fa.count;
		fa.fail_text = error;
		drive(1000000);
		fa.fail_text = NULL;
		TEST_STR("long error: the batch failed", fr.state, "failed");
		len = strlen(fr.cause);
		TEST_CHECK("long error: the cause is bounded, cut at a character and marked",
		    len < RUN_MAX_CAUSE_BYTES && len > RUN_MAX_CAUSE_BYTES - 8 &&
		    test_valid_utf8(fr.cause) && strcmp(fr.cause + len - 3, "\xe2\x80\xa6") == 0,
		    "%zu bytes, valid %d, ends '%s'", len, test_valid_utf8(fr.cause),
		    fr.cause + (len > 8 ? len - 8 : 0));
		TEST_CHECK("long error: its fault event too", rec_events("fault", "\xe2\x80\xa6") == 1 &&
		    test_valid_utf8(fr.events[fr.event_count - 1].message), "%d",
		    rec_events("fault", "\xe2\x80\xa6"));
		free(error);
	}
	finish(run);
}

int
main(void)
{
	int i;

	log_init("test_run", 3);
	top = getenv("LBL_TOP") ? getenv("LBL_TOP") : ".";
	test_dip_batch();
	test_repeats_and_quick_dips();
	test_quick_dips_with_stirrer();
	test_spray();
	test_arm_then_fire();
	test_fire_lead();
	test_pair_record();
	test_pair_across_buses();
	test_pair_gap_from_sends();
	test_learn_tail();
	test_close_burst();
	test_tail_held();
	test_tail_seed();
	test_pair_chain();
	test_pair_then();
	test_start_while_making_safe();
	test_roll();
	test_pause_at_boundary();
	test_pause_now();
	test_pause_while_waiting_then_abort();
	test_abort();
	test_end_refused();
	test_long_texts();
	test_park();
	test_estop();
	test_supervision();
	test_stop_at_target();
	test_shutdown_and_resume();
	test_resume_forbidden();
	test_start_refused();
	test_overrun();
	bad_reading(INFINITY, "reading inf");
	bad_reading(-INFINITY, "reading -inf");
	bad_reading(NAN, "reading NaN");
	test_operator_replacement_and_set();
	test_motion_refused();
	test_safe_state_unconfirmed();
	test_every_write_refused();
	test_time_scale();
	test_status();
	test_timer_refused();
	/* a fault at each action of every kind of step */
	fault_at_each_call("fault dip batch", "dip", recipe_dip, 0, 0);
	fault_at_each_call("fault spray batch", "spray", recipe_spray, 0, 0);
	fault_at_each_call("fault roll batch", "roll", recipe_roll, 0, 0);
	fault_at_each_call("fault nested repeats", "dip", recipe_repeat, 2, 0);
	fault_at_each_call("refused dip batch", "dip", recipe_dip, 0, 1);
	fault_at_each_call("refused spray batch", "spray", recipe_spray, 0, 1);
	fault_at_each_call("refused roll batch", "roll", recipe_roll, 0, 1);
	record_fault("step_end", "step 2");
	record_fault("step_begin", "step 3");
	record_fault("bilayer", "bilayer 1");
	for (i = 0; i < 3; i++)
		rig_free(rigs[i]);
	return TEST_DONE();
}
