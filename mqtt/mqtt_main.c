/*
 * lbl-mqtt: lbld's status and events on an MQTT broker (mqtt/lbl-mqtt.8).
 *
 * Two threads. The network thread (mq_network) holds the connection to
 * the broker: it connects, runs libmosquitto's loop, which calls the
 * callbacks below, and reconnects with back-off (MQTT_RECONNECT_MIN_S
 * doubling to MQTT_RECONNECT_MAX_S). The main thread follows lbld (status --follow --json
 * --events) through base/follow.c, each wait bounded, reconnecting with
 * its own back-off; it reduces each status to lbl/RIG/status and passes
 * each event on to lbl/RIG/event.
 *
 * What is published: lbl/RIG/status retained (QoS 0: only the latest
 * matters, and it is published again on every connection, so an old one
 * is never queued to arrive after a new one), lbl/RIG/event for each event
 * (QoS 1, not retained), lbl/RIG/online "online" retained at each
 * connection and "offline" as the last will (and at a clean stop), and
 * with discovery: Home Assistant's configs, retained.
 *
 * Memory while the broker is away: the latest status alone is kept (and
 * sent on reconnection); events wait in libmosquitto's queue, at most
 * MQTT_MAX_QUEUED messages unacknowledged; past that an event is dropped
 * and counted, and the count is logged (when dropping starts and when the
 * broker is back): never silently.
 *
 * Read-only: lbl-mqtt subscribes to Home Assistant's birth topic alone (to
 * send its discovery configs again when Home Assistant restarts); nothing
 * it receives reaches lbld.
 */
#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"
#include "log.h"
#include "mqtt.h"
#include "paths.h"
#include "protocol.h"

/* How long connecting to lbld and sending the request may take. */
#define MQTT_LBLD_TIMEOUT_MS	5000
/* One wait for a line of lbld's: short, so a stop is noticed soon. */
#define MQTT_LINE_WAIT_MS	250
/* How long a stop waits for the network thread to say offline and go. */
#define MQTT_STOP_WAIT_S	5
/* An lbld without the event stream ends a follow when idle: asked again after this. */
#define MQTT_STATUS_POLL_MS	1000

static struct mqtt_conf mq_conf;
static volatile sig_atomic_t mq_stopping;
static struct mosquitto *mq;
static char mq_topic_status[MQTT_MAX_TOPIC_BYTES], mq_topic_event[MQTT_MAX_TOPIC_BYTES],
    mq_topic_online[MQTT_MAX_TOPIC_BYTES], mq_topic_ha_birth[MQTT_MAX_TOPIC_BYTES];

/* Shared by the two threads, under mq_lock. */
static pthread_mutex_t mq_lock = PTHREAD_MUTEX_INITIALIZER;
static int mq_connected;
static char *mq_status;		/* the latest status payload (malloc'd) */
static long mq_queued;		/* QoS 1 messages handed over, not yet acknowledged */
static long mq_dropped;		/* events dropped since the last report */
static long long mq_dropped_total;
/*
 * The message ids of the last status publishes (QoS 0): libmosquitto calls
 * on_publish for those too, once written, and they must not count as a
 * QoS 1 message acknowledged. Written at once, so a few are ever pending.
 */
#define MQ_STATUS_MIDS	64
static int mq_status_mids[MQ_STATUS_MIDS];
static unsigned mq_status_mid_next;

static void
mq_on_signal(int sig)
{
	(void)sig;
	mq_stopping = 1;
}

static int64_t
mq_now_ms(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms, or less when lbl-mqtt stops. */
static void
mq_nap(int ms)
{
	struct timespec slice = { 0, 50 * 1000000L };

	for (; ms > 0 && !mq_stopping; ms -= 50)
		nanosleep(&slice, NULL);
}

/*
 * Publishes with QoS 1, under mq_lock: 0, or -1 when it was dropped (an
 * event past MQTT_MAX_QUEUED: counted; an error: logged). The birth and the
 * discovery configs are never dropped for the bound: a few per connection,
 * and without them the rig would look offline while it is not.
 */
static int
mq_publish1(const char *topic, const char *payload, int retain, int is_event)
{
	int rc;

	if (is_event && mq_queued >= MQTT_MAX_QUEUED) {
		if (mq_dropped++ == 0)
			log_warnx("broker %s:%d: %ld messages wait unacknowledged, the most "
			    "lbl-mqtt holds: events are dropped and counted until it is back",
			    mq_conf.host, mq_conf.port, mq_queued);
		mq_dropped_total++;
		return -1;
	}
	rc = mosquitto_publish(mq, NULL, topic, (int)strlen(payload), payload, 1, retain);
	/* not connected: libmosquitto keeps a QoS 1 message and sends it on reconnection */
	if (rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN) {
		mq_queued++;
		return 0;
	}
	log_warnx("publishing to %s: %s%s", topic, mosquitto_strerror(rc),
	    is_event ? " (an event lost: counted)" : "");
	if (is_event)
		mq_dropped_total++;
	return -1;
}

/* The latest status, under mq_lock, to the broker if connected (QoS 0, retained). */
static void
mq_publish_status(void)
{
	int rc, mid = 0;

	if (!mq_connected || mq_status == NULL)
		return;
	rc = mosquitto_publish(mq, &mid, mq_topic_status, (int)strlen(mq_status), mq_status, 0,
	    true);
	if (rc == MOSQ_ERR_SUCCESS && mid != 0)
		mq_status_mids[mq_status_mid_next++ % MQ_STATUS_MIDS] = mid;
	/* lost with the connection: the next connection publishes it again */
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
		log_warnx("publishing to %s: %s", mq_topic_status, mosquitto_strerror(rc));
}

/* Home Assistant's discovery configs, under mq_lock. */
static void
mq_publish_discovery(void)
{
	char topic[MQTT_MAX_TOPIC_BYTES];
	struct json j;
	size_t i;

	if (!mq_conf.discovery)
		return;
	json_init(&j);
	for (i = 0; i < mqtt_sensor_count; i++) {
		if (mqtt_msg_discovery(&j, topic, sizeof(topic), mq_conf.discovery_prefix,
		    mq_conf.rig, &mqtt_sensors[i]) == -1) {
			log_warnx("discovery: the config of sensor %s does not fit (topic or memory)",
			    mqtt_sensors[i].id);
			continue;
		}
		mq_publish1(topic, json_text(&j), 1, 0);
	}
	json_free(&j);
}

/* Sets the latest status (a payload) and publishes it if it changed. */
static void
mq_status_set(const char *payload)
{
	char *copy;

	pthread_mutex_lock(&mq_lock);
	if (mq_status == NULL || strcmp(mq_status, payload) != 0) {
		if ((copy = strdup(payload)) == NULL) {
			log_warnx("out of memory for the status: the one before stays");
		} else {
			free(mq_status);
			mq_status = copy;
			mq_publish_status();
		}
	}
	pthread_mutex_unlock(&mq_lock);
}

static void
mq_status_unreachable(const char *why)
{
	struct json j;
	int changed;

	json_init(&j);
	if (mqtt_msg_unreachable(&j, mq_conf.rig, why) == 0) {
		pthread_mutex_lock(&mq_lock);
		changed = mq_status == NULL || strcmp(mq_status, json_text(&j)) != 0;
		pthread_mutex_unlock(&mq_lock);
		if (changed)
			log_warnx("lbld unreachable: %s", why);
		mq_status_set(json_text(&j));
	}
	json_free(&j);
}

/* ---- libmosquitto's callbacks (its network thread) ---- */

static void
mq_on_connect(struct mosquitto *m, void *arg, int rc)
{
	(void)arg;
	if (rc != 0) {
		/* the broker answered and refused: credentials, or not allowed */
		log_warnx("broker %s:%d refused the connection: %s", mq_conf.host, mq_conf.port,
		    mosquitto_connack_string(rc));
		return;
	}
	pthread_mutex_lock(&mq_lock);
	mq_connected = 1;
	log_info("connected to the broker %s:%d%s", mq_conf.host, mq_conf.port,
	    mq_conf.tls_ca ? " (TLS)" : "");
	if (mq_dropped > 0) {
		log_warnx("%ld events were dropped while the broker was away (%lld since lbl-mqtt "
		    "started)", mq_dropped, mq_dropped_total);
		mq_dropped = 0;
	}
	mq_publish1(mq_topic_online, "online", 1, 0);
	mq_publish_discovery();
	mq_publish_status();
	if (mq_conf.discovery && (rc = mosquitto_subscribe(m, NULL, mq_topic_ha_birth, 0)) !=
	    MOSQ_ERR_SUCCESS)
		log_warnx("subscribing to %s: %s", mq_topic_ha_birth, mosquitto_strerror(rc));
	pthread_mutex_unlock(&mq_lock);
}

static void
mq_on_disconnect(struct mosquitto *m, void *arg, int rc)
{
	(void)m;
	(void)arg;
	pthread_mutex_lock(&mq_lock);
	if (mq_connected && rc != 0)
		log_warnx("lost the broker %s:%d: %s; reconnecting (back-off up to %d s)",
		    mq_conf.host, mq_conf.port, rc == MOSQ_ERR_ERRNO ? strerror(errno) :
		    mosquitto_strerror(rc), MQTT_RECONNECT_MAX_S);
	mq_connected = 0;
	pthread_mutex_unlock(&mq_lock);
}

static void
mq_on_publish(struct mosquitto *m, void *arg, int mid)
{
	int i;

	(void)m;
	(void)arg;
	pthread_mutex_lock(&mq_lock);
	for (i = 0; mid != 0 && i < MQ_STATUS_MIDS; i++)
		if (mq_status_mids[i] == mid) {
			/* a status written, not a QoS 1 message acknowledged */
			mq_status_mids[i] = 0;
			pthread_mutex_unlock(&mq_lock);
			return;
		}
	if (mq_queued > 0)
		mq_queued--;
	pthread_mutex_unlock(&mq_lock);
}

/*
 * Messages: only Home Assistant's birth ("online" on PREFIX/status) is
 * subscribed to, and it only makes lbl-mqtt send its configs again.
 */
static void
mq_on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	(void)m;
	(void)arg;
	if (strcmp(msg->topic, mq_topic_ha_birth) != 0 || msg->payloadlen != 6 ||
	    memcmp(msg->payload, "online", 6) != 0)
		return;
	log_info("Home Assistant announced itself: discovery configs sent again");
	pthread_mutex_lock(&mq_lock);
	mq_publish_discovery();
	mq_publish_status();
	pthread_mutex_unlock(&mq_lock);
}

static void
mq_on_log(struct mosquitto *m, void *arg, int level, const char *text)
{
	(void)m;
	(void)arg;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		log_warnx("broker %s:%d: %s", mq_conf.host, mq_conf.port, text);
	else
		log_debug("libmosquitto: %s", text);
}

/* ---- the network thread ---- */

/*
 * Connects, runs libmosquitto's loop while connected, and reconnects with
 * back-off (MQTT_RECONNECT_MIN_S doubling to MQTT_RECONNECT_MAX_S, back to
 * the least after a connection the broker accepted) until lbl-mqtt stops;
 * then says offline and disconnects. Its own loop rather than
 * mosquitto_loop_start's: that one gives up for good after a failed first
 * connection or a TLS error, and a bridge must outlast both.
 */
static void *
mq_network(void *arg)
{
	int delay_s = MQTT_RECONNECT_MIN_S, rc, i, lost;

	(void)arg;
	while (!mq_stopping) {
		rc = mosquitto_connect(mq, mq_conf.host, mq_conf.port, mq_conf.keepalive_s);
		/* whether the broker accepted this connection (its CONNACK came) */
		lost = 0;
		if (rc == MOSQ_ERR_SUCCESS) {
			while (!mq_stopping && (rc = mosquitto_loop(mq, MQTT_LINE_WAIT_MS, 1)) ==
			    MOSQ_ERR_SUCCESS) {
				pthread_mutex_lock(&mq_lock);
				if (mq_connected) {
					delay_s = MQTT_RECONNECT_MIN_S;
					lost = 1;
				}
				pthread_mutex_unlock(&mq_lock);
			}
			if (mq_stopping)
				break;
		}
		if (rc != MOSQ_ERR_SUCCESS) {
			pthread_mutex_lock(&mq_lock);
			/* a connection lost was said by mq_on_disconnect; one not made is said here */
			if (!lost)
				log_warnx("broker %s:%d: %s%s; trying again in %d s", mq_conf.host,
				    mq_conf.port, rc == MOSQ_ERR_ERRNO ? strerror(errno) :
				    mosquitto_strerror(rc), rc == MOSQ_ERR_TLS ? " (does tls: ca: "
				    "name the CA that signed the broker's certificate, for the name in "
				    "broker:?)" : "", delay_s);
			mq_connected = 0;
			pthread_mutex_unlock(&mq_lock);
		}
		mq_nap(delay_s * 1000);
		delay_s = delay_s * 2 > MQTT_RECONNECT_MAX_S ? MQTT_RECONNECT_MAX_S : delay_s * 2;
	}
	/* a clean stop: the broker sends no will then, so say offline here */
	pthread_mutex_lock(&mq_lock);
	rc = mq_connected;
	if (rc)
		mosquitto_publish(mq, NULL, mq_topic_online, 7, "offline", 1, true);
	pthread_mutex_unlock(&mq_lock);
	if (rc) {
		mosquitto_disconnect(mq);
		/* sends the two, within a second or so */
		for (i = 0; i < 8 && mosquitto_loop(mq, 100, 1) == MOSQ_ERR_SUCCESS; i++)
			;
	}
	return NULL;
}

/* ---- lbld ---- */

/* One JSON line of lbld's: a status or an event. */
static void
mq_lbld_line(const char *text)
{
	const struct mqtt_json *ev;
	struct mqtt_json v;
	struct json j;
	char why[256];

	if (mqtt_json_parse(text, &v, why, sizeof(why)) == -1) {
		log_warnx("lbld sent a line that is no JSON (%s): skipped", why);
		return;
	}
	json_init(&j);
	if ((ev = mqtt_json_get(&v, "event")) != NULL) {
		if (mqtt_msg_event(&j, mq_conf.rig, ev) == -1) {
			log_warnx("lbld sent an event that is no object: skipped");
		} else {
			pthread_mutex_lock(&mq_lock);
			mq_publish1(mq_topic_event, json_text(&j), 0, 1);
			pthread_mutex_unlock(&mq_lock);
		}
	} else if (mqtt_msg_status(&j, mq_conf.rig, &v, mq_now_ms(CLOCK_REALTIME), why,
	    sizeof(why)) == -1) {
		log_warnx("lbld's status line: %s: skipped", why);
	} else {
		mq_status_set(json_text(&j));
	}
	json_free(&j);
	mqtt_json_free(&v);
}

/*
 * Follows lbld until lbl-mqtt stops: status --follow --json --events (an
 * older lbld that does not know --events is followed without, asked again
 * each MQTT_STATUS_POLL_MS while idle). lbld unreachable, silent or gone:
 * the status says so, and lbld is asked again with back-off.
 */
static void
mq_follow_lbld(void)
{
	static const char *const argv[] = { "status", "--follow", "--json", "--events" };
	int events = 1, retry_ms = MQTT_LBLD_RETRY_MIN_MS, rc = 0, lines;
	char why[512], *line;
	struct follow f;
	int64_t heard;

	while (!mq_stopping) {
		if (follow_open(&f, mq_conf.socket_path, events ? 4 : 3, argv,
		    MQTT_LBLD_TIMEOUT_MS, why, sizeof(why)) == -1) {
			mq_status_unreachable(why);
			mq_nap(retry_ms);
			retry_ms = retry_ms * 2 > MQTT_LBLD_RETRY_MAX_MS ? MQTT_LBLD_RETRY_MAX_MS :
			    retry_ms * 2;
			continue;
		}
		heard = mq_now_ms(CLOCK_MONOTONIC);
		lines = 0;
		snprintf(why, sizeof(why), "lbld closed the connection");
		while (!mq_stopping) {
			rc = follow_line(&f, MQTT_LINE_WAIT_MS, &line);
			if (rc == -2) {
				/* lbld says "~" at least each CONTROL_KEEPALIVE_MS */
				if (mq_now_ms(CLOCK_MONOTONIC) - heard < 3 * CONTROL_KEEPALIVE_MS)
					continue;
				snprintf(why, sizeof(why), "lbld stopped answering (nothing for %d ms)",
				    3 * CONTROL_KEEPALIVE_MS);
				break;
			}
			if (rc == 0)
				break;
			if (rc == -1) {
				snprintf(why, sizeof(why), "reading lbld's answer: %s", strerror(errno));
				break;
			}
			heard = mq_now_ms(CLOCK_MONOTONIC);
			if (strncmp(line, "+ ", 2) == 0) {
				lines++;
				retry_ms = MQTT_LBLD_RETRY_MIN_MS;
				mq_lbld_line(line + 2);
			} else if (strncmp(line, "! ", 2) == 0) {
				log_info("lbld: %s", line + 2);
			} else if (strcmp(line, "ok") == 0) {
				/* the follow ended: no batch runs (an lbld without --events) */
				rc = 2;
				break;
			} else if (strncmp(line, "fail", 4) == 0) {
				if (events && lines == 0 && strstr(line, "--events") != NULL) {
					log_info("this lbld has no event stream (%s): following its "
					    "status alone, no events published", line);
					events = 0;
					rc = 3;
				} else {
					snprintf(why, sizeof(why), "lbld refused the follow: %s", line);
				}
				break;
			}
		}
		follow_close(&f);
		if (mq_stopping)
			break;
		if (rc == 2) {
			mq_nap(MQTT_STATUS_POLL_MS);
		} else if (rc != 3) {
			mq_status_unreachable(why);
			mq_nap(retry_ms);
			retry_ms = retry_ms * 2 > MQTT_LBLD_RETRY_MAX_MS ? MQTT_LBLD_RETRY_MAX_MS :
			    retry_ms * 2;
		}
	}
}

/* ---- main ---- */

static void
mq_usage(FILE *to)
{
	fprintf(to, "usage: lbl-mqtt [--config FILE] [--socket PATH] [--check] [--debug]\n"
	    "lbld's status and events on an MQTT broker (lbl-mqtt(8)); FILE defaults to %s.\n",
	    LBL_MQTT_CONFIG_PATH);
}

/* Sets up the client: 0, or -1 (said on stderr). */
static int
mq_setup(void)
{
	char id[MQTT_MAX_RIG_BYTES + 16];
	int rc;

	snprintf(id, sizeof(id), "lbl-mqtt-%s", mq_conf.rig);
	if ((mq = mosquitto_new(id, true, NULL)) == NULL) {
		fprintf(stderr, "lbl-mqtt: cannot make a client: %s\n", strerror(errno));
		return -1;
	}
	mosquitto_connect_callback_set(mq, mq_on_connect);
	mosquitto_disconnect_callback_set(mq, mq_on_disconnect);
	mosquitto_publish_callback_set(mq, mq_on_publish);
	mosquitto_message_callback_set(mq, mq_on_message);
	mosquitto_log_callback_set(mq, mq_on_log);
	/* publishes come from the main thread, the loop runs in mq_network */
	mosquitto_threaded_set(mq, true);
	if ((rc = mosquitto_will_set(mq, mq_topic_online, 7, "offline", 1, true)) !=
	    MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "lbl-mqtt: setting up the client: %s\n", mosquitto_strerror(rc));
		return -1;
	}
	if (mq_conf.username != NULL && (rc = mosquitto_username_pw_set(mq, mq_conf.username,
	    mq_conf.password)) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "lbl-mqtt: setting the credentials: %s\n", mosquitto_strerror(rc));
		return -1;
	}
	if (mq_conf.tls_ca != NULL && (rc = mosquitto_tls_set(mq, mq_conf.tls_ca, NULL,
	    mq_conf.tls_cert, mq_conf.tls_key, NULL)) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "lbl-mqtt: TLS with ca %s%s%s: %s (can lbl-mqtt read them?)\n",
		    mq_conf.tls_ca, mq_conf.tls_cert ? ", cert " : "",
		    mq_conf.tls_cert ? mq_conf.tls_cert : "", mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *config = LBL_MQTT_CONFIG_PATH, *socket_path = NULL;
	int check = 0, debug = 0, i, rc, status = 0;
	struct sigaction sa;
	struct timespec until;
	pthread_t network;
	sigset_t set, old;
	struct diag dg;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_path = argv[++i];
		else if (strcmp(argv[i], "--check") == 0)
			check = 1;
		else if (strcmp(argv[i], "--debug") == 0)
			debug = 1;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			mq_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("lbl-mqtt %s\n", LBL_VERSION);
			return 0;
		} else {
			fprintf(stderr, "lbl-mqtt: unexpected '%s'%s\n", argv[i],
			    strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--socket") == 0 ?
			    " (it needs a value)" : "");
			mq_usage(stderr);
			return 2;
		}
	}
	log_init("lbl-mqtt", debug ? 7 : 6);
	diag_init(&dg, config);
	if (mqtt_conf_load(config, &dg, &mq_conf) == -1) {
		char *text = diag_render(&dg);
		fputs(text ? text : "lbl-mqtt: cannot read the configuration\n", stderr);
		free(text);
		diag_free(&dg);
		return 2;
	}
	diag_free(&dg);
	if (socket_path != NULL) {
		free(mq_conf.socket_path);
		if ((mq_conf.socket_path = strdup(socket_path)) == NULL) {
			fprintf(stderr, "lbl-mqtt: out of memory\n");
			return 1;
		}
	}
	snprintf(mq_topic_status, sizeof(mq_topic_status), "lbl/%s/status", mq_conf.rig);
	snprintf(mq_topic_event, sizeof(mq_topic_event), "lbl/%s/event", mq_conf.rig);
	snprintf(mq_topic_online, sizeof(mq_topic_online), "lbl/%s/online", mq_conf.rig);
	snprintf(mq_topic_ha_birth, sizeof(mq_topic_ha_birth), "%s/status",
	    mq_conf.discovery_prefix);
	if (check) {
		printf("%s: ok: broker %s:%d%s%s, rig %s, lbld at %s%s\n", config, mq_conf.host,
		    mq_conf.port, mq_conf.tls_ca ? " (TLS)" : "",
		    mq_conf.username ? " with a username" : "", mq_conf.rig, mq_conf.socket_path,
		    mq_conf.discovery ? ", Home Assistant discovery" : "");
		mqtt_conf_free(&mq_conf);
		return 0;
	}
	mosquitto_lib_init();
	if (mq_setup() == -1) {
		status = 2;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mq_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* signals go to the main thread: the network thread starts with them blocked */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if ((rc = pthread_create(&network, NULL, mq_network, NULL)) != 0) {
		fprintf(stderr, "lbl-mqtt: cannot start the network thread: %s\n", strerror(rc));
		status = 1;
		goto out;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	log_info("publishing rig %s to %s:%d%s, lbld at %s", mq_conf.rig, mq_conf.host,
	    mq_conf.port, mq_conf.tls_ca ? " (TLS)" : "", mq_conf.socket_path);
	printf("ready %s:%d\n", mq_conf.host, mq_conf.port);
	fflush(stdout);
	mq_follow_lbld();
	log_info("stopping");
	/*
	 * The network thread says offline and goes within a second or two; one
	 * caught in a connection attempt to a host that does not answer (TCP's
	 * own timeout is minutes) is left behind: exit does not wait for it.
	 */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += MQTT_STOP_WAIT_S;
	if ((rc = pthread_timedjoin_np(network, NULL, &until)) != 0) {
		log_warnx("the connection to the broker %s:%d did not end within %d s: leaving it",
		    mq_conf.host, mq_conf.port, MQTT_STOP_WAIT_S);
		return 0;
	}
	if (mq_dropped_total > 0)
		log_warnx("%lld events were dropped in all while the broker was away",
		    mq_dropped_total);
out:
	if (mq != NULL)
		mosquitto_destroy(mq);
	mosquitto_lib_cleanup();
	free(mq_status);
	mqtt_conf_free(&mq_conf);
	return status;
}
