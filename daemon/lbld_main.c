/*
 * lbld: loads the rig, opens the database, probes the hardware, recovers
 * any batch a crash left behind, then serves the control socket from one
 * event loop. Runs in the foreground, as systemd expects.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include "db.h"
#include "gpio.h"
#include "hw.h"
#include "lbld.h"
#include "log.h"
#include "notify.h"
#include "profile.h"

static void
lbld_usage(void)
{
	fprintf(stderr, "usage: lbld [--rig RIG] [--db FILE] [--socket PATH] [--time-scale K] "
	    "[--gpio-sim DIR] [-d]\n");
	exit(2);
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

	run_act_done(l->run, ok, value, error);
}

static void
lbld_safety(void *arg, int device, int active)
{
	struct lbld *l = arg;

	run_safety_input(l->run, device, active);
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

struct lbld_probe {
	struct loop *loop;
	const struct rig *rig;
	size_t pending;
	int unreachable;
};

static void
lbld_probed(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct lbld_probe *probe = arg;

	if (!res->ok) {
		log_device_warnx(probe->rig->devices[req->device].name, "probe: %s", res->error);
		probe->unreachable++;
	} else if (res->alarm == 1) {
		log_device_warnx(probe->rig->devices[req->device].name,
		    "probe: device '%s' reports an alarm", probe->rig->devices[req->device].name);
	}
	if (--probe->pending == 0)
		loop_stop(probe->loop);
}

/*
 * Asks every device once before READY, so that systemd's "active" means
 * the rig answered, and a missing device is in the journal at start-up.
 * A device that does not answer is reported, not fatal: the technician
 * needs lbld running to commission the rig.
 */
static void
lbld_probe(struct lbld *l)
{
	struct lbld_probe probe = { l->loop, l->rig, 0, 0 };
	char err[256];
	size_t i;

	for (i = 0; i < l->rig->device_count; i++) {
		struct hw_request req = { (int)i, HW_PROBE, 0, 0, 0 };
		if (hw_submit(l->hw, &req, lbld_probed, &probe, err, sizeof(err)) == 0)
			probe.pending++;
	}
	if (probe.pending > 0 && loop_run(l->loop) == -1)
		fatalx("the event loop failed while probing the rig");
	if (probe.unreachable > 0)
		log_warnx("%d of %zu devices did not answer the probe", probe.unreachable,
		    l->rig->device_count);
	else
		log_info("rig %s: all %zu devices answered", l->rig->name, l->rig->device_count);
}

static void
lbld_signal(void *arg, int fd, uint32_t events)
{
	struct lbld *l = arg;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
		log_info("stopping on %s", strsignal((int)si.ssi_signo));
		notify_stopping();
		run_shutdown(l->run, si.ssi_signo == SIGTERM ? "lbld was stopped (SIGTERM)" :
		    "lbld was interrupted (SIGINT)");
		loop_stop(l->loop);
	}
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
	const char *db_path = "/var/lib/lbl/lbl.db", *socket_path = "/run/lbl/lbld.sock";
	const char *gpio_sim = NULL;
	struct run_context ctx;
	struct lbld l;
	char *rig_text, *end, err[256];
	size_t rig_len;
	sigset_t mask;
	int c, debug = 0, signal_fd, recovered = 0;

	memset(&l, 0, sizeof(l));
	l.rig_path = "/etc/lbl/rig.yaml";
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
		default: lbld_usage();
		}
	}
	if (optind != argc)
		lbld_usage();
	log_init("lbld", debug ? LOG_DEBUG : LOG_INFO);

	if ((l.rig = lbld_load_rig(l.rig_path, &rig_text, &rig_len)) == NULL)
		fatalx("the rig file %s is not valid; nothing was started", l.rig_path);
	if (db_open(db_path, &l.db) == -1)
		fatalx("cannot open the database %s", db_path);
	if (db_rig_store(l.db, l.rig->name, rig_text, rig_len, &l.rig_id) == -1)
		fatalx("cannot record the rig file in %s", db_path);
	free(rig_text);
	if (gpio_sim != NULL && gpio_use_simulation(gpio_sim) == -1)
		fatalx("cannot use simulated GPIO in %s", gpio_sim);

	/* signals arrive through the loop, never asynchronously */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	/* a full or size-limited disk is an error to report, not a reason to die */
	signal(SIGXFSZ, SIG_IGN);
	if ((signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
		fatal("signalfd");
	if ((l.loop = loop_new()) == NULL)
		fatalx("cannot create the event loop");
	if (hw_open(l.rig, l.loop, &l.hw, err, sizeof(err)) == -1)
		fatalx("hardware: %s", err);
	if ((l.act = act_open(l.loop, l.rig, l.hw, lbld_act_done, lbld_safety, &l)) == NULL)
		fatalx("cannot set up actuation");
	act_set_time_scale(l.act, l.time_scale);
	memset(&ctx, 0, sizeof(ctx));
	ctx.loop = l.loop;
	ctx.act = l.act;
	ctx.db = l.db;
	ctx.rig = l.rig;
	ctx.rig_id = l.rig_id;
	ctx.time_scale = l.time_scale;
	ctx.notify = lbld_notify;
	ctx.notify_arg = &l;
	if ((l.run = run_new(&ctx)) == NULL)
		fatalx("cannot set up the run executor");

	lbld_probe(&l);

	/* a batch a crash left running: record it interrupted, and make the rig safe */
	if (db_recover(l.db, lbld_recovered, &recovered) == -1)
		fatalx("crash recovery failed on %s", db_path);
	if (recovered > 0)
		act_safe_state(l.act, 1);

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

	if (loop_run(l.loop) == -1)
		log_warnx("the event loop failed");

	notify_close();
	loop_del_fd(l.loop, signal_fd);
	close(signal_fd);
	control_close(l.control);
	run_free(l.run);
	act_close(l.act);
	hw_close(l.hw);
	loop_free(l.loop);
	db_close(l.db);
	rig_free(l.rig);
	return 0;
}
