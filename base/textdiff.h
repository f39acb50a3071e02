/*
 * A unified diff of two texts, line by line (Myers' O(ND) algorithm), for
 * lblctl compare. Texts are recipes and rig files (at most 1 MiB, so a few
 * thousand lines).
 */
#ifndef LBL_TEXTDIFF_H
#define LBL_TEXTDIFF_H

#include "lbl_limits.h"

/*
 * Calls out(arg, line) for each line of a unified diff of a and b with
 * context lines of context ("--- name_a", "+++ name_b", "@@ ... @@",
 * " kept", "-removed", "+added"; in each run of changes the removed lines
 * come first). Nothing is printed for equal texts. Texts with more than
 * TEXTDIFF_MAX_LINES lines (lbl_limits.h) are summarised instead. When the
 * texts, less their common first and last lines, differ in more than
 * TEXTDIFF_MAX_EDITS lines, that middle is shown as all removed, then all
 * added: a correct diff, not the shortest, and the work and memory stay
 * bounded (about TEXTDIFF_MAX_EDITS² / 2 ints, 2 MB). Returns the number of
 * changed lines, or -1 on allocation failure.
 */
int textdiff(const char *a, const char *name_a, const char *b, const char *name_b,
    int context, void (*out)(void *arg, const char *line), void *arg);

/*
 * How many pairs of lines the last textdiff() call in this thread compared:
 * the measure of its work, for tests (the LCS table it replaced compared
 * every line of one text with every line of the other).
 */
long textdiff_compares(void);

#endif
