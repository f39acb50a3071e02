/*
 * libFuzzer harness for the recipe parser, validator and planner. Inputs
 * are YAML texts; odd-length inputs are checked against the test dip rig,
 * so the rig-dependent checks are fuzzed too. Any crash, leak, ASan or
 * UBSan report is a failure, and so is a plan whose steps plan_count_steps
 * miscounts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct rig *fuzz_rig;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *top = getenv("LBL_TOP") ? getenv("LBL_TOP") : ".";
	char path[1024];
	struct diag d;

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/tests/data/rig-dip.yaml", top);
	diag_init(&d, path);
	if (rig_load(path, &d, &fuzz_rig) == -1) {
		fprintf(stderr, "fuzz: cannot load %s\n", path);
		exit(1);
	}
	diag_free(&d);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct rig *rig = size % 2 ? fuzz_rig : NULL;
	struct recipe *recipe = NULL;
	struct plan *plan = NULL;
	struct diag d;
	char *text;

	diag_init(&d, "fuzz.yaml");
	if (recipe_load_buffer("fuzz.yaml", (const char *)data, size, rig, 1700000000, &d,
	    &recipe) == 0 && plan_build(recipe, rig, 1700000000, &d, &plan) == 0) {
		/* the counting pass agrees with the planner, and allocated no more */
		uint64_t count;
		if (plan_count_steps(recipe, rig, &count) != 1 || count != plan->count ||
		    plan->cap != plan->count)
			abort();
	}
	text = diag_render(&d);
	free(text);
	diag_free(&d);
	plan_free(plan);
	recipe_free(recipe);
	return 0;
}
