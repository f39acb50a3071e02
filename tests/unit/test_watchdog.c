/*
 * Device communication-loss timeouts: the rig file's comm_timeout and its
 * errors, and hw_watchdog_arm() against a small libmodbus TCP server in a
 * thread: the arm writes, the feeding reads every comm_timeout / 3 from a
 * loop timer, the disarm writes, nothing at all when no device has a
 * timeout, and failures reported once with device, bus, unit and register.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "hw.h"
#include "loop.h"
#include "modbus_server.h"
#include "profile.h"
#include "test.h"

/* ---- the rig file ---- */

static const char rig_head[] =
    "name: t\n"
    "buses:\n"
    "  b: {type: tcp, host: 127.0.0.1, port: 1502}\n"
    "devices:\n";

/* Loads rig_head + body and checks its profiles; returns the diagnostics ("" if valid). */
static char *
load(const char *body, int64_t *pump_timeout_ms)
{
	static char text[4096];
	struct diag d;
	struct rig *rig = NULL;
	char *out;
	int i;

	snprintf(text, sizeof(text), "%s%s", rig_head, body);
	diag_init(&d, "rig.yaml");
	if (rig_load_buffer("rig.yaml", text, strlen(text), &d, &rig) == 0 &&
	    profile_check_rig(rig, &d) == 0 && pump_timeout_ms != NULL &&
	    (i = rig_device_index(rig, "pump")) >= 0)
		*pump_timeout_ms = rig->devices[i].comm_timeout_ms;
	out = diag_render(&d);
	diag_free(&d);
	rig_free(rig);
	return out;
}

static void
expect_error(const char *name, const char *body, const char *where, const char *message)
{
	char *out = load(body, NULL);

	TEST_CONTAINS(name, out, message);
	TEST_CONTAINS(name, out, where);
	free(out);
}

static void
test_rig_file(void)
{
	int64_t ms = -1;
	char *out;

	out = load("  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 10 mL/min, comm_timeout: 2s}\n", &ms);
	TEST_STR("comm_timeout 2s on a generic pump is valid", out, "");
	TEST_EQ_INT("comm_timeout is kept in ms", ms, 2000);
	free(out);
	ms = -1;
	out = load("  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 10 mL/min}\n", &ms);
	TEST_EQ_INT("no comm_timeout: 0", ms, 0);
	free(out);
	ms = -1;
	out = load("  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: bt-wd,\n"
	    "         max_flow: 10 mL/min, comm_timeout: 1500ms}\n"
	    "profiles:\n"
	    "  bt-wd:\n"
	    "    base: lead-fluid-bt100s\n"
	    "    ops:\n"
	    "      watchdog: {table: holding, address: 3110, scale: 100}\n", &ms);
	TEST_STR("a derived profile with a watchdog in 0.1 s takes comm_timeout", out, "");
	TEST_EQ_INT("1500ms", ms, 1500);
	free(out);

	expect_error("comm_timeout too short",
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 10 mL/min, comm_timeout: 50ms}\n",
	    "rig.yaml:6:", "'comm_timeout': expected 100ms to 60s");
	expect_error("comm_timeout too long",
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 10 mL/min, comm_timeout: 2min}\n",
	    "rig.yaml:6:", "'comm_timeout': expected 100ms to 60s");
	expect_error("comm_timeout must be a duration",
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 10 mL/min, comm_timeout: 2}\n",
	    "rig.yaml:6:", "comm_timeout");
	expect_error("comm_timeout needs the profile's watchdog",
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2,\n"
	    "         profile: lead-fluid-bt100s, max_flow: 10 mL/min, comm_timeout: 2s}\n",
	    "rig.yaml:6:", "profile 'lead-fluid-bt100s' has no 'watchdog' operation");
	expect_error("comm_timeout must fit the register",
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: wd-half,\n"
	    "         max_flow: 10 mL/min, comm_timeout: 60s}\n"
	    "profiles:\n"
	    "  wd-half: {base: generic-pump, ops: {watchdog: {table: holding, address: 3,\n"
	    "            scale: 0.5}}}\n",
	    "rig.yaml:6:", "comm_timeout 60000 ms (or 0, to disarm) does not fit");
	expect_error("comm_timeout is not for sensors",
	    "  qcm: {role: sensor, kind: qcm, bus: b, unit: 3, profile: generic-sensor,\n"
	    "        comm_timeout: 1s}\n",
	    "rig.yaml:6:", "'comm_timeout' is for axes, pumps, valves and line drives");
	expect_error("comm_timeout is not for GPIO lines",
	    "  n2: {role: valve, kind: valve, gpio: {chip: c, line: L1}, comm_timeout: 1s}\n",
	    "rig.yaml:5:", "'comm_timeout' is kept by a Modbus device");
	expect_error("watchdog is no operation of a sensor profile",
	    "  qcm: {role: sensor, kind: qcm, bus: b, unit: 3, profile: s-wd}\n"
	    "profiles:\n"
	    "  s-wd: {base: generic-sensor, ops: {watchdog: {table: holding, address: 3}}}\n",
	    "rig.yaml:7:", "'watchdog' is not an operation of a sensor profile");
	expect_error("watchdog writes: not an input register",
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: p-wd,\n"
	    "         max_flow: 10 mL/min}\n"
	    "profiles:\n"
	    "  p-wd: {base: generic-pump, ops: {watchdog: {table: input, address: 3}}}\n",
	    "rig.yaml:8:", "'watchdog' writes, so it needs a coil or holding register");
}

/* ---- the loopback server: what each unit was asked ---- */

#define WD_MAX_READS	256

static struct {
	int silent_unit;
	int writes[SERVER_UNITS + 1];		/* write requests per unit */
	int other[SERVER_UNITS + 1];		/* requests other than the feed and writes */
	int reads[SERVER_UNITS + 1];		/* reads of HR wd_addr (the feed) */
	int64_t read_ns[SERVER_UNITS + 1][WD_MAX_READS];
	int wd_addr[SERVER_UNITS + 1];
} srv;

static void
serve_one(int fd)
{
	uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
	int rc, unit, fc, addr;

	modbus_set_socket(server.ctx, fd);
	rc = modbus_receive(server.ctx, query);
	if (rc <= 0)
		return;
	unit = query[6];
	fc = query[7];
	addr = query[8] << 8 | query[9];
	pthread_mutex_lock(&server.lock);
	if (unit < 1 || unit > SERVER_UNITS || unit == srv.silent_unit) {
		pthread_mutex_unlock(&server.lock);
		return;
	}
	if (fc == 6 || fc == 16) {
		srv.writes[unit]++;
	} else if (fc == 3 && addr == srv.wd_addr[unit]) {
		if (srv.reads[unit] < WD_MAX_READS)
			srv.read_ns[unit][srv.reads[unit]] = now_ns();
		srv.reads[unit]++;
	} else {
		srv.other[unit]++;
	}
	modbus_reply(server.ctx, query, rc, server.map[unit - 1]);
	pthread_mutex_unlock(&server.lock);
}

static void
srv_reset(void)
{
	pthread_mutex_lock(&server.lock);
	memset(srv.writes, 0, sizeof(srv.writes));
	memset(srv.other, 0, sizeof(srv.other));
	memset(srv.reads, 0, sizeof(srv.reads));
	pthread_mutex_unlock(&server.lock);
}

static int
srv_requests(int unit)
{
	int n;

	pthread_mutex_lock(&server.lock);
	n = srv.writes[unit] + srv.reads[unit] + srv.other[unit];
	pthread_mutex_unlock(&server.lock);
	return n;
}

static uint16_t
srv_hr(int unit, int addr)
{
	uint16_t v;

	pthread_mutex_lock(&server.lock);
	v = server.map[unit - 1]->tab_registers[addr];
	pthread_mutex_unlock(&server.lock);
	return v;
}

static void
srv_set_hr(int unit, int addr, uint16_t v)
{
	pthread_mutex_lock(&server.lock);
	server.map[unit - 1]->tab_registers[addr] = v;
	pthread_mutex_unlock(&server.lock);
}

/* The longest gap between the feeds of unit, in ms (from the first read on). */
static double
srv_max_gap_ms(int unit)
{
	int64_t gap = 0;
	int i, n;

	pthread_mutex_lock(&server.lock);
	n = srv.reads[unit] < WD_MAX_READS ? srv.reads[unit] : WD_MAX_READS;
	for (i = 1; i < n; i++)
		if (srv.read_ns[unit][i] - srv.read_ns[unit][i - 1] > gap)
			gap = srv.read_ns[unit][i] - srv.read_ns[unit][i - 1];
	pthread_mutex_unlock(&server.lock);
	return gap / 1e6;
}

/* ---- the client side ---- */

static struct {
	struct loop *loop;
	struct loop_timer *stop;
	int reports;
	int report_device;
	char report[256];
	int safe_done;
} cl;

static void
on_stop(void *arg)
{
	(void)arg;
	loop_stop(cl.loop);
}

/* Runs the loop for ms milliseconds of wall time. */
static void
run_for(int ms)
{
	loop_timer_at(cl.stop, loop_now_ns() + (int64_t)ms * 1000000);
	loop_run(cl.loop);
}

static void
on_watchdog(void *arg, int device, const char *error)
{
	(void)arg;
	cl.reports++;
	cl.report_device = device;
	snprintf(cl.report, sizeof(cl.report), "%s", error);
}

static void
on_safe(void *arg, int ok, const char *error)
{
	(void)arg;
	(void)ok;
	(void)error;
	cl.safe_done = 1;
}

static struct rig *
make_rig(int port, int with_timeouts)
{
	char text[1024];
	struct diag d;
	struct rig *rig = NULL;

	snprintf(text, sizeof(text),
	    "name: t\n"
	    "buses:\n"
	    "  b: {type: tcp, host: 127.0.0.1, port: %d, timeout: 100ms, retries: 1}\n"
	    "devices:\n"
	    "  lift: {role: axis, kind: lift, bus: b, unit: 1, profile: generic-drive,\n"
	    "         travel: {min: 0 mm, max: 100 mm}, max_speed: 20 mm/s, max_accel: 200 mm/s2%s}\n"
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 100 mL/min%s}\n"
	    "  qcm: {role: sensor, kind: qcm, bus: b, unit: 3, profile: generic-sensor}\n",
	    port, with_timeouts ? ", comm_timeout: 600ms" : "",
	    with_timeouts ? ", comm_timeout: 300ms" : "");
	diag_init(&d, "rig");
	if (rig_load_buffer("rig", text, strlen(text), &d, &rig) == 0 &&
	    profile_check_rig(rig, &d) == -1) {
		rig_free(rig);
		rig = NULL;
	}
	diag_free(&d);
	return rig;
}

/* No device has a comm_timeout: nothing is written, no timer, ever. */
static void
test_none(void)
{
	struct rig *rig = make_rig(server.port, 0);
	struct hw *hw = NULL;
	char err[512];

	TEST_CHECK("rig without comm_timeout loads", rig != NULL, "no rig");
	if (rig == NULL)
		return;
	if (hw_open(rig, cl.loop, &hw, err, sizeof(err)) == -1) {
		TEST_CHECK("hw opens", 0, "%s", err);
		rig_free(rig);
		return;
	}
	srv_reset();
	TEST_EQ_INT("no comm_timeout: arm says 0 devices", hw_watchdog_arm(hw, 1), 0);
	run_for(250);
	TEST_EQ_INT("no comm_timeout: no request to the drive", srv_requests(1), 0);
	TEST_EQ_INT("no comm_timeout: no request to the pump", srv_requests(2), 0);
	TEST_EQ_INT("no comm_timeout: disarm says 0 devices", hw_watchdog_arm(hw, 0), 0);
	hw_close(hw);
	rig_free(rig);
}

static void
test_arm_feed_disarm(void)
{
	struct rig *rig = make_rig(server.port, 1);
	struct hw *hw = NULL;
	char err[512];
	int reads, n;

	TEST_CHECK("rig with comm_timeout loads", rig != NULL, "no rig");
	if (rig == NULL)
		return;
	if (hw_open(rig, cl.loop, &hw, err, sizeof(err)) == -1) {
		TEST_CHECK("hw opens", 0, "%s", err);
		rig_free(rig);
		return;
	}
	hw_set_watchdog_cb(hw, on_watchdog, NULL);
	srv.wd_addr[1] = 6;	/* generic-drive: HR 6 */
	srv.wd_addr[2] = 3;	/* generic-pump: HR 3 */
	srv.wd_addr[3] = -1;
	srv_reset();

	/* arm: each timeout written, then fed by reads every timeout / 3 */
	TEST_EQ_INT("arm: two devices", hw_watchdog_arm(hw, 1), 2);
	run_for(1000);
	TEST_EQ_INT("arm: the pump's 300 ms written to HR 3", srv_hr(2, 3), 300);
	TEST_EQ_INT("arm: the drive's 600 ms written to HR 6", srv_hr(1, 6), 600);
	TEST_EQ_INT("arm: one write to the pump", srv.writes[2], 1);
	TEST_EQ_INT("arm: one write to the drive", srv.writes[1], 1);
	n = srv.reads[2];
	TEST_CHECK("pump fed about every 100 ms", n >= 7 && n <= 11, "%d feeds in 1 s", n);
	n = srv.reads[1];
	TEST_CHECK("drive fed about every 200 ms", n >= 3 && n <= 6, "%d feeds in 1 s", n);
	/*
	 * The property: the pump never goes its 300 ms without a feed. A gap of
	 * two periods is seen here when other work starves this unprivileged
	 * process (lbld runs SCHED_FIFO where granted), so that is no failure.
	 */
	TEST_CHECK("no feed gap of the pump reaches its timeout", srv_max_gap_ms(2) < 300,
	    "longest gap %.1f ms", srv_max_gap_ms(2));
	TEST_EQ_INT("feeding is reads of the watchdog register only", srv.other[2] + srv.other[1],
	    0);
	TEST_EQ_INT("the sensor without comm_timeout is left alone", srv_requests(3), 0);
	TEST_EQ_INT("arm: no failure reported", cl.reports, 0);
	printf("info: 1 s armed: pump fed %d times, drive %d times, longest pump gap %.1f ms\n",
	    srv.reads[2], srv.reads[1], srv_max_gap_ms(2));

	/* arming again while armed writes again and does not feed twice as often */
	srv_reset();
	TEST_EQ_INT("arm again: two devices", hw_watchdog_arm(hw, 1), 2);
	run_for(1000);
	TEST_EQ_INT("arm again: written again", srv.writes[2], 1);
	n = srv.reads[2];
	TEST_CHECK("arm again: still fed about every 100 ms", n >= 7 && n <= 11, "%d feeds", n);

	/* a safe state drops what is queued; feeding goes on after it */
	cl.safe_done = 0;
	hw_safe_state(hw, on_safe, NULL);
	while (!cl.safe_done)
		run_for(50);
	srv_reset();
	run_for(500);
	n = srv.reads[2];
	TEST_CHECK("feeding goes on after a safe state", n >= 3, "%d feeds in 500 ms", n);

	/* disarm: 0 written, and from then on not one request */
	srv_reset();
	TEST_EQ_INT("disarm: two devices", hw_watchdog_arm(hw, 0), 2);
	run_for(100);
	TEST_EQ_INT("disarm: the pump's HR 3 is 0", srv_hr(2, 3), 0);
	TEST_EQ_INT("disarm: the drive's HR 6 is 0", srv_hr(1, 6), 0);
	reads = srv_requests(1) + srv_requests(2);
	run_for(700);
	TEST_EQ_INT("disarmed: no request at all afterwards", srv_requests(1) + srv_requests(2),
	    reads);
	srv_reset();
	hw_watchdog_arm(hw, 0);
	run_for(200);
	TEST_EQ_INT("disarm while disarmed: nothing written", srv_requests(1) + srv_requests(2), 0);

	/*
	 * An unreachable device: the arm write fails, is reported once with
	 * device, bus, unit and register, and is written again once the
	 * device answers.
	 */
	pthread_mutex_lock(&server.lock);
	srv.silent_unit = 2;
	pthread_mutex_unlock(&server.lock);
	cl.reports = 0;
	hw_watchdog_arm(hw, 1);
	run_for(1200);
	TEST_EQ_INT("silent pump: one report, not one per period", cl.reports, 1);
	TEST_EQ_INT("the report is about the pump", cl.report_device, 1);
	TEST_CONTAINS("the report names device, bus, unit and register", cl.report,
	    "device 'pump' (bus b, unit 2): write holding 0x0003 (watchdog)");
	TEST_EQ_INT("the drive is armed meanwhile", srv_hr(1, 6), 600);
	srv_set_hr(2, 3, 0);
	pthread_mutex_lock(&server.lock);
	srv.silent_unit = 0;
	pthread_mutex_unlock(&server.lock);
	run_for(800);
	TEST_EQ_INT("the pump answers again: its timeout is written", srv_hr(2, 3), 300);
	hw_watchdog_arm(hw, 0);
	run_for(100);

	/* a disarm that fails is reported too */
	pthread_mutex_lock(&server.lock);
	srv.silent_unit = 1;
	pthread_mutex_unlock(&server.lock);
	hw_watchdog_arm(hw, 1);
	run_for(100);
	cl.reports = 0;
	hw_watchdog_arm(hw, 0);
	run_for(600);
	TEST_CHECK("a failed disarm is reported", cl.reports >= 1 && cl.report_device == 0,
	    "%d reports, last about device %d", cl.reports, cl.report_device);
	TEST_CONTAINS("the disarm report names the register", cl.report,
	    "device 'lift' (bus b, unit 1): write holding 0x0006 (watchdog)");
	pthread_mutex_lock(&server.lock);
	srv.silent_unit = 0;
	pthread_mutex_unlock(&server.lock);

	/* requests that do not suit the device are refused up front */
	{
		struct hw_request req = { 2, HW_WATCHDOG, 1000, 0, 0 };

		TEST_EQ_INT("a sensor has no watchdog", hw_submit(hw, &req, NULL, NULL, err,
		    sizeof(err)), -1);
		TEST_CONTAINS("the refusal says why", err, "device 'qcm' is a sensor");
	}
	hw_close(hw);
	rig_free(rig);
}

int
main(void)
{
	test_rig_file();
	server_start(serve_one);
	cl.loop = loop_new();
	cl.stop = loop_timer_new(cl.loop, on_stop, NULL);
	test_none();
	test_arm_feed_disarm();
	loop_timer_free(cl.stop);
	loop_free(cl.loop);
	server_stop();
	return TEST_DONE();
}
