/* PUT /:id no longer completes or releases a payment by decree: a status that
 * says money moved comes from a verified transaction (the chain flows, the
 * payout confirms), or from an admin's explicit override with a reason,
 * audited and announced to the admins. */
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "pay/payment.h"

static bool money_moved(const char *status)
{
	return strcmp(status, "completed") == 0 || strcmp(status, "released") == 0 || strcmp(status, "refunded") == 0;
}

int payment_override_rule(struct response *resp, const PGresult *cur, const char *status, json_object *override,
                          const char *reason, bool *overridden, char *reason_out, size_t len)
{
	*overridden = false;
	if (override && !json_object_is_type(override, json_type_boolean)) {
		resp_error(resp, 400, "invalid_field", "override", "override must be true or false");
		return -1;
	}
	bool asked = override && json_object_get_boolean(override);
	if (asked && (reason == NULL || reason[0] == '\0')) {
		resp_error(resp, 400, "invalid_field", "reason", "an override needs a reason");
		return -1;
	}
	if (!asked && reason) {
		resp_error(resp, 400, "invalid_field", "reason", "reason goes with override: true");
		return -1;
	}
	if (!asked && status && money_moved(status) && strcmp(status, PQgetvalue(cur, 0, PCOL_STATUS)) != 0) {
		resp_error(resp, 409, "verification_required", "status",
		           "payment %s cannot become %s by decree: it follows a verified transaction (verify, confirm-transaction, release/refund confirm), or an admin's override: true with a reason",
		           PQgetvalue(cur, 0, PCOL_ID), status);
		return -1;
	}
	if (asked) {
		*overridden = true;
		snprintf(reason_out, len, "override: %s", reason);
	}
	return 0;
}
