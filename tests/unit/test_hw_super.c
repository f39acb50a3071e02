/*
 * What supervision judges (hw/drivers/hw_super.c) against a small libmodbus
 * TCP server in a thread whose registers the test sets: a lift (unit 1,
 * generic-drive) and a pump (unit 2, generic-pump), each polled every
 * 40 ms, with real commands through hw_submit() so that lbld's own idea of
 * each device (what it last commanded) is the real one.
 *
 *   - an axis that arrived at its target and rests: quiet while it reads
 *     where it came to rest; a fault when its position moves more than its
 *     tolerance, or when it reads busy, naming device, bus, unit, register,
 *     what was expected and what was read;
 *   - an axis commanded to move that reads not busy, not in position and
 *     away from its target: stopped short;
 *   - an axis homed is judged for its alarm only (where a search ends is
 *     the drive's business);
 *   - a poll of a drive or pump whose objects lie together is one
 *     transaction (cheap on a slow line, and read at one instant);
 *   - a running pump whose volume counter advances (1 uL a ms, counted
 *     when read): quiet; one whose
 *     counter stands still: a fault naming the volume register, within
 *     two periods and a transaction of the stall (the reading before the
 *     stall, then the one that shows it);
 *   - polls held clear of the executor's next deadline: the loop sleeps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <modbus.h>

#include "hw.h"
#include "loop.h"
#include "modbus_server.h"
#include "test.h"

#define MS	1000000LL

static struct {
	int advancing;			/* the pump's counter goes up 1 µL a ms ... */
	int64_t since_ns;		/* ... from its value then */
	uint32_t since_ul;
} srv;

/* The pump's counter, µL, as a pump at 60 mL/min counts it when asked (lock held). */
static void
pump_count(void)
{
	uint16_t *ir = server.map[1]->tab_input_registers;
	uint32_t ul;

	if (!srv.advancing)
		return;
	ul = srv.since_ul + (uint32_t)((now_ns() - srv.since_ns) / 1000000);
	ir[0] = (uint16_t)(ul >> 16);
	ir[1] = (uint16_t)(ul & 0xffff);
}

/* Starts or stops the counter where it stands. */
static void
pump_advancing(int on)
{
	uint16_t *ir = server.map[1]->tab_input_registers;

	pthread_mutex_lock(&server.lock);
	pump_count();
	srv.advancing = on;
	srv.since_ns = now_ns();
	srv.since_ul = (uint32_t)ir[0] << 16 | ir[1];
	pthread_mutex_unlock(&server.lock);
}

static void
serve_one(int fd)
{
	uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
	int rc, unit;

	modbus_set_socket(server.ctx, fd);
	rc = modbus_receive(server.ctx, query);
	if (rc <= 0)
		return;
	unit = query[6];
	if (unit < 1 || unit > SERVER_UNITS)
		return;
	pthread_mutex_lock(&server.lock);
	pump_count();
	modbus_reply(server.ctx, query, rc, server.map[unit - 1]);
	pthread_mutex_unlock(&server.lock);
}

/* The lift's position (µm, int32 high word first) and status word (busy, in position). */
static void
set_lift(double position_mm, int busy, int in_position)
{
	int32_t um = (int32_t)lround(position_mm * 1000);
	uint16_t *ir = server.map[0]->tab_input_registers;

	pthread_mutex_lock(&server.lock);
	ir[0] = (uint16_t)((uint32_t)um >> 16);
	ir[1] = (uint16_t)((uint32_t)um & 0xffff);
	ir[2] = (uint16_t)((busy ? 1 : 0) | (in_position ? 2 : 0));
	pthread_mutex_unlock(&server.lock);
}

/* The pump's running flag (input 2, bit 0). */
static void
set_pump_running(int running)
{
	pthread_mutex_lock(&server.lock);
	server.map[1]->tab_input_registers[2] = running ? 1 : 0;
	pthread_mutex_unlock(&server.lock);
}

static struct {
	struct loop *loop;
	struct loop_timer *stop;
	struct hw_result res;
	int faults, device;
	char error[512];
	int64_t fault_ns;
} cl;

static void
on_done(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	(void)arg;
	(void)req;
	cl.res = *res;
	loop_stop(cl.loop);
}

static void
on_fault(void *arg, int device, const char *error)
{
	(void)arg;
	cl.faults++;
	cl.device = device;
	cl.fault_ns = loop_now_ns();
	snprintf(cl.error, sizeof(cl.error), "%s", error);
	loop_stop(cl.loop);
}

static void
on_stop(void *arg)
{
	(void)arg;
	loop_stop(cl.loop);
}

static int
request(struct hw *hw, int device, enum hw_op op, double value)
{
	struct hw_request req = { device, op, value, 0, 0 };
	char err[256];

	if (hw_submit(hw, &req, on_done, NULL, err, sizeof(err)) == -1) {
		snprintf(cl.res.error, sizeof(cl.res.error), "%s", err);
		return -1;
	}
	loop_run(cl.loop);
	return cl.res.ok ? 0 : -1;
}

/* Runs the loop for ms or until a fault; returns the faults reported meanwhile. */
static int
run_for(int ms)
{
	int before = cl.faults;

	loop_timer_at(cl.stop, loop_now_ns() + ms * MS);
	loop_run(cl.loop);
	loop_timer_cancel(cl.stop);
	return cl.faults - before;
}

/* Supervision afresh over the devices in use (lift, pump). */
static void
supervise(struct hw *hw)
{
	static const unsigned char in_use[2] = { 1, 1 };

	hw_supervise(hw, in_use);
}

static struct rig *
make_rig(int port)
{
	char text[1024];
	struct diag d;
	struct rig *rig = NULL;

	snprintf(text, sizeof(text),
	    "name: t\n"
	    "buses:\n"
	    "  b: {type: tcp, host: 127.0.0.1, port: %d, timeout: 300ms, retries: 1}\n"
	    "devices:\n"
	    "  lift: {role: axis, kind: lift, bus: b, unit: 1, profile: generic-drive,\n"
	    "         travel: {min: 0 mm, max: 100 mm}, max_speed: 20 mm/s, max_accel: 200 mm/s2,\n"
	    "         poll_period: 40ms}\n"
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 100 mL/min, poll_period: 40ms}\n",
	    port);
	diag_init(&d, "rig");
	rig_load_buffer("rig", text, strlen(text), &d, &rig);
	diag_free(&d);
	return rig;
}

/* The transactions one request of op to device takes. */
static unsigned long
transactions(struct hw *hw, int device, enum hw_op op)
{
	struct hw_stats before, after;

	hw_get_stats(hw, &before);
	if (request(hw, device, op, 0) == -1)
		return 0;
	hw_get_stats(hw, &after);
	return after.transactions - before.transactions;
}

/*
 * A status read of a generic drive (position, input 0-1, and its flags'
 * word, input 2) or pump (volume and flags, the same) is one transaction,
 * its values from one instant.
 */
static void
test_joined(struct hw *hw)
{
	set_lift(12.5, 1, 0);
	TEST_EQ_INT("a drive's status: one transaction", transactions(hw, 0, HW_STATUS), 1);
	TEST_NEAR("... its position", cl.res.position_mm, 12.5, 1e-9);
	TEST_EQ_INT("... busy", cl.res.busy, 1);
	TEST_EQ_INT("... not in position", cl.res.in_position, 0);
	TEST_EQ_INT("... no alarm", cl.res.alarm, 0);
	set_pump_running(1);
	TEST_EQ_INT("a pump's status: one transaction", transactions(hw, 1, HW_PROBE), 1);
	TEST_EQ_INT("... running", cl.res.running, 1);
	set_pump_running(0);
}

static void
test_axis(struct hw *hw)
{
	/* a move to 50 mm that arrives: the drive reads there, in position */
	set_lift(50, 0, 1);
	TEST_EQ_INT("the lift moves to 50 mm", request(hw, 0, HW_MOVE, 50), 0);
	supervise(hw);
	TEST_EQ_INT("an axis at rest where it arrived: no fault", run_for(400), 0);

	/* pushed 0.5 mm from outside (the tolerance is 0.01 mm) */
	set_lift(50.5, 0, 1);
	TEST_EQ_INT("an axis moved while it should stand still: a fault", run_for(1000), 1);
	TEST_EQ_INT("... of the lift", cl.device, 0);
	TEST_CONTAINS("... naming bus, unit and the position register", cl.error,
	    "device 'lift' (bus b, unit 1): read input 0x0000 (position): at 50.500 mm, "
	    "while it should stand still at 50.000 mm (moved 0.500 mm, tolerance 0.01 mm)");

	/* back where it was, but busy: a drive that started by itself */
	set_lift(50, 1, 0);
	supervise(hw);
	TEST_EQ_INT("an axis busy while it should stand still: a fault", run_for(1000), 1);
	TEST_CONTAINS("... naming the busy flag's register", cl.error,
	    "device 'lift' (bus b, unit 1): read input 0x0002 (busy): busy, while it should "
	    "stand still at 50.000 mm");

	/* commanded to 80 mm, it stops at 60 mm: not busy, not in position */
	set_lift(60, 0, 0);
	TEST_EQ_INT("the lift is sent to 80 mm", request(hw, 0, HW_MOVE, 80), 0);
	supervise(hw);
	TEST_EQ_INT("an axis that stopped short of its target: a fault", run_for(1000), 1);
	TEST_CONTAINS("... naming where it is and where it was sent", cl.error,
	    "device 'lift' (bus b, unit 1): read input 0x0002 (busy): not busy, at 60.000 mm, "
	    "while commanded to move to 80.000 mm (stopped 20.000 mm short)");

	/* on its way (busy, away from the target): quiet; then it arrives and rests */
	set_lift(70, 1, 0);
	supervise(hw);
	TEST_EQ_INT("an axis busy on its way to its target: no fault", run_for(300), 0);
	set_lift(80, 0, 1);
	TEST_EQ_INT("... nor once it arrived", run_for(300), 0);
	set_lift(79.9, 0, 1);
	TEST_EQ_INT("... and one that then creeps off it is caught", run_for(1000), 1);
	TEST_CONTAINS("... as moved from where it came to rest", cl.error,
	    "at 79.900 mm, while it should stand still at 80.000 mm");

	/* homed: judged for its alarm alone, wherever the search ends */
	set_lift(3, 1, 0);
	TEST_EQ_INT("the lift homes", request(hw, 0, HW_HOME, 0), 0);
	supervise(hw);
	TEST_EQ_INT("an axis homing, busy, anywhere: no fault", run_for(300), 0);
	set_lift(3, 0, 0);
	TEST_EQ_INT("... nor once the search ended", run_for(300), 0);
	pthread_mutex_lock(&server.lock);
	server.map[0]->tab_input_registers[2] |= 4;	/* alarm */
	pthread_mutex_unlock(&server.lock);
	TEST_EQ_INT("... but its alarm is", run_for(1000), 1);
	TEST_CONTAINS("... named", cl.error, "read input 0x0002 (alarm): alarm raised");
	set_lift(3, 0, 0);
}

static void
test_pump(struct hw *hw)
{
	int64_t stalled_ns;

	/* 60 mL/min is 1 µL a ms: the counter must move 20 µL every 20 ms */
	set_pump_running(1);
	pump_advancing(1);
	TEST_EQ_INT("the pump runs at 60 mL/min", request(hw, 1, HW_PUMP, 60), 0);
	supervise(hw);
	TEST_EQ_INT("a running pump whose counter advances: no fault", run_for(600), 0);
	pump_advancing(0);
	stalled_ns = loop_now_ns();
	TEST_EQ_INT("a running pump whose counter stands still: a fault", run_for(2000), 1);
	TEST_EQ_INT("... of the pump", cl.device, 1);
	TEST_CONTAINS("... naming bus, unit and the volume register", cl.error,
	    "device 'pump' (bus b, unit 2): read input 0x0000 (volume): stands at ");
	TEST_CONTAINS("... and the rate commanded", cl.error, "while running at 60 mL/min");
	/*
	 * Within two periods (the reading before the stall, the one that shows
	 * it) and a transaction's deadline (2 x 300 + 300 ms).
	 */
	TEST_CHECK("... within two periods and a transaction",
	    cl.fault_ns - stalled_ns <= (2 * 40 + 900) * MS, "after %lld ms",
	    (long long)((cl.fault_ns - stalled_ns) / MS));

	/* stopped: its counter standing still is what it should do */
	set_pump_running(0);
	TEST_EQ_INT("the pump stops", request(hw, 1, HW_PUMP, 0), 0);
	supervise(hw);
	TEST_EQ_INT("a stopped pump whose counter stands still: no fault", run_for(400), 0);
}

/* The polls bus b made in supervision's usage window (differences count). */
static unsigned long
polls(struct hw *hw)
{
	struct hw_bus_usage u;

	return hw_bus_usage(hw, 0, &u) == 0 ? u.polls : 0;
}

static void
safe_done(void *arg, int ok, const char *error)
{
	(void)arg;
	(void)ok;
	(void)error;
}

/*
 * Polls held clear of the executor's next deadline (each needs its 300 ms
 * deadline and a margin before it, and the deadline is 250 ms off) stay
 * queued past their period: the loop sleeps meanwhile (its supervision
 * timer waits for their answers, not for their period, which has passed:
 * it once fired at once, again and again, and the loop spun for as long
 * as the polls were held, starving a Pi's other real-time work), no fault
 * is reported, and the polls go once the deadline is gone. A safe state
 * meanwhile drops the queued polls, which never answer: each device is
 * polled again when due, not only once its poll would have counted as
 * starved (a second or more, as supervision's timer waited for that).
 */
static void
test_held(struct hw *hw)
{
	int64_t wall_ns, busy_ns;
	unsigned long before;

	/* held until 100 ms past the deadline (HW_POLL_HOLD_AFTER_MS): judged well before */
	hw_set_next_deadline(hw, loop_now_ns() + 250 * MS);
	supervise(hw);
	before = polls(hw);
	wall_ns = loop_now_ns();
	busy_ns = test_cpu_ns();
	TEST_EQ_INT("polls held clear of a deadline: no fault", run_for(200), 0);
	busy_ns = test_cpu_ns() - busy_ns;
	wall_ns = loop_now_ns() - wall_ns;
	TEST_EQ_INT("... no poll went meanwhile", (int)(polls(hw) - before), 0);
	/* spinning, the loop's thread was busy for most of the 200 ms even on a loaded machine */
	TEST_CHECK("... and the loop slept (CPU time under a tenth of the time)",
	    busy_ns * 10 < wall_ns, "busy %.1f ms of %.1f ms", busy_ns / 1e6, wall_ns / 1e6);
	hw_set_next_deadline(hw, 0);
	TEST_EQ_INT("... the deadline gone, the polls go, and find nothing wrong", run_for(300), 0);
	TEST_CHECK("... polls went", polls(hw) - before >= 2, "%lu polls", polls(hw) - before);

	hw_set_next_deadline(hw, loop_now_ns() + 250 * MS);
	supervise(hw);
	TEST_EQ_INT("polls held again: no fault", run_for(100), 0);
	before = polls(hw);
	hw_safe_state(hw, safe_done, NULL);
	hw_set_next_deadline(hw, 0);
	TEST_EQ_INT("a safe state drops them; the deadline gone: no fault", run_for(300), 0);
	TEST_CHECK("... each device is polled again within its period, not a second later",
	    polls(hw) - before >= 2, "%lu polls", polls(hw) - before);
	hw_supervise(hw, NULL);
}

int
main(void)
{
	struct rig *rig;
	struct hw *hw = NULL;
	char err[512];

	server_start(serve_one);
	cl.loop = loop_new();
	cl.stop = loop_timer_new(cl.loop, on_stop, NULL);
	rig = make_rig(server.port);
	TEST_CHECK("rig loads", rig != NULL, "no rig");
	if (rig == NULL || cl.stop == NULL)
		return TEST_DONE();
	TEST_EQ_INT("hw opens", hw_open(rig, cl.loop, &hw, err, sizeof(err)), 0);
	if (hw == NULL)
		return TEST_DONE();
	hw_set_supervise_cb(hw, on_fault, NULL);

	test_joined(hw);
	test_axis(hw);
	test_pump(hw);
	test_held(hw);

	hw_supervise(hw, NULL);
	hw_close(hw);
	rig_free(rig);
	loop_timer_free(cl.stop);
	loop_free(cl.loop);
	server_stop();
	return TEST_DONE();
}
