/*
 * The executor's writes to the batch record, one function per boundary.
 *
 * Each function is one commit group (record.h): it begins the group, makes
 * every write of its boundary, checks each one's result, and commits them
 * together, so a boundary is on record whole (or held whole while another
 * process holds the database) or the caller is told it is not. Nothing
 * else commits: telling clients (run_notify) writes nothing.
 *
 * Every function returns 0 when its writes are on record or held, -1 when
 * any of them was refused or the commit failed; why (if not NULL) then
 * names the first write lost and the database's reason. The executor fails
 * the batch into its safe state with that cause (run.c), except where the
 * batch is ending already, where the loss is logged.
 */
#ifndef LBL_LEDGER_H
#define LBL_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct record;

/*
 * How a step ended. started 0: recorded but never started, so it ends with
 * no time. has_volume: its pumps' counters were read, and what they
 * counted goes on record beside the plan's volume (measured NaN: unknown).
 */
struct ledger_step_end {
	int seq;
	int started;
	int64_t actual_start_ms, duration_ms, motion_ms, dwell_ms;
	const char *outcome;		/* done, failed, aborted */
	int has_volume;
	double volume_planned_ml, volume_measured_ml;
};

/* A finished bilayer: its estimate and its measurement (NAN: not measured). */
struct ledger_bilayer {
	int n;
	double estimated_nm, measured_nm;
};

/* The use of one solution so far (written whole, each time). */
struct ledger_solution {
	const char *name, *lot;
	int dips;
	double volume_ml, area_cm2;
};

/* One event of a boundary. */
struct ledger_event {
	const char *kind, *device, *message;
};

/*
 * A batch's first writes: the use of every solution (none yet, with its
 * lot) and the event saying it started.
 */
int ledger_batch_start(struct record *rec, int64_t batch_id, const struct ledger_solution *sols,
    size_t sol_count, const struct ledger_event *started, char *why, size_t why_size);

/*
 * A step boundary: the end of the step before (may be NULL), the bilayer it
 * finished (may be NULL), its events (a measured target reached) and the
 * start of the next step (next_count 0 when it starts later, to be
 * recorded then with next alone): next_count steps from next, two for a
 * set and the step that shares its moment (run.c: both go on record
 * before the first's command).
 */
int ledger_step_boundary(struct record *rec, int64_t batch_id, const struct ledger_step_end *end,
    const struct ledger_bilayer *bilayer, const struct ledger_event *events, size_t event_count,
    const struct db_step *next, size_t next_count, char *why, size_t why_size);

/*
 * A batch's end (completed, failed, aborted, interrupted): the end of the
 * step before or of the one under way (may be NULL), the bilayer it
 * finished (may be NULL), every solution's use, the batch's state with its
 * cause (may be NULL) and the events saying why (a target reached before,
 * the end itself).
 */
int ledger_batch_end(struct record *rec, int64_t batch_id, const struct ledger_step_end *end,
    const struct ledger_bilayer *bilayer, const struct ledger_solution *sols, size_t sol_count,
    const char *state, const char *cause, const struct ledger_event *events, size_t event_count,
    char *why, size_t why_size);

/*
 * A pause, at a boundary or now: the end of the step before or of the one
 * interrupted (may be NULL), the bilayer it finished (may be NULL), the
 * state paused and the events (a target reached before, the pause).
 */
int ledger_pause(struct record *rec, int64_t batch_id, const struct ledger_step_end *end,
    const struct ledger_bilayer *bilayer, const struct ledger_event *events, size_t event_count,
    char *why, size_t why_size);

/* A resume (lblctl resume or resume-batch): the state running and the event. */
int ledger_resume(struct record *rec, int64_t batch_id, const struct ledger_event *event,
    char *why, size_t why_size);

/*
 * A QCM's baseline (the bare crystal's frequency hz, and where it came
 * from: a baseline step or the rig file's f0) with its event.
 */
int ledger_baseline(struct record *rec, int64_t batch_id, const char *sensor, double hz,
    const char *source, const struct ledger_event *event, char *why, size_t why_size);

/* An event on its own (batch_id 0: none): an operator's request, a measurement... */
int ledger_event(struct record *rec, int64_t batch_id, const struct ledger_event *event,
    char *why, size_t why_size);

#endif
