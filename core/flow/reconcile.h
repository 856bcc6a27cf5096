/* reconcile: outgoing payments stuck in releasing or refunding, matched on the chain.
 *
 * A payout can be paid and never completed in our books: an admin signed the
 * escrow's transfer and never confirmed it, a provider's callback never
 * came. reconcile_select() takes the outgoing payments still pending or
 * processing after `reconcile_after_minutes` (hot-wallet payouts are
 * followed by hotwallet_advance() instead: their hash is ours from the
 * start). reconcile_one() settles one from the chain:
 *
 *  - a hash already recorded is confirmed as outgoing_confirm() confirms an
 *    admin's: exact amount, from the paying wallet, to the recipient, final;
 *  - otherwise the paying wallet's (sender_address) outgoing Transfer logs
 *    of the payout's token to its recipient, of exactly its amount, in final
 *    blocks mined since the payout was opened, and paying no other payment,
 *    are its candidates. A unique candidate, when no other open payout has
 *    the same terms, completes it through outgoing_confirm() (so it is
 *    verified like any other hash). More than one, or another payout it
 *    could as well be, is ambiguous: reported to the admins
 *    (payment-needs-review, kind payout_ambiguous, once) and left alone.
 *    Never a guess.
 *
 * Before a provider's "failed" is believed (flow/shkpayout.c), the same
 * search runs up to the newest block (RECONCILE_ANY_BLOCK): anything there
 * that could be the payout, or the paying wallet's transactions not mined
 * yet, keeps it open.
 *
 * Layer: flow (uses pay, evm, base).
 */
#ifndef RECONCILE_H
#define RECONCILE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "base/config.h"
#include "base/db.h"

/*
 * Ids (column 0) of the outgoing payments to reconcile, those never taken
 * first, then the longest unseen; each is marked taken now, whatever comes
 * of it (payout_reconciles). The caller PQclear()s *rows.
 */
enum db_status reconcile_select(struct db *db, int after_minutes, int limit, PGresult **rows);

enum reconcile_kind {
	RECONCILE_COMPLETED,     /* completed from the chain now (or found so) */
	RECONCILE_WAITING,       /* its recorded hash (or, RECONCILE_ANY_BLOCK, the one found) is not final yet */
	RECONCILE_NONE,          /* nothing on chain pays it (yet) */
	RECONCILE_SETTLED,       /* no longer open: settled meanwhile */
	RECONCILE_AMBIGUOUS,     /* more than one transfer or payout fit: reported, left alone */
	RECONCILE_REFUSED,       /* the chain contradicts it, or it cannot be checked: left for a person */
	RECONCILE_UNAVAILABLE,   /* the chain cannot be asked now */
	RECONCILE_DB,
};

struct reconcile_outcome {
	enum reconcile_kind kind;
	bool unmined;            /* WAITING: on the paying wallet's transactions not mined yet, not on a transfer */
	char tx_hash[68];
	char message[400];
};

enum reconcile_scope {
	RECONCILE_FINAL,       /* transfers in final blocks: what completes a payout nobody says failed */
	RECONCILE_ANY_BLOCK,   /* up to the newest block: is there anything at all, before a payout fails */
};

/*
 * Payout `id`; no transaction may be open (the chain is asked). With
 * RECONCILE_ANY_BLOCK, a lone fitting transfer in a block not final yet, or
 * transactions of the paying wallet not mined yet, answer RECONCILE_WAITING
 * and record nothing: the next look decides.
 */
void reconcile_one(struct db *db, const struct config *cfg, const char *id, enum reconcile_scope scope, const char *actor,
                   const char *request_id, struct reconcile_outcome *o);

const char *reconcile_kind_name(enum reconcile_kind k);

#endif
