/*
 * lblctl history --server URI: the lab's batch list, from the central
 * PostgreSQL database that lbl-sync fills. lblctl does not link libpq: it
 * runs lbl-sync --history (beside lblctl, else on PATH) with the same
 * filters, which lblctl has checked already (client/ctl_opts.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "protocol.h"

/* Runs lbl-sync: beside our own binary first (a build tree, /usr/bin), then PATH. */
static int
ctl_exec_sync(char **args)
{
	char self[PATH_MAX], path[PATH_MAX + 16], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/lbl-sync", self);
			if (access(path, X_OK) == 0) {
				execv(path, args);
				fprintf(stderr, "lblctl: history --server: cannot run %s: %s\n", path,
				    strerror(errno));
				return 1;
			}
		}
	}
	execvp("lbl-sync", args);
	fprintf(stderr, "lblctl: history --server runs lbl-sync, which is %s: %s\n",
	    errno == ENOENT ? "not installed (neither beside lblctl nor on PATH)" : "not runnable",
	    strerror(errno));
	return 1;
}

int
ctl_history(int argc, char **argv)
{
	char *args[CONTROL_MAX_ARGS + 4];
	const char *server = NULL;
	int i, n = 0, rig = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
			server = argv[i + 1];
		if (strcmp(argv[i], "--rig") == 0)
			rig = 1;
	}
	if (server == NULL) {
		if (rig) {
			fprintf(stderr, "lblctl: history: --rig chooses among the rigs of --server "
			    "URI; lbld has one\n");
			return 2;
		}
		return ctl_remote(argc, argv);
	}
	if (argc > CONTROL_MAX_ARGS) {
		fprintf(stderr, "lblctl: too many arguments\n");
		return 2;
	}
	args[n++] = (char *)"lbl-sync";
	args[n++] = (char *)"--history";
	args[n++] = (char *)"--to";
	args[n++] = (char *)server;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--server") == 0) {
			i++;
			continue;
		}
		if (strcmp(argv[i], "--between") == 0) {
			fprintf(stderr, "lblctl: history --between lists one rig's events: not "
			    "with --server\n");
			return 2;
		}
		args[n++] = argv[i];
	}
	args[n] = NULL;
	fflush(stdout);
	return ctl_exec_sync(args);
}
