/*
 * lbl-mqtt's bridge (mqtt/mqtt_main.c, included whole) without a broker,
 * in chrony's style: libmosquitto is a fake defined here that records every
 * publish and subscription and answers as told (connected or not). Checked:
 * the status is published only while connected (QoS 0, retained) and again
 * at each connection with the birth and the discovery configs; events go
 * with QoS 1 and, while the broker is away, wait up to MQTT_MAX_QUEUED
 * unacknowledged, past which each is dropped, counted and logged (once when
 * dropping starts, the count when the broker is back); acknowledgements
 * make room again; a message received changes nothing but for Home
 * Assistant's birth, which sends the configs again; lbld's lines become
 * the status and event payloads, a line that is no JSON is skipped.
 */
#include <fcntl.h>
#include <mosquitto.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "mqtt_conf.c"
#include "mqtt_json.c"
#include "mqtt_msg.c"
#define main mqtt_main
int mqtt_main(int argc, char **argv);
#include "mqtt_main.c"
#undef main

/* ---- libmosquitto, faked ---- */

struct fake_pub {
	char topic[MQTT_MAX_TOPIC_BYTES];
	char *payload;
	int qos, retain;
};
static struct fake_pub fake_pubs[4096];
static int fake_npubs, fake_online, fake_subscribed, fake_mid;

static void
fake_reset(void)
{
	for (int i = 0; i < fake_npubs; i++)
		free(fake_pubs[i].payload);
	fake_npubs = 0;
	fake_subscribed = 0;
}

/* How many publishes to topics starting with prefix. */
static int
fake_count(const char *prefix)
{
	int n = 0;

	for (int i = 0; i < fake_npubs; i++)
		n += strncmp(fake_pubs[i].topic, prefix, strlen(prefix)) == 0;
	return n;
}

static const struct fake_pub *
fake_last(const char *topic)
{
	for (int i = fake_npubs - 1; i >= 0; i--)
		if (strcmp(fake_pubs[i].topic, topic) == 0)
			return &fake_pubs[i];
	return NULL;
}

int
mosquitto_publish(struct mosquitto *m, int *mid, const char *topic, int len, const void *payload,
    int qos, bool retain)
{
	struct fake_pub *p;

	(void)m;
	/* message ids as libmosquitto gives them: 1, 2, ... */
	if (mid != NULL)
		*mid = ++fake_mid;
	/* as libmosquitto does: QoS 0 is lost without a connection, QoS 1 kept */
	if (!fake_online && qos == 0)
		return MOSQ_ERR_NO_CONN;
	if (fake_npubs == (int)(sizeof(fake_pubs) / sizeof(fake_pubs[0])))
		return MOSQ_ERR_NOMEM;
	p = &fake_pubs[fake_npubs++];
	snprintf(p->topic, sizeof(p->topic), "%s", topic);
	p->payload = strndup(payload, (size_t)len);
	p->qos = qos;
	p->retain = retain;
	return fake_online ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NO_CONN;
}

int
mosquitto_subscribe(struct mosquitto *m, int *mid, const char *sub, int qos)
{
	(void)m;
	(void)mid;
	(void)qos;
	TEST_STR("subscribes to Home Assistant's birth alone", sub, "homeassistant/status");
	fake_subscribed++;
	return MOSQ_ERR_SUCCESS;
}

const char *mosquitto_strerror(int rc) { (void)rc; return "fake error"; }
const char *mosquitto_connack_string(int rc) { (void)rc; return "fake refusal"; }
int mosquitto_connect(struct mosquitto *m, const char *h, int p, int k)
{ (void)m; (void)h; (void)p; (void)k; return MOSQ_ERR_NO_CONN; }
int mosquitto_loop(struct mosquitto *m, int t, int n) { (void)m; (void)t; (void)n; return MOSQ_ERR_NO_CONN; }
int mosquitto_disconnect(struct mosquitto *m) { (void)m; return MOSQ_ERR_SUCCESS; }
struct mosquitto *mosquitto_new(const char *id, bool clean, void *obj)
{ (void)id; (void)clean; (void)obj; return NULL; }
void mosquitto_destroy(struct mosquitto *m) { (void)m; }
int mosquitto_lib_init(void) { return MOSQ_ERR_SUCCESS; }
int mosquitto_lib_cleanup(void) { return MOSQ_ERR_SUCCESS; }
int mosquitto_threaded_set(struct mosquitto *m, bool t) { (void)m; (void)t; return MOSQ_ERR_SUCCESS; }
int mosquitto_will_set(struct mosquitto *m, const char *t, int l, const void *p, int q, bool r)
{ (void)m; (void)t; (void)l; (void)p; (void)q; (void)r; return MOSQ_ERR_SUCCESS; }
int mosquitto_username_pw_set(struct mosquitto *m, const char *u, const char *p)
{ (void)m; (void)u; (void)p; return MOSQ_ERR_SUCCESS; }
int mosquitto_tls_set(struct mosquitto *m, const char *a, const char *b, const char *c,
    const char *d, int (*cb)(char *, int, int, void *))
{ (void)m; (void)a; (void)b; (void)c; (void)d; (void)cb; return MOSQ_ERR_SUCCESS; }
void mosquitto_connect_callback_set(struct mosquitto *m, void (*cb)(struct mosquitto *, void *, int))
{ (void)m; (void)cb; }
void mosquitto_disconnect_callback_set(struct mosquitto *m, void (*cb)(struct mosquitto *, void *, int))
{ (void)m; (void)cb; }
void mosquitto_publish_callback_set(struct mosquitto *m, void (*cb)(struct mosquitto *, void *, int))
{ (void)m; (void)cb; }
void mosquitto_message_callback_set(struct mosquitto *m,
    void (*cb)(struct mosquitto *, void *, const struct mosquitto_message *))
{ (void)m; (void)cb; }
void mosquitto_log_callback_set(struct mosquitto *m, void (*cb)(struct mosquitto *, void *, int,
    const char *))
{ (void)m; (void)cb; }

/* ---- the log, caught in a file ---- */

static char log_path[] = "/tmp/test_mqtt_bridge.XXXXXX";

static int
log_has(const char *needle)
{
	char buf[65536];
	ssize_t n;
	int fd = open(log_path, O_RDONLY);

	fflush(stderr);
	n = fd == -1 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd != -1)
		close(fd);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void
connect_broker(void)
{
	fake_online = 1;
	mq_on_connect(NULL, NULL, 0);
}

static void
lose_broker(void)
{
	fake_online = 0;
	mq_on_disconnect(NULL, NULL, MOSQ_ERR_CONN_LOST);
}

int
main(void)
{
	static const char running[] = "{\"state\":\"running\",\"batch\":3,\"recipe\":\"r\","
	    "\"bilayer\":2,\"bilayers\":5,\"run_left_ms\":1000}";
	struct mosquitto_message msg;
	const struct fake_pub *p;
	int fd, i, status_mid;

	if ((fd = mkstemp(log_path)) == -1 || dup2(fd, 2) == -1) {
		perror("test_mqtt_bridge: log file");
		return 1;
	}
	log_init("lbl-mqtt", 6);
	mq_conf.host = strdup("broker");
	mq_conf.port = 1883;
	mq_conf.rig = strdup("r1");
	mq_conf.discovery = 1;
	mq_conf.discovery_prefix = strdup("homeassistant");
	snprintf(mq_topic_status, sizeof(mq_topic_status), "lbl/r1/status");
	snprintf(mq_topic_event, sizeof(mq_topic_event), "lbl/r1/event");
	snprintf(mq_topic_online, sizeof(mq_topic_online), "lbl/r1/online");
	snprintf(mq_topic_ha_birth, sizeof(mq_topic_ha_birth), "homeassistant/status");

	/* no broker yet: the status is kept, not queued */
	mq_lbld_line(running);
	TEST_EQ_INT("offline: the status not queued", fake_count("lbl/r1/status"), 0);
	mq_lbld_line("{\"state\":\"running\",\"batch\":3,\"bilayer\":3,\"bilayers\":5}");
	connect_broker();
	TEST_EQ_INT("connect: the birth", (p = fake_last("lbl/r1/online")) && strcmp(p->payload,
	    "online") == 0 && p->retain && p->qos == 1, 1);
	TEST_EQ_INT("connect: the discovery configs", fake_count("homeassistant/sensor/lbl_r1/"),
	    (long long)mqtt_sensor_count);
	TEST_EQ_INT("connect: the latest status alone, retained, QoS 0",
	    fake_count("lbl/r1/status") == 1 && (p = fake_last("lbl/r1/status")) && p->retain &&
	    p->qos == 0 && strstr(p->payload, "\"bilayer\":3") != NULL, 1);
	TEST_EQ_INT("connect: subscribed once", fake_subscribed, 1);

	/* the same status again is not published again; a change is */
	i = fake_count("lbl/r1/status");
	mq_lbld_line("{\"state\":\"running\",\"batch\":3,\"bilayer\":3,\"bilayers\":5}");
	TEST_EQ_INT("status: unchanged, not published again", fake_count("lbl/r1/status"), i);
	mq_lbld_line(running);
	TEST_EQ_INT("status: a change published", fake_count("lbl/r1/status"), i + 1);
	status_mid = fake_mid;

	/* an event: QoS 1, not retained, the rig's name added */
	mq_lbld_line("{\"event\":{\"batch\":3,\"at\":\"2026-01-01T00:00:00.000Z\",\"kind\":\"pause\","
	    "\"device\":null,\"message\":\"paused\"}}");
	TEST_EQ_INT("event: QoS 1, not retained", (p = fake_last("lbl/r1/event")) && p->qos == 1 &&
	    !p->retain && strstr(p->payload, "\"rig\":\"r1\",\"batch\":3") != NULL, 1);
	mq_lbld_line("{\"event\": [1, 2]}");
	TEST_EQ_INT("event: not an object, skipped", fake_count("lbl/r1/event"), 1);
	mq_lbld_line("not json");
	TEST_EQ_INT("a line that is no JSON: logged", log_has("is no JSON"), 1);

	/* a status written (QoS 0: libmosquitto tells on_publish too) is no acknowledgement */
	i = (int)mq_queued;
	mq_on_publish(NULL, NULL, status_mid);
	TEST_EQ_INT("a status written does not count as acknowledged", mq_queued, i);
	mq_on_publish(NULL, NULL, 60000);
	TEST_EQ_INT("a QoS 1 message acknowledged makes room", mq_queued, i - 1);

	/* acknowledged: the queue empties */
	while (mq_queued > 0)
		mq_on_publish(NULL, NULL, 0);

	/* the broker away: events wait up to MQTT_MAX_QUEUED, then are dropped and counted */
	lose_broker();
	fake_reset();
	for (i = 0; i < MQTT_MAX_QUEUED + 250; i++)
		mq_lbld_line("{\"event\":{\"batch\":3,\"kind\":\"info\",\"message\":\"m\"}}");
	TEST_EQ_INT("away: events held to the bound", fake_count("lbl/r1/event"), MQTT_MAX_QUEUED);
	TEST_EQ_INT("away: the rest counted", mq_dropped, 250);
	TEST_EQ_INT("away: dropping logged when it starts", log_has("events are dropped and "
	    "counted"), 1);
	mq_lbld_line("{\"state\":\"paused\",\"batch\":3}");
	TEST_EQ_INT("away: the status not queued", fake_count("lbl/r1/status"), 0);
	connect_broker();
	TEST_EQ_INT("back: the count logged", log_has("250 events were dropped while the broker "
	    "was away"), 1);
	TEST_EQ_INT("back: the count reset", mq_dropped, 0);
	TEST_EQ_INT("back: the latest status sent", (p = fake_last("lbl/r1/status")) &&
	    strstr(p->payload, "\"state\":\"paused\"") != NULL, 1);
	TEST_EQ_INT("back: the birth even with the queue full", (p = fake_last("lbl/r1/online")) &&
	    strcmp(p->payload, "online") == 0, 1);
	TEST_EQ_INT("back: the configs even with the queue full",
	    fake_count("homeassistant/sensor/lbl_r1/"), (long long)mqtt_sensor_count);
	while (mq_queued > 0)
		mq_on_publish(NULL, NULL, 0);
	i = fake_count("lbl/r1/event");
	mq_lbld_line("{\"event\":{\"batch\":3,\"kind\":\"info\",\"message\":\"after\"}}");
	TEST_EQ_INT("acknowledged: room again", fake_count("lbl/r1/event"), i + 1);

	/* received messages: only Home Assistant's birth does anything */
	fake_reset();
	memset(&msg, 0, sizeof(msg));
	msg.topic = (char *)"lbl/r1/command";
	msg.payload = (void *)"online";
	msg.payloadlen = 6;
	mq_on_message(NULL, NULL, &msg);
	msg.topic = (char *)"homeassistant/status";
	msg.payload = (void *)"offline";
	msg.payloadlen = 7;
	mq_on_message(NULL, NULL, &msg);
	TEST_EQ_INT("received: nothing done for others", fake_npubs, 0);
	msg.payload = (void *)"online";
	msg.payloadlen = 6;
	mq_on_message(NULL, NULL, &msg);
	TEST_EQ_INT("received: Home Assistant's birth sends the configs again",
	    fake_count("homeassistant/sensor/lbl_r1/"), (long long)mqtt_sensor_count);

	/* lbld gone: the status says so */
	mq_status_unreachable("cannot reach lbld at /run/lbl/lbld.sock: No such file");
	TEST_EQ_INT("unreachable: published", (p = fake_last("lbl/r1/status")) &&
	    strstr(p->payload, "\"state\":\"unreachable\"") != NULL, 1);
	TEST_EQ_INT("unreachable: logged", log_has("lbld unreachable: cannot reach lbld"), 1);

	fake_reset();
	free(mq_status);
	mqtt_conf_free(&mq_conf);
	close(fd);
	unlink(log_path);
	return TEST_DONE();
}
