/*
 * SQLite per-step commit latency, in WAL mode with synchronous=FULL on a real
 * file. At each step boundary lbld records the end of one step, the bilayer
 * when one ends, and the start of the next; the next step's first command
 * waits for them to be durable, unless they were committed ahead of its
 * deadline. Timed two ways, one batch each: as one transaction (what lbld
 * does, db_group_begin .. db_group_commit) and as one commit per write.
 *
 *   bench_sqlite [STEPS] [DIR]      (default 2000 steps, database in /tmp)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double
pct_ms(const int64_t *sorted, int n, double p)
{
	int k = (int)lround(p / 100 * (n - 1));

	return (double)sorted[k] / 1e6;
}

static void
step_row(struct db_step *s, int i)
{
	memset(s, 0, sizeof(*s));
	s->seq = i + 1;
	s->bilayer = i / 4 + 1;
	s->phase = "cycle";
	s->kind = i % 2 ? "rinse" : "spray";
	s->station = "booth";
	s->solution = i % 2 ? "rinse" : "ag";
	s->planned_start_ms = (int64_t)i * 1500;
	s->planned_duration_ms = 1500;
	s->actual_start_ms = (int64_t)i * 1500;
}

/*
 * Runs a batch of steps; boundary_ns[i] is how long the writes of the
 * boundary after step i took to be durable. Returns 0 or -1.
 */
static int
run_batch(struct db *db, const struct db_batch_new *b, int steps, int grouped,
    int64_t *boundary_ns)
{
	struct db_step s;
	int64_t batch_id, t;
	int i;

	if (db_batch_create(db, b, &batch_id) == -1)
		return -1;
	step_row(&s, 0);
	if (db_step_begin(db, batch_id, &s) == -1)
		return -1;
	for (i = 0; i < steps; i++) {
		t = now_ns();
		if ((grouped && db_group_begin(db) == -1) ||
		    db_step_end(db, batch_id, i + 1, (int64_t)i * 1500 + 1, 1500, 200, 1300,
		    "done") == -1)
			return -1;
		if (i % 4 == 3 && db_bilayer_done(db, batch_id, i / 4 + 1, 7.8 * (i / 4 + 1),
		    NAN) == -1)
			return -1;
		step_row(&s, i + 1);
		if (i + 1 < steps && db_step_begin(db, batch_id, &s) == -1)
			return -1;
		if (grouped && db_group_commit(db) == -1)
			return -1;
		boundary_ns[i] = now_ns() - t;
	}
	return db_batch_set_state(db, batch_id, "completed", NULL);
}

static void
report(const char *what, int64_t *ns, int steps)
{
	qsort(ns, (size_t)steps, sizeof(*ns), cmp_i64);
	printf("  %-44s p50 %6.3f ms  p99 %6.3f ms  max %6.3f ms\n", what,
	    pct_ms(ns, steps, 50), pct_ms(ns, steps, 99), pct_ms(ns, steps, 100));
}

int
main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 2000;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	static const char yaml[] = "name: bench\n";
	char path[512], wal[600], shm[600];
	struct db_batch_new b = { 0 };
	struct db *db;
	int64_t recipe_id, rig_id, *grouped_ns, *separate_ns;

	log_init("bench_sqlite", 4);
	if (steps < 10)
		steps = 10;
	snprintf(path, sizeof(path), "%s/lbl-bench-sqlite.%d.db", dir, (int)getpid());
	grouped_ns = calloc((size_t)steps, sizeof(*grouped_ns));
	separate_ns = calloc((size_t)steps, sizeof(*separate_ns));
	if (grouped_ns == NULL || separate_ns == NULL || db_open(path, &db) == -1) {
		fprintf(stderr, "cannot open %s\n", path);
		return 1;
	}
	if (db_recipe_store(db, "bench", "1", yaml, strlen(yaml), &recipe_id) == -1 ||
	    db_rig_store(db, "bench-rig", yaml, strlen(yaml), &rig_id) == -1)
		return 1;
	b.recipe_id = recipe_id;
	b.rig_id = rig_id;
	b.bilayers_target = steps / 4;
	b.thickness_target_nm = NAN;
	b.thickness_estimated_nm = 10;
	b.software_version = "bench";
	b.time_scale = 1;
	if (run_batch(db, &b, steps, 1, grouped_ns) == -1 ||
	    run_batch(db, &b, steps, 0, separate_ns) == -1) {
		fprintf(stderr, "a write failed\n");
		return 1;
	}
	db_close(db);
	printf("SQLite step boundaries (WAL, synchronous=FULL) on %s, %d steps, a bilayer "
	    "every 4:\n", dir, steps);
	report("one transaction (as lbld commits them)", grouped_ns, steps);
	report("one commit per write (end, bilayer, start)", separate_ns, steps);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	unlink(path);
	unlink(wal);
	unlink(shm);
	free(grouped_ns);
	free(separate_ns);
	return 0;
}
