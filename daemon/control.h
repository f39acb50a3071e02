/*
 * The control socket, lbld's side: lblctl and the other clients talk to
 * lbld over a Unix stream socket, in the protocol of base/protocol.h.
 *
 * Access: the socket is 0666 (in a 0755 directory), so any local user can
 * connect and view; SO_PEERCRED decides, once per connection at accept,
 * whether the peer is an operator, who may also change things: root,
 * lbld's own user, or a member of CONTROL_GROUP by the group database
 * (primary or supplementary, getgrouplist) or by its effective gid.
 *
 * Nobody can lock the operators out: a connection must complete its
 * request within a few seconds or it is dropped (followers are answered,
 * not idle); each viewer uid may hold only a few connections; the last
 * slots are kept for operators; refusals are logged at a bounded rate.
 */
#ifndef LBL_CONTROL_H
#define LBL_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include "loop.h"
#include "protocol.h"

struct control;
struct control_client;

struct control_request {
	int argc;
	char **argv;
	const char *payload;		/* NULL if none; NUL-terminated */
	size_t payload_len;
};

/* Called once per complete request; must answer with control_finish (now or later). */
typedef void (*control_handler)(void *arg, struct control_client *client,
    const struct control_request *req);

/*
 * Whether path may become lbld's socket: 0 when nothing is there, or a
 * socket nobody answers on (removed when remove_stale is set); -1 with err
 * when it is another kind of file (never replaced: a mistyped --socket must
 * not delete a database) or a live server answers on it.
 */
int control_claim_path(const char *path, int remove_stale, char *err, size_t err_size);
/*
 * Listens on path, replacing only a stale socket (control_claim_path). NULL
 * on failure (logged).
 */
struct control *control_open(struct loop *loop, const char *path, control_handler handler,
    void *arg);
/* Closes every client and the socket, and removes the socket file if it is still ours. */
void control_close(struct control *control);

/* Queues "+ text" (stdout) or "! text" (stderr) lines for the client. */
/* Sends multi-line text (a recipe...) as one reply line per line of text. */
void control_out_text(struct control_client *c, const char *text);
void control_out(struct control_client *client, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void control_err(struct control_client *client, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Ends the request: "ok" when status is 0, else "fail status message". */
void control_finish(struct control_client *client, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Marks a client as following (kept open after the handler returns); tag is the caller's. */
void control_follow(struct control_client *client, int tag);
/* Calls fn for each following client with that tag. */
void control_each_follower(struct control *control, int tag,
    void (*fn)(void *arg, struct control_client *client), void *arg);

/*
 * For replies made elsewhere (a reader thread's chunks, handed over in the
 * loop thread): a watcher hears CONTROL_SENT after each send the socket
 * took, so it can tell how much is still unsent (control_unsent), and
 * CONTROL_GONE once, just before the client is freed (the peer went away,
 * was dropped, or lbld is closing the socket): the client must not be used
 * after that. control_watch(client, NULL, NULL) stops it; a client has at
 * most one watcher.
 */
enum control_event { CONTROL_SENT, CONTROL_GONE };
typedef void (*control_watch_cb)(void *arg, struct control_client *client,
    enum control_event event);
void control_watch(struct control_client *client, control_watch_cb cb, void *arg);
/* Bytes of output queued for the client and not yet taken by its socket. */
size_t control_unsent(const struct control_client *client);
/*
 * Appends len bytes that are whole reply lines already ("+ text\n"...) to
 * the client's output and sends what the socket takes. Returns 0, or -1
 * when the client is closing (it went away, its unsent output would pass
 * the backlog limit, or memory ran out: logged): nothing more will reach it.
 */
int control_out_lines(struct control_client *client, const char *lines, size_t len);

/* Whether the peer is an operator, who may change things (decided at accept). */
int control_may_write(const struct control_client *client);
uid_t control_peer_uid(const struct control_client *client);
/*
 * The operator's name for the record, "login (uid N)", or "uid N" when the
 * uid has no login (or is a viewer's): looked up at accept, at most once
 * per uid per period, never in a request's handling (the user database
 * may block). Valid while the client is.
 */
const char *control_peer_who(const struct control_client *client);

#endif
