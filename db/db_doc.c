/*
 * Recipes and rig files, stored verbatim and identified by the SHA-256 of
 * their exact bytes, so a batch points at precisely the text it ran.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_private.h"
#include "log.h"
#include "sha256.h"

#define DB_SHA_PREFIX_MIN	4	/* shorter hex keys are taken as names only */

/* Columns every recipe/rig row query selects, in this order. */
#define DOC_COLS_RECIPE	"id, name, version, sha256, yaml, added_at, retired_at"
#define DOC_COLS_RIG	"id, name, NULL, sha256, yaml, added_at, NULL"

/* Table-specific statements and words, so recipes and rigs share the code. */
struct db_doc_kind {
	const char *noun;
	enum db_stmt_id find_sha, insert, get;
	const char *find_sha_sql, *insert_sql, *get_sql;
};

static const struct db_doc_kind db_recipes = {
	"recipe", ST_DOC_FIND_SHA_RECIPE, ST_DOC_INSERT_RECIPE, ST_DOC_GET_RECIPE,
	"SELECT id FROM recipes WHERE sha256 = ?1",
	"INSERT INTO recipes (name, version, sha256, yaml, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	"SELECT " DOC_COLS_RECIPE " FROM recipes WHERE id = ?1",
};

static const struct db_doc_kind db_rigs = {
	"rig", ST_DOC_FIND_SHA_RIG, ST_DOC_INSERT_RIG, ST_DOC_GET_RIG,
	"SELECT id FROM rigs WHERE sha256 = ?1",
	"INSERT INTO rigs (name, sha256, yaml, added_at) VALUES (?1, ?3, ?4, ?5)",
	"SELECT " DOC_COLS_RIG " FROM rigs WHERE id = ?1",
};

/* Reads a row selected with DOC_COLS_*; strings point into the statement. */
static void
db_doc_fill(sqlite3_stmt *st, struct db_recipe *row)
{
	memset(row, 0, sizeof(*row));
	row->id = sqlite3_column_int64(st, 0);
	row->name = db_col_text(st, 1);
	row->version = db_col_text(st, 2);
	row->sha256 = db_col_text(st, 3);
	row->yaml = db_col_text(st, 4);
	row->yaml_len = row->yaml ? (size_t)sqlite3_column_bytes(st, 4) : 0;
	row->added_at = db_col_text(st, 5);
	row->retired_at = db_col_text(st, 6);
}

/*
 * Steps a query for one row into an owned *row: 0, 1 (none) or -1. On 0
 * the statement stays on that row: the caller may step on, then resets.
 */
static int
db_doc_fetch(struct db *db, sqlite3_stmt *st, struct db_recipe *row, const char *what)
{
	const char **const fields[] = { &row->name, &row->version, &row->sha256, &row->yaml,
		&row->added_at, &row->retired_at };
	size_t lens[6];
	int rc;

	memset(row, 0, sizeof(*row));
	if ((rc = db_row(st)) == -1)
		return db_fail(db, "%s", what);
	if (rc == 0)
		return 1;
	db_doc_fill(st, row);
	lens[0] = row->name ? strlen(row->name) : 0;
	lens[1] = row->version ? strlen(row->version) : 0;
	lens[2] = row->sha256 ? strlen(row->sha256) : 0;
	lens[3] = row->yaml_len;
	lens[4] = row->added_at ? strlen(row->added_at) : 0;
	lens[5] = row->retired_at ? strlen(row->retired_at) : 0;
	row->mem_ = db_own_strings(fields, lens, 6);
	if (row->mem_ == NULL) {
		db_reset(st);
		memset(row, 0, sizeof(*row));
		db_error_set(db, "database %s: reading a recipe: out of "
		    "memory", db->path);
		log_warnx("%s", db->error);
		return -1;
	}
	return 0;
}

/*
 * Stores a text unless its bytes are stored already. For a recipe (version
 * not NULL) a different text under the same name and version is not
 * stored. Returns 0 stored, 1 stored already, 2 that conflict (*id is the
 * newest row of the name and version), -1 on failure.
 */
static int
db_doc_store(struct db *db, const struct db_doc_kind *k, const char *name, const char *version,
    const char *yaml, size_t yaml_len, int64_t *id)
{
	char sha[SHA256_HEX_LEN + 1], now[DB_TIME_LEN], what[160];
	sqlite3_stmt *find, *insert, *same = NULL;
	int rc;

	sha256_hex(yaml, yaml_len, sha);
	snprintf(what, sizeof(what), "storing %s %s (sha256 %.12s)", k->noun, name, sha);
	if ((find = db_stmt(db, k->find_sha, k->find_sha_sql, what)) == NULL ||
	    (insert = db_stmt(db, k->insert, k->insert_sql, what)) == NULL ||
	    db_begin(db, what) == -1)
		return -1;
	if (db_bind_text(find, 1, sha) != SQLITE_OK || (rc = db_row(find)) == -1) {
		db_fail(db, "%s: looking up its hash", what);
		goto fail;
	}
	if (rc == 1) {
		/* the same bytes are stored already */
		*id = sqlite3_column_int64(find, 0);
		db_reset(find);
		return db_commit(db, what) == -1 ? -1 : 1;
	}
	if (version != NULL) {
		/* one text per name and version: an edit needs a new version */
		same = db_stmt(db, ST_RECIPE_SAME_VERSION, "SELECT id FROM recipes WHERE name = ?1 "
		    "AND version = ?2 ORDER BY id DESC LIMIT 1", what);
		if (same == NULL)
			goto fail;
		if ((db_bind_text(same, 1, name) | db_bind_text(same, 2, version)) != SQLITE_OK ||
		    (rc = db_row(same)) == -1) {
			db_fail(db, "%s: looking up its name and version", what);
			goto fail;
		}
		if (rc == 1) {
			*id = sqlite3_column_int64(same, 0);
			db_reset(same);
			return db_commit(db, what) == -1 ? -1 : 2;
		}
	}
	db_now_utc(db, now);
	if ((db_bind_text(insert, 1, name) | (version ? db_bind_text(insert, 2, version) : 0) |
	    db_bind_text(insert, 3, sha) |
	    sqlite3_bind_text(insert, 4, yaml, (int)yaml_len, SQLITE_STATIC) |
	    db_bind_text(insert, 5, now)) != SQLITE_OK || db_run(insert) == -1) {
		db_fail(db, "%s", what);
		goto fail;
	}
	*id = sqlite3_last_insert_rowid(db->sql);
	return db_commit(db, what);
fail:
	db_rollback(db, what);
	return -1;
}

int
db_recipe_add(struct db *db, const char *name, const char *version, const char *yaml,
    size_t yaml_len, int64_t *id)
{
	if (version == NULL) {
		log_warnx("database %s: recipe %s has no version", db->path, name);
		return -1;
	}
	return db_doc_store(db, &db_recipes, name, version, yaml, yaml_len, id);
}

int
db_recipe_store(struct db *db, const char *name, const char *version, const char *yaml,
    size_t yaml_len, int64_t *id)
{
	int rc = db_recipe_add(db, name, version, yaml, yaml_len, id);

	if (rc == 2) {
		log_warnx("database %s: recipe %s version %s is stored with a different text "
		    "(row %lld): a changed recipe needs a new version", db->path, name, version,
		    (long long)*id);
		return -1;
	}
	return rc == -1 ? -1 : 0;
}

int
db_rig_store(struct db *db, const char *name, const char *yaml, size_t yaml_len, int64_t *id)
{
	return db_doc_store(db, &db_rigs, name, NULL, yaml, yaml_len, id) == -1 ? -1 : 0;
}

int
db_recipe_retire(struct db *db, const char *name, const char *version)
{
	char what[160], now[DB_TIME_LEN];
	sqlite3_stmt *st;
	int rc;

	snprintf(what, sizeof(what), "retiring recipe %s@%s", name, version);
	if (db_begin(db, what) == -1)
		return -1;
	/* is there such a recipe, and is any row of it still runnable? */
	st = db_stmt(db, ST_RECIPE_RETIRE, "SELECT count(*), count(*) - count(retired_at) FROM "
	    "recipes WHERE name = ?1 AND version = ?2", what);
	if (st == NULL)
		goto fail;
	if ((db_bind_text(st, 1, name) | db_bind_text(st, 2, version)) != SQLITE_OK ||
	    (rc = db_row(st)) != 1) {
		db_fail(db, "%s", what);
		goto fail;
	}
	if (sqlite3_column_int64(st, 0) == 0 || sqlite3_column_int64(st, 1) == 0) {
		rc = sqlite3_column_int64(st, 0) == 0 ? 1 : 2;
		db_reset(st);
		return db_commit(db, what) == -1 ? -1 : rc;
	}
	db_reset(st);
	db_now_utc(db, now);
	st = db_stmt(db, ST_RECIPE_RETIRE_SET, "UPDATE recipes SET retired_at = ?3 WHERE "
	    "name = ?1 AND version = ?2 AND retired_at IS NULL", what);
	if (st == NULL)
		goto fail;
	if ((db_bind_text(st, 1, name) | db_bind_text(st, 2, version) |
	    db_bind_text(st, 3, now)) != SQLITE_OK || db_run(st) == -1) {
		db_fail(db, "%s", what);
		goto fail;
	}
	return db_commit(db, what);
fail:
	db_rollback(db, what);
	return -1;
}

static int
db_doc_get(struct db *db, const struct db_doc_kind *k, int64_t id, struct db_recipe *row)
{
	char what[64];
	sqlite3_stmt *st;
	int rc;

	snprintf(what, sizeof(what), "reading %s %lld", k->noun, (long long)id);
	memset(row, 0, sizeof(*row));
	if ((st = db_stmt(db, k->get, k->get_sql, what)) == NULL)
		return -1;
	if (db_bind_int(st, 1, id) != SQLITE_OK)
		return db_fail(db, "%s", what);
	rc = db_doc_fetch(db, st, row, what);
	if (rc == 0)
		db_reset(st);
	return rc;
}

int
db_recipe_get(struct db *db, int64_t id, struct db_recipe *row)
{
	return db_doc_get(db, &db_recipes, id, row);
}

int
db_rig_get(struct db *db, int64_t id, struct db_recipe *row)
{
	return db_doc_get(db, &db_rigs, id, row);
}

void
db_recipe_row_free(struct db_recipe *row)
{
	free(row->mem_);
	memset(row, 0, sizeof(*row));
}

static int
db_is_hex(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n >= DB_SHA_PREFIX_MIN && s[n] == '\0';
}

/* A unique SHA-256 prefix; an ambiguous one is an error. */
static int
db_recipe_by_sha(struct db *db, const char *prefix, struct db_recipe *row)
{
	char what[128];
	sqlite3_stmt *st;
	int rc;

	snprintf(what, sizeof(what), "finding the recipe with sha256 %s...", prefix);
	st = db_stmt(db, ST_RECIPE_BY_SHA, "SELECT " DOC_COLS_RECIPE " FROM recipes "
	    "WHERE sha256 >= ?1 AND sha256 < ?1 || 'g' ORDER BY sha256 LIMIT 2", what);
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, prefix) != SQLITE_OK)
		return db_fail(db, "%s", what);
	if ((rc = db_doc_fetch(db, st, row, what)) != 0)
		return rc;
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		if (rc == SQLITE_ROW)
			log_warnx("database %s: sha256 prefix %s matches more than one recipe; "
			    "give more digits", db->path, prefix);
		else
			db_fail(db, "%s", what);
		db_reset(st);
		db_recipe_row_free(row);
		return -1;
	}
	db_reset(st);
	return 0;
}

int
db_recipe_find(struct db *db, const char *key, const char *version, struct db_recipe *row)
{
	char what[160];
	sqlite3_stmt *st;
	int rc;

	memset(row, 0, sizeof(*row));
	snprintf(what, sizeof(what), "finding recipe %s%s%s", key, version ? "@" : "",
	    version ? version : "");
	if (version != NULL)
		st = db_stmt(db, ST_RECIPE_BY_VERSION, "SELECT " DOC_COLS_RECIPE " FROM recipes "
		    "WHERE name = ?1 AND version = ?2 ORDER BY id DESC LIMIT 1", what);
	else
		st = db_stmt(db, ST_RECIPE_BY_NAME, "SELECT " DOC_COLS_RECIPE " FROM recipes "
		    "WHERE name = ?1 ORDER BY retired_at IS NOT NULL, id DESC LIMIT 1", what);
	if (st == NULL)
		return -1;
	if ((db_bind_text(st, 1, key) | (version ? db_bind_text(st, 2, version) : 0)) !=
	    SQLITE_OK)
		return db_fail(db, "%s", what);
	if ((rc = db_doc_fetch(db, st, row, what)) == 0)
		db_reset(st);
	if (rc == 1 && version == NULL && db_is_hex(key))
		rc = db_recipe_by_sha(db, key, row);
	return rc;
}

int
db_recipe_list(struct db *db, int (*cb)(void *arg, const struct db_recipe *row), void *arg)
{
	struct db_recipe row;
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, ST_RECIPE_LIST, "SELECT r.id, r.name, r.version, r.sha256, NULL, "
	    "r.added_at, r.retired_at, (SELECT count(*) FROM batches b WHERE b.recipe_id = r.id) "
	    "FROM recipes r ORDER BY r.id DESC", "listing recipes");
	if (st == NULL)
		return -1;
	while ((rc = db_row(st)) == 1) {
		db_doc_fill(st, &row);
		row.batches = (int)sqlite3_column_int64(st, 7);
		if (cb(arg, &row) != 0) {
			db_reset(st);
			return 0;
		}
	}
	return rc == -1 ? db_fail(db, "listing recipes") : 0;
}
