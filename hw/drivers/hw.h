/*
 * The hardware layer: every device of a rig behind one small interface.
 *
 * Modbus devices are driven by one worker thread per bus, the only owner
 * of that bus's libmodbus context (contexts are not thread safe, and a
 * transaction blocks for up to the response timeout). Requests are queued
 * to the worker and complete in the event loop's thread through an
 * eventfd, so nothing in the loop ever waits on a bus: an e-stop edge is
 * handled while a transaction hangs. GPIO valves and inputs are driven
 * directly from the loop thread. Retries, reconnection and back-off are
 * done here, never by libmodbus's own error recovery (which loops inside
 * the call).
 */
#ifndef LBL_HW_H
#define LBL_HW_H

#include <stddef.h>

#include "loop.h"
#include "rig.h"

struct hw;

enum hw_op {
	HW_PROBE,	/* whatever the role reports: position, flags, value */
	HW_MOVE,	/* axis: speed (if the profile has one), target, go */
	HW_HOME,	/* axis */
	HW_STOP,	/* axis, pump, line */
	HW_STATUS,	/* axis: position and busy/in-position/alarm flags */
	HW_PUMP,	/* pump: direction, flow, run; flow 0 stops */
	HW_LINE,	/* line drive: direction, speed, run; speed 0 stops */
	HW_OUTPUT,	/* valve or relay: on (value 1) or off (0) */
	HW_READ,	/* sensor value, or input active (1/0) */
	HW_WATCHDOG,	/* Modbus axis, pump, valve, line: write value (ms, 0 disarms) to
			 * its watchdog register; see hw_watchdog_arm() */
	HW_FEED,	/* the same: read the watchdog register, a request the device
			 * counts as a sign of life (value: what it holds, ms) */
	HW_RESET,	/* axis, pump, line: its profile's 'reset', clearing its alarm */
};

/*
 * Arm, then fire: a start (HW_MOVE, or HW_PUMP and HW_LINE with a rate
 * above 0) may go in two requests. HW_ARM writes everything the start
 * needs but its trigger (an axis's enable, speed, acceleration and target;
 * a pump's or line's direction and rate), each write read back and
 * compared, ahead of the deadline (a pump or line whose profile has a
 * 'running' flag is read first, and one that runs is left alone: the
 * result's running is 1, nothing was written); HW_FIRE sends the trigger
 * alone (go, run) at it. HW_WHOLE (0, the default) sends all of it in one request.
 * hw_can_arm() says whether a device's profile separates them.
 */
enum hw_stage { HW_WHOLE, HW_ARM, HW_FIRE };

struct hw_request {
	int device;		/* index into rig->devices */
	enum hw_op op;
	double value;		/* target mm, flow mL/min, speed mm/s, output 0/1 */
	double speed_mm_s;	/* HW_MOVE: 0 means the device's max_speed */
	int reverse;		/* HW_PUMP, HW_LINE */
	unsigned tag;		/* the caller's own, handed back untouched in req */
	enum hw_stage stage;	/* HW_MOVE, HW_PUMP, HW_LINE: see enum hw_stage */
	/*
	 * Not sent before this moment (loop_now_ns() clock), 0: at once. The
	 * request waits at the head of its bus's queue, so what is queued
	 * behind it waits too, and a safe state drops it like any queued
	 * request: the executor queues a step's first command a little ahead
	 * and the bus's own thread sends it on the moment, with no hand-off
	 * between the deadline and the wire. Modbus only: a GPIO request is
	 * done when submitted: hw_submit() refuses a release on a GPIO device
	 * (and hw_submit_poll() one on any).
	 */
	int64_t release_ns;
};

/* Flags are -1 when the device's profile does not report them. */
struct hw_result {
	int ok;
	char error[256];	/* names device, bus, unit, register and why */
	double value;		/* HW_READ, HW_PROBE of sensors and inputs */
	double position_mm;	/* axes; NAN if not read */
	int busy, in_position, alarm, running;
	int homed;		/* axes: the profile's homed flag, -1 without one */
	/*
	 * When its first request went out (CLOCK_MONOTONIC ns, as
	 * loop_now_ns()): stamped just before the first Modbus call's send, or
	 * the GPIO line's set or read, whether that then succeeded or not; 0
	 * when none was tried (refused, dropped, no connection).
	 */
	int64_t sent_ns;
};

typedef void (*hw_done_cb)(void *arg, const struct hw_request *req, const struct hw_result *res);
/* A GPIO or polled Modbus input changed: device index, logical level (1 = active). */
typedef void (*hw_input_cb)(void *arg, int device, int active);

/*
 * Opens GPIO lines (outputs in their safe, off state) and starts a worker
 * per Modbus bus; buses connect lazily, so an absent device is reported by
 * the first request, not here. A GPIO line that cannot be opened (its chip
 * missing) does not fail the open either: it is logged, each request to
 * it fails with that reason (hw_gpio_error()), and an input's level stays
 * unknown. Device profiles must have been checked. Returns 0, or -1 with a
 * message in err.
 */
int hw_open(const struct rig *rig, struct loop *loop, struct hw **out, char *err,
    size_t err_size);
/*
 * hw_open() for a program that only makes the rig safe (lbl-safe), which
 * may find lines held by another process: inputs are not opened at all
 * (requests to them fail), and a GPIO output that cannot be opened does
 * not fail the open but is logged, and each request to it, its safe-state
 * command included, fails with that reason. Its GPIO consumer is
 * "lbl-safe".
 */
int hw_open_outputs(const struct rig *rig, struct loop *loop, struct hw **out, char *err,
    size_t err_size);
/*
 * hw_open() for lblctl hw's probe without lbld: a GPIO line (input or
 * output) that cannot be opened (a missing chip, a line in use) does not
 * fail the open; each request to it fails with that reason, so the other
 * devices are still probed. Its GPIO consumer is "lblctl".
 */
int hw_open_probe(const struct rig *rig, struct loop *loop, struct hw **out, char *err,
    size_t err_size);
/* Stops the workers (interrupting transactions) and releases every line. */
void hw_close(struct hw *hw);

/* Input changes are reported to cb from the loop thread. */
void hw_set_input_cb(struct hw *hw, hw_input_cb cb, void *arg);
/*
 * Modbus inputs (e-stop on a remote I/O module...) are polled every
 * interval_ms while enabled; GPIO inputs need no polling (edge events).
 */
void hw_poll_inputs(struct hw *hw, int enable, int interval_ms);
/* The last known level of an input device: 1 active, 0 inactive, -1 unknown. */
int hw_input_level(const struct hw *hw, int device);
/*
 * The current epoch: it changes with every safe state, and differs between
 * one hw and the next opened (a reload). A request submitted in an epoch
 * that has since changed will never call back if it has not already:
 * whoever waits for it may let it go.
 */
unsigned hw_epoch(const struct hw *hw);
/*
 * Why a GPIO device's line could not be opened (its chip missing, the line
 * taken...), or NULL when it was opened or is not on GPIO. Such a device is
 * unreachable until lbld restarts; an input's level stays unknown (-1).
 */
const char *hw_gpio_error(const struct hw *hw, int device);

/*
 * Queues req on its device's bus. done is called once from the loop thread
 * unless the request is dropped by hw_safe_state(). Returns 0, or -1 when
 * the request does not suit the device (err says why; done is not called).
 */
int hw_submit(struct hw *hw, const struct hw_request *req, hw_done_cb done, void *arg,
    char *err, size_t err_size);
/*
 * One timed Modbus request following another on the buses with no turn of
 * the event loop between them. hw_submit_opening() queues req as
 * hw_submit() does, and gives a gate that opens when req is confirmed on
 * its bus's worker, or fails when req fails. hw_submit_after() queues a
 * request on its own device's bus (the same or another) that waits at the
 * head of that bus's queue for the gate: open, it goes at once (not before
 * its own release_ns), its worker woken by the opener's; failed, it is
 * answered failed and never sent, its error naming both devices. What is
 * queued behind it waits with it; what the caller queues on a bus between
 * the two goes before it there (a pump's counter read between a set and a
 * pump's start). A safe state drops both, and hw_submit_after() refuses a
 * gate whose opener a safe state dropped, so the second never goes after
 * one (nor does any request queued before a safe state that has begun).
 * A watchdog's feed or write queued behind the second goes past it while
 * it waits. The gate is the caller's until hw_submit_after() returns 0 or
 * hw_gate_release(). Both return 0, or -1 with err when req does not suit
 * its device or is on GPIO, when out of memory, and (hw_submit_after())
 * when a safe state came after the opener: nothing is queued then, done is
 * not called. hw_submit_then() is the two at once: neither is queued if
 * either does not suit; out of memory for the second, the first goes
 * alone (logged) and 0 is returned.
 */
struct hw_gate;
int hw_submit_opening(struct hw *hw, const struct hw_request *req, hw_done_cb done, void *arg,
    struct hw_gate **gate, char *err, size_t err_size);
int hw_submit_after(struct hw *hw, struct hw_gate *gate, const struct hw_request *req,
    hw_done_cb done, void *arg, char *err, size_t err_size);
/* Lets go of one hold of a gate (NULL: none), freeing it with the last (loop thread). */
void hw_gate_release(struct hw_gate *gate);
int hw_submit_then(struct hw *hw, const struct hw_request *first, hw_done_cb done, void *arg,
    const struct hw_request *then, hw_done_cb then_done, void *then_arg, char *err,
    size_t err_size);
/*
 * hw_submit() behind every timed and safe-state request on the bus, as
 * supervision's polls go: for reads nobody's deadline waits on (lblctl hw
 * while lbld runs, pre-flight).
 */
int hw_submit_poll(struct hw *hw, const struct hw_request *req, hw_done_cb done, void *arg,
    char *err, size_t err_size);

/*
 * The safe state, at once: GPIO valves close here and now; on every bus
 * queued requests are dropped (no callbacks), a transaction in flight is
 * interrupted, and stop commands for every pump, line and axis and off for
 * every valve go first, every bus at once, outputs (pumps, valves, lines)
 * before motion. Each command is one attempt with a short deadline of its
 * own (hw_safe_command_ms()), so a dead or trickling unit costs the others
 * at most that; one that failed goes again after the other devices'
 * commands on its bus, up to the bus's retries. done (may be NULL) is
 * called when all of them have completed, within hw_safe_state_ms(), ok = 0
 * and the first error if any failed.
 */
void hw_safe_state(struct hw *hw, void (*done)(void *arg, int ok, const char *error),
    void *arg);

/* Where the last safe state's command to a device stands (loop thread). */
enum hw_safe_status {
	HW_SAFE_NONE,		/* the device has no safe-state command, or no safe state yet */
	HW_SAFE_PENDING,	/* queued, in flight, or failed and waiting to go again */
	HW_SAFE_CONFIRMED,	/* acknowledged */
	HW_SAFE_FAILED,		/* failed every attempt */
};
enum hw_safe_status hw_safe_status(const struct hw *hw, int device);

/*
 * Deadlines, in ms, from the rig file's timeout T, retries R and, on RTU,
 * frame_delay F of a device's bus (hw_bus.c says how they are kept):
 * hw_transaction_ms: one transaction, retries and (re)connecting included,
 * (R + 1) x (T + F) + T; 0 for a GPIO device. hw_safe_command_ms: one
 * command of a safe state, T + F + T. hw_safe_state_ms: the longest a safe
 * state may take until its done: on the bus with the most to stop, every
 * command failing all R + 1 attempts (GPIO outputs take no time).
 */
int64_t hw_transaction_ms(const struct hw *hw, int device);
int64_t hw_safe_command_ms(const struct hw *hw, int device);
int64_t hw_safe_state_ms(const struct hw *hw);

/*
 * The devices' own communication-loss timeouts (the rig file's
 * comm_timeout, through each profile's watchdog register), so that a pump
 * or drive stops by itself when this process stops talking to it: killed,
 * hung, or cut off from the bus.
 *
 * on = 1 writes each such device's timeout to its watchdog register and
 * from then on keeps it fed: a read of that register (never a write: many
 * devices keep such settings in EEPROM) every comm_timeout / 3, from a
 * loop timer, at most one request per device in flight. A device whose
 * arm write failed, or was dropped by hw_safe_state(), gets the write
 * again in place of its next feed. on = 0 writes 0 (disarm) to each and
 * stops the timer, so an idle process never wakes up for it. Everything
 * goes through the bus queues like any request: nothing here blocks.
 * Calling on = 1 while armed writes the timeouts again; on = 0 while
 * disarmed does nothing. Feeding goes on through a safe state until on = 0.
 *
 * Returns the number of devices with a comm_timeout. 0 means there is
 * nothing to arm: then nothing is written and no timer is ever armed.
 *
 * Failures are reported from the loop thread to the callback set with
 * hw_set_watchdog_cb(), or logged when there is none, each with an error
 * naming device, bus, unit and register: a device's first failed request
 * (arm write or feed) after hw_watchdog_arm(hw, 1) or after a success, so
 * a device that stays unreachable is one report, not one per period; and
 * every failed disarm write. A failed arm write is tried again at the
 * device's next feed time while armed; a failed disarm is not.
 */
typedef void (*hw_watchdog_cb)(void *arg, int device, const char *error);
int hw_watchdog_arm(struct hw *hw, int on);
void hw_set_watchdog_cb(struct hw *hw, hw_watchdog_cb cb, void *arg);

/*
 * Reports each command of every later hw_safe_state() as it completes, from
 * the loop thread: the device and its result (an error names device, bus,
 * unit and register). Commands dropped by a newer safe state are not
 * reported; that one reports its own.
 */
typedef void (*hw_safe_cb)(void *arg, int device, const struct hw_result *res);
void hw_set_safe_cb(struct hw *hw, hw_safe_cb cb, void *arg);

/*
 * Whether req (HW_MOVE, or HW_PUMP or HW_LINE with a rate above 0) can be
 * armed ahead and fired at its deadline: 1, or 0 with why naming the
 * device and its profile: a GPIO device, another operation, or a profile
 * whose trigger shares a register with a setpoint it carries (writing the
 * setpoint early would start it, or the trigger would overwrite it). Such
 * a start goes whole (HW_WHOLE) at its deadline.
 */
int hw_can_arm(const struct hw *hw, const struct hw_request *req, char *why, size_t why_size);

/* An axis is at its target within this when its profile has no in-position flag. */
double hw_axis_tolerance_mm(const struct hw *hw, int device);

/*
 * Whether a pump's profile has a volume counter (its 'volume' operation,
 * read by HW_PROBE into the result's value, mL): 1, with *wrap_ml the
 * count at which it wraps to 0 (an unsigned register: 2^bits x scale;
 * INFINITY for one that does not wrap so), or 0 when it has none.
 */
int hw_volume_counter(const struct hw *hw, int device, double *wrap_ml);

/*
 * Supervision while a batch runs: each device marked in in_use (one byte
 * per rig device, 1 = in use) that is on Modbus and has something to read
 * is polled at its own period (hw_poll_period_ms()) at the bus's lowest
 * priority: a poll never goes before a queued request, and none starts
 * that could still be on the bus at the executor's next deadline
 * (hw_set_next_deadline()). Each poll reads what the profile offers
 * (pump and line: running, alarm, volume; axis: position, busy,
 * in-position, alarm; valve: state, alarm; sensor: its reading; in one
 * read where the profile's objects lie together) and holds it against
 * what lbld last commanded: an alarm, a pump or line commanded to run that
 * reads stopped (or stopped that reads running), a running pump's or
 * line's counter that has not moved once its rate should have moved it 10
 * steps (two readings: one period more), an axis at rest (found at its
 * move's target) that reads busy or more than its tolerance from where it
 * came to rest, an axis moving that reads not busy away from its target
 * (stopped short), a valve in the other state, an implausible sensor
 * reading (profile_check_reading) is a fault at once; a device that does not answer is one after as many
 * polls in a row as its bus makes attempts (retries + 1), each repeated at
 * once. A poll that overlapped a command to its device is not judged but
 * repeated, and flags are judged only from 100 ms after the device's last
 * command (it may report its new state a few scan cycles late). So a fault
 * is reported within the device's period plus one transaction deadline
 * (hw_supervise_budget_ms()), once per device, to the callback set with
 * hw_set_supervise_cb() (or logged), from the loop thread, with an error
 * naming device, bus, unit, register and what was read against what was
 * commanded.
 *
 * in_use NULL stops supervision: no timer stays armed (an idle lbld never
 * wakes up for it); polls queued are answered and ignored. Calling it again
 * starts afresh (reports again). Returns how many devices are polled.
 */
typedef void (*hw_supervise_cb)(void *arg, int device, const char *error);
int hw_supervise(struct hw *hw, const unsigned char *in_use);
void hw_set_supervise_cb(struct hw *hw, hw_supervise_cb cb, void *arg);
/*
 * A device's poll period, ms: the rig file's poll_period, else the default
 * of its role (pump and line 250, axis and valve 500, sensor 1000),
 * lengthened on a slow bus so that a device's polls take at most a
 * twentieth of it (an RTU frame's wire time at the bus's baud rate); 0 for
 * a device never polled (GPIO, inputs, nothing to read).
 */
int64_t hw_poll_period_ms(const struct hw *hw, int device);
/* The most a fault of device takes to be reported: its period and one transaction deadline. */
int64_t hw_supervise_budget_ms(const struct hw *hw, int device);
/*
 * The executor's next deadline (CLOCK_MONOTONIC ns, loop_now_ns()'s clock),
 * 0 for none: polls keep clear of it (see hw_supervise()). Cheap: call it
 * whenever a deadline is set.
 */
void hw_set_next_deadline(struct hw *hw, int64_t deadline_ns);

/*
 * A bus's work since supervision last started (until it stopped, or now):
 * polls made, and the seconds the bus was busy with polls and with
 * anything. Returns 0, or -1 when there is no such bus.
 */
struct hw_bus_usage {
	const char *name;		/* the bus's name in the rig file */
	double seconds;			/* the window's length (0: supervision never ran) */
	unsigned long polls;
	double poll_busy_s, busy_s;
};
int hw_bus_usage(const struct hw *hw, size_t bus, struct hw_bus_usage *usage);
size_t hw_bus_count(const struct hw *hw);

/* Counters for benchmarks and status: transactions, retries, reconnects. */
struct hw_stats {
	unsigned long transactions, retries, reconnects, failures;
};
void hw_get_stats(const struct hw *hw, struct hw_stats *stats);

#endif
