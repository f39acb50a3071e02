/* Film thickness from readings (daemon/thickness.c): Sauerbrey, gauge, absorbance. */
#include <stdlib.h>

#include "test.h"
#include "thickness.h"

static void
test_sauerbrey(void)
{
	/* the textbook figure: at 5 MHz, 17.7 ng/cm2 per Hz; at density 1, 0.177 nm */
	TEST_NEAR("5 MHz: 1 Hz drop is 0.177 nm at 1 g/cm3", thickness_sauerbrey_nm(-1, 5e6, 1),
	    0.1767, 0.0005);
	TEST_NEAR("thickness is linear in the drop", thickness_sauerbrey_nm(-100, 5e6, 1),
	    100 * thickness_sauerbrey_nm(-1, 5e6, 1), 1e-9);
	TEST_NEAR("and inverse in density", thickness_sauerbrey_nm(-100, 5e6, 2),
	    thickness_sauerbrey_nm(-100, 5e6, 1) / 2, 1e-9);
	TEST_NEAR("and in f0 squared: 10 MHz gives a quarter", thickness_sauerbrey_nm(-100, 10e6, 1),
	    thickness_sauerbrey_nm(-100, 5e6, 1) / 4, 1e-9);
	TEST_NEAR("no drop, no film", thickness_sauerbrey_nm(0, 5e6, 1), 0, 0);
	TEST_CHECK("a rise reads negative (mass lost)", thickness_sauerbrey_nm(10, 5e6, 1) < 0,
	    "%g", thickness_sauerbrey_nm(10, 5e6, 1));
	TEST_CHECK("no f0, no thickness", isnan(thickness_sauerbrey_nm(-1, 0, 1)), "a number");
	TEST_CHECK("no density, no thickness", isnan(thickness_sauerbrey_nm(-1, 5e6, 0)),
	    "a number");
}

/* The readings of one crystal, bilayer by bilayer, against one baseline. */
static void
test_series(void)
{
	struct recipe_step qcm = { .kind = STEP_MEASURE, .sensor = "qcm",
		.method = MEASURE_SAUERBREY, .film_density_g_cm3 = 1.5 };
	double f0 = 4999870.0, per_bilayer_hz = -55.0, nm, prev = 0;
	char why[200];
	int n, rising = 1;

	/*
	 * The old executor took the first reading of a run as the bare crystal:
	 * each reading after a resume read 0. From a baseline that is kept, the
	 * series grows with every bilayer.
	 */
	for (n = 1; n <= 5; n++) {
		if (thickness_of_reading(&qcm, f0 + n * per_bilayer_hz, f0, &nm, why,
		    sizeof(why)) == -1 || !(nm > prev))
			rising = 0;
		prev = nm;
	}
	TEST_CHECK("five bilayers from one baseline: each thicker", rising, "stopped at %d", n);
	TEST_NEAR("the fifth: five times the first", prev,
	    5 * thickness_sauerbrey_nm(per_bilayer_hz, f0, 1.5), 1e-9);
	TEST_EQ_INT("no baseline: no thickness", thickness_of_reading(&qcm, f0, NAN, &nm, why,
	    sizeof(why)), -1);
	TEST_CONTAINS("no baseline: named", why, "sensor 'qcm' has no baseline");
	TEST_CHECK("no baseline: nm is NaN", isnan(nm), "%g", nm);
	qcm.baseline = 1;
	TEST_EQ_INT("a baseline step gives no thickness", thickness_of_reading(&qcm, f0, f0, &nm,
	    why, sizeof(why)), -1);
}

static void
test_other_methods(void)
{
	struct recipe_step gauge = { .kind = STEP_MEASURE, .sensor = "gauge",
		.method = MEASURE_GAUGE };
	struct recipe_step abs = { .kind = STEP_MEASURE, .sensor = "uvvis",
		.method = MEASURE_ABSORBANCE, .nm_per_absorbance = 250 };
	char why[200];
	double nm;

	TEST_EQ_INT("gauge: as read", thickness_of_reading(&gauge, 39.0, NAN, &nm, why,
	    sizeof(why)), 0);
	TEST_NEAR("gauge: 39 nm", nm, 39.0, 0);
	TEST_EQ_INT("absorbance: calibrated", thickness_of_reading(&abs, 0.2, NAN, &nm, why,
	    sizeof(why)), 0);
	TEST_NEAR("absorbance: 0.2 x 250 nm", nm, 50.0, 1e-12);
	TEST_EQ_INT("gauge: infinity is no thickness", thickness_of_reading(&gauge, INFINITY, NAN,
	    &nm, why, sizeof(why)), -1);
	TEST_CONTAINS("gauge: infinity named", why, "sensor 'gauge' read inf");
}

int
main(void)
{
	test_sauerbrey();
	test_series();
	test_other_methods();
	return TEST_DONE();
}
