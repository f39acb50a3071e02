/*
 * In-place edits of a rig file. The parser (base/conf.c) keeps each
 * node's line and column, which is all this needs: the value's first byte
 * is found from them, its last by the few rules of a one-line scalar, and
 * only those bytes are replaced. Everything else, comments included, is
 * copied as it is. The result is parsed again and the value read back, so
 * an edit that would mean something else than intended is refused rather
 * than written.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile.h"
#include "rig.h"
#include "rig_edit.h"

/* A growing output buffer; on allocation failure ok is cleared and nothing more is kept. */
struct rig_edit_buf {
	char *text;
	size_t len, cap;
	int ok;
};

static void
rig_edit_put(struct rig_edit_buf *b, const char *s, size_t n)
{
	char *grown;
	size_t cap;

	if (!b->ok)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((grown = realloc(b->text, cap)) == NULL) {
			b->ok = 0;
			return;
		}
		b->text = grown;
		b->cap = cap;
	}
	memcpy(b->text + b->len, s, n);
	b->len += n;
	b->text[b->len] = '\0';
}

/*
 * The byte offset of a node's line and column (1-based, as libyaml counts
 * them: a column is a character, so UTF-8 sequences count once, and a
 * CRLF ends a line as a LF does). Returns 0, or -1 when the position is
 * not in the text.
 */
static int
rig_edit_offset(const char *text, size_t len, int line, int col, size_t *off)
{
	size_t i = 0;
	int l = 1, c = 1;

	while (l < line) {
		while (i < len && text[i] != '\n')
			i++;
		if (i >= len)
			return -1;
		i++;
		l++;
	}
	while (c < col) {
		if (i >= len || text[i] == '\n')
			return -1;
		i++;
		/* the continuation bytes of a UTF-8 character are not columns */
		while (i < len && ((unsigned char)text[i] & 0xc0) == 0x80)
			i++;
		c++;
	}
	*off = i;
	return 0;
}

/*
 * Where the one-line scalar starting at off ends (one past its last
 * byte): for a quoted one at its closing quote, for a plain one before a
 * comment, the line's end or, in a flow collection, a ',', '}' or ']',
 * trailing blanks left out. Returns 0, or -1 when it runs past its line
 * (a multi-line scalar, which is not edited in place).
 */
static int
rig_edit_scalar_end(const char *text, size_t len, size_t off, int in_flow, size_t *end)
{
	size_t i = off;
	char q = text[off];

	if (q == '\'' || q == '"') {
		for (i = off + 1; i < len && text[i] != '\n'; i++) {
			if (q == '"' && text[i] == '\\' && i + 1 < len && text[i + 1] != '\n')
				i++;
			else if (q == '\'' && text[i] == '\'' && i + 1 < len && text[i + 1] == '\'')
				i++;
			else if (text[i] == q) {
				*end = i + 1;
				return 0;
			}
		}
		return -1;
	}
	for (i = off; i < len && text[i] != '\n' && text[i] != '\r'; i++) {
		if (text[i] == '#' && i > off && (text[i - 1] == ' ' || text[i - 1] == '\t'))
			break;
		if (in_flow && (text[i] == ',' || text[i] == '}' || text[i] == ']'))
			break;
	}
	while (i > off && (text[i - 1] == ' ' || text[i - 1] == '\t'))
		i--;
	*end = i;
	return 0;
}

/*
 * Whether value can be written as a plain scalar that reads back as
 * itself: printable, no leading or trailing blank, nothing YAML would
 * take for structure (a comment, a key, a flow bracket, a quote, an
 * indicator at the start). Engineering values ("412.5 mm", "0.0815",
 * "10 mL/min") all pass.
 */
static int
rig_edit_plain_ok(const char *value)
{
	size_t i, n = strlen(value);

	if (n == 0 || value[0] == ' ' || value[n - 1] == ' ' ||
	    strchr("-?:,[]{}#&*!|>'\"%@`", value[0]) != NULL)
		return value[0] == '-' && n > 1 && value[1] != ' ' && value[n - 1] != ' ' &&
		    strspn(value + 1, "0123456789.") > 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)value[i];
		if (ch < 0x20 || ch == 0x7f || strchr(",[]{}#'\"", ch) != NULL)
			return 0;
		if (ch == ':' && (i + 1 == n || value[i + 1] == ' '))
			return 0;
	}
	return 1;
}

/* The node's first byte is that of a flow collection ('{' or '['). */
static int
rig_edit_is_flow(const char *text, size_t len, const struct conf_node *n)
{
	size_t off;

	return rig_edit_offset(text, len, n->line, n->col, &off) == 0 && off < len &&
	    (text[off] == '{' || text[off] == '[');
}

/*
 * The closing bracket of the flow collection that opens at off, skipping
 * quoted scalars, comments and nested collections. Returns 0 and *close,
 * or -1 when it is not closed.
 */
static int
rig_edit_flow_close(const char *text, size_t len, size_t off, size_t *close)
{
	int nest = 0;
	size_t i, end;

	for (i = off; i < len; i++) {
		switch (text[i]) {
		case '{': case '[':
			nest++;
			break;
		case '}': case ']':
			if (--nest == 0) {
				*close = i;
				return 0;
			}
			break;
		case '\'': case '"':
			if (rig_edit_scalar_end(text, len, i, 1, &end) == -1)
				return -1;
			i = end - 1;
			break;
		case '#':
			if (i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t'))
				while (i + 1 < len && text[i + 1] != '\n')
					i++;
			break;
		default:
			break;
		}
	}
	return -1;
}

/* The start of the line holding off. */
static size_t
rig_edit_line_start(const char *text, size_t off)
{
	while (off > 0 && text[off - 1] != '\n')
		off--;
	return off;
}

/*
 * Where a new pair goes in the block map whose last key is last_key: after
 * the last line that belongs to the map (the key's own, and each line
 * below it indented deeper, blank lines and comments aside), at the start
 * of the next line. *need_eol is set when that line has no line ending of
 * its own (the end of the file).
 */
static size_t
rig_edit_block_end(const char *text, size_t len, size_t key_off, int key_indent, int *need_eol)
{
	size_t i = rig_edit_line_start(text, key_off), after = 0, s;
	int first = 1, indent;

	*need_eol = 0;
	while (i < len) {
		s = i;
		for (indent = 0; i < len && text[i] == ' '; i++)
			indent++;
		if (!first && i < len && text[i] != '\n' && text[i] != '\r' && text[i] != '#' &&
		    indent <= key_indent)
			break;
		while (i < len && text[i] != '\n')
			i++;
		/* blank lines and comments between pairs belong to what follows */
		if (first || (s + (size_t)indent < len && text[s + indent] != '\n' &&
		    text[s + indent] != '\r' && text[s + indent] != '#'))
			after = i < len ? i + 1 : i;
		if (i < len)
			i++;
		first = 0;
	}
	if (after == len && (len == 0 || text[len - 1] != '\n'))
		*need_eol = 1;
	return after;
}

/* The line ending the file uses: CRLF when its first line ends so, else LF. */
static const char *
rig_edit_eol(const char *text, size_t len)
{
	const char *nl = memchr(text, '\n', len);

	return nl != NULL && nl > text && nl[-1] == '\r' ? "\r\n" : "\n";
}

/* The value as it is written: plain, or in the quotes the old one had (written to b). */
static int
rig_edit_write_value(struct rig_edit_buf *b, struct diag *d, const struct conf_node *at,
    int line, int col, char quote, const char *value, int in_flow)
{
	const char *p;

	if (quote == '\'') {
		rig_edit_put(b, "'", 1);
		/* a quote inside single quotes is written twice */
		for (p = value; *p; p++) {
			rig_edit_put(b, p, 1);
			if (*p == '\'')
				rig_edit_put(b, p, 1);
		}
		rig_edit_put(b, "'", 1);
	} else if (quote == '"') {
		if (strpbrk(value, "\"\\") != NULL || strpbrk(value, "\n\r\t") != NULL) {
			diag_error_at(d, line, col, "the value '%s' cannot be written in the double "
			    "quotes this value has (no '\"', '\\' or control characters)", value);
			return -1;
		}
		rig_edit_put(b, "\"", 1);
		rig_edit_put(b, value, strlen(value));
		rig_edit_put(b, "\"", 1);
	} else {
		if (!rig_edit_plain_ok(value) || (in_flow && strpbrk(value, ",[]{}") != NULL)) {
			if (at != NULL)
				diag_error(d, at, "the value '%s' cannot be written as a plain YAML "
				    "value (expected a number with its unit, e.g. 412.5 mm)", value);
			else
				diag_error_at(d, line, col, "the value '%s' cannot be written as a "
				    "plain YAML value (expected a number with its unit, e.g. 412.5 mm)",
				    value);
			return -1;
		}
		rig_edit_put(b, value, strlen(value));
	}
	return 0;
}

/* The dotted path of keys for messages: "stations.ag.x". */
static void
rig_edit_path(const char *const keys[], size_t depth, char *buf, size_t size)
{
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < depth && used < size; i++) {
		n = snprintf(buf + used, size - used, "%s%s", i ? "." : "", keys[i]);
		if (n < 0)
			return;
		used += (size_t)n;
	}
}

/*
 * The edit proper, on the parsed doc: finds the value or its map and
 * writes the new text to b. Returns 0 or -1 (reported).
 */
static int
rig_edit_apply(const struct conf_doc *doc, const char *text, size_t len,
    const char *const keys[], size_t depth, const char *value, struct diag *d,
    struct rig_edit_buf *b)
{
	const struct conf_node *map = doc->root, *node = NULL, *last_key;
	char path[256];
	size_t i, off, end, close, at;
	int in_flow, need_eol;

	rig_edit_path(keys, depth, path, sizeof(path));
	for (i = 0; i < depth; i++) {
		if (map == NULL || map->type != CONF_MAP) {
			if (map != NULL)
				diag_error(d, map, "'%s': expected a map here to hold '%s'", path,
				    keys[i]);
			else
				diag_error_at(d, 1, 1, "'%s': the file is empty", path);
			return -1;
		}
		node = conf_lookup(map, keys[i]);
		if (node == NULL)
			break;
		if (i + 1 < depth)
			map = node;
	}
	in_flow = rig_edit_is_flow(text, len, map);
	if (node == NULL && i + 1 < depth) {
		diag_error(d, map, "'%s': there is no '%s' here to hold it (add it by hand, or "
		    "check the name)", path, keys[i]);
		return -1;
	}
	if (node != NULL) {
		/* the value is there: replace its bytes */
		if (node->type != CONF_SCALAR) {
			diag_error(d, node, "'%s': expected a single value, found a %s", path,
			    node->type == CONF_MAP ? "map" : "list");
			return -1;
		}
		if (rig_edit_offset(text, len, node->line, node->col, &off) == -1 ||
		    rig_edit_scalar_end(text, len, off, in_flow, &end) == -1 ||
		    (!node->quoted && (end - off != strlen(node->text) ||
		    strncmp(text + off, node->text, end - off) != 0))) {
			diag_error(d, node, "'%s': the value runs over more than one line or could "
			    "not be found at its position; edit it by hand", path);
			return -1;
		}
		rig_edit_put(b, text, off);
		if (rig_edit_write_value(b, d, node, node->line, node->col,
		    node->quoted ? text[off] : 0, value, in_flow) == -1)
			return -1;
		rig_edit_put(b, text + end, len - end);
		return 0;
	}
	/* only the last key is missing: add the pair to its map */
	if (rig_edit_offset(text, len, map->line, map->col, &off) == -1) {
		diag_error(d, map, "'%s': the map could not be found at its position", path);
		return -1;
	}
	if (in_flow) {
		if (rig_edit_flow_close(text, len, off, &close) == -1) {
			diag_error(d, map, "'%s': the map's closing brace was not found", path);
			return -1;
		}
		for (at = close; at > off + 1 && (text[at - 1] == ' ' || text[at - 1] == '\t');)
			at--;
		rig_edit_put(b, text, at);
		if (map->count > 0)
			rig_edit_put(b, ", ", 2);
		rig_edit_put(b, keys[depth - 1], strlen(keys[depth - 1]));
		rig_edit_put(b, ": ", 2);
		if (rig_edit_write_value(b, d, map, map->line, map->col, 0, value, 1) == -1)
			return -1;
		rig_edit_put(b, text + at, len - at);
		return 0;
	}
	if (map->count == 0) {
		diag_error(d, map, "'%s': an empty map cannot be added to in place; add '%s' by "
		    "hand", path, keys[depth - 1]);
		return -1;
	}
	last_key = map->items[2 * (map->count - 1)];
	if (rig_edit_offset(text, len, last_key->line, last_key->col, &off) == -1) {
		diag_error(d, last_key, "'%s': the map's last key could not be found", path);
		return -1;
	}
	at = rig_edit_block_end(text, len, off, last_key->col - 1, &need_eol);
	rig_edit_put(b, text, at);
	if (need_eol)
		rig_edit_put(b, rig_edit_eol(text, len), strlen(rig_edit_eol(text, len)));
	for (i = 1; i < (size_t)map->items[0]->col; i++)
		rig_edit_put(b, " ", 1);
	rig_edit_put(b, keys[depth - 1], strlen(keys[depth - 1]));
	rig_edit_put(b, ": ", 2);
	if (rig_edit_write_value(b, d, map, map->line, map->col, 0, value, 0) == -1)
		return -1;
	rig_edit_put(b, rig_edit_eol(text, len), strlen(rig_edit_eol(text, len)));
	rig_edit_put(b, text + at, len - at);
	return 0;
}

int
rig_edit_text(const char *name, const char *text, size_t len, const char *const keys[],
    size_t depth, const char *value, struct diag *d, char **out, size_t *out_len)
{
	struct rig_edit_buf b = { NULL, 0, 0, 1 };
	struct conf_doc *doc = NULL, *again = NULL;
	const struct conf_node *n;
	char path[256];
	size_t i;
	int rc = -1;

	*out = NULL;
	*out_len = 0;
	rig_edit_path(keys, depth, path, sizeof(path));
	if (depth == 0) {
		diag_error_at(d, 0, 0, "no key to edit");
		return -1;
	}
	if (conf_load_buffer(name, text, len, d, &doc) == -1)
		return -1;
	if (rig_edit_apply(doc, text, len, keys, depth, value, d, &b) == -1)
		goto out;
	if (!b.ok) {
		diag_error_at(d, 0, 0, "'%s': out of memory editing the file", path);
		goto out;
	}
	/* read the value back from the new text: the edit says what was meant */
	if (conf_load_buffer(name, b.text, b.len, d, &again) == -1) {
		diag_error_at(d, 0, 0, "'%s': the edited text no longer parses; nothing written",
		    path);
		goto out;
	}
	for (n = again->root, i = 0; n != NULL && i < depth; i++)
		n = n->type == CONF_MAP ? conf_lookup(n, keys[i]) : NULL;
	if (n == NULL || n->type != CONF_SCALAR || strcmp(n->text, value) != 0) {
		diag_error_at(d, 0, 0, "'%s': the edited text does not read back as '%s'; "
		    "nothing written", path, value);
		goto out;
	}
	*out = b.text;
	*out_len = b.len;
	b.text = NULL;
	rc = 0;
out:
	free(b.text);
	conf_free(doc);
	conf_free(again);
	return rc;
}

/* Writes len bytes to fd in full. Returns 0, or -1 with errno. */
static int
rig_edit_write_all(int fd, const char *text, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, text, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Writes text to a new file beside target and renames it over target,
 * flushed on both sides of the rename, with st's mode, owner and group.
 * Returns 0, or -1 after reporting (the temporary file is removed).
 */
static int
rig_edit_replace(const char *target, const char *text, size_t len, const struct stat *st,
    struct diag *d)
{
	char tmp[4096], dir[4096];
	int fd, dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", target) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", target) >= (int)sizeof(dir)) {
		diag_error_at(d, 0, 0, "the path %s is too long", target);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		diag_error_at(d, 0, 0, "cannot create a temporary file beside %s: %s", target,
		    strerror(errno));
		return -1;
	}
	if (fchmod(fd, st->st_mode & 07777) == -1 ||
	    ((st->st_uid != getuid() || st->st_gid != getgid()) &&
	    fchown(fd, st->st_uid, st->st_gid) == -1 && errno != EPERM) ||
	    rig_edit_write_all(fd, text, len) == -1 || fsync(fd) == -1) {
		diag_error_at(d, 0, 0, "writing %s (to replace %s): %s", tmp, target,
		    strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, target) == -1) {
		diag_error_at(d, 0, 0, "replacing %s with %s: %s", target, tmp,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	/* the rename itself is durable once the directory is flushed */
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		diag_warning(d, NULL, "%s was written, but its directory could not be flushed: %s",
		    target, strerror(errno));
	}
	if (dfd != -1)
		close(dfd);
	return 0;
}

int
rig_edit_file(const char *path, const struct rig_edit *edits, size_t count, struct diag *d)
{
	struct stat st;
	struct rig *rig = NULL;
	char *text = NULL, *edited = NULL, *next, bak[4096];
	size_t len, edited_len, i;
	int errors = d->errors, rc = -1;

	if (stat(path, &st) == -1) {
		diag_error_at(d, 0, 0, "%s", strerror(errno));
		return -1;
	}
	if ((text = conf_read_file(path, CONF_MAX_FILE_BYTES, &len, d)) == NULL)
		return -1;
	if ((edited = malloc(len + 1)) == NULL) {
		diag_error_at(d, 0, 0, "out of memory");
		goto out;
	}
	memcpy(edited, text, len + 1);
	edited_len = len;
	for (i = 0; i < count; i++) {
		if (rig_edit_text(path, edited, edited_len, edits[i].keys, edits[i].depth,
		    edits[i].value, d, &next, &edited_len) == -1)
			goto out;
		free(edited);
		edited = next;
	}
	if (edited_len > CONF_MAX_FILE_BYTES) {
		diag_error_at(d, 0, 0, "the edited file would pass %d bytes", CONF_MAX_FILE_BYTES);
		goto out;
	}
	/* check-rig's checks: structure, references, limits, then the profiles */
	if (rig_load_buffer(path, edited, edited_len, d, &rig) == -1 ||
	    profile_check_rig(rig, d) == -1 || d->errors != errors) {
		diag_error_at(d, 0, 0, "with %s the rig file would not be valid (see the other "
		    "messages); nothing written", count == 1 ? edits[0].value : "these values");
		goto out;
	}
	if (snprintf(bak, sizeof(bak), "%s.bak", path) >= (int)sizeof(bak)) {
		diag_error_at(d, 0, 0, "the path is too long");
		goto out;
	}
	if (rig_edit_replace(bak, text, len, &st, d) == -1 ||
	    rig_edit_replace(path, edited, edited_len, &st, d) == -1)
		goto out;
	rc = 0;
out:
	rig_free(rig);
	free(text);
	free(edited);
	return rc;
}
