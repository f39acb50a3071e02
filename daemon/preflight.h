/*
 * Pre-flight: before a batch's first action, and on demand ('lblctl
 * preflight RECIPE'), lbld checks that the rig can run the plan: every
 * device the plan's steps command answers and is not in alarm, every axis
 * the rig homes is homed, no e-stop or interlock is engaged, and each bath
 * the rig knows the volume of holds what the plan draws from it. Every
 * failure is listed, not the first alone. The device reads go through the
 * hardware layer at poll priority (devread.h): nothing blocks.
 */
#ifndef LBL_PREFLIGHT_H
#define LBL_PREFLIGHT_H

#include <stddef.h>

#include "control.h"
#include "plan.h"

struct lbld;

/*
 * The checks are done: ok 1 when all passed; report lists every check, one
 * line each, failures marked "FAILED", passes "ok". client is the one given
 * to preflight_start(), or NULL when it went away meanwhile (nothing is
 * to be answered then, but arg is still the caller's to free).
 */
typedef void (*preflight_done_cb)(void *arg, struct control_client *client, int ok,
    const char *report);

/*
 * Starts the checks of plan (built for recipe on lbld's rig; both may be
 * freed once this returns). done is called once, from the loop: later, or
 * before this returns when there is nothing to read. Returns 0, or -1 with
 * err (out of memory): done is not called.
 */
int preflight_start(struct lbld *l, const struct recipe *recipe, const struct plan *plan,
    struct control_client *client, preflight_done_cb done, void *arg, char *err,
    size_t err_size);

/*
 * 'preflight RECIPE' for a plan the request handler has validated: runs the
 * checks and answers the client with the report (exit 0 when all passed,
 * 1 otherwise). Takes plan and recipe and frees them.
 */
void preflight_request(struct lbld *l, struct control_client *client, struct recipe *recipe,
    struct plan *plan);

#endif
