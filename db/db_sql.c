/*
 * Statement cache, binding and error-reporting helpers shared by the db
 * modules. Every SQLite failure is logged once, with the work it was for.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_private.h"
#include "log.h"

void
db_error_set(struct db *db, const char *fmt, ...)
{
	va_list ap;
	size_t len;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(db->error, sizeof(db->error), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n < sizeof(db->error))
		return;
	/* cut (a very long path): never inside a UTF-8 character, and said so */
	len = sizeof(db->error) - 4;
	while (len > 0 && ((unsigned char)db->error[len] & 0xc0) == 0x80)
		len--;
	memcpy(db->error + len, "...", 4);
}

int
db_fail(struct db *db, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	db_error_set(db, "database %s: %s: %s", db->path, what, sqlite3_errmsg(db->sql));
	log_warnx("%s", db->error);
	return -1;
}

const char *
db_error(const struct db *db)
{
	return db->error[0] ? db->error : "database: an unknown failure (see the log)";
}

sqlite3_stmt *
db_stmt(struct db *db, enum db_stmt_id id, const char *sql, const char *purpose)
{
	if (db->stmt[id] == NULL && sqlite3_prepare_v3(db->sql, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, &db->stmt[id], NULL) != SQLITE_OK) {
		db_fail(db, "preparing the statement for %s", purpose);
		db->stmt[id] = NULL;
		return NULL;
	}
	return db->stmt[id];
}

void
db_reset(sqlite3_stmt *st)
{
	/* reset repeats the last step's error, which its caller has already seen */
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int
db_run(sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	db_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
db_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	db_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

int
db_bind_double(sqlite3_stmt *st, int i, double v)
{
	return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

int
db_bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	return sqlite3_bind_int64(st, i, v);
}

const char *
db_col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

double
db_col_double(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int64_t
db_col_int(sqlite3_stmt *st, int i, int64_t dflt)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? dflt : sqlite3_column_int64(st, i);
}

int
db_begin(struct db *db, const char *what)
{
	sqlite3_stmt *st;

	if (db->group_open)
		st = db_stmt(db, ST_SAVEPOINT, "SAVEPOINT db_write", "starting a savepoint");
	else
		st = db_stmt(db, ST_BEGIN, "BEGIN IMMEDIATE", "starting a transaction");
	if (st == NULL)
		return -1;
	if (db_run(st) == -1)
		return db_fail(db, "starting the transaction for %s", what);
	return 0;
}

int
db_commit(struct db *db, const char *what)
{
	sqlite3_stmt *st;

	if (db->group_open)
		st = db_stmt(db, ST_RELEASE, "RELEASE db_write", "releasing a savepoint");
	else
		st = db_stmt(db, ST_COMMIT, "COMMIT", "committing a transaction");
	if (st == NULL) {
		db_rollback(db, what);
		return -1;
	}
	if (db_run(st) == -1) {
		db_fail(db, "committing %s", what);
		db_rollback(db, what);
		return -1;
	}
	return 0;
}

void
db_rollback(struct db *db, const char *what)
{
	sqlite3_stmt *st;

	/* SQLite may already have rolled back on its own (e.g. on SQLITE_FULL) */
	if (sqlite3_get_autocommit(db->sql))
		return;
	if (db->group_open) {
		/* undo this write only; the savepoint is then released, empty */
		st = db_stmt(db, ST_ROLLBACK_TO, "ROLLBACK TO db_write", "rolling back a savepoint");
		if (st != NULL && db_run(st) == -1)
			db_fail(db, "rolling back %s", what);
		st = db_stmt(db, ST_RELEASE, "RELEASE db_write", "releasing a savepoint");
		if (st != NULL && db_run(st) == -1)
			db_fail(db, "releasing the savepoint of %s", what);
		return;
	}
	st = db_stmt(db, ST_ROLLBACK, "ROLLBACK", "rolling back a transaction");
	if (st != NULL && db_run(st) == -1)
		db_fail(db, "rolling back %s", what);
}

int
db_group_begin(struct db *db)
{
	if (db->group_open) {
		log_warnx("database %s: a group of writes is open already", db->path);
		return -1;
	}
	if (db_begin(db, "a group of writes") == -1)
		return -1;
	db->group_open = 1;
	return 0;
}

int
db_group_try_begin(struct db *db)
{
	sqlite3_stmt *st;
	int rc;

	if (db->group_open) {
		log_warnx("database %s: a group of writes is open already", db->path);
		return -1;
	}
	if ((st = db_stmt(db, ST_BEGIN, "BEGIN IMMEDIATE", "starting a transaction")) == NULL)
		return -1;
	rc = sqlite3_step(st);
	db_reset(st);
	if (rc == SQLITE_DONE) {
		db->group_open = 1;
		return 0;
	}
	/* another connection holds the write lock: not an error, try later */
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return 1;
	return db_fail(db, "starting the transaction for a group of writes");
}

void
db_group_rollback(struct db *db)
{
	sqlite3_stmt *st;

	if (!db->group_open)
		return;
	db->group_open = 0;
	if (!sqlite3_get_autocommit(db->sql)) {
		st = db_stmt(db, ST_ROLLBACK, "ROLLBACK", "rolling back a transaction");
		if (st != NULL && db_run(st) == -1)
			db_fail(db, "rolling back a group of writes");
	}
}

void
db_set_clock(struct db *db, const char *utc)
{
	if (utc == NULL)
		db->clock_utc[0] = '\0';
	else
		snprintf(db->clock_utc, sizeof(db->clock_utc), "%s", utc);
}

void
db_utc_now(char out[DB_UTC_LEN])
{
	struct db db;

	memset(&db, 0, sizeof(db));
	db_now_utc(&db, out);
}

int
db_set_busy_timeout(struct db *db, int timeout_ms)
{
	if (sqlite3_busy_timeout(db->sql, timeout_ms) != SQLITE_OK)
		return db_fail(db, "setting the busy timeout to %d ms", timeout_ms);
	return 0;
}

int
db_group_commit(struct db *db)
{
	int rc;

	if (!db->group_open)
		return 0;
	db->group_open = 0;
	if (sqlite3_get_autocommit(db->sql)) {
		/* SQLite rolled the whole group back on an I/O error or a full disk */
		log_warnx("database %s: a group of writes was rolled back by an earlier error",
		    db->path);
		rc = -1;
	} else {
		rc = db_commit(db, "a group of writes");
	}
	return rc;
}

void
db_now_utc(struct db *db, char out[DB_TIME_LEN])
{
	struct timespec ts;
	struct tm tm;
	size_t len;

	if (db->clock_utc[0] != '\0') {
		memcpy(out, db->clock_utc, DB_TIME_LEN);
		return;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(out, DB_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + len, DB_TIME_LEN - len, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

void *
db_own_strings(const char **const *fields, const size_t *lens, size_t n)
{
	size_t i, total = 0;
	char *block, *p;

	for (i = 0; i < n; i++)
		if (*fields[i] != NULL)
			total += (lens ? lens[i] : strlen(*fields[i])) + 1;
	if ((block = malloc(total ? total : 1)) == NULL) {
		log_warn("copying a database row");
		return NULL;
	}
	for (p = block, i = 0; i < n; i++) {
		size_t len;

		if (*fields[i] == NULL)
			continue;
		len = lens ? lens[i] : strlen(*fields[i]);
		memcpy(p, *fields[i], len);
		p[len] = '\0';
		*fields[i] = p;
		p += len + 1;
	}
	return block;
}
