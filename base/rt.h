/*
 * What Linux gives a controller for keeping deadlines, taken where the
 * service manager grants it and reported in one line where it does not
 * (README, "Deadlines on Linux", says what each buys):
 *
 *   timer slack   the kernel may fire a sleeping thread's timer up to its
 *                 slack late (50 µs by default) to batch wake-ups; 1 ns
 *                 makes it wake on time. Always allowed.
 *   real time     a SCHED_FIFO (or SCHED_RR) policy, set for the process by
 *                 systemd's CPUSchedulingPolicy= before lbld starts; a
 *                 runnable timed thread then preempts every ordinary task.
 *                 Threads inherit it; background ones drop it.
 *   locked memory mlockall(): no page of lbld is paged out, so no deadline
 *                 waits for a page-in; taken when the unit's LimitMEMLOCK=
 *                 is infinity (a smaller limit would fail the next thread's
 *                 stack), never in a sanitizer build (its shadow is huge).
 */
#ifndef LBL_RT_H
#define LBL_RT_H

/*
 * At start, before any thread: timer slack 1 ns for the calling thread
 * (threads created later inherit it), the scheduling policy read and
 * logged, memory locked when allowed. Logs one line of what it got, and
 * one line for each thing it could not have; never fails.
 */
void rt_setup(void);

/*
 * A timed thread (a bus worker, its deadline watcher): timer slack 1 ns.
 * Returns 0, or -1 with errno (the thread keeps the slack it inherited).
 */
int rt_thread_timed(void);

/*
 * A background thread (history reads): leaves a real-time policy for the
 * ordinary one, so a long read cannot starve the machine, then takes nice
 * (lower priority among ordinary threads). Returns 0, or -1 with errno
 * from the step that failed (the thread runs on as it was).
 */
int rt_thread_background(int nice_value);

#endif
