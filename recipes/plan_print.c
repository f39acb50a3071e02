/*
 * Plan output: a readable timeline for people and one JSON document for
 * programs. Both print the same facts.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"

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
		fprintf(out, "  %-14s %-10s %4d %s, %7.2f mL used", rs->name,
		    rs->station ? rs->station : rs->nozzle ? rs->nozzle : "-", ps->dips,
		    r->process == PROCESS_SPRAY ? "sprays" : r->process == PROCESS_ROLL ?
		    "passes" : "dips  ", ps->volume_ml);
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
		fprintf(out, "%6d %-10s %-8s %-14s %10s %10s %12s", s->seq, layer, plan_step_name(s),
		    s->where ? s->where : "-", plan_dur(s->dwell_ms, b1, sizeof(b1)),
		    plan_dur(s->travel_ms + s->immerse_ms + s->withdraw_ms, b2, sizeof(b2)),
		    plan_clock(s->start_ms, b3, sizeof(b3)));
		if (s->quick_dips > 0)
			fprintf(out, "  %d quick dips", s->quick_dips);
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
		fprintf(out, "web: %.2f m coated with %d bilayers, %.2f m run through the line\n",
		    plan->web_coated_mm / 1000, plan->bilayers, plan->web_travel_mm / 1000);
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

static void
json_string(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* JSON has no NaN: unknown numbers are null. */
static void
json_number(FILE *out, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", out);
	else
		fprintf(out, "%.6g", v);
}

int
plan_print_json(const struct plan *plan, FILE *out)
{
	const struct recipe *r = plan->recipe;
	size_t i;
	int n;

	fprintf(out, "{\"recipe\":");
	json_string(out, r->name);
	fprintf(out, ",\"version\":");
	json_string(out, r->version);
	fprintf(out, ",\"process\":\"%s\",\"rig\":", recipe_process_names[r->process]);
	json_string(out, plan->rig ? plan->rig->name : NULL);
	fprintf(out, ",\"motion_included\":%s,\"bilayers\":%d,\"steps\":[",
	    plan->motion_included ? "true" : "false", plan->bilayers);
	for (i = 0; i < plan->count; i++) {
		const struct plan_step *s = &plan->steps[i];
		fprintf(out, "%s{\"seq\":%d,\"bilayer\":%d,\"phase\":\"%s\",\"step\":\"%s\","
		    "\"where\":", i ? "," : "", s->seq, s->bilayer, plan_phase_names[s->phase],
		    plan_step_name(s));
		json_string(out, s->where);
		fprintf(out, ",\"solution\":");
		json_string(out, s->solution >= 0 ? r->solutions[s->solution].name : NULL);
		fprintf(out, ",\"start_ms\":%lld,\"duration_ms\":%lld,\"travel_ms\":%lld,"
		    "\"immerse_ms\":%lld,\"dwell_ms\":%lld,\"withdraw_ms\":%lld,\"drip_ms\":%lld,"
		    "\"quick_dips\":%d,\"volume_ml\":", (long long)s->start_ms,
		    (long long)s->duration_ms, (long long)s->travel_ms, (long long)s->immerse_ms,
		    (long long)s->dwell_ms, (long long)s->withdraw_ms, (long long)s->drip_ms,
		    s->quick_dips);
		json_number(out, s->volume_ml);
		fprintf(out, ",\"operator_wait\":%s}", s->operator_wait ? "true" : "false");
	}
	fprintf(out, "],\"thickness_nm\":[");
	for (n = 1; n <= plan->bilayers; n++) {
		fprintf(out, "%s", n > 1 ? "," : "");
		json_number(out, plan->thickness_nm[n]);
	}
	fprintf(out, "],\"final_thickness_nm\":");
	json_number(out, plan->thickness_nm[plan->bilayers]);
	fprintf(out, ",\"target_thickness_nm\":");
	json_number(out, r->target_thickness_nm > 0 ? r->target_thickness_nm : NAN);
	fprintf(out, ",\"total_ms\":%lld,\"exposure_ms\":%lld,\"motion_ms\":%lld,"
	    "\"operator_waits\":%d,\"web_coated_mm\":", (long long)plan->total_ms,
	    (long long)plan->exposure_ms, (long long)plan->motion_ms, plan->operator_waits);
	json_number(out, plan->web_coated_mm);
	fprintf(out, ",\"solutions\":[");
	for (i = 0; i < r->solution_count; i++) {
		const struct plan_solution *ps = &plan->solutions[i];
		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_string(out, r->solutions[i].name);
		fprintf(out, ",\"uses\":%d,\"volume_ml\":", ps->dips);
		json_number(out, ps->volume_ml);
		fprintf(out, ",\"area_cm2\":");
		json_number(out, ps->area_cm2);
		fprintf(out, ",\"replacements\":%d}", ps->replacements);
	}
	fprintf(out, "],\"replacements\":[");
	for (i = 0, n = 0; i < plan->count; i++) {
		const struct plan_step *s = &plan->steps[i];
		if (s->kind != STEP_REPLACE)
			continue;
		fprintf(out, "%s{\"after_bilayer\":%d,\"solution\":", n++ ? "," : "", s->bilayer);
		json_string(out, r->solutions[s->solution].name);
		fprintf(out, ",\"by\":\"%s\",\"start_ms\":%lld}", s->operator_wait ? "operator" :
		    "pumps", (long long)s->start_ms);
	}
	fprintf(out, "]}\n");
	return ferror(out) ? -1 : 0;
}
