/*
 * lbl-simrig's control socket: tests switch faults and inputs at run time.
 * One command per line, one answer line each, "ok ..." or "error ...":
 *   fault DEV silent|exception|stall|alarm|stuck|half|dry|trickle [MS]   clear DEV
 *   fault DEV nan|inf|huge|reading VALUE (a sensor's readings)
 *   stop DEV (a pump, line or axis stopped from outside: its own stop button)
 *   push DEV MM (an axis's position moved MM from outside, at once)
 *   get DEV (state as key=value)                   set DEV 0|1 (Modbus input or valve)
 *   latency MS (every Modbus answer from now on MS milliseconds late)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "simrig.h"

struct simrig_ctl {
	int listen_fd;
	char path[108];
	struct simrig_ctl_conn *conns;
};

struct simrig_ctl_conn {
	struct simrig *sim;
	int fd;
	char buf[512];
	size_t len;
	struct simrig_ctl_conn *next;
};

static void
simrig_ctl_command(struct simrig *sim, char *line, char *out, size_t size)
{
	char *words[4], *save = NULL, err[200];
	int n = 0, i;

	for (char *w = strtok_r(line, " \t\r", &save); w != NULL && n < 4;
	    w = strtok_r(NULL, " \t\r", &save))
		words[n++] = w;
	if (n == 0) {
		snprintf(out, size, "error empty command\n");
		return;
	}
	if (strcmp(words[0], "fault") == 0 && (n == 3 || n == 4)) {
		char kind[64];

		/* "fault DEV trickle MS" is the command line's DEV:trickle:MS, and so is reading */
		snprintf(kind, sizeof(kind), "%s%s%s", words[2], n == 4 ? ":" : "",
		    n == 4 ? words[3] : "");
		if (simrig_set_fault(sim, words[1], kind, err, sizeof(err)) == -1)
			snprintf(out, size, "error %s\n", err);
		else
			snprintf(out, size, "ok\n");
		return;
	}
	if (strcmp(words[0], "latency") == 0 && n == 2) {
		char *end;
		long ms = strtol(words[1], &end, 10);

		if (end == words[1] || *end != '\0' || ms < 0 || ms > SIMRIG_MAX_LATENCY_MS) {
			snprintf(out, size, "error latency takes milliseconds, 0 to %d\n",
			    SIMRIG_MAX_LATENCY_MS);
			return;
		}
		sim->latency_ms = (int)ms;
		log_info("latency %ld ms", ms);
		snprintf(out, size, "ok\n");
		return;
	}
	if (strcmp(words[0], "stop") == 0 && n == 2) {
		if (simrig_stop_device(sim, words[1], err, sizeof(err)) == -1)
			snprintf(out, size, "error %s\n", err);
		else
			snprintf(out, size, "ok\n");
		return;
	}
	if (strcmp(words[0], "push") == 0 && n == 3) {
		char *end;
		double mm = strtod(words[2], &end);

		if (end == words[2] || *end != '\0' || !isfinite(mm)) {
			snprintf(out, size, "error push takes millimetres, e.g. push lift 0.5\n");
			return;
		}
		if (simrig_push_axis(sim, words[1], mm, err, sizeof(err)) == -1)
			snprintf(out, size, "error %s\n", err);
		else
			snprintf(out, size, "ok\n");
		return;
	}
	if (strcmp(words[0], "clear") == 0 && n == 2) {
		if (simrig_set_fault(sim, words[1], "clear", err, sizeof(err)) == -1)
			snprintf(out, size, "error %s\n", err);
		else
			snprintf(out, size, "ok\n");
		return;
	}
	if ((strcmp(words[0], "get") == 0 && n == 2) ||
	    (strcmp(words[0], "set") == 0 && n == 3)) {
		i = rig_device_index(sim->rig, words[1]);
		if (i < 0 || sim->devices[i].map == NULL) {
			snprintf(out, size, "error no Modbus device '%s' on this rig\n", words[1]);
			return;
		}
		if (n == 3) {
			if (strcmp(words[2], "0") != 0 && strcmp(words[2], "1") != 0) {
				snprintf(out, size, "error set takes 0 or 1\n");
				return;
			}
			sim->devices[i].active = words[2][0] == '1';
		}
		snprintf(out, size, "ok ");
		simrig_phys_describe(sim, &sim->devices[i], out + 3, size - 4);
		strcat(out, "\n");
		return;
	}
	snprintf(out, size, "error unknown command (fault DEV KIND [MS|VALUE], clear DEV, get DEV, "
	    "set DEV 0|1, stop DEV, push DEV MM, latency MS)\n");
}

static void
simrig_ctl_close(struct simrig *sim, struct simrig_ctl_conn *conn)
{
	struct simrig_ctl_conn **link;

	for (link = &sim->ctl->conns; *link != NULL; link = &(*link)->next) {
		if (*link == conn) {
			*link = conn->next;
			break;
		}
	}
	loop_del_fd(sim->loop, conn->fd);
	close(conn->fd);
	free(conn);
}

static void
simrig_ctl_on_data(void *arg, int fd, uint32_t events)
{
	struct simrig_ctl_conn *conn = arg;
	char out[512], *nl;
	ssize_t n;
	size_t used;

	(void)events;
	n = read(fd, conn->buf + conn->len, sizeof(conn->buf) - 1 - conn->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		simrig_ctl_close(conn->sim, conn);
		return;
	}
	conn->len += (size_t)n;
	conn->buf[conn->len] = '\0';
	while ((nl = strchr(conn->buf, '\n')) != NULL) {
		*nl = '\0';
		simrig_ctl_command(conn->sim, conn->buf, out, sizeof(out));
		if (write(fd, out, strlen(out)) == -1)
			log_warn("simrig: control answer");
		used = (size_t)(nl + 1 - conn->buf);
		conn->len -= used;
		memmove(conn->buf, nl + 1, conn->len + 1);
	}
	if (conn->len == sizeof(conn->buf) - 1)
		simrig_ctl_close(conn->sim, conn);	/* a line this long is not a command */
}

static void
simrig_ctl_on_accept(void *arg, int fd, uint32_t events)
{
	struct simrig *sim = arg;
	struct simrig_ctl_conn *conn;
	int conn_fd;

	(void)events;
	if ((conn_fd = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	if ((conn = calloc(1, sizeof(*conn))) == NULL) {
		close(conn_fd);
		return;
	}
	conn->sim = sim;
	conn->fd = conn_fd;
	if (loop_add_fd(sim->loop, conn_fd, EPOLLIN, simrig_ctl_on_data, conn) == -1) {
		close(conn_fd);
		free(conn);
		return;
	}
	conn->next = sim->ctl->conns;
	sim->ctl->conns = conn;
}

int
simrig_ctl_start(struct simrig *sim, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct simrig_ctl *ctl;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_warnx("control socket path too long: %s", path);
		return -1;
	}
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
		return -1;
	sim->ctl = ctl;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	strcpy(addr.sun_path, path);
	unlink(path);
	ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->listen_fd == -1 || bind(ctl->listen_fd, (struct sockaddr *)&addr,
	    sizeof(addr)) == -1 || listen(ctl->listen_fd, 4) == -1) {
		log_warn("control socket %s", path);
		return -1;
	}
	return loop_add_fd(sim->loop, ctl->listen_fd, EPOLLIN, simrig_ctl_on_accept, sim);
}

void
simrig_ctl_stop(struct simrig *sim)
{
	struct simrig_ctl *ctl = sim->ctl;

	if (ctl == NULL)
		return;
	while (ctl->conns != NULL)
		simrig_ctl_close(sim, ctl->conns);
	if (ctl->listen_fd != -1) {
		loop_del_fd(sim->loop, ctl->listen_fd);
		close(ctl->listen_fd);
		unlink(ctl->path);
	}
	free(ctl);
	sim->ctl = NULL;
}
