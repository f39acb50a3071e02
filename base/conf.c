#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <yaml.h>

#include "conf.h"

#define DIAG_MAX_ENTRIES 200

/* A bump allocator: a document's memory is freed in one go. */
struct conf_arena {
	struct conf_arena *next;
	size_t used, size;
	max_align_t data[];
};

void *
conf_alloc(struct conf_doc *doc, size_t size)
{
	struct conf_arena *a = doc->arena;
	void *p;

	size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (a == NULL || a->size - a->used < size) {
		size_t chunk = size > 32768 ? size : 32768;
		a = malloc(sizeof(*a) + chunk);
		if (a == NULL)
			abort();	/* configuration is tiny; OOM here is unrecoverable */
		a->next = doc->arena;
		a->used = 0;
		a->size = chunk;
		doc->arena = a;
	}
	p = (char *)a->data + a->used;
	a->used += size;
	memset(p, 0, size);
	return p;
}

char *
conf_strdup(struct conf_doc *doc, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = conf_alloc(doc, n);

	memcpy(p, s, n);
	return p;
}

void
conf_free(struct conf_doc *doc)
{
	struct conf_arena *a, *next;

	if (doc == NULL)
		return;
	for (a = doc->arena; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
	free(doc);
}

/* ---- diagnostics ---- */

void
diag_init(struct diag *d, const char *file)
{
	memset(d, 0, sizeof(*d));
	d->file = file;
}

void
diag_free(struct diag *d)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		free(d->entries[i].message);
	free(d->entries);
	d->entries = NULL;
	d->count = d->cap = 0;
}

static void
diag_add(struct diag *d, int line, int col, int is_error, const char *fmt, va_list ap)
{
	struct diag_entry *e;
	char *message;

	if (vasprintf(&message, fmt, ap) == -1)
		return;
	/* a step expanded many times reports its problem once */
	for (size_t i = 0; i < d->count; i++)
		if (d->entries[i].line == line && d->entries[i].col == col &&
		    strcmp(d->entries[i].message, message) == 0) {
			free(message);
			return;
		}
	if (is_error)
		d->errors++;
	else
		d->warnings++;
	if (d->count >= DIAG_MAX_ENTRIES) {
		free(message);
		return;
	}
	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		e = realloc(d->entries, cap * sizeof(*e));
		if (e == NULL) {
			free(message);
			return;
		}
		d->entries = e;
		d->cap = cap;
	}
	e = &d->entries[d->count++];
	e->line = line;
	e->col = col;
	e->is_error = is_error;
	e->message = message;
}

void
diag_error(struct diag *d, const struct conf_node *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, at ? at->line : 0, at ? at->col : 0, 1, fmt, ap);
	va_end(ap);
}

void
diag_warning(struct diag *d, const struct conf_node *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, at ? at->line : 0, at ? at->col : 0, 0, fmt, ap);
	va_end(ap);
}

void
diag_error_at(struct diag *d, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, line, col, 1, fmt, ap);
	va_end(ap);
}

static int
diag_compare(const void *a, const void *b)
{
	const struct diag_entry *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	/* keep insertion order for equal positions: compare addresses */
	return x < y ? -1 : x > y;
}

char *
diag_render(const struct diag *d)
{
	struct diag_entry *sorted;
	char *out = NULL;
	size_t len = 0, i;
	FILE *f;

	f = open_memstream(&out, &len);
	if (f == NULL)
		return NULL;
	sorted = malloc((d->count ? d->count : 1) * sizeof(*sorted));
	if (sorted == NULL) {
		fclose(f);
		free(out);
		return NULL;
	}
	if (d->count > 0)
		memcpy(sorted, d->entries, d->count * sizeof(*sorted));
	qsort(sorted, d->count, sizeof(*sorted), diag_compare);
	for (i = 0; i < d->count; i++) {
		const struct diag_entry *e = &sorted[i];
		const char *kind = e->is_error ? "error" : "warning";
		if (e->line > 0)
			fprintf(f, "%s:%d:%d: %s: %s\n", d->file, e->line, e->col, kind, e->message);
		else
			fprintf(f, "%s: %s: %s\n", d->file, kind, e->message);
	}
	if ((size_t)(d->errors + d->warnings) > d->count)
		fprintf(f, "%s: note: %zu more diagnostics not shown\n", d->file,
		    (size_t)(d->errors + d->warnings) - d->count);
	free(sorted);
	fclose(f);
	return out;
}

/* ---- YAML to tree ---- */

struct conf_builder {
	struct conf_doc *doc;
	struct conf_node *stack[CONF_MAX_DEPTH + 1];
	size_t cap[CONF_MAX_DEPTH + 1];
	size_t used[CONF_MAX_DEPTH + 1];
	int depth;
	size_t nodes;
};

static struct conf_node *
conf_new_node(struct conf_doc *doc, enum conf_type type, const yaml_mark_t *mark)
{
	struct conf_node *n = conf_alloc(doc, sizeof(*n));

	n->type = type;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	return n;
}

/*
 * Appends child to the collection on top of the stack. A map's items hold
 * key, value, key, value...; its count is the number of complete pairs.
 */
static void
conf_append(struct conf_builder *b, struct conf_node *child)
{
	struct conf_node *parent = b->stack[b->depth - 1];
	size_t *used = &b->used[b->depth - 1];
	size_t *cap = &b->cap[b->depth - 1];

	if (*used == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct conf_node **items = conf_alloc(b->doc, ncap * sizeof(*items));
		if (parent->items)
			memcpy(items, parent->items, *cap * sizeof(*items));
		parent->items = items;
		*cap = ncap;
	}
	parent->items[(*used)++] = child;
	parent->count = parent->type == CONF_MAP ? *used / 2 : *used;
}

static int
conf_event(struct diag *d, struct conf_builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t *mark = &ev->start_mark;
	struct conf_node *n;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		diag_error_at(d, (int)mark->line + 1, (int)mark->column + 1,
		    "aliases are not allowed: write the value out in full");
		return -1;
	case YAML_SCALAR_EVENT:
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		const yaml_char_t *anchor = ev->type == YAML_SCALAR_EVENT ? ev->data.scalar.anchor :
		    ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor :
		    ev->data.mapping_start.anchor;
		const yaml_char_t *tag = ev->type == YAML_SCALAR_EVENT ? ev->data.scalar.tag :
		    ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.tag :
		    ev->data.mapping_start.tag;
		if (anchor != NULL) {
			diag_error_at(d, (int)mark->line + 1, (int)mark->column + 1,
			    "anchors are not allowed: write each value out in full");
			return -1;
		}
		if (tag != NULL) {
			diag_error_at(d, (int)mark->line + 1, (int)mark->column + 1,
			    "YAML tags are not allowed");
			return -1;
		}
		if (++b->nodes > CONF_MAX_NODES) {
			diag_error_at(d, (int)mark->line + 1, (int)mark->column + 1,
			    "more than %d values in one file: no recipe or rig needs that many, and "
			    "lbld would hold them all in memory", CONF_MAX_NODES);
			return -1;
		}
		break;
	}
	default:
		break;
	}

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = conf_new_node(b->doc, CONF_SCALAR, mark);
		n->text = conf_alloc(b->doc, ev->data.scalar.length + 1);
		memcpy((char *)n->text, ev->data.scalar.value, ev->data.scalar.length);
		if (strlen(n->text) != ev->data.scalar.length) {
			diag_error(d, n, "NUL characters are not allowed in values");
			return -1;
		}
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		n = conf_new_node(b->doc, ev->type == YAML_MAPPING_START_EVENT ? CONF_MAP : CONF_SEQ,
		    mark);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		b->depth--;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (b->doc->root != NULL) {
			diag_error_at(d, (int)mark->line + 1, (int)mark->column + 1,
			    "only one YAML document is allowed per file");
			return -1;
		}
		return 0;
	default:
		return 0;
	}

	/*
	 * Every key is plain text: a list or map as a key ("? ..." in YAML)
	 * would reach code that reads a key's text.
	 */
	if (b->depth > 0 && b->stack[b->depth - 1]->type == CONF_MAP &&
	    b->used[b->depth - 1] % 2 == 0 && n->type != CONF_SCALAR) {
		diag_error(d, n, "expected a name as the key here, not a %s",
		    n->type == CONF_MAP ? "map" : "list");
		return -1;
	}
	if (b->depth == 0)
		b->doc->root = n;
	else
		conf_append(b, n);
	if (n->type != CONF_SCALAR) {
		if (b->depth == CONF_MAX_DEPTH) {
			diag_error(d, n, "nesting deeper than %d levels", CONF_MAX_DEPTH);
			return -1;
		}
		b->stack[b->depth] = n;
		b->cap[b->depth] = 0;
		b->used[b->depth] = 0;
		b->depth++;
	}
	return 0;
}

int
conf_load_buffer(const char *name, const char *text, size_t len, struct diag *d,
    struct conf_doc **out)
{
	struct conf_builder b;
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0, done = 0;

	*out = NULL;
	if (len > CONF_MAX_FILE_BYTES) {
		diag_error(d, NULL, "file is larger than %d bytes", CONF_MAX_FILE_BYTES);
		return -1;
	}
	memset(&b, 0, sizeof(b));
	b.doc = calloc(1, sizeof(*b.doc));
	if (b.doc == NULL) {
		diag_error(d, NULL, "out of memory");
		return -1;
	}
	b.doc->file = name;
	if (!yaml_parser_initialize(&parser)) {
		diag_error(d, NULL, "cannot initialise the YAML parser");
		conf_free(b.doc);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			const yaml_mark_t *m = &parser.problem_mark;
			diag_error_at(d, (int)m->line + 1, (int)m->column + 1, "YAML syntax: %s%s%s",
			    parser.problem ? parser.problem : "unknown problem",
			    parser.context ? " " : "", parser.context ? parser.context : "");
			rc = -1;
			break;
		}
		rc = conf_event(d, &b, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (rc == 0 && b.doc->root == NULL) {
		diag_error(d, NULL, "the file is empty: expected a YAML mapping");
		rc = -1;
	}
	if (rc == -1) {
		conf_free(b.doc);
		return -1;
	}
	*out = b.doc;
	return 0;
}

char *
conf_read_file(const char *path, size_t max_bytes, size_t *len, struct diag *d)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	ssize_t n;
	int fd;

	/*
	 * Non-blocking, so that a FIFO (or a device) given by mistake is
	 * refused here instead of waiting forever for a writer; a regular file
	 * reads the same either way.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		diag_error(d, NULL, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		diag_error(d, NULL, "cannot stat: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		diag_error(d, NULL, "not a regular file%s", S_ISFIFO(st.st_mode) ? " (a FIFO)" :
		    S_ISDIR(st.st_mode) ? " (a directory)" : "");
		close(fd);
		return NULL;
	}
	if ((size_t)st.st_size > max_bytes) {
		diag_error(d, NULL, "file is larger than %zu bytes", max_bytes);
		close(fd);
		return NULL;
	}
	buf = malloc(max_bytes + 1);
	if (buf == NULL) {
		diag_error(d, NULL, "out of memory");
		close(fd);
		return NULL;
	}
	/* read to EOF but never past the limit, even if the file grows meanwhile */
	while ((n = read(fd, buf + got, max_bytes + 1 - got)) > 0) {
		got += (size_t)n;
		if (got > max_bytes)
			break;
	}
	close(fd);
	if (n == -1 || got > max_bytes) {
		diag_error(d, NULL, n == -1 ? "read failed" : "file is larger than %zu bytes",
		    max_bytes);
		free(buf);
		return NULL;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}

int
conf_load(const char *path, struct diag *d, struct conf_doc **out)
{
	size_t len;
	char *text;
	int rc;

	*out = NULL;
	text = conf_read_file(path, CONF_MAX_FILE_BYTES, &len, d);
	if (text == NULL)
		return -1;
	rc = conf_load_buffer(path, text, len, d, out);
	free(text);
	return rc;
}

/* ---- schema helpers ---- */

static const char *
conf_type_name(enum conf_type type)
{
	return type == CONF_MAP ? "a mapping (key: value lines)" :
	    type == CONF_SEQ ? "a list (- item lines)" : "a single value";
}

const struct conf_node *
conf_lookup(const struct conf_node *map, const char *key)
{
	size_t i;

	if (map == NULL || map->type != CONF_MAP)
		return NULL;
	for (i = 0; i < map->count; i++) {
		const struct conf_node *k = map->items[2 * i];
		if (k->type == CONF_SCALAR && strcmp(k->text, key) == 0)
			return map->items[2 * i + 1];
	}
	return NULL;
}

int
conf_expect(struct diag *d, const struct conf_node *n, enum conf_type type, const char *what)
{
	if (n->type == type)
		return 0;
	diag_error(d, n, "%s: expected %s", what, conf_type_name(type));
	return -1;
}

/* Appends "a, b or c" of the allowed keys to buf, for "did you mean" style help. */
static void
conf_list_keys(char *buf, size_t size, const char *const allowed[])
{
	size_t len = 0, i;

	buf[0] = '\0';
	for (i = 0; allowed[i] != NULL && len < size; i++) {
		const char *sep = i == 0 ? "" : allowed[i + 1] == NULL ? " or " : ", ";
		int n = snprintf(buf + len, size - len, "%s%s", sep, allowed[i]);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

int
conf_check_map(struct diag *d, const struct conf_node *n, const char *what,
    const char *const allowed[])
{
	size_t i, j, k;
	int rc = 0;

	if (conf_expect(d, n, CONF_MAP, what) == -1)
		return -1;
	for (i = 0; i < n->count; i++) {
		const struct conf_node *key = n->items[2 * i];
		if (key->type != CONF_SCALAR) {
			diag_error(d, key, "%s: keys must be plain words", what);
			rc = -1;
			continue;
		}
		for (j = 0; j < i; j++) {
			const struct conf_node *prev = n->items[2 * j];
			if (prev->type == CONF_SCALAR && strcmp(prev->text, key->text) == 0) {
				diag_error(d, key, "duplicate key '%s' (first given on line %d)",
				    key->text, prev->line);
				rc = -1;
				break;
			}
		}
		if (allowed == NULL)
			continue;
		for (k = 0; allowed[k] != NULL; k++)
			if (strcmp(allowed[k], key->text) == 0)
				break;
		if (allowed[k] == NULL) {
			char keys[512];
			conf_list_keys(keys, sizeof(keys), allowed);
			diag_error(d, key, "unknown key '%s' in %s: expected %s", key->text, what,
			    keys);
		}
	}
	return rc;
}

/* Fetches key; reports a missing required key. Returns 1 found, 0 absent. */
static int
conf_fetch(struct diag *d, const struct conf_node *map, const char *key, unsigned flags,
    const char *expected, const struct conf_node **out)
{
	*out = conf_lookup(map, key);
	if (*out != NULL)
		return 1;
	if (flags & CONF_REQUIRED)
		diag_error(d, map, "missing required key '%s' (expected %s)", key, expected);
	return 0;
}

int
conf_get_node(struct diag *d, const struct conf_node *map, const char *key, unsigned flags,
    enum conf_type type, const char *what, const struct conf_node **out)
{
	if (!conf_fetch(d, map, key, flags, conf_type_name(type), out))
		return 0;
	if ((*out)->type != type) {
		diag_error(d, *out, "'%s': expected %s%s%s", key, conf_type_name(type),
		    what ? " of " : "", what ? what : "");
		return -1;
	}
	return 1;
}

int
conf_string(struct diag *d, const struct conf_node *n, const char *key, const char **out)
{
	if (n->type != CONF_SCALAR || n->text[0] == '\0') {
		diag_error(d, n, "'%s': expected a non-empty text value", key);
		return -1;
	}
	*out = n->text;
	return 0;
}

int
conf_get_string(struct diag *d, const struct conf_node *map, const char *key, unsigned flags,
    const char **out)
{
	const struct conf_node *n;

	if (!conf_fetch(d, map, key, flags, "a text value", &n))
		return 0;
	return conf_string(d, n, key, out) == 0 ? 1 : -1;
}

static int
conf_parse_long(const char *text, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(text, &end, 10);
	return errno != 0 || end == text || *end != '\0' ? -1 : 0;
}

int
conf_get_int(struct diag *d, const struct conf_node *map, const char *key, unsigned flags,
    long min, long max, long *out)
{
	const struct conf_node *n;

	if (!conf_fetch(d, map, key, flags, "a whole number", &n))
		return 0;
	if (n->type != CONF_SCALAR || n->quoted || conf_parse_long(n->text, out) == -1) {
		diag_error(d, n, "'%s': expected a whole number", key);
		return -1;
	}
	if (*out < min || *out > max) {
		diag_error(d, n, "'%s': %ld is out of range (expected %ld to %ld)", key, *out,
		    min, max);
		return -1;
	}
	return 1;
}

int
conf_get_number(struct diag *d, const struct conf_node *map, const char *key, unsigned flags,
    double *out)
{
	const struct conf_node *n;
	char *end;

	if (!conf_fetch(d, map, key, flags, "a number", &n))
		return 0;
	if (n->type == CONF_SCALAR && !n->quoted) {
		*out = strtod(n->text, &end);
		if (end != n->text && *end == '\0' && isfinite(*out)) {
			if ((flags & CONF_POSITIVE) && *out <= 0) {
				diag_error(d, n, "'%s': expected a number greater than zero", key);
				return -1;
			}
			if ((flags & CONF_NONNEG) && *out < 0) {
				diag_error(d, n, "'%s': expected a number of zero or more", key);
				return -1;
			}
			return 1;
		}
	}
	diag_error(d, n, "'%s': expected a number", key);
	return -1;
}

int
conf_quantity(struct diag *d, const struct conf_node *n, const char *key, unsigned flags,
    enum unit_kind kind, double *out)
{
	const char *why;

	if (n->type != CONF_SCALAR) {
		diag_error(d, n, "'%s': expected %s", key, units_expected(kind));
		return -1;
	}
	if (units_parse(n->text, kind, out, &why) == -1) {
		diag_error(d, n, "'%s': %s in '%s': expected %s", key, why, n->text,
		    units_expected(kind));
		return -1;
	}
	if ((flags & CONF_POSITIVE) && *out <= 0) {
		diag_error(d, n, "'%s': '%s' must be greater than zero", key, n->text);
		return -1;
	}
	if ((flags & CONF_NONNEG) && *out < 0) {
		diag_error(d, n, "'%s': '%s' must not be negative", key, n->text);
		return -1;
	}
	return 0;
}

int
conf_get_quantity(struct diag *d, const struct conf_node *map, const char *key, unsigned flags,
    enum unit_kind kind, double *out)
{
	const struct conf_node *n;

	if (!conf_fetch(d, map, key, flags, units_expected(kind), &n))
		return 0;
	return conf_quantity(d, n, key, flags, kind, out) == 0 ? 1 : -1;
}

int
conf_duration(struct diag *d, const struct conf_node *n, const char *key, int64_t *out_ms)
{
	const char *why;

	if (n->type != CONF_SCALAR) {
		diag_error(d, n, "'%s': expected a duration such as 90s, 10min or 1h30m", key);
		return -1;
	}
	if (units_parse_duration(n->text, out_ms, &why) == -1) {
		diag_error(d, n, "'%s': %s in '%s': expected a duration such as 90s, 10min or 1h30m",
		    key, why, n->text);
		return -1;
	}
	return 0;
}

int
conf_get_duration(struct diag *d, const struct conf_node *map, const char *key, unsigned flags,
    int64_t *out_ms)
{
	const struct conf_node *n;

	if (!conf_fetch(d, map, key, flags, "a duration such as 90s, 10min or 1h30m", &n))
		return 0;
	return conf_duration(d, n, key, out_ms) == 0 ? 1 : -1;
}

int
conf_get_bool(struct diag *d, const struct conf_node *map, const char *key, unsigned flags,
    int *out)
{
	const struct conf_node *n;

	if (!conf_fetch(d, map, key, flags, "true or false", &n))
		return 0;
	if (n->type == CONF_SCALAR && !n->quoted) {
		if (strcmp(n->text, "true") == 0 || strcmp(n->text, "yes") == 0 ||
		    strcmp(n->text, "on") == 0) {
			*out = 1;
			return 1;
		}
		if (strcmp(n->text, "false") == 0 || strcmp(n->text, "no") == 0 ||
		    strcmp(n->text, "off") == 0) {
			*out = 0;
			return 1;
		}
	}
	diag_error(d, n, "'%s': expected true or false", key);
	return -1;
}

int
conf_get_enum(struct diag *d, const struct conf_node *map, const char *key, unsigned flags,
    const char *const names[], int *out)
{
	const struct conf_node *n;
	char list[512];
	int i;

	conf_list_keys(list, sizeof(list), names);
	if (!conf_fetch(d, map, key, flags, list, &n))
		return 0;
	if (n->type == CONF_SCALAR)
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], n->text) == 0) {
				*out = i;
				return 1;
			}
	diag_error(d, n, "'%s': expected %s", key, list);
	return -1;
}
