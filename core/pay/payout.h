/* payout: outgoing payments, the escrow's exit.
 *
 * A release (to the seller) or a refund (to the buyer) is an outgoing payment:
 * a payments row with direction 'out', a kind, a provider (admin_wallet,
 * hot_wallet, shkeeper, bvnk) and a link to the pay-in whose money it pays
 * out. Its recipient, amount, token and the wallet it must come from
 * (sender_address) are a snapshot taken when it is opened.
 *
 * Which money: `basis` escrow is a funded pay-in's escrow (release or refund);
 * a refund may also pay back what a partly paid pay-in received (partial), an
 * overpayment's excess (excess), or money that arrived for a failed or
 * cancelled pay-in (closed). One outgoing payment is active per pay-in, kind
 * and basis (unique index payments_one_active_outgoing): opening it again
 * returns the one that exists.
 *
 * Every change goes through the coordinator (pay/coord.h) inside one
 * transaction, with its locks (purchase request, pay-in, outgoing payment):
 *
 *   payout_open      preconditions checked under the locks, the row inserted,
 *                    the pay-in's escrow funded -> releasing (or refunding);
 *   payout_record    a transaction hash seen for it: pending -> processing
 *                    (with an optional step run inside the same transaction,
 *                    which the hot wallet uses to sign and store its
 *                    transaction before anything is broadcast);
 *   payout_settle    completed: outgoing completed, the pay-in released (or
 *                    refunded), the purchase request seller_paid then
 *                    completed (or refunded), the recipient notified, events
 *                    payment-status, payout-completed, purchase-request-update;
 *                    failed: outgoing failed, the pay-in's escrow back to
 *                    funded, a payout-failed event for the admins.
 *
 * Payouts a provider sends (SHKeeper, BVNK) add three moves, each under the
 * same locks:
 *
 *   payout_accept    the provider took it: its id (SHKeeper's task, BVNK's
 *                    uuid) recorded, pending -> processing;
 *   payout_set_hold  the provider holds the transfer for review: the pay-in's
 *                    escrow releasing -> on_hold, with a payment-needs-review
 *                    event and an admin notification; or lets it go on
 *                    (on_hold -> releasing);
 *   payout_review    a provider's claim no rule can apply (a transfer that
 *                    does not pay the payout, a provider contradicting a
 *                    settled payout): the finding for a person, written with
 *                    the delivery's inbox outcome, nothing moved.
 */
#ifndef PAY_PAYOUT_H
#define PAY_PAYOUT_H

#include <stdbool.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "base/db.h"
#include "pay/payment.h"
#include "pay/review.h"

/* PAYMENT_COLUMNS and what only outgoing payments have. */
#define PAYOUT_COLUMNS PAYMENT_COLUMNS ", p.kind, p.payin_id::text, p.basis"
enum { POCOL_KIND = 29, POCOL_PAYIN = 30, POCOL_BASIS = 31 };

/* payment_write() with kind, payinId and basis; payout_json() as payment_json(). */
void payout_write(struct buf *b, const PGresult *res, int row);
json_object *payout_json(const PGresult *res, int row);

/* Where a recipient came from: the registered wallet, or an admin's entry (with a reason). */
#define RECIPIENT_SELLER_WALLET "seller_wallet"
#define RECIPIENT_BUYER_WALLET "buyer_wallet"
#define RECIPIENT_ADMIN "admin"

struct payout_request {
	const char *payin_id;
	const char *kind;               /* release | refund */
	const char *basis;              /* escrow | partial | excess | closed */
	const char *provider;           /* admin_wallet | hot_wallet | shkeeper | bvnk */
	const char *recipient;          /* checked (flow/outgoing.h) */
	const char *recipient_source;   /* RECIPIENT_* */
	const char *amount;             /* token units, decimal text */
	const char *token;              /* the token's symbol */
	const char *sender;             /* the wallet the transfer must come from, or NULL */
	const char *reason;             /* the admin's reason; required with RECIPIENT_ADMIN */
	const char *metadata;           /* a JSON object stored with it, or NULL */
	const char *actor;
	const char *request_id;
	const char *source;             /* the audit's source: NULL is an admin's request, "job" the jobs process's */
	/*
	 * An automatic release (jobs/autorelease.c): opened only while, under
	 * the locks, its purchase request has been delivered at least this many
	 * hours and carries no dispute. 0: an admin's request, no such condition.
	 */
	int auto_release_grace_hours;
};

enum payout_result {
	PAYOUT_DONE,        /* opened, recorded or settled now */
	PAYOUT_EXISTS,      /* open: one is already active (returned); settle: already so */
	PAYOUT_REFUSED,     /* preconditions not met: code and message say which (409) */
	PAYOUT_NOT_FOUND,
	PAYOUT_TX_USED,     /* the hash already pays another payment */
	PAYOUT_DB,          /* see dbst */
};

struct payout_refusal {
	char code[40];
	char message[320];
};

/* The pay-in's row (PAYMENT_COLUMNS, row 0) must be the one payin_id names. On
 * PAYOUT_DONE and PAYOUT_EXISTS *row is the outgoing payment (PAYOUT_COLUMNS). */
enum payout_result payout_open(struct db *db, const struct payout_request *rq, PGresult **row,
                               struct payout_refusal *why, enum db_status *dbst);

/*
 * Runs inside payout_record's transaction once the locks are held and the
 * outgoing payment is checked to be pending with no hash: returns DB_OK with
 * tx_hash filled to record it, DB_OK with tx_hash empty to refuse (why
 * filled; everything rolls back), or a database error.
 */
typedef enum db_status payout_step_fn(struct db *db, const PGresult *out, void *ctx,
                                      char tx_hash[68], struct payout_refusal *why);

struct payout_record {
	const char *tx_hash;            /* the hash to record, or NULL when step provides it */
	bool replace;                   /* record it over another recorded hash */
	payout_step_fn *step;           /* may be NULL */
	void *step_ctx;
	const char *metadata;           /* merged into the outgoing payment's metadata, or NULL */
	const char *source, *actor, *reason, *request_id;
};

/* pending/processing -> processing with the hash. *row is the outgoing payment after it. */
enum payout_result payout_record(struct db *db, const char *out_id, const struct payout_record *rc,
                                 PGresult **row, struct payout_refusal *why, enum db_status *dbst);

struct payout_settlement {
	bool completed;                 /* false: failed */
	const char *tx_hash;            /* completed: the verified transaction */
	const char *metadata;           /* merged into the outgoing payment's metadata, or NULL */
	const char *failure_code;       /* failed: why, for the admins */
	bool notify_admins;             /* failed: a notification for the admins too (a provider's failure) */
	bool if_pending;                /* failed: only while nothing was signed or sent (refused once processing) */
	bool if_no_hash;                /* failed: only while no transaction is recorded (the chain decides one) */
	const char *source, *actor, *reason, *request_id;
};

enum payout_result payout_settle(struct db *db, const char *out_id, const struct payout_settlement *s,
                                 PGresult **row, struct payout_refusal *why, enum db_status *dbst);

struct payout_acceptance {
	const char *provider_id;        /* the provider's id for it, or NULL when none is known */
	const char *metadata;           /* merged into the outgoing payment's metadata, or NULL */
	const char *source, *actor, *reason, *request_id;
};

/*
 * pending/processing -> processing with the provider's id. A payout that
 * already holds another id of that provider, or an id another payment holds,
 * is refused. *row is the outgoing payment after it (PAYOUT_COLUMNS).
 */
enum payout_result payout_accept(struct db *db, const char *out_id, const struct payout_acceptance *a,
                                 PGresult **row, struct payout_refusal *why, enum db_status *dbst);

struct payout_hold {
	bool hold;                      /* true: held for review; false: let go on */
	const char *reason;             /* the provider's words, for the admins */
	const char *provider, *provider_status;
	long long delivery_id;          /* the delivery that said so, 0 for none */
	const char *source, *actor, *request_id;
};

/* PAYOUT_DONE when the pay-in's escrow moved, PAYOUT_EXISTS when it was already so. */
enum payout_result payout_set_hold(struct db *db, const char *out_id, const struct payout_hold *h,
                                   struct payout_refusal *why, enum db_status *dbst);

struct payout_finding {
	enum review_kind kind;
	const char *reason;
	const char *provider, *provider_status, *tx_hash;
	const char *amount_seen, *crypto;   /* what the provider reported sent, each may be NULL */
	long long delivery_id;              /* 0 for none */
	const char *inbox_outcome;          /* the delivery's outcome, written with the finding */
};

/* Writes the finding (pay/review.h) about the payout and its pay-in. */
enum db_status payout_review(struct db *db, const char *out_id, const struct payout_finding *f);

/*
 * The registered wallet a payout goes to by default: the seller's (the
 * pay-in's seller, else its offer's) for a release, the buyer's for a
 * refund, on the pay-in's network (user_wallets). Returns 1 found, 0 none
 * (user names whom), -1 database error.
 */
int payout_registered_recipient(struct db *db, const PGresult *payin, const char *kind,
                                char address[43], char user[72], enum db_status *dbst);

/*
 * The preconditions payout_open checks under its locks, checked now without
 * them: a friendly early answer before anything is asked of the chain. 1
 * when they hold, 0 with why filled, -1 on a database error.
 */
int payout_preconditions(struct db *db, const PGresult *payin, const char *kind, const char *basis,
                         struct payout_refusal *why, enum db_status *dbst);

/* The active outgoing payment of a pay-in (kind, basis), or none (*row NULL). */
enum db_status payout_find_active(struct db *db, const char *payin_id, const char *kind,
                                  const char *basis, PGresult **row);

#endif
