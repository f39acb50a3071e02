/*
 * GPIO through libgpiod 1.x (Debian 12, Raspberry Pi OS bookworm).
 *
 * Chips are found by name ("gpiochip0") or label ("pinctrl-bcm2711") by
 * walking every chip, never by number: numbers move between kernels. The
 * kernel applies active-low (the ACTIVE_LOW request flag), so values here
 * are logical. v1 has no kernel debounce; gpio.c debounces in software.
 */
#include <errno.h>
#include <gpiod.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio_private.h"

struct gpio_dev {
	struct gpiod_chip *chip;
	struct gpiod_line *line;
};

/* Opens the chip whose name or label is name, or returns NULL (errno set). */
static struct gpiod_chip *
gpio_dev_find_chip(const char *name)
{
	struct gpiod_chip_iter *iter;
	struct gpiod_chip *chip, *found = NULL;

	if ((iter = gpiod_chip_iter_new()) == NULL)
		return NULL;
	gpiod_foreach_chip_noclose(iter, chip) {
		if (found == NULL && (strcmp(gpiod_chip_name(chip), name) == 0 ||
		    strcmp(gpiod_chip_label(chip), name) == 0))
			found = chip;
		else
			gpiod_chip_close(chip);
	}
	gpiod_chip_iter_free_noclose(iter);
	if (found == NULL)
		errno = ENODEV;
	return found;
}

static int
gpio_dev_flags(const struct gpio_line *line, const struct rig_gpio *cfg)
{
	int flags = line->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;

	switch (cfg->bias) {
	case 1: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP; break;
	case 2: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN; break;
	case 3: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE; break;
	default: break;
	}
	return flags;
}

int
gpio_dev_open(struct gpio_line *line, const struct rig_gpio *cfg, const char *consumer,
    int initial, char *err, size_t err_size)
{
	static struct gpio_dev dev_zero;
	struct gpio_dev *dev;
	int rc;

	if ((dev = malloc(sizeof(*dev))) == NULL) {
		snprintf(err, err_size, "GPIO %s: %s", line->name, strerror(errno));
		return -1;
	}
	*dev = dev_zero;
	line->backend = dev;
	if ((dev->chip = gpio_dev_find_chip(cfg->chip)) == NULL) {
		snprintf(err, err_size, "GPIO %s: no chip named or labelled '%s': %s",
		    line->name, cfg->chip, strerror(errno));
		goto fail;
	}
	if ((dev->line = gpiod_chip_find_line(dev->chip, cfg->line)) == NULL) {
		snprintf(err, err_size, "GPIO %s: chip '%s' has no line named '%s'",
		    line->name, cfg->chip, cfg->line);
		goto fail;
	}
	if (line->is_output)
		rc = gpiod_line_request_output_flags(dev->line, consumer,
		    gpio_dev_flags(line, cfg), initial);
	else
		rc = gpiod_line_request_both_edges_events_flags(dev->line, consumer,
		    gpio_dev_flags(line, cfg));
	if (rc == -1) {
		snprintf(err, err_size, "GPIO %s: cannot request the line%s: %s", line->name,
		    errno == EBUSY ? " (another program holds it)" : "", strerror(errno));
		goto fail;
	}
	if (!line->is_output && (line->fd = gpiod_line_event_get_fd(dev->line)) == -1) {
		snprintf(err, err_size, "GPIO %s: no event fd: %s", line->name, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	gpio_dev_close(line);
	return -1;
}

int
gpio_dev_set(struct gpio_line *line, int active)
{
	struct gpio_dev *dev = line->backend;

	return gpiod_line_set_value(dev->line, active);
}

int
gpio_dev_get(struct gpio_line *line, int *active)
{
	struct gpio_dev *dev = line->backend;
	int value;

	if ((value = gpiod_line_get_value(dev->line)) == -1)
		return -1;
	*active = value;
	return 0;
}

int
gpio_dev_events(struct gpio_line *line, int *active)
{
	struct gpio_dev *dev = line->backend;
	struct gpiod_line_event events[16];
	struct pollfd pfd = { line->fd, POLLIN, 0 };
	int n, total = 0;

	/* gpiod_line_event_read_multiple() blocks when nothing is pending */
	while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
		if ((n = gpiod_line_event_read_multiple(dev->line, events, 16)) == -1)
			return -1;
		total += n;
	}
	/* the level now, not the last event's edge: events may have been dropped */
	if (gpio_dev_get(line, active) == -1)
		return -1;
	return total;
}

void
gpio_dev_close(struct gpio_line *line)
{
	struct gpio_dev *dev = line->backend;

	if (dev == NULL)
		return;
	if (dev->line != NULL)
		gpiod_line_release(dev->line);
	if (dev->chip != NULL)
		gpiod_chip_close(dev->chip);
	free(dev);
	line->backend = NULL;
	line->fd = -1;
}
