/*
 * Homing: the axes the rig file says home ('home: startup | first-batch |
 * command'), whether each is homed, and the homing itself.
 *
 * An axis is homed when its profile's 'homed' flag says so, or, for a
 * drive without that flag, when lbld has homed it since it started (lbld's
 * own knowledge: a drive that loses power meanwhile is not seen). Homing
 * sends the profile's 'home' command to one axis at a time, the lift first
 * (it homes upward, out of any bath, before anything moves sideways), and
 * polls the axis until it reports homed (its 'homed' flag; without one,
 * 'busy' clear or 'in_position' set), an alarm, or the deadline: the whole
 * travel at max_speed, twice, plus HOME_MARGIN_MS. Nothing here blocks:
 * each step is a hardware request or a timer of the event loop.
 */
#ifndef LBL_HOME_H
#define LBL_HOME_H

#include <stddef.h>

#include "act.h"
#include "hw.h"
#include "loop.h"
#include "rig.h"

struct home;

/* Ended: ok, or error naming the axis, bus and why (the deadline, an alarm, a refusal). */
typedef void (*home_done_cb)(void *arg, int ok, const char *error);

/* Returns a homing state for rig's axes (none homed yet), or NULL when out of memory. */
struct home *home_new(struct loop *loop, const struct rig *rig, struct hw *hw);
void home_free(struct home *h);
/* The hardware after a reload; what was known homed is forgotten (a new rig). */
void home_set_rig(struct home *h, const struct rig *rig, struct hw *hw);
/* Simulation: the rig runs time_scale times faster, so homing ends sooner. */
void home_set_time_scale(struct home *h, double time_scale);

/*
 * Homes the named axes (names of count axis devices; count 0: every axis
 * the rig file homes), one after another, the lift first. done is called
 * once, from the loop, when all are homed or the first one fails. Returns
 * 0, or -1 with err (homing already under way, not an axis, no 'home' in
 * its profile, a safety input active) and done is not called.
 */
int home_start(struct home *h, struct act *act, const char *const *names, size_t count,
    home_done_cb done, void *arg, char *err, size_t err_size);
/*
 * Ends the homing under way, if any, as failed with why (an e-stop or
 * interlock: the safe state stops the drive mid-search, which must not
 * pass for homed). done is called.
 */
void home_abort(struct home *h, const char *why);
/* Whether homing is under way. */
int home_busy(const struct home *h);
/*
 * An axis's homed state: 1 homed, 0 not (yet), -1 when the rig file does
 * not home it (its position is known at power-up).
 */
int home_homed(const struct home *h, int device);
/* A status read of an axis (HW_STATUS, HW_PROBE): its homed flag, when it has one. */
void home_note_status(struct home *h, int device, const struct hw_result *res);
/*
 * Whether a batch may start: 0 when every axis the rig homes is homed;
 * -1 with why naming each unhomed axis, its 'home' setting and what to
 * do ('lblctl home'). first_batch_pending is set when every unhomed axis
 * is one lbld homes before the first batch and has not tried yet.
 */
int home_check_batch(const struct home *h, int *first_batch_pending, char *why,
    size_t why_size);
/* Marks the first-batch homing as tried (it is done once, then on command). */
void home_first_batch_tried(struct home *h);
/* "lift homed, transfer NOT homed (home: command)" for lblctl status; "" without homing axes. */
void home_status_text(const struct home *h, char *buf, size_t size);

#endif
