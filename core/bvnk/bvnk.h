/* bvnk: BVNK's payout API and webhooks as PROVIDERS.md section 2 describes them.
 *
 * Calls are authenticated with Hawk (bvnk_hawk_id, bvnk_hawk_key_file): a MAC
 * over the method, path and query, host and port, a timestamp and a nonce. A
 * payout is created with POST /api/v1/pay/summary, type OUT, a `reference`
 * unique at BVNK (our outgoing payment's id): a second create with the same
 * reference is refused as a duplicate, so a retried create can never pay
 * twice, and a duplicate answer means the first one landed. Its state is
 * GET /api/v1/pay/{uuid}/summary; the merchant's payouts are listed by
 * GET /api/v1/pay/summary. Statuses: PENDING, PROCESSING, COMPLETE (final,
 * paid), EXPIRED and CANCELLED (final, not paid), and others that are not
 * final; a transaction may be held for review (isOnHold).
 *
 * Webhooks carry `x-signature`: lowercase hex HMAC-SHA256 with the merchant's
 * secret over the complete webhook URL, the Content-Type and the raw body
 * (bvnk_webhook_signing chooses the URL's path, or the body alone, instead).
 * Two envelopes: {"source","event":"statusChanged"|…,"data"} and
 * {"event":"bvnk:payment:crypto:…","eventId","timestamp","data"}.
 *
 * Nothing here knows what our payments are. Layer: bvnk (uses base).
 */
#ifndef BVNK_H
#define BVNK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "base/config.h"
#include "base/money.h"

enum bvnk_call {
	BVNK_OK,
	BVNK_NOT_FOUND,     /* BVNK knows no such payout */
	BVNK_DUPLICATE,     /* create: the reference is taken, so the first create landed */
	BVNK_REFUSED,       /* surely nothing created: a validation error, bad credentials */
	BVNK_UNCERTAIN,     /* may have been created: a timeout, a reset, a 5xx, an unreadable answer */
	BVNK_UNAVAILABLE,   /* not sent at all: not configured, or the breaker is open */
};

const char *bvnk_call_name(enum bvnk_call c);

/* A payout as BVNK's API and webhooks describe it. */
struct bvnk_payout {
	char uuid[64];
	char reference[72];
	char status[24];
	char type[8];
	bool on_hold;               /* a transaction of it is held for review */
	char tx_hash[67];           /* the first transaction's hash, "" while none */
	char address[64];
};

/* Reads a payout object (the API's answer, a webhook's data). 0, or -1 with err. */
int bvnk_read_payout(json_object *o, struct bvnk_payout *out, char *err, size_t errlen);

struct bvnk_payout_request {
	const char *reference;
	const char *amount;         /* decimal text, sent as a JSON number with exactly these digits */
	const char *currency;       /* the token, e.g. USDT */
	const char *address;
	const char *protocol;       /* bvnk_protocol.<network> */
};

enum bvnk_call bvnk_create_payout(const struct config *cfg, const struct bvnk_payout_request *rq,
                                  struct bvnk_payout *out, char *msg, size_t msglen);
enum bvnk_call bvnk_get_payout(const struct config *cfg, const char *uuid, struct bvnk_payout *out,
                               char *msg, size_t msglen);
/* The merchant's payout with this reference, among its most recent ones. */
enum bvnk_call bvnk_find_payout(const struct config *cfg, const char *reference, struct bvnk_payout *out,
                                char *msg, size_t msglen);

/*
 * The Authorization header value for a request: Hawk id="…", ts="…",
 * nonce="…", mac="…". 0, or -1 when it does not fit out.
 */
int bvnk_hawk_header(const char *id, const void *key, size_t keylen, const char *method, const char *host,
                     unsigned port, const char *path_query, long long ts, const char *nonce, char *out,
                     size_t outlen);

/* Is `signature` BVNK's over this delivery (constant time)? */
bool bvnk_webhook_authentic(const struct config *cfg, const char *signature, const char *content_type,
                            const char *body, size_t body_len);

/* What a webhook says: its event, its id (newer envelope), and its data. */
struct bvnk_event {
	char event[80];             /* statusChanged, transactionOnHold, bvnk:payment:crypto:…, … */
	char event_id[80];          /* "" in the legacy envelope */
	bool on_hold;               /* the event is a hold */
	json_object *data;          /* borrowed from the parsed body */
};

/* 0, or -1 with err when the body is neither envelope. */
int bvnk_read_event(json_object *root, struct bvnk_event *out, char *err, size_t errlen);

#endif
