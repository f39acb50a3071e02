/*
 * lbl-web's client of lbld's control socket: the protocol lblctl speaks
 * (base/protocol.h), one connection a request. Every wait is bounded, so a
 * stuck lbld holds a browser's request for seconds, never for ever.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "web.h"

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
	struct follow f;
	size_t cap = 0, mlen;
	char *line, *end;
	int rc, bound_ms = timeout_ms;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (follow_open(&f, socket_path, argc, argv, timeout_ms, r->message,
	    sizeof(r->message)) == -1)
		return -1;
	while ((rc = follow_line(&f, bound_ms, &line)) == 1) {
		if (strncmp(line, "+ ", 2) == 0) {
			if (web_reply_add(r, line + 2, &cap) == -1) {
				snprintf(r->message, sizeof(r->message), errno == EMSGSIZE ?
				    "lbld's answer is larger than lbl-web relays (%d MiB): use "
				    "lblctl" : "out of memory for lbld's answer",
				    WEB_MAX_REPLY_BYTES / (1024 * 1024));
				follow_close(&f);
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
	follow_close(&f);
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

/* The reads under way (web_lbld_read), at most WEB_MAX_LBLD_READS. */
static int web_reads;
static pthread_mutex_t web_reads_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t web_reads_cond = PTHREAD_COND_INITIALIZER;

int
web_lbld_read(const char *socket_path, int argc, const char *const argv[], int timeout_ms,
    struct web_reply *r)
{
	struct timespec until;
	int rc = 0, saved;

	/* the default condition's clock is CLOCK_REALTIME: the deadline is on it */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&web_reads_lock);
	while (web_reads >= WEB_MAX_LBLD_READS && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&web_reads_cond, &web_reads_lock, &until);
	if (web_reads >= WEB_MAX_LBLD_READS) {
		pthread_mutex_unlock(&web_reads_lock);
		memset(r, 0, sizeof(*r));
		r->status = -1;
		snprintf(r->message, sizeof(r->message), "lbl-web is busy: %d reads of lbld are "
		    "under way, the most it asks at once (try again shortly)", WEB_MAX_LBLD_READS);
		errno = EBUSY;
		return -1;
	}
	web_reads++;
	pthread_mutex_unlock(&web_reads_lock);
	rc = web_lbld_call(socket_path, argc, argv, timeout_ms, r);
	saved = errno;
	pthread_mutex_lock(&web_reads_lock);
	web_reads--;
	pthread_cond_signal(&web_reads_cond);
	pthread_mutex_unlock(&web_reads_lock);
	errno = saved;
	return rc;
}
