/*
 * The batch record, for people: history (a table of batches) and show (one
 * batch in full: recipe and rig identity, lots, every step with planned and
 * actual timing and the deviation, bilayers, events), compare, export and
 * series. Read-only commands: any local user who can reach the socket may
 * use them. They run in the reader thread (reader.h), never in the event
 * loop, so a listing of years of batches cannot delay the batch or an
 * e-stop; a listing ends early when its client goes away.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "json.h"
#include "lbl_limits.h"
#include "lbld.h"
#include "query.h"
#include "reader.h"
#include "text.h"
#include "textdiff.h"
#include "units.h"

/*
 * Output is streamed a line at a time through the reader (reader_print),
 * so a reply of years of batches never sits whole in memory. JSON is made
 * by the one writer (base/json.h) and handed out in pieces (json_clear):
 * one line per row. A read of the record that fails ends the reply with
 * status 1 and the database's own message (db_error): what was printed
 * before it is then known to be partial, never presented as whole.
 */

/*
 * Hands the JSON written so far to the reply as one line and empties the
 * writer (its nesting stays open). Returns 0, or -1 when the writer failed
 * (out of memory): the caller ends the reply with an error.
 */
static int
hist_json_emit(struct reader_reply *c, struct json *j)
{
	const char *text = json_text(j);

	if (text == NULL)
		return -1;
	if (json_len(j) > 0)
		reader_put(c, text, json_len(j));
	json_clear(j);
	return 0;
}

/* A member whose value is a string (NULL: null). */
static void
hist_json_str(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j, s);
}

/* A member whose value is a number (NaN: null, "not measured"). */
static void
hist_json_num(struct json *j, const char *key, double v)
{
	json_key(j, key);
	json_number(j, v);
}

static void
hist_json_int(struct json *j, const char *key, long long v)
{
	json_key(j, key);
	json_int(j, v);
}

/*
 * A growing line of text (CSV rows, table cells): nothing a reader prints
 * goes through a fixed buffer, so no field is ever cut. failed is set when
 * memory runs out; the caller checks it once the line is made.
 */
struct hist_line {
	char *buf;
	size_t len, cap;
	int failed;
};

/* Room for n more bytes and the NUL: 0, or -1 (failed set) when memory runs out. */
static int
hist_line_reserve(struct hist_line *l, size_t n)
{
	char *p;
	size_t cap;

	if (l->failed)
		return -1;
	if (l->len + n + 1 <= l->cap)
		return 0;
	cap = l->cap ? l->cap : 512;
	while (cap < l->len + n + 1)
		cap *= 2;
	if ((p = realloc(l->buf, cap)) == NULL) {
		l->failed = 1;
		return -1;
	}
	l->buf = p;
	l->cap = cap;
	return 0;
}

static void
hist_line_put(struct hist_line *l, const char *s, size_t n)
{
	if (hist_line_reserve(l, n) == -1)
		return;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static void
hist_line_printf(struct hist_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
hist_line_printf(struct hist_line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		l->failed = 1;
		return;
	}
	if (hist_line_reserve(l, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(l->buf + l->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	l->len += (size_t)n;
}

/*
 * A number in the shortest form that reads back as the same double, as the
 * JSON writer writes it: %g alone would print 1234567 as 1.23457e+06.
 */
static void
hist_line_number(struct hist_line *l, double v)
{
	char buf[32];
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	/*
	 * A whole or plain number stays plain for spreadsheets: %g's shortest
	 * form of 400 is "4e+02". Fixed notation with the fewest decimals that
	 * read back, where that is short.
	 */
	if (strchr(buf, 'e') != NULL && fabs(v) >= 1e-4 && fabs(v) < 1e15) {
		for (prec = 0; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*f", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
	hist_line_put(l, buf, strlen(buf));
}

/*
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line
 * break, a quote doubled. A line break becomes a space, as every reply
 * line's would (reader_print): a CSV row is one line. NULL is empty.
 */
static void
hist_line_csv(struct hist_line *l, const char *s)
{
	const char *p;

	if (s == NULL)
		return;
	if (strpbrk(s, ",\"\n\r") == NULL) {
		hist_line_put(l, s, strlen(s));
		return;
	}
	hist_line_put(l, "\"", 1);
	for (p = s; *p; p++) {
		if (*p == '"')
			hist_line_put(l, "\"\"", 2);
		else if (*p == '\n' || *p == '\r')
			hist_line_put(l, " ", 1);
		else
			hist_line_put(l, p, 1);
	}
	hist_line_put(l, "\"", 1);
}

/*
 * Spaces to pad text to width columns, or none past it: a table cell,
 * never cut. Columns, not bytes: "Zoë" takes three (base/text.h).
 */
static int
hist_pad(const char *text, int width)
{
	return text_pad(text, width);
}

/* Seconds between two ISO-8601 UTC stamps of the db ("...T..:..:..mmmZ"). */
static double
hist_span_s(const char *from, const char *to)
{
	struct tm a, b;
	double ms_a = 0, ms_b = 0;
	const char *p;

	if (from == NULL || to == NULL)
		return NAN;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if ((p = strptime(from, "%Y-%m-%dT%H:%M:%S", &a)) == NULL)
		return NAN;
	if (*p == '.')
		ms_a = strtod(p, NULL);
	if ((p = strptime(to, "%Y-%m-%dT%H:%M:%S", &b)) == NULL)
		return NAN;
	if (*p == '.')
		ms_b = strtod(p, NULL);
	return difftime(timegm(&b), timegm(&a)) + ms_b - ms_a;
}

/* What show's (and history --between's) lines need besides the reply. */
struct hist_show_ctx {
	struct reader_reply *c;
	double time_scale;		/* durations are recorded in wall time */
	int utc;			/* times in UTC, not local time */
};

struct hist_ctx {
	struct reader_reply *c;
	struct json j;
	int json, failed;		/* failed: the writer ran out of memory */
	int utc;			/* times in tables in UTC, not local time */
};

static int
hist_row(void *arg, const struct db_batch *b)
{
	struct hist_ctx *h = arg;
	char dur[32], thick[32], started[64];
	double span = hist_span_s(b->started_at, b->ended_at);
	const char *sub = b->substrate ? b->substrate : "-";
	const char *op = b->operator_name ? b->operator_name : "-";
	int recipe_len;

	if (isnan(span))
		snprintf(dur, sizeof(dur), "-");
	else
		units_format_duration((int64_t)(span * 1000), dur, sizeof(dur));
	if (h->json) {
		json_object_begin(&h->j);
		hist_json_int(&h->j, "id", (long long)b->id);
		hist_json_str(&h->j, "recipe", b->recipe_name);
		hist_json_str(&h->j, "version", b->recipe_version);
		hist_json_str(&h->j, "substrate", b->substrate);
		hist_json_str(&h->j, "operator", b->operator_name);
		hist_json_str(&h->j, "note", b->note);
		hist_json_str(&h->j, "state", b->state);
		hist_json_str(&h->j, "started_at", b->started_at);
		hist_json_str(&h->j, "ended_at", b->ended_at);
		hist_json_int(&h->j, "bilayers_done", b->bilayers_done);
		hist_json_int(&h->j, "bilayers_target", b->bilayers_target);
		hist_json_num(&h->j, "thickness_estimated_nm", b->thickness_estimated_nm);
		hist_json_num(&h->j, "thickness_measured_nm", b->thickness_measured_nm);
		json_object_end(&h->j);
		if (hist_json_emit(h->c, &h->j) == -1) {
			h->failed = 1;
			return 1;
		}
	} else {
		if (isnan(b->thickness_measured_nm))
			snprintf(thick, sizeof(thick), "%.1f est", b->thickness_estimated_nm);
		else
			snprintf(thick, sizeof(thick), "%.1f", b->thickness_measured_nm);
		/* the cells are padded to their column, never cut: a long name widens its row */
		recipe_len = (int)(text_width(b->recipe_name) + 1 + text_width(b->recipe_version));
		query_show_stamp(b->started_at, h->utc, started, sizeof(started));
		reader_print(h->c, "%6lld  %s@%s%*s %s%*s %s%*s %-11s %-19s %9s %5d/%-3d %10s",
		    (long long)b->id, b->recipe_name, b->recipe_version,
		    recipe_len < 22 ? 22 - recipe_len : 0, "", sub, hist_pad(sub, 18), "", op,
		    hist_pad(op, 10), "", b->state, started, dur, b->bilayers_done,
		    b->bilayers_target, thick);
	}
	return reader_cancelled(h->c);
}

static int hist_event(void *arg, const struct db_event *e);

static void
hist_history(struct db *db, struct reader_reply *c, const struct control_request *req)
{
	struct db_history_filter f;
	struct hist_ctx h;
	char why[300], since_at[40], before_at[40];
	int i, rc, between = 0;

	memset(&f, 0, sizeof(f));
	memset(&h, 0, sizeof(h));
	h.c = c;
	/* the --utc flag first: it says how the dates before it are read */
	for (i = 1; i < req->argc; i++)
		if (strcmp(req->argv[i], "--utc") == 0)
			h.utc = 1;
	for (i = 1; i < req->argc; i++) {
		const char *w = req->argv[i], *v = i + 1 < req->argc ? req->argv[i + 1] : NULL;
		struct query_span span;
		if (strcmp(w, "--json") == 0) {
			h.json = 1;
			continue;
		}
		if (strcmp(w, "--between") == 0) {
			between = 1;
			continue;
		}
		if (strcmp(w, "--utc") == 0)
			continue;
		if (strcmp(w, "--recipe") != 0 && strcmp(w, "--substrate") != 0 &&
		    strcmp(w, "--state") != 0 && strcmp(w, "--since") != 0 &&
		    strcmp(w, "--until") != 0 && strcmp(w, "--limit") != 0) {
			reader_end(c, 2, "history: unknown option '%s' (expected --recipe, "
			    "--substrate, --state, --since, --until, --limit, --utc, --json or "
			    "--between)", w);
			return;
		}
		if (v == NULL) {
			reader_end(c, 2, "history: option '%s' needs a value", w);
			return;
		}
		i++;
		/* the same checks as lblctl's (base/query.h): a mistake never lists nothing */
		if (strcmp(w, "--recipe") == 0) {
			f.recipe = v;
		} else if (strcmp(w, "--substrate") == 0) {
			f.substrate = v;
		} else if (strcmp(w, "--state") == 0) {
			if (query_check_state(v, why, sizeof(why)) == -1) {
				reader_end(c, 2, "history: --state: %s", why);
				return;
			}
			f.state = v;
		} else if (strcmp(w, "--limit") == 0) {
			if (query_parse_limit(v, &f.limit, why, sizeof(why)) == -1) {
				reader_end(c, 2, "history: --limit: %s", why);
				return;
			}
		} else {
			/* --since from the first millisecond of the date, --until to its last */
			int since = strcmp(w, "--since") == 0;
			if (query_parse_when(v, h.utc, (int64_t)time(NULL), &span, why,
			    sizeof(why)) == -1) {
				reader_end(c, 2, "history: %s: %s", w, why);
				return;
			}
			if (query_format_stamp(since ? span.from_ms : span.to_ms,
			    since ? since_at : before_at, sizeof(since_at)) == -1) {
				reader_end(c, 2, "history: %s: '%s' is out of range", w, v);
				return;
			}
			if (since)
				f.since = since_at;
			else
				f.before = before_at;
		}
	}
	if (between) {
		/*
		 * What happened outside any batch, oldest first: manual control,
		 * parks, e-stops and faults between batches.
		 */
		struct hist_show_ctx ev_ctx = { c, 1, h.utc };

		if (req->argc != 2 && !(req->argc == 3 && h.utc)) {
			reader_end(c, 2, "history --between takes no other option than --utc");
			return;
		}
		reader_print(c, "events outside any batch:");
		if (db_events(db, 0, hist_event, &ev_ctx) == -1)
			reader_end(c, 1, "history --between: the event list is incomplete: %s",
			    db_error(db));
		else
			reader_end(c, 0, " ");
		return;
	}
	json_init(&h.j);
	if (h.json) {
		/* one batch a line inside the array: a long history streams */
		json_array_begin(&h.j);
		h.failed = hist_json_emit(c, &h.j) == -1;
	} else {
		reader_print(c, "%6s  %-22s %-18s %-10s %-11s %-19s %9s %9s %10s", "ID", "RECIPE",
		    "SUBSTRATE", "OPERATOR", "STATE", h.utc ? "STARTED (UTC)" : "STARTED",
		    "DURATION", "BILAYERS",
		    "NM");
	}
	rc = h.failed ? 0 : db_history(db, &f, hist_row, &h);
	if (rc == -1) {
		json_free(&h.j);
		reader_end(c, 1, "history: the batch list is incomplete: %s", db_error(db));
		return;
	}
	if (h.json && !h.failed) {
		json_array_end(&h.j);
		h.failed = hist_json_emit(c, &h.j) == -1;
	}
	json_free(&h.j);
	if (h.failed) {
		reader_end(c, 1, "history: out of memory for the JSON text");
		return;
	}
	reader_end(c, 0, " ");
}

struct hist_csv_table;

/*
 * An export (and show --json, which is one batch of it) in progress. error
 * is set when a read or the writer failed: the listing stops and the reply
 * ends with it.
 */
struct hist_export {
	struct reader_reply *c;
	struct db *db;
	const struct db_batch *b;	/* the batch being written (CSV rows repeat it) */
	struct json j;			/* the whole document, handed out a row at a time */
	struct hist_line line;		/* a CSV row */
	int json;
	const struct hist_csv_table *table;	/* CSV: the table being written */
	const char *error;		/* what failed, or NULL */
};

static int hist_export_batch(void *arg, const struct db_batch *b);

/* A thickness for a table: "-" when not measured. */
static const char *
hist_nm(double nm, char *buf, size_t size)
{
	if (isnan(nm))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f", nm);
	return buf;
}

/*
 * After a listing: 0 when it went to its end, -1 when a read failed (the
 * database's message) or a row could not be written, with error set, or
 * when the client went away (the reply is dropped then anyway). c may be
 * NULL for a listing that writes nothing.
 */
static int
hist_listed(struct db *db, const char **error, struct reader_reply *c, int rc)
{
	if (rc == -1 && *error == NULL)
		*error = db_error(db);
	if (*error != NULL || (c != NULL && reader_cancelled(c)))
		return -1;
	return 0;
}


/*
 * What a step's pumps dispensed, for show: " volume 5.00 mL planned, 1.50 mL
 * counted" when the pumps counted, "" when the step dispensed nothing so.
 */
static void
hist_volume(const struct db_step *s, char *buf, size_t size)
{
	buf[0] = '\0';
	if (isnan(s->volume_planned_ml) && isnan(s->volume_measured_ml))
		return;
	snprintf(buf, size, "  volume %.2f mL planned, ", s->volume_planned_ml);
	if (isnan(s->volume_measured_ml))
		snprintf(buf + strlen(buf), size - strlen(buf), "not counted");
	else
		snprintf(buf + strlen(buf), size - strlen(buf), "%.2f mL counted",
		    s->volume_measured_ml);
}

static int
hist_baseline(void *arg, const struct db_baseline *b)
{
	struct hist_show_ctx *ctx = arg;
	char at[64];

	query_show_stamp(b->at, ctx->utc, at, sizeof(at));
	reader_print(ctx->c, "  baseline %s %.1f Hz, %s (%s)", b->sensor, b->hz, b->source, at);
	return reader_cancelled(ctx->c);
}

static int
hist_step(void *arg, const struct db_step *s)
{
	struct hist_show_ctx *ctx = arg;
	struct reader_reply *c = ctx->c;
	char planned[32], actual[32], dev[32], volume[720];

	units_format_duration(s->planned_duration_ms > 0 ? s->planned_duration_ms : 0, planned,
	    sizeof(planned));
	if (s->actual_duration_ms < 0) {
		snprintf(actual, sizeof(actual), "-");
		snprintf(dev, sizeof(dev), "-");
	} else {
		/* in recipe time, like planned: a simulated run shows the same figures */
		units_format_duration((int64_t)llround(s->actual_duration_ms * ctx->time_scale),
		    actual, sizeof(actual));
		snprintf(dev, sizeof(dev), "%+.2fs", (s->actual_start_ms - s->planned_start_ms) /
		    1000.0);
	}
	hist_volume(s, volume, sizeof(volume));
	reader_print(c, "%5d %4d %-10s %-7s %-12s %11.1f %10s %10s %9s %8.1f %-8s%s%s", s->seq,
	    s->bilayer, s->phase, s->kind, s->station ? s->station : "-",
	    s->planned_start_ms / 1000.0, planned, actual, dev,
	    s->motion_ms >= 0 ? s->motion_ms / 1000.0 : 0.0, s->outcome,
	    s->attempts > 1 ? " (retried)" : "", volume);
	return reader_cancelled(ctx->c);
}

static int
hist_bilayer(void *arg, const struct db_bilayer *b)
{
	struct hist_show_ctx *ctx = arg;
	char measured[32], ended[64];

	if (isnan(b->thickness_measured_nm))
		snprintf(measured, sizeof(measured), "-");
	else
		snprintf(measured, sizeof(measured), "%.1f nm", b->thickness_measured_nm);
	query_show_stamp(b->ended_at, ctx->utc, ended, sizeof(ended));
	reader_print(ctx->c, "  bilayer %3d  ended %s  estimate %.1f nm  measured %s", b->n,
	    ended, b->thickness_estimated_nm, measured);
	return reader_cancelled(ctx->c);
}

static int
hist_event(void *arg, const struct db_event *e)
{
	struct hist_show_ctx *ctx = arg;
	char at[64];

	query_show_stamp(e->at, ctx->utc, at, sizeof(at));
	reader_print(ctx->c, "  %s  %-9s %s%s%s", at, e->kind, e->device ? e->device : "",
	    e->device ? ": " : "", e->message);
	return reader_cancelled(ctx->c);
}

static int
hist_solution(void *arg, const struct db_solution *s)
{
	const char *lot = s->lot ? s->lot : "-";

	reader_print(arg, "  %s%*s lot %s%*s %4d %-4s  %8.2f mL  %8.1f cm2", s->name,
	    hist_pad(s->name, 14), "", lot, hist_pad(lot, 14), "", s->dips,
	    text_plural(s->dips, "dip", "dips"), s->volume_ml,
	    s->area_cm2);
	return reader_cancelled(arg);
}

/* Ends a reply whose read of batch id failed: partial output must not pass for whole. */
static void
hist_read_failed(struct reader_reply *c, const char *cmd, int64_t id, const char *error)
{
	reader_end(c, 1, "%s: the record of batch %lld could not be read whole: %s", cmd,
	    (long long)id, error);
}

static void
hist_show(struct db *db, struct reader_reply *c, const struct control_request *req)
{
	struct db_batch b;
	struct db_recipe recipe, rig;
	struct hist_show_ctx show_ctx;
	const char *error = NULL;
	char *end;
	int64_t id;
	char started[64], ended[64];
	int with_recipe = 0, with_json = 0, i, rc;

	id = req->argc > 1 ? strtoll(req->argv[1], &end, 10) : 0;
	if (req->argc < 2 || *end != '\0' || id <= 0) {
		reader_end(c, 2, "usage: show ID [--json] [--recipe]");
		return;
	}
	show_ctx.c = c;
	show_ctx.utc = 0;
	for (i = 2; i < req->argc; i++) {
		if (strcmp(req->argv[i], "--utc") == 0) {
			show_ctx.utc = 1;
		} else if (strcmp(req->argv[i], "--recipe") == 0) {
			with_recipe = 1;
		} else if (strcmp(req->argv[i], "--json") == 0) {
			with_json = 1;
		} else {
			reader_end(c, 2, "show: unknown option %s", req->argv[i]);
			return;
		}
	}
	if ((rc = db_batch_get(db, id, &b)) != 0) {
		if (rc == 1)
			reader_end(c, 2, "no batch %lld", (long long)id);
		else
			hist_read_failed(c, "show", id, db_error(db));
		return;
	}
	if ((rc = db_recipe_get(db, b.recipe_id, &recipe)) != 0) {
		db_batch_row_free(&b);
		if (rc == 1)
			reader_end(c, 1, "the recipe of batch %lld is missing", (long long)id);
		else
			hist_read_failed(c, "show", id, db_error(db));
		return;
	}
	if (with_json && !with_recipe) {
		/* the whole record as one JSON object: the export format, one batch */
		struct hist_export e;

		memset(&e, 0, sizeof(e));
		e.c = c;
		e.json = 1;
		e.db = db;
		json_init(&e.j);
		hist_export_batch(&e, &b);
		json_free(&e.j);
		db_recipe_row_free(&recipe);
		db_batch_row_free(&b);
		if (e.error != NULL)
			hist_read_failed(c, "show", id, e.error);
		else
			reader_end(c, 0, " ");
		return;
	}
	if (with_recipe) {
		reader_print_text(c, recipe.yaml);
		db_recipe_row_free(&recipe);
		db_batch_row_free(&b);
		reader_end(c, 0, " ");
		return;
	}
	reader_print(c, "batch %lld: %s", (long long)b.id, b.state);
	reader_print(c, "recipe:    %s version %s, sha256 %s", recipe.name, recipe.version,
	    recipe.sha256);
	if ((rc = db_rig_get(db, b.rig_id, &rig)) == 0) {
		reader_print(c, "rig:       %s, sha256 %s", rig.name, rig.sha256);
		db_recipe_row_free(&rig);
	} else if (rc == 1) {
		reader_print(c, "rig:       - (its rig file is missing from the record)");
	} else {
		error = db_error(db);
		goto out;
	}
	reader_print(c, "substrate: %s", b.substrate ? b.substrate : "-");
	reader_print(c, "operator:  %s", b.operator_name ? b.operator_name : "-");
	if (b.note)
		reader_print(c, "note:      %s", b.note);
	query_show_stamp(b.started_at, show_ctx.utc, started, sizeof(started));
	query_show_stamp(b.ended_at, show_ctx.utc, ended, sizeof(ended));
	reader_print(c, "started:   %s%s", started, show_ctx.utc ? " UTC" : "");
	reader_print(c, "ended:     %s%s", ended, show_ctx.utc && b.ended_at ? " UTC" : "");
	reader_print(c, "bilayers:  %d of %d", b.bilayers_done, b.bilayers_target);
	{
		/* figures, each bilayer's in "bilayers:" below; "-" where there is none */
		char target[32], estimated[32], measured[32];
		reader_print(c, "thickness: target %s%s, estimated %s%s, measured %s%s",
		    hist_nm(b.thickness_target_nm, target, sizeof(target)),
		    isnan(b.thickness_target_nm) ? " (none set)" : " nm",
		    hist_nm(b.thickness_estimated_nm, estimated, sizeof(estimated)),
		    isnan(b.thickness_estimated_nm) ? "" : " nm",
		    hist_nm(b.thickness_measured_nm, measured, sizeof(measured)),
		    isnan(b.thickness_measured_nm) ? " (not measured)" : " nm (the last measurement)");
	}
	reader_print(c, "software:  lbl %s, time scale %g", b.software_version, b.time_scale);
	if (b.failure_cause)
		reader_print(c, "cause:     %s", b.failure_cause);
	reader_print(c, "solutions:");
	if (hist_listed(db, &error, c, db_solutions(db, id, hist_solution, c)) == -1)
		goto out;
	reader_print(c, "steps:");
	reader_print(c, "%5s %4s %-10s %-7s %-12s %11s %10s %10s %9s %8s %-8s", "seq", "bl",
	    "phase", "kind", "where", "planned@s", "planned", "actual", "start dev", "motion s",
	    "outcome");
	show_ctx.time_scale = b.time_scale > 0 ? b.time_scale : 1;
	if (hist_listed(db, &error, c, db_steps(db, id, hist_step, &show_ctx)) == -1)
		goto out;
	reader_print(c, "bilayers:");
	if (hist_listed(db, &error, c, db_bilayers(db, id, hist_bilayer, &show_ctx)) == -1)
		goto out;
	reader_print(c, "baselines:");
	if (hist_listed(db, &error, c, db_baselines(db, id, hist_baseline, &show_ctx)) == -1)
		goto out;
	reader_print(c, "events:");
	hist_listed(db, &error, c, db_events(db, id, hist_event, &show_ctx));
out:
	db_recipe_row_free(&recipe);
	db_batch_row_free(&b);
	if (error != NULL)
		hist_read_failed(c, "show", id, error);
	else
		reader_end(c, 0, " ");
}

/* ---- compare ---- */


/* What compare needs of one batch, read once, whole. */
struct hist_batch {
	struct db_batch b;
	struct db_recipe recipe, rig;
	struct db_step *steps;		/* copied: kind/station/solution point into names */
	size_t step_count, step_cap;
	struct db_solution *sol;	/* copied: name/lot point into names */
	size_t sol_count, sol_cap;
	char *names;			/* string storage for steps and solutions */
	size_t names_len, names_cap;
	int events[16];			/* counts by kind index */
	double *measured;		/* per bilayer, NAN if none */
	int bilayer_count;
	const char *error;		/* why a listing stopped: out of memory, a limit */
};

static const char *const hist_event_kinds[] = { "fault", "pause", "resume", "prompt",
	"continue", "abort", "estop", "interlock", "operator", "info", NULL };

/*
 * Keeps a copy of s in the batch's name storage: returns its offset + 1
 * (0 for NULL), turned into a pointer once all rows are in (the storage
 * moves as it grows); -1 when memory runs out (error set).
 */
static intptr_t
hist_keep(struct hist_batch *h, const char *s)
{
	size_t n;
	char *names;

	if (s == NULL)
		return 0;
	n = strlen(s) + 1;
	if (h->names_len + n > h->names_cap) {
		size_t cap = (h->names_cap + n) * 2;
		if ((names = realloc(h->names, cap)) == NULL) {
			h->error = "out of memory for the batches' texts";
			return -1;
		}
		h->names = names;
		h->names_cap = cap;
	}
	memcpy(h->names + h->names_len, s, n);
	h->names_len += n;
	return (intptr_t)(h->names_len - n + 1);
}

/* The kept string at offset + 1 (0: NULL). */
static const char *
hist_kept(const struct hist_batch *h, const char *off)
{
	return off ? h->names + (uintptr_t)off - 1 : NULL;
}

static int
hist_keep_step(void *arg, const struct db_step *s)
{
	struct hist_batch *h = arg;
	struct db_step *k;
	intptr_t kind, station, solution;

	if (h->step_count == HIST_MAX_STEPS_KEPT) {
		h->error = "more steps than compare holds (HIST_MAX_STEPS_KEPT)";
		return 1;
	}
	if (h->step_count == h->step_cap) {
		size_t cap = h->step_cap ? h->step_cap * 2 : 256;
		struct db_step *steps = realloc(h->steps, cap * sizeof(*steps));
		if (steps == NULL) {
			h->error = "out of memory for the batches' steps";
			return 1;
		}
		h->steps = steps;
		h->step_cap = cap;
	}
	if ((kind = hist_keep(h, s->kind)) == -1 || (station = hist_keep(h, s->station)) == -1 ||
	    (solution = hist_keep(h, s->solution)) == -1)
		return 1;
	k = &h->steps[h->step_count++];
	*k = *s;
	k->kind = (const char *)kind;
	k->station = (const char *)station;
	k->solution = (const char *)solution;
	k->phase = NULL;
	k->outcome = NULL;
	k->actual_start_utc = NULL;
	return 0;
}

static int
hist_keep_solution(void *arg, const struct db_solution *s)
{
	struct hist_batch *h = arg;
	struct db_solution *k;
	intptr_t name, lot;

	if (h->sol_count == h->sol_cap) {
		size_t cap = h->sol_cap ? h->sol_cap * 2 : 16;
		struct db_solution *sol = realloc(h->sol, cap * sizeof(*sol));
		if (sol == NULL) {
			h->error = "out of memory for the batches' solutions";
			return 1;
		}
		h->sol = sol;
		h->sol_cap = cap;
	}
	if ((name = hist_keep(h, s->name)) == -1 || (lot = hist_keep(h, s->lot ? s->lot : "-")) ==
	    -1)
		return 1;
	k = &h->sol[h->sol_count++];
	*k = *s;
	k->name = (const char *)name;
	k->lot = (const char *)lot;
	return 0;
}

static int
hist_keep_event(void *arg, const struct db_event *e)
{
	struct hist_batch *h = arg;
	int i;

	for (i = 0; hist_event_kinds[i]; i++)
		if (strcmp(hist_event_kinds[i], e->kind) == 0)
			h->events[i]++;
	return 0;
}

static int
hist_keep_bilayer(void *arg, const struct db_bilayer *b)
{
	struct hist_batch *h = arg;
	double *measured;
	int k;

	/* bilayers count from 1 and a batch has at most RECIPE_MAX_BILAYERS */
	if (b->n < 1 || b->n > RECIPE_MAX_BILAYERS)
		return 0;
	if (b->n > h->bilayer_count) {
		if ((measured = realloc(h->measured, (size_t)b->n * sizeof(*measured))) == NULL) {
			h->error = "out of memory for the batches' bilayers";
			return 1;
		}
		for (k = h->bilayer_count; k < b->n; k++)
			measured[k] = NAN;
		h->measured = measured;
		h->bilayer_count = b->n;
	}
	h->measured[b->n - 1] = b->thickness_measured_nm;
	return 0;
}

static void
hist_batch_free(struct hist_batch *h)
{
	db_batch_row_free(&h->b);
	db_recipe_row_free(&h->recipe);
	db_recipe_row_free(&h->rig);
	free(h->steps);
	free(h->sol);
	free(h->names);
	free(h->measured);
}

/*
 * Reads batch id whole: 0; 1 when there is no such batch; -1 when a read
 * failed or could not be kept (*error says why: the database's message, or
 * what ran out). Nothing is kept on failure.
 */
static int
hist_batch_load(struct db *db, int64_t id, struct hist_batch *h, const char **error)
{
	size_t i;
	int rc;

	memset(h, 0, sizeof(*h));
	if ((rc = db_batch_get(db, id, &h->b)) != 0) {
		*error = db_error(db);
		return rc;
	}
	if ((rc = db_recipe_get(db, h->b.recipe_id, &h->recipe)) != 0 ||
	    (rc = db_rig_get(db, h->b.rig_id, &h->rig)) != 0) {
		*error = rc == 1 ? "its recipe or rig file is missing from the record" :
		    db_error(db);
		hist_batch_free(h);
		return -1;
	}
	*error = NULL;
	if (hist_listed(db, error, NULL, db_steps(db, id, hist_keep_step, h)) == -1 ||
	    (*error = h->error) != NULL ||
	    hist_listed(db, error, NULL, db_solutions(db, id, hist_keep_solution, h)) == -1 ||
	    (*error = h->error) != NULL ||
	    hist_listed(db, error, NULL, db_events(db, id, hist_keep_event, h)) == -1 ||
	    hist_listed(db, error, NULL, db_bilayers(db, id, hist_keep_bilayer, h)) == -1 ||
	    (*error = h->error) != NULL) {
		hist_batch_free(h);
		return -1;
	}
	for (i = 0; i < h->step_count; i++) {
		struct db_step *s = &h->steps[i];
		s->kind = hist_kept(h, s->kind);
		s->station = hist_kept(h, s->station);
		s->solution = hist_kept(h, s->solution);
	}
	for (i = 0; i < h->sol_count; i++) {
		h->sol[i].name = hist_kept(h, h->sol[i].name);
		h->sol[i].lot = hist_kept(h, h->sol[i].lot);
	}
	return 0;
}

static void
hist_diff_line(void *arg, const char *line)
{
	reader_print(arg, "    %s", line);
}

static void
hist_compare_field(struct reader_reply *c, const char *what, const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
		reader_print(c, "%-10s %s  ->  %s", what, a ? a : "-", b ? b : "-");
}

/*
 * Exposure (dwell) per solution: the first thing to check when films
 * differ. A bath replacement's dwell is its drain and fill, not the
 * substrate's exposure, and is left out.
 */
static double
hist_dwell_s(const struct hist_batch *h, const char *solution)
{
	double ms = 0;
	size_t i;

	for (i = 0; i < h->step_count; i++)
		if (h->steps[i].solution && strcmp(h->steps[i].solution, solution) == 0 &&
		    (h->steps[i].kind == NULL || strcmp(h->steps[i].kind, "replace") != 0) &&
		    h->steps[i].dwell_ms > 0)
			ms += h->steps[i].dwell_ms;
	return ms / 1000 * h->b.time_scale;	/* recipe time, comparable across time scales */
}

static void
hist_compare_steps(struct reader_reply *c, const struct hist_batch *a,
    const struct hist_batch *b, double tolerance_s)
{
	size_t i, n = a->step_count < b->step_count ? a->step_count : b->step_count;
	int shown = 0, over = 0;

	for (i = 0; i < n; i++) {
		const struct db_step *x = &a->steps[i], *y = &b->steps[i];
		double dx, dy;
		if (x->actual_duration_ms < 0 || y->actual_duration_ms < 0)
			continue;
		/* durations in recipe time: comparable across time scales */
		dx = x->actual_duration_ms / 1000.0 * a->b.time_scale;
		dy = y->actual_duration_ms / 1000.0 * b->b.time_scale;
		/* each is recorded in whole wall-clock ms: time_scale ms of recipe time */
		if (fabs(dx - dy) <= tolerance_s + 0.001 * fmax(a->b.time_scale, b->b.time_scale))
			continue;
		over++;
		if (shown++ < 20)
			reader_print(c, "  step %4d %-6s %-12s %9.1f s  ->  %9.1f s  (%+.1f s)", x->seq,
			    x->kind, x->station ? x->station : "-", dx, dy, dy - dx);
	}
	if (over > 20)
		reader_print(c, "  ... and %d more steps beyond %.1f s", over - 20, tolerance_s);
	if (over == 0)
		reader_print(c, "  no step differs by more than %.1f s", tolerance_s);
	if (a->step_count != b->step_count)
		reader_print(c, "  steps recorded: %zu  ->  %zu", a->step_count, b->step_count);
}

static void
hist_compare(struct db *db, struct reader_reply *c, const struct control_request *req)
{
	struct hist_batch a, b;
	double tolerance_s = 1.0;
	struct hist_line name_a, name_b;
	const char *error;
	char nm_a[32], nm_b[32];
	double resolution_s, exposure_a, exposure_b;
	int64_t id_a, id_b;
	char at_a[64], at_b[64];
	int same, rc, utc = 0;
	size_t i, j;
	int k;

	if (req->argc < 3 || (id_a = atoll(req->argv[1])) <= 0 || (id_b = atoll(req->argv[2])) <= 0) {
		reader_end(c, 2, "usage: compare ID1 ID2 [--tolerance SECONDS]");
		return;
	}
	for (k = 3; k < req->argc; k++) {
		char *end;

		if (strcmp(req->argv[k], "--utc") == 0) {
			utc = 1;
		} else if (strcmp(req->argv[k], "--tolerance") == 0 && k + 1 < req->argc) {
			tolerance_s = strtod(req->argv[++k], &end);
			if (end == req->argv[k] || *end != '\0' || !isfinite(tolerance_s) ||
			    tolerance_s < 0) {
				reader_end(c, 2, "compare: --tolerance: expected seconds (a number, 0 "
				    "or more), not '%s'", req->argv[k]);
				return;
			}
		} else {
			reader_end(c, 2, "compare: unknown option or word '%s' (usage: compare ID1 "
			    "ID2 [--tolerance SECONDS] [--utc])", req->argv[k]);
			return;
		}
	}
	if ((rc = hist_batch_load(db, id_a, &a, &error)) != 0) {
		if (rc == 1)
			reader_end(c, 2, "no batch %lld", (long long)id_a);
		else
			hist_read_failed(c, "compare", id_a, error);
		return;
	}
	if ((rc = hist_batch_load(db, id_b, &b, &error)) != 0) {
		hist_batch_free(&a);
		if (rc == 1)
			reader_end(c, 2, "no batch %lld", (long long)id_b);
		else
			hist_read_failed(c, "compare", id_b, error);
		return;
	}
	query_show_stamp(a.b.started_at, utc, at_a, sizeof(at_a));
	query_show_stamp(b.b.started_at, utc, at_b, sizeof(at_b));
	reader_print(c, "batch %lld (%s, %s%s)  ->  batch %lld (%s, %s%s)", (long long)id_a,
	    a.b.state, at_a, utc ? " UTC" : "", (long long)id_b, b.b.state, at_b, utc ? " UTC" : "");
	memset(&name_a, 0, sizeof(name_a));
	memset(&name_b, 0, sizeof(name_b));
	hist_line_printf(&name_a, "batch %lld: %s@%s", (long long)id_a, a.recipe.name,
	    a.recipe.version);
	hist_line_printf(&name_b, "batch %lld: %s@%s", (long long)id_b, b.recipe.name,
	    b.recipe.version);
	if (name_a.failed || name_b.failed) {
		free(name_a.buf);
		free(name_b.buf);
		hist_batch_free(&a);
		hist_batch_free(&b);
		reader_end(c, 1, "compare: out of memory");
		return;
	}
	if (strcmp(a.recipe.sha256, b.recipe.sha256) == 0) {
		reader_print(c, "recipe:    the same: %s@%s (sha256 %.12s)", a.recipe.name,
		    a.recipe.version, a.recipe.sha256);
	} else {
		reader_print(c, "recipe:    differs: %s@%s (%.12s)  ->  %s@%s (%.12s)", a.recipe.name,
		    a.recipe.version, a.recipe.sha256, b.recipe.name, b.recipe.version,
		    b.recipe.sha256);
		textdiff(a.recipe.yaml, name_a.buf, b.recipe.yaml, name_b.buf, 2, hist_diff_line, c);
	}
	if (strcmp(a.rig.sha256, b.rig.sha256) == 0) {
		reader_print(c, "rig:       the same: %s (sha256 %.12s)", a.rig.name, a.rig.sha256);
	} else {
		reader_print(c, "rig:       differs: %s (%.12s)  ->  %s (%.12s)", a.rig.name,
		    a.rig.sha256, b.rig.name, b.rig.sha256);
		textdiff(a.rig.yaml, "rig of the first", b.rig.yaml, "rig of the second", 2,
		    hist_diff_line, c);
	}
	reader_print(c, "differences in the record:");
	hist_compare_field(c, "substrate", a.b.substrate, b.b.substrate);
	hist_compare_field(c, "operator", a.b.operator_name, b.b.operator_name);
	hist_compare_field(c, "note", a.b.note, b.b.note);
	hist_compare_field(c, "software", a.b.software_version, b.b.software_version);
	hist_compare_field(c, "state", a.b.state, b.b.state);
	hist_compare_field(c, "cause", a.b.failure_cause, b.b.failure_cause);
	if (a.b.time_scale != b.b.time_scale)
		reader_print(c, "%-10s %g  ->  %g", "timescale", a.b.time_scale, b.b.time_scale);
	if (a.b.bilayers_done != b.b.bilayers_done)
		reader_print(c, "%-10s %d  ->  %d done", "bilayers", a.b.bilayers_done,
		    b.b.bilayers_done);
	reader_print(c, "solutions (lot, dips, exposure):");
	for (i = 0; i < a.sol_count; i++) {
		const struct db_solution *x = &a.sol[i], *y = NULL;
		for (j = 0; j < b.sol_count; j++)
			if (strcmp(b.sol[j].name, x->name) == 0)
				y = &b.sol[j];
		if (y == NULL) {
			reader_print(c, "  %s%*s only in the first batch", x->name,
			    hist_pad(x->name, 14), "");
			continue;
		}
		/*
		 * Dwells are recorded in whole wall-clock milliseconds: each is worth
		 * time_scale ms of recipe time, so a simulated run's exposures carry
		 * that much rounding per dip on top of the tolerance.
		 */
		resolution_s = 0.001 * fmax(a.b.time_scale, b.b.time_scale) *
		    (x->dips > y->dips ? x->dips : y->dips);
		exposure_a = hist_dwell_s(&a, x->name);
		exposure_b = hist_dwell_s(&b, x->name);
		same = fabs(exposure_a - exposure_b) <= tolerance_s + resolution_s;
		reader_print(c, "  %s%*s %s%s%s, %d%s%d %s, %.0f%s%.0f s exposure%s", x->name,
		    hist_pad(x->name, 14), "", x->lot, strcmp(x->lot, y->lot) ? " -> " : "",
		    strcmp(x->lot, y->lot) ? y->lot : "", x->dips, x->dips != y->dips ? " -> " : "=",
		    y->dips, text_plural(x->dips > y->dips ? x->dips : y->dips, "dip", "dips"),
		    exposure_a, same ? "=" : " -> ", same ? exposure_a : exposure_b,
		    strcmp(x->lot, y->lot) ? "   (lot changed)" : "");
	}
	reader_print(c, "thickness: estimated %.1f -> %.1f nm, measured %s -> %s nm",
	    a.b.thickness_estimated_nm, b.b.thickness_estimated_nm,
	    hist_nm(a.b.thickness_measured_nm, nm_a, sizeof(nm_a)),
	    hist_nm(b.b.thickness_measured_nm, nm_b, sizeof(nm_b)));
	for (k = 0; k < a.bilayer_count && k < b.bilayer_count; k++)
		if (!isnan(a.measured[k]) || !isnan(b.measured[k]))
			reader_print(c, "  bilayer %2d measured %6s -> %6s nm", k + 1,
			    hist_nm(a.measured[k], nm_a, sizeof(nm_a)),
			    hist_nm(b.measured[k], nm_b, sizeof(nm_b)));
	reader_print(c, "step timing beyond %.1f s (recipe time):", tolerance_s);
	hist_compare_steps(c, &a, &b, tolerance_s);
	reader_print(c, "events:");
	for (k = 0; hist_event_kinds[k]; k++)
		if ((a.events[k] || b.events[k]) && strcmp(hist_event_kinds[k], "info") != 0)
			reader_print(c, "  %-10s %d -> %d", hist_event_kinds[k], a.events[k], b.events[k]);
	free(name_a.buf);
	free(name_b.buf);
	hist_batch_free(&a);
	hist_batch_free(&b);
	reader_end(c, 0, " ");
}

/* ---- export ---- */

/*
 * Stable CSV columns, a table each; documented in lblctl(1). Never reorder:
 * append. The steps table repeats the batch's identity on every row, as
 * it did when it was the export's only table.
 */
#define HIST_CSV_STEPS "batch_id,recipe,recipe_version,recipe_sha256,substrate,operator,"\
	"batch_state,time_scale,seq,bilayer,phase,kind,station,solution,planned_start_ms,"\
	"planned_duration_ms,actual_start_utc,actual_start_ms,actual_duration_ms,motion_ms,"\
	"dwell_ms,outcome,volume_planned_ml,volume_measured_ml,attempts"
#define HIST_CSV_BATCHES "batch_id,recipe,recipe_version,recipe_sha256,rig,rig_sha256,"\
	"substrate,operator,note,state,started_at,ended_at,bilayers_target,bilayers_done,"\
	"thickness_target_nm,thickness_estimated_nm,thickness_measured_nm,time_scale,"\
	"software_version,failure_cause"
#define HIST_CSV_BILAYERS "batch_id,bilayer,ended_at,thickness_estimated_nm,"\
	"thickness_measured_nm"
#define HIST_CSV_SOLUTIONS "batch_id,solution,lot,dips,volume_ml,area_cm2"
#define HIST_CSV_BASELINES "batch_id,sensor,baseline_hz,source,at"
#define HIST_CSV_EVENTS "batch_id,event_id,at,kind,device,message"

/* A number field: empty for NaN (not measured, not set). */
static void
hist_line_num_or_empty(struct hist_line *l, double v)
{
	if (!isnan(v))
		hist_line_number(l, v);
}

/* Hands a finished CSV row to the reply: 0 to go on, 1 to stop (error set, or gone). */
static int
hist_csv_row(struct hist_export *e)
{
	if (e->line.failed) {
		e->error = "out of memory for a CSV row";
		return 1;
	}
	reader_put(e->c, e->line.buf, e->line.len);
	return reader_cancelled(e->c);
}

/* The writer's piece as a line; on failure error is set and the listing stops (1). */
static int
hist_export_emit(struct hist_export *e)
{
	if (hist_json_emit(e->c, &e->j) == -1) {
		e->error = "out of memory for the JSON text";
		return 1;
	}
	return reader_cancelled(e->c);
}

static int
hist_export_step(void *arg, const struct db_step *s)
{
	struct hist_export *e = arg;
	const struct db_batch *b = e->b;
	struct hist_line *l = &e->line;

	if (e->json) {
		json_object_begin(&e->j);
		hist_json_int(&e->j, "seq", s->seq);
		hist_json_int(&e->j, "bilayer", s->bilayer);
		hist_json_str(&e->j, "phase", s->phase);
		hist_json_str(&e->j, "kind", s->kind);
		hist_json_str(&e->j, "station", s->station);
		hist_json_str(&e->j, "solution", s->solution);
		hist_json_int(&e->j, "planned_start_ms", (long long)s->planned_start_ms);
		hist_json_int(&e->j, "planned_duration_ms", (long long)s->planned_duration_ms);
		hist_json_str(&e->j, "actual_start_utc", s->actual_start_utc);
		hist_json_int(&e->j, "actual_start_ms", (long long)s->actual_start_ms);
		hist_json_int(&e->j, "actual_duration_ms", (long long)s->actual_duration_ms);
		hist_json_int(&e->j, "motion_ms", (long long)s->motion_ms);
		hist_json_int(&e->j, "dwell_ms", (long long)s->dwell_ms);
		hist_json_str(&e->j, "outcome", s->outcome);
		hist_json_int(&e->j, "attempts", s->attempts);
		hist_json_num(&e->j, "volume_planned_ml", s->volume_planned_ml);
		hist_json_num(&e->j, "volume_measured_ml", s->volume_measured_ml);
		json_object_end(&e->j);
		return hist_export_emit(e);
	}
	l->len = 0;
	hist_line_printf(l, "%lld,", (long long)b->id);
	hist_line_csv(l, b->recipe_name);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->recipe_version);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->recipe_sha256);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->substrate);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->operator_name);
	hist_line_printf(l, ",%s,", b->state);
	hist_line_number(l, b->time_scale);
	hist_line_printf(l, ",%d,%d,%s,%s,", s->seq, s->bilayer, s->phase, s->kind);
	hist_line_csv(l, s->station);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, s->solution);
	hist_line_printf(l, ",%lld,%lld,%s,%lld,%lld,%lld,%lld,%s",
	    (long long)s->planned_start_ms, (long long)s->planned_duration_ms,
	    s->actual_start_utc ? s->actual_start_utc : "", (long long)s->actual_start_ms,
	    (long long)s->actual_duration_ms, (long long)s->motion_ms, (long long)s->dwell_ms,
	    s->outcome);
	/* what the step's pumps counted beside the plan: empty when not counted */
	hist_line_put(l, ",", 1);
	if (!isnan(s->volume_planned_ml))
		hist_line_number(l, s->volume_planned_ml);
	hist_line_put(l, ",", 1);
	if (!isnan(s->volume_measured_ml))
		hist_line_number(l, s->volume_measured_ml);
	hist_line_printf(l, ",%d", s->attempts);
	return hist_csv_row(e);
}

static int
hist_export_bilayer(void *arg, const struct db_bilayer *bl)
{
	struct hist_export *e = arg;

	if (!e->json) {
		e->line.len = 0;
		hist_line_printf(&e->line, "%lld,%d,", (long long)e->b->id, bl->n);
		hist_line_csv(&e->line, bl->ended_at);
		hist_line_put(&e->line, ",", 1);
		hist_line_num_or_empty(&e->line, bl->thickness_estimated_nm);
		hist_line_put(&e->line, ",", 1);
		hist_line_num_or_empty(&e->line, bl->thickness_measured_nm);
		return hist_csv_row(e);
	}
	json_object_begin(&e->j);
	hist_json_int(&e->j, "n", bl->n);
	hist_json_str(&e->j, "ended_at", bl->ended_at);
	hist_json_num(&e->j, "thickness_estimated_nm", bl->thickness_estimated_nm);
	hist_json_num(&e->j, "thickness_measured_nm", bl->thickness_measured_nm);
	json_object_end(&e->j);
	return hist_export_emit(e);
}

static int
hist_export_solution(void *arg, const struct db_solution *s)
{
	struct hist_export *e = arg;

	if (!e->json) {
		e->line.len = 0;
		hist_line_printf(&e->line, "%lld,", (long long)e->b->id);
		hist_line_csv(&e->line, s->name);
		hist_line_put(&e->line, ",", 1);
		hist_line_csv(&e->line, s->lot);
		hist_line_printf(&e->line, ",%d,", s->dips);
		hist_line_num_or_empty(&e->line, s->volume_ml);
		hist_line_put(&e->line, ",", 1);
		hist_line_num_or_empty(&e->line, s->area_cm2);
		return hist_csv_row(e);
	}
	json_object_begin(&e->j);
	hist_json_str(&e->j, "name", s->name);
	hist_json_str(&e->j, "lot", s->lot);
	hist_json_int(&e->j, "dips", s->dips);
	hist_json_num(&e->j, "volume_ml", s->volume_ml);
	hist_json_num(&e->j, "area_cm2", s->area_cm2);
	json_object_end(&e->j);
	return hist_export_emit(e);
}

static int
hist_export_event(void *arg, const struct db_event *ev)
{
	struct hist_export *e = arg;

	if (!e->json) {
		e->line.len = 0;
		hist_line_printf(&e->line, "%lld,%lld,", (long long)e->b->id, (long long)ev->id);
		hist_line_csv(&e->line, ev->at);
		hist_line_put(&e->line, ",", 1);
		hist_line_csv(&e->line, ev->kind);
		hist_line_put(&e->line, ",", 1);
		hist_line_csv(&e->line, ev->device);
		hist_line_put(&e->line, ",", 1);
		hist_line_csv(&e->line, ev->message);
		return hist_csv_row(e);
	}
	json_object_begin(&e->j);
	hist_json_str(&e->j, "at", ev->at);
	hist_json_str(&e->j, "kind", ev->kind);
	hist_json_str(&e->j, "device", ev->device);
	hist_json_str(&e->j, "message", ev->message);
	json_object_end(&e->j);
	return hist_export_emit(e);
}

/* A QCM's baseline: the bare crystal's frequency a batch's thickness is from. */
static int
hist_export_baseline(void *arg, const struct db_baseline *bl)
{
	struct hist_export *e = arg;

	if (!e->json) {
		e->line.len = 0;
		hist_line_printf(&e->line, "%lld,", (long long)e->b->id);
		hist_line_csv(&e->line, bl->sensor);
		hist_line_put(&e->line, ",", 1);
		hist_line_num_or_empty(&e->line, bl->hz);
		hist_line_put(&e->line, ",", 1);
		hist_line_csv(&e->line, bl->source);
		hist_line_put(&e->line, ",", 1);
		hist_line_csv(&e->line, bl->at);
		return hist_csv_row(e);
	}
	json_object_begin(&e->j);
	hist_json_str(&e->j, "sensor", bl->sensor);
	hist_json_num(&e->j, "baseline_hz", bl->hz);
	hist_json_str(&e->j, "source", bl->source);
	hist_json_str(&e->j, "at", bl->at);
	json_object_end(&e->j);
	return hist_export_emit(e);
}

/* The batches table's row of b. */
static int
hist_csv_batch_row(struct hist_export *e, const struct db_batch *b)
{
	struct hist_line *l = &e->line;
	struct db_recipe rig;
	int rc;

	if ((rc = db_rig_get(e->db, b->rig_id, &rig)) == -1) {
		e->error = db_error(e->db);
		return 1;
	}
	l->len = 0;
	hist_line_printf(l, "%lld,", (long long)b->id);
	hist_line_csv(l, b->recipe_name);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->recipe_version);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->recipe_sha256);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->rig_name);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, rc == 0 ? rig.sha256 : NULL);
	if (rc == 0)
		db_recipe_row_free(&rig);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->substrate);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->operator_name);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->note);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->state);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->started_at);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->ended_at);
	hist_line_printf(l, ",%d,%d,", b->bilayers_target, b->bilayers_done);
	hist_line_num_or_empty(l, b->thickness_target_nm);
	hist_line_put(l, ",", 1);
	hist_line_num_or_empty(l, b->thickness_estimated_nm);
	hist_line_put(l, ",", 1);
	hist_line_num_or_empty(l, b->thickness_measured_nm);
	hist_line_put(l, ",", 1);
	hist_line_number(l, b->time_scale);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->software_version);
	hist_line_put(l, ",", 1);
	hist_line_csv(l, b->failure_cause);
	return hist_csv_row(e);
}

/* A CSV table's rows of one batch: 0 to go on, 1 to stop (error set, or gone). */
static int
hist_csv_batches(struct hist_export *e, const struct db_batch *b)
{
	return hist_csv_batch_row(e, b);
}

static int
hist_csv_steps(struct hist_export *e, const struct db_batch *b)
{
	return hist_listed(e->db, &e->error, e->c, db_steps(e->db, b->id, hist_export_step,
	    e)) == -1;
}

static int
hist_csv_bilayers(struct hist_export *e, const struct db_batch *b)
{
	return hist_listed(e->db, &e->error, e->c, db_bilayers(e->db, b->id,
	    hist_export_bilayer, e)) == -1;
}

static int
hist_csv_solutions(struct hist_export *e, const struct db_batch *b)
{
	return hist_listed(e->db, &e->error, e->c, db_solutions(e->db, b->id,
	    hist_export_solution, e)) == -1;
}

static int
hist_csv_baselines(struct hist_export *e, const struct db_batch *b)
{
	return hist_listed(e->db, &e->error, e->c, db_baselines(e->db, b->id,
	    hist_export_baseline, e)) == -1;
}

static int
hist_csv_events(struct hist_export *e, const struct db_batch *b)
{
	return hist_listed(e->db, &e->error, e->c, db_events(e->db, b->id, hist_export_event,
	    e)) == -1;
}

/*
 * The CSV export's tables, in the order written: each a section "# NAME",
 * its header row, its rows, then an empty line; --table NAME writes one
 * table alone (its header row and rows), for tools that import one table
 * per file.
 */
struct hist_csv_table {
	const char *name;
	const char *columns;
	int (*batch)(struct hist_export *e, const struct db_batch *b);
};

static const struct hist_csv_table hist_csv_tables[] = {
	{ "batches", HIST_CSV_BATCHES, hist_csv_batches },
	{ "steps", HIST_CSV_STEPS, hist_csv_steps },
	{ "bilayers", HIST_CSV_BILAYERS, hist_csv_bilayers },
	{ "solutions", HIST_CSV_SOLUTIONS, hist_csv_solutions },
	{ "baselines", HIST_CSV_BASELINES, hist_csv_baselines },
	{ "events", HIST_CSV_EVENTS, hist_csv_events },
};

#define HIST_CSV_TABLE_NAMES "batches, steps, bilayers, solutions, baselines, events"

/*
 * One list of a batch as a JSON member, a row a line: hist_export_open
 * before the listing, hist_export_close with its result. Each returns 0,
 * or 1 to stop (error set, or the client went away).
 */
static int
hist_export_open(struct hist_export *e, const char *key)
{
	json_key(&e->j, key);
	json_array_begin(&e->j);
	return hist_export_emit(e);
}

static int
hist_export_close(struct hist_export *e, int rc)
{
	if (hist_listed(e->db, &e->error, e->c, rc) == -1)
		return 1;
	json_array_end(&e->j);
	return 0;
}

/*
 * One batch: in JSON everything show prints (identity, recipe and rig,
 * texts, thickness, solutions and lots, steps, bilayers, QCM baselines,
 * events); in CSV its rows of the table being written (e->table). A
 * db_history callback: 0 to go on, 1 to stop (error set, or the client
 * went away).
 */
static int
hist_export_batch(void *arg, const struct db_batch *b)
{
	struct hist_export *e = arg;
	struct db_recipe rig;
	const char *rig_sha = NULL;
	int rc;

	e->b = b;
	if (!e->json)
		return e->table->batch(e, b);
	if ((rc = db_rig_get(e->db, b->rig_id, &rig)) == -1) {
		e->error = db_error(e->db);
		return 1;
	}
	json_object_begin(&e->j);
	hist_json_int(&e->j, "id", (long long)b->id);
	hist_json_str(&e->j, "recipe", b->recipe_name);
	hist_json_str(&e->j, "recipe_version", b->recipe_version);
	hist_json_str(&e->j, "recipe_sha256", b->recipe_sha256);
	hist_json_str(&e->j, "rig", b->rig_name);
	if (rc == 0)
		rig_sha = rig.sha256;
	hist_json_str(&e->j, "rig_sha256", rig_sha);
	if (rc == 0)
		db_recipe_row_free(&rig);
	hist_json_str(&e->j, "substrate", b->substrate);
	hist_json_str(&e->j, "operator", b->operator_name);
	hist_json_str(&e->j, "note", b->note);
	hist_json_str(&e->j, "state", b->state);
	hist_json_str(&e->j, "started_at", b->started_at);
	hist_json_str(&e->j, "ended_at", b->ended_at);
	hist_json_int(&e->j, "bilayers_target", b->bilayers_target);
	hist_json_int(&e->j, "bilayers_done", b->bilayers_done);
	hist_json_num(&e->j, "thickness_target_nm", b->thickness_target_nm);
	hist_json_num(&e->j, "thickness_estimated_nm", b->thickness_estimated_nm);
	hist_json_num(&e->j, "thickness_measured_nm", b->thickness_measured_nm);
	hist_json_num(&e->j, "time_scale", b->time_scale);
	hist_json_str(&e->j, "software_version", b->software_version);
	hist_json_str(&e->j, "failure_cause", b->failure_cause);
	if (hist_export_open(e, "solutions") ||
	    hist_export_close(e, db_solutions(e->db, b->id, hist_export_solution, e)) ||
	    hist_export_open(e, "steps") ||
	    hist_export_close(e, db_steps(e->db, b->id, hist_export_step, e)) ||
	    hist_export_open(e, "bilayers") ||
	    hist_export_close(e, db_bilayers(e->db, b->id, hist_export_bilayer, e)) ||
	    hist_export_open(e, "baselines") ||
	    hist_export_close(e, db_baselines(e->db, b->id, hist_export_baseline, e)) ||
	    hist_export_open(e, "events") ||
	    hist_export_close(e, db_events(e->db, b->id, hist_export_event, e)))
		return 1;
	json_object_end(&e->j);
	return hist_export_emit(e);
}

static void
hist_export(struct db *db, struct reader_reply *c, const struct control_request *req)
{
	struct db_history_filter f;
	struct hist_export e;
	struct db_batch b;
	const char *table = NULL;
	size_t t, first = 0, last = sizeof(hist_csv_tables) / sizeof(hist_csv_tables[0]);
	int i, all = 0, json = -1, rc;
	int64_t id = 0;

	for (i = 1; i < req->argc; i++) {
		if (strcmp(req->argv[i], "--all") == 0)
			all = 1;
		else if (strcmp(req->argv[i], "--format") == 0 && i + 1 < req->argc) {
			i++;
			json = strcmp(req->argv[i], "json") == 0 ? 1 :
			    strcmp(req->argv[i], "csv") == 0 ? 0 : -2;
		} else if (strcmp(req->argv[i], "--table") == 0 && i + 1 < req->argc) {
			table = req->argv[++i];
		} else if ((id = atoll(req->argv[i])) <= 0) {
			reader_end(c, 2, "export: unexpected '%s'", req->argv[i]);
			return;
		}
	}
	if (json < 0 || (all == (id != 0))) {
		reader_end(c, 2, "usage: export ID|--all --format csv|json [--table TABLE]");
		return;
	}
	if (table != NULL) {
		for (t = 0; t < last && strcmp(hist_csv_tables[t].name, table) != 0; t++)
			;
		if (t == last || json) {
			reader_end(c, 2, "export: --table %s: %s", table, json ? "--table is for "
			    "--format csv (the JSON has every table)" : "no such table; the tables "
			    "are " HIST_CSV_TABLE_NAMES);
			return;
		}
		first = t;
		last = t + 1;
	}
	memset(&e, 0, sizeof(e));
	e.c = c;
	e.json = json;
	e.db = db;
	/* refuse a missing batch before any output: stdout stays empty on error */
	if (!all && (rc = db_batch_get(db, id, &b)) != 0) {
		if (rc == 1)
			reader_end(c, 2, "no batch %lld", (long long)id);
		else
			hist_read_failed(c, "export", id, db_error(db));
		return;
	}
	json_init(&e.j);
	if (json) {
		json_array_begin(&e.j);
		hist_export_emit(&e);
		first = 0;
		last = 1;	/* one pass: each batch's object holds every table */
	}
	memset(&f, 0, sizeof(f));
	for (t = first; t < last && e.error == NULL && !reader_cancelled(c); t++) {
		e.table = &hist_csv_tables[t];
		if (!json) {
			if (table == NULL && t > first)
				reader_print(c, "%s", "");	/* a table ends with an empty line */
			if (table == NULL)
				reader_print(c, "# %s", e.table->name);
			reader_print(c, "%s", e.table->columns);
		}
		if (all) {
			if (db_history(db, &f, hist_export_batch, &e) == -1 && e.error == NULL)
				e.error = db_error(db);
		} else {
			hist_export_batch(&e, &b);
		}
	}
	if (!all)
		db_batch_row_free(&b);
	if (json && e.error == NULL) {
		json_array_end(&e.j);
		hist_export_emit(&e);
	}
	json_free(&e.j);
	free(e.line.buf);
	if (e.error != NULL && all)
		reader_end(c, 1, "export: the record could not be read whole: %s", e.error);
	else if (e.error != NULL)
		hist_read_failed(c, "export", id, e.error);
	else
		reader_end(c, 0, " ");
}

/*
 * series ID: a batch's growth, for people and for lblctl plot: two comment
 * lines ("# batch ID: NAME@VERSION", "# substrate: TEXT", empty when none),
 * the header row "bilayer estimated_nm measured_nm", then a row per
 * finished bilayer, space-separated, NaN where not measured.
 */
static int
hist_series_row(void *arg, const struct db_bilayer *bl)
{
	if (isnan(bl->thickness_measured_nm))
		reader_print(arg, "%d %.4f NaN", bl->n, bl->thickness_estimated_nm);
	else
		reader_print(arg, "%d %.4f %.4f", bl->n, bl->thickness_estimated_nm,
		    bl->thickness_measured_nm);
	return reader_cancelled(arg);
}

static void
hist_series(struct db *db, struct reader_reply *c, const struct control_request *req)
{
	struct db_batch b;
	int64_t id = req->argc == 2 ? atoll(req->argv[1]) : 0;
	int rc = id > 0 ? db_batch_get(db, id, &b) : 1;

	if (rc == -1) {
		hist_read_failed(c, "series", id, db_error(db));
		return;
	}
	if (rc != 0) {
		reader_end(c, 2, "series: no batch %s", req->argc > 1 ? req->argv[1] : "given");
		return;
	}
	reader_print(c, "# batch %lld: %s@%s", (long long)id, b.recipe_name, b.recipe_version);
	reader_print(c, "# substrate: %s", b.substrate ? b.substrate : "");
	reader_print(c, "bilayer estimated_nm measured_nm");
	db_batch_row_free(&b);
	if (db_bilayers(db, id, hist_series_row, c) == -1)
		hist_read_failed(c, "series", id, db_error(db));
	else
		reader_end(c, 0, " ");
}

/*
 * The reader's work (reader_work): one request, answered in the reader
 * thread from its read-only connection. Every reply ends with reader_end.
 */
void
history_run(void *arg, struct db *db, struct reader_reply *c, int argc, char **argv)
{
	struct control_request request = { argc, argv, NULL, 0 };
	const struct control_request *req = &request;
	const char *cmd = argv[0];

	(void)arg;
	if (strcmp(cmd, "history") == 0)
		hist_history(db, c, req);
	else if (strcmp(cmd, "show") == 0)
		hist_show(db, c, req);
	else if (strcmp(cmd, "compare") == 0)
		hist_compare(db, c, req);
	else if (strcmp(cmd, "export") == 0)
		hist_export(db, c, req);
	else if (strcmp(cmd, "series") == 0)
		hist_series(db, c, req);
	else if (strcmp(cmd, "plan") == 0)
		planreq_run(db, c, argc, argv);
	else
		reader_end(c, 2, "unknown command '%s'", cmd);
}
