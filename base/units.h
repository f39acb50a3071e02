/*
 * Physical quantities with explicit units. Every value is converted to one
 * canonical unit per kind, named in the enum, so the rest of lbl never sees
 * a unit string again.
 */
#ifndef LBL_UNITS_H
#define LBL_UNITS_H

#include <stdint.h>

enum unit_kind {
	UNIT_LENGTH_MM,
	UNIT_SPEED_MM_S,
	UNIT_ACCEL_MM_S2,
	UNIT_FLOW_ML_MIN,
	UNIT_VOLUME_ML,
	UNIT_AREA_CM2,
	UNIT_THICKNESS_NM,
	UNIT_FREQUENCY_HZ,
	UNIT_ROTATION_RPM,
	UNIT_DENSITY_G_CM3,
	UNIT_TEMPERATURE_C,
	UNIT_PRESSURE_KPA,
	UNIT_KIND_COUNT
};

/*
 * Parses "12.5 mm/s" (space optional) into the kind's canonical unit.
 * Returns 0, or -1 with *why pointing at a static explanation.
 */
int units_parse(const char *text, enum unit_kind kind, double *out, const char **why);

/*
 * Parses a duration such as "90s", "1.5s", "250ms", "10min" or "1h30m" into
 * milliseconds (rounded to the nearest ms). Zero and negative durations are
 * refused. Returns 0, or -1 with *why set.
 */
int units_parse_duration(const char *text, int64_t *out_ms, const char **why);

/* A phrase for error messages: "a length such as 40 mm". */
const char *units_expected(enum unit_kind kind);

/* Formats ms as "1h02m03.5s" style text into buf; returns buf. */
char *units_format_duration(int64_t ms, char *buf, int size);

#endif
