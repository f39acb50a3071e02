/*
 * lbl-simrig's Modbus servers. libmodbus builds every answer (modbus_reply
 * against the device's register map), but framing and unit dispatch are
 * done here: libmodbus's own server loop blocks on one connection and its
 * RTU server answers a single unit id, while a real bus carries several
 * devices and a TCP gateway several clients.
 *
 * An RTU bus is a pseudo-terminal, which carries bytes at memory speed; a
 * real RS-485 line carries each character in (start + data + parity +
 * stop bits) / baud seconds, one frame at a time, with 3.5 characters of
 * silence after each (fixed at 1.75 ms above 19,200 baud, as the Modbus
 * serial line specification says). So, unless --no-wire-time, each RTU
 * frame takes its wire time here: a request is heard when its last
 * character would have arrived and the silence after it has passed (it
 * acts then: that is when --trace stamps it), and its answer reaches the
 * master when its own last character would have, the line being busy all
 * the while. A master that sends while the line is busy waits for it, as
 * on a real bus.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "simrig.h"

#define SIMRIG_FRAME_MAX	260	/* MBAP 7 + PDU 253 */
#define SIMRIG_STALL_MS		2000	/* past any sane response timeout */
#define SIMRIG_RTU_GAP_MS	50	/* a partial RTU frame older than this is noise */

struct simrig_client {
	struct simrig_server *server;
	int fd;
	unsigned serial;		/* to tell a delayed answer's client is gone */
	uint8_t buf[SIMRIG_FRAME_MAX * 2];
	size_t len;
	int64_t last_byte_ns;
	int64_t rx_ns;			/* the kernel's stamp of the last bytes read (TCP), 0 none */
	int64_t last_due_ns;		/* due time of its latest in-order delayed answer */
	/* a trickling device's answer to this client: the bytes still to send */
	uint8_t out[SIMRIG_FRAME_MAX];
	size_t out_len, out_sent;
	int trickle_ms;
	int64_t trickle_next_ns;
	struct loop_timer *trickle_timer;	/* created at the first trickle */
	/* RTU wire time: an answer on its way, written whole when its last character arrives */
	uint8_t wire_out[SIMRIG_FRAME_MAX];
	size_t wire_len;
	struct loop_timer *wire_timer;		/* created at the first answer */
	struct simrig_client *next;
};

struct simrig_server {
	struct simrig *sim;
	int bus;
	int rtu;
	/*
	 * RTU wire time (all 0 without it): a character, the silence after a
	 * frame, the line's next idle time
	 */
	int64_t char_ns, silence_ns, line_free_ns;
	modbus_t *ctx;			/* builds answers; its socket is set per answer */
	int listen_fd;			/* TCP */
	struct simrig_client *clients;	/* TCP clients, or the one serial port (RTU) */
};

/* A request whose answer is due later: --latency, or a stalled device. */
struct simrig_delayed {
	struct simrig_server *server;
	unsigned serial;
	uint8_t req[SIMRIG_FRAME_MAX];
	int len;
	int64_t due_ns;
	int64_t acted_ns;		/* when the device heard it (struct simrig's acted_ns) */
	struct simrig_delayed *next;
};

struct simrig_net {
	struct simrig_server *servers;
	size_t count;
	unsigned next_serial;
	struct simrig_delayed *delayed;	/* sorted by due time; equal times in arrival order */
	struct loop_timer *delay_timer;
	/*
	 * A socket pair that catches an answer libmodbus builds, for the
	 * trickle and half faults, which send it in pieces; -1 until needed.
	 */
	int capture[2];
};

static void simrig_answer(struct simrig_server *server, struct simrig_client *client,
    const uint8_t *req, int len, int64_t acted_ns);

/*
 * --trace on an RTU bus with wire time: one line per frame on the line,
 * "NS BUS wire BUSY_NS UNIT FC", NS when its first character starts and
 * BUSY_NS how long it keeps the line (its characters and the silence after
 * them), for a request and for its answer, so that a benchmark can tell
 * how busy the line was and with what (reads are polls and readbacks,
 * writes are commands). "wire" is no device's operation, so readers of
 * the commands skip these lines.
 */
static void
simrig_trace_wire(struct simrig_server *server, int64_t start_ns, int64_t busy_ns, int unit,
    int fc)
{
	struct simrig *sim = server->sim;

	if (sim->trace != NULL)
		fprintf(sim->trace, "%lld %s wire %lld %d %d\n", (long long)start_ns,
		    sim->rig->buses[server->bus].name, (long long)busy_ns, unit, fc);
}

static struct simrig_client *
simrig_client_by_serial(struct simrig_server *server, unsigned serial)
{
	struct simrig_client *c;

	for (c = server->clients; c != NULL; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
}

/* The list is sorted, so its head is the next answer due; no timer when it is empty. */
static void
simrig_delay_arm(struct simrig_net *net)
{
	if (net->delayed == NULL)
		loop_timer_cancel(net->delay_timer);
	else
		loop_timer_at(net->delay_timer, net->delayed->due_ns);
}

static void
simrig_on_delay_timer(void *arg)
{
	struct simrig_net *net = arg;
	struct simrig_delayed *s;
	struct simrig_client *client;
	int64_t now = loop_now_ns();

	/* answering never queues again, so the list only shrinks here */
	while ((s = net->delayed) != NULL && s->due_ns <= now) {
		net->delayed = s->next;
		if ((client = simrig_client_by_serial(s->server, s->serial)) != NULL)
			simrig_answer(s->server, client, s->req, s->len, s->acted_ns);
		free(s);
	}
	simrig_delay_arm(net);
}

/*
 * Queues the answer to req for due_ns. Answers to one client leave in the
 * order their requests came, because their due times never decrease (see
 * simrig_request()) and equal due times keep arrival order here.
 */
static void
simrig_delay(struct simrig_server *server, struct simrig_client *client, const uint8_t *req,
    int len, int64_t due_ns, int64_t acted_ns)
{
	struct simrig_net *net = server->sim->net;
	struct simrig_delayed *s, **link;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("simrig: bus '%s': delayed answer to unit %d",
		    server->sim->rig->buses[server->bus].name, req[server->rtu ? 0 : 6]);
		return;
	}
	s->server = server;
	s->serial = client->serial;
	memcpy(s->req, req, (size_t)len);
	s->len = len;
	s->due_ns = due_ns;
	s->acted_ns = acted_ns;
	for (link = &net->delayed; *link != NULL && (*link)->due_ns <= due_ns;
	    link = &(*link)->next)
		;
	s->next = *link;
	*link = s;
	simrig_delay_arm(net);
}

/*
 * A whole request frame arrived: answer it now, or queue its answer.
 * --latency delays every answer by that much wall time, in order per
 * client. A stalled device's answer comes SIMRIG_STALL_MS later still, out
 * of that order: it models a device answering after the master has given
 * up, which holds nobody else back on a real line either.
 */
static void
simrig_request(struct simrig_server *server, struct simrig_client *client, const uint8_t *req,
    int len)
{
	struct simrig *sim = server->sim;
	int header = server->rtu ? 1 : 7;
	int unit = req[header - 1];
	struct simrig_device *dev = simrig_find_device(sim, server->bus, unit, req + header,
	    len - header);
	int64_t now = loop_now_ns(), due = now + (int64_t)sim->latency_ms * 1000000;
	/*
	 * It reached the device when the kernel received it (TCP), or now: a
	 * stamp from the future or more than a second old (the realtime clock
	 * stepped between the receipt and its reading) is not believed.
	 */
	int64_t acted = client->rx_ns != 0 && client->rx_ns <= now &&
	    now - client->rx_ns < 1000000000LL ? client->rx_ns : now;

	/* a silent device is one the master cannot reach: it hears nothing either */
	if (dev != NULL && dev->fault != SIMRIG_SILENT)
		simrig_phys_heard(sim, dev);
	if (dev != NULL && dev->fault == SIMRIG_STALL) {
		simrig_delay(server, client, req, len, due + (int64_t)SIMRIG_STALL_MS * 1000000,
		    acted);
		return;
	}
	if (server->char_ns > 0) {
		/* the request goes out when the line is free, and is heard after the silence */
		int64_t start = now > server->line_free_ns ? now : server->line_free_ns;
		int64_t heard = start + (int64_t)len * server->char_ns + server->silence_ns;

		server->line_free_ns = heard;
		simrig_trace_wire(server, start, heard - start, unit, req[1]);
		acted = heard;
		if (due < heard)
			due = heard;
	}
	if (due < client->last_due_ns)
		due = client->last_due_ns;	/* the latency was lowered meanwhile */
	if (due <= now) {
		simrig_answer(server, client, req, len, acted);
		return;
	}
	client->last_due_ns = due;
	simrig_delay(server, client, req, len, due, acted);
}

static void
simrig_trickle_stop(struct simrig_client *client)
{
	client->out_len = client->out_sent = 0;
	if (client->trickle_timer != NULL)
		loop_timer_cancel(client->trickle_timer);
}

/* Sends the next byte of a trickled answer; the timer comes back for the one after. */
static void
simrig_on_trickle(void *arg)
{
	struct simrig_client *client = arg;

	if (client->out_sent >= client->out_len)
		return;
	if (write(client->fd, client->out + client->out_sent, 1) != 1) {
		/* a closed peer is noticed by the reader; the answer is given up */
		simrig_trickle_stop(client);
		return;
	}
	if (++client->out_sent == client->out_len) {
		simrig_trickle_stop(client);
		return;
	}
	client->trickle_next_ns += (int64_t)client->trickle_ms * 1000000;
	if (loop_timer_at(client->trickle_timer, client->trickle_next_ns) == -1)
		simrig_trickle_stop(client);
}

/*
 * Builds the answer to req into out through a socket pair instead of the
 * client's fd: libmodbus only sends what it builds. Returns its length, or
 * -1 (logged).
 */
static int
simrig_capture(struct simrig_server *server, struct simrig_device *dev, const uint8_t *req,
    int len, uint8_t *out, size_t size)
{
	struct simrig_net *net = server->sim->net;
	ssize_t n;

	if (net->capture[0] == -1 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, net->capture) == -1) {
		log_warn("simrig: socketpair for a %s answer", simrig_fault_names[dev->fault]);
		net->capture[0] = net->capture[1] = -1;
		return -1;
	}
	modbus_set_socket(server->ctx, net->capture[0]);
	if (modbus_reply(server->ctx, req, len, dev->map) == -1) {
		log_warnx("device '%s': reply: %s", dev->cfg->name, modbus_strerror(errno));
		return -1;
	}
	if ((n = read(net->capture[1], out, size)) <= 0) {
		log_warn("device '%s': reading back its answer", dev->cfg->name);
		return -1;
	}
	return (int)n;
}

/*
 * The trickle and half faults: the device acts on the request as it
 * arrives, as a slow device does, and its answer leaves in pieces: one
 * byte now and one every trickle_ms (a new request from the client, or
 * its going, ends the trickle), or the first half and then nothing.
 */
static void
simrig_answer_slowly(struct simrig_server *server, struct simrig_client *client,
    struct simrig_device *dev, const uint8_t *req, int len)
{
	int n = simrig_capture(server, dev, req, len, client->out, sizeof(client->out));

	/* the RTU context closes its port at exit: it must hold the tty again */
	modbus_set_socket(server->ctx, client->fd);
	if (n <= 0)
		return;
	if (dev->fault == SIMRIG_HALF) {
		if (write(client->fd, client->out, (size_t)n / 2) == -1)
			log_warn("device '%s': half an answer", dev->cfg->name);
		return;
	}
	if (client->trickle_timer == NULL &&
	    (client->trickle_timer = loop_timer_new(server->sim->loop, simrig_on_trickle,
	    client)) == NULL)
		return;
	client->out_len = (size_t)n;
	client->out_sent = 0;
	client->trickle_ms = dev->trickle_ms;
	client->trickle_next_ns = loop_now_ns();
	simrig_on_trickle(client);
}

/* The last character of an answer on the wire has arrived: the master gets it whole. */
static void
simrig_on_wire(void *arg)
{
	struct simrig_client *client = arg;
	size_t len = client->wire_len;

	client->wire_len = 0;
	if (len > 0 && write(client->fd, client->wire_out, len) != (ssize_t)len)
		log_warn("simrig: bus '%s': an answer of %zu bytes",
		    client->server->sim->rig->buses[client->server->bus].name, len);
}

/*
 * RTU wire time: the answer is built now (the device acts on the request
 * at once) and leaves when its last character would reach the master; the
 * line stays busy until then, and for the silence after it.
 */
static void
simrig_answer_on_wire(struct simrig_server *server, struct simrig_client *client,
    struct simrig_device *dev, const uint8_t *req, int len)
{
	int64_t now = loop_now_ns(), start;
	int n = simrig_capture(server, dev, req, len, client->wire_out, sizeof(client->wire_out));

	modbus_set_socket(server->ctx, client->fd);
	if (n <= 0)
		return;
	if (client->wire_timer == NULL &&
	    (client->wire_timer = loop_timer_new(server->sim->loop, simrig_on_wire, client)) == NULL)
		return;
	if (client->wire_len > 0 && server->sim->verbose)
		log_info("bus '%s': an answer still on the line is lost to the next (a collision)",
		    server->sim->rig->buses[server->bus].name);
	start = now > server->line_free_ns ? now : server->line_free_ns;
	client->wire_len = (size_t)n;
	server->line_free_ns = start + (int64_t)n * server->char_ns + server->silence_ns;
	simrig_trace_wire(server, start, server->line_free_ns - start, req[0], req[1]);
	if (loop_timer_at(client->wire_timer, start + (int64_t)n * server->char_ns) == -1) {
		log_warnx("simrig: bus '%s': cannot time an answer; sent at once",
		    server->sim->rig->buses[server->bus].name);
		simrig_on_wire(client);
	}
}

/* Answers one whole request frame (MBAP header or RTU address first). */
static void
simrig_answer(struct simrig_server *server, struct simrig_client *client, const uint8_t *req,
    int len, int64_t acted_ns)
{
	struct simrig *sim = server->sim;
	int header = server->rtu ? 1 : 7;
	int unit = req[header - 1], fc = req[header];
	struct simrig_device *dev = simrig_find_device(sim, server->bus, unit, req + header,
	    len - header);
	int address = req[header + 1] << 8 | req[header + 2], count = 1;

	modbus_set_socket(server->ctx, client->fd);
	if (dev == NULL) {
		/* a gateway says so; on a serial line an absent unit is just silent */
		if (!server->rtu)
			modbus_reply_exception(server->ctx, req, MODBUS_EXCEPTION_GATEWAY_TARGET);
		return;
	}
	if (dev->fault == SIMRIG_SILENT)
		return;
	if (dev->fault == SIMRIG_EXCEPTION) {
		modbus_reply_exception(server->ctx, req, MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE);
		return;
	}
	if (server->rtu)
		modbus_set_slave(server->ctx, unit);
	simrig_phys_update(sim);
	if (dev->fault == SIMRIG_TRICKLE || dev->fault == SIMRIG_HALF)
		simrig_answer_slowly(server, client, dev, req, len);
	else if (server->char_ns > 0)
		simrig_answer_on_wire(server, client, dev, req, len);
	else if (modbus_reply(server->ctx, req, len, dev->map) == -1 && sim->verbose)
		log_warnx("unit %d: reply: %s", unit, modbus_strerror(errno));
	if (fc == 15 || fc == 16)
		count = req[header + 3] << 8 | req[header + 4];
	if (fc == 5 || fc == 6 || fc == 15 || fc == 16) {
		sim->acted_ns = acted_ns;
		simrig_phys_written(sim, dev, fc, address, count);
		sim->acted_ns = 0;
	}
}

static void
simrig_client_close(struct simrig_server *server, struct simrig_client *client)
{
	struct simrig_client **link;

	for (link = &server->clients; *link != NULL; link = &(*link)->next) {
		if (*link == client) {
			*link = client->next;
			break;
		}
	}
	loop_del_fd(server->sim->loop, client->fd);
	close(client->fd);
	if (client->trickle_timer != NULL)
		loop_timer_free(client->trickle_timer);
	if (client->wire_timer != NULL)
		loop_timer_free(client->wire_timer);
	free(client);
}

/* Length of the TCP frame at buf: 0 if incomplete, -1 if malformed. */
static int
simrig_tcp_frame(const uint8_t *buf, size_t len)
{
	int pdu;

	if (len < 7)
		return 0;
	pdu = buf[4] << 8 | buf[5];
	if (buf[2] != 0 || buf[3] != 0 || pdu < 2 || 6 + pdu > SIMRIG_FRAME_MAX)
		return -1;
	return (size_t)(6 + pdu) <= len ? 6 + pdu : 0;
}

static uint16_t
simrig_crc16(const uint8_t *p, size_t len)
{
	uint16_t crc = 0xFFFF;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (b = 0; b < 8; b++)
			crc = crc & 1 ? (uint16_t)(crc >> 1 ^ 0xA001) : (uint16_t)(crc >> 1);
	}
	return crc;
}

/* Length of the RTU request at buf: 0 if incomplete, -1 if not a frame. */
static int
simrig_rtu_frame(const uint8_t *buf, size_t len)
{
	int need;
	uint16_t crc;

	if (len < 2)
		return 0;
	switch (buf[1]) {
	case 1: case 2: case 3: case 4: case 5: case 6:
		need = 8;
		break;
	case 15: case 16:
		if (len < 7)
			return 0;
		need = 9 + buf[6];
		break;
	case 23:
		if (len < 11)
			return 0;
		need = 13 + buf[10];
		break;
	default:
		return -1;
	}
	if (need > SIMRIG_FRAME_MAX)
		return -1;
	if (len < (size_t)need)
		return 0;
	crc = simrig_crc16(buf, (size_t)need - 2);
	if (buf[need - 2] != (crc & 0xFF) || buf[need - 1] != crc >> 8)
		return -1;
	return need;
}

/*
 * A TCP client's bytes, up to size, into its buffer, as read(2), with the
 * kernel's receive stamp of the last of them (SO_TIMESTAMPNS, on the
 * realtime clock) moved to CLOCK_MONOTONIC in client->rx_ns: the two
 * clocks are read together here, a few microseconds after the stamp, so
 * a step of the realtime clock in between is all that could skew it.
 * rx_ns is 0 when the kernel gave no stamp.
 */
static ssize_t
simrig_recv_stamped(struct simrig_client *client, size_t size)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { client->buf + client->len, size };
	struct msghdr msg = { 0 };
	struct cmsghdr *c;
	struct timespec real, mono, *ts;
	ssize_t n;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	client->rx_ns = 0;
	if ((n = recvmsg(client->fd, &msg, 0)) <= 0)
		return n;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		ts = (struct timespec *)(void *)CMSG_DATA(c);
		if (clock_gettime(CLOCK_REALTIME, &real) == -1 ||
		    clock_gettime(CLOCK_MONOTONIC, &mono) == -1)
			break;
		client->rx_ns = (int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec -
		    (((int64_t)real.tv_sec - ts->tv_sec) * 1000000000 + real.tv_nsec - ts->tv_nsec);
	}
	return n;
}

static void
simrig_on_data(void *arg, int fd, uint32_t events)
{
	struct simrig_client *client = arg;
	struct simrig_server *server = client->server;
	int64_t now = loop_now_ns();
	ssize_t n;
	int frame;

	if (server->rtu && client->len > 0 &&
	    now - client->last_byte_ns > (int64_t)SIMRIG_RTU_GAP_MS * 1000000)
		client->len = 0;	/* the rest of that frame never came */
	n = server->rtu ? read(fd, client->buf + client->len, sizeof(client->buf) - client->len) :
	    simrig_recv_stamped(client, sizeof(client->buf) - client->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		const struct rig_bus *bus = &server->sim->rig->buses[server->bus];

		if (!server->rtu) {
			simrig_client_close(server, client);
			return;
		}
		/* libmodbus's port reads 0 at once when nothing is there (VMIN 0) */
		if (n == 0 && !(events & (EPOLLHUP | EPOLLERR)))
			return;
		/*
		 * The line hung up (the pty's other side closed: socat gone, an
		 * adapter unplugged): it would poll readable for ever, so it
		 * leaves the loop, and this bus answers no more.
		 */
		if (n == -1)
			log_warn("simrig: reading %s: no longer answering on bus '%s'", bus->device,
			    bus->name);
		else
			log_warnx("simrig: %s hung up: no longer answering on bus '%s'", bus->device,
			    bus->name);
		loop_del_fd(server->sim->loop, fd);
		return;
	}
	client->len += (size_t)n;
	client->last_byte_ns = now;
	for (;;) {
		frame = server->rtu ? simrig_rtu_frame(client->buf, client->len) :
		    simrig_tcp_frame(client->buf, client->len);
		if (frame == 0)
			return;
		if (frame < 0) {
			if (!server->rtu) {
				simrig_client_close(server, client);
				return;
			}
			/* resynchronise: drop one byte and look again */
			memmove(client->buf, client->buf + 1, --client->len);
			continue;
		}
		/* the master talks again: a trickling answer to it is given up, as is one on the wire */
		simrig_trickle_stop(client);
		if (client->wire_len > 0) {
			client->wire_len = 0;
			loop_timer_cancel(client->wire_timer);
		}
		simrig_request(server, client, client->buf, frame);
		client->len -= (size_t)frame;
		memmove(client->buf, client->buf + frame, client->len);
	}
}

static struct simrig_client *
simrig_client_add(struct simrig_server *server, int fd)
{
	struct simrig_client *client;

	if ((client = calloc(1, sizeof(*client))) == NULL) {
		log_warn("simrig: client");
		close(fd);
		return NULL;
	}
	client->server = server;
	client->fd = fd;
	client->serial = ++server->sim->net->next_serial;
	if (loop_add_fd(server->sim->loop, fd, EPOLLIN, simrig_on_data, client) == -1) {
		close(fd);
		free(client);
		return NULL;
	}
	client->next = server->clients;
	server->clients = client;
	return client;
}

static void
simrig_on_accept(void *arg, int fd, uint32_t events)
{
	struct simrig_server *server = arg;
	int client_fd, one = 1;

	(void)events;
	if ((client_fd = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("simrig: accept");
		return;
	}
	/* answers are small and must leave at once */
	setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	simrig_client_add(server, client_fd);
}

static int
simrig_tcp_listen(struct simrig_server *server, const struct rig_bus *bus)
{
	struct addrinfo hints = { 0 }, *res;
	char port[16];
	int fd, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", bus->port);
	if ((rc = getaddrinfo(bus->host, port, &hints, &res)) != 0) {
		log_warnx("bus '%s': %s:%d: %s", bus->name, bus->host, bus->port, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 || listen(fd, 16) == -1) {
		log_warn("bus '%s': listening on %s:%d", bus->name, bus->host, bus->port);
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	/* connections inherit it: a request sent before the accept is stamped too */
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) == -1)
		log_warn("bus '%s': SO_TIMESTAMPNS: --trace stamps requests when read", bus->name);
	server->listen_fd = fd;
	/* the context only frames answers; its address is never connected to */
	if ((server->ctx = modbus_new_tcp("127.0.0.1", bus->port)) == NULL) {
		log_warn("bus '%s': modbus_new_tcp", bus->name);
		return -1;
	}
	return loop_add_fd(server->sim->loop, fd, EPOLLIN, simrig_on_accept, server);
}

static int
simrig_rtu_open(struct simrig_server *server, const struct rig_bus *bus)
{
	int fd, flags;

	server->ctx = modbus_new_rtu(bus->device, bus->baud, bus->parity, bus->data_bits,
	    bus->stop_bits);
	if (server->ctx == NULL) {
		log_warn("bus '%s': modbus_new_rtu %s", bus->name, bus->device);
		return -1;
	}
	if (modbus_connect(server->ctx) == -1) {
		log_warnx("bus '%s': cannot open %s: %s", bus->name, bus->device,
		    modbus_strerror(errno));
		return -1;
	}
	if (!server->sim->no_wire_time && bus->baud > 0) {
		int bits = 1 + bus->data_bits + (bus->parity != 'N') + bus->stop_bits;

		server->char_ns = (int64_t)bits * 1000000000 / bus->baud;
		server->silence_ns = bus->baud > 19200 ? 1750000 : server->char_ns * 7 / 2;
	}
	fd = modbus_get_socket(server->ctx);
	if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		log_warn("bus '%s': %s", bus->name, bus->device);
		return -1;
	}
	return simrig_client_add(server, fd) == NULL ? -1 : 0;
}

int
simrig_net_start(struct simrig *sim, char *listening, size_t size)
{
	struct simrig_net *net;
	size_t i, used = 0;

	if ((net = calloc(1, sizeof(*net))) == NULL ||
	    (net->servers = calloc(sim->rig->bus_count + 1, sizeof(*net->servers))) == NULL) {
		free(net);
		log_warn("simrig: servers");
		return -1;
	}
	sim->net = net;
	net->capture[0] = net->capture[1] = -1;
	if ((net->delay_timer = loop_timer_new(sim->loop, simrig_on_delay_timer, net)) == NULL)
		return -1;
	listening[0] = '\0';
	for (i = 0; i < sim->rig->bus_count; i++) {
		const struct rig_bus *bus = &sim->rig->buses[i];
		struct simrig_server *server = &net->servers[i];

		server->sim = sim;
		server->bus = (int)i;
		server->rtu = bus->type == RIG_BUS_RTU;
		server->listen_fd = -1;
		net->count = i + 1;
		if ((server->rtu ? simrig_rtu_open(server, bus) : simrig_tcp_listen(server, bus)) == -1)
			return -1;
		if (server->rtu)
			used += (size_t)snprintf(listening + used, size - used, " %s=rtu:%s",
			    bus->name, bus->device);
		else
			used += (size_t)snprintf(listening + used, size - used, " %s=tcp:%s:%d",
			    bus->name, bus->host, bus->port);
		if (used >= size)
			used = size - 1;
	}
	return 0;
}

void
simrig_net_stop(struct simrig *sim)
{
	struct simrig_net *net = sim->net;
	struct simrig_delayed *s;
	size_t i;

	if (net == NULL)
		return;
	while ((s = net->delayed) != NULL) {
		net->delayed = s->next;
		free(s);
	}
	for (i = 0; i < net->count; i++) {
		struct simrig_server *server = &net->servers[i];

		while (server->clients != NULL) {
			if (server->rtu) {
				/* modbus_close() closes the serial port itself */
				loop_del_fd(sim->loop, server->clients->fd);
				if (server->clients->trickle_timer != NULL)
					loop_timer_free(server->clients->trickle_timer);
				if (server->clients->wire_timer != NULL)
					loop_timer_free(server->clients->wire_timer);
				free(server->clients);
				server->clients = NULL;
			} else {
				simrig_client_close(server, server->clients);
			}
		}
		if (server->listen_fd != -1) {
			loop_del_fd(sim->loop, server->listen_fd);
			close(server->listen_fd);
		}
		if (server->ctx != NULL) {
			if (!server->rtu)
				modbus_set_socket(server->ctx, -1);
			modbus_close(server->ctx);
			modbus_free(server->ctx);
		}
	}
	if (net->delay_timer != NULL)
		loop_timer_free(net->delay_timer);
	if (net->capture[0] != -1) {
		close(net->capture[0]);
		close(net->capture[1]);
	}
	free(net->servers);
	free(net);
	sim->net = NULL;
}
