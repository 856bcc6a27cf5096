#include "pay/payout.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/jstr.h"
#include "base/jw.h"
#include "base/log.h"
#include "pay/coord.h"
#include "pay/inbox.h"
#include "pay/review.h"

#define MAX_ATTEMPTS 3

static void refuse(struct payout_refusal *why, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(struct payout_refusal *why, const char *code, const char *fmt, ...)
{
	va_list ap;

	snprintf(why->code, sizeof(why->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(why->message, sizeof(why->message), fmt, ap);
	va_end(ap);
}

void payout_write(struct buf *b, const PGresult *res, int row)
{
	buf_putc(b, '{');
	payment_write_members(b, res, row);
	jw_key(b, "kind", false);
	jw_str_or_null(b, PQgetisnull(res, row, POCOL_KIND) ? NULL : PQgetvalue(res, row, POCOL_KIND));
	jw_key(b, "payinId", false);
	jw_str_or_null(b, PQgetisnull(res, row, POCOL_PAYIN) ? NULL : PQgetvalue(res, row, POCOL_PAYIN));
	jw_key(b, "basis", false);
	jw_str_or_null(b, PQgetisnull(res, row, POCOL_BASIS) ? NULL : PQgetvalue(res, row, POCOL_BASIS));
	buf_putc(b, '}');
}

json_object *payout_json(const PGresult *res, int row)
{
	struct buf b = BUF_INIT;
	json_object *o;

	payout_write(&b, res, row);
	o = jstr_verbatim(b.data);
	buf_free(&b);
	return o;
}

enum db_status payout_find_active(struct db *db, const char *payin_id, const char *kind,
                                  const char *basis, PGresult **row)
{
	const char *p[3] = { payin_id, kind, basis };
	PGresult *res = NULL;
	enum db_status st;

	*row = NULL;
	st = db_exec(db, &res,
	             "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.payin_id = $1 AND p.kind = $2"
	             " AND p.basis = $3 AND p.direction = 'out' AND p.status NOT IN ('failed', 'cancelled')",
	             3, p);
	if (st == DB_OK && PQntuples(res) == 1) {
		*row = res;
		return DB_OK;
	}
	PQclear(res);
	return st;
}

int payout_registered_recipient(struct db *db, const PGresult *payin, const char *kind,
                                char address[43], char user[72], enum db_status *dbst)
{
	bool release = strcmp(kind, "release") == 0;
	const char *p[4] = { PQgetvalue(payin, 0, PCOL_ID), release ? "release" : "refund",
	                     PQgetisnull(payin, 0, PCOL_NETWORK) ? "" : PQgetvalue(payin, 0, PCOL_NETWORK) };
	PGresult *res = NULL;
	int found = 0;

	address[0] = '\0';
	user[0] = '\0';
	/* The seller is the pay-in's, else the one whose offer it pays. */
	*dbst = db_exec(db, &res,
	                "SELECT who.id, w.address FROM payments i"
	                " CROSS JOIN LATERAL (SELECT CASE WHEN $2 = 'refund' THEN i.buyer_id"
	                "   ELSE coalesce(i.seller_id, (SELECT o.seller_id FROM seller_offers o"
	                "                               WHERE o.id = i.seller_offer_id)) END AS id) who"
	                " LEFT JOIN user_wallets w ON w.user_id = who.id AND w.network = $3"
	                " WHERE i.id = $1", 3, p);
	if (*dbst != DB_OK)
		return -1;
	if (PQntuples(res) == 1) {
		snprintf(user, 72, "%s", PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
		if (!PQgetisnull(res, 0, 1)) {
			snprintf(address, 43, "%s", PQgetvalue(res, 0, 1));
			found = 1;
		}
	}
	PQclear(res);
	return found;
}

/* The outgoing payment as PAYOUT_COLUMNS. */
static enum db_status reload(struct db *db, const char *id, PGresult **row)
{
	const char *p[1] = { id };
	enum db_status st = db_exec(db, row, "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1", 1, p);

	if (st == DB_OK && PQntuples(*row) != 1) {
		PQclear(*row);
		*row = NULL;
		return DB_FAILED;
	}
	return st;
}

/* ---- open ---- */

static bool is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* The pay-in's state allows this payout (checked under the locks). */
static int check_payin(const PGresult *pay, const char *kind, const char *basis, struct payout_refusal *why)
{
	const char *id = PQgetvalue(pay, 0, PCOL_ID), *status = PQgetvalue(pay, 0, PCOL_STATUS);
	const char *escrow = PQgetvalue(pay, 0, PCOL_ESCROW);

	if (!is(PQgetvalue(pay, 0, PCOL_DIRECTION), "in")) {
		refuse(why, "not_a_payin", "payment %s is an outgoing payment, not a pay-in", id);
		return -1;
	}
	if (is(basis, "escrow")) {
		if (!is(status, "completed") || !is(escrow, "funded")) {
			refuse(why, "not_funded", "payment %s is %s with its escrow %s: only a completed pay-in with a funded escrow can be %s",
			       id, status, escrow, is(kind, "release") ? "released" : "refunded");
			return -1;
		}
	} else if (is(basis, "partial")) {
		if (!is(escrow, "partial") || !(is(status, "pending") || is(status, "processing"))) {
			refuse(why, "not_partial", "payment %s is %s with its escrow %s, not partly paid", id, status, escrow);
			return -1;
		}
	} else if (is(basis, "excess")) {
		if (!is(status, "completed") && !is(status, "released") && !is(status, "refunded")) {
			refuse(why, "not_paid", "payment %s is %s: an excess is refunded only from a paid pay-in", id, status);
			return -1;
		}
	} else if (!is(status, "failed") && !is(status, "cancelled")) {
		refuse(why, "not_closed", "payment %s is %s: only money that arrived for a failed or cancelled pay-in is refunded this way",
		       id, status);
		return -1;
	} else if (is(escrow, "refunded")) {
		/* A partly paid pay-in whose part went back is closed with its escrow refunded: that money is gone. */
		refuse(why, "already_refunded", "payment %s's money was already returned (its escrow is refunded)", id);
		return -1;
	}
	return 0;
}

/* A release follows delivery: the purchase request must say the goods arrived. */
static enum db_status check_request(struct db *db, const PGresult *pay, bool lock, struct payout_refusal *why,
                                    bool *ok)
{
	const char *p[1] = { PQgetvalue(pay, 0, PCOL_REQUEST) };
	PGresult *res = NULL;
	enum db_status st;

	*ok = false;
	st = lock ? db_exec(db, &res, "SELECT status FROM purchase_requests WHERE id = $1 FOR UPDATE", 1, p)
	          : db_exec(db, &res, "SELECT status FROM purchase_requests WHERE id = $1", 1, p);
	if (st != DB_OK)
		return st;
	const char *status = PQntuples(res) ? PQgetvalue(res, 0, 0) : NULL;
	if (status && (is(status, "delivered") || is(status, "confirming") || is(status, "seller_paid") ||
	               is(status, "completed")))
		*ok = true;
	else
		refuse(why, "not_delivered", "purchase request %s is %s: a release follows delivery (delivered, confirming, seller_paid or completed)",
		       p[0], status ? status : "unknown");
	PQclear(res);
	return DB_OK;
}

/*
 * An automatic release waits out its grace period and never pays a disputed
 * order: checked on the purchase request locked by check_request().
 */
static enum db_status check_auto_release(struct db *db, const PGresult *pay, int grace_hours,
                                         struct payout_refusal *why, bool *ok)
{
	char hours[16];
	const char *p[2] = { PQgetvalue(pay, 0, PCOL_REQUEST), hours };
	PGresult *res = NULL;
	enum db_status st;

	*ok = false;
	snprintf(hours, sizeof(hours), "%d", grace_hours);
	st = db_exec(db, &res,
	             "SELECT status = 'delivered' AND NOT disputed AND delivered_at IS NOT NULL"
	             " AND delivered_at <= now() - make_interval(hours => $2::integer), disputed"
	             " FROM purchase_requests WHERE id = $1", 2, p);
	if (st != DB_OK)
		return st;
	if (PQntuples(res) == 1 && *PQgetvalue(res, 0, 0) == 't')
		*ok = true;
	else
		refuse(why, PQntuples(res) == 1 && *PQgetvalue(res, 0, 1) == 't' ? "disputed" : "not_due",
		       "purchase request %s is disputed, or not delivered for %d hours: no automatic release", p[0],
		       grace_hours);
	PQclear(res);
	return DB_OK;
}

int payout_preconditions(struct db *db, const PGresult *payin, const char *kind, const char *basis,
                         struct payout_refusal *why, enum db_status *dbst)
{
	bool ok = true;

	*dbst = DB_OK;
	if (check_payin(payin, kind, basis, why) != 0)
		return 0;
	if (is(kind, "release") && (*dbst = check_request(db, payin, false, why, &ok)) != DB_OK)
		return -1;
	return ok ? 1 : 0;
}

/* Looks the outgoing payment's request and pay-in up, then takes the coordinator's locks. */
static enum db_status lock_out(struct db *db, const char *out_id, char request[72], char payin[40], bool *found)
{
	const char *p[1] = { out_id };
	PGresult *res = NULL;
	enum db_status st;

	*found = false;
	st = db_exec(db, &res, "SELECT purchase_request_id, payin_id::text FROM payments"
	                       " WHERE id = $1 AND direction = 'out'", 1, p);
	if (st != DB_OK)
		return st;
	if (PQntuples(res) == 1) {
		snprintf(request, 72, "%s", PQgetvalue(res, 0, 0));
		snprintf(payin, 40, "%s", PQgetvalue(res, 0, 1));
		*found = true;
	}
	PQclear(res);
	if (!*found)
		return DB_OK;
	const char *ids[2] = { payin, out_id };
	return coord_lock(db, request, ids, 2);
}

static enum payout_result open_once(struct db *db, const struct payout_request *rq, PGresult **row,
                                    struct payout_refusal *why, enum db_status *dbst)
{
	const char *p[1] = { rq->payin_id };
	PGresult *res = NULL, *pay = NULL, *ins = NULL, *moved = NULL;
	enum payout_result result = PAYOUT_DB;
	bool release = is(rq->kind, "release"), ok;

	if ((*dbst = db_begin(db)) != DB_OK)
		return PAYOUT_DB;
	/* After this point, all errors should use goto out. */
	if ((*dbst = db_exec(db, &res, "SELECT purchase_request_id FROM payments WHERE id = $1", 1, p)) != DB_OK)
		goto out;
	if (PQntuples(res) == 0) {
		result = PAYOUT_NOT_FOUND;
		goto out;
	}
	if ((*dbst = coord_lock(db, PQgetvalue(res, 0, 0), p, 1)) != DB_OK ||
	    (*dbst = payout_find_active(db, rq->payin_id, rq->kind, rq->basis, row)) != DB_OK)
		goto out;
	if (*row) {
		result = PAYOUT_EXISTS;
		goto out;
	}
	if ((*dbst = db_exec(db, &pay, "SELECT " PAYMENT_COLUMNS " FROM payments p WHERE p.id = $1 FOR UPDATE",
	                     1, p)) != DB_OK)
		goto out;
	if (check_payin(pay, rq->kind, rq->basis, why) != 0) {
		result = PAYOUT_REFUSED;
		goto out;
	}
	if (release) {
		if ((*dbst = check_request(db, pay, true, why, &ok)) != DB_OK)
			goto out;
		if (!ok) {
			result = PAYOUT_REFUSED;
			goto out;
		}
	}
	if (rq->auto_release_grace_hours > 0) {
		if ((*dbst = check_auto_release(db, pay, rq->auto_release_grace_hours, why, &ok)) != DB_OK)
			goto out;
		if (!ok) {
			result = PAYOUT_REFUSED;
			goto out;
		}
	}
	const char *source = rq->source ? rq->source : "admin";
	const char *ip[12] = { rq->payin_id, rq->provider, rq->kind, rq->basis, rq->amount, rq->token,
	                       rq->recipient, rq->sender, rq->recipient_source, rq->reason, rq->actor, rq->metadata };
	*dbst = db_exec(db, &ins,
	                "INSERT INTO payments AS p (direction, provider, status, escrow_state, purchase_request_id,"
	                " seller_offer_id, buyer_id, seller_id, amount, currency, network, token, token_contract,"
	                " receiver_address, sender_address, kind, payin_id, basis, metadata, created_by)"
	                " SELECT 'out', $2::text, 'pending', CASE WHEN $3::text = 'release' THEN 'releasing' ELSE 'refunding' END,"
	                "  i.purchase_request_id, i.seller_offer_id, i.buyer_id, i.seller_id, $5::numeric, $6::text,"
	                "  i.network, $6::text, i.token_contract, $7::text, $8::text, $3::text, i.id, $4::text,"
	                "  coalesce($12::jsonb, '{}'::jsonb)"
	                "   || jsonb_strip_nulls(jsonb_build_object('recipientSource', $9::text, 'reason', $10::text)), $11::text"
	                " FROM payments i WHERE i.id = $1::uuid RETURNING " PAYOUT_COLUMNS, 12, ip);
	if (*dbst != DB_OK)
		goto out;
	char reason[400];
	snprintf(reason, sizeof(reason), "%s opened (%s, %s)%s%s", rq->kind, rq->provider, rq->basis,
	         rq->reason ? ": " : "", rq->reason ? rq->reason : "");
	const char *id = PQgetvalue(ins, 0, PCOL_ID);
	const char *e[8] = { id, rq->payin_id, rq->kind, rq->provider, rq->recipient, rq->amount, rq->token,
	                     PQgetvalue(pay, 0, PCOL_REQUEST) };
	if ((*dbst = coord_recorded(db, ins, source, rq->actor, reason, rq->request_id)) != DB_OK ||
	    (*dbst = db_exec(db, NULL,
	                     "INSERT INTO events (event, room, payload, payment_id) VALUES"
	                     " ('payout-created', 'admin', jsonb_build_object('payoutId', $1::text,"
	                     "  'paymentId', $2::text, 'kind', $3::text, 'provider', $4::text,"
	                     "  'recipient', $5::text, 'amount', $6::numeric, 'amountDecimal', $6::numeric::text,"
	                     "  'token', $7::text,"
	                     "  'purchaseRequestId', $8::text), $1::uuid)", 8, e)) != DB_OK)
		goto out;
	/* The escrow it pays out is spoken for from now on. */
	if (is(rq->basis, "escrow") || is(rq->basis, "partial")) {
		struct coord_change c = {
			.escrow = release ? "releasing" : "refunding", .source = source, .actor = rq->actor,
			.reason = reason, .request_id = rq->request_id, .payout = true,
		};
		if (coord_move(db, rq->payin_id, &c, &moved, dbst) != COORD_APPLIED) {
			if (*dbst == DB_OK) {
				refuse(why, "invalid_state", "payment %s changed meanwhile", rq->payin_id);
				result = PAYOUT_REFUSED;
			}
			goto out;
		}
	}
	if ((*dbst = db_commit(db)) != DB_OK)
		goto out;
	log_info("payout %s: %s of payment %s to %s (%s %s) opened by %s", id, rq->kind, rq->payin_id,
	         rq->recipient, rq->amount, rq->token, rq->actor);
	*row = ins;
	ins = NULL;
	result = PAYOUT_DONE;
out:
	db_rollback(db);
	if (result != PAYOUT_DONE && result != PAYOUT_EXISTS) {
		PQclear(*row);
		*row = NULL;
	}
	PQclear(res);
	PQclear(pay);
	PQclear(ins);
	PQclear(moved);
	return result;
}

enum payout_result payout_open(struct db *db, const struct payout_request *rq, PGresult **row,
                               struct payout_refusal *why, enum db_status *dbst)
{
	enum payout_result r = PAYOUT_DB;

	*row = NULL;
	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		r = open_once(db, rq, row, why, dbst);
		if (r != PAYOUT_DB || *dbst != DB_RETRY)
			break;
	}
	return r;
}

/* ---- record ---- */

enum payout_result payout_record(struct db *db, const char *out_id, const struct payout_record *rc,
                                 PGresult **row, struct payout_refusal *why, enum db_status *dbst)
{
	char request[72], payin[40], hash[68] = "";
	const char *p[1] = { out_id };
	PGresult *cur = NULL;
	enum payout_result result = PAYOUT_DB;
	bool found;

	*row = NULL;
	if ((*dbst = db_begin(db)) != DB_OK)
		return PAYOUT_DB;
	/* After this point, all errors should use goto out. */
	if ((*dbst = lock_out(db, out_id, request, payin, &found)) != DB_OK)
		goto out;
	if (!found) {
		result = PAYOUT_NOT_FOUND;
		goto out;
	}
	if ((*dbst = db_exec(db, &cur, "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1 FOR UPDATE",
	                     1, p)) != DB_OK)
		goto out;
	const char *status = PQgetvalue(cur, 0, PCOL_STATUS);
	if (!is(status, "pending") && !is(status, "processing")) {
		refuse(why, "invalid_state", "payout %s is %s", out_id, status);
		result = PAYOUT_REFUSED;
		goto out;
	}
	if (rc->step) {
		if (!is(status, "pending") || !PQgetisnull(cur, 0, PCOL_TX)) {
			refuse(why, "already_signed", "payout %s already has its transaction", out_id);
			result = PAYOUT_REFUSED;
			goto out;
		}
		if ((*dbst = rc->step(db, cur, rc->step_ctx, hash, why)) != DB_OK)
			goto out;
		if (hash[0] == '\0') {
			result = PAYOUT_REFUSED;
			goto out;
		}
	}
	struct coord_change c = {
		.status = "processing", .tx_hash = rc->tx_hash ? rc->tx_hash : hash, .replace_tx = rc->replace,
		.metadata = rc->metadata, .source = rc->source, .actor = rc->actor, .reason = rc->reason,
		.request_id = rc->request_id, .payout = true,
	};
	switch (coord_move(db, out_id, &c, row, dbst)) {
	case COORD_APPLIED:
	case COORD_UNCHANGED:
		break;
	case COORD_TX_USED:
		result = PAYOUT_TX_USED;
		goto out;
	case COORD_BACKWARD:
		refuse(why, "invalid_state", "payout %s cannot take a transaction now", out_id);
		result = PAYOUT_REFUSED;
		goto out;
	default:
		goto out;
	}
	PQclear(*row);
	*row = NULL;
	if ((*dbst = reload(db, out_id, row)) != DB_OK)
		goto out;
	if ((*dbst = db_commit(db)) != DB_OK)
		goto out;
	result = PAYOUT_DONE;
out:
	db_rollback(db);
	if (result != PAYOUT_DONE) {
		PQclear(*row);
		*row = NULL;
	}
	PQclear(cur);
	return result;
}

/* ---- settle ---- */

/* The purchase request follows a completed payout whose escrow it was. */
static enum db_status request_follows(struct db *db, const PGresult *out, bool release)
{
	const char *request = PQgetvalue(out, 0, PCOL_REQUEST);
	const char *p[1] = { request };
	PGresult *res = NULL;
	enum db_status st;

	st = db_exec(db, &res, "SELECT status FROM purchase_requests WHERE id = $1 FOR UPDATE", 1, p);
	if (st != DB_OK || PQntuples(res) == 0) {
		PQclear(res);
		return st;
	}
	char from[24];
	snprintf(from, sizeof(from), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	const char *e[5] = { PQgetvalue(out, 0, PCOL_ID), request, from, PQgetvalue(out, 0, POCOL_PAYIN), NULL };
	if (!release) {
		if (is(from, "refunded"))
			return DB_OK;
		st = db_exec(db, NULL, "UPDATE purchase_requests SET status = 'refunded', updated_at = now() WHERE id = $1",
		             1, p);
		if (st == DB_OK)
			st = db_exec(db, NULL,
			             "INSERT INTO events (event, room, payload, payment_id) VALUES"
			             " ('purchase-request-update', 'request:' || $2, jsonb_build_object('eventType',"
			             "  'payment_refunded', 'purchaseRequestId', $2::text, 'from', $3::text, 'to', 'refunded',"
			             "  'payoutId', $1::text, 'paymentId', $4::text), $1::uuid)", 4, e);
		return st;
	}
	/* seller_paid, then completed: the money reached the seller, the order is done. */
	if (!is(from, "seller_paid") && !is(from, "completed")) {
		st = db_exec(db, NULL, "UPDATE purchase_requests SET status = 'seller_paid', updated_at = now() WHERE id = $1",
		             1, p);
		if (st == DB_OK)
			st = db_exec(db, NULL,
			             "INSERT INTO events (event, room, payload, payment_id) VALUES"
			             " ('purchase-request-update', 'request:' || $2, jsonb_build_object('eventType',"
			             "  'payment_released', 'purchaseRequestId', $2::text, 'from', $3::text, 'to', 'seller_paid',"
			             "  'payoutId', $1::text, 'paymentId', $4::text), $1::uuid)", 4, e);
		if (st != DB_OK)
			return st;
		snprintf(from, sizeof(from), "seller_paid");
	}
	if (is(from, "completed"))
		return DB_OK;
	st = db_exec(db, NULL, "UPDATE purchase_requests SET status = 'completed', updated_at = now() WHERE id = $1", 1, p);
	if (st == DB_OK)
		st = db_exec(db, NULL,
		             "INSERT INTO events (event, room, payload, payment_id) VALUES"
		             " ('purchase-request-update', 'request:' || $2, jsonb_build_object('eventType',"
		             "  'status-changed', 'purchaseRequestId', $2::text, 'from', $3::text, 'to', 'completed',"
		             "  'payoutId', $1::text), $1::uuid)", 3, e);
	return st;
}

/* The recipient hears of it, and everyone following payouts. */
static enum db_status announce_completed(struct db *db, const PGresult *out, bool release)
{
	const char *p[9] = {
		PQgetvalue(out, 0, PCOL_ID), PQgetvalue(out, 0, POCOL_PAYIN), PQgetvalue(out, 0, POCOL_KIND),
		PQgetvalue(out, 0, PCOL_PROVIDER), PQgetvalue(out, 0, PCOL_AMOUNT), PQgetvalue(out, 0, PCOL_TOKEN),
		PQgetvalue(out, 0, PCOL_RECEIVER), PQgetvalue(out, 0, PCOL_TX), PQgetvalue(out, 0, PCOL_REQUEST),
	};
	const char *n[6] = { p[0], release ? "seller" : "buyer", p[4], p[5], p[8], p[6] };
	enum db_status st;

	/* The seller of a release is the payout's, else the one whose offer the pay-in paid. */
	st = db_exec(db, NULL,
	             "INSERT INTO notifications (user_id, kind, title, body, payment_id)"
	             " SELECT u, CASE WHEN $2 = 'seller' THEN 'payout-sent' ELSE 'refund-sent' END,"
	             "  CASE WHEN $2 = 'seller' THEN 'Payout sent' ELSE 'Refund sent' END,"
	             "  $3 || ' ' || $4 || ' for request ' || $5 || ' were sent to ' || $6 || '.', $1::uuid"
	             " FROM (SELECT CASE WHEN $2 = 'seller' THEN coalesce(o.seller_id,"
	             "   (SELECT so.seller_id FROM seller_offers so WHERE so.id = o.seller_offer_id)) ELSE o.buyer_id END AS u"
	             "  FROM payments o WHERE o.id = $1::uuid) who WHERE u IS NOT NULL", 6, n);
	if (st == DB_OK)
		st = db_exec(db, NULL,
		             "INSERT INTO events (event, room, payload, payment_id) VALUES"
		             " ('payout-completed', 'global', jsonb_build_object('payoutId', $1::text,"
		             "  'paymentId', $2::text, 'kind', $3::text, 'provider', $4::text, 'amount', $5::numeric,"
		             "  'amountDecimal', $5::numeric::text,"
		             "  'token', $6::text, 'recipient', $7::text, 'transactionHash', $8::text,"
		             "  'purchaseRequestId', $9::text), $1::uuid)", 9, p);
	return st;
}

/* A pay-in that cannot follow its payout (an admin moved it meanwhile): a person looks. */
static enum db_status needs_review(struct db *db, const char *payin, const char *out_id, const char *why)
{
	struct review rv = {
		.kind = REVIEW_PAYOUT_ORPHANED, .payment_id = payin, .reason = why, .payout_id = out_id,
	};

	return review_write(db, &rv);
}

static enum payout_result settle_once(struct db *db, const char *out_id, const struct payout_settlement *s,
                                      PGresult **row, struct payout_refusal *why, enum db_status *dbst)
{
	char request[72], payin[40];
	const char *p[1] = { out_id };
	PGresult *cur = NULL, *upd = NULL, *pin = NULL;
	enum payout_result result = PAYOUT_DB;
	bool found;

	*row = NULL;
	if ((*dbst = db_begin(db)) != DB_OK)
		return PAYOUT_DB;
	/* After this point, all errors should use goto out. */
	if ((*dbst = lock_out(db, out_id, request, payin, &found)) != DB_OK)
		goto out;
	if (!found) {
		result = PAYOUT_NOT_FOUND;
		goto out;
	}
	if ((*dbst = db_exec(db, &cur, "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1 FOR UPDATE",
	                     1, p)) != DB_OK)
		goto out;
	const char *status = PQgetvalue(cur, 0, PCOL_STATUS), *basis = PQgetvalue(cur, 0, POCOL_BASIS);
	bool release = is(PQgetvalue(cur, 0, POCOL_KIND), "release");
	if (is(status, "completed") || is(status, "failed") || is(status, "cancelled")) {
		bool same = s->completed ? is(status, "completed") &&
		                               (s->tx_hash == NULL || strcasecmp(s->tx_hash, PQgetvalue(cur, 0, PCOL_TX)) == 0)
		                         : !is(status, "completed");
		if (same) {
			*row = cur;
			cur = NULL;
			result = PAYOUT_EXISTS;
		} else {
			refuse(why, "invalid_state", "payout %s is already %s", out_id, status);
			result = PAYOUT_REFUSED;
		}
		goto out;
	}
	/* A failure found from an earlier read must not close a payout another request signed since. */
	if (!s->completed && s->if_pending && !is(status, "pending")) {
		refuse(why, "signed_meanwhile", "payout %s is %s: it was signed or sent meanwhile, and is followed from"
		       " that, not failed", out_id, status);
		result = PAYOUT_REFUSED;
		goto out;
	}
	/* A failure said while a transaction was being recorded for it: that transaction decides. */
	if (!s->completed && s->if_no_hash && !PQgetisnull(cur, 0, PCOL_TX)) {
		refuse(why, "transaction_recorded", "payout %s holds transaction %s: it is followed on the chain, not failed",
		       out_id, PQgetvalue(cur, 0, PCOL_TX));
		result = PAYOUT_REFUSED;
		goto out;
	}
	json_object *failure = json_object_new_object(), *fcode = json_object_new_object();
	json_object_object_add(fcode, "code", json_object_new_string(s->failure_code ? s->failure_code : "failed"));
	if (s->reason)
		json_object_object_add(fcode, "reason", json_object_new_string(s->reason));
	json_object_object_add(failure, "failure", fcode);
	const char *meta = json_object_to_json_string_ext(failure, JSON_C_TO_STRING_PLAIN);
	struct coord_change oc = {
		.status = s->completed ? "completed" : "failed",
		.escrow = s->completed ? (release ? "released" : "refunded") : NULL,
		.tx_hash = s->tx_hash, .replace_tx = true,
		.metadata = s->completed ? s->metadata : meta,
		.source = s->source, .actor = s->actor, .reason = s->reason, .request_id = s->request_id,
		.payout = true,
	};
	enum coord_result moved = coord_move(db, out_id, &oc, &upd, dbst);
	json_object_put(failure);
	switch (moved) {
	case COORD_APPLIED:
	case COORD_UNCHANGED:
		break;
	case COORD_TX_USED:
		result = PAYOUT_TX_USED;
		goto out;
	case COORD_BACKWARD:
		refuse(why, "invalid_state", "payout %s cannot move from %s", out_id, status);
		result = PAYOUT_REFUSED;
		goto out;
	default:
		goto out;
	}
	/* coord_move answers PAYMENT_COLUMNS; what follows needs the payout's own. */
	PQclear(upd);
	upd = NULL;
	if ((*dbst = reload(db, out_id, &upd)) != DB_OK)
		goto out;
	/* The pay-in whose escrow it was follows; excess and closed money leave it as it is. */
	struct coord_change ic = {
		.source = s->source, .actor = s->actor, .reason = s->reason, .request_id = s->request_id, .payout = true,
	};
	bool escrow = is(basis, "escrow"), partial = is(basis, "partial");
	if (s->completed && escrow) {
		ic.status = release ? "released" : "refunded";
	} else if (s->completed && partial) {
		ic.status = "cancelled";
		ic.escrow = "refunded";
	} else if (!s->completed && (escrow || partial)) {
		ic.escrow = escrow ? "funded" : "partial";
	}
	if (ic.status || ic.escrow) {
		enum coord_result r = coord_move(db, payin, &ic, &pin, dbst);
		if (r == COORD_BACKWARD)
			*dbst = needs_review(db, payin, out_id, s->completed ? "the payout completed, but the pay-in could not follow it"
			                                                      : "the payout failed, but the pay-in's escrow could not be handed back");
		else if (r != COORD_APPLIED && r != COORD_UNCHANGED && *dbst == DB_OK)
			*dbst = DB_FAILED;
		if (*dbst != DB_OK)
			goto out;
	}
	if (s->completed) {
		if ((escrow && (*dbst = request_follows(db, upd, release)) != DB_OK) ||
		    (*dbst = announce_completed(db, upd, release)) != DB_OK)
			goto out;
	} else {
		const char *e[4] = { out_id, payin, s->failure_code ? s->failure_code : "failed", s->reason };
		if ((*dbst = db_exec(db, NULL,
		                     "INSERT INTO events (event, room, payload, payment_id) VALUES"
		                     " ('payout-failed', 'admin', jsonb_build_object('payoutId', $1::text,"
		                     "  'paymentId', $2::text, 'code', $3::text, 'reason', $4::text), $1::uuid)",
		                     4, e)) != DB_OK)
			goto out;
		if (s->notify_admins &&
		    (*dbst = db_exec(db, NULL,
		                     "INSERT INTO notifications (user_id, kind, title, body, payment_id)"
		                     " VALUES ('admin', 'payout-failed', 'Payout failed',"
		                     "  'Payout ' || $1 || ' of payment ' || $2 || ' failed (' || $3 || ')'"
		                     "  || coalesce(': ' || $4, '') || '. Its escrow is funded again.', $1::uuid)",
		                     4, e)) != DB_OK)
			goto out;
	}
	if ((*dbst = db_commit(db)) != DB_OK)
		goto out;
	if (s->completed)
		log_info("payout %s completed by transaction %s", out_id, s->tx_hash ? s->tx_hash : "?");
	else
		log_error("payout %s failed (%s): %s", out_id, s->failure_code ? s->failure_code : "failed",
		          s->reason ? s->reason : "");
	*row = upd;
	upd = NULL;
	result = PAYOUT_DONE;
out:
	db_rollback(db);
	PQclear(cur);
	PQclear(upd);
	PQclear(pin);
	return result;
}

enum payout_result payout_settle(struct db *db, const char *out_id, const struct payout_settlement *s,
                                 PGresult **row, struct payout_refusal *why, enum db_status *dbst)
{
	enum payout_result r = PAYOUT_DB;

	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		r = settle_once(db, out_id, s, row, why, dbst);
		if (r != PAYOUT_DB || *dbst != DB_RETRY)
			break;
	}
	return r;
}

/* ---- payouts a provider sends ---- */

/* The outgoing payment locked (PAYOUT_COLUMNS), or refused when it is no longer in flight. */
static enum payout_result lock_in_flight(struct db *db, const char *out_id, char payin[40], PGresult **cur,
                                         struct payout_refusal *why, enum db_status *dbst)
{
	char request[72];
	const char *p[1] = { out_id };
	bool found;

	*cur = NULL;
	if ((*dbst = lock_out(db, out_id, request, payin, &found)) != DB_OK)
		return PAYOUT_DB;
	if (!found)
		return PAYOUT_NOT_FOUND;
	if ((*dbst = db_exec(db, cur, "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1 FOR UPDATE",
	                     1, p)) != DB_OK)
		return PAYOUT_DB;
	const char *status = PQgetvalue(*cur, 0, PCOL_STATUS);
	if (!is(status, "pending") && !is(status, "processing")) {
		refuse(why, "invalid_state", "payout %s is %s", out_id, status);
		return PAYOUT_REFUSED;
	}
	return PAYOUT_DONE;
}

static enum payout_result accept_once(struct db *db, const char *out_id, const struct payout_acceptance *a,
                                      PGresult **row, struct payout_refusal *why, enum db_status *dbst)
{
	char payin[40];
	PGresult *cur = NULL, *moved = NULL;
	enum payout_result result;

	*row = NULL;
	if ((*dbst = db_begin(db)) != DB_OK)
		return PAYOUT_DB;
	/* After this point, all errors should use goto out. */
	if ((result = lock_in_flight(db, out_id, payin, &cur, why, dbst)) != PAYOUT_DONE)
		goto out;
	result = PAYOUT_DB;
	const char *held = PQgetisnull(cur, 0, PCOL_PROVIDER_ID) ? NULL : PQgetvalue(cur, 0, PCOL_PROVIDER_ID);
	if (a->provider_id && held && strcmp(held, a->provider_id) != 0) {
		refuse(why, "provider_id_differs", "payout %s is already the provider's %s, not %s", out_id, held,
		       a->provider_id);
		result = PAYOUT_REFUSED;
		goto out;
	}
	if (a->provider_id && held == NULL) {
		const char *u[2] = { out_id, a->provider_id };
		*dbst = db_exec(db, NULL, "UPDATE payments SET provider_payment_id = $2, updated_at = now() WHERE id = $1", 2, u);
		if (*dbst == DB_UNIQUE) {
			refuse(why, "provider_id_used", "the provider's id %s already belongs to another payment", a->provider_id);
			result = PAYOUT_REFUSED;
			goto out;
		}
		if (*dbst != DB_OK)
			goto out;
	}
	struct coord_change c = {
		.status = "processing", .metadata = a->metadata, .source = a->source, .actor = a->actor,
		.reason = a->reason, .request_id = a->request_id, .payout = true,
	};
	switch (coord_move(db, out_id, &c, &moved, dbst)) {
	case COORD_APPLIED:
	case COORD_UNCHANGED:
		break;
	case COORD_BACKWARD:
		refuse(why, "invalid_state", "payout %s cannot be taken by the provider now", out_id);
		result = PAYOUT_REFUSED;
		goto out;
	default:
		goto out;
	}
	if ((*dbst = reload(db, out_id, row)) != DB_OK || (*dbst = db_commit(db)) != DB_OK)
		goto out;
	log_info("payout %s taken by its provider%s%s", out_id, a->provider_id ? " as " : "",
	         a->provider_id ? a->provider_id : "");
	result = PAYOUT_DONE;
out:
	db_rollback(db);
	if (result != PAYOUT_DONE) {
		PQclear(*row);
		*row = NULL;
	}
	PQclear(cur);
	PQclear(moved);
	return result;
}

enum payout_result payout_accept(struct db *db, const char *out_id, const struct payout_acceptance *a,
                                 PGresult **row, struct payout_refusal *why, enum db_status *dbst)
{
	enum payout_result r = PAYOUT_DB;

	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		r = accept_once(db, out_id, a, row, why, dbst);
		if (r != PAYOUT_DB || *dbst != DB_RETRY)
			break;
	}
	return r;
}

static enum payout_result hold_once(struct db *db, const char *out_id, const struct payout_hold *h,
                                    struct payout_refusal *why, enum db_status *dbst)
{
	char payin[40];
	PGresult *cur = NULL, *moved = NULL;
	enum payout_result result;

	if ((*dbst = db_begin(db)) != DB_OK)
		return PAYOUT_DB;
	/* After this point, all errors should use goto out. */
	if ((result = lock_in_flight(db, out_id, payin, &cur, why, dbst)) != PAYOUT_DONE)
		goto out;
	result = PAYOUT_DB;
	bool release = is(PQgetvalue(cur, 0, POCOL_KIND), "release");
	const char *away = release ? "releasing" : "refunding";
	struct coord_change c = {
		.escrow = h->hold ? "on_hold" : away, .source = h->source, .actor = h->actor,
		.reason = h->hold ? "the provider holds the payout's transfer for review" : "the provider let the payout go on",
		.request_id = h->request_id, .payout = true,
	};
	switch (coord_move(db, payin, &c, &moved, dbst)) {
	case COORD_APPLIED:
		break;
	case COORD_UNCHANGED:
		result = PAYOUT_EXISTS;
		goto out;
	case COORD_BACKWARD:
		refuse(why, "invalid_state", "the escrow of payment %s cannot be %s now", payin, h->hold ? "held" : "let go");
		result = PAYOUT_REFUSED;
		goto out;
	default:
		goto out;
	}
	if (h->hold) {
		struct review rv = {
			.kind = REVIEW_PAYOUT_HELD, .payment_id = payin, .reason = h->reason,
			.status = PQgetvalue(moved, 0, PCOL_STATUS), .escrow = PQgetvalue(moved, 0, PCOL_ESCROW),
			.provider = h->provider, .provider_status = h->provider_status, .delivery_id = h->delivery_id,
			.purchase_request_id = PQgetvalue(cur, 0, PCOL_REQUEST), .payout_id = out_id,
		};
		if ((*dbst = review_write(db, &rv)) != DB_OK)
			goto out;
	}
	if ((*dbst = db_commit(db)) != DB_OK)
		goto out;
	log_warn("payout %s: escrow of payment %s %s", out_id, payin, h->hold ? "held by the provider" : "no longer held");
	result = PAYOUT_DONE;
out:
	db_rollback(db);
	PQclear(cur);
	PQclear(moved);
	return result;
}

enum payout_result payout_set_hold(struct db *db, const char *out_id, const struct payout_hold *h,
                                   struct payout_refusal *why, enum db_status *dbst)
{
	enum payout_result r = PAYOUT_DB;

	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		r = hold_once(db, out_id, h, why, dbst);
		if (r != PAYOUT_DB || *dbst != DB_RETRY)
			break;
	}
	return r;
}

static enum db_status review_once(struct db *db, const char *out_id, const struct payout_finding *f)
{
	char request[72], payin[40];
	const char *p[1] = { out_id };
	PGresult *cur = NULL;
	enum db_status st;
	bool found;

	if ((st = db_begin(db)) != DB_OK)
		return st;
	/* After this point, all errors should use goto out. */
	if ((st = lock_out(db, out_id, request, payin, &found)) != DB_OK)
		goto out;
	if (!found) {
		st = DB_FAILED;
		goto out;
	}
	/* The pay-in as it is under the lock: what the admins see with the finding. */
	const char *ip[1] = { payin };
	if ((st = db_exec(db, &cur, "SELECT status, escrow_state FROM payments WHERE id = $1", 1, ip)) != DB_OK)
		goto out;
	struct review rv = {
		.kind = f->kind, .payment_id = payin, .reason = f->reason,
		.status = PQgetvalue(cur, 0, 0), .escrow = PQgetvalue(cur, 0, 1),
		.provider = f->provider, .provider_status = f->provider_status, .seen_crypto = f->amount_seen,
		.crypto = f->crypto, .tx_hash = f->tx_hash, .delivery_id = f->delivery_id,
		.purchase_request_id = request, .payout_id = p[0],
	};
	if ((st = review_write(db, &rv)) != DB_OK)
		goto out;
	if (f->delivery_id > 0 && f->inbox_outcome &&
	    (st = inbox_finish(db, f->delivery_id, f->inbox_outcome, out_id, f->reason)) != DB_OK)
		goto out;
	st = db_commit(db);
out:
	db_rollback(db);
	PQclear(cur);
	return st;
}

enum db_status payout_review(struct db *db, const char *out_id, const struct payout_finding *f)
{
	enum db_status st = DB_FAILED;

	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		st = review_once(db, out_id, f);
		if (st != DB_RETRY)
			break;
	}
	return st;
}
