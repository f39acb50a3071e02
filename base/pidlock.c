/*
 * The pid lock (pidlock.h): flock(2) on a lock file that names its holder.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pidlock.h"

/* Reads the holder's pid from the file: the first line, "?" if empty. */
static void
pidlock_read_pid(int fd, char *pid, size_t pid_size)
{
	ssize_t n;

	if (pid_size == 0)
		return;
	n = pread(fd, pid, pid_size - 1, 0);
	pid[n > 0 ? n : 0] = '\0';
	pid[strcspn(pid, "\n")] = '\0';
	if (pid[0] == '\0')
		snprintf(pid, pid_size, "?");
}

/*
 * Opens path and tries the lock: the descriptor, locked; -2 when held
 * (pid filled, descriptor closed); -1 on failure (err); -3 when the file
 * does not exist and flags lack O_CREAT.
 */
static int
pidlock_try(const char *path, int flags, char *pid, size_t pid_size, char *err, size_t err_size)
{
	int fd, e;

	/* O_NOFOLLOW: a symlink planted at the path must not lead the lock (and the pid) elsewhere */
	if ((fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0640)) == -1) {
		if (errno == ENOENT && !(flags & O_CREAT))
			return -3;
		snprintf(err, err_size, "%s: cannot open the lock file: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		e = errno;
		if (e == EWOULDBLOCK) {
			pidlock_read_pid(fd, pid, pid_size);
			close(fd);
			return -2;
		}
		snprintf(err, err_size, "%s: cannot lock: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	return fd;
}

int
pidlock_probe(const char *path, char *pid, size_t pid_size, char *err, size_t err_size)
{
	int fd = pidlock_try(path, O_RDONLY, pid, pid_size, err, err_size);

	switch (fd) {
	case -3:
		return 0;
	case -2:
		return 1;
	case -1:
		return -1;
	}
	/* closing gives the lock back */
	if (close(fd) == -1) {
		snprintf(err, err_size, "%s: closing the lock file: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
pidlock_take(const char *path, char *pid, size_t pid_size, char *err, size_t err_size)
{
	char own[32];
	int fd, len;

	fd = pidlock_try(path, O_RDWR | O_CREAT, pid, pid_size, err, err_size);
	if (fd < 0)
		return fd == -3 ? -1 : fd;
	if (err_size > 0)
		err[0] = '\0';
	len = snprintf(own, sizeof(own), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, own, (size_t)len, 0) != len)
		snprintf(err, err_size, "%s: cannot write the pid: %s", path, strerror(errno));
	return fd;
}

/* A database's lock is its path with this after it. */
#define PIDLOCK_DB_SUFFIX	".lock"

int
pidlock_db_path(const char *db, char *path, size_t size, char *err, size_t err_size)
{
	if ((size_t)snprintf(path, size, "%s%s", db, PIDLOCK_DB_SUFFIX) >= size) {
		/* the path last: a long one is what is wrong, and may be cut */
		snprintf(err, err_size, "--db: the database path is too long for its lock file "
		    "(%zu bytes at most): %s", size - sizeof(PIDLOCK_DB_SUFFIX), db);
		return -1;
	}
	return 0;
}

int
pidlock_db_probe(const char *db, char *pid, size_t pid_size, char *err, size_t err_size)
{
	char path[PATH_MAX];

	if (pidlock_db_path(db, path, sizeof(path), err, err_size) == -1)
		return -1;
	return pidlock_probe(path, pid, pid_size, err, err_size);
}

int
pidlock_db_take(const char *db, char *pid, size_t pid_size, char *err, size_t err_size)
{
	char path[PATH_MAX];

	if (pidlock_db_path(db, path, sizeof(path), err, err_size) == -1)
		return -1;
	return pidlock_take(path, pid, pid_size, err, err_size);
}
