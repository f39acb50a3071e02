/*
 * lbl-web's client of lbld's control socket: the protocol lblctl speaks
 * (base/protocol.h), one connection a request. Every wait is bounded, so a
 * stuck lbld holds a browser's request for seconds, never for ever.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "web.h"

static int64_t
web_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
web_send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	struct pollfd pfd;

	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int64_t left = deadline - web_now_ms();
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
web_follow_open(struct web_follow *f, const char *socket_path, int argc,
    const char *const argv[], int timeout_ms, char *why, size_t why_size)
{
	struct sockaddr_un sun;
	char line[CONTROL_MAX_LINE + 1];
	size_t len = 0;
	int i, n;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
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
	f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (f->fd == -1) {
		snprintf(why, why_size, "socket: %s", strerror(errno));
		return -1;
	}
	/* a Unix socket connects at once or fails (EAGAIN: lbld's queue is full) */
	if (connect(f->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(why, why_size, "cannot reach lbld at %s: %s%s", socket_path,
		    strerror(errno), errno == ENOENT || errno == ECONNREFUSED ?
		    " (is lbld running?)" : errno == EAGAIN ? " (it accepts no connection)" : "");
		web_follow_close(f);
		return -1;
	}
	if (web_send_all(f->fd, line, len, web_now_ms() + timeout_ms) == -1) {
		snprintf(why, why_size, "sending to lbld at %s: %s", socket_path, strerror(errno));
		web_follow_close(f);
		return -1;
	}
	return 0;
}

int
web_follow_line(struct web_follow *f, int timeout_ms, char **line)
{
	int64_t deadline = web_now_ms() + timeout_ms, left;
	struct pollfd pfd;
	char *nl, *more;
	ssize_t n;
	int rc;

	if (f->used > 0) {
		memmove(f->buf, f->buf + f->used, f->len - f->used);
		f->len -= f->used;
		f->used = 0;
	}
	for (;;) {
		if (f->len > 0 && (nl = memchr(f->buf, '\n', f->len)) != NULL) {
			*nl = '\0';
			f->used = (size_t)(nl - f->buf) + 1;
			*line = f->buf;
			return 1;
		}
		if (f->len + 1 >= f->cap) {
			/* lbld drops a client past CONTROL_MAX_BACKLOG: no line is longer */
			if (f->cap >= CONTROL_MAX_BACKLOG) {
				errno = EMSGSIZE;
				return -1;
			}
			if ((more = realloc(f->buf, f->cap ? f->cap * 2 : 4096)) == NULL)
				return -1;
			f->buf = more;
			f->cap = f->cap ? f->cap * 2 : 4096;
		}
		left = deadline - web_now_ms();
		if (left <= 0)
			return -2;
		pfd.fd = f->fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, (int)left);
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (rc == 0)
			return -2;
		n = recv(f->fd, f->buf + f->len, f->cap - f->len - 1, 0);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (n == 0) {
			if (f->len == 0)
				return 0;
			f->buf[f->len] = '\0';
			f->used = f->len;
			*line = f->buf;
			return 1;
		}
		f->len += (size_t)n;
	}
}

void
web_follow_close(struct web_follow *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = f->used = 0;
}

static int
web_reply_add(struct web_reply *r, const char *text, size_t *cap)
{
	size_t len = strlen(text);
	char *more;

	if (r->out_len + len + 2 > WEB_MAX_REPLY_BYTES) {
		errno = EMSGSIZE;
		return -1;
	}
	if (r->out_len + len + 2 > *cap) {
		size_t want = *cap ? *cap : 4096;
		while (want < r->out_len + len + 2)
			want *= 2;
		if ((more = realloc(r->out, want)) == NULL)
			return -1;
		r->out = more;
		*cap = want;
	}
	memcpy(r->out + r->out_len, text, len);
	r->out_len += len;
	r->out[r->out_len++] = '\n';
	r->out[r->out_len] = '\0';
	return 0;
}

int
web_lbld_call(const char *socket_path, int argc, const char *const argv[], int timeout_ms,
    struct web_reply *r)
{
	struct web_follow f;
	size_t cap = 0, mlen;
	char *line, *end;
	int rc, bound_ms = timeout_ms;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (web_follow_open(&f, socket_path, argc, argv, timeout_ms, r->message,
	    sizeof(r->message)) == -1)
		return -1;
	while ((rc = web_follow_line(&f, bound_ms, &line)) == 1) {
		if (strncmp(line, "+ ", 2) == 0) {
			if (web_reply_add(r, line + 2, &cap) == -1) {
				snprintf(r->message, sizeof(r->message), errno == EMSGSIZE ?
				    "lbld's answer is larger than lbl-web relays (%d MiB): use "
				    "lblctl" : "out of memory for lbld's answer",
				    WEB_MAX_REPLY_BYTES / (1024 * 1024));
				web_follow_close(&f);
				free(r->out);
				r->out = NULL;
				r->out_len = 0;
				errno = EMSGSIZE;
				return -1;
			}
		} else if (strncmp(line, "! ", 2) == 0) {
			mlen = strlen(r->message);
			snprintf(r->message + mlen, sizeof(r->message) - mlen, "%s%s",
			    mlen ? "; " : "", line + 2);
		} else if (strcmp(line, "~") == 0) {
			/* lbld works on it: lines may be a keep-alive period apart */
			if (bound_ms < 3 * CONTROL_KEEPALIVE_MS)
				bound_ms = 3 * CONTROL_KEEPALIVE_MS;
		} else if (strcmp(line, "ok") == 0) {
			r->status = 0;
			break;
		} else if (strncmp(line, "fail ", 5) == 0) {
			r->status = (int)strtol(line + 5, &end, 10);
			if (r->status <= 0)
				r->status = 1;
			snprintf(r->message, sizeof(r->message), "%s", *end ? end + 1 : "failed");
			break;
		}
	}
	web_follow_close(&f);
	if (r->status == -1) {
		snprintf(r->message, sizeof(r->message), rc == -2 ? "no answer from lbld within "
		    "%d ms" : rc == 0 ? "lbld closed the connection without an answer" :
		    "reading lbld's answer failed", bound_ms);
		free(r->out);
		r->out = NULL;
		r->out_len = 0;
		return -1;
	}
	if (r->out == NULL && (r->out = calloc(1, 1)) == NULL) {
		snprintf(r->message, sizeof(r->message), "out of memory");
		return -1;
	}
	return 0;
}

void
web_reply_free(struct web_reply *r)
{
	free(r->out);
	r->out = NULL;
}
