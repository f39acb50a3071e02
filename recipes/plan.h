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

#include <stdio.h>

#include "recipe.h"

#define PLAN_MAX_STEPS	2000000

enum plan_phase { PHASE_PRE, PHASE_CYCLE, PHASE_CHECKPOINT, PHASE_POST };

extern const char *const plan_phase_names[];

struct plan_step {
	int seq;			/* 1-based position in the plan */
	int bilayer;			/* 0 before the first cycle, else the bilayer it belongs to */
	enum plan_phase phase;
	enum step_kind kind;		/* STEP_RINSE here means one bath of a rinse */
	const struct recipe_step *src;	/* the recipe step (NULL for replacements) */
	int solution;			/* -1 if none */
	int station;			/* rig station index, -1 if none or no rig */
	const char *where;		/* station, nozzle or device name for display */
	int64_t start_ms;		/* planned start, from the start of the run */
	int64_t travel_ms;		/* to the station at the safe height */
	int64_t immerse_ms;		/* lowering and immersion */
	int64_t dwell_ms;		/* exact exposure (spray time, wait, residence...) */
	int64_t withdraw_ms;		/* withdrawal and rise to the safe height */
	int64_t drip_ms;		/* drip or drain after the exposure */
	int64_t duration_ms;		/* the sum of the above */
	int quick_dips;			/* >0: that many immersions of dwell_ms each */
	double x_mm;			/* transfer position of the station */
	double z_mm;			/* lift position when immersed */
	double speed_in_mm_s, speed_out_mm_s;
	double volume_ml;		/* solution consumed by this step */
	int operator_wait;		/* waits for lblctl continue */
};

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
 * Builds the plan. Problems only the expanded timeline shows (a bath that
 * runs dry, a solution that expires before its last use, carry-over
 * without a rinse) go to d as errors or warnings at the recipe's nodes.
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

#endif
