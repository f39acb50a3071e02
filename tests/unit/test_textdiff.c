/*
 * The unified diff used by lblctl compare, checked against diff -u's
 * output; its scripts checked to be exact and shortest (against an LCS
 * table computed here) on random texts; and its work counted in line
 * comparisons against the LCS table's n·m on long recipes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "textdiff.h"
#include "test.h"

/* Collected diff output: one string, lines ending in newlines. */
static char *out;
static size_t out_len, out_cap;

static void
collect(void *arg, const char *line)
{
	size_t n = strlen(line);

	(void)arg;
	if (out_len + n + 2 > out_cap) {
		out_cap = (out_len + n + 2) * 2;
		if ((out = realloc(out, out_cap)) == NULL)
			abort();
	}
	memcpy(out + out_len, line, n);
	out_len += n;
	out[out_len++] = '\n';
	out[out_len] = '\0';
}

static void
reset(void)
{
	out_len = 0;
	if (out != NULL)
		out[0] = '\0';
}

static const char *
got(void)
{
	return out != NULL ? out : "";
}

/* Text of count lines, line i being "line N" with N = f(i). */
static char *
lines(int count, int (*f)(int))
{
	char *t = malloc((size_t)count * 64 + 1), *p = t;
	int i;

	if (t == NULL)
		abort();
	*p = '\0';
	for (i = 0; i < count; i++)
		p += sprintf(p, "  - dip: {solution: s%d, dwell: %dmin}\n", f(i), f(i) % 7 + 1);
	return t;
}

static int ident(int i) { return i; }
static int other(int i) { return i + 100000; }

/* The length of the LCS of two line arrays, by the table the diff replaced. */
static int
lcs_length(char **a, int n, char **b, int m)
{
	int *row = calloc((size_t)(m + 1) * 2, sizeof(int)), i, j, r;

	if (row == NULL)
		abort();
	for (i = n - 1; i >= 0; i--)
		for (j = m - 1; j >= 0; j--) {
			int *cur = row + (i % 2) * (m + 1), *below = row + ((i + 1) % 2) * (m + 1);
			cur[j] = strcmp(a[i], b[j]) == 0 ? below[j + 1] + 1 :
			    below[j] > cur[j + 1] ? below[j] : cur[j + 1];
		}
	r = row[0];
	free(row);
	return r;
}

static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/*
 * Random texts over a small alphabet of lines: the diff with all context
 * must give back a (kept and removed lines) and b (kept and added), and
 * change exactly n + m - 2 LCS lines, the shortest script.
 */
static int
random_trial(int trial)
{
	char *a[40], *b[40], ta[400], tb[400], ra[400], rb[400], *p, *q, *save;
	int n = (int)(rng() % 30), m = (int)(rng() % 30), i, changed, ok;
	static char alphabet[6][4] = { "a", "b", "c", "d", "e", "f" };

	ta[0] = tb[0] = ra[0] = rb[0] = '\0';
	for (i = 0; i < n; i++) {
		a[i] = alphabet[rng() % (trial % 2 ? 6 : 3)];
		strcat(ta, a[i]);
		strcat(ta, "\n");
	}
	for (i = 0; i < m; i++) {
		b[i] = alphabet[rng() % (trial % 2 ? 6 : 3)];
		strcat(tb, b[i]);
		strcat(tb, "\n");
	}
	reset();
	changed = textdiff(ta, "a", tb, "b", 100, collect, NULL);
	if (strcmp(ta, tb) == 0)
		return changed == 0 && out_len == 0;
	if (changed != n + m - 2 * lcs_length(a, n, b, m))
		return 0;
	/* one hunk with every line: rebuild both texts from it */
	p = strtok_r(out, "\n", &save);
	ok = p != NULL && strcmp(p, "--- a") == 0;
	p = strtok_r(NULL, "\n", &save);
	ok = ok && p != NULL && strcmp(p, "+++ b") == 0;
	p = strtok_r(NULL, "\n", &save);
	ok = ok && p != NULL && strncmp(p, "@@ ", 3) == 0;
	while ((q = strtok_r(NULL, "\n", &save)) != NULL) {
		if (q[0] != '+') {
			strcat(ra, q + 1);
			strcat(ra, "\n");
		}
		if (q[0] != '-') {
			strcat(rb, q + 1);
			strcat(rb, "\n");
		}
	}
	return ok && strcmp(ra, ta) == 0 && strcmp(rb, tb) == 0;
}

int
main(void)
{
	const char *a = "name: t\nversion: 1\nprocess: dip\ncycle:\n  - dip: {solution: a, dwell: 5min}\n"
	    "  - rinse: {solution: r, dwell: 1min}\n  - dip: {solution: b, dwell: 5min}\n";
	const char *b = "name: t\nversion: 2\nprocess: dip\ncycle:\n  - dip: {solution: a, dwell: 5min}\n"
	    "  - rinse: {solution: r, dwell: 1min}\n  - dip: {solution: b, dwell: 7min}\n";
	char *big_a, *big_b, *p, *diff_start;
	long work, table;
	int n, i, bad;

	reset();
	TEST_EQ_INT("equal texts", textdiff(a, "x", a, "y", 3, collect, NULL), 0);
	TEST_STR("nothing printed for equal texts", got(), "");
	n = textdiff(a, "batch 1", b, "batch 2", 1, collect, NULL);
	TEST_EQ_INT("changed lines", n, 4);
	/* the same as: diff -U1 a b */
	TEST_STR("unified diff", got(),
	    "--- batch 1\n+++ batch 2\n"
	    "@@ -1,3 +1,3 @@\n name: t\n-version: 1\n+version: 2\n process: dip\n"
	    "@@ -6,2 +6,2 @@\n   - rinse: {solution: r, dwell: 1min}\n"
	    "-  - dip: {solution: b, dwell: 5min}\n+  - dip: {solution: b, dwell: 7min}\n");
	reset();
	n = textdiff("a\nb\n", "x", "a\nb\nc\n", "y", 3, collect, NULL);
	TEST_EQ_INT("added line", n, 1);
	TEST_STR("added line diff", got(), "--- x\n+++ y\n@@ -1,2 +1,3 @@\n a\n b\n+c\n");

	/* insertions at the start and in the middle (diff -U1) */
	reset();
	n = textdiff("a\nb\nc\nd\ne\nf\n", "x", "new\na\nb\nc\nX\nY\nd\ne\nf\n", "y", 1, collect,
	    NULL);
	TEST_EQ_INT("insertions: changed lines", n, 3);
	TEST_STR("insertions: diff", got(), "--- x\n+++ y\n@@ -1,1 +1,2 @@\n+new\n a\n"
	    "@@ -3,2 +4,4 @@\n c\n+X\n+Y\n d\n");
	/* deletions: the first line, and two at the end */
	reset();
	n = textdiff("a\nb\nc\nd\ne\nf\ng\n", "x", "b\nc\nd\ne\n", "y", 1, collect, NULL);
	TEST_EQ_INT("deletions: changed lines", n, 3);
	TEST_STR("deletions: diff", got(), "--- x\n+++ y\n@@ -1,2 +1,1 @@\n-a\n b\n"
	    "@@ -5,3 +4,1 @@\n e\n-f\n-g\n");
	/* a changed run: removed lines first, as diff -u prints them */
	reset();
	n = textdiff("k\na\nb\nk\n", "x", "k\nc\nd\ne\nk\n", "y", 1, collect, NULL);
	TEST_EQ_INT("replaced run: changed lines", n, 5);
	TEST_STR("replaced run: removed lines before added ones", got(),
	    "--- x\n+++ y\n@@ -1,4 +1,5 @@\n k\n-a\n-b\n+c\n+d\n+e\n k\n");
	/* completely different texts: all removed, then all added */
	reset();
	n = textdiff("a\nb\nc\n", "x", "d\ne\n", "y", 3, collect, NULL);
	TEST_EQ_INT("completely different: changed lines", n, 5);
	TEST_STR("completely different: diff", got(),
	    "--- x\n+++ y\n@@ -1,3 +1,2 @@\n-a\n-b\n-c\n+d\n+e\n");
	/* a text without a final newline */
	reset();
	n = textdiff("a\nb", "x", "a\nc", "y", 3, collect, NULL);
	TEST_STR("no final newline", got(), "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n");

	/* random texts: exact and shortest scripts */
	bad = 0;
	for (i = 0; i < 2000; i++)
		if (!random_trial(i) && bad++ < 3)
			printf("random trial %d: wrong script:\n%s", i, got());
	TEST_EQ_INT("2,000 random pairs: every script exact and shortest", bad, 0);

	/*
	 * Two 4,000-line recipes that differ in a line changed, or in one removed
	 * and one added: the diff shows just those, and compares about
	 * a line per line, not the n·m of the LCS table (16 million).
	 */
	big_a = lines(4000, ident);
	big_b = lines(4000, ident);
	p = strstr(big_b, "s1000,");
	p[1] = 'X';				/* one line changed */
	reset();
	n = textdiff(big_a, "a", big_b, "b", 0, collect, NULL);
	work = textdiff_compares();
	table = 4000L * 4000L;
	TEST_EQ_INT("4,000 lines, one changed: changed lines", n, 2);
	TEST_STR("4,000 lines, one changed: diff", got(), "--- a\n+++ b\n@@ -1001,1 +1001,1 @@\n"
	    "-  - dip: {solution: s1000, dwell: 7min}\n+  - dip: {solution: sX000, dwell: 7min}\n");
	TEST_CHECK("4,000 lines, one changed: work under 1/1000 of the LCS table's",
	    work * 1000 < table, "%ld comparisons, the table %ld", work, table);
	free(big_b);
	{
		/* line 11 removed, a line added after line 3,000 */
		size_t len = strlen(big_a);
		char *l10 = strstr(big_a, "  - dip: {solution: s10,"), *l11 = strstr(big_a,
		    "  - dip: {solution: s11,"), *l3k = strstr(big_a, "  - dip: {solution: s3000,");
		big_b = malloc(len + 200);
		memcpy(big_b, big_a, (size_t)(l10 - big_a));
		p = big_b + (l10 - big_a);
		memcpy(p, l11, (size_t)(l3k - l11));
		p += l3k - l11;
		p += sprintf(p, "  - wait: 1min\n");
		strcpy(p, l3k);
	}
	reset();
	n = textdiff(big_a, "a", big_b, "b", 1, collect, NULL);
	work = textdiff_compares();
	TEST_EQ_INT("4,000 lines, a deletion and an insertion: changed lines", n, 2);
	TEST_STR("4,000 lines, a deletion and an insertion: diff", got(),
	    "--- a\n+++ b\n@@ -10,3 +10,2 @@\n"
	    "   - dip: {solution: s9, dwell: 3min}\n"
	    "-  - dip: {solution: s10, dwell: 4min}\n"
	    "   - dip: {solution: s11, dwell: 5min}\n"
	    "@@ -3000,2 +2999,3 @@\n"
	    "   - dip: {solution: s2999, dwell: 4min}\n"
	    "+  - wait: 1min\n"
	    "   - dip: {solution: s3000, dwell: 5min}\n");
	TEST_CHECK("4,000 lines, two edits: work under 1/100 of the LCS table's",
	    work * 100 < table, "%ld comparisons, the table %ld", work, table);
	free(big_b);

	/*
	 * Two 4,000-line texts with no line in common: past TEXTDIFF_MAX_EDITS
	 * the middle is shown replaced whole, and the work stays bounded.
	 */
	big_b = lines(4000, other);
	reset();
	n = textdiff(big_a, "a", big_b, "b", 0, collect, NULL);
	work = textdiff_compares();
	TEST_EQ_INT("4,000 different lines: every line changed", n, 8000);
	diff_start = strstr(got(), "@@");
	TEST_CHECK("4,000 different lines: one hunk, all removed then all added",
	    diff_start != NULL && strncmp(diff_start, "@@ -1,4000 +1,4000 @@\n-", 23) == 0 &&
	    strstr(got(), "+  - dip: {solution: s100000,") > strstr(got(),
	    "-  - dip: {solution: s3999,"), "%.200s", got());
	TEST_CHECK("4,000 different lines: work bounded by the edit cap, under the LCS table's",
	    work < (long)(TEXTDIFF_MAX_EDITS + 1) * (TEXTDIFF_MAX_EDITS + 2) && work < table,
	    "%ld comparisons", work);
	free(big_a);
	free(big_b);
	free(out);
	return TEST_DONE();
}
