/*
 * Internals shared by hw.c (the interface, GPIO, completions in the loop
 * thread) and hw_bus.c (one worker thread per Modbus bus). Not for other
 * modules.
 */
#ifndef LBL_HW_PRIVATE_H
#define LBL_HW_PRIVATE_H

#include <pthread.h>
#include <stdint.h>

#include <modbus.h>

#include "hw.h"
#include "profile.h"

struct hw_safe_batch;

/*
 * A bus queue's priorities, first served first: a safe state's stop and off
 * commands, then every other request (the executor's timed commands, its
 * status reads, watchdog feeds, input polls), then supervision polls, which
 * also wait while the executor's next deadline is near (hw_bus_take_locked()).
 * Within a priority, first come first served.
 */
enum hw_prio { HW_PRIO_SAFE, HW_PRIO_TIMED, HW_PRIO_POLL };

/*
 * A gate (hw_submit_opening()): what a request queued after it
 * (hw_submit_after()) waits for, the end of the request that opens it, on
 * that one's worker. state is stored and loaded atomically: the opener's
 * worker stores it, then wakes the second's worker if the second is queued
 * by then (bus, under the gate's lock, which hw_submit_after() sets before
 * it queues the second); a worker reads it under its own bus's lock, which
 * the wake takes, so no wake is lost. refs counts the holders (the two jobs
 * and the caller, until it queues the second or lets go), in the loop
 * thread, which frees every job (hw_job_free()). A worker touches the gate
 * only while it has the opener in hand, which the loop thread cannot free
 * then, and hw_close() destroys no bus's lock before every worker has
 * stopped.
 */
enum hw_gate_state { HW_GATE_SHUT, HW_GATE_OPEN, HW_GATE_FAILED };
struct hw_gate {
	int state;			/* enum hw_gate_state, atomic */
	pthread_mutex_t lock;		/* guards bus */
	struct hw_bus *bus;		/* the second's, once queued: woken when the first ends */
	int first_device;		/* named when the second is not sent */
	unsigned epoch;			/* hw->epoch as the first was queued */
	int refs;
};
/* A gate's state, read atomically (any thread). */
int hw_gate_state(const struct hw_gate *gate);

/* One queued operation; owned by the bus queue, then by the done list. */
struct hw_job {
	struct hw_job *next;
	struct hw_request req;
	struct hw_result res;
	hw_done_cb done;
	void *arg;
	unsigned epoch;			/* hw->epoch when queued; stale ones are dropped */
	struct hw_safe_batch *safe;	/* set for the commands of a safe state */
	int attempts;			/* safe state: attempts made (one per pass) */
	enum hw_prio prio;
	struct hw *hw;			/* whose (hw_job_drop() notes a command dropped) */
	unsigned cmd_seq;		/* its device's hw_cmd.seq once queued (reads: hw_sup_seen()) */
	int64_t queued_ns;		/* when it was queued (loop_now_ns()) */
	/* hw_submit_opening(): it settles the gate as it ends; hw_submit_after(): it waits */
	struct hw_gate *opens, *waits;
};

struct hw_bus {
	struct hw *hw;
	const struct rig_bus *cfg;
	int index;
	modbus_t *ctx;
	pthread_t thread;
	int thread_started;

	/* Everything below is guarded by lock. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct hw_job *queue_head, *queue_tail;
	int stopping;
	int fd;				/* the connected socket or tty, -1 when closed */
	int job_running;		/* the worker has a job in hand */
	int in_flight;			/* a transaction is running on fd */
	/*
	 * hw_safe_state() broke the transaction in flight. Written under lock
	 * with __atomic stores and read with __atomic loads, without the lock
	 * (hw_bus_was_interrupted), so that the worker's spin to a release
	 * (hw_bus_spin_to) need not take it: a spinner taking the lock each
	 * pass would keep hw_safe_state() waiting for it, and would itself
	 * sleep on it when the loop thread held it.
	 */
	int interrupted;
	int fd_broken;			/* fd was broken under the worker: reopen before use */
	int line_dirty;			/* RTU: an attempt failed or was cut: wait for quiet */
	int64_t deadline_ns;		/* the attempt in flight is broken at this time, 0 none */
	int expired;			/* the watcher broke an attempt at its deadline */
	int64_t watch_until_ns;		/* the watcher sleeps until then, INT64_MAX until woken */
	pthread_cond_t watch_wake;	/* the watcher waits here (CLOCK_MONOTONIC) */
	pthread_t watch_thread;
	int watch_started;		/* watch_wake initialised and the watcher running */
	/*
	 * The executor's next deadline (hw_set_next_deadline()), 0 none: a poll
	 * that could still be on the bus then does not start.
	 */
	int64_t next_deadline_ns;
	/*
	 * How far ahead of a released request's moment (hw_request.release_ns)
	 * the worker wakes, learnt from how late its timed waits end
	 * (hw_bus_learn_wake()); it waits out the rest on the clock, so the
	 * request leaves on its moment rather than a thread's wake after it.
	 */
	int64_t wake_lead_ns;
	/* what the bus did, for hw_bus_usage() */
	unsigned long polls;
	int64_t poll_ns, busy_ns;

	/* Worker-thread only. */
	int ever_connected;
	int64_t retry_at_ns;		/* no reconnect attempt before this (back-off) */
	int backoff_ms;
};

struct hw_input {
	int device;
	struct gpio_line *line;
	int level;			/* last logical level, -1 unknown */
};

/*
 * Per device: what lbld last commanded it (loop thread only), for
 * supervision to compare polls with. seq moves on with every command
 * queued or ended, so a poll that overlapped one is not judged.
 */
struct hw_cmd {
	unsigned seq;
	int pending;			/* commands queued or in flight */
	int known;			/* the last command succeeded: what follows holds */
	int running;			/* pump, line: commanded to run */
	double rate;			/* pump, line: its rate (mL/min, rpm, mm/s) */
	int on;				/* valve: commanded on */
	int64_t ended_ns;		/* when the last command ended (loop_now_ns()) */
	/*
	 * Axis: where lbld left it. A move (whole or fired) makes it moving to
	 * target_mm until a read finds it there (hw_sup_seen()); from then it
	 * rests at rest_mm until its next command. A stop makes it stopping
	 * until a read finds it not busy; a home, and anything failed or
	 * dropped, make it unknown (judged for alarm only). rest_known is 0
	 * while where it rests is still to be read: a status takes more than
	 * one transaction on most profiles, so a position read before the
	 * flag that said it arrived may be from before it did.
	 */
	enum hw_axis_state { HW_AXIS_UNKNOWN, HW_AXIS_MOVING, HW_AXIS_STOPPING,
		HW_AXIS_RESTING } axis;
	double target_mm, rest_mm;
	int rest_known;
};

/* Per device in supervision (hw_super.c, loop thread only). */
struct hw_sup {
	int in_use;			/* polled while supervision is on */
	int64_t period_ns;
	int64_t next_ns;		/* next poll due */
	int in_flight;			/* a poll of ours is queued or running ... */
	unsigned in_flight_epoch;	/* ... unless a safe state dropped it since */
	unsigned in_flight_seq;		/* hw_cmd.seq when it was queued */
	int64_t in_flight_ns;		/* when it was queued */
	int fails;			/* polls failed in a row */
	int reported;			/* its fault is reported: no more polls */
	int starved;			/* a poll waited too long: logged once */
	/*
	 * Pump (volume) or line (length) running: the counter's reading the
	 * next judged poll is held against, when it was read, and the command
	 * (hw_cmd.seq) it belongs to; count_at_ns 0 none yet.
	 */
	double count;
	int64_t count_at_ns;
	unsigned count_seq;
	/*
	 * Axis without an in-position flag: a poll that found it stopped short
	 * (position, then busy, in two transactions: it may have arrived in
	 * between), and where; a second one in a row at the same place reports.
	 */
	int short_seen;
	double short_mm;
};

/* Per device with a comm_timeout: its feeding (loop thread only). */
struct hw_wd {
	int64_t period_ns;		/* comm_timeout / 3 */
	int64_t next_ns;		/* next request due */
	int armed;			/* its last arm write succeeded */
	int in_flight;			/* a request of ours is queued or running ... */
	unsigned in_flight_epoch;	/* ... unless a safe state dropped it since */
	int failing;			/* the last request failed (report once) */
};

struct hw {
	const struct rig *rig;
	struct loop *loop;
	struct profile_set *profiles;
	struct hw_bus *buses;
	size_t bus_count;
	struct gpio_line **gpio;	/* per device: GPIO line or NULL */
	int *levels;			/* per device: input level, -1 unknown */
	hw_input_cb input_cb;
	void *input_arg;
	struct loop_timer *poll_timer;
	int poll_interval_ms;
	int poll_pending;		/* Modbus input reads in flight */
	/*
	 * Written by the loop thread only, with atomic stores; workers load it
	 * atomically: a job queued before the last safe state is not sent
	 * (hw_bus_main), since hw_safe_state() stores the new epoch before it
	 * interrupts any bus.
	 */
	unsigned epoch;
	int outputs_only;		/* hw_open_outputs(): for the safe state alone */
	int probe_only;			/* hw_open_probe(): an unopened line fails its requests */
	const char *consumer;		/* GPIO consumer label: "lbld", "lbl-safe", "lblctl" */
	char **gpio_error;		/* outputs_only, probe_only: why each line is not open */
	hw_safe_cb safe_cb;
	void *safe_arg;
	enum hw_safe_status *safe_status;	/* per device: the last safe state's command */
	struct hw_wd *wd;		/* per device */
	int wd_count;			/* devices with a comm_timeout */
	int wd_on;			/* hw_watchdog_arm(hw, 1) was the last call */
	struct loop_timer *wd_timer;
	hw_watchdog_cb wd_cb;
	void *wd_arg;
	struct hw_cmd *cmd;		/* per device */
	struct hw_sup *sup;		/* per device */
	int sup_on;			/* hw_supervise() with devices in use */
	unsigned sup_gen;		/* moves on with each hw_supervise(): polls' tag */
	struct loop_timer *sup_timer;
	hw_supervise_cb sup_cb;
	void *sup_arg;
	int64_t usage_since_ns, usage_until_ns;	/* hw_bus_usage()'s window, until 0: now */
	unsigned long *usage_polls;	/* per bus: its counters when the window opened */
	int64_t *usage_poll_ns, *usage_busy_ns;

	/* Completed jobs, handed from workers to the loop thread. */
	pthread_mutex_t done_lock;
	struct hw_job *done_head, *done_tail;
	int event_fd;

	pthread_mutex_t stats_lock;
	struct hw_stats stats;
};

/*
 * Starts the worker of bus and its deadline watcher; returns 0 or -1 with
 * err (a watcher that cannot start fails the start: without it no
 * transaction would have a deadline the worker cannot overrun).
 */
int hw_bus_start(struct hw_bus *bus, char *err, size_t err_size);
/* Stops and joins the worker and its watcher, freeing queued jobs and the context. */
void hw_bus_stop(struct hw_bus *bus);
/*
 * Deadlines of a bus, in ms, from its rig file's timeout T, retries R and,
 * on RTU, frame_delay F (see hw_bus.c): one attempt of a transaction (the
 * request and the whole reply) T; a transaction, retries and (re)connecting
 * included, (R + 1) x (T + F) + T; a safe state's command one attempt,
 * T + F + T.
 */
int64_t hw_bus_attempt_ms(const struct rig_bus *cfg);
int64_t hw_bus_transaction_ms(const struct rig_bus *cfg);
int64_t hw_bus_safe_command_ms(const struct rig_bus *cfg);
/*
 * A poll's deadline on bus, in ms: one attempt, and a connect first when
 * the link is down (connected = 0): T + F, or T + T + F.
 */
int64_t hw_bus_poll_ms(const struct rig_bus *cfg, int connected);
/*
 * Queues job on the bus behind every job of its priority or a higher one
 * (first = 1: before the others of its priority, still behind higher ones).
 */
void hw_bus_queue(struct hw_bus *bus, struct hw_job *job, int first);
/*
 * The job the worker runs next, taken off the queue, or NULL: none queued,
 * or the head waits for a gate (hw_submit_after()) whose opener has not
 * ended (*wait_until_ns = 0 for both: hw_gate_settle() wakes the worker;
 * one whose first failed is taken at once, to be answered unsent; a
 * watchdog's feed or write queued behind it goes past it meanwhile, so a
 * slow opener on another bus does not starve this bus's devices' feeds), or the
 * head is released at a later moment
 * (hw_request.release_ns; it is taken wake_lead_ns ahead of it, and
 * *wait_until_ns is that time), or only polls, which must wait until
 * *wait_until_ns (CLOCK_MONOTONIC) unless the deadline moves first: a poll
 * does not start when, with hw_bus_poll_ms() of its own, it could still be
 * on the bus at the executor's next deadline, from then until
 * HW_POLL_HOLD_AFTER_MS past it (the executor's commands are queued in
 * that time, ahead of polls). Call with lock held; now_ns on
 * CLOCK_MONOTONIC.
 */
struct hw_job *hw_bus_take_locked(struct hw_bus *bus, int64_t now_ns, int64_t *wait_until_ns);
/*
 * A timed wait of the worker's for a released request ended late_ns after
 * the time it asked for: wake_lead_ns moves half of the way up to a later
 * wake (at most 0.2 ms of the difference counted), a sixteenth of the way
 * down to an earlier one but at most 2 us (so that nearly all wakes come
 * ahead of the moment, at a short spin's cost), kept within 0 and
 * HW_RELEASE_SPIN_MAX_US. Call with lock held.
 */
void hw_bus_learn_wake(struct hw_bus *bus, int64_t late_ns);
/*
 * The worker's last stretch to a released request's moment, spun on the
 * clock (at most wake_lead_ns, HW_RELEASE_SPIN_MAX_US): returns 0 at
 * release_ns (CLOCK_MONOTONIC), or 1 at once when a safe state interrupts
 * the bus meanwhile (read without the lock); the request is then not sent
 * (hw_bus_transact), and the safe state's commands do not wait out the
 * spin where the loop thread has a core of its own. Call without the
 * lock.
 */
int hw_bus_spin_to(struct hw_bus *bus, int64_t release_ns);
/*
 * A gate's opener has ended on its worker, ok or not: the gate opens (the
 * request after it goes) or fails (that one is answered failed, unsent),
 * and its worker is woken if it is queued. Call from the opener's worker
 * without any bus's lock; it takes the gate's and the second's.
 */
void hw_gate_settle(struct hw_gate *gate, int ok);
/* Polls wait this long after a deadline passed unless the executor sets the next first. */
#define HW_POLL_HOLD_AFTER_MS	100
/* ... and leave this much beside their own deadline before the next one. */
#define HW_POLL_MARGIN_MS	2
/*
 * Drops every queued job (freed, no callback) and interrupts the
 * transaction in flight, if any, so that the worker is free at once.
 */
void hw_bus_interrupt(struct hw_bus *bus);
/*
 * The transactions a status read (HW_STATUS, HW_PROBE) of a device with
 * profile p takes: 1 when its objects lie together in one table (one read
 * of them all), else one per distinct register. Never fails.
 */
int hw_status_transactions(const struct profile *p);
/* Frees a job that will never complete (loop thread only: it may end a safe batch). */
void hw_job_drop(struct hw_job *job);
/* Frees a job, and a gate it held last (loop thread only). */
void hw_job_free(struct hw_job *job);
/* Hands a finished job to the loop thread (any thread). */
void hw_complete(struct hw *hw, struct hw_job *job);
void hw_count(struct hw *hw, int transactions, int retries, int reconnects, int failures);
/* The command ops: what hw_cmd tracks (everything but reads). */
int hw_op_is_command(enum hw_op op);
/* hw_enqueue() at a priority (hw_super.c queues its polls so). */
int hw_submit_prio(struct hw *hw, const struct hw_request *req, enum hw_prio prio,
    hw_done_cb done, void *arg, char *err, size_t err_size);
/* hw_super.c: its timer (created at open) and its end at close. */
int hw_sup_open(struct hw *hw, char *err, size_t err_size);
void hw_sup_close(struct hw *hw);
/*
 * Sets supervision's timer afresh: after a safe state dropped the polls
 * queued (hw->epoch moved on), each device whose poll was waiting is
 * polled again when due, not once that poll would have counted as starved.
 */
void hw_sup_reschedule(struct hw *hw);
/*
 * A read of device (job: its request, result and cmd_seq) answered in the
 * loop thread: an axis commanded to move that reads at its target, or one
 * stopping that reads not busy, is from then left at rest where it read
 * (hw_cmd.axis). A read that overlapped a command to the device changes
 * nothing. Never fails.
 */
void hw_sup_seen(struct hw *hw, const struct hw_job *job);

#endif
