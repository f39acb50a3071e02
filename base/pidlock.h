/*
 * The pid lock: one process per resource. The holder keeps an exclusive
 * flock(2) on a lock file, with its pid in it, for as long as it runs; the
 * kernel drops the lock when the process dies however it dies, so a lock
 * is never stale, and the pid only names the holder for people.
 *
 * lbld takes DB.lock for its database (one lbld per rig); lbl-safe probes
 * it, so as not to drive outputs under a running lbld.
 */
#ifndef LBL_PIDLOCK_H
#define LBL_PIDLOCK_H

#include <stddef.h>

/*
 * Whether someone holds the lock at path, without creating the file:
 * returns 0 when the file does not exist or nobody holds it (the lock is
 * taken and given back at once), 1 when it is held (pid gets what the
 * file says, "?" if nothing), -1 when it cannot tell (err says why,
 * naming the file).
 */
int pidlock_probe(const char *path, char *pid, size_t pid_size, char *err, size_t err_size);

/*
 * Takes the lock at path, creating the file (mode 0640) if need be, and
 * writes the caller's pid into it. Returns the descriptor that holds the
 * lock (close it, or exit, to give it back); -2 when another process holds
 * it (pid as for pidlock_probe); -1 on any other failure (err says why,
 * naming the file). A pid that cannot be written is no failure: the lock
 * is what counts; err then says so and the descriptor is returned.
 */
int pidlock_take(const char *path, char *pid, size_t pid_size, char *err, size_t err_size);

/*
 * The lock of a database: the file DB.lock beside it, which lbld takes (one
 * lbld per database, so per rig) and lbl-safe probes. Its name is made here
 * and nowhere else. pidlock_db_path() writes it into path; it returns 0, or
 * -1 when it does not fit in size (err says so, naming the database).
 * pidlock_db_probe() and pidlock_db_take() are pidlock_probe() and
 * pidlock_take() on it, with the same returns (-1 also for a path too long).
 */
int pidlock_db_path(const char *db, char *path, size_t size, char *err, size_t err_size);
int pidlock_db_probe(const char *db, char *pid, size_t pid_size, char *err, size_t err_size);
int pidlock_db_take(const char *db, char *pid, size_t pid_size, char *err, size_t err_size);

#endif
