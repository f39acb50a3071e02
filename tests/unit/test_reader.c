/*
 * The reader thread behind lbld's reads of the batch record, with a stand-in
 * work function, a real control socket and clients in a thread of their own:
 * a long reply arrives whole and in order; a client that does not read holds
 * the reader back (the work blocks after about READER_MAX_BACKLOG_BYTES), and
 * has its reply cut short when it reads nothing for the stall time; a
 * client that hangs up cancels its work; the 33rd waiting request is refused
 * (busy, try again); closing the reader answers the waiting clients.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "control.h"
#include "db.h"
#include "log.h"
#include "loop.h"
#include "reader.h"
#include "test.h"

/* Longer than the client that waits past a keep-alive; shorter than the stalled one. */
#define TEST_STALL_MS	4000

static atomic_long printed;		/* lines the work has printed */
static atomic_int work_ended, release, blocked;
static char sock_path[100];
static struct reader *reader;
static struct loop *loop;
static int wake_pipe[2];		/* the client thread tells the loop to stop */

/* "lines N": N lines "line I"; "block": waits until released or cancelled. */
static void
fake_work(void *arg, struct db *db, struct reader_reply *reply, int argc, char **argv)
{
	long i, n;

	(void)arg;
	(void)db;
	if (strcmp(argv[0], "block") == 0) {
		atomic_store(&blocked, 1);
		while (!atomic_load(&release) && !reader_cancelled(reply))
			usleep(1000);
		reader_end(reply, reader_cancelled(reply) ? 1 : 0, "cancelled");
		return;
	}
	n = argc > 1 ? atol(argv[1]) : 0;
	atomic_store(&printed, 0);
	atomic_store(&work_ended, 0);
	for (i = 0; i < n && !reader_cancelled(reply); i++) {
		reader_print(reply, "line %ld", i);
		atomic_fetch_add(&printed, 1);
	}
	reader_end(reply, 0, " ");
	atomic_store(&work_ended, 1);
}

static void
handler(void *arg, struct control_client *c, const struct control_request *req)
{
	(void)arg;
	reader_submit(reader, c, req);
}

static int
client_connect(const char *request)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		perror("client");
		exit(1);
	}
	return fd;
}

/*
 * Reads until EOF; returns the text (malloc'd) less control's "~"
 * keep-alive lines, and how many there were in *keepalives.
 */
static int keepalives;

static char *
client_read_all(int fd, size_t *len)
{
	char *p, *q;

	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	ssize_t n;

	*len = 0;
	while (buf != NULL && (n = read(fd, buf + *len, cap - *len - 1)) > 0) {
		*len += (size_t)n;
		if (cap - *len < 65536 && (buf = realloc(buf, cap *= 2)) == NULL)
			break;
	}
	if (buf == NULL)
		abort();
	buf[*len] = '\0';
	close(fd);
	/* a keep-alive is a line of its own: anywhere else it would break one */
	keepalives = 0;
	for (p = q = buf; *p != '\0';) {
		if (p[0] == '~' && p[1] == '\n' && (p == buf || p[-1] == '\n')) {
			keepalives++;
			p += 2;
			continue;
		}
		*q++ = *p++;
	}
	*q = '\0';
	*len = (size_t)(q - buf);
	return buf;
}

/* Whether text is "+ line 0" .. "+ line N-1", then "ok". */
static int
lines_whole(const char *text, long n)
{
	char want[64];
	long i;

	for (i = 0; i < n; i++) {
		int len = snprintf(want, sizeof(want), "+ line %ld\n", i);
		if (strncmp(text, want, (size_t)len) != 0)
			return 0;
		text += len;
	}
	return strcmp(text, "ok\n") == 0;
}

static void
wait_until(atomic_int *flag, int ms)
{
	while (!atomic_load(flag) && ms-- > 0)
		usleep(1000);
}

static void *
clients(void *arg)
{
	char *text, req[64];
	size_t len;
	long at_rest;
	int fd, fds[33], i, ok;
	char c = 'x';

	(void)arg;
	/* a long reply, read as it comes */
	fd = client_connect("lines\t200000\n");
	text = client_read_all(fd, &len);
	TEST_CHECK("200,000 lines arrive whole, in order, then ok", lines_whole(text, 200000),
	    "%zu bytes: %.60s", len, text);
	free(text);

	/*
	 * A client that does not read: the work is held back. It waits past
	 * control's keep-alive period (2 s), so a "~" line goes out between
	 * two chunks: each chunk must end a line.
	 */
	fd = client_connect("lines\t2000000\n");
	usleep(2500000);
	at_rest = atomic_load(&printed);
	TEST_CHECK("a client not reading holds the work back (about 1 MiB ahead)",
	    at_rest > 1000 && at_rest * 14 < 3 * 1024 * 1024 && !atomic_load(&work_ended),
	    "%ld of 2,000,000 lines printed", at_rest);
	text = client_read_all(fd, &len);
	TEST_CHECK("then it gets all 2,000,000 lines, keep-alives between them, none inside one",
	    lines_whole(text, 2000000) && keepalives > 0, "%zu bytes, %d keep-alives", len,
	    keepalives);
	free(text);

	/* a client that reads nothing for TEST_STALL_MS: its reply is cut short */
	fd = client_connect("lines\t2000000\n");
	usleep((TEST_STALL_MS + 1500) * 1000);
	TEST_CHECK("a client reading nothing for the stall time has its work stopped",
	    atomic_load(&work_ended) && atomic_load(&printed) < 2000000, "ended %d, %ld printed",
	    atomic_load(&work_ended), atomic_load(&printed));
	text = client_read_all(fd, &len);
	TEST_CHECK("and its reply ends saying so",
	    len > 22 && strstr(text, "\nfail 1 lines: the reply was cut short: nothing of it was "
	    "read for too long\n") != NULL, "%zu bytes, ends '%s'", len,
	    len > 100 ? text + len - 100 : text);
	free(text);

	/* a client that hangs up: the work is cancelled */
	fd = client_connect("lines\t2000000\n");
	{
		char buf[65536];
		size_t got = 0;
		ssize_t n;
		while (got < 100000 && (n = read(fd, buf, sizeof(buf))) > 0)
			got += (size_t)n;
	}
	close(fd);
	wait_until(&work_ended, 5000);
	TEST_CHECK("a client hanging up cancels the work",
	    atomic_load(&work_ended) && atomic_load(&printed) < 2000000, "ended %d, %ld printed",
	    atomic_load(&work_ended), atomic_load(&printed));

	/* the reader busy with one request, 32 waiting: the next is refused */
	atomic_store(&blocked, 0);
	atomic_store(&release, 0);
	fd = client_connect("block\n");
	wait_until(&blocked, 5000);
	for (i = 0; i < 32; i++)
		fds[i] = client_connect("lines\t1\n");
	usleep(300000);
	fds[32] = client_connect("lines\t1\n");
	text = client_read_all(fds[32], &len);
	TEST_CHECK("the 33rd waiting request is refused: busy, try again",
	    strncmp(text, "fail 1 lines: busy, try again", 29) == 0, "'%s'", text);
	free(text);
	atomic_store(&release, 1);
	text = client_read_all(fd, &len);
	free(text);
	for (i = ok = 0; i < 32; i++) {
		text = client_read_all(fds[i], &len);
		ok += strcmp(text, "+ line 0\nok\n") == 0;
		free(text);
	}
	TEST_EQ_INT("the 32 waiting requests are answered in turn", ok, 32);

	/* closing: the request in progress and the waiting one are answered */
	atomic_store(&blocked, 0);
	atomic_store(&release, 0);
	fd = client_connect("block\n");
	wait_until(&blocked, 5000);
	snprintf(req, sizeof(req), "lines\t5\n");
	fds[0] = client_connect(req);
	usleep(200000);
	if (write(wake_pipe[1], &c, 1) != 1)
		abort();
	text = client_read_all(fds[0], &len);
	TEST_STR("closing the reader answers a waiting client", text,
	    "fail 1 lines: lbld is stopping\n");
	free(text);
	text = client_read_all(fd, &len);
	TEST_CHECK("and the one in progress", strncmp(text, "fail 1 ", 7) == 0, "'%s'", text);
	free(text);
	return NULL;
}

static void
on_wake(void *arg, int fd, uint32_t events)
{
	char c;

	(void)arg;
	(void)events;
	if (read(fd, &c, 1) == 1)
		loop_stop(loop);
}

int
main(void)
{
	char db_path[128];
	struct control *control;
	struct db *db;
	pthread_t thread;

	log_init("test_reader", LOG_WARNING);
	snprintf(sock_path, sizeof(sock_path), "/tmp/test_reader-%ld.sock", (long)getpid());
	snprintf(db_path, sizeof(db_path), "/tmp/test_reader-%ld.db", (long)getpid());
	TEST_CHECK("a missing database is not created read-only",
	    db_open_readonly(db_path, &db) == -1 && access(db_path, F_OK) == -1, "created");
	if (db_open(db_path, &db) == -1)
		return 1;
	db_close(db);
	TEST_CHECK("the database opens read-only", db_open_readonly(db_path, &db) == 0, "failed");
	TEST_CHECK("a write on the read-only connection fails",
	    db == NULL || db_event_add(db, 0, "info", NULL, "written by a reader") == -1,
	    "it was written");
	if (pipe(wake_pipe) == -1 || (loop = loop_new()) == NULL ||
	    loop_add_fd(loop, wake_pipe[0], EPOLLIN, on_wake, NULL) == -1 ||
	    (reader = reader_open(loop, db_path, fake_work, NULL, TEST_STALL_MS)) == NULL ||
	    (control = control_open(loop, sock_path, handler, NULL)) == NULL)
		return 1;
	if (pthread_create(&thread, NULL, clients, NULL) != 0)
		return 1;
	loop_run(loop);
	reader_close(reader);
	control_close(control);
	pthread_join(thread, NULL);
	loop_del_fd(loop, wake_pipe[0]);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	loop_free(loop);
	db_close(db);
	unlink(db_path);
	return TEST_DONE();
}
