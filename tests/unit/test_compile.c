/*
 * The one compilation of a plan step into device actions (recipes/compile.c),
 * checked against the plan it was compiled from and against values
 * computed by hand from tests/data/rig-*.yaml: every step kind, first-cycle
 * overrides, nested repeats, bath replacement, every-N measures, 100 quick
 * dips with a stirrer, and the rig's limits refused with FILE:LINE:COL.
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "compile.h"
#include "profile.h"
#include "plan_text.h"
#include "test.h"

static const char *top;

static struct rig *
load_rig(const char *name)
{
	char path[1024];
	struct rig *rig = NULL;
	struct diag d;

	snprintf(path, sizeof(path), "%s/tests/data/rig-%s.yaml", top, name);
	diag_init(&d, path);
	rig_load(path, &d, &rig);
	TEST_CHECK(name, rig != NULL && d.errors == 0, "rig %s: %d errors", path, d.errors);
	diag_free(&d);
	return rig;
}

/* What one step's list holds, counted. */
struct tally {
	int moves[16], pump_on[16], pump_off[16], outputs[16], reads[16], line_on, line_off;
	int dwells, waits, prompts, reverse;
	int64_t dwell_ms, wait_ms;
	double pump_value[16];
};

static void
tally(const struct compile_list *l, struct tally *t)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < l->count; i++) {
		const struct compile_action *a = &l->actions[i];
		switch (a->kind) {
		case COMPILE_MOVE: t->moves[a->device]++; break;
		case COMPILE_PUMP:
			if (a->value > 0) {
				t->pump_on[a->device]++;
				t->pump_value[a->device] = a->value;
			} else {
				t->pump_off[a->device]++;
			}
			break;
		case COMPILE_OUTPUT: t->outputs[a->device]++; break;
		case COMPILE_READ: t->reads[a->device]++; break;
		case COMPILE_LINE:
			if (a->value > 0)
				t->line_on++;
			else
				t->line_off++;
			t->reverse += a->reverse;
			break;
		case COMPILE_DWELL: t->dwells++; t->dwell_ms += a->ms; break;
		case COMPILE_WAIT: t->waits++; t->wait_ms += a->ms; break;
		case COMPILE_PROMPT: t->prompts++; break;
		default: break;
		}
	}
}

/*
 * Plan and compilation agree for every step: the dwells add up to the
 * plan's dwell, an immersion's last wait is its drip, a replacement's
 * waits are its planned time.
 */
static void
check_agreement(const char *name, const struct plan *p)
{
	struct compile_state st = { 0 };
	struct compile_list l = { 0 };
	struct tally t;
	size_t i, bad = 0;
	char why[200] = "";

	for (i = 0; i < p->count; i++) {
		const struct plan_step *s = &p->steps[i];
		int64_t timed;
		if (compile_step(p->recipe, p->rig, s, &st, &l) == -1) {
			bad++;
			continue;
		}
		tally(&l, &t);
		timed = s->kind == STEP_REPLACE ? t.wait_ms : t.dwell_ms;
		if (s->kind == STEP_MEASURE || s->kind == STEP_WAIT)
			timed = t.wait_ms;
		if (!s->operator_wait && timed != s->dwell_ms) {
			if (bad++ == 0)
				snprintf(why, sizeof(why), "step %d (%s): actions time %lld ms, plan "
				    "%lld ms", s->seq, step_kind_names[s->kind], (long long)timed,
				    (long long)s->dwell_ms);
		}
		if ((s->kind == STEP_DIP || s->kind == STEP_RINSE) && p->recipe->process ==
		    PROCESS_DIP && t.wait_ms != s->drip_ms && bad++ == 0)
			snprintf(why, sizeof(why), "step %d: drip %lld ms, plan %lld ms", s->seq,
			    (long long)t.wait_ms, (long long)s->drip_ms);
	}
	TEST_CHECK(name, bad == 0, "%zu steps disagree; first: %s", bad, why);
	compile_list_free(&l);
}

#define DIP_HEAD "name: t\nversion: 1\nprocess: dip\nsubstrate: {name: g, area: 4 cm2}\n" \
	"growth: {model: linear, per_bilayer: 1 nm}\nresume: allowed\ndrip: 2s\n"

/* Two bilayers of two solutions: a cycle's first step is at line 13. */
#define DIP_TWO DIP_HEAD "target: {bilayers: 2}\n" \
	"solutions:\n  a: {station: ag}\n  b: {station: tca}\ncycle:\n"
/* Two 5 s dips, lines 13 and 14: a step after them is at line 15. */
#define TWO_DIPS "  - dip: {solution: a, dwell: 5s}\n  - dip: {solution: b, dwell: 5s}\n"

/*
 * A cycle (after DIP_TWO) and what planning it must give: accepted when
 * want[0] is NULL, else refused with each of want in the diagnostics.
 */
struct plan_case {
	const char *name;
	const char *cycle;
	const char *want[3];
};

/* Plans c's recipe on rig and checks the outcome as one test named c->name. */
static void
check_plan_case(const struct rig *rig, const struct plan_case *c)
{
	char yaml[1024], *text;
	struct recipe *r;
	struct plan *p;
	size_t i;
	int ok;

	if ((size_t)snprintf(yaml, sizeof(yaml), "%s%s", DIP_TWO, c->cycle) >= sizeof(yaml)) {
		TEST_CHECK(c->name, 0, "the recipe is longer than %zu bytes", sizeof(yaml));
		return;
	}
	p = plan_text(yaml, rig, &r, &text);
	if (c->want[0] == NULL) {
		TEST_CHECK(c->name, p != NULL, "%s", text);
	} else {
		ok = p == NULL && text != NULL;
		for (i = 0; ok && i < sizeof(c->want) / sizeof(c->want[0]) && c->want[i]; i++)
			ok = strstr(text, c->want[i]) != NULL;
		TEST_CHECK(c->name, ok, "%s", text ? text : "(no diagnostics)");
	}
	free(text);
	plan_free(p);
	recipe_free(r);
}

static void
test_dip_kinds(void)
{
	struct rig *rig = load_rig("dip");
	struct recipe *r;
	char *text;
	struct plan *p;
	struct compile_state st = { 0 };
	struct compile_list l = { 0 };
	struct tally t;
	int lift, transfer, stir_ag, stir_cnt, gauge, n2, fill, drain;
	int b1_dwell = 0, b2_dwell = 0, quick = 0, measures[5] = { 0 }, replaced = 0, waits = 0;
	struct compile_volume vol[4];
	size_t i, n;

	if (rig == NULL)
		return;
	p = plan_text(DIP_HEAD "target: {bilayers: 4}\n"
	    "solutions:\n  a: {station: ag, volume: 200 mL}\n  b: {station: tca, volume: 200 mL}\n"
	    "  q: {station: cnt, rinse: true, volume: 200 mL}\n"
	    "  r: {station: rinse-1, rinse: true, volume: 250 mL, change_after: {cycles: 2}}\n"
	    "pre: [{repeat: {times: 2, steps: [{wait: 1s}, {repeat: {times: 3, steps: "
	    "[{wait: 2s}]}}]}}]\n"
	    "cycle:\n"
	    "  - dip: {solution: a, dwell: 30s, speed_in: 10 mm/s, speed_out: 5 mm/s, depth: 30 mm,"
	    " agitation: 300 rpm, first_cycle: {dwell: 60s}}\n"
	    "  - rinse: {solution: q, dwell: 1s, quick_dips: 100, agitation: 250 rpm}\n"
	    "  - dip: {solution: b, dwell: 20s}\n"
	    "  - rinse: {solution: r, dwell: 5s}\n"
	    "  - dry: {valve: n2, station: dryer, time: 3s}\n"
	    "every: [{bilayers: 2, do: [{measure: {sensor: gauge, method: gauge, settle: 1s}}]}]\n"
	    "post: [{set: {output: n2, value: on}}, {prompt: unload}]\n", rig, &r, &text);
	TEST_CHECK("dip recipe plans", p != NULL, "%s", text);
	free(text);
	if (p == NULL)
		goto out;
	lift = rig->lift;
	transfer = rig->transfer;
	stir_ag = rig_device_index(rig, "stir-ag");
	stir_cnt = rig_device_index(rig, "stir-cnt");
	gauge = rig_device_index(rig, "gauge");
	n2 = rig_device_index(rig, "n2");
	fill = rig_device_index(rig, "fill-1");
	drain = rig_device_index(rig, "drain-1");
	check_agreement("dip: every step's actions take the plan's time", p);
	for (i = 0; i < p->count; i++) {
		const struct plan_step *s = &p->steps[i];
		TEST_CHECK("compile_step succeeds", compile_step(r, rig, s, &st, &l) == 0, "step %d",
		    s->seq);
		tally(&l, &t);
		if (s->kind == STEP_WAIT && s->phase == PHASE_PRE)
			waits++;
		if (s->kind == STEP_DIP && s->solution == 0) {
			/* travel, down to the surface, in, out, up: one immersion */
			if (t.moves[transfer] != 1 || t.moves[lift] != 4 || t.pump_on[stir_ag] != 1 ||
			    t.pump_off[stir_ag] != 1 || t.pump_value[stir_ag] != 300)
				TEST_CHECK("dip with agitation", 0, "step %d: %d transfer, %d lift moves, "
				    "stirrer %d on (%g rpm) %d off", s->seq, t.moves[transfer],
				    t.moves[lift], t.pump_on[stir_ag], t.pump_value[stir_ag],
				    t.pump_off[stir_ag]);
			if (s->bilayer == 1)
				b1_dwell = (int)t.dwell_ms;
			if (s->bilayer == 2)
				b2_dwell = (int)t.dwell_ms;
			/* the order a move goes out in */
			if (s->bilayer == 1) {
				TEST_EQ_INT("dip: first action travels", l.actions[0].device, transfer);
				TEST_NEAR("dip: travel to station ag", l.actions[0].value, 100, 1e-9);
				TEST_NEAR("dip: immersed at surface + depth", l.actions[2].value, 90, 1e-4);
				TEST_NEAR("dip: in at speed_in", l.actions[2].speed_mm_s, 10, 1e-6);
				TEST_EQ_INT("dip: stirrer on once immersed", l.actions[3].kind,
				    COMPILE_PUMP);
				TEST_EQ_INT("dip: then the dwell", l.actions[4].kind, COMPILE_DWELL);
				TEST_EQ_INT("dip: stirrer off before withdrawal", l.actions[5].kind,
				    COMPILE_PUMP);
				TEST_NEAR("dip: out at speed_out", l.actions[6].speed_mm_s, 5, 1e-6);
				TEST_NEAR("dip: up to the safe height", l.actions[7].value, 20, 1e-9);
				TEST_EQ_INT("dip: the drip last", l.actions[8].kind, COMPILE_WAIT);
				TEST_EQ_INT("dip: nine actions", l.count, 9);
			}
		}
		if (s->kind == STEP_RINSE && s->solution == 2) {
			/* 100 quick dips, each in and out with the stirrer on around its dwell */
			quick++;
			TEST_CHECK("100 quick dips with a stirrer: every one compiled",
			    t.moves[lift] == 2 + 2 * 100 && t.pump_on[stir_cnt] == 100 &&
			    t.pump_off[stir_cnt] == 100 && t.dwells == 100 && t.dwell_ms == 100000 &&
			    t.pump_value[stir_cnt] == 250 && l.count == 1 + 2 + 5 * 100 + 1,
			    "%d lift moves, stirrer %d on %d off, %d dwells of %lld ms, %zu actions",
			    t.moves[lift], t.pump_on[stir_cnt], t.pump_off[stir_cnt], t.dwells,
			    (long long)t.dwell_ms, l.count);
			TEST_EQ_INT("100 quick dips: the plan's count", s->quick_dips, 100);
		}
		if (s->kind == STEP_MEASURE)
			measures[s->bilayer]++;
		if (s->kind == STEP_MEASURE)
			TEST_CHECK("measure: settle, then read the gauge", t.reads[gauge] == 1 &&
			    t.wait_ms == 1000 && l.actions[l.count - 1].kind == COMPILE_READ,
			    "%d reads, %lld ms", t.reads[gauge], (long long)t.wait_ms);
		if (s->kind == STEP_REPLACE) {
			/* 250 mL out at 200 mL/min, in at 100 mL/min */
			replaced++;
			TEST_CHECK("replacement: drain then fill at full flow", t.pump_on[drain] == 1 &&
			    t.pump_off[drain] == 1 && t.pump_on[fill] == 1 && t.pump_off[fill] == 1 &&
			    t.pump_value[drain] == 200 && t.pump_value[fill] == 100 && t.waits == 2 &&
			    t.wait_ms == 75000 + 150000 && l.actions[0].device == drain,
			    "drain %d/%d at %g, fill %d/%d at %g, %d waits of %lld ms",
			    t.pump_on[drain], t.pump_off[drain], t.pump_value[drain], t.pump_on[fill],
			    t.pump_off[fill], t.pump_value[fill], t.waits, (long long)t.wait_ms);
			TEST_EQ_INT("replacement: the plan's time is the compilation's", s->dwell_ms,
			    t.wait_ms);
			/* what the executor compares the pumps' counters with */
			n = compile_volumes(rig, &l, vol, 4);
			TEST_CHECK("replacement: the drain and the fill pump move the bath's volume",
			    n == 2 && vol[0].device == drain && vol[1].device == fill &&
			    fabs(vol[0].volume_ml - 250) < 1e-6 && fabs(vol[1].volume_ml - 250) < 1e-6,
			    "%zu pumps: %g, %g mL", n, n > 0 ? vol[0].volume_ml : NAN,
			    n > 1 ? vol[1].volume_ml : NAN);
		}
		if (s->kind == STEP_DIP || s->kind == STEP_RINSE)
			TEST_CHECK("a stirred dip dispenses nothing (a stirrer moves no liquid)",
			    compile_volumes(rig, &l, vol, 4) == 0, "step %d", s->seq);
		if (s->kind == STEP_DRY)
			TEST_CHECK("dry: over the dryer, n2 on, dwell, off", t.moves[transfer] == 1 &&
			    t.outputs[n2] == 2 && t.dwell_ms == 3000, "%d moves, %d outputs",
			    t.moves[transfer], t.outputs[n2]);
		if (s->kind == STEP_SET)
			TEST_CHECK("set: one output", l.count == 1 && l.actions[0].kind ==
			    COMPILE_OUTPUT && l.actions[0].device == n2 && l.actions[0].value == 1,
			    "%zu actions", l.count);
		if (s->kind == STEP_PROMPT)
			TEST_CHECK("prompt: waits for the operator", t.prompts == 1 && l.count == 1,
			    "%zu actions", l.count);
	}
	TEST_EQ_INT("first-cycle override: bilayer 1 dwells 60 s", b1_dwell, 60000);
	TEST_EQ_INT("first-cycle override: bilayer 2 dwells 30 s", b2_dwell, 30000);
	TEST_EQ_INT("100 quick dips in every bilayer", quick, 4);
	TEST_CHECK("measure every 2 bilayers", measures[1] == 0 && measures[2] == 1 &&
	    measures[3] == 0 && measures[4] == 1, "%d %d %d %d", measures[1], measures[2],
	    measures[3], measures[4]);
	TEST_EQ_INT("bath replaced after bilayer 2 (not after the last)", replaced, 1);
	TEST_EQ_INT("nested repeats: 2 x (1 + 3) waits", waits, 8);
out:
	compile_list_free(&l);
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

/*
 * Two bilayers of three sprays (Ag, a rinse at the nozzle's max_flow, TCA),
 * each with a drain: the spray recipe test_spray and test_devices plan.
 */
#define SPRAY_THREE "name: t\nversion: 1\nprocess: spray\nsubstrate: {name: g, area: 4 cm2}\n" \
	"growth: {model: linear, per_bilayer: 1 nm}\nresume: allowed\ntarget: {bilayers: 2}\n" \
	"solutions:\n  a: {nozzle: ag, volume: 200 mL}\n  b: {nozzle: tca, volume: 200 mL}\n" \
	"  w: {nozzle: rinse, rinse: true, volume: 500 mL}\n" \
	"cycle:\n  - spray: {solution: a, time: 2s, flow: 20 mL/min, drain: 1s}\n" \
	"  - spray: {solution: w, time: 3s, drain: 1s}\n" \
	"  - spray: {solution: b, time: 2s, flow: 20 mL/min, drain: 1s}\n"

/* A spray's pumps run at the step's flow, else the pump's max_flow (one fact). */
static void
test_spray(void)
{
	struct rig *rig = load_rig("spray");
	struct recipe *r;
	struct plan *p;
	struct compile_state st = { 0 };
	struct compile_list l = { 0 };
	struct tally t;
	char *text;
	struct compile_volume vol[4];
	size_t i;
	int sprays = 0;

	if (rig == NULL)
		return;
	p = plan_text(SPRAY_THREE, rig, &r, &text);
	TEST_CHECK("spray recipe plans", p != NULL, "%s", text);
	free(text);
	if (p == NULL)
		goto out;
	check_agreement("spray: every step's actions take the plan's time", p);
	for (i = 0; i < p->count; i++) {
		const struct plan_step *s = &p->steps[i];
		int nz, pump;
		if (s->kind != STEP_SPRAY || compile_step(r, rig, s, &st, &l) == -1)
			continue;
		tally(&l, &t);
		nz = rig_nozzle_index(rig, r->solutions[s->solution].nozzle);
		pump = rig->nozzles[nz].pump;
		sprays++;
		TEST_NEAR("spray: the flow the planner counted the volume with",
		    t.pump_value[pump] * s->dwell_ms / 60000.0, s->volume_ml, 1e-4);
		if (s->solution == 2)
			TEST_NEAR("spray: no flow given runs the pump at its max_flow",
			    t.pump_value[pump], rig->devices[pump].max_flow_ml_min, 1e-9);
		TEST_CHECK("spray: one pump dispenses the plan's volume",
		    compile_volumes(rig, &l, vol, 4) == 1 && vol[0].device == pump &&
		    fabs(vol[0].volume_ml - s->volume_ml) < 1e-4, "step %d: %g mL of %g", s->seq,
		    vol[0].volume_ml, s->volume_ml);
		TEST_EQ_INT("spray: none listed past max", compile_volumes(rig, &l, vol, 0), 1);
		TEST_CHECK("spray: valve opens after its pump, closes before it stops",
		    l.actions[l.count - 1].kind == COMPILE_WAIT && t.outputs[rig->nozzles[nz].valve] == 2,
		    "%zu actions", l.count);
	}
	TEST_EQ_INT("spray: every spray compiled", sprays, 6);
	plan_free(p);
	recipe_free(r);

	/*
	 * Two solutions sprayed together: each is used (a spray, its pump's
	 * volume, the substrate's area), as its pump moves it, and the plan's
	 * totals are the sum of the steps' uses.
	 */
	p = plan_text("name: t\nversion: 1\nprocess: spray\nsubstrate: {name: g, area: 4 cm2}\n"
	    "growth: {model: linear, per_bilayer: 1 nm}\nresume: allowed\ntarget: {bilayers: 3}\n"
	    "solutions:\n  a: {nozzle: ag, volume: 200 mL}\n  b: {nozzle: tca, volume: 200 mL}\n"
	    "  w: {nozzle: rinse, rinse: true, volume: 500 mL}\n"
	    "cycle:\n  - spray: {solutions: [a, b], time: 3s, flow: 10 mL/min, drain: 1s}\n"
	    "  - spray: {solution: w, time: 3s, drain: 1s}\n", rig, &r, &text);
	TEST_CHECK("spray together plans", p != NULL, "%s", text);
	free(text);
	if (p == NULL)
		goto out;
	{
		struct compile_pass pass = { 0 };
		struct compile_use uses[COMPILE_MAX_USES];
		double dips[3] = { 0 }, ml[3] = { 0 }, cm2[3] = { 0 };
		size_t n, k;
		int bad = 0;

		memset(&st, 0, sizeof(st));
		for (i = 0; i < p->count; i++) {
			const struct plan_step *s = &p->steps[i];
			if (compile_step(r, rig, s, &st, &l) == -1)
				continue;
			n = compile_uses(r, rig, s, &pass, uses, COMPILE_MAX_USES);
			for (k = 0; k < n; k++) {
				dips[uses[k].solution] += uses[k].dips;
				ml[uses[k].solution] += uses[k].volume_ml;
				cm2[uses[k].solution] += uses[k].area_cm2;
			}
			if (s->kind == STEP_SPRAY && s->src->spray_count == 2) {
				size_t pumps = compile_volumes(rig, &l, vol, 4);
				if (n != 2 || pumps != 2 || uses[0].solution != 0 || uses[1].solution != 1 ||
				    fabs(uses[0].volume_ml - 0.5) > 1e-9 ||
				    fabs(uses[1].volume_ml - 0.5) > 1e-9 ||
				    fabs(vol[0].volume_ml - uses[0].volume_ml) > 1e-9 ||
				    fabs(vol[1].volume_ml - uses[1].volume_ml) > 1e-9 ||
				    uses[0].dips != 1 || uses[1].dips != 1 ||
				    uses[0].area_cm2 != 4 || uses[1].area_cm2 != 4) {
					if (bad++ == 0)
						printf("info: step %d: %zu uses, %zu pumps\n", s->seq, n,
						    pumps);
				}
			}
		}
		TEST_EQ_INT("spray together: each solution used as its pump moves it", bad, 0);
		for (k = 0; k < 3; k++)
			TEST_CHECK("spray together: the plan's totals are the steps' uses",
			    p->solutions[k].dips == dips[k] &&
			    fabs(p->solutions[k].volume_ml - ml[k]) < 1e-9 &&
			    fabs(p->solutions[k].area_cm2 - cm2[k]) < 1e-9, "solution %zu: %d/%g, "
			    "%g/%g mL, %g/%g cm2", k, p->solutions[k].dips, dips[k],
			    p->solutions[k].volume_ml, ml[k], p->solutions[k].area_cm2, cm2[k]);
		TEST_EQ_INT("spray together: b sprayed in every bilayer", p->solutions[1].dips, 3);
	}
out:
	compile_list_free(&l);
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

/*
 * The device features of tests/data/rig-devices.yaml: a constant-speed
 * transfer axis (no max_accel) is planned distance / speed, 2.5 s for the
 * 250 mm to the booth at 100 mm/s, where the same move with 500 mm/s2 is
 * 2.7 s; a pump-fed nozzle (tca: a pump, no valve) compiles to its pump's
 * actions only; the Ag pump and its valve, sharing a unit id, both act.
 */
static void
test_devices(void)
{
	struct rig *rig = load_rig("devices");
	struct recipe *r;
	struct plan *p;
	struct compile_state st = { 0 };
	struct compile_list l = { 0 };
	struct tally t;
	char *text;
	size_t i, j;
	int pump_fed = 0, valved = 0;

	TEST_EQ_INT("constant speed: 250 mm at 100 mm/s is 2.5 s", (int)plan_move_ms(250, 100, 0),
	    2500);
	TEST_EQ_INT("with 500 mm/s2 it is 2.7 s", (int)plan_move_ms(250, 100, 500), 2700);
	if (rig == NULL)
		return;
	TEST_NEAR("no max_accel: constant speed",
	    rig->devices[rig_device_index(rig, "transfer")].max_accel_mm_s2, 0, 0);
	p = plan_text(SPRAY_THREE, rig, &r, &text);
	TEST_CHECK("devices rig: spray recipe plans", p != NULL, "%s", text);
	free(text);
	if (p == NULL)
		goto out;
	TEST_EQ_INT("constant-speed transfer planned distance / speed", (int)p->steps[0].travel_ms,
	    2500);
	check_agreement("devices rig: every step's actions take the plan's time", p);
	for (i = 0; i < p->count; i++) {
		const struct plan_step *s = &p->steps[i];
		const struct rig_nozzle *nz;
		int outputs = 0;
		if (s->kind != STEP_SPRAY || compile_step(r, rig, s, &st, &l) == -1)
			continue;
		tally(&l, &t);
		nz = &rig->nozzles[rig_nozzle_index(rig, r->solutions[s->solution].nozzle)];
		for (j = 0; j < l.count; j++)
			outputs += l.actions[j].kind == COMPILE_OUTPUT;
		if (nz->valve == -1) {
			pump_fed++;
			TEST_CHECK("pump-fed nozzle: its pump runs and stops, no valve",
			    outputs == 0 && t.pump_on[nz->pump] == 1 && t.pump_off[nz->pump] == 1 &&
			    t.pump_value[nz->pump] == 20, "step %d: %d outputs, pump on %d off %d",
			    s->seq, outputs, t.pump_on[nz->pump], t.pump_off[nz->pump]);
		} else {
			valved++;
			TEST_CHECK("nozzle with a valve: valve on and off around the dwell",
			    outputs == 2 && t.outputs[nz->valve] == 2 && t.pump_on[nz->pump] == 1,
			    "step %d: %d outputs", s->seq, outputs);
		}
	}
	TEST_EQ_INT("devices rig: pump-fed sprays compiled", pump_fed, 2);
	TEST_EQ_INT("devices rig: valved sprays compiled", valved, 4);
out:
	compile_list_free(&l);
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

/* The line starts with the first station, stops at the run-out, rewinds in reverse. */
static void
test_roll(void)
{
	struct rig *rig = load_rig("roll");
	struct recipe *r = NULL;
	struct plan *p = NULL;
	struct compile_state st = { 0 };
	struct compile_list l = { 0 };
	struct tally t;
	char path[1024];
	struct diag d;
	int starts = 0, stops = 0, reverse = 0;
	size_t i;

	if (rig == NULL)
		return;
	snprintf(path, sizeof(path), "%s/recipes/examples/ag-tca-roll.yaml", top);
	diag_init(&d, path);
	if (recipe_load(path, rig, time(NULL), &d, &r) == 0)
		plan_build(r, rig, time(NULL), &d, &p);
	TEST_CHECK("roll example plans", p != NULL, "%d errors", d.errors);
	diag_free(&d);
	if (p == NULL)
		goto out;
	check_agreement("roll: every step's actions take the plan's time", p);
	for (i = 0; i < p->count; i++) {
		if (compile_step(r, rig, &p->steps[i], &st, &l) == -1)
			continue;
		tally(&l, &t);
		starts += t.line_on;
		stops += t.line_off;
		reverse += t.reverse;
	}
	/*
	 * The baths' top-up (2 mL/min each) runs a whole pass, from its first
	 * cycle step to its run-out; the web (100 mm x 2 m) passes each station
	 * once per pass: 2,000 cm2.
	 */
	{
		int64_t pass_start = -1, top_up_ms = 0;
		for (i = 0; i < p->count; i++) {
			const struct plan_step *s = &p->steps[i];
			if (pass_start < 0 && s->phase == PHASE_CYCLE)
				pass_start = s->start_ms;
			if (s->kind == STEP_MOVE && s->src == NULL && s->where &&
			    strcmp(s->where, "web run-out") == 0) {
				top_up_ms += s->start_ms + s->duration_ms - pass_start;
				pass_start = -1;
				/* the rewind after it is no pass's */
				if (i + 1 < p->count && p->steps[i + 1].where &&
				    strcmp(p->steps[i + 1].where, "rewind") == 0)
					i++;
			}
		}
		TEST_NEAR("roll: the top-up over every pass, counted at its run-out",
		    p->solutions[0].volume_ml, 2.0 * top_up_ms / 60000.0, 1e-6);
		TEST_NEAR("roll: the web's area per station passed", p->solutions[0].area_cm2,
		    p->bilayers * 100.0 * 2000.0 / 100.0, 1e-6);
		TEST_EQ_INT("roll: a pass per bilayer through the bath", p->solutions[0].dips,
		    p->bilayers);
	}
	/* a run per pass and a rewind between passes, each stopped */
	TEST_CHECK("roll: the line runs per pass and rewinds between", starts == 2 * p->bilayers -
	    1 + 0 && reverse == p->bilayers - 1 && stops >= p->bilayers,
	    "%d starts, %d stops, %d rewinds for %d passes", starts, stops, reverse, p->bilayers);
out:
	compile_list_free(&l);
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

/* What each action sends, in the order hw_bus.c writes it. */
static void
test_ops(void)
{
	struct rig *rig = load_rig("dip");
	struct compile_op ops[COMPILE_MAX_OPS];
	struct compile_action a;
	int has[PROFILE_OP_COUNT], n;

	if (rig == NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.kind = COMPILE_MOVE;
	a.device = rig->lift;
	a.value = 90;
	a.speed_mm_s = 0;
	n = compile_ops(rig, &a, NULL, ops);
	TEST_CHECK("move: speed, target, go", n == 3 && strcmp(ops[0].op, "speed") == 0 &&
	    ops[0].value == 50 && strcmp(ops[1].op, "target") == 0 && ops[1].value == 90 &&
	    strcmp(ops[2].op, "go") == 0 && !ops[2].has_value, "%d ops", n);
	a.kind = COMPILE_PUMP;
	a.device = rig_device_index(rig, "stir-ag");
	a.value = 300;
	memset(has, 0, sizeof(has));
	has[PROFILE_RPM] = has[PROFILE_RUN] = has[PROFILE_STOP] = 1;
	n = compile_ops(rig, &a, has, ops);
	TEST_CHECK("stirrer: rpm, run (no direction register)", n == 2 &&
	    strcmp(ops[0].op, "rpm") == 0 && ops[0].value == 300 && strcmp(ops[1].op, "run") == 0,
	    "%d ops, first %s", n, n > 0 ? ops[0].op : "-");
	a.device = rig_device_index(rig, "fill-1");
	a.value = 50;
	n = compile_ops(rig, &a, NULL, ops);
	TEST_CHECK("pump: direction, flow, run", n == 3 && strcmp(ops[0].op, "direction") == 0 &&
	    strcmp(ops[1].op, "flow") == 0 && ops[1].value == 50 && strcmp(ops[2].op, "run") == 0,
	    "%d ops", n);
	a.value = 0;
	n = compile_ops(rig, &a, NULL, ops);
	TEST_CHECK("pump at 0: stop", n == 1 && strcmp(ops[0].op, "stop") == 0, "%d ops", n);
	a.kind = COMPILE_OUTPUT;
	a.device = rig_device_index(rig, "n2");
	a.value = 1;
	n = compile_ops(rig, &a, NULL, ops);
	TEST_CHECK("valve: on", n == 1 && strcmp(ops[0].op, "on") == 0, "%d ops", n);
	a.kind = COMPILE_DWELL;
	a.device = -1;
	TEST_EQ_INT("dwell: no device operation", compile_ops(rig, &a, NULL, ops), 0);
	rig_free(rig);
}

/*
 * The shortest step a rig keeps, from its buses: the floor on a TCP rig;
 * on RTU the transaction's characters at the baud rate, with each frame's
 * 3.5-character silence, times the step's transactions, times the share a
 * step absorbs. A shorter step is refused at its recipe line, naming the
 * figure and the bus.
 */
static void
test_min_step(void)
{
	static const struct {
		int baud;
		struct plan_case c;
	} rtu_cases[] = {
		{ 9600, { "RTU 9600: a 2 s step is refused at its line, naming the figure and the bus",
		    TWO_DIPS "  - wait: 2s\n", { "r.yaml:15:5: error:",
		    "lasts 2000 ms; the shortest step that keeps its deadline is 2334 ms",
		    "its bus 'tcp0' (RTU) takes 29.17 ms a transaction" } } },
		{ 115200, { "RTU 115200: a step of the rig's shortest (426 ms) is accepted",
		    TWO_DIPS "  - wait: 426ms\n", { NULL } } },
	};
	struct rig *rig = load_rig("dip");
	struct rig_bus *bus;
	struct recipe *r;
	struct plan *p;
	double t;
	char *text;
	size_t i;
	int b;

	if (rig == NULL)
		return;
	bus = &rig->buses[rig->devices[rig->lift].bus];
	TEST_EQ_INT("TCP: the floor", rig_min_step_ms(rig, &b, &t), COMPILE_MIN_STEP_MS);
	TEST_EQ_INT("TCP: no bus decides", b, -1);
	TEST_NEAR("TCP: the documented figure", t, RIG_TCP_TRANSACTION_US / 1000.0, 1e-9);
	bus->type = RIG_BUS_RTU;
	bus->baud = 9600;
	bus->parity = 'N';
	bus->data_bits = 8;
	bus->stop_bits = 1;
	bus->frame_delay_ms = 0;
	/* 21 characters of 10 bits, and two silences of 3.5 characters */
	TEST_NEAR("RTU 9600 8N1: one transaction", rig_bus_transaction_ms(bus),
	    (21 * 10 + 7 * 10) * 1000.0 / 9600, 1e-9);
	TEST_EQ_INT("RTU 9600 8N1: the shortest step",
	    rig_min_step_ms(rig, &b, &t), (int64_t)ceil((21 * 10 + 7 * 10) * 1000.0 / 9600 *
	    COMPILE_STEP_TRANSACTIONS * RUN_ABSORB_DIVISOR));
	TEST_EQ_INT("RTU 9600 8N1: the bus decides", b, rig->devices[rig->lift].bus);
	bus->parity = 'E';
	TEST_NEAR("RTU 9600 8E1: a parity bit more", rig_bus_transaction_ms(bus),
	    (21 * 11 + 7 * 11) * 1000.0 / 9600, 1e-9);
	bus->parity = 'N';
	bus->baud = 115200;
	bus->frame_delay_ms = 2;
	TEST_NEAR("RTU 115200: 1.75 ms silences, and the rig file's frame delay",
	    rig_bus_transaction_ms(bus), 21 * 10 * 1000.0 / 115200 + 3.5 + 2, 1e-9);
	bus->frame_delay_ms = 0;
	for (i = 0; i < sizeof(rtu_cases) / sizeof(rtu_cases[0]); i++) {
		bus->baud = rtu_cases[i].baud;
		check_plan_case(rig, &rtu_cases[i].c);
	}
	/*
	 * Motion alone (the final park, a move) ends on the axis's arrival,
	 * not on a timer, and its length is the rig's: at 9,600 baud (2,334 ms
	 * the shortest timed step) a shorter park is no error.
	 */
	bus->baud = 9600;
	p = plan_text(DIP_TWO TWO_DIPS "  - wait: 3s\n", rig, &r, &text);
	{
		int64_t shortest_motion_ms = INT64_MAX;

		for (i = 0; p != NULL && i < p->count; i++)
			if (p->steps[i].dwell_ms == 0 && p->steps[i].drip_ms == 0 &&
			    p->steps[i].duration_ms < shortest_motion_ms)
				shortest_motion_ms = p->steps[i].duration_ms;
		TEST_CHECK("RTU 9600: a plan with a park shorter than the shortest timed step is "
		    "accepted", p != NULL && shortest_motion_ms < 2334, "%s (motion %lld ms)",
		    text ? text : "", (long long)shortest_motion_ms);
	}
	free(text);
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

/* Values beyond the rig's limits are refused at check time, at the recipe's line. */
static void
test_limits(void)
{
	static const struct plan_case cases[] = {
		{ "agitation beyond max_rpm refused",
		    "  - dip: {solution: a, dwell: 5s, agitation: 1500 rpm}\n"
		    "  - dip: {solution: b, dwell: 5s}\n",
		    { "r.yaml:13:5: error:", "stir-ag", "max_rpm (1000.0 rpm" } },
		{ "a step shorter than the shortest that keeps its deadline is refused",
		    TWO_DIPS "  - wait: 99ms\n", { "r.yaml:15:5: error:",
		    "lasts 99 ms; the shortest step that keeps its deadline is 100 ms" } },
		{ "a step of the shortest length is accepted", TWO_DIPS "  - wait: 100ms\n",
		    { NULL } },
	};
	struct rig *rig = load_rig("dip");
	struct recipe *r;
	struct plan *p;
	char *text;
	struct diag d;
	size_t i;

	if (rig == NULL)
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_plan_case(rig, &cases[i]);

	/*
	 * Positions and speeds: the rig file's own checks keep its stations
	 * within the axes' travel, so the plan is checked against a rig whose
	 * limits shrank after it was built (what compile_check guards).
	 */
	p = plan_text(DIP_TWO TWO_DIPS, rig, &r, &text);
	free(text);
	TEST_CHECK("full-depth dips plan", p != NULL, "refused");
	if (p != NULL) {
		struct rig_device *lift = &rig->devices[rig->lift];
		lift->travel_max_mm = 100;
		diag_init(&d, "r.yaml");
		TEST_EQ_INT("a position outside the axis's travel is refused", compile_check(p, &d),
		    -1);
		text = diag_render(&d);
		TEST_CHECK("the travel error names the recipe's line and the limit", text &&
		    strstr(text, "r.yaml:13:5: error:") && strstr(text, "outside its travel") &&
		    strstr(text, "0.000 to 100.000 mm"), "%s", text ? text : "(none)");
		free(text);
		diag_free(&d);
		lift->travel_max_mm = 150;
		lift->max_speed_mm_s = 30;
		diag_init(&d, "r.yaml");
		compile_check(p, &d);
		text = diag_render(&d);
		TEST_CHECK("a speed beyond the axis's max_speed is refused", d.errors > 0 && text &&
		    strstr(text, "at 50.000 mm/s, beyond its max_speed (30.000 mm/s"), "%s",
		    text ? text : "(none)");
		free(text);
		diag_free(&d);
		lift->max_speed_mm_s = 50;
		diag_init(&d, "r.yaml");
		TEST_EQ_INT("within limits again: no error", compile_check(p, &d), 0);
		diag_free(&d);
		/* the final park is no recipe step: its error is at the recipe's 'process' */
		rig->devices[rig->transfer].travel_min_mm = 50;
		diag_init(&d, "r.yaml");
		compile_check(p, &d);
		text = diag_render(&d);
		TEST_CHECK("the final park's error has the recipe's place ('process', line 3)",
		    d.errors > 0 && text && strstr(text, "r.yaml:3:10: error: step ") &&
		    strstr(text, "moves axis 'transfer' to 0.000 mm"), "%s", text ? text : "(none)");
		free(text);
		diag_free(&d);
		rig->devices[rig->transfer].travel_min_mm = 0;
	}
	plan_free(p);
	recipe_free(r);
	rig_free(rig);

	/* a roll-to-roll run-out is no recipe step: its error is at the recipe's 'line' */
	if ((rig = load_rig("roll")) == NULL)
		return;
	p = plan_text("name: t\nversion: 1\nprocess: roll\nsubstrate: {name: g}\n"
	    "growth: {model: linear, per_bilayer: 1 nm}\nresume: allowed\n"
	    "target: {bilayers: 2}\n"
	    "line: {speed: 5 m/min, web_length: 5 mm}\n"
	    "solutions:\n  a: {station: bath-a}\n  b: {station: bath-b}\n"
	    "cycle:\n  - bath: {solution: a}\n  - bath: {solution: b}\n", rig, &r, &text);
	TEST_CHECK("a run-out too short is refused at the recipe's 'line' (line 8)", p == NULL &&
	    text != NULL && strstr(text, "r.yaml:8:7: error: step ") &&
	    strstr(text, "lasts 60 ms; the shortest step"), "%s", text ? text : "(none)");
	free(text);
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

int
main(void)
{
	top = getenv("LBL_TOP") ? getenv("LBL_TOP") : ".";
	test_dip_kinds();
	test_spray();
	test_devices();
	test_roll();
	test_ops();
	test_limits();
	test_min_step();
	return TEST_DONE();
}
