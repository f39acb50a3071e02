/*
 * GPIO dispatcher: picks the simulated or the libgpiod backend per line and
 * does what both share — argument checks, messages that name chip and line,
 * and software debounce of input edges.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gpio_private.h"

static char *gpio_sim_dir;	/* set by gpio_use_simulation(), NULL for hardware */

static int64_t
gpio_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
gpio_use_simulation(const char *dir)
{
	struct stat st;
	char *copy;

	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	if (stat(dir, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if ((copy = strdup(dir)) == NULL)
		return -1;
	free(gpio_sim_dir);
	gpio_sim_dir = copy;
	return 0;
}

static int
gpio_open(const struct rig_gpio *cfg, const char *consumer, int is_output, int initial,
    struct gpio_line **out, char *err, size_t err_size)
{
	struct gpio_line *line;
	int rc;

	*out = NULL;
	if (cfg->chip == NULL || cfg->line == NULL || cfg->chip[0] == '\0' ||
	    cfg->line[0] == '\0') {
		snprintf(err, err_size, "GPIO line needs a chip and a line name");
		return -1;
	}
	if ((line = calloc(1, sizeof(*line))) == NULL) {
		snprintf(err, err_size, "GPIO %s/%s: %s", cfg->chip, cfg->line, strerror(errno));
		return -1;
	}
	line->simulated = gpio_sim_dir != NULL;
	line->is_output = is_output;
	line->active_low = cfg->active_low;
	line->debounce_ms = cfg->debounce_ms;
	line->fd = -1;
	snprintf(line->name, sizeof(line->name), "%s/%s", cfg->chip, cfg->line);
	if (line->simulated)
		rc = gpio_sim_open(line, gpio_sim_dir, cfg, initial, err, err_size);
	else
		rc = gpio_dev_open(line, cfg, consumer, initial, err, err_size);
	if (rc == -1) {
		free(line);
		return -1;
	}
	if (!is_output && gpio_get(line, &line->level) == -1) {
		snprintf(err, err_size, "GPIO %s: cannot read: %s", line->name, strerror(errno));
		gpio_close(line);
		return -1;
	}
	line->last_edge_ns = gpio_now_ns();
	*out = line;
	return 0;
}

int
gpio_open_output(const struct rig_gpio *cfg, const char *consumer, int initial,
    struct gpio_line **out, char *err, size_t err_size)
{
	return gpio_open(cfg, consumer, 1, initial != 0, out, err, err_size);
}

int
gpio_open_input(const struct rig_gpio *cfg, const char *consumer, struct gpio_line **out,
    char *err, size_t err_size)
{
	return gpio_open(cfg, consumer, 0, 0, out, err, err_size);
}

int
gpio_set(struct gpio_line *line, int active)
{
	if (!line->is_output) {
		errno = EPERM;
		return -1;
	}
	return line->simulated ? gpio_sim_set(line, active != 0) : gpio_dev_set(line, active != 0);
}

int
gpio_get(struct gpio_line *line, int *active)
{
	return line->simulated ? gpio_sim_get(line, active) : gpio_dev_get(line, active);
}

int
gpio_event_fd(const struct gpio_line *line)
{
	return line->fd;
}

/*
 * A change of level is reported at once: an e-stop must not wait for its
 * contacts to settle. A change back to inactive within debounce_ms of the
 * last reported change is contact bounce and is not reported; a change to
 * active always is, so an input can be stale only on the safe side (an
 * e-stop seen pressed a little longer). Only changes are reported, so a
 * bounce that ends where it began is invisible to the caller.
 */
int
gpio_read_events(struct gpio_line *line, int *active)
{
	int level, n;
	int64_t now_ns;

	if (line->is_output) {
		errno = EPERM;
		return -1;
	}
	n = line->simulated ? gpio_sim_events(line, &level) : gpio_dev_events(line, &level);
	if (n == -1)
		return -1;
	now_ns = gpio_now_ns();
	/* compare levels, not event counts: a gpio_get() may have drained them */
	if (level != line->level && (level == 1 ||
	    now_ns - line->last_edge_ns >= (int64_t)line->debounce_ms * 1000000)) {
		line->level = level;
		line->last_edge_ns = now_ns;
		n = 1;
	} else {
		n = 0;
	}
	*active = line->level;
	return n;
}

void
gpio_close(struct gpio_line *line)
{
	if (line == NULL)
		return;
	if (line->simulated)
		gpio_sim_close(line);
	else
		gpio_dev_close(line);
	free(line);
}
