#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "lbl_limits.h"
#include "log.h"

/* Refusals and dropped connections go to the log at most once per this period. */
#define CONTROL_REFUSAL_LOG_MS	10000
/* Uids a refusal log line names one by one; the rest are counted together. */
#define CONTROL_REFUSAL_LOG_UIDS	4
/*
 * How long a looked-up role is trusted: a user added to group lbl becomes
 * an operator within this long, and a flood of connections from one uid
 * costs one user-database lookup per period, not one per connection.
 */
#define CONTROL_ROLE_TTL_MS	10000
/*
 * Uids remembered (role, open connections, refusals): every open
 * connection's, with as many again for uids being refused, so an entry
 * with nothing open can always be reused.
 */
#define CONTROL_MAX_PEERS	(2 * CONTROL_MAX_CLIENTS)
/* Connections taken per readable event, so a flood cannot hold the loop. */
#define CONTROL_ACCEPT_BURST	16
/* The listen queue: a burst of lblctl commands waits there while the loop is busy. */
#define CONTROL_LISTEN_BACKLOG	128
/*
 * When accept fails for want of descriptors or memory, the listening
 * socket rests this long: it stays readable, and level-triggered epoll
 * would otherwise spin on it.
 */
#define CONTROL_ACCEPT_PAUSE_MS	250
/* A user or group record's buffer grows up to this (a group of many members is long). */
#define CONTROL_NSS_BUF_MAX	(1024 * 1024)
/* Supplementary groups expected at first; getgrouplist says when there are more. */
#define CONTROL_GROUPS_GUESS	32
/* "login (uid N)": the login, the words and a uid's 10 digits */
#define CONTROL_WHO_BYTES	(CONTROL_LOGIN_BYTES + 20)

/* Why a connection was refused, for the client's message and the log. */
enum control_refusal {
	CONTROL_REFUSED_FULL,		/* every slot taken */
	CONTROL_REFUSED_RESERVED,	/* only the operators' slots left */
	CONTROL_REFUSED_PER_VIEWER,	/* the viewer uid holds its most */
};

/*
 * What lbld knows of one peer uid. The role is looked up at most once per
 * CONTROL_ROLE_TTL_MS; the counts of refused and dropped connections are
 * those not yet logged.
 */
struct control_peer {
	int used;
	uid_t uid;
	int member;			/* in CONTROL_GROUP by the databases */
	int64_t looked_up_ns;		/* when member was looked up; 0: never */
	char login[CONTROL_LOGIN_BYTES];	/* its login name, "" when it has none */
	int64_t login_ns;		/* when login was looked up; 0: never */
	int open;			/* connections open now */
	unsigned refused, dropped;
	enum control_refusal why;	/* the last refusal's reason */
};

struct control_client {
	struct control *control;
	int fd;
	struct ucred cred;
	int may_write;
	char who[CONTROL_WHO_BYTES];	/* an operator's name for the record, set at accept */
	struct control_peer *peer;	/* its uid's entry, counting it as open */
	/* waiting for its request, oldest first: the idle deadline's queue */
	int pending;
	int64_t deadline_ns;
	struct control_client *pending_prev, *pending_next;
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
	struct control_client *prev, *next;
};

struct control {
	struct loop *loop;
	int listen_fd;
	char *path;
	control_handler handler;
	void *arg;
	struct control_client *clients;
	int client_count;
	int operator_count;		/* of client_count */
	int busy_count;			/* clients whose request is being answered */
	dev_t dev;			/* the socket file we made, so we remove only it */
	ino_t ino;
	uid_t own_uid;
	struct control_peer peers[CONTROL_MAX_PEERS];
	/* CONTROL_GROUP's gid, looked up at most once per CONTROL_ROLE_TTL_MS */
	int group_found;
	gid_t group_gid;
	int64_t group_looked_up_ns;
	/* clients still sending their request, in accept order (so by deadline) */
	struct control_client *pending_head, *pending_tail;
	struct loop_timer *idle_timer;	/* the oldest pending client's deadline */
	struct loop_timer *keepalive_timer;	/* "~" to busy clients while there are any */
	struct loop_timer *log_timer;	/* the next refusal summary */
	struct loop_timer *accept_timer;	/* accepting again after EMFILE and the like */
	int64_t log_next_ns;		/* no refusal line before this */
	unsigned other_refused, other_dropped;	/* of uids whose entry was reused */
	unsigned accept_failures;
	int accept_errno;
};

static void control_client_free(struct control_client *c);
static void control_busy_end(struct control *control);

/*
 * While a request is being answered, and once it is answered (closing,
 * the rest of its answer still to send), nothing more is read: more input
 * would hand the same request to its handler again, and input left unread
 * in a full buffer keeps the socket readable, so the loop would spin. A
 * half-close (EPOLLRDHUP) is no reason to stop answering; a peer that
 * closes entirely still shows as EPOLLHUP, which epoll always reports.
 */
static void
control_update_events(struct control_client *c)
{
	uint32_t events = c->busy || c->closing ? 0 : EPOLLIN | EPOLLRDHUP;

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
	if (need > (c->follow_tag != 0 ? CONTROL_MAX_FOLLOW_BACKLOG : CONTROL_MAX_BACKLOG)) {
		log_warnx("control: client pid %d does not read its %s; dropping it",
		    (int)c->cred.pid, c->follow_tag != 0 ? "follow" : "replies");
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

/* Queues and sends one line, prefix then text (control_vappend's rules). */
static void
control_line(struct control_client *c, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
control_line(struct control_client *c, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	control_vappend(c, prefix, fmt, ap);
	va_end(ap);
	control_flush(c);
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
	if (c->busy) {
		c->busy = 0;
		control_busy_end(c->control);
	}
	c->follow_tag = 0;
	c->closing = 1;		/* one request per connection keeps the protocol simple */
	control_flush(c);
	control_release(c);	/* the caller must not use c after this */
}

/*
 * A first keep-alive at once tells the client that lines may be seconds
 * apart from now on, however short its own timeout.
 */
void
control_follow(struct control_client *c, int tag)
{
	c->follow_tag = tag;
	control_line(c, "~", "%s", "");
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

const char *
control_peer_who(const struct control_client *c)
{
	return c->who;
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

/*
 * Looks up a user or group record with a buffer grown as needed (up to
 * CONTROL_NSS_BUF_MAX): lookup is getpwuid_r or getgrnam_r bound to its
 * key. Returns what the lookup returns (0, with *found 0 when there is no
 * such record, or an errno value); *bufp is the caller's to free.
 */
static int
control_nss(int (*lookup)(const void *key, void *record, char *buf, size_t size,
    int *found), const void *key, void *record, char **bufp, int *found)
{
	size_t size = 1024;
	char *buf;
	int rc;

	*bufp = NULL;
	*found = 0;
	for (;;) {
		if ((buf = realloc(*bufp, size)) == NULL)
			return errno;
		*bufp = buf;
		rc = lookup(key, record, buf, size, found);
		if (rc != ERANGE || size >= CONTROL_NSS_BUF_MAX)
			return rc;
		size *= 2;
	}
}

static int
control_lookup_uid(const void *key, void *record, char *buf, size_t size, int *found)
{
	struct passwd *result = NULL;
	int rc;

	rc = getpwuid_r(*(const uid_t *)key, record, buf, size, &result);
	*found = result != NULL;
	return rc;
}

static int
control_lookup_group(const void *key, void *record, char *buf, size_t size, int *found)
{
	struct group *result = NULL;
	int rc;

	rc = getgrnam_r(key, record, buf, size, &result);
	*found = result != NULL;
	return rc;
}

/*
 * Refreshes CONTROL_GROUP's gid once per CONTROL_ROLE_TTL_MS. A group that
 * does not exist, or a database that fails (logged), makes no operators
 * but root and lbld's own user.
 */
static void
control_group_refresh(struct control *control, int64_t now_ns)
{
	struct group gr;
	char *buf;
	int rc, found;

	if (control->group_looked_up_ns != 0 &&
	    now_ns - control->group_looked_up_ns < (int64_t)CONTROL_ROLE_TTL_MS * 1000000)
		return;
	control->group_looked_up_ns = now_ns;
	rc = control_nss(control_lookup_group, CONTROL_GROUP, &gr, &buf, &found);
	control->group_found = rc == 0 && found;
	if (control->group_found)
		control->group_gid = gr.gr_gid;
	else if (rc != 0)
		log_warnx("control: cannot look up group %s: %s; only root and lbld's own user "
		    "may change things meanwhile", CONTROL_GROUP, strerror(rc));
	free(buf);
}

/*
 * Whether uid is in group gid by the user and group databases: its primary
 * group, or a supplementary one (getgrouplist on its name). 0 when it is
 * not, has no user entry, or a database fails (logged: a viewer, then).
 */
static int
control_uid_in_group(uid_t uid, gid_t gid)
{
	struct passwd pw;
	char *buf;
	gid_t *groups = NULL, *more;
	int rc, found, n, want, i, attempt, member = 0;

	rc = control_nss(control_lookup_uid, &uid, &pw, &buf, &found);
	if (rc != 0) {
		log_warnx("control: cannot look up uid %u in the user database: %s; a viewer "
		    "until it can", (unsigned)uid, strerror(rc));
		goto out;
	}
	if (!found)
		goto out;	/* no name, so no supplementary groups */
	if (pw.pw_gid == gid) {
		member = 1;
		goto out;
	}
	/* the group database may grow between the calls: try a few times */
	for (n = CONTROL_GROUPS_GUESS, attempt = 0; attempt < 4; attempt++) {
		if ((more = realloc(groups, (size_t)n * sizeof(*groups))) == NULL) {
			log_warn("control: the groups of uid %u", (unsigned)uid);
			goto out;
		}
		groups = more;
		want = n;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &want) != -1) {
			for (i = 0; i < want; i++)
				if (groups[i] == gid)
					member = 1;
			goto out;
		}
		if (want <= n)
			break;
		n = want;
	}
	log_warnx("control: cannot list the groups of user %s (uid %u); a viewer until it can",
	    pw.pw_name, (unsigned)uid);
out:
	free(groups);
	free(buf);
	return member;
}

/*
 * Whether the peer is an operator: root, lbld's own user, or in
 * CONTROL_GROUP by its effective gid or by the databases (cached in its
 * peer entry for CONTROL_ROLE_TTL_MS).
 */
static int
control_peer_role(struct control *control, struct control_peer *p, const struct ucred *cred,
    int64_t now_ns)
{
	if (cred->uid == 0 || cred->uid == control->own_uid)
		return 1;
	control_group_refresh(control, now_ns);
	if (!control->group_found)
		return 0;
	if (cred->gid == control->group_gid)
		return 1;
	if (p->looked_up_ns == 0 ||
	    now_ns - p->looked_up_ns >= (int64_t)CONTROL_ROLE_TTL_MS * 1000000) {
		p->member = control_uid_in_group(cred->uid, control->group_gid);
		p->looked_up_ns = now_ns;
	}
	return p->member;
}

/*
 * The operator's login name, for the events lbld records of what it does
 * (manual control, teach, calibrate). The user database may be a
 * directory service (NSS with LDAP or sssd) whose lookup blocks, so it is
 * never looked up per event: at accept, as the role is, once per uid per
 * CONTROL_ROLE_TTL_MS, kept in the uid's entry of the peer table (bounded
 * by CONTROL_MAX_PEERS), and each connection keeps the name it was
 * accepted with. Reading /etc/passwd alone would not block but would
 * record directory users by number only; the cached lookup bounds the
 * loop's cost to what the role check already costs. A lookup that fails
 * is logged and the connection's name is its uid.
 */
static void
control_peer_login(struct control_peer *p, int64_t now_ns)
{
	struct passwd pw;
	char *buf;
	int rc, found;

	if (p->login_ns != 0 && now_ns - p->login_ns < (int64_t)CONTROL_ROLE_TTL_MS * 1000000)
		return;
	p->login_ns = now_ns;
	p->login[0] = '\0';
	rc = control_nss(control_lookup_uid, &p->uid, &pw, &buf, &found);
	if (rc != 0)
		log_warnx("control: cannot look up uid %u in the user database: %s; its events "
		    "name the uid alone", (unsigned)p->uid, strerror(rc));
	else if (found && strlen(pw.pw_name) >= sizeof(p->login))
		log_warnx("control: uid %u's login is longer than %d bytes; its events name the "
		    "uid alone", (unsigned)p->uid, CONTROL_LOGIN_BYTES - 1);
	else if (found)
		memcpy(p->login, pw.pw_name, strlen(pw.pw_name) + 1);
	free(buf);
}

/*
 * The entry of uid, made if need be in an unused entry or, failing that,
 * in the entry with nothing open that was looked up longest ago (its
 * counts not yet logged go to the other uids'). Never NULL: at most
 * CONTROL_MAX_CLIENTS entries have a connection open, fewer than
 * CONTROL_MAX_PEERS. The scan is bounded by that constant.
 */
static struct control_peer *
control_peer_get(struct control *control, uid_t uid)
{
	struct control_peer *p, *unused = NULL, *stale = NULL;
	size_t i;

	for (i = 0; i < CONTROL_MAX_PEERS; i++) {
		p = &control->peers[i];
		if (!p->used) {
			if (unused == NULL)
				unused = p;
		} else if (p->uid == uid) {
			return p;
		} else if (p->open == 0 &&
		    (stale == NULL || p->looked_up_ns < stale->looked_up_ns)) {
			stale = p;
		}
	}
	p = unused != NULL ? unused : stale;
	if (p->used) {
		control->other_refused += p->refused;
		control->other_dropped += p->dropped;
	}
	memset(p, 0, sizeof(*p));
	p->used = 1;
	p->uid = uid;
	return p;
}

/* Takes c off the queue of clients still sending their request (O(1)). */
static void
control_pending_remove(struct control_client *c)
{
	struct control *control = c->control;

	if (!c->pending)
		return;
	if (c->pending_prev != NULL)
		c->pending_prev->pending_next = c->pending_next;
	else
		control->pending_head = c->pending_next;
	if (c->pending_next != NULL)
		c->pending_next->pending_prev = c->pending_prev;
	else
		control->pending_tail = c->pending_prev;
	c->pending_prev = c->pending_next = NULL;
	c->pending = 0;
	/* nobody left to time out: no wakeup for nothing */
	if (control->pending_head == NULL && loop_timer_armed(control->idle_timer))
		loop_timer_cancel(control->idle_timer);
}

/* A request has been answered, or its client is gone: one fewer busy client. */
static void
control_busy_end(struct control *control)
{
	if (--control->busy_count == 0 && loop_timer_armed(control->keepalive_timer))
		loop_timer_cancel(control->keepalive_timer);
}

/*
 * Frees c wherever it is: the list of clients, the queue of pending
 * requests, the count of busy ones and its uid's open connections, all in
 * constant time.
 */
static void
control_client_free(struct control_client *c)
{
	struct control *control = c->control;

	if (c->watch != NULL)
		c->watch(c->watch_arg, c, CONTROL_GONE);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		control->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	control_pending_remove(c);
	if (c->busy)
		control_busy_end(control);
	if (c->may_write)
		control->operator_count--;
	c->peer->open--;
	control->client_count--;
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

/*
 * Keeps the keep-alive timer running while any request is being answered
 * later, and only then: an idle lbld has no timer armed.
 */
static void
control_keepalive_arm(struct control *control)
{
	if (control->busy_count == 0 || loop_timer_armed(control->keepalive_timer))
		return;
	if (loop_timer_at(control->keepalive_timer,
	    loop_now_ns() + (int64_t)CONTROL_KEEPALIVE_MS * 1000000) == -1)
		log_warnx("control: cannot arm the keep-alive timer; followers may time out");
}

/* Every CONTROL_KEEPALIVE_MS while requests are being answered: "~" to each. */
static void
control_keepalive_fired(void *arg)
{
	struct control *control = arg;
	struct control_client *c;

	for (c = control->clients; c != NULL; c = c->next)
		if (c->busy && !c->closing)
			control_line(c, "~", "%s", "");
	control_keepalive_arm(control);
}

static void
control_dispatch(struct control_client *c)
{
	struct control *control = c->control;
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
	control_pending_remove(c);	/* complete: no longer idle */
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
	control->busy_count++;
	control_update_events(c);
	control->handler(control->arg, c, &req);
	/* c may be gone: answered at once, or busy until answered later */
	control_keepalive_arm(control);
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
	if (c->closing) {
		/* answered, the rest still to send: only a hangup ends it sooner */
		if (events & (EPOLLHUP | EPOLLERR))
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

/*
 * Tells a peer one last line before it is closed, if its socket takes it
 * at once: a refused or dropped client learns why instead of seeing EOF.
 */
static void
control_tell(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
control_tell(int fd, const char *fmt, ...)
{
	char line[400];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len > sizeof(line) - 2)
		len = (int)sizeof(line) - 2;
	line[len++] = '\n';
	/*
	 * Best effort, never waiting: a peer that is gone or does not read is
	 * closed all the same, so a failure here changes nothing.
	 */
	if (send(fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		return;
}

/*
 * Logs what was refused or dropped since the last such line, at most once
 * per CONTROL_REFUSAL_LOG_MS: the first event after a quiet period at
 * once, the rest summed up when the period ends (log_timer). Names the
 * CONTROL_REFUSAL_LOG_UIDS uids with most and counts the others; the scan
 * of the peer table is bounded by CONTROL_MAX_PEERS.
 */
static void
control_log_refusals(struct control *control)
{
	static const char *const why[] = {
		[CONTROL_REFUSED_FULL] = "every connection taken",
		[CONTROL_REFUSED_RESERVED] = "only the operators' reserve left",
		[CONTROL_REFUSED_PER_VIEWER] = "at a viewer's limit",
	};
	struct control_peer *top[CONTROL_REFUSAL_LOG_UIDS], *p, *out;
	unsigned refused = control->other_refused, dropped = control->other_dropped;
	unsigned other_refused = control->other_refused, other_dropped = control->other_dropped;
	unsigned events;
	char text[1024];
	size_t i, k, n = 0, len;

	for (i = 0; i < CONTROL_MAX_PEERS; i++) {
		p = &control->peers[i];
		if (!p->used || (events = p->refused + p->dropped) == 0)
			continue;
		refused += p->refused;
		dropped += p->dropped;
		/* keep the uids with most, largest first; the rest are others */
		out = p;
		if (n == CONTROL_REFUSAL_LOG_UIDS &&
		    top[n - 1]->refused + top[n - 1]->dropped < events)
			out = top[--n];
		if (out != p || n < CONTROL_REFUSAL_LOG_UIDS) {
			for (k = n; k > 0 && top[k - 1]->refused + top[k - 1]->dropped < events;
			    k--)
				top[k] = top[k - 1];
			top[k] = p;
			n++;
			if (out == p)
				continue;
		}
		other_refused += out->refused;
		other_dropped += out->dropped;
	}
	if (refused + dropped + control->accept_failures == 0)
		return;
	len = (size_t)snprintf(text, sizeof(text), "control: refused %u connection%s and "
	    "dropped %u idle (no complete request in %d s):", refused, refused == 1 ? "" : "s",
	    dropped, CONTROL_REQUEST_TIMEOUT_MS / 1000);
	for (k = 0; k < n && len < sizeof(text); k++) {
		p = top[k];
		len += (size_t)snprintf(text + len, sizeof(text) - len, " uid %u refused %u%s%s%s, "
		    "dropped %u;", (unsigned)p->uid, p->refused, p->refused ? " (" : "",
		    p->refused ? why[p->why] : "", p->refused ? ")" : "", p->dropped);
	}
	if (other_refused + other_dropped > 0 && len < sizeof(text))
		len += (size_t)snprintf(text + len, sizeof(text) - len, " other uids refused %u, "
		    "dropped %u;", other_refused, other_dropped);
	if (control->accept_failures > 0 && len < sizeof(text))
		len += (size_t)snprintf(text + len, sizeof(text) - len, " accept failed %u time%s "
		    "(%s);", control->accept_failures, control->accept_failures == 1 ? "" : "s",
		    strerror(control->accept_errno));
	if (len < sizeof(text))
		snprintf(text + len, sizeof(text) - len, " (one such line per %d s at most)",
		    CONTROL_REFUSAL_LOG_MS / 1000);
	log_warnx("%s", text);
	for (i = 0; i < CONTROL_MAX_PEERS; i++)
		control->peers[i].refused = control->peers[i].dropped = 0;
	control->other_refused = control->other_dropped = 0;
	control->accept_failures = 0;
	control->log_next_ns = loop_now_ns() + (int64_t)CONTROL_REFUSAL_LOG_MS * 1000000;
}

static void
control_log_fired(void *arg)
{
	control_log_refusals(arg);
}

/* Something was refused or dropped (already counted): logged now, or when the period ends. */
static void
control_log_soon(struct control *control)
{
	if (loop_now_ns() >= control->log_next_ns) {
		control_log_refusals(control);
		return;
	}
	if (!loop_timer_armed(control->log_timer) &&
	    loop_timer_at(control->log_timer, control->log_next_ns) == -1)
		log_warnx("control: cannot arm the refusal log timer; refusals go unreported");
}

/* The oldest pending client's deadline passed: drop every client past its own. */
static void
control_idle_fired(void *arg)
{
	struct control *control = arg;
	struct control_client *c;
	int64_t now = loop_now_ns();
	int dropped = 0;

	while ((c = control->pending_head) != NULL && c->deadline_ns <= now) {
		/* not into the middle of an answer to a malformed request */
		if (c->out_len == 0)
			control_tell(c->fd, "fail 1 no complete request within %d s: lbld closed "
			    "the connection", CONTROL_REQUEST_TIMEOUT_MS / 1000);
		c->peer->dropped++;
		control_client_free(c);
		dropped = 1;
	}
	if (c != NULL && loop_timer_at(control->idle_timer, c->deadline_ns) == -1)
		log_warnx("control: cannot arm the request timer; idle connections stay");
	if (dropped)
		control_log_soon(control);
}

/* Why a peer with this role may not have one more connection now, or -1 if it may. */
static int
control_admit(const struct control *control, const struct control_peer *p, int operator)
{
	if (control->client_count >= CONTROL_MAX_CLIENTS)
		return CONTROL_REFUSED_FULL;
	if (operator)
		return -1;
	if (control->client_count - control->operator_count >=
	    CONTROL_MAX_CLIENTS - CONTROL_OPERATOR_RESERVE)
		return CONTROL_REFUSED_RESERVED;
	if (p->open >= CONTROL_MAX_PER_VIEWER)
		return CONTROL_REFUSED_PER_VIEWER;
	return -1;
}

/* Refuses one connection: tells the peer why, counts it for the log. */
static void
control_refuse(struct control *control, int fd, struct control_peer *p, int why)
{
	switch (why) {
	case CONTROL_REFUSED_FULL:
		control_tell(fd, "fail 1 lbld refuses the connection: all %d of its connections "
		    "are taken; try again", CONTROL_MAX_CLIENTS);
		break;
	case CONTROL_REFUSED_RESERVED:
		control_tell(fd, "fail 1 lbld refuses the connection: only the %d connections "
		    "kept for operators (root and group %s) are free; try again",
		    CONTROL_OPERATOR_RESERVE, CONTROL_GROUP);
		break;
	default:
		control_tell(fd, "fail 1 lbld refuses the connection: uid %u already holds %d, "
		    "the most for a viewer (not root, not in group %s)", (unsigned)p->uid,
		    CONTROL_MAX_PER_VIEWER, CONTROL_GROUP);
		break;
	}
	if (close(fd) == -1)
		log_warn("control: close");
	p->refused++;
	p->why = why;
	control_log_soon(control);
}

/* The pause after an accept failure is over: listen again. */
static void
control_accept_resume(void *arg)
{
	struct control *control = arg;

	if (loop_mod_fd(control->loop, control->listen_fd, EPOLLIN) == -1)
		log_warnx("control: cannot listen again on %s; restart lbld", control->path);
}

/*
 * Accepts what is waiting, CONTROL_ACCEPT_BURST at most per event. The
 * peer's role is decided here, from SO_PEERCRED; whoever is over a limit
 * is told why and closed at once, costing no more than this.
 */
static void
control_accept(void *arg, int fd, uint32_t events)
{
	struct control *control = arg;
	struct control_client *c;
	struct control_peer *p;
	struct ucred cred;
	socklen_t len;
	int client_fd, n, operator, why;
	int64_t now;

	(void)events;
	for (n = 0; n < CONTROL_ACCEPT_BURST; n++) {
		client_fd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (client_fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EMFILE and the like: rest, or the loop would spin on this */
			control->accept_failures++;
			control->accept_errno = errno;
			control_log_soon(control);
			if (loop_mod_fd(control->loop, fd, 0) == 0 &&
			    loop_timer_at(control->accept_timer, loop_now_ns() +
			    (int64_t)CONTROL_ACCEPT_PAUSE_MS * 1000000) == -1)
				control_accept_resume(control);
			return;
		}
		len = sizeof(cred);
		if (getsockopt(client_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
			log_warn("control: SO_PEERCRED of a new connection; closing it");
			close(client_fd);
			continue;
		}
		now = loop_now_ns();
		p = control_peer_get(control, cred.uid);
		operator = control_peer_role(control, p, &cred, now);
		if ((why = control_admit(control, p, operator)) != -1) {
			control_refuse(control, client_fd, p, why);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			log_warn("control: calloc");
			close(client_fd);
			continue;
		}
		c->control = control;
		c->fd = client_fd;
		c->cred = cred;
		c->may_write = operator;
		c->peer = p;
		/* only an operator's actions are recorded: a viewer costs no lookup */
		if (operator)
			control_peer_login(p, now);
		if (operator && p->login[0] != '\0')
			snprintf(c->who, sizeof(c->who), "%s (uid %u)", p->login,
			    (unsigned)cred.uid);
		else
			snprintf(c->who, sizeof(c->who), "uid %u", (unsigned)cred.uid);
		if (loop_add_fd(control->loop, client_fd, EPOLLIN | EPOLLRDHUP, control_readable,
		    c) == -1) {
			close(client_fd);
			free(c);
			continue;
		}
		c->next = control->clients;
		if (c->next != NULL)
			c->next->prev = c;
		control->clients = c;
		control->client_count++;
		control->operator_count += operator;
		p->open++;
		/* its request is due within CONTROL_REQUEST_TIMEOUT_MS */
		c->deadline_ns = now + (int64_t)CONTROL_REQUEST_TIMEOUT_MS * 1000000;
		c->pending = 1;
		c->pending_prev = control->pending_tail;
		if (control->pending_tail != NULL)
			control->pending_tail->pending_next = c;
		else
			control->pending_head = c;
		control->pending_tail = c;
		if (!loop_timer_armed(control->idle_timer) &&
		    loop_timer_at(control->idle_timer, control->pending_head->deadline_ns) == -1)
			log_warnx("control: cannot arm the request timer; idle connections stay");
	}
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

/*
 * Warns when users other than lbld's cannot reach the socket: viewers need
 * to search every directory above it (the unit makes /run/lbl 0755).
 * Nothing is changed: the directory is the administrator's.
 */
static void
control_check_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1)
		log_warn("control: stat %s", dir);
	else if ((st.st_mode & S_IXOTH) == 0)
		log_warnx("control: %s is mode %04o: only its owner and group can reach the socket, "
		    "so viewers outside group %s cannot (make it 0755)", dir,
		    (unsigned)(st.st_mode & 07777), CONTROL_GROUP);
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
	control->own_uid = geteuid();
	control->listen_fd = -1;
	if ((control->idle_timer = loop_timer_new(loop, control_idle_fired, control)) == NULL ||
	    (control->keepalive_timer = loop_timer_new(loop, control_keepalive_fired,
	    control)) == NULL ||
	    (control->log_timer = loop_timer_new(loop, control_log_fired, control)) == NULL ||
	    (control->accept_timer = loop_timer_new(loop, control_accept_resume, control)) ==
	    NULL) {
		log_warnx("control: cannot make the socket's timers");
		goto fail;
	}
	control->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (control->listen_fd == -1) {
		log_warn("control: socket");
		goto fail;
	}
	if (control_claim_path(path, 1, err, sizeof(err)) == -1) {
		log_warnx("control: %s", err);
		goto fail;
	}
	/* 0666: anyone may connect and view; SO_PEERCRED decides who may change things */
	old_mask = umask(0111);
	if (bind(control->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old_mask);
		log_warn("control: bind %s", path);
		goto fail;
	}
	umask(old_mask);
	if (listen(control->listen_fd, CONTROL_LISTEN_BACKLOG) == -1) {
		log_warn("control: listen %s", path);
		goto fail;
	}
	if (loop_add_fd(loop, control->listen_fd, EPOLLIN, control_accept, control) == -1)
		goto fail;
	if (stat(path, &st) == 0) {
		control->dev = st.st_dev;
		control->ino = st.st_ino;
	}
	control_check_dir(path);
	return control;
fail:
	if (control->listen_fd != -1)
		close(control->listen_fd);
	loop_timer_free(control->idle_timer);
	loop_timer_free(control->keepalive_timer);
	loop_timer_free(control->log_timer);
	loop_timer_free(control->accept_timer);
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
	control_log_refusals(control);	/* what the last period had not said yet */
	loop_timer_free(control->idle_timer);
	loop_timer_free(control->keepalive_timer);
	loop_timer_free(control->log_timer);
	loop_timer_free(control->accept_timer);
	loop_del_fd(control->loop, control->listen_fd);
	close(control->listen_fd);
	/* only our own socket: never a file someone put there since */
	if (stat(control->path, &st) == 0 && st.st_dev == control->dev &&
	    st.st_ino == control->ino && unlink(control->path) == -1 && errno != ENOENT)
		log_warn("control: unlink %s", control->path);
	free(control->path);
	free(control);
}
