/*
 * A minimal test harness. Each check prints "PASS name" or "FAIL name: why"
 * and tests/run.sh counts those lines, so C tests and script tests report
 * the same way. A test binary exits 1 if anything failed.
 */
#ifndef LBL_TEST_H
#define LBL_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int test_failures, test_passes;

#define TEST_CHECK(name, cond, ...) do {					\
	if (cond) {								\
		test_passes++;							\
		printf("PASS %s\n", name);					\
	} else {								\
		test_failures++;						\
		printf("FAIL %s: %s:%d: ", name, __FILE__, __LINE__);		\
		printf(__VA_ARGS__);						\
		printf("\n");							\
	}									\
} while (0)

#define TEST_EQ_INT(name, got, want) do {					\
	long long got_ = (long long)(got), want_ = (long long)(want);		\
	TEST_CHECK(name, got_ == want_, "got %lld, want %lld", got_, want_);	\
} while (0)

#define TEST_NEAR(name, got, want, tol) do {					\
	double got_ = (got), want_ = (want);					\
	TEST_CHECK(name, fabs(got_ - want_) <= (tol), "got %.9g, want %.9g +- %g",	\
	    got_, want_, (double)(tol));					\
} while (0)

#define TEST_STR(name, got, want) do {						\
	const char *got_ = (got), *want_ = (want);				\
	TEST_CHECK(name, got_ && want_ && strcmp(got_, want_) == 0,		\
	    "got '%s', want '%s'", got_ ? got_ : "(null)", want_);		\
} while (0)

#define TEST_CONTAINS(name, hay, needle) do {					\
	const char *hay_ = (hay), *needle_ = (needle);				\
	TEST_CHECK(name, hay_ && strstr(hay_, needle_) != NULL,			\
	    "'%s' not found in '%s'", needle_, hay_ ? hay_ : "(null)");		\
} while (0)

#define TEST_DONE() (printf("%d passed, %d failed\n", test_passes, test_failures), \
	test_failures ? 1 : 0)

/*
 * The calling thread's CPU time, ns: a loop that should sleep is judged by
 * the CPU it took over a stretch of wall time (a ratio, not a figure).
 */
static inline int64_t
test_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * 1 when s is valid UTF-8: no character cut, no stray continuation byte;
 * else 0. The tests' own check, independent of base/text.c's cutting.
 */
static inline int
test_valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int more;

	while (*p) {
		more = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 :
		    (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (more < 0)
			return 0;
		p++;
		while (more-- > 0)
			if ((*p++ & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

#endif
