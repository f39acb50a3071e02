/*
 * One worker thread per Modbus bus: the sole owner of the bus's libmodbus
 * context. It takes jobs from the bus queue, turns each into Modbus
 * transactions through the device's profile, and hands the result back to
 * the loop thread.
 *
 * Error handling is ours, not libmodbus's (its link recovery loops inside
 * the call): a Modbus exception is reported at once; a timeout or a bad
 * frame is retried up to the bus's retries (TCP reconnects, because a late
 * reply would otherwise answer the next request; RTU flushes); a lost
 * connection is reopened with exponential back-off between attempts.
 *
 * Deadlines: every transaction ends by its deadline whatever the device
 * does byte by byte. With the bus's timeout T, retries R and, on RTU,
 * frame_delay F:
 *   - an attempt (the request and the whole reply) gets T. libmodbus's
 *     byte timeout is off, so its response timeout, set before each
 *     attempt, bounds the whole reply and not only its first byte (a device
 *     trickling one byte just inside a byte timeout would otherwise hold the
 *     bus for the reply's length times that timeout);
 *   - opening the link, when it must be (re)opened, gets T too: libmodbus
 *     waits for a TCP connect as long as its response timeout (a
 *     black-holed address costs T);
 *   - a transaction, retries and reconnecting included, ends within
 *     (R + 1) x (T + F) + T from its start: each attempt and each connect
 *     gets what is left of that, at most T;
 *   - a safe state's command is one attempt, T + F + T (hw_safe_state()
 *     sends a failed one again after the other devices' commands);
 *   - a supervision poll is one attempt too, T + F, with T more when the
 *     link must be opened first (hw_super.c polls again at once after a
 *     failure, as many times as the bus's attempts).
 * On a serial line every device shares one half-duplex wire, so a
 * request may only go out when the line is quiet: after an attempt that
 * failed or was cut, the next one first waits for silence and drops what
 * the port received (hw_bus_quiet()), and a frame from another unit that
 * arrives where the answer should be (a slow device answering a request
 * lbld gave up on) is passed over while the attempt waits on for its own
 * (hw_rtu_own_answer()).
 * The queue has priorities (hw_private.h): safe-state commands, then the
 * rest, then supervision polls; and a poll does not start when its own
 * deadline could reach the executor's next deadline, so a timed command
 * waits behind no poll (hw_bus_take_locked()).
 * Each bus has a deadline watcher thread besides its worker: it sleeps
 * until the deadline of the attempt in flight and, should the attempt
 * still run HW_WATCH_GRACE_MS after it, breaks its fd as the safe state
 * does (hw_bus_break_fd_locked()), so the worker cannot overrun a deadline
 * even if libmodbus did. A TCP connect's socket is libmodbus's own until
 * it connects: that wait is bounded by the response timeout alone, per
 * address the host name resolves to (give an address, not a name).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hw_private.h"
#include "lbl_limits.h"
#include "log.h"
#include "rt.h"

#define HW_BACKOFF_FIRST_MS	100
#define HW_BACKOFF_MAX_MS	5000
/* a bus whose rig file gives no timeout (rig.c defaults to the same) */
#define HW_DEFAULT_TIMEOUT_MS	500
/*
 * The watcher breaks an attempt this long after its deadline. libmodbus
 * ends each attempt at that deadline itself; the grace keeps the watcher
 * out of that race, so it acts only on an overrun. Above the scheduling
 * delay of a loaded 2-core machine, small beside any timeout.
 */
#define HW_WATCH_GRACE_MS	20
/* an attempt or a connect is not begun with less than this left of its deadline */
#define HW_ATTEMPT_MIN_NS	1000000

/* What a transaction did, for messages: "write holding 0x0004 (go)". */
struct hw_txn {
	const struct rig_device *dev;
	const struct profile_object *obj;
	enum profile_op op;
	int writing;
	int count;		/* a read of this many registers from obj's, 0: obj's width */
};

static int64_t
hw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
hw_bus_attempt_ms(const struct rig_bus *cfg)
{
	return cfg->timeout_ms > 0 ? cfg->timeout_ms : HW_DEFAULT_TIMEOUT_MS;
}

static int64_t
hw_bus_frame_delay_ms(const struct rig_bus *cfg)
{
	return cfg->type == RIG_BUS_RTU && cfg->frame_delay_ms > 0 ? cfg->frame_delay_ms : 0;
}

int64_t
hw_bus_transaction_ms(const struct rig_bus *cfg)
{
	int64_t attempts = 1 + (cfg->retries > 0 ? cfg->retries : 0);

	return attempts * (hw_bus_attempt_ms(cfg) + hw_bus_frame_delay_ms(cfg)) +
	    hw_bus_attempt_ms(cfg);
}

int64_t
hw_bus_safe_command_ms(const struct rig_bus *cfg)
{
	return 2 * hw_bus_attempt_ms(cfg) + hw_bus_frame_delay_ms(cfg);
}

int64_t
hw_bus_poll_ms(const struct rig_bus *cfg, int connected)
{
	return (connected ? 1 : 2) * hw_bus_attempt_ms(cfg) + hw_bus_frame_delay_ms(cfg);
}

/* Safe-state commands and polls are single attempts (see the top of this file). */
static int
hw_job_single(const struct hw_job *job)
{
	return job->safe != NULL || job->prio == HW_PRIO_POLL;
}

/*
 * Sets libmodbus's response timeout from ns (it refuses 0: at least 1 µs).
 * Returns 0, or -1 with errno (EINVAL) as libmodbus does.
 */
static int
hw_set_response_timeout(modbus_t *ctx, int64_t ns)
{
	int64_t us = ns / 1000 > 0 ? ns / 1000 : 1;

	return modbus_set_response_timeout(ctx, (uint32_t)(us / 1000000),
	    (uint32_t)(us % 1000000));
}

static void
hw_job_error(struct hw_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
hw_job_error(struct hw_job *job, const char *fmt, ...)
{
	va_list ap;

	if (!job->res.ok && job->res.error[0] != '\0')
		return;		/* keep the first cause */
	job->res.ok = 0;
	va_start(ap, fmt);
	vsnprintf(job->res.error, sizeof(job->res.error), fmt, ap);
	va_end(ap);
}

static void
hw_bus_set_fd(struct hw_bus *bus, int fd)
{
	pthread_mutex_lock(&bus->lock);
	bus->fd = fd;
	bus->fd_broken = 0;
	pthread_mutex_unlock(&bus->lock);
}

static void
hw_bus_disconnect(struct hw_bus *bus)
{
	if (bus->fd < 0)
		return;
	/* clear fd under the lock first: hw_bus_interrupt() must never touch a closed fd */
	hw_bus_set_fd(bus, -1);
	modbus_close(bus->ctx);
}

static const char *
hw_bus_where(const struct hw_bus *bus, char *buf, size_t size)
{
	if (bus->cfg->type == RIG_BUS_TCP)
		snprintf(buf, size, "%s:%d", bus->cfg->host, bus->cfg->port);
	else
		snprintf(buf, size, "%s", bus->cfg->device);
	return buf;
}

/*
 * On a serial line, after an attempt that failed or was cut short: waits
 * until nothing has arrived for the line's silence, discarding what comes,
 * then drops what the port still holds. The device may still be sending
 * the answer lbld gave up on (and a port closed and opened again hands its
 * next opener what arrived meanwhile): a request sent over it would collide
 * on the half-duplex line, and its answer would be taken for the new
 * request's ("response not from requested slave"). Only input is dropped:
 * libmodbus's modbus_flush() drops output too, which cut the next request
 * before it left (a safe state's stop then went last; issue 16). Bounded
 * by deadline_ns and by the longest frame's wire time; a line still
 * talking then is left to the attempt, whose answer is checked anyway.
 */
static void
hw_bus_quiet(struct hw_bus *bus, int64_t deadline_ns)
{
	const struct rig_bus *cfg = bus->cfg;
	int bits = 1 + cfg->data_bits + (cfg->parity != 'N') + cfg->stop_bits;
	int64_t char_ns = cfg->baud > 0 ? (int64_t)bits * 1000000000 / cfg->baud : 0;
	int64_t silence_ns = cfg->baud > 19200 ? 1750000 : char_ns * 7 / 2;
	int64_t now = hw_now_ns(), end = now + MODBUS_RTU_MAX_ADU_LENGTH * char_ns + silence_ns;
	uint8_t junk[MODBUS_RTU_MAX_ADU_LENGTH];
	struct pollfd pfd = { bus->fd, POLLIN, 0 };
	struct timespec ts;
	int64_t wait_ns;
	size_t dropped = 0;
	ssize_t n;

	bus->line_dirty = 0;
	if (end > deadline_ns - HW_ATTEMPT_MIN_NS)
		end = deadline_ns - HW_ATTEMPT_MIN_NS;
	for (; now < end; now = hw_now_ns()) {
		wait_ns = end - now < silence_ns ? end - now : silence_ns;
		ts.tv_sec = wait_ns / 1000000000;
		ts.tv_nsec = wait_ns % 1000000000;
		if (ppoll(&pfd, 1, &ts, NULL) <= 0)
			break;		/* quiet for the silence (or poll failed: the attempt tells) */
		if ((n = read(bus->fd, junk, sizeof(junk))) <= 0)
			break;		/* end of file: the link was broken again */
		dropped += (size_t)n;
	}
	if (tcflush(bus->fd, TCIFLUSH) == -1 && errno != ENOTTY)
		log_warn("bus %s: dropping what the port received", cfg->name);
	if (dropped > 0)
		log_debug("bus %s: %zu bytes dropped before the next request", cfg->name, dropped);
}

/*
 * Connects if needed, within what is left until deadline_ns (at most the
 * bus's timeout), reopening a link the safe state or the watcher broke.
 * Safe-state jobs skip the back-off wait. Returns 0, or -1 with the job's
 * error naming the device, the bus and its address.
 */
static int
hw_bus_connect(struct hw_bus *bus, struct hw_job *job, int64_t deadline_ns)
{
	int64_t now = hw_now_ns(), budget = deadline_ns - now;
	int broken;
	char where[160];

	pthread_mutex_lock(&bus->lock);
	broken = bus->fd_broken;
	pthread_mutex_unlock(&bus->lock);
	if (broken) {
		hw_bus_disconnect(bus);
		bus->line_dirty = bus->cfg->type == RIG_BUS_RTU;
	}
	if (bus->fd >= 0) {
		if (bus->line_dirty)
			hw_bus_quiet(bus, deadline_ns);
		return 0;
	}
	if (job->safe == NULL && now < bus->retry_at_ns) {
		hw_job_error(job, "device '%s': bus %s (%s) is down; next connection attempt in "
		    "%lld ms", bus->hw->rig->devices[job->req.device].name, bus->cfg->name,
		    hw_bus_where(bus, where, sizeof(where)),
		    (long long)((bus->retry_at_ns - now) / 1000000));
		return -1;
	}
	if (budget > hw_bus_attempt_ms(bus->cfg) * 1000000)
		budget = hw_bus_attempt_ms(bus->cfg) * 1000000;
	if (budget < HW_ATTEMPT_MIN_NS) {
		hw_job_error(job, "device '%s': bus %s (%s): no time left to connect within the "
		    "transaction's %lld ms", bus->hw->rig->devices[job->req.device].name,
		    bus->cfg->name, hw_bus_where(bus, where, sizeof(where)),
		    (long long)(job->safe != NULL ? hw_bus_safe_command_ms(bus->cfg) :
		    job->prio == HW_PRIO_POLL ? hw_bus_poll_ms(bus->cfg, 0) :
		    hw_bus_transaction_ms(bus->cfg)));
		return -1;
	}
	if (hw_set_response_timeout(bus->ctx, budget) == -1) {
		hw_job_error(job, "device '%s': bus %s: cannot set the connect timeout: %s",
		    bus->hw->rig->devices[job->req.device].name, bus->cfg->name,
		    modbus_strerror(errno));
		return -1;
	}
	if (modbus_connect(bus->ctx) == -1) {
		/* libmodbus leaves a TCP connect's EINPROGRESS when its wait timed out */
		int saved = errno == EINPROGRESS ? ETIMEDOUT : errno;

		bus->backoff_ms = bus->backoff_ms == 0 ? HW_BACKOFF_FIRST_MS :
		    bus->backoff_ms * 2 > HW_BACKOFF_MAX_MS ? HW_BACKOFF_MAX_MS : bus->backoff_ms * 2;
		bus->retry_at_ns = now + (int64_t)bus->backoff_ms * 1000000;
		hw_job_error(job, "device '%s': bus %s: cannot connect to %s: %s",
		    bus->hw->rig->devices[job->req.device].name, bus->cfg->name,
		    hw_bus_where(bus, where, sizeof(where)), modbus_strerror(saved));
		return -1;
	}
	if (bus->ever_connected)
		hw_count(bus->hw, 0, 0, 1, 0);
	bus->ever_connected = 1;
	bus->backoff_ms = 0;
	hw_bus_set_fd(bus, modbus_get_socket(bus->ctx));
	if (bus->line_dirty)
		hw_bus_quiet(bus, deadline_ns);
	return 0;
}

static int
hw_is_exception(int err)
{
	return err >= EMBXILFUN && err <= EMBXGTAR;
}

/* One Modbus call on the current context; returns what libmodbus returned. */
static int
hw_modbus_call(struct hw_bus *bus, const struct profile_object *o, int writing, int count,
    uint16_t *regs)
{
	int width = count > 0 ? count : profile_width(o);
	uint8_t bit;
	int rc;

	switch (o->table) {
	case PROFILE_COIL:
		if (writing)
			return modbus_write_bit(bus->ctx, o->address, regs[0] != 0);
		rc = modbus_read_bits(bus->ctx, o->address, 1, &bit);
		regs[0] = bit;
		return rc;
	case PROFILE_DISCRETE:
		rc = modbus_read_input_bits(bus->ctx, o->address, 1, &bit);
		regs[0] = bit;
		return rc;
	case PROFILE_INPUT:
		return modbus_read_input_registers(bus->ctx, o->address, width, regs);
	case PROFILE_HOLDING:
		if (!writing)
			return modbus_read_registers(bus->ctx, o->address, width, regs);
		/* 32-bit values in one transaction, so the device never sees half a value */
		if (width == 2)
			return modbus_write_registers(bus->ctx, o->address, 2, regs);
		return modbus_write_register(bus->ctx, o->address, regs[0]);
	}
	errno = EINVAL;
	return -1;
}

/* The Modbus function code that hw_modbus_call() uses for o. */
static int
hw_function(const struct profile_object *o, int writing, int width)
{
	switch (o->table) {
	case PROFILE_COIL: return writing ? 5 : 1;
	case PROFILE_DISCRETE: return 2;
	case PROFILE_INPUT: return 4;
	case PROFILE_HOLDING: return !writing ? 3 : width == 2 ? 16 : 6;
	}
	return 0;
}

/*
 * On a serial line, after libmodbus took another unit's answer for the
 * answer to our request (EMBBADSLAVE): that frame is gone, and ours may
 * follow it. A device answering a request lbld gave up on, or cut for the
 * safe state, answers when it is ready, which on a slow device is after
 * the next request has gone out. Reads frames until unit's own answer to
 * hw_modbus_call()'s request or until end_ns, as libmodbus would have
 * checked it. Returns what hw_modbus_call() returns, or -1 with errno
 * (ETIMEDOUT, EMBBADDATA, a Modbus exception, libmodbus's errors).
 */
static int
hw_rtu_own_answer(struct hw_bus *bus, int unit, const struct profile_object *o, int writing,
    int count, uint16_t *regs, int64_t end_ns)
{
	uint8_t rsp[MODBUS_RTU_MAX_ADU_LENGTH];
	int width = count > 0 ? count : profile_width(o);
	int fc = hw_function(o, writing, width), n, i;
	int64_t left;

	for (;;) {
		if ((left = end_ns - hw_now_ns()) < HW_ATTEMPT_MIN_NS) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (hw_set_response_timeout(bus->ctx, left) == -1 ||
		    (n = modbus_receive_confirmation(bus->ctx, rsp)) == -1)
			return -1;
		if (n < 5 || rsp[0] != unit) {
			log_debug("bus %s: an answer from unit %d while waiting for unit %d's: ignored",
			    bus->cfg->name, n > 0 ? rsp[0] : -1, unit);
			continue;
		}
		if (rsp[1] == (fc | 0x80)) {
			errno = MODBUS_ENOBASE + rsp[2];
			return -1;
		}
		errno = EMBBADDATA;
		if (rsp[1] != fc)
			return -1;
		switch (fc) {
		case 1:
		case 2:
			if (n < 6 || rsp[2] != 1)
				return -1;
			regs[0] = rsp[3] & 1;
			return 1;
		case 3:
		case 4:
			if (rsp[2] != 2 * width || n < 5 + 2 * width)
				return -1;
			for (i = 0; i < width; i++)
				regs[i] = (uint16_t)(rsp[3 + 2 * i] << 8 | rsp[4 + 2 * i]);
			return width;
		default:	/* a write's answer echoes its address */
			if (n < 8 || (rsp[2] << 8 | rsp[3]) != o->address)
				return -1;
			return 1;
		}
	}
}

/* Without the lock (see hw_bus.interrupted): the spin to a release reads it every pass. */
static int
hw_bus_was_interrupted(struct hw_bus *bus)
{
	return __atomic_load_n(&bus->interrupted, __ATOMIC_ACQUIRE);
}

/* A hint to the core that this is a spin (it may save power and yield to a sibling thread). */
static inline void
hw_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

int
hw_bus_spin_to(struct hw_bus *bus, int64_t release_ns)
{
	while (hw_now_ns() < release_ns) {
		/* hw_bus_transact looks again before it sends */
		if (hw_bus_was_interrupted(bus))
			return 1;
		hw_cpu_relax();
	}
	return 0;
}

static void
hw_txn_error(struct hw_bus *bus, struct hw_job *job, const struct hw_txn *t, int attempts,
    int err)
{
	hw_job_error(job, "device '%s' (bus %s, unit %d): %s %s 0x%04x (%s): %s%s%.0d%s",
	    t->dev->name, bus->cfg->name, t->dev->unit, t->writing ? "write" : "read",
	    profile_table_names[t->obj->table], t->obj->address, profile_op_names[t->op],
	    modbus_strerror(err), attempts > 1 ? " after " : "", attempts > 1 ? attempts : 0,
	    attempts > 1 ? " attempts" : "");
}

/*
 * Marks an attempt in flight until deadline_ns (0: none) for the watcher,
 * waking it when it sleeps past that. Returns whether the watcher broke
 * the attempt that ends (when in_flight goes 0).
 */
static int
hw_bus_in_flight(struct hw_bus *bus, int in_flight, int64_t deadline_ns)
{
	int expired;

	pthread_mutex_lock(&bus->lock);
	bus->in_flight = in_flight;
	bus->deadline_ns = deadline_ns;
	expired = bus->expired;
	bus->expired = 0;
	if (deadline_ns != 0 && deadline_ns < bus->watch_until_ns)
		pthread_cond_signal(&bus->watch_wake);
	pthread_mutex_unlock(&bus->lock);
	return expired;
}

/*
 * A transaction with bounded retries and reconnection, within its deadline
 * (see the top of this file): hw_bus_transaction_ms(), or for a safe-state
 * command one attempt, hw_bus_safe_command_ms(). Returns 0, or -1 with the
 * job's error naming device, bus, unit and register.
 */
static int
hw_bus_transact(struct hw_bus *bus, struct hw_job *job, const struct hw_txn *t, uint16_t *regs)
{
	int64_t attempt_ns = hw_bus_attempt_ms(bus->cfg) * 1000000, budget, now;
	int64_t deadline = hw_now_ns() + (job->safe != NULL ? hw_bus_safe_command_ms(bus->cfg) :
	    job->prio == HW_PRIO_POLL ? hw_bus_poll_ms(bus->cfg, bus->fd >= 0) :
	    hw_bus_transaction_ms(bus->cfg)) * 1000000;
	int attempt, err, rc, expired;
	int max_attempts = hw_job_single(job) ? 1 :
	    1 + (bus->cfg->retries > 0 ? bus->cfg->retries : 0);

	for (attempt = 1;; attempt++) {
		if (hw_bus_was_interrupted(bus) && job->safe == NULL) {
			hw_job_error(job, "device '%s': interrupted for the safe state", t->dev->name);
			return -1;
		}
		if (hw_bus_connect(bus, job, deadline) == -1)
			return -1;
		if (bus->cfg->type == RIG_BUS_RTU && bus->cfg->frame_delay_ms > 0) {
			struct timespec gap = { bus->cfg->frame_delay_ms / 1000,
				(bus->cfg->frame_delay_ms % 1000) * 1000000 };
			/* an early wakeup (EINTR) only shortens the quiet time */
			(void)nanosleep(&gap, NULL);
		}
		now = hw_now_ns();
		budget = deadline - now < attempt_ns ? deadline - now : attempt_ns;
		if (budget < HW_ATTEMPT_MIN_NS) {
			hw_count(bus->hw, 1, attempt - 1, 0, 1);
			hw_txn_error(bus, job, t, job->attempts + attempt - 1, ETIMEDOUT);
			return -1;
		}
		if (modbus_set_slave(bus->ctx, t->dev->unit) == -1 ||
		    hw_set_response_timeout(bus->ctx, budget) == -1) {
			hw_txn_error(bus, job, t, 1, errno);
			return -1;
		}
		hw_bus_in_flight(bus, 1, now + budget + (int64_t)HW_WATCH_GRACE_MS * 1000000);
		if (job->res.sent_ns == 0)
			job->res.sent_ns = hw_now_ns();
		errno = 0;
		rc = hw_modbus_call(bus, t->obj, t->writing, t->count, regs);
		err = errno;
		if (rc == -1 && err == EMBBADSLAVE && bus->cfg->type == RIG_BUS_RTU) {
			rc = hw_rtu_own_answer(bus, t->dev->unit, t->obj, t->writing, t->count, regs,
			    now + budget);
			err = errno;
		}
		expired = hw_bus_in_flight(bus, 0, 0);
		if (rc != -1) {
			hw_count(bus->hw, 1, attempt - 1, 0, 0);
			return 0;
		}
		if (expired)
			err = ETIMEDOUT;	/* the watcher broke it at its deadline */
		if (hw_is_exception(err)) {
			hw_count(bus->hw, 1, attempt - 1, 0, 1);
			hw_txn_error(bus, job, t, 1, err);
			return -1;
		}
		/*
		 * Timeout, bad frame, lost link or an interruption: TCP starts
		 * afresh so that a late reply cannot answer the next request;
		 * RTU waits for the line to fall quiet before the next request
		 * (hw_bus_quiet()), reopening the port when it failed.
		 */
		if (bus->cfg->type == RIG_BUS_RTU)
			bus->line_dirty = 1;
		if (bus->cfg->type == RIG_BUS_TCP || err == ECONNRESET || err == EBADF ||
		    expired || hw_bus_was_interrupted(bus))
			hw_bus_disconnect(bus);
		if (attempt >= max_attempts || (hw_bus_was_interrupted(bus) && job->safe == NULL)) {
			hw_count(bus->hw, 1, attempt - 1, 0, 1);
			hw_txn_error(bus, job, t, job->attempts + attempt, err);
			return -1;
		}
	}
}

static const struct profile_object *
hw_obj(const struct profile *p, enum profile_op op)
{
	return p->ops[op].defined ? &p->ops[op] : NULL;
}

/* Writes an engineering value through op's object. */
static int
hw_write_value(struct hw_bus *bus, struct hw_job *job, const struct profile *p,
    enum profile_op op, double value)
{
	const struct rig_device *dev = &bus->hw->rig->devices[job->req.device];
	struct hw_txn t = { dev, hw_obj(p, op), op, 1, 0 };
	uint16_t regs[2];

	if (profile_encode(t.obj, value, regs) == -1) {
		hw_job_error(job, "device '%s': %s %g does not fit %s register 0x%04x", dev->name,
		    profile_op_names[op], value, profile_table_names[t.obj->table], t.obj->address);
		return -1;
	}
	return hw_bus_transact(bus, job, &t, regs);
}

/* Writes op's command value (raw, unscaled) to its control word or coil. */
static int
hw_command(struct hw_bus *bus, struct hw_job *job, const struct profile *p, enum profile_op op)
{
	const struct rig_device *dev = &bus->hw->rig->devices[job->req.device];
	struct hw_txn t = { dev, hw_obj(p, op), op, 1, 0 };
	uint16_t regs[2] = { (uint16_t)t.obj->command, 0 };

	if (profile_width(t.obj) == 2) {
		struct profile_object raw = *t.obj;
		raw.scale = 1;
		raw.offset = 0;
		if (profile_encode(&raw, t.obj->command, regs) == -1)
			return -1;
	}
	return hw_bus_transact(bus, job, &t, regs);
}

/*
 * Reads op's object into regs; objects already read in this job (status
 * flags often share one word) come from the cache instead.
 */
struct hw_read_cache {
	int count;
	struct { enum profile_table table; uint16_t address; int width; uint16_t regs[2]; } e[8];
};

static int
hw_read(struct hw_bus *bus, struct hw_job *job, const struct profile *p, enum profile_op op,
    struct hw_read_cache *cache, uint16_t regs[2])
{
	const struct rig_device *dev = &bus->hw->rig->devices[job->req.device];
	struct hw_txn t = { dev, hw_obj(p, op), op, 0, 0 };
	int i, width = profile_width(t.obj);

	for (i = 0; i < cache->count; i++) {
		if (cache->e[i].table == t.obj->table && cache->e[i].address == t.obj->address &&
		    cache->e[i].width == width) {
			memcpy(regs, cache->e[i].regs, sizeof(cache->e[i].regs));
			return 0;
		}
	}
	regs[0] = regs[1] = 0;
	if (hw_bus_transact(bus, job, &t, regs) == -1)
		return -1;
	if (cache->count < 8) {
		cache->e[cache->count].table = t.obj->table;
		cache->e[cache->count].address = t.obj->address;
		cache->e[cache->count].width = width;
		memcpy(cache->e[cache->count].regs, regs, sizeof(cache->e[0].regs));
		cache->count++;
	}
	return 0;
}

/* Every object a status read may read (the role's are the only ones its profile has). */
static const enum profile_op hw_status_ops[] = { PROFILE_POSITION, PROFILE_BUSY,
	PROFILE_IN_POSITION, PROFILE_HOMED, PROFILE_ALARM, PROFILE_VOLUME, PROFILE_LENGTH,
	PROFILE_RUNNING, PROFILE_STATE, PROFILE_VALUE };
#define HW_STATUS_OPS	((int)(sizeof(hw_status_ops) / sizeof(hw_status_ops[0])))

/*
 * Whether a status read's objects can go in one transaction: two or more
 * registers of one table (input or holding) that together cover a run of
 * at most HW_STATUS_SPAN registers with no gap (a register between two
 * objects may not exist on the device, and reading it would fail the
 * read). Returns the run's length (*lo its first address, *first_op the
 * object there), or 0.
 */
static int
hw_join_plan(const struct profile *p, int *lo_out, enum profile_op *first_op)
{
	const struct profile_object *o, *first = NULL;
	int covered[HW_STATUS_SPAN] = { 0 }, i, k, lo = 0x10000, hi = -1, objects = 0;

	for (i = 0; i < HW_STATUS_OPS; i++) {
		if (!p->ops[hw_status_ops[i]].defined)
			continue;
		o = &p->ops[hw_status_ops[i]];
		if ((o->table != PROFILE_INPUT && o->table != PROFILE_HOLDING) ||
		    (first != NULL && o->table != first->table))
			return 0;
		if (first == NULL || o->address < first->address) {
			first = o;
			*first_op = hw_status_ops[i];
		}
		if (o->address < lo)
			lo = o->address;
		if (o->address + profile_width(o) - 1 > hi)
			hi = o->address + profile_width(o) - 1;
		objects++;
	}
	if (objects < 2 || hi - lo + 1 > HW_STATUS_SPAN || hi - lo + 1 < 2)
		return 0;
	for (i = 0; i < HW_STATUS_OPS; i++) {
		o = &p->ops[hw_status_ops[i]];
		for (k = 0; o->defined && k < profile_width(o); k++)
			covered[o->address + k - lo] = 1;
	}
	for (k = 0; k <= hi - lo; k++)
		if (!covered[k])
			return 0;
	*lo_out = lo;
	return hi - lo + 1;
}

int
hw_status_transactions(const struct profile *p)
{
	int lo, n = 0, i, k;
	enum profile_op first_op;
	const struct profile_object *o, *q;

	if (hw_join_plan(p, &lo, &first_op) > 0)
		return 1;
	/* one per distinct register read (flags sharing a word share its read) */
	for (i = 0; i < HW_STATUS_OPS; i++) {
		o = &p->ops[hw_status_ops[i]];
		if (!o->defined)
			continue;
		for (k = 0; k < i; k++) {
			q = &p->ops[hw_status_ops[k]];
			if (q->defined && q->table == o->table && q->address == o->address &&
			    profile_width(q) == profile_width(o))
				break;
		}
		n += k == i;
	}
	return n;
}

/*
 * A status read's objects in one transaction when hw_join_plan() allows:
 * their values go into the cache, so hw_read() finds them there (a poll
 * of a generic drive, its position and then its flags' word, is one
 * transaction instead of two, and reads them at one instant). Returns 0
 * (also when nothing could be joined: each object is then read on its
 * own), or -1 with the job's error.
 */
static int
hw_read_joined(struct hw_bus *bus, struct hw_job *job, const struct profile *p,
    struct hw_read_cache *cache)
{
	const struct rig_device *dev = &bus->hw->rig->devices[job->req.device];
	const struct profile_object *o;
	uint16_t regs[HW_STATUS_SPAN];
	enum profile_op first_op = PROFILE_POSITION;
	int lo = 0, count = hw_join_plan(p, &lo, &first_op), i;
	struct hw_txn t;

	if (count == 0)
		return 0;
	t = (struct hw_txn){ dev, &p->ops[first_op], first_op, 0, count };
	if (hw_bus_transact(bus, job, &t, regs) == -1)
		return -1;
	for (i = 0; i < HW_STATUS_OPS && cache->count < 8; i++) {
		o = &p->ops[hw_status_ops[i]];
		if (!o->defined)
			continue;
		cache->e[cache->count].table = o->table;
		cache->e[cache->count].address = o->address;
		cache->e[cache->count].width = profile_width(o);
		cache->e[cache->count].regs[0] = regs[o->address - lo];
		cache->e[cache->count].regs[1] = profile_width(o) == 2 ? regs[o->address - lo + 1] : 0;
		cache->count++;
	}
	return 0;
}

/* Reads a flag into *flag (left -1 when the profile lacks it). */
static int
hw_read_flag(struct hw_bus *bus, struct hw_job *job, const struct profile *p, enum profile_op op,
    struct hw_read_cache *cache, int *flag)
{
	uint16_t regs[2];

	if (!p->ops[op].defined)
		return 0;
	if (hw_read(bus, job, p, op, cache, regs) == -1)
		return -1;
	*flag = profile_flag(&p->ops[op], regs);
	return 0;
}

static int
hw_read_number(struct hw_bus *bus, struct hw_job *job, const struct profile *p,
    enum profile_op op, struct hw_read_cache *cache, double *value)
{
	uint16_t regs[2];

	if (!p->ops[op].defined)
		return 0;
	if (hw_read(bus, job, p, op, cache, regs) == -1)
		return -1;
	*value = profile_decode(&p->ops[op], regs);
	return 0;
}

/*
 * Everything the role reports: the answer to HW_STATUS and HW_PROBE. The
 * first read that fails ends it (-1, the job's error says which): a device
 * that does not answer costs one transaction's deadline, not one per flag.
 */
static int
hw_do_status(struct hw_bus *bus, struct hw_job *job, const struct profile *p)
{
	struct hw_read_cache cache = { 0 };
	struct hw_result *r = &job->res;
	int rc = 0, flag = -1;

	if (hw_read_joined(bus, job, p, &cache) == -1)
		return -1;
	switch (p->role) {
	case RIG_AXIS:
		if (hw_read_number(bus, job, p, PROFILE_POSITION, &cache, &r->position_mm) == -1 ||
		    hw_read_flag(bus, job, p, PROFILE_BUSY, &cache, &r->busy) == -1 ||
		    hw_read_flag(bus, job, p, PROFILE_IN_POSITION, &cache, &r->in_position) == -1 ||
		    hw_read_flag(bus, job, p, PROFILE_HOMED, &cache, &r->homed) == -1)
			rc = -1;
		break;
	case RIG_PUMP:
	case RIG_LINE:
		if (hw_read_number(bus, job, p, p->role == RIG_PUMP ? PROFILE_VOLUME :
		    PROFILE_LENGTH, &cache, &r->value) == -1 ||
		    hw_read_flag(bus, job, p, PROFILE_RUNNING, &cache, &r->running) == -1)
			rc = -1;
		break;
	case RIG_VALVE:
		if (p->ops[PROFILE_STATE].defined) {
			rc = hw_read_flag(bus, job, p, PROFILE_STATE, &cache, &flag);
			r->value = flag;
		}
		break;
	case RIG_INPUT:
		rc = hw_read_flag(bus, job, p, PROFILE_ACTIVE, &cache, &flag);
		r->value = flag;
		break;
	case RIG_SENSOR:
		rc = hw_read_number(bus, job, p, PROFILE_VALUE, &cache, &r->value);
		break;
	case RIG_ROLE_COUNT:
		break;
	}
	if (rc == 0)
		rc = hw_read_flag(bus, job, p, PROFILE_ALARM, &cache, &r->alarm);
	return rc == 0 ? 0 : -1;
}

/*
 * A sensor's reading for a batch (HW_READ) must be a measurement: NaN,
 * infinite or outside its plausible range (profile_check_reading()) fails
 * the request, naming device, bus, unit, register and the reading.
 */
static int
hw_check_reading(struct hw_bus *bus, struct hw_job *job, const struct profile *p)
{
	const struct rig_device *dev = &bus->hw->rig->devices[job->req.device];
	const struct profile_object *o = &p->ops[PROFILE_VALUE];
	char why[200];

	if (profile_check_reading(p, dev, job->res.value, why, sizeof(why)) == 0)
		return 0;
	hw_job_error(job, "device '%s' (bus %s, unit %d): read %s 0x%04x (value): %s", dev->name,
	    bus->cfg->name, dev->unit, profile_table_names[o->table], o->address, why);
	return -1;
}

/*
 * An armed setpoint (HW_ARM) is read back after its write: what the device
 * holds must decode to what was written, or the arm fails naming device,
 * bus, unit, register and both values. A whole request is not read back.
 */
static int
hw_readback(struct hw_bus *bus, struct hw_job *job, const struct profile *p, enum profile_op op,
    double value)
{
	const struct rig_device *dev = &bus->hw->rig->devices[job->req.device];
	struct hw_txn t = { dev, hw_obj(p, op), op, 0, 0 };
	uint16_t want[2] = { 0, 0 }, got[2] = { 0, 0 };
	double want_value, got_value;

	if (job->req.stage != HW_ARM)
		return 0;
	if (profile_encode(t.obj, value, want) == -1)
		return -1;	/* the write before failed on it already */
	if (hw_bus_transact(bus, job, &t, got) == -1)
		return -1;
	want_value = profile_decode(t.obj, want);
	got_value = profile_decode(t.obj, got);
	if (want_value != got_value) {
		hw_job_error(job, "device '%s' (bus %s, unit %d): armed %s read back from %s "
		    "0x%04x as %g, written %g", dev->name, bus->cfg->name, dev->unit,
		    profile_op_names[op], profile_table_names[t.obj->table], t.obj->address,
		    got_value, want_value);
		return -1;
	}
	return 0;
}

/* Writes a setpoint, read back when armed. */
static int
hw_set(struct hw_bus *bus, struct hw_job *job, const struct profile *p, enum profile_op op,
    double value)
{
	if (hw_write_value(bus, job, p, op, value) == -1)
		return -1;
	return hw_readback(bus, job, p, op, value);
}

/*
 * A move: enable, speed, acceleration, target, then go. Armed (HW_ARM),
 * all but go; fired (HW_FIRE), go alone; whole, everything.
 */
static int
hw_do_move(struct hw_bus *bus, struct hw_job *job, const struct profile *p)
{
	const struct rig_device *dev = &bus->hw->rig->devices[job->req.device];
	double speed = job->req.speed_mm_s > 0 ? job->req.speed_mm_s : dev->max_speed_mm_s;

	if (job->req.stage == HW_FIRE)
		return hw_command(bus, job, p, PROFILE_GO);
	/* enable is idempotent (a PR mode, a servo-on): sent with every move */
	if (p->ops[PROFILE_ENABLE].defined && hw_command(bus, job, p, PROFILE_ENABLE) == -1)
		return -1;
	if (p->ops[PROFILE_SPEED].defined && hw_set(bus, job, p, PROFILE_SPEED, speed) == -1)
		return -1;
	if (p->ops[PROFILE_ACCEL].defined && dev->max_accel_mm_s2 > 0 &&
	    hw_set(bus, job, p, PROFILE_ACCEL, dev->max_accel_mm_s2) == -1)
		return -1;
	if (hw_set(bus, job, p, PROFILE_TARGET, job->req.value) == -1)
		return -1;
	if (job->req.stage == HW_ARM)
		return 0;
	return hw_command(bus, job, p, PROFILE_GO);
}

/*
 * Pumps and line drives: direction, rate, run; a zero rate stops (never
 * staged). Armed, direction and rate; fired, run alone; whole, all three.
 */
static int
hw_do_run(struct hw_bus *bus, struct hw_job *job, const struct profile *p, enum profile_op rate)
{
	if (job->req.value <= 0)
		return hw_command(bus, job, p, PROFILE_STOP);
	if (job->req.stage == HW_FIRE)
		return hw_command(bus, job, p, PROFILE_RUN);
	if (job->req.stage == HW_ARM && p->ops[PROFILE_RUNNING].defined) {
		/* a device that runs already is left alone: its start goes whole */
		struct hw_read_cache cache = { 0 };
		if (hw_read_flag(bus, job, p, PROFILE_RUNNING, &cache, &job->res.running) == -1)
			return -1;
		if (job->res.running == 1)
			return 0;
	}
	if (p->ops[PROFILE_DIRECTION].defined &&
	    hw_set(bus, job, p, PROFILE_DIRECTION, job->req.reverse ? 1 : 0) == -1)
		return -1;
	if (p->ops[rate].defined && hw_set(bus, job, p, rate, job->req.value) == -1)
		return -1;
	if (job->req.stage == HW_ARM)
		return 0;
	return hw_command(bus, job, p, PROFILE_RUN);
}

static void
hw_bus_execute(struct hw_bus *bus, struct hw_job *job)
{
	const struct profile *p = profile_of(bus->hw->profiles, job->req.device);
	int rc = -1;

	job->res.ok = 1;
	switch (job->req.op) {
	case HW_PROBE:
	case HW_STATUS:
		rc = hw_do_status(bus, job, p);
		break;
	case HW_READ:
		rc = hw_do_status(bus, job, p);
		if (rc == 0 && p->role == RIG_SENSOR)
			rc = hw_check_reading(bus, job, p);
		break;
	case HW_MOVE:
		rc = hw_do_move(bus, job, p);
		break;
	case HW_HOME:
		rc = hw_command(bus, job, p, PROFILE_HOME);
		break;
	case HW_STOP:
		rc = hw_command(bus, job, p, PROFILE_STOP);
		break;
	case HW_RESET:
		rc = hw_command(bus, job, p, PROFILE_RESET);
		break;
	case HW_PUMP:
		/* the rate in the device's own unit: rpm for a stirrer, mL/min for a pump */
		rc = hw_do_run(bus, job, p,
		    profile_rate_op(&bus->hw->rig->devices[job->req.device]));
		break;
	case HW_LINE:
		rc = hw_do_run(bus, job, p, PROFILE_SPEED);
		break;
	case HW_OUTPUT:
		rc = hw_command(bus, job, p, job->req.value != 0 ? PROFILE_ON : PROFILE_OFF);
		break;
	case HW_WATCHDOG:
		rc = hw_write_value(bus, job, p, PROFILE_WATCHDOG, job->req.value);
		break;
	case HW_FEED: {
		struct hw_read_cache cache = { 0 };
		rc = hw_read_number(bus, job, p, PROFILE_WATCHDOG, &cache, &job->res.value);
		break;
	}
	}
	if (rc == -1)
		hw_job_error(job, "device '%s': failed", bus->hw->rig->devices[job->req.device].name);
}

/*
 * Queues job behind every job of its priority or a higher one (first: of a
 * higher one only). Call with lock held.
 */
static void
hw_bus_insert_locked(struct hw_bus *bus, struct hw_job *job, int first)
{
	struct hw_job **at = &bus->queue_head;

	/* the tail first: most jobs go there, and the walk is over at once */
	if (!first && bus->queue_tail != NULL && bus->queue_tail->prio <= job->prio)
		at = &bus->queue_tail->next;
	else
		while (*at != NULL && ((*at)->prio < job->prio ||
		    (!first && (*at)->prio == job->prio)))
			at = &(*at)->next;
	job->next = *at;
	*at = job;
	if (job->next == NULL)
		bus->queue_tail = job;
}

static void *
hw_bus_main(void *arg)
{
	struct hw_bus *bus = arg;
	struct hw_job *job;
	int64_t wait_until, began, waited_for, release;
	struct timespec ts;
	int unsent, stale;

	/* timer slack 1 ns: an RTU frame's quiet time and deadlines are kept to the µs */
	if (rt_thread_timed() == -1)
		log_warn("bus %s: timer slack stays at the kernel's default", bus->cfg->name);
	pthread_mutex_lock(&bus->lock);
	for (;;) {
		job = NULL;
		waited_for = 0;
		while (!bus->stopping &&
		    (job = hw_bus_take_locked(bus, hw_now_ns(), &wait_until)) == NULL) {
			waited_for = wait_until;
			if (wait_until == 0) {
				pthread_cond_wait(&bus->wake, &bus->lock);
				continue;
			}
			/* polls and releases wait for their time; a new job or deadline wakes us first */
			ts.tv_sec = wait_until / 1000000000;
			ts.tv_nsec = wait_until % 1000000000;
			(void)pthread_cond_timedwait(&bus->wake, &bus->lock, &ts);
		}
		/* take is not tried once stopping: no job is in hand then */
		if (bus->stopping)
			break;
		/*
		 * After a gate whose opener failed, or queued before a safe state
		 * that has begun (its bus not interrupted yet): answered, never
		 * sent. The loop thread drops the latter unheard.
		 */
		stale = job->epoch != __atomic_load_n(&bus->hw->epoch, __ATOMIC_ACQUIRE);
		unsent = stale || (job->waits != NULL && hw_gate_state(job->waits) != HW_GATE_OPEN);
		/* woken for a release: how late that wake came is learnt */
		release = unsent ? 0 : job->req.release_ns;
		if (release != 0 && waited_for != 0 && waited_for == release - bus->wake_lead_ns)
			hw_bus_learn_wake(bus, hw_now_ns() - waited_for);
		/* a new job after an interruption: only safe-state jobs are queued now */
		__atomic_store_n(&bus->interrupted, 0, __ATOMIC_RELEASE);
		bus->job_running = 1;
		pthread_mutex_unlock(&bus->lock);
		/* the rest of the way to its moment, on the clock */
		if (release != 0)
			(void)hw_bus_spin_to(bus, release);
		began = hw_now_ns();
		if (stale)
			hw_job_error(job, "device '%s': not sent: a safe state came first",
			    bus->hw->rig->devices[job->req.device].name);
		else if (unsent)
			hw_job_error(job, "device '%s': not sent: the command it follows, to device "
			    "'%s', failed", bus->hw->rig->devices[job->req.device].name,
			    bus->hw->rig->devices[job->waits->first_device].name);
		else
			hw_bus_execute(bus, job);
		/* what waits for this one goes now, on its own worker: no loop between */
		if (job->opens != NULL)
			hw_gate_settle(job->opens, job->res.ok);
		pthread_mutex_lock(&bus->lock);
		/* one reading of the clock for both: a poll's time never exceeds the bus's */
		began = hw_now_ns() - began;
		bus->busy_ns += began;
		if (job->prio == HW_PRIO_POLL) {
			bus->polls++;
			bus->poll_ns += began;
		}
		bus->job_running = 0;
		/*
		 * A safe state's command that failed goes again after the other
		 * devices' commands queued behind it, up to the bus's retries,
		 * unless a newer safe state dropped its batch meanwhile (it
		 * completes then, and the loop thread drops it as stale).
		 */
		if (job->safe != NULL && !job->res.ok && ++job->attempts <= bus->cfg->retries &&
		    !hw_bus_was_interrupted(bus) && !bus->stopping) {
			char why[sizeof(job->res.error)];

			/* copied first: a newer safe state may drop the job once unlocked */
			memcpy(why, job->res.error, sizeof(why));
			job->res.ok = 1;
			job->res.error[0] = '\0';
			hw_bus_insert_locked(bus, job, 0);
			pthread_mutex_unlock(&bus->lock);
			log_warnx("safe state: %s; sent again after the other devices' commands", why);
			pthread_mutex_lock(&bus->lock);
			continue;
		}
		pthread_mutex_unlock(&bus->lock);
		hw_complete(bus->hw, job);
		pthread_mutex_lock(&bus->lock);
	}
	pthread_mutex_unlock(&bus->lock);
	hw_bus_disconnect(bus);
	return NULL;
}

static modbus_t *
hw_bus_new_ctx(const struct rig_bus *cfg, char *err, size_t err_size)
{
	char port[16];
	modbus_t *ctx;

	if (cfg->type == RIG_BUS_TCP) {
		snprintf(port, sizeof(port), "%d", cfg->port);
		ctx = modbus_new_tcp_pi(cfg->host, port);
	} else {
		ctx = modbus_new_rtu(cfg->device, cfg->baud, cfg->parity, cfg->data_bits,
		    cfg->stop_bits);
	}
	if (ctx == NULL) {
		snprintf(err, err_size, "bus %s: cannot create a Modbus context: %s", cfg->name,
		    modbus_strerror(errno));
		return NULL;
	}
	/*
	 * No MODBUS_ERROR_RECOVERY_*: it would block in the call; we retry
	 * ourselves. No byte timeout: then the response timeout (set again
	 * before each attempt) bounds the whole reply, not its first byte.
	 */
	if (modbus_set_error_recovery(ctx, MODBUS_ERROR_RECOVERY_NONE) == -1 ||
	    modbus_set_byte_timeout(ctx, 0, 0) == -1 ||
	    hw_set_response_timeout(ctx, hw_bus_attempt_ms(cfg) * 1000000) == -1) {
		snprintf(err, err_size, "bus %s: cannot set timeouts: %s", cfg->name,
		    modbus_strerror(errno));
		modbus_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * Breaks the attempt in flight, if any, so that the worker's wait ends at
 * once with an error; the worker reopens the link before its next attempt
 * (fd_broken). Call with lock held.
 */
static void
hw_bus_break_fd_locked(struct hw_bus *bus)
{
	int null_fd;

	if (!bus->in_flight || bus->fd < 0)
		return;
	bus->fd_broken = 1;
	if (bus->cfg->type == RIG_BUS_TCP) {
		/* fails only on a socket the peer has reset already: nothing left to break */
		(void)shutdown(bus->fd, SHUT_RDWR);
		return;
	}
	/*
	 * A tty cannot be shut down: put /dev/null in its place, so the
	 * worker's select() sees end of file (libmodbus: ECONNRESET) and the
	 * worker reopens the port. dup2() is atomic, so the fd number stays
	 * valid for the worker throughout. Without a free fd for /dev/null the
	 * attempt still ends at its own response timeout.
	 */
	if ((null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return;
	if (dup2(null_fd, bus->fd) == -1)
		bus->fd_broken = 0;	/* the tty is intact; the timeout ends the attempt */
	close(null_fd);
}

/*
 * The deadline watcher of a bus: sleeps until the deadline of the attempt
 * in flight (hw_bus_transact() sets it) and breaks the attempt if it still
 * runs then, so no transaction outlives its deadline whatever libmodbus or
 * the device does. With no attempt in flight it sleeps until woken: an
 * idle bus costs no wakeups (one, after its last attempt).
 */
static void *
hw_bus_watch(void *arg)
{
	struct hw_bus *bus = arg;
	struct timespec ts;

	if (rt_thread_timed() == -1)
		log_warn("bus %s: the deadline watcher's timer slack stays at the kernel's default",
		    bus->cfg->name);
	pthread_mutex_lock(&bus->lock);
	while (!bus->stopping) {
		if (bus->in_flight && bus->deadline_ns != 0 && hw_now_ns() >= bus->deadline_ns) {
			bus->expired = 1;
			bus->deadline_ns = 0;
			hw_bus_break_fd_locked(bus);
		}
		bus->watch_until_ns = bus->in_flight && bus->deadline_ns != 0 ? bus->deadline_ns :
		    INT64_MAX;
		if (bus->watch_until_ns == INT64_MAX) {
			pthread_cond_wait(&bus->watch_wake, &bus->lock);
			continue;
		}
		ts.tv_sec = bus->watch_until_ns / 1000000000;
		ts.tv_nsec = bus->watch_until_ns % 1000000000;
		/* woken, timed out or not: the loop looks at the deadline again */
		(void)pthread_cond_timedwait(&bus->watch_wake, &bus->lock, &ts);
	}
	pthread_mutex_unlock(&bus->lock);
	return NULL;
}

/* Stops and joins the watcher (worker already joined or never started). */
static void
hw_bus_watch_stop(struct hw_bus *bus)
{
	if (!bus->watch_started)
		return;
	pthread_mutex_lock(&bus->lock);
	bus->stopping = 1;
	pthread_cond_signal(&bus->watch_wake);
	pthread_mutex_unlock(&bus->lock);
	pthread_join(bus->watch_thread, NULL);
	pthread_cond_destroy(&bus->watch_wake);
	bus->watch_started = 0;
}

int
hw_bus_start(struct hw_bus *bus, char *err, size_t err_size)
{
	pthread_condattr_t attr;
	int rc;

	bus->fd = -1;
	bus->watch_until_ns = INT64_MAX;
	if ((bus->ctx = hw_bus_new_ctx(bus->cfg, err, err_size)) == NULL)
		return -1;
	/* the watcher's timed waits are on the clock the deadlines are on */
	if ((rc = pthread_condattr_init(&attr)) != 0) {
		snprintf(err, err_size, "bus %s: cannot start its deadline watcher: %s",
		    bus->cfg->name, strerror(rc));
		goto fail;
	}
	if ((rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
	    (rc = pthread_cond_init(&bus->watch_wake, &attr)) != 0) {
		pthread_condattr_destroy(&attr);
		snprintf(err, err_size, "bus %s: cannot start its deadline watcher: %s",
		    bus->cfg->name, strerror(rc));
		goto fail;
	}
	pthread_condattr_destroy(&attr);
	if ((rc = pthread_create(&bus->watch_thread, NULL, hw_bus_watch, bus)) != 0) {
		pthread_cond_destroy(&bus->watch_wake);
		snprintf(err, err_size, "bus %s: cannot start its deadline watcher: %s",
		    bus->cfg->name, strerror(rc));
		goto fail;
	}
	bus->watch_started = 1;
	if ((rc = pthread_create(&bus->thread, NULL, hw_bus_main, bus)) != 0) {
		snprintf(err, err_size, "bus %s: cannot start its thread: %s", bus->cfg->name,
		    strerror(rc));
		hw_bus_watch_stop(bus);
		goto fail;
	}
	bus->thread_started = 1;
	return 0;
fail:
	modbus_free(bus->ctx);
	bus->ctx = NULL;
	return -1;
}

static void
hw_bus_free_queue(struct hw_bus *bus)
{
	struct hw_job *job, *next;

	for (job = bus->queue_head; job != NULL; job = next) {
		next = job->next;
		hw_job_drop(job);
	}
	bus->queue_head = bus->queue_tail = NULL;
}

/* Breaks a blocked read: the worker sees an error at once. Call with lock held. */
static void
hw_bus_break_locked(struct hw_bus *bus)
{
	/* the job in hand stops before its next transaction (a "go" after a stop...) */
	if (bus->job_running)
		__atomic_store_n(&bus->interrupted, 1, __ATOMIC_RELEASE);
	hw_bus_break_fd_locked(bus);
}

void
hw_bus_interrupt(struct hw_bus *bus)
{
	pthread_mutex_lock(&bus->lock);
	hw_bus_free_queue(bus);
	hw_bus_break_locked(bus);
	pthread_mutex_unlock(&bus->lock);
}

int
hw_gate_state(const struct hw_gate *gate)
{
	return __atomic_load_n(&gate->state, __ATOMIC_ACQUIRE);
}

void
hw_gate_settle(struct hw_gate *gate, int ok)
{
	struct hw_bus *bus;

	__atomic_store_n(&gate->state, ok ? HW_GATE_OPEN : HW_GATE_FAILED, __ATOMIC_RELEASE);
	pthread_mutex_lock(&gate->lock);
	bus = gate->bus;
	pthread_mutex_unlock(&gate->lock);
	/* not queued yet: its worker finds the state when it takes it */
	if (bus == NULL)
		return;
	pthread_mutex_lock(&bus->lock);
	pthread_cond_signal(&bus->wake);
	pthread_mutex_unlock(&bus->lock);
}

void
hw_bus_queue(struct hw_bus *bus, struct hw_job *job, int first)
{
	pthread_mutex_lock(&bus->lock);
	hw_bus_insert_locked(bus, job, first);
	pthread_cond_signal(&bus->wake);
	pthread_mutex_unlock(&bus->lock);
}

struct hw_job *
hw_bus_take_locked(struct hw_bus *bus, int64_t now_ns, int64_t *wait_until_ns)
{
	struct hw_job *job = bus->queue_head;
	int64_t deadline = bus->next_deadline_ns, poll_ns;

	*wait_until_ns = 0;
	if (job == NULL)
		return NULL;
	/*
	 * A request after a gate holds the queue until the gate's opener has
	 * ended, but for a watchdog's feed or write behind it (other devices'
	 * lifelines, which a slow opener on another bus would starve).
	 */
	if (job->waits != NULL && hw_gate_state(job->waits) == HW_GATE_SHUT) {
		struct hw_job **at;

		for (at = &job->next; *at != NULL; at = &(*at)->next)
			if ((*at)->req.op == HW_FEED || (*at)->req.op == HW_WATCHDOG)
				break;
		if ((job = *at) == NULL)
			return NULL;
		*at = job->next;
		if (bus->queue_tail == job)
			bus->queue_tail = NULL;
		job->next = NULL;
		/* the tail: the last job before it, found again (a short queue) */
		if (bus->queue_tail == NULL)
			for (bus->queue_tail = bus->queue_head; bus->queue_tail->next != NULL;
			    bus->queue_tail = bus->queue_tail->next)
				;
		return job;
	}
	/* polls are last in the queue: when the head is one, only polls are queued */
	if (job->prio == HW_PRIO_POLL && deadline != 0 &&
	    now_ns < deadline + (int64_t)HW_POLL_HOLD_AFTER_MS * 1000000) {
		poll_ns = (hw_bus_poll_ms(bus->cfg, bus->fd >= 0) + HW_POLL_MARGIN_MS) * 1000000;
		if (now_ns + poll_ns > deadline) {
			*wait_until_ns = deadline + (int64_t)HW_POLL_HOLD_AFTER_MS * 1000000;
			return NULL;
		}
	}
	/*
	 * A request released at a moment (hw_request.release_ns) holds the
	 * queue until then, less the worker's learnt wake: the worker waits
	 * out the rest on the clock (hw_bus_main).
	 */
	if (job->req.release_ns - bus->wake_lead_ns > now_ns &&
	    (job->waits == NULL || hw_gate_state(job->waits) == HW_GATE_OPEN)) {
		*wait_until_ns = job->req.release_ns - bus->wake_lead_ns;
		return NULL;
	}
	bus->queue_head = job->next;
	if (bus->queue_head == NULL)
		bus->queue_tail = NULL;
	job->next = NULL;
	return job;
}

/*
 * Learnt as run_learn_tail learns a close (daemon/run.c): a late wake
 * moves the lead half of the way up (counting at most HW_WAKE_STEP_NS of
 * the difference), an early one a sixteenth of the way down but at most
 * HW_WAKE_EASE_NS, so the lead stands where late wakes times what each
 * teaches balances the early ones' small steps (a wake 0.2 ms or more
 * past the lead against one in about 50), whatever the wakes' spread. A
 * lead learnt to their mean made every other step late by the rest.
 */
#define HW_WAKE_EASE_NS		2000
/*
 * A wake later than the lead counts at most this much beyond it: one stall
 * of the machine (a wake 50 ms late) says little of the next wake, and a
 * lead it drove to HW_RELEASE_SPIN_MAX_US would take hundreds of commands
 * to come down again, each spinning the difference.
 */
#define HW_WAKE_STEP_NS		200000
void
hw_bus_learn_wake(struct hw_bus *bus, int64_t late_ns)
{
	int64_t most_ns = (int64_t)HW_RELEASE_SPIN_MAX_US * 1000, ease_ns, step_ns;

	if (late_ns < 0)
		late_ns = 0;
	if (late_ns > most_ns)
		late_ns = most_ns;
	if (late_ns > bus->wake_lead_ns) {
		step_ns = late_ns - bus->wake_lead_ns;
		bus->wake_lead_ns += ((step_ns > HW_WAKE_STEP_NS ? HW_WAKE_STEP_NS : step_ns) + 1) / 2;
	} else {
		ease_ns = (bus->wake_lead_ns - late_ns) / 16;
		bus->wake_lead_ns -= ease_ns > HW_WAKE_EASE_NS ? HW_WAKE_EASE_NS : ease_ns;
	}
}

void
hw_bus_stop(struct hw_bus *bus)
{
	if (bus->thread_started) {
		pthread_mutex_lock(&bus->lock);
		bus->stopping = 1;
		hw_bus_free_queue(bus);
		hw_bus_break_locked(bus);
		pthread_cond_signal(&bus->wake);
		pthread_mutex_unlock(&bus->lock);
		pthread_join(bus->thread, NULL);
		bus->thread_started = 0;
	}
	hw_bus_watch_stop(bus);
	if (bus->ctx != NULL) {
		modbus_free(bus->ctx);
		bus->ctx = NULL;
	}
}
