/*
 * The planner. It walks the recipe once, keeping the rig's state (where the
 * substrate is, how much each bath has been used since it was filled) and
 * the planned clock, and appends one plan_step per action.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "plan.h"

const char *const plan_phase_names[] = { "pre", "cycle", "checkpoint", "post" };

struct planner {
	struct plan *plan;
	const struct recipe *r;
	const struct rig *rig;
	struct diag *d;
	int64_t now;
	int64_t clock_ms;
	double x_mm;			/* transfer position of the substrate */
	int bilayer;
	enum plan_phase phase;
	int *dips_since_fill;
	double *area_since_fill, *volume_since_fill;
	unsigned char *ran_dry_reported, *carryover_reported;
	int last_coating;		/* last non-rinse solution, -1 after a rinse */
	struct compile_pass pass;	/* a roll-to-roll pass's start, for its top-ups */
	int keep;			/* keep every step; else count them, keeping the last */
	int overflow;			/* more steps than plan_size() counted */
};

int64_t
plan_move_ms(double distance_mm, double speed_mm_s, double accel_mm_s2)
{
	double d = fabs(distance_mm), t_s;

	if (d == 0 || speed_mm_s <= 0)
		return 0;
	if (accel_mm_s2 <= 0)
		t_s = d / speed_mm_s;
	else if (d >= speed_mm_s * speed_mm_s / accel_mm_s2)
		t_s = d / speed_mm_s + speed_mm_s / accel_mm_s2;	/* reaches full speed */
	else
		t_s = 2 * sqrt(d / accel_mm_s2);			/* triangular profile */
	return llround(t_s * 1000);
}

static const struct rig_device *
plan_lift(const struct planner *p)
{
	return p->rig && p->rig->lift != -1 ? &p->rig->devices[p->rig->lift] : NULL;
}

/*
 * Appends a step at the current planned time. The steps were allocated at
 * their count: more is a bug in plan_size(), reported, never a write past
 * the end. When only counting, each step reuses the one slot.
 */
static struct plan_step *
plan_emit(struct planner *p, enum step_kind kind, const struct recipe_step *src, int solution)
{
	struct plan *plan = p->plan;
	struct plan_step *s;

	if (plan->count == plan->cap) {
		p->overflow = 1;
		return NULL;
	}
	s = &plan->steps[p->keep ? plan->count : 0];
	plan->count++;
	memset(s, 0, sizeof(*s));
	s->seq = (int)plan->count;
	s->bilayer = p->bilayer;
	s->phase = p->phase;
	s->kind = kind;
	s->src = src;
	s->solution = solution;
	s->station = -1;
	s->start_ms = p->clock_ms;
	return s;
}

/* The step emitted last, or NULL. */
static struct plan_step *
plan_last(const struct planner *p)
{
	if (p->plan->count == 0)
		return NULL;
	return &p->plan->steps[p->keep ? p->plan->count - 1 : 0];
}

static void plan_use_solution(struct planner *p, int sol, int dips, double area_cm2,
    double volume_ml);

/*
 * Sums a step's parts, advances the clock and the totals: the solutions' by
 * the step's uses as compiled (compile_uses), which the executor records.
 */
static void
plan_commit(struct planner *p, struct plan_step *s)
{
	struct compile_use uses[COMPILE_MAX_USES];
	size_t i, n;

	s->duration_ms = s->travel_ms + s->immerse_ms + s->dwell_ms + s->withdraw_ms + s->drip_ms;
	p->clock_ms += s->duration_ms;
	p->plan->motion_ms += s->travel_ms + s->immerse_ms + s->withdraw_ms;
	p->plan->exposure_ms += s->dwell_ms;
	p->plan->operator_waits += s->operator_wait;
	if (s->solution >= 0)
		p->plan->solutions[s->solution].last_use_ms = s->start_ms;
	n = compile_uses(p->r, p->rig, s, &p->pass, uses, COMPILE_MAX_USES);
	for (i = 0; i < n && i < COMPILE_MAX_USES; i++)
		plan_use_solution(p, uses[i].solution, uses[i].dips, uses[i].area_cm2,
		    uses[i].volume_ml);
}

/* Travel at the safe height to station st (a rig station index). */
static void
plan_travel(struct planner *p, struct plan_step *s, int st)
{
	const struct rig_station *station;

	if (p->rig == NULL || st < 0)
		return;
	station = &p->rig->stations[st];
	s->station = st;
	s->where = station->name;
	if (p->rig->transfer != -1) {
		const struct rig_device *t = &p->rig->devices[p->rig->transfer];
		s->travel_ms = plan_move_ms(station->x_mm - p->x_mm, t->max_speed_mm_s,
		    t->max_accel_mm_s2);
		p->x_mm = station->x_mm;
	}
}

/* Accounts solution use; reports a bath that runs dry between refills. */
static void
plan_use_solution(struct planner *p, int sol, int dips, double area_cm2, double volume_ml)
{
	const struct recipe_solution *rs = &p->r->solutions[sol];
	struct plan_solution *ps = &p->plan->solutions[sol];

	ps->dips += dips;
	ps->area_cm2 += area_cm2;
	ps->volume_ml += volume_ml;
	p->dips_since_fill[sol] += dips;
	p->area_since_fill[sol] += area_cm2;
	p->volume_since_fill[sol] += volume_ml;
	if (!isnan(rs->volume_ml) && p->volume_since_fill[sol] > rs->volume_ml &&
	    !p->ran_dry_reported[sol]) {
		p->ran_dry_reported[sol] = 1;
		diag_error(p->d, conf_lookup(rs->node, "volume"), "solution '%s' runs dry in "
		    "bilayer %d: the plan uses %.3g mL between refills but 'volume' is %.3g mL "
		    "(add change_after or more volume)", rs->name, p->bilayer,
		    p->volume_since_fill[sol], rs->volume_ml);
	}
}

/*
 * Replaces a bath: by its drain and fill pumps when the rig has them, else
 * an operator prompt.
 */
static void
plan_replace(struct planner *p, int sol)
{
	const struct recipe_solution *rs = &p->r->solutions[sol];
	struct plan_step *s = plan_emit(p, STEP_REPLACE, NULL, sol);
	int st = p->rig && rs->station ? rig_station_index(p->rig, rs->station) : -1;

	if (s == NULL)
		return;
	s->where = rs->station ? rs->station : rs->nozzle;
	if (st != -1 && p->rig->stations[st].fill_pump != -1) {
		double volume_ml;
		int64_t drain_ms, fill_ms;
		s->station = st;
		/* the drain and the fill exactly as the executor runs them */
		if (compile_replace_ms(p->r, p->rig, st, sol, &volume_ml, &drain_ms, &fill_ms) == -1)
			diag_error(p->d, rs->node, "solution '%s': replacing it by pumps needs its "
			    "'volume' (or the station's volume)", rs->name);
		s->dwell_ms = drain_ms + fill_ms;
	} else {
		s->operator_wait = 1;
	}
	s->solution = sol;
	plan_commit(p, s);
	p->plan->solutions[sol].replacements++;
	p->dips_since_fill[sol] = 0;
	p->area_since_fill[sol] = 0;
	p->volume_since_fill[sol] = 0;
}

/* Replaces a bath first if dips more immersions would pass its change_after limit. */
static void
plan_check_limits(struct planner *p, int sol, int dips)
{
	const struct recipe_solution *rs = &p->r->solutions[sol];
	double area = dips * p->r->substrate_area_cm2;

	if (p->dips_since_fill[sol] == 0)
		return;
	if ((rs->change_after_dips > 0 && p->dips_since_fill[sol] + dips > rs->change_after_dips) ||
	    (rs->change_after_area_cm2 > 0 && p->area_since_fill[sol] + area >
	    rs->change_after_area_cm2 + 1e-9))
		plan_replace(p, sol);
}

/* Warns when a coating solution follows another without a rinse between. */
static void
plan_exposure(struct planner *p, int sol, const struct recipe_step *src)
{
	const struct recipe_solution *rs = &p->r->solutions[sol];

	if (rs->is_rinse) {
		p->last_coating = -1;
		return;
	}
	if (p->last_coating != -1 && p->last_coating != sol && !p->carryover_reported[sol] &&
	    src != NULL) {
		p->carryover_reported[sol] = 1;
		diag_warning(p->d, src->node, "no rinse between '%s' and '%s': carry-over will "
		    "contaminate '%s'", p->r->solutions[p->last_coating].name, rs->name, rs->name);
	}
	p->last_coating = sol;
}

/* One immersion (a dip, or one bath of a rinse) at a solution's station. */
static void
plan_immersion(struct planner *p, enum step_kind kind, const struct recipe_step *src, int sol,
    int64_t dwell_ms, int quick_dips)
{
	const struct recipe_solution *rs = &p->r->solutions[sol];
	const struct rig_device *lift = plan_lift(p);
	int dips = quick_dips > 0 ? quick_dips : 1;
	double volume_ml = dips * p->r->dragout_ml;
	struct plan_step *s;
	int st;

	plan_check_limits(p, sol, dips);
	if ((s = plan_emit(p, kind, src, sol)) == NULL)
		return;
	s->where = rs->station;
	s->quick_dips = quick_dips;
	st = p->rig && rs->station ? rig_station_index(p->rig, rs->station) : -1;
	plan_travel(p, s, st);
	s->dwell_ms = dwell_ms * dips;
	s->drip_ms = src->drip_ms > 0 ? src->drip_ms : p->r->drip_ms;
	if (lift != NULL && st != -1) {
		const struct rig_station *station = &p->rig->stations[st];
		double depth = src->depth_mm > 0 ? src->depth_mm : station->max_depth_mm;
		double rapid = lift->max_speed_mm_s, accel = lift->max_accel_mm_s2;
		double to_surface = station->surface_z_mm - p->rig->safe_z_mm;
		double speed_in = src->speed_in_mm_s > 0 ? src->speed_in_mm_s : rapid;
		double speed_out = src->speed_out_mm_s > 0 ? src->speed_out_mm_s : rapid;
		s->speed_in_mm_s = (float)speed_in;
		s->speed_out_mm_s = (float)speed_out;
		s->z_mm = (float)(station->surface_z_mm + depth);
		s->immerse_ms = plan_move_ms(to_surface, rapid, accel) +
		    dips * plan_move_ms(depth, speed_in, accel);
		s->withdraw_ms = dips * plan_move_ms(depth, speed_out, accel) +
		    plan_move_ms(to_surface, rapid, accel);
	}
	s->volume_ml = (float)volume_ml;
	plan_commit(p, s);
	plan_exposure(p, sol, src);
}

static void
plan_spray(struct planner *p, const struct recipe_step *src)
{
	struct plan_step *s;
	double volume = 0, total = 0;
	int i, nz = -1;

	for (i = 0; i < src->spray_count; i++)
		plan_check_limits(p, src->spray_solutions[i], 1);
	if ((s = plan_emit(p, STEP_SPRAY, src, src->solution)) == NULL)
		return;
	s->where = p->r->solutions[src->solution].nozzle;
	if (p->rig && s->where && (nz = rig_nozzle_index(p->rig, s->where)) != -1)
		plan_travel(p, s, p->rig->nozzles[nz].station);
	s->where = p->r->solutions[src->solution].nozzle;
	s->dwell_ms = src->dwell_ms;
	s->drip_ms = src->drain_ms;
	for (i = 0; i < src->spray_count; i++) {
		int sol = src->spray_solutions[i];
		double flow = compile_spray_flow_ml_min(p->r, p->rig, src, sol);
		volume = flow * src->dwell_ms / 60000.0;
		total += volume;
	}
	s->volume_ml = (float)total;
	plan_commit(p, s);
	for (i = 0; i < src->spray_count; i++)
		plan_exposure(p, src->spray_solutions[i], src);
}

/* The path a roll-to-roll web runs through a station; 0 if unknown (reported). */
static double
plan_roll_path(struct planner *p, const struct recipe_step *src, const char *station_name)
{
	int st;

	if (src->path_mm > 0)
		return src->path_mm;
	if (p->rig && station_name && (st = rig_station_index(p->rig, station_name)) != -1 &&
	    p->rig->stations[st].path_length_mm > 0)
		return p->rig->stations[st].path_length_mm;
	if (p->rig == NULL)
		diag_warning(p->d, src->node, "residence time in '%s' unknown without a rig: give "
		    "'path' here or check with --rig", station_name ? station_name : "?");
	else
		diag_error(p->d, src->node, "the web's path through '%s' is unknown: give 'path' "
		    "here or 'path_length' on the rig's station", station_name ? station_name :
		    "?");
	return 0;
}

static void
plan_roll_station(struct planner *p, const struct recipe_step *src, int sol,
    const char *station_name)
{
	double path = plan_roll_path(p, src, station_name);
	struct plan_step *s = plan_emit(p, src->kind, src, sol);

	if (s == NULL)
		return;
	s->where = station_name;
	if (p->rig && station_name)
		s->station = rig_station_index(p->rig, station_name);
	s->dwell_ms = llround(path / p->r->line_speed_mm_s * 1000);
	plan_commit(p, s);
	if (sol >= 0)
		plan_exposure(p, sol, src);
}

static void plan_steps(struct planner *p, const struct recipe_step *steps, size_t count);

static void
plan_dry(struct planner *p, const struct recipe_step *src)
{
	struct plan_step *s, *prev;

	if (p->r->process == PROCESS_ROLL) {
		plan_roll_station(p, src, -1, src->station);
		return;
	}
	if (src->slow_withdrawal_mm_s > 0) {
		/* dry as the substrate leaves the last bath: slow down that withdrawal */
		const struct rig_device *lift = plan_lift(p);
		prev = plan_last(p);
		if (prev == NULL || (prev->kind != STEP_DIP && prev->kind != STEP_RINSE)) {
			diag_error(p->d, src->node, "dry by slow_withdrawal must follow a dip or "
			    "rinse");
			return;
		}
		if (lift != NULL && prev->station != -1) {
			const struct rig_station *st = &p->rig->stations[prev->station];
			/* the depth plan_immersion used, in full precision */
			double depth = prev->src->depth_mm > 0 ? prev->src->depth_mm :
			    st->max_depth_mm;
			int64_t before = prev->withdraw_ms;
			int dips = prev->quick_dips > 0 ? prev->quick_dips : 1;
			/* every quick dip leaves at the slow speed, as the run does */
			prev->speed_out_mm_s = (float)src->slow_withdrawal_mm_s;
			prev->withdraw_ms = dips * plan_move_ms(depth, src->slow_withdrawal_mm_s,
			    lift->max_accel_mm_s2) + plan_move_ms(st->surface_z_mm -
			    p->rig->safe_z_mm, lift->max_speed_mm_s, lift->max_accel_mm_s2);
			/* recompute the previous step's total and shift the clock by the change */
			prev->duration_ms += prev->withdraw_ms - before;
			p->clock_ms += prev->withdraw_ms - before;
			p->plan->motion_ms += prev->withdraw_ms - before;
		}
	}
	if ((s = plan_emit(p, STEP_DRY, src, -1)) == NULL)
		return;
	s->where = src->valve;
	if (src->station && p->rig)
		plan_travel(p, s, rig_station_index(p->rig, src->station));
	if (s->where == NULL)
		s->where = src->station;
	s->dwell_ms = src->dwell_ms;
	plan_commit(p, s);
}

static void
plan_step(struct planner *p, const struct recipe_step *src)
{
	struct plan_step *s;
	size_t i;
	int n;

	if (p->bilayer == 1 && p->phase == PHASE_CYCLE && src->first != NULL)
		src = src->first;
	switch (src->kind) {
	case STEP_DIP:
		plan_immersion(p, STEP_DIP, src, src->solution, src->dwell_ms, 0);
		break;
	case STEP_RINSE:
		for (i = 0; i < src->bath_count; i++) {
			if (p->r->process == PROCESS_ROLL)
				plan_roll_station(p, src, src->baths[i].solution,
				    p->r->solutions[src->baths[i].solution].station);
			else
				plan_immersion(p, STEP_RINSE, src, src->baths[i].solution,
				    src->baths[i].dwell_ms, src->baths[i].quick_dips);
		}
		break;
	case STEP_BATH:
		plan_roll_station(p, src, src->solution, p->r->solutions[src->solution].station);
		break;
	case STEP_SPRAY:
		plan_spray(p, src);
		break;
	case STEP_DRY:
		plan_dry(p, src);
		break;
	case STEP_REPEAT:
		for (n = 0; n < src->times && !p->overflow; n++)
			plan_steps(p, src->steps, src->step_count);
		break;
	case STEP_WAIT:
	case STEP_PROMPT:
	case STEP_MEASURE:
	case STEP_SET:
		if ((s = plan_emit(p, src->kind, src, -1)) == NULL)
			return;
		s->where = src->kind == STEP_MEASURE ? src->sensor : src->output;
		s->dwell_ms = src->dwell_ms;
		s->operator_wait = src->kind == STEP_PROMPT;
		plan_commit(p, s);
		break;
	default:
		break;
	}
}

static void
plan_steps(struct planner *p, const struct recipe_step *steps, size_t count)
{
	size_t i;

	for (i = 0; i < count && !p->overflow; i++)
		plan_step(p, &steps[i]);
}

/* One roll-to-roll pass: the stations, the web's tail running out, the rewind. */
static void
plan_roll_pass(struct planner *p, int last)
{
	const struct recipe *r = p->r;
	struct plan_step *s;

	plan_steps(p, r->cycle, r->cycle_count);
	if ((s = plan_emit(p, STEP_MOVE, NULL, -1)) == NULL)
		return;
	s->where = "web run-out";
	s->dwell_ms = llround(r->web_length_mm / r->line_speed_mm_s * 1000);
	/* its commit counts the pass's top-ups (compile_uses) */
	plan_commit(p, s);
	p->plan->web_travel_mm += r->web_length_mm;
	if (!last && r->rewind_ms > 0) {
		if ((s = plan_emit(p, STEP_MOVE, NULL, -1)) == NULL)
			return;
		s->where = "rewind";
		s->dwell_ms = r->rewind_ms;
		plan_commit(p, s);
	}
}

static void
plan_cycles(struct planner *p)
{
	const struct recipe *r = p->r;
	size_t i, c;
	int n;

	for (n = 1; n <= p->plan->bilayers && !p->overflow; n++) {
		p->bilayer = n;
		p->phase = PHASE_CYCLE;
		if (r->process == PROCESS_ROLL)
			plan_roll_pass(p, n == p->plan->bilayers);
		else
			plan_steps(p, r->cycle, r->cycle_count);
		p->plan->thickness_nm[n] = recipe_thickness_nm(&r->growth, n);
		p->phase = PHASE_CHECKPOINT;
		for (c = 0; c < r->checkpoint_count; c++)
			if (r->checkpoints[c].every_bilayers > 0 &&
			    n % r->checkpoints[c].every_bilayers == 0)
				plan_steps(p, r->checkpoints[c].steps, r->checkpoints[c].step_count);
		for (i = 0; i < r->solution_count; i++)
			if (r->solutions[i].change_after_cycles > 0 && n < p->plan->bilayers &&
			    n % r->solutions[i].change_after_cycles == 0)
				plan_replace(p, (int)i);
	}
}

/* Solutions past their shelf life before their last planned use, if the run starts now. */
static void
plan_check_shelf_life(struct planner *p)
{
	size_t i;

	for (i = 0; i < p->r->solution_count; i++) {
		const struct recipe_solution *rs = &p->r->solutions[i];
		int64_t left_ms;
		char at[32], left[32];

		if (rs->prepared_at == -1 || rs->shelf_life_ms == 0 || p->plan->solutions[i].dips == 0)
			continue;
		left_ms = (rs->prepared_at - p->now) * 1000 + rs->shelf_life_ms;
		if (left_ms > 0 && p->plan->solutions[i].last_use_ms > left_ms)
			diag_error(p->d, conf_lookup(rs->node, "shelf_life"), "solution '%s' expires "
			    "%s into the run, before its last use at %s: prepare it closer to the run",
			    rs->name, units_format_duration(left_ms, left, sizeof(left)),
			    units_format_duration(p->plan->solutions[i].last_use_ms, at, sizeof(at)));
	}
}

static void
plan_park(struct planner *p)
{
	struct plan_step *s;

	if (p->rig == NULL || p->rig->park == -1 || p->r->process == PROCESS_ROLL)
		return;
	if ((s = plan_emit(p, STEP_MOVE, NULL, -1)) == NULL)
		return;
	plan_travel(p, s, p->rig->park);
	plan_commit(p, s);
}

/* ---- the plan's size, before anything is expanded ---- */

/* Step counts saturate at UINT64_MAX: no product of repeats can overflow. */
static uint64_t
count_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t
count_mul(uint64_t a, uint64_t b)
{
	return a != 0 && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

/* Steps, and how many of them may each insert a bath replacement first. */
struct count {
	uint64_t steps, limited;
};

static struct count
count_sum(struct count a, struct count b)
{
	a.steps = count_add(a.steps, b.steps);
	a.limited = count_add(a.limited, b.limited);
	return a;
}

static struct count
count_times(uint64_t n, struct count c)
{
	c.steps = count_mul(n, c.steps);
	c.limited = count_mul(n, c.limited);
	return c;
}

/* A solution whose change_after dips or area may insert a replacement before a use. */
static int
count_limited(const struct recipe *r, int sol)
{
	const struct recipe_solution *rs;

	if (sol < 0 || (size_t)sol >= r->solution_count)
		return 0;
	rs = &r->solutions[sol];
	return rs->change_after_dips > 0 ||
	    (rs->change_after_area_cm2 > 0 && r->substrate_area_cm2 > 0);
}

static struct count count_steps(const struct recipe *r, const struct recipe_step *steps,
    size_t n, int first);

/*
 * The steps plan_step makes of one recipe step; first: in the first
 * bilayer's cycle, where overrides apply.
 */
static struct count
count_step(const struct recipe *r, const struct recipe_step *s, int first)
{
	struct count n = { 1, 0 };
	size_t i;
	int j;

	if (first && s->first != NULL)
		s = s->first;
	switch (s->kind) {
	case STEP_DIP:
		n.limited = (uint64_t)count_limited(r, s->solution);
		break;
	case STEP_RINSE:
		/* a step a bath; roll-to-roll baths have no change_after checks */
		n.steps = s->bath_count;
		for (i = 0; i < s->bath_count && r->process != PROCESS_ROLL; i++)
			n.limited += (uint64_t)count_limited(r, s->baths[i].solution);
		break;
	case STEP_SPRAY:
		for (j = 0; j < s->spray_count && j < 4; j++)
			n.limited += (uint64_t)count_limited(r, s->spray_solutions[j]);
		break;
	case STEP_REPEAT:
		if (s->times <= 0)
			return (struct count){ 0, 0 };
		return count_times((uint64_t)s->times, count_steps(r, s->steps, s->step_count,
		    first));
	case STEP_BATH:
	case STEP_DRY:
	case STEP_WAIT:
	case STEP_PROMPT:
	case STEP_MEASURE:
	case STEP_SET:
		break;
	default:
		n.steps = 0;	/* replacements and moves are the planner's, not the recipe's */
		break;
	}
	return n;
}

static struct count
count_steps(const struct recipe *r, const struct recipe_step *steps, size_t n, int first)
{
	struct count total = { 0, 0 };
	size_t i;

	for (i = 0; i < n; i++)
		total = count_sum(total, count_step(r, &steps[i], first));
	return total;
}

/*
 * The blame for a recipe too big: follow the heaviest part down (the
 * section with the most steps, in it the step with the most, in a repeat
 * its heaviest step...) and name the biggest multiplier on that path:
 * bilayers 10,000 over a repeat of 20, but a repeat of 10,000 over
 * bilayers 5. On a tie the outer one.
 */
struct blame {
	const struct conf_node *node;
	uint64_t factor;
	const struct conf_node *heaviest;	/* without a multiplier: the heaviest step */
};

static void
blame_factor(struct blame *b, const struct conf_node *node, uint64_t factor)
{
	if (node != NULL && factor > 1 && factor > b->factor) {
		b->node = node;
		b->factor = factor;
	}
}

static void
blame_steps(struct blame *b, const struct recipe *r, const struct recipe_step *steps,
    size_t n, int depth)
{
	const struct recipe_step *heaviest = NULL;
	uint64_t most = 0, count;
	size_t i;

	for (i = 0; i < n; i++) {
		count = count_step(r, &steps[i], 0).steps;
		if (heaviest == NULL || count > most) {
			heaviest = &steps[i];
			most = count;
		}
	}
	if (heaviest == NULL)
		return;
	if (b->heaviest == NULL)
		b->heaviest = heaviest->node;
	if (heaviest->kind == STEP_REPEAT && depth <= RECIPE_MAX_NESTING) {
		blame_factor(b, heaviest->times_node, heaviest->times > 0 ?
		    (uint64_t)heaviest->times : 0);
		blame_steps(b, r, heaviest->steps, heaviest->step_count, depth + 1);
	}
}

/* The target's key that sets the bilayer count (recipe_bilayer_count). */
static const struct conf_node *
count_bilayers_node(const struct recipe *r, int bilayers)
{
	const struct conf_node *n = NULL;

	if (r->target_node == NULL)
		return NULL;
	if (r->target_bilayers > 0 && r->target_bilayers == bilayers)
		n = conf_lookup(r->target_node, "bilayers");
	else if (r->max_bilayers == bilayers)
		n = conf_lookup(r->target_node, "max_bilayers");
	if (n == NULL)
		n = conf_lookup(r->target_node, "thickness");
	return n != NULL ? n : r->target_node;
}

/* A section of the recipe for the blame: its steps, how often they run, what says so. */
struct section {
	const struct recipe_step *steps;
	size_t count;
	uint64_t total, factor;
	const struct conf_node *factor_node;
};

/* Mirrors plan_build: plan_steps for pre, plan_cycles, post, plan_park. */
void
plan_size(const struct recipe *r, const struct rig *rig, struct plan_size *out)
{
	/* pre, cycle, the heaviest checkpoint, post: for the blame */
	struct section sections[4], *heaviest;
	struct count total, first, cycle, each, pass;
	struct blame blame;
	int bilayers = recipe_bilayer_count(r);
	uint64_t b = bilayers > 0 ? (uint64_t)bilayers : 0, later = b > 0 ? b - 1 : 0;
	size_t i;

	memset(sections, 0, sizeof(sections));
	memset(&blame, 0, sizeof(blame));
	total = count_steps(r, r->pre, r->pre_count, 0);
	sections[0] = (struct section){ r->pre, r->pre_count, total.steps, 1, NULL };
	if (b > 0) {
		first = count_steps(r, r->cycle, r->cycle_count, 1);
		cycle = count_steps(r, r->cycle, r->cycle_count, 0);
		/* roll-to-roll: each pass ends with the web's run-out, all but the last rewind */
		pass.steps = r->process == PROCESS_ROLL ? 1 + (r->rewind_ms > 0) : 0;
		pass.limited = 0;
		each = count_sum(first, count_times(later, count_sum(cycle, pass)));
		if (r->process == PROCESS_ROLL)
			each.steps = count_add(each.steps, 1);	/* the last run-out */
		total = count_sum(total, each);
		sections[1] = (struct section){ r->cycle, r->cycle_count, each.steps, b,
		    count_bilayers_node(r, bilayers) };
	}
	for (i = 0; i < r->checkpoint_count; i++) {
		const struct recipe_checkpoint *cp = &r->checkpoints[i];
		uint64_t k;
		if (cp->every_bilayers <= 0)
			continue;
		k = b / (uint64_t)cp->every_bilayers;
		each = count_times(k, count_steps(r, cp->steps, cp->step_count, 0));
		total = count_sum(total, each);
		if (each.steps > sections[2].total)
			sections[2] = (struct section){ cp->steps, cp->step_count, each.steps, k,
			    conf_lookup(cp->node, "bilayers") };
	}
	/* replacements every K cycles, after bilayer K, 2K... but not after the last */
	for (i = 0; i < r->solution_count; i++)
		if (r->solutions[i].change_after_cycles > 0)
			total.steps = count_add(total.steps,
			    later / (uint64_t)r->solutions[i].change_after_cycles);
	each = count_steps(r, r->post, r->post_count, 0);
	total = count_sum(total, each);
	sections[3] = (struct section){ r->post, r->post_count, each.steps, 1, NULL };
	if (rig != NULL && rig->park != -1 && r->process != PROCESS_ROLL)
		total.steps = count_add(total.steps, 1);
	out->least = total.steps;
	out->most = count_add(total.steps, total.limited);

	heaviest = &sections[1];
	for (i = 0; i < 4; i++)
		if (sections[i].total > heaviest->total)
			heaviest = &sections[i];
	blame_factor(&blame, heaviest->factor_node, heaviest->factor);
	blame_steps(&blame, r, heaviest->steps, heaviest->count, 1);
	out->culprit = blame.node != NULL ? blame.node : blame.heaviest;
}

/* ---- planning ---- */

/*
 * Runs the planner into a new plan of at most cap steps, keeping them all
 * (keep) or counting them only (keeping the last); *overflow: it stopped at
 * cap. Returns the plan, or NULL when out of memory (reported).
 */
static struct plan *
plan_expand(const struct recipe *r, const struct rig *rig, int64_t now, struct diag *d,
    size_t cap, int keep, int *overflow)
{
	struct planner p;
	struct plan *plan;
	size_t n_sol = r->solution_count + 1;
	int ok;

	memset(&p, 0, sizeof(p));
	if ((plan = calloc(1, sizeof(*plan))) == NULL) {
		diag_error(d, NULL, "out of memory while planning");
		return NULL;
	}
	plan->recipe = r;
	plan->rig = rig;
	plan->bilayers = recipe_bilayer_count(r);
	plan->cap = cap;
	/* calloc checks cap * size; the pages of a big plan are mapped as written */
	plan->steps = calloc(keep && cap > 0 ? cap : 1, sizeof(*plan->steps));
	plan->thickness_nm = calloc((size_t)(plan->bilayers > 0 ? plan->bilayers : 0) + 1,
	    sizeof(double));
	plan->solutions = calloc(n_sol, sizeof(*plan->solutions));
	p.dips_since_fill = calloc(n_sol, sizeof(int));
	p.area_since_fill = calloc(n_sol, sizeof(double));
	p.volume_since_fill = calloc(n_sol, sizeof(double));
	p.ran_dry_reported = calloc(n_sol, 1);
	p.carryover_reported = calloc(n_sol, 1);
	p.plan = plan;
	p.r = r;
	p.rig = rig;
	p.d = d;
	p.now = now;
	p.keep = keep;
	p.last_coating = -1;
	plan->motion_included = rig != NULL && (rig->lift != -1 || rig->transfer != -1);
	if (rig != NULL && rig->park != -1)
		p.x_mm = rig->stations[rig->park].x_mm;
	ok = plan->steps && plan->thickness_nm && plan->solutions && p.dips_since_fill &&
	    p.area_since_fill && p.volume_since_fill && p.ran_dry_reported &&
	    p.carryover_reported;
	if (ok) {
		p.phase = PHASE_PRE;
		plan_steps(&p, r->pre, r->pre_count);
		plan_cycles(&p);
		p.phase = PHASE_POST;
		plan_steps(&p, r->post, r->post_count);
		plan_park(&p);
		plan->total_ms = p.clock_ms;
		plan->web_coated_mm = r->process == PROCESS_ROLL ? r->web_length_mm : 0;
		plan_check_shelf_life(&p);
		if (r->target_thickness_nm > 0 &&
		    plan->thickness_nm[plan->bilayers] < r->target_thickness_nm)
			diag_warning(d, NULL, "the growth model reaches %.1f nm in %d bilayers, short "
			    "of the %.1f nm target", plan->thickness_nm[plan->bilayers],
			    plan->bilayers, r->target_thickness_nm);
		if (p.overflow)
			diag_error(d, NULL, "internal error: the recipe expands to more than the "
			    "%zu steps counted for it", cap);
		*overflow = p.overflow;
	} else {
		diag_error(d, NULL, "out of memory while planning");
	}
	free(p.dips_since_fill);
	free(p.area_since_fill);
	free(p.volume_since_fill);
	free(p.ran_dry_reported);
	free(p.carryover_reported);
	if (!ok) {
		plan_free(plan);
		return NULL;
	}
	return plan;
}

/* n as "1,234,567". */
static const char *
plan_format_count(uint64_t n, char *buf, size_t size)
{
	char digits[24];
	int len, i;
	size_t j = 0;

	len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
	for (i = 0; i < len && j + 2 < size; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = digits[i];
	}
	buf[j] = '\0';
	return buf;
}

/* Counts the steps exactly when the bounds differ and it is cheap (see plan.h). */
static int
plan_count_exact(const struct recipe *r, const struct rig *rig, const struct plan_size *size,
    uint64_t *count)
{
	struct plan *plan;
	struct diag scratch;
	uint64_t cap;
	int overflow = 0;

	*count = size->least;
	if (size->least == size->most)
		return 1;
	if (size->least > PLAN_MAX_STEPS)
		return 0;
	/*
	 * most <= 2 * least, as each replacement it counts comes before a use
	 * counted in least; the cap holds the work to that even if it did not.
	 */
	cap = size->most < 2 * PLAN_MAX_STEPS ? size->most : 2 * PLAN_MAX_STEPS;
	diag_init(&scratch, "count");
	plan = plan_expand(r, rig, 0, &scratch, (size_t)cap, 0, &overflow);
	diag_free(&scratch);
	if (plan == NULL)
		return -1;
	*count = plan->count;
	plan_free(plan);
	return overflow ? 0 : 1;
}

int
plan_count_steps(const struct recipe *r, const struct rig *rig, uint64_t *count)
{
	struct plan_size size;

	plan_size(r, rig, &size);
	return plan_count_exact(r, rig, &size, count);
}

int
plan_build(const struct recipe *r, const struct rig *rig, int64_t now, struct diag *d,
    struct plan **out)
{
	struct plan_size size;
	struct plan *plan;
	struct plan_step *steps;
	uint64_t count;
	char n[32], max[32];
	int errors = d->errors, exact = 1, overflow = 0;

	*out = NULL;
	plan_size(r, rig, &size);
	count = size.most;
	if (size.most > PLAN_MAX_STEPS &&
	    (exact = plan_count_exact(r, rig, &size, &count)) == -1) {
		diag_error(d, NULL, "out of memory while planning");
		return -1;
	}
	if (count > PLAN_MAX_STEPS) {
		if (count == UINT64_MAX)
			exact = 0;	/* saturated */
		diag_error(d, size.culprit, "this recipe expands to %s%s steps; a plan may have at "
		    "most %s (lbld holds a batch's whole plan in memory for the run)",
		    exact ? "" : "at least ", plan_format_count(count, n, sizeof(n)),
		    plan_format_count(PLAN_MAX_STEPS, max, sizeof(max)));
		return -1;
	}
	if ((plan = plan_expand(r, rig, now, d, (size_t)count, 1, &overflow)) == NULL)
		return -1;
	/* fewer when change_after limits inserted fewer replacements than they could */
	if (plan->count > 0 && plan->count < plan->cap &&
	    (steps = realloc(plan->steps, plan->count * sizeof(*steps))) != NULL) {
		plan->steps = steps;
		plan->cap = plan->count;
	}
	/* every value the run will send, against the rig's limits */
	if (d->errors == errors)
		compile_check(plan, d);
	if (d->errors != errors) {
		plan_free(plan);
		return -1;
	}
	*out = plan;
	return 0;
}

void
plan_free(struct plan *plan)
{
	if (plan == NULL)
		return;
	free(plan->steps);
	free(plan->thickness_nm);
	free(plan->solutions);
	free(plan);
}
