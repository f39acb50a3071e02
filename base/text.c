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
