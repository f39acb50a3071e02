/*
 * A slow disk for tests: LD_PRELOAD this and every fsync() and fdatasync()
 * takes LBL_SLOW_SYNC_MS (default 8) longer, as on a Pi's SD card under
 * load. SQLite's commits with synchronous=FULL wait for these calls.
 * With LBL_SYNC_FAIL_READONLY set, an fdatasync() on a descriptor opened
 * read-only fails with EIO, as a dying SD card's would: SQLite's own are
 * read-write, so only lbld's log syncer (db/db_sync.c) sees the failure.
 * With LBL_SLOW_SYNC_WHEN=PATH, the delay applies only while PATH exists:
 * a disk that hangs mid-run.
 *
 *     cc -shared -fPIC -o slow_sync.so slow_sync.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void
slow_sync_delay(void)
{
	const char *ms_text = getenv("LBL_SLOW_SYNC_MS");
	const char *when = getenv("LBL_SLOW_SYNC_WHEN");
	long ms = ms_text ? atol(ms_text) : 8;
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	if (when != NULL && access(when, F_OK) != 0)
		return;

	while (nanosleep(&ts, &ts) == -1)
		;
}

int
fsync(int fd)
{
	int (*real_fsync)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	slow_sync_delay();
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	int (*real_fdatasync)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	int flags;

	slow_sync_delay();
	if (getenv("LBL_SYNC_FAIL_READONLY") != NULL && (flags = fcntl(fd, F_GETFL)) != -1 &&
	    (flags & O_ACCMODE) == O_RDONLY) {
		errno = EIO;
		return -1;
	}
	return real_fdatasync(fd);
}
