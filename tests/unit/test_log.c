/*
 * The log module against a journal of the test's own: a datagram socket
 * in a temporary directory in place of journald's (log.c included, its
 * socket's path set). A journal that takes messages gets each with its
 * fields; one whose queue is full (journald stalled by its disk) costs a
 * log call LOG_JOURNAL_WAIT_MS once, then nothing while messages are
 * dropped, and the count is told once it reads again.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.c"

#include "test.h"

static char journal_path[108];

/* The next datagram's MESSAGE field ("" when none within 200 ms). */
static void
next_message(int fd, char *out, size_t size)
{
	char buf[4096];
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;
	char *m;

	out[0] = '\0';
	if (poll(&p, 1, 200) != 1 || (n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return;
	buf[n] = '\0';
	/* MESSAGE\n, 8 bytes of length, the text, \n */
	if (n > 17 && strncmp(buf, "MESSAGE\n", 8) == 0) {
		uint64_t len = 0;
		int i;

		for (i = 0; i < 8; i++)
			len |= (uint64_t)(unsigned char)buf[8 + i] << (8 * i);
		m = buf + 16;
		if (len < size && m + len <= buf + n)
			memcpy(out, m, len), out[len] = '\0';
	}
}

int
main(void)
{
	char dir[] = "/tmp/lbl-test-log.XXXXXX", errpath[160], env[64], msg[1024];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int journal, errfd, fill, i, filled = 0;
	int64_t t0, first_ms, rest_ms;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(journal_path, sizeof(journal_path), "%s/journal", dir);
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", journal_path);
	journal = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (journal == -1 || bind(journal, (struct sockaddr *)&addr, sizeof(addr)) == -1)
		return 1;
	/* stderr is "the journal's stream" (JOURNAL_STREAM names it), a file here */
	if ((errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    dup2(errfd, 2) == -1 || fstat(2, &st) == -1)
		return 1;
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_journal_path = journal_path;	/* before log_init: it connects there */
	log_init("test_log", LOG_DEBUG);

	log_warnx("hello %d", 1);
	next_message(journal, msg, sizeof(msg));
	TEST_STR("a message reaches the journal", msg, "hello 1");

	/*
	 * The journal stalls: its queue filled from other sockets (a fresh
	 * sender that can send nothing finds it full, whatever the queue's
	 * length).
	 */
	for (i = 0; i < 2000; i++) {
		int sent = 0;

		if ((fill = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0)) == -1)
			break;
		while (sendto(fill, "MESSAGE\n\x06\0\0\0\0\0\0\0filler\n", 23, 0,
		    (struct sockaddr *)&addr, sizeof(addr)) != -1)
			sent++;
		filled += sent;
		if (sent == 0)
			break;
	}
	t0 = log_now_ms();
	log_warnx("stalled 0");
	first_ms = log_now_ms() - t0;
	t0 = log_now_ms();
	for (i = 1; i <= 20; i++)
		log_warnx("stalled %d", i);
	rest_ms = log_now_ms() - t0;
	printf("info: journal full after %d datagrams; the first message took %lld ms, the next 20 "
	    "%lld ms\n", filled, (long long)first_ms, (long long)rest_ms);
	TEST_CHECK("stalled: the first message waits about its bound, no more",
	    first_ms >= LOG_JOURNAL_WAIT_MS - 1 && first_ms < 20 * LOG_JOURNAL_WAIT_MS,
	    "%lld ms", (long long)first_ms);
	/* each would wait its bound before (20 x 5 ms): half of that is ample under load */
	TEST_CHECK("stalled: the next 20 do not wait while messages are dropped",
	    rest_ms < 20 * LOG_JOURNAL_WAIT_MS / 2, "%lld ms for 20", (long long)rest_ms);
	TEST_EQ_INT("stalled: all 21 counted as dropped", (int)atomic_load(&log_dropped), 21);
	TEST_CHECK("stalled: nothing written to stderr instead", lseek(errfd, 0, SEEK_END) == 0,
	    "%lld bytes", (long long)lseek(errfd, 0, SEEK_END));

	/* journald reads again: the queue drained, the count told first */
	while (recv(journal, msg, sizeof(msg), MSG_DONTWAIT) > 0)
		;
	log_warnx("after");
	next_message(journal, msg, sizeof(msg));
	TEST_STR("the count is told with the first message that goes through", msg,
	    "21 log messages dropped: the journal did not take them at once");
	next_message(journal, msg, sizeof(msg));
	TEST_STR("... then that message", msg, "after");
	TEST_EQ_INT("the count is back to 0", (int)atomic_load(&log_dropped), 0);

	unlink(journal_path);
	unlink(errpath);
	rmdir(dir);
	return TEST_DONE();
}
