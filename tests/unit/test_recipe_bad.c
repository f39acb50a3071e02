/*
 * The bad-recipe corpus: every tests/bad/NN-*.yaml starts with
 *   # expect: LINE:COL: message
 *   # rig: dip|spray|roll|none
 * and must be rejected with exactly that error at that position, as
 * lblctl check prints it (parse, rig checks and planning).
 */
#include <dirent.h>
#include <stdlib.h>
#include <time.h>

#include "plan.h"
#include "test.h"

static char *
read_header(const char *path, const char *key)
{
	char line[512], *value = NULL;
	size_t n = strlen(key);
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL && line[0] == '#') {
		if (strncmp(line + 2, key, n) == 0) {
			line[strcspn(line, "\n")] = '\0';
			value = strdup(line + 2 + n);
			break;
		}
	}
	fclose(f);
	return value;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
check_one(const char *top, const char *name)
{
	char path[1024], rig_path[1024], want[1700];
	char *expect, *rig_name, *text;
	struct diag d, rd;
	struct rig *rig = NULL;
	struct recipe *recipe = NULL;
	struct plan *plan = NULL;
	int rejected;

	snprintf(path, sizeof(path), "%s/tests/bad/%s", top, name);
	expect = read_header(path, "expect: ");
	rig_name = read_header(path, "rig: ");
	TEST_CHECK(name, expect && rig_name, "missing '# expect:' or '# rig:' header");
	if (!expect || !rig_name)
		goto out;
	if (strcmp(rig_name, "none") != 0) {
		snprintf(rig_path, sizeof(rig_path), "%s/tests/data/rig-%s.yaml", top, rig_name);
		diag_init(&rd, rig_path);
		if (rig_load(rig_path, &rd, &rig) == -1)
			TEST_CHECK(name, 0, "test rig %s does not load", rig_path);
		diag_free(&rd);
	}
	diag_init(&d, path);
	rejected = recipe_load(path, rig, time(NULL), &d, &recipe) == -1 ||
	    plan_build(recipe, rig, time(NULL), &d, &plan) == -1;
	text = diag_render(&d);
	snprintf(want, sizeof(want), "%s:%s", path, expect);
	want[strlen(path) + 1 + strcspn(expect, " ")] = '\0';	/* FILE:LINE:COL: */
	TEST_CHECK(name, rejected && d.errors > 0, "was accepted");
	TEST_CONTAINS(name, text, want);
	TEST_CONTAINS(name, text, strchr(expect, ' ') + 1);
	free(text);
	diag_free(&d);
	plan_free(plan);
	recipe_free(recipe);
	rig_free(rig);
out:
	free(expect);
	free(rig_name);
}

int
main(void)
{
	const char *top = getenv("LBL_TOP") ? getenv("LBL_TOP") : ".";
	char dir_path[1024], *names[256];
	struct dirent *e;
	size_t count = 0, i;
	DIR *dir;

	snprintf(dir_path, sizeof(dir_path), "%s/tests/bad", top);
	dir = opendir(dir_path);
	if (dir == NULL) {
		printf("FAIL corpus: cannot open %s\n", dir_path);
		return 1;
	}
	while ((e = readdir(dir)) != NULL && count < 256)
		if (strstr(e->d_name, ".yaml") != NULL)
			names[count++] = strdup(e->d_name);
	closedir(dir);
	qsort(names, count, sizeof(names[0]), compare_names);
	TEST_CHECK("corpus has at least 30 bad recipes", count >= 30, "only %zu", count);
	for (i = 0; i < count; i++) {
		check_one(top, names[i]);
		free(names[i]);
	}
	return TEST_DONE();
}
