/*
 * The rig file: buses, devices by role, stations and motion limits.
 *
 * Lengths along the lift axis ("z") are measured downward from the lift's
 * home at the top: 0 mm is fully raised, larger is lower. A station's
 * surface_z_mm is the lift position where the substrate's lower edge meets
 * the liquid; an immersion of depth d moves the lift to surface_z_mm + d.
 * safe_z_mm is a lift position where the substrate clears every vessel:
 * sideways travel happens only there.
 */
#ifndef LBL_RIG_H
#define LBL_RIG_H

#include "conf.h"
#include "lbl_limits.h"

enum rig_bus_type { RIG_BUS_TCP, RIG_BUS_RTU };

struct rig_bus {
	const char *name;
	enum rig_bus_type type;
	const char *host;		/* TCP */
	int port;			/* TCP */
	const char *device;		/* RTU: serial device path */
	int baud;			/* RTU */
	char parity;			/* RTU: 'N', 'E' or 'O' */
	int data_bits, stop_bits;	/* RTU */
	int64_t timeout_ms;		/* response timeout per transaction */
	int64_t frame_delay_ms;		/* RTU: quiet time between frames */
	int retries;			/* retries after a timeout or bad frame */
	const struct conf_node *node;
};

enum rig_role { RIG_AXIS, RIG_PUMP, RIG_VALVE, RIG_INPUT, RIG_SENSOR, RIG_LINE, RIG_ROLE_COUNT };

struct rig_gpio {
	const char *chip;		/* chip name or label, never a number */
	const char *line;		/* line name, e.g. "GPIO17" */
	int active_low;
	int bias;			/* 0 as-is, 1 pull-up, 2 pull-down, 3 disabled */
	int debounce_ms;
};

/*
 * When an axis is homed (its 'home' in the rig file): never (its position
 * is known at power-up: an absolute encoder), when lbld starts, before the
 * first batch lbld runs, or only on the operator's 'lblctl home'. A batch
 * never starts with an axis that homes and is not homed.
 */
enum rig_home { RIG_HOME_NONE, RIG_HOME_STARTUP, RIG_HOME_FIRST_BATCH, RIG_HOME_COMMAND };

struct rig_device {
	const char *name;
	enum rig_role role;
	const char *kind;		/* per role, e.g. "lift", "peristaltic", "estop", "qcm" */
	int bus;			/* index into rig.buses, -1 for GPIO */
	int unit;			/* Modbus unit id */
	const char *profile;		/* device profile name (Modbus) */
	struct rig_gpio gpio;		/* when bus == -1 and role is valve or input */
	/* axis */
	double travel_min_mm, travel_max_mm;
	double max_speed_mm_s;
	double max_accel_mm_s2;		/* 0: constant speed (no 'max_accel') */
	enum rig_home home;		/* when it is homed; RIG_HOME_NONE: it is not */
	/* pump: flow limit; a stirrer (kind stirrer) has a speed limit instead */
	double max_flow_ml_min;
	double max_rpm;
	/*
	 * sensor (qcm): the bare crystal's resonant frequency, when the rig
	 * file gives 'f0' (f0_given): the baseline of Sauerbrey thickness.
	 * Without it a recipe measures the baseline itself (a measure step
	 * with 'baseline: true'); f0_hz is then 5 MHz, what lbl-simrig's
	 * crystal starts at.
	 */
	double f0_hz;
	int f0_given;
	/*
	 * sensor: the plausible range of its readings ('range: {min, max}' in
	 * engineering units), overriding its profile's and its kind's default
	 * (profile_sensor_range()); has_range says whether it was given.
	 */
	int has_range;
	double range_min, range_max;
	/*
	 * pump: how far short of the plan its own volume counter may come
	 * before the dispensing step fails ('volume_tolerance', percent;
	 * PUMP_VOLUME_TOLERANCE_PCT when not given).
	 */
	double volume_tolerance_pct;
	/* line drive: web speed limit */
	double max_line_speed_mm_s;
	/*
	 * The device's own communication-loss timeout ("comm_timeout"), 0 if
	 * none: armed through its profile's watchdog register while a batch
	 * runs (hw_watchdog_arm()), so the device stops by itself if the
	 * controller goes silent that long. Modbus axes, pumps, valves and
	 * line drives only; RIG_COMM_TIMEOUT_MIN_MS to _MAX_MS.
	 */
	int64_t comm_timeout_ms;
	/*
	 * How often lbld polls the device while a batch runs ("poll_period"),
	 * 0 when not given (the hardware layer's default for its role and
	 * bus). Modbus axes, pumps, valves, line drives and sensors only;
	 * RIG_POLL_PERIOD_MIN_MS to _MAX_MS.
	 */
	int64_t poll_period_ms;
	const struct conf_node *node;
};


enum rig_station_kind { RIG_ST_BEAKER, RIG_ST_RINSE, RIG_ST_SPRAY, RIG_ST_DRYER, RIG_ST_PARK,
	RIG_ST_BATH, RIG_ST_KIND_COUNT };

struct rig_station {
	const char *name;
	enum rig_station_kind kind;
	double x_mm;			/* transfer axis position */
	double surface_z_mm;		/* lift position at the liquid surface; NAN if none */
	double max_depth_mm;		/* deepest allowed immersion below the surface */
	double path_length_mm;		/* roll-to-roll: web path through this station */
	double volume_ml;		/* vessel working volume, NAN if unknown */
	int fill_pump, drain_pump;	/* device indices or -1: bath replacement by pumps */
	int stirrer;			/* device index or -1: agitation */
	const struct conf_node *node;
};

struct rig_nozzle {
	const char *name;
	/*
	 * Device indices. pump is -1 for a pressure-fed nozzle, valve -1 for
	 * a pump-fed one (sprays while its pump runs); never both.
	 */
	int valve, pump, station;
	const struct conf_node *node;
};

/*
 * Notifications ('notify:'): per event, the command lbld runs (argv[0] an
 * absolute path, NULL-terminated; NULL when the event has none), exec'd
 * directly with no shell; timeout_ms its time limit.
 */
enum rig_notify_event { RIG_NOTIFY_PROMPT, RIG_NOTIFY_FAILED, RIG_NOTIFY_COMPLETED,
	RIG_NOTIFY_ABORTED, RIG_NOTIFY_ESTOP, RIG_NOTIFY_EVENT_COUNT };

struct rig_notify {
	const char **argv[RIG_NOTIFY_EVENT_COUNT];
	int64_t timeout_ms;
};

struct rig {
	struct conf_doc *doc;		/* owns every string and array below */
	const char *name;
	struct rig_bus *buses;
	size_t bus_count;
	struct rig_device *devices;
	size_t device_count;
	struct rig_station *stations;
	size_t station_count;
	struct rig_nozzle *nozzles;
	size_t nozzle_count;
	int lift, transfer;		/* axis device indices, -1 if absent */
	int park;			/* station index, -1 if absent */
	int line;			/* roll-to-roll line drive, -1 if absent */
	double safe_z_mm;
	/* manual control: an output on by hand goes off after this ('manual: {max_on}') */
	int64_t manual_max_on_ms;
	const struct conf_node *profiles;	/* user profiles, checked by hw_profile */
	struct rig_notify notify;	/* the 'notify:' section (daemon/alert.c) */
};

/*
 * Loads and checks the structure of a rig file. Every problem is reported
 * to d as FILE:LINE:COL. Returns 0 and a rig to free with rig_free(), or -1.
 */
int rig_load(const char *path, struct diag *d, struct rig **out);
/* The same from text in memory; name is used in messages and must outlive the rig. */
int rig_load_buffer(const char *name, const char *text, size_t len, struct diag *d,
    struct rig **out);
void rig_free(struct rig *rig);

/*
 * Parses a 'range: {min: X, max: Y}' map n (plain numbers, min < max) for
 * key. Returns 0, or -1 after reporting to d at the offending node.
 */
int rig_parse_range(struct diag *d, const struct conf_node *n, const char *key, double *min,
    double *max);

/* Index of the named device/station/nozzle, or -1. */
int rig_device_index(const struct rig *rig, const char *name);
int rig_station_index(const struct rig *rig, const char *name);
int rig_nozzle_index(const struct rig *rig, const char *name);

/*
 * One Modbus transaction on bus b, in ms: on RTU the largest request and
 * response a step sends (a 32-bit write: 13 and 8 characters) at the bus's
 * baud rate and bits per character (start, data, parity, stop), each frame
 * followed by its 3.5-character silence (1.75 ms above 19,200 baud, as the
 * Modbus serial line specification says), plus the rig file's frame_delay;
 * on TCP the documented figure RIG_TCP_TRANSACTION_US. A device's own
 * turnaround is not counted.
 */
double rig_bus_transaction_ms(const struct rig_bus *b);
/*
 * How long before a device acts on a trigger it is sent, on bus b, in ms:
 * on RTU a one-register or coil write's request (8 characters) on the
 * wire, the 3.5-character silence after it (the device knows the frame
 * has ended only then) and the rig file's frame_delay; 0 on TCP (a
 * fraction of a millisecond, not counted).
 */
double rig_bus_trigger_ms(const struct rig_bus *b);
/*
 * The shortest step rig keeps on its deadline: COMPILE_STEP_TRANSACTIONS
 * on its slowest bus in use (one with a device on it) must fit in
 * 1/RUN_ABSORB_DIVISOR of the step, and never less than the floor
 * COMPILE_MIN_STEP_MS (lbl_limits.h). A step that ends in a dwell (a
 * spray without a drain) absorbs half that share (RUN_DWELL_ABSORB_DIVISOR)
 * and keeps its deadline from twice this. *bus is that bus's index, or -1 when
 * the floor decides (no bus, or fast ones); *transaction_ms its figure.
 */
int64_t rig_min_step_ms(const struct rig *rig, int *bus, double *transaction_ms);

/* Whether a device is a stirrer: a pump of kind stirrer, driven in rpm (max_rpm). */
int rig_pump_is_stirrer(const struct rig_device *dev);
/*
 * The device a message is about: the first name in single quotes in text
 * that is one of the rig's devices ("device 'fill-1' (bus gateway, ..."),
 * or NULL when it names none. For the device column of fault events.
 */
const char *rig_device_in_text(const struct rig *rig, const char *text);

extern const char *const rig_role_names[];
extern const char *const rig_home_names[];	/* the rig file's words, by enum rig_home */
extern const char *const rig_station_kind_names[];
extern const char *const rig_notify_event_names[];	/* by enum rig_notify_event */

#endif
