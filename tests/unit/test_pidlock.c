/*
 * The pid lock that keeps one lbld per rig and tells lbl-safe whether lbld
 * runs: probe without creating, take, a second taker refused with the
 * holder's pid, the lock given back on close, and a symlink at the path
 * refused. flock(2) locks belong to open file descriptions, so one process
 * can play both parties.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidlock.h"
#include "test.h"

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
	rmdir(dir);
	return TEST_DONE();
}
