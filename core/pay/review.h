/* review: money the service sees but does not act on reaches a person: a
 * `payment-needs-review` event in the `admin` room and a notification for
 * the admins (user `admin`), both written inside the caller's open
 * transaction, the one that records what was decided, so neither exists
 * without the other. The list is GET /admin/events?event=payment-needs-review.
 *
 * The same finding (payment, kind, amount seen) is written once: a provider
 * repeating its callback, or an admin replaying it, adds nothing. The chain's
 * own findings are one per transaction: the watcher reading a block again
 * adds nothing, another transaction is another finding.
 */
#ifndef PAY_REVIEW_H
#define PAY_REVIEW_H

#include "base/db.h"

/* Why a person must look; the payload's `kind`. */
enum review_kind {
	REVIEW_PAID_ON_CLOSED,      /* a deposit reported for a failed or cancelled payment */
	REVIEW_PARTIAL_CLOSED,      /* a payment holding a partial deposit was failed or cancelled */
	REVIEW_REFUTED,             /* the provider says paid, the check refutes it */
	REVIEW_OVERPAID,            /* more than the invoice asked: the excess is held */
	REVIEW_TX_USED,             /* the transaction reported already pays another payment */
	REVIEW_REQUEST_MISMATCH,    /* funded for a purchase request that does not take it */
	REVIEW_INVOICE_TAKEN,       /* the provider gave an invoice another payment already holds */
	REVIEW_PAYOUT_ORPHANED,     /* a payout settled, but its pay-in could not follow it */
	REVIEW_PAYOUT_AMBIGUOUS,    /* transfers on chain could each be a stuck payout's: none is guessed */
	REVIEW_PAYOUT_REFUTED,      /* a provider says a payout was sent; the chain says it does not pay it */
	REVIEW_PAYOUT_HELD,         /* a provider holds a payout's transfer for review */
	REVIEW_PAYOUT_CONTRADICTED, /* a provider's word about a payout the service settled otherwise */
	REVIEW_UNKNOWN_INVOICE,     /* money reported for an invoice no payment holds (no payment_id) */
	REVIEW_DEPOSIT_UNPLACED,    /* a buyer's transfer to the escrow that none of the wallet's pay-ins takes */
};

struct review {
	enum review_kind kind;
	const char *payment_id;      /* NULL: money no payment holds (the reason names what it is for) */
	const char *reason;          /* a sentence for a person */
	const char *status;          /* the payment's status and escrow after the decision */
	const char *escrow;
	/* What the provider reported, each may be NULL. */
	const char *provider;
	const char *provider_status;
	const char *seen_crypto;     /* amount received, in the crypto named by crypto */
	const char *crypto;
	const char *seen_fiat;       /* the same in fiat */
	const char *fiat;
	const char *overpaid_fiat;
	const char *tx_hash;
	long long delivery_id;       /* the webhook_inbox row, 0 for none */
	const char *purchase_request_id;
	const char *invoice_id;      /* the provider's invoice it is about, or NULL */
	const char *other_payment_id;    /* a payment that already holds what this one was given, or NULL */
	const char *payout_id;      /* the outgoing payment it is about, or NULL */
};

const char *review_kind_name(enum review_kind kind);

/* Writes the event and the notification (once per finding). A transaction must be open. */
enum db_status review_write(struct db *db, const struct review *r);

/*
 * An admin's override moved payment `id` to `status` by decree, for
 * `reason`: the event (kind admin_override, with the actor) and the
 * notification, every time, in the override's own transaction.
 */
enum db_status review_override(struct db *db, const char *id, const char *reason, const char *actor,
                               const char *status);

#endif
