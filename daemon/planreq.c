/*
 * plan NAME[@VERSION] [--json]: a stored recipe's plan against the rig
 * lbld runs, answered in the reader thread (daemon/reader.h), because a
 * recipe of thousands of steps takes its time to plan and to write, and
 * the event loop runs the batch meanwhile. The reader has its own
 * read-only connection to the database: the rig is the text lbld loaded
 * (its row, whose id the loop thread hands over with the request), the
 * recipe the stored one, so the answer is what 'lblctl plan FILE --rig
 * RIG [--json]' prints for the same texts: one encoder (recipes/plan.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "lbld.h"
#include "plan.h"
#include "reader.h"
#include "recipe.h"
#include "rig.h"

/* A piece of the plan's JSON: one line of the reply; stop once the client is gone. */
static int
planreq_sink(void *arg, const char *text, size_t len)
{
	struct reader_reply *reply = arg;

	if (reader_cancelled(reply))
		return -1;
	reader_put(reply, text, len);
	return 0;
}

/*
 * The first error of d (rendered FILE:LINE:COL: error: ...), for the
 * answer's one line; "" when none was rendered.
 */
static void
planreq_first_error(const struct diag *d, char *buf, size_t size)
{
	char *text = diag_render(d), *line, *save = NULL;

	buf[0] = '\0';
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "error") != NULL) {
			snprintf(buf, size, ": %s", line);
			break;
		}
	}
	free(text);
}

/* The plan as text, the lines plan_print_text writes. */
static void
planreq_text(struct reader_reply *reply, const struct plan *plan)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int rc;

	if (out == NULL) {
		reader_end(reply, 1, "plan: out of memory writing the plan");
		return;
	}
	rc = plan_print_text(plan, out);
	if (fclose(out) == EOF)
		rc = -1;
	if (rc == -1) {
		free(text);
		reader_end(reply, 1, "plan: out of memory writing the plan");
		return;
	}
	reader_print_text(reply, text);
	free(text);
	reader_end(reply, 0, " ");
}

/*
 * The reader's work for "plan --rig-id ID NAME[@VERSION] [--json]" (the
 * form requests.c hands over). Answers 2 for a recipe not stored or not
 * valid for the rig (the first error named), 1 when the record cannot be
 * read or memory runs out.
 */
void
planreq_run(struct db *db, struct reader_reply *reply, int argc, char **argv)
{
	struct db_recipe rig_row, row;
	struct rig *rig = NULL;
	struct recipe *recipe = NULL;
	struct plan *plan = NULL;
	struct diag d;
	char key[256], why[600], *at, *end;
	int64_t rig_id;
	int json, rc;

	if ((argc != 4 && argc != 5) || strcmp(argv[1], "--rig-id") != 0 ||
	    (argc == 5 && strcmp(argv[4], "--json") != 0)) {
		reader_end(reply, 2, "usage: plan NAME[@VERSION] [--json]");
		return;
	}
	json = argc == 5;
	errno = 0;
	rig_id = strtoll(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || rig_id <= 0) {
		reader_end(reply, 2, "plan: internal error: rig id '%s'", argv[2]);
		return;
	}
	memset(&rig_row, 0, sizeof(rig_row));
	memset(&row, 0, sizeof(row));
	if (db_rig_get(db, rig_id, &rig_row) != 0) {
		reader_end(reply, 1, "plan: the database could not read the rig lbld runs (row %"
		    PRId64 "): %s", rig_id, db_error(db));
		return;
	}
	snprintf(key, sizeof(key), "%s", argv[3]);
	if ((at = strchr(key, '@')) != NULL)
		*at++ = '\0';
	rc = db_recipe_find(db, key, at, &row);
	if (rc != 0) {
		if (rc == 1)
			reader_end(reply, 2, "no stored recipe %s (see 'lblctl recipe list')",
			    argv[3]);
		else
			reader_end(reply, 1, "plan: the database could not look up recipe %s: %s",
			    argv[3], db_error(db));
		db_recipe_row_free(&rig_row);
		return;
	}
	/* the rig as lbld loaded it: the stored text is the file it read */
	diag_init(&d, rig_row.name);
	if (rig_load_buffer(rig_row.name, rig_row.yaml, rig_row.yaml_len, &d, &rig) == -1) {
		planreq_first_error(&d, why, sizeof(why));
		reader_end(reply, 1, "plan: the rig lbld runs (%s) does not load again%s",
		    rig_row.name, why);
		goto out;
	}
	diag_free(&d);
	diag_init(&d, row.name);
	if (recipe_load_buffer(row.name, row.yaml, row.yaml_len, rig, time(NULL), &d,
	    &recipe) == -1 || plan_build(recipe, rig, time(NULL), &d, &plan) == -1) {
		planreq_first_error(&d, why, sizeof(why));
		reader_end(reply, 2, "recipe %s@%s is not valid for rig %s (%d error%s)%s",
		    row.name, row.version, rig->name, d.errors, d.errors == 1 ? "" : "s", why);
		goto out;
	}
	if (!json) {
		planreq_text(reply, plan);
		goto out;
	}
	rc = plan_json(plan, planreq_sink, reply);
	if (rc == -PLAN_JSON_NO_MEMORY)
		reader_end(reply, 1, "plan: out of memory writing the plan as JSON");
	else
		reader_end(reply, 0, " ");	/* a client gone: nobody hears it */
out:
	diag_free(&d);
	plan_free(plan);
	recipe_free(recipe);
	rig_free(rig);
	db_recipe_row_free(&row);
	db_recipe_row_free(&rig_row);
}
