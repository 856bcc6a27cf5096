#include "pay/coord.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/metrics.h"
#include "pay/cascade.h"
#include "pay/inbox.h"
#include "pay/payment.h"
#include "pay/review.h"

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
	return db_defer(db,
	                "INSERT INTO events (event, room, payload, payment_id)"
	                " SELECT 'payment-completed', room, jsonb_build_object('paymentId', $1::text,"
	                "  'purchaseRequestId', $3::text, 'transactionHash', $4::text, 'network', $5::text,"
	                "  'token', $6::text, 'status', 'completed', 'escrowState', $7::text), $1::uuid"
	                " FROM unnest(ARRAY['user:' || $2, 'request:' || $3]) AS room", 7, p);
}

/*
 * Finds the payment's purchase request and takes both advisory locks, the
 * request's first, in one round trip: the select list is evaluated left to
 * right, once for the one row. A payment's request never changes, so the
 * read before the locks are held is the row's for good. It waits for its
 * answer: a payment with no row yet must be found unknown here, not read
 * after a lock that was never taken.
 */
static enum db_status lock_payment(struct db *db, const char *id, char *request_id, size_t len)
{
	const char *p[2] = { id, id };     /* the row's id, and the lock's key as every locker spells it */
	PGresult *res = NULL;
	enum db_status st;

	st = db_exec(db, &res,
	             "SELECT purchase_request_id,"
	             " pg_advisory_xact_lock(" LOCK_NS_REQUEST ", hashtext(purchase_request_id)),"
	             " pg_advisory_xact_lock(" LOCK_NS_PAYMENT ", hashtext($2))"
	             " FROM payments WHERE id = $1", 2, p);
	if (st != DB_OK)
		return st;
	request_id[0] = '\0';
	if (PQntuples(res) == 1)
		snprintf(request_id, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return DB_OK;
}

/* Does the change say money arrived? */
static bool deposit(const struct coord_change *c)
{
	return c->escrow && (strcmp(c->escrow, "funded") == 0 || strcmp(c->escrow, "partial") == 0);
}

static void set_outcome(struct coord_delivery *d, const char *outcome, const char *detail)
{
	size_t n = detail ? strnlen(detail, sizeof(d->detail) - 1) : 0;

	d->outcome = outcome;
	if (n)
		memcpy(d->detail, detail, n);
	d->detail[n] = '\0';
}

/* " (received 9.5 BNB-USDT, 9.5 USD)", or "" when the delivery says nothing of amounts. */
static void seen_text(const struct coord_delivery *d, char *out, size_t len)
{
	out[0] = '\0';
	if (d && d->seen_crypto)
		snprintf(out, len, " (received %s %s%s%s%s%s)", d->seen_crypto, d->crypto ? d->crypto : "",
		         d->seen_fiat ? ", " : "", d->seen_fiat ? d->seen_fiat : "",
		         d->seen_fiat && d->fiat ? " " : "", d->seen_fiat && d->fiat ? d->fiat : "");
}

/* Is there another pay-in that this transaction already pays? Its id into other, or "". */
static enum db_status tx_used_by(struct db *db, const char *id, const PGresult *cur, const char *tx,
                                 char other[40])
{
	const char *p[3] = { id, PQgetisnull(cur, 0, PCOL_NETWORK) ? NULL : PQgetvalue(cur, 0, PCOL_NETWORK), tx };
	PGresult *res = NULL;
	enum db_status st;

	other[0] = '\0';
	st = db_exec(db, &res,
	             "SELECT id FROM payments WHERE direction = 'in' AND tx_hash IS NOT NULL"
	             " AND coalesce(network, '') = coalesce($2, '') AND lower(tx_hash) = lower($3)"
	             " AND id <> $1::uuid LIMIT 1", 3, p);
	if (st == DB_OK && PQntuples(res) == 1)
		snprintf(other, 40, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return st;
}

/*
 * The coordinator's work inside an open transaction: everything between
 * BEGIN and COMMIT. *curp and *updp receive the row as locked and as updated
 * (see hand_row()). *ready says the work is complete and waits only for the
 * commit; when it is false nothing the caller should keep was written (on
 * COORD_DB the transaction may be aborted).
 */
static enum coord_result work(struct db *db, const char *id, const struct coord_change *c,
                              PGresult **curp, PGresult **updp, enum db_status *dbst, bool *ready)
{
	char request[72], reason[600], seen[200], other[40];
	const char *p[1] = { id };
	PGresult *cur = NULL, *upd = NULL;
	enum coord_result result = COORD_DB;
	struct coord_delivery *d = c->delivery;
	struct review rv = { 0 };
	bool review = false, status_moves = false, escrow_moves = false;
	const char *from_status, *from_escrow, *to_status = NULL, *to_escrow = NULL;
	const char *provider = d && d->provider ? d->provider : c->source;
	enum db_status st;
	const char *who = strcmp(provider, "shkeeper") == 0 ? "SHKeeper" : provider;
	const char *said = d && d->provider_status ? d->provider_status : "";

	if (d) {
		d->outcome = NULL;
		d->detail[0] = '\0';
		d->review = false;
	}
	*ready = false;
	seen_text(d, seen, sizeof(seen));
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
	/* Everything below is decided from this row, as it is under the lock. */
	from_status = PQgetvalue(cur, 0, PCOL_STATUS);
	from_escrow = PQgetvalue(cur, 0, PCOL_ESCROW);
	if (c->if_escrow && strcmp(from_escrow, c->if_escrow) != 0) {
		result = COORD_SKIPPED;
		goto out;
	}
	if (c->if_tx_was) {
		const char *now_tx = PQgetisnull(cur, 0, PCOL_TX) ? "" : PQgetvalue(cur, 0, PCOL_TX);
		if (strcasecmp(now_tx, c->if_tx_was) != 0 && !(c->tx_hash && strcasecmp(now_tx, c->tx_hash) == 0)) {
			result = COORD_SKIPPED;
			goto out;
		}
	}
	if (d && d->refuted) {
		result = COORD_UNCHANGED;
		set_outcome(d, "rejected", d->refuted);
		snprintf(reason, sizeof(reason), "%s reports %s%s, but %s: nothing moved", who, said, seen,
		         d->refuted);
		rv.kind = REVIEW_REFUTED;
		review = true;
		goto record;
	}
	/* A closed payment takes no deposit: the money is real, so a person places it. */
	if (deposit(c) && payment_status_closed(from_status)) {
		result = COORD_BACKWARD;
		snprintf(reason, sizeof(reason), "%s reports %s%s for a %s payment: nothing moved; return the money"
		         " or match it to an order", who, said[0] ? said : "a deposit", seen, from_status);
		rv.kind = REVIEW_PAID_ON_CLOSED;
		review = true;
		if (d)
			set_outcome(d, "review", reason);
		goto record;
	}
	to_status = c->status ? c->status : from_status;
	status_moves = strcmp(to_status, from_status) != 0;
	/* The escrow follows a status that moves; a hash or metadata alone leaves it where it is. */
	to_escrow = c->escrow ? c->escrow : status_moves ? payment_escrow_for(to_status, from_escrow) : from_escrow;
	escrow_moves = strcmp(to_escrow, from_escrow) != 0;
	if ((status_moves && !payment_status_allows(from_status, to_status)) ||
	    (escrow_moves && !payment_escrow_allows(from_escrow, to_escrow))) {
		result = COORD_BACKWARD;
		status_moves = escrow_moves = false;
		if (d == NULL)
			goto out;
		set_outcome(d, "stale", "would move the payment backwards");
		goto record;
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
		if (d == NULL)
			goto out;
		set_outcome(d, "duplicate", "already in that state");
		goto record;
	}
	if (tx_moves) {
		if ((*dbst = tx_used_by(db, id, cur, c->tx_hash, other)) != DB_OK)
			goto out;
		if (other[0]) {
			result = COORD_TX_USED;
			status_moves = escrow_moves = false;
			if (d == NULL)
				goto out;
			snprintf(reason, sizeof(reason), "%s reports %s%s with transaction %s, which already pays payment %s",
			         who, said, seen, c->tx_hash, other);
			set_outcome(d, "rejected", "the transaction already pays another payment");
			rv.kind = REVIEW_TX_USED;
			review = true;
			goto record;
		}
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
	if (*dbst == DB_UNIQUE && (strcmp(db->constraint, "payments_tx_once") == 0 ||
	                           strcmp(db->constraint, "payments_out_tx_once") == 0)) {
		/* Another payment took the hash since the check: a delivery's retry records it. */
		if (d)
			*dbst = DB_RETRY;
		else
			result = COORD_TX_USED;
		goto out;
	}
	if (*dbst != DB_OK)
		goto out;
	/* A recorded hash replaced (an admin's correction, a reorg) is audited like a move. */
	bool tx_replaced = tx_moves && !PQgetisnull(cur, 0, PCOL_TX);
	if (status_moves || escrow_moves || tx_replaced) {
		char audit[256];
		if (tx_replaced)
			snprintf(audit, sizeof(audit), "%s; transaction hash %s replaced by %s", c->reason ? c->reason : "",
			         PQgetvalue(cur, 0, PCOL_TX), c->tx_hash);
		const char *ap[9] = { id, from_status, to_status, from_escrow, to_escrow, c->source,
		                      c->actor, tx_replaced ? audit : c->reason, c->request_id };
		if ((*dbst = db_defer(db,
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
	if ((*dbst = db_defer(db,
	                      "INSERT INTO events (event, room, payload, payment_id)"
	                      " VALUES ('payment-update', 'user:' || $2,"
	                      "  jsonb_build_object('paymentId', $1::text, 'status', $3::text,"
	                      "   'escrowState', $4::text, 'previousStatus', $5::text, 'source', $6::text),"
	                      "  $1::uuid)", 6, e)) != DB_OK)
		goto out;
	if (status_moves && strcmp(to_status, "completed") == 0 &&
	    (*dbst = wallet_direct_completed(db, upd)) != DB_OK)
		goto out;
	result = COORD_APPLIED;
	if (d)
		set_outcome(d, "applied", NULL);
	/* Whoever closes it, a payment holding part of its price leaves money to return. */
	if (status_moves && payment_status_closed(to_status) && strcmp(to_escrow, "partial") == 0) {
		snprintf(reason, sizeof(reason), "the payment was %s (%s%s%s) while holding a partial deposit%s:"
		         " return the money or match it to an order", to_status, who, said[0] ? " " : "", said, seen);
		rv.kind = REVIEW_PARTIAL_CLOSED;
		review = true;
	}
	/* An admin's decree moves money in our books without a transfer: a person looks again. */
	if (c->review && (*dbst = review_override(db, id, c->review, c->actor, to_status)) != DB_OK)
		goto failed;
record:
	if (d && d->overpaid && !review) {
		/* SHKeeper's overpaid_fiat is counted from its upper limit (105 % by default), not from the price. */
		if (d->overpaid_fiat)
			snprintf(reason, sizeof(reason), "%s reports %s%s: more than the invoice asked is held (%s %s beyond"
			         " SHKeeper's upper limit; the excess over the price is larger: see amountSeen)",
			         who, said, seen, d->overpaid_fiat, d->fiat ? d->fiat : "");
		else
			snprintf(reason, sizeof(reason), "%s reports %s%s: more than the payment asked is held", who,
			         said[0] ? said : "a deposit", seen);
		rv.kind = REVIEW_OVERPAID;
		review = true;
	}
	if (d && d->inbox_id > 0 &&
	    (*dbst = inbox_finish(db, d->inbox_id, d->outcome, id, d->detail[0] ? d->detail : d->note)) != DB_OK)
		goto failed;
	if (review) {
		bool moved = result == COORD_APPLIED;
		rv.payment_id = id;
		rv.reason = reason;
		rv.status = moved ? to_status : from_status;
		rv.escrow = moved ? to_escrow : from_escrow;
		rv.provider = provider;
		rv.purchase_request_id = request;
		rv.tx_hash = c->tx_hash;
		if (d) {
			rv.provider_status = d->provider_status;
			rv.seen_crypto = d->seen_crypto;
			rv.crypto = d->crypto;
			rv.seen_fiat = d->seen_fiat;
			rv.fiat = d->fiat;
			rv.overpaid_fiat = d->overpaid_fiat;
			rv.delivery_id = d->inbox_id;
		}
		if ((*dbst = review_write(db, &rv)) != DB_OK)
			goto failed;
		if (d)
			d->review = true;
	}
	*ready = true;
	goto out;
failed:
	result = COORD_DB;
out:
	/* The writes sent ahead answer here, before anyone acts on what this returns. */
	if ((st = db_flush(db)) != DB_OK && result != COORD_DB) {
		*dbst = st;
		*ready = false;
		result = COORD_DB;
	}
	*curp = cur;
	*updp = upd;
	return result;
}

/*
 * Hands the caller the row its result promises and clears the rest. Once the
 * move is committed (`committed`), the log says what moved; inside a
 * caller's transaction the caller's own line after its commit says it.
 */
static void hand_row(enum coord_result result, PGresult *cur, PGresult *upd, PGresult **row,
                     const struct coord_change *c, bool committed)
{
	if (committed && result == COORD_APPLIED &&
	    strcmp(PQgetvalue(cur, 0, PCOL_STATUS), PQgetvalue(upd, 0, PCOL_STATUS)) != 0)
		log_info("payment %s: %s -> %s (%s)", PQgetvalue(upd, 0, PCOL_ID), PQgetvalue(cur, 0, PCOL_STATUS),
		         PQgetvalue(upd, 0, PCOL_STATUS), c->source);
	if (row && result == COORD_APPLIED) {
		*row = upd;
		upd = NULL;
	} else if (row && (result == COORD_UNCHANGED || result == COORD_BACKWARD || result == COORD_SKIPPED ||
	                   result == COORD_TX_USED)) {
		*row = cur;
		cur = NULL;
	}
	PQclear(cur);
	PQclear(upd);
}

static enum coord_result attempt(struct db *db, const char *id, const struct coord_change *c,
                                 PGresult **row, enum db_status *dbst)
{
	PGresult *cur = NULL, *upd = NULL;
	enum coord_result result;
	bool ready;

	if ((*dbst = db_begin(db)) != DB_OK)
		return COORD_DB;
	result = work(db, id, c, &cur, &upd, dbst, &ready);
	if (ready && (*dbst = db_commit(db)) != DB_OK)
		result = COORD_DB;
	db_rollback(db);
	hand_row(result, cur, upd, row, c, true);
	return result;
}

/* What the coordinator made of a change, for the pool's metrics. */
static enum coord_result counted(enum coord_result r)
{
	switch (r) {
	case COORD_APPLIED: metrics_coord(MC_APPLIED); break;
	case COORD_UNCHANGED: metrics_coord(MC_UNCHANGED); break;
	case COORD_BACKWARD: metrics_coord(MC_BACKWARD); break;
	case COORD_TX_USED:
	case COORD_SKIPPED: metrics_coord(MC_CONFLICT); break;
	case COORD_NOT_FOUND:
	case COORD_DB: break;
	}
	return r;
}

enum coord_result coord_apply(struct db *db, const char *id, const struct coord_change *c,
                              PGresult **row, enum db_status *dbst)
{
	enum coord_result r = COORD_DB;
	bool named = log_payment_enter(id);

	if (row)
		*row = NULL;
	/* Lock order makes deadlocks unlikely; a serialisation failure is retried whole. */
	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		r = attempt(db, id, c, row, dbst);
		if (r != COORD_DB || *dbst != DB_RETRY)
			break;
	}
	log_payment_leave(named);
	return counted(r);
}

enum coord_result coord_apply_in(struct db *db, const char *id, const struct coord_change *c,
                                 PGresult **row, enum db_status *dbst)
{
	PGresult *cur = NULL, *upd = NULL;
	enum coord_result result;
	bool ready;

	if (row)
		*row = NULL;
	result = work(db, id, c, &cur, &upd, dbst, &ready);
	hand_row(result, cur, upd, row, c, false);
	return counted(result);
}

enum db_status coord_created(struct db *db, const PGresult *row, const char *source,
                             const char *actor, const char *reason, const char *request_id)
{
	const char *id = PQgetvalue(row, 0, PCOL_ID);
	const char *a[5] = { id, source, actor, reason, request_id };
	const char *e[4] = { id, PQgetvalue(row, 0, PCOL_BUYER), PQgetvalue(row, 0, PCOL_REQUEST),
	                     PQgetvalue(row, 0, PCOL_PROVIDER) };
	enum db_status st;

	assert(db->in_tx);
	/* Left named: the rest of the request is about the payment it created. */
	log_payment_enter(id);
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

/* ---- Moves inside a caller's transaction (outgoing payments) ---- */

enum db_status coord_lock(struct db *db, const char *request_id, const char *const *payment_ids,
                          size_t n)
{
	const char *request[1] = { request_id };
	enum db_status st;

	assert(db->in_tx);
	st = db_exec(db, NULL, "SELECT pg_advisory_xact_lock(" LOCK_NS_REQUEST ", hashtext($1))", 1, request);
	for (size_t i = 0; i < n && st == DB_OK; i++) {
		const char *p[1] = { payment_ids[i] };
		st = db_exec(db, NULL, "SELECT pg_advisory_xact_lock(" LOCK_NS_PAYMENT ", hashtext($1))", 1, p);
	}
	return st;
}

/* The audit row and the events of one move; `upd` is the row after it. */
static enum db_status record_move(struct db *db, const PGresult *upd, const char *from_status,
                                  const char *from_escrow, const struct coord_change *c, const char *reason)
{
	const char *id = PQgetvalue(upd, 0, PCOL_ID);
	const char *to_status = PQgetvalue(upd, 0, PCOL_STATUS), *to_escrow = PQgetvalue(upd, 0, PCOL_ESCROW);
	const char *a[9] = { id, from_status, to_status, from_escrow, to_escrow, c->source, c->actor, reason,
	                     c->request_id };
	const char *e[7] = { id, PQgetvalue(upd, 0, PCOL_BUYER), to_status, to_escrow, from_status, c->source,
	                     PQgetvalue(upd, 0, PCOL_DIRECTION) };
	enum db_status st;

	/* Admins follow it like any other audited move; the buyer's checkout follows its pay-in. */
	st = db_exec(db, NULL,
	             "WITH t AS (INSERT INTO payment_transitions (payment_id, from_status, to_status,"
	             " from_escrow_state, to_escrow_state, source, actor, reason, request_id)"
	             " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *)"
	             " " PAYMENT_STATUS_EVENT, 9, a);
	if (st == DB_OK && strcmp(e[6], "in") == 0)
		st = db_exec(db, NULL,
		             "INSERT INTO events (event, room, payload, payment_id)"
		             " VALUES ('payment-update', 'user:' || $2,"
		             "  jsonb_build_object('paymentId', $1::text, 'status', $3::text,"
		             "   'escrowState', $4::text, 'previousStatus', $5::text, 'source', $6::text),"
		             "  $1::uuid)", 6, e);
	return st;
}

static enum coord_result move(struct db *db, const char *id, const struct coord_change *c, PGresult **row,
                              enum db_status *dbst)
{
	const char *p[1] = { id };
	PGresult *cur = NULL, *upd = NULL;
	enum coord_result result = COORD_DB;

	*row = NULL;
	*dbst = db_exec(db, &cur, "SELECT " PAYMENT_COLUMNS " FROM payments p WHERE p.id = $1 FOR UPDATE", 1, p);
	if (*dbst != DB_OK)
		return COORD_DB;
	if (PQntuples(cur) == 0) {
		PQclear(cur);
		return COORD_NOT_FOUND;
	}
	const char *from_status = PQgetvalue(cur, 0, PCOL_STATUS), *from_escrow = PQgetvalue(cur, 0, PCOL_ESCROW);
	const char *to_status = c->status ? c->status : from_status;
	bool status_moves = strcmp(to_status, from_status) != 0;
	const char *to_escrow = c->escrow ? c->escrow : status_moves ? payment_escrow_for(to_status, from_escrow) : from_escrow;
	bool escrow_moves = strcmp(to_escrow, from_escrow) != 0;
	bool escrow_ok = c->payout ? payment_escrow_allows_payout(from_escrow, to_escrow)
	                           : payment_escrow_allows(from_escrow, to_escrow);

	if ((status_moves && !payment_status_allows(from_status, to_status)) || (escrow_moves && !escrow_ok)) {
		*row = cur;
		return COORD_BACKWARD;
	}
	bool tx_differs = c->tx_hash && (PQgetisnull(cur, 0, PCOL_TX) ||
	                                 strcasecmp(c->tx_hash, PQgetvalue(cur, 0, PCOL_TX)) != 0);
	bool tx_moves = tx_differs && (c->replace_tx || PQgetisnull(cur, 0, PCOL_TX));
	if (!status_moves && !escrow_moves && !tx_moves && c->metadata == NULL) {
		*row = cur;
		return COORD_UNCHANGED;
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
	if (*dbst == DB_UNIQUE && (strcmp(db->constraint, "payments_tx_once") == 0 ||
	                           strcmp(db->constraint, "payments_out_tx_once") == 0)) {
		result = COORD_TX_USED;
		goto out;
	}
	if (*dbst != DB_OK)
		goto out;
	bool tx_replaced = tx_moves && !PQgetisnull(cur, 0, PCOL_TX);
	if (status_moves || escrow_moves || tx_replaced) {
		char reason[384];
		if (tx_replaced)
			snprintf(reason, sizeof(reason), "%s; transaction hash %s replaced by %s", c->reason ? c->reason : "",
			         PQgetvalue(cur, 0, PCOL_TX), c->tx_hash);
		if ((*dbst = record_move(db, upd, from_status, from_escrow, c, tx_replaced ? reason : c->reason)) != DB_OK)
			goto out;
		if (status_moves || escrow_moves)
			log_info("payment %s: %s/%s -> %s/%s (%s)", id, from_status, from_escrow, to_status, to_escrow,
			         c->source);
	}
	*row = upd;
	upd = NULL;
	result = COORD_APPLIED;
out:
	PQclear(cur);
	PQclear(upd);
	return result;
}

enum db_status coord_recorded(struct db *db, const PGresult *row, const char *source,
                              const char *actor, const char *reason, const char *request_id)
{
	const struct coord_change c = { .source = source, .actor = actor, .request_id = request_id };

	assert(db->in_tx);
	return record_move(db, row, NULL, NULL, &c, reason);
}

enum coord_result coord_move(struct db *db, const char *id, const struct coord_change *c,
                             PGresult **row, enum db_status *dbst)
{
	assert(db->in_tx);
	bool named = log_payment_enter(id);
	enum coord_result r = move(db, id, c, row, dbst);

	log_payment_leave(named);
	return counted(r);
}
