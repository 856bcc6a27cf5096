/* db: one libpq connection per worker, opened lazily and re-opened after a
 * failure. While the database is unreachable every call answers
 * DB_UNAVAILABLE quickly (at most one connection attempt a second), so the
 * worker keeps serving 503s instead of hanging or dying.
 *
 * Every statement goes through db_exec() or db_defer() with its parameters
 * apart from the SQL text: nothing from outside is ever spliced into a statement.
 */
#ifndef PAY_DB_H
#define PAY_DB_H

#include <stdbool.h>
#include <time.h>

#include <libpq-fe.h>

enum db_status {
	DB_OK = 0,
	DB_UNAVAILABLE,     /* no connection: answer 503, the caller may retry */
	DB_UNIQUE,          /* 23505: a unique constraint said no (see db->constraint) */
	DB_CHECK,           /* 23514 / 23502 / 22xxx: the schema refused the values */
	DB_RETRY,           /* 40001 / 40P01: retry the whole transaction */
	DB_FAILED,          /* anything else: a bug or an operator problem, logged */
};

/*
 * Statements are prepared on first use on each connection and executed by
 * name afterwards: PostgreSQL then parses and plans each of them once per
 * connection instead of on every request.
 */
#define DB_STMT_CACHE 160

struct db_stmt {
	unsigned long long hash;    /* of the SQL text */
	char *sql;                  /* owned copy, compared on a hash match */
};

struct db {
	PGconn *conn;
	struct db_stmt stmts[DB_STMT_CACHE];    /* prepared on this connection as "s<index>" */
	int n_stmts;
	char conninfo[1200];
	time_t last_attempt;
	bool prepare;               /* prepare statements (off behind a transaction-mode pooler) */
	bool in_tx;
	bool piped;                 /* in libpq's pipeline mode: `queued` statements sent, not yet answered */
	int queued;
	bool tx_lost;               /* the connection died inside a transaction: fail until rollback */
	bool was_connected;         /* a connection made now is a reconnect (metrics) */
	char constraint[64];        /* constraint named by the last error */
	char sqlstate[6];
};

void db_init(struct db *db, const char *database_url, int connect_timeout, bool prepare);
void db_close(struct db *db);
/* At the start of a unit of work (a request): connects if needed, first reading the goodbye of a
 * server that ended the idle session, so the work gets a new connection instead of a failure. */
enum db_status db_ready(struct db *db);

/*
 * Runs one parameterised statement. On DB_OK *out (if out is not NULL) holds
 * the result, which the caller clears with PQclear(). On any other status
 * *out is NULL and the error has been logged: this statement's, or that of a
 * write deferred before it (db_defer), which then stopped it from running.
 */
enum db_status db_exec(struct db *db, PGresult **out, const char *sql, int nparams,
                       const char *const *params);

/*
 * Sends a statement inside the open transaction without waiting for its
 * answer, for a write whose only answer that matters is success. It goes out
 * with the next statement, in the same round trip, and the next db_exec(),
 * db_flush() or db_commit() answers for it: the first failure is what that
 * call returns, and nothing sent after it runs. A caller that must know a
 * write's own error (a unique constraint it handles) uses db_exec().
 */
enum db_status db_defer(struct db *db, const char *sql, int nparams, const char *const *params);
/* Waits for the statements deferred so far: their outcome, as db_defer says. */
enum db_status db_flush(struct db *db);

/* BEGIN is deferred: it goes out with the transaction's first statement. */
enum db_status db_begin(struct db *db);
/* Wakes the relay behind the COMMIT, in its round trip, if the transaction wrote events (sql/033).
 * DB_OK once the COMMIT went through, even if the wake-up then failed. */
enum db_status db_commit(struct db *db);
/* Safe to call when no transaction is open, or when the connection is gone. */
void db_rollback(struct db *db);

#endif
