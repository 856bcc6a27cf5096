/* shk_apply: SHKeeper's word about an invoice, applied to its pay-in.
 *
 * A claim is what SHKeeper reports about one invoice, in the shape of its
 * callback (status, figures, transactions[]). shk_apply() finds the pay-in
 * by its external id, holds a PAID to SHKeeper's own rule (shk_onchain.h) on
 * the chain where that is checked, and hands the outcome to the coordinator,
 * which decides from the payment row under its lock what it comes to
 * (applied, a repeat, stale, or money a person must place) and records that
 * in the inbox in the same transaction. The read here only finds the payment
 * and says whether the chain must be asked first.
 *
 * The same path serves SHKeeper's callbacks (a webhook delivery), its invoice
 * as the poll fallback looks it up (the same shape, no delivery), and the
 * chain watcher's own finding for a deposit address (the transfers it saw,
 * already summed against the rule on the chain: chain_checked).
 *
 * Layer: flow (uses pay, shkeeper, evm, base).
 */
#ifndef SHK_APPLY_H
#define SHK_APPLY_H

#include <stdbool.h>

#include <json-c/json.h>

#include "base/config.h"
#include "base/db.h"

struct shk_claim {
	json_object *report;        /* callback-shaped: status, figures, transactions[] */
	const char *external_id;
	const char *status;         /* SHKeeper's: PAID, PARTIAL, OVERPAID, … */
	long long delivery;         /* the webhook_inbox row it arrived in; 0: none */
	const char *source;         /* who says so, audited: shkeeper (NULL), or chain */
	const char *actor;          /* NULL: shkeeper */
	const char *how;            /* opens the audit reason: NULL: "SHKeeper callback" */
	/*
	 * Set when the caller checked the claim on the chain itself (the chain
	 * watcher summed the final transfers to the deposit address against the
	 * rule): what it found. A PAID is then not checked again.
	 */
	const char *chain_checked;
	const char *request_id;
	/*
	 * The caller holds an open transaction (the webhook: the delivery was
	 * stored in it): the claim is applied inside it, behind a savepoint, and
	 * the caller commits. A claim that needs the chain asked first is not
	 * applied then (needs_chain): no RPC call runs inside a transaction.
	 */
	bool in_tx;
};

/* What came of applying a claim: an inbox outcome, or "ask again later". */
struct shk_applied {
	const char *outcome;        /* NULL: a database error (see st) */
	const char *detail;         /* may point into note */
	bool retry_later;           /* the chain is not final or not reachable: answer 503 */
	bool finished;              /* the coordinator recorded the outcome with its decision */
	bool needs_chain;           /* in_tx only: nothing done; apply it again outside a transaction */
	char payment[40];
	char note[300];
	enum db_status st;
};

/*
 * With in_tx, whatever failed (outcome NULL) is rolled back to the savepoint,
 * so the caller's transaction stays usable unless the connection is gone
 * (st DB_UNAVAILABLE); a serialisation failure is tried again from there.
 */
void shk_apply(struct db *db, const struct config *cfg, const struct shk_claim *c, struct shk_applied *a);

/*
 * A member of a report as text: a string of at most 128 bytes, or an integer
 * (an older SHKeeper sends external_id as a number). NULL otherwise.
 */
const char *shk_claim_member(json_object *report, const char *name);

#endif
