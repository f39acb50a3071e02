/*
 * History at scale: builds a realistic record of 10,000 batches of 100 steps
 * (1,000,000 step rows) with their bilayers, events and solution lots, then
 * times what `lblctl history` (all batches, --recipe, --since, --state) and
 * `lblctl show ID` ask of the database, through the same db_ functions the
 * daemon calls (daemon/history.c), and prints p50/max against the targets
 * (history < 100 ms, show < 50 ms). Prints figures; asserts nothing.
 *
 * The schema is the product's: db_open creates and migrates the file, and
 * recipes and rigs go through db_recipe_store/db_rig_store. Recording a
 * million steps through db_step_begin/db_step_end (two committed
 * transactions each, synchronous=FULL) would take hours, so all but the
 * last few batches are bulk-inserted in one transaction with prepared
 * statements on the product's columns; the last batches run through the
 * product's own write path, which is timed too (per-step commit cost).
 * db_batch_verify_steps then checks bulk and API batches alike.
 *
 * Usage: bench_history [DB_PATH]   (default /tmp/bench_history-PID.db;
 * the file and its -wal/-shm are deleted at the end).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "db_private.h"		/* only for the handle (bulk load) and the cached SQL text */
#include "log.h"

#define BATCHES		10000
#define STEPS_PER_BATCH	100
#define BILAYERS	23		/* 2 pre + 23 x 4 cycle + 4 checkpoint + 2 post = 100 */
#define API_BATCHES	3		/* the newest batches, recorded through the product's API */
#define REPS		20
#define HISTORY_TARGET_MS	100.0
#define SHOW_TARGET_MS		50.0

/* ---- small helpers ---- */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

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

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_history: %s\n", what);
	exit(1);
}

static void
sql_check(sqlite3 *sql, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "bench_history: %s: %s\n", what, sqlite3_errmsg(sql));
		exit(1);
	}
}

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
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
	int vi = (int)(id * r->versions / (BATCHES + 1));	/* newer versions later in time */
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
	slot = (sc->end_ms - sc->rig_free[rig]) / ((BATCHES - API_BATCHES - id) / 2 + 1) -
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
	bind_text_or_null(k->batch, 10, id < BATCHES / 3 ? "0.7.2" : id < 2 * BATCHES / 3 ?
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

/* ---- the product's write path, for the newest batches ---- */

struct timing {
	double *v;
	size_t n, cap;
};

static void
timing_add(struct timing *t, double ms)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		if ((t->v = realloc(t->v, t->cap * sizeof(*t->v))) == NULL)
			die("out of memory");
	}
	t->v[t->n++] = ms;
}

static double
timing_pct(struct timing *t, double pct)
{
	size_t i;

	if (t->n == 0)
		return NAN;
	qsort(t->v, t->n, sizeof(*t->v), compare_double);
	i = (size_t)(pct / 100.0 * (double)(t->n - 1) + 0.5);
	return t->v[i];
}

static void
api_batch(struct db *db, int64_t rig_id, struct timing *begin_t, struct timing *end_t,
    struct timing *bilayer_t)
{
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
		t0 = now_ms();
		if (db_step_begin(db, batch_id, &row) == -1)
			die("db_step_begin failed");
		timing_add(begin_t, now_ms() - t0);
		t0 = now_ms();
		if (db_step_end(db, batch_id, row.seq, -1, p[s].planned_duration_ms, p[s].motion_ms,
		    p[s].dwell_ms, "done") == -1)
			die("db_step_end failed");
		timing_add(end_t, now_ms() - t0);
		if (p[s].bilayer > 0 && (s + 1 == STEPS_PER_BATCH ||
		    p[s + 1].bilayer != p[s].bilayer)) {
			t0 = now_ms();
			if (db_bilayer_done(db, batch_id, p[s].bilayer, p[s].bilayer *
			    r->nm_per_bilayer, NAN) == -1)
				die("db_bilayer_done failed");
			timing_add(bilayer_t, now_ms() - t0);
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

/* ---- the read side, as daemon/history.c uses it ---- */

/* hist_row's work minus the socket: formats the row as the table line would. */
static int
history_cb(void *arg, const struct db_batch *b)
{
	char line[320];
	long *rows = arg;

	snprintf(line, sizeof(line), "%6lld  %s@%-18s %-18s %-10s %-11s %-19.19s %-24s %5d/%-3d "
	    "%10.1f", (long long)b->id, b->recipe_name, b->recipe_version,
	    b->substrate ? b->substrate : "-", b->operator_name ? b->operator_name : "-", b->state,
	    b->started_at, b->ended_at ? b->ended_at : "-", b->bilayers_done, b->bilayers_target,
	    isnan(b->thickness_measured_nm) ? b->thickness_estimated_nm : b->thickness_measured_nm);
	if (line[0] != '\0')
		(*rows)++;
	return 0;
}

static int
show_step_cb(void *arg, const struct db_step *s)
{
	char line[256];
	long *rows = arg;

	snprintf(line, sizeof(line), "%5d %4d %-10s %-7s %-12s %11.1f %+.2fs %s", s->seq,
	    s->bilayer, s->phase, s->kind, s->station ? s->station : "-",
	    s->planned_start_ms / 1000.0, (s->actual_start_ms - s->planned_start_ms) / 1000.0,
	    s->outcome);
	(*rows)++;
	return 0;
}

static int
show_bilayer_cb(void *arg, const struct db_bilayer *b)
{
	long *rows = arg;

	(void)b;
	(*rows)++;
	return 0;
}

static int
show_event_cb(void *arg, const struct db_event *e)
{
	char line[640];
	long *rows = arg;

	snprintf(line, sizeof(line), "  %s  %-9s %s%s%s", e->at, e->kind, e->device ? e->device :
	    "", e->device ? ": " : "", e->message);
	(*rows)++;
	return 0;
}

static int
show_solution_cb(void *arg, const struct db_solution *s)
{
	long *rows = arg;

	(void)s;
	(*rows)++;
	return 0;
}

/* What hist_show reads for `lblctl show ID`, in its order. Returns the rows read. */
static long
show_batch(struct db *db, int64_t id)
{
	struct db_batch b;
	struct db_recipe recipe, rig;
	long rows = 0;

	if (db_batch_get(db, id, &b) != 0)
		die("db_batch_get failed");
	if (db_recipe_get(db, b.recipe_id, &recipe) != 0)
		die("db_recipe_get failed");
	if (db_rig_get(db, b.rig_id, &rig) == 0)
		db_recipe_row_free(&rig);
	if (db_solutions(db, id, show_solution_cb, &rows) == -1 ||
	    db_steps(db, id, show_step_cb, &rows) == -1 ||
	    db_bilayers(db, id, show_bilayer_cb, &rows) == -1 ||
	    db_events(db, id, show_event_cb, &rows) == -1)
		die("reading a batch failed");
	db_recipe_row_free(&recipe);
	db_batch_row_free(&b);
	return rows + 1;
}

/* Prints the query plan of a statement the product has prepared (its exact SQL). */
static void
explain(struct db *db, sqlite3_stmt *st)
{
	sqlite3_stmt *ex;
	char text[1400];

	if (st == NULL)
		return;
	snprintf(text, sizeof(text), "EXPLAIN QUERY PLAN %s", sqlite3_sql(st));
	if (sqlite3_prepare_v2(db->sql, text, -1, &ex, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(ex) == SQLITE_ROW)
		printf("        plan: %s\n", (const char *)sqlite3_column_text(ex, 3));
	sqlite3_finalize(ex);
}

struct result {
	const char *name;
	double p50, max, target;
	long rows;
};

static int all_met = 1;

static void
report(struct result *res)
{
	int met = res->max < res->target;

	printf("  %-34s rows %6ld  p50 %8.2f ms  max %8.2f ms  target < %3.0f ms: %s\n",
	    res->name, res->rows, res->p50, res->max, res->target,
	    met ? "met" : res->p50 < res->target ? "p50 met, max NOT met" : "NOT met");
	if (!met)
		all_met = 0;
}

static void
time_history(struct db *db, const char *name, const struct db_history_filter *f,
    struct result *res)
{
	struct timing t = { 0 };
	long rows = 0;
	int i;

	for (i = 0; i < REPS; i++) {
		double t0 = now_ms();
		rows = 0;
		if (db_history(db, f, history_cb, &rows) == -1)
			die("db_history failed");
		timing_add(&t, now_ms() - t0);
	}
	res->name = name;
	res->rows = rows;
	res->p50 = timing_pct(&t, 50);
	res->max = timing_pct(&t, 100);
	res->target = HISTORY_TARGET_MS;
	free(t.v);
}

int
main(int argc, char **argv)
{
	char default_path[128], wal[160], shm[160], since[DB_TIME_LEN], text[512];
	const char *path;
	struct db *db = NULL;
	struct bulk k;
	struct timing begin_t = { 0 }, end_t = { 0 }, bilayer_t = { 0 }, show_t = { 0 };
	struct result res[6];
	int64_t end_ms = 0, id;
	struct sched sc;
	double t_build, t0, t_bulk, t_api;
	long long size_db, size_wal;
	size_t i;
	int v, nres = 0;
	long show_rows = 0;
	struct timespec ts;

	log_init("bench_history", LOG_WARNING);
	snprintf(default_path, sizeof(default_path), "/tmp/bench_history-%ld.db", (long)getpid());
	path = argc > 1 ? argv[1] : default_path;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	unlink(path);
	unlink(wal);
	unlink(shm);

	printf("bench_history: %d batches x %d steps in %s (SQLite %s)\n", BATCHES,
	    STEPS_PER_BATCH, path, sqlite3_libversion());
	t_build = now_ms();
	if (db_open(path, &db) == -1)
		die("db_open failed");

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
	}

	/* bulk: the older batches, one transaction */
	t0 = now_ms();
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
	/* two rigs, back to back with idle time, over the ~4 years up to yesterday */
	clock_gettime(CLOCK_REALTIME, &ts);
	sc.end_ms = (int64_t)ts.tv_sec * 1000 - 2 * 86400000LL;
	sc.rig_free[0] = sc.end_ms - 4 * 365 * 86400000LL;
	sc.rig_free[1] = sc.rig_free[0] + 3600000;
	for (id = 1; id <= BATCHES - API_BATCHES; id++) {
		int64_t e = bulk_batch(&k, id, &sc);
		if (e > end_ms)
			end_ms = e;
	}
	sqlite3_finalize(k.batch);
	sqlite3_finalize(k.step);
	sqlite3_finalize(k.bilayer);
	sqlite3_finalize(k.event);
	sqlite3_finalize(k.solution);
	sql_check(k.sql, sqlite3_exec(k.sql, "COMMIT", NULL, NULL, NULL), "COMMIT");
	sql_check(k.sql, sqlite3_exec(k.sql, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
	    "checkpoint");
	t_bulk = now_ms() - t0;
	if (end_ms > (int64_t)ts.tv_sec * 1000)
		printf("warning: the bulk record ends in the future\n");

	/* the newest batches through the product's write path (per-step commits) */
	t0 = now_ms();
	for (i = 0; i < API_BATCHES; i++)
		api_batch(db, sc.rig_ids[i % 2], &begin_t, &end_t, &bilayer_t);
	t_api = now_ms() - t0;
	k.n_batches += API_BATCHES;
	k.n_steps += API_BATCHES * STEPS_PER_BATCH;
	db_close(db);
	t_build = now_ms() - t_build;

	{
		/* exact counts and file size, with a fresh connection */
		sqlite3 *sql;
		sqlite3_stmt *st;
		const char *q = "SELECT (SELECT count(*) FROM batches), (SELECT count(*) FROM steps), "
		    "(SELECT count(*) FROM bilayers), (SELECT count(*) FROM events), "
		    "(SELECT count(*) FROM solutions), (SELECT count(*) FROM recipes), "
		    "(SELECT min(started_at) FROM batches), (SELECT max(started_at) FROM batches)";
		sql_check(NULL, sqlite3_open_v2(path, &sql, SQLITE_OPEN_READONLY, NULL), "open");
		sql_check(sql, sqlite3_prepare_v2(sql, q, -1, &st, NULL), "counting");
		if (sqlite3_step(st) == SQLITE_ROW)
			printf("record: %lld batches, %lld steps, %lld bilayers, %lld events, "
			    "%lld solution rows, %lld recipes; started %.10s .. %.10s\n",
			    (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
			    (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3),
			    (long long)sqlite3_column_int64(st, 4), (long long)sqlite3_column_int64(st, 5),
			    sqlite3_column_text(st, 6), sqlite3_column_text(st, 7));
		sqlite3_finalize(st);
		sqlite3_close(sql);
	}
	size_db = file_size(path);
	size_wal = file_size(wal);
	printf("build: %.1f s total; bulk %lld batches/%lld steps in one transaction %.1f s; "
	    "%d batches through the db API %.2f s\n", t_build / 1000, k.n_batches - API_BATCHES,
	    k.n_steps - API_BATCHES * STEPS_PER_BATCH, t_bulk / 1000, API_BATCHES, t_api / 1000);
	printf("db API per-step commits (synchronous=FULL, %zu steps): db_step_begin p50 %.2f ms "
	    "max %.2f ms; db_step_end p50 %.2f ms max %.2f ms; db_bilayer_done p50 %.2f ms\n",
	    begin_t.n, timing_pct(&begin_t, 50), timing_pct(&begin_t, 100),
	    timing_pct(&end_t, 50), timing_pct(&end_t, 100), timing_pct(&bilayer_t, 50));
	printf("  (1,000,000 steps at that rate: %.0f min)\n",
	    (timing_pct(&begin_t, 50) + timing_pct(&end_t, 50)) * 1e6 / 60000);
	printf("database size: %.1f MiB (+ wal %.1f MiB)\n", size_db / 1048576.0,
	    size_wal / 1048576.0);

	/* the read side, on a freshly opened handle (cold statement cache) */
	if (db_open(path, &db) == -1)
		die("db_open (reopen) failed");
	{
		/* the invariants resume relies on hold for bulk and API batches alike */
		char why[160];
		int64_t check[] = { 1, BATCHES / 2, BATCHES - API_BATCHES, BATCHES };
		int bad = 0;
		for (i = 0; i < sizeof(check) / sizeof(check[0]); i++)
			if (db_batch_verify_steps(db, check[i], why, sizeof(why)) != 0) {
				printf("verify batch %lld: %s\n", (long long)check[i], why);
				bad++;
			}
		printf("db_batch_verify_steps on batches 1, %d, %d, %d: %s\n", BATCHES / 2,
		    BATCHES - API_BATCHES, BATCHES, bad ? "INCONSISTENT" : "consistent");
	}
	printf("queries (%d repetitions each, first one on a cold statement cache):\n", REPS);
	{
		struct db_history_filter f;
		time_t since_t = ts.tv_sec - 30 * 86400;
		struct tm tm;

		memset(&f, 0, sizeof(f));
		time_history(db, "history", &f, &res[nres]);
		report(&res[nres++]);
		explain(db, db->stmt[ST_HISTORY + 0]);

		memset(&f, 0, sizeof(f));
		f.recipe = "ag-tca-5";
		time_history(db, "history --recipe ag-tca-5", &f, &res[nres]);
		report(&res[nres++]);
		explain(db, db->stmt[ST_HISTORY + 1]);

		gmtime_r(&since_t, &tm);
		strftime(since, sizeof(since), "%Y-%m-%d", &tm);
		memset(&f, 0, sizeof(f));
		f.since = since;
		snprintf(text, sizeof(text), "history --since %s", since);
		time_history(db, strdup(text), &f, &res[nres]);
		report(&res[nres++]);
		explain(db, db->stmt[ST_HISTORY + 8]);

		memset(&f, 0, sizeof(f));
		f.recipe = "pdda-go";
		f.since = since;
		time_history(db, "history --recipe pdda-go --since", &f, &res[nres]);
		report(&res[nres++]);
		explain(db, db->stmt[ST_HISTORY + 1 + 8]);

		memset(&f, 0, sizeof(f));
		f.state = "failed";
		time_history(db, "history --state failed", &f, &res[nres]);
		report(&res[nres++]);
		explain(db, db->stmt[ST_HISTORY + 4]);
	}
	for (i = 0; i < REPS; i++) {
		/* a different batch each time, old and new, so no two reads share pages */
		int64_t bid = i == 0 ? BATCHES : (int64_t)rng_range(1, BATCHES);
		t0 = now_ms();
		show_rows = show_batch(db, bid);
		timing_add(&show_t, now_ms() - t0);
	}
	res[nres].name = "show ID (20 different batches)";
	res[nres].rows = show_rows;
	res[nres].p50 = timing_pct(&show_t, 50);
	res[nres].max = timing_pct(&show_t, 100);
	res[nres].target = SHOW_TARGET_MS;
	report(&res[nres++]);
	explain(db, db->stmt[ST_BATCH_GET]);
	explain(db, db->stmt[ST_STEPS]);
	explain(db, db->stmt[ST_EVENTS]);
	explain(db, db->stmt[ST_BILAYERS]);
	explain(db, db->stmt[ST_SOLUTIONS]);
	printf("targets (history < %.0f ms, show < %.0f ms, judged on max): %s\n",
	    HISTORY_TARGET_MS, SHOW_TARGET_MS, all_met ? "all met" : "NOT all met");

	db_close(db);
	free(begin_t.v);
	free(end_t.v);
	free(bilayer_t.v);
	free(show_t.v);
	if (argc > 2 && strcmp(argv[2], "--keep") == 0) {
		printf("kept %s\n", path);
	} else {
		unlink(path);
		unlink(wal);
		unlink(shm);
	}
	return 0;
}
