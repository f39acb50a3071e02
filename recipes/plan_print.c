/*
 * Plan output: a readable timeline for people and one JSON document for
 * programs. Both print the same facts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "json.h"
#include "plan.h"
#include "profile.h"
#include "text.h"

static const char *
plan_step_name(const struct plan_step *s)
{
	if (s->kind == STEP_MOVE)
		return "move";
	return step_kind_names[s->kind];
}

/* "h:mm:ss.s" for the start offsets, so the column lines up. */
static char *
plan_clock(int64_t ms, char *buf, int size)
{
	snprintf(buf, size, "%lld:%02lld:%04.1f", (long long)(ms / 3600000),
	    (long long)(ms / 60000 % 60), (ms % 60000) / 1000.0);
	return buf;
}

static char *
plan_dur(int64_t ms, char *buf, int size)
{
	if (ms == 0)
		snprintf(buf, size, "-");
	else
		units_format_duration(ms, buf, size);
	return buf;
}

static void
plan_print_solutions(const struct plan *plan, FILE *out)
{
	const struct recipe *r = plan->recipe;
	size_t i;

	fprintf(out, "solutions:\n");
	for (i = 0; i < r->solution_count; i++) {
		const struct plan_solution *ps = &plan->solutions[i];
		const struct recipe_solution *rs = &r->solutions[i];
		const char *where = rs->station ? rs->station : rs->nozzle ? rs->nozzle : "-";
		char count[48];

		/* the count and its comma are one cell: no gap before the comma */
		snprintf(count, sizeof(count), "%4d %s,", ps->dips, r->process == PROCESS_SPRAY ?
		    text_plural(ps->dips, "spray", "sprays") : r->process == PROCESS_ROLL ?
		    text_plural(ps->dips, "pass", "passes") : text_plural(ps->dips, "dip", "dips"));
		fprintf(out, "  %s%*s %s%*s %-12s %7.2f mL used", rs->name, text_pad(rs->name, 14),
		    "", where, text_pad(where, 10), "", count, ps->volume_ml);
		if (ps->area_cm2 > 0)
			fprintf(out, ", %.0f cm2 immersed", ps->area_cm2);
		if (ps->replacements > 0)
			fprintf(out, ", replaced %d time%s", ps->replacements,
			    ps->replacements == 1 ? "" : "s");
		fprintf(out, "\n");
	}
}

int
plan_print_text(const struct plan *plan, FILE *out)
{
	const struct recipe *r = plan->recipe;
	char b1[32], b2[32], b3[32];
	size_t i;
	int n, any = 0;

	fprintf(out, "plan: %s version %s (%s) on %s\n", r->name, r->version,
	    recipe_process_names[r->process], plan->rig ? plan->rig->name : "no rig");
	if (!plan->motion_included && r->process != PROCESS_ROLL)
		fprintf(out, "note: no rig with axes given, so motion times are not included\n");
	fprintf(out, "%6s %-10s %-8s %-14s %10s %10s %12s\n", "seq", "bilayer", "step", "where",
	    "dwell", "motion", "start");
	for (i = 0; i < plan->count; i++) {
		const struct plan_step *s = &plan->steps[i];
		char layer[16];
		if (s->phase == PHASE_PRE)
			snprintf(layer, sizeof(layer), "pre");
		else if (s->phase == PHASE_POST)
			snprintf(layer, sizeof(layer), "post");
		else
			snprintf(layer, sizeof(layer), "%d%s", s->bilayer,
			    s->phase == PHASE_CHECKPOINT && s->kind != STEP_REPLACE ?
			    " check" : "");
		fprintf(out, "%6d %-10s %-8s %s%*s %10s %10s %12s", s->seq, layer, plan_step_name(s),
		    s->where ? s->where : "-", text_pad(s->where ? s->where : "-", 14), "", plan_dur(s->dwell_ms, b1, sizeof(b1)),
		    plan_dur(s->travel_ms + s->immerse_ms + s->withdraw_ms, b2, sizeof(b2)),
		    plan_clock(s->start_ms, b3, sizeof(b3)));
		if (s->quick_dips > 0)
			fprintf(out, "  %d quick %s", s->quick_dips,
			    text_plural(s->quick_dips, "dip", "dips"));
		if (s->operator_wait)
			fprintf(out, "  waits for operator");
		if (s->kind == STEP_REPLACE && !s->operator_wait)
			fprintf(out, "  by pumps");
		fprintf(out, "\n");
	}
	fprintf(out, "\nbilayers: %d\n", plan->bilayers);
	fprintf(out, "thickness estimate (nm) after each bilayer:");
	for (n = 1; n <= plan->bilayers; n++) {
		if (plan->bilayers > 20 && n > 10 && n < plan->bilayers - 4) {
			if (n == 11)
				fprintf(out, " ...");
			continue;
		}
		fprintf(out, " %d: %.1f", n, plan->thickness_nm[n]);
	}
	fprintf(out, "\nfinal thickness estimate: %.1f nm", plan->thickness_nm[plan->bilayers]);
	if (r->target_thickness_nm > 0)
		fprintf(out, " (target %.1f nm)", r->target_thickness_nm);
	fprintf(out, "\ntotal duration: %s (exposure %s, motion %s",
	    units_format_duration(plan->total_ms, b1, sizeof(b1)),
	    plan_dur(plan->exposure_ms, b2, sizeof(b2)), plan_dur(plan->motion_ms, b3, sizeof(b3)));
	fprintf(out, ")%s", plan->operator_waits ? "" : "\n");
	if (plan->operator_waits)
		fprintf(out, " plus %d operator wait%s\n", plan->operator_waits,
		    plan->operator_waits == 1 ? "" : "s");
	if (r->process == PROCESS_ROLL)
		fprintf(out, "web: %.2f m coated with %d %s, %.2f m run through the line\n",
		    plan->web_coated_mm / 1000, plan->bilayers,
		    text_plural(plan->bilayers, "bilayer", "bilayers"), plan->web_travel_mm / 1000);
	plan_print_solutions(plan, out);
	fprintf(out, "bath replacements:");
	for (i = 0; i < plan->count; i++) {
		const struct plan_step *s = &plan->steps[i];
		if (s->kind != STEP_REPLACE)
			continue;
		fprintf(out, "\n  after bilayer %d: %s (%s) %s at %s", s->bilayer,
		    r->solutions[s->solution].name, s->where ? s->where : "-",
		    s->operator_wait ? "by the operator" : "by pumps",
		    plan_clock(s->start_ms, b1, sizeof(b1)));
		any = 1;
	}
	fprintf(out, "%s\n", any ? "" : " none");
	return ferror(out) ? -1 : 0;
}

/*
 * Which profile operations each device has, for the action list (a pump
 * without a direction register is not told one). Devices without a
 * profile (GPIO) and a rig whose profiles do not load (check-rig reports
 * that) are taken to have them all. Returns NULL when out of memory.
 */
static int *
plan_device_ops(const struct rig *rig)
{
	struct profile_set *set = NULL;
	struct diag scratch;
	int *has;
	size_t i, op;

	if ((has = calloc(rig->device_count * PROFILE_OP_COUNT + 1, sizeof(*has))) == NULL)
		return NULL;
	diag_init(&scratch, rig->name);
	if (profile_set_load(rig, &scratch, &set) == -1)
		set = NULL;
	diag_free(&scratch);
	for (i = 0; i < rig->device_count; i++) {
		const struct profile *p = set != NULL ? profile_of(set, (int)i) : NULL;
		for (op = 0; op < PROFILE_OP_COUNT; op++)
			has[i * PROFILE_OP_COUNT + op] = p == NULL || p->ops[op].defined;
	}
	profile_set_free(set);
	return has;
}

/* A step's "actions": what the rig is told, in order (compile.h). */
static int
plan_json_actions(struct json *j, const struct plan *plan, const struct plan_step *s,
    struct compile_state *state, struct compile_list *list, const int *has)
{
	struct compile_op ops[COMPILE_MAX_OPS];
	size_t k;
	int n, i;

	if (compile_step(plan->recipe, plan->rig, s, state, list) == -1)
		return -1;
	json_key(j, "actions");
	json_array_begin(j);
	for (k = 0; k < list->count; k++) {
		const struct compile_action *a = &list->actions[k];
		if (a->device < 0) {
			json_object_begin(j);
			json_key(j, "op");
			json_string(j, compile_kind_names[a->kind]);
			json_key(j, "ms");
			json_int(j, a->ms);
			json_object_end(j);
			continue;
		}
		n = compile_ops(plan->rig, a, has + (size_t)a->device * PROFILE_OP_COUNT, ops);
		for (i = 0; i < n; i++) {
			json_object_begin(j);
			json_key(j, "device");
			json_string(j, plan->rig->devices[a->device].name);
			json_key(j, "op");
			json_string(j, ops[i].op);
			if (ops[i].has_value) {
				json_key(j, "value");
				json_number(j, ops[i].value);
			}
			json_object_end(j);
		}
	}
	json_array_end(j);
	return 0;
}

/*
 * Hands the text so far to the sink and empties it (json_clear), once it
 * is PLAN_JSON_PIECE_BYTES or more (always when force): 0, or -1 when the
 * writer failed or the sink said stop (*failed is then set).
 */
static int
plan_json_flush(struct json *j, plan_json_sink sink, void *arg, int force, int *failed)
{
	if (*failed)
		return -1;
	if (json_text(j) == NULL) {
		*failed = PLAN_JSON_NO_MEMORY;
		return -1;
	}
	if (!force && json_len(j) < PLAN_JSON_PIECE_BYTES)
		return 0;
	if (json_len(j) > 0 && sink(arg, json_text(j), json_len(j)) == -1) {
		*failed = PLAN_JSON_SINK_STOPPED;
		return -1;
	}
	json_clear(j);
	return 0;
}

static void
plan_json_steps(struct json *j, const struct plan *plan, plan_json_sink sink, void *arg,
    int *failed)
{
	const struct recipe *r = plan->recipe;
	struct compile_state state = { 0 };
	struct compile_list list = { 0 };
	int *has = plan->rig != NULL ? plan_device_ops(plan->rig) : NULL;
	size_t i;

	if (plan->rig != NULL && has == NULL)
		*failed = PLAN_JSON_NO_MEMORY;
	json_key(j, "steps");
	json_array_begin(j);
	for (i = 0; i < plan->count && !*failed; i++) {
		const struct plan_step *s = &plan->steps[i];
		json_object_begin(j);
		json_key(j, "seq");
		json_int(j, s->seq);
		json_key(j, "bilayer");
		json_int(j, s->bilayer);
		json_key(j, "phase");
		json_string(j, plan_phase_names[s->phase]);
		json_key(j, "step");
		json_string(j, plan_step_name(s));
		json_key(j, "where");
		json_string(j, s->where);
		json_key(j, "solution");
		json_string(j, s->solution >= 0 ? r->solutions[s->solution].name : NULL);
		json_key(j, "start_ms");
		json_int(j, s->start_ms);
		json_key(j, "duration_ms");
		json_int(j, s->duration_ms);
		json_key(j, "travel_ms");
		json_int(j, s->travel_ms);
		json_key(j, "immerse_ms");
		json_int(j, s->immerse_ms);
		json_key(j, "dwell_ms");
		json_int(j, s->dwell_ms);
		json_key(j, "withdraw_ms");
		json_int(j, s->withdraw_ms);
		json_key(j, "drip_ms");
		json_int(j, s->drip_ms);
		json_key(j, "quick_dips");
		json_int(j, s->quick_dips);
		json_key(j, "volume_ml");
		json_number(j, s->volume_ml);
		json_key(j, "operator_wait");
		json_bool(j, s->operator_wait);
		/* without a rig nothing is told: an empty list */
		if (plan_json_actions(j, plan, s, &state, &list, has) == -1)
			*failed = PLAN_JSON_NO_MEMORY;
		json_object_end(j);
		plan_json_flush(j, sink, arg, 0, failed);
	}
	json_array_end(j);
	compile_list_free(&list);
	free(has);
}

int
plan_json(const struct plan *plan, plan_json_sink sink, void *arg)
{
	const struct recipe *r = plan->recipe;
	struct json j;
	size_t i;
	int n, failed = 0;

	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "recipe");
	json_string(&j, r->name);
	json_key(&j, "version");
	json_string(&j, r->version);
	json_key(&j, "process");
	json_string(&j, recipe_process_names[r->process]);
	json_key(&j, "rig");
	json_string(&j, plan->rig ? plan->rig->name : NULL);
	json_key(&j, "motion_included");
	json_bool(&j, plan->motion_included);
	json_key(&j, "bilayers");
	json_int(&j, plan->bilayers);
	plan_json_steps(&j, plan, sink, arg, &failed);
	json_key(&j, "thickness_nm");
	json_array_begin(&j);
	for (n = 1; n <= plan->bilayers; n++)
		json_number(&j, plan->thickness_nm[n]);
	json_array_end(&j);
	json_key(&j, "final_thickness_nm");
	json_number(&j, plan->thickness_nm[plan->bilayers]);
	json_key(&j, "target_thickness_nm");
	json_number(&j, r->target_thickness_nm > 0 ? r->target_thickness_nm : NAN);
	json_key(&j, "total_ms");
	json_int(&j, plan->total_ms);
	json_key(&j, "exposure_ms");
	json_int(&j, plan->exposure_ms);
	json_key(&j, "motion_ms");
	json_int(&j, plan->motion_ms);
	json_key(&j, "operator_waits");
	json_int(&j, plan->operator_waits);
	json_key(&j, "web_coated_mm");
	json_number(&j, plan->web_coated_mm);
	json_key(&j, "solutions");
	json_array_begin(&j);
	for (i = 0; i < r->solution_count; i++) {
		const struct plan_solution *ps = &plan->solutions[i];
		json_object_begin(&j);
		json_key(&j, "name");
		json_string(&j, r->solutions[i].name);
		json_key(&j, "uses");
		json_int(&j, ps->dips);
		json_key(&j, "volume_ml");
		json_number(&j, ps->volume_ml);
		json_key(&j, "area_cm2");
		json_number(&j, ps->area_cm2);
		json_key(&j, "replacements");
		json_int(&j, ps->replacements);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_key(&j, "replacements");
	json_array_begin(&j);
	for (i = 0; i < plan->count; i++) {
		const struct plan_step *s = &plan->steps[i];
		if (s->kind != STEP_REPLACE)
			continue;
		json_object_begin(&j);
		json_key(&j, "after_bilayer");
		json_int(&j, s->bilayer);
		json_key(&j, "solution");
		json_string(&j, r->solutions[s->solution].name);
		json_key(&j, "by");
		json_string(&j, s->operator_wait ? "operator" : "pumps");
		json_key(&j, "start_ms");
		json_int(&j, s->start_ms);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	plan_json_flush(&j, sink, arg, 1, &failed);
	json_free(&j);
	return failed ? -failed : 0;
}

static int
plan_file_sink(void *arg, const char *text, size_t len)
{
	return fwrite(text, 1, len, arg) == len ? 0 : -1;
}

/*
 * The plan as one JSON document on out, a line; lblctl plan --json.
 * Returns 0, or -1 when out of memory (said on stderr) or the output failed.
 */
int
plan_print_json(const struct plan *plan, FILE *out)
{
	int rc = plan_json(plan, plan_file_sink, out);

	if (rc == -PLAN_JSON_NO_MEMORY)
		fprintf(stderr, "plan: out of memory writing the plan as JSON\n");
	if (rc != 0 || fputc('\n', out) == EOF || ferror(out))
		return -1;
	return 0;
}
