/*
 * The recording layer against real SQLite files in a temporary directory:
 * schema and migrations, deduplication, a batch's life, step invariants,
 * crash recovery (including a process killed mid-step) and error reports.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "db_private.h"
#include "sha256.h"
#include "test.h"

/*
 * The syncs each thread made: fsync and fdatasync interposed (SQLite's
 * and the syncer's calls resolve to these), so that a test can say which
 * thread waited for the disk.
 */
static __thread int thread_syncs;

static int
real_sync(const char *name, int fd)
{
	int (*real)(int);

	*(void **)&real = dlsym(RTLD_NEXT, name);
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	thread_syncs++;
	return real(fd);
}

int
fdatasync(int fd)
{
	return real_sync("fdatasync", fd);
}

int
fsync(int fd)
{
	return real_sync("fsync", fd);
}

static char tmpdir[64];

static const char *
path_in(const char *name)
{
	static char paths[4][256];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
	return p;
}

static void
cleanup(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlink(path_in(e->d_name));
	closedir(d);
	rmdir(tmpdir);
}

/* ---- capturing what the layer logs on stderr ---- */

static int saved_stderr = -1;

static void
capture_begin(void)
{
	int fd = open(path_in("stderr.txt"), O_RDWR | O_CREAT | O_TRUNC, 0600);

	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static const char *
capture_end(void)
{
	static char text[4096];
	ssize_t n;
	int fd;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	text[0] = '\0';
	if ((fd = open(path_in("stderr.txt"), O_RDONLY)) == -1)
		return text;
	n = read(fd, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	close(fd);
	return text;
}

/* ---- looking at the file with plain SQLite, behind the layer's back ---- */

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *s = NULL;

	if (sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		printf("FAIL raw open %s: %s\n", path, s ? sqlite3_errmsg(s) : "?");
		exit(1);
	}
	sqlite3_busy_timeout(s, 2000);
	return s;
}

static int
raw_exec(sqlite3 *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		printf("note: raw '%s': %s\n", sql, msg ? msg : "?");
	sqlite3_free(msg);
	return rc;
}

/* The first column of the first row as text ("" when none). */
static const char *
raw_text(sqlite3 *s, const char *sql)
{
	static char out[512];
	sqlite3_stmt *st;

	out[0] = '\0';
	if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(out, sizeof(out), "(error: %s)", sqlite3_errmsg(s));
		return out;
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

static long long
raw_int(sqlite3 *s, const char *sql)
{
	return atoll(raw_text(s, sql));
}

static long long
file_int(const char *path, const char *sql)
{
	sqlite3 *s = raw_open(path);
	long long v = raw_int(s, sql);

	sqlite3_close(s);
	return v;
}

static const char *
file_text(const char *path, const char *sql)
{
	sqlite3 *s = raw_open(path);
	const char *v = raw_text(s, sql);

	sqlite3_close(s);
	return v;
}

/* ---- fixtures ---- */

static const char recipe_a1[] = "name: alpha\nversion: 1\nprocess: dip\n";
static const char recipe_a2[] = "name: alpha\nversion: 2\nprocess: dip\n";
static const char recipe_a2b[] = "name: alpha\nversion: 2\nprocess: dip\n# edited\n";
static const char recipe_b1[] = "name: beta\nversion: 1\nprocess: spray\n";
static const char rig_text[] = "name: bench-rig\nbuses: {}\n";

struct fixture {
	int64_t recipe_a1, recipe_a2, recipe_b1, rig;
};

static int
fixture_store(struct db *db, struct fixture *fx)
{
	return db_recipe_store(db, "alpha", "1", recipe_a1, strlen(recipe_a1), &fx->recipe_a1) |
	    db_recipe_store(db, "alpha", "2", recipe_a2, strlen(recipe_a2), &fx->recipe_a2) |
	    db_recipe_store(db, "beta", "1", recipe_b1, strlen(recipe_b1), &fx->recipe_b1) |
	    db_rig_store(db, "bench-rig", rig_text, strlen(rig_text), &fx->rig);
}

static int64_t
new_batch(struct db *db, int64_t recipe_id, int64_t rig_id, const char *substrate)
{
	struct db_batch_new b;
	int64_t id = -1;

	memset(&b, 0, sizeof(b));
	b.recipe_id = recipe_id;
	b.rig_id = rig_id;
	b.substrate = substrate;
	b.operator_name = "ada";
	b.note = "test batch";
	b.bilayers_target = 3;
	b.thickness_target_nm = NAN;
	b.thickness_estimated_nm = 12.5;
	b.software_version = "test-1";
	b.time_scale = 1;
	if (db_batch_create(db, &b, &id) == -1)
		return -1;
	return id;
}

static int
step_begin(struct db *db, int64_t batch, int seq)
{
	struct db_step s;

	memset(&s, 0, sizeof(s));
	s.seq = seq;
	s.bilayer = (seq + 1) / 2;
	s.phase = "cycle";
	s.kind = seq % 2 ? "dip" : "rinse";
	s.station = seq % 2 ? "beaker-a" : "rinse-1";
	s.solution = seq % 2 ? "a" : NULL;
	s.planned_start_ms = (seq - 1) * 1000;
	s.planned_duration_ms = 1000;
	s.actual_start_ms = (seq - 1) * 1000 + 3;
	return db_step_begin(db, batch, &s);
}

static int
step_run(struct db *db, int64_t batch, int seq)
{
	if (step_begin(db, batch, seq) == -1)
		return -1;
	return db_step_end(db, batch, seq, -1, 1002, 400, 600, "done");
}

/* ---- schema and migrations ---- */

static void
test_schema(void)
{
	const char *path = path_in("schema.db");
	struct db *db = NULL;
	sqlite3 *s;

	TEST_CHECK("open creates the database", db_open(path, &db) == 0 && db != NULL,
	    "db_open failed");
	if (db != NULL)		/* lbld's connection keeps a small page cache (footprint) */
		TEST_EQ_INT("page cache capped", raw_int(db->sql, "PRAGMA cache_size"),
		    -atoi(DB_CACHE_KIB));
	db_close(db);
	s = raw_open(path);
	TEST_STR("journal_mode is wal", raw_text(s, "PRAGMA journal_mode"), "wal");
	TEST_EQ_INT("user_version is current", raw_int(s, "PRAGMA user_version"),
	    DB_SCHEMA_VERSION);
	TEST_EQ_INT("all tables exist", raw_int(s, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'table' AND name IN ('recipes', 'rigs', 'batches', 'steps', 'bilayers', "
	    "'events', 'solutions')"), 7);
	TEST_EQ_INT("history indexes exist", raw_int(s, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'index' AND name IN ('batches_started', 'batches_recipe', 'batches_substrate', "
	    "'batches_state', 'recipes_name')"), 5);
	sqlite3_close(s);
	TEST_CHECK("open of a missing parent directory fails",
	    db_open(path_in("no/such/dir.db"), &db) == -1 && db == NULL, "it opened");
}

static void
test_migrations(void)
{
	const char *path = path_in("migrate.db");
	struct fixture fx;
	struct db_recipe row;
	struct db *db = NULL;
	sqlite3 *s;
	int64_t id;

	/* a version-0 database that already holds something unrelated */
	s = raw_open(path);
	raw_exec(s, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('keep me')");
	sqlite3_close(s);

	TEST_CHECK("open at version 1", db_open_version(path, 1, &db) == 0, "failed");
	TEST_CHECK("version 1 stores recipes", db != NULL && fixture_store(db, &fx) == 0,
	    "failed");
	db_close(db);
	s = raw_open(path);
	TEST_EQ_INT("stopped at version 1", raw_int(s, "PRAGMA user_version"), 1);
	TEST_EQ_INT("no version-2 index yet", raw_int(s, "SELECT count(*) FROM sqlite_schema "
	    "WHERE name = 'batches_started'"), 0);
	sqlite3_close(s);

	TEST_CHECK("migrates 1 -> current", db_open(path, &db) == 0, "failed");
	TEST_CHECK("data survives the migration", db != NULL &&
	    db_recipe_find(db, "beta", NULL, &row) == 0 && row.id == fx.recipe_b1,
	    "recipe beta lost");
	db_recipe_row_free(&row);
	db_close(db);
	s = raw_open(path);
	TEST_EQ_INT("now at the current version", raw_int(s, "PRAGMA user_version"),
	    DB_SCHEMA_VERSION);
	TEST_STR("unrelated table kept", raw_text(s, "SELECT x FROM notes"), "keep me");
	TEST_EQ_INT("version 3: steps hold the counted volume", raw_int(s, "SELECT count(*) "
	    "FROM pragma_table_info('steps') WHERE name IN ('volume_planned_ml', "
	    "'volume_measured_ml')"), 2);
	TEST_EQ_INT("version 3: baselines", raw_int(s, "SELECT count(*) FROM sqlite_schema "
	    "WHERE name = 'baselines'"), 1);
	sqlite3_close(s);

	TEST_CHECK("re-open is idempotent", db_open(path, &db) == 0 &&
	    db_recipe_store(db, "beta", "1", recipe_b1, strlen(recipe_b1), &id) == 0 &&
	    id == fx.recipe_b1, "failed");
	db_close(db);
	TEST_EQ_INT("one row per recipe after re-open",
	    file_int(path, "SELECT count(*) FROM recipes"), 3);
}

/*
 * A database written before recipe management (version 3) may hold two
 * texts under one name and version: the migration keeps both, and the new
 * rule (one text per version) applies to what is stored from then on.
 */
static void
test_migration_recipes(void)
{
	const char *path = path_in("v3.db");
	const char *third = "name: old\nversion: 1\n# third\n";
	struct db_recipe row;
	struct db *db = NULL;
	int64_t id;
	int rc;

	TEST_CHECK("open at version 3", db_open_version(path, 3, &db) == 0, "failed");
	if (db == NULL)
		return;
	raw_exec(db->sql, "INSERT INTO recipes (name, version, sha256, yaml, added_at) VALUES "
	    "('old', '1', '1111111111111111111111111111111111111111111111111111111111111111', "
	    "'name: old\nversion: 1\n', '2026-01-01T00:00:00.000Z'), "
	    "('old', '1', '2222222222222222222222222222222222222222222222222222222222222222', "
	    "'name: old\nversion: 1\n# edited\n', '2026-01-02T00:00:00.000Z')");
	TEST_EQ_INT("no retired_at before", raw_int(db->sql, "SELECT count(*) FROM "
	    "pragma_table_info('recipes') WHERE name = 'retired_at'"), 0);
	db_close(db);
	TEST_CHECK("migrates 3 -> current", db_open(path, &db) == 0, "failed");
	if (db == NULL)
		return;
	TEST_EQ_INT("both old texts kept", raw_int(db->sql, "SELECT count(*) FROM recipes WHERE "
	    "name = 'old' AND retired_at IS NULL"), 2);
	rc = db_recipe_find(db, "old", "1", &row);
	TEST_CHECK("old@1 finds the newer text", rc == 0 && row.retired_at == NULL &&
	    strstr(row.yaml, "edited") != NULL, "rc %d", rc);
	db_recipe_row_free(&row);
	TEST_EQ_INT("a third text under old@1 is refused", db_recipe_add(db, "old", "1",
	    third, strlen(third), &id), 2);
	TEST_EQ_INT("retiring old@1 retires both rows", db_recipe_retire(db, "old", "1"), 0);
	TEST_EQ_INT("both rows retired", raw_int(db->sql, "SELECT count(*) FROM recipes WHERE "
	    "name = 'old' AND retired_at IS NOT NULL"), 2);
	db_close(db);
}

static void
test_migration_atomic(void)
{
	const char *path = path_in("clash.db");
	const char *log;
	struct db *db = NULL;
	sqlite3 *s;
	int rc;

	/* a table in the way makes migration 1 fail half-way through */
	s = raw_open(path);
	raw_exec(s, "CREATE TABLE steps (x INTEGER)");
	sqlite3_close(s);
	capture_begin();
	rc = db_open(path, &db);
	log = capture_end();
	TEST_CHECK("a failing migration fails the open", rc == -1 && db == NULL, "rc %d", rc);
	TEST_CONTAINS("the failure names the migration", log, "from version 0 to 1");
	TEST_CONTAINS("the failure says what SQLite said", log, "already exists");
	s = raw_open(path);
	TEST_EQ_INT("nothing of the failed migration is left", raw_int(s, "SELECT count(*) FROM "
	    "sqlite_schema WHERE name IN ('recipes', 'rigs', 'batches')"), 0);
	TEST_EQ_INT("version still 0", raw_int(s, "PRAGMA user_version"), 0);
	sqlite3_close(s);
}

static void
test_newer(void)
{
	const char *path = path_in("newer.db");
	const char *log;
	struct db *db = NULL;
	sqlite3 *s;
	int rc;

	TEST_CHECK("create for newer", db_open(path, &db) == 0, "failed");
	db_close(db);
	db = NULL;
	s = raw_open(path);
	raw_exec(s, "PRAGMA user_version = 7");
	sqlite3_close(s);
	capture_begin();
	rc = db_open(path, &db);
	log = capture_end();
	TEST_CHECK("a newer schema is refused", rc == -1 && db == NULL, "rc %d", rc);
	TEST_CONTAINS("refusal names the version", log, "schema version 7");
	TEST_CONTAINS("refusal says newer", log, "newer than this lbl");
	TEST_EQ_INT("refused file untouched", file_int(path, "PRAGMA user_version"), 7);
}

/* A negative schema version (no lbl writes one) is refused, never used as an index. */
static void
test_negative_version(void)
{
	static const char *const versions[] = { "-1", "-2147483648" };
	const char *path, *log;
	char name[32];
	struct db *db = NULL;
	char sql[64];
	sqlite3 *s;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		snprintf(name, sizeof(name), "negative-%zu.db", i);
		path = path_in(name);
		TEST_CHECK("create for negative", db_open(path, &db) == 0, "failed");
		db_close(db);
		db = NULL;
		s = raw_open(path);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %s", versions[i]);
		raw_exec(s, sql);
		sqlite3_close(s);
		capture_begin();
		rc = db_open(path, &db);
		log = capture_end();
		TEST_CHECK("a negative schema version is refused", rc == -1 && db == NULL,
		    "version %s: rc %d", versions[i], rc);
		TEST_CONTAINS("refusal names the version", log, versions[i]);
		TEST_CONTAINS("refusal says no lbl wrote it", log, "which no lbl ever wrote");
		TEST_EQ_INT("refused file untouched", file_int(path, "PRAGMA user_version"),
		    atoll(versions[i]));
	}
}

/* /dev/null, a FIFO or a directory is not a database: refused, nothing made beside it. */
static void
test_not_a_file(void)
{
	const char *fifo = path_in("fifo.db");
	struct db *db = NULL;
	struct stat st;
	char journal[600];
	int rc;

	capture_begin();
	rc = db_open("/dev/null", &db);
	capture_end();
	TEST_CHECK("/dev/null is refused", rc == -1 && db == NULL, "rc %d", rc);
	TEST_CHECK("no /dev/null-journal made", stat("/dev/null-journal", &st) == -1,
	    "it exists");
	TEST_CHECK("mkfifo", mkfifo(fifo, 0600) == 0, "%s", strerror(errno));
	capture_begin();
	rc = db_open(fifo, &db);
	capture_end();
	TEST_CHECK("a FIFO is refused at once", rc == -1 && db == NULL, "rc %d", rc);
	snprintf(journal, sizeof(journal), "%s-wal", fifo);
	TEST_CHECK("nothing made beside the FIFO", stat(journal, &st) == -1, "%s exists", journal);
	unlink(fifo);
	capture_begin();
	rc = db_open(tmpdir, &db);
	capture_end();
	TEST_CHECK("a directory is refused", rc == -1 && db == NULL, "rc %d", rc);
}

/* ---- recipes and rigs ---- */

static int
count_rows(void *arg, const struct db_recipe *row)
{
	int *n = arg;

	(void)row;
	(*n)++;
	return 0;
}

/* Two texts whose hashes share their first 4 hex digits (a birthday search). */
static void
colliding_texts(char a[32], char b[32])
{
	static unsigned short seen[65536];
	char sha[SHA256_HEX_LEN + 1], text[32];
	unsigned i;

	memset(seen, 0, sizeof(seen));
	for (i = 1;; i++) {
		unsigned key;

		snprintf(text, sizeof(text), "name: c\nversion: %u\n", i);
		sha256_hex(text, strlen(text), sha);
		key = (unsigned)strtoul((char[5]){ sha[0], sha[1], sha[2], sha[3], 0 }, NULL, 16);
		if (seen[key] != 0) {
			snprintf(a, 32, "name: c\nversion: %u\n", seen[key]);
			snprintf(b, 32, "%s", text);
			return;
		}
		seen[key] = (unsigned short)i;
	}
}

static void
test_recipes(void)
{
	char sha[SHA256_HEX_LEN + 1], prefix[16], ca[32], cb[32];
	struct db_recipe row;
	struct fixture fx;
	struct db *db = NULL;
	int64_t id, id2, rig2;
	int n = 0, rc;

	if (db_open(path_in("recipes.db"), &db) == -1) {
		TEST_CHECK("open recipes.db", 0, "failed");
		return;
	}
	TEST_CHECK("store fixture", fixture_store(db, &fx) == 0, "failed");
	TEST_CHECK("same bytes, same row", db_recipe_store(db, "alpha", "1", recipe_a1,
	    strlen(recipe_a1), &id) == 0 && id == fx.recipe_a1, "id %lld", (long long)id);
	TEST_EQ_INT("add of the same bytes says so", db_recipe_add(db, "alpha", "1", recipe_a1,
	    strlen(recipe_a1), &id), 1);
	id2 = 0;
	TEST_EQ_INT("add of an edited text under a stored version is refused",
	    db_recipe_add(db, "alpha", "2", recipe_a2b, strlen(recipe_a2b), &id2), 2);
	TEST_CHECK("the refusal names the stored row", id2 == fx.recipe_a2, "id %lld",
	    (long long)id2);
	capture_begin();
	TEST_EQ_INT("store of an edited text under a stored version fails",
	    db_recipe_store(db, "alpha", "2", recipe_a2b, strlen(recipe_a2b), &id2), -1);
	TEST_CONTAINS("the failure says why", capture_end(), "needs a new version");
	TEST_EQ_INT("nothing stored by the refusals", raw_int(db->sql, "SELECT count(*) FROM "
	    "recipes WHERE name = 'alpha'"), 2);
	TEST_EQ_INT("add of a new version", db_recipe_add(db, "alpha", "3", recipe_a2b,
	    strlen(recipe_a2b), &id2), 0);
	TEST_CHECK("rig deduplicated", db_rig_store(db, "bench-rig", rig_text, strlen(rig_text),
	    &rig2) == 0 && rig2 == fx.rig, "rig %lld", (long long)rig2);

	sha256_hex(recipe_a1, strlen(recipe_a1), sha);
	rc = db_recipe_get(db, fx.recipe_a1, &row);
	TEST_CHECK("get returns the verbatim text", rc == 0 && row.yaml_len == strlen(recipe_a1) &&
	    strcmp(row.yaml, recipe_a1) == 0, "rc %d", rc);
	TEST_STR("get returns the sha256", rc == 0 ? row.sha256 : NULL, sha);
	TEST_CHECK("added_at is ISO-8601 UTC with ms", rc == 0 && strlen(row.added_at) == 24 &&
	    row.added_at[10] == 'T' && row.added_at[19] == '.' && row.added_at[23] == 'Z',
	    "'%s'", rc == 0 ? row.added_at : "");
	db_recipe_row_free(&row);
	TEST_EQ_INT("get of a missing recipe", db_recipe_get(db, 999, &row), 1);

	rc = db_recipe_find(db, "alpha", NULL, &row);
	TEST_CHECK("find by name takes the latest", rc == 0 && row.id == id2, "rc %d id %lld", rc,
	    (long long)row.id);
	db_recipe_row_free(&row);
	rc = db_recipe_find(db, "alpha", "1", &row);
	TEST_CHECK("find by exact version", rc == 0 && row.id == fx.recipe_a1 &&
	    strcmp(row.version, "1") == 0, "rc %d", rc);
	db_recipe_row_free(&row);
	TEST_EQ_INT("find of a missing version", db_recipe_find(db, "alpha", "9", &row), 1);
	TEST_EQ_INT("find of a missing name", db_recipe_find(db, "gamma", NULL, &row), 1);
	snprintf(prefix, sizeof(prefix), "%.8s", sha);
	rc = db_recipe_find(db, prefix, NULL, &row);
	TEST_CHECK("find by sha256 prefix", rc == 0 && row.id == fx.recipe_a1, "rc %d", rc);
	db_recipe_row_free(&row);

	colliding_texts(ca, cb);
	TEST_CHECK("store two recipes with a common hash prefix",
	    db_recipe_store(db, "c", "x", ca, strlen(ca), &id) == 0 &&
	    db_recipe_store(db, "c", "y", cb, strlen(cb), &id) == 0, "failed");
	sha256_hex(ca, strlen(ca), sha);
	snprintf(prefix, sizeof(prefix), "%.4s", sha);
	capture_begin();
	rc = db_recipe_find(db, prefix, NULL, &row);
	TEST_CHECK("an ambiguous prefix is an error", rc == -1 && row.mem_ == NULL, "rc %d", rc);
	TEST_CONTAINS("ambiguity is explained", capture_end(), "more than one recipe");
	snprintf(prefix, sizeof(prefix), "%.12s", sha);
	rc = db_recipe_find(db, prefix, NULL, &row);
	TEST_CHECK("a longer prefix resolves it", rc == 0 && strcmp(row.yaml, ca) == 0, "rc %d", rc);
	db_recipe_row_free(&row);

	TEST_CHECK("list", db_recipe_list(db, count_rows, &n) == 0 && n == 6, "n %d", n);

	/* retiring: alpha 3 is the newest; retired, find by name falls back to 2 */
	TEST_EQ_INT("retire alpha@3", db_recipe_retire(db, "alpha", "3"), 0);
	TEST_EQ_INT("retire alpha@3 again changes nothing", db_recipe_retire(db, "alpha", "3"), 2);
	TEST_EQ_INT("retire of a missing version", db_recipe_retire(db, "alpha", "9"), 1);
	rc = db_recipe_find(db, "alpha", NULL, &row);
	TEST_CHECK("find by name skips the retired version", rc == 0 && row.id == fx.recipe_a2 &&
	    row.retired_at == NULL, "rc %d id %lld", rc, (long long)row.id);
	db_recipe_row_free(&row);
	rc = db_recipe_find(db, "alpha", "3", &row);
	TEST_CHECK("find by exact version returns it retired", rc == 0 && row.id == id2 &&
	    row.retired_at != NULL && strlen(row.retired_at) == 24, "rc %d", rc);
	db_recipe_row_free(&row);
	TEST_EQ_INT("retire beta@1", db_recipe_retire(db, "beta", "1"), 0);
	rc = db_recipe_find(db, "beta", NULL, &row);
	TEST_CHECK("every version retired: find returns the newest, retired", rc == 0 &&
	    row.id == fx.recipe_b1 && row.retired_at != NULL, "rc %d", rc);
	db_recipe_row_free(&row);
	rc = db_recipe_get(db, fx.recipe_b1, &row);
	TEST_CHECK("a retired recipe's text stays", rc == 0 && strcmp(row.yaml, recipe_b1) == 0,
	    "rc %d", rc);
	db_recipe_row_free(&row);
	rc = db_rig_get(db, fx.rig, &row);
	TEST_CHECK("rig get", rc == 0 && row.version == NULL && strcmp(row.name, "bench-rig") == 0 &&
	    strcmp(row.yaml, rig_text) == 0, "rc %d", rc);
	db_recipe_row_free(&row);
	db_close(db);
}

/* ---- a batch's life ---- */

struct collect {
	int count;
	int64_t ids[16];
	char text[2048];
};

static int
collect_batch(void *arg, const struct db_batch *b)
{
	struct collect *c = arg;

	if (c->count < 16)
		c->ids[c->count] = b->id;
	c->count++;
	return 0;
}

static int
collect_event(void *arg, const struct db_event *e)
{
	struct collect *c = arg;
	size_t len = strlen(c->text);

	snprintf(c->text + len, sizeof(c->text) - len, "[%s %s] ", e->kind, e->message);
	c->count++;
	return 0;
}

static int
collect_step(void *arg, const struct db_step *s)
{
	struct collect *c = arg;
	size_t len = strlen(c->text);

	snprintf(c->text + len, sizeof(c->text) - len, "%d:%s:%d ", s->seq, s->outcome,
	    s->attempts);
	c->count++;
	return 0;
}

static int
collect_solution(void *arg, const struct db_solution *s)
{
	struct collect *c = arg;
	size_t len = strlen(c->text);

	snprintf(c->text + len, sizeof(c->text) - len, "%s/%s/%d/%.1f/%.1f ", s->name,
	    s->lot ? s->lot : "-", s->dips, s->volume_ml, s->area_cm2);
	c->count++;
	return 0;
}

static int
collect_bilayer(void *arg, const struct db_bilayer *b)
{
	struct collect *c = arg;
	size_t len = strlen(c->text);

	snprintf(c->text + len, sizeof(c->text) - len, "%d/%.1f/%.1f ", b->n,
	    b->thickness_estimated_nm, b->thickness_measured_nm);
	c->count++;
	return 0;
}

static void
test_batch_lifecycle(void)
{
	struct db_batch b;
	struct fixture fx;
	struct collect c;
	struct db *db = NULL;
	int64_t id;
	const char *log;
	int rc, dips = 0;
	double volume = 0, area = 0;

	if (db_open(path_in("batch.db"), &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open batch.db", 0, "failed");
		db_close(db);
		return;
	}
	id = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	TEST_CHECK("batch created", id > 0, "id %lld", (long long)id);
	rc = db_batch_get(db, id, &b);
	TEST_CHECK("new batch is running, not ended", rc == 0 && strcmp(b.state, "running") == 0 &&
	    b.ended_at == NULL && strlen(b.started_at) == 24, "rc %d", rc);
	TEST_CHECK("batch carries recipe and rig", rc == 0 && strcmp(b.recipe_name, "alpha") == 0 &&
	    strcmp(b.recipe_version, "1") == 0 && strcmp(b.rig_name, "bench-rig") == 0 &&
	    strcmp(b.operator_name, "ada") == 0 && strcmp(b.software_version, "test-1") == 0,
	    "rc %d", rc);
	TEST_CHECK("NaN target stored as unknown", rc == 0 && isnan(b.thickness_target_nm) &&
	    b.thickness_estimated_nm == 12.5 && isnan(b.thickness_measured_nm), "target %g",
	    b.thickness_target_nm);
	db_batch_row_free(&b);
	TEST_EQ_INT("get of a missing batch", db_batch_get(db, 999, &b), 1);

	capture_begin();
	rc = new_batch(db, 999, fx.rig, "glass");
	log = capture_end();
	TEST_CHECK("a batch of an unknown recipe is refused", rc == -1, "rc %d", rc);
	TEST_CONTAINS("refusal says why", log, "FOREIGN KEY constraint failed");
	TEST_CONTAINS("refusal says what was tried", log, "recording a new batch of recipe 999");

	TEST_CHECK("pause", db_batch_set_state(db, id, "paused", NULL) == 0 &&
	    db_batch_get(db, id, &b) == 0 && strcmp(b.state, "paused") == 0 && b.ended_at == NULL,
	    "failed");
	db_batch_row_free(&b);
	capture_begin();
	rc = db_batch_set_state(db, id, "exploded", NULL);
	log = capture_end();
	TEST_CHECK("unknown state refused", rc == -1, "rc %d", rc);
	TEST_CONTAINS("unknown state: CHECK named", log, "CHECK constraint failed");
	TEST_CONTAINS("unknown state: context named", log, "setting batch");
	capture_begin();
	TEST_EQ_INT("state of a missing batch", db_batch_set_state(db, 999, "paused", NULL), -1);
	TEST_CONTAINS("missing batch explained", capture_end(), "no such batch");

	TEST_CHECK("bilayer 1", db_bilayer_done(db, id, 1, 4.0, NAN) == 0, "failed");
	TEST_CHECK("bilayer 2 measured", db_bilayer_done(db, id, 2, 8.0, 7.5) == 0, "failed");
	capture_begin();
	TEST_EQ_INT("a bilayer ends once", db_bilayer_done(db, id, 2, 8.0, 7.5), -1);
	capture_end();
	memset(&c, 0, sizeof(c));
	TEST_CHECK("bilayers listed", db_bilayers(db, id, collect_bilayer, &c) == 0 && c.count == 2,
	    "count %d", c.count);
	TEST_STR("bilayer rows", c.text, "1/4.0/nan 2/8.0/7.5 ");

	TEST_CHECK("solution set", db_solution_set(db, id, "a", "LOT-1", 3, 150.0, 12.0) == 0 &&
	    db_solution_set(db, id, "rinse", NULL, 6, NAN, 24.0) == 0 &&
	    db_solution_set(db, id, "a", "OTHER-LOT", 4, 150.0, 16.0) == 0, "failed");
	TEST_CHECK("solution get", db_solution_get(db, id, "a", &dips, &volume, &area) == 0 &&
	    dips == 4 && volume == 150.0 && area == 16.0, "dips %d volume %g area %g", dips, volume,
	    area);
	TEST_EQ_INT("solution get of an unused one", db_solution_get(db, id, "b", &dips, &volume,
	    &area),
	    1);
	memset(&c, 0, sizeof(c));
	TEST_CHECK("solutions listed (upsert kept one row)", db_solutions(db, id, collect_solution,
	    &c) == 0 && c.count == 2, "count %d", c.count);
	/* the use follows the last call; the lot stays the first's (a resume must not change it) */
	TEST_STR("solution rows: use updated, lot as first recorded", c.text,
	    "a/LOT-1/4/150.0/16.0 rinse/-/6/nan/24.0 ");

	TEST_CHECK("events", db_event_add(db, id, "pause", NULL, "operator pause") == 0 &&
	    db_event_add(db, id, "fault", "pump-a", "stalled") == 0 &&
	    db_event_add(db, 0, "info", NULL, "lbld started") == 0, "failed");
	capture_begin();
	TEST_EQ_INT("unknown event kind refused", db_event_add(db, id, "party", NULL, "x"), -1);
	capture_end();
	memset(&c, 0, sizeof(c));
	db_events(db, id, collect_event, &c);
	TEST_STR("a batch's events in order", c.text, "[pause operator pause] [fault stalled] ");
	memset(&c, 0, sizeof(c));
	db_events(db, 0, collect_event, &c);
	TEST_STR("events outside batches", c.text, "[info lbld started] ");

	TEST_CHECK("complete", db_batch_set_state(db, id, "completed", NULL) == 0 &&
	    db_batch_get(db, id, &b) == 0, "failed");
	TEST_CHECK("completed batch ended, bilayers and thickness follow",
	    strcmp(b.state, "completed") == 0 && b.ended_at != NULL && b.bilayers_done == 2 &&
	    b.thickness_estimated_nm == 8.0 && b.thickness_measured_nm == 7.5, "state %s",
	    b.state);
	db_batch_row_free(&b);
	db_close(db);
}

/* ---- steps ---- */

static void
test_steps(void)
{
	char why[128];
	struct db_batch b;
	struct fixture fx;
	struct collect c;
	struct db *db = NULL;
	const char *log;
	int64_t id;
	int last = -1, rc;
	sqlite3 *s;

	if (db_open(path_in("steps.db"), &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open steps.db", 0, "failed");
		db_close(db);
		return;
	}
	id = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	TEST_CHECK("last step before any", db_batch_last_step(db, id, &last) == 0 && last == 0,
	    "last %d", last);
	TEST_CHECK("step 1 begin", step_begin(db, id, 1) == 0, "failed");
	TEST_EQ_INT("running step is not done", db_step_done(db, id, 1), 0);
	TEST_EQ_INT("begun step does not move last_step_seq",
	    (db_batch_last_step(db, id, &last), last), 0);
	TEST_CHECK("step 1 end", db_step_end(db, id, 1, -1, 1002, 400, 600, "done") == 0, "failed");
	TEST_EQ_INT("step 1 done", db_step_done(db, id, 1), 1);
	TEST_EQ_INT("last_step_seq follows the end", (db_batch_last_step(db, id, &last), last), 1);

	capture_begin();
	rc = step_begin(db, id, 1);
	log = capture_end();
	TEST_CHECK("a done step is not begun again", rc == -1, "rc %d", rc);
	TEST_CONTAINS("repeat refusal explained", log, "already settled");
	capture_begin();
	rc = db_step_end(db, id, 2, -1, 1, 1, 1, "done");
	log = capture_end();
	TEST_CHECK("end of a step never begun", rc == -1, "rc %d", rc);
	TEST_CONTAINS("end without begin explained", log, "step 2 of batch");
	TEST_CONTAINS("end without begin: what is wrong", log, "not begun or has ended");

	TEST_CHECK("step 2", step_run(db, id, 2) == 0, "failed");
	capture_begin();
	TEST_EQ_INT("a step ends once", db_step_end(db, id, 2, -1, 1, 1, 1, "done"), -1);
	TEST_EQ_INT("'running' is not an end", db_step_end(db, id, 2, -1, 1, 1, 1, "running"), -1);
	capture_end();

	/* step 3 fails; a failed step does not advance the batch */
	TEST_CHECK("step 3 fails", step_begin(db, id, 3) == 0 &&
	    db_step_end(db, id, 3, -1, 500, 500, 0, "failed") == 0, "failed");
	TEST_EQ_INT("failed step not counted", (db_batch_last_step(db, id, &last), last), 2);
	TEST_EQ_INT("failed step not done", db_step_done(db, id, 3), 0);
	TEST_CHECK("step 3 begun again", step_begin(db, id, 3) == 0 &&
	    db_step_end(db, id, 3, -1, 1000, 400, 600, "done") == 0, "failed");
	TEST_CHECK("step 4 skipped", step_begin(db, id, 4) == 0 &&
	    db_step_end(db, id, 4, -1, 0, 0, 0, "skipped") == 0, "failed");
	TEST_EQ_INT("skipped counts as settled", db_step_done(db, id, 4), 1);
	TEST_CHECK("step 5", step_run(db, id, 5) == 0, "failed");

	memset(&c, 0, sizeof(c));
	TEST_CHECK("steps listed", db_steps(db, id, collect_step, &c) == 0 && c.count == 5,
	    "count %d", c.count);
	TEST_STR("steps' outcomes and attempts", c.text,
	    "1:done:1 2:done:1 3:done:2 4:skipped:1 5:done:1 ");
	memset(&c, 0, sizeof(c));
	db_events(db, id, collect_event, &c);
	TEST_CONTAINS("the earlier attempt is on record", c.text,
	    "step 3 begun again (attempt 2); the attempt before ended failed after 500 ms");
	TEST_CHECK("verify consistent", db_batch_verify_steps(db, id, why, sizeof(why)) == 0,
	    "%s", why);

	TEST_CHECK("pause", db_batch_set_state(db, id, "paused", NULL) == 0, "failed");
	capture_begin();
	rc = step_begin(db, id, 6);
	log = capture_end();
	TEST_CHECK("no step begins in a paused batch", rc == -1, "rc %d", rc);
	TEST_CONTAINS("paused refusal explained", log, "the batch is paused, not running");
	TEST_EQ_INT("refused step left no row", db_step_done(db, id, 6), 0);
	db_batch_set_state(db, id, "running", NULL);
	TEST_CHECK("resumed batch is not ended", db_batch_get(db, id, &b) == 0 &&
	    b.ended_at == NULL && b.last_step_seq == 5, "last %d", b.last_step_seq);
	db_batch_row_free(&b);

	/* tamper behind the layer's back: verification must notice */
	s = raw_open(path_in("steps.db"));
	raw_exec(s, "DELETE FROM steps WHERE seq = 2");
	TEST_CHECK("verify finds a lost step", db_batch_verify_steps(db, id, why, sizeof(why)) == 1,
	    "%s", why);
	TEST_CONTAINS("verify names the lost step", why, "step 2");
	raw_exec(s, "UPDATE batches SET last_step_seq = 1");
	TEST_CHECK("verify finds a step settled beyond the last", db_batch_verify_steps(db, id,
	    why, sizeof(why)) == 1, "%s", why);
	TEST_CONTAINS("verify names it", why, "beyond the last settled step 1");
	sqlite3_close(s);
	db_close(db);
}

/* The start of step seq: its recipe-time offset and UTC stamp. */
struct step_start {
	int seq;
	int64_t ms;
	char utc[32];
};

static int
collect_start(void *arg, const struct db_step *s)
{
	struct step_start *start = arg;

	if (s->seq == start->seq) {
		start->ms = s->actual_start_ms;
		snprintf(start->utc, sizeof(start->utc), "%s", s->actual_start_utc);
	}
	return 0;
}

/* Milliseconds of the day in an ISO-8601 UTC stamp. */
static long
utc_ms(const char *utc)
{
	int h = 0, m = 0, sec = 0, ms = 0;

	sscanf(utc + 11, "%d:%d:%d.%d", &h, &m, &sec, &ms);
	return ((h * 60L + m) * 60 + sec) * 1000 + ms;
}

/*
 * lbld records a step a few ms before its deadline and gives its actual
 * start at the end: the start and its UTC stamp move together, the UTC in
 * real time (recipe time divided by the batch's time scale).
 */
static void
test_step_start_corrected(void)
{
	struct fixture fx;
	struct step_start before, after;
	struct db *db;
	int64_t id;
	sqlite3 *s;

	if (db_open(path_in("start.db"), &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open start.db", 0, "failed");
		db_close(db);
		return;
	}
	id = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	s = raw_open(path_in("start.db"));
	raw_exec(s, "UPDATE batches SET time_scale = 10");
	sqlite3_close(s);
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	before.seq = after.seq = 1;
	step_begin(db, id, 1);
	db_steps(db, id, collect_start, &before);
	TEST_EQ_INT("begin records the start it was given", (int)before.ms, 3);
	TEST_CHECK("end with a start", db_step_end(db, id, 1, 73, 1000, 0, 1000, "done") == 0,
	    "failed");
	db_steps(db, id, collect_start, &after);
	TEST_EQ_INT("end corrects the start", (int)after.ms, 73);
	TEST_EQ_INT("UTC moved by 70 ms of recipe time at scale 10",
	    (int)((utc_ms(after.utc) - utc_ms(before.utc) + 86400000L) % 86400000L), 7);
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	before.seq = after.seq = 2;
	TEST_CHECK("step 2", step_begin(db, id, 2) == 0, "failed");
	db_steps(db, id, collect_start, &before);
	TEST_CHECK("step 2 end without a start", db_step_end(db, id, 2, -1, 1000, 0, 1000,
	    "done") == 0, "failed");
	db_steps(db, id, collect_start, &after);
	TEST_CHECK("-1 keeps the start", after.ms == 1003 && before.utc[0] != '\0' &&
	    strcmp(after.utc, before.utc) == 0, "%lld %s, was %s", (long long)after.ms, after.utc,
	    before.utc);
	db_close(db);
}

/* What the devices said: a step's counted volume and a QCM baseline, read back. */
struct volumes_seen {
	int seq;
	double planned, measured;
};

static int
collect_volume(void *arg, const struct db_step *row)
{
	struct volumes_seen *v = arg;

	if (row->seq == v->seq) {
		v->planned = row->volume_planned_ml;
		v->measured = row->volume_measured_ml;
	}
	return 0;
}

static int
count_baselines(void *arg, const struct db_baseline *b)
{
	(*(int *)arg)++;
	TEST_STR("the baseline listed: its source", b->source, "measured in step 1");
	return 0;
}

static void
test_devices_said(void)
{
	struct volumes_seen v = { 2, 0, 0 };
	struct fixture fx;
	struct db *db;
	double hz = 0;
	int64_t id;
	int n = 0;

	if (db_open(path_in("devices.db"), &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open devices.db", 0, "failed");
		db_close(db);
		return;
	}
	id = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	step_run(db, id, 1);
	step_begin(db, id, 2);
	TEST_EQ_INT("a step's volumes recorded", db_step_volume(db, id, 2, 5.0, 1.5), 0);
	db_steps(db, id, collect_volume, &v);
	TEST_CHECK("both read back", v.planned == 5.0 && v.measured == 1.5, "%g %g", v.planned,
	    v.measured);
	v.seq = 1;
	db_steps(db, id, collect_volume, &v);
	TEST_CHECK("a step that counted nothing reads NaN", isnan(v.planned) && isnan(v.measured),
	    "%g %g", v.planned, v.measured);
	TEST_EQ_INT("no step 9: refused", db_step_volume(db, id, 9, 5.0, 5.0), -1);
	TEST_EQ_INT("no baseline yet", db_baseline_get(db, id, "qcm", &hz), 0);
	TEST_EQ_INT("a baseline recorded", db_baseline_set(db, id, "qcm", 4999870.25,
	    "measured in step 1"), 0);
	TEST_EQ_INT("and read back", db_baseline_get(db, id, "qcm", &hz), 1);
	TEST_NEAR("exactly", hz, 4999870.25, 0);
	TEST_EQ_INT("a baseline must be a frequency", db_baseline_set(db, id, "qcm", 0, "x"), -1);
	TEST_EQ_INT("the refused one changed nothing", db_baseline_get(db, id, "qcm", &hz), 1);
	TEST_NEAR("still", hz, 4999870.25, 0);
	db_baselines(db, id, count_baselines, &n);
	TEST_EQ_INT("one baseline listed", n, 1);
	db_close(db);
}

/*
 * A step boundary's writes in one group: one commit, invisible (and not
 * durable) before it; a failed write inside is undone alone.
 */
static void
test_group(void)
{
	struct fixture fx;
	struct db *db;
	int64_t id;
	sqlite3 *s;
	int rc;

	if (db_open(path_in("group.db"), &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open group.db", 0, "failed");
		db_close(db);
		return;
	}
	id = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	s = raw_open(path_in("group.db"));
	TEST_EQ_INT("commit without a group", db_group_commit(db), 0);
	TEST_CHECK("step 1 begun", step_begin(db, id, 1) == 0, "failed");
	TEST_EQ_INT("group begins", db_group_begin(db), 0);
	capture_begin();
	TEST_EQ_INT("groups do not nest", db_group_begin(db), -1);
	TEST_CONTAINS("nesting explained", capture_end(), "open already");
	TEST_CHECK("step 1 ends in the group", db_step_end(db, id, 1, -1, 1000, 0, 1000, "done") == 0,
	    "failed");
	TEST_CHECK("bilayer 1 in the group", db_bilayer_done(db, id, 1, 7.8, NAN) == 0, "failed");
	capture_begin();
	rc = db_step_end(db, id, 5, -1, 1, 1, 1, "done");
	capture_end();
	TEST_EQ_INT("a failed write in the group", rc, -1);
	TEST_CHECK("step 2 begun in the group", step_begin(db, id, 2) == 0, "failed");
	TEST_EQ_INT("nothing is seen before the commit",
	    (int)raw_int(s, "SELECT count(*) FROM steps WHERE outcome = 'done'"), 0);
	TEST_EQ_INT("group commits", db_group_commit(db), 0);
	TEST_EQ_INT("the step's end is committed",
	    (int)raw_int(s, "SELECT count(*) FROM steps WHERE seq = 1 AND outcome = 'done'"), 1);
	TEST_EQ_INT("the bilayer is committed",
	    (int)raw_int(s, "SELECT bilayers_done FROM batches"), 1);
	TEST_EQ_INT("the next start is committed, after the failed write",
	    (int)raw_int(s, "SELECT count(*) FROM steps WHERE seq = 2 AND outcome = 'running'"), 1);
	TEST_EQ_INT("writes after the group commit on their own",
	    db_step_end(db, id, 2, -1, 1000, 0, 1000, "done"), 0);
	TEST_EQ_INT("... and are seen at once",
	    (int)raw_int(s, "SELECT last_step_seq FROM batches"), 2);
	sqlite3_close(s);
	db_close(db);
}

/* ---- a group that does not wait for the disk (db_sync.c) ---- */

static int
synchronous_of(struct db *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db->sql, "PRAGMA synchronous", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Waits (5 s at most) until the syncer has done every sync asked for. */
static int
syncs_done(struct db *db)
{
	int i;

	for (i = 0; i < 500 && db_sync_pending(db, NULL) > 0; i++)
		usleep(10000);
	return db_sync_pending(db, NULL) == 0;
}

static void
sync_asked(void *arg)
{
	(*(int *)arg)++;
}

/*
 * db_no_wait: from then on no commit waits for the disk, a group's or a
 * single write's (an event, a recipe); each is seen by another connection
 * at once, its sync asked of the thread and done beside the caller, and
 * told to on_sync_asked. Before, only a batch's groups went so: an event
 * or a recipe added outside a batch sat in fsync in lbld's loop.
 */
static void
test_no_wait(void)
{
	struct fixture fx;
	struct db *db;
	char why[512];
	int64_t id;
	sqlite3 *s;
	int p[2], fd, asked = 0;
	uint64_t done;

	if (db_open(path_in("nowait.db"), &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open nowait.db", 0, "failed");
		db_close(db);
		return;
	}
	id = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	s = raw_open(path_in("nowait.db"));
	TEST_EQ_INT("every commit waits for the disk (synchronous=FULL)", synchronous_of(db), 2);
	TEST_CHECK("no syncer before db_no_wait", db->syncer == NULL, "one runs");
	db_on_sync_asked(db, sync_asked, &asked);
	thread_syncs = 0;
	TEST_EQ_INT("an event waits for the disk itself: no sync asked",
	    (int)(db_event_add(db, id, "info", NULL, "before") == 0 && asked == 0), 1);
	TEST_CHECK("... it synced in the caller's thread", thread_syncs > 0, "%d syncs",
	    thread_syncs);
	TEST_EQ_INT("db_no_wait", db_no_wait(db), 0);
	TEST_EQ_INT("no commit waits for the disk (synchronous=NORMAL)", synchronous_of(db), 1);
	TEST_EQ_INT("db_no_wait again: no-op", db_no_wait(db), 0);

	thread_syncs = 0;
	TEST_EQ_INT("a group begins", db_group_try_begin(db), 0);
	TEST_CHECK("step 1 begun in it", step_begin(db, id, 1) == 0, "failed");
	TEST_EQ_INT("the group commits", db_group_commit(db), 0);
	TEST_EQ_INT("... syncing nothing in the caller's thread", thread_syncs, 0);
	TEST_EQ_INT("another connection sees it at once",
	    (int)raw_int(s, "SELECT count(*) FROM steps WHERE seq = 1"), 1);
	TEST_EQ_INT("its sync was asked, and told", asked, 1);
	TEST_CHECK("its sync is done beside the caller", syncs_done(db), "still pending");
	TEST_EQ_INT("the sync succeeded", db_sync_check(db, why, sizeof(why)), 0);

	/* a single write, outside any group (an operator's event, a recipe) */
	db_sync_pending(db, &done);
	thread_syncs = 0;
	TEST_EQ_INT("an event on its own", db_event_add(db, id, "operator", NULL, "manual"), 0);
	TEST_EQ_INT("... syncing nothing in the caller's thread", thread_syncs, 0);
	TEST_EQ_INT("... seen at once", (int)raw_int(s,
	    "SELECT count(*) FROM events WHERE message = 'manual'"), 1);
	TEST_EQ_INT("... its own sync asked and told", asked, 2);
	TEST_CHECK("... and done", syncs_done(db), "still pending");
	{
		uint64_t after;

		db_sync_pending(db, &after);
		TEST_EQ_INT("... one sync for it", (int)(after - done), 1);
	}
	TEST_EQ_INT("still synchronous=NORMAL after commits", synchronous_of(db), 1);

	/* rolled back: nothing written, no sync asked */
	TEST_EQ_INT("a group to roll back begins", db_group_try_begin(db), 0);
	TEST_CHECK("step 2 begun in it", step_begin(db, id, 2) == 0, "failed");
	db_group_rollback(db);
	TEST_EQ_INT("the rolled-back start is not written",
	    (int)raw_int(s, "SELECT count(*) FROM steps WHERE seq = 2"), 0);
	TEST_EQ_INT("a rollback asks no sync", asked, 2);

	/* another process holds the write lock: 1, nothing open */
	TEST_EQ_INT("raw lock taken", sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	db_set_busy_timeout(db, 0);
	TEST_EQ_INT("a locked database is busy, not an error", db_group_try_begin(db), 1);
	sqlite3_exec(s, "ROLLBACK", NULL, NULL, NULL);
	db_set_busy_timeout(db, 5000);

	/* a sync that fails (fdatasync on a pipe: EINVAL) is told once, by db_sync_check */
	if (pipe(p) == 0) {
		pthread_mutex_lock(&db->syncer->lock);
		fd = db->syncer->fd;
		db->syncer->fd = p[0];
		pthread_mutex_unlock(&db->syncer->lock);
		TEST_CHECK("step 2 begun, its sync failing", step_begin(db, id, 2) == 0, "failed");
		TEST_EQ_INT("... on record (the log has it)", (int)raw_int(s,
		    "SELECT count(*) FROM steps WHERE seq = 2"), 1);
		TEST_CHECK("the failing sync is done", syncs_done(db), "still pending");
		capture_begin();
		TEST_EQ_INT("the failed sync is told", db_sync_check(db, why, sizeof(why)), -1);
		capture_end();
		TEST_CONTAINS("... naming the log and the kernel's reason", why,
		    "nowait.db-wal failed: Invalid argument");
		TEST_EQ_INT("... once", db_sync_check(db, why, sizeof(why)), 0);
		pthread_mutex_lock(&db->syncer->lock);
		db->syncer->fd = fd;
		pthread_mutex_unlock(&db->syncer->lock);
		close(p[0]);
		close(p[1]);
	} else {
		TEST_CHECK("pipe", 0, "failed");
	}
	sqlite3_close(s);
	db_close(db);
	/* closed: the log's syncer is gone with the handle (no thread, no descriptor left) */
	TEST_CHECK("the database reopens after close, waiting for the disk again",
	    db_open(path_in("nowait.db"), &db) == 0 && db->syncer == NULL &&
	    synchronous_of(db) == 2, "failed");
	db_close(db);
}

/* The frames the write-ahead log holds now (a passive checkpoint's count, through s). */
static int
log_frames(sqlite3 *s)
{
	int frames = -1, copied = -1;

	/* a connection finds the log at its first read */
	if (sqlite3_exec(s, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_wal_checkpoint_v2(s, "main", SQLITE_CHECKPOINT_PASSIVE, &frames, &copied) !=
	    SQLITE_OK)
		return -1;
	return frames;
}

/*
 * Commits that do not wait for the disk grow the log past
 * DB_WAL_CHECKPOINT_PAGES: the syncer checkpoints it beside the caller,
 * through its own connection, and the next commit starts the log afresh.
 * Before, such commits never checkpointed (a checkpoint waits for the
 * disk), and a batch whose every boundary commits so grew its log without
 * bound.
 */
static void
test_syncer_checkpoint(void)
{
	struct fixture fx;
	struct db *db = NULL;
	sqlite3 *s;
	uint64_t done = 0;
	int i, before;

	if (db_open(path_in("ckpt.db"), &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open ckpt.db", 0, "failed");
		db_close(db);
		return;
	}
	s = raw_open(path_in("ckpt.db"));
	TEST_EQ_INT("checkpoint: no commit waits for the disk", db_no_wait(db), 0);
	TEST_EQ_INT("checkpoint: a group begins", db_group_try_begin(db), 0);
	TEST_EQ_INT("checkpoint: 5 MB written in it", sqlite3_exec(db->sql, "CREATE TABLE filler(b);"
	    "INSERT INTO filler VALUES (zeroblob(5000000))", NULL, NULL, NULL), SQLITE_OK);
	TEST_EQ_INT("checkpoint: it commits", db_group_commit(db), 0);
	for (i = 0; i < 500; i++) {
		pthread_mutex_lock(&db->syncer->lock);
		done = db->syncer->checkpoints;
		pthread_mutex_unlock(&db->syncer->lock);
		if (done > 0)
			break;
		usleep(10000);
	}
	TEST_CHECK("checkpoint: the syncer checkpointed the log", done > 0, "none in 5 s");
	/* the thread's own restart: read once its checkpoint is counted (the same pass) */
	TEST_CHECK("checkpoint: ... and started the log afresh itself", db->syncer->restarts == 1,
	    "%llu restarts", (unsigned long long)db->syncer->restarts);
	TEST_CHECK("checkpoint: the restart's write lock is told (db_self_lock_seq), and is over",
	    db_self_lock_seq(db) == 2, "seq %llu", (unsigned long long)db_self_lock_seq(db));
	/*
	 * The next commit appends to the restarted log: it syncs nothing in
	 * the caller's thread. Before the thread restarted the log, this
	 * commit did, writing and syncing the new header (synchronous=NORMAL
	 * or not), and a disk that hung held lbld's loop there.
	 */
	thread_syncs = 0;
	TEST_EQ_INT("checkpoint: the next group begins", db_group_try_begin(db), 0);
	TEST_EQ_INT("checkpoint: a small write in it", sqlite3_exec(db->sql,
	    "INSERT INTO filler VALUES (1)", NULL, NULL, NULL), SQLITE_OK);
	TEST_EQ_INT("checkpoint: it commits", db_group_commit(db), 0);
	TEST_EQ_INT("checkpoint: the commit after it synced nothing in the caller's thread",
	    thread_syncs, 0);
	/* (counted only now: log_frames checkpoints, and a whole checkpoint makes a restart due) */
	before = log_frames(s);
	TEST_CHECK("checkpoint: the log holds the restart's page and the write, not the 5 MB",
	    before >= 0 && before < 8, "%d frames", before);
	sqlite3_close(s);
	db_close(db);
}

/* ---- events told once committed (db_on_event) ---- */

struct told {
	int n;
	char kinds[256];
	int64_t last_id;
	int in_order;
};

static void
told_event(void *arg, const struct db_event *e)
{
	struct told *t = arg;

	if (e->id <= t->last_id)
		t->in_order = 0;
	t->last_id = e->id;
	t->n++;
	/* the kinds of the first few, in order (the checkpoint's thousands are only counted) */
	if (strlen(t->kinds) + strlen(e->kind) + 2 <= sizeof(t->kinds)) {
		strcat(t->kinds, e->kind);
		strcat(t->kinds, ",");
	}
}

static void
test_events_told(void)
{
	struct told t = { 0, "", 0, 1 };
	struct fixture fx;
	struct db *db;
	sqlite3 *s;
	int64_t id;
	int i;

	if (db_open(path_in("told.db"), &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open told.db", 0, "failed");
		db_close(db);
		return;
	}
	id = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	TEST_CHECK("an event before the listener", db_event_add(db, id, "info", NULL, "old") == 0,
	    "failed");
	TEST_EQ_INT("the listener is set", db_on_event(db, told_event, &t), 0);
	TEST_EQ_INT("an event on record before it is not told", t.n, 0);
	TEST_CHECK("an event outside a group",
	    db_event_add(db, id, "pause", "lift", "paused") == 0, "failed");
	TEST_EQ_INT("... is told once committed", t.n, 1);
	TEST_STR("... as recorded", t.kinds, "pause,");
	TEST_EQ_INT("a group begins", db_group_begin(db), 0);
	db_event_add(db, id, "resume", NULL, "resumed");
	db_event_add(db, 0, "operator", "pump-a", "calibrate: outside a batch");
	TEST_EQ_INT("events in an open group are not told yet", t.n, 1);
	TEST_EQ_INT("the group commits", db_group_commit(db), 0);
	TEST_EQ_INT("then both are told", t.n, 3);
	TEST_STR("in the order written", t.kinds, "pause,resume,operator,");
	TEST_EQ_INT("a group begins again", db_group_begin(db), 0);
	db_event_add(db, id, "abort", NULL, "never on record");
	db_group_rollback(db);
	TEST_EQ_INT("an event rolled back is never told", t.n, 3);
	TEST_EQ_INT("a write after the rollback", db_event_add(db, id, "info", NULL, "after"), 0);
	TEST_EQ_INT("is told, and the rolled-back one still not", t.n, 4);
	TEST_CHECK("told in id order", t.in_order, "out of order");
	/* the hook replaced SQLite's automatic checkpoint: it must still happen */
	for (i = 0; i < 3000; i++)
		db_event_add(db, id, "info", NULL, "a line long enough to fill pages of the WAL "
		    "quickly, with some more text in it to be sure of it .........");
	s = raw_open(path_in("told.db"));
	TEST_EQ_INT("all told", t.n, 3004);
	sqlite3_close(s);
	{
		struct stat st;
		TEST_CHECK("the WAL is checkpointed and reused (under 2000 pages)",
		    stat(path_in("told.db-wal"), &st) == 0 && st.st_size < 2000 * 4096 + 65536,
		    "%lld bytes", (long long)st.st_size);
	}
	TEST_EQ_INT("the listener is removed", db_on_event(db, NULL, NULL), 0);
	db_event_add(db, id, "info", NULL, "untold");
	TEST_EQ_INT("nothing told after", t.n, 3004);
	db_close(db);
}

/* ---- history ---- */

static void
test_history(void)
{
	struct db_history_filter f;
	struct fixture fx;
	struct collect c;
	struct db *db = NULL;
	int64_t ids[6];
	sqlite3 *s;
	int i;

	if (db_open(path_in("history.db"), &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open history.db", 0, "failed");
		db_close(db);
		return;
	}
	for (i = 0; i < 6; i++)
		ids[i] = new_batch(db, i % 2 ? fx.recipe_b1 : (i < 3 ? fx.recipe_a1 : fx.recipe_a2),
		    fx.rig, i < 4 ? "glass" : "separator");
	db_batch_set_state(db, ids[0], "completed", NULL);
	db_batch_set_state(db, ids[1], "failed", "pump stalled");
	s = raw_open(path_in("history.db"));
	for (i = 0; i < 6; i++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "UPDATE batches SET started_at = "
		    "'2026-01-0%dT10:00:00.000Z' WHERE id = %lld", i + 1, (long long)ids[i]);
		raw_exec(s, sql);
	}
	sqlite3_close(s);

	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	TEST_CHECK("unfiltered history", db_history(db, &f, collect_batch, &c) == 0 &&
	    c.count == 6, "count %d", c.count);
	TEST_CHECK("newest first", c.ids[0] == ids[5] && c.ids[5] == ids[0], "first %lld",
	    (long long)c.ids[0]);
	f.recipe = "alpha";
	memset(&c, 0, sizeof(c));
	db_history(db, &f, collect_batch, &c);
	TEST_CHECK("by recipe name, all versions", c.count == 3 && c.ids[0] == ids[4] &&
	    c.ids[2] == ids[0], "count %d", c.count);
	f.substrate = "glass";
	memset(&c, 0, sizeof(c));
	db_history(db, &f, collect_batch, &c);
	TEST_EQ_INT("by recipe and substrate", c.count, 2);
	memset(&f, 0, sizeof(f));
	f.state = "running";
	memset(&c, 0, sizeof(c));
	db_history(db, &f, collect_batch, &c);
	TEST_EQ_INT("by state", c.count, 4);
	memset(&f, 0, sizeof(f));
	f.since = "2026-01-02";
	f.before = "2026-01-05";
	memset(&c, 0, sizeof(c));
	db_history(db, &f, collect_batch, &c);
	TEST_CHECK("by date range", c.count == 3 && c.ids[0] == ids[3] && c.ids[2] == ids[1],
	    "count %d", c.count);
	memset(&f, 0, sizeof(f));
	f.limit = 2;
	memset(&c, 0, sizeof(c));
	db_history(db, &f, collect_batch, &c);
	TEST_CHECK("limit", c.count == 2 && c.ids[0] == ids[5], "count %d", c.count);
	db_close(db);
}

/* ---- crash recovery ---- */

struct recovered {
	int count;
	int64_t id[4];
	int last[4];
	char was[4][16];
};

static void
on_recovered(void *arg, int64_t batch_id, const char *was, int last)
{
	struct recovered *r = arg;

	if (r->count < 4) {
		r->id[r->count] = batch_id;
		r->last[r->count] = last;
		snprintf(r->was[r->count], sizeof(r->was[0]), "%s", was);
	}
	r->count++;
}

static void
test_recover(void)
{
	struct recovered r;
	struct db_batch b;
	struct fixture fx;
	struct collect c;
	struct db *db = NULL;
	int64_t a, p, done;
	int i, n;

	if (db_open(path_in("recover.db"), &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open recover.db", 0, "failed");
		db_close(db);
		return;
	}
	a = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	for (i = 1; i <= 3; i++)
		step_run(db, a, i);
	step_begin(db, a, 4);
	p = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	step_run(db, p, 1);
	step_run(db, p, 2);
	db_batch_set_state(db, p, "paused", NULL);
	done = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	db_batch_set_state(db, done, "completed", NULL);

	memset(&r, 0, sizeof(r));
	n = db_recover(db, on_recovered, &r);
	TEST_CHECK("two batches recovered", n == 2 && r.count == 2, "n %d count %d", n, r.count);
	TEST_CHECK("running batch reported with its last step", r.id[0] == a && r.last[0] == 3 &&
	    strcmp(r.was[0], "running") == 0, "id %lld last %d", (long long)r.id[0], r.last[0]);
	TEST_CHECK("paused batch reported with its last step", r.id[1] == p && r.last[1] == 2 &&
	    strcmp(r.was[1], "paused") == 0, "id %lld last %d", (long long)r.id[1], r.last[1]);
	TEST_CHECK("marked interrupted and ended", db_batch_get(db, a, &b) == 0 &&
	    strcmp(b.state, "interrupted") == 0 && b.ended_at != NULL && b.failure_cause != NULL &&
	    b.last_step_seq == 3, "state %s", b.state);
	db_batch_row_free(&b);
	TEST_CHECK("completed batch untouched", db_batch_get(db, done, &b) == 0 &&
	    strcmp(b.state, "completed") == 0, "state %s", b.state);
	db_batch_row_free(&b);
	memset(&c, 0, sizeof(c));
	db_steps(db, a, collect_step, &c);
	TEST_STR("the step in progress is marked aborted", c.text,
	    "1:done:1 2:done:1 3:done:1 4:aborted:1 ");
	memset(&c, 0, sizeof(c));
	db_events(db, a, collect_event, &c);
	TEST_CONTAINS("event names the last completed step", c.text, "last completed step: 3");
	TEST_CONTAINS("event names the aborted step", c.text, "step 4 was in progress");
	TEST_EQ_INT("recovery is idempotent", db_recover(db, NULL, NULL), 0);

	/* resuming: step 4 runs again, exactly once more */
	TEST_CHECK("resume", db_batch_set_state(db, a, "running", NULL) == 0 &&
	    step_run(db, a, 4) == 0, "failed");
	memset(&c, 0, sizeof(c));
	db_steps(db, a, collect_step, &c);
	TEST_STR("resumed step counted once, two attempts", c.text,
	    "1:done:1 2:done:1 3:done:1 4:done:2 ");
	db_close(db);
}

/* A process killed (SIGKILL) in the middle of a batch loses nothing committed. */
static void
test_crash(void)
{
	const char *path = path_in("crash.db");
	struct recovered r;
	struct fixture fx;
	struct db *db = NULL;
	char why[128];
	int64_t id = 0;
	pid_t pid;
	int status, i;

	if (db_open(path, &db) == -1 || fixture_store(db, &fx) == -1) {
		TEST_CHECK("open crash.db", 0, "failed");
		db_close(db);
		return;
	}
	id = new_batch(db, fx.recipe_a1, fx.rig, "glass");
	db_close(db);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (db_open(path, &db) == -1)
			_exit(2);
		for (i = 1; i <= 7; i++)
			if (step_run(db, id, i) == -1)
				_exit(3);
		if (step_begin(db, id, 8) == -1)
			_exit(4);
		raise(SIGKILL);
		_exit(5);
	}
	waitpid(pid, &status, 0);
	TEST_CHECK("writer killed mid-step", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "status %d", status);
	if (db_open(path, &db) == -1) {
		TEST_CHECK("re-open after the kill", 0, "failed");
		return;
	}
	memset(&r, 0, sizeof(r));
	TEST_CHECK("the killed batch is recovered after its last committed step",
	    db_recover(db, on_recovered, &r) == 1 && r.id[0] == id && r.last[0] == 7,
	    "count %d last %d", r.count, r.last[0]);
	TEST_CHECK("its steps are consistent", db_batch_verify_steps(db, id, why, sizeof(why)) == 0,
	    "%s", why);
	db_close(db);
	TEST_STR("integrity_check ok after the kill", file_text(path, "PRAGMA integrity_check"),
	    "ok");
}

/* ---- files the layer must refuse ---- */

static void
test_corrupt(void)
{
	const char *path = path_in("garbage.db");
	static const char garbage[] = "this is not an SQLite database, just some text in a file "
	    "that happens to be called garbage.db, long enough to fill a header........\n";
	const char *log;
	struct db *db = NULL;
	int fd, rc;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (int i = 0; i < 64; i++)
		if (write(fd, garbage, sizeof(garbage) - 1) < 0)
			break;
	close(fd);
	capture_begin();
	rc = db_open(path, &db);
	log = capture_end();
	TEST_CHECK("a garbage file is refused", rc == -1 && db == NULL, "rc %d", rc);
	TEST_CONTAINS("refusal names the file", log, path);
	TEST_CONTAINS("refusal says why", log, "not a database");
}

static int
count_row(void *arg, const struct db_step *row)
{
	(void)row;
	(*(int *)arg)++;
	return 0;
}

/*
 * A read that fails says so, with the database and SQLite's message
 * (db_error), for a reply that must not pass a partial record for whole;
 * texts come back whole at any length.
 */
static void
test_read_error(void)
{
	const char *path = path_in("readerr.db");
	struct fixture fx;
	struct db_batch row;
	struct db *db = NULL;
	char note[5001], want[600];
	sqlite3 *raw;
	int64_t id;
	int n = 0, rc;

	if (db_open(path, &db) == -1 || fixture_store(db, &fx) != 0 ||
	    (id = new_batch(db, fx.recipe_a1, fx.rig, "s")) == -1 || step_run(db, id, 1) == -1 ||
	    step_run(db, id, 2) == -1) {
		TEST_CHECK("read error: fixture", 0, "failed");
		db_close(db);
		return;
	}
	/* a note of 5,000 bytes of two-byte characters: stored and read back whole */
	memset(note, 0, sizeof(note));
	for (int i = 0; i + 2 <= 5000; i += 2)
		memcpy(note + i, "\xc3\xa9", 2);
	raw = raw_open(path);
	{
		sqlite3_stmt *st;
		sqlite3_prepare_v2(raw, "UPDATE batches SET note = ?1 WHERE id = ?2", -1, &st, NULL);
		sqlite3_bind_text(st, 1, note, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		TEST_CHECK("read error: a long note written", sqlite3_step(st) == SQLITE_DONE, "%s",
		    sqlite3_errmsg(raw));
		sqlite3_finalize(st);
	}
	rc = db_batch_get(db, id, &row);
	TEST_CHECK("a 5,000-byte note reads back whole", rc == 0 && row.note != NULL &&
	    strcmp(row.note, note) == 0, "rc %d, %zu bytes", rc, row.note ? strlen(row.note) : 0);
	if (rc == 0)
		db_batch_row_free(&row);
	rc = db_steps(db, id, count_row, &n);
	TEST_CHECK("steps read whole", rc == 0 && n == 2, "rc %d, %d rows", rc, n);
	/* the steps table goes behind the layer's back: the next read fails, named */
	raw_exec(raw, "PRAGMA foreign_keys = OFF; DROP TABLE steps;");
	sqlite3_close(raw);
	db_close(db);
	db = NULL;
	TEST_CHECK("read error: reopened for reading", db_open_readonly(path, &db) == 0, "failed");
	if (db == NULL)
		return;
	n = 0;
	capture_begin();
	rc = db_steps(db, id, count_row, &n);
	capture_end();
	TEST_CHECK("a failed listing returns -1", rc == -1 && n == 0, "rc %d, %d rows", rc, n);
	snprintf(want, sizeof(want), "database %s: ", path);
	TEST_CONTAINS("db_error names the database", db_error(db), want);
	TEST_CONTAINS("db_error says what was being read", db_error(db), "steps");
	TEST_CONTAINS("db_error carries SQLite's message", db_error(db), "no such table");
	db_close(db);
}

static void
test_readonly(void)
{
	const char *path = path_in("readonly.db");
	struct db *db = NULL;
	const char *log;
	pid_t pid;
	int status, rc;

	if (db_open(path, &db) == -1) {
		TEST_CHECK("create readonly.db", 0, "failed");
		return;
	}
	db_close(db);
	db = NULL;
	chmod(path, 0444);
	/* root writes any file: drop to nobody for this check, who may log to stderr.txt */
	chmod(tmpdir, 0755);
	close(open(path_in("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600));
	chmod(path_in("stderr.txt"), 0666);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (geteuid() == 0 && (setgid(65534) == -1 || setuid(65534) == -1))
			_exit(3);
		capture_begin();
		rc = db_open(path, &db);
		log = capture_end();
		_exit(rc == -1 && db == NULL && strstr(log, "read-only") != NULL ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	chmod(tmpdir, 0700);
	TEST_CHECK("a read-only file is refused, with a message",
	    WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lbl-test-db-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		printf("FAIL mkdtemp\n");
		return 1;
	}
	test_schema();
	test_migrations();
	test_migration_recipes();
	test_migration_atomic();
	test_newer();
	test_negative_version();
	test_not_a_file();
	test_recipes();
	test_batch_lifecycle();
	test_steps();
	test_step_start_corrected();
	test_devices_said();
	test_group();
	test_no_wait();
	test_syncer_checkpoint();
	test_events_told();
	test_history();
	test_recover();
	test_crash();
	test_corrupt();
	test_read_error();
	test_readonly();
	cleanup();
	return TEST_DONE();
}
