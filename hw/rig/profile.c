/*
 * Device profiles: parsing, checking and value conversion. See profile.h.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

const char *const profile_op_names[] = { "target", "speed", "accel", "go", "home", "stop",
	"enable", "position", "busy", "in_position", "alarm", "flow", "run", "direction", "volume",
	"running", "on", "off", "state", "active", "value", "length", "watchdog", "rpm", "homed",
	"reset", NULL };
const char *const profile_table_names[] = { "coil", "discrete", "input", "holding", NULL };
static const char *const profile_type_names[] = { "bit", "uint16", "int16", "uint32", "int32",
	"float32", NULL };

/* How an operation is used: it decides the tables and types it may take. */
enum profile_use { USE_WRITE, USE_COMMAND, USE_READ, USE_FLAG };

static const enum profile_use profile_uses[PROFILE_OP_COUNT] = {
	[PROFILE_TARGET] = USE_WRITE, [PROFILE_SPEED] = USE_WRITE, [PROFILE_ACCEL] = USE_WRITE,
	[PROFILE_GO] = USE_COMMAND, [PROFILE_HOME] = USE_COMMAND, [PROFILE_STOP] = USE_COMMAND,
	[PROFILE_ENABLE] = USE_COMMAND, [PROFILE_POSITION] = USE_READ, [PROFILE_BUSY] = USE_FLAG,
	[PROFILE_IN_POSITION] = USE_FLAG, [PROFILE_ALARM] = USE_FLAG, [PROFILE_FLOW] = USE_WRITE,
	[PROFILE_RUN] = USE_COMMAND, [PROFILE_DIRECTION] = USE_WRITE, [PROFILE_VOLUME] = USE_READ,
	[PROFILE_RUNNING] = USE_FLAG, [PROFILE_ON] = USE_COMMAND, [PROFILE_OFF] = USE_COMMAND,
	[PROFILE_STATE] = USE_FLAG, [PROFILE_ACTIVE] = USE_FLAG, [PROFILE_VALUE] = USE_READ,
	[PROFILE_LENGTH] = USE_READ, [PROFILE_WATCHDOG] = USE_WRITE, [PROFILE_RPM] = USE_WRITE,
	[PROFILE_HOMED] = USE_FLAG, [PROFILE_RESET] = USE_COMMAND,
};

/*
 * Operations per role: 'r' required, 'o' optional. A stop is required
 * wherever something moves or flows, because the safe state needs it. A
 * watchdog (the device's own communication-loss timeout) is optional for
 * whatever can be left running: axes, pumps, valves and line drives.
 * A pump's rate is its flow, or for a stirrer (a pump of kind stirrer)
 * its rpm: the role allows both and profile_set_load asks the one the
 * device's kind is driven in.
 */
static const char *const profile_role_ops[RIG_ROLE_COUNT] = {
	/* target speed accel go home stop | enable position busy in_position alarm |
	 * flow run direction volume running | on off state | active value | length watchdog |
	 * rpm homed | reset */
	[RIG_AXIS]   = "rooror" "orooo" "-----" "---" "--" "-o" "-o" "o",
	[RIG_PUMP]   = "-----r" "----o" "orooo" "---" "--" "-o" "o-" "o",
	[RIG_VALVE]  = "------" "----o" "-----" "rro" "--" "-o" "--" "-",
	[RIG_INPUT]  = "------" "-----" "-----" "---" "r-" "--" "--" "-",
	[RIG_SENSOR] = "------" "----o" "-----" "---" "-r" "--" "--" "-",
	[RIG_LINE]   = "-r---r" "----o" "-ro-o" "---" "--" "oo" "--" "o",
};

/*
 * The built-in profiles, in the same YAML a rig file uses. The generic
 * ones are what lbl-simrig emulates by default; the others are real device
 * families with public register maps (sources cited per profile).
 *
 * The generic drive, pump, valve and line have a communication-loss
 * timeout ("watchdog", in ms, 0 off) in the first holding register after
 * their others: HR 6 (drive), HR 3 (pump, line) and HR 0 (valve, whose
 * other objects are coils). A device whose timeout is armed stops by
 * itself when no request addressed to it came for that long; the rig
 * file's comm_timeout arms it (see rig.h). The BT100S and Leadshine maps
 * cited below give no such register.
 */
static const char profile_builtin_yaml[] =
"# generic stepper/servo drive: µm positions, 0.1 mm/s speeds\n"
"generic-drive:\n"
"  role: axis\n"
"  ops:\n"
"    target:      {table: holding, address: 0, type: int32, scale: 0.001}\n"
"    speed:       {table: holding, address: 2, type: uint16, scale: 0.1}\n"
"    accel:       {table: holding, address: 3, type: uint16}\n"
"    go:          {table: holding, address: 4, write: 1}\n"
"    home:        {table: holding, address: 4, write: 2}\n"
"    stop:        {table: holding, address: 4, write: 3}\n"
"    reset:       {table: holding, address: 4, write: 4}\n"
"    enable:      {table: holding, address: 5, write: 1}\n"
"    position:    {table: input, address: 0, type: int32, scale: 0.001}\n"
"    busy:        {table: input, address: 2, bit: 0}\n"
"    in_position: {table: input, address: 2, bit: 1}\n"
"    alarm:       {table: input, address: 2, bit: 2}\n"
"    homed:       {table: input, address: 2, bit: 3}\n"
"    watchdog:    {table: holding, address: 6}\n"
"# generic peristaltic pump: 0.01 mL/min flow, µL volume\n"
"generic-pump:\n"
"  role: pump\n"
"  ops:\n"
"    flow:      {table: holding, address: 0, type: uint16, scale: 0.01}\n"
"    direction: {table: holding, address: 1}\n"
"    run:       {table: holding, address: 2, write: 1}\n"
"    stop:      {table: holding, address: 2, write: 0}\n"
"    reset:     {table: holding, address: 2, write: 2}\n"
"    volume:    {table: input, address: 0, type: uint32, scale: 0.001}\n"
"    running:   {table: input, address: 2, bit: 0}\n"
"    alarm:     {table: input, address: 2, bit: 1}\n"
"    watchdog:  {table: holding, address: 3}\n"
"# generic magnetic or overhead stirrer: speed in rpm\n"
"generic-stirrer:\n"
"  role: pump\n"
"  ops:\n"
"    rpm:       {table: holding, address: 0, type: uint16}\n"
"    run:       {table: holding, address: 2, write: 1}\n"
"    stop:      {table: holding, address: 2, write: 0}\n"
"    reset:     {table: holding, address: 2, write: 2}\n"
"    running:   {table: input, address: 2, bit: 0}\n"
"    alarm:     {table: input, address: 2, bit: 1}\n"
"    watchdog:  {table: holding, address: 3}\n"
"generic-valve:\n"
"  role: valve\n"
"  ops:\n"
"    on:       {table: coil, address: 0, write: 1}\n"
"    off:      {table: coil, address: 0, write: 0}\n"
"    state:    {table: coil, address: 0}\n"
"    watchdog: {table: holding, address: 0}\n"
"generic-input:\n"
"  role: input\n"
"  ops:\n"
"    active: {table: discrete, address: 0}\n"
"# a reading as float32 in engineering units (Hz, nm, absorbance, °C)\n"
"generic-sensor:\n"
"  role: sensor\n"
"  ops:\n"
"    value: {table: input, address: 0, type: float32}\n"
"    alarm: {table: input, address: 2, bit: 0}\n"
"# roll-to-roll line drive: 0.01 mm/s web speed, web length in mm\n"
"generic-line:\n"
"  role: line\n"
"  ops:\n"
"    speed:     {table: holding, address: 0, type: uint16, scale: 0.01}\n"
"    direction: {table: holding, address: 1}\n"
"    run:       {table: holding, address: 2, write: 1}\n"
"    stop:      {table: holding, address: 2, write: 0}\n"
"    length:    {table: input, address: 0, type: uint32}\n"
"    running:   {table: input, address: 2, bit: 0}\n"
"    alarm:     {table: input, address: 2, bit: 1}\n"
"    watchdog:  {table: holding, address: 3}\n"
"# Lead Fluid BT100S peristaltic pump (RS-485 Modbus RTU). Register map from\n"
"# the BT100S communication manual as used by awacha/cct: HR 3100 speed in\n"
"# 0.1 rpm, 3101 direction, 3102 run (1) / stop (0). Flow is speed times the\n"
"# tubing's volume per revolution: the scale assumes 0.1 mL/rev; derive a\n"
"# profile with base: lead-fluid-bt100s and your tubing's flow scale. The\n"
"# map has no alarm word and no alarm reset (nor a volume counter: 3105-06\n"
"# is a dispense volume setpoint), so there is no 'reset' here and\n"
"# 'lblctl reset' refuses it, saying so: a stalled BT100S is cleared at the\n"
"# pump itself.\n"
"lead-fluid-bt100s:\n"
"  role: pump\n"
"  ops:\n"
"    flow:      {table: holding, address: 3100, type: uint16, scale: 0.01}\n"
"    direction: {table: holding, address: 3101}\n"
"    run:       {table: holding, address: 3102, write: 1}\n"
"    stop:      {table: holding, address: 3102, write: 0}\n"
"    running:   {table: holding, address: 3102}\n"
"# Leadshine stepper/servo drives in PR (path) mode, Modbus RTU. Register map\n"
"# from the Leadshine PR-mode manual as used by yizhongzhang1989/robot_dc\n"
"# (leadshine_motor/motor_controller.py): 0x6200 PR0 mode (1 = absolute),\n"
"# 0x6201-02 target position (int32, high word first), 0x6203 speed in rpm,\n"
"# 0x6002 trigger (0x10 go, 0x20 home, 0x40 emergency stop), 0x602C-2D actual\n"
"# position, 0x2203 current alarm (non-zero = alarm). Scales assume 10000\n"
"# counts/rev on a 5 mm lead screw; the drive has no in-position word here,\n"
"# so arrival is position within tolerance of the target. The map has no\n"
"# alarm reset (0x6002's triggers are go, home and emergency stop; 0x2203\n"
"# only reads the alarm), so there is no 'reset' here and 'lblctl reset'\n"
"# refuses it, saying so: clear the alarm at the drive (its panel or a\n"
"# power cycle), or give a derived profile the reset your drive's manual\n"
"# documents.\n"
"leadshine-pr:\n"
"  role: axis\n"
"  tolerance: 0.01 mm\n"
"  ops:\n"
"    enable:   {table: holding, address: 0x6200, write: 1}\n"
"    target:   {table: holding, address: 0x6201, type: int32, scale: 0.0005}\n"
"    speed:    {table: holding, address: 0x6203, type: uint16, scale: 0.0833333333333}\n"
"    go:       {table: holding, address: 0x6002, write: 0x10}\n"
"    home:     {table: holding, address: 0x6002, write: 0x20}\n"
"    stop:     {table: holding, address: 0x6002, write: 0x40}\n"
"    position: {table: holding, address: 0x602C, type: int32, scale: 0.0005}\n"
"    alarm:    {table: holding, address: 0x2203}\n";

#define PROFILE_BUILTIN_FILE	"<built-in profiles>"

struct profile_set {
	struct conf_doc *builtin_doc;
	struct profile *profiles;
	size_t count, cap;
	const struct profile **by_device;	/* rig device index -> profile or NULL */
	size_t device_count;
};

/* A non-negative or signed integer in decimal or 0x hex. */
static int
profile_integer(struct diag *d, const struct conf_node *n, const char *key, long min, long max,
    long *out)
{
	char *end;
	long v;

	if (n->type != CONF_SCALAR || n->quoted) {
		diag_error(d, n, "'%s' must be an integer", key);
		return -1;
	}
	errno = 0;
	v = strtol(n->text, &end, 0);
	if (errno != 0 || end == n->text || *end != '\0' || v < min || v > max) {
		diag_error(d, n, "'%s' must be an integer from %ld to %ld (decimal or 0x hex), "
		    "not '%s'", key, min, max, n->text);
		return -1;
	}
	*out = v;
	return 0;
}

static int
profile_parse_object_fields(struct diag *d, const struct conf_node *n, struct profile_object *o,
    int default_low_first)
{
	const struct conf_node *v;
	long value;
	int index, rc = 0;

	o->table = PROFILE_HOLDING;
	o->type = PROFILE_U16;
	o->scale = 1;
	o->bit = -1;
	o->low_word_first = default_low_first;
	if (conf_get_enum(d, n, "table", 0, profile_table_names, &index) == 1)
		o->table = index;
	if (o->table == PROFILE_COIL || o->table == PROFILE_DISCRETE)
		o->type = PROFILE_BIT;
	if ((v = conf_lookup(n, "address")) == NULL) {
		diag_error(d, n, "missing 'address' (the register or bit address, 0-based)");
		rc = -1;
	} else if (profile_integer(d, v, "address", 0, 65535, &value) == 0) {
		o->address = (uint16_t)value;
	} else {
		rc = -1;
	}
	if (conf_get_enum(d, n, "type", 0, profile_type_names, &index) == 1)
		o->type = index;
	static const char *const orders[] = { "high-first", "low-first", NULL };
	if (conf_get_enum(d, n, "word_order", 0, orders, &index) == 1)
		o->low_word_first = index;
	if (conf_get_number(d, n, "scale", 0, &o->scale) == -1 ||
	    conf_get_number(d, n, "offset", 0, &o->offset) == -1)
		rc = -1;
	if ((v = conf_lookup(n, "bit")) != NULL) {
		if (profile_integer(d, v, "bit", 0, 15, &value) == 0)
			o->bit = (int)value;
		else
			rc = -1;
	}
	if ((v = conf_lookup(n, "write")) != NULL) {
		if (profile_integer(d, v, "write", INT32_MIN, INT32_MAX, &value) == 0) {
			o->has_command = 1;
			o->command = (int32_t)value;
		} else {
			rc = -1;
		}
	}
	return rc;
}

/* Checks that the object suits its operation; reports at n. */
static int
profile_check_object(struct diag *d, const struct conf_node *n, enum profile_op op,
    const struct profile_object *o)
{
	enum profile_use use = profile_uses[op];
	int bit_table = o->table == PROFILE_COIL || o->table == PROFILE_DISCRETE;
	const char *name = profile_op_names[op];

	if (bit_table && o->type != PROFILE_BIT) {
		diag_error(d, n, "'%s': %s objects are single bits; type must be 'bit'", name,
		    profile_table_names[o->table]);
		return -1;
	}
	if (!bit_table && o->type == PROFILE_BIT) {
		diag_error(d, n, "'%s': type 'bit' is for coils and discrete inputs; for a bit "
		    "of a register give 'bit: N'", name);
		return -1;
	}
	if (o->bit >= 0 && (use != USE_FLAG || bit_table || o->type == PROFILE_U32 ||
	    o->type == PROFILE_I32 || o->type == PROFILE_F32)) {
		diag_error(d, n, "'%s': 'bit' selects a bit of a 16-bit register, for status "
		    "flags only", name);
		return -1;
	}
	if ((use == USE_WRITE || use == USE_COMMAND) &&
	    (o->table == PROFILE_DISCRETE || o->table == PROFILE_INPUT)) {
		diag_error(d, n, "'%s' writes, so it needs a coil or holding register, not %s",
		    name, o->table == PROFILE_DISCRETE ? "a discrete input" : "an input register");
		return -1;
	}
	if (use == USE_COMMAND && !o->has_command) {
		diag_error(d, n, "'%s' is a command: give the value to write ('write: N')", name);
		return -1;
	}
	if (use != USE_COMMAND && o->has_command) {
		diag_error(d, n, "'%s' is not a command; 'write' is not allowed here", name);
		return -1;
	}
	if (o->has_command && bit_table && o->command != 0 && o->command != 1) {
		diag_error(d, n, "'%s': a coil can only be written 0 or 1", name);
		return -1;
	}
	if (o->scale == 0 || !isfinite(o->scale)) {
		diag_error(d, n, "'%s': scale must be a non-zero number", name);
		return -1;
	}
	if (o->type == PROFILE_F32 && o->address == 65535) {
		diag_error(d, n, "'%s': a 32-bit value needs two registers", name);
		return -1;
	}
	if ((o->type == PROFILE_U32 || o->type == PROFILE_I32) && o->address == 65535) {
		diag_error(d, n, "'%s': a 32-bit value needs two registers", name);
		return -1;
	}
	return 0;
}

static struct profile *
profile_find_mut(struct profile_set *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		if (strcmp(set->profiles[i].name, name) == 0)
			return &set->profiles[i];
	return NULL;
}

static struct profile *
profile_add(struct profile_set *set)
{
	if (set->count == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct profile *p = realloc(set->profiles, cap * sizeof(*p));
		if (p == NULL)
			return NULL;
		set->profiles = p;
		set->cap = cap;
	}
	memset(&set->profiles[set->count], 0, sizeof(set->profiles[0]));
	return &set->profiles[set->count++];
}

static int
profile_parse_ops(struct diag *d, struct profile *p, const struct conf_node *ops,
    int low_first)
{
	const char *rules = profile_role_ops[p->role];
	size_t i;
	int op, rc = 0;

	if (conf_expect(d, ops, CONF_MAP, "a map of operations") == -1)
		return -1;
	for (i = 0; i < ops->count; i++) {
		const struct conf_node *key = ops->items[2 * i], *val = ops->items[2 * i + 1];
		static const char *const keys[] = { "table", "address", "type", "word_order",
			"scale", "offset", "bit", "write", "description", NULL };
		struct profile_object o = { 0 };

		for (op = 0; op < PROFILE_OP_COUNT; op++)
			if (strcmp(key->text, profile_op_names[op]) == 0)
				break;
		if (op == PROFILE_OP_COUNT || rules[op] == '-') {
			diag_error(d, key, "'%s' is not an operation of a %s profile", key->text,
			    rig_role_names[p->role]);
			rc = -1;
			continue;
		}
		if (conf_check_map(d, val, profile_op_names[op], keys) == -1 ||
		    profile_parse_object_fields(d, val, &o, low_first) == -1 ||
		    profile_check_object(d, val, op, &o) == -1) {
			rc = -1;
			continue;
		}
		o.defined = 1;
		o.line = val->line;
		o.col = val->col;
		p->ops[op] = o;
	}
	return rc;
}

static int
profile_check_required(struct diag *d, const struct profile *p, const struct conf_node *at)
{
	const char *rules = profile_role_ops[p->role];
	int op, rc = 0;

	for (op = 0; op < PROFILE_OP_COUNT; op++) {
		if (rules[op] == 'r' && !p->ops[op].defined) {
			diag_error(d, at, "profile '%s' lacks '%s', which every %s profile needs",
			    p->name, profile_op_names[op], rig_role_names[p->role]);
			rc = -1;
		}
	}
	return rc;
}

static int
profile_parse(struct diag *d, struct profile_set *set, const struct conf_node *name,
    const struct conf_node *n)
{
	static const char *const keys[] = { "role", "base", "word_order", "tolerance", "ops",
		"range", "description", NULL };
	static const char *const orders[] = { "high-first", "low-first", NULL };
	const struct conf_node *ops = NULL;
	const struct profile *base = NULL;
	struct profile base_copy;
	const char *base_name = NULL;
	struct profile *p;
	int role = -1, low_first = 0, rc = 0;

	if (conf_check_map(d, n, "profile", keys) == -1)
		return -1;
	if (profile_find_mut(set, name->text) != NULL) {
		diag_error(d, name, "profile '%s' is already defined (built-in profiles cannot be "
		    "redefined; derive one with 'base:')", name->text);
		return -1;
	}
	if (conf_get_string(d, n, "base", 0, &base_name) == 1 &&
	    (base = profile_find_mut(set, base_name)) == NULL) {
		diag_error(d, conf_lookup(n, "base"), "unknown base profile '%s' (a built-in one "
		    "or one defined above)", base_name);
		return -1;
	}
	if (conf_get_enum(d, n, "role", base ? 0 : CONF_REQUIRED, rig_role_names, &role) != 1 &&
	    base == NULL)
		return -1;
	if (base != NULL && role != -1 && role != (int)base->role) {
		diag_error(d, conf_lookup(n, "role"), "role %s differs from base profile '%s' (%s)",
		    rig_role_names[role], base->name, rig_role_names[base->role]);
		return -1;
	}
	conf_get_enum(d, n, "word_order", 0, orders, &low_first);
	if (conf_get_node(d, n, "ops", base ? 0 : CONF_REQUIRED, CONF_MAP, "operations",
	    &ops) == -1)
		return -1;
	/* profile_add() may move the array base points into */
	if (base != NULL)
		base_copy = *base;
	if ((p = profile_add(set)) == NULL) {
		diag_error(d, n, "out of memory");
		return -1;
	}
	if (base != NULL)
		*p = base_copy;
	else
		p->role = role;
	p->name = name->text;
	if (conf_get_quantity(d, n, "tolerance", CONF_POSITIVE, UNIT_LENGTH_MM, &p->tolerance_mm) == -1)
		rc = -1;
	if (p->tolerance_mm == 0)
		p->tolerance_mm = 0.01;
	if (conf_lookup(n, "range") != NULL) {
		if (p->role != RIG_SENSOR) {
			diag_error(d, conf_lookup(n, "range"), "'range' is for sensor profiles (the "
			    "plausible readings of 'value')");
			rc = -1;
		} else if (rig_parse_range(d, conf_lookup(n, "range"), "range", &p->range_min,
		    &p->range_max) == -1) {
			rc = -1;
		} else {
			p->has_range = 1;
		}
	}
	if (ops != NULL && profile_parse_ops(d, p, ops, low_first) == -1)
		rc = -1;
	if (rc == 0)
		rc = profile_check_required(d, p, name);
	if (rc == -1)
		set->count--;
	return rc;
}

static int
profile_parse_map(struct diag *d, struct profile_set *set, const struct conf_node *map)
{
	size_t i;
	int rc = 0;

	if (conf_expect(d, map, CONF_MAP, "a map of profiles by name") == -1)
		return -1;
	for (i = 0; i < map->count; i++)
		if (profile_parse(d, set, map->items[2 * i], map->items[2 * i + 1]) == -1)
			rc = -1;
	return rc;
}

/* A device's comm_timeout needs its profile's watchdog register, and must fit it. */
static int
profile_check_comm_timeout(struct diag *d, const struct rig_device *dev,
    const struct profile *p)
{
	const struct profile_object *o = &p->ops[PROFILE_WATCHDOG];
	uint16_t regs[2];

	if (dev->comm_timeout_ms == 0)
		return 0;
	if (!o->defined) {
		diag_error(d, conf_lookup(dev->node, "comm_timeout"), "device '%s': profile '%s' "
		    "has no 'watchdog' operation, so its comm_timeout cannot be armed (derive a "
		    "profile with 'base: %s' and give the register of the device's communication "
		    "timeout as 'watchdog', in ms through its scale)", dev->name, p->name, p->name);
		return -1;
	}
	if (profile_encode(o, (double)dev->comm_timeout_ms, regs) == -1 ||
	    profile_encode(o, 0, regs) == -1) {
		diag_error(d, conf_lookup(dev->node, "comm_timeout"), "device '%s': comm_timeout "
		    "%lld ms (or 0, to disarm) does not fit profile '%s''s watchdog, %s %s 0x%04x "
		    "(scale %g)", dev->name, (long long)dev->comm_timeout_ms, p->name,
		    profile_table_names[o->table], profile_type_names[o->type], o->address,
		    o->scale);
		return -1;
	}
	return 0;
}

static int
profile_check_devices(struct diag *d, const struct rig *rig, struct profile_set *set)
{
	size_t i;
	int rc = 0;

	set->device_count = rig->device_count;
	set->by_device = calloc(rig->device_count + 1, sizeof(*set->by_device));
	if (set->by_device == NULL) {
		diag_error(d, NULL, "out of memory");
		return -1;
	}
	for (i = 0; i < rig->device_count; i++) {
		const struct rig_device *dev = &rig->devices[i];
		const struct profile *p;

		if (dev->bus < 0 || dev->profile == NULL)
			continue;
		if ((p = profile_find(set, dev->profile)) == NULL) {
			diag_error(d, conf_lookup(dev->node, "profile"), "device '%s': unknown profile "
			    "'%s' (built-in: generic-drive, generic-pump, generic-valve, "
			    "generic-stirrer, generic-input, generic-sensor, generic-line, "
			    "lead-fluid-bt100s, "
			    "leadshine-pr; or one under 'profiles:')", dev->name, dev->profile);
			rc = -1;
		} else if (p->role != dev->role) {
			diag_error(d, conf_lookup(dev->node, "profile"), "device '%s' has role %s but "
			    "profile '%s' is for role %s", dev->name, rig_role_names[dev->role],
			    p->name, rig_role_names[p->role]);
			rc = -1;
		} else if (dev->home != RIG_HOME_NONE && !p->ops[PROFILE_HOME].defined) {
			diag_error(d, conf_lookup(dev->node, "home"), "axis '%s' homes (home: %s) but "
			    "profile '%s' has no 'home' operation to send", dev->name,
			    rig_home_names[dev->home], p->name);
			rc = -1;
		} else if (dev->home != RIG_HOME_NONE && !p->ops[PROFILE_HOMED].defined &&
		    !p->ops[PROFILE_BUSY].defined && !p->ops[PROFILE_IN_POSITION].defined) {
			/* without one of them, nothing says when homing has ended */
			diag_error(d, conf_lookup(dev->node, "home"), "axis '%s' homes (home: %s) but "
			    "profile '%s' has no 'homed', 'busy' or 'in_position' flag to tell when "
			    "homing has ended", dev->name, rig_home_names[dev->home], p->name);
			rc = -1;
		} else if (profile_check_comm_timeout(d, dev, p) == -1) {
			rc = -1;
		} else if (dev->role == RIG_PUMP && !p->ops[profile_rate_op(dev)].defined) {
			/* a stirrer is driven in rpm, any other pump in mL/min */
			diag_error(d, conf_lookup(dev->node, "profile"), "device '%s' is a %s pump, "
			    "driven in %s, but profile '%s' has no '%s' operation", dev->name,
			    dev->kind, rig_pump_is_stirrer(dev) ? "rpm" : "mL/min", p->name,
			    profile_op_names[profile_rate_op(dev)]);
			rc = -1;
		} else {
			set->by_device[i] = p;
		}
	}
	return rc;
}

/*
 * Several devices may answer to one unit id on one bus (a pump controller
 * with its valve outputs: one Modbus slave, several rig devices), but only
 * when no register of one is a register of another: a write meant for one
 * would otherwise change the other. Coils, discrete inputs, input and
 * holding registers are separate address spaces. Each overlap is reported
 * at the later device's 'unit', naming both devices and the register.
 * Returns 0, or -1 after reporting.
 */
static int
profile_check_shared_units(struct diag *d, const struct rig *rig,
    const struct profile_set *set)
{
	size_t i, j;
	int a, b, rc = 0;

	for (i = 0; i < rig->device_count; i++) {
		const struct rig_device *di = &rig->devices[i];
		const struct profile *pi = set->by_device[i];

		if (di->bus == -1 || pi == NULL)
			continue;
		for (j = 0; j < i; j++) {
			const struct rig_device *dj = &rig->devices[j];
			const struct profile *pj = set->by_device[j];
			int found = 0;

			if (dj->bus != di->bus || dj->unit != di->unit || pj == NULL)
				continue;
			for (a = 0; a < PROFILE_OP_COUNT && !found; a++) {
				const struct profile_object *oa = &pi->ops[a];

				if (!oa->defined)
					continue;
				for (b = 0; b < PROFILE_OP_COUNT && !found; b++) {
					const struct profile_object *ob = &pj->ops[b];

					if (!ob->defined || ob->table != oa->table ||
					    oa->address >= ob->address + profile_width(ob) ||
					    ob->address >= oa->address + profile_width(oa))
						continue;
					diag_error(d, conf_lookup(di->node, "unit"), "unit %d on bus "
					    "'%s' is shared by devices '%s' and '%s', and both use %s "
					    "0x%04x ('%s' as %s, '%s' as %s): devices sharing a unit id "
					    "need distinct registers", di->unit, rig->buses[di->bus].name,
					    dj->name, di->name, profile_table_names[oa->table],
					    oa->address > ob->address ? oa->address : ob->address,
					    dj->name, profile_op_names[b], di->name,
					    profile_op_names[a]);
					found = 1;
					rc = -1;
				}
			}
		}
	}
	return rc;
}

enum profile_op
profile_rate_op(const struct rig_device *dev)
{
	if (dev->role == RIG_LINE)
		return PROFILE_SPEED;
	return rig_pump_is_stirrer(dev) ? PROFILE_RPM : PROFILE_FLOW;
}

int
profile_set_load(const struct rig *rig, struct diag *d, struct profile_set **out)
{
	struct profile_set *set;
	struct diag builtin;
	int rc = 0;

	*out = NULL;
	if ((set = calloc(1, sizeof(*set))) == NULL) {
		diag_error(d, NULL, "out of memory");
		return -1;
	}
	/* The built-ins are tested to parse cleanly; a failure here is a bug. */
	diag_init(&builtin, PROFILE_BUILTIN_FILE);
	if (conf_load_buffer(PROFILE_BUILTIN_FILE, profile_builtin_yaml,
	    sizeof(profile_builtin_yaml) - 1, &builtin, &set->builtin_doc) == -1 ||
	    profile_parse_map(&builtin, set, set->builtin_doc->root) == -1) {
		diag_error(d, NULL, "internal error: built-in profiles do not parse");
		rc = -1;
	}
	diag_free(&builtin);
	if (rc == 0 && rig != NULL && rig->profiles != NULL &&
	    profile_parse_map(d, set, rig->profiles) == -1)
		rc = -1;
	if (rc == 0 && rig != NULL && profile_check_devices(d, rig, set) == -1)
		rc = -1;
	if (rc == 0 && rig != NULL && profile_check_shared_units(d, rig, set) == -1)
		rc = -1;
	if (rc == -1) {
		profile_set_free(set);
		return -1;
	}
	*out = set;
	return 0;
}

void
profile_set_free(struct profile_set *set)
{
	if (set == NULL)
		return;
	conf_free(set->builtin_doc);
	free(set->profiles);
	free(set->by_device);
	free(set);
}

const struct profile *
profile_find(const struct profile_set *set, const char *name)
{
	return profile_find_mut((struct profile_set *)set, name);
}

const struct profile *
profile_of(const struct profile_set *set, int device)
{
	if (device < 0 || (size_t)device >= set->device_count)
		return NULL;
	return set->by_device[device];
}

int
profile_check_rig(const struct rig *rig, struct diag *d)
{
	struct profile_set *set;

	if (profile_set_load(rig, d, &set) == -1)
		return -1;
	profile_set_free(set);
	return 0;
}

void
profile_sensor_range(const struct profile *p, const struct rig_device *dev, double *min,
    double *max, char *from, size_t from_size)
{
	static const struct { const char *kind; double min, max; } defaults[] = {
		{ "qcm", SENSOR_QCM_MIN_HZ, SENSOR_QCM_MAX_HZ },
		{ "thickness", SENSOR_THICKNESS_MIN_NM, SENSOR_THICKNESS_MAX_NM },
		{ "absorbance", SENSOR_ABSORBANCE_MIN, SENSOR_ABSORBANCE_MAX },
		{ "temperature", SENSOR_TEMPERATURE_MIN_C, SENSOR_TEMPERATURE_MAX_C },
		{ "encoder", (double)-SENSOR_ENCODER_LIMIT, (double)SENSOR_ENCODER_LIMIT },
	};
	size_t i;

	if (dev->has_range) {
		*min = dev->range_min;
		*max = dev->range_max;
		snprintf(from, from_size, "the rig file's 'range'");
		return;
	}
	if (p != NULL && p->has_range) {
		*min = p->range_min;
		*max = p->range_max;
		snprintf(from, from_size, "profile %s", p->name);
		return;
	}
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		if (dev->kind != NULL && strcmp(dev->kind, defaults[i].kind) == 0) {
			*min = defaults[i].min;
			*max = defaults[i].max;
			snprintf(from, from_size, "the default for %s sensors", defaults[i].kind);
			return;
		}
	}
	/* every sensor kind has a default above; an unknown one gets the widest */
	*min = (double)-SENSOR_ENCODER_LIMIT;
	*max = (double)SENSOR_ENCODER_LIMIT;
	snprintf(from, from_size, "the default for sensors");
}

int
profile_check_reading(const struct profile *p, const struct rig_device *dev, double value,
    char *why, size_t why_size)
{
	char from[96];
	double min, max;

	profile_sensor_range(p, dev, &min, &max, from, sizeof(from));
	if (isfinite(value) && value >= min && value <= max)
		return 0;
	snprintf(why, why_size, "read %.9g, %s (plausible %.9g to %.9g, from %s): a device fault, "
	    "not a measurement", value, isnan(value) ? "not a number" : isinf(value) ? "infinite" :
	    value < min ?
	    "below its plausible range" : "above its plausible range", min, max, from);
	return -1;
}

int
profile_width(const struct profile_object *o)
{
	return o->type == PROFILE_U32 || o->type == PROFILE_I32 || o->type == PROFILE_F32 ? 2 : 1;
}

static void
profile_split32(const struct profile_object *o, uint32_t raw, uint16_t regs[2])
{
	uint16_t high = (uint16_t)(raw >> 16), low = (uint16_t)raw;

	regs[0] = o->low_word_first ? low : high;
	regs[1] = o->low_word_first ? high : low;
}

static uint32_t
profile_join32(const struct profile_object *o, const uint16_t regs[2])
{
	uint32_t high = o->low_word_first ? regs[1] : regs[0];
	uint32_t low = o->low_word_first ? regs[0] : regs[1];

	return high << 16 | low;
}

int
profile_encode(const struct profile_object *o, double value, uint16_t regs[2])
{
	double raw = (value - o->offset) / o->scale;
	float f;
	uint32_t u;

	regs[0] = regs[1] = 0;
	if (!isfinite(raw))
		return -1;
	if (o->type != PROFILE_F32)
		raw = round(raw);
	switch (o->type) {
	case PROFILE_BIT:
		if (raw != 0 && raw != 1)
			return -1;
		regs[0] = (uint16_t)raw;
		return 0;
	case PROFILE_U16:
		if (raw < 0 || raw > UINT16_MAX)
			return -1;
		regs[0] = (uint16_t)raw;
		return 0;
	case PROFILE_I16:
		if (raw < INT16_MIN || raw > INT16_MAX)
			return -1;
		regs[0] = (uint16_t)(int16_t)raw;
		return 0;
	case PROFILE_U32:
		if (raw < 0 || raw > UINT32_MAX)
			return -1;
		profile_split32(o, (uint32_t)raw, regs);
		return 0;
	case PROFILE_I32:
		if (raw < INT32_MIN || raw > INT32_MAX)
			return -1;
		profile_split32(o, (uint32_t)(int32_t)raw, regs);
		return 0;
	case PROFILE_F32:
		f = (float)raw;
		if (!isfinite(f))
			return -1;
		memcpy(&u, &f, sizeof(u));
		profile_split32(o, u, regs);
		return 0;
	}
	return -1;
}

double
profile_decode(const struct profile_object *o, const uint16_t regs[2])
{
	double raw = 0;
	uint32_t u;
	float f;

	switch (o->type) {
	case PROFILE_BIT:
		raw = regs[0] != 0;
		break;
	case PROFILE_U16:
		raw = regs[0];
		break;
	case PROFILE_I16:
		raw = (int16_t)regs[0];
		break;
	case PROFILE_U32:
		raw = profile_join32(o, regs);
		break;
	case PROFILE_I32:
		raw = (int32_t)profile_join32(o, regs);
		break;
	case PROFILE_F32:
		u = profile_join32(o, regs);
		memcpy(&f, &u, sizeof(f));
		raw = f;
		break;
	}
	return raw * o->scale + o->offset;
}

int
profile_flag(const struct profile_object *o, const uint16_t regs[2])
{
	if (o->type == PROFILE_BIT)
		return regs[0] != 0;
	if (o->bit >= 0)
		return (regs[0] >> o->bit) & 1;
	return profile_width(o) == 2 ? (regs[0] | regs[1]) != 0 : regs[0] != 0;
}
