/*
 * The one JSON writer: every JSON text lbl emits (status, follow, plan,
 * show, history, export, events) is built through it, so escaping and
 * number formatting are decided once.
 *
 * Output goes into a growing buffer. Strings are escaped per RFC 8259: the
 * quote and the backslash, and every control character as \u00XX (\n, \t
 * and friends in their short forms); bytes that are not valid UTF-8
 * (overlong forms, surrogates, code points past U+10FFFF, truncated
 * sequences) are each replaced by U+FFFD, so the output is always valid
 * UTF-8. Numbers are written in the shortest form that reads back as the
 * same double (round trip); NaN and the infinities, which JSON cannot
 * express, are written as null.
 *
 * The writer tracks nesting and commas; a misuse (a value where a key is
 * due, an end that does not match) or running out of memory marks it
 * failed, and json_text then returns NULL: callers check once, at the end.
 */
#ifndef LBL_JSON_H
#define LBL_JSON_H

#include <stddef.h>

#include "lbl_limits.h"


struct json {
	char *buf;
	size_t len, cap;
	int depth;
	/* per level: 'o' object, 'a' array; whether a member was written; a key is pending */
	char kind[JSON_MAX_DEPTH];
	unsigned char members[JSON_MAX_DEPTH];
	int key_pending;
	int failed;
};

void json_init(struct json *j);
void json_free(struct json *j);
/* Empties the text (for the next line of a stream); nesting must be closed. */
void json_reset(struct json *j);
/*
 * Empties the text but keeps the nesting and commas, so that one long
 * document (an export of years of batches) is handed out in pieces, each
 * taken with json_text before it is cleared, in bounded memory. The pieces
 * joined (with any whitespace between them) are the document.
 */
void json_clear(struct json *j);

void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* The next member's name, inside an object. */
void json_key(struct json *j, const char *key);

/* Values: NULL strings are null, as are NaN and infinite numbers. */
void json_string(struct json *j, const char *s);
/* A string of len bytes (may contain NUL, escaped as \u0000). */
void json_string_len(struct json *j, const char *s, size_t len);
void json_number(struct json *j, double v);
void json_int(struct json *j, long long v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);

/* The text so far (NUL-terminated), or NULL if the writer failed. */
const char *json_text(const struct json *j);
size_t json_len(const struct json *j);

#endif
