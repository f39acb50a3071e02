/*
 * Actuation: what the run executor asks of the rig, one operation at a
 * time, each completing through the callback given to act_open(). This
 * sits between the executor (which knows recipes and time) and the
 * hardware layer (which knows buses and registers): it turns "move the
 * lift to 90 mm at 10 mm/s" into the device commands and the status
 * polling until the axis is in position, and it owns the safe state.
 */
#ifndef LBL_ACT_H
#define LBL_ACT_H

#include "hw.h"
#include "loop.h"
#include "rig.h"

struct act;

/* An operation ended: ok, a value (sensor reads), or an error naming the device. */
typedef void (*act_done_cb)(void *arg, int ok, double value, const char *error);
/* A safety input changed: estop or interlock device index, active (1 = stop the rig). */
typedef void (*act_input_cb)(void *arg, int device, int active);

struct act *act_open(struct loop *loop, const struct rig *rig, struct hw *hw,
    act_done_cb done, act_input_cb input, void *arg);
void act_close(struct act *act);
/* Simulation: the rig runs time_scale times faster, so motion is watched more closely. */
void act_set_time_scale(struct act *act, double time_scale);

/* Moves an axis to position_mm at speed_mm_s; completes once in position. */
int act_move(struct act *act, int axis, double position_mm, double speed_mm_s);
/* Switches a valve or relay. */
int act_output(struct act *act, int device, int on);
/* Runs a pump at flow_ml_min (0 stops it). */
int act_pump(struct act *act, int device, double flow_ml_min);
/* Runs the line drive at speed_mm_s (0 stops it); reverse for rewinding. */
int act_line(struct act *act, int device, double speed_mm_s, int reverse);
/*
 * Stops that close a step (reqs: HW_OUTPUT off, HW_PUMP or HW_LINE at 0),
 * as one operation: each is queued on its device's bus at once, so a bus
 * sends them back to back without the loop between them (each single
 * operation is a round trip through two threads' wake-ups). They all go
 * the safe way, so none waits for the one before to be confirmed; a
 * failed one does not keep the others from going. done comes once every
 * one has answered and was confirmed, or at the first failure, naming its
 * device (the others' answers are then ignored). Returns 0, or -1 with err
 * when a request is no stop or an operation is in hand (nothing is sent),
 * or when one was refused (the others went; done is not called).
 */
int act_stops(struct act *act, const struct hw_request *reqs, size_t n, char *err,
    size_t err_size);
/* Reads a sensor; the value arrives in engineering units. */
int act_read(struct act *act, int device);
/*
 * A pump's volume counter, read beside the operation in hand (not one of
 * act's operations: it may overlap them): queued on the pump's bus behind
 * what is queued there already and before what comes after, so a read
 * before a run command counts from before it. done gets the request (its
 * device and tag as given) and the result (value: mL, or an error naming
 * device, bus, unit and register). A safe state drops a queued read
 * without calling done. Returns 0, or -1 with err when the pump cannot be
 * read (done is not called).
 */
int act_read_volume(struct act *act, int device, unsigned tag, hw_done_cb done, void *arg,
    char *err, size_t err_size);
/*
 * Arm, then fire (hw.h, enum hw_stage). act_arm() writes everything the
 * start req (HW_MOVE; HW_PUMP or HW_LINE with a rate above 0) needs but
 * its trigger, each write read back, beside the operation in hand like
 * act_read_volume(): done gets the request and its result (an error names
 * device, bus, unit and register, or the value read back). A safe state
 * drops a queued arm without calling done. Returns 0, or -1 with err when
 * the start cannot be armed (act_can_arm(), or a safety input is active:
 * nothing is written then).
 *
 * act_fire() makes the next act_move(), act_pump() or act_line(), which
 * must carry the values armed, send its trigger alone; a safe state
 * forgets it.
 */
int act_can_arm(const struct act *act, const struct hw_request *req, char *why, size_t why_size);
int act_arm(struct act *act, const struct hw_request *req, hw_done_cb done, void *arg, char *err,
    size_t err_size);
void act_fire(struct act *act);
/*
 * A start that follows the next operation on the buses (hw_submit_opening()
 * and hw_submit_after()), with no turn of the loop between them: act_then()
 * asks that the next act_output(), act_pump() or act_line() on a Modbus
 * device be followed by req (a Modbus output, pump, line or move: its tag
 * is act's own, its stage and release_ns as given; a move only as
 * act_move() would send it at once: not the lift's, nor the transfer's
 * before the lift is known withdrawn, nor while a safety input is active); act_then_queue(), called
 * after that operation began, queues req on its bus, behind what the caller
 * queued there meanwhile (a pump's counter read). req is sent the moment
 * that operation's request is confirmed, and answered failed, unsent, when
 * it fails. The operation after it must be req's (the same device, op and
 * values, whatever act_fire() or act_release_at() say then): it takes up
 * what went instead of sending it again, and ends with its answer, which
 * may have come already. Another operation between them is refused
 * (logged; the caller makes the rig safe, as on any refusal); a move or a
 * read next, or an operation before act_then_queue(), forgets req, which
 * then goes with its own operation. A safe state drops it. act_then()
 * returns 0, or -1 with err when req cannot follow (see above, or another
 * is out); act_then_queue() 0, or -1 with err when nothing waits to be
 * queued (one asked for and not opened is forgotten; one queued already
 * is left as it is) or it cannot be (req is forgotten).
 */
int act_then(struct act *act, const struct hw_request *req, char *err, size_t err_size);
int act_then_queue(struct act *act, char *err, size_t err_size);
/*
 * The next act_move(), act_pump(), act_line() or act_output() on a Modbus
 * device sends its first request not before release_ns (loop_now_ns()
 * clock; hw_request.release_ns): the executor queues a step's start a
 * little ahead and its bus sends it on the moment. Only that request: the
 * rest of the operation (an axis's status reads) goes as it comes. A safe
 * state forgets it; so does the next request, whatever it is.
 */
void act_release_at(struct act *act, int64_t release_ns);
/*
 * When the operation in hand (or the last one, once done) sent its first
 * request (loop_now_ns() clock; hw_result.sent_ns): the moment its bus
 * took it off the queue and wrote it, not when act was asked. 0 while none
 * has answered, or when the hardware layer did not stamp it.
 */
int64_t act_op_sent_ns(const struct act *act);
/* hw_volume_counter(): whether a pump has a volume counter, and where it wraps. */
int act_volume_counter(const struct act *act, int device, double *wrap_ml);
/*
 * Whether any safety input is active now, or cannot be read (its GPIO chip
 * missing: it counts as engaged); why names it. Motion must not start.
 */
int act_safety_active(const struct act *act, char *why, size_t why_size);
/* The same for one device: whether it is a safety input that holds the rig, and why. */
int act_input_holds(const struct act *act, int device, char *why, size_t why_size);

/*
 * The safe state, first, whatever was going on: the pending operation is
 * dropped (its callback is not called), pumps stop, valves close, motion
 * stops. Then, if park is set and the axes answer and no safety input is
 * active, the substrate is withdrawn to the safe height (read back) and
 * parked. done is called once when all of that has ended: ok = 1 when every
 * stop was confirmed and the park (if asked for) succeeded, value = 1 when
 * the substrate is parked, 0 when not; error says what failed. A newer safe
 * state supersedes an older one, which then reports nothing.
 */
void act_safe_state(struct act *act, int park);

/*
 * What the safe state under way waits for, one line for status: its stop
 * and off commands (which devices have not confirmed theirs) or the park's
 * move (which axis, its target and last reading), and when it gives up.
 * Every safe state ends within its deadline: the hardware layer's bound on
 * its commands (hw_safe_state_ms) and, for a park, each move's own limit
 * and its transactions' deadlines; past it, it ends failed naming what did
 * not move or answer, and motion is stopped. Returns 1, or 0 and "" when
 * no safe state is under way.
 */
int act_waiting_text(const struct act *act, char *buf, size_t size);

/* Whether a safe state (without a park) is under way: its stops not all confirmed. */
int act_making_safe(const struct act *act);

/* Whether the last safe state's stop commands were confirmed: 1, 0, or -1 pending. */
int act_safe_confirmed(const struct act *act);

/*
 * What is known of the lift (z grows downwards): withdrawn means read back
 * at or above the rig's safe height, lowered below it; unknown when never
 * read or stopped while moving. A rig without a lift is always withdrawn.
 * *position_mm (may be NULL) is the last reading, NAN if none.
 */
enum act_lift_state { ACT_LIFT_UNKNOWN, ACT_LIFT_LOWERED, ACT_LIFT_WITHDRAWN };
enum act_lift_state act_lift_state(const struct act *act, double *position_mm);
/* A position read outside act (lbld's probe): the lift's is remembered. */
void act_note_position(struct act *act, int device, double position_mm);
/*
 * Forgets that the lift was confirmed withdrawn, so the next transfer move
 * reads it back first (a batch's first move). Transfer moves are always
 * refused, with the lift's position named, unless it is read back at the
 * safe height with no lift motion since.
 */
void act_require_readback(struct act *act);
/*
 * Arms (on = 1) or disarms the devices' own communication-loss timeouts
 * (the rig file's comm_timeout) and keeps them fed meanwhile, so that they
 * stop by themselves if lbld dies or hangs during a batch (hw_watchdog_arm).
 */
void act_keep_alive(struct act *act, int on);
/*
 * Supervision while a batch runs (hw_supervise()): the devices marked in
 * in_use (a byte per rig device) are polled and a fault goes to the
 * callback lbld set with hw_set_supervise_cb(); NULL stops it.
 */
void act_supervise(struct act *act, const unsigned char *in_use);
/* The executor's next deadline (loop_now_ns() clock, 0 none): polls keep clear of it. */
void act_next_deadline(struct act *act, int64_t deadline_ns);
/* Whether the substrate is parked (the last park succeeded, nothing moved since). */
int act_parked(const struct act *act);
/* One line for status: parked, withdrawn, lowered or unknown, with positions and what to do. */
void act_substrate_text(const struct act *act, char *buf, size_t size);

#endif
