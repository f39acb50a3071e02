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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "lbl_limits.h"
#include "lbld.h"
#include "reader.h"
#include "textdiff.h"
#include "units.h"

/* JSON text with escapes; NULL as null. Into a control line via a buffer. */
static void
hist_json_str(char *buf, size_t size, const char *s)
{
	size_t n = 0;

	if (s == NULL) {
		snprintf(buf, size, "null");
		return;
	}
	buf[n++] = '"';
	for (; *s && n < size - 8; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)snprintf(buf + n, size - n, "\\u%04x", ch);
		} else {
			buf[n++] = (char)ch;
		}
	}
	buf[n++] = '"';
	buf[n] = '\0';
}

static void
hist_json_num(char *buf, size_t size, double v)
{
	if (isnan(v))
		snprintf(buf, size, "null");
	else
		snprintf(buf, size, "%.4g", v);
}

/* A number that must round-trip (a baseline in Hz, a volume): null when not finite. */
static void
hist_json_exact(char *buf, size_t size, double v)
{
	if (!isfinite(v))
		snprintf(buf, size, "null");
	else
		snprintf(buf, size, "%.17g", v);
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

struct hist_ctx {
	struct reader_reply *c;
	int json, count;
};

static int
hist_row(void *arg, const struct db_batch *b)
{
	struct hist_ctx *h = arg;
	char dur[32], thick[32], recipe[96];
	double span = hist_span_s(b->started_at, b->ended_at);

	if (isnan(span))
		snprintf(dur, sizeof(dur), "-");
	else
		units_format_duration((int64_t)(span * 1000), dur, sizeof(dur));
	if (h->json) {
		char r[160], v[64], s[200], o[200], st[32], t0[40], t1[40], te[24], tm[24];
		hist_json_str(r, sizeof(r), b->recipe_name);
		hist_json_str(v, sizeof(v), b->recipe_version);
		hist_json_str(s, sizeof(s), b->substrate);
		hist_json_str(o, sizeof(o), b->operator_name);
		hist_json_str(st, sizeof(st), b->state);
		hist_json_str(t0, sizeof(t0), b->started_at);
		hist_json_str(t1, sizeof(t1), b->ended_at);
		hist_json_num(te, sizeof(te), b->thickness_estimated_nm);
		hist_json_num(tm, sizeof(tm), b->thickness_measured_nm);
		reader_print(h->c, "%s{\"id\":%lld,\"recipe\":%s,\"version\":%s,\"substrate\":%s,"
		    "\"operator\":%s,\"state\":%s,\"started_at\":%s,\"ended_at\":%s,"
		    "\"bilayers_done\":%d,\"bilayers_target\":%d,\"thickness_estimated_nm\":%s,"
		    "\"thickness_measured_nm\":%s}", h->count ? "," : "[", (long long)b->id, r, v, s,
		    o, st, t0, t1, b->bilayers_done, b->bilayers_target, te, tm);
	} else {
		if (isnan(b->thickness_measured_nm))
			snprintf(thick, sizeof(thick), "%.1f est", b->thickness_estimated_nm);
		else
			snprintf(thick, sizeof(thick), "%.1f", b->thickness_measured_nm);
		snprintf(recipe, sizeof(recipe), "%s@%s", b->recipe_name, b->recipe_version);
		reader_print(h->c, "%6lld  %-22s %-18s %-10s %-11s %-19.19s %9s %5d/%-3d %10s",
		    (long long)b->id, recipe, b->substrate ? b->substrate : "-",
		    b->operator_name ? b->operator_name : "-", b->state, b->started_at, dur,
		    b->bilayers_done, b->bilayers_target, thick);
	}
	h->count++;
	return reader_cancelled(h->c);
}

static void
hist_history(struct db *db, struct reader_reply *c, const struct control_request *req)
{
	struct db_history_filter f;
	struct hist_ctx h;
	int i;

	memset(&f, 0, sizeof(f));
	memset(&h, 0, sizeof(h));
	h.c = c;
	for (i = 1; i < req->argc; i++) {
		const char *w = req->argv[i], *v = i + 1 < req->argc ? req->argv[i + 1] : NULL;
		if (strcmp(w, "--json") == 0) {
			h.json = 1;
			continue;
		}
		if (v == NULL) {
			reader_end(c, 2, "history: %s needs a value", w);
			return;
		}
		i++;
		if (strcmp(w, "--recipe") == 0)
			f.recipe = v;
		else if (strcmp(w, "--substrate") == 0)
			f.substrate = v;
		else if (strcmp(w, "--state") == 0)
			f.state = v;
		else if (strcmp(w, "--since") == 0)
			f.since = v;
		else if (strcmp(w, "--until") == 0)
			f.before = v;
		else if (strcmp(w, "--limit") == 0)
			f.limit = atoi(v);
		else {
			reader_end(c, 2, "history: unknown option %s (expected --recipe, "
			    "--substrate, --state, --since, --until, --limit or --json)", w);
			return;
		}
	}
	if (!h.json)
		reader_print(c, "%6s  %-22s %-18s %-10s %-11s %-19s %9s %9s %10s", "ID", "RECIPE",
		    "SUBSTRATE", "OPERATOR", "STATE", "STARTED (UTC)", "DURATION", "BILAYERS",
		    "NM");
	if (db_history(db, &f, hist_row, &h) == -1) {
		reader_end(c, 1, "the database could not list batches");
		return;
	}
	if (h.json)
		reader_print(c, "%s", h.count ? "]" : "[]");
	reader_end(c, 0, " ");
}

struct hist_export {
	struct reader_reply *c;
	struct db *l_db;
	const struct db_batch *b;
	int json, first;
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

struct hist_show_ctx {
	struct reader_reply *c;
	double time_scale;		/* durations are recorded in wall time */
};

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
	reader_print(arg, "  baseline %s %.1f Hz, %s (%s)", b->sensor, b->hz, b->source, b->at);
	return reader_cancelled(arg);
}

static int
hist_step(void *arg, const struct db_step *s)
{
	struct hist_show_ctx *ctx = arg;
	struct reader_reply *c = ctx->c;
	char planned[32], actual[32], dev[32], volume[80];

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
	char measured[32];

	if (isnan(b->thickness_measured_nm))
		snprintf(measured, sizeof(measured), "-");
	else
		snprintf(measured, sizeof(measured), "%.1f nm", b->thickness_measured_nm);
	reader_print(arg, "  bilayer %3d  ended %s  estimate %.1f nm  measured %s", b->n,
	    b->ended_at, b->thickness_estimated_nm, measured);
	return reader_cancelled(arg);
}

static int
hist_event(void *arg, const struct db_event *e)
{
	reader_print(arg, "  %s  %-9s %s%s%s", e->at, e->kind, e->device ? e->device : "",
	    e->device ? ": " : "", e->message);
	return reader_cancelled(arg);
}

static int
hist_solution(void *arg, const struct db_solution *s)
{
	reader_print(arg, "  %-14s lot %-14s %4d dips  %8.2f mL  %8.1f cm2", s->name,
	    s->lot ? s->lot : "-", s->dips, s->volume_ml, s->area_cm2);
	return reader_cancelled(arg);
}

static void
hist_show(struct db *db, struct reader_reply *c, const struct control_request *req)
{
	struct db_batch b;
	struct db_recipe recipe, rig;
	struct hist_show_ctx show_ctx;
	char *end;
	int64_t id;
	int with_recipe = 0, with_json = 0, i;

	id = req->argc > 1 ? strtoll(req->argv[1], &end, 10) : 0;
	if (req->argc < 2 || *end != '\0' || id <= 0) {
		reader_end(c, 2, "usage: show ID [--json] [--recipe]");
		return;
	}
	for (i = 2; i < req->argc; i++) {
		if (strcmp(req->argv[i], "--recipe") == 0) {
			with_recipe = 1;
		} else if (strcmp(req->argv[i], "--json") == 0) {
			with_json = 1;
		} else {
			reader_end(c, 2, "show: unknown option %s", req->argv[i]);
			return;
		}
	}
	if (db_batch_get(db, id, &b) != 0) {
		reader_end(c, 2, "no batch %lld", (long long)id);
		return;
	}
	if (db_recipe_get(db, b.recipe_id, &recipe) != 0) {
		db_batch_row_free(&b);
		reader_end(c, 1, "the recipe of batch %lld is missing", (long long)id);
		return;
	}
	if (with_json && !with_recipe) {
		/* the whole record as one JSON object: the export format, one batch */
		struct hist_export e;

		memset(&e, 0, sizeof(e));
		e.c = c;
		e.json = 1;
		e.first = 1;
		e.l_db = db;
		hist_export_batch(&e, &b);
		db_recipe_row_free(&recipe);
		db_batch_row_free(&b);
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
	if (db_rig_get(db, b.rig_id, &rig) == 0) {
		reader_print(c, "rig:       %s, sha256 %s", rig.name, rig.sha256);
		db_recipe_row_free(&rig);
	}
	reader_print(c, "substrate: %s", b.substrate ? b.substrate : "-");
	reader_print(c, "operator:  %s", b.operator_name ? b.operator_name : "-");
	if (b.note)
		reader_print(c, "note:      %s", b.note);
	reader_print(c, "started:   %s", b.started_at);
	reader_print(c, "ended:     %s", b.ended_at ? b.ended_at : "-");
	reader_print(c, "bilayers:  %d of %d", b.bilayers_done, b.bilayers_target);
	reader_print(c, "thickness: target %s, estimated %.1f nm, measured %s",
	    isnan(b.thickness_target_nm) ? "-" : "set", b.thickness_estimated_nm,
	    isnan(b.thickness_measured_nm) ? "-" : "see bilayers");
	reader_print(c, "software:  lbl %s, time scale %g", b.software_version, b.time_scale);
	if (b.failure_cause)
		reader_print(c, "cause:     %s", b.failure_cause);
	reader_print(c, "solutions:");
	db_solutions(db, id, hist_solution, c);
	reader_print(c, "steps:");
	reader_print(c, "%5s %4s %-10s %-7s %-12s %11s %10s %10s %9s %8s %-8s", "seq", "bl",
	    "phase", "kind", "where", "planned@s", "planned", "actual", "start dev", "motion s",
	    "outcome");
	show_ctx.c = c;
	show_ctx.time_scale = b.time_scale > 0 ? b.time_scale : 1;
	db_steps(db, id, hist_step, &show_ctx);
	reader_print(c, "bilayers:");
	db_bilayers(db, id, hist_bilayer, c);
	reader_print(c, "baselines:");
	db_baselines(db, id, hist_baseline, c);
	reader_print(c, "events:");
	db_events(db, id, hist_event, c);
	db_recipe_row_free(&recipe);
	db_batch_row_free(&b);
	reader_end(c, 0, " ");
}

/* ---- compare ---- */


/* What compare needs of one batch, read once. */
struct hist_batch {
	struct db_batch b;
	struct db_recipe recipe, rig;
	struct db_step *steps;		/* copied: kind/station/solution point into names */
	size_t step_count, step_cap;
	char *names;			/* string storage for steps */
	size_t names_len, names_cap;
	struct db_solution sol[32];
	char sol_text[32][2][128];
	int sol_count;
	int events[16];			/* counts by kind index */
	double measured[64];		/* per bilayer, NAN if none */
	int bilayer_count;
};

static const char *const hist_event_kinds[] = { "fault", "pause", "resume", "prompt",
	"continue", "abort", "estop", "interlock", "operator", "info", NULL };

static const char *
hist_keep(struct hist_batch *h, const char *s)
{
	size_t n;
	char *names;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	if (h->names_len + n > h->names_cap) {
		size_t cap = (h->names_cap + n) * 2;
		if ((names = realloc(h->names, cap)) == NULL)
			return NULL;
		h->names = names;
		h->names_cap = cap;
	}
	memcpy(h->names + h->names_len, s, n);
	h->names_len += n;
	/* return an offset now; turned into pointers once all steps are in */
	return (const char *)(uintptr_t)(h->names_len - n + 1);
}

static int
hist_keep_step(void *arg, const struct db_step *s)
{
	struct hist_batch *h = arg;

	if (h->step_count == HIST_MAX_STEPS_KEPT)
		return 1;
	if (h->step_count == h->step_cap) {
		size_t cap = h->step_cap ? h->step_cap * 2 : 256;
		struct db_step *steps = realloc(h->steps, cap * sizeof(*steps));
		if (steps == NULL)
			return 1;
		h->steps = steps;
		h->step_cap = cap;
	}
	h->steps[h->step_count] = *s;
	h->steps[h->step_count].kind = hist_keep(h, s->kind);
	h->steps[h->step_count].station = hist_keep(h, s->station);
	h->steps[h->step_count].solution = hist_keep(h, s->solution);
	h->steps[h->step_count].phase = NULL;
	h->steps[h->step_count].outcome = NULL;
	h->steps[h->step_count].actual_start_utc = NULL;
	h->step_count++;
	return 0;
}

static int
hist_keep_solution(void *arg, const struct db_solution *s)
{
	struct hist_batch *h = arg;

	if (h->sol_count == 32)
		return 1;
	h->sol[h->sol_count] = *s;
	snprintf(h->sol_text[h->sol_count][0], 128, "%s", s->name);
	snprintf(h->sol_text[h->sol_count][1], 128, "%s", s->lot ? s->lot : "-");
	h->sol[h->sol_count].name = h->sol_text[h->sol_count][0];
	h->sol[h->sol_count].lot = h->sol_text[h->sol_count][1];
	h->sol_count++;
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

	if (b->n > 0 && b->n <= 64) {
		h->measured[b->n - 1] = b->thickness_measured_nm;
		if (b->n > h->bilayer_count)
			h->bilayer_count = b->n;
	}
	return 0;
}

static void
hist_batch_free(struct hist_batch *h)
{
	db_batch_row_free(&h->b);
	db_recipe_row_free(&h->recipe);
	db_recipe_row_free(&h->rig);
	free(h->steps);
	free(h->names);
}

static int
hist_batch_load(struct db *db, int64_t id, struct hist_batch *h)
{
	size_t i;
	int k;

	memset(h, 0, sizeof(*h));
	for (k = 0; k < 64; k++)
		h->measured[k] = NAN;
	if (db_batch_get(db, id, &h->b) != 0)
		return -1;
	if (db_recipe_get(db, h->b.recipe_id, &h->recipe) != 0 ||
	    db_rig_get(db, h->b.rig_id, &h->rig) != 0 ||
	    db_steps(db, id, hist_keep_step, h) == -1 ||
	    db_solutions(db, id, hist_keep_solution, h) == -1 ||
	    db_events(db, id, hist_keep_event, h) == -1 ||
	    db_bilayers(db, id, hist_keep_bilayer, h) == -1) {
		hist_batch_free(h);
		return -1;
	}
	for (i = 0; i < h->step_count; i++) {
		struct db_step *s = &h->steps[i];
		s->kind = s->kind ? h->names + (uintptr_t)s->kind - 1 : NULL;
		s->station = s->station ? h->names + (uintptr_t)s->station - 1 : NULL;
		s->solution = s->solution ? h->names + (uintptr_t)s->solution - 1 : NULL;
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

/* Exposure (dwell) per solution: the first thing to check when films differ. */
static double
hist_dwell_s(const struct hist_batch *h, const char *solution)
{
	double ms = 0;
	size_t i;

	for (i = 0; i < h->step_count; i++)
		if (h->steps[i].solution && strcmp(h->steps[i].solution, solution) == 0 &&
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
	char name_a[64], name_b[64], nm_a[32], nm_b[32];
	double resolution_s, exposure_a, exposure_b;
	int64_t id_a, id_b;
	int same;
	int i, j;

	if (req->argc < 3 || (id_a = atoll(req->argv[1])) <= 0 || (id_b = atoll(req->argv[2])) <= 0) {
		reader_end(c, 2, "usage: compare ID1 ID2 [--tolerance SECONDS]");
		return;
	}
	if (req->argc == 5 && strcmp(req->argv[3], "--tolerance") == 0)
		tolerance_s = atof(req->argv[4]);
	if (hist_batch_load(db, id_a, &a) == -1) {
		reader_end(c, 2, "no batch %lld", (long long)id_a);
		return;
	}
	if (hist_batch_load(db, id_b, &b) == -1) {
		hist_batch_free(&a);
		reader_end(c, 2, "no batch %lld", (long long)id_b);
		return;
	}
	reader_print(c, "batch %lld (%s, %s)  ->  batch %lld (%s, %s)", (long long)id_a, a.b.state,
	    a.b.started_at, (long long)id_b, b.b.state, b.b.started_at);
	snprintf(name_a, sizeof(name_a), "batch %lld: %s@%s", (long long)id_a, a.recipe.name,
	    a.recipe.version);
	snprintf(name_b, sizeof(name_b), "batch %lld: %s@%s", (long long)id_b, b.recipe.name,
	    b.recipe.version);
	if (strcmp(a.recipe.sha256, b.recipe.sha256) == 0) {
		reader_print(c, "recipe:    the same: %s@%s (sha256 %.12s)", a.recipe.name,
		    a.recipe.version, a.recipe.sha256);
	} else {
		reader_print(c, "recipe:    differs: %s@%s (%.12s)  ->  %s@%s (%.12s)", a.recipe.name,
		    a.recipe.version, a.recipe.sha256, b.recipe.name, b.recipe.version,
		    b.recipe.sha256);
		textdiff(a.recipe.yaml, name_a, b.recipe.yaml, name_b, 2, hist_diff_line, c);
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
			reader_print(c, "  %-14s only in the first batch", x->name);
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
		reader_print(c, "  %-14s %s%s%s, %d%s%d dips, %.0f%s%.0f s exposure%s", x->name,
		    x->lot, strcmp(x->lot, y->lot) ? " -> " : "", strcmp(x->lot, y->lot) ? y->lot :
		    "", x->dips, x->dips != y->dips ? " -> " : "=", y->dips, exposure_a,
		    same ? "=" : " -> ", same ? exposure_a : exposure_b,
		    strcmp(x->lot, y->lot) ? "   (lot changed)" : "");
	}
	reader_print(c, "thickness: estimated %.1f -> %.1f nm, measured %s -> %s nm",
	    a.b.thickness_estimated_nm, b.b.thickness_estimated_nm,
	    hist_nm(a.b.thickness_measured_nm, nm_a, sizeof(nm_a)),
	    hist_nm(b.b.thickness_measured_nm, nm_b, sizeof(nm_b)));
	for (i = 0; i < a.bilayer_count && i < b.bilayer_count; i++)
		if (!isnan(a.measured[i]) || !isnan(b.measured[i]))
			reader_print(c, "  bilayer %2d measured %6s -> %6s nm", i + 1,
			    hist_nm(a.measured[i], nm_a, sizeof(nm_a)),
			    hist_nm(b.measured[i], nm_b, sizeof(nm_b)));
	reader_print(c, "step timing beyond %.1f s (recipe time):", tolerance_s);
	hist_compare_steps(c, &a, &b, tolerance_s);
	reader_print(c, "events:");
	for (i = 0; hist_event_kinds[i]; i++)
		if ((a.events[i] || b.events[i]) && strcmp(hist_event_kinds[i], "info") != 0)
			reader_print(c, "  %-10s %d -> %d", hist_event_kinds[i], a.events[i], b.events[i]);
	hist_batch_free(&a);
	hist_batch_free(&b);
	reader_end(c, 0, " ");
}

/* ---- export ---- */

/* Stable CSV columns; documented in README.md. Never reorder: append. */
#define HIST_CSV_COLUMNS "batch_id,recipe,recipe_version,recipe_sha256,substrate,operator,"\
	"batch_state,time_scale,seq,bilayer,phase,kind,station,solution,planned_start_ms,"\
	"planned_duration_ms,actual_start_utc,actual_start_ms,actual_duration_ms,motion_ms,"\
	"dwell_ms,outcome,volume_planned_ml,volume_measured_ml"

static void
hist_csv_field(char *buf, size_t size, const char *s)
{
	size_t n = 0;

	if (s == NULL) {
		buf[0] = '\0';
		return;
	}
	if (strpbrk(s, ",\"\n") == NULL) {
		snprintf(buf, size, "%s", s);
		return;
	}
	buf[n++] = '"';
	for (; *s && n < size - 3; s++) {
		if (*s == '"')
			buf[n++] = '"';
		buf[n++] = *s == '\n' ? ' ' : *s;
	}
	buf[n++] = '"';
	buf[n] = '\0';
}


static int
hist_export_step(void *arg, const struct db_step *s)
{
	struct hist_export *e = arg;
	const struct db_batch *b = e->b;

	if (e->json) {
		char kind[32], st[160], sol[160], ph[32], oc[32], utc[48], vp[32], vm[32];
		hist_json_str(kind, sizeof(kind), s->kind);
		hist_json_str(st, sizeof(st), s->station);
		hist_json_str(sol, sizeof(sol), s->solution);
		hist_json_str(ph, sizeof(ph), s->phase);
		hist_json_str(oc, sizeof(oc), s->outcome);
		hist_json_str(utc, sizeof(utc), s->actual_start_utc);
		hist_json_exact(vp, sizeof(vp), s->volume_planned_ml);
		hist_json_exact(vm, sizeof(vm), s->volume_measured_ml);
		reader_print(e->c, "%s{\"seq\":%d,\"bilayer\":%d,\"phase\":%s,\"kind\":%s,"
		    "\"station\":%s,\"solution\":%s,\"planned_start_ms\":%lld,"
		    "\"planned_duration_ms\":%lld,\"actual_start_utc\":%s,\"actual_start_ms\":%lld,"
		    "\"actual_duration_ms\":%lld,\"motion_ms\":%lld,\"dwell_ms\":%lld,"
		    "\"outcome\":%s,\"volume_planned_ml\":%s,\"volume_measured_ml\":%s}",
		    e->first ? "" : ",", s->seq, s->bilayer, ph, kind, st, sol,
		    (long long)s->planned_start_ms, (long long)s->planned_duration_ms, utc,
		    (long long)s->actual_start_ms, (long long)s->actual_duration_ms,
		    (long long)s->motion_ms, (long long)s->dwell_ms, oc, vp, vm);
	} else {
		char r[160], v[64], sub[200], op[200], st[160], sol[160], vp[32] = "", vm[32] = "";
		if (!isnan(s->volume_planned_ml))
			snprintf(vp, sizeof(vp), "%.17g", s->volume_planned_ml);
		if (!isnan(s->volume_measured_ml))
			snprintf(vm, sizeof(vm), "%.17g", s->volume_measured_ml);
		hist_csv_field(r, sizeof(r), b->recipe_name);
		hist_csv_field(v, sizeof(v), b->recipe_version);
		hist_csv_field(sub, sizeof(sub), b->substrate);
		hist_csv_field(op, sizeof(op), b->operator_name);
		hist_csv_field(st, sizeof(st), s->station);
		hist_csv_field(sol, sizeof(sol), s->solution);
		reader_print(e->c, "%lld,%s,%s,%s,%s,%s,%s,%g,%d,%d,%s,%s,%s,%s,%lld,%lld,%s,%lld,"
		    "%lld,%lld,%lld,%s,%s,%s", (long long)b->id, r, v, b->recipe_sha256, sub, op,
		    b->state, b->time_scale, s->seq, s->bilayer, s->phase, s->kind, st, sol,
		    (long long)s->planned_start_ms, (long long)s->planned_duration_ms,
		    s->actual_start_utc ? s->actual_start_utc : "", (long long)s->actual_start_ms,
		    (long long)s->actual_duration_ms, (long long)s->motion_ms,
		    (long long)s->dwell_ms, s->outcome, vp, vm);
	}
	e->first = 0;
	return reader_cancelled(e->c);
}

static int
hist_export_bilayer(void *arg, const struct db_bilayer *bl)
{
	struct hist_export *e = arg;
	char est[24], mea[24];

	hist_json_num(est, sizeof(est), bl->thickness_estimated_nm);
	hist_json_num(mea, sizeof(mea), bl->thickness_measured_nm);
	reader_print(e->c, "%s{\"n\":%d,\"ended_at\":\"%s\",\"thickness_estimated_nm\":%s,"
	    "\"thickness_measured_nm\":%s}", e->first ? "" : ",", bl->n, bl->ended_at, est, mea);
	e->first = 0;
	return reader_cancelled(e->c);
}

static int
hist_export_baseline(void *arg, const struct db_baseline *bl)
{
	struct hist_export *e = arg;
	char sensor[160], source[160], at[48], hz[32];

	hist_json_str(sensor, sizeof(sensor), bl->sensor);
	hist_json_str(source, sizeof(source), bl->source);
	hist_json_str(at, sizeof(at), bl->at);
	hist_json_exact(hz, sizeof(hz), bl->hz);
	reader_print(e->c, "%s{\"sensor\":%s,\"baseline_hz\":%s,\"source\":%s,\"at\":%s}",
	    e->first ? "" : ",", sensor, hz, source, at);
	e->first = 0;
	return reader_cancelled(e->c);
}

static int
hist_export_batch(void *arg, const struct db_batch *b)
{
	struct hist_export *e = arg;
	struct hist_export inner = *e;

	inner.b = b;
	inner.first = 1;
	if (e->json) {
		char r[160], v[64], sub[200], op[200], st[32], t0[40], t1[40], cause[400], sha[80];
		hist_json_str(r, sizeof(r), b->recipe_name);
		hist_json_str(v, sizeof(v), b->recipe_version);
		hist_json_str(sha, sizeof(sha), b->recipe_sha256);
		hist_json_str(sub, sizeof(sub), b->substrate);
		hist_json_str(op, sizeof(op), b->operator_name);
		hist_json_str(st, sizeof(st), b->state);
		hist_json_str(t0, sizeof(t0), b->started_at);
		hist_json_str(t1, sizeof(t1), b->ended_at);
		hist_json_str(cause, sizeof(cause), b->failure_cause);
		reader_print(e->c, "%s{\"id\":%lld,\"recipe\":%s,\"recipe_version\":%s,"
		    "\"recipe_sha256\":%s,\"substrate\":%s,\"operator\":%s,\"state\":%s,"
		    "\"started_at\":%s,\"ended_at\":%s,\"bilayers_target\":%d,\"bilayers_done\":%d,"
		    "\"time_scale\":%g,\"failure_cause\":%s,\"steps\":[", e->first ? "" : ",",
		    (long long)b->id, r, v, sha, sub, op, st, t0, t1, b->bilayers_target,
		    b->bilayers_done, b->time_scale, cause);
		db_steps(e->l_db, b->id, hist_export_step, &inner);
		reader_print(e->c, "],\"bilayers\":[");
		inner.first = 1;
		db_bilayers(e->l_db, b->id, hist_export_bilayer, &inner);
		reader_print(e->c, "],\"baselines\":[");
		inner.first = 1;
		db_baselines(e->l_db, b->id, hist_export_baseline, &inner);
		reader_print(e->c, "]}");
	} else {
		db_steps(e->l_db, b->id, hist_export_step, &inner);
	}
	e->first = 0;
	return reader_cancelled(e->c);
}

static void
hist_export(struct db *db, struct reader_reply *c, const struct control_request *req)
{
	struct db_history_filter f;
	struct hist_export e;
	struct db_batch b;
	int i, all = 0, json = -1;
	int64_t id = 0;

	for (i = 1; i < req->argc; i++) {
		if (strcmp(req->argv[i], "--all") == 0)
			all = 1;
		else if (strcmp(req->argv[i], "--format") == 0 && i + 1 < req->argc) {
			i++;
			json = strcmp(req->argv[i], "json") == 0 ? 1 :
			    strcmp(req->argv[i], "csv") == 0 ? 0 : -2;
		} else if ((id = atoll(req->argv[i])) <= 0) {
			reader_end(c, 2, "export: unexpected '%s'", req->argv[i]);
			return;
		}
	}
	if (json < 0 || (all == (id != 0))) {
		reader_end(c, 2, "usage: export ID|--all --format csv|json");
		return;
	}
	memset(&e, 0, sizeof(e));
	e.c = c;
	e.json = json;
	e.first = 1;
	e.l_db = db;
	/* refuse a missing batch before any output: stdout stays empty on error */
	if (!all && db_batch_get(db, id, &b) != 0) {
		reader_end(c, 2, "no batch %lld", (long long)id);
		return;
	}
	if (json)
		reader_print(c, "[");
	else
		reader_print(c, "%s", HIST_CSV_COLUMNS);
	if (all) {
		memset(&f, 0, sizeof(f));
		if (db_history(db, &f, hist_export_batch, &e) == -1) {
			reader_end(c, 1, "the database could not list batches");
			return;
		}
	} else {
		hist_export_batch(&e, &b);
		db_batch_row_free(&b);
	}
	if (json)
		reader_print(c, "]");
	reader_end(c, 0, " ");
}

/* series ID: "n estimated_nm measured_nm" per bilayer (NaN: none), for lblctl plot. */
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

	if (id <= 0 || db_batch_get(db, id, &b) != 0) {
		reader_end(c, 2, "series: no batch %s", req->argc > 1 ? req->argv[1] : "given");
		return;
	}
	reader_print(c, "# batch %lld %s@%s %s", (long long)id, b.recipe_name, b.recipe_version,
	    b.substrate ? b.substrate : "");
	db_batch_row_free(&b);
	if (db_bilayers(db, id, hist_series_row, c) == -1)
		reader_end(c, 1, "the database could not read batch %lld", (long long)id);
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
	else
		reader_end(c, 2, "unknown command '%s'", cmd);
}
