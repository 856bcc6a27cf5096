/* coord: the coordinator: the one function through which every change of a payment
 * passes, whatever its source (admin, provider webhook, chain check, job).
 * One transaction: advisory locks in a fixed order (purchase request, then
 * payment), the row locked, the move checked, the row updated, an audit row
 * and the outbox events written, commit. A move backwards changes nothing
 * and says so, so late or repeated events are harmless.
 */
#ifndef PAY_COORD_H
#define PAY_COORD_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "base/db.h"

/*
 * Namespaces of the two-int advisory lock keys (namespace, hashtext(key)),
 * all transaction-scoped. The coordinator takes REQUEST then PAYMENT; the
 * pay-in intents take PAYIN on "<buyer>/<request>/<provider>" so a duplicate
 * check and its insert cannot interleave.
 */
#define LOCK_NS_REQUEST "1"
#define LOCK_NS_PAYMENT "2"
#define LOCK_NS_PAYIN "3"
/* A hot wallet's nonces: "<chain id>:<address>" (flow/hotwallet.c). */
#define LOCK_NS_HOT_WALLET "4"

/*
 * A provider's delivery that a change comes from. Its inbox outcome is
 * written in the change's own transaction, decided from the payment row as
 * it is under the lock, never from an earlier read; so is a
 * payment-needs-review (pay/review.h) when the money it reports is left for
 * a person: a deposit on a failed or cancelled payment (nothing moves, the
 * delivery is finished as 'review' and can be replayed), an overpayment, a
 * claim refuted by a check (`refuted`), a transaction that pays another
 * payment. A move to failed or cancelled of a payment holding a partial
 * deposit is reviewed whatever its source.
 */
struct coord_delivery {
	long long inbox_id;         /* the webhook_inbox row to finish; 0: a finding of a job (no row) */
	const char *provider;       /* webhook_inbox.provider, e.g. shkeeper */
	const char *provider_status;    /* as the provider said it: PAID, PARTIAL, EXPIRED, … */
	/* What the provider reports received, each may be NULL. */
	const char *seen_crypto, *crypto, *seen_fiat, *fiat;
	bool overpaid;              /* it reports more than the invoice asked */
	const char *overpaid_fiat;  /* the excess it reports (SHKeeper: beyond its upper limit, not the price), or NULL */
	const char *refuted;        /* set: the claim does not hold up (why); nothing moves */
	const char *note;           /* what the caller's own check found: the detail when the coordinator adds none */
	/* Written by the coordinator when it returns anything but COORD_DB or COORD_NOT_FOUND. */
	const char *outcome;        /* the outcome recorded in the inbox */
	char detail[300];
	bool review;                /* a payment-needs-review was written with it */
};

struct coord_change {
	const char *status;         /* new status, or NULL to keep it */
	const char *escrow;         /* new escrow state, or NULL: follows the status */
	const char *tx_hash;        /* transaction hash to record, or NULL; see replace_tx */
	bool replace_tx;            /* replace a recorded hash even when the state does not move */
	const char *metadata;       /* JSON object merged into metadata, or NULL */
	const char *source;         /* payment_transitions.source: api, admin, shkeeper, … */
	const char *actor;          /* who asked: a user id or a provider name */
	const char *reason;         /* free text for the audit row, may be NULL */
	const char *request_id;
	/*
	 * A precondition checked under the row lock: the change is made only
	 * while the escrow is in this state (e.g. "unfunded": a cleanup never
	 * cancels a payment that has received money), else COORD_SKIPPED.
	 */
	const char *if_escrow;
	/*
	 * Likewise for the recorded transaction, for a change decided on a row
	 * read before the lock: made only while the payment still records this
	 * one ("" for none) or the change's own, else COORD_SKIPPED. NULL: no
	 * precondition.
	 */
	const char *if_tx_was;
	struct coord_delivery *delivery;    /* the delivery it comes from, or NULL */
	/* A move an outgoing payment makes (pay/payout.c): also allows the
	 * escrow's returns, payment_escrow_allows_payout(). */
	bool payout;
	/* An admin's override: when the move applies, a payment-needs-review
	 * event with this reason goes to the admins in the same transaction. */
	const char *review;
};

enum coord_result {
	COORD_APPLIED,              /* changed and committed */
	COORD_UNCHANGED,            /* already in that state: no change written */
	COORD_BACKWARD,             /* the move is not allowed: no change written */
	COORD_NOT_FOUND,
	COORD_TX_USED,              /* the hash already pays another payment */
	COORD_SKIPPED,              /* the precondition (if_escrow) does not hold: nothing written */
	COORD_DB,                   /* database error; see *dbst */
};

/*
 * Applies `change` to payment `id`. On COORD_APPLIED and COORD_UNCHANGED,
 * *row (if row is not NULL) is the payment's PAYMENT_COLUMNS row after the
 * change; the caller PQclear()s it. On COORD_BACKWARD and COORD_SKIPPED it is
 * the current row. With a delivery, COORD_UNCHANGED, COORD_BACKWARD and
 * COORD_TX_USED also commit: the delivery's outcome (and any review).
 */
enum coord_result coord_apply(struct db *db, const char *id, const struct coord_change *change,
                              PGresult **row, enum db_status *dbst);

/*
 * coord_apply() inside a transaction the caller opened and commits, so a
 * delivery stored in that transaction is applied and finished with one
 * commit: the same locks, checks and writes, no retry. On COORD_DB the
 * transaction may be aborted: the caller rolls back to a savepoint taken
 * before, and may try again from there when *dbst is DB_RETRY. Nothing is
 * done after the commit, so the caller logs what it committed.
 */
enum coord_result coord_apply_in(struct db *db, const char *id, const struct coord_change *change,
                                 PGresult **row, enum db_status *dbst);

/*
 * Records a new payment inside the caller's open transaction: its first
 * audit row (to pending, unfunded) and the payment-created events for the
 * buyer, the purchase request's room and the global room. `row` is the
 * inserted PAYMENT_COLUMNS row.
 */
enum db_status coord_created(struct db *db, const PGresult *row, const char *source,
                             const char *actor, const char *reason, const char *request_id);

/*
 * Moves that change several rows at once (an outgoing payment and its
 * pay-in, pay/payout.c) run inside one transaction the caller opens, with
 * the same locks in the same order: coord_lock() takes the purchase
 * request's, then each payment's in the order given (the pay-in before its
 * outgoing payment). Inside it, coord_move() is coord_apply() without the
 * transaction and without the funding cascade: the row locked, the move
 * checked, the row updated, the audit row and the events written
 * (payment-update to the buyer for a pay-in, payment-status to the admin
 * room for every move). On COORD_TX_USED and COORD_DB the transaction is
 * lost: the caller rolls back.
 */
enum db_status coord_lock(struct db *db, const char *request_id, const char *const *payment_ids,
                          size_t n);
enum coord_result coord_move(struct db *db, const char *id, const struct coord_change *change,
                             PGresult **row, enum db_status *dbst);
/*
 * The first audit row and the payment-status admin event of a payment the
 * caller just inserted in its own state (an outgoing payment starts as
 * pending with its escrow releasing or refunding).
 */
enum db_status coord_recorded(struct db *db, const PGresult *row, const char *source,
                              const char *actor, const char *reason, const char *request_id);

#endif
