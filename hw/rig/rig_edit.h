/*
 * In-place edits of a rig file: one scalar value changed (or added) at its
 * YAML position, every other byte kept, so comments, order, quoting and
 * line endings stay as the technician wrote them. lblctl teach and
 * calibrate write the rig file through here.
 */
#ifndef LBL_RIG_EDIT_H
#define LBL_RIG_EDIT_H

#include <stddef.h>

#include "conf.h"

/*
 * In text (len bytes; name is used in messages), sets the scalar at the
 * path of map keys keys[0..depth-1] from the document's root (e.g.
 * "stations", "ag", "x") to value, written as it is given ("412.5 mm").
 * A value that was quoted stays quoted with the same quote. When only the
 * last key is missing and its map exists, the pair is added: in a flow map
 * ({x: 10, depth: 5}) before its closing brace, in a block map as a line
 * of its own after the map's last line, indented as its keys, with the
 * file's line ending. The edited text is parsed again and the value read
 * back at the path before it is handed out.
 *
 * Returns 0 and a malloc'd, NUL-terminated *out (*out_len bytes, caller
 * frees); -1 after reporting to d, naming FILE:LINE:COL where the text is
 * at fault (a missing map, a value that is a map or list, a multi-line or
 * unparsable scalar, a value that cannot be written plainly); text is
 * never changed.
 */
int rig_edit_text(const char *name, const char *text, size_t len, const char *const keys[],
    size_t depth, const char *value, struct diag *d, char **out, size_t *out_len);

/* One edit of rig_edit_file(): the value at a path of keys, as rig_edit_text() takes them. */
struct rig_edit {
	const char *const *keys;
	size_t depth;
	const char *value;
};

/*
 * The edits, one after the other, on the rig file at path, kept only if the result is a
 * valid rig file (rig_load_buffer() and profile_check_rig(), as check-rig
 * checks it): the old text is written to PATH.bak, the new one to a
 * temporary file in the same directory (the old file's mode, owner and
 * group), flushed with fsync and renamed over path, and the directory is
 * flushed. Returns 0, or -1 after reporting to d (d->file should be path):
 * the file at path is then as it was.
 */
int rig_edit_file(const char *path, const struct rig_edit *edits, size_t count,
    struct diag *d);

#endif
