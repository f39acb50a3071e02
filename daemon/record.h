/*
 * The batch record as the executor writes it: every write of a running
 * batch (a step's start and end, a bilayer, an event, the batch's state,
 * its solutions) goes through here, in order, and is committed to the
 * database at once — or, when another process holds the database's write
 * lock (a sqlite3 shell in a transaction, say), held in memory and retried
 * from a loop timer until it can be, in the same order, each write stamped
 * with the time it happened. The event loop never waits on that lock:
 * lbld's connection has no busy timeout, so an e-stop or a status request
 * is never held up by someone else's transaction.
 *
 * A record held longer than RECORD_HOLD_MS is a fault (the batch fails,
 * safely, and the hold goes on until the record is written); so is a write
 * the database refuses for any other reason (a full disk, a constraint).
 *
 * Nor does the loop wait for the disk, when lbld has set its database so
 * (db_no_wait): every commit, this module's or another's, is in the
 * database's log at once and made durable by a thread beside the loop. The
 * record watches each such sync from a loop timer (every
 * RECORD_SYNC_WATCH_MS) until it is done: one that failed, or a disk that
 * has not synced for RECORD_HOLD_MS, is told to the fault callback (the
 * writes stand in the database, but may not be on the disk).
 */
#ifndef LBL_RECORD_H
#define LBL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "lbl_limits.h"
#include "loop.h"


struct record;

/*
 * Something could not be recorded: why names the write and the database's
 * reason. Called from the loop thread, from a record_* call or a retry.
 */
typedef void (*record_fault_cb)(void *arg, const char *why);

/* NULL when out of memory. The record uses db but does not own it. */
struct record *record_new(struct db *db, struct loop *loop, record_fault_cb fault, void *arg);
/*
 * Writes whatever is held (waiting up to 2 s for another process's lock:
 * the loop is over), says in the log what could not be written, and frees.
 */
void record_free(struct record *rec);

/*
 * The writes. Each is queued in order and, outside a group, committed at
 * once. Returns 0 when it is on record or held (the database is busy), -1
 * when it is not and will not be: the database refused it (the fault
 * callback is not called for it) or too much is held already. Strings are
 * copied.
 */
int record_step_begin(struct record *rec, int64_t batch_id, const struct db_step *row);
int record_step_end(struct record *rec, int64_t batch_id, int seq, int64_t actual_start_ms,
    int64_t duration_ms, int64_t motion_ms, int64_t dwell_ms, const char *outcome);
int record_bilayer(struct record *rec, int64_t batch_id, int n, double estimated_nm,
    double measured_nm);
int record_event(struct record *rec, int64_t batch_id, const char *kind, const char *device,
    const char *message);
int record_state(struct record *rec, int64_t batch_id, const char *state, const char *cause);
int record_solution(struct record *rec, int64_t batch_id, const char *name, const char *lot,
    int dips, double volume_ml, double area_cm2);
/* What a step's pumps counted beside the plan's volume (db_step_volume). */
int record_step_volume(struct record *rec, int64_t batch_id, int seq, double planned_ml,
    double measured_ml);
/* A QCM baseline and where it came from (db_baseline_set). */
int record_baseline(struct record *rec, int64_t batch_id, const char *sensor, double hz,
    const char *source);

/*
 * A step boundary's writes as one transaction (one commit, one sync): the writes
 * between record_group_begin and record_group_commit are committed
 * together, or none of them. record_group_commit returns as the writes do:
 * 0 on record or held, -1 when a write in the group was refused: the whole
 * group is then rolled back (why, if not NULL, names the refused write and
 * says so). Writes held while the database was locked by another process
 * are committed together when it is free, and so stand or fall together.
 * Groups do not nest; a begin inside a group is ignored.
 */
void record_group_begin(struct record *rec);
int record_group_commit(struct record *rec, char *why, size_t why_size);

/*
 * Told once, from a loop timer, when nothing is held any more: ok 1 when
 * everything held since record_when_drained was asked is on record, 0
 * when some was lost (why names the first loss). A client told that a
 * batch has ended is told only once its end is on record.
 */
typedef void (*record_drained_cb)(void *arg, int ok, const char *why);
/*
 * Asks for cb: 1 when it will be called, 0 when nothing is held or queued
 * now (it will not be). One waiter: a second ask replaces the first's cb
 * and keeps what the first has seen.
 */
int record_when_drained(struct record *rec, record_drained_cb cb, void *arg);

/* How many writes are held, and for how long the oldest has been (ms), 0 if none. */
size_t record_held(const struct record *rec, int64_t *held_ms);
/*
 * Whether the last busy answer was maybe lbld's own database thread's (its
 * restart of the log, db_self_lock_seq), not another process's lock.
 */
int record_held_by_self(const struct record *rec);

#endif
