/*
 * Notifications (daemon/alert.c), included in chrony's style with the fake
 * loop: which run status changes raise which event, once; the recipe of a
 * batch the run has let go; the limit of ALERT_MAX_RUNNING and the events
 * beyond it dropped; real children spawned with the event in LBL_*
 * variables, reaped through their pidfd; a program that cannot be run; a
 * child past its time limit killed. The rig file's notify section is
 * parsed here too: its errors at FILE:LINE:COL.
 */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_loop.h"

/* The loop's descriptors, faked: the pidfds alert.c watches, by fd. */
#define FAKE_FDS 16
static struct { int fd; loop_fd_cb cb; void *arg; } fake_fds[FAKE_FDS];

int
loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	int i;

	(void)loop;
	(void)events;
	for (i = 0; i < FAKE_FDS; i++)
		if (fake_fds[i].cb == NULL) {
			fake_fds[i].fd = fd;
			fake_fds[i].cb = cb;
			fake_fds[i].arg = arg;
			return 0;
		}
	return -1;
}

void
loop_del_fd(struct loop *loop, int fd)
{
	int i;

	(void)loop;
	for (i = 0; i < FAKE_FDS; i++)
		if (fake_fds[i].cb != NULL && fake_fds[i].fd == fd)
			fake_fds[i].cb = NULL;
}

#include "../../daemon/alert.c"
#include "test.h"

static char dir[] = "/tmp/lbl-alert-XXXXXX";

/* Waits (up to 10 s) for every watched pidfd to be readable and dispatches it. */
static int
reap_all(struct alert *a)
{
	int i, rounds;

	for (rounds = 0; rounds < 1000 && alert_running(a) > 0; rounds++) {
		for (i = 0; i < FAKE_FDS; i++) {
			struct pollfd p = { fake_fds[i].fd, POLLIN, 0 };
			if (fake_fds[i].cb == NULL || poll(&p, 1, 10) != 1)
				continue;
			fake_fds[i].cb(fake_fds[i].arg, fake_fds[i].fd, EPOLLIN);
		}
	}
	return alert_running(a);
}

static struct rig *
load(const char *text, int *errors, char **rendered)
{
	struct rig *rig = NULL;
	struct diag d;

	diag_init(&d, "rig.yaml");
	rig_load_buffer("rig.yaml", text, strlen(text), &d, &rig);
	*errors = d.errors;
	*rendered = diag_render(&d);
	diag_free(&d);
	return rig;
}

static const char base_rig[] =
    "name: alert-test\n"
    "buses: {b: {type: tcp, host: 127.0.0.1, port: 1502}}\n"
    "devices:\n"
    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 3, profile: generic-pump, max_flow: 100 mL/min}\n";

static char *
slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
test_parse(void)
{
	static const struct { const char *notify, *want; } bad[] = {
		{ "notify:\n  failed: [ntfy, publish]\n", "rig.yaml:6:12: error: 'failed': the program "
		    "must be an absolute path" },
		{ "notify:\n  failed: /bin/true\n", "rig.yaml:6:11: error: 'failed': expected a list" },
		{ "notify:\n  failed: [/bin/true, {a: b}]\n", "rig.yaml:6:23: error: 'failed': "
		    "argument 2: expected a string, not a map" },
		{ "notify:\n  timeout: 500ms\n", "'timeout': expected a duration from 1s to 10min" },
		{ "notify:\n  paused: [/bin/true]\n", "rig.yaml:6:3: error: unknown key 'paused'" },
	};
	char text[1024], *rendered;
	struct rig *rig;
	size_t i;
	int errors;

	rig = load(base_rig, &errors, &rendered);
	TEST_CHECK("a rig without notify loads", rig != NULL, "%s", rendered);
	if (rig != NULL) {
		TEST_EQ_INT("without notify: no command", rig->notify.argv[RIG_NOTIFY_FAILED] == NULL, 1);
		TEST_EQ_INT("without notify: timeout 30 s", rig->notify.timeout_ms, ALERT_TIMEOUT_DEFAULT_MS);
	}
	free(rendered);
	rig_free(rig);
	snprintf(text, sizeof(text), "%snotify:\n  estop: [/usr/bin/curl, -d, 'a b;$x', \"5\"]\n"
	    "  timeout: 2s\n", base_rig);
	rig = load(text, &errors, &rendered);
	TEST_CHECK("notify loads", rig != NULL, "%s", rendered);
	if (rig != NULL) {
		const char **argv = rig->notify.argv[RIG_NOTIFY_ESTOP];
		TEST_STR("notify: argv[0]", argv[0], "/usr/bin/curl");
		TEST_STR("notify: an argument as YAML reads it", argv[2], "a b;$x");
		TEST_CHECK("notify: argv ends in NULL", argv[4] == NULL, "argv[4] set");
		TEST_EQ_INT("notify: timeout", rig->notify.timeout_ms, 2000);
	}
	free(rendered);
	rig_free(rig);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base_rig, bad[i].notify);
		rig = load(text, &errors, &rendered);
		TEST_CHECK("a bad notify section is refused", rig == NULL && errors > 0, "%s",
		    bad[i].notify);
		TEST_CONTAINS("its error says where and what", rendered, bad[i].want);
		free(rendered);
		rig_free(rig);
	}
}

static struct run_status
status(enum run_state state, int64_t batch, int step, const char *batch_state,
    const char *recipe, const char *message)
{
	struct run_status st;

	memset(&st, 0, sizeof(st));
	st.state = state;
	st.batch_id = batch;
	st.step_seq = step;
	st.batch_state = batch_state;
	st.recipe = recipe;
	st.version = recipe ? "2" : NULL;
	st.bilayers = 5;
	st.message = message;
	return st;
}

static void
test_events(void)
{
	char text[2048], *rendered, path[300], want[400];
	struct run_status st;
	struct alert *a;
	struct rig *rig;
	int errors, i;

	/* every event writes its environment to DIR/EVENT (the script may use sh) */
	snprintf(text, sizeof(text), "%snotify:\n"
	    "  prompt: [/bin/sh, -c, 'env > %s/$LBL_EVENT.$LBL_BATCH']\n"
	    "  failed: [/bin/sh, -c, 'env > %s/$LBL_EVENT.$LBL_BATCH']\n"
	    "  completed: [/bin/sh, -c, 'env > %s/$LBL_EVENT.$LBL_BATCH']\n"
	    "  estop: [%s/no-such-program]\n"
	    "  aborted: [/bin/sleep, '30']\n"
	    "  timeout: 1s\n", base_rig, dir, dir, dir, dir);
	rig = load(text, &errors, &rendered);
	TEST_CHECK("the test rig loads", rig != NULL, "%s", rendered);
	free(rendered);
	if (rig == NULL)
		return;
	a = alert_new(NULL, rig);
	TEST_CHECK("alert_new", a != NULL, "NULL");
	if (a == NULL)
		return;

	/* a batch runs, then waits at a prompt: one event, however often it is told */
	st = status(RUN_STEP, 7, 1, "running", "r", NULL);
	alert_status(a, &st);
	TEST_EQ_INT("a running step raises nothing", alert_running(a), 0);
	st = status(RUN_PROMPT, 7, 2, "running", "r", "Load it");
	alert_status(a, &st);
	alert_status(a, &st);
	TEST_EQ_INT("a prompt raises one event, told twice", alert_running(a), 1);
	TEST_CHECK("it is spawned on the next round, not now", a->slots[0].state == ALERT_QUEUED &&
	    loop_timer_armed(a->spawn_timer), "state %d", a->slots[0].state);
	fake_fire(a->spawn_timer);
	TEST_CHECK("spawned", a->slots[0].state == ALERT_RUNNING && a->slots[0].pid > 0 &&
	    a->slots[0].pidfd >= 0, "state %d pid %d pidfd %d", a->slots[0].state,
	    (int)a->slots[0].pid, a->slots[0].pidfd);
	TEST_EQ_INT("reaped through its pidfd", reap_all(a), 0);
	snprintf(path, sizeof(path), "%s/prompt.7", dir);
	TEST_CONTAINS("prompt: LBL_EVENT", slurp(path), "LBL_EVENT=prompt\n");
	TEST_CONTAINS("prompt: LBL_MESSAGE", slurp(path), "LBL_MESSAGE=Load it\n");
	TEST_CONTAINS("prompt: LBL_RECIPE", slurp(path), "LBL_RECIPE=r\n");
	TEST_CONTAINS("prompt: LBL_RECIPE_VERSION", slurp(path), "LBL_RECIPE_VERSION=2\n");
	TEST_CONTAINS("prompt: LBL_RIG", slurp(path), "LBL_RIG=alert-test\n");
	TEST_CONTAINS("prompt: LBL_TIME", slurp(path), "LBL_TIME=20");

	/* the batch fails; the run has let its recipe go: the event still names it */
	st = status(RUN_SAFE, 7, 2, "failed", NULL, "e-stop 'estop' engaged");
	alert_status(a, &st);
	st = status(RUN_IDLE, 7, 0, "failed", NULL, "e-stop 'estop' engaged");
	alert_status(a, &st);
	TEST_EQ_INT("a failure raises one event, told twice", alert_running(a), 1);
	fake_fire(a->spawn_timer);
	reap_all(a);
	snprintf(path, sizeof(path), "%s/failed.7", dir);
	TEST_CONTAINS("failed: the cause", slurp(path), "LBL_MESSAGE=e-stop 'estop' engaged\n");
	TEST_CONTAINS("failed: the recipe the run let go", slurp(path), "LBL_RECIPE=r\n");

	/* the next batch completes */
	st = status(RUN_STEP, 8, 1, "running", "r", NULL);
	alert_status(a, &st);
	st = status(RUN_IDLE, 8, 0, "completed", NULL, NULL);
	alert_status(a, &st);
	fake_fire(a->spawn_timer);
	reap_all(a);
	snprintf(path, sizeof(path), "%s/completed.8", dir);
	snprintf(want, sizeof(want), "LBL_MESSAGE=batch 8 completed: 5 bilayers\n");
	TEST_CONTAINS("completed: its message", slurp(path), want);

	/* a program that cannot be run: logged, the slot is free again */
	st = status(RUN_STEP, 9, 1, "running", "r", NULL);
	alert_estop(a, "estop", &st);
	fake_fire(a->spawn_timer);
	TEST_EQ_INT("a missing program frees its slot at once", alert_running(a), 0);

	/* the limit: ALERT_MAX_RUNNING at once, then dropped */
	for (i = 0; i < ALERT_MAX_RUNNING; i++)
		TEST_EQ_INT("queued within the limit", alert_event(a, RIG_NOTIFY_ABORTED, 10 + i, "r",
		    "2", "aborted"), 0);
	TEST_EQ_INT("beyond the limit: dropped", alert_event(a, RIG_NOTIFY_ABORTED, 20, "r", "2",
	    "aborted"), -1);

	/* the time limit: SIGTERM at 1 s (sleep dies of it), reaped */
	fake_fire(a->spawn_timer);
	TEST_EQ_INT("all four run", alert_running(a), ALERT_MAX_RUNNING);
	for (i = 0; i < ALERT_MAX_RUNNING; i++)
		TEST_EQ_INT("its time limit armed", a->slots[i].timer->at,
		    a->slots[i].started_ns + 1000000000LL);
	for (i = 0; i < ALERT_MAX_RUNNING; i++) {
		fake_fire(a->slots[i].timer);
		TEST_EQ_INT("SIGTERM at the time limit", a->slots[i].signalled, SIGTERM);
		TEST_EQ_INT("SIGKILL armed 2 s later", a->slots[i].timer->at, fake_now_ns +
		    (int64_t)ALERT_KILL_GRACE_MS * 1000000);
	}
	TEST_EQ_INT("killed and reaped", reap_all(a), 0);
	alert_free(a);
	rig_free(rig);

	/* a rig without notify: no event queues anything */
	rig = load(base_rig, &errors, &rendered);
	free(rendered);
	if (rig == NULL || (a = alert_new(NULL, rig)) == NULL)
		return;
	st = status(RUN_PROMPT, 1, 1, "running", "r", "x");
	alert_status(a, &st);
	alert_estop(a, "estop", &st);
	TEST_EQ_INT("without notify: nothing queued", alert_running(a), 0);
	TEST_CHECK("without notify: nothing armed", !loop_timer_armed(a->spawn_timer), "armed");
	alert_free(a);
	rig_free(rig);
}

int
main(void)
{
	char cmd[400];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_parse();
	test_events();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return TEST_DONE();
}
