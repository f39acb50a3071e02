/*
 * Volumes from the devices: what a step's pumps dispensed by their own
 * volume counters (a profile's 'volume' operation), beside the plan's
 * figure. Each counting pump is read before the step's first command and
 * again after its last; the difference is what the pump says it
 * dispensed. A pump that comes short of its planned volume by more than
 * its tolerance (the rig file's volume_tolerance, PUMP_VOLUME_TOLERANCE_PCT
 * by default) fails the step: a pump stopped from outside, stalled, or run
 * dry does not leave the step "done" with the plan's volume credited.
 *
 * The planned volume of each pump is the step's compilation's
 * (compile_volumes() in recipes/compile.h), the very actions the executor
 * runs: a spray's nozzle pumps (the flow for the spray's dwell) and a bath
 * replacement's drain and fill pumps (the bath's volume each). Pumps
 * without a counter are not counted.
 */
#ifndef LBL_DISPENSE_H
#define LBL_DISPENSE_H

#include <stddef.h>

#include "act.h"
#include "compile.h"
#include "rig.h"

struct dispense;

/*
 * done is called (from the loop) once the counters read by dispense_end()
 * are all back. NULL when out of memory.
 */
struct dispense *dispense_new(void (*done)(void *arg), void *arg);
void dispense_free(struct dispense *d);

/*
 * A step compiled into list is about to send its first command: finds the
 * pumps it runs that have a counter, with their planned volumes, and
 * queues a read of each counter, ahead of the step's commands on their
 * buses. Forgets the step before. Returns the number of pumps counted (0:
 * none, nothing read), or -1 with why when a read could not be queued (the
 * step must not start).
 */
int dispense_begin(struct dispense *d, struct act *act, const struct rig *rig,
    const struct compile_list *list, char *why, size_t why_size);

/*
 * Whether the first reads are all back, each from a pump that said it was
 * stopped (its running flag 0), so they count from where the step's start
 * would have: 1, else 0 (a read still out or failed, a pump running, or a
 * profile without a running flag). A count read ahead of its step is used
 * only then.
 */
int dispense_counted_stopped(const struct dispense *d);

/*
 * The step's actions have all ended (its pumps stopped): queues the second
 * read of each counter. Returns 0 when reads are under way (done follows),
 * 1 when the step counts nothing (done is not called), -1 with why when a
 * read could not be queued (the step failed; done is not called).
 */
int dispense_end(struct dispense *d, char *why, size_t why_size);

/*
 * What the step dispensed, after done: the plan's volume and the counted
 * one, summed over its counting pumps. Returns 0 when every pump
 * dispensed its share within its tolerance, -1 when one did not or could
 * not be read, with why naming the pump (*device, its name) and the
 * figures; 1 when the step counted nothing (no pump with a counter).
 */
int dispense_result(const struct dispense *d, double *planned_ml, double *counted_ml,
    const char **device, char *why, size_t why_size);

/* The step is over another way (a fault, a pause): late replies are ignored. */
void dispense_cancel(struct dispense *d);

/*
 * The pure check of one pump: the volume between two counter readings
 * (start_ml, end_ml; a counter that wrapped once, at wrap_ml, is counted
 * through) against the plan. Returns 0 with *counted_ml, or -1 with why:
 * short of planned_ml by more than tolerance_pct, or a counter that went
 * backwards without a wrap (reset, or a wrap it cannot have).
 */
int dispense_check(const char *pump, double planned_ml, double start_ml, double end_ml,
    double wrap_ml, double tolerance_pct, double *counted_ml, char *why, size_t why_size);

#endif
