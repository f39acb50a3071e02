/*
 * Motion status handling in act.c, against a small libmodbus TCP server in
 * a thread that plays generic drives slow to update their status after a go:
 * they keep the position and in-position bit of the previous move until the
 * test lets them arrive. Checked: the first status look after a move (and
 * after the withdrawal to park) is at once, not a poll period later; an
 * in-position bit counts only within max(10 x tolerance, 0.1 mm) of the new
 * target, so a stale bit from the previous move is not taken for arrival.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "act.h"
#include "hw.h"
#include "loop.h"
#include "modbus_server.h"
#include "test.h"

/* units 1..3: drives with tolerance 0.01 mm (default), 0.05 mm, 0.001 mm */
#define DRIVE		0	/* device indices in the rig below */
#define WIDE		1
#define FINE		2
#define STATUS_IN_POSITION	0x2
#define STATUS_BUSY		0x1
/* 100 mm of travel at 20 mm/s: 5 s ideal, a 100 ms poll period clamped to 50 ms */
#define POLL_MS		50
/* the first look is "at once" when it comes well inside one poll period */
#define AT_ONCE_MS	25

static struct {
	/* per unit, since the last go command */
	int64_t go_ns[SERVER_UNITS];
	int64_t first_look_ns[SERVER_UNITS];	/* first position read after the go */
	int looks[SERVER_UNITS];		/* position reads after the go */
	int gos[SERVER_UNITS];
	int arrive_at[SERVER_UNITS];		/* at this look the drive shows the target; 0: never */
	int writes[SERVER_UNITS];		/* write requests received */
	int mute[SERVER_UNITS];			/* never answer this unit */
} srv;

/* generic-drive: IR 0-1 position in µm (int32, high word first), IR 2 status bits */
static void
drive_show(int unit, double position_mm, int status)
{
	int32_t um = (int32_t)lround(position_mm * 1000);

	server.map[unit]->tab_input_registers[0] = (uint16_t)((uint32_t)um >> 16);
	server.map[unit]->tab_input_registers[1] = (uint16_t)((uint32_t)um & 0xFFFF);
	server.map[unit]->tab_input_registers[2] = (uint16_t)status;
}

/* HR 0-1: the target last written, in µm */
static double
drive_target_mm(int unit)
{
	const uint16_t *hr = server.map[unit]->tab_registers;

	return (int32_t)((uint32_t)hr[0] << 16 | hr[1]) / 1000.0;
}

static void
serve_one(int fd)
{
	uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
	int rc, unit, fc, address;

	modbus_set_socket(server.ctx, fd);
	rc = modbus_receive(server.ctx, query);
	if (rc <= 0)
		return;
	unit = query[6] - 1;
	fc = query[7];
	address = query[8] << 8 | query[9];
	if (unit < 0 || unit >= SERVER_UNITS)
		return;
	pthread_mutex_lock(&server.lock);
	if (fc == 0x05 || fc == 0x06 || fc == 0x0F || fc == 0x10)
		srv.writes[unit]++;
	if (srv.mute[unit]) {
		pthread_mutex_unlock(&server.lock);
		return;
	}
	if (fc == 0x04 && address == 0 && srv.go_ns[unit] != 0) {
		/* a status look: position first, then the status word */
		if (srv.looks[unit]++ == 0)
			srv.first_look_ns[unit] = now_ns();
		if (srv.arrive_at[unit] > 0 && srv.looks[unit] >= srv.arrive_at[unit])
			drive_show(unit, drive_target_mm(unit), STATUS_IN_POSITION);
	}
	modbus_reply(server.ctx, query, rc, server.map[unit]);
	/* HR 4 is the command word: 1 go, 2 home, 3 stop */
	if ((fc == 0x06 || fc == 0x10) && server.map[unit]->tab_registers[4] == 1) {
		server.map[unit]->tab_registers[4] = 0;
		srv.go_ns[unit] = now_ns();
		srv.first_look_ns[unit] = 0;
		srv.looks[unit] = 0;
		srv.gos[unit]++;
	}
	pthread_mutex_unlock(&server.lock);
}

/* Sets what a drive shows now and how it arrives after the next go. */
static void
drive_prepare(int unit, double position_mm, int status, int arrive_at)
{
	pthread_mutex_lock(&server.lock);
	drive_show(unit, position_mm, status);
	srv.arrive_at[unit] = arrive_at;
	srv.go_ns[unit] = 0;
	srv.looks[unit] = 0;
	pthread_mutex_unlock(&server.lock);
}

/* ---- the act side ---- */

static struct {
	struct loop *loop;
	struct loop_timer *timeout;
	int done, ok;
	double value;
	char error[320];
} cl;

static void
on_done(void *arg, int ok, double value, const char *error)
{
	(void)arg;
	cl.done = 1;
	cl.ok = ok;
	cl.value = value;
	snprintf(cl.error, sizeof(cl.error), "%s", error ? error : "");
	loop_stop(cl.loop);
}

static void
on_timeout(void *arg)
{
	(void)arg;
	loop_stop(cl.loop);
}

/* Runs the loop until the operation ends or 5 s pass; 0 when it ended. */
static int
wait_done(void)
{
	loop_timer_at(cl.timeout, loop_now_ns() + 5000000000LL);
	while (!cl.done && loop_timer_armed(cl.timeout))
		loop_run(cl.loop);
	loop_timer_cancel(cl.timeout);
	return cl.done ? 0 : -1;
}

static int
move(struct act *act, int axis, double to_mm)
{
	cl.done = 0;
	if (act_move(act, axis, to_mm, 20) == -1)
		return -1;
	return wait_done();
}

struct outcome {
	int ended, ok, looks;
	double value;
};

/*
 * A move of drive `axis` to to_mm; the drive shows at_mm with status until
 * its arrive_at-th look. What act made of it, and how many looks it took.
 */
static struct outcome
move_from(struct act *act, int axis, double at_mm, int status, int arrive_at, double to_mm)
{
	struct outcome o;

	drive_prepare(axis, at_mm, status, arrive_at);
	o.ended = move(act, axis, to_mm) == 0;
	o.ok = cl.ok;
	o.value = cl.value;
	pthread_mutex_lock(&server.lock);
	o.looks = srv.looks[axis];
	pthread_mutex_unlock(&server.lock);
	return o;
}

static double
first_look_ms(int unit)
{
	double ms;

	pthread_mutex_lock(&server.lock);
	ms = srv.go_ns[unit] && srv.first_look_ns[unit] ?
	    (srv.first_look_ns[unit] - srv.go_ns[unit]) / 1e6 : INFINITY;
	pthread_mutex_unlock(&server.lock);
	return ms;
}

/* The rig of text, or NULL (what the checker said is printed). */
static struct rig *
load_rig(const char *text)
{
	struct diag d;
	struct rig *rig = NULL;

	diag_init(&d, "rig");
	if (rig_load_buffer("rig", text, strlen(text), &d, &rig) == -1) {
		char *msg = diag_render(&d);
		printf("info: %s", msg ? msg : "?\n");
		free(msg);
	}
	diag_free(&d);
	return rig;
}

static struct rig *
make_rig(int port)
{
	char text[2048];

	snprintf(text, sizeof(text),
	    "name: t\n"
	    "buses:\n"
	    "  b: {type: tcp, host: 127.0.0.1, port: %d, timeout: 300ms, retries: 1}\n"
	    "profiles:\n"
	    "  wide-drive: {base: generic-drive, tolerance: 0.05 mm}\n"
	    "  fine-drive: {base: generic-drive, tolerance: 0.001 mm}\n"
	    "devices:\n"
	    "  drive: {role: axis, kind: lift, bus: b, unit: 1, profile: generic-drive,\n"
	    "          travel: {min: 0 mm, max: 100 mm}, max_speed: 20 mm/s, max_accel: 200 mm/s2}\n"
	    "  wide: {role: axis, kind: lift, bus: b, unit: 2, profile: wide-drive,\n"
	    "         travel: {min: 0 mm, max: 100 mm}, max_speed: 20 mm/s, max_accel: 200 mm/s2}\n"
	    "  fine: {role: axis, kind: lift, bus: b, unit: 3, profile: fine-drive,\n"
	    "         travel: {min: 0 mm, max: 100 mm}, max_speed: 20 mm/s, max_accel: 200 mm/s2}\n"
	    "motion:\n"
	    "  lift: drive\n"
	    "  safe_z: 5 mm\n",
	    port);
	return load_rig(text);
}

/* A valve (unit 1) and a pump (unit 2) on the server, and a valve that never answers (unit 3). */
static struct rig *
make_stops_rig(int port)
{
	char text[1024];

	snprintf(text, sizeof(text),
	    "name: s\n"
	    "buses:\n"
	    "  b: {type: tcp, host: 127.0.0.1, port: %d, timeout: 200ms, retries: 0}\n"
	    "devices:\n"
	    "  valve: {role: valve, kind: valve, bus: b, unit: 1, profile: generic-valve}\n"
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 100 mL/min}\n"
	    "  mute: {role: valve, kind: valve, bus: b, unit: 3, profile: generic-valve}\n",
	    port);
	return load_rig(text);
}

/* Write requests the server has received from each unit so far. */
static int
writes_of(int unit)
{
	int n;

	pthread_mutex_lock(&server.lock);
	n = srv.writes[unit];
	pthread_mutex_unlock(&server.lock);
	return n;
}

/*
 * act_stops(): a close's stops as one operation. Each goes on its bus at
 * once: both reach the devices while the loop does not run at all (one at
 * a time, the second was queued only from the loop, on the first's
 * answer). A device that does not answer fails the whole, naming it, and
 * the stops after it go all the same. Anything but a stop is refused,
 * nothing sent.
 */
static void
test_stops(void)
{
	struct hw_request reqs[2];
	struct rig *rig;
	struct hw *hw = NULL;
	struct act *act;
	char err[512];
	int i, valve0, pump0;

	rig = make_stops_rig(server.port);
	TEST_CHECK("stops: rig loads", rig != NULL, "no rig");
	if (rig == NULL)
		return;
	if (hw_open(rig, cl.loop, &hw, err, sizeof(err)) == -1 || hw == NULL) {
		TEST_CHECK("stops: hw opens", 0, "%s", err);
		rig_free(rig);
		return;
	}
	act = act_open(cl.loop, rig, hw, on_done, NULL, NULL);
	memset(reqs, 0, sizeof(reqs));
	reqs[0].device = 0;
	reqs[0].op = HW_OUTPUT;
	reqs[1].device = 1;
	reqs[1].op = HW_PUMP;
	valve0 = writes_of(0);
	pump0 = writes_of(1);
	cl.done = 0;
	TEST_EQ_INT("stops: queued", act_stops(act, reqs, 2, err, sizeof(err)), 0);
	/* the loop is not run: only the bus's own thread can send them */
	for (i = 0; i < 2000 && (writes_of(0) == valve0 || writes_of(1) == pump0); i++)
		usleep(1000);
	TEST_CHECK("stops: both sent without the loop between them",
	    writes_of(0) > valve0 && writes_of(1) > pump0, "valve %d, pump %d writes",
	    writes_of(0) - valve0, writes_of(1) - pump0);
	TEST_EQ_INT("stops: not done before the loop hears them", cl.done, 0);
	TEST_CHECK("stops: done once both answered", wait_done() == 0 && cl.ok, "ended %d ok %d: %s",
	    cl.done, cl.ok, cl.error);

	/* the first never answers: the pump's stop goes all the same; the whole fails naming it */
	pthread_mutex_lock(&server.lock);
	srv.mute[2] = 1;
	pthread_mutex_unlock(&server.lock);
	reqs[0].device = 2;
	pump0 = writes_of(1);
	cl.done = 0;
	TEST_EQ_INT("stops, one mute: queued", act_stops(act, reqs, 2, err, sizeof(err)), 0);
	TEST_CHECK("stops, one mute: the batch fails", wait_done() == 0 && !cl.ok, "ended %d ok %d",
	    cl.done, cl.ok);
	TEST_CONTAINS("stops, one mute: naming the device", cl.error, "'mute'");
	/*
	 * The failure is told at once; the pump's stop, behind it on the bus,
	 * goes after, and its answer is stale: the next operation (the valve
	 * off, queued behind it) is not done before its own answer.
	 */
	valve0 = writes_of(0);
	cl.done = 0;
	TEST_EQ_INT("stops, one mute: the next operation goes", act_output(act, 0, 0), 0);
	TEST_CHECK("... and is done", wait_done() == 0 && cl.ok, "ended %d ok %d: %s", cl.done,
	    cl.ok, cl.error);
	TEST_CHECK("... by its own answer, not the batch's late one", writes_of(0) > valve0,
	    "done before the valve's write reached it");
	TEST_CHECK("stops, one mute: the pump's stop went all the same", writes_of(1) > pump0,
	    "no write to the pump");
	pthread_mutex_lock(&server.lock);
	srv.mute[2] = 0;
	pthread_mutex_unlock(&server.lock);

	/* a valve on is no stop: refused, nothing sent, nothing in hand */
	reqs[0].device = 0;
	reqs[0].value = 1;
	valve0 = writes_of(0);
	pump0 = writes_of(1);
	TEST_EQ_INT("stops: a valve on is refused", act_stops(act, reqs, 2, err, sizeof(err)), -1);
	TEST_CONTAINS("... saying why", err, "not a stop");
	usleep(50000);
	TEST_CHECK("... and nothing is sent", writes_of(0) == valve0 && writes_of(1) == pump0,
	    "valve %d, pump %d writes", writes_of(0) - valve0, writes_of(1) - pump0);
	TEST_EQ_INT("... nor left in hand: a stop goes next", act_output(act, 0, 0), 0);
	cl.done = 0;
	TEST_CHECK("... and is answered", wait_done() == 0 && cl.ok, "%s", cl.error);

	act_close(act);
	hw_close(hw);
	rig_free(rig);
}

/* Waits (without running the loop) until unit has had more than n writes; 1 if so. */
static int
writes_pass(int unit, int n)
{
	int i;

	for (i = 0; i < 2000 && writes_of(unit) <= n; i++)
		usleep(1000);
	return writes_of(unit) > n;
}

/*
 * act_then(): the valve's switch follows the pump's stop on the buses,
 * sent without the loop (which does not run meanwhile) and taken up by the
 * next act_output() of the same values, which is answered without sending
 * it again, also when its answer comes after it is taken up (the mute
 * valve's failure). One with other values is refused, and nothing else
 * goes until a safe state; a first that fails leaves the valve alone; only
 * a Modbus output, pump or line can follow.
 */
static void
test_then(void)
{
	struct hw_request valve_on = { 0, HW_OUTPUT, 1, 0, 0 };
	struct hw_request mute_on = { 2, HW_OUTPUT, 1, 0, 0 };
	struct hw_request move = { 1, HW_READ, 0, 0, 0 };
	struct rig *rig;
	struct hw *hw = NULL;
	struct act *act;
	char err[512];
	int valve0;

	rig = make_stops_rig(server.port);
	if (rig == NULL || hw_open(rig, cl.loop, &hw, err, sizeof(err)) == -1 || hw == NULL) {
		TEST_CHECK("then: rig and hw", 0, "%s", rig ? err : "no rig");
		rig_free(rig);
		return;
	}
	act = act_open(cl.loop, rig, hw, on_done, NULL, NULL);

	valve0 = writes_of(0);
	TEST_EQ_INT("then: the valve's switch is asked to follow", act_then(act, &valve_on, err,
	    sizeof(err)), 0);
	cl.done = 0;
	TEST_EQ_INT("then: the pump's stop goes", act_pump(act, 1, 0), 0);
	TEST_EQ_INT("then: the valve's switch is queued behind it", act_then_queue(act, err,
	    sizeof(err)), 0);
	TEST_CHECK("then: the valve was switched without the loop", writes_pass(0, valve0),
	    "no write to the valve");
	TEST_CHECK("then: the pump's stop is done", wait_done() == 0 && cl.ok, "%s", cl.error);
	cl.done = 0;
	TEST_EQ_INT("then: the valve's own operation takes it up", act_output(act, 0, 1), 0);
	TEST_CHECK("... answered", wait_done() == 0 && cl.ok, "ended %d ok %d: %s", cl.done,
	    cl.ok, cl.error);
	TEST_EQ_INT("... not sent again", writes_of(0), valve0 + 1);
	TEST_EQ_INT("... the valve is on", server.map[0]->tab_bits[0], 1);

	/* its operation asked for while the one before is still in hand: refused, still out */
	valve0 = writes_of(0);
	TEST_EQ_INT("then, early: asked", act_then(act, &valve_on, err, sizeof(err)), 0);
	cl.done = 0;
	TEST_EQ_INT("then, early: the pump's stop goes", act_pump(act, 1, 0), 0);
	TEST_EQ_INT("then, early: queued", act_then_queue(act, err, sizeof(err)), 0);
	TEST_EQ_INT("then, early: the valve's operation during the pump's is refused",
	    act_output(act, 0, 1), -1);
	TEST_CHECK("then, early: the pump's stop is done", wait_done() == 0 && cl.ok, "%s",
	    cl.error);
	cl.done = 0;
	TEST_EQ_INT("then, early: then it takes up the valve's switch", act_output(act, 0, 1), 0);
	TEST_CHECK("... answered", wait_done() == 0 && cl.ok, "%s", cl.error);
	TEST_EQ_INT("... sent once", writes_of(0), valve0 + 1);

	/* taken up before its answer, which is a failure: the operation fails with it */
	pthread_mutex_lock(&server.lock);
	srv.mute[2] = 1;
	pthread_mutex_unlock(&server.lock);
	TEST_EQ_INT("then, mute: asked", act_then(act, &mute_on, err, sizeof(err)), 0);
	cl.done = 0;
	TEST_EQ_INT("then, mute: the pump's stop goes", act_pump(act, 1, 0), 0);
	TEST_EQ_INT("then, mute: queued", act_then_queue(act, err, sizeof(err)), 0);
	TEST_CHECK("then, mute: the pump's stop is done", wait_done() == 0 && cl.ok, "%s",
	    cl.error);
	cl.done = 0;
	TEST_EQ_INT("then, mute: taken up while it waits for its answer", act_output(act, 2, 1), 0);
	TEST_CHECK("then, mute: fails with it", wait_done() == 0 && !cl.ok, "ended %d ok %d",
	    cl.done, cl.ok);
	TEST_CONTAINS("... naming it", cl.error, "'mute'");
	pthread_mutex_lock(&server.lock);
	srv.mute[2] = 0;
	pthread_mutex_unlock(&server.lock);

	/* other values: refused, and nothing but a safe state goes */
	valve_on.value = 0;
	TEST_EQ_INT("then, other values: asked (valve off)", act_then(act, &valve_on, err,
	    sizeof(err)), 0);
	cl.done = 0;
	TEST_EQ_INT("then, other values: the pump's stop goes", act_pump(act, 1, 0), 0);
	TEST_EQ_INT("then, other values: queued", act_then_queue(act, err, sizeof(err)), 0);
	TEST_CHECK("... done", wait_done() == 0 && cl.ok, "%s", cl.error);
	TEST_EQ_INT("then, other values: the valve on is refused", act_output(act, 0, 1), -1);
	TEST_EQ_INT("... and so is anything else", act_pump(act, 1, 0), -1);
	cl.done = 0;
	act_safe_state(act, 0);
	TEST_CHECK("then, other values: a safe state", wait_done() == 0 && cl.ok, "%s", cl.error);
	cl.done = 0;
	TEST_EQ_INT("... after which operations go again", act_output(act, 0, 0), 0);
	TEST_CHECK("... answered", wait_done() == 0 && cl.ok, "%s", cl.error);

	/* a first that fails: the valve is left alone */
	valve_on.value = 1;
	valve0 = writes_of(0);
	pthread_mutex_lock(&server.lock);
	srv.mute[2] = 1;
	pthread_mutex_unlock(&server.lock);
	TEST_EQ_INT("then, first fails: asked", act_then(act, &valve_on, err, sizeof(err)), 0);
	cl.done = 0;
	TEST_EQ_INT("then, first fails: the mute valve's switch goes", act_output(act, 2, 1), 0);
	TEST_EQ_INT("then, first fails: queued", act_then_queue(act, err, sizeof(err)), 0);
	TEST_CHECK("then, first fails: it fails", wait_done() == 0 && !cl.ok, "ok %d", cl.ok);
	usleep(100000);
	TEST_EQ_INT("then, first fails: the valve was never sent its switch", writes_of(0), valve0);
	pthread_mutex_lock(&server.lock);
	srv.mute[2] = 0;
	pthread_mutex_unlock(&server.lock);
	cl.done = 0;
	act_safe_state(act, 0);
	TEST_CHECK("then, first fails: a safe state", wait_done() == 0, "not ended");

	/* opened, never queued: forgotten, it goes with its own operation */
	valve0 = writes_of(0);
	TEST_EQ_INT("then, not queued: asked", act_then(act, &valve_on, err, sizeof(err)), 0);
	cl.done = 0;
	TEST_EQ_INT("then, not queued: the pump's stop goes", act_pump(act, 1, 0), 0);
	TEST_CHECK("... done", wait_done() == 0 && cl.ok, "%s", cl.error);
	usleep(50000);
	TEST_EQ_INT("... the valve not sent its switch", writes_of(0), valve0);
	cl.done = 0;
	TEST_EQ_INT("then, not queued: the valve's operation goes itself", act_output(act, 0, 1),
	    0);
	TEST_CHECK("... answered", wait_done() == 0 && cl.ok && writes_of(0) == valve0 + 1,
	    "%s, %d writes", cl.error, writes_of(0) - valve0);

	TEST_EQ_INT("then: a read cannot follow", act_then(act, &move, err, sizeof(err)), -1);
	TEST_CONTAINS("... saying what can", err, "only a Modbus output, pump, line or move");

	act_close(act);
	hw_close(hw);
	rig_free(rig);
}

int
main(void)
{
	struct rig *rig;
	struct hw *hw = NULL;
	struct act *act;
	struct outcome o;
	char err[512];
	double ms, best;
	int i;

	server_start(serve_one);
	cl.loop = loop_new();
	cl.timeout = loop_timer_new(cl.loop, on_timeout, NULL);
	rig = make_rig(server.port);
	TEST_CHECK("rig loads", rig != NULL, "no rig");
	if (rig == NULL)
		return TEST_DONE();
	TEST_EQ_INT("hw opens", hw_open(rig, cl.loop, &hw, err, sizeof(err)), 0);
	if (hw == NULL) {
		printf("info: %s\n", err);
		return TEST_DONE();
	}
	act = act_open(cl.loop, rig, hw, on_done, NULL, NULL);
	TEST_CHECK("act opens", act != NULL, "NULL");
	if (act == NULL)
		return TEST_DONE();

	/*
	 * A move to where the axis already is (the next spray at the same
	 * booth): one look, at once. Polling first would cost a whole period
	 * (50 ms here), every time. The best of five allows for a busy machine.
	 */
	best = INFINITY;
	for (i = 0; i < 5; i++) {
		o = move_from(act, DRIVE, 40, STATUS_IN_POSITION, 0, 40);
		TEST_CHECK("move in place ends in position", o.ended && o.ok && fabs(o.value - 40) < 1e-6,
		    "ended %d ok %d at %.3f mm: %s", o.ended, o.ok, o.value, cl.error);
		TEST_EQ_INT("move in place: one status look", o.looks, 1);
		ms = first_look_ms(DRIVE);
		best = ms < best ? ms : best;
	}
	printf("info: move: first status look %.3f ms after the go (best of 5; poll period %d ms)\n",
	    best, POLL_MS);
	TEST_CHECK("move: first status look at once after the go", best < AT_ONCE_MS,
	    "%.3f ms after the go, not within %d ms (poll period %d ms)", best, AT_ONCE_MS, POLL_MS);

	/*
	 * The drive still shows the previous move: in position at 40 mm, not
	 * busy. That bit is stale for a move to 80 mm; arrival is the third
	 * look, where the drive shows 80 mm.
	 */
	o = move_from(act, DRIVE, 40, STATUS_IN_POSITION, 3, 80);
	TEST_CHECK("stale in-position bit: the move still ends", o.ended && o.ok,
	    "ended %d ok %d: %s", o.ended, o.ok, cl.error);
	TEST_NEAR("stale in-position bit 40 mm away is not arrival", o.value, 80, 1e-6);
	TEST_EQ_INT("stale in-position bit: arrival at the look that shows the target", o.looks, 3);
	/*
	 * When the move's first request went out (act_op_sent_ns): the
	 * command's send, before the drive saw its go, not the last status
	 * look's (the executor learns a pair's gap from it).
	 */
	pthread_mutex_lock(&server.lock);
	TEST_CHECK("the operation's first request's send is kept, not its last look's",
	    act_op_sent_ns(act) > 0 && act_op_sent_ns(act) <= srv.go_ns[DRIVE] &&
	    act_op_sent_ns(act) < srv.first_look_ns[DRIVE], "sent %lld ns before the go, "
	    "%lld before the first look", (long long)(srv.go_ns[DRIVE] - act_op_sent_ns(act)),
	    (long long)(srv.first_look_ns[DRIVE] - act_op_sent_ns(act)));
	pthread_mutex_unlock(&server.lock);

	/* a drive near the target but still busy (a last correction): the bit waits */
	o = move_from(act, DRIVE, 80.05, STATUS_IN_POSITION | STATUS_BUSY, 2, 80);
	TEST_CHECK("busy drive: in position only once no longer busy",
	    o.ended && o.ok && o.looks == 2 && fabs(o.value - 80) < 1e-6,
	    "ended %d ok %d, %d looks, at %.3f mm", o.ended, o.ok, o.looks, o.value);

	/* the window: max(10 x tolerance, 0.1 mm); tolerance 0.01 mm -> 0.1 mm */
	o = move_from(act, DRIVE, 80.09, STATUS_IN_POSITION, 0, 80);
	TEST_CHECK("tolerance 0.01 mm: bit 0.09 mm off counts at the first look",
	    o.ended && o.ok && o.looks == 1 && fabs(o.value - 80.09) < 1e-6,
	    "ended %d ok %d, %d looks, at %.3f mm", o.ended, o.ok, o.looks, o.value);
	o = move_from(act, DRIVE, 79.85, STATUS_IN_POSITION, 2, 80);
	TEST_CHECK("tolerance 0.01 mm: bit 0.15 mm off does not count",
	    o.ended && o.ok && o.looks == 2 && fabs(o.value - 80) < 1e-6,
	    "ended %d ok %d, %d looks, at %.3f mm", o.ended, o.ok, o.looks, o.value);

	/* a drive's own window may be wider: tolerance 0.05 mm -> 0.5 mm */
	o = move_from(act, WIDE, 80.3, STATUS_IN_POSITION, 3, 80);
	TEST_CHECK("tolerance 0.05 mm: bit 0.3 mm off counts (10 x tolerance)",
	    o.ended && o.ok && o.looks == 1 && fabs(o.value - 80.3) < 1e-6,
	    "ended %d ok %d, %d looks, at %.3f mm", o.ended, o.ok, o.looks, o.value);
	o = move_from(act, WIDE, 80.7, STATUS_IN_POSITION, 2, 80);
	TEST_CHECK("tolerance 0.05 mm: bit 0.7 mm off does not count",
	    o.ended && o.ok && o.looks == 2 && fabs(o.value - 80) < 1e-6,
	    "ended %d ok %d, %d looks, at %.3f mm", o.ended, o.ok, o.looks, o.value);

	/* ... but never narrower than 0.1 mm: tolerance 0.001 mm */
	o = move_from(act, FINE, 80.05, STATUS_IN_POSITION, 3, 80);
	TEST_CHECK("tolerance 0.001 mm: bit 0.05 mm off counts (0.1 mm floor)",
	    o.ended && o.ok && o.looks == 1 && fabs(o.value - 80.05) < 1e-6,
	    "ended %d ok %d, %d looks, at %.3f mm", o.ended, o.ok, o.looks, o.value);
	o = move_from(act, FINE, 80.2, STATUS_IN_POSITION, 2, 80);
	TEST_CHECK("tolerance 0.001 mm: bit 0.2 mm off does not count",
	    o.ended && o.ok && o.looks == 2 && fabs(o.value - 80) < 1e-6,
	    "ended %d ok %d, %d looks, at %.3f mm", o.ended, o.ok, o.looks, o.value);

	/*
	 * The withdrawal to park after a safe state: the lift rises to safe_z
	 * (5 mm), where it already is; its first look is at once as well.
	 */
	best = INFINITY;
	for (i = 0; i < 3; i++) {
		drive_prepare(DRIVE, 5, STATUS_IN_POSITION, 0);
		cl.done = 0;
		act_safe_state(act, 1);
		TEST_CHECK("park ends", wait_done() == 0 && cl.ok, "ended %d ok %d: %s", cl.done,
		    cl.ok, cl.error);
		ms = first_look_ms(DRIVE);
		best = ms < best ? ms : best;
	}
	printf("info: park: first status look %.3f ms after the go (best of 3)\n", best);
	TEST_CHECK("park: first status look at once after the go", best < AT_ONCE_MS,
	    "%.3f ms after the go, not within %d ms (poll period %d ms)", best, AT_ONCE_MS, POLL_MS);

	/*
	 * What a safe state waits for, as status shows it: first its stop
	 * commands, with its deadline (3 commands x 2 attempts x 600 ms, then
	 * the lift's move limit, 100 mm at 20 mm/s x 2 + 3 s, and 8
	 * transactions of 900 ms: 23.8 s); then the park's move, with the
	 * lift's last reading. Nothing once it has ended.
	 */
	{
		char text[480];

		drive_prepare(DRIVE, 40, 0, 0);		/* stays at 40 mm, never arrives */
		cl.done = 0;
		act_safe_state(act, 1);
		TEST_EQ_INT("a safe state under way waits",
		    act_waiting_text(act, text, sizeof(text)), 1);
		TEST_CONTAINS("... for its stop commands, then the park", text, "the stop and "
		    "off commands: 0 of 3 confirmed, waiting for 'drive', 'wide', 'fine'; then the "
		    "park; gives up in 23.");
		TEST_CHECK("... by its deadline", strstr(text, "gives up in 23.8 s") != NULL ||
		    strstr(text, "gives up in 23.7 s") != NULL, "%s", text);
		loop_timer_at(cl.timeout, loop_now_ns() + 300000000LL);
		while (!cl.done && loop_timer_armed(cl.timeout))
			loop_run(cl.loop);
		act_waiting_text(act, text, sizeof(text));
		TEST_CONTAINS("then for the lift's move, with its last reading", text,
		    "the park: lift 'drive' rising to the safe height 5.0 mm (last read 40.0 mm); "
		    "gives up in");
		/* its own limit ends the move: the time scale makes it 3.1 s */
		act_set_time_scale(act, 100);
		act_safe_state(act, 1);
		TEST_CHECK("a lift that never arrives ends the park", wait_done() == 0 && !cl.ok,
		    "ended %d ok %d", cl.done, cl.ok);
		TEST_CONTAINS("... naming it", cl.error,
		    "axis 'drive' did not reach 5.00 mm in time");
		TEST_EQ_INT("nothing waited for after it",
		    act_waiting_text(act, text, sizeof(text)), 0);
		TEST_STR("... and no text", text, "");
	}

	act_close(act);
	hw_close(hw);
	rig_free(rig);
	test_stops();
	test_then();
	loop_timer_free(cl.timeout);
	loop_free(cl.loop);
	server_stop();
	return TEST_DONE();
}
