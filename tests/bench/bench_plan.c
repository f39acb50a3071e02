/*
 * Planning time: parses and plans a 1,000- and a 10,000-bilayer dip recipe
 * against the test rig, and prints the best and median of several runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "plan.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
bench(const struct rig *rig, int bilayers)
{
	char text[2048];
	double times[21];
	size_t steps = 0;
	int i, n;

	n = snprintf(text, sizeof(text),
	    "name: big\nversion: 1\nprocess: dip\nsubstrate: {name: glass, area: 4 cm2}\n"
	    "target: {bilayers: %d}\ngrowth: {model: linear, per_bilayer: 1 nm}\nresume: allowed\n"
	    "solutions:\n  a: {station: ag}\n  b: {station: tca}\n"
	    "  r: {station: rinse-1, rinse: true, volume: 250 mL, change_after: {cycles: 10}}\n"
	    "cycle:\n  - dip: {solution: a, dwell: 5s}\n  - rinse: {solution: r, dwell: 2s}\n"
	    "  - dry: {valve: n2, station: dryer, time: 5s}\n"
	    "  - dip: {solution: b, dwell: 5s}\n  - rinse: {solution: r, quick_dips: 3, dwell: 2s}\n",
	    bilayers);
	for (i = 0; i < 21; i++) {
		struct recipe *r = NULL;
		struct plan *p = NULL;
		struct diag d;
		double t0 = now_ms();

		diag_init(&d, "bench.yaml");
		if (recipe_load_buffer("bench.yaml", text, (size_t)n, rig, 0, &d, &r) == 0)
			plan_build(r, rig, 0, &d, &p);
		times[i] = now_ms() - t0;
		if (p == NULL) {
			fprintf(stderr, "bench: the recipe did not plan (%d errors)\n", d.errors);
			exit(1);
		}
		steps = p->count;
		diag_free(&d);
		plan_free(p);
		recipe_free(r);
	}
	qsort(times, 21, sizeof(times[0]), compare_double);
	printf("plan %5d bilayers (%6zu steps): best %.2f ms, median %.2f ms\n", bilayers, steps,
	    times[0], times[10]);
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
	bench(rig, 1000);
	bench(rig, 10000);
	rig_free(rig);
	return 0;
}
