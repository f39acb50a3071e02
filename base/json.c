/*
 * The JSON writer: escaping, UTF-8 checking, shortest round-trip numbers.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void
json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
}

void
json_free(struct json *j)
{
	free(j->buf);
	json_init(j);
}

void
json_reset(struct json *j)
{
	if (j->depth != 0 || j->key_pending)
		j->failed = 1;
	j->len = 0;
	if (j->buf != NULL)
		j->buf[0] = '\0';
}

void
json_clear(struct json *j)
{
	j->len = 0;
	if (j->buf != NULL)
		j->buf[0] = '\0';
}

/*
 * Room for n more bytes and the NUL: where they go, or NULL when the
 * writer failed (before, or now for want of memory).
 */
static char *
json_room(struct json *j, size_t n)
{
	size_t cap;
	char *p;

	if (j->failed)
		return NULL;
	if (j->len + n + 1 > j->cap) {
		cap = j->cap ? j->cap : 256;
		while (cap < j->len + n + 1) {
			if (cap > SIZE_MAX / 2) {
				j->failed = 1;
				return NULL;
			}
			cap *= 2;
		}
		if ((p = realloc(j->buf, cap)) == NULL) {
			j->failed = 1;
			return NULL;
		}
		j->buf = p;
		j->cap = cap;
	}
	return j->buf + j->len;
}

static void
json_put(struct json *j, const char *s, size_t n)
{
	char *p;

	if ((p = json_room(j, n)) == NULL)
		return;
	memcpy(p, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void
json_puts(struct json *j, const char *s)
{
	json_put(j, s, strlen(s));
}

/* Before a value: the comma, and whether a value is allowed here at all. */
static void
json_before_value(struct json *j)
{
	if (j->depth > 0 && j->kind[j->depth - 1] == 'o') {
		if (!j->key_pending)
			j->failed = 1;	/* an object member needs its key first */
		j->key_pending = 0;
		return;
	}
	if (j->depth > 0) {
		if (j->members[j->depth - 1])
			json_put(j, ",", 1);
		j->members[j->depth - 1] = 1;
	} else if (j->len > 0) {
		j->failed = 1;		/* one top-level value per text */
	}
}

static void
json_open(struct json *j, char kind)
{
	json_before_value(j);
	if (j->depth == JSON_MAX_DEPTH) {
		j->failed = 1;
		return;
	}
	j->kind[j->depth] = kind;
	j->members[j->depth] = 0;
	j->depth++;
	json_put(j, kind == 'o' ? "{" : "[", 1);
}

static void
json_close(struct json *j, char kind)
{
	if (j->depth == 0 || j->kind[j->depth - 1] != kind || j->key_pending) {
		j->failed = 1;
		return;
	}
	j->depth--;
	json_put(j, kind == 'o' ? "}" : "]", 1);
}

void
json_object_begin(struct json *j)
{
	json_open(j, 'o');
}

void
json_object_end(struct json *j)
{
	json_close(j, 'o');
}

void
json_array_begin(struct json *j)
{
	json_open(j, 'a');
}

void
json_array_end(struct json *j)
{
	json_close(j, 'a');
}

/*
 * The length of the valid UTF-8 sequence at s (of n bytes), or 0 when it is
 * not one: overlong forms, UTF-16 surrogates, code points past U+10FFFF and
 * truncated sequences are all invalid (RFC 3629).
 */
static size_t
json_utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Writes s (n bytes) as a quoted, escaped JSON string. */
static void
json_escaped(struct json *j, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t i = 0, run, len;

	/* the common case, a string with nothing to escape: written in one piece */
	for (run = 0; run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' &&
	    p[run] != '\\'; run++)
		;
	if (run == n) {
		char *out = json_room(j, n + 2);
		if (out == NULL)
			return;
		out[0] = '"';
		memcpy(out + 1, s, n);
		out[n + 1] = '"';
		j->len += n + 2;
		j->buf[j->len] = '\0';
		return;
	}
	json_put(j, "\"", 1);
	while (i < n) {
		/* copy plain runs in one go */
		for (run = i; run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' &&
		    p[run] != '\\'; run++)
			;
		json_put(j, s + i, run - i);
		if ((i = run) == n)
			break;
		if (p[i] >= 0x80) {
			if ((len = json_utf8_len(p + i, n - i)) == 0) {
				json_put(j, "\xef\xbf\xbd", 3);	/* U+FFFD */
				i++;
			} else {
				json_put(j, s + i, len);
				i += len;
			}
			continue;
		}
		switch (p[i]) {
		case '"': json_put(j, "\\\"", 2); break;
		case '\\': json_put(j, "\\\\", 2); break;
		case '\b': json_put(j, "\\b", 2); break;
		case '\f': json_put(j, "\\f", 2); break;
		case '\n': json_put(j, "\\n", 2); break;
		case '\r': json_put(j, "\\r", 2); break;
		case '\t': json_put(j, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			json_put(j, esc, 6);
			break;
		}
		i++;
	}
	json_put(j, "\"", 1);
}

void
json_string_len(struct json *j, const char *s, size_t n)
{
	json_before_value(j);
	json_escaped(j, s, n);
}

void
json_string(struct json *j, const char *s)
{
	if (s == NULL)
		json_null(j);
	else
		json_string_len(j, s, strlen(s));
}

void
json_key(struct json *j, const char *key)
{
	if (j->depth == 0 || j->kind[j->depth - 1] != 'o' || j->key_pending) {
		j->failed = 1;
		return;
	}
	if (j->members[j->depth - 1])
		json_put(j, ",", 1);
	j->members[j->depth - 1] = 1;
	/* the key is a string like any other, escaped alike */
	json_escaped(j, key, strlen(key));
	json_put(j, ":", 1);
	j->key_pending = 1;
}

void
json_number(struct json *j, double v)
{
	char buf[32];
	int prec, lo, hi, n;

	if (!isfinite(v)) {
		json_null(j);
		return;
	}
	/*
	 * The shortest %g that reads back as the same double. Reading back is
	 * monotonic in the precision (more correctly rounded digits are never
	 * further from v), so the shortest is found by bisection: five tries
	 * at most instead of seventeen (an export writes hundreds of thousands).
	 */
	lo = 1;
	hi = 17;			/* 17 significant digits always read back */
	while (lo < hi) {
		prec = (lo + hi) / 2;
		n = snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (n > 0 && (size_t)n < sizeof(buf) && strtod(buf, NULL) == v)
			hi = prec;
		else
			lo = prec + 1;
	}
	n = snprintf(buf, sizeof(buf), "%.*g", lo, v);
	if (n <= 0 || (size_t)n >= sizeof(buf)) {
		j->failed = 1;		/* cannot happen: %.17g is at most 24 bytes */
		return;
	}
	json_before_value(j);
	json_puts(j, buf);
}

void
json_int(struct json *j, long long v)
{
	/* digits from the end, without printf (a row of an export has a dozen) */
	char buf[24], *p = buf + sizeof(buf);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	json_before_value(j);
	json_put(j, p, (size_t)(buf + sizeof(buf) - p));
}

void
json_bool(struct json *j, int v)
{
	json_before_value(j);
	json_puts(j, v ? "true" : "false");
}

void
json_null(struct json *j)
{
	json_before_value(j);
	json_puts(j, "null");
}

const char *
json_text(const struct json *j)
{
	if (j->failed)
		return NULL;
	return j->buf != NULL ? j->buf : "";
}

size_t
json_len(const struct json *j)
{
	return j->len;
}
