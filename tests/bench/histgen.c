/*
 * The synthetic batch record of bench_history, for benchmarks and tests
 * (see histgen.h). Its random choices come from a fixed xorshift sequence,
 * so a record is the same whenever it is made with the same arguments.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "db.h"
#include "db_private.h"		/* only for the handle (bulk load) */
#include "bench_util.h"
#include "histgen.h"

#define STEPS_PER_BATCH	HISTGEN_STEPS_PER_BATCH
#define BILAYERS	23		/* 2 pre + 23 x 4 cycle + 4 checkpoint + 2 post = 100 */

/* The record being made: batches in all, and how many are left for the API. */
static int histgen_total, histgen_reserve;

/* ---- small helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Uniform integer in [lo, hi]. */
static int64_t
rng_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
}

static double
rng_unit(void)
{
	return (double)(rng() >> 11) / 9007199254740992.0;
}

/* UTC ISO-8601 with milliseconds, as the db layer writes it. */
static void
fmt_utc(int64_t epoch_ms, char out[DB_TIME_LEN])
{
	time_t secs = (time_t)(epoch_ms / 1000);
	struct tm tm;
	size_t len;

	gmtime_r(&secs, &tm);
	len = strftime(out, DB_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + len, DB_TIME_LEN - len, ".%03dZ", (int)(epoch_ms % 1000));
}

static void
die(const char *what)
{
	fprintf(stderr, "histgen: %s\n", what);
	exit(1);
}

static void
sql_check(sqlite3 *sql, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "histgen: %s: %s\n", what, sqlite3_errmsg(sql));
		exit(1);
	}
}


/* ---- what the record is made of ---- */

struct recipe_def {
	const char *name, *a, *b;	/* recipe name, its two coating solutions */
	int dip_s, rinse_s;		/* dwell per dip and per rinse bath */
	double nm_per_bilayer;
	int versions;
	int has_target;
	int64_t ids[3];			/* recipe rows, one per version */
};

static struct recipe_def recipes[] = {
	{ "ag-tca-5", "ag", "tca", 300, 60, 7.8, 3, 1, { 0 } },
	{ "taa-cnt-3", "taa", "cnt", 180, 45, 3.1, 2, 1, { 0 } },
	{ "pei-pss", "pei", "pss", 300, 60, 2.4, 2, 0, { 0 } },
	{ "chi-alg", "chitosan", "alginate", 600, 120, 5.5, 1, 1, { 0 } },
	{ "pdda-go", "pdda", "go", 300, 60, 1.2, 2, 0, { 0 } },
	{ "pah-paa", "pah", "paa", 420, 60, 4.0, 1, 1, { 0 } },
	{ "lys-ha", "lysozyme", "ha", 300, 90, 6.2, 1, 0, { 0 } },
	{ "pdac-clay", "pdac", "clay", 60, 30, 1.8, 2, 1, { 0 } },
};
#define RECIPE_COUNT	(sizeof(recipes) / sizeof(recipes[0]))

static const char *const substrates[] = { "glass slide 25x75", "Si wafer 2in", "PET film A4",
	"Ni-plated polyester", "quartz QCM crystal", "ITO glass", "PDMS coupon", "Au-coated Si" };
static const char *const operators[] = { "mkeller", "asato", "jnovak", "lperez", "rchen",
	"ofarouk" };
static const char *const rig_names[] = { "dip-rig-1", "dip-rig-2" };
static const char *const fail_causes[] = {
	"arm z did not reach 30.0 mm within 8 s (position error 2.4 mm)",
	"rinse-1 level below minimum: pump p1 could not refill",
	"Modbus unit 3 (thermostat) did not answer 3 times",
	"the database did not record the start of step %d",
	"qcm reading out of range (raw 1e+09)",
};

/* One planned step of the 100-step plan every recipe shares. */
struct plan_row {
	int seq, bilayer;
	const char *phase, *kind, *station, *solution;
	int64_t planned_start_ms, planned_duration_ms, motion_ms, dwell_ms;
};

static void
plan_add(struct plan_row *p, int *n, int bilayer, const char *phase, const char *kind,
    const char *station, const char *solution, int64_t motion_ms, int64_t dwell_ms)
{
	struct plan_row *r = &p[*n];

	r->seq = *n + 1;
	r->bilayer = bilayer;
	r->phase = phase;
	r->kind = kind;
	r->station = station;
	r->solution = solution;
	r->planned_start_ms = *n ? p[*n - 1].planned_start_ms + p[*n - 1].planned_duration_ms : 0;
	r->motion_ms = motion_ms;
	r->dwell_ms = dwell_ms;
	r->planned_duration_ms = motion_ms + dwell_ms;
	(*n)++;
}

/* The plan of one recipe: 2 pre, 23 bilayers of 4 cycle steps, 4 checkpoints, 2 post. */
static void
plan_build_rows(const struct recipe_def *r, char names[2][32], struct plan_row p[STEPS_PER_BATCH])
{
	int n = 0, bl;

	snprintf(names[0], 32, "rinse-%s", r->a);
	snprintf(names[1], 32, "rinse-%s", r->b);
	plan_add(p, &n, 0, "pre", "prompt", NULL, NULL, 0, 0);
	plan_add(p, &n, 0, "pre", "move", "home", NULL, 8000, 0);
	for (bl = 1; bl <= BILAYERS; bl++) {
		plan_add(p, &n, bl, "cycle", "dip", r->a, r->a, 9000,
		    (int64_t)r->dip_s * (bl == 1 ? 2000 : 1000));
		plan_add(p, &n, bl, "cycle", "rinse", "rinse-1", names[0], 7000,
		    (int64_t)r->rinse_s * 1000);
		plan_add(p, &n, bl, "cycle", "dip", r->b, r->b, 9000, (int64_t)r->dip_s * 1000);
		plan_add(p, &n, bl, "cycle", "rinse", "rinse-2", names[1], 7000,
		    (int64_t)r->rinse_s * 1000);
		if (bl == 6 || bl == 12 || bl == 18 || bl == BILAYERS)
			plan_add(p, &n, bl, "checkpoint", "measure", "qcm", NULL, 6000, 14000);
	}
	plan_add(p, &n, 0, "post", "dry", "dryer", NULL, 6000, 30000);
	plan_add(p, &n, 0, "post", "move", "home", NULL, 8000, 0);
	if (n != STEPS_PER_BATCH)
		die("the plan does not have 100 steps");
}

/* ---- bulk load (one transaction, prepared statements on the product's columns) ---- */

struct bulk {
	sqlite3 *sql;
	sqlite3_stmt *batch, *step, *bilayer, *event, *solution;
	long long n_batches, n_steps, n_bilayers, n_events, n_solutions;
};

static sqlite3_stmt *
bulk_prepare(sqlite3 *sql, const char *text)
{
	sqlite3_stmt *st = NULL;

	sql_check(sql, sqlite3_prepare_v2(sql, text, -1, &st, NULL), text);
	return st;
}

static void
bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void
bind_double_or_null(sqlite3_stmt *st, int i, double v)
{
	if (isnan(v))
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

static void
bulk_run(struct bulk *k, sqlite3_stmt *st, const char *what)
{
	sql_check(k->sql, sqlite3_step(st), what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void
bulk_event(struct bulk *k, int64_t batch_id, int64_t at_ms, const char *kind,
    const char *device, const char *message)
{
	char at[DB_TIME_LEN];

	fmt_utc(at_ms, at);
	sqlite3_bind_int64(k->event, 1, batch_id);
	bind_text_or_null(k->event, 2, at);
	bind_text_or_null(k->event, 3, kind);
	bind_text_or_null(k->event, 4, device);
	bind_text_or_null(k->event, 5, message);
	bulk_run(k, k->event, "inserting an event");
	k->n_events++;
}

enum fate { F_COMPLETED, F_RESUMED, F_PAUSED, F_FAILED, F_ABORTED, F_INTERRUPTED };

static enum fate
pick_fate(void)
{
	int x = (int)rng_range(0, 999);

	if (x < 25)
		return F_FAILED;		/* 2.5 % */
	if (x < 40)
		return F_ABORTED;		/* 1.5 % */
	if (x < 50)
		return F_INTERRUPTED;		/* 1 %, never resumed */
	if (x < 80)
		return F_RESUMED;		/* 3 %: interrupted, resumed, completed */
	if (x < 150)
		return F_PAUSED;		/* 7 %: paused by the operator, completed */
	return F_COMPLETED;
}

/*
 * When the rigs are free (epoch ms): each rig runs one batch at a time, with
 * idle time between batches sized so that the record ends before end_ms.
 */
struct sched {
	int64_t rig_ids[2], rig_free[2], end_ms;
};

/* Inserts batch id on the next free rig; returns when it ended (epoch ms). */
static int64_t
bulk_batch(struct bulk *k, int64_t id, struct sched *sc)
{
	struct recipe_def *r = &recipes[rng_range(0, RECIPE_COUNT - 1)];
	struct plan_row p[STEPS_PER_BATCH];
	char names[2][32], t0[DB_TIME_LEN], t1[DB_TIME_LEN], msg[256], lot[2][32], cause[160];
	const char *sol_names[4];
	int vi = (int)(id * r->versions / (histgen_total + 1));	/* newer versions later in time */
	enum fate fate = pick_fate();
	int stop_seq = STEPS_PER_BATCH + 1, retry_seq = 0, s, bl_done = 0, dips[4] = { 0 };
	int64_t dev_ms = 0, t_ms = 0, resume_gap_ms = 0, start_ms, planned_ms, slot, idle;
	int rig = sc->rig_free[1] < sc->rig_free[0];
	double est = NAN, meas = NAN, vol[4] = { 0 };
	const char *state = "completed", *failure = NULL;

	plan_build_rows(r, names, p);
	planned_ms = p[STEPS_PER_BATCH - 1].planned_start_ms +
	    p[STEPS_PER_BATCH - 1].planned_duration_ms;
	/* idle before the batch: on average what is left per batch on this rig */
	slot = (sc->end_ms - sc->rig_free[rig]) / ((histgen_total - histgen_reserve - id) / 2 + 1) -
	    planned_ms - 900000;		/* prompts, pauses and resumes add ~15 min */
	idle = slot < 1200000 ? 600000 : rng_range(600000, 2 * slot - 600000);
	start_ms = sc->rig_free[rig] + idle;
	if (fate == F_FAILED || fate == F_ABORTED || fate == F_INTERRUPTED)
		stop_seq = (int)rng_range(2, STEPS_PER_BATCH);
	if (fate == F_RESUMED)
		retry_seq = (int)rng_range(3, STEPS_PER_BATCH - 1);	/* the step begun twice */

	/* the batch row first (steps refer to it); its totals are set at the end */
	fmt_utc(start_ms, t0);
	sqlite3_bind_int64(k->batch, 1, id);
	sqlite3_bind_int64(k->batch, 2, r->ids[vi]);
	sqlite3_bind_int64(k->batch, 3, sc->rig_ids[rig]);
	bind_text_or_null(k->batch, 4, substrates[rng_range(0, 7)]);
	bind_text_or_null(k->batch, 5, operators[rng_range(0, 5)]);
	bind_text_or_null(k->batch, 6, rng_range(0, 9) == 0 ? "second rinse bath replaced "
	    "mid-run; check the pH log" : NULL);
	bind_text_or_null(k->batch, 7, t0);
	sqlite3_bind_int(k->batch, 8, BILAYERS);
	bind_double_or_null(k->batch, 9, r->has_target ? round(BILAYERS * r->nm_per_bilayer) :
	    NAN);
	bind_text_or_null(k->batch, 10, id < histgen_total / 3 ? "0.7.2" : id < 2 * histgen_total / 3 ?
	    "0.8.1" : "0.9.0");

	snprintf(msg, sizeof(msg), "batch started: %s version %d, %d bilayers, planned %.0f s "
	    "(time scale 1)", r->name, vi + 1, BILAYERS,
	    (p[STEPS_PER_BATCH - 1].planned_start_ms + p[STEPS_PER_BATCH - 1].planned_duration_ms) /
	    1000.0);
	/* state and times are known only at the end: insert with placeholders, update after */
	bind_text_or_null(k->batch, 11, "running");
	bulk_run(k, k->batch, "inserting a batch");
	k->n_batches++;
	bulk_event(k, id, start_ms + 40, "info", NULL, msg);

	/* lots change every ~40 batches of a solution */
	snprintf(lot[0], sizeof(lot[0]), "%s-%04lld", r->a, (long long)(id / 40));
	snprintf(lot[1], sizeof(lot[1]), "%s-%04lld", r->b, (long long)(id / 40 + 7));
	sol_names[0] = r->a;
	sol_names[1] = r->b;
	sol_names[2] = names[0];
	sol_names[3] = names[1];

	for (s = 0; s < STEPS_PER_BATCH && s + 1 <= stop_seq; s++) {
		const struct plan_row *pr = &p[s];
		char utc[DB_TIME_LEN];
		int64_t actual_start, dur, motion, dwell;
		const char *outcome = "done";
		int attempts = 1;

		dev_ms += rng_range(-40, 90);		/* scheduling drift, a random walk */
		if (dev_ms < 0)
			dev_ms = 0;
		actual_start = pr->planned_start_ms + dev_ms;
		motion = pr->motion_ms ? pr->motion_ms + rng_range(-300, 600) : 0;
		dwell = pr->dwell_ms ? pr->dwell_ms + rng_range(0, 40) : 0;
		dur = strcmp(pr->kind, "prompt") == 0 ? rng_range(15000, 180000) : motion + dwell;
		if (pr->seq == 1) {
			snprintf(msg, sizeof(msg), "Mount the %s in the holder and close the door",
			    "substrate");
			bulk_event(k, id, start_ms + 60, "prompt", NULL, msg);
			bulk_event(k, id, start_ms + dur, "continue", NULL,
			    "operator continued: Mount the substrate in the holder and close the door");
		}
		if (fate == F_PAUSED && pr->seq == 50) {
			int64_t at = start_ms + t_ms + resume_gap_ms;
			int64_t gap = rng_range(60000, 1800000);
			bulk_event(k, id, at - 20000, "operator", NULL,
			    "pause requested at the next step boundary");
			snprintf(msg, sizeof(msg), "paused before step %d", pr->seq);
			bulk_event(k, id, at, "pause", NULL, msg);
			resume_gap_ms += gap;
			snprintf(msg, sizeof(msg), "resumed at step %d", pr->seq);
			bulk_event(k, id, at + gap, "resume", NULL, msg);
		}
		if (pr->seq == stop_seq) {
			/* the step the batch ended in */
			dur = rng_range(100, dur > 200 ? dur - 100 : 200);
			outcome = fate == F_INTERRUPTED ? "aborted" : "failed";
			dwell = dwell > dur ? dur / 2 : dwell;
			motion = dur - dwell;
		}
		if (pr->seq == retry_seq) {
			int64_t at = start_ms + actual_start + resume_gap_ms + 1000;
			attempts = 2;
			snprintf(msg, sizeof(msg), "lbld stopped while the batch was running; marked "
			    "interrupted; last completed step: %d; step %d was in progress and is "
			    "marked aborted", pr->seq - 1, pr->seq);
			bulk_event(k, id, at, "fault", NULL, msg);
			resume_gap_ms += rng_range(300000, 7200000);
			at = start_ms + actual_start + resume_gap_ms;
			snprintf(msg, sizeof(msg), "batch resumed after step %d of %d", pr->seq - 1,
			    STEPS_PER_BATCH);
			bulk_event(k, id, at, "resume", NULL, msg);
			snprintf(msg, sizeof(msg), "step %d begun again (attempt 2); the attempt "
			    "before ended aborted", pr->seq);
			bulk_event(k, id, at + 5, "info", NULL, msg);
		}
		fmt_utc(start_ms + actual_start + resume_gap_ms, utc);
		sqlite3_bind_int64(k->step, 1, id);
		sqlite3_bind_int(k->step, 2, pr->seq);
		sqlite3_bind_int(k->step, 3, pr->bilayer);
		bind_text_or_null(k->step, 4, pr->phase);
		bind_text_or_null(k->step, 5, pr->kind);
		bind_text_or_null(k->step, 6, pr->station);
		bind_text_or_null(k->step, 7, pr->solution);
		sqlite3_bind_int64(k->step, 8, pr->planned_start_ms);
		sqlite3_bind_int64(k->step, 9, pr->planned_duration_ms);
		bind_text_or_null(k->step, 10, utc);
		sqlite3_bind_int64(k->step, 11, actual_start);
		sqlite3_bind_int64(k->step, 12, dur);
		sqlite3_bind_int64(k->step, 13, motion);
		sqlite3_bind_int64(k->step, 14, dwell);
		bind_text_or_null(k->step, 15, outcome);
		sqlite3_bind_int(k->step, 16, attempts);
		bulk_run(k, k->step, "inserting a step");
		k->n_steps++;
		t_ms = actual_start + dur;
		if (strcmp(pr->kind, "prompt") == 0 && strcmp(outcome, "done") == 0) {
			/* an operator wait shifts the schedule's origin (run.c: t0_ns) */
			t_ms = actual_start;
			resume_gap_ms += dur;
		}
		if (strcmp(outcome, "done") != 0)
			break;
		if (pr->solution != NULL) {
			int j;
			for (j = 0; j < 4; j++)
				if (strcmp(sol_names[j], pr->solution) == 0) {
					dips[j]++;
					vol[j] += j < 2 ? 0.05 : 0.5;	/* drag-out; rinse top-up */
				}
		}
		/* a bilayer ends with its last cycle or checkpoint step */
		if (pr->bilayer > 0 && (s + 1 == STEPS_PER_BATCH || p[s + 1].bilayer != pr->bilayer)) {
			char ended[DB_TIME_LEN];
			double m = NAN;
			est = pr->bilayer * r->nm_per_bilayer;
			if (strcmp(pr->kind, "measure") == 0) {
				m = est * (0.92 + 0.16 * rng_unit());
				meas = m;
				snprintf(msg, sizeof(msg), "measured %.1f nm after bilayer %d (raw %.6g)",
				    m, pr->bilayer, 5e6 - m * 9.7);
				bulk_event(k, id, start_ms + t_ms + resume_gap_ms - 10, "info", "qcm",
				    msg);
			}
			fmt_utc(start_ms + t_ms + resume_gap_ms, ended);
			sqlite3_bind_int64(k->bilayer, 1, id);
			sqlite3_bind_int(k->bilayer, 2, pr->bilayer);
			bind_text_or_null(k->bilayer, 3, ended);
			bind_double_or_null(k->bilayer, 4, est);
			bind_double_or_null(k->bilayer, 5, m);
			bulk_run(k, k->bilayer, "inserting a bilayer");
			k->n_bilayers++;
			bl_done = pr->bilayer;
		}
	}

	/* how it ended */
	t_ms += resume_gap_ms;
	switch (fate) {
	case F_FAILED:
		state = "failed";
		snprintf(cause, sizeof(cause), fail_causes[rng_range(0, 4)], stop_seq);
		failure = cause;
		bulk_event(k, id, start_ms + t_ms + 5, "fault", strncmp(cause, "arm", 3) == 0 ? "arm" :
		    NULL, cause);
		break;
	case F_ABORTED:
		state = "aborted";
		failure = "aborted by the operator";
		bulk_event(k, id, start_ms + t_ms - 2000, "operator", NULL, "abort requested");
		bulk_event(k, id, start_ms + t_ms + 5, "abort", NULL, failure);
		break;
	case F_INTERRUPTED:
		state = "interrupted";
		failure = "lbld stopped while the batch was running";
		t_ms += rng_range(60000, 3600000);	/* marked when lbld started again */
		snprintf(msg, sizeof(msg), "%s; marked interrupted; last completed step: %d; step %d "
		    "was in progress and is marked aborted", failure, stop_seq - 1, stop_seq);
		bulk_event(k, id, start_ms + t_ms, "fault", NULL, msg);
		break;
	default:
		snprintf(msg, sizeof(msg), "batch completed: %d bilayers", BILAYERS);
		bulk_event(k, id, start_ms + t_ms + 5, "info", NULL, msg);
		break;
	}
	for (s = 0; s < 4; s++) {
		sqlite3_bind_int64(k->solution, 1, id);
		bind_text_or_null(k->solution, 2, sol_names[s]);
		bind_text_or_null(k->solution, 3, s < 2 ? lot[s] : NULL);
		sqlite3_bind_int(k->solution, 4, dips[s]);
		bind_double_or_null(k->solution, 5, vol[s]);
		bind_double_or_null(k->solution, 6, dips[s] * 8.0);
		bulk_run(k, k->solution, "inserting a solution");
		k->n_solutions++;
	}
	fmt_utc(start_ms + t_ms + 5, t1);
	{
		sqlite3_stmt *up;
		int last = strcmp(state, "completed") == 0 ? STEPS_PER_BATCH : stop_seq - 1;

		up = bulk_prepare(k->sql, "UPDATE batches SET state = ?2, ended_at = ?3, "
		    "bilayers_done = ?4, thickness_estimated_nm = ?5, thickness_measured_nm = ?6, "
		    "failure_cause = ?7, last_step_seq = ?8 WHERE id = ?1");
		sqlite3_bind_int64(up, 1, id);
		bind_text_or_null(up, 2, state);
		bind_text_or_null(up, 3, t1);
		sqlite3_bind_int(up, 4, bl_done);
		bind_double_or_null(up, 5, isnan(est) ? BILAYERS * r->nm_per_bilayer : est);
		bind_double_or_null(up, 6, meas);
		bind_text_or_null(up, 7, failure);
		sqlite3_bind_int(up, 8, last);
		sql_check(k->sql, sqlite3_step(up), "finishing a batch");
		sqlite3_finalize(up);
	}
	sc->rig_free[rig] = start_ms + t_ms;
	return start_ms + t_ms;
}

void
histgen_api_batch(struct db *db, const struct histgen *g, int rig,
    void (*timed)(void *arg, enum histgen_write what, double ms), void *arg)
{
	int64_t rig_id = g->rig_ids[rig % 2];
	struct recipe_def *r = &recipes[0];
	struct plan_row p[STEPS_PER_BATCH];
	struct db_batch_new nb;
	char names[2][32];
	int64_t batch_id;
	int s;

	plan_build_rows(r, names, p);
	memset(&nb, 0, sizeof(nb));
	nb.recipe_id = r->ids[r->versions - 1];
	nb.rig_id = rig_id;
	nb.substrate = substrates[0];
	nb.operator_name = operators[0];
	nb.bilayers_target = BILAYERS;
	nb.thickness_target_nm = round(BILAYERS * r->nm_per_bilayer);
	nb.thickness_estimated_nm = BILAYERS * r->nm_per_bilayer;
	nb.software_version = "bench";
	nb.time_scale = 1;
	if (db_batch_create(db, &nb, &batch_id) == -1)
		die("db_batch_create failed");
	db_solution_set(db, batch_id, r->a, "ag-bench", 0, 0, 0);
	db_solution_set(db, batch_id, r->b, "tca-bench", 0, 0, 0);
	db_event_add(db, batch_id, "info", NULL, "batch started (bench, through the db API)");
	for (s = 0; s < STEPS_PER_BATCH; s++) {
		struct db_step row;
		double t0;

		memset(&row, 0, sizeof(row));
		row.seq = p[s].seq;
		row.bilayer = p[s].bilayer;
		row.phase = p[s].phase;
		row.kind = p[s].kind;
		row.station = p[s].station;
		row.solution = p[s].solution;
		row.planned_start_ms = p[s].planned_start_ms;
		row.planned_duration_ms = p[s].planned_duration_ms;
		row.actual_start_ms = p[s].planned_start_ms + 12;
		t0 = bench_now_ms();
		if (db_step_begin(db, batch_id, &row) == -1)
			die("db_step_begin failed");
		timed(arg, HISTGEN_STEP_BEGIN, bench_now_ms() - t0);
		t0 = bench_now_ms();
		if (db_step_end(db, batch_id, row.seq, -1, p[s].planned_duration_ms, p[s].motion_ms,
		    p[s].dwell_ms, "done") == -1)
			die("db_step_end failed");
		timed(arg, HISTGEN_STEP_END, bench_now_ms() - t0);
		if (p[s].bilayer > 0 && (s + 1 == STEPS_PER_BATCH ||
		    p[s + 1].bilayer != p[s].bilayer)) {
			t0 = bench_now_ms();
			if (db_bilayer_done(db, batch_id, p[s].bilayer, p[s].bilayer *
			    r->nm_per_bilayer, NAN) == -1)
				die("db_bilayer_done failed");
			timed(arg, HISTGEN_BILAYER, bench_now_ms() - t0);
		}
	}
	db_solution_set(db, batch_id, r->a, "ag-bench", BILAYERS, BILAYERS * 0.05,
	    BILAYERS * 8.0);
	db_solution_set(db, batch_id, r->b, "tca-bench", BILAYERS, BILAYERS * 0.05,
	    BILAYERS * 8.0);
	if (db_batch_set_state(db, batch_id, "completed", NULL) == -1)
		die("db_batch_set_state failed");
	db_event_add(db, batch_id, "info", NULL, "batch completed: 23 bilayers");
}


void
histgen_fill(struct db *db, int batches, int reserve, int64_t end, struct histgen *g)
{
	struct bulk k;
	struct sched sc;
	char text[512];
	int64_t id;
	size_t i;
	int v;

	histgen_total = batches;
	histgen_reserve = reserve;
	memset(g, 0, sizeof(*g));
	/* recipes and rigs through the product, so sha256/dedup are real */
	for (i = 0; i < RECIPE_COUNT; i++)
		for (v = 0; v < recipes[i].versions; v++) {
			char ver[16];
			int n = snprintf(text, sizeof(text), "name: %s\nversion: \"%d\"\nprocess: dip\n"
			    "target: {bilayers: %d}\ngrowth: {model: linear, per_bilayer: %.1f nm}\n"
			    "solutions:\n  %s: {station: %s}\n  %s: {station: %s}\n"
			    "cycle:\n  - dip: {solution: %s, dwell: %ds}\n  - dip: {solution: %s, "
			    "dwell: %ds}\n", recipes[i].name, v + 1, BILAYERS,
			    recipes[i].nm_per_bilayer, recipes[i].a, recipes[i].a, recipes[i].b,
			    recipes[i].b, recipes[i].a, recipes[i].dip_s + v, recipes[i].b,
			    recipes[i].dip_s);
			snprintf(ver, sizeof(ver), "%d", v + 1);
			if (db_recipe_store(db, recipes[i].name, ver, text, (size_t)n,
			    &recipes[i].ids[v]) == -1)
				die("db_recipe_store failed");
		}
	for (i = 0; i < 2; i++) {
		int n = snprintf(text, sizeof(text), "name: %s\ndevices:\n  arm: {kind: axis}\n",
		    rig_names[i]);
		if (db_rig_store(db, rig_names[i], text, (size_t)n, &sc.rig_ids[i]) == -1)
			die("db_rig_store failed");
		g->rig_ids[i] = sc.rig_ids[i];
	}

	/* bulk: the older batches, one transaction */
	memset(&k, 0, sizeof(k));
	k.sql = db->sql;
	sql_check(k.sql, sqlite3_exec(k.sql, "BEGIN IMMEDIATE", NULL, NULL, NULL), "BEGIN");
	k.batch = bulk_prepare(k.sql, "INSERT INTO batches (id, recipe_id, rig_id, substrate, "
	    "operator, note, started_at, bilayers_target, thickness_target_nm, software_version, "
	    "state, time_scale) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1)");
	k.step = bulk_prepare(k.sql, "INSERT INTO steps (batch_id, seq, bilayer, phase, kind, "
	    "station, solution, planned_start_ms, planned_duration_ms, actual_start_utc, "
	    "actual_start_ms, actual_duration_ms, motion_ms, dwell_ms, outcome, attempts) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
	k.bilayer = bulk_prepare(k.sql, "INSERT INTO bilayers (batch_id, n, ended_at, "
	    "thickness_estimated_nm, thickness_measured_nm) VALUES (?1, ?2, ?3, ?4, ?5)");
	k.event = bulk_prepare(k.sql, "INSERT INTO events (batch_id, at, kind, device, message) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)");
	k.solution = bulk_prepare(k.sql, "INSERT INTO solutions (batch_id, name, lot, dips, "
	    "volume_ml, area_cm2) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	/* two rigs, back to back with idle time, over the ~4 years up to two days before */
	sc.end_ms = end - 2 * 86400000LL;
	sc.rig_free[0] = sc.end_ms - 4 * 365 * 86400000LL;
	sc.rig_free[1] = sc.rig_free[0] + 3600000;
	for (id = 1; id <= batches - reserve; id++) {
		int64_t e = bulk_batch(&k, id, &sc);
		if (e > g->end_ms)
			g->end_ms = e;
	}
	sqlite3_finalize(k.batch);
	sqlite3_finalize(k.step);
	sqlite3_finalize(k.bilayer);
	sqlite3_finalize(k.event);
	sqlite3_finalize(k.solution);
	sql_check(k.sql, sqlite3_exec(k.sql, "COMMIT", NULL, NULL, NULL), "COMMIT");
	sql_check(k.sql, sqlite3_exec(k.sql, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
	    "checkpoint");
	g->n_batches = k.n_batches;
	g->n_steps = k.n_steps;
	g->n_bilayers = k.n_bilayers;
	g->n_events = k.n_events;
	g->n_solutions = k.n_solutions;
}

int64_t
histgen_rng_range(int64_t lo, int64_t hi)
{
	return rng_range(lo, hi);
}
