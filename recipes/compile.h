/*
 * The one compilation of a plan step into what the rig is told.
 *
 * A plan step (plan.h) says what happens to the substrate; its compilation
 * says, in order, which device is told what: move the lift to 120 mm at
 * 20 mm/s, run the stirrer at 300 rpm, dwell 10 min, stop the stirrer...
 * lbld executes exactly this list (daemon/run.c), lblctl plan --json prints
 * it, and the planner takes the facts it needs (the bath replacement's
 * drain and fill, a spray's flow) from here, so the plan, its printout and
 * the run cannot disagree.
 *
 * Compiling is pure: no I/O, no globals, nothing but the step, the recipe
 * and the rig. The list grows as needed and never drops an action; a step
 * that would send a value outside the rig's limits is a recipe error,
 * found by compile_check() when the plan is built (lblctl check, plan, run).
 *
 * Values are in engineering units: positions in mm, speeds in mm/s, flows
 * in mL/min, stirring in rpm; timing entries carry plan milliseconds
 * (divided by the time scale when run).
 */
#ifndef LBL_COMPILE_H
#define LBL_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "plan.h"

/*
 * What the executor asks of the rig, one request at a time. One request
 * may be several device operations (a move writes the speed, the target,
 * then go): compile_ops() lists those.
 */
enum compile_kind {
	COMPILE_MOVE,		/* axis to value (mm) at speed (mm/s) */
	COMPILE_OUTPUT,		/* valve or relay: value 1 on, 0 off */
	COMPILE_PUMP,		/* pump at value mL/min, stirrer at value rpm; 0 stops */
	COMPILE_LINE,		/* line drive at value mm/s (0 stops), reverse to rewind */
	COMPILE_READ,		/* read a sensor */
	COMPILE_DWELL,		/* an exact exposure of ms, from the end of the request before */
	COMPILE_WAIT,		/* a wait of ms (drain, drip): a step's last one absorbs I/O time */
	COMPILE_PROMPT,		/* wait for the operator (lblctl continue) */
	COMPILE_KIND_COUNT
};

extern const char *const compile_kind_names[];

struct compile_action {
	enum compile_kind kind;
	int device;		/* rig device index, -1 for timing entries */
	int reverse;		/* COMPILE_LINE: rewind */
	double value;		/* engineering units, see enum compile_kind */
	double speed_mm_s;	/* COMPILE_MOVE */
	int64_t ms;		/* COMPILE_DWELL, COMPILE_WAIT: plan milliseconds */
};

/* A step's actions: grown by compile_step(), freed by compile_list_free(). */
struct compile_list {
	struct compile_action *actions;
	size_t count, cap;
};

/*
 * What carries over from one step to the next: a roll-to-roll line runs
 * from its first station until a prompt or the web's run-out stops it.
 * Start a run (or a resumed one) with it zeroed.
 */
struct compile_state {
	int line_running;
};

void compile_list_free(struct compile_list *list);

/*
 * Compiles plan step s of the plan built for recipe r on rig into list,
 * replacing what the list held; state is read and updated. Without a rig
 * the list is empty (a plan without a rig is only a timeline).
 * Returns 0, or -1 when out of memory (the list is then empty).
 */
int compile_step(const struct recipe *r, const struct rig *rig, const struct plan_step *s,
    struct compile_state *state, struct compile_list *list);

/*
 * Compiles every step of a built plan and checks every value it sends
 * against the rig's limits (axis travel and speed, pump flow, stirrer
 * rpm, line speed) and every step against the shortest step that keeps
 * its deadline (the rig's, rig_min_step_ms: from its slowest bus's
 * transaction time, never under COMPILE_MIN_STEP_MS; that floor without a
 * rig), naming the figure and the bus; each problem is an error in d at the
 * recipe node the value comes from, reported once per node. Returns 0 when
 * all is within limits, -1 otherwise (or when out of memory, also in d).
 */
int compile_check(const struct plan *plan, struct diag *d);

/*
 * The device operations of one action, in the order they reach the device
 * (hw/drivers/hw_bus.c): a move is speed, target, go; a pump is direction
 * (when its profile has one), flow or rpm, run, or stop for 0; a line
 * drive direction, speed, run or stop; a valve on or off (Modbus or GPIO);
 * a sensor read. has_op[] says which of a profile's operations the device
 * has (NULL: all), so an operation its profile lacks is not listed. The
 * drive's enable and acceleration, fixed per device, go with every move
 * and are not listed. op is a profile operation name, or "read"; has_value
 * says whether value is sent. Returns the number of operations (at most
 * COMPILE_MAX_OPS); a timing entry has none.
 */
#define COMPILE_MAX_OPS	4
struct compile_op {
	const char *op;
	int has_value;
	double value;
};
int compile_ops(const struct rig *rig, const struct compile_action *a, const int *has_op,
    struct compile_op out[COMPILE_MAX_OPS]);

/* ---- the facts the planner and the executor share ---- */

/*
 * The flow a spray runs solution sol's nozzle at: the step's flow, else
 * the nozzle pump's max_flow; 0 when pressure-fed (no pump) or no rig.
 */
double compile_spray_flow_ml_min(const struct recipe *r, const struct rig *rig,
    const struct recipe_step *src, int sol);

/*
 * A bath replacement by pumps at station st for solution sol: the volume
 * exchanged (the solution's volume, else the station's), and how long the
 * drain and the fill take at the pumps' max_flow. Returns 0, or -1 when
 * the volume is unknown (the durations are then 0).
 */
int compile_replace_ms(const struct recipe *r, const struct rig *rig, int st, int sol,
    double *volume_ml, int64_t *drain_ms, int64_t *fill_ms);

/*
 * What a compiled step dispenses, per liquid pump: each pump the list runs
 * (a stirrer moves no liquid and is left out) with the volume the plan has
 * it move, its flow times the dwells and waits it runs through until the
 * list stops it (a spray's nozzle pumps: the flow for the spray's dwell; a
 * bath replacement's drain and fill pumps: the bath's volume each). This is
 * the plan's figure the executor compares the pumps' own counters with
 * (daemon/dispense.c). Fills out[] with at most max pumps, in the order
 * they first run, and returns how many there are (more than max: the rest
 * were not listed). Never fails.
 */
struct compile_volume {
	int device;
	double volume_ml;
};
size_t compile_volumes(const struct rig *rig, const struct compile_list *list,
    struct compile_volume *out, size_t max);

/*
 * What a plan step uses of each solution: immersions (dips), liquid
 * (drag-out, the spray's flow over its dwell, a roll-to-roll bath's top-up)
 * and area (the substrate's per dip or spray, the web's width x length per
 * roll-to-roll station). The planner's totals (plan->solutions) are the sum
 * of these over the plan's steps, and the executor records exactly these as
 * each step completes (daemon/run.c), so the record's solutions are the
 * plan's for the steps done. A spray's volume is its flow
 * (compile_spray_flow_ml_min) over its dwell, the figure compile_volumes()
 * gives its pumps. A bath replacement uses nothing (it is counted apart).
 *
 * A roll-to-roll top-up runs through a whole pass, from its first cycle
 * step to the web's run-out, and is counted at the run-out: pass carries
 * the pass's start from step to step. Walk the plan's steps in order with
 * one pass zeroed at the start (to resume after step k, walk steps 0..k-1
 * first, discarding their uses). Works without a rig (a spray's flow is
 * then the step's own). Fills out[] with at most max uses and returns how
 * many there are (more than max: the rest were not listed;
 * COMPILE_MAX_USES is always enough). Never fails.
 */
#define COMPILE_MAX_USES	RECIPE_MAX_SOLUTIONS	/* a step uses each solution once at most */
struct compile_use {
	int solution;
	int dips;
	double volume_ml;
	double area_cm2;
};
struct compile_pass {
	int open;
	int64_t start_ms;
};
size_t compile_uses(const struct recipe *r, const struct rig *rig, const struct plan_step *s,
    struct compile_pass *pass, struct compile_use *out, size_t max);
_Static_assert(COMPILE_MAX_USES >= sizeof(((struct recipe_step *)0)->spray_solutions) /
    sizeof(int), "a spray's solutions are all listed");

#endif
