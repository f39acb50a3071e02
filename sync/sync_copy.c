/*
 * The copy: lbld's database, opened read-only, is watched cheaply (PRAGMA
 * data_version, every SYNC_POLL_MS); when it changed, a cycle finds what
 * to copy and copies it, whole batches in one central transaction.
 *
 * What can change, and how a cycle finds it (lbld deletes nothing):
 * - new batches: every id above the cursor's batch_max;
 * - a running or paused batch: each cycle, from the step, bilayer and
 *   event it had reached when last copied (settled steps never change);
 * - a batch the cursor holds as open (copied running, paused or
 *   interrupted): when its state, last settled step, bilayers, end or
 *   last event changed (interrupted -> resumed -> completed, or aborted
 *   by abort-batch);
 * - any batch that got an event since the last cycle (copied whole);
 * - events outside any batch, recipes and rig files above the cursor's
 *   ids, and all recipes when one was retired.
 * Every row is upserted (keyed by the rig and lbld's key), so a copy made
 * again after a crash, or of a batch that changed after it was copied,
 * overwrites and never duplicates. The cursor is written after each
 * commit; losing it costs a copy again, never a row.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "log.h"
#include "pidlock.h"
#include "sync.h"

struct sync_open {
	int64_t id;
	char state[16];
	int64_t last_step, bilayers, max_event;
	char ended_at[DB_UTC_LEN];
};

struct sync_cursor {
	char db_id[SYNC_UUID_LEN], rig[SYNC_UUID_LEN];
	int64_t batch_max, event_max, recipe_max, rigfile_max, retired_count;
	char retired_max[DB_UTC_LEN];
	struct sync_open *open;
	size_t nopen, capopen;
};

struct sync_stmt {
	char *sql;
	sqlite3_stmt *st;
};

struct sync {
	const struct sync_opts *o;
	volatile sig_atomic_t *stop;
	sqlite3 *lite;
	struct sync_pg pg;
	int checked;			/* the central schema was checked on this connection */
	struct sync_schema schema;
	char rig[SYNC_UUID_LEN], name[SYNC_MAX_NAME_BYTES + 1], host[256];
	char cursor_path[PATH_MAX];
	struct sync_cursor cur;
	struct sync_stmt stmts[64];
	struct sync_upsert up[SYNC_MAX_TABLES];
	int64_t *cand;
	size_t ncand, capcand;
	long long rows;			/* rows sent in this cycle */
	int cursor_failed;		/* the last cursor write failed (said once) */
};

/* Copies src into dst of size bytes: 0, or -1 (dst untouched) when it does not fit. */
static int
sync_set(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* ---- the rig's identity ---- */

static int
sync_uuid_valid(const char *s)
{
	int i;

	for (i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[36] == '\0' || s[36] == '\n';
}

int
sync_rig_id(const char *path, char out[SYNC_UUID_LEN])
{
	unsigned char r[16];
	char text[64];
	ssize_t n;
	int fd, i;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (n < 0) {
			log_warn("rig identity %s", path);
			return -1;
		}
		text[n] = '\0';
		if (n < 36 || !sync_uuid_valid(text)) {
			log_warnx("rig identity %s: expected one line with a UUID "
			    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, lowercase)", path);
			return -1;
		}
		memcpy(out, text, 36);
		out[36] = '\0';
		return 0;
	}
	if (errno != ENOENT) {
		log_warn("rig identity %s", path);
		return -1;
	}
	/* a version 4 UUID, made once; the package's postinst makes it first */
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		log_warn("making the rig identity %s: getrandom", path);
		return -1;
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	for (i = 0, n = 0; i < 16; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%s%02x",
		    i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", r[i]);
	text[n++] = '\n';
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) == -1) {
		if (errno == EEXIST)
			return sync_rig_id(path, out);
		log_warn("rig identity %s is missing and cannot be made (the package's postinst "
		    "makes it; or: uuidgen -r | sudo tee %s)", path, path);
		return -1;
	}
	if (write(fd, text, (size_t)n) != n || fsync(fd) == -1) {
		log_warn("making the rig identity %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	memcpy(out, text, 36);
	out[36] = '\0';
	log_info("rig identity %s made: %s", path, out);
	return 0;
}

/* ---- the cursor ---- */

static void
sync_cursor_reset(struct sync_cursor *c)
{
	free(c->open);
	memset(c, 0, sizeof(*c));
}

static struct sync_open *
sync_open_find(struct sync_cursor *c, int64_t id)
{
	size_t i;

	for (i = 0; i < c->nopen; i++)
		if (c->open[i].id == id)
			return &c->open[i];
	return NULL;
}

static struct sync_open *
sync_open_add(struct sync_cursor *c, int64_t id)
{
	struct sync_open *o = sync_open_find(c, id);

	if (o != NULL)
		return o;
	if (c->nopen == c->capopen) {
		size_t cap = c->capopen ? c->capopen * 2 : 8;
		struct sync_open *n = realloc(c->open, cap * sizeof(*n));
		if (n == NULL) {
			log_warn("the cursor's open batches");
			return NULL;
		}
		c->open = n;
		c->capopen = cap;
	}
	o = &c->open[c->nopen++];
	memset(o, 0, sizeof(*o));
	o->id = id;
	return o;
}

static void
sync_open_drop(struct sync_cursor *c, int64_t id)
{
	struct sync_open *o = sync_open_find(c, id);

	if (o != NULL)
		*o = c->open[--c->nopen];
}

/*
 * Reads the cursor; a missing one is a start from nothing, and so is one
 * that does not read (said): copying again is safe, only slower.
 */
static void
sync_cursor_read(struct sync *s)
{
	struct sync_cursor *c = &s->cur;
	char line[256], k[32], v1[64], v2[64];
	FILE *f;
	int lineno = 0, bad = 0;

	sync_cursor_reset(c);
	if ((f = fopen(s->cursor_path, "re")) == NULL) {
		if (errno != ENOENT)
			log_warn("cursor %s: copying everything again", s->cursor_path);
		return;
	}
	while (!bad && fgets(line, sizeof(line), f) != NULL) {
		long long a = 0, b = 0, d = 0;
		int n;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		n = sscanf(line, "%31s %63s %63s", k, v1, v2);
		if (n < 2) {
			bad = 1;
		} else if (strcmp(k, "central") == 0 || strcmp(k, "rig") == 0) {
			if (!sync_uuid_valid(v1))
				bad = 1;
			else
				bad = sync_set(k[0] == 'c' ? c->db_id : c->rig, SYNC_UUID_LEN, v1);
		} else if (strcmp(k, "batch_max") == 0) {
			bad = sscanf(v1, "%lld", &a) != 1;
			c->batch_max = a;
		} else if (strcmp(k, "event_max") == 0) {
			bad = sscanf(v1, "%lld", &a) != 1;
			c->event_max = a;
		} else if (strcmp(k, "recipe_max") == 0) {
			bad = sscanf(v1, "%lld", &a) != 1;
			c->recipe_max = a;
		} else if (strcmp(k, "rigfile_max") == 0) {
			bad = sscanf(v1, "%lld", &a) != 1;
			c->rigfile_max = a;
		} else if (strcmp(k, "retired") == 0) {
			bad = n != 3 || sscanf(v1, "%lld", &a) != 1;
			c->retired_count = a;
			if (!bad)
				bad = sync_set(c->retired_max, sizeof(c->retired_max),
				    strcmp(v2, "-") == 0 ? "" : v2);
		} else if (strcmp(k, "open") == 0) {
			/* open ID STATE STEP BILAYERS EVENT ENDED */
			struct sync_open o;
			char ended[64];

			memset(&o, 0, sizeof(o));
			if (sscanf(line, "open %lld %15s %lld %lld %lld %63s", &a, o.state, &b, &d,
			    (long long *)&o.max_event, ended) != 6) {
				bad = 1;
			} else {
				struct sync_open *p = sync_open_add(c, a);
				if (p == NULL) {
					bad = 1;
				} else {
					o.id = a;
					o.last_step = b;
					o.bilayers = d;
					bad = sync_set(o.ended_at, sizeof(o.ended_at),
					    strcmp(ended, "-") == 0 ? "" : ended);
					*p = o;
				}
			}
		} else {
			bad = 1;
		}
	}
	if (ferror(f))
		log_warn("cursor %s", s->cursor_path);
	fclose(f);
	if (bad) {
		log_warnx("cursor %s:%d: not a line lbl-sync writes: copying everything again",
		    s->cursor_path, lineno);
		sync_cursor_reset(c);
	}
}

/*
 * Writes the cursor whole or not at all: a temporary file, fsync, rename.
 * A failure (a full disk) is said once, with the file and errno, and the
 * copy goes on: the central side is right, and a later write, or a copy
 * made again from an older cursor, mends it.
 */
static int
sync_cursor_write(struct sync *s)
{
	const struct sync_cursor *c = &s->cur;
	char tmp[PATH_MAX + 8];
	FILE *f;
	size_t i;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", s->cursor_path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		if (!s->cursor_failed)
			log_warn("cursor %s: cannot write it (the copy goes on; a restart copies "
			    "again what it lost)", tmp);
		if (fd != -1)
			close(fd);
		s->cursor_failed = 1;
		return -1;
	}
	fprintf(f, "# lbl-sync's cursor: what of %s is in the central database\n",
	    s->o->db_path);
	fprintf(f, "central %s\nrig %s\nbatch_max %lld\nevent_max %lld\nrecipe_max %lld\n"
	    "rigfile_max %lld\nretired %lld %s\n", c->db_id, c->rig, (long long)c->batch_max,
	    (long long)c->event_max, (long long)c->recipe_max, (long long)c->rigfile_max,
	    (long long)c->retired_count, c->retired_max[0] ? c->retired_max : "-");
	for (i = 0; i < c->nopen; i++)
		fprintf(f, "open %lld %s %lld %lld %lld %s\n", (long long)c->open[i].id,
		    c->open[i].state, (long long)c->open[i].last_step,
		    (long long)c->open[i].bilayers, (long long)c->open[i].max_event,
		    c->open[i].ended_at[0] ? c->open[i].ended_at : "-");
	ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, s->cursor_path) == -1) {
		if (!s->cursor_failed)
			log_warn("cursor %s: cannot write it (the copy goes on; a restart copies "
			    "again what it lost)", s->cursor_path);
		s->cursor_failed = 1;
		unlink(tmp);
		return -1;
	}
	if (s->cursor_failed)
		log_info("cursor %s written again", s->cursor_path);
	s->cursor_failed = 0;
	return 0;
}

/* ---- the local database ---- */

/* A cached statement on the local database, prepared from sql once. */
static sqlite3_stmt *
sync_stmt(struct sync *s, const char *sql)
{
	size_t i;

	for (i = 0; i < sizeof(s->stmts) / sizeof(s->stmts[0]); i++) {
		struct sync_stmt *c = &s->stmts[i];
		if (c->sql != NULL && strcmp(c->sql, sql) == 0) {
			sqlite3_reset(c->st);
			sqlite3_clear_bindings(c->st);
			return c->st;
		}
		if (c->sql == NULL) {
			if (sqlite3_prepare_v3(s->lite, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st,
			    NULL) != SQLITE_OK) {
				log_warnx("database %s: preparing '%s': %s", s->o->db_path, sql,
				    sqlite3_errmsg(s->lite));
				return NULL;
			}
			if ((c->sql = strdup(sql)) == NULL) {
				sqlite3_finalize(c->st);
				c->st = NULL;
				log_warn("database %s", s->o->db_path);
				return NULL;
			}
			return c->st;
		}
	}
	log_warnx("lbl-sync: more local statements than its cache holds");
	return NULL;
}

static void
sync_local_close(struct sync *s)
{
	size_t i;

	for (i = 0; i < sizeof(s->stmts) / sizeof(s->stmts[0]); i++) {
		sqlite3_finalize(s->stmts[i].st);
		free(s->stmts[i].sql);
		s->stmts[i].st = NULL;
		s->stmts[i].sql = NULL;
	}
	if (s->lite != NULL)
		sqlite3_close(s->lite);
	s->lite = NULL;
}

static int
sync_local_fail(struct sync *s, const char *what)
{
	int sys = sqlite3_system_errno(s->lite);

	log_warnx("database %s: %s: %s%s%s", s->o->db_path, what, sqlite3_errmsg(s->lite),
	    sys ? ": " : "", sys ? strerror(sys) : "");
	return -1;
}

/* One integer from a query with up to two bound integers; -1 (logged) on error. */
static int
sync_local_int(struct sync *s, const char *sql, int64_t a, int64_t b, int64_t *out,
    const char *what)
{
	sqlite3_stmt *st = sync_stmt(s, sql);
	int rc;

	if (st == NULL)
		return -1;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, b);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sync_local_fail(s, what);
		sqlite3_reset(st);
		return -1;
	}
	*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

/*
 * Opens lbld's database read-only and checks that it is an lbl database of
 * the schema this lbl-sync copies. Returns 0, -1 when it cannot be opened
 * or read now (lbld not started yet, a lock: try again), -2 when it is not
 * what lbl-sync copies (said; a retry would not help).
 */
static int
sync_local_open(struct sync *s)
{
	sqlite3_stmt *st;
	int64_t v, tables;
	char sql[512];
	int rc, i, n;

	rc = sqlite3_open_v2(s->o->db_path, &s->lite, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		sync_local_fail(s, "cannot open it read-only");
		sync_local_close(s);
		return -1;
	}
	sqlite3_extended_result_codes(s->lite, 1);
	sqlite3_busy_timeout(s->lite, 5000);
	/* never a write, whatever the file's permissions would allow */
	if (sqlite3_exec(s->lite, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK) {
		rc = sqlite3_errcode(s->lite) & 0xff;
		sync_local_fail(s, "reading it");
		sync_local_close(s);
		return rc == SQLITE_NOTADB ? -2 : -1;
	}
	n = snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
	    "AND name IN (");
	for (i = 0; i < s->schema.n && n < (int)sizeof(sql); i++)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, "%s'%s'", i ? ", " : "",
		    s->schema.t[i].local);
	snprintf(sql + n, sizeof(sql) - (size_t)n, ")");
	if ((st = sync_stmt(s, "PRAGMA user_version")) == NULL ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = sqlite3_errcode(s->lite) & 0xff;
		sync_local_fail(s, "reading its schema version");
		sync_local_close(s);
		if (rc == SQLITE_NOTADB) {
			log_warnx("database %s is not an lbl database (not an SQLite file)",
			    s->o->db_path);
			return -2;
		}
		snprintf(sql, sizeof(sql), "%s-wal", s->o->db_path);
		if ((rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN) && access(sql, F_OK) == -1 &&
		    errno == ENOENT)
			/*
			 * A WAL database whose -wal and -shm files are gone (lbld
			 * stopped cleanly) can be read only by someone who may make
			 * them again; nothing changes meanwhile, so lbl-sync waits.
			 */
			log_info("database %s: lbld is not running (no %s, which a reader "
			    "without write access cannot make): waiting for it", s->o->db_path, sql);
		return -1;
	}
	v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (sync_local_int(s, sql, 0, 0, &tables, "looking for lbl's tables") == -1) {
		sync_local_close(s);
		return -1;
	}
	if (v == 0 || tables != s->schema.n) {
		log_warnx("database %s is not an lbl database (schema version %lld, %lld of lbl's "
		    "%d tables)", s->o->db_path, (long long)v, (long long)tables, s->schema.n);
		sync_local_close(s);
		return -2;
	}
	if (v != DB_SCHEMA_VERSION) {
		log_warnx("database %s has schema version %lld; this lbl-sync copies version %d: "
		    "run the lbl-sync of the lbl release that lbld is", s->o->db_path,
		    (long long)v, DB_SCHEMA_VERSION);
		sync_local_close(s);
		return -2;
	}
	return 0;
}

/* ---- copying rows ---- */

/*
 * Copies the rows of table ti (in the schema) that where selects (an SQL
 * condition with nbind integer parameters, ?1 = a and ?2 = b) into the
 * table's upsert, which sends them in full statements as it fills.
 */
static int
sync_copy_rows(struct sync *s, int ti, const char *where, int nbind, int64_t a, int64_t b)
{
	const struct sync_table *t = &s->schema.t[ti];
	struct sync_upsert *u = &s->up[ti];
	sqlite3_stmt *st;
	char sql[1024], num[40], what[96];
	int c, n, rc;

	n = snprintf(sql, sizeof(sql), "SELECT ");
	for (c = 0; c < t->ncols; c++)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, "%s%s", c ? ", " : "", t->cols[c]);
	n += snprintf(sql + n, sizeof(sql) - (size_t)n, " FROM %s WHERE %s", t->local, where);
	if (n >= (int)sizeof(sql)) {
		log_warnx("lbl-sync: the query of table %s is too long", t->local);
		return -1;
	}
	if ((st = sync_stmt(s, sql)) == NULL)
		return -1;
	if (nbind >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (nbind >= 2)
		sqlite3_bind_int64(st, 2, b);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sync_upsert_begin_row(u) == -1)
			goto fail;
		for (c = 0; c < t->ncols; c++) {
			const char *text = NULL;
			size_t len = 0;

			switch (sqlite3_column_type(st, c)) {
			case SQLITE_NULL:
				break;
			case SQLITE_INTEGER:
				len = (size_t)snprintf(num, sizeof(num), "%lld",
				    (long long)sqlite3_column_int64(st, c));
				text = num;
				break;
			case SQLITE_FLOAT:
				/* 17 digits: the central double is the very same number */
				len = (size_t)snprintf(num, sizeof(num), "%.17g",
				    sqlite3_column_double(st, c));
				text = num;
				break;
			case SQLITE_TEXT:
				text = (const char *)sqlite3_column_text(st, c);
				len = (size_t)sqlite3_column_bytes(st, c);
				break;
			default:
				log_warnx("database %s: %s.%s holds a blob, which the record never "
				    "has: not copying it", s->o->db_path, t->local, t->cols[c]);
				goto fail;
			}
			if (sync_upsert_value(u, text, len) == -1)
				goto fail;
		}
		if (sync_upsert_end_row(u) == -1)
			goto fail;
		s->rows++;
	}
	if (rc != SQLITE_DONE) {
		snprintf(what, sizeof(what), "reading %s", t->local);
		sync_local_fail(s, what);
		goto fail;
	}
	sqlite3_reset(st);
	return 0;
fail:
	sqlite3_reset(st);
	return -1;
}

static int
sync_table_index(const struct sync *s, const char *local)
{
	const struct sync_table *t = sync_schema_table(&s->schema, local);

	return t ? (int)(t - s->schema.t) : -1;
}

static int
sync_flush_all(struct sync *s)
{
	int i;

	for (i = 0; i < s->schema.n; i++)
		if (sync_upsert_flush(&s->up[i]) == -1)
			return -1;
	return 0;
}

/* Where a batch's progress is: its signature for the open list. */
static int
sync_batch_mark(struct sync *s, int64_t id, struct sync_open *o)
{
	sqlite3_stmt *st = sync_stmt(s, "SELECT state, last_step_seq, bilayers_done, "
	    "coalesce(ended_at, ''), (SELECT coalesce(max(id), 0) FROM events WHERE batch_id = ?1) "
	    "FROM batches WHERE id = ?1");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			log_warnx("database %s: batch %lld is gone", s->o->db_path, (long long)id);
		else
			sync_local_fail(s, "reading a batch's progress");
		sqlite3_reset(st);
		return -1;
	}
	memset(o, 0, sizeof(*o));
	o->id = id;
	snprintf(o->state, sizeof(o->state), "%s", (const char *)sqlite3_column_text(st, 0));
	o->last_step = sqlite3_column_int64(st, 1);
	o->bilayers = sqlite3_column_int64(st, 2);
	snprintf(o->ended_at, sizeof(o->ended_at), "%s", (const char *)sqlite3_column_text(st, 3));
	o->max_event = sqlite3_column_int64(st, 4);
	sqlite3_reset(st);
	return 0;
}

static int
sync_state_open(const char *state)
{
	return strcmp(state, "running") == 0 || strcmp(state, "paused") == 0 ||
	    strcmp(state, "interrupted") == 0;
}

/*
 * Copies one batch: whole, or, when the cursor holds it open, from where
 * its last copy was (steps after the last settled one, the last bilayer
 * on, events after the last). *mark gets its progress as copied.
 */
static int
sync_copy_batch(struct sync *s, int64_t id, struct sync_open *mark)
{
	const struct sync_open *from = sync_open_find(&s->cur, id);
	int64_t step = from ? from->last_step : 0, bil = from ? from->bilayers : 0;
	int64_t ev = from ? from->max_event : 0;
	int i;

	if (sync_batch_mark(s, id, mark) == -1)
		return -1;
	for (i = 0; i < s->schema.n; i++) {
		const char *t = s->schema.t[i].local;
		int rc;

		if (strcmp(t, "recipes") == 0 || strcmp(t, "rigs") == 0)
			continue;
		if (strcmp(t, "batches") == 0)
			rc = sync_copy_rows(s, i, "id = ?1", 1, id, 0);
		else if (strcmp(t, "steps") == 0)
			rc = sync_copy_rows(s, i, "batch_id = ?1 AND seq > ?2", 2, id, step);
		else if (strcmp(t, "bilayers") == 0)
			rc = sync_copy_rows(s, i, "batch_id = ?1 AND n >= ?2", 2, id, bil);
		else if (strcmp(t, "events") == 0)
			rc = sync_copy_rows(s, i, "batch_id = ?1 AND id > ?2", 2, id, ev);
		else
			/* solutions, baselines and any table of a batch's own: whole */
			rc = sync_copy_rows(s, i, "batch_id = ?1", 1, id, 0);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
sync_cand_add(struct sync *s, int64_t id)
{
	if (s->ncand == s->capcand) {
		size_t cap = s->capcand ? s->capcand * 2 : 256;
		int64_t *n = realloc(s->cand, cap * sizeof(*n));
		if (n == NULL) {
			log_warn("the batches to copy");
			return -1;
		}
		s->cand = n;
		s->capcand = cap;
	}
	s->cand[s->ncand++] = id;
	return 0;
}

static int
sync_cand_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Adds the ids a query (up to two integer parameters) lists. */
static int
sync_cand_query(struct sync *s, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st = sync_stmt(s, sql);
	int rc;

	if (st == NULL)
		return -1;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, b);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (sync_cand_add(s, sqlite3_column_int64(st, 0)) == -1) {
			sqlite3_reset(st);
			return -1;
		}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sync_local_fail(s, "listing the batches to copy");
	return 0;
}

/* The batches this cycle copies, ascending, each once; *event_top: the last event. */
static int
sync_candidates(struct sync *s, int64_t *event_top)
{
	size_t i, j;

	s->ncand = 0;
	if (sync_local_int(s, "SELECT coalesce(max(id), 0) FROM events", 0, 0, event_top,
	    "reading the last event") == -1 ||
	    sync_cand_query(s, "SELECT id FROM batches WHERE id > ?1", s->cur.batch_max, 0) == -1 ||
	    sync_cand_query(s, "SELECT id FROM batches WHERE state IN ('running', 'paused')", 0,
	    0) == -1 ||
	    sync_cand_query(s, "SELECT DISTINCT batch_id FROM events WHERE id > ?1 AND id <= ?2 "
	    "AND batch_id IS NOT NULL", s->cur.event_max, *event_top) == -1)
		return -1;
	for (i = 0; i < s->cur.nopen; i++) {
		struct sync_open now, *was = &s->cur.open[i];

		if (sync_batch_mark(s, was->id, &now) == -1)
			return -1;
		if (strcmp(now.state, was->state) != 0 || now.last_step != was->last_step ||
		    now.bilayers != was->bilayers || now.max_event != was->max_event ||
		    strcmp(now.ended_at, was->ended_at) != 0)
			if (sync_cand_add(s, was->id) == -1)
				return -1;
	}
	if (s->ncand == 0)
		return 0;
	qsort(s->cand, s->ncand, sizeof(*s->cand), sync_cand_cmp);
	for (i = 1, j = 1; i < s->ncand; i++)
		if (s->cand[i] != s->cand[j - 1])
			s->cand[j++] = s->cand[i];
	s->ncand = j;
	return 0;
}

static int
sync_lite_exec(struct sync *s, const char *sql, const char *what)
{
	if (sqlite3_exec(s->lite, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sync_local_fail(s, what);
	return 0;
}

static void
sync_rollback(struct sync *s)
{
	int i;

	for (i = 0; i < s->schema.n; i++) {
		s->up[i].rows = 0;
		s->up[i].nvals = 0;
		s->up[i].len = 0;
	}
	if (!sqlite3_get_autocommit(s->lite))
		sqlite3_exec(s->lite, "ROLLBACK", NULL, NULL, NULL);
	if (!sync_pg_lost(&s->pg) && PQtransactionStatus(s->pg.conn) != PQTRANS_IDLE)
		sync_pg_exec(&s->pg, "ROLLBACK", 0, NULL, "rolling back the copy");
}

/*
 * One central transaction: the rig's row, recipes and rig files new since
 * the cursor (all recipes when retired ones changed), events outside any
 * batch (with first), and the batches cand[from .. to), each whole or
 * from where its last copy left it (sync_copy_batch).
 * Returns 0, -1 on failure (rolled back), 1 when stopped (rolled back).
 */
static int
sync_chunk(struct sync *s, size_t from, size_t to, int first)
{
	const char *rigp[4] = { s->rig, s->name, s->host, LBL_VERSION };
	struct sync_open *marks = NULL;
	int64_t recipe_top, rigfile_top, retired_count;
	char retired_max[DB_UTC_LEN] = "";
	int all_recipes, ri, gi, ei;
	sqlite3_stmt *st;
	size_t i;

	ri = sync_table_index(s, "recipes");
	gi = sync_table_index(s, "rigs");
	ei = sync_table_index(s, "events");
	if (ri < 0 || gi < 0 || ei < 0) {
		log_warnx("lbl-sync: the record has no recipes, rigs or events table");
		return -1;
	}
	if (to > from && (marks = calloc(to - from, sizeof(*marks))) == NULL) {
		log_warn("copying batches");
		return -1;
	}
	/* one snapshot of the local record for the whole transaction */
	if (sync_lite_exec(s, "BEGIN", "starting a read") == -1)
		goto fail;
	if (sync_local_int(s, "SELECT coalesce(max(id), 0) FROM recipes", 0, 0, &recipe_top,
	    "reading the last recipe") == -1 ||
	    sync_local_int(s, "SELECT coalesce(max(id), 0) FROM rigs", 0, 0, &rigfile_top,
	    "reading the last rig file") == -1 ||
	    sync_local_int(s, "SELECT count(retired_at) FROM recipes", 0, 0, &retired_count,
	    "counting retired recipes") == -1)
		goto fail;
	if ((st = sync_stmt(s, "SELECT coalesce(max(retired_at), '') FROM recipes")) == NULL ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sync_local_fail(s, "reading when a recipe was last retired");
		goto fail;
	}
	snprintf(retired_max, sizeof(retired_max), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	all_recipes = retired_count != s->cur.retired_count ||
	    strcmp(retired_max, s->cur.retired_max) != 0;

	if (sync_pg_exec(&s->pg, "BEGIN", 0, NULL, "starting the copy's transaction") == -1 ||
	    sync_pg_exec(&s->pg, "INSERT INTO rigs (uuid, name, host, software_version, "
	    "last_sync_at) VALUES ($1, $2, $3, $4, now()) ON CONFLICT (uuid) DO UPDATE SET "
	    "name = EXCLUDED.name, host = EXCLUDED.host, software_version = "
	    "EXCLUDED.software_version, last_sync_at = now()", 4, rigp,
	    "recording the rig") == -1)
		goto fail;
	if (sync_copy_rows(s, ri, "id > ?1", 1, all_recipes ? 0 : s->cur.recipe_max, 0) == -1 ||
	    sync_copy_rows(s, gi, "id > ?1", 1, s->cur.rigfile_max, 0) == -1)
		goto fail;
	if (first && sync_copy_rows(s, ei, "batch_id IS NULL AND id > ?1", 1, s->cur.event_max,
	    0) == -1)
		goto fail;
	for (i = from; i < to; i++) {
		if (*s->stop) {
			sync_rollback(s);
			free(marks);
			return 1;
		}
		if (sync_copy_batch(s, s->cand[i], &marks[i - from]) == -1)
			goto fail;
	}
	if (sync_flush_all(s) == -1)
		goto fail;
	if (*s->stop) {
		sync_rollback(s);
		free(marks);
		return 1;
	}
	if (sync_pg_exec(&s->pg, "COMMIT", 0, NULL, "committing the copy") == -1)
		goto fail;
	sync_lite_exec(s, "COMMIT", "ending a read");

	/* what the central database now holds */
	s->cur.recipe_max = recipe_top;
	s->cur.rigfile_max = rigfile_top;
	s->cur.retired_count = retired_count;
	snprintf(s->cur.retired_max, sizeof(s->cur.retired_max), "%s", retired_max);
	for (i = from; i < to; i++) {
		struct sync_open *m = &marks[i - from];

		if (s->cand[i] > s->cur.batch_max)
			s->cur.batch_max = s->cand[i];
		if (sync_state_open(m->state)) {
			struct sync_open *o = sync_open_add(&s->cur, m->id);
			if (o != NULL)
				*o = *m;
		} else {
			sync_open_drop(&s->cur, m->id);
		}
	}
	free(marks);
	sync_cursor_write(s);
	return 0;
fail:
	sync_rollback(s);
	free(marks);
	return -1;
}

/*
 * A cycle: finds what changed and copies it, SYNC_BATCHES_PER_TXN whole
 * batches a transaction. Returns 0, -1 on failure, 1 when stopped.
 */
static int
sync_cycle(struct sync *s)
{
	int64_t event_top;
	size_t from, to;
	int rc, first = 1, was_big;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	s->rows = 0;
	if (sync_lite_exec(s, "BEGIN", "starting a read") == -1)
		return -1;
	rc = sync_candidates(s, &event_top);
	sync_lite_exec(s, "COMMIT", "ending a read");
	if (rc == -1)
		return -1;
	was_big = s->ncand > SYNC_BATCHES_PER_TXN;
	if (was_big)
		log_info("catching up: %zu batches to copy to the %s", s->ncand, s->pg.where);
	from = 0;
	do {
		to = from + SYNC_BATCHES_PER_TXN < s->ncand ? from + SYNC_BATCHES_PER_TXN : s->ncand;
		if ((rc = sync_chunk(s, from, to, first)) != 0)
			return rc;
		first = 0;
		from = to;
	} while (from < s->ncand);
	if (s->cur.event_max != event_top) {
		s->cur.event_max = event_top;
		sync_cursor_write(s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (s->ncand > 0 || s->rows > 0) {
		double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (was_big)
			log_info("copied %zu batches (%lld rows) in %.1f s", s->ncand, s->rows,
			    ms / 1000);
		else
			log_debug("copied %zu batches (%lld rows) in %.1f ms", s->ncand, s->rows, ms);
	}
	return 0;
}

/* ---- the loop ---- */

/* Sleeps ms, waking early when stopped. */
static void
sync_sleep(volatile sig_atomic_t *stop, int ms)
{
	while (ms > 0 && !*stop) {
		int step = ms > 100 ? 100 : ms;
		struct timespec ts = { 0, (long)step * 1000000L };

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Connects and checks the central schema: 0, -1 (retry), -2 (fatal). */
static int
sync_central(struct sync *s)
{
	char db_id[SYNC_UUID_LEN];
	int rc;

	if (sync_pg_connect(&s->pg, s->o->uri) == -1)
		return -1;
	if ((rc = sync_pg_check(&s->pg, &s->schema, db_id)) != 0) {
		sync_pg_close(&s->pg);
		return rc;
	}
	if (strcmp(db_id, s->cur.db_id) != 0 || strcmp(s->rig, s->cur.rig) != 0) {
		if (s->cur.db_id[0])
			log_info("%s is not the database the cursor was kept for (or the rig's "
			    "identity changed): copying everything", s->pg.where);
		sync_cursor_reset(&s->cur);
		snprintf(s->cur.db_id, sizeof(s->cur.db_id), "%s", db_id);
		snprintf(s->cur.rig, sizeof(s->cur.rig), "%s", s->rig);
	}
	log_info("copying %s (rig %s, %s) to the %s", s->o->db_path, s->name, s->rig,
	    s->pg.where);
	return 0;
}

int
sync_run(const struct sync_opts *o, volatile sig_atomic_t *stop)
{
	struct sync *s;
	char lock[PATH_MAX + 16], pid[32], err[PATH_MAX + 128];
	int64_t version = -1, now;
	int backoff = 0, rc, status = 1, lockfd = -1, i, need = 1;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("lbl-sync");
		return 1;
	}
	s->o = o;
	s->stop = stop;
	if (sync_schema_load(&s->schema) == -1 || sync_rig_id(o->rig_id_path, s->rig) == -1)
		goto out;
	if (gethostname(s->host, sizeof(s->host) - 1) == -1)
		snprintf(s->host, sizeof(s->host), "unknown");
	if (sync_set(s->name, sizeof(s->name), o->name ? o->name : s->host) == -1)
		/* a host name (up to 255 bytes, ASCII) past a rig name's limit: cut */
		snprintf(s->name, sizeof(s->name), "%.*s", SYNC_MAX_NAME_BYTES,
		    o->name ? o->name : s->host);
	if (snprintf(s->cursor_path, sizeof(s->cursor_path), "%s/cursor", o->state_dir) >=
	    (int)sizeof(s->cursor_path) || snprintf(lock, sizeof(lock), "%s/lbl-sync.lock",
	    o->state_dir) >= (int)sizeof(lock)) {
		log_warnx("state directory %s: path too long", o->state_dir);
		goto out;
	}
	/* one lbl-sync per state directory: two would fight over the cursor */
	lockfd = pidlock_take(lock, pid, sizeof(pid), err, sizeof(err));
	if (lockfd == -2) {
		log_warnx("another lbl-sync (pid %s) copies with the state directory %s", pid,
		    o->state_dir);
		goto out;
	}
	if (lockfd == -1) {
		log_warnx("%s", err);
		goto out;
	}
	for (i = 0; i < s->schema.n; i++)
		sync_upsert_init(&s->up[i], &s->pg, &s->schema.t[i], s->rig);
	sync_cursor_read(s);

	while (!*stop) {
		if (s->lite == NULL) {
			rc = sync_local_open(s);
			if (rc == -2)
				goto out;
			if (rc == -1)
				goto retry;
			version = -1;
		}
		if (sync_pg_lost(&s->pg)) {
			sync_pg_close(&s->pg);
			rc = sync_central(s);
			if (rc == -2)
				goto out;
			if (rc == -1)
				goto retry;
			need = 1;
		}
		if (sync_local_int(s, "PRAGMA data_version", 0, 0, &now,
		    "reading whether it changed") == -1) {
			sync_local_close(s);
			goto retry;
		}
		if (need || now != version) {
			rc = sync_cycle(s);
			if (rc == 1)
				break;
			if (rc == -1) {
				/* the connection, or the local file: both are opened again */
				if (!sync_pg_lost(&s->pg))
					sync_pg_close(&s->pg);
				sync_local_close(s);
				goto retry;
			}
			version = now;
			need = 0;
			backoff = 0;
			if (o->once) {
				status = 0;
				goto out;
			}
		}
		sync_sleep(stop, SYNC_POLL_MS);
		continue;
retry:
		if (o->once)
			goto out;
		backoff = backoff ? backoff * 2 : SYNC_BACKOFF_MIN_MS;
		if (backoff > SYNC_BACKOFF_MAX_MS)
			backoff = SYNC_BACKOFF_MAX_MS;
		log_info("trying again in %d s", backoff / 1000);
		sync_sleep(stop, backoff);
	}
	log_info("stopped%s", s->cursor_failed ? " (the cursor could not be written: the next "
	    "start copies again what it lacks)" : "");
	status = 0;
out:
	sync_pg_close(&s->pg);
	sync_local_close(s);
	for (i = 0; i < s->schema.n; i++)
		sync_upsert_free(&s->up[i]);
	sync_schema_free(&s->schema);
	sync_cursor_reset(&s->cur);
	free(s->cand);
	free(s);
	if (lockfd >= 0)
		close(lockfd);
	return status;
}
