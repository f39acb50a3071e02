/*
 * The control protocol: what lblctl and lbld (and any other client of
 * lbld's socket) agree on. lbld's side is daemon/control.h, the client's
 * client/ctl_client.c.
 *
 * A request is one line of tab-separated words, at most CONTROL_MAX_LINE
 * bytes. A word "@N" stands for a payload of N bytes (at most
 * CONTROL_MAX_PAYLOAD, one per request) that follows the line: a recipe's
 * text, for instance. The reply is lines: "+ text" is output for the user's
 * stdout, "! text" a message for stderr, and the last line is "ok" or
 * "fail N message" (N is lblctl's exit status). A request may "follow":
 * the daemon then streams "+" lines until the followed thing ends. A
 * request answered later (a follower, or any answer not given at once)
 * hears a line "~" at least every CONTROL_KEEPALIVE_MS, which clients
 * ignore but for knowing that lbld is alive; a follower hears one at once.
 */
#ifndef LBL_PROTOCOL_H
#define LBL_PROTOCOL_H

#include "lbl_limits.h"

/* Members of this group (and root, and lbld's user) are operators. */
#define CONTROL_GROUP		"lbl"

#endif
