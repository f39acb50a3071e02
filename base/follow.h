/*
 * follow: a request to lbld on its control socket (base/protocol.h) whose
 * answer is read line by line, each line within a time limit: lbl-web's
 * status follower and its one-shot calls, and lbl-mqtt's follower of
 * status and events. Programs above base/ that reach the rig only through
 * lbld's socket share it, so connecting, sending and reading are written
 * once.
 */
#ifndef LBL_FOLLOW_H
#define LBL_FOLLOW_H

#include <stddef.h>

#include "lineread.h"

struct follow {
	struct lineread in;	/* its fd the connection to lbld */
};

/*
 * Connects to lbld on socket_path and sends argv (words without tab or
 * newline) as one request, the send bounded by timeout_ms: 0, or -1 with
 * why (the request, the socket, the connection) and nothing left open.
 */
int follow_open(struct follow *f, const char *socket_path, int argc,
    const char *const argv[], int timeout_ms, char *why, size_t why_size);
/*
 * The next line (without its newline, valid until the next call) within
 * timeout_ms: 1, 0 at end of file, -2 when the time ran out, -1 on an
 * error (errno; EMSGSIZE past CONTROL_MAX_BACKLOG, which lbld never sends).
 */
int follow_line(struct follow *f, int timeout_ms, char **line);
/* Closes the connection and frees the buffer; f may be closed twice. */
void follow_close(struct follow *f);

#endif
