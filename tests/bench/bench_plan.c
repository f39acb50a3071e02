/*
 * Planning time: parses and plans a 1,000- and a 10,000-bilayer dip recipe
 * against the test rig, and one at the plan's limit (PLAN_MAX_STEPS), and
 * times the refusal of one that expands to 2,000,601 steps; prints the best
 * and median of several runs, and what a plan holds per step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"
#include "plan.h"

#define BENCH_RUNS	21

static const char bench_head[] =
    "name: big\nversion: 1\nprocess: dip\nsubstrate: {name: glass, area: 4 cm2}\n"
    "target: {bilayers: %d}\ngrowth: {model: linear, per_bilayer: 1 nm}\nresume: allowed\n"
    "solutions:\n  a: {station: ag}\n  b: {station: tca}\n"
    "  r: {station: rinse-1, rinse: true, volume: 250 mL, change_after: {cycles: 10}}\n"
    "  r2: {station: rinse-2, rinse: true}\ncycle:\n";
/* five steps a bilayer */
static const char bench_cycle5[] =
    "  - dip: {solution: a, dwell: 5s}\n  - rinse: {solution: r, dwell: 2s}\n"
    "  - dry: {valve: n2, station: dryer, time: 5s}\n"
    "  - dip: {solution: b, dwell: 5s}\n  - rinse: {solution: r, quick_dips: 3, dwell: 2s}\n";
/* ten: each coating rinsed twice and dried, and two waits */
static const char bench_cycle10[] =
    "  - dip: {solution: a, dwell: 5s}\n  - rinse: {solution: r, dwell: 2s}\n"
    "  - rinse: {solution: r2, dwell: 2s}\n  - dry: {valve: n2, station: dryer, time: 5s}\n"
    "  - dip: {solution: b, dwell: 5s}\n  - rinse: {solution: r, dwell: 2s}\n"
    "  - rinse: {solution: r2, dwell: 2s}\n  - dry: {valve: n2, station: dryer, time: 5s}\n"
    "  - wait: 1s\n  - wait: 1s\n";
/* 10,000 rinses a bilayer */
static const char bench_huge[] =
    "  - dip: {solution: a, dwell: 5s}\n  - rinse: {solution: r2, dwell: 2s}\n"
    "  - repeat: {times: 10000, steps: [{rinse: {solution: r2, dwell: 1s}}]}\n"
    "  - dip: {solution: b, dwell: 5s}\n";

/* Parses and plans bilayers of cycle BENCH_RUNS times; refused: it must be refused. */
static void
bench(const struct rig *rig, const char *what, int bilayers, const char *cycle, int refused)
{
	char text[4096];
	double times[BENCH_RUNS];
	size_t steps = 0;
	int i, n;

	n = snprintf(text, sizeof(text), bench_head, bilayers);
	n += snprintf(text + n, sizeof(text) - (size_t)n, "%s", cycle);
	if (n <= 0 || (size_t)n >= sizeof(text)) {
		fprintf(stderr, "bench: recipe text too long\n");
		exit(1);
	}
	for (i = 0; i < BENCH_RUNS; i++) {
		struct recipe *r = NULL;
		struct plan *p = NULL;
		struct diag d;
		double t0 = bench_now_ms();

		diag_init(&d, "bench.yaml");
		if (recipe_load_buffer("bench.yaml", text, (size_t)n, rig, 0, &d, &r) == 0)
			plan_build(r, rig, 0, &d, &p);
		times[i] = bench_now_ms() - t0;
		if ((p == NULL) != refused) {
			fprintf(stderr, "bench: %s was %s (%d errors)\n", what, p ? "planned" :
			    "refused", d.errors);
			exit(1);
		}
		if (p != NULL)
			steps = p->count;
		diag_free(&d);
		plan_free(p);
		recipe_free(r);
	}
	qsort(times, BENCH_RUNS, sizeof(times[0]), bench_compare_double);
	if (refused)
		printf("%s: refused, best %.3f ms, median %.3f ms\n", what, times[0],
		    times[BENCH_RUNS / 2]);
	else
		printf("%s (%6zu steps, %.1f MB): best %.2f ms, median %.2f ms\n", what, steps,
		    steps * sizeof(struct plan_step) / 1e6, times[0], times[BENCH_RUNS / 2]);
}

int
main(int argc, char **argv)
{
	const char *rig_path = argc > 1 ? argv[1] : "tests/data/rig-dip.yaml";
	struct rig *rig = NULL;
	struct diag d;

	diag_init(&d, rig_path);
	if (rig_load(rig_path, &d, &rig) == -1) {
		fprintf(stderr, "bench: cannot load %s\n", rig_path);
		return 1;
	}
	diag_free(&d);
	printf("a plan step: %zu bytes; at most %d steps (PLAN_MAX_STEPS)\n",
	    sizeof(struct plan_step), PLAN_MAX_STEPS);
	bench(rig, "plan  1000 bilayers", 1000, bench_cycle5, 0);
	bench(rig, "plan 10000 bilayers", 10000, bench_cycle5, 0);
	bench(rig, "plan  9900 bilayers of 10", 9900, bench_cycle10, 0);
	bench(rig, "2,000,601 steps", 200, bench_huge, 1);
	rig_free(rig);
	return 0;
}
