/*
 * GPIO lines for valves, relays and inputs (e-stop, interlock, limits).
 *
 * Three backends behind this one interface: libgpiod v1 (Debian 12, Pi OS
 * bookworm) or v2 (Debian 13, Pi OS trixie), chosen at build time, and a
 * simulated backend selected at run time with gpio_use_simulation(), used
 * where no GPIO chip exists (tests, this CI machine).
 *
 * Lines are found by chip name or label and line name, never by chip
 * number. Levels here are logical: 1 means active (valve open, e-stop
 * pressed), and active_low is applied by the backend.
 */
#ifndef LBL_GPIO_H
#define LBL_GPIO_H

#include <stddef.h>
#include <stdint.h>

#include "rig.h"

struct gpio_line;

/*
 * Selects the simulated backend for every line opened afterwards. dir holds
 * one FIFO per input line, "<dir>/<chip>/<line>.in": a test writes "1\n" or
 * "0\n" to change the level, which produces an edge event. Each output's
 * logical level is kept in "<dir>/<chip>/<line>.out" ("1\n" or "0\n") so a
 * test can check that outputs reached their safe state.
 */
int gpio_use_simulation(const char *dir);

/*
 * Requests an output line, driven to initial (logical) as it is requested so
 * it never glitches. Returns 0, or -1 with a message naming chip and line
 * in err.
 */
int gpio_open_output(const struct rig_gpio *cfg, const char *consumer, int initial,
    struct gpio_line **out, char *err, size_t err_size);
/* Requests an input line with its bias, watching both edges. */
int gpio_open_input(const struct rig_gpio *cfg, const char *consumer,
    struct gpio_line **out, char *err, size_t err_size);
/* Sets an output's logical level. Returns 0 or -1 (errno set). */
int gpio_set(struct gpio_line *line, int active);
/* Reads a line's logical level into *active. Returns 0 or -1. */
int gpio_get(struct gpio_line *line, int *active);
/* A file descriptor that polls readable when an input has edge events. */
int gpio_event_fd(const struct gpio_line *line);
/*
 * Reads the pending edge events of an input after its fd polled readable;
 * *active gets the debounced logical level after them. Returns 1 when that
 * level changed since last reported, 0 if not (no events, or only bounce),
 * or -1 (errno set).
 */
int gpio_read_events(struct gpio_line *line, int *active);
void gpio_close(struct gpio_line *line);

#endif
