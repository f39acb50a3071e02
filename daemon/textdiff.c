#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textdiff.h"

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

int
textdiff(const char *ta, const char *name_a, const char *tb, const char *name_b, int context,
    void (*out)(void *arg, const char *line), void *arg)
{
	struct textdiff_lines a = { 0 }, b = { 0 };
	struct textdiff_op *ops = NULL;
	unsigned short *lcs = NULL;
	int i, j, n = 0, changed = 0, rc = -1;
	char line[600];

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
	/* lcs[i][j]: length of the LCS of a[i..] and b[j..] */
	lcs = calloc((size_t)(a.count + 1) * (b.count + 1), sizeof(*lcs));
	ops = malloc((size_t)(a.count + b.count + 1) * sizeof(*ops));
	if (lcs == NULL || ops == NULL)
		goto out;
#define LCS(i, j) lcs[(size_t)(i) * (b.count + 1) + (j)]
	for (i = a.count - 1; i >= 0; i--)
		for (j = b.count - 1; j >= 0; j--)
			LCS(i, j) = textdiff_same(&a, i, &b, j) ? LCS(i + 1, j + 1) + 1 :
			    LCS(i + 1, j) > LCS(i, j + 1) ? LCS(i + 1, j) : LCS(i, j + 1);
	for (i = 0, j = 0; i < a.count || j < b.count;) {
		if (i < a.count && j < b.count && textdiff_same(&a, i, &b, j)) {
			ops[n++] = (struct textdiff_op){ ' ', i++, j++ };
		} else if (i < a.count && (j == b.count || LCS(i + 1, j) >= LCS(i, j + 1))) {
			/* deletions before insertions on ties, as diff -u prints them */
			ops[n++] = (struct textdiff_op){ '-', i++, j };
			changed++;
		} else {
			ops[n++] = (struct textdiff_op){ '+', i, j++ };
			changed++;
		}
	}
#undef LCS
	textdiff_emit(ops, n, &a, &b, context, out, arg);
	rc = changed;
out:
	free(a.start);
	free(a.len);
	free(b.start);
	free(b.len);
	free(lcs);
	free(ops);
	return rc;
}
