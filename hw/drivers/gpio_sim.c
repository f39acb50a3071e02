/*
 * Simulated GPIO, for machines without a GPIO chip (tests, CI).
 *
 * An input line is a FIFO "<dir>/<chip>/<line>.in". A test writes the
 * PHYSICAL level, "1\n" or "0\n", as a voltmeter would see it; active_low is
 * applied here exactly as the kernel applies it to a real line. The FIFO is
 * opened read-write so it never reports end-of-file when a writer goes away,
 * and it is the line's event fd: readable means edges are pending.
 *
 * An output line's LOGICAL level is kept in "<dir>/<chip>/<line>.out" so a
 * test can check that a valve was closed.
 *
 * A test writes "E" to an input's FIFO to take its chip away (unplugged,
 * its driver unbound), as a GPIO character device behaves then: the line's
 * fd polls readable for ever (the "E" is put back after each read) and
 * reading its events or level fails with ENODEV.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gpio_private.h"

struct gpio_sim {
	int out_fd;		/* outputs: the .out file */
	int physical;		/* inputs: last physical level written */
};

static int
gpio_sim_path(char *path, size_t size, const char *dir, const struct rig_gpio *cfg,
    const char *suffix, int make_dir)
{
	int n;

	/* names become path components: refuse anything that could escape dir */
	if (strchr(cfg->chip, '/') != NULL || strchr(cfg->line, '/') != NULL ||
	    strcmp(cfg->chip, "..") == 0 || strcmp(cfg->chip, ".") == 0) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(path, size, "%s/%s", dir, cfg->chip);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (make_dir && mkdir(path, 0755) == -1 && errno != EEXIST)
		return -1;
	n = snprintf(path, size, "%s/%s/%s%s", dir, cfg->chip, cfg->line, suffix);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
gpio_sim_open(struct gpio_line *line, const char *dir, const struct rig_gpio *cfg,
    int initial, char *err, size_t err_size)
{
	struct gpio_sim *sim;
	char path[4096];

	if ((sim = calloc(1, sizeof(*sim))) == NULL) {
		snprintf(err, err_size, "GPIO %s: %s", line->name, strerror(errno));
		return -1;
	}
	sim->out_fd = -1;
	/* idle physical level: what the bias makes of an open contact */
	sim->physical = cfg->bias == 1 ? 1 : 0;
	line->backend = sim;
	if (gpio_sim_path(path, sizeof(path), dir, cfg, line->is_output ? ".out" : ".in",
	    1) == -1)
		goto fail;
	if (line->is_output) {
		sim->out_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (sim->out_fd == -1 || gpio_sim_set(line, initial) == -1)
			goto fail;
		return 0;
	}
	if (mkfifo(path, 0644) == -1 && errno != EEXIST)
		goto fail;
	if ((line->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, err_size, "GPIO %s (simulated in %s): %s", line->name, dir, strerror(errno));
	gpio_sim_close(line);
	return -1;
}

int
gpio_sim_set(struct gpio_line *line, int active)
{
	struct gpio_sim *sim = line->backend;
	const char *text = active ? "1\n" : "0\n";

	if (pwrite(sim->out_fd, text, 2, 0) != 2 || ftruncate(sim->out_fd, 2) == -1)
		return -1;
	return 0;
}

/* Consumes whatever levels were written; returns how many, or -1. */
static int
gpio_sim_drain(struct gpio_line *line)
{
	struct gpio_sim *sim = line->backend;
	char buf[256];
	ssize_t n, i;
	int events = 0;

	for (;;) {
		n = read(line->fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return events;
		if (n <= 0)
			return -1;
		if (memchr(buf, 'E', (size_t)n) != NULL) {
			/* the chip is gone: readable for ever, unreadable (see above) */
			if (write(line->fd, "E", 1) != 1)
				return -1;
			errno = ENODEV;
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] != '0' && buf[i] != '1')
				continue;
			if (buf[i] - '0' != sim->physical)
				events++;
			sim->physical = buf[i] - '0';
		}
	}
}

int
gpio_sim_get(struct gpio_line *line, int *active)
{
	struct gpio_sim *sim = line->backend;

	if (line->is_output) {
		char buf[2];

		if (pread(sim->out_fd, buf, 2, 0) != 2)
			return -1;
		*active = buf[0] == '1';
		return 0;
	}
	if (gpio_sim_drain(line) == -1)
		return -1;
	*active = sim->physical ^ line->active_low;
	return 0;
}

int
gpio_sim_events(struct gpio_line *line, int *active)
{
	struct gpio_sim *sim = line->backend;
	int n;

	if ((n = gpio_sim_drain(line)) == -1)
		return -1;
	*active = sim->physical ^ line->active_low;
	return n;
}

void
gpio_sim_close(struct gpio_line *line)
{
	struct gpio_sim *sim = line->backend;

	if (line->fd != -1)
		close(line->fd);
	line->fd = -1;
	if (sim != NULL && sim->out_fd != -1)
		close(sim->out_fd);
	free(sim);
	line->backend = NULL;
}
