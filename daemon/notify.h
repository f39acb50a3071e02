/*
 * systemd integration (Type=notify): READY=1 once the rig is probed and the
 * database open, STATUS= at every step, and WATCHDOG=1 fed from the event
 * loop — so a hung loop stops feeding it and systemd restarts lbld. Outside
 * systemd (no $NOTIFY_SOCKET) every call does nothing.
 */
#ifndef LBL_NOTIFY_H
#define LBL_NOTIFY_H

#include "loop.h"

/* Arms the watchdog timer if systemd asked for one. Returns 0 or -1. */
int notify_init(struct loop *loop);
void notify_ready(void);
void notify_status(const char *status);
void notify_stopping(void);
/* Stops feeding the watchdog (the loop is unhealthy); the next check kills us. */
void notify_unhealthy(void);
void notify_close(void);

#endif
