/*
 * Manual control's limit checks (daemon/manual.c): every target, speed,
 * flow and rpm against the rig file, each refusal naming the limit and its
 * value; and the rig file's 'manual: {max_on}' with its default and bounds.
 */
#include <stdlib.h>

#include "conf.h"
#include "lbl_limits.h"
#include "manual.h"
#include "rig.h"
#include "test.h"

/* A stub: manual.o tells lbld's followers of its changes (requests.c, not linked here). */
void lbld_status_told(struct lbld *l);
void
lbld_status_told(struct lbld *l)
{
	(void)l;
}

static const char rig_text[] =
    "name: manual-test\n"
    "buses: {b: {type: tcp, host: 127.0.0.1, port: 1502}}\n"
    "devices:\n"
    "  lift: {role: axis, kind: lift, bus: b, unit: 1, profile: generic-drive, travel: {min: 0 mm, max: 150 mm}, max_speed: 50 mm/s}\n"
    "  transfer: {role: axis, kind: transfer, bus: b, unit: 2, profile: generic-drive, travel: {min: 10 mm, max: 800 mm}, max_speed: 200 mm/s}\n"
    "  pump: {role: pump, kind: peristaltic, bus: b, unit: 3, profile: generic-pump, max_flow: 100 mL/min}\n"
    "  stir: {role: pump, kind: stirrer, bus: b, unit: 4, profile: generic-stirrer, max_rpm: 1000 rpm}\n"
    "  qcm: {role: sensor, kind: qcm, bus: b, unit: 6, profile: generic-sensor}\n"
    "motion: {lift: lift, transfer: transfer, safe_z: 20 mm}\n";

/* Loads text: the rig, or NULL with the errors counted in *errors. */
static struct rig *
load_rig(const char *text, int *errors)
{
	struct rig *rig = NULL;
	struct diag d;

	diag_init(&d, "rig.yaml");
	rig_load_buffer("rig.yaml", text, strlen(text), &d, &rig);
	*errors = d.errors;
	diag_free(&d);
	return rig;
}

static void
test_moves(const struct rig *rig)
{
	int lift = rig_device_index(rig, "lift"), transfer = rig_device_index(rig, "transfer");
	char why[400];

	TEST_EQ_INT("move within the travel", manual_check_move(rig, lift, 40, 0, why,
	    sizeof(why)), 0);
	TEST_EQ_INT("move to the travel's end", manual_check_move(rig, lift, 150, 50, why,
	    sizeof(why)), 0);
	TEST_EQ_INT("move beyond travel_max refused", manual_check_move(rig, lift, 150.5, 0, why,
	    sizeof(why)), -1);
	TEST_CONTAINS("... naming travel_max and its value", why,
	    "150.50 mm is beyond axis 'lift''s travel: travel_max is 150.00 mm in rig manual-test");
	TEST_EQ_INT("move below travel_min refused", manual_check_move(rig, transfer, 5, 0, why,
	    sizeof(why)), -1);
	TEST_CONTAINS("... naming travel_min and its value", why, "travel_min is 10.00 mm");
	TEST_EQ_INT("a speed beyond max_speed refused", manual_check_move(rig, lift, 40, 51, why,
	    sizeof(why)), -1);
	TEST_CONTAINS("... naming max_speed", why, "max_speed, 50.00 mm/s");
	TEST_EQ_INT("NaN refused", manual_check_move(rig, lift, NAN, 0, why, sizeof(why)), -1);
	TEST_EQ_INT("a pump is no axis", manual_check_move(rig, rig_device_index(rig, "pump"),
	    1, 0, why, sizeof(why)), -1);
}

static void
test_outputs(const struct rig *rig)
{
	int pump = rig_device_index(rig, "pump"), stir = rig_device_index(rig, "stir");
	char why[400];

	TEST_EQ_INT("flow at max_flow", manual_check_output(rig, pump, 100, why, sizeof(why)), 0);
	TEST_EQ_INT("flow beyond max_flow refused", manual_check_output(rig, pump, 100.1, why,
	    sizeof(why)), -1);
	TEST_CONTAINS("... naming max_flow", why, "beyond pump 'pump''s max_flow, 100.00 mL/min");
	TEST_EQ_INT("rpm beyond max_rpm refused", manual_check_output(rig, stir, 1200, why,
	    sizeof(why)), -1);
	TEST_CONTAINS("... naming max_rpm", why, "max_rpm, 1000 rpm");
	TEST_EQ_INT("a negative flow refused", manual_check_output(rig, pump, -1, why,
	    sizeof(why)), -1);
	TEST_EQ_INT("a sensor is no output", manual_check_output(rig, rig_device_index(rig, "qcm"),
	    1, why, sizeof(why)), -1);
	TEST_CONTAINS("... saying what it is not", why, "not a valve, pump, stirrer or line drive");
}

static void
test_max_on(void)
{
	char text[sizeof(rig_text) + 64];
	struct rig *rig;
	int errors;

	rig = load_rig(rig_text, &errors);
	TEST_EQ_INT("manual max_on: the default without the key", rig ? rig->manual_max_on_ms : -1,
	    MANUAL_MAX_ON_DEFAULT_MS);
	rig_free(rig);
	snprintf(text, sizeof(text), "%smanual: {max_on: 2min}\n", rig_text);
	rig = load_rig(text, &errors);
	TEST_EQ_INT("manual max_on: 2min", rig ? rig->manual_max_on_ms : -1, 120000);
	rig_free(rig);
	snprintf(text, sizeof(text), "%smanual: {max_on: 5h}\n", rig_text);
	rig = load_rig(text, &errors);
	TEST_CHECK("manual max_on beyond its bound refused", rig == NULL && errors == 1,
	    "errors %d", errors);
	rig_free(rig);
	snprintf(text, sizeof(text), "%smanual: {max_of: 5min}\n", rig_text);
	rig = load_rig(text, &errors);
	TEST_CHECK("an unknown key under manual refused", rig == NULL && errors >= 1, "errors %d",
	    errors);
	rig_free(rig);
}

int
main(void)
{
	struct rig *rig;
	int errors;

	rig = load_rig(rig_text, &errors);
	TEST_CHECK("test rig loads", rig != NULL, "%d errors", errors);
	if (rig != NULL) {
		test_moves(rig);
		test_outputs(rig);
		rig_free(rig);
	}
	test_max_on();
	return TEST_DONE();
}
