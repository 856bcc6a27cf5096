/* What the database-level tests share: one connection to the stack's
 * PostgreSQL (TEST_DATABASE_URL, which tests/e2e sets), and a one-value query. */
#ifndef TESTS_DB_FIXTURE_H
#define TESTS_DB_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "base/db.h"
#include "base/log.h"

static struct db db;

/* One value of a one-row query, copied out; "" when there is no row. */
static const char *scalar(const char *sql, int n, const char *const *params)
{
	static char out[128];
	PGresult *res = NULL;

	assert_int_equal(db_exec(&db, &res, sql, n, params), DB_OK);
	snprintf(out, sizeof(out), "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return out;
}

/* 0 with db connected; -1 (the group fails) without TEST_DATABASE_URL or a database. */
static int connect_db(void)
{
	const char *url = getenv("TEST_DATABASE_URL");

	if (url == NULL || *url == '\0') {
		fprintf(stderr, "TEST_DATABASE_URL is not set: run this through the end-to-end suite\n");
		return -1;
	}
	log_set_level(LOG_ERROR);
	db_init(&db, url, 3, true);
	return db_ready(&db) == DB_OK ? 0 : -1;
}

/* Starts over on a new connection, nothing prepared on it; prepare: whether statements will be. */
static inline void reconnect(bool prepare)
{
	db_close(&db);
	db.prepare = prepare;
	assert_int_equal(db_ready(&db), DB_OK);
}

static int close_db(void **state)
{
	(void)state;
	db_close(&db);
	return 0;
}

#endif
