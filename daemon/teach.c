/*
 * Commissioning through lbld: 'teach' reads the axes where they stand, so
 * a station's position comes from the drive as lbld sees it, and 'reload'
 * re-reads the rig file once lblctl has edited it.
 *
 * lbld does not write the rig file itself: it runs as user lbl, which may
 * read /etc/lbl but not write it, and the operator who teaches edits the
 * file as they would by hand (lblctl teach, client/ctl_teach.c, through
 * hw/rig/rig_edit.c), then asks for the reload. Nothing here blocks: the
 * reads are queued on the axes' buses and answered from their callbacks.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "db.h"
#include "hw.h"
#include "lbld.h"
#include "log.h"

/* One teach request: the reads still out, what they found, and who asked. */
struct teach {
	struct lbld *l;
	struct control_client *client;	/* NULL once the client went away */
	int station;
	int pending;			/* reads not yet answered */
	int want_surface;
	double x_mm, z_mm;
	char error[400];		/* the first read that failed, "" if none */
};

/* Teach reads under way: a reload waits until they are answered. */
static int teach_pending;

static void
teach_watch(void *arg, struct control_client *client, enum control_event event)
{
	struct teach *t = arg;

	(void)client;
	if (event == CONTROL_GONE)
		t->client = NULL;
}

/* Every read is in: the client hears the positions, or why there are none. */
static void
teach_answer(struct teach *t)
{
	const struct rig *rig = t->l->rig;
	char path[PATH_MAX];

	if (t->client == NULL)
		return;
	control_watch(t->client, NULL, NULL);
	if (t->error[0] != '\0') {
		control_finish(t->client, 1, "teach %s: %s", rig->stations[t->station].name,
		    t->error);
		return;
	}
	/* lblctl edits the file lbld reads, from wherever it is run */
	control_out(t->client, "rig %s", realpath(t->l->rig_path, path) != NULL ? path :
	    t->l->rig_path);
	control_out(t->client, "station %s", rig->stations[t->station].name);
	control_out(t->client, "x %.3f", t->x_mm);
	if (t->want_surface)
		control_out(t->client, "surface_z %.3f", t->z_mm);
	control_finish(t->client, 0, " ");
}

static void
teach_read(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct teach *t = arg;
	const struct rig *rig = t->l->rig;
	const char *name = rig->devices[req->device].name;

	if (!res->ok && t->error[0] == '\0')
		snprintf(t->error, sizeof(t->error), "reading axis '%s': %s", name, res->error);
	else if (res->ok && isnan(res->position_mm) && t->error[0] == '\0')
		snprintf(t->error, sizeof(t->error), "axis '%s' did not report its position",
		    name);
	else if (res->ok && res->alarm == 1 && t->error[0] == '\0')
		snprintf(t->error, sizeof(t->error), "axis '%s' is in alarm: its position is not "
		    "to be trusted ('lblctl hw' shows it)", name);
	else if (req->device == rig->transfer)
		t->x_mm = res->position_mm;
	else
		t->z_mm = res->position_mm;
	if (res->ok) {
		act_note_position(t->l->act, req->device, res->position_mm);
		home_note_status(t->l->home, req->device, res);
	}
	if (--t->pending > 0)
		return;
	teach_pending--;
	teach_answer(t);
	free(t);
}

/*
 * The axes a teach reads must be homed when the rig homes them: a
 * position counted from nowhere would be written into the rig file.
 */
static int
teach_axis_ok(struct lbld *l, struct control_client *c, int axis, const char *what)
{
	if (axis == -1) {
		control_finish(c, 2, "teach: the rig has no %s axis (motion: %s in the rig file)",
		    what, what);
		return -1;
	}
	if (home_homed(l->home, axis) == 0) {
		control_finish(c, 1, "teach refused: axis '%s' is not homed, so its position "
		    "means nothing yet; 'lblctl home %s' first", l->rig->devices[axis].name,
		    l->rig->devices[axis].name);
		return -1;
	}
	return 0;
}

void
teach_request(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	struct teach *t;
	char err[300];
	int station, surface = 0, i, axes[2], n = 0;

	for (i = 2; i < req->argc; i++) {
		if (strcmp(req->argv[i], "--surface") != 0) {
			control_finish(c, 2, "teach: unknown option '%s'; usage: teach STATION "
			    "[--surface]", req->argv[i]);
			return;
		}
		surface = 1;
	}
	if (req->argc < 2) {
		control_finish(c, 2, "usage: teach STATION [--surface]");
		return;
	}
	if ((station = rig_station_index(l->rig, req->argv[1])) == -1) {
		control_finish(c, 2, "teach: no station '%s' in rig %s", req->argv[1],
		    l->rig->name);
		return;
	}
	if (run_busy(l->run) || home_busy(l->home)) {
		control_finish(c, 1, "teach refused: %s; teach when idle", run_busy(l->run) ?
		    "a batch is running or the rig is going to its safe state" :
		    "homing is under way");
		return;
	}
	if (teach_axis_ok(l, c, l->rig->transfer, "transfer") == -1 ||
	    (surface && teach_axis_ok(l, c, l->rig->lift, "lift") == -1))
		return;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		control_finish(c, 1, "teach: out of memory");
		return;
	}
	t->l = l;
	t->client = c;
	t->station = station;
	t->want_surface = surface;
	axes[n++] = l->rig->transfer;
	if (surface)
		axes[n++] = l->rig->lift;
	control_watch(c, teach_watch, t);
	for (i = 0; i < n; i++) {
		struct hw_request r = { axes[i], HW_STATUS, 0, 0, 0, 0, HW_WHOLE };
		if (hw_submit(l->hw, &r, teach_read, t, err, sizeof(err)) == 0) {
			t->pending++;
			continue;
		}
		if (t->error[0] == '\0')
			snprintf(t->error, sizeof(t->error), "axis '%s': %s",
			    l->rig->devices[axes[i]].name, err);
	}
	if (t->pending == 0) {
		teach_answer(t);
		free(t);
		return;
	}
	teach_pending++;
}

void
teach_reload(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	char err[600];

	if (req->argc != 1) {
		control_finish(c, 2, "usage: reload");
		return;
	}
	if (teach_pending > 0) {
		control_finish(c, 1, "reload refused: a teach is reading the axes; try again in a "
		    "moment");
		return;
	}
	if (home_busy(l->home)) {
		control_finish(c, 1, "reload refused: homing is under way ('lblctl status'); "
		    "reload once it ends");
		return;
	}
	if (lbld_reload(l, err, sizeof(err)) == -1) {
		control_finish(c, 1, "reload: %s", err);
		return;
	}
	control_out(c, "reloaded rig %s (%zu devices, %zu stations) from %s; recorded as rig "
	    "text %lld", l->rig->name, l->rig->device_count, l->rig->station_count, l->rig_path,
	    (long long)l->rig_id);
	control_finish(c, 0, " ");
}
