/*
 * The run executor: walks a plan — the very plan lblctl plan prints — on
 * the rig, one step after another. Step i starts at the absolute monotonic
 * deadline t0 + start_ms(i) / time_scale, so timing error never
 * accumulates; dwells are timed from the moment immersion completed, and
 * motion time is measured and recorded apart from them. Every step's start
 * and end are committed to the database before the next step begins.
 */
#ifndef LBL_RUN_H
#define LBL_RUN_H

#include <stdint.h>

#include "act.h"
#include "loop.h"
#include "plan.h"

struct db;
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
	const char *lots[16];		/* "solution=lot" */
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
};

/* Called whenever the state or the step changes (status line, followers). */
typedef void (*run_notify_cb)(void *arg, const struct run_status *status);

struct run_context {
	struct loop *loop;
	struct act *act;
	struct db *db;
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

/* Completion of the pending act operation, and safety inputs (from act). */
void run_act_done(struct run *run, int ok, double value, const char *error);
void run_safety_input(struct run *run, int device, int active);

void run_status(const struct run *run, struct run_status *status);
/*
 * lbld is stopping mid-run: safe state (without waiting to park), the
 * current step recorded as aborted, the batch interrupted with cause, so
 * that resume-batch can continue it later.
 */
void run_shutdown(struct run *run, const char *cause);
/* Whether a batch is in progress (a second run is refused). */
int run_busy(const struct run *run);

#endif
