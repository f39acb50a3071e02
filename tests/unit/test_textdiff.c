/* The unified diff used by lblctl compare, checked against diff -u's output. */
#include <stdlib.h>

#include "textdiff.h"
#include "test.h"

static char out[8192];

static void
collect(void *arg, const char *line)
{
	(void)arg;
	strcat(out, line);
	strcat(out, "\n");
}

int
main(void)
{
	const char *a = "name: t\nversion: 1\nprocess: dip\ncycle:\n  - dip: {solution: a, dwell: 5min}\n"
	    "  - rinse: {solution: r, dwell: 1min}\n  - dip: {solution: b, dwell: 5min}\n";
	const char *b = "name: t\nversion: 2\nprocess: dip\ncycle:\n  - dip: {solution: a, dwell: 5min}\n"
	    "  - rinse: {solution: r, dwell: 1min}\n  - dip: {solution: b, dwell: 7min}\n";
	int n;

	out[0] = '\0';
	TEST_EQ_INT("equal texts", textdiff(a, "x", a, "y", 3, collect, NULL), 0);
	TEST_STR("nothing printed for equal texts", out, "");
	n = textdiff(a, "batch 1", b, "batch 2", 1, collect, NULL);
	TEST_EQ_INT("changed lines", n, 4);
	/* the same as: diff -U1 a b */
	TEST_STR("unified diff", out,
	    "--- batch 1\n+++ batch 2\n"
	    "@@ -1,3 +1,3 @@\n name: t\n-version: 1\n+version: 2\n process: dip\n"
	    "@@ -6,2 +6,2 @@\n   - rinse: {solution: r, dwell: 1min}\n"
	    "-  - dip: {solution: b, dwell: 5min}\n+  - dip: {solution: b, dwell: 7min}\n");
	out[0] = '\0';
	n = textdiff("a\nb\n", "x", "a\nb\nc\n", "y", 3, collect, NULL);
	TEST_EQ_INT("added line", n, 1);
	TEST_STR("added line diff", out, "--- x\n+++ y\n@@ -1,2 +1,3 @@\n a\n b\n+c\n");
	return TEST_DONE();
}
