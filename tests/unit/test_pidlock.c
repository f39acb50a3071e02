/*
 * The pid lock that keeps one lbld per rig and tells lbl-safe whether lbld
 * runs: probe without creating, take, a second taker refused with the
 * holder's pid, the lock given back on close, and a symlink at the path
 * refused; a database's lock is DB.lock, made in one place (lbld takes it,
 * lbl-safe probes it), and a database path too long for it is refused.
 * flock(2) locks belong to open file descriptions, so one process can play
 * both parties.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidlock.h"
#include "test.h"

/* Longer than any path (PATH_MAX is 4096 on Linux) */
#define PIDLOCK_TEST_LONG	5000

int
main(void)
{
	char dir[] = "/tmp/lbl-pidlock.XXXXXX", path[256], link_path[256], pid[32], err[512];
	char own[32], text[64];
	int fd, fd2, r;
	FILE *f;
	struct stat st;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/lbl.db.lock", dir);
	snprintf(own, sizeof(own), "%ld", (long)getpid());

	r = pidlock_probe(path, pid, sizeof(pid), err, sizeof(err));
	TEST_EQ_INT("no lock file: nobody holds it", r, 0);
	TEST_CHECK("the probe creates nothing", stat(path, &st) == -1 && errno == ENOENT,
	    "%s exists", path);

	fd = pidlock_take(path, pid, sizeof(pid), err, sizeof(err));
	TEST_CHECK("taken", fd >= 0, "%d: %s", fd, err);
	TEST_STR("taking leaves no warning", err, "");
	TEST_CHECK("the file is 0640", stat(path, &st) == 0 && (st.st_mode & 0777) == 0640,
	    "mode %o", (unsigned)(st.st_mode & 0777));
	text[0] = '\0';
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(text, sizeof(text), f) == NULL)
			text[0] = '\0';
		fclose(f);
	}
	text[strcspn(text, "\n")] = '\0';
	TEST_STR("the file names the holder's pid", text, own);

	pid[0] = '\0';
	r = pidlock_probe(path, pid, sizeof(pid), err, sizeof(err));
	TEST_EQ_INT("held: the probe says so", r, 1);
	TEST_STR("held: the probe names the pid", pid, own);

	pid[0] = '\0';
	fd2 = pidlock_take(path, pid, sizeof(pid), err, sizeof(err));
	TEST_EQ_INT("held: a second taker is refused", fd2, -2);
	TEST_STR("held: the refusal names the pid", pid, own);

	close(fd);
	r = pidlock_probe(path, pid, sizeof(pid), err, sizeof(err));
	TEST_EQ_INT("closed: the lock is free (never stale)", r, 0);
	fd = pidlock_take(path, pid, sizeof(pid), err, sizeof(err));
	TEST_CHECK("closed: taken again", fd >= 0, "%d: %s", fd, err);
	close(fd);

	/* an empty file held by someone names no pid: "?" */
	if (truncate(path, 0) == -1)
		perror("truncate");
	fd = pidlock_take(path, pid, sizeof(pid), err, sizeof(err));
	if (ftruncate(fd, 0) == -1)
		perror("ftruncate");
	r = pidlock_probe(path, pid, sizeof(pid), err, sizeof(err));
	TEST_CHECK("held, no pid in the file: '?'", r == 1 && strcmp(pid, "?") == 0,
	    "%d '%s'", r, pid);
	close(fd);

	/* a symlink planted at the path is not followed */
	snprintf(link_path, sizeof(link_path), "%s/link.lock", dir);
	if (symlink(path, link_path) == -1)
		perror("symlink");
	r = pidlock_probe(link_path, pid, sizeof(pid), err, sizeof(err));
	TEST_CHECK("a symlink is refused by the probe, naming the file", r == -1 &&
	    strstr(err, link_path) != NULL, "%d: %s", r, err);
	fd = pidlock_take(link_path, pid, sizeof(pid), err, sizeof(err));
	TEST_CHECK("a symlink is refused by the taker", fd == -1 && strstr(err, link_path) != NULL,
	    "%d: %s", fd, err);

	unlink(link_path);
	unlink(path);

	/* a database's lock: DB.lock, taken by lbld, seen by lbl-safe's probe */
	{
		char db[256], db_lock[300], made[300], long_db[PIDLOCK_TEST_LONG + 1];
		snprintf(db, sizeof(db), "%s/lbl.db", dir);
		snprintf(db_lock, sizeof(db_lock), "%s.lock", db);
		TEST_CHECK("a database's lock is DB.lock", pidlock_db_path(db, made, sizeof(made),
		    err, sizeof(err)) == 0 && strcmp(made, db_lock) == 0, "%s", made);
		TEST_EQ_INT("no lbld: the probe of the database finds none",
		    pidlock_db_probe(db, pid, sizeof(pid), err, sizeof(err)), 0);
		fd = pidlock_db_take(db, pid, sizeof(pid), err, sizeof(err));
		TEST_CHECK("the database's lock taken", fd >= 0, "%d: %s", fd, err);
		r = pidlock_probe(db_lock, pid, sizeof(pid), err, sizeof(err));
		TEST_CHECK("held at DB.lock, with the pid", r == 1 && strcmp(pid, own) == 0,
		    "%d, pid %s", r, pid);
		r = pidlock_db_probe(db, pid, sizeof(pid), err, sizeof(err));
		TEST_CHECK("the database's probe sees it held", r == 1 && strcmp(pid, own) == 0,
		    "%d, pid %s", r, pid);
		TEST_EQ_INT("a second lbld is refused", pidlock_db_take(db, pid, sizeof(pid), err,
		    sizeof(err)), -2);
		close(fd);
		unlink(db_lock);
		TEST_CHECK("a path with no room for .lock is refused, naming the database",
		    pidlock_db_path(db, made, strlen(db) + 3, err, sizeof(err)) == -1 &&
		    strstr(err, db) != NULL, "%s", err);
		memset(long_db, 'x', sizeof(long_db) - 1);
		long_db[sizeof(long_db) - 1] = '\0';
		TEST_CHECK("a database path too long to lock is refused by the probe",
		    pidlock_db_probe(long_db, pid, sizeof(pid), err, sizeof(err)) == -1 &&
		    strstr(err, "too long") != NULL, "%s", err);
		TEST_CHECK("and by the taker", pidlock_db_take(long_db, pid, sizeof(pid), err,
		    sizeof(err)) == -1 && strstr(err, "too long") != NULL, "%s", err);
	}
	rmdir(dir);
	return TEST_DONE();
}
