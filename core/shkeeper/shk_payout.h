/* shk_payout: SHKeeper's payout API as it speaks (PROVIDERS.md section 1, SHKeeper's own source).
 *
 * Payouts authenticate with HTTP Basic (the SHKeeper admin login in
 * shkeeper_payout_auth_file), not the API key: without credentials SHKeeper
 * redirects to its login page, with wrong ones it answers 200 with
 * {"status":"error"}. The payout endpoint answers its errors with HTTP 500
 * {"status":"error","message"}, a duplicate external_id among them, and
 * creates nothing then; but a 500, a timeout or a reset connection may also
 * come after SHKeeper sent the money. So a create call's outcome is one of:
 * done (the task id), surely not done (a refusal before anything was made),
 * or uncertain, and an uncertain call is followed by a status lookup by
 * external id (API key; 404 when SHKeeper knows no such payout) before any
 * retry. The multipayout endpoint is never used: it checks external ids only
 * after sending, so a retry pays twice.
 *
 * A payout's task (Basic auth) is the wallet backend's Celery task:
 * PENDING, STARTED, RETRY, then SUCCESS with a list of
 * {dest, amount, status: success|error, txids} (an entry may say error even
 * so) or FAILURE with an error; SHKeeper treats SUCCESS, ERROR, FAILED and
 * FAILURE as final. Its payout callback (success only, when the operator
 * enables it) is flat JSON signed like the invoice callbacks, without the
 * API key header.
 *
 * Layer: shkeeper (uses base).
 */
#ifndef SHK_PAYOUT_H
#define SHK_PAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "base/config.h"
#include "base/money.h"

#define SHK_TASK_ID_MAX 80

enum shk_call {
	SHK_CALL_OK,            /* answered as asked */
	SHK_CALL_NOT_FOUND,     /* the status lookup: SHKeeper knows no such payout (404) */
	SHK_CALL_DUPLICATE,     /* create: SHKeeper already has a payout with this external id */
	SHK_CALL_REFUSED,       /* surely nothing done: bad credentials, the login redirect, a 4xx */
	SHK_CALL_UNCERTAIN,     /* may have been done: a timeout, a reset, a 5xx, an answer we cannot read */
	SHK_CALL_UNAVAILABLE,   /* not sent at all: not configured, or the breaker is open */
};

const char *shk_call_name(enum shk_call c);

struct shk_payout_request {
	const char *crypto;             /* BNB-USDT, … */
	const char *external_id;        /* our outgoing payment's id */
	const char *destination;
	const char *amount;             /* token units, decimal text */
	const char *callback_url;
};

/* POST /api/v1/<crypto>/payout with shkeeper_payout_fee. On SHK_CALL_OK task_id is set. */
enum shk_call shk_payout_create(const struct config *cfg, const struct shk_payout_request *rq,
                                char task_id[SHK_TASK_ID_MAX], char *msg, size_t msglen);

/* GET /api/v1/<crypto>/payout/status?external_id=… */
struct shk_payout_state {
	long long id;                   /* SHKeeper's payout id */
	char status[16];                /* IN_PROGRESS, SUCCESS, FAIL */
	char amount[MONEY_TEXT_MAX];
	char destination[64];
	char txid[67];                  /* "" until SHKeeper has one */
};

enum shk_call shk_payout_status(const struct config *cfg, const char *crypto, const char *external_id,
                                struct shk_payout_state *out, char *msg, size_t msglen);

/* GET /api/v1/<crypto>/task/<task_id>, read for one destination. */
struct shk_task {
	char status[16];                /* as the wallet backend says it */
	bool final;                     /* SUCCESS, ERROR, FAILED, FAILURE */
	bool failed;                    /* final and not paid: the task failed, or our entry says error */
	bool has_entry;                 /* SUCCESS: the result lists our destination */
	char txid[67];                  /* our entry's transaction, "" when none */
	char error[200];                /* what it said went wrong */
};

enum shk_call shk_payout_task(const struct config *cfg, const char *crypto, const char *task_id,
                              const char *destination, struct shk_task *out, char *msg, size_t msglen);

/* The payout callback's fields (the signature is checked with shk_authenticate). */
struct shk_payout_callback {
	char external_id[72];
	char status[16];
	char tx_hash[67];               /* "" when absent or not a transaction hash */
	char amount[MONEY_TEXT_MAX];    /* "" when absent */
	char crypto[24];
	long long payout_id;
};

/* 0, or -1 with err: not a payout callback (external_id or status missing). */
int shk_payout_callback_read(json_object *cb, struct shk_payout_callback *out, char *err, size_t errlen);

#endif
