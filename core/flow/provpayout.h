/* provpayout: what payouts a provider signs and sends (SHKeeper, BVNK) share, apart from HTTP.
 *
 * Such a payout is an outgoing payment (pay/payout.h) opened with the
 * provider's name and, as its sender, the wallet that provider pays from on
 * the network (shkeeper_payout_wallet.<net>, bvnk_payout_wallet.<net>). The
 * provider's word moves it only through the coordinator:
 *
 *   prov_confirm  a transaction the provider names for it is checked on the
 *                 chain as any payout's is (flow/outgoing.h: that token, from
 *                 the provider's wallet, to the snapshot recipient, exactly
 *                 the amount, final): it completes the payout, or is
 *                 recorded while not final. A transaction that does not pay
 *                 the payout (another recipient, a smaller amount, a hash
 *                 another payment holds) is refused with the reason and
 *                 changes nothing; a person hears of it (payout_refuted),
 *                 and so of a provider naming one for a payout that already
 *                 failed or completed otherwise (payout_contradicted).
 *   prov_fail     the provider says it failed: the payout fails, its escrow is
 *                 funded again, the admins are told (event and notification).
 *                 Not a payout that holds a transaction by then (a callback
 *                 recorded one meanwhile): the chain decides that one, and the
 *                 contradiction is reported.
 *
 * The answer of every step is a prov_outcome.
 */
#ifndef PROVPAYOUT_H
#define PROVPAYOUT_H

#include <stdbool.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "base/config.h"
#include "base/db.h"
#include "evm/verify.h"
#include "pay/review.h"

enum prov_kind {
	PROV_COMPLETED,     /* 200: verified on the chain and completed, now or before */
	PROV_ACCEPTED,      /* 200: the provider has it; it completes when the provider says so and the chain agrees */
	PROV_PENDING,       /* 202: not final on the chain yet, or a call for it is in flight elsewhere */
	PROV_FAILED,        /* 409: the payout failed and was reported; the escrow is funded again */
	PROV_CONFLICT,      /* 409: the payout's state does not allow it */
	PROV_REFUTED,       /* 422: the provider's transaction does not pay the payout (reported) */
	PROV_UNCERTAIN,     /* 502: the provider may have it; nothing is sent again before it is asked */
	PROV_UNAVAILABLE,   /* 503: the provider or the chain cannot be asked now */
	PROV_DB,
};

struct prov_outcome {
	enum prov_kind kind;
	char code[40];
	char message[400];
	char provider_status[32];   /* what the provider said last, "" when it was not asked */
	char tx_hash[68];
	int retry_after;
	enum db_status dbst;
	bool finished;              /* the delivery's inbox outcome was written with the decision */
	bool verified;              /* vr holds the chain's answer */
	struct verify_result vr;
	unsigned decimals;
	PGresult *row;              /* the payout afterwards (PAYOUT_COLUMNS) or NULL; the caller PQclear()s */
};

void prov_say(struct prov_outcome *o, enum prov_kind kind, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *prov_kind_name(enum prov_kind k);
int prov_http_status(const struct prov_outcome *o);
/* {status, code, message, providerStatus, transactionHash, verification, payout}; caller owns it. */
json_object *prov_outcome_json(const struct prov_outcome *o);
/* o->row := the payout as it is now. */
void prov_reload(struct db *db, const char *id, struct prov_outcome *o);
/*
 * A provider's webhook can overtake its answer to the call that made the
 * payout: when the row prov_reload() read is already failed or completed, says
 * so in o (PROV_FAILED with the failure's code, or PROV_COMPLETED) and returns
 * true; false for any other state.
 */
bool prov_overtaken(struct prov_outcome *o, const char *provider, const char *id);
/*
 * The payout moved on since the caller read it (another request sent or
 * settled it): o says where it stands now, and nothing is sent.
 */
void prov_moved_on(struct db *db, const char *provider, const char *id, struct prov_outcome *o);

/* Who says it, for the audit and the findings. */
struct prov_source {
	const char *provider;           /* shkeeper | bvnk */
	const char *provider_status;    /* what it said, e.g. SUCCESS, COMPLETE */
	long long delivery_id;          /* the inbox row it came in, 0 for a poll */
	const char *actor, *request_id;
};

void prov_confirm(struct db *db, const struct config *cfg, const PGresult *out, const char *tx_hash,
                  const struct prov_source *src, struct prov_outcome *o);
void prov_fail(struct db *db, const char *out_id, const char *code, const char *reason,
               const struct prov_source *src, struct prov_outcome *o);
/*
 * A person is told about payout out_id (pay/review.h, once per finding); for
 * a webhook delivery, its inbox outcome is written with it (o->finished).
 */
void prov_finding(struct db *db, const char *out_id, enum review_kind kind, const char *reason, const char *tx,
                  const struct prov_source *src, const char *inbox_outcome, struct prov_outcome *o);

/*
 * Can a payout through `provider` be made and checked on `network`: the
 * provider configured, the wallet it pays from known, an RPC to check the
 * transfer on (BVNK: only where the network has one). 0, or -1 with err.
 */
int prov_network_ready(const struct config *cfg, const char *provider, const char *network, char *err, size_t errlen);
/* The wallet `provider` pays from on `network`, or NULL. */
const char *prov_sender(const struct config *cfg, const char *provider, const char *network);

#endif
