/*
 * The executor's writes to the batch record, one commit group per
 * boundary. See ledger.h.
 */
#include <stdio.h>

#include "ledger.h"
#include "record.h"
#include "text.h"

/* A boundary's writes as they go to the record, in this order. */
struct ledger_writes {
	const struct ledger_step_end *end;
	const struct ledger_bilayer *bilayer;
	const struct ledger_solution *sols;
	size_t sol_count;
	const char *state, *cause;
	const struct ledger_event *events;
	size_t event_count;
	const struct db_step *next;	/* next_count step starts */
	size_t next_count;
	const char *sensor, *source;	/* a QCM baseline, when sensor is not NULL */
	double baseline_hz;
};

/* Notes the first lost write in why; returns -1 so callers can chain it. */
static int
ledger_lost(char *why, size_t why_size, int *lost, const char *what, int64_t batch_id)
{
	if ((*lost)++ == 0 && why != NULL)
		text_format(why, why_size, "the database did not record %s of batch %lld", what,
		    (long long)batch_id);
	return -1;
}

/*
 * Begins the group, queues every write (each result checked), commits.
 * The commit's reason wins over a queueing failure's: it names the
 * database's problem.
 */
static int
ledger_write(struct record *rec, int64_t batch_id, const struct ledger_writes *w, char *why,
    size_t why_size)
{
	const struct ledger_step_end *e = w->end;
	char commit_why[320], what[96];
	int lost = 0;
	size_t i;

	if (why != NULL && why_size > 0)
		why[0] = '\0';
	record_group_begin(rec);
	if (e != NULL) {
		text_format(what, sizeof(what), "the end of step %d", e->seq);
		if ((e->started ? record_step_end(rec, batch_id, e->seq, e->actual_start_ms,
		    e->duration_ms, e->motion_ms, e->dwell_ms, e->outcome) :
		    record_step_end(rec, batch_id, e->seq, -1, 0, 0, 0, e->outcome)) == -1)
			ledger_lost(why, why_size, &lost, what, batch_id);
		text_format(what, sizeof(what), "the volume dispensed in step %d", e->seq);
		if (e->has_volume && record_step_volume(rec, batch_id, e->seq,
		    e->volume_planned_ml, e->volume_measured_ml) == -1)
			ledger_lost(why, why_size, &lost, what, batch_id);
	}
	if (w->bilayer != NULL) {
		text_format(what, sizeof(what), "bilayer %d", w->bilayer->n);
		if (record_bilayer(rec, batch_id, w->bilayer->n, w->bilayer->estimated_nm,
		    w->bilayer->measured_nm) == -1)
			ledger_lost(why, why_size, &lost, what, batch_id);
	}
	for (i = 0; i < w->sol_count; i++) {
		const struct ledger_solution *s = &w->sols[i];
		text_format(what, sizeof(what), "the use of solution %s", s->name);
		if (record_solution(rec, batch_id, s->name, s->lot, s->dips, s->volume_ml,
		    s->area_cm2) == -1)
			ledger_lost(why, why_size, &lost, what, batch_id);
	}
	if (w->sensor != NULL) {
		text_format(what, sizeof(what), "the baseline of sensor %s", w->sensor);
		if (record_baseline(rec, batch_id, w->sensor, w->baseline_hz, w->source) == -1)
			ledger_lost(why, why_size, &lost, what, batch_id);
	}
	if (w->state != NULL) {
		text_format(what, sizeof(what), "the state %s", w->state);
		if (record_state(rec, batch_id, w->state, w->cause) == -1)
			ledger_lost(why, why_size, &lost, what, batch_id);
	}
	for (i = 0; i < w->event_count; i++)
		if (record_event(rec, batch_id, w->events[i].kind, w->events[i].device,
		    w->events[i].message) == -1)
			ledger_lost(why, why_size, &lost, "an event", batch_id);
	for (i = 0; i < w->next_count; i++) {
		text_format(what, sizeof(what), "the start of step %d", w->next[i].seq);
		if (record_step_begin(rec, batch_id, &w->next[i]) == -1)
			ledger_lost(why, why_size, &lost, what, batch_id);
	}
	if (record_group_commit(rec, commit_why, sizeof(commit_why)) == -1) {
		if (why != NULL)
			text_format(why, why_size, "%s", commit_why);
		return -1;
	}
	return lost ? -1 : 0;
}

int
ledger_batch_start(struct record *rec, int64_t batch_id, const struct ledger_solution *sols,
    size_t sol_count, const struct ledger_event *started, char *why, size_t why_size)
{
	struct ledger_writes w = { 0 };

	w.sols = sols;
	w.sol_count = sol_count;
	w.events = started;
	w.event_count = started != NULL;
	return ledger_write(rec, batch_id, &w, why, why_size);
}

int
ledger_step_boundary(struct record *rec, int64_t batch_id, const struct ledger_step_end *end,
    const struct ledger_bilayer *bilayer, const struct ledger_event *events, size_t event_count,
    const struct db_step *next, size_t next_count, char *why, size_t why_size)
{
	struct ledger_writes w = { 0 };

	w.end = end;
	w.bilayer = bilayer;
	w.events = events;
	w.event_count = event_count;
	w.next = next;
	w.next_count = next != NULL ? next_count : 0;
	return ledger_write(rec, batch_id, &w, why, why_size);
}

int
ledger_batch_end(struct record *rec, int64_t batch_id, const struct ledger_step_end *end,
    const struct ledger_bilayer *bilayer, const struct ledger_solution *sols, size_t sol_count,
    const char *state, const char *cause, const struct ledger_event *events, size_t event_count,
    char *why, size_t why_size)
{
	struct ledger_writes w = { 0 };

	w.end = end;
	w.bilayer = bilayer;
	w.sols = sols;
	w.sol_count = sol_count;
	w.state = state;
	w.cause = cause;
	w.events = events;
	w.event_count = event_count;
	return ledger_write(rec, batch_id, &w, why, why_size);
}

int
ledger_pause(struct record *rec, int64_t batch_id, const struct ledger_step_end *end,
    const struct ledger_bilayer *bilayer, const struct ledger_event *events, size_t event_count,
    char *why, size_t why_size)
{
	struct ledger_writes w = { 0 };

	w.end = end;
	w.bilayer = bilayer;
	w.state = "paused";
	w.events = events;
	w.event_count = event_count;
	return ledger_write(rec, batch_id, &w, why, why_size);
}

int
ledger_resume(struct record *rec, int64_t batch_id, const struct ledger_event *event,
    char *why, size_t why_size)
{
	struct ledger_writes w = { 0 };

	w.state = "running";
	w.events = event;
	w.event_count = event != NULL;
	return ledger_write(rec, batch_id, &w, why, why_size);
}

int
ledger_baseline(struct record *rec, int64_t batch_id, const char *sensor, double hz,
    const char *source, const struct ledger_event *event, char *why, size_t why_size)
{
	struct ledger_writes w = { 0 };

	w.sensor = sensor;
	w.source = source;
	w.baseline_hz = hz;
	w.events = event;
	w.event_count = event != NULL;
	return ledger_write(rec, batch_id, &w, why, why_size);
}

int
ledger_event(struct record *rec, int64_t batch_id, const struct ledger_event *event,
    char *why, size_t why_size)
{
	struct ledger_writes w = { 0 };

	w.events = event;
	w.event_count = event != NULL;
	return ledger_write(rec, batch_id, &w, why, why_size);
}
