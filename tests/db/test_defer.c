/*
 * Statements sent ahead (db_defer, and the BEGIN every transaction starts
 * with) against a real PostgreSQL: they run in order with the next
 * statement, that statement answers for the first of them to fail, nothing
 * after a failure runs, and whatever failed, the connection serves the next
 * transaction. Both with prepared statements and without (as a pool behind
 * a transaction-mode pooler runs; the pool behind PgBouncer is exercised by
 * the end-to-end storm tests). Needs TEST_DATABASE_URL: tests/e2e runs it.
 * Its one table is temporary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/db.h"
#include "base/log.h"

#include "db_fixture.h"

#define PROBE "CREATE TEMP TABLE defer_probe (k int PRIMARY KEY CHECK (k > 0))"
#define INSERT "INSERT INTO defer_probe VALUES ($1::int)"

static int open_db(void **state)
{
	(void)state;
	if (connect_db() != 0)
		return -1;
	/* Test-only: lives as long as this session. */
	return db_exec(&db, NULL, PROBE, 0, NULL) == DB_OK ? 0 : -1;
}

static enum db_status defer_k(const char *k)
{
	const char *p[1] = { k };

	return db_defer(&db, INSERT, 1, p);
}

/* The keys in the table, in order: "1,2,3". */
static const char *keys(void)
{
	return scalar("SELECT coalesce(string_agg(k::text, ',' ORDER BY k), '') FROM defer_probe", 0, NULL);
}

static void both_ways(void (*check)(void))
{
	db.prepare = true;
	check();
	reconnect(false);
	assert_int_equal(db_exec(&db, NULL, PROBE, 0, NULL), DB_OK);
	check();
	db.prepare = true;
}

static void sent_ahead_run_in_order_and_commit(void)
{
	assert_int_equal(db_exec(&db, NULL, "DELETE FROM defer_probe", 0, NULL), DB_OK);
	assert_int_equal(db_begin(&db), DB_OK);
	assert_int_equal(defer_k("1"), DB_OK);
	assert_int_equal(defer_k("2"), DB_OK);
	assert_true(db.piped);
	/* The next statement sees what went ahead of it: it ran first, in the same transaction. */
	assert_string_equal(scalar("SELECT count(*) FROM defer_probe", 0, NULL), "2");
	assert_false(db.piped);
	assert_int_equal(defer_k("3"), DB_OK);
	assert_int_equal(db_commit(&db), DB_OK);
	assert_false(db.in_tx);
	assert_string_equal(keys(), "1,2,3");
}

static void test_sent_ahead_run_in_order_and_commit(void **state)
{
	(void)state;
	both_ways(sent_ahead_run_in_order_and_commit);
}

static void next_statement_answers_for_a_failure(void)
{
	assert_int_equal(db_exec(&db, NULL, "DELETE FROM defer_probe", 0, NULL), DB_OK);
	assert_int_equal(db_exec(&db, NULL, "INSERT INTO defer_probe VALUES (7)", 0, NULL), DB_OK);
	assert_int_equal(db_begin(&db), DB_OK);
	assert_int_equal(defer_k("8"), DB_OK);
	assert_int_equal(defer_k("7"), DB_OK);        /* a duplicate: refused when it runs */
	assert_int_equal(defer_k("9"), DB_OK);        /* never runs */
	PGresult *res = (PGresult *)1;
	assert_int_equal(db_exec(&db, &res, "SELECT 1", 0, NULL), DB_UNIQUE);
	assert_null(res);
	assert_string_equal(db.constraint, "defer_probe_pkey");
	assert_false(db.piped);
	db_rollback(&db);
	assert_string_equal(keys(), "7");
	/* The connection goes on: the next transaction commits. */
	assert_int_equal(db_begin(&db), DB_OK);
	assert_int_equal(defer_k("10"), DB_OK);
	assert_int_equal(db_commit(&db), DB_OK);
	assert_string_equal(keys(), "7,10");
}

static void test_next_statement_answers_for_a_failure(void **state)
{
	(void)state;
	both_ways(next_statement_answers_for_a_failure);
}

/* A COMMIT skipped after a failure sent ahead must not leave the aborted transaction open. */
static void commit_answers_for_a_failure(void)
{
	assert_int_equal(db_exec(&db, NULL, "DELETE FROM defer_probe", 0, NULL), DB_OK);
	assert_int_equal(db_begin(&db), DB_OK);
	assert_int_equal(defer_k("5"), DB_OK);
	assert_int_equal(defer_k("-1"), DB_OK);       /* the CHECK refuses it */
	assert_int_equal(db_commit(&db), DB_CHECK);
	assert_false(db.in_tx);
	assert_false(db.piped);
	assert_string_equal(scalar("SELECT count(*) FROM defer_probe", 0, NULL), "0");
	assert_int_equal(db_exec(&db, NULL, "INSERT INTO defer_probe VALUES (6)", 0, NULL), DB_OK);
	assert_string_equal(keys(), "6");
}

static void test_commit_answers_for_a_failure(void **state)
{
	(void)state;
	both_ways(commit_answers_for_a_failure);
}

/* db_flush answers for what went ahead; a savepoint sent ahead undoes what follows it. */
static void flush_and_savepoint(void)
{
	assert_int_equal(db_exec(&db, NULL, "DELETE FROM defer_probe", 0, NULL), DB_OK);
	assert_int_equal(db_begin(&db), DB_OK);
	assert_int_equal(defer_k("1"), DB_OK);
	assert_int_equal(db_defer(&db, "SAVEPOINT probe", 0, NULL), DB_OK);
	assert_int_equal(defer_k("2"), DB_OK);
	assert_int_equal(defer_k("1"), DB_OK);
	assert_int_equal(db_flush(&db), DB_UNIQUE);
	assert_int_equal(db_flush(&db), DB_OK);       /* nothing left to answer for */
	assert_int_equal(db_exec(&db, NULL, "ROLLBACK TO SAVEPOINT probe", 0, NULL), DB_OK);
	assert_int_equal(db_commit(&db), DB_OK);
	assert_string_equal(keys(), "1");
}

static void test_flush_and_savepoint(void **state)
{
	(void)state;
	both_ways(flush_and_savepoint);
}

/* A transaction begun and rolled back with nothing in it, and one with writes sent ahead only. */
static void rollback_of_what_never_went(void)
{
	assert_int_equal(db_exec(&db, NULL, "DELETE FROM defer_probe", 0, NULL), DB_OK);
	assert_int_equal(db_begin(&db), DB_OK);
	db_rollback(&db);
	assert_false(db.in_tx);
	assert_int_equal(db_begin(&db), DB_OK);
	assert_int_equal(defer_k("4"), DB_OK);
	db_rollback(&db);
	assert_false(db.piped);
	assert_string_equal(keys(), "");
	/* Outside a transaction a statement is not deferred: it runs, and its answer is its own. */
	assert_int_equal(defer_k("4"), DB_OK);
	assert_false(db.piped);
	assert_int_equal(defer_k("4"), DB_UNIQUE);
	assert_string_equal(keys(), "4");
}

static void test_rollback_of_what_never_went(void **state)
{
	(void)state;
	both_ways(rollback_of_what_never_went);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sent_ahead_run_in_order_and_commit),
		cmocka_unit_test(test_next_statement_answers_for_a_failure),
		cmocka_unit_test(test_commit_answers_for_a_failure),
		cmocka_unit_test(test_flush_and_savepoint),
		cmocka_unit_test(test_rollback_of_what_never_went),
	};
	return cmocka_run_group_tests(tests, open_db, close_db);
}
