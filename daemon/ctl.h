/*
 * lblctl subcommands. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 failure, 2 invalid input (bad recipe, bad usage).
 */
#ifndef LBL_CTL_H
#define LBL_CTL_H

#include "paths.h"

#define CTL_DEFAULT_RIG		LBL_RIG_PATH
#define CTL_DEFAULT_SOCKET	LBL_SOCKET_PATH

int ctl_check(int argc, char **argv);		/* lblctl check RECIPE [--rig RIG] */
int ctl_plan(int argc, char **argv);		/* lblctl plan RECIPE [--rig RIG] [--json] */
int ctl_check_rig(int argc, char **argv);	/* lblctl check-rig RIG */
int ctl_hw(int argc, char **argv);		/* lblctl hw [--rig RIG] */
/*
 * Every other command goes to lbld over the control socket ($LBL_SOCKET or
 * CTL_DEFAULT_SOCKET): run, status, pause, resume, continue, abort, recipe,
 * resume-batch...
 */
int ctl_remote(int argc, char **argv);
/* lblctl plot ID [ID...] -o FILE.svg|FILE.png (gnuplot draws) */
int ctl_plot(int argc, char **argv);

#endif
