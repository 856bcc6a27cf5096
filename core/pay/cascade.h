/* cascade: what follows a pay-in's escrow becoming funded, inside the coordinator's
 * transaction so it happens exactly once with the transition: the paid offer
 * accepted and its rivals rejected, the purchase request moved to payment,
 * both parties notified, and the events other services follow (including a
 * request for the chat service to open the buyer–seller chat).
 * `payment` is the updated PAYMENT_COLUMNS row.
 */
#ifndef PAY_CASCADE_H
#define PAY_CASCADE_H

#include <libpq-fe.h>

#include "base/db.h"

#define TEMPLATE_CHECKOUT_PREFIX "template-checkout-"

enum db_status cascade_funded(struct db *db, const PGresult *payment);

#endif
