#include "pay/review.h"

#include <stdio.h>

#include "base/log.h"

const char *review_kind_name(enum review_kind kind)
{
	switch (kind) {
	case REVIEW_PAID_ON_CLOSED: return "deposit_on_closed_payment";
	case REVIEW_PARTIAL_CLOSED: return "partial_deposit_on_closed_payment";
	case REVIEW_REFUTED: return "refuted";
	case REVIEW_OVERPAID: return "overpaid";
	case REVIEW_TX_USED: return "transaction_pays_another_payment";
	case REVIEW_REQUEST_MISMATCH: return "request_does_not_take_it";
	case REVIEW_INVOICE_TAKEN: return "invoice_held_by_another_payment";
	case REVIEW_PAYOUT_ORPHANED: return "payout_not_followed";
	case REVIEW_PAYOUT_AMBIGUOUS: return "payout_ambiguous";
	case REVIEW_PAYOUT_REFUTED: return "payout_refuted";
	case REVIEW_PAYOUT_HELD: return "payout_on_hold";
	case REVIEW_PAYOUT_CONTRADICTED: return "payout_contradicted";
	case REVIEW_UNKNOWN_INVOICE: return "deposit_for_unknown_invoice";
	case REVIEW_DEPOSIT_UNPLACED: return "deposit_unplaced";
	}
	return "unknown";
}

enum db_status review_write(struct db *db, const struct review *r)
{
	char delivery[24];

	/* The finding and the decision it is about commit together, or neither does. */
	if (!db->in_tx) {
		log_error("review of payment %s written outside a transaction: refused", r->payment_id ? r->payment_id : "-");
		return DB_FAILED;
	}
	snprintf(delivery, sizeof(delivery), "%lld", r->delivery_id);
	const char *p[18] = { r->payment_id, review_kind_name(r->kind), r->reason, r->status, r->escrow,
	                      r->provider, r->provider_status, r->seen_crypto, r->crypto, r->seen_fiat,
	                      r->fiat, r->overpaid_fiat, r->tx_hash, r->delivery_id > 0 ? delivery : NULL,
	                      r->purchase_request_id, r->invoice_id, r->other_payment_id, r->payout_id };
	log_warn("payment %s needs review (%s): %s", r->payment_id ? r->payment_id : "-", p[1], r->reason);
	return db_exec(db, NULL,
	               "WITH r AS (SELECT jsonb_strip_nulls(jsonb_build_object("
	               "   'paymentId', $1::text, 'kind', $2::text, 'reason', $3::text, 'status', $4::text,"
	               "   'escrowState', $5::text, 'provider', $6::text, 'providerStatus', $7::text,"
	               "   'amountSeen', CASE WHEN $8::text IS NOT NULL OR $10::text IS NOT NULL THEN"
	               "     jsonb_build_object('crypto', $8::text, 'cryptoName', $9::text,"
	               "                        'fiat', $10::text, 'fiatCurrency', $11::text) END,"
	               "   'overpaidFiat', $12::text, 'transactionHash', $13::text, 'deliveryId', $14::bigint,"
	               "   'purchaseRequestId', $15::text, 'invoiceId', $16::text,"
	               "   'otherPaymentId', $17::text, 'payoutId', $18::text)) AS payload),"
	               " ev AS ("
	               "  INSERT INTO events (event, room, payload, payment_id)"
	               "  SELECT 'payment-needs-review', 'admin', r.payload, $1::uuid FROM r"
	               "  WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.payment_id IS NOT DISTINCT FROM $1::uuid"
	               "   AND e.event = 'payment-needs-review' AND e.payload->>'kind' = $2::text"
	               /* Without a payment, the reason says what the money is for. */
	               "   AND ($1::uuid IS NOT NULL OR e.payload->>'reason' = $3::text)"
	               "   AND e.payload->'amountSeen' IS NOT DISTINCT FROM r.payload->'amountSeen'"
	               /* The chain's own findings are one per transaction; a provider's, one per figure it reports. */
	               "   AND (r.payload->>'provider' IS DISTINCT FROM 'chain'"
	               "        OR e.payload->'transactionHash' IS NOT DISTINCT FROM r.payload->'transactionHash'))"
	               "  RETURNING id)"
	               " INSERT INTO notifications (user_id, kind, title, body, payment_id)"
	               " SELECT 'admin', 'payment-needs-review', 'Payment needs review',"
	               "  coalesce('Payment ' || $1::text || ': ', '') || $3::text, $1::uuid FROM ev",
	               18, p);
}

enum db_status review_override(struct db *db, const char *id, const char *reason, const char *actor,
                               const char *status)
{
	const char *p[4] = { id, reason, actor, status };

	if (!db->in_tx) {
		log_error("override review of payment %s written outside a transaction: refused", id);
		return DB_FAILED;
	}
	log_warn("payment %s moved to %s by %s's override: %s", id, status, actor, reason);
	return db_exec(db, NULL,
	               "WITH ev AS (INSERT INTO events (event, room, payload, payment_id) VALUES"
	               " ('payment-needs-review', 'admin', jsonb_build_object('paymentId', $1::text,"
	               "  'kind', 'admin_override', 'reason', $2::text, 'actor', $3::text, 'status', $4::text,"
	               "  'override', true), $1::uuid) RETURNING id)"
	               " INSERT INTO notifications (user_id, kind, title, body, payment_id)"
	               " SELECT 'admin', 'payment-needs-review', 'Payment needs review',"
	               "  'Payment ' || $1::text || ' moved to ' || $4::text || ' by ' || $3::text || ': ' || $2::text,"
	               "  $1::uuid FROM ev",
	               4, p);
}
