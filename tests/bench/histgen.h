/*
 * A realistic batch record, made fast: recipes and rigs through the
 * product's db_recipe_store/db_rig_store, then batches of 100 steps each
 * (with their bilayers, events and solution lots; completed, paused,
 * resumed, failed, aborted and interrupted ones) bulk-inserted in one
 * transaction with prepared statements on the product's columns. Used by
 * bench_history and by lbl-histgen, the tool tests make databases with.
 * Every failure exits the program with a message: these are test tools.
 */
#ifndef LBL_HISTGEN_H
#define LBL_HISTGEN_H

#include <stdint.h>

struct db;

#define HISTGEN_STEPS_PER_BATCH	100

struct histgen {
	int64_t rig_ids[2];
	int64_t end_ms;			/* when the last bulk batch ended (epoch ms) */
	long long n_batches, n_steps, n_bilayers, n_events, n_solutions;
};

/*
 * Fills db (new, from db_open) with batches 1 .. batches - reserve, their
 * record ending two days before end_ms (epoch ms) and starting about four
 * years before; reserve batches are left for histgen_api_batch. The same
 * arguments make the same rows, byte for byte.
 */
void histgen_fill(struct db *db, int batches, int reserve, int64_t end_ms, struct histgen *g);

/* What histgen_api_batch times: each write through the product's API. */
enum histgen_write { HISTGEN_STEP_BEGIN, HISTGEN_STEP_END, HISTGEN_BILAYER };

/*
 * Records one more batch through the product's write path (a commit per
 * step), on rig 0 or 1, telling timed how long each write took (ms).
 */
void histgen_api_batch(struct db *db, const struct histgen *g, int rig,
    void (*timed)(void *arg, enum histgen_write what, double ms), void *arg);

/* A uniform integer in [lo, hi] from the generator's own sequence. */
int64_t histgen_rng_range(int64_t lo, int64_t hi);

#endif
