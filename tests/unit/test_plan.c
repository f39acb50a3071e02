/*
 * The planner's arithmetic, checked against values computed by hand from
 * tests/data/rig-*.yaml (trapezoidal moves: t = d/v + v/a when d >= v^2/a,
 * else 2*sqrt(d/a)).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan.h"
#include "plan_text.h"
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

/* ---- the plan's JSON in pieces (plan_json), as lbld's plan request sends it ---- */

struct pieces {
	char *text;
	size_t len;
	int count, stop_after;
	size_t longest;
	int ends_ok;		/* every piece but the last ends after a step ('}') */
	char last_end;
};

static int
pieces_sink(void *arg, const char *text, size_t len)
{
	struct pieces *p = arg;
	char *more = realloc(p->text, p->len + len + 1);

	if (more == NULL)
		return -1;
	memcpy(more + p->len, text, len);
	p->text = more;
	p->len += len;
	p->text[p->len] = '\0';
	if (p->count > 0 && p->last_end != '}')
		p->ends_ok = 0;
	p->last_end = text[len - 1];
	if (len > p->longest)
		p->longest = len;
	p->count++;
	return p->stop_after && p->count == p->stop_after ? -1 : 0;
}

static void
test_json_pieces(void)
{
	static const char text[] =
	    "name: big\nversion: 1\nprocess: dip\nsubstrate: glass\ntarget: {bilayers: 1000}\n"
	    "growth: {model: linear, per_bilayer: 1 nm}\nresume: allowed\n"
	    "solutions:\n  a: {station: ag}\n  b: {station: tca}\n"
	    "  r: {station: rinse-2, rinse: true}\n"
	    "cycle:\n  - dip: {solution: a, dwell: 5s}\n  - rinse: {solution: r, dwell: 2s}\n"
	    "  - dip: {solution: b, dwell: 5s}\n  - rinse: {solution: r, dwell: 2s}\n";
	char rig_path[1024], *whole = NULL;
	size_t whole_len = 0;
	struct pieces pc = { .ends_ok = 1 };
	struct recipe *r = NULL;
	struct plan *p = NULL;
	struct rig *rig = NULL;
	struct diag d;
	FILE *out;

	snprintf(rig_path, sizeof(rig_path), "%s/tests/data/rig-dip.yaml", top);
	diag_init(&d, "big.yaml");
	rig_load(rig_path, &d, &rig);
	if (recipe_load_buffer("big.yaml", text, sizeof(text) - 1, rig, 0, &d, &r) == 0)
		plan_build(r, rig, 0, &d, &p);
	TEST_CHECK("pieces: a 1000-bilayer plan", p != NULL, "%d errors", d.errors);
	if (p == NULL)
		goto out;
	/* plan_print_json's one line is the pieces joined */
	if ((out = open_memstream(&whole, &whole_len)) != NULL) {
		TEST_EQ_INT("pieces: plan_print_json", plan_print_json(p, out), 0);
		fclose(out);
	}
	TEST_EQ_INT("pieces: plan_json", plan_json(p, pieces_sink, &pc), 0);
	TEST_CHECK("pieces: joined, the document plan_print_json prints", whole != NULL &&
	    pc.text != NULL && whole_len == pc.len + 1 && memcmp(whole, pc.text, pc.len) == 0 &&
	    whole[pc.len] == '\n', "%zu against %zu bytes", whole_len, pc.len);
	TEST_CHECK("pieces: many, each about PLAN_JSON_PIECE_BYTES", pc.count > 4 &&
	    pc.longest < PLAN_JSON_PIECE_BYTES + 4096, "%d pieces, longest %zu", pc.count,
	    pc.longest);
	TEST_CHECK("pieces: each but the last ends after a step", pc.ends_ok, "a piece ends "
	    "inside a step");
	/* a sink that says stop ends it there */
	free(pc.text);
	memset(&pc, 0, sizeof(pc));
	pc.stop_after = 2;
	TEST_EQ_INT("pieces: a sink that stops", plan_json(p, pieces_sink, &pc),
	    -PLAN_JSON_SINK_STOPPED);
	TEST_EQ_INT("pieces: nothing after the stop", pc.count, 2);
out:
	free(pc.text);
	free(whole);
	diag_free(&d);
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

/* ---- the plan's size, counted before it is expanded ---- */

/* The count equals the plan's, and lies within plan_size's bounds. */
static void
check_count(const char *name, const struct recipe *r, const struct rig *rig,
    const struct plan *p)
{
	struct plan_size size;
	uint64_t count = 0;
	int exact;
	char what[128];

	plan_size(r, rig, &size);
	exact = plan_count_steps(r, rig, &count);
	snprintf(what, sizeof(what), "%s: counted exactly", name);
	TEST_CHECK(what, exact == 1 && count == p->count, "exact %d, %llu counted, %zu planned",
	    exact, (unsigned long long)count, p->count);
	snprintf(what, sizeof(what), "%s: within the bounds", name);
	TEST_CHECK(what, size.least <= p->count && p->count <= size.most,
	    "%llu..%llu, %zu planned", (unsigned long long)size.least,
	    (unsigned long long)size.most, p->count);
	snprintf(what, sizeof(what), "%s: allocated at its count", name);
	TEST_CHECK(what, p->cap == p->count, "cap %zu, count %zu", p->cap, p->count);
}

static void
test_count_examples(void)
{
	static const char *const examples[][2] = {
		{ "ag-tca-5-dip.yaml", "dip" }, { "taa-cnt-3-dip.yaml", "dip" },
		{ "ag-tca-5-spray.yaml", "spray" }, { "ag-tca-roll.yaml", "roll" },
	};
	struct plan_size size;
	struct recipe *r;
	struct rig *rig;
	struct plan *p;
	struct diag d;
	size_t i;

	for (i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		p = plan_example(examples[i][0], examples[i][1], &r, &rig);
		if (p != NULL) {
			check_count(examples[i][0], r, rig, p);
			plan_free(p);
			/* without a rig: no park at the end */
			p = NULL;
			diag_init(&d, examples[i][0]);
			plan_build(r, NULL, time(NULL), &d, &p);
			diag_free(&d);
			TEST_CHECK(examples[i][0], p != NULL, "no plan without a rig");
			if (p != NULL)
				check_count(examples[i][0], r, NULL, p);
		}
		plan_free(p);
		recipe_free(r);
		rig_free(rig);
	}
	/* no change_after dips or area: the structure alone gives the count */
	p = plan_example("ag-tca-5-spray.yaml", "spray", &r, &rig);
	if (p != NULL) {
		plan_size(r, rig, &size);
		TEST_CHECK("spray example: bounds agree", size.least == size.most &&
		    size.least == p->count, "%llu..%llu, %zu planned",
		    (unsigned long long)size.least, (unsigned long long)size.most, p->count);
	}
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
	/* change_after dips (ag), area (cnt): the bounds differ and the planner counts */
	p = plan_example("ag-tca-5-dip.yaml", "dip", &r, &rig);
	if (p != NULL) {
		plan_size(r, rig, &size);
		TEST_CHECK("dip example: bounds differ", size.least == p->count &&
		    size.most > size.least, "%llu..%llu", (unsigned long long)size.least,
		    (unsigned long long)size.most);
	}
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
	p = plan_example("taa-cnt-3-dip.yaml", "dip", &r, &rig);
	if (p != NULL) {
		plan_size(r, rig, &size);
		TEST_CHECK("cnt example: bounds differ", size.least < size.most, "%llu..%llu",
		    (unsigned long long)size.least, (unsigned long long)size.most);
	}
	plan_free(p);
	recipe_free(r);
	rig_free(rig);
}

#define HEAD "name: t\nversion: 1\nprocess: dip\nsubstrate: {name: g, area: 4 cm2}\n"
#define SOLUTIONS "growth: {model: linear, per_bilayer: 1 nm}\nresume: allowed\n" \
	"solutions:\n  a: {station: ag}\n  b: {station: tca}\n" \
	"  r: {station: rinse-1, rinse: true%s}\n  r2: {station: rinse-2, rinse: true}\n"

/* Shapes the counter must follow, each against the planner and by hand. */
static void
test_count_shapes(void)
{
	static const struct {
		const char *name, *yaml;
		size_t steps;		/* by hand, without a rig */
	} shapes[] = {
		{ "first-cycle baths", HEAD "target: {bilayers: 4}\n" SOLUTIONS
		    "cycle:\n  - dip: {solution: a, dwell: 5s}\n"
		    "  - rinse: {solution: r, dwell: 2s, first_cycle: {baths: [{solution: r, dwell: 1s},"
		    " {solution: r2, dwell: 1s}, {solution: r, dwell: 1s}]}}\n"
		    "  - dip: {solution: b, dwell: 5s}\n", 5 + 3 * 3 },
		{ "nested repeats, checkpoints, replacements every 3", HEAD
		    "target: {bilayers: 9}\n" SOLUTIONS
		    "pre: [{repeat: {times: 2, steps: [{wait: 1s}, {repeat: {times: 3, steps: "
		    "[{wait: 1s}, {rinse: {baths: [{solution: r, dwell: 1s}, {solution: r2, dwell: 1s, "
		    "quick_dips: 3}]}}]}}]}}]\n"
		    "cycle: [{dip: {solution: a, dwell: 5s}}, {rinse: {solution: r2, dwell: 1s}}, "
		    "{dip: {solution: b, dwell: 5s}}]\n"
		    "every: [{bilayers: 3, do: [{wait: 1s}, {prompt: look}]}, {bilayers: 4, do: "
		    "[{wait: 1s}]}]\npost: [{wait: 1s}]\n",
		    2 * (1 + 3 * 3) + 9 * 3 + 3 * 2 + 2 * 1 + 8 / 3 + 1 },
		{ "change_after dips", HEAD "target: {bilayers: 7}\n" SOLUTIONS
		    "cycle: [{dip: {solution: a, dwell: 5s}}, {rinse: {solution: r, dwell: 1s, "
		    "quick_dips: 2}}, {dip: {solution: b, dwell: 5s}}, {rinse: {solution: r, "
		    "dwell: 1s}}]\n",
		    /* r: 2 then 1 dips a bilayer; replaced before it would pass 5 dips:
		     * before the second use of bilayers 2 and 5, the first of 4 and 7 */
		    7 * 4 + 4 },
	};
	static const char *const after[] = { "", ", change_after: {cycles: 3}",
		", change_after: {dips: 5}" };
	char yaml[2048], *text;
	struct recipe *r;
	struct plan *p;
	size_t i;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		snprintf(yaml, sizeof(yaml), shapes[i].yaml, after[i]);
		p = plan_text(yaml, NULL, &r, &text);
		TEST_CHECK(shapes[i].name, p != NULL, "%s", text);
		if (p != NULL) {
			check_count(shapes[i].name, r, NULL, p);
			TEST_EQ_INT(shapes[i].name, p->count, shapes[i].steps);
		}
		free(text);
		plan_free(p);
		recipe_free(r);
	}
}

/*
 * A recipe of bilayers x a ten-step cycle (using r four times), with
 * pre_waits waits before it.
 */
static char *
limit_recipe(int bilayers, int pre_waits, const char *change_after)
{
	static const char wait[] = "  - wait: 1s\n";
	size_t size = 4096 + (size_t)pre_waits * (sizeof(wait) - 1), n;
	char *yaml = malloc(size);
	int i;

	if (yaml == NULL)
		return NULL;
	n = (size_t)snprintf(yaml, size, HEAD "target: {bilayers: %d}\n" SOLUTIONS, bilayers,
	    change_after);
	if (pre_waits > 0)
		n += (size_t)snprintf(yaml + n, size - n, "pre:\n");
	for (i = 0; i < pre_waits; i++) {
		memcpy(yaml + n, wait, sizeof(wait) - 1);
		n += sizeof(wait) - 1;
	}
	snprintf(yaml + n, size - n, "cycle:\n"
	    "  - dip: {solution: a, dwell: 5s}\n  - rinse: {solution: r, dwell: 2s}\n"
	    "  - wait: 1s\n  - rinse: {solution: r, dwell: 2s}\n  - dry: {valve: n2, time: 5s}\n"
	    "  - dip: {solution: b, dwell: 5s}\n  - rinse: {solution: r, dwell: 2s}\n"
	    "  - wait: 1s\n  - rinse: {solution: r, dwell: 2s}\n  - dry: {valve: n2, time: 5s}\n");
	return yaml;
}

/* Plans a limit_recipe: accepted with want steps, or refused with message at 5:20. */
static void
check_limit(const char *name, int bilayers, int pre_waits, const char *change_after,
    size_t want, const char *message)
{
	char *yaml = limit_recipe(bilayers, pre_waits, change_after), *text = NULL, what[160];
	struct recipe *r = NULL;
	struct plan *p = NULL;

	if (yaml != NULL)
		p = plan_text(yaml, NULL, &r, &text);
	if (message == NULL) {
		TEST_CHECK(name, p != NULL, "refused: %s", text ? text : "?");
		if (p != NULL) {
			TEST_EQ_INT(name, p->count, want);
			TEST_EQ_INT(name, p->cap, want);
			check_timeline(name, p);
		}
	} else {
		TEST_CHECK(name, p == NULL, "accepted with %zu steps", p ? p->count : 0);
		/* at the target's bilayers: 'target: {bilayers: N}' on line 5 */
		snprintf(what, sizeof(what), "r.yaml:5:20: error: %s", message);
		TEST_CONTAINS(name, text, what);
	}
	free(text);
	free(yaml);
	plan_free(p);
	recipe_free(r);
}

static void
test_limit(void)
{
	/* 10,000 bilayers of ten steps, without a rig (no park): exactly the limit */
	check_limit("the limit exactly", 10000, 0, "", PLAN_MAX_STEPS, NULL);
	check_limit("one step over the limit", 10000, 1, "", 0,
	    "this recipe expands to 100,001 steps; a plan may have at most 100,000 (");
	/*
	 * 8,000 bilayers using r 4 times each, replaced every 2 dips: 80,000
	 * steps, 15,999 replacements, and 4,001 waits before. The bounds,
	 * 84,001 to 116,001, straddle the limit: the planner counts, keeping
	 * no step.
	 */
	check_limit("the limit exactly, with replacements", 8000, 4001,
	    ", change_after: {dips: 2}", PLAN_MAX_STEPS, NULL);
	check_limit("one over, with replacements", 8000, 4002, ", change_after: {dips: 2}", 0,
	    "this recipe expands to 100,001 steps; a plan may have at most 100,000 (");
	check_limit("replaced at every use", 8000, 0, ", change_after: {dips: 1}", 0,
	    "this recipe expands to 111,999 steps;");
	/* the least over the limit already: no count of the replacements */
	check_limit("the least over the limit", 10000, 1, ", change_after: {dips: 2}", 0,
	    "this recipe expands to at least 100,001 steps;");
}

/* The error names the construct that makes the recipe big. */
static void
test_culprit(void)
{
	static const struct {
		const char *name, *yaml, *at;
	} cases[] = {
		{ "a repeat of 10,000 over 5 bilayers", HEAD "target: {bilayers: 5}\n" SOLUTIONS
		    "cycle:\n  - dip: {solution: a, dwell: 5s}\n  - repeat:\n      times: 10000\n"
		    "      steps: [{rinse: {solution: r, dwell: 2s}}]\n"
		    "  - dip: {solution: b, dwell: 5s}\n"
		    "  - repeat: {times: 10000, steps: [{rinse: {solution: r, dwell: 2s}}]}\n",
		    "r.yaml:16:14: error: this recipe expands to 100,010 steps;" },
		{ "10,000 bilayers over a repeat of 20", HEAD "target: {bilayers: 10000}\n"
		    SOLUTIONS "cycle:\n  - dip: {solution: a, dwell: 5s}\n"
		    "  - repeat: {times: 20, steps: [{rinse: {solution: r, dwell: 2s}}]}\n"
		    "  - dip: {solution: b, dwell: 5s}\n",
		    "r.yaml:5:20: error: this recipe expands to 220,000 steps;" },
		{ "max_bilayers caps a thickness target", HEAD
		    "target: {thickness: 20 um, max_bilayers: 10000}\n" SOLUTIONS
		    "cycle: [{dip: {solution: a, dwell: 5s}}, {rinse: {baths: [{solution: r, "
		    "dwell: 1s}, {solution: r2, dwell: 1s}]}}, {dip: {solution: b, dwell: 5s}}, "
		    "{rinse: {baths: [{solution: r, dwell: 1s}, {solution: r2, dwell: 1s}]}}, "
		    "{wait: 1s}, {wait: 1s}, {wait: 1s}, {wait: 1s}, {wait: 1s}, {wait: 1s}, "
		    "{wait: 1s}]\n",
		    "r.yaml:5:42: error: this recipe expands to 130,000 steps;" },
		{ "a checkpoint every bilayer", HEAD "target: {bilayers: 10000}\n" SOLUTIONS
		    "cycle: [{dip: {solution: a, dwell: 5s}}, {dip: {solution: b, dwell: 5s}}]\n"
		    "every:\n  - {bilayers: 1, do: [{wait: 1s}, {wait: 1s}, {wait: 1s}, "
		    "{wait: 1s}, {wait: 1s}, {wait: 1s}, {wait: 1s}, {wait: 1s}, {wait: 1s}]}\n",
		    "r.yaml:15:16: error: this recipe expands to 110,000 steps;" },
		{ "a repeat in pre", HEAD "target: {bilayers: 1}\n" SOLUTIONS
		    "pre:\n  - repeat: {times: 10000, steps: [{wait: 1s}, {wait: 1s}, "
		    "{wait: 1s}, {wait: 1s}, {wait: 1s}, {wait: 1s}, {wait: 1s}, {wait: 1s}, "
		    "{wait: 1s}, {wait: 1s}, {wait: 1s}]}\n"
		    "cycle: [{dip: {solution: a, dwell: 5s}}, {dip: {solution: b, dwell: 5s}}]\n",
		    "r.yaml:14:21: error: this recipe expands to 110,002 steps;" },
	};
	char yaml[2048], *text;
	struct recipe *r;
	struct plan *p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml), cases[i].yaml, "");
		p = plan_text(yaml, NULL, &r, &text);
		TEST_CHECK(cases[i].name, p == NULL, "accepted");
		TEST_CONTAINS(cases[i].name, text, cases[i].at);
		free(text);
		plan_free(p);
		recipe_free(r);
	}
}

/*
 * Products far past 64 bits saturate: no overflow (UBSan would abort the
 * sanitized build), no expansion, and the count says it is a floor.
 */
static void
test_count_overflow(void)
{
	struct recipe_step waits[1], levels[8], cycle[1];
	struct recipe hand;
	struct plan_size size;
	struct diag d;
	struct plan *p = NULL;
	struct recipe *r;
	char yaml[4096], *text;
	uint64_t count;
	int n, i, exact;

	/* 10,000 bilayers of 8 nested repeats of 10,000: 10^36 steps */
	n = snprintf(yaml, sizeof(yaml), HEAD "target: {bilayers: 10000}\n" SOLUTIONS
	    "cycle:\n  - dip: {solution: a, dwell: 5s}\n  - dip: {solution: b, dwell: 5s}\n", "");
	for (i = 0; i < 8; i++)
		n += snprintf(yaml + n, sizeof(yaml) - n, "%*s- repeat:\n%*stimes: 10000\n%*ssteps:\n",
		    2 + 6 * i, "", 6 + 6 * i, "", 6 + 6 * i, "");
	snprintf(yaml + n, sizeof(yaml) - n, "%*s- wait: 1s\n", 2 + 6 * i, "");
	p = plan_text(yaml, NULL, &r, &text);
	TEST_CHECK("10^36 steps refused", p == NULL, "accepted");
	TEST_CONTAINS("10^36 steps refused", text, "r.yaml:5:20: error: this recipe expands to "
	    "at least 18,446,744,073,709,551,615 steps; a plan may have at most 100,000");
	if (r != NULL) {
		plan_size(r, NULL, &size);
		TEST_CHECK("10^36 saturates", size.least == UINT64_MAX && size.most == UINT64_MAX,
		    "%llu", (unsigned long long)size.least);
	}
	free(text);
	plan_free(p);
	recipe_free(r);

	/* a change_after bound over the limit: only the least is known */
	snprintf(yaml, sizeof(yaml), HEAD "target: {bilayers: 10000}\n" SOLUTIONS
	    "cycle:\n  - dip: {solution: a, dwell: 5s}\n"
	    "  - repeat: {times: 100, steps: [{rinse: {solution: r, dwell: 1s}}]}\n"
	    "  - dip: {solution: b, dwell: 5s}\n", ", change_after: {dips: 7}");
	p = plan_text(yaml, NULL, &r, &text);
	TEST_CONTAINS("a floor when replacements decide", text, "r.yaml:5:20: error: this recipe "
	    "expands to at least 1,020,000 steps;");
	if (r != NULL) {
		exact = plan_count_steps(r, NULL, &count);
		TEST_CHECK("a floor when replacements decide", exact == 0 && count == 1020000,
		    "exact %d, %llu", exact, (unsigned long long)count);
	}
	free(text);
	plan_free(p);
	recipe_free(r);

	/*
	 * Numbers the parser refuses, built by hand: a repeat of 10^9 in a
	 * repeat of 10^9 is 10^18 steps, still exact; INT_MAX bilayers of eight
	 * repeats of INT_MAX saturate.
	 */
	memset(&hand, 0, sizeof(hand));
	memset(waits, 0, sizeof(waits));
	memset(levels, 0, sizeof(levels));
	memset(cycle, 0, sizeof(cycle));
	waits[0].kind = STEP_WAIT;
	waits[0].solution = -1;
	for (i = 0; i < 8; i++) {
		levels[i].kind = STEP_REPEAT;
		levels[i].solution = -1;
		levels[i].times = 1000000000;
		levels[i].steps = i == 0 ? waits : &levels[i - 1];
		levels[i].step_count = 1;
	}
	hand.process = PROCESS_DIP;
	hand.target_bilayers = 1;
	hand.max_bilayers = 1;
	hand.cycle = &levels[1];
	hand.cycle_count = 1;
	plan_size(&hand, NULL, &size);
	TEST_CHECK("10^9 x 10^9 exact", size.least == 1000000000000000000ULL &&
	    size.most == size.least, "%llu", (unsigned long long)size.least);
	diag_init(&d, "hand");
	TEST_CHECK("10^9 x 10^9 refused", plan_build(&hand, NULL, 0, &d, &p) == -1 && p == NULL,
	    "accepted");
	text = diag_render(&d);
	TEST_CONTAINS("10^9 x 10^9 refused", text,
	    "expands to 1,000,000,000,000,000,000 steps; a plan may have at most 100,000");
	free(text);
	diag_free(&d);
	for (i = 0; i < 8; i++)
		levels[i].times = INT_MAX;
	hand.target_bilayers = hand.max_bilayers = INT_MAX;
	cycle[0] = levels[7];
	hand.cycle = cycle;
	plan_size(&hand, NULL, &size);
	TEST_CHECK("INT_MAX^9 saturates", size.least == UINT64_MAX, "%llu",
	    (unsigned long long)size.least);
	diag_init(&d, "hand");
	TEST_CHECK("INT_MAX^9 refused", plan_build(&hand, NULL, 0, &d, &p) == -1, "accepted");
	text = diag_render(&d);
	TEST_CONTAINS("INT_MAX^9 refused", text, "at least 18,446,744,073,709,551,615 steps");
	free(text);
	diag_free(&d);
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
	test_json_pieces();
	test_count_examples();
	test_count_shapes();
	test_limit();
	test_culprit();
	test_count_overflow();
	return TEST_DONE();
}
