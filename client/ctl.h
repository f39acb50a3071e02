/*
 * lblctl subcommands. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 failure, 2 invalid input (bad recipe, bad usage).
 */
#ifndef LBL_CTL_H
#define LBL_CTL_H

#include <stdio.h>

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
/*
 * lblctl history: lbld's, or with --server URI the lab's (runs lbl-sync
 * --history, client/ctl_sync.c: lblctl does not link libpq).
 */
int ctl_history(int argc, char **argv);
/* lblctl plot ID [ID...] -o FILE.svg|FILE.png (gnuplot draws) */
int ctl_plot(int argc, char **argv);

/*
 * Checks one option's value (or one positional word) before lblctl
 * connects: 0, or -1 with why (naming the value and what was expected).
 * A check that turns the value into what it stands for (a date into the
 * record's UTC stamp) writes that to out (out_size bytes, empty on entry),
 * and it is sent instead; one that leaves out empty has the value sent
 * whole. utc: the command line has --utc.
 */
typedef int (*ctl_check_fn)(const char *value, int utc, char *out, size_t out_size,
    char *why, size_t why_size);

/* One option of a command, as lblctl parses it (client/ctl_opts.c). */
struct ctl_option {
	const char *name;		/* the long name, without "--" */
	char short_name;		/* 0: none */
	const char *value;		/* what the value is called in help; NULL: takes none */
	ctl_check_fn check;		/* NULL: any value */
	const char *help;
	const char *wire;		/* what the command is given instead of --name, or NULL */
};

/* One command of lblctl: the table in client/lblctl_main.c. */
struct ctl_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;		/* after "lblctl " */
	const char *summary;		/* one sentence for --help */
	int min_args, max_args;		/* positional words; max -1: any number */
	ctl_check_fn check_arg;		/* for each positional word, or NULL */
	const struct ctl_option *options;	/* ends with a NULL name; NULL: none */
};

/* Validators for ctl_option.check (client/ctl_opts.c). */
int ctl_check_state(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size);
int ctl_check_since(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size);
int ctl_check_until(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size);
int ctl_check_limit(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size);
int ctl_check_batch_id(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size);
int ctl_check_seconds(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size);
int ctl_check_format(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size);
int ctl_check_lot(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size);

/*
 * Parses the command line of cmd (argv[0] is its name) with getopt_long:
 * --opt value and --opt=value, options before, between and after the
 * positional words, the global --socket PATH and --timeout SECONDS
 * anywhere (each set as LBL_SOCKET / LBL_TIMEOUT), every value checked.
 * On success the words the command runs with are in *out_argv (the
 * command's name, the positional words, then each option as --name
 * [value], in the order given; *out_argc of them, NULL-terminated; free
 * with ctl_words_free) and 0 is returned. -h or --help prints the
 * command's help to stdout and returns 1. A mistake is said on stderr,
 * naming the option or value, and returns -1 (exit 2). Nothing is sent.
 */
int ctl_parse_command(const struct ctl_command *cmd, int argc, char **argv, int *out_argc,
    char ***out_argv);
void ctl_words_free(int argc, char **argv);
/* The help of cmd: usage, summary, options (with the global ones). */
void ctl_command_help(const struct ctl_command *cmd, FILE *out);
/* Sets the global option name ("socket", "timeout") from value: 0, or -1 (said). */
int ctl_global_option(const char *name, const char *value);

#endif
