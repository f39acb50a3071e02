/*
 * Commissioning through lbld: 'teach' reads the axes where they stand, so
 * a station's position comes from the drive as lbld sees it, and 'reload'
 * re-reads the rig file once lblctl has edited it.
 *
 * lbld does not write the rig file itself: it runs as user lbl, which may
 * read /etc/lbl but not write it, and the operator who teaches edits the
 * file as they would by hand (lblctl teach, client/ctl_teach.c, through
 * hw/rig/rig_edit.c), then asks for the reload. Nothing here blocks: the
 * reads go through devread.c (poll priority, a deadline, a reload seen).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "devread.h"
#include "hw.h"
#include "lbld.h"
#include "log.h"
#include "text.h"

/* One teach request: what it reads, and who asked. */
struct teach {
	struct lbld *l;
	struct control_client *client;	/* NULL once the client went away */
	int station;
	int want_surface;
};

static void
teach_watch(void *arg, struct control_client *client, enum control_event event)
{
	struct teach *t = arg;

	(void)client;
	if (event == CONTROL_GONE)
		t->client = NULL;
}

/*
 * Why an axis's read cannot be taught, or NULL: no answer, no position,
 * an alarm (a drive in alarm may have lost its position).
 */
static const char *
teach_bad_read(const struct hw_result *res, int reached, char *why, size_t size,
    const char *name)
{
	if (!reached)
		snprintf(why, size, "axis '%s' did not answer in time", name);
	else if (!res->ok)
		snprintf(why, size, "reading axis '%s': %s", name, res->error);
	else if (isnan(res->position_mm))
		snprintf(why, size, "axis '%s' did not report its position", name);
	else if (res->alarm == 1)
		snprintf(why, size, "axis '%s' is in alarm: its position is not to be trusted "
		    "('lblctl hw' shows it)", name);
	else
		return NULL;
	return why;
}

/* The reads are in: the client hears the positions, or why there are none. */
static void
teach_reads_done(void *arg, const struct hw_result *res, const int *reached)
{
	struct teach *t = arg;
	const struct rig *rig = t->l->rig;
	char path[PATH_MAX], why[400];
	const char *bad = NULL;

	if (t->client == NULL) {
		free(t);
		return;
	}
	control_watch(t->client, NULL, NULL);
	if (res == NULL)
		bad = "the rig file was reloaded during the reads; teach again";
	else if ((bad = teach_bad_read(&res[rig->transfer], reached[rig->transfer], why,
	    sizeof(why), rig->devices[rig->transfer].name)) == NULL && t->want_surface)
		bad = teach_bad_read(&res[rig->lift], reached[rig->lift], why, sizeof(why),
		    rig->devices[rig->lift].name);
	if (bad != NULL) {
		if (res == NULL)
			control_finish(t->client, 1, "teach: %s", bad);
		else
			control_finish(t->client, 1, "teach %s: %s", rig->stations[t->station].name,
			    bad);
		free(t);
		return;
	}
	/* lblctl edits the file lbld reads, from wherever it is run */
	control_out(t->client, "rig %s", realpath(t->l->rig_path, path) != NULL ? path :
	    t->l->rig_path);
	control_out(t->client, "station %s", rig->stations[t->station].name);
	control_out(t->client, "x %.3f", res[rig->transfer].position_mm);
	if (t->want_surface)
		control_out(t->client, "surface_z %.3f", res[rig->lift].position_mm);
	control_finish(t->client, 0, " ");
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
	unsigned char *want;
	char err[300];
	int station, surface = 0, i;

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
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (want = calloc(l->rig->device_count + 1, 1)) == NULL) {
		free(t);
		control_finish(c, 1, "teach: out of memory");
		return;
	}
	t->l = l;
	t->client = c;
	t->station = station;
	t->want_surface = surface;
	want[l->rig->transfer] = 1;
	if (surface)
		want[l->rig->lift] = 1;
	control_watch(c, teach_watch, t);
	if (devread_start(l, want, teach_reads_done, t, err, sizeof(err)) == -1) {
		control_watch(c, NULL, NULL);
		control_finish(c, 1, "teach: %s", err);
		free(t);
	}
	free(want);
}

void
teach_reload(struct lbld *l, struct control_client *c, const struct control_request *req)
{
	char err[600];

	if (req->argc != 1) {
		control_finish(c, 2, "usage: reload");
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
	control_out(c, "reloaded rig %s (%zu %s, %zu %s) from %s; recorded as rig "
	    "text %lld", l->rig->name, l->rig->device_count,
	    text_plural((long long)l->rig->device_count, "device", "devices"),
	    l->rig->station_count, text_plural((long long)l->rig->station_count, "station",
	    "stations"), l->rig_path,
	    (long long)l->rig_id);
	control_finish(c, 0, " ");
}
