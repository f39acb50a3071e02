/*
 * The libgpiod backend this build was compiled with (v1 or v2), through the
 * public gpio interface and the real library, without the simulation: a
 * line on a chip that does not exist is refused with a message naming the
 * line and the chip, returns no handle, and leaves nothing open (ASan
 * builds check for leaks at exit). This is what can be run without GPIO
 * hardware; test_gpio_v2 covers the rest of the v2 backend against a fake
 * libgpiod.
 */
#include <stdlib.h>

#include "gpio.h"
#include "test.h"

/* No real chip is named or labelled like this. */
#define NO_CHIP "lbl-test-no-such-chip"

static void
test_missing_chip_input(void)
{
	struct rig_gpio cfg = { NO_CHIP, "GPIO27", 1, 1, 2 };
	struct gpio_line *line = (struct gpio_line *)&cfg;	/* must be reset */
	char err[256] = "";

	TEST_EQ_INT("input-missing-chip-refused",
	    gpio_open_input(&cfg, "lbl-test", &line, err, sizeof(err)), -1);
	TEST_CHECK("input-missing-chip-no-handle", line == NULL, "handle returned");
	TEST_CONTAINS("input-missing-chip-names-line", err, "GPIO " NO_CHIP "/GPIO27:");
	TEST_CONTAINS("input-missing-chip-names-chip", err, "no chip named or labelled '"
	    NO_CHIP "'");
}

static void
test_missing_chip_output(void)
{
	struct rig_gpio cfg = { NO_CHIP, "GPIO17", 0, 0, 0 };
	struct gpio_line *line = (struct gpio_line *)&cfg;
	char err[256] = "";

	TEST_EQ_INT("output-missing-chip-refused",
	    gpio_open_output(&cfg, "lbl-test", 0, &line, err, sizeof(err)), -1);
	TEST_CHECK("output-missing-chip-no-handle", line == NULL, "handle returned");
	TEST_CONTAINS("output-missing-chip-names-line", err, "GPIO " NO_CHIP "/GPIO17:");
	TEST_CONTAINS("output-missing-chip-names-chip", err, "'" NO_CHIP "'");
}

/* Many failed opens: a leak or an fd left open per attempt would show. */
static void
test_repeated_failures(void)
{
	struct rig_gpio cfg = { NO_CHIP, "GPIO5", 0, 0, 0 };
	struct gpio_line *line;
	char err[256];
	int i, refused = 0;

	for (i = 0; i < 200; i++)
		if (gpio_open_input(&cfg, "lbl-test", &line, err, sizeof(err)) == -1 &&
		    line == NULL)
			refused++;
	TEST_EQ_INT("missing-chip-refused-every-time", refused, 200);
}

static void
test_empty_names(void)
{
	struct rig_gpio no_chip = { "", "GPIO5", 0, 0, 0 };
	struct rig_gpio no_line = { NO_CHIP, NULL, 0, 0, 0 };
	struct gpio_line *line;
	char err[256] = "";

	TEST_EQ_INT("empty-chip-refused",
	    gpio_open_input(&no_chip, "lbl-test", &line, err, sizeof(err)), -1);
	TEST_CONTAINS("empty-chip-message", err, "needs a chip and a line name");
	err[0] = '\0';
	TEST_EQ_INT("null-line-refused",
	    gpio_open_output(&no_line, "lbl-test", 0, &line, err, sizeof(err)), -1);
	TEST_CONTAINS("null-line-message", err, "needs a chip and a line name");
}

int
main(void)
{
	test_missing_chip_input();
	test_missing_chip_output();
	test_repeated_failures();
	test_empty_names();
	return TEST_DONE();
}
