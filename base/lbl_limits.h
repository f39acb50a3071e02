/*
 * Every limit lbl enforces, in one place, each with its reason.
 *
 * A limit bounds memory or time that grows with what a user, a client or a
 * device gives, so that nothing can make lbld's event loop slow or its
 * footprint large on a 512 MB Raspberry Pi. Each may be set at build time
 * (-DPLAN_MAX_STEPS=...), within the bounds the guards at the end check;
 * documented limits (lbl-recipe(5), lblctl(1)) are these defaults.
 *
 * Tuning constants that bound nothing a user gives (poll intervals,
 * back-off times) stay in the module that uses them.
 */
#ifndef LBL_LIMITS_H
#define LBL_LIMITS_H

/* ---- Files: recipes and rig files (base/conf.c) ---- */

/* A recipe or rig file is read whole into memory; the largest example is 8 KB. */
#ifndef CONF_MAX_FILE_BYTES
#define CONF_MAX_FILE_BYTES	(1024 * 1024)
#endif
/* The parser recurses once per nesting level of maps and lists. */
#ifndef CONF_MAX_DEPTH
#define CONF_MAX_DEPTH		64
#endif
/*
 * The most values (scalars, lists and maps) a file may hold. Memory and
 * parse time grow with them, and lbld holds a batch's recipe for the whole
 * run: 1 MiB of short steps came to over 60 MB and 60 ms of lbld's event
 * loop. The largest example recipe or rig file has about 300 values;
 * 20,000 come to a few MB.
 */
#ifndef CONF_MAX_NODES
#define CONF_MAX_NODES		20000
#endif

/* ---- Recipes (recipes/recipe.c) ---- */
/*
 * Each bounds memory or time that grows with what the user writes; how far
 * the recipe may expand in all is PLAN_MAX_STEPS, checked before anything
 * is expanded.
 */
/* bilayers, max_bilayers, every, cycles: weeks of coating even at a minute a bilayer */
#ifndef RECIPE_MAX_BILAYERS
#define RECIPE_MAX_BILAYERS	10000
#endif
/* a repeat's times: each number stays readable; their product is PLAN_MAX_STEPS's */
#ifndef RECIPE_MAX_REPEAT
#define RECIPE_MAX_REPEAT	10000
#endif
/* repeat blocks inside repeat blocks: the parser, counter and planner recurse this deep */
#ifndef RECIPE_MAX_NESTING
#define RECIPE_MAX_NESTING	8
#endif
/*
 * Quick dips of one rinse bath: each is four device actions, all of them
 * executed (the step's action list grows as needed); a hundred quick dips
 * is already minutes of up and down for one rinse.
 */
#ifndef RECIPE_MAX_QUICK_DIPS
#define RECIPE_MAX_QUICK_DIPS	100
#endif
/*
 * The floor of the shortest timed step (planned duration, at time scale 1)
 * that keeps its absolute deadline, on any rig. Each step costs the
 * executor real time the plan does not count: its record (a commit, with
 * fsync, before its first command when the step before has no wait to
 * commit it in), its device requests, the timer's wake-up. A step's last
 * timed entry absorbs that time (at most a tenth of itself:
 * RUN_ABSORB_DIVISOR), but a step shorter than it starts the next one late,
 * and late adds up (5,000 steps of 1 ms ran 3.1 s late). Measured with
 * tests/bench/bench_short_steps.sh (README, "The shortest step"): spray
 * steps of 30 ms fell behind by 0.5 ms a step, of 50 ms by up to 0.06 ms a
 * step on a busy machine, of 100 ms not at all. A rig's own figure, from
 * its buses' transaction times, may be longer (rig_min_step_ms,
 * COMPILE_STEP_TRANSACTIONS); shorter steps are refused at check time
 * (recipes/compile.c).
 */
#ifndef COMPILE_MIN_STEP_MS
#define COMPILE_MIN_STEP_MS	100
#endif
/*
 * A step's last wait gives up at most 1/RUN_ABSORB_DIVISOR of
 * itself to absorb the I/O the plan does not count (daemon/run.c): a much
 * later step stays late rather than expose or drip much too little. So a
 * step keeps its deadline when its I/O is at most that share of it.
 */
#ifndef RUN_ABSORB_DIVISOR
#define RUN_ABSORB_DIVISOR	10
#endif
/*
 * The same for a dwell, an exposure, when it is its step's last timed
 * entry (a spray or dry step without a drain): it gives up at most
 * 1/RUN_DWELL_ABSORB_DIVISOR of itself, half the share a pump's counted
 * volume may fall short of the plan (PUMP_VOLUME_TOLERANCE_PCT), so the
 * spray it times still delivers what the plan says. Such a step keeps its
 * deadline from twice the rig's shortest step (rig_min_step_ms).
 */
#ifndef RUN_DWELL_ABSORB_DIVISOR
#define RUN_DWELL_ABSORB_DIVISOR	20
#endif
/*
 * The bus transactions a step needs that the plan counts as no time, for
 * the shortest step a rig keeps (rig_min_step_ms): a spray of one nozzle,
 * the busiest ordinary step, has its travel's go and the status read that
 * sees it arrive, its pump's run and valve's on, the valve's off and the
 * pump's stop, and the pump's volume counter read before and after: 8.
 * Its setpoints are armed during the step before and do not count.
 */
#ifndef COMPILE_STEP_TRANSACTIONS
#define COMPILE_STEP_TRANSACTIONS	8
#endif
/*
 * One Modbus TCP transaction (request and response), in µs, for the
 * shortest step a rig keeps: loopback to lbl-simrig takes 0.1-0.3 ms
 * (bench_modbus), a device on a LAN answers within about 1 ms; a TCP
 * gateway to a serial line is as slow as that line (describe such a bus
 * as what it is behind the gateway where its steps are short).
 */
#ifndef RIG_TCP_TRANSACTION_US
#define RIG_TCP_TRANSACTION_US	1000
#endif
/*
 * Solutions in a recipe: a rig has a few dozen baths and nozzles at most; the
 * planner visits every solution once per bilayer (replacements, top-ups), and
 * a plan step keeps a solution's index in 16 bits. A batch records one lot
 * per solution at most, so this bounds --lot too.
 */
#ifndef RECIPE_MAX_SOLUTIONS
#define RECIPE_MAX_SOLUTIONS	64
#endif
/*
 * A prompt's text (prompt: {message: ...}), in bytes of UTF-8. The operator
 * is shown it whole (status, --wait, the systemd status line) and the
 * record keeps it whole in the prompt's and the continue's events; a longer
 * one is refused at check time at its FILE:LINE:COL, so it is never cut. An
 * instruction longer than a screenful belongs in a document the prompt
 * names.
 */
#ifndef RECIPE_MAX_PROMPT_BYTES
#define RECIPE_MAX_PROMPT_BYTES	1024
#endif

/* ---- Plans (recipes/plan.c) ---- */
/*
 * The most steps a plan may have. lbld keeps a batch's whole plan in memory
 * for the run and plans every recipe added meanwhile, so it may hold two at
 * once: at PLAN_STEP_BYTES a step, 2 x 10.4 MB beside its own 4.2 MB, well
 * inside a 512 MB Raspberry Pi; and planning one takes its event loop about
 * 10 ms. The limit allows nearly ten steps a bilayer at the most bilayers
 * the parser accepts (RECIPE_MAX_BILAYERS), twice the 51,000 steps of the
 * 10,000-bilayer recipe that README's Performance table plans: months of
 * coating. It is checked before anything is expanded (plan_size), so a
 * recipe that would expand further costs neither memory nor time.
 */
#ifndef PLAN_MAX_STEPS
#define PLAN_MAX_STEPS		100000
#endif

/* ---- The control socket (base/protocol.h, daemon/control.c) ---- */

/* A request line: a command and its words; a recipe travels as the payload. */
#ifndef CONTROL_MAX_LINE
#define CONTROL_MAX_LINE	4096
#endif
/* A request's payload: a recipe, as large as a file may be (CONF_MAX_FILE_BYTES). */
#ifndef CONTROL_MAX_PAYLOAD
#define CONTROL_MAX_PAYLOAD	CONF_MAX_FILE_BYTES
#endif
/* Words in a request line: the longest command (run with lots) has a few dozen. */
#ifndef CONTROL_MAX_ARGS
#define CONTROL_MAX_ARGS	(16 + 2 * RECIPE_MAX_SOLUTIONS)
#endif
/*
 * The longest silence a request being answered later hears from lbld.
 * Clients give up after a few of these (lblctl: three), so a dead or hung
 * lbld is noticed within seconds while a batch can be followed for hours.
 */
#ifndef CONTROL_KEEPALIVE_MS
#define CONTROL_KEEPALIVE_MS	2000
#endif
/*
 * A client that does not read its replies is dropped past this much
 * backlog; so no reply line lbld sends is longer, and a client reads lines
 * of up to this length (lblctl's CTL_MAX_LINE).
 */
#ifndef CONTROL_MAX_BACKLOG
#define CONTROL_MAX_BACKLOG	(4 * 1024 * 1024)
#endif
/*
 * A follower (status --follow, --events, run --wait --follow) that does not
 * read is dropped past this much backlog, far sooner than a reply: its lines
 * are small and come on their own (a reply's come from the reader thread,
 * which waits for the client), so a stalled follower would otherwise grow
 * until CONTROL_MAX_BACKLOG, and 64 stalled ones to 256 MiB, on a Pi. 256
 * KiB is a hundred status lines behind: a reader that stalls that long is
 * gone; lbl-web and lbl-mqtt follow again when dropped.
 */
#ifndef CONTROL_MAX_FOLLOW_BACKLOG
#define CONTROL_MAX_FOLLOW_BACKLOG	(256 * 1024)
#endif
/*
 * Connections open at once. Each costs a descriptor and up to 8 KiB of
 * request buffer, so all of them stay within lbld's small footprint; lblctl
 * holds one per command, so a rig's few operators and viewers never near it.
 */
#ifndef CONTROL_MAX_CLIENTS
#define CONTROL_MAX_CLIENTS	64
#endif
/*
 * The last slots are for operators (root, lbld's user, group lbl) alone:
 * however many viewers connect, abort, pause and status still get in.
 */
#ifndef CONTROL_OPERATOR_RESERVE
#define CONTROL_OPERATOR_RESERVE	16
#endif
/*
 * Connections one viewer uid may hold: a person watching has a status
 * --follow and a query or two open; more is a script gone wrong or an
 * attack. Operators are trusted with the rig itself, so they have no limit
 * of their own but the total.
 */
#ifndef CONTROL_MAX_PER_VIEWER
#define CONTROL_MAX_PER_VIEWER	8
#endif
/*
 * From accept to a complete request, line and payload. lblctl sends its
 * request at once (a 1 MiB recipe takes milliseconds on a Unix socket), so
 * a client this slow is stuck or hostile, and it holds a slot.
 */
#ifndef CONTROL_REQUEST_TIMEOUT_MS
#define CONTROL_REQUEST_TIMEOUT_MS	5000
#endif
/* The longest lblctl --timeout: a day; more is a typo, and "forever" is what it prevents. */
#ifndef CTL_MAX_TIMEOUT_S
#define CTL_MAX_TIMEOUT_S	86400
#endif

/* ---- The record (daemon/record.c, daemon/reader.c) ---- */

/*
 * Text a batch is started with (lblctl run --substrate, --operator,
 * --note, --lot), in bytes of UTF-8. The record stores each whole, and
 * every reader (show, history, compare, export, status) prints it whole;
 * run refuses longer text, naming the limit, so nothing is ever cut, let
 * alone inside a character. Each is generous for what it names (a sample
 * ID, a login or a name, a lab-book remark, a supplier's lot number), and
 * together with a --lot they fit a request line (CONTROL_MAX_LINE).
 */
#ifndef BATCH_MAX_SUBSTRATE_BYTES
#define BATCH_MAX_SUBSTRATE_BYTES	512
#endif
#ifndef BATCH_MAX_OPERATOR_BYTES
#define BATCH_MAX_OPERATOR_BYTES	128
#endif
#ifndef BATCH_MAX_NOTE_BYTES
#define BATCH_MAX_NOTE_BYTES		2048
#endif
#ifndef BATCH_MAX_LOT_BYTES
#define BATCH_MAX_LOT_BYTES		256
#endif
/*
 * A --lot word, SOLUTION=LOT: the executor keeps one per solution for the
 * whole batch (RECIPE_MAX_SOLUTIONS of them, 32 KiB in all), so a solution
 * name gets what the lot leaves (255 bytes).
 */
#ifndef BATCH_MAX_LOT_WORD_BYTES
#define BATCH_MAX_LOT_WORD_BYTES	512
#endif

/*
 * How often the record looks at a commit's sync while the thread beside the
 * loop has it under way (db/db_sync.c): a failed one fails the batch within
 * this of the disk's answer. A sync takes 0.5-60 ms; a few looks each.
 */
#ifndef RECORD_SYNC_WATCH_MS
#define RECORD_SYNC_WATCH_MS	20
#endif

/* The longest the record may wait for another process's lock before the batch fails. */
#ifndef RECORD_HOLD_MS
#define RECORD_HOLD_MS		10000
#endif
/*
 * The most writes held in memory: a batch writes a few per step, so this
 * is minutes of steps even at the shortest steps a rig keeps; about 300
 * bytes each, so at most about 1 MB.
 */
#ifndef RECORD_MAX_HELD
#define RECORD_MAX_HELD		4096
#endif
/*
 * A reader's unsent reply: a history or export streams at its client's
 * pace in this much memory, however many years of batches it covers.
 */
#ifndef READER_MAX_BACKLOG_BYTES
#define READER_MAX_BACKLOG_BYTES	(1024 * 1024)
#endif
/* Reads waiting for the reader thread: a few clients' worth; more are refused at once. */
#ifndef READER_MAX_QUEUED
#define READER_MAX_QUEUED		32
#endif
/* A client reading nothing of its reply this long has it cut short (it holds a reader). */
#ifndef READER_STALL_MS
#define READER_STALL_MS			30000
#endif
/*
 * The same while other reads wait for the reader: one client that sent
 * "plan" for a large recipe (or an export) and read nothing held every
 * other read for READER_STALL_MS, and ten such held them for five minutes
 * (each in turn); now each holds them this long.
 */
#ifndef READER_STALL_BUSY_MS
#define READER_STALL_BUSY_MS		2000
#endif
/* Steps of two batches that compare holds at once (about 100 bytes each). */
#ifndef HIST_MAX_STEPS_KEPT
#define HIST_MAX_STEPS_KEPT	(2 * PLAN_MAX_STEPS)
#endif
/*
 * Recipe and rig texts that show and compare diff: lines, and lines that
 * may differ before the diff shows the middle as removed, then added (the
 * work is about TEXTDIFF_MAX_EDITS² / 2 ints, 2 MB).
 */
#ifndef TEXTDIFF_MAX_LINES
#define TEXTDIFF_MAX_LINES	4000
#endif
#ifndef TEXTDIFF_MAX_EDITS
#define TEXTDIFF_MAX_EDITS	1000
#endif
/*
 * A plan's JSON goes out in pieces of about this size, each ending after a
 * step (plan_json): lbld's plan request streams one as a line through the
 * reader, within a client's backlog, however many steps the plan has.
 */
#ifndef PLAN_JSON_PIECE_BYTES
#define PLAN_JSON_PIECE_BYTES	(64 * 1024)
#endif
/* Nesting of the JSON lbl writes: deeper than its documents need is a misuse. */
#ifndef JSON_MAX_DEPTH
#define JSON_MAX_DEPTH		16
#endif

/* ---- Stops and devices ---- */
/*
 * Pumps whose volume counters one step reads (daemon/dispense.c): a spray
 * sprays at most four solutions together, a bath replacement drains and
 * fills; a step's pumps past this are refused, never uncounted.
 */
#ifndef DISPENSE_MAX_PUMPS
#define DISPENSE_MAX_PUMPS	8
#endif
/*
 * How long a stop may take to make the rig safe (stops confirmed, the
 * substrate withdrawn and parked) before lbld exits anyway. It stays well
 * inside the unit's TimeoutStopSec (60 s), after which systemd would kill
 * lbld and run lbl-safe.
 */
#ifndef LBLD_STOP_BUDGET_MS
#define LBLD_STOP_BUDGET_MS	45000
#endif
/*
 * A device's own communication-loss timeout (comm_timeout: in the rig
 * file): shorter than lbld can promise to feed it under load trips it in
 * normal work; longer than a minute is no safety net.
 */
#ifndef RIG_COMM_TIMEOUT_MIN_MS
#define RIG_COMM_TIMEOUT_MIN_MS	100
#endif
#ifndef RIG_COMM_TIMEOUT_MAX_MS
#define RIG_COMM_TIMEOUT_MAX_MS	60000
#endif
/*
 * A device's supervision poll period while a batch runs (poll_period: in
 * the rig file, hw/drivers/hw_super.c): shorter than a loaded machine's
 * scheduling delay polls faster than anything can be acted on and fills
 * the bus; longer than a minute is no supervision (a pump stopped from
 * outside would spray nothing for that long unnoticed).
 */
#ifndef RIG_POLL_PERIOD_MIN_MS
#define RIG_POLL_PERIOD_MIN_MS	20
#endif
#ifndef RIG_POLL_PERIOD_MAX_MS
#define RIG_POLL_PERIOD_MAX_MS	60000
#endif
/*
 * A status read (supervision's polls, the executor's arrival reads) joins
 * its objects into one Modbus read when they lie within this many
 * registers of one table with no gap (hw/drivers/hw_bus.c): enough for a
 * position, a counter and a flags' word; a wider read would carry
 * registers nobody asked for over a slow line.
 */
#ifndef HW_STATUS_SPAN
#define HW_STATUS_SPAN		8
#endif
/*
 * Supervision judges a running pump's volume (a line's length) counter
 * once the commanded rate should have moved it by this many of its steps
 * (the profile's scale) since the reading it is held against
 * (hw/drivers/hw_super.c): fewer, and a slow pump's counter standing on
 * the same digit between two polls would read as a stall; many more, and a
 * dry pump is seen late.
 */
#ifndef HW_SUP_COUNT_STEPS
#define HW_SUP_COUNT_STEPS	10
#endif
/*
 * A bus's worker wakes this much at most ahead of a request released at a
 * moment (hw_request.release_ns) and waits out the rest on the clock
 * (hw/drivers/hw_bus.c, hw_bus_learn_wake). The wake is learnt to the
 * late end of the thread's wakes, not their median: on the 2-core test
 * machine (a virtual machine) a SCHED_FIFO thread's timed wake ended
 * 0.05-0.2 ms late at the median but 0.6 ms and more now and then, and
 * every such wake made its step late by that much; woken 1 ms ahead and
 * spinning the rest, a thread met its moment within 0.08 ms at the 99.9th
 * percentile there. The spin is the cost: at most this much of a core per
 * released command (a step's first command, a pair's two), 1% of a core
 * at ten steps a second; on a Pi's PREEMPT kernel, whose wakes are rarely
 * late, the learnt wake and the spin stay near their median's tens of
 * microseconds (one stall teaches it at most 0.1 ms, hw_bus_learn_wake).
 * A safe state ends a spin at once, unless the loop thread waits for the
 * spinning core (every other core busy with lbld's real-time threads):
 * this is also the most a safe state's first command can wait for it. It
 * must stay below the executor's RUN_ISSUE_EARLY_NS (daemon/run.c), or a
 * step's first command, begun on its timer, could be due at its bus
 * before it was queued.
 */
#ifndef HW_RELEASE_SPIN_MAX_US
#define HW_RELEASE_SPIN_MAX_US	1000
#endif

/* ---- Sensor readings and pump counters (hw/rig/profile.c, daemon/dispense.c) ---- */
/*
 * The plausible readings of a sensor, by kind, when neither the rig file's
 * device nor its profile gives a 'range'. A reading outside (or NaN, or
 * infinite) is a device fault, never a measurement: a float32 register
 * holding FLT_MAX, a gauge's overflow code or a QCM that lost its
 * oscillation must not end a batch early as "target reached". Each range
 * is wide enough for any real reading of its kind and far below FLT_MAX.
 * QCM: crystals and their overtones run from a few MHz to tens of MHz.
 */
#ifndef SENSOR_QCM_MIN_HZ
#define SENSOR_QCM_MIN_HZ		1000000
#endif
#ifndef SENSOR_QCM_MAX_HZ
#define SENSOR_QCM_MAX_HZ		100000000
#endif
/* thickness gauges (nm): a little below zero is noise; a millimetre is no thin film */
#ifndef SENSOR_THICKNESS_MIN_NM
#define SENSOR_THICKNESS_MIN_NM		(-100)
#endif
#ifndef SENSOR_THICKNESS_MAX_NM
#define SENSOR_THICKNESS_MAX_NM		1000000
#endif
/* absorbance: spectrometers read about -0.1 to 4; 10 is a thousand times below their floor */
#ifndef SENSOR_ABSORBANCE_MIN
#define SENSOR_ABSORBANCE_MIN		(-1)
#endif
#ifndef SENSOR_ABSORBANCE_MAX
#define SENSOR_ABSORBANCE_MAX		10
#endif
/* temperature (°C): a coating rig's baths and dryers */
#ifndef SENSOR_TEMPERATURE_MIN_C
#define SENSOR_TEMPERATURE_MIN_C	(-50)
#endif
#ifndef SENSOR_TEMPERATURE_MAX_C
#define SENSOR_TEMPERATURE_MAX_C	300
#endif
/* encoders: counts or mm, anything a 32-bit counter with a scale can hold */
#ifndef SENSOR_ENCODER_LIMIT
#define SENSOR_ENCODER_LIMIT		1000000000000LL
#endif
/*
 * A dispensing step fails when a pump's own counter says it dispensed
 * less than planned by more than this (percent of the plan), unless the
 * rig file's pump sets 'volume_tolerance'. Pumps start before and stop
 * after their valves, so a healthy pump counts a little more than planned;
 * a tenth less is a pump that stopped, stalled or lost its tubing.
 */
/*
 * Homing (daemon/home.c): an axis must report homed within twice the time
 * of its whole travel at max_speed (a drive homes at its own speed, slower
 * near the switch) plus this margin, for the search and the switch's
 * back-off; longer is a drive that will not home, reported as such.
 * While it homes, its status is read every 1/50 of that travel time,
 * bounded by HOME_POLL_MIN_MS (the bus's share) and HOME_POLL_MAX_MS.
 */
#ifndef HOME_MARGIN_MS
#define HOME_MARGIN_MS		5000
#endif
#define HOME_POLL_MIN_MS	5
#define HOME_POLL_MAX_MS	100

#ifndef PUMP_VOLUME_TOLERANCE_PCT
#define PUMP_VOLUME_TOLERANCE_PCT	10
#endif

/*
 * What the executor composes (daemon/run.c): a batch's failure cause, and
 * the messages of the events it records. A cause is made of parts that are
 * not lbl's own (a device's error, the database's, up to 640 bytes) with
 * the step and the device named; an event message holds a prompt whole
 * (RECIPE_MAX_PROMPT_BYTES) or a cause whole, with a few words around it.
 * They are kept in fixed buffers (the executor allocates nothing per step),
 * and one that would still be longer (a device error of pages) is cut at a
 * character boundary and ends with "…" (U+2026, base/text.h): never inside a
 * character, never silently.
 */
#ifndef RUN_MAX_CAUSE_BYTES
#define RUN_MAX_CAUSE_BYTES	2048
#endif
#ifndef RUN_MAX_EVENT_BYTES
#define RUN_MAX_EVENT_BYTES	(RUN_MAX_CAUSE_BYTES + 256)
#endif

/* ---- Commissioning: lblctl hw through lbld, pre-flight (daemon/devread.c) ---- */

/*
 * A read of every device ends when each has answered or when its bus could
 * have tried them all (each device's timeout times its tries), plus this
 * much for a loaded machine: a read a safe state dropped never answers,
 * and the client must not wait for it.
 */
#ifndef DEVREAD_MARGIN_MS
#define DEVREAD_MARGIN_MS	1000
#endif

/*
 * An operator's login name as lbld keeps it for the record (with its NUL):
 * Linux's useradd allows 32 characters; a longer one (some directory
 * services) is recorded as the uid alone, and the log says so.
 */
#ifndef CONTROL_LOGIN_BYTES
#define CONTROL_LOGIN_BYTES	64
#endif

/*
 * lblctl calibrate PUMP --time: the longest calibration run. A measuring
 * cylinder is read after a minute or two; ten minutes bound a pump left on
 * by a typo ("--time 60m") while nobody watches it.
 */
#ifndef CALIBRATE_MAX_MS
#define CALIBRATE_MAX_MS	(10 * 60 * 1000)
#endif
#define CALIBRATE_MIN_MS	1000
/*
 * How far a measured volume may be from the commanded one and still be
 * stored as a scale: beyond a factor of 3 the tubing, the profile or the
 * measurement is wrong, and a scale would hide it.
 */
#define CALIBRATE_MAX_FACTOR	3.0

/* ---- Guards: a limit set at build time must keep what the code assumes ---- */

_Static_assert(CONF_MAX_FILE_BYTES >= 64 * 1024 && CONF_MAX_FILE_BYTES <= 64 * 1024 * 1024,
    "CONF_MAX_FILE_BYTES: the examples need 64 KiB; files are read whole into memory");
_Static_assert(CONF_MAX_DEPTH >= 8 && CONF_MAX_DEPTH <= 1000,
    "CONF_MAX_DEPTH: recipes nest about 8 deep; the parser recurses once per level");
_Static_assert(CONF_MAX_NODES >= 1000 && CONF_MAX_NODES <= 1000000,
    "CONF_MAX_NODES: the examples need about 300 values");
_Static_assert(RECIPE_MAX_QUICK_DIPS >= 1 && RECIPE_MAX_QUICK_DIPS <= 255,
    "RECIPE_MAX_QUICK_DIPS: a plan step keeps its dip count in 8 bits");
_Static_assert(RUN_ABSORB_DIVISOR >= 2 && RUN_ABSORB_DIVISOR <= 100,
    "RUN_ABSORB_DIVISOR: a wait gives up a share of itself, never all of it");
_Static_assert(RUN_DWELL_ABSORB_DIVISOR * PUMP_VOLUME_TOLERANCE_PCT >= 2 * 100,
    "RUN_DWELL_ABSORB_DIVISOR: a dwell gives up at most half the pumps' volume tolerance");
_Static_assert(COMPILE_STEP_TRANSACTIONS >= 1 && COMPILE_STEP_TRANSACTIONS <= 64,
    "COMPILE_STEP_TRANSACTIONS: a step has a few commands (see its reason)");
_Static_assert(RIG_TCP_TRANSACTION_US >= 50 && RIG_TCP_TRANSACTION_US <= 100000,
    "RIG_TCP_TRANSACTION_US: from a loopback's 0.1 ms to a slow gateway's 100 ms");
_Static_assert(COMPILE_MIN_STEP_MS >= 60 && COMPILE_MIN_STEP_MS <= 1000,
    "COMPILE_MIN_STEP_MS: no less than the executor's record lead (run.c, 60 ms); "
    "recipes use steps of a second");
_Static_assert(RECIPE_MAX_SOLUTIONS >= 2 && RECIPE_MAX_SOLUTIONS <= 65535,
    "RECIPE_MAX_SOLUTIONS: a bilayer needs two; a plan step keeps an index in 16 bits");
_Static_assert(RECIPE_MAX_NESTING >= 1 && RECIPE_MAX_NESTING <= 64,
    "RECIPE_MAX_NESTING: the parser and planner recurse once per level");
_Static_assert((long long)RECIPE_MAX_BILAYERS * RECIPE_MAX_REPEAT <= 2147483647LL,
    "RECIPE_MAX_BILAYERS x RECIPE_MAX_REPEAT must fit the int counts it is checked in");
_Static_assert(PLAN_MAX_STEPS >= 10000 && PLAN_MAX_STEPS <= 10000000,
    "PLAN_MAX_STEPS: the 1,000-bilayer examples need 10,000; a step's sequence is an int");
_Static_assert(CONTROL_MAX_LINE >= 512 && CONTROL_MAX_LINE <= 65536,
    "CONTROL_MAX_LINE: a request line is buffered per client");
_Static_assert(CONTROL_MAX_PAYLOAD >= CONF_MAX_FILE_BYTES,
    "CONTROL_MAX_PAYLOAD: any recipe file lblctl may read must fit a request");
_Static_assert(CONTROL_MAX_ARGS >= 8 + 2 * RECIPE_MAX_SOLUTIONS,
    "CONTROL_MAX_ARGS: run takes --lot SOLUTION=LOT for every solution");
_Static_assert(PLAN_JSON_PIECE_BYTES >= 4096 && 4 * PLAN_JSON_PIECE_BYTES <= READER_MAX_BACKLOG_BYTES,
    "PLAN_JSON_PIECE_BYTES: a piece (one step past it at most) fits a reader's backlog");
_Static_assert(CONTROL_MAX_FOLLOW_BACKLOG >= 64 * 1024 &&
    CONTROL_MAX_FOLLOW_BACKLOG <= CONTROL_MAX_BACKLOG,
    "CONTROL_MAX_FOLLOW_BACKLOG: dozens of status lines, no more than any client's backlog");
_Static_assert(READER_STALL_BUSY_MS >= 500 && READER_STALL_BUSY_MS <= READER_STALL_MS &&
    (long long)READER_STALL_BUSY_MS * CONTROL_MAX_PER_VIEWER <= 60000,
    "READER_STALL_BUSY_MS: a viewer's stalled reads hold the others a minute at most");
_Static_assert(CONTROL_MAX_BACKLOG >= 4 * READER_MAX_BACKLOG_BYTES,
    "CONTROL_MAX_BACKLOG: a reader's chunks must fit a client's backlog");
_Static_assert(CONTROL_OPERATOR_RESERVE >= 1 && CONTROL_OPERATOR_RESERVE < CONTROL_MAX_CLIENTS,
    "CONTROL_OPERATOR_RESERVE: operators need a slot viewers cannot take");
_Static_assert(CONTROL_KEEPALIVE_MS >= 100 && 3 * CONTROL_KEEPALIVE_MS <= 1000 * 30,
    "CONTROL_KEEPALIVE_MS: lblctl gives up after three silences of its --timeout");
_Static_assert(BATCH_MAX_SUBSTRATE_BYTES + BATCH_MAX_OPERATOR_BYTES + BATCH_MAX_NOTE_BYTES +
    BATCH_MAX_LOT_WORD_BYTES + 256 <= CONTROL_MAX_LINE,
    "BATCH_MAX_*_BYTES: a run with every text at its limit and a --lot must fit a request line");
_Static_assert(BATCH_MAX_LOT_BYTES >= 16 && BATCH_MAX_LOT_BYTES + 64 <= BATCH_MAX_LOT_WORD_BYTES,
    "BATCH_MAX_LOT_WORD_BYTES: a --lot word holds its lot and a solution name of 64 bytes");
_Static_assert(BATCH_MAX_SUBSTRATE_BYTES >= 64 && BATCH_MAX_OPERATOR_BYTES >= 32 &&
    BATCH_MAX_NOTE_BYTES >= 256,
    "BATCH_MAX_*_BYTES: sample IDs, logins and remarks need at least this much");
_Static_assert(RECIPE_MAX_PROMPT_BYTES >= 256 &&
    RECIPE_MAX_PROMPT_BYTES + 256 <= RUN_MAX_EVENT_BYTES,
    "RECIPE_MAX_PROMPT_BYTES: a paragraph at least; its events hold it whole with their words");
_Static_assert(RUN_MAX_CAUSE_BYTES >= 1024 && RUN_MAX_CAUSE_BYTES + 256 <= RUN_MAX_EVENT_BYTES,
    "RUN_MAX_CAUSE_BYTES: a database error (640 bytes) with its step; its event holds it whole");
_Static_assert(RUN_MAX_EVENT_BYTES <= 16384,
    "RUN_MAX_EVENT_BYTES: kept on the event loop's stack");
_Static_assert(RECORD_SYNC_WATCH_MS >= 1 && RECORD_SYNC_WATCH_MS <= 1000,
    "RECORD_SYNC_WATCH_MS: a failed sync is told within a short step, without a busy loop");
_Static_assert(RECORD_HOLD_MS >= 1000 && RECORD_HOLD_MS <= 60000,
    "RECORD_HOLD_MS: a step's record may not wait longer than a short step");
_Static_assert(RECORD_MAX_HELD >= 64 && RECORD_MAX_HELD <= 65536,
    "RECORD_MAX_HELD: held writes cost about 300 bytes each");
_Static_assert(HIST_MAX_STEPS_KEPT >= 2 * PLAN_MAX_STEPS,
    "HIST_MAX_STEPS_KEPT: compare must hold two of the largest batches");
_Static_assert(TEXTDIFF_MAX_EDITS <= TEXTDIFF_MAX_LINES && TEXTDIFF_MAX_EDITS <= 4000,
    "TEXTDIFF_MAX_EDITS: the diff's work grows with its square");
_Static_assert(DISPENSE_MAX_PUMPS >= 4 && DISPENSE_MAX_PUMPS <= 64,
    "DISPENSE_MAX_PUMPS: a spray of four solutions; each pump is two reads a step");
_Static_assert(LBLD_STOP_BUDGET_MS >= 5000 && LBLD_STOP_BUDGET_MS <= 55000,
    "LBLD_STOP_BUDGET_MS: within the unit's TimeoutStopSec=60s, with time to exit");
_Static_assert(RIG_COMM_TIMEOUT_MIN_MS >= 3 * 20 &&
    RIG_COMM_TIMEOUT_MIN_MS < RIG_COMM_TIMEOUT_MAX_MS,
    "RIG_COMM_TIMEOUT_MIN_MS: lbld feeds a watchdog every timeout/3");
_Static_assert(RIG_POLL_PERIOD_MIN_MS >= 10 && RIG_POLL_PERIOD_MIN_MS < RIG_POLL_PERIOD_MAX_MS &&
    RIG_POLL_PERIOD_MAX_MS <= 60000,
    "RIG_POLL_PERIOD_*: above a loaded machine's scheduling delay, at most a minute");
_Static_assert(HW_STATUS_SPAN >= 3 && HW_STATUS_SPAN <= 125,
    "HW_STATUS_SPAN: a position and a flags' word at least; a Modbus read is at most 125");
_Static_assert(HW_RELEASE_SPIN_MAX_US >= 0 && HW_RELEASE_SPIN_MAX_US < 2000,
    "HW_RELEASE_SPIN_MAX_US: no spin at all up to just under the executor's 2 ms issue margin");
_Static_assert(HW_SUP_COUNT_STEPS >= 3 && HW_SUP_COUNT_STEPS <= 1000,
    "HW_SUP_COUNT_STEPS: a few steps past rounding, not so many a dry pump runs on");

_Static_assert(HOME_MARGIN_MS >= 1000 && HOME_MARGIN_MS <= 60000,
    "HOME_MARGIN_MS: a drive's search for its switch, not a hang");
_Static_assert(HOME_POLL_MIN_MS >= 2 && HOME_POLL_MIN_MS < HOME_POLL_MAX_MS &&
    HOME_POLL_MAX_MS <= 250,
    "HOME_POLL_*_MS: a bus can afford it, and homing is seen ending within a quarter second");

_Static_assert(SENSOR_QCM_MIN_HZ > 0 && SENSOR_QCM_MIN_HZ < SENSOR_QCM_MAX_HZ &&
    SENSOR_THICKNESS_MIN_NM < SENSOR_THICKNESS_MAX_NM &&
    SENSOR_ABSORBANCE_MIN < SENSOR_ABSORBANCE_MAX &&
    SENSOR_TEMPERATURE_MIN_C < SENSOR_TEMPERATURE_MAX_C && SENSOR_ENCODER_LIMIT > 0 &&
    SENSOR_ENCODER_LIMIT <= 1000000000000000000LL,
    "SENSOR_*: each default range must be non-empty and far below FLT_MAX, which must fault");
_Static_assert(PUMP_VOLUME_TOLERANCE_PCT >= 1 && PUMP_VOLUME_TOLERANCE_PCT <= 50,
    "PUMP_VOLUME_TOLERANCE_PCT: 0 fails on the counter's last digit; over half is no check");

_Static_assert(DEVREAD_MARGIN_MS >= 100 && DEVREAD_MARGIN_MS <= 10000,
    "DEVREAD_MARGIN_MS: above a loaded machine's scheduling delay, below a client's patience");

_Static_assert(CALIBRATE_MAX_MS >= 60000 && CALIBRATE_MAX_MS <= 3600000,
    "CALIBRATE_MAX_MS: a minute's run must fit; an hour is no calibration");
_Static_assert(CALIBRATE_MIN_MS >= 100 && CALIBRATE_MIN_MS < CALIBRATE_MAX_MS,
    "CALIBRATE_MIN_MS: a run long enough to measure");

/*
 * Manual control (daemon/manual.c): a pump, valve, stirrer or line drive
 * switched on by hand goes off by itself after the rig file's
 * 'manual: {max_on: ...}', or MANUAL_MAX_ON_DEFAULT_MS without one: a line
 * left priming while the operator walks away floods the bench. The rig
 * file may set from MANUAL_MAX_ON_MIN_MS (a valve's click) to
 * MANUAL_MAX_ON_MAX_MS (a long bath fill, attended).
 */
#define MANUAL_MAX_ON_DEFAULT_MS	(10 * 60 * 1000)
#define MANUAL_MAX_ON_MIN_MS		1000
#define MANUAL_MAX_ON_MAX_MS		(4 * 60 * 60 * 1000)
_Static_assert(MANUAL_MAX_ON_MIN_MS <= MANUAL_MAX_ON_DEFAULT_MS &&
    MANUAL_MAX_ON_DEFAULT_MS <= MANUAL_MAX_ON_MAX_MS,
    "MANUAL_MAX_ON_*: the default must be one the rig file could set");
_Static_assert(MANUAL_MAX_ON_MAX_MS <= 24 * 60 * 60 * 1000,
    "MANUAL_MAX_ON_MAX_MS: an output on for more than a day is not manual control");
/*
 * A manual prime, fill or drain with a pump whose profile has a volume
 * counter stops when the counter has counted the volume, read every
 * 1/MANUAL_VOLUME_POLLS of the time the volume takes at the flow, bounded
 * by MANUAL_VOLUME_POLL_MIN_MS (the bus's share) and _MAX_MS (the
 * overshoot: at most that long at the flow). Should the counter fall
 * short, the pump stops anyway after MANUAL_VOLUME_BACKSTOP_PCT percent
 * more than that time, and the answer says how much it counted: a pump
 * that stalled or lost its tubing must not run to max_on.
 */
#define MANUAL_VOLUME_POLLS		50
#define MANUAL_VOLUME_POLL_MIN_MS	50
#define MANUAL_VOLUME_POLL_MAX_MS	500
#define MANUAL_VOLUME_BACKSTOP_PCT	50
_Static_assert(MANUAL_VOLUME_POLLS >= 10 && MANUAL_VOLUME_POLL_MIN_MS >= 20 &&
    MANUAL_VOLUME_POLL_MIN_MS < MANUAL_VOLUME_POLL_MAX_MS && MANUAL_VOLUME_POLL_MAX_MS <= 1000,
    "MANUAL_VOLUME_POLL_*: a few reads a second, not a flood of the bus");
_Static_assert(CONTROL_LOGIN_BYTES >= 33 && CONTROL_LOGIN_BYTES <= 1024,
    "CONTROL_LOGIN_BYTES: useradd's 32 characters and the NUL, and a few per client");
_Static_assert(MANUAL_VOLUME_BACKSTOP_PCT > PUMP_VOLUME_TOLERANCE_PCT &&
    MANUAL_VOLUME_BACKSTOP_PCT <= 100,
    "MANUAL_VOLUME_BACKSTOP_PCT: more than a pump's tolerance, less than twice the time");

/*
 * Notifications (the rig file's 'notify:', daemon/alert.c): a command runs
 * for each event, exec'd by lbld without a shell. At most
 * ALERT_MAX_RUNNING run at once; an event beyond that is logged as dropped,
 * never queued (a command that hangs on every e-stop bounce must not pile
 * up processes on a Pi next to the rig). Each runs at most its 'timeout'
 * (ALERT_TIMEOUT_DEFAULT_MS without one, the rig file may set
 * ALERT_TIMEOUT_MIN_MS to _MAX_MS), then gets SIGTERM, and SIGKILL
 * ALERT_KILL_GRACE_MS later. Without a pidfd (an old kernel) its end is
 * polled every ALERT_POLL_MS.
 */
#define ALERT_MAX_RUNNING		4
#define ALERT_TIMEOUT_DEFAULT_MS	(30 * 1000)
#define ALERT_TIMEOUT_MIN_MS		1000
#define ALERT_TIMEOUT_MAX_MS		(10 * 60 * 1000)
#define ALERT_KILL_GRACE_MS		2000
#define ALERT_POLL_MS			250
_Static_assert(ALERT_MAX_RUNNING >= 2 && ALERT_MAX_RUNNING <= 16,
    "ALERT_MAX_RUNNING: an e-stop and the batch's failure both get through, few processes");
_Static_assert(ALERT_TIMEOUT_MIN_MS <= ALERT_TIMEOUT_DEFAULT_MS &&
    ALERT_TIMEOUT_DEFAULT_MS <= ALERT_TIMEOUT_MAX_MS,
    "ALERT_TIMEOUT_*: the default must be one the rig file could set");
_Static_assert(ALERT_KILL_GRACE_MS > 0 && ALERT_KILL_GRACE_MS <= ALERT_TIMEOUT_MIN_MS * 5 &&
    ALERT_POLL_MS < ALERT_TIMEOUT_MIN_MS,
    "ALERT_KILL_GRACE_MS, ALERT_POLL_MS: short beside the time limit");
/* ---- lbl-web (web/) ---- */
/*
 * A request body: a login form or an operator's command is a few hundred
 * bytes; anything larger is refused with 413 before it is read whole.
 */
#ifndef WEB_MAX_BODY_BYTES
#define WEB_MAX_BODY_BYTES		4096
#endif
/*
 * Browsers following the rig (Server-Sent Events): each holds a thread
 * of lbl-web (tens of kB) and a connection; a lab has a few screens, the
 * issue asks for 50, and 200 must not hurt. The 257th is refused (503).
 */
#ifndef WEB_MAX_SSE_CLIENTS
#define WEB_MAX_SSE_CLIENTS		256
#endif
/* All connections at once: the event followers and some requests beside them. */
#ifndef WEB_MAX_CONNECTIONS
#define WEB_MAX_CONNECTIONS		(WEB_MAX_SSE_CLIENTS + 64)
#endif
/*
 * Connections at once from one client address (an IPv6 host by its /64),
 * loopback aside (this machine: a local reverse proxy, the tests): a
 * browser opens six to a site and one per tab's event stream, so a lab
 * PC with a few tabs stays well under it; without it one host holding
 * idle connections took all WEB_MAX_CONNECTIONS and nobody else was
 * served. An address outside trusted: needs just one, to be told 403.
 */
#ifndef WEB_MAX_ADDR_CONNECTIONS
#define WEB_MAX_ADDR_CONNECTIONS	32
#endif
#ifndef WEB_MAX_UNTRUSTED_CONNECTIONS
#define WEB_MAX_UNTRUSTED_CONNECTIONS	4
#endif
/*
 * Reads lbl-web asks of lbld at once (history, show, export, plan, ...):
 * a browser's next one waits for its turn (WEB_LBLD_TIMEOUT_MS), then is
 * told 503. lbld queues READER_MAX_QUEUED reads for everyone; browsers
 * asking for a large plan over and over filled that queue and lblctl's
 * reads were refused as busy. A quarter of it is the browsers' share.
 */
#ifndef WEB_MAX_LBLD_READS
#define WEB_MAX_LBLD_READS		(READER_MAX_QUEUED / 4)
#endif
/*
 * Login attempts per client address per minute: a person mistyping gets
 * a few tries; guessing a password at this rate takes forever (and each
 * attempt costs a yescrypt hash, so the rate also bounds the CPU it takes).
 */
#ifndef WEB_LOGIN_PER_MIN
#define WEB_LOGIN_PER_MIN		5
#endif
/* Addresses whose attempts are counted; the oldest is forgotten first. */
#ifndef WEB_LOGIN_ADDRS
#define WEB_LOGIN_ADDRS			256
#endif
/* Sessions at once: a few operators, each with a few devices. */
#ifndef WEB_MAX_SESSIONS
#define WEB_MAX_SESSIONS		64
#endif
/* A session's life without use: an operator's shift. */
#ifndef WEB_SESSION_IDLE_S
#define WEB_SESSION_IDLE_S		(12 * 60 * 60)
#endif
/* Users in web.yaml: each a name and a hash held in memory. */
#ifndef WEB_MAX_USERS
#define WEB_MAX_USERS			64
#endif
/* A user's name: what lbld records as the operator (BATCH_MAX_OPERATOR_BYTES). */
#ifndef WEB_MAX_USER_BYTES
#define WEB_MAX_USER_BYTES		32
#endif
/* Names lbl-web answers to (hosts: in web.yaml), each a DNS name. */
#ifndef WEB_MAX_HOSTS
#define WEB_MAX_HOSTS			16
#endif
#ifndef WEB_MAX_HOST_BYTES
#define WEB_MAX_HOST_BYTES		253
#endif
/* Trusted address ranges in web.yaml. */
#ifndef WEB_MAX_TRUSTED
#define WEB_MAX_TRUSTED			64
#endif
/*
 * lbld's answer relayed to a browser is held whole (it is sent with its
 * length); one batch's full record or export is a few MB at most. A larger
 * one is refused (507) naming lblctl export, never cut.
 */
#ifndef WEB_MAX_REPLY_BYTES
#define WEB_MAX_REPLY_BYTES		(32 * 1024 * 1024)
#endif
/*
 * lbld's answers lbl-web has handed on and its browsers not yet taken,
 * all together: a browser that asks for a large plan or export and reads
 * nothing holds it in lbl-web, and eight such held 149 MB, past the
 * unit's MemoryMax of 128 MB. Past this, a request is told 503.
 */
#ifndef WEB_MAX_SENDING_BYTES
#define WEB_MAX_SENDING_BYTES		(48 * 1024 * 1024)
#endif
/* The status line lbl-web keeps for its followers: lbld's status JSON. */
#ifndef WEB_MAX_STATUS_BYTES
#define WEB_MAX_STATUS_BYTES		(64 * 1024)
#endif
/*
 * lbld's events lbl-web keeps, newest last: a browser that connects gets
 * them (the rig page's recent events), one that reconnects those it
 * missed. Each is one line of lbld's (a few hundred bytes), so tens of kB.
 */
#ifndef WEB_EVENTS_KEPT
#define WEB_EVENTS_KEPT			100
#endif
_Static_assert(WEB_EVENTS_KEPT >= 10 && WEB_EVENTS_KEPT <= 1000,
    "WEB_EVENTS_KEPT: a page of recent events, in bounded memory");
_Static_assert(WEB_MAX_BODY_BYTES >= 1024 && WEB_MAX_BODY_BYTES <= 1024 * 1024,
    "WEB_MAX_BODY_BYTES: a login form fits, a flood does not");
_Static_assert(WEB_MAX_SSE_CLIENTS >= 50 && WEB_MAX_SSE_CLIENTS <= 4096 &&
    WEB_MAX_CONNECTIONS > WEB_MAX_SSE_CLIENTS,
    "WEB_MAX_SSE_CLIENTS: the issue's 50 browsers, and room for requests beside them");
_Static_assert(WEB_MAX_UNTRUSTED_CONNECTIONS >= 1 &&
    WEB_MAX_UNTRUSTED_CONNECTIONS <= WEB_MAX_ADDR_CONNECTIONS &&
    WEB_MAX_ADDR_CONNECTIONS >= 8 && 4 * WEB_MAX_ADDR_CONNECTIONS <= WEB_MAX_CONNECTIONS,
    "WEB_MAX_ADDR_CONNECTIONS: a browser's connections fit, one host cannot take them all");
_Static_assert(WEB_MAX_SENDING_BYTES >= WEB_MAX_REPLY_BYTES &&
    WEB_MAX_SENDING_BYTES <= 64 * 1024 * 1024,
    "WEB_MAX_SENDING_BYTES: the largest answer fits, and lbl-web stays within its MemoryMax");
_Static_assert(WEB_MAX_LBLD_READS >= 2 && 2 * WEB_MAX_LBLD_READS <= READER_MAX_QUEUED,
    "WEB_MAX_LBLD_READS: browsers leave lbld's reader queue to others as well");
_Static_assert(WEB_LOGIN_PER_MIN >= 1 && WEB_LOGIN_PER_MIN <= 60 && WEB_LOGIN_ADDRS >= 16,
    "WEB_LOGIN_PER_MIN: a few tries a minute, not a guessing machine");
_Static_assert(WEB_MAX_HOSTS >= 4 && WEB_MAX_HOST_BYTES == 253,
    "WEB_MAX_HOSTS: a rig's few names; a DNS name is at most 253 bytes");
_Static_assert(WEB_MAX_SESSIONS >= 4 && WEB_SESSION_IDLE_S >= 60 && WEB_MAX_USERS >= 1,
    "WEB_MAX_SESSIONS: a few operators' devices");
_Static_assert(WEB_MAX_USER_BYTES >= 8 && WEB_MAX_USER_BYTES + 32 < BATCH_MAX_OPERATOR_BYTES,
    "WEB_MAX_USER_BYTES: the name lbld records fits its operator field");
_Static_assert(WEB_MAX_REPLY_BYTES >= 1024 * 1024 && WEB_MAX_STATUS_BYTES >= 4096 &&
    WEB_MAX_STATUS_BYTES < CONTROL_MAX_BACKLOG,
    "WEB_MAX_REPLY_BYTES: one batch's record, whole");

/*
 * lbl-sync (sync/): the rig's record copied to the lab's PostgreSQL.
 * How often it looks whether lbld committed (PRAGMA data_version: one
 * read of the -shm, no I/O): a running batch reaches the central
 * database within a second or two of each step.
 */
#ifndef SYNC_POLL_MS
#define SYNC_POLL_MS			500
#endif
/*
 * Rows in one INSERT ... VALUES statement: PostgreSQL takes at most 65,535
 * parameters in a statement (a 16-bit count in its protocol), and the
 * widest table (steps: 20 columns and the rig) fits 3,000 rows; 500 keeps
 * each statement's text and parameters under a MiB.
 */
#ifndef SYNC_ROWS_PER_INSERT
#define SYNC_ROWS_PER_INSERT		500
#endif
#define SYNC_MAX_PARAMS			65535
/*
 * Whole batches in one central transaction while catching up (10,000
 * recorded batches after a long outage): a transaction never holds part
 * of a batch, and one per batch would spend the time in commits.
 */
#ifndef SYNC_BATCHES_PER_TXN
#define SYNC_BATCHES_PER_TXN		100
#endif
/* Reconnection back-off: from the first to the longest wait, doubling. */
#ifndef SYNC_BACKOFF_MIN_MS
#define SYNC_BACKOFF_MIN_MS		1000
#endif
#ifndef SYNC_BACKOFF_MAX_MS
#define SYNC_BACKOFF_MAX_MS		15000
#endif
/*
 * The record's tables and a table's columns as lbl-sync holds them (the
 * record has 8 tables; its widest, steps, 20 columns): a schema past them
 * is refused by name, never copied in part.
 */
#ifndef SYNC_MAX_TABLES
#define SYNC_MAX_TABLES			16
#endif
#ifndef SYNC_MAX_COLUMNS
#define SYNC_MAX_COLUMNS		32
#endif
/* A rig's name for people (lbl-sync --name, or the host's name). */
#ifndef SYNC_MAX_NAME_BYTES
#define SYNC_MAX_NAME_BYTES		64
#endif
_Static_assert(SYNC_POLL_MS >= 50 && SYNC_POLL_MS <= 5000,
    "SYNC_POLL_MS: a running batch is copied within seconds, the check stays cheap");
_Static_assert(SYNC_ROWS_PER_INSERT >= 1 && SYNC_ROWS_PER_INSERT * 24 <= SYNC_MAX_PARAMS,
    "SYNC_ROWS_PER_INSERT: a statement of the widest table stays within PostgreSQL's "
    "65,535 parameters");
_Static_assert(SYNC_BATCHES_PER_TXN >= 1 && SYNC_BATCHES_PER_TXN <= 1000,
    "SYNC_BATCHES_PER_TXN: whole batches, a transaction of bounded size");
_Static_assert(SYNC_BACKOFF_MIN_MS >= 100 && SYNC_BACKOFF_MAX_MS >= SYNC_BACKOFF_MIN_MS &&
    SYNC_BACKOFF_MAX_MS <= 60000,
    "SYNC_BACKOFF_MAX_MS: a server back after an outage is found within a minute");
_Static_assert(SYNC_MAX_TABLES >= 8 && SYNC_MAX_COLUMNS >= 20 &&
    SYNC_ROWS_PER_INSERT * (SYNC_MAX_COLUMNS + 1) <= SYNC_MAX_PARAMS,
    "SYNC_MAX_COLUMNS: the record's tables fit, and a full statement of the widest stays "
    "within PostgreSQL's parameters");
_Static_assert(SYNC_MAX_NAME_BYTES >= 16 && SYNC_MAX_NAME_BYTES <= 255,
    "SYNC_MAX_NAME_BYTES: a host name fits");
/* ---- lbl-mqtt (mqtt/) ---- */
/*
 * Messages of QoS 1 lbl-mqtt has handed to libmosquitto that the broker
 * has not yet acknowledged: while the broker is away they wait in
 * libmosquitto's queue, each an event of at most a few kB, so this bounds
 * that memory (about 2 MB). Past it an event is dropped and counted, and
 * the count is logged when the broker is back (never silently); the status
 * is never queued, its latest is published again on every connection.
 */
#ifndef MQTT_MAX_QUEUED
#define MQTT_MAX_QUEUED			1000
#endif
/*
 * The broker's reconnection back-off: the first retry after this, doubling
 * up to the most (libmosquitto's exponential back-off), so a broker down
 * for a day costs a connection attempt a minute.
 */
#ifndef MQTT_RECONNECT_MIN_S
#define MQTT_RECONNECT_MIN_S		1
#endif
#ifndef MQTT_RECONNECT_MAX_S
#define MQTT_RECONNECT_MAX_S		60
#endif
/* lbld's socket unreachable: the retry after this, doubling up to the most. */
#ifndef MQTT_LBLD_RETRY_MIN_MS
#define MQTT_LBLD_RETRY_MIN_MS		250
#endif
#ifndef MQTT_LBLD_RETRY_MAX_MS
#define MQTT_LBLD_RETRY_MAX_MS		5000
#endif
/* A rig's name, one topic level: a host name's length is plenty. */
#ifndef MQTT_MAX_RIG_BYTES
#define MQTT_MAX_RIG_BYTES		64
#endif
/* A topic lbl-mqtt builds: prefix, rig and the sensor's id, with room. */
#ifndef MQTT_MAX_TOPIC_BYTES
#define MQTT_MAX_TOPIC_BYTES		512
#endif
/*
 * The keep-alive it asks of the broker: the broker publishes the last will
 * ("offline") after 1.5 times this without a word from a bridge whose host
 * died (a bridge that is killed is noticed at once: its socket closes).
 * libmosquitto takes 5 s at the least.
 */
#ifndef MQTT_KEEPALIVE_DEFAULT_S
#define MQTT_KEEPALIVE_DEFAULT_S	30
#endif
#define MQTT_KEEPALIVE_MIN_S		5
#define MQTT_KEEPALIVE_MAX_S		3600
_Static_assert(MQTT_MAX_QUEUED >= 100 && MQTT_MAX_QUEUED <= 100000,
    "MQTT_MAX_QUEUED: a batch's events across a short outage, in a few MB at most");
_Static_assert(MQTT_RECONNECT_MIN_S >= 1 && MQTT_RECONNECT_MAX_S >= MQTT_RECONNECT_MIN_S &&
    MQTT_RECONNECT_MAX_S <= 600, "MQTT_RECONNECT_*: back to the broker within minutes");
_Static_assert(MQTT_LBLD_RETRY_MIN_MS >= 50 && MQTT_LBLD_RETRY_MAX_MS >= MQTT_LBLD_RETRY_MIN_MS &&
    MQTT_LBLD_RETRY_MAX_MS <= 60000, "MQTT_LBLD_RETRY_*: lbld restarted is followed within seconds");
_Static_assert(MQTT_MAX_RIG_BYTES >= 16 && MQTT_MAX_TOPIC_BYTES >= 2 * MQTT_MAX_RIG_BYTES + 128,
    "MQTT_MAX_TOPIC_BYTES: every topic of a rig of the longest name fits");
_Static_assert(MQTT_KEEPALIVE_DEFAULT_S >= MQTT_KEEPALIVE_MIN_S &&
    MQTT_KEEPALIVE_DEFAULT_S <= MQTT_KEEPALIVE_MAX_S, "MQTT_KEEPALIVE_DEFAULT_S: within its range");

#endif
