/*
 * lbl-histgen: makes a batch record for tests, fast (tests/bench/histgen.c):
 *   lbl-histgen DB BATCHES [END_EPOCH_S]
 * creates DB (which must not exist) with the product's schema, then
 * BATCHES batches of 100 steps, the record ending two days before
 * END_EPOCH_S (default now). With END_EPOCH_S given the file's rows are
 * the same on every run, so what lbld prints of them can be compared
 * byte for byte. Exits 0, or 1 with a message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "histgen.h"
#include "log.h"

int
main(int argc, char **argv)
{
	struct histgen g;
	struct db *db;
	char *end;
	long batches;
	long long end_s;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: lbl-histgen DB BATCHES [END_EPOCH_S]\n");
		return 2;
	}
	log_init("lbl-histgen", LOG_WARNING);
	batches = strtol(argv[2], &end, 10);
	if (*end != '\0' || batches < 1 || batches > 1000000) {
		fprintf(stderr, "lbl-histgen: BATCHES: expected 1 to 1000000, not '%s'\n", argv[2]);
		return 2;
	}
	end_s = argc == 4 ? strtoll(argv[3], &end, 10) : (long long)time(NULL);
	if (argc == 4 && (*end != '\0' || end_s < 10 * 365 * 86400LL)) {
		fprintf(stderr, "lbl-histgen: END_EPOCH_S: expected seconds since 1970, not '%s'\n",
		    argv[3]);
		return 2;
	}
	if (access(argv[1], F_OK) == 0 || errno != ENOENT) {
		fprintf(stderr, "lbl-histgen: %s exists already (or cannot be checked)\n", argv[1]);
		return 1;
	}
	if (db_open(argv[1], &db) == -1) {
		fprintf(stderr, "lbl-histgen: cannot create the database %s\n", argv[1]);
		return 1;
	}
	histgen_fill(db, (int)batches, 0, end_s * 1000, &g);
	db_close(db);
	printf("%s: %lld batches, %lld steps, %lld bilayers, %lld events\n", argv[1],
	    g.n_batches, g.n_steps, g.n_bilayers, g.n_events);
	return 0;
}
