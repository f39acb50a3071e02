/*
 * Notifications (see alert.h): the rig file's 'notify:' commands, spawned
 * without a shell and reaped through the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "lbl_limits.h"
#include "log.h"
#include "text.h"

extern char **environ;

enum alert_slot_state { ALERT_FREE, ALERT_QUEUED, ALERT_RUNNING };

/* One event's command: queued until the loop's next round, then running until reaped. */
struct alert_slot {
	struct alert *alert;
	enum alert_slot_state state;
	enum rig_notify_event event;
	int64_t batch_id;		/* 0: none */
	char recipe[128], version[64];
	char message[1024];
	char time[32];			/* when the event happened, ISO 8601 UTC */
	char command[256];		/* argv[0], for the log */
	pid_t pid;
	int pidfd;			/* -1: its end is polled (no pidfd on this kernel) */
	int64_t started_ns, deadline_ns;
	int64_t timeout_ms;		/* its time limit, as the rig file said when it started */
	int signalled;			/* 0, or the last signal sent at the time limit */
	struct loop_timer *timer;	/* the time limit, the kill's grace, or polling */
};

struct alert {
	struct loop *loop;
	const struct rig *rig;
	struct alert_slot slots[ALERT_MAX_RUNNING];
	struct loop_timer *spawn_timer;	/* spawns queued commands on the next round */
	/* what the status said last, so each event is raised once */
	enum run_state last_state;
	int64_t last_batch;
	int last_step;
	int64_t ended_batch;
	char ended_state[16];
	/* the running batch's recipe: a batch's end is told after the run let it go */
	int64_t known_batch;
	char known_recipe[128], known_version[64];
	int known_bilayers;
};

static void alert_spawn_queued(void *arg);
static void alert_slot_timer(void *arg);

struct alert *
alert_new(struct loop *loop, const struct rig *rig)
{
	struct alert *a = calloc(1, sizeof(*a));
	int i;

	if (a == NULL) {
		log_warn("notify: calloc");
		return NULL;
	}
	a->loop = loop;
	a->rig = rig;
	a->last_state = RUN_IDLE;
	if ((a->spawn_timer = loop_timer_new(loop, alert_spawn_queued, a)) == NULL) {
		free(a);
		return NULL;
	}
	for (i = 0; i < ALERT_MAX_RUNNING; i++) {
		a->slots[i].alert = a;
		a->slots[i].pidfd = -1;
		if ((a->slots[i].timer = loop_timer_new(loop, alert_slot_timer,
		    &a->slots[i])) == NULL) {
			alert_free(a);
			return NULL;
		}
	}
	return a;
}

void
alert_set_rig(struct alert *a, const struct rig *rig)
{
	a->rig = rig;
}

int
alert_running(const struct alert *a)
{
	int i, n = 0;

	for (i = 0; i < ALERT_MAX_RUNNING; i++)
		n += a->slots[i].state != ALERT_FREE;
	return n;
}

/* "event prompt (batch 12)" or "event estop", for every log line about a slot. */
static const char *
alert_what(const struct alert_slot *s, char *buf, size_t size)
{
	if (s->batch_id > 0)
		snprintf(buf, size, "event %s (batch %lld)", rig_notify_event_names[s->event],
		    (long long)s->batch_id);
	else
		snprintf(buf, size, "event %s", rig_notify_event_names[s->event]);
	return buf;
}

int
alert_event(struct alert *a, enum rig_notify_event event, int64_t batch_id,
    const char *recipe, const char *version, const char *message)
{
	struct alert_slot *s = NULL;
	struct tm tm;
	time_t now = time(NULL);
	char what[80];
	int i;

	if (a->rig->notify.argv[event] == NULL)
		return 0;
	for (i = 0; i < ALERT_MAX_RUNNING && s == NULL; i++)
		if (a->slots[i].state == ALERT_FREE)
			s = &a->slots[i];
	if (s == NULL) {
		struct alert_slot dropped = { .event = event, .batch_id = batch_id };

		log_warnx("notify: %s dropped: %d notify commands are running already, the most "
		    "at once (each ends by the rig file's notify timeout)",
		    alert_what(&dropped, what, sizeof(what)), ALERT_MAX_RUNNING);
		return -1;
	}
	s->state = ALERT_QUEUED;
	s->event = event;
	s->batch_id = batch_id;
	text_format(s->recipe, sizeof(s->recipe), "%s", recipe ? recipe : "");
	text_format(s->version, sizeof(s->version), "%s", version ? version : "");
	text_format(s->message, sizeof(s->message), "%s", message ? message : "");
	if (gmtime_r(&now, &tm) == NULL || strftime(s->time, sizeof(s->time),
	    "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		s->time[0] = '\0';
	s->signalled = 0;
	/* the next round: whatever raised the event (an e-stop's safe state) goes first */
	if (!loop_timer_armed(a->spawn_timer) && loop_timer_at(a->spawn_timer, 0) == -1) {
		log_warnx("notify: %s dropped: its spawn could not be scheduled",
		    alert_what(s, what, sizeof(what)));
		s->state = ALERT_FREE;
		return -1;
	}
	return 0;
}

/*
 * The child's environment: lbld's own (PATH, LANG...) without any LBL_
 * variable it may have, then the event's. Returns a malloc'd array whose
 * strings are lbld's or those in vars; NULL on out of memory.
 */
static char **
alert_envp(char *const vars[], size_t var_count)
{
	char **envp;
	size_t n = 0, i, j = 0;

	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((envp = calloc(n + var_count + 1, sizeof(*envp))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "LBL_", 4) != 0)
			envp[j++] = environ[i];
	for (i = 0; i < var_count; i++)
		envp[j++] = vars[i];
	envp[j] = NULL;
	return envp;
}

static void
alert_slot_free(struct alert_slot *s)
{
	if (s->pidfd != -1) {
		loop_del_fd(s->alert->loop, s->pidfd);
		close(s->pidfd);
		s->pidfd = -1;
	}
	loop_timer_cancel(s->timer);
	s->state = ALERT_FREE;
	s->pid = 0;
}

/* Reaps the child if it has ended and logs how. Returns 1 when it had, 0 if not. */
static int
alert_reap(struct alert_slot *s)
{
	char what[80];
	double secs;
	int status;
	pid_t r;

	r = waitpid(s->pid, &status, WNOHANG);
	if (r == 0)
		return 0;
	alert_what(s, what, sizeof(what));
	if (r == -1) {
		log_warn("notify: %s: waitpid %s (pid %d)", what, s->command, (int)s->pid);
		alert_slot_free(s);
		return 1;
	}
	secs = (double)(loop_now_ns() - s->started_ns) / 1e9;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("notify: %s: %s done in %.1f s", what, s->command, secs);
	else if (WIFEXITED(status))
		log_warnx("notify: %s: %s failed: exit status %d after %.1f s", what, s->command,
		    WEXITSTATUS(status), secs);
	else if (WIFSIGNALED(status) && s->signalled != 0)
		log_warnx("notify: %s: %s was killed (SIG%s) at its time limit of %.0f s", what,
		    s->command, sigabbrev_np(WTERMSIG(status)),
		    (double)s->timeout_ms / 1000);
	else if (WIFSIGNALED(status))
		log_warnx("notify: %s: %s failed: killed by SIG%s after %.1f s", what, s->command,
		    sigabbrev_np(WTERMSIG(status)), secs);
	alert_slot_free(s);
	return 1;
}

static void
alert_child_ended(void *arg, int fd, uint32_t events)
{
	struct alert_slot *s = arg;

	(void)fd;
	(void)events;
	if (s->state == ALERT_RUNNING)
		(void)alert_reap(s);
}

/*
 * The slot's timer: at the time limit SIGTERM to the command's process
 * group (a script's children too), ALERT_KILL_GRACE_MS later SIGKILL;
 * without a pidfd it also polls for the child's end.
 */
static void
alert_slot_timer(void *arg)
{
	struct alert_slot *s = arg;
	int64_t now = loop_now_ns(), next;
	char what[80];
	int sig;

	if (s->state != ALERT_RUNNING)
		return;
	if (s->pidfd == -1 && alert_reap(s))
		return;
	if (now >= s->deadline_ns && s->signalled != SIGKILL) {
		sig = s->signalled == 0 ? SIGTERM : SIGKILL;
		alert_what(s, what, sizeof(what));
		log_warnx("notify: %s: %s still runs after its time limit of %.0f s%s: sending "
		    "SIG%s", what, s->command, (double)s->timeout_ms / 1000,
		    sig == SIGKILL ? " and SIGTERM" : "", sigabbrev_np(sig));
		if (kill(-s->pid, sig) == -1 && kill(s->pid, sig) == -1)
			log_warn("notify: %s: kill %s (pid %d)", what, s->command, (int)s->pid);
		s->signalled = sig;
		s->deadline_ns = now + (int64_t)ALERT_KILL_GRACE_MS * 1000000;
	}
	next = s->signalled == SIGKILL ? 0 : s->deadline_ns;
	if (s->pidfd == -1 && (next == 0 || next > now + (int64_t)ALERT_POLL_MS * 1000000))
		next = now + (int64_t)ALERT_POLL_MS * 1000000;
	if (next != 0 && loop_timer_at(s->timer, next) == -1)
		log_warnx("notify: %s: %s: its time limit could not be armed",
		    alert_what(s, what, sizeof(what)), s->command);
}

/*
 * Spawns one queued command: stdin /dev/null, stdout and stderr lbld's
 * (the journal), no other descriptor, signals at their defaults and none
 * blocked, its own process group, ordinary scheduling. Failures are logged
 * and free the slot.
 */
static void
alert_spawn(struct alert *a, struct alert_slot *s)
{
	const char **argv = a->rig->notify.argv[s->event];
	char v_event[48], v_batch[48], v_recipe[160], v_version[96], v_message[1100];
	char v_rig[300], v_time[48], what[80];
	char *vars[] = { v_event, v_batch, v_recipe, v_version, v_message, v_rig, v_time };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct sched_param sp;
	sigset_t none, all;
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP;
	char **envp;
	int policy, rc;

	alert_what(s, what, sizeof(what));
	if (argv == NULL) {
		/* a reload between the event and now took the command away */
		s->state = ALERT_FREE;
		return;
	}
	text_format(s->command, sizeof(s->command), "%s", argv[0]);
	snprintf(v_event, sizeof(v_event), "LBL_EVENT=%s", rig_notify_event_names[s->event]);
	if (s->batch_id > 0)
		snprintf(v_batch, sizeof(v_batch), "LBL_BATCH=%lld", (long long)s->batch_id);
	else
		snprintf(v_batch, sizeof(v_batch), "LBL_BATCH=");
	snprintf(v_recipe, sizeof(v_recipe), "LBL_RECIPE=%s", s->recipe);
	snprintf(v_version, sizeof(v_version), "LBL_RECIPE_VERSION=%s", s->version);
	snprintf(v_message, sizeof(v_message), "LBL_MESSAGE=%s", s->message);
	text_format(v_rig, sizeof(v_rig), "LBL_RIG=%s", a->rig->name);
	snprintf(v_time, sizeof(v_time), "LBL_TIME=%s", s->time);
	if ((envp = alert_envp(vars, sizeof(vars) / sizeof(vars[0]))) == NULL) {
		log_warnx("notify: %s: %s not run: out of memory", what, s->command);
		s->state = ALERT_FREE;
		return;
	}
	sigemptyset(&none);
	sigfillset(&all);
	memset(&sp, 0, sizeof(sp));
	/* lbld's real-time policy is for its deadlines, never a notification's */
	policy = sched_getscheduler(0);
	if (policy == SCHED_FIFO || policy == SCHED_RR)
		flags |= POSIX_SPAWN_SETSCHEDULER;
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0 ||
	    (rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, 2, 1)) != 0 ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (rc = posix_spawnattr_init(&attr)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (rc = posix_spawnattr_setschedpolicy(&attr, SCHED_OTHER)) != 0 ||
	    (rc = posix_spawnattr_setschedparam(&attr, &sp)) != 0 ||
	    (rc = posix_spawnattr_setflags(&attr, flags)) != 0) {
		log_warnx("notify: %s: %s not run: posix_spawn set-up: %s", what, s->command,
		    strerror(rc));
		free(envp);
		s->state = ALERT_FREE;
		return;
	}
	rc = posix_spawn(&s->pid, argv[0], &fa, &attr, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(envp);
	if (rc != 0) {
		log_warnx("notify: %s: cannot run %s: %s", what, s->command, strerror(rc));
		s->state = ALERT_FREE;
		return;
	}
	s->state = ALERT_RUNNING;
	s->started_ns = loop_now_ns();
	s->timeout_ms = a->rig->notify.timeout_ms;
	s->deadline_ns = s->started_ns + s->timeout_ms * 1000000;
	log_info("notify: %s: running %s (pid %d)", what, s->command, (int)s->pid);
	s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (s->pidfd != -1 && (fcntl(s->pidfd, F_SETFD, FD_CLOEXEC) == -1 ||
	    loop_add_fd(a->loop, s->pidfd, EPOLLIN, alert_child_ended, s) == -1)) {
		close(s->pidfd);
		s->pidfd = -1;
	}
	if (s->pidfd == -1)
		log_debug("notify: %s: no pidfd for pid %d: its end is polled every %d ms", what,
		    (int)s->pid, ALERT_POLL_MS);
	/* the time limit (and, without a pidfd, the first poll) */
	if (loop_timer_at(s->timer, s->pidfd == -1 ? s->started_ns +
	    (int64_t)ALERT_POLL_MS * 1000000 : s->deadline_ns) == -1)
		log_warnx("notify: %s: %s: its time limit could not be armed", what, s->command);
}

static void
alert_spawn_queued(void *arg)
{
	struct alert *a = arg;
	int i;

	for (i = 0; i < ALERT_MAX_RUNNING; i++)
		if (a->slots[i].state == ALERT_QUEUED)
			alert_spawn(a, &a->slots[i]);
}

void
alert_status(struct alert *a, const struct run_status *st)
{
	char message[300];
	int prompt_is_new, known;

	if (st->batch_id > 0 && st->recipe != NULL) {
		a->known_batch = st->batch_id;
		text_format(a->known_recipe, sizeof(a->known_recipe), "%s", st->recipe);
		text_format(a->known_version, sizeof(a->known_version), "%s",
		    st->version ? st->version : "");
		a->known_bilayers = st->bilayers;
	}
	known = st->batch_id > 0 && st->batch_id == a->known_batch;
	prompt_is_new = st->state == RUN_PROMPT && !(a->last_state == RUN_PROMPT &&
	    a->last_batch == st->batch_id && a->last_step == st->step_seq);
	a->last_state = st->state;
	a->last_batch = st->batch_id;
	a->last_step = st->step_seq;
	if (prompt_is_new)
		(void)alert_event(a, RIG_NOTIFY_PROMPT, st->batch_id, st->recipe, st->version,
		    st->message);
	/* a batch's end, once: failed, aborted or completed */
	if (st->batch_id > 0 && st->batch_state != NULL &&
	    (strcmp(st->batch_state, "failed") == 0 || strcmp(st->batch_state, "aborted") == 0 ||
	    strcmp(st->batch_state, "completed") == 0) &&
	    !(a->ended_batch == st->batch_id && strcmp(a->ended_state, st->batch_state) == 0)) {
		a->ended_batch = st->batch_id;
		snprintf(a->ended_state, sizeof(a->ended_state), "%s", st->batch_state);
		if (strcmp(st->batch_state, "completed") == 0) {
			snprintf(message, sizeof(message), "batch %lld completed: %d bilayers",
			    (long long)st->batch_id, known ? a->known_bilayers : st->bilayers);
			(void)alert_event(a, RIG_NOTIFY_COMPLETED, st->batch_id,
			    known ? a->known_recipe : st->recipe,
			    known ? a->known_version : st->version, message);
		} else {
			(void)alert_event(a, strcmp(st->batch_state, "failed") == 0 ?
			    RIG_NOTIFY_FAILED : RIG_NOTIFY_ABORTED, st->batch_id,
			    known ? a->known_recipe : st->recipe,
			    known ? a->known_version : st->version, st->message);
		}
	}
}

void
alert_estop(struct alert *a, const char *device, const struct run_status *st)
{
	char message[300];
	int in_batch = st->state != RUN_IDLE && st->batch_id > 0;

	text_format(message, sizeof(message), "e-stop '%s' engaged", device);
	(void)alert_event(a, RIG_NOTIFY_ESTOP, in_batch ? st->batch_id : 0,
	    in_batch ? st->recipe : NULL, in_batch ? st->version : NULL, message);
}

void
alert_free(struct alert *a)
{
	char what[80];
	int i;

	if (a == NULL)
		return;
	for (i = 0; i < ALERT_MAX_RUNNING; i++) {
		struct alert_slot *s = &a->slots[i];
		if (s->state == ALERT_RUNNING && !alert_reap(s))
			log_info("notify: %s: %s (pid %d) still runs as lbld exits: left to finish",
			    alert_what(s, what, sizeof(what)), s->command, (int)s->pid);
		else if (s->state == ALERT_QUEUED)
			log_warnx("notify: %s: not run: lbld is exiting",
			    alert_what(s, what, sizeof(what)));
		if (s->pidfd != -1) {
			loop_del_fd(a->loop, s->pidfd);
			close(s->pidfd);
		}
		loop_timer_free(s->timer);
	}
	loop_timer_free(a->spawn_timer);
	free(a);
}
