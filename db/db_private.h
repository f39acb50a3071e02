/*
 * Internals shared by the db_*.c files: the handle, its statement cache and
 * the helpers that report every SQLite failure with its context.
 */
#ifndef LBL_DB_PRIVATE_H
#define LBL_DB_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdint.h>

#include "db.h"

#define DB_BUSY_TIMEOUT_MS	5000
#define DB_CACHE_KIB		"512"	/* page cache limit (PRAGMA cache_size = -N KiB); see db_configure() */
#define DB_TIME_LEN		DB_UTC_LEN

/* One slot per statement, each prepared once from a single call site. */
enum db_stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
	ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
	ST_SYNC_NORMAL,
	ST_DOC_FIND_SHA_RECIPE, ST_DOC_FIND_SHA_RIG,
	ST_DOC_INSERT_RECIPE, ST_DOC_INSERT_RIG,
	ST_DOC_GET_RECIPE, ST_DOC_GET_RIG,
	ST_RECIPE_BY_NAME, ST_RECIPE_BY_VERSION, ST_RECIPE_BY_SHA, ST_RECIPE_LIST,
	ST_RECIPE_SAME_VERSION, ST_RECIPE_RETIRE, ST_RECIPE_RETIRE_SET,
	ST_BATCH_INSERT, ST_BATCH_STATE, ST_BATCH_GET, ST_BATCH_LAST_STEP,
	ST_STEP_OUTCOME, ST_STEP_INSERT, ST_STEP_RESTART, ST_STEP_END, ST_BATCH_ADVANCE,
	ST_STEP_VERIFY, ST_STEP_FIRST_GAP, ST_STEPS,
	ST_BILAYER_UPSERT, ST_BATCH_BILAYER, ST_BILAYERS,
	ST_EVENT_INSERT, ST_EVENTS, ST_EVENTS_NONE, ST_EVENTS_AFTER, ST_EVENTS_LAST,
	ST_SOLUTION_UPSERT, ST_SOLUTION_GET, ST_SOLUTIONS,
	ST_RECOVER_LIST, ST_RECOVER_MARK, ST_RECOVER_STEPS,
	ST_STEP_VOLUME, ST_BASELINE_SET, ST_BASELINE_GET, ST_BASELINES,
	ST_HISTORY,			/* ST_HISTORY + filter mask: one per filter combination */
	ST_COUNT = ST_HISTORY + 32
};

/* db_no_wait's thread (db_sync.c) */
struct db_syncer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int fd;				/* the write-ahead log, read-only */
	uint64_t wanted, done;		/* syncs asked for and finished, by count */
	int stop;
	int error;			/* the first failed sync's errno, until read */
	char path[512];
	/*
	 * A checkpoint of the log into the database, asked for by the commit
	 * that grew the log past DB_WAL_CHECKPOINT_PAGES (db_wal_hook) and done
	 * here, through the thread's own connection to db_path (opened at its
	 * first checkpoint), so that the caller never waits for its writes and
	 * syncs. checkpoints: done so far.
	 */
	int checkpoint_wanted;
	uint64_t checkpoints;		/* tried so far */
	uint64_t restarts;		/* logs started afresh by the thread (thread's own) */
	/*
	 * Odd while the thread holds the write lock for a restart of the log
	 * (db_syncer_restart_log), and one more at each begin and end of it:
	 * read by the caller's thread (db_self_lock_seq).
	 */
	_Atomic uint64_t own_write_seq;
	int checkpointer_told;		/* it could not be opened: said, until it is */
	sqlite3 *checkpointer;
	char db_path[512];
};

struct db {
	sqlite3 *sql;
	char *path;
	int group_open;			/* db_group_begin's transaction is open */
	void (*on_event)(void *, const struct db_event *);	/* db_on_event */
	void *on_event_arg;
	int64_t told_event_id;		/* the last event on_event was told of */
	char clock_utc[DB_TIME_LEN];	/* db_set_clock: writes are stamped with this; "" now */
	char error[DB_ERROR_LEN];	/* the last failure, as db_fail logged it (db_error) */
	sqlite3_stmt *stmt[ST_COUNT];
	struct db_syncer *syncer;	/* db_no_wait's thread */
	int no_wait;			/* db_no_wait: commits are synced by the syncer */
	void (*on_sync_asked)(void *);	/* db_on_sync_asked */
	void *on_sync_asked_arg;
};

/* SQLite's own automatic checkpoint, which a WAL hook replaces (sqlite3_wal_hook). */
#define DB_WAL_CHECKPOINT_PAGES 1000
/*
 * Replaces SQLite's automatic checkpoint, which would run inside a commit
 * that must not wait for the disk, by db_wal_hook's (db_open): it hands
 * the checkpoint to the syncer where one runs, and tells db_on_event's
 * callback of the events each commit put on record.
 */
void db_wal_hook_install(struct db *db);
/*
 * Asks the syncer for a checkpoint of the log (db_wal_hook), done after
 * the syncs asked for before it. Returns 0, or -1 when there is no syncer
 * (the caller checkpoints itself, waiting for the disk, as its commits do).
 */
int db_syncer_checkpoint(struct db *db);
/*
 * Asks the syncer to sync the log once more, covering the commit just
 * made (db_wal_hook, under db_no_wait), and tells on_sync_asked.
 */
void db_syncer_ask(struct db *db);
/* Stops db_no_wait's thread after its last sync (db_close). */
void db_syncer_stop(struct db *db);

/*
 * Logs "database PATH: <what, printf-style>: sqlite's last message", keeps
 * it for db_error and returns -1. Call it right after the failing SQLite call (db_run and
 * db_row keep the message across their reset).
 */
int db_fail(struct db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Sets the text db_error returns (printf-style); one longer than
 * DB_ERROR_LEN ends in "..." at a character boundary.
 */
void db_error_set(struct db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Returns the cached statement id, preparing it from sql the first time;
 * on error logs it with the statement's purpose and returns NULL.
 */
sqlite3_stmt *db_stmt(struct db *db, enum db_stmt_id id, const char *sql, const char *purpose);

/* Steps a statement to completion, ignoring rows, and resets it: 0 or -1. */
int db_run(sqlite3_stmt *st);

/*
 * Steps a query once: 1 with a row, 0 at its end (reset), -1 on error
 * (reset). A caller that stops before the end calls db_reset.
 */
int db_row(sqlite3_stmt *st);

/* Resets a statement after use and unbinds its parameters. */
void db_reset(sqlite3_stmt *st);

/*
 * Bind helpers, returning SQLite's code so a caller can OR several: NULL
 * strings and NaN doubles bind as NULL.
 */
int db_bind_text(sqlite3_stmt *st, int i, const char *s);
int db_bind_double(sqlite3_stmt *st, int i, double v);
int db_bind_int(sqlite3_stmt *st, int i, int64_t v);

/* Column helpers: NULL text reads as NULL, NULL real as NaN, NULL integer as dflt. */
const char *db_col_text(sqlite3_stmt *st, int i);
double db_col_double(sqlite3_stmt *st, int i);
int64_t db_col_int(sqlite3_stmt *st, int i, int64_t dflt);

/*
 * A write transaction: BEGIN IMMEDIATE takes the write lock up front so a
 * busy database fails at the start, never half-way. what names the work
 * for error messages. db_rollback is for error paths and only logs.
 * Inside a group (db_group_begin) each is a savepoint of the group's
 * transaction instead: a failed write is undone, the group goes on.
 */
int db_begin(struct db *db, const char *what);
int db_commit(struct db *db, const char *what);
void db_rollback(struct db *db, const char *what);

/* Writes the current UTC time as ISO-8601 with milliseconds, or db_set_clock's. */
void db_now_utc(struct db *db, char out[DB_TIME_LEN]);

/*
 * Makes the strings *fields[0..n) owned: copies them (lens[i] bytes each, or
 * strlen when lens is NULL; NULL strings stay NULL) into one block, points
 * the fields at the copies and returns the block for free(); NULL if out of
 * memory, the fields then unchanged.
 */
void *db_own_strings(const char **const *fields, const size_t *lens, size_t n);

/*
 * Reads a batch's state (into state, size bytes) and last settled step:
 * 0, 1 when there is no such batch, -1 on error. Used inside transactions.
 */
int db_batch_progress(struct db *db, int64_t batch_id, char *state, size_t size, int *last_seq);

/* Inserts an event; the caller's transaction (or autocommit) commits it. */
int db_event_insert(struct db *db, int64_t batch_id, const char *at, const char *kind,
    const char *device, const char *message);

#endif
