/*
 * The buyer's own word for a SHKeeper pay-in: "I sent it, here is the hash".
 * The hash is checked on the chain against the invoice's deposit address,
 * and the buyer's final transfers there are held to SHKeeper's own PAID rule
 * (flow/shk_onchain.h: the fiat price at llimit, not the fee-inclusive
 * amount), then applied through the coordinator exactly as SHKeeper's PAID
 * callback would be: whichever of the two comes first moves the payment, and
 * the other finds it already there and changes nothing. Once SHKeeper may
 * have re-priced the invoice, only SHKeeper knows the rate each transfer was
 * valued at: the buyer's claim is deferred to its callback (409).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "base/log.h"
#include "evm/verify.h"
#include "flow/shk_onchain.h"
#include "http/jsonin.h"
#include "pay/coord.h"
#include "pay/payment.h"

/* After PAYMENT_COLUMNS: may SHKeeper have re-priced it, from when, and the pay-in's first block (-1: not known). */
enum { C_REPRICED = 29, C_RECALCULATE = 30, C_FROM_BLOCK = 31 };

enum { F_ID, F_TX, F_NETWORK, F_N };
static const struct jfield confirm_fields[F_N] = {
	[F_ID] = { "paymentId", JK_UUID, true, 0, 0, NULL },
	[F_TX] = { "transactionHash", JK_TXHASH, true, 0, 0, NULL },
	[F_NETWORK] = { "network", JK_NETWORK, false, 0, 0, NULL },
};

static json_object *confirm_json(const PGresult *row, const char *tx, json_object *chain)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "paymentId", json_object_new_string(PQgetvalue(row, 0, PCOL_ID)));
	json_object_object_add(d, "transactionHash", json_object_new_string(tx));
	json_object_object_add(d, "status", json_object_new_string(PQgetvalue(row, 0, PCOL_STATUS)));
	json_object_object_add(d, "escrowState", json_object_new_string(PQgetvalue(row, 0, PCOL_ESCROW)));
	if (chain)
		json_object_object_add(d, "chain", chain);
	return d;
}

/* Applies a confirmed transaction; answers for every outcome of the coordinator. */
static void apply_confirmed(struct request *req, struct response *resp, const char *id, const char *tx,
                            json_object *chain)
{
	PGresult *row = NULL;
	enum db_status st;
	struct coord_change change = {
		.status = "completed", .escrow = "funded", .tx_hash = tx, .source = "chain",
		.actor = req->auth.sub, .reason = "buyer's transaction verified on chain",
		.request_id = req->request_id,
	};

	switch (coord_apply(req->app->db, id, &change, &row, &st)) {
	case COORD_APPLIED:
		resp_ok(resp, 200, confirm_json(row, tx, chain), "payment confirmed on chain");
		break;
	case COORD_UNCHANGED:
		resp_ok(resp, 200, confirm_json(row, tx, chain), "payment already confirmed");
		break;
	case COORD_BACKWARD:
	case COORD_SKIPPED:
		resp_error_data(resp, 409, "invalid_transition", NULL, confirm_json(row, tx, chain),
		                "payment %s is %s and cannot be completed", id, PQgetvalue(row, 0, PCOL_STATUS));
		break;
	case COORD_TX_USED:
		json_object_put(chain);
		resp_error(resp, 409, "tx_hash_used", "transactionHash",
		           "this transaction already pays another payment");
		break;
	case COORD_NOT_FOUND:
		json_object_put(chain);
		resp_error(resp, 404, "not_found", "paymentId", "payment %s not found", id);
		break;
	case COORD_DB:
		json_object_put(chain);
		resp_db_error(resp, st);
		break;
	}
	PQclear(row);
}

void h_shk_confirm(struct request *req, struct response *resp)
{
	struct jval v[F_N];
	struct verify_result vr;
	json_object *body = jin_body(req, resp);
	PGresult *row = NULL;
	enum db_status st;

	if (body == NULL || jin_check(confirm_fields, F_N, body, NULL, v, resp) != 0)
		goto out;
	const char *p[1] = { v[F_ID].str };
	st = db_exec(req->app->db, &row,
	             "SELECT " PAYMENT_COLUMNS ", " SHK_REPRICED_SQL ", " PAYMENT_TS("p.recalculate_at") ","
	             " coalesce(p.deposit_from_block, -1) FROM payments p WHERE p.id = $1"
	             " AND p.provider = 'shkeeper' AND p.direction = 'in'", 1, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (PQntuples(row) == 0 || !req_may_see(req, PQgetvalue(row, 0, PCOL_BUYER))) {
		resp_error(resp, 404, "not_found", "paymentId", "SHKeeper payment %s not found", v[F_ID].str);
		goto out;
	}
	const char *status = PQgetvalue(row, 0, PCOL_STATUS);
	if (strcmp(status, "pending") != 0 && strcmp(status, "processing") != 0) {
		/* Completed by SHKeeper's callback, or closed: the buyer's claim is moot. */
		if (strcmp(status, "completed") == 0)
			resp_ok(resp, 200, confirm_json(row, v[F_TX].str, NULL), "payment already confirmed");
		else
			resp_error(resp, 409, "invalid_transition", NULL, "payment %s is %s", v[F_ID].str, status);
		goto out;
	}
	if (v[F_NETWORK].present && strcmp(v[F_NETWORK].str, PQgetvalue(row, 0, PCOL_NETWORK)) != 0) {
		resp_error(resp, 400, "invalid_field", "network", "payment %s is on %s", v[F_ID].str,
		           PQgetvalue(row, 0, PCOL_NETWORK));
		goto out;
	}
	if (PQgetisnull(row, 0, PCOL_RECEIVER) || PQgetisnull(row, 0, PCOL_CRYPTO_AMOUNT)) {
		resp_error(resp, 409, "no_invoice", NULL, "payment %s has no SHKeeper invoice to pay yet", v[F_ID].str);
		goto out;
	}
	if (strcmp(PQgetvalue(row, 0, C_REPRICED), "t") == 0) {
		/* SHKeeper values each transfer at the rate of the moment it arrived, which only it knows. */
		resp_error(resp, 409, "invoice_repriced", NULL,
		           "SHKeeper re-prices payment %s's invoice from %s at the rate of the day each transfer arrives:"
		           " it is completed by SHKeeper's own PAID, not here", v[F_ID].str, PQgetvalue(row, 0, C_RECALCULATE));
		goto out;
	}
	const struct token_conf *tok = config_token(req->app->cfg, PQgetvalue(row, 0, PCOL_NETWORK),
	                                            PQgetvalue(row, 0, PCOL_TOKEN));
	if (tok == NULL) {
		resp_error(resp, 409, "not_verifiable", NULL, "payment %s's token is not configured here", v[F_ID].str);
		goto out;
	}
	/*
	 * No transaction is open while the chain is asked. The hash must be a
	 * final transfer of the invoice's token to its deposit address; how much
	 * is enough is SHKeeper's rule, on the sum (shk_confirm_total).
	 */
	assert(!req->app->db->in_tx);
	enum verify_verdict verdict = verify_payment_tx(
	    req->app->cfg, PQgetvalue(row, 0, PCOL_NETWORK), PQgetvalue(row, 0, PCOL_CONTRACT),
	    PQgetvalue(row, 0, PCOL_RECEIVER), "0", NULL, v[F_TX].str, &vr);
	json_object *chain = verify_result_json(&vr, (unsigned)tok->decimals);
	log_info("confirm-transaction %s %s: %s (%s)", v[F_ID].str, v[F_TX].str, verify_verdict_name(verdict),
	         verify_reason_name(vr.reason));
	switch (verdict) {
	case VERIFY_CONFIRMED: {
		char msg[400];
		int retry = 0;
		switch (shk_confirm_total(req->app->cfg, row, strtoll(PQgetvalue(row, 0, C_FROM_BLOCK), NULL, 10), v[F_TX].str,
		                          &vr, msg, sizeof(msg), &retry)) {
		case ONCHAIN_CONFIRMED:
			apply_confirmed(req, resp, v[F_ID].str, v[F_TX].str, chain);
			break;
		case ONCHAIN_NOT_FINAL:
			/* The buyer's earlier transfers make it up once final: ask again, as for a transfer not final. */
			resp_header(resp, "Retry-After", "%d", retry > 0 ? retry : 15);
			resp_ok(resp, 202, confirm_json(row, v[F_TX].str, chain), msg);
			break;
		case ONCHAIN_UNAVAILABLE:
			json_object_put(chain);
			resp_header(resp, "Retry-After", "%d", retry > 0 ? retry : 5);
			resp_error(resp, 503, "chain_unavailable", NULL, "%s", msg);
			break;
		case ONCHAIN_NOT_VERIFIABLE:
			json_object_put(chain);
			resp_error(resp, 409, "not_verifiable", NULL, "%s", msg);
			break;
		default:
			/* SHKeeper's invoice stays open: the buyer may still send the rest. */
			log_info("confirm-transaction %s %s: short: %s", v[F_ID].str, v[F_TX].str, msg);
			resp_error_data(resp, 422, "amount_short", "transactionHash", confirm_json(row, v[F_TX].str, chain),
			                "%s", msg);
			break;
		}
		break;
	}
	case VERIFY_PENDING:
		resp_ok(resp, 202, confirm_json(row, v[F_TX].str, chain), vr.message);
		break;
	case VERIFY_FAILED:
		/* SHKeeper's invoice stays open: a wrong hash from the buyer does not fail the payment. */
		resp_error_data(resp, 422, verify_reason_name(vr.reason), "transactionHash",
		                confirm_json(row, v[F_TX].str, chain), "%s", vr.message);
		break;
	case VERIFY_ERROR:
		json_object_put(chain);
		if (vr.rpc.kind == RPC_ENOCONF) {
			resp_error(resp, 409, "not_verifiable", NULL, "%s", vr.message[0] ? vr.message : vr.rpc.message);
			break;
		}
		resp_header(resp, "Retry-After", "%d", vr.rpc.retry_after > 0 ? vr.rpc.retry_after : 5);
		resp_error(resp, vr.rpc.kind == RPC_EUNAVAILABLE ? 503 : 502, "chain_unavailable", NULL, "%s",
		           vr.message[0] ? vr.message : vr.rpc.message);
		break;
	}
out:
	PQclear(row);
	json_object_put(body);
}
