/*
 * SQLite per-step commit latency: the two commits lbld makes for every step
 * (its start, db_step_begin, and its end, db_step_end), each a transaction
 * in WAL mode with synchronous=FULL, timed one by one on a real file. The
 * next step never starts before both are durable, so their tail latency is
 * what a step's start can be held up by.
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

int
main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 2000;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	static const char yaml[] = "name: bench\n";
	char path[512], wal[600], shm[600];
	struct db_batch_new b = { 0 };
	struct db *db;
	int64_t recipe_id, rig_id, batch_id, *begin_ns, *end_ns, t;
	int i;

	log_init("bench_sqlite", 4);
	if (steps < 10)
		steps = 10;
	snprintf(path, sizeof(path), "%s/lbl-bench-sqlite.%d.db", dir, (int)getpid());
	begin_ns = calloc((size_t)steps, sizeof(*begin_ns));
	end_ns = calloc((size_t)steps, sizeof(*end_ns));
	if (begin_ns == NULL || end_ns == NULL || db_open(path, &db) == -1) {
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
	if (db_batch_create(db, &b, &batch_id) == -1)
		return 1;
	for (i = 0; i < steps; i++) {
		struct db_step s = { 0 };

		s.seq = i + 1;
		s.bilayer = i / 4 + 1;
		s.phase = "cycle";
		s.kind = i % 2 ? "rinse" : "spray";
		s.station = "booth";
		s.solution = i % 2 ? "rinse" : "ag";
		s.planned_start_ms = (int64_t)i * 1500;
		s.planned_duration_ms = 1500;
		s.actual_start_ms = (int64_t)i * 1500;
		t = now_ns();
		if (db_step_begin(db, batch_id, &s) == -1)
			return 1;
		begin_ns[i] = now_ns() - t;
		t = now_ns();
		if (db_step_end(db, batch_id, s.seq, -1, 1500, 200, 1300, "done") == -1)
			return 1;
		end_ns[i] = now_ns() - t;
	}
	db_close(db);
	qsort(begin_ns, (size_t)steps, sizeof(*begin_ns), cmp_i64);
	qsort(end_ns, (size_t)steps, sizeof(*end_ns), cmp_i64);
	printf("SQLite step commits (WAL, synchronous=FULL) on %s, %d steps:\n", dir, steps);
	printf("  step start (db_step_begin)  p50 %6.3f ms  p99 %6.3f ms  max %6.3f ms\n",
	    pct_ms(begin_ns, steps, 50), pct_ms(begin_ns, steps, 99), pct_ms(begin_ns, steps, 100));
	printf("  step end   (db_step_end)    p50 %6.3f ms  p99 %6.3f ms  max %6.3f ms\n",
	    pct_ms(end_ns, steps, 50), pct_ms(end_ns, steps, 99), pct_ms(end_ns, steps, 100));
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	unlink(path);
	unlink(wal);
	unlink(shm);
	free(begin_ns);
	free(end_ns);
	return 0;
}
