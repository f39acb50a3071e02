/*
 * lblctl hw: every device of the rig and what it reports — the first
 * command a technician runs when commissioning a rig. When lbld runs, lbld
 * answers (it owns the buses; the e-stop and homed state shown are its
 * own); only when no lbld answers on the socket does lblctl open the
 * buses itself and probe. One device or GPIO chip that cannot be reached
 * never hides the rest of the table: its line says why.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "gpio.h"
#include "hw.h"
#include "hw_view.h"
#include "json.h"
#include "loop.h"
#include "profile.h"
#include "text.h"

struct ctl_hw_probe {
	struct loop *loop;
	struct hw_result *results;
	int *done;
	size_t pending;
};

static const char *
ctl_hw_socket(void)
{
	const char *path = getenv("LBL_SOCKET");

	return path && *path ? path : CTL_DEFAULT_SOCKET;
}

/*
 * Whether lbld listens on its socket: 1 if a connection is accepted, 0 when
 * nothing is there or nobody listens (the direct probe is then safe: no
 * daemon owns the buses), -1 for anything else (said on stderr).
 */
static int
ctl_hw_lbld_listens(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = ctl_hw_socket();
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "lblctl: socket path %s is too long\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		perror("lblctl: socket");
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc == -1 && errno != ENOENT && errno != ECONNREFUSED)
		fprintf(stderr, "lblctl: %s: %s\n", path, strerror(errno));
	close(fd);
	return rc == 0 ? 1 : errno == ENOENT || errno == ECONNREFUSED ? 0 : -1;
}

static void
ctl_hw_on_result(void *arg, const struct hw_request *req, const struct hw_result *res)
{
	struct ctl_hw_probe *probe = arg;

	probe->results[req->device] = *res;
	probe->done[req->device] = 1;
	if (--probe->pending == 0)
		loop_stop(probe->loop);
}

static int
ctl_hw_print(const struct rig *rig, const struct ctl_hw_probe *probe, int json)
{
	char line[600];
	size_t i;
	int unreachable = 0;
	struct json j;

	if (json) {
		json_init(&j);
		json_object_begin(&j);
		json_key(&j, "rig");
		json_string(&j, rig->name);
		json_key(&j, "source");
		json_string(&j, "probe");
		json_key(&j, "safety");
		json_null(&j);
		json_key(&j, "devices");
		json_array_begin(&j);
	} else {
		hw_view_header(line, sizeof(line));
		printf("%s\n", line);
	}
	for (i = 0; i < rig->device_count; i++) {
		if (!probe->done[i] || !probe->results[i].ok)
			unreachable++;
		if (json) {
			hw_view_json(&j, rig, i, probe->done[i], &probe->results[i]);
		} else {
			hw_view_line(rig, i, probe->done[i], probe->done[i] ? &probe->results[i] :
			    NULL, line, sizeof(line));
			printf("%s\n", line);
		}
	}
	if (json) {
		json_array_end(&j);
		json_object_end(&j);
		if (json_text(&j) == NULL)
			fprintf(stderr, "lblctl: out of memory\n");
		else
			printf("%s\n", json_text(&j));
		json_free(&j);
	} else {
		printf("probed directly (no lbld answers on %s)\n", ctl_hw_socket());
	}
	if (unreachable > 0)
		fprintf(stderr, "lblctl: %d of %zu %s did not answer\n", unreachable,
		    rig->device_count, text_plural((long long)rig->device_count, "device",
		    "devices"));
	return unreachable > 0 ? 1 : 0;
}

static int
ctl_hw_probe_all(const struct rig *rig, int json)
{
	struct ctl_hw_probe probe = { 0 };
	struct hw *hw = NULL;
	char err[512];
	size_t i;
	int rc = 1;

	if ((probe.loop = loop_new()) == NULL)
		return 1;
	probe.results = calloc(rig->device_count + 1, sizeof(*probe.results));
	probe.done = calloc(rig->device_count + 1, sizeof(*probe.done));
	if (probe.results == NULL || probe.done == NULL) {
		fprintf(stderr, "lblctl: out of memory\n");
		goto out;
	}
	/* a chip that will not open fails its own lines' probes, not the table */
	if (hw_open_probe(rig, probe.loop, &hw, err, sizeof(err)) == -1) {
		fprintf(stderr, "lblctl: %s\n", err);
		goto out;
	}
	for (i = 0; i < rig->device_count; i++) {
		struct hw_request req = { (int)i, HW_PROBE, 0, 0, 0 };
		if (hw_submit(hw, &req, ctl_hw_on_result, &probe, err, sizeof(err)) == 0) {
			probe.pending++;
			continue;
		}
		probe.done[i] = 1;
		snprintf(probe.results[i].error, sizeof(probe.results[i].error), "%.200s", err);
	}
	/* every request ends: each transaction has its bus's timeout and retries */
	if (probe.pending > 0 && loop_run(probe.loop) == -1)
		goto out;
	rc = ctl_hw_print(rig, &probe, json);
out:
	hw_close(hw);
	loop_free(probe.loop);
	free(probe.results);
	free(probe.done);
	return rc;
}

int
ctl_hw(int argc, char **argv)
{
	static const struct option options[] = {
		{ "rig", required_argument, NULL, 'r' },
		{ "gpio-sim", required_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 } };
	const char *path = CTL_DEFAULT_RIG, *gpio_sim = NULL;
	struct rig *rig = NULL;
	struct diag d;
	char *text;
	char *words[3] = { "hw", "--json", NULL };
	int c, rc, json = 0, given = 0, listens;

	optind = 0;		/* glibc starts afresh (lblctl_main parsed with another optstring) */
	while ((c = getopt_long(argc, argv, "r:g:j", options, NULL)) != -1) {
		if (c == 'r')
			path = optarg, given = 1;
		else if (c == 'g')
			gpio_sim = optarg, given = 1;
		else if (c == 'j')
			json = 1;
		else
			goto usage;
	}
	if (optind != argc)
		goto usage;
	/* lbld owns the buses: it answers when it runs */
	if ((listens = ctl_hw_lbld_listens()) == -1)
		return 1;
	if (listens) {
		if (given)
			fprintf(stderr, "lblctl: lbld runs: showing the rig as lbld sees it (--rig "
			    "and --gpio-sim are for the probe without lbld)\n");
		return ctl_remote(json ? 2 : 1, words);
	}
	diag_init(&d, path);
	rc = rig_load(path, &d, &rig) == -1 || profile_check_rig(rig, &d) == -1 ? 2 : 0;
	if ((text = diag_render(&d)) != NULL) {
		fputs(text, stderr);
		free(text);
	}
	diag_free(&d);
	if (rc == 0 && gpio_sim != NULL && gpio_use_simulation(gpio_sim) == -1) {
		fprintf(stderr, "lblctl: cannot use simulated GPIO in %s\n", gpio_sim);
		rc = 1;
	}
	if (rc == 0)
		rc = ctl_hw_probe_all(rig, json);
	rig_free(rig);
	return rc;
usage:
	fprintf(stderr, "usage: lblctl hw [--json] [--rig RIG] [--gpio-sim DIR]\n");
	return 2;
}
