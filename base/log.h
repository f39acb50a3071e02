/*
 * Logging in the OpenBSD daemon style: log_warn() appends strerror(errno),
 * log_warnx() does not; fatal()/fatalx() log and exit(1).
 */
#ifndef LBL_LOG_H
#define LBL_LOG_H

#include <stdarg.h>

/* Sets the program name prefix and the lowest priority printed (LOG_DEBUG..). */
void log_init(const char *progname, int max_priority);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A warning about one device: the journal entry carries DEVICE=name. */
void log_device_warnx(const char *device, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * The run in hand, attached to every journal entry as BATCH, RECIPE,
 * BILAYER and STEP until changed; batch 0 clears it.
 */
void log_context(long long batch, const char *recipe, int bilayer, int step);
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
