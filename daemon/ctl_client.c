/*
 * lblctl's commands that talk to lbld: the argument words go to the daemon
 * as one request (see control.h); a recipe file named on the command line
 * is read here and sent as the request's payload, so the daemon never needs
 * access to the user's files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "ctl.h"

static const char *
ctl_socket_path(void)
{
	const char *path = getenv("LBL_SOCKET");

	return path && *path ? path : CTL_DEFAULT_SOCKET;
}

static int
ctl_connect(void)
{
	const char *path = ctl_socket_path();
	struct sockaddr_un sun;
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
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "lblctl: cannot reach lbld at %s: %s%s\n", path, strerror(errno),
		    errno == ENOENT || errno == ECONNREFUSED ? " (is lbld running? see "
		    "'systemctl status lbld', or set --socket / LBL_SOCKET)" :
		    errno == EACCES ? " (are you in group lbl?)" : "");
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

/* Sends words (tab-separated) and an optional payload. */
static int
ctl_send(int fd, int argc, char **argv, const char *payload, size_t payload_len)
{
	char line[CONTROL_MAX_LINE + 1];
	size_t len = 0;
	int i, n;

	for (i = 0; i < argc; i++) {
		if (strpbrk(argv[i], "\t\n\r") != NULL) {
			fprintf(stderr, "lblctl: argument %d contains a tab or newline\n", i);
			return -1;
		}
		n = snprintf(line + len, sizeof(line) - len, "%s%s", i ? "\t" : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - len) {
			fprintf(stderr, "lblctl: the request is longer than %d bytes\n",
			    CONTROL_MAX_LINE);
			return -1;
		}
		len += (size_t)n;
	}
	line[len++] = '\n';
	if (ctl_write_all(fd, line, len) == -1 ||
	    (payload && ctl_write_all(fd, payload, payload_len) == -1)) {
		perror("lblctl: sending the request");
		return -1;
	}
	return 0;
}

/* Prints the reply lines; returns the exit status the last line gives. */
static int
ctl_read_reply(int fd)
{
	FILE *in = fdopen(fd, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = 1;

	if (in == NULL) {
		perror("lblctl: fdopen");
		close(fd);
		return 1;
	}
	while ((n = getline(&line, &cap, in)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (strncmp(line, "+ ", 2) == 0) {
			printf("%s\n", line + 2);
			fflush(stdout);
		} else if (strncmp(line, "! ", 2) == 0) {
			fprintf(stderr, "%s\n", line + 2);
		} else if (strcmp(line, "ok") == 0) {
			status = 0;
			break;
		} else if (strncmp(line, "fail ", 5) == 0) {
			char *message;
			status = (int)strtol(line + 5, &message, 10);
			if (status <= 0)
				status = 1;
			fprintf(stderr, "lblctl: %s\n", *message ? message + 1 : "failed");
			break;
		}
	}
	if (n == -1 && status == 1 && !feof(in))
		perror("lblctl: reading the reply");
	else if (n == -1)
		fprintf(stderr, "lblctl: lbld closed the connection without an answer\n");
	free(line);
	fclose(in);
	return status;
}

/*
 * Which argument, if any, names a recipe file to send as payload:
 * "run FILE" (when FILE is a readable file) and "recipe add FILE".
 */
static int
ctl_payload_arg(int argc, char **argv)
{
	struct stat st;

	if (strcmp(argv[0], "run") == 0 && argc > 1 && argv[1][0] != '-' &&
	    stat(argv[1], &st) == 0 && S_ISREG(st.st_mode))
		return 1;
	if (strcmp(argv[0], "recipe") == 0 && argc > 2 && strcmp(argv[1], "add") == 0)
		return 2;
	return -1;
}

int
ctl_remote(int argc, char **argv)
{
	char *words[CONTROL_MAX_ARGS + 2], size_word[32], *payload = NULL;
	size_t payload_len = 0;
	int fd, i, arg, status;
	struct diag d;

	if (argc > CONTROL_MAX_ARGS) {
		fprintf(stderr, "lblctl: too many arguments\n");
		return 2;
	}
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
	if ((fd = ctl_connect()) == -1) {
		free(payload);
		return 1;
	}
	if (ctl_send(fd, argc, words, payload, payload_len) == -1) {
		close(fd);
		free(payload);
		return 1;
	}
	free(payload);
	status = ctl_read_reply(fd);
	return status;
}
