/*
 * The planner: expands a recipe, on a rig, into the exact timeline that
 * lblctl plan prints and lbld executes. There is one planner so that what
 * the user reviewed is what runs.
 *
 * Timing model for an immersion at a station (dip process): the substrate
 * travels only at the rig's safe height; it moves over the station, lowers
 * at the lift's rapid speed to the liquid surface, immerses at speed_in,
 * dwells exactly dwell_ms, withdraws at speed_out, rises to the safe height
 * and drips for drip_ms before the next move. Axis moves follow a
 * trapezoidal profile with the axis's max_accel. Without a rig, motion
 * times are zero and the plan says so.
 */
#ifndef LBL_PLAN_H
#define LBL_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "lbl_limits.h"
#include "recipe.h"

/* What a plan step may cost (104 bytes on 64-bit machines, 96 on armhf). */
#define PLAN_STEP_BYTES		104

enum plan_phase { PHASE_PRE, PHASE_CYCLE, PHASE_CHECKPOINT, PHASE_POST };

extern const char *const plan_phase_names[];

/*
 * One step of the timeline. A plan holds up to PLAN_MAX_STEPS of these for
 * a whole run, so each field is as narrow as its range allows: times stay
 * 64-bit (a recipe's durations go up to a year, times quick dips);
 * lengths, speeds and volumes are floats (finer than a micrometre at a
 * metre); indexes and counts are as wide as their limits need. where and
 * src point into the recipe and rig, which the run holds too: a step owns
 * no memory.
 */
struct plan_step {
	int64_t start_ms;		/* planned start, from the start of the run */
	int64_t travel_ms;		/* to the station at the safe height */
	int64_t immerse_ms;		/* lowering and immersion */
	int64_t dwell_ms;		/* exact exposure (spray time, wait, residence...) */
	int64_t withdraw_ms;		/* withdrawal and rise to the safe height */
	int64_t drip_ms;		/* drip or drain after the exposure */
	int64_t duration_ms;		/* the sum of the above */
	const struct recipe_step *src;	/* the recipe step (NULL for replacements) */
	const char *where;		/* station, nozzle or device name for display */
	float z_mm;			/* lift position when immersed */
	float speed_in_mm_s, speed_out_mm_s;
	float volume_ml;		/* solution consumed by this step */
	int32_t seq;			/* 1-based position in the plan */
	int32_t station;		/* rig station index, -1 if none or no rig */
	int16_t bilayer;		/* 0 before the first cycle, else its bilayer */
	int16_t solution;		/* -1 if none */
	uint8_t quick_dips;		/* >0: that many immersions of dwell_ms each */
	uint8_t phase;			/* enum plan_phase */
	uint8_t kind;			/* enum step_kind; STEP_RINSE: one bath of a rinse */
	uint8_t operator_wait;		/* waits for lblctl continue */
};

_Static_assert(sizeof(struct plan_step) <= PLAN_STEP_BYTES, "a plan step outgrew its budget");
_Static_assert(PLAN_MAX_STEPS <= INT32_MAX, "seq is 32 bits");
_Static_assert(RECIPE_MAX_BILAYERS <= INT16_MAX, "bilayer is 16 bits");
_Static_assert(RECIPE_MAX_SOLUTIONS <= INT16_MAX, "solution is 16 bits");
_Static_assert(RECIPE_MAX_QUICK_DIPS <= UINT8_MAX, "quick_dips is 8 bits");
_Static_assert(STEP_KIND_COUNT <= UINT8_MAX, "kind is 8 bits");

struct plan_solution {
	int dips;
	double area_cm2;		/* immersed or sprayed area */
	double volume_ml;		/* consumed (drag-out, spray, top-up) */
	int replacements;
	int64_t last_use_ms;		/* planned start of the last step using it */
};

struct plan {
	const struct recipe *recipe;
	const struct rig *rig;
	struct plan_step *steps;
	size_t count, cap;
	int bilayers;
	double *thickness_nm;		/* [0..bilayers]: estimate after n bilayers */
	struct plan_solution *solutions;	/* one per recipe solution */
	int64_t total_ms;		/* excludes operator waits */
	int64_t motion_ms;		/* travel + immersion + withdrawal */
	int64_t exposure_ms;		/* dwell totals */
	int operator_waits;
	int motion_included;		/* a rig with axes was given */
	double web_coated_mm;		/* roll-to-roll: length of finished web */
	double web_travel_mm;		/* roll-to-roll: web run through the line in all */
};

/*
 * How many steps plan_build makes of a recipe on a rig (rig may be NULL),
 * from the recipe's structure alone: pre, cycle times bilayers with the
 * first cycle's overrides, checkpoints every N bilayers, nested repeats,
 * rinse baths, roll-to-roll run-outs and rewinds, bath replacements every
 * K cycles, the final park. Nothing is expanded and the counts saturate at
 * UINT64_MAX, so no product of repeats can overflow. least leaves out the
 * replacements that change_after dips or area limits insert, which depend
 * on the order of use; most counts one for every immersion or spray that
 * could insert one. They are equal when no such limit applies. culprit is
 * the construct whose multiplying adds the most steps: the target's
 * bilayers (or max_bilayers, thickness), a repeat's times or a
 * checkpoint's bilayers; NULL if none multiplies.
 */
struct plan_size {
	uint64_t least, most;
	const struct conf_node *culprit;
};
void plan_size(const struct recipe *recipe, const struct rig *rig, struct plan_size *out);

/*
 * The exact number of steps plan_build makes: plan_size()'s when its bounds
 * agree; otherwise, when least is within PLAN_MAX_STEPS, a run of the
 * planner that keeps no step (at most 2 x PLAN_MAX_STEPS of them). Returns 1
 * when *count is exact, 0 when it is only the least (over PLAN_MAX_STEPS
 * anyway), -1 when out of memory.
 */
int plan_count_steps(const struct recipe *recipe, const struct rig *rig, uint64_t *count);

/*
 * Builds the plan. A recipe that expands to more than PLAN_MAX_STEPS is
 * refused at its culprit before anything is allocated; the steps are
 * allocated once, at their count. Problems only the expanded timeline
 * shows (a bath that runs dry, a solution that expires before its last
 * use, carry-over without a rinse) go to d as errors or warnings at the
 * recipe's nodes.
 * Returns 0 and a plan to free with plan_free(), or -1.
 */
int plan_build(const struct recipe *recipe, const struct rig *rig, int64_t now, struct diag *d,
    struct plan **out);
void plan_free(struct plan *plan);

/* Time for a move of distance_mm with a trapezoidal profile, in ms. */
int64_t plan_move_ms(double distance_mm, double speed_mm_s, double accel_mm_s2);

/* The timeline and totals as text (one line per step) or one JSON document. */
int plan_print_text(const struct plan *plan, FILE *out);
int plan_print_json(const struct plan *plan, FILE *out);

/*
 * Takes the next piece of a JSON document (len bytes, NUL-terminated): 0,
 * or -1 to stop (the output failed, its reader went away).
 */
typedef int (*plan_json_sink)(void *arg, const char *text, size_t len);
#define PLAN_JSON_NO_MEMORY	1
#define PLAN_JSON_SINK_STOPPED	2
/*
 * The plan as one JSON document (lblctl plan --json's, the one encoder:
 * lbld's plan request sends the same), handed to sink in pieces of about
 * PLAN_JSON_PIECE_BYTES, each ending after a step, so a plan of many
 * thousand steps goes out in bounded memory; the pieces joined, with or
 * without whitespace between them, are the document. Returns 0,
 * -PLAN_JSON_NO_MEMORY, or -PLAN_JSON_SINK_STOPPED.
 */
int plan_json(const struct plan *plan, plan_json_sink sink, void *arg);

#endif
