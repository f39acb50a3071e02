/*
 * lblctl plot ID [ID...] -o FILE.svg|FILE.png: thickness against bilayer
 * for one or more batches, estimated (a dashed line) and measured (points),
 * so growth curves can be compared at a glance. The drawing is gnuplot's.
 *
 * Nothing the user typed or the record holds is pasted into gnuplot's
 * script as code: gnuplot runs in a private directory (mkdtemp) on files
 * with fixed names (plot.gp, batch-N.dat holding numbers only, its output
 * plot.svg or plot.png), and the only text from outside (batch ids,
 * recipe names, substrates in the title and legend) goes in as gnuplot
 * single-quoted strings, where a quote is doubled and nothing else is
 * special (backslashes included; control characters are replaced). The
 * picture is then moved to the path given by lblctl itself: rename(2) on
 * the same file system, else a copy to a temporary file beside it, then a
 * rename, so the path never holds half a picture. The private directory
 * is removed on every path out: SIGINT, SIGTERM and SIGHUP while it
 * exists stop gnuplot, remove it, and then end lblctl as the signal would.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"

/* Batches in one plot: each is a colour of the legend; more would be unreadable. */
#define PLOT_MAX_BATCHES	16
/* The picture's size in pixels: wide enough for a legend beside the data. */
#define PLOT_WIDTH		900
#define PLOT_HEIGHT		560
/* gnuplot's messages shown at most (a broken script could print thousands) */
#define PLOT_MAX_STDERR		8192

#define PLOT_USAGE	"usage: lblctl plot ID [ID...] -o FILE.svg|FILE.png\n"

/* The signal that asked lblctl to stop while the private directory exists; 0: none. */
static volatile sig_atomic_t plot_signal;

static void
plot_on_signal(int sig)
{
	plot_signal = sig;
}

static const int plot_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define PLOT_NSIGNALS	(int)(sizeof(plot_signals) / sizeof(plot_signals[0]))

/*
 * Catches the stopping signals (those not ignored: a background job's
 * SIGINT stays ignored) without SA_RESTART, so a wait for gnuplot returns
 * and the directory is removed; old[] keeps the dispositions to restore.
 */
static void
plot_catch_signals(struct sigaction old[PLOT_NSIGNALS])
{
	struct sigaction sa;
	int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = plot_on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < PLOT_NSIGNALS; i++) {
		if (sigaction(plot_signals[i], NULL, &old[i]) == -1)
			old[i].sa_handler = SIG_DFL;
		if (old[i].sa_handler != SIG_IGN && sigaction(plot_signals[i], &sa, NULL) == -1)
			fprintf(stderr, "lblctl: plot: sigaction: %s\n", strerror(errno));
	}
}

/* Restores the dispositions; a signal caught meanwhile then ends lblctl as it would have. */
static void
plot_release_signals(const struct sigaction old[PLOT_NSIGNALS])
{
	int i;

	for (i = 0; i < PLOT_NSIGNALS; i++)
		sigaction(plot_signals[i], &old[i], NULL);
	if (plot_signal != 0) {
		fflush(NULL);
		raise(plot_signal);
	}
}

/* One batch's series as lbld's "series ID" gives it. */
struct plot_batch {
	const char *id;			/* as given: digits only (checked) */
	char recipe[256];		/* "name@version" from the series' comment */
	char substrate[256];		/* "" when the batch has none */
	int n;				/* bilayers with a row */
	int measured;			/* of which measured */
	int *bilayer;
	double *estimated_nm, *measured_nm;	/* NaN: not measured */
	int cap;
	int bad;			/* a line that did not parse (said once) */
};

/* Collects one line of "series ID" into a plot_batch (a ctl_line_cb). */
static void
plot_series_line(void *arg, const char *line)
{
	struct plot_batch *b = arg;
	char *end, *p;
	double est, meas;
	long n;

	if (strncmp(line, "# substrate: ", 13) == 0) {
		snprintf(b->substrate, sizeof(b->substrate), "%s", line + 13);
		return;
	}
	if (strncmp(line, "# batch ", 8) == 0 && (p = strstr(line, ": ")) != NULL) {
		snprintf(b->recipe, sizeof(b->recipe), "%s", p + 2);
		return;
	}
	if (line[0] == '#' || strncmp(line, "bilayer", 7) == 0 || line[0] == '\0')
		return;
	errno = 0;
	n = strtol(line, &end, 10);
	if (errno == 0 && end != line && n > 0 && n <= 1000000) {
		p = end;
		est = strtod(p, &end);
		if (end != p) {
			p = end;
			meas = strtod(p, &end);
			if (end != p && (*end == '\0' || *end == ' ')) {
				if (b->n == b->cap) {
					int cap = b->cap ? b->cap * 2 : 64;
					int *nb = realloc(b->bilayer, cap * sizeof(*nb));
					double *ne = nb ? realloc(b->estimated_nm, cap * sizeof(*ne)) : NULL;
					double *nm = ne ? realloc(b->measured_nm, cap * sizeof(*nm)) : NULL;
					if (nb)
						b->bilayer = nb;
					if (ne)
						b->estimated_nm = ne;
					if (nm == NULL) {
						if (!b->bad)
							fprintf(stderr, "lblctl: plot: out of memory for "
							    "batch %s's series\n", b->id);
						b->bad = 1;
						return;
					}
					b->measured_nm = nm;
					b->cap = cap;
				}
				b->bilayer[b->n] = (int)n;
				b->estimated_nm[b->n] = est;
				b->measured_nm[b->n] = meas;
				b->measured += !isnan(meas);
				b->n++;
				return;
			}
		}
	}
	if (!b->bad)
		fprintf(stderr, "lblctl: plot: batch %s: lbld's series has a line that is not "
		    "'bilayer estimated_nm measured_nm': '%.80s'\n", b->id, line);
	b->bad = 1;
}

static void
plot_batch_free(struct plot_batch *b)
{
	free(b->bilayer);
	free(b->estimated_nm);
	free(b->measured_nm);
}

/*
 * Writes s as a gnuplot single-quoted string: a quote doubled, control
 * characters (which no record should hold) as '?'; nothing else is special
 * in such a string, backslashes included.
 */
static void
plot_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("''", f);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fputc('?', f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* The legend's name of a batch: "batch 3, sub-A" or "batch 3". */
static void
plot_label(char *buf, size_t size, const struct plot_batch *b, const char *what)
{
	snprintf(buf, size, "batch %s%s%s: %s", b->id, b->substrate[0] ? ", " : "", b->substrate,
	    what);
}

/* Writes batch i's numbers to dir/batch-i.dat; 0 or -1 (said). */
static int
plot_write_data(int dirfd, int i, const struct plot_batch *b)
{
	char name[32];
	FILE *f;
	int fd, k;

	snprintf(name, sizeof(name), "batch-%d.dat", i);
	if ((fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "lblctl: plot: writing the data of batch %s: %s\n", b->id,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	fprintf(f, "# bilayer estimated_nm measured_nm\n");
	for (k = 0; k < b->n; k++) {
		fprintf(f, "%d %.4f ", b->bilayer[k], b->estimated_nm[k]);
		if (isnan(b->measured_nm[k]))
			fprintf(f, "NaN\n");
		else
			fprintf(f, "%.4f\n", b->measured_nm[k]);
	}
	if (fclose(f) == EOF) {
		fprintf(stderr, "lblctl: plot: writing the data of batch %s: %s\n", b->id,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Writes dir/plot.gp; 0 or -1 (said). */
static int
plot_write_script(int dirfd, const char *terminal, const char *picture,
    const struct plot_batch *b, int n)
{
	double ymax = 0;
	int xmax = 1, i, k, fd;
	char label[600], title[PLOT_MAX_BATCHES * 300 + 64];
	size_t len;
	FILE *f;

	for (i = 0; i < n; i++)
		for (k = 0; k < b[i].n; k++) {
			if (b[i].bilayer[k] > xmax)
				xmax = b[i].bilayer[k];
			if (isfinite(b[i].estimated_nm[k]) && b[i].estimated_nm[k] > ymax)
				ymax = b[i].estimated_nm[k];
			if (isfinite(b[i].measured_nm[k]) && b[i].measured_nm[k] > ymax)
				ymax = b[i].measured_nm[k];
		}
	if (ymax <= 0)
		ymax = 1;
	/* the title names every batch and its recipe */
	len = (size_t)snprintf(title, sizeof(title), "Film growth: ");
	for (i = 0; i < n && len < sizeof(title); i++)
		len += (size_t)snprintf(title + len, sizeof(title) - len, "%sbatch %s%s%s%s",
		    i ? ", " : "", b[i].id, b[i].recipe[0] ? " (" : "", b[i].recipe,
		    b[i].recipe[0] ? ")" : "");
	if ((fd = openat(dirfd, "plot.gp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "lblctl: plot: writing gnuplot's script: %s\n", strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	fprintf(f, "set terminal %s size %d,%d noenhanced\nset output '%s'\n"
	    "set datafile missing 'NaN'\nset encoding utf8\nset title ", terminal, PLOT_WIDTH,
	    PLOT_HEIGHT, picture);
	plot_quote(f, title);
	/* bilayers are whole numbers: a tic each, unless there are many */
	fprintf(f, "\nset xlabel 'bilayer number'\nset ylabel 'thickness (nm)'\n"
	    "set key below box\nset grid\nset xrange [0.5:%g]\n"
	    "set xtics %d\nset mxtics 1\nset yrange [0:%g]\nplot ", xmax + 0.5,
	    xmax <= 20 ? 1 : (xmax + 9) / 10, ymax * 1.1);
	for (i = 0, k = 0; i < n; i++) {
		if (b[i].n == 0)
			continue;
		fprintf(f, "%s'batch-%d.dat' using 1:2 with linespoints dashtype 2 pointtype 1 "
		    "pointsize 0.7 linecolor %d title ", k++ ? ", \\\n  " : "", i, i + 1);
		plot_label(label, sizeof(label), &b[i], "estimated");
		plot_quote(f, label);
		if (b[i].measured == 0)
			continue;
		fprintf(f, ", \\\n  'batch-%d.dat' using 1:3 with points pointtype 7 pointsize 1.2 "
		    "linecolor %d title ", i, i + 1);
		plot_label(label, sizeof(label), &b[i], "measured");
		plot_quote(f, label);
	}
	fprintf(f, "\n");
	if (fclose(f) == EOF) {
		fprintf(stderr, "lblctl: plot: writing gnuplot's script: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Prints what gnuplot said (dir/gnuplot.err) on stderr, each line after
 * "lblctl: gnuplot: ", with the private directory's path (should gnuplot
 * name it) taken out: its files are named as the script names them.
 */
static void
plot_show_stderr(int dirfd, const char *dir)
{
	char buf[PLOT_MAX_STDERR + 1], *line, *next, *at;
	size_t dlen = strlen(dir);
	ssize_t got;
	int fd;

	if ((fd = openat(dirfd, "gnuplot.err", O_RDONLY | O_CLOEXEC)) == -1)
		return;
	got = read(fd, buf, PLOT_MAX_STDERR);
	close(fd);
	if (got <= 0)
		return;
	buf[got] = '\0';
	for (line = buf; line != NULL && *line; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		while ((at = strstr(line, dir)) != NULL) {
			size_t skip = dlen + (at[dlen] == '/');
			memmove(at, at + skip, strlen(at + skip) + 1);
		}
		if (*line)
			fprintf(stderr, "lblctl: gnuplot: %s\n", line);
	}
	if (got == PLOT_MAX_STDERR)
		fprintf(stderr, "lblctl: gnuplot: ... (more not shown)\n");
}

/*
 * Runs gnuplot on plot.gp inside dir, its stderr to dir/gnuplot.err.
 * Returns 0 when it exited 0, else -1 (said).
 */
static int
plot_run_gnuplot(const char *dir, int dirfd)
{
	int status, errfd;
	pid_t pid;

	if ((errfd = openat(dirfd, "gnuplot.err", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		fprintf(stderr, "lblctl: plot: %s\n", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1) {
		fprintf(stderr, "lblctl: plot: fork: %s\n", strerror(errno));
		close(errfd);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (chdir(dir) == -1 || null == -1 || dup2(null, STDIN_FILENO) == -1 ||
		    dup2(null, STDOUT_FILENO) == -1 || dup2(errfd, STDERR_FILENO) == -1)
			_exit(126);
		execlp("gnuplot", "gnuplot", "plot.gp", (char *)NULL);
		_exit(127);
	}
	close(errfd);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			fprintf(stderr, "lblctl: plot: waiting for gnuplot: %s\n", strerror(errno));
			return -1;
		}
		/* asked to stop: gnuplot too (a terminal's ^C reached it already) */
		if (plot_signal != 0)
			kill(pid, SIGTERM);
	}
	if (plot_signal != 0) {
		fprintf(stderr, "lblctl: plot: stopped by signal %d: nothing written\n",
		    (int)plot_signal);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		fprintf(stderr, "lblctl: plot: cannot run gnuplot (apt-get install gnuplot-nox)\n");
		return -1;
	}
	plot_show_stderr(dirfd, dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			fprintf(stderr, "lblctl: plot: gnuplot failed (exit %d)\n",
			    WEXITSTATUS(status));
		else
			fprintf(stderr, "lblctl: plot: gnuplot failed (signal %d)\n",
			    WTERMSIG(status));
		return -1;
	}
	return 0;
}

/*
 * Copies dir/picture to a temporary file beside out, then renames it to
 * out: for an out on another file system than the private directory.
 */
static int
plot_copy_into_place(int dirfd, const char *picture, const char *out)
{
	char *tmp, buf[65536];
	const char *slash = strrchr(out, '/');
	int in, fd, rc = -1;
	mode_t mask;
	ssize_t n;

	if (asprintf(&tmp, "%.*s.lblctl-plot-XXXXXX", slash ? (int)(slash - out + 1) : 0,
	    out) == -1) {
		fprintf(stderr, "lblctl: plot: out of memory\n");
		return -1;
	}
	if ((in = openat(dirfd, picture, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "lblctl: plot: gnuplot made no picture: %s\n", strerror(errno));
		free(tmp);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		fprintf(stderr, "lblctl: plot: %s: cannot create a file in its directory: %s\n",
		    out, strerror(errno));
		close(in);
		free(tmp);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		char *p = buf;
		while (n > 0) {
			ssize_t w = write(fd, p, (size_t)n);
			if (w == -1 && errno == EINTR)
				continue;
			if (w <= 0)
				goto out;
			p += w;
			n -= w;
		}
	}
	/* the mode gnuplot's own file would have had: 0666 less the umask */
	mask = umask(0);
	umask(mask);
	if (n == 0 && fchmod(fd, 0666 & ~mask) == 0 && fsync(fd) == 0) {
		if (close(fd) == 0 && rename(tmp, out) == 0)
			rc = 0;
		fd = -1;
	}
out:
	if (rc == -1)
		fprintf(stderr, "lblctl: plot: writing %s: %s\n", out, strerror(errno));
	if (fd != -1)
		close(fd);
	close(in);
	if (rc == -1)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* Removes the private directory and whatever is in it (files only). */
static void
plot_remove_dir(const char *dir, int dirfd)
{
	struct dirent *e;
	DIR *d;
	int fd = dup(dirfd);

	if (fd != -1 && (d = fdopendir(fd)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
			    unlinkat(dirfd, e->d_name, 0) == -1)
				fprintf(stderr, "lblctl: plot: removing %s/%s: %s\n", dir, e->d_name,
				    strerror(errno));
		closedir(d);
	} else if (fd != -1) {
		close(fd);
	}
	close(dirfd);
	if (rmdir(dir) == -1)
		fprintf(stderr, "lblctl: plot: removing %s: %s\n", dir, strerror(errno));
}

/* "svg" or "png" from out's suffix; NULL for any other. */
static const char *
plot_kind(const char *out)
{
	size_t n = strlen(out);

	if (n > 4 && strcmp(out + n - 4, ".svg") == 0)
		return "svg";
	if (n > 4 && strcmp(out + n - 4, ".png") == 0)
		return "png";
	return NULL;
}

int
ctl_plot(int argc, char **argv)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct plot_batch batches[PLOT_MAX_BATCHES];
	struct sigaction old_actions[PLOT_NSIGNALS];
	char dir[PATH_MAX], picture[16];
	const char *out = NULL, *kind, *tmpdir;
	char *fetch_argv[3];
	int n = 0, i, c, rc = 1, dirfd = -1, with_data = 0;

	optind = 0;		/* glibc starts afresh (lblctl_main parsed with another optstring) */
	while ((c = getopt_long(argc, argv, "+o:h", options, NULL)) != -1 || optind < argc) {
		if (c == -1) {
			/* an id: ids and options may come in any order */
			if (n == PLOT_MAX_BATCHES) {
				fprintf(stderr, "lblctl: plot: at most %d batches in one plot\n",
				    PLOT_MAX_BATCHES);
				return 2;
			}
			if (argv[optind][0] == '\0' || strspn(argv[optind], "0123456789") !=
			    strlen(argv[optind]) || strlen(argv[optind]) > 18) {
				fprintf(stderr, "lblctl: plot: '%s' is not a batch id (a number, "
				    "see 'lblctl history')\n" PLOT_USAGE, argv[optind]);
				return 2;
			}
			memset(&batches[n], 0, sizeof(batches[n]));
			batches[n++].id = argv[optind++];
		} else if (c == 'o') {
			out = optarg;
		} else if (c == 'h') {
			printf(PLOT_USAGE "Draws thickness (nm) against bilayer number: the plan's "
			    "estimate as a dashed line, measurements as points.\n");
			return 0;
		} else {
			fprintf(stderr, PLOT_USAGE);
			return 2;
		}
	}
	if (n == 0 || out == NULL || (kind = plot_kind(out)) == NULL) {
		if (out != NULL && plot_kind(out) == NULL)
			fprintf(stderr, "lblctl: plot: -o %s: the name must end in .svg or .png\n",
			    out);
		fprintf(stderr, PLOT_USAGE);
		return 2;
	}
	for (i = 0; i < n; i++) {
		fetch_argv[0] = "series";
		fetch_argv[1] = (char *)batches[i].id;
		fetch_argv[2] = NULL;
		if (ctl_remote_lines(2, fetch_argv, plot_series_line, &batches[i]) != 0 ||
		    batches[i].bad)
			goto out;
		with_data += batches[i].n > 0;
	}
	if (with_data == 0) {
		fprintf(stderr, "lblctl: plot: no finished bilayer to plot in batch%s %s%s: "
		    "nothing drawn\n", n > 1 ? "es" : "", batches[0].id, n > 1 ? ", ..." : "");
		goto out;
	}
	tmpdir = getenv("TMPDIR");
	if (tmpdir == NULL || *tmpdir == '\0')
		tmpdir = "/tmp";
	plot_catch_signals(old_actions);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/lblctl-plot-XXXXXX", tmpdir) >= sizeof(dir) ||
	    mkdtemp(dir) == NULL) {
		fprintf(stderr, "lblctl: plot: cannot make a private directory in %s: %s\n",
		    tmpdir, strerror(errno));
		goto out_signals;
	}
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "lblctl: plot: %s: %s\n", dir, strerror(errno));
		if (rmdir(dir) == -1)
			fprintf(stderr, "lblctl: plot: removing %s: %s\n", dir, strerror(errno));
		goto out_signals;
	}
	snprintf(picture, sizeof(picture), "plot.%s", kind);
	for (i = 0; i < n; i++)
		if (plot_write_data(dirfd, i, &batches[i]) == -1)
			goto out_dir;
	if (plot_write_script(dirfd, strcmp(kind, "svg") == 0 ? "svg dynamic font 'sans,11'" :
	    "pngcairo font 'sans,10'", picture, batches, n) == -1 ||
	    plot_run_gnuplot(dir, dirfd) == -1)
		goto out_dir;
	/* into place: the same file system renames, another one copies */
	if (plot_signal != 0)
		goto out_dir;
	if (renameat(dirfd, picture, AT_FDCWD, out) == -1) {
		if (errno != EXDEV) {
			fprintf(stderr, "lblctl: plot: %s: %s\n", out, strerror(errno));
			goto out_dir;
		}
		if (plot_copy_into_place(dirfd, picture, out) == -1)
			goto out_dir;
	}
	printf("%s: thickness against bilayer for %d batch%s\n", out, n, n == 1 ? "" : "es");
	rc = 0;
out_dir:
	plot_remove_dir(dir, dirfd);
out_signals:
	plot_release_signals(old_actions);
out:
	for (i = 0; i < n; i++)
		plot_batch_free(&batches[i]);
	return rc;
}
