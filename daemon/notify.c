#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

static struct loop_timer *notify_watchdog;
static int64_t notify_interval_ns;
static int notify_healthy = 1;

static void
notify_send(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		log_warnx("sd_notify(%s): %s", state, strerror(-rc));
}

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
	int rc = sd_watchdog_enabled(0, &usec);

	if (rc < 0) {
		log_warnx("sd_watchdog_enabled: %s", strerror(-rc));
		return -1;
	}
	if (rc == 0 || usec == 0)
		return 0;
	notify_interval_ns = (int64_t)usec * 1000 / 2;
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

	snprintf(buf, sizeof(buf), "STATUS=%s", status);
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
