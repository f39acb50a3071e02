/*
 * A reader of lbld's JSON lines (status --json, events): a small
 * recursive-descent parser into a tree, strict RFC 8259, its depth bounded
 * by JSON_MAX_DEPTH as the writer's is. lbld writes these lines with
 * base/json.c, but lbl-mqtt checks them anyway: a line it cannot read is
 * logged and skipped, never half-published.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt.h"

struct mqtt_parser {
	const char *text, *p;
	char *why;
	size_t why_size;
	int failed;
};

static void
mqtt_json_fail(struct mqtt_parser *ps, const char *expected)
{
	if (ps->failed)
		return;
	ps->failed = 1;
	snprintf(ps->why, ps->why_size, "at byte %zu: expected %s", (size_t)(ps->p - ps->text),
	    expected);
}

static void
mqtt_json_ws(struct mqtt_parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static int
mqtt_json_hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
mqtt_json_utf8(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at ps->p (its opening quote): malloc'd, or NULL (failed set). */
static char *
mqtt_json_string(struct mqtt_parser *ps)
{
	const char *s = ps->p + 1, *end = s;
	char *out, *o;
	unsigned cp, lo;

	/* the decoded text is never longer than the escaped one */
	while (*end != '"') {
		if (*end == '\0') {
			mqtt_json_fail(ps, "the end of a string");
			return NULL;
		}
		if (*end == '\\' && end[1] != '\0')
			end++;
		end++;
	}
	if ((out = malloc((size_t)(end - s) + 1)) == NULL) {
		mqtt_json_fail(ps, "memory (out of memory)");
		return NULL;
	}
	for (o = out; s < end; s++) {
		if ((unsigned char)*s < 0x20) {
			ps->p = s;
			mqtt_json_fail(ps, "no control character in a string");
			free(out);
			return NULL;
		}
		if (*s != '\\') {
			*o++ = *s;
			continue;
		}
		s++;
		switch (*s) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (end - s < 5 || mqtt_json_hex4(s + 1, &cp) == -1)
				goto bad;
			s += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && end - s >= 7 && s[1] == '\\' &&
			    s[2] == 'u' && mqtt_json_hex4(s + 3, &lo) == 0 && lo >= 0xdc00 &&
			    lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;	/* a lone surrogate, as the writer spells it */
			}
			/* 6 escaped bytes never decode to more than 4 */
			o += mqtt_json_utf8(cp, o);
			break;
		default:
			goto bad;
		}
	}
	*o = '\0';
	ps->p = end + 1;
	return out;
bad:
	ps->p = s;
	mqtt_json_fail(ps, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
	free(out);
	return NULL;
}

static int mqtt_json_value(struct mqtt_parser *ps, struct mqtt_json *v, int depth);

/* Appends an item (and key) to an array or object: 0 or -1 (failed set). */
static struct mqtt_json *
mqtt_json_push(struct mqtt_parser *ps, struct mqtt_json *v, size_t *cap, char *key)
{
	if (v->count == *cap) {
		size_t want = *cap ? *cap * 2 : 8;
		struct mqtt_json *items = realloc(v->items, want * sizeof(*items));
		char **keys;
		if (items == NULL) {
			mqtt_json_fail(ps, "memory (out of memory)");
			return NULL;
		}
		v->items = items;
		if (v->type == MJ_OBJECT) {
			if ((keys = realloc(v->keys, want * sizeof(*keys))) == NULL) {
				mqtt_json_fail(ps, "memory (out of memory)");
				return NULL;
			}
			v->keys = keys;
		}
		*cap = want;
	}
	memset(&v->items[v->count], 0, sizeof(v->items[0]));
	if (v->type == MJ_OBJECT)
		v->keys[v->count] = key;
	return &v->items[v->count++];
}

static int
mqtt_json_container(struct mqtt_parser *ps, struct mqtt_json *v, int depth)
{
	int object = *ps->p == '{';
	char close = object ? '}' : ']', *key = NULL;
	struct mqtt_json *item;
	size_t cap = 0;

	v->type = object ? MJ_OBJECT : MJ_ARRAY;
	if (depth >= JSON_MAX_DEPTH) {
		mqtt_json_fail(ps, "less nesting");
		return -1;
	}
	ps->p++;
	mqtt_json_ws(ps);
	if (*ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (object) {
			mqtt_json_ws(ps);
			if (*ps->p != '"') {
				mqtt_json_fail(ps, "a member's name in quotes");
				return -1;
			}
			if ((key = mqtt_json_string(ps)) == NULL)
				return -1;
			mqtt_json_ws(ps);
			if (*ps->p != ':') {
				free(key);
				mqtt_json_fail(ps, "':' after a member's name");
				return -1;
			}
			ps->p++;
		}
		if ((item = mqtt_json_push(ps, v, &cap, key)) == NULL) {
			free(key);
			return -1;
		}
		if (mqtt_json_value(ps, item, depth + 1) == -1)
			return -1;
		mqtt_json_ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			return 0;
		}
		mqtt_json_fail(ps, object ? "',' or '}'" : "',' or ']'");
		return -1;
	}
}

static int
mqtt_json_value(struct mqtt_parser *ps, struct mqtt_json *v, int depth)
{
	char *end;

	mqtt_json_ws(ps);
	switch (*ps->p) {
	case '{':
	case '[':
		return mqtt_json_container(ps, v, depth);
	case '"':
		v->type = MJ_STRING;
		return (v->string = mqtt_json_string(ps)) != NULL ? 0 : -1;
	case 't':
	case 'f':
	case 'n':
		if (strncmp(ps->p, "true", 4) == 0) {
			v->type = MJ_BOOL;
			v->number = 1;
			ps->p += 4;
		} else if (strncmp(ps->p, "false", 5) == 0) {
			v->type = MJ_BOOL;
			ps->p += 5;
		} else if (strncmp(ps->p, "null", 4) == 0) {
			v->type = MJ_NULL;
			ps->p += 4;
		} else {
			break;
		}
		return 0;
	default:
		/* JSON's numbers are a subset of strtod's: no hex, inf, nan or leading + */
		if (*ps->p != '-' && (*ps->p < '0' || *ps->p > '9'))
			break;
		if ((ps->p[0] == '-' ? ps->p[1] : ps->p[0]) < '0' ||
		    (ps->p[0] == '-' ? ps->p[1] : ps->p[0]) > '9')
			break;
		errno = 0;
		v->type = MJ_NUMBER;
		v->number = strtod(ps->p, &end);
		if (end == ps->p)
			break;
		for (const char *c = ps->p; c < end; c++)
			if (strchr("0123456789+-.eE", *c) == NULL)
				goto bad;
		ps->p = end;
		return 0;
	}
bad:
	mqtt_json_fail(ps, "a value (an object, array, string, number, true, false or null)");
	return -1;
}

int
mqtt_json_parse(const char *text, struct mqtt_json *out, char *why, size_t why_size)
{
	struct mqtt_parser ps = { text, text, why, why_size, 0 };

	memset(out, 0, sizeof(*out));
	if (mqtt_json_value(&ps, out, 0) == 0) {
		mqtt_json_ws(&ps);
		if (*ps.p == '\0')
			return 0;
		mqtt_json_fail(&ps, "the end of the text");
	}
	mqtt_json_free(out);
	return -1;
}

void
mqtt_json_free(struct mqtt_json *v)
{
	size_t i;

	for (i = 0; i < v->count; i++) {
		mqtt_json_free(&v->items[i]);
		if (v->type == MJ_OBJECT)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
	memset(v, 0, sizeof(*v));
}

const struct mqtt_json *
mqtt_json_get(const struct mqtt_json *v, const char *key)
{
	size_t i;

	if (v == NULL || v->type != MJ_OBJECT)
		return NULL;
	for (i = 0; i < v->count; i++)
		if (strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	return NULL;
}

void
mqtt_json_write(struct json *j, const struct mqtt_json *v)
{
	size_t i;

	switch (v->type) {
	case MJ_NULL:
		json_null(j);
		break;
	case MJ_BOOL:
		json_bool(j, v->number != 0);
		break;
	case MJ_NUMBER:
		/* integers as integers: an id stays 12, not 12.0 or 1.2e1 */
		if (v->number == floor(v->number) && fabs(v->number) < 9e15)
			json_int(j, (long long)v->number);
		else
			json_number(j, v->number);
		break;
	case MJ_STRING:
		json_string(j, v->string);
		break;
	case MJ_ARRAY:
		json_array_begin(j);
		for (i = 0; i < v->count; i++)
			mqtt_json_write(j, &v->items[i]);
		json_array_end(j);
		break;
	case MJ_OBJECT:
		json_object_begin(j);
		for (i = 0; i < v->count; i++) {
			json_key(j, v->keys[i]);
			mqtt_json_write(j, &v->items[i]);
		}
		json_object_end(j);
		break;
	}
}
