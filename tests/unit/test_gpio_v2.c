/*
 * The libgpiod v2 backend (hw/drivers/gpio_v2.c) against a fake libgpiod 2.x, through
 * the public gpio interface: chips found by name and by label among the
 * /dev/gpiochip* entries, every failure (no chip, chip we may not open, no
 * such line, line busy, an allocation failing) refused with a message naming
 * line and chip and with everything it opened closed again, the line settings
 * requested (direction, initial output value, active-low, bias, edges, no
 * kernel debounce), logical levels, edge events drained from the request's
 * fd, and gpio.c's software debounce still in force.
 *
 * No GPIO chip or gpio-sim exists on CI machines, and real libgpiod refuses
 * anything that is not a GPIO character device, so the fake stands in at the
 * seam: this file defines the gpiod_* functions the backend calls, which the
 * linker takes before the real library, and compiles hw/drivers/gpio_v2.c in with
 * opendir()/readdir()/closedir() renamed to a fake /dev listing. Its
 * gpio_dev_* functions are then the ones gpio.c calls.
 *
 * Built against libgpiod 1.x (Debian 12's own), there is no v2 backend to
 * test: make check-gpio-v2 builds this against libgpiod 2.1.
 */
#include <gpiod.h>

#ifdef GPIOD_LINE_BULK_MAX_LINES	/* only libgpiod 1.x's gpiod.h has it */

#include <stdio.h>

int
main(void)
{
	printf("built against libgpiod 1.x: no v2 backend here (make check-gpio-v2 tests it)\n");
	return 0;
}

#else

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpio.h"
#include "test.h"

/* --- a fake /dev ------------------------------------------------------------ */

static const char *const fake_dev_entries[] = {
	".", "..", "null", "gpiochip9", "gpiochip0", "ttyS0", "gpiochip1",
};
static size_t fake_dev_pos;
static int fake_dev_open;
static struct dirent fake_dev_dirent;

static DIR *
fake_opendir(const char *path)
{
	if (strcmp(path, "/dev") != 0) {
		errno = ENOENT;
		return NULL;
	}
	fake_dev_pos = 0;
	fake_dev_open++;
	return (DIR *)(void *)&fake_dev_pos;
}

static struct dirent *
fake_readdir(DIR *d)
{
	(void)d;
	if (fake_dev_pos >= sizeof(fake_dev_entries) / sizeof(fake_dev_entries[0]))
		return NULL;
	snprintf(fake_dev_dirent.d_name, sizeof(fake_dev_dirent.d_name), "%s",
	    fake_dev_entries[fake_dev_pos++]);
	return &fake_dev_dirent;
}

static int
fake_closedir(DIR *d)
{
	(void)d;
	fake_dev_open--;
	return 0;
}

#define opendir fake_opendir
#define readdir fake_readdir
#define closedir fake_closedir
#include "gpio_v2.c"
#undef opendir
#undef readdir
#undef closedir

/* --- a fake libgpiod 2.x ------------------------------------------------------ */

struct fake_line {
	const char *name;
	int phys;			/* physical level on the pin */
	int busy;			/* held by another program */
	struct gpiod_line_request *request;
};

struct fake_chip {
	const char *dev;		/* entry in /dev */
	const char *name, *label;
	int open_errno;			/* gpiod_chip_open() fails with this, if not 0 */
	struct fake_line lines[3];
};

static struct fake_chip fake_chips[] = {
	{ "gpiochip0", "gpiochip0", "pinctrl-bcm2711", 0,
	    { { "GPIO17", 0, 0, NULL }, { "GPIO27", 1, 0, NULL }, { "GPIO22", 0, 0, NULL } } },
	{ "gpiochip1", "gpiochip1", "raspberrypi-exp-gpio", 0,
	    { { "LED", 0, 0, NULL }, { NULL, 0, 0, NULL }, { NULL, 0, 0, NULL } } },
	{ "gpiochip9", "gpiochip9", "locked", 0,
	    { { "GPIO1", 0, 0, NULL }, { NULL, 0, 0, NULL }, { NULL, 0, 0, NULL } } },
};

/* Everything the fake hands out and not yet given back. */
static int fake_live;
/* The constructor that fails, every time ("settings", "chip", ...), or NULL. */
static const char *fake_fail;
/* gpiod_chip_get_line_offset_from_name() fails with this, if not 0. */
static int fake_lookup_errno;
/* gpiod_line_request_get_value() fails, if set. */
static int fake_get_fails;

struct gpiod_chip { struct fake_chip *fc; };
struct gpiod_chip_info { const char *name, *label; };
struct gpiod_line_settings {
	enum gpiod_line_direction direction;
	enum gpiod_line_edge edge;
	enum gpiod_line_bias bias;
	bool active_low;
	unsigned long debounce_us;
	enum gpiod_line_value output;
};
struct gpiod_line_config {
	struct gpiod_line_settings settings;
	unsigned int offset;
	size_t num;
};
struct gpiod_request_config { char consumer[32]; };
struct gpiod_line_request {
	struct fake_line *fl;
	struct gpiod_line_settings settings;
	unsigned int offset;
	char consumer[32];
	int pipe[2];			/* one byte per pending edge event */
};
struct gpiod_edge_event_buffer { size_t capacity; };

/* What the last gpiod_chip_request_lines() asked for. */
static struct gpiod_line_request fake_last;

static void *
fake_alloc(const char *what, size_t size)
{
	void *p;

	if (fake_fail != NULL && strcmp(fake_fail, what) == 0) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = calloc(1, size)) != NULL)
		fake_live++;
	return p;
}

static void
fake_free(void *p)
{
	if (p == NULL)
		return;
	fake_live--;
	free(p);
}

struct gpiod_chip *
gpiod_chip_open(const char *path)
{
	struct gpiod_chip *c;
	size_t i;

	for (i = 0; i < sizeof(fake_chips) / sizeof(fake_chips[0]); i++) {
		if (strncmp(path, "/dev/", 5) != 0 || strcmp(path + 5, fake_chips[i].dev) != 0)
			continue;
		if (fake_chips[i].open_errno != 0) {
			errno = fake_chips[i].open_errno;
			return NULL;
		}
		if ((c = fake_alloc("chip", sizeof(*c))) != NULL)
			c->fc = &fake_chips[i];
		return c;
	}
	errno = ENOENT;
	return NULL;
}

void
gpiod_chip_close(struct gpiod_chip *c)
{
	fake_free(c);
}

struct gpiod_chip_info *
gpiod_chip_get_info(struct gpiod_chip *c)
{
	struct gpiod_chip_info *i;

	if ((i = fake_alloc("chip_info", sizeof(*i))) != NULL) {
		i->name = c->fc->name;
		i->label = c->fc->label;
	}
	return i;
}

const char *
gpiod_chip_info_get_name(struct gpiod_chip_info *i)
{
	return i->name;
}

const char *
gpiod_chip_info_get_label(struct gpiod_chip_info *i)
{
	return i->label;
}

void
gpiod_chip_info_free(struct gpiod_chip_info *i)
{
	fake_free(i);
}

int
gpiod_chip_get_line_offset_from_name(struct gpiod_chip *c, const char *name)
{
	int i;

	if (fake_lookup_errno != 0) {
		errno = fake_lookup_errno;
		return -1;
	}
	for (i = 0; i < 3; i++)
		if (c->fc->lines[i].name != NULL && strcmp(c->fc->lines[i].name, name) == 0)
			return i;
	errno = ENOENT;
	return -1;
}

struct gpiod_line_settings *
gpiod_line_settings_new(void)
{
	struct gpiod_line_settings *s;

	if ((s = fake_alloc("settings", sizeof(*s))) != NULL) {
		s->direction = GPIOD_LINE_DIRECTION_AS_IS;
		s->edge = GPIOD_LINE_EDGE_NONE;
		s->bias = GPIOD_LINE_BIAS_AS_IS;
		s->output = GPIOD_LINE_VALUE_INACTIVE;
	}
	return s;
}

void
gpiod_line_settings_free(struct gpiod_line_settings *s)
{
	fake_free(s);
}

int
gpiod_line_settings_set_direction(struct gpiod_line_settings *s, enum gpiod_line_direction d)
{
	s->direction = d;
	return 0;
}

int
gpiod_line_settings_set_edge_detection(struct gpiod_line_settings *s, enum gpiod_line_edge e)
{
	s->edge = e;
	return 0;
}

int
gpiod_line_settings_set_bias(struct gpiod_line_settings *s, enum gpiod_line_bias b)
{
	s->bias = b;
	return 0;
}

void
gpiod_line_settings_set_active_low(struct gpiod_line_settings *s, bool active_low)
{
	s->active_low = active_low;
}

void
gpiod_line_settings_set_debounce_period_us(struct gpiod_line_settings *s, unsigned long us)
{
	s->debounce_us = us;
}

int
gpiod_line_settings_set_output_value(struct gpiod_line_settings *s, enum gpiod_line_value v)
{
	s->output = v;
	return 0;
}

struct gpiod_line_config *
gpiod_line_config_new(void)
{
	return fake_alloc("line_config", sizeof(struct gpiod_line_config));
}

void
gpiod_line_config_free(struct gpiod_line_config *lc)
{
	fake_free(lc);
}

int
gpiod_line_config_add_line_settings(struct gpiod_line_config *lc, const unsigned int *offsets,
    size_t num, struct gpiod_line_settings *s)
{
	if (num != 1) {
		errno = EINVAL;
		return -1;
	}
	lc->offset = offsets[0];
	lc->settings = *s;	/* libgpiod copies the settings too */
	lc->num = num;
	return 0;
}

struct gpiod_request_config *
gpiod_request_config_new(void)
{
	return fake_alloc("request_config", sizeof(struct gpiod_request_config));
}

void
gpiod_request_config_free(struct gpiod_request_config *rc)
{
	fake_free(rc);
}

void
gpiod_request_config_set_consumer(struct gpiod_request_config *rc, const char *consumer)
{
	snprintf(rc->consumer, sizeof(rc->consumer), "%s", consumer);
}

struct gpiod_line_request *
gpiod_chip_request_lines(struct gpiod_chip *c, struct gpiod_request_config *rc,
    struct gpiod_line_config *lc)
{
	struct gpiod_line_request *r;
	struct fake_line *fl;

	if (lc == NULL || lc->num != 1 || lc->offset >= 3) {
		errno = EINVAL;
		return NULL;
	}
	fl = &c->fc->lines[lc->offset];
	if (fl->busy || fl->request != NULL) {
		errno = EBUSY;
		return NULL;
	}
	if ((r = fake_alloc("request", sizeof(*r))) == NULL)
		return NULL;
	if (pipe2(r->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		fake_free(r);
		return NULL;
	}
	r->fl = fl;
	r->offset = lc->offset;
	r->settings = lc->settings;
	snprintf(r->consumer, sizeof(r->consumer), "%s", rc != NULL ? rc->consumer : "");
	if (r->settings.direction == GPIOD_LINE_DIRECTION_OUTPUT)
		fl->phys = (r->settings.output == GPIOD_LINE_VALUE_ACTIVE) ^ r->settings.active_low;
	fl->request = r;
	fake_last = *r;
	return r;
}

void
gpiod_line_request_release(struct gpiod_line_request *r)
{
	close(r->pipe[0]);
	close(r->pipe[1]);
	r->fl->request = NULL;
	fake_free(r);
}

int
gpiod_line_request_get_fd(struct gpiod_line_request *r)
{
	return r->pipe[0];
}

int
gpiod_line_request_set_value(struct gpiod_line_request *r, unsigned int offset,
    enum gpiod_line_value v)
{
	if (offset != r->offset || r->settings.direction != GPIOD_LINE_DIRECTION_OUTPUT) {
		errno = EINVAL;
		return -1;
	}
	r->fl->phys = (v == GPIOD_LINE_VALUE_ACTIVE) ^ r->settings.active_low;
	return 0;
}

enum gpiod_line_value
gpiod_line_request_get_value(struct gpiod_line_request *r, unsigned int offset)
{
	if (fake_get_fails || offset != r->offset) {
		errno = EIO;
		return GPIOD_LINE_VALUE_ERROR;
	}
	return (r->fl->phys ^ r->settings.active_low) ? GPIOD_LINE_VALUE_ACTIVE :
	    GPIOD_LINE_VALUE_INACTIVE;
}

struct gpiod_edge_event_buffer *
gpiod_edge_event_buffer_new(size_t capacity)
{
	struct gpiod_edge_event_buffer *b;

	if ((b = fake_alloc("event_buffer", sizeof(*b))) != NULL)
		b->capacity = capacity;
	return b;
}

void
gpiod_edge_event_buffer_free(struct gpiod_edge_event_buffer *b)
{
	fake_free(b);
}

int
gpiod_line_request_read_edge_events(struct gpiod_line_request *r,
    struct gpiod_edge_event_buffer *b, size_t max_events)
{
	char bytes[1024];
	ssize_t n;

	if (b == NULL || max_events > b->capacity || max_events > sizeof(bytes)) {
		errno = EINVAL;
		return -1;
	}
	if ((n = read(r->pipe[0], bytes, max_events)) == -1)
		return -1;
	return (int)n;
}

/* --- helpers ------------------------------------------------------------------ */

/* The pin goes to phys, with one edge event queued per change, as the kernel does. */
static void
fake_edge(struct fake_line *fl, int phys)
{
	fl->phys = phys;
	if (fl->request != NULL && write(fl->request->pipe[1], "e", 1) != 1)
		perror("fake_edge");
}

static int
readable(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

/* Nothing the fake handed out is left, and /dev is closed. */
static void
check_all_closed(const char *name)
{
	char full[96];

	snprintf(full, sizeof(full), "%s-nothing-left-open", name);
	TEST_CHECK(full, fake_live == 0 && fake_dev_open == 0,
	    "%d libgpiod objects and %d /dev listings left open", fake_live, fake_dev_open);
}

/* --- tests -------------------------------------------------------------------- */

static void
test_output_by_label(void)
{
	struct rig_gpio cfg = { "pinctrl-bcm2711", "GPIO17", 1, 0, 0 };
	struct fake_line *fl = &fake_chips[0].lines[0];
	struct gpio_line *line;
	char err[256] = "";
	int level = -1;

	TEST_EQ_INT("output-open-by-label",
	    gpio_open_output(&cfg, "lbld-test", 1, &line, err, sizeof(err)), 0);
	if (line == NULL) {
		printf("  %s\n", err);
		return;
	}
	TEST_EQ_INT("output-requested-offset", fake_last.offset, 0);
	TEST_EQ_INT("output-direction", fake_last.settings.direction,
	    GPIOD_LINE_DIRECTION_OUTPUT);
	TEST_EQ_INT("output-initial-value-in-request", fake_last.settings.output,
	    GPIOD_LINE_VALUE_ACTIVE);
	TEST_EQ_INT("output-active-low", fake_last.settings.active_low, 1);
	TEST_EQ_INT("output-bias-as-is", fake_last.settings.bias, GPIOD_LINE_BIAS_AS_IS);
	TEST_EQ_INT("output-no-edges", fake_last.settings.edge, GPIOD_LINE_EDGE_NONE);
	TEST_STR("output-consumer", fake_last.consumer, "lbld-test");
	TEST_EQ_INT("output-active-low-drives-pin-low", fl->phys, 0);
	TEST_EQ_INT("output-no-event-fd", gpio_event_fd(line), -1);
	TEST_EQ_INT("output-set-inactive", gpio_set(line, 0), 0);
	TEST_EQ_INT("output-inactive-pin-high", fl->phys, 1);
	TEST_EQ_INT("output-get-logical", gpio_get(line, &level) == 0 ? level : -1, 0);
	TEST_EQ_INT("output-set-active", gpio_set(line, 1), 0);
	TEST_EQ_INT("output-active-pin-low", fl->phys, 0);
	TEST_EQ_INT("output-no-events", gpio_read_events(line, &level), -1);
	fake_get_fails = 1;
	TEST_EQ_INT("output-get-error", gpio_get(line, &level), -1);
	fake_get_fails = 0;
	gpio_close(line);
	TEST_CHECK("output-released", fl->request == NULL, "line still requested");
	check_all_closed("output");
}

static void
test_input_by_name(void)
{
	/* an e-stop: active-low, pull-up, 200 ms of contact bounce */
	struct rig_gpio cfg = { "gpiochip0", "GPIO27", 1, 1, 200 };
	struct fake_line *fl = &fake_chips[0].lines[1];
	struct gpio_line *line;
	char err[256] = "";
	int level = -1, fd, i;

	fl->phys = 1;
	TEST_EQ_INT("input-open-by-name",
	    gpio_open_input(&cfg, "lbld-test", &line, err, sizeof(err)), 0);
	if (line == NULL) {
		printf("  %s\n", err);
		return;
	}
	TEST_EQ_INT("input-direction", fake_last.settings.direction, GPIOD_LINE_DIRECTION_INPUT);
	TEST_EQ_INT("input-both-edges", fake_last.settings.edge, GPIOD_LINE_EDGE_BOTH);
	TEST_EQ_INT("input-pull-up", fake_last.settings.bias, GPIOD_LINE_BIAS_PULL_UP);
	TEST_EQ_INT("input-active-low", fake_last.settings.active_low, 1);
	/* the kernel's debouncer would delay the press by the whole period */
	TEST_EQ_INT("input-no-kernel-debounce", fake_last.settings.debounce_us, 0);
	fd = gpio_event_fd(line);
	TEST_EQ_INT("input-fd-is-the-requests", fd, fl->request != NULL ? fl->request->pipe[0] : -2);
	TEST_EQ_INT("input-idle-inactive", gpio_get(line, &level) == 0 ? level : -1, 0);
	TEST_CHECK("input-idle-no-events", !readable(fd), "fd readable");

	fake_edge(fl, 0);
	TEST_CHECK("input-press-readable", readable(fd), "no event");
	TEST_EQ_INT("input-press-reported-at-once", gpio_read_events(line, &level), 1);
	TEST_EQ_INT("input-press-active", level, 1);
	TEST_CHECK("input-press-drained", !readable(fd), "still readable");
	/* bounce back within the window: gpio.c hides it, as with v1 */
	fake_edge(fl, 1);
	TEST_EQ_INT("input-bounce-hidden", gpio_read_events(line, &level), 0);
	TEST_EQ_INT("input-bounce-level-held", level, 1);
	/* more edges than one read takes (16) are all drained */
	for (i = 0; i < 41; i++)
		fake_edge(fl, i % 2);
	gpio_read_events(line, &level);
	TEST_CHECK("input-burst-drained", !readable(fd), "still readable");
	TEST_EQ_INT("input-burst-level", level, 1);
	fake_get_fails = 1;
	fake_edge(fl, 0);
	TEST_EQ_INT("input-read-error", gpio_read_events(line, &level), -1);
	fake_get_fails = 0;
	gpio_close(line);
	check_all_closed("input");
}

static void
test_bias(void)
{
	static const struct { int bias; enum gpiod_line_bias want; const char *name; } cases[] = {
		{ 0, GPIOD_LINE_BIAS_AS_IS, "bias-0-as-is" },
		{ 1, GPIOD_LINE_BIAS_PULL_UP, "bias-1-pull-up" },
		{ 2, GPIOD_LINE_BIAS_PULL_DOWN, "bias-2-pull-down" },
		{ 3, GPIOD_LINE_BIAS_DISABLED, "bias-3-disabled" },
		{ 7, GPIOD_LINE_BIAS_AS_IS, "bias-unknown-as-is" },
	};
	struct rig_gpio cfg = { "gpiochip0", "GPIO22", 0, 0, 0 };
	struct gpio_line *line;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg.bias = cases[i].bias;
		memset(&fake_last, 0, sizeof(fake_last));
		if (gpio_open_input(&cfg, "lbld-test", &line, err, sizeof(err)) == -1) {
			TEST_CHECK(cases[i].name, 0, "open: %s", err);
			continue;
		}
		TEST_EQ_INT(cases[i].name, fake_last.settings.bias, cases[i].want);
		gpio_close(line);
	}
	check_all_closed("bias");
}

static void
test_null_consumer(void)
{
	struct rig_gpio cfg = { "raspberrypi-exp-gpio", "LED", 0, 0, 0 };
	struct gpio_line *line;
	char err[256] = "";

	TEST_EQ_INT("null-consumer-open", gpio_open_output(&cfg, NULL, 0, &line, err, sizeof(err)),
	    0);
	TEST_STR("null-consumer-left-empty", fake_last.consumer, "");
	gpio_close(line);
	check_all_closed("null-consumer");
}

static void
test_no_such_line(void)
{
	struct rig_gpio cfg = { "gpiochip0", "GPIO99", 0, 0, 0 };
	struct gpio_line *line = (struct gpio_line *)&cfg;	/* open must reset it */
	char err[256] = "";

	TEST_EQ_INT("no-line-refused", gpio_open_input(&cfg, "lbld-test", &line, err, sizeof(err)),
	    -1);
	TEST_CHECK("no-line-no-handle", line == NULL, "handle returned");
	TEST_STR("no-line-message", err,
	    "GPIO gpiochip0/GPIO99: chip 'gpiochip0' has no line named 'GPIO99'");
	check_all_closed("no-line");

	fake_lookup_errno = EIO;
	TEST_EQ_INT("line-lookup-error-refused",
	    gpio_open_output(&cfg, "lbld-test", 0, &line, err, sizeof(err)), -1);
	fake_lookup_errno = 0;
	TEST_CONTAINS("line-lookup-error-message", err,
	    "GPIO gpiochip0/GPIO99: cannot look up line 'GPIO99' on chip 'gpiochip0'");
	TEST_CONTAINS("line-lookup-error-says-why", err, strerror(EIO));
	check_all_closed("line-lookup-error");
}

static void
test_no_such_chip(void)
{
	struct rig_gpio cfg = { "pinctrl-rp1", "GPIO17", 0, 0, 0 };
	struct gpio_line *line = (struct gpio_line *)&cfg;
	char err[256] = "";
	char want[256];

	TEST_EQ_INT("no-chip-refused", gpio_open_output(&cfg, "lbld-test", 0, &line, err,
	    sizeof(err)), -1);
	TEST_CHECK("no-chip-no-handle", line == NULL, "handle returned");
	snprintf(want, sizeof(want), "GPIO pinctrl-rp1/GPIO17: no chip named or labelled "
	    "'pinctrl-rp1': %s", strerror(ENODEV));
	TEST_STR("no-chip-message", err, want);
	check_all_closed("no-chip");
}

static void
test_chip_not_permitted(void)
{
	struct rig_gpio missing = { "pinctrl-rp1", "GPIO17", 0, 0, 0 };
	struct rig_gpio other = { "gpiochip1", "LED", 0, 0, 0 };
	struct gpio_line *line;
	char err[256] = "";

	fake_chips[2].open_errno = EACCES;
	TEST_EQ_INT("not-permitted-refused",
	    gpio_open_input(&missing, "lbld-test", &line, err, sizeof(err)), -1);
	/* "no such device" would send the operator looking for the wrong fault */
	TEST_CONTAINS("not-permitted-says-so", err, strerror(EACCES));
	TEST_CONTAINS("not-permitted-names-chip", err, "'pinctrl-rp1'");
	check_all_closed("not-permitted");
	/* a chip we may not open does not hide the others */
	TEST_EQ_INT("not-permitted-others-found",
	    gpio_open_output(&other, "lbld-test", 0, &line, err, sizeof(err)), 0);
	gpio_close(line);
	fake_chips[2].open_errno = 0;
	check_all_closed("not-permitted-others");
}

static void
test_busy(void)
{
	struct rig_gpio cfg = { "gpiochip0", "GPIO22", 0, 0, 0 };
	struct gpio_line *line = (struct gpio_line *)&cfg;
	char err[256] = "";

	fake_chips[0].lines[2].busy = 1;
	TEST_EQ_INT("busy-refused", gpio_open_output(&cfg, "lbld-test", 0, &line, err,
	    sizeof(err)), -1);
	fake_chips[0].lines[2].busy = 0;
	TEST_CHECK("busy-no-handle", line == NULL, "handle returned");
	TEST_CONTAINS("busy-names-line", err, "GPIO gpiochip0/GPIO22: cannot request the line");
	TEST_CONTAINS("busy-says-who", err, "(another program holds it)");
	TEST_CONTAINS("busy-errno", err, strerror(EBUSY));
	check_all_closed("busy");
}

/* Every libgpiod constructor failing in turn: refused, named, nothing leaked. */
static void
test_allocation_failures(void)
{
	static const char *const what[] = {
		"chip", "chip_info", "settings", "line_config", "request_config", "request",
		"event_buffer",
	};
	struct rig_gpio cfg = { "pinctrl-bcm2711", "GPIO27", 1, 1, 0 };
	struct gpio_line *line;
	char err[256], name[96];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		fake_fail = what[i];
		err[0] = '\0';
		rc = gpio_open_input(&cfg, "lbld-test", &line, err, sizeof(err));
		snprintf(name, sizeof(name), "no-%s-refused", what[i]);
		TEST_CHECK(name, rc == -1 && line == NULL, "rc %d", rc);
		snprintf(name, sizeof(name), "no-%s-message-names-line", what[i]);
		TEST_CONTAINS(name, err, "GPIO pinctrl-bcm2711/GPIO27: ");
		snprintf(name, sizeof(name), "no-%s-says-why", what[i]);
		TEST_CONTAINS(name, err, strerror(ENOMEM));
		snprintf(name, sizeof(name), "no-%s", what[i]);
		check_all_closed(name);
		if (rc == 0)
			gpio_close(line);
		fake_fail = NULL;
	}
}

int
main(void)
{
	test_output_by_label();
	test_input_by_name();
	test_bias();
	test_null_consumer();
	test_no_such_line();
	test_no_such_chip();
	test_chip_not_permitted();
	test_busy();
	test_allocation_failures();
	return TEST_DONE();
}

#endif
