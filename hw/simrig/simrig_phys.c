/*
 * lbl-simrig device physics. Each device keeps its state as a function of
 * simulated time and writes it into its Modbus registers through its own
 * profile, so the simulator speaks exactly the register map the daemon
 * drives: axes move at the commanded speed, pumps and line drives integrate
 * volume and web length, valves and inputs hold their state, and sensors
 * follow the film grown by the immersions into coating baths.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "simrig.h"

/* QCM: a rigid film of this density (g/cm³) shifts the frequency by Sauerbrey */
#define SIMRIG_FILM_DENSITY_G_CM3	1.5
/* sqrt(rho_q * mu_q) of AT-cut quartz, g/(cm² s) */
#define SIMRIG_QUARTZ_IMPEDANCE		8.84e5
#define SIMRIG_ROOM_C			22.5
#define SIMRIG_ARRIVED_MM		0.0005

const char *const simrig_fault_names[] = { "none", "silent", "exception", "stall", "alarm",
	"stuck", "trickle", "half", "nan", "inf", "huge", "reading", "dry", NULL };

int64_t
simrig_now_ns(const struct simrig *sim)
{
	return (int64_t)((double)(loop_now_ns() - sim->start_ns) * sim->time_scale);
}

static int
simrig_is_bit_table(enum profile_table table)
{
	return table == PROFILE_COIL || table == PROFILE_DISCRETE;
}

/* The map's array for a table and the index of address in it, or NULL. */
static void *
simrig_slot(modbus_mapping_t *map, enum profile_table table, int address, int width)
{
	int start, count;

	switch (table) {
	case PROFILE_COIL: start = map->start_bits; count = map->nb_bits; break;
	case PROFILE_DISCRETE: start = map->start_input_bits; count = map->nb_input_bits; break;
	case PROFILE_INPUT: start = map->start_input_registers;
		count = map->nb_input_registers; break;
	default: start = map->start_registers; count = map->nb_registers; break;
	}
	if (address < start || address + width > start + count)
		return NULL;
	switch (table) {
	case PROFILE_COIL: return &map->tab_bits[address - start];
	case PROFILE_DISCRETE: return &map->tab_input_bits[address - start];
	case PROFILE_INPUT: return &map->tab_input_registers[address - start];
	default: return &map->tab_registers[address - start];
	}
}

static void
simrig_read_raw(struct simrig_device *dev, const struct profile_object *o, uint16_t regs[2])
{
	int width = profile_width(o);
	void *slot = simrig_slot(dev->map, o->table, o->address, width);

	regs[0] = regs[1] = 0;
	if (slot == NULL)
		return;
	if (simrig_is_bit_table(o->table))
		regs[0] = *(uint8_t *)slot;
	else
		memcpy(regs, slot, (size_t)width * sizeof(uint16_t));
}

static void
simrig_write_raw(struct simrig_device *dev, const struct profile_object *o,
    const uint16_t regs[2])
{
	int width = profile_width(o);
	void *slot = simrig_slot(dev->map, o->table, o->address, width);

	if (slot == NULL)
		return;
	if (simrig_is_bit_table(o->table))
		*(uint8_t *)slot = regs[0] != 0;
	else
		memcpy(slot, regs, (size_t)width * sizeof(uint16_t));
}

static double
simrig_get(struct simrig_device *dev, enum profile_op op, double fallback)
{
	const struct profile_object *o = &dev->profile->ops[op];
	uint16_t regs[2];

	if (!o->defined)
		return fallback;
	simrig_read_raw(dev, o, regs);
	return profile_decode(o, regs);
}

static void
simrig_put(struct simrig_device *dev, enum profile_op op, double value)
{
	const struct profile_object *o = &dev->profile->ops[op];
	uint16_t regs[2];

	if (!o->defined || (o->has_command && o->table != PROFILE_INPUT &&
	    o->table != PROFILE_DISCRETE))
		return;
	if (profile_encode(o, value, regs) == -1)
		return;
	simrig_write_raw(dev, o, regs);
}

/* Sets a flag object: its bit of a status word, or the whole object. */
static void
simrig_put_flag(struct simrig_device *dev, enum profile_op op, int on)
{
	const struct profile_object *o = &dev->profile->ops[op];
	uint16_t regs[2];

	if (!o->defined)
		return;
	simrig_read_raw(dev, o, regs);
	if (!simrig_is_bit_table(o->table) && o->bit >= 0)
		regs[0] = on ? regs[0] | (uint16_t)(1u << o->bit) : regs[0] & (uint16_t)~(1u << o->bit);
	else
		regs[0] = (uint16_t)(on != 0), regs[1] = 0;
	simrig_write_raw(dev, o, regs);
}

/* Per table, the span of addresses a profile uses: the map covers just that. */
static modbus_mapping_t *
simrig_map_new(const struct profile *p)
{
	int lo[4] = { 65536, 65536, 65536, 65536 }, hi[4] = { 0, 0, 0, 0 };
	int t, i;

	for (i = 0; i < PROFILE_OP_COUNT; i++) {
		const struct profile_object *o = &p->ops[i];

		if (!o->defined)
			continue;
		t = o->table;
		if (o->address < lo[t])
			lo[t] = o->address;
		if (o->address + profile_width(o) > hi[t])
			hi[t] = o->address + profile_width(o);
	}
	for (t = 0; t < 4; t++)
		if (hi[t] == 0)
			lo[t] = 0;
	return modbus_mapping_new_start_address(
	    (unsigned)lo[PROFILE_COIL], (unsigned)(hi[PROFILE_COIL] - lo[PROFILE_COIL]),
	    (unsigned)lo[PROFILE_DISCRETE], (unsigned)(hi[PROFILE_DISCRETE] - lo[PROFILE_DISCRETE]),
	    (unsigned)lo[PROFILE_HOLDING], (unsigned)(hi[PROFILE_HOLDING] - lo[PROFILE_HOLDING]),
	    (unsigned)lo[PROFILE_INPUT], (unsigned)(hi[PROFILE_INPUT] - lo[PROFILE_INPUT]));
}

/* ---- communication-loss timeouts (wall time: the device's own timer) ---- */

static void
simrig_watchdog_schedule(struct simrig *sim)
{
	int64_t next = INT64_MAX, due;
	size_t i;

	for (i = 0; i < sim->rig->device_count; i++) {
		const struct simrig_device *dev = &sim->devices[i];

		if (!dev->watching)
			continue;
		due = dev->heard_ns + dev->watchdog_ms * 1000000;
		if (due < next)
			next = due;
	}
	if (next == INT64_MAX)
		loop_timer_cancel(sim->watchdog_timer);
	else if (loop_timer_at(sim->watchdog_timer, next) == -1)
		log_warnx("simrig: cannot arm the watchdog timer; no device will trip");
}

/* Stops dev as its stop or off command would, where it is. */
static void
simrig_watchdog_trip(struct simrig *sim, struct simrig_device *dev, int64_t now)
{
	dev->watching = 0;
	dev->tripped = 1;
	switch (dev->cfg->role) {
	case RIG_AXIS: dev->moving = 0; dev->homing = 0; break;	/* homing too: not homed */
	case RIG_PUMP: case RIG_LINE: dev->running = 0; break;
	case RIG_VALVE: dev->active = 0; break;
	default: break;
	}
	if (sim->verbose)
		log_info("device '%s' (bus %s, unit %d): no request for %lld ms (comm timeout "
		    "%lld ms): stopped by its watchdog", dev->cfg->name,
		    sim->rig->buses[dev->cfg->bus].name, dev->cfg->unit,
		    (long long)((now - dev->heard_ns) / 1000000), (long long)dev->watchdog_ms);
}

static void
simrig_on_watchdog(void *arg)
{
	struct simrig *sim = arg;
	int64_t now = loop_now_ns();
	size_t i;
	int updated = 0;

	for (i = 0; i < sim->rig->device_count; i++) {
		struct simrig_device *dev = &sim->devices[i];

		if (!dev->watching || now < dev->heard_ns + dev->watchdog_ms * 1000000)
			continue;
		/* positions and volumes up to this moment, before the device stops */
		if (!updated)
			simrig_phys_update(sim);
		updated = 1;
		simrig_watchdog_trip(sim, dev, now);
	}
	if (updated)
		simrig_phys_update(sim);
	simrig_watchdog_schedule(sim);
}

void
simrig_phys_heard(struct simrig *sim, struct simrig_device *dev)
{
	int was_watching = dev->watching;

	dev->heard_ns = loop_now_ns();
	if (dev->watchdog_ms == 0)
		return;
	dev->watching = 1;
	/*
	 * A later deadline needs no new timer: the one armed fires early and
	 * looks again. Only a device that starts watching can bring it forward.
	 */
	if (!was_watching || !loop_timer_armed(sim->watchdog_timer))
		simrig_watchdog_schedule(sim);
}

/* The watchdog register was written: arm (ms) or disarm (0), and clear a trip. */
static void
simrig_watchdog_written(struct simrig *sim, struct simrig_device *dev, enum profile_table table,
    int address, int count)
{
	const struct profile_object *o = &dev->profile->ops[PROFILE_WATCHDOG];
	double ms;

	if (!o->defined || o->table != table || o->address + profile_width(o) <= address ||
	    o->address >= address + count)
		return;
	ms = simrig_get(dev, PROFILE_WATCHDOG, 0);
	dev->watchdog_ms = ms > 0 ? (int64_t)(ms + 0.5) : 0;
	dev->tripped = 0;
	dev->heard_ns = loop_now_ns();
	dev->watching = dev->watchdog_ms > 0;
	if (sim->verbose && dev->watchdog_ms > 0)
		log_info("device '%s': comm timeout %lld ms", dev->cfg->name,
		    (long long)dev->watchdog_ms);
	else if (sim->verbose)
		log_info("device '%s': comm timeout off", dev->cfg->name);
	simrig_watchdog_schedule(sim);
}

int
simrig_phys_init(struct simrig *sim)
{
	size_t i;

	sim->immersed_station = -1;
	if ((sim->watchdog_timer = loop_timer_new(sim->loop, simrig_on_watchdog, sim)) == NULL)
		return -1;
	sim->devices = calloc(sim->rig->device_count + 1, sizeof(*sim->devices));
	if (sim->devices == NULL) {
		log_warn("simrig: devices");
		return -1;
	}
	for (i = 0; i < sim->rig->device_count; i++) {
		struct simrig_device *dev = &sim->devices[i];

		dev->cfg = &sim->rig->devices[i];
		dev->index = (int)i;
		if (dev->cfg->bus < 0)
			continue;
		dev->profile = profile_of(sim->profiles, (int)i);
		if ((dev->map = simrig_map_new(dev->profile)) == NULL) {
			log_warn("simrig: register map of device '%s'", dev->cfg->name);
			return -1;
		}
		/* an axis that must home is somewhere unknown at power-up: not at 0 */
		dev->homed = dev->cfg->home == RIG_HOME_NONE;
		if (dev->cfg->role == RIG_AXIS && !dev->homed)
			dev->position_mm = dev->to_mm = dev->cfg->travel_min_mm +
			    0.37 * (dev->cfg->travel_max_mm - dev->cfg->travel_min_mm);
	}
	simrig_phys_update(sim);
	return 0;
}

void
simrig_phys_free(struct simrig *sim)
{
	size_t i;

	for (i = 0; sim->devices != NULL && i < sim->rig->device_count; i++)
		if (sim->devices[i].map != NULL)
			modbus_mapping_free(sim->devices[i].map);
	free(sim->devices);
	sim->devices = NULL;
	if (sim->watchdog_timer != NULL)
		loop_timer_free(sim->watchdog_timer);
	sim->watchdog_timer = NULL;
}

static void
simrig_axis_update(struct simrig_device *dev, int64_t now_ns)
{
	double travel_mm, done_mm, reach_mm;

	if (dev->moving) {
		travel_mm = fabs(dev->to_mm - dev->from_mm);
		done_mm = dev->speed_mm_s * (double)(now_ns - dev->move_start_ns) / 1e9;
		/* a stuck drive stalls halfway and keeps trying */
		reach_mm = dev->fault == SIMRIG_STUCK ? travel_mm / 2 : travel_mm;
		if (done_mm >= reach_mm && dev->fault != SIMRIG_STUCK) {
			dev->position_mm = dev->to_mm;
			dev->moving = 0;
		} else {
			done_mm = fmin(done_mm, reach_mm);
			dev->position_mm = dev->from_mm +
			    (dev->to_mm >= dev->from_mm ? done_mm : -done_mm);
		}
	}
	if (dev->homing && !dev->moving) {
		dev->homing = 0;
		dev->homed = 1;
	}
	simrig_put(dev, PROFILE_POSITION, dev->position_mm);
	simrig_put_flag(dev, PROFILE_HOMED, dev->homed);
	simrig_put_flag(dev, PROFILE_BUSY, dev->moving);
	simrig_put_flag(dev, PROFILE_IN_POSITION, !dev->moving &&
	    fabs(dev->position_mm - dev->to_mm) < SIMRIG_ARRIVED_MM);
}

static void
simrig_flow_update(struct simrig_device *dev, int64_t now_ns)
{
	double dt_s = (double)(now_ns - dev->updated_ns) / 1e9;

	/* a dry pump (air in the line, a slipping roller) runs and counts nothing */
	if (dev->running && dt_s > 0 && dev->fault != SIMRIG_DRY) {
		/* pumps: mL/min; line drives: mm/s */
		dev->total += dev->cfg->role == RIG_PUMP ? dev->rate * dt_s / 60 : dev->rate * dt_s;
		if (dev->total > 1e6)
			dev->total = 0;	/* a counter wraps, as real ones do */
	}
	simrig_put(dev, dev->cfg->role == RIG_PUMP ? PROFILE_VOLUME : PROFILE_LENGTH, dev->total);
	simrig_put_flag(dev, PROFILE_RUNNING, dev->running);
}

static double
simrig_sensor_value(const struct simrig *sim, const struct simrig_device *dev)
{
	double nm = sim->growth_nm * sim->coating_dips;
	double f0 = dev->cfg->f0_hz > 0 ? dev->cfg->f0_hz : 5e6;

	if (strcmp(dev->cfg->kind, "qcm") == 0)
		/* Sauerbrey: delta f = 2 f0^2 delta m / sqrt(rho_q mu_q) */
		return f0 - 2 * f0 * f0 * (SIMRIG_FILM_DENSITY_G_CM3 * nm * 1e-7) /
		    SIMRIG_QUARTZ_IMPEDANCE;
	if (strcmp(dev->cfg->kind, "thickness") == 0)
		return nm;
	if (strcmp(dev->cfg->kind, "temperature") == 0)
		return SIMRIG_ROOM_C;
	return 0;
}

/*
 * Writes a sensor's reading, or what its fault makes it read: NaN, infinity
 * or FLT_MAX go into a float32 register bit for bit (profile_encode refuses
 * them, as lbld must never write them); an integer register holds its
 * largest raw value for huge, and cannot hold NaN or infinity (those read
 * as the largest value too).
 */
static void
simrig_put_reading(struct simrig_device *dev, double value)
{
	const struct profile_object *o = &dev->profile->ops[PROFILE_VALUE];
	uint16_t regs[2];
	uint32_t u;
	float f;

	switch (dev->fault) {
	case SIMRIG_NAN: f = NAN; break;
	case SIMRIG_INF: f = INFINITY; break;
	case SIMRIG_HUGE: f = FLT_MAX; break;
	case SIMRIG_READING: simrig_put(dev, PROFILE_VALUE, dev->reading); return;
	default: simrig_put(dev, PROFILE_VALUE, value); return;
	}
	if (!o->defined)
		return;
	if (o->type == PROFILE_F32) {
		memcpy(&u, &f, sizeof(u));
		regs[0] = o->low_word_first ? (uint16_t)u : (uint16_t)(u >> 16);
		regs[1] = o->low_word_first ? (uint16_t)(u >> 16) : (uint16_t)u;
	} else {
		/* all ones: the largest unsigned raw value (-1 for a signed one) */
		regs[0] = regs[1] = o->type == PROFILE_I16 || o->type == PROFILE_I32 ? 0x7fff : 0xffff;
		if (o->type == PROFILE_I32)
			regs[o->low_word_first ? 0 : 1] = 0xffff;
	}
	simrig_write_raw(dev, o, regs);
}

/* Counts each new immersion into a coating bath (beaker or roll bath). */
static void
simrig_track_immersion(struct simrig *sim)
{
	const struct rig *rig = sim->rig;
	double x_mm = 0, z_mm;
	int i, station = -1;

	if (rig->lift < 0)
		return;
	z_mm = sim->devices[rig->lift].position_mm;
	if (rig->transfer >= 0)
		x_mm = sim->devices[rig->transfer].position_mm;
	for (i = 0; i < (int)rig->station_count; i++) {
		const struct rig_station *st = &rig->stations[i];

		if (!isnan(st->surface_z_mm) && fabs(x_mm - st->x_mm) < 1 && z_mm > st->surface_z_mm)
			station = i;
	}
	if (station != sim->immersed_station && station >= 0 &&
	    (rig->stations[station].kind == RIG_ST_BEAKER ||
	    rig->stations[station].kind == RIG_ST_BATH))
		sim->coating_dips++;
	sim->immersed_station = station;
}

void
simrig_phys_update(struct simrig *sim)
{
	int64_t now_ns = simrig_now_ns(sim);
	size_t i;

	for (i = 0; i < sim->rig->device_count; i++) {
		struct simrig_device *dev = &sim->devices[i];

		if (dev->map == NULL)
			continue;
		switch (dev->cfg->role) {
		case RIG_AXIS: simrig_axis_update(dev, now_ns); break;
		case RIG_PUMP: case RIG_LINE: simrig_flow_update(dev, now_ns); break;
		case RIG_VALVE: simrig_put_flag(dev, PROFILE_STATE, dev->active); break;
		case RIG_INPUT: simrig_put_flag(dev, PROFILE_ACTIVE, dev->active); break;
		default: break;
		}
		simrig_put_flag(dev, PROFILE_ALARM, dev->fault == SIMRIG_ALARM);
		dev->updated_ns = now_ns;
	}
	simrig_track_immersion(sim);
	for (i = 0; i < sim->rig->device_count; i++)
		if (sim->devices[i].map != NULL && sim->devices[i].cfg->role == RIG_SENSOR)
			simrig_put_reading(&sim->devices[i], simrig_sensor_value(sim,
			    &sim->devices[i]));
}

static void
simrig_axis_start(struct simrig_device *dev, double to_mm, double speed_mm_s, int64_t now_ns)
{
	double max = dev->cfg->max_speed_mm_s;

	if (dev->fault == SIMRIG_ALARM)
		return;		/* a drive in alarm refuses to move */
	if (!(speed_mm_s > 0))
		speed_mm_s = max > 0 ? max : 10;
	if (max > 0 && speed_mm_s > max)
		speed_mm_s = max;
	dev->from_mm = dev->position_mm;
	dev->to_mm = to_mm;
	dev->speed_mm_s = speed_mm_s;
	dev->move_start_ns = now_ns;
	dev->moving = fabs(to_mm - dev->position_mm) > 0 || dev->fault == SIMRIG_STUCK;
}

/* Whether op is a command the request just wrote: its object, its value. */
static int
simrig_commanded(struct simrig_device *dev, enum profile_op op, int address, int count)
{
	const struct profile_object *o = &dev->profile->ops[op];
	uint16_t regs[2];

	if (!o->defined || !o->has_command || o->address < address ||
	    o->address >= address + count)
		return 0;
	simrig_read_raw(dev, o, regs);
	if (simrig_is_bit_table(o->table))
		return regs[0] == (o->command != 0);
	return profile_width(o) == 2 ? (int32_t)((uint32_t)regs[0] << 16 | regs[1]) == o->command ||
	    (int32_t)((uint32_t)regs[1] << 16 | regs[0]) == o->command : regs[0] == (uint16_t)o->command;
}

static void
simrig_axis_written(struct simrig_device *dev, int address, int count, int64_t now_ns)
{
	if (simrig_commanded(dev, PROFILE_RESET, address, count)) {
		/* a reset clears the alarm; the drive stays stopped */
		if (dev->fault == SIMRIG_ALARM)
			dev->fault = SIMRIG_OK;
	} else if (simrig_commanded(dev, PROFILE_STOP, address, count)) {
		dev->moving = 0;
		dev->homing = 0;
	} else if (simrig_commanded(dev, PROFILE_HOME, address, count)) {
		simrig_axis_start(dev, 0, 0, now_ns);
		/* a drive in alarm does not start: it stays unhomed */
		dev->homing = dev->fault != SIMRIG_ALARM;
		if (dev->homing && !dev->moving)
			dev->homed = 1, dev->homing = 0;	/* already at home */
	} else if (simrig_commanded(dev, PROFILE_GO, address, count)) {
		simrig_axis_start(dev, simrig_get(dev, PROFILE_TARGET, dev->position_mm),
		    simrig_get(dev, PROFILE_SPEED, 0), now_ns);
	}
}

static void
simrig_flow_written(struct simrig_device *dev, int address, int count)
{
	if (simrig_commanded(dev, PROFILE_RESET, address, count)) {
		/* a reset clears the alarm; the pump stays stopped */
		if (dev->fault == SIMRIG_ALARM)
			dev->fault = SIMRIG_OK;
	} else if (simrig_commanded(dev, PROFILE_STOP, address, count))
		dev->running = 0;
	else if (simrig_commanded(dev, PROFILE_RUN, address, count))
		dev->running = dev->fault != SIMRIG_STUCK && dev->fault != SIMRIG_ALARM;
	dev->rate = simrig_get(dev, profile_rate_op(dev->cfg), 0);
	dev->reverse = simrig_get(dev, PROFILE_DIRECTION, 0) != 0;
}

/*
 * Decimals that show every value an integer object can hold exactly: those
 * of its scale and offset (0.001 gives 3, 0.08 gives 2), at most 9.
 */
static int
simrig_trace_decimals(const struct profile_object *o)
{
	double scale = fabs(o->scale), offset = fabs(o->offset), p = 1;
	int d;

	for (d = 0; d < 9; d++, p *= 10)
		if (fabs(scale * p - round(scale * p)) < 1e-9 * p &&
		    fabs(offset * p - round(offset * p)) < 1e-9 * p)
			break;
	return d;
}

/*
 * --trace: one line per value written and per command, in the order the
 * device acts on them (values first, so a target precedes its go). Value
 * lines are "NS DEVICE OP VALUE", VALUE in engineering units decoded from
 * the registers through the device's profile, so a test can compare them
 * with the plan's actions; command lines stay "NS DEVICE OP". Accelerations
 * and watchdog timeouts are set up, not told per step, and are not traced.
 */
static void
simrig_trace_write(struct simrig *sim, struct simrig_device *dev, enum profile_table table,
    int address, int count)
{
	static const enum profile_op values[] = { PROFILE_DIRECTION, PROFILE_SPEED, PROFILE_FLOW,
		PROFILE_RPM, PROFILE_TARGET };
	static const enum profile_op commands[] = { PROFILE_GO, PROFILE_HOME, PROFILE_STOP,
		PROFILE_RUN, PROFILE_ON, PROFILE_OFF };
	long long now_ns = (long long)(sim->acted_ns != 0 ? sim->acted_ns : loop_now_ns());
	size_t k;

	for (k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
		const struct profile_object *o = &dev->profile->ops[values[k]];
		double value;

		if (!o->defined || o->has_command || o->table != table ||
		    o->address + profile_width(o) <= address || o->address >= address + count)
			continue;
		value = simrig_get(dev, values[k], 0);
		if (o->type == PROFILE_F32)
			fprintf(sim->trace, "%lld %s %s %.7g\n", now_ns, dev->cfg->name,
			    profile_op_names[values[k]], value);
		else
			fprintf(sim->trace, "%lld %s %s %.*f\n", now_ns, dev->cfg->name,
			    profile_op_names[values[k]], simrig_trace_decimals(o), value);
	}
	/* for timing benchmarks too: when each command reached the device */
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (simrig_commanded(dev, commands[k], address, count))
			fprintf(sim->trace, "%lld %s %s\n", now_ns, dev->cfg->name,
			    profile_op_names[commands[k]]);
}

void
simrig_phys_written(struct simrig *sim, struct simrig_device *dev, int fc, int address,
    int count)
{
	enum profile_table table = fc == 5 || fc == 15 ? PROFILE_COIL : PROFILE_HOLDING;
	int64_t now_ns = simrig_now_ns(sim);
	int i, touched = 0;

	for (i = 0; i < PROFILE_OP_COUNT; i++)
		if (dev->profile->ops[i].defined && dev->profile->ops[i].table == table)
			touched = 1;
	if (!touched)
		return;
	if (sim->trace != NULL)
		simrig_trace_write(sim, dev, table, address, count);
	/* for latency benchmarks: when the device was last told to stop */
	if (simrig_commanded(dev, dev->cfg->role == RIG_VALVE ? PROFILE_OFF : PROFILE_STOP,
	    address, count))
		dev->stop_ns = loop_now_ns();
	switch (dev->cfg->role) {
	case RIG_AXIS:
		simrig_axis_written(dev, address, count, now_ns);
		break;
	case RIG_PUMP:
	case RIG_LINE:
		simrig_flow_written(dev, address, count);
		break;
	case RIG_VALVE:
		if (simrig_commanded(dev, PROFILE_OFF, address, count))
			dev->active = 0;
		else if (simrig_commanded(dev, PROFILE_ON, address, count))
			dev->active = 1;
		break;
	default:
		break;
	}
	simrig_watchdog_written(sim, dev, table, address, count);
	if (sim->verbose)
		log_info("%s: fc %d at %d+%d", dev->cfg->name, fc, address, count);
	simrig_phys_update(sim);
}

/* Whether any object of dev's profile lies in table at address .. address + count - 1. */
static int
simrig_owns(const struct simrig_device *dev, int table, int address, int count)
{
	int i;

	for (i = 0; i < PROFILE_OP_COUNT; i++) {
		const struct profile_object *o = &dev->profile->ops[i];

		if (o->defined && (int)o->table == table && o->address < address + count &&
		    address < o->address + profile_width(o))
			return 1;
	}
	return 0;
}

/* The table a Modbus function code reads or writes, or -1 for one lbl never sends. */
static int
simrig_fc_table(int fc)
{
	switch (fc) {
	case 1: case 5: case 15: return PROFILE_COIL;
	case 2: return PROFILE_DISCRETE;
	case 3: case 6: case 16: case 23: return PROFILE_HOLDING;
	case 4: return PROFILE_INPUT;
	default: return -1;
	}
}

struct simrig_device *
simrig_find_device(struct simrig *sim, int bus, int unit, const uint8_t *pdu, int pdu_len)
{
	struct simrig_device *first = NULL;
	int table = pdu_len >= 5 ? simrig_fc_table(pdu[0]) : -1;
	int address = pdu_len >= 5 ? pdu[1] << 8 | pdu[2] : 0, count = 1;
	size_t i;

	if (pdu_len >= 5 && pdu[0] != 5 && pdu[0] != 6)
		count = pdu[3] << 8 | pdu[4];
	for (i = 0; i < sim->rig->device_count; i++) {
		struct simrig_device *dev = &sim->devices[i];

		if (dev->map == NULL || dev->cfg->bus != bus || dev->cfg->unit != unit)
			continue;
		if (first == NULL)
			first = dev;
		/* devices sharing a unit have distinct registers (profile.c checks) */
		if (table != -1 && count > 0 && simrig_owns(dev, table, address, count))
			return dev;
	}
	/* no device holds the registers: the first answers, with an exception */
	return first;
}

void
simrig_phys_describe(struct simrig *sim, const struct simrig_device *dev, char *buf,
    size_t size)
{
	simrig_phys_update(sim);
	switch (dev->cfg->role) {
	case RIG_AXIS:
		snprintf(buf, size, "position=%.3f target=%.3f moving=%d homed=%d",
		    dev->position_mm, dev->to_mm, dev->moving, dev->homed);
		break;
	case RIG_PUMP:
		if (rig_pump_is_stirrer(dev->cfg))
			snprintf(buf, size, "running=%d rpm=%.1f", dev->running, dev->rate);
		else
			snprintf(buf, size, "running=%d flow=%.3f volume=%.3f", dev->running,
			    dev->rate, dev->total);
		break;
	case RIG_LINE:
		snprintf(buf, size, "running=%d speed=%.3f length=%.1f", dev->running, dev->rate,
		    dev->total);
		break;
	case RIG_SENSOR:
		snprintf(buf, size, "value=%.3f dips=%d", simrig_sensor_value(sim, dev),
		    sim->coating_dips);
		break;
	default:
		snprintf(buf, size, "active=%d", dev->active);
		break;
	}
	snprintf(buf + strlen(buf), size - strlen(buf), " fault=%s stop_ns=%lld watchdog=%lld "
	    "tripped=%d heard_ns=%lld", simrig_fault_names[dev->fault], (long long)dev->stop_ns,
	    (long long)dev->watchdog_ms, dev->tripped, (long long)dev->heard_ns);
	if (dev->fault == SIMRIG_TRICKLE)
		snprintf(buf + strlen(buf), size - strlen(buf), " trickle_ms=%d", dev->trickle_ms);
}

int
simrig_set_fault(struct simrig *sim, const char *device, const char *kind, char *err,
    size_t err_size)
{
	int i = rig_device_index(sim->rig, device), k, trickle_ms = SIMRIG_TRICKLE_MS;
	size_t name_len = strcspn(kind, ":");
	double reading = 0;
	char *end;
	long ms;

	if (i < 0 || sim->devices[i].map == NULL) {
		snprintf(err, err_size, "no Modbus device '%s' on this rig", device);
		return -1;
	}
	for (k = 0; simrig_fault_names[k] != NULL; k++)
		if ((strlen(simrig_fault_names[k]) == name_len &&
		    strncmp(kind, simrig_fault_names[k], name_len) == 0) ||
		    (k == SIMRIG_OK && strcmp(kind, "clear") == 0))
			break;
	if (simrig_fault_names[k] == NULL) {
		snprintf(err, err_size, "unknown fault '%s' (silent, exception, stall, alarm, "
		    "stuck, trickle, trickle:MS, half, nan, inf, huge, reading:VALUE, dry or clear)",
		    kind);
		return -1;
	}
	if (k == SIMRIG_DRY && sim->devices[i].cfg->role != RIG_PUMP &&
	    sim->devices[i].cfg->role != RIG_LINE) {
		snprintf(err, err_size, "fault dry is for pumps and line drives; '%s' is a%s %s",
		    device, sim->devices[i].cfg->role == RIG_AXIS ? "n" : "",
		    rig_role_names[sim->devices[i].cfg->role]);
		return -1;
	}
	if (k >= SIMRIG_NAN && k <= SIMRIG_READING &&
	    sim->devices[i].cfg->role != RIG_SENSOR) {
		snprintf(err, err_size, "fault %s is for sensors; '%s' is a%s %s", simrig_fault_names[k],
		    device, sim->devices[i].cfg->role == RIG_AXIS ? "n" : "",
		    rig_role_names[sim->devices[i].cfg->role]);
		return -1;
	}
	if (k == SIMRIG_READING) {
		if (kind[name_len] != ':' || (reading = strtod(kind + name_len + 1, &end),
		    end == kind + name_len + 1) || *end != '\0') {
			snprintf(err, err_size, "'%s': reading takes the value to read "
			    "(reading:VALUE, e.g. reading:-5 or reading:1e9)", kind);
			return -1;
		}
	} else if (kind[name_len] == ':') {
		ms = strtol(kind + name_len + 1, &end, 10);
		if (k != SIMRIG_TRICKLE || end == kind + name_len + 1 || *end != '\0' || ms < 1 ||
		    ms > SIMRIG_MAX_LATENCY_MS) {
			snprintf(err, err_size, "'%s': only trickle takes a gap, 1 to %d ms "
			    "(trickle:MS)", kind, SIMRIG_MAX_LATENCY_MS);
			return -1;
		}
		trickle_ms = (int)ms;
	}
	simrig_phys_update(sim);
	sim->devices[i].fault = (enum simrig_fault)k;
	sim->devices[i].trickle_ms = trickle_ms;
	sim->devices[i].reading = reading;
	if (k == SIMRIG_ALARM) {
		/* an alarm stops the device, as drives and pumps do */
		sim->devices[i].moving = 0;
		sim->devices[i].running = 0;
	}
	simrig_phys_update(sim);
	if (k == SIMRIG_TRICKLE)
		log_info("device '%s': fault trickle, one byte every %d ms", device, trickle_ms);
	else if (k == SIMRIG_READING)
		log_info("device '%s': fault reading, reads %g", device, reading);
	else
		log_info("device '%s': fault %s", device, simrig_fault_names[k]);
	return 0;
}

int
simrig_stop_device(struct simrig *sim, const char *device, char *err, size_t err_size)
{
	int i = rig_device_index(sim->rig, device);
	struct simrig_device *dev;

	if (i < 0 || sim->devices[i].map == NULL) {
		snprintf(err, err_size, "no Modbus device '%s' on this rig", device);
		return -1;
	}
	dev = &sim->devices[i];
	if (dev->cfg->role != RIG_PUMP && dev->cfg->role != RIG_LINE &&
	    dev->cfg->role != RIG_AXIS) {
		snprintf(err, err_size, "'%s' is a%s %s: only pumps, line drives and axes stop",
		    device, dev->cfg->role == RIG_INPUT ? "n" : "", rig_role_names[dev->cfg->role]);
		return -1;
	}
	/* volumes and positions up to now, then it stops where it is */
	simrig_phys_update(sim);
	dev->running = 0;
	dev->moving = 0;
	dev->homing = 0;	/* stopped mid-search: not homed */
	simrig_phys_update(sim);
	log_info("device '%s': stopped from outside", device);
	return 0;
}

int
simrig_push_axis(struct simrig *sim, const char *device, double mm, char *err, size_t err_size)
{
	int i = rig_device_index(sim->rig, device);
	struct simrig_device *dev;

	if (i < 0 || sim->devices[i].map == NULL || sim->devices[i].cfg->role != RIG_AXIS) {
		snprintf(err, err_size, "no Modbus axis '%s' on this rig", device);
		return -1;
	}
	dev = &sim->devices[i];
	simrig_phys_update(sim);
	/* where it was going stays its target: it no longer reads in position */
	dev->position_mm += mm;
	if (!dev->moving)
		dev->from_mm = dev->position_mm;
	simrig_phys_update(sim);
	log_info("device '%s': pushed %g mm from outside, at %.3f mm", device, mm, dev->position_mm);
	return 0;
}
