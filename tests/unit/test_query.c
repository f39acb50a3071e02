/*
 * What a query of the batch record may ask (base/query.c): dates as users
 * write them, in local time (TZ set here to a zone with summer time, so
 * the offset and the days of 23 and 25 hours are exercised) or UTC, each
 * read as the span it names; the record's own stamps read back exactly;
 * state names and limits refused with the value named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query.h"
#include "test.h"

/* 2026-12-01T00:00:00Z in seconds since the epoch. */
#define DEC1_UTC	1796083200LL

static int
parse(const char *text, int utc, int64_t now_s, struct query_span *span, char *why)
{
	return query_parse_when(text, utc, now_s, span, why, 300);
}

int
main(void)
{
	struct query_span sp;
	char why[300], buf[64];
	int limit, rc;
	int64_t now;

	/* Central European time: UTC+1 in winter, +2 in summer */
	if (setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1) != 0)
		return 1;
	tzset();

	rc = parse("2026-12-01", 1, 0, &sp, why);
	TEST_CHECK("UTC day: from midnight", rc == 0 && sp.from_ms == DEC1_UTC * 1000, "%d %lld %s",
	    rc, (long long)sp.from_ms, why);
	TEST_EQ_INT("UTC day: 24 h long", sp.to_ms - sp.from_ms, 86400000);
	rc = parse("2026-12-01", 0, 0, &sp, why);
	TEST_CHECK("local day: from local midnight (23:00 UTC the day before)",
	    rc == 0 && sp.from_ms == (DEC1_UTC - 3600) * 1000, "%d %lld", rc, (long long)sp.from_ms);
	TEST_EQ_INT("local day: the whole day", sp.to_ms - sp.from_ms, 86400000);
	rc = parse("2026-03-29", 0, 0, &sp, why);
	TEST_CHECK("local day when clocks go forward: 23 h", rc == 0 &&
	    sp.to_ms - sp.from_ms == 23 * 3600000LL, "%d %lld", rc,
	    (long long)(sp.to_ms - sp.from_ms));
	rc = parse("2026-10-25", 0, 0, &sp, why);
	TEST_CHECK("local day when clocks go back: 25 h", rc == 0 &&
	    sp.to_ms - sp.from_ms == 25 * 3600000LL, "%d %lld", rc,
	    (long long)(sp.to_ms - sp.from_ms));
	rc = parse("2026-12-01T14:00", 0, 0, &sp, why);
	TEST_CHECK("local minute: 14:00 CET is 13:00 UTC, a minute long", rc == 0 &&
	    sp.from_ms == (DEC1_UTC + 13 * 3600) * 1000 && sp.to_ms - sp.from_ms == 60000,
	    "%d %lld %lld", rc, (long long)sp.from_ms, (long long)sp.to_ms);
	rc = parse("2026-12-01 14:00:05", 1, 0, &sp, why);
	TEST_CHECK("UTC second with a space for the T: a second long", rc == 0 &&
	    sp.from_ms == (DEC1_UTC + 14 * 3600 + 5) * 1000 && sp.to_ms - sp.from_ms == 1000,
	    "%d %lld", rc, (long long)sp.from_ms);
	rc = parse("2026-12-01T13:00:00.250Z", 0, 0, &sp, why);
	TEST_CHECK("a record stamp (Z) is UTC whatever the flag, a millisecond long", rc == 0 &&
	    sp.from_ms == (DEC1_UTC + 13 * 3600) * 1000 + 250 && sp.to_ms - sp.from_ms == 1,
	    "%d %lld", rc, (long long)sp.from_ms);
	rc = query_format_stamp((DEC1_UTC + 13 * 3600) * 1000 + 250, buf, sizeof(buf));
	TEST_STR("stamp: as the record writes it", rc == 0 ? buf : NULL,
	    "2026-12-01T13:00:00.250Z");
	rc = query_format_stamp(sp.to_ms - 1, buf, sizeof(buf)) == 0 &&
	    parse(buf, 0, 0, &sp, why) == 0;
	TEST_CHECK("stamp: reads back as the same millisecond", rc &&
	    sp.from_ms == (DEC1_UTC + 13 * 3600) * 1000 + 250, "%s", buf);

	now = DEC1_UTC + 12 * 3600;		/* noon UTC, 13:00 CET, on December 1 */
	rc = parse("today", 0, now, &sp, why);
	TEST_CHECK("today: the local day of now", rc == 0 &&
	    sp.from_ms == (DEC1_UTC - 3600) * 1000 && sp.to_ms == (DEC1_UTC + 23 * 3600) * 1000,
	    "%d %lld", rc, (long long)sp.from_ms);
	rc = parse("yesterday", 1, now, &sp, why);
	TEST_CHECK("yesterday, UTC: November 30", rc == 0 &&
	    sp.from_ms == (DEC1_UTC - 86400) * 1000 && sp.to_ms == DEC1_UTC * 1000, "%d %lld",
	    rc, (long long)sp.from_ms);
	rc = parse("yesterday", 0, DEC1_UTC - 1800 + 3600, &sp, why);	/* 00:30 CET Dec 1 */
	TEST_CHECK("yesterday across a month's end, local: November 30", rc == 0 &&
	    sp.from_ms == (DEC1_UTC - 86400 - 3600) * 1000, "%d %lld", rc,
	    (long long)sp.from_ms);

	rc = parse("tomorrow", 0, now, &sp, why);
	TEST_CHECK("a word that is no date: refused, named", rc == -1 &&
	    strstr(why, "'tomorrow'") != NULL && strstr(why, "YYYY-MM-DD") != NULL, "%s", why);
	rc = parse("2026-02-30", 0, now, &sp, why);
	TEST_CHECK("February 30: refused, named", rc == -1 && strstr(why, "'2026-02-30'"), "%s",
	    why);
	rc = parse("2028-02-29", 1, now, &sp, why);
	TEST_EQ_INT("February 29 of a leap year: accepted", rc, 0);
	rc = parse("2026-12-01T25:00", 0, now, &sp, why);
	TEST_CHECK("25:00: refused", rc == -1 && strstr(why, "'2026-12-01T25:00'"), "%s", why);
	rc = parse("2026-03-29T02:30", 0, now, &sp, why);
	TEST_CHECK("a local time the clocks skip: refused", rc == -1 &&
	    strstr(why, "does not exist"), "%d %s", rc, why);
	rc = parse("2026-03-29T02:30", 1, now, &sp, why);
	TEST_EQ_INT("the same time in UTC: accepted", rc, 0);
	rc = parse("2026-12-1", 0, now, &sp, why);
	TEST_EQ_INT("a day of one digit: refused", rc, -1);
	rc = parse("2026-12-01T14", 0, now, &sp, why);
	TEST_EQ_INT("an hour without minutes: refused", rc, -1);
	rc = parse("2026-12-01x", 0, now, &sp, why);
	TEST_EQ_INT("trailing text: refused", rc, -1);
	rc = parse("", 0, now, &sp, why);
	TEST_EQ_INT("empty: refused", rc, -1);

	TEST_EQ_INT("state: completed", query_check_state("completed", why, sizeof(why)), 0);
	rc = query_check_state("runing", why, sizeof(why));
	TEST_CHECK("state: a typo refused, naming it and the valid states", rc == -1 &&
	    strstr(why, "'runing'") && strstr(why, "running, paused, completed, aborted, failed, "
	    "interrupted"), "%s", why);
	rc = query_parse_limit("5", &limit, why, sizeof(why));
	TEST_CHECK("limit: 5", rc == 0 && limit == 5, "%d %d", rc, limit);
	TEST_EQ_INT("limit: x refused", query_parse_limit("x", &limit, why, sizeof(why)), -1);
	TEST_CONTAINS("limit: the value named", why, "'x'");
	TEST_EQ_INT("limit: -3 refused", query_parse_limit("-3", &limit, why, sizeof(why)), -1);
	TEST_EQ_INT("limit: 0 refused", query_parse_limit("0", &limit, why, sizeof(why)), -1);
	TEST_EQ_INT("limit: 5x refused", query_parse_limit("5x", &limit, why, sizeof(why)), -1);
	TEST_EQ_INT("limit: past INT_MAX refused", query_parse_limit("99999999999", &limit, why,
	    sizeof(why)), -1);

	query_show_stamp("2026-12-01T13:00:00.250Z", 0, buf, sizeof(buf));
	TEST_STR("shown: local time", buf, "2026-12-01 14:00:00");
	query_show_stamp("2026-12-01T13:00:00.250Z", 1, buf, sizeof(buf));
	TEST_STR("shown: UTC", buf, "2026-12-01 13:00:00");
	query_show_stamp("garbled", 0, buf, sizeof(buf));
	TEST_STR("shown: a stamp that does not read is kept as it is", buf, "garbled");
	query_show_stamp(NULL, 0, buf, sizeof(buf));
	TEST_STR("shown: none is -", buf, "-");
	return TEST_DONE();
}
