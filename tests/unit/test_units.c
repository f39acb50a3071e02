/* Units: durations and quantities, and the errors for bad ones. */
#include "units.h"
#include "test.h"

static void
duration_ok(const char *text, int64_t want_ms)
{
	const char *why = NULL;
	int64_t ms = -1;
	char name[64];

	snprintf(name, sizeof(name), "duration '%s'", text);
	TEST_CHECK(name, units_parse_duration(text, &ms, &why) == 0 && ms == want_ms,
	    "got %lld (%s), want %lld", (long long)ms, why ? why : "ok", (long long)want_ms);
}

static void
duration_bad(const char *text, const char *want_why)
{
	const char *why = "";
	int64_t ms;
	char name[64];

	snprintf(name, sizeof(name), "duration '%s' refused", text);
	TEST_CHECK(name, units_parse_duration(text, &ms, &why) == -1 && strstr(why, want_why),
	    "why='%s', want '%s'", why, want_why);
}

static void
quantity_ok(const char *text, enum unit_kind kind, double want)
{
	const char *why = NULL;
	double v = NAN;
	char name[64];

	snprintf(name, sizeof(name), "quantity '%s'", text);
	TEST_CHECK(name, units_parse(text, kind, &v, &why) == 0 && fabs(v - want) < 1e-9 * fabs(want)
	    + 1e-12, "got %.12g (%s), want %.12g", v, why ? why : "ok", want);
}

static void
quantity_bad(const char *text, enum unit_kind kind, const char *want_why)
{
	const char *why = "";
	double v;
	char name[64];

	snprintf(name, sizeof(name), "quantity '%s' refused", text);
	TEST_CHECK(name, units_parse(text, kind, &v, &why) == -1 && strstr(why, want_why),
	    "why='%s', want '%s'", why, want_why);
}

int
main(void)
{
	char buf[32];

	duration_ok("90s", 90000);
	duration_ok("10min", 600000);
	duration_ok("1h30m", 5400000);
	duration_ok("1h 30min", 5400000);
	duration_ok("1.5s", 1500);
	duration_ok("250ms", 250);
	duration_ok("2h", 7200000);
	duration_ok("1m30s", 90000);
	duration_ok("0.5min", 30000);
	duration_bad("90", "bare number");
	duration_bad("-5s", "negative");
	duration_bad("0s", "longer than zero");
	duration_bad("0.0001s", "longer than zero");
	duration_bad("5 fortnights", "unknown duration unit");
	duration_bad("30s1h", "from hours down");
	duration_bad("1h1h", "from hours down");
	duration_bad("", "not a duration");
	duration_bad("s", "not a duration");
	duration_bad("0x10s", "not a duration");
	duration_bad("nan s", "not a duration");
	duration_bad("9999h", "longer than a year");

	quantity_ok("10 mm/s", UNIT_SPEED_MM_S, 10);
	quantity_ok("0.5 m/min", UNIT_SPEED_MM_S, 500.0 / 60);
	quantity_ok("6 mm/min", UNIT_SPEED_MM_S, 0.1);
	quantity_ok("20 mL/min", UNIT_FLOW_ML_MIN, 20);
	quantity_ok("1 mL/s", UNIT_FLOW_ML_MIN, 60);
	quantity_ok("100 uL/s", UNIT_FLOW_ML_MIN, 6);
	quantity_ok("1.5 L", UNIT_VOLUME_ML, 1500);
	quantity_ok("250uL", UNIT_VOLUME_ML, 0.25);
	quantity_ok("25 cm2", UNIT_AREA_CM2, 25);
	quantity_ok("0.01 m2", UNIT_AREA_CM2, 100);
	quantity_ok("1.2 m", UNIT_LENGTH_MM, 1200);
	quantity_ok("-5 mm", UNIT_LENGTH_MM, -5);
	quantity_ok("5 MHz", UNIT_FREQUENCY_HZ, 5e6);
	quantity_ok("1.2 g/cm3", UNIT_DENSITY_G_CM3, 1.2);
	quantity_ok("2 bar", UNIT_PRESSURE_KPA, 200);
	quantity_ok("1e2 nm", UNIT_THICKNESS_NM, 100);
	quantity_bad("10", UNIT_SPEED_MM_S, "bare number");
	quantity_bad("10 mL/min", UNIT_SPEED_MM_S, "unknown unit");
	quantity_bad("fast", UNIT_SPEED_MM_S, "not a number");
	quantity_bad("inf mm", UNIT_LENGTH_MM, "not a number");
	quantity_bad("10 MM", UNIT_LENGTH_MM, "unknown unit");

	TEST_STR("format 1h02m03s", units_format_duration(3723000, buf, sizeof(buf)), "1h02m03s");
	TEST_STR("format 5m00s", units_format_duration(300000, buf, sizeof(buf)), "5m00s");
	TEST_STR("format 1.5s", units_format_duration(1500, buf, sizeof(buf)), "1.5s");
	TEST_STR("format 30s", units_format_duration(30000, buf, sizeof(buf)), "30s");
	return TEST_DONE();
}
