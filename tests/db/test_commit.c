/*
 * A failed COMMIT is never a success: the commit path against a real
 * PostgreSQL, where the server refuses at COMMIT (a deferred constraint) or
 * answers ROLLBACK to it (a transaction that had already failed), and the
 * coordinator passes the refusal on instead of reporting a move it did not
 * make. Also the keepalives every connection is opened with. Needs
 * TEST_DATABASE_URL (the stack's database): tests/e2e runs it.
 * Every object it creates is temporary or dropped again, and the one trigger
 * on a real table fires only for the payment this test inserts.
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
#include "base/valid.h"
#include "pay/coord.h"
#include "pay/payment.h"

#include "db_fixture.h"

static void run(const char *sql)
{
	assert_int_equal(db_exec(&db, NULL, sql, 0, NULL), DB_OK);
}

static int open_db(void **state)
{
	(void)state;
	if (connect_db() != 0)
		return -1;
	/* Test-only: lives as long as this session. */
	return db_exec(&db, NULL,
	               "CREATE TEMP TABLE commit_probe (k int NOT NULL,"
	               " CONSTRAINT commit_probe_once UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)", 0, NULL) == DB_OK ? 0 : -1;
}

static void test_deferred_constraint_refused_at_commit(void **state)
{
	(void)state;

	run("DELETE FROM commit_probe");
	assert_int_equal(db_begin(&db), DB_OK);
	run("INSERT INTO commit_probe VALUES (1)");
	/* Deferred: the duplicate passes here and is refused only by COMMIT. */
	run("INSERT INTO commit_probe VALUES (1)");
	enum db_status st = db_commit(&db);
	assert_int_not_equal(st, DB_OK);
	assert_int_equal(st, DB_UNIQUE);
	assert_string_equal(db.constraint, "commit_probe_once");
	assert_false(db.in_tx);
	db_rollback(&db);
	/* Nothing was kept, and the connection serves the next statement outside any transaction. */
	assert_string_equal(scalar("SELECT count(*) FROM commit_probe", 0, NULL), "0");
}

static void test_commit_answered_rollback(void **state)
{
	(void)state;

	run("DELETE FROM commit_probe");
	assert_int_equal(db_begin(&db), DB_OK);
	run("INSERT INTO commit_probe VALUES (2)");
	/* A statement fails; a careless caller goes on to COMMIT, which PostgreSQL answers with ROLLBACK. */
	assert_int_equal(db_exec(&db, NULL, "INSERT INTO commit_probe VALUES (NULL)", 0, NULL), DB_CHECK);
	assert_int_equal(db_commit(&db), DB_FAILED);
	assert_false(db.in_tx);
	db_rollback(&db);
	assert_string_equal(scalar("SELECT count(*) FROM commit_probe", 0, NULL), "0");
	/* And a transaction that does commit still says so. */
	assert_int_equal(db_begin(&db), DB_OK);
	run("INSERT INTO commit_probe VALUES (3)");
	assert_int_equal(db_commit(&db), DB_OK);
	assert_string_equal(scalar("SELECT count(*) FROM commit_probe", 0, NULL), "1");
}

/*
 * The coordinator's whole transaction (locks, row, audit, cascade, events)
 * refused at COMMIT: a deferred trigger on the audit table, for this
 * payment only. The caller must hear COORD_DB, and nothing may have moved.
 */
static void test_coordinator_reports_failed_commit(void **state)
{
	(void)state;
	char id[40], trigger[320];
	PGresult *row = NULL;
	enum db_status st = DB_OK;

	snprintf(id, sizeof(id), "%s",
	         scalar("INSERT INTO payments (direction, provider, purchase_request_id, buyer_id, amount, currency,"
	                " created_by) VALUES ('in', 'manual', 'commit-probe-' || md5(random()::text),"
	                " 'commit-probe-buyer', 10, 'USD', 'test') RETURNING id", 0, NULL));
	assert_int_equal(strlen(id), 36);
	assert_true(valid_uuid(id));
	run("CREATE OR REPLACE FUNCTION commit_probe_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
	    " BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'check_violation'; END $$");
	/* DDL takes no parameters: the id is a UUID PostgreSQL just generated. */
	snprintf(trigger, sizeof(trigger),
	         "CREATE CONSTRAINT TRIGGER commit_probe_refuse AFTER INSERT ON payment_transitions"
	         " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.payment_id = '%s')"
	         " EXECUTE FUNCTION commit_probe_refuse()", id);
	run(trigger);

	struct coord_change done = { .status = "completed", .source = "admin", .actor = "commit-probe",
	                             .reason = "a commit that fails" };
	enum coord_result r = coord_apply(&db, id, &done, &row, &st);

	run("DROP TRIGGER commit_probe_refuse ON payment_transitions");
	run("DROP FUNCTION commit_probe_refuse()");
	assert_int_equal(r, COORD_DB);
	assert_int_not_equal(st, DB_OK);
	/* Refused by COMMIT itself (the deferred trigger), not by a statement before it. */
	assert_string_equal(db.sqlstate, "23514");
	assert_null(row);
	assert_false(db.in_tx);
	const char *p[1] = { id };
	assert_string_equal(scalar("SELECT status || '/' || escrow_state FROM payments WHERE id = $1", 1, p),
	                    "pending/unfunded");
	assert_string_equal(scalar("SELECT count(*) FROM payment_transitions WHERE payment_id = $1", 1, p), "0");
	assert_string_equal(scalar("SELECT count(*) FROM events WHERE payment_id = $1", 1, p), "0");
	assert_string_equal(scalar("SELECT count(*) FROM notifications WHERE payment_id = $1", 1, p), "0");

	/* Without the trigger the same move commits and says so. */
	assert_int_equal(coord_apply(&db, id, &done, &row, &st), COORD_APPLIED);
	assert_non_null(row);
	assert_string_equal(PQgetvalue(row, 0, PCOL_STATUS), "completed");
	PQclear(row);
	assert_string_equal(scalar("SELECT status || '/' || escrow_state FROM payments WHERE id = $1", 1, p),
	                    "completed/funded");
}

/* libpq's value of one connection option, "" when unset. */
static const char *option(PGconn *conn, const char *name)
{
	static char out[64];
	PQconninfoOption *opts = PQconninfo(conn);

	out[0] = '\0';
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, name) == 0 && o->val)
			snprintf(out, sizeof(out), "%s", o->val);
	PQconninfoFree(opts);
	return out;
}

/* A database host gone silent mid-statement is found out within a minute, not TCP's quarter hour; the URL's own setting wins. */
static void test_connection_finds_a_silent_host(void **state)
{
	(void)state;
	char url[1100];
	struct db other;

	assert_string_equal(option(db.conn, "keepalives"), "1");
	assert_string_equal(option(db.conn, "keepalives_idle"), "30");
	assert_string_equal(option(db.conn, "tcp_user_timeout"), "30000");
	const char *base = getenv("TEST_DATABASE_URL");
	snprintf(url, sizeof(url), "%s%skeepalives_idle=7", base, strchr(base, '?') ? "&" : "?");
	db_init(&other, url, 3, false);
	assert_int_equal(db_ready(&other), DB_OK);
	assert_string_equal(option(other.conn, "keepalives_idle"), "7");
	assert_string_equal(option(other.conn, "keepalives_count"), "3");
	db_close(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deferred_constraint_refused_at_commit),
		cmocka_unit_test(test_commit_answered_rollback),
		cmocka_unit_test(test_coordinator_reports_failed_commit),
		cmocka_unit_test(test_connection_finds_a_silent_host),
	};
	return cmocka_run_group_tests(tests, open_db, close_db);
}
