/*
 * In-place rig file edits (hw/rig/rig_edit.c): one value replaced or added,
 * every other byte kept; refusals name FILE:LINE:COL; a file edit that
 * would leave an invalid rig changes nothing.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rig_edit.h"
#include "test.h"

/* Edits text at the path; returns the new text (static) or NULL, and the diagnostics in msg. */
static const char *
edit(const char *text, const char *const keys[], size_t depth, const char *value, char **msg)
{
	static char *last;
	struct diag d;
	size_t len;

	free(last);
	last = NULL;
	diag_init(&d, "rig.yaml");
	if (rig_edit_text("rig.yaml", text, strlen(text), keys, depth, value, &d, &last, &len) ==
	    0 && strlen(last) != len) {
		free(last);
		last = NULL;
	}
	*msg = diag_render(&d);
	diag_free(&d);
	return last;
}

static void
test_replace(void)
{
	static const char *const x[] = { "stations", "ag", "x" };
	static const char *const depth[] = { "stations", "ag", "max_depth" };
	static const char *const name[] = { "name" };
	static const char *const safe[] = { "motion", "safe_z" };
	char *msg;

	TEST_STR("flow map value replaced, rest kept",
	    edit("stations:\n  ag: {x: 10 mm, max_depth: 5 mm}  # beaker\n", x, 3, "412.5 mm",
	    &msg), "stations:\n  ag: {x: 412.5 mm, max_depth: 5 mm}  # beaker\n");
	free(msg);
	TEST_STR("last value of a flow map",
	    edit("stations:\n  ag: {x: 10, max_depth: 5}\n", depth, 3, "7 mm", &msg),
	    "stations:\n  ag: {x: 10, max_depth: 7 mm}\n");
	free(msg);
	TEST_STR("comment after a block value kept",
	    edit("motion:\n  safe_z: 20 mm   # clears the beakers\n  lift: lift\n", safe, 2,
	    "25 mm", &msg), "motion:\n  safe_z: 25 mm   # clears the beakers\n  lift: lift\n");
	free(msg);
	TEST_STR("a '#' inside a value is no comment",
	    edit("name: rig#1 # the first\n", name, 1, "rig-2", &msg), "name: rig-2 # the first\n");
	free(msg);
	TEST_STR("double quotes kept",
	    edit("name: \"dip rig\" # q\n", name, 1, "dip rig 2", &msg), "name: \"dip rig 2\" # q\n");
	free(msg);
	TEST_STR("single quotes kept, a quote doubled",
	    edit("name: 'it''s'\n", name, 1, "rig's", &msg), "name: 'rig''s'\n");
	free(msg);
	TEST_STR("CRLF kept",
	    edit("motion:\r\n  safe_z: 20 mm\r\n  lift: lift\r\n", safe, 2, "30 mm", &msg),
	    "motion:\r\n  safe_z: 30 mm\r\n  lift: lift\r\n");
	free(msg);
	TEST_STR("a column after UTF-8 text",
	    edit("stations:\n  ag: {description: \"µ-beaker\", x: 10 mm}\n", x, 3, "11 mm", &msg),
	    "stations:\n  ag: {description: \"µ-beaker\", x: 11 mm}\n");
	free(msg);
	TEST_STR("negative number written plainly",
	    edit("stations:\n  ag: {x: 10 mm}\n", x, 3, "-1.5 mm", &msg),
	    "stations:\n  ag: {x: -1.5 mm}\n");
	free(msg);
}

static void
test_insert(void)
{
	static const char *const surf[] = { "stations", "park", "surface_z" };
	static const char *const scale[] = { "profiles", "p", "scale" };
	char *msg;

	TEST_STR("added to a flow map before its brace",
	    edit("stations:\n  park: {kind: park, x: 0 mm}   # home\n", surf, 3, "60 mm", &msg),
	    "stations:\n  park: {kind: park, x: 0 mm, surface_z: 60 mm}   # home\n");
	free(msg);
	TEST_STR("added to an empty flow map",
	    edit("stations:\n  park: {}\n", surf, 3, "60 mm", &msg),
	    "stations:\n  park: {surface_z: 60 mm}\n");
	free(msg);
	TEST_STR("added to a block map after its last line, nested value included",
	    edit("profiles:\n  p:\n    base: b\n    ops:\n      flow: {scale: 1}\n"
	    "    # trailing comment\n\nother: 1\n", scale, 3, "0.08", &msg),
	    "profiles:\n  p:\n    base: b\n    ops:\n      flow: {scale: 1}\n    scale: 0.08\n"
	    "    # trailing comment\n\nother: 1\n");
	free(msg);
	TEST_STR("added at the end of a file without a final newline, CRLF",
	    edit("profiles:\r\n  p:\r\n    base: b", scale, 3, "2", &msg),
	    "profiles:\r\n  p:\r\n    base: b\r\n    scale: 2\r\n");
	free(msg);
}

static void
test_refusals(void)
{
	static const char *const x[] = { "stations", "nope", "x" };
	static const char *const st[] = { "stations", "ag" };
	static const char *const name[] = { "name" };
	char *msg;

	TEST_CHECK("missing map refused", edit("stations:\n  ag: {x: 1}\n", x, 3, "2", &msg) ==
	    NULL, "edited");
	TEST_CONTAINS("missing map named at file:line:col", msg,
	    "rig.yaml:2:3: error: 'stations.nope.x': there is no 'nope'");
	free(msg);
	TEST_CHECK("a map is no value", edit("stations:\n  ag: {x: 1}\n", st, 2, "2", &msg) ==
	    NULL, "edited");
	TEST_CONTAINS("a map is no value: where and why", msg, "rig.yaml:2:7: error: "
	    "'stations.ag': expected a single value, found a map");
	free(msg);
	TEST_CHECK("a value with YAML structure refused",
	    edit("name: a\n", name, 1, "x: y", &msg) == NULL, "edited");
	TEST_CONTAINS("structure refusal says what is expected", msg, "a number with its unit");
	free(msg);
	TEST_CHECK("a comma in a flow map refused",
	    edit("stations:\n  ag: {x: 1}\n", (const char *const[]){ "stations", "ag", "x" }, 3,
	    "1,5", &msg) == NULL, "edited");
	free(msg);
	TEST_CHECK("a multi-line plain scalar refused",
	    edit("name: a\n  b\nx: 1\n", name, 1, "c", &msg) == NULL, "edited");
	TEST_CONTAINS("multi-line named", msg, "rig.yaml:1:7: error: 'name': the value runs over "
	    "more than one line");
	free(msg);
	TEST_CHECK("a syntax error refused", edit("name: [a\n", name, 1, "c", &msg) == NULL,
	    "edited");
	TEST_CONTAINS("syntax error reported", msg, "rig.yaml:");
	free(msg);
}

static char *
slurp(const char *path)
{
	static char buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd == -1)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static const char rig_text[] =
    "# a test rig: comments must survive\n"
    "name: t\n"
    "buses:\n"
    "  b: {type: tcp, host: 127.0.0.1, port: 1502}\n"
    "devices:\n"
    "  lift: {role: axis, kind: lift, bus: b, unit: 1, profile: generic-drive,\n"
    "         travel: {min: 0 mm, max: 150 mm}, max_speed: 50 mm/s}\n"
    "  transfer: {role: axis, kind: transfer, bus: b, unit: 2, profile: generic-drive,\n"
    "         travel: {min: 0 mm, max: 800 mm}, max_speed: 200 mm/s}\n"
    "motion: {lift: lift, transfer: transfer, safe_z: 20 mm}\n"
    "stations:\n"
    "  park: {kind: park, x: 0 mm}\n"
    "  ag:   {kind: beaker, x: 100 mm, surface_z: 60 mm, max_depth: 60 mm}  # silver\n";

static void
test_file(void)
{
	static const char *const x[] = { "stations", "ag", "x" };
	char dir[] = "/tmp/lbl-rig-edit-XXXXXX", path[256], bak[256];
	const char *now;
	struct diag d;
	struct stat st;
	char *msg;
	int fd;

	if (mkdtemp(dir) == NULL) {
		TEST_CHECK("temporary directory", 0, "mkdtemp failed");
		return;
	}
	snprintf(path, sizeof(path), "%s/rig.yaml", dir);
	snprintf(bak, sizeof(bak), "%s/rig.yaml.bak", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	TEST_CHECK("rig written", fd != -1 && write(fd, rig_text, strlen(rig_text)) ==
	    (ssize_t)strlen(rig_text), "cannot write %s", path);
	if (fd != -1)
		close(fd);

	diag_init(&d, path);
	TEST_EQ_INT("file edit succeeds", rig_edit_file(path, &(struct rig_edit){ x, 3, "412.5 mm" }, 1, &d), 0);
	msg = diag_render(&d);
	TEST_STR("no diagnostics", msg, "");
	free(msg);
	diag_free(&d);
	now = slurp(path);
	TEST_CONTAINS("value written", now, "ag:   {kind: beaker, x: 412.5 mm, surface_z: 60 mm");
	TEST_CONTAINS("comment kept", now, "# a test rig: comments must survive\n");
	TEST_CONTAINS("trailing comment kept", now, "}  # silver\n");
	TEST_STR(".bak holds the old text", slurp(bak), rig_text);
	TEST_CHECK("mode kept", stat(path, &st) == 0 && (st.st_mode & 07777) == 0640,
	    "mode %o", (unsigned)(st.st_mode & 07777));

	/* outside the transfer travel: the rig checker refuses, nothing changes */
	diag_init(&d, path);
	TEST_EQ_INT("invalid rig refused", rig_edit_file(path, &(struct rig_edit){ x, 3, "900 mm" }, 1, &d), -1);
	msg = diag_render(&d);
	TEST_CONTAINS("the checker's message, at the value", msg,
	    ":13:27: error: 'x': 900.0 mm is outside the transfer axis travel");
	TEST_CONTAINS("and that nothing was written", msg, "nothing written");
	free(msg);
	diag_free(&d);
	TEST_CONTAINS("file unchanged after a refusal", slurp(path), "x: 412.5 mm");
	TEST_STR(".bak unchanged after a refusal", slurp(bak), rig_text);

	/* two values in one edit: one .bak, holding the text before both */
	{
		static const char *const z[] = { "stations", "ag", "surface_z" };
		static const char *const px[] = { "stations", "park", "x" };
		char before[2048];
		struct rig_edit two[] = { { z, 3, "61.25 mm" }, { px, 3, "2 mm" } };

		snprintf(before, sizeof(before), "%s", slurp(path));
		diag_init(&d, path);
		TEST_EQ_INT("two edits at once", rig_edit_file(path, two, 2, &d), 0);
		diag_free(&d);
		now = slurp(path);
		TEST_CONTAINS("first of two written", now, "surface_z: 61.25 mm, max_depth");
		TEST_CONTAINS("second of two written", now, "park: {kind: park, x: 2 mm}\n");
		TEST_STR(".bak holds the text before both", slurp(bak), before);
	}

	diag_init(&d, "/nonexistent/rig.yaml");
	TEST_EQ_INT("missing file refused", rig_edit_file("/nonexistent/rig.yaml",
	    &(struct rig_edit){ x, 3, "1 mm" }, 1, &d), -1);
	msg = diag_render(&d);
	TEST_CONTAINS("missing file named", msg, "/nonexistent/rig.yaml");
	free(msg);
	diag_free(&d);

	unlink(path);
	unlink(bak);
	rmdir(dir);
}

int
main(void)
{
	test_replace();
	test_insert();
	test_refusals();
	test_file();
	return TEST_DONE();
}
