/* The event loop: absolute-deadline timers, fd dispatch, removal during dispatch. */
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "test.h"

struct chain {
	struct loop *loop;
	struct loop_timer *timer;
	int64_t start_ns, period_ns;
	int fired, count;
	int64_t worst_late_ns;
};

/* Re-arms itself at start + n*period: lateness must not accumulate. */
static void
chain_fire(void *arg)
{
	struct chain *c = arg;
	int64_t deadline = c->start_ns + (int64_t)(c->fired + 1) * c->period_ns;
	int64_t late = loop_now_ns() - deadline;

	if (late > c->worst_late_ns)
		c->worst_late_ns = late;
	c->fired++;
	if (c->fired == c->count) {
		loop_stop(c->loop);
		return;
	}
	loop_timer_at(c->timer, c->start_ns + (int64_t)(c->fired + 1) * c->period_ns);
}

struct pipe_state {
	struct loop *loop;
	int reads;
	int other_fd;
};

static void
pipe_readable(void *arg, int fd, uint32_t events)
{
	struct pipe_state *p = arg;
	char buf[16];

	(void)events;
	if (read(fd, buf, sizeof(buf)) > 0)
		p->reads++;
	/* removing another watched fd during dispatch must be safe */
	if (p->other_fd != -1) {
		loop_del_fd(p->loop, p->other_fd);
		p->other_fd = -1;
	}
	loop_stop(p->loop);
}

static void
never(void *arg)
{
	int *called = arg;
	*called = 1;
}

int
main(void)
{
	struct loop *loop = loop_new();
	struct chain c = { 0 };
	struct pipe_state ps = { 0 };
	struct loop_timer *cancelled;
	int p1[2], p2[2], called = 0;
	int64_t t0;

	TEST_CHECK("loop_new", loop != NULL, "NULL");
	c.loop = loop;
	c.count = 50;
	c.period_ns = 2000000;		/* 2 ms */
	c.timer = loop_timer_new(loop, chain_fire, &c);
	cancelled = loop_timer_new(loop, never, &called);
	loop_timer_at(cancelled, loop_now_ns() + 1000000);
	loop_timer_cancel(cancelled);
	c.start_ns = loop_now_ns();
	loop_timer_at(c.timer, c.start_ns + c.period_ns);
	loop_run(loop);
	t0 = loop_now_ns() - c.start_ns;
	TEST_EQ_INT("chain fired 50 times", c.fired, 50);
	/* 50 periods of 2 ms: the end is at 100 ms, not 100 ms plus 50 wake-up delays */
	TEST_CHECK("no accumulated drift", t0 >= 100000000 && t0 < 100000000 + 20000000,
	    "took %lld ns", (long long)t0);
	TEST_CHECK("cancelled timer never fires", called == 0, "fired");
	TEST_CHECK("timer not armed after firing", !loop_timer_armed(c.timer), "still armed");

	TEST_CHECK("pipes", pipe(p1) == 0 && pipe(p2) == 0, "pipe failed");
	ps.loop = loop;
	ps.other_fd = p2[0];
	loop_add_fd(loop, p1[0], EPOLLIN, pipe_readable, &ps);
	loop_add_fd(loop, p2[0], EPOLLIN, pipe_readable, &ps);
	TEST_CHECK("write", write(p1[1], "x", 1) == 1 && write(p2[1], "y", 1) == 1, "write");
	loop_run(loop);
	TEST_EQ_INT("one callback, the other fd removed", ps.reads, 1);
	loop_del_fd(loop, p1[0]);
	loop_timer_free(c.timer);
	loop_timer_free(cancelled);
	loop_free(loop);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	return TEST_DONE();
}
