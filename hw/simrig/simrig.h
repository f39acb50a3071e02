/*
 * lbl-simrig internals: a Modbus server that emulates the rig a rig file
 * describes, device by device, through the devices' own profiles. Shared by
 * simrig_main.c (startup), simrig_phys.c (device physics), simrig_net.c
 * (Modbus TCP and RTU servers) and simrig_ctl.c (fault control socket).
 *
 * Physics is evaluated lazily: a device's state is a function of time, and
 * it is brought up to date when a request reaches it, so an idle simulator
 * never wakes up. Time runs time_scale times faster than the wall clock.
 * A device's communication-loss timeout ("watchdog") is wall time, as it
 * models the device's own timer, and has a timer only while armed.
 * Answers can be delayed (--latency, a stalled device); that delay is wall
 * time, as it models the wire and the device's processing, not the rig.
 */
#ifndef LBL_SIMRIG_H
#define LBL_SIMRIG_H

#include <stdint.h>
#include <stdio.h>

#include <modbus.h>

#include "loop.h"
#include "profile.h"
#include "rig.h"

/* --latency and the control socket's "latency MS" accept 0 to this. */
#define SIMRIG_MAX_LATENCY_MS	60000
/*
 * A trickling device's default gap between the bytes of its answers: just
 * inside libmodbus's default byte timeout (500 ms), the slowest a device
 * can answer a master that bounds only the gap between bytes. "trickle:MS"
 * takes 1 to SIMRIG_MAX_LATENCY_MS instead.
 */
#define SIMRIG_TRICKLE_MS	450

enum simrig_fault {
	SIMRIG_OK,
	SIMRIG_SILENT,		/* never answers */
	SIMRIG_EXCEPTION,	/* answers with exception 4, server device failure */
	SIMRIG_STALL,		/* answers 2 s late, past any sane timeout */
	SIMRIG_ALARM,		/* raises its alarm flag */
	SIMRIG_STUCK,		/* axis: stops halfway and never arrives; pump: never runs */
	SIMRIG_TRICKLE,		/* acts on each request, answers a byte every trickle_ms */
	SIMRIG_HALF,		/* acts on each request, answers half a frame, no more */
	SIMRIG_NAN,		/* sensor: reads NaN (a float32 register's quiet NaN) */
	SIMRIG_INF,		/* sensor: reads +infinity */
	SIMRIG_HUGE,		/* sensor: reads the largest value its register holds (FLT_MAX) */
	SIMRIG_READING,		/* sensor: reads a fixed value ("reading:VALUE") */
	SIMRIG_DRY,		/* pump, line: runs as commanded, its counter stands still */
	SIMRIG_FAULT_COUNT
};

extern const char *const simrig_fault_names[];

struct simrig_device {
	const struct rig_device *cfg;
	const struct profile *profile;
	int index;
	modbus_mapping_t *map;
	enum simrig_fault fault;
	int trickle_ms;			/* SIMRIG_TRICKLE: the gap between two bytes of an answer */
	double reading;			/* SIMRIG_READING: what the sensor reads */
	int64_t updated_ns;		/* physics evaluated up to here */
	/* axis */
	double position_mm, from_mm, to_mm;
	double speed_mm_s;
	int64_t move_start_ns;		/* in simulated time */
	int moving;
	/*
	 * An axis the rig file homes ('home') starts unhomed, somewhere in its
	 * travel, its homed flag clear; its home command moves it to 0 mm at
	 * max_speed and sets the flag on arrival (a stop first leaves it clear).
	 */
	int homed, homing;
	/* pump (mL, mL/min) and line (mm, mm/s) */
	int running, reverse;
	double rate, total;
	/* valve and input */
	int active;
	int64_t stop_ns;		/* wall CLOCK_MONOTONIC of the last stop/off command */
	/* its communication-loss timeout (the profile's watchdog register) */
	int64_t watchdog_ms;		/* 0: disarmed */
	int64_t heard_ns;		/* wall time of the last request addressed to it */
	int watching;			/* armed and heard from since it last tripped */
	int tripped;			/* stopped by it; cleared when the register is written */
};

struct simrig {
	struct rig *rig;
	struct profile_set *profiles;
	struct loop *loop;
	double time_scale;
	double growth_nm;		/* film growth per coating immersion */
	int latency_ms;			/* every answer this much later (wall time) */
	int no_wire_time;		/* --no-wire-time: RTU answers at memory speed */
	int verbose;
	FILE *trace;			/* --trace: every command with its time, or NULL */
	/*
	 * When the request being answered reached the device (CLOCK_MONOTONIC
	 * ns; 0: now): --trace stamps its commands then. On TCP the kernel's
	 * receive stamp of the frame's last bytes (SO_TIMESTAMPNS), so the
	 * simulator's own wake-up is not counted against the master; on an RTU
	 * line with wire time the moment its last character and the silence
	 * after it would have passed.
	 */
	int64_t acted_ns;
	struct simrig_device *devices;	/* one per rig device; map NULL for GPIO ones */
	int immersed_station;		/* station the substrate is in, -1 */
	int coating_dips;		/* immersions into coating baths so far */
	int64_t start_ns;
	struct loop_timer *watchdog_timer;	/* armed only while a device is watching */
	struct simrig_net *net;
	struct simrig_ctl *ctl;
};

/* Simulated time now, in ns: wall time since start times the time scale. */
int64_t simrig_now_ns(const struct simrig *sim);

/* Allocates every Modbus device's register map and sets its initial state. */
int simrig_phys_init(struct simrig *sim);
void simrig_phys_free(struct simrig *sim);
/* Brings every device's registers up to date with simulated time. */
void simrig_phys_update(struct simrig *sim);
/*
 * Reacts to a write request the device just answered: function code fc,
 * first protocol address and count of the objects written.
 */
void simrig_phys_written(struct simrig *sim, struct simrig_device *dev, int fc,
    int address, int count);
/*
 * A request addressed to dev arrived (the device heard it, whatever it
 * answers): it feeds the device's communication-loss timeout.
 */
void simrig_phys_heard(struct simrig *sim, struct simrig_device *dev);
/*
 * The device a request on this bus and unit id is for, or NULL when no
 * device has the unit id. Several devices may share a unit id with
 * distinct registers (a pump controller with its valve outputs): the one
 * whose register map holds the request's table and addresses answers
 * (pdu: function code first, pdu_len its bytes); when none does, the first
 * device of the unit answers (with libmodbus's illegal-address exception).
 */
struct simrig_device *simrig_find_device(struct simrig *sim, int bus, int unit,
    const uint8_t *pdu, int pdu_len);
/* Formats a device's state as "key=value ..." for the control socket. */
void simrig_phys_describe(struct simrig *sim, const struct simrig_device *dev, char *buf,
    size_t size);

/* Serves every bus of the rig; prints what it listens on to out. */
int simrig_net_start(struct simrig *sim, char *listening, size_t size);
void simrig_net_stop(struct simrig *sim);

/*
 * The control socket: "fault DEV KIND [MS|VALUE]", "clear DEV", "get DEV",
 * "set DEV 0|1", "stop DEV", "latency MS".
 */
int simrig_ctl_start(struct simrig *sim, const char *path);
void simrig_ctl_stop(struct simrig *sim);
/*
 * Applies a fault ("DEV:KIND" on the command line, or from the socket):
 * kind is a name of simrig_fault_names, "clear", "trickle:MS" or, for a
 * sensor, "reading:VALUE" (nan, inf, huge and reading are for sensors only). Returns
 * 0, or -1 with err saying what is accepted.
 */
/*
 * Stops a pump, line drive or axis as its own stop button would, without
 * a request and without an alarm: what a pump stopped from outside mid-spray
 * does. Returns 0, or -1 with err saying why (no such device, wrong role).
 */
int simrig_stop_device(struct simrig *sim, const char *device, char *err, size_t err_size);
/*
 * An axis pushed from outside by mm (a knock, a drive that lost steps): its
 * position jumps by mm at once, not busy, no alarm. Returns 0, or -1 with
 * err when device is not a Modbus axis.
 */
int simrig_push_axis(struct simrig *sim, const char *device, double mm, char *err,
    size_t err_size);
int simrig_set_fault(struct simrig *sim, const char *device, const char *kind, char *err,
    size_t err_size);

#endif
