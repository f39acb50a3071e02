/*
 * Pre-flight checks (preflight.h). The devices a plan uses are those its
 * compiled steps command: each distinct step (recipe step, station, kind)
 * is compiled once, so a thousand-bilayer plan costs what one cycle does.
 * The reads of those devices go out together (devread.c); the other checks
 * are lbld's own knowledge, taken when the reads are in, so the report is
 * of one moment.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "devread.h"
#include "lbld.h"
#include "log.h"
#include "preflight.h"
#include "text.h"

/* A station the plan draws liquid from, and how much (no bath replacement between). */
struct preflight_bath {
	int station;
	double planned_ml;
	int replaced;			/* the plan replaces the bath: its volume is the recipe's */
};

struct preflight {
	struct lbld *l;
	const struct rig *rig;		/* the rig planned for: a reload ends the check */
	struct control_client *client;	/* NULL once it went away */
	unsigned char *want;		/* per device: the plan commands it */
	struct preflight_bath *baths;
	size_t bath_count;
	preflight_done_cb done;
	void *arg;
};

/* The report: lines appended, on allocation failure cut short with a note. */
struct preflight_report {
	char *text;
	size_t len, cap;
	int failures;
};

static void
preflight_add(struct preflight_report *r, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
preflight_add(struct preflight_report *r, int ok, const char *fmt, ...)
{
	char line[700];
	va_list ap;
	size_t n;
	char *grown;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!ok)
		r->failures++;
	n = strlen(line) + 7;
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		while (cap < r->len + n + 1)
			cap *= 2;
		if ((grown = realloc(r->text, cap)) == NULL) {
			/* the failure count still refuses the run */
			return;
		}
		r->text = grown;
		r->cap = cap;
	}
	/* "FAILED", never "FAIL ": a test's output quoting it must not count as a failure */
	r->len += (size_t)snprintf(r->text + r->len, r->cap - r->len, "%-6s %s\n",
	    ok ? "ok" : "FAILED", line);
}

static void
preflight_free(struct preflight *p)
{
	free(p->want);
	free(p->baths);
	free(p);
}

static void
preflight_watch(void *arg, struct control_client *client, enum control_event event)
{
	struct preflight *p = arg;

	(void)client;
	if (event == CONTROL_GONE)
		p->client = NULL;
}

/* Every device the plan commands answered, and none is in alarm. */
static void
preflight_devices(struct preflight *p, const struct hw_result *res, const int *reached,
    struct preflight_report *r)
{
	const struct rig *rig = p->rig;
	size_t i;
	int n = 0, bad = 0;

	for (i = 0; i < rig->device_count; i++) {
		if (!p->want[i])
			continue;
		n++;
		if (!reached[i]) {
			bad++;
			preflight_add(r, 0, "device '%s': no answer in time", rig->devices[i].name);
		} else if (!res[i].ok) {
			bad++;
			preflight_add(r, 0, "device '%s' is not reachable: %s", rig->devices[i].name,
			    res[i].error);
		} else if (res[i].alarm == 1) {
			bad++;
			preflight_add(r, 0, "device '%s' is in alarm ('lblctl hw' shows it; clear the "
			    "alarm at the device)", rig->devices[i].name);
		}
	}
	if (bad == 0)
		preflight_add(r, 1, "%d %s the plan uses %s, none in alarm", n,
		    text_plural(n, "device", "devices"), text_plural(n, "answers", "answer"));
}

/* Each bath the rig knows the volume of holds what the plan draws from it. */
static void
preflight_volumes(const struct preflight *p, struct preflight_report *r)
{
	const struct rig *rig = p->rig;
	size_t i;
	int checked = 0, bad = 0;

	for (i = 0; i < p->bath_count; i++) {
		const struct preflight_bath *b = &p->baths[i];
		const struct rig_station *st = &rig->stations[b->station];
		if (isnan(st->volume_ml) || b->replaced)
			continue;
		checked++;
		if (b->planned_ml > st->volume_ml) {
			bad++;
			preflight_add(r, 0, "station '%s': the plan draws %.3g mL from it, its "
			    "volume is %.3g mL (rig file)", st->name, b->planned_ml, st->volume_ml);
		}
	}
	if (bad == 0 && checked > 0)
		preflight_add(r, 1, "%d %s of known volume %s what the plan draws", checked,
		    text_plural(checked, "bath", "baths"), text_plural(checked, "holds", "hold"));
}

static void
preflight_reads_done(void *arg, const struct hw_result *res, const int *reached)
{
	struct preflight *p = arg;
	struct lbld *l = p->l;
	struct preflight_report r = { NULL, 0, 0, 0 };
	char why[600];
	int first;

	if (p->client != NULL)
		control_watch(p->client, NULL, NULL);
	if (res == NULL || l->rig != p->rig) {
		preflight_add(&r, 0, "the rig file was reloaded during the checks: run them again");
	} else {
		preflight_devices(p, res, reached, &r);
		if (home_check_batch(l->home, &first, why, sizeof(why)) == 0)
			preflight_add(&r, 1, "every axis the rig homes is homed");
		else
			preflight_add(&r, 0, "%s", why);
		if (act_safety_active(l->act, why, sizeof(why)))
			preflight_add(&r, 0, "%s", why);
		else
			preflight_add(&r, 1, "e-stop and interlocks released");
		preflight_volumes(p, &r);
	}
	p->done(p->arg, p->client, r.failures == 0, r.text != NULL ? r.text :
	    "FAILED out of memory writing the report\n");
	free(r.text);
	preflight_free(p);
}

/* Notes the device an action commands. */
static void
preflight_note_actions(struct preflight *p, const struct compile_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		if (list->actions[i].device >= 0 &&
		    (size_t)list->actions[i].device < p->rig->device_count)
			p->want[list->actions[i].device] = 1;
}

/* The planned draw on each station, from the plan's per-step volumes. */
static int
preflight_note_bath(struct preflight *p, const struct plan *plan, const struct plan_step *s)
{
	struct preflight_bath *grown;
	size_t i;

	if (s->station < 0 || s->solution < 0 || s->volume_ml <= 0)
		return 0;
	for (i = 0; i < p->bath_count && p->baths[i].station != s->station; i++)
		;
	if (i == p->bath_count) {
		if ((grown = realloc(p->baths, (p->bath_count + 1) * sizeof(*grown))) == NULL)
			return -1;
		p->baths = grown;
		p->baths[i].station = s->station;
		p->baths[i].planned_ml = 0;
		p->baths[i].replaced = 0;
		p->bath_count++;
	}
	p->baths[i].planned_ml += s->volume_ml;
	if (plan->solutions[s->solution].replacements > 0)
		p->baths[i].replaced = 1;
	return 0;
}

/*
 * The devices the plan commands and the draw on each bath. Steps are
 * compiled once per distinct (recipe step, station, kind): the devices a
 * step commands depend on nothing else.
 */
static int
preflight_scan(struct preflight *p, const struct recipe *recipe, const struct plan *plan)
{
	struct compile_state state = { 0 };
	struct compile_list list = { NULL, 0, 0 };
	struct { const void *src; int32_t station; uint8_t kind; } *seen = NULL, *grown;
	size_t i, k, n_seen = 0;
	int rc = 0;

	for (i = 0; i < plan->count && rc == 0; i++) {
		const struct plan_step *s = &plan->steps[i];
		if (preflight_note_bath(p, plan, s) == -1) {
			rc = -1;
			break;
		}
		for (k = 0; k < n_seen; k++)
			if (seen[k].src == s->src && seen[k].station == s->station &&
			    seen[k].kind == s->kind)
				break;
		if (k < n_seen)
			continue;
		if ((grown = realloc(seen, (n_seen + 1) * sizeof(*seen))) == NULL) {
			rc = -1;
			break;
		}
		seen = grown;
		seen[n_seen].src = s->src;
		seen[n_seen].station = s->station;
		seen[n_seen].kind = s->kind;
		n_seen++;
		if (compile_step(recipe, p->rig, s, &state, &list) == -1)
			rc = -1;
		else
			preflight_note_actions(p, &list);
	}
	compile_list_free(&list);
	free(seen);
	return rc;
}

int
preflight_start(struct lbld *l, const struct recipe *recipe, const struct plan *plan,
    struct control_client *client, preflight_done_cb done, void *arg, char *err,
    size_t err_size)
{
	struct preflight *p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->want = calloc(l->rig->device_count + 1, 1)) == NULL) {
		free(p);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	p->l = l;
	p->rig = l->rig;
	p->client = client;
	p->done = done;
	p->arg = arg;
	if (preflight_scan(p, recipe, plan) == -1) {
		preflight_free(p);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	if (client != NULL)
		control_watch(client, preflight_watch, p);
	/* devread_start answers at once when nothing is to be read: done still comes later */
	if (devread_start(l, p->want, preflight_reads_done, p, err, err_size) == -1) {
		if (client != NULL)
			control_watch(client, NULL, NULL);
		preflight_free(p);
		return -1;
	}
	return 0;
}

/* ---- lblctl preflight RECIPE ---- */

struct preflight_ask {
	struct recipe *recipe;
	struct plan *plan;
};

static void
preflight_answer(void *arg, struct control_client *client, int ok, const char *report)
{
	struct preflight_ask *a = arg;

	if (client != NULL) {
		control_out(client, "pre-flight of %s version %s on rig %s:", a->recipe->name,
		    a->recipe->version, a->plan->rig != NULL ? a->plan->rig->name : "?");
		control_out_text(client, report);
		if (ok)
			control_finish(client, 0, " ");
		else
			control_finish(client, 1, "pre-flight failed: a batch of %s would be refused",
			    a->recipe->name);
	}
	plan_free(a->plan);
	recipe_free(a->recipe);
	free(a);
}

void
preflight_request(struct lbld *l, struct control_client *client, struct recipe *recipe,
    struct plan *plan)
{
	struct preflight_ask *a;
	char err[300];

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		control_finish(client, 1, "preflight: out of memory");
		plan_free(plan);
		recipe_free(recipe);
		return;
	}
	a->recipe = recipe;
	a->plan = plan;
	if (preflight_start(l, recipe, plan, client, preflight_answer, a, err, sizeof(err)) ==
	    -1) {
		control_finish(client, 1, "preflight: %s", err);
		plan_free(plan);
		recipe_free(recipe);
		free(a);
	}
}
