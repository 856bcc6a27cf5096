/* outgoing: releases and refunds checked on chain, apart from HTTP.
 *
 * outgoing_prepare() turns a pay-in and what an admin asked for into the
 * snapshot an outgoing payment is opened with (pay/payout.h): the recipient
 * (the registered wallet of the seller or the buyer on the pay-in's network,
 * or an address the admin enters with a reason), the amount in token units,
 * the token, and the wallet the transfer must come from.
 *
 * outgoing_unsigned_tx() is what the escrow signer signs for an admin-signed
 * payout: an ERC-20 transfer(recipient, amount) to the token contract, value
 * 0, with the chain id, a suggested gas limit and fees, and the signer's next
 * nonce.
 *
 * outgoing_confirm() takes a transaction hash for an outgoing payment and
 * asks the chain (evm/verify.h, exact amount, sender = the escrow wallet):
 * only a final transfer of that token, from that wallet, to that recipient,
 * of exactly that amount completes it (payout_settle); a transfer of it that
 * is mined but not final is recorded (processing) and answered with its
 * depth; anything else is refused with the reason and changes nothing. A hash
 * that already pays another payment is refused.
 */
#ifndef OUTGOING_H
#define OUTGOING_H

#include <stdbool.h>

#include <json-c/json.h>

#include "base/config.h"
#include "base/db.h"
#include "evm/verify.h"
#include "pay/payout.h"

struct outgoing_prep {
	struct payout_request rq;
	char recipient[43];
	char amount[48];
	const struct token_conf *token;
};

struct outgoing_ask {
	const char *kind;            /* release | refund */
	const char *basis;           /* escrow (default) | partial | excess | closed */
	const char *provider;        /* admin_wallet | hot_wallet */
	const char *sender;          /* the wallet paying: the escrow wallet, or the hot wallet */
	const char *recipient;       /* an admin's address, or NULL: the registered wallet */
	const char *reason;          /* required with recipient, and for the non-escrow bases */
	const char *amount;          /* required for partial, excess and closed; else NULL */
	const char *actor;
	const char *request_id;
	const char *source;          /* the audit's source: NULL for an admin's request */
	int auto_release_grace_hours;    /* an automatic release (pay/payout.h); 0 for an admin's request */
};

/*
 * Fills prep from the pay-in (PAYMENT_COLUMNS, row 0). Returns 0, or an HTTP
 * status (400 a bad address or amount, 409 no registered wallet or nothing to
 * pay in tokens, 500/503 the database) with why filled.
 */
int outgoing_prepare(struct db *db, const struct config *cfg, const PGresult *payin,
                     const struct outgoing_ask *ask, struct outgoing_prep *prep,
                     struct payout_refusal *why, enum db_status *dbst);

/*
 * Opens a payout as an admin's request does (POST /:id/release and /refund,
 * the hot wallet's admin-payout), for whoever asks the same way: the
 * pay-in's network must have an RPC to confirm the payout on, the snapshot
 * is prepared (outgoing_prepare), and an admin-signed payout stores the
 * transaction the escrow signer must sign (outgoing_unsigned_tx) with it.
 * Returns 0 with *r what payout_open said (*row the payout on PAYOUT_DONE
 * and PAYOUT_EXISTS, the caller's to PQclear), or an HTTP status as
 * outgoing_prepare's with why filled (409 not_verifiable: no RPC).
 */
int outgoing_open(struct db *db, const struct config *cfg, const PGresult *payin, const struct outgoing_ask *ask,
                  enum payout_result *r, PGresult **row, struct payout_refusal *why, enum db_status *dbst);

/* {chainId, type, from, to, value, data, gas, nonce, fees…, summary} for prep;
 * caller owns it. Stored with the payout when it opens: a repeated request
 * answers the same transaction, same nonce, so signing it twice cannot pay twice. */
json_object *outgoing_unsigned_tx(const struct config *cfg, const struct outgoing_prep *prep);

enum outgoing_kind {
	OUTGOING_CONFIRMED,      /* completed, now or before (200) */
	OUTGOING_PENDING,        /* not final yet, or not seen yet (202) */
	OUTGOING_REFUSED,        /* the transaction does not pay this payout (422) */
	OUTGOING_TX_USED,        /* the hash pays another payment (409) */
	OUTGOING_CONFLICT,       /* the payout's state does not allow it (409) */
	OUTGOING_UNAVAILABLE,    /* the chain cannot be asked now (503) */
	OUTGOING_UPSTREAM,       /* the node answered with an error or garbage (502) */
	OUTGOING_DB,
};

struct outgoing_outcome {
	enum outgoing_kind kind;
	bool verified;               /* vr holds the verifier's answer */
	struct verify_result vr;
	unsigned decimals;
	char tx_hash[68];
	char used_by[40];
	char code[40];               /* REFUSED and CONFLICT: a machine-readable reason */
	char message[400];
	int retry_after;
	enum db_status dbst;
	bool opened;                 /* outgoing_confirm_new opened the payout */
	PGresult *row;               /* the outgoing payment afterwards (PAYOUT_COLUMNS) or NULL */
};

void outgoing_confirm(struct db *db, const struct config *cfg, const PGresult *out, const char *tx_hash,
                      const char *actor, const char *request_id, struct outgoing_outcome *o);

/*
 * The manual admin payout: a hash for a payout nobody opened yet. The hash is
 * checked against prep first; only a transfer that pays it (final, or mined
 * and on its way) opens the outgoing payment, which is then settled or
 * recorded as outgoing_confirm() does. Nothing is written otherwise.
 */
void outgoing_confirm_new(struct db *db, const struct config *cfg, const struct outgoing_prep *prep,
                          const char *tx_hash, struct outgoing_outcome *o);

int outgoing_http_status(const struct outgoing_outcome *o);
const char *outgoing_kind_name(enum outgoing_kind k);
/* The answer's data: the verification, the payout; caller owns it. */
json_object *outgoing_outcome_json(const struct outgoing_outcome *o);

/* An expectation for a payout: exact amount, from its sender. 0, or -1 with err. */
int outgoing_expect(const struct config *cfg, const char *network, const char *contract,
                    const char *recipient, const char *amount, const char *sender,
                    struct verify_expect *x, char *err, size_t errlen);

/* The payment (in or out, other than self) that holds this hash on this network. */
enum db_status outgoing_tx_owner(struct db *db, const char *tx, const char *network, const char *self,
                                 char used_by[40]);

#endif
