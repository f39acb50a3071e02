#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"

/* A client that does not read its replies is dropped past this much backlog. */
#define CONTROL_MAX_BACKLOG	(4 * 1024 * 1024)
#define CONTROL_MAX_CLIENTS	64

struct control_client {
	struct control *control;
	int fd;
	struct ucred cred;
	int may_write;
	char *in;			/* request line, then payload */
	size_t in_len, in_cap;
	size_t line_len;		/* 0 until the line is complete */
	size_t payload_want;
	int payload_arg;		/* index of the @N word, -1 if none */
	/*
	 * The line is split in place once and kept split while the payload
	 * arrives; words are kept as offsets because in may be reallocated.
	 */
	size_t word_offset[CONTROL_MAX_ARGS];
	int argc;			/* 0 until the line is parsed */
	char *out;
	size_t out_len, out_cap, out_sent;
	int busy;			/* a request is being answered */
	int follow_tag;			/* 0: not following */
	int closing;			/* close once out is flushed */
	control_watch_cb watch;		/* told of sends and of the end (control_watch) */
	void *watch_arg;
	struct control_client *next;
};

struct control {
	struct loop *loop;
	int listen_fd;
	char *path;
	control_handler handler;
	void *arg;
	struct control_client *clients;
	int client_count;
	dev_t dev;			/* the socket file we made, so we remove only it */
	ino_t ino;
};

static void control_client_free(struct control_client *c);

/*
 * While a request is being answered nothing more is read, and a half-close
 * (EPOLLRDHUP) is no reason to stop answering; a peer that closes entirely
 * still shows as EPOLLHUP, which epoll always reports.
 */
static void
control_update_events(struct control_client *c)
{
	uint32_t events = c->busy ? 0 : EPOLLIN | EPOLLRDHUP;

	if (c->out_sent < c->out_len)
		events |= EPOLLOUT;
	loop_mod_fd(c->control->loop, c->fd, events);
}

/*
 * Frees a client that is done: closing, nothing left to send, and no
 * request in progress. A handler may call control_out() many times and the
 * client must outlive every call, so only this and the event callbacks
 * free clients, never the output path. Returns 1 if c was freed.
 */
static int
control_release(struct control_client *c)
{
	if (!c->closing || c->out_len != 0 || c->busy)
		return 0;
	control_client_free(c);
	return 1;
}

static void
control_flush(struct control_client *c)
{
	ssize_t n;
	int sent = 0;

	while (c->out_sent < c->out_len) {
		n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			c->closing = 1;
			c->out_len = c->out_sent = 0;
			break;
		}
		c->out_sent += (size_t)n;
		sent = 1;
	}
	if (c->out_sent == c->out_len)
		c->out_len = c->out_sent = 0;
	control_update_events(c);
	if (sent && c->watch != NULL)
		c->watch(c->watch_arg, c, CONTROL_SENT);
}

static void
control_vappend(struct control_client *c, const char *prefix, const char *fmt, va_list ap)
{
	char *text;
	size_t need;
	int len;

	if (c->closing)
		return;
	len = vasprintf(&text, fmt, ap);
	if (len < 0)
		return;
	need = c->out_len + strlen(prefix) + (size_t)len + 2;	/* newline and NUL */
	if (need > CONTROL_MAX_BACKLOG) {
		log_warnx("control: client pid %d does not read its replies; dropping it",
		    (int)c->cred.pid);
		c->closing = 1;
		c->out_len = c->out_sent = 0;
		free(text);
		return;
	}
	if (need > c->out_cap) {
		size_t cap = need * 2;
		char *out = realloc(c->out, cap);
		if (out == NULL) {
			free(text);
			c->closing = 1;
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	/* one line per reply: a newline inside text must not forge a protocol line */
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	c->out_len += (size_t)sprintf(c->out + c->out_len, "%s%s\n", prefix, text);
	free(text);
}

void
control_out(struct control_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	control_vappend(c, "+ ", fmt, ap);
	va_end(ap);
	control_flush(c);
}

void
control_out_text(struct control_client *c, const char *text)
{
	const char *p = text, *nl;

	while (*p) {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			control_out(c, "%s", p);
			break;
		}
		control_out(c, "%.*s", (int)(nl - p), p);
		p = nl + 1;
	}
}

void
control_err(struct control_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	control_vappend(c, "! ", fmt, ap);
	va_end(ap);
	control_flush(c);
}

void
control_finish(struct control_client *c, int status, const char *fmt, ...)
{
	char prefix[32];
	va_list ap;

	if (status == 0) {
		snprintf(prefix, sizeof(prefix), "ok");
		va_start(ap, fmt);
		control_vappend(c, prefix, "", ap);
		va_end(ap);
	} else {
		snprintf(prefix, sizeof(prefix), "fail %d ", status);
		va_start(ap, fmt);
		control_vappend(c, prefix, fmt, ap);
		va_end(ap);
	}
	c->busy = 0;
	c->follow_tag = 0;
	c->closing = 1;		/* one request per connection keeps the protocol simple */
	control_flush(c);
	control_release(c);	/* the caller must not use c after this */
}

void
control_follow(struct control_client *c, int tag)
{
	c->follow_tag = tag;
}

void
control_each_follower(struct control *control, int tag,
    void (*fn)(void *arg, struct control_client *client), void *arg)
{
	struct control_client *c, *next;

	for (c = control->clients; c != NULL; c = next) {
		next = c->next;
		if (c->follow_tag == tag && !c->closing)
			fn(arg, c);
	}
}

int
control_may_write(const struct control_client *c)
{
	return c->may_write;
}

uid_t
control_peer_uid(const struct control_client *c)
{
	return c->cred.uid;
}

void
control_watch(struct control_client *c, control_watch_cb cb, void *arg)
{
	c->watch = cb;
	c->watch_arg = arg;
}

size_t
control_unsent(const struct control_client *c)
{
	return c->out_len - c->out_sent;
}

/*
 * What is sent is moved out of the way only when the buffer would have to
 * grow, so a long stream costs O(1) per byte and the buffer stays about
 * twice the unsent backlog, not the size of the whole reply.
 */
int
control_out_lines(struct control_client *c, const char *lines, size_t len)
{
	size_t unsent = c->out_len - c->out_sent;

	if (c->closing)
		return -1;
	if (unsent + len > CONTROL_MAX_BACKLOG) {
		log_warnx("control: client pid %d does not read its replies; dropping it",
		    (int)c->cred.pid);
		c->closing = 1;
		c->out_len = c->out_sent = 0;
		return -1;
	}
	if (c->out_len + len > c->out_cap && c->out_sent > 0) {
		memmove(c->out, c->out + c->out_sent, unsent);
		c->out_len = unsent;
		c->out_sent = 0;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = (c->out_len + len) * 2;
		char *out = realloc(c->out, cap);
		if (out == NULL) {
			log_warn("control: client pid %d: %zu bytes of output", (int)c->cred.pid,
			    cap);
			c->closing = 1;
			c->out_len = c->out_sent = 0;
			return -1;
		}
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, lines, len);
	c->out_len += len;
	control_flush(c);
	return c->closing ? -1 : 0;
}

/* Root, the daemon's own user, or a member of CONTROL_GROUP may change things. */
static int
control_peer_may_write(const struct ucred *cred)
{
	struct passwd *pw;
	struct group *gr;
	gid_t groups[256];
	int n = 256, i;

	if (cred->uid == 0 || cred->uid == getuid())
		return 1;
	if ((gr = getgrnam(CONTROL_GROUP)) == NULL)
		return 0;
	if (cred->gid == gr->gr_gid)
		return 1;
	if ((pw = getpwuid(cred->uid)) == NULL)
		return 0;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == gr->gr_gid)
			return 1;
	return 0;
}

static void
control_client_free(struct control_client *c)
{
	struct control_client **p;

	if (c->watch != NULL)
		c->watch(c->watch_arg, c, CONTROL_GONE);
	for (p = &c->control->clients; *p != NULL; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	c->control->client_count--;
	loop_del_fd(c->control->loop, c->fd);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

/* Splits the line into words and checks the @N payload word. Returns 0 or -1 (answered). */
static int
control_parse_line(struct control_client *c, char **argv, int *argc)
{
	char *p = c->in, *word;
	long n;

	*argc = 0;
	c->payload_arg = -1;
	c->in[c->line_len - 1] = '\0';
	for (char *q = c->in; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t') {
			control_finish(c, 2, "malformed request: control characters");
			return -1;
		}
	while ((word = strsep(&p, "\t")) != NULL) {
		if (*argc == CONTROL_MAX_ARGS) {
			control_finish(c, 2, "malformed request: more than %d words",
			    CONTROL_MAX_ARGS);
			return -1;
		}
		if (word[0] == '@' && c->payload_arg == -1) {
			char *end;
			n = strtol(word + 1, &end, 10);
			if (*end != '\0' || end == word + 1 || n < 0 || n > CONTROL_MAX_PAYLOAD) {
				control_finish(c, 2, "malformed request: payload size '%s' (at most "
				    "%d bytes)", word, CONTROL_MAX_PAYLOAD);
				return -1;
			}
			c->payload_arg = *argc;
			c->payload_want = (size_t)n;
		}
		argv[(*argc)++] = word;
	}
	if (*argc == 0 || argv[0][0] == '\0') {
		control_finish(c, 2, "malformed request: no command");
		return -1;
	}
	return 0;
}

static void
control_dispatch(struct control_client *c)
{
	char *argv[CONTROL_MAX_ARGS + 1];
	struct control_request req;
	int i;

	if (c->argc == 0) {
		if (control_parse_line(c, argv, &c->argc) == -1)
			return;
		for (i = 0; i < c->argc; i++)
			c->word_offset[i] = (size_t)(argv[i] - c->in);
	}
	if (c->payload_arg != -1 && c->in_len < c->line_len + c->payload_want)
		return;		/* wait for the rest of the payload */
	for (i = 0; i < c->argc; i++)
		argv[i] = c->in + c->word_offset[i];
	argv[c->argc] = NULL;
	memset(&req, 0, sizeof(req));
	req.argc = c->argc;
	req.argv = argv;
	if (c->payload_arg != -1) {
		req.payload = c->in + c->line_len;
		req.payload_len = c->payload_want;
		c->in[c->line_len + c->payload_want] = '\0';
	}
	c->busy = 1;
	control_update_events(c);
	c->control->handler(c->control->arg, c, &req);
}

static void
control_readable(void *arg, int fd, uint32_t events)
{
	struct control_client *c = arg;
	ssize_t n;
	char *nl;

	if (events & EPOLLOUT) {
		control_flush(c);
		if (control_release(c))
			return;
	}
	if (c->busy) {
		/*
		 * Only a follower is busy between events, and only the list of
		 * clients holds it: one that hung up or cannot be written to
		 * is dropped here.
		 */
		if ((events & (EPOLLHUP | EPOLLERR)) || c->closing)
			control_client_free(c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	if (c->in_cap - c->in_len < 4096) {
		size_t limit = CONTROL_MAX_LINE + CONTROL_MAX_PAYLOAD + 2;
		size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
		char *in;
		if (cap > limit)
			cap = limit;
		if (cap <= c->in_len + 1) {
			control_finish(c, 2, "request too large");
			return;
		}
		if ((in = realloc(c->in, cap)) == NULL) {
			control_finish(c, 1, "out of memory");
			return;
		}
		c->in = in;
		c->in_cap = cap;
	}
	n = recv(fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		control_client_free(c);	/* the peer went away */
		return;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	if (c->line_len == 0) {
		nl = memchr(c->in, '\n', c->in_len);
		if (nl == NULL) {
			if (c->in_len > CONTROL_MAX_LINE)
				control_finish(c, 2, "request line longer than %d bytes",
				    CONTROL_MAX_LINE);
			return;
		}
		c->line_len = (size_t)(nl - c->in) + 1;
		if (c->line_len > CONTROL_MAX_LINE) {
			control_finish(c, 2, "request line longer than %d bytes", CONTROL_MAX_LINE);
			return;
		}
	}
	control_dispatch(c);
}

static void
control_accept(void *arg, int fd, uint32_t events)
{
	struct control *control = arg;
	struct control_client *c;
	socklen_t len = sizeof(c->cred);
	int client_fd;

	(void)events;
	client_fd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (client_fd == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control: accept");
		return;
	}
	if (control->client_count >= CONTROL_MAX_CLIENTS) {
		log_warnx("control: %d clients already connected; refusing one",
		    control->client_count);
		close(client_fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_warn("control: calloc");
		close(client_fd);
		return;
	}
	c->control = control;
	c->fd = client_fd;
	if (getsockopt(client_fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		close(client_fd);
		free(c);
		return;
	}
	c->may_write = control_peer_may_write(&c->cred);
	if (loop_add_fd(control->loop, client_fd, EPOLLIN | EPOLLRDHUP, control_readable, c) ==
	    -1) {
		close(client_fd);
		free(c);
		return;
	}
	c->next = control->clients;
	control->clients = c;
	control->client_count++;
}

int
control_claim_path(const char *path, int remove_stale, char *err, size_t err_size)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, err_size, "%s exists and is not a socket: refusing to replace it "
		    "(is --socket the right path?)", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, err_size, "socket path %s is too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, err_size, "socket: %s", strerror(errno));
		return -1;
	}
	/* a non-blocking connect: a live server's full backlog must not hold us */
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (rc == 0 || errno == EAGAIN) {
		close(fd);
		snprintf(err, err_size, "%s: another server answers on this socket (is another "
		    "lbld running?)", path);
		return -1;
	}
	close(fd);
	if (errno != ECONNREFUSED) {
		snprintf(err, err_size, "%s: cannot tell whether it is in use: %s", path,
		    strerror(errno));
		return -1;
	}
	if (remove_stale && unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, err_size, "cannot remove the stale socket %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

struct control *
control_open(struct loop *loop, const char *path, control_handler handler, void *arg)
{
	struct sockaddr_un sun;
	struct control *control;
	struct stat st;
	char err[300];
	mode_t old_mask;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("control: socket path %s is too long", path);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	control = calloc(1, sizeof(*control));
	if (control == NULL || (control->path = strdup(path)) == NULL) {
		log_warn("control: calloc");
		free(control);
		return NULL;
	}
	control->loop = loop;
	control->handler = handler;
	control->arg = arg;
	control->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (control->listen_fd == -1) {
		log_warn("control: socket");
		goto fail;
	}
	if (control_claim_path(path, 1, err, sizeof(err)) == -1) {
		log_warnx("control: %s", err);
		goto fail;
	}
	/* 0660: the socket is the access boundary; the group gets to talk */
	old_mask = umask(0117);
	if (bind(control->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old_mask);
		log_warn("control: bind %s", path);
		goto fail;
	}
	umask(old_mask);
	if (listen(control->listen_fd, 16) == -1) {
		log_warn("control: listen %s", path);
		goto fail;
	}
	if (loop_add_fd(loop, control->listen_fd, EPOLLIN, control_accept, control) == -1)
		goto fail;
	if (stat(path, &st) == 0) {
		control->dev = st.st_dev;
		control->ino = st.st_ino;
	}
	return control;
fail:
	if (control->listen_fd != -1)
		close(control->listen_fd);
	free(control->path);
	free(control);
	return NULL;
}

void
control_close(struct control *control)
{
	struct stat st;

	if (control == NULL)
		return;
	while (control->clients != NULL)
		control_client_free(control->clients);
	loop_del_fd(control->loop, control->listen_fd);
	close(control->listen_fd);
	/* only our own socket: never a file someone put there since */
	if (stat(control->path, &st) == 0 && st.st_dev == control->dev &&
	    st.st_ino == control->ino && unlink(control->path) == -1 && errno != ENOENT)
		log_warn("control: unlink %s", control->path);
	free(control->path);
	free(control);
}
