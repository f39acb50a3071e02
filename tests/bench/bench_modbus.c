/*
 * Modbus throughput: transactions per second through lbl's driver (a
 * request submitted from the event loop, carried out by the bus's worker
 * thread, its completion back through an eventfd) against a raw libmodbus
 * loop, both reading the same sensor of the same lbl-simrig over TCP on
 * loopback. The driver is measured with one request outstanding at a time
 * (every transaction pays the thread hand-off) and with a queue of eight
 * (the worker runs them back to back, as during a safe state or a probe).
 * Goal: driver/raw at least 0.9, one outstanding against the raw loop.
 *
 *   bench_modbus [TRANSACTIONS]     (default 20000)
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "hw.h"
#include "log.h"
#include "loop.h"
#include "rig.h"

extern char **environ;

static const char bench_rig_fmt[] =
    "name: bench\n"
    "buses:\n"
    "  b: {type: tcp, host: 127.0.0.1, port: %d, timeout: 500ms}\n"
    "devices:\n"
    "  qcm: {role: sensor, kind: qcm, bus: b, unit: 1, profile: generic-sensor, f0: 5 MHz}\n";

struct bench_run {
	struct hw *hw;
	struct loop *loop;
	long remaining, outstanding, failures;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
free_port(void)
{
	/* the ephemeral range is busy with clients; pick from a quiet one */
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	return 20000 + rand() % 20000;
}

static pid_t
start_simrig(const char *self, const char *rig_path)
{
	char dir[PATH_MAX], simrig[PATH_MAX + 32], copy[PATH_MAX];
	char *argv[] = { simrig, "--rig", (char *)rig_path, NULL };
	posix_spawn_file_actions_t actions;
	pid_t pid;
	int rc;

	snprintf(copy, sizeof(copy), "%s", self);
	snprintf(dir, sizeof(dir), "%s", dirname(copy));
	snprintf(simrig, sizeof(simrig), "%s/../lbl-simrig", dir);
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, simrig, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", simrig, strerror(rc));
		return -1;
	}
	return pid;
}

static double
raw_loop(int port, long count)
{
	modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
	uint16_t regs[3];
	double t0;
	long i;

	if (ctx == NULL || modbus_connect(ctx) == -1) {
		fprintf(stderr, "raw: connect: %s\n", modbus_strerror(errno));
		exit(1);
	}
	modbus_set_slave(ctx, 1);
	t0 = now_s();
	for (i = 0; i < count; i++)
		if (modbus_read_input_registers(ctx, 0, 2, regs) != 2) {
			fprintf(stderr, "raw: read: %s\n", modbus_strerror(errno));
			exit(1);
		}
	t0 = now_s() - t0;
	modbus_close(ctx);
	modbus_free(ctx);
	return (double)count / t0;
}

static void bench_submit(struct bench_run *run);

static void
bench_done(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct bench_run *run = arg;

	(void)req;
	run->outstanding--;
	if (!res->ok)
		run->failures++;
	if (run->remaining > 0)
		bench_submit(run);
	else if (run->outstanding == 0)
		loop_stop(run->loop);
}

static void
bench_submit(struct bench_run *run)
{
	struct hw_request req = { 0, HW_READ, 0, 0, 0 };
	char err[256];

	if (hw_submit(run->hw, &req, bench_done, run, err, sizeof(err)) == -1) {
		fprintf(stderr, "submit: %s\n", err);
		exit(1);
	}
	run->remaining--;
	run->outstanding++;
}

static double
driver_loop(struct hw *hw, struct loop *loop, long count, int depth)
{
	struct bench_run run = { hw, loop, count, 0, 0 };
	struct hw_stats before, after;
	double t0;
	int i;

	hw_get_stats(hw, &before);
	t0 = now_s();
	for (i = 0; i < depth; i++)
		bench_submit(&run);
	loop_run(loop);
	t0 = now_s() - t0;
	hw_get_stats(hw, &after);
	if (run.failures > 0)
		fprintf(stderr, "driver: %ld failures\n", run.failures);
	return (double)(after.transactions - before.transactions) / t0;
}

int
main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 20000;
	char rig_path[] = "/tmp/lbl-bench-modbus.XXXXXX", text[512], err[256];
	struct rig *rig = NULL;
	struct hw *hw = NULL;
	struct loop *loop;
	struct diag d;
	double raw, one, queued;
	int port = free_port(), fd, tries, status, round;
	pid_t pid;
	modbus_t *probe;

	log_init("bench_modbus", 4);
	if ((fd = mkstemp(rig_path)) == -1) {
		perror("mkstemp");
		return 1;
	}
	snprintf(text, sizeof(text), bench_rig_fmt, port);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		perror("write");
	close(fd);
	if ((pid = start_simrig(argv[0], rig_path)) == -1)
		return 1;
	for (tries = 0; tries < 100; tries++) {	/* wait until it listens */
		probe = modbus_new_tcp("127.0.0.1", port);
		if (modbus_connect(probe) == 0) {
			modbus_close(probe);
			modbus_free(probe);
			break;
		}
		modbus_free(probe);
		usleep(50000);
	}
	diag_init(&d, rig_path);
	if (rig_load(rig_path, &d, &rig) == -1 || (loop = loop_new()) == NULL ||
	    hw_open(rig, loop, &hw, err, sizeof(err)) == -1) {
		fprintf(stderr, "cannot open the rig: %s\n", err);
		kill(pid, SIGTERM);
		return 1;
	}
	/* warm up: connect, fill caches */
	driver_loop(hw, loop, 200, 1);
	raw_loop(port, 200);
	/* best of three rounds, interleaved, so a busy moment hurts no side alone */
	raw = one = queued = 0;
	for (round = 0; round < 3; round++) {
		raw = fmax(raw, raw_loop(port, count));
		one = fmax(one, driver_loop(hw, loop, count, 1));
		queued = fmax(queued, driver_loop(hw, loop, count, 8));
	}
	printf("Modbus TCP reads of one sensor on lbl-simrig (loopback), best of 3 x %ld "
	    "transactions:\n",
	    count);
	printf("  raw libmodbus loop              %8.0f transactions/s\n", raw);
	/*
	 * The goal is judged like for like: the raw loop has one transaction
	 * outstanding, as the driver has in a run. With eight queued, the loop
	 * thread, the bus worker and the simulator all want a core at once; on
	 * two cores that costs the simulator, not the driver.
	 */
	printf("  lbl driver, 1 outstanding       %8.0f transactions/s   ratio %.2f   goal >= 0.9: %s\n",
	    one, one / raw, one / raw >= 0.9 ? "met" : "NOT met");
	printf("  lbl driver, 8 queued            %8.0f transactions/s   ratio %.2f   (%ld cores)\n",
	    queued, queued / raw, sysconf(_SC_NPROCESSORS_ONLN));
	hw_close(hw);
	loop_free(loop);
	rig_free(rig);
	diag_free(&d);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	unlink(rig_path);
	return 0;
}
