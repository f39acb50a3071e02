/* Device profiles: built-ins, user profiles and their errors, value conversion. */
#include <stdlib.h>

#include "profile.h"
#include "test.h"

static const char rig_head[] =
    "name: t\n"
    "buses:\n"
    "  b: {type: tcp, host: 127.0.0.1, port: 1502}\n";

/* Loads rig_head + body; returns the rendered diagnostics ("" when valid). */
static char *
load(const char *body, struct rig **rig_out, struct profile_set **set_out)
{
	static char text[4096];
	struct diag d;
	struct rig *rig = NULL;
	struct profile_set *set = NULL;
	char *out;

	snprintf(text, sizeof(text), "%s%s", rig_head, body);
	diag_init(&d, "rig.yaml");
	if (rig_load_buffer("rig.yaml", text, strlen(text), &d, &rig) == 0)
		profile_set_load(rig, &d, &set);
	out = diag_render(&d);
	diag_free(&d);
	if (set_out != NULL && set != NULL) {
		*set_out = set;
		*rig_out = rig;
	} else {
		profile_set_free(set);
		rig_free(rig);
	}
	return out;
}

static void
test_builtins(void)
{
	struct profile_set *set;
	const struct profile *p;
	struct diag d;

	diag_init(&d, "none");
	TEST_EQ_INT("built-in profiles parse", profile_set_load(NULL, &d, &set), 0);
	TEST_EQ_INT("no diagnostics for built-ins", d.count, 0);
	diag_free(&d);
	if (set == NULL)
		return;
	p = profile_find(set, "generic-drive");
	TEST_CHECK("generic-drive is an axis", p && p->role == RIG_AXIS, "missing");
	TEST_CHECK("generic-drive target is int32 at HR 0", p && p->ops[PROFILE_TARGET].type ==
	    PROFILE_I32 && p->ops[PROFILE_TARGET].address == 0, "wrong map");
	p = profile_find(set, "leadshine-pr");
	TEST_CHECK("leadshine-pr trigger 0x6002 go=0x10", p && p->ops[PROFILE_GO].address ==
	    0x6002 && p->ops[PROFILE_GO].command == 0x10, "wrong map");
	TEST_CHECK("leadshine-pr has no in-position flag: tolerance instead",
	    p && !p->ops[PROFILE_IN_POSITION].defined && p->tolerance_mm == 0.01, "wrong");
	p = profile_find(set, "lead-fluid-bt100s");
	TEST_CHECK("bt100s run is HR 3102 = 1", p && p->role == RIG_PUMP &&
	    p->ops[PROFILE_RUN].address == 3102 && p->ops[PROFILE_RUN].command == 1, "wrong map");
	TEST_CHECK("unknown profile", profile_find(set, "nope") == NULL, "found");
	profile_set_free(set);
}

static void
test_conversion(void)
{
	struct profile_object o = { .defined = 1, .table = PROFILE_HOLDING, .type = PROFILE_I32,
		.scale = 0.001, .bit = -1 };
	uint16_t regs[2];

	TEST_EQ_INT("int32 -12.345 mm encodes", profile_encode(&o, -12.345, regs), 0);
	/* -12345 = 0xFFFFCFC7: high word first */
	TEST_EQ_INT("high word first", regs[0], 0xFFFF);
	TEST_EQ_INT("then low word", regs[1], 0xCFC7);
	TEST_NEAR("decodes back", profile_decode(&o, regs), -12.345, 1e-9);
	o.low_word_first = 1;
	profile_encode(&o, -12.345, regs);
	TEST_EQ_INT("low word first", regs[0], 0xCFC7);
	TEST_NEAR("decodes back low-first", profile_decode(&o, regs), -12.345, 1e-9);

	o.type = PROFILE_F32;
	o.scale = 1;
	o.low_word_first = 0;
	profile_encode(&o, 4999986.0, regs);
	/* 4999986.0f = 0x4A989664 */
	TEST_EQ_INT("float32 high word", regs[0], 0x4A98);
	TEST_EQ_INT("float32 low word", regs[1], 0x9664);
	TEST_NEAR("float32 decodes", profile_decode(&o, regs), 4999986.0, 0.5);

	o.type = PROFILE_U16;
	o.scale = 0.1;
	o.offset = -40;
	TEST_EQ_INT("uint16 with offset", profile_encode(&o, 22.5, regs), 0);
	TEST_EQ_INT("raw = (22.5 + 40) / 0.1", regs[0], 625);
	TEST_EQ_INT("uint16 refuses what does not fit", profile_encode(&o, -50, regs), -1);
	TEST_EQ_INT("uint16 refuses overflow", profile_encode(&o, 7000, regs), -1);
	o.type = PROFILE_I16;
	o.offset = 0;
	o.scale = 1;
	profile_encode(&o, -2, regs);
	TEST_EQ_INT("int16 two's complement", regs[0], 0xFFFE);
	TEST_NEAR("int16 decodes signed", profile_decode(&o, regs), -2, 0);

	o.type = PROFILE_U16;
	o.bit = 2;
	regs[0] = 0x0004;
	TEST_EQ_INT("status bit 2 set", profile_flag(&o, regs), 1);
	regs[0] = 0x0003;
	TEST_EQ_INT("status bit 2 clear", profile_flag(&o, regs), 0);
	o.bit = -1;
	TEST_EQ_INT("bit-less flag: non-zero", profile_flag(&o, regs), 1);
}

/*
 * Devices sharing a unit id (a pump controller with its valve outputs):
 * allowed with distinct registers, refused where a register of one is a
 * register of the other, at the later device's unit, naming both devices
 * and the register. Different tables never clash; different buses or units
 * are not shared at all.
 */
static void
test_shared_units(void)
{
	char *out;

	out = load("profiles:\n"
	    "  ctl-valve:\n"
	    "    base: generic-valve\n"
	    "    ops:\n"
	    "      watchdog: {table: holding, address: 10}\n"
	    "devices:\n"
	    "  p: {role: pump, kind: peristaltic, bus: b, unit: 3, profile: generic-pump, max_flow: 20 mL/min}\n"
	    "  v: {role: valve, kind: valve, bus: b, unit: 3, profile: ctl-valve}\n", NULL, NULL);
	TEST_STR("a pump and its valve outputs share unit 3, distinct registers", out, "");
	free(out);
	/* generic-valve's watchdog is HR 0, which is the pump's flow */
	out = load("devices:\n"
	    "  p: {role: pump, kind: peristaltic, bus: b, unit: 3, profile: generic-pump, max_flow: 20 mL/min}\n"
	    "  v: {role: valve, kind: valve, bus: b, unit: 3, profile: generic-valve}\n", NULL, NULL);
	TEST_CONTAINS("overlapping registers on a shared unit refused at the unit", out,
	    "rig.yaml:6:47: error: unit 3 on bus 'b' is shared by devices 'p' and 'v', and both "
	    "use holding 0x0000 ('p' as flow, 'v' as watchdog)");
	free(out);
	/* a 32-bit object overlaps by its second register too */
	out = load("profiles:\n"
	    "  a: {role: sensor, ops: {value: {table: input, address: 4, type: float32}}}\n"
	    "  c: {role: sensor, ops: {value: {table: input, address: 5, type: uint16}}}\n"
	    "devices:\n"
	    "  s1: {role: sensor, kind: temperature, bus: b, unit: 9, profile: a}\n"
	    "  s2: {role: sensor, kind: temperature, bus: b, unit: 9, profile: c}\n", NULL, NULL);
	TEST_CONTAINS("the second word of a float32 counts", out, "both use input 0x0005");
	free(out);
	out = load("devices:\n"
	    "  s1: {role: sensor, kind: temperature, bus: b, unit: 9, profile: generic-sensor}\n"
	    "  s2: {role: sensor, kind: temperature, bus: b, unit: 8, profile: generic-sensor}\n",
	    NULL, NULL);
	TEST_STR("one profile on two unit ids is no sharing", out, "");
	free(out);
}

/*
 * An axis's 'home': when it is homed (startup, first-batch, command), only
 * for axes, and only with a profile that can home it (a 'home' command)
 * and tell when homing has ended ('homed', 'busy' or 'in_position').
 */
static void
test_home(void)
{
	struct profile_set *set = NULL;
	struct rig *rig = NULL;
	char *out;

	out = load("devices:\n"
	    "  x: {role: axis, kind: transfer, bus: b, unit: 1, profile: generic-drive, travel: {min: 0 mm, max: 100 mm}, max_speed: 10 mm/s, home: first-batch}\n"
	    "  y: {role: axis, kind: lift, bus: b, unit: 2, profile: generic-drive, travel: {min: 0 mm, max: 100 mm}, max_speed: 10 mm/s}\n",
	    &rig, &set);
	TEST_STR("home: first-batch, and max_accel left out (constant speed)", out, "");
	free(out);
	if (set != NULL) {
		const struct profile *p = profile_of(set, 0);
		TEST_EQ_INT("x homes before the first batch", rig->devices[0].home,
		    RIG_HOME_FIRST_BATCH);
		TEST_EQ_INT("y does not home", rig->devices[1].home, RIG_HOME_NONE);
		TEST_CHECK("generic-drive's homed flag: IR 2 bit 3", p != NULL &&
		    p->ops[PROFILE_HOMED].defined && p->ops[PROFILE_HOMED].table == PROFILE_INPUT &&
		    p->ops[PROFILE_HOMED].address == 2 && p->ops[PROFILE_HOMED].bit == 3, "wrong");
		profile_set_free(set);
		rig_free(rig);
	}
	out = load("devices:\n"
	    "  x: {role: axis, kind: transfer, bus: b, unit: 1, profile: generic-drive, travel: {min: 0 mm, max: 100 mm}, max_speed: 10 mm/s, home: sometimes}\n",
	    NULL, NULL);
	TEST_CONTAINS("an unknown home setting", out, "rig.yaml:5:");
	TEST_CONTAINS("names what home takes", out, "startup");
	free(out);
	out = load("devices:\n"
	    "  p: {role: pump, kind: peristaltic, bus: b, unit: 1, profile: generic-pump, max_flow: 10 mL/min, home: startup}\n",
	    NULL, NULL);
	TEST_CONTAINS("home is for axes", out, "'home' does not apply to a device of role pump");
	free(out);
	out = load("profiles:\n"
	    "  nohome: {role: axis, ops: {target: {table: holding, address: 0}, go: {table: holding, address: 1, write: 1}, stop: {table: holding, address: 1, write: 0}, position: {table: input, address: 0}, busy: {table: input, address: 1}}}\n"
	    "devices:\n"
	    "  x: {role: axis, kind: transfer, bus: b, unit: 1, profile: nohome, travel: {min: 0 mm, max: 100 mm}, max_speed: 10 mm/s, home: command}\n",
	    NULL, NULL);
	TEST_CONTAINS("homing needs the profile's home command", out,
	    "rig.yaml:7:129: error: axis 'x' homes (home: command) but profile 'nohome' has no "
	    "'home' operation to send");
	free(out);
	out = load("profiles:\n"
	    "  blind: {role: axis, ops: {target: {table: holding, address: 0}, go: {table: holding, address: 1, write: 1}, home: {table: holding, address: 1, write: 2}, stop: {table: holding, address: 1, write: 0}, position: {table: input, address: 0}}}\n"
	    "devices:\n"
	    "  x: {role: axis, kind: transfer, bus: b, unit: 1, profile: blind, travel: {min: 0 mm, max: 100 mm}, max_speed: 10 mm/s, home: startup}\n",
	    NULL, NULL);
	TEST_CONTAINS("homing needs a flag that says it ended", out,
	    "has no 'homed', 'busy' or 'in_position' flag to tell when homing has ended");
	free(out);
}

static void
test_user_profiles(void)
{
	struct profile_set *set = NULL;
	struct rig *rig = NULL;
	char *out;

	out = load("profiles:\n"
	    "  my-pump:\n"
	    "    base: lead-fluid-bt100s\n"
	    "    ops:\n"
	    "      flow: {table: holding, address: 3100, type: uint16, scale: 0.08}\n"
	    "  relay-8:\n"
	    "    role: valve\n"
	    "    word_order: low-first\n"
	    "    ops:\n"
	    "      on: {table: coil, address: 3, write: 1}\n"
	    "      off: {table: coil, address: 3, write: 0}\n"
	    "devices:\n"
	    "  p: {role: pump, kind: peristaltic, bus: b, unit: 1, profile: my-pump, max_flow: 20 mL/min}\n"
	    "  v: {role: valve, kind: valve, bus: b, unit: 2, profile: relay-8}\n", &rig, &set);
	TEST_STR("a derived and a new profile are valid", out, "");
	free(out);
	if (set != NULL) {
		const struct profile *p = profile_of(set, 0);
		TEST_CHECK("derived flow scale replaced", p && p->ops[PROFILE_FLOW].scale == 0.08,
		    "not replaced");
		TEST_CHECK("base operations kept", p && p->ops[PROFILE_RUN].address == 3102,
		    "lost");
		TEST_CHECK("device 1 uses relay-8", profile_of(set, 1) &&
		    strcmp(profile_of(set, 1)->name, "relay-8") == 0, "wrong");
	}
	profile_set_free(set);
	rig_free(rig);

	out = load("devices:\n"
	    "  p: {role: pump, kind: peristaltic, bus: b, unit: 1, profile: generic-drive, max_flow: 9 mL/min}\n",
	    NULL, NULL);
	TEST_CONTAINS("role mismatch named", out, "rig.yaml:5:64: error: device 'p' has role pump but "
	    "profile 'generic-drive' is for role axis");
	free(out);

	out = load("devices:\n"
	    "  p: {role: pump, kind: peristaltic, bus: b, unit: 1, profile: bt100, max_flow: 9 mL/min}\n", NULL, NULL);
	TEST_CONTAINS("unknown profile named", out, "unknown profile 'bt100'");
	free(out);

	out = load("profiles:\n"
	    "  x:\n"
	    "    role: pump\n"
	    "    ops:\n"
	    "      run: {table: input, address: 1, write: 1}\n"
	    "      stop: {table: holding, address: 1}\n"
	    "      flow: {table: holding, address: 0x10000}\n"
	    "      speed: {address: 2}\n"
	    "      volume: {table: holding, address: 4, type: int64}\n"
	    "devices: {}\n", NULL, NULL);
	TEST_CONTAINS("a command to an input register", out,
	    "rig.yaml:8:12: error: 'run' writes, so it needs a coil or holding register");
	TEST_CONTAINS("a command without its value", out,
	    "rig.yaml:9:13: error: 'stop' is a command: give the value to write");
	TEST_CONTAINS("address out of range", out,
	    "rig.yaml:10:39: error: 'address' must be an integer from 0 to 65535");
	TEST_CONTAINS("operation of another role", out,
	    "rig.yaml:11:7: error: 'speed' is not an operation of a pump profile");
	TEST_CONTAINS("unknown type", out, "rig.yaml:12:50: error: 'type': expected bit, uint16");
	free(out);

	out = load("profiles:\n"
	    "  x: {role: axis, ops: {target: {address: 0, type: int32}}}\n"
	    "devices: {}\n", NULL, NULL);
	TEST_CONTAINS("missing required operations", out,
	    "profile 'x' lacks 'go', which every axis profile needs");
	free(out);

	out = load("profiles:\n"
	    "  x: {role: input, ops: {active: {table: discrete, address: 0, type: uint16}}}\n"
	    "  y: {role: input, ops: {active: {table: input, address: 0, type: int32, bit: 3}}}\n"
	    "  generic-pump: {role: pump, ops: {}}\n"
	    "devices: {}\n", NULL, NULL);
	TEST_CONTAINS("discrete inputs are bits", out, "discrete objects are single bits");
	TEST_CONTAINS("bit of a 32-bit value refused", out, "'bit' selects a bit of a 16-bit");
	TEST_CONTAINS("built-ins cannot be redefined", out, "profile 'generic-pump' is already "
	    "defined");
	free(out);
}

/* A sensor's plausible range: the rig file's, else its profile's, else its kind's. */
static void
test_readings(void)
{
	struct profile_set *set = NULL;
	struct rig *rig = NULL;
	const struct rig_device *qcm, *gauge, *temp;
	char why[256], from[96], *out;
	double min, max;

	out = load("profiles:\n"
	    "  narrow: {base: generic-sensor, range: {min: 0, max: 100}}\n"
	    "devices:\n"
	    "  qcm: {role: sensor, kind: qcm, bus: b, unit: 1, profile: generic-sensor}\n"
	    "  gauge: {role: sensor, kind: thickness, bus: b, unit: 2, profile: narrow}\n"
	    "  temp: {role: sensor, kind: temperature, bus: b, unit: 3, profile: narrow,\n"
	    "         range: {min: 10, max: 40}}\n", &rig, &set);
	TEST_STR("ranges load", out, "");
	free(out);
	if (set == NULL)
		return;
	qcm = &rig->devices[0];
	gauge = &rig->devices[1];
	temp = &rig->devices[2];
	profile_sensor_range(profile_of(set, 0), qcm, &min, &max, from, sizeof(from));
	TEST_CHECK("qcm: its kind's default", min == SENSOR_QCM_MIN_HZ && max == SENSOR_QCM_MAX_HZ,
	    "%g..%g", min, max);
	TEST_STR("qcm: from its kind", from, "the default for qcm sensors");
	profile_sensor_range(profile_of(set, 1), gauge, &min, &max, from, sizeof(from));
	TEST_CHECK("gauge: its profile's range", min == 0 && max == 100, "%g..%g", min, max);
	TEST_STR("gauge: from its profile", from, "profile narrow");
	profile_sensor_range(profile_of(set, 2), temp, &min, &max, from, sizeof(from));
	TEST_CHECK("temp: the rig file's range over its profile's", min == 10 && max == 40,
	    "%g..%g", min, max);
	TEST_EQ_INT("qcm: 5 MHz is a measurement",
	    profile_check_reading(profile_of(set, 0), qcm, 4.99e6, why, sizeof(why)), 0);
	TEST_EQ_INT("qcm: FLT_MAX is not", profile_check_reading(profile_of(set, 0), qcm,
	    3.4028234663852886e38, why, sizeof(why)), -1);
	TEST_CONTAINS("qcm: FLT_MAX named, above", why, "read 3.40282347e+38, above its plausible");
	TEST_EQ_INT("qcm: 0 Hz is not (no oscillation)", profile_check_reading(profile_of(set, 0),
	    qcm, 0, why, sizeof(why)), -1);
	TEST_EQ_INT("gauge: NaN is not", profile_check_reading(profile_of(set, 1), gauge, NAN,
	    why, sizeof(why)), -1);
	TEST_CONTAINS("gauge: NaN named", why, "read nan, not a number");
	TEST_EQ_INT("gauge: -inf is not", profile_check_reading(profile_of(set, 1), gauge,
	    -INFINITY, why, sizeof(why)), -1);
	TEST_CONTAINS("gauge: -inf named", why, "read -inf, infinite");
	TEST_EQ_INT("gauge: its max is a measurement", profile_check_reading(profile_of(set, 1),
	    gauge, 100, why, sizeof(why)), 0);
	TEST_EQ_INT("gauge: just above its max is not", profile_check_reading(profile_of(set, 1),
	    gauge, 100.001, why, sizeof(why)), -1);
	TEST_CONTAINS("gauge: the range and its source named", why,
	    "(plausible 0 to 100, from profile narrow)");
	TEST_EQ_INT("temp: below the rig file's min is not", profile_check_reading(
	    profile_of(set, 2), temp, 5, why, sizeof(why)), -1);
	TEST_CONTAINS("temp: below, named", why, "read 5, below its plausible range");
	TEST_STR("a message's device", rig_device_in_text(rig, "device 'gauge' (bus b, unit 2)"),
	    "gauge");
	TEST_STR("the first quoted device name, past other quotes",
	    rig_device_in_text(rig, "step 'x' at 'dryer': sensor 'temp' read 5"), "temp");
	TEST_CHECK("no device named", rig_device_in_text(rig, "batch 'gaug' failed") == NULL,
	    "found one");
	profile_set_free(set);
	rig_free(rig);

	out = load("profiles:\n"
	    "  bad: {base: generic-pump, range: {min: 0, max: 1}}\n"
	    "devices:\n"
	    "  s: {role: sensor, kind: qcm, bus: b, unit: 1, profile: generic-sensor,\n"
	    "      range: {min: 5, max: 5}}\n"
	    "  p: {role: pump, kind: peristaltic, bus: b, unit: 2, profile: generic-pump,\n"
	    "      max_flow: 10 mL/min, range: {min: 0, max: 1}, volume_tolerance: 60%}\n", NULL,
	    NULL);
	TEST_CONTAINS("an empty range refused at its place", out,
	    "rig.yaml:8:14: error: 'range': min (5) must be below max (5)");
	TEST_CONTAINS("range is for sensors", out, "'range' does not apply to a device of role pump");
	TEST_CONTAINS("volume_tolerance above 50% refused", out, "'volume_tolerance' must be a "
	    "percentage above 0% and at most 50%");
	free(out);
	out = load("profiles:\n"
	    "  bad: {base: generic-pump, range: {min: 0, max: 1}}\n"
	    "devices: {}\n", NULL, NULL);
	TEST_CONTAINS("a pump profile takes no range", out,
	    "rig.yaml:5:36: error: 'range' is for sensor profiles");
	free(out);
}

int
main(void)
{
	test_builtins();
	test_conversion();
	test_user_profiles();
	test_shared_units();
	test_home();
	test_readings();
	return TEST_DONE();
}
