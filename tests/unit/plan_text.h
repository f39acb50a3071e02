/*
 * Planning a recipe given as text, for the unit tests of the planner and
 * the compiler (test_plan.c, test_compile.c): the recipe is named "r.yaml"
 * in every diagnostic, so a test can expect "r.yaml:LINE:COL: error: ...".
 */
#ifndef LBL_TEST_PLAN_TEXT_H
#define LBL_TEST_PLAN_TEXT_H

#include <string.h>

#include "conf.h"
#include "plan.h"

/*
 * Loads and plans recipe text yaml on rig (NULL: no rig, no time checks)
 * at time 0. Returns the plan, or NULL when the recipe or its plan was
 * refused; *r is the recipe (NULL when refused) and *text the rendered
 * diagnostics (warnings too), both for the caller to free.
 */
static inline struct plan *
plan_text(const char *yaml, const struct rig *rig, struct recipe **r, char **text)
{
	struct plan *p = NULL;
	struct diag d;

	*r = NULL;
	diag_init(&d, "r.yaml");
	if (recipe_load_buffer("r.yaml", yaml, strlen(yaml), rig, 0, &d, r) == 0)
		plan_build(*r, rig, 0, &d, &p);
	*text = diag_render(&d);
	diag_free(&d);
	return p;
}

#endif
