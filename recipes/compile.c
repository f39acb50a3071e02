/*
 * The one compilation of a plan step into device actions. See compile.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "profile.h"

const char *const compile_kind_names[] = { "move", "output", "pump", "line", "read", "dwell",
	"wait", "prompt" };

_Static_assert(sizeof(compile_kind_names) / sizeof(compile_kind_names[0]) ==
    COMPILE_KIND_COUNT, "a name for every kind of action");

/* Limits are compared with this much slack: values pass through float in the plan. */
#define COMPILE_LIMIT_SLACK	1e-6

void
compile_list_free(struct compile_list *list)
{
	free(list->actions);
	list->actions = NULL;
	list->count = list->cap = 0;
}

/* The building of one step's list; failed once an append ran out of memory. */
struct compiler {
	const struct recipe *r;
	const struct rig *rig;
	const struct plan_step *s;
	struct compile_state *state;
	struct compile_list *list;
	int failed;
};

/* Appends an action; the list doubles when full, so none is ever dropped. */
static struct compile_action *
compile_add(struct compiler *c, enum compile_kind kind, int device, double value)
{
	struct compile_list *l = c->list;
	struct compile_action *a;

	if (c->failed)
		return NULL;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		if ((a = reallocarray(l->actions, cap, sizeof(*a))) == NULL) {
			c->failed = 1;
			return NULL;
		}
		l->actions = a;
		l->cap = cap;
	}
	a = &l->actions[l->count++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->device = device;
	a->value = value;
	return a;
}

static void
compile_move(struct compiler *c, int axis, double position_mm, double speed_mm_s)
{
	struct compile_action *a = compile_add(c, COMPILE_MOVE, axis, position_mm);

	if (a != NULL)
		a->speed_mm_s = speed_mm_s;
}

static void
compile_timing(struct compiler *c, enum compile_kind kind, int64_t ms)
{
	struct compile_action *a = compile_add(c, kind, -1, 0);

	if (a != NULL)
		a->ms = ms;
}

/* To the step's station at the safe height, on a rig with a transfer axis. */
static void
compile_travel(struct compiler *c)
{
	const struct rig *rig = c->rig;

	if (rig->transfer != -1 && c->s->station != -1)
		compile_move(c, rig->transfer, rig->stations[c->s->station].x_mm,
		    rig->devices[rig->transfer].max_speed_mm_s);
}

/*
 * An immersion at the step's station: over the station, down at the
 * lift's rapid speed to the surface, then for each quick dip (or the one
 * immersion) in at speed_in, the stirrer on, the dwell, the stirrer off,
 * out at speed_out; up to the safe height, and the drip.
 */
static void
compile_immersion(struct compiler *c)
{
	const struct plan_step *s = c->s;
	const struct rig *rig = c->rig;
	const struct rig_device *lift = &rig->devices[rig->lift];
	const struct rig_station *st = &rig->stations[s->station];
	int stirrer = s->src && s->src->agitation_rpm > 0 ? st->stirrer : -1;
	int dips = s->quick_dips > 0 ? s->quick_dips : 1, i;

	compile_travel(c);
	compile_move(c, rig->lift, st->surface_z_mm, lift->max_speed_mm_s);
	for (i = 0; i < dips; i++) {
		compile_move(c, rig->lift, s->z_mm, s->speed_in_mm_s);
		if (stirrer != -1)
			compile_add(c, COMPILE_PUMP, stirrer, s->src->agitation_rpm);
		/* the plan's dwell is dips times each one's, exactly */
		compile_timing(c, COMPILE_DWELL, s->dwell_ms / dips);
		if (stirrer != -1)
			compile_add(c, COMPILE_PUMP, stirrer, 0);
		compile_move(c, rig->lift, st->surface_z_mm, s->speed_out_mm_s);
	}
	compile_move(c, rig->lift, rig->safe_z_mm, lift->max_speed_mm_s);
	compile_timing(c, COMPILE_WAIT, s->drip_ms);
}

double
compile_spray_flow_ml_min(const struct recipe *r, const struct rig *rig,
    const struct recipe_step *src, int sol)
{
	int nz;

	if (src->flow_ml_min > 0)
		return src->flow_ml_min;
	if (rig == NULL || r->solutions[sol].nozzle == NULL ||
	    (nz = rig_nozzle_index(rig, r->solutions[sol].nozzle)) == -1 ||
	    rig->nozzles[nz].pump == -1)
		return 0;
	return rig->devices[rig->nozzles[nz].pump].max_flow_ml_min;
}

/* Every nozzle of the spray opens (its pump first), the dwell, all close, the drain. */
static void
compile_spray(struct compiler *c)
{
	const struct plan_step *s = c->s;
	const struct recipe_step *src = s->src;
	const struct rig *rig = c->rig;
	int i, nz;

	compile_travel(c);
	for (i = 0; i < src->spray_count; i++) {
		int sol = src->spray_solutions[i];
		nz = rig_nozzle_index(rig, c->r->solutions[sol].nozzle);
		if (rig->nozzles[nz].pump != -1)
			compile_add(c, COMPILE_PUMP, rig->nozzles[nz].pump,
			    compile_spray_flow_ml_min(c->r, rig, src, sol));
		/* a pump-fed nozzle has no valve: its pump alone starts and stops it */
		if (rig->nozzles[nz].valve != -1)
			compile_add(c, COMPILE_OUTPUT, rig->nozzles[nz].valve, 1);
	}
	compile_timing(c, COMPILE_DWELL, s->dwell_ms);
	for (i = 0; i < src->spray_count; i++) {
		nz = rig_nozzle_index(rig, c->r->solutions[src->spray_solutions[i]].nozzle);
		if (rig->nozzles[nz].valve != -1)
			compile_add(c, COMPILE_OUTPUT, rig->nozzles[nz].valve, 0);
		if (rig->nozzles[nz].pump != -1)
			compile_add(c, COMPILE_PUMP, rig->nozzles[nz].pump, 0);
	}
	if (s->drip_ms > 0)
		compile_timing(c, COMPILE_WAIT, s->drip_ms);
}

/* A roll-to-roll station: the line starts with the first one; a valve around the dwell. */
static void
compile_roll(struct compiler *c)
{
	const struct plan_step *s = c->s;
	const struct rig *rig = c->rig;
	int valve = s->src && s->src->valve ? rig_device_index(rig, s->src->valve) : -1;

	if (!c->state->line_running) {
		compile_add(c, COMPILE_LINE, rig->line, c->r->line_speed_mm_s);
		c->state->line_running = 1;
	}
	if (valve != -1)
		compile_add(c, COMPILE_OUTPUT, valve, 1);
	compile_timing(c, COMPILE_DWELL, s->dwell_ms);
	if (valve != -1)
		compile_add(c, COMPILE_OUTPUT, valve, 0);
}

int
compile_replace_ms(const struct recipe *r, const struct rig *rig, int st, int sol,
    double *volume_ml, int64_t *drain_ms, int64_t *fill_ms)
{
	const struct rig_station *station = &rig->stations[st];
	const struct recipe_solution *rs = &r->solutions[sol];
	double volume = !isnan(rs->volume_ml) ? rs->volume_ml : station->volume_ml;

	*volume_ml = volume;
	*drain_ms = *fill_ms = 0;
	if (isnan(volume))
		return -1;
	*drain_ms = llround(volume / rig->devices[station->drain_pump].max_flow_ml_min * 60000);
	*fill_ms = llround(volume / rig->devices[station->fill_pump].max_flow_ml_min * 60000);
	return 0;
}

/* The volume pump device moves in a list: its flow over every dwell and wait it runs through. */
static double
compile_pump_volume_ml(const struct compile_list *list, int device)
{
	double flow_ml_min = 0, volume_ml = 0;
	size_t i;

	for (i = 0; i < list->count; i++) {
		const struct compile_action *a = &list->actions[i];

		if (a->kind == COMPILE_PUMP && a->device == device)
			flow_ml_min = a->value;
		else if (a->kind == COMPILE_DWELL || a->kind == COMPILE_WAIT)
			volume_ml += flow_ml_min * a->ms / 60000.0;
	}
	return volume_ml;
}

/*
 * Each liquid pump once, in the order it first runs. Motion time is not
 * counted: the plan does not count it, and no compiled step runs a pump
 * across a move.
 */
size_t
compile_volumes(const struct rig *rig, const struct compile_list *list,
    struct compile_volume *out, size_t max)
{
	size_t n = 0, i, j;

	if (rig == NULL)
		return 0;
	for (i = 0; i < list->count; i++) {
		const struct compile_action *a = &list->actions[i];
		double volume_ml;

		if (a->kind != COMPILE_PUMP || a->device < 0 ||
		    rig_pump_is_stirrer(&rig->devices[a->device]))
			continue;
		for (j = 0; j < i; j++)
			if (list->actions[j].kind == COMPILE_PUMP &&
			    list->actions[j].device == a->device)
				break;
		if (j < i)
			continue;	/* counted where it first ran */
		/* a pump only set running (a 'set' step) moves nothing in this step */
		if ((volume_ml = compile_pump_volume_ml(list, a->device)) <= 0)
			continue;
		if (n < max) {
			out[n].device = a->device;
			out[n].volume_ml = volume_ml;
		}
		n++;
	}
	return n;
}

/* Appends a use when there is room; counts it anyway. */
static void
compile_use_add(struct compile_use *out, size_t max, size_t *n, int sol, int dips,
    double volume_ml, double area_cm2)
{
	if (*n < max) {
		out[*n].solution = sol;
		out[*n].dips = dips;
		out[*n].volume_ml = volume_ml;
		out[*n].area_cm2 = area_cm2;
	}
	(*n)++;
}

/* A roll-to-roll move of the web that is its run-out (the other is the rewind). */
static int
compile_is_run_out(const struct plan_step *s)
{
	return s->kind == STEP_MOVE && s->src == NULL && s->where != NULL &&
	    strcmp(s->where, "rewind") != 0;
}

size_t
compile_uses(const struct recipe *r, const struct rig *rig, const struct plan_step *s,
    struct compile_pass *pass, struct compile_use *out, size_t max)
{
	size_t n = 0, i;
	int k, dips;

	if (r->process == PROCESS_ROLL) {
		/* a pass starts with its first cycle step; the rewind after it is none of it */
		if (!pass->open && s->phase == PHASE_CYCLE && !(s->kind == STEP_MOVE &&
		    s->src == NULL && !compile_is_run_out(s))) {
			pass->open = 1;
			pass->start_ms = s->start_ms;
		}
		if (compile_is_run_out(s)) {
			int64_t pass_ms = pass->open ? s->start_ms + s->duration_ms - pass->start_ms :
			    s->duration_ms;
			for (i = 0; i < r->solution_count; i++)
				if (r->solutions[i].top_up_ml_min > 0)
					compile_use_add(out, max, &n, (int)i, 0,
					    r->solutions[i].top_up_ml_min * pass_ms / 60000.0, 0);
			pass->open = 0;
			return n;
		}
	}
	if (s->solution < 0 || s->kind == STEP_REPLACE)
		return 0;
	switch (s->kind) {
	case STEP_SPRAY:
		for (k = 0; k < s->src->spray_count; k++) {
			int sol = s->src->spray_solutions[k];
			compile_use_add(out, max, &n, sol, 1, compile_spray_flow_ml_min(r, rig, s->src,
			    sol) * s->dwell_ms / 60000.0, r->substrate_area_cm2);
		}
		break;
	default:
		if (r->process == PROCESS_ROLL) {
			/* the whole web passes through the station once per pass */
			compile_use_add(out, max, &n, s->solution, 1, 0,
			    r->web_width_mm * r->web_length_mm / 100.0);
			break;
		}
		dips = s->quick_dips > 0 ? s->quick_dips : 1;
		compile_use_add(out, max, &n, s->solution, dips, dips * r->dragout_ml,
		    dips * r->substrate_area_cm2);
		break;
	}
	return n;
}

/* By the station's pumps at full flow: drain, then fill; else the operator's prompt. */
static void
compile_replace(struct compiler *c)
{
	const struct plan_step *s = c->s;
	const struct rig *rig = c->rig;
	const struct rig_station *st;
	int64_t drain_ms, fill_ms;
	double volume_ml;

	if (s->operator_wait) {
		compile_timing(c, COMPILE_PROMPT, 0);
		return;
	}
	st = &rig->stations[s->station];
	/* an unknown volume was the planner's error already: the plan is not run */
	compile_replace_ms(c->r, rig, s->station, s->solution, &volume_ml, &drain_ms, &fill_ms);
	compile_add(c, COMPILE_PUMP, st->drain_pump, rig->devices[st->drain_pump].max_flow_ml_min);
	compile_timing(c, COMPILE_WAIT, drain_ms);
	compile_add(c, COMPILE_PUMP, st->drain_pump, 0);
	compile_add(c, COMPILE_PUMP, st->fill_pump, rig->devices[st->fill_pump].max_flow_ml_min);
	compile_timing(c, COMPILE_WAIT, fill_ms);
	compile_add(c, COMPILE_PUMP, st->fill_pump, 0);
}

static void
compile_dry(struct compiler *c)
{
	const struct plan_step *s = c->s;
	int device = s->src->valve ? rig_device_index(c->rig, s->src->valve) : -1;

	compile_travel(c);
	if (device != -1)
		compile_add(c, COMPILE_OUTPUT, device, 1);
	if (s->dwell_ms > 0)
		compile_timing(c, COMPILE_DWELL, s->dwell_ms);
	if (device != -1)
		compile_add(c, COMPILE_OUTPUT, device, 0);
}

/* A roll-to-roll move: the web's run-out at line speed then stop, or a rewind. */
static void
compile_roll_move(struct compiler *c)
{
	const struct plan_step *s = c->s;
	struct compile_action *a;

	if (s->where && strcmp(s->where, "rewind") == 0 &&
	    (a = compile_add(c, COMPILE_LINE, c->rig->line, c->r->line_speed_mm_s)) != NULL)
		a->reverse = 1;
	compile_timing(c, COMPILE_DWELL, s->dwell_ms);
	compile_add(c, COMPILE_LINE, c->rig->line, 0);
	c->state->line_running = 0;
}

int
compile_step(const struct recipe *r, const struct rig *rig, const struct plan_step *s,
    struct compile_state *state, struct compile_list *list)
{
	struct compiler c = { r, rig, s, state, list, 0 };
	const struct recipe_step *src = s->src;
	int device;

	list->count = 0;
	if (rig == NULL)
		return 0;
	switch (s->kind) {
	case STEP_DIP:
	case STEP_RINSE:
		if (r->process == PROCESS_ROLL)
			compile_roll(&c);
		else if (rig->lift != -1 && s->station != -1)
			compile_immersion(&c);
		break;
	case STEP_BATH:
		compile_roll(&c);
		break;
	case STEP_SPRAY:
		compile_spray(&c);
		break;
	case STEP_DRY:
		if (r->process == PROCESS_ROLL)
			compile_roll(&c);
		else
			compile_dry(&c);
		break;
	case STEP_WAIT:
		/*
		 * A wait exposes nothing: it is the step's last wait, which ends
		 * on the step's deadline (absorbing the I/O before it), so a run
		 * of waits keeps its schedule.
		 */
		compile_timing(&c, COMPILE_WAIT, s->dwell_ms);
		break;
	case STEP_PROMPT:
		/* the line stops while the operator works at it */
		if (state->line_running) {
			compile_add(&c, COMPILE_LINE, rig->line, 0);
			state->line_running = 0;
		}
		compile_timing(&c, COMPILE_PROMPT, 0);
		break;
	case STEP_MEASURE:
		if (s->dwell_ms > 0)
			compile_timing(&c, COMPILE_WAIT, s->dwell_ms);
		compile_add(&c, COMPILE_READ, rig_device_index(rig, src->sensor), 0);
		break;
	case STEP_SET:
		device = rig_device_index(rig, src->output);
		compile_add(&c, rig->devices[device].role == RIG_PUMP ? COMPILE_PUMP :
		    COMPILE_OUTPUT, device, src->value);
		break;
	case STEP_REPLACE:
		compile_replace(&c);
		break;
	case STEP_MOVE:
		if (r->process == PROCESS_ROLL)
			compile_roll_move(&c);
		else
			compile_travel(&c);
		break;
	default:
		break;
	}
	if (c.failed) {
		list->count = 0;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* ---- what each action sends ---- */

static int
compile_has(const int *has_op, enum profile_op op)
{
	return has_op == NULL || has_op[op];
}

static void
compile_put(struct compile_op *out, int *n, enum profile_op op, int has_value, double value)
{
	out[*n].op = profile_op_names[op];
	out[*n].has_value = has_value;
	out[*n].value = value;
	(*n)++;
}

int
compile_ops(const struct rig *rig, const struct compile_action *a, const int *has_op,
    struct compile_op out[COMPILE_MAX_OPS])
{
	int n = 0;

	switch (a->kind) {
	case COMPILE_MOVE:
		/* hw_do_move: the speed (0 is the axis's maximum), the target, go */
		if (compile_has(has_op, PROFILE_SPEED))
			compile_put(out, &n, PROFILE_SPEED, 1, a->speed_mm_s > 0 ? a->speed_mm_s :
			    rig->devices[a->device].max_speed_mm_s);
		compile_put(out, &n, PROFILE_TARGET, 1, a->value);
		compile_put(out, &n, PROFILE_GO, 0, 0);
		break;
	case COMPILE_PUMP:
	case COMPILE_LINE:
		/* hw_do_run: a zero rate is a stop; else direction, rate, run */
		if (a->value <= 0) {
			compile_put(out, &n, PROFILE_STOP, 0, 0);
			break;
		}
		if (compile_has(has_op, PROFILE_DIRECTION))
			compile_put(out, &n, PROFILE_DIRECTION, 1, a->reverse ? 1 : 0);
		if (compile_has(has_op, profile_rate_op(&rig->devices[a->device])))
			compile_put(out, &n, profile_rate_op(&rig->devices[a->device]), 1, a->value);
		compile_put(out, &n, PROFILE_RUN, 0, 0);
		break;
	case COMPILE_OUTPUT:
		compile_put(out, &n, a->value != 0 ? PROFILE_ON : PROFILE_OFF, 0, 0);
		break;
	case COMPILE_READ:
		out[n].op = "read";
		out[n].has_value = 0;
		out[n].value = 0;
		n++;
		break;
	default:
		break;
	}
	return n;
}

/* ---- the check of every value against the rig ---- */

/* Recipe nodes already blamed, so a value repeated every bilayer is reported once. */
struct compile_blame {
	const struct conf_node **nodes;
	size_t count, cap;
	int oom;
};

/* Whether node was blamed before; if not, it is now. */
static int
compile_blamed(struct compile_blame *b, const struct conf_node *node)
{
	const struct conf_node **v;
	size_t i;

	for (i = 0; i < b->count; i++)
		if (b->nodes[i] == node)
			return 1;
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		if ((v = reallocarray(b->nodes, cap, sizeof(*v))) == NULL) {
			b->oom = 1;
			return 0;
		}
		b->nodes = v;
		b->cap = cap;
	}
	b->nodes[b->count++] = node;
	return 0;
}

/*
 * Where a step's values come from in the recipe: its step, or its
 * solution. The steps the planner adds of itself come from the recipe too,
 * and an error about them is put there, so every error has a place: a
 * roll-to-roll run-out or rewind from the recipe's 'line' (the web's
 * length, the line's speed, the rewind); the final park from its
 * 'process' (the process parks the substrate); else the recipe's start.
 */
static const struct conf_node *
compile_node(const struct plan *plan, const struct plan_step *s)
{
	const struct recipe *r = plan->recipe;
	const struct conf_node *root = r->doc != NULL ? r->doc->root : NULL, *n;

	if (s->src != NULL)
		return s->src->node;
	if (s->solution >= 0)
		return r->solutions[s->solution].node;
	if (r->process == PROCESS_ROLL && (n = conf_lookup(root, "line")) != NULL)
		return n;
	if ((n = conf_lookup(root, "process")) != NULL)
		return n;
	return root;
}

/* One action's values against its device's limits; an error per node. */
static void
compile_check_action(const struct plan *plan, const struct plan_step *s,
    const struct compile_action *a, struct compile_blame *b, struct diag *d)
{
	const struct rig_device *dev = &plan->rig->devices[a->device];
	const struct conf_node *node = compile_node(plan, s);
	double lo, hi;

	switch (a->kind) {
	case COMPILE_MOVE:
		lo = fmin(dev->travel_min_mm, dev->travel_max_mm);
		hi = fmax(dev->travel_min_mm, dev->travel_max_mm);
		if ((a->value < lo - COMPILE_LIMIT_SLACK || a->value > hi + COMPILE_LIMIT_SLACK) &&
		    !compile_blamed(b, node))
			diag_error(d, node, "step %d moves axis '%s' to %.3f mm, outside its travel "
			    "(%.3f to %.3f mm in the rig file)", s->seq, dev->name, a->value, lo, hi);
		else if ((a->speed_mm_s < 0 || a->speed_mm_s > dev->max_speed_mm_s *
		    (1 + COMPILE_LIMIT_SLACK)) && !compile_blamed(b, node))
			diag_error(d, node, "step %d moves axis '%s' at %.3f mm/s, beyond its "
			    "max_speed (%.3f mm/s in the rig file)", s->seq, dev->name, a->speed_mm_s,
			    dev->max_speed_mm_s);
		break;
	case COMPILE_PUMP:
		if (rig_pump_is_stirrer(dev)) {
			if ((a->value < 0 || a->value > dev->max_rpm * (1 + COMPILE_LIMIT_SLACK)) &&
			    !compile_blamed(b, node))
				diag_error(d, node, "step %d runs stirrer '%s' at %.1f rpm, beyond its "
				    "max_rpm (%.1f rpm in the rig file)", s->seq, dev->name, a->value,
				    dev->max_rpm);
		} else if ((a->value < 0 || a->value > dev->max_flow_ml_min *
		    (1 + COMPILE_LIMIT_SLACK)) && !compile_blamed(b, node)) {
			diag_error(d, node, "step %d runs pump '%s' at %.3f mL/min, beyond its "
			    "max_flow (%.3f mL/min in the rig file)", s->seq, dev->name, a->value,
			    dev->max_flow_ml_min);
		}
		break;
	case COMPILE_LINE:
		if ((a->value < 0 || a->value > dev->max_line_speed_mm_s *
		    (1 + COMPILE_LIMIT_SLACK)) && !compile_blamed(b, node))
			diag_error(d, node, "step %d runs line "
			    "drive '%s' at %.3f mm/s, beyond its max_speed (%.3f mm/s in the rig "
			    "file)", s->seq, dev->name, a->value, dev->max_line_speed_mm_s);
		break;
	default:
		break;
	}
}

int
compile_check(const struct plan *plan, struct diag *d)
{
	struct compile_state state = { 0 };
	struct compile_list list = { 0 };
	struct compile_blame blame = { 0 }, blame_short = { 0 };
	int errors = d->errors, bus = -1;
	int64_t min_ms = COMPILE_MIN_STEP_MS;
	double transaction_ms = 0;
	char why[240];
	size_t i, k;

	/* the rig's own shortest step, from its buses' transaction times */
	if (plan->rig != NULL)
		min_ms = rig_min_step_ms(plan->rig, &bus, &transaction_ms);
	if (bus >= 0)
		snprintf(why, sizeof(why), "rig '%s' keeps no shorter: its bus '%s' (%s) takes "
		    "%.2f ms a transaction, and a step's %d transactions must fit in 1/%d of it",
		    plan->rig->name, plan->rig->buses[bus].name,
		    plan->rig->buses[bus].type == RIG_BUS_RTU ? "RTU" : "TCP", transaction_ms,
		    COMPILE_STEP_TRANSACTIONS, RUN_ABSORB_DIVISOR);
	else
		snprintf(why, sizeof(why), "each step's start is recorded before its first "
		    "command");
	for (i = 0; i < plan->count; i++) {
		const struct plan_step *s = &plan->steps[i];
		const struct conf_node *node = compile_node(plan, s);

		/*
		 * A timed step shorter than the executor can keep to runs late,
		 * and late adds up. A step of motion alone (a move, the final
		 * park: no dwell, no drip) ends when the axis arrives, not on a
		 * timer: it has no wait to absorb its commands, and its length
		 * is the rig's, not the recipe's to change.
		 */
		if (s->duration_ms > 0 && s->duration_ms < min_ms &&
		    (s->dwell_ms > 0 || s->drip_ms > 0) &&
		    !s->operator_wait && !compile_blamed(&blame_short, node))
			diag_error(d, node, "step %d lasts %lld ms; the shortest step that keeps its "
			    "deadline is %lld ms (%s)", s->seq, (long long)s->duration_ms,
			    (long long)min_ms, why);
		/*
		 * A spray or dry step without a drain ends in its dwell, which
		 * gives up half the share a drain does (RUN_DWELL_ABSORB_DIVISOR):
		 * on a rig whose bus sets the shortest step it keeps its deadline
		 * from twice that. Shorter, it runs and its successor starts late
		 * (not later and later: the next drain or wait takes it up), so
		 * the operator is told, not refused.
		 */
		else if (bus >= 0 && (s->kind == STEP_SPRAY || s->kind == STEP_DRY) &&
		    s->drip_ms == 0 && s->dwell_ms > 0 && !s->operator_wait &&
		    s->duration_ms < min_ms * RUN_DWELL_ABSORB_DIVISOR / RUN_ABSORB_DIVISOR &&
		    !compile_blamed(&blame_short, node))
			diag_warning(d, node, "step %d ends in its %s of %lld ms without a drain: on "
			    "this rig such a step keeps its deadline from %lld ms (%s; a last dwell "
			    "gives up half the share a drain does), so the step after it will start "
			    "late; give it a drain or make it longer", s->seq,
			    s->kind == STEP_SPRAY ? "spray" : "drying", (long long)s->dwell_ms,
			    (long long)(min_ms * RUN_DWELL_ABSORB_DIVISOR / RUN_ABSORB_DIVISOR), why);
		if (plan->rig == NULL)
			continue;
		if (compile_step(plan->recipe, plan->rig, s, &state, &list) == -1) {
			diag_error(d, NULL, "out of memory compiling step %d", s->seq);
			break;
		}
		for (k = 0; k < list.count; k++)
			if (list.actions[k].device >= 0)
				compile_check_action(plan, s, &list.actions[k], &blame, d);
	}
	if (blame.oom || blame_short.oom)
		diag_error(d, NULL, "out of memory checking the plan's limits");
	compile_list_free(&list);
	free(blame.nodes);
	free(blame_short.nodes);
	return d->errors == errors ? 0 : -1;
}
