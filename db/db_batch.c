/*
 * A batch's life on record: creation, state changes, finished bilayers,
 * events, solution usage and the recovery of batches a crash left open.
 * Each public function is one committed transaction.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_private.h"
#include "log.h"

int
db_batch_create(struct db *db, const struct db_batch_new *b, int64_t *batch_id)
{
	char now[DB_TIME_LEN], what[96];
	sqlite3_stmt *st;

	snprintf(what, sizeof(what), "recording a new batch of recipe %lld",
	    (long long)b->recipe_id);
	st = db_stmt(db, ST_BATCH_INSERT, "INSERT INTO batches (recipe_id, rig_id, substrate, "
	    "operator, note, state, started_at, bilayers_target, thickness_target_nm, "
	    "thickness_estimated_nm, software_version, time_scale) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8, ?9, ?10, ?11)", what);
	if (st == NULL)
		return -1;
	db_now_utc(db, now);
	if ((db_bind_int(st, 1, b->recipe_id) | db_bind_int(st, 2, b->rig_id) |
	    db_bind_text(st, 3, b->substrate) | db_bind_text(st, 4, b->operator_name) |
	    db_bind_text(st, 5, b->note) | db_bind_text(st, 6, now) |
	    db_bind_int(st, 7, b->bilayers_target) | db_bind_double(st, 8, b->thickness_target_nm) |
	    db_bind_double(st, 9, b->thickness_estimated_nm) |
	    db_bind_text(st, 10, b->software_version) | db_bind_double(st, 11, b->time_scale)) !=
	    SQLITE_OK || db_run(st) == -1) {
		db_fail(db, "%s", what);
		db_reset(st);
		return -1;
	}
	*batch_id = sqlite3_last_insert_rowid(db->sql);
	return 0;
}

static int
db_state_is_terminal(const char *state)
{
	return strcmp(state, "completed") == 0 || strcmp(state, "aborted") == 0 ||
	    strcmp(state, "failed") == 0 || strcmp(state, "interrupted") == 0;
}

int
db_batch_set_state(struct db *db, int64_t batch_id, const char *state, const char *cause)
{
	char now[DB_TIME_LEN], what[96];
	sqlite3_stmt *st;

	snprintf(what, sizeof(what), "setting batch %lld to state '%s'", (long long)batch_id,
	    state);
	st = db_stmt(db, ST_BATCH_STATE, "UPDATE batches SET state = ?2, failure_cause = ?3, "
	    "ended_at = ?4 WHERE id = ?1", what);
	if (st == NULL)
		return -1;
	db_now_utc(db, now);
	if ((db_bind_int(st, 1, batch_id) | db_bind_text(st, 2, state) |
	    db_bind_text(st, 3, cause) | db_bind_text(st, 4, db_state_is_terminal(state) ?
	    now : NULL)) != SQLITE_OK || db_run(st) == -1) {
		db_fail(db, "%s", what);
		db_reset(st);
		return -1;
	}
	if (sqlite3_changes(db->sql) != 1) {
		log_warnx("database %s: %s: there is no such batch", db->path, what);
		return -1;
	}
	return 0;
}

int
db_bilayer_done(struct db *db, int64_t batch_id, int n, double estimated_nm, double measured_nm)
{
	char now[DB_TIME_LEN], what[96];
	sqlite3_stmt *ins, *upd;

	snprintf(what, sizeof(what), "recording bilayer %d of batch %lld", n, (long long)batch_id);
	ins = db_stmt(db, ST_BILAYER_UPSERT, "INSERT INTO bilayers (batch_id, n, ended_at, "
	    "thickness_estimated_nm, thickness_measured_nm) VALUES (?1, ?2, ?3, ?4, ?5)", what);
	upd = db_stmt(db, ST_BATCH_BILAYER, "UPDATE batches SET bilayers_done = ?2, "
	    "thickness_estimated_nm = coalesce(?3, thickness_estimated_nm), "
	    "thickness_measured_nm = coalesce(?4, thickness_measured_nm) WHERE id = ?1", what);
	if (ins == NULL || upd == NULL || db_begin(db, what) == -1)
		return -1;
	db_now_utc(db, now);
	if ((db_bind_int(ins, 1, batch_id) | db_bind_int(ins, 2, n) | db_bind_text(ins, 3, now) |
	    db_bind_double(ins, 4, estimated_nm) | db_bind_double(ins, 5, measured_nm)) !=
	    SQLITE_OK || db_run(ins) == -1) {
		db_fail(db, "%s", what);
		goto fail;
	}
	if ((db_bind_int(upd, 1, batch_id) | db_bind_int(upd, 2, n) |
	    db_bind_double(upd, 3, estimated_nm) | db_bind_double(upd, 4, measured_nm)) !=
	    SQLITE_OK || db_run(upd) == -1) {
		db_fail(db, "%s: updating the batch", what);
		goto fail;
	}
	return db_commit(db, what);
fail:
	db_reset(ins);
	db_reset(upd);
	db_rollback(db, what);
	return -1;
}

int
db_event_insert(struct db *db, int64_t batch_id, const char *at, const char *kind,
    const char *device, const char *message)
{
	sqlite3_stmt *st;

	st = db_stmt(db, ST_EVENT_INSERT, "INSERT INTO events (batch_id, at, kind, device, "
	    "message) VALUES (?1, ?2, ?3, ?4, ?5)", "recording an event");
	if (st == NULL)
		return -1;
	if (((batch_id > 0 ? db_bind_int(st, 1, batch_id) : SQLITE_OK) | db_bind_text(st, 2, at) |
	    db_bind_text(st, 3, kind) | db_bind_text(st, 4, device) |
	    db_bind_text(st, 5, message)) != SQLITE_OK || db_run(st) == -1) {
		db_fail(db, "recording a '%s' event of batch %lld (%s)", kind, (long long)batch_id,
		    message);
		db_reset(st);
		return -1;
	}
	return 0;
}

int
db_event_add(struct db *db, int64_t batch_id, const char *kind, const char *device,
    const char *message)
{
	char now[DB_TIME_LEN];

	db_now_utc(db, now);
	return db_event_insert(db, batch_id, now, kind, device, message);
}

int
db_solution_set(struct db *db, int64_t batch_id, const char *name, const char *lot, int dips,
    double volume_ml, double area_cm2)
{
	sqlite3_stmt *st;
	char what[128];

	snprintf(what, sizeof(what), "recording the use of solution %s in batch %lld", name,
	    (long long)batch_id);
	st = db_stmt(db, ST_SOLUTION_UPSERT, "INSERT INTO solutions (batch_id, name, lot, dips, "
	    "volume_ml, area_cm2) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (batch_id, name) "
	    "DO UPDATE SET dips = excluded.dips, "
	    "volume_ml = excluded.volume_ml, area_cm2 = excluded.area_cm2", what);
	if (st == NULL)
		return -1;
	if ((db_bind_int(st, 1, batch_id) | db_bind_text(st, 2, name) | db_bind_text(st, 3, lot) |
	    db_bind_int(st, 4, dips) | db_bind_double(st, 5, volume_ml) |
	    db_bind_double(st, 6, area_cm2)) != SQLITE_OK || db_run(st) == -1) {
		db_fail(db, "%s", what);
		db_reset(st);
		return -1;
	}
	return 0;
}

/* ---- recovery ---- */

struct db_open_batch {
	int64_t id;
	char was[16];
	int last_seq;
};

/* Collects the batches left running or paused. */
static int
db_recover_list(struct db *db, struct db_open_batch **out, size_t *count)
{
	struct db_open_batch *v = NULL, *nv;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_RECOVER_LIST, "SELECT id, state, last_step_seq FROM batches "
	    "WHERE state IN ('running', 'paused') ORDER BY id", "finding unfinished batches");
	if (st == NULL)
		return -1;
	while ((rc = db_row(st)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				log_warn("database %s: finding unfinished batches", db->path);
				db_reset(st);
				free(v);
				return -1;
			}
			v = nv;
		}
		v[n].id = sqlite3_column_int64(st, 0);
		snprintf(v[n].was, sizeof(v[n].was), "%s", db_col_text(st, 1));
		v[n].last_seq = (int)sqlite3_column_int64(st, 2);
		n++;
	}
	if (rc == -1) {
		free(v);
		return db_fail(db, "finding unfinished batches");
	}
	*out = v;
	*count = n;
	return 0;
}

/* Marks one batch interrupted, its in-progress step aborted, with an event. */
static int
db_recover_one(struct db *db, const struct db_open_batch *b, const char *now)
{
	/*
	 * At most two steps are open: the one in hand and, after a set, the
	 * step sharing its moment, on record with it before either command.
	 */
	char cause[128], message[128 + 96 + 2 * 80], steps[2 * 80] = "";
	sqlite3_stmt *ab, *mark;
	int rc;

	ab = db_stmt(db, ST_RECOVER_STEPS, "UPDATE steps SET outcome = 'aborted' "
	    "WHERE batch_id = ?1 AND outcome = 'running' RETURNING seq", "recovering a batch");
	mark = db_stmt(db, ST_RECOVER_MARK, "UPDATE batches SET state = 'interrupted', "
	    "ended_at = ?2, failure_cause = ?3 WHERE id = ?1", "recovering a batch");
	if (ab == NULL || mark == NULL)
		return -1;
	if (db_bind_int(ab, 1, b->id) != SQLITE_OK)
		return db_fail(db, "recovering batch %lld", (long long)b->id);
	while ((rc = db_row(ab)) == 1) {
		size_t len = strlen(steps);
		snprintf(steps + len, sizeof(steps) - len, "; step %lld was in progress or about "
		    "to begin and is marked aborted", (long long)sqlite3_column_int64(ab, 0));
	}
	if (rc == -1)
		return db_fail(db, "recovering batch %lld: aborting its open step", (long long)b->id);
	snprintf(cause, sizeof(cause), "lbld stopped while the batch was %s", b->was);
	if ((db_bind_int(mark, 1, b->id) | db_bind_text(mark, 2, now) |
	    db_bind_text(mark, 3, cause)) != SQLITE_OK || db_run(mark) == -1) {
		db_reset(mark);
		return db_fail(db, "marking batch %lld interrupted", (long long)b->id);
	}
	snprintf(message, sizeof(message), "%s; marked interrupted; last completed step: %d%s",
	    cause, b->last_seq, steps);
	return db_event_insert(db, b->id, now, "fault", NULL, message);
}

int
db_recover(struct db *db, void (*cb)(void *arg, int64_t batch_id, const char *was_state,
    int last_step_seq), void *arg)
{
	const char *what = "recovering batches left open by a crash";
	struct db_open_batch *v = NULL;
	char now[DB_TIME_LEN];
	size_t i, n = 0;

	if (db_begin(db, what) == -1)
		return -1;
	if (db_recover_list(db, &v, &n) == -1)
		goto fail;
	db_now_utc(db, now);
	for (i = 0; i < n; i++)
		if (db_recover_one(db, &v[i], now) == -1)
			goto fail;
	if (db_commit(db, what) == -1) {
		free(v);
		return -1;
	}
	for (i = 0; i < n; i++) {
		log_info("database %s: batch %lld was %s: marked interrupted after step %d",
		    db->path, (long long)v[i].id, v[i].was, v[i].last_seq);
		if (cb != NULL)
			cb(arg, v[i].id, v[i].was, v[i].last_seq);
	}
	free(v);
	return (int)n;
fail:
	free(v);
	db_rollback(db, what);
	return -1;
}
