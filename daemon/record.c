/*
 * The batch record: a queue of writes, committed in order, one transaction
 * per flush, held and retried while another process holds the lock.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "record.h"
#include "text.h"

/* Retries of a held record: the first soon, then backing off to this. */
#define RECORD_RETRY_FIRST_MS	10
/*
 * The first retry when it was lbld's own database thread that held the
 * lock (its restart of the log: one page's commit and its sync, a few ms).
 */
#define RECORD_RETRY_SELF_MS	1
#define RECORD_RETRY_MAX_MS	250
/* When lbld stops, what is held may wait this long for the lock. */
#define RECORD_FINAL_WAIT_MS	2000

_Static_assert(RECORD_RETRY_MAX_MS < RECORD_HOLD_MS,
    "a held record must be retried several times before it counts as a fault");

enum record_kind { REC_STEP_BEGIN, REC_STEP_END, REC_BILAYER, REC_EVENT, REC_STATE,
	REC_SOLUTION, REC_STEP_VOLUME, REC_BASELINE };

struct record_op {
	struct record_op *next;
	enum record_kind kind;
	int64_t batch_id;
	char at[DB_UTC_LEN];		/* when it happened: the write is stamped so */
	struct db_step row;		/* REC_STEP_BEGIN; seq for REC_STEP_END */
	int64_t start_ms, duration_ms, motion_ms, dwell_ms;
	int n, dips;
	double a, b, c;			/* thickness est/meas; volume, area */
	char *s[4];			/* owned strings, by kind (see record_describe) */
};

struct record {
	struct db *db;
	struct loop_timer *retry;
	struct loop_timer *sync_watch;	/* while a commit's sync is under way (record_on_sync_watch) */
	int64_t sync_since_ns;		/* since when a sync has been under way; 0: none */
	int sync_told;			/* a sync longer than RECORD_HOLD_MS was told */
	uint64_t sync_done;		/* the syncs done when last looked at */
	record_fault_cb fault;
	void *arg;
	struct record_op *head, *tail;
	size_t count;
	int grouped;
	int64_t held_since_ns;		/* 0: nothing held */
	int retry_ms;
	int hold_reported;		/* the fault for this hold was reported */
	int hold_told;			/* another process's lock was logged, this hold */
	int held_by_self;		/* the last busy was maybe lbld's own database thread */
	/* who waits for nothing to be held (record_when_drained), told from the tell timer */
	struct loop_timer *tell;
	record_drained_cb drained;
	void *drained_arg;
	int drained_ok;			/* every flush since the wait began committed */
	char drained_why[320];		/* the first that did not: why */
};

static void record_on_retry(void *arg);
static void record_on_sync_watch(void *arg);
static void record_on_sync_asked(void *arg);
static void record_on_tell(void *arg);

struct record *
record_new(struct db *db, struct loop *loop, record_fault_cb fault, void *arg)
{
	struct record *rec = calloc(1, sizeof(*rec));

	if (rec == NULL)
		return NULL;
	rec->db = db;
	rec->fault = fault;
	rec->arg = arg;
	if ((rec->retry = loop_timer_new(loop, record_on_retry, rec)) == NULL) {
		free(rec);
		return NULL;
	}
	if ((rec->sync_watch = loop_timer_new(loop, record_on_sync_watch, rec)) == NULL) {
		loop_timer_free(rec->retry);
		free(rec);
		return NULL;
	}
	if ((rec->tell = loop_timer_new(loop, record_on_tell, rec)) == NULL) {
		loop_timer_free(rec->sync_watch);
		loop_timer_free(rec->retry);
		free(rec);
		return NULL;
	}
	db_on_sync_asked(db, record_on_sync_asked, rec);
	return rec;
}

static void
record_op_free(struct record_op *op)
{
	size_t i;

	for (i = 0; i < sizeof(op->s) / sizeof(op->s[0]); i++)
		free(op->s[i]);
	free(op);
}

/* What a write was, for messages: "the end (done) of step 5 of batch 3". */
static void
record_describe(const struct record_op *op, char *buf, size_t size)
{
	switch (op->kind) {
	case REC_STEP_BEGIN:
		text_format(buf, size, "the start of step %d of batch %lld", op->row.seq,
		    (long long)op->batch_id);
		break;
	case REC_STEP_END:
		text_format(buf, size, "the end (%s) of step %d of batch %lld", op->s[0],
		    op->row.seq, (long long)op->batch_id);
		break;
	case REC_BILAYER:
		text_format(buf, size, "bilayer %d of batch %lld", op->n, (long long)op->batch_id);
		break;
	case REC_EVENT:
		text_format(buf, size, "a %s event of batch %lld", op->s[0], (long long)op->batch_id);
		break;
	case REC_STATE:
		text_format(buf, size, "batch %lld's state %s", (long long)op->batch_id, op->s[0]);
		break;
	case REC_SOLUTION:
		text_format(buf, size, "solution %s of batch %lld", op->s[0],
		    (long long)op->batch_id);
		break;
	case REC_STEP_VOLUME:
		text_format(buf, size, "the volume dispensed in step %d of batch %lld", op->row.seq,
		    (long long)op->batch_id);
		break;
	case REC_BASELINE:
		text_format(buf, size, "the baseline of sensor %s of batch %lld", op->s[0],
		    (long long)op->batch_id);
		break;
	}
}

/* Writes one op inside the open group (each db_* call is its own savepoint). */
static int
record_apply(struct record *rec, const struct record_op *op)
{
	struct db *db = rec->db;

	switch (op->kind) {
	case REC_STEP_BEGIN:
		return db_step_begin(db, op->batch_id, &op->row);
	case REC_STEP_END:
		return db_step_end(db, op->batch_id, op->row.seq, op->start_ms, op->duration_ms,
		    op->motion_ms, op->dwell_ms, op->s[0]);
	case REC_BILAYER:
		return db_bilayer_done(db, op->batch_id, op->n, op->a, op->b);
	case REC_EVENT:
		return db_event_add(db, op->batch_id, op->s[0], op->s[1], op->s[2]);
	case REC_STATE:
		return db_batch_set_state(db, op->batch_id, op->s[0], op->s[1]);
	case REC_SOLUTION:
		return db_solution_set(db, op->batch_id, op->s[0], op->s[1], op->dips, op->a,
		    op->b);
	case REC_STEP_VOLUME:
		return db_step_volume(db, op->batch_id, op->row.seq, op->a, op->b);
	case REC_BASELINE:
		return db_baseline_set(db, op->batch_id, op->s[0], op->a, op->s[1]);
	}
	return -1;
}

static void
record_arm_retry(struct record *rec)
{
	rec->retry_ms = rec->retry_ms == 0 ?
	    (rec->held_by_self ? RECORD_RETRY_SELF_MS : RECORD_RETRY_FIRST_MS) :
	    rec->retry_ms * 2 > RECORD_RETRY_MAX_MS ? RECORD_RETRY_MAX_MS : rec->retry_ms * 2;
	loop_timer_at(rec->retry, loop_now_ns() + (int64_t)rec->retry_ms * 1000000);
}

/*
 * Commits everything queued in one transaction: 0 when written, 1 when held
 * (the lock is busy: a retry is armed), -1 when a write was refused (why
 * names it). A refused write fails its whole transaction: it is rolled back
 * and every write in it dropped, so a step boundary is on record whole or
 * not at all (a step's end without the next start, or a completed state
 * without the step that completed it, would be a record that lies).
 */
static int
record_flush(struct record *rec, char *why, size_t why_size)
{
	struct record_op *op, *next;
	char what[160];
	size_t failed = 0, total = rec->count;
	uint64_t self_seq;
	int rc;

	if (rec->head == NULL)
		return 0;
	self_seq = db_self_lock_seq(rec->db);
	if ((rc = db_group_try_begin(rec->db)) == 1) {
		/*
		 * lbld's own database thread restarting the log is no other
		 * process: not logged (it is over in a few ms), and retried sooner.
		 */
		rec->held_by_self = (self_seq & 1) || db_self_lock_seq(rec->db) != self_seq;
		if (rec->held_since_ns == 0)
			rec->held_since_ns = loop_now_ns();
		if (!rec->held_by_self && !rec->hold_told) {
			rec->hold_told = 1;
			log_warnx("the database is locked by another process: holding the batch "
			    "record in memory (%zu writes) and retrying", rec->count);
		}
		if (!loop_timer_armed(rec->retry))
			record_arm_retry(rec);
		return 1;
	}
	if (rc == 0) {
		for (op = rec->head; op != NULL; op = op->next) {
			db_set_clock(rec->db, op->at);
			if (record_apply(rec, op) == 0)
				continue;
			record_describe(op, what, sizeof(what));
			text_format(why, why_size, "the database did not record %s; none of the %zu "
			    "writes committed with it is on record", what, total);
			failed = total;
			break;
		}
		db_set_clock(rec->db, NULL);
		if (failed > 0) {
			db_group_rollback(rec->db);
		} else if (db_group_commit(rec->db) == -1) {
			failed = total;
			text_format(why, why_size, "the database did not commit %zu writes of the "
			    "batch record", total);
		}
	} else {
		failed = total;
		text_format(why, why_size, "the database could not start a transaction for %zu "
		    "writes of the batch record", total);
	}
	if (rec->hold_told && failed == 0)
		log_info("the database is free again: %zu held writes of the batch record "
		    "committed after %lld ms", total,
		    (long long)((loop_now_ns() - rec->held_since_ns) / 1000000));
	for (op = rec->head; op != NULL; op = next) {
		next = op->next;
		record_op_free(op);
	}
	rec->head = rec->tail = NULL;
	rec->count = 0;
	rec->held_since_ns = 0;
	rec->retry_ms = 0;
	rec->hold_reported = 0;
	rec->hold_told = 0;
	rec->held_by_self = 0;
	loop_timer_cancel(rec->retry);
	if (failed > 0)
		log_warnx("%s (%zu of %zu writes lost)", why, failed, total);
	if (rec->drained != NULL) {
		if (failed > 0 && rec->drained_ok) {
			rec->drained_ok = 0;
			text_format(rec->drained_why, sizeof(rec->drained_why), "%s", why);
		}
		/* told from a timer: a flush may be inside the executor's own write */
		if (!loop_timer_armed(rec->tell))
			loop_timer_at(rec->tell, loop_now_ns());
	}
	return failed > 0 ? -1 : 0;
}

static void
record_on_tell(void *arg)
{
	struct record *rec = arg;
	record_drained_cb cb = rec->drained;

	if (cb == NULL || rec->count > 0)
		return;		/* held again since: told when that is written */
	rec->drained = NULL;
	cb(rec->drained_arg, rec->drained_ok, rec->drained_ok ? NULL : rec->drained_why);
}

int
record_when_drained(struct record *rec, record_drained_cb cb, void *arg)
{
	if (rec->count == 0)
		return 0;
	if (rec->drained == NULL) {
		rec->drained_ok = 1;
		rec->drained_why[0] = '\0';
	}
	rec->drained = cb;
	rec->drained_arg = arg;
	return 1;
}

static void
record_on_retry(void *arg)
{
	struct record *rec = arg;
	char why[320];
	int64_t held_ms;
	int rc;

	if ((rc = record_flush(rec, why, sizeof(why))) == -1) {
		if (rec->fault != NULL)
			rec->fault(rec->arg, why);
		return;
	}
	if (rc == 1 && !rec->hold_reported) {
		held_ms = (loop_now_ns() - rec->held_since_ns) / 1000000;
		if (held_ms >= RECORD_HOLD_MS) {
			rec->hold_reported = 1;
			if (rec->held_by_self)
				text_format(why, sizeof(why), "lbld's own restart of the database's log "
				    "has held its lock for %lld s (its sync does not end): %zu writes "
				    "of the batch record are held in memory",
				    (long long)held_ms / 1000, rec->count);
			else
				text_format(why, sizeof(why), "the database has been locked by another "
				    "process for %lld s: %zu writes of the batch record are held in "
				    "memory", (long long)held_ms / 1000, rec->count);
			if (rec->fault != NULL)
				rec->fault(rec->arg, why);
		}
	}
}

/* The sync watch's next look (a timer the loop could not arm is said: nothing is watched). */
static void
record_watch_again(struct record *rec, int64_t now)
{
	if (loop_timer_at(rec->sync_watch, now + RECORD_SYNC_WATCH_MS * 1000000LL) == -1)
		log_warnx("the batch record: cannot watch the database log's sync: a disk that "
		    "stops syncing is not told");
}

/*
 * A commit of lbld's, the record's or any other (a recipe added, an
 * operator's event), was made without waiting for the disk (db_no_wait):
 * its sync is watched from now on. Called from inside the commit: it only
 * arms the watch.
 */
static void
record_on_sync_asked(void *arg)
{
	struct record *rec = arg;

	if (loop_timer_armed(rec->sync_watch))
		return;
	if (rec->sync_since_ns == 0) {
		rec->sync_since_ns = loop_now_ns();
		rec->sync_told = 0;
	}
	record_watch_again(rec, loop_now_ns());
}

/*
 * A commit that did not wait for the disk is watched until its sync is
 * done. One that failed is a fault: the writes are in the database (they
 * stand, and the batch's record goes on from them), but may not be on the
 * disk, and the batch must not run on as if they were. Told from this
 * timer, never from inside a write, so the executor is not re-entered.
 */
static void
record_on_sync_watch(void *arg)
{
	struct record *rec = arg;
	uint64_t done, pending = db_sync_pending(rec->db, &done);	/* first: see below */
	int64_t now = loop_now_ns();
	char why[320];

	/* a sync done after the count was read is checked for its error here */
	if (db_sync_check(rec->db, why, sizeof(why)) == -1) {
		rec->sync_since_ns = pending > 0 ? now : 0;
		rec->sync_told = 0;
		if (rec->fault != NULL)
			rec->fault(rec->arg, why);
		/* the syncs still under way are watched on (a commit in fault may have armed it) */
		if (pending > 0 && !loop_timer_armed(rec->sync_watch))
			record_watch_again(rec, now);
		return;
	}
	if (pending == 0) {
		rec->sync_since_ns = 0;
		return;
	}
	/* a disk that does not answer: the record's promise would have no bound */
	if (done != rec->sync_done) {
		rec->sync_done = done;
		rec->sync_since_ns = now;	/* it answers, if slowly: a later hang is told again */
		rec->sync_told = 0;
	}
	if (now - rec->sync_since_ns >= (int64_t)RECORD_HOLD_MS * 1000000 && !rec->sync_told) {
		rec->sync_told = 1;
		text_format(why, sizeof(why), "the disk has not synced the database's log for "
		    "%lld s: the last writes of the record may not be on it",
		    (long long)(now - rec->sync_since_ns) / 1000000000);
		log_warnx("%s", why);
		if (rec->fault != NULL)
			rec->fault(rec->arg, why);
	}
	if (!loop_timer_armed(rec->sync_watch))
		record_watch_again(rec, now);
}

/* Queues op (taking it) and, outside a group, commits. */
static int
record_queue(struct record *rec, struct record_op *op)
{
	char why[320], what[160];

	if (op == NULL) {
		log_warnx("the batch record: out of memory: a write is lost");
		return -1;
	}
	if (rec->count >= RECORD_MAX_HELD) {
		record_describe(op, what, sizeof(what));
		log_warnx("the batch record: %zu writes are held already (the database is locked "
		    "by another process): %s is lost", rec->count, what);
		record_op_free(op);
		return -1;
	}
	db_utc_now(op->at);
	if (rec->tail != NULL)
		rec->tail->next = op;
	else
		rec->head = op;
	rec->tail = op;
	rec->count++;
	if (rec->grouped)
		return 0;
	return record_flush(rec, why, sizeof(why)) == -1 ? -1 : 0;
}

/* A new op of kind with up to four owned copies of strings (NULL stays NULL). */
static struct record_op *
record_op_new(enum record_kind kind, int64_t batch_id, const char *s0, const char *s1,
    const char *s2, const char *s3)
{
	const char *src[4] = { s0, s1, s2, s3 };
	struct record_op *op = calloc(1, sizeof(*op));
	size_t i;

	if (op == NULL)
		return NULL;
	op->kind = kind;
	op->batch_id = batch_id;
	for (i = 0; i < 4; i++) {
		if (src[i] != NULL && (op->s[i] = strdup(src[i])) == NULL) {
			record_op_free(op);
			return NULL;
		}
	}
	return op;
}

int
record_step_begin(struct record *rec, int64_t batch_id, const struct db_step *row)
{
	struct record_op *op = record_op_new(REC_STEP_BEGIN, batch_id, row->phase, row->kind,
	    row->station, row->solution);

	if (op != NULL) {
		op->row.seq = row->seq;
		op->row.bilayer = row->bilayer;
		op->row.planned_start_ms = row->planned_start_ms;
		op->row.planned_duration_ms = row->planned_duration_ms;
		op->row.actual_start_ms = row->actual_start_ms;
		op->row.phase = op->s[0];
		op->row.kind = op->s[1];
		op->row.station = op->s[2];
		op->row.solution = op->s[3];
	}
	return record_queue(rec, op);
}

int
record_step_end(struct record *rec, int64_t batch_id, int seq, int64_t actual_start_ms,
    int64_t duration_ms, int64_t motion_ms, int64_t dwell_ms, const char *outcome)
{
	struct record_op *op = record_op_new(REC_STEP_END, batch_id, outcome, NULL, NULL, NULL);

	if (op != NULL) {
		op->row.seq = seq;
		op->start_ms = actual_start_ms;
		op->duration_ms = duration_ms;
		op->motion_ms = motion_ms;
		op->dwell_ms = dwell_ms;
	}
	return record_queue(rec, op);
}

int
record_bilayer(struct record *rec, int64_t batch_id, int n, double estimated_nm,
    double measured_nm)
{
	struct record_op *op = record_op_new(REC_BILAYER, batch_id, NULL, NULL, NULL, NULL);

	if (op != NULL) {
		op->n = n;
		op->a = estimated_nm;
		op->b = measured_nm;
	}
	return record_queue(rec, op);
}

int
record_event(struct record *rec, int64_t batch_id, const char *kind, const char *device,
    const char *message)
{
	return record_queue(rec, record_op_new(REC_EVENT, batch_id, kind, device, message, NULL));
}

int
record_state(struct record *rec, int64_t batch_id, const char *state, const char *cause)
{
	return record_queue(rec, record_op_new(REC_STATE, batch_id, state, cause, NULL, NULL));
}

int
record_solution(struct record *rec, int64_t batch_id, const char *name, const char *lot,
    int dips, double volume_ml, double area_cm2)
{
	struct record_op *op = record_op_new(REC_SOLUTION, batch_id, name, lot, NULL, NULL);

	if (op != NULL) {
		op->dips = dips;
		op->a = volume_ml;
		op->b = area_cm2;
	}
	return record_queue(rec, op);
}

int
record_step_volume(struct record *rec, int64_t batch_id, int seq, double planned_ml,
    double measured_ml)
{
	struct record_op *op = record_op_new(REC_STEP_VOLUME, batch_id, NULL, NULL, NULL, NULL);

	if (op != NULL) {
		op->row.seq = seq;
		op->a = planned_ml;
		op->b = measured_ml;
	}
	return record_queue(rec, op);
}

int
record_baseline(struct record *rec, int64_t batch_id, const char *sensor, double hz,
    const char *source)
{
	struct record_op *op = record_op_new(REC_BASELINE, batch_id, sensor, source, NULL, NULL);

	if (op != NULL)
		op->a = hz;
	return record_queue(rec, op);
}

void
record_group_begin(struct record *rec)
{
	rec->grouped = 1;
}

int
record_group_commit(struct record *rec, char *why, size_t why_size)
{
	char buf[320];

	rec->grouped = 0;
	if (why == NULL) {
		why = buf;
		why_size = sizeof(buf);
	}
	return record_flush(rec, why, why_size) == -1 ? -1 : 0;
}

size_t
record_held(const struct record *rec, int64_t *held_ms)
{
	if (held_ms != NULL)
		*held_ms = rec->held_since_ns == 0 ? 0 :
		    (loop_now_ns() - rec->held_since_ns) / 1000000;
	return rec->count;
}

int
record_held_by_self(const struct record *rec)
{
	return rec->count > 0 && rec->held_by_self;
}

void
record_free(struct record *rec)
{
	char why[320];
	size_t held;

	if (rec == NULL)
		return;
	if ((held = rec->count) > 0) {
		rec->grouped = 0;
		if (db_set_busy_timeout(rec->db, RECORD_FINAL_WAIT_MS) == 0 &&
		    record_flush(rec, why, sizeof(why)) == 0 && rec->count == 0)
			log_info("the batch record: %zu held writes committed at exit", held);
		if (rec->count > 0)
			log_warnx("the batch record: %zu writes could not be committed before exit "
			    "(the database is locked by another process); the next start finds "
			    "the batch interrupted at its last recorded step", rec->count);
	}
	while (rec->head != NULL) {
		struct record_op *next = rec->head->next;
		record_op_free(rec->head);
		rec->head = next;
	}
	db_on_sync_asked(rec->db, NULL, NULL);
	loop_timer_free(rec->tell);
	loop_timer_free(rec->retry);
	loop_timer_free(rec->sync_watch);
	free(rec);
}
