/*
 * The jobs leader's session: its locks are what keeps every other copy from
 * running the jobs, so they must go soon after its host does, which only the
 * server can see. Needs TEST_DATABASE_URL (over TCP): tests/e2e runs it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "db_fixture.h"
#include "jobs/leader.h"

static const char *show(PGconn *conn, const char *setting)
{
	static char out[64];
	char sql[96];
	PGresult *res;

	snprintf(sql, sizeof(sql), "SHOW %s", setting);
	res = PQexec(conn, sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	snprintf(out, sizeof(out), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return out;
}

/* The server, not only this side, gives up on a silent leader within a minute. */
static void test_server_drops_a_vanished_leader_soon(void **state)
{
	struct leader l;

	(void)state;
	leader_init(&l, getenv("TEST_DATABASE_URL"), 3);
	assert_int_equal(leader_acquire(&l, 63), 1);
	assert_string_equal(scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 63"
	                           " AND objsubid = 2 AND granted AND pid <> pg_backend_pid()", 0, NULL), "1");
	assert_string_equal(show(l.conn, "tcp_keepalives_idle"), "10");
	assert_string_equal(show(l.conn, "tcp_keepalives_interval"), "5");
	assert_string_equal(show(l.conn, "tcp_keepalives_count"), "3");
	assert_string_equal(show(l.conn, "tcp_user_timeout"), "30000");
	leader_close(&l);
}

static int setup(void **state)
{
	(void)state;
	return connect_db();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_drops_a_vanished_leader_soon),
	};
	return cmocka_run_group_tests(tests, setup, close_db);
}
