/*
 * Log lines go to stderr when run by hand. Under systemd (JOURNAL_STREAM
 * names our stderr) they go to the journal with sd_journal_send(), with a
 * priority and the structured fields of the run in hand (BATCH, RECIPE,
 * BILAYER, STEP, DEVICE), so that journalctl -u lbld BATCH=42 shows one
 * batch. If the journal refuses a message, it still goes to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include <systemd/sd-journal.h>

#include "log.h"

static const char *log_progname = "lbl";
static int log_max_priority = LOG_INFO;
static int log_to_journal;

/* The run in hand, attached to every journal entry (0/NULL: none). */
static struct {
	long long batch;
	char recipe[64];
	int bilayer, step;
} log_ctx;
static const char *log_device_name;

/* Whether stderr is the stream systemd connected to the journal. */
static int
log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname, int max_priority)
{
	log_progname = progname;
	log_max_priority = max_priority;
	log_to_journal = log_stderr_is_journal();
}

void
log_context(long long batch, const char *recipe, int bilayer, int step)
{
	log_ctx.batch = batch;
	snprintf(log_ctx.recipe, sizeof(log_ctx.recipe), "%s", recipe ? recipe : "");
	log_ctx.bilayer = bilayer;
	log_ctx.step = step;
}

static int
log_journal(int priority, const char *message)
{
	char batch[32], bilayer[32], step[32];

	if (log_ctx.batch == 0)
		return sd_journal_send("MESSAGE=%s", message, "PRIORITY=%d", priority,
		    "SYSLOG_IDENTIFIER=%s", log_progname,
		    log_device_name ? "DEVICE=%s" : NULL, log_device_name, NULL);
	snprintf(batch, sizeof(batch), "BATCH=%lld", log_ctx.batch);
	snprintf(bilayer, sizeof(bilayer), "BILAYER=%d", log_ctx.bilayer);
	snprintf(step, sizeof(step), "STEP=%d", log_ctx.step);
	return sd_journal_send("MESSAGE=%s", message, "PRIORITY=%d", priority,
	    "SYSLOG_IDENTIFIER=%s", log_progname, "%s", batch, "RECIPE=%s", log_ctx.recipe,
	    "%s", bilayer, "%s", step, log_device_name ? "DEVICE=%s" : NULL, log_device_name,
	    NULL);
}

static void
log_vwrite(int priority, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024], message[1200];

	if (priority > log_max_priority)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	snprintf(message, sizeof(message), "%s%s%s", line, suffix ? ": " : "",
	    suffix ? suffix : "");
	if (log_to_journal && log_journal(priority, message) >= 0)
		return;
	fprintf(stderr, "%s: %s\n", log_progname, message);
}

void
log_device_warnx(const char *device, const char *fmt, ...)
{
	va_list ap;

	log_device_name = device;
	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
	log_device_name = NULL;
}

void
log_warn(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, strerror(saved_errno), fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, strerror(saved_errno), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
