/*
 * Checks of what a query of the batch record asks. See query.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query.h"

const char *const query_batch_states[] = {
	"running", "paused", "completed", "aborted", "failed", "interrupted", NULL
};

#define QUERY_DATE_FORMS "today, yesterday, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"

int
query_check_state(const char *text, char *why, size_t size)
{
	size_t i, len;

	for (i = 0; query_batch_states[i] != NULL; i++)
		if (strcmp(text, query_batch_states[i]) == 0)
			return 0;
	len = (size_t)snprintf(why, size, "no batch state '%s' (the states: ", text);
	for (i = 0; query_batch_states[i] != NULL && len < size; i++)
		len += (size_t)snprintf(why + len, size - len, "%s%s", i ? ", " : "",
		    query_batch_states[i]);
	if (len < size)
		snprintf(why + len, size - len, ")");
	return -1;
}

/* Exactly n decimal digits at *p, moved past them: 0, or -1. */
static int
query_digits(const char **p, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int
query_days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/*
 * The calendar time tm as seconds since the epoch, in UTC or local time
 * (fields out of range are carried, as mktime does). With exact, a local
 * time that does not exist (the hour skipped when clocks go forward) is
 * -1; so is one mktime cannot represent.
 */
static int
query_make_time(const struct tm *tm, int utc, int exact, int64_t *s)
{
	struct tm t = *tm, back;
	time_t v;

	t.tm_isdst = -1;
	v = utc ? timegm(&t) : mktime(&t);
	if (v == (time_t)-1)
		return -1;
	if (!utc && exact) {
		/* mktime moves a time in the gap to one that exists: that is not what was asked */
		if (localtime_r(&v, &back) == NULL || back.tm_hour != tm->tm_hour ||
		    back.tm_min != tm->tm_min || back.tm_mday != tm->tm_mday)
			return -1;
	}
	*s = (int64_t)v;
	return 0;
}

/* The whole calendar day of tm (its time of day ignored) as a span. */
static int
query_day_span(struct tm tm, int utc, struct query_span *span)
{
	int64_t from, to;

	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (query_make_time(&tm, utc, 0, &from) == -1)
		return -1;
	/* the next midnight, not 24 h on: a day when clocks change is 23 or 25 h long */
	tm.tm_mday++;
	if (query_make_time(&tm, utc, 0, &to) == -1)
		return -1;
	span->from_ms = from * 1000;
	span->to_ms = to * 1000;
	return 0;
}

int
query_parse_when(const char *text, int utc, int64_t now_s, struct query_span *span,
    char *why, size_t size)
{
	const char *p = text;
	struct tm tm;
	int year, month, day, hour = 0, min = 0, sec = 0, ms = 0, unit_ms, digits;
	int64_t s;

	memset(&tm, 0, sizeof(tm));
	if (strcmp(text, "today") == 0 || strcmp(text, "yesterday") == 0) {
		time_t now = (time_t)now_s;

		if ((utc ? gmtime_r(&now, &tm) : localtime_r(&now, &tm)) == NULL)
			goto bad;
		if (text[0] == 'y')
			tm.tm_mday--;
		if (query_day_span(tm, utc, span) == -1)
			goto bad;
		return 0;
	}
	if (query_digits(&p, 4, &year) == -1 || *p++ != '-' ||
	    query_digits(&p, 2, &month) == -1 || *p++ != '-' ||
	    query_digits(&p, 2, &day) == -1)
		goto bad;
	if (year < 1970 || month < 1 || month > 12 || day < 1 ||
	    day > query_days_in_month(year, month)) {
		snprintf(why, size, "'%s' is no day of the calendar", text);
		return -1;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	if (*p == '\0') {
		if (query_day_span(tm, utc, span) == -1)
			goto missing;
		return 0;
	}
	if ((*p != 'T' && *p != ' ') || (p++, query_digits(&p, 2, &hour)) == -1 ||
	    *p++ != ':' || query_digits(&p, 2, &min) == -1)
		goto bad;
	unit_ms = 60000;
	if (*p == ':') {
		p++;
		if (query_digits(&p, 2, &sec) == -1)
			goto bad;
		unit_ms = 1000;
		if (*p == '.') {
			p++;
			for (digits = 0; digits < 3 && *p >= '0' && *p <= '9'; digits++, p++) {
				ms = ms * 10 + (*p - '0');
				unit_ms /= 10;
			}
			if (digits == 0)
				goto bad;
			for (; digits < 3; digits++)
				ms *= 10;
		}
	}
	if (*p == 'Z') {
		utc = 1;
		p++;
	}
	if (*p != '\0')
		goto bad;
	if (hour > 23 || min > 59 || sec > 59) {
		snprintf(why, size, "'%s' is no time of day", text);
		return -1;
	}
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	if (query_make_time(&tm, utc, 1, &s) == -1)
		goto missing;
	span->from_ms = s * 1000 + ms;
	span->to_ms = span->from_ms + unit_ms;
	return 0;
missing:
	snprintf(why, size, "'%s' does not exist in %s", text, utc ? "UTC" : "local time");
	return -1;
bad:
	snprintf(why, size, "expected a date (" QUERY_DATE_FORMS ", local time unless --utc), "
	    "not '%s'", text);
	return -1;
}

int
query_format_stamp(int64_t ms, char *buf, size_t size)
{
	time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	size_t len;

	if (size > 0)
		buf[0] = '\0';
	if (size < 25 || gmtime_r(&s, &tm) == NULL)
		return -1;
	len = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (len == 0 || len + 6 > size) {
		buf[0] = '\0';
		return -1;
	}
	snprintf(buf + len, size - len, ".%03dZ", (int)(ms - (int64_t)s * 1000));
	return 0;
}

int
query_parse_limit(const char *text, int *limit, char *why, size_t size)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < 1 ||
	    v > INT_MAX) {
		snprintf(why, size, "expected a whole number from 1 to %d, not '%s'", INT_MAX,
		    text);
		return -1;
	}
	*limit = (int)v;
	return 0;
}

void
query_show_stamp(const char *stamp, int utc, char *buf, size_t size)
{
	struct query_span span;
	struct tm tm;
	char why[160];
	time_t s;

	if (stamp == NULL) {
		snprintf(buf, size, "-");
		return;
	}
	if (query_parse_when(stamp, 1, 0, &span, why, sizeof(why)) == -1) {
		snprintf(buf, size, "%s", stamp);
		return;
	}
	s = (time_t)(span.from_ms / 1000);
	if ((utc ? gmtime_r(&s, &tm) : localtime_r(&s, &tm)) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "%s", stamp);
}
