/*
 * Device profiles: the Modbus register map of a device family, as data.
 *
 * A profile maps each operation of a role (move to a target, read the
 * position, run a pump, read a sensor...) to one Modbus object: a table
 * (coil, discrete input, input register, holding register), an address, a
 * type (bit, int16, uint16, int32, uint32, float32, 32-bit values in either
 * word order), a scale and offset to engineering units, a bit of a status
 * word, or a command value written to a control word. Supporting a new pump
 * or drive means writing YAML, not C.
 *
 * Built-in profiles are themselves YAML (profile.c), parsed by the same
 * code as the profiles a rig file defines, and a rig profile may start from
 * another one with "base:" and replace some of its operations.
 *
 * Engineering units: axis positions in mm, speeds in mm/s, accelerations in
 * mm/s², pump flow in mL/min, stirrer speed in rpm, volumes in mL, line speed in mm/s, web length
 * in mm, communication-loss timeouts in ms. engineering = raw * scale + offset.
 */
#ifndef LBL_PROFILE_H
#define LBL_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "rig.h"

enum profile_table { PROFILE_COIL, PROFILE_DISCRETE, PROFILE_INPUT, PROFILE_HOLDING };
enum profile_type { PROFILE_BIT, PROFILE_U16, PROFILE_I16, PROFILE_U32, PROFILE_I32, PROFILE_F32 };

/* Every operation of every role; which ones a role has is in profile.c. */
enum profile_op {
	PROFILE_TARGET,		/* axis: absolute target position (write) */
	PROFILE_SPEED,		/* axis: move speed; line: web speed (write) */
	PROFILE_ACCEL,		/* axis: acceleration (write) */
	PROFILE_GO,		/* axis: start the move to the target (command) */
	PROFILE_HOME,		/* axis: home (command) */
	PROFILE_STOP,		/* axis, pump, line: stop (command) */
	PROFILE_ENABLE,		/* axis: enable the drive (command, sent when bus opens) */
	PROFILE_POSITION,	/* axis: actual position (read) */
	PROFILE_BUSY,		/* axis: moving (flag) */
	PROFILE_IN_POSITION,	/* axis: target reached (flag) */
	PROFILE_ALARM,		/* any: drive or pump alarm (flag) */
	PROFILE_FLOW,		/* pump: flow rate (write) */
	PROFILE_RUN,		/* pump, line: run (command) */
	PROFILE_DIRECTION,	/* pump, line: 0 forward, 1 reverse (write) */
	PROFILE_VOLUME,		/* pump: dispensed volume (read) */
	PROFILE_RUNNING,	/* pump, line: running (flag) */
	PROFILE_ON,		/* valve: open / energise (command) */
	PROFILE_OFF,		/* valve: close / release (command) */
	PROFILE_STATE,		/* valve: energised (flag) */
	PROFILE_ACTIVE,		/* input: e-stop pressed, door open... (flag) */
	PROFILE_VALUE,		/* sensor: the reading (read) */
	PROFILE_LENGTH,		/* line: web length run (read) */
	PROFILE_WATCHDOG,	/* axis, pump, valve, line: stop after this long without a
				 * request, 0 never (write; ms) */
	PROFILE_RPM,		/* pump of kind stirrer: stirring speed in rpm (write) */
	PROFILE_HOMED,		/* axis: homed since power-up, its position known (flag) */
	PROFILE_RESET,		/* axis, pump, line: clear the device's alarm (command) */
	PROFILE_OP_COUNT
};

struct profile_object {
	int defined;
	enum profile_table table;
	uint16_t address;		/* protocol address, 0-based */
	enum profile_type type;
	int low_word_first;		/* 32-bit: low word at address, high at address + 1 */
	double scale, offset;		/* engineering = raw * scale + offset */
	int bit;			/* flags: bit of a 16-bit word, or -1 (value != 0) */
	int has_command;
	int32_t command;		/* commands: the raw value written */
	int line, col;			/* where it was defined, for messages */
};

struct profile {
	const char *name;
	enum rig_role role;
	double tolerance_mm;		/* axis: in position within this, without a flag */
	/* sensor: the plausible range of its readings ('range'), if has_range */
	int has_range;
	double range_min, range_max;
	struct profile_object ops[PROFILE_OP_COUNT];
};

struct profile_set;

/*
 * Loads the built-in profiles and the rig's own, and checks every device's
 * profile: it must exist and be for the device's role. Problems are
 * reported to d at the rig file's line and column. Returns 0 and a set to
 * free with profile_set_free() before the rig (names point into it), or -1.
 */
int profile_set_load(const struct rig *rig, struct diag *d, struct profile_set **out);
void profile_set_free(struct profile_set *set);
/* The named profile, or NULL. */
const struct profile *profile_find(const struct profile_set *set, const char *name);
/* The profile of a Modbus device of the rig the set was loaded for. */
const struct profile *profile_of(const struct profile_set *set, int device);

/* profile_set_load() without keeping the set: for lblctl check-rig and lbld. */
int profile_check_rig(const struct rig *rig, struct diag *d);

/* Number of 16-bit registers (or bits) the object spans: 1 or 2. */
int profile_width(const struct profile_object *o);
/*
 * Engineering value to raw registers (regs[0] at the object's address).
 * Returns 0, or -1 when the value does not fit the type after scaling.
 */
int profile_encode(const struct profile_object *o, double value, uint16_t regs[2]);
/* Raw registers (or a bit read into regs[0]) to an engineering value. */
double profile_decode(const struct profile_object *o, const uint16_t regs[2]);
/* A flag object's state from the raw registers: its bit, or value != 0. */
int profile_flag(const struct profile_object *o, const uint16_t regs[2]);

/*
 * The write that sets a pump's or line drive's rate: rpm for a stirrer,
 * flow for any other pump, speed for a line drive. Never fails.
 */
enum profile_op profile_rate_op(const struct rig_device *dev);
/*
 * The plausible range of a sensor's readings, in engineering units: the rig
 * file's device 'range', else its profile's (p may be NULL: a GPIO device
 * or none known), else the default for its kind (SENSOR_* in lbl_limits.h).
 * from gets where it came from, for messages ("the rig file", "profile
 * generic-sensor", "the default for qcm sensors").
 */
void profile_sensor_range(const struct profile *p, const struct rig_device *dev, double *min,
    double *max, char *from, size_t from_size);
/*
 * Checks a sensor's reading: 0 when it is finite and inside the plausible
 * range, -1 when it is not a measurement, with why saying the reading and
 * the range with where that came from (the caller adds device, bus, unit
 * and register).
 */
int profile_check_reading(const struct profile *p, const struct rig_device *dev, double value,
    char *why, size_t why_size);

extern const char *const profile_op_names[];
extern const char *const profile_table_names[];

#endif
