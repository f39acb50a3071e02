/*
 * Film thickness from a sensor's reading. See thickness.h.
 */
#include <math.h>
#include <stdio.h>

#include "thickness.h"

/* Quartz, AT cut: density (g/cm3) and shear modulus (g/(cm s2)). */
#define THICKNESS_QUARTZ_DENSITY_G_CM3	2.648
#define THICKNESS_QUARTZ_SHEAR_G_CM_S2	2.947e11

double
thickness_sauerbrey_nm(double delta_f_hz, double f0_hz, double density_g_cm3)
{
	double mass_g_cm2;

	if (!(f0_hz > 0) || !(density_g_cm3 > 0))
		return NAN;
	mass_g_cm2 = -delta_f_hz * sqrt(THICKNESS_QUARTZ_DENSITY_G_CM3 *
	    THICKNESS_QUARTZ_SHEAR_G_CM_S2) / (2 * f0_hz * f0_hz);
	return mass_g_cm2 / density_g_cm3 * 1e7;	/* cm -> nm */
}

int
thickness_of_reading(const struct recipe_step *src, double reading, double baseline_hz,
    double *nm, char *why, size_t why_size)
{
	*nm = NAN;
	switch (src->method) {
	case MEASURE_SAUERBREY:
		if (src->baseline) {
			snprintf(why, why_size, "a baseline reading is the bare crystal, no film");
			return -1;
		}
		if (!(baseline_hz > 0)) {
			snprintf(why, why_size, "sensor '%s' has no baseline (the bare crystal's "
			    "frequency: the rig file's f0 or a baseline measure step)",
			    src->sensor ? src->sensor : "?");
			return -1;
		}
		*nm = thickness_sauerbrey_nm(reading - baseline_hz, baseline_hz,
		    src->film_density_g_cm3);
		break;
	case MEASURE_GAUGE:
		*nm = reading;
		break;
	case MEASURE_ABSORBANCE:
		*nm = reading * src->nm_per_absorbance;
		break;
	}
	if (!isfinite(*nm)) {
		snprintf(why, why_size, "sensor '%s' read %.9g, which gives no finite thickness",
		    src->sensor ? src->sensor : "?", reading);
		*nm = NAN;
		return -1;
	}
	return 0;
}
