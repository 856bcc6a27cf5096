#include "pay/coord.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "pay/cascade.h"
#include "pay/payment.h"

#define MAX_ATTEMPTS 3

/*
 * Admins follow every audited move live: the payment-status event is made
 * from the audit row `t` the same statement inserts, so neither exists
 * without the other.
 */
#define PAYMENT_STATUS_EVENT \
	"INSERT INTO events (event, room, payload, payment_id)" \
	" SELECT 'payment-status', 'admin', jsonb_build_object('paymentId', t.payment_id," \
	"  'status', t.to_status, 'escrowState', t.to_escrow_state, 'previousStatus', t.from_status," \
	"  'previousEscrowState', t.from_escrow_state, 'source', t.source, 'reason', t.reason), t.payment_id" \
	" FROM t"

/*
 * A wallet-direct pay-in confirmed on the chain: the buyer's checkout and
 * the request's room hear payment-completed, as the seeds' wallet flow
 * emits it after its cascade.
 */
static enum db_status wallet_direct_completed(struct db *db, const PGresult *row)
{
	if (strcmp(PQgetvalue(row, 0, PCOL_PROVIDER), "decentralized") != 0 ||
	    strcmp(PQgetvalue(row, 0, PCOL_DIRECTION), "in") != 0)
		return DB_OK;
	const char *p[7] = { PQgetvalue(row, 0, PCOL_ID), PQgetvalue(row, 0, PCOL_BUYER),
		             PQgetvalue(row, 0, PCOL_REQUEST),
		             PQgetisnull(row, 0, PCOL_TX) ? NULL : PQgetvalue(row, 0, PCOL_TX),
		             PQgetisnull(row, 0, PCOL_NETWORK) ? NULL : PQgetvalue(row, 0, PCOL_NETWORK),
		             PQgetisnull(row, 0, PCOL_TOKEN) ? NULL : PQgetvalue(row, 0, PCOL_TOKEN),
		             PQgetvalue(row, 0, PCOL_ESCROW) };
	return db_exec(db, NULL,
	               "INSERT INTO events (event, room, payload, payment_id)"
	               " SELECT 'payment-completed', room, jsonb_build_object('paymentId', $1::text,"
	               "  'purchaseRequestId', $3::text, 'transactionHash', $4::text, 'network', $5::text,"
	               "  'token', $6::text, 'status', 'completed', 'escrowState', $7::text), $1::uuid"
	               " FROM unnest(ARRAY['user:' || $2, 'request:' || $3]) AS room", 7, p);
}

static enum db_status lock_payment(struct db *db, const char *id, char *request_id, size_t len)
{
	const char *p[1] = { id };
	PGresult *res = NULL;
	enum db_status st;

	st = db_exec(db, &res, "SELECT purchase_request_id FROM payments WHERE id = $1", 1, p);
	if (st != DB_OK)
		return st;
	if (PQntuples(res) == 0) {
		PQclear(res);
		request_id[0] = '\0';
		return DB_OK;
	}
	snprintf(request_id, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	const char *r[1] = { request_id };
	st = db_exec(db, NULL, "SELECT pg_advisory_xact_lock(" LOCK_NS_REQUEST ", hashtext($1))", 1, r);
	if (st == DB_OK)
		st = db_exec(db, NULL, "SELECT pg_advisory_xact_lock(" LOCK_NS_PAYMENT ", hashtext($1))", 1, p);
	return st;
}

static enum coord_result attempt(struct db *db, const char *id, const struct coord_change *c,
                                 PGresult **row, enum db_status *dbst)
{
	char request[72];
	const char *p[1] = { id };
	PGresult *cur = NULL, *upd = NULL;
	enum coord_result result = COORD_DB;
	const char *from_status, *from_escrow, *to_status, *to_escrow;

	if ((*dbst = db_begin(db)) != DB_OK)
		return COORD_DB;
	/* After this point, all errors should use goto out. */
	if ((*dbst = lock_payment(db, id, request, sizeof(request))) != DB_OK)
		goto out;
	if (request[0] == '\0') {
		result = COORD_NOT_FOUND;
		goto out;
	}
	if ((*dbst = db_exec(db, &cur, "SELECT " PAYMENT_COLUMNS " FROM payments p WHERE p.id = $1 FOR UPDATE",
	                     1, p)) != DB_OK)
		goto out;
	from_status = PQgetvalue(cur, 0, PCOL_STATUS);
	from_escrow = PQgetvalue(cur, 0, PCOL_ESCROW);
	to_status = c->status ? c->status : from_status;
	bool status_moves = strcmp(to_status, from_status) != 0;
	/* The escrow follows a status that moves; a hash or metadata alone leaves it where it is. */
	to_escrow = c->escrow ? c->escrow : status_moves ? payment_escrow_for(to_status, from_escrow) : from_escrow;

	bool escrow_moves = strcmp(to_escrow, from_escrow) != 0;
	if ((status_moves && !payment_status_allows(from_status, to_status)) ||
	    (escrow_moves && !payment_escrow_allows(from_escrow, to_escrow))) {
		result = COORD_BACKWARD;
		goto out;
	}
	/*
	 * A provider repeats every transaction of an invoice in each callback: a
	 * hash is recorded with a move, or where none is recorded yet, so repeats
	 * in any order change nothing. Only an admin replaces one outright.
	 */
	bool tx_differs = c->tx_hash && (PQgetisnull(cur, 0, PCOL_TX) ||
	                                 strcasecmp(c->tx_hash, PQgetvalue(cur, 0, PCOL_TX)) != 0);
	bool tx_moves = tx_differs && (c->replace_tx || status_moves || escrow_moves ||
	                               PQgetisnull(cur, 0, PCOL_TX));
	if (!status_moves && !escrow_moves && !tx_moves && c->metadata == NULL) {
		result = COORD_UNCHANGED;
		goto out;
	}

	const char *u[5] = { id, to_status, to_escrow, tx_moves ? c->tx_hash : NULL, c->metadata };
	*dbst = db_exec(db, &upd,
	                "UPDATE payments p SET status = $2, escrow_state = $3,"
	                " tx_hash = coalesce($4, p.tx_hash),"
	                " metadata = p.metadata || coalesce($5::jsonb, '{}'::jsonb),"
	                " updated_at = now(),"
	                " completed_at = CASE WHEN $2 = 'completed' AND p.status <> 'completed'"
	                "                     THEN now() ELSE p.completed_at END"
	                " WHERE p.id = $1 RETURNING " PAYMENT_COLUMNS,
	                5, u);
	if (*dbst == DB_UNIQUE && strcmp(db->constraint, "payments_tx_once") == 0) {
		result = COORD_TX_USED;
		goto out;
	}
	if (*dbst != DB_OK)
		goto out;
	/* A recorded hash replaced (an admin's correction, a reorg) is audited like a move. */
	bool tx_replaced = tx_moves && !PQgetisnull(cur, 0, PCOL_TX);
	if (status_moves || escrow_moves || tx_replaced) {
		char reason[256];
		if (tx_replaced)
			snprintf(reason, sizeof(reason), "%s; transaction hash %s replaced by %s", c->reason ? c->reason : "",
			         PQgetvalue(cur, 0, PCOL_TX), c->tx_hash);
		const char *ap[9] = { id, from_status, to_status, from_escrow, to_escrow, c->source,
		                      c->actor, tx_replaced ? reason : c->reason, c->request_id };
		if ((*dbst = db_exec(db, NULL,
		                     "WITH t AS (INSERT INTO payment_transitions (payment_id, from_status, to_status,"
		                     " from_escrow_state, to_escrow_state, source, actor, reason, request_id)"
		                     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *)"
		                     " " PAYMENT_STATUS_EVENT, 9, ap)) != DB_OK)
			goto out;
	}
	if (escrow_moves && strcmp(to_escrow, "funded") == 0 &&
	    strcmp(PQgetvalue(upd, 0, PCOL_DIRECTION), "in") == 0 &&
	    (*dbst = cascade_funded(db, upd)) != DB_OK)
		goto out;
	const char *e[6] = { id, PQgetvalue(upd, 0, PCOL_BUYER), to_status, to_escrow, from_status,
	                     c->source };
	if ((*dbst = db_exec(db, NULL,
	                     "INSERT INTO events (event, room, payload, payment_id)"
	                     " VALUES ('payment-update', 'user:' || $2,"
	                     "  jsonb_build_object('paymentId', $1::text, 'status', $3::text,"
	                     "   'escrowState', $4::text, 'previousStatus', $5::text, 'source', $6::text),"
	                     "  $1::uuid)", 6, e)) != DB_OK)
		goto out;
	if (status_moves && strcmp(to_status, "completed") == 0 &&
	    (*dbst = wallet_direct_completed(db, upd)) != DB_OK)
		goto out;
	if ((*dbst = db_commit(db)) != DB_OK)
		goto out;
	if (status_moves)
		log_info("payment %s: %s -> %s (%s)", id, from_status, to_status, c->source);
	result = COORD_APPLIED;
out:
	db_rollback(db);
	if (row && (result == COORD_APPLIED)) {
		*row = upd;
		upd = NULL;
	} else if (row && (result == COORD_UNCHANGED || result == COORD_BACKWARD)) {
		*row = cur;
		cur = NULL;
	}
	PQclear(cur);
	PQclear(upd);
	return result;
}

enum coord_result coord_apply(struct db *db, const char *id, const struct coord_change *c,
                              PGresult **row, enum db_status *dbst)
{
	enum coord_result r = COORD_DB;

	if (row)
		*row = NULL;
	/* Lock order makes deadlocks unlikely; a serialisation failure is retried whole. */
	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		r = attempt(db, id, c, row, dbst);
		if (r != COORD_DB || *dbst != DB_RETRY)
			break;
	}
	return r;
}

enum db_status coord_created(struct db *db, const PGresult *row, const char *source,
                             const char *actor, const char *reason, const char *request_id)
{
	const char *id = PQgetvalue(row, 0, PCOL_ID);
	const char *a[5] = { id, source, actor, reason, request_id };
	const char *e[4] = { id, PQgetvalue(row, 0, PCOL_BUYER), PQgetvalue(row, 0, PCOL_REQUEST),
	                     PQgetvalue(row, 0, PCOL_PROVIDER) };
	enum db_status st;

	st = db_exec(db, NULL,
	             "WITH t AS (INSERT INTO payment_transitions (payment_id, to_status, to_escrow_state, source,"
	             " actor, reason, request_id) VALUES ($1, 'pending', 'unfunded', $2, $3, $4, $5) RETURNING *)"
	             " " PAYMENT_STATUS_EVENT, 5, a);
	if (st == DB_OK)
		st = db_exec(db, NULL,
		             "INSERT INTO events (event, room, payload, payment_id)"
		             " SELECT 'payment-created', room, jsonb_build_object('paymentId', $1::text,"
		             "  'status', 'pending', 'provider', $4::text, 'buyerId', $2::text,"
		             "  'purchaseRequestId', $3::text), $1::uuid"
		             " FROM unnest(ARRAY['global', 'user:' || $2, 'request:' || $3]) AS room", 4, e);
	return st;
}
