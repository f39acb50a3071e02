/*
 * The reader thread and its hand-over to the loop thread (see reader.h).
 *
 * Who owns what: a job's words, the work and its reply buffer belong to the
 * reader thread while it runs the job; the client pointer is used only in
 * the loop thread (control is not thread-safe), and so is freeing a job,
 * which happens when the loop takes the job's last chunk. Under the lock
 * are the queue of waiting jobs, the queue of chunks for the loop, and each
 * job's backlog figures and cancel flag.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "reader.h"
#include "rt.h"

struct reader_job {
	struct reader *reader;
	struct control_client *client;	/* loop thread only; NULL once it is gone */
	int argc;
	char **argv;			/* one block with the words */
	/* under reader->lock */
	size_t queued_bytes;		/* in chunks the loop has not taken yet */
	size_t unsent_bytes;		/* the client's unsent output, as last seen */
	atomic_int cancelled;
	unsigned long sends;		/* sends the client's socket took (progress) */
	int stalled;			/* its client read nothing for stall_ms */
	struct reader_job *next;	/* in the queue of waiting jobs */
	struct reader_chunk *end;	/* the last chunk, made with the job: it cannot fail */
};

/* A piece of a reply on its way to the loop; the last one ends the job. */
struct reader_chunk {
	struct reader_job *job;
	struct reader_chunk *next;
	int last;
	int status;			/* last: the reply's status; data its message */
	size_t len;
	char data[];
};

/* a failure's message, in the last chunk: room for a database's (DB_ERROR_LEN) and its context */
#define READER_MESSAGE_BYTES	1024
_Static_assert(READER_MESSAGE_BYTES >= DB_ERROR_LEN + 256,
    "READER_MESSAGE_BYTES: a failed read's reply carries the database's message whole");
#define READER_CHUNKS_PER_EVENT	4	/* then the loop turns to its timers first */
#define READER_NICE		10	/* the reader yields the CPU to the loop and the buses */

struct reader {
	struct loop *loop;
	char *db_path;
	struct db *db;			/* the reader thread's, opened at the first job */
	reader_work work;
	void *work_arg;
	int stall_ms;
	int event_fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* a job came, backlog went down, or stop */
	struct reader_job *waiting, *waiting_tail;
	int waiting_count;
	struct reader_chunk *done, *done_tail;
	atomic_int stopping;
};

/* The reader thread's side of the job in progress. */
struct reader_reply {
	struct reader *reader;
	struct reader_job *job;
	char *buf;
	size_t len, cap;
	int ended;
	int lost;			/* output was dropped: the reply is cut short */
	int status;
	char message[READER_MESSAGE_BYTES];
};

/* Queues a chunk for the loop thread and wakes it; called with the lock held. */
static void
reader_hand_over(struct reader *r, struct reader_chunk *chunk)
{
	uint64_t one = 1;
	int was_empty = r->done == NULL;

	chunk->next = NULL;
	if (r->done_tail != NULL)
		r->done_tail->next = chunk;
	else
		r->done = chunk;
	r->done_tail = chunk;
	chunk->job->queued_bytes += chunk->last ? 0 : chunk->len;
	/* one wakeup per batch of chunks: the loop takes the whole list */
	if (was_empty && write(r->event_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("reader: eventfd write");
}

/* ms from now on the monotonic clock (the condition variable's). */
static void
reader_deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/*
 * Hands len bytes of the reply to the loop, waiting first while the
 * client's backlog is over the bound. Returns 0, or -1 when the job is
 * cancelled (nothing is handed over), its client read nothing for
 * stall_ms, or for READER_STALL_BUSY_MS while other reads wait (logged;
 * the job is cancelled), or memory ran out (logged).
 */
static int
reader_emit(struct reader_reply *reply, const char *data, size_t len)
{
	struct reader *r = reply->reader;
	struct reader_job *job = reply->job;
	struct reader_chunk *chunk;
	struct timespec deadline, busy;
	unsigned long sends;
	int rc, busy_ms = r->stall_ms < READER_STALL_BUSY_MS ? r->stall_ms : READER_STALL_BUSY_MS;

	if ((chunk = malloc(sizeof(*chunk) + len)) == NULL) {
		log_warn("reader: %s: a chunk of %zu bytes", job->argv[0], len);
		atomic_store(&job->cancelled, 1);
		return -1;
	}
	chunk->job = job;
	chunk->last = 0;
	chunk->status = 0;
	chunk->len = len;
	memcpy(chunk->data, data, len);
	pthread_mutex_lock(&r->lock);
	sends = job->sends;
	reader_deadline(&deadline, r->stall_ms);
	reader_deadline(&busy, busy_ms);
	while (!atomic_load(&job->cancelled) && !atomic_load(&r->stopping) &&
	    job->queued_bytes + job->unsent_bytes >= READER_MAX_BACKLOG_BYTES) {
		/* a submitted read wakes this wait: from then on the shorter bound counts */
		int others = r->waiting_count > 0;
		rc = pthread_cond_timedwait(&r->wake, &r->lock, others ? &busy : &deadline);
		if (job->sends != sends) {
			sends = job->sends;
			reader_deadline(&deadline, r->stall_ms);
			reader_deadline(&busy, busy_ms);
		} else if (rc == ETIMEDOUT) {
			/* a client that stopped reading must not hold every other read */
			job->stalled = 1;
			atomic_store(&job->cancelled, 1);
			log_warnx("reader: %s: the client read nothing of its reply for %d ms%s; "
			    "cut short", job->argv[0], others ? busy_ms : r->stall_ms, others ?
			    " while other reads waited" : "");
		}
	}
	if (atomic_load(&job->cancelled) || atomic_load(&r->stopping)) {
		pthread_mutex_unlock(&r->lock);
		free(chunk);
		return -1;
	}
	reader_hand_over(r, chunk);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/*
 * Hands over the buffer in chunks of whole lines, each at most
 * READER_CHUNK_BYTES unless one line is longer: control may put a "~"
 * keep-alive line between two chunks, so a chunk must never end inside a
 * line. Only full chunks go, unless flush is set (then everything).
 */
static void
reader_drain(struct reader_reply *reply, int flush)
{
	size_t off = 0, n;
	const char *nl;

	while (reply->len - off >= READER_CHUNK_BYTES || (flush && off < reply->len)) {
		n = reply->len - off < READER_CHUNK_BYTES ? reply->len - off : READER_CHUNK_BYTES;
		if ((nl = memrchr(reply->buf + off, '\n', n)) != NULL)
			n = (size_t)(nl - (reply->buf + off)) + 1;
		else if ((nl = memchr(reply->buf + off + n, '\n', reply->len - off - n)) != NULL)
			n = (size_t)(nl - (reply->buf + off)) + 1;	/* one long line */
		else
			break;	/* a line not ended yet (reader_print ends every line) */
		if (reader_emit(reply, reply->buf + off, n) == -1) {
			reply->lost = 1;
			off = reply->len;
			break;
		}
		off += n;
	}
	if (off > 0 && off < reply->len)
		memmove(reply->buf, reply->buf + off, reply->len - off);
	reply->len -= off;
}

int
reader_cancelled(const struct reader_reply *reply)
{
	return atomic_load(&reply->job->cancelled) || atomic_load(&reply->reader->stopping);
}

/*
 * Room for a line of len bytes of text ("+ ", the text, newline and NUL):
 * where the text goes, or NULL when the reply is over, cancelled or out of
 * memory (then cancelled, logged).
 */
static char *
reader_line_begin(struct reader_reply *reply, size_t len)
{
	size_t need;

	if (reply->ended)
		return NULL;
	if (reader_cancelled(reply)) {
		reply->lost = 1;
		return NULL;
	}
	need = reply->len + 2 + len + 2;
	if (need > reply->cap) {
		size_t cap = need < 2 * READER_CHUNK_BYTES ? 2 * READER_CHUNK_BYTES : need;
		char *buf = realloc(reply->buf, cap);
		if (buf == NULL) {
			log_warn("reader: %s: %zu bytes of reply", reply->job->argv[0], cap);
			atomic_store(&reply->job->cancelled, 1);
			reply->lost = 1;
			return NULL;
		}
		reply->buf = buf;
		reply->cap = cap;
	}
	memcpy(reply->buf + reply->len, "+ ", 2);
	return reply->buf + reply->len + 2;
}

/* Ends the line begun with reader_line_begin, its text (len bytes) in place. */
static void
reader_line_end(struct reader_reply *reply, size_t len)
{
	char *p = reply->buf + reply->len + 2, *end = p + len;

	/* as control_out: a newline inside the text must not forge a protocol line */
	for (; p < end; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	reply->len += 2 + len;
	reply->buf[reply->len++] = '\n';
	if (reply->len >= READER_CHUNK_BYTES)
		reader_drain(reply, 0);
}

void
reader_print(struct reader_reply *reply, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int len;

	if (reply->ended)
		return;
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0) {
		log_warnx("reader: %s: cannot format '%s'", reply->job->argv[0], fmt);
		return;
	}
	if ((text = reader_line_begin(reply, (size_t)len)) == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, (size_t)len + 1, fmt, ap);
	va_end(ap);
	reader_line_end(reply, (size_t)len);
}

void
reader_put(struct reader_reply *reply, const char *text, size_t len)
{
	char *p;

	if ((p = reader_line_begin(reply, len)) == NULL)
		return;
	memcpy(p, text, len);
	reader_line_end(reply, len);
}

void
reader_print_text(struct reader_reply *reply, const char *text)
{
	const char *p = text, *nl;

	while (*p) {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			reader_print(reply, "%s", p);
			break;
		}
		reader_print(reply, "%.*s", (int)(nl - p), p);
		p = nl + 1;
	}
}

void
reader_end(struct reader_reply *reply, int status, const char *fmt, ...)
{
	va_list ap;

	if (reply->ended)
		return;
	reply->ended = 1;
	reply->status = status;
	va_start(ap, fmt);
	vsnprintf(reply->message, sizeof(reply->message), fmt, ap);
	va_end(ap);
}

/* Runs one job and hands over its last chunk; the job is the loop's after that. */
static void
reader_run(struct reader *r, struct reader_job *job)
{
	struct reader_reply reply;
	struct reader_chunk *end = job->end;

	memset(&reply, 0, sizeof(reply));
	reply.reader = r;
	reply.job = job;
	if (reader_cancelled(&reply))
		reply.lost = 1;
	else if (r->db == NULL && db_open_readonly(r->db_path, &r->db) == -1)
		reader_end(&reply, 1, "%s: the database %s could not be opened for reading (see "
		    "lbld's log)", job->argv[0], r->db_path);
	else
		r->work(r->work_arg, r->db, &reply, job->argc, job->argv);
	if (!reply.ended)
		reader_end(&reply, 1, "%s: no answer was made", job->argv[0]);
	if (!reply.lost)
		reader_drain(&reply, 1);
	free(reply.buf);
	end->status = reply.status;
	snprintf(end->data, READER_MESSAGE_BYTES, "%s", reply.message);
	/* a reply cut short must not end in "ok" */
	if (reply.lost) {
		end->status = 1;
		snprintf(end->data, READER_MESSAGE_BYTES, "%s: %s", job->argv[0],
		    atomic_load(&r->stopping) ? "lbld is stopping" : job->stalled ?
		    "the reply was cut short: nothing of it was read for too long" :
		    "the reply was cut short");
	}
	pthread_mutex_lock(&r->lock);
	reader_hand_over(r, end);
	pthread_mutex_unlock(&r->lock);
}

/* The reader thread: runs the waiting jobs in turn until the reader stops. */
static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	struct reader_job *job;

	/*
	 * On a busy two-core Pi the reader competes for the CPU with the loop
	 * thread, whose timers start the steps: it gives way (Linux's nice is
	 * per thread), and under a real-time policy (lbld.service) it leaves
	 * that for the ordinary one, so that a long export cannot starve the
	 * machine. A failure costs only that, so it is logged and the reader
	 * goes on.
	 */
	if (rt_thread_background(READER_NICE) == -1)
		log_warn("reader: leaving real-time scheduling or taking nice %d", READER_NICE);
	pthread_mutex_lock(&r->lock);
	while (!atomic_load(&r->stopping)) {
		if ((job = r->waiting) == NULL) {
			pthread_cond_wait(&r->wake, &r->lock);
			continue;
		}
		if ((r->waiting = job->next) == NULL)
			r->waiting_tail = NULL;
		r->waiting_count--;
		pthread_mutex_unlock(&r->lock);
		reader_run(r, job);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* The last chunk goes with the job: it is freed with it unless handed over. */
static void
reader_job_free(struct reader_job *job)
{
	free(job->end);
	free(job->argv);
	free(job);
}

/* Loop thread: the client's socket took some output, or the client is gone. */
static void
reader_watch(void *arg, struct control_client *client, enum control_event event)
{
	struct reader_job *job = arg;
	struct reader *r = job->reader;

	pthread_mutex_lock(&r->lock);
	if (event == CONTROL_GONE) {
		job->client = NULL;
		job->unsent_bytes = 0;
		atomic_store(&job->cancelled, 1);
	} else {
		job->unsent_bytes = control_unsent(client);
		job->sends++;
	}
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

/*
 * Loop thread: appends chunks to their clients' output, at most
 * READER_CHUNKS_PER_EVENT of them (O(chunk) each), then wakes itself again
 * for the rest, so a timer due meanwhile goes first; answers and frees each
 * job that ended.
 */
static void
reader_deliver(struct reader *r, int all)
{
	struct reader_chunk *chunk;
	struct reader_job *job;
	size_t unsent;
	uint64_t one = 1;
	int n = 0;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		if ((chunk = r->done) != NULL && !all && n == READER_CHUNKS_PER_EVENT) {
			/* the rest at the next turn of the loop */
			if (write(r->event_fd, &one, sizeof(one)) != sizeof(one))
				log_warn("reader: eventfd write");
			chunk = NULL;
		}
		if (chunk != NULL && (r->done = chunk->next) == NULL)
			r->done_tail = NULL;
		pthread_mutex_unlock(&r->lock);
		if (chunk == NULL)
			return;
		job = chunk->job;
		if (chunk->last) {
			if (job->client != NULL) {
				control_watch(job->client, NULL, NULL);
				if (chunk->status == 0)
					control_finish(job->client, 0, " ");
				else
					control_finish(job->client, chunk->status, "%s", chunk->data);
			}
			reader_job_free(job);	/* and chunk, its last */
			continue;
		}
		n++;
		unsent = 0;
		if (job->client != NULL) {
			if (control_out_lines(job->client, chunk->data, chunk->len) == -1)
				atomic_store(&job->cancelled, 1);
			else
				unsent = control_unsent(job->client);
		}
		pthread_mutex_lock(&r->lock);
		job->queued_bytes -= chunk->len;
		job->unsent_bytes = unsent;
		pthread_cond_broadcast(&r->wake);
		pthread_mutex_unlock(&r->lock);
		free(chunk);
	}
}

/* Loop thread: the reader handed something over (a read error is logged). */
static void
reader_on_event(void *arg, int fd, uint32_t events)
{
	struct reader *r = arg;
	uint64_t count;

	(void)events;
	if (read(fd, &count, sizeof(count)) == -1 && errno != EAGAIN)
		log_warn("reader: eventfd read");
	reader_deliver(r, 0);
}

struct reader *
reader_open(struct loop *loop, const char *db_path, reader_work work, void *arg, int stall_ms)
{
	pthread_condattr_t attr;
	struct reader *r;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL || (r->db_path = strdup(db_path)) == NULL) {
		log_warn("reader: calloc");
		free(r);
		return NULL;
	}
	r->loop = loop;
	r->work = work;
	r->work_arg = arg;
	r->stall_ms = stall_ms;
	if ((r->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("reader: eventfd");
		goto fail;
	}
	if (loop_add_fd(loop, r->event_fd, EPOLLIN, reader_on_event, r) == -1)
		goto fail_fd;
	/* the stall's deadline is on the monotonic clock: a clock step must not cut a reply */
	if ((rc = pthread_condattr_init(&attr)) != 0) {
		log_warnx("reader: cannot make its condition variable: %s", strerror(rc));
		loop_del_fd(loop, r->event_fd);
		goto fail_fd;
	}
	if ((rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
	    (rc = pthread_cond_init(&r->wake, &attr)) != 0) {
		log_warnx("reader: cannot make its condition variable: %s", strerror(rc));
		pthread_condattr_destroy(&attr);
		loop_del_fd(loop, r->event_fd);
		goto fail_fd;
	}
	pthread_condattr_destroy(&attr);
	if ((rc = pthread_mutex_init(&r->lock, NULL)) != 0) {
		log_warnx("reader: cannot make its lock: %s", strerror(rc));
		pthread_cond_destroy(&r->wake);
		loop_del_fd(loop, r->event_fd);
		goto fail_fd;
	}
	if ((rc = pthread_create(&r->thread, NULL, reader_main, r)) != 0) {
		log_warnx("reader: cannot start the reader thread: %s", strerror(rc));
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		loop_del_fd(loop, r->event_fd);
		goto fail_fd;
	}
	return r;
fail_fd:
	close(r->event_fd);
fail:
	free(r->db_path);
	free(r);
	return NULL;
}

void
reader_close(struct reader *r)
{
	struct reader_job *job, *next;
	int rc;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	atomic_store(&r->stopping, 1);
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
	if ((rc = pthread_join(r->thread, NULL)) != 0)
		log_warnx("reader: joining the reader thread: %s", strerror(rc));
	/* the thread is gone: what it made goes out, and every job it ran ends */
	reader_deliver(r, 1);
	for (job = r->waiting; job != NULL; job = next) {
		next = job->next;
		if (job->client != NULL) {
			control_watch(job->client, NULL, NULL);
			control_finish(job->client, 1, "%s: lbld is stopping", job->argv[0]);
		}
		reader_job_free(job);
	}
	loop_del_fd(r->loop, r->event_fd);
	close(r->event_fd);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	db_close(r->db);
	free(r->db_path);
	free(r);
}

/* A copy of the request's words in one block (argv, then the strings), or NULL. */
static char **
reader_copy_words(const struct control_request *req)
{
	size_t size = (size_t)(req->argc + 1) * sizeof(char *), off;
	char **argv;
	int i;

	for (i = 0; i < req->argc; i++)
		size += strlen(req->argv[i]) + 1;
	if ((argv = malloc(size)) == NULL)
		return NULL;
	off = (size_t)(req->argc + 1) * sizeof(char *);
	for (i = 0; i < req->argc; i++) {
		size_t n = strlen(req->argv[i]) + 1;
		argv[i] = (char *)argv + off;
		memcpy(argv[i], req->argv[i], n);
		off += n;
	}
	argv[req->argc] = NULL;
	return argv;
}

void
reader_submit(struct reader *r, struct control_client *client, const struct control_request *req)
{
	struct reader_job *job;
	int waiting;

	pthread_mutex_lock(&r->lock);
	waiting = r->waiting_count;
	pthread_mutex_unlock(&r->lock);
	if (waiting >= READER_MAX_QUEUED) {
		control_finish(client, 1, "%s: busy, try again: %d reads of the batch record are "
		    "waiting already", req->argv[0], waiting);
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL || (job->argv = reader_copy_words(req)) ==
	    NULL || (job->end = calloc(1, sizeof(*job->end) + READER_MESSAGE_BYTES)) == NULL) {
		log_warn("reader: %s: a request", req->argv[0]);
		if (job != NULL)
			free(job->argv);
		free(job);
		control_finish(client, 1, "%s: out of memory", req->argv[0]);
		return;
	}
	job->reader = r;
	job->client = client;
	job->argc = req->argc;
	job->end->job = job;
	job->end->last = 1;
	control_watch(client, reader_watch, job);
	pthread_mutex_lock(&r->lock);
	if (r->waiting_tail != NULL)
		r->waiting_tail->next = job;
	else
		r->waiting = job;
	r->waiting_tail = job;
	r->waiting_count++;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
}
