/* provider_payout: what the payout endpoints of SHKeeper and BVNK share (shkeeper_payouts.c, bvnk.c).
 *
 * A payout request names a purchase request's pay-in and its seller as seed
 * 001 does ({purchaseRequestId, sellerOfferId, buyerId, sellerId, amount,
 * recipientAddress, token?, network?, metadata?}, plus paymentId, kind and
 * reason): each figure must be the pay-in's, the amount its escrow, the
 * recipient a valid address (400 otherwise, nothing written). The payout is
 * opened (pay/payout.h) or the active one returned; a flow then takes it
 * forward, and prov_answer() says how it stands.
 */
#ifndef API_PROVIDER_PAYOUT_H
#define API_PROVIDER_PAYOUT_H

#include <libpq-fe.h>

#include "flow/provpayout.h"
#include "http/req.h"
#include "http/resp.h"

/*
 * The outgoing payment of `provider` the request asks for (PAYOUT_COLUMNS,
 * the caller PQclear()s): opened now, or the one already active. NULL with
 * the answer written (400, 404, 409, 503). checked_not_sent receives the
 * body's `checkedNotSent` (an admin looked at the chain: an earlier call paid
 * nothing); NULL for a provider that takes no such word (400 if given).
 */
PGresult *provider_payout_open(struct request *req, struct response *resp, const char *provider,
                               bool *checked_not_sent);

/* Answers with the outcome; extra (owned, may be NULL) is merged into data. */
void provider_payout_answer(struct response *resp, const struct prov_outcome *o, json_object *extra);

/* The active or latest outgoing payment of `provider` the provider knows as provider_id; NULL with 404 written. */
PGresult *provider_payout_by_provider_id(struct request *req, struct response *resp, const char *provider,
                                         const char *provider_id);

/*
 * A provider's delivery about a payout, once stored (pay/inbox.h): its inbox row,
 * whether it repeats one stored before, and the status that acknowledges it
 * (BVNK wants 200, SHKeeper 202).
 */
struct payout_delivery {
	const char *provider;       /* as the inbox and the metrics name it */
	long long id;
	bool duplicate;
	int ack_status;
};

/*
 * Ends a payout delivery. With o NULL, or an outcome decided, the inbox row gets
 * outcome and detail (unless the flow wrote them with its decision) and the
 * delivery is acknowledged; with o and no outcome the flow decided nothing yet,
 * the row stays received and the answer is 503 (or the database's), so the
 * provider delivers again. Each end is counted in the metrics.
 */
void payout_delivery_end(struct request *req, struct response *resp, const struct payout_delivery *d,
                         const struct prov_outcome *o, const char *outcome, const char *detail, const char *payout);
/* Acknowledges the delivery ({deliveryId, outcome, paymentId}) without writing its row. */
void payout_delivery_ack(struct response *resp, const struct payout_delivery *d, const char *outcome,
                         const char *payout);

#endif
