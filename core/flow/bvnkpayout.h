/* bvnkpayout: payouts BVNK sends for us, apart from HTTP.
 *
 * An open bvnk payout (pay/payout.h, provider bvnk, sender BVNK's payout
 * wallet on the network where the chain can be asked) is taken forward by:
 *
 *   bvnkpayout_send     creates it at BVNK (bvnk/bvnk.h) with our payout's
 *                       id as its unique reference, recorded before the call
 *                       (pay/payout_call.h). BVNK refuses a second payout with
 *                       the same reference, so a call whose answer was lost
 *                       is simply made again: a duplicate answer means the
 *                       first one landed, and the payout is then looked up
 *                       (or its uuid taken from BVNK's webhook) instead of
 *                       created. Its uuid stored: processing, and a repeat
 *                       calls BVNK no more.
 *   bvnkpayout_poll     reads it from BVNK and applies what it says;
 *   bvnkpayout_webhook  the same for a webhook the caller stored: BVNK's
 *                       API is asked before the webhook is trusted.
 *
 * What BVNK's status means: PROCESSING and PENDING, not yet (a transaction
 * held for review puts the pay-in's escrow on hold, with a finding for the
 * admins, until a later status lets it go); COMPLETE, the transaction it
 * names checked on the chain where the network has an RPC (provpayout.h),
 * completed on BVNK's word where it has none; EXPIRED and CANCELLED, failed
 * (escrow funded again, the admins told); anything else recorded, not final.
 */
#ifndef BVNKPAYOUT_H
#define BVNKPAYOUT_H

#include "base/config.h"
#include "base/db.h"
#include "flow/provpayout.h"

void bvnkpayout_send(struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                     const char *request_id, struct prov_outcome *o);
void bvnkpayout_poll(struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                     const char *request_id, struct prov_outcome *o);
/* uuid: the payout the webhook names. */
void bvnkpayout_webhook(struct db *db, const struct config *cfg, const PGresult *out, const char *uuid,
                        long long delivery_id, const char *request_id, struct prov_outcome *o);

#endif
