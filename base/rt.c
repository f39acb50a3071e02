/*
 * Timer slack, real-time scheduling and locked memory (see rt.h).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "rt.h"

/* The slack asked for: the kernel takes 1 ns as "none" (0 means the default). */
#define RT_TIMER_SLACK_NS	1UL

int
rt_thread_timed(void)
{
	return prctl(PR_SET_TIMERSLACK, RT_TIMER_SLACK_NS, 0, 0, 0) == -1 ? -1 : 0;
}

/* Whether memory locking is both granted (unlimited) and sensible in this build. */
static int
rt_may_lock(char *why, size_t why_size)
{
	struct rlimit rl;

#if defined(__SANITIZE_ADDRESS__)
	snprintf(why, why_size, "a sanitizer build (its shadow memory is terabytes of address "
	    "space)");
	return 0;
#endif
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == -1) {
		snprintf(why, why_size, "RLIMIT_MEMLOCK unreadable: %s", strerror(errno));
		return 0;
	}
	if (rl.rlim_cur != RLIM_INFINITY) {
		snprintf(why, why_size, "RLIMIT_MEMLOCK is %llu bytes, not infinity (the unit's "
		    "LimitMEMLOCK=)", (unsigned long long)rl.rlim_cur);
		return 0;
	}
	return 1;
}

void
rt_setup(void)
{
	struct sched_param sp;
	char why[160], sched_text[96], lock_text[224];
	int policy, slack_errno = 0;

	if (rt_thread_timed() == -1)
		slack_errno = errno;
	policy = sched_getscheduler(0);
	if (policy == SCHED_FIFO || policy == SCHED_RR) {
		if (sched_getparam(0, &sp) == -1)
			sp.sched_priority = -1;
		snprintf(sched_text, sizeof(sched_text), "%s priority %d",
		    policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_RR", sp.sched_priority);
	} else {
		snprintf(sched_text, sizeof(sched_text), "ordinary scheduling (no real-time "
		    "policy granted: the unit's CPUSchedulingPolicy=)");
	}
	if (!rt_may_lock(why, sizeof(why)))
		snprintf(lock_text, sizeof(lock_text), "memory not locked: %s", why);
	else if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == -1)
		/* MCL_ONFAULT: a thread's stack is locked as it is used, not all at once */
		snprintf(lock_text, sizeof(lock_text), "memory not locked: mlockall: %s",
		    strerror(errno));
	else
		snprintf(lock_text, sizeof(lock_text), "memory locked");
	/* one line, whatever was granted */
	log_info("deadlines: timer slack %s, %s, %s", slack_errno == 0 ? "1 ns" :
	    strerror(slack_errno), sched_text, lock_text);
}

int
rt_thread_background(int nice_value)
{
	struct sched_param sp;
	int policy = sched_getscheduler(0);

	if (policy == -1)
		return -1;
	if (policy == SCHED_FIFO || policy == SCHED_RR) {
		memset(&sp, 0, sizeof(sp));
		/* pid 0 is the calling thread: only this one leaves the real-time class */
		if (sched_setscheduler(0, SCHED_OTHER, &sp) == -1)
			return -1;
	}
	return setpriority(PRIO_PROCESS, (id_t)gettid(), nice_value) == -1 ? -1 : 0;
}
