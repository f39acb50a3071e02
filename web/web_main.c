/*
 * lbl-web: the rig in a browser (web/lbl-web.8). An HTTP server
 * (libmicrohttpd, a thread per connection) in front of lbld's control
 * socket: a JSON API under /api/v1/, Server-Sent Events of lbld's status
 * and events, and the pages built into the binary.
 *
 * Threads: libmicrohttpd's listener and one per connection; one follower
 * of lbld's status and events (web_watch, one connection to lbld whether
 * or not a batch runs) that every event stream reads from. No
 * wait is unbounded: each call to lbld has its timeout, an event stream
 * waits for news at most WEB_SSE_WAIT_MS and then writes a keep-alive, so
 * a browser gone is noticed within a second and its thread ends.
 */
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "paths.h"
#include "protocol.h"
#include "query.h"
#include "web.h"

/* How long one request to lbld may take (lblctl's default timeout). */
#define WEB_LBLD_TIMEOUT_MS	5000
/* An event stream waits this long for news, then writes a keep-alive comment. */
#define WEB_SSE_WAIT_MS		1000
/* Between two attempts to reach lbld, when it is not running or its follow ended. */
#define WEB_LBLD_RETRY_MS	1000
/* A connection's thread: lbl-web's own frames are small; yescrypt works on the heap. */
#define WEB_THREAD_STACK_BYTES	(256 * 1024)
/* Idle seconds before libmicrohttpd closes a connection (streams write every second). */
#define WEB_IDLE_TIMEOUT_S	30
/* Memory libmicrohttpd gives a connection for its headers: a larger request is refused. */
#define WEB_CONNECTION_MEMORY	(32 * 1024)
#define WEB_COOKIE		"lbl_session"
#define WEB_CSRF_HEADER		"X-CSRF-Token"

static struct web_conf web_conf;
static volatile int web_stopping;

/* ---- lbld's status and events, followed once for every event stream ---- */

static pthread_mutex_t web_status_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t web_status_cond;
static char *web_status_msg;		/* the SSE message of the latest status */
static uint64_t web_status_gen;		/* bumped on each change */
static int web_sse_clients;
/*
 * lbld's events lately told, as SSE messages: event number n (from 1) is
 * web_event_msgs[n % WEB_EVENTS_KEPT] while n > web_event_seq - WEB_EVENTS_KEPT.
 * Each message's id is "RUN-n", RUN this lbl-web's start (web_run_id), so a
 * browser that reconnects (its Last-Event-ID) gets those it missed, and one
 * whose id is of an earlier lbl-web gets all that are kept.
 */
static char *web_event_msgs[WEB_EVENTS_KEPT];
static uint64_t web_event_seq;
static char web_run_id[24];

/* Publishes an SSE message (event and JSON data) to every stream, if it differs. */
static void
web_publish(const char *event, const char *data)
{
	size_t len = strlen(event) + strlen(data) + 32;
	char *msg = malloc(len);

	if (msg == NULL) {
		log_warnx("out of memory for a status message");
		return;
	}
	snprintf(msg, len, "event: %s\ndata: %s\n\n", event, data);
	pthread_mutex_lock(&web_status_lock);
	if (web_status_msg != NULL && strcmp(web_status_msg, msg) == 0) {
		free(msg);
	} else {
		free(web_status_msg);
		web_status_msg = msg;
		web_status_gen++;
		pthread_cond_broadcast(&web_status_cond);
	}
	pthread_mutex_unlock(&web_status_lock);
}

/*
 * Keeps one of lbld's events (its JSON object, data) for every stream, as
 * the SSE message "event" with the next number.
 */
static void
web_publish_event(const char *data, size_t data_len)
{
	size_t len = data_len + 96;
	char *msg = malloc(len);
	uint64_t n;

	if (msg == NULL) {
		log_warnx("out of memory for an event message: the browsers miss it");
		return;
	}
	pthread_mutex_lock(&web_status_lock);
	n = ++web_event_seq;
	snprintf(msg, len, "id: %s-%llu\nevent: event\ndata: %.*s\n\n", web_run_id,
	    (unsigned long long)n, (int)data_len, data);
	free(web_event_msgs[n % WEB_EVENTS_KEPT]);
	web_event_msgs[n % WEB_EVENTS_KEPT] = msg;
	pthread_cond_broadcast(&web_status_cond);
	pthread_mutex_unlock(&web_status_lock);
}

static void
web_publish_offline(const char *why)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "error");
	json_string(&j, why);
	json_object_end(&j);
	if (json_text(&j) != NULL)
		web_publish("offline", json_text(&j));
	json_free(&j);
}

/* Sleeps ms, or less when lbl-web stops. */
static void
web_nap(int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&web_status_lock);
	while (!web_stopping &&
	    pthread_cond_timedwait(&web_status_cond, &web_status_lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&web_status_lock);
}

/*
 * Follows lbld (status --follow --json --events, the bridges' follow): one
 * connection, kept while lbld runs, idle or not. Its lines are the status
 * at once and at each change, and {"event":{...}} for each event as it is
 * committed to the record; lbld writes "~" while nothing happens. Only when
 * the connection fails or ends (lbld stopped, restarted) is it made again,
 * WEB_LBLD_RETRY_MS later.
 */
static void *
web_watch(void *arg)
{
	static const char *const argv[] = { "status", "--follow", "--json", "--events" };
	static const char event_head[] = "+ {\"event\":";
	struct follow f;
	char why[512], *line;
	size_t len;
	int rc = 1;

	(void)arg;
	while (!web_stopping) {
		if (follow_open(&f, web_conf.socket_path, 4, argv, WEB_LBLD_TIMEOUT_MS, why,
		    sizeof(why)) == -1) {
			web_publish_offline(why);
			web_nap(WEB_LBLD_RETRY_MS);
			continue;
		}
		why[0] = '\0';
		while (!web_stopping &&
		    (rc = follow_line(&f, 3 * CONTROL_KEEPALIVE_MS, &line)) == 1) {
			len = strlen(line);
			/* an event: its object, {"event":OBJECT} as lbld writes it */
			if (strncmp(line, event_head, sizeof(event_head) - 1) == 0 &&
			    line[len - 1] == '}')
				web_publish_event(line + sizeof(event_head) - 1,
				    len - (sizeof(event_head) - 1) - 1);
			else if (strncmp(line, "+ ", 2) == 0)
				web_publish("status", line + 2);
			else if (strncmp(line, "fail", 4) == 0) {
				snprintf(why, sizeof(why), "lbld refused to be followed: %s", line);
				break;
			} else if (strcmp(line, "ok") == 0)
				break;
		}
		if (!web_stopping)
			web_publish_offline(why[0] ? why : rc == -2 ? "lbld stopped answering" :
			    "lbld closed the connection");
		follow_close(&f);
		web_nap(WEB_LBLD_RETRY_MS);
	}
	return NULL;
}

/* One browser's event stream. */
struct web_sse {
	uint64_t seen;			/* the status generation sent */
	uint64_t event_seen;		/* the last event sent */
	char *pending;
	size_t pending_len, pending_off;
	int started;
};

/* Appends text to s->pending: 0, or -1 when out of memory. */
static int
web_sse_add(struct web_sse *s, const char *text)
{
	size_t len = strlen(text);
	char *more = realloc(s->pending, s->pending_len + len + 1);

	if (more == NULL)
		return -1;
	memcpy(more + s->pending_len, text, len + 1);
	s->pending = more;
	s->pending_len += len;
	return 0;
}

/*
 * What a stream has not sent yet, into s->pending (called with the lock
 * held): the status when it changed, then the events after the last sent
 * that are still kept (a comment says how many it missed, if any).
 */
static void
web_sse_take(struct web_sse *s)
{
	char note[96];
	uint64_t n, oldest;

	s->pending_len = s->pending_off = 0;
	if (web_status_msg != NULL && s->seen != web_status_gen) {
		if (web_sse_add(s, web_status_msg) == -1)
			return;
		s->seen = web_status_gen;
	}
	oldest = web_event_seq > WEB_EVENTS_KEPT ? web_event_seq - WEB_EVENTS_KEPT + 1 : 1;
	if (s->event_seen + 1 < oldest) {
		snprintf(note, sizeof(note), ": %llu events are no longer kept\n\n",
		    (unsigned long long)(oldest - s->event_seen - 1));
		if (web_sse_add(s, note) == -1)
			return;
		s->event_seen = oldest - 1;
	}
	for (n = s->event_seen + 1; n <= web_event_seq; n++) {
		if (web_sse_add(s, web_event_msgs[n % WEB_EVENTS_KEPT]) == -1)
			return;
		s->event_seen = n;
	}
}

static ssize_t
web_sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct web_sse *s = cls;
	struct timespec until;
	size_t n;

	(void)pos;
	if (!s->started) {
		/* first how soon a browser reconnects to a stream that broke */
		static const char retry[] = "retry: 2000\n\n";
		s->started = 1;
		if (sizeof(retry) - 1 > max)
			return 0;
		memcpy(buf, retry, sizeof(retry) - 1);
		return (ssize_t)(sizeof(retry) - 1);
	}
	if (s->pending == NULL || s->pending_off == s->pending_len) {
		if (web_stopping)
			return MHD_CONTENT_READER_END_OF_STREAM;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)WEB_SSE_WAIT_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&web_status_lock);
		while (!web_stopping && (s->seen == web_status_gen || web_status_msg == NULL) &&
		    s->event_seen == web_event_seq &&
		    pthread_cond_timedwait(&web_status_cond, &web_status_lock, &until) != ETIMEDOUT)
			;
		web_sse_take(s);
		pthread_mutex_unlock(&web_status_lock);
		if (s->pending_len == 0) {
			/*
			 * nothing new: a comment line keeps the stream alive, and a
			 * browser gone is noticed by this write failing
			 */
			if (max < 3)
				return 0;
			memcpy(buf, ":\n\n", 3);
			return 3;
		}
	}
	n = s->pending_len - s->pending_off;
	if (n > max)
		n = max;
	memcpy(buf, s->pending + s->pending_off, n);
	s->pending_off += n;
	if (s->pending_off == s->pending_len) {
		/* the buffer is kept for the next messages; a large one is given back */
		if (s->pending_len > 4096) {
			free(s->pending);
			s->pending = NULL;
		}
		s->pending_len = s->pending_off = 0;
	}
	return (ssize_t)n;
}

static void
web_sse_free(void *cls)
{
	struct web_sse *s = cls;

	int left;

	free(s->pending);
	free(s);
	pthread_mutex_lock(&web_status_lock);
	left = --web_sse_clients;
	pthread_mutex_unlock(&web_status_lock);
	/*
	 * the last stream gone: what the streams' connections took goes back to
	 * the system, so many browsers leaving leave lbl-web as small as before
	 */
	if (left == 0)
		malloc_trim(0);
}

/* ---- responses ---- */

static void
web_common_headers(struct MHD_Response *resp, const char *type)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

/* Queues body (copied) with status and type; extra headers name/value pairs, NULL-ended. */
static enum MHD_Result
web_send(struct MHD_Connection *conn, unsigned status, const char *type, const char *body,
    size_t len, ...)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;
	const char *name, *value;
	va_list ap;

	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	web_common_headers(resp, type);
	va_start(ap, len);
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		MHD_add_response_header(resp, name, value);
	}
	va_end(ap);
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result
web_json_send(struct MHD_Connection *conn, unsigned status, struct json *j)
{
	enum MHD_Result rc;
	const char *text = json_text(j);

	if (text == NULL)
		rc = web_send(conn, 500, "application/json", "{\"error\":\"out of memory\"}\n",
		    26, NULL);
	else
		rc = web_send(conn, status, "application/json", text, json_len(j), NULL);
	json_free(j);
	return rc;
}

/* A clear JSON error: {"error": "..."}; allow is the Allow header for 405 (or NULL). */
static enum MHD_Result
web_error(struct MHD_Connection *conn, unsigned status, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result
web_error(struct MHD_Connection *conn, unsigned status, const char *allow, const char *fmt, ...)
{
	char message[1200];
	struct json j;
	const char *text;
	enum MHD_Result rc;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "error");
	json_string(&j, message);
	json_key(&j, "status");
	json_int(&j, status);
	json_object_end(&j);
	text = json_text(&j);
	if (text == NULL)
		rc = web_send(conn, 500, "application/json", "{\"error\":\"out of memory\"}\n",
		    26, NULL);
	else if (allow != NULL)
		rc = web_send(conn, status, "application/json", text, json_len(&j), "Allow", allow,
		    NULL);
	else
		rc = web_send(conn, status, "application/json", text, json_len(&j), NULL);
	json_free(&j);
	return rc;
}

/*
 * lbld's answers handed to libmicrohttpd and not yet taken by their
 * browsers, in bytes: a browser that asks for a large answer and reads
 * nothing holds it there, so without a bound a few such (eight asking
 * for a 17 MB plan: 149 MB) took lbl-web past its unit's MemoryMax.
 */
static size_t web_sending_bytes;
static pthread_mutex_t web_sending_lock = PTHREAD_MUTEX_INITIALIZER;

struct web_body {
	char *data;
	size_t len;
};

/* libmicrohttpd is done with a body: its bytes leave the bound. */
static void
web_body_free(void *cls)
{
	struct web_body *b = cls;

	pthread_mutex_lock(&web_sending_lock);
	web_sending_bytes -= b->len;
	pthread_mutex_unlock(&web_sending_lock);
	free(b->data);
	free(b);
}

/*
 * Sends lbld's answer r (200, type, Content-Disposition if not NULL),
 * taking r->out without a copy; 503 when the answers not yet taken would
 * pass WEB_MAX_SENDING_BYTES. r->out is NULL after, either way but 503.
 */
static enum MHD_Result
web_send_reply(struct MHD_Connection *conn, const char *type, struct web_reply *r,
    const char *disposition)
{
	struct MHD_Response *resp;
	struct web_body *b;
	enum MHD_Result rc;
	size_t held;
	int full;

	pthread_mutex_lock(&web_sending_lock);
	held = web_sending_bytes;
	if (!(full = held + r->out_len > WEB_MAX_SENDING_BYTES))
		web_sending_bytes += r->out_len;
	pthread_mutex_unlock(&web_sending_lock);
	if (full)
		return web_error(conn, 503, NULL, "lbl-web holds %zu MiB of answers its browsers "
		    "have not taken yet, the most it holds (%d MiB): try again shortly",
		    held / (1024 * 1024), WEB_MAX_SENDING_BYTES / (1024 * 1024));
	if ((b = malloc(sizeof(*b))) == NULL) {
		pthread_mutex_lock(&web_sending_lock);
		web_sending_bytes -= r->out_len;
		pthread_mutex_unlock(&web_sending_lock);
		return MHD_NO;
	}
	b->data = r->out;
	b->len = r->out_len;
	r->out = NULL;
	resp = MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data,
	    web_body_free, b);
	if (resp == NULL) {
		web_body_free(b);
		return MHD_NO;
	}
	web_common_headers(resp, type);
	if (disposition != NULL)
		MHD_add_response_header(resp, "Content-Disposition", disposition);
	rc = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* A read lbld failed: 503 when its reader queue was full (try again), else 502. */
static unsigned
web_read_failed(const struct web_reply *r)
{
	return strstr(r->message, ": busy, try again") != NULL ? 503 : 502;
}

/*
 * Asks lbld and answers with what it said: its output as type (JSON, or
 * CSV), or its failure as a JSON error: 400 for a request it refused as
 * wrong (404 for a batch or recipe it has not), 409 when a change is
 * refused in the state the rig is in, 502 when a read failed (503 when lbld
 * was too busy to take it), 503 when
 * lbld cannot be reached, 507 when the answer is too large to relay.
 */
static enum MHD_Result
web_lbld(struct MHD_Connection *conn, int changing, int argc, const char *const argv[],
    const char *type, const char *disposition)
{
	struct web_reply r;
	enum MHD_Result rc;

	if ((changing ? web_lbld_call : web_lbld_read)(web_conf.socket_path, argc, argv,
	    WEB_LBLD_TIMEOUT_MS, &r) == -1)
		return web_error(conn, errno == EMSGSIZE ? 507 : 503, NULL, "%s", r.message);
	if (r.status == 0) {
		rc = web_send_reply(conn, type, &r, disposition);
	} else if (r.status == 2) {
		rc = web_error(conn, strncmp(r.message, "no batch", 8) == 0 ||
		    strncmp(r.message, "no stored recipe", 16) == 0 ? 404 : 400, NULL, "%s",
		    r.message);
	} else {
		rc = web_error(conn, changing ? 409 : web_read_failed(&r), NULL, "%s", r.message);
	}
	web_reply_free(&r);
	return rc;
}

/* ---- requests ---- */

/* What lbl-web keeps of a request between libmicrohttpd's calls. */
struct web_req {
	char body[WEB_MAX_BODY_BYTES + 1];
	size_t body_len;
	int too_big;
};

/* A whole positive batch id: 0, or -1. */
static int
web_id(const char *text, size_t len, long long *id)
{
	long long v = 0;
	size_t i;

	if (len == 0 || len > 15)
		return -1;
	for (i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		v = v * 10 + (text[i] - '0');
	}
	if (v <= 0)
		return -1;
	*id = v;
	return 0;
}

struct web_args_check {
	const char *const *allowed;
	char unknown[128];
};

static enum MHD_Result
web_arg_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct web_args_check *c = cls;
	size_t i;

	(void)kind;
	(void)value;
	for (i = 0; c->allowed[i] != NULL; i++)
		if (strcmp(c->allowed[i], key) == 0)
			return MHD_YES;
	snprintf(c->unknown, sizeof(c->unknown), "%s", key);
	return MHD_NO;
}

/* Whether every query parameter is one of allowed; else answered (400). */
static int
web_args_known(struct MHD_Connection *conn, const char *const allowed[], enum MHD_Result *rc,
    const char *what)
{
	struct web_args_check c = { allowed, "" };
	char list[256] = "";
	size_t i, len;

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, web_arg_iter, &c);
	if (c.unknown[0] == '\0')
		return 1;
	for (i = 0; allowed[i] != NULL; i++) {
		len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", allowed[i]);
	}
	*rc = web_error(conn, 400, NULL, "%s: unknown parameter '%s' (expected %s)", what,
	    c.unknown, allowed[0] ? list : "none");
	return 0;
}

/* Whether text holds a control character (lbld's request line cannot carry one). */
static int
web_has_control(const char *text)
{
	for (; *text; text++)
		if ((unsigned char)*text < 0x20 || *text == 0x7f)
			return 1;
	return 0;
}

/* GET /api/v1/batches: lblctl history's filters, checked as lbld checks them (base/query.h). */
static enum MHD_Result
web_batches(struct MHD_Connection *conn)
{
	static const char *const allowed[] = { "recipe", "substrate", "state", "since", "until",
		"limit", "utc", NULL };
	static const char *const opts[] = { "recipe", "substrate", "state", "since", "until",
		"limit" };
	const char *argv[2 + 2 * 6 + 1];
	char why[400], flags[6][16];
	struct query_span span;
	enum MHD_Result rc;
	int argc = 0, utc = 0, limit;
	size_t i;

	if (!web_args_known(conn, allowed, &rc, "batches"))
		return rc;
	argv[argc++] = "history";
	argv[argc++] = "--json";
	if (MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "utc") != NULL) {
		utc = 1;
		argv[argc++] = "--utc";
	}
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, opts[i]);
		if (v == NULL)
			continue;
		if (v[0] == '\0')
			return web_error(conn, 400, NULL, "batches: %s: expected a value", opts[i]);
		if (web_has_control(v))
			return web_error(conn, 400, NULL, "batches: %s holds a control character",
			    opts[i]);
		if (strcmp(opts[i], "state") == 0 && query_check_state(v, why, sizeof(why)) == -1)
			return web_error(conn, 400, NULL, "batches: state: %s", why);
		if (strcmp(opts[i], "limit") == 0 &&
		    query_parse_limit(v, &limit, why, sizeof(why)) == -1)
			return web_error(conn, 400, NULL, "batches: limit: %s", why);
		if ((strcmp(opts[i], "since") == 0 || strcmp(opts[i], "until") == 0) &&
		    query_parse_when(v, utc, (int64_t)time(NULL), &span, why, sizeof(why)) == -1)
			return web_error(conn, 400, NULL, "batches: %s: %s", opts[i], why);
		snprintf(flags[i], sizeof(flags[i]), "--%s", opts[i]);
		argv[argc++] = flags[i];
		argv[argc++] = v;
	}
	return web_lbld(conn, 0, argc, argv, "application/json", NULL);
}

/* GET /api/v1/batches/ID[/export] */
static enum MHD_Result
web_batch(struct MHD_Connection *conn, const char *rest)
{
	static const char *const none[] = { NULL };
	static const char *const export_args[] = { "format", NULL };
	const char *slash = strchr(rest, '/'), *format;
	char id_text[24], disposition[96];
	long long id;
	enum MHD_Result rc;

	if (web_id(rest, slash ? (size_t)(slash - rest) : strlen(rest), &id) == -1)
		return web_error(conn, 400, NULL, "expected a batch id (a whole number from 1), "
		    "not '%.*s'", (int)(slash ? slash - rest : (long)strlen(rest)), rest);
	snprintf(id_text, sizeof(id_text), "%lld", id);
	if (slash == NULL) {
		const char *argv[] = { "show", id_text, "--json" };
		if (!web_args_known(conn, none, &rc, "batches/ID"))
			return rc;
		return web_lbld(conn, 0, 3, argv, "application/json", NULL);
	}
	if (strcmp(slash, "/export") != 0)
		return web_error(conn, 404, NULL, "no such resource: batches/%s%s", id_text, slash);
	if (!web_args_known(conn, export_args, &rc, "export"))
		return rc;
	format = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
	if (format == NULL)
		format = "json";
	if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
		return web_error(conn, 400, NULL, "export: format: expected csv or json, not '%s'",
		    format);
	{
		const char *argv[] = { "export", id_text, "--format", format };
		snprintf(disposition, sizeof(disposition), "attachment; filename=\"batch-%s.%s\"",
		    id_text, format);
		return web_lbld(conn, 0, 4, argv, strcmp(format, "csv") == 0 ?
		    "text/csv; charset=utf-8" : "application/json", disposition);
	}
}

/* GET /api/v1/compare?a=ID&b=ID: lbld's comparison, as text inside JSON. */
static enum MHD_Result
web_compare(struct MHD_Connection *conn)
{
	static const char *const allowed[] = { "a", "b", NULL };
	const char *a, *b;
	long long ia, ib;
	struct web_reply r;
	struct json j;
	enum MHD_Result rc;

	if (!web_args_known(conn, allowed, &rc, "compare"))
		return rc;
	a = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "a");
	b = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "b");
	if (a == NULL || b == NULL || web_id(a, strlen(a), &ia) == -1 ||
	    web_id(b, strlen(b), &ib) == -1)
		return web_error(conn, 400, NULL, "compare: expected a=ID&b=ID (batch ids)");
	{
		const char *argv[] = { "compare", a, b };
		if (web_lbld_read(web_conf.socket_path, 3, argv, WEB_LBLD_TIMEOUT_MS, &r) == -1)
			return web_error(conn, errno == EMSGSIZE ? 507 : 503, NULL, "%s", r.message);
	}
	if (r.status != 0) {
		rc = web_error(conn, r.status == 2 ? (strncmp(r.message, "no batch", 8) == 0 ?
		    404 : 400) : web_read_failed(&r), NULL, "%s", r.message);
		web_reply_free(&r);
		return rc;
	}
	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "a");
	json_int(&j, ia);
	json_key(&j, "b");
	json_int(&j, ib);
	json_key(&j, "text");
	json_string_len(&j, r.out, r.out_len);
	json_object_end(&j);
	web_reply_free(&r);
	return web_json_send(conn, 200, &j);
}

/* GET /api/v1/recipes: lbld's list (NAME VERSION SHA256 ADDED, a header first) as JSON. */
static enum MHD_Result
web_recipes(struct MHD_Connection *conn)
{
	static const char *const argv[] = { "recipe", "list" };
	char *line, *save = NULL, *word[5], *w, *wsave;
	struct web_reply r;
	struct json j;
	int n, first = 1;

	if (web_lbld_read(web_conf.socket_path, 2, argv, WEB_LBLD_TIMEOUT_MS, &r) == -1)
		return web_error(conn, 503, NULL, "%s", r.message);
	if (r.status != 0) {
		enum MHD_Result rc = web_error(conn, web_read_failed(&r), NULL, "%s", r.message);
		web_reply_free(&r);
		return rc;
	}
	json_init(&j);
	json_array_begin(&j);
	for (line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (first) {
			first = 0;	/* the header */
			continue;
		}
		n = 0;
		for (w = strtok_r(line, " ", &wsave); w && n < 5; w = strtok_r(NULL, " ", &wsave))
			word[n++] = w;
		if (n < 3)
			continue;
		json_object_begin(&j);
		json_key(&j, "name");
		json_string(&j, word[0]);
		json_key(&j, "version");
		json_string(&j, word[1]);
		json_key(&j, "sha256");
		json_string(&j, word[2]);
		json_key(&j, "added");
		json_string(&j, n >= 4 ? word[3] : NULL);
		json_object_end(&j);
	}
	json_array_end(&j);
	web_reply_free(&r);
	return web_json_send(conn, 200, &j);
}

/*
 * GET /api/v1/recipes/NAME/plan: lbld's plan of the stored recipe against
 * its rig, the document lblctl plan --json prints (lbld sends it in pieces,
 * one a line: joined by line breaks, they are the same JSON).
 */
static enum MHD_Result
web_recipe_plan(struct MHD_Connection *conn, const char *name)
{
	const char *argv[] = { "plan", name, "--json" };
	struct web_reply r;
	enum MHD_Result rc;

	if (web_lbld_read(web_conf.socket_path, 3, argv, WEB_LBLD_TIMEOUT_MS, &r) == -1)
		return web_error(conn, errno == EMSGSIZE ? 507 : 503, NULL, "%s", r.message);
	if (r.status == 0)
		rc = web_send_reply(conn, "application/json", &r, NULL);
	else if (r.status == 2)
		/* not stored: 404; stored but not for this rig: the rig's state, 409 */
		rc = web_error(conn, strncmp(r.message, "no stored recipe", 16) == 0 ? 404 :
		    strstr(r.message, "is not valid for rig") != NULL ? 409 : 400, NULL, "%s",
		    r.message);
	else
		rc = web_error(conn, web_read_failed(&r), NULL, "%s", r.message);
	web_reply_free(&r);
	return rc;
}

/* GET /api/v1/recipes/NAME: the stored text; recipes/NAME/plan its plan. */
static enum MHD_Result
web_recipe(struct MHD_Connection *conn, const char *path)
{
	char name[208];
	const char *argv[] = { "recipe", "show", name };
	const char *slash = strchr(path, '/');
	struct web_reply r;
	struct json j;
	char *nl;
	enum MHD_Result rc;
	size_t len = slash ? (size_t)(slash - path) : strlen(path);

	if (len == 0 || len > 200)
		return web_error(conn, 400, NULL, "recipes/NAME: expected a recipe name (NAME or "
		    "NAME@VERSION, at most 200 bytes)");
	memcpy(name, path, len);
	name[len] = '\0';
	if (web_has_control(name) || name[0] == '-')
		return web_error(conn, 400, NULL, "recipes/NAME: expected a recipe name, not one "
		    "%s", name[0] == '-' ? "starting with '-'" : "holding a control character");
	if (slash != NULL && strcmp(slash, "/plan") != 0)
		return web_error(conn, 404, NULL, "no such resource: recipes/%s%s (recipes/NAME or "
		    "recipes/NAME/plan)", name, slash);
	{
		static const char *const none[] = { NULL };
		if (!web_args_known(conn, none, &rc, slash ? "recipes/NAME/plan" : "recipes/NAME"))
			return rc;
	}
	if (slash != NULL)
		return web_recipe_plan(conn, name);
	if (web_lbld_read(web_conf.socket_path, 3, argv, WEB_LBLD_TIMEOUT_MS, &r) == -1)
		return web_error(conn, 503, NULL, "%s", r.message);
	if (r.status != 0) {
		rc = web_error(conn, r.status == 2 ? 404 : web_read_failed(&r), NULL, "%s",
		    r.message);
		web_reply_free(&r);
		return rc;
	}
	nl = strchr(r.out, '\n');
	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "name");
	json_string(&j, name);
	json_key(&j, "header");
	json_string_len(&j, r.out, nl ? (size_t)(nl - r.out) : r.out_len);
	json_key(&j, "text");
	json_string(&j, nl ? nl + 1 : "");
	json_object_end(&j);
	web_reply_free(&r);
	return web_json_send(conn, 200, &j);
}

/* One value of an application/x-www-form-urlencoded body, decoded: 1, or 0 when absent. */
static int
web_form_get(const char *body, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key), o;
	const char *p = body;

	while (p && *p) {
		const char *end = strchr(p, '&');
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			const char *v = p + klen + 1;
			for (o = 0; v < (end ? end : v + strlen(v)) && o + 1 < size; v++) {
				if (*v == '+') {
					out[o++] = ' ';
				} else if (*v == '%' && v[1] && v[2]) {
					char hex[3] = { v[1], v[2], 0 }, *e;
					long ch = strtol(hex, &e, 16);
					if (*e != '\0' || ch == 0)
						return 0;
					out[o++] = (char)ch;
					v += 2;
				} else {
					out[o++] = *v;
				}
			}
			out[o] = '\0';
			return 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static void
web_client_addr(struct MHD_Connection *conn, char *buf, size_t size, const struct sockaddr **sa)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	*sa = info ? info->client_addr : NULL;
	web_addr_text(*sa, buf, size);
}

static enum MHD_Result
web_login(struct MHD_Connection *conn, struct web_req *req, const char *addr)
{
	char user[WEB_MAX_USER_BYTES + 2], password[512], token[80], csrf[80],
	    name[WEB_MAX_USER_BYTES + 1], cookie[256], retry[16], key[64];
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct json j;
	int retry_s, rc;
	enum MHD_Result sent;

	if (!web_form_get(req->body, "user", user, sizeof(user)) ||
	    !web_form_get(req->body, "password", password, sizeof(password)))
		return web_error(conn, 400, NULL, "login: expected a form with user and password "
		    "(application/x-www-form-urlencoded)");
	/* attempts are counted per client: an IPv6 host by its /64 (web_addr_key) */
	web_addr_key(info ? info->client_addr : NULL, key, sizeof(key));
	rc = web_auth_login(key, user, password, token, csrf, name, sizeof(name), &retry_s);
	explicit_bzero(password, sizeof(password));
	if (rc == 2) {
		snprintf(retry, sizeof(retry), "%d", retry_s);
		log_warnx("login: too many attempts from %s (counted as %s)", addr, key);
		json_init(&j);
		json_object_begin(&j);
		json_key(&j, "error");
		json_string(&j, "login: too many attempts from this address; try again later");
		json_key(&j, "retry_after_s");
		json_int(&j, retry_s);
		json_object_end(&j);
		sent = json_text(&j) ? web_send(conn, 429, "application/json", json_text(&j),
		    json_len(&j), "Retry-After", retry, NULL) : MHD_NO;
		json_free(&j);
		return sent;
	}
	if (rc == 1) {
		log_warnx("login: wrong user or password from %s (user '%s')", addr, user);
		return web_error(conn, 401, NULL, "login: wrong user or password");
	}
	if (rc == -1)
		return web_error(conn, 503, NULL, "login: no session can be made now");
	log_info("login: %s from %s", name, addr);
	snprintf(cookie, sizeof(cookie), WEB_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s",
	    token, web_conf.tls_cert ? "; Secure" : "");
	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "user");
	json_string(&j, name);
	json_key(&j, "csrf");
	json_string(&j, csrf);
	json_object_end(&j);
	sent = json_text(&j) ? web_send(conn, 200, "application/json", json_text(&j),
	    json_len(&j), MHD_HTTP_HEADER_SET_COOKIE, cookie, NULL) : MHD_NO;
	json_free(&j);
	return sent;
}

/*
 * The logged-in user of a changing request: 0 with name when the session
 * cookie and the CSRF header are both right; else answered (401 or 403).
 */
static int
web_operator(struct MHD_Connection *conn, char *name, size_t size, enum MHD_Result *rc)
{
	const char *token = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, WEB_COOKIE);
	const char *header = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, WEB_CSRF_HEADER);
	char csrf[80];

	if (web_auth_session(token, name, size, csrf) == -1) {
		*rc = web_error(conn, 401, NULL, "log in first: changing the rig is for operators "
		    "(POST /api/v1/login)");
		return -1;
	}
	if (header == NULL || !web_auth_equal(header, csrf)) {
		*rc = web_error(conn, 403, NULL, "the " WEB_CSRF_HEADER " header is missing or "
		    "wrong (it is the csrf value the login answered)");
		return -1;
	}
	return 0;
}

/*
 * Gives an operator's command to lbld and answers {"ok", "command", "user",
 * "output"} (lbld's lines), or its refusal: 400 for a wrong request (404
 * for a recipe or batch it has not), 409 for one the rig's state refuses.
 */
static enum MHD_Result
web_command(struct MHD_Connection *conn, const char *cmd, const char *name, const char *addr,
    int argc, const char *const argv[])
{
	struct web_reply r;
	struct json j;
	enum MHD_Result rc;

	log_info("%s: %s from %s", cmd, name, addr);
	if (web_lbld_call(web_conf.socket_path, argc, argv, WEB_LBLD_TIMEOUT_MS, &r) == -1)
		return web_error(conn, 503, NULL, "%s", r.message);
	if (r.status != 0) {
		rc = web_error(conn, r.status != 2 ? 409 : strncmp(r.message, "no stored recipe",
		    16) == 0 || strncmp(r.message, "no batch", 8) == 0 ? 404 : 400, NULL, "%s: %s",
		    cmd, r.message);
		web_reply_free(&r);
		return rc;
	}
	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "ok");
	json_bool(&j, 1);
	json_key(&j, "command");
	json_string(&j, cmd);
	json_key(&j, "user");
	json_string(&j, name);
	json_key(&j, "output");
	json_string_len(&j, r.out, r.out_len);
	json_object_end(&j);
	web_reply_free(&r);
	return web_json_send(conn, 200, &j);
}

/*
 * POST run: a stored recipe (recipe=NAME[@VERSION]) with the batch's
 * substrate, note and lots (lot=SOLUTION=LOT, repeated), as "lblctl run
 * NAME" takes them; the batch's operator is the web user. lbld checks the
 * recipe against the rig, homing and pre-flight before anything moves.
 */
static int
web_run_args(struct web_req *req, const char *who, const char **argv, int *argc,
    char store[][BATCH_MAX_NOTE_BYTES + 1], char *why, size_t why_size)
{
	static const char *const fields[] = { "recipe", "substrate", "note" };
	static const char *const flags[] = { NULL, "--substrate", "--note" };
	const char *p;
	size_t i, klen = 4;
	int n = 0;

	for (i = 0; i < 3; i++) {
		if (!web_form_get(req->body, fields[i], store[n], BATCH_MAX_NOTE_BYTES + 1) ||
		    store[n][0] == '\0') {
			if (i == 0) {
				snprintf(why, why_size, "run: expected recipe=NAME[@VERSION] (a stored "
				    "recipe, GET /api/v1/recipes)");
				return -1;
			}
			continue;
		}
		if (web_has_control(store[n])) {
			snprintf(why, why_size, "run: %s holds a control character", fields[i]);
			return -1;
		}
		if (flags[i] == NULL) {
			argv[(*argc)++] = "run";
			argv[(*argc)++] = store[n];
		} else {
			argv[(*argc)++] = flags[i];
			argv[(*argc)++] = store[n];
		}
		n++;
	}
	/* every lot=SOLUTION=LOT, in order */
	for (p = req->body; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, "lot=", klen) != 0)
			continue;
		if (n == 3 + RECIPE_MAX_SOLUTIONS) {
			snprintf(why, why_size, "run: more than %d lots", RECIPE_MAX_SOLUTIONS);
			return -1;
		}
		if (!web_form_get(p, "lot", store[n], BATCH_MAX_NOTE_BYTES + 1) ||
		    strchr(store[n], '=') == NULL || web_has_control(store[n])) {
			snprintf(why, why_size, "run: lot: expected SOLUTION=LOT");
			return -1;
		}
		argv[(*argc)++] = "--lot";
		argv[(*argc)++] = store[n++];
	}
	argv[(*argc)++] = "--operator";
	argv[(*argc)++] = who;
	return 0;
}

/* POST continue, pause (now=1: at once), resume, abort, run: lbld records the web user. */
static enum MHD_Result
web_action(struct MHD_Connection *conn, struct web_req *req, const char *cmd,
    const char *addr)
{
	char name[WEB_MAX_USER_BYTES + 1], who[WEB_MAX_USER_BYTES + 32], now[8], why[200];
	static char run_store[3 + RECIPE_MAX_SOLUTIONS][BATCH_MAX_NOTE_BYTES + 1];
	static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
	const char *argv[8 + 2 * RECIPE_MAX_SOLUTIONS];
	enum MHD_Result rc;
	int argc = 0;

	if (web_operator(conn, name, sizeof(name), &rc) == -1)
		return rc;
	snprintf(who, sizeof(who), "%s via lbl-web", name);
	if (strcmp(cmd, "run") == 0) {
		/* one run request at a time (lbld takes one run anyway): the fields' room is shared */
		pthread_mutex_lock(&run_lock);
		if (web_run_args(req, who, argv, &argc, run_store, why, sizeof(why)) == -1) {
			pthread_mutex_unlock(&run_lock);
			return web_error(conn, 400, NULL, "%s", why);
		}
		rc = web_command(conn, cmd, name, addr, argc, argv);
		pthread_mutex_unlock(&run_lock);
		return rc;
	}
	argv[argc++] = cmd;
	if (strcmp(cmd, "pause") == 0 && web_form_get(req->body, "now", now, sizeof(now))) {
		if (strcmp(now, "1") != 0 && strcmp(now, "0") != 0)
			return web_error(conn, 400, NULL, "pause: now: expected 1 or 0, not '%s'",
			    now);
		if (strcmp(now, "1") == 0)
			argv[argc++] = "--now";
	}
	argv[argc++] = "--operator";
	argv[argc++] = who;
	return web_command(conn, cmd, name, addr, argc, argv);
}

static enum MHD_Result
web_session_info(struct MHD_Connection *conn)
{
	const char *token = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, WEB_COOKIE);
	char name[WEB_MAX_USER_BYTES + 1], csrf[80];
	struct json j;
	int in = web_auth_session(token, name, sizeof(name), csrf) == 0;

	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "user");
	json_string(&j, in ? name : NULL);
	json_key(&j, "csrf");
	json_string(&j, in ? csrf : NULL);
	json_key(&j, "logins");
	json_bool(&j, web_conf.user_count > 0);
	json_object_end(&j);
	return web_json_send(conn, 200, &j);
}

/*
 * The last event a reconnecting browser had (its Last-Event-ID, "RUN-n"):
 * n when RUN is this lbl-web's, else 0 (every event kept is sent).
 */
static uint64_t
web_sse_last_seen(struct MHD_Connection *conn)
{
	const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
	size_t run_len = strlen(web_run_id);
	unsigned long long n;
	char *end;
	uint64_t seen = 0;

	if (id == NULL || strncmp(id, web_run_id, run_len) != 0 || id[run_len] != '-' ||
	    id[run_len + 1] < '0' || id[run_len + 1] > '9')
		return 0;
	errno = 0;
	n = strtoull(id + run_len + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	pthread_mutex_lock(&web_status_lock);
	if (n <= web_event_seq)
		seen = n;
	pthread_mutex_unlock(&web_status_lock);
	return seen;
}

static enum MHD_Result
web_events(struct MHD_Connection *conn)
{
	struct MHD_Response *resp;
	struct web_sse *s;
	enum MHD_Result rc;

	pthread_mutex_lock(&web_status_lock);
	if (web_sse_clients >= WEB_MAX_SSE_CLIENTS) {
		pthread_mutex_unlock(&web_status_lock);
		return web_error(conn, 503, NULL, "events: %d browsers follow already (the most "
		    "lbl-web serves)", WEB_MAX_SSE_CLIENTS);
	}
	web_sse_clients++;
	pthread_mutex_unlock(&web_status_lock);
	if ((s = calloc(1, sizeof(*s))) != NULL)
		s->event_seen = web_sse_last_seen(conn);
	if (s == NULL ||
	    (resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, web_sse_read, s,
	    web_sse_free)) == NULL) {
		free(s);
		pthread_mutex_lock(&web_status_lock);
		web_sse_clients--;
		pthread_mutex_unlock(&web_status_lock);
		return MHD_NO;
	}
	web_common_headers(resp, "text/event-stream");
	rc = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* The API's routes: path after /api/v1/, the method it takes. */
static enum MHD_Result
web_api(struct MHD_Connection *conn, struct web_req *req, const char *path, const char *method,
    const char *addr)
{
	static const char *const none[] = { NULL };
	static const char *const gets[] = { "status", "events", "batches", "compare", "recipes",
		"devices", "session", NULL };
	static const char *const posts[] = { "login", "logout", "continue", "pause", "resume",
		"abort", "run", NULL };
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	enum MHD_Result rc;
	size_t i;

	for (i = 0; posts[i] != NULL; i++) {
		if (strcmp(path, posts[i]) != 0)
			continue;
		if (!post)
			return web_error(conn, 405, "POST", "%s: expected POST, not %s", path, method);
		if (req->too_big)
			return web_error(conn, 413, NULL, "%s: the body is larger than %d bytes", path,
			    WEB_MAX_BODY_BYTES);
		if (strcmp(path, "login") == 0)
			return web_login(conn, req, addr);
		if (strcmp(path, "logout") == 0) {
			char name[WEB_MAX_USER_BYTES + 1];
			if (web_operator(conn, name, sizeof(name), &rc) == -1)
				return rc;
			web_auth_logout(MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
			    WEB_COOKIE));
			return web_send(conn, 200, "application/json", "{\"ok\":true}\n", 12,
			    MHD_HTTP_HEADER_SET_COOKIE, WEB_COOKIE "=; Path=/; HttpOnly; "
			    "SameSite=Strict; Max-Age=0", NULL);
		}
		return web_action(conn, req, path, addr);
	}
	{
		size_t plen = strchr(path, '/') ? (size_t)(strchr(path, '/') - path) : strlen(path);
		for (i = 0; gets[i] != NULL; i++)
			if (strlen(gets[i]) == plen && strncmp(path, gets[i], plen) == 0)
				break;
		if (gets[i] == NULL)
			return web_error(conn, 404, NULL, "no such resource: /api/v1/%s", path);
		if (!get)
			return web_error(conn, 405, "GET", "/api/v1/%s: expected GET, not %s", path,
			    method);
	}
	if (strcmp(path, "status") == 0 || strcmp(path, "devices") == 0 ||
	    strcmp(path, "events") == 0 || strcmp(path, "session") == 0 ||
	    strcmp(path, "recipes") == 0) {
		if (!web_args_known(conn, none, &rc, path))
			return rc;
	}
	if (strcmp(path, "status") == 0) {
		static const char *const argv[] = { "status", "--json" };
		return web_lbld(conn, 0, 2, argv, "application/json", NULL);
	}
	if (strcmp(path, "devices") == 0) {
		static const char *const argv[] = { "hw", "--json" };
		return web_lbld(conn, 0, 2, argv, "application/json", NULL);
	}
	if (strcmp(path, "events") == 0)
		return web_events(conn);
	if (strcmp(path, "session") == 0)
		return web_session_info(conn);
	if (strcmp(path, "batches") == 0)
		return web_batches(conn);
	if (strncmp(path, "batches/", 8) == 0)
		return web_batch(conn, path + 8);
	if (strcmp(path, "compare") == 0)
		return web_compare(conn);
	if (strcmp(path, "recipes") == 0)
		return web_recipes(conn);
	if (strncmp(path, "recipes/", 8) == 0)
		return web_recipe(conn, path + 8);
	return web_error(conn, 404, NULL, "no such resource: /api/v1/%s", path);
}

static enum MHD_Result
web_page(struct MHD_Connection *conn, const char *url, const char *method)
{
	size_t i;

	if (strcmp(url, "/") == 0)
		url = "/index.html";
	else if (strcmp(url, "/history") == 0)
		url = "/history.html";
	else if (strcmp(url, "/recipes") == 0)
		url = "/recipes.html";
	for (i = 0; i < web_page_count; i++) {
		if (strcmp(web_pages[i].path, url) != 0)
			continue;
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return web_error(conn, 405, "GET, HEAD", "%s: expected GET, not %s", url,
			    method);
		return web_send(conn, 200, web_pages[i].type, (const char *)web_pages[i].data,
		    web_pages[i].len, "Content-Security-Policy", "default-src 'self'; "
		    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'", NULL);
	}
	return web_error(conn, 404, NULL, "no such page: %s", url);
}

/*
 * Whether a POST comes from lbl-web's own pages: a browser names the page
 * that sends it in Origin, and one of another site (a form there posting
 * to the rig) names that site. Without Origin (curl, lblctl-like clients)
 * it is taken: the session and CSRF token still guard every change. This
 * keeps a page elsewhere from logging a browser in as someone else or
 * spending its address's login attempts (WEB_LOGIN_PER_MIN), which no
 * CSRF token can, since a login has none yet.
 */
static int
web_same_origin(struct MHD_Connection *conn, const char *host)
{
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	const char *at;

	if (origin == NULL)
		return 1;
	if (host == NULL || (at = strstr(origin, "://")) == NULL)
		return 0;	/* "null" (a sandboxed frame, a file) or no Host to match */
	return strcasecmp(at + 3, host) == 0;
}

static enum MHD_Result
web_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct web_req *req = *con_cls;
	const struct sockaddr *sa;
	const char *length, *host;
	char addr[64];

	(void)cls;
	if (req == NULL) {
		/* the headers are in: refuse now what needs no body to be refused */
		web_client_addr(conn, addr, sizeof(addr), &sa);
		if ((req = calloc(1, sizeof(*req))) == NULL)
			return MHD_NO;
		*con_cls = req;
		if (!web_trusted(&web_conf, sa)) {
			log_warnx("refused %s %s from %s: not a trusted address", method, url, addr);
			return web_error(conn, 403, NULL, "%s is not among the trusted addresses "
			    "(trusted: in lbl-web's configuration)", addr);
		}
		host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
		/* HTTP/1.1 requires Host (RFC 9112, 3.2); only HTTP/1.0 may leave it out */
		if (host == NULL && strcmp(version, MHD_HTTP_VERSION_1_0) != 0)
			return web_error(conn, 400, NULL, "%s without a Host header (HTTP/1.1 "
			    "requires one)", version);
		if (!web_host_ok(&web_conf, host)) {
			log_warnx("refused %s %s from %s: Host '%.100s' is not lbl-web's", method, url,
			    addr, host);
			return web_error(conn, 403, NULL, "Host '%.100s' is not one of lbl-web's names "
			    "(hosts: in its configuration; an IP address always is)", host);
		}
		if (strcmp(method, "POST") == 0 && !web_same_origin(conn, host)) {
			log_warnx("refused %s %s from %s: a page of another site (Origin '%.100s')",
			    method, url, addr, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
			    "Origin"));
			return web_error(conn, 403, NULL, "%s: refused, it comes from a page of "
			    "another site (its Origin is not %.100s)", url, host ? host : "lbl-web");
		}
		length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (length != NULL && strtoull(length, NULL, 10) > WEB_MAX_BODY_BYTES)
			return web_error(conn, 413, NULL, "the body (%s bytes) is larger than %d "
			    "bytes", length, WEB_MAX_BODY_BYTES);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (req->body_len + *upload_data_size > WEB_MAX_BODY_BYTES)
			req->too_big = 1;
		else {
			memcpy(req->body + req->body_len, upload_data, *upload_data_size);
			req->body_len += *upload_data_size;
			req->body[req->body_len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	web_client_addr(conn, addr, sizeof(addr), &sa);
	if (strncmp(url, "/api/v1/", 8) == 0)
		return web_api(conn, req, url + 8, method, addr);
	return web_page(conn, url, method);
}

static void
web_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

/* ---- connections per client ---- */

/*
 * The connections each client (web_addr_key) holds, a local proxy (web_loopback) aside: a
 * slot with count 0 is free. A connection's socket context points to its
 * slot, which is not reused while it counts.
 */
struct web_peer {
	char key[64];
	int count;
	int warned;			/* its refusal logged, until it drops below the limit */
};
static struct web_peer web_peers[WEB_MAX_CONNECTIONS];
static pthread_mutex_t web_peer_lock = PTHREAD_MUTEX_INITIALIZER;

/* The slot of key (or a free one when add); NULL if none. Under web_peer_lock. */
static struct web_peer *
web_peer_find(const char *key, int add)
{
	struct web_peer *free_slot = NULL;
	size_t i;

	for (i = 0; i < WEB_MAX_CONNECTIONS; i++) {
		if (web_peers[i].count > 0 && strcmp(web_peers[i].key, key) == 0)
			return &web_peers[i];
		if (web_peers[i].count == 0 && free_slot == NULL)
			free_slot = &web_peers[i];
	}
	if (!add || free_slot == NULL)
		return NULL;
	snprintf(free_slot->key, sizeof(free_slot->key), "%s", key);
	free_slot->warned = 0;
	return free_slot;
}

/*
 * Whether a new connection from sa is taken: one client (a local proxy aside)
 * holds at most WEB_MAX_ADDR_CONNECTIONS, or WEB_MAX_UNTRUSTED_CONNECTIONS
 * outside trusted:, so no host can take every connection lbl-web has.
 * A connection refused here is closed at once, unanswered.
 */
static enum MHD_Result
web_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct web_peer *p;
	char key[64];
	int limit, refused = 0;

	(void)cls;
	(void)len;
	if (web_loopback(sa))
		return MHD_YES;
	limit = web_trusted(&web_conf, sa) ? WEB_MAX_ADDR_CONNECTIONS :
	    WEB_MAX_UNTRUSTED_CONNECTIONS;
	web_addr_key(sa, key, sizeof(key));
	pthread_mutex_lock(&web_peer_lock);
	if ((p = web_peer_find(key, 0)) != NULL && p->count >= limit) {
		refused = 1;
		if (!p->warned) {
			p->warned = 1;
			log_warnx("%s holds %d connections, the most one client may: more are "
			    "closed unanswered until it closes some", key, p->count);
		}
	}
	pthread_mutex_unlock(&web_peer_lock);
	return refused ? MHD_NO : MHD_YES;
}

/* Counts a connection when it starts and when it closes (web_accept's numbers). */
static void
web_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *info;
	struct web_peer *p;
	char key[64];

	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		*socket_context = NULL;
		if (info == NULL || web_loopback(info->client_addr))
			return;
		web_addr_key(info->client_addr, key, sizeof(key));
		pthread_mutex_lock(&web_peer_lock);
		if ((p = web_peer_find(key, 1)) != NULL) {
			p->count++;
			*socket_context = p;
		}
		pthread_mutex_unlock(&web_peer_lock);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && (p = *socket_context) != NULL) {
		pthread_mutex_lock(&web_peer_lock);
		if (--p->count < WEB_MAX_ADDR_CONNECTIONS)
			p->warned = 0;
		pthread_mutex_unlock(&web_peer_lock);
		*socket_context = NULL;
	}
}

static void
web_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warnx("libmicrohttpd: %s", line);
}

/* lbl-web --hash-password: reads a password (twice on a terminal) and prints its hash. */
static int
web_hash_password(void)
{
	char first[512], second[512], *hash;
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO);

	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fprintf(stderr, "password: ");
	}
	if (fgets(first, sizeof(first), stdin) == NULL)
		first[0] = '\0';
	if (tty) {
		fprintf(stderr, "\nagain: ");
		if (fgets(second, sizeof(second), stdin) == NULL)
			second[0] = '\0';
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
		if (strcmp(first, second) != 0) {
			fprintf(stderr, "lbl-web: the passwords differ\n");
			return 1;
		}
	}
	first[strcspn(first, "\r\n")] = '\0';
	if (strlen(first) < 8) {
		fprintf(stderr, "lbl-web: a password needs at least 8 characters\n");
		return 2;
	}
	if ((hash = web_auth_hash(first)) == NULL) {
		fprintf(stderr, "lbl-web: hashing failed: %s\n", strerror(errno));
		return 1;
	}
	explicit_bzero(first, sizeof(first));
	printf("%s\n", hash);
	free(hash);
	return 0;
}

static void
web_usage(FILE *to)
{
	fprintf(to, "usage: lbl-web [--config FILE] [--check] [--debug]\n"
	    "       lbl-web --hash-password\n"
	    "The rig in a browser (lbl-web(8)); FILE defaults to %s.\n", LBL_WEB_CONFIG_PATH);
}

int
main(int argc, char **argv)
{
	const char *config = LBL_WEB_CONFIG_PATH;
	int check = 0, debug = 0, i, sig;
	unsigned flags;
	char *cert = NULL, *key = NULL;
	size_t cert_len, key_len;
	struct MHD_Daemon *d;
	pthread_condattr_t ca;
	pthread_t watcher;
	struct diag dg;
	sigset_t set;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--check") == 0)
			check = 1;
		else if (strcmp(argv[i], "--debug") == 0)
			debug = 1;
		else if (strcmp(argv[i], "--hash-password") == 0 && argc == 2)
			return web_hash_password();
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			web_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("lbl-web %s\n", LBL_VERSION);
			return 0;
		} else {
			fprintf(stderr, "lbl-web: unexpected '%s'%s\n", argv[i],
			    strcmp(argv[i], "--config") == 0 ? " (it needs a FILE)" : "");
			web_usage(stderr);
			return 2;
		}
	}
	log_init("lbl-web", debug ? 7 : 6);
	diag_init(&dg, config);
	if (web_conf_load(config, &dg, &web_conf) == -1) {
		char *text = diag_render(&dg);
		fputs(text ? text : "lbl-web: cannot read the configuration\n", stderr);
		free(text);
		diag_free(&dg);
		return 2;
	}
	diag_free(&dg);
	if (web_conf.tls_cert != NULL) {
		diag_init(&dg, web_conf.tls_cert);
		cert = conf_read_file(web_conf.tls_cert, CONF_MAX_FILE_BYTES, &cert_len, &dg);
		diag_free(&dg);
		diag_init(&dg, web_conf.tls_key);
		key = conf_read_file(web_conf.tls_key, CONF_MAX_FILE_BYTES, &key_len, &dg);
		diag_free(&dg);
		if (cert == NULL || key == NULL) {
			fprintf(stderr, "lbl-web: %s: cannot read the TLS %s (tls: in %s)\n",
			    cert == NULL ? web_conf.tls_cert : web_conf.tls_key,
			    cert == NULL ? "certificate" : "key", config);
			return 2;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			fprintf(stderr, "lbl-web: this libmicrohttpd has no TLS\n");
			return 2;
		}
	}
	if (check) {
		printf("%s: ok: listen %s, lbld at %s, %d trusted ranges, %d users%s\n", config,
		    web_conf.listen_text, web_conf.socket_path, web_conf.trusted_count,
		    web_conf.user_count, cert ? ", TLS" : "");
		return 0;
	}
	/* the events' ids begin with it: an id from an earlier lbl-web is told apart */
	snprintf(web_run_id, sizeof(web_run_id), "%llx%x", (unsigned long long)time(NULL),
	    (unsigned)getpid());
	/* each connection thread would otherwise get a malloc arena that is never given back */
	mallopt(M_ARENA_MAX, 2);
	web_auth_init(&web_conf);
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&web_status_cond, &ca) != 0)
		fatalx("cannot set up a condition variable");
	/* signals go to the main thread's sigwait alone */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (web_conf.listen.ss_family == AF_INET6)
		flags |= MHD_USE_DUAL_STACK;
	if (cert != NULL)
		flags |= MHD_USE_TLS;
	d = MHD_start_daemon(flags, 0, web_accept, NULL, web_handle, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, web_connection, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, web_mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&web_conf.listen,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_IDLE_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_CONNECTION_MEMORY,
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)WEB_THREAD_STACK_BYTES,
	    MHD_OPTION_NOTIFY_COMPLETED, web_completed, NULL,
	    cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "lbl-web: cannot listen on %s (in use, or not an address of this "
		    "machine?)\n", web_conf.listen_text);
		return 1;
	}
	if (pthread_create(&watcher, NULL, web_watch, NULL) != 0)
		fatalx("cannot start the status follower");
	log_info("listening on %s%s, lbld at %s, %d users", web_conf.listen_text,
	    cert ? " (TLS)" : "", web_conf.socket_path, web_conf.user_count);
	/* for tests and systemd's log: the port is open */
	printf("ready %s\n", web_conf.listen_text);
	fflush(stdout);
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		log_info("SIGHUP: restart lbl-web to read its configuration again");
	log_info("stopping (signal %d)", sig);
	pthread_mutex_lock(&web_status_lock);
	web_stopping = 1;
	pthread_cond_broadcast(&web_status_cond);
	pthread_mutex_unlock(&web_status_lock);
	MHD_stop_daemon(d);
	pthread_join(watcher, NULL);
	free(web_status_msg);
	for (i = 0; i < WEB_EVENTS_KEPT; i++)
		free(web_event_msgs[i]);
	free(cert);
	free(key);
	web_conf_free(&web_conf);
	return 0;
}
