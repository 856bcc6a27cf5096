/* shkeeper: the SHKeeper gateway as PROVIDERS.md describes it: invoices are created
 * with the API key, errors come back as HTTP 200 with status "error", and
 * callbacks are signed with HMAC-SHA256 over "<timestamp>.<raw body>".
 */
#ifndef PAY_SHKEEPER_H
#define PAY_SHKEEPER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "base/config.h"
#include "base/money.h"

#define SHK_MAX_SKEW 300    /* seconds a callback's timestamp may be off */

/* bsc + USDT → "BNB-USDT", ethereum + USDC → "ETH-USDC". Returns 0 or -1. */
int shk_crypto_name(const char *network, const char *token, char out[24]);

struct shk_invoice {
	long long id;
	char wallet[64];
	char amount[MONEY_TEXT_MAX];            /* crypto amount to pay, fee included */
	char exchange_rate[MONEY_TEXT_MAX];
	long recalculate_after;                 /* hours; 0 = never */
	char display_name[64];
};

enum shk_err {
	SHK_OK = 0,
	SHK_UNAVAILABLE,    /* unreachable, timed out, or the breaker is open: 503 */
	SHK_REFUSED,        /* SHKeeper answered with an error or nonsense: 502 */
};

/*
 * Asks for an invoice (or the same invoice again, for the same external id).
 * On failure msg says why in words an operator can act on, and
 * *retry_after is a sensible Retry-After in seconds.
 */
enum shk_err shk_create_invoice(const struct config *cfg, const char *crypto,
                                const char *external_id, const char *fiat_amount,
                                struct shk_invoice *out, char *msg, size_t msglen,
                                int *retry_after);

/*
 * GET /api/v1/invoices/<external_id>: the CONFIRMED transactions of that
 * invoice in `crypto` (its own token: a stray deposit of another crypto is
 * listed too and never taken), in SHKeeper's order, up to max of them into
 * txids; *n says how many. None listed is SHK_OK with *n = 0.
 */
#define SHK_MAX_INVOICE_TXS 8
enum shk_err shk_invoice_txids(const struct config *cfg, const char *external_id, const char *crypto,
                               char txids[][67], size_t max, size_t *n, char *msg, size_t msglen);

/*
 * GET /api/v1/invoices/<external_id>: SHKeeper's own record of that invoice
 * (the last one listed for exactly this external id: status, fiat,
 * amount_fiat, balance_fiat, txs[]), the caller's to json_object_put, or
 * NULL when SHKeeper knows no such invoice.
 */
enum shk_err shk_invoice_lookup(const struct config *cfg, const char *external_id, json_object **invoice,
                                char *msg, size_t msglen);

/*
 * GET /api/v1/tx-info/<txid>/<external_id>: the fiat value SHKeeper gave one
 * transaction of an invoice (its amount_fiat, which the invoice lookup does
 * not list), into fiat; "" when SHKeeper holds no such transaction.
 */
enum shk_err shk_tx_fiat(const struct config *cfg, const char *txid, const char *external_id, char *fiat,
                         size_t fiatlen, char *msg, size_t msglen);

/* GET /api/v1/crypto: is the gateway there and is our key usable? Caller owns *out. */
enum shk_err shk_list_crypto(const struct config *cfg, json_object **out, char *msg, size_t msglen);

/* The headers a callback's authenticity is judged on. Any may be NULL. */
struct shk_auth_input {
	const char *signature;      /* X-Shkeeper-Signature */
	const char *timestamp;      /* X-Shkeeper-Timestamp */
	const char *api_key;        /* X-Shkeeper-Api-Key (legacy) */
	const char *alt_signatures[4];  /* X-Signature, Signature, X-Hub-Signature, X-Hub-Signature-256 */
};

enum shk_auth {
	SHK_AUTH_SIGNED,            /* timestamped HMAC with the API key: SHKeeper today */
	SHK_AUTH_BODY_HMAC,         /* HMAC of the body with the webhook secret: the older scheme */
	SHK_AUTH_API_KEY,           /* the legacy key header, where allowed */
	SHK_AUTH_MISSING,           /* no credentials at all */
	SHK_AUTH_BAD,               /* credentials present but wrong */
	SHK_AUTH_STALE,             /* a correct signature over a timestamp too far from now */
};

enum shk_auth shk_authenticate(const struct config *cfg, const struct shk_auth_input *in,
                               const char *body, size_t body_len, time_t now);
bool shk_auth_ok(enum shk_auth a);
const char *shk_auth_name(enum shk_auth a);

/* Lower-case hex HMAC-SHA256 of "<timestamp>." + body; out holds 65 bytes. */
void shk_sign(const void *key, size_t keylen, const char *timestamp, const char *body,
              size_t body_len, char out[65]);

/* What a callback status means for the payment. */
struct shk_effect {
	const char *status;         /* new payment status, or NULL to keep it */
	const char *escrow;         /* new escrow state, or NULL */
	bool record_only;           /* noted, never a state change (PENDING, unconfirmed) */
};

/* Returns 0, or -1 for a status SHKeeper does not send. */
int shk_map_status(const char *status, struct shk_effect *out);

/*
 * The transaction a callback is about: the one marked trigger, else the
 * last listed. Copies a 0x + 64 hex id into txid, or leaves it "".
 */
void shk_trigger_txid(json_object *callback, char txid[67]);

/*
 * The transaction of the invoice's own `crypto` a callback is about: the
 * trigger when it is one, else the last one listed. A stray deposit of
 * another crypto to the same address is never the payment's transaction.
 */
void shk_own_txid(json_object *callback, const char *crypto, char txid[67]);

#endif
