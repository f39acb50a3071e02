/*
 * The bus queue's priorities (hw/drivers/hw_bus.c) and supervision's
 * schedule (hw/drivers/hw_super.c), in the style of chrony's test/unit: a
 * bus is set up by hand, with no worker thread, and jobs are queued and
 * taken as the worker would, at times the test gives.
 *
 *   - safe-state commands go before everything, timed commands before
 *     polls, first come first served within a priority (unless queued
 *     first, ahead of its priority only), and a safe state's command sent
 *     again goes before timed commands;
 *   - a poll does not start when its own deadline (one attempt, a connect
 *     too when the link is down) could reach the executor's next deadline,
 *     nor until HW_POLL_HOLD_AFTER_MS past it, and the worker is told when
 *     to look again; a timed command queued meanwhile goes at once;
 *   - a timed command released at a moment (hw_request.release_ns) holds the
 *     queue until then (less the worker's learnt wake), and the worker is
 *     told when; what is queued behind it waits, a safe state's command
 *     does not; the wake is learnt within its bound;
 *   - the second of hw_submit_then() holds the queue while its gate is
 *     shut, goes on its release once open, at once once failed;
 *   - the rig file's poll_period and its errors; the default periods by
 *     role, lengthened on a slow RTU line; the budget of a fault.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "hw_private.h"
#include "loop.h"
#include "test.h"

#define MS	1000000LL

static struct rig_bus cfg = { .name = "b", .type = RIG_BUS_TCP, .timeout_ms = 100, .retries = 2 };
static struct hw_bus bus;
static struct hw_job jobs[16];
static int job_count;

static void
bus_init(int connected)
{
	memset(&bus, 0, sizeof(bus));
	bus.cfg = &cfg;
	bus.fd = connected ? 5 : -1;	/* only looked at, never used */
	pthread_mutex_init(&bus.lock, NULL);
	pthread_cond_init(&bus.wake, NULL);
	job_count = 0;
}

static void
bus_fini(void)
{
	pthread_mutex_destroy(&bus.lock);
	pthread_cond_destroy(&bus.wake);
}

/* Queues a job of prio whose tag is id, as hw_submit() would (first: ahead of its kind). */
static void
queue_at(enum hw_prio prio, unsigned id, int first)
{
	struct hw_job *job = &jobs[job_count++];

	memset(job, 0, sizeof(*job));
	job->prio = prio;
	job->req.tag = id;
	hw_bus_queue(&bus, job, first);
}

static void
queue(enum hw_prio prio, unsigned id)
{
	queue_at(prio, id, 0);
}

/* The tags of the jobs taken at now_ns until none is, as "1 2 3"; *wait the last wait. */
static const char *
take_all(int64_t now_ns, int64_t *wait)
{
	static char out[128];
	struct hw_job *job;
	size_t len = 0;

	out[0] = '\0';
	pthread_mutex_lock(&bus.lock);
	while ((job = hw_bus_take_locked(&bus, now_ns, wait)) != NULL)
		len += snprintf(out + len, sizeof(out) - len, "%s%u", len ? " " : "", job->req.tag);
	pthread_mutex_unlock(&bus.lock);
	return out;
}

static void
test_priorities(void)
{
	int64_t wait = -1, now = 1000 * MS;

	bus_init(1);
	queue(HW_PRIO_POLL, 1);
	queue(HW_PRIO_TIMED, 2);
	queue(HW_PRIO_POLL, 3);
	queue(HW_PRIO_SAFE, 4);
	queue(HW_PRIO_TIMED, 5);
	queue(HW_PRIO_SAFE, 6);
	TEST_STR("safe, then timed, then polls, each in order", take_all(now, &wait),
	    "4 6 2 5 1 3");
	TEST_EQ_INT("an empty queue: the worker waits for a job", wait, 0);
	TEST_CHECK("the tail is cleared with the queue", bus.queue_tail == NULL, "tail left");
	/* the tail is where most jobs go: it must stay right after inserts in the middle */
	queue(HW_PRIO_TIMED, 7);
	queue(HW_PRIO_POLL, 8);
	queue(HW_PRIO_TIMED, 9);
	queue(HW_PRIO_POLL, 10);
	TEST_CHECK("the tail is the last poll", bus.queue_tail == &jobs[job_count - 1],
	    "tail is job %u", bus.queue_tail ? bus.queue_tail->req.tag : 0);
	/* a safe state's command sent again (the worker requeues it by priority) */
	queue(HW_PRIO_SAFE, 11);
	TEST_STR("a safe command sent again goes before timed commands", take_all(now, &wait),
	    "11 7 9 8 10");
	/* first: ahead of its own priority, never ahead of a higher one */
	queue(HW_PRIO_SAFE, 1);
	queue(HW_PRIO_TIMED, 2);
	queue(HW_PRIO_POLL, 3);
	queue_at(HW_PRIO_TIMED, 4, 1);
	queue_at(HW_PRIO_POLL, 5, 1);
	TEST_STR("first: ahead of its priority only", take_all(now, &wait), "1 4 2 5 3");
	bus_fini();
}

/* Queues a timed job released at release_ns, like queue(). */
static void
queue_released(unsigned id, int64_t release_ns)
{
	queue(HW_PRIO_TIMED, id);
	jobs[job_count - 1].req.release_ns = release_ns;
}

static void
test_release(void)
{
	int64_t wait = -1, now = 1000 * MS;

	bus_init(1);
	queue_released(1, now + 2 * MS);
	queue(HW_PRIO_TIMED, 2);
	queue(HW_PRIO_POLL, 3);
	TEST_STR("a command released later holds the queue", take_all(now, &wait), "");
	TEST_EQ_INT("... and the worker looks again on its release", wait, now + 2 * MS);
	queue(HW_PRIO_SAFE, 4);
	TEST_STR("a safe state's command goes before it", take_all(now, &wait), "4");
	TEST_STR("a microsecond before its release, still held", take_all(now + 2 * MS - 1000,
	    &wait), "");
	TEST_STR("on its release it goes, then what waited behind it", take_all(now + 2 * MS,
	    &wait), "1 2 3");
	queue_released(5, now);
	queue_released(6, now - MS);
	TEST_STR("a release now or past goes at once", take_all(now, &wait), "5 6");

	/*
	 * The worker's wake from a timed wait ends late: it is taken its
	 * learnt wake ahead of its release (the worker waits out the rest on
	 * the clock), and no sooner.
	 */
	bus.wake_lead_ns = 100000;
	queue_released(7, now + 2 * MS);
	TEST_STR("with a wake learnt, still held before its release less that wake",
	    take_all(now + 2 * MS - 100001, &wait), "");
	TEST_EQ_INT("... and the worker looks again then", wait, now + 2 * MS - 100000);
	TEST_STR("... and taken then", take_all(now + 2 * MS - 100000, &wait), "7");
	bus_fini();
}

/*
 * How far ahead of a release the worker wakes (hw_bus_learn_wake): half of
 * the way up to a later wake, a sixteenth down to an earlier one but at
 * most 2 us, within 0 and HW_RELEASE_SPIN_MAX_US however late a wake
 * comes: it settles at the late end of the wakes, not at their median.
 */
static void
test_learn_wake(void)
{
	int i;

	bus_init(1);
	hw_bus_learn_wake(&bus, 80000);
	TEST_EQ_INT("a late wake: half of the way up", bus.wake_lead_ns, 40000);
	hw_bus_learn_wake(&bus, 4000);
	TEST_EQ_INT("an earlier wake: a sixteenth of the way down, at most 2 us",
	    bus.wake_lead_ns, 38000);
	hw_bus_learn_wake(&bus, -5000);
	TEST_EQ_INT("a wake before its time counts as on time", bus.wake_lead_ns, 36000);
	hw_bus_learn_wake(&bus, 35000);
	TEST_EQ_INT("a wake just inside the lead: a sixteenth of the small difference",
	    bus.wake_lead_ns, 36000 - 1000 / 16);
	hw_bus_learn_wake(&bus, 50LL * MS);
	TEST_EQ_INT("one wake 50 ms late (a stall): it teaches 0.2 ms of it, half of that",
	    bus.wake_lead_ns, 36000 - 1000 / 16 + 100000);
	for (i = 0; i < 100; i++)
		hw_bus_learn_wake(&bus, 50LL * MS);
	TEST_EQ_INT("wakes 50 ms late again and again: never more than the spin's bound",
	    bus.wake_lead_ns, HW_RELEASE_SPIN_MAX_US * 1000LL);
	bus.wake_lead_ns = 0;
	for (i = 0; i < 200; i++)
		hw_bus_learn_wake(&bus, i % 5 == 0 ? 200000 : 60000);
	TEST_CHECK("wakes 60 us late, one in five 200 us: the lead settles at the late ones",
	    bus.wake_lead_ns > 180000 && bus.wake_lead_ns <= 200000, "%lld ns",
	    (long long)bus.wake_lead_ns);
	bus.wake_lead_ns = 0;
	for (i = 0; i < 2000; i++)
		hw_bus_learn_wake(&bus, i % 20 == 0 ? 300000 : 50000);
	/* up (300 - L) / 2 once, down 19 x 2 us: it stands between 224 and 262 us */
	TEST_CHECK("one wake in twenty 300 us late, the rest 50 us: well above the median",
	    bus.wake_lead_ns > 200000 && bus.wake_lead_ns < 300000, "%lld ns",
	    (long long)bus.wake_lead_ns);
	bus_fini();
}

/*
 * The worker's spin to a release (hw_bus_spin_to) ends on its moment, or
 * at once when a safe state interrupts the bus: the safe state's commands
 * do not wait out a spin of up to HW_RELEASE_SPIN_MAX_US.
 */
static struct {
	int64_t release_ns, ended_ns;
	int rc;
} spinner;

static void *
spin_thread(void *arg)
{
	(void)arg;
	spinner.rc = hw_bus_spin_to(&bus, spinner.release_ns);
	spinner.ended_ns = loop_now_ns();
	return NULL;
}

static void
test_spin_to(void)
{
	pthread_t thread;
	int64_t t0, release;
	int rc;

	bus_init(1);
	release = loop_now_ns() + 2 * MS;
	rc = hw_bus_spin_to(&bus, release);
	TEST_CHECK("a spin ends on its moment, not before", rc == 0 && loop_now_ns() >= release,
	    "rc %d, %lld ns from the moment", rc, (long long)(loop_now_ns() - release));
	bus.interrupted = 1;
	t0 = loop_now_ns();
	/* a moment 10 s away: the spin would last that long if it did not look */
	rc = hw_bus_spin_to(&bus, t0 + 10000LL * MS);
	TEST_CHECK("an interrupted bus: the spin ends at once", rc == 1 &&
	    loop_now_ns() - t0 < 5000LL * MS, "rc %d after %lld ms", rc,
	    (long long)((loop_now_ns() - t0) / MS));
	/* the safe state comes from another thread while the worker spins */
	bus.interrupted = 0;
	bus.job_running = 1;
	spinner.rc = -1;
	spinner.release_ns = loop_now_ns() + 10000LL * MS;
	if (pthread_create(&thread, NULL, spin_thread, NULL) != 0) {
		TEST_CHECK("a spinning worker thread", 0, "pthread_create failed");
		bus_fini();
		return;
	}
	nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	t0 = loop_now_ns();
	hw_bus_interrupt(&bus);
	pthread_join(thread, NULL);
	TEST_CHECK("hw_bus_interrupt() from another thread ends the worker's spin at once",
	    spinner.rc == 1 && spinner.ended_ns - t0 < 5000LL * MS, "rc %d, %lld ms after it",
	    spinner.rc, (long long)((spinner.ended_ns - t0) / MS));
	bus_fini();
}

static void
test_deadline(void)
{
	int64_t wait = -1, now = 1000 * MS;
	/* one attempt (T = 100 ms) and the margin: a poll needs that much before the deadline */
	int64_t need = (100 + HW_POLL_MARGIN_MS) * MS;

	TEST_EQ_INT("a poll's deadline, connected: T + F", hw_bus_poll_ms(&cfg, 1), 100);
	TEST_EQ_INT("a poll's deadline, connecting first: 2T + F", hw_bus_poll_ms(&cfg, 0), 200);

	bus_init(1);
	bus.next_deadline_ns = now + need + MS;
	queue(HW_PRIO_POLL, 1);
	TEST_STR("a poll that ends before the deadline starts", take_all(now, &wait), "1");

	queue(HW_PRIO_POLL, 2);
	bus.next_deadline_ns = now + need - MS;
	TEST_STR("a poll that could reach the deadline waits", take_all(now, &wait), "");
	TEST_EQ_INT("... until HW_POLL_HOLD_AFTER_MS past the deadline", wait,
	    bus.next_deadline_ns + HW_POLL_HOLD_AFTER_MS * MS);
	queue(HW_PRIO_TIMED, 3);
	TEST_STR("a timed command queued behind it goes at once, alone",
	    take_all(now, &wait), "3");
	TEST_STR("the deadline passed: the executor's commands still go first",
	    take_all(bus.next_deadline_ns + (HW_POLL_HOLD_AFTER_MS - 1) * MS, &wait), "");
	TEST_STR("the executor set no next deadline: the poll goes after the hold",
	    take_all(bus.next_deadline_ns + HW_POLL_HOLD_AFTER_MS * MS, &wait), "2");

	queue(HW_PRIO_POLL, 4);
	bus.next_deadline_ns = now + 2 * need;
	TEST_STR("the executor moved the deadline on: the poll goes", take_all(now, &wait), "4");

	queue(HW_PRIO_POLL, 5);
	bus.next_deadline_ns = 0;
	TEST_STR("no deadline (no batch): polls go at once", take_all(now, &wait), "5");
	bus_fini();

	/* a link to open first doubles what a poll may take */
	bus_init(0);
	queue(HW_PRIO_POLL, 6);
	bus.next_deadline_ns = now + need + 50 * MS;
	TEST_STR("not connected: a poll needs a connect's time too", take_all(now, &wait), "");
	bus.next_deadline_ns = now + need + 110 * MS;
	TEST_STR("not connected: a poll with time for both starts", take_all(now, &wait), "6");
	bus_fini();
}

/* ---- the rig file and the periods ---- */

static struct rig *
load(const char *devices, char *diag_out, size_t size)
{
	char text[2048];
	struct diag d;
	struct rig *rig = NULL;
	char *out;

	snprintf(text, sizeof(text),
	    "name: t\n"
	    "buses:\n"
	    "  tcp: {type: tcp, host: 127.0.0.1, port: 1502, timeout: 200ms, retries: 2}\n"
	    "  slow: {type: rtu, device: /dev/null, baud: 9600, timeout: 300ms, retries: 1}\n"
	    "devices:\n%s", devices);
	diag_init(&d, "rig.yaml");
	if (rig_load_buffer("rig.yaml", text, strlen(text), &d, &rig) == 0 &&
	    profile_check_rig(rig, &d) == -1) {
		rig_free(rig);
		rig = NULL;
	}
	out = diag_render(&d);
	snprintf(diag_out, size, "%s", out ? out : "");
	free(out);
	diag_free(&d);
	return rig;
}

static void
expect_error(const char *name, const char *device, const char *message)
{
	char out[1024];
	struct rig *rig = load(device, out, sizeof(out));

	TEST_CHECK(name, rig == NULL, "accepted");
	TEST_CONTAINS(name, out, message);
	rig_free(rig);
}

static void
test_periods(void)
{
	static const char devices[] =
	    "  pump: {role: pump, kind: peristaltic, bus: tcp, unit: 1, profile: generic-pump, max_flow: 10 mL/min}\n"
	    "  fast: {role: pump, kind: peristaltic, bus: tcp, unit: 2, profile: generic-pump, max_flow: 10 mL/min, poll_period: 40ms}\n"
	    "  lift: {role: axis, kind: lift, bus: tcp, unit: 3, profile: generic-drive, travel: {min: 0 mm, max: 100 mm}, max_speed: 10 mm/s, max_accel: 100 mm/s2}\n"
	    "  valve: {role: valve, kind: valve, bus: tcp, unit: 4, profile: generic-valve}\n"
	    "  gauge: {role: sensor, kind: thickness, bus: tcp, unit: 5, profile: generic-sensor}\n"
	    "  rtu-pump: {role: pump, kind: peristaltic, bus: slow, unit: 1, profile: generic-pump, max_flow: 10 mL/min}\n"
	    "  estop: {role: input, kind: estop, bus: tcp, unit: 6, profile: generic-input}\n";
	struct loop *loop = loop_new();
	struct hw *hw = NULL;
	struct rig *rig;
	char out[1024], err[512];

	rig = load(devices, out, sizeof(out));
	TEST_CHECK("a rig with poll_period loads", rig != NULL, "%s", out);
	if (rig == NULL || loop == NULL) {
		loop_free(loop);
		return;
	}
	if (hw_open(rig, loop, &hw, err, sizeof(err)) == -1) {
		TEST_CHECK("hw opens", 0, "%s", err);
		rig_free(rig);
		loop_free(loop);
		return;
	}
	TEST_EQ_INT("a pump on TCP: 250 ms", hw_poll_period_ms(hw, rig_device_index(rig, "pump")), 250);
	TEST_EQ_INT("poll_period given: 40 ms", hw_poll_period_ms(hw, rig_device_index(rig, "fast")), 40);
	TEST_EQ_INT("an axis: 500 ms", hw_poll_period_ms(hw, rig_device_index(rig, "lift")), 500);
	TEST_EQ_INT("a valve with a state: 500 ms", hw_poll_period_ms(hw, rig_device_index(rig, "valve")), 500);
	TEST_EQ_INT("a sensor: 1000 ms", hw_poll_period_ms(hw, rig_device_index(rig, "gauge")), 1000);
	/*
	 * 9600 baud 8N1: 28 characters a read (21 on the wire, 2 x 3.5 of
	 * silence) x 10 bits = 29.2 ms; its volume, running and alarm lie
	 * together (input 0-2) and go in one read: x 20 = 584 ms, so polling
	 * takes a twentieth of the line.
	 */
	TEST_EQ_INT("a pump on 9600-baud RTU: lengthened to 584 ms",
	    hw_poll_period_ms(hw, rig_device_index(rig, "rtu-pump")), 584);
	TEST_EQ_INT("an input is not polled by supervision (it has its own)",
	    hw_poll_period_ms(hw, rig_device_index(rig, "estop")), 0);
	/* the budget: the period and one transaction, (R + 1) x T + T */
	TEST_EQ_INT("a pump's budget: 250 + 3 x 200 + 200 ms",
	    hw_supervise_budget_ms(hw, rig_device_index(rig, "pump")), 1050);
	TEST_EQ_INT("no batch: no device in supervision", hw_supervise(hw, NULL), 0);
	hw_close(hw);
	rig_free(rig);
	loop_free(loop);

	expect_error("poll_period on a GPIO line",
	    "  n2: {role: valve, kind: valve, gpio: {chip: c, line: L1}, poll_period: 1s}\n",
	    "'poll_period' is for a Modbus device");
	expect_error("poll_period on an input",
	    "  e: {role: input, kind: estop, bus: tcp, unit: 1, profile: generic-input, poll_period: 1s}\n",
	    "inputs are polled all the time");
	expect_error("poll_period too short",
	    "  p: {role: pump, kind: peristaltic, bus: tcp, unit: 1, profile: generic-pump, max_flow: 1 mL/min, poll_period: 5ms}\n",
	    "'poll_period': expected 20ms to 60s");
	expect_error("poll_period too long",
	    "  p: {role: pump, kind: peristaltic, bus: tcp, unit: 1, profile: generic-pump, max_flow: 1 mL/min, poll_period: 2min}\n",
	    "'poll_period': expected 20ms to 60s");
}

/*
 * The second of hw_submit_then() at the head of the queue: it and all
 * behind it wait while its gate is shut (the worker waits untimed: the
 * first's end wakes it); opened, it goes, still not before its release; a
 * failed gate lets it be taken at once, release or not, to be answered
 * unsent. A safe state's command goes before it regardless.
 */
static void
test_gate(void)
{
	struct hw_gate gate = { .state = HW_GATE_SHUT, .bus = &bus, .refs = 2 };
	int64_t wait = -1, now = 1000 * MS;

	bus_init(1);
	queue(HW_PRIO_TIMED, 1);
	jobs[0].waits = &gate;
	queue(HW_PRIO_TIMED, 2);
	queue(HW_PRIO_POLL, 3);
	TEST_STR("a shut gate holds its job and those behind it", take_all(now, &wait), "");
	TEST_EQ_INT("... and the worker waits to be woken", wait, 0);
	queue(HW_PRIO_SAFE, 4);
	TEST_STR("a safe state's command goes before it", take_all(now, &wait), "4");
	/* a watchdog's feed or write behind it goes past it meanwhile; a command does not */
	queue(HW_PRIO_TIMED, 5);
	jobs[job_count - 1].req.op = HW_FEED;
	queue(HW_PRIO_TIMED, 6);
	jobs[job_count - 1].req.op = HW_WATCHDOG;
	TEST_STR("a feed and a watchdog write go past a shut gate, nothing else",
	    take_all(now, &wait), "5 6");
	TEST_CHECK("... the tail is the poll again", bus.queue_tail != NULL &&
	    bus.queue_tail->req.tag == 3, "tail %u", bus.queue_tail ? bus.queue_tail->req.tag : 0);
	queue(HW_PRIO_TIMED, 7);
	jobs[job_count - 1].req.op = HW_FEED;
	TEST_STR("a feed queued last goes past it too", take_all(now, &wait), "7");
	TEST_CHECK("... the tail is the poll again", bus.queue_tail != NULL &&
	    bus.queue_tail->req.tag == 3, "tail %u", bus.queue_tail ? bus.queue_tail->req.tag : 0);
	gate.state = HW_GATE_OPEN;
	jobs[0].req.release_ns = now + 5 * MS;
	TEST_STR("opened, it still waits for its release", take_all(now, &wait), "");
	TEST_EQ_INT("... and the worker is told when", wait, now + 5 * MS);
	TEST_STR("at its release it goes, then the rest", take_all(now + 5 * MS, &wait), "1 2 3");
	queue_released(8, now + 5 * MS);
	jobs[job_count - 1].waits = &gate;
	gate.state = HW_GATE_FAILED;
	TEST_STR("a failed gate: taken at once, its release not waited for", take_all(now, &wait),
	    "8");
	bus_fini();
}

int
main(void)
{
	test_priorities();
	test_release();
	test_gate();
	test_learn_wake();
	test_spin_to();
	test_deadline();
	test_periods();
	return TEST_DONE();
}
