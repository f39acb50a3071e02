/* Recipe parsing: the examples, overrides, the growth models, and the YAML guards. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "recipe.h"
#include "test.h"

static const char *top;

static struct recipe *
load_example(const char *name, const char *rig_name, struct rig **rig_out)
{
	char path[1024], rig_path[1024];
	struct recipe *r = NULL;
	struct diag d;
	char *text;

	*rig_out = NULL;
	if (rig_name != NULL) {
		snprintf(rig_path, sizeof(rig_path), "%s/tests/data/rig-%s.yaml", top, rig_name);
		diag_init(&d, rig_path);
		rig_load(rig_path, &d, rig_out);
		diag_free(&d);
	}
	snprintf(path, sizeof(path), "%s/recipes/examples/%s", top, name);
	diag_init(&d, path);
	recipe_load(path, *rig_out, time(NULL), &d, &r);
	text = diag_render(&d);
	TEST_CHECK(name, r != NULL && d.errors == 0, "%s", text ? text : "");
	free(text);
	diag_free(&d);
	return r;
}

/* Loads a recipe from text; returns the rendered diagnostics (caller frees). */
static char *
load_text(const char *text, struct recipe **out)
{
	struct diag d;
	char *rendered;

	diag_init(&d, "t.yaml");
	recipe_load_buffer("t.yaml", text, strlen(text), NULL, time(NULL), &d, out);
	rendered = diag_render(&d);
	diag_free(&d);
	return rendered;
}

static void
test_examples(void)
{
	struct recipe *r;
	struct rig *rig;

	r = load_example("ag-tca-5-dip.yaml", "dip", &rig);
	if (r != NULL) {
		TEST_STR("ag-tca name", r->name, "ag-tca-5");
		TEST_EQ_INT("ag-tca process", r->process, PROCESS_DIP);
		TEST_EQ_INT("ag-tca solutions", r->solution_count, 4);
		TEST_EQ_INT("ag-tca cycle steps", r->cycle_count, 6);
		TEST_EQ_INT("ag-tca dwell", r->cycle[0].dwell_ms, 300000);
		TEST_CHECK("ag-tca first_cycle override", r->cycle[0].first != NULL &&
		    r->cycle[0].first->dwell_ms == 600000 && r->cycle[0].first->speed_in_mm_s == 10,
		    "override missing or wrong");
		TEST_EQ_INT("ag-tca quick dips", r->cycle[4].baths[0].quick_dips, 3);
		TEST_EQ_INT("ag-tca drip", r->drip_ms, 10000);
		TEST_EQ_INT("ag-tca resume", r->resume_allowed, 1);
		TEST_EQ_INT("ag-tca change_after dips", r->solutions[0].change_after_dips, 50);
		TEST_EQ_INT("ag-tca change_after cycles", r->solutions[2].change_after_cycles, 3);
		TEST_NEAR("ag-tca speed_out", r->cycle[0].speed_out_mm_s, 5, 1e-12);
		TEST_EQ_INT("ag-tca checkpoint every", r->checkpoints[0].every_bilayers, 5);
		TEST_NEAR("ag-tca thickness 5", recipe_thickness_nm(&r->growth, 5), 39.0, 1e-9);
	}
	recipe_free(r);
	rig_free(rig);
	r = load_example("taa-cnt-3-dip.yaml", "dip", &rig);
	if (r != NULL) {
		TEST_EQ_INT("taa-cnt rinse baths", r->cycle[1].bath_count, 2);
		TEST_EQ_INT("taa-cnt quick dips", r->cycle[1].baths[1].quick_dips, 5);
		TEST_NEAR("taa-cnt agitation", r->cycle[2].agitation_rpm, 100, 1e-12);
		TEST_NEAR("taa-cnt ph", r->solutions[0].ph, 9.0, 1e-12);
		TEST_NEAR("taa-cnt thickness 3", recipe_thickness_nm(&r->growth, 3), 62.1, 1e-9);
		TEST_NEAR("taa-cnt slow withdrawal", r->cycle[4].slow_withdrawal_mm_s, 1, 1e-12);
	}
	recipe_free(r);
	rig_free(rig);
	r = load_example("ag-tca-5-spray.yaml", "spray", &rig);
	if (r != NULL)
		TEST_NEAR("spray flow", r->cycle[0].flow_ml_min, 20, 1e-12);
	recipe_free(r);
	rig_free(rig);
	r = load_example("ag-tca-roll.yaml", "roll", &rig);
	if (r != NULL) {
		TEST_NEAR("roll speed mm/s", r->line_speed_mm_s, 500.0 / 60, 1e-9);
		TEST_NEAR("roll web length", r->web_length_mm, 2000, 1e-9);
		TEST_EQ_INT("roll resume forbidden", r->resume_allowed, 0);
	}
	recipe_free(r);
	rig_free(rig);
}

static void
test_growth(void)
{
	struct recipe_growth g = { .model = GROWTH_EXPONENTIAL, .a_nm = 2, .b_nm = 9.52, .k = 0.13,
		.linear_after = 12, .nm_per_bilayer = 17.5 };
	struct recipe r;

	/* d = 2 + 9.52 e^(0.13 n), then 17.5 nm per bilayer (reference process facts) */
	TEST_NEAR("exponential n=5", recipe_thickness_nm(&g, 5), 20.235948688, 1e-6);
	TEST_NEAR("exponential then linear n=14", recipe_thickness_nm(&g, 14), 82.303978254, 1e-6);
	TEST_NEAR("zero bilayers", recipe_thickness_nm(&g, 0), 0, 0);
	memset(&r, 0, sizeof(r));
	r.growth.model = GROWTH_LINEAR;
	r.growth.nm_per_bilayer = 7.8;
	r.target_thickness_nm = 40;
	r.max_bilayers = 10;
	TEST_EQ_INT("bilayers for 40 nm at 7.8 nm", recipe_bilayer_count(&r), 6);
	r.max_bilayers = 5;
	TEST_EQ_INT("bilayers capped", recipe_bilayer_count(&r), 5);
	r.target_thickness_nm = 0;
	r.target_bilayers = 3;
	TEST_EQ_INT("bilayers from target", recipe_bilayer_count(&r), 3);
}

static const char *minimal =
    "name: t\nversion: 1\nprocess: dip\nsubstrate: glass\ntarget: {bilayers: 2}\n"
    "growth: {model: linear, per_bilayer: 5 nm}\nresume: allowed\n"
    "solutions:\n  a: {station: s1}\n  b: {station: s2}\n  r: {station: s3, rinse: true}\n"
    "cycle:\n  - dip: {solution: a, dwell: 1min}\n  - rinse: {solution: r, dwell: 30s}\n"
    "  - dip: {solution: b, dwell: 1min}\n  - rinse: {solution: r, dwell: 30s}\n";

static void
test_guards(void)
{
	struct recipe *r = NULL;
	char *text, *big, path[] = "/tmp/lbl-test-XXXXXX";
	struct diag d;
	size_t i;
	int fd;

	text = load_text(minimal, &r);
	TEST_CHECK("minimal recipe loads", r != NULL, "%s", text);
	TEST_STR("version number kept as text", r ? r->version : NULL, "1");
	free(text);
	recipe_free(r);

	/*
	 * A prompt's text: RECIPE_MAX_PROMPT_BYTES of multi-byte characters is
	 * kept whole; one byte more is refused at its line and column, naming
	 * the limit, in the map and in the shorthand form.
	 */
	{
		size_t size = strlen(minimal) + 2 * RECIPE_MAX_PROMPT_BYTES + 64, n;
		char *msg = malloc(RECIPE_MAX_PROMPT_BYTES + 2), *yaml = malloc(size);
		char want[128];
		if (msg != NULL && yaml != NULL) {
			/* "€" is three bytes; the limit is not a multiple of three: an "a" pads */
			for (n = 0; n + 3 <= RECIPE_MAX_PROMPT_BYTES; n += 3)
				memcpy(msg + n, "\xe2\x82\xac", 3);
			while (n < RECIPE_MAX_PROMPT_BYTES)
				msg[n++] = 'a';
			msg[n] = '\0';
			snprintf(yaml, size, "%spre:\n  - prompt: {message: \"%s\"}\n", minimal, msg);
			text = load_text(yaml, &r);
			TEST_CHECK("a prompt at the limit is whole", r != NULL && r->pre_count == 1 &&
			    strcmp(r->pre[0].message, msg) == 0, "%s", text);
			free(text);
			recipe_free(r);
			strcat(msg, "a");
			snprintf(yaml, size, "%spre:\n  - prompt: {message: \"%s\"}\n", minimal, msg);
			text = load_text(yaml, &r);
			snprintf(want, sizeof(want), "t.yaml:18:23: error: 'message': %d bytes; a "
			    "prompt's text may have %d bytes at most", RECIPE_MAX_PROMPT_BYTES + 1,
			    RECIPE_MAX_PROMPT_BYTES);
			TEST_CONTAINS("a prompt one byte over is refused at its place", text, want);
			TEST_CHECK("and gives no recipe", r == NULL, "recipe returned");
			free(text);
			snprintf(yaml, size, "%spre:\n  - prompt: \"%s\"\n", minimal, msg);
			text = load_text(yaml, &r);
			TEST_CONTAINS("and in the shorthand form", text, "t.yaml:18:13: error: "
			    "'message': ");
			TEST_CHECK("which gives no recipe either", r == NULL, "recipe returned");
			free(text);
		}
		free(msg);
		free(yaml);
	}

	/* a billion-laughs bomb is stopped at its first anchor */
	text = load_text("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", &r);
	TEST_CONTAINS("alias bomb refused", text, "t.yaml:1:4: error: anchors are not allowed");
	TEST_CHECK("alias bomb gives no recipe", r == NULL, "recipe returned");
	free(text);

	text = load_text("", &r);
	TEST_CONTAINS("empty file", text, "expected a YAML mapping");
	free(text);
	text = load_text("- a\n- b\n", &r);
	TEST_CONTAINS("list at top", text, "t.yaml:1:1: error: recipe: expected a mapping");
	free(text);

	big = malloc(200);
	for (i = 0; i < 70; i++)
		big[i] = '[';
	big[70] = '\0';
	text = load_text(big, &r);
	TEST_CONTAINS("deep nesting refused", text, "nesting deeper than 64 levels");
	free(text);
	free(big);

	/*
	 * CONF_MAX_NODES values: a map, its key, a list and the list's items
	 * ("- x" from line 2 on); one more is refused where it starts.
	 */
	{
		struct conf_doc *doc = NULL;
		size_t items = CONF_MAX_NODES - 3, len = 3 + 4 * (items + 1);
		char want[64];
		big = malloc(len + 1);
		if (big == NULL)
			abort();
		memcpy(big, "a:\n", 3);
		for (i = 0; i < items + 1; i++)
			memcpy(big + 3 + 4 * i, "- x\n", 4);
		big[len] = '\0';
		diag_init(&d, "t.yaml");
		TEST_CHECK("CONF_MAX_NODES values", conf_load_buffer("t.yaml", big, len - 4, &d,
		    &doc) == 0 && d.errors == 0, "%d errors", d.errors);
		conf_free(doc);
		diag_free(&d);
		diag_init(&d, "t.yaml");
		TEST_CHECK("one value more refused", conf_load_buffer("t.yaml", big, len, &d,
		    &doc) == -1 && doc == NULL, "accepted");
		text = diag_render(&d);
		snprintf(want, sizeof(want), "t.yaml:%d:3: error: more than %d values",
		    CONF_MAX_NODES - 1, CONF_MAX_NODES);
		TEST_CONTAINS("one value more refused", text, want);
		free(text);
		diag_free(&d);
		free(big);
	}

	/* over 1 MiB: refused before parsing */
	fd = mkstemp(path);
	big = calloc(1, CONF_MAX_FILE_BYTES + 2);
	memset(big, '#', CONF_MAX_FILE_BYTES + 1);
	TEST_CHECK("write big file", fd != -1 && write(fd, big, CONF_MAX_FILE_BYTES + 1) ==
	    CONF_MAX_FILE_BYTES + 1, "write failed");
	close(fd);
	diag_init(&d, path);
	TEST_CHECK("file over 1 MiB refused", recipe_load(path, NULL, time(NULL), &d, &r) == -1 &&
	    d.errors == 1 && strstr(d.entries[0].message, "larger than"), "accepted");
	diag_free(&d);
	unlink(path);
	free(big);

	diag_init(&d, "/nonexistent/r.yaml");
	TEST_CHECK("missing file", recipe_load("/nonexistent/r.yaml", NULL, 0, &d, &r) == -1 &&
	    strstr(d.entries[0].message, "No such file"), "no error");
	diag_free(&d);

	/* every error is reported, not just the first */
	text = load_text("name: t\nversion: 1\nprocess: dip\nsubstrate: g\n"
	    "target: {bilayers: 2}\ngrowth: {model: linear, per_bilayer: 5}\nresume: yes\n"
	    "solutions:\n  a: {station: s1}\n  b: {station: s2}\ncycle:\n"
	    "  - dip: {solution: a, dwell: 5}\n  - dip: {solution: b, dwell: 1min, depht: 3 mm}\n",
	    &r);
	TEST_CONTAINS("all errors: growth unit", text, "t.yaml:6:38: error: 'per_bilayer'");
	TEST_CONTAINS("all errors: resume", text, "t.yaml:7:9: error: 'resume'");
	TEST_CONTAINS("all errors: dwell", text, "t.yaml:12:31: error: 'dwell'");
	TEST_CONTAINS("all errors: typo", text, "t.yaml:13:37: error: unknown key 'depht'");
	TEST_CHECK("a typo does not cascade", strstr(text, "coats with") == NULL, "%s", text);
	free(text);
}

int
main(void)
{
	top = getenv("LBL_TOP") ? getenv("LBL_TOP") : ".";
	test_examples();
	test_growth();
	test_guards();
	return TEST_DONE();
}
