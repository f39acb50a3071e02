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

/*
 * The usage: on stdout for --help (exit 0), on stderr after a mistake
 * (exit 2; getopt or the caller has named it). Never returns.
 */
static __attribute__((noreturn)) void
simrig_usage(int status)
{
	FILE *out = status == 0 ? stdout : stderr;

	fprintf(out, "usage: lbl-simrig --rig RIG [--time-scale K] [--latency MS] "
	    "[--fault DEV:KIND]... [--control PATH] [--growth NM] [--trace FILE] [--no-wire-time] "
	    "[--verbose]\n");
	if (status != 0) {
		fprintf(out, "('lbl-simrig --help' for the options)\n");
		exit(status);
	}
	fprintf(out, "\nA simulated rig: the rig file's devices on Modbus TCP and RTU over "
	    "pseudo-terminals.\n\noptions:\n"
	    "  -r, --rig RIG          the rig file to simulate (required)\n"
	    "  -t, --time-scale K     recipe time K times faster, 0.01 to 10000\n"
	    "  -l, --latency MS       every Modbus answer MS milliseconds late, wall time (0 to "
	    "%d; default 0)\n"
	    "  -f, --fault DEV:KIND   a fault from the start: KIND silent, exception, stall, "
	    "alarm, stuck, half,\n"
	    "                         or trickle[:MS] (one byte every MS, default %d)\n"
	    "  -c, --control PATH     a control socket for faults while it runs\n"
	    "  -g, --growth NM        the film grown a bilayer, nm (default 3.9)\n"
	    "  -T, --trace FILE       every command received, a line each\n"
	    "  -W, --no-wire-time     RTU answers without the line's transmission time\n"
	    "  -v, --verbose          debug logging\n"
	    "  -V, --version          the version\n"
	    "  -h, --help             this help\n"
	    "\nSee lbl-simrig(1).\n", SIMRIG_MAX_LATENCY_MS, SIMRIG_TRICKLE_MS);
	exit(0);
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
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct simrig sim = { .time_scale = 1, .growth_nm = 3.9 };
	const char *rig_path = NULL, *control = NULL;
	char *faults[SIMRIG_MAX_FAULTS], listening[1024], *end;
	long latency;
	int nfaults = 0, ch, i, signal_fd, rc = 1;
	sigset_t mask;

	while ((ch = getopt_long(argc, argv, "r:t:l:f:c:g:vT:WVh", options, NULL)) != -1) {
		switch (ch) {
		case 'r': rig_path = optarg; break;
		case 't':
			sim.time_scale = strtod(optarg, &end);
			if (*end != '\0' || !(sim.time_scale >= 0.01 && sim.time_scale <= 10000)) {
				fprintf(stderr, "lbl-simrig: --time-scale: expected a number from 0.01 "
				    "to 10000, not '%s'\n", optarg);
				simrig_usage(2);
			}
			break;
		case 'l':
			latency = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || latency < 0 ||
			    latency > SIMRIG_MAX_LATENCY_MS) {
				fprintf(stderr, "lbl-simrig: --latency: expected milliseconds, 0 to %d, "
				    "not '%s'\n", SIMRIG_MAX_LATENCY_MS, optarg);
				simrig_usage(2);
			}
			sim.latency_ms = (int)latency;
			break;
		case 'f':
			if (nfaults == SIMRIG_MAX_FAULTS) {
				fprintf(stderr, "lbl-simrig: at most %d --fault options\n",
				    SIMRIG_MAX_FAULTS);
				simrig_usage(2);
			}
			faults[nfaults++] = optarg;
			break;
		case 'c': control = optarg; break;
		case 'W': sim.no_wire_time = 1; break;
		case 'g':
			sim.growth_nm = strtod(optarg, &end);
			if (*end != '\0' || !(sim.growth_nm >= 0 && sim.growth_nm < 1000)) {
				fprintf(stderr, "lbl-simrig: --growth: expected nm, 0 to less than 1000, "
				    "not '%s'\n", optarg);
				simrig_usage(2);
			}
			break;
		case 'v': sim.verbose = 1; break;
		case 'T':
			if ((sim.trace = fopen(optarg, "w")) == NULL)
				fatal("--trace %s", optarg);
			/* line-buffered: a reader sees each command as it happens */
			setvbuf(sim.trace, NULL, _IOLBF, 0);
			break;
		case 'V': printf("lbl-simrig %s\n", LBL_VERSION); return 0;
		case 'h': simrig_usage(0);
		default: simrig_usage(2);	/* getopt named the option */
		}
	}
	if (optind != argc) {
		fprintf(stderr, "lbl-simrig: unexpected '%s'\n", argv[optind]);
		simrig_usage(2);
	}
	if (rig_path == NULL) {
		fprintf(stderr, "lbl-simrig: --rig RIG is required\n");
		simrig_usage(2);
	}
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
