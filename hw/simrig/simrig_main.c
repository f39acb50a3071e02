/*
 * lbl-simrig: a simulated rig. Serves every bus of a rig file over real
 * Modbus (TCP on its host and port, RTU on its serial device, e.g. one end
 * of a socat pty pair) with devices that behave like the real ones, so the
 * daemon, the tests and make demo run without hardware.
 *
 *   lbl-simrig --rig RIG [--time-scale K] [--latency MS] [--fault DEV:KIND]...
 *              [--control PATH] [--growth NM] [--trace FILE] [--no-wire-time] [--verbose]
 *
 * Prints "ready BUS=tcp:HOST:PORT ..." on stdout once every bus is served.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "simrig.h"

#define SIMRIG_MAX_FAULTS 32

static void
simrig_usage(void)
{
	fprintf(stderr, "usage: lbl-simrig --rig RIG [--time-scale K] [--latency MS] "
	    "[--fault DEV:KIND]... [--control PATH] [--growth NM] [--trace FILE] [--no-wire-time] "
	    "[--verbose]\n"
	    "  MS: every Modbus answer that many milliseconds late, wall time (0 to %d; "
	    "default 0)\n"
	    "  KIND: silent, exception, stall, alarm, stuck, half, or trickle[:MS] (one byte "
	    "every MS, default %d)\n", SIMRIG_MAX_LATENCY_MS, SIMRIG_TRICKLE_MS);
	exit(2);
}

static void
simrig_on_signal(void *arg, int fd, uint32_t events)
{
	struct simrig *sim = arg;
	struct signalfd_siginfo info;

	(void)events;
	if (read(fd, &info, sizeof(info)) == (ssize_t)sizeof(info))
		log_info("signal %u: stopping", info.ssi_signo);
	loop_stop(sim->loop);
}

static int
simrig_load(struct simrig *sim, const char *path)
{
	struct diag d;
	char *text;
	int rc = 0;

	diag_init(&d, path);
	if (rig_load(path, &d, &sim->rig) == -1 ||
	    profile_set_load(sim->rig, &d, &sim->profiles) == -1)
		rc = -1;
	if ((text = diag_render(&d)) != NULL) {
		fputs(text, stderr);
		free(text);
	}
	diag_free(&d);
	return rc;
}

static int
simrig_apply_fault(struct simrig *sim, char *spec)
{
	char *colon = strchr(spec, ':'), err[200];

	if (colon == NULL) {
		log_warnx("--fault %s: expected DEVICE:KIND", spec);
		return -1;
	}
	*colon = '\0';
	if (simrig_set_fault(sim, spec, colon + 1, err, sizeof(err)) == -1) {
		log_warnx("--fault %s:%s: %s", spec, colon + 1, err);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "rig", required_argument, NULL, 'r' },
		{ "time-scale", required_argument, NULL, 't' },
		{ "latency", required_argument, NULL, 'l' },
		{ "fault", required_argument, NULL, 'f' },
		{ "control", required_argument, NULL, 'c' },
		{ "growth", required_argument, NULL, 'g' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "trace", required_argument, NULL, 'T' },
		{ "no-wire-time", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 }
	};
	struct simrig sim = { .time_scale = 1, .growth_nm = 3.9 };
	const char *rig_path = NULL, *control = NULL;
	char *faults[SIMRIG_MAX_FAULTS], listening[1024], *end;
	long latency;
	int nfaults = 0, ch, i, signal_fd, rc = 1;
	sigset_t mask;

	while ((ch = getopt_long(argc, argv, "r:t:l:f:c:g:vT:W", options, NULL)) != -1) {
		switch (ch) {
		case 'r': rig_path = optarg; break;
		case 't':
			sim.time_scale = strtod(optarg, &end);
			if (*end != '\0' || !(sim.time_scale >= 0.01 && sim.time_scale <= 10000))
				simrig_usage();
			break;
		case 'l':
			latency = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || latency < 0 ||
			    latency > SIMRIG_MAX_LATENCY_MS)
				simrig_usage();
			sim.latency_ms = (int)latency;
			break;
		case 'f':
			if (nfaults == SIMRIG_MAX_FAULTS)
				simrig_usage();
			faults[nfaults++] = optarg;
			break;
		case 'c': control = optarg; break;
		case 'W': sim.no_wire_time = 1; break;
		case 'g':
			sim.growth_nm = strtod(optarg, &end);
			if (*end != '\0' || !(sim.growth_nm >= 0 && sim.growth_nm < 1000))
				simrig_usage();
			break;
		case 'v': sim.verbose = 1; break;
		case 'T':
			if ((sim.trace = fopen(optarg, "w")) == NULL)
				fatal("--trace %s", optarg);
			/* line-buffered: a reader sees each command as it happens */
			setvbuf(sim.trace, NULL, _IOLBF, 0);
			break;
		default: simrig_usage();
		}
	}
	if (rig_path == NULL || optind != argc)
		simrig_usage();
	log_init("lbl-simrig", sim.verbose ? 7 : 6);
	if (simrig_load(&sim, rig_path) == -1)
		goto out;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	if ((signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
		fatal("signalfd");
	if ((sim.loop = loop_new()) == NULL)
		fatalx("cannot create the event loop");
	sim.start_ns = loop_now_ns();
	if (loop_add_fd(sim.loop, signal_fd, EPOLLIN, simrig_on_signal, &sim) == -1)
		goto stop;
	if (simrig_phys_init(&sim) == -1)
		goto stop;
	for (i = 0; i < nfaults; i++)
		if (simrig_apply_fault(&sim, faults[i]) == -1)
			goto stop;
	if (simrig_net_start(&sim, listening, sizeof(listening)) == -1)
		goto stop;
	if (control != NULL && simrig_ctl_start(&sim, control) == -1)
		goto stop;
	printf("ready rig=%s time-scale=%g%s\n", sim.rig->name, sim.time_scale, listening);
	fflush(stdout);
	rc = loop_run(sim.loop) == 0 ? 0 : 1;
stop:
	simrig_ctl_stop(&sim);
	simrig_net_stop(&sim);
	simrig_phys_free(&sim);
	loop_del_fd(sim.loop, signal_fd);
	close(signal_fd);
	loop_free(sim.loop);
out:
	profile_set_free(sim.profiles);
	rig_free(sim.rig);
	if (sim.trace != NULL)
		fclose(sim.trace);
	return rc;
}
