/*
 * The run executor. Each plan step is compiled (recipes/compile.c, the
 * same compilation lblctl plan --json prints) into its list of actions
 * (moves, outputs, timed dwells, prompts, reads) that run one at a time:
 * an action starts, and its completion — an act callback or a timer —
 * starts the next. Nothing blocks; the loop sleeps between events.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "db.h"
#include "dispense.h"
#include "log.h"
#include "lbl_limits.h"
#include "ledger.h"
#include "record.h"
#include "run.h"
#include "text.h"
#include "thickness.h"

/* A step may run this much over plan before it counts as a fault. */
#define RUN_OVERRUN_FRACTION	0.25
#define RUN_OVERRUN_SLACK_MS	3000
/*
 * A step's record (the end of the step before and its own start) is
 * committed this long before its deadline, in real time. The commit does
 * not wait for the disk (run_commit_boundary): the lead is the time its
 * sync has, beside the loop, to be on the disk before the step's first
 * command. It is more than a step boundary's sync takes on a Pi's SD card,
 * and than most slow fsyncs of a disk shared with other work: on the
 * 2-core CI machine beside other builds one commit in a few hundred took
 * 35-56 ms (when the loop waited for it, a 20 ms lead made its step's
 * first command that much late). Nothing at the rig changes earlier: the
 * step before is in its last wait (a drain or drip) until the new step's
 * first command. A crash inside the lead cuts that wait short by at most
 * the lead, and the record counts the step done.
 */
#define RUN_RECORD_LEAD_NS	(60 * 1000000LL)
/*
 * A batch's first step (and a resumed batch's next) is scheduled this far
 * ahead of the request that starts it, so that its record is committed and
 * its start armed (see run_arm_next) before its deadline, as every later
 * step's are: the first step no longer lands a few milliseconds after the
 * rest. It is the record's lead and room for an arm's writes and readbacks
 * on a TCP bus; where they take longer, the step goes whole at its deadline.
 */
#define RUN_START_LEAD_NS	(50 * 1000000LL)

/*
 * On a slow bus the first step's arm is several transactions (an axis's
 * speed and target, a pump's direction and flow, each written and read
 * back: eight at most, COMPILE_STEP_TRANSACTIONS), and the rig's safe
 * state before it may still be on the line: the lead grows by this many
 * of the slowest bus's transactions (19,200 baud: about 230 ms; TCP: 16 ms).
 */
#define RUN_START_LEAD_TRANSACTIONS	16

/*
 * A step whose first command goes on a Modbus bus is begun this much
 * before that command's moment, which the command carries (its release,
 * act_release_at): the bus's own thread sends it on the moment. What lies
 * between the loop's wake and the wire (the timer's wake, the step's
 * compile, the hand-off to the bus thread) falls inside this margin
 * instead of after the deadline. The loop's timed wake is the larger part
 * and the most uneven: on the 2-core test machine (a virtual machine) it
 * was 0.1-0.25 ms late at the median but 1.4-1.9 ms now and then with the
 * machine otherwise quiet, and with a margin of half a millisecond every
 * such wake made its step late by the rest. Nothing at the rig changes
 * earlier: the step before has ended (its record too), and the command
 * waits at the head of its bus's queue until its moment (a safe state
 * drops it like any queued command).
 */
#define RUN_ISSUE_EARLY_NS	(2 * 1000000LL)
_Static_assert(HW_RELEASE_SPIN_MAX_US * 1000LL < RUN_ISSUE_EARLY_NS,
    "a bus's worker wakes for a release at most HW_RELEASE_SPIN_MAX_US ahead of it: "
    "the step must be queued before then");
/*
 * Where the step before ends on its commands (a spray without a drain, a
 * dry step), the loop is awake and begins the next step as soon as they
 * are answered: that close is learnt to be done this much before the next
 * step's moment (run_learn_tail), room for the hand-off to the bus thread
 * and its wake (0.05-0.3 ms at the median on the test machine). The step
 * before's last dwell is that much shorter, half a millisecond of at
 * least COMPILE_MIN_STEP_MS, where before the next step began that much
 * late; learnt against RUN_ISSUE_EARLY_NS instead, every such dwell would
 * give up 2 ms for a wake that is not in its way. GPIO outputs are set
 * when commanded, so a step starting with one is begun on its moment.
 */
#define RUN_HANDOFF_NS		(500 * 1000LL)
_Static_assert(RUN_HANDOFF_NS <= RUN_ISSUE_EARLY_NS,
    "a close is learnt to end no earlier than a step begun on its timer is begun");

const char *const run_state_names[] = { "idle", "waiting", "running", "prompt", "paused", "safe" };

struct run {
	struct run_context ctx;
	enum run_state state;
	struct recipe *recipe;
	struct plan *plan;
	int64_t recipe_id, batch_id;
	char batch_state[16];
	size_t step;			/* current or next plan step */
	int step_open;			/* its record says running: begun, not yet ended */
	/*
	 * The step after the one in hand is on record too: a set and the step
	 * sharing its moment (both on Modbus) go on record together, before the
	 * set's command (run_record_start), so that no commit lies between
	 * their two commands. pair_end_unwritten: the set's end, taken when it
	 * closed, is written once the second's command is queued (run_next_step).
	 */
	int next_open;
	int pair_end_unwritten;
	int step_started;		/* its first action has gone out */
	int64_t step_start_ms;		/* when it started, recipe ms from t0 (once started) */
	int64_t hold_until_ns;		/* the step before ends then: no next command before */
	/*
	 * How much before its deadline the step about to begin sends its
	 * first command (run_fire_lead_ns), so that it reaches the device on
	 * the deadline.
	 */
	int64_t fire_lead_ns;
	int64_t fire_trigger_ns;	/* of which the trigger's own time on its line */
	/*
	 * The moment that first command leaves (its release: deadline less
	 * the lead), when it goes on a Modbus bus (fire_bus >= 0) and the
	 * step is begun ahead of it (RUN_ISSUE_EARLY_NS); 0 otherwise.
	 */
	int64_t fire_release_ns;
	int fire_bus;
	int64_t first_leaves_ns;	/* the step in hand's first command left then (or will) */
	/*
	 * A set of no duration and the step after it at the same moment, both
	 * commanding Modbus devices (run_fire_lead_ns): how far apart their
	 * first commands left the last times, learnt per device the set
	 * commands (pair_gap_ns[device], run_learn_pair; -1: not yet, a
	 * transaction of its bus is taken); pair_step is the second's index +
	 * 1 while the set is the step in hand, pair_sent_ns when the set's
	 * first command went out on its bus (act_op_sent_ns; 0 not known),
	 * pair_dev the set's device. second_sent_ns and second_dev are the
	 * same of the pair whose second is the step in hand (0: none), learnt
	 * when its first command is answered: kept apart, so that a second
	 * that is itself the set of the next pair (set, set, spray at one
	 * moment) learns the first gap before it starts the next. A safe
	 * state forgets both: a step begun again after it is no second.
	 */
	int64_t *pair_gap_ns, pair_sent_ns, second_sent_ns;
	int pair_dev, second_dev;
	size_t pair_step;
	int fire_pair_dev;		/* the step about to begin is such a set: its device, or -1 */
	/*
	 * A pair's second whose first command (an output) follows the set's on
	 * the buses (run_then_pair, act_then): then_step is its index + 1
	 * while the set is the step in hand; then_first says the step in hand
	 * is such a second, whose start on record is corrected to when its
	 * bus sent it (act_op_sent_ns), not when the loop took it up.
	 */
	size_t then_step;
	int then_first;
	int then_counts;		/* ... and it counts pumps, read between the two */
	int then_queued;		/* ... and it is queued (run_then_queue once) */
	/*
	 * How much earlier than its step's end a last dwell ends (beyond the
	 * serial lines' trailing commands, run_trailing_ns), learnt from the
	 * steps before (run_learn_tail): what the commands after it, its
	 * counters' reads and the next step's record take in fact, per kind of
	 * step (a spray's close reads counters, a dry step's does not).
	 * tail_step says the step in hand's last timed entry ended by this
	 * rule: its kind + 1, or 0.
	 */
	int64_t tail_ns[STEP_KIND_COUNT];
	int tail_learnt[STEP_KIND_COUNT];	/* a close of the kind has taught its margin */
	int tail_step;
	/* the boundary under way: written with whatever comes next, in one commit */
	struct ledger_step_end pending_end;
	struct ledger_bilayer pending_bilayer;
	int have_pending_end, have_pending_bilayer;
	char pending_event[256];	/* "" if none */
	struct ledger_solution *sol_rows;	/* per solution, for the ledger */
	struct compile_list list;	/* the step in hand, grown as needed: none is dropped */
	struct compile_state compiled;	/* what carries over between steps (a running line) */
	size_t action_index;
	int64_t t0_ns;			/* the schedule's origin, shifted by operator waits */
	int64_t step_begin_ns, action_begin_ns, wait_begin_ns;
	/*
	 * Where the schedule stands in the step in hand, in absolute time: the
	 * step's deadline, moved on by each dwell and wait to its planned end,
	 * and to the completion of a move, a read or a prompt, whose length the
	 * plan only estimates. Dwells and waits end at due_ns + their time,
	 * never at "now + time", so the commands around them do not add up.
	 */
	int64_t due_ns;
	/*
	 * Arm, then fire: per device, the start of the next step written ahead
	 * (act_arm) during this step's last dwell or wait, and whether it was
	 * read back; arm_tag tells an arm's late answer from a current one.
	 */
	struct run_armed *armed;
	unsigned arm_tag;
	size_t armed_for;		/* the step (index + 1) armed[] is for; 0: none */
	int fire_waits;			/* the action in hand waits for its arm's answer: device + 1 */
	int act_waits;			/* the action in hand was given to act: its done is due */
	/*
	 * A step's close as one burst (run_close_burst): its trailing stops
	 * went to act together (close_stops: their requests, one per device at
	 * most), and its counters' second reads right behind them on their
	 * buses. close_reads: 0 none queued so, 1 queued and not back, 2 back
	 * (the stops' answer closes the step then).
	 */
	struct hw_request *close_stops;
	int close_burst;		/* the action in hand is such a burst */
	int close_reads;
	int await_safe;			/* the batch's origin waits for a safe state under way */
	int origin_set;			/* t0_ns is placed (run_set_origin) for this schedule */
	signed char *running;		/* per device: pump or line last told to run 1, stop 0, -1 unknown */
	int64_t motion_ns, dwell_ns;
	struct loop_timer *timer, *overrun;
	int pause_requested;
	int safe_then;			/* after safe state: RUN_PAUSED or RUN_IDLE */
	const char *fault_device;	/* the failed action's device, for the fault event */
	struct dispense *dispense;	/* the step's pumps' own volume counters */
	/* the same, read ahead for a step armed ahead (run_count_ahead): step + 1, or 0 */
	struct dispense *dispense_ahead;
	size_t dispense_ahead_step;
	/* what the step's pumps counted beside the plan: recorded with its end */
	int have_volume;
	double volume_planned_ml, volume_measured_ml;
	double *baseline_hz;		/* per device: a QCM's bare crystal, NAN until known */
	double measured_nm;		/* NAN until measured */
	int measured_bilayer;		/* the bilayer measured_nm was taken after */
	int stop_early;
	/* per solution, used so far: the done steps' uses as compiled (compile_uses) */
	int *dips;
	double *volume_ml, *area_cm2;
	struct compile_pass pass;	/* a roll-to-roll pass's start, for its top-ups */
	char message[RECIPE_MAX_PROMPT_BYTES + 1];	/* the prompt in hand, whole */
	char cause[RUN_MAX_CAUSE_BYTES];	/* composed: cut at a character, marked (text.h) */
	const char *lots[RECIPE_MAX_SOLUTIONS];
	/* SOLUTION=LOT words, whole: run refuses longer ones (requests.c) */
	char lot_text[RECIPE_MAX_SOLUTIONS][BATCH_MAX_LOT_WORD_BYTES + 1];
	int lot_count;

	/* parking outside a batch (lblctl park), and what the last park left */
	int idle_park;			/* an operator's park is under way */
	int park_asked;			/* the safe state under way parks too */
	int safe_by_input;		/* act made the rig safe for an e-stop already */
	char park_problem[400];		/* the last park failed: why (until one succeeds) */
	char activity[160];		/* state safe without a batch: what lbld is doing */
	/* lbld is stopping: told once the rig is safe (and parked) */
	void (*stopped)(void *arg, int ok, const char *error);
	void *stopped_arg;
	/* the last batch, when lbld started after it was interrupted */
	int last_step_seq;
};

/* What run_arm_next wrote ahead to a device, and where that stands. */
enum run_arm_state { RUN_ARM_NONE, RUN_ARM_PENDING, RUN_ARM_DONE };
struct run_armed {
	enum run_arm_state state;
	struct hw_request req;
};

static void run_next_step(struct run *run);
static void run_close_next(struct run *run, const char *outcome);
static void run_begin_schedule(struct run *run);
static void run_set_origin(struct run *run);
static void run_next_action(struct run *run);
static void run_disarm(struct run *run);

static int64_t
run_scaled_ns(const struct run *run, int64_t plan_ms)
{
	return (int64_t)llround(plan_ms * 1e6 / run->ctx.time_scale);
}

static void run_fault(struct run *run, const char *batch_state, int park, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Tells clients and systemd; it writes nothing (each boundary committed its own record). */
static void
run_notify(struct run *run)
{
	struct run_status st;

	if (run->ctx.notify == NULL)
		return;
	run_status(run, &st);
	run->ctx.notify(run->ctx.notify_arg, &st);
}

/* ---- the record: each boundary is one ledger call (ledger.h) ---- */

/*
 * The record of a batch whose rig is safe already (a pause --now, a park)
 * was lost: the batch cannot go on with a broken record, so it ends failed
 * once the rig is safe. A running batch faults. Without a batch it is
 * logged.
 */
void
run_record_fault(struct run *run, const char *why)
{
	if (run->plan != NULL && run->state != RUN_SAFE) {
		run_fault(run, "failed", 1, "%s", why);
	} else if (run->plan != NULL && run->safe_then == RUN_PAUSED) {
		log_warnx("batch %lld: %s: the batch ends failed once the rig is safe",
		    (long long)run->batch_id, why);
		text_format(run->cause, sizeof(run->cause), "%s", why);
		snprintf(run->batch_state, sizeof(run->batch_state), "failed");
		run->safe_then = RUN_IDLE;
	} else if (run->batch_id != 0) {
		log_warnx("batch %lld: %s", (long long)run->batch_id, why);
	} else {
		log_warnx("%s", why);
	}
}

/*
 * An event on its own. Returns 0, or -1 when it was not recorded: a running
 * batch has failed then (run_record_fault), and the caller stops.
 */
static int
run_event(struct run *run, const char *kind, const char *device, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int
run_event(struct run *run, const char *kind, const char *device, const char *fmt, ...)
{
	struct ledger_event ev = { kind, device, NULL };
	char message[RUN_MAX_EVENT_BYTES], why[320];
	va_list ap;

	va_start(ap, fmt);
	text_vformat(message, sizeof(message), fmt, ap);
	va_end(ap);
	ev.message = message;
	log_info("batch %lld: %s: %s", (long long)run->batch_id, kind, message);
	if (ledger_event(run->ctx.record, run->batch_id, &ev, why, sizeof(why)) == 0)
		return 0;
	run_record_fault(run, why);
	return -1;
}

/*
 * An event where nothing is left to fail (no batch, or one ending or
 * stopping already): a lost write is logged.
 */
static void
run_note_event(struct run *run, int64_t batch_id, const char *kind, const char *device,
    const char *message)
{
	struct ledger_event ev = { kind, device, message };
	char why[320];

	if (ledger_event(run->ctx.record, batch_id, &ev, why, sizeof(why)) == -1)
		log_warnx("an event was not recorded (%s: %s): %s", kind, message, why);
}

/* Every solution's use so far, as the ledger writes it (run->sol_rows). */
static size_t
run_solution_rows(struct run *run)
{
	size_t i;

	for (i = 0; i < run->recipe->solution_count; i++) {
		const struct recipe_solution *s = &run->recipe->solutions[i];
		struct ledger_solution *row = &run->sol_rows[i];
		size_t len = strlen(s->name);
		int j;
		row->name = s->name;
		row->lot = s->lot;
		for (j = 0; j < run->lot_count; j++)
			if (strncmp(run->lots[j], s->name, len) == 0 && run->lots[j][len] == '=')
				row->lot = run->lots[j] + len + 1;
		row->dips = run->dips[i];
		row->volume_ml = run->volume_ml[i];
		row->area_cm2 = run->area_cm2[i];
	}
	return run->recipe->solution_count;
}

/*
 * The end of the open step with its outcome, into *end; the step lasted
 * until end_ns. A step that was recorded but never started ends with no
 * time. Returns end, or NULL when there is no open step.
 */
static const struct ledger_step_end *
run_open_end(struct run *run, const char *outcome, int64_t end_ns, struct ledger_step_end *end)
{
	const struct plan_step *s;

	if (!run->step_open)
		return NULL;
	s = &run->plan->steps[run->step];
	run->step_open = 0;
	memset(end, 0, sizeof(*end));
	end->seq = s->seq;
	end->outcome = outcome;
	end->started = run->step_started;
	end->has_volume = run->have_volume;
	end->volume_planned_ml = run->volume_planned_ml;
	end->volume_measured_ml = run->volume_measured_ml;
	run->have_volume = 0;
	if (run->step_started) {
		end->actual_start_ms = run->step_start_ms;
		end->duration_ms = (end_ns - run->step_begin_ns) / 1000000;
		end->motion_ms = run->motion_ns / 1000000;
		end->dwell_ms = run->dwell_ns / 1000000;
	}
	return end;
}

/*
 * The boundary under way (the step that closed, its bilayer, a target
 * reached) is taken out of the run: whatever comes next writes it in its
 * own commit. Returns the number of events.
 */
static size_t
run_take_pending(struct run *run, const struct ledger_step_end **end,
    const struct ledger_bilayer **bilayer, struct ledger_event *events)
{
	size_t n = 0;

	*end = run->have_pending_end ? &run->pending_end : NULL;
	*bilayer = run->have_pending_bilayer ? &run->pending_bilayer : NULL;
	if (run->pending_event[0]) {
		events[n].kind = "info";
		events[n].device = NULL;
		events[n].message = run->pending_event;
		n++;
	}
	run->have_pending_end = run->have_pending_bilayer = 0;
	return n;
}

/* Clears the pending event once its boundary was written (it is a buffer of the run). */
static void
run_pending_written(struct run *run)
{
	run->pending_event[0] = '\0';
}

/*
 * Commits the boundary under way with the next step's start (next_count
 * steps from next: 0, it starts later; 2, a set and the step sharing its
 * moment). Returns 0, or -1 when the batch failed for it.
 *
 * It does not wait for the disk (no commit of lbld's does: db_no_wait):
 * once it returns, the boundary is in the database's log, which a crash of
 * lbld cannot lose (or, while another process holds the database's lock,
 * held in memory and retried, as every write is: record.h), and the log's
 * syncer makes it durable beside the loop, by the next command as a rule
 * (RUN_RECORD_LEAD_NS). Waited for here, a sync in the loop stood between
 * two steps' commands whenever the disk was slower than the lead: on the
 * 2-core test machine an fdatasync took 0.4 ms at the median and 160 ms
 * at worst, and the next step went that late. A power cut can lose what
 * was committed within one sync's time, which the batch's record then
 * ends before (the batch is interrupted there anyway).
 */
static int
run_commit_boundary(struct run *run, const struct db_step *next, size_t next_count)
{
	const struct ledger_step_end *end;
	const struct ledger_bilayer *bilayer;
	struct ledger_event events[1];
	char why[320];
	size_t n = run_take_pending(run, &end, &bilayer, events);
	int rc;

	run->pair_end_unwritten = 0;
	if (end == NULL && bilayer == NULL && n == 0 && next_count == 0)
		return 0;
	rc = ledger_step_boundary(run->ctx.record, run->batch_id, end, bilayer, events, n, next,
	    next_count, why, sizeof(why));
	run_pending_written(run);
	if (rc == -1) {
		run_fault(run, "failed", 1, "the database did not record step %d: %s",
		    end != NULL ? end->seq : next->seq, why);
		return -1;
	}
	return 0;
}

/* The boundary under way, if any, committed where a loss can only be logged. */
static int
run_commit_boundary_quiet(struct run *run, char *why, size_t why_size)
{
	const struct ledger_step_end *end;
	const struct ledger_bilayer *bilayer;
	struct ledger_event events[1];
	size_t n = run_take_pending(run, &end, &bilayer, events);
	int rc;

	run->pair_end_unwritten = 0;
	if (end == NULL && bilayer == NULL && n == 0)
		return 0;
	rc = ledger_step_boundary(run->ctx.record, run->batch_id, end, bilayer, events, n, NULL,
	    0, why, why_size);
	run_pending_written(run);
	return rc;
}

/*
 * Arms a timer of the executor; a failure fails the batch. The step
 * timer's deadline is where commands go out next: supervision polls keep
 * clear of it (the overrun's is no command's).
 */
static int
run_timer_at(struct run *run, struct loop_timer *timer, int64_t deadline_ns, const char *what)
{
	if (timer == run->timer)
		act_next_deadline(run->ctx.act, deadline_ns);
	if (loop_timer_at(timer, deadline_ns) == 0)
		return 0;
	run_fault(run, "failed", 1, "the executor's timer for %s could not be armed (%s)", what,
	    strerror(errno));
	return -1;
}

/* ---- supervision ---- */

/*
 * Polls every device the batch's plan commands or reads (its compiled
 * actions) while the batch is in progress (hw_supervise()). Out of memory,
 * the batch runs unsupervised, and the log says so.
 */
static void
run_supervise(struct run *run)
{
	const struct rig *rig = run->ctx.rig;
	struct compile_state state = { 0 };
	struct compile_list list = { 0 };
	unsigned char *in_use = calloc(rig->device_count + 1, 1);
	size_t i, k;

	if (in_use == NULL) {
		log_warnx("batch %lld: out of memory: its devices are not supervised",
		    (long long)run->batch_id);
		return;
	}
	for (i = 0; i < run->plan->count; i++) {
		if (compile_step(run->recipe, rig, &run->plan->steps[i], &state, &list) == -1) {
			log_warnx("batch %lld: out of memory: its devices are not supervised",
			    (long long)run->batch_id);
			compile_list_free(&list);
			free(in_use);
			return;
		}
		for (k = 0; k < list.count; k++)
			if (list.actions[k].device >= 0 &&
			    (size_t)list.actions[k].device < rig->device_count)
				in_use[list.actions[k].device] = 1;
	}
	compile_list_free(&list);
	act_supervise(run->ctx.act, in_use);
	free(in_use);
}

/* Supervision ends with the batch, or when it fails (its rig goes safe). */
static void
run_supervise_stop(struct run *run)
{
	act_supervise(run->ctx.act, NULL);
	act_next_deadline(run->ctx.act, 0);
}

/* ---- ending a batch ---- */

/* The rig to its safe state through act; park: withdraw and park after. */
static void
run_safe(struct run *run, int park)
{
	run->park_asked = park;
	run->await_safe = 0;
	/* a step begun again after it is no pair's second (its gap would span the stop) */
	run->pair_step = 0;
	run->second_sent_ns = 0;
	run->close_reads = 0;
	run->close_burst = 0;
	run_disarm(run);
	act_safe_state(run->ctx.act, park);
}

static void
run_release(struct run *run)
{
	log_context(0, NULL, 0, 0);
	run->await_safe = 0;
	dispense_cancel(run->dispense);
	dispense_cancel(run->dispense_ahead);
	run->dispense_ahead_step = 0;
	loop_timer_cancel(run->timer);
	loop_timer_cancel(run->overrun);
	if (run->plan != NULL)
		run_supervise_stop(run);
	plan_free(run->plan);
	recipe_free(run->recipe);
	free(run->dips);
	free(run->volume_ml);
	free(run->area_cm2);
	free(run->sol_rows);
	free(run->baseline_hz);
	run->baseline_hz = NULL;
	free(run->armed);
	run->armed = NULL;
	free(run->running);
	run->running = NULL;
	free(run->pair_gap_ns);
	run->pair_gap_ns = NULL;
	free(run->close_stops);
	run->close_stops = NULL;
	if (run->plan != NULL && run->stopped == NULL)
		/*
		 * The batch is over: the devices' own timeouts are disarmed. When
		 * lbld is stopping they stay armed: the devices are stopped
		 * already, and the disarm writes would not outlive the exit.
		 */
		act_keep_alive(run->ctx.act, 0);
	run->plan = NULL;
	run->recipe = NULL;
	run->dips = NULL;
	run->volume_ml = NULL;
	run->area_cm2 = NULL;
	run->sol_rows = NULL;
	run->have_pending_end = run->have_pending_bilayer = 0;
	run->pending_event[0] = '\0';
	run->state = RUN_IDLE;
	/*
	 * A batch's plan and recipe are freed in pieces that glibc keeps in its
	 * heap; an idle controller hands them back to the system (tens of kB
	 * on a Pi that may sit idle for days).
	 */
	malloc_trim(0);
}

/* The last step is done: the boundary, the solutions, completed and its event, one commit. */
static void
run_complete(struct run *run)
{
	const struct ledger_step_end *end;
	const struct ledger_bilayer *bilayer;
	struct ledger_event events[2];
	char message[160], why[320];
	size_t n = run_take_pending(run, &end, &bilayer, events);

	text_format(message, sizeof(message), "batch completed: %d %s%s", run->plan->bilayers,
	    text_plural(run->plan->bilayers, "bilayer", "bilayers"),
	    run->stop_early ? " (measured target reached early)" : "");
	events[n].kind = "info";
	events[n].device = NULL;
	events[n++].message = message;
	log_info("batch %lld: %s", (long long)run->batch_id, message);
	snprintf(run->batch_state, sizeof(run->batch_state), "completed");
	if (ledger_batch_end(run->ctx.record, run->batch_id, end, bilayer, run->sol_rows,
	    run_solution_rows(run), "completed", NULL, events, n, why, sizeof(why)) == -1) {
		run_pending_written(run);
		run_fault(run, "failed", 1, "the database did not record the batch's completion: %s",
		    why);
		return;
	}
	run_pending_written(run);
	run_release(run);
	run_notify(run);
}

/*
 * The device a fault is about, for its event's device column: the one its
 * cause names, else the device of the action that failed, else none.
 */
static const char *
run_fault_device(const struct run *run)
{
	const char *named = rig_device_in_text(run->ctx.rig, run->cause);

	return named != NULL ? named : run->fault_device;
}

/*
 * Any fault: the rig goes to safe state before anything else; then the
 * cause is recorded (the open step's end, the solutions, the state and the
 * event, one commit; if that is lost too, the log says so). park: also
 * withdraw and park the substrate.
 */
static void
run_fault(struct run *run, const char *batch_state, int park, const char *fmt, ...)
{
	struct ledger_step_end end_row;
	const struct ledger_step_end *end;
	struct ledger_event event;
	int aborted = strcmp(batch_state, "aborted") == 0;
	char why[320];
	va_list ap;

	loop_timer_cancel(run->timer);
	loop_timer_cancel(run->overrun);
	dispense_cancel(run->dispense);
	dispense_cancel(run->dispense_ahead);
	run->dispense_ahead_step = 0;
	run->close_burst = run->close_reads = 0;
	run_supervise_stop(run);
	run_disarm(run);
	run->state = RUN_SAFE;
	run->safe_then = RUN_IDLE;
	run->compiled.line_running = 0;
	/* an e-stop's safe state is under way already (act did it first): not twice */
	if (run->safe_by_input)
		run->park_asked = 0;
	else
		run_safe(run, park);
	run->safe_by_input = 0;
	va_start(ap, fmt);
	text_vformat(run->cause, sizeof(run->cause), fmt, ap);
	va_end(ap);
	log_warnx("batch %lld: %s: %s", (long long)run->batch_id, batch_state, run->cause);
	snprintf(run->batch_state, sizeof(run->batch_state), "%s", batch_state);
	/*
	 * A boundary that failed to commit is not written twice; one not yet
	 * tried (a pair's set, done, whose second failed as it began) is
	 * written now.
	 */
	if (run->pair_end_unwritten && run_commit_boundary_quiet(run, why, sizeof(why)) == -1)
		log_warnx("batch %lld: a step's end is not on record: %s", (long long)run->batch_id,
		    why);
	run->have_pending_end = run->have_pending_bilayer = 0;
	run->pending_event[0] = '\0';
	run->pair_end_unwritten = 0;
	run_close_next(run, aborted ? "aborted" : "failed");
	/* an operator's abort is not the step's failure */
	end = run_open_end(run, aborted ? "aborted" : "failed", loop_now_ns(), &end_row);
	event.kind = aborted ? "abort" : "fault";
	event.device = run_fault_device(run);
	event.message = run->cause;
	run->fault_device = NULL;
	if (ledger_batch_end(run->ctx.record, run->batch_id, end, NULL, run->sol_rows,
	    run_solution_rows(run), batch_state, run->cause, &event, 1, why, sizeof(why)) == -1) {
		log_warnx("batch %lld: its end (%s) is not on record: %s", (long long)run->batch_id,
		    batch_state, why);
		/*
		 * A refused write fails its whole commit (record.h): the state and
		 * its cause, what matters most, are tried again alone.
		 */
		if (ledger_batch_end(run->ctx.record, run->batch_id, NULL, NULL, NULL, 0,
		    batch_state, run->cause, &event, 1, why, sizeof(why)) == -1)
			log_warnx("batch %lld: its state %s is not on record either: %s",
			    (long long)run->batch_id, batch_state, why);
		else
			log_warnx("batch %lld: its state %s and cause are on record without the "
			    "step's end and the solutions", (long long)run->batch_id, batch_state);
	}
	if (!park)
		run_release(run);
	run_notify(run);
}

/* ---- measurement ---- */

/*
 * Keeps a QCM's baseline and puts it on record with where it came from and
 * its event, one commit. Returns 0, or -1 when that was lost: the batch
 * has failed then, naming the sensor.
 */
static int
run_set_baseline(struct run *run, int device, double hz, const char *source)
{
	const char *name = run->ctx.rig->devices[device].name;
	struct ledger_event event = { "info", name, NULL };
	char message[200], why[320];

	run->baseline_hz[device] = hz;
	text_format(message, sizeof(message), "baseline of sensor '%s': %.3f Hz (the bare crystal), "
	    "%s", name, hz, source);
	event.message = message;
	log_info("batch %lld: info: %s", (long long)run->batch_id, message);
	if (ledger_baseline(run->ctx.record, run->batch_id, name, hz, source, &event, why,
	    sizeof(why)) == 0)
		return 0;
	run_fault(run, "failed", 1, "the database did not record the baseline of sensor '%s': %s",
	    name, why);
	return -1;
}

/*
 * A measure step's reading arrived (checked plausible by the hardware
 * layer). A baseline step keeps it as its QCM's bare crystal; any other
 * becomes the measured thickness. Returns 0, or -1 when the batch has
 * failed (no thickness from it, or its baseline not on record).
 */
static int
run_measured(struct run *run, double value)
{
	const struct plan_step *s = &run->plan->steps[run->step];
	const struct recipe_step *src = s->src;
	int device = run->list.actions[run->action_index].device;
	const struct rig_device *dev = &run->ctx.rig->devices[device];
	char why[256], source[64];
	double nm;

	if (src->method == MEASURE_SAUERBREY && src->baseline) {
		snprintf(source, sizeof(source), "measured in step %d", s->seq);
		return run_set_baseline(run, device, value, source);
	}
	/* the rig file's f0 is the baseline when no step measured one */
	if (src->method == MEASURE_SAUERBREY && isnan(run->baseline_hz[device]) &&
	    dev->f0_given && run_set_baseline(run, device, dev->f0_hz, "the rig file's f0") == -1)
		return -1;
	if (thickness_of_reading(src, value, run->baseline_hz[device], &nm, why,
	    sizeof(why)) == -1) {
		run->fault_device = dev->name;
		run_fault(run, "failed", 1, "step %d: %s: not a measurement", s->seq, why);
		return -1;
	}
	run->measured_nm = nm;
	run->measured_bilayer = s->bilayer;
	if (run_event(run, "info", dev->name, "measured %.1f nm after bilayer %d (raw %.6g)",
	    run->measured_nm, s->bilayer, value) == -1)
		return -1;
	if (src->stop_at_target && run->recipe->target_thickness_nm > 0 &&
	    run->measured_nm >= run->recipe->target_thickness_nm && s->phase != PHASE_POST)
		run->stop_early = 1;
	return 0;
}

/* ---- the step and action machinery ---- */

/* Whether a step's waits are its dwell (plan.c: a wait, a settle, a drain and fill). */
static int
run_wait_is_dwell(const struct plan_step *s)
{
	return s->kind == STEP_WAIT || s->kind == STEP_MEASURE || s->kind == STEP_REPLACE;
}

static void
run_timer_fired(void *arg)
{
	struct run *run = arg;

	if (run->state == RUN_WAITING) {
		run->state = RUN_STEP;
		run_next_step(run);
		return;
	}
	if (run->state != RUN_STEP)
		return;
	/*
	 * The waits of a wait step, a measure's settle and a bath replacement's
	 * drain and fill are those steps' dwell in the plan, and so on record;
	 * a wait step's lasts until the step's end, which the record's lead
	 * moved on before. Other waits (a drip, a spray's drain) are not.
	 */
	if (run->list.actions[run->action_index].kind == COMPILE_DWELL)
		run->dwell_ns += loop_now_ns() - run->action_begin_ns;
	else if (run_wait_is_dwell(&run->plan->steps[run->step]))
		run->dwell_ns += (run->hold_until_ns > loop_now_ns() ? run->hold_until_ns :
		    loop_now_ns()) - run->action_begin_ns;
	run->action_index++;
	run_next_action(run);
}

static void
run_overrun_fired(void *arg)
{
	struct run *run = arg;
	const struct plan_step *s = &run->plan->steps[run->step];

	if (run->state != RUN_STEP)
		return;
	run_fault(run, "failed", 1, "step %d (%s at %s) overran its planned %.1f s by more than "
	    "the tolerance", s->seq, step_kind_names[s->kind], s->where ? s->where : "-",
	    s->duration_ms / 1000.0 / run->ctx.time_scale);
}

static void
run_begin_prompt(struct run *run)
{
	run->state = RUN_PROMPT;
	run->wait_begin_ns = loop_now_ns();
	loop_timer_cancel(run->overrun);
	if (run_event(run, "prompt", NULL, "%s", run->message) == -1)
		return;
	run_notify(run);
}

/* The wait in hand is its step's last (and no operator waits): it absorbs. */
static int
run_wait_absorbs(const struct run *run)
{
	return run->action_index + 1 == run->list.count &&
	    !run->plan->steps[run->step].operator_wait;
}

/*
 * Whether the dwell or wait in hand is its step's last timed entry: only
 * commands (valves, pumps, a line) follow it, which the plan counts as no
 * time, and no move, read or operator wait.
 */
static int
run_timed_last(const struct run *run)
{
	size_t i;

	if (run->plan->steps[run->step].operator_wait)
		return 0;
	for (i = run->action_index + 1; i < run->list.count; i++)
		if (run->list.actions[i].kind != COMPILE_OUTPUT &&
		    run->list.actions[i].kind != COMPILE_PUMP &&
		    run->list.actions[i].kind != COMPILE_LINE)
			return 0;
	return 1;
}

/* One transaction's time on device's serial line; 0 on Modbus TCP and GPIO. */
static double
run_line_ms(const struct run *run, int device)
{
	const struct rig *rig = run->ctx.rig;
	const struct rig_bus *b;

	if (device < 0 || rig->devices[device].bus < 0)
		return 0;
	b = &rig->buses[rig->devices[device].bus];
	return b->type == RIG_BUS_RTU ? rig_bus_transaction_ms(b) : 0;
}

/*
 * The bus that step idx's first action commands, compiled from *state
 * (which it moves past the step): -1 when that action commands nothing (a
 * wait, a prompt, a read) or its device is on no bus (GPIO), or out of
 * memory. *device (may be NULL): that device, when there is a bus.
 */
static int
run_first_bus(struct run *run, size_t idx, struct compile_state *state, int *device)
{
	struct compile_list list = { 0 };
	const struct compile_action *a;
	int bus = -1;

	if (device != NULL)
		*device = -1;
	if (compile_step(run->recipe, run->ctx.rig, &run->plan->steps[idx], state, &list) == -1)
		return -1;
	if (list.count > 0) {
		a = &list.actions[0];
		if (a->device >= 0 && (size_t)a->device < run->ctx.rig->device_count &&
		    a->kind != COMPILE_READ)
			bus = run->ctx.rig->devices[a->device].bus;
		if (bus >= 0 && device != NULL)
			*device = a->device;
	}
	compile_list_free(&list);
	return bus;
}

/*
 * How long before step idx's deadline its first command is sent, so that
 * it reaches its device on the deadline: on a serial line the trigger's
 * request on the wire and the silence after it (rig_bus_trigger_ms: 6 ms
 * at 19,200 baud; *trigger_ns, may be NULL), on Modbus TCP and GPIO
 * nothing. A step of no duration (a set) whose successor starts at the
 * same moment with a command on a Modbus bus (its own or another) goes
 * half their gap earlier still (*pair_dev says so: the set's device, or
 * -1): the successor's start waits for the set's answer (the recipe's
 * order: a pump does not start before its valve is confirmed open), so the
 * two reach their devices about half that gap either side of their
 * moment, in the recipe's order, instead of the second a whole gap late.
 * The gap is learnt per device the set commands (run_learn_pair), a
 * transaction of its bus until then. before is the compile state before
 * step idx. Real time: the time scale does not shrink a wire.
 */
static int64_t
run_fire_lead_ns(struct run *run, size_t idx, const struct compile_state *before,
    int64_t *trigger_ns, int *pair_dev, int *first_bus)
{
	const struct rig *rig = run->ctx.rig;
	const struct plan_step *s;
	struct compile_state state = *before;
	int64_t lead_ns = 0;
	int bus, dev;

	if (trigger_ns != NULL)
		*trigger_ns = 0;
	if (pair_dev != NULL)
		*pair_dev = -1;
	if (first_bus != NULL)
		*first_bus = -1;
	if (rig == NULL || run->plan == NULL || idx >= run->plan->count)
		return 0;
	s = &run->plan->steps[idx];
	if (s->operator_wait || (bus = run_first_bus(run, idx, &state, &dev)) < 0)
		return 0;
	if (first_bus != NULL)
		*first_bus = bus;
	if (rig->buses[bus].type == RIG_BUS_RTU)
		lead_ns = (int64_t)(rig_bus_trigger_ms(&rig->buses[bus]) * 1e6);
	if (trigger_ns != NULL)
		*trigger_ns = lead_ns;
	if (s->duration_ms == 0 && idx + 1 < run->plan->count &&
	    run->plan->steps[idx + 1].start_ms == s->start_ms &&
	    !run->plan->steps[idx + 1].operator_wait &&
	    run_first_bus(run, idx + 1, &state, NULL) >= 0) {
		lead_ns += (run->pair_gap_ns != NULL && run->pair_gap_ns[dev] >= 0 ?
		    run->pair_gap_ns[dev] :
		    (int64_t)(rig_bus_transaction_ms(&rig->buses[bus]) * 1e6)) / 2;
		if (pair_dev != NULL)
			*pair_dev = dev;
	}
	return lead_ns;
}

/*
 * The second of a pair at one moment was sent gap_ns after the first
 * (run_fire_lead_ns): the next pair's first goes half the learnt gap
 * early. A quarter of each difference (as run_learn_tail), each gap taken
 * at most as two of the bus's transactions, so that one slow commit does
 * not send the next set far ahead of its moment. The second never goes
 * before its own deadline, so a gap learnt too long (its first went
 * early, the second waited) shrinks by an eighth a pair towards the true
 * one.
 */
static void
run_learn_pair(struct run *run, int dev, int64_t gap_ns)
{
	const struct rig_bus *bus = &run->ctx.rig->buses[run->ctx.rig->devices[dev].bus];
	int64_t most_ns = (int64_t)(2 * rig_bus_transaction_ms(bus) * 1e6);
	int64_t *learnt_ns;

	if (run->pair_gap_ns == NULL)
		return;
	learnt_ns = &run->pair_gap_ns[dev];
	if (gap_ns < 0)
		gap_ns = 0;
	if (gap_ns > most_ns)
		gap_ns = most_ns;
	if (*learnt_ns < 0)
		*learnt_ns = (int64_t)(rig_bus_transaction_ms(bus) * 1e6);
	*learnt_ns += (gap_ns - *learnt_ns) / 4;
}

/*
 * The first command of a pair's set or second was answered, sent at
 * sent_ns on its bus (0: not known). Their gap is learnt from the buses'
 * own stamps: when the executor began the second misses its command's
 * hand-off to its bus thread, which the set's release does not have (its
 * bus sends it on the moment), and so a gap learnt from it came out short
 * by that hand-off and the second reached its device late.
 */
static void
run_pair_sent(struct run *run, int64_t sent_ns)
{
	if (run->second_sent_ns > 0 && sent_ns > 0)
		run_learn_pair(run, run->second_dev, sent_ns - run->second_sent_ns);
	run->second_sent_ns = 0;
	if (run->pair_step == run->step + 2)
		run->pair_sent_ns = sent_ns;
}

/*
 * What the commands after the action in hand (a spray's valve off and pump
 * stop) take on their serial lines, returned, and the reads of the step's
 * pumps' volume counters after them, *reads_ns: a transaction each at the
 * line's baud rate (a counter's read is the pump's status, one or two).
 * Modbus TCP and GPIO count as no time (a fraction of a millisecond).
 */
static int64_t
run_trailing_ns(const struct run *run, int64_t *reads_ns)
{
	double ms = 0, reads_ms = 0, wrap_ml;
	size_t i, j;

	for (i = run->action_index + 1; i < run->list.count; i++)
		ms += run_line_ms(run, run->list.actions[i].device);
	for (i = 0; i < run->list.count; i++) {
		const struct compile_action *a = &run->list.actions[i];

		if (a->kind != COMPILE_PUMP || a->value > 0 ||
		    !act_volume_counter(run->ctx.act, a->device, &wrap_ml))
			continue;
		for (j = 0; j < i; j++)
			if (run->list.actions[j].kind == COMPILE_PUMP && run->list.actions[j].value <= 0 &&
			    run->list.actions[j].device == a->device)
				break;
		if (j == i)	/* once a pump */
			reads_ms += 2 * run_line_ms(run, a->device);
	}
	*reads_ns = (int64_t)(reads_ms * 1e6);
	return (int64_t)(ms * 1e6);
}

/*
 * The margin a close of a step of kind ends its dwell by (run_learn_tail):
 * its own once one has taught it, else the largest any kind has learnt so
 * far (0 before the first close): a close is the same chain of the buses,
 * the loop and a commit whatever the step, and a kind's first closes each
 * came late by most of it while its own margin was still rising from 0.
 */
static int64_t
run_tail_of(const struct run *run, int kind)
{
	int64_t most_ns = 0;
	int k;

	if (run->tail_learnt[kind])
		return run->tail_ns[kind];
	for (k = 0; k < STEP_KIND_COUNT; k++)
		if (run->tail_learnt[k] && run->tail_ns[k] > most_ns)
			most_ns = run->tail_ns[k];
	return most_ns;
}

/*
 * When a dwell or wait ends. A wait ends at the schedule's point (due_ns)
 * plus its time, an absolute deadline from the batch's origin, so the
 * commands before it (valves, pumps: real time the plan does not count) do
 * not add up step after step. A step's last timed entry (a drain or drip;
 * a spray's or dry step's dwell when nothing timed follows) ends at the
 * step's planned end instead, absorbing what its moves took beyond their
 * estimate too, so every step's end is an absolute deadline, whatever its
 * shape. Any other dwell is an exact exposure from now: the step's last
 * wait takes the difference.
 * The last timed entry ends early by what the commands after it take on a
 * serial line (run_trailing_ns), so that they, too, are done by the
 * step's end.
 * A wait gives up at most a tenth of itself (RUN_ABSORB_DIVISOR), or, as
 * its step's last timed entry, a tenth of its step (the share of a step
 * its I/O may take: rig_min_step_ms) unless it is the step's dwell on
 * record (run_wait_is_dwell: it times a process), a dwell a twentieth of itself
 * (RUN_DWELL_ABSORB_DIVISOR: it times an exposure and a pump's volume): a
 * much later step stays late rather than expose or drip too little; and
 * neither lasts longer than its whole time from now.
 */
static int64_t
run_wait_end_ns(struct run *run, const struct compile_action *a)
{
	const struct plan_step *s = &run->plan->steps[run->step];
	int64_t ms_ns = run_scaled_ns(run, a->ms);
	int64_t full_ns = run->action_begin_ns + ms_ns;
	int64_t give_ns = ms_ns / (a->kind == COMPILE_DWELL ? RUN_DWELL_ABSORB_DIVISOR :
	    RUN_ABSORB_DIVISOR);
	int64_t end_ns = run->due_ns + ms_ns, floor_ns, step_give_ns;

	if (run_timed_last(run)) {
		int64_t reads_ns, lead_ns = run_trailing_ns(run, &reads_ns);
		/* what closing such a step took the steps of its kind before, learnt */
		int64_t tail_ns = a->kind == COMPILE_DWELL ? run_tail_of(run, s->kind) : 0;
		int64_t step_end_ns = run->t0_ns + run_scaled_ns(run, s->start_ms + s->duration_ms);

		if (lead_ns > ms_ns / 2)
			lead_ns = ms_ns / 2;	/* a short entry still times something */
		/*
		 * The commands after it take the line's time, not the
		 * exposure's (a spray's pump runs on until its stop arrives);
		 * the counters' reads and the learnt tail come out of what the
		 * entry may give up (the floor below).
		 */
		/* the next step's first command may leave before this end (run_fire_lead_ns) */
		if (run->step + 1 < run->plan->count) {
			int64_t next_ns = run->t0_ns + run_scaled_ns(run,
			    run->plan->steps[run->step + 1].start_ms) -
			    run_fire_lead_ns(run, run->step + 1, &run->compiled, NULL, NULL, NULL);

			if (next_ns < step_end_ns)
				step_end_ns = next_ns;
		}
		full_ns -= lead_ns;
		end_ns = step_end_ns - lead_ns - reads_ns - tail_ns;
		run->tail_step = a->kind == COMPILE_DWELL ? (int)s->kind + 1 : 0;
		/* held by the bounds below, the margin decides nothing: nothing is learnt then */
		step_give_ns = run_scaled_ns(run, s->duration_ms) / RUN_ABSORB_DIVISOR;
		/* a wait that times a process (a wait step's, a drain and fill) keeps its tenth */
		if (a->kind == COMPILE_WAIT && !run_wait_is_dwell(s) && step_give_ns > give_ns)
			give_ns = step_give_ns < ms_ns ? step_give_ns : ms_ns;
	} else if (a->kind == COMPILE_DWELL)
		return full_ns;		/* an exposure the last wait absorbs for: exact */
	floor_ns = full_ns - give_ns;
	if (end_ns < floor_ns || end_ns > full_ns)
		run->tail_step = 0;
	return end_ns < floor_ns ? floor_ns : end_ns > full_ns ? full_ns : end_ns;
}

/*
 * The step's actions are done: its end (and its bilayer's, and a target
 * reached) become the boundary under way, which whatever comes next (the
 * next step's start, a pause, the batch's end) commits with its own writes.
 */
static void
run_step_close(struct run *run)
{
	const struct plan_step *s = &run->plan->steps[run->step];
	struct compile_use uses[COMPILE_MAX_USES];
	int64_t now = loop_now_ns();
	int next_bilayer;
	size_t i, n;

	/* an absorbing wait moved on early: the step ends at its deadline */
	if (run->hold_until_ns > now)
		now = run->hold_until_ns;
	loop_timer_cancel(run->overrun);
	/* the step's uses exactly as planned (the pumps' counts go beside, with its end) */
	n = compile_uses(run->recipe, run->ctx.rig, s, &run->pass, uses, COMPILE_MAX_USES);
	for (i = 0; i < n && i < COMPILE_MAX_USES; i++) {
		run->dips[uses[i].solution] += uses[i].dips;
		run->volume_ml[uses[i].solution] += uses[i].volume_ml;
		run->area_cm2[uses[i].solution] += uses[i].area_cm2;
	}
	run->have_pending_end = run_open_end(run, "done", now, &run->pending_end) != NULL;
	next_bilayer = run->step + 1 < run->plan->count ?
	    run->plan->steps[run->step + 1].bilayer : -1;
	/* a bilayer ends with its last cycle or checkpoint step */
	if (s->bilayer > 0 && s->phase != PHASE_POST && (next_bilayer != s->bilayer ||
	    run->plan->steps[run->step + 1].phase == PHASE_POST)) {
		run->pending_bilayer.n = s->bilayer;
		run->pending_bilayer.estimated_nm = run->plan->thickness_nm[s->bilayer];
		run->pending_bilayer.measured_nm = run->measured_bilayer == s->bilayer ?
		    run->measured_nm : NAN;
		run->have_pending_bilayer = 1;
	}
	run->step++;
	if (run->stop_early) {
		/* skip the remaining cycles: go on with the post steps */
		while (run->step < run->plan->count &&
		    run->plan->steps[run->step].phase != PHASE_POST)
			run->step++;
		snprintf(run->pending_event, sizeof(run->pending_event), "measured thickness "
		    "%.1f nm reached the target %.1f nm: ending after bilayer %d", run->measured_nm,
		    run->recipe->target_thickness_nm, s->bilayer);
		log_info("batch %lld: %s", (long long)run->batch_id, run->pending_event);
		/* post steps run now, not at their planned time */
		if (run->step < run->plan->count)
			run->t0_ns = now - run_scaled_ns(run,
			    run->plan->steps[run->step].start_ms);
		run->stop_early = 0;
	}
	run_next_step(run);
}

/*
 * The step's actions have all ended. Pumps with volume counters are read
 * again before the step closes (run_dispensed goes on once they are back);
 * a step that counts nothing closes now.
 */
static void run_dispensed(void *arg);

static void
run_step_done(struct run *run)
{
	char why[320];
	int rc;

	/* the reads went with the stops (run_close_burst): whichever answers last closes */
	if (run->close_reads == 1)
		return;
	if (run->close_reads == 2) {
		run_dispensed(run);
		return;
	}
	if ((rc = dispense_end(run->dispense, why, sizeof(why))) == 0)
		return;
	if (rc == -1) {
		run_fault(run, "failed", 1, "step %d: %s", run->plan->steps[run->step].seq, why);
		return;
	}
	run_step_close(run);
}

/*
 * The step's pumps' counters are back (dispense_end): what they dispensed
 * goes on record beside the plan's figure with the step's end, in its
 * boundary's commit (or the batch's end), and a shortfall fails the step
 * instead of closing it done.
 */
static void
run_dispensed(void *arg)
{
	struct run *run = arg;
	const struct plan_step *s;
	const char *device;
	double planned_ml, counted_ml;
	char why[320];
	int rc;

	if (run->state != RUN_STEP || run->plan == NULL)
		return;
	if (run->close_reads == 1) {
		run->close_reads = 2;
		/* the stops they were read behind answer yet: their end goes on (run_step_done) */
		if (run->act_waits)
			return;
	}
	run->close_reads = 0;
	s = &run->plan->steps[run->step];
	rc = dispense_result(run->dispense, &planned_ml, &counted_ml, &device, why, sizeof(why));
	if (rc != 1) {
		run->have_volume = 1;
		run->volume_planned_ml = planned_ml;
		run->volume_measured_ml = counted_ml;
	}
	if (rc == -1) {
		run->fault_device = device;
		run_fault(run, "failed", 1, "step %d (%s at %s): %s", s->seq,
		    step_kind_names[s->kind], s->where ? s->where : "-", why);
		return;
	}
	run_step_close(run);
}

/* ---- arm, then fire ---- */

/* The hardware request of a start action (a move, or a pump or line run), or -1. */
static int
run_start_request(const struct compile_action *a, struct hw_request *req)
{
	memset(req, 0, sizeof(*req));
	req->device = a->device;
	req->value = a->value;
	switch (a->kind) {
	case COMPILE_MOVE:
		req->op = HW_MOVE;
		req->speed_mm_s = a->speed_mm_s;
		return 0;
	case COMPILE_PUMP:
	case COMPILE_LINE:
		if (a->value <= 0)
			return -1;	/* a stop is a trigger of its own: nothing to arm */
		req->op = a->kind == COMPILE_PUMP ? HW_PUMP : HW_LINE;
		req->reverse = a->reverse;
		return 0;
	default:
		return -1;
	}
}

/* Forgets every arm: their late answers are ignored, and starts go whole. */
static void
run_disarm(struct run *run)
{
	run->arm_tag++;
	run->armed_for = 0;
	run->fire_waits = 0;
	dispense_cancel(run->dispense_ahead);
	run->dispense_ahead_step = 0;
	if (run->armed != NULL)
		memset(run->armed, 0, run->ctx.rig->device_count * sizeof(*run->armed));
}

/* An arm's answer: read back, or the batch fails like on any device fault. */
static void
run_on_armed(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct run *run = arg;
	struct run_armed *armed;

	if (req->tag != run->arm_tag || run->armed == NULL ||
	    (run->state != RUN_STEP && run->state != RUN_WAITING))
		return;
	armed = &run->armed[req->device];
	if (armed->state != RUN_ARM_PENDING)
		return;
	if (!res->ok) {
		run->fault_device = run->ctx.rig->devices[req->device].name;
		run_fault(run, "failed", 1, "arming step %d's start: %s",
		    run->plan->steps[run->step + (run->state == RUN_STEP)].seq, res->error);
		return;
	}
	/* a pump found running was left alone: its start goes whole */
	armed->state = res->running == 1 ? RUN_ARM_NONE : RUN_ARM_DONE;
	if (run->fire_waits == req->device + 1 && run->state == RUN_STEP) {
		/* its deadline came first: the start goes now, as armed (or whole) */
		run->fire_waits = 0;
		run_next_action(run);
	}
}

/* Whether action a of list, from index from on, commands device. */
static int
run_list_uses(const struct compile_list *list, size_t from, int device)
{
	size_t i;

	for (i = from; i < list->count; i++)
		if (list->actions[i].device == device)
			return 1;
	return 0;
}

/*
 * The volume counters of step next's pumps are read now, ahead, like its
 * arm, instead of at its deadline, where each read is a transaction before
 * its first command (two on a serial line: 25 ms at 19,200 baud). Only
 * when no pump is known running and nothing before the step commands it;
 * and the step uses them only when each pump said it was stopped
 * (dispense_counted_stopped): the count then starts where it would have at
 * the step's start. Otherwise the step reads them itself.
 */
static void
run_count_ahead(struct run *run, size_t next, const struct compile_list *list,
    const struct compile_list *current, size_t from, const struct compile_list *between)
{
	struct compile_volume pumps[DISPENSE_MAX_PUMPS];
	char why[320];
	size_t n, i;

	if (run->dispense_ahead_step != 0)
		return;		/* one step's counts ahead at a time */
	n = compile_volumes(run->ctx.rig, list, pumps, DISPENSE_MAX_PUMPS);
	if (n == 0 || n > DISPENSE_MAX_PUMPS)
		return;
	for (i = 0; i < n; i++)
		if (run->running[pumps[i].device] == 1 ||
		    (current != NULL && run_list_uses(current, from, pumps[i].device)) ||
		    (between != NULL && run_list_uses(between, 0, pumps[i].device)))
			return;
	if (dispense_begin(run->dispense_ahead, run->ctx.act, run->ctx.rig, list, why,
	    sizeof(why)) <= 0) {
		dispense_cancel(run->dispense_ahead);
		return;
	}
	run->dispense_ahead_step = next + 1;
}

/*
 * Arms the start of step next (an index into the plan) ahead of its
 * deadline: its leading moves and runs, up to its first timing entry or
 * read (an axis's first move only), are written and read back now, so that
 * at the deadline (or the arrival of the move before) only their triggers
 * go (run_fire_if_armed). Not armed, and so sent whole at the deadline: a
 * device the step in hand still commands, a pump or line told to run, and
 * a device whose profile cannot separate setpoint and trigger (act_can_arm
 * says why: its start carries its setpoint). Valves are triggers
 * themselves. Called when the step in hand enters its last dwell or wait
 * (its commands are out), and when the run waits for a step's deadline.
 * Never fails the batch itself: an arm that cannot be queued is left to go
 * whole; an arm that fails does, through run_on_armed.
 */
static void
run_arm_step(struct run *run, size_t next, const struct compile_list *current, size_t from,
    const struct compile_list *between)
{
	struct compile_state state = run->compiled;
	struct compile_list list = { 0 };
	struct hw_request req;
	char why[320];
	size_t i;

	if (next >= run->plan->count || run->plan->steps[next].operator_wait ||
	    run->armed == NULL || run->pause_requested)
		return;
	if (compile_step(run->recipe, run->ctx.rig, &run->plan->steps[next], &state, &list) == -1)
		return;		/* out of memory: the step goes whole */
	for (i = 0; i < list.count; i++) {
		const struct compile_action *a = &list.actions[i];

		if (run_start_request(a, &req) == -1) {
			if (a->kind == COMPILE_OUTPUT)
				continue;	/* a valve is a trigger: it goes at the deadline */
			break;
		}
		if (run->armed[a->device].state != RUN_ARM_NONE ||
		    (current != NULL && run_list_uses(current, from, a->device)) ||
		    (between != NULL && run_list_uses(between, 0, a->device)) ||
		    (a->kind != COMPILE_MOVE && run->running[a->device] == 1) ||
		    !act_can_arm(run->ctx.act, &req, why, sizeof(why)))
			continue;	/* this start goes whole */
		req.tag = run->arm_tag;
		run->armed[a->device].req = req;
		run->armed[a->device].state = RUN_ARM_PENDING;
		if (act_arm(run->ctx.act, &req, run_on_armed, run, why, sizeof(why)) == -1)
			run->armed[a->device].state = RUN_ARM_NONE;
	}
	run_count_ahead(run, next, &list, current, from, between);
	compile_list_free(&list);
}

/*
 * Arms step first and, past steps of no duration (a set: a valve or pump
 * switched at the same moment), up to RUN_ARM_AHEAD steps after it: the
 * spray that follows a set would otherwise go whole at its deadline, a
 * few transactions late on a slow line. A device a step in between
 * commands is not armed (its start goes whole).
 */
#define RUN_ARM_AHEAD	4
static void
run_arm_ahead(struct run *run, size_t first, const struct compile_list *current, size_t from)
{
	struct compile_state state = run->compiled;
	struct compile_list between = { 0 };
	size_t k, n;

	run_arm_step(run, first, current, from, NULL);
	for (k = first, n = 0; n < RUN_ARM_AHEAD && k + 1 < run->plan->count &&
	    run->plan->steps[k].duration_ms == 0 && !run->plan->steps[k].operator_wait; k++, n++) {
		compile_list_free(&between);
		if (compile_step(run->recipe, run->ctx.rig, &run->plan->steps[k], &state,
		    &between) == -1)
			break;
		run_arm_step(run, k + 1, current, from, &between);
	}
	compile_list_free(&between);
}

/*
 * Arms step next (an index) from here on: arms made for another step are
 * forgotten first; those for this one are kept, and what is not armed yet
 * is added.
 */
static void
run_arm_for(struct run *run, size_t next, const struct compile_list *current, size_t from)
{
	if (run->armed_for != next + 1) {
		run_disarm(run);
		run->armed_for = next + 1;
	}
	run_arm_ahead(run, next, current, from);
}

/*
 * A dwell or wait of the step in hand began: its successor is armed, but
 * for the devices the rest of the step still commands (a dip's lift, which
 * withdraws after the immersion: it is armed at the drip, when the
 * transfer's arm was long done). Not before a prompt, nor a read, which
 * may end the cycles early (a target reached): the step after it is armed
 * only once known (run_next_step).
 */
static void
run_arm_next(struct run *run)
{
	size_t i;

	for (i = run->action_index + 1; i < run->list.count; i++)
		if (run->list.actions[i].kind == COMPILE_PROMPT ||
		    run->list.actions[i].kind == COMPILE_READ)
			return;
	run_arm_for(run, run->step + 1, &run->list, run->action_index + 1);
}

/*
 * A start whose values were armed and read back sends its trigger alone.
 * One whose arm is still on its bus at the deadline waits for its answer
 * (returns 1: run_on_armed goes on with it), which comes first on that bus
 * anyway: the setpoints are not written twice, and the trigger never goes
 * before they are read back. Returns 0 when the start goes now.
 */
static int
run_fire_if_armed(struct run *run, const struct compile_action *a)
{
	struct run_armed *armed = &run->armed[a->device];
	struct hw_request req;
	int same = run_start_request(a, &req) == 0 && req.op == armed->req.op &&
	    req.value == armed->req.value && req.speed_mm_s == armed->req.speed_mm_s &&
	    req.reverse == armed->req.reverse;

	if (armed->state == RUN_ARM_PENDING && same) {
		run->fire_waits = a->device + 1;
		return 1;
	}
	if (armed->state == RUN_ARM_DONE && same)
		act_fire(run->ctx.act);
	/* used, or armed with other values (then it goes whole) */
	armed->state = RUN_ARM_NONE;
	return 0;
}

/* Whether an action takes its device the safe way: a valve off, a pump or line stopped. */
static int
run_is_stop(const struct compile_action *a)
{
	return (a->kind == COMPILE_OUTPUT || a->kind == COMPILE_PUMP ||
	    a->kind == COMPILE_LINE) && a->value <= 0;
}

/*
 * A step that ends on its commands (a spray without a drain, a dry step)
 * closes in one burst: when every action left is a stop, they go to act
 * together (act_stops) and its counters' second reads right behind them on
 * their buses, so the buses send them back to back. One at a time, each
 * was a round trip through the bus's thread and the loop (0.5 to 3 ms on
 * the 2-core test machine at the tail), and the next step began that much
 * later. All go the safe way: none needs the one before confirmed. Not a
 * step's first action (a set's command is its start, on its moment), nor
 * more stops than the rig has devices. Returns 1 when the burst went (or
 * failed the batch), 0 when the actions go one at a time.
 */
static int
run_close_burst(struct run *run)
{
	size_t i, n = run->list.count - run->action_index;
	char why[320];
	int rc;

	if (run->action_index == 0 || n > run->ctx.rig->device_count)
		return 0;
	for (i = run->action_index; i < run->list.count; i++)
		if (!run_is_stop(&run->list.actions[i]))
			return 0;
	for (i = 0; i < n; i++) {
		const struct compile_action *a = &run->list.actions[run->action_index + i];
		struct hw_request *req = &run->close_stops[i];

		memset(req, 0, sizeof(*req));
		req->device = a->device;
		req->op = a->kind == COMPILE_OUTPUT ? HW_OUTPUT : a->kind == COMPILE_PUMP ?
		    HW_PUMP : HW_LINE;
		req->value = 0;
		req->reverse = a->reverse;
		/* as one at a time: a stop uses up what was armed on its device (run_fire_if_armed) */
		if (a->kind != COMPILE_OUTPUT)
			run->armed[a->device].state = RUN_ARM_NONE;
	}
	if (act_stops(run->ctx.act, run->close_stops, n, why, sizeof(why)) == -1) {
		run->fault_device = rig_device_in_text(run->ctx.rig, why);
		run_fault(run, "failed", 1, "step %d: its stops could not be commanded: %s",
		    run->plan->steps[run->step].seq, why);
		return 1;
	}
	run->act_waits = 1;
	run->close_burst = 1;
	if ((rc = dispense_end(run->dispense, why, sizeof(why))) == -1) {
		run_fault(run, "failed", 1, "step %d: %s", run->plan->steps[run->step].seq, why);
		return 1;
	}
	run->close_reads = rc == 0;
	return 1;
}

static void
run_next_action(struct run *run)
{
	struct compile_action *a;
	char why[128];
	int64_t end_ns;
	int rc = 0;

	if (run->action_index == run->list.count) {
		run_step_done(run);
		return;
	}
	a = &run->list.actions[run->action_index];
	run->action_begin_ns = loop_now_ns();
	/* a released first command begins when it leaves (its motion is timed from then) */
	if (run->action_index == 0 && run->first_leaves_ns > run->action_begin_ns)
		run->action_begin_ns = run->first_leaves_ns;
	if (run_close_burst(run))
		return;
	switch (a->kind) {
	case COMPILE_MOVE:
		if (act_safety_active(run->ctx.act, why, sizeof(why))) {
			run_fault(run, "failed", 0, "motion refused: %s", why);
			return;
		}
		if (run_fire_if_armed(run, a))
			return;
		rc = act_move(run->ctx.act, a->device, a->value, a->speed_mm_s);
		break;
	case COMPILE_OUTPUT:
		rc = act_output(run->ctx.act, a->device, a->value != 0);
		break;
	case COMPILE_PUMP:
		if (run_fire_if_armed(run, a))
			return;
		rc = act_pump(run->ctx.act, a->device, a->value);
		break;
	case COMPILE_LINE:
		if (run_fire_if_armed(run, a))
			return;
		rc = act_line(run->ctx.act, a->device, a->value, a->reverse);
		break;
	case COMPILE_READ:
		rc = act_read(run->ctx.act, a->device);
		break;
	case COMPILE_DWELL:
		/* from the schedule's point: the step's deadline, or immersion completed */
		end_ns = run_wait_end_ns(run, a);
		run->due_ns = end_ns;
		run_arm_next(run);
		run_timer_at(run, run->timer, end_ns, "a dwell");
		return;
	case COMPILE_WAIT:
		end_ns = run_wait_end_ns(run, a);
		run->due_ns = end_ns;
		run_arm_next(run);
		if (run_wait_absorbs(run)) {
			/* move on early to record the step boundary (see RUN_RECORD_LEAD_NS) */
			run->hold_until_ns = end_ns;
			end_ns -= RUN_RECORD_LEAD_NS;
		}
		run_timer_at(run, run->timer, end_ns, "a wait");
		return;
	case COMPILE_PROMPT:
		run_begin_prompt(run);
		return;
	case COMPILE_KIND_COUNT:
		break;
	}
	if (rc == 0)
		run->act_waits = 1;
	if (rc == -1) {
		run->fault_device = run->ctx.rig->devices[a->device].name;
		run_fault(run, "failed", 1, "%s could not be commanded",
		    run->ctx.rig->devices[a->device].name);
	}
}

/*
 * Commits the start of the next step, which goes out at start_ns, with the
 * boundary under way (the step before's end): one commit. Its actual start
 * follows with its end. On failure the batch has failed.
 */
static void
run_step_row(const struct run *run, size_t idx, int64_t start_ns, struct db_step *row)
{
	const struct plan_step *s = &run->plan->steps[idx];
	const struct recipe_solution *sol = s->solution >= 0 ?
	    &run->recipe->solutions[s->solution] : NULL;

	memset(row, 0, sizeof(*row));
	row->seq = s->seq;
	row->bilayer = s->bilayer;
	row->phase = plan_phase_names[s->phase];
	row->kind = s->kind == STEP_MOVE ? "move" : step_kind_names[s->kind];
	row->station = s->where;
	row->solution = sol ? sol->name : NULL;
	row->planned_start_ms = s->start_ms;
	row->planned_duration_ms = s->duration_ms;
	row->actual_start_ms = (start_ns - run->t0_ns) * run->ctx.time_scale / 1000000;
}

/* A step's record begins: nothing of it has gone out yet. */
static void
run_step_opens(struct run *run)
{
	const struct plan_step *s = &run->plan->steps[run->step];

	log_context(run->batch_id, run->recipe->name, s->bilayer, s->seq);
	run->step_open = 1;
	run->step_started = 0;
	run->motion_ns = 0;
	run->dwell_ns = 0;
	run->have_volume = 0;
}

/*
 * Where the step in hand is a set whose successor shares its moment
 * (fire_pair_dev), that successor's start goes on record with the set's:
 * *row, its first command's moment, and 1; 0 when it has none.
 */
static int
run_pair_row(struct run *run, struct db_step *row)
{
	struct compile_state after = run->compiled;
	size_t next = run->step + 1;
	int64_t trigger_ns, lead_ns;

	if (run->fire_pair_dev < 0 || next >= run->plan->count || run->stop_early ||
	    run_first_bus(run, run->step, &after, NULL) < 0)
		return 0;
	lead_ns = run_fire_lead_ns(run, next, &after, &trigger_ns, NULL, NULL);
	run_step_row(run, next, run->t0_ns + run_scaled_ns(run, run->plan->steps[next].start_ms) -
	    lead_ns + trigger_ns, row);
	return 1;
}

static int
run_record_start(struct run *run, int64_t start_ns)
{
	struct db_step rows[2];
	size_t n = 1;

	run_step_row(run, run->step, start_ns, &rows[0]);
	n += run_pair_row(run, &rows[1]);
	run_step_opens(run);
	run->step_open = 0;
	if (run_commit_boundary(run, rows, n) == -1)
		return -1;
	run->step_open = 1;
	run->next_open = n == 2;
	return 0;
}

/*
 * The pair's second, on record already (next_open), is not ended by a
 * fault, an abort or a pause --now of the set: it ends with them, never
 * begun, outcome as theirs. Its own commit, logged if lost.
 */
static void
run_close_next(struct run *run, const char *outcome)
{
	struct ledger_step_end end;
	char why[320];

	if (!run->next_open)
		return;
	run->next_open = 0;
	memset(&end, 0, sizeof(end));
	end.seq = run->plan->steps[run->step + 1].seq;
	end.outcome = outcome;
	end.started = 0;
	if (ledger_step_boundary(run->ctx.record, run->batch_id, &end, NULL, NULL, 0, NULL, 0, why,
	    sizeof(why)) == -1)
		log_warnx("batch %lld: the end of step %d, never begun, is not on record: %s",
		    (long long)run->batch_id, end.seq, why);
}

/* What a step's prompt tells the operator: the recipe's message, or a bath to replace. */
static void
run_prompt_text(struct run *run, const struct plan_step *s)
{
	const struct recipe_solution *sol;

	run->message[0] = '\0';
	if (s->kind == STEP_PROMPT) {
		/* whole: the check refused one longer than RECIPE_MAX_PROMPT_BYTES */
		text_format(run->message, sizeof(run->message), "%s", s->src->message);
	} else if (s->kind == STEP_REPLACE && s->operator_wait) {
		sol = &run->recipe->solutions[s->solution];
		text_format(run->message, sizeof(run->message), "replace bath %s (%s) with fresh %s, "
		    "then run 'lblctl continue'", s->where ? s->where : "?", sol->name,
		    sol->solvent ? sol->solvent : "solution");
	}
}

/*
 * The set of a pair at one moment begins, its successor on record with it
 * (next_open): the successor's first command, on a Modbus bus, follows the
 * set's on the buses (act_then): sent the moment the set is confirmed, on
 * its own release, with no turn of the loop between them (the loop's
 * wake-up, its work and the bus thread's wake-up were most of a pair's
 * gap). The recipe's order holds: it goes only once the set is confirmed,
 * and not at all when the set fails. A valve or relay switched, a pump or
 * line started or stopped, an axis moved (act_then says which moves may
 * go ahead: not the lift's, nor the transfer's before the lift is known
 * withdrawn); a start armed ahead goes as its trigger alone, one whose arm
 * is still out goes with its step. A move is watched from its step, once
 * it takes the move up (act_move). When that command is the start of a
 * pump the successor counts, the counts are read between the set's
 * command and the start (run_then_queue), so each reads stopped unless it
 * runs on through the set: such a one keeps it from following. Returns 1
 * when it was asked for.
 */
static int
run_then_pair(struct run *run)
{
	const struct rig *rig = run->ctx.rig;
	struct compile_state after = run->compiled;
	struct compile_volume pumps[DISPENSE_MAX_PUMPS];
	struct compile_list list = { 0 };
	struct hw_request req = { 0 };
	const struct compile_action *a;
	size_t next = run->step + 1, n, i;
	enum compile_kind kind;
	int ok = 0;
	char why[320];

	if (!run->next_open || next >= run->plan->count || run->list.count == 0)
		return 0;
	kind = run->list.actions[0].kind;
	if ((kind != COMPILE_OUTPUT && kind != COMPILE_PUMP && kind != COMPILE_LINE) ||
	    compile_step(run->recipe, rig, &run->plan->steps[next], &after, &list) == -1)
		return 0;
	a = list.count > 0 ? &list.actions[0] : NULL;
	if (a != NULL && a->device >= 0 && rig->devices[a->device].bus >= 0) {
		req.device = a->device;
		req.value = a->value;
		switch (a->kind) {
		case COMPILE_OUTPUT:
			req.op = HW_OUTPUT;
			req.value = a->value != 0;
			ok = 1;
			break;
		case COMPILE_MOVE:
		case COMPILE_PUMP:
		case COMPILE_LINE:
			req.op = a->kind == COMPILE_MOVE ? HW_MOVE : a->kind == COMPILE_PUMP ?
			    HW_PUMP : HW_LINE;
			req.speed_mm_s = a->kind == COMPILE_MOVE ? a->speed_mm_s : 0;
			req.reverse = a->kind == COMPILE_LINE ? a->reverse : 0;
			ok = run->armed == NULL || run->armed[a->device].state != RUN_ARM_PENDING;
			if (ok && run->armed != NULL && run->armed[a->device].state == RUN_ARM_DONE &&
			    run->armed[a->device].req.op == req.op &&
			    run->armed[a->device].req.value == req.value &&
			    run->armed[a->device].req.speed_mm_s == req.speed_mm_s &&
			    run->armed[a->device].req.reverse == req.reverse)
				req.stage = HW_FIRE;
			break;
		default:
			break;
		}
	}
	/*
	 * Counts are read between the two only for a counted pump's own start:
	 * any other first command goes before them, and the step reads them
	 * as it begins, ahead of its pumps' starts as ever (after a move's
	 * trigger, run_begin_step). Read between, a count cost a valve or a
	 * move a transaction (12 ms at 19,200 baud). A counted pump that runs
	 * on through the set would read running: such a start goes with its step.
	 */
	n = ok ? compile_volumes(rig, &list, pumps, DISPENSE_MAX_PUMPS) : 0;
	for (i = 0; i < n && i < DISPENSE_MAX_PUMPS; i++)
		if (a->kind == COMPILE_PUMP && a->value > 0 && pumps[i].device == a->device)
			break;
	if (i == n || i == DISPENSE_MAX_PUMPS)
		n = 0;
	for (i = 0; ok && i < n && i < DISPENSE_MAX_PUMPS; i++)
		if (run->running[pumps[i].device] == 1 &&
		    !run_list_uses(&run->list, 0, pumps[i].device))
			ok = 0;
	if (ok && n > DISPENSE_MAX_PUMPS)
		ok = 0;
	if (ok) {
		/* its own moment, as run_next_step would release it */
		req.release_ns = run->t0_ns + run_scaled_ns(run, run->plan->steps[next].start_ms) -
		    run_fire_lead_ns(run, next, &run->compiled, NULL, NULL, NULL);
		if (act_then(run->ctx.act, &req, why, sizeof(why)) == 0) {
			run->then_step = next + 1;
			run->then_counts = n > 0;
			run->then_queued = 0;
		} else {
			ok = 0;
			log_debug("batch %lld: step %d goes on its own: %s", (long long)run->batch_id,
			    run->plan->steps[next].seq, why);
		}
	}
	compile_list_free(&list);
	return ok;
}

/*
 * The set's command is queued (run_then_pair asked for its successor's
 * start to follow it): the successor's counters are read now, behind the
 * set's command and ahead of the start on their buses (its count ahead,
 * dispense_ahead), and then the start is queued. A read that cannot be
 * queued leaves the start to go with its step, which reads them itself.
 */
static void
run_then_queue(struct run *run)
{
	struct compile_state after = run->compiled;
	struct compile_list list = { 0 };
	size_t next = run->step + 1;
	char why[320];
	int counted = 0;

	/*
	 * Once: a step of no duration and no command (a dry step's slow
	 * withdrawal) begins the next within its own run_begin_step, which
	 * then comes here after it with the step moved on.
	 */
	if (run->then_step != next + 1 || run->then_queued || run->plan == NULL ||
	    run->state != RUN_STEP)
		return;
	run->then_queued = 1;
	if (run->then_counts) {
		/* counts read before the set are from before it: read again */
		dispense_cancel(run->dispense_ahead);
		run->dispense_ahead_step = 0;
		if (compile_step(run->recipe, run->ctx.rig, &run->plan->steps[next], &after,
		    &list) == -1 || (counted = dispense_begin(run->dispense_ahead, run->ctx.act,
		    run->ctx.rig, &list, why, sizeof(why))) == -1) {
			compile_list_free(&list);
			dispense_cancel(run->dispense_ahead);
			run->then_step = 0;
			return;
		}
		compile_list_free(&list);
		/* none has a counter: nothing to read */
		if (counted > 0)
			run->dispense_ahead_step = next + 1;
	}
	if (act_then_queue(run->ctx.act, why, sizeof(why)) == -1) {
		run->then_step = 0;
		log_debug("batch %lld: step %d goes on its own: %s", (long long)run->batch_id,
		    run->plan->steps[next].seq, why);
	}
}

/* The step's first command goes out now: its start is on record already. */
static void
run_begin_step(struct run *run)
{
	const struct plan_step *s = &run->plan->steps[run->step];
	char why[320];
	int64_t now, leaves_ns;
	int count_after = 0;

	now = loop_now_ns();
	/* its first command leaves now, or on its release if that is later (run_next_step) */
	leaves_ns = run->fire_release_ns > now ? run->fire_release_ns : now;
	if (run->fire_release_ns > now)
		act_release_at(run->ctx.act, run->fire_release_ns);
	run->fire_release_ns = 0;
	run->first_leaves_ns = leaves_ns;
	run->state = RUN_STEP;
	run->step_started = 1;
	/* its duration on record runs from its first command's moment */
	run->step_begin_ns = leaves_ns;
	/* on record: when its first command reaches the device */
	run->step_start_ms = (leaves_ns + run->fire_trigger_ns - run->t0_ns) *
	    run->ctx.time_scale / 1000000;
	/* the set of a pair at one moment; its gap is learnt as its commands are answered */
	run->second_sent_ns = 0;
	if (run->pair_step == run->step + 1) {
		run->second_sent_ns = run->pair_sent_ns;
		run->second_dev = run->pair_dev;
	}
	run->pair_step = 0;
	if (run->fire_pair_dev >= 0) {
		run->pair_step = run->step + 2;
		run->pair_sent_ns = 0;
		run->pair_dev = run->fire_pair_dev;
	}
	run->then_first = run->then_step == run->step + 1;
	run->then_step = 0;
	/* the schedule's point is the step's deadline, however late it began */
	run->due_ns = run->t0_ns + run_scaled_ns(run, s->start_ms);
	run->hold_until_ns = 0;
	run->action_index = 0;
	run->close_burst = 0;
	run->close_reads = 0;
	run_prompt_text(run, s);
	if (compile_step(run->recipe, run->ctx.rig, s, &run->compiled, &run->list) == -1) {
		run_fault(run, "failed", 1, "out of memory for the actions of step %d", s->seq);
		return;
	}
	/*
	 * The counters are read ahead of the step's pumps' first commands on
	 * their buses: read with its arm (run_count_ahead), or now; or, when
	 * the step begins with a move, just after its trigger (the pumps run
	 * only once it arrived), so the move is not late by their reads.
	 */
	/*
	 * Counts read between a pair's set and this step's first command
	 * (run_then_queue) are taken as they are, back or not (dispense_end
	 * waits for them): read again now, they would go behind a start sent
	 * already.
	 */
	if (run->dispense_ahead_step == run->step + 1 &&
	    (run->then_first || dispense_counted_stopped(run->dispense_ahead))) {
		struct dispense *d = run->dispense;

		run->dispense = run->dispense_ahead;
		run->dispense_ahead = d;
		dispense_cancel(run->dispense_ahead);
		run->dispense_ahead_step = 0;
	} else if (run->list.count > 0 && run->list.actions[0].kind == COMPILE_MOVE) {
		count_after = 1;
		dispense_cancel(run->dispense);
	} else if (dispense_begin(run->dispense, run->ctx.act, run->ctx.rig, &run->list, why,
	    sizeof(why)) == -1) {
		run_fault(run, "failed", 1, "step %d: %s", s->seq, why);
		return;
	}
	if (run->pair_step == run->step + 2)
		(void)run_then_pair(run);
	if (!s->operator_wait && run_timer_at(run, run->overrun, now +
	    run_scaled_ns(run, s->duration_ms) + (int64_t)(run_scaled_ns(run, s->duration_ms) *
	    RUN_OVERRUN_FRACTION) + (int64_t)RUN_OVERRUN_SLACK_MS * 1000000,
	    "the step's overrun") == -1)
		return;
	run_next_action(run);
	/* the set's command is queued: its successor's counts, then its start, behind it */
	if (run->plan != NULL && run->then_step == run->step + 2)
		run_then_queue(run);
	/* still on its first move (act answers later, never from within the call) */
	if (count_after && run->plan != NULL && run->state == RUN_STEP &&
	    run->action_index == 0 && dispense_begin(run->dispense, run->ctx.act, run->ctx.rig,
	    &run->list, why, sizeof(why)) == -1) {
		run_fault(run, "failed", 1, "step %d: %s", s->seq, why);
		return;
	}
	/* the step's first action may have ended the batch (a refused command) */
	if (run->plan != NULL && run->state != RUN_SAFE)
		run_notify(run);
}

/*
 * A pause at a step boundary: the boundary under way, the state and the
 * event, one commit; a lost write fails the batch.
 */
static void
run_pause_at_boundary(struct run *run)
{
	const struct ledger_step_end *end;
	const struct ledger_bilayer *bilayer;
	struct ledger_event events[2];
	char message[96], why[320];
	size_t n = run_take_pending(run, &end, &bilayer, events);
	int rc;

	run->pause_requested = 0;
	run->hold_until_ns = 0;
	run->tail_step = 0;
	/* paused before the schedule began: the start-up safe state's end starts nothing */
	run->await_safe = 0;
	run_disarm(run);
	text_format(message, sizeof(message), "paused before step %d",
	    run->plan->steps[run->step].seq);
	events[n].kind = "pause";
	events[n].device = NULL;
	events[n++].message = message;
	log_info("batch %lld: pause: %s", (long long)run->batch_id, message);
	rc = ledger_pause(run->ctx.record, run->batch_id, end, bilayer, events, n, why,
	    sizeof(why));
	run_pending_written(run);
	if (rc == -1) {
		run_fault(run, "failed", 1, "the database did not record the pause before step %d: "
		    "%s", run->plan->steps[run->step].seq, why);
		return;
	}
	run->state = RUN_PAUSED;
	run->wait_begin_ns = loop_now_ns();
	snprintf(run->batch_state, sizeof(run->batch_state), "paused");
	run_notify(run);
}

/*
 * A step whose last dwell ended on its end (tail_step) is closed: its
 * commands after the dwell, its counters' reads and the next step's
 * record are done at ready_ns, and the next step starts at start_ns. The
 * next such dwell ends earlier by half a lateness, and later by a sixteenth
 * of an earliness but never more than RUN_TAIL_EASE_NS: a close varies from
 * step to step (each of its commands is a round trip through two threads'
 * wake-ups: 0.5 to 3 ms on the 2-core test machine, and now and then more),
 * and a margin learnt to its mean made the next step late half the time.
 * Learnt this way it settles where a late close is rare: the margin rises
 * by what a late one teaches and sinks by a small step per early one (a
 * sixteenth of its earliness, at most 5 us), so it stands where late closes
 * times what each teaches balances the early ones' steps (a close late by
 * 0.3 ms once in 30 closes), whatever the shape of the closes' spread. A
 * dwell held at its bounds (run_wait_end_ns: it gives up at most a
 * twentieth, and never lasts beyond its whole time) teaches nothing: the
 * margin did not decide its end, and a short step's close that outgrows
 * its twentieth would wind the margin up for every longer step of its
 * kind. A lateness counts at most RUN_TAIL_STEP_NS: one stall of the
 * machine (a page fault, the host taking the CPU) says little of the next
 * close, and every step after would pay for it with a shorter dwell until
 * the margin came down again (what a dwell gave up is on record in the
 * step's dwell_ms). Never less than 0, and
 * run_wait_end_ns never gives more than a twentieth of a dwell. What is
 * learnt is the close of a step on this rig, this disk and this load.
 */
#define RUN_TAIL_MARGIN_NS	0
#define RUN_TAIL_GAIN		2	/* a lateness: half of it */
#define RUN_TAIL_GAIN_EARLY	16	/* an earliness: a sixteenth, */
#define RUN_TAIL_EASE_NS	(5 * 1000LL)	/* but at most this */
#define RUN_TAIL_STEP_NS	(2 * 1000000LL)	/* a lateness counts at most this */
static void
run_learn_tail(struct run *run, int64_t ready_ns, int64_t start_ns)
{
	int64_t err_ns = ready_ns + RUN_TAIL_MARGIN_NS - start_ns, *tail_ns, ease_ns;
	int kind, first;

	if (!run->tail_step)
		return;
	kind = run->tail_step - 1;
	run->tail_step = 0;
	/* a kind's first close ended by the margin run_tail_of() gave it, and teaches it whole */
	first = !run->tail_learnt[kind];
	tail_ns = &run->tail_ns[kind];
	if (first) {
		*tail_ns = run_tail_of(run, kind);
		run->tail_learnt[kind] = 1;
	}
	if (first) {
		/* whole both ways: a seed too large would take a thousand closes to ease */
		*tail_ns += err_ns > RUN_TAIL_STEP_NS ? RUN_TAIL_STEP_NS :
		    err_ns < -RUN_TAIL_STEP_NS ? -RUN_TAIL_STEP_NS : err_ns;
	} else if (err_ns > 0) {
		*tail_ns += (err_ns > RUN_TAIL_STEP_NS ? RUN_TAIL_STEP_NS : err_ns) / RUN_TAIL_GAIN;
	} else {
		ease_ns = -err_ns / RUN_TAIL_GAIN_EARLY;
		*tail_ns -= ease_ns > RUN_TAIL_EASE_NS ? RUN_TAIL_EASE_NS : ease_ns;
	}
	if (*tail_ns < 0)
		*tail_ns = 0;
}

/*
 * Goes on to the next step: it starts on its deadline (or once the step
 * before has ended), and its start is committed RUN_RECORD_LEAD_NS before,
 * with the boundary under way.
 */
static void
run_next_step(struct run *run)
{
	int64_t start_ns, issue_ns, ready_by_ns, now;

	if (run->step >= run->plan->count) {
		run_complete(run);
		return;
	}
	/* a pair's two steps are one moment: a pause waits for the boundary after them */
	if (run->pause_requested && !run->step_open && !run->next_open) {
		run_pause_at_boundary(run);
		return;
	}
	/* its first command leaves so as to reach its device on the deadline */
	run->fire_lead_ns = run_fire_lead_ns(run, run->step, &run->compiled,
	    &run->fire_trigger_ns, &run->fire_pair_dev, &run->fire_bus);
	start_ns = run->t0_ns + run_scaled_ns(run, run->plan->steps[run->step].start_ms) -
	    run->fire_lead_ns;
	if (start_ns < run->hold_until_ns)
		start_ns = run->hold_until_ns;
	/* begun ahead, its first command released on the moment (RUN_ISSUE_EARLY_NS) */
	issue_ns = start_ns - (run->fire_bus >= 0 ? RUN_ISSUE_EARLY_NS : 0);
	/* a close before it is learnt to end by the hand-off's margin (RUN_HANDOFF_NS) */
	ready_by_ns = start_ns - (run->fire_bus >= 0 ? RUN_HANDOFF_NS : 0);
	run->fire_release_ns = run->fire_bus >= 0 ? start_ns : 0;
	now = loop_now_ns();
	/* the step before closed (its record too): this step's start is on record with its */
	if (run->next_open && !run->step_open) {
		/*
		 * A pair's second: its start is on record with the set's, so
		 * nothing is committed before its command. The set's end is,
		 * right after: the command waits for its release meanwhile.
		 */
		run->next_open = 0;
		run_step_opens(run);
		run->pair_end_unwritten = 1;
		if (issue_ns > now) {
			if (run_commit_boundary(run, NULL, 0) == -1)
				return;
			run->state = RUN_WAITING;
			run_arm_for(run, run->step, NULL, 0);
			run_timer_at(run, run->timer, issue_ns, "the next step");
			return;
		}
		run_begin_step(run);
		if (run->plan != NULL && run->pair_end_unwritten && run->state != RUN_SAFE)
			(void)run_commit_boundary(run, NULL, 0);
		return;
	}
	if (!run->step_open) {
		if (issue_ns - RUN_RECORD_LEAD_NS > now) {
			/* early: the step before was quicker than planned; its end goes now */
			if (run_commit_boundary(run, NULL, 0) == -1)
				return;
			run_learn_tail(run, loop_now_ns(), ready_by_ns);
			run->state = RUN_WAITING;
			/* its start is armed while it waits, if the step before did not */
			run_arm_for(run, run->step, NULL, 0);
			run_timer_at(run, run->timer, issue_ns - RUN_RECORD_LEAD_NS,
			    "the next step's record");
			return;
		}
		/*
		 * Inside the lead: the step before ended on its commands (a
		 * spray without a drain, a set), or its timer's record is due.
		 * The record is in the database's log before the next command
		 * (run_commit_boundary).
		 */
		if (run_record_start(run, (start_ns > now ? start_ns : now) +
		    run->fire_trigger_ns) == -1)
			return;
		now = loop_now_ns();
	} else if (run_commit_boundary(run, NULL, 0) == -1) {
		return;
	} else {
		now = loop_now_ns();
	}
	run_learn_tail(run, now, ready_by_ns);
	if (issue_ns > now) {
		run->state = RUN_WAITING;
		/* its start is armed while it waits, if the step before did not */
		run_arm_for(run, run->step, NULL, 0);
		run_timer_at(run, run->timer, issue_ns, "the next step");
		return;
	}
	run_begin_step(run);
}

/*
 * A safe state ended (act_safe_state's done): after a fault, abort, pause
 * --now, an operator's park or lbld's stop. parked says whether the
 * substrate is parked; a park that was asked for and failed is an event
 * and stays in status until a later park succeeds.
 */
static void
run_safe_done(struct run *run, int ok, int parked, const char *error)
{
	int64_t batch = run->plan != NULL ? run->batch_id : 0;
	char message[400], why[128];

	if (ok && run->park_asked && !parked) {
		/*
		 * A newer safe state stopped the park: an e-stop or interlock
		 * came, or the operator's 'lblctl stop' (manual.c).
		 */
		ok = 0;
		error = act_safety_active(run->ctx.act, why, sizeof(why)) ? why :
		    "the park was stopped before it ended ('lblctl stop')";
	}
	if (!ok) {
		text_format(message, sizeof(message), "%s: %s", run->park_asked && !parked ?
		    "the substrate was not parked" : "the safe state was not confirmed",
		    error ? error : "device failure");
		log_warnx("%s", message);
		if (run->park_asked && !parked)
			text_format(run->park_problem, sizeof(run->park_problem), "%s", message);
		run_note_event(run, batch, "fault", rig_device_in_text(run->ctx.rig, message),
		    message);
	} else if (parked) {
		run->park_problem[0] = '\0';
		run_note_event(run, batch, "info", NULL,
		    "substrate withdrawn to the safe height and parked");
	}
	run->idle_park = 0;
	run->activity[0] = '\0';
	if (run->plan != NULL && run->safe_then == RUN_PAUSED && run->stopped == NULL) {
		run->state = RUN_PAUSED;
		run->wait_begin_ns = loop_now_ns();
	} else {
		run_release(run);
	}
	run_notify(run);
	if (run->stopped != NULL) {
		void (*stopped)(void *, int, const char *) = run->stopped;
		run->stopped = NULL;
		stopped(run->stopped_arg, ok, error);
	}
}

void
run_act_done(struct run *run, int ok, double value, const char *error)
{
	struct compile_action *a;
	int burst;

	if (run->state == RUN_SAFE || run->stopped != NULL) {
		run_safe_done(run, ok, value == 1, error);
		return;
	}
	if (run->state == RUN_IDLE && !ok) {
		/*
		 * The safe state of an e-stop or interlock, which released the
		 * batch at once: stops that were not confirmed go on its record.
		 */
		char message[400];
		text_format(message, sizeof(message), "the safe state was not confirmed: %s",
		    error ? error : "device failure");
		log_warnx("%s", message);
		run_note_event(run, run->batch_id, "fault", rig_device_in_text(run->ctx.rig,
		    message), message);
		return;
	}
	if (run->await_safe) {
		/* the safe state under way as the batch was asked for (lbld's start-up) */
		run->await_safe = 0;
		if (!ok) {
			run_fault(run, "failed", 0, "the rig's safe state before the batch was not "
			    "confirmed: %s", error ? error : "device failure");
			return;
		}
		run_set_origin(run);
		return;
	}
	if (run->state != RUN_STEP || run->action_index >= run->list.count)
		return;
	if (!run->act_waits) {
		/*
		 * Not the action in hand's: the end of a safe state that began
		 * before the batch and that new work did not end (act_begin).
		 * Taken for the action's, it would skip it (a move never sent).
		 */
		if (!ok)
			run_fault(run, "failed", 0, "the rig's safe state was not confirmed: %s",
			    error ? error : "device failure");
		return;
	}
	run->act_waits = 0;
	a = &run->list.actions[run->action_index];
	/* a close's stops answered as one (run_close_burst): the step's actions are done */
	burst = run->close_burst;
	run->close_burst = 0;
	if (!ok) {
		run->fault_device = burst ? rig_device_in_text(run->ctx.rig, error ? error : "") :
		    a->device >= 0 ? run->ctx.rig->devices[a->device].name : NULL;
		run_fault(run, "failed", 1, "%s", error ? error : "device failure");
		return;
	}
	if (burst) {
		for (; run->action_index < run->list.count; run->action_index++)
			run->running[run->list.actions[run->action_index].device] = 0;
		run_next_action(run);
		return;
	}
	if (run->action_index == 0 && (run->pair_step != 0 || run->second_sent_ns != 0))
		run_pair_sent(run, act_op_sent_ns(run->ctx.act));
	if (run->action_index == 0 && run->then_first) {
		/* it went when its bus sent it, before the loop took it up */
		int64_t sent_ns = act_op_sent_ns(run->ctx.act);

		run->then_first = 0;
		if (sent_ns > 0 && sent_ns < run->step_begin_ns) {
			run->step_begin_ns = sent_ns;
			run->step_start_ms = (sent_ns + run->fire_trigger_ns - run->t0_ns) *
			    run->ctx.time_scale / 1000000;
		}
	}
	if (a->kind == COMPILE_MOVE)
		run->motion_ns += loop_now_ns() - run->action_begin_ns;
	/* a move's or a read's length is the plan's estimate: the schedule goes on from now */
	if (a->kind == COMPILE_MOVE || a->kind == COMPILE_READ)
		run->due_ns = loop_now_ns();
	if (a->kind == COMPILE_PUMP || a->kind == COMPILE_LINE)
		run->running[a->device] = a->value > 0;
	if (a->kind == COMPILE_READ && !isfinite(value)) {
		/* a reading of inf or NaN is a device fault, never a measurement */
		run_fault(run, "failed", 1, "sensor '%s' read %g: not a measurement",
		    run->ctx.rig->devices[a->device].name, value);
		return;
	}
	if (a->kind == COMPILE_READ && run_measured(run, value) == -1)
		return;
	/* the measurement's record may have failed the batch */
	if (run->state != RUN_STEP)
		return;
	run->action_index++;
	run_next_action(run);
}

void
run_safety_input(struct run *run, int device, int active)
{
	const struct rig_device *dev = &run->ctx.rig->devices[device];

	if (!active)
		return;
	if (run->stopped != NULL) {
		/*
		 * lbld is stopping: act made the rig safe already and the park
		 * is given up; the batch stays interrupted, as the stop left it.
		 */
		run_note_event(run, run_batch_id(run), strcmp(dev->kind, "estop") == 0 ?
		    "estop" : "interlock", dev->name, "engaged while lbld was stopping");
		return;
	}
	if (run->state == RUN_IDLE || run->plan == NULL) {
		/* no batch: still make sure nothing moves or runs */
		run_safe(run, 0);
		log_warnx("%s %s engaged: outputs off", dev->kind, dev->name);
		return;
	}
	{
		char message[320], unread[320];
		/* an input that can no longer be read (its chip gone) says so, and why */
		int lost = active == -1 && act_input_holds(run->ctx.act, device, unread,
		    sizeof(unread));

		if (lost)
			text_format(message, sizeof(message), "%s", unread);
		else
			text_format(message, sizeof(message), "%s engaged", dev->name);
		log_info("batch %lld: %s: %s", (long long)run->batch_id, dev->kind, message);
		/* the fault that follows is recorded (or its loss logged) in any case */
		run_note_event(run, run->batch_id, strcmp(dev->kind, "estop") == 0 ? "estop" :
		    "interlock", dev->name, message);
		run->safe_by_input = 1;
		if (lost)
			run_fault(run, "failed", 0, "%s", unread);
		else
			run_fault(run, "failed", 0, "%s '%s' engaged", strcmp(dev->kind, "estop") == 0 ?
			    "e-stop" : "interlock", dev->name);
	}
}

void
run_device_fault(struct run *run, int device, const char *error)
{
	const struct rig_device *dev = &run->ctx.rig->devices[device];

	if (run->plan == NULL || run->stopped != NULL ||
	    (run->state != RUN_STEP && run->state != RUN_WAITING && run->state != RUN_PROMPT)) {
		/* paused, or going safe already: on record, the batch stays as it is */
		log_device_warnx(dev->name, "supervision: %s", error);
		run_note_event(run, run_batch_id(run), "fault", dev->name, error);
		return;
	}
	run->fault_device = dev->name;
	run_fault(run, "failed", 1, "supervision: %s", error);
}

/* ---- operator requests ---- */

static int
run_refuse(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* No batch to pause or abort: and while the rig goes to its safe state, what it waits for. */
static int
run_refuse_no_batch(const struct run *run, char *err, size_t size)
{
	char waiting[480];

	if (run->state == RUN_SAFE && act_waiting_text(run->ctx.act, waiting, sizeof(waiting)))
		return run_refuse(err, size, "no batch is running; the rig is going to its safe "
		    "state, waiting for %s", waiting);
	return run_refuse(err, size, "no batch is running");
}

int
run_pause(struct run *run, int now, char *err, size_t size)
{
	return run_pause_by(run, now, NULL, err, size);
}

int
run_pause_by(struct run *run, int now, const char *who, char *err, size_t size)
{
	if (run->state == RUN_SAFE && run->plan != NULL && run->safe_then == RUN_PAUSED)
		return run_refuse(err, size, "batch %lld is pausing already: the substrate is "
		    "being withdrawn and parked", (long long)run->batch_id);
	if (run->state == RUN_SAFE && run->plan != NULL)
		return run_refuse(err, size, "batch %lld is ending (%s): the rig is going to its "
		    "safe state", (long long)run->batch_id, run->batch_state);
	if (run->state == RUN_IDLE || run->state == RUN_SAFE)
		return run_refuse_no_batch(run, err, size);
	if (run->state == RUN_PAUSED)
		return run_refuse(err, size, "batch %lld is already paused",
		    (long long)run->batch_id);
	if (!now) {
		/* on record first: a lost write fails the batch instead */
		if (run_event(run, "operator", NULL, "pause requested at the next step boundary%s%s",
		    who ? " by " : "", who ? who : "") == -1)
			return run_refuse(err, size, "batch %lld failed: %s",
			    (long long)run->batch_id, run->cause);
		run->pause_requested = 1;
		/* no step is on record yet: it pauses now, before it */
		if (run->state == RUN_WAITING && !run->step_open) {
			loop_timer_cancel(run->timer);
			run->state = RUN_STEP;
			run_next_step(run);
		}
		return 0;
	}
	/* --now: withdraw and park at once; the interrupted step runs again on resume */
	{
		struct ledger_step_end end_row;
		const struct ledger_step_end *end;
		struct ledger_event event;
		char message[96 + BATCH_MAX_OPERATOR_BYTES], why[320];

		loop_timer_cancel(run->timer);
		loop_timer_cancel(run->overrun);
		dispense_cancel(run->dispense);
		dispense_cancel(run->dispense_ahead);
		run->dispense_ahead_step = 0;
		run->hold_until_ns = 0;
		run->pause_requested = 0;
		run->state = RUN_SAFE;
		run->safe_then = RUN_PAUSED;
		run->compiled.line_running = 0;
		/* the rig first: its stops queued before anything is written */
		run_safe(run, 1);
		run_close_next(run, "aborted");
		end = run_open_end(run, "aborted", loop_now_ns(), &end_row);
		snprintf(run->batch_state, sizeof(run->batch_state), "paused");
		text_format(message, sizeof(message), "paused now during step %d%s%s: substrate "
		    "withdrawn", run->plan->steps[run->step].seq, who ? " by " : "", who ? who : "");
		event.kind = "pause";
		event.device = NULL;
		event.message = message;
		log_info("batch %lld: pause: %s", (long long)run->batch_id, message);
		/* the rig goes safe in any case; a batch whose record is lost ends there */
		if (ledger_pause(run->ctx.record, run->batch_id, end, NULL, &event, 1, why,
		    sizeof(why)) == -1)
			run_record_fault(run, why);
		run_notify(run);
	}
	return 0;
}

int
run_resume(struct run *run, char *err, size_t size)
{
	return run_resume_by(run, NULL, err, size);
}

int
run_resume_by(struct run *run, const char *who, char *err, size_t size)
{
	struct ledger_event event;
	char why[128], message[64 + BATCH_MAX_OPERATOR_BYTES], record_why[320];

	if (run->state != RUN_PAUSED)
		return run_refuse(err, size, run->pause_requested ? "the pause has not begun yet "
		    "(it waits for the step boundary)" : "no batch is paused");
	if (act_safety_active(run->ctx.act, why, sizeof(why)))
		return run_refuse(err, size, "cannot resume: %s", why);
	text_format(message, sizeof(message), "resumed at step %d%s%s",
	    run->plan->steps[run->step].seq, who ? " by " : "", who ? who : "");
	event.kind = "resume";
	event.device = NULL;
	event.message = message;
	/* nothing moves unless the record says running: a lost write leaves it paused */
	if (ledger_resume(run->ctx.record, run->batch_id, &event, record_why,
	    sizeof(record_why)) == -1)
		return run_refuse(err, size, "cannot resume: %s", record_why);
	log_info("batch %lld: resume: %s", (long long)run->batch_id, message);
	/* the schedule shifts by the pause, so the remaining steps keep their spacing */
	run->t0_ns += loop_now_ns() - run->wait_begin_ns;
	run->state = RUN_STEP;
	snprintf(run->batch_state, sizeof(run->batch_state), "running");
	/* afresh: a device reported during the pause is polled (and reported) again */
	run_supervise(run);
	/* paused before its schedule began (during lbld's start-up safe state): it begins now */
	if (!run->origin_set) {
		run_begin_schedule(run);
		return 0;
	}
	run_next_step(run);
	return 0;
}

int
run_continue(struct run *run, char *err, size_t size)
{
	return run_continue_by(run, NULL, err, size);
}

int
run_continue_by(struct run *run, const char *who, char *err, size_t size)
{
	if (run->state != RUN_PROMPT)
		return run_refuse(err, size, "the run is not waiting for the operator");
	run->t0_ns += loop_now_ns() - run->wait_begin_ns;
	run->state = RUN_STEP;
	if (run_event(run, "continue", NULL, "operator%s%s continued: %s", who ? " " : "",
	    who ? who : "", run->message) == -1)
		return run_refuse(err, size, "batch %lld failed: %s", (long long)run->batch_id,
		    run->cause);
	run->message[0] = '\0';
	run->due_ns = loop_now_ns();
	run->action_index++;
	run_next_action(run);
	return 0;
}

int
run_abort(struct run *run, const char *who, char *err, size_t size)
{
	if (run->state == RUN_IDLE || (run->state == RUN_SAFE && run->safe_then == RUN_IDLE))
		return run_refuse_no_batch(run, err, size);
	run_fault(run, "aborted", 1, "aborted by %s", who);
	return 0;
}

/* ---- starting ---- */

/*
 * Places the schedule's origin so that step run->step starts a lead from
 * now (the rest keep their planned spacing), and goes on with it. The lead
 * is the record's and the first arm's (RUN_START_LEAD_NS, grown by the
 * slowest bus's transactions).
 */
static void
run_set_origin(struct run *run)
{
	double transaction_ms;
	int bus;
	int64_t lead_ns = RUN_START_LEAD_NS;

	(void)rig_min_step_ms(run->ctx.rig, &bus, &transaction_ms);
	lead_ns += (int64_t)(RUN_START_LEAD_TRANSACTIONS * transaction_ms * 1e6);
	run->t0_ns = loop_now_ns() + lead_ns -
	    run_scaled_ns(run, run->plan->steps[run->step].start_ms);
	run->origin_set = 1;
	/* for benchmarks (lbld -d): every step's deadline is this plus its planned start */
	log_debug("batch %lld: the schedule's origin is %lld ns on CLOCK_MONOTONIC",
	    (long long)run->batch_id, (long long)run->t0_ns);
	run->state = RUN_STEP;
	run_next_step(run);
}

/*
 * A batch's schedule begins (a start or a resume): at once, or, while the
 * rig is still being made safe (lbld's start-up safe state, whose stops
 * take a transaction each on a slow line), once that is confirmed
 * (run_act_done): its first step never overlaps the stops, and the end of
 * the safe state is never taken for the end of the step's first action.
 */
static void
run_begin_schedule(struct run *run)
{
	run->fire_waits = 0;
	run->act_waits = 0;
	run->await_safe = 0;
	run->origin_set = 0;
	memset(run->tail_ns, 0, sizeof(run->tail_ns));
	memset(run->tail_learnt, 0, sizeof(run->tail_learnt));
	for (size_t i = 0; run->pair_gap_ns != NULL && i < run->ctx.rig->device_count; i++)
		run->pair_gap_ns[i] = -1;
	run->pair_step = 0;
	run->second_sent_ns = 0;
	run->tail_step = 0;
	if (act_making_safe(run->ctx.act)) {
		run->await_safe = 1;
		run->state = RUN_WAITING;
		log_info("batch %lld: starts once the rig's safe state is confirmed",
		    (long long)run->batch_id);
		return;
	}
	run_set_origin(run);
}

/*
 * Says, once a batch, which Modbus pumps, line drives and axes cannot have
 * their starts armed ahead (a profile whose trigger shares a register with
 * a setpoint): their starts go whole at the deadline, a few transactions
 * later than an armed one's.
 */
static void
run_say_unarmable(const struct run *run)
{
	const struct rig *rig = run->ctx.rig;
	struct hw_request req;
	char why[320];
	size_t i;

	for (i = 0; i < rig->device_count; i++) {
		const struct rig_device *dev = &rig->devices[i];

		if (dev->bus < 0 || (dev->role != RIG_AXIS && dev->role != RIG_PUMP &&
		    dev->role != RIG_LINE))
			continue;
		memset(&req, 0, sizeof(req));
		req.device = (int)i;
		req.op = dev->role == RIG_AXIS ? HW_MOVE : dev->role == RIG_PUMP ? HW_PUMP : HW_LINE;
		req.value = 1;
		if (!act_can_arm(run->ctx.act, &req, why, sizeof(why)))
			log_info("%s; its starts go whole at their deadlines", why);
	}
}

static int
run_prepare(struct run *run, struct recipe *recipe, struct plan *plan, char *err, size_t size)
{
	char why[128];

	if (run->state != RUN_IDLE)
		return run_refuse(err, size, "batch %lld is %s: one run at a time",
		    (long long)run->batch_id, run->batch_state);
	if (act_safety_active(run->ctx.act, why, sizeof(why)))
		return run_refuse(err, size, "cannot start: %s", why);
	if (record_held(run->ctx.record, NULL) > 0)
		return run_refuse(err, size, "cannot start: %zu writes of the last batch's record "
		    "are held in memory (the database is locked by another process)",
		    record_held(run->ctx.record, NULL));
	if (act_lift_state(run->ctx.act, NULL) != ACT_LIFT_WITHDRAWN) {
		char where[320];
		act_substrate_text(run->ctx.act, where, sizeof(where));
		return run_refuse(err, size, "cannot start: the substrate is not at the safe "
		    "height: %s", where);
	}
	run->dips = calloc(recipe->solution_count + 1, sizeof(int));
	run->volume_ml = calloc(recipe->solution_count + 1, sizeof(double));
	run->area_cm2 = calloc(recipe->solution_count + 1, sizeof(double));
	run->sol_rows = calloc(recipe->solution_count + 1, sizeof(*run->sol_rows));
	run->baseline_hz = calloc(run->ctx.rig->device_count + 1, sizeof(double));
	memset(&run->pass, 0, sizeof(run->pass));
	run->armed = calloc(run->ctx.rig->device_count + 1, sizeof(*run->armed));
	run->running = calloc(run->ctx.rig->device_count + 1, sizeof(*run->running));
	run->pair_gap_ns = calloc(run->ctx.rig->device_count + 1, sizeof(*run->pair_gap_ns));
	run->close_stops = calloc(run->ctx.rig->device_count + 1, sizeof(*run->close_stops));
	if (run->dips == NULL || run->volume_ml == NULL || run->area_cm2 == NULL ||
	    run->sol_rows == NULL || run->baseline_hz == NULL || run->armed == NULL ||
	    run->running == NULL || run->pair_gap_ns == NULL || run->close_stops == NULL) {
		free(run->dips);
		free(run->volume_ml);
		free(run->area_cm2);
		free(run->sol_rows);
		free(run->baseline_hz);
		free(run->armed);
		free(run->running);
		free(run->pair_gap_ns);
		free(run->close_stops);
		run->pair_gap_ns = NULL;
		run->close_stops = NULL;
		run->dips = NULL;
		run->volume_ml = NULL;
		run->area_cm2 = NULL;
		run->sol_rows = NULL;
		run->baseline_hz = NULL;
		run->armed = NULL;
		run->running = NULL;
		return run_refuse(err, size, "out of memory");
	}
	for (size_t i = 0; i < run->ctx.rig->device_count; i++) {
		run->baseline_hz[i] = NAN;
		/* a pump a batch before left running (a 'set' step) is not known stopped */
		run->running[i] = -1;
	}
	run->recipe = recipe;
	run->plan = plan;
	run->measured_nm = NAN;
	run->stop_early = 0;
	run->pause_requested = 0;
	run->compiled.line_running = 0;
	run->step_open = 0;
	run->next_open = 0;
	run->pair_end_unwritten = 0;
	run->step_started = 0;
	run->hold_until_ns = 0;
	run->message[0] = run->cause[0] = '\0';
	run->last_step_seq = 0;
	/* the first transfer of the batch reads the lift back again */
	act_require_readback(run->ctx.act);
	run_say_unarmable(run);
	return 0;
}

int
run_start(struct run *run, struct recipe *recipe, struct plan *plan, int64_t recipe_id,
    const struct run_options *o, int64_t *batch_id, char *err, size_t size)
{
	struct db_batch_new b;
	struct ledger_event started;
	char message[RUN_MAX_EVENT_BYTES], why[320];
	int i;

	if (run_prepare(run, recipe, plan, err, size) == -1)
		return -1;
	memset(&b, 0, sizeof(b));
	b.recipe_id = recipe_id;
	b.rig_id = run->ctx.rig_id;
	b.substrate = o->substrate ? o->substrate : recipe->substrate;
	b.operator_name = o->operator_name;
	b.note = o->note;
	b.bilayers_target = plan->bilayers;
	b.thickness_target_nm = recipe->target_thickness_nm > 0 ? recipe->target_thickness_nm :
	    NAN;
	/* the film as it stands: no bilayer yet (bilayers_done moves it on) */
	b.thickness_estimated_nm = plan->thickness_nm[0];
	b.software_version = LBL_VERSION;
	b.time_scale = run->ctx.time_scale;
	if (db_batch_create(run->ctx.db, &b, &run->batch_id) == -1) {
		run->recipe = NULL;
		run->plan = NULL;
		run_release(run);
		return run_refuse(err, size, "the database could not record a new batch");
	}
	run->lot_count = 0;
	for (i = 0; i < o->lot_count && i < RECIPE_MAX_SOLUTIONS; i++) {
		snprintf(run->lot_text[i], sizeof(run->lot_text[i]), "%s", o->lots[i]);
		run->lots[run->lot_count++] = run->lot_text[i];
	}
	run->recipe_id = recipe_id;
	snprintf(run->batch_state, sizeof(run->batch_state), "running");
	text_format(message, sizeof(message), "batch started: %s version %s, %d %s, planned "
	    "%.0f s (time scale %g)", recipe->name, recipe->version, plan->bilayers,
	    text_plural(plan->bilayers, "bilayer", "bilayers"),
	    plan->total_ms / 1000.0, run->ctx.time_scale);
	started.kind = "info";
	started.device = NULL;
	started.message = message;
	if (ledger_batch_start(run->ctx.record, run->batch_id, run->sol_rows,
	    run_solution_rows(run), &started, why, sizeof(why)) == -1) {
		/* nothing has moved: the batch ends failed on record (if the database lets it) */
		struct ledger_event failed = { "fault", NULL, why };
		if (ledger_batch_end(run->ctx.record, run->batch_id, NULL, NULL, NULL, 0, "failed",
		    why, &failed, 1, NULL, 0) == -1)
			log_warnx("batch %lld: could not be marked failed either",
			    (long long)run->batch_id);
		run->recipe = NULL;
		run->plan = NULL;
		run_release(run);
		return run_refuse(err, size, "batch %lld could not start: %s",
		    (long long)run->batch_id, why);
	}
	log_info("batch %lld: info: %s", (long long)run->batch_id, message);
	*batch_id = run->batch_id;
	act_keep_alive(run->ctx.act, 1);
	run_supervise(run);
	run->step = 0;
	run_begin_schedule(run);
	return 0;
}

/*
 * A resumed batch goes on from the baselines its QCMs had: those on record
 * (a baseline step done before the interruption, or the rig file's f0 as
 * it was used). Returns 0, or -1 when the record could not be read.
 */
static int
run_resume_baselines(struct run *run, int64_t batch_id)
{
	const struct rig *rig = run->ctx.rig;
	size_t i;
	int rc;

	for (i = 0; i < rig->device_count; i++) {
		if (rig->devices[i].role != RIG_SENSOR || rig->devices[i].kind == NULL ||
		    strcmp(rig->devices[i].kind, "qcm") != 0)
			continue;
		rc = db_baseline_get(run->ctx.db, batch_id, rig->devices[i].name,
		    &run->baseline_hz[i]);
		if (rc == -1)
			return -1;
		if (rc == 0)
			run->baseline_hz[i] = NAN;
	}
	return 0;
}

int
run_resume_batch(struct run *run, int64_t batch_id, struct recipe *recipe, struct plan *plan,
    int last_done_seq, char *err, size_t size)
{
	struct ledger_event event;
	char message[96], why[320];

	if (!recipe->resume_allowed)
		return run_refuse(err, size, "recipe %s says 'resume: forbidden': batch %lld "
		    "cannot continue", recipe->name, (long long)batch_id);
	if ((size_t)last_done_seq >= plan->count)
		return run_refuse(err, size, "batch %lld has no step left to run",
		    (long long)batch_id);
	if (run_prepare(run, recipe, plan, err, size) == -1)
		return -1;
	run->batch_id = batch_id;
	/* a roll-to-roll pass under way began before: its top-ups count from its start */
	for (int k = 0; k < last_done_seq; k++) {
		struct compile_use uses[COMPILE_MAX_USES];
		compile_uses(recipe, run->ctx.rig, &plan->steps[k], &run->pass, uses,
		    COMPILE_MAX_USES);
	}
	/* the lots are the batch's own, on record since its start: none carried from the last batch */
	run->lot_count = 0;
	/* what the batch used so far: a use not read back would be recorded wrong */
	for (size_t i = 0; i < recipe->solution_count; i++)
		if (db_solution_get(run->ctx.db, batch_id, recipe->solutions[i].name,
		    &run->dips[i], &run->volume_ml[i], &run->area_cm2[i]) == -1) {
			run->recipe = NULL;
			run->plan = NULL;
			run_release(run);
			return run_refuse(err, size, "the database could not read back the use of "
			    "solution %s in batch %lld", recipe->solutions[i].name,
			    (long long)batch_id);
		}
	if (run_resume_baselines(run, batch_id) == -1) {
		run->recipe = NULL;
		run->plan = NULL;
		run_release(run);
		return run_refuse(err, size, "the database could not read back the QCM baselines "
		    "of batch %lld", (long long)batch_id);
	}
	text_format(message, sizeof(message), "batch resumed after step %d of %zu", last_done_seq,
	    plan->count);
	event.kind = "resume";
	event.device = NULL;
	event.message = message;
	if (ledger_resume(run->ctx.record, batch_id, &event, why, sizeof(why)) == -1) {
		run->recipe = NULL;
		run->plan = NULL;
		run_release(run);
		return run_refuse(err, size, "the database could not mark batch %lld running: %s",
		    (long long)batch_id, why);
	}
	log_info("batch %lld: resume: %s", (long long)batch_id, message);
	snprintf(run->batch_state, sizeof(run->batch_state), "running");
	run->step = (size_t)last_done_seq;	/* seq is 1-based: this is the next step */
	act_keep_alive(run->ctx.act, 1);
	run_supervise(run);
	run_begin_schedule(run);
	return 0;
}

/* ---- status ---- */

/* Where the substrate is, an engaged safety input, and what the operator can do. */
static void
run_substrate(const struct run *run, struct run_status *st)
{
	char where[320], safety[320];
	int64_t held_ms;
	size_t held;

	act_substrate_text(run->ctx.act, where, sizeof(where));
	if (run->park_problem[0])
		snprintf(st->substrate, sizeof(st->substrate), "%s (the last park failed: %s)",
		    where, run->park_problem);
	else
		snprintf(st->substrate, sizeof(st->substrate), "%s", where);
	if ((held = record_held(run->ctx.record, &held_ms)) > 0)
		snprintf(st->record, sizeof(st->record), "%zu writes held in memory for %lld.%lld s: "
		    "%s", held, (long long)held_ms / 1000, (long long)(held_ms % 1000) / 100,
		    record_held_by_self(run->ctx.record) ? "lbld's own restart of the database's "
		    "log holds its lock" : "the database is locked by another process");
	if (act_safety_active(run->ctx.act, safety, sizeof(safety)))
		snprintf(st->safety, sizeof(st->safety), "%s: nothing moves until it is released "
		    "and the operator runs 'lblctl park'", safety);
}

void
run_status(const struct run *run, struct run_status *st)
{
	int64_t now = loop_now_ns();

	memset(st, 0, sizeof(*st));
	st->state = run->state;
	st->batch_id = run->batch_id;
	st->batch_state = run->batch_id ? run->batch_state : NULL;
	st->thickness_measured_nm = NAN;
	st->message = run->state == RUN_PROMPT ? run->message : run->cause[0] ? run->cause : NULL;
	if (run->plan == NULL && run->state == RUN_SAFE && run->activity[0])
		st->message = run->activity;
	if (run->state == RUN_SAFE)
		act_waiting_text(run->ctx.act, st->waiting, sizeof(st->waiting));
	run_substrate(run, st);
	if (run->plan == NULL) {
		if (run->batch_id && strcmp(run->batch_state, "interrupted") == 0)
			snprintf(st->next, sizeof(st->next), "'lblctl resume-batch %lld' continues "
			    "it after step %d (if its recipe allows resuming); 'lblctl abort-batch "
			    "%lld' closes it", (long long)run->batch_id, run->last_step_seq,
			    (long long)run->batch_id);
		return;
	}
	st->recipe = run->recipe->name;
	st->version = run->recipe->version;
	st->bilayers = run->plan->bilayers;
	st->step_count = (int)run->plan->count;
	st->thickness_measured_nm = run->measured_nm;
	if (run->step < run->plan->count) {
		const struct plan_step *s = &run->plan->steps[run->step];
		int64_t planned_end = run->t0_ns + run_scaled_ns(run, s->start_ms + s->duration_ms);
		int64_t run_end = run->t0_ns + run_scaled_ns(run, run->plan->total_ms);
		int64_t frozen = run->state == RUN_PAUSED || run->state == RUN_PROMPT ?
		    now - run->wait_begin_ns : 0;
		st->bilayer = s->bilayer;
		st->step_seq = s->seq;
		st->step_kind = s->kind == STEP_MOVE ? "move" : step_kind_names[s->kind];
		st->step_where = s->where;
		st->step_left_ms = (planned_end + frozen - now) / 1000000;
		st->run_left_ms = (run_end + frozen - now) / 1000000;
		if (st->step_left_ms < 0)
			st->step_left_ms = 0;
		if (st->run_left_ms < 0)
			st->run_left_ms = 0;
		st->thickness_estimate_nm = run->plan->thickness_nm[s->bilayer > 0 ?
		    s->bilayer - 1 : 0];
	}
}

void
run_shutdown(struct run *run, const char *cause, void (*stopped)(void *arg, int ok,
    const char *error), void *arg)
{
	int terminal = run->plan != NULL && run->state == RUN_SAFE && run->safe_then == RUN_IDLE;

	run->stopped = stopped;
	run->stopped_arg = arg;
	loop_timer_cancel(run->timer);
	loop_timer_cancel(run->overrun);
	dispense_cancel(run->dispense);
	dispense_cancel(run->dispense_ahead);
	run->dispense_ahead_step = 0;
	if (terminal) {
		/*
		 * A fault or abort is already parking the substrate: let it end,
		 * and keep the batch's state (aborted or failed stays so).
		 */
		log_info("batch %lld: waiting for the park under way before stopping",
		    (long long)run->batch_id);
		return;
	}
	if (run->plan == NULL) {
		/*
		 * No batch: outputs off, confirmed. The substrate is parked too
		 * when an operator's park was under way or the lift is known to
		 * be at the safe height (nothing moves down); a lowered lift is
		 * left for the operator, who sees it in status at the next start.
		 */
		int park = run->idle_park;
		run->state = RUN_SAFE;
		run->safe_then = RUN_IDLE;
		text_format(run->activity, sizeof(run->activity), "stopping: %s", cause);
		run_safe(run, park);
		return;
	}
	/* the rig first: stops queued on every bus before anything is written */
	run->state = RUN_SAFE;
	run->safe_then = RUN_IDLE;
	run->compiled.line_running = 0;
	run->pause_requested = 0;
	run_safe(run, 1);
	text_format(run->cause, sizeof(run->cause), "%s", cause);
	snprintf(run->batch_state, sizeof(run->batch_state), "interrupted");
	run_close_next(run, "aborted");
	{
		struct ledger_step_end end_row;
		const struct ledger_step_end *end = run_open_end(run, "aborted", loop_now_ns(),
		    &end_row);
		struct ledger_event event = { "info", NULL, NULL };
		char message[RUN_MAX_EVENT_BYTES], why[320];

		text_format(message, sizeof(message), "interrupted: %s; withdrawing and parking the "
		    "substrate", cause);
		event.message = message;
		log_info("batch %lld: %s", (long long)run->batch_id, message);
		/* a boundary under way is written first (its step was done) */
		if (run_commit_boundary_quiet(run, why, sizeof(why)) == -1 ||
		    ledger_batch_end(run->ctx.record, run->batch_id, end, NULL, run->sol_rows,
		    run_solution_rows(run), "interrupted", cause, &event, 1, why, sizeof(why)) == -1)
			log_warnx("batch %lld: the interruption was not recorded (the next start "
			    "marks it): %s", (long long)run->batch_id, why);
	}
}

int
run_park(struct run *run, const char *who, char *err, size_t size)
{
	struct ledger_event event = { "operator", NULL, NULL };
	char why[160], message[200], record_why[320];

	if (run->stopped != NULL)
		return run_refuse(err, size, "lbld is stopping");
	if (run->state == RUN_SAFE)
		return run_refuse(err, size, "the rig is already going to its safe state%s%s",
		    run->activity[0] ? ": " : "", run->activity);
	if (run->state != RUN_IDLE && run->state != RUN_PAUSED)
		return run_refuse(err, size, "batch %lld is running: 'lblctl pause --now' "
		    "withdraws and parks it, 'lblctl abort' ends it", (long long)run->batch_id);
	if (act_safety_active(run->ctx.act, why, sizeof(why)))
		return run_refuse(err, size, "cannot park: %s (release it first)", why);
	if (run->ctx.rig->lift < 0 && run->ctx.rig->transfer < 0)
		return run_refuse(err, size, "rig %s has no lift or transfer axis to park",
		    run->ctx.rig->name);
	text_format(message, sizeof(message), "park requested by %s", who);
	event.message = message;
	if (ledger_event(run->ctx.record, run->state == RUN_PAUSED ? run->batch_id : 0, &event,
	    record_why, sizeof(record_why)) == -1)
		return run_refuse(err, size, "the database could not record the request: %s",
		    record_why);
	log_info("%s", message);
	if (run->state == RUN_PAUSED) {
		run->safe_then = RUN_PAUSED;
	} else {
		run->safe_then = RUN_IDLE;
		run->idle_park = 1;
	}
	run->state = RUN_SAFE;
	snprintf(run->activity, sizeof(run->activity), "parking: outputs off, lift to the safe "
	    "height, transfer to park");
	run_safe(run, 1);
	run_notify(run);
	return 0;
}

void
run_note_interrupted(struct run *run, int64_t batch_id, const char *cause, int last_step_seq)
{
	if (run->plan != NULL)
		return;
	run->batch_id = batch_id;
	snprintf(run->batch_state, sizeof(run->batch_state), "interrupted");
	text_format(run->cause, sizeof(run->cause), "%s", cause ? cause : "lbld stopped");
	run->last_step_seq = last_step_seq;
}

int
run_has_interrupted(const struct run *run)
{
	return run->plan == NULL && run->batch_id != 0 &&
	    strcmp(run->batch_state, "interrupted") == 0;
}

void
run_set_rig(struct run *run, const struct rig *rig, int64_t rig_id, struct act *act)
{
	run->ctx.rig = rig;
	run->ctx.rig_id = rig_id;
	run->ctx.act = act;
}

void
run_note_closed(struct run *run, int64_t batch_id, const char *state)
{
	if (run->plan == NULL && run->batch_id == batch_id)
		snprintf(run->batch_state, sizeof(run->batch_state), "%s", state);
}

int64_t
run_batch_id(const struct run *run)
{
	return run->plan != NULL ? run->batch_id : 0;
}

int
run_busy(const struct run *run)
{
	return run->state != RUN_IDLE;
}

struct run *
run_new(const struct run_context *ctx)
{
	struct run *run = calloc(1, sizeof(*run));

	if (run == NULL) {
		log_warn("run: calloc");
		return NULL;
	}
	run->ctx = *ctx;
	run->timer = loop_timer_new(ctx->loop, run_timer_fired, run);
	run->overrun = loop_timer_new(ctx->loop, run_overrun_fired, run);
	run->dispense = dispense_new(run_dispensed, run);
	run->dispense_ahead = dispense_new(run_dispensed, run);
	if (run->timer == NULL || run->overrun == NULL || run->dispense == NULL ||
	    run->dispense_ahead == NULL) {
		loop_timer_free(run->timer);
		loop_timer_free(run->overrun);
		dispense_free(run->dispense);
		dispense_free(run->dispense_ahead);
		free(run);
		return NULL;
	}
	return run;
}

void
run_free(struct run *run)
{
	if (run == NULL)
		return;
	if (run->plan != NULL)
		run_release(run);
	loop_timer_free(run->timer);
	loop_timer_free(run->overrun);
	dispense_free(run->dispense);
	dispense_free(run->dispense_ahead);
	compile_list_free(&run->list);
	free(run);
}
