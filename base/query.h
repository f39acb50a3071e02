/*
 * What a query of the batch record may ask, checked in one place for
 * lblctl (which refuses a mistake before it connects) and lbld (which
 * refuses it from any client): batch state names, dates and row limits.
 * Dates are read in local time unless told UTC, and each stands for a span
 * — a day, a minute, a second or a millisecond, as precise as it was
 * written — so "--until 2026-12-01" can take in the whole of that day.
 */
#ifndef LBL_QUERY_H
#define LBL_QUERY_H

#include <stddef.h>
#include <stdint.h>

/*
 * The states a batch can be recorded in, NULL-terminated. db/db.c's table
 * definition (CHECK on batches.state) lists the same names; a state added
 * there is added here.
 */
extern const char *const query_batch_states[];

/*
 * Whether text is a batch state: 0, or -1 with why (the value and every
 * valid state) written to why (size bytes). Never fails otherwise.
 */
int query_check_state(const char *text, char *why, size_t size);

/* A span of time in milliseconds since the epoch (UTC): [from_ms, to_ms). */
struct query_span {
	int64_t from_ms;
	int64_t to_ms;
};

/*
 * Reads a date as a user writes it: "today", "yesterday" (the calendar
 * days around now_s, seconds since the epoch), "2026-12-01",
 * "2026-12-01T14:00", "2026-12-01T14:00:05" or "2026-12-01T14:00:05.250"
 * (a space may stand for the T). Local time unless utc is set or the text
 * ends with "Z" (the record's own stamps do). The span is the whole of
 * what was written: the day, the minute, the second or the millisecond.
 * Returns 0, or -1 with why (naming text and the accepted forms) when it
 * is not a date or not one that exists (2026-02-30, 25:00).
 */
int query_parse_when(const char *text, int utc, int64_t now_s, struct query_span *span,
    char *why, size_t size);

/*
 * ms (since the epoch) as the record stamps time: "2026-12-01T13:00:00.000Z"
 * (UTC, 25 bytes with the NUL). Returns 0, or -1 when size is too small or
 * the time cannot be shown (buf is then empty).
 */
int query_format_stamp(int64_t ms, char *buf, size_t size);

/*
 * A row limit: a whole number from 1 to INT_MAX. Returns 0 with *limit, or
 * -1 with why naming text.
 */
int query_parse_limit(const char *text, int *limit, char *why, size_t size);

/*
 * A record stamp ("2026-12-01T13:00:00.123Z") for a table: "2026-12-01
 * 14:00:00" in local time, or in UTC when utc is set. A stamp that does not
 * read as one is copied as it is (never dropped); NULL gives "-".
 */
void query_show_stamp(const char *stamp, int utc, char *buf, size_t size);

#endif
