/* shk_deposit: SHKeeper pay-ins' deposit addresses, watched on the chain.
 *
 * SHKeeper gives each invoice an address of its own, and its callback may
 * never come (users report funds on chain and no callback). The chain
 * watcher (jobs/watch.c) reads the final Transfer logs to the addresses
 * shk_deposit_watched() lists; for each pay-in one of them pays,
 * shk_deposit_seen() adds up every final transfer of the invoice's token to
 * its address since the pay-in was made (from any sender, as SHKeeper counts
 * them; another token sent there never counts), holds the sum to SHKeeper's
 * own rule (shk_payment_threshold: the fiat price at llimit, at the
 * invoice's rate, without SHKeeper's fee) and applies what it comes to
 * through shk_apply(),
 * the webhook's path: PAID completes the pay-in (one cascade, whichever path
 * reports it first), less is PARTIAL (money seen: the escrow is partial, and
 * cleanup leaves it alone), and on a pay-in closed meanwhile the coordinator
 * records the deposit for a person to place.
 *
 * Watched: the pay-ins still open, and those closed in the last
 * SHK_WATCH_CLOSED_DAYS (a deposit after a cleanup is never lost). An
 * address two pay-ins share is watched for neither: its money is not ours
 * to split.
 *
 * Layer: flow (uses pay, shkeeper, evm, base).
 */
#ifndef SHK_DEPOSIT_H
#define SHK_DEPOSIT_H

#include <stdint.h>

#include <libpq-fe.h>

#include "base/config.h"
#include "base/db.h"
#include "evm/rpc.h"
#include "flow/shk_apply.h"

#define SHK_WATCH_CLOSED_DAYS 7
/* Addresses watched per network and token, the oldest pay-ins first. */
#define SHK_WATCH_MAX 5000

/*
 * The watched deposit addresses of `token` on `network`: rows of
 * PAYMENT_COLUMNS, then the address in lower case (column SHK_DEPOSIT_ADDR).
 * The caller PQclear()s *rows.
 */
#define SHK_DEPOSIT_ADDR 29
enum db_status shk_deposit_watched(struct db *db, const char *network, const char *token, PGresult **rows);

/* How many deposit addresses are watched, on every network: for the wallet monitor's status. */
enum db_status shk_deposit_count(struct db *db, long long *n);

/*
 * Row r of `pay` (from shk_deposit_watched) received a transfer the watcher
 * saw; `safe` is the newest final block. No transaction may be open: the
 * chain is searched. a->outcome is the inbox-style outcome (applied,
 * duplicate, stale, review, …), NULL with a->st on a database error; with
 * a->retry_later the chain could not be searched now (a->detail says why).
 */
void shk_deposit_seen(struct db *db, const struct config *cfg, struct rpc_client *c, const PGresult *pay, int r,
                      uint64_t safe, const char *actor, const char *request_id, struct shk_applied *a);

#endif
