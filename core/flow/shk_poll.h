/* shk_poll: SHKeeper's record of an invoice, for the callbacks that never came.
 *
 * SHKeeper users report funds on chain and no callback. The poll fallback
 * (jobs/shk_poll.c) asks SHKeeper, with GET /api/v1/invoices/<external_id>,
 * about the invoices of open SHKeeper pay-ins older than
 * shkeeper_poll_after_minutes, each at most once per the job's interval.
 *
 * shk_poll_claim() takes the due ones: a row per pay-in in shkeeper_polls,
 * moved forward by a conditional update (a copy that lost the race gets
 * nothing). shk_poll_one() looks one up and hands what SHKeeper says, in the
 * shape of its callback (status, figures, the confirmed transactions of the
 * invoice's own crypto), to shk_apply(): a PAID is held to SHKeeper's rule
 * on the chain exactly as a callback's is, so SHKeeper's word alone funds
 * nothing; PARTIAL marks the escrow partial; UNPAID changes nothing. What
 * SHKeeper said and what came of it are kept with the claim.
 *
 * Layer: flow (uses pay, shkeeper, evm, base).
 */
#ifndef SHK_POLL_H
#define SHK_POLL_H

#include <libpq-fe.h>

#include "base/config.h"
#include "base/db.h"
#include "flow/shk_apply.h"

/*
 * Rows of PAYMENT_COLUMNS, then crypto_name (SHK_POLL_CRYPTO) and whether
 * SHKeeper may have re-priced the invoice (SHK_POLL_REPRICED, "t" or "f"),
 * oldest pay-in first; the caller PQclear()s them.
 */
#define SHK_POLL_CRYPTO 29
#define SHK_POLL_REPRICED 30
enum db_status shk_poll_claim(struct db *db, int after_minutes, int every_seconds, int limit, PGresult **rows);

/* How many open SHKeeper pay-ins there are, how many of them are due, and how many of these were asked about. */
struct shk_poll_counts {
	long long open, due, polled;
	char last_polled_at[32];    /* "" when none */
};
enum db_status shk_poll_counts(struct db *db, int after_minutes, struct shk_poll_counts *out);

/*
 * Row r of `pay` (from shk_poll_claim): asks SHKeeper and applies what it
 * says. No transaction may be open. *said is SHKeeper's status ("" when it
 * could not be asked, UNKNOWN when it knows no such invoice). a->outcome as
 * shk_apply's; NULL with a->st on a database error. With a->retry_later the
 * chain (or SHKeeper) could not answer now: the next poll asks again.
 */
void shk_poll_one(struct db *db, const struct config *cfg, const PGresult *pay, int r, const char *actor,
                  const char *request_id, char said[33], struct shk_applied *a);

#endif
