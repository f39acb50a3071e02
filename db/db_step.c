/*
 * Steps on record. The invariants a resume relies on are enforced here, in
 * the same transactions that record the steps: a step is begun only in a
 * running batch and after the last settled one; a settled (done or skipped)
 * step is never begun again; and the batch's last_step_seq moves with the
 * step that settles it.
 */
#include <stdio.h>
#include <string.h>

#include "db_private.h"
#include "log.h"

int
db_batch_progress(struct db *db, int64_t batch_id, char *state, size_t size, int *last_seq)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_BATCH_LAST_STEP, "SELECT state, last_step_seq FROM batches "
	    "WHERE id = ?1", "reading a batch's progress");
	if (st == NULL)
		return -1;
	if (db_bind_int(st, 1, batch_id) != SQLITE_OK || (rc = db_row(st)) == -1)
		return db_fail(db, "reading the progress of batch %lld", (long long)batch_id);
	if (rc == 0)
		return 1;
	snprintf(state, size, "%s", db_col_text(st, 0));
	*last_seq = (int)sqlite3_column_int64(st, 1);
	db_reset(st);
	return 0;
}

int
db_batch_last_step(struct db *db, int64_t batch_id, int *seq)
{
	char state[16];
	int rc;

	if ((rc = db_batch_progress(db, batch_id, state, sizeof(state), seq)) == 1)
		log_warnx("database %s: there is no batch %lld", db->path, (long long)batch_id);
	return rc == 0 ? 0 : -1;
}

/* A step's current outcome and attempts: 0, 1 when it has no row, -1. */
static int
db_step_outcome(struct db *db, int64_t batch_id, int seq, char *outcome, size_t size,
    int *attempts, int64_t *duration_ms)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_STEP_OUTCOME, "SELECT outcome, attempts, actual_duration_ms "
	    "FROM steps WHERE batch_id = ?1 AND seq = ?2", "reading a step's outcome");
	if (st == NULL)
		return -1;
	if ((db_bind_int(st, 1, batch_id) | db_bind_int(st, 2, seq)) != SQLITE_OK ||
	    (rc = db_row(st)) == -1)
		return db_fail(db, "reading step %d of batch %lld", seq, (long long)batch_id);
	if (rc == 0)
		return 1;
	snprintf(outcome, size, "%s", db_col_text(st, 0));
	*attempts = (int)sqlite3_column_int64(st, 1);
	*duration_ms = db_col_int(st, 2, -1);
	db_reset(st);
	return 0;
}

int
db_step_done(struct db *db, int64_t batch_id, int seq)
{
	char outcome[16];
	int64_t duration_ms;
	int attempts, rc;

	rc = db_step_outcome(db, batch_id, seq, outcome, sizeof(outcome), &attempts,
	    &duration_ms);
	if (rc == -1)
		return -1;
	return rc == 0 && (strcmp(outcome, "done") == 0 || strcmp(outcome, "skipped") == 0);
}

/* Binds the columns ST_STEP_INSERT and ST_STEP_RESTART share (?1 .. ?11). */
static int
db_step_bind(sqlite3_stmt *st, int64_t batch_id, const struct db_step *s, const char *now)
{
	return db_bind_int(st, 1, batch_id) | db_bind_int(st, 2, s->seq) |
	    db_bind_int(st, 3, s->bilayer) | db_bind_text(st, 4, s->phase) |
	    db_bind_text(st, 5, s->kind) | db_bind_text(st, 6, s->station) |
	    db_bind_text(st, 7, s->solution) | db_bind_int(st, 8, s->planned_start_ms) |
	    db_bind_int(st, 9, s->planned_duration_ms) | db_bind_text(st, 10, now) |
	    db_bind_int(st, 11, s->actual_start_ms);
}

/* Checks that step s may begin in this batch now; logs why not. */
static int
db_step_may_begin(struct db *db, int64_t batch_id, const struct db_step *s, const char *what)
{
	char state[16];
	int last, rc;

	if ((rc = db_batch_progress(db, batch_id, state, sizeof(state), &last)) == -1)
		return -1;
	if (rc == 1) {
		log_warnx("database %s: %s: there is no such batch", db->path, what);
		return -1;
	}
	if (strcmp(state, "running") != 0) {
		log_warnx("database %s: %s: the batch is %s, not running", db->path, what, state);
		return -1;
	}
	if (s->seq <= last) {
		log_warnx("database %s: %s: steps up to %d are already settled", db->path, what,
		    last);
		return -1;
	}
	return 0;
}

/* Begins again a step that did not settle, keeping a trace of the attempt before. */
static int
db_step_restart(struct db *db, int64_t batch_id, const struct db_step *s, const char *now,
    const char *was, int attempts, int64_t duration_ms, const char *what)
{
	char message[192];
	sqlite3_stmt *st;

	st = db_stmt(db, ST_STEP_RESTART, "UPDATE steps SET bilayer = ?3, phase = ?4, kind = ?5, "
	    "station = ?6, solution = ?7, planned_start_ms = ?8, planned_duration_ms = ?9, "
	    "actual_start_utc = ?10, actual_start_ms = ?11, actual_duration_ms = NULL, "
	    "motion_ms = NULL, dwell_ms = NULL, outcome = 'running', attempts = attempts + 1 "
	    "WHERE batch_id = ?1 AND seq = ?2", what);
	if (st == NULL)
		return -1;
	if (db_step_bind(st, batch_id, s, now) != SQLITE_OK || db_run(st) == -1) {
		db_reset(st);
		return db_fail(db, "%s", what);
	}
	if (duration_ms >= 0)
		snprintf(message, sizeof(message), "step %d begun again (attempt %d); the attempt "
		    "before ended %s after %lld ms", s->seq, attempts + 1, was,
		    (long long)duration_ms);
	else
		snprintf(message, sizeof(message), "step %d begun again (attempt %d); the attempt "
		    "before ended %s", s->seq, attempts + 1, was);
	return db_event_insert(db, batch_id, now, "info", NULL, message);
}

int
db_step_begin(struct db *db, int64_t batch_id, const struct db_step *s)
{
	char now[DB_TIME_LEN], what[96], was[16];
	sqlite3_stmt *st;
	int64_t duration_ms;
	int attempts, rc;

	snprintf(what, sizeof(what), "recording the start of step %d of batch %lld", s->seq,
	    (long long)batch_id);
	st = db_stmt(db, ST_STEP_INSERT, "INSERT INTO steps (batch_id, seq, bilayer, phase, kind, "
	    "station, solution, planned_start_ms, planned_duration_ms, actual_start_utc, "
	    "actual_start_ms, outcome) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'running')", what);
	if (st == NULL || db_begin(db, what) == -1)
		return -1;
	if (db_step_may_begin(db, batch_id, s, what) == -1 ||
	    (rc = db_step_outcome(db, batch_id, s->seq, was, sizeof(was), &attempts,
	    &duration_ms)) == -1)
		goto fail;
	db_now_utc(db, now);
	if (rc == 1) {
		if (db_step_bind(st, batch_id, s, now) != SQLITE_OK || db_run(st) == -1) {
			db_fail(db, "%s", what);
			db_reset(st);
			goto fail;
		}
	} else if (strcmp(was, "done") == 0 || strcmp(was, "skipped") == 0) {
		/* unreachable while last_step_seq is kept; checked all the same */
		log_warnx("database %s: %s: the step is already %s and must not run twice",
		    db->path, what, was);
		goto fail;
	} else if (db_step_restart(db, batch_id, s, now, was, attempts, duration_ms, what) == -1)
		goto fail;
	return db_commit(db, what);
fail:
	db_rollback(db, what);
	return -1;
}

/* Moves the batch's last settled step to seq; refuses to go backwards. */
static int
db_step_advance(struct db *db, int64_t batch_id, int seq, const char *what)
{
	sqlite3_stmt *st;

	st = db_stmt(db, ST_BATCH_ADVANCE, "UPDATE batches SET last_step_seq = ?2 "
	    "WHERE id = ?1 AND last_step_seq < ?2", what);
	if (st == NULL)
		return -1;
	if ((db_bind_int(st, 1, batch_id) | db_bind_int(st, 2, seq)) != SQLITE_OK ||
	    db_run(st) == -1) {
		db_reset(st);
		return db_fail(db, "%s: updating the batch's last step", what);
	}
	if (sqlite3_changes(db->sql) != 1) {
		log_warnx("database %s: %s: the batch has settled a later step already", db->path,
		    what);
		return -1;
	}
	return 0;
}

int
db_step_end(struct db *db, int64_t batch_id, int seq, int64_t actual_start_ms,
    int64_t duration_ms, int64_t motion_ms, int64_t dwell_ms, const char *outcome)
{
	int settles = strcmp(outcome, "done") == 0 || strcmp(outcome, "skipped") == 0;
	char what[96];
	sqlite3_stmt *st;

	snprintf(what, sizeof(what), "recording the end (%s) of step %d of batch %lld", outcome,
	    seq, (long long)batch_id);
	if (strcmp(outcome, "running") == 0) {
		log_warnx("database %s: %s: 'running' is not an end", db->path, what);
		return -1;
	}
	/*
	 * A corrected start moves the UTC stamp by the same offset, converted
	 * from recipe time to real time by the batch's time scale.
	 */
	st = db_stmt(db, ST_STEP_END, "UPDATE steps SET actual_duration_ms = ?3, motion_ms = ?4, "
	    "dwell_ms = ?5, outcome = ?6, actual_start_utc = CASE WHEN ?7 < 0 "
	    "THEN actual_start_utc ELSE strftime('%Y-%m-%dT%H:%M:%fZ', actual_start_utc, "
	    "printf('%+.3f seconds', (?7 - actual_start_ms) / 1000.0 / "
	    "(SELECT time_scale FROM batches WHERE id = ?1))) END, "
	    "actual_start_ms = CASE WHEN ?7 < 0 THEN actual_start_ms ELSE ?7 END "
	    "WHERE batch_id = ?1 AND seq = ?2 AND outcome = 'running'", what);
	if (st == NULL || db_begin(db, what) == -1)
		return -1;
	if ((db_bind_int(st, 1, batch_id) | db_bind_int(st, 2, seq) |
	    db_bind_int(st, 3, duration_ms) | db_bind_int(st, 4, motion_ms) |
	    db_bind_int(st, 5, dwell_ms) | db_bind_text(st, 6, outcome) |
	    db_bind_int(st, 7, actual_start_ms)) != SQLITE_OK ||
	    db_run(st) == -1) {
		db_fail(db, "%s", what);
		db_reset(st);
		goto fail;
	}
	if (sqlite3_changes(db->sql) != 1) {
		log_warnx("database %s: %s: the step was not begun or has ended already", db->path,
		    what);
		goto fail;
	}
	if (settles && db_step_advance(db, batch_id, seq, what) == -1)
		goto fail;
	return db_commit(db, what);
fail:
	db_rollback(db, what);
	return -1;
}

/* Names the first step at or below last that is not settled. */
static int
db_step_first_gap(struct db *db, int64_t batch_id, int last, char *why, size_t why_size)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_STEP_FIRST_GAP, "WITH RECURSIVE n(seq) AS (SELECT 1 UNION ALL "
	    "SELECT seq + 1 FROM n WHERE seq < ?2) SELECT n.seq, s.outcome FROM n LEFT JOIN steps s "
	    "ON s.batch_id = ?1 AND s.seq = n.seq WHERE s.outcome IS NULL "
	    "OR s.outcome NOT IN ('done', 'skipped') ORDER BY n.seq LIMIT 1",
	    "verifying a batch's steps");
	if (st == NULL)
		return -1;
	if ((db_bind_int(st, 1, batch_id) | db_bind_int(st, 2, last)) != SQLITE_OK ||
	    (rc = db_row(st)) == -1)
		return db_fail(db, "finding the first unsettled step of batch %lld",
		    (long long)batch_id);
	if (rc == 1) {
		const char *outcome = db_col_text(st, 1);
		snprintf(why, why_size, "step %lld, before the last settled step %d, %s",
		    (long long)sqlite3_column_int64(st, 0), last,
		    outcome ? outcome : "has no record");
		db_reset(st);
	}
	return rc;
}

int
db_batch_verify_steps(struct db *db, int64_t batch_id, char *why, size_t why_size)
{
	char state[16];
	int64_t settled, beyond, max_seq;
	sqlite3_stmt *st;
	int last, rc;

	snprintf(why, why_size, "consistent");
	if ((rc = db_batch_progress(db, batch_id, state, sizeof(state), &last)) != 0) {
		if (rc == 1)
			snprintf(why, why_size, "there is no batch %lld", (long long)batch_id);
		return rc;
	}
	st = db_stmt(db, ST_STEP_VERIFY, "SELECT count(*) FILTER (WHERE seq <= ?2), "
	    "count(*) FILTER (WHERE seq > ?2), coalesce(max(seq), 0) FROM steps "
	    "WHERE batch_id = ?1 AND outcome IN ('done', 'skipped')", "verifying a batch's steps");
	if (st == NULL)
		return -1;
	if ((db_bind_int(st, 1, batch_id) | db_bind_int(st, 2, last)) != SQLITE_OK ||
	    db_row(st) != 1)
		return db_fail(db, "verifying the steps of batch %lld", (long long)batch_id);
	settled = sqlite3_column_int64(st, 0);
	beyond = sqlite3_column_int64(st, 1);
	max_seq = sqlite3_column_int64(st, 2);
	db_reset(st);
	if (beyond > 0) {
		snprintf(why, why_size, "step %lld is settled beyond the last settled step %d",
		    (long long)max_seq, last);
		return 1;
	}
	if (settled != last)
		return db_step_first_gap(db, batch_id, last, why, why_size) == -1 ? -1 : 1;
	return 0;
}
