/*
 * A unified diff of two texts, line by line (LCS), for lblctl compare.
 * Texts are recipes and rig files (at most 1 MiB, so a few thousand lines).
 */
#ifndef LBL_TEXTDIFF_H
#define LBL_TEXTDIFF_H

/*
 * Calls out(arg, line) for each line of a unified diff of a and b with
 * context lines of context ("--- name_a", "+++ name_b", "@@ ... @@",
 * " kept", "-removed", "+added"). Nothing is printed for equal texts.
 * Texts with more than TEXTDIFF_MAX_LINES lines are summarised instead.
 * Returns the number of changed lines, or -1 on allocation failure.
 */
#define TEXTDIFF_MAX_LINES 4000
int textdiff(const char *a, const char *name_a, const char *b, const char *name_b,
    int context, void (*out)(void *arg, const char *line), void *arg);

#endif
