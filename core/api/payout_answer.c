#include "api/payout_answer.h"

#include <string.h>

json_object *payout_with_transaction(const PGresult *row)
{
	json_object *d = json_object_new_object(), *meta = json_tokener_parse(PQgetvalue(row, 0, PCOL_METADATA));
	json_object *tx = NULL;

	json_object_object_add(d, "payout", payout_json(row, 0));
	if (meta && json_object_object_get_ex(meta, "unsignedTransaction", &tx))
		json_object_object_add(d, "transaction", json_object_get(tx));
	json_object_put(meta);
	return d;
}

void payout_answer_opened(struct response *resp, enum payout_result r, const PGresult *row,
                          const struct payout_refusal *why, enum db_status st, const char *provider,
                          const char *payin_id)
{
	switch (r) {
	case PAYOUT_DONE:
		resp_ok(resp, 201, payout_with_transaction(row), "payout opened: sign the transaction with the escrow wallet, then confirm its hash");
		return;
	case PAYOUT_EXISTS:
		if (strcmp(PQgetvalue(row, 0, PCOL_PROVIDER), provider) != 0) {
			resp_error_data(resp, 409, "payout_exists", NULL, payout_with_transaction(row),
			                "a %s payout %s is already active for payment %s", PQgetvalue(row, 0, PCOL_PROVIDER),
			                PQgetvalue(row, 0, PCOL_ID), payin_id);
			return;
		}
		resp_ok(resp, 200, payout_with_transaction(row), "this payout is already open: the same transaction, the same nonce");
		return;
	case PAYOUT_REFUSED:
		resp_error(resp, 409, why->code, NULL, "%s", why->message);
		return;
	case PAYOUT_NOT_FOUND:
		resp_error(resp, 404, "not_found", NULL, "payment %s not found", payin_id);
		return;
	case PAYOUT_TX_USED:
	case PAYOUT_DB:
		break;
	}
	resp_db_error(resp, st == DB_OK ? DB_FAILED : st);
}

void payout_answer_outcome(struct response *resp, const struct outgoing_outcome *o, const char *field)
{
	int status = outgoing_http_status(o);

	switch (o->kind) {
	case OUTGOING_CONFIRMED:
	case OUTGOING_PENDING:
		resp_ok(resp, status, outgoing_outcome_json(o), o->message);
		return;
	case OUTGOING_REFUSED:
	case OUTGOING_TX_USED:
		resp_error_data(resp, status, o->code, field, outgoing_outcome_json(o), "%s", o->message);
		return;
	case OUTGOING_CONFLICT:
		resp_error_data(resp, status, o->code, NULL, outgoing_outcome_json(o), "%s", o->message);
		return;
	case OUTGOING_UNAVAILABLE:
	case OUTGOING_UPSTREAM:
		resp_header(resp, "Retry-After", "%d", o->retry_after > 0 ? o->retry_after : 5);
		resp_error(resp, status, o->code, NULL, "%s", o->message);
		return;
	case OUTGOING_DB:
		resp_db_error(resp, o->dbst);
		return;
	}
}
