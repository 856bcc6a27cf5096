#include "base/migrate.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"

/* Any fixed key: it only keeps two concurrent `migrate` runs from interleaving. */
#define MIGRATE_LOCK_KEY "7243531"

static int apply(struct db *db, const struct migration *mig, int *applied)
{
	char version[16];
	const char *params[2] = { version, mig->name };
	PGresult *res = NULL;
	int rc = -1;

	snprintf(version, sizeof(version), "%d", mig->version);
	if (db_begin(db) != DB_OK)
		return -1;
	/* After this point, all errors should use goto out. */
	if (db_exec(db, NULL, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", 0, NULL) != DB_OK ||
	    db_exec(db, &res, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, params) != DB_OK)
		goto out;
	if (PQntuples(res) == 1) {
		rc = 0;
		goto out;
	}
	/* Migration text is fixed DDL from sql/, never input: the one place PQexec runs a script. */
	PGresult *ddl = PQexec(db->conn, mig->sql);
	if (PQresultStatus(ddl) != PGRES_COMMAND_OK && PQresultStatus(ddl) != PGRES_TUPLES_OK) {
		log_error("migration %03d_%s failed: %s", mig->version, mig->name,
		          PQresultErrorMessage(ddl));
		PQclear(ddl);
		goto out;
	}
	PQclear(ddl);
	if (db_exec(db, NULL, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
	            params) != DB_OK || db_commit(db) != DB_OK)
		goto out;
	log_info("applied migration %03d_%s", mig->version, mig->name);
	(*applied)++;
	rc = 0;
out:
	PQclear(res);
	db_rollback(db);
	return rc;
}

int migrate_run(struct db *db)
{
	int applied = 0;

	if (db_ready(db) != DB_OK) {
		log_error("migrate: the database is unreachable");
		return -1;
	}
	if (db_exec(db, NULL,
	            "CREATE TABLE IF NOT EXISTS schema_migrations ("
	            " version integer PRIMARY KEY,"
	            " name text NOT NULL,"
	            " applied_at timestamptz NOT NULL DEFAULT now())",
	            0, NULL) != DB_OK)
		return -1;
	for (size_t i = 0; i < migrations_len; i++)
		if (apply(db, &migrations[i], &applied) != 0)
			return -1;
	log_info("schema is current: %zu migrations, %d applied now", migrations_len, applied);
	return 0;
}
