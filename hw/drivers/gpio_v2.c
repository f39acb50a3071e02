/*
 * GPIO through libgpiod 2.x (Debian 13, Raspberry Pi OS trixie; bookworm-
 * backports has 2.1).
 *
 * v2 requests lines through settings -> line config -> request; a request
 * owns the event fd. Chips are found by name or label by walking
 * /dev/gpiochip*, never by number. The kernel applies active-low and bias,
 * so values here are logical.
 *
 * Debounce stays in gpio.c, as with v1, although v2 could ask the kernel for
 * it (set_debounce_period_us): the kernel's debouncer waits for the line to
 * be stable for the whole period before it reports any edge, so an e-stop
 * press would arrive debounce_ms late, and gpio.c promises that a change to
 * active is reported at once. Both backends thus behave the same.
 */
#include <dirent.h>
#include <errno.h>
#include <gpiod.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio_private.h"

/* events read per call; the kernel queues 16 per line by default */
#define GPIO_DEV_EVENTS 16

struct gpio_dev {
	struct gpiod_chip *chip;
	struct gpiod_line_request *request;
	struct gpiod_edge_event_buffer *events;
	unsigned int offset;
};

/*
 * Opens the chip whose name or label is name, or returns NULL (errno set).
 * A chip that cannot be opened or asked for its info is skipped, but its
 * error is what errno says if no chip matches: the usual reason for "not
 * found" is a chip we may not open (EACCES: not in the gpio group), and
 * ENODEV would hide that. v1's chip iterator reports such errors too.
 */
static struct gpiod_chip *
gpio_dev_find_chip(const char *name)
{
	struct dirent *entry;
	struct gpiod_chip *chip, *found = NULL;
	struct gpiod_chip_info *info;
	char path[300];
	DIR *dir;
	int skipped_errno = 0;

	if ((dir = opendir("/dev")) == NULL)
		return NULL;
	while (found == NULL && (entry = readdir(dir)) != NULL) {
		if (strncmp(entry->d_name, "gpiochip", 8) != 0)
			continue;
		if (snprintf(path, sizeof(path), "/dev/%s", entry->d_name) >= (int)sizeof(path))
			continue;
		if ((chip = gpiod_chip_open(path)) == NULL) {
			skipped_errno = errno;
			continue;
		}
		if ((info = gpiod_chip_get_info(chip)) == NULL) {
			skipped_errno = errno;
		} else {
			if (strcmp(gpiod_chip_info_get_name(info), name) == 0 ||
			    strcmp(gpiod_chip_info_get_label(info), name) == 0)
				found = chip;
			gpiod_chip_info_free(info);
		}
		if (found == NULL)
			gpiod_chip_close(chip);
	}
	closedir(dir);
	if (found == NULL)
		errno = skipped_errno != 0 ? skipped_errno : ENODEV;
	return found;
}

/* Fills settings for line; returns 0 or -1 (errno set). */
static int
gpio_dev_settings(struct gpiod_line_settings *settings, const struct gpio_line *line,
    const struct rig_gpio *cfg, int initial)
{
	/* indexed by rig_gpio.bias: 0 as-is, 1 pull-up, 2 pull-down, 3 disabled */
	static const enum gpiod_line_bias biases[] = { GPIOD_LINE_BIAS_AS_IS,
		GPIOD_LINE_BIAS_PULL_UP, GPIOD_LINE_BIAS_PULL_DOWN, GPIOD_LINE_BIAS_DISABLED };

	gpiod_line_settings_set_active_low(settings, line->active_low != 0);
	if (cfg->bias >= 0 && cfg->bias <= 3 &&
	    gpiod_line_settings_set_bias(settings, biases[cfg->bias]) == -1)
		return -1;
	if (line->is_output) {
		/* the value is driven as the line is requested, so it never glitches */
		if (gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_OUTPUT) == -1 ||
		    gpiod_line_settings_set_output_value(settings, initial ?
		    GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) == -1)
			return -1;
		return 0;
	}
	if (gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_INPUT) == -1 ||
	    gpiod_line_settings_set_edge_detection(settings, GPIOD_LINE_EDGE_BOTH) == -1)
		return -1;
	return 0;
}

/* Requests the line at dev->offset; returns the request or NULL (errno set). */
static struct gpiod_line_request *
gpio_dev_request(const struct gpio_line *line, struct gpio_dev *dev, const struct rig_gpio *cfg,
    const char *consumer, int initial)
{
	struct gpiod_line_settings *settings;
	struct gpiod_line_config *line_cfg = NULL;
	struct gpiod_request_config *req_cfg = NULL;
	struct gpiod_line_request *request = NULL;
	int saved_errno;

	if ((settings = gpiod_line_settings_new()) == NULL)
		return NULL;
	if (gpio_dev_settings(settings, line, cfg, initial) == -1 ||
	    (line_cfg = gpiod_line_config_new()) == NULL ||
	    (req_cfg = gpiod_request_config_new()) == NULL ||
	    gpiod_line_config_add_line_settings(line_cfg, &dev->offset, 1, settings) == -1)
		goto out;
	/* 2.1 copies the consumer with strncpy(): NULL would crash */
	if (consumer != NULL)
		gpiod_request_config_set_consumer(req_cfg, consumer);
	request = gpiod_chip_request_lines(dev->chip, req_cfg, line_cfg);
out:
	/* the caller's message reports errno, which the frees must not change */
	saved_errno = errno;
	/* older 2.x gpiod_line_config_free() dereferences NULL (2.1.3 checks) */
	if (req_cfg != NULL)
		gpiod_request_config_free(req_cfg);
	if (line_cfg != NULL)
		gpiod_line_config_free(line_cfg);
	gpiod_line_settings_free(settings);
	errno = saved_errno;
	return request;
}

int
gpio_dev_open(struct gpio_line *line, const struct rig_gpio *cfg, const char *consumer,
    int initial, char *err, size_t err_size)
{
	struct gpio_dev *dev;
	int offset;

	if ((dev = calloc(1, sizeof(*dev))) == NULL) {
		snprintf(err, err_size, "GPIO %s: %s", line->name, strerror(errno));
		return -1;
	}
	line->backend = dev;
	if ((dev->chip = gpio_dev_find_chip(cfg->chip)) == NULL) {
		snprintf(err, err_size, "GPIO %s: no chip named or labelled '%s': %s",
		    line->name, cfg->chip, strerror(errno));
		goto fail;
	}
	if ((offset = gpiod_chip_get_line_offset_from_name(dev->chip, cfg->line)) < 0) {
		/* ENOENT is "no such line"; anything else is the chip failing */
		if (errno == ENOENT)
			snprintf(err, err_size, "GPIO %s: chip '%s' has no line named '%s'",
			    line->name, cfg->chip, cfg->line);
		else
			snprintf(err, err_size, "GPIO %s: cannot look up line '%s' on chip '%s': %s",
			    line->name, cfg->line, cfg->chip, strerror(errno));
		goto fail;
	}
	dev->offset = (unsigned int)offset;
	if ((dev->request = gpio_dev_request(line, dev, cfg, consumer, initial)) == NULL) {
		snprintf(err, err_size, "GPIO %s: cannot request the line%s: %s", line->name,
		    errno == EBUSY ? " (another program holds it)" : "", strerror(errno));
		goto fail;
	}
	if (!line->is_output) {
		if ((dev->events = gpiod_edge_event_buffer_new(GPIO_DEV_EVENTS)) == NULL) {
			snprintf(err, err_size, "GPIO %s: %s", line->name, strerror(errno));
			goto fail;
		}
		if ((line->fd = gpiod_line_request_get_fd(dev->request)) == -1) {
			snprintf(err, err_size, "GPIO %s: no event fd: %s", line->name,
			    strerror(errno));
			goto fail;
		}
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

	return gpiod_line_request_set_value(dev->request, dev->offset, active ?
	    GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE);
}

int
gpio_dev_get(struct gpio_line *line, int *active)
{
	struct gpio_dev *dev = line->backend;
	enum gpiod_line_value value;

	value = gpiod_line_request_get_value(dev->request, dev->offset);
	if (value == GPIOD_LINE_VALUE_ERROR)
		return -1;
	*active = value == GPIOD_LINE_VALUE_ACTIVE;
	return 0;
}

int
gpio_dev_events(struct gpio_line *line, int *active)
{
	struct gpio_dev *dev = line->backend;
	struct pollfd pfd = { line->fd, POLLIN, 0 };
	int n, total = 0;

	/* read_edge_events() blocks when nothing is pending */
	while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
		if ((n = gpiod_line_request_read_edge_events(dev->request, dev->events,
		    GPIO_DEV_EVENTS)) == -1)
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
	if (dev->events != NULL)
		gpiod_edge_event_buffer_free(dev->events);
	if (dev->request != NULL)
		gpiod_line_request_release(dev->request);
	if (dev->chip != NULL)
		gpiod_chip_close(dev->chip);
	free(dev);
	line->backend = NULL;
	line->fd = -1;
}
