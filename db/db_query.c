/*
 * The read side, for lblctl history/show and for resuming: batches with
 * their recipe and rig, and a batch's steps, bilayers, events and solutions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_private.h"
#include "log.h"

#define BATCH_COLS "SELECT b.id, b.recipe_id, b.rig_id, r.name, r.version, r.sha256, g.name, " \
	"b.substrate, b.operator, b.note, b.state, b.started_at, b.ended_at, " \
	"b.bilayers_target, b.bilayers_done, b.thickness_target_nm, b.thickness_estimated_nm, " \
	"b.thickness_measured_nm, b.software_version, b.time_scale, b.failure_cause, " \
	"b.last_step_seq FROM batches b JOIN recipes r ON r.id = b.recipe_id " \
	"JOIN rigs g ON g.id = b.rig_id"

static void
db_batch_fill(sqlite3_stmt *st, struct db_batch *b)
{
	memset(b, 0, sizeof(*b));
	b->id = sqlite3_column_int64(st, 0);
	b->recipe_id = sqlite3_column_int64(st, 1);
	b->rig_id = sqlite3_column_int64(st, 2);
	b->recipe_name = db_col_text(st, 3);
	b->recipe_version = db_col_text(st, 4);
	b->recipe_sha256 = db_col_text(st, 5);
	b->rig_name = db_col_text(st, 6);
	b->substrate = db_col_text(st, 7);
	b->operator_name = db_col_text(st, 8);
	b->note = db_col_text(st, 9);
	b->state = db_col_text(st, 10);
	b->started_at = db_col_text(st, 11);
	b->ended_at = db_col_text(st, 12);
	b->bilayers_target = (int)sqlite3_column_int64(st, 13);
	b->bilayers_done = (int)sqlite3_column_int64(st, 14);
	b->thickness_target_nm = db_col_double(st, 15);
	b->thickness_estimated_nm = db_col_double(st, 16);
	b->thickness_measured_nm = db_col_double(st, 17);
	b->software_version = db_col_text(st, 18);
	b->time_scale = db_col_double(st, 19);
	b->failure_cause = db_col_text(st, 20);
	b->last_step_seq = (int)sqlite3_column_int64(st, 21);
}

int
db_batch_get(struct db *db, int64_t batch_id, struct db_batch *row)
{
	const char **const fields[] = { &row->recipe_name, &row->recipe_version,
		&row->recipe_sha256, &row->rig_name, &row->substrate, &row->operator_name,
		&row->note, &row->state, &row->started_at, &row->ended_at,
		&row->software_version, &row->failure_cause };
	sqlite3_stmt *st;
	int rc;

	memset(row, 0, sizeof(*row));
	st = db_stmt(db, ST_BATCH_GET, BATCH_COLS " WHERE b.id = ?1", "reading a batch");
	if (st == NULL)
		return -1;
	if (db_bind_int(st, 1, batch_id) != SQLITE_OK || (rc = db_row(st)) == -1)
		return db_fail(db, "reading batch %lld", (long long)batch_id);
	if (rc == 0)
		return 1;
	db_batch_fill(st, row);
	row->mem_ = db_own_strings(fields, NULL, sizeof(fields) / sizeof(fields[0]));
	db_reset(st);
	if (row->mem_ == NULL) {
		memset(row, 0, sizeof(*row));
		db_error_set(db, "database %s: reading batch %lld: out of "
		    "memory", db->path, (long long)batch_id);
		log_warnx("%s", db->error);
		return -1;
	}
	return 0;
}

void
db_batch_row_free(struct db_batch *row)
{
	free(row->mem_);
	memset(row, 0, sizeof(*row));
}

/* The filters of db_history, one bit each, in parameter order ?1 .. ?5. */
enum { HF_RECIPE = 1, HF_SUBSTRATE = 2, HF_STATE = 4, HF_SINCE = 8, HF_BEFORE = 16 };

/* The history query for one combination of filters, prepared once per combination. */
static sqlite3_stmt *
db_history_stmt(struct db *db, unsigned mask)
{
	static const char *const terms[] = {
		" AND b.recipe_id IN (SELECT id FROM recipes WHERE name = ?1)",
		" AND b.substrate = ?2", " AND b.state = ?3", " AND b.started_at >= ?4",
		" AND b.started_at < ?5",
	};
	char sql[1024];
	size_t i, len;

	if (db->stmt[ST_HISTORY + mask] != NULL)
		return db->stmt[ST_HISTORY + mask];
	len = (size_t)snprintf(sql, sizeof(sql), "%s WHERE 1", BATCH_COLS);
	for (i = 0; i < sizeof(terms) / sizeof(terms[0]); i++)
		if (mask & (1u << i))
			len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s", terms[i]);
	snprintf(sql + len, sizeof(sql) - len, " ORDER BY b.started_at DESC, b.id DESC LIMIT ?6");
	return db_stmt(db, ST_HISTORY + mask, sql, "listing the batch history");
}

int
db_history(struct db *db, const struct db_history_filter *f,
    int (*cb)(void *arg, const struct db_batch *row), void *arg)
{
	const char *values[] = { f->recipe, f->substrate, f->state, f->since, f->before };
	struct db_batch row;
	sqlite3_stmt *st;
	unsigned mask = 0, i;
	int rc = SQLITE_OK;

	for (i = 0; i < 5; i++)
		if (values[i] != NULL)
			mask |= 1u << i;
	if ((st = db_history_stmt(db, mask)) == NULL)
		return -1;
	for (i = 0; i < 5; i++)
		if (values[i] != NULL)
			rc |= db_bind_text(st, (int)i + 1, values[i]);
	rc |= db_bind_int(st, 6, f->limit > 0 ? f->limit : -1);
	if (rc != SQLITE_OK) {
		db_reset(st);
		return db_fail(db, "listing the batch history");
	}
	while ((rc = db_row(st)) == 1) {
		db_batch_fill(st, &row);
		if (cb(arg, &row) != 0) {
			db_reset(st);
			return 0;
		}
	}
	return rc == -1 ? db_fail(db, "listing the batch history") : 0;
}

int
db_steps(struct db *db, int64_t batch_id, int (*cb)(void *arg, const struct db_step *row),
    void *arg)
{
	struct db_step s;
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_STEPS, "SELECT seq, bilayer, phase, kind, station, solution, "
	    "planned_start_ms, planned_duration_ms, actual_start_ms, actual_start_utc, outcome, "
	    "actual_duration_ms, motion_ms, dwell_ms, attempts, volume_planned_ml, "
	    "volume_measured_ml FROM steps WHERE batch_id = ?1 "
	    "ORDER BY seq", "listing a batch's steps");
	if (st == NULL)
		return -1;
	if (db_bind_int(st, 1, batch_id) != SQLITE_OK)
		return db_fail(db, "listing the steps of batch %lld", (long long)batch_id);
	while ((rc = db_row(st)) == 1) {
		s.seq = (int)sqlite3_column_int64(st, 0);
		s.bilayer = (int)sqlite3_column_int64(st, 1);
		s.phase = db_col_text(st, 2);
		s.kind = db_col_text(st, 3);
		s.station = db_col_text(st, 4);
		s.solution = db_col_text(st, 5);
		s.planned_start_ms = sqlite3_column_int64(st, 6);
		s.planned_duration_ms = sqlite3_column_int64(st, 7);
		s.actual_start_ms = sqlite3_column_int64(st, 8);
		s.actual_start_utc = db_col_text(st, 9);
		s.outcome = db_col_text(st, 10);
		s.actual_duration_ms = db_col_int(st, 11, -1);
		s.motion_ms = db_col_int(st, 12, -1);
		s.dwell_ms = db_col_int(st, 13, -1);
		s.attempts = (int)sqlite3_column_int64(st, 14);
		s.volume_planned_ml = db_col_double(st, 15);
		s.volume_measured_ml = db_col_double(st, 16);
		if (cb(arg, &s) != 0) {
			db_reset(st);
			return 0;
		}
	}
	return rc == -1 ? db_fail(db, "listing the steps of batch %lld", (long long)batch_id) : 0;
}

int
db_bilayers(struct db *db, int64_t batch_id,
    int (*cb)(void *arg, const struct db_bilayer *row), void *arg)
{
	struct db_bilayer b;
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_BILAYERS, "SELECT n, ended_at, thickness_estimated_nm, "
	    "thickness_measured_nm FROM bilayers WHERE batch_id = ?1 ORDER BY n",
	    "listing a batch's bilayers");
	if (st == NULL)
		return -1;
	if (db_bind_int(st, 1, batch_id) != SQLITE_OK)
		return db_fail(db, "listing the bilayers of batch %lld", (long long)batch_id);
	while ((rc = db_row(st)) == 1) {
		b.n = (int)sqlite3_column_int64(st, 0);
		b.ended_at = db_col_text(st, 1);
		b.thickness_estimated_nm = db_col_double(st, 2);
		b.thickness_measured_nm = db_col_double(st, 3);
		if (cb(arg, &b) != 0) {
			db_reset(st);
			return 0;
		}
	}
	return rc == -1 ? db_fail(db, "listing the bilayers of batch %lld", (long long)batch_id) :
	    0;
}

/* An events row as selected "id, batch_id, at, kind, device, message". */
static void
db_event_row(sqlite3_stmt *st, struct db_event *e)
{
	e->id = sqlite3_column_int64(st, 0);
	e->batch_id = db_col_int(st, 1, 0);
	e->at = db_col_text(st, 2);
	e->kind = db_col_text(st, 3);
	e->device = db_col_text(st, 4);
	e->message = db_col_text(st, 5);
}

int
db_events(struct db *db, int64_t batch_id, int (*cb)(void *arg, const struct db_event *row),
    void *arg)
{
	struct db_event e;
	sqlite3_stmt *st;
	int rc;

	if (batch_id > 0)
		st = db_stmt(db, ST_EVENTS, "SELECT id, batch_id, at, kind, device, message "
		    "FROM events WHERE batch_id = ?1 ORDER BY id", "listing a batch's events");
	else
		st = db_stmt(db, ST_EVENTS_NONE, "SELECT id, batch_id, at, kind, device, message "
		    "FROM events WHERE batch_id IS NULL ORDER BY id", "listing events");
	if (st == NULL)
		return -1;
	if (batch_id > 0 && db_bind_int(st, 1, batch_id) != SQLITE_OK)
		return db_fail(db, "listing the events of batch %lld", (long long)batch_id);
	while ((rc = db_row(st)) == 1) {
		db_event_row(st, &e);
		if (cb(arg, &e) != 0) {
			db_reset(st);
			return 0;
		}
	}
	return rc == -1 ? db_fail(db, "listing the events of batch %lld", (long long)batch_id) :
	    0;
}

int
db_solutions(struct db *db, int64_t batch_id,
    int (*cb)(void *arg, const struct db_solution *row), void *arg)
{
	struct db_solution s;
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_SOLUTIONS, "SELECT name, lot, dips, volume_ml, area_cm2 "
	    "FROM solutions WHERE batch_id = ?1 ORDER BY name", "listing a batch's solutions");
	if (st == NULL)
		return -1;
	if (db_bind_int(st, 1, batch_id) != SQLITE_OK)
		return db_fail(db, "listing the solutions of batch %lld", (long long)batch_id);
	while ((rc = db_row(st)) == 1) {
		s.name = db_col_text(st, 0);
		s.lot = db_col_text(st, 1);
		s.dips = (int)sqlite3_column_int64(st, 2);
		s.volume_ml = db_col_double(st, 3);
		s.area_cm2 = db_col_double(st, 4);
		if (cb(arg, &s) != 0) {
			db_reset(st);
			return 0;
		}
	}
	return rc == -1 ? db_fail(db, "listing the solutions of batch %lld", (long long)batch_id) :
	    0;
}

int
db_solution_get(struct db *db, int64_t batch_id, const char *name, int *dips,
    double *volume_ml, double *area_cm2)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_SOLUTION_GET, "SELECT dips, volume_ml, area_cm2 FROM solutions "
	    "WHERE batch_id = ?1 AND name = ?2", "reading a solution's use");
	if (st == NULL)
		return -1;
	if ((db_bind_int(st, 1, batch_id) | db_bind_text(st, 2, name)) != SQLITE_OK ||
	    (rc = db_row(st)) == -1) {
		db_reset(st);
		return db_fail(db, "reading the use of solution %s in batch %lld", name,
		    (long long)batch_id);
	}
	if (rc == 0)
		return 1;
	*dips = (int)sqlite3_column_int64(st, 0);
	*volume_ml = db_col_double(st, 1);
	*area_cm2 = db_col_double(st, 2);
	db_reset(st);
	return 0;
}

/*
 * After each commit of lbld's handle: tells on_event of the events the
 * commit put on record. SQLite calls this once the commit is done and the
 * write lock released, so reading here is allowed and sees exactly what
 * was committed; a rolled-back write never gets here.
 */
static int
db_wal_hook(void *arg, sqlite3 *sql, const char *name, int pages)
{
	struct db *db = arg;
	struct db_event e;
	sqlite3_stmt *st;
	int rc;

	/*
	 * Under db_no_wait the commit is in the log and not yet on the disk:
	 * its sync is asked of the thread first, then a checkpoint, which the
	 * thread does after the syncs asked for.
	 */
	if (db->no_wait)
		db_syncer_ask(db);
	/*
	 * A checkpoint writes the log's pages into the database and syncs
	 * both: where the syncer runs, it does it beside the caller, which
	 * never waits for it; else here, as SQLite's own would (the commits
	 * of such a handle wait for the disk anyway).
	 */
	if (pages >= DB_WAL_CHECKPOINT_PAGES && db_syncer_checkpoint(db) == -1 &&
	    sqlite3_wal_checkpoint_v2(sql, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) !=
	    SQLITE_OK && sqlite3_errcode(sql) != SQLITE_BUSY)
		db_fail(db, "checkpointing the write-ahead log");
	if (db->on_event == NULL)
		return SQLITE_OK;
	st = db_stmt(db, ST_EVENTS_AFTER, "SELECT id, batch_id, at, kind, device, message "
	    "FROM events WHERE id > ?1 ORDER BY id", "reading the events just committed");
	if (st == NULL || db_bind_int(st, 1, db->told_event_id) != SQLITE_OK) {
		db_fail(db, "reading the events after %lld", (long long)db->told_event_id);
		return SQLITE_OK;
	}
	while ((rc = db_row(st)) == 1) {
		db_event_row(st, &e);
		db->told_event_id = e.id;
		db->on_event(db->on_event_arg, &e);
	}
	if (rc == -1)
		db_fail(db, "reading the events after %lld", (long long)db->told_event_id);
	return SQLITE_OK;
}

int
db_on_event(struct db *db, void (*cb)(void *arg, const struct db_event *row), void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if (cb == NULL) {
		db->on_event = NULL;	/* the hook stays: it checkpoints (db_wal_hook_install) */
		return 0;
	}
	if ((st = db_stmt(db, ST_EVENTS_LAST, "SELECT coalesce(max(id), 0) FROM events",
	    "reading the last event's id")) == NULL)
		return -1;
	if ((rc = db_row(st)) != 1)
		return rc == -1 ? db_fail(db, "reading the last event's id") : -1;
	db->told_event_id = sqlite3_column_int64(st, 0);
	db_reset(st);
	db->on_event = cb;
	db->on_event_arg = arg;
	return 0;
}

void
db_wal_hook_install(struct db *db)
{
	sqlite3_wal_hook(db->sql, db_wal_hook, db);
}
