/*
 * GPIO through libgpiod 2.x (Debian 13, Raspberry Pi OS trixie; bookworm-
 * backports has 2.1).
 *
 * v2 requests lines through settings -> line config -> request; a request
 * owns the event fd. Chips are found by name or label by walking
 * /dev/gpiochip*, never by number. The kernel applies active-low, bias and
 * debounce (set_debounce_period_us), so gpio.c's software debounce has
 * nothing left to do.
 */
#include <dirent.h>
#include <errno.h>
#include <gpiod.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio_private.h"

struct gpio_dev {
	struct gpiod_chip *chip;
	struct gpiod_line_request *request;
	struct gpiod_edge_event_buffer *events;
	unsigned int offset;
};

/* Opens the chip whose name or label is name, or returns NULL (errno set). */
static struct gpiod_chip *
gpio_dev_find_chip(const char *name)
{
	struct dirent *entry;
	struct gpiod_chip *chip, *found = NULL;
	struct gpiod_chip_info *info;
	char path[300];
	DIR *dir;

	if ((dir = opendir("/dev")) == NULL)
		return NULL;
	while (found == NULL && (entry = readdir(dir)) != NULL) {
		if (strncmp(entry->d_name, "gpiochip", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", entry->d_name);
		if ((chip = gpiod_chip_open(path)) == NULL)
			continue;
		if ((info = gpiod_chip_get_info(chip)) != NULL) {
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
		errno = ENODEV;
	return found;
}

static struct gpiod_line_request *
gpio_dev_request(struct gpio_line *line, struct gpio_dev *dev, const struct rig_gpio *cfg,
    const char *consumer, int initial)
{
	static const enum gpiod_line_bias biases[] = { GPIOD_LINE_BIAS_AS_IS,
		GPIOD_LINE_BIAS_PULL_UP, GPIOD_LINE_BIAS_PULL_DOWN, GPIOD_LINE_BIAS_DISABLED };
	struct gpiod_line_settings *settings;
	struct gpiod_line_config *line_cfg = NULL;
	struct gpiod_request_config *req_cfg = NULL;
	struct gpiod_line_request *request = NULL;

	if ((settings = gpiod_line_settings_new()) == NULL)
		return NULL;
	gpiod_line_settings_set_active_low(settings, line->active_low);
	if (cfg->bias >= 0 && cfg->bias <= 3)
		gpiod_line_settings_set_bias(settings, biases[cfg->bias]);
	if (line->is_output) {
		gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_OUTPUT);
		gpiod_line_settings_set_output_value(settings, initial ?
		    GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE);
	} else {
		gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_INPUT);
		gpiod_line_settings_set_edge_detection(settings, GPIOD_LINE_EDGE_BOTH);
		gpiod_line_settings_set_debounce_period_us(settings,
		    (unsigned long)line->debounce_ms * 1000);
	}
	if ((line_cfg = gpiod_line_config_new()) == NULL ||
	    (req_cfg = gpiod_request_config_new()) == NULL)
		goto out;
	if (gpiod_line_config_add_line_settings(line_cfg, &dev->offset, 1, settings) == -1)
		goto out;
	gpiod_request_config_set_consumer(req_cfg, consumer);
	request = gpiod_chip_request_lines(dev->chip, req_cfg, line_cfg);
out:
	gpiod_request_config_free(req_cfg);
	gpiod_line_config_free(line_cfg);
	gpiod_line_settings_free(settings);
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
		snprintf(err, err_size, "GPIO %s: chip '%s' has no line named '%s'",
		    line->name, cfg->chip, cfg->line);
		goto fail;
	}
	dev->offset = (unsigned int)offset;
	if ((dev->request = gpio_dev_request(line, dev, cfg, consumer, initial)) == NULL) {
		snprintf(err, err_size, "GPIO %s: cannot request the line%s: %s", line->name,
		    errno == EBUSY ? " (another program holds it)" : "", strerror(errno));
		goto fail;
	}
	if (!line->is_output) {
		line->fd = gpiod_line_request_get_fd(dev->request);
		if ((dev->events = gpiod_edge_event_buffer_new(16)) == NULL) {
			snprintf(err, err_size, "GPIO %s: %s", line->name, strerror(errno));
			goto fail;
		}
	}
	/* the kernel debounces; nothing left for gpio.c to filter */
	line->debounce_ms = 0;
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
		if ((n = gpiod_line_request_read_edge_events(dev->request, dev->events, 16)) == -1)
			return -1;
		total += n;
	}
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
