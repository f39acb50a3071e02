/*
 * lbl-safe: puts the rig in its safe state and says whether it got there.
 *
 *   lbl-safe --rig FILE [--gpio-sim DIR] [--db FILE] [--timeout SECONDS]
 *            [--force] [-v]
 *
 * systemd runs it after every stop of lbld (ExecStopPost=), however lbld
 * ended: a clean stop, a crash, kill -9, the OOM killer. A dead lbld has
 * put nothing in safe state, so a pump it started may still run and a
 * valve may still be open; this is the net under it. It is also run by
 * hand.
 *
 * It reads and checks the rig file as lbld does, opens the hardware for the
 * safe state alone (GPIO outputs requested in their off state, no inputs),
 * sends every stop and off command at once (hw_safe_state()), and then
 * confirms each device: the command acknowledged and, where the profile
 * reports it, a read showing the pump or line not running, the valve off,
 * the axis not busy. A device that fails or is not confirmed gets its
 * command again every SAFE_RETRY_MS until the timeout. It never moves an
 * axis: axes get their stop command and status reads, nothing else.
 *
 * Exit status: 0 every device confirmed safe; 1 a device not confirmed
 * within the timeout (one line each on stderr, naming device, bus, unit,
 * register and why), or lbld holds its lock; 2 usage or rig file errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <syslog.h>
#include <unistd.h>

#include "gpio.h"
#include "hw.h"
#include "log.h"
#include "loop.h"
#include "paths.h"
#include "pidlock.h"
#include "profile.h"
#include "rig.h"

#define SAFE_DEFAULT_TIMEOUT_S	10.0
#define SAFE_RETRY_MS		200

struct safe_dev {
	int needed;		/* the safe state commands it (axis, pump, line, valve) */
	int confirmed;
	int in_flight;		/* a request of ours is out */
	int64_t retry_ns;	/* its command goes again at this time (0: not waiting) */
	int attempts;		/* commands sent */
	char error[256];	/* the last reason it is not confirmed, "" if none */
};

struct safe {
	struct loop *loop;
	const struct rig *rig;
	struct profile_set *profiles;
	struct hw *hw;
	struct safe_dev *devs;
	int pending;		/* needed and not yet confirmed */
	struct loop_timer *retry_timer, *deadline_timer;
};

static void safe_send(struct safe *s, int device);

/*
 * The usage: on stdout for --help (exit 0), on stderr after a mistake
 * (exit 2; getopt or the caller has named it). Never returns.
 */
static __attribute__((noreturn)) void
safe_usage(int status)
{
	FILE *out = status == 0 ? stdout : stderr;

	fprintf(out, "usage: lbl-safe --rig FILE [--gpio-sim DIR] [--db FILE] "
	    "[--timeout SECONDS] [--force] [-v]\n");
	if (status != 0) {
		fprintf(out, "('lbl-safe --help' for the options)\n");
		exit(status);
	}
	fprintf(out, "\nPuts every output of the rig in its safe state, without lbld, and "
	    "confirms it.\n\noptions:\n"
	    "  -r, --rig FILE         the rig file (required)\n"
	    "  -g, --gpio-sim DIR     simulated GPIO chips in DIR (tests)\n"
	    "  -d, --db FILE          the batch record, to note what was done (default %s)\n"
	    "  -t, --timeout SECONDS  how long each device may take, 0.1 to 3600\n"
	    "  -f, --force            even while lbld holds its lock\n"
	    "  -v, --verbose          debug logging\n"
	    "  -V, --version          the version\n"
	    "  -h, --help             this help\n"
	    "\nSee lbl-safe(1).\n", LBL_DB_PATH);
	exit(0);
}

/* "device 'pump-ag' (bus drives, unit 2)" or "device 'n2' (GPIO chip/line)". */
static const char *
safe_where(const struct safe *s, int device, char *buf, size_t size)
{
	const struct rig_device *dev = &s->rig->devices[device];

	if (dev->bus >= 0)
		snprintf(buf, size, "device '%s' (bus %s, unit %d)", dev->name,
		    s->rig->buses[dev->bus].name, dev->unit);
	else
		snprintf(buf, size, "device '%s' (GPIO %s/%s)", dev->name, dev->gpio.chip,
		    dev->gpio.line);
	return buf;
}

/* The operation that makes a device safe: stop, or off for a valve. */
static enum profile_op
safe_op(const struct rig_device *dev)
{
	return dev->role == RIG_VALVE ? PROFILE_OFF : PROFILE_STOP;
}

/*
 * "write holding 0x0002 (stop)", or just "set (off)" where the profile has no
 * such object (a GPIO line has no profile).
 */
static const char *
safe_register(const struct safe *s, int device, enum profile_op op, int writing, char *buf,
    size_t size)
{
	const struct profile *p = profile_of(s->profiles, device);

	if (p == NULL || !p->ops[op].defined)
		snprintf(buf, size, "%s (%s)", writing ? "set" : "read", profile_op_names[op]);
	else
		snprintf(buf, size, "%s %s 0x%04x (%s)", writing ? "write" : "read",
		    profile_table_names[p->ops[op].table], p->ops[op].address,
		    profile_op_names[op]);
	return buf;
}

/*
 * Keeps why a device is not confirmed. The hardware layer's errors about a
 * transaction or a GPIO line begin with the device and its bus and unit or
 * chip and line, and name the register; the others (a bus that is down, a
 * connection refused) get those in front.
 */
static void
safe_error(struct safe *s, int device, const char *error)
{
	struct safe_dev *d = &s->devs[device];
	const struct rig_device *dev = &s->rig->devices[device];
	char where[200], reg[80], prefix[200];

	/* a retry refused by the bus's back-off says less than the failure before it */
	if (d->error[0] != '\0' && strstr(error, "next connection attempt in") != NULL)
		return;
	safe_where(s, device, where, sizeof(where));
	if (strncmp(error, where, strlen(where)) == 0) {
		snprintf(d->error, sizeof(d->error), "%s", error);
		return;
	}
	snprintf(prefix, sizeof(prefix), "device '%s': ", dev->name);
	if (strncmp(error, prefix, strlen(prefix)) == 0)
		error += strlen(prefix);
	snprintf(d->error, sizeof(d->error), "%s: %s: %s", where,
	    safe_register(s, device, safe_op(dev), 1, reg, sizeof(reg)), error);
}

static void
safe_confirmed(struct safe *s, int device, const char *how)
{
	struct safe_dev *d = &s->devs[device];
	char where[200];

	if (d->confirmed)
		return;
	d->confirmed = 1;
	d->retry_ns = 0;
	d->error[0] = '\0';
	log_debug("%s: safe (%s)", safe_where(s, device, where, sizeof(where)), how);
	if (--s->pending == 0)
		loop_stop(s->loop);
}

static void
safe_retry_arm(struct safe *s)
{
	int64_t next = INT64_MAX;
	size_t i;

	for (i = 0; i < s->rig->device_count; i++)
		if (s->devs[i].retry_ns != 0 && s->devs[i].retry_ns < next)
			next = s->devs[i].retry_ns;
	if (next == INT64_MAX)
		loop_timer_cancel(s->retry_timer);
	else if (loop_timer_at(s->retry_timer, next) == -1)
		log_warnx("cannot arm the retry timer; devices not confirmed yet get no second "
		    "command");
}

static void
safe_retry_later(struct safe *s, int device)
{
	s->devs[device].retry_ns = loop_now_ns() + (int64_t)SAFE_RETRY_MS * 1000000;
	safe_retry_arm(s);
}

static void
safe_on_retry(void *arg)
{
	struct safe *s = arg;
	int64_t now = loop_now_ns();
	size_t i;

	for (i = 0; i < s->rig->device_count; i++) {
		struct safe_dev *d = &s->devs[i];

		if (d->retry_ns == 0 || d->retry_ns > now || d->in_flight || d->confirmed)
			continue;
		d->retry_ns = 0;
		safe_send(s, (int)i);
	}
	safe_retry_arm(s);
}

/* The timeout: whatever is not confirmed by now is reported as such. */
static void
safe_on_deadline(void *arg)
{
	struct safe *s = arg;

	loop_stop(s->loop);
}

/* A status read after the command was acknowledged: is the device off? */
static void
safe_on_read(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct safe *s = arg;
	const struct rig_device *dev = &s->rig->devices[req->device];
	enum profile_op flag;
	char where[200], reg[80];
	int on;

	s->devs[req->device].in_flight = 0;
	if (s->devs[req->device].confirmed)
		return;
	if (!res->ok) {
		safe_error(s, req->device, res->error);
		safe_retry_later(s, req->device);
		return;
	}
	switch (dev->role) {
	case RIG_AXIS: flag = PROFILE_BUSY; on = res->busy == 1; break;
	case RIG_VALVE: flag = PROFILE_STATE; on = res->value != 0; break;
	default: flag = PROFILE_RUNNING; on = res->running == 1; break;
	}
	if (!on) {
		char how[80];

		snprintf(how, sizeof(how), "%s acknowledged, %s reads 0",
		    profile_op_names[safe_op(dev)], dev->bus < 0 ? "the line" : profile_op_names[flag]);
		safe_confirmed(s, req->device, how);
		return;
	}
	snprintf(s->devs[req->device].error, sizeof(s->devs[req->device].error),
	    "%s: %s: %s after its %s command", safe_where(s, req->device, where, sizeof(where)),
	    dev->bus >= 0 ? safe_register(s, req->device, flag, 0, reg, sizeof(reg)) : "read",
	    dev->role == RIG_AXIS ? "still busy" : dev->role == RIG_VALVE ? "still on" :
	    "still running", profile_op_names[safe_op(dev)]);
	safe_retry_later(s, req->device);
}

/*
 * The stop or off command was acknowledged: confirm it by a read where the
 * device reports its state, or take the acknowledgement.
 */
static void
safe_check(struct safe *s, int device)
{
	const struct rig_device *dev = &s->rig->devices[device];
	const struct profile *p = profile_of(s->profiles, device);
	struct hw_request req = { device, HW_PROBE, 0, 0, 0 };
	char err[256];
	int has_flag;

	switch (dev->role) {
	case RIG_AXIS:
		req.op = HW_STATUS;
		has_flag = p != NULL && p->ops[PROFILE_BUSY].defined;
		break;
	case RIG_VALVE:
		req.op = HW_READ;
		has_flag = dev->bus < 0 || (p != NULL && p->ops[PROFILE_STATE].defined);
		break;
	default:
		has_flag = p != NULL && p->ops[PROFILE_RUNNING].defined;
		break;
	}
	if (!has_flag) {
		safe_confirmed(s, device, "acknowledged; the device reports no state to read");
		return;
	}
	if (hw_submit(s->hw, &req, safe_on_read, s, err, sizeof(err)) == -1) {
		safe_error(s, device, err);
		safe_retry_later(s, device);
		return;
	}
	s->devs[device].in_flight = 1;
}

/* The result of a stop or off command: from the safe state, or sent again. */
static void
safe_on_command(struct safe *s, int device, const struct hw_result *res)
{
	struct safe_dev *d = &s->devs[device];

	d->in_flight = 0;
	if (!d->needed || d->confirmed)
		return;
	if (!res->ok) {
		safe_error(s, device, res->error);
		safe_retry_later(s, device);
		return;
	}
	safe_check(s, device);
}

static void
safe_on_safe_state(void *arg, int device, const struct hw_result *res)
{
	safe_on_command(arg, device, res);
}

static void
safe_on_sent(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	safe_on_command(arg, req->device, res);
}

/* Sends a device's stop or off command again. */
static void
safe_send(struct safe *s, int device)
{
	const struct rig_device *dev = &s->rig->devices[device];
	struct hw_request req = { device, HW_STOP, 0, 0, 0 };
	char err[256];

	switch (dev->role) {
	case RIG_PUMP: req.op = HW_PUMP; break;		/* flow 0: stop */
	case RIG_LINE: req.op = HW_LINE; break;		/* speed 0: stop */
	case RIG_VALVE: req.op = HW_OUTPUT; break;	/* off */
	default: break;
	}
	s->devs[device].attempts++;
	if (hw_submit(s->hw, &req, safe_on_sent, s, err, sizeof(err)) == -1) {
		safe_error(s, device, err);
		safe_retry_later(s, device);
		return;
	}
	s->devs[device].in_flight = 1;
}

/* Reads and checks the rig file as lbld does; diagnostics go to stderr. */
static struct rig *
safe_load_rig(const char *path, struct profile_set **profiles)
{
	struct diag d;
	struct rig *rig = NULL;
	char *text, *rendered;
	size_t len;

	*profiles = NULL;
	diag_init(&d, path);
	text = conf_read_file(path, CONF_MAX_FILE_BYTES, &len, &d);
	if (text != NULL && rig_load_buffer(path, text, len, &d, &rig) == 0 &&
	    profile_set_load(rig, &d, profiles) == -1) {
		rig_free(rig);
		rig = NULL;
	}
	free(text);
	rendered = diag_render(&d);
	if (rendered != NULL && *rendered)
		fputs(rendered, stderr);
	free(rendered);
	diag_free(&d);
	return rig;
}

/* Runs the safe state and confirms it; returns how many devices were not confirmed. */
static int
safe_run(struct safe *s, double timeout_s)
{
	size_t i;
	int failed = 0, needed = 0;
	char where[200], reg[80];

	for (i = 0; i < s->rig->device_count; i++) {
		enum rig_role role = s->rig->devices[i].role;

		s->devs[i].needed = role == RIG_AXIS || role == RIG_PUMP || role == RIG_LINE ||
		    role == RIG_VALVE;
		if (s->devs[i].needed) {
			s->devs[i].in_flight = 1;
			s->devs[i].attempts = 1;
			s->pending++;
		}
	}
	needed = s->pending;
	if (needed == 0) {
		log_info("rig '%s': no pump, valve, line drive or axis to make safe", s->rig->name);
		return 0;
	}
	hw_set_safe_cb(s->hw, safe_on_safe_state, s);
	hw_safe_state(s->hw, NULL, NULL);
	if (s->pending > 0) {
		loop_timer_at(s->deadline_timer, loop_now_ns() + (int64_t)(timeout_s * 1e9));
		if (loop_run(s->loop) == -1)
			log_warnx("the event loop failed; reporting what is confirmed so far");
	}
	for (i = 0; i < s->rig->device_count; i++) {
		struct safe_dev *d = &s->devs[i];

		if (!d->needed || d->confirmed)
			continue;
		failed++;
		if (d->error[0] == '\0')
			snprintf(d->error, sizeof(d->error), "%s: %s: no answer within %g s",
			    safe_where(s, (int)i, where, sizeof(where)),
			    safe_register(s, (int)i, safe_op(&s->rig->devices[i]), 1, reg,
			    sizeof(reg)), timeout_s);
		log_device_warnx(s->rig->devices[i].name, "not confirmed safe after %d "
		    "command%s: %s", d->attempts, d->attempts == 1 ? "" : "s", d->error);
	}
	if (failed == 0)
		log_info("rig '%s': every device confirmed safe (%d)", s->rig->name, needed);
	else
		log_warnx("rig '%s': %d of %d devices not confirmed safe within %g s",
		    s->rig->name, failed, needed, timeout_s);
	return failed;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "rig", required_argument, NULL, 'r' },
		{ "gpio-sim", required_argument, NULL, 'g' },
		{ "db", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *rig_path = NULL, *gpio_sim = NULL, *db = LBL_DB_PATH;
	double timeout_s = SAFE_DEFAULT_TIMEOUT_S;
	struct safe s = { 0 };
	struct rig *rig;
	char err[512], pid[32], *end;
	int ch, force = 0, verbose = 0, failed;

	while ((ch = getopt_long(argc, argv, "r:g:d:t:fvhV", options, NULL)) != -1) {
		switch (ch) {
		case 'r': rig_path = optarg; break;
		case 'g': gpio_sim = optarg; break;
		case 'd': db = optarg; break;
		case 't':
			timeout_s = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(timeout_s >= 0.1 && timeout_s <= 3600)) {
				fprintf(stderr, "lbl-safe: --timeout %s: expected seconds, 0.1 to "
				    "3600\n", optarg);
				safe_usage(2);
			}
			break;
		case 'f': force = 1; break;
		case 'v': verbose = 1; break;
		case 'h': safe_usage(0);
		case 'V': printf("lbl-safe %s\n", LBL_VERSION); return 0;
		default: safe_usage(2);		/* getopt named the option */
		}
	}
	if (optind != argc) {
		fprintf(stderr, "lbl-safe: unexpected '%s'\n", argv[optind]);
		safe_usage(2);
	}
	if (rig_path == NULL) {
		fprintf(stderr, "lbl-safe: --rig FILE is required\n");
		safe_usage(2);
	}
	log_init("lbl-safe", verbose ? LOG_DEBUG : LOG_INFO);
	if ((rig = safe_load_rig(rig_path, &s.profiles)) == NULL) {
		log_warnx("the rig file %s is not valid; nothing was sent", rig_path);
		return 2;
	}
	/* lbld holds its database's lock (pidlock.h) for as long as it runs */
	switch (pidlock_db_probe(db, pid, sizeof(pid), err, sizeof(err))) {
	case 1:
		if (!force) {
			log_warnx("lbld is running (pid %s); use 'lblctl abort', or --force", pid);
			goto refused;
		}
		log_warnx("lbld is running (pid %s); going on (--force)", pid);
		break;
	case -1:
		if (!force) {
			log_warnx("cannot tell whether lbld is running: %s; use --force", err);
			goto refused;
		}
		log_warnx("cannot tell whether lbld is running: %s; going on (--force)", err);
		break;
	}
	if (gpio_sim != NULL && gpio_use_simulation(gpio_sim) == -1) {
		log_warn("--gpio-sim %s", gpio_sim);
		goto refused;
	}
	/* a Modbus TCP peer that went away must be an error, not a signal */
	signal(SIGPIPE, SIG_IGN);
	s.rig = rig;
	if ((s.devs = calloc(rig->device_count + 1, sizeof(*s.devs))) == NULL ||
	    (s.loop = loop_new()) == NULL) {
		log_warnx("out of memory");
		goto refused;
	}
	if ((s.retry_timer = loop_timer_new(s.loop, safe_on_retry, &s)) == NULL ||
	    (s.deadline_timer = loop_timer_new(s.loop, safe_on_deadline, &s)) == NULL) {
		log_warnx("cannot create the timers");
		failed = 1;
		goto out;
	}
	if (hw_open_outputs(rig, s.loop, &s.hw, err, sizeof(err)) == -1) {
		log_warnx("hardware: %s", err);
		failed = 1;
		goto out;
	}
	failed = safe_run(&s, timeout_s);
out:
	hw_close(s.hw);
	if (s.retry_timer != NULL)
		loop_timer_free(s.retry_timer);
	if (s.deadline_timer != NULL)
		loop_timer_free(s.deadline_timer);
	if (s.loop != NULL)
		loop_free(s.loop);
	free(s.devs);
	profile_set_free(s.profiles);
	rig_free(rig);
	return failed == 0 ? 0 : 1;
refused:
	free(s.devs);
	if (s.loop != NULL)
		loop_free(s.loop);
	profile_set_free(s.profiles);
	rig_free(rig);
	return 1;
}
