/* shkpayout: payouts SHKeeper signs and sends for us, apart from HTTP.
 *
 * An open shkeeper payout (pay/payout.h, provider shkeeper, sender SHKeeper's
 * payout wallet on the network) is taken forward by:
 *
 *   shkpayout_send      asks SHKeeper to pay it, once: the single payout API
 *                       with our payout's id as external_id, our payout
 *                       webhook as callback_url and shkeeper_payout_fee. The
 *                       call is recorded before it goes out (pay/payout_call.h);
 *                       after one that may have landed (a timeout, a 5xx, a
 *                       reset, a process that died), SHKeeper's payout status
 *                       by external id is asked first: a payout it has is
 *                       taken as ours. Its 404 is not proof (SHKeeper records
 *                       a payout after its wallet took it), so the call is
 *                       made again only when an admin checked the chain
 *                       (checked_not_sent). Task id stored: the payout is
 *                       processing, and a repeat asks SHKeeper nothing.
 *   shkpayout_poll      asks SHKeeper how it went (the task; the status by
 *                       external id for a payout taken over without one) and
 *                       applies a final answer: the transaction checked on the
 *                       chain (provpayout.h), or the failure (FAILURE, ERROR,
 *                       or SUCCESS whose entry says error).
 *   shkpayout_callback  SHKeeper's signed success callback, stored in the
 *                       inbox by the caller: its tx_hash checked on the chain.
 *
 * SHKeeper says nothing when a payout fails: failures are only seen by polling.
 */
#ifndef SHKPAYOUT_H
#define SHKPAYOUT_H

#include "base/config.h"
#include "base/db.h"
#include "flow/provpayout.h"
#include "shkeeper/shk_payout.h"

void shkpayout_send(struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                    const char *request_id, bool checked_not_sent, struct prov_outcome *o);
void shkpayout_poll(struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                    const char *request_id, struct prov_outcome *o);
void shkpayout_callback(struct db *db, const struct config *cfg, const PGresult *out,
                        const struct shk_payout_callback *cb, long long delivery_id, const char *request_id,
                        struct prov_outcome *o);

#endif
