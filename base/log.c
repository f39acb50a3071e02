/*
 * Log lines go to stderr when run by hand. Under systemd (JOURNAL_STREAM
 * names our stderr) they go to the journal's native socket, with a
 * priority and the structured fields of the run in hand (BATCH, RECIPE,
 * BILAYER, STEP, DEVICE), so that journalctl -u lbld BATCH=42 shows one
 * batch. If the journal refuses a message, it still goes to stderr.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

/*
 * Appends one field in the journal's native protocol, binary-safe form:
 * KEY, newline, value length as little-endian 64 bits, value, newline.
 */
static size_t
log_field(char *buf, size_t used, size_t size, const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value), i;
	uint64_t n = vlen;

	if (used + klen + 1 + 8 + vlen + 1 > size)
		return used;	/* drop a field rather than the entry */
	memcpy(buf + used, key, klen);
	used += klen;
	buf[used++] = '\n';
	for (i = 0; i < 8; i++)
		buf[used++] = (char)(n >> (8 * i) & 0xff);
	memcpy(buf + used, value, vlen);
	used += vlen;
	buf[used++] = '\n';
	return used;
}

/* Sends one entry to journald; returns 0, or -1 so the line goes to stderr. */
static int
log_journal(int priority, const char *message)
{
	static const struct sockaddr_un addr = { AF_UNIX, "/run/systemd/journal/socket" };
	static int fd = -1;
	char buf[2048], number[32];
	size_t used = 0;

	if (fd == -1 && (fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	used = log_field(buf, used, sizeof(buf), "MESSAGE", message);
	snprintf(number, sizeof(number), "%d", priority);
	used = log_field(buf, used, sizeof(buf), "PRIORITY", number);
	used = log_field(buf, used, sizeof(buf), "SYSLOG_IDENTIFIER", log_progname);
	if (log_device_name != NULL)
		used = log_field(buf, used, sizeof(buf), "DEVICE", log_device_name);
	if (log_ctx.batch != 0) {
		snprintf(number, sizeof(number), "%lld", log_ctx.batch);
		used = log_field(buf, used, sizeof(buf), "BATCH", number);
		used = log_field(buf, used, sizeof(buf), "RECIPE", log_ctx.recipe);
		snprintf(number, sizeof(number), "%d", log_ctx.bilayer);
		used = log_field(buf, used, sizeof(buf), "BILAYER", number);
		snprintf(number, sizeof(number), "%d", log_ctx.step);
		used = log_field(buf, used, sizeof(buf), "STEP", number);
	}
	if (sendto(fd, buf, used, MSG_NOSIGNAL, (const struct sockaddr *)&addr,
	    sizeof(addr)) == -1)
		return -1;
	return 0;
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
