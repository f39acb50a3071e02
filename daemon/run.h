/*
 * The run executor: walks a plan — the very plan lblctl plan prints — on
 * the rig, one step after another, each as its compiled actions
 * (recipes/compile.h). Step i starts at the absolute monotonic deadline
 * t0 + start_ms(i) / time_scale; each wait ends at the schedule's point
 * plus its time and a step's last timed entry on the step's planned end,
 * absorbing its commands' time, so timing error does not accumulate for
 * any step shape (steps the rig keeps: rig_min_step_ms); other dwells are
 * exact, after an immersion from the moment it completed, and
 * motion time is measured and recorded apart from them. A step's start is
 * armed during the step before (act_arm) and fired at its deadline. Every step's start
 * and end are committed to the database before the next step begins.
 */
#ifndef LBL_RUN_H
#define LBL_RUN_H

#include <stdint.h>

#include "act.h"
#include "loop.h"
#include "plan.h"

struct db;
struct record;
struct run;

enum run_state {
	RUN_IDLE,		/* no batch */
	RUN_WAITING,		/* waiting for a step's planned start */
	RUN_STEP,		/* executing a step */
	RUN_PROMPT,		/* waiting for the operator (lblctl continue) */
	RUN_PAUSED,		/* paused at a step boundary or withdrawn (--now) */
	RUN_SAFE,		/* fault, abort or e-stop: going to or in safe state */
};

extern const char *const run_state_names[];

struct run_options {
	const char *substrate;
	const char *operator_name;
	const char *note;
	const char *lots[RECIPE_MAX_SOLUTIONS];		/* "solution=lot" */
	int lot_count;
};

struct run_status {
	enum run_state state;
	int64_t batch_id;		/* 0 if none yet */
	const char *recipe, *version;
	int bilayer, bilayers;
	int step_seq, step_count;
	const char *step_kind, *step_where;
	int64_t step_left_ms, run_left_ms;	/* real (scaled) milliseconds */
	double thickness_estimate_nm, thickness_measured_nm;
	const char *message;		/* prompt text or failure cause */
	const char *batch_state;	/* last batch state: running, paused, completed, failed... */
	char substrate[760];		/* where the substrate is, and what to do if it is not safe */
	char safety[400];		/* an engaged e-stop or interlock, "" if none */
	char next[240];			/* the command that continues or clears a batch, "" if none */
	char record[160];		/* writes held in memory (database locked), "" if none */
	char waiting[480];		/* state safe: what it waits for (act_waiting_text), or "" */
};

/* Called whenever the state or the step changes (status line, followers). */
typedef void (*run_notify_cb)(void *arg, const struct run_status *status);

struct run_context {
	struct loop *loop;
	struct act *act;
	struct db *db;			/* batch creation and reads */
	struct record *record;		/* every write of a running batch */
	const struct rig *rig;
	int64_t rig_id;			/* the rig file's row in the database */
	double time_scale;		/* durations are divided by this (simulation) */
	run_notify_cb notify;
	void *notify_arg;
};

struct run *run_new(const struct run_context *ctx);
void run_free(struct run *run);

/*
 * Starts a batch of a stored recipe (recipe_id) whose parsed recipe and
 * plan the run takes ownership of. On failure returns -1 with err set and
 * frees neither... nor changes anything.
 */
int run_start(struct run *run, struct recipe *recipe, struct plan *plan, int64_t recipe_id,
    const struct run_options *options, int64_t *batch_id, char *err, size_t err_size);
/*
 * Continues an interrupted batch after its last completed step. recipe and
 * plan must be those of the batch (the caller rebuilds them from the
 * stored text); ownership passes to the run on success.
 */
int run_resume_batch(struct run *run, int64_t batch_id, struct recipe *recipe,
    struct plan *plan, int last_done_seq, char *err, size_t err_size);

/* Operator requests. Return 0, or -1 with err set (nothing changed). */
int run_pause(struct run *run, int now, char *err, size_t err_size);
int run_resume(struct run *run, char *err, size_t err_size);
int run_continue(struct run *run, char *err, size_t err_size);
int run_abort(struct run *run, const char *who, char *err, size_t err_size);
/*
 * The same, with who asked (lbld's caller names the operator, e.g. a web
 * user through lbl-web) in the event put on record; NULL names no one.
 */
int run_pause_by(struct run *run, int now, const char *who, char *err, size_t err_size);
int run_resume_by(struct run *run, const char *who, char *err, size_t err_size);
int run_continue_by(struct run *run, const char *who, char *err, size_t err_size);

/* Completion of the pending act operation, and safety inputs (from act). */
void run_act_done(struct run *run, int ok, double value, const char *error);
void run_safety_input(struct run *run, int device, int active);
/*
 * Supervision found a device lost, alarmed or not in the state commanded
 * (hw_supervise(); error names device, bus, unit and register): a batch in
 * progress fails into safe state with it as its cause and the device in
 * its fault event; a paused one keeps its state and the fault is an event.
 */
void run_device_fault(struct run *run, int device, const char *error);

void run_status(const struct run *run, struct run_status *status);
/*
 * lbld is stopping. The rig goes to its safe state first: stop and off
 * commands on every bus, confirmed; then, during a batch, the substrate is
 * withdrawn to the safe height and parked, and the batch is marked
 * interrupted at its last settled step (resume-batch continues it when the
 * recipe allows). A batch already failed or aborted keeps its state and the
 * park under way ends first. stopped is called once all that has ended, ok
 * = 0 with the reason when something was not confirmed. Requests after this
 * are refused.
 */
void run_shutdown(struct run *run, const char *cause, void (*stopped)(void *arg, int ok,
    const char *error), void *arg);
/*
 * The operator's park (lblctl park), outside a batch or while it is paused:
 * outputs off, the substrate withdrawn to the safe height and parked. Refused
 * with the reason while a batch runs, an e-stop or interlock is engaged, or
 * the rig is already going to its safe state. who names the operator.
 */
int run_park(struct run *run, const char *who, char *err, size_t err_size);
/* At start-up: the last batch was interrupted, so status names it and what to do. */
void run_note_interrupted(struct run *run, int64_t batch_id, const char *cause,
    int last_step_seq);
/* Whether status names an interrupted batch (no batch runs). */
int run_has_interrupted(const struct run *run);
/* A reloaded rig (lbld is idle): the run uses it and its actuation from now on. */
void run_set_rig(struct run *run, const struct rig *rig, int64_t rig_id, struct act *act);
/* A batch that status names was closed (abort-batch) or resumed elsewhere. */
void run_note_closed(struct run *run, int64_t batch_id, const char *state);
/*
 * The batch record could not be kept (record.h, ledger.h): a running or
 * paused batch fails safely with why as its cause; one pausing now (its
 * rig going safe) ends failed instead of paused. Without a batch, logged.
 */
void run_record_fault(struct run *run, const char *why);
/* The batch in progress, 0 when none (for events that belong to it). */
int64_t run_batch_id(const struct run *run);
/* Whether a batch is in progress (a second run is refused). */
int run_busy(const struct run *run);

#endif
