#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

struct unit_name {
	const char *name;
	double factor;		/* multiply to get the canonical unit */
};

/* Tables end with a NULL name. The first entry is the canonical unit. */
static const struct unit_name units_length[] = {
	{ "mm", 1 }, { "cm", 10 }, { "m", 1000 }, { "um", 1e-3 }, { "µm", 1e-3 }, { NULL, 0 } };
static const struct unit_name units_speed[] = {
	{ "mm/s", 1 }, { "mm/min", 1 / 60.0 }, { "cm/s", 10 }, { "cm/min", 10 / 60.0 },
	{ "m/min", 1000 / 60.0 }, { "m/s", 1000 }, { "um/s", 1e-3 }, { NULL, 0 } };
static const struct unit_name units_accel[] = {
	{ "mm/s2", 1 }, { "mm/s^2", 1 }, { "mm/s²", 1 }, { "m/s2", 1000 }, { "m/s^2", 1000 },
	{ "m/s²", 1000 }, { NULL, 0 } };
static const struct unit_name units_flow[] = {
	{ "mL/min", 1 }, { "ml/min", 1 }, { "mL/s", 60 }, { "ml/s", 60 }, { "mL/h", 1 / 60.0 },
	{ "ml/h", 1 / 60.0 }, { "uL/min", 1e-3 }, { "µL/min", 1e-3 }, { "uL/s", 0.06 },
	{ "µL/s", 0.06 }, { "L/min", 1000 }, { "L/h", 1000 / 60.0 }, { NULL, 0 } };
static const struct unit_name units_volume[] = {
	{ "mL", 1 }, { "ml", 1 }, { "uL", 1e-3 }, { "µL", 1e-3 }, { "L", 1000 }, { NULL, 0 } };
static const struct unit_name units_area[] = {
	{ "cm2", 1 }, { "cm²", 1 }, { "mm2", 0.01 }, { "mm²", 0.01 }, { "m2", 1e4 },
	{ "m²", 1e4 }, { NULL, 0 } };
static const struct unit_name units_thickness[] = {
	{ "nm", 1 }, { "um", 1000 }, { "µm", 1000 }, { "A", 0.1 }, { "Å", 0.1 }, { NULL, 0 } };
static const struct unit_name units_frequency[] = {
	{ "Hz", 1 }, { "kHz", 1e3 }, { "MHz", 1e6 }, { NULL, 0 } };
static const struct unit_name units_rotation[] = {
	{ "rpm", 1 }, { NULL, 0 } };
static const struct unit_name units_density[] = {
	{ "g/cm3", 1 }, { "g/cm³", 1 }, { "g/mL", 1 }, { "kg/m3", 1e-3 }, { NULL, 0 } };
static const struct unit_name units_temperature[] = {
	{ "C", 1 }, { "°C", 1 }, { "degC", 1 }, { NULL, 0 } };
static const struct unit_name units_pressure[] = {
	{ "kPa", 1 }, { "Pa", 1e-3 }, { "bar", 100 }, { "mbar", 0.1 }, { "psi", 6.894757 },
	{ NULL, 0 } };

static const struct {
	const struct unit_name *names;
	const char *expected;
} units_kinds[UNIT_KIND_COUNT] = {
	[UNIT_LENGTH_MM] = { units_length, "a length such as 40 mm (units: mm, cm, m, um)" },
	[UNIT_SPEED_MM_S] = { units_speed,
	    "a speed such as 10 mm/s (units: mm/s, mm/min, cm/s, m/min, m/s)" },
	[UNIT_ACCEL_MM_S2] = { units_accel, "an acceleration such as 200 mm/s2 (units: mm/s2, m/s2)" },
	[UNIT_FLOW_ML_MIN] = { units_flow,
	    "a flow such as 20 mL/min (units: mL/min, mL/s, mL/h, uL/s, uL/min, L/min)" },
	[UNIT_VOLUME_ML] = { units_volume, "a volume such as 250 mL (units: mL, uL, L)" },
	[UNIT_AREA_CM2] = { units_area, "an area such as 25 cm2 (units: cm2, mm2, m2)" },
	[UNIT_THICKNESS_NM] = { units_thickness, "a thickness such as 39 nm (units: nm, um, A)" },
	[UNIT_FREQUENCY_HZ] = { units_frequency, "a frequency such as 5 MHz (units: Hz, kHz, MHz)" },
	[UNIT_ROTATION_RPM] = { units_rotation, "a rotation speed such as 60 rpm" },
	[UNIT_DENSITY_G_CM3] = { units_density,
	    "a density such as 1.2 g/cm3 (units: g/cm3, g/mL, kg/m3)" },
	[UNIT_TEMPERATURE_C] = { units_temperature, "a temperature such as 25 C" },
	[UNIT_PRESSURE_KPA] = { units_pressure,
	    "a pressure such as 200 kPa (units: kPa, Pa, bar, mbar, psi)" },
};

const char *
units_expected(enum unit_kind kind)
{
	return units_kinds[kind].expected;
}

/*
 * Reads a plain decimal number (no hex, inf or nan, which strtod would
 * accept) from *p and advances *p past it. Returns 0 or -1.
 */
static int
units_number(const char **p, double *out)
{
	const char *s = *p;
	char *end;
	int digits = 0;

	if (*s == '+' || *s == '-')
		s++;
	while (isdigit((unsigned char)*s) || *s == '.') {
		digits += isdigit((unsigned char)*s) != 0;
		s++;
	}
	if (digits == 0)
		return -1;
	if ((*s == 'e' || *s == 'E') && (isdigit((unsigned char)s[1]) ||
	    ((s[1] == '-' || s[1] == '+') && isdigit((unsigned char)s[2])))) {
		s += 2;
		while (isdigit((unsigned char)*s))
			s++;
	}
	*out = strtod(*p, &end);
	if (end != s || !isfinite(*out))
		return -1;
	*p = s;
	return 0;
}

int
units_parse(const char *text, enum unit_kind kind, double *out, const char **why)
{
	const struct unit_name *u;
	const char *p = text;
	double number;

	while (*p == ' ')
		p++;
	if (units_number(&p, &number) == -1) {
		*why = "not a number with a unit";
		return -1;
	}
	while (*p == ' ')
		p++;
	if (*p == '\0') {
		*why = "a bare number needs a unit";
		return -1;
	}
	for (u = units_kinds[kind].names; u->name != NULL; u++) {
		if (strcmp(p, u->name) == 0) {
			*out = number * u->factor;
			return 0;
		}
	}
	*why = "unknown unit";
	return -1;
}

int
units_parse_duration(const char *text, int64_t *out_ms, const char **why)
{
	static const struct unit_name parts[] = {
		{ "h", 3600e3 }, { "min", 60e3 }, { "m", 60e3 }, { "s", 1e3 }, { "ms", 1 },
		{ NULL, 0 } };
	const char *p = text;
	double total_ms = 0, number;
	int last_rank = -1, n_parts = 0;

	while (*p == ' ')
		p++;
	if (*p == '-') {
		*why = "a duration cannot be negative";
		return -1;
	}
	while (*p != '\0') {
		size_t len = 0;
		int rank, best = -1;

		if (units_number(&p, &number) == -1) {
			*why = "not a duration";
			return -1;
		}
		while (*p == ' ')
			p++;
		/* longest matching unit name, so "min" wins over "m" and "ms" over "m" */
		for (rank = 0; parts[rank].name != NULL; rank++) {
			size_t n = strlen(parts[rank].name);
			if (strncmp(p, parts[rank].name, n) == 0 && n > len &&
			    !isalpha((unsigned char)p[n])) {
				len = n;
				best = rank;
			}
		}
		if (best == -1) {
			*why = *p == '\0' ? "a bare number needs a unit (s, min, h or ms)" :
			    "unknown duration unit (use h, min, s or ms)";
			return -1;
		}
		/* "m" and "min" are the same rank */
		rank = best == 2 ? 1 : best;
		if (rank <= last_rank) {
			*why = "duration parts must run from hours down to milliseconds";
			return -1;
		}
		last_rank = rank;
		total_ms += number * parts[best].factor;
		p += len;
		n_parts++;
		while (*p == ' ')
			p++;
	}
	if (n_parts == 0) {
		*why = "not a duration";
		return -1;
	}
	if (total_ms > 366.0 * 24 * 3600e3) {
		*why = "a duration longer than a year";
		return -1;
	}
	if (llround(total_ms) <= 0) {
		*why = "a duration must be longer than zero";
		return -1;
	}
	*out_ms = llround(total_ms);
	return 0;
}

char *
units_format_duration(int64_t ms, char *buf, int size)
{
	int64_t h = ms / 3600000, m = ms / 60000 % 60, s_ms = ms % 60000;

	if (h > 0)
		snprintf(buf, size, "%lldh%02lldm%02llds", (long long)h, (long long)m,
		    (long long)(s_ms / 1000));
	else if (m > 0)
		snprintf(buf, size, "%lldm%02llds", (long long)m, (long long)(s_ms / 1000));
	else if (s_ms % 1000 == 0)
		snprintf(buf, size, "%llds", (long long)(s_ms / 1000));
	else
		snprintf(buf, size, "%.3gs", s_ms / 1000.0);
	return buf;
}
