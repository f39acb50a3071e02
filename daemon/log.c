/*
 * Log lines go to stderr. Under systemd (JOURNAL_STREAM set) each line gets
 * a "<N>" priority prefix, which journald turns into the entry's priority.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static const char *log_progname = "lbl";
static int log_max_priority = LOG_INFO;
static int log_to_journal;

void
log_init(const char *progname, int max_priority)
{
	log_progname = progname;
	log_max_priority = max_priority;
	log_to_journal = getenv("JOURNAL_STREAM") != NULL;
}

static void
log_vwrite(int priority, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024];

	if (priority > log_max_priority)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_to_journal)
		fprintf(stderr, "<%d>%s%s%s\n", priority, line,
		    suffix ? ": " : "", suffix ? suffix : "");
	else
		fprintf(stderr, "%s: %s%s%s\n", log_progname, line,
		    suffix ? ": " : "", suffix ? suffix : "");
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
