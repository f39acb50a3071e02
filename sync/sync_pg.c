/*
 * The central database: the connection, the central schema and the
 * statements that copy rows into it. Every failure names the database
 * (never its password), what was being done, the statement's start and
 * the server's message with its SQLSTATE.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "sync.h"

/*
 * The central schema's own migrations, each taking lbl_sync_schema.version
 * from its index to the next, in the one transaction of --init. Like the
 * local ones, a released migration is never edited.
 */
static const char *const sync_migrations[SYNC_SCHEMA_VERSION] = {
	/* 0 -> 1: the rigs that copy into this database */
	"CREATE TABLE rigs ("
	"  uuid uuid PRIMARY KEY,"
	"  name text NOT NULL,"
	"  host text NOT NULL,"
	"  software_version text NOT NULL,"
	"  first_seen_at timestamptz NOT NULL DEFAULT now(),"
	"  last_sync_at timestamptz)",
};

/* Indexes for the lab's questions (a lot's batches, a recipe's across rigs). */
static const char sync_indexes[] =
	"CREATE INDEX IF NOT EXISTS batches_started ON batches (started_at);"
	"CREATE INDEX IF NOT EXISTS recipes_name ON recipes (name, version);"
	"CREATE INDEX IF NOT EXISTS solutions_lot ON solutions (lot);"
	"CREATE INDEX IF NOT EXISTS events_batch ON events (rig, batch_id, id)";

/* A key of our own for pg_advisory_xact_lock: "lbl-sync" in ASCII. */
#define SYNC_INIT_LOCK	"7813302427149138795"

static void
sync_pg_notice(void *arg, const char *message)
{
	(void)arg;
	/* "relation ... already exists, skipping": --init run again */
	log_debug("central database: %s", message);
}

static void
sync_pg_describe(struct sync_pg *pg)
{
	const char *host = PQhost(pg->conn), *port = PQport(pg->conn);

	snprintf(pg->where, sizeof(pg->where), "central database %s on %s%s%s as %s",
	    PQdb(pg->conn) ? PQdb(pg->conn) : "?", host && *host ? host : "the local socket",
	    port && *port ? ":" : "", port && *port ? port : "",
	    PQuser(pg->conn) ? PQuser(pg->conn) : "?");
}

/* The message of a failed connection or statement, on one line. */
static void
sync_pg_message(const char *in, char *out, size_t size)
{
	size_t i, n = 0;

	for (i = 0; in && in[i] && n + 1 < size; i++) {
		char ch = in[i] == '\n' || in[i] == '\t' ? ' ' : in[i];
		if (ch == ' ' && (n == 0 || out[n - 1] == ' '))
			continue;
		out[n++] = ch;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, size, "no message from the server");
}

int
sync_pg_connect(struct sync_pg *pg, const char *uri)
{
	static unsigned generation;
	/* the URI comes last: what it says wins over these defaults */
	static const char *const keys[] = { "connect_timeout", "application_name",
		"keepalives_idle", "keepalives_interval", "keepalives_count", "dbname", NULL };
	const char *values[] = { "10", "lbl-sync", "30", "10", "3", uri, NULL };
	char msg[512];

	memset(pg, 0, sizeof(*pg));
	pg->generation = ++generation;
	pg->conn = PQconnectdbParams(keys, values, 1);
	if (pg->conn == NULL) {
		log_warnx("central database: out of memory connecting");
		return -1;
	}
	sync_pg_describe(pg);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		sync_pg_message(PQerrorMessage(pg->conn), msg, sizeof(msg));
		log_warnx("%s: cannot connect: %s", pg->where, msg);
		PQfinish(pg->conn);
		pg->conn = NULL;
		return -1;
	}
	PQsetNoticeProcessor(pg->conn, sync_pg_notice, NULL);
	/* the record's stamps are text; timestamps of our own are shown in UTC */
	if (sync_pg_exec(pg, "SET TIME ZONE 'UTC'", 0, NULL, "setting the session's time zone")
	    == -1) {
		sync_pg_close(pg);
		return -1;
	}
	return 0;
}

void
sync_pg_close(struct sync_pg *pg)
{
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pg->conn = NULL;
}

int
sync_pg_lost(const struct sync_pg *pg)
{
	return pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK;
}

/* Logs a failed statement: where, what, the SQL's start, the server's word. */
static void
sync_pg_report(struct sync_pg *pg, PGresult *res, const char *sql, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char msg[512], head[100];
	size_t n = strlen(sql);

	sync_pg_message(primary ? primary : PQerrorMessage(pg->conn), msg, sizeof(msg));
	snprintf(head, sizeof(head), "%.*s%s", n > 80 ? 80 : (int)n, sql, n > 80 ? "..." : "");
	log_warnx("%s: %s: %s%s%s%s [SQL: %s]", pg->where, what, msg, state ? " (SQLSTATE " : "",
	    state ? state : "", state ? ")" : "", head);
	if (detail)
		log_warnx("%s: %s: detail: %s", pg->where, what, detail);
}

PGresult *
sync_pg_query(struct sync_pg *pg, const char *sql, int n, const char *const *params,
    const char *what)
{
	PGresult *res;
	ExecStatusType st;

	if (pg->conn == NULL) {
		log_warnx("central database: %s: not connected", what);
		return NULL;
	}
	res = PQexecParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		sync_pg_report(pg, res, sql, what);
		PQclear(res);
		return NULL;
	}
	return res;
}

int
sync_pg_exec(struct sync_pg *pg, const char *sql, int n, const char *const *params,
    const char *what)
{
	PGresult *res;

	if (n == 0 && pg->conn != NULL) {
		/* several statements in one text (the schema's) go as a simple query */
		ExecStatusType st;

		res = PQexec(pg->conn, sql);
		st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			sync_pg_report(pg, res, sql, what);
			PQclear(res);
			return -1;
		}
		PQclear(res);
		return 0;
	}
	if ((res = sync_pg_query(pg, sql, n, params, what)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* ---- the schema ---- */

/* A growing SQL text; on out of memory it is marked failed and stays empty. */
struct sync_sql {
	char *s;
	size_t len, cap;
	int failed;
};

static void
sql_add(struct sync_sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sql_add(struct sync_sql *q, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (q->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(q->s ? q->s + q->len : NULL, q->s ? q->cap - q->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			q->failed = 1;
			return;
		}
		if (q->s != NULL && q->len + (size_t)n < q->cap) {
			q->len += (size_t)n;
			return;
		}
		size_t cap = q->cap ? q->cap : 1024;
		while (cap <= q->len + (size_t)n)
			cap *= 2;
		char *s = realloc(q->s, cap);
		if (s == NULL) {
			log_warn("building a statement for the central database");
			q->failed = 1;
			return;
		}
		q->s = s;
		q->cap = cap;
	}
}

/* The CREATE TABLE of a mirrored table: the rig, then the local columns. */
static void
sync_create_table(struct sync_sql *q, const struct sync_table *t)
{
	int c, k, n = 0;

	sql_add(q, "CREATE TABLE %s (rig uuid NOT NULL REFERENCES rigs (uuid)", t->central);
	for (c = 0; c < t->ncols; c++)
		sql_add(q, ", %s %s%s", t->cols[c], sync_pg_type(t->types[c]),
		    t->notnull[c] || t->pk[c] ? " NOT NULL" : "");
	sql_add(q, ", PRIMARY KEY (rig");
	for (k = 1; k <= t->ncols; k++)
		for (c = 0; c < t->ncols; c++)
			if (t->pk[c] == k) {
				sql_add(q, ", %s", t->cols[c]);
				n++;
			}
	sql_add(q, "));");
	(void)n;
}

/* Reads lbl_sync_schema: 1 with the versions, 0 when it does not exist. */
static int
sync_versions(struct sync_pg *pg, int *version, int *record, char db_id[SYNC_UUID_LEN])
{
	PGresult *res;

	res = sync_pg_query(pg, "SELECT to_regclass('lbl_sync_schema') IS NOT NULL", 0, NULL,
	    "looking for lbl-sync's schema");
	if (res == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = sync_pg_query(pg, "SELECT version, record_version, db_id FROM lbl_sync_schema", 0,
	    NULL, "reading the central schema's version");
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		log_warnx("%s: lbl_sync_schema holds %d rows, not one: not lbl-sync's schema",
		    pg->where, PQntuples(res));
		PQclear(res);
		return -2;
	}
	*version = atoi(PQgetvalue(res, 0, 0));
	*record = atoi(PQgetvalue(res, 0, 1));
	if (db_id)
		snprintf(db_id, SYNC_UUID_LEN, "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	return 1;
}

static int
sync_newer(struct sync_pg *pg, int version, int record)
{
	if (version <= SYNC_SCHEMA_VERSION && record <= DB_SCHEMA_VERSION)
		return 0;
	log_warnx("%s: the central schema is version %d (record version %d), newer than this "
	    "lbl-sync knows (%d, record %d): refusing to write to it; upgrade lbl on this rig",
	    pg->where, version, record, SYNC_SCHEMA_VERSION, DB_SCHEMA_VERSION);
	return -2;
}

/* The columns the central table has: a PGresult of column_name, or NULL. */
static PGresult *
sync_central_columns(struct sync_pg *pg, const char *table)
{
	const char *p[1] = { table };

	return sync_pg_query(pg, "SELECT column_name FROM information_schema.columns "
	    "WHERE table_schema = current_schema() AND table_name = $1", 1, p,
	    "listing a central table's columns");
}

static int
sync_has_column(PGresult *res, const char *col)
{
	int i;

	for (i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), col) == 0)
			return 1;
	return 0;
}

int
sync_pg_init(struct sync_pg *pg, const struct sync_schema *s)
{
	struct sync_sql q = { 0 };
	int version = 0, record = 0, rc, i, c, created = 0, added = 0;
	char sql[128];

	if (sync_pg_exec(pg, "BEGIN", 0, NULL, "starting the schema's transaction") == -1 ||
	    sync_pg_exec(pg, "SELECT pg_advisory_xact_lock(" SYNC_INIT_LOCK ")", 0, NULL,
	    "waiting for any other lbl-sync --init") == -1)
		goto fail;
	rc = sync_versions(pg, &version, &record, NULL);
	if (rc < 0)
		goto fail;
	if (rc == 0 && sync_pg_exec(pg, "CREATE TABLE lbl_sync_schema ("
	    "  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
	    "  version integer NOT NULL,"
	    "  record_version integer NOT NULL,"
	    "  db_id uuid NOT NULL DEFAULT gen_random_uuid(),"
	    "  created_at timestamptz NOT NULL DEFAULT now());"
	    "INSERT INTO lbl_sync_schema (version, record_version) VALUES (0, 0)", 0, NULL,
	    "creating lbl_sync_schema") == -1)
		goto fail;
	if (sync_newer(pg, version, record) == -2) {
		sync_pg_exec(pg, "ROLLBACK", 0, NULL, "rolling back");
		return -2;
	}
	for (; version < SYNC_SCHEMA_VERSION; version++) {
		snprintf(sql, sizeof(sql), "UPDATE lbl_sync_schema SET version = %d", version + 1);
		if (sync_pg_exec(pg, sync_migrations[version], 0, NULL,
		    "migrating the central schema") == -1 ||
		    sync_pg_exec(pg, sql, 0, NULL, "recording the central schema's version") == -1)
			goto fail;
		printf("central schema: version %d to %d\n", version, version + 1);
	}
	/*
	 * The mirrored tables, made or completed from the local schema: a
	 * table it lacks is made, a column it lacks is added (without NOT
	 * NULL: rows copied before have no value for it).
	 */
	for (i = 0; i < s->n; i++) {
		const struct sync_table *t = &s->t[i];
		PGresult *cols = sync_central_columns(pg, t->central);

		if (cols == NULL)
			goto fail;
		if (PQntuples(cols) == 0) {
			sync_create_table(&q, t);
			created++;
		} else {
			for (c = 0; c < t->ncols; c++)
				if (!sync_has_column(cols, t->cols[c])) {
					sql_add(&q, "ALTER TABLE %s ADD COLUMN %s %s;", t->central,
					    t->cols[c], sync_pg_type(t->types[c]));
					added++;
				}
		}
		PQclear(cols);
	}
	sql_add(&q, "%s;", sync_indexes);
	snprintf(sql, sizeof(sql), "UPDATE lbl_sync_schema SET record_version = %d",
	    DB_SCHEMA_VERSION);
	sql_add(&q, "%s", sql);
	if (q.failed || sync_pg_exec(pg, q.s, 0, NULL, "making the mirrored tables") == -1 ||
	    sync_pg_exec(pg, "COMMIT", 0, NULL, "committing the central schema") == -1)
		goto fail;
	free(q.s);
	printf("central schema: version %d, record version %d (%d tables made, %d columns "
	    "added)\n", SYNC_SCHEMA_VERSION, DB_SCHEMA_VERSION, created, added);
	return 0;
fail:
	free(q.s);
	if (!sync_pg_lost(pg))
		sync_pg_exec(pg, "ROLLBACK", 0, NULL, "rolling back the schema's transaction");
	return -1;
}

int
sync_pg_check(struct sync_pg *pg, const struct sync_schema *s, char db_id[SYNC_UUID_LEN])
{
	int version = 0, record = 0, rc, i, c;

	rc = sync_versions(pg, &version, &record, db_id);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		log_warnx("%s has no lbl-sync schema: make it with 'lbl-sync --init --to URI' (as "
		    "the database's owner)", pg->where);
		return -2;
	}
	if (sync_newer(pg, version, record) == -2)
		return -2;
	if (version < SYNC_SCHEMA_VERSION || record < DB_SCHEMA_VERSION) {
		log_warnx("%s: the central schema is version %d (record version %d), older than "
		    "this lbl-sync writes (%d, record %d): migrate it with 'lbl-sync --init --to "
		    "URI' (as the database's owner)", pg->where, version, record,
		    SYNC_SCHEMA_VERSION, DB_SCHEMA_VERSION);
		return -2;
	}
	for (i = 0; i < s->n; i++) {
		PGresult *cols = sync_central_columns(pg, s->t[i].central);

		if (cols == NULL)
			return -1;
		for (c = -1; c < s->t[i].ncols; c++) {
			const char *col = c < 0 ? "rig" : s->t[i].cols[c];
			if (!sync_has_column(cols, col)) {
				log_warnx("%s: the central table %s has no column %s that the local "
				    "%s has: the central schema was changed by hand; 'lbl-sync "
				    "--init' adds what is missing", pg->where, s->t[i].central, col,
				    s->t[i].local);
				PQclear(cols);
				return -2;
			}
		}
		PQclear(cols);
	}
	return 0;
}

/* ---- upserts ---- */

void
sync_upsert_init(struct sync_upsert *u, struct sync_pg *pg, const struct sync_table *t,
    const char *rig)
{
	memset(u, 0, sizeof(*u));
	u->pg = pg;
	u->t = t;
	u->rig = rig;
	u->per_stmt = SYNC_ROWS_PER_INSERT;
}

void
sync_upsert_free(struct sync_upsert *u)
{
	free(u->off);
	free(u->buf);
	u->off = NULL;
	u->buf = NULL;
	u->rows = 0;
	u->nvals = 0;
	u->len = u->cap = 0;
}

int
sync_upsert_begin_row(struct sync_upsert *u)
{
	if (u->off == NULL) {
		u->off = malloc(sizeof(*u->off) * (size_t)u->per_stmt * (size_t)u->t->ncols);
		if (u->off == NULL) {
			log_warn("holding rows of %s for the central database", u->t->local);
			return -1;
		}
	}
	return 0;
}

int
sync_upsert_value(struct sync_upsert *u, const char *text, size_t len)
{
	if (u->nvals >= (size_t)(u->rows + 1) * (size_t)u->t->ncols) {
		log_warnx("lbl-sync: a row of %s has more values than its %d columns", u->t->local,
		    u->t->ncols);
		return -1;
	}
	if (text == NULL) {
		u->off[u->nvals++] = -1;
		return 0;
	}
	if (u->len + len + 1 > u->cap) {
		size_t cap = u->cap ? u->cap : 65536;
		char *b;

		while (cap < u->len + len + 1)
			cap *= 2;
		if ((b = realloc(u->buf, cap)) == NULL) {
			log_warn("holding rows of %s for the central database", u->t->local);
			return -1;
		}
		u->buf = b;
		u->cap = cap;
	}
	memcpy(u->buf + u->len, text, len);
	u->buf[u->len + len] = '\0';
	u->off[u->nvals++] = (long long)u->len;
	u->len += len + 1;
	return 0;
}

int
sync_upsert_end_row(struct sync_upsert *u)
{
	if (u->nvals != (size_t)(u->rows + 1) * (size_t)u->t->ncols) {
		log_warnx("lbl-sync: a row of %s has %zu values, not %d", u->t->local,
		    u->nvals - (size_t)u->rows * (size_t)u->t->ncols, u->t->ncols);
		return -1;
	}
	u->rows++;
	return u->rows >= u->per_stmt ? sync_upsert_flush(u) : 0;
}

int
sync_upsert_flush(struct sync_upsert *u)
{
	const struct sync_table *t = u->t;
	struct sync_sql q = { 0 };
	const char **params;
	char what[96];
	int r, c, k, p = 2, rc, keyonly = 1;
	size_t i;

	if (u->rows == 0)
		return 0;
	sql_add(&q, "INSERT INTO %s (rig", t->central);
	for (c = 0; c < t->ncols; c++)
		sql_add(&q, ", %s", t->cols[c]);
	sql_add(&q, ") VALUES ");
	for (r = 0; r < u->rows; r++) {
		sql_add(&q, "%s($1::uuid", r ? ", " : "");
		for (c = 0; c < t->ncols; c++)
			sql_add(&q, ", $%d::%s", p++, sync_pg_type(t->types[c]));
		sql_add(&q, ")");
	}
	sql_add(&q, " ON CONFLICT (rig");
	for (k = 1; k <= t->ncols; k++)
		for (c = 0; c < t->ncols; c++)
			if (t->pk[c] == k)
				sql_add(&q, ", %s", t->cols[c]);
	sql_add(&q, ") DO UPDATE SET ");
	for (c = 0, k = 0; c < t->ncols; c++)
		if (t->pk[c] == 0) {
			sql_add(&q, "%s%s = EXCLUDED.%s", k++ ? ", " : "", t->cols[c], t->cols[c]);
			keyonly = 0;
		}
	if (keyonly) {
		/* nothing but the key: there is nothing to update */
		q.len = 0;
		q.failed = 1;
		log_warnx("lbl-sync: table %s is all key: not supported", t->local);
	}
	if (q.failed) {
		free(q.s);
		return -1;
	}
	if ((params = malloc(sizeof(*params) * (u->nvals + 1))) == NULL) {
		log_warn("sending rows of %s to the central database", t->local);
		free(q.s);
		return -1;
	}
	params[0] = u->rig;
	for (i = 0; i < u->nvals; i++)
		params[i + 1] = u->off[i] < 0 ? NULL : u->buf + u->off[i];
	snprintf(what, sizeof(what), "copying %d rows of %s", u->rows, t->local);
	if (u->rows == u->per_stmt && u->pg->conn != NULL) {
		/*
		 * A full statement, the same text each time (a catch-up sends
		 * thousands): prepared once per connection, so the server parses
		 * and plans it once.
		 */
		char name[48];
		PGresult *res;

		snprintf(name, sizeof(name), "lbl_sync_%s", t->central);
		rc = 0;
		if (u->prepared != u->pg->generation) {
			res = PQprepare(u->pg->conn, name, q.s, 0, NULL);
			if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
				sync_pg_report(u->pg, res, q.s, "preparing the copy of a table");
				rc = -1;
			} else {
				u->prepared = u->pg->generation;
			}
			PQclear(res);
		}
		if (rc == 0) {
			res = PQexecPrepared(u->pg->conn, name, (int)u->nvals + 1, params, NULL, NULL,
			    0);
			if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
				sync_pg_report(u->pg, res, q.s, what);
				rc = -1;
			}
			PQclear(res);
		}
	} else {
		rc = sync_pg_exec(u->pg, q.s, (int)u->nvals + 1, params, what);
	}
	free(params);
	free(q.s);
	if (rc == 0)
		u->total += u->rows;
	u->rows = 0;
	u->nvals = 0;
	u->len = 0;
	return rc;
}
