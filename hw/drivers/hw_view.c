/*
 * 'lblctl hw' lines and JSON objects (hw_view.h). A flag the device's
 * profile does not report (-1) is left out of the line and null in JSON.
 */
#include <math.h>
#include <stdio.h>

#include "hw_view.h"

static void
hw_view_where(const struct rig *rig, const struct rig_device *dev, char *buf, size_t size)
{
	if (dev->bus >= 0)
		snprintf(buf, size, "%s unit %d", rig->buses[dev->bus].name, dev->unit);
	else
		snprintf(buf, size, "gpio %s/%s", dev->gpio.chip, dev->gpio.line);
}

/* "in position, 12.000 mm", "running, 3.2 mL", "engaged"... */
static void
hw_view_describe(const struct rig_device *dev, const struct hw_result *r, char *status,
    size_t status_size, char *reading, size_t reading_size)
{
	status[0] = reading[0] = '\0';
	switch (dev->role) {
	case RIG_AXIS:
		/* an axis the rig homes says whether it is homed */
		snprintf(status, status_size, "%s%s%s", r->busy == 1 ? "moving" :
		    r->in_position == 1 ? "in position" : "stopped", r->alarm == 1 ? ", ALARM" : "",
		    dev->home == RIG_HOME_NONE || r->homed == -1 ? "" : r->homed == 1 ? ", homed" :
		    ", NOT homed");
		if (!isnan(r->position_mm))
			snprintf(reading, reading_size, "%.3f mm", r->position_mm);
		break;
	case RIG_PUMP:
	case RIG_LINE:
		snprintf(status, status_size, "%s%s", r->running == 1 ? "running" :
		    r->running == 0 ? "stopped" : "-", r->alarm == 1 ? ", ALARM" : "");
		if (dev->role == RIG_PUMP && r->value != 0)
			snprintf(reading, reading_size, "%.3f mL dispensed", r->value);
		else if (dev->role == RIG_LINE)
			snprintf(reading, reading_size, "%.0f mm of web", r->value);
		break;
	case RIG_VALVE:
		snprintf(status, status_size, "%s", r->value == 1 ? "open" : r->value == 0 ?
		    "closed" : "-");
		break;
	case RIG_INPUT:
		snprintf(status, status_size, "%s", r->value == 1 ? "ENGAGED" : r->value == 0 ?
		    "released" : "unknown");
		break;
	case RIG_SENSOR:
		snprintf(status, status_size, "%s", r->alarm == 1 ? "ALARM" : "ok");
		snprintf(reading, reading_size, "%g", r->value);
		break;
	case RIG_ROLE_COUNT:
		break;
	}
}

void
hw_view_header(char *buf, size_t size)
{
	snprintf(buf, size, "%-12s %-7s %-24s %-9s %-24s %s", "DEVICE", "ROLE", "BUS/UNIT",
	    "REACHABLE", "STATUS", "POSITION/VALUE");
}

void
hw_view_line(const struct rig *rig, size_t i, int reached, const struct hw_result *res,
    char *buf, size_t size)
{
	const struct rig_device *dev = &rig->devices[i];
	char where[96], status[160], reading[64];

	hw_view_where(rig, dev, where, sizeof(where));
	if (!reached || res == NULL || !res->ok) {
		snprintf(buf, size, "%-12s %-7s %-24s %-9s %s", dev->name, rig_role_names[dev->role],
		    where, "no", res != NULL && res->error[0] ? res->error : "no answer");
		return;
	}
	hw_view_describe(dev, res, status, sizeof(status), reading, sizeof(reading));
	snprintf(buf, size, "%-12s %-7s %-24s %-9s %-24s %s", dev->name, rig_role_names[dev->role],
	    where, "yes", status, reading);
}

/* A flag as JSON: true, false, or null when the profile does not report it. */
static void
hw_view_flag(struct json *j, const char *key, int flag)
{
	json_key(j, key);
	if (flag == -1)
		json_null(j);
	else
		json_bool(j, flag);
}

void
hw_view_json(struct json *j, const struct rig *rig, size_t i, int reached,
    const struct hw_result *res)
{
	const struct rig_device *dev = &rig->devices[i];
	char where[96];
	int ok = reached && res != NULL && res->ok;

	hw_view_where(rig, dev, where, sizeof(where));
	json_object_begin(j);
	json_key(j, "name");
	json_string(j, dev->name);
	json_key(j, "role");
	json_string(j, rig_role_names[dev->role]);
	json_key(j, "kind");
	json_string(j, dev->kind);
	json_key(j, "where");
	json_string(j, where);
	json_key(j, "reachable");
	json_bool(j, ok);
	json_key(j, "error");
	json_string(j, ok ? NULL : res != NULL && res->error[0] ? res->error : "no answer");
	if (ok) {
		switch (dev->role) {
		case RIG_AXIS:
			json_key(j, "position_mm");
			if (isnan(res->position_mm))
				json_null(j);
			else
				json_number(j, res->position_mm);
			hw_view_flag(j, "moving", res->busy);
			hw_view_flag(j, "in_position", res->in_position);
			hw_view_flag(j, "alarm", res->alarm);
			hw_view_flag(j, "homed", dev->home == RIG_HOME_NONE ? -1 : res->homed);
			break;
		case RIG_PUMP:
		case RIG_LINE:
			hw_view_flag(j, "running", res->running);
			hw_view_flag(j, "alarm", res->alarm);
			json_key(j, "value");
			json_number(j, res->value);
			break;
		case RIG_VALVE:
			hw_view_flag(j, "open", res->value == 1 ? 1 : res->value == 0 ? 0 : -1);
			break;
		case RIG_INPUT:
			hw_view_flag(j, "engaged", res->value == 1 ? 1 : res->value == 0 ? 0 : -1);
			break;
		case RIG_SENSOR:
			hw_view_flag(j, "alarm", res->alarm);
			json_key(j, "value");
			json_number(j, res->value);
			break;
		case RIG_ROLE_COUNT:
			break;
		}
	}
	json_object_end(j);
}
