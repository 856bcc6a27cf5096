#include "pay/cascade.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "pay/payment.h"
#include "pay/review.h"

/* What the buyer ($4) and the seller ($5) are told of a funded payment: payment id $1, request $2, offer $3. */
#define PARTY_NOTIFICATIONS \
	"($4, 'payment-confirmed', 'Payment received'," \
	" 'Your payment for request ' || $2 || ' is confirmed and held in escrow.')," \
	"($5, 'payment-confirmed', 'Order paid'," \
	" 'The buyer''s payment for request ' || $2 || ' is held in escrow: start preparing.')," \
	"($5, 'offer-accepted', 'Offer accepted', 'Your offer ' || $3 || ' was accepted.')"

static enum db_status notify_parties(struct db *db, const char *const *p)
{
	/* p: payment id, request id, offer id, buyer id, seller id */
	return db_exec(db, NULL,
	               "INSERT INTO notifications (user_id, kind, title, body, payment_id)"
	               " SELECT u, k, t, b, $1::uuid FROM (VALUES " PARTY_NOTIFICATIONS ") AS n (u, k, t, b)"
	               " WHERE u IS NOT NULL", 5, p);
}

/*
 * A template checkout has no marketplace rows to move: the template's seller
 * (the payment's, taken from the template when the intent was made) is told
 * what was paid for, by the template's title.
 */
static enum db_status template_checkout(struct db *db, const char *const *p)
{
	/* p: payment id, request id (template-checkout-<template>), offer id (the template), buyer, seller */
	enum db_status st = db_exec(db, NULL,
	               "INSERT INTO notifications (user_id, kind, title, body, payment_id)"
	               " SELECT u, k, t, b, $1::uuid FROM (SELECT coalesce((SELECT '\"' || title || '\"'"
	               "   FROM checkout_templates WHERE id::text = $3), 'request ' || $2) AS what) AS w,"
	               " LATERAL (VALUES"
	               "  ($4, 'payment-confirmed', 'Payment received',"
	               "   'Your payment for ' || w.what || ' is confirmed and held in escrow.'),"
	               "  ($5, 'payment-confirmed', 'Order paid',"
	               "   'The buyer''s payment for ' || w.what || ' is held in escrow: start preparing.'))"
	               "  AS n (u, k, t, b)"
	               " WHERE u IS NOT NULL", 5, p);
	const char *e[3] = { p[0], p[1], p[3] };    /* payment, session (request id), buyer */

	if (st == DB_OK)
		st = db_exec(db, NULL,
		             "INSERT INTO events (event, room, payload, payment_id) VALUES"
		             " ('template-checkout-payment-confirmed', 'user:' || $3,"
		             "  jsonb_build_object('paymentId', $1::text, 'sessionId', $2::text), $1::uuid)",
		             3, e);
	return st;
}

enum db_status cascade_funded(struct db *db, const PGresult *payment)
{
	const char *payment_id = PQgetvalue(payment, 0, PCOL_ID);
	const char *request = PQgetvalue(payment, 0, PCOL_REQUEST);
	const char *offer = PQgetisnull(payment, 0, PCOL_OFFER) ? NULL : PQgetvalue(payment, 0, PCOL_OFFER);
	const char *buyer = PQgetvalue(payment, 0, PCOL_BUYER);
	const char *seller = PQgetisnull(payment, 0, PCOL_SELLER) ? NULL : PQgetvalue(payment, 0, PCOL_SELLER);
	const char *p[5] = { payment_id, request, offer, buyer, seller };
	PGresult *req = NULL;
	enum db_status st;

	if (strncmp(request, TEMPLATE_CHECKOUT_PREFIX, strlen(TEMPLATE_CHECKOUT_PREFIX)) == 0)
		return template_checkout(db, p);

	/* Why the request does not take this payment, or NULL when it does. */
	st = db_exec(db, &req,
	             "SELECT r.status, CASE"
	             "  WHEN r.buyer_id <> $2 THEN 'the request is another buyer''s'"
	             "  WHEN r.status NOT IN ('open', 'offers') THEN 'the request is ' || r.status"
	             "  WHEN o.id IS NULL THEN 'the offer is not on the request'"
	             "  WHEN o.status NOT IN ('pending', 'accepted') THEN 'the offer is ' || o.status"
	             "  WHEN o.seller_id <> $5 THEN 'the offer is another seller''s'"
	             "  WHEN o.amount <> $4::numeric THEN 'the offer is priced ' || o.amount || ', the payment '"
	             "   || $4 END"
	             " FROM purchase_requests r"
	             " LEFT JOIN seller_offers o ON o.id = $3 AND o.purchase_request_id = r.id"
	             " WHERE r.id = $1 FOR UPDATE OF r", 5,
	             (const char *const[]){ request, buyer, offer, PQgetvalue(payment, 0, PCOL_AMOUNT), seller });
	if (st != DB_OK)
		return st;
	/*
	 * The money is real whatever the marketplace rows say: the payment stays
	 * funded and the buyer hears of it. But a request that is not this
	 * buyer's or is already paid, an offer that is not on it, not open, from
	 * another seller than the one this payment pays, or priced otherwise, is
	 * not rearranged on this payment's word, and no seller is told to deliver
	 * on it (nor that an offer was accepted, which it was not): an admin
	 * event says a person must look.
	 */
	if (PQntuples(req) == 0 || !PQgetisnull(req, 0, 1)) {
		const char *buyer_only[5] = { payment_id, request, offer, buyer, NULL };
		char reason[256];

		snprintf(reason, sizeof(reason),
		         "funded for a request that does not take it (%s): match the money to an order or return it",
		         PQntuples(req) ? PQgetvalue(req, 0, 1) : "no such request");
		log_error("payment %s funded, but purchase request %s does not take it (%s): left for an admin",
		          payment_id, request, PQntuples(req) ? PQgetvalue(req, 0, 1) : "no such request");
		PQclear(req);
		st = notify_parties(db, buyer_only);
		struct review rv = {
			.kind = REVIEW_REQUEST_MISMATCH, .payment_id = payment_id, .purchase_request_id = request,
			.reason = reason,
			.status = PQgetvalue(payment, 0, PCOL_STATUS), .escrow = PQgetvalue(payment, 0, PCOL_ESCROW),
			.provider = PQgetvalue(payment, 0, PCOL_PROVIDER),
		};
		if (st == DB_OK)
			st = review_write(db, &rv);
		return st;
	}
	const char *q[6] = { payment_id, request, offer, buyer, seller, PQgetvalue(req, 0, 0) };
	/*
	 * One statement: the paid offer accepted and its pending rivals rejected
	 * by one update, the request moved to payment, the events (the offers',
	 * then the request's and the chat's) and both parties' notifications.
	 * Each part sees the rows as they were before the statement; none reads
	 * another's changes but the offers' events, from what the update returns.
	 * It is sent ahead: the coordinator's next statement answers for it.
	 */
	st = db_defer(db,
	              "WITH offers AS ("
	              "  UPDATE seller_offers SET updated_at = now(),"
	              "   status = CASE WHEN id = $3 THEN 'accepted' ELSE 'rejected' END"
	              "  WHERE purchase_request_id = $2 AND (id = $3 OR status = 'pending')"
	              "  RETURNING id, seller_id, status),"
	              " request AS ("
	              "  UPDATE purchase_requests SET status = 'payment', selected_offer_id = $3, updated_at = now()"
	              "  WHERE id = $2),"
	              " ev AS ("
	              "  INSERT INTO events (event, room, payload, payment_id)"
	              "  SELECT e.event, e.room, e.payload, $1::uuid FROM ("
	              "   SELECT 'seller-offer-update' AS event, 1 AS part, status AS sub, id AS offer,"
	              "    'user:' || seller_id AS room,"
	              "    CASE WHEN status = 'accepted'"
	              "     THEN jsonb_build_object('eventType', 'payment-completed', 'offerId', id,"
	              "      'purchaseRequestId', $2::text, 'paymentId', $1::text)"
	              "     ELSE jsonb_build_object('eventType', 'offer-rejected', 'offerId', id,"
	              "      'purchaseRequestId', $2::text, 'reason', 'another offer was paid for') END AS payload"
	              "   FROM offers"
	              "   UNION ALL SELECT 'purchase-request-update', 2, '', '', 'request:' || $2,"
	              "    jsonb_build_object('eventType', 'status-changed', 'purchaseRequestId', $2::text,"
	              "     'from', $6::text, 'to', 'payment', 'selectedOfferId', $3::text)"
	              "   UNION ALL SELECT 'chat-requested', 3, '', '', 'service:chat',"
	              "    jsonb_build_object('purchaseRequestId', $2::text, 'buyerId', $4::text,"
	              "     'sellerId', $5::text, 'paymentId', $1::text)) AS e"
	              "  ORDER BY e.part, e.sub, e.offer)"
	              " INSERT INTO notifications (user_id, kind, title, body, payment_id)"
	              " SELECT u, k, t, b, $1::uuid FROM (VALUES " PARTY_NOTIFICATIONS ") AS n (u, k, t, b)"
	              " WHERE u IS NOT NULL",
	              6, q);
	PQclear(req);
	return st;
}
