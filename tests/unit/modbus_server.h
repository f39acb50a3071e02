/*
 * A small libmodbus TCP server on loopback, in a thread, for the unit tests
 * of the Modbus side (test_hw.c, test_act.c): units 1 .. SERVER_UNITS, each
 * with 16 registers and bits of every kind, on a free port. The test gives
 * the function that reads and answers one query on a ready connection; it
 * takes server.lock itself around what it shares with the test.
 */
#ifndef LBL_TEST_MODBUS_SERVER_H
#define LBL_TEST_MODBUS_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#define SERVER_UNITS	3
#define SERVER_PEERS	7	/* connections served at once */

static struct {
	pthread_t thread;
	int port, listen_fd, stop;
	int connections;		/* accepted so far */
	modbus_t *ctx;
	modbus_mapping_t *map[SERVER_UNITS];	/* unit n is map[n - 1] */
	pthread_mutex_t lock;
	void (*serve_one)(int fd);
} server;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A free TCP port on loopback, chosen by the kernel. */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Accepts peers and hands each ready one to serve_one; polls stop every 50 ms. */
static void *
server_main(void *arg)
{
	struct pollfd fds[1 + SERVER_PEERS];
	int n = 1, i;

	(void)arg;
	fds[0].fd = server.listen_fd;
	fds[0].events = POLLIN;
	while (!server.stop) {
		if (poll(fds, n, 50) <= 0)
			continue;
		if ((fds[0].revents & POLLIN) && n < 1 + SERVER_PEERS) {
			int fd = accept(server.listen_fd, NULL, NULL);
			if (fd != -1) {
				fds[n].fd = fd;
				fds[n].revents = 0;
				fds[n++].events = POLLIN;
				server.connections++;
			}
		}
		for (i = 1; i < n; i++) {
			if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char peek;
			ssize_t got = recv(fds[i].fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
			if (got == -1 && errno == EAGAIN)
				continue;
			if (got <= 0) {
				close(fds[i].fd);
				fds[i--] = fds[--n];
				continue;
			}
			server.serve_one(fds[i].fd);
		}
	}
	for (i = 1; i < n; i++)
		close(fds[i].fd);
	return NULL;
}

static void
server_start(void (*serve_one)(int fd))
{
	int i;

	pthread_mutex_init(&server.lock, NULL);
	server.serve_one = serve_one;
	server.port = free_port();
	server.ctx = modbus_new_tcp("127.0.0.1", server.port);
	for (i = 0; i < SERVER_UNITS; i++)
		server.map[i] = modbus_mapping_new(16, 16, 16, 16);
	server.listen_fd = modbus_tcp_listen(server.ctx, 4);
	pthread_create(&server.thread, NULL, server_main, NULL);
}

static void
server_stop(void)
{
	int i;

	server.stop = 1;
	pthread_join(server.thread, NULL);
	close(server.listen_fd);
	for (i = 0; i < SERVER_UNITS; i++)
		modbus_mapping_free(server.map[i]);
	modbus_free(server.ctx);
	pthread_mutex_destroy(&server.lock);
}

#endif
