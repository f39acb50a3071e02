/*
 * The YAML configuration layer shared by recipes and rig files.
 *
 * conf_load() turns a file into a small tree of nodes that remember their
 * line and column, so every later check can report FILE:LINE:COL. Anchors,
 * aliases, tags and multiple documents are refused: configuration that
 * drives hardware is written out in full, and an alias-expansion bomb can
 * never get through; so is a file of more than CONF_MAX_NODES values. All
 * memory of a document (nodes and whatever callers allocate with
 * conf_alloc) is freed by one conf_free().
 */
#ifndef LBL_CONF_H
#define LBL_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "lbl_limits.h"
#include "units.h"


enum conf_type { CONF_SCALAR, CONF_MAP, CONF_SEQ };

struct conf_node {
	enum conf_type type;
	int line, col;			/* 1-based */
	const char *text;		/* CONF_SCALAR only */
	int quoted;			/* scalar was quoted: never a number */
	size_t count;			/* seq items, or map pairs */
	struct conf_node **items;	/* seq: items; map: key, value, key, ... */
};

struct conf_doc {
	const char *file;
	struct conf_node *root;
	struct conf_arena *arena;
};

/* Diagnostics, collected so that they can be printed sorted or sent to a client. */
struct diag_entry {
	int line, col;
	int is_error;
	char *message;
};

struct diag {
	const char *file;
	struct diag_entry *entries;
	size_t count, cap;
	int errors, warnings;
};

void diag_init(struct diag *d, const char *file);
void diag_free(struct diag *d);
/* Records an error at a node (or the whole file when at is NULL). */
void diag_error(struct diag *d, const struct conf_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(struct diag *d, const struct conf_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_error_at(struct diag *d, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/*
 * Renders all entries sorted by position as "FILE:LINE:COL: error: msg\n"
 * lines. Returns a malloc'd string (caller frees) or NULL on OOM.
 */
char *diag_render(const struct diag *d);

/*
 * Reads and parses a YAML file of at most CONF_MAX_FILE_BYTES. On success
 * stores the document in *out and returns 0; otherwise reports to d and
 * returns -1. The file name is kept by pointer: it must outlive the doc.
 */
int conf_load(const char *path, struct diag *d, struct conf_doc **out);
/* The same for text already in memory (a stored recipe, a fuzz input). */
int conf_load_buffer(const char *name, const char *text, size_t len, struct diag *d,
    struct conf_doc **out);
void conf_free(struct conf_doc *doc);
/* Zeroed memory owned by doc; never fails (aborts on OOM like xmalloc). */
void *conf_alloc(struct conf_doc *doc, size_t size);
char *conf_strdup(struct conf_doc *doc, const char *s);

/* Reads a whole file of at most max_bytes into a malloc'd NUL-terminated buffer. */
char *conf_read_file(const char *path, size_t max_bytes, size_t *len, struct diag *d);

/*
 * Schema helpers. Each getter returns 1 when the key is present and valid,
 * 0 when it is absent (an error is reported first if required), and -1
 * when it is present but invalid (reported).
 */
#define CONF_REQUIRED	0x1
#define CONF_POSITIVE	0x2	/* > 0 */
#define CONF_NONNEG	0x4	/* >= 0 */

const struct conf_node *conf_lookup(const struct conf_node *map, const char *key);
/*
 * Checks that n is a map of plain keys; reports unknown and duplicate keys.
 * Returns -1 only when n is no usable map: after an unknown key the caller
 * goes on, so one typo gives one error and not a cascade.
 */
int conf_check_map(struct diag *d, const struct conf_node *n, const char *what,
    const char *const allowed[]);
int conf_expect(struct diag *d, const struct conf_node *n, enum conf_type type,
    const char *what);
int conf_get_node(struct diag *d, const struct conf_node *map, const char *key,
    unsigned flags, enum conf_type type, const char *what, const struct conf_node **out);
int conf_get_string(struct diag *d, const struct conf_node *map, const char *key,
    unsigned flags, const char **out);
int conf_get_int(struct diag *d, const struct conf_node *map, const char *key,
    unsigned flags, long min, long max, long *out);
int conf_get_number(struct diag *d, const struct conf_node *map, const char *key,
    unsigned flags, double *out);
int conf_get_quantity(struct diag *d, const struct conf_node *map, const char *key,
    unsigned flags, enum unit_kind kind, double *out);
int conf_get_duration(struct diag *d, const struct conf_node *map, const char *key,
    unsigned flags, int64_t *out_ms);
int conf_get_bool(struct diag *d, const struct conf_node *map, const char *key,
    unsigned flags, int *out);
/* names is NULL-terminated; *out gets the index of the match. */
int conf_get_enum(struct diag *d, const struct conf_node *map, const char *key,
    unsigned flags, const char *const names[], int *out);

/* The same conversions for a node already in hand. Return 0 or -1 (reported). */
int conf_quantity(struct diag *d, const struct conf_node *n, const char *key,
    unsigned flags, enum unit_kind kind, double *out);
int conf_duration(struct diag *d, const struct conf_node *n, const char *key, int64_t *out_ms);
int conf_string(struct diag *d, const struct conf_node *n, const char *key, const char **out);

#endif
