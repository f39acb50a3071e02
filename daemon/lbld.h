/*
 * lbld's state, shared by its main (set-up, signals, recovery) and its
 * request handler (the control socket's commands).
 */
#ifndef LBL_LBLD_H
#define LBL_LBLD_H

#include <stdint.h>

#include "act.h"
#include "control.h"
#include "db.h"
#include "home.h"
#include "loop.h"
#include "reader.h"
#include "rig.h"
#include "run.h"

struct alert;
struct db;
struct hw;
struct manual;
struct record;

#define LBLD_TAG_STATUS	1	/* control followers of the live status */
#define LBLD_TAG_WAIT	2	/* control followers waiting for the batch to end */
#define LBLD_TAG_WAIT_FOLLOW 3	/* both: progress lines, then the batch's outcome */
#define LBLD_TAG_STATUS_JSON 4	/* followers of the live status as JSON lines */
#define LBLD_TAG_HOME	5	/* 'lblctl home', answered when homing ends */
#define LBLD_TAG_HOME_RUN 6	/* the run waiting for the homing before the first batch */
#define LBLD_TAG_MANUAL	7	/* a manual command, answered when its action ends (manual.h) */
#define LBLD_TAG_EVENTS	8	/* status --follow --json --events: status and events, never ending */

struct lbld {
	struct loop *loop;
	struct rig *rig;
	const char *rig_path;
	int64_t rig_id;
	struct db *db;
	struct record *record;		/* the running batch's writes (record.h) */
	struct hw *hw;
	struct act *act;
	struct run *run;
	struct control *control;
	struct reader *reader;		/* answers the reads of the batch record */
	struct home *home;		/* the axes that home, and homing (home.h) */
	struct manual *manual;		/* manual control (manual.h) */
	struct alert *alert;		/* the rig file's notify commands (alert.h) */
	/* the run request waiting for the homing before the first batch (a copy), or NULL */
	struct control_request *home_run;
	double time_scale;
	int64_t followed_batch;		/* the batch --wait followers wait for */
	/* what the last notify said, so each operator wait is told to --wait once */
	enum run_state told_state;
	int64_t told_batch;
	int told_step;
	char *bridge_status;		/* the status JSON the --events followers heard last */
	int stopping;			/* a stop signal came: only status is answered */
	struct loop_timer *stop_timer;	/* the stop's deadline */
	/* the probe of every device (start-up, reload) */
	size_t probe_pending;
	int probe_unreachable, probe_startup;
};

/*
 * Re-reads the rig file (SIGHUP, lblctl reload; lbld_main.c): refused while
 * a batch runs. Returns 0 when the new rig runs, -1 with why in err.
 */
int lbld_reload(struct lbld *l, char *err, size_t err_size);
/*
 * Commissioning requests (daemon/teach.c): 'teach STATION [--surface]'
 * answers the axes' positions as lbld reads them now, and the rig file's
 * path; 'reload' re-reads the rig file. Each answers the client.
 */
void teach_request(struct lbld *l, struct control_client *c, const struct control_request *req);
void teach_reload(struct lbld *l, struct control_client *c, const struct control_request *req);
/* The control socket's request handler (daemon/requests.c). */
void lbld_request(void *arg, struct control_client *client, const struct control_request *req);
/* Homing has ended (home_start()'s callback, arg the lbld): answers who waits for it. */
void lbld_homed(void *arg, int ok, const char *error);
/* Sends the status to followers and to systemd; ends --wait followers when a batch ends. */
void lbld_notify(void *arg, const struct run_status *status);
/*
 * An event is on record (db_on_event's callback, arg the lbld): tells the
 * followers of status --follow --json --events, one JSON line each.
 */
void lbld_event_told(void *arg, const struct db_event *event);
/*
 * What manual control or homing holds changed: the --events followers
 * hear the status (when it differs from what they heard last).
 */
void lbld_status_told(struct lbld *l);
/*
 * history, show, compare, export, series (daemon/history.c): the batch
 * record, read in the reader thread (a reader_work; arg is unused).
 */
void history_run(void *arg, struct db *db, struct reader_reply *reply, int argc, char **argv);
/*
 * plan (daemon/planreq.c): a stored recipe's plan against lbld's rig, in
 * the reader thread; history_run hands it over.
 */
void planreq_run(struct db *db, struct reader_reply *reply, int argc, char **argv);

#endif
