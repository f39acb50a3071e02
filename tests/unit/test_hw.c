/*
 * The Modbus side of the hardware layer against a small libmodbus TCP
 * server running in a thread: register encoding on the wire, status
 * decoding, exceptions and timeouts named in errors, reconnection, and the
 * safe state breaking a hung transaction at once. Deadlines: a unit that
 * trickles its answer a byte at a time (each gap well inside libmodbus's
 * byte timeout) or sends half a frame fails within its transaction's
 * deadline; in the safe state a trickling pump costs the lift's stop one
 * attempt, not its whole answer, and goes again after it; a connect to a
 * port that never answers (its accept queue full) ends at the timeout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "hw.h"
#include "hw_private.h"
#include "loop.h"
#include "modbus_server.h"
#include "test.h"


#define MS_NS		1000000LL
#define TRICKLES	16	/* trickled answers a test may start */

static struct {
	int silent_unit;		/* requests to this unit get no answer */
	int exception_unit;		/* ... or an exception 4 */
	int trickle_unit;		/* ... or its answer one byte every trickle_ms */
	int trickle_ms;
	int half_unit;			/* ... or the first half of its answer, no more */
	int64_t pump_stop_ns;		/* when unit 2 was told to stop */
	int64_t lift_stop_ns;		/* when unit 1 was told to stop */
	int pump_stops;			/* stop requests to unit 2 ... */
	int64_t pump_stop_at[4];	/* ... and when each came */
	pthread_t trickles[TRICKLES];
	int trickle_count;
} srv;

/* A trickled answer, sent by its own thread so the server goes on serving. */
struct trickle {
	int fd;				/* a dup of the connection's */
	uint8_t bytes[MODBUS_TCP_MAX_ADU_LENGTH];
	int len, gap_ms;
};

static void *
trickle_main(void *arg)
{
	struct trickle *t = arg;
	struct timespec gap = { t->gap_ms / 1000, (t->gap_ms % 1000) * 1000000L };
	int i;

	for (i = 0; i < t->len; i++) {
		if (i > 0)
			nanosleep(&gap, NULL);
		/* the client gave up and closed: the rest is not wanted */
		if (send(t->fd, &t->bytes[i], 1, MSG_NOSIGNAL) != 1)
			break;
	}
	close(t->fd);
	free(t);
	return NULL;
}

/* The answer libmodbus builds for query, caught through a socket pair. */
static int
capture_reply(const uint8_t *query, int len, modbus_mapping_t *map, uint8_t *out, size_t size)
{
	int pair[2], n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
		return -1;
	modbus_set_socket(server.ctx, pair[0]);
	n = modbus_reply(server.ctx, query, len, map);
	if (n > 0)
		n = (int)read(pair[1], out, size);
	close(pair[0]);
	close(pair[1]);
	return n;
}

static void
serve_slowly(int fd, const uint8_t *query, int len, int unit)
{
	struct trickle *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return;
	t->len = capture_reply(query, len, server.map[unit - 1], t->bytes, sizeof(t->bytes));
	if (t->len <= 0 || unit == srv.half_unit) {
		if (t->len > 0 && send(fd, t->bytes, (size_t)t->len / 2, MSG_NOSIGNAL) == -1)
			perror("half an answer");
		free(t);
		return;
	}
	t->gap_ms = srv.trickle_ms;
	if ((t->fd = dup(fd)) == -1 || srv.trickle_count == TRICKLES ||
	    pthread_create(&srv.trickles[srv.trickle_count], NULL, trickle_main, t) != 0) {
		if (t->fd != -1)
			close(t->fd);
		free(t);
		return;
	}
	srv.trickle_count++;
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
	pthread_mutex_lock(&server.lock);
	/* unit 1 is the lift: HR 4 written 3 means stop; unit 2 the pump: HR 2 written 0 */
	if (unit == 1 && query[7] == 0x06 && query[9] == 4 && query[11] == 3 &&
	    srv.lift_stop_ns == 0)
		srv.lift_stop_ns = now_ns();
	if (unit == 2 && query[7] == 0x06 && query[9] == 2 && query[11] == 0 &&
	    srv.pump_stops < 4)
		srv.pump_stop_at[srv.pump_stops++] = now_ns();
	if (unit == srv.silent_unit || unit < 1 || unit > SERVER_UNITS) {
		pthread_mutex_unlock(&server.lock);
		return;
	}
	if (unit == srv.trickle_unit || unit == srv.half_unit) {
		serve_slowly(fd, query, rc, unit);
		pthread_mutex_unlock(&server.lock);
		return;
	}
	if (unit == srv.exception_unit) {
		pthread_mutex_unlock(&server.lock);
		modbus_reply_exception(server.ctx, query, MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE);
		return;
	}
	modbus_reply(server.ctx, query, rc, server.map[unit - 1]);
	/* unit 2 is the pump: HR 2 written 0 means stop */
	if (unit == 2 && query[7] == 0x06 && query[8] == 0 && query[9] == 2 &&
	    query[10] == 0 && query[11] == 0 && srv.pump_stop_ns == 0)
		srv.pump_stop_ns = now_ns();
	pthread_mutex_unlock(&server.lock);
}

/* ---- the client side: one request at a time through the loop ---- */

static struct {
	struct loop *loop;
	struct hw_result res;
	int done;
	int safe_done, safe_ok;
	int64_t safe_done_ns;
	char safe_error[256];
	struct hw_result safe_res[3];	/* per device, through hw_set_safe_cb */
	int safe_reported[3];
} cl;

static void
on_safe_device(void *arg, int device, const struct hw_result *res)
{
	(void)arg;
	if (device >= 0 && device < 3) {
		cl.safe_res[device] = *res;
		cl.safe_reported[device]++;
	}
}

static void
on_done(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	(void)arg;
	(void)req;
	cl.res = *res;
	cl.done = 1;
	loop_stop(cl.loop);
}

static void
on_safe(void *arg, int ok, const char *error)
{
	(void)arg;
	cl.safe_done = 1;
	cl.safe_ok = ok;
	cl.safe_done_ns = now_ns();
	snprintf(cl.safe_error, sizeof(cl.safe_error), "%s", error ? error : "");
	loop_stop(cl.loop);
}

static int
request(struct hw *hw, int device, enum hw_op op, double value, double speed)
{
	struct hw_request req = { device, op, value, speed, 0 };
	char err[256];

	cl.done = 0;
	if (hw_submit(hw, &req, on_done, NULL, err, sizeof(err)) == -1) {
		snprintf(cl.res.error, sizeof(cl.res.error), "%s", err);
		return -1;
	}
	loop_run(cl.loop);
	return cl.res.ok ? 0 : -1;
}

/* request() in a stage: HW_ARM writes the setpoints (read back), HW_FIRE the trigger. */
static int
request_staged(struct hw *hw, int device, enum hw_op op, double value, double speed,
    enum hw_stage stage)
{
	struct hw_request req = { device, op, value, speed, 0 };
	char err[256];

	req.stage = stage;
	cl.done = 0;
	if (hw_submit(hw, &req, on_done, NULL, err, sizeof(err)) == -1) {
		snprintf(cl.res.error, sizeof(cl.res.error), "%s", err);
		return -1;
	}
	loop_run(cl.loop);
	return cl.res.ok ? 0 : -1;
}

/*
 * Whether a start can be armed, on a rig whose second pump's profile has
 * its run command in its flow register (its start carries the setpoint).
 */
static void
test_can_arm(void)
{
	static const char text[] =
	    "name: t\n"
	    "buses:\n"
	    "  b: {type: tcp, host: 127.0.0.1, port: 1, timeout: 300ms}\n"
	    "profiles:\n"
	    "  joint-pump:\n"
	    "    role: pump\n"
	    "    ops:\n"
	    "      flow: {table: holding, address: 0, type: uint16, scale: 0.01}\n"
	    "      run:  {table: holding, address: 0, write: 1}\n"
	    "      stop: {table: holding, address: 1, write: 0}\n"
	    "devices:\n"
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 100 mL/min}\n"
	    "  joint: {role: pump, kind: peristaltic, bus: b, unit: 3, profile: joint-pump,\n"
	    "          max_flow: 100 mL/min}\n"
	    "  n2: {role: valve, kind: valve, gpio: {chip: lbl-test-no-such-chip, line: L1}}\n";
	struct hw_request req = { 0, HW_PUMP, 10, 0, 0 };
	struct rig *rig = NULL;
	struct hw *hw = NULL;
	struct diag d;
	char why[256];

	diag_init(&d, "rig");
	rig_load_buffer("rig", text, strlen(text), &d, &rig);
	diag_free(&d);
	TEST_CHECK("can_arm: rig loads", rig != NULL, "no rig");
	if (rig == NULL)
		return;
	if (hw_open(rig, cl.loop, &hw, why, sizeof(why)) == -1) {
		TEST_CHECK("can_arm: hw opens", 0, "%s", why);
		rig_free(rig);
		return;
	}
	TEST_EQ_INT("can_arm: a pump's run", hw_can_arm(hw, &req, why, sizeof(why)), 1);
	req.value = 0;
	TEST_EQ_INT("can_arm: not a stop", hw_can_arm(hw, &req, why, sizeof(why)), 0);
	req.device = 1;
	req.value = 10;
	TEST_EQ_INT("can_arm: not a start that carries its setpoint",
	    hw_can_arm(hw, &req, why, sizeof(why)), 0);
	TEST_CONTAINS("can_arm: which says why", why, "device 'joint': profile 'joint-pump' "
	    "has its 'run' in the register of its 'flow' (holding 0x0000)");
	req.stage = HW_ARM;
	TEST_EQ_INT("can_arm: such an arm is refused, nothing sent",
	    hw_submit(hw, &req, on_done, NULL, why, sizeof(why)), -1);
	req.device = 0;
	req.op = HW_OUTPUT;
	req.value = 1;
	req.stage = HW_WHOLE;
	TEST_EQ_INT("can_arm: only a move or a run", hw_can_arm(hw, &req, why, sizeof(why)), 0);
	/* a release (hw_request.release_ns) is for timed Modbus requests only */
	req.op = HW_PUMP;
	req.value = 10;
	req.release_ns = loop_now_ns() + 1000000000LL;
	TEST_EQ_INT("release: a poll cannot wait for a moment",
	    hw_submit_poll(hw, &req, on_done, NULL, why, sizeof(why)), -1);
	TEST_CONTAINS("release: which says why", why, "device 'pump': only a timed Modbus "
	    "request can be released at a moment");
	req.device = 2;
	req.op = HW_OUTPUT;
	req.value = 1;
	TEST_EQ_INT("release: nor a GPIO line, set when commanded",
	    hw_submit(hw, &req, on_done, NULL, why, sizeof(why)), -1);
	TEST_CONTAINS("release: which says so", why, "device 'n2': only a timed Modbus");
	hw_close(hw);
	rig_free(rig);
}

static struct {
	int level;			/* the last level the input callback gave */
} input = { -1 };

static void
on_input(void *arg, int device, int active)
{
	(void)arg;
	(void)device;
	input.level = active;
}

static void
on_tick(void *arg)
{
	loop_stop(arg);
}

/* Runs the loop for ms (input polls and their results come through it). */
static void
run_for_ms(int ms)
{
	struct loop_timer *t = loop_timer_new(cl.loop, on_tick, cl.loop);

	if (t == NULL)
		return;
	loop_timer_at(t, now_ns() + (int64_t)ms * 1000000);
	loop_run(cl.loop);
	loop_timer_free(t);
}

/* Milliseconds since t0. */
static double
ms_since(int64_t t0)
{
	return (now_ns() - t0) / 1e6;
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
	    "         travel: {min: 0 mm, max: 100 mm}, max_speed: 20 mm/s, max_accel: 200 mm/s2}\n"
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 100 mL/min}\n"
	    "  qcm: {role: sensor, kind: qcm, bus: b, unit: 3, profile: generic-sensor}\n",
	    port);
	diag_init(&d, "rig");
	rig_load_buffer("rig", text, strlen(text), &d, &rig);
	diag_free(&d);
	return rig;
}

/* ---- hw_submit_then(): a request following another on the buses ---- */

static struct {
	struct hw_result first, then;
	int first_done, then_done;
} chain;

static void
on_chain(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	(void)req;
	if (arg == &chain.first) {
		chain.first = *res;
		chain.first_done++;
	} else {
		chain.then = *res;
		chain.then_done++;
	}
	if (chain.first_done && chain.then_done)
		loop_stop(cl.loop);
}

/* Submits first then then (hw_submit_then) afresh: 0, or -1 with err. */
static int
chain_submit(struct hw *hw, const struct hw_request *first, const struct hw_request *then,
    char *err, size_t err_size)
{
	memset(&chain, 0, sizeof(chain));
	return hw_submit_then(hw, first, on_chain, &chain.first, then, on_chain, &chain.then, err,
	    err_size);
}

/* Runs the loop until both answered, or ms passed. */
static void
chain_wait(int ms)
{
	int64_t end = now_ns() + (int64_t)ms * 1000000;

	while ((!chain.first_done || !chain.then_done) && now_ns() < end)
		run_for_ms(20);
}

/*
 * The pump (unit 2) on bus p, the lift (unit 1) and the sensor (unit 3)
 * on bus l, both buses to the test's server: the second request of
 * hw_submit_then() waits for the first on another bus's worker, goes
 * without the loop between them, is answered unsent when the first fails,
 * and a safe state drops both.
 */
static void
test_then(void)
{
	char text[1024], err[512];
	struct hw_request pump_stop = { 1, HW_PUMP, 0, 0, 0 };
	struct hw_request lift_stop = { 0, HW_STOP, 0, 0, 0 };
	struct hw_request go = { 0, HW_MOVE, 42, 5, 0 };
	struct hw_request bad = { 1, HW_OUTPUT, 1, 0, 0 };
	struct rig *rig = NULL;
	struct hw *hw = NULL;
	struct diag d;
	int64_t begin, gap_ns;
	uint16_t *hr = server.map[0]->tab_registers;

	snprintf(text, sizeof(text),
	    "name: t2\n"
	    "buses:\n"
	    "  p: {type: tcp, host: 127.0.0.1, port: %d, timeout: 300ms, retries: 1}\n"
	    "  l: {type: tcp, host: 127.0.0.1, port: %d, timeout: 300ms, retries: 1}\n"
	    "devices:\n"
	    "  lift: {role: axis, kind: lift, bus: l, unit: 1, profile: generic-drive,\n"
	    "         travel: {min: 0 mm, max: 100 mm}, max_speed: 20 mm/s, max_accel: 200 mm/s2}\n"
	    "  pump: {role: pump, kind: peristaltic, bus: p, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 100 mL/min}\n"
	    "  qcm: {role: sensor, kind: qcm, bus: l, unit: 3, profile: generic-sensor}\n",
	    server.port, server.port);
	diag_init(&d, "rig");
	rig_load_buffer("rig", text, strlen(text), &d, &rig);
	diag_free(&d);
	TEST_CHECK("a rig of two buses opens", rig != NULL && hw_open(rig, cl.loop, &hw, err,
	    sizeof(err)) == 0, "%s", rig == NULL ? "no rig" : err);
	if (hw == NULL) {
		rig_free(rig);
		return;
	}

	/* the pump answers a byte every 10 ms: the lift's stop waits for it on its own bus */
	pthread_mutex_lock(&server.lock);
	srv.lift_stop_ns = 0;
	srv.trickle_unit = 2;
	srv.trickle_ms = 10;
	pthread_mutex_unlock(&server.lock);
	TEST_EQ_INT("two requests on two buses are queued", chain_submit(hw, &pump_stop,
	    &lift_stop, err, sizeof(err)), 0);
	chain_wait(3000);
	pthread_mutex_lock(&server.lock);
	srv.trickle_unit = 0;
	pthread_mutex_unlock(&server.lock);
	TEST_CHECK("both answered ok", chain.first_done == 1 && chain.then_done == 1 &&
	    chain.first.ok && chain.then.ok, "%d %d: %s / %s", chain.first_done,
	    chain.then_done, chain.first.error, chain.then.error);
	gap_ns = chain.then.sent_ns - chain.first.sent_ns;
	TEST_CHECK("the second went once the first's answer (11 bytes, 10 ms apart) was in",
	    gap_ns >= 100 * MS_NS, "%.1f ms after the first", gap_ns / 1e6);
	TEST_CHECK("... and the device saw it after that", srv.lift_stop_ns >=
	    chain.first.sent_ns + 100 * MS_NS, "%.1f ms after the first",
	    (srv.lift_stop_ns - chain.first.sent_ns) / 1e6);

	/*
	 * No turn of the loop between them: this thread, the loop's, sleeps
	 * 200 ms after the submit; the second went while it slept.
	 */
	TEST_EQ_INT("queued again", chain_submit(hw, &pump_stop, &lift_stop, err, sizeof(err)), 0);
	usleep(200000);
	begin = now_ns();
	chain_wait(3000);
	gap_ns = chain.then.sent_ns - chain.first.sent_ns;
	TEST_CHECK("the second followed the first while the loop slept", chain.then.ok &&
	    gap_ns > 0 && chain.then.sent_ns < begin && gap_ns < 100 * MS_NS,
	    "%.1f ms after the first, %.1f ms before the loop ran", gap_ns / 1e6,
	    (begin - chain.then.sent_ns) / 1e6);
	printf("info: a request following another on a second bus went %.3f ms after it\n",
	    gap_ns / 1e6);

	/* its own release still holds it */
	lift_stop.release_ns = now_ns() + 50 * MS_NS;
	TEST_EQ_INT("a released second is queued", chain_submit(hw, &pump_stop, &lift_stop, err,
	    sizeof(err)), 0);
	chain_wait(3000);
	TEST_CHECK("... and goes on its release, not before", chain.then.ok &&
	    chain.then.sent_ns >= lift_stop.release_ns, "%.3f ms early",
	    (lift_stop.release_ns - chain.then.sent_ns) / 1e6);
	lift_stop.release_ns = 0;

	/* the first fails: the second is answered, never sent */
	pthread_mutex_lock(&server.lock);
	srv.exception_unit = 2;
	srv.lift_stop_ns = 0;
	pthread_mutex_unlock(&server.lock);
	TEST_EQ_INT("queued with a failing first", chain_submit(hw, &pump_stop, &lift_stop, err,
	    sizeof(err)), 0);
	chain_wait(3000);
	pthread_mutex_lock(&server.lock);
	srv.exception_unit = 0;
	pthread_mutex_unlock(&server.lock);
	TEST_CHECK("the first failed", chain.first_done == 1 && !chain.first.ok, "%s",
	    chain.first.error);
	TEST_CHECK("the second was answered failed", chain.then_done == 1 && !chain.then.ok,
	    "%d", chain.then_done);
	TEST_CONTAINS("... naming both devices", chain.then.error, "device 'lift': not sent: the "
	    "command it follows, to device 'pump', failed");
	TEST_EQ_INT("... never sent", chain.then.sent_ns, 0);
	TEST_EQ_INT("... and the device never saw it", srv.lift_stop_ns, 0);

	/* a safe state while the first hangs: neither answers, the second never goes */
	pthread_mutex_lock(&server.lock);
	srv.silent_unit = 2;
	hr[4] = 0;
	pthread_mutex_unlock(&server.lock);
	TEST_EQ_INT("queued with a silent first", chain_submit(hw, &pump_stop, &go, err,
	    sizeof(err)), 0);
	run_for_ms(50);
	cl.safe_done = 0;
	hw_safe_state(hw, on_safe, NULL);
	while (!cl.safe_done)
		loop_run(cl.loop);
	pthread_mutex_lock(&server.lock);
	srv.silent_unit = 0;
	pthread_mutex_unlock(&server.lock);
	run_for_ms(400);
	TEST_EQ_INT("a safe state drops both unheard", chain.first_done + chain.then_done, 0);
	TEST_CHECK("the move never went (its go not written)", hr[4] != 1, "go written");

	/* one that does not suit its device queues nothing */
	pthread_mutex_lock(&server.lock);
	srv.pump_stop_ns = 0;
	pthread_mutex_unlock(&server.lock);
	TEST_EQ_INT("a second a pump cannot do is refused", chain_submit(hw, &pump_stop, &bad, err,
	    sizeof(err)), -1);
	TEST_CONTAINS("... saying why", err, "device 'pump' is a pump: it cannot do that");
	run_for_ms(100);
	TEST_EQ_INT("... and the first was not sent", (long long)srv.pump_stop_ns, 0);
	TEST_EQ_INT("... nor answered", chain.first_done + chain.then_done, 0);

	/* queued between the two on the second's bus: it goes before the second there */
	{
		struct hw_request read = { 2, HW_READ, 0, 0, 0 };
		struct hw_gate *gate = NULL;

		memset(&chain, 0, sizeof(chain));
		cl.done = 0;
		TEST_EQ_INT("a gate opened", hw_submit_opening(hw, &pump_stop, on_chain,
		    &chain.first, &gate, err, sizeof(err)), 0);
		TEST_EQ_INT("a read between", hw_submit(hw, &read, on_done, NULL, err, sizeof(err)),
		    0);
		TEST_EQ_INT("the second after the gate", hw_submit_after(hw, gate, &lift_stop,
		    on_chain, &chain.then, err, sizeof(err)), 0);
		chain_wait(3000);
		while (!cl.done)
			run_for_ms(20);
		TEST_CHECK("... the read went before the second", cl.res.ok && chain.then.ok &&
		    cl.res.sent_ns < chain.then.sent_ns, "read at %lld, second at %lld",
		    (long long)cl.res.sent_ns, (long long)chain.then.sent_ns);

		/* a safe state between the two: the gate is refused, nothing goes */
		memset(&chain, 0, sizeof(chain));
		TEST_EQ_INT("a gate opened again", hw_submit_opening(hw, &pump_stop, on_chain,
		    &chain.first, &gate, err, sizeof(err)), 0);
		cl.safe_done = 0;
		hw_safe_state(hw, on_safe, NULL);
		TEST_EQ_INT("after a safe state the second is refused", hw_submit_after(hw, gate,
		    &go, on_chain, &chain.then, err, sizeof(err)), -1);
		TEST_CONTAINS("... saying why", err, "a safe state came after the command it was "
		    "to follow");
		hw_gate_release(gate);
		while (!cl.safe_done)
			loop_run(cl.loop);
		run_for_ms(100);
		TEST_EQ_INT("... and neither answers", chain.first_done + chain.then_done, 0);
	}

	/*
	 * A safe state begun (its epoch stored) on a bus its interruption has
	 * not reached yet: what that bus's worker takes from then on is not
	 * sent. Here the pump's run waits behind a trickled stop; the epoch
	 * moves on as hw_safe_state() moves it first.
	 */
	{
		struct hw_request run = { 1, HW_PUMP, 33, 0, 0 };

		pthread_mutex_lock(&server.lock);
		srv.trickle_unit = 2;
		srv.trickle_ms = 10;
		server.map[1]->tab_registers[0] = 0;
		pthread_mutex_unlock(&server.lock);
		memset(&chain, 0, sizeof(chain));
		TEST_EQ_INT("a stop that trickles", hw_submit(hw, &pump_stop, on_chain, &chain.first,
		    err, sizeof(err)), 0);
		TEST_EQ_INT("a run behind it", hw_submit(hw, &run, on_chain, &chain.then, err,
		    sizeof(err)), 0);
		run_for_ms(30);
		__atomic_store_n(&hw->epoch, hw->epoch + 1000, __ATOMIC_RELEASE);
		run_for_ms(400);
		pthread_mutex_lock(&server.lock);
		srv.trickle_unit = 0;
		pthread_mutex_unlock(&server.lock);
		TEST_CHECK("a request taken after the epoch moved on is not sent",
		    server.map[1]->tab_registers[0] != 3300, "the run's flow was written");
		TEST_EQ_INT("... and neither is answered (both stale)", chain.first_done +
		    chain.then_done, 0);
	}

	/* on one bus: the sensor's read follows the lift's stop */
	TEST_EQ_INT("two requests on one bus", chain_submit(hw, &lift_stop,
	    &(struct hw_request){ 2, HW_READ, 0, 0, 0 }, err, sizeof(err)), 0);
	chain_wait(3000);
	TEST_CHECK("... both answered, in order", chain.first.ok && chain.then.ok &&
	    chain.then.sent_ns > chain.first.sent_ns, "%s / %s", chain.first.error,
	    chain.then.error);

	hw_close(hw);
	rig_free(rig);
}

int
main(void)
{
	struct rig *rig;
	struct hw *hw = NULL;
	uint16_t *hr, *ir;
	char err[512];
	int64_t t0;
	float f = 4999986.0f;
	uint32_t u;

	server_start(serve_one);
	cl.loop = loop_new();
	rig = make_rig(server.port);
	TEST_CHECK("rig loads", rig != NULL, "no rig");
	if (rig == NULL)
		return TEST_DONE();
	TEST_EQ_INT("hw opens", hw_open(rig, cl.loop, &hw, err, sizeof(err)), 0);

	/* a move: speed, target (int32, high word first, µm), go */
	hr = server.map[0]->tab_registers;
	TEST_EQ_INT("move commanded", request(hw, 0, HW_MOVE, 12.345, 10), 0);
	TEST_EQ_INT("target high word", hr[0], 0);
	TEST_EQ_INT("target low word: 12345 µm", hr[1], 12345);
	TEST_EQ_INT("speed in 0.1 mm/s", hr[2], 100);
	TEST_EQ_INT("go command written", hr[4], 1);
	request(hw, 0, HW_MOVE, -1.5, 0);
	TEST_EQ_INT("negative target, two's complement high", hr[0], 0xFFFF);
	TEST_EQ_INT("negative target low", hr[1], 0xFA24);
	TEST_EQ_INT("speed 0: the rig's max_speed", hr[2], 200);

	/* status: position and bits of the status word */
	ir = server.map[0]->tab_input_registers;
	ir[0] = 0;
	ir[1] = 40000;
	ir[2] = 0x2;		/* in position */
	TEST_EQ_INT("status read", request(hw, 0, HW_STATUS, 0, 0), 0);
	TEST_NEAR("position decoded", cl.res.position_mm, 40.0, 1e-9);
	TEST_EQ_INT("in position", cl.res.in_position, 1);
	TEST_EQ_INT("not busy", cl.res.busy, 0);
	TEST_EQ_INT("no alarm", cl.res.alarm, 0);
	ir[2] = 0x5;
	request(hw, 0, HW_STATUS, 0, 0);
	TEST_EQ_INT("busy bit", cl.res.busy, 1);
	TEST_EQ_INT("alarm bit", cl.res.alarm, 1);

	/* pump: direction, flow in 0.01 mL/min, run */
	t0 = loop_now_ns();
	TEST_EQ_INT("pump runs", request(hw, 1, HW_PUMP, 12.5, 0), 0);
	TEST_EQ_INT("flow register", server.map[1]->tab_registers[0], 1250);
	TEST_EQ_INT("run command", server.map[1]->tab_registers[2], 1);
	TEST_CHECK("the result says when its first request went out", cl.res.sent_ns >= t0 &&
	    cl.res.sent_ns <= loop_now_ns(), "%lld ns after the submit",
	    (long long)(cl.res.sent_ns - t0));
	{
		/* released at a moment: its bus sends it then, not when queued */
		struct hw_request req = { 1, HW_PUMP, 0, 0, 0 };

		req.release_ns = loop_now_ns() + 30000000LL;
		cl.done = 0;
		TEST_EQ_INT("a released stop is queued", hw_submit(hw, &req, on_done, NULL, err,
		    sizeof(err)), 0);
		loop_run(cl.loop);
		TEST_CHECK("... and sent on its release, not before", cl.done && cl.res.ok &&
		    cl.res.sent_ns >= req.release_ns, "sent %lld ns from its release",
		    (long long)(cl.res.sent_ns - req.release_ns));
	}
	request(hw, 1, HW_PUMP, 0, 0);
	TEST_EQ_INT("flow 0 stops", server.map[1]->tab_registers[2], 0);

	/*
	 * Arm, then fire: the arm writes direction and flow (read back) and
	 * not run; the fire writes run alone. A move's arm writes speed and
	 * target, not go; its fire go alone.
	 */
	server.map[1]->tab_registers[0] = 0;
	server.map[1]->tab_registers[1] = 7;
	TEST_EQ_INT("arm: a pump's setpoints", request_staged(hw, 1, HW_PUMP, 33.5, 0, HW_ARM), 0);
	TEST_EQ_INT("arm: flow written", server.map[1]->tab_registers[0], 3350);
	TEST_EQ_INT("arm: direction written", server.map[1]->tab_registers[1], 0);
	TEST_EQ_INT("arm: not run", server.map[1]->tab_registers[2], 0);
	TEST_EQ_INT("fire: the run alone", request_staged(hw, 1, HW_PUMP, 33.5, 0, HW_FIRE), 0);
	TEST_EQ_INT("fire: run written", server.map[1]->tab_registers[2], 1);
	server.map[1]->tab_input_registers[2] = 0x1;	/* running */
	server.map[1]->tab_registers[0] = 1000;
	TEST_EQ_INT("arm: a pump that runs is left alone",
	    request_staged(hw, 1, HW_PUMP, 20, 0, HW_ARM), 0);
	TEST_EQ_INT("arm: ... and says so", cl.res.running, 1);
	TEST_EQ_INT("arm: ... its flow untouched", server.map[1]->tab_registers[0], 1000);
	server.map[1]->tab_input_registers[2] = 0;
	request(hw, 1, HW_PUMP, 0, 0);
	hr[4] = 0;
	TEST_EQ_INT("arm: a move's setpoints", request_staged(hw, 0, HW_MOVE, 20, 5, HW_ARM), 0);
	TEST_EQ_INT("arm: target written", hr[1], 20000);
	TEST_EQ_INT("arm: speed written", hr[2], 50);
	TEST_EQ_INT("arm: not go", hr[4], 0);
	TEST_EQ_INT("fire: go alone", request_staged(hw, 0, HW_MOVE, 20, 5, HW_FIRE), 0);
	TEST_EQ_INT("fire: go written", hr[4], 1);

	/* float32 sensor */
	memcpy(&u, &f, sizeof(u));
	server.map[2]->tab_input_registers[0] = (uint16_t)(u >> 16);
	server.map[2]->tab_input_registers[1] = (uint16_t)u;
	TEST_EQ_INT("sensor read", request(hw, 2, HW_READ, 0, 0), 0);
	TEST_NEAR("float32 value", cl.res.value, 4999986.0, 0.5);

	/* requests that do not suit the device are refused up front */
	TEST_EQ_INT("a pump cannot move", request(hw, 1, HW_MOVE, 1, 1), -1);
	TEST_CONTAINS("refusal says why", cl.res.error, "device 'pump' is a pump");

	/* an exception is reported at once, naming device, bus, unit, register */
	srv.exception_unit = 3;
	TEST_EQ_INT("exception fails the request", request(hw, 2, HW_READ, 0, 0), -1);
	TEST_CONTAINS("exception message", cl.res.error,
	    "device 'qcm' (bus b, unit 3): read input 0x0000 (value):");
	srv.exception_unit = 0;

	/* a silent device times out after the retries */
	srv.silent_unit = 3;
	t0 = now_ns();
	TEST_EQ_INT("silent device fails", request(hw, 2, HW_READ, 0, 0), -1);
	TEST_CONTAINS("timeout message", cl.res.error, "Connection timed out after 2 attempts");
	TEST_CHECK("two timeouts of 300 ms, no more", now_ns() - t0 > 550000000LL &&
	    now_ns() - t0 < 1500000000LL, "took %lld ms", (long long)((now_ns() - t0) / 1000000));
	srv.silent_unit = 0;
	TEST_EQ_INT("the bus recovers (reconnect)", request(hw, 2, HW_READ, 0, 0), 0);

	/*
	 * The safe state while a transaction hangs: the lift stops answering,
	 * a status read is in flight; hw_safe_state() must break it and stop
	 * the pump within a few milliseconds, not after the 300 ms timeout.
	 */
	{
		struct hw_request req = { 0, HW_STATUS, 0, 0, 0 };
		int64_t begin;

		/* the pump runs: its stop must not wait for the hung lift */
		TEST_EQ_INT("pump runs before the hang", request(hw, 1, HW_PUMP, 20, 0), 0);
		srv.silent_unit = 1;
		srv.pump_stop_ns = 0;
		cl.done = 0;
		hw_submit(hw, &req, on_done, NULL, err, sizeof(err));
		usleep(30000);		/* the read is now waiting for its answer */
		cl.safe_done = 0;
		begin = now_ns();
		hw_safe_state(hw, on_safe, NULL);
		while (!cl.safe_done)
			loop_run(cl.loop);
		TEST_CHECK("pump stopped while the lift hung", srv.pump_stop_ns > 0, "never");
		/*
		 * The property: the stop does not wait for the hung read's 300 ms
		 * timeout (it takes well under a millisecond on an idle machine;
		 * a third of the timeout leaves room for a loaded one).
		 */
		TEST_CHECK("pump stop well before the hung read's timeout (< 100 ms)",
		    srv.pump_stop_ns - begin < 100000000LL, "took %.3f ms",
		    (srv.pump_stop_ns - begin) / 1e6);
		TEST_EQ_INT("the hung request is dropped, not reported", cl.done, 0);
		TEST_EQ_INT("safe state reports the lift that did not answer", cl.safe_ok, 0);
		TEST_CONTAINS("the cause names the lift", cl.safe_error, "device 'lift'");
		printf("info: safe state: pump stopped %.3f ms after the call\n",
		    (srv.pump_stop_ns - begin) / 1e6);
		srv.silent_unit = 0;
	}
	TEST_EQ_INT("requests work after the safe state", request(hw, 0, HW_STATUS, 0, 0), 0);
	/*
	 * A pump lbld knows is off (its stop just confirmed) goes after
	 * motion: its stop only confirms, and on one line it must not hold a
	 * running output's. So with the lift silent, it comes after the lift's
	 * attempt (300 ms), never before.
	 */
	{
		int64_t begin;

		srv.silent_unit = 1;
		srv.pump_stop_ns = 0;
		cl.safe_done = 0;
		begin = now_ns();
		hw_safe_state(hw, on_safe, NULL);
		while (!cl.safe_done)
			loop_run(cl.loop);
		TEST_CHECK("a pump known off is stopped too", srv.pump_stop_ns > 0, "never");
		TEST_CHECK("... after the axis, whose attempt took 300 ms",
		    srv.pump_stop_ns - begin > 250000000LL, "after %.3f ms",
		    (srv.pump_stop_ns - begin) / 1e6);
		srv.silent_unit = 0;
	}
	TEST_EQ_INT("requests work after that safe state", request(hw, 0, HW_STATUS, 0, 0), 0);

	/*
	 * Deadlines: the bus has a 300 ms timeout and 1 retry, so a
	 * transaction ends within (1 + 1) x 300 + 300 = 900 ms. A QCM read is
	 * answered in 13 bytes, one every 60 ms: 780 ms an attempt if only
	 * the gaps were bounded (libmodbus's byte timeout is 500 ms), a
	 * success after 780 ms. It must fail instead, each attempt at 300 ms.
	 */
	TEST_EQ_INT("the deadline of a transaction", hw_transaction_ms(hw, 2), 900);
	TEST_EQ_INT("the deadline of a safe state's command", hw_safe_command_ms(hw, 2), 600);
	TEST_EQ_INT("the bound of a safe state: 2 commands x 2 attempts x 600 ms",
	    hw_safe_state_ms(hw), 2400);
	srv.trickle_unit = 3;
	srv.trickle_ms = 60;
	t0 = now_ns();
	TEST_EQ_INT("a trickled answer fails", request(hw, 2, HW_READ, 0, 0), -1);
	TEST_CHECK("a trickled answer fails within the transaction's deadline",
	    ms_since(t0) >= 550 && ms_since(t0) < 900 + 200, "took %.0f ms", ms_since(t0));
	TEST_CONTAINS("... naming device, bus, unit and register", cl.res.error,
	    "device 'qcm' (bus b, unit 3): read input 0x0000 (value): Connection timed out after "
	    "2 attempts");
	printf("info: a 13-byte answer trickled at 60 ms a byte failed after %.0f ms\n",
	    ms_since(t0));
	srv.trickle_unit = 0;
	srv.half_unit = 3;
	t0 = now_ns();
	TEST_EQ_INT("half an answer fails", request(hw, 2, HW_READ, 0, 0), -1);
	TEST_CHECK("half an answer fails within the transaction's deadline",
	    ms_since(t0) >= 550 && ms_since(t0) < 900 + 200, "took %.0f ms", ms_since(t0));
	TEST_CONTAINS("... timed out", cl.res.error, "Connection timed out after 2 attempts");
	srv.half_unit = 0;
	TEST_EQ_INT("the bus answers after the trickle", request(hw, 2, HW_READ, 0, 0), 0);

	/*
	 * The safe state with a trickling pump: the pump's stop is first
	 * (outputs before motion) and gets one attempt of 300 ms, then the
	 * lift's stop goes out; the pump's goes again after it and is
	 * reported, having failed both attempts.
	 */
	{
		int64_t begin;

		srv.trickle_unit = 2;
		srv.trickle_ms = 100;	/* 12 bytes: 1.2 s the answer */
		srv.lift_stop_ns = 0;
		srv.pump_stops = 0;
		memset(cl.safe_reported, 0, sizeof(cl.safe_reported));
		hw_set_safe_cb(hw, on_safe_device, NULL);
		cl.safe_done = 0;
		begin = now_ns();
		hw_safe_state(hw, on_safe, NULL);
		while (!cl.safe_done)
			loop_run(cl.loop);
		TEST_CHECK("the lift's stop came one attempt after the trickling pump's",
		    srv.lift_stop_ns > 0 && (srv.lift_stop_ns - begin) / 1e6 < 300 + 150,
		    "after %.0f ms", (srv.lift_stop_ns - begin) / 1e6);
		TEST_EQ_INT("the pump's stop went twice (1 + retries)", srv.pump_stops, 2);
		TEST_CHECK("the pump's second stop came after the lift's",
		    srv.pump_stops == 2 && srv.pump_stop_at[1] > srv.lift_stop_ns, "before it");
		TEST_EQ_INT("the lift's stop confirmed", cl.safe_res[0].ok, 1);
		TEST_EQ_INT("the pump's stop reported once", cl.safe_reported[1], 1);
		TEST_CONTAINS("the pump's stop not confirmed, after its 2 attempts",
		    cl.safe_res[1].error, "device 'pump' (bus b, unit 2): write holding 0x0002 "
		    "(stop): Connection timed out after 2 attempts");
		TEST_EQ_INT("the safe state reports the failure", cl.safe_ok, 0);
		TEST_CHECK("the safe state ends within its bound",
		    (cl.safe_done_ns - begin) / 1e6 < hw_safe_state_ms(hw) + 200, "took %.0f ms",
		    (cl.safe_done_ns - begin) / 1e6);
		printf("info: safe state with a trickling pump: the lift stopped %.0f ms after the "
		    "call, done after %.0f ms\n", (srv.lift_stop_ns - begin) / 1e6,
		    (cl.safe_done_ns - begin) / 1e6);
		hw_set_safe_cb(hw, NULL, NULL);
		srv.trickle_unit = 0;
	}
	TEST_EQ_INT("requests work after it", request(hw, 1, HW_PUMP, 0, 0), 0);

	hw_close(hw);
	rig_free(rig);

	/*
	 * A connect that is never answered: a port whose accept queue is full
	 * drops the SYN, as a black-holed address does. The request fails at
	 * the bus's timeout, not the kernel's two minutes of SYN retries.
	 */
	{
		struct sockaddr_in a = { .sin_family = AF_INET,
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t alen = sizeof(a);
		int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4], i, nfill = 0;

		TEST_CHECK("a listening socket", lfd != -1 && bind(lfd, (struct sockaddr *)&a,
		    sizeof(a)) == 0 && listen(lfd, 0) == 0 && getsockname(lfd,
		    (struct sockaddr *)&a, &alen) == 0, "%s", strerror(errno));
		/* fill its accept queue: later SYNs are dropped */
		for (i = 0; i < 4; i++) {
			fill[nfill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fill[nfill] == -1)
				break;
			if (connect(fill[nfill], (struct sockaddr *)&a, sizeof(a)) == -1 &&
			    errno != EINPROGRESS) {
				close(fill[nfill]);
				break;
			}
			nfill++;
			usleep(20000);
		}
		rig = make_rig(ntohs(a.sin_port));
		hw = NULL;
		TEST_EQ_INT("hw opens on the full port", hw_open(rig, cl.loop, &hw, err,
		    sizeof(err)), 0);
		t0 = now_ns();
		TEST_EQ_INT("the connect fails", request(hw, 2, HW_READ, 0, 0), -1);
		TEST_CHECK("the connect fails at the timeout (300 ms)",
		    ms_since(t0) >= 250 && ms_since(t0) < 300 + 200, "took %.0f ms", ms_since(t0));
		TEST_CONTAINS("... naming device, bus and address", cl.res.error,
		    "device 'qcm': bus b: cannot connect to 127.0.0.1:");
		TEST_CONTAINS("... as timed out", cl.res.error, "Connection timed out");
		printf("info: a connect never answered failed after %.0f ms: %s\n", ms_since(t0),
		    cl.res.error);
		hw_close(hw);
		rig_free(rig);
		for (i = 0; i < nfill; i++)
			close(fill[i]);
		close(lfd);
	}

	/*
	 * A Modbus e-stop input is polled on through a safe state: the read
	 * in flight when it came (the unit silent, so it hangs) is dropped
	 * with everything else, and the next poll must still go out.
	 */
	{
		static const char text[] =
		    "name: t\n"
		    "buses:\n"
		    "  b: {type: tcp, host: 127.0.0.1, port: %d, timeout: 300ms, retries: 1}\n"
		    "devices:\n"
		    "  estop: {role: input, kind: estop, bus: b, unit: 3,\n"
		    "          profile: generic-input}\n";
		char buf[512];
		struct diag d;
		int64_t end;

		snprintf(buf, sizeof(buf), text, server.port);
		diag_init(&d, "rig");
		rig = NULL;
		rig_load_buffer("rig", buf, strlen(buf), &d, &rig);
		diag_free(&d);
		hw = NULL;
		TEST_CHECK("an input rig opens", rig != NULL && hw_open(rig, cl.loop, &hw, err,
		    sizeof(err)) == 0, "%s", err);
		if (hw != NULL) {
			pthread_mutex_lock(&server.lock);
			server.map[2]->tab_input_bits[0] = 0;
			pthread_mutex_unlock(&server.lock);
			hw_set_input_cb(hw, on_input, NULL);
			hw_poll_inputs(hw, 1, 20);
			end = now_ns() + 2000000000LL;
			while (hw_input_level(hw, 0) != 0 && now_ns() < end)
				run_for_ms(20);
			TEST_EQ_INT("the input is read released", hw_input_level(hw, 0), 0);
			pthread_mutex_lock(&server.lock);
			srv.silent_unit = 3;
			pthread_mutex_unlock(&server.lock);
			run_for_ms(60);		/* a poll read now hangs */
			hw_safe_state(hw, NULL, NULL);
			pthread_mutex_lock(&server.lock);
			srv.silent_unit = 0;
			server.map[2]->tab_input_bits[0] = 1;
			pthread_mutex_unlock(&server.lock);
			end = now_ns() + 2000000000LL;
			while (input.level != 1 && now_ns() < end)
				run_for_ms(20);
			TEST_EQ_INT("pressed after the safe state, the input is polled and seen",
			    input.level, 1);
			hw_close(hw);
		}
		rig_free(rig);
	}

	test_can_arm();
	test_then();
	loop_free(cl.loop);
	server_stop();
	for (int i = 0; i < srv.trickle_count; i++)
		pthread_join(srv.trickles[i], NULL);
	return TEST_DONE();
}
