/*
 * lbld's control commands. Each handler answers with control_finish(),
 * now or — for --wait and --follow — when the batch ends. Who may give
 * which command is one table, req_roles: viewers (any local user) read,
 * operators (control_may_write: root, lbld's user, group lbl) also change.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calibrate.h"
#include "db.h"
#include "devread.h"
#include "json.h"
#include "lbld.h"
#include "log.h"
#include "manual.h"
#include "notify.h"
#include "preflight.h"
#include "record.h"
#include "text.h"
#include "textdiff.h"
#include "units.h"

struct req_args {
	const char *substrate, *operator_name, *note;
	const char *lots[RECIPE_MAX_SOLUTIONS];
	int lot_count;
	int wait, follow, json, now, accept_rig_change, events;
};

/* Parses --options after the positional words; returns the count of positionals or -1. */
static int
req_parse(struct control_client *c, const struct control_request *req, int first,
    struct req_args *a, const char *const allowed[])
{
	int i, positional = 0;

	memset(a, 0, sizeof(*a));
	for (i = first; i < req->argc; i++) {
		const char *w = req->argv[i];
		const char *value = i + 1 < req->argc ? req->argv[i + 1] : NULL;
		size_t k;

		if (w[0] != '-' || w[1] != '-') {
			positional++;
			continue;
		}
		for (k = 0; allowed[k] && strcmp(allowed[k], w + 2) != 0; k++)
			;
		if (allowed[k] == NULL) {
			control_finish(c, 2, "%s: unknown option %s", req->argv[0], w);
			return -1;
		}
		if (strcmp(w, "--wait") == 0)
			a->wait = 1;
		else if (strcmp(w, "--follow") == 0)
			a->follow = 1;
		else if (strcmp(w, "--json") == 0)
			a->json = 1;
		else if (strcmp(w, "--now") == 0)
			a->now = 1;
		else if (strcmp(w, "--accept-rig-change") == 0)
			a->accept_rig_change = 1;
		else if (strcmp(w, "--events") == 0)
			a->events = 1;
		else if (value == NULL) {
			control_finish(c, 2, "%s: %s needs a value", req->argv[0], w);
			return -1;
		} else {
			i++;
			if (strcmp(w, "--substrate") == 0)
				a->substrate = value;
			else if (strcmp(w, "--operator") == 0)
				a->operator_name = value;
			else if (strcmp(w, "--note") == 0)
				a->note = value;
			else if (strcmp(w, "--lot") == 0) {
				if (strchr(value, '=') == NULL ||
				    a->lot_count == RECIPE_MAX_SOLUTIONS) {
					control_finish(c, 2, "--lot: expected SOLUTION=LOT (at most %d, "
					    "one per solution)", RECIPE_MAX_SOLUTIONS);
					return -1;
				}
				a->lots[a->lot_count++] = value;
			}
		}
	}
	return positional;
}

/*
 * Who may give each command. Viewers may read: status, the batch record
 * (history, show, compare, export, series, which plot reads) and stored
 * recipes (recipe list, show). Whatever changes the rig, a batch or the
 * stored recipes is for operators. The first entry matching the command
 * and its first word counts, so a subcommand not listed falls to its
 * command's catch-all, which is for operators: what is not known to be a
 * read is a change. A command not listed at all is unknown.
 */
static const struct req_role {
	const char *command;
	const char *subcommand;		/* NULL: any, or none */
	int viewer;			/* 1: any local user; 0: operators only */
} req_roles[] = {
	{ "status", NULL, 1 },
	{ "history", NULL, 1 },
	{ "show", NULL, 1 },
	{ "compare", NULL, 1 },
	{ "export", NULL, 1 },
	{ "series", NULL, 1 },
	{ "recipe", "list", 1 },
	{ "recipe", "show", 1 },
	{ "recipe", "diff", 1 },
	{ "recipe", NULL, 0 },		/* add, rm */
	{ "plan", NULL, 1 },		/* daemon/planreq.c: reads, changes nothing */
	{ "run", NULL, 0 },
	{ "pause", NULL, 0 },
	{ "resume", NULL, 0 },
	{ "continue", NULL, 0 },
	{ "abort", NULL, 0 },
	{ "resume-batch", NULL, 0 },
	{ "abort-batch", NULL, 0 },
	{ "park", NULL, 0 },
	{ "home", NULL, 0 },
	{ "hw", NULL, 1 },		/* daemon/devread.c */
	{ "preflight", NULL, 1 },	/* daemon/preflight.c: checks, changes nothing */
	{ "teach", NULL, 0 },		/* daemon/teach.c */
	{ "reload", NULL, 0 },
	{ "calibrate", NULL, 0 },	/* daemon/calibrate.c */
	/* manual control (manual.c) */
	{ "move", NULL, 0 },
	{ "jog", NULL, 0 },
	{ "goto", NULL, 0 },
	{ "stop", NULL, 0 },
	{ "set", NULL, 0 },
	{ "prime", NULL, 0 },
	{ "fill", NULL, 0 },
	{ "drain", NULL, 0 },
	{ "reset", NULL, 0 },
};

/*
 * Whether the client may give this request: 0 if so; -1 when it was
 * answered (an unknown command, or an operator's command from a viewer).
 */
static int
req_allowed(struct control_client *c, const struct control_request *req)
{
	const struct req_role *r;
	size_t i;

	for (i = 0; i < sizeof(req_roles) / sizeof(req_roles[0]); i++) {
		r = &req_roles[i];
		if (strcmp(r->command, req->argv[0]) != 0)
			continue;
		if (r->subcommand != NULL &&
		    (req->argc < 2 || strcmp(r->subcommand, req->argv[1]) != 0))
			continue;
		if (r->viewer || control_may_write(c))
			return 0;
		control_finish(c, 1, "%s%s%s: permission denied: changing the rig, a batch or the "
		    "recipes is for root and members of group %s, and uid %d is neither (any "
		    "user may view: status, history, show, recipe list)", req->argv[0],
		    req->argc > 1 && strcmp(req->argv[0], "recipe") == 0 ? " " : "",
		    req->argc > 1 && strcmp(req->argv[0], "recipe") == 0 ? req->argv[1] : "",
		    CONTROL_GROUP, (int)control_peer_uid(c));
		return -1;
	}
	control_finish(c, 2, "unknown command '%s'", req->argv[0]);
	return -1;
}

/* ---- status ---- */

static void
req_duration(int64_t ms, char *buf, int size)
{
	if (ms <= 0)
		snprintf(buf, size, "0s");
	else
		units_format_duration(ms, buf, size);
}

/*
 * A status line holds a prompt or a cause whole (RUN_MAX_EVENT_BYTES) with
 * the batch, recipe and step around it; a recipe name longer than what is
 * left is cut at a character, marked (text.h).
 */
#define REQ_STATUS_LINE_BYTES	(RUN_MAX_EVENT_BYTES + 512)

/* One line: what systemctl status shows, and what --follow streams. */
static void
req_status_line(const struct run_status *st, char *buf, size_t size)
{
	char step_left[32], run_left[32];

	if (st->recipe == NULL) {
		if (st->state == RUN_SAFE)
			text_format(buf, size, "safe state%s%s%s%.240s", st->message ? ": " : "",
			    st->message ? st->message : "", st->waiting[0] ? "; waiting for " : "",
			    st->waiting);
		else if (st->batch_id && st->batch_state)
			text_format(buf, size, "idle (batch %lld %s%s%s)", (long long)st->batch_id,
			    st->batch_state, st->message ? ": " : "", st->message ? st->message : "");
		else
			text_format(buf, size, "idle");
		return;
	}
	req_duration(st->step_left_ms, step_left, sizeof(step_left));
	req_duration(st->run_left_ms, run_left, sizeof(run_left));
	if (st->state == RUN_SAFE)
		text_format(buf, size, "batch %lld %s: safe state: %s%s%.240s",
		    (long long)st->batch_id, st->recipe, st->message ? st->message : "", st->waiting[0] ?
		    "; waiting for " : "", st->waiting);
	else if (st->state == RUN_PROMPT)
		text_format(buf, size, "batch %lld %s: bilayer %d/%d, waiting for the operator: %s",
		    (long long)st->batch_id, st->recipe, st->bilayer, st->bilayers,
		    st->message ? st->message : "");
	else
		text_format(buf, size, "batch %lld %s: bilayer %d/%d, step %d/%d %s %s, %s left "
		    "(run %s)%s", (long long)st->batch_id, st->recipe, st->bilayer, st->bilayers,
		    st->step_seq, st->step_count, st->step_kind ? st->step_kind : "-",
		    st->step_where ? st->step_where : "-", step_left, run_left,
		    st->state == RUN_PAUSED ? ", paused" : "");
}

/*
 * What supervision polling cost each bus since it last started (the batch
 * in progress, or the last one): polls per second, and the fraction of the
 * time the bus was busy with polls and with anything (hw_bus_usage()).
 */
static void
req_status_buses_json(const struct hw *hw, struct json *j)
{
	struct hw_bus_usage u;
	size_t b;

	json_key(j, "buses");
	json_array_begin(j);
	for (b = 0; hw != NULL && b < hw_bus_count(hw); b++) {
		if (hw_bus_usage(hw, b, &u) == -1)
			continue;
		json_object_begin(j);
		json_key(j, "name");
		json_string(j, u.name);
		json_key(j, "seconds");
		json_number(j, u.seconds);
		json_key(j, "polls");
		json_int(j, (long long)u.polls);
		json_key(j, "polls_per_s");
		json_number(j, u.seconds > 0 ? u.polls / u.seconds : 0);
		json_key(j, "poll_busy_fraction");
		json_number(j, u.seconds > 0 ? u.poll_busy_s / u.seconds : 0);
		json_key(j, "busy_fraction");
		json_number(j, u.seconds > 0 ? u.busy_s / u.seconds : 0);
		json_object_end(j);
	}
	json_array_end(j);
}

/* The status as one JSON object (the one JSON writer); -1 when it could not be built. */
static int
req_status_json_build(const struct lbld *l, const struct run_status *st, struct json *j)
{
	json_object_begin(j);
	json_key(j, "state");
	json_string(j, run_state_names[st->state]);
	json_key(j, "batch");
	json_int(j, st->batch_id);
	json_key(j, "batch_state");
	json_string(j, st->batch_state);
	json_key(j, "recipe");
	json_string(j, st->recipe);
	json_key(j, "version");
	json_string(j, st->version);
	json_key(j, "bilayer");
	json_int(j, st->bilayer);
	json_key(j, "bilayers");
	json_int(j, st->bilayers);
	json_key(j, "step");
	json_int(j, st->step_seq);
	json_key(j, "steps");
	json_int(j, st->step_count);
	json_key(j, "step_kind");
	json_string(j, st->step_kind);
	json_key(j, "where");
	json_string(j, st->step_where);
	json_key(j, "step_left_ms");
	json_int(j, st->step_left_ms);
	json_key(j, "run_left_ms");
	json_int(j, st->run_left_ms);
	json_key(j, "thickness_estimate_nm");
	json_number(j, st->thickness_estimate_nm);
	json_key(j, "thickness_measured_nm");
	json_number(j, st->thickness_measured_nm);	/* NaN: not measured, null */
	json_key(j, "message");
	json_string(j, st->message);
	json_key(j, "substrate");
	json_string(j, st->substrate);
	json_key(j, "safety");
	json_string(j, st->safety[0] ? st->safety : NULL);
	json_key(j, "next");
	json_string(j, st->next[0] ? st->next : NULL);
	json_key(j, "record");
	json_string(j, st->record[0] ? st->record : NULL);
	json_key(j, "waiting");
	json_string(j, st->waiting[0] ? st->waiting : NULL);
	/* the axes the rig homes: name -> homed (true or false) */
	json_key(j, "homed");
	json_object_begin(j);
	for (size_t i = 0; l->home != NULL && i < l->rig->device_count; i++) {
		if (home_homed(l->home, (int)i) == -1)
			continue;
		json_key(j, l->rig->devices[i].name);
		json_bool(j, home_homed(l->home, (int)i) == 1);
	}
	json_object_end(j);
	/* what manual control holds (manual.h), null when nothing */
	{
		char manual[600];

		json_key(j, "manual");
		json_string(j, l->manual != NULL && manual_busy(l->manual, manual,
		    sizeof(manual)) ? manual : NULL);
	}
	/* GPIO lines lbld could not open (a chip missing): device name -> why */
	json_key(j, "unreachable");
	json_object_begin(j);
	for (size_t i = 0; i < l->rig->device_count; i++) {
		if (hw_gpio_error(l->hw, (int)i) == NULL)
			continue;
		json_key(j, l->rig->devices[i].name);
		json_string(j, hw_gpio_error(l->hw, (int)i));
	}
	json_object_end(j);
	req_status_buses_json(l->hw, j);
	json_object_end(j);
	return json_text(j) != NULL ? 0 : -1;
}

static void
req_status_json(const struct lbld *l, struct control_client *c, const struct run_status *st)
{
	struct json j;

	json_init(&j);
	if (req_status_json_build(l, st, &j) == 0)
		control_out(c, "%s", json_text(&j));
	else
		control_err(c, "status: out of memory for the JSON text");
	json_free(&j);
}

static void
req_status_text(struct control_client *c, const struct run_status *st)
{
	char buf[64], buf2[64];

	control_out(c, "state: %s", run_state_names[st->state]);
	if (st->batch_id)
		control_out(c, "batch: %lld (%s)", (long long)st->batch_id,
		    st->batch_state ? st->batch_state : "-");
	if (st->safety[0])
		control_out(c, "safety: %s", st->safety);
	control_out(c, "substrate: %s", st->substrate);
	if (st->record[0])
		control_out(c, "record: %s", st->record);
	if (st->waiting[0])
		control_out(c, "waiting: %s", st->waiting);
	if (st->recipe == NULL) {
		if (st->message)
			control_out(c, "cause: %s", st->message);
		if (st->next[0])
			control_out(c, "next: %s", st->next);
		return;
	}
	control_out(c, "recipe: %s version %s", st->recipe, st->version);
	control_out(c, "bilayer: %d/%d", st->bilayer, st->bilayers);
	control_out(c, "step: %d/%d %s %s", st->step_seq, st->step_count,
	    st->step_kind ? st->step_kind : "-", st->step_where ? st->step_where : "-");
	req_duration(st->step_left_ms, buf, sizeof(buf));
	req_duration(st->run_left_ms, buf2, sizeof(buf2));
	control_out(c, "time left: %s in the step, %s in the run", buf, buf2);
	if (isnan(st->thickness_measured_nm))
		control_out(c, "thickness: %.1f nm estimated", st->thickness_estimate_nm);
	else
		control_out(c, "thickness: %.1f nm estimated, %.1f nm measured",
		    st->thickness_estimate_nm, st->thickness_measured_nm);
	if (st->state == RUN_PROMPT)
		control_out(c, "prompt: %s", st->message ? st->message : "");
	else if (st->message)
		control_out(c, "cause: %s", st->message);
}

static void
req_status(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	static const char *const allowed[] = { "json", "follow", "events", NULL };
	struct run_status st;
	struct req_args a;
	char line[REQ_STATUS_LINE_BYTES];

	if (req_parse(c, req, 1, &a, allowed) == -1)
		return;
	if (a.events && !(a.follow && a.json)) {
		control_finish(c, 2, "status: --events goes with --follow --json");
		return;
	}
	run_status(l->run, &st);
	if (a.events) {
		/*
		 * A bridge's follow (lbl-web, lbl-mqtt): the status now and at each
		 * change, each event once on record, across batches and idle times
		 * alike, until lbld stops or the client goes.
		 */
		req_status_json(l, c, &st);
		control_follow(c, LBLD_TAG_EVENTS);
		return;
	}
	if (a.follow) {
		/* --follow --json: one JSON object per line, as each change happens */
		if (a.json) {
			req_status_json(l, c, &st);
		} else {
			req_status_line(&st, line, sizeof(line));
			control_out(c, "%s", line);
		}
		if (!run_busy(l->run)) {
			control_finish(c, 0, " ");
			return;
		}
		control_follow(c, a.json ? LBLD_TAG_STATUS_JSON : LBLD_TAG_STATUS);
		return;
	}
	if (a.json) {
		req_status_json(l, c, &st);
	} else {
		char homed[512], manual[600];

		req_status_text(c, &st);
		home_status_text(l->home, homed, sizeof(homed));
		if (homed[0])
			control_out(c, "homed: %s", homed);
		if (manual_busy(l->manual, manual, sizeof(manual)))
			control_out(c, "manual: %s", manual);
		/* a GPIO line lbld could not open (its chip missing): unreachable until restart */
		for (size_t i = 0; i < l->rig->device_count; i++)
			if (hw_gpio_error(l->hw, (int)i) != NULL)
				control_out(c, "unreachable: %s: %s", l->rig->devices[i].name,
				    hw_gpio_error(l->hw, (int)i));
	}
	control_finish(c, 0, " ");
}

struct req_notify {
	const struct run_status *status;
	const char *line;
};

static void req_record_drained(void *arg, int ok, const char *why);

static void
req_follower_status(void *arg, struct control_client *c)
{
	const struct req_notify *n = arg;

	control_out(c, "%s", n->line);
	if (n->status->state == RUN_IDLE)
		control_finish(c, 0, " ");
}

static void
req_follower_line(void *arg, struct control_client *c)
{
	const struct req_notify *n = arg;

	control_out(c, "%s", n->line);
}

static void
req_follower_done(void *arg, struct control_client *c)
{
	const struct req_notify *n = arg;
	const struct run_status *st = n->status;

	if (st->batch_state && strcmp(st->batch_state, "completed") == 0) {
		control_out(c, "batch %lld completed", (long long)st->batch_id);
		control_finish(c, 0, " ");
	} else
		control_finish(c, 1, "batch %lld %s%s%s", (long long)st->batch_id,
		    st->batch_state ? st->batch_state : "ended", st->message ? ": " : "",
		    st->message ? st->message : "");
}

/*
 * The line --wait tells when the batch waits for the operator (a prompt,
 * a pause), with what answers it; NULL when it does not wait.
 */
static const char *
req_operator_wait(const struct run_status *st, char *buf, size_t size)
{
	if (st->state == RUN_PROMPT)
		text_format(buf, size, "waiting for the operator: %s \u2014 answer with 'lblctl "
		    "continue'", st->message ? st->message : "");
	else if (st->state == RUN_PAUSED)
		text_format(buf, size, "batch %lld paused \u2014 'lblctl resume' continues it, "
		    "'lblctl abort' ends it", (long long)st->batch_id);
	else
		return NULL;
	return buf;
}

/*
 * A --wait that begins while the batch already waits for the operator
 * hears it at once; later waits reach it through lbld_notify.
 */
static void
req_wait_begins(struct lbld *l, struct control_client *c)
{
	struct run_status st;
	char line[REQ_STATUS_LINE_BYTES];

	run_status(l->run, &st);
	if (req_operator_wait(&st, line, sizeof(line)) != NULL)
		control_out(c, "%s", line);
}

/*
 * Tells the --events followers the status unless it is what they heard
 * last: besides the run's changes, what manual control and homing change
 * (the manual and homed keys) reaches them with the event that says so.
 * json is the status's JSON text, or NULL to build it now.
 */
static void
req_bridge_status(struct lbld *l, const char *json)
{
	struct req_notify n = { 0 };
	struct run_status st;
	struct json j;
	char *copy;

	json_init(&j);
	if (json == NULL) {
		run_status(l->run, &st);
		if (req_status_json_build(l, &st, &j) == 0)
			json = json_text(&j);
	}
	if (json != NULL && (l->bridge_status == NULL || strcmp(l->bridge_status, json) != 0)) {
		n.line = json;
		control_each_follower(l->control, LBLD_TAG_EVENTS, req_follower_line, &n);
		if ((copy = strdup(json)) != NULL) {
			free(l->bridge_status);
			l->bridge_status = copy;
		}
	}
	json_free(&j);
}

void
lbld_status_told(struct lbld *l)
{
	if (l->control != NULL)
		req_bridge_status(l, NULL);
}

void
lbld_notify(void *arg, const struct run_status *st)
{
	struct lbld *l = arg;
	struct req_notify n, wait, json_line;
	char line[REQ_STATUS_LINE_BYTES], wait_line[REQ_STATUS_LINE_BYTES];
	struct json j;
	int told;

	req_status_line(st, line, sizeof(line));
	n.status = st;
	n.line = line;
	/* each wait for the operator once, however often it is notified */
	told = st->state == l->told_state && st->batch_id == l->told_batch &&
	    st->step_seq == l->told_step;
	l->told_state = st->state;
	l->told_batch = st->batch_id;
	l->told_step = st->step_seq;
	if (l->control == NULL) {
		/* start-up, before the socket opens: systemd alone hears */
		notify_status(line);
		return;
	}
	control_each_follower(l->control, LBLD_TAG_STATUS, req_follower_status, &n);
	json_init(&j);
	if (req_status_json_build(l, st, &j) == 0) {
		json_line.status = st;
		json_line.line = json_text(&j);
		control_each_follower(l->control, LBLD_TAG_STATUS_JSON, req_follower_status,
		    &json_line);
		req_bridge_status(l, json_text(&j));
	}
	json_free(&j);
	control_each_follower(l->control, LBLD_TAG_WAIT_FOLLOW, req_follower_line, &n);
	if (!told && req_operator_wait(st, wait_line, sizeof(wait_line)) != NULL) {
		wait.status = st;
		wait.line = wait_line;
		control_each_follower(l->control, LBLD_TAG_WAIT, req_follower_line, &wait);
		control_each_follower(l->control, LBLD_TAG_WAIT_FOLLOW, req_follower_line, &wait);
	}
	/*
	 * A --wait is answered once the batch's end is on record: who is told
	 * "completed" may read the record at once. While its writes are held
	 * (the database is locked: by another process, or for a moment by
	 * lbld's own restart of the log) the answer waits for them.
	 */
	if (st->state == RUN_IDLE && record_when_drained(l->record, req_record_drained, l) == 0) {
		control_each_follower(l->control, LBLD_TAG_WAIT, req_follower_done, &n);
		control_each_follower(l->control, LBLD_TAG_WAIT_FOLLOW, req_follower_done, &n);
	}
	notify_status(line);
}

/* How a batch ended whose end the record then lost: the --wait answer says both. */
static void
req_follower_lost(void *arg, struct control_client *c)
{
	const struct req_notify *n = arg;
	const struct run_status *st = n->status;

	control_finish(c, 1, "batch %lld %s, but its end is not on record: %s",
	    (long long)st->batch_id, st->batch_state ? st->batch_state : "ended", n->line);
}

/*
 * The writes held when a batch ended are on record now, or lost: the
 * status is told again (its record line has changed), and the --wait
 * followers are answered.
 */
static void
req_record_drained(void *arg, int ok, const char *why)
{
	struct lbld *l = arg;
	struct run_status st;
	struct req_notify n;

	run_status(l->run, &st);
	if (!ok && st.state == RUN_IDLE && l->control != NULL) {
		n.status = &st;
		n.line = why;
		control_each_follower(l->control, LBLD_TAG_WAIT, req_follower_lost, &n);
		control_each_follower(l->control, LBLD_TAG_WAIT_FOLLOW, req_follower_lost, &n);
	}
	lbld_notify(l, &st);
}

void
lbld_event_told(void *arg, const struct db_event *e)
{
	struct lbld *l = arg;
	struct req_notify n = { 0 };
	struct json j;

	if (l->control == NULL)
		return;
	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "event");
	json_object_begin(&j);
	json_key(&j, "batch");
	if (e->batch_id > 0)
		json_int(&j, e->batch_id);
	else
		json_null(&j);
	json_key(&j, "at");
	json_string(&j, e->at);
	json_key(&j, "kind");
	json_string(&j, e->kind);
	json_key(&j, "device");
	json_string(&j, e->device);
	json_key(&j, "message");
	json_string(&j, e->message);
	json_object_end(&j);
	json_object_end(&j);
	if (json_text(&j) != NULL) {
		n.line = json_text(&j);
		control_each_follower(l->control, LBLD_TAG_EVENTS, req_follower_line, &n);
	} else {
		log_warnx("status --events: out of memory for event %lld's JSON line",
		    (long long)e->id);
	}
	json_free(&j);
	req_bridge_status(l, NULL);
}

/* ---- recipes ---- */

/*
 * Validates recipe text against the loaded rig and plans it. On errors
 * every diagnostic goes to the client and the request fails with 2.
 */
static int
req_validate(struct lbld *l, struct control_client *c, const char *name, const char *text,
    size_t len, struct recipe **recipe, struct plan **plan)
{
	struct diag d;
	char *rendered, *line, *save;

	*recipe = NULL;
	*plan = NULL;
	diag_init(&d, name);
	if (recipe_load_buffer(name, text, len, l->rig, time(NULL), &d, recipe) == 0)
		plan_build(*recipe, l->rig, time(NULL), &d, plan);
	rendered = diag_render(&d);
	for (line = rendered ? strtok_r(rendered, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save))
		control_err(c, "%s", line);
	free(rendered);
	if (*plan == NULL) {
		control_finish(c, 2, "%s is not valid for rig %s (%d error%s)", name, l->rig->name,
		    d.errors, d.errors == 1 ? "" : "s");
		recipe_free(*recipe);
		*recipe = NULL;
		diag_free(&d);
		return -1;
	}
	diag_free(&d);
	return 0;
}

/* Context lines around each change in a recipe diff, as diff -u. */
#define REQ_DIFF_CONTEXT	3

static void
req_diff_line(void *arg, const char *line)
{
	control_out(arg, "%s", line);
}

/*
 * Prints a unified diff of two recipe texts to the client. Returns 0, or -1
 * when it failed (answered: out of memory).
 */
static int
req_diff(struct control_client *c, const char *a, const char *name_a, const char *b,
    const char *name_b)
{
	if (textdiff(a, name_a, b, name_b, REQ_DIFF_CONTEXT, req_diff_line, c) == -1) {
		control_finish(c, 1, "out of memory comparing %s and %s", name_a, name_b);
		return -1;
	}
	return 0;
}

/*
 * Stores recipe text: one text per name and version. A different text
 * under a stored name and version is refused (exit 1) with a diff of the
 * stored text against the new one; so is the text of a retired version
 * (it is kept for its batches, and not run again). add says what happened
 * to a text that is stored (new, or stored already). Returns the row id, or
 * -1 when answered.
 */
static int64_t
req_store(struct lbld *l, struct control_client *c, const struct recipe *r, const char *text,
    size_t len, int add)
{
	char name_a[300], name_b[300];
	struct db_recipe row;
	int64_t id;
	int rc;

	rc = db_recipe_add(l->db, r->name, r->version, text, len, &id);
	if (rc == -1) {
		control_finish(c, 1, "the database could not store recipe %s: %s", r->name,
		    db_error(l->db));
		return -1;
	}
	if (db_recipe_get(l->db, id, &row) != 0) {
		control_finish(c, 1, "the stored recipe %s@%s could not be read back: %s", r->name,
		    r->version, db_error(l->db));
		return -1;
	}
	if (rc == 2) {
		snprintf(name_a, sizeof(name_a), "%s@%s (stored, sha256 %.12s)", row.name,
		    row.version, row.sha256);
		snprintf(name_b, sizeof(name_b), "%s@%s (new)", r->name, r->version);
		if (req_diff(c, row.yaml, name_a, text, name_b) == 0)
			control_finish(c, 1, "recipe %s version %s is stored with a different text "
			    "(the differences above): give the changed recipe a new version "
			    "(version: in the file)", r->name, r->version);
		db_recipe_row_free(&row);
		return -1;
	}
	if (row.retired_at != NULL) {
		control_finish(c, 1, "recipe %s@%s was retired on %s ('lblctl recipe rm'): it is "
		    "kept for its batches and not run again; give it a new version to use it",
		    row.name, row.version, row.retired_at);
		db_recipe_row_free(&row);
		return -1;
	}
	if (add && rc == 1)
		control_out(c, "%s@%s is stored already with the same text (sha256 %.12s): "
		    "nothing changed", row.name, row.version, row.sha256);
	else if (add)
		control_out(c, "stored %s@%s (sha256 %.12s)", row.name, row.version, row.sha256);
	db_recipe_row_free(&row);
	return id;
}

static int
req_recipe_row(void *arg, const struct db_recipe *row)
{
	char retired[40];

	snprintf(retired, sizeof(retired), "%s", row->retired_at ? row->retired_at : "-");
	/* padded by display width: a name with "ë" or "–" keeps the columns */
	control_out(arg, "%s%*s %s%*s %.12s  %7d  %-24s  %s", row->name, text_pad(row->name, 24),
	    "", row->version, text_pad(row->version, 10), "", row->sha256, row->batches,
	    row->added_at, retired);
	return 0;
}

static void
req_recipe_list(struct lbld *l, struct control_client *c)
{
	control_out(c, "%-24s %-10s %-12s  %7s  %-24s  %s", "NAME", "VERSION", "SHA256",
	    "BATCHES", "ADDED (UTC)", "RETIRED (UTC)");
	if (db_recipe_list(l->db, req_recipe_row, c) == -1)
		control_finish(c, 1, "the database could not list recipes: %s", db_error(l->db));
	else
		control_finish(c, 0, " ");
}

/*
 * NAME[@VERSION] (or a sha256 prefix) to a stored recipe; -1 when answered
 * with an error. With runnable set, a retired version is refused: NAME
 * alone finds the newest version not retired, and says so when every one
 * is.
 */
static int
req_find_recipe(struct lbld *l, struct control_client *c, const char *key,
    struct db_recipe *row, int runnable)
{
	char name[256], *at;
	int rc;

	snprintf(name, sizeof(name), "%s", key);
	at = strchr(name, '@');
	if (at != NULL)
		*at++ = '\0';
	rc = db_recipe_find(l->db, name, at, row);
	if (rc == 1)
		control_finish(c, 2, "no stored recipe %s (see 'lblctl recipe list')", key);
	else if (rc == -1)
		control_finish(c, 1, "the database could not look up recipe %s: %s", key,
		    db_error(l->db));
	if (rc != 0)
		return -1;
	if (runnable && row->retired_at != NULL) {
		if (at == NULL && strcmp(row->name, name) == 0)
			control_finish(c, 1, "every version of recipe %s is retired (the newest, %s, "
			    "on %s): nothing to run; 'lblctl recipe add' a new version", name,
			    row->version, row->retired_at);
		else
			control_finish(c, 1, "recipe %s@%s was retired on %s: it is kept for its "
			    "batches and not run again (see 'lblctl recipe list')", row->name,
			    row->version, row->retired_at);
		db_recipe_row_free(row);
		return -1;
	}
	return 0;
}

/* recipe rm NAME@VERSION: retires that version (operators only, see req_roles). */
static void
req_recipe_rm(struct lbld *l, struct control_client *c, const char *key)
{
	char name[256], *at;
	int rc;

	snprintf(name, sizeof(name), "%s", key);
	at = strchr(name, '@');
	if (at == NULL || at == name || at[1] == '\0') {
		control_finish(c, 2, "recipe rm: expected NAME@VERSION, not '%s' (a version is "
		    "retired, not every one at once)", key);
		return;
	}
	*at++ = '\0';
	rc = db_recipe_retire(l->db, name, at);
	if (rc == -1)
		control_finish(c, 1, "the database could not retire recipe %s: %s", key,
		    db_error(l->db));
	else if (rc == 1)
		control_finish(c, 2, "no stored recipe %s (see 'lblctl recipe list')", key);
	else {
		if (rc == 2)
			control_out(c, "recipe %s was retired already: nothing changed", key);
		else
			control_out(c, "recipe %s retired: kept for the batches that ran it, no "
			    "longer run", key);
		control_finish(c, 0, " ");
	}
}

/*
 * recipe diff A B: a unified diff of two stored recipes (NAME@VERSION or a
 * sha256 prefix), or of a stored one against a file (its text the payload).
 * Exit 0 whether or not they differ; "identical" said when they do not.
 */
static void
req_recipe_diff(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	struct db_recipe a, b;
	char name_a[300], name_b[300];
	const char *text_b;
	int n;

	if (req_find_recipe(l, c, req->argv[2], &a, 0) == -1)
		return;
	snprintf(name_a, sizeof(name_a), "%s@%s (sha256 %.12s)", a.name, a.version, a.sha256);
	memset(&b, 0, sizeof(b));
	if (req->payload != NULL) {
		snprintf(name_b, sizeof(name_b), "%s", req->argv[3]);
		text_b = req->payload;
	} else {
		if (req_find_recipe(l, c, req->argv[3], &b, 0) == -1) {
			db_recipe_row_free(&a);
			return;
		}
		snprintf(name_b, sizeof(name_b), "%s@%s (sha256 %.12s)", b.name, b.version,
		    b.sha256);
		text_b = b.yaml;
	}
	n = textdiff(a.yaml, name_a, text_b, name_b, REQ_DIFF_CONTEXT, req_diff_line, c);
	if (n == -1)
		control_finish(c, 1, "out of memory comparing %s and %s", name_a, name_b);
	else {
		if (n == 0)
			control_out(c, "%s and %s are identical", req->argv[2], req->argv[3]);
		control_finish(c, 0, " ");
	}
	db_recipe_row_free(&a);
	db_recipe_row_free(&b);
}

#define REQ_RECIPE_USAGE "usage: recipe add FILE | recipe list | recipe show NAME[@VERSION] | " \
	"recipe rm NAME@VERSION | recipe diff NAME@VERSION NAME@VERSION|FILE"

static void
req_recipe(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	struct recipe *recipe;
	struct plan *plan;
	struct db_recipe row;

	if (req->argc >= 2 && strcmp(req->argv[1], "add") == 0) {
		if (req->payload == NULL || req->argc != 4) {
			control_finish(c, 2, "usage: recipe add FILE");
			return;
		}
		if (req_validate(l, c, req->argv[2], req->payload, req->payload_len, &recipe,
		    &plan) == -1)
			return;
		if (req_store(l, c, recipe, req->payload, req->payload_len, 1) != -1)
			control_finish(c, 0, " ");
		plan_free(plan);
		recipe_free(recipe);
		return;
	}
	if (req->argc == 2 && strcmp(req->argv[1], "list") == 0) {
		req_recipe_list(l, c);
		return;
	}
	if (req->argc == 3 && strcmp(req->argv[1], "show") == 0) {
		if (req_find_recipe(l, c, req->argv[2], &row, 0) == -1)
			return;
		control_out(c, "# %s@%s sha256 %s stored %s%s%s", row.name, row.version, row.sha256,
		    row.added_at, row.retired_at ? ", retired " : "",
		    row.retired_at ? row.retired_at : "");
		control_out_text(c, row.yaml);
		db_recipe_row_free(&row);
		control_finish(c, 0, " ");
		return;
	}
	if (req->argc == 3 && strcmp(req->argv[1], "rm") == 0) {
		req_recipe_rm(l, c, req->argv[2]);
		return;
	}
	/* diff A B, or diff A FILE with the file's size after it */
	if (req->argc >= 2 && strcmp(req->argv[1], "diff") == 0 &&
	    req->argc == (req->payload != NULL ? 5 : 4)) {
		req_recipe_diff(l, c, req);
		return;
	}
	control_finish(c, 2, REQ_RECIPE_USAGE);
}

/* ---- runs ---- */

/*
 * The texts a batch is recorded with must be stored whole: one longer than
 * its limit (lbl_limits.h, lblctl(1)) is refused here, before anything is
 * changed, with the limit named. Returns 0, or -1 (answered, status 2).
 */
static int
req_run_texts(struct control_client *c, const struct req_args *a)
{
	const struct {
		const char *option, *value;
		size_t max;
	} texts[] = {
		{ "--substrate", a->substrate, BATCH_MAX_SUBSTRATE_BYTES },
		{ "--operator", a->operator_name, BATCH_MAX_OPERATOR_BYTES },
		{ "--note", a->note, BATCH_MAX_NOTE_BYTES },
	};
	size_t i, len;
	int k;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		if (texts[i].value != NULL && (len = strlen(texts[i].value)) > texts[i].max) {
			control_finish(c, 2, "run %s: %zu bytes, longer than its limit of %zu bytes "
			    "(UTF-8): the record keeps it whole, so give it shorter", texts[i].option,
			    len, texts[i].max);
			return -1;
		}
	}
	for (k = 0; k < a->lot_count; k++) {
		const char *lot = strchr(a->lots[k], '=') + 1;
		if ((len = strlen(a->lots[k])) > BATCH_MAX_LOT_WORD_BYTES) {
			control_finish(c, 2, "run --lot: SOLUTION=LOT %d is %zu bytes, longer than its "
			    "limit of %d bytes (UTF-8)", k + 1, len, BATCH_MAX_LOT_WORD_BYTES);
			return -1;
		}
		if ((len = strlen(lot)) > BATCH_MAX_LOT_BYTES) {
			control_finish(c, 2, "run --lot %.*s=...: the lot is %zu bytes, longer than "
			    "its limit of %d bytes (UTF-8)", (int)(lot - 1 - a->lots[k]), a->lots[k],
			    len, BATCH_MAX_LOT_BYTES);
			return -1;
		}
	}
	return 0;
}

/* A copy of a request, in one allocation, to answer later; NULL when out of memory. */
static struct control_request *
req_copy(const struct control_request *req)
{
	struct control_request *copy;
	size_t size = sizeof(*copy) + (size_t)(req->argc + 1) * sizeof(char *), at;
	char *p;
	int i;

	for (i = 0; i < req->argc; i++)
		size += strlen(req->argv[i]) + 1;
	if (req->payload != NULL)
		size += req->payload_len + 1;
	if ((copy = malloc(size)) == NULL)
		return NULL;
	copy->argc = req->argc;
	copy->argv = (char **)(copy + 1);
	p = (char *)(copy->argv + req->argc + 1);
	for (i = 0, at = 0; i < req->argc; i++) {
		copy->argv[i] = strcpy(p + at, req->argv[i]);
		at += strlen(req->argv[i]) + 1;
	}
	copy->argv[req->argc] = NULL;
	copy->payload = NULL;
	copy->payload_len = req->payload_len;
	if (req->payload != NULL) {
		memcpy(p + at, req->payload, req->payload_len);
		p[at + req->payload_len] = '\0';
		copy->payload = p + at;
	}
	return copy;
}

static void req_run(struct lbld *l, struct control_client *c, const struct control_request *req);
static void req_resume_batch(struct lbld *l, struct control_client *c,
    const struct control_request *req);

/*
 * Before a batch starts, every axis the rig homes must be homed. Returns 0
 * when they are. Otherwise the request is answered and -1 returned: when
 * the axes still unhomed are all ones lbld homes before the first batch
 * and it has not tried yet, homing starts and the request (a copy) is run
 * again when it ends (lbld_homed); else it is refused, naming the axes
 * and 'lblctl home'.
 */
static int
req_home_check(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	const char **names;
	char why[600], err[300];
	size_t i, n = 0;
	int first, rc;

	if (home_check_batch(l->home, &first, why, sizeof(why)) == 0)
		return 0;
	if (home_busy(l->home)) {
		control_finish(c, 1, "%s: homing is under way ('lblctl status' shows it); run "
		    "again once homed", req->argv[0]);
		return -1;
	}
	if (!first || strcmp(req->argv[0], "run") != 0) {
		control_finish(c, 1, "%s refused: %s", req->argv[0], why);
		return -1;
	}
	free(l->home_run);
	names = calloc(l->rig->device_count + 1, sizeof(*names));
	if (names == NULL || (l->home_run = req_copy(req)) == NULL) {
		free(names);
		control_finish(c, 1, "%s: out of memory", req->argv[0]);
		return -1;
	}
	why[0] = '\0';
	for (i = 0; i < l->rig->device_count; i++) {
		if (home_homed(l->home, (int)i) != 0)
			continue;
		names[n++] = l->rig->devices[i].name;
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s'%s'", n > 1 ? ", " : "",
		    l->rig->devices[i].name);
	}
	home_first_batch_tried(l->home);
	rc = home_start(l->home, l->act, names, n, lbld_homed, l, err, sizeof(err));
	free(names);
	if (rc == -1) {
		free(l->home_run);
		l->home_run = NULL;
		control_finish(c, 1, "run refused: homing before the first batch: %s", err);
		return -1;
	}
	control_out(c, "homing %s before the first batch (home: first-batch); the batch "
	    "starts once %s homed", why, n > 1 ? "they are" : "it is");
	control_follow(c, LBLD_TAG_HOME_RUN);
	return -1;
}

/* How homing ended, for its followers: error NULL when every axis homed. */
struct req_homed {
	struct lbld *l;
	const char *error;
};

/* The first batch's homing ended: its run goes on, or is refused with why. */
static void
req_home_run_done(void *arg, struct control_client *c)
{
	const struct req_homed *h = arg;

	if (h->error == NULL && h->l->home_run != NULL) {
		req_run(h->l, c, h->l->home_run);
		return;
	}
	control_finish(c, 1, "run refused: homing before the first batch failed: %s",
	    h->error ? h->error : "the request was lost");
}

static void
req_home_done(void *arg, struct control_client *c)
{
	const char *error = ((const struct req_homed *)arg)->error;

	if (error == NULL)
		control_finish(c, 0, "homed");
	else
		control_finish(c, 1, "homing failed: %s", error);
}

void
lbld_homed(void *arg, int ok, const char *error)
{
	struct lbld *l = arg;
	struct req_homed h = { l, ok ? NULL : error ? error : "?" };

	if (l->control != NULL) {
		control_each_follower(l->control, LBLD_TAG_HOME, req_home_done, &h);
		control_each_follower(l->control, LBLD_TAG_HOME_RUN, req_home_run_done, &h);
		req_bridge_status(l, NULL);
	}
	free(l->home_run);
	l->home_run = NULL;
}

/*
 * home [AXIS...]: homes the named axes, or every axis the rig homes, and
 * answers when they are homed or homing failed. Refused while a batch runs
 * or the rig goes to its safe state, and while a safety input is active.
 */
static void
req_home(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	char err[300];

	if (run_busy(l->run)) {
		control_finish(c, 1, "home refused: a batch is running or the rig is going to "
		    "its safe state ('lblctl status'); home when idle");
		return;
	}
	if (home_start(l->home, l->act, (const char *const *)req->argv + 1,
	    (size_t)(req->argc - 1), lbld_homed, l, err, sizeof(err)) == -1) {
		control_finish(c, 1, "home refused: %s", err);
		return;
	}
	control_out(c, "homing %s", req->argc > 1 ? "the named axes" : "every axis the rig "
	    "file homes");
	control_follow(c, LBLD_TAG_HOME);
}

/*
 * Pre-flight of a run (daemon/preflight.c): the request (a copy) runs
 * again when every check passed, with req_preflight_passed set so it goes
 * on to start the batch; otherwise it is refused with every failed check.
 */
static int req_preflight_passed;

struct req_preflight {
	struct lbld *l;
	struct control_request *req;
	/* req_run or req_resume_batch: what runs again once every check passed */
	void (*again)(struct lbld *l, struct control_client *c, const struct control_request *req);
	const char *what;		/* "run", "resume-batch": the refusal's first word */
};

static void
req_preflight_run_done(void *arg, struct control_client *c, int ok, const char *report)
{
	struct req_preflight *p = arg;

	if (c != NULL && ok) {
		req_preflight_passed = 1;
		p->again(p->l, c, p->req);
		req_preflight_passed = 0;
	} else if (c != NULL) {
		control_out_text(c, report);
		control_finish(c, 1, "%s refused: pre-flight failed (above); 'lblctl preflight "
		    "RECIPE' runs the same checks", p->what);
	}
	free(p->req);
	free(p);
}

/*
 * Starts the pre-flight of req (a run or a resume-batch) for recipe and
 * plan, which the caller still frees; the answer to c is the refusal, or
 * again(req) once every check passed.
 */
static void
req_preflight_run(struct lbld *l, struct control_client *c, const struct control_request *req,
    const struct recipe *recipe, const struct plan *plan,
    void (*again)(struct lbld *, struct control_client *, const struct control_request *),
    const char *what)
{
	struct req_preflight *p;
	char err[300];

	if ((p = calloc(1, sizeof(*p))) == NULL || (p->req = req_copy(req)) == NULL) {
		free(p);
		control_finish(c, 1, "%s refused: pre-flight: out of memory", what);
		return;
	}
	p->l = l;
	p->again = again;
	p->what = what;
	if (preflight_start(l, recipe, plan, c, req_preflight_run_done, p, err, sizeof(err)) ==
	    -1) {
		control_finish(c, 1, "%s refused: pre-flight: %s", what, err);
		free(p->req);
		free(p);
	}
}

/* preflight RECIPE|NAME[@VERSION]: the run's checks, on demand; nothing starts. */
static void
req_preflight(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	struct db_recipe row;
	struct recipe *recipe;
	struct plan *plan;
	int rc;

	/* a recipe file's text comes as the payload, its size the word after the name */
	if (req->argc - (req->payload != NULL) != 2 || req->argv[1][0] == '-') {
		control_finish(c, 2, "usage: preflight RECIPE|NAME[@VERSION]");
		return;
	}
	if (req->payload != NULL) {
		if (req_validate(l, c, req->argv[1], req->payload, req->payload_len, &recipe,
		    &plan) == -1)
			return;
	} else {
		memset(&row, 0, sizeof(row));
		if (req_find_recipe(l, c, req->argv[1], &row, 1) == -1)
			return;
		rc = req_validate(l, c, row.name, row.yaml, row.yaml_len, &recipe, &plan);
		db_recipe_row_free(&row);
		if (rc == -1)
			return;
	}
	preflight_request(l, c, recipe, plan);
}

static void
req_run(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	static const char *const allowed[] = { "substrate", "operator", "note", "lot", "wait",
		"follow", NULL };
	struct run_options o;
	struct req_args a;
	struct db_recipe row;
	struct recipe *recipe;
	struct plan *plan;
	int64_t recipe_id, batch_id;
	char err[300];
	int i;

	if (req_parse(c, req, 1, &a, allowed) == -1)
		return;
	if (req->argc < 2 || req->argv[1][0] == '-') {
		control_finish(c, 2, "usage: run RECIPE|NAME[@VERSION] [--substrate ID] "
		    "[--operator NAME] [--note TEXT] [--lot SOLUTION=LOT]... [--wait]");
		return;
	}
	if (req_run_texts(c, &a) == -1)
		return;
	if (calibrate_busy()) {
		control_finish(c, 1, "run refused: a pump is being calibrated ('lblctl calibrate'); "
		    "run once it is off");
		return;
	}
	if (run_busy(l->run)) {
		struct run_status st;
		run_status(l->run, &st);
		control_finish(c, 1, "batch %lld is %s: one run at a time (lblctl status)%s%s",
		    (long long)st.batch_id, run_state_names[st.state], st.waiting[0] ?
		    "; the rig is going to its safe state, waiting for " : "", st.waiting);
		return;
	}
	memset(&row, 0, sizeof(row));
	if (req->payload != NULL) {
		/* a file: validated against the loaded rig and stored first */
		if (req_validate(l, c, req->argv[1], req->payload, req->payload_len, &recipe,
		    &plan) == -1)
			return;
		if ((recipe_id = req_store(l, c, recipe, req->payload, req->payload_len, 0)) == -1) {
			plan_free(plan);
			recipe_free(recipe);
			return;
		}
	} else {
		if (req_find_recipe(l, c, req->argv[1], &row, 1) == -1)
			return;
		if (req_validate(l, c, row.name, row.yaml, row.yaml_len, &recipe, &plan) == -1) {
			db_recipe_row_free(&row);
			return;
		}
		recipe_id = row.id;
		db_recipe_row_free(&row);
	}
	for (i = 0; i < a.lot_count; i++) {
		size_t n = strcspn(a.lots[i], "=");
		char name[BATCH_MAX_LOT_WORD_BYTES + 1];	/* the word's length was checked */
		snprintf(name, sizeof(name), "%.*s", (int)n, a.lots[i]);
		if (recipe_solution_index(recipe, name) == -1) {
			control_finish(c, 2, "--lot %s: the recipe has no solution '%s'", a.lots[i],
			    name);
			plan_free(plan);
			recipe_free(recipe);
			return;
		}
	}
	if (req_home_check(l, c, req) == -1) {
		plan_free(plan);
		recipe_free(recipe);
		return;
	}
	/* pre-flight before the first action: the request runs again once it passed */
	if (!req_preflight_passed) {
		req_preflight_run(l, c, req, recipe, plan, req_run, "run");
		plan_free(plan);
		recipe_free(recipe);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.substrate = a.substrate;
	o.operator_name = a.operator_name;
	o.note = a.note;
	o.lot_count = a.lot_count;
	for (i = 0; i < a.lot_count; i++)
		o.lots[i] = a.lots[i];
	if (run_start(l->run, recipe, plan, recipe_id, &o, &batch_id, err, sizeof(err)) == -1) {
		control_finish(c, 1, "%s", err);
		plan_free(plan);
		recipe_free(recipe);
		return;
	}
	control_out(c, "batch %lld started: %s version %s, %d %s", (long long)batch_id,
	    recipe->name, recipe->version, plan->bilayers,
	    text_plural(plan->bilayers, "bilayer", "bilayers"));
	if (!a.wait) {
		control_finish(c, 0, " ");
		return;
	}
	/* --wait: answered when the batch ends; --follow streams progress meanwhile */
	control_follow(c, a.follow ? LBLD_TAG_WAIT_FOLLOW : LBLD_TAG_WAIT);
	req_wait_begins(l, c);
}

/* Milliseconds since a UTC stamp of the record ("2026-01-31T14:05:09.123Z"); -1 if unreadable. */
static int64_t
req_age_ms(const char *utc)
{
	struct timespec now;
	struct tm tm;
	const char *rest;
	int ms = 0;

	memset(&tm, 0, sizeof(tm));
	if (utc == NULL || (rest = strptime(utc, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (rest[0] == '.')
		ms = atoi(rest + 1);
	clock_gettime(CLOCK_REALTIME, &now);
	return ((int64_t)now.tv_sec - (int64_t)timegm(&tm)) * 1000 + now.tv_nsec / 1000000 - ms;
}

/* A device's name in rig r, or NULL for -1. */
static const char *
req_dev(const struct rig *r, int i)
{
	return i >= 0 ? r->devices[i].name : NULL;
}

static int
req_same_name(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * Whether the rig as loaded (now) differs from the rig the batch ran with
 * (was) in anything a resumed batch relies on: the motion axes and safe
 * height, a station's position, depth and pumps, a device's bus, unit,
 * profile and limits. 0 when not, 1 when it does (why names the first
 * difference).
 */
static int
req_rig_differs(const struct rig *was, const struct rig *now, char *why, size_t size)
{
	size_t i, k;

	if (!req_same_name(req_dev(was, was->lift), req_dev(now, now->lift)) ||
	    !req_same_name(req_dev(was, was->transfer), req_dev(now, now->transfer)) ||
	    (now->lift >= 0 && was->safe_z_mm != now->safe_z_mm)) {
		snprintf(why, size, "the motion (lift, transfer or safe_z) changed");
		return 1;
	}
	for (i = 0; i < now->station_count; i++) {
		const struct rig_station *b = &now->stations[i];
		for (k = 0; k < was->station_count && strcmp(was->stations[k].name, b->name); k++)
			;
		if (k == was->station_count) {
			snprintf(why, size, "station '%s' is new", b->name);
			return 1;
		}
		const struct rig_station *a = &was->stations[k];
		if (a->x_mm != b->x_mm || !(a->surface_z_mm == b->surface_z_mm ||
		    (isnan(a->surface_z_mm) && isnan(b->surface_z_mm))) ||
		    a->max_depth_mm != b->max_depth_mm ||
		    !req_same_name(req_dev(was, a->stirrer), req_dev(now, b->stirrer)) ||
		    !req_same_name(req_dev(was, a->fill_pump), req_dev(now, b->fill_pump)) ||
		    !req_same_name(req_dev(was, a->drain_pump), req_dev(now, b->drain_pump))) {
			snprintf(why, size, "station '%s' changed (position %.1f -> %.1f mm, "
			    "surface %.1f -> %.1f mm, or its depth or pumps)", b->name, a->x_mm,
			    b->x_mm, a->surface_z_mm, b->surface_z_mm);
			return 1;
		}
	}
	for (i = 0; i < now->device_count; i++) {
		const struct rig_device *b = &now->devices[i];
		for (k = 0; k < was->device_count && strcmp(was->devices[k].name, b->name); k++)
			;
		if (k == was->device_count) {
			snprintf(why, size, "device '%s' is new", b->name);
			return 1;
		}
		const struct rig_device *a = &was->devices[k];
		if (a->role != b->role || a->unit != b->unit || (a->bus < 0) != (b->bus < 0) ||
		    (a->bus >= 0 && strcmp(was->buses[a->bus].name, now->buses[b->bus].name)) ||
		    !req_same_name(a->profile, b->profile) ||
		    a->travel_min_mm != b->travel_min_mm || a->travel_max_mm != b->travel_max_mm ||
		    a->max_speed_mm_s != b->max_speed_mm_s ||
		    a->max_accel_mm_s2 != b->max_accel_mm_s2 ||
		    a->max_flow_ml_min != b->max_flow_ml_min) {
			snprintf(why, size, "device '%s' changed (its bus, unit, profile or limits)",
			    b->name);
			return 1;
		}
	}
	return 0;
}

/*
 * resume-batch: the rig file must be the one the batch ran with, or differ
 * in nothing it relies on, unless the operator accepts the change (which
 * is then an event). Returns 0 to go on, -1 when answered.
 */
static int
req_resume_rig(struct lbld *l, struct control_client *c, int64_t batch_id, int64_t rig_id,
    int accept)
{
	struct db_recipe row;
	struct rig *was = NULL;
	struct diag d;
	char why[300], message[400];
	int differs;

	if (rig_id == l->rig_id)
		return 0;		/* the very same text */
	if (db_rig_get(l->db, rig_id, &row) != 0) {
		control_finish(c, 1, "the rig file batch %lld ran with is missing from the record",
		    (long long)batch_id);
		return -1;
	}
	diag_init(&d, "the batch's rig file");
	if (rig_load_buffer("the batch's rig file", row.yaml, row.yaml_len, &d, &was) != 0) {
		snprintf(why, sizeof(why), "the rig file it ran with no longer loads");
		differs = 1;
	} else {
		differs = req_rig_differs(was, l->rig, why, sizeof(why));
	}
	rig_free(was);
	diag_free(&d);
	db_recipe_row_free(&row);
	if (!differs)
		return 0;
	if (!accept) {
		control_finish(c, 1, "batch %lld ran with another rig file: %s; 'lblctl "
		    "resume-batch %lld --accept-rig-change' goes on with the rig as it is now",
		    (long long)batch_id, why, (long long)batch_id);
		return -1;
	}
	/* recorded once, as the batch resumes: not on the pass before its pre-flight */
	if (!req_preflight_passed)
		return 0;
	snprintf(message, sizeof(message), "resumed with a changed rig file (accepted by the "
	    "operator): %s", why);
	if (record_event(l->record, batch_id, "operator", NULL, message) == -1) {
		control_finish(c, 1, "the database could not record the accepted rig change");
		return -1;
	}
	return 0;
}

static void
req_resume_batch(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	static const char *const allowed[] = { "wait", "follow", "accept-rig-change", NULL };
	struct db_batch b;
	struct db_recipe row;
	struct recipe *recipe;
	struct plan *plan;
	struct req_args a;
	char *end, err[300], why[200];
	int64_t id;
	int64_t age_ms;
	int last;

	if (req_parse(c, req, 1, &a, allowed) == -1)
		return;
	id = req->argc > 1 ? strtoll(req->argv[1], &end, 10) : 0;
	if (req->argc < 2 || *end != '\0' || id <= 0) {
		control_finish(c, 2, "usage: resume-batch ID [--wait]");
		return;
	}
	if (run_busy(l->run)) {
		control_finish(c, 1, "a batch is running: one run at a time");
		return;
	}
	if (calibrate_busy()) {
		control_finish(c, 1, "resume-batch refused: a pump is being calibrated ('lblctl "
		    "calibrate'); resume once it is off");
		return;
	}
	if (db_batch_get(l->db, id, &b) != 0) {
		control_finish(c, 2, "no batch %lld", (long long)id);
		return;
	}
	if (strcmp(b.state, "interrupted") != 0) {
		control_finish(c, 2, "batch %lld is %s, not interrupted: only an interrupted batch "
		    "can be resumed", (long long)id, b.state);
		db_batch_row_free(&b);
		return;
	}
	if (db_batch_verify_steps(l->db, id, why, sizeof(why)) != 0) {
		control_finish(c, 1, "batch %lld cannot be resumed safely: %s", (long long)id, why);
		db_batch_row_free(&b);
		return;
	}
	last = b.last_step_seq;
	if (db_recipe_get(l->db, b.recipe_id, &row) != 0) {
		control_finish(c, 1, "the recipe of batch %lld is missing", (long long)id);
		db_batch_row_free(&b);
		return;
	}
	if (req_resume_rig(l, c, id, b.rig_id, a.accept_rig_change) == -1) {
		db_recipe_row_free(&row);
		db_batch_row_free(&b);
		return;
	}
	if (req_validate(l, c, row.name, row.yaml, row.yaml_len, &recipe, &plan) == -1) {
		db_recipe_row_free(&row);
		db_batch_row_free(&b);
		return;
	}
	db_recipe_row_free(&row);
	/*
	 * The window counts from when the batch was marked interrupted (a stop,
	 * or the start-up after a crash), in recipe time: a simulated batch's
	 * time scale shortens it as it shortens every step.
	 */
	age_ms = req_age_ms(b.ended_at);
	if (age_ms > 0 && b.time_scale > 1)
		age_ms = (int64_t)(age_ms * b.time_scale);
	if (recipe->resume_within_ms > 0 && (age_ms < 0 || age_ms > recipe->resume_within_ms)) {
		char age[32], within[32];
		units_format_duration(age_ms > 0 ? age_ms : 0, age, sizeof(age));
		units_format_duration(recipe->resume_within_ms, within, sizeof(within));
		control_finish(c, 1, "batch %lld was interrupted at %s, %s ago: its recipe allows "
		    "resuming within %s only (resume: within)", (long long)id,
		    b.ended_at ? b.ended_at : "an unknown time", age_ms < 0 ? "an unknown time" : age,
		    within);
		db_batch_row_free(&b);
		plan_free(plan);
		recipe_free(recipe);
		return;
	}
	db_batch_row_free(&b);
	if (req_home_check(l, c, req) == -1) {
		plan_free(plan);
		recipe_free(recipe);
		return;
	}
	/*
	 * The same pre-flight as a start (the whole plan's devices and bath
	 * draws: what a resumed batch may still use), then this request
	 * again, which finds everything as it was or refuses afresh.
	 */
	if (!req_preflight_passed) {
		req_preflight_run(l, c, req, recipe, plan, req_resume_batch, "resume-batch");
		plan_free(plan);
		recipe_free(recipe);
		return;
	}
	if (run_resume_batch(l->run, id, recipe, plan, last, err, sizeof(err)) == -1) {
		control_finish(c, 1, "%s", err);
		plan_free(plan);
		recipe_free(recipe);
		return;
	}
	control_out(c, "batch %lld resumed after step %d", (long long)id, last);
	if (!a.wait) {
		control_finish(c, 0, " ");
		return;
	}
	control_follow(c, a.follow ? LBLD_TAG_WAIT_FOLLOW : LBLD_TAG_WAIT);
	req_wait_begins(l, c);
}

/*
 * plan NAME[@VERSION] [--json]: the stored recipe's plan against the rig
 * lbld runs. The words are checked here and handed to the reader thread
 * with the loaded rig's row (daemon/planreq.c), so a long plan is made
 * there, not in the loop.
 */
static void
req_plan(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	char rig_id[24];
	const char *argv[5];
	struct control_request fwd = { 0, (char **)argv, NULL, 0 };

	if ((req->argc != 2 && req->argc != 3) || req->argv[1][0] == '-' ||
	    req->argv[1][0] == '\0' || (req->argc == 3 && strcmp(req->argv[2], "--json") != 0)) {
		control_finish(c, 2, "usage: plan NAME[@VERSION] [--json] (a stored recipe; "
		    "'lblctl plan FILE' plans a file)");
		return;
	}
	snprintf(rig_id, sizeof(rig_id), "%lld", (long long)l->rig_id);
	argv[fwd.argc++] = "plan";
	argv[fwd.argc++] = "--rig-id";
	argv[fwd.argc++] = rig_id;
	argv[fwd.argc++] = req->argv[1];
	if (req->argc == 3)
		argv[fwd.argc++] = "--json";
	reader_submit(l->reader, c, &fwd);
}

/* pause, resume, continue, abort */
static void
req_operator(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	static const char *const pause_opts[] = { "now", "operator", NULL };
	static const char *const others[] = { "operator", NULL };
	const char *cmd = req->argv[0];
	struct req_args a;
	char err[300], who[BATCH_MAX_OPERATOR_BYTES + 64], *by = NULL;
	int rc;

	if (req_parse(c, req, 1, &a, strcmp(cmd, "pause") == 0 ? pause_opts : others) == -1)
		return;
	/*
	 * --operator NAME: a client acting for someone (lbl-web for its logged-in
	 * user) names them; the record keeps the uid that asked beside the name.
	 */
	if (a.operator_name != NULL) {
		if (a.operator_name[0] == '\0' ||
		    strlen(a.operator_name) >= BATCH_MAX_OPERATOR_BYTES) {
			control_finish(c, 2, "%s: --operator: expected a name of 1 to %d bytes", cmd,
			    BATCH_MAX_OPERATOR_BYTES - 1);
			return;
		}
		text_format(who, sizeof(who), "%s (uid %d)", a.operator_name,
		    (int)control_peer_uid(c));
		by = who;
	}
	/*
	 * After manual moves during the pause the lift goes to the safe height
	 * first, whoever resumes (lblctl, or lbl-web for its user): manual.c
	 * answers then.
	 */
	if (strcmp(cmd, "resume") == 0 && manual_resume(l->manual, c, by))
		return;
	if (strcmp(cmd, "pause") == 0)
		rc = run_pause_by(l->run, a.now, by, err, sizeof(err));
	else if (strcmp(cmd, "resume") == 0)
		rc = run_resume_by(l->run, by, err, sizeof(err));
	else if (strcmp(cmd, "continue") == 0)
		rc = run_continue_by(l->run, by, err, sizeof(err));
	else {
		if (by == NULL)
			snprintf(who, sizeof(who), "the operator (uid %d)", (int)control_peer_uid(c));
		else
			text_format(who, sizeof(who), "the operator %s (uid %d)", a.operator_name,
			    (int)control_peer_uid(c));
		rc = run_abort(l->run, who, err, sizeof(err));
	}
	if (rc == -1)
		control_finish(c, 1, "%s", err);
	else
		control_finish(c, 0, " ");
}

/* The operator's name for the record, looked up at accept (control_peer_who()). */
static void
req_who(struct control_client *c, char *who, size_t size)
{
	snprintf(who, size, "%s", control_peer_who(c));
}

/* park: withdraw the substrate to the safe height and park it (idle or paused). */
static void
req_park(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	char err[300], who[96];

	if (req->argc != 1) {
		control_finish(c, 2, "usage: park");
		return;
	}
	if (home_busy(l->home)) {
		control_finish(c, 1, "park refused: homing is under way ('lblctl status'); park "
		    "once it ends");
		return;
	}
	req_who(c, who, sizeof(who));
	if (run_park(l->run, who, err, sizeof(err)) == -1)
		control_finish(c, 1, "park refused: %s", err);
	else {
		control_out(c, "parking: outputs off, lift to the safe height, transfer to park "
		    "('lblctl status' shows where the substrate is)");
		control_finish(c, 0, " ");
	}
}

/* abort-batch ID: closes an interrupted batch for good (it can no longer be resumed). */
static void
req_abort_batch(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	struct db_batch b;
	char *end, who[96], cause[400];
	int64_t id;

	id = req->argc == 2 ? strtoll(req->argv[1], &end, 10) : 0;
	if (req->argc != 2 || *end != '\0' || id <= 0) {
		control_finish(c, 2, "usage: abort-batch ID");
		return;
	}
	if (db_batch_get(l->db, id, &b) != 0) {
		control_finish(c, 2, "no batch %lld", (long long)id);
		return;
	}
	if (strcmp(b.state, "interrupted") != 0) {
		control_finish(c, 2, "batch %lld is %s, not interrupted: abort-batch closes an "
		    "interrupted batch ('lblctl abort' ends the running one)", (long long)id,
		    b.state);
		db_batch_row_free(&b);
		return;
	}
	req_who(c, who, sizeof(who));
	snprintf(cause, sizeof(cause), "closed by %s after it was interrupted (%s)", who,
	    b.failure_cause ? b.failure_cause : "no cause recorded");
	db_batch_row_free(&b);
	if (db_batch_set_state(l->db, id, "aborted", cause) == -1 ||
	    db_event_add(l->db, id, "abort", NULL, cause) == -1) {
		control_finish(c, 1, "the database could not record that batch %lld is closed",
		    (long long)id);
		return;
	}
	run_note_closed(l->run, id, "aborted");
	log_info("batch %lld: %s", (long long)id, cause);
	control_out(c, "batch %lld aborted: it can no longer be resumed", (long long)id);
	control_finish(c, 0, " ");
}

/*
 * Manual control's share of the requests: its own commands; a batch,
 * homing or park refused while a manual move or output holds the rig; an
 * abort that stops them first (a resume after manual moves, which raises
 * the lift first, is req_operator's call of manual_resume). Returns 1 when
 * the request was taken (answered now or later), 0 otherwise.
 */
static int
req_manual_hook(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	static const char *const held[] = { "run", "resume", "continue", "resume-batch", "home",
		"park", "calibrate", "teach", NULL };
	const char *cmd = req->argv[0];
	char why[600];
	size_t i;

	if (manual_is_command(cmd)) {
		/* a calibration's pump run is manual control of its own (calibrate.c) */
		if (strcmp(cmd, "stop") != 0 && calibrate_busy()) {
			control_finish(c, 1, "%s refused: a pump is being calibrated ('lblctl "
			    "calibrate'); once it is off", cmd);
			return 1;
		}
		manual_request(l->manual, c, req);
		return 1;
	}
	if (strcmp(cmd, "abort") == 0 && manual_busy(l->manual, why, sizeof(why))) {
		/*
		 * An abort is never refused: what manual control holds is
		 * stopped here (the safe state switches it off, confirmed) and
		 * the abort's own safe state and park follow.
		 */
		manual_abort(l->manual, "the batch was aborted");
		act_safe_state(l->act, 0);
		return 0;
	}
	for (i = 0; held[i] != NULL && strcmp(held[i], cmd) != 0; i++)
		;
	if (held[i] == NULL)
		return 0;
	if (manual_busy(l->manual, why, sizeof(why))) {
		control_finish(c, 1, "%s refused: %s", cmd, why);
		return 1;
	}
	/* a resume after manual moves is manual_resume's: req_operator asks it, whoever resumes */
	return 0;
}

void
lbld_request(void *arg, struct control_client *c, const struct control_request *req)
{
	struct lbld *l = arg;
	const char *cmd = req->argv[0];

	if (l->stopping && strcmp(cmd, "status") != 0) {
		control_finish(c, 1, "%s: lbld is stopping (the rig is being made safe)", cmd);
		return;
	}
	if (req_allowed(c, req) == -1)
		return;
	if (req_manual_hook(l, c, req))
		return;
	if (strcmp(cmd, "status") == 0)
		req_status(l, c, req);
	else if (strcmp(cmd, "run") == 0)
		req_run(l, c, req);
	else if (strcmp(cmd, "resume-batch") == 0)
		req_resume_batch(l, c, req);
	else if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0 ||
	    strcmp(cmd, "continue") == 0 || strcmp(cmd, "abort") == 0)
		req_operator(l, c, req);
	else if (strcmp(cmd, "recipe") == 0)
		req_recipe(l, c, req);
	else if (strcmp(cmd, "plan") == 0)
		req_plan(l, c, req);
	else if (strcmp(cmd, "park") == 0)
		req_park(l, c, req);
	else if (strcmp(cmd, "home") == 0)
		req_home(l, c, req);
	else if (strcmp(cmd, "abort-batch") == 0)
		req_abort_batch(l, c, req);
	else if (strcmp(cmd, "teach") == 0)
		teach_request(l, c, req);
	else if (strcmp(cmd, "hw") == 0)
		devread_hw_request(l, c, req);
	else if (strcmp(cmd, "preflight") == 0)
		req_preflight(l, c, req);
	else if (strcmp(cmd, "calibrate") == 0)
		calibrate_request(l, c, req);
	else if (strcmp(cmd, "reload") == 0)
		teach_reload(l, c, req);
	else if (strcmp(cmd, "history") == 0 || strcmp(cmd, "show") == 0 ||
	    strcmp(cmd, "compare") == 0 || strcmp(cmd, "export") == 0 ||
	    strcmp(cmd, "series") == 0)
		reader_submit(l->reader, c, req);
	else
		control_finish(c, 2, "unknown command '%s'", cmd);
}
