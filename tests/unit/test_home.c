/*
 * Homing (daemon/home.c) in chrony's style: the module's .c is included,
 * the event loop's timer, the hardware layer's hw_submit() and actuation's
 * two calls are stubbed, with a fake monotonic clock. Checks the order
 * (the lift first), what counts as homed (the flag; busy clear without
 * one), each way homing fails (an alarm, the deadline, a lost answer, an
 * e-stop), and the refusal of a batch naming the unhomed axes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "hw.h"
#include "loop.h"
#include "test.h"

/* ---- the loop: timers fired by hand (fake_loop.h) ---- */

#include "fake_loop.h"

/* ---- the hardware, stubbed: the last request waits for an answer by hand ---- */

static struct hw_request last_req;
static hw_done_cb last_done;
static void *last_arg;
static int submitted;

int
hw_submit(struct hw *hw, const struct hw_request *req, hw_done_cb done, void *arg, char *err,
    size_t err_size)
{
	(void)hw;
	(void)err;
	(void)err_size;
	last_req = *req;
	last_done = done;
	last_arg = arg;
	submitted++;
	return 0;
}

/* ---- actuation, stubbed ---- */

static int safety_active;
static int noted_device = -1;
static double noted_mm = NAN;

int
act_safety_active(const struct act *act, char *why, size_t why_size)
{
	(void)act;
	if (safety_active)
		snprintf(why, why_size, "e-stop 'estop' engaged");
	return safety_active;
}

void
act_note_position(struct act *act, int device, double position_mm)
{
	(void)act;
	noted_device = device;
	noted_mm = position_mm;
}

#include "home.c"

/* ---- helpers ---- */

static int done_calls, done_ok;
static char done_error[400];

static void
on_done(void *arg, int ok, const char *error)
{
	(void)arg;
	done_calls++;
	done_ok = ok;
	snprintf(done_error, sizeof(done_error), "%s", error ? error : "");
}

/* Moves the fake clock to the timer's deadline (not back) and fires it; 0 if not armed. */
static int
fire(struct home *h)
{
	return fake_fire(h->timer);
}

/* Answers the last request: ok, and an axis's status flags and position. */
static void
answer(int ok, int busy, int homed, int alarm, double position_mm)
{
	struct hw_result res = { .ok = ok, .busy = busy, .in_position = -1, .alarm = alarm,
		.running = -1, .homed = homed, .position_mm = position_mm };

	if (!ok)
		snprintf(res.error, sizeof(res.error), "timed out");
	last_done(last_arg, &last_req, &res);
}

/* transfer first in the file: the lift must still home first */
static const char rig_text[] =
    "name: t\n"
    "buses:\n"
    "  b: {type: tcp, host: 127.0.0.1, port: 1502}\n"
    "devices:\n"
    "  transfer: {role: axis, kind: transfer, bus: b, unit: 2, profile: generic-drive, travel: {min: 0 mm, max: 800 mm}, max_speed: 200 mm/s, home: command}\n"
    "  lift: {role: axis, kind: lift, bus: b, unit: 1, profile: generic-drive, travel: {min: 0 mm, max: 150 mm}, max_speed: 50 mm/s, home: startup}\n"
    "  turn: {role: axis, kind: rotation, bus: b, unit: 3, profile: generic-drive, travel: {min: 0 mm, max: 10 mm}, max_speed: 5 mm/s}\n"
    "motion: {lift: lift, transfer: transfer, safe_z: 20 mm}\n";

static struct rig *
load_rig(const char *text)
{
	struct rig *rig = NULL;
	struct diag d;

	diag_init(&d, "rig.yaml");
	rig_load_buffer("rig.yaml", text, strlen(text), &d, &rig);
	TEST_CHECK("test rig loads", rig != NULL, "%d errors", d.errors);
	diag_free(&d);
	return rig;
}

static void
test_order_and_flags(struct rig *rig)
{
	struct home *h = home_new(NULL, rig, NULL);
	int lift = rig_device_index(rig, "lift"), transfer = rig_device_index(rig, "transfer");
	int first = -1;
	char why[600], err[200], text[300];

	TEST_CHECK("home_new", h != NULL, "NULL");
	if (h == NULL)
		return;
	TEST_EQ_INT("an axis without 'home' is not tracked", home_homed(h, 2), -1);
	TEST_EQ_INT("the lift starts unhomed", home_homed(h, lift), 0);
	TEST_EQ_INT("a batch is refused", home_check_batch(h, &first, why, sizeof(why)), -1);
	TEST_CONTAINS("naming each axis and its setting", why,
	    "'transfer' (home: command), 'lift' (home: startup) are not homed");
	TEST_CONTAINS("and lblctl home", why, "home them with 'lblctl home'");
	TEST_EQ_INT("not a first-batch homing", first, 0);
	home_status_text(h, text, sizeof(text));
	TEST_STR("status text", text, "transfer NOT homed (home: command), lift NOT homed "
	    "(home: startup)");

	TEST_EQ_INT("home every axis the rig homes", home_start(h, (struct act *)h, NULL, 0,
	    on_done, NULL, err, sizeof(err)), 0);
	TEST_EQ_INT("nothing sent before the loop runs", submitted, 0);
	TEST_EQ_INT("a second homing is refused", home_start(h, NULL, NULL, 0, on_done, NULL, err,
	    sizeof(err)), -1);
	TEST_CONTAINS("saying why", err, "already under way");
	fire(h);
	TEST_CHECK("the lift homes first", last_req.device == lift && last_req.op == HW_HOME,
	    "device %d op %d", last_req.device, last_req.op);
	answer(1, -1, -1, -1, NAN);
	TEST_CHECK("then its status is read", fire(h) && last_req.op == HW_STATUS &&
	    last_req.device == lift, "op %d", last_req.op);
	answer(1, 1, 0, 0, 70);
	home_status_text(h, text, sizeof(text));
	TEST_CONTAINS("status says homing", text, "lift homing");
	fire(h);
	/* busy clear but the flag not yet set: a drive with a flag is homed by its flag */
	answer(1, 0, 0, 0, 0.5);
	TEST_EQ_INT("busy clear is not homed when the drive has a homed flag", home_homed(h, lift),
	    0);
	fire(h);
	answer(1, 0, 1, 0, 0);
	TEST_EQ_INT("homed by its flag", home_homed(h, lift), 1);
	TEST_CHECK("actuation told where the lift is", noted_device == lift && noted_mm == 0,
	    "device %d at %g", noted_device, noted_mm);
	/* the next axis's command goes straight from the answer */
	TEST_CHECK("then the transfer", last_req.device == transfer && last_req.op == HW_HOME,
	    "device %d op %d", last_req.device, last_req.op);
	answer(1, -1, -1, -1, NAN);
	fire(h);
	answer(1, 1, 0, 1, 400);
	TEST_CHECK("an alarm fails homing at once", done_calls == 1 && !done_ok,
	    "%d calls, ok %d", done_calls, done_ok);
	TEST_STR("naming the axis", done_error, "axis 'transfer' reports an alarm while homing");
	TEST_EQ_INT("the transfer stays unhomed", home_homed(h, transfer), 0);
	TEST_EQ_INT("no longer busy", home_busy(h), 0);
	TEST_EQ_INT("the timer is off", (int)(h->timer->at >= 0), 0);
	TEST_EQ_INT("still refused", home_check_batch(h, NULL, why, sizeof(why)), -1);
	TEST_CONTAINS("for the transfer only", why, "'transfer' (home: command) is not homed: "
	    "a batch needs its position known; home it with 'lblctl home'");

	/* a flag read by a probe counts */
	{
		struct hw_result res = { .ok = 1, .homed = 1, .busy = 0 };
		home_note_status(h, transfer, &res);
	}
	TEST_EQ_INT("a probe's homed flag counts", home_check_batch(h, NULL, why, sizeof(why)), 0);
	home_free(h);
}

static void
test_ways_to_fail(struct rig *rig)
{
	struct home *h = home_new(NULL, rig, NULL);
	const char *transfer[] = { "transfer" }, *bad[] = { "turnx" }, *lift[] = { "lift" };
	char err[200];
	int64_t start;

	if (h == NULL)
		return;
	home_set_time_scale(h, 1);
	TEST_EQ_INT("an unknown axis is refused", home_start(h, NULL, bad, 1, on_done, NULL, err,
	    sizeof(err)), -1);
	TEST_STR("naming it", err, "'turnx' is not an axis of rig t");
	safety_active = 1;
	TEST_EQ_INT("refused while an e-stop is engaged", home_start(h, (struct act *)h, lift, 1,
	    on_done, NULL, err, sizeof(err)), -1);
	TEST_CONTAINS("saying so", err, "e-stop 'estop' engaged: nothing may move");
	safety_active = 0;

	/* the deadline: 800 mm at 200 mm/s is 4 s; twice that plus the margin */
	done_calls = 0;
	start = fake_now_ns;
	home_start(h, NULL, transfer, 1, on_done, NULL, err, sizeof(err));
	fire(h);
	answer(1, -1, -1, -1, NAN);
	while (done_calls == 0 && fire(h))
		answer(1, 1, 0, 0, 400);
	TEST_CHECK("a drive that never reports homed fails", done_calls == 1 && !done_ok, "%d",
	    done_calls);
	TEST_CONTAINS("at its deadline", done_error, "did not report homed within 13.0 s");
	TEST_CHECK("twice its travel time plus the margin, not much later",
	    fake_now_ns - start >= (int64_t)(8000 + HOME_MARGIN_MS) * 1000000 &&
	    fake_now_ns - start <= (int64_t)(8000 + HOME_MARGIN_MS + 200) * 1000000,
	    "%lld ms", (long long)((fake_now_ns - start) / 1000000));

	/* a lost answer (a safe state dropped the request): the timer still ends it */
	done_calls = 0;
	home_start(h, NULL, transfer, 1, on_done, NULL, err, sizeof(err));
	fire(h);
	TEST_CHECK("the lost answer's watchdog is armed", fire(h), "no timer");
	TEST_CHECK("and ends the homing", done_calls == 1 && !done_ok, "%d", done_calls);
	TEST_CONTAINS("saying why", done_error, "homing interrupted");

	/* the e-stop mid-homing */
	done_calls = 0;
	home_start(h, NULL, transfer, 1, on_done, NULL, err, sizeof(err));
	fire(h);
	answer(1, -1, -1, -1, NAN);
	home_abort(h, "e-stop 'estop' engaged");
	TEST_CHECK("aborted", done_calls == 1 && !done_ok, "%d", done_calls);
	TEST_STR("naming the axis and the cause", done_error,
	    "axis 'transfer': homing stopped: e-stop 'estop' engaged");
	/* its status answer comes late: ignored */
	answer(1, 0, 1, 0, 0);
	TEST_EQ_INT("a late answer changes nothing", home_homed(h, rig_device_index(rig,
	    "transfer")), 0);
	home_free(h);
}

/* first-batch, and a drive without a homed flag: busy clear is homed */
static void
test_first_batch(void)
{
	static const char text[] =
	    "name: t\n"
	    "buses:\n"
	    "  b: {type: tcp, host: 127.0.0.1, port: 1502}\n"
	    "devices:\n"
	    "  lift: {role: axis, kind: lift, bus: b, unit: 1, profile: generic-drive, travel: {min: 0 mm, max: 150 mm}, max_speed: 50 mm/s, home: first-batch}\n";
	struct rig *rig = load_rig(text);
	struct home *h;
	char why[400], err[200];
	int first = 0;

	if (rig == NULL || (h = home_new(NULL, rig, NULL)) == NULL) {
		rig_free(rig);
		return;
	}
	TEST_EQ_INT("first-batch: refused as such", home_check_batch(h, &first, why,
	    sizeof(why)), -1);
	TEST_EQ_INT("the first run homes", first, 1);
	home_first_batch_tried(h);
	home_check_batch(h, &first, why, sizeof(why));
	TEST_EQ_INT("once only: then on command", first, 0);
	done_calls = 0;
	home_start(h, NULL, NULL, 0, on_done, NULL, err, sizeof(err));
	fire(h);
	answer(1, -1, -1, -1, NAN);
	fire(h);
	answer(1, 1, -1, 0, 30);
	TEST_EQ_INT("busy: not yet", home_homed(h, 0), 0);
	fire(h);
	answer(1, 0, -1, 0, 0);
	TEST_EQ_INT("no flag: busy clear is homed", home_homed(h, 0), 1);
	TEST_CHECK("done, ok", done_calls == 1 && done_ok, "%d calls, ok %d", done_calls, done_ok);
	TEST_EQ_INT("a batch may start", home_check_batch(h, NULL, why, sizeof(why)), 0);
	home_free(h);
	rig_free(rig);
}

int
main(void)
{
	struct rig *rig = load_rig(rig_text);

	if (rig != NULL) {
		test_order_and_flags(rig);
		test_ways_to_fail(rig);
		rig_free(rig);
	}
	test_first_batch();
	return TEST_DONE();
}
