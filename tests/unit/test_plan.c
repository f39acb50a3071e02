/*
 * The planner's arithmetic, checked against values computed by hand from
 * tests/data/rig-*.yaml (trapezoidal moves: t = d/v + v/a when d >= v^2/a,
 * else 2*sqrt(d/a)).
 */
#include <stdlib.h>
#include <time.h>

#include "plan.h"
#include "test.h"

static const char *top;

static struct plan *
plan_example(const char *name, const char *rig_name, struct recipe **r, struct rig **rig)
{
	char path[1024], rig_path[1024];
	struct plan *plan = NULL;
	struct diag d;

	*rig = NULL;
	*r = NULL;
	snprintf(rig_path, sizeof(rig_path), "%s/tests/data/rig-%s.yaml", top, rig_name);
	diag_init(&d, rig_path);
	rig_load(rig_path, &d, rig);
	diag_free(&d);
	snprintf(path, sizeof(path), "%s/recipes/examples/%s", top, name);
	diag_init(&d, path);
	if (recipe_load(path, *rig, time(NULL), &d, r) == 0)
		plan_build(*r, *rig, time(NULL), &d, &plan);
	TEST_CHECK(name, plan != NULL && d.errors == 0, "%d errors", d.errors);
	diag_free(&d);
	return plan;
}

static void
test_moves(void)
{
	TEST_EQ_INT("move 100 mm at 200 mm/s, 1000 mm/s2", plan_move_ms(100, 200, 1000), 700);
	TEST_EQ_INT("move 40 mm at 50 mm/s, 500 mm/s2", plan_move_ms(40, 50, 500), 900);
	TEST_EQ_INT("move 30 mm at 10 mm/s, 500 mm/s2", plan_move_ms(30, 10, 500), 3020);
	/* triangular: 1 mm cannot reach 50 mm/s at 500 mm/s2: 2*sqrt(1/500) s */
	TEST_EQ_INT("short move is triangular", plan_move_ms(1, 50, 500), 89);
	TEST_EQ_INT("negative distance", plan_move_ms(-100, 200, 1000), 700);
	TEST_EQ_INT("zero distance", plan_move_ms(0, 200, 1000), 0);
}

/* Every step starts when the previous one ends; the total is their sum. */
static void
check_timeline(const char *name, const struct plan *plan)
{
	int64_t clock = 0;
	size_t i, bad = 0;

	for (i = 0; i < plan->count; i++) {
		const struct plan_step *s = &plan->steps[i];
		if (s->start_ms != clock || s->duration_ms != s->travel_ms + s->immerse_ms +
		    s->dwell_ms + s->withdraw_ms + s->drip_ms || s->seq != (int)i + 1)
			bad++;
		clock += s->duration_ms;
	}
	TEST_CHECK(name, bad == 0 && clock == plan->total_ms, "%zu bad steps, sum %lld != %lld",
	    bad, (long long)clock, (long long)plan->total_ms);
}

static void
test_dip(void)
{
	struct recipe *r;
	struct rig *rig;
	struct plan *p = plan_example("ag-tca-5-dip.yaml", "dip", &r, &rig);
	const struct plan_step *s;
	int64_t bilayer2_ms = 0;
	size_t i;

	if (p == NULL)
		goto out;
	check_timeline("dip timeline is contiguous", p);
	/* step 2: first Ag dip, 10 min override; park x=0 -> ag x=100 */
	s = &p->steps[1];
	TEST_EQ_INT("dip travel 0->100 mm", s->travel_ms, 700);
	/* safe_z 20 -> surface 60 at 50 mm/s (900 ms), then 30 mm at 10 mm/s (3020 ms) */
	TEST_EQ_INT("dip immerse", s->immerse_ms, 3920);
	TEST_EQ_INT("dip first-cycle dwell", s->dwell_ms, 600000);
	/* 30 mm at 5 mm/s (6010 ms), then 40 mm up at 50 mm/s (900 ms) */
	TEST_EQ_INT("dip withdraw", s->withdraw_ms, 6910);
	TEST_EQ_INT("dip drip", s->drip_ms, 10000);
	TEST_NEAR("dip depth z", s->z_mm, 90, 1e-9);
	/* step 3: rinse-1 at x=500, 35 mm at the lift's 50 mm/s: 800 ms each way */
	s = &p->steps[2];
	TEST_EQ_INT("rinse start", s->start_ms, 700 + 3920 + 600000 + 6910 + 10000);
	TEST_EQ_INT("rinse travel 100->500 mm", s->travel_ms, 2200);
	TEST_EQ_INT("rinse immerse", s->immerse_ms, 1700);
	/* step 6: three quick dips of 10 s in rinse-2 */
	s = &p->steps[5];
	TEST_EQ_INT("quick dips", s->quick_dips, 3);
	TEST_EQ_INT("quick dips dwell", s->dwell_ms, 30000);
	TEST_EQ_INT("quick dips immerse", s->immerse_ms, 900 + 3 * 800);
	TEST_EQ_INT("quick dips withdraw", s->withdraw_ms, 3 * 800 + 900);
	/* bilayer 2 by hand: 324030 + 75600 + 31200 + 323530 + 48800 + 30700 */
	for (i = 0; i < p->count; i++)
		if (p->steps[i].bilayer == 2 && p->steps[i].phase == PHASE_CYCLE)
			bilayer2_ms += p->steps[i].duration_ms;
	TEST_EQ_INT("bilayer 2 duration", bilayer2_ms, 833860);
	TEST_EQ_INT("bilayers", p->bilayers, 5);
	TEST_NEAR("thickness after 3", p->thickness_nm[3], 23.4, 1e-9);
	TEST_NEAR("final thickness", p->thickness_nm[5], 39.0, 1e-9);
	TEST_EQ_INT("ag dips", p->solutions[0].dips, 5);
	TEST_NEAR("ag drag-out volume", p->solutions[0].volume_ml, 0.25, 1e-9);
	TEST_NEAR("ag immersed area", p->solutions[0].area_cm2, 40, 1e-9);
	TEST_EQ_INT("rinse-tca quick dips counted", p->solutions[3].dips, 15);
	/* rinse-ag change_after 3 cycles: one replacement after bilayer 3, by pumps:
	 * 250 mL drained at 200 mL/min (75 s) and filled at 100 mL/min (150 s) */
	TEST_EQ_INT("rinse replacements", p->solutions[2].replacements, 1);
	for (i = 0; i < p->count && p->steps[i].kind != STEP_REPLACE; i++)
		;
	TEST_CHECK("replacement step", i < p->count && p->steps[i].bilayer == 3 &&
	    p->steps[i].dwell_ms == 225000 && !p->steps[i].operator_wait, "wrong or missing");
	TEST_EQ_INT("operator waits", p->operator_waits, 2);
	TEST_EQ_INT("last step parks", p->steps[p->count - 1].kind, STEP_MOVE);
	TEST_EQ_INT("parked", p->steps[p->count - 1].station, rig->park);
out:
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

static void
test_slow_withdrawal(void)
{
	struct recipe *r;
	struct rig *rig;
	struct plan *p = plan_example("taa-cnt-3-dip.yaml", "dip", &r, &rig);
	size_t i;

	if (p == NULL)
		goto out;
	check_timeline("slow-withdrawal timeline is contiguous", p);
	/* the rinse before "dry: slow_withdrawal 1 mm/s" leaves rinse-2 (60 mm deep) at 1 mm/s */
	for (i = 0; i < p->count; i++)
		if (p->steps[i].kind == STEP_DRY && p->steps[i].src->slow_withdrawal_mm_s > 0)
			break;
	TEST_CHECK("slow withdrawal found", i > 0 && i < p->count, "missing");
	if (i > 0 && i < p->count) {
		const struct plan_step *prev = &p->steps[i - 1];
		TEST_NEAR("slow speed applied", prev->speed_out_mm_s, 1, 1e-12);
		TEST_EQ_INT("slow withdraw time", prev->withdraw_ms, plan_move_ms(60, 1, 500) + 900);
	}
	/* cnt change_after 200 cm2 with 18 cm2 per dip: never reached in 3 dips */
	TEST_EQ_INT("cnt not replaced", p->solutions[1].replacements, 0);
	TEST_EQ_INT("measure after every bilayer", p->steps[p->count - 2].kind, STEP_MEASURE);
out:
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

static void
test_spray_roll(void)
{
	struct recipe *r;
	struct rig *rig;
	struct plan *p = plan_example("ag-tca-5-spray.yaml", "spray", &r, &rig);

	if (p != NULL) {
		check_timeline("spray timeline is contiguous", p);
		/* 20 mL/min for 5 s = 1.667 mL per spray, 5 sprays */
		TEST_NEAR("spray ag volume", p->solutions[0].volume_ml, 5 * 20 * 5 / 60.0, 1e-9);
		/* rinse: 30 mL/min for 10 s, twice per bilayer */
		TEST_NEAR("spray rinse volume", p->solutions[2].volume_ml, 10 * 30 * 10 / 60.0, 1e-9);
		TEST_EQ_INT("spray travel to booth", p->steps[1].travel_ms, plan_move_ms(250, 100, 500));
		TEST_EQ_INT("spray drain", p->steps[1].drip_ms, 10000);
	}
	plan_free(p);
	recipe_free(r);
	rig_free(rig);

	p = plan_example("ag-tca-roll.yaml", "roll", &r, &rig);
	if (p != NULL) {
		check_timeline("roll timeline is contiguous", p);
		/* 500 mm at 0.5 m/min = 60 s */
		TEST_EQ_INT("roll bath residence", p->steps[1].dwell_ms, 60000);
		/* per pass: 60+36+12+60+36+120 s in stations, 240 s run-out; rewinds between */
		TEST_EQ_INT("roll total", p->total_ms, (5 * 564 + 4 * 120) * 1000LL);
		/* top-up 2 mL/min over each 564 s pass */
		TEST_NEAR("roll top-up volume", p->solutions[0].volume_ml, 5 * 2 * 564 / 60.0, 1e-9);
		TEST_NEAR("web coated", p->web_coated_mm, 2000, 1e-9);
		TEST_NEAR("web area per bath", p->solutions[0].area_cm2, 5 * 100 * 2000 / 100.0, 1e-9);
	}
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

/* A 1,000-bilayer recipe expands fully (timing is in tests/bench/bench_plan.c). */
static void
test_large(void)
{
	static const char text[] =
	    "name: big\nversion: 1\nprocess: dip\nsubstrate: glass\ntarget: {bilayers: 1000}\n"
	    "growth: {model: linear, per_bilayer: 1 nm}\nresume: allowed\n"
	    "solutions:\n  a: {station: ag}\n  b: {station: tca}\n"
	    "  r: {station: rinse-2, rinse: true}\n"
	    "cycle:\n  - dip: {solution: a, dwell: 5s}\n"
	    "  - repeat: {times: 2, steps: [{rinse: {solution: r, dwell: 2s}}]}\n"
	    "  - dip: {solution: b, dwell: 5s}\n  - rinse: {solution: r, dwell: 2s}\n";
	char rig_path[1024];
	struct recipe *r = NULL;
	struct plan *p = NULL;
	struct rig *rig = NULL;
	struct diag d;

	snprintf(rig_path, sizeof(rig_path), "%s/tests/data/rig-dip.yaml", top);
	diag_init(&d, "big.yaml");
	rig_load(rig_path, &d, &rig);
	if (recipe_load_buffer("big.yaml", text, sizeof(text) - 1, rig, 0, &d, &r) == 0)
		plan_build(r, rig, 0, &d, &p);
	TEST_CHECK("1000 bilayers plan", p != NULL, "%d errors", d.errors);
	if (p != NULL) {
		TEST_EQ_INT("1000 bilayers steps", p->count, 1000 * 5 + 1);
		TEST_NEAR("1000 bilayers thickness", p->thickness_nm[1000], 1000, 1e-9);
		check_timeline("1000 bilayers timeline", p);
	}
	diag_free(&d);
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

int
main(void)
{
	top = getenv("LBL_TOP") ? getenv("LBL_TOP") : ".";
	test_moves();
	test_dip();
	test_slow_withdrawal();
	test_spray_roll();
	test_large();
	return TEST_DONE();
}
