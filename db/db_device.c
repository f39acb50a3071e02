/*
 * What the devices said, on record beside the plan: the volume a step's
 * pumps counted, and the QCM baselines (the bare crystal's frequency) a
 * batch's thickness is measured from, kept so a resumed batch goes on
 * from the same baseline.
 */
#include <stdio.h>

#include "db_private.h"
#include "log.h"

int
db_step_volume(struct db *db, int64_t batch_id, int seq, double planned_ml, double measured_ml)
{
	char what[96];
	sqlite3_stmt *st;

	snprintf(what, sizeof(what), "recording the volume of step %d of batch %lld", seq,
	    (long long)batch_id);
	st = db_stmt(db, ST_STEP_VOLUME, "UPDATE steps SET volume_planned_ml = ?3, "
	    "volume_measured_ml = ?4 WHERE batch_id = ?1 AND seq = ?2", what);
	if (st == NULL || db_begin(db, what) == -1)
		return -1;
	if ((db_bind_int(st, 1, batch_id) | db_bind_int(st, 2, seq) |
	    db_bind_double(st, 3, planned_ml) | db_bind_double(st, 4, measured_ml)) != SQLITE_OK ||
	    db_run(st) == -1) {
		db_fail(db, "%s", what);
		db_reset(st);
		goto fail;
	}
	if (sqlite3_changes(db->sql) != 1) {
		log_warnx("database %s: %s: the step was not begun", db->path, what);
		goto fail;
	}
	return db_commit(db, what);
fail:
	db_rollback(db, what);
	return -1;
}

int
db_baseline_set(struct db *db, int64_t batch_id, const char *sensor, double hz,
    const char *source)
{
	char what[128], now[DB_TIME_LEN];
	sqlite3_stmt *st;

	snprintf(what, sizeof(what), "recording the baseline of sensor %s of batch %lld", sensor,
	    (long long)batch_id);
	st = db_stmt(db, ST_BASELINE_SET, "INSERT OR REPLACE INTO baselines (batch_id, sensor, "
	    "baseline_hz, source, at) VALUES (?1, ?2, ?3, ?4, ?5)", what);
	if (st == NULL || db_begin(db, what) == -1)
		return -1;
	db_now_utc(db, now);
	if ((db_bind_int(st, 1, batch_id) | db_bind_text(st, 2, sensor) |
	    db_bind_double(st, 3, hz) | db_bind_text(st, 4, source) |
	    db_bind_text(st, 5, now)) != SQLITE_OK || db_run(st) == -1) {
		db_fail(db, "%s", what);
		db_reset(st);
		db_rollback(db, what);
		return -1;
	}
	return db_commit(db, what);
}

int
db_baseline_get(struct db *db, int64_t batch_id, const char *sensor, double *hz)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_BASELINE_GET, "SELECT baseline_hz FROM baselines WHERE batch_id = ?1 "
	    "AND sensor = ?2", "reading a baseline");
	if (st == NULL)
		return -1;
	if ((db_bind_int(st, 1, batch_id) | db_bind_text(st, 2, sensor)) != SQLITE_OK ||
	    (rc = db_row(st)) == -1)
		return db_fail(db, "reading the baseline of sensor %s of batch %lld", sensor,
		    (long long)batch_id);
	if (rc == 1) {
		*hz = db_col_double(st, 0);
		db_reset(st);
	}
	return rc;
}

int
db_baselines(struct db *db, int64_t batch_id,
    int (*cb)(void *arg, const struct db_baseline *row), void *arg)
{
	struct db_baseline b;
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_BASELINES, "SELECT sensor, baseline_hz, source, at FROM baselines "
	    "WHERE batch_id = ?1 ORDER BY sensor", "listing a batch's baselines");
	if (st == NULL)
		return -1;
	if (db_bind_int(st, 1, batch_id) != SQLITE_OK)
		return db_fail(db, "listing the baselines of batch %lld", (long long)batch_id);
	while ((rc = db_row(st)) == 1) {
		b.sensor = db_col_text(st, 0);
		b.hz = db_col_double(st, 1);
		b.source = db_col_text(st, 2);
		b.at = db_col_text(st, 3);
		if (cb(arg, &b) != 0) {
			db_reset(st);
			return 0;
		}
	}
	return rc == -1 ? db_fail(db, "listing the baselines of batch %lld",
	    (long long)batch_id) : 0;
}
