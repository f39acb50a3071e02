/*
 * The sd_notify protocol against our own datagram socket set as
 * NOTIFY_SOCKET: READY, STATUS, and WATCHDOG fed from the loop at half the
 * period — and not fed once the loop stops running.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <poll.h>

#include "loop.h"
#include "notify.h"
#include "test.h"

static int
recv_message(int fd, char *buf, size_t size, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recv(fd, buf, size - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* A send blocked on a full queue: the loop would have stopped with it. */
static void
on_alarm(int sig)
{
	(void)sig;
	(void)!write(1, "FAIL a full queue holds up the sender (blocked 5 s)\n", 51);
	_exit(1);
}

/* Counts the watchdog feeds as the loop receives them (the queue never fills). */
static void
count_feeds(void *arg, int fd, uint32_t events)
{
	char buf[64];
	ssize_t n;

	(void)events;
	while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		*(int *)arg += strcmp(buf, "WATCHDOG=1") == 0;
	}
}

static void
stop_loop(void *arg)
{
	loop_stop(arg);
}

int
main(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[] = "/tmp/lbl-notify-XXXXXX", buf[512], env[64];
	struct loop *loop = loop_new();
	struct loop_timer *stop;
	int fd, i, watchdogs = 0;

	TEST_CHECK("mkdtemp", mkdtemp(path) != NULL, "failed");
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	TEST_CHECK("bind", bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "failed");
	setenv("NOTIFY_SOCKET", sun.sun_path, 1);
	setenv("WATCHDOG_USEC", "100000", 1);	/* 100 ms: fed every 50 ms */
	snprintf(env, sizeof(env), "%d", (int)getpid());
	setenv("WATCHDOG_PID", env, 1);

	/* a 1 us watchdog: fed every half microsecond the loop would do nothing else */
	setenv("WATCHDOG_USEC", "1", 1);
	TEST_CHECK("a 1 us watchdog is taken", notify_init(loop) == 0, "refused");
	stop = loop_timer_new(loop, stop_loop, loop);
	loop_add_fd(loop, fd, EPOLLIN, count_feeds, &watchdogs);
	loop_timer_at(stop, loop_now_ns() + 100000000);
	loop_run(loop);
	notify_close();
	count_feeds(&watchdogs, fd, EPOLLIN);
	loop_del_fd(loop, fd);
	TEST_CHECK("... and fed at most every millisecond over 100 ms", watchdogs >= 1 &&
	    watchdogs <= 101, "%d feeds", watchdogs);
	watchdogs = 0;
	setenv("WATCHDOG_USEC", "100000", 1);
	TEST_CHECK("notify_init", notify_init(loop) == 0, "failed");
	TEST_CHECK("first watchdog at once", recv_message(fd, buf, sizeof(buf), 1000) == 0 &&
	    strcmp(buf, "WATCHDOG=1") == 0, "got '%s'", buf);
	notify_ready();
	TEST_CHECK("ready", recv_message(fd, buf, sizeof(buf), 1000) == 0 &&
	    strstr(buf, "READY=1") != NULL, "got '%s'", buf);
	notify_status("batch 42 ag-tca-5: bilayer 3/5, dip ag, 4m12s left");
	TEST_CHECK("status", recv_message(fd, buf, sizeof(buf), 1000) == 0 &&
	    strcmp(buf, "STATUS=batch 42 ag-tca-5: bilayer 3/5, dip ag, 4m12s left") == 0,
	    "got '%s'", buf);

	/* systemd's queue full (nobody reads): the sender never waits for it */
	signal(SIGALRM, on_alarm);
	alarm(5);
	for (i = 0; i < 50; i++)
		notify_status("filling the queue");
	alarm(0);
	TEST_CHECK("a full queue does not hold up the sender", i == 50, "%d sent", i);
	while (recv_message(fd, buf, sizeof(buf), 0) == 0)
		;

	/* run the loop for 300 ms: about six feeds */
	loop_timer_at(stop, loop_now_ns() + 300000000);
	loop_run(loop);
	while (recv_message(fd, buf, sizeof(buf), 0) == 0)
		watchdogs += strcmp(buf, "WATCHDOG=1") == 0;
	TEST_CHECK("fed while the loop runs", watchdogs >= 4 && watchdogs <= 8, "%d feeds",
	    watchdogs);
	/* a loop that does not run (hung) feeds nothing */
	usleep(200000);
	TEST_CHECK("not fed while the loop is stuck", recv_message(fd, buf, sizeof(buf), 0) == -1,
	    "got '%s'", buf);
	/* unhealthy: the loop runs but stops feeding */
	notify_unhealthy();
	loop_timer_at(stop, loop_now_ns() + 200000000);
	loop_run(loop);
	TEST_CHECK("not fed when unhealthy", recv_message(fd, buf, sizeof(buf), 0) == -1,
	    "got '%s'", buf);
	notify_close();
	loop_timer_free(stop);
	loop_free(loop);
	close(fd);
	unlink(sun.sun_path);
	rmdir(path);
	return TEST_DONE();
}
