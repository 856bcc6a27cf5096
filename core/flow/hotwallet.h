/* hotwallet: payouts the service signs with its own hot wallet, apart from HTTP.
 *
 * The key is read from hot_wallet_key_file each time a payout is signed and
 * wiped at once; the file must be readable by its owner only (the service
 * refuses to start otherwise, and every read checks again). Only the address
 * is kept, derived once at start-up.
 *
 * A payout is signed once, ever. hotwallet_advance() takes an open hot_wallet
 * payout (pay/payout.h) as far as it goes now:
 *
 *  1. Not signed yet: the fees are quoted (refused above the configured cap)
 *     and the transfer estimated; then, in one transaction with the
 *     coordinator's locks and an advisory lock on (chain, wallet), any
 *     earlier transaction of the wallet that was committed but never
 *     broadcast is sent first, the nonce is the larger of the node's pending
 *     count and our last used nonce + 1, the token and gas balances are
 *     checked, the transaction is signed (its signer, chain id and contents
 *     checked by recovering it), and the signed bytes and their hash are
 *     stored with the payout moved to processing. Commit. Only then is
 *     anything broadcast.
 *  2. Signed, not broadcast (the process died after the commit): the same
 *     bytes are broadcast; the hash is the idempotency key, and a node that
 *     already knows the transaction is fine.
 *  3. Broadcast: the receipt is followed with the verifier (exact amount,
 *     from the hot wallet). Final: the payout completes. A transaction the
 *     node lost is broadcast again, bytes unchanged. A nonce taken by another
 *     transaction (replaced), or a revert in a final block, fails the payout:
 *     it can no longer be mined, so the escrow is handed back and an admin may
 *     open a new one.
 *
 * Too little token or gas balance, fees above the cap, a transfer the node
 * says would revert: the payout fails before anything is signed and the
 * admins are told (payout-failed). A broadcast the node refuses is reported
 * (hot-wallet-alert) and left for the next call: the bytes are sent again,
 * never re-signed.
 */
#ifndef HOTWALLET_H
#define HOTWALLET_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/config.h"
#include "base/db.h"
#include "evm/verify.h"
#include "pay/payout.h"

/*
 * In the master before the first fork (and by `check`): reads the key once,
 * derives the address (compared with hot_wallet_address when set), wipes the
 * key. 0, or -1 with err: refuse to start. Nothing to do without a key file.
 */
int hotwallet_startup(const struct config *cfg, char *err, size_t errlen);

/* The hot wallet's checksummed address, or NULL when none is configured or its key is unreadable. */
const char *hotwallet_address(const struct config *cfg);

enum hot_kind {
	HOT_COMPLETED,       /* 200: mined, final, verified, completed */
	HOT_PENDING,         /* 202: signed and broadcast (or about to be sent again), not final yet */
	HOT_FAILED,          /* 409: the payout failed and was reported; a new one may be opened */
	HOT_CONFLICT,        /* 409: the payout's state does not allow it */
	HOT_REFUSED,         /* 502: the node refused the broadcast; reported, sent again later */
	HOT_UNAVAILABLE,     /* 503: the chain cannot be asked now; nothing lost */
	HOT_DB,
};

struct hot_outcome {
	enum hot_kind kind;
	char code[40];
	char message[400];
	char tx_hash[68];
	bool has_nonce;
	uint64_t nonce;
	bool verified;
	struct verify_result vr;
	unsigned decimals;
	int retry_after;
	enum db_status dbst;
	PGresult *row;          /* the payout afterwards (PAYOUT_COLUMNS) or NULL; caller PQclear()s */
};

void hotwallet_advance(struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                       const char *request_id, struct hot_outcome *o);

/*
 * The hot-wallet payouts in flight: signed (committed, perhaps never sent)
 * and not settled, whose transaction has not moved for `idle_minutes`, in
 * nonce order, at most `limit` (PAYOUT_COLUMNS; the caller PQclear()s
 * *rows). What the resume call and the reconciliation job take forward
 * with hotwallet_advance().
 */
enum db_status hotwallet_select_in_flight(struct db *db, int idle_minutes, int limit, PGresult **rows);

int hot_http_status(const struct hot_outcome *o);
const char *hot_kind_name(enum hot_kind k);
/*
 * A hot-wallet-alert event for the admins about payout `payout` (hash may be
 * NULL); nothing when `message` is `previous`, the problem already told.
 */
void hotwallet_alert(struct db *db, const char *payout, const char *hash, const char *code, const char *message,
                     const char *previous);
/* The answer's data; caller owns it. */
json_object *hot_outcome_json(const struct hot_outcome *o);

#endif
