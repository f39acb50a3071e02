/*
 * lbl-mqtt: lbld's status and events on an MQTT broker (mqtt/lbl-mqtt.8).
 * A separate program that reaches the rig only through lbld's control
 * socket (base/follow.h), as a viewer: nothing it receives can change the
 * rig, and lbld would refuse it a change anyway (it is in no group of lbl's).
 *
 * The modules: mqtt_conf.c reads mqtt.yaml, mqtt_json.c reads lbld's JSON
 * lines, mqtt_msg.c writes what is published (status, event, Home
 * Assistant's discovery), mqtt_main.c the broker connection (libmosquitto,
 * its own network thread) and the follower of lbld.
 */
#ifndef LBL_MQTT_H
#define LBL_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "json.h"
#include "lbl_limits.h"

/* ---- mqtt_conf.c ---- */

struct mqtt_conf {
	char *host;			/* the broker: a name or an address */
	int port;
	char *rig;			/* the name in the topics: lbl/RIG/... */
	char *socket_path;		/* lbld's control socket */
	char *username, *password;	/* NULL: none */
	char *tls_ca, *tls_cert, *tls_key;	/* tls_ca NULL: no TLS */
	int keepalive_s;
	int discovery;			/* Home Assistant MQTT discovery */
	char *discovery_prefix;		/* its topic prefix, "homeassistant" */
};

/*
 * Reads path into conf: 0, or -1 with every error in d as FILE:LINE:COL
 * (conf is freed then). A password_file is read here too; a file that
 * holds a password and that every user may read is refused.
 */
int mqtt_conf_load(const char *path, struct diag *d, struct mqtt_conf *conf);
void mqtt_conf_free(struct mqtt_conf *conf);
/*
 * Whether name may stand in a topic level: 1 to MQTT_MAX_RIG_BYTES bytes,
 * no '+', '#', '/', no control character or space (0 or 1; why says what).
 */
int mqtt_rig_name_ok(const char *name, char *why, size_t why_size);

/* ---- mqtt_json.c ---- */

enum mqtt_json_type { MJ_NULL, MJ_BOOL, MJ_NUMBER, MJ_STRING, MJ_ARRAY, MJ_OBJECT };

struct mqtt_json {
	enum mqtt_json_type type;
	double number;			/* MJ_NUMBER; MJ_BOOL: 0 or 1 */
	char *string;			/* MJ_STRING: NUL-terminated (a \u0000 ends it) */
	size_t count;			/* MJ_ARRAY items, MJ_OBJECT members */
	char **keys;			/* MJ_OBJECT: the members' names */
	struct mqtt_json *items;	/* the items or the members' values */
};

/*
 * Parses one JSON text (lbld's lines: RFC 8259, at most JSON_MAX_DEPTH
 * deep): 0 with *out (free with mqtt_json_free), or -1 with why (the byte
 * offset and what was expected) and nothing allocated.
 */
int mqtt_json_parse(const char *text, struct mqtt_json *out, char *why, size_t why_size);
void mqtt_json_free(struct mqtt_json *v);
/* The member key of object v, or NULL (also when v is no object). */
const struct mqtt_json *mqtt_json_get(const struct mqtt_json *v, const char *key);
/* Writes v through the one JSON writer (base/json.c). */
void mqtt_json_write(struct json *j, const struct mqtt_json *v);

/* ---- mqtt_msg.c ---- */

/*
 * The payload of lbl/RIG/status for lbld's status object st (status
 * --json) at wall time now_ms (ms since the epoch, for the finish time):
 * json_text(j), or -1 when st is no status object (why says what is amiss).
 */
int mqtt_msg_status(struct json *j, const char *rig, const struct mqtt_json *st,
    int64_t now_ms, char *why, size_t why_size);
/* The payload of lbl/RIG/status while lbld cannot be reached (why it cannot). */
int mqtt_msg_unreachable(struct json *j, const char *rig, const char *why);
/* The payload of lbl/RIG/event for one of lbld's {"event": {...}} lines' inner object. */
int mqtt_msg_event(struct json *j, const char *rig, const struct mqtt_json *ev);

/* One Home Assistant sensor of a rig (mqtt_msg_discovery). */
struct mqtt_sensor {
	const char *id;			/* object id, in the topic and unique_id */
	const char *name;
	const char *template;		/* value_template on the status JSON */
	const char *unit;		/* NULL: none */
	const char *device_class;	/* NULL: none */
};
extern const struct mqtt_sensor mqtt_sensors[];
extern const size_t mqtt_sensor_count;
/*
 * Home Assistant's discovery topic and config payload of sensor s of rig:
 * topic PREFIX/sensor/lbl_RIG/ID/config (RIG with every byte outside
 * [A-Za-z0-9_-] as _, as Home Assistant requires), the payload in j.
 * Returns 0, or -1 when the topic does not fit topic_size or j failed.
 */
int mqtt_msg_discovery(struct json *j, char *topic, size_t topic_size, const char *prefix,
    const char *rig, const struct mqtt_sensor *s);

#endif
