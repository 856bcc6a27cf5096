/*
 * The outbox's announcements against a real PostgreSQL, heard as the relay
 * hears them (LISTEN payment_events): a transaction that writes events wakes
 * it once, after its commit; one that writes none, or whose events were
 * rolled back, says nothing; a write outside the service's transactions
 * announces itself; and every notification gets its event, in order. Both
 * with prepared statements and without (as a pool behind a transaction-mode
 * pooler), each from a new connection, where the commit's own statements are
 * prepared on first use. Needs TEST_DATABASE_URL: tests/e2e runs it, while no
 * other part of the stack writes events. Its rows are deleted again.
 */
#include <poll.h>
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

#define PROBE_USER "probe-announce"

static PGconn *listener;

static int open_db(void **state)
{
	(void)state;
	if (connect_db() != 0)
		return -1;
	listener = PQconnectdb(getenv("TEST_DATABASE_URL"));
	if (PQstatus(listener) != CONNECTION_OK)
		return -1;
	PGresult *res = PQexec(listener, "LISTEN payment_events");
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
	PQclear(res);
	return rc;
}

static int close_all(void **state)
{
	db_exec(&db, NULL, "DELETE FROM events WHERE room = 'user:" PROBE_USER "'", 0, NULL);
	db_exec(&db, NULL, "DELETE FROM notifications WHERE user_id = '" PROBE_USER "'", 0, NULL);
	db_exec(&db, NULL, "DROP SCHEMA IF EXISTS probe_announce CASCADE", 0, NULL);
	PQfinish(listener);
	return close_db(state);
}

/* Wakes heard until a quiet `ms`. */
static int heard(int ms)
{
	struct pollfd p = { .fd = PQsocket(listener), .events = POLLIN };
	int n = 0;
	PGnotify *note;

	for (;;) {
		PQconsumeInput(listener);
		while ((note = PQnotifies(listener)) != NULL) {
			assert_string_equal(note->relname, "payment_events");
			PQfreemem(note);
			n++;
		}
		if (poll(&p, 1, ms) <= 0)
			return n;
	}
}

#define EVENTS(n)                                                                   \
	"INSERT INTO events (event, room, payload) SELECT 'probe-announce', 'user:" PROBE_USER \
	"', jsonb_build_object('n', g) FROM generate_series(1, " #n ") g"

static void ok(const char *sql)
{
	assert_int_equal(db_exec(&db, NULL, sql, 0, NULL), DB_OK);
}

static void committed(const char *sql)
{
	assert_int_equal(db_begin(&db), DB_OK);
	ok(sql);
	assert_int_equal(db_commit(&db), DB_OK);
}

/* Runs check on a new connection with prepared statements, then on one without. */
static void both_ways(void (*check)(void))
{
	for (int prepare = 1; prepare >= 0; prepare--) {
		reconnect(prepare);
		heard(50);
		check();
	}
	db.prepare = true;
}

static void events_wake_the_relay_once(void)
{
	committed(EVENTS(3));
	assert_int_equal(heard(300), 1);
	/* Events from several statements of one transaction: still one wake. */
	assert_int_equal(db_begin(&db), DB_OK);
	ok(EVENTS(1));
	/* Left to after the commit, not notified inside the transaction, where the commit would queue for its lock. */
	assert_string_equal(scalar("SELECT current_setting('payments.announce_due', true)", 0, NULL), "on");
	ok(EVENTS(2));
	assert_int_equal(db_defer(&db, EVENTS(1), 0, NULL), DB_OK);
	assert_int_equal(db_commit(&db), DB_OK);
	assert_int_equal(heard(300), 1);
	/* The next transaction without events says nothing. */
	committed("SELECT 1");
	assert_int_equal(heard(300), 0);
}

static void test_events_wake_the_relay_once(void **state)
{
	(void)state;
	both_ways(events_wake_the_relay_once);
}

#define NO_EVENTS EVENTS(1) " WHERE false"

static void no_events_no_wake(void)
{
	committed(NO_EVENTS);
	committed("INSERT INTO notifications (user_id, kind, title, body) SELECT '" PROBE_USER "', 'probe', 't', 'b'"
	          " WHERE false");
	committed("SELECT 1");
	/* Outside a transaction the trigger announces by itself, and an empty insert still says nothing. */
	ok(NO_EVENTS);
	assert_int_equal(heard(300), 0);
}

static void test_no_events_no_wake(void **state)
{
	(void)state;
	both_ways(no_events_no_wake);
}

static void rolled_back_events_say_nothing(void)
{
	assert_int_equal(db_begin(&db), DB_OK);
	ok(EVENTS(2));
	db_rollback(&db);
	assert_int_equal(heard(300), 0);

	assert_int_equal(db_begin(&db), DB_OK);
	ok("SAVEPOINT probe");
	ok(EVENTS(2));
	ok("ROLLBACK TO SAVEPOINT probe");
	assert_int_equal(db_commit(&db), DB_OK);
	assert_int_equal(heard(300), 0);

	/* What was written before the savepoint is still announced. */
	assert_int_equal(db_begin(&db), DB_OK);
	ok(EVENTS(1));
	ok("SAVEPOINT probe");
	ok(EVENTS(2));
	ok("ROLLBACK TO SAVEPOINT probe");
	assert_int_equal(db_commit(&db), DB_OK);
	assert_int_equal(heard(300), 1);
}

static void test_rolled_back_events_say_nothing(void **state)
{
	(void)state;
	both_ways(rolled_back_events_say_nothing);
}

/* A statement outside the service's transactions (as an operator's psql runs it) wakes the relay by
 * itself, also on a session that never opened one. */
static void write_outside_a_transaction_announces_itself(void)
{
	ok(EVENTS(2));
	assert_int_equal(heard(300), 1);
	committed(EVENTS(1));
	ok(EVENTS(1));
	assert_int_equal(heard(300), 2);
}

static void test_write_outside_a_transaction_announces_itself(void **state)
{
	(void)state;
	both_ways(write_outside_a_transaction_announces_itself);
}

/*
 * The announcement behind a COMMIT that went through fails: a pg_notify
 * found before the catalogue's, for this session only, raises or ends the
 * session. The transaction is still reported committed, and the next one works.
 */
static void announcement_fails(const char *how)
{
	char fn[300];

	snprintf(fn, sizeof(fn), "CREATE OR REPLACE FUNCTION probe_announce.pg_notify(text, text) RETURNS void"
	         " LANGUAGE plpgsql AS $$ BEGIN %s; END $$", how);
	ok("CREATE SCHEMA IF NOT EXISTS probe_announce");
	ok(fn);
	ok("SET search_path = probe_announce, public, pg_catalog");
	const char *before = scalar("SELECT count(*) FROM events WHERE room = 'user:" PROBE_USER "'", 0, NULL);
	long n = atol(before);

	assert_int_equal(db_begin(&db), DB_OK);
	ok(EVENTS(2));
	assert_int_equal(db_commit(&db), DB_OK);
	assert_int_equal(heard(300), 0);
	/* Straight on, as a request's next statement would (a lost session is reconnected). */
	assert_int_equal(atol(scalar("SELECT count(*) FROM events WHERE room = 'user:" PROBE_USER "'", 0, NULL)), n + 2);
	committed("SELECT 1");
	reconnect(db.prepare);      /* the search_path and plans go with the old one */
	ok("DROP SCHEMA probe_announce CASCADE");
}

static void announcement_raises(void)
{
	announcement_fails("RAISE EXCEPTION 'probe: the announcement fails'");
}

static void announcement_loses_the_session(void)
{
	announcement_fails("PERFORM pg_terminate_backend(pg_backend_pid())");
}

static void test_failed_announcement_keeps_the_commit(void **state)
{
	(void)state;
	both_ways(announcement_raises);
	both_ways(announcement_loses_the_session);
}

static void test_each_notification_its_event(void **state)
{
	(void)state;
	heard(50);
	committed("INSERT INTO notifications (user_id, kind, title, body)"
	          " SELECT '" PROBE_USER "', 'probe', 'title ' || g, 'body' FROM generate_series(1, 2) g");
	assert_int_equal(heard(300), 1);
	assert_string_equal(scalar("SELECT string_agg(payload->>'title', ',' ORDER BY id) FROM events"
	                           " WHERE room = 'user:" PROBE_USER "' AND event = 'new-notification'", 0, NULL),
	                    "title 1,title 2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_wake_the_relay_once),
		cmocka_unit_test(test_no_events_no_wake),
		cmocka_unit_test(test_rolled_back_events_say_nothing),
		cmocka_unit_test(test_write_outside_a_transaction_announces_itself),
		cmocka_unit_test(test_failed_announcement_keeps_the_commit),
		cmocka_unit_test(test_each_notification_its_event),
	};
	return cmocka_run_group_tests(tests, open_db, close_all);
}
