/*
 * lblctl's commands that talk to lbld: the argument words go to the daemon
 * as one request (see control.h); a recipe file named on the command line
 * is read here and sent as the request's payload, so the daemon never needs
 * access to the user's files.
 *
 * Nothing waits forever: connecting, sending and every wait for the next
 * reply line are bounded by the timeout (--timeout, LBL_TIMEOUT, or
 * CTL_DEFAULT_TIMEOUT_S). Once lbld says it follows (a "~" keep-alive),
 * the bound between lines is CTL_KEEPALIVES_MISSED keep-alive periods if
 * that is longer, so a batch can be followed for hours and a dead lbld is
 * still noticed within seconds.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "lineread.h"
#include "protocol.h"
#include "ctl.h"

/* Keep-alives a follower may miss before lbld counts as gone. */
#define CTL_KEEPALIVES_MISSED	3
/*
 * The longest reply line read: lbld drops a client whose backlog passes
 * 4 MiB, so no line it sends is longer.
 */
#define CTL_MAX_LINE		CONTROL_MAX_BACKLOG

static const char *
ctl_socket_path(void)
{
	const char *path = getenv("LBL_SOCKET");

	return path && *path ? path : CTL_DEFAULT_SOCKET;
}

int
ctl_parse_timeout(const char *text, double *seconds)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v <= 0 ||
	    v > CTL_MAX_TIMEOUT_S)
		return -1;
	*seconds = v;
	return 0;
}

/* The timeout in seconds: LBL_TIMEOUT (which --timeout sets) or the default; -1 if invalid. */
static int
ctl_timeout(double *seconds)
{
	const char *text = getenv("LBL_TIMEOUT");

	*seconds = CTL_DEFAULT_TIMEOUT_S;
	if (text == NULL || *text == '\0')
		return 0;
	if (ctl_parse_timeout(text, seconds) == -1) {
		fprintf(stderr, "lblctl: LBL_TIMEOUT: expected seconds, more than 0 and at most "
		    "%d, not '%s'\n", CTL_MAX_TIMEOUT_S, text);
		return -1;
	}
	return 0;
}

static void
ctl_no_reply(double seconds, const char *why)
{
	fprintf(stderr, "lblctl: no reply from lbld on %s within %g s%s\n", ctl_socket_path(),
	    seconds, why);
}

/*
 * Connects to lbld. A listen queue that stays full holds connect() and
 * every send up to the timeout (SO_SNDTIMEO, which AF_UNIX connect
 * honours). Returns the socket, or -1 (said on stderr).
 */
static int
ctl_connect(double timeout_s)
{
	const char *path = ctl_socket_path();
	struct sockaddr_un sun;
	struct timeval tv;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "lblctl: socket path %s is too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		perror("lblctl: socket");
		return -1;
	}
	tv.tv_sec = (time_t)timeout_s;
	tv.tv_usec = (suseconds_t)((timeout_s - (double)tv.tv_sec) * 1e6);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		perror("lblctl: setting the send timeout");
		close(fd);
		return -1;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ETIMEDOUT)
			ctl_no_reply(timeout_s, " (it accepts no connection)");
		else
			fprintf(stderr, "lblctl: cannot reach lbld at %s: %s%s\n", path,
			    strerror(errno), errno == ENOENT || errno == ECONNREFUSED ? " (is lbld "
			    "running? see 'systemctl status lbld', or set --socket / LBL_SOCKET)" :
			    errno == EACCES ? " (every user may connect: the socket should be 0666 "
			    "in a 0755 directory, see lbld(8))" : "");
		close(fd);
		return -1;
	}
	return fd;
}

static int
ctl_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Sends words (tab-separated) and an optional payload. Returns 0; -2 for a
 * request that cannot be sent (said on stderr); -1 when sending failed,
 * with errno (lbld may have said why before it closed: read its reply).
 */
static int
ctl_send(int fd, int argc, char **argv, const char *payload, size_t payload_len)
{
	char line[CONTROL_MAX_LINE + 1];
	size_t len = 0;
	int i, n;

	for (i = 0; i < argc; i++) {
		if (strpbrk(argv[i], "\t\n\r") != NULL) {
			fprintf(stderr, "lblctl: argument %d contains a tab or newline\n", i);
			return -2;
		}
		n = snprintf(line + len, sizeof(line) - len, "%s%s", i ? "\t" : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - len) {
			fprintf(stderr, "lblctl: the request is longer than %d bytes\n",
			    CONTROL_MAX_LINE);
			return -2;
		}
		len += (size_t)n;
	}
	line[len++] = '\n';
	if (ctl_write_all(fd, line, len) == -1 ||
	    (payload && ctl_write_all(fd, payload, payload_len) == -1))
		return -1;
	return 0;
}

/* Reply lines as they arrive on a socket, each wait bounded. */
/*
 * Prints the reply lines; returns the exit status the last line gives (1
 * when there is none). send_errno is how sending failed, 0 if it did not:
 * lbld may have told why it closed the connection, and that is printed
 * rather than the broken pipe.
 */
static int
ctl_read_reply(int fd, double timeout_s, int send_errno, ctl_line_cb line_cb, void *line_arg)
{
	struct lineread r = { .fd = fd, .max_bytes = CTL_MAX_LINE };
	double bound_s = timeout_s;
	char *line, *message, other[80] = "", why[160] = "";
	int rc, status = -1;

	while (status == -1 && (rc = lineread_next(&r, (int64_t)(bound_s * 1000), &line)) == 1) {
		if (strncmp(line, "+ ", 2) == 0 && line_cb != NULL) {
			line_cb(line_arg, line + 2);
		} else if (strncmp(line, "+ ", 2) == 0) {
			printf("%s\n", line + 2);
			fflush(stdout);
		} else if (strncmp(line, "! ", 2) == 0) {
			fprintf(stderr, "%s\n", line + 2);
		} else if (strcmp(line, "~") == 0) {
			/* lbld follows: lines may be a keep-alive period apart */
			if (bound_s < CTL_KEEPALIVES_MISSED * CONTROL_KEEPALIVE_MS / 1000.0)
				bound_s = CTL_KEEPALIVES_MISSED * CONTROL_KEEPALIVE_MS / 1000.0;
		} else if (strcmp(line, "ok") == 0) {
			status = 0;
		} else if (strncmp(line, "fail ", 5) == 0) {
			status = (int)strtol(line + 5, &message, 10);
			if (status <= 0)
				status = 1;
			fprintf(stderr, "lblctl: %s\n", *message ? message + 1 : "failed");
		} else if (other[0] == '\0') {
			/* not lbld's protocol: remember it for the error */
			snprintf(other, sizeof(other), "%.60s", line);
		}
	}
	if (status != -1) {
		/* answered */
	} else if (rc == -2) {
		if (other[0])
			snprintf(why, sizeof(why), " (it said '%s': is that lbld's socket?)", other);
		ctl_no_reply(bound_s, why);
	} else if (send_errno != 0) {
		fprintf(stderr, "lblctl: sending the request to %s: %s\n", ctl_socket_path(),
		    strerror(send_errno));
	} else if (rc == 0) {
		fprintf(stderr, "lblctl: lbld closed the connection without an answer\n");
	} else {
		fprintf(stderr, "lblctl: reading the reply from %s: %s\n", ctl_socket_path(),
		    strerror(errno));
	}
	lineread_free(&r);
	if (close(fd) == -1)
		perror("lblctl: close");
	return status == -1 ? 1 : status;
}

/*
 * Which argument, if any, names a recipe file to send as payload:
 * "run FILE" and "preflight FILE" (when FILE is a readable file),
 * "recipe add FILE", and "recipe diff STORED FILE" (when FILE is a file:
 * otherwise it names a stored recipe).
 */
static int
ctl_payload_arg(int argc, char **argv)
{
	struct stat st;

	if ((strcmp(argv[0], "run") == 0 || strcmp(argv[0], "preflight") == 0) && argc > 1 &&
	    argv[1][0] != '-' &&
	    stat(argv[1], &st) == 0 && S_ISREG(st.st_mode))
		return 1;
	if (strcmp(argv[0], "recipe") == 0 && argc > 2 && strcmp(argv[1], "add") == 0)
		return 2;
	if (strcmp(argv[0], "recipe") == 0 && argc == 4 && strcmp(argv[1], "diff") == 0 &&
	    stat(argv[3], &st) == 0 && S_ISREG(st.st_mode))
		return 3;
	return -1;
}

int
ctl_remote(int argc, char **argv)
{
	return ctl_remote_lines(argc, argv, NULL, NULL);
}

int
ctl_remote_lines(int argc, char **argv, ctl_line_cb line_cb, void *line_arg)
{
	char *words[CONTROL_MAX_ARGS + 2], size_word[32], *payload = NULL;
	size_t payload_len = 0;
	int fd, i, arg, rc, send_errno = 0;
	double timeout_s;
	struct diag d;

	if (argc > CONTROL_MAX_ARGS) {
		fprintf(stderr, "lblctl: too many arguments\n");
		return 2;
	}
	if (ctl_timeout(&timeout_s) == -1)
		return 2;
	for (i = 0; i < argc; i++)
		words[i] = argv[i];
	arg = ctl_payload_arg(argc, argv);
	if (arg != -1) {
		diag_init(&d, argv[arg]);
		payload = conf_read_file(argv[arg], CONF_MAX_FILE_BYTES, &payload_len, &d);
		if (payload == NULL) {
			char *text = diag_render(&d);
			fputs(text ? text : "lblctl: cannot read the recipe\n", stderr);
			free(text);
			diag_free(&d);
			return 2;
		}
		diag_free(&d);
		/* the file's name travels too, so errors can name it */
		snprintf(size_word, sizeof(size_word), "@%zu", payload_len);
		for (i = argc; i > arg; i--)
			words[i] = words[i - 1];
		words[arg + 1] = size_word;
		argc++;
	}
	if ((fd = ctl_connect(timeout_s)) == -1) {
		free(payload);
		return 1;
	}
	rc = ctl_send(fd, argc, words, payload, payload_len);
	free(payload);
	if (rc == -2) {
		close(fd);
		return 1;
	}
	if (rc == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			ctl_no_reply(timeout_s, " (it takes no request)");
			close(fd);
			return 1;
		}
		send_errno = errno;
	}
	return ctl_read_reply(fd, timeout_s, send_errno, line_cb, line_arg);
}
