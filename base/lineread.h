/*
 * lineread: the lines of a reply from a socket, each within a time limit.
 * lblctl and base/follow.c (lbl-web, lbl-mqtt) read lbld's replies line by
 * line with it; the caller owns the fd and sets the longest line it accepts.
 */
#ifndef LINEREAD_H
#define LINEREAD_H

#include <stddef.h>
#include <stdint.h>

struct lineread {
	int fd;
	size_t max_bytes;	/* the buffer grows to this; a longer line is EMSGSIZE */
	char *buf;
	size_t len, cap;
	size_t used;		/* bytes of buf handed out as the last line */
};

/*
 * The next line, NUL-terminated without its newline, within timeout_ms.
 * Returns 1 with *line (valid until the next call), 0 at end of file (a
 * last line without a newline is returned first), -2 when the time ran
 * out, -1 on an error (errno; ENOMEM too, and EMSGSIZE past max_bytes).
 */
int lineread_next(struct lineread *r, int64_t timeout_ms, char **line);
/* Frees the buffer (not the fd); r may be read again from empty. */
void lineread_free(struct lineread *r);

#endif
