/*
 * lblctl plot ID [ID...] -o FILE.svg|FILE.png: thickness against bilayer
 * for one or more batches, estimated (lines) and measured (points), so
 * growth curves can be compared at a glance. The drawing is gnuplot's: we
 * fetch each batch's series from lbld, write gnuplot a script, and run it.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"

extern char **environ;

/* Runs "lblctl series ID" in-process and captures its output into path. */
static int
ctl_plot_fetch(const char *id, const char *path)
{
	char *argv[] = { "series", (char *)id, NULL };
	int saved, fd, rc;
	FILE *f;

	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "lblctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = fileno(f);
	if (saved == -1 || dup2(fd, STDOUT_FILENO) == -1) {
		perror("lblctl: dup2");
		fclose(f);
		return -1;
	}
	rc = ctl_remote(2, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	fclose(f);
	return rc == 0 ? 0 : -1;
}

static const char *
ctl_plot_terminal(const char *out)
{
	size_t n = strlen(out);

	if (n > 4 && strcmp(out + n - 4, ".svg") == 0)
		return "svg size 800,500 dynamic enhanced font 'sans,11'";
	if (n > 4 && strcmp(out + n - 4, ".png") == 0)
		return "pngcairo size 800,500 enhanced font 'sans,10'";
	return NULL;
}

int
ctl_plot(int argc, char **argv)
{
	char dir[] = "/tmp/lblctl-plot-XXXXXX", path[64][300], script[300];
	const char *out = NULL, *terminal;
	const char *ids[32];
	int n = 0, i, status, rc = 1, with_data = 0;
	struct stat st;
	pid_t pid;
	FILE *f;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (argv[i][0] != '-' && n < 32)
			ids[n++] = argv[i];
		else {
			fprintf(stderr, "usage: lblctl plot ID [ID...] -o FILE.svg|FILE.png\n");
			return 2;
		}
	}
	if (n == 0 || out == NULL || (terminal = ctl_plot_terminal(out)) == NULL) {
		fprintf(stderr, "usage: lblctl plot ID [ID...] -o FILE.svg|FILE.png\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL) {
		perror("lblctl: mkdtemp");
		return 1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/batch-%d.dat", dir, i);
		if (ctl_plot_fetch(ids[i], path[i]) == -1)
			goto out;
		if (stat(path[i], &st) == 0 && st.st_size > 0)
			with_data++;
	}
	if (with_data == 0) {
		/* gnuplot would only say "x range is invalid" */
		fprintf(stderr, "lblctl: no finished bilayer to plot in batch%s %s%s\n",
		    n > 1 ? "es" : "", ids[0], n > 1 ? ", ..." : "");
		goto out;
	}
	snprintf(script, sizeof(script), "%s/plot.gp", dir);
	if ((f = fopen(script, "w")) == NULL) {
		perror("lblctl: plot script");
		goto out;
	}
	fprintf(f, "set terminal %s\nset output '%s'\nset datafile missing 'NaN'\n"
	    "set title 'Film growth'\nset xlabel 'bilayer'\nset ylabel 'thickness (nm)'\n"
	    "set key top left\nset grid\nset xtics 1\nset yrange [0:*]\nplot ", terminal, out);
	for (i = 0; i < n; i++)
		fprintf(f, "%s'%s' using 1:2 with lines dashtype 2 linecolor %d title 'batch %s "
		    "estimated', '%s' using 1:3 with linespoints pointtype 7 linecolor %d title "
		    "'batch %s measured'", i ? ", " : "", path[i], i + 1, ids[i], path[i], i + 1,
		    ids[i]);
	fprintf(f, "\n");
	if (fclose(f) == EOF) {
		perror("lblctl: plot script");
		goto out;
	}
	{
		char *gp_argv[] = { "gnuplot", script, NULL };
		if ((errno = posix_spawnp(&pid, "gnuplot", NULL, NULL, gp_argv, environ)) != 0) {
			fprintf(stderr, "lblctl: cannot run gnuplot: %s (apt-get install "
			    "gnuplot-nox)\n", strerror(errno));
			goto out;
		}
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "lblctl: gnuplot failed\n");
		goto out;
	}
	printf("%s: thickness against bilayer for %d batch%s\n", out, n, n == 1 ? "" : "es");
	rc = 0;
out:
	for (i = 0; i < n; i++)
		unlink(path[i]);
	unlink(script);
	rmdir(dir);
	return rc;
}
