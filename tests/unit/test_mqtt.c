/*
 * lbl-mqtt's pure parts (mqtt/mqtt_conf.c, mqtt_json.c and mqtt_msg.c,
 * included whole): mqtt.yaml's keys and errors named FILE:LINE:COL, rig
 * names that cannot stand in a topic, a world-readable password refused;
 * the reader of lbld's JSON lines (strict, bounded depth, escapes), and the
 * payloads: the status from lbld's status (finish time, batch 0 as null),
 * lbld unreachable, an event, and Home Assistant's discovery config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "mqtt_conf.c"
#include "mqtt_json.c"
#include "mqtt_msg.c"

/* Loads text as an mqtt.yaml of mode: 0 or -1, with the rendered errors (freed by the caller). */
static int
load(const char *text, mode_t mode, struct mqtt_conf *c, char **errors)
{
	char path[] = "/tmp/test_mqtt.XXXXXX";
	struct diag d;
	int fd = mkstemp(path), rc;

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    fchmod(fd, mode) == -1) {
		perror("test_mqtt: temporary file");
		exit(1);
	}
	close(fd);
	diag_init(&d, "mqtt.yaml");
	rc = mqtt_conf_load(path, &d, c);
	*errors = diag_render(&d);
	diag_free(&d);
	unlink(path);
	return rc;
}

static void
test_conf(void)
{
	struct mqtt_conf c;
	char *errors, why[128];

	TEST_EQ_INT("conf: minimal", load("broker: broker.lab:1884\nrig: dip-1\n", 0600, &c,
	    &errors), 0);
	TEST_STR("conf: host", c.host, "broker.lab");
	TEST_EQ_INT("conf: port", c.port, 1884);
	TEST_STR("conf: rig", c.rig, "dip-1");
	TEST_STR("conf: lbld's socket by default", c.socket_path, "/run/lbl/lbld.sock");
	TEST_EQ_INT("conf: keepalive by default", c.keepalive_s, MQTT_KEEPALIVE_DEFAULT_S);
	TEST_EQ_INT("conf: no discovery by default", c.discovery, 0);
	mqtt_conf_free(&c);
	free(errors);

	TEST_EQ_INT("conf: a host alone", load("broker: 10.0.0.5\nrig: r\n", 0600, &c, &errors), 0);
	TEST_EQ_INT("conf: port 1883 without TLS", c.port, 1883);
	mqtt_conf_free(&c);
	free(errors);
	TEST_EQ_INT("conf: TLS", load("broker: \"[fd00::5]\"\nrig: r\ntls: {ca: /etc/ca.pem}\n"
	    "discovery: true\ndiscovery_prefix: ha\nkeepalive: 1min\n", 0600, &c, &errors), 0);
	TEST_STR("conf: a v6 host in brackets", c.host, "fd00::5");
	TEST_EQ_INT("conf: port 8883 with TLS", c.port, 8883);
	TEST_STR("conf: ca", c.tls_ca, "/etc/ca.pem");
	TEST_EQ_INT("conf: discovery", c.discovery, 1);
	TEST_STR("conf: discovery prefix", c.discovery_prefix, "ha");
	TEST_EQ_INT("conf: keepalive 1min", c.keepalive_s, 60);
	mqtt_conf_free(&c);
	free(errors);

	TEST_EQ_INT("conf: errors", load("broker: \"a:b:c\"\nrig: \"x#\"\npassword: p\n"
	    "tls: {ca: rel.pem, cert: /c.pem}\nkeepalive: 1s\ncolour: blue\n", 0600, &c, &errors),
	    -1);
	TEST_CONTAINS("conf: v6 needs brackets", errors, "mqtt.yaml:1:9: error: broker: an IPv6 "
	    "address goes in brackets");
	TEST_CONTAINS("conf: a wildcard in rig", errors, "mqtt.yaml:2:6: error: rig: 'x#' cannot "
	    "name a topic level");
	TEST_CONTAINS("conf: password without username", errors, "mqtt.yaml:3:11: error: a "
	    "password needs a username");
	TEST_CONTAINS("conf: a relative ca", errors, "mqtt.yaml:4:11: error: ca: expected an "
	    "absolute path");
	TEST_CONTAINS("conf: cert without key", errors, "error: tls: a client certificate needs "
	    "both");
	TEST_CONTAINS("conf: keepalive too short", errors, "mqtt.yaml:5:12: error: keepalive:");
	TEST_CONTAINS("conf: unknown key", errors, "mqtt.yaml:6:1: error:");
	TEST_EQ_INT("conf: freed on error", c.host == NULL && c.rig == NULL, 1);
	free(errors);

	TEST_EQ_INT("conf: broker and rig required", load("socket: /run/x\n", 0600, &c, &errors),
	    -1);
	TEST_CONTAINS("conf: broker missing", errors, "broker");
	TEST_CONTAINS("conf: rig missing", errors, "rig");
	free(errors);
	TEST_EQ_INT("conf: empty file", load("", 0600, &c, &errors), -1);
	TEST_CONTAINS("conf: empty file says so", errors, "mqtt.yaml: error: the file is empty");
	free(errors);
	TEST_EQ_INT("conf: world-readable password", load("broker: h\nrig: r\nusername: u\n"
	    "password: s\n", 0644, &c, &errors), -1);
	TEST_CONTAINS("conf: world-readable password refused", errors, "every user may read it");
	free(errors);
	TEST_EQ_INT("conf: world-readable without password", load("broker: h\nrig: r\n", 0644, &c,
	    &errors), 0);
	mqtt_conf_free(&c);
	free(errors);

	TEST_EQ_INT("rig: plain", mqtt_rig_name_ok("spray_booth-2.lab", why, sizeof(why)), 1);
	TEST_EQ_INT("rig: +", mqtt_rig_name_ok("a+b", why, sizeof(why)), 0);
	TEST_EQ_INT("rig: /", mqtt_rig_name_ok("a/b", why, sizeof(why)), 0);
	TEST_EQ_INT("rig: space", mqtt_rig_name_ok("a b", why, sizeof(why)), 0);
	TEST_EQ_INT("rig: control", mqtt_rig_name_ok("a\x1b", why, sizeof(why)), 0);
	TEST_EQ_INT("rig: empty", mqtt_rig_name_ok("", why, sizeof(why)), 0);
	TEST_EQ_INT("rig: too long", mqtt_rig_name_ok("0123456789012345678901234567890123456789"
	    "01234567890123456789012345", why, sizeof(why)), 0);
}

static void
test_json(void)
{
	struct mqtt_json v;
	const struct mqtt_json *m;
	struct json j;
	char why[128], deep[64];
	int i;

	TEST_EQ_INT("json: an object", mqtt_json_parse(" {\"a\": [1, -2.5e3, true, false, null], "
	    "\"b\": \"x\\n\\u00e9\\ud83d\\ude00\", \"c\": {}} ", &v, why, sizeof(why)), 0);
	m = mqtt_json_get(&v, "a");
	TEST_EQ_INT("json: array of 5", m && m->type == MJ_ARRAY && m->count == 5, 1);
	TEST_NEAR("json: a number", m ? m->items[1].number : 0, -2500, 0);
	TEST_EQ_INT("json: true", m && m->items[2].type == MJ_BOOL && m->items[2].number == 1, 1);
	TEST_EQ_INT("json: null", m && m->items[4].type == MJ_NULL, 1);
	m = mqtt_json_get(&v, "b");
	TEST_STR("json: escapes and a surrogate pair", m ? m->string : NULL,
	    "x\n\xc3\xa9\xf0\x9f\x98\x80");
	TEST_EQ_INT("json: no such key", mqtt_json_get(&v, "z") == NULL, 1);
	json_init(&j);
	mqtt_json_write(&j, &v);
	TEST_STR("json: written again through base/json.c", json_text(&j),
	    "{\"a\":[1,-2500,true,false,null],\"b\":\"x\\n\xc3\xa9\xf0\x9f\x98\x80\",\"c\":{}}");
	json_free(&j);
	mqtt_json_free(&v);

	TEST_EQ_INT("json: trailing text", mqtt_json_parse("{} x", &v, why, sizeof(why)), -1);
	TEST_CONTAINS("json: says where", why, "at byte 3");
	TEST_EQ_INT("json: trailing comma", mqtt_json_parse("[1,]", &v, why, sizeof(why)), -1);
	TEST_EQ_INT("json: unquoted key", mqtt_json_parse("{a:1}", &v, why, sizeof(why)), -1);
	TEST_EQ_INT("json: unclosed string", mqtt_json_parse("\"abc", &v, why, sizeof(why)), -1);
	TEST_EQ_INT("json: bad escape", mqtt_json_parse("\"\\x\"", &v, why, sizeof(why)), -1);
	TEST_EQ_INT("json: hex number", mqtt_json_parse("0x10", &v, why, sizeof(why)), -1);
	TEST_EQ_INT("json: nan", mqtt_json_parse("nan", &v, why, sizeof(why)), -1);
	TEST_EQ_INT("json: raw control char", mqtt_json_parse("\"a\tb\"", &v, why, sizeof(why)), -1);
	TEST_EQ_INT("json: empty", mqtt_json_parse("", &v, why, sizeof(why)), -1);
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		deep[i] = '[';
	deep[i] = '\0';
	TEST_EQ_INT("json: too deep", mqtt_json_parse(deep, &v, why, sizeof(why)), -1);
	TEST_CONTAINS("json: too deep says so", why, "less nesting");
}

static void
test_msg(void)
{
	struct mqtt_json st, v;
	struct json j;
	char why[128], topic[MQTT_MAX_TOPIC_BYTES];
	const struct mqtt_json *m;

	/* lbld's status --json of a running batch, as daemon/requests.c writes it */
	mqtt_json_parse("{\"state\":\"running\",\"batch\":12,\"batch_state\":\"running\","
	    "\"recipe\":\"ag-tca-5\",\"version\":\"1\",\"bilayer\":3,\"bilayers\":5,\"step\":14,"
	    "\"steps\":30,\"step_kind\":\"dip\",\"where\":\"ag\",\"step_left_ms\":5000,"
	    "\"run_left_ms\":3600000,\"thickness_estimate_nm\":15.6,\"thickness_measured_nm\":null,"
	    "\"message\":null,\"substrate\":\"loaded\",\"safety\":null,\"homed\":{}}", &st, why,
	    sizeof(why));
	json_init(&j);
	/* 2026-01-01T00:00:00Z */
	TEST_EQ_INT("status: built", mqtt_msg_status(&j, "dip-1", &st, 1767225600000LL, why,
	    sizeof(why)), 0);
	TEST_EQ_INT("status: valid JSON", mqtt_json_parse(json_text(&j), &v, why, sizeof(why)), 0);
	TEST_STR("status: rig", mqtt_json_get(&v, "rig") ? mqtt_json_get(&v, "rig")->string : NULL,
	    "dip-1");
	TEST_STR("status: lbld reachable", (m = mqtt_json_get(&v, "lbld")) ? m->string : NULL,
	    "reachable");
	TEST_STR("status: finish = now + run left", (m = mqtt_json_get(&v, "finish")) ? m->string :
	    NULL, "2026-01-01T01:00:00Z");
	TEST_NEAR("status: bilayer", (m = mqtt_json_get(&v, "bilayer")) ? m->number : 0, 3, 0);
	TEST_NEAR("status: thickness_nm", (m = mqtt_json_get(&v, "thickness_nm")) ? m->number : 0,
	    15.6, 1e-9);
	TEST_EQ_INT("status: not lbld's internals (homed)", mqtt_json_get(&v, "homed") == NULL, 1);
	mqtt_json_free(&v);
	mqtt_json_free(&st);

	mqtt_json_parse("{\"state\":\"idle\",\"batch\":0,\"run_left_ms\":0}", &st, why, sizeof(why));
	mqtt_msg_status(&j, "dip-1", &st, 1767225600000LL, why, sizeof(why));
	TEST_CONTAINS("status: idle has no batch and no finish", json_text(&j),
	    "\"batch\":null");
	TEST_CONTAINS("status: idle has no finish", json_text(&j), "\"finish\":null");
	mqtt_json_free(&st);
	mqtt_json_parse("{\"status\":1}", &st, why, sizeof(why));
	TEST_EQ_INT("status: no state refused", mqtt_msg_status(&j, "r", &st, 0, why, sizeof(why)),
	    -1);
	mqtt_json_free(&st);

	mqtt_msg_unreachable(&j, "dip-1", "cannot reach lbld at /run/lbl/lbld.sock");
	TEST_STR("unreachable", json_text(&j), "{\"rig\":\"dip-1\",\"lbld\":\"unreachable\","
	    "\"state\":\"unreachable\",\"error\":\"cannot reach lbld at /run/lbl/lbld.sock\"}");

	mqtt_json_parse("{\"batch\":12,\"at\":\"2026-01-01T00:00:00.000Z\",\"kind\":\"fault\","
	    "\"device\":\"lift\",\"message\":\"stalled\"}", &st, why, sizeof(why));
	TEST_EQ_INT("event: built", mqtt_msg_event(&j, "dip-1", &st), 0);
	TEST_STR("event: the rig, then lbld's event", json_text(&j), "{\"rig\":\"dip-1\","
	    "\"batch\":12,\"at\":\"2026-01-01T00:00:00.000Z\",\"kind\":\"fault\",\"device\":\"lift\","
	    "\"message\":\"stalled\"}");
	mqtt_json_free(&st);

	TEST_EQ_INT("discovery: built", mqtt_msg_discovery(&j, topic, sizeof(topic), "homeassistant",
	    "dip.1", &mqtt_sensors[5]), 0);
	TEST_STR("discovery: topic, the rig's id in HA's characters", topic,
	    "homeassistant/sensor/lbl_dip_1/thickness/config");
	TEST_EQ_INT("discovery: valid JSON", mqtt_json_parse(json_text(&j), &v, why, sizeof(why)),
	    0);
	TEST_STR("discovery: unique id", (m = mqtt_json_get(&v, "unique_id")) ? m->string : NULL,
	    "lbl_dip_1_thickness");
	TEST_STR("discovery: state topic keeps the rig's name", (m = mqtt_json_get(&v,
	    "state_topic")) ? m->string : NULL, "lbl/dip.1/status");
	TEST_STR("discovery: unit", (m = mqtt_json_get(&v, "unit_of_measurement")) ? m->string :
	    NULL, "nm");
	m = mqtt_json_get(mqtt_json_get(&v, "device"), "identifiers");
	TEST_EQ_INT("discovery: the device's identifiers", m && m->type == MJ_ARRAY &&
	    m->count == 1 && strcmp(m->items[0].string, "lbl_dip_1") == 0, 1);
	mqtt_json_free(&v);
	json_free(&j);
}

int
main(void)
{
	test_conf();
	test_json();
	test_msg();
	return TEST_DONE();
}
