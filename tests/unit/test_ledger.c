/*
 * The executor's commit groups (daemon/ledger.c), against a fake record:
 * each boundary is one group (one begin, one commit) holding its writes in
 * order, and a write refused anywhere in it (or a failed commit) makes the
 * whole boundary fail with the lost write named.
 */
#include <math.h>
#include <stdlib.h>

#include "ledger.c"
#include "test.h"

/* ---- the fake record: a log of calls, and the call that fails ---- */

static char calls[2048];
static int call_count, fail_at, fail_commit, groups_begun, groups_committed, in_group;

static int
fake(const char *what)
{
	snprintf(calls + strlen(calls), sizeof(calls) - strlen(calls), "%s%s",
	    calls[0] ? " " : "", what);
	return ++call_count == fail_at ? -1 : 0;
}

int
record_step_begin(struct record *rec, int64_t batch_id, const struct db_step *row)
{
	(void)rec; (void)batch_id; (void)row;
	return fake(in_group ? "begin" : "BEGIN-OUTSIDE");
}

int
record_step_end(struct record *rec, int64_t batch_id, int seq, int64_t actual_start_ms,
    int64_t duration_ms, int64_t motion_ms, int64_t dwell_ms, const char *outcome)
{
	(void)rec; (void)batch_id; (void)seq; (void)actual_start_ms; (void)duration_ms;
	(void)motion_ms; (void)dwell_ms; (void)outcome;
	return fake(in_group ? "end" : "END-OUTSIDE");
}

int
record_bilayer(struct record *rec, int64_t batch_id, int n, double estimated_nm,
    double measured_nm)
{
	(void)rec; (void)batch_id; (void)n; (void)estimated_nm; (void)measured_nm;
	return fake("bilayer");
}

int
record_event(struct record *rec, int64_t batch_id, const char *kind, const char *device,
    const char *message)
{
	(void)rec; (void)batch_id; (void)device; (void)message;
	return fake(kind);
}

int
record_state(struct record *rec, int64_t batch_id, const char *state, const char *cause)
{
	(void)rec; (void)batch_id; (void)cause;
	return fake(state);
}

int
record_solution(struct record *rec, int64_t batch_id, const char *name, const char *lot,
    int dips, double volume_ml, double area_cm2)
{
	(void)rec; (void)batch_id; (void)lot; (void)dips; (void)volume_ml; (void)area_cm2;
	return fake(name);
}

int
record_step_volume(struct record *rec, int64_t batch_id, int seq, double planned_ml,
    double measured_ml)
{
	(void)rec; (void)batch_id; (void)seq; (void)planned_ml; (void)measured_ml;
	return fake(in_group ? "volume" : "VOLUME-OUTSIDE");
}

int
record_baseline(struct record *rec, int64_t batch_id, const char *sensor, double hz,
    const char *source)
{
	(void)rec; (void)batch_id; (void)sensor; (void)hz; (void)source;
	return fake(in_group ? "baseline" : "BASELINE-OUTSIDE");
}

void
record_group_begin(struct record *rec)
{
	(void)rec;
	groups_begun++;
	in_group = 1;
}

int
record_group_commit(struct record *rec, char *why, size_t why_size)
{
	(void)rec;
	groups_committed++;
	in_group = 0;
	if (fail_commit) {
		snprintf(why, why_size, "the database did not commit 3 writes: disk full");
		return -1;
	}
	return 0;
}

static void
reset(int fail_call, int fail_the_commit)
{
	calls[0] = '\0';
	call_count = groups_begun = groups_committed = in_group = 0;
	fail_at = fail_call;
	fail_commit = fail_the_commit;
}

static void
test_boundaries(void)
{
	struct ledger_step_end end = { 7, 1, 100, 200, 50, 150, "done" };
	struct ledger_bilayer bl = { 2, 15.6, NAN };
	struct ledger_solution sols[2] = { { "ag", "L1", 3, 0.15, 24 }, { "tca", NULL, 3, 0.15, 24 } };
	struct ledger_event ev[2] = { { "info", NULL, "target reached" }, { "info", NULL, "done" } };
	struct db_step next = { 0 };
	char why[320];

	next.seq = 8;
	reset(0, 0);
	TEST_EQ_INT("step boundary: on record", ledger_step_boundary(NULL, 1, &end, &bl, ev, 1,
	    &next, 1, why, sizeof(why)), 0);
	TEST_STR("step boundary: end, bilayer, event, next start, in order", calls,
	    "end bilayer info begin");
	TEST_CHECK("step boundary: one group", groups_begun == 1 && groups_committed == 1,
	    "%d begun, %d committed", groups_begun, groups_committed);
	{
		/* a set and the step sharing its moment: both starts, in order, one group */
		struct db_step pair[2] = { { 0 }, { 0 } };

		pair[0].seq = 8;
		pair[1].seq = 9;
		reset(0, 0);
		TEST_EQ_INT("step boundary: two starts on record", ledger_step_boundary(NULL, 1,
		    &end, NULL, NULL, 0, pair, 2, why, sizeof(why)), 0);
		TEST_STR("step boundary: the end, then both starts", calls, "end begin begin");
		TEST_CHECK("step boundary: two starts, one group", groups_begun == 1 &&
		    groups_committed == 1, "%d begun, %d committed", groups_begun,
		    groups_committed);
		reset(3, 0);
		TEST_EQ_INT("step boundary: the second start refused fails it",
		    ledger_step_boundary(NULL, 1, &end, NULL, NULL, 0, pair, 2, why, sizeof(why)),
		    -1);
		TEST_CONTAINS("step boundary: naming it", why, "the start of step 9");
	}

	reset(4, 0);
	TEST_EQ_INT("step boundary: the next start refused fails it", ledger_step_boundary(NULL,
	    1, &end, &bl, ev, 1, &next, 1, why, sizeof(why)), -1);
	TEST_CONTAINS("step boundary: the lost write is named", why, "the start of step 8");
	TEST_CHECK("step boundary: the group is still closed", groups_committed == 1 && !in_group,
	    "%d committed", groups_committed);

	reset(0, 0);
	TEST_EQ_INT("batch end: on record", ledger_batch_end(NULL, 1, &end, &bl, sols, 2,
	    "completed", NULL, ev, 2, why, sizeof(why)), 0);
	TEST_STR("batch end: end, bilayer, solutions, state, events", calls,
	    "end bilayer ag tca completed info info");

	/* a lost "completed" must not go unnoticed */
	reset(5, 0);
	TEST_EQ_INT("batch end: a refused state fails it", ledger_batch_end(NULL, 1, &end, &bl,
	    sols, 2, "completed", NULL, ev, 2, why, sizeof(why)), -1);
	TEST_CONTAINS("batch end: names the state", why, "the state completed of batch 1");

	reset(0, 1);
	TEST_EQ_INT("batch end: a failed commit fails it", ledger_batch_end(NULL, 1, NULL, NULL,
	    sols, 2, "failed", "x", ev, 1, why, sizeof(why)), -1);
	TEST_CONTAINS("batch end: the commit's reason", why, "disk full");

	reset(0, 0);
	TEST_EQ_INT("pause: on record", ledger_pause(NULL, 1, &end, NULL, ev + 1, 1, why,
	    sizeof(why)), 0);
	TEST_STR("pause: end, paused, event", calls, "end paused info");
	reset(0, 0);
	TEST_EQ_INT("resume: on record", ledger_resume(NULL, 1, ev, why, sizeof(why)), 0);
	TEST_STR("resume: running, event", calls, "running info");
	reset(1, 0);
	TEST_EQ_INT("resume: a refused state fails it", ledger_resume(NULL, 1, ev, why,
	    sizeof(why)), -1);
	reset(0, 0);
	TEST_EQ_INT("batch start: on record", ledger_batch_start(NULL, 1, sols, 2, ev, why,
	    sizeof(why)), 0);
	TEST_STR("batch start: solutions, event", calls, "ag tca info");
	reset(2, 0);
	TEST_EQ_INT("batch start: a refused solution fails it", ledger_batch_start(NULL, 1, sols,
	    2, ev, why, sizeof(why)), -1);
	TEST_CONTAINS("batch start: names the solution", why, "the use of solution tca");
	reset(1, 0);
	TEST_EQ_INT("event: a refused event fails it", ledger_event(NULL, 3, ev, why,
	    sizeof(why)), -1);
	TEST_CHECK("every call is one group", groups_begun == 1 && groups_committed == 1,
	    "%d/%d", groups_begun, groups_committed);
}

/* What a step's pumps counted goes with its end; a QCM baseline with its event. */
static void
test_devices(void)
{
	struct ledger_step_end end = { 7, 1, 100, 200, 50, 150, "done", 1, 5.0, 4.9 };
	struct ledger_event ev = { "info", "qcm", "baseline of sensor 'qcm'" };
	struct db_step next = { 0 };
	char why[320];

	next.seq = 8;
	reset(0, 0);
	TEST_EQ_INT("counted step: on record", ledger_step_boundary(NULL, 1, &end, NULL, NULL, 0,
	    &next, 1, why, sizeof(why)), 0);
	TEST_STR("counted step: end, volume, next start, one group", calls, "end volume begin");
	reset(2, 0);
	TEST_EQ_INT("counted step: a refused volume fails the boundary", ledger_step_boundary(NULL,
	    1, &end, NULL, NULL, 0, &next, 1, why, sizeof(why)), -1);
	TEST_CONTAINS("counted step: names the lost volume", why,
	    "the volume dispensed in step 7 of batch 1");
	reset(0, 0);
	TEST_EQ_INT("failed counted step: on record", ledger_batch_end(NULL, 1, &end, NULL, NULL, 0,
	    "failed", "pump short", &ev, 1, why, sizeof(why)), 0);
	TEST_STR("failed counted step: the volume with the batch's end", calls,
	    "end volume failed info");
	end.has_volume = 0;
	reset(0, 0);
	ledger_step_boundary(NULL, 1, &end, NULL, NULL, 0, NULL, 0, why, sizeof(why));
	TEST_STR("uncounted step: no volume written", calls, "end");

	reset(0, 0);
	TEST_EQ_INT("baseline: on record", ledger_baseline(NULL, 1, "qcm", 4998000, "f0", &ev, why,
	    sizeof(why)), 0);
	TEST_STR("baseline: the baseline and its event, one group", calls, "baseline info");
	TEST_CHECK("baseline: one group", groups_begun == 1 && groups_committed == 1, "%d/%d",
	    groups_begun, groups_committed);
	reset(1, 0);
	TEST_EQ_INT("baseline: a refused baseline fails it", ledger_baseline(NULL, 1, "qcm",
	    4998000, "f0", &ev, why, sizeof(why)), -1);
	TEST_CONTAINS("baseline: names the sensor", why, "the baseline of sensor qcm of batch 1");
}

int
main(void)
{
	test_boundaries();
	test_devices();
	return TEST_DONE();
}
