/*
 * The Modbus side of the hardware layer against a small libmodbus TCP
 * server running in a thread: register encoding on the wire, status
 * decoding, exceptions and timeouts named in errors, reconnection, and the
 * safe state breaking a hung transaction at once.
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
#include "test.h"


static struct {
	int silent_unit;		/* requests to this unit get no answer */
	int exception_unit;		/* ... or an exception 4 */
	int64_t pump_stop_ns;		/* when unit 2 was told to stop */
} srv;

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
	if (unit == srv.silent_unit || unit < 1 || unit > SERVER_UNITS) {
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
} cl;

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
	TEST_EQ_INT("pump runs", request(hw, 1, HW_PUMP, 12.5, 0), 0);
	TEST_EQ_INT("flow register", server.map[1]->tab_registers[0], 1250);
	TEST_EQ_INT("run command", server.map[1]->tab_registers[2], 1);
	request(hw, 1, HW_PUMP, 0, 0);
	TEST_EQ_INT("flow 0 stops", server.map[1]->tab_registers[2], 0);

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
		TEST_CHECK("pump stop within 10 ms of the safe state",
		    srv.pump_stop_ns - begin < 10000000LL, "took %.3f ms",
		    (srv.pump_stop_ns - begin) / 1e6);
		TEST_EQ_INT("the hung request is dropped, not reported", cl.done, 0);
		TEST_EQ_INT("safe state reports the lift that did not answer", cl.safe_ok, 0);
		TEST_CONTAINS("the cause names the lift", cl.safe_error, "device 'lift'");
		printf("info: safe state: pump stopped %.3f ms after the call\n",
		    (srv.pump_stop_ns - begin) / 1e6);
		srv.silent_unit = 0;
	}
	TEST_EQ_INT("requests work after the safe state", request(hw, 0, HW_STATUS, 0, 0), 0);

	hw_close(hw);
	rig_free(rig);
	loop_free(cl.loop);
	server_stop();
	return TEST_DONE();
}
