/*
 * Film thickness from a sensor's reading: the QCM's physics (Sauerbrey)
 * and the gauge and absorbance conversions. Pure: no I/O, no state; the
 * executor keeps each QCM's baseline and hands it in.
 */
#ifndef LBL_THICKNESS_H
#define LBL_THICKNESS_H

#include <stddef.h>

#include "recipe.h"

/*
 * Sauerbrey: a rigid film's thickness (nm) from the drop of a crystal's
 * frequency (delta_f_hz = reading - baseline, negative as mass is added)
 * on a crystal resonating at f0_hz bare, for a film of density_g_cm3.
 * The areal mass per Hz of drop is sqrt(rho_q mu_q) / (2 f0^2). Returns
 * NaN when f0_hz or the density is not positive.
 */
double thickness_sauerbrey_nm(double delta_f_hz, double f0_hz, double density_g_cm3);

/*
 * The thickness a measure step's reading gives, by the step's method:
 * sauerbrey from baseline_hz (the bare crystal's frequency; NaN when none
 * is known), gauge as read (nm), absorbance times nm_per_absorbance.
 * Returns 0 with *nm, or -1 with why when the reading gives no thickness:
 * a sauerbrey measure without a baseline, or a result that is not finite.
 * A baseline step (src->baseline) is no thickness either: the caller keeps
 * its reading as the baseline instead.
 */
int thickness_of_reading(const struct recipe_step *src, double reading, double baseline_hz,
    double *nm, char *why, size_t why_size);

#endif
