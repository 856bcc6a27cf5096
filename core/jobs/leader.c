#include "jobs/leader.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"

void leader_init(struct leader *l, const char *database_url, int connect_timeout)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->conninfo, sizeof(l->conninfo), "%s", database_url);
	snprintf(l->connect_timeout, sizeof(l->connect_timeout), "%d", connect_timeout);
}

static void drop(struct leader *l, const char *why)
{
	if (l->held)
		log_warn("jobs: leader connection lost (%s): every job lock is released", why);
	PQfinish(l->conn);
	l->conn = NULL;
	l->held = 0;
}

void leader_close(struct leader *l)
{
	PQfinish(l->conn);
	l->conn = NULL;
	l->held = 0;
}

static bool connect_now(struct leader *l)
{
	time_t now = time(NULL);

	if (l->conn != NULL && PQstatus(l->conn) == CONNECTION_OK)
		return true;
	if (l->conn != NULL)
		drop(l, "connection broken");
	if (now == l->last_attempt)
		return false;
	l->last_attempt = now;
	/* The URL (or keyword string) is expanded as dbname; ours are added beside it. */
	/* Keepalives on this side: a vanished server is noticed, and this copy stops its jobs. */
	const char *const keys[] = { "dbname", "connect_timeout", "application_name", "keepalives",
		                     "keepalives_idle", "keepalives_interval", "keepalives_count",
		                     "tcp_user_timeout", NULL };
	const char *const vals[] = { l->conninfo, l->connect_timeout, "payments-jobs", "1", "10", "5",
		                     "3", "30000", NULL };
	l->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(l->conn) != CONNECTION_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(l->conn));
		msg[strcspn(msg, "\n")] = '\0';
		log_warn("jobs: cannot reach PostgreSQL for the leader locks: %s", msg);
		PQfinish(l->conn);
		l->conn = NULL;
		return false;
	}
	/*
	 * And on the server's: the locks live as long as this session does, and
	 * a server left to its own keepalives (two hours by default) would keep
	 * those of a copy whose host vanished, so no other copy could take over.
	 */
	PGresult *res = PQexec(l->conn, "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5;"
	                                " SET tcp_keepalives_count = 3; SET tcp_user_timeout = 30000");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
		msg[strcspn(msg, "\n")] = '\0';
		log_warn("jobs: the leader session keeps PostgreSQL's own keepalives: %s", msg);
	}
	PQclear(res);
	return true;
}

int leader_acquire(struct leader *l, int lock_id)
{
	char cls[16], id[16];
	const char *p[2] = { cls, id };
	PGresult *res;
	int rc;

	if (lock_id < 0 || lock_id >= 64)
		return -1;
	if (!connect_now(l))
		return -1;
	if (l->held & (1ULL << lock_id))
		return leader_alive(l) ? 1 : -1;
	snprintf(cls, sizeof(cls), "%d", LEADER_LOCK_CLASS);
	snprintf(id, sizeof(id), "%d", lock_id);
	res = PQexecParams(l->conn, "SELECT pg_try_advisory_lock($1::integer, $2::integer)", 2, NULL, p,
	                   NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		drop(l, "lock query failed");
		return -1;
	}
	rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (rc)
		l->held |= 1ULL << lock_id;
	return rc;
}

bool leader_alive(struct leader *l)
{
	PGresult *res;
	bool ok;

	if (l->conn == NULL)
		return false;
	res = PQexec(l->conn, "SELECT 1");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	if (!ok)
		drop(l, "no answer");
	return ok;
}
