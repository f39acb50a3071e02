/*
 * lineread: the lines of a reply from a socket, each within a time limit
 * (see lineread.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lineread.h"

static int64_t
lineread_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
lineread_next(struct lineread *r, int64_t timeout_ms, char **line)
{
	int64_t deadline = lineread_now_ms() + timeout_ms, left;
	struct pollfd pfd;
	char *nl, *more;
	ssize_t n;
	int rc;

	if (r->used > 0) {
		memmove(r->buf, r->buf + r->used, r->len - r->used);
		r->len -= r->used;
		r->used = 0;
	}
	for (;;) {
		if (r->len > 0 && (nl = memchr(r->buf, '\n', r->len)) != NULL) {
			*nl = '\0';
			r->used = (size_t)(nl - r->buf) + 1;
			*line = r->buf;
			return 1;
		}
		if (r->len + 1 >= r->cap) {
			if (r->cap >= r->max_bytes) {
				errno = EMSGSIZE;
				return -1;
			}
			if ((more = realloc(r->buf, r->cap ? r->cap * 2 : 4096)) == NULL)
				return -1;
			r->buf = more;
			r->cap = r->cap ? r->cap * 2 : 4096;
		}
		left = deadline - lineread_now_ms();
		if (left <= 0)
			return -2;
		pfd.fd = r->fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (rc == 0)
			return -2;
		n = recv(r->fd, r->buf + r->len, r->cap - r->len - 1, 0);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (n == 0) {
			if (r->len == 0)
				return 0;
			r->buf[r->len] = '\0';
			r->used = r->len;
			*line = r->buf;
			return 1;
		}
		r->len += (size_t)n;
	}
}

void
lineread_free(struct lineread *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = r->used = 0;
}
