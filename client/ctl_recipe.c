/*
 * lblctl check and plan: validate a recipe (optionally against a rig) and
 * print its timeline. Exit 0 valid, 2 invalid, 1 on other failures.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "plan.h"
#include "text.h"

struct ctl_recipe_args {
	const char *recipe_path;
	const char *rig_path;
	int json;
};

static int
ctl_recipe_parse_args(int argc, char **argv, struct ctl_recipe_args *a, int allow_json)
{
	static const struct option options[] = {
		{ "rig", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 } };
	int c;

	memset(a, 0, sizeof(*a));
	optind = 0;		/* glibc starts afresh (lblctl_main parsed with another optstring) */
	while ((c = getopt_long(argc, argv, "r:j", options, NULL)) != -1) {
		if (c == 'r')
			a->rig_path = optarg;
		else if (c == 'j' && allow_json)
			a->json = 1;
		else
			return -1;
	}
	if (optind != argc - 1)
		return -1;
	a->recipe_path = argv[optind];
	return 0;
}

/* Prints the diagnostics of d to stderr; returns the number of errors. */
static int
ctl_report(const struct diag *d)
{
	char *text = diag_render(d);

	if (text != NULL) {
		fputs(text, stderr);
		free(text);
	}
	return d->errors;
}

/*
 * Loads rig (if given), recipe and plan. Every diagnostic is printed.
 * Returns 0 with *plan_out set (caller frees all three), or the exit code.
 */
static int
ctl_load_all(const struct ctl_recipe_args *a, struct rig **rig, struct recipe **recipe,
    struct plan **plan)
{
	struct diag rig_diag, recipe_diag;
	int64_t now = time(NULL);
	int rc = 0;

	*rig = NULL;
	*recipe = NULL;
	*plan = NULL;
	if (a->rig_path != NULL) {
		diag_init(&rig_diag, a->rig_path);
		if (rig_load(a->rig_path, &rig_diag, rig) == -1)
			rc = 2;
		ctl_report(&rig_diag);
		diag_free(&rig_diag);
		if (rc != 0) {
			fprintf(stderr, "lblctl: the rig file is invalid; the recipe was not "
			    "checked against it\n");
			return rc;
		}
	}
	diag_init(&recipe_diag, a->recipe_path);
	if (recipe_load(a->recipe_path, *rig, now, &recipe_diag, recipe) == -1 ||
	    plan_build(*recipe, *rig, now, &recipe_diag, plan) == -1)
		rc = 2;
	ctl_report(&recipe_diag);
	diag_free(&recipe_diag);
	if (rc != 0) {
		recipe_free(*recipe);
		rig_free(*rig);
		*recipe = NULL;
		*rig = NULL;
	}
	return rc;
}

int
ctl_check(int argc, char **argv)
{
	struct ctl_recipe_args a;
	struct recipe *recipe;
	struct plan *plan;
	struct rig *rig;
	int rc;

	if (ctl_recipe_parse_args(argc, argv, &a, 0) == -1) {
		fprintf(stderr, "usage: lblctl check RECIPE [--rig RIG]\n");
		return 2;
	}
	rc = ctl_load_all(&a, &rig, &recipe, &plan);
	if (rc == 0) {
		printf("%s: ok: %s version %s, %s, %d %s, %.1f nm estimated\n",
		    a.recipe_path, recipe->name, recipe->version,
		    recipe_process_names[recipe->process], plan->bilayers,
		    text_plural(plan->bilayers, "bilayer", "bilayers"),
		    plan->thickness_nm[plan->bilayers]);
		plan_free(plan);
		recipe_free(recipe);
		rig_free(rig);
	}
	return rc;
}

int
ctl_plan(int argc, char **argv)
{
	struct ctl_recipe_args a;
	struct recipe *recipe;
	struct plan *plan;
	struct rig *rig;
	int rc;

	if (ctl_recipe_parse_args(argc, argv, &a, 1) == -1) {
		fprintf(stderr, "usage: lblctl plan RECIPE [--rig RIG] [--json]\n");
		return 2;
	}
	rc = ctl_load_all(&a, &rig, &recipe, &plan);
	if (rc != 0)
		return rc;
	if ((a.json ? plan_print_json(plan, stdout) : plan_print_text(plan, stdout)) == -1 ||
	    fflush(stdout) == EOF) {
		perror("lblctl: writing the plan");
		rc = 1;
	}
	plan_free(plan);
	recipe_free(recipe);
	rig_free(rig);
	return rc;
}
