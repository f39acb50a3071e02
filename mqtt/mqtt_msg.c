/*
 * What lbl-mqtt publishes, each payload written with the one JSON writer
 * (base/json.c): the status (lbld's status reduced to what a lab's
 * dashboard shows, with the finish time as a wall-clock time), the
 * "lbld unreachable" status, an event, and Home Assistant's discovery
 * configs (a device per rig, a sensor per field).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mqtt.h"

/* Copies member key of st to j under the same name; absent: null. */
static void
mqtt_msg_copy(struct json *j, const struct mqtt_json *st, const char *key, const char *as)
{
	const struct mqtt_json *v = mqtt_json_get(st, key);

	json_key(j, as ? as : key);
	if (v == NULL)
		json_null(j);
	else
		mqtt_json_write(j, v);
}

/* A wall time (ms since the epoch) as "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds). */
static void
mqtt_msg_utc(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)((ms + 500) / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "?");
}

int
mqtt_msg_status(struct json *j, const char *rig, const struct mqtt_json *st, int64_t now_ms,
    char *why, size_t why_size)
{
	static const char *const busy[] = { "running", "prompt", "paused", "waiting", NULL };
	const struct mqtt_json *state = mqtt_json_get(st, "state");
	const struct mqtt_json *batch = mqtt_json_get(st, "batch");
	const struct mqtt_json *left = mqtt_json_get(st, "run_left_ms");
	char finish[32];
	int i, running = 0;

	if (state == NULL || state->type != MJ_STRING) {
		snprintf(why, why_size, "lbld's status has no \"state\" string");
		return -1;
	}
	for (i = 0; busy[i] != NULL; i++)
		if (strcmp(state->string, busy[i]) == 0)
			running = 1;
	json_reset(j);
	json_object_begin(j);
	json_key(j, "rig");
	json_string(j, rig);
	json_key(j, "lbld");
	json_string(j, "reachable");
	json_key(j, "state");
	json_string(j, state->string);
	/* batch 0 is lbld's "none" */
	json_key(j, "batch");
	if (batch != NULL && batch->type == MJ_NUMBER && batch->number > 0)
		json_int(j, (long long)batch->number);
	else
		json_null(j);
	mqtt_msg_copy(j, st, "batch_state", NULL);
	mqtt_msg_copy(j, st, "recipe", NULL);
	mqtt_msg_copy(j, st, "version", NULL);
	mqtt_msg_copy(j, st, "bilayer", NULL);
	mqtt_msg_copy(j, st, "bilayers", NULL);
	mqtt_msg_copy(j, st, "step", NULL);
	mqtt_msg_copy(j, st, "steps", NULL);
	mqtt_msg_copy(j, st, "step_kind", NULL);
	mqtt_msg_copy(j, st, "where", NULL);
	/* when the run ends if nothing holds it: now plus what lbld's plan says is left */
	json_key(j, "finish");
	if (running && left != NULL && left->type == MJ_NUMBER && left->number >= 0 &&
	    isfinite(left->number)) {
		mqtt_msg_utc(now_ms + (int64_t)left->number, finish, sizeof(finish));
		json_string(j, finish);
	} else {
		json_null(j);
	}
	mqtt_msg_copy(j, st, "thickness_estimate_nm", "thickness_nm");
	mqtt_msg_copy(j, st, "thickness_measured_nm", NULL);
	mqtt_msg_copy(j, st, "message", NULL);
	mqtt_msg_copy(j, st, "safety", NULL);
	json_object_end(j);
	if (json_text(j) == NULL) {
		snprintf(why, why_size, "out of memory for the status");
		return -1;
	}
	return 0;
}

int
mqtt_msg_unreachable(struct json *j, const char *rig, const char *why)
{
	json_reset(j);
	json_object_begin(j);
	json_key(j, "rig");
	json_string(j, rig);
	json_key(j, "lbld");
	json_string(j, "unreachable");
	json_key(j, "state");
	json_string(j, "unreachable");
	json_key(j, "error");
	json_string(j, why);
	json_object_end(j);
	return json_text(j) != NULL ? 0 : -1;
}

int
mqtt_msg_event(struct json *j, const char *rig, const struct mqtt_json *ev)
{
	size_t i;

	if (ev == NULL || ev->type != MJ_OBJECT)
		return -1;
	json_reset(j);
	json_object_begin(j);
	json_key(j, "rig");
	json_string(j, rig);
	for (i = 0; i < ev->count; i++) {
		if (strcmp(ev->keys[i], "rig") == 0)
			continue;
		json_key(j, ev->keys[i]);
		mqtt_json_write(j, &ev->items[i]);
	}
	json_object_end(j);
	return json_text(j) != NULL ? 0 : -1;
}

/*
 * The sensors, each a template on lbl/RIG/status. Home Assistant reads a
 * template that renders "None" as unknown: so does an idle rig's finish.
 */
const struct mqtt_sensor mqtt_sensors[] = {
	{ "state", "State", "{{ value_json.state }}", NULL, NULL },
	{ "recipe", "Recipe", "{{ value_json.recipe }}", NULL, NULL },
	{ "bilayer", "Bilayer",
	    "{{ '%s/%s' % (value_json.bilayer, value_json.bilayers) if value_json.bilayers "
	    "else None }}", NULL, NULL },
	{ "step", "Step",
	    "{{ '%s/%s %s %s' % (value_json.step, value_json.steps, value_json.step_kind, "
	    "value_json.where) if value_json.steps else None }}", NULL, NULL },
	{ "finish", "Finish time", "{{ value_json.finish or None }}", NULL, "timestamp" },
	{ "thickness", "Thickness", "{{ value_json.thickness_nm }}", "nm", NULL },
};
const size_t mqtt_sensor_count = sizeof(mqtt_sensors) / sizeof(mqtt_sensors[0]);

int
mqtt_msg_discovery(struct json *j, char *topic, size_t topic_size, const char *prefix,
    const char *rig, const struct mqtt_sensor *s)
{
	char node[MQTT_MAX_RIG_BYTES + 8], buf[MQTT_MAX_TOPIC_BYTES], *c;
	int n;

	/* Home Assistant's node and object ids: [A-Za-z0-9_-] */
	snprintf(node, sizeof(node), "lbl_%s", rig);
	for (c = node; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			*c = '_';
	n = snprintf(topic, topic_size, "%s/sensor/%s/%s/config", prefix, node, s->id);
	if (n < 0 || (size_t)n >= topic_size)
		return -1;
	json_reset(j);
	json_object_begin(j);
	json_key(j, "name");
	json_string(j, s->name);
	snprintf(buf, sizeof(buf), "%s_%s", node, s->id);
	json_key(j, "unique_id");
	json_string(j, buf);
	snprintf(buf, sizeof(buf), "lbl/%s/status", rig);
	json_key(j, "state_topic");
	json_string(j, buf);
	json_key(j, "value_template");
	json_string(j, s->template);
	if (strcmp(s->id, "state") == 0) {
		/* the whole status as the state sensor's attributes */
		json_key(j, "json_attributes_topic");
		json_string(j, buf);
	}
	snprintf(buf, sizeof(buf), "lbl/%s/online", rig);
	json_key(j, "availability_topic");
	json_string(j, buf);
	json_key(j, "payload_available");
	json_string(j, "online");
	json_key(j, "payload_not_available");
	json_string(j, "offline");
	if (s->unit != NULL) {
		json_key(j, "unit_of_measurement");
		json_string(j, s->unit);
		json_key(j, "state_class");
		json_string(j, "measurement");
	}
	if (s->device_class != NULL) {
		json_key(j, "device_class");
		json_string(j, s->device_class);
	}
	json_key(j, "device");
	json_object_begin(j);
	json_key(j, "identifiers");
	json_array_begin(j);
	json_string(j, node);
	json_array_end(j);
	snprintf(buf, sizeof(buf), "lbl %s", rig);
	json_key(j, "name");
	json_string(j, buf);
	json_key(j, "manufacturer");
	json_string(j, "lbl");
	json_key(j, "model");
	json_string(j, "layer-by-layer coating rig");
	json_key(j, "sw_version");
	json_string(j, LBL_VERSION);
	json_object_end(j);
	json_object_end(j);
	return json_text(j) != NULL ? 0 : -1;
}
