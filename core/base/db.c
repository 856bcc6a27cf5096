#include "base/db.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/xalloc.h"

void db_init(struct db *db, const char *database_url, int connect_timeout, bool prepare)
{
	memset(db, 0, sizeof(*db));
	db->prepare = prepare;
	/*
	 * A URI and a key=value string take options differently; the environment
	 * variable sets the timeout for both without rewriting the operator's string.
	 */
	snprintf(db->conninfo, sizeof(db->conninfo), "%s", database_url);
	char t[16];
	snprintf(t, sizeof(t), "%d", connect_timeout);
	setenv("PGCONNECT_TIMEOUT", t, 0);
	setenv("PGAPPNAME", "fcgi-payments", 0);
}

void db_close(struct db *db)
{
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	/*
	 * A transaction cut short by a lost connection is gone: every statement
	 * the caller still sends for it fails, rather than running on a fresh
	 * connection outside any transaction, until the caller rolls back.
	 */
	db->tx_lost = db->in_tx;
	db->in_tx = false;
	/* Prepared statements die with their connection. */
	for (int i = 0; i < db->n_stmts; i++)
		free(db->stmts[i].sql);
	db->n_stmts = 0;
}

static unsigned long long fnv1a(const char *s)
{
	unsigned long long h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/*
 * The name of sql's prepared statement on this connection, preparing it if
 * needed. NULL when the cache is full (run it unprepared), or when
 * PostgreSQL refused it: *failed then holds the error result.
 */
static const char *prepared(struct db *db, const char *sql, int nparams, char name[16],
                            PGresult **failed)
{
	unsigned long long h = fnv1a(sql);
	int i;

	for (i = 0; i < db->n_stmts; i++)
		if (db->stmts[i].hash == h && strcmp(db->stmts[i].sql, sql) == 0)
			break;
	snprintf(name, 16, "s%d", i);
	if (i < db->n_stmts)
		return name;
	if (i == DB_STMT_CACHE)
		return NULL;
	PGresult *res = PQprepare(db->conn, name, sql, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*failed = res;
		return NULL;
	}
	PQclear(res);
	db->stmts[i].hash = h;
	db->stmts[i].sql = xstrdup(sql);
	db->n_stmts++;
	return name;
}

/* A server's notice or warning ("there is no transaction in progress") goes
 * through the log like every other line, not raw to stderr, where it would
 * break a JSON log and lose the request it belongs to. */
static void on_notice(void *arg, const char *message)
{
	(void)arg;
	log_warn("database said: %.*s", (int)strcspn(message, "\n"), message);
}

/*
 * A server that ended an idle session (a restart, a failover, an admin's
 * pg_terminate_backend) has left its goodbye (a FATAL, then EOF) on the
 * socket, which libpq reads only when asked. This connection never LISTENs,
 * so anything waiting on it while it is idle is that goodbye, however much of
 * it has arrived yet: the connection is dropped, and the work that comes next
 * gets a new one instead of a failed first statement.
 */
static void notice_goodbye(struct db *db)
{
	struct pollfd p = { .fd = PQsocket(db->conn), .events = POLLIN };

	if (!db->in_tx && p.fd >= 0 && poll(&p, 1, 0) > 0) {
		log_info("database session ended by the server while idle: reconnecting");
		db_close(db);
	}
}

static enum db_status connect_if_needed(struct db *db)
{
	time_t now = time(NULL);

	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return DB_OK;
	db_close(db);
	if (db->last_attempt == now)
		return DB_UNAVAILABLE;
	db->last_attempt = now;
	/*
	 * A database host that vanishes mid-statement (a failover, a dropped
	 * link) would otherwise hold the worker until TCP gives up, a quarter of
	 * an hour: keepalives find a silent peer within a minute, and a send
	 * unacknowledged for 30 s fails. The operator's own settings in the
	 * URL come later and win.
	 */
	static const char *const keys[] = { "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
		                            "tcp_user_timeout", "dbname", NULL };
	const char *const vals[] = { "1", "30", "10", "3", "30000", db->conninfo, NULL };
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		/* libpq's message names host and cause, never the password. */
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(db->conn));
		msg[strcspn(msg, "\n")] = '\0';
		log_warn("database unavailable: %s", msg);
		db_close(db);
		metrics_db(MD_UNAVAILABLE);
		return DB_UNAVAILABLE;
	}
	db->last_attempt = 0;
	PQsetNoticeProcessor(db->conn, on_notice, NULL);
	if (db->was_connected)
		metrics_db(MD_RECONNECT);
	db->was_connected = true;
	log_info("database connected");
	return DB_OK;
}

enum db_status db_ready(struct db *db)
{
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		notice_goodbye(db);
	return connect_if_needed(db);
}

static enum db_status classify(struct db *db, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;

	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
	snprintf(db->constraint, sizeof(db->constraint), "%s", cons ? cons : "");
	if (PQstatus(db->conn) != CONNECTION_OK || state == NULL || strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0)
		return DB_UNAVAILABLE;
	if (strcmp(state, "23505") == 0)
		return DB_UNIQUE;
	if (strcmp(state, "23514") == 0 || strcmp(state, "23502") == 0 || strncmp(state, "22", 2) == 0)
		return DB_CHECK;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return DB_RETRY;
	return DB_FAILED;
}

enum db_status db_exec(struct db *db, PGresult **out, const char *sql, int nparams,
                       const char *const *params)
{
	enum db_status st;
	PGresult *res;

	if (out)
		*out = NULL;
	if (db->tx_lost)
		return DB_UNAVAILABLE;
	/* Reconnects a connection already known lost; db_ready's look for a goodbye is once a request. */
	if (!db->in_tx && (st = connect_if_needed(db)) != DB_OK)
		return st;
	if (db->conn == NULL)
		return DB_UNAVAILABLE;
	char name[16];
	res = NULL;
	const char *stmt = db->prepare ? prepared(db, sql, nparams, name, &res) : NULL;
	if (stmt)
		res = PQexecPrepared(db->conn, stmt, nparams, params, NULL, NULL, 0);
	else if (res == NULL)
		res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		if (out)
			*out = res;
		else
			PQclear(res);
		return DB_OK;
	default:
		break;
	}
	st = classify(db, res);
	metrics_db(st == DB_UNAVAILABLE ? MD_UNAVAILABLE : st == DB_UNIQUE ? MD_UNIQUE : st == DB_CHECK ? MD_CHECK
	           : st == DB_RETRY ? MD_RETRY : MD_FAILED);
	if (st == DB_UNAVAILABLE) {
		log_warn("database connection lost: %s", db->sqlstate[0] ? db->sqlstate : "no reply");
		PQclear(res);
		db_close(db);
		return st;
	}
	if (st == DB_FAILED) {
		char msg[300];
		snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
		msg[strcspn(msg, "\n")] = '\0';
		log_error("statement failed (%s): %s", db->sqlstate, msg);
	} else {
		log_info("statement refused (%s %s)", db->sqlstate, db->constraint);
	}
	PQclear(res);
	return st;
}

enum db_status db_begin(struct db *db)
{
	enum db_status st = db_exec(db, NULL, "BEGIN", 0, NULL);

	if (st == DB_OK)
		db->in_tx = true;
	return st;
}

enum db_status db_commit(struct db *db)
{
	PGresult *res = NULL;
	enum db_status st = db_exec(db, &res, "COMMIT", 0, NULL);

	/* COMMIT of a transaction that had failed answers ROLLBACK, not an error. */
	if (st == DB_OK && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		log_error("COMMIT answered %s: the transaction was rolled back", PQcmdStatus(res));
		st = DB_FAILED;
	}
	PQclear(res);
	db->in_tx = false;
	return st;
}

void db_rollback(struct db *db)
{
	if (db->conn && db->in_tx) {
		PGresult *res = PQexec(db->conn, "ROLLBACK");
		PQclear(res);
	}
	db->in_tx = false;
	db->tx_lost = false;
}
