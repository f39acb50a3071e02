/*
 * Rig file parser: structure, references and limits. Device profiles (the
 * Modbus register maps) are checked by the hardware layer, which owns them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lbl_limits.h"
#include "rig.h"

const char *const rig_role_names[] = { "axis", "pump", "valve", "input", "sensor", "line", NULL };
const char *const rig_home_names[] = { "none", "startup", "first-batch", "command", NULL };
const char *const rig_notify_event_names[] = { "prompt", "failed", "completed", "aborted",
	"estop", NULL };
const char *const rig_station_kind_names[] = { "beaker", "rinse", "spray", "dryer", "park", "bath",
	NULL };

/* Allowed kinds per role, in rig_role order. */
static const char *const rig_kinds[RIG_ROLE_COUNT][7] = {
	[RIG_AXIS] = { "lift", "transfer", "rotation", NULL },
	[RIG_PUMP] = { "peristaltic", "syringe", "stirrer", NULL },
	[RIG_VALVE] = { "valve", "relay", NULL },
	[RIG_INPUT] = { "estop", "interlock", "limit", "level", NULL },
	[RIG_SENSOR] = { "temperature", "qcm", "thickness", "absorbance", "encoder", NULL },
	[RIG_LINE] = { "web", NULL },
};

static int
rig_find(const char *name, const void *array, size_t count, size_t stride)
{
	size_t i;

	for (i = 0; i < count; i++) {
		const char *const *entry_name = (const void *)((const char *)array + i * stride);
		if (strcmp(*entry_name, name) == 0)
			return (int)i;
	}
	return -1;
}

int
rig_pump_is_stirrer(const struct rig_device *dev)
{
	return dev->role == RIG_PUMP && dev->kind != NULL && strcmp(dev->kind, "stirrer") == 0;
}

/* Modbus RTU frames a step sends at most: a 32-bit write (function 16) and its answer. */
#define RIG_RTU_REQUEST_CHARS	13
#define RIG_RTU_RESPONSE_CHARS	8
/* a trigger (a coil, or one register: run, go, a valve) is a write of 8 characters */
#define RIG_RTU_TRIGGER_CHARS	8

double
rig_bus_transaction_ms(const struct rig_bus *b)
{
	double bits, silence_ms;

	if (b->type != RIG_BUS_RTU)
		return RIG_TCP_TRANSACTION_US / 1000.0;
	bits = 1 + b->data_bits + (b->parity != 'N') + b->stop_bits;
	silence_ms = b->baud > 19200 ? 1.75 : 3.5 * bits * 1000.0 / b->baud;
	return (RIG_RTU_REQUEST_CHARS + RIG_RTU_RESPONSE_CHARS) * bits * 1000.0 / b->baud +
	    2 * silence_ms + (double)b->frame_delay_ms;
}

double
rig_bus_trigger_ms(const struct rig_bus *b)
{
	double bits, silence_ms;

	if (b->type != RIG_BUS_RTU)
		return 0;
	bits = 1 + b->data_bits + (b->parity != 'N') + b->stop_bits;
	silence_ms = b->baud > 19200 ? 1.75 : 3.5 * bits * 1000.0 / b->baud;
	return RIG_RTU_TRIGGER_CHARS * bits * 1000.0 / b->baud + silence_ms +
	    (double)b->frame_delay_ms;
}

int64_t
rig_min_step_ms(const struct rig *rig, int *bus, double *transaction_ms)
{
	int64_t min_ms = COMPILE_MIN_STEP_MS, ms;
	double worst = 0, t;
	size_t i;

	*bus = -1;
	*transaction_ms = 0;
	for (i = 0; i < rig->device_count; i++) {
		if (rig->devices[i].bus < 0)
			continue;
		t = rig_bus_transaction_ms(&rig->buses[rig->devices[i].bus]);
		if (t > worst) {
			worst = t;
			*transaction_ms = t;
			ms = (int64_t)ceil(t * COMPILE_STEP_TRANSACTIONS * RUN_ABSORB_DIVISOR);
			if (ms > min_ms) {
				min_ms = ms;
				*bus = rig->devices[i].bus;
			}
		}
	}
	return min_ms;
}

int
rig_device_index(const struct rig *rig, const char *name)
{
	return rig_find(name, rig->devices, rig->device_count, sizeof(*rig->devices));
}

int
rig_station_index(const struct rig *rig, const char *name)
{
	return rig_find(name, rig->stations, rig->station_count, sizeof(*rig->stations));
}

int
rig_nozzle_index(const struct rig *rig, const char *name)
{
	return rig_find(name, rig->nozzles, rig->nozzle_count, sizeof(*rig->nozzles));
}

const char *
rig_device_in_text(const struct rig *rig, const char *text)
{
	const char *open, *close;
	size_t i, len;

	if (rig == NULL || text == NULL)
		return NULL;
	/* every text between two quotes, "'a' or 'b'" giving "a", " or " and "b" */
	for (open = strchr(text, '\''); open != NULL && (close = strchr(open + 1, '\'')) != NULL;
	    open = close) {
		len = (size_t)(close - open - 1);
		for (i = 0; i < rig->device_count; i++)
			if (strlen(rig->devices[i].name) == len &&
			    strncmp(rig->devices[i].name, open + 1, len) == 0)
				return rig->devices[i].name;
	}
	return NULL;
}

static int
rig_parse_bus(struct diag *d, struct rig_bus *bus, const struct conf_node *n)
{
	static const char *const keys[] = { "type", "host", "port", "device", "baud", "parity",
		"data_bits", "stop_bits", "timeout", "frame_delay", "retries", "description", NULL };
	static const char *const types[] = { "tcp", "rtu", NULL };
	static const char *const parities[] = { "none", "even", "odd", NULL };
	int type = 0, parity = 0, errors = d->errors;
	long value;

	bus->node = n;
	if (conf_check_map(d, n, "bus", keys) == -1)
		return -1;
	conf_get_enum(d, n, "type", CONF_REQUIRED, types, &type);
	bus->type = type;
	bus->timeout_ms = 500;
	bus->retries = 2;
	conf_get_duration(d, n, "timeout", 0, &bus->timeout_ms);
	if (conf_get_int(d, n, "retries", 0, 0, 10, &value) == 1)
		bus->retries = (int)value;
	if (bus->type == RIG_BUS_TCP) {
		static const char *const rtu_only[] = { "device", "baud", "parity", "data_bits",
			"stop_bits", "frame_delay", NULL };
		size_t i;
		for (i = 0; rtu_only[i]; i++)
			if (conf_lookup(n, rtu_only[i]))
				diag_error(d, conf_lookup(n, rtu_only[i]),
				    "'%s' is for rtu buses; a tcp bus takes host and port", rtu_only[i]);
		conf_get_string(d, n, "host", CONF_REQUIRED, &bus->host);
		if (conf_get_int(d, n, "port", CONF_REQUIRED, 1, 65535, &value) == 1)
			bus->port = (int)value;
	} else {
		conf_get_string(d, n, "device", CONF_REQUIRED, &bus->device);
		bus->baud = 19200;
		bus->data_bits = 8;
		bus->stop_bits = 1;
		if (conf_get_int(d, n, "baud", 0, 1200, 4000000, &value) == 1)
			bus->baud = (int)value;
		if (conf_get_enum(d, n, "parity", 0, parities, &parity) == 1)
			bus->parity = "NEO"[parity];
		else
			bus->parity = 'N';
		if (conf_get_int(d, n, "data_bits", 0, 5, 8, &value) == 1)
			bus->data_bits = (int)value;
		if (conf_get_int(d, n, "stop_bits", 0, 1, 2, &value) == 1)
			bus->stop_bits = (int)value;
		conf_get_duration(d, n, "frame_delay", 0, &bus->frame_delay_ms);
		if (conf_lookup(n, "host") || conf_lookup(n, "port"))
			diag_error(d, conf_lookup(n, "host") ? conf_lookup(n, "host") :
			    conf_lookup(n, "port"), "host and port are for tcp buses; an rtu bus "
			    "takes device, baud, parity, data_bits and stop_bits");
	}
	return d->errors == errors ? 0 : -1;
}

static int
rig_parse_gpio(struct diag *d, struct rig_gpio *gpio, const struct conf_node *n)
{
	static const char *const keys[] = { "chip", "line", "active_low", "bias", "debounce",
		NULL };
	static const char *const biases[] = { "as-is", "pull-up", "pull-down", "disabled", NULL };
	int errors = d->errors;
	int64_t debounce_ms = 0;

	if (conf_check_map(d, n, "gpio", keys) == -1)
		return -1;
	conf_get_string(d, n, "chip", CONF_REQUIRED, &gpio->chip);
	conf_get_string(d, n, "line", CONF_REQUIRED, &gpio->line);
	if (gpio->chip != NULL && gpio->chip[strspn(gpio->chip, "0123456789")] == '\0')
		/* chip numbers move between kernels (Pi 5: gpiochip4 -> gpiochip0) */
		diag_error(d, conf_lookup(n, "chip"), "'chip': expected a chip name or label "
		    "(e.g. pinctrl-bcm2711), not a number");
	conf_get_bool(d, n, "active_low", 0, &gpio->active_low);
	conf_get_enum(d, n, "bias", 0, biases, &gpio->bias);
	if (conf_get_duration(d, n, "debounce", 0, &debounce_ms) == 1) {
		if (debounce_ms > 1000)
			diag_error(d, conf_lookup(n, "debounce"),
			    "'debounce': expected at most 1s");
		gpio->debounce_ms = (int)debounce_ms;
	}
	return d->errors == errors ? 0 : -1;
}

static void
rig_parse_travel(struct diag *d, struct rig_device *dev, const struct conf_node *n)
{
	static const char *const keys[] = { "min", "max", NULL };

	if (conf_check_map(d, n, "travel", keys) == -1)
		return;
	conf_get_quantity(d, n, "min", CONF_REQUIRED, UNIT_LENGTH_MM, &dev->travel_min_mm);
	if (conf_get_quantity(d, n, "max", CONF_REQUIRED, UNIT_LENGTH_MM, &dev->travel_max_mm) ==
	    1 && dev->travel_max_mm <= dev->travel_min_mm)
		diag_error(d, conf_lookup(n, "max"), "'max': expected more than 'min'");
}

/*
 * A timeout the device itself keeps: only a Modbus device that can be left
 * running has one. Whether its profile has the register to arm it is
 * checked with the profiles (profile.c).
 */
static void
rig_parse_comm_timeout(struct diag *d, struct rig_device *dev, const struct conf_node *n)
{
	const struct conf_node *node = conf_lookup(n, "comm_timeout");
	int64_t ms;

	if (node == NULL)
		return;
	if (dev->role != RIG_AXIS && dev->role != RIG_PUMP && dev->role != RIG_VALVE &&
	    dev->role != RIG_LINE) {
		diag_error(d, node, "'comm_timeout' is for axes, pumps, valves and line drives, "
		    "not a device of role %s", rig_role_names[dev->role]);
		return;
	}
	if (dev->bus < 0) {
		diag_error(d, node, "'comm_timeout' is kept by a Modbus device; a GPIO line has "
		    "none");
		return;
	}
	if (conf_get_duration(d, n, "comm_timeout", 0, &ms) != 1)
		return;
	if (ms < RIG_COMM_TIMEOUT_MIN_MS || ms > RIG_COMM_TIMEOUT_MAX_MS) {
		diag_error(d, node, "'comm_timeout': expected 100ms to 60s (the device stops "
		    "when the controller is silent that long)");
		return;
	}
	dev->comm_timeout_ms = ms;
}

/*
 * 'poll_period': how often a Modbus device is polled while a batch runs
 * (hw_super.c); refused on a GPIO line or an input (inputs have their own
 * polling), and outside RIG_POLL_PERIOD_MIN_MS to _MAX_MS.
 */
static void
rig_parse_poll_period(struct diag *d, struct rig_device *dev, const struct conf_node *n)
{
	const struct conf_node *node = conf_lookup(n, "poll_period");
	int64_t ms;

	if (node == NULL)
		return;
	if (dev->role == RIG_INPUT) {
		diag_error(d, node, "'poll_period' is for axes, pumps, valves, line drives and "
		    "sensors; inputs are polled all the time");
		return;
	}
	if (dev->bus < 0) {
		diag_error(d, node, "'poll_period' is for a Modbus device; a GPIO line is not "
		    "polled");
		return;
	}
	if (conf_get_duration(d, n, "poll_period", 0, &ms) != 1)
		return;
	if (ms < RIG_POLL_PERIOD_MIN_MS || ms > RIG_POLL_PERIOD_MAX_MS) {
		diag_error(d, node, "'poll_period': expected %dms to %ds (how often the device is "
		    "polled while a batch runs)", RIG_POLL_PERIOD_MIN_MS,
		    RIG_POLL_PERIOD_MAX_MS / 1000);
		return;
	}
	dev->poll_period_ms = ms;
}

int
rig_parse_range(struct diag *d, const struct conf_node *n, const char *key, double *min,
    double *max)
{
	static const char *const keys[] = { "min", "max", NULL };
	int errors = d->errors;

	if (conf_expect(d, n, CONF_MAP, "a map of min and max (engineering units)") == -1 ||
	    conf_check_map(d, n, key, keys) == -1)
		return -1;
	conf_get_number(d, n, "min", CONF_REQUIRED, min);
	conf_get_number(d, n, "max", CONF_REQUIRED, max);
	if (d->errors != errors)
		return -1;
	if (!(isfinite(*min) && isfinite(*max) && *min < *max)) {
		diag_error(d, n, "'%s': min (%g) must be below max (%g), both finite", key, *min,
		    *max);
		return -1;
	}
	return 0;
}

/* A pump's volume_tolerance: a percentage, "10%" or 10, above 0 and at most 50. */
static void
rig_parse_tolerance(struct diag *d, struct rig_device *dev, const struct conf_node *n)
{
	const struct conf_node *v = conf_lookup(n, "volume_tolerance");
	char *end;
	double pct;

	dev->volume_tolerance_pct = PUMP_VOLUME_TOLERANCE_PCT;
	if (v == NULL)
		return;
	if (v->type != CONF_SCALAR) {
		diag_error(d, v, "'volume_tolerance' must be a percentage, e.g. 10%%");
		return;
	}
	pct = strtod(v->text, &end);
	if (end != v->text && *end == '%')
		end++;
	if (end == v->text || *end != '\0' || !(pct > 0 && pct <= 50)) {
		diag_error(d, v, "'volume_tolerance' must be a percentage above 0%% and at most "
		    "50%% (how far short of the plan the pump's own volume counter may come), not "
		    "'%s'", v->text);
		return;
	}
	dev->volume_tolerance_pct = pct;
}

static void
rig_parse_device(struct diag *d, struct rig *rig, struct rig_device *dev,
    const struct conf_node *n)
{
	static const char *const keys[] = { "role", "kind", "bus", "unit", "profile", "gpio",
		"travel", "max_speed", "max_accel", "max_flow", "max_rpm", "f0", "comm_timeout", "params",
		"poll_period", "range", "volume_tolerance", "home", "description", NULL };
	static const char *const homes[] = { "startup", "first-batch", "command", NULL };
	const struct conf_node *node;
	const char *bus_name = NULL;
	int role = 0, kind = -1, home = 0;
	long unit;

	dev->node = n;
	dev->bus = -1;
	if (conf_check_map(d, n, "device", keys) == -1)
		return;
	if (conf_get_enum(d, n, "role", CONF_REQUIRED, rig_role_names, &role) != 1)
		return;
	dev->role = role;
	if (conf_get_enum(d, n, "kind", CONF_REQUIRED, rig_kinds[role], &kind) == 1)
		dev->kind = rig_kinds[role][kind];

	if (conf_get_string(d, n, "bus", 0, &bus_name) == 1) {
		dev->bus = rig_find(bus_name, rig->buses, rig->bus_count, sizeof(*rig->buses));
		if (dev->bus == -1)
			diag_error(d, conf_lookup(n, "bus"), "'bus': no bus named '%s' in buses",
			    bus_name);
		if (conf_get_int(d, n, "unit", CONF_REQUIRED, 1, 247, &unit) == 1)
			dev->unit = (int)unit;
		conf_get_string(d, n, "profile", CONF_REQUIRED, &dev->profile);
		if ((node = conf_lookup(n, "gpio")) != NULL)
			diag_error(d, node, "a device is on a Modbus bus or on GPIO, not both");
	} else if (conf_get_node(d, n, "gpio", 0, CONF_MAP, NULL, &node) == 1) {
		if (role != RIG_VALVE && role != RIG_INPUT)
			diag_error(d, node, "only valves and inputs can be GPIO lines; a%s %s "
			    "needs a Modbus bus", role == RIG_AXIS ? "n" : "", rig_role_names[role]);
		rig_parse_gpio(d, &dev->gpio, node);
		if (conf_lookup(n, "unit") || conf_lookup(n, "profile"))
			diag_error(d, conf_lookup(n, "unit") ? conf_lookup(n, "unit") :
			    conf_lookup(n, "profile"), "'unit' and 'profile' need a Modbus 'bus'");
	} else if (!conf_lookup(n, "gpio")) {
		diag_error(d, n, "device needs a 'bus' (Modbus) or a 'gpio' line");
	}

	if (role == RIG_AXIS) {
		if (conf_get_node(d, n, "travel", CONF_REQUIRED, CONF_MAP, "min and max", &node) == 1)
			rig_parse_travel(d, dev, node);
		conf_get_quantity(d, n, "max_speed", CONF_REQUIRED | CONF_POSITIVE, UNIT_SPEED_MM_S,
		    &dev->max_speed_mm_s);
		/*
		 * A drive without acceleration control (a stepper at a fixed
		 * start/stop speed, a constant-speed belt) moves at its speed
		 * from start to end: no max_accel, and the planner plans
		 * distance / speed (max_accel_mm_s2 stays 0).
		 */
		conf_get_quantity(d, n, "max_accel", CONF_POSITIVE, UNIT_ACCEL_MM_S2,
		    &dev->max_accel_mm_s2);
		/* whether its profile can home it and tell when it is done: profile.c */
		if (conf_get_enum(d, n, "home", 0, homes, &home) == 1)
			dev->home = (enum rig_home)(home + 1);
	} else if (role == RIG_PUMP && rig_pump_is_stirrer(dev)) {
		/* a stirrer turns: its limit is a speed, never a flow */
		conf_get_quantity(d, n, "max_rpm", CONF_REQUIRED | CONF_POSITIVE,
		    UNIT_ROTATION_RPM, &dev->max_rpm);
		if ((node = conf_lookup(n, "max_flow")) != NULL)
			diag_error(d, node, "'max_flow' does not apply to a stirrer: give its "
			    "'max_rpm'");
		/* a stirrer dispenses nothing, so there is no volume to fall short */
		if ((node = conf_lookup(n, "volume_tolerance")) != NULL)
			diag_error(d, node, "'volume_tolerance' does not apply to a stirrer: it "
			    "dispenses nothing");
	} else if (role == RIG_PUMP) {
		conf_get_quantity(d, n, "max_flow", CONF_REQUIRED | CONF_POSITIVE, UNIT_FLOW_ML_MIN,
		    &dev->max_flow_ml_min);
		if ((node = conf_lookup(n, "max_rpm")) != NULL)
			diag_error(d, node, "'max_rpm' applies to a pump of kind stirrer only");
		rig_parse_tolerance(d, dev, n);
	} else if (role == RIG_LINE) {
		conf_get_quantity(d, n, "max_speed", CONF_REQUIRED | CONF_POSITIVE, UNIT_SPEED_MM_S,
		    &dev->max_line_speed_mm_s);
	} else if (role == RIG_SENSOR && dev->kind && strcmp(dev->kind, "qcm") == 0) {
		dev->f0_hz = 5e6;
		dev->f0_given = conf_get_quantity(d, n, "f0", CONF_POSITIVE, UNIT_FREQUENCY_HZ,
		    &dev->f0_hz) == 1;
	}
	if (role == RIG_SENSOR && (node = conf_lookup(n, "range")) != NULL &&
	    rig_parse_range(d, node, "range", &dev->range_min, &dev->range_max) == 0)
		dev->has_range = 1;
	rig_parse_comm_timeout(d, dev, n);
	rig_parse_poll_period(d, dev, n);
	/* role-specific keys given to the wrong role are typos waiting to bite */
	{
		static const struct { const char *key; unsigned roles; } only[] = {
			{ "travel", 1u << RIG_AXIS }, { "max_accel", 1u << RIG_AXIS },
			{ "home", 1u << RIG_AXIS },
			{ "max_speed", 1u << RIG_AXIS | 1u << RIG_LINE },
			{ "max_flow", 1u << RIG_PUMP }, { "max_rpm", 1u << RIG_PUMP },
			{ "f0", 1u << RIG_SENSOR }, { "range", 1u << RIG_SENSOR },
			{ "volume_tolerance", 1u << RIG_PUMP } };
		size_t i;
		for (i = 0; i < sizeof(only) / sizeof(only[0]); i++)
			if ((node = conf_lookup(n, only[i].key)) && !(only[i].roles & (1u << role)))
				diag_error(d, node, "'%s' does not apply to a device of role %s",
				    only[i].key, rig_role_names[role]);
	}
}

static int
rig_device_ref(struct diag *d, const struct rig *rig, const struct conf_node *map,
    const char *key, enum rig_role role, int *out)
{
	const char *name;

	*out = -1;
	if (conf_get_string(d, map, key, 0, &name) != 1)
		return 0;
	*out = rig_device_index(rig, name);
	if (*out == -1) {
		diag_error(d, conf_lookup(map, key), "'%s': no device named '%s' in devices", key,
		    name);
		return -1;
	}
	if (rig->devices[*out].role != role) {
		diag_error(d, conf_lookup(map, key), "'%s': device '%s' is a%s %s, expected a%s %s",
		    key, name, rig->devices[*out].role == RIG_AXIS ? "n" : "",
		    rig_role_names[rig->devices[*out].role], role == RIG_AXIS ? "n" : "",
		    rig_role_names[role]);
		*out = -1;
		return -1;
	}
	return 1;
}

static void
rig_parse_station(struct diag *d, struct rig *rig, struct rig_station *st,
    const struct conf_node *n)
{
	static const char *const keys[] = { "kind", "x", "surface_z", "max_depth", "path_length",
		"volume", "fill_pump", "drain_pump", "stirrer", "description", NULL };
	int kind = 0;

	st->node = n;
	st->surface_z_mm = NAN;
	st->volume_ml = NAN;
	st->fill_pump = st->drain_pump = st->stirrer = -1;
	if (conf_check_map(d, n, "station", keys) == -1)
		return;
	conf_get_enum(d, n, "kind", CONF_REQUIRED, rig_station_kind_names, &kind);
	st->kind = kind;
	conf_get_quantity(d, n, "x", rig->transfer != -1 ? CONF_REQUIRED : 0, UNIT_LENGTH_MM,
	    &st->x_mm);
	if (conf_get_quantity(d, n, "surface_z", 0, UNIT_LENGTH_MM, &st->surface_z_mm) == 1)
		conf_get_quantity(d, n, "max_depth", CONF_REQUIRED | CONF_POSITIVE, UNIT_LENGTH_MM,
		    &st->max_depth_mm);
	else if (conf_lookup(n, "max_depth"))
		diag_error(d, conf_lookup(n, "max_depth"), "'max_depth' needs 'surface_z'");
	if ((st->kind == RIG_ST_BEAKER || st->kind == RIG_ST_RINSE) && rig->lift != -1 &&
	    !conf_lookup(n, "surface_z"))
		diag_error(d, n, "a %s station needs 'surface_z' (the lift position at the liquid "
		    "surface) and 'max_depth'", rig_station_kind_names[st->kind]);
	conf_get_quantity(d, n, "path_length", CONF_POSITIVE, UNIT_LENGTH_MM, &st->path_length_mm);
	conf_get_quantity(d, n, "volume", CONF_POSITIVE, UNIT_VOLUME_ML, &st->volume_ml);
	rig_device_ref(d, rig, n, "fill_pump", RIG_PUMP, &st->fill_pump);
	rig_device_ref(d, rig, n, "drain_pump", RIG_PUMP, &st->drain_pump);
	rig_device_ref(d, rig, n, "stirrer", RIG_PUMP, &st->stirrer);
	/* agitation is sent in rpm: only a stirrer takes it, and a stirrer moves no liquid */
	if (st->stirrer != -1 && !rig_pump_is_stirrer(&rig->devices[st->stirrer]))
		diag_error(d, conf_lookup(n, "stirrer"), "'stirrer': device '%s' is a %s pump; a "
		    "station's stirrer must be a pump of kind stirrer (driven in rpm, with "
		    "max_rpm)", rig->devices[st->stirrer].name, rig->devices[st->stirrer].kind);
	if (st->fill_pump != -1 && rig_pump_is_stirrer(&rig->devices[st->fill_pump]))
		diag_error(d, conf_lookup(n, "fill_pump"), "'fill_pump': device '%s' is a "
		    "stirrer, which moves no liquid", rig->devices[st->fill_pump].name);
	if (st->drain_pump != -1 && rig_pump_is_stirrer(&rig->devices[st->drain_pump]))
		diag_error(d, conf_lookup(n, "drain_pump"), "'drain_pump': device '%s' is a "
		    "stirrer, which moves no liquid", rig->devices[st->drain_pump].name);
	if ((st->fill_pump == -1) != (st->drain_pump == -1) && conf_lookup(n, "fill_pump") !=
	    conf_lookup(n, "drain_pump"))
		diag_error(d, n, "bath replacement needs both 'fill_pump' and 'drain_pump'");
}

static void
rig_parse_nozzle(struct diag *d, struct rig *rig, struct rig_nozzle *nz,
    const struct conf_node *n)
{
	static const char *const keys[] = { "valve", "pump", "station", "description", NULL };
	const char *station;

	nz->node = n;
	nz->station = -1;
	if (conf_check_map(d, n, "nozzle", keys) == -1)
		return;
	rig_device_ref(d, rig, n, "valve", RIG_VALVE, &nz->valve);
	rig_device_ref(d, rig, n, "pump", RIG_PUMP, &nz->pump);
	/*
	 * A nozzle sprays through its valve (pressure-fed, or a pump behind
	 * the valve), or straight from its pump when it has no valve of its
	 * own (pump-fed): it needs at least one of the two.
	 */
	if (!conf_lookup(n, "valve") && !conf_lookup(n, "pump"))
		diag_error(d, n, "a nozzle needs a 'valve' (pressure-fed, or with a pump behind "
		    "it) or a 'pump' (pump-fed, without a valve of its own)");
	else if (nz->pump != -1 && rig_pump_is_stirrer(&rig->devices[nz->pump]))
		diag_error(d, conf_lookup(n, "pump"), "'pump': device '%s' is a stirrer, which "
		    "moves no liquid", rig->devices[nz->pump].name);
	if (conf_get_string(d, n, "station", CONF_REQUIRED, &station) == 1) {
		nz->station = rig_station_index(rig, station);
		if (nz->station == -1)
			diag_error(d, conf_lookup(n, "station"), "'station': no station named '%s'",
			    station);
		else if (rig->stations[nz->station].kind != RIG_ST_SPRAY)
			diag_error(d, conf_lookup(n, "station"), "'station': '%s' is not a spray "
			    "station", station);
	}
}

static void
rig_parse_motion(struct diag *d, struct rig *rig, const struct conf_node *n)
{
	static const char *const keys[] = { "lift", "transfer", "safe_z", "park", NULL };
	const struct rig_device *lift;

	if (conf_check_map(d, n, "motion", keys) == -1)
		return;
	rig_device_ref(d, rig, n, "lift", RIG_AXIS, &rig->lift);
	rig_device_ref(d, rig, n, "transfer", RIG_AXIS, &rig->transfer);
	if (rig->lift == -1)
		return;
	lift = &rig->devices[rig->lift];
	if (conf_get_quantity(d, n, "safe_z", CONF_REQUIRED, UNIT_LENGTH_MM, &rig->safe_z_mm) == 1 &&
	    (rig->safe_z_mm < lift->travel_min_mm || rig->safe_z_mm > lift->travel_max_mm))
		diag_error(d, conf_lookup(n, "safe_z"), "'safe_z': %.1f mm is outside the lift's "
		    "travel (%.1f to %.1f mm)", rig->safe_z_mm, lift->travel_min_mm,
		    lift->travel_max_mm);
}

/*
 * motion: {park: STATION}: where the substrate parks, a station of kind
 * park; without it, the first such station. Read once the stations are.
 */
static void
rig_parse_park(struct diag *d, struct rig *rig, const struct conf_node *motion)
{
	const char *name;
	int i;

	if (conf_get_string(d, motion, "park", 0, &name) != 1)
		return;
	if ((i = rig_station_index(rig, name)) == -1)
		diag_error(d, conf_lookup(motion, "park"), "'park': no station '%s' in stations",
		    name);
	else if (rig->stations[i].kind != RIG_ST_PARK)
		diag_error(d, conf_lookup(motion, "park"), "'park': station '%s' is of kind %s; "
		    "expected a station of kind park", name,
		    rig_station_kind_names[rig->stations[i].kind]);
	else
		rig->park = i;
}

/* manual: {max_on: 10min}: how long an output switched on by hand may stay on. */
static void
rig_parse_manual(struct diag *d, struct rig *rig, const struct conf_node *n)
{
	static const char *const keys[] = { "max_on", NULL };

	if (conf_check_map(d, n, "manual", keys) == -1)
		return;
	if (conf_get_duration(d, n, "max_on", 0, &rig->manual_max_on_ms) == 1 &&
	    (rig->manual_max_on_ms < MANUAL_MAX_ON_MIN_MS ||
	    rig->manual_max_on_ms > MANUAL_MAX_ON_MAX_MS))
		diag_error(d, conf_lookup(n, "max_on"), "'max_on': expected a duration from "
		    "%ds to %dh (how long an output switched on by hand may stay on)",
		    MANUAL_MAX_ON_MIN_MS / 1000, MANUAL_MAX_ON_MAX_MS / 3600000);
}

/*
 * One notify command: a list of strings, the program (an absolute path: lbld
 * execs it directly, with no shell and no PATH search) and its arguments.
 * Returns the NULL-terminated argv, or NULL after reporting to d.
 */
static const char **
rig_parse_notify_command(struct diag *d, struct rig *rig, const char *key,
    const struct conf_node *n)
{
	const char **argv;
	size_t i;

	if (n->type != CONF_SEQ || n->count == 0) {
		diag_error(d, n, "'%s': expected a list: the program's absolute path and its "
		    "arguments, e.g. [/usr/bin/ntfy, publish, lab-rig]", key);
		return NULL;
	}
	argv = conf_alloc(rig->doc, (n->count + 1) * sizeof(*argv));
	for (i = 0; i < n->count; i++) {
		const struct conf_node *item = n->items[i];
		if (item->type != CONF_SCALAR) {
			diag_error(d, item, "'%s': argument %zu: expected a string, not a %s", key,
			    i + 1, item->type == CONF_MAP ? "map" : "list");
			return NULL;
		}
		argv[i] = item->text;
	}
	if (argv[0][0] != '/') {
		diag_error(d, n->items[0], "'%s': the program must be an absolute path (lbld "
		    "runs it without a shell or PATH search), not '%s'", key, argv[0]);
		return NULL;
	}
	return (const char **)argv;
}

/*
 * notify: {prompt: [...], failed: [...], completed: [...], aborted: [...],
 * estop: [...], timeout: 30s}: the commands lbld runs on each event.
 */
static void
rig_parse_notify(struct diag *d, struct rig *rig, const struct conf_node *n)
{
	static const char *const keys[] = { "prompt", "failed", "completed", "aborted", "estop",
		"timeout", NULL };
	const struct conf_node *node;
	int i;

	if (conf_check_map(d, n, "notify", keys) == -1)
		return;
	for (i = 0; i < RIG_NOTIFY_EVENT_COUNT; i++)
		if ((node = conf_lookup(n, rig_notify_event_names[i])) != NULL)
			rig->notify.argv[i] = rig_parse_notify_command(d, rig,
			    rig_notify_event_names[i], node);
	if (conf_get_duration(d, n, "timeout", 0, &rig->notify.timeout_ms) == 1 &&
	    (rig->notify.timeout_ms < ALERT_TIMEOUT_MIN_MS ||
	    rig->notify.timeout_ms > ALERT_TIMEOUT_MAX_MS))
		diag_error(d, conf_lookup(n, "timeout"), "'timeout': expected a duration from "
		    "%ds to %dmin (how long a notify command may run before it is killed)",
		    ALERT_TIMEOUT_MIN_MS / 1000, ALERT_TIMEOUT_MAX_MS / 60000);
}

/* Checks every station against the axes' travel and the safe height. */
static void
rig_check_stations(struct diag *d, struct rig *rig)
{
	size_t i;

	for (i = 0; i < rig->station_count; i++) {
		const struct rig_station *st = &rig->stations[i];
		if (rig->transfer != -1) {
			const struct rig_device *t = &rig->devices[rig->transfer];
			if (st->x_mm < t->travel_min_mm || st->x_mm > t->travel_max_mm)
				diag_error(d, conf_lookup(st->node, "x"), "'x': %.1f mm is outside the "
				    "transfer axis travel (%.1f to %.1f mm)", st->x_mm,
				    t->travel_min_mm, t->travel_max_mm);
		}
		if (rig->lift != -1 && !isnan(st->surface_z_mm)) {
			const struct rig_device *l = &rig->devices[rig->lift];
			if (st->surface_z_mm <= rig->safe_z_mm)
				diag_error(d, conf_lookup(st->node, "surface_z"), "'surface_z': "
				    "%.1f mm is not below the safe height safe_z (%.1f mm)",
				    st->surface_z_mm, rig->safe_z_mm);
			if (st->surface_z_mm + st->max_depth_mm > l->travel_max_mm)
				diag_error(d, conf_lookup(st->node, "max_depth"), "'max_depth': "
				    "surface_z + max_depth = %.1f mm is beyond the lift's travel "
				    "(max %.1f mm)", st->surface_z_mm + st->max_depth_mm,
				    l->travel_max_mm);
		}
		if (st->kind == RIG_ST_PARK && rig->park == -1)
			rig->park = (int)i;
	}
}

/* Parses each value of a named map into an array of structs whose first member is a name. */
#define RIG_SECTION(d_, rig_, root_, key_, arr_, count_, parse_, flags_) do {	\
	const struct conf_node *sec_;							\
	if (conf_get_node(d_, root_, key_, flags_, CONF_MAP, NULL, &sec_) == 1 &&	\
	    conf_check_map(d_, sec_, key_, NULL) == 0) {				\
		size_t i_;								\
		(arr_) = conf_alloc((rig_)->doc, (sec_->count + 1) * sizeof(*(arr_)));	\
		(count_) = sec_->count;							\
		for (i_ = 0; i_ < sec_->count; i_++)					\
			(arr_)[i_].name = sec_->items[2 * i_]->text;			\
		for (i_ = 0; i_ < sec_->count; i_++)					\
			parse_(d_, rig_, &(arr_)[i_], sec_->items[2 * i_ + 1]);		\
	}										\
} while (0)

static void
rig_parse_bus_entry(struct diag *d, struct rig *rig, struct rig_bus *bus,
    const struct conf_node *n)
{
	size_t i;

	rig_parse_bus(d, bus, n);
	for (i = 0; rig->buses + i < bus; i++)
		if (bus->type == RIG_BUS_RTU && rig->buses[i].type == RIG_BUS_RTU && bus->device &&
		    rig->buses[i].device && strcmp(bus->device, rig->buses[i].device) == 0)
			diag_error(d, conf_lookup(n, "device"), "serial device %s is already bus '%s'",
			    bus->device, rig->buses[i].name);
}

int
rig_load_buffer(const char *name, const char *text, size_t len, struct diag *d,
    struct rig **out)
{
	static const char *const keys[] = { "name", "description", "buses", "profiles", "devices",
		"motion", "stations", "nozzles", "manual", "notify", NULL };
	const struct conf_node *root, *node;
	struct conf_doc *doc;
	const struct conf_node *motion = NULL;
	struct rig *rig;
	int errors = d->errors;

	*out = NULL;
	if (conf_load_buffer(name, text, len, d, &doc) == -1)
		return -1;
	rig = conf_alloc(doc, sizeof(*rig));
	rig->doc = doc;
	rig->lift = rig->transfer = rig->park = rig->line = -1;
	rig->manual_max_on_ms = MANUAL_MAX_ON_DEFAULT_MS;
	rig->notify.timeout_ms = ALERT_TIMEOUT_DEFAULT_MS;
	root = doc->root;
	if (conf_check_map(d, root, "rig file", keys) == 0) {
		conf_get_string(d, root, "name", CONF_REQUIRED, &rig->name);
		RIG_SECTION(d, rig, root, "buses", rig->buses, rig->bus_count, rig_parse_bus_entry, 0);
		conf_get_node(d, root, "profiles", 0, CONF_MAP, "device profiles", &rig->profiles);
		RIG_SECTION(d, rig, root, "devices", rig->devices, rig->device_count,
		    rig_parse_device, CONF_REQUIRED);
		/* devices sharing a unit id are checked with their profiles (profile.c) */
		if (conf_get_node(d, root, "motion", 0, CONF_MAP, NULL, &motion) == 1)
			rig_parse_motion(d, rig, motion);
		RIG_SECTION(d, rig, root, "stations", rig->stations, rig->station_count,
		    rig_parse_station, 0);
		rig_check_stations(d, rig);
		if (motion != NULL)
			rig_parse_park(d, rig, motion);
		RIG_SECTION(d, rig, root, "nozzles", rig->nozzles, rig->nozzle_count,
		    rig_parse_nozzle, 0);
		if (conf_get_node(d, root, "manual", 0, CONF_MAP, NULL, &node) == 1)
			rig_parse_manual(d, rig, node);
		if (conf_get_node(d, root, "notify", 0, CONF_MAP, NULL, &node) == 1)
			rig_parse_notify(d, rig, node);
		for (size_t i = 0; i < rig->device_count; i++)
			if (rig->devices[i].role == RIG_LINE && rig->line == -1)
				rig->line = (int)i;
	}
	if (d->errors != errors) {
		conf_free(doc);
		return -1;
	}
	*out = rig;
	return 0;
}

int
rig_load(const char *path, struct diag *d, struct rig **out)
{
	size_t len;
	char *text;
	int rc;

	*out = NULL;
	text = conf_read_file(path, CONF_MAX_FILE_BYTES, &len, d);
	if (text == NULL)
		return -1;
	rc = rig_load_buffer(path, text, len, d, out);
	free(text);
	return rc;
}

void
rig_free(struct rig *rig)
{
	if (rig != NULL)
		conf_free(rig->doc);
}
