/*
 * lbld: loads the rig, opens the database, probes the hardware, recovers
 * any batch a crash left behind, then serves the control socket from one
 * event loop. Runs in the foreground, as systemd expects.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include "alert.h"
#include "calibrate.h"
#include "db.h"
#include "gpio.h"
#include "hw.h"
#include "lbl_limits.h"
#include "lbld.h"
#include "log.h"
#include "manual.h"
#include "notify.h"
#include "paths.h"
#include "pidlock.h"
#include "profile.h"
#include "record.h"
#include "rt.h"


/*
 * The usage: the whole of it on stdout for --help (exit 0), the synopsis
 * on stderr after a mistake getopt has named (exit 2). Never returns.
 */
static __attribute__((noreturn)) void
lbld_usage(int status)
{
	FILE *out = status == 0 ? stdout : stderr;

	fprintf(out, "usage: lbld [--rig RIG] [--db FILE] [--socket PATH] [--time-scale K] "
	    "[--gpio-sim DIR] [-d]\n");
	if (status != 0) {
		fprintf(out, "('lbld --help' for the options)\n");
		exit(status);
	}
	fprintf(out, "\nThe lbl daemon: runs coating batches on the rig, records them, answers "
	    "lblctl.\n\noptions:\n"
	    "  -r, --rig RIG          the rig file (default %s)\n"
	    "  -b, --db FILE          the batch record, SQLite (default %s)\n"
	    "  -s, --socket PATH      the control socket (default %s)\n"
	    "  -t, --time-scale K     run recipes K times faster, 1 to 10000 (simulated rigs)\n"
	    "  -g, --gpio-sim DIR     simulated GPIO chips in DIR (tests)\n"
	    "  -d                     debug logging\n"
	    "  -V, --version          the version\n"
	    "  -h, --help             this help\n"
	    "\nSee lbld(8).\n", LBL_RIG_PATH, LBL_DB_PATH, LBL_SOCKET_PATH);
	exit(0);
}

/* Loads and checks the rig file; every problem is logged as FILE:LINE:COL. */
static struct rig *
lbld_load_rig(const char *path, char **text, size_t *len)
{
	struct diag d;
	struct rig *rig = NULL;
	char *rendered;

	diag_init(&d, path);
	*text = conf_read_file(path, CONF_MAX_FILE_BYTES, len, &d);
	if (*text != NULL && rig_load_buffer(path, *text, *len, &d, &rig) == 0 &&
	    profile_check_rig(rig, &d) == -1) {
		rig_free(rig);
		rig = NULL;
	}
	rendered = diag_render(&d);
	if (rendered != NULL && *rendered)
		fprintf(stderr, "%s", rendered);
	free(rendered);
	diag_free(&d);
	return rig;
}

static void
lbld_act_done(void *arg, int ok, double value, const char *error)
{
	struct lbld *l = arg;
	struct run_status st;

	/* a manual move's end is manual's, unless a safe state of the run took over */
	if (l->manual != NULL && manual_act_pending(l->manual)) {
		run_status(l->run, &st);
		if (st.state != RUN_SAFE) {
			manual_act_done(l->manual, ok, value, error);
			return;
		}
		manual_abort(l->manual, "the rig went to its safe state");
	}
	run_act_done(l->run, ok, value, error);
}

static void
lbld_record_fault(void *arg, const char *why)
{
	struct lbld *l = arg;

	run_record_fault(l->run, why);
}

/*
 * A device's own communication-loss timeout could not be armed or fed: it
 * would not stop by itself if lbld died. An event on the batch, not a
 * fault: the device may still answer lbld's commands.
 */
static void
lbld_keep_alive_failed(void *arg, int device, const char *error)
{
	struct lbld *l = arg;
	char message[400];

	snprintf(message, sizeof(message), "communication-loss timeout not armed or fed: %s",
	    error);
	log_device_warnx(l->rig->devices[device].name, "%s", message);
	if (record_event(l->record, run_batch_id(l->run), "fault", l->rig->devices[device].name,
	    message) == -1)
		log_warnx("the event was not recorded");
}

/* Supervision found a device lost, alarmed or stopped: the batch hears it. */
static void
lbld_supervision_fault(void *arg, int device, const char *error)
{
	struct lbld *l = arg;

	run_device_fault(l->run, device, error);
}

static void
lbld_safety(void *arg, int device, int active)
{
	struct lbld *l = arg;

	/* the safe state stops a homing drive mid-search: that is not homed */
	if (active && l->home != NULL && home_busy(l->home)) {
		char why[200];
		const char *kind = l->rig->devices[device].kind;

		snprintf(why, sizeof(why), "%s '%s' engaged", strcmp(kind, "estop") == 0 ?
		    "e-stop" : kind, l->rig->devices[device].name);
		home_abort(l->home, why);
	}
	/* the safe state stops manual motion and switches manual outputs off */
	if (active && l->manual != NULL) {
		char why[200];

		snprintf(why, sizeof(why), "%s '%s' engaged", strcmp(l->rig->devices[device].kind,
		    "estop") == 0 ? "e-stop" : l->rig->devices[device].kind,
		    l->rig->devices[device].name);
		manual_abort(l->manual, why);
	}
	/*
	 * act has sent the safe state already; the notification is only queued
	 * here (spawned on the loop's next round), while the status still names
	 * the batch the e-stop hit.
	 */
	if (active && strcmp(l->rig->devices[device].kind, "estop") == 0) {
		struct run_status st;

		run_status(l->run, &st);
		alert_estop(l->alert, l->rig->devices[device].name, &st);
	}
	run_safety_input(l->run, device, active);
}

/* The run's status changed: notify commands hear of events, then clients and systemd. */
static void
lbld_status_changed(void *arg, const struct run_status *st)
{
	struct lbld *l = arg;

	if (l->alert != NULL)
		alert_status(l->alert, st);
	lbld_notify(arg, st);
}

static void
lbld_recovered(void *arg, int64_t batch_id, const char *was_state, int last_step_seq)
{
	int *count = arg;

	log_warnx("batch %lld was %s when lbld stopped: marked interrupted after step %d "
	    "(lblctl resume-batch %lld continues it if its recipe allows)", (long long)batch_id,
	    was_state, last_step_seq, (long long)batch_id);
	(*count)++;
}

static void
lbld_probed(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct lbld *l = arg;
	const char *name = l->rig->devices[req->device].name;

	if (!res->ok) {
		log_device_warnx(name, "probe: %s", res->error);
		l->probe_unreachable++;
	} else {
		if (res->alarm == 1)
			log_device_warnx(name, "probe: device '%s' reports an alarm", name);
		/* where the lift is decides whether a batch may start */
		act_note_position(l->act, req->device, res->position_mm);
		/* so does whether an axis that homes is homed (its flag) */
		home_note_status(l->home, req->device, res);
	}
	if (--l->probe_pending > 0)
		return;
	if (l->probe_unreachable > 0)
		log_warnx("%d of %zu devices did not answer the probe", l->probe_unreachable,
		    l->rig->device_count);
	else
		log_info("rig %s: all %zu devices answered", l->rig->name, l->rig->device_count);
	if (l->probe_startup)
		loop_stop(l->loop);
}

/*
 * Asks every device once: at start-up before READY, so that systemd's
 * "active" means the rig answered and a missing device is in the journal;
 * after a reload, in the background. A device that does not answer is
 * reported, not fatal: the technician needs lbld running to commission the
 * rig. Returns how many probes went out.
 */
static size_t
lbld_probe(struct lbld *l, int startup)
{
	char err[256];
	size_t i;

	l->probe_pending = 0;
	l->probe_unreachable = 0;
	l->probe_startup = startup;
	for (i = 0; i < l->rig->device_count; i++) {
		struct hw_request req = { (int)i, HW_PROBE, 0, 0, 0 };
		if (hw_submit(l->hw, &req, lbld_probed, l, err, sizeof(err)) == 0)
			l->probe_pending++;
		else
			log_device_warnx(l->rig->devices[i].name, "probe: %s", err);
	}
	return l->probe_pending;
}

/*
 * The axes whose rig file says 'home: startup' are homed now, in the
 * background (the lift first); a failure is logged and leaves them unhomed,
 * so no batch starts until 'lblctl home' homes them. Nothing is sent while
 * the substrate is being parked after an interrupted batch, or while a
 * safety input is active: the operator homes them afterwards.
 */
static void
lbld_home_at_startup(struct lbld *l)
{
	const char **names;
	char err[300];
	size_t i, n = 0;

	if ((names = calloc(l->rig->device_count + 1, sizeof(*names))) == NULL) {
		log_warnx("homing at start-up: out of memory; home with 'lblctl home'");
		return;
	}
	for (i = 0; i < l->rig->device_count; i++)
		if (l->rig->devices[i].home == RIG_HOME_STARTUP &&
		    home_homed(l->home, (int)i) == 0)
			names[n++] = l->rig->devices[i].name;
	if (n > 0 && run_busy(l->run))
		log_warnx("homing at start-up: not while the substrate is parked; home with "
		    "'lblctl home' afterwards");
	else if (n > 0 && home_start(l->home, l->act, names, n, lbld_homed, l, err,
	    sizeof(err)) == -1)
		log_warnx("homing at start-up: %s; home with 'lblctl home'", err);
	free(names);
}

/*
 * The stop's last word: the rig is safe (or the deadline passed, which
 * lbld_stop_late says). The loop ends and main closes everything.
 */
static void
lbld_stopped(void *arg, int ok, const char *error)
{
	struct lbld *l = arg;
	char where[400];

	act_substrate_text(l->act, where, sizeof(where));
	if (ok)
		log_info("the rig is safe: every output confirmed off; substrate %s", where);
	else
		log_warnx("stopping with the rig NOT confirmed safe: %s; substrate %s "
		    "(lbl-safe, run after lbld by systemd, tries again)", error ? error : "?",
		    where);
	loop_timer_cancel(l->stop_timer);
	loop_stop(l->loop);
}

static void
lbld_stop_late(void *arg)
{
	struct lbld *l = arg;
	char where[400];

	act_substrate_text(l->act, where, sizeof(where));
	log_warnx("stop: the rig did not confirm its safe state within %d s (outputs %s; "
	    "substrate %s); exiting anyway, lbl-safe runs next", LBLD_STOP_BUDGET_MS / 1000,
	    act_safe_confirmed(l->act) == 1 ? "confirmed off" : "NOT confirmed off", where);
	loop_stop(l->loop);
}

/* A stop signal: the rig is made safe, then the loop ends (lbld_stopped). */
static void
lbld_stop(struct lbld *l, const char *cause)
{
	if (l->stopping) {
		log_info("already stopping (the rig is being made safe; at most %d s)",
		    LBLD_STOP_BUDGET_MS / 1000);
		return;
	}
	l->stopping = 1;
	log_info("stopping: %s; making the rig safe first", cause);
	/*
	 * The safe state stops a homing drive mid-search: the homing ends now,
	 * so that whoever asked for it ('lblctl home') is told why.
	 */
	if (l->home != NULL && home_busy(l->home))
		home_abort(l->home, cause);
	notify_stopping();
	loop_timer_at(l->stop_timer, loop_now_ns() + (int64_t)LBLD_STOP_BUDGET_MS * 1000000);
	/* the stop's safe state switches manual outputs off and stops manual motion too */
	manual_abort(l->manual, "lbld is stopping");
	run_shutdown(l->run, cause, lbld_stopped, l);
}

/*
 * SIGHUP (systemctl reload lbld) and 'lblctl reload': re-reads the rig file
 * when no batch runs. A rig file with errors changes nothing; a rig whose
 * hardware cannot be opened is given up for the one that was running.
 * Returns 0 when the new rig runs; -1 with why in err (also logged).
 */
int
lbld_reload(struct lbld *l, char *err_out, size_t err_size)
{
	struct rig *rig;
	char *text, err[256];
	size_t len;
	int64_t rig_id;
	int ok = 1;

	if (l->stopping) {
		snprintf(err_out, err_size, "lbld is stopping");
		return -1;
	}
	if (calibrate_busy()) {
		snprintf(err_out, err_size, "a pump is being calibrated ('lblctl calibrate'); "
		    "reload once it is off");
		log_warnx("reload refused: %s", err_out);
		return -1;
	}
	if (run_busy(l->run)) {
		snprintf(err_out, err_size, "a batch is running or the rig is going to its safe "
		    "state; the rig file is re-read when lbld is idle (systemctl reload lbld)");
		log_warnx("reload refused: %s", err_out);
		return -1;
	}
	if (manual_busy(l->manual, err, sizeof(err))) {
		snprintf(err_out, err_size, "%s; reload once it is over", err);
		log_warnx("reload refused: %s", err_out);
		return -1;
	}
	if ((rig = lbld_load_rig(l->rig_path, &text, &len)) == NULL) {
		snprintf(err_out, err_size, "the rig file %s is not valid; still running rig %s "
		    "as loaded ('lblctl check-rig %s' says why)", l->rig_path, l->rig->name,
		    l->rig_path);
		log_warnx("reload: %s", err_out);
		return -1;
	}
	if (db_rig_store(l->db, rig->name, text, len, &rig_id) == -1) {
		snprintf(err_out, err_size, "the database could not record rig file %s; nothing "
		    "changed", l->rig_path);
		log_warnx("reload: %s", err_out);
		free(text);
		rig_free(rig);
		return -1;
	}
	free(text);
	act_close(l->act);
	hw_close(l->hw);
	l->probe_pending = 0;
	if (hw_open(rig, l->loop, &l->hw, err, sizeof(err)) == -1) {
		snprintf(err_out, err_size, "hardware of %s: %s; going back to rig %s",
		    l->rig_path, err, l->rig->name);
		log_warnx("reload: %s", err_out);
		ok = 0;
		rig_free(rig);
		if (hw_open(l->rig, l->loop, &l->hw, err, sizeof(err)) == -1)
			fatalx("reload: hardware: %s", err);
	} else {
		rig_free(l->rig);
		l->rig = rig;
		l->rig_id = rig_id;
		alert_set_rig(l->alert, l->rig);
	}
	if ((l->act = act_open(l->loop, l->rig, l->hw, lbld_act_done, lbld_safety, l)) == NULL)
		fatalx("reload: cannot set up actuation");
	act_set_time_scale(l->act, l->time_scale);
	hw_set_watchdog_cb(l->hw, lbld_keep_alive_failed, l);
	hw_set_supervise_cb(l->hw, lbld_supervision_fault, l);
	run_set_rig(l->run, l->rig, l->rig_id, l->act);
	home_set_rig(l->home, l->rig, l->hw);
	if (manual_set_rig(l->manual) == -1)
		fatalx("reload: manual control: out of memory");
	log_info("reloaded: rig %s (%zu devices) from %s", l->rig->name, l->rig->device_count,
	    l->rig_path);
	lbld_probe(l, 0);
	return ok ? 0 : -1;
}

/*
 * Every signal that would end or stop lbld arrives here, through the loop:
 * the stop signals make the rig safe before lbld exits, SIGHUP reloads the
 * rig file, and the rest are logged and ignored (a stray kill -USR1 must
 * not leave pumps running).
 */
static const int lbld_stop_signals[] = { SIGTERM, SIGINT, SIGQUIT, SIGPWR, SIGXCPU };
static const int lbld_ignored_signals[] = { SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF,
	SIGIO, SIGSTKFLT, SIGTSTP, SIGTTIN, SIGTTOU };

static void
lbld_signal(void *arg, int fd, uint32_t events)
{
	struct lbld *l = arg;
	struct signalfd_siginfo si;
	char cause[160];
	size_t i;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	for (i = 0; i < sizeof(lbld_stop_signals) / sizeof(lbld_stop_signals[0]); i++) {
		if ((int)si.ssi_signo != lbld_stop_signals[i])
			continue;
		snprintf(cause, sizeof(cause), "lbld was stopped (%s, SIG%s from pid %u)",
		    strsignal((int)si.ssi_signo), sigabbrev_np((int)si.ssi_signo), si.ssi_pid);
		lbld_stop(l, cause);
		return;
	}
	if (si.ssi_signo == SIGHUP) {
		log_info("SIGHUP from pid %u: reloading the rig file %s", si.ssi_pid, l->rig_path);
		/* a refusal is logged there: a signal has nobody to answer */
		(void)lbld_reload(l, cause, sizeof(cause));
		return;
	}
	log_info("ignoring %s (signal %u from pid %u): only SIGTERM or SIGINT stop lbld, "
	    "SIGHUP reloads the rig", strsignal((int)si.ssi_signo), si.ssi_signo, si.ssi_pid);
}

static int
lbld_signal_fd(void)
{
	sigset_t mask;
	size_t i;
	int sig, fd;

	sigemptyset(&mask);
	for (i = 0; i < sizeof(lbld_stop_signals) / sizeof(lbld_stop_signals[0]); i++)
		sigaddset(&mask, lbld_stop_signals[i]);
	for (i = 0; i < sizeof(lbld_ignored_signals) / sizeof(lbld_ignored_signals[0]); i++)
		sigaddset(&mask, lbld_ignored_signals[i]);
	sigaddset(&mask, SIGHUP);
	for (sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaddset(&mask, sig);
	/* blocked before any thread starts, so every bus worker inherits the mask */
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	if ((fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
		fatal("signalfd");
	return fd;
}

/*
 * One lbld per database, so one per rig: an exclusive lock on the
 * database's lock file (pidlock_db_take in pidlock.h), probed before
 * anything is opened or changed, then taken and held until exit. A second
 * lbld says who holds it and changes nothing.
 */
static void
lbld_already_running(const char *db_path, const char *pid)
{
	fprintf(stderr, "lbld: already running (pid %s) on %s\n", pid, db_path);
	exit(1);
}

/* Before anything is created: exits if another lbld holds the lock. */
static void
lbld_lock_check(const char *db_path)
{
	char pid[32], err[4200];

	switch (pidlock_db_probe(db_path, pid, sizeof(pid), err, sizeof(err))) {
	case 1:
		lbld_already_running(db_path, pid);
		break;
	case -1:
		fatalx("%s", err);
	}
}

static int
lbld_lock(const char *db_path)
{
	char pid[32], err[4200];
	int fd;

	fd = pidlock_db_take(db_path, pid, sizeof(pid), err, sizeof(err));
	if (fd == -2)
		lbld_already_running(db_path, pid);
	if (fd == -1)
		fatalx("%s", err);
	if (err[0] != '\0')
		log_warnx("%s", err);
	return fd;
}

/* The last batch, if it was interrupted: status names it until it is continued or closed. */
static int
lbld_last_batch(void *arg, const struct db_batch *row)
{
	struct lbld *l = arg;

	if (strcmp(row->state, "interrupted") == 0)
		run_note_interrupted(l->run, row->id, row->failure_cause, row->last_step_seq);
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "rig", required_argument, NULL, 'r' },
		{ "db", required_argument, NULL, 'b' },
		{ "socket", required_argument, NULL, 's' },
		{ "time-scale", required_argument, NULL, 't' },
		{ "gpio-sim", required_argument, NULL, 'g' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *db_path = LBL_DB_PATH, *socket_path = LBL_SOCKET_PATH;
	const char *gpio_sim = NULL;
	struct db_history_filter last = { .limit = 1 };
	struct run_context ctx;
	struct lbld l;
	char *rig_text, *end, err[300];
	size_t rig_len;
	int c, debug = 0, signal_fd, lock_fd, recovered = 0;

	memset(&l, 0, sizeof(l));
	l.rig_path = LBL_RIG_PATH;
	l.time_scale = 1;
	while ((c = getopt_long(argc, argv, "dr:b:s:t:g:Vh", options, NULL)) != -1) {
		switch (c) {
		case 'd': debug = 1; break;
		case 'r': l.rig_path = optarg; break;
		case 'b': db_path = optarg; break;
		case 's': socket_path = optarg; break;
		case 'g': gpio_sim = optarg; break;
		case 't':
			l.time_scale = strtod(optarg, &end);
			if (*end != '\0' || !(l.time_scale >= 1 && l.time_scale <= 10000))
				fatalx("--time-scale: expected a number from 1 to 10000");
			break;
		case 'V': printf("lbld %s\n", LBL_VERSION); return 0;
		case 'h': lbld_usage(0);
		default: lbld_usage(2);		/* getopt named the option */
		}
	}
	if (optind != argc) {
		fprintf(stderr, "lbld: unexpected '%s'\n", argv[optind]);
		lbld_usage(2);
	}
	log_init("lbld", debug ? LOG_DEBUG : LOG_INFO);

	/* Nothing is changed before the rig file is good and no other lbld owns the rig. */
	if ((l.rig = lbld_load_rig(l.rig_path, &rig_text, &rig_len)) == NULL)
		fatalx("the rig file %s is not valid; nothing was started", l.rig_path);
	if (strcmp(socket_path, db_path) == 0)
		fatalx("--socket and --db are both %s: refusing to put the socket over the "
		    "database", db_path);
	lbld_lock_check(db_path);
	if (control_claim_path(socket_path, 0, err, sizeof(err)) == -1)
		fatalx("control socket: %s; nothing was started", err);
	lock_fd = lbld_lock(db_path);

	if (db_open(db_path, &l.db) == -1)
		fatalx("cannot open the database %s", db_path);
	if (db_rig_store(l.db, l.rig->name, rig_text, rig_len, &l.rig_id) == -1)
		fatalx("cannot record the rig file in %s", db_path);
	free(rig_text);
	if (gpio_sim != NULL && gpio_use_simulation(gpio_sim) == -1)
		fatalx("cannot use simulated GPIO in %s", gpio_sim);

	/* timer slack, real-time policy and locked memory, before any thread starts */
	rt_setup();
	/* signals arrive through the loop, never asynchronously */
	signal_fd = lbld_signal_fd();
	signal(SIGPIPE, SIG_IGN);
	/* a full or size-limited disk is an error to report, not a reason to die */
	signal(SIGXFSZ, SIG_IGN);
	if ((l.loop = loop_new()) == NULL)
		fatalx("cannot create the event loop");
	if ((l.stop_timer = loop_timer_new(l.loop, lbld_stop_late, &l)) == NULL)
		fatalx("cannot create the stop timer");
	if ((l.alert = alert_new(l.loop, l.rig)) == NULL)
		fatalx("cannot set up notifications");
	if (hw_open(l.rig, l.loop, &l.hw, err, sizeof(err)) == -1)
		fatalx("hardware: %s", err);
	if ((l.act = act_open(l.loop, l.rig, l.hw, lbld_act_done, lbld_safety, &l)) == NULL)
		fatalx("cannot set up actuation");
	act_set_time_scale(l.act, l.time_scale);
	hw_set_watchdog_cb(l.hw, lbld_keep_alive_failed, &l);
	if ((l.home = home_new(l.loop, l.rig, l.hw)) == NULL)
		fatalx("cannot set up homing");
	home_set_time_scale(l.home, l.time_scale);
	if ((l.manual = manual_new(&l)) == NULL)
		fatalx("cannot set up manual control");
	hw_set_supervise_cb(l.hw, lbld_supervision_fault, &l);
	/*
	 * From here on the loop never waits on the database's lock: another
	 * process's transaction makes a write fail at once, and the batch
	 * record holds it in memory and retries (record.h).
	 */
	if ((l.record = record_new(l.db, l.loop, lbld_record_fault, &l)) == NULL)
		fatalx("cannot set up the batch record");
	/*
	 * Nor on the disk: every commit from here on (the probe's events
	 * included: its loop runs below) is in the log at once and synced by
	 * a thread beside the loop (db_no_wait), watched by the record. Else
	 * an operator's event or a recipe added while the disk hangs would
	 * hold up the loop, and its reaction to an e-stop, as long as the disk
	 * does. Without the thread, commits wait as before.
	 */
	if (db_no_wait(l.db) == -1)
		log_warnx("database %s: every commit waits for the disk in the event loop",
		    db_path);
	/* each event committed is told to who follows status --events */
	if (db_on_event(l.db, lbld_event_told, &l) == -1)
		fatalx("cannot read the record's events: %s", db_error(l.db));
	memset(&ctx, 0, sizeof(ctx));
	ctx.record = l.record;
	ctx.loop = l.loop;
	ctx.act = l.act;
	ctx.db = l.db;
	ctx.rig = l.rig;
	ctx.rig_id = l.rig_id;
	ctx.time_scale = l.time_scale;
	ctx.notify = lbld_status_changed;
	ctx.notify_arg = &l;
	if ((l.run = run_new(&ctx)) == NULL)
		fatalx("cannot set up the run executor");

	if (lbld_probe(&l, 1) > 0 && loop_run(l.loop) == -1)
		fatalx("the event loop failed while probing the rig");

	/* a batch a crash left running: record it interrupted */
	if (db_recover(l.db, lbld_recovered, &recovered) == -1)
		fatalx("crash recovery failed on %s", db_path);
	if (db_history(l.db, &last, lbld_last_batch, &l) == -1)
		fatalx("cannot read the last batch from %s", db_path);
	/*
	 * Whatever the last lbld left: outputs off, confirmed. After an
	 * interrupted batch with the substrate not at the safe height, it is
	 * withdrawn and parked too (unless an e-stop or interlock holds it).
	 */
	if ((recovered > 0 || run_has_interrupted(l.run)) &&
	    act_lift_state(l.act, NULL) != ACT_LIFT_WITHDRAWN &&
	    run_park(l.run, "lbld at start-up (the last batch was interrupted)", err,
	    sizeof(err)) == 0)
		log_info("the last batch was interrupted with the substrate not at the safe "
		    "height: withdrawing and parking it");
	else
		act_safe_state(l.act, 0);
	lbld_home_at_startup(&l);

	if (db_set_busy_timeout(l.db, 0) == -1)
		fatalx("cannot set up the database %s", db_path);
	/* after the signal mask is set: the reader thread inherits it */
	if ((l.reader = reader_open(l.loop, db_path, history_run, NULL,
	    READER_STALL_MS)) == NULL)
		fatalx("cannot start the reader of the batch record");
	if ((l.control = control_open(l.loop, socket_path, lbld_request, &l)) == NULL)
		fatalx("cannot listen on %s", socket_path);
	if (loop_add_fd(l.loop, signal_fd, EPOLLIN, lbld_signal, &l) == -1)
		fatalx("cannot watch signals");
	if (notify_init(l.loop) == -1)
		log_warnx("the systemd watchdog is not fed");
	log_info("ready: rig %s, database %s, socket %s%s", l.rig->name, db_path, socket_path,
	    l.time_scale != 1 ? " (time scaled)" : "");
	notify_ready();
	malloc_trim(0);		/* what parsing the rig and probing it freed (about 80 kB) */

	if (loop_run(l.loop) == -1) {
		/* no loop, no callbacks: the stops go out unconfirmed, lbl-safe follows */
		log_warnx("the event loop failed: stopping with the rig not confirmed safe");
		act_safe_state(l.act, 0);
	}

	notify_close();
	loop_del_fd(l.loop, signal_fd);
	close(signal_fd);
	/* before the socket closes, so waiting readers hear that lbld is stopping */
	reader_close(l.reader);
	/* what is still written (held records) is told to nobody: the socket goes */
	db_on_event(l.db, NULL, NULL);
	control_close(l.control);
	l.control = NULL;
	run_free(l.run);
	home_free(l.home);
	manual_free(l.manual);
	free(l.home_run);
	free(l.bridge_status);
	record_free(l.record);
	act_close(l.act);
	hw_close(l.hw);
	loop_timer_free(l.stop_timer);
	alert_free(l.alert);
	loop_free(l.loop);
	db_close(l.db);
	rig_free(l.rig);
	close(lock_fd);
	return 0;
}
