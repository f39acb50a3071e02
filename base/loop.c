#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

#define LOOP_MAX_EVENTS 32

/* One registered descriptor. Timers are descriptors too. */
struct loop_watch {
	int fd;
	loop_fd_cb cb;
	void *arg;
	struct loop_watch *next;
	int removed;		/* unlinked during dispatch; freed after it */
};

struct loop {
	int epoll_fd;
	int running;
	struct loop_watch *watches;
	struct loop_watch *graveyard;	/* removed while dispatching */
	int dispatching;
};

struct loop_timer {
	struct loop *loop;
	int fd;
	int armed;
	loop_timer_cb cb;
	void *arg;
};

int64_t
loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct loop *
loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (loop == NULL) {
		log_warn("loop: calloc");
		return NULL;
	}
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd == -1) {
		log_warn("loop: epoll_create1");
		free(loop);
		return NULL;
	}
	return loop;
}

static void
loop_bury(struct loop *loop)
{
	struct loop_watch *w, *next;

	for (w = loop->graveyard; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	loop->graveyard = NULL;
}

void
loop_free(struct loop *loop)
{
	struct loop_watch *w, *next;

	if (loop == NULL)
		return;
	for (w = loop->watches; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	loop_bury(loop);
	close(loop->epoll_fd);
	free(loop);
}

int
loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev;
	struct loop_watch *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		log_warn("loop: calloc");
		return -1;
	}
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("loop: epoll_ctl add fd %d", fd);
		free(w);
		return -1;
	}
	w->next = loop->watches;
	loop->watches = w;
	return 0;
}

static struct loop_watch *
loop_find(struct loop *loop, int fd, struct loop_watch ***link)
{
	struct loop_watch **p;

	for (p = &loop->watches; *p != NULL; p = &(*p)->next)
		if ((*p)->fd == fd) {
			if (link)
				*link = p;
			return *p;
		}
	return NULL;
}

int
loop_mod_fd(struct loop *loop, int fd, uint32_t events)
{
	struct loop_watch *w = loop_find(loop, fd, NULL);
	struct epoll_event ev;

	if (w == NULL)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, fd, &ev) == -1) {
		log_warn("loop: epoll_ctl mod fd %d", fd);
		return -1;
	}
	return 0;
}

void
loop_del_fd(struct loop *loop, int fd)
{
	struct loop_watch **link, *w = loop_find(loop, fd, &link);

	if (w == NULL)
		return;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL) == -1)
		log_warn("loop: epoll_ctl del fd %d", fd);
	*link = w->next;
	/* events for w may still sit in this round's array: free it afterwards */
	w->removed = 1;
	w->next = loop->graveyard;
	loop->graveyard = w;
	if (!loop->dispatching)
		loop_bury(loop);
}

int
loop_run(struct loop *loop)
{
	struct epoll_event events[LOOP_MAX_EVENTS];
	int n, i;

	loop->running = 1;
	while (loop->running) {
		n = epoll_wait(loop->epoll_fd, events, LOOP_MAX_EVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("loop: epoll_wait");
			return -1;
		}
		loop->dispatching = 1;
		for (i = 0; i < n; i++) {
			struct loop_watch *w = events[i].data.ptr;
			if (!w->removed)
				w->cb(w->arg, w->fd, events[i].events);
		}
		loop->dispatching = 0;
		loop_bury(loop);
	}
	return 0;
}

void
loop_stop(struct loop *loop)
{
	loop->running = 0;
}

static void
loop_timer_fired(void *arg, int fd, uint32_t events)
{
	struct loop_timer *t = arg;
	uint64_t expirations;

	(void)events;
	/* a cancelled timer may still have been readable in this round */
	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	t->armed = 0;
	t->cb(t->arg);
}

struct loop_timer *
loop_timer_new(struct loop *loop, loop_timer_cb cb, void *arg)
{
	struct loop_timer *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		log_warn("loop: calloc");
		return NULL;
	}
	t->loop = loop;
	t->cb = cb;
	t->arg = arg;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd == -1) {
		log_warn("loop: timerfd_create");
		free(t);
		return NULL;
	}
	if (loop_add_fd(loop, t->fd, EPOLLIN, loop_timer_fired, t) == -1) {
		close(t->fd);
		free(t);
		return NULL;
	}
	return t;
}

int
loop_timer_at(struct loop_timer *t, int64_t deadline_ns)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (deadline_ns <= 0)
		deadline_ns = 1;	/* 0 would disarm; 1 ns is long past: fires at once */
	its.it_value.tv_sec = deadline_ns / 1000000000;
	its.it_value.tv_nsec = deadline_ns % 1000000000;
	if (timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL) == -1) {
		log_warn("loop: timerfd_settime");
		return -1;
	}
	t->armed = 1;
	return 0;
}

void
loop_timer_cancel(struct loop_timer *t)
{
	struct itimerspec its;
	uint64_t expirations;

	memset(&its, 0, sizeof(its));
	if (timerfd_settime(t->fd, 0, &its, NULL) == -1)
		log_warn("loop: timerfd_settime (cancel)");
	/* drop an expiry that happened but was not read yet */
	if (read(t->fd, &expirations, sizeof(expirations)) == -1 && errno != EAGAIN)
		log_warn("loop: timerfd read");
	t->armed = 0;
}

int
loop_timer_armed(const struct loop_timer *t)
{
	return t->armed;
}

void
loop_timer_free(struct loop_timer *t)
{
	if (t == NULL)
		return;
	loop_del_fd(t->loop, t->fd);
	close(t->fd);
	free(t);
}
