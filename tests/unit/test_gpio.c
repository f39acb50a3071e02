/*
 * The simulated GPIO backend through the public gpio interface: physical
 * levels written to an input FIFO become logical levels with active_low
 * applied, edges make the event fd readable, bounce is filtered without
 * ever hiding a change to active, and outputs are kept in .out files.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gpio.h"
#include "test.h"

static char dir[64];

static void
write_level(const char *line, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/chip-a/%s.in", dir, line);
	if ((fd = open(path, O_WRONLY | O_NONBLOCK)) == -1 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		perror(path);
	if (fd != -1)
		close(fd);
}

static int
readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, timeout_ms) == 1;
}

static void
read_out(const char *line, char *buf, size_t size)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/chip-a/%s.out", dir, line);
	buf[0] = '\0';
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(buf, (int)size, f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
}

static void
test_input_active_low(void)
{
	struct rig_gpio cfg = { "chip-a", "GPIO27", 1, 1, 0 };
	struct gpio_line *line;
	char err[256];
	int level = -1, n;

	TEST_EQ_INT("input-open", gpio_open_input(&cfg, "test", &line, err, sizeof(err)), 0);
	/* pull-up, contact open: physical 1, active_low: not pressed */
	TEST_EQ_INT("input-idle-level", gpio_get(line, &level) == 0 ? level : -1, 0);
	TEST_CHECK("input-no-event-idle", !readable(gpio_event_fd(line), 0), "fd readable");
	write_level("GPIO27", "0\n");
	TEST_CHECK("input-edge-readable", readable(gpio_event_fd(line), 1000), "no edge");
	n = gpio_read_events(line, &level);
	TEST_EQ_INT("input-edge-reported", n, 1);
	TEST_EQ_INT("input-pressed-is-active", level, 1);
	TEST_CHECK("input-drained", !readable(gpio_event_fd(line), 0), "still readable");
	write_level("GPIO27", "1\n");
	n = gpio_read_events(line, &level);
	TEST_EQ_INT("input-release-reported", n, 1);
	TEST_EQ_INT("input-released-level", level, 0);
	/* the same level again is no edge */
	write_level("GPIO27", "1\n");
	TEST_EQ_INT("input-same-level-no-event", gpio_read_events(line, &level), 0);
	gpio_close(line);
}

static void
test_debounce(void)
{
	struct rig_gpio cfg = { "chip-a", "GPIO22", 0, 2, 200 };
	struct gpio_line *line;
	char err[256];
	int level = -1;

	TEST_EQ_INT("debounce-open", gpio_open_input(&cfg, "test", &line, err, sizeof(err)), 0);
	write_level("GPIO22", "1\n");
	TEST_EQ_INT("debounce-first-edge-at-once", gpio_read_events(line, &level), 1);
	TEST_EQ_INT("debounce-first-level", level, 1);
	/* bounce back to inactive within 200 ms: filtered */
	write_level("GPIO22", "0\n");
	TEST_EQ_INT("debounce-release-bounce-hidden", gpio_read_events(line, &level), 0);
	TEST_EQ_INT("debounce-level-held", level, 1);
	/* back to active: no change to report, never hidden */
	write_level("GPIO22", "1\n");
	gpio_read_events(line, &level);
	TEST_EQ_INT("debounce-active-seen", level, 1);
	write_level("GPIO22", "0\n");
	usleep(250 * 1000);
	write_level("GPIO22", "0\n1\n0\n");
	TEST_EQ_INT("debounce-after-window-reported", gpio_read_events(line, &level), 1);
	TEST_EQ_INT("debounce-after-window-level", level, 0);
	/* a change to active inside the window is always reported */
	write_level("GPIO22", "1\n");
	TEST_EQ_INT("debounce-active-never-hidden", gpio_read_events(line, &level), 1);
	TEST_EQ_INT("debounce-active-level", level, 1);
	gpio_close(line);
}

static void
test_output(void)
{
	struct rig_gpio cfg = { "chip-a", "GPIO17", 1, 0, 0 };
	struct gpio_line *line;
	char err[256], buf[16];
	int level = -1;

	TEST_EQ_INT("output-open", gpio_open_output(&cfg, "test", 0, &line, err, sizeof(err)), 0);
	read_out("GPIO17", buf, sizeof(buf));
	TEST_STR("output-initial-off", buf, "0\n");
	TEST_EQ_INT("output-set", gpio_set(line, 1), 0);
	read_out("GPIO17", buf, sizeof(buf));
	TEST_STR("output-on-logical", buf, "1\n");
	TEST_EQ_INT("output-get", gpio_get(line, &level) == 0 ? level : -1, 1);
	TEST_EQ_INT("output-set-off", gpio_set(line, 0), 0);
	read_out("GPIO17", buf, sizeof(buf));
	TEST_STR("output-off", buf, "0\n");
	TEST_EQ_INT("output-no-events", gpio_read_events(line, &level), -1);
	gpio_close(line);
}

static void
test_bad_names(void)
{
	struct rig_gpio escape = { "..", "GPIO1", 0, 0, 0 };
	struct rig_gpio slash = { "chip-a", "a/b", 0, 0, 0 };
	struct gpio_line *line = NULL;
	char err[256] = "";

	TEST_EQ_INT("bad-chip-refused", gpio_open_input(&escape, "t", &line, err, sizeof(err)), -1);
	TEST_CONTAINS("bad-chip-message-names-line", err, "../GPIO1");
	TEST_EQ_INT("bad-line-refused", gpio_open_output(&slash, "t", 0, &line, err, sizeof(err)),
	    -1);
	TEST_CHECK("bad-line-no-handle", line == NULL, "handle returned");
}

int
main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/lbl-test-gpio.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	TEST_EQ_INT("use-simulation", gpio_use_simulation(dir), 0);
	test_input_active_low();
	test_debounce();
	test_output();
	test_bad_names();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		perror(cmd);
	return TEST_DONE();
}
