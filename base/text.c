/*
 * Bounded text, cut only at a character boundary and marked. See text.h.
 */
#include <stdio.h>
#include <string.h>

#include "text.h"

/* A UTF-8 continuation byte: 10xxxxxx. */
#define TEXT_IS_CONTINUATION(c)	(((unsigned char)(c) & 0xc0) == 0x80)

size_t
text_boundary(const char *text, size_t max)
{
	size_t len = strnlen(text, max);

	if (len < max || text[len] == '\0')
		return len;
	/* text[len] is the first byte left out: it must start a character */
	while (len > 0 && TEXT_IS_CONTINUATION(text[len]))
		len--;
	return len;
}

int
text_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t keep;
	int n;

	if (size == 0)
		return -1;
	if ((n = vsnprintf(buf, size, fmt, ap)) < 0) {
		buf[0] = '\0';
		return -1;
	}
	if ((size_t)n < size)
		return 0;
	if (size < TEXT_CUT_MARK_BYTES + 1) {
		buf[0] = '\0';
		return 1;
	}
	/* buf holds size - 1 bytes of the text: keep what ends on a boundary, then the mark */
	keep = text_boundary(buf, size - 1 - TEXT_CUT_MARK_BYTES);
	memcpy(buf + keep, TEXT_CUT_MARK, TEXT_CUT_MARK_BYTES + 1);
	return 1;
}

int
text_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = text_vformat(buf, size, fmt, ap);
	va_end(ap);
	return rc;
}

/* Code point ranges, inclusive, each sorted: the zero-width and the double-width ones. */
static const struct text_range {
	unsigned from, to;
} text_zero_width[] = {
	{ 0x0300, 0x036f }, { 0x0483, 0x0489 }, { 0x0591, 0x05bd }, { 0x0610, 0x061a },
	{ 0x064b, 0x065f }, { 0x0e31, 0x0e31 }, { 0x0e34, 0x0e3a }, { 0x0e47, 0x0e4e },
	{ 0x1ab0, 0x1aff }, { 0x1dc0, 0x1dff }, { 0x200b, 0x200f }, { 0x202a, 0x202e },
	{ 0x2060, 0x2064 }, { 0x20d0, 0x20ff }, { 0xfe00, 0xfe0f }, { 0xfe20, 0xfe2f },
	{ 0xfeff, 0xfeff }, { 0xe0100, 0xe01ef },
}, text_double_width[] = {
	{ 0x1100, 0x115f }, { 0x231a, 0x231b }, { 0x2329, 0x232a }, { 0x23e9, 0x23ec },
	{ 0x2614, 0x2615 }, { 0x2e80, 0x303e }, { 0x3041, 0x33ff }, { 0x3400, 0x4dbf },
	{ 0x4e00, 0x9fff }, { 0xa000, 0xa4cf }, { 0xa960, 0xa97f }, { 0xac00, 0xd7a3 },
	{ 0xf900, 0xfaff }, { 0xfe10, 0xfe19 }, { 0xfe30, 0xfe6f }, { 0xff00, 0xff60 },
	{ 0xffe0, 0xffe6 }, { 0x1f300, 0x1f64f }, { 0x1f900, 0x1f9ff }, { 0x20000, 0x2fffd },
	{ 0x30000, 0x3fffd },
};

static int
text_in(const struct text_range *r, size_t n, unsigned cp)
{
	size_t i;

	for (i = 0; i < n && r[i].from <= cp; i++)
		if (cp <= r[i].to)
			return 1;
	return 0;
}

/*
 * Decodes the character at s: its code point in *cp and its length in
 * bytes, or 0 when s does not start a valid UTF-8 sequence (overlong,
 * surrogate, past U+10FFFF, cut short).
 */
static size_t
text_decode(const unsigned char *s, unsigned *cp)
{
	size_t len, i;
	unsigned v, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, v = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, v = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, v = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (i = 1; i < len; i++) {
		if (!TEXT_IS_CONTINUATION(s[i]))
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

size_t
text_width(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t width = 0, len;
	unsigned cp;

	while (*s) {
		if ((len = text_decode(s, &cp)) == 0) {
			width++;
			s++;
			continue;
		}
		s += len;
		if (text_in(text_zero_width, sizeof(text_zero_width) / sizeof(text_zero_width[0]),
		    cp))
			continue;
		width += text_in(text_double_width, sizeof(text_double_width) /
		    sizeof(text_double_width[0]), cp) ? 2 : 1;
	}
	return width;
}

int
text_pad(const char *text, int width)
{
	size_t w = text_width(text);

	return width <= 0 || w >= (size_t)width ? 0 : width - (int)w;
}

const char *
text_plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}
