/*
 * db_schema_columns, the local schema's description that lbl-sync makes
 * its central tables from: it must be the schema db_open writes, table by
 * table and column by column (name, declared type, NOT NULL, place in the
 * primary key), as PRAGMA table_info reads it back from a real file; and a
 * callback's stop is passed back.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "test.h"

struct desc {
	char text[16384];
	size_t len;
	int columns, stop_after;
};

static int
describe(void *arg, const struct db_column *c)
{
	struct desc *d = arg;

	d->len += (size_t)snprintf(d->text + d->len, sizeof(d->text) - d->len, "%s.%s %s %d %d\n",
	    c->table, c->name, c->type, c->notnull, c->pk);
	d->columns++;
	return d->stop_after && d->columns == d->stop_after ? 7 : 0;
}

int
main(void)
{
	char path[] = "/tmp/lbl-test-schema.XXXXXX", file[64];
	struct desc want = { .len = 0 }, got = { .len = 0 }, stopped = { .len = 0 };
	struct db *db;
	sqlite3 *sql;
	sqlite3_stmt *st;
	int fd;

	log_init("test_db_schema", 3);
	if ((fd = mkstemp(path)) == -1)
		return 1;
	close(fd);
	unlink(path);
	snprintf(file, sizeof(file), "%s", path);
	TEST_EQ_INT("db_open makes a database", db_open(file, &db), 0);
	db_close(db);

	/* what the file holds, read back by SQLite itself */
	if (sqlite3_open_v2(file, &sql, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(sql, "SELECT m.name, p.name, p.type, p.\"notnull\", p.pk FROM "
	    "sqlite_schema m, pragma_table_info(m.name) p WHERE m.type = 'table' "
	    "ORDER BY m.rowid, p.cid", -1, &st, NULL) != SQLITE_OK)
		return 1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct db_column c = { (const char *)sqlite3_column_text(st, 0),
			(const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2),
			sqlite3_column_int(st, 3), sqlite3_column_int(st, 4) };
		describe(&want, &c);
	}
	sqlite3_finalize(st);
	sqlite3_close(sql);

	TEST_EQ_INT("db_schema_columns succeeds", db_schema_columns(describe, &got), 0);
	TEST_STR("the description is the schema db_open writes", got.text, want.text);
	TEST_CHECK("it has the record's tables", want.columns > 50 &&
	    strstr(got.text, "steps.batch_id INTEGER 1 1\nsteps.seq INTEGER 1 2\n") != NULL &&
	    strstr(got.text, "recipes.retired_at TEXT 0 0\n") != NULL &&
	    strstr(got.text, "baselines.baseline_hz REAL 1 0\n") != NULL, "%s", got.text);
	stopped.stop_after = 3;
	TEST_EQ_INT("a callback's stop is passed back", db_schema_columns(describe, &stopped), 7);
	TEST_EQ_INT("and nothing after it is told", stopped.columns, 3);
	unlink(file);
	snprintf(file, sizeof(file), "%s-wal", path);
	unlink(file);
	snprintf(file, sizeof(file), "%s-shm", path);
	unlink(file);
	return TEST_DONE();
}
