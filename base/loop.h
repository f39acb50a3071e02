/*
 * The event loop: epoll over file descriptors, timers as timerfds armed at
 * absolute CLOCK_MONOTONIC deadlines (so scheduling error never
 * accumulates), signals through signalfd by the caller. Nothing here
 * wakes up unless a descriptor or an armed timer asks for it: an idle
 * daemon sleeps in epoll_wait.
 */
#ifndef LBL_LOOP_H
#define LBL_LOOP_H

#include <stdint.h>

struct loop;
struct loop_timer;

typedef void (*loop_fd_cb)(void *arg, int fd, uint32_t events);
typedef void (*loop_timer_cb)(void *arg);

struct loop *loop_new(void);
/* Frees the loop; every fd and timer must have been removed first. */
void loop_free(struct loop *loop);

/* Watches fd for events (EPOLLIN...). Returns 0 or -1 (logged). */
int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *arg);
int loop_mod_fd(struct loop *loop, int fd, uint32_t events);
void loop_del_fd(struct loop *loop, int fd);

/* A one-shot timer; NULL on failure (logged). */
struct loop_timer *loop_timer_new(struct loop *loop, loop_timer_cb cb, void *arg);
/* Arms the timer for the absolute monotonic time deadline_ns (past: fires at once). */
int loop_timer_at(struct loop_timer *timer, int64_t deadline_ns);
void loop_timer_cancel(struct loop_timer *timer);
int loop_timer_armed(const struct loop_timer *timer);
void loop_timer_free(struct loop_timer *timer);

/* Dispatches events until loop_stop(). Returns 0, or -1 if epoll fails. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t loop_now_ns(void);

#endif
