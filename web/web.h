/*
 * lbl-web: the rig in a browser. A separate program that talks to lbld
 * only through lbld's control socket, as lblctl does (base/protocol.h),
 * and serves a JSON API under /api/v1/ and a few pages built into the
 * binary (web/lbl-web.8).
 *
 * The modules: web_conf.c reads web.yaml, web_lbld.c is the client of
 * lbld's socket, web_auth.c holds users, sessions and the login rate,
 * web_pages.c (generated from web/pages/) the pages, web_main.c the HTTP
 * server (libmicrohttpd), its routes and the one follower of lbld's status
 * and events that every event stream reads from.
 */
#ifndef LBL_WEB_H
#define LBL_WEB_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf.h"
#include "lbl_limits.h"
#include "follow.h"
#include "lineread.h"

/* ---- web_conf.c ---- */

/* An address range: family AF_INET or AF_INET6, the address and its prefix length. */
struct web_cidr {
	int family;
	unsigned char addr[16];
	int prefix;
};

struct web_user {
	char name[WEB_MAX_USER_BYTES + 1];
	char *hash;			/* crypt(3) hash: $y$ (yescrypt) and the others libcrypt knows */
};

struct web_conf {
	struct sockaddr_storage listen;	/* where to listen */
	socklen_t listen_len;
	char listen_text[128];
	char *socket_path;		/* lbld's control socket */
	struct web_cidr trusted[WEB_MAX_TRUSTED];
	int trusted_count;
	struct web_user users[WEB_MAX_USERS];
	int user_count;
	char *tls_cert, *tls_key;	/* PEM files; both NULL without TLS */
	/* the names browsers may use in Host: (IP literals always): against DNS rebinding */
	char hosts[WEB_MAX_HOSTS][WEB_MAX_HOST_BYTES + 1];
	int host_count;
};

/*
 * Reads path (or, when path is NULL, starts from the defaults alone) into
 * conf: 0, or -1 with every error in d as FILE:LINE:COL (conf is freed
 * then). The defaults: listen [::]:8080, lbld's socket LBL_SOCKET_PATH,
 * trusted loopback and the private ranges, no users (nobody may change
 * anything), no TLS, hosts localhost and this machine's name (NAME and
 * NAME.local).
 */
int web_conf_load(const char *path, struct diag *d, struct web_conf *conf);
void web_conf_free(struct web_conf *conf);
/* Parses "A.B.C.D/N", "X:Y::Z/N" or an address alone (a host): 0 or -1. */
int web_cidr_parse(const char *text, struct web_cidr *out);
/*
 * Parses a listen address "HOST:PORT", "[V6]:PORT" or ":PORT" (every
 * address): 0, or -1 with why.
 */
int web_listen_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
    char *why, size_t why_size);
/* Whether sa (an IPv4-mapped IPv6 address counts as IPv4) is in a trusted range. */
int web_trusted(const struct web_conf *conf, const struct sockaddr *sa);
/*
 * Whether a request's Host header (NULL: none, as HTTP/1.0 may send) names
 * lbl-web: an IP address literal, or one of hosts: (case aside), with or
 * without a port. A web page elsewhere whose name was made to resolve to
 * the rig (DNS rebinding) sends its own name, and is refused.
 */
int web_host_ok(const struct web_conf *conf, const char *host);
/* The address as text, for the log ("?" if unknown). */
void web_addr_text(const struct sockaddr *sa, char *buf, size_t size);
/*
 * The client sa is counted as (its connections, its login attempts), as
 * text: an IPv4 address (IPv4-mapped IPv6 too) whole, an IPv6 address by
 * its /64 ("2001:db8:1:2::/64"), since one host on a LAN may take any
 * address of its /64 (SLAAC, privacy addresses) and would otherwise count
 * as many clients. "?" if unknown.
 */
void web_addr_key(const struct sockaddr *sa, char *buf, size_t size);
/*
 * Whether sa is this machine's own loopback address (127.0.0.1, ::1,
 * ::ffff:127.0.0.1), where a local reverse proxy connects from: its
 * connections are not counted per client.
 */
int web_loopback(const struct sockaddr *sa);

/* ---- web_lbld.c ---- */

/* lbld's whole answer to one request. */
struct web_reply {
	int status;			/* 0: ok; N: "fail N" (lblctl's exit status) */
	char *out;			/* the "+" lines, each ending in \n (malloc'd) */
	size_t out_len;
	char message[1024];		/* the failure, or the "!" lines */
};

/*
 * Sends argv (words without tab or newline) to lbld on socket_path and
 * reads the whole answer, each wait bounded by timeout_ms and the output by
 * WEB_MAX_REPLY_BYTES. Returns 0 when lbld answered (r->status says how;
 * free r->out), -1 when it could not be asked or did not answer
 * (r->message says why; errno EMSGSIZE for an answer past the bound).
 */
int web_lbld_call(const char *socket_path, int argc, const char *const argv[], int timeout_ms,
    struct web_reply *r);
void web_reply_free(struct web_reply *r);
/*
 * web_lbld_call for a read (history, show, export, plan...): at most
 * WEB_MAX_LBLD_READS at once, so browsers never fill lbld's reader queue
 * for its other clients. One more waits up to timeout_ms for its turn,
 * then returns -1 with errno EBUSY and r->message saying so.
 */
int web_lbld_read(const char *socket_path, int argc, const char *const argv[], int timeout_ms,
    struct web_reply *r);

/* ---- web_auth.c ---- */

/* Sets up the session table and the login counters (users stay in conf). */
void web_auth_init(const struct web_conf *conf);
/*
 * A login attempt from addr (the client's key, web_addr_key): 0 with a new session's token and CSRF token
 * (65 bytes each, hex) and the user's canonical name; 1 when the name or
 * password is wrong; 2 when addr has tried too often (retry_s says when it
 * may again); -1 when no session can be made (table full, no randomness).
 */
int web_auth_login(const char *addr, const char *user, const char *password, char *token,
    char *csrf, char *name, size_t name_size, int *retry_s);
/*
 * The session of token (a cookie's value): 0 with the user's name and the
 * CSRF token, -1 when there is none (or it expired).
 */
int web_auth_session(const char *token, char *name, size_t name_size, char *csrf);
void web_auth_logout(const char *token);
/* Whether a and b are equal, in time that does not depend on where they differ. */
int web_auth_equal(const char *a, const char *b);
/*
 * A new yescrypt hash of password (libcrypt's crypt_gensalt with its
 * default cost): malloc'd, or NULL with errno.
 */
char *web_auth_hash(const char *password);

/* ---- web_pages.c (generated) ---- */

struct web_page {
	const char *path;		/* "/index.html" */
	const char *type;		/* Content-Type */
	const unsigned char *data;
	size_t len;
};
extern const struct web_page web_pages[];
extern const size_t web_page_count;

#endif
