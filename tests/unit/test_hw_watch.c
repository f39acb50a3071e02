/*
 * The deadline watcher of a bus: an attempt that libmodbus itself would
 * never end is broken at its deadline all the same. libmodbus's
 * modbus_read_input_bits() is replaced here (this executable's definition
 * comes before the shared library's) by one that never gives up: it waits
 * on the bus's socket with no timeout at all, as a library call that
 * overran its response timeout would. Checked: each such attempt ends
 * within its timeout plus the watcher's grace, the transaction within its
 * deadline, the error says it timed out, the link is reopened for the next
 * request, and hw_close() does not wait for a deadline.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "hw.h"
#include "loop.h"
#include "modbus_server.h"
#include "test.h"

#define TIMEOUT_MS	200	/* the bus's, in the rig below, with 1 retry */
#define SLACK_MS	150	/* scheduling on a loaded machine */

static struct {
	pthread_mutex_t lock;
	int calls;
	int64_t began_ns[4], ended_ns[4];
} fake = { PTHREAD_MUTEX_INITIALIZER, 0, { 0 }, { 0 } };

/* A read that waits on the socket for ever: only a broken fd ends it. */
int
modbus_read_input_bits(modbus_t *ctx, int addr, int nb, uint8_t *dest)
{
	struct pollfd p = { modbus_get_socket(ctx), POLLIN, 0 };
	int call;

	(void)addr;
	(void)nb;
	(void)dest;
	pthread_mutex_lock(&fake.lock);
	call = fake.calls++;
	if (call < 4)
		fake.began_ns[call] = now_ns();
	pthread_mutex_unlock(&fake.lock);
	while (poll(&p, 1, -1) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&fake.lock);
	if (call < 4)
		fake.ended_ns[call] = now_ns();
	pthread_mutex_unlock(&fake.lock);
	errno = ECONNRESET;
	return -1;
}

static void
serve_one(int fd)
{
	uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
	int rc, unit;

	modbus_set_socket(server.ctx, fd);
	if ((rc = modbus_receive(server.ctx, query)) <= 0)
		return;
	unit = query[6];
	if (unit < 1 || unit > SERVER_UNITS)
		return;
	pthread_mutex_lock(&server.lock);
	modbus_reply(server.ctx, query, rc, server.map[unit - 1]);
	pthread_mutex_unlock(&server.lock);
}

static struct {
	struct loop *loop;
	struct hw_result res;
	int done;
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

static int
request(struct hw *hw, int device, enum hw_op op, double value)
{
	struct hw_request req = { device, op, value, 0, 0, 0 };
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
	char text[512];
	struct diag d;
	struct rig *rig = NULL;

	snprintf(text, sizeof(text),
	    "name: t\n"
	    "buses:\n"
	    "  b: {type: tcp, host: 127.0.0.1, port: %d, timeout: %dms, retries: 1}\n"
	    "devices:\n"
	    "  door: {role: input, kind: interlock, bus: b, unit: 1, profile: generic-input}\n"
	    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "         max_flow: 100 mL/min}\n", port, TIMEOUT_MS);
	diag_init(&d, "rig");
	if (rig_load_buffer("rig", text, strlen(text), &d, &rig) == -1)
		rig = NULL;
	diag_free(&d);
	return rig;
}

int
main(void)
{
	struct hw_request req = { 0, HW_READ, 0, 0, 0, 0 };
	struct rig *rig;
	struct hw *hw = NULL;
	char err[512];
	int64_t t0, deadline_ms;
	double first_ms, second_ms, took_ms;

	server_start(serve_one);
	cl.loop = loop_new();
	rig = make_rig(server.port);
	TEST_CHECK("rig loads", rig != NULL, "no rig");
	if (rig == NULL)
		return TEST_DONE();
	TEST_EQ_INT("hw opens", hw_open(rig, cl.loop, &hw, err, sizeof(err)), 0);
	deadline_ms = hw_transaction_ms(hw, 0);
	TEST_EQ_INT("the transaction's deadline: (1 + 1) x 200 + 200 ms", deadline_ms, 600);

	t0 = now_ns();
	TEST_EQ_INT("a read that never ends by itself fails", request(hw, 0, HW_READ, 0), -1);
	took_ms = (now_ns() - t0) / 1e6;
	TEST_EQ_INT("both attempts were made", fake.calls, 2);
	first_ms = (fake.ended_ns[0] - fake.began_ns[0]) / 1e6;
	second_ms = (fake.ended_ns[1] - fake.began_ns[1]) / 1e6;
	TEST_CHECK("the first attempt broken at its timeout plus the grace",
	    first_ms >= TIMEOUT_MS && first_ms < TIMEOUT_MS + 20 + SLACK_MS, "after %.0f ms",
	    first_ms);
	TEST_CHECK("the second too", second_ms >= TIMEOUT_MS * 0.9 &&
	    second_ms < TIMEOUT_MS + 20 + SLACK_MS, "after %.0f ms", second_ms);
	TEST_CHECK("the transaction ends within its deadline",
	    took_ms < deadline_ms + 20 + SLACK_MS, "took %.0f ms", took_ms);
	TEST_CONTAINS("the error says it timed out, naming the device", cl.res.error,
	    "device 'door' (bus b, unit 1): read discrete 0x0000 (active): Connection timed out "
	    "after 2 attempts");
	printf("info: attempts broken after %.1f and %.1f ms; the transaction failed after %.0f ms "
	    "(deadline %lld ms)\n", first_ms, second_ms, took_ms, (long long)deadline_ms);

	TEST_EQ_INT("the link is reopened for the next request", request(hw, 1, HW_PUMP, 5), 0);
	TEST_EQ_INT("... which reached the pump", server.map[1]->tab_registers[2], 1);

	/* closing while an attempt hangs breaks it at once */
	pthread_mutex_lock(&fake.lock);
	fake.calls = 0;
	pthread_mutex_unlock(&fake.lock);
	TEST_EQ_INT("a read submitted", hw_submit(hw, &req, on_done, NULL, err, sizeof(err)), 0);
	for (;;) {
		pthread_mutex_lock(&fake.lock);
		int calls = fake.calls;
		pthread_mutex_unlock(&fake.lock);
		if (calls > 0)
			break;
		usleep(1000);
	}
	t0 = now_ns();
	hw_close(hw);
	took_ms = (now_ns() - t0) / 1e6;
	TEST_CHECK("hw_close does not wait for the deadline", took_ms < 100, "took %.0f ms",
	    took_ms);

	rig_free(rig);
	loop_free(cl.loop);
	server_stop();
	return TEST_DONE();
}
