/*
 * The control socket's defences, on a real loop: the viewer's per-uid
 * limit, the operators' reserve and the total, each refusal told to the
 * peer and logged at a bounded rate; idle connections dropped after their
 * deadline while a follower, kept alive by "~", is not; and accept resting
 * rather than spinning when descriptors run out; a peer that writes on
 * while its long answer waits neither has it made again nor spins the
 * loop. Connections from other uids are made with seteuid() around connect() (SO_PEERCRED records the
 * effective uid at connect), so this part needs root; the uids need not
 * exist, and one without a user entry is a viewer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <dlfcn.h>
#include <pwd.h>

#include "control.h"
#include "log.h"
#include "loop.h"
#include "test.h"

/* Uids with no user entry: viewers (test_control assumes none of them exists). */
#define VIEWER_UID	60001
/* The limits of control.c, as its comments give them. */
#define MAX_CLIENTS	64
#define RESERVE		16
#define PER_VIEWER	8
#define REQUEST_TIMEOUT_MS	5000

struct fixture {
	struct loop *loop;
	struct loop_timer *stop;
	struct control *control;
	char dir[64], path[96];
};

/*
 * The user database as control.c sees it: lookups of uid 0 counted (the
 * login is looked up at accept, once per uid per period, never per
 * request), and getpwuid, which a request's handling once called, is a
 * failure. The real getpwuid_r answers.
 */
static int root_lookups, getpwuid_calls;

int
getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t size, struct passwd **result)
{
	static int (*real)(uid_t, struct passwd *, char *, size_t, struct passwd **);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "getpwuid_r");
	if (uid == 0)
		root_lookups++;
	if (real == NULL) {
		*result = NULL;
		return ENOSYS;
	}
	return real(uid, pw, buf, size, result);
}

struct passwd *
getpwuid(uid_t uid)
{
	(void)uid;
	getpwuid_calls++;
	return NULL;
}

/* "big" answers BIG_LINES lines at once (more than a socket holds), counted in big_calls. */
#define BIG_LINES	10000
static int big_calls;

/* "follow" follows; "who" answers the peer's name for the record; "hello" at once. */
static void
handler(void *arg, struct control_client *c, const struct control_request *req)
{
	(void)arg;
	if (strcmp(req->argv[0], "follow") == 0) {
		control_follow(c, 1);
		return;
	}
	if (strcmp(req->argv[0], "who") == 0) {
		control_out(c, "%s", control_peer_who(c));
		control_finish(c, 0, " ");
		return;
	}
	if (strcmp(req->argv[0], "big") == 0) {
		int i;

		big_calls++;
		for (i = 0; i < BIG_LINES; i++)
			control_out(c, "%05d %s", i, "................................................");
		control_finish(c, 0, " ");
		return;
	}
	control_out(c, "hello");
	control_finish(c, 0, " ");
}

static void
stop_fired(void *arg)
{
	loop_stop(arg);
}

/* Runs the loop for ms milliseconds. */
static void
spin(struct fixture *f, int ms)
{
	loop_timer_at(f->stop, loop_now_ns() + (int64_t)ms * 1000000);
	if (loop_run(f->loop) == -1)
		printf("FAIL loop_run\n");
}

/* A connection from euid uid (root makes it so), non-blocking; -1 on failure. */
static int
connect_as(const struct fixture *f, uid_t uid)
{
	struct sockaddr_un sun;
	int fd, rc, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (uid != 0 && seteuid(uid) == -1) {
		close(fd);
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	if (uid != 0 && seteuid(0) == -1) {
		perror("seteuid back to root");
		exit(1);
	}
	if (rc == -1) {
		errno = saved;
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * What lbld said on fd so far: 1 with text when it said something (a
 * refusal) or closed, 0 when it holds the connection silently.
 */
static int
heard(int fd, char *text, size_t size)
{
	ssize_t n = recv(fd, text, size - 1, MSG_DONTWAIT);

	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		text[0] = '\0';
		return 0;
	}
	text[n > 0 ? n : 0] = '\0';
	return 1;
}

/* Opens n connections from uid, lets lbld take them; counts those held and refused. */
static void
open_many(struct fixture *f, uid_t uid, int n, int *fds, int *held, int *refused,
    char *last_refusal, size_t size)
{
	char text[512];
	int i;

	for (i = 0; i < n; i++)
		fds[i] = connect_as(f, uid);
	spin(f, 100);
	*held = *refused = 0;
	for (i = 0; i < n; i++) {
		if (fds[i] == -1)
			continue;
		if (heard(fds[i], text, sizeof(text))) {
			(*refused)++;
			snprintf(last_refusal, size, "%s", text);
			close(fds[i]);
			fds[i] = -1;
		} else {
			(*held)++;
		}
	}
}

static int
count_lines(const char *file, const char *needle)
{
	char line[2048];
	FILE *in = fopen(file, "r");
	int n = 0;

	if (in == NULL)
		return -1;
	while (fgets(line, sizeof(line), in) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(in);
	return n;
}

/* The totals a refusal line starts with: 0, or -1 when line is not one. */
static int
line_totals(const char *line, unsigned *refused, unsigned *dropped)
{
	const char *p = strstr(line, "control: refused "), *q;

	if (p == NULL || sscanf(p, "control: refused %u", refused) != 1 ||
	    (q = strstr(p, " and dropped ")) == NULL || sscanf(q, " and dropped %u", dropped) != 1)
		return -1;
	return 0;
}

/*
 * Sums what the refusal lines of file say, refused and dropped, and
 * whether in each line the uids named and the other uids add up to the
 * line's totals. Returns the number of lines.
 */
static int
sum_log(const char *file, unsigned *refused, unsigned *dropped, int *sums_agree,
    int *named_others)
{
	char line[2048], why[64];
	const char *p;
	unsigned r, d, pr, pd, uid, part_r, part_d;
	FILE *in = fopen(file, "r");
	int n = 0;

	*refused = *dropped = 0;
	*sums_agree = 1;
	*named_others = 0;
	if (in == NULL)
		return -1;
	while (fgets(line, sizeof(line), in) != NULL) {
		if (line_totals(line, &r, &d) == -1)
			continue;
		n++;
		*refused += r;
		*dropped += d;
		part_r = part_d = 0;
		for (p = strstr(line, " uid "); p != NULL; p = strstr(p + 1, " uid ")) {
			if (sscanf(p, " uid %u refused %u (%63[^)]), dropped %u", &uid, &pr, why,
			    &pd) == 4 || sscanf(p, " uid %u refused %u, dropped %u", &uid, &pr,
			    &pd) == 3) {
				part_r += pr;
				part_d += pd;
			}
		}
		if ((p = strstr(line, " other uids refused ")) != NULL &&
		    sscanf(p, " other uids refused %u, dropped %u", &pr, &pd) == 2) {
			part_r += pr;
			part_d += pd;
			*named_others = 1;
		}
		if (part_r != r || part_d != d)
			*sums_agree = 0;
	}
	fclose(in);
	return n;
}

static void
test_limits(struct fixture *f, const char *log_file)
{
	int fds[4 * MAX_CLIENTS], held, refused, total = 0, i, j, k = 0;
	int64_t begin_ns;
	char why[512] = "";

	/* one viewer: its limit */
	begin_ns = loop_now_ns();
	open_many(f, VIEWER_UID, PER_VIEWER + 3, fds + k, &held, &refused, why, sizeof(why));
	k += PER_VIEWER + 3;
	TEST_EQ_INT("a viewer holds at most its limit", held, PER_VIEWER);
	TEST_EQ_INT("a viewer's connections past its limit are refused", refused, 3);
	TEST_CONTAINS("a refused viewer is told why", why, "the most for a viewer");
	TEST_CONTAINS("the refusal is a protocol failure line", why, "fail 1 ");
	total += held;
	/*
	 * More viewers fill all but the operators' reserve, each with another
	 * count, so the log's choice of the uids with most is put to the test.
	 */
	for (i = 1; total < MAX_CLIENTS - RESERVE; i++) {
		int want = PER_VIEWER - i % 4;
		if (want > MAX_CLIENTS - RESERVE - total)
			want = MAX_CLIENTS - RESERVE - total;
		open_many(f, VIEWER_UID + i, want, fds + k, &held, &refused, why, sizeof(why));
		k += want;
		total += held;
	}
	TEST_EQ_INT("viewers fill all but the reserve", total, MAX_CLIENTS - RESERVE);
	open_many(f, VIEWER_UID + i, 1, fds + k, &held, &refused, why, sizeof(why));
	k += 1;
	TEST_EQ_INT("a new viewer is refused once only the reserve is left", refused, 1);
	TEST_CONTAINS("it is told the rest is for operators", why, "kept for operators");
	/* root takes the reserve, then the total holds for root too */
	open_many(f, 0, RESERVE, fds + k, &held, &refused, why, sizeof(why));
	k += RESERVE;
	TEST_EQ_INT("root gets every reserved slot", held, RESERVE);
	open_many(f, 0, 1, fds + k, &held, &refused, why, sizeof(why));
	k += 1;
	TEST_EQ_INT("past the total even root is refused", refused, 1);
	TEST_CONTAINS("it is told all are taken", why, "are taken");
	/* logged: the first refusal at once, the rest in a line per period */
	TEST_EQ_INT("refusals logged as one line so far", count_lines(log_file, "control: refused"),
	    1);
	/* every one of them idle: held for most of their time, then dropped, told why */
	spin(f, (int)((begin_ns - loop_now_ns()) / 1000000) + REQUEST_TIMEOUT_MS - 1000);
	for (i = 0, held = 0; i < k; i++) {
		char text[512];
		if (fds[i] != -1 && !heard(fds[i], text, sizeof(text)))
			held++;
	}
	TEST_EQ_INT("idle connections are held for 4 s at least", held, MAX_CLIENTS);
	/* the last were made about a second after the first */
	spin(f, 3000);
	for (i = 0, j = 0; i < k; i++) {
		char text[512];
		if (fds[i] == -1)
			continue;
		if (heard(fds[i], text, sizeof(text)) && strstr(text, "no complete request") != NULL)
			j++;
		close(fds[i]);
	}
	TEST_EQ_INT("idle connections are dropped past their deadline, told why", j, MAX_CLIENTS);
	open_many(f, VIEWER_UID, 1, fds, &held, &refused, why, sizeof(why));
	TEST_EQ_INT("their slots are free again", held, 1);
	close(fds[0]);
}

static void
test_follower(struct fixture *f)
{
	char buf[4096];
	int fd, idle, keepalives = 0, dropped_idle;
	ssize_t n;

	fd = connect_as(f, VIEWER_UID);
	idle = connect_as(f, VIEWER_UID);
	if (fd == -1 || idle == -1 || send(fd, "follow\n", 7, 0) != 7) {
		TEST_CHECK("follower connects", 0, "%s", strerror(errno));
		return;
	}
	spin(f, 100);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	TEST_CHECK("a follower hears a keep-alive at once", n == 2 && memcmp(buf, "~\n", 2) == 0,
	    "got %zd bytes", n);
	spin(f, REQUEST_TIMEOUT_MS + 1000);
	while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0)
		for (ssize_t i = 0; i < n; i++)
			keepalives += buf[i] == '~';
	/* 6 s at one per 2 s: 3, or 2 on a loaded machine */
	TEST_CHECK("a follower hears a keep-alive every 2 s", keepalives >= 2 && keepalives <= 4,
	    "%d in %d ms", keepalives, REQUEST_TIMEOUT_MS + 1000);
	TEST_CHECK("a follower is not dropped as idle", n == -1 && errno == EAGAIN,
	    "recv %zd (%s)", n, n == -1 ? strerror(errno) : "closed");
	dropped_idle = recv(idle, buf, sizeof(buf) - 1, MSG_DONTWAIT) > 0;
	TEST_CHECK("while an idle one beside it is", dropped_idle, "still held");
	close(fd);
	close(idle);
	/* a request answered at once works as before */
	fd = connect_as(f, VIEWER_UID);
	if (fd != -1 && send(fd, "hello\n", 6, 0) == 6) {
		spin(f, 100);
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		buf[n > 0 ? n : 0] = '\0';
		TEST_STR("a request is answered", buf, "+ hello\nok\n");
	}
	if (fd != -1)
		close(fd);
}

/* Pushes one ~1 KiB line to every follower of tag 1; counts the followers told. */
static void
push_line(void *arg, struct control_client *c)
{
	static char line[1024];

	if (line[0] == '\0')
		memset(line, 'x', sizeof(line) - 1);
	control_out(c, "%s", line);
	(*(int *)arg)++;
}

/*
 * A follower that stops reading is dropped once its backlog passes
 * CONTROL_MAX_FOLLOW_BACKLOG (plus what the kernel's buffers took), not at
 * CONTROL_MAX_BACKLOG: lines pushed to it stop being accepted well before
 * 4 MiB, while a follower that reads beside it hears every line.
 */
static void
test_follower_stalled(struct fixture *f)
{
	char buf[65536];
	int stalled, reader, small = 4096, told, lines_to_stalled = 0, reader_lines = 0;
	int pushed = 0, i;
	ssize_t n;

	stalled = connect_as(f, VIEWER_UID);
	reader = connect_as(f, VIEWER_UID);
	if (stalled == -1 || reader == -1 ||
	    setsockopt(stalled, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == -1 ||
	    send(stalled, "follow\n", 7, 0) != 7 || send(reader, "follow\n", 7, 0) != 7) {
		TEST_CHECK("followers connect", 0, "%s", strerror(errno));
		return;
	}
	spin(f, 100);
	/* 4,000 lines of 1 KiB: 4 MB, the old limit, in pieces the loop sends */
	for (i = 0; i < 40; i++) {
		for (int k = 0; k < 100; k++) {
			told = 0;
			control_each_follower(f->control, 1, push_line, &told);
			pushed++;
			if (told == 2)
				lines_to_stalled++;
		}
		spin(f, 5);
		while ((n = recv(reader, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			for (ssize_t k = 0; k < n; k++)
				reader_lines += buf[k] == '\n';
	}
	for (i = 0; i < 50 && reader_lines < pushed + 1; i++) {
		spin(f, 10);
		while ((n = recv(reader, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			for (ssize_t k = 0; k < n; k++)
				reader_lines += buf[k] == '\n';
	}
	printf("info: a stalled follower was told %d of %d lines of 1 KiB before it was dropped\n",
	    lines_to_stalled, pushed);
	TEST_CHECK("a stalled follower is dropped past its follow backlog",
	    lines_to_stalled * 1024 < CONTROL_MAX_FOLLOW_BACKLOG + 2 * 1024 * 1024 &&
	    lines_to_stalled < pushed, "%d KiB went to it of %d", lines_to_stalled, pushed);
	TEST_CHECK("... and was told at least its backlog's worth first",
	    lines_to_stalled * 1024 >= CONTROL_MAX_FOLLOW_BACKLOG / 2, "%d KiB",
	    lines_to_stalled);
	/* the reader's lines: the keep-alive's "~" line, then every pushed line */
	TEST_CHECK("a follower that reads hears every line", reader_lines >= pushed,
	    "%d of %d", reader_lines, pushed);
	close(stalled);
	close(reader);
	spin(f, 50);
}

/*
 * The operator's name for the record: root's login, looked up at most
 * once for three connections in a row (the uid's entry keeps it for the
 * role's period); a viewer's is its uid; no request calls getpwuid.
 */
static void
test_who(struct fixture *f)
{
	char buf[256], want[64];
	int i, fd, before = root_lookups;
	ssize_t n;

	for (i = 0; i < 3; i++) {
		fd = connect_as(f, 0);
		if (fd == -1 || send(fd, "who\n", 4, 0) != 4) {
			TEST_CHECK("root connects", 0, "%s", strerror(errno));
			if (fd != -1)
				close(fd);
			return;
		}
		spin(f, 100);
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		buf[n > 0 ? n : 0] = '\0';
		close(fd);
		TEST_STR("root's name for the record: its login and uid", buf,
		    "+ root (uid 0)\nok\n");
	}
	/* none when an earlier part's root connection, within the period, looked it up */
	TEST_CHECK("root's login looked up at most once for three connections",
	    root_lookups - before <= 1, "%d lookups", root_lookups - before);
	fd = connect_as(f, VIEWER_UID);
	if (fd != -1 && send(fd, "who\n", 4, 0) == 4) {
		spin(f, 100);
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		buf[n > 0 ? n : 0] = '\0';
		snprintf(want, sizeof(want), "+ uid %d\nok\n", VIEWER_UID);
		TEST_STR("a viewer's name is its uid", buf, want);
	}
	if (fd != -1)
		close(fd);
	TEST_EQ_INT("no request called getpwuid", getpwuid_calls, 0);
}

/* Out of descriptors: accept rests instead of spinning, then takes the waiting peers. */
static void
test_emfile(struct fixture *f)
{
	struct rlimit old, low;
	struct rusage ru0, ru1;
	int fds[4], i, held = 0, probe;
	int64_t cpu_us;
	char text[256];

	if (getrlimit(RLIMIT_NOFILE, &old) == -1) {
		TEST_CHECK("getrlimit", 0, "%s", strerror(errno));
		return;
	}
	for (i = 0; i < 4; i++)
		fds[i] = connect_as(f, VIEWER_UID);
	/* no descriptor left for accept: the lowest free one is the limit */
	if ((probe = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		TEST_CHECK("open /dev/null", 0, "%s", strerror(errno));
		return;
	}
	close(probe);
	low = old;
	low.rlim_cur = (rlim_t)probe;
	if (setrlimit(RLIMIT_NOFILE, &low) == -1) {
		TEST_CHECK("setrlimit", 0, "%s", strerror(errno));
		return;
	}
	getrusage(RUSAGE_SELF, &ru0);
	spin(f, 600);
	getrusage(RUSAGE_SELF, &ru1);
	cpu_us = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1000000 +
	    (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
	    (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000000 +
	    (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
	/* spinning would burn most of the 600 ms; resting costs a few accepts */
	TEST_CHECK("out of descriptors, accept rests instead of spinning", cpu_us < 150000,
	    "%lld us of CPU in 600 ms", (long long)cpu_us);
	if (setrlimit(RLIMIT_NOFILE, &old) == -1)
		perror("setrlimit back");
	spin(f, 400);
	for (i = 0; i < 4; i++)
		if (fds[i] != -1) {
			held += !heard(fds[i], text, sizeof(text));
			close(fds[i]);
		}
	TEST_EQ_INT("with descriptors again, the waiting peers are taken", held, 4);
}

/*
 * A peer that asks for a long answer, reads none of it and writes on: the
 * answer is given (the rest waits for the peer), nothing more is read
 * from it, so its request is not handled again, and a full input buffer
 * does not keep the loop busy (both once happened: the input was read
 * and the request handed to its handler again, and past the input limit
 * the socket stayed readable, unread, and the loop spun). Read at last,
 * the answer is whole and the connection ends.
 */
static void
test_answered_writer(struct fixture *f)
{
	char junk[65536], buf[65536];
	int fd = connect_as(f, 0), i, lines = 0, eof = 0;
	int64_t busy_ns, wall_ns;
	ssize_t n;

	TEST_CHECK("a peer connects", fd != -1, "%s", strerror(errno));
	if (fd == -1)
		return;
	memset(junk, 'x', sizeof(junk));
	TEST_CHECK("it asks for a long answer", send(fd, "big\n", 4, 0) == 4, "%s", strerror(errno));
	spin(f, 50);
	TEST_EQ_INT("... which is made", big_calls, 1);
	/* 2 MB and more, as much as the socket takes, past the request size limit */
	for (i = 0; i < 40; i++) {
		while (send(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
			;
		spin(f, 10);
	}
	wall_ns = loop_now_ns();
	busy_ns = test_cpu_ns();
	spin(f, 300);
	busy_ns = test_cpu_ns() - busy_ns;
	wall_ns = loop_now_ns() - wall_ns;
	TEST_EQ_INT("the peer's further input does not make it again", big_calls, 1);
	TEST_CHECK("... and the loop sleeps (CPU time under a tenth of the time)",
	    busy_ns * 10 < wall_ns, "busy %.1f ms of %.1f ms", busy_ns / 1e6, wall_ns / 1e6);
	/* the peer reads at last: the whole answer, then the end */
	for (i = 0; i < 2000 && !eof; i++) {
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			char *p;

			for (p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++)
				lines++;
		}
		if (n == 0)
			eof = 1;
		else
			spin(f, 5);
	}
	TEST_CHECK("read at last, the answer is whole and the connection ends",
	    eof && lines == BIG_LINES + 1, "%d lines, %s", lines, eof ? "ended" : "still open");
	close(fd);
}

int
main(void)
{
	struct fixture f;
	char log_file[128];
	unsigned refused, dropped;
	int saved_stderr, log_fd, lines, agree, others;
	struct stat st;

	if (geteuid() != 0) {
		printf("info: test_control needs root (connections from other uids); skipped\n");
		return TEST_DONE();
	}
	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/tmp/lbl-control.XXXXXX");
	if (mkdtemp(f.dir) == NULL || chmod(f.dir, 0711) == -1) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(f.path, sizeof(f.path), "%s/c.sock", f.dir);
	snprintf(log_file, sizeof(log_file), "%s/log", f.dir);
	/* lbld's log lines go to stderr: catch them in a file */
	fflush(stderr);
	saved_stderr = dup(2);
	log_fd = open(log_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (saved_stderr == -1 || log_fd == -1 || dup2(log_fd, 2) == -1) {
		perror("redirecting stderr");
		return 1;
	}
	close(log_fd);
	log_init("test_control", 6);
	f.loop = loop_new();
	f.stop = loop_timer_new(f.loop, stop_fired, f.loop);
	f.control = control_open(f.loop, f.path, handler, NULL);
	TEST_CHECK("control_open", f.control != NULL, "see %s", log_file);
	if (f.control == NULL)
		return TEST_DONE();
	TEST_CHECK("the socket is 0666: anyone may connect", stat(f.path, &st) == 0 &&
	    (st.st_mode & 0777) == 0666, "mode %o", (unsigned)(st.st_mode & 0777));
	test_limits(&f, log_file);
	test_follower(&f);
	test_follower_stalled(&f);
	test_emfile(&f);
	test_who(&f);
	test_answered_writer(&f);
	control_close(f.control);
	loop_timer_free(f.stop);
	loop_free(f.loop);
	/*
	 * The period's refusals are summed up by control_close at the latest.
	 * Refused: 3 of the first viewer, 1 new viewer, 1 root; dropped: all
	 * 64 idle, then the idle one beside the follower.
	 */
	lines = sum_log(log_file, &refused, &dropped, &agree, &others);
	TEST_CHECK("refusals and drops logged in at most 3 lines", lines >= 2 && lines <= 3,
	    "%d lines", lines);
	TEST_EQ_INT("the log counts every refusal", refused, 5);
	TEST_EQ_INT("the log counts every dropped idle connection", dropped, MAX_CLIENTS + 1);
	TEST_CHECK("each line's uids and other uids add up to its totals", agree, "see %s",
	    log_file);
	TEST_CHECK("past 4 uids a line counts the rest as other uids", others, "see %s", log_file);
	fflush(stderr);
	if (dup2(saved_stderr, 2) == -1)
		perror("restoring stderr");
	close(saved_stderr);
	if (test_failures == 0)
		unlink(log_file);
	else
		printf("info: lbld's log lines are in %s\n", log_file);
	if (test_failures == 0)
		rmdir(f.dir);
	return TEST_DONE();
}
