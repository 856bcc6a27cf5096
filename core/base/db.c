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
	db->piped = false;
	db->queued = 0;
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

/* The slot sql is prepared in on this connection, or the first free one (n_stmts, maybe full). */
static int slot(const struct db *db, const char *sql, unsigned long long h)
{
	int i;

	for (i = 0; i < db->n_stmts; i++)
		if (db->stmts[i].hash == h && strcmp(db->stmts[i].sql, sql) == 0)
			break;
	return i;
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
	int i = slot(db, sql, h);

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

/* A statement's failure: counted, logged, and the connection dropped when it is gone. Clears res. */
static enum db_status refused(struct db *db, PGresult *res)
{
	enum db_status st = classify(db, res);

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

static bool succeeded(const PGresult *res)
{
	return PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
}

/*
 * How sql joins a pipeline: by the prepared statement in the slot returned,
 * unprepared (DB_STMT_CACHE: not preparing, or the cache is full), or not
 * before it is prepared (-1), which needs an answer now.
 */
static int pipe_slot(const struct db *db, const char *sql)
{
	if (!db->prepare)
		return DB_STMT_CACHE;
	int i = slot(db, sql, fnv1a(sql));
	return i < db->n_stmts || i == DB_STMT_CACHE ? i : -1;
}

/* Queues a statement by pipe_slot()'s answer i (not -1). */
static enum db_status send_piped(struct db *db, int i, const char *sql, int nparams, const char *const *params)
{
	char name[16];
	int sent;

	if (i < db->n_stmts) {
		snprintf(name, sizeof(name), "s%d", i);
		sent = PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
	} else {
		sent = PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	}
	if (!sent) {
		log_warn("database connection lost while sending: %s", PQerrorMessage(db->conn));
		metrics_db(MD_UNAVAILABLE);
		db_close(db);
		return DB_UNAVAILABLE;
	}
	db->queued++;
	return DB_OK;
}

/*
 * Ends the pipeline: a sync, then every queued statement's answer in order.
 * The first failure is the answer, and nothing after it ran. The results of
 * the last nlast statements go to last[], aligned to its end, each that
 * succeeded (the others stay NULL): the caller clears them, whatever the answer.
 */
static enum db_status drain(struct db *db, PGresult **last, int nlast)
{
	enum db_status st = DB_OK;
	PGresult *res;
	int n = db->queued;

	if (PQpipelineSync(db->conn) != 1) {
		log_warn("database connection lost while sending: %s", PQerrorMessage(db->conn));
		metrics_db(MD_UNAVAILABLE);
		db_close(db);
		return DB_UNAVAILABLE;
	}
	for (int i = 0; i < n && st != DB_UNAVAILABLE; i++) {
		if ((res = PQgetResult(db->conn)) == NULL) {
			log_warn("database connection lost: no reply to statement %d of %d sent together", i + 1, n);
			metrics_db(MD_UNAVAILABLE);
			db_close(db);
			st = DB_UNAVAILABLE;
			break;
		}
		if (succeeded(res)) {
			if (i >= n - nlast)
				last[nlast - (n - i)] = res;
			else
				PQclear(res);
		} else if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
			PQclear(res);       /* skipped after an earlier failure, which is the answer */
		} else if (st == DB_OK) {
			st = refused(db, res);
		} else {
			PQclear(res);
		}
		/* Each statement's answer ends with a NULL. */
		if (st != DB_UNAVAILABLE && (res = PQgetResult(db->conn)) != NULL)
			PQclear(res);
	}
	if (st != DB_UNAVAILABLE) {
		res = PQgetResult(db->conn);
		bool synced = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
		PQclear(res);
		if (!synced || !PQexitPipelineMode(db->conn)) {
			log_error("database pipeline out of step: the connection is dropped");
			metrics_db(MD_FAILED);
			db_close(db);
			st = DB_UNAVAILABLE;
		}
	}
	db->piped = false;
	db->queued = 0;
	return st;
}

/* The slot sql joins a pipeline by (pipe_slot), preparing it first if it is new here: what went ahead is answered. */
static enum db_status pipeable(struct db *db, const char *sql, int nparams, int *i)
{
	char name[16];
	PGresult *failed = NULL;
	enum db_status st;

	if ((*i = pipe_slot(db, sql)) >= 0)
		return DB_OK;
	if ((st = db_flush(db)) != DB_OK)
		return st;
	if (prepared(db, sql, nparams, name, &failed) == NULL && failed)
		return refused(db, failed);
	*i = pipe_slot(db, sql);
	return DB_OK;
}

/* Queues a statement pipeable() made ready in slot i, entering the pipeline if this is its first. */
static enum db_status queue(struct db *db, int i, const char *sql, int nparams, const char *const *params)
{
	if (!db->piped) {
		if (!PQenterPipelineMode(db->conn)) {
			log_error("database connection busy: cannot send ahead: %s", PQerrorMessage(db->conn));
			metrics_db(MD_FAILED);
			return DB_FAILED;
		}
		db->piped = true;
	}
	return send_piped(db, i, sql, nparams, params);
}

enum db_status db_defer(struct db *db, const char *sql, int nparams, const char *const *params)
{
	enum db_status st;
	int i;

	/* Outside a transaction, statements sent together would commit together: that is not deferring. */
	if (!db->in_tx)
		return db_exec(db, NULL, sql, nparams, params);
	if (db->tx_lost || db->conn == NULL)
		return DB_UNAVAILABLE;
	if ((st = pipeable(db, sql, nparams, &i)) != DB_OK)
		return st;
	return queue(db, i, sql, nparams, params);
}

enum db_status db_flush(struct db *db)
{
	if (db->tx_lost)
		return DB_UNAVAILABLE;
	return db->piped ? drain(db, NULL, 0) : DB_OK;
}

enum db_status db_exec(struct db *db, PGresult **out, const char *sql, int nparams,
                       const char *const *params)
{
	enum db_status st;
	PGresult *res;
	int i;

	if (out)
		*out = NULL;
	if (db->tx_lost)
		return DB_UNAVAILABLE;
	/* After statements sent ahead, this one goes with them in the same round trip, unless it is new here. */
	if (db->piped && (i = pipe_slot(db, sql)) >= 0) {
		if ((st = send_piped(db, i, sql, nparams, params)) == DB_OK)
			st = drain(db, out, out ? 1 : 0);
		if (st != DB_OK && out) {
			PQclear(*out);
			*out = NULL;
		}
		return st;
	}
	if (db->piped && (st = drain(db, NULL, 0)) != DB_OK)
		return st;
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
	if (!succeeded(res))
		return refused(db, res);
	if (out)
		*out = res;
	else
		PQclear(res);
	return DB_OK;
}

/*
 * The outbox's trigger announces new events in their own transaction unless
 * asked to leave it until after the commit (sql/033): a notifying commit
 * holds a lock the others wait for until its flush is over, so announcing
 * inside every transaction would stop commits from sharing a flush. The
 * trigger marks the session instead, and the announcement goes right behind
 * the COMMIT, in the same pipeline sync: behind a transaction-mode pooler
 * the server connection that holds the mark is let go at the sync. It names
 * no function of the schema, so a binary installed before its migration
 * still commits (the older trigger announces by itself, and no mark is set).
 */
#define ANNOUNCE_LATER "SET LOCAL payments.announce = 'later'"
#define ANNOUNCE                                                                         \
	"SELECT set_config('payments.announce_due', '', false), pg_notify('payment_events', '')" \
	" WHERE current_setting('payments.announce_due', true) = 'on'"

enum db_status db_begin(struct db *db)
{
	enum db_status st;

	if (db->tx_lost)
		return DB_UNAVAILABLE;
	if ((st = connect_if_needed(db)) != DB_OK)
		return st;
	/* Sent with the first statement: a transaction costs no round trip of its own. */
	db->in_tx = true;
	if ((st = db_defer(db, "BEGIN", 0, NULL)) == DB_OK)
		st = db_defer(db, ANNOUNCE_LATER, 0, NULL);
	if (st != DB_OK)
		db_rollback(db);    /* whatever of it reached the server is undone */
	return st;
}

enum db_status db_commit(struct db *db)
{
	PGresult *res[2] = { NULL, NULL };     /* the COMMIT's, the announcement's */
	enum db_status st;
	int commit, announce;

	if (!db->in_tx)     /* lost, or never begun: db_exec answers as for any statement */
		return db_exec(db, NULL, "COMMIT", 0, NULL);
	if ((st = pipeable(db, "COMMIT", 0, &commit)) == DB_OK && (st = pipeable(db, ANNOUNCE, 0, &announce)) == DB_OK &&
	    (st = queue(db, commit, "COMMIT", 0, NULL)) == DB_OK && (st = queue(db, announce, ANNOUNCE, 0, NULL)) == DB_OK)
		st = drain(db, res, 2);
	if (res[0] && strcmp(PQcmdStatus(res[0]), "COMMIT") != 0) {
		/* COMMIT of a transaction that had failed answers ROLLBACK, not an error. */
		log_error("COMMIT answered %s: the transaction was rolled back", PQcmdStatus(res[0]));
		st = DB_FAILED;
	} else if (res[0] && st != DB_OK) {
		log_warn("transaction committed, its announcement failed: the relay carries its events on its next run");
		st = DB_OK;     /* committed all the same: the announcement only wakes the relay sooner */
	}
	if (res[0])
		db->tx_lost = false;    /* the transaction is over, whatever happened to the connection after */
	PQclear(res[0]);
	PQclear(res[1]);
	/* A COMMIT skipped after a write sent ahead failed leaves the transaction open, aborted: the server says so. */
	if (db->conn && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		db_rollback(db);
	db->in_tx = false;
	return st;
}

void db_rollback(struct db *db)
{
	if (db->piped)
		(void)drain(db, NULL, 0);
	if (db->conn && db->in_tx) {
		PGresult *res = PQexec(db->conn, "ROLLBACK");
		PQclear(res);
	}
	db->in_tx = false;
	db->tx_lost = false;
}
