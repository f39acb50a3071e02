/*
 * Log lines go to stderr when run by hand. Under systemd (JOURNAL_STREAM
 * names our stderr) they go to the journal's native socket, with a
 * priority and the structured fields of the run in hand (BATCH, RECIPE,
 * BILAYER, STEP, DEVICE), so that journalctl -u lbld BATCH=42 shows one
 * batch. If the journal is not there, a message still goes to stderr.
 *
 * A log call waits for the journal at most LOG_JOURNAL_WAIT_MS in all:
 * journald stalls when its disk does (the same disk as lbld's database, on
 * a Pi) or when it is stopped for an upgrade, and a blocking send from
 * lbld's event loop would hold up its reaction to an e-stop as long. A
 * message the journal cannot take within that is dropped and counted,
 * later ones are tried without waiting until one goes through, and the
 * count is told with the first that does. A fatal message waits longer
 * (LOG_FATAL_WAIT_MS): the process ends with it, and it says why.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/*
 * The longest one message waits for a journal that is behind: journald
 * takes a burst (an e-stop's dozen lines) within this as a rule; one that
 * is stalled costs this once, then messages are dropped at once. The event
 * loop logs, so this is a delay of everything it does, the e-stop's stops
 * included.
 */
#define LOG_JOURNAL_WAIT_MS	5
_Static_assert(LOG_JOURNAL_WAIT_MS >= 1 && LOG_JOURNAL_WAIT_MS <= 20,
    "LOG_JOURNAL_WAIT_MS: a step's timing and the e-stop's stops wait this long at worst");
/* A fatal message's wait: the process is ending (lbl-safe takes the outputs over). */
#define LOG_FATAL_WAIT_MS	1000
/*
 * While messages are dropped, the socket is connected again at most this
 * often: journald restarted binds a new socket, and the old one, if it
 * stays open unread, would take nothing for good.
 */
#define LOG_RECONNECT_MS	1000

static const char *log_progname = "lbl";
static int log_max_priority = LOG_INFO;
static int log_to_journal;

/* The run in hand, attached to every journal entry (0/NULL: none). */
static struct {
	long long batch;
	char recipe[64];
	int bilayer, step;
} log_ctx;
static const char *log_device_name;
/*
 * Messages dropped since the last one that went through (the journal was
 * full); atomic, as the hardware layer's threads log too.
 */
static atomic_ulong log_dropped;
/* journald's socket (test_log.c, which includes this file, points it at its own) */
static const char *log_journal_path = "/run/systemd/journal/socket";
/* the socket to it, made by log_init before any thread starts; -1: none */
static int log_journal_fd = -1;

static int log_journal_connect(void);

/* Whether stderr is the stream systemd connected to the journal. */
static int
log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname, int max_priority)
{
	log_progname = progname;
	log_max_priority = max_priority;
	log_to_journal = log_stderr_is_journal();
	if (log_to_journal && log_journal_fd == -1 &&
	    (log_journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) != -1)
		(void)log_journal_connect();	/* else the first message tries again */
}

void
log_context(long long batch, const char *recipe, int bilayer, int step)
{
	log_ctx.batch = batch;
	snprintf(log_ctx.recipe, sizeof(log_ctx.recipe), "%s", recipe ? recipe : "");
	log_ctx.bilayer = bilayer;
	log_ctx.step = step;
}

/*
 * Appends one field in the journal's native protocol, binary-safe form:
 * KEY, newline, value length as little-endian 64 bits, value, newline.
 */
static size_t
log_field(char *buf, size_t used, size_t size, const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value), i;
	uint64_t n = vlen;

	if (used + klen + 1 + 8 + vlen + 1 > size)
		return used;	/* drop a field rather than the entry */
	memcpy(buf + used, key, klen);
	used += klen;
	buf[used++] = '\n';
	for (i = 0; i < 8; i++)
		buf[used++] = (char)(n >> (8 * i) & 0xff);
	memcpy(buf + used, value, vlen);
	used += vlen;
	buf[used++] = '\n';
	return used;
}

/* Connects the journal's socket (again): 0, or -1 when journald is not there. */
static int
log_journal_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", log_journal_path);
	return connect(log_journal_fd, (const struct sockaddr *)&addr, sizeof(addr));
}

/* CLOCK_MONOTONIC in ms (0 if it cannot be read: then nothing waits). */
static int64_t
log_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Whether fd can take more before deadline_ms (CLOCK_MONOTONIC; 0: no
 * wait at all). One deadline serves a whole log call, the dropped count's
 * notice and the message, journal and stderr alike.
 */
static int
log_wait_writable(int fd, int64_t deadline_ms)
{
	struct pollfd p = { fd, POLLOUT, 0 };
	int64_t left_ms;
	int rc;

	for (;;) {
		if (deadline_ms == 0 || (left_ms = deadline_ms - log_now_ms()) <= 0)
			return 0;
		if ((rc = poll(&p, 1, (int)left_ms)) == -1 && errno == EINTR)
			continue;
		return rc == 1 && (p.revents & POLLOUT) != 0;
	}
}

/*
 * Sends one entry to journald, waiting until deadline_ms at most: 0 when
 * sent, 1 when the journal is there but did not take it (dropped), -1 when
 * it is not there (the line goes to stderr). The socket is connected, so
 * that poll sees journald's queue; journald restarted is connected again
 * (connect on the same descriptor: threads that log share it, and none
 * closes it under another), and so is a socket that has taken nothing for
 * LOG_RECONNECT_MS (journald's new one, should the old stay open).
 */
static int
log_journal(int priority, const char *message, int64_t deadline_ms)
{
	static _Atomic int64_t reconnected_ms;
	char buf[2048], number[32];
	size_t used = 0;
	int64_t now_ms, last_ms;
	int tries;

	used = log_field(buf, used, sizeof(buf), "MESSAGE", message);
	snprintf(number, sizeof(number), "%d", priority);
	used = log_field(buf, used, sizeof(buf), "PRIORITY", number);
	used = log_field(buf, used, sizeof(buf), "SYSLOG_IDENTIFIER", log_progname);
	if (log_device_name != NULL)
		used = log_field(buf, used, sizeof(buf), "DEVICE", log_device_name);
	if (log_ctx.batch != 0) {
		snprintf(number, sizeof(number), "%lld", log_ctx.batch);
		used = log_field(buf, used, sizeof(buf), "BATCH", number);
		used = log_field(buf, used, sizeof(buf), "RECIPE", log_ctx.recipe);
		snprintf(number, sizeof(number), "%d", log_ctx.bilayer);
		used = log_field(buf, used, sizeof(buf), "BILAYER", number);
		snprintf(number, sizeof(number), "%d", log_ctx.step);
		used = log_field(buf, used, sizeof(buf), "STEP", number);
	}
	if (log_journal_fd == -1)
		return -1;
	for (tries = 0; tries < 2; tries++) {
		if (tries > 0 && log_journal_connect() == -1)
			return -1;	/* journald gone */
		for (;;) {
			if (send(log_journal_fd, buf, used, MSG_NOSIGNAL | MSG_DONTWAIT) != -1)
				return 0;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				break;
			if (log_wait_writable(log_journal_fd, deadline_ms))
				continue;
			/* full: perhaps an old socket journald no longer reads */
			now_ms = log_now_ms();
			last_ms = atomic_load(&reconnected_ms);
			if (tries > 0 || now_ms - last_ms < LOG_RECONNECT_MS ||
			    !atomic_compare_exchange_strong(&reconnected_ms, &last_ms, now_ms))
				return 1;
			break;
		}
		/* ENOBUFS (no memory for it now) is no full queue: dropped, not waited for */
		if (errno == ENOBUFS)
			return 1;
	}
	return -1;
}

/*
 * One line on stderr. Where stderr is the journal's stream (a socket), it
 * waits until deadline_ms at most (a line cut short there counts as
 * dropped, and the next is glued to its part); a terminal, a file or a
 * pipe takes it as it comes. Returns 0, or -1 when it was dropped.
 */
static int
log_stderr(const char *message, int64_t deadline_ms)
{
	char line[1300];
	size_t n, done = 0;
	ssize_t w;
	int len;

	if (!log_to_journal) {
		fprintf(stderr, "%s: %s\n", log_progname, message);
		return 0;
	}
	if ((len = snprintf(line, sizeof(line), "%s: %s\n", log_progname, message)) < 0)
		return -1;
	n = (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1;
	while (done < n) {
		w = send(2, line + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		/* a file named by JOURNAL_STREAM (a test's) is no socket: written as a file */
		if (w == -1 && errno == ENOTSOCK)
			w = write(2, line + done, n - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    log_wait_writable(2, deadline_ms))
			continue;
		return -1;
	}
	return 0;
}

/* Sends a message, as log_vwrite says; 0, or -1 when it was dropped. */
static int
log_send(int priority, const char *message, int64_t deadline_ms)
{
	int rc = log_to_journal ? log_journal(priority, message, deadline_ms) : -1;

	if (rc == 0)
		return 0;
	if (rc == 1)
		return -1;	/* journald is there and full: stderr is its too */
	return log_stderr(message, deadline_ms);
}

static void
log_vwrite(int priority, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024], message[1200];
	unsigned long dropped;
	int64_t deadline_ms;

	if (priority > log_max_priority)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	snprintf(message, sizeof(message), "%s%s%s", line, suffix ? ": " : "",
	    suffix ? suffix : "");
	dropped = atomic_exchange(&log_dropped, 0);
	/* one deadline for the call; none while dropping, but a fatal message's */
	deadline_ms = priority <= LOG_CRIT ? log_now_ms() + LOG_FATAL_WAIT_MS :
	    dropped > 0 ? 0 : log_now_ms() + LOG_JOURNAL_WAIT_MS;
	if (dropped > 0) {
		char told[128];

		snprintf(told, sizeof(told), "%lu log %s dropped: the journal did not take %s at "
		    "once", dropped, dropped == 1 ? "message" : "messages",
		    dropped == 1 ? "it" : "them");
		if (log_send(LOG_WARNING, told, deadline_ms) == -1) {
			/* the message too, unless it is fatal: its reason goes on its own */
			if (priority > LOG_CRIT) {
				atomic_fetch_add(&log_dropped, dropped + 1);
				return;
			}
			atomic_fetch_add(&log_dropped, dropped);
		}
	}
	if (log_send(priority, message, deadline_ms) == -1)
		atomic_fetch_add(&log_dropped, 1);
}

void
log_device_warnx(const char *device, const char *fmt, ...)
{
	va_list ap;

	log_device_name = device;
	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
	log_device_name = NULL;
}

void
log_warn(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, strerror(saved_errno), fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, strerror(saved_errno), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
