#ifndef PAY_COORD_H
#define PAY_COORD_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "base/db.h"

/*
 * The coordinator: the one function through which every change of a payment
 * passes, whatever its source (admin, provider webhook, chain check, job).
 * One transaction: advisory locks in a fixed order (purchase request, then
 * payment), the row locked, the move checked, the row updated, an audit row
 * and the outbox events written, commit. A move backwards changes nothing
 * and says so, so late or repeated events are harmless.
 */

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
	/* A move an outgoing payment makes (pay/payout.c): also allows the
	 * escrow's returns, payment_escrow_allows_payout(). */
	bool payout;
	/* An admin's override: when the move applies, a payment-needs-review
	 * event with this reason goes to the admins in the same transaction. */
	const char *review;
};

enum coord_result {
	COORD_APPLIED,              /* changed and committed */
	COORD_UNCHANGED,            /* already in that state: nothing written */
	COORD_BACKWARD,             /* the move is not allowed: nothing written */
	COORD_NOT_FOUND,
	COORD_TX_USED,              /* the hash already pays another payment */
	COORD_DB,                   /* database error; see *dbst */
};

/*
 * Applies `change` to payment `id`. On COORD_APPLIED and COORD_UNCHANGED,
 * *row (if row is not NULL) is the payment's PAYMENT_COLUMNS row after the
 * change; the caller PQclear()s it. On COORD_BACKWARD it is the current row.
 */
enum coord_result coord_apply(struct db *db, const char *id, const struct coord_change *change,
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
