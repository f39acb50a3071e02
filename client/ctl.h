/*
 * lblctl subcommands. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 failure, 2 invalid input (bad recipe, bad usage).
 */
#ifndef LBL_CTL_H
#define LBL_CTL_H

#include "lbl_limits.h"
#include "paths.h"

#define CTL_DEFAULT_RIG		LBL_RIG_PATH
#define CTL_DEFAULT_SOCKET	LBL_SOCKET_PATH
/*
 * How long lblctl waits for lbld to connect, take its request and send
 * each line of the answer: lbld answers within milliseconds, and a busy
 * one within a second, so this much silence means it is stuck or gone.
 */
#define CTL_DEFAULT_TIMEOUT_S	5

int ctl_check(int argc, char **argv);		/* lblctl check RECIPE [--rig RIG] */
int ctl_plan(int argc, char **argv);		/* lblctl plan RECIPE [--rig RIG] [--json] */
int ctl_check_rig(int argc, char **argv);	/* lblctl check-rig RIG */
int ctl_hw(int argc, char **argv);		/* lblctl hw [--rig RIG] */
/*
 * Every other command goes to lbld over the control socket ($LBL_SOCKET or
 * CTL_DEFAULT_SOCKET): run, status, pause, resume, continue, abort, recipe,
 * resume-batch... Each wait is bounded by $LBL_TIMEOUT seconds (or
 * CTL_DEFAULT_TIMEOUT_S); an invalid one exits 2.
 */
int ctl_remote(int argc, char **argv);
/*
 * ctl_remote() for a command that reads lbld's answer itself: each output
 * line ("+ text") goes to line_cb, without its "+ ", instead of stdout;
 * messages and failures are printed as ctl_remote() prints them. Returns
 * the same exit status.
 */
typedef void (*ctl_line_cb)(void *arg, const char *line);
int ctl_remote_lines(int argc, char **argv, ctl_line_cb line_cb, void *line_arg);
/*
 * lblctl teach STATION [--surface] [--no-reload]: lbld reads the transfer
 * axis (and the lift) where it stands, the rig file lbld runs is edited in
 * place (rig_edit.h) and lbld reloads it (client/ctl_teach.c).
 */
int ctl_teach(int argc, char **argv);
/*
 * lblctl calibrate PUMP --flow FLOW --time TIME | --measured VOLUME: the
 * run through lbld, then the corrected scale written to the pump's profile
 * in the rig file and reloaded (client/ctl_teach.c).
 */
int ctl_calibrate(int argc, char **argv);
/*
 * Seconds from --timeout or LBL_TIMEOUT text: 0, or -1 when not a number in
 * (0, CTL_MAX_TIMEOUT_S].
 */
int ctl_parse_timeout(const char *text, double *seconds);
/*
 * Manual control through lbld (move, jog, goto, stop, set, prime, fill,
 * drain): the command line's shape checked (2 when wrong), then
 * ctl_remote().
 */
int ctl_manual(int argc, char **argv);
/* lblctl plot ID [ID...] -o FILE.svg|FILE.png (gnuplot draws) */
int ctl_plot(int argc, char **argv);

#endif
