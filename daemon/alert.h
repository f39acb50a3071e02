/*
 * Notifications: the rig file's 'notify:' commands, run when a batch waits
 * for the operator (prompt), fails, completes or is aborted, and when an
 * e-stop engages. Each command is exec'd directly (posix_spawn, no shell)
 * with the event in its environment (LBL_EVENT, LBL_BATCH, LBL_RECIPE,
 * LBL_RECIPE_VERSION, LBL_MESSAGE, LBL_RIG, LBL_TIME), stdin /dev/null and
 * its output in lbld's journal. Nothing here waits: the spawn happens on
 * the loop's next round, after whatever raised the event (an e-stop's safe
 * state goes out first), the child's end is heard through a pidfd, and a
 * command that outlives the rig file's 'timeout' is killed (SIGTERM, then
 * SIGKILL). At most ALERT_MAX_RUNNING run at once; beyond that an event is
 * logged as dropped. Every failure (exec, exit status, signal, time limit)
 * is logged with the event and the command.
 */
#ifndef LBL_ALERT_H
#define LBL_ALERT_H

#include <stdint.h>

#include "loop.h"
#include "rig.h"
#include "run.h"

struct alert;

/* NULL on failure (logged). rig is the loaded rig; its notify section is read at each event. */
struct alert *alert_new(struct loop *loop, const struct rig *rig);
/* A reloaded rig: its commands from now on (commands running keep running). */
void alert_set_rig(struct alert *alert, const struct rig *rig);
/*
 * The run's status, each time it changes: a new wait for the operator and
 * a batch that ended (completed, failed, aborted) raise their events, once.
 */
void alert_status(struct alert *alert, const struct run_status *status);
/* An e-stop engaged (device is its name); batch_id the batch it hit, or 0. */
void alert_estop(struct alert *alert, const char *device, const struct run_status *status);
/*
 * Queues one event's command, spawned on the loop's next round. Returns 0
 * when queued or when the event has no command, -1 when it was dropped
 * (ALERT_MAX_RUNNING commands running or queued; logged).
 */
int alert_event(struct alert *alert, enum rig_notify_event event, int64_t batch_id,
    const char *recipe, const char *version, const char *message);
/* How many commands are queued or running (for tests and the log). */
int alert_running(const struct alert *alert);
/*
 * Frees the module; commands still running are left to finish (they are
 * logged: lbld is exiting and their time limit no longer applies).
 */
void alert_free(struct alert *alert);

#endif
