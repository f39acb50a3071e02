/*
 * The hardware layer's interface: request checking, GPIO lines, the safe
 * state, input watching, and completions delivered in the loop thread.
 * The Modbus side is in hw_bus.c.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gpio.h"
#include "hw_private.h"
#include "log.h"

/* A safe state in progress: how many commands are out, and who to tell. */
struct hw_safe_batch {
	int pending;
	int ok;
	char error[256];
	void (*done)(void *arg, int ok, const char *error);
	void *arg;
};

static void hw_poll_arm(struct hw *hw);

void
hw_complete(struct hw *hw, struct hw_job *job)
{
	uint64_t one = 1;
	int was_empty;

	pthread_mutex_lock(&hw->done_lock);
	job->next = NULL;
	was_empty = hw->done_head == NULL;
	if (hw->done_tail != NULL)
		hw->done_tail->next = job;
	else
		hw->done_head = job;
	hw->done_tail = job;
	pthread_mutex_unlock(&hw->done_lock);
	/*
	 * One wakeup per batch: the loop thread takes the whole list, so a job
	 * added to a non-empty list is already covered by the pending wakeup.
	 * An eventfd counter cannot overflow here; a failed write would lose one.
	 */
	if (was_empty && write(hw->event_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("hw: eventfd write");
}

void
hw_count(struct hw *hw, int transactions, int retries, int reconnects, int failures)
{
	pthread_mutex_lock(&hw->stats_lock);
	hw->stats.transactions += transactions;
	hw->stats.retries += retries;
	hw->stats.reconnects += reconnects;
	hw->stats.failures += failures;
	pthread_mutex_unlock(&hw->stats_lock);
}

void
hw_get_stats(const struct hw *hw, struct hw_stats *stats)
{
	pthread_mutex_lock((pthread_mutex_t *)&hw->stats_lock);
	*stats = hw->stats;
	pthread_mutex_unlock((pthread_mutex_t *)&hw->stats_lock);
}

/* One command of a safe state ended (res) or was dropped by a newer one (NULL). */
static void
hw_safe_step(struct hw_safe_batch *batch, const struct hw_result *res)
{
	if (res == NULL)
		batch->done = NULL;	/* superseded: the newer safe state reports */
	else if (!res->ok && batch->ok) {
		batch->ok = 0;
		snprintf(batch->error, sizeof(batch->error), "%s", res->error);
	}
	if (--batch->pending == 0) {
		if (batch->done != NULL)
			batch->done(batch->arg, batch->ok, batch->ok ? NULL : batch->error);
		free(batch);
	}
}

/*
 * Everything but reads and the watchdog's register is a command: an op
 * added later counts as one (and leaves the state unknown, below, until
 * hw_cmd_note() learns what it does), so supervision never judges a poll
 * against a state a new kind of command has changed.
 */
int
hw_op_is_command(enum hw_op op)
{
	switch (op) {
	case HW_PROBE: case HW_STATUS: case HW_READ: case HW_WATCHDOG: case HW_FEED:
		return 0;
	default:
		return 1;
	}
}

/*
 * A command to a device was queued (ended = 0) or has ended (1), res its
 * result or NULL when dropped unheard: what lbld commanded, for
 * supervision (hw_super.c). A dropped or failed command leaves the state
 * unknown; the safe state's confirmed stops make it stopped and off.
 */
static void
hw_cmd_note(struct hw *hw, const struct hw_request *req, int ended, const struct hw_result *res)
{
	struct hw_cmd *c;

	if (hw->cmd == NULL || !hw_op_is_command(req->op))
		return;
	c = &hw->cmd[req->device];
	c->seq++;
	if (!ended) {
		c->pending++;
		return;
	}
	if (c->pending > 0)
		c->pending--;
	c->ended_ns = loop_now_ns();
	if (res == NULL || !res->ok) {
		c->known = 0;
		c->axis = HW_AXIS_UNKNOWN;
		return;
	}
	/*
	 * An arm writes a start's setpoints, not its trigger: the device runs
	 * or stands as before until the fire (which carries the same value),
	 * so a poll between the two must still find a stopped pump stopped.
	 */
	if (req->stage == HW_ARM)
		return;
	c->known = 1;
	switch (req->op) {
	case HW_PUMP: case HW_LINE:
		c->running = req->value > 0;
		c->rate = req->value > 0 ? req->value : 0;
		break;
	case HW_STOP:
		c->running = 0;
		c->rate = 0;
		/* an axis decelerates: at rest where a read finds it not busy */
		c->axis = HW_AXIS_STOPPING;
		break;
	case HW_OUTPUT:
		c->on = req->value != 0;
		break;
	case HW_MOVE:
		/* moving until a read finds it at its target (hw_sup_seen()) */
		c->axis = HW_AXIS_MOVING;
		c->target_mm = req->value;
		break;
	case HW_HOME:
		/* where a search ends is the drive's business: its alarm alone is judged */
		c->axis = HW_AXIS_UNKNOWN;
		break;
	default:
		c->known = 0;	/* a command whose effect is not modelled here */
		break;
	}
}

/*
 * Epochs are unique in the process, not per hw: a caller that noted one
 * (hw_epoch()) tells a safe state and a hw closed and opened again (a
 * reload) alike by its change. Loop thread only, as hw->epoch is.
 */
static unsigned
hw_epoch_next(void)
{
	static unsigned epochs;

	return ++epochs;
}

void
hw_job_drop(struct hw_job *job)
{
	if (job->hw != NULL)
		hw_cmd_note(job->hw, &job->req, 1, NULL);
	if (job->safe != NULL)
		hw_safe_step(job->safe, NULL);
	hw_job_free(job);
}

void
hw_gate_release(struct hw_gate *gate)
{
	if (gate == NULL || --gate->refs > 0)
		return;
	pthread_mutex_destroy(&gate->lock);
	free(gate);
}

void
hw_job_free(struct hw_job *job)
{
	hw_gate_release(job->opens);
	hw_gate_release(job->waits);
	free(job);
}

/* Runs in the loop thread: hands finished jobs to their callbacks. */
static void
hw_on_event(void *arg, int fd, uint32_t events)
{
	struct hw *hw = arg;
	struct hw_job *job, *next;
	uint64_t count;

	(void)events;
	if (read(fd, &count, sizeof(count)) == -1 && errno != EAGAIN)
		log_warn("hw: eventfd read");
	pthread_mutex_lock(&hw->done_lock);
	job = hw->done_head;
	hw->done_head = hw->done_tail = NULL;
	pthread_mutex_unlock(&hw->done_lock);
	for (; job != NULL; job = next) {
		next = job->next;
		/* jobs queued before the last safe state are dropped unheard */
		if (job->epoch != hw->epoch) {
			hw_job_drop(job);
			continue;
		}
		hw_cmd_note(hw, &job->req, 1, &job->res);
		if (hw->cmd != NULL && !hw_op_is_command(job->req.op) && job->res.ok)
			hw_sup_seen(hw, job);
		if (job->safe != NULL) {
			hw->safe_status[job->req.device] = job->res.ok ? HW_SAFE_CONFIRMED :
			    HW_SAFE_FAILED;
			if (hw->safe_cb != NULL)
				hw->safe_cb(hw->safe_arg, job->req.device, &job->res);
			hw_safe_step(job->safe, &job->res);
		} else if (job->done != NULL)
			job->done(job->arg, &job->req, &job->res);
		hw_job_free(job);
	}
}

static struct hw_job *
hw_job_new(struct hw *hw, const struct hw_request *req, enum hw_prio prio)
{
	struct hw_job *job = calloc(1, sizeof(*job));

	if (job == NULL)
		return NULL;
	job->hw = hw;
	job->prio = prio;
	job->req = *req;
	job->res.ok = 1;
	job->res.position_mm = NAN;
	job->res.busy = job->res.in_position = job->res.alarm = job->res.running = -1;
	job->res.homed = -1;
	job->queued_ns = loop_now_ns();
	return job;
}

/* GPIO requests are done here and now; the result still arrives through the loop. */
static void
hw_gpio_execute(struct hw *hw, struct hw_job *job)
{
	const struct rig_device *dev = &hw->rig->devices[job->req.device];
	struct gpio_line *line = hw->gpio[job->req.device];
	int level;

	job->res.sent_ns = loop_now_ns();
	if (dev->role == RIG_VALVE && job->req.op == HW_OUTPUT) {
		if (gpio_set(line, job->req.value != 0) == -1)
			snprintf(job->res.error, sizeof(job->res.error), "device '%s' (GPIO %s/%s): "
			    "cannot set: %s", dev->name, dev->gpio.chip, dev->gpio.line, strerror(errno));
		else
			job->res.value = job->req.value != 0;
	} else if (gpio_get(line, &level) == -1) {
		snprintf(job->res.error, sizeof(job->res.error), "device '%s' (GPIO %s/%s): cannot "
		    "read: %s", dev->name, dev->gpio.chip, dev->gpio.line, strerror(errno));
	} else {
		job->res.value = level;
		if (dev->role == RIG_INPUT)
			hw->levels[job->req.device] = level;
	}
	job->res.ok = job->res.error[0] == '\0';
}

/* Which operations a device of each role takes. */
static int
hw_op_allowed(enum rig_role role, enum hw_op op)
{
	switch (op) {
	case HW_PROBE:
		return 1;
	case HW_MOVE: case HW_HOME: case HW_STATUS:
		return role == RIG_AXIS;
	case HW_STOP:
		return role == RIG_AXIS || role == RIG_PUMP || role == RIG_LINE;
	case HW_PUMP:
		return role == RIG_PUMP;
	case HW_LINE:
		return role == RIG_LINE;
	case HW_OUTPUT:
		return role == RIG_VALVE;
	case HW_READ:
		return role == RIG_SENSOR || role == RIG_INPUT || role == RIG_VALVE;
	case HW_WATCHDOG: case HW_FEED:
		return role == RIG_AXIS || role == RIG_PUMP || role == RIG_VALVE ||
		    role == RIG_LINE;
	case HW_RESET:
		return role == RIG_AXIS || role == RIG_PUMP || role == RIG_LINE;
	}
	return 0;
}

/* Whether req suits its device and prio: 0, or -1 with err saying why not. */
static int
hw_check_request(struct hw *hw, const struct hw_request *req, enum hw_prio prio, char *err,
    size_t err_size)
{
	const struct rig_device *dev;
	const struct profile *p;

	if (req->device < 0 || (size_t)req->device >= hw->rig->device_count) {
		snprintf(err, err_size, "no device %d", req->device);
		return -1;
	}
	dev = &hw->rig->devices[req->device];
	if (!hw_op_allowed(dev->role, req->op)) {
		snprintf(err, err_size, "device '%s' is a %s: it cannot do that", dev->name,
		    rig_role_names[dev->role]);
		return -1;
	}
	if (dev->bus >= 0 && (p = profile_of(hw->profiles, req->device)) != NULL &&
	    req->op == HW_HOME && !p->ops[PROFILE_HOME].defined) {
		snprintf(err, err_size, "device '%s': profile '%s' has no 'home'", dev->name,
		    p->name);
		return -1;
	}
	if (req->op == HW_RESET) {
		p = dev->bus >= 0 ? profile_of(hw->profiles, req->device) : NULL;
		if (p == NULL || !p->ops[PROFILE_RESET].defined) {
			snprintf(err, err_size, "device '%s' has no operation that clears its alarm "
			    "(its profile%s%s has no 'reset')", dev->name, p != NULL ? " " : "",
			    p != NULL ? p->name : "");
			return -1;
		}
	}
	if ((req->op == HW_WATCHDOG || req->op == HW_FEED) && (dev->bus < 0 ||
	    (p = profile_of(hw->profiles, req->device)) == NULL ||
	    !p->ops[PROFILE_WATCHDOG].defined)) {
		snprintf(err, err_size, "device '%s' has no watchdog register (its profile has "
		    "no 'watchdog')", dev->name);
		return -1;
	}
	if (req->stage != HW_WHOLE && hw_can_arm(hw, req, err, err_size) == 0)
		return -1;
	/* a GPIO line is set when submitted: it cannot wait for a moment */
	if (req->release_ns != 0 && (dev->bus < 0 || prio != HW_PRIO_TIMED)) {
		snprintf(err, err_size, "device '%s': only a timed Modbus request can be released "
		    "at a moment", dev->name);
		return -1;
	}
	return 0;
}

/*
 * A job for req, noted as a command queued (hw_cmd) and stamped with the
 * safe state's epoch, not yet queued; NULL when out of memory.
 */
static struct hw_job *
hw_job_for(struct hw *hw, const struct hw_request *req, enum hw_prio prio, hw_done_cb done,
    void *arg, struct hw_safe_batch *safe)
{
	struct hw_job *job = hw_job_new(hw, req, prio);

	if (job == NULL)
		return NULL;
	hw_cmd_note(hw, req, 0, NULL);
	if (hw->cmd != NULL)
		job->cmd_seq = hw->cmd[req->device].seq;
	job->done = done;
	job->arg = arg;
	job->safe = safe;
	job->epoch = hw->epoch;
	return job;
}

static int
hw_enqueue(struct hw *hw, const struct hw_request *req, enum hw_prio prio, hw_done_cb done,
    void *arg, struct hw_safe_batch *safe, char *err, size_t err_size)
{
	const struct rig_device *dev;
	struct hw_job *job;

	if (hw_check_request(hw, req, prio, err, err_size) == -1)
		return -1;
	dev = &hw->rig->devices[req->device];
	if ((job = hw_job_for(hw, req, prio, done, arg, safe)) == NULL) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	/*
	 * A line that could not be opened (its chip missing), or an input
	 * hw_open_outputs() leaves unopened, fails each request, in the loop thread.
	 */
	if (dev->bus < 0 && hw->gpio[req->device] == NULL) {
		job->res.ok = 0;
		snprintf(job->res.error, sizeof(job->res.error), "device '%s' (GPIO %s/%s): not "
		    "opened: %s", dev->name, dev->gpio.chip, dev->gpio.line,
		    hw->gpio_error != NULL && hw->gpio_error[req->device] != NULL ?
		    hw->gpio_error[req->device] : "inputs are not opened for the safe state alone");
		hw_complete(hw, job);
	} else if (dev->bus < 0) {
		hw_gpio_execute(hw, job);
		hw_complete(hw, job);
	} else {
		hw_bus_queue(&hw->buses[dev->bus], job, 0);
	}
	return 0;
}

/* Whether two objects of a profile share a register (or a coil). */
static int
hw_objects_overlap(const struct profile_object *a, const struct profile_object *b)
{
	int wa = profile_width(a), wb = profile_width(b);

	return a->defined && b->defined && a->table == b->table &&
	    a->address < b->address + wb && b->address < a->address + wa;
}

int
hw_can_arm(const struct hw *hw, const struct hw_request *req, char *why, size_t why_size)
{
	static const enum profile_op axis_setpoints[] = { PROFILE_ENABLE, PROFILE_SPEED,
		PROFILE_ACCEL, PROFILE_TARGET };
	enum profile_op run_setpoints[2] = { PROFILE_DIRECTION, PROFILE_FLOW };
	const enum profile_op *setpoints;
	const struct rig_device *dev;
	const struct profile *p;
	enum profile_op trigger;
	size_t i, n;

	if (req->device < 0 || (size_t)req->device >= hw->rig->device_count) {
		snprintf(why, why_size, "no device %d", req->device);
		return 0;
	}
	dev = &hw->rig->devices[req->device];
	if (dev->bus < 0 || (p = profile_of(hw->profiles, req->device)) == NULL) {
		snprintf(why, why_size, "device '%s' is on GPIO: nothing to arm", dev->name);
		return 0;
	}
	if (req->op == HW_MOVE && dev->role == RIG_AXIS) {
		trigger = PROFILE_GO;
		setpoints = axis_setpoints;
		n = sizeof(axis_setpoints) / sizeof(axis_setpoints[0]);
	} else if ((req->op == HW_PUMP && dev->role == RIG_PUMP) ||
	    (req->op == HW_LINE && dev->role == RIG_LINE)) {
		if (req->value <= 0) {
			snprintf(why, why_size, "device '%s': a stop has nothing to arm", dev->name);
			return 0;
		}
		trigger = PROFILE_RUN;
		run_setpoints[1] = req->op == HW_LINE ? PROFILE_SPEED : profile_rate_op(dev);
		setpoints = run_setpoints;
		n = 2;
	} else {
		snprintf(why, why_size, "device '%s': only a move or a run is armed", dev->name);
		return 0;
	}
	if (!p->ops[trigger].defined) {
		snprintf(why, why_size, "device '%s': profile '%s' has no '%s'", dev->name, p->name,
		    profile_op_names[trigger]);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (hw_objects_overlap(&p->ops[trigger], &p->ops[setpoints[i]])) {
			snprintf(why, why_size, "device '%s': profile '%s' has its '%s' in the "
			    "register of its '%s' (%s 0x%04x): its start carries the setpoint, so "
			    "it cannot be armed ahead", dev->name, p->name, profile_op_names[trigger],
			    profile_op_names[setpoints[i]], profile_table_names[p->ops[trigger].table],
			    p->ops[trigger].address);
			return 0;
		}
	}
	return 1;
}

int
hw_submit(struct hw *hw, const struct hw_request *req, hw_done_cb done, void *arg, char *err,
    size_t err_size)
{
	return hw_enqueue(hw, req, HW_PRIO_TIMED, done, arg, NULL, err, err_size);
}

/* A timed request on Modbus for a gate: 0, or -1 with err. */
static int
hw_check_gated(struct hw *hw, const struct hw_request *req, char *err, size_t err_size)
{
	if (hw_check_request(hw, req, HW_PRIO_TIMED, err, err_size) == -1)
		return -1;
	if (hw->rig->devices[req->device].bus < 0) {
		snprintf(err, err_size, "device '%s' is on GPIO: only Modbus requests follow one "
		    "another on their buses", hw->rig->devices[req->device].name);
		return -1;
	}
	return 0;
}

int
hw_submit_opening(struct hw *hw, const struct hw_request *req, hw_done_cb done, void *arg,
    struct hw_gate **gate_out, char *err, size_t err_size)
{
	struct hw_gate *gate;
	struct hw_job *job;

	if (hw_check_gated(hw, req, err, err_size) == -1)
		return -1;
	if ((gate = calloc(1, sizeof(*gate))) == NULL) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	if (pthread_mutex_init(&gate->lock, NULL) != 0) {
		free(gate);
		snprintf(err, err_size, "cannot make a gate's lock");
		return -1;
	}
	if ((job = hw_job_for(hw, req, HW_PRIO_TIMED, done, arg, NULL)) == NULL) {
		pthread_mutex_destroy(&gate->lock);
		free(gate);
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	gate->state = HW_GATE_SHUT;
	gate->first_device = req->device;
	gate->epoch = hw->epoch;
	gate->refs = 2;		/* the opener's and the caller's */
	job->opens = gate;
	hw_bus_queue(&hw->buses[hw->rig->devices[req->device].bus], job, 0);
	*gate_out = gate;
	return 0;
}

int
hw_submit_after(struct hw *hw, struct hw_gate *gate, const struct hw_request *req,
    hw_done_cb done, void *arg, char *err, size_t err_size)
{
	struct hw_bus *bus;
	struct hw_job *job;

	if (hw_check_gated(hw, req, err, err_size) == -1)
		return -1;
	/* its opener was dropped: the gate would never open, nor fail */
	if (gate->epoch != hw->epoch) {
		snprintf(err, err_size, "device '%s': a safe state came after the command it was "
		    "to follow", hw->rig->devices[req->device].name);
		return -1;
	}
	if ((job = hw_job_for(hw, req, HW_PRIO_TIMED, done, arg, NULL)) == NULL) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	bus = &hw->buses[hw->rig->devices[req->device].bus];
	job->waits = gate;	/* the caller's hold, handed on */
	pthread_mutex_lock(&gate->lock);
	gate->bus = bus;
	pthread_mutex_unlock(&gate->lock);
	hw_bus_queue(bus, job, 0);
	return 0;
}

int
hw_submit_then(struct hw *hw, const struct hw_request *first, hw_done_cb done, void *arg,
    const struct hw_request *then, hw_done_cb then_done, void *then_arg, char *err,
    size_t err_size)
{
	struct hw_gate *gate;

	/* both checked first: nothing is queued when either cannot go */
	if (hw_check_gated(hw, then, err, err_size) == -1 ||
	    hw_submit_opening(hw, first, done, arg, &gate, err, err_size) == -1)
		return -1;
	if (hw_submit_after(hw, gate, then, then_done, then_arg, err, err_size) == -1) {
		/* cannot be: checked, and no safe state between; out of memory at worst */
		hw_gate_release(gate);
		log_warnx("hw: the request to follow device '%s''s was not queued: %s",
		    hw->rig->devices[first->device].name, err);
	}
	return 0;
}

int
hw_submit_poll(struct hw *hw, const struct hw_request *req, hw_done_cb done, void *arg,
    char *err, size_t err_size)
{
	return hw_enqueue(hw, req, HW_PRIO_POLL, done, arg, NULL, err, err_size);
}

int
hw_submit_prio(struct hw *hw, const struct hw_request *req, enum hw_prio prio,
    hw_done_cb done, void *arg, char *err, size_t err_size)
{
	return hw_enqueue(hw, req, prio, done, arg, NULL, err, err_size);
}

/* The command that makes a device safe, or -1 if it has none. */
static int
hw_safe_op(const struct rig_device *dev)
{
	switch (dev->role) {
	case RIG_AXIS: return HW_STOP;
	case RIG_PUMP: return HW_PUMP;		/* flow 0: stop */
	case RIG_LINE: return HW_LINE;		/* speed 0: stop */
	case RIG_VALVE: return HW_OUTPUT;	/* off */
	default: return -1;
	}
}

/*
 * Whether lbld knows output i is off: its last command succeeded, said
 * stop or off, and none is queued or in flight (a dropped or failed one
 * leaves it unknown, hw_cmd_note()). Unknown counts as maybe running.
 */
static int
hw_output_known_off(const struct hw *hw, size_t i)
{
	const struct hw_cmd *c;

	if (hw->cmd == NULL)
		return 0;
	c = &hw->cmd[i];
	return c->known && c->pending == 0 && !c->running && !c->on;
}

void
hw_safe_state(struct hw *hw, void (*done)(void *arg, int ok, const char *error), void *arg)
{
	struct hw_safe_batch *batch;
	size_t i;
	int pass;
	char err[256];

	/*
	 * Everything queued or in flight is now stale: drop it, free every bus.
	 * The epoch first: a worker taking a stale job from now on (one whose
	 * gate just opened, on a bus not yet interrupted) does not send it.
	 */
	__atomic_store_n(&hw->epoch, hw_epoch_next(), __ATOMIC_RELEASE);
	for (i = 0; i < hw->rig->device_count; i++)
		hw->safe_status[i] = hw_safe_op(&hw->rig->devices[i]) == -1 ? HW_SAFE_NONE :
		    HW_SAFE_PENDING;
	for (i = 0; i < hw->bus_count; i++)
		hw_bus_interrupt(&hw->buses[i]);
	/* Modbus input reads dropped with the rest never call back: poll afresh */
	if (hw->poll_pending > 0) {
		hw->poll_pending = 0;
		hw_poll_arm(hw);
	}
	/* and supervision's polls, which waited for their answers: again when due */
	hw_sup_reschedule(hw);
	if ((batch = calloc(1, sizeof(*batch))) == NULL) {
		log_warnx("hw: out of memory for the safe state; stopping devices unheard");
		done = NULL;
	}
	if (batch != NULL) {
		batch->ok = 1;
		batch->done = done;
		batch->arg = arg;
		batch->pending = 1;	/* held until every command is queued */
	}
	/*
	 * On one RS-485 line every stop waits for the one before, a
	 * transaction time each (12 ms at 19,200 baud). So the outputs that
	 * may be running go first (pumps, valves, line), then motion, and
	 * last the outputs lbld knows are off, whose stops only confirm it:
	 * the time to a safe rig grows with what runs, not with the rig.
	 */
	for (pass = 0; pass < 3; pass++) {
		for (i = 0; i < hw->rig->device_count; i++) {
			const struct rig_device *dev = &hw->rig->devices[i];
			struct hw_request req = { (int)i, HW_STOP, 0, 0, 0 };
			int op = hw_safe_op(dev);
			int want;

			if (op == -1)
				continue;
			if (dev->role == RIG_AXIS)
				want = 1;
			else
				want = hw_output_known_off(hw, i) ? 2 : 0;
			if (want != pass)
				continue;
			req.op = op;
			if (batch != NULL)
				batch->pending++;
			if (hw_enqueue(hw, &req, HW_PRIO_SAFE, NULL, NULL, batch, err,
			    sizeof(err)) == -1) {
				struct hw_result res = { .ok = 0 };

				log_warnx("hw: safe state: %s", err);
				snprintf(res.error, sizeof(res.error), "%s", err);
				hw->safe_status[i] = HW_SAFE_FAILED;
				if (hw->safe_cb != NULL)
					hw->safe_cb(hw->safe_arg, (int)i, &res);
				if (batch != NULL)
					hw_safe_step(batch, &res);
			}
		}
	}
	if (batch != NULL) {
		struct hw_result res = { .ok = 1 };
		hw_safe_step(batch, &res);
	}
}

enum hw_safe_status
hw_safe_status(const struct hw *hw, int device)
{
	if (device < 0 || (size_t)device >= hw->rig->device_count)
		return HW_SAFE_NONE;
	return hw->safe_status[device];
}

int64_t
hw_transaction_ms(const struct hw *hw, int device)
{
	int bus;

	if (device < 0 || (size_t)device >= hw->rig->device_count ||
	    (bus = hw->rig->devices[device].bus) < 0)
		return 0;
	return hw_bus_transaction_ms(&hw->rig->buses[bus]);
}

int64_t
hw_safe_command_ms(const struct hw *hw, int device)
{
	int bus;

	if (device < 0 || (size_t)device >= hw->rig->device_count ||
	    (bus = hw->rig->devices[device].bus) < 0)
		return 0;
	return hw_bus_safe_command_ms(&hw->rig->buses[bus]);
}

int64_t
hw_safe_state_ms(const struct hw *hw)
{
	int64_t longest = 0, ms;
	size_t b, i;
	int commands;

	for (b = 0; b < hw->bus_count; b++) {
		const struct rig_bus *cfg = &hw->rig->buses[b];

		commands = 0;
		for (i = 0; i < hw->rig->device_count; i++)
			if (hw->rig->devices[i].bus == (int)b &&
			    hw_safe_op(&hw->rig->devices[i]) != -1)
				commands++;
		/* the buses work at once: the longest one counts */
		ms = commands * (1 + (int64_t)(cfg->retries > 0 ? cfg->retries : 0)) *
		    hw_bus_safe_command_ms(cfg);
		if (ms > longest)
			longest = ms;
	}
	return longest;
}

/* ---- the devices' communication-loss timeouts ---- */

static void hw_wd_schedule(struct hw *hw);

static void
hw_wd_report(struct hw *hw, int device, const char *error)
{
	if (hw->wd_cb != NULL)
		hw->wd_cb(hw->wd_arg, device, error);
	else
		log_device_warnx(hw->rig->devices[device].name, "watchdog: %s", error);
}

static void
hw_wd_done(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct hw *hw = arg;
	struct hw_wd *wd = &hw->wd[req->device];
	int disarm = req->op == HW_WATCHDOG && req->value == 0;

	if (!disarm)
		wd->in_flight = 0;
	if (res->ok) {
		if (req->op == HW_WATCHDOG)
			wd->armed = !disarm;
		wd->failing = 0;
		return;
	}
	/* a device that keeps failing is one report, but every disarm that fails is one */
	if (wd->failing && !disarm)
		return;
	wd->failing = 1;
	hw_wd_report(hw, req->device, res->error);
}

/* Queues device's arm write (value its timeout), disarm (0) or feed. */
static void
hw_wd_submit(struct hw *hw, int device, enum hw_op op, double value)
{
	struct hw_request req = { device, op, value, 0, 0 };
	struct hw_wd *wd = &hw->wd[device];
	char err[256];

	if (hw_submit(hw, &req, hw_wd_done, hw, err, sizeof(err)) == -1) {
		hw_wd_report(hw, device, err);
		return;
	}
	if (op != HW_WATCHDOG || value != 0) {
		wd->in_flight = 1;
		wd->in_flight_epoch = hw->epoch;
	}
}

/* Feeds every device that is due, each at most once per tick; bounded work. */
static void
hw_wd_on_timer(void *arg)
{
	struct hw *hw = arg;
	int64_t now = loop_now_ns();
	size_t i;

	for (i = 0; i < hw->rig->device_count; i++) {
		const struct rig_device *dev = &hw->rig->devices[i];
		struct hw_wd *wd = &hw->wd[i];

		if (dev->comm_timeout_ms == 0 || wd->next_ns > now)
			continue;
		wd->next_ns = now + wd->period_ns;
		/* a request dropped by a safe state never completes: do not wait for it */
		if (wd->in_flight && wd->in_flight_epoch == hw->epoch)
			continue;
		if (wd->armed)
			hw_wd_submit(hw, (int)i, HW_FEED, 0);
		else
			hw_wd_submit(hw, (int)i, HW_WATCHDOG, (double)dev->comm_timeout_ms);
	}
	hw_wd_schedule(hw);
}

static void
hw_wd_schedule(struct hw *hw)
{
	int64_t next = INT64_MAX;
	size_t i;

	if (!hw->wd_on) {
		loop_timer_cancel(hw->wd_timer);
		return;
	}
	for (i = 0; i < hw->rig->device_count; i++)
		if (hw->rig->devices[i].comm_timeout_ms > 0 && hw->wd[i].next_ns < next)
			next = hw->wd[i].next_ns;
	if (next != INT64_MAX && loop_timer_at(hw->wd_timer, next) == -1)
		log_warnx("hw: cannot arm the watchdog feed timer; devices with a comm_timeout "
		    "will stop by themselves");
}

int
hw_watchdog_arm(struct hw *hw, int on)
{
	int64_t now = loop_now_ns();
	size_t i;

	if (hw->wd_count == 0 || (!on && !hw->wd_on))
		return hw->wd_count;
	hw->wd_on = on != 0;
	for (i = 0; i < hw->rig->device_count; i++) {
		const struct rig_device *dev = &hw->rig->devices[i];
		struct hw_wd *wd = &hw->wd[i];

		if (dev->comm_timeout_ms == 0)
			continue;
		wd->armed = 0;
		wd->failing = 0;
		wd->period_ns = dev->comm_timeout_ms * 1000000 / 3;
		wd->next_ns = now + wd->period_ns;
		hw_wd_submit(hw, (int)i, HW_WATCHDOG, on ? (double)dev->comm_timeout_ms : 0);
	}
	hw_wd_schedule(hw);
	return hw->wd_count;
}

void
hw_set_watchdog_cb(struct hw *hw, hw_watchdog_cb cb, void *arg)
{
	hw->wd_cb = cb;
	hw->wd_arg = arg;
}

void
hw_set_safe_cb(struct hw *hw, hw_safe_cb cb, void *arg)
{
	hw->safe_cb = cb;
	hw->safe_arg = arg;
}

double
hw_axis_tolerance_mm(const struct hw *hw, int device)
{
	const struct profile *p = profile_of(hw->profiles, device);

	return p != NULL && p->tolerance_mm > 0 ? p->tolerance_mm : 0.01;
}

int
hw_volume_counter(const struct hw *hw, int device, double *wrap_ml)
{
	const struct profile *p = device >= 0 && (size_t)device < hw->rig->device_count &&
	    hw->rig->devices[device].role == RIG_PUMP ? profile_of(hw->profiles, device) : NULL;
	const struct profile_object *o;

	*wrap_ml = INFINITY;
	if (p == NULL || !p->ops[PROFILE_VOLUME].defined)
		return 0;
	o = &p->ops[PROFILE_VOLUME];
	/* an unsigned counter wraps to 0 past its largest raw value */
	if (o->type == PROFILE_U16)
		*wrap_ml = 65536.0 * fabs(o->scale);
	else if (o->type == PROFILE_U32)
		*wrap_ml = 4294967296.0 * fabs(o->scale);
	return 1;
}

void
hw_set_input_cb(struct hw *hw, hw_input_cb cb, void *arg)
{
	hw->input_cb = cb;
	hw->input_arg = arg;
}

unsigned
hw_epoch(const struct hw *hw)
{
	return hw->epoch;
}

const char *
hw_gpio_error(const struct hw *hw, int device)
{
	if (device < 0 || (size_t)device >= hw->rig->device_count || hw->gpio_error == NULL)
		return NULL;
	return hw->gpio_error[device];
}

int
hw_input_level(const struct hw *hw, int device)
{
	if (device < 0 || (size_t)device >= hw->rig->device_count)
		return -1;
	return hw->levels[device];
}

static void
hw_set_level(struct hw *hw, int device, int level)
{
	if (hw->levels[device] == level)
		return;
	hw->levels[device] = level;
	if (hw->input_cb != NULL)
		hw->input_cb(hw->input_arg, device, level);
}

/*
 * An input whose events cannot be read (its chip went away: unplugged,
 * its driver unbound): its line's fd polls readable for ever, so it
 * leaves the loop (which would otherwise spin on it), the line is closed,
 * every request to it fails saying why (hw_gpio_error()), and its level
 * becomes unknown, which every safety check counts as engaged: an e-stop
 * that cannot be read is an e-stop. Told once.
 */
static void
hw_gpio_lost(struct hw *hw, size_t i, int fd, int err)
{
	const struct rig_device *dev = &hw->rig->devices[i];
	char why[256];

	snprintf(why, sizeof(why), "reading its events failed: %s", strerror(err));
	log_warnx("device '%s' (GPIO %s/%s): %s: unreadable until lbld is restarted", dev->name,
	    dev->gpio.chip, dev->gpio.line, why);
	loop_del_fd(hw->loop, fd);
	gpio_close(hw->gpio[i]);
	hw->gpio[i] = NULL;
	free(hw->gpio_error[i]);
	/* out of memory, requests say "not opened" without the reason; the level is what counts */
	hw->gpio_error[i] = strdup(why);
	/* engaged already: it stays so, unknown now, without a second safe state and alert */
	if (hw->levels[i] == 1)
		hw->levels[i] = -1;
	else
		hw_set_level(hw, (int)i, -1);
}

static void
hw_on_gpio(void *arg, int fd, uint32_t events)
{
	struct hw *hw = arg;
	size_t i;
	int level;

	for (i = 0; i < hw->rig->device_count; i++) {
		if (hw->gpio[i] == NULL || gpio_event_fd(hw->gpio[i]) != fd)
			continue;
		if (gpio_read_events(hw->gpio[i], &level) == -1) {
			hw_gpio_lost(hw, i, fd, errno);
			return;
		}
		/* an error or hangup that reading did not report would stay ready for ever */
		if (events & (EPOLLERR | EPOLLHUP)) {
			hw_gpio_lost(hw, i, fd, EIO);
			return;
		}
		hw_set_level(hw, (int)i, level);
	}
}

static void
hw_on_poll_result(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct hw *hw = arg;

	hw->poll_pending--;
	if (!res->ok) {
		/* an e-stop input we cannot read is an e-stop */
		log_warnx("%s", res->error);
		hw_set_level(hw, req->device, 1);
	} else {
		hw_set_level(hw, req->device, res->value != 0);
	}
	if (hw->poll_pending == 0)
		hw_poll_arm(hw);
}

static void
hw_on_poll_timer(void *arg)
{
	struct hw *hw = arg;
	size_t i;
	char err[256];

	for (i = 0; i < hw->rig->device_count; i++) {
		const struct rig_device *dev = &hw->rig->devices[i];
		struct hw_request req = { (int)i, HW_READ, 0, 0, 0 };

		if (dev->role != RIG_INPUT || dev->bus < 0)
			continue;
		if (hw_submit(hw, &req, hw_on_poll_result, hw, err, sizeof(err)) == 0)
			hw->poll_pending++;
	}
	if (hw->poll_pending == 0)
		hw_poll_arm(hw);
}

static void
hw_poll_arm(struct hw *hw)
{
	if (hw->poll_interval_ms > 0 && hw->poll_timer != NULL)
		loop_timer_at(hw->poll_timer, loop_now_ns() + (int64_t)hw->poll_interval_ms * 1000000);
}

void
hw_poll_inputs(struct hw *hw, int enable, int interval_ms)
{
	size_t i;
	int any = 0;

	for (i = 0; i < hw->rig->device_count; i++)
		if (hw->rig->devices[i].role == RIG_INPUT && hw->rig->devices[i].bus >= 0)
			any = 1;
	hw->poll_interval_ms = enable && any ? interval_ms : 0;
	if (hw->poll_interval_ms == 0) {
		if (hw->poll_timer != NULL)
			loop_timer_cancel(hw->poll_timer);
	} else if (hw->poll_pending == 0 && !loop_timer_armed(hw->poll_timer)) {
		hw_poll_arm(hw);
	}
}

static int
hw_open_gpio(struct hw *hw, size_t i, char *err, size_t err_size)
{
	const struct rig_device *dev = &hw->rig->devices[i];
	int level;

	if (dev->role == RIG_VALVE) {
		/* requested already off: the line never glitches open */
		if (gpio_open_output(&dev->gpio, hw->consumer, 0, &hw->gpio[i], err,
		    err_size) == 0)
			return 0;
		/*
		 * lbld, the safe state and the probe all go on without it (a
		 * missing chip must not hide the rest of the rig, nor keep lbld
		 * from holding it safe): each command to it reports why, and
		 * pre-flight refuses a plan that uses it.
		 */
		if ((hw->gpio_error[i] = strdup(err)) == NULL) {
			snprintf(err, err_size, "out of memory");
			return -1;
		}
		log_warnx("device '%s': %s: unreachable until lbld is restarted", dev->name, err);
		return 0;
	}
	if (dev->role != RIG_INPUT) {
		snprintf(err, err_size, "device '%s': a %s cannot be on GPIO", dev->name,
		    rig_role_names[dev->role]);
		return -1;
	}
	if (hw->outputs_only)
		return 0;
	if (gpio_open_input(&dev->gpio, hw->consumer, &hw->gpio[i], err, err_size) == -1) {
		/*
		 * The other devices are opened all the same; the input's level
		 * stays unknown (-1), which every safety check counts as
		 * engaged when the input is an e-stop or interlock.
		 */
		if ((hw->gpio_error[i] = strdup(err)) == NULL) {
			snprintf(err, err_size, "out of memory");
			return -1;
		}
		if (!hw->probe_only)
			log_warnx("device '%s': %s: unreadable until lbld is restarted", dev->name,
			    err);
		return 0;
	}
	if (gpio_get(hw->gpio[i], &level) == -1) {
		snprintf(err, err_size, "device '%s' (GPIO %s/%s): cannot read: %s", dev->name,
		    dev->gpio.chip, dev->gpio.line, strerror(errno));
		return -1;
	}
	hw->levels[i] = level;
	return loop_add_fd(hw->loop, gpio_event_fd(hw->gpio[i]), EPOLLIN, hw_on_gpio, hw);
}

static int
hw_open_all(struct hw *hw, char *err, size_t err_size)
{
	pthread_condattr_t attr;
	struct diag d;
	size_t i;
	char *text;
	int rc;

	diag_init(&d, hw->rig->doc->file);
	if (profile_set_load(hw->rig, &d, &hw->profiles) == -1) {
		text = diag_render(&d);
		snprintf(err, err_size, "invalid device profiles:\n%s", text ? text : "");
		free(text);
		diag_free(&d);
		return -1;
	}
	diag_free(&d);
	if ((hw->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		snprintf(err, err_size, "eventfd: %s", strerror(errno));
		return -1;
	}
	if (loop_add_fd(hw->loop, hw->event_fd, EPOLLIN, hw_on_event, hw) == -1) {
		snprintf(err, err_size, "cannot watch the hardware eventfd");
		return -1;
	}
	if ((hw->poll_timer = loop_timer_new(hw->loop, hw_on_poll_timer, hw)) == NULL) {
		snprintf(err, err_size, "cannot create the input poll timer");
		return -1;
	}
	for (i = 0; i < hw->rig->device_count; i++)
		if (hw->rig->devices[i].comm_timeout_ms > 0)
			hw->wd_count++;
	if (hw->wd_count > 0 &&
	    (hw->wd_timer = loop_timer_new(hw->loop, hw_wd_on_timer, hw)) == NULL) {
		snprintf(err, err_size, "cannot create the watchdog feed timer");
		return -1;
	}
	for (i = 0; i < hw->rig->device_count; i++)
		if (hw->rig->devices[i].bus < 0 && hw_open_gpio(hw, i, err, err_size) == -1)
			return -1;
	if (hw_sup_open(hw, err, err_size) == -1)
		return -1;
	/* the workers' timed waits (polls held by a deadline) are on the deadlines' clock */
	if ((rc = pthread_condattr_init(&attr)) != 0 ||
	    (rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0) {
		snprintf(err, err_size, "cannot set up the bus workers' clock: %s", strerror(rc));
		return -1;
	}
	for (i = 0; i < hw->bus_count; i++) {
		hw->buses[i].hw = hw;
		hw->buses[i].cfg = &hw->rig->buses[i];
		hw->buses[i].index = (int)i;
		hw->buses[i].fd = -1;
		pthread_mutex_init(&hw->buses[i].lock, NULL);
		if ((rc = pthread_cond_init(&hw->buses[i].wake, &attr)) != 0) {
			pthread_condattr_destroy(&attr);
			snprintf(err, err_size, "bus %s: cannot set up its queue: %s",
			    hw->rig->buses[i].name, strerror(rc));
			return -1;
		}
	}
	pthread_condattr_destroy(&attr);
	for (i = 0; i < hw->bus_count; i++)
		if (hw_bus_start(&hw->buses[i], err, err_size) == -1)
			return -1;
	return 0;
}

static int
hw_open_mode(const struct rig *rig, struct loop *loop, int outputs_only, int probe_only,
    struct hw **out, char *err, size_t err_size)
{
	struct hw *hw;
	size_t i;

	*out = NULL;
	if ((hw = calloc(1, sizeof(*hw))) == NULL) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	hw->outputs_only = outputs_only;
	hw->probe_only = probe_only;
	hw->consumer = outputs_only ? "lbl-safe" : probe_only ? "lblctl" : "lbld";
	hw->rig = rig;
	hw->loop = loop;
	hw->event_fd = -1;
	hw->bus_count = rig->bus_count;
	pthread_mutex_init(&hw->done_lock, NULL);
	pthread_mutex_init(&hw->stats_lock, NULL);
	hw->buses = calloc(rig->bus_count + 1, sizeof(*hw->buses));
	hw->gpio = calloc(rig->device_count + 1, sizeof(*hw->gpio));
	hw->levels = calloc(rig->device_count + 1, sizeof(*hw->levels));
	hw->wd = calloc(rig->device_count + 1, sizeof(*hw->wd));
	hw->safe_status = calloc(rig->device_count + 1, sizeof(*hw->safe_status));
	hw->cmd = calloc(rig->device_count + 1, sizeof(*hw->cmd));
	hw->sup = calloc(rig->device_count + 1, sizeof(*hw->sup));
	hw->usage_polls = calloc(rig->bus_count + 1, sizeof(*hw->usage_polls));
	hw->usage_poll_ns = calloc(rig->bus_count + 1, sizeof(*hw->usage_poll_ns));
	hw->usage_busy_ns = calloc(rig->bus_count + 1, sizeof(*hw->usage_busy_ns));
	hw->gpio_error = calloc(rig->device_count + 1, sizeof(*hw->gpio_error));
	if (hw->buses == NULL || hw->gpio == NULL || hw->levels == NULL || hw->wd == NULL ||
	    hw->safe_status == NULL || hw->cmd == NULL || hw->sup == NULL ||
	    hw->usage_polls == NULL || hw->usage_poll_ns == NULL || hw->usage_busy_ns == NULL ||
	    hw->gpio_error == NULL) {
		snprintf(err, err_size, "out of memory");
		hw->bus_count = 0;
		hw_close(hw);
		return -1;
	}
	for (i = 0; i < rig->device_count; i++)
		hw->levels[i] = -1;
	__atomic_store_n(&hw->epoch, hw_epoch_next(), __ATOMIC_RELEASE);
	if (hw_open_all(hw, err, err_size) == -1) {
		hw_close(hw);
		return -1;
	}
	*out = hw;
	return 0;
}

int
hw_open(const struct rig *rig, struct loop *loop, struct hw **out, char *err, size_t err_size)
{
	return hw_open_mode(rig, loop, 0, 0, out, err, err_size);
}

int
hw_open_probe(const struct rig *rig, struct loop *loop, struct hw **out, char *err,
    size_t err_size)
{
	return hw_open_mode(rig, loop, 0, 1, out, err, err_size);
}

int
hw_open_outputs(const struct rig *rig, struct loop *loop, struct hw **out, char *err,
    size_t err_size)
{
	return hw_open_mode(rig, loop, 1, 0, out, err, err_size);
}

void
hw_close(struct hw *hw)
{
	struct hw_job *job, *next;
	size_t i;

	if (hw == NULL)
		return;
	/*
	 * Every worker stops before any bus's lock goes: a worker ending the
	 * first of hw_submit_then() takes the lock of the second's bus.
	 */
	for (i = 0; i < hw->bus_count; i++)
		hw_bus_stop(&hw->buses[i]);
	for (i = 0; i < hw->bus_count; i++) {
		pthread_mutex_destroy(&hw->buses[i].lock);
		pthread_cond_destroy(&hw->buses[i].wake);
	}
	for (i = 0; hw->gpio != NULL && i < hw->rig->device_count; i++) {
		if (hw->gpio[i] == NULL)
			continue;
		if (hw->rig->devices[i].role == RIG_INPUT)
			loop_del_fd(hw->loop, gpio_event_fd(hw->gpio[i]));
		gpio_close(hw->gpio[i]);
	}
	for (job = hw->done_head; job != NULL; job = next) {
		next = job->next;
		hw_job_drop(job);
	}
	if (hw->poll_timer != NULL)
		loop_timer_free(hw->poll_timer);
	hw_sup_close(hw);
	if (hw->wd_timer != NULL)
		loop_timer_free(hw->wd_timer);
	if (hw->event_fd != -1) {
		loop_del_fd(hw->loop, hw->event_fd);
		close(hw->event_fd);
	}
	profile_set_free(hw->profiles);
	pthread_mutex_destroy(&hw->done_lock);
	pthread_mutex_destroy(&hw->stats_lock);
	free(hw->buses);
	free(hw->gpio);
	free(hw->levels);
	free(hw->wd);
	free(hw->safe_status);
	free(hw->cmd);
	free(hw->sup);
	free(hw->usage_polls);
	free(hw->usage_poll_ns);
	free(hw->usage_busy_ns);
	for (i = 0; hw->gpio_error != NULL && i < hw->rig->device_count; i++)
		free(hw->gpio_error[i]);
	free(hw->gpio_error);
	free(hw);
}
