/*
 * The reader: one thread, with its own read-only connection to the
 * database, that answers the commands reading the batch record (history,
 * show, compare, export, series), so that no read, however large, holds up
 * the event loop, which runs the batch and handles the e-stop.
 *
 * The loop thread hands a request over (a copy of its words) and goes on.
 * Requests are answered one at a time, first come first served; at most
 * READER_MAX_QUEUED wait, and one more is refused ("busy, try again"). The
 * reply is made in the reader thread and handed back to the loop thread in
 * chunks of whole lines, at most READER_CHUNK_BYTES each (unless one line
 * is longer), through an eventfd-signalled queue;
 * the loop appends each to the client's output. The reader waits, in its
 * own thread, while a client's unsent output and queued chunks exceed
 * READER_MAX_BACKLOG_BYTES, so an export of years of batches streams in
 * bounded memory at its client's pace. A client that goes away cancels its
 * request: the reader notices at its next row and stops; one that reads
 * nothing for READER_STALL_MS (READER_STALL_BUSY_MS while other reads
 * wait) has its reply cut short.
 */
#ifndef LBL_READER_H
#define LBL_READER_H

#include "control.h"
#include "lbl_limits.h"
#include "loop.h"

#define READER_CHUNK_BYTES		(64 * 1024)

struct db;
struct reader;
struct reader_reply;

/*
 * Answers one request (argv[0] is the command) with reader_print() and
 * reader_end(). It runs in the reader thread: it may use db, which is
 * read-only, and nothing that belongs to the loop thread.
 */
typedef void (*reader_work)(void *arg, struct db *db, struct reader_reply *reply, int argc,
    char **argv);

/*
 * Starts the reader thread; db_path is opened read-only at the first
 * request (a failure then fails that request, logged, and the next one
 * tries again). A client that reads nothing of its reply for stall_ms
 * (READER_STALL_BUSY_MS, if shorter, while other reads wait) while the
 * reader waits on it has the reply cut short (logged), so a
 * stopped client cannot hold every other read. Call it once signals are
 * blocked, so the thread inherits the mask. NULL on failure (logged).
 */
struct reader *reader_open(struct loop *loop, const char *db_path, reader_work work, void *arg,
    int stall_ms);

/*
 * Stops the thread (the request in progress is cancelled at its next row)
 * and joins it, hands over what it had made, answers every client still
 * waiting with "lbld is stopping", and frees everything. NULL is allowed.
 */
void reader_close(struct reader *reader);

/*
 * Hands a request over to the reader (loop thread); its client is answered
 * later, through the loop. When READER_MAX_QUEUED requests wait already, or
 * memory runs out, the client is answered at once with a failure.
 */
void reader_submit(struct reader *reader, struct control_client *client,
    const struct control_request *req);

/*
 * For the work, in the reader thread. reader_print() adds one "+ " line of
 * output, formatted as control_out() would; reader_print_text() one line
 * per line of text, as control_out_text(). reader_end() ends the reply
 * ("ok" when status is 0, else "fail status message"), once; output after
 * it is dropped. Once reader_cancelled() is true (the client went away or
 * lbld is stopping) output is dropped and the work should stop: a listing
 * callback returns it to end the listing.
 */
void reader_print(struct reader_reply *reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void reader_print_text(struct reader_reply *reply, const char *text);
/* One line of len bytes of text as it is, as reader_print("%s") but unformatted (faster). */
void reader_put(struct reader_reply *reply, const char *text, size_t len);
void reader_end(struct reader_reply *reply, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int reader_cancelled(const struct reader_reply *reply);

#endif
