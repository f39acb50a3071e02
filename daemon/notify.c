/*
 * The systemd notify protocol, spoken directly: one datagram of
 * "KEY=value" lines to the socket named by $NOTIFY_SOCKET ("@..." is an
 * abstract address). No libsystemd: it would add five libraries and a
 * megabyte or two of resident pages for three dozen lines of protocol.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "text.h"

static struct loop_timer *notify_watchdog;
static int64_t notify_interval_ns;
static int notify_healthy = 1;
static int notify_failing;	/* the last message could not be sent */

/* Sends state to systemd; returns 1 if sent, 0 if not under systemd, -errno. */
static int
notify_send_raw(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd, rc = 1;

	if (path == NULL || path[0] == '\0')
		return 0;
	if ((path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(addr.sun_path))
		return -EINVAL;
	memcpy(addr.sun_path, path, strlen(path));
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	/* never waits: a service manager whose queue is full must not hold up the loop */
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&addr,
	    len) == -1)
		rc = -errno;
	close(fd);
	return rc;
}

static void
notify_send(const char *state)
{
	int rc = notify_send_raw(state);

	/* told once while it goes on failing (fed every few ms, it would fill the journal) */
	if (rc < 0 && !notify_failing)
		log_warnx("notify %s: %s", state, strerror(-rc));
	notify_failing = rc < 0;
}

/* $WATCHDOG_USEC, when $WATCHDOG_PID is unset or is us: 1 and *usec, or 0. */
static int
notify_watchdog_usec(uint64_t *usec)
{
	const char *value = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;

	if (value == NULL)
		return 0;
	if (pid != NULL && strtol(pid, &end, 10) != (long)getpid())
		return 0;
	errno = 0;
	*usec = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0' || *usec == 0)
		return -EINVAL;
	return 1;
}

/*
 * Feeds come at least this far apart and at most this far; a watchdog
 * shorter than NOTIFY_SHORT_WATCHDOG_MS is warned of.
 */
#define NOTIFY_MIN_FEED_MS	1
#define NOTIFY_MAX_FEED_S	3600
#define NOTIFY_SHORT_WATCHDOG_MS	20

/* Fed at half the watchdog period, from the loop: only a live loop feeds it. */
static void
notify_feed(void *arg)
{
	(void)arg;
	if (!notify_healthy)
		return;
	notify_send("WATCHDOG=1");
	loop_timer_at(notify_watchdog, loop_now_ns() + notify_interval_ns);
}

int
notify_init(struct loop *loop)
{
	uint64_t usec = 0;
	int rc = notify_watchdog_usec(&usec);

	if (rc < 0) {
		log_warnx("WATCHDOG_USEC='%s' is not a positive number of microseconds",
		    getenv("WATCHDOG_USEC"));
		return -1;
	}
	if (rc == 0 || usec == 0)
		return 0;
	/*
	 * Fed at half the period, but never more often than every
	 * NOTIFY_MIN_FEED_MS (fed every half microsecond, the loop would do
	 * nothing else; systemd will then restart lbld, as such a watchdog
	 * asks) and at least hourly (a huge figure would overflow).
	 */
	if (usec < NOTIFY_SHORT_WATCHDOG_MS * 1000ULL)
		log_warnx("WATCHDOG_USEC=%s: a watchdog under %d ms is more than a loop doing real "
		    "work can be sure to keep (WatchdogSec= in lbld's unit)",
		    getenv("WATCHDOG_USEC"), NOTIFY_SHORT_WATCHDOG_MS);
	notify_interval_ns = usec > 2 * NOTIFY_MAX_FEED_S * 1000000ULL ?
	    NOTIFY_MAX_FEED_S * 1000000000LL : (int64_t)usec * 1000 / 2;
	if (notify_interval_ns < NOTIFY_MIN_FEED_MS * 1000000LL)
		notify_interval_ns = NOTIFY_MIN_FEED_MS * 1000000LL;
	notify_watchdog = loop_timer_new(loop, notify_feed, NULL);
	if (notify_watchdog == NULL)
		return -1;
	notify_feed(NULL);
	return 0;
}

void
notify_ready(void)
{
	notify_send("READY=1\nSTATUS=idle");
}

void
notify_status(const char *status)
{
	char buf[600];

	/* systemctl shows one short line: a longer status is cut at a character, marked */
	text_format(buf, sizeof(buf), "STATUS=%s", status);
	notify_send(buf);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1\nSTATUS=stopping");
}

void
notify_unhealthy(void)
{
	notify_healthy = 0;
}

void
notify_close(void)
{
	loop_timer_free(notify_watchdog);
	notify_watchdog = NULL;
}
