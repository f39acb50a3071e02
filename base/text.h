/*
 * Bounded text that says when it was cut. A message composed from parts
 * that are not ours (a device's error, a database's) must fit where it is
 * kept; when it does not, it is cut at a UTF-8 character boundary, never
 * inside a character (which would make the record and every JSON output of
 * it invalid UTF-8), and ends with "…" so a reader knows something is
 * missing. Texts a user gives (a prompt, a substrate) are not cut: they are
 * refused beyond their documented limits (lbl_limits.h).
 */
#ifndef LBL_TEXT_H
#define LBL_TEXT_H

#include <stdarg.h>
#include <stddef.h>

/* What a cut text ends with: U+2026, three bytes in UTF-8. */
#define TEXT_CUT_MARK		"\xe2\x80\xa6"
#define TEXT_CUT_MARK_BYTES	3

/*
 * As vsnprintf into buf of size bytes (at least TEXT_CUT_MARK_BYTES + 1),
 * but a text that does not fit is cut at a character boundary and ends
 * with TEXT_CUT_MARK. Returns 0 when the text is whole, 1 when it was cut,
 * -1 when it could not be formatted (buf is then empty).
 */
int text_vformat(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int text_format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The length of the longest prefix of text, at most max bytes, that ends
 * on a UTF-8 character boundary (a continuation byte never starts what is
 * left). Never fails.
 */
size_t text_boundary(const char *text, size_t max);

/*
 * The columns text takes on a terminal: UTF-8 decoded here (lbld and
 * lblctl need no locale for it), a combining mark or a zero-width
 * character 0, an East Asian wide or fullwidth character (and an emoji) 2,
 * any other character 1, and each byte that is not valid UTF-8 1 (a
 * terminal shows it as one replacement character). Never fails.
 */
size_t text_width(const char *text);

/*
 * The spaces that pad text to width columns: 0 when it is as wide or
 * wider (a table cell is padded, never cut). For printf's "%s%*s".
 */
int text_pad(const char *text, int width);

/* one when n is 1, else many: "1 bus", "2 buses". For printf's "%d %s". */
const char *text_plural(long long n, const char *one, const char *many);

#endif
