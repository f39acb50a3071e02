/*
 * Commits that do not wait for the disk: lbld's, all of them (db_no_wait).
 * Its event loop must never sit in fsync: a step's command due at its
 * moment, the reaction to an e-stop or a status request would wait as long
 * as the disk does (an SD card's or a shared disk's sync takes 5-60 ms, a
 * dying one's seconds). Each commit is written to the write-ahead log with
 * synchronous=NORMAL: once it returns, every reader sees it and a crash of
 * the process cannot lose it; a thread beside the caller then makes the
 * log durable with fdatasync, so a power cut loses at most what was
 * committed within one sync's time.
 *
 * The thread syncs its own descriptor of the log's file, which the kernel
 * flushes whoever wrote it. It also checkpoints the log when it has grown
 * (db_syncer_checkpoint), through a connection of its own that nothing else
 * uses: a passive checkpoint copies what the log holds into the database
 * beside the caller's commits, never holding them up; once it is all
 * copied, the thread starts the log afresh itself (db_syncer_restart_log),
 * as that commit syncs the log's new header in the thread that makes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_private.h"
#include "log.h"
#include "text.h"

/*
 * Once a checkpoint has copied the whole log, the next commit starts the
 * log afresh, writing a new header and syncing it in the committing thread
 * whatever synchronous says (SQLite guards so against a reordered write
 * after a restart). Made here, that commit is the thread's: a write of
 * one page (the database's application_id, set to what it is, in one
 * transaction) through its own connection, whose commit syncs the log
 * here. 0 when done, or when another connection is writing (busy: lbld's
 * commit restarts the log then, and waits for that one sync; the window
 * is the few microseconds since the checkpoint ended); -1 on an error
 * (logged). A whole checkpoint made by another process (a sqlite3 shell's
 * PRAGMA wal_checkpoint) leaves the restart, and its sync, to lbld's next
 * commit likewise.
 */
static int
db_syncer_restart_log(struct db_syncer *s)
{
	sqlite3_stmt *st = NULL;
	char sql[64];
	int rc, id = 0;

	atomic_fetch_add(&s->own_write_seq, 1);		/* odd: a BUSY now may be this */
	rc = sqlite3_exec(s->checkpointer, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		atomic_fetch_add(&s->own_write_seq, 1);
		return 0;
	}
	if (rc != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_prepare_v2(s->checkpointer, "PRAGMA application_id", -1, &st,
	    NULL)) != SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_ROW)
		goto fail;
	id = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", id);
	if ((rc = sqlite3_exec(s->checkpointer, sql, NULL, NULL, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_exec(s->checkpointer, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	s->restarts++;
	atomic_fetch_add(&s->own_write_seq, 1);
	return 0;
fail:
	log_warnx("database %s: starting its log afresh after a checkpoint: %s", s->db_path,
	    sqlite3_errmsg(s->checkpointer));
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(s->checkpointer))
		sqlite3_exec(s->checkpointer, "ROLLBACK", NULL, NULL, NULL);
	atomic_fetch_add(&s->own_write_seq, 1);
	return -1;
}

/*
 * A passive checkpoint through the thread's own connection, opened at the
 * first (and at the next, where it could not be: said once a streak), then
 * the log's restart where everything was copied. Called unlocked. A
 * database busy with another checkpoint is no failure (the next growth
 * asks again); any other is logged.
 */
static void
db_syncer_do_checkpoint(struct db_syncer *s)
{
	int rc, frames = -1, copied = -1;

	if (s->checkpointer == NULL) {
		rc = sqlite3_open_v2(s->db_path, &s->checkpointer, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_NOMUTEX, NULL);
		/* a connection finds the log at its first read: a checkpoint before does nothing */
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->checkpointer, "SELECT 1 FROM sqlite_master LIMIT 1",
			    NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			if (!s->checkpointer_told)
				log_warnx("database %s: opening a connection to checkpoint its log: %s "
				    "(tried again at the log's next growth)", s->db_path,
				    s->checkpointer != NULL ? sqlite3_errmsg(s->checkpointer) :
				    sqlite3_errstr(rc));
			s->checkpointer_told = 1;
			sqlite3_close(s->checkpointer);
			s->checkpointer = NULL;
			return;
		}
		s->checkpointer_told = 0;
	}
	rc = sqlite3_wal_checkpoint_v2(s->checkpointer, "main", SQLITE_CHECKPOINT_PASSIVE, &frames,
	    &copied);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
		log_warnx("database %s: checkpointing its log: %s", s->db_path,
		    sqlite3_errmsg(s->checkpointer));
	else if (rc == SQLITE_OK && frames > 0 && copied == frames)
		db_syncer_restart_log(s);
}

/*
 * The thread: one fdatasync per wakeup, covering every commit asked for
 * before it; then a checkpoint, if one was asked for.
 */
static void *
db_syncer_main(void *arg)
{
	struct db_syncer *s = arg;
	uint64_t target;
	int err, fd;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->stop && s->done == s->wanted && !s->checkpoint_wanted)
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->checkpoint_wanted && s->done == s->wanted) {
			s->checkpoint_wanted = 0;
			pthread_mutex_unlock(&s->lock);
			db_syncer_do_checkpoint(s);
			pthread_mutex_lock(&s->lock);
			s->checkpoints++;
			pthread_cond_broadcast(&s->wake);
			continue;
		}
		if (s->done == s->wanted)
			break;
		target = s->wanted;
		fd = s->fd;
		pthread_mutex_unlock(&s->lock);
		err = fdatasync(fd) == -1 ? errno : 0;
		pthread_mutex_lock(&s->lock);
		if (err != 0 && s->error == 0)
			s->error = err;
		s->done = target;
		pthread_cond_broadcast(&s->wake);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* The syncer: 0, or -1 (logged) when it cannot be had. */
static int
db_syncer_start(struct db *db)
{
	struct db_syncer *s;
	pthread_attr_t attr;
	const char *wal;
	size_t stack = 256 * 1024;
	long min;
	int rc;

	if (db->syncer != NULL)
		return 0;
	wal = sqlite3_filename_wal(sqlite3_db_filename(db->sql, "main"));
	if (wal == NULL || *wal == '\0') {
		log_warnx("database %s: no write-ahead log to sync", db->path);
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("database %s: the log's syncer", db->path);
		return -1;
	}
	text_format(s->path, sizeof(s->path), "%s", wal);
	text_format(s->db_path, sizeof(s->db_path), "%s", sqlite3_db_filename(db->sql, "main"));
	if ((s->fd = open(wal, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		log_warn("database %s: opening its write-ahead log %s to sync it", db->path, wal);
		free(s);
		return -1;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	/*
	 * It calls fdatasync and SQLite's checkpoint: a small stack is plenty
	 * (SQLite keeps its large buffers on the heap), but not below the
	 * system's least (128 KiB on arm64, 16 KiB on x86-64).
	 */
	if ((min = sysconf(_SC_THREAD_STACK_MIN)) > 0 && (size_t)min > stack)
		stack = (size_t)min;
	if ((rc = pthread_attr_init(&attr)) == 0) {
		rc = pthread_attr_setstacksize(&attr, stack);
		if (rc == 0)
			rc = pthread_create(&s->thread, &attr, db_syncer_main, s);
		pthread_attr_destroy(&attr);
	}
	if (rc != 0) {
		log_warnx("database %s: cannot start the log's syncer: %s; every commit waits "
		    "for the disk", db->path, strerror(rc));
		close(s->fd);
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return -1;
	}
	db->syncer = s;
	return 0;
}

void
db_syncer_stop(struct db *db)
{
	struct db_syncer *s = db->syncer;
	char why[640];

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;			/* it finishes the syncs asked for first */
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	db_sync_check(db, why, sizeof(why));	/* a last failure, if any, is logged */
	sqlite3_close(s->checkpointer);
	close(s->fd);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
	db->syncer = NULL;
}

int
db_syncer_checkpoint(struct db *db)
{
	struct db_syncer *s = db->syncer;

	if (s == NULL)
		return -1;
	pthread_mutex_lock(&s->lock);
	s->checkpoint_wanted = 1;	/* after the syncs asked for: db_syncer_main */
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void
db_syncer_ask(struct db *db)
{
	struct db_syncer *s = db->syncer;

	pthread_mutex_lock(&s->lock);
	s->wanted++;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (db->on_sync_asked != NULL)
		db->on_sync_asked(db->on_sync_asked_arg);
}

/*
 * SQLite refuses to change synchronous inside a transaction: a group open
 * is refused (it never is in lbld, which calls this at start-up).
 */
int
db_no_wait(struct db *db)
{
	sqlite3_stmt *st;

	if (db->no_wait)
		return 0;
	if (db->group_open) {
		log_warnx("database %s: not waiting for the disk asked inside a group of writes",
		    db->path);
		return -1;
	}
	if (db_syncer_start(db) == -1)
		return -1;		/* logged; every commit waits for the disk */
	st = db_stmt(db, ST_SYNC_NORMAL, "PRAGMA synchronous = NORMAL", "not waiting for the disk");
	if (st == NULL || db_run(st) == -1) {
		db_syncer_stop(db);
		return db_fail(db, "setting synchronous=NORMAL (every commit waits for the disk)");
	}
	db->no_wait = 1;
	return 0;
}

void
db_on_sync_asked(struct db *db, void (*cb)(void *arg), void *arg)
{
	db->on_sync_asked = cb;
	db->on_sync_asked_arg = arg;
}

int
db_sync_check(struct db *db, char *why, size_t why_size)
{
	struct db_syncer *s = db->syncer;
	int err;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->lock);
	err = s->error;
	s->error = 0;
	pthread_mutex_unlock(&s->lock);
	if (err == 0)
		return 0;
	text_format(why, why_size, "database %s: syncing its write-ahead log %s failed: %s: "
	    "the last commits may not be on the disk", db->path, s->path, strerror(err));
	log_warnx("%s", why);
	return -1;
}

uint64_t
db_self_lock_seq(struct db *db)
{
	return db->syncer == NULL ? 0 : atomic_load(&db->syncer->own_write_seq);
}

uint64_t
db_sync_pending(struct db *db, uint64_t *done)
{
	struct db_syncer *s = db->syncer;
	uint64_t n;

	if (done != NULL)
		*done = 0;
	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->lock);
	n = s->wanted - s->done;
	if (done != NULL)
		*done = s->done;
	pthread_mutex_unlock(&s->lock);
	return n;
}
