/*
 * LbL recipes: what to coat, with which solutions, in which steps.
 *
 * A recipe is parsed from YAML into the structures below, all owned by the
 * recipe's conf_doc, so recipe_free() releases everything at once. Every
 * structure keeps its YAML node, so later checks (against a rig, in the
 * planner) can still report FILE:LINE:COL.
 */
#ifndef LBL_RECIPE_H
#define LBL_RECIPE_H

#include <stdint.h>

#include "conf.h"
#include "lbl_limits.h"
#include "rig.h"

/* The limits on what a recipe gives are in lbl_limits.h (RECIPE_MAX_*). */

enum recipe_process { PROCESS_DIP, PROCESS_SPRAY, PROCESS_ROLL };

enum growth_model { GROWTH_LINEAR, GROWTH_EXPONENTIAL };

/*
 * Thickness after n bilayers. Linear: nm_per_bilayer * n. Exponential (the
 * early regime of many polyelectrolyte films): a_nm + b_nm * exp(k * n) up
 * to linear_after bilayers, then growing by nm_per_bilayer per bilayer.
 */
struct recipe_growth {
	enum growth_model model;
	double nm_per_bilayer;
	double a_nm, b_nm, k;
	int linear_after;		/* 0: exponential throughout */
};

struct recipe_solution {
	const char *name;
	const char *station;		/* dip bath or roll-to-roll bath */
	const char *nozzle;		/* spray */
	int is_rinse;
	const char *chemistry, *concentration, *solvent, *lot;
	double ph;			/* NAN when not given */
	double volume_ml;		/* NAN when not given */
	int64_t prepared_at;		/* Unix seconds, -1 when not given */
	int64_t shelf_life_ms;		/* 0 when not given */
	int change_after_dips;		/* 0: no limit */
	double change_after_area_cm2;	/* 0: no limit */
	int change_after_cycles;	/* 0: replace never */
	double top_up_ml_min;		/* roll-to-roll bath top-up, 0 if none */
	const struct conf_node *node;
};

enum step_kind {
	STEP_DIP, STEP_RINSE, STEP_SPRAY, STEP_DRY, STEP_WAIT, STEP_PROMPT, STEP_MEASURE,
	STEP_SET, STEP_REPEAT, STEP_BATH, STEP_REPLACE, STEP_MOVE, STEP_KIND_COUNT
};

extern const char *const step_kind_names[];

enum measure_method { MEASURE_SAUERBREY, MEASURE_GAUGE, MEASURE_ABSORBANCE };

/* One bath of a rinse: a solution, how long, or how many quick dips. */
struct recipe_rinse_bath {
	int solution;
	int64_t dwell_ms;
	int quick_dips;			/* 0: one immersion of dwell_ms */
	const struct conf_node *node;
};

struct recipe_step {
	enum step_kind kind;
	const struct conf_node *node;
	/* dip, bath (roll), spray: solution index; -1 if none */
	int solution;
	int64_t dwell_ms;		/* dip/wait time; spray time; dry time; settle time */
	double speed_in_mm_s;		/* immersion speed; 0: rig maximum */
	double speed_out_mm_s;		/* withdrawal speed; 0: rig maximum */
	double depth_mm;		/* immersion below the surface; 0: station maximum */
	double agitation_rpm;		/* 0: none */
	int64_t drip_ms;		/* drip after withdrawal; 0: recipe default */
	/* rinse */
	struct recipe_rinse_bath *baths;
	size_t bath_count;
	/* spray */
	int spray_solutions[4];
	int spray_count;		/* >1: sprayed together */
	double flow_ml_min;
	int64_t drain_ms;
	/* dry */
	const char *valve;		/* air or N2 valve device */
	const char *station;		/* dry at this station (e.g. dryer) */
	double slow_withdrawal_mm_s;	/* dry by slow withdrawal from the last bath */
	/* roll-to-roll: path through the station (0: the rig's path_length) */
	double path_mm;
	/* prompt */
	const char *message;
	/* measure */
	const char *sensor;
	enum measure_method method;
	double film_density_g_cm3;	/* Sauerbrey */
	double nm_per_absorbance;	/* absorbance calibration */
	int stop_at_target;		/* end the run when the measured target is reached */
	int baseline;			/* sauerbrey: this reading is the bare crystal (pre only) */
	/* set */
	const char *output;
	double value;			/* 1/0 for on/off */
	/* repeat */
	int times;
	const struct conf_node *times_node;	/* for errors on the plan's size */
	struct recipe_step *steps;
	size_t step_count;
	/* first-cycle override: a copy of this step with the override applied */
	struct recipe_step *first;
};

struct recipe_checkpoint {
	int every_bilayers;
	struct recipe_step *steps;
	size_t step_count;
	const struct conf_node *node;
};

struct recipe {
	struct conf_doc *doc;
	const char *name;
	const char *version;
	enum recipe_process process;
	const char *description;
	/* substrate */
	const char *substrate;
	double substrate_area_cm2;	/* immersed area per dip (both faces); 0 unknown */
	double dragout_ml;		/* liquid carried out per dip; 0 unknown */
	/* target */
	int target_bilayers;		/* 0: derived from thickness */
	double target_thickness_nm;	/* 0: none */
	int max_bilayers;		/* cap when a thickness target is set */
	const struct conf_node *target_node;	/* for errors on the plan's size */
	struct recipe_growth growth;
	int resume_allowed;
	int64_t resume_within_ms;	/* resume: {within: ...}; 0: no bound */
	int64_t drip_ms;		/* default drip time after each withdrawal */
	/* roll-to-roll */
	double line_speed_mm_s;
	double web_length_mm;		/* coated length per pass */
	double web_width_mm;
	int64_t rewind_ms;		/* time to rewind the web between passes */
	/* spray */
	double nozzle_distance_mm;

	struct recipe_solution *solutions;
	size_t solution_count;
	struct recipe_step *pre, *cycle, *post;
	size_t pre_count, cycle_count, post_count;
	struct recipe_checkpoint *checkpoints;
	size_t checkpoint_count;
};

/*
 * Parses a recipe. Reports every problem found to d (the checks do not stop
 * at the first error) and returns -1, or returns 0 with a recipe to free
 * with recipe_free(). With a rig, every station, nozzle, device and limit
 * the recipe names is checked against it; rig may be NULL. now is the wall
 * clock in Unix seconds, for shelf-life checks.
 */
int recipe_load(const char *path, const struct rig *rig, int64_t now, struct diag *d,
    struct recipe **out);
int recipe_load_buffer(const char *name, const char *text, size_t len, const struct rig *rig,
    int64_t now, struct diag *d, struct recipe **out);
void recipe_free(struct recipe *recipe);

/* Thickness estimate in nm after n bilayers. */
double recipe_thickness_nm(const struct recipe_growth *growth, int bilayers);

/*
 * The number of bilayers the recipe will coat: target_bilayers, or the
 * fewest whose estimate reaches target_thickness_nm, capped at max_bilayers.
 */
int recipe_bilayer_count(const struct recipe *recipe);

int recipe_solution_index(const struct recipe *recipe, const char *name);

extern const char *const recipe_process_names[];

#endif
