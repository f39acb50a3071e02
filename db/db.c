/*
 * Opening the database: connection settings, and the schema's migrations,
 * each taking PRAGMA user_version from its index to the next, in one
 * transaction. A migration, once released, is never edited: changes to the
 * schema are new entries appended to the array.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db_private.h"
#include "log.h"

static const char *const db_migrations[DB_SCHEMA_VERSION] = {
	/* 0 -> 1: the record of recipes, rigs, batches and everything a batch did */
	"CREATE TABLE recipes ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  version TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),"
	"  yaml TEXT NOT NULL,"
	"  added_at TEXT NOT NULL);"
	"CREATE TABLE rigs ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),"
	"  yaml TEXT NOT NULL,"
	"  added_at TEXT NOT NULL);"
	"CREATE TABLE batches ("
	"  id INTEGER PRIMARY KEY,"
	"  recipe_id INTEGER NOT NULL REFERENCES recipes(id),"
	"  rig_id INTEGER NOT NULL REFERENCES rigs(id),"
	"  substrate TEXT,"
	"  operator TEXT,"
	"  note TEXT,"
	"  state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'completed', 'aborted',"
	"    'failed', 'interrupted')),"
	"  started_at TEXT NOT NULL,"
	"  ended_at TEXT,"
	"  bilayers_target INTEGER NOT NULL CHECK (bilayers_target >= 0),"
	"  bilayers_done INTEGER NOT NULL DEFAULT 0 CHECK (bilayers_done >= 0),"
	"  thickness_target_nm REAL,"
	"  thickness_estimated_nm REAL,"
	"  thickness_measured_nm REAL,"
	"  software_version TEXT NOT NULL,"
	"  time_scale REAL NOT NULL DEFAULT 1 CHECK (time_scale > 0),"
	"  failure_cause TEXT,"
	"  last_step_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_step_seq >= 0));"
	"CREATE TABLE steps ("
	"  batch_id INTEGER NOT NULL REFERENCES batches(id),"
	"  seq INTEGER NOT NULL CHECK (seq >= 1),"
	"  bilayer INTEGER NOT NULL,"
	"  phase TEXT NOT NULL CHECK (phase IN ('pre', 'cycle', 'post', 'checkpoint')),"
	"  kind TEXT NOT NULL,"
	"  station TEXT,"
	"  solution TEXT,"
	"  planned_start_ms INTEGER NOT NULL,"
	"  planned_duration_ms INTEGER NOT NULL,"
	"  actual_start_utc TEXT NOT NULL,"
	"  actual_start_ms INTEGER NOT NULL,"
	"  actual_duration_ms INTEGER,"
	"  motion_ms INTEGER,"
	"  dwell_ms INTEGER,"
	"  outcome TEXT NOT NULL CHECK (outcome IN ('running', 'done', 'failed', 'skipped',"
	"    'aborted')),"
	"  attempts INTEGER NOT NULL DEFAULT 1,"
	"  PRIMARY KEY (batch_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE bilayers ("
	"  batch_id INTEGER NOT NULL REFERENCES batches(id),"
	"  n INTEGER NOT NULL CHECK (n >= 1),"
	"  ended_at TEXT NOT NULL,"
	"  thickness_estimated_nm REAL,"
	"  thickness_measured_nm REAL,"
	"  PRIMARY KEY (batch_id, n)) WITHOUT ROWID;"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  batch_id INTEGER REFERENCES batches(id),"
	"  at TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('fault', 'pause', 'resume', 'prompt', 'continue',"
	"    'abort', 'estop', 'interlock', 'operator', 'info')),"
	"  device TEXT,"
	"  message TEXT NOT NULL);"
	"CREATE INDEX events_batch ON events(batch_id, id);"
	"CREATE TABLE solutions ("
	"  batch_id INTEGER NOT NULL REFERENCES batches(id),"
	"  name TEXT NOT NULL,"
	"  lot TEXT,"
	"  dips INTEGER NOT NULL DEFAULT 0 CHECK (dips >= 0),"
	"  volume_ml REAL,"
	"  area_cm2 REAL,"
	"  PRIMARY KEY (batch_id, name)) WITHOUT ROWID;",

	/* 1 -> 2: indexes for the read side (history filters, recipe look-ups) */
	"CREATE INDEX recipes_name ON recipes(name, id);"
	"CREATE INDEX batches_started ON batches(started_at, id);"
	"CREATE INDEX batches_recipe ON batches(recipe_id, started_at, id);"
	"CREATE INDEX batches_substrate ON batches(substrate, started_at, id);"
	"CREATE INDEX batches_state ON batches(state, started_at, id);"
	"CREATE INDEX batches_rig ON batches(rig_id);",

	/*
	 * 2 -> 3: what the devices said: the volume a step's pumps counted
	 * beside the plan's, and the QCM baselines thickness is measured from
	 */
	"ALTER TABLE steps ADD COLUMN volume_planned_ml REAL;"
	"ALTER TABLE steps ADD COLUMN volume_measured_ml REAL;"
	"CREATE TABLE baselines ("
	"  batch_id INTEGER NOT NULL REFERENCES batches(id),"
	"  sensor TEXT NOT NULL,"
	"  baseline_hz REAL NOT NULL CHECK (baseline_hz > 0),"
	"  source TEXT NOT NULL,"
	"  at TEXT NOT NULL,"
	"  PRIMARY KEY (batch_id, sensor)) WITHOUT ROWID;",

	/*
	 * 3 -> 4: recipe management. A retired recipe version stays for the
	 * batches that ran it (history, show, export) but is no longer run:
	 * retired_at is when it was retired, NULL while runnable. Databases
	 * from before may hold several texts under one name and version (lbl
	 * then stored an edit silently): they are all kept as they are, and
	 * from now on db_recipe_store refuses a second text, so no UNIQUE
	 * constraint (which the old rows could break) is added.
	 */
	"ALTER TABLE recipes ADD COLUMN retired_at TEXT;"
	"CREATE INDEX recipes_version ON recipes(name, version, id);",
};

/* Runs SQL text that returns no rows, outside the statement cache. */
static int
db_exec(struct db *db, const char *sql, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(db->sql, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("database %s: %s: %s", db->path, what, msg ? msg : "unknown error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Reads a PRAGMA that returns one value as text into out. */
static int
db_pragma_text(struct db *db, const char *sql, char *out, size_t size, const char *what)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, "%s", what);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return db_fail(db, "%s", what);
	}
	snprintf(out, size, "%s", sqlite3_column_text(st, 0) ?
	    (const char *)sqlite3_column_text(st, 0) : "");
	sqlite3_finalize(st);
	return 0;
}

static int
db_user_version(struct db *db, int *version)
{
	char text[32];

	if (db_pragma_text(db, "PRAGMA user_version", text, sizeof(text),
	    "reading the schema version") == -1)
		return -1;
	*version = atoi(text);
	return 0;
}

/* Applies migration v (v -> v + 1) unless another process did meanwhile. */
static int
db_migrate_one(struct db *db, int v)
{
	char sql[64], what[64];
	int now;

	snprintf(what, sizeof(what), "migrating the schema from version %d to %d", v, v + 1);
	if (db_exec(db, "BEGIN IMMEDIATE", what) == -1)
		return -1;
	if (db_user_version(db, &now) == -1)
		goto fail;
	if (now > v) {
		/* another process migrated while we waited for the lock */
		return db_exec(db, "COMMIT", what);
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
	if (db_exec(db, db_migrations[v], what) == -1 || db_exec(db, sql, what) == -1 ||
	    db_exec(db, "COMMIT", what) == -1)
		goto fail;
	log_info("database %s: schema migrated from version %d to %d", db->path, v, v + 1);
	return 0;
fail:
	if (!sqlite3_get_autocommit(db->sql))
		db_exec(db, "ROLLBACK", what);
	return -1;
}

static int
db_migrate(struct db *db, int target)
{
	int v;

	if (db_user_version(db, &v) == -1)
		return -1;
	if (v < 0) {
		log_warnx("database %s has schema version %d, which no lbl ever wrote: refusing "
		    "to use it", db->path, v);
		return -1;
	}
	if (v > DB_SCHEMA_VERSION) {
		log_warnx("database %s has schema version %d, newer than this lbl understands "
		    "(%d): refusing to use it; run the lbl release that wrote it, or a later one",
		    db->path, v, DB_SCHEMA_VERSION);
		return -1;
	}
	for (; v < target; v++)
		if (db_migrate_one(db, v) == -1)
			return -1;
	return 0;
}

/* Connection settings; journal_mode is also the first read of the file. */
static int
db_configure(struct db *db)
{
	char mode[16];

	if (sqlite3_db_readonly(db->sql, "main") == 1) {
		log_warnx("database %s is read-only: lbl must be able to write its record",
		    db->path);
		return -1;
	}
	if (sqlite3_busy_timeout(db->sql, DB_BUSY_TIMEOUT_MS) != SQLITE_OK)
		return db_fail(db, "setting the busy timeout");
	/*
	 * Footprint on a Pi: SQLite's default page cache (up to 2 MB, which one
	 * history query over years of batches fills and then keeps) is sized
	 * for desktops. lbld commits a few rows per step; the kernel's page
	 * cache serves the rest.
	 */
	if (db_exec(db, "PRAGMA cache_size = -" DB_CACHE_KIB, "sizing the page cache") == -1)
		return -1;
	if (db_pragma_text(db, "PRAGMA journal_mode = WAL", mode, sizeof(mode),
	    "switching to write-ahead logging") == -1)
		return -1;
	if (strcmp(mode, "wal") != 0) {
		log_warnx("database %s: the journal mode stayed '%s', not 'wal'", db->path, mode);
		return -1;
	}
	if (db_exec(db, "PRAGMA synchronous = FULL", "setting synchronous=FULL") == -1 ||
	    db_exec(db, "PRAGMA foreign_keys = ON", "enabling foreign keys") == -1)
		return -1;
	return 0;
}

/*
 * A new handle on path opened with SQLite's flags, extended result codes
 * on; NULL (logged, how naming what the opening was for) on failure. The
 * record is a regular file: SQLite would open /dev/null and put a
 * world-writable "-journal" beside it, or block on a FIFO.
 */
static struct db *
db_connect(const char *path, int flags, const char *how)
{
	struct stat st;
	struct db *db;
	int rc, sys;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		log_warnx("database %s: not a regular file", path);
		return NULL;
	}
	if ((db = calloc(1, sizeof(*db))) == NULL || (db->path = strdup(path)) == NULL) {
		log_warn("database %s", path);
		free(db);
		return NULL;
	}
	rc = sqlite3_open_v2(path, &db->sql, flags, NULL);
	if (rc != SQLITE_OK) {
		sys = db->sql ? sqlite3_system_errno(db->sql) : 0;
		log_warnx("database %s: cannot open%s: %s%s%s", path, how,
		    db->sql ? sqlite3_errmsg(db->sql) : sqlite3_errstr(rc), sys ? ": " : "",
		    sys ? strerror(sys) : "");
		db_close(db);
		return NULL;
	}
	sqlite3_extended_result_codes(db->sql, 1);
	return db;
}

int
db_open_version(const char *path, int target_version, struct db **dbp)
{
	struct db *db;

	*dbp = NULL;
	if (target_version < 0 || target_version > DB_SCHEMA_VERSION) {
		log_warnx("database %s: no schema version %d", path, target_version);
		return -1;
	}
	if ((db = db_connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "")) == NULL)
		return -1;
	if (db_configure(db) == -1 || db_migrate(db, target_version) == -1) {
		db_close(db);
		return -1;
	}
	db_wal_hook_install(db);
	*dbp = db;
	return 0;
}

int
db_open_readonly(const char *path, struct db **dbp)
{
	struct db *db;
	int v;

	*dbp = NULL;
	if ((db = db_connect(path, SQLITE_OPEN_READONLY, " for reading")) == NULL)
		return -1;
	if (sqlite3_busy_timeout(db->sql, DB_BUSY_TIMEOUT_MS) != SQLITE_OK) {
		db_fail(db, "setting the busy timeout");
		goto fail;
	}
	/* the same small page cache as the writer's (see db_configure) */
	if (db_exec(db, "PRAGMA cache_size = -" DB_CACHE_KIB, "sizing the page cache") == -1 ||
	    db_exec(db, "PRAGMA query_only = 1", "making the connection read-only") == -1 ||
	    db_user_version(db, &v) == -1)
		goto fail;
	if (v != DB_SCHEMA_VERSION) {
		log_warnx("database %s has schema version %d, not %d: not reading it", path, v,
		    DB_SCHEMA_VERSION);
		goto fail;
	}
	*dbp = db;
	return 0;
fail:
	db_close(db);
	return -1;
}

int
db_open(const char *path, struct db **dbp)
{
	return db_open_version(path, DB_SCHEMA_VERSION, dbp);
}

int
db_schema_columns(int (*cb)(void *arg, const struct db_column *col), void *arg)
{
	static const char sql[] =
	    "SELECT m.name, p.name, p.type, p.\"notnull\", p.pk "
	    "FROM sqlite_schema m, pragma_table_info(m.name) p "
	    "WHERE m.type = 'table' ORDER BY m.rowid, p.cid";
	struct db db;
	sqlite3_stmt *st = NULL;
	int v, rc = 0, step;

	memset(&db, 0, sizeof(db));
	db.path = (char *)":memory: (the schema's description)";
	if (sqlite3_open_v2(":memory:", &db.sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    NULL) != SQLITE_OK) {
		log_warnx("describing the schema: cannot open an in-memory database: %s",
		    db.sql ? sqlite3_errmsg(db.sql) : "out of memory");
		sqlite3_close(db.sql);
		return -1;
	}
	for (v = 0; v < DB_SCHEMA_VERSION; v++)
		if (db_exec(&db, db_migrations[v], "describing the schema") == -1) {
			rc = -1;
			goto out;
		}
	if (sqlite3_prepare_v2(db.sql, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(&db, "listing the schema's columns");
		goto out;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_column col = {
			(const char *)sqlite3_column_text(st, 0),
			(const char *)sqlite3_column_text(st, 1),
			(const char *)sqlite3_column_text(st, 2),
			sqlite3_column_int(st, 3), sqlite3_column_int(st, 4),
		};
		if ((rc = cb(arg, &col)) != 0)
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = db_fail(&db, "listing the schema's columns");
out:
	sqlite3_finalize(st);
	sqlite3_close(db.sql);
	return rc;
}

void
db_close(struct db *db)
{
	int i;

	if (db == NULL)
		return;
	db_syncer_stop(db);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(db->stmt[i]);
	if (db->sql != NULL && sqlite3_close(db->sql) != SQLITE_OK)
		log_warnx("database %s: closing: %s", db->path, sqlite3_errmsg(db->sql));
	free(db->path);
	free(db);
}
