/*
 * Small helpers the C benchmarks share (bench_history.c, bench_plan.c and
 * histgen.c): a monotonic clock in milliseconds, and the comparison to
 * sort timings with qsort() for their best and median.
 */
#ifndef LBL_BENCH_UTIL_H
#define LBL_BENCH_UTIL_H

#include <time.h>

/* CLOCK_MONOTONIC in milliseconds; never fails on Linux. */
static inline double
bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* qsort()'s comparison of two doubles, ascending. */
static inline int
bench_compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif
