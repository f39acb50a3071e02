/*
 * The mirrored tables: what db/ says its schema is (db_schema_columns runs
 * its migrations in memory), so the central copy is made from the local
 * schema's one definition and cannot drift from it by hand.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "sync.h"

/*
 * Central names: the central database has its own table "rigs" (one row
 * per rig that copies into it), so lbld's table of rig files, also called
 * rigs, is rig_files there.
 */
static const char *
sync_central_name(const char *local)
{
	return strcmp(local, "rigs") == 0 ? "rig_files" : local;
}

const char *
sync_pg_type(const char *local_type)
{
	if (strcmp(local_type, "INTEGER") == 0)
		return "bigint";
	if (strcmp(local_type, "REAL") == 0)
		return "double precision";
	if (strcmp(local_type, "TEXT") == 0)
		return "text";
	return NULL;
}

static int
sync_schema_col(void *arg, const struct db_column *c)
{
	struct sync_schema *s = arg;
	struct sync_table *t = s->n ? &s->t[s->n - 1] : NULL;

	if (t == NULL || strcmp(t->local, c->table) != 0) {
		if (s->n == SYNC_MAX_TABLES) {
			log_warnx("the record's schema has more than %d tables (at %s): lbl-sync "
			    "copies no part of it (SYNC_MAX_TABLES)", SYNC_MAX_TABLES, c->table);
			return -1;
		}
		if (strlen(c->table) >= sizeof(t->local)) {
			log_warnx("the record's table name '%s' is too long for lbl-sync", c->table);
			return -1;
		}
		t = &s->t[s->n++];
		memset(t, 0, sizeof(*t));
		strcpy(t->local, c->table);
		strcpy(t->central, sync_central_name(c->table));
	}
	if (t->ncols == SYNC_MAX_COLUMNS) {
		log_warnx("the record's table %s has more than %d columns (at %s): lbl-sync copies "
		    "no part of it (SYNC_MAX_COLUMNS)", t->local, SYNC_MAX_COLUMNS, c->name);
		return -1;
	}
	if (sync_pg_type(c->type) == NULL) {
		log_warnx("the record's column %s.%s is of type '%s', which lbl-sync does not map "
		    "to PostgreSQL", t->local, c->name, c->type);
		return -1;
	}
	if ((t->cols[t->ncols] = strdup(c->name)) == NULL ||
	    (t->types[t->ncols] = strdup(c->type)) == NULL) {
		log_warn("describing the record's schema");
		free(t->cols[t->ncols]);
		t->cols[t->ncols] = NULL;
		return -1;
	}
	t->notnull[t->ncols] = c->notnull;
	t->pk[t->ncols] = c->pk;
	t->ncols++;
	return 0;
}

int
sync_schema_load(struct sync_schema *s)
{
	int i, rc;

	memset(s, 0, sizeof(*s));
	rc = db_schema_columns(sync_schema_col, s);
	if (rc != 0) {
		sync_schema_free(s);
		return -1;
	}
	for (i = 0; i < s->n; i++) {
		int c, keyed = 0;

		for (c = 0; c < s->t[i].ncols; c++)
			keyed |= s->t[i].pk[c] != 0;
		if (!keyed) {
			log_warnx("the record's table %s has no primary key: lbl-sync could not "
			    "copy it again without duplicating it", s->t[i].local);
			sync_schema_free(s);
			return -1;
		}
	}
	return 0;
}

void
sync_schema_free(struct sync_schema *s)
{
	int i, c;

	for (i = 0; i < s->n; i++)
		for (c = 0; c < s->t[i].ncols; c++) {
			free(s->t[i].cols[c]);
			free(s->t[i].types[c]);
		}
	memset(s, 0, sizeof(*s));
}

const struct sync_table *
sync_schema_table(const struct sync_schema *s, const char *local)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->t[i].local, local) == 0)
			return &s->t[i];
	return NULL;
}
