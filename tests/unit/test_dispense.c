/* A pump's counted volume against the plan (daemon/dispense.c dispense_check). */
#include <stdlib.h>

#include "dispense.h"
#include "test.h"

int
main(void)
{
	char why[320];
	double ml;

	TEST_EQ_INT("counted as planned", dispense_check("p", 5.0, 10.0, 15.0, INFINITY, 10, &ml,
	    why, sizeof(why)), 0);
	TEST_NEAR("counted 5 mL", ml, 5.0, 1e-12);
	TEST_EQ_INT("a little more is fine", dispense_check("p", 5.0, 0, 5.4, INFINITY, 10, &ml,
	    why, sizeof(why)), 0);
	TEST_EQ_INT("at the tolerance's edge: 4.5 of 5 with 10%", dispense_check("p", 5.0, 0,
	    4.5, INFINITY, 10, &ml, why, sizeof(why)), 0);
	/* the case: stopped 3 s into a 10 s spray of 30 mL/min */
	TEST_EQ_INT("stopped from outside: 1.5 of 5 mL fails", dispense_check("pump-rinse", 5.0,
	    20.0, 21.5, INFINITY, 10, &ml, why, sizeof(why)), -1);
	TEST_NEAR("stopped: what it counted is kept", ml, 1.5, 1e-12);
	TEST_CONTAINS("stopped: pump and figures named", why, "pump 'pump-rinse' dispensed 1.50 mL "
	    "of 5.00 mL planned by its own counter (20.000 to 21.500 mL), short by more than its "
	    "tolerance of 10%");
	TEST_EQ_INT("just short of the tolerance fails", dispense_check("p", 5.0, 0, 4.49,
	    INFINITY, 10, &ml, why, sizeof(why)), -1);
	TEST_EQ_INT("a wider tolerance passes it", dispense_check("p", 5.0, 0, 4.49, INFINITY, 20,
	    &ml, why, sizeof(why)), 0);
	/* a uint32 counter in µL wraps at 4294.967296 mL */
	TEST_EQ_INT("a wrapped counter is counted through", dispense_check("p", 5.0, 4292.0, 2.0,
	    4294.967296, 10, &ml, why, sizeof(why)), 0);
	TEST_NEAR("wrapped: 4.967 mL", ml, 4.967296, 1e-9);
	TEST_EQ_INT("a counter that went back without a wrap is an error", dispense_check("p",
	    5.0, 20.0, 3.0, INFINITY, 10, &ml, why, sizeof(why)), -1);
	TEST_CONTAINS("went back: named", why, "pump 'p''s volume counter went back from 20.000 "
	    "to 3.000 mL");
	TEST_CHECK("went back: no volume", isnan(ml), "%g", ml);
	TEST_EQ_INT("a NaN reading is no volume", dispense_check("p", 5.0, NAN, 3.0, INFINITY, 10,
	    &ml, why, sizeof(why)), -1);
	return TEST_DONE();
}
