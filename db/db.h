/*
 * The recording layer: every state change of a coating run is committed to
 * SQLite before the daemon acts on the next step, so a batch can be resumed
 * after a crash and its making can be reconstructed months later.
 *
 * Conventions for every function below:
 * - Returns -1 on failure after logging the statement's purpose and SQLite's
 *   message with log_warnx(); nothing is left half-written (each write is
 *   one committed transaction, or none).
 * - Lookups return 0 when found, 1 when there is no such row, -1 on error.
 * - Times are UTC ISO-8601 text with milliseconds ("2026-01-31T14:05:09.123Z"),
 *   taken from the realtime clock when the call records them.
 * - A double that is NaN is stored as NULL (unknown) and read back as NaN.
 * - Strings in rows handed to callbacks live only until the callback returns.
 *   A callback returns 0 to go on or non-zero to stop the listing early.
 * - Batch states: running paused completed aborted failed interrupted.
 *   Step outcomes: running done failed skipped aborted.
 *   Event kinds: fault pause resume prompt continue abort estop interlock
 *   operator info. Other strings are refused by the schema's CHECKs.
 */
#ifndef LBL_DB_H
#define LBL_DB_H

#include <stddef.h>
#include <stdint.h>

#define DB_SCHEMA_VERSION	4	/* PRAGMA user_version written by this code */

struct db;

/*
 * Opens (creating if missing, but not its parent directory) the database at
 * path in WAL mode with synchronous=FULL, foreign keys on and a busy timeout,
 * and migrates its schema to DB_SCHEMA_VERSION, one transaction per step.
 * Refuses a read-only file, a file that is not a database, and a database
 * whose schema is newer than this code.
 */
int db_open(const char *path, struct db **dbp);

/*
 * As db_open, but migrates no further than target_version (0 .. current).
 * For tests and tools that exercise migrations; the other functions expect
 * the current schema.
 */
int db_open_version(const char *path, int target_version, struct db **dbp);

/*
 * Opens an existing database at path for reading only: a second connection
 * beside the writer's, for a thread that answers reads (WAL lets it read
 * while the writer commits). Nothing is created, migrated or written
 * (PRAGMA query_only); the schema must be DB_SCHEMA_VERSION. Only the read
 * functions may be called on the handle; a write fails (logged).
 */
int db_open_readonly(const char *path, struct db **dbp);

/*
 * The last failure on this handle as its log line said it: "database PATH:
 * what was being done: SQLite's message" (e.g. "database disk image is
 * malformed"), for a reply that must name the problem. Valid until the
 * next call on the handle; never NULL.
 */
#define DB_ERROR_LEN	640
const char *db_error(const struct db *db);

/*
 * The schema this code writes, column by column, for a program that keeps
 * a copy of the record elsewhere: lbl-sync makes its central tables from
 * it, so that the copy cannot drift from the migrations here (the one
 * home of the local schema). Builds the schema in a private in-memory
 * database by running the migrations, then tells cb each column of each
 * table, tables in the order they were created, columns in their order.
 * pk is the column's place in the table's primary key from 1, 0 when it
 * is not in it; type is as declared (INTEGER, TEXT, REAL). Returns 0,
 * cb's non-zero return value when it stopped, or -1 (logged with SQLite's
 * message).
 */
struct db_column {
	const char *table, *name, *type;
	int notnull, pk;
};
int db_schema_columns(int (*cb)(void *arg, const struct db_column *col), void *arg);

/* Closes the handle and its cached statements; NULL is allowed. */
void db_close(struct db *db);

/*
 * Groups the writes that follow, up to db_group_commit, into one transaction,
 * so that a step boundary (a step's end, its bilayer, the next step's start)
 * costs one commit and one sync instead of three (the caller's, or under
 * db_no_wait the syncer's). Each write in the group stays all-or-nothing
 * (a savepoint): a failed one is undone and the others stay. Nothing in
 * the group is in the database before db_group_commit returns 0; when it
 * fails, the whole group is lost and the caller must treat every write in it
 * as failed. Groups do not nest: db_group_begin fails while one is open.
 * db_group_commit with no group open returns 0.
 */
int db_group_begin(struct db *db);
int db_group_commit(struct db *db);
/*
 * As db_group_begin, but a database whose write lock another connection
 * holds is not an error: returns 0 (the group is open), 1 when the lock is
 * busy (nothing logged, nothing open), -1 on any other error (logged).
 * With db_set_busy_timeout(db, 0) it never waits.
 */
int db_group_try_begin(struct db *db);
/* Undoes an open group entirely (nothing in it is written); no-op when none is open. */
void db_group_rollback(struct db *db);
/*
 * From now on no commit of this handle waits for the disk (db_sync.c):
 * once a commit returns, its writes are in the write-ahead log, seen by
 * every reader and safe from a crash of the process, and a thread beside
 * the caller makes the log durable, so that only a power cut within that
 * sync's time can lose them. For lbld's event loop, which must never sit
 * in fsync: a disk that hangs would hold up its reaction to an e-stop.
 * Returns 0, or -1 (logged) when the thread cannot be had: every commit
 * then waits for the disk, as without this call.
 */
int db_no_wait(struct db *db);
/*
 * Calls cb(arg) after each commit whose sync was asked of the thread (from
 * inside the commit: cb must not use the handle). NULL: none.
 */
void db_on_sync_asked(struct db *db, void (*cb)(void *arg), void *arg);
/*
 * 0 while every sync of db_no_wait's thread succeeded; -1 (why says what
 * failed, logged) once one did since the last call.
 */
int db_sync_check(struct db *db, char *why, size_t why_size);
/*
 * How many of those syncs are asked for and not yet done; done, if not
 * NULL, gets how many were done so far (it grows while the disk answers).
 */
uint64_t db_sync_pending(struct db *db, uint64_t *done);
/*
 * The thread of db_no_wait writes too: once a checkpoint has copied the
 * whole log it starts the log afresh with a commit of its own, holding the
 * write lock for that commit and its sync. This count is odd while it
 * does and grows at each begin and end: a busy db_group_try_begin between
 * two reads that are equal and even was another connection's lock; any
 * other, maybe the thread's. Never waits. 0 without the thread.
 */
uint64_t db_self_lock_seq(struct db *db);

/*
 * How long a write waits for another connection's lock before it fails
 * (SQLite's busy timeout; 5 s after db_open). lbld's event loop sets 0: it
 * must never wait, and holds its batch record in memory instead (record.c).
 * Returns 0 or -1 (logged).
 */
int db_set_busy_timeout(struct db *db, int timeout_ms);

/* "2026-01-31T14:05:09.123Z" and its NUL */
#define DB_UTC_LEN	32
/*
 * While utc is set (not NULL), every write stamps its time (a step's start,
 * an event, a bilayer's end, a state's end) with utc instead of now: a write
 * that waited in memory keeps the time it happened. NULL goes back to now.
 */
void db_set_clock(struct db *db, const char *utc);
/* The current UTC time in the database's format. */
void db_utc_now(char out[DB_UTC_LEN]);

/* ---- recipes and rig files: stored verbatim, deduplicated by SHA-256 ---- */

struct db_recipe {
	int64_t id;
	const char *name;
	const char *version;		/* NULL for a rig */
	const char *sha256;		/* 64 lowercase hex digits of the exact bytes */
	const char *yaml;		/* the file as given, NUL-terminated */
	size_t yaml_len;
	const char *added_at;
	const char *retired_at;		/* when retired (db_recipe_retire); NULL: runnable */
	int batches;			/* batches that ran it: db_recipe_list only, else 0 */
	void *mem_;			/* owned copy (db_recipe_get/find); private */
};

/*
 * Stores a recipe's text (yaml_len bytes) under name and version. One name
 * and version hold one text: returns 0 when stored now, 1 when the same
 * bytes are stored already (*id is their row; retired or not), 2 when a
 * different text is stored under that name and version (*id is the newest
 * such row; nothing is stored: the changed recipe needs a new version).
 */
int db_recipe_add(struct db *db, const char *name, const char *version, const char *yaml,
    size_t yaml_len, int64_t *id);

/*
 * db_recipe_add for callers that need only the row: 0 with *id when stored
 * or stored already; -1 (logged) for a different text under a stored name
 * and version, as for any failure.
 */
int db_recipe_store(struct db *db, const char *name, const char *version, const char *yaml,
    size_t yaml_len, int64_t *id);

/*
 * Retires every row of name at version (stamps retired_at with now): kept
 * for the batches that ran it, no longer found by db_recipe_find without a
 * version. Returns 0, 1 when there is no such recipe, 2 when it was retired
 * already (nothing changed).
 */
int db_recipe_retire(struct db *db, const char *name, const char *version);

/* Same for a rig file; a rig row has no version. */
int db_rig_store(struct db *db, const char *name, const char *yaml, size_t yaml_len, int64_t *id);

/* Fills *row with an owned copy of recipe (or rig) id; free with db_recipe_row_free. */
int db_recipe_get(struct db *db, int64_t id, struct db_recipe *row);
int db_rig_get(struct db *db, int64_t id, struct db_recipe *row);

/*
 * Finds a recipe by name: with version NULL the latest stored under that
 * name that is not retired (when every one is retired, the latest of them:
 * the caller sees retired_at and says so), else the latest row with
 * exactly that version, retired or not. When no recipe has that
 * name and key is at least 4 hex digits, key is taken as a SHA-256 prefix,
 * which must then be unambiguous (an ambiguous prefix is an error).
 */
int db_recipe_find(struct db *db, const char *key, const char *version, struct db_recipe *row);

/* Releases an owned row; the row may be zeroed or already freed. */
void db_recipe_row_free(struct db_recipe *row);

/*
 * Lists every recipe, newest first, each with its batch count and retired_at;
 * rows carry no yaml (NULL, length 0).
 */
int db_recipe_list(struct db *db, int (*cb)(void *arg, const struct db_recipe *row), void *arg);

/* ---- batches ---- */

struct db_batch_new {
	int64_t recipe_id;
	int64_t rig_id;
	const char *substrate;		/* may be NULL */
	const char *operator_name;	/* may be NULL */
	const char *note;		/* may be NULL */
	int bilayers_target;
	double thickness_target_nm;	/* NaN: no thickness target */
	double thickness_estimated_nm;	/* the plan's estimate of the finished film */
	const char *software_version;
	double time_scale;		/* simulated time factor; 1 on real hardware */
};

/* Records a new batch in state running, started now; *batch_id is its id. */
int db_batch_create(struct db *db, const struct db_batch_new *b, int64_t *batch_id);

/*
 * Sets a batch's state and its failure cause (NULL clears it). A terminal
 * state (completed, aborted, failed, interrupted) stamps ended_at with now;
 * running or paused clears it. Fails if the batch does not exist.
 */
int db_batch_set_state(struct db *db, int64_t batch_id, const char *state, const char *cause);

struct db_batch {
	int64_t id, recipe_id, rig_id;
	const char *recipe_name, *recipe_version, *recipe_sha256, *rig_name;
	const char *substrate, *operator_name, *note;	/* NULL when not given */
	const char *state;
	const char *started_at, *ended_at;		/* ended_at NULL while not ended */
	int bilayers_target, bilayers_done;
	double thickness_target_nm, thickness_estimated_nm, thickness_measured_nm;
	const char *software_version;
	double time_scale;
	const char *failure_cause;
	int last_step_seq;		/* last step done or skipped, 0 before any */
	void *mem_;			/* owned copy (db_batch_get); private */
};

/* Fills *row with an owned copy of batch id; free with db_batch_row_free. */
int db_batch_get(struct db *db, int64_t batch_id, struct db_batch *row);
void db_batch_row_free(struct db_batch *row);

/*
 * Filters for db_history; NULL (or 0) fields do not filter. since and
 * before compare against started_at as ISO-8601 text: since is inclusive,
 * before exclusive ("2026-02-01" selects up to the end of January 31).
 */
struct db_history_filter {
	const char *recipe;		/* recipe name */
	const char *substrate;
	const char *state;
	const char *since;
	const char *before;
	int limit;			/* at most this many rows; 0 for all */
};

/* Lists batches matching the filter, the most recently started first. */
int db_history(struct db *db, const struct db_history_filter *f,
    int (*cb)(void *arg, const struct db_batch *row), void *arg);

/* ---- steps ---- */

struct db_step {
	int seq;			/* the plan step's number, from 1 */
	int bilayer;			/* 0 outside the cycles */
	const char *phase;		/* pre, cycle, checkpoint or post */
	const char *kind;		/* dip, rinse, move, ... */
	const char *station;		/* may be NULL */
	const char *solution;		/* may be NULL */
	int64_t planned_start_ms;	/* offsets from the batch start, in recipe time */
	int64_t planned_duration_ms;
	int64_t actual_start_ms;	/* monotonic offset from the batch start */
	/* filled by reads only: */
	const char *actual_start_utc;
	const char *outcome;
	int64_t actual_duration_ms;	/* -1 while running */
	int64_t motion_ms, dwell_ms;	/* -1 while running */
	int attempts;			/* how often the step was begun */
	/*
	 * What the step dispensed through pumps with a volume counter: the
	 * plan's figure and what the pumps' counters say (db_step_volume);
	 * NaN when the step dispensed nothing so counted.
	 */
	double volume_planned_ml, volume_measured_ml;
};

/*
 * Records the start of step s->seq of a batch (outcome running, start
 * stamped now). A step that was begun before but not settled (outcome
 * running, failed or aborted: a pause --now, a crash) is begun again: its
 * row is reset, attempts counts up and an info event records the earlier
 * attempt. A step already done or skipped is refused: it must not repeat.
 */
int db_step_begin(struct db *db, int64_t batch_id, const struct db_step *s);

/*
 * Records the end of a running step: its duration, the time spent moving
 * and dwelling (ms) and its outcome (done, failed, skipped or aborted).
 * actual_start_ms, when not negative, replaces the start db_step_begin
 * recorded (a step may be recorded a few ms before it starts, so that the
 * commit is not in the way of its first command); actual_start_utc moves
 * with it. When the outcome is done or skipped, batches.last_step_seq
 * becomes seq in the same transaction; seq must then be beyond the previous
 * last step.
 */
int db_step_end(struct db *db, int64_t batch_id, int seq, int64_t actual_start_ms,
    int64_t duration_ms, int64_t motion_ms, int64_t dwell_ms, const char *outcome);

/* Returns 1 if the step is settled (done or skipped), 0 if not, -1 on error. */
int db_step_done(struct db *db, int64_t batch_id, int seq);

/* Sets *seq to the batch's last settled step (0 before any). */
int db_batch_last_step(struct db *db, int64_t batch_id, int *seq);

/*
 * Proves a batch's steps can be resumed after last_step_seq: steps 1 ..
 * last_step_seq are all settled, each once, and no later step is. Returns 0
 * when that holds, 1 when it does not (why says which step), -1 on error.
 */
int db_batch_verify_steps(struct db *db, int64_t batch_id, char *why, size_t why_size);

/* Lists a batch's steps in seq order. */
int db_steps(struct db *db, int64_t batch_id, int (*cb)(void *arg, const struct db_step *row),
    void *arg);

/*
 * Records what a step dispensed: the plan's volume and what the pumps' own
 * counters say (NaN: not known). The step must have been begun.
 */
int db_step_volume(struct db *db, int64_t batch_id, int seq, double planned_ml,
    double measured_ml);

/* ---- QCM baselines: the bare crystal's frequency each thickness is from ---- */

/*
 * Records (or replaces) the baseline of a batch's sensor: hz and where it
 * came from ("rig file f0", "measured in step 3"), stamped now.
 */
int db_baseline_set(struct db *db, int64_t batch_id, const char *sensor, double hz,
    const char *source);
/* Reads a batch's baseline for sensor: 1 and *hz, 0 when there is none, -1 on error. */
int db_baseline_get(struct db *db, int64_t batch_id, const char *sensor, double *hz);

struct db_baseline {
	const char *sensor, *source, *at;
	double hz;
};

/* Lists a batch's baselines by sensor name. */
int db_baselines(struct db *db, int64_t batch_id,
    int (*cb)(void *arg, const struct db_baseline *row), void *arg);

/* ---- bilayers, events, solutions ---- */

/*
 * Records bilayer n as finished now with the film estimate and measurement
 * (NaN: none); the batch's bilayers_done becomes n and its estimated (and,
 * when given, measured) thickness follow, in the same transaction.
 */
int db_bilayer_done(struct db *db, int64_t batch_id, int n, double estimated_nm,
    double measured_nm);

struct db_bilayer {
	int n;
	const char *ended_at;
	double thickness_estimated_nm, thickness_measured_nm;
};

int db_bilayers(struct db *db, int64_t batch_id,
    int (*cb)(void *arg, const struct db_bilayer *row), void *arg);

/* Records an event now; batch_id 0 for one outside any batch, device may be NULL. */
int db_event_add(struct db *db, int64_t batch_id, const char *kind, const char *device,
    const char *message);

struct db_event {
	int64_t id, batch_id;		/* batch_id 0: not tied to a batch */
	const char *at, *kind, *device, *message;
};

/*
 * Who hears of each event once it is committed: after every commit of this
 * handle (SQLite's WAL hook, which runs once the commit is durable and the
 * write lock released), cb is called for each event row committed since
 * the last call, in order, with the row as the record has it. Events on
 * record before this call are not told. NULL stops it. Takes over SQLite's
 * automatic checkpoint, which the WAL hook replaces, and does it the same
 * way (a passive checkpoint once the WAL holds 1000 pages). 0, or -1 when
 * the last event's id could not be read.
 */
int db_on_event(struct db *db, void (*cb)(void *arg, const struct db_event *row), void *arg);

/* Lists a batch's events (batch_id 0: those outside any batch) in order. */
int db_events(struct db *db, int64_t batch_id, int (*cb)(void *arg, const struct db_event *row),
    void *arg);

/*
 * Sets (inserts or updates) a batch's usage of one solution. Its lot is the
 * one of the first call, when the batch started: a later call (each step,
 * a resumed batch) updates dips, volume and area and leaves the lot as it
 * was recorded, so a resume cannot write another lot over it.
 */
int db_solution_set(struct db *db, int64_t batch_id, const char *name, const char *lot, int dips,
    double volume_ml, double area_cm2);

/*
 * Reads back one solution's dips, volume (mL) and area (cm2) for a resumed
 * batch. Returns 0, 1 when the batch has no row for it (nothing is set),
 * or -1 on a database error (logged with the SQL's).
 */
int db_solution_get(struct db *db, int64_t batch_id, const char *name, int *dips,
    double *volume_ml, double *area_cm2);

struct db_solution {
	const char *name, *lot;
	int dips;
	double volume_ml, area_cm2;
};

int db_solutions(struct db *db, int64_t batch_id,
    int (*cb)(void *arg, const struct db_solution *row), void *arg);

/* ---- crash recovery ---- */

/*
 * Marks every batch left running or paused (by a crash: call this at start-
 * up, before any batch runs) as interrupted, with an event naming its last
 * settled step, in one transaction. cb (may be NULL) is told each batch
 * afterwards. Returns how many batches were marked, or -1.
 */
int db_recover(struct db *db, void (*cb)(void *arg, int64_t batch_id, const char *was_state,
    int last_step_seq), void *arg);

#endif
