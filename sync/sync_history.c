/*
 * The lab's batch list: lblctl history's filters, checked by the same code
 * (base/query.c), over every rig's batches in the central database, with
 * the rig's name in the first column.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "query.h"
#include "sync.h"
#include "text.h"
#include "units.h"

#define HIST_USAGE "usage: lbl-sync --history [--to URI] [--rig NAME] [--recipe NAME] " \
	"[--substrate S] [--state S] [--since DATE] [--until DATE] [--limit N] [--utc] [--json]"

static int
hist_pad(const char *s, int width)
{
	int w = (int)text_width(s);

	return w < width ? width - w : 0;
}

static double
hist_num(PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NAN : strtod(PQgetvalue(res, r, c), NULL);
}

static const char *
hist_str(PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

int
sync_history(const char *uri, int argc, char **argv)
{
	/* $1 rig, $2 recipe, $3 substrate, $4 state, $5 since, $6 before, $7 limit */
	static const char sql[] =
	    "SELECT g.name, b.id, r.name, r.version, b.substrate, b.operator, b.note, b.state, "
	    "  b.started_at, b.ended_at, b.bilayers_done, b.bilayers_target, "
	    "  b.thickness_estimated_nm, b.thickness_measured_nm, "
	    "  extract(epoch FROM b.ended_at::timestamptz - b.started_at::timestamptz), g.uuid "
	    "FROM batches b JOIN rigs g ON g.uuid = b.rig "
	    "LEFT JOIN recipes r ON r.rig = b.rig AND r.id = b.recipe_id "
	    "WHERE ($1::text IS NULL OR g.name = $1) AND ($2::text IS NULL OR r.name = $2) "
	    "  AND ($3::text IS NULL OR b.substrate = $3) AND ($4::text IS NULL OR b.state = $4) "
	    "  AND ($5::text IS NULL OR b.started_at >= $5) "
	    "  AND ($6::text IS NULL OR b.started_at < $6) "
	    "ORDER BY b.started_at DESC, g.name, b.id DESC LIMIT $7::bigint";
	const char *p[7] = { NULL };
	char why[300], since_at[40], before_at[40], limit[24] = "ALL";
	int i, r, utc = 0, json = 0, lim = 0, status = 0;
	struct sync_pg pg;
	PGresult *res;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--utc") == 0)
			utc = 1;
	for (i = 0; i < argc; i++) {
		const char *w = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		struct query_span span;

		if (strcmp(w, "--utc") == 0)
			continue;
		if (strcmp(w, "--json") == 0) {
			json = 1;
			continue;
		}
		if (strcmp(w, "--rig") != 0 && strcmp(w, "--recipe") != 0 &&
		    strcmp(w, "--substrate") != 0 && strcmp(w, "--state") != 0 &&
		    strcmp(w, "--since") != 0 && strcmp(w, "--until") != 0 &&
		    strcmp(w, "--limit") != 0) {
			fprintf(stderr, "lbl-sync: history: unknown option '%s'\n%s\n", w,
			    HIST_USAGE);
			return 2;
		}
		if (v == NULL) {
			fprintf(stderr, "lbl-sync: history: option '%s' needs a value\n", w);
			return 2;
		}
		i++;
		if (strcmp(w, "--rig") == 0) {
			p[0] = v;
		} else if (strcmp(w, "--recipe") == 0) {
			p[1] = v;
		} else if (strcmp(w, "--substrate") == 0) {
			p[2] = v;
		} else if (strcmp(w, "--state") == 0) {
			if (query_check_state(v, why, sizeof(why)) == -1) {
				fprintf(stderr, "lbl-sync: history: --state: %s\n", why);
				return 2;
			}
			p[3] = v;
		} else if (strcmp(w, "--limit") == 0) {
			if (query_parse_limit(v, &lim, why, sizeof(why)) == -1) {
				fprintf(stderr, "lbl-sync: history: --limit: %s\n", why);
				return 2;
			}
			snprintf(limit, sizeof(limit), "%d", lim);
		} else {
			/* --since from the first millisecond of the date, --until to its last */
			int since = strcmp(w, "--since") == 0;

			if (query_parse_when(v, utc, (int64_t)time(NULL), &span, why,
			    sizeof(why)) == -1) {
				fprintf(stderr, "lbl-sync: history: %s: %s\n", w, why);
				return 2;
			}
			if (query_format_stamp(since ? span.from_ms : span.to_ms,
			    since ? since_at : before_at, sizeof(since_at)) == -1) {
				fprintf(stderr, "lbl-sync: history: %s: '%s' is out of range\n", w, v);
				return 2;
			}
			p[since ? 4 : 5] = since ? since_at : before_at;
		}
	}
	p[6] = lim ? limit : NULL;
	if (sync_pg_connect(&pg, uri) == -1)
		return 1;
	if ((res = sync_pg_query(&pg, sql, 7, p, "listing the lab's batches")) == NULL) {
		sync_pg_close(&pg);
		return 1;
	}
	if (json) {
		struct json j;
		const char *text;

		json_init(&j);
		json_array_begin(&j);
		for (r = 0; r < PQntuples(res); r++) {
			json_object_begin(&j);
			json_key(&j, "rig");
			json_string(&j, hist_str(res, r, 0));
			json_key(&j, "rig_uuid");
			json_string(&j, hist_str(res, r, 15));
			json_key(&j, "id");
			json_int(&j, strtoll(PQgetvalue(res, r, 1), NULL, 10));
			json_key(&j, "recipe");
			json_string(&j, hist_str(res, r, 2));
			json_key(&j, "version");
			json_string(&j, hist_str(res, r, 3));
			json_key(&j, "substrate");
			json_string(&j, hist_str(res, r, 4));
			json_key(&j, "operator");
			json_string(&j, hist_str(res, r, 5));
			json_key(&j, "note");
			json_string(&j, hist_str(res, r, 6));
			json_key(&j, "state");
			json_string(&j, hist_str(res, r, 7));
			json_key(&j, "started_at");
			json_string(&j, hist_str(res, r, 8));
			json_key(&j, "ended_at");
			json_string(&j, hist_str(res, r, 9));
			json_key(&j, "bilayers_done");
			json_int(&j, strtoll(PQgetvalue(res, r, 10), NULL, 10));
			json_key(&j, "bilayers_target");
			json_int(&j, strtoll(PQgetvalue(res, r, 11), NULL, 10));
			json_key(&j, "thickness_estimated_nm");
			json_number(&j, hist_num(res, r, 12));
			json_key(&j, "thickness_measured_nm");
			json_number(&j, hist_num(res, r, 13));
			json_object_end(&j);
		}
		json_array_end(&j);
		if ((text = json_text(&j)) == NULL) {
			fprintf(stderr, "lbl-sync: history: out of memory for the JSON text\n");
			status = 1;
		} else {
			printf("%s\n", text);
		}
		json_free(&j);
	} else {
		printf("%-16s %6s  %-22s %-18s %-10s %-11s %-19s %9s %9s %10s\n", "RIG", "ID",
		    "RECIPE", "SUBSTRATE", "OPERATOR", "STATE", utc ? "STARTED (UTC)" : "STARTED",
		    "DURATION", "BILAYERS", "NM");
		for (r = 0; r < PQntuples(res); r++) {
			const char *rig = hist_str(res, r, 0), *name = hist_str(res, r, 2);
			const char *ver = hist_str(res, r, 3), *sub = hist_str(res, r, 4);
			const char *op = hist_str(res, r, 5);
			double span = hist_num(res, r, 14), est = hist_num(res, r, 12);
			double meas = hist_num(res, r, 13);
			char dur[32], thick[32], started[64], recipe[300];

			if (isnan(span))
				snprintf(dur, sizeof(dur), "-");
			else
				units_format_duration((int64_t)(span * 1000), dur, sizeof(dur));
			if (!isnan(meas))
				snprintf(thick, sizeof(thick), "%.1f", meas);
			else if (!isnan(est))
				snprintf(thick, sizeof(thick), "%.1f est", est);
			else
				snprintf(thick, sizeof(thick), "-");
			/* a batch whose recipe is not copied yet still shows, by its id */
			snprintf(recipe, sizeof(recipe), "%s@%s", name ? name : "?", ver ? ver : "?");
			query_show_stamp(hist_str(res, r, 8), utc, started, sizeof(started));
			sub = sub ? sub : "-";
			op = op ? op : "-";
			/* cells padded to their column, never cut, as lblctl history does */
			printf("%s%*s %6s  %s%*s %s%*s %s%*s %-11s %-19s %9s %5s/%-3s %10s\n", rig,
			    hist_pad(rig, 16), "", PQgetvalue(res, r, 1), recipe,
			    hist_pad(recipe, 22), "", sub, hist_pad(sub, 18), "", op,
			    hist_pad(op, 10), "", PQgetvalue(res, r, 7), started, dur,
			    PQgetvalue(res, r, 10), PQgetvalue(res, r, 11), thick);
		}
	}
	PQclear(res);
	sync_pg_close(&pg);
	if (fflush(stdout) != 0) {
		log_warn("history: writing the list");
		status = 1;
	}
	return status;
}
