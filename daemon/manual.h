/*
 * Manual control through lbld: the operator's move, jog, goto, stop, set,
 * prime, fill and drain (lblctl(1)), between batches or while one is
 * paused, never while one runs.
 *
 * Safe by construction. Motion goes through the act layer like a batch's
 * (act.h): a transfer move only with the lift read back at the safe
 * height, nothing with an e-stop or interlock engaged, every target and
 * speed inside the rig file's limits. An output switched on by hand stays
 * on only while the client that switched it on stays connected, and at
 * most its --for time and the rig file's 'manual: {max_on}'; an e-stop,
 * 'lblctl stop' or lbld's stop switch it off through the safe state
 * (which switches every output of the rig off). Each action is an event of
 * the record (kind 'operator', the operator's login from SO_PEERCRED), on
 * the paused batch when there is one, else outside any batch. Nothing here
 * blocks: every step is an act operation, a hardware request or a timer.
 */
#ifndef LBL_MANUAL_H
#define LBL_MANUAL_H

#include <stddef.h>

#include "control.h"
#include "rig.h"

struct lbld;
struct manual;

/* Returns the manual control of lbld's rig, or NULL when out of memory. */
struct manual *manual_new(struct lbld *l);
void manual_free(struct manual *m);
/* lbld reloaded its rig (manual control was idle): 0, or -1 when out of memory. */
int manual_set_rig(struct manual *m);

/* Whether cmd is a manual command (move, jog, goto, stop, set, prime, fill, drain, reset). */
int manual_is_command(const char *cmd);
/*
 * Handles a manual command: answered at once when refused (status 2 for
 * bad usage or a value beyond the rig's limits, 1 when the rig's state
 * forbids it), else when the action has ended (motion arrived, an output
 * off again). The caller has checked the client is an operator.
 */
void manual_request(struct manual *m, struct control_client *c, const struct control_request *req);

/* Whether the act operation that just ended is the manual one (lbld routes act's done). */
int manual_act_pending(const struct manual *m);
/* The manual act operation ended (act_done_cb). */
void manual_act_done(struct manual *m, int ok, double value, const char *error);

/*
 * The rig went, or is going, to its safe state (an e-stop or interlock,
 * lbld's stop, a park): the manual move and outputs are forgotten, as the
 * safe state stops and switches off everything, and their clients are
 * told why. Call before the safe state's own done can arrive.
 */
void manual_abort(struct manual *m, const char *why);

/*
 * Whether manual control holds the rig (a move under way, an output on):
 * 1 with what and how to end it in buf, else 0 and "". A batch, homing,
 * park or reload waits until it is over.
 */
int manual_busy(const struct manual *m, char *buf, size_t size);

/*
 * A resume of a paused batch (lblctl's, or lbl-web's for its user: by is
 * who, as run_resume_by records it, NULL for the client's own login): when
 * manual motion happened during the pause, the lift goes to the safe
 * height first and the batch resumes once it is there (so the next step's
 * travel starts from it). Returns 1 when it took the request (answered
 * later), 0 when the caller resumes as usual.
 */
int manual_resume(struct manual *m, struct control_client *c, const char *by);

/*
 * Checks a manual target against the rig file: 0, or -1 with why naming the
 * limit and its value in the rig file (travel_min/travel_max, max_speed).
 * speed_mm_s 0 means the axis's max_speed. Pure: for the unit tests too.
 */
int manual_check_move(const struct rig *rig, int axis, double position_mm, double speed_mm_s,
    char *why, size_t why_size);
/*
 * Checks a manual output value: a pump's flow (max_flow), a stirrer's rpm
 * (max_rpm), a line's speed (max_speed): 0, or -1 with why. A valve takes
 * 0 or 1.
 */
int manual_check_output(const struct rig *rig, int device, double value, char *why,
    size_t why_size);

#endif
