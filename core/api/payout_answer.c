#include "api/payout_answer.h"

#include <string.h>

#include "api/handlers.h"

PGresult *payout_payin(struct request *req, struct response *resp, const char *request_id, const char *payment_id,
                       const char *kind)
{
	PGresult *res = NULL;
	enum db_status st;

	if (payment_id) {
		res = payment_visible(req, resp, payment_id, "paymentId", PARTY_BUYER);
		if (res && request_id && strcmp(PQgetvalue(res, 0, PCOL_REQUEST), request_id) != 0) {
			resp_error(resp, 409, "request_mismatch", "paymentId", "payment %s is not for purchase request %s",
			           payment_id, request_id);
			PQclear(res);
			return NULL;
		}
		return res;
	}
	if (request_id == NULL) {
		resp_error(resp, 400, "invalid_field", "purchaseRequestId", "purchaseRequestId is required");
		return NULL;
	}
	const char *p[2] = { request_id, kind };
	st = db_exec(req->app->db, &res,
	             "SELECT " PAYMENT_COLUMNS " FROM payments p WHERE p.purchase_request_id = $1 AND p.direction = 'in'"
	             " AND (EXISTS (SELECT 1 FROM payments o WHERE o.payin_id = p.id AND o.kind = $2 AND o.basis = 'escrow'"
	             "              AND o.direction = 'out' AND o.status NOT IN ('failed', 'cancelled'))"
	             "      OR (p.status = 'completed' AND p.escrow_state = 'funded'))"
	             " ORDER BY p.created_at", 2, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return NULL;
	}
	if (PQntuples(res) == 1)
		return res;
	if (PQntuples(res) == 0)
		resp_error(resp, 409, "not_funded", "purchaseRequestId", "purchase request %s has no funded pay-in to pay out",
		           request_id);
	else
		resp_error(resp, 409, "ambiguous", "paymentId", "purchase request %s has %d funded pay-ins: name one with paymentId",
		           request_id, PQntuples(res));
	PQclear(res);
	return NULL;
}

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
