/*
 * The sd_notify protocol against our own datagram socket set as
 * NOTIFY_SOCKET: READY, STATUS, and WATCHDOG fed from the loop at half the
 * period — and not fed once the loop stops running.
 */
#include <stdlib.h>
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
	int fd, watchdogs = 0;

	TEST_CHECK("mkdtemp", mkdtemp(path) != NULL, "failed");
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	TEST_CHECK("bind", bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "failed");
	setenv("NOTIFY_SOCKET", sun.sun_path, 1);
	setenv("WATCHDOG_USEC", "100000", 1);	/* 100 ms: fed every 50 ms */
	snprintf(env, sizeof(env), "%d", (int)getpid());
	setenv("WATCHDOG_PID", env, 1);

	/* a period the loop could not keep (fed every 0.5 µs it would do nothing else): refused */
	setenv("WATCHDOG_USEC", "1", 1);
	TEST_CHECK("a 1 us watchdog is refused", notify_init(loop) == -1, "accepted");
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

	/* run the loop for 300 ms: about six feeds */
	stop = loop_timer_new(loop, stop_loop, loop);
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
