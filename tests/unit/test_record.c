/*
 * The batch record (daemon/record.c) against a real SQLite file, with the
 * event loop's timers stubbed and a fake monotonic clock, in the style of
 * chrony's test/unit: the module's .c is included, its collaborators are
 * replaced here. A second connection takes the write lock as another
 * process would.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "db_private.h"
#include "test.h"

/* ---- the loop: timers fired by hand (fake_loop.h) ---- */

#include "fake_loop.h"

#include "record.c"

/* Moves the fake clock to the timer's deadline and fires it; 0 if it was not armed. */
static int
fire(struct record *rec)
{
	return fake_fire(rec->retry);
}

static int faults;
static char last_fault[400];
static int drained, drained_ok;
static char drained_why[400];

static void
on_drained(void *arg, int ok, const char *why)
{
	(void)arg;
	drained++;
	drained_ok = ok;
	snprintf(drained_why, sizeof(drained_why), "%s", why != NULL ? why : "(none)");
}

static void
on_fault(void *arg, const char *why)
{
	(void)arg;
	faults++;
	snprintf(last_fault, sizeof(last_fault), "%s", why);
}

/* A count from the file as another reader sees it. */
static long long
count(sqlite3 *other, const char *sql)
{
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_prepare_v2(other, sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int64_t
new_batch(struct db *db)
{
	struct db_batch_new b;
	int64_t recipe, rig, id = -1;

	memset(&b, 0, sizeof(b));
	if (db_recipe_store(db, "r", "1", "name: r\n", 8, &recipe) == -1 ||
	    db_rig_store(db, "rig", "name: rig\n", 10, &rig) == -1)
		return -1;
	b.recipe_id = recipe;
	b.rig_id = rig;
	b.bilayers_target = 2;
	b.thickness_target_nm = NAN;
	b.thickness_estimated_nm = 10;
	b.software_version = "test";
	b.time_scale = 1;
	if (db_batch_create(db, &b, &id) == -1)
		return -1;
	return id;
}

static struct db_step
step_row(int seq)
{
	struct db_step s;

	memset(&s, 0, sizeof(s));
	s.seq = seq;
	s.bilayer = 1;
	s.phase = "cycle";
	s.kind = "dip";
	s.station = "ag";
	s.solution = "ag";
	s.planned_start_ms = seq * 1000;
	s.planned_duration_ms = 1000;
	s.actual_start_ms = seq * 1000;
	return s;
}

int
main(void)
{
	char path[] = "/tmp/lbl-test-record-XXXXXX", file[64], at[DB_UTC_LEN];
	struct db *db;
	struct record *rec;
	sqlite3 *other;
	struct db_step s;
	int64_t batch, held_ms;
	int i, rc;

	log_init("test_record", 3);
	if (mkdtemp(path) == NULL)
		return 1;
	snprintf(file, sizeof(file), "%s/lbl.db", path);
	if (db_open(file, &db) == -1 || (batch = new_batch(db)) <= 0 ||
	    db_set_busy_timeout(db, 0) == -1) {
		printf("FAIL set-up\n");
		return 1;
	}
	if (sqlite3_open(file, &other) != SQLITE_OK)
		return 1;
	sqlite3_busy_timeout(other, 2000);
	rec = record_new(db, NULL, on_fault, NULL);
	TEST_CHECK("record_new", rec != NULL, "NULL");

	/* 1. nothing in the way: a write is on record when the call returns */
	s = step_row(1);
	TEST_EQ_INT("free: step start written", record_step_begin(rec, batch, &s), 0);
	TEST_EQ_INT("free: visible to another reader at once",
	    count(other, "select count(*) from steps where seq = 1 and outcome = 'running'"), 1);
	TEST_EQ_INT("free: nothing held", record_held(rec, NULL), 0);
	TEST_CHECK("free: no retry armed", !loop_timer_armed(rec->retry), "armed");

	/* 2. another process takes the write lock: writes are held, in order */
	TEST_EQ_INT("lock taken", sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	record_group_begin(rec);
	record_step_end(rec, batch, 1, 1003, 1000, 200, 800, "done");
	record_bilayer(rec, batch, 1, 5.0, NAN);
	s = step_row(2);
	record_step_begin(rec, batch, &s);
	rc = record_group_commit(rec, NULL, 0);
	TEST_EQ_INT("locked: the group is held, not refused", rc, 0);
	TEST_EQ_INT("locked: three writes held", record_held(rec, NULL), 3);
	TEST_CHECK("locked: a retry is armed", loop_timer_armed(rec->retry), "not armed");
	db_utc_now(at);
	TEST_EQ_INT("locked: an event is held too", record_event(rec, batch, "estop", "estop",
	    "estop engaged"), 0);
	usleep(50000);		/* the stamps must be those of the writes, not of the flush */
	TEST_EQ_INT("locked: four held", record_held(rec, NULL), 4);
	for (i = 0; i < 5; i++)
		fire(rec);
	TEST_EQ_INT("locked: retries keep them held", record_held(rec, NULL), 4);
	record_held(rec, &held_ms);
	TEST_CHECK("locked: the hold is timed on the monotonic clock", held_ms > 0 &&
	    held_ms < RECORD_HOLD_MS, "%lld ms", (long long)held_ms);
	TEST_EQ_INT("locked: retries back off to their cap",
	    rec->retry_ms <= RECORD_RETRY_MAX_MS && rec->retry_ms > RECORD_RETRY_FIRST_MS, 1);
	TEST_EQ_INT("locked: no fault within the hold", faults, 0);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	fire(rec);
	TEST_EQ_INT("released: nothing held", record_held(rec, NULL), 0);
	TEST_EQ_INT("released: step 1 done",
	    count(other, "select count(*) from steps where seq = 1 and outcome = 'done'"), 1);
	TEST_EQ_INT("released: last step advanced",
	    count(other, "select last_step_seq from batches"), 1);
	TEST_EQ_INT("released: bilayer 1", count(other, "select bilayers_done from batches"), 1);
	TEST_EQ_INT("released: step 2 begun after step 1 ended",
	    count(other, "select count(*) from steps where seq = 2 and outcome = 'running'"), 1);
	TEST_EQ_INT("released: the e-stop event",
	    count(other, "select count(*) from events where kind = 'estop'"), 1);
	{
		char sql[160];
		snprintf(sql, sizeof(sql), "select count(*) from events where kind = 'estop' and "
		    "at >= '%s' and at < strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', '-0.030 seconds')",
		    at);
		TEST_EQ_INT("released: the event keeps the time it happened, not the flush's",
		    count(other, sql), 1);
	}
	TEST_CHECK("released: no retry armed", !loop_timer_armed(rec->retry), "armed");

	/*
	 * 2b. who waits for the held writes (a --wait told that the batch
	 * ended) is told once they are on record, from the loop, not before
	 */
	TEST_EQ_INT("drained: nothing held: nothing to wait for",
	    record_when_drained(rec, on_drained, NULL), 0);
	sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	record_state(rec, batch, "completed", NULL);
	TEST_EQ_INT("drained: held: told later", record_when_drained(rec, on_drained, NULL), 1);
	fire(rec);
	TEST_EQ_INT("drained: still held: not told", drained, 0);
	TEST_CHECK("drained: nothing to tell yet", !loop_timer_armed(rec->tell), "armed");
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	fire(rec);
	TEST_EQ_INT("drained: written: not told from inside the flush", drained, 0);
	TEST_EQ_INT("drained: on record before it is told",
	    count(other, "select count(*) from batches where state = 'completed'"), 1);
	fake_fire(rec->tell);
	TEST_EQ_INT("drained: told once", drained, 1);
	TEST_EQ_INT("drained: told it is on record", drained_ok, 1);
	fake_fire(rec->tell);
	TEST_EQ_INT("drained: not told twice", drained, 1);
	/* held, written, held again before the tell: told when the second is written */
	sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	record_event(rec, batch, "info", NULL, "drain-1");
	record_when_drained(rec, on_drained, NULL);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	fire(rec);
	sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	record_event(rec, batch, "info", NULL, "drain-2");
	fake_fire(rec->tell);
	TEST_EQ_INT("drained: held again: not told", drained, 1);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	fire(rec);
	fake_fire(rec->tell);
	TEST_EQ_INT("drained: the second written: told", drained, 2);
	TEST_EQ_INT("drained: both on record",
	    count(other, "select count(*) from events where message like 'drain-%'"), 2);

	/* 3. held past the limit: one fault, the hold goes on, then it is written */
	sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	record_state(rec, batch, "failed", "test");
	TEST_EQ_INT("long lock: held", record_held(rec, NULL), 1);
	while (fake_now_ns - rec->held_since_ns < (int64_t)RECORD_HOLD_MS * 1000000 && fire(rec))
		;
	fire(rec);
	TEST_EQ_INT("long lock: one fault past the hold limit", faults, 1);
	TEST_CONTAINS("long lock: it names the lock", last_fault, "locked by another process");
	for (i = 0; i < 20; i++)
		fire(rec);
	TEST_EQ_INT("long lock: still one fault", faults, 1);
	TEST_EQ_INT("long lock: still held", record_held(rec, NULL), 1);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	fire(rec);
	TEST_EQ_INT("long lock: written once free",
	    count(other, "select count(*) from batches where state = 'failed'"), 1);

	/* 4. a write the database refuses: -1, and its group fails whole (nothing written) */
	record_group_begin(rec);
	record_event(rec, batch, "info", NULL, "before");
	record_step_end(rec, batch, 9, -1, 0, 0, 0, "done");	/* step 9 was never begun */
	record_event(rec, batch, "info", NULL, "after");
	{
		char why[320] = "";
		rc = record_group_commit(rec, why, sizeof(why));
		TEST_EQ_INT("refused: the group reports it", rc, -1);
		TEST_CONTAINS("refused: and names it", why, "step 9");
		TEST_CONTAINS("refused: and says the group is not on record", why,
		    "none of the 3 writes committed with it is on record");
	}
	TEST_EQ_INT("refused: none of the group is written, before or after it",
	    count(other, "select count(*) from events where message in ('before', 'after')"), 0);
	TEST_EQ_INT("refused: nothing held after", record_held(rec, NULL), 0);
	TEST_EQ_INT("refused: no transaction left open (the next write commits)",
	    record_event(rec, batch, "info", NULL, "next"), 0);
	TEST_EQ_INT("refused: and is on record",
	    count(other, "select count(*) from events where message = 'next'"), 1);

	/* 4b. held while locked, then one refused: the held writes stand or fall together */
	sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	record_group_begin(rec);
	record_event(rec, batch, "info", NULL, "held-1");
	record_group_commit(rec, NULL, 0);
	record_group_begin(rec);
	record_step_end(rec, batch, 10, -1, 0, 0, 0, "done");	/* never begun */
	record_event(rec, batch, "info", NULL, "held-2");
	record_group_commit(rec, NULL, 0);
	TEST_EQ_INT("held then refused: both groups held", record_held(rec, NULL), 3);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	faults = 0;
	fire(rec);
	TEST_EQ_INT("held then refused: one fault", faults, 1);
	TEST_CONTAINS("held then refused: naming the refused write", last_fault, "step 10");
	TEST_EQ_INT("held then refused: nothing of them committed",
	    count(other, "select count(*) from events where message like 'held-%'"), 0);
	TEST_EQ_INT("held then refused: nothing held after", record_held(rec, NULL), 0);
	/* who waited for them is told they are lost, and why */
	sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	record_group_begin(rec);
	record_step_end(rec, batch, 11, -1, 0, 0, 0, "done");	/* never begun */
	record_group_commit(rec, NULL, 0);
	drained = 0;
	TEST_EQ_INT("lost: waited for", record_when_drained(rec, on_drained, NULL), 1);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	fire(rec);
	fake_fire(rec->tell);
	TEST_EQ_INT("lost: told", drained, 1);
	TEST_EQ_INT("lost: told it is not on record", drained_ok, 0);
	TEST_CONTAINS("lost: naming the write", drained_why, "step 11");

	/*
	 * 4b. lbld's database waits for the disk in no commit (db_no_wait): a
	 * group is on record at once, its sync asked of the database's thread
	 * and watched from the loop until done; held for a lock, it is
	 * committed later, and watched too.
	 */
	TEST_EQ_INT("no wait: set", db_no_wait(db), 0);
	TEST_CHECK("no wait: nothing watched before a commit", !loop_timer_armed(rec->sync_watch),
	    "armed");
	record_group_begin(rec);
	record_event(rec, batch, "info", NULL, "nowait-1");
	TEST_EQ_INT("no wait: the group commits", record_group_commit(rec, NULL, 0), 0);
	TEST_EQ_INT("no wait: another reader sees it at once",
	    count(other, "select count(*) from events where message = 'nowait-1'"), 1);
	TEST_CHECK("no wait: its sync is watched", loop_timer_armed(rec->sync_watch), "not armed");
	TEST_EQ_INT("no wait: synchronous=NORMAL", count(db->sql, "PRAGMA synchronous"), 1);
	for (i = 0; i < 500 && db_sync_pending(db, NULL) > 0; i++)
		usleep(10000);
	fake_fire(rec->sync_watch);
	TEST_CHECK("no wait: the watch ends with the sync", !loop_timer_armed(rec->sync_watch),
	    "still armed");
	sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	record_group_begin(rec);
	record_event(rec, batch, "info", NULL, "nowait-2");
	TEST_EQ_INT("no wait, locked: held, not refused", record_group_commit(rec, NULL, 0), 0);
	TEST_EQ_INT("no wait, locked: one write held", record_held(rec, NULL), 1);
	TEST_CHECK("no wait, locked: nothing to watch yet", !loop_timer_armed(rec->sync_watch),
	    "armed");
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	fire(rec);
	TEST_EQ_INT("no wait, locked: written once free",
	    count(other, "select count(*) from events where message = 'nowait-2'"), 1);
	TEST_CHECK("no wait, locked: then watched", loop_timer_armed(rec->sync_watch), "not armed");
	for (i = 0; i < 500 && db_sync_pending(db, NULL) > 0; i++)
		usleep(10000);
	fake_fire(rec->sync_watch);
	TEST_CHECK("no wait, locked: the watch ends with the sync", !loop_timer_armed(rec->sync_watch),
	    "still armed (%d syncs pending)", (int)db_sync_pending(db, NULL));
	/*
	 * 4b'. the write lock held by lbld's own database thread (its restart
	 * of the log: db_self_lock_seq odd meanwhile) is no other process:
	 * not logged as one, retried at once; another's lock after it is
	 */
	sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	atomic_fetch_add(&db->syncer->own_write_seq, 1);	/* the thread's restart begins */
	record_event(rec, batch, "info", NULL, "self-held");
	TEST_EQ_INT("own lock: held", record_held(rec, NULL), 1);
	TEST_CHECK("own lock: not told as another process's", !rec->hold_told, "told");
	TEST_EQ_INT("own lock: retried sooner", rec->retry_ms, RECORD_RETRY_SELF_MS);
	TEST_CHECK("own lock: status can say so", record_held_by_self(rec), "not said");
	atomic_fetch_add(&db->syncer->own_write_seq, 1);	/* it ends; another's lock stays */
	fire(rec);
	TEST_CHECK("own lock over, still busy: another process's, told", rec->hold_told,
	    "not told");
	TEST_CHECK("own lock over: status says another process", !record_held_by_self(rec),
	    "still says own");
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	fire(rec);
	TEST_EQ_INT("own lock: written once free",
	    count(other, "select count(*) from events where message = 'self-held'"), 1);
	TEST_CHECK("own lock: the next hold starts untold", !rec->hold_told && !rec->held_by_self,
	    "told %d self %d", rec->hold_told, rec->held_by_self);
	{
		uint64_t seq = db_self_lock_seq(db);
		TEST_CHECK("own lock: the count is even between restarts", (seq & 1) == 0,
		    "%llu", (unsigned long long)seq);
	}

	/*
	 * 4c. a commit that is not the record's (a recipe added, an operator's
	 * event written by another module) asks its sync the same way, and
	 * the record watches it: a hung disk is told whoever wrote last.
	 */
	TEST_EQ_INT("another module's write", db_event_add(db, batch, "operator", NULL,
	    "elsewhere"), 0);
	TEST_CHECK("... is watched too", loop_timer_armed(rec->sync_watch), "not armed");
	TEST_EQ_INT("... seen at once", count(other,
	    "select count(*) from events where message = 'elsewhere'"), 1);
	{
		int p[2], fd;
		char why[320];

		if (pipe(p) == 0 && db->syncer != NULL) {
			/* the good syncs first: watched, no fault, the watch ends */
			for (i = 0; i < 500 && db_sync_pending(db, NULL) > 0; i++)
				usleep(10000);
			faults = 0;

			/*
			 * A disk that never answers: a sync asked for and never
			 * done (counted, not signalled, so the thread sleeps on).
			 * Watched every RECORD_SYNC_WATCH_MS, it is a fault once
			 * it has been under way RECORD_HOLD_MS; told once.
			 */
			record_group_begin(rec);
			record_event(rec, batch, "info", NULL, "nowait-4");
			record_group_commit(rec, NULL, 0);
			for (i = 0; i < 500 && db_sync_pending(db, NULL) > 0; i++)
				usleep(10000);
			pthread_mutex_lock(&db->syncer->lock);
			db->syncer->wanted++;
			pthread_mutex_unlock(&db->syncer->lock);
			for (i = 0; i < 2 * RECORD_HOLD_MS / RECORD_SYNC_WATCH_MS && faults == 0; i++)
				fake_fire(rec->sync_watch);
			TEST_EQ_INT("hung sync: a fault", faults, 1);
			TEST_CHECK("hung sync: once it has been under way the hold's limit",
			    i >= RECORD_HOLD_MS / RECORD_SYNC_WATCH_MS - 1 &&
			    i <= RECORD_HOLD_MS / RECORD_SYNC_WATCH_MS + 2, "after %d looks", i);
			TEST_CONTAINS("hung sync: saying the disk has not synced", last_fault,
			    "the disk has not synced the database's log for 10 s");
			for (i = 0; i < 100; i++)
				fake_fire(rec->sync_watch);
			TEST_EQ_INT("hung sync: told once", faults, 1);
			TEST_CHECK("hung sync: still watched", loop_timer_armed(rec->sync_watch),
			    "not armed");
			/*
			 * The disk answers one sync while another commit's is asked
			 * (never nothing pending), then hangs again: told again.
			 */
			pthread_mutex_lock(&db->syncer->lock);
			db->syncer->done++;
			db->syncer->wanted++;
			pthread_mutex_unlock(&db->syncer->lock);
			for (i = 0; i < 2 * RECORD_HOLD_MS / RECORD_SYNC_WATCH_MS && faults == 1; i++)
				fake_fire(rec->sync_watch);
			TEST_EQ_INT("hung again after an answer, syncs pending throughout: told again",
			    faults, 2);
			pthread_mutex_lock(&db->syncer->lock);
			db->syncer->wanted--;
			pthread_mutex_unlock(&db->syncer->lock);
			fake_fire(rec->sync_watch);
			TEST_CHECK("hung sync: the watch ends once the disk answers",
			    !loop_timer_armed(rec->sync_watch), "still armed");
			faults = 0;
			fake_fire(rec->sync_watch);
			TEST_EQ_INT("sync watch: a good sync is no fault", faults, 0);
			TEST_CHECK("sync watch: and the watch ends with it",
			    !loop_timer_armed(rec->sync_watch), "still armed");
			pthread_mutex_lock(&db->syncer->lock);
			fd = db->syncer->fd;
			db->syncer->fd = p[0];	/* fdatasync on a pipe: EINVAL */
			pthread_mutex_unlock(&db->syncer->lock);
			record_group_begin(rec);
			record_event(rec, batch, "info", NULL, "nowait-3");
			TEST_EQ_INT("failed sync: the commit itself stands",
			    record_group_commit(rec, why, sizeof(why)), 0);
			TEST_CHECK("failed sync: its sync is watched", loop_timer_armed(rec->sync_watch),
			    "not armed");
			for (i = 0; i < 500 && db_sync_pending(db, NULL) > 0; i++)
				usleep(10000);
			pthread_mutex_lock(&db->syncer->lock);
			db->syncer->fd = fd;
			pthread_mutex_unlock(&db->syncer->lock);
			fake_fire(rec->sync_watch);
			TEST_EQ_INT("failed sync: told to the fault callback from the watch", faults, 1);
			TEST_CONTAINS("failed sync: naming the log and the reason", last_fault,
			    "lbl.db-wal failed: Invalid argument");
			TEST_EQ_INT("failed sync: the write whose sync failed is in the database",
			    count(other, "select count(*) from events where message = 'nowait-3'"), 1);
			TEST_EQ_INT("failed sync: later writes go on", record_event(rec, batch, "info",
			    NULL, "again"), 0);
			faults = 0;
			close(p[0]);
			close(p[1]);
		} else {
			TEST_CHECK("pipe and syncer", 0, "failed");
		}
	}

	/* 5. the memory bound: RECORD_MAX_HELD, then refused */
	sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (i = 0; i < RECORD_MAX_HELD; i++)
		if (record_event(rec, batch, "info", NULL, "bulk") == -1)
			break;
	TEST_EQ_INT("bound: RECORD_MAX_HELD held", i, RECORD_MAX_HELD);
	TEST_EQ_INT("bound: one more is refused", record_event(rec, batch, "info", NULL, "x"), -1);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);

	/* 6. at exit what is held is written */
	record_free(rec);
	TEST_EQ_INT("exit: the held writes committed",
	    count(other, "select count(*) from events where message = 'bulk'"), RECORD_MAX_HELD);

	sqlite3_close(other);
	db_close(db);
	snprintf(file, sizeof(file), "rm -rf %s", path);
	if (system(file) != 0)
		printf("info: could not remove %s\n", path);
	return TEST_DONE();
}
