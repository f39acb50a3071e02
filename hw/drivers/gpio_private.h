/*
 * Shared by the GPIO dispatcher (gpio.c) and its backends: the simulated one
 * (gpio_sim.c) and one libgpiod backend (gpio_v1.c or gpio_v2.c, chosen at
 * build time). Not for use outside hw/gpio*.c.
 */
#ifndef LBL_GPIO_PRIVATE_H
#define LBL_GPIO_PRIVATE_H

#include <stdint.h>

#include "gpio.h"

struct gpio_line {
	int simulated;
	int is_output;
	int active_low;
	int debounce_ms;
	int fd;			/* event fd (inputs), -1 for outputs */
	int level;		/* last logical level reported (inputs) */
	int64_t last_edge_ns;	/* when that level was reported, for debounce */
	char name[96];		/* "chip/line", for messages */
	void *backend;		/* backend's own state */
};

/*
 * Backend entry points: same contracts as the gpio_ functions, with line
 * already allocated and its common fields filled. Each open fills fd (inputs)
 * and backend; *_events returns the logical level after the pending events
 * in *active, or -1.
 */
int gpio_sim_open(struct gpio_line *line, const char *dir, const struct rig_gpio *cfg,
    int initial, char *err, size_t err_size);
int gpio_sim_set(struct gpio_line *line, int active);
int gpio_sim_get(struct gpio_line *line, int *active);
int gpio_sim_events(struct gpio_line *line, int *active);
void gpio_sim_close(struct gpio_line *line);

int gpio_dev_open(struct gpio_line *line, const struct rig_gpio *cfg, const char *consumer,
    int initial, char *err, size_t err_size);
int gpio_dev_set(struct gpio_line *line, int active);
int gpio_dev_get(struct gpio_line *line, int *active);
int gpio_dev_events(struct gpio_line *line, int *active);
void gpio_dev_close(struct gpio_line *line);

#endif
