/*
 * follow: a request to lbld whose answer is read line by line (see
 * follow.h). Every wait is bounded, so a stuck lbld holds its caller for
 * the time limit the caller gives, never for ever.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"
#include "protocol.h"

static int64_t
follow_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
follow_send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	struct pollfd pfd;

	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int64_t left = deadline - follow_now_ms();
			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
				return -1;
			continue;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
follow_open(struct follow *f, const char *socket_path, int argc,
    const char *const argv[], int timeout_ms, char *why, size_t why_size)
{
	struct sockaddr_un sun;
	char line[CONTROL_MAX_LINE + 1];
	size_t len = 0;
	int i, n;

	memset(f, 0, sizeof(*f));
	f->in.fd = -1;
	/* lbld drops a client past CONTROL_MAX_BACKLOG: no line is longer */
	f->in.max_bytes = CONTROL_MAX_BACKLOG;
	for (i = 0; i < argc; i++) {
		if (strpbrk(argv[i], "\t\n\r") != NULL) {
			snprintf(why, why_size, "a value holds a tab or a line break");
			return -1;
		}
		n = snprintf(line + len, sizeof(line) - len, "%s%s", i ? "\t" : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - len) {
			snprintf(why, why_size, "the request is longer than lbld takes (%d bytes)",
			    CONTROL_MAX_LINE);
			return -1;
		}
		len += (size_t)n;
	}
	line[len++] = '\n';
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(socket_path) >= sizeof(sun.sun_path)) {
		snprintf(why, why_size, "lbld's socket path %s is too long", socket_path);
		return -1;
	}
	strcpy(sun.sun_path, socket_path);
	f->in.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (f->in.fd == -1) {
		snprintf(why, why_size, "socket: %s", strerror(errno));
		return -1;
	}
	/* a Unix socket connects at once or fails (EAGAIN: lbld's queue is full) */
	if (connect(f->in.fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(why, why_size, "cannot reach lbld at %s: %s%s", socket_path,
		    strerror(errno), errno == ENOENT || errno == ECONNREFUSED ?
		    " (is lbld running?)" : errno == EAGAIN ? " (it accepts no connection)" : "");
		follow_close(f);
		return -1;
	}
	if (follow_send_all(f->in.fd, line, len, follow_now_ms() + timeout_ms) == -1) {
		snprintf(why, why_size, "sending to lbld at %s: %s", socket_path, strerror(errno));
		follow_close(f);
		return -1;
	}
	return 0;
}

int
follow_line(struct follow *f, int timeout_ms, char **line)
{
	return lineread_next(&f->in, timeout_ms, line);
}

void
follow_close(struct follow *f)
{
	if (f->in.fd != -1)
		close(f->in.fd);
	f->in.fd = -1;
	lineread_free(&f->in);
}
