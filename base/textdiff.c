/*
 * The line diff behind lblctl compare: Myers' O(ND) algorithm ("An O(ND)
 * Difference Algorithm and Its Variations", 1986), greedy and forward,
 * with the furthest-reaching path of every diagonal kept for each D so the
 * edit script can be walked back. Time is O((N+M)·D) and memory O(D²)
 * for texts of N and M lines that differ in D lines: near-linear on two
 * versions of one recipe, where the LCS table this replaced cost N·M
 * whatever the difference (60 compares of two 3,900-line recipes took a
 * second). D is capped at TEXTDIFF_MAX_EDITS; past it the differing middle
 * is shown as wholly replaced, rather than spending quadratic memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textdiff.h"

/* Line comparisons of the last textdiff() in this thread (textdiff_compares). */
static _Thread_local long textdiff_compare_count;

struct textdiff_lines {
	const char **start;
	int *len;
	int count;
};

static int
textdiff_split(const char *text, struct textdiff_lines *l)
{
	const char *p;
	int n = 1, i = 0;

	for (p = text; *p; p++)
		n += *p == '\n';
	l->start = malloc(n * sizeof(*l->start));
	l->len = malloc(n * sizeof(*l->len));
	if (l->start == NULL || l->len == NULL)
		return -1;
	for (p = text; *p; i++) {
		const char *nl = strchr(p, '\n');
		l->start[i] = p;
		l->len[i] = nl ? (int)(nl - p) : (int)strlen(p);
		p = nl ? nl + 1 : p + l->len[i];
	}
	l->count = i;
	return 0;
}

static int
textdiff_same(const struct textdiff_lines *a, int i, const struct textdiff_lines *b, int j)
{
	textdiff_compare_count++;
	return a->len[i] == b->len[j] && memcmp(a->start[i], b->start[j], a->len[i]) == 0;
}

/* One edit-script entry: ' ', '-' or '+' with the line it shows. */
struct textdiff_op {
	char tag;
	int a, b;
};

static void
textdiff_emit(const struct textdiff_op *ops, int n_ops, const struct textdiff_lines *a,
    const struct textdiff_lines *b, int context, void (*out)(void *, const char *), void *arg)
{
	char line[1200];
	int i = 0;

	while (i < n_ops) {
		int first, last, j, a0, b0, na = 0, nb = 0;
		if (ops[i].tag == ' ') {
			i++;
			continue;
		}
		/* a hunk: changes joined when fewer than 2*context equal lines separate them */
		first = i - context < 0 ? 0 : i - context;
		while (first < i && ops[first].tag != ' ')
			first++;
		last = i;
		for (j = i; j < n_ops; j++) {
			if (ops[j].tag != ' ')
				last = j;
			else if (j - last > 2 * context)
				break;
		}
		last = last + context >= n_ops ? n_ops - 1 : last + context;
		a0 = b0 = -1;
		for (j = first; j <= last; j++) {
			if (ops[j].tag != '+') {
				na++;
				if (a0 == -1)
					a0 = ops[j].a;
			}
			if (ops[j].tag != '-') {
				nb++;
				if (b0 == -1)
					b0 = ops[j].b;
			}
		}
		snprintf(line, sizeof(line), "@@ -%d,%d +%d,%d @@", a0 + 1, na, b0 + 1, nb);
		out(arg, line);
		for (j = first; j <= last; j++) {
			const struct textdiff_lines *l = ops[j].tag == '+' ? b : a;
			int k = ops[j].tag == '+' ? ops[j].b : ops[j].a;
			snprintf(line, sizeof(line), "%c%.*s", ops[j].tag, l->len[k] > 1100 ? 1100 :
			    l->len[k], l->start[k]);
			out(arg, line);
		}
		i = last + 1;
	}
}

long
textdiff_compares(void)
{
	return textdiff_compare_count;
}

/*
 * The furthest x reached on each diagonal k = x - y after d edits, for
 * every d so far: row d holds the d + 1 diagonals -d, -d + 2, ..., d (the
 * others cannot be reached in d edits), at offset d(d+1)/2.
 */
struct textdiff_trace {
	int *x;
	size_t cap;
};

#define TEXTDIFF_ROW(d)		((size_t)(d) * ((size_t)(d) + 1) / 2)
#define TEXTDIFF_AT(t, d, k)	((t)->x[TEXTDIFF_ROW(d) + (size_t)(((k) + (d)) / 2)])

/* Makes room for row d; -1 when memory runs out. */
static int
textdiff_trace_row(struct textdiff_trace *t, int d)
{
	size_t need = TEXTDIFF_ROW(d + 1), cap;
	int *x;

	if (need <= t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : 1024;
	while (cap < need)
		cap *= 2;
	if ((x = realloc(t->x, cap * sizeof(*x))) == NULL)
		return -1;
	t->x = x;
	t->cap = cap;
	return 0;
}

/*
 * Where the best path of d edits onto diagonal k starts its last snake:
 * down from diagonal k + 1 of row d - 1 (an insertion) or right from k - 1
 * (a deletion), whichever reaches further while staying inside the n by m
 * grid; down on a tie. Returns x, or -1 when neither move stays inside,
 * and says which move in *down.
 */
static int
textdiff_from(const struct textdiff_trace *t, int d, int k, int n, int m, int *down)
{
	int xd = -1, xr = -1;

	if (k + 1 <= d - 1 && (xd = TEXTDIFF_AT(t, d - 1, k + 1)) != -1 && xd - k > m)
		xd = -1;
	if (k - 1 >= -(d - 1) && (xr = TEXTDIFF_AT(t, d - 1, k - 1)) != -1 && ++xr > n)
		xr = -1;
	*down = xd != -1 && xd >= xr;
	return *down ? xd : xr;
}

/*
 * The shortest edit script from a[a0..a0+n) to b[b0..b0+m), appended to
 * ops from *n_ops on. Returns the number of edits D, TEXTDIFF_MAX_EDITS + 1
 * when D is larger (nothing appended), or -1 when memory runs out.
 */
static int
textdiff_myers(const struct textdiff_lines *a, int a0, int n, const struct textdiff_lines *b,
    int b0, int m, struct textdiff_op *ops, int *n_ops)
{
	struct textdiff_trace t = { NULL, 0 };
	int d, k, x, y, found = -1, i, down;

	for (d = 0; d <= TEXTDIFF_MAX_EDITS && d <= n + m && found == -1; d++) {
		if (textdiff_trace_row(&t, d) == -1) {
			free(t.x);
			return -1;
		}
		for (k = -d; k <= d; k += 2) {
			x = d == 0 ? 0 : textdiff_from(&t, d, k, n, m, &down);
			if (x == -1) {
				TEXTDIFF_AT(&t, d, k) = -1;	/* off the grid: leads nowhere */
				continue;
			}
			y = x - k;
			while (x < n && y < m && textdiff_same(a, a0 + x, b, b0 + y))
				x++, y++;
			TEXTDIFF_AT(&t, d, k) = x;
			if (x == n && y == m) {
				found = d;
				break;
			}
		}
	}
	if (found == -1) {
		free(t.x);
		return TEXTDIFF_MAX_EDITS + 1;
	}
	/*
	 * Walk back from (n, m), writing the script from its end. It holds
	 * every line of both texts, the kept ones once: n + m = 2 kept + D,
	 * so (n + m + D) / 2 entries.
	 */
	x = n;
	y = m;
	i = *n_ops + (n + m + found) / 2;
	for (d = found; d > 0; d--) {
		int px, py, sx;
		k = x - y;
		px = textdiff_from(&t, d, k, n, m, &down);
		/* (px, py) is where the edit starts; the snake runs from sx to x */
		if (down) {
			py = px - k - 1;
			sx = px;
		} else {
			px--;
			py = px - k + 1;
			sx = px + 1;
		}
		while (x > sx) {
			x--, y--;
			ops[--i] = (struct textdiff_op){ ' ', a0 + x, b0 + y };
		}
		ops[--i] = (struct textdiff_op){ down ? '+' : '-', a0 + px, b0 + py };
		x = px;
		y = py;
	}
	while (x > 0) {
		x--, y--;
		ops[--i] = (struct textdiff_op){ ' ', a0 + x, b0 + y };
	}
	*n_ops += (n + m + found) / 2;
	free(t.x);
	return found;
}

/*
 * Within each run of changes, deletions go before insertions, as diff -u
 * prints them: the lines of a and of b in a run are each consecutive, so
 * the script stays exact.
 */
static void
textdiff_order(struct textdiff_op *ops, int n_ops, struct textdiff_op *tmp)
{
	int i = 0, j, n;

	while (i < n_ops) {
		if (ops[i].tag == ' ') {
			i++;
			continue;
		}
		for (j = i; j < n_ops && ops[j].tag != ' '; j++)
			;
		n = 0;
		for (int p = i; p < j; p++)
			if (ops[p].tag == '-')
				tmp[n++] = ops[p];
		for (int p = i; p < j; p++)
			if (ops[p].tag == '+')
				tmp[n++] = ops[p];
		memcpy(ops + i, tmp, (size_t)n * sizeof(*ops));
		i = j;
	}
}

int
textdiff(const char *ta, const char *name_a, const char *tb, const char *name_b, int context,
    void (*out)(void *arg, const char *line), void *arg)
{
	struct textdiff_lines a = { 0 }, b = { 0 };
	struct textdiff_op *ops = NULL, *tmp = NULL;
	int i, pre, suf, n = 0, changed = 0, rc = -1, edits;
	char line[600];

	textdiff_compare_count = 0;
	if (strcmp(ta, tb) == 0)
		return 0;
	if (textdiff_split(ta, &a) == -1 || textdiff_split(tb, &b) == -1)
		goto out;
	snprintf(line, sizeof(line), "--- %s", name_a);
	out(arg, line);
	snprintf(line, sizeof(line), "+++ %s", name_b);
	out(arg, line);
	if (a.count > TEXTDIFF_MAX_LINES || b.count > TEXTDIFF_MAX_LINES) {
		snprintf(line, sizeof(line), "@@ texts of %d and %d lines differ (too long to "
		    "show) @@", a.count, b.count);
		out(arg, line);
		rc = 1;
		goto out;
	}
	ops = malloc((size_t)(a.count + b.count + 1) * sizeof(*ops));
	tmp = malloc((size_t)(a.count + b.count + 1) * sizeof(*tmp));
	if (ops == NULL || tmp == NULL)
		goto out;
	/* the common head and tail cost one comparison a line */
	for (pre = 0; pre < a.count && pre < b.count && textdiff_same(&a, pre, &b, pre); pre++)
		ops[n++] = (struct textdiff_op){ ' ', pre, pre };
	for (suf = 0; suf < a.count - pre && suf < b.count - pre &&
	    textdiff_same(&a, a.count - 1 - suf, &b, b.count - 1 - suf); suf++)
		;
	edits = textdiff_myers(&a, pre, a.count - pre - suf, &b, pre, b.count - pre - suf, ops,
	    &n);
	if (edits == -1)
		goto out;
	if (edits > TEXTDIFF_MAX_EDITS) {
		/* too different to be worth the memory: the middle, replaced whole */
		for (i = pre; i < a.count - suf; i++)
			ops[n++] = (struct textdiff_op){ '-', i, pre };
		for (i = pre; i < b.count - suf; i++)
			ops[n++] = (struct textdiff_op){ '+', a.count - suf, i };
	}
	for (i = 0; i < suf; i++)
		ops[n++] = (struct textdiff_op){ ' ', a.count - suf + i, b.count - suf + i };
	textdiff_order(ops, n, tmp);
	for (i = 0; i < n; i++)
		changed += ops[i].tag != ' ';
	textdiff_emit(ops, n, &a, &b, context, out, arg);
	rc = changed;
out:
	free(a.start);
	free(a.len);
	free(b.start);
	free(b.len);
	free(ops);
	free(tmp);
	return rc;
}
