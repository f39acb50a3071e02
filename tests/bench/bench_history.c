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
#include "db_private.h"		/* only for the cached SQL text */
#include "bench_util.h"
#include "histgen.h"
#include "log.h"

#define BATCHES		10000
#define STEPS_PER_BATCH	HISTGEN_STEPS_PER_BATCH
#define API_BATCHES	3		/* the newest batches, recorded through the product's API */
#define REPS		20
#define HISTORY_TARGET_MS	100.0
#define SHOW_TARGET_MS		50.0

/* ---- small helpers ---- */

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
	qsort(t->v, t->n, sizeof(*t->v), bench_compare_double);
	i = (size_t)(pct / 100.0 * (double)(t->n - 1) + 0.5);
	return t->v[i];
}

struct api_timings {
	struct timing begin, end, bilayer;
};

static void
api_timed(void *arg, enum histgen_write what, double ms)
{
	struct api_timings *t = arg;

	timing_add(what == HISTGEN_STEP_BEGIN ? &t->begin : what == HISTGEN_STEP_END ? &t->end :
	    &t->bilayer, ms);
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
		double t0 = bench_now_ms();
		rows = 0;
		if (db_history(db, f, history_cb, &rows) == -1)
			die("db_history failed");
		timing_add(&t, bench_now_ms() - t0);
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
	struct histgen g;
	struct api_timings api_t;
	struct timing show_t = { 0 };
	struct result res[6];
	double t_build, t0, t_bulk, t_api;
	long long size_db, size_wal;
	size_t i;
	int nres = 0;
	long show_rows = 0;
	struct timespec ts;

	log_init("bench_history", LOG_WARNING);
	memset(&api_t, 0, sizeof(api_t));
	snprintf(default_path, sizeof(default_path), "/tmp/bench_history-%ld.db", (long)getpid());
	path = argc > 1 ? argv[1] : default_path;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	unlink(path);
	unlink(wal);
	unlink(shm);

	printf("bench_history: %d batches x %d steps in %s (SQLite %s)\n", BATCHES,
	    STEPS_PER_BATCH, path, sqlite3_libversion());
	t_build = bench_now_ms();
	if (db_open(path, &db) == -1)
		die("db_open failed");

	/* bulk: the older batches, one transaction (histgen.c) */
	t0 = bench_now_ms();
	clock_gettime(CLOCK_REALTIME, &ts);
	histgen_fill(db, BATCHES, API_BATCHES, (int64_t)ts.tv_sec * 1000, &g);
	t_bulk = bench_now_ms() - t0;
	if (g.end_ms > (int64_t)ts.tv_sec * 1000)
		printf("warning: the bulk record ends in the future\n");

	/* the newest batches through the product's write path (per-step commits) */
	t0 = bench_now_ms();
	for (i = 0; i < API_BATCHES; i++)
		histgen_api_batch(db, &g, (int)i, api_timed, &api_t);
	t_api = bench_now_ms() - t0;
	g.n_batches += API_BATCHES;
	g.n_steps += API_BATCHES * STEPS_PER_BATCH;
	db_close(db);
	t_build = bench_now_ms() - t_build;

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
	    "%d batches through the db API %.2f s\n", t_build / 1000, g.n_batches - API_BATCHES,
	    g.n_steps - API_BATCHES * STEPS_PER_BATCH, t_bulk / 1000, API_BATCHES, t_api / 1000);
	printf("db API per-step commits (synchronous=FULL, %zu steps): db_step_begin p50 %.2f ms "
	    "max %.2f ms; db_step_end p50 %.2f ms max %.2f ms; db_bilayer_done p50 %.2f ms\n",
	    api_t.begin.n, timing_pct(&api_t.begin, 50), timing_pct(&api_t.begin, 100),
	    timing_pct(&api_t.end, 50), timing_pct(&api_t.end, 100),
	    timing_pct(&api_t.bilayer, 50));
	printf("  (1,000,000 steps at that rate: %.0f min)\n",
	    (timing_pct(&api_t.begin, 50) + timing_pct(&api_t.end, 50)) * 1e6 / 60000);
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
		int64_t bid = i == 0 ? BATCHES : (int64_t)histgen_rng_range(1, BATCHES);
		t0 = bench_now_ms();
		show_rows = show_batch(db, bid);
		timing_add(&show_t, bench_now_ms() - t0);
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
	free(api_t.begin.v);
	free(api_t.end.v);
	free(api_t.bilayer.v);
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
