/*
 * The event loop, faked for the unit tests that include a module's .c in
 * chrony's style (test_run.c, test_home.c, test_record.c): the module's
 * calls to base/loop.c land here instead. The clock is a variable that
 * moves only when a test moves it or fires a timer; timers are never fired
 * by the loop, only by the test: one by hand (fake_fire) or the earliest
 * armed (fake_fire_next). Nothing sleeps, so a batch of hours runs in
 * milliseconds.
 *
 * Include it once, before the module's .c. Up to FAKE_TIMERS timers exist
 * at once; loop_timer_new() then fails as the real one can. An arm can be
 * refused (fake_timer_fail_arm), as a timerfd could refuse it.
 */
#ifndef LBL_FAKE_LOOP_H
#define LBL_FAKE_LOOP_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "loop.h"

#define FAKE_TIMERS	16

struct loop_timer {
	loop_timer_cb cb;
	void *arg;
	int64_t at;			/* -1: not armed */
};

static int64_t fake_now_ns = 1000000000;
static struct loop_timer *fake_timers[FAKE_TIMERS];

/* Arms counted, and the one to refuse (from 1; 0: none). */
static int fake_timer_arms, fake_timer_fail_arm;

int64_t
loop_now_ns(void)
{
	return fake_now_ns;
}

/* NULL when FAKE_TIMERS timers exist already or calloc fails. */
struct loop_timer *
loop_timer_new(struct loop *loop, loop_timer_cb cb, void *arg)
{
	struct loop_timer *t;
	int i;

	(void)loop;
	for (i = 0; i < FAKE_TIMERS && fake_timers[i] != NULL; i++)
		;
	if (i == FAKE_TIMERS || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cb = cb;
	t->arg = arg;
	t->at = -1;
	fake_timers[i] = t;
	return t;
}

/* -1 with errno EINVAL on the arm fake_timer_fail_arm names, else 0. */
int
loop_timer_at(struct loop_timer *t, int64_t at)
{
	if (++fake_timer_arms == fake_timer_fail_arm) {
		errno = EINVAL;
		return -1;
	}
	t->at = at;
	return 0;
}

void
loop_timer_cancel(struct loop_timer *t)
{
	t->at = -1;
}

int
loop_timer_armed(const struct loop_timer *t)
{
	return t->at >= 0;
}

void
loop_timer_free(struct loop_timer *t)
{
	int i;

	for (i = 0; i < FAKE_TIMERS; i++)
		if (fake_timers[i] == t)
			fake_timers[i] = NULL;
	free(t);
}

/*
 * Moves the clock to the timer's deadline (never back) and fires it; 0 if
 * it was not armed (nothing happens then), 1 if it fired.
 */
static inline int
fake_fire(struct loop_timer *t)
{
	if (t->at < 0)
		return 0;
	if (t->at > fake_now_ns)
		fake_now_ns = t->at;
	t->at = -1;
	t->cb(t->arg);
	return 1;
}

/* The earliest armed timer, NULL if none is armed. */
static inline struct loop_timer *
fake_timer_next(void)
{
	struct loop_timer *best = NULL;
	int i;

	for (i = 0; i < FAKE_TIMERS; i++)
		if (fake_timers[i] != NULL && fake_timers[i]->at >= 0 && (best == NULL ||
		    fake_timers[i]->at < best->at))
			best = fake_timers[i];
	return best;
}

/* Fires the earliest armed timer as fake_fire does; 0 if nothing is armed. */
static inline int
fake_fire_next(void)
{
	struct loop_timer *t = fake_timer_next();

	return t != NULL ? fake_fire(t) : 0;
}

/* Between tests: every timer disarmed (they stay allocated), arms counted from 0. */
static inline void
fake_loop_reset(void)
{
	int i;

	fake_timer_arms = 0;
	for (i = 0; i < FAKE_TIMERS; i++)
		if (fake_timers[i] != NULL)
			fake_timers[i]->at = -1;
}

#endif
