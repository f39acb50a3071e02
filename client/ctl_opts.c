/*
 * lblctl's command lines, parsed here for every command with getopt_long
 * from the command's table of options (client/lblctl_main.c), so that a
 * mistake — an unknown option, a missing or bad value, a word too many —
 * is told before anything is sent, naming what was wrong, and --help
 * works with no lbld running. The command then runs with its words in one
 * shape: its name, the positional words, then each option as "--name
 * value", which is also what lbld reads (the wire protocol is unchanged).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "query.h"

/* The options every command takes, besides its own. */
static const struct ctl_option ctl_global_options[] = {
	{ "socket", 0, "PATH", NULL, "lbld's control socket (also LBL_SOCKET)", NULL },
	{ "timeout", 0, "SECONDS", NULL, "how long to wait for lbld (also LBL_TIMEOUT)", NULL },
	{ "help", 'h', NULL, NULL, "this help", NULL },
	{ NULL, 0, NULL, NULL, NULL, NULL },
};

/* A word getopt must not take for an option: a negative number ("jog x -5mm"). */
static int
ctl_negative_number(const char *w)
{
	return w[0] == '-' && ((w[1] >= '0' && w[1] <= '9') || (w[1] == '.' && w[2] >= '0' &&
	    w[2] <= '9'));
}

int
ctl_check_state(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size)
{
	(void)utc;
	(void)out;
	(void)out_size;
	if (query_check_state(value, why, why_size) == -1)
		return -1;
	return 0;
}

/* A date as the record's UTC stamp of the first (since) or last (until) millisecond it covers. */
static int
ctl_check_date(const char *value, int utc, int until, char *out, size_t out_size, char *why,
    size_t why_size)
{
	struct query_span span;

	if (query_parse_when(value, utc, (int64_t)time(NULL), &span, why, why_size) == -1)
		return -1;
	if (query_format_stamp(until ? span.to_ms - 1 : span.from_ms, out, out_size) == -1) {
		snprintf(why, why_size, "'%s' cannot be written as a UTC time", value);
		return -1;
	}
	return 0;
}

int
ctl_check_since(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size)
{
	return ctl_check_date(value, utc, 0, out, out_size, why, why_size);
}

int
ctl_check_until(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size)
{
	return ctl_check_date(value, utc, 1, out, out_size, why, why_size);
}

int
ctl_check_limit(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size)
{
	int limit;

	(void)utc;
	(void)out;
	(void)out_size;
	if (query_parse_limit(value, &limit, why, why_size) == -1)
		return -1;
	return 0;
}

int
ctl_check_batch_id(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size)
{
	char *end;
	long long id;

	(void)utc;
	(void)out;
	(void)out_size;
	errno = 0;
	id = strtoll(value, &end, 10);
	if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || id < 1) {
		snprintf(why, why_size, "expected a batch id (a whole number from 1, as history "
		    "lists them), not '%s'", value);
		return -1;
	}
	return 0;
}

int
ctl_check_seconds(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size)
{
	char *end;
	double v;

	(void)utc;
	(void)out;
	(void)out_size;
	errno = 0;
	v = strtod(value, &end);
	if (end == value || *end != '\0' || errno != 0 || !isfinite(v) || v < 0) {
		snprintf(why, why_size, "expected seconds (a number, 0 or more), not '%s'", value);
		return -1;
	}
	return 0;
}

int
ctl_check_format(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size)
{
	(void)utc;
	(void)out;
	(void)out_size;
	if (strcmp(value, "csv") != 0 && strcmp(value, "json") != 0) {
		snprintf(why, why_size, "expected csv or json, not '%s'", value);
		return -1;
	}
	return 0;
}

int
ctl_check_lot(const char *value, int utc, char *out, size_t out_size, char *why,
    size_t why_size)
{
	const char *eq = strchr(value, '=');

	(void)utc;
	(void)out;
	(void)out_size;
	if (eq == NULL || eq == value || eq[1] == '\0') {
		snprintf(why, why_size, "expected SOLUTION=LOT, not '%s'", value);
		return -1;
	}
	return 0;
}

int
ctl_global_option(const char *name, const char *value)
{
	double seconds;

	if (strcmp(name, "timeout") == 0 && ctl_parse_timeout(value, &seconds) == -1) {
		fprintf(stderr, "lblctl: --timeout: expected seconds, more than 0 and at most %d, "
		    "not '%s'\n", CTL_MAX_TIMEOUT_S, value);
		return -1;
	}
	if (strcmp(name, "socket") == 0 && value[0] == '\0') {
		fprintf(stderr, "lblctl: --socket: expected a path, not an empty word\n");
		return -1;
	}
	if (setenv(strcmp(name, "socket") == 0 ? "LBL_SOCKET" : "LBL_TIMEOUT", value, 1) == -1) {
		perror("lblctl: setenv");
		return -1;
	}
	return 0;
}

static void
ctl_options_help(const struct ctl_option *o, FILE *out)
{
	char left[64];

	for (; o != NULL && o->name != NULL; o++) {
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
			    o->value ? " " : "", o->value ? o->value : "");
		else
			snprintf(left, sizeof(left), "--%s%s%s", o->name, o->value ? " " : "",
			    o->value ? o->value : "");
		fprintf(out, "  %-26s %s\n", left, o->help);
	}
}

void
ctl_command_help(const struct ctl_command *cmd, FILE *out)
{
	fprintf(out, "usage: lblctl %s\n\n%s\n", cmd->usage, cmd->summary);
	if (cmd->options != NULL && cmd->options[0].name != NULL) {
		fprintf(out, "\noptions:\n");
		ctl_options_help(cmd->options, out);
	}
	fprintf(out, "\nglobal options (anywhere on the line):\n");
	ctl_options_help(ctl_global_options, out);
}

void
ctl_words_free(int argc, char **argv)
{
	int i;

	if (argv == NULL)
		return;
	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

/* An option given, in order, with its value as the command gets it. */
struct ctl_given {
	const struct ctl_option *opt;
	const char *value;		/* as typed; NULL for a flag */
};

/* The option table getopt_long reads: the command's and the global ones; val is the index. */
static struct option *
ctl_getopt_table(const struct ctl_command *cmd, const struct ctl_option ***index,
    char *shorts, size_t shorts_size)
{
	size_t n = 0, k = 0, i, len;
	struct option *t;
	const struct ctl_option *sets[2] = { cmd->options, ctl_global_options }, *o;

	for (i = 0; i < 2; i++)
		for (o = sets[i]; o != NULL && o->name != NULL; o++)
			n++;
	t = calloc(n + 1, sizeof(*t));
	*index = calloc(n + 1, sizeof(**index));
	if (t == NULL || *index == NULL) {
		free(t);
		free(*index);
		return NULL;
	}
	/* "-": positional words come back in order (as 1); ":": a missing value is ':' */
	len = (size_t)snprintf(shorts, shorts_size, "-:");
	for (i = 0; i < 2; i++) {
		for (o = sets[i]; o != NULL && o->name != NULL; o++, k++) {
			t[k].name = o->name;
			t[k].has_arg = o->value ? required_argument : no_argument;
			t[k].flag = NULL;
			t[k].val = 256 + (int)k;
			(*index)[k] = o;
			if (o->short_name && len + 3 < shorts_size) {
				shorts[len++] = o->short_name;
				if (o->value)
					shorts[len++] = ':';
				shorts[len] = '\0';
			}
		}
	}
	return t;
}

/* The option a short name stands for, or NULL. */
static const struct ctl_option *
ctl_short(const struct ctl_option *const *index, int c)
{
	for (; *index != NULL; index++)
		if ((*index)->short_name == c)
			return *index;
	return NULL;
}

/* How a long option was written, for an error: the word without its "=value". */
static void
ctl_spelled(const char *w, char *buf, size_t size)
{
	const char *eq = strchr(w, '=');

	snprintf(buf, size, "%.*s", eq ? (int)(eq - w) : (int)strlen(w), w);
}

/* Whether o is one of ctl_global_options. */
static int
ctl_is_global(const struct ctl_option *o)
{
	const struct ctl_option *g;

	for (g = ctl_global_options; g->name != NULL; g++)
		if (g == o)
			return 1;
	return 0;
}

int
ctl_parse_command(const struct ctl_command *cmd, int argc, char **argv, int *out_argc,
    char ***out_argv)
{
	const struct ctl_option **index = NULL, *o;
	struct ctl_given given[CONTROL_MAX_ARGS];
	const char *positional[CONTROL_MAX_ARGS];
	char shorts[64], spelled[80], why[300], value[400], **words = NULL, **copy = NULL;
	struct option *table;
	int i, c, n_given = 0, n_pos = 0, n = 0, rc = -1, utc = 0;

	*out_argc = 0;
	*out_argv = NULL;
	if ((table = ctl_getopt_table(cmd, &index, shorts, sizeof(shorts))) == NULL ||
	    (copy = calloc((size_t)argc + 1, sizeof(*copy))) == NULL) {
		fprintf(stderr, "lblctl: out of memory\n");
		goto out;
	}
	/*
	 * getopt reads a negative number as options: the copy hides its '-'
	 * (as \001), put back once parsing is done.
	 */
	for (i = 0; i < argc; i++) {
		if ((copy[i] = strdup(argv[i])) == NULL) {
			fprintf(stderr, "lblctl: out of memory\n");
			goto out;
		}
		if (i > 0 && ctl_negative_number(copy[i]))
			copy[i][0] = '\001';
	}
	optind = 0;		/* glibc starts afresh, with this optstring's ordering */
	opterr = 0;
	for (;;) {
		if ((c = getopt_long(argc, copy, shorts, table, NULL)) == -1)
			break;
		if (c == 1) {
			if (n_pos == CONTROL_MAX_ARGS)
				goto too_many;
			positional[n_pos++] = optarg;
			continue;
		}
		if (c == '?' || c == ':') {
			/* optopt: a short option's letter, a long one's val, 0 for an unknown long one */
			if (optopt > 0 && optopt < 256)
				snprintf(spelled, sizeof(spelled), "-%c", optopt);
			else
				ctl_spelled(copy[optind - 1], spelled, sizeof(spelled));
			if (c == ':')
				fprintf(stderr, "lblctl %s: option '%s' needs a value\n", cmd->name,
				    spelled);
			else if (optopt >= 256)
				fprintf(stderr, "lblctl %s: option '%s' takes no value\n", cmd->name,
				    spelled);
			else
				fprintf(stderr, "lblctl %s: unknown option '%s'\n", cmd->name, spelled);
			goto usage;
		}
		o = c >= 256 ? index[c - 256] : ctl_short(index, c);
		if (o == NULL) {
			fprintf(stderr, "lblctl %s: unknown option '-%c'\n", cmd->name, c);
			goto usage;
		}
		if (ctl_is_global(o) && strcmp(o->name, "help") == 0) {
			ctl_command_help(cmd, stdout);
			rc = 1;
			goto out;
		}
		if (ctl_is_global(o)) {
			if (ctl_global_option(o->name, optarg) == -1)
				goto out;
			continue;
		}
		if (strcmp(o->name, "utc") == 0)
			utc = 1;
		if (n_given == CONTROL_MAX_ARGS)
			goto too_many;
		given[n_given].opt = o;
		given[n_given++].value = o->value ? optarg : NULL;
	}
	/* after "--", every word is positional */
	for (i = optind; i < argc; i++) {
		if (n_pos == CONTROL_MAX_ARGS)
			goto too_many;
		positional[n_pos++] = copy[i];
	}
	for (i = 1; i < argc; i++)
		if (copy[i][0] == '\001')
			copy[i][0] = '-';
	if (n_pos < cmd->min_args || (cmd->max_args >= 0 && n_pos > cmd->max_args)) {
		if (n_pos > cmd->min_args && cmd->max_args >= 0)
			fprintf(stderr, "lblctl %s: unexpected '%s'\n", cmd->name,
			    positional[cmd->max_args]);
		else
			fprintf(stderr, "lblctl %s: %s\n", cmd->name, cmd->max_args == 0 ?
			    "takes no argument" : "an argument is missing");
		goto usage;
	}
	if (1 + n_pos + 2 * n_given > CONTROL_MAX_ARGS)
		goto too_many;
	if ((words = calloc((size_t)(2 + n_pos + 2 * n_given), sizeof(*words))) == NULL) {
		fprintf(stderr, "lblctl: out of memory\n");
		goto out;
	}
	if ((words[n++] = strdup(cmd->name)) == NULL)
		goto oom;
	for (i = 0; i < n_pos; i++) {
		if (cmd->check_arg != NULL && cmd->check_arg(positional[i], utc, value,
		    sizeof(value), why, sizeof(why)) == -1) {
			fprintf(stderr, "lblctl %s: %s\n", cmd->name, why);
			goto usage;
		}
		if ((words[n++] = strdup(positional[i])) == NULL)
			goto oom;
	}
	for (i = 0; i < n_given; i++) {
		o = given[i].opt;
		if (o->wire != NULL)
			snprintf(spelled, sizeof(spelled), "%s", o->wire);
		else
			snprintf(spelled, sizeof(spelled), "--%s", o->name);
		if ((words[n++] = strdup(spelled)) == NULL)
			goto oom;
		if (given[i].value == NULL)
			continue;
		value[0] = '\0';
		if (o->check != NULL && o->check(given[i].value, utc, value, sizeof(value), why,
		    sizeof(why)) == -1) {
			fprintf(stderr, "lblctl %s: --%s: %s\n", cmd->name, o->name, why);
			goto usage;
		}
		/* what the value stands for when the check wrote it, else the value whole */
		if ((words[n++] = strdup(value[0] ? value : given[i].value)) == NULL)
			goto oom;
	}
	*out_argc = n;
	*out_argv = words;
	words = NULL;
	rc = 0;
	goto out;
too_many:
	fprintf(stderr, "lblctl %s: too many arguments (at most %d)\n", cmd->name,
	    CONTROL_MAX_ARGS);
	goto usage;
oom:
	fprintf(stderr, "lblctl: out of memory\n");
	goto out;
usage:
	fprintf(stderr, "usage: lblctl %s\n('lblctl %s --help' for its options)\n", cmd->usage,
	    cmd->name);
out:
	ctl_words_free(n, words);
	if (copy != NULL)
		ctl_words_free(argc, copy);
	free(table);
	free(index);
	optind = 0;
	return rc;
}
