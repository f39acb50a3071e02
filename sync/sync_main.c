/*
 * lbl-sync: copies the rig's batch record into the lab's PostgreSQL
 * database (lbl-sync(8)).
 *
 *   lbl-sync --init --to URI            makes or migrates the central schema
 *   lbl-sync --db PATH --to URI [...]   copies, and goes on copying
 *   lbl-sync --history --to URI [...]   lists the batches of every rig
 *
 * The central database's address may come from the environment
 * (LBL_SYNC_TO) instead of --to, so that a password in it stays out of
 * the process list: the unit reads it from an EnvironmentFile that only
 * root reads. LBL_SYNC_NAME stands for --name likewise.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "lbl_limits.h"
#include "log.h"
#include "paths.h"
#include "sync.h"

static volatile sig_atomic_t sync_stop;

static void
sync_on_signal(int sig)
{
	(void)sig;
	sync_stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: lbl-sync --init [--to URI]\n"
	    "       lbl-sync [--db PATH] [--to URI] [--state-dir DIR] [--rig-id FILE] "
	    "[--name NAME] [--once] [-v]\n"
	    "       lbl-sync --history [--to URI] [--rig NAME] [history filters...]\n"
	    "URI: postgresql://USER@HOST/DATABASE (or LBL_SYNC_TO; the password in ~/.pgpass,\n"
	    "PGPASSFILE or the URI). Defaults: --db %s, --state-dir %s,\n"
	    "--rig-id %s, --name LBL_SYNC_NAME or the host's name. See lbl-sync(8).\n",
	    LBL_DB_PATH, LBL_SYNC_STATE_DIR, LBL_RIG_ID_PATH);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "init", no_argument, NULL, 'I' },
		{ "history", no_argument, NULL, 'H' },
		{ "db", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "rig-id", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "once", no_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sync_opts o = { LBL_DB_PATH, NULL, LBL_SYNC_STATE_DIR, LBL_RIG_ID_PATH, NULL, 0 };
	struct sync_schema schema;
	struct sync_pg pg;
	struct sigaction sa;
	int ch, init = 0, verbose = 0, i, rc;

	/* --history passes the rest to the history (its filters are lblctl's) */
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--history") == 0) {
			const char *uri = getenv("LBL_SYNC_TO");
			char **rest = calloc((size_t)argc, sizeof(*rest));
			int n = 0, j;

			if (rest == NULL) {
				perror("lbl-sync");
				return 1;
			}
			log_init("lbl-sync", LOG_WARNING);
			for (j = 1; j < argc; j++) {
				if (j == i)
					continue;
				if (strcmp(argv[j], "--to") == 0 && j + 1 < argc) {
					uri = argv[++j];
					continue;
				}
				rest[n++] = argv[j];
			}
			if (uri == NULL || *uri == '\0') {
				fprintf(stderr, "lbl-sync: --history needs the central database: --to "
				    "URI or LBL_SYNC_TO\n");
				free(rest);
				return 2;
			}
			rc = sync_history(uri, n, rest);
			free(rest);
			return rc;
		}

	while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'I': init = 1; break;
		case 'd': o.db_path = optarg; break;
		case 't': o.uri = optarg; break;
		case 's': o.state_dir = optarg; break;
		case 'r': o.rig_id_path = optarg; break;
		case 'n': o.name = optarg; break;
		case 'o': o.once = 1; break;
		case 'v': verbose = 1; break;
		case 'V': printf("lbl-sync %s\n", LBL_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "lbl-sync: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (o.uri == NULL)
		o.uri = getenv("LBL_SYNC_TO");
	if (o.name == NULL && getenv("LBL_SYNC_NAME") != NULL && *getenv("LBL_SYNC_NAME") != '\0')
		o.name = getenv("LBL_SYNC_NAME");
	if (o.uri == NULL || *o.uri == '\0') {
		fprintf(stderr, "lbl-sync: which central database? --to URI or LBL_SYNC_TO\n");
		return 2;
	}
	if (o.name != NULL && (strlen(o.name) == 0 || strlen(o.name) > SYNC_MAX_NAME_BYTES)) {
		fprintf(stderr, "lbl-sync: --name: 1 to %d bytes\n", SYNC_MAX_NAME_BYTES);
		return 2;
	}
	log_init("lbl-sync", verbose ? LOG_DEBUG : LOG_INFO);

	if (init) {
		if (sync_schema_load(&schema) == -1)
			return 1;
		if (sync_pg_connect(&pg, o.uri) == -1) {
			sync_schema_free(&schema);
			return 1;
		}
		rc = sync_pg_init(&pg, &schema);
		sync_pg_close(&pg);
		sync_schema_free(&schema);
		return rc == 0 ? 0 : 1;
	}

	/* SIGTERM mid-copy: the central transaction is rolled back, never half-made */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sync_on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 || sigaction(SIGINT, &sa, NULL) == -1)
		fatal("sigaction");
	/* a full file system or a file size limit fails the write, it does not kill us */
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	return sync_run(&o, &sync_stop);
}
