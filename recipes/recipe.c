/*
 * Recipe parser and validator. The parser keeps going after an error so a
 * user sees every problem in one run, like a compiler.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recipe.h"

const char *const recipe_process_names[] = { "dip", "spray", "roll", NULL };
const char *const step_kind_names[] = { "dip", "rinse", "spray", "dry", "wait", "prompt",
	"measure", "set", "repeat", "bath", "replace", "move", NULL };

struct recipe_parser {
	struct diag *d;
	struct recipe *recipe;
	const struct rig *rig;		/* may be NULL */
	int64_t now;
};

static int recipe_parse_steps(struct recipe_parser *p, const struct conf_node *seq,
    const char *where, int depth, struct recipe_step **out, size_t *count);

int
recipe_solution_index(const struct recipe *recipe, const char *name)
{
	size_t i;

	for (i = 0; i < recipe->solution_count; i++)
		if (strcmp(recipe->solutions[i].name, name) == 0)
			return (int)i;
	return -1;
}

double
recipe_thickness_nm(const struct recipe_growth *g, int n)
{
	if (n <= 0)
		return 0;
	if (g->model == GROWTH_LINEAR)
		return g->nm_per_bilayer * n;
	if (g->linear_after > 0 && n > g->linear_after)
		return g->a_nm + g->b_nm * exp(g->k * g->linear_after) +
		    g->nm_per_bilayer * (n - g->linear_after);
	return g->a_nm + g->b_nm * exp(g->k * n);
}

int
recipe_bilayer_count(const struct recipe *r)
{
	int n;

	if (r->target_thickness_nm <= 0)
		return r->target_bilayers;
	for (n = 1; n < r->max_bilayers; n++)
		if (recipe_thickness_nm(&r->growth, n) >= r->target_thickness_nm)
			break;
	if (r->target_bilayers > 0 && r->target_bilayers < n)
		return r->target_bilayers;
	return n;
}

/* ---- header sections ---- */

static void
recipe_parse_substrate(struct recipe_parser *p, const struct conf_node *n)
{
	static const char *const keys[] = { "name", "area", "dragout", "description", NULL };
	struct recipe *r = p->recipe;

	if (n->type == CONF_SCALAR) {
		conf_string(p->d, n, "substrate", &r->substrate);
		return;
	}
	if (conf_check_map(p->d, n, "substrate", keys) == -1)
		return;
	conf_get_string(p->d, n, "name", CONF_REQUIRED, &r->substrate);
	conf_get_quantity(p->d, n, "area", CONF_POSITIVE, UNIT_AREA_CM2, &r->substrate_area_cm2);
	conf_get_quantity(p->d, n, "dragout", CONF_NONNEG, UNIT_VOLUME_ML, &r->dragout_ml);
}

static void
recipe_parse_target(struct recipe_parser *p, const struct conf_node *n)
{
	static const char *const keys[] = { "bilayers", "thickness", "max_bilayers", NULL };
	struct recipe *r = p->recipe;
	long value;
	int has_bilayers, has_thickness;

	r->target_node = n;
	if (conf_check_map(p->d, n, "target", keys) == -1)
		return;
	has_bilayers = conf_get_int(p->d, n, "bilayers", 0, 1, RECIPE_MAX_BILAYERS, &value);
	if (has_bilayers == 1)
		r->target_bilayers = (int)value;
	has_thickness = conf_get_quantity(p->d, n, "thickness", CONF_POSITIVE, UNIT_THICKNESS_NM,
	    &r->target_thickness_nm);
	if (conf_get_int(p->d, n, "max_bilayers", 0, 1, RECIPE_MAX_BILAYERS, &value) == 1) {
		r->max_bilayers = (int)value;
		if (has_thickness == 0)
			diag_error(p->d, conf_lookup(n, "max_bilayers"), "'max_bilayers' caps a "
			    "thickness target: it needs 'thickness'");
		if (has_bilayers == 1 && r->target_bilayers > r->max_bilayers)
			diag_error(p->d, conf_lookup(n, "bilayers"), "'bilayers': %d is more than "
			    "max_bilayers (%d)", r->target_bilayers, r->max_bilayers);
	}
	if (has_bilayers == 0 && has_thickness == 0)
		diag_error(p->d, n, "target needs 'bilayers', 'thickness' or both");
	if (has_thickness == 1 && has_bilayers == 0 && r->max_bilayers == 0)
		diag_error(p->d, n, "a thickness target needs a cap: add 'max_bilayers' (or "
		    "'bilayers')");
	if (r->max_bilayers == 0)
		r->max_bilayers = r->target_bilayers;
}

static void
recipe_parse_growth(struct recipe_parser *p, const struct conf_node *n)
{
	static const char *const keys[] = { "model", "per_bilayer", "a", "b", "k", "linear_after",
		NULL };
	static const char *const models[] = { "linear", "exponential", NULL };
	struct recipe_growth *g = &p->recipe->growth;
	int model = 0;
	long value;

	if (conf_check_map(p->d, n, "growth", keys) == -1)
		return;
	if (conf_get_enum(p->d, n, "model", CONF_REQUIRED, models, &model) != 1)
		return;
	g->model = model;
	if (g->model == GROWTH_LINEAR) {
		static const char *const exp_only[] = { "a", "b", "k", "linear_after", NULL };
		size_t i;
		conf_get_quantity(p->d, n, "per_bilayer", CONF_REQUIRED | CONF_POSITIVE,
		    UNIT_THICKNESS_NM, &g->nm_per_bilayer);
		for (i = 0; exp_only[i]; i++)
			if (conf_lookup(n, exp_only[i]))
				diag_error(p->d, conf_lookup(n, exp_only[i]), "'%s' belongs to the "
				    "exponential model; the linear model takes only 'per_bilayer'",
				    exp_only[i]);
		return;
	}
	conf_get_quantity(p->d, n, "a", CONF_REQUIRED, UNIT_THICKNESS_NM, &g->a_nm);
	conf_get_quantity(p->d, n, "b", CONF_REQUIRED | CONF_POSITIVE, UNIT_THICKNESS_NM, &g->b_nm);
	if (conf_get_number(p->d, n, "k", CONF_REQUIRED | CONF_POSITIVE, &g->k) == 1 && g->k > 5)
		diag_error(p->d, conf_lookup(n, "k"), "'k': %g per bilayer grows beyond any film; "
		    "expected at most 5", g->k);
	if (conf_get_int(p->d, n, "linear_after", 0, 1, RECIPE_MAX_BILAYERS, &value) == 1) {
		g->linear_after = (int)value;
		conf_get_quantity(p->d, n, "per_bilayer", CONF_REQUIRED | CONF_POSITIVE,
		    UNIT_THICKNESS_NM, &g->nm_per_bilayer);
	} else if (conf_lookup(n, "per_bilayer")) {
		diag_error(p->d, conf_lookup(n, "per_bilayer"), "'per_bilayer' in the exponential "
		    "model is the linear growth after 'linear_after' bilayers: add 'linear_after'");
	}
}

/* Parses "2026-11-24", "2026-11-24T08:00[:00][Z]" or "2026-11-24 08:00". */
static int
recipe_parse_time(const char *text, int64_t *out)
{
	static const char *const formats[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
		"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", NULL };
	struct tm tm;
	size_t i;

	for (i = 0; formats[i]; i++) {
		const char *end;
		memset(&tm, 0, sizeof(tm));
		end = strptime(text, formats[i], &tm);
		if (end == NULL)
			continue;
		if (strcmp(end, "Z") == 0) {
			*out = timegm(&tm);
			return 0;
		}
		if (*end == '\0') {
			tm.tm_isdst = -1;
			*out = mktime(&tm);
			return *out == -1 ? -1 : 0;
		}
	}
	return -1;
}

static void
recipe_parse_change_after(struct recipe_parser *p, struct recipe_solution *s,
    const struct conf_node *n)
{
	static const char *const keys[] = { "dips", "area", "cycles", NULL };
	long value;

	if (conf_check_map(p->d, n, "change_after", keys) == -1)
		return;
	if (conf_get_int(p->d, n, "dips", 0, 1, 1000000, &value) == 1)
		s->change_after_dips = (int)value;
	conf_get_quantity(p->d, n, "area", CONF_POSITIVE, UNIT_AREA_CM2, &s->change_after_area_cm2);
	if (conf_get_int(p->d, n, "cycles", 0, 1, RECIPE_MAX_BILAYERS, &value) == 1)
		s->change_after_cycles = (int)value;
	if (n->count == 0)
		diag_error(p->d, n, "change_after needs 'dips', 'area' or 'cycles'");
}

static void
recipe_check_solution_rig(struct recipe_parser *p, struct recipe_solution *s)
{
	const struct rig *rig = p->rig;
	int i;

	if (s->station != NULL) {
		i = rig_station_index(rig, s->station);
		if (i == -1) {
			diag_error(p->d, conf_lookup(s->node, "station"), "'station': the rig has no "
			    "station named '%s'", s->station);
			return;
		}
		if (rig->stations[i].kind == RIG_ST_PARK || rig->stations[i].kind == RIG_ST_DRYER ||
		    rig->stations[i].kind == RIG_ST_SPRAY)
			diag_error(p->d, conf_lookup(s->node, "station"), "'station': '%s' is a %s "
			    "station, not a bath", s->station,
			    rig_station_kind_names[rig->stations[i].kind]);
		if (!isnan(s->volume_ml) && !isnan(rig->stations[i].volume_ml) &&
		    s->volume_ml > rig->stations[i].volume_ml)
			diag_error(p->d, conf_lookup(s->node, "volume"), "'volume': %.0f mL does not "
			    "fit station '%s' (%.0f mL)", s->volume_ml, s->station,
			    rig->stations[i].volume_ml);
	}
	if (s->nozzle != NULL && rig_nozzle_index(rig, s->nozzle) == -1)
		diag_error(p->d, conf_lookup(s->node, "nozzle"), "'nozzle': the rig has no nozzle "
		    "named '%s'", s->nozzle);
}

static void
recipe_parse_solution(struct recipe_parser *p, struct recipe_solution *s,
    const struct conf_node *n)
{
	static const char *const keys[] = { "station", "nozzle", "rinse", "chemistry",
		"concentration", "solvent", "ph", "volume", "prepared_at", "shelf_life", "lot",
		"change_after", "top_up", "description", NULL };
	const struct recipe *r = p->recipe;
	const struct conf_node *node;
	const char *text;

	s->node = n;
	s->ph = NAN;
	s->volume_ml = NAN;
	s->prepared_at = -1;
	if (conf_check_map(p->d, n, "solution", keys) == -1)
		return;
	conf_get_string(p->d, n, "station", 0, &s->station);
	conf_get_string(p->d, n, "nozzle", 0, &s->nozzle);
	if (r->process == PROCESS_SPRAY && s->nozzle == NULL && !conf_lookup(n, "nozzle"))
		diag_error(p->d, n, "solution '%s' needs a 'nozzle' in a spray recipe", s->name);
	if (r->process != PROCESS_SPRAY && s->station == NULL && !conf_lookup(n, "station"))
		diag_error(p->d, n, "solution '%s' needs a 'station' (its bath on the rig)", s->name);
	if (r->process != PROCESS_SPRAY && s->nozzle != NULL)
		diag_error(p->d, conf_lookup(n, "nozzle"), "'nozzle' is for spray recipes; this "
		    "is a %s recipe", recipe_process_names[r->process]);
	conf_get_bool(p->d, n, "rinse", 0, &s->is_rinse);
	conf_get_string(p->d, n, "chemistry", 0, &s->chemistry);
	conf_get_string(p->d, n, "concentration", 0, &s->concentration);
	conf_get_string(p->d, n, "solvent", 0, &s->solvent);
	conf_get_string(p->d, n, "lot", 0, &s->lot);
	if (conf_get_number(p->d, n, "ph", 0, &s->ph) == 1 && (s->ph < 0 || s->ph > 14))
		diag_error(p->d, conf_lookup(n, "ph"), "'ph': expected 0 to 14");
	conf_get_quantity(p->d, n, "volume", CONF_POSITIVE, UNIT_VOLUME_ML, &s->volume_ml);
	if (conf_get_string(p->d, n, "prepared_at", 0, &text) == 1 &&
	    recipe_parse_time(text, &s->prepared_at) == -1)
		diag_error(p->d, conf_lookup(n, "prepared_at"), "'prepared_at': expected a date and "
		    "time such as 2026-11-24T08:30 (local) or 2026-11-24T08:30:00Z (UTC)");
	conf_get_duration(p->d, n, "shelf_life", 0, &s->shelf_life_ms);
	if (s->prepared_at != -1 && s->shelf_life_ms > 0 &&
	    s->prepared_at + s->shelf_life_ms / 1000 <= p->now)
		diag_error(p->d, conf_lookup(n, "shelf_life"), "solution '%s' is past its shelf "
		    "life: prepare a fresh one and update 'prepared_at'", s->name);
	if (s->prepared_at != -1 && s->prepared_at > p->now + 300)
		diag_error(p->d, conf_lookup(n, "prepared_at"), "'prepared_at' is in the future");
	if (conf_get_node(p->d, n, "change_after", 0, CONF_MAP, NULL, &node) == 1)
		recipe_parse_change_after(p, s, node);
	if (conf_get_quantity(p->d, n, "top_up", CONF_POSITIVE, UNIT_FLOW_ML_MIN,
	    &s->top_up_ml_min) == 1 && r->process != PROCESS_ROLL)
		diag_error(p->d, conf_lookup(n, "top_up"), "'top_up' is for roll-to-roll baths");
	if (p->rig != NULL)
		recipe_check_solution_rig(p, s);
}

static void
recipe_parse_solutions(struct recipe_parser *p, const struct conf_node *n)
{
	struct recipe *r = p->recipe;
	size_t i;

	if (conf_check_map(p->d, n, "solutions", NULL) == -1)
		return;
	r->solutions = conf_alloc(r->doc, (n->count + 1) * sizeof(*r->solutions));
	r->solution_count = n->count;
	for (i = 0; i < n->count; i++)
		r->solutions[i].name = n->items[2 * i]->text;
	for (i = 0; i < n->count; i++)
		recipe_parse_solution(p, &r->solutions[i], n->items[2 * i + 1]);
	if (n->count == 0)
		diag_error(p->d, n, "a recipe needs at least two solutions");
	if (n->count > RECIPE_MAX_SOLUTIONS)
		diag_error(p->d, n->items[2 * RECIPE_MAX_SOLUTIONS], "'%s' is solution %d of %zu: "
		    "a recipe may have at most %d (a rig has a few dozen baths and nozzles)",
		    n->items[2 * RECIPE_MAX_SOLUTIONS]->text, RECIPE_MAX_SOLUTIONS + 1, n->count,
		    RECIPE_MAX_SOLUTIONS);
}

/* ---- steps ---- */

/* Looks up a solution named by key; reports unknown names. Returns the index or -1. */
static int
recipe_solution_ref(struct recipe_parser *p, const struct conf_node *n, const char *key,
    unsigned flags)
{
	const char *name;
	int i;

	if (conf_get_string(p->d, n, key, flags, &name) != 1)
		return -1;
	i = recipe_solution_index(p->recipe, name);
	if (i == -1)
		diag_error(p->d, conf_lookup(n, key), "'%s': no solution named '%s' in solutions",
		    key, name);
	return i;
}

static const struct rig_device *
recipe_rig_device(struct recipe_parser *p, const struct conf_node *map, const char *key,
    unsigned roles)
{
	const char *name;
	int i;

	if (p->rig == NULL || conf_get_string(p->d, map, key, 0, &name) != 1)
		return NULL;
	i = rig_device_index(p->rig, name);
	if (i == -1) {
		diag_error(p->d, conf_lookup(map, key), "'%s': the rig has no device named '%s'",
		    key, name);
		return NULL;
	}
	if (!(roles & (1u << p->rig->devices[i].role))) {
		diag_error(p->d, conf_lookup(map, key), "'%s': device '%s' is a %s, which cannot "
		    "do this", key, name, rig_role_names[p->rig->devices[i].role]);
		return NULL;
	}
	return &p->rig->devices[i];
}

/* Immersion parameters shared by dip and rinse. */
static void
recipe_parse_immersion(struct recipe_parser *p, struct recipe_step *s, const struct conf_node *n)
{
	conf_get_quantity(p->d, n, "speed_in", CONF_POSITIVE, UNIT_SPEED_MM_S, &s->speed_in_mm_s);
	conf_get_quantity(p->d, n, "speed_out", CONF_POSITIVE, UNIT_SPEED_MM_S, &s->speed_out_mm_s);
	conf_get_quantity(p->d, n, "depth", CONF_POSITIVE, UNIT_LENGTH_MM, &s->depth_mm);
	conf_get_duration(p->d, n, "drip", 0, &s->drip_ms);
	if (p->rig != NULL && p->rig->lift != -1) {
		const struct rig_device *lift = &p->rig->devices[p->rig->lift];
		if (s->speed_in_mm_s > lift->max_speed_mm_s)
			diag_error(p->d, conf_lookup(n, "speed_in"), "'speed_in': %.1f mm/s is "
			    "faster than the lift's max_speed (%.1f mm/s)", s->speed_in_mm_s,
			    lift->max_speed_mm_s);
		if (s->speed_out_mm_s > lift->max_speed_mm_s)
			diag_error(p->d, conf_lookup(n, "speed_out"), "'speed_out': %.1f mm/s is "
			    "faster than the lift's max_speed (%.1f mm/s)", s->speed_out_mm_s,
			    lift->max_speed_mm_s);
	}
}

/* Checks an immersion depth at a solution's station against the rig. */
static void
recipe_check_depth(struct recipe_parser *p, const struct recipe_step *s, int solution,
    const struct conf_node *n)
{
	const struct recipe_solution *sol;
	int st;

	if (p->rig == NULL || solution < 0 || s->depth_mm <= 0)
		return;
	sol = &p->recipe->solutions[solution];
	if (sol->station == NULL || (st = rig_station_index(p->rig, sol->station)) == -1)
		return;
	if (s->depth_mm > p->rig->stations[st].max_depth_mm)
		diag_error(p->d, conf_lookup(n, "depth") ? conf_lookup(n, "depth") : n,
		    "'depth': %.1f mm is deeper than station '%s' allows (max_depth %.1f mm)",
		    s->depth_mm, sol->station, p->rig->stations[st].max_depth_mm);
}

static void
recipe_parse_rinse_bath(struct recipe_parser *p, struct recipe_rinse_bath *b,
    const struct conf_node *n)
{
	static const char *const keys[] = { "solution", "dwell", "quick_dips", NULL };
	long value;

	b->node = n;
	b->solution = -1;
	if (conf_check_map(p->d, n, "rinse bath", keys) == -1)
		return;
	b->solution = recipe_solution_ref(p, n, "solution", CONF_REQUIRED);
	conf_get_duration(p->d, n, "dwell", CONF_REQUIRED, &b->dwell_ms);
	if (conf_get_int(p->d, n, "quick_dips", 0, 1, RECIPE_MAX_QUICK_DIPS, &value) == 1)
		b->quick_dips = (int)value;
	if (b->solution >= 0 && !p->recipe->solutions[b->solution].is_rinse)
		diag_error(p->d, conf_lookup(n, "solution"), "'solution': '%s' is not a rinse "
		    "(mark it 'rinse: true' in solutions if it is one)",
		    p->recipe->solutions[b->solution].name);
}

static void
recipe_parse_rinse(struct recipe_parser *p, struct recipe_step *s, const struct conf_node *n,
    int is_override)
{
	const struct conf_node *baths;
	size_t i;

	if (conf_get_node(p->d, n, "baths", 0, CONF_SEQ, "rinse baths", &baths) == 1) {
		if (conf_lookup(n, "solution") || conf_lookup(n, "dwell") ||
		    conf_lookup(n, "quick_dips"))
			diag_error(p->d, n, "a rinse takes either 'baths' or 'solution' with 'dwell', "
			    "not both");
		if (baths->count == 0)
			diag_error(p->d, baths, "'baths': expected at least one bath");
		s->baths = conf_alloc(p->recipe->doc, (baths->count + 1) * sizeof(*s->baths));
		s->bath_count = baths->count;
		for (i = 0; i < baths->count; i++)
			recipe_parse_rinse_bath(p, &s->baths[i], baths->items[i]);
	} else if (!conf_lookup(n, "baths") && (!is_override || conf_lookup(n, "solution") ||
	    conf_lookup(n, "dwell") || conf_lookup(n, "quick_dips"))) {
		struct recipe_rinse_bath *b = conf_alloc(p->recipe->doc, sizeof(*b));
		long value;
		if (is_override && s->bath_count == 1)
			*b = s->baths[0];
		else
			b->solution = -1;
		b->node = n;
		if (!is_override || conf_lookup(n, "solution"))
			b->solution = recipe_solution_ref(p, n, "solution", CONF_REQUIRED);
		if (p->recipe->process == PROCESS_ROLL) {
			conf_get_quantity(p->d, n, "path", 0, UNIT_LENGTH_MM, &s->path_mm);
		} else {
			conf_get_duration(p->d, n, "dwell", is_override ? 0 : CONF_REQUIRED,
			    &b->dwell_ms);
			if (conf_get_int(p->d, n, "quick_dips", 0, 1, RECIPE_MAX_QUICK_DIPS,
			    &value) == 1)
				b->quick_dips = (int)value;
		}
		if (b->solution >= 0 && !p->recipe->solutions[b->solution].is_rinse)
			diag_error(p->d, conf_lookup(n, "solution"), "'solution': '%s' is not a "
			    "rinse (mark it 'rinse: true' in solutions if it is one)",
			    p->recipe->solutions[b->solution].name);
		s->baths = b;
		s->bath_count = 1;
	}
	for (i = 0; i < s->bath_count; i++)
		recipe_check_depth(p, s, s->baths[i].solution, n);
}

static void
recipe_parse_spray(struct recipe_parser *p, struct recipe_step *s, const struct conf_node *n,
    int is_override)
{
	const struct conf_node *list;
	size_t i;

	if (conf_get_node(p->d, n, "solutions", 0, CONF_SEQ, "solutions sprayed together",
	    &list) == 1) {
		if (conf_lookup(n, "solution"))
			diag_error(p->d, conf_lookup(n, "solution"), "give 'solution' (one channel) "
			    "or 'solutions' (sprayed together), not both");
		if (list->count < 2 || list->count > 4)
			diag_error(p->d, list, "'solutions': expected 2 to 4 solutions sprayed "
			    "together");
		s->spray_count = 0;
		for (i = 0; i < list->count && i < 4; i++) {
			const char *name;
			if (conf_string(p->d, list->items[i], "solutions", &name) == -1)
				continue;
			s->spray_solutions[s->spray_count] = recipe_solution_index(p->recipe, name);
			if (s->spray_solutions[s->spray_count] == -1)
				diag_error(p->d, list->items[i], "no solution named '%s' in solutions",
				    name);
			s->spray_count++;
		}
		s->solution = s->spray_solutions[0];
	} else if (!is_override || conf_lookup(n, "solution")) {
		s->solution = recipe_solution_ref(p, n, "solution", CONF_REQUIRED);
		s->spray_solutions[0] = s->solution;
		s->spray_count = 1;
	}
	conf_get_duration(p->d, n, "time", is_override ? 0 : CONF_REQUIRED, &s->dwell_ms);
	conf_get_quantity(p->d, n, "flow", CONF_POSITIVE, UNIT_FLOW_ML_MIN, &s->flow_ml_min);
	conf_get_duration(p->d, n, "drain", 0, &s->drain_ms);
	if (p->rig == NULL)
		return;
	for (i = 0; i < (size_t)s->spray_count; i++) {
		const struct recipe_solution *sol;
		int nz;
		if (s->spray_solutions[i] < 0)
			continue;
		sol = &p->recipe->solutions[s->spray_solutions[i]];
		if (sol->nozzle == NULL || (nz = rig_nozzle_index(p->rig, sol->nozzle)) == -1)
			continue;
		if (s->flow_ml_min > 0 && p->rig->nozzles[nz].pump == -1)
			diag_error(p->d, conf_lookup(n, "flow"), "'flow': nozzle '%s' has no pump, "
			    "so its flow cannot be set", sol->nozzle);
		else if (s->flow_ml_min > 0 && s->flow_ml_min >
		    p->rig->devices[p->rig->nozzles[nz].pump].max_flow_ml_min)
			diag_error(p->d, conf_lookup(n, "flow"), "'flow': %.1f mL/min is more than "
			    "pump '%s' delivers (max_flow %.1f mL/min)", s->flow_ml_min,
			    p->rig->devices[p->rig->nozzles[nz].pump].name,
			    p->rig->devices[p->rig->nozzles[nz].pump].max_flow_ml_min);
	}
}

static void
recipe_parse_dry(struct recipe_parser *p, struct recipe_step *s, const struct conf_node *n,
    int is_override)
{
	int has_time, has_slow;

	conf_get_string(p->d, n, "valve", 0, &s->valve);
	conf_get_string(p->d, n, "station", 0, &s->station);
	has_time = conf_get_duration(p->d, n, "time", 0, &s->dwell_ms);
	has_slow = conf_get_quantity(p->d, n, "slow_withdrawal", CONF_POSITIVE, UNIT_SPEED_MM_S,
	    &s->slow_withdrawal_mm_s);
	if (p->recipe->process == PROCESS_ROLL) {
		conf_get_quantity(p->d, n, "path", CONF_POSITIVE, UNIT_LENGTH_MM, &s->path_mm);
		if (s->station == NULL && !is_override && !conf_lookup(n, "station"))
			diag_error(p->d, n, "a roll-to-roll dry step needs the 'station' (air knife "
			    "or dryer) the web runs through");
	} else if (!is_override && has_time == 0 && has_slow == 0) {
		diag_error(p->d, n, "dry needs a 'time' (air or N2 flow) or a 'slow_withdrawal' "
		    "speed");
	}
	if (has_slow == 1 && (s->valve || s->station))
		diag_error(p->d, conf_lookup(n, "slow_withdrawal"), "'slow_withdrawal' dries as the "
		    "substrate leaves the last bath; it takes no 'valve' or 'station'");
	if (has_time == 1 && has_slow == 0 && s->valve == NULL && s->station == NULL &&
	    p->recipe->process != PROCESS_ROLL)
		diag_error(p->d, n, "dry by 'time' needs a 'valve' (air or N2) or a 'station' "
		    "(dryer)");
	recipe_rig_device(p, n, "valve", 1u << RIG_VALVE);
	if (p->rig != NULL && s->station != NULL && rig_station_index(p->rig, s->station) == -1)
		diag_error(p->d, conf_lookup(n, "station"), "'station': the rig has no station "
		    "named '%s'", s->station);
	if (p->rig != NULL && has_slow == 1 && p->rig->lift != -1 &&
	    s->slow_withdrawal_mm_s > p->rig->devices[p->rig->lift].max_speed_mm_s)
		diag_error(p->d, conf_lookup(n, "slow_withdrawal"), "'slow_withdrawal' is faster "
		    "than the lift's max_speed");
}

static void
recipe_parse_measure(struct recipe_parser *p, struct recipe_step *s, const struct conf_node *n)
{
	static const char *const methods[] = { "sauerbrey", "gauge", "absorbance", NULL };
	static const char *const sensor_kinds[] = { "qcm", "thickness", "absorbance" };
	const struct rig_device *dev;
	int method = 0;

	conf_get_string(p->d, n, "sensor", CONF_REQUIRED, &s->sensor);
	if (conf_get_enum(p->d, n, "method", CONF_REQUIRED, methods, &method) == 1)
		s->method = method;
	conf_get_duration(p->d, n, "settle", 0, &s->dwell_ms);
	conf_get_bool(p->d, n, "stop_at_target", 0, &s->stop_at_target);
	conf_get_bool(p->d, n, "baseline", 0, &s->baseline);
	if (s->baseline && s->method != MEASURE_SAUERBREY)
		diag_error(p->d, conf_lookup(n, "baseline"), "'baseline' is for the sauerbrey "
		    "method (the bare crystal's frequency)");
	if (s->baseline && s->stop_at_target)
		diag_error(p->d, conf_lookup(n, "stop_at_target"), "a baseline measures the bare "
		    "crystal, no film: it has no thickness to stop at");
	/* a baseline reads the bare crystal: there is no film whose density matters */
	if (s->method == MEASURE_SAUERBREY)
		conf_get_quantity(p->d, n, "film_density", (s->baseline ? 0 : CONF_REQUIRED) |
		    CONF_POSITIVE, UNIT_DENSITY_G_CM3, &s->film_density_g_cm3);
	else if (conf_lookup(n, "film_density"))
		diag_error(p->d, conf_lookup(n, "film_density"), "'film_density' is for the "
		    "sauerbrey method");
	if (s->method == MEASURE_ABSORBANCE) {
		const struct conf_node *cal = conf_lookup(n, "nm_per_absorbance");
		conf_get_number(p->d, n, "nm_per_absorbance", CONF_REQUIRED | CONF_POSITIVE,
		    &s->nm_per_absorbance);
		(void)cal;
	} else if (conf_lookup(n, "nm_per_absorbance")) {
		diag_error(p->d, conf_lookup(n, "nm_per_absorbance"), "'nm_per_absorbance' is for "
		    "the absorbance method");
	}
	if (s->stop_at_target && p->recipe->target_thickness_nm <= 0)
		diag_error(p->d, conf_lookup(n, "stop_at_target"), "'stop_at_target' needs a "
		    "'thickness' in target");
	dev = recipe_rig_device(p, n, "sensor", 1u << RIG_SENSOR);
	if (dev != NULL && strcmp(dev->kind, sensor_kinds[s->method]) != 0)
		diag_error(p->d, conf_lookup(n, "method"), "'method': %s needs a %s sensor, but "
		    "'%s' is a %s sensor", methods[s->method], sensor_kinds[s->method], dev->name,
		    dev->kind);
}

static void
recipe_parse_set(struct recipe_parser *p, struct recipe_step *s, const struct conf_node *n)
{
	const struct conf_node *v;

	conf_get_string(p->d, n, "output", CONF_REQUIRED, &s->output);
	v = conf_lookup(n, "value");
	if (v == NULL) {
		diag_error(p->d, n, "missing required key 'value' (expected on, off or a flow)");
	} else if (v->type == CONF_SCALAR && (strcmp(v->text, "on") == 0 ||
	    strcmp(v->text, "true") == 0)) {
		s->value = 1;
	} else if (v->type == CONF_SCALAR && (strcmp(v->text, "off") == 0 ||
	    strcmp(v->text, "false") == 0)) {
		s->value = 0;
	} else {
		conf_quantity(p->d, v, "value", CONF_NONNEG, UNIT_FLOW_ML_MIN, &s->value);
	}
	recipe_rig_device(p, n, "output", 1u << RIG_VALVE | 1u << RIG_PUMP);
}

/* The keys each step kind accepts, "first_cycle" included where it applies. */
static const char *const *
recipe_step_keys(enum step_kind kind, enum recipe_process process)
{
	static const char *const dip[] = { "solution", "dwell", "speed_in", "speed_out", "depth",
		"agitation", "drip", "first_cycle", NULL };
	static const char *const rinse[] = { "solution", "dwell", "quick_dips", "baths",
		"speed_in", "speed_out", "depth", "agitation", "drip", "first_cycle", NULL };
	static const char *const roll_rinse[] = { "solution", "path", NULL };
	static const char *const spray[] = { "solution", "solutions", "time", "flow", "drain",
		"first_cycle", NULL };
	static const char *const dry[] = { "valve", "station", "time", "slow_withdrawal",
		"first_cycle", NULL };
	static const char *const roll_dry[] = { "valve", "station", "path", "time", NULL };
	static const char *const wait[] = { "time", "first_cycle", NULL };
	static const char *const prompt[] = { "message", NULL };
	static const char *const measure[] = { "sensor", "method", "settle", "film_density",
		"nm_per_absorbance", "stop_at_target", "baseline", NULL };
	static const char *const set[] = { "output", "value", NULL };
	static const char *const repeat[] = { "times", "steps", NULL };
	static const char *const bath[] = { "solution", "path", NULL };

	switch (kind) {
	case STEP_DIP: return dip;
	case STEP_RINSE: return process == PROCESS_ROLL ? roll_rinse : rinse;
	case STEP_SPRAY: return spray;
	case STEP_DRY: return process == PROCESS_ROLL ? roll_dry : dry;
	case STEP_WAIT: return wait;
	case STEP_PROMPT: return prompt;
	case STEP_MEASURE: return measure;
	case STEP_SET: return set;
	case STEP_REPEAT: return repeat;
	case STEP_BATH: return bath;
	default: return NULL;
	}
}

/* Which step kinds each process can run. */
static int
recipe_kind_allowed(enum recipe_process process, enum step_kind kind)
{
	static const unsigned allowed[] = {
		[PROCESS_DIP] = 1u << STEP_DIP | 1u << STEP_RINSE | 1u << STEP_DRY |
		    1u << STEP_WAIT | 1u << STEP_PROMPT | 1u << STEP_MEASURE | 1u << STEP_SET |
		    1u << STEP_REPEAT,
		[PROCESS_SPRAY] = 1u << STEP_SPRAY | 1u << STEP_DRY | 1u << STEP_WAIT |
		    1u << STEP_PROMPT | 1u << STEP_MEASURE | 1u << STEP_SET | 1u << STEP_REPEAT,
		[PROCESS_ROLL] = 1u << STEP_BATH | 1u << STEP_RINSE | 1u << STEP_DRY |
		    1u << STEP_PROMPT | 1u << STEP_MEASURE | 1u << STEP_SET,
	};
	return (allowed[process] >> kind) & 1;
}

/*
 * A dip's or rinse's agitation (rpm), for the stirrer of solution sol's
 * station; a station without one is an error at the key. Its limit, the
 * stirrer's max_rpm, is checked with the plan (compile_check).
 */
static void
recipe_parse_agitation(struct recipe_parser *p, struct recipe_step *s, const struct conf_node *n,
    int sol)
{
	const struct recipe *r = p->recipe;
	double rpm;
	int st;

	if (conf_get_quantity(p->d, n, "agitation", CONF_POSITIVE, UNIT_ROTATION_RPM, &rpm) != 1)
		return;
	s->agitation_rpm = rpm;
	if (p->rig == NULL || sol < 0 || r->solutions[sol].station == NULL)
		return;
	st = rig_station_index(p->rig, r->solutions[sol].station);
	if (st != -1 && p->rig->stations[st].stirrer == -1)
		diag_error(p->d, conf_lookup(n, "agitation"), "'agitation': station '%s' has no "
		    "stirrer", r->solutions[sol].station);
}

/*
 * Fills the fields of step s from map n. With is_override (a first_cycle
 * block), only the keys given change and none is required.
 */
static void
recipe_parse_step_fields(struct recipe_parser *p, struct recipe_step *s,
    const struct conf_node *n, int is_override, int depth)
{
	const struct recipe *r = p->recipe;

	switch (s->kind) {
	case STEP_DIP:
		if (!is_override || conf_lookup(n, "solution"))
			s->solution = recipe_solution_ref(p, n, "solution", CONF_REQUIRED);
		conf_get_duration(p->d, n, "dwell", is_override ? 0 : CONF_REQUIRED, &s->dwell_ms);
		recipe_parse_immersion(p, s, n);
		recipe_parse_agitation(p, s, n, s->solution);
		if (s->solution >= 0 && r->solutions[s->solution].is_rinse)
			diag_warning(p->d, n, "dip into rinse '%s': use a rinse step so carry-over "
			    "is tracked", r->solutions[s->solution].name);
		recipe_check_depth(p, s, s->solution, n);
		break;
	case STEP_RINSE:
		recipe_parse_immersion(p, s, n);
		recipe_parse_rinse(p, s, n, is_override);
		for (size_t i = 0; i < s->bath_count; i++)
			recipe_parse_agitation(p, s, n, s->baths[i].solution);
		break;
	case STEP_BATH:
		s->solution = recipe_solution_ref(p, n, "solution", CONF_REQUIRED);
		conf_get_quantity(p->d, n, "path", CONF_POSITIVE, UNIT_LENGTH_MM, &s->path_mm);
		break;
	case STEP_SPRAY:
		recipe_parse_spray(p, s, n, is_override);
		break;
	case STEP_DRY:
		recipe_parse_dry(p, s, n, is_override);
		break;
	case STEP_WAIT:
		conf_get_duration(p->d, n, "time", is_override ? 0 : CONF_REQUIRED, &s->dwell_ms);
		break;
	case STEP_PROMPT:
		/* shown and recorded whole: a longer one is refused, never cut */
		if (conf_get_string(p->d, n, "message", CONF_REQUIRED, &s->message) == 1 &&
		    s->message != NULL && strlen(s->message) > RECIPE_MAX_PROMPT_BYTES)
			diag_error(p->d, conf_lookup(n, "message"), "'message': %zu bytes; a "
			    "prompt's text may have %d bytes at most (RECIPE_MAX_PROMPT_BYTES)",
			    strlen(s->message), RECIPE_MAX_PROMPT_BYTES);
		break;
	case STEP_MEASURE:
		recipe_parse_measure(p, s, n);
		break;
	case STEP_SET:
		recipe_parse_set(p, s, n);
		break;
	case STEP_REPEAT: {
		const struct conf_node *steps;
		long times;
		if (conf_get_int(p->d, n, "times", CONF_REQUIRED, 1, RECIPE_MAX_REPEAT, &times) == 1)
			s->times = (int)times;
		s->times_node = conf_lookup(n, "times");
		if (conf_get_node(p->d, n, "steps", CONF_REQUIRED, CONF_SEQ, "steps", &steps) == 1)
			recipe_parse_steps(p, steps, "repeat", depth + 1, &s->steps, &s->step_count);
		break;
	}
	default:
		break;
	}
}

static void
recipe_parse_step(struct recipe_parser *p, struct recipe_step *s, const struct conf_node *n,
    const char *where, int depth)
{
	const struct conf_node *key, *body, *first;
	struct conf_node *shorthand_map;
	int kind;

	s->node = n;
	s->solution = -1;
	if (n->type != CONF_MAP || n->count != 1) {
		if (n->type == CONF_MAP && n->count > 1)
			diag_error(p->d, n->items[2], "a step is one key naming its kind (dip, rinse, "
			    "...) with its fields indented below it; '%s' is at the same level as "
			    "'%s': indent it further", n->items[2]->text, n->items[0]->text);
		else
			diag_error(p->d, n, "expected a step such as '- dip: {solution: a, dwell: "
			    "5min}'");
		s->kind = STEP_WAIT;
		return;
	}
	key = n->items[0];
	body = n->items[1];
	for (kind = 0; kind < STEP_REPLACE; kind++)
		if (strcmp(step_kind_names[kind], key->text) == 0)
			break;
	if (kind == STEP_REPLACE) {
		diag_error(p->d, key, "unknown step '%s': expected dip, rinse, spray, dry, wait, "
		    "prompt, measure, set, repeat or bath", key->text);
		s->kind = STEP_WAIT;
		return;
	}
	s->kind = kind;
	s->node = key;
	if (!recipe_kind_allowed(p->recipe->process, s->kind)) {
		diag_error(p->d, key, "a %s step cannot run in a %s recipe", key->text,
		    recipe_process_names[p->recipe->process]);
		return;
	}
	/* shorthands: "- wait: 30s" and "- prompt: Load the substrate" */
	if (body->type == CONF_SCALAR && (s->kind == STEP_WAIT || s->kind == STEP_PROMPT) &&
	    body->text[0] != '\0') {
		shorthand_map = conf_alloc(p->recipe->doc, sizeof(*shorthand_map));
		shorthand_map->type = CONF_MAP;
		shorthand_map->line = body->line;
		shorthand_map->col = body->col;
		shorthand_map->count = 1;
		shorthand_map->items = conf_alloc(p->recipe->doc, 2 * sizeof(struct conf_node *));
		shorthand_map->items[0] = conf_alloc(p->recipe->doc, sizeof(struct conf_node));
		shorthand_map->items[0]->type = CONF_SCALAR;
		shorthand_map->items[0]->text = s->kind == STEP_WAIT ? "time" : "message";
		shorthand_map->items[0]->line = body->line;
		shorthand_map->items[0]->col = body->col;
		shorthand_map->items[1] = (struct conf_node *)body;
		body = shorthand_map;
	}
	if (body->type != CONF_MAP) {
		diag_error(p->d, body->text && body->text[0] ? body : key, "'%s': expected the "
		    "step's fields as a mapping, e.g. '%s: {%s}'", key->text, key->text,
		    s->kind == STEP_DIP ? "solution: a, dwell: 5min" : "...");
		return;
	}
	if (conf_check_map(p->d, body, key->text, recipe_step_keys(s->kind,
	    p->recipe->process)) == -1)
		return;
	recipe_parse_step_fields(p, s, body, 0, depth);
	if ((first = conf_lookup(body, "first_cycle")) != NULL) {
		if (strcmp(where, "cycle") != 0) {
			diag_error(p->d, first, "'first_cycle' overrides apply to steps of the cycle "
			    "only, not of %s", where);
			return;
		}
		if (conf_check_map(p->d, first, "first_cycle", recipe_step_keys(s->kind,
		    p->recipe->process)) == -1)
			return;
		if (conf_lookup(first, "first_cycle")) {
			diag_error(p->d, conf_lookup(first, "first_cycle"), "'first_cycle' cannot "
			    "be nested");
			return;
		}
		s->first = conf_alloc(p->recipe->doc, sizeof(*s->first));
		*s->first = *s;
		s->first->first = NULL;
		recipe_parse_step_fields(p, s->first, first, 1, depth);
	}
}

static int
recipe_parse_steps(struct recipe_parser *p, const struct conf_node *seq, const char *where,
    int depth, struct recipe_step **out, size_t *count)
{
	size_t i;

	if (depth > RECIPE_MAX_NESTING) {
		diag_error(p->d, seq, "repeat blocks nested deeper than %d levels",
		    RECIPE_MAX_NESTING);
		return -1;
	}
	if (seq->count == 0)
		diag_error(p->d, seq, "'%s': expected at least one step", where);
	*out = conf_alloc(p->recipe->doc, (seq->count + 1) * sizeof(**out));
	*count = seq->count;
	for (i = 0; i < seq->count; i++)
		recipe_parse_step(p, &(*out)[i], seq->items[i], where, depth);
	return 0;
}

static void
recipe_parse_checkpoints(struct recipe_parser *p, const struct conf_node *seq)
{
	static const char *const keys[] = { "bilayers", "do", NULL };
	struct recipe *r = p->recipe;
	size_t i;

	r->checkpoints = conf_alloc(r->doc, (seq->count + 1) * sizeof(*r->checkpoints));
	r->checkpoint_count = seq->count;
	for (i = 0; i < seq->count; i++) {
		struct recipe_checkpoint *c = &r->checkpoints[i];
		const struct conf_node *n = seq->items[i], *steps;
		long every;
		size_t j;

		c->node = n;
		if (conf_check_map(p->d, n, "every", keys) == -1)
			continue;
		if (conf_get_int(p->d, n, "bilayers", CONF_REQUIRED, 1, RECIPE_MAX_BILAYERS,
		    &every) == 1)
			c->every_bilayers = (int)every;
		if (conf_get_node(p->d, n, "do", CONF_REQUIRED, CONF_SEQ, "steps", &steps) != 1)
			continue;
		recipe_parse_steps(p, steps, "every", 1, &c->steps, &c->step_count);
		for (j = 0; j < c->step_count; j++)
			if (c->steps[j].kind != STEP_MEASURE && c->steps[j].kind != STEP_PROMPT &&
			    c->steps[j].kind != STEP_WAIT)
				diag_error(p->d, c->steps[j].node, "'every' runs measure, prompt or "
				    "wait steps, not %s", step_kind_names[c->steps[j].kind]);
	}
}

/* Counts distinct non-rinse solutions a step list exposes the substrate to. */
static void
recipe_mark_coating(const struct recipe *r, const struct recipe_step *steps, size_t count,
    unsigned char *used)
{
	size_t i;
	int j;

	for (i = 0; i < count; i++) {
		const struct recipe_step *s = &steps[i];
		if (s->kind == STEP_REPEAT)
			recipe_mark_coating(r, s->steps, s->step_count, used);
		if (s->kind == STEP_DIP || s->kind == STEP_BATH)
			if (s->solution >= 0 && !r->solutions[s->solution].is_rinse)
				used[s->solution] = 1;
		if (s->kind == STEP_SPRAY)
			for (j = 0; j < s->spray_count; j++)
				if (s->spray_solutions[j] >= 0 &&
				    !r->solutions[s->spray_solutions[j]].is_rinse)
					used[s->spray_solutions[j]] = 1;
	}
}

static void
recipe_check_cycle(struct recipe_parser *p, const struct conf_node *cycle)
{
	const struct recipe *r = p->recipe;
	unsigned char *used;
	size_t i;
	int distinct = 0;

	if (r->solution_count == 0)
		return;
	used = calloc(r->solution_count, 1);
	if (used == NULL)
		return;
	recipe_mark_coating(r, r->cycle, r->cycle_count, used);
	for (i = 0; i < r->solution_count; i++)
		distinct += used[i];
	if (distinct < 2)
		diag_error(p->d, cycle, "the cycle coats with %d solution%s: a bilayer needs two "
		    "solutions that bind each other (mark rinses 'rinse: true')", distinct,
		    distinct == 1 ? "" : "s");
	free(used);
}

/*
 * Walks steps (and the steps of their repeats) for measure steps: a
 * baseline anywhere but directly in 'pre' is an error; a sauerbrey
 * measure needs its sensor's baseline (the rig file's f0, or a baseline
 * step in 'pre' before it). in_pre: the steps are pre's; top: they are a
 * phase's own steps, not a repeat's. Errors go to p->d at the step.
 */
static void
recipe_check_measures(struct recipe_parser *p, const struct recipe_step *steps, size_t count,
    int in_pre, int top)
{
	const struct recipe *r = p->recipe;
	size_t i, j;

	for (i = 0; i < count; i++) {
		const struct recipe_step *s = &steps[i];
		const struct rig_device *dev;
		int have = 0;

		if (s->kind == STEP_REPEAT) {
			recipe_check_measures(p, s->steps, s->step_count, in_pre, 0);
			continue;
		}
		if (s->kind != STEP_MEASURE || s->method != MEASURE_SAUERBREY)
			continue;
		if (s->baseline) {
			if (!in_pre || !top)
				diag_error(p->d, conf_lookup(s->node, "baseline") ?
				    conf_lookup(s->node, "baseline") : s->node, "a baseline measure "
				    "belongs directly in 'pre', before any film is coated (the bare "
				    "crystal)");
			continue;
		}
		if (p->rig == NULL || s->sensor == NULL ||
		    rig_device_index(p->rig, s->sensor) == -1)
			continue;
		dev = &p->rig->devices[rig_device_index(p->rig, s->sensor)];
		/* a baseline step in pre, before this step when this one is in pre too */
		for (j = 0; j < r->pre_count && (!in_pre || !top || &r->pre[j] < s); j++)
			if (r->pre[j].kind == STEP_MEASURE && r->pre[j].baseline &&
			    r->pre[j].sensor != NULL && strcmp(r->pre[j].sensor, s->sensor) == 0)
				have = 1;
		if (!have && !dev->f0_given)
			diag_error(p->d, conf_lookup(s->node, "sensor") ? conf_lookup(s->node,
			    "sensor") : s->node, "sauerbrey thickness needs the bare crystal's "
			    "frequency: give sensor '%s' an 'f0' in the rig file, or measure it "
			    "first with a measure step in 'pre' with 'baseline: true'", s->sensor);
	}
}

/* Checks the recipe's process against what the rig can do. */
static void
recipe_check_rig(struct recipe_parser *p, const struct conf_node *root)
{
	const struct recipe *r = p->recipe;
	const struct rig *rig = p->rig;

	if (r->process == PROCESS_DIP && rig->lift == -1)
		diag_error(p->d, conf_lookup(root, "process"), "'process': dip needs a rig with a "
		    "lift axis (motion: lift)");
	if (r->process == PROCESS_SPRAY && rig->nozzle_count == 0)
		diag_error(p->d, conf_lookup(root, "process"), "'process': spray needs a rig with "
		    "nozzles");
	if (r->process == PROCESS_ROLL && rig->line == -1)
		diag_error(p->d, conf_lookup(root, "process"), "'process': roll needs a rig with a "
		    "line drive (a device of role line)");
	if (r->process == PROCESS_ROLL && rig->line != -1 &&
	    r->line_speed_mm_s > rig->devices[rig->line].max_line_speed_mm_s)
		diag_error(p->d, conf_lookup(conf_lookup(root, "line"), "speed"), "'speed': "
		    "%.2f mm/s is faster than line drive '%s' (max_speed %.2f mm/s)",
		    r->line_speed_mm_s, rig->devices[rig->line].name,
		    rig->devices[rig->line].max_line_speed_mm_s);
}

static void
recipe_parse_line(struct recipe_parser *p, const struct conf_node *n)
{
	static const char *const keys[] = { "speed", "web_length", "web_width", "rewind", NULL };
	struct recipe *r = p->recipe;

	if (conf_check_map(p->d, n, "line", keys) == -1)
		return;
	conf_get_quantity(p->d, n, "speed", CONF_REQUIRED | CONF_POSITIVE, UNIT_SPEED_MM_S,
	    &r->line_speed_mm_s);
	conf_get_quantity(p->d, n, "web_length", CONF_REQUIRED | CONF_POSITIVE, UNIT_LENGTH_MM,
	    &r->web_length_mm);
	conf_get_quantity(p->d, n, "web_width", CONF_POSITIVE, UNIT_LENGTH_MM, &r->web_width_mm);
	conf_get_duration(p->d, n, "rewind", 0, &r->rewind_ms);
}


/*
 * resume: {allowed: true, within: 30min}: an interrupted batch may go on
 * only that long after it stopped (chemistry does not wait: a bath ages,
 * a half-built film takes up water).
 */
static void
recipe_parse_resume(struct recipe_parser *p, const struct conf_node *n)
{
	static const char *const keys[] = { "allowed", "within", NULL };
	struct recipe *r = p->recipe;
	int allowed = 0;

	if (conf_check_map(p->d, n, "resume", keys) == -1)
		return;
	if (conf_get_bool(p->d, n, "allowed", CONF_REQUIRED, &allowed) == 1)
		r->resume_allowed = allowed;
	if (conf_get_duration(p->d, n, "within", 0, &r->resume_within_ms) == 1 && !allowed)
		diag_error(p->d, conf_lookup(n, "within"), "'within' bounds a resume that is "
		    "allowed: set 'allowed: true' or drop 'within'");
}

static void
recipe_parse_root(struct recipe_parser *p, const struct conf_node *root)
{
	static const char *const keys[] = { "name", "version", "process", "description",
		"substrate", "target", "growth", "resume", "drip", "line", "spray", "solutions",
		"pre", "cycle", "post", "every", NULL };
	static const char *const resume[] = { "forbidden", "allowed", NULL };
	struct recipe *r = p->recipe;
	const struct conf_node *n;
	int process = 0, resume_allowed = 0;

	if (conf_check_map(p->d, root, "recipe", keys) == -1)
		return;
	conf_get_string(p->d, root, "name", CONF_REQUIRED, &r->name);
	conf_get_string(p->d, root, "version", CONF_REQUIRED, &r->version);
	conf_get_string(p->d, root, "description", 0, &r->description);
	if (conf_get_enum(p->d, root, "process", CONF_REQUIRED, recipe_process_names, &process) != 1)
		return;	/* everything below depends on the process */
	r->process = process;
	if ((n = conf_lookup(root, "substrate")) != NULL)
		recipe_parse_substrate(p, n);
	else
		diag_error(p->d, root, "missing required key 'substrate' (expected the substrate's "
		    "name, or a mapping with name and area)");
	if (conf_get_node(p->d, root, "target", CONF_REQUIRED, CONF_MAP, NULL, &n) == 1)
		recipe_parse_target(p, n);
	if (conf_get_node(p->d, root, "growth", CONF_REQUIRED, CONF_MAP, NULL, &n) == 1)
		recipe_parse_growth(p, n);
	if ((n = conf_lookup(root, "resume")) != NULL && n->type == CONF_MAP)
		recipe_parse_resume(p, n);
	else if (conf_get_enum(p->d, root, "resume", CONF_REQUIRED, resume, &resume_allowed) == 1)
		r->resume_allowed = resume_allowed;
	r->drip_ms = 5000;
	conf_get_duration(p->d, root, "drip", 0, &r->drip_ms);
	if (conf_get_node(p->d, root, "line", r->process == PROCESS_ROLL ? CONF_REQUIRED : 0,
	    CONF_MAP, NULL, &n) == 1) {
		if (r->process != PROCESS_ROLL)
			diag_error(p->d, n, "'line' is for roll-to-roll recipes");
		else
			recipe_parse_line(p, n);
	}
	if (conf_get_node(p->d, root, "spray", 0, CONF_MAP, NULL, &n) == 1) {
		static const char *const spray_keys[] = { "nozzle_distance", NULL };
		if (r->process != PROCESS_SPRAY)
			diag_error(p->d, n, "'spray' settings are for spray recipes");
		else if (conf_check_map(p->d, n, "spray", spray_keys) == 0)
			conf_get_quantity(p->d, n, "nozzle_distance", CONF_POSITIVE, UNIT_LENGTH_MM,
			    &r->nozzle_distance_mm);
	}
	if (conf_get_node(p->d, root, "solutions", CONF_REQUIRED, CONF_MAP, NULL, &n) == 1)
		recipe_parse_solutions(p, n);
	if (conf_get_node(p->d, root, "pre", 0, CONF_SEQ, "steps", &n) == 1)
		recipe_parse_steps(p, n, "pre", 0, &r->pre, &r->pre_count);
	if (conf_get_node(p->d, root, "cycle", CONF_REQUIRED, CONF_SEQ, "steps", &n) == 1) {
		recipe_parse_steps(p, n, "cycle", 0, &r->cycle, &r->cycle_count);
		recipe_check_cycle(p, n);
	}
	if (conf_get_node(p->d, root, "post", 0, CONF_SEQ, "steps", &n) == 1)
		recipe_parse_steps(p, n, "post", 0, &r->post, &r->post_count);
	if (conf_get_node(p->d, root, "every", 0, CONF_SEQ, "checkpoints", &n) == 1)
		recipe_parse_checkpoints(p, n);
	recipe_check_measures(p, r->pre, r->pre_count, 1, 1);
	recipe_check_measures(p, r->cycle, r->cycle_count, 0, 1);
	recipe_check_measures(p, r->post, r->post_count, 0, 1);
	for (size_t i = 0; i < r->checkpoint_count; i++)
		recipe_check_measures(p, r->checkpoints[i].steps, r->checkpoints[i].step_count, 0, 1);
	if (p->rig != NULL)
		recipe_check_rig(p, root);
}

int
recipe_load_buffer(const char *name, const char *text, size_t len, const struct rig *rig,
    int64_t now, struct diag *d, struct recipe **out)
{
	struct recipe_parser p;
	struct conf_doc *doc;
	struct recipe *r;
	int errors = d->errors;

	*out = NULL;
	if (conf_load_buffer(name, text, len, d, &doc) == -1)
		return -1;
	r = conf_alloc(doc, sizeof(*r));
	r->doc = doc;
	memset(&p, 0, sizeof(p));
	p.d = d;
	p.recipe = r;
	p.rig = rig;
	p.now = now;
	recipe_parse_root(&p, doc->root);
	if (d->errors != errors) {
		conf_free(doc);
		return -1;
	}
	*out = r;
	return 0;
}

int
recipe_load(const char *path, const struct rig *rig, int64_t now, struct diag *d,
    struct recipe **out)
{
	size_t len;
	char *text;
	int rc;

	*out = NULL;
	text = conf_read_file(path, CONF_MAX_FILE_BYTES, &len, d);
	if (text == NULL)
		return -1;
	rc = recipe_load_buffer(path, text, len, rig, now, d, out);
	free(text);
	return rc;
}

void
recipe_free(struct recipe *recipe)
{
	if (recipe != NULL)
		conf_free(recipe->doc);
}
