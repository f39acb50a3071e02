/*
 * lbl-sync: the rig's batch record, copied from lbld's SQLite file (read
 * only) into the lab's PostgreSQL database, keyed by the rig's identity
 * and lbld's own ids, so that copies from many rigs never collide.
 *
 * sync_schema.c  the mirrored tables, as db/ describes them (the local
 *                schema's one home): their central names and columns
 * sync_pg.c      the central database: connection, the central schema
 *                (made, migrated and checked), statements with their
 *                errors, the upserts of copied rows
 * sync_copy.c    the copy: what changed locally, the cursor, cycles of
 *                whole batches in one central transaction each
 * sync_history.c the lab-wide batch list (lblctl history --server)
 *
 * Every function that can fail logs what it was doing (the SQL's purpose,
 * the server's or SQLite's message, the file and errno) and returns -1,
 * unless said otherwise above it.
 */
#ifndef LBL_SYNC_H
#define LBL_SYNC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "lbl_limits.h"

/*
 * The central schema's own version (its tables besides the mirrored ones:
 * lbl_sync_schema and rigs). The mirrored tables carry the local schema's
 * version (DB_SCHEMA_VERSION) as record_version beside it.
 */
#define SYNC_SCHEMA_VERSION	1

#define SYNC_UUID_LEN		37	/* 36 characters and the NUL */

/* ---- sync_schema.c ---- */

struct sync_table {
	char local[32];			/* lbld's table */
	char central[32];		/* its copy's (rigs: rig_files) */
	int ncols;
	char *cols[SYNC_MAX_COLUMNS];
	char *types[SYNC_MAX_COLUMNS];	/* as declared locally: INTEGER, REAL, TEXT */
	int notnull[SYNC_MAX_COLUMNS];
	int pk[SYNC_MAX_COLUMNS];	/* place in the primary key from 1; 0: not in it */
};

struct sync_schema {
	int n;
	struct sync_table t[SYNC_MAX_TABLES];
};

/* Fills s from db_schema_columns; sync_schema_free releases it. */
int sync_schema_load(struct sync_schema *s);
void sync_schema_free(struct sync_schema *s);
/* The table whose local name is local; NULL (not logged) when there is none. */
const struct sync_table *sync_schema_table(const struct sync_schema *s, const char *local);
/* PostgreSQL's type for a local declared type; NULL when lbl-sync maps none. */
const char *sync_pg_type(const char *local_type);

/* ---- sync_pg.c ---- */

struct sync_pg {
	PGconn *conn;
	unsigned generation;		/* counts connections: prepared statements are per connection */
	char where[320];		/* "central database D on H:P as U", no password */
};

/*
 * Connects to the connection string uri (a postgresql:// URI or key=value
 * words; the password may come from ~/.pgpass or PGPASSFILE instead).
 * Returns 0, or -1 with the server's message logged and the connection
 * closed.
 */
int sync_pg_connect(struct sync_pg *pg, const char *uri);
void sync_pg_close(struct sync_pg *pg);
/* Whether the connection is gone (the server stopped, the network dropped). */
int sync_pg_lost(const struct sync_pg *pg);

/*
 * Runs sql (no rows expected) with n text parameters (NULL: SQL NULL);
 * what names the work for the error, which also quotes the statement's
 * start and the server's message.
 */
int sync_pg_exec(struct sync_pg *pg, const char *sql, int n, const char *const *params,
    const char *what);
/* As sync_pg_exec for a query: its result (PQclear it), or NULL (logged). */
PGresult *sync_pg_query(struct sync_pg *pg, const char *sql, int n, const char *const *params,
    const char *what);

/*
 * Makes the central schema (lbl-sync --init): its own tables, then the
 * mirrored tables made or completed from s, in one transaction, under an
 * advisory lock so that two rigs initialising at once do not race.
 * Refuses a schema newer than this lbl-sync knows. Prints what it did.
 */
int sync_pg_init(struct sync_pg *pg, const struct sync_schema *s);

/*
 * Checks that the central schema is the one this lbl-sync writes: the
 * versions (a newer one is refused, an older one needs --init) and every
 * local column present in its central table. Sets db_id, the central
 * database's own id (a copy made before it was made again is not trusted).
 * Returns 0, -1 on a failure worth retrying (connection), -2 when the
 * schema is wrong (a retry would not help; logged).
 */
int sync_pg_check(struct sync_pg *pg, const struct sync_schema *s, char db_id[SYNC_UUID_LEN]);

/*
 * Upserts of one table's rows, many to a statement: INSERT ... VALUES
 * (...), (...) ON CONFLICT (rig, key) DO UPDATE SET every column, so that
 * a row copied again (a batch that changed, a copy repeated after a crash)
 * is overwritten, never duplicated.
 */
struct sync_upsert {
	struct sync_pg *pg;
	const struct sync_table *t;
	const char *rig;
	int rows, per_stmt;
	size_t nvals;
	long long *off;			/* each value's offset in buf, -1: NULL */
	char *buf;
	size_t len, cap;
	long long total;		/* rows sent since sync_upsert_init */
	unsigned prepared;		/* the connection generation the full statement is prepared on */
};

void sync_upsert_init(struct sync_upsert *u, struct sync_pg *pg, const struct sync_table *t,
    const char *rig);
void sync_upsert_free(struct sync_upsert *u);
/* Adds one row: value i is column i of the table (NULL: SQL NULL). */
int sync_upsert_begin_row(struct sync_upsert *u);
int sync_upsert_value(struct sync_upsert *u, const char *text, size_t len);
int sync_upsert_end_row(struct sync_upsert *u);
/* Sends the rows held; 0 when none. */
int sync_upsert_flush(struct sync_upsert *u);

/* ---- sync_copy.c ---- */

struct sync_opts {
	const char *db_path;		/* lbld's database, opened read-only */
	const char *uri;		/* the central database */
	const char *state_dir;		/* the cursor's directory */
	const char *rig_id_path;	/* the rig's identity (a UUID) */
	const char *name;		/* the rig's name for people */
	int once;			/* copy what there is, then exit */
};

/*
 * Runs the copy until *stop is set (SIGTERM, SIGINT) or, with once, until
 * everything recorded so far is copied. Returns the exit status: 0, or 1
 * when something that a retry cannot mend is wrong (not an lbl database,
 * a central schema newer than this lbl-sync, no rig identity), with why
 * logged.
 */
int sync_run(const struct sync_opts *o, volatile sig_atomic_t *stop);

/*
 * Reads the rig's identity from path (one line: a UUID); when the file is
 * missing, makes it (a random UUID, 0644) if its directory lets us.
 */
int sync_rig_id(const char *path, char out[SYNC_UUID_LEN]);

/* ---- sync_history.c ---- */

/*
 * lbl-sync --history: the batches of every rig in the central database,
 * with lblctl history's filters (argv: --recipe NAME, --substrate S,
 * --state S, --since DATE, --until DATE, --limit N, --utc, --json) and
 * --rig NAME. Returns the exit status: 0, 1 (the server), 2 (the
 * arguments).
 */
int sync_history(const char *uri, int argc, char **argv);

#endif
