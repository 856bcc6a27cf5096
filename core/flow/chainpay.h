/* chainpay: wallet-direct pay-ins checked on chain, apart from HTTP.
 *
 * Every wallet-direct payment shares one receiving address, so only transfers
 * from the payment's sender_address (its buyer's wallet as registered in
 * user_wallets, copied at save) count for it; a payment without one is not
 * verifiable.
 *
 * chainpay_verify() takes a payment row and a transaction hash from its
 * buyer (or an admin, or the re-verify job), asks the chain (verify.h) with no
 * database transaction open, and applies the outcome through the coordinator:
 * confirmed -> completed (escrow funded); mined but not final -> processing
 * with the hash recorded; reverted in a final block -> failed; anything else
 * changes nothing. A processing payment takes another hash only when the node
 * no longer knows the recorded one (dropped by a reorganisation). A failed or
 * cancelled one moves no more, but a confirmed transfer for it is money in
 * the escrow: the coordinator reports it (payment-needs-review,
 * deposit_on_closed_payment) and the outcome says so (reported).
 *
 * chainpay_apply_transfer() offers a final transfer the watcher found to the
 * open pay-ins of the wallet it came from; one that none takes (short, a
 * part, a second payment) is reported (deposit_unplaced), never guessed.
 *
 * chainpay_fetch_tx() finds the missing hash of a completed payment in the
 * token's Transfer logs from its sender to its receiving address, in final
 * blocks only, and records it. */
#ifndef CHAINPAY_H
#define CHAINPAY_H

#include <stdbool.h>
#include <time.h>

#include "base/config.h"
#include "base/db.h"
#include "evm/verify.h"
#include "pay/payment.h"

enum chainpay_kind {
	CHAINPAY_CONFIRMED,         /* completed, now or before (200) */
	CHAINPAY_PENDING,           /* not final yet, or not seen yet (202) */
	CHAINPAY_FAILED,            /* the transaction does not pay this payment (422) */
	CHAINPAY_TX_USED,           /* the hash pays another payment: used_by (409) */
	CHAINPAY_CONFLICT,          /* the payment's state does not allow it (409) */
	CHAINPAY_NOT_VERIFIABLE,    /* not a wallet-direct pay-in, or no chain details (409) */
	CHAINPAY_NOT_FOUND,         /* fetch: no matching transfer found (404) */
	CHAINPAY_UNAVAILABLE,       /* the chain cannot be asked now (503, retry_after) */
	CHAINPAY_UPSTREAM,          /* the node answered with an error or garbage (502) */
	CHAINPAY_DB,                /* database error: dbst */
};

struct chainpay_outcome {
	enum chainpay_kind kind;
	bool verified;              /* vr holds the verifier's answer */
	bool reported;              /* a confirmed transfer for a closed payment, put before a person */
	struct verify_result vr;
	unsigned decimals;
	char tx_hash[68];           /* the hash verified, found or already recorded */
	char used_by[40];
	char message[384];
	enum db_status dbst;
	int retry_after;
	PGresult *row;              /* the payment afterwards (PAYMENT_COLUMNS) or NULL; caller PQclear()s */
};

/* pay: a PAYMENT_COLUMNS result, row r. source is the audit source ("chain"). */
void chainpay_verify(struct db *db, const struct config *cfg, const PGresult *pay, int r,
    const char *tx_hash, const char *actor, const char *request_id,
    struct chainpay_outcome *out);

/* Gives up (CHAINPAY_UNAVAILABLE) when the wall clock passes deadline. */
void chainpay_fetch_tx(struct db *db, const struct config *cfg, const PGresult *pay, int r,
    const char *actor, const char *request_id, time_t deadline, struct chainpay_outcome *out);

/*
 * The batches the admin endpoints and the jobs process work through, oldest
 * first so a batch that stops early does not starve the rest. *rows (the
 * caller's to PQclear) holds PAYMENT_COLUMNS; for the unverified, one more
 * last column holds the hash to check.
 */
enum db_status chainpay_select_unverified(struct db *db, long limit, PGresult **rows);
enum db_status chainpay_select_missing_tx(struct db *db, long limit, PGresult **rows);

/*
 * A final transfer the chain watcher saw: `amount` (a decimal in token
 * units) of the token at `contract` from `from` to the escrow wallet on
 * `network`, in tx_hash. It is offered to the open wallet-direct pay-ins from
 * that wallet in that token, those of exactly that amount first, then the
 * oldest, each checked by chainpay_verify() as if its buyer had sent the
 * hash, until one takes it; then to those closed in the last
 * CHAINPAY_CLOSED_DAYS, where it is reported, never taken (a buyer who paid
 * after the cleanup cancelled the pay-in). One transfer is reported once and
 * then offered to no other. CHAINPAY_NOT_FOUND: none took it; when a pay-in
 * names that wallet, it is reported on it (deposit_unplaced, out->reported).
 */
#define CHAINPAY_CLOSED_DAYS 7

void chainpay_apply_transfer(struct db *db, const struct config *cfg, const char *network,
    const char *contract, const char *from, const char *amount, const char *tx_hash,
    const char *actor, const char *request_id, struct chainpay_outcome *out);

/* HTTP status for an outcome. */
int chainpay_http_status(const struct chainpay_outcome *out);
const char *chainpay_kind_name(enum chainpay_kind k);

#endif
