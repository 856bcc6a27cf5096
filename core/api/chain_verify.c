/* Wallet-direct payments checked on chain: verify a buyer's transaction hash,
 * re-verify what is pending (cron), and find the missing hash of a completed
 * payment in the token's Transfer logs. */
#include <stdio.h>
#include <string.h>
#include <time.h>


#include "api/handlers.h"
#include "base/log.h"
#include "flow/chainpay.h"
#include "http/jsonin.h"
#include "pay/payment.h"

/* Bounds per call: each payment costs a few RPC calls, and nginx waits 60 s. */
#define VERIFY_ALL_DEFAULT 20
#define VERIFY_ALL_MAX 50
#define FETCH_ALL_DEFAULT 10
#define FETCH_ALL_MAX 50
#define FETCH_ONE_SECONDS 25
#define BATCH_SECONDS 40

/* The verification answer in the envelope: data on success and on a 422 alike. */
static json_object *outcome_json(const struct chainpay_outcome *out, const char *id)
{
	json_object *o = out->verified ? verify_result_json(&out->vr, out->decimals) : json_object_new_object();

	json_object_object_add(o, "paymentId", json_object_new_string(id));
	json_object_object_add(o, "transactionHash", json_object_new_string(out->tx_hash));
	if (!out->verified) {
		json_object_object_add(o, "status", json_object_new_string(out->kind == CHAINPAY_CONFIRMED ? "confirmed"
		                                                                                           : chainpay_kind_name(out->kind)));
		json_object_object_add(o, "message", json_object_new_string(out->message));
	}
	if (out->used_by[0])
		json_object_object_add(o, "usedByPaymentId", json_object_new_string(out->used_by));
	if (out->row)
		json_object_object_add(o, "payment", payment_json(out->row, 0));
	return o;
}

static void answer(struct response *resp, struct chainpay_outcome *out, const char *id)
{
	int status = chainpay_http_status(out);

	switch (out->kind) {
	case CHAINPAY_CONFIRMED:
	case CHAINPAY_PENDING:
		resp_ok(resp, status, outcome_json(out, id), out->message);
		return;
	case CHAINPAY_FAILED:
		resp_error_data(resp, status, verify_reason_name(out->vr.reason), "transactionHash",
		                outcome_json(out, id), "%s", out->message);
		return;
	case CHAINPAY_TX_USED:
		resp_error_data(resp, status, "tx_hash_used", "transactionHash", outcome_json(out, id), "%s",
		                out->message);
		return;
	case CHAINPAY_UNAVAILABLE:
	case CHAINPAY_UPSTREAM:
		resp_header(resp, "Retry-After", "%d", out->retry_after > 0 ? out->retry_after : 5);
		resp_error(resp, status, chainpay_kind_name(out->kind), NULL, "%s", out->message);
		return;
	case CHAINPAY_DB:
		resp_db_error(resp, out->dbst);
		return;
	default:
		resp_error(resp, status, chainpay_kind_name(out->kind), NULL, "%s", out->message);
	}
}

enum { V_ID, V_TX, V_N };
static const struct jfield verify_fields[V_N] = {
	[V_ID] = { "paymentId", JK_UUID, false, 0, 0, NULL },
	[V_TX] = { "transactionHash", JK_TXHASH, true, 0, 0, NULL },
};

void h_chain_verify(struct request *req, struct response *resp)
{
	struct jval v[V_N];
	struct chainpay_outcome out = { 0 };
	json_object *body = jin_body(req, resp);
	PGresult *pay = NULL;
	const char *id = req_path_param(req, "paymentId");

	if (body == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if (jin_check(verify_fields, V_N, body, NULL, v, resp) != 0)
		goto out;
	if (id && v[V_ID].present && strcasecmp(id, v[V_ID].str) != 0) {
		resp_error(resp, 400, "invalid_field", "paymentId", "paymentId in the body differs from the path");
		goto out;
	}
	if (id == NULL && !v[V_ID].present) {
		resp_error(resp, 400, "invalid_field", "paymentId", "paymentId is required");
		goto out;
	}
	if ((pay = payment_visible(req, resp, id ? id : v[V_ID].str, "paymentId", PARTY_BUYER)) == NULL)
		goto out;
	chainpay_verify(req->app->db, req->app->cfg, pay, 0, v[V_TX].str, req->auth.sub, req->request_id, &out);
	log_info("payment %s: verify %s -> %s (%s)", PQgetvalue(pay, 0, PCOL_ID), v[V_TX].str,
	         chainpay_kind_name(out.kind), out.message);
	answer(resp, &out, PQgetvalue(pay, 0, PCOL_ID));
out:
	PQclear(out.row);
	PQclear(pay);
	json_object_put(body);
}

/* {"limit": n} in an optional body; 400 written on a bad one. */
static int batch_limit(struct request *req, struct response *resp, long dflt, long max, long *limit)
{
	const struct jfield f[1] = { { "limit", JK_INT, false, 1, max, NULL } };
	struct jval v[1];
	json_object *body;
	int rc = jin_optional(req, resp, f, 1, v, &body);

	*limit = rc == 0 && v[0].present ? (long)v[0].num : dflt;
	json_object_put(body);
	return rc;
}

static json_object *batch_item(const struct chainpay_outcome *out, const char *id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "paymentId", json_object_new_string(id));
	json_object_object_add(o, "outcome", json_object_new_string(chainpay_kind_name(out->kind)));
	json_object_object_add(o, "httpStatus", json_object_new_int(chainpay_http_status(out)));
	json_object_object_add(o, "transactionHash", out->tx_hash[0] ? json_object_new_string(out->tx_hash) : NULL);
	json_object_object_add(o, "message", json_object_new_string(out->message));
	if (out->verified)
		json_object_object_add(o, "reason", json_object_new_string(verify_reason_name(out->vr.reason)));
	return o;
}

void h_chain_verify_all(struct request *req, struct response *resp)
{
	const char *actor = req->auth.sub;
	long limit;
	PGresult *rows = NULL;
	enum db_status st;
	int counts[CHAINPAY_DB + 1] = { 0 };
	time_t deadline = time(NULL) + BATCH_SECONDS;

	if (batch_limit(req, resp, VERIFY_ALL_DEFAULT, VERIFY_ALL_MAX, &limit) != 0)
		return;
	if (db_ready(req->app->db) != DB_OK) {
		resp_db_error(resp, DB_UNAVAILABLE);
		return;
	}
	st = chainpay_select_unverified(req->app->db, limit, &rows);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	json_object *list = json_object_new_array(), *data = json_object_new_object(), *sum = json_object_new_object();
	int checked = 0;
	for (int i = 0; i < PQntuples(rows) && time(NULL) < deadline; i++) {
		struct chainpay_outcome out;
		const int txcol = PQnfields(rows) - 1;
		chainpay_verify(req->app->db, req->app->cfg, rows, i, PQgetvalue(rows, i, txcol), actor,
		                req->request_id, &out);
		counts[out.kind]++;
		checked++;
		json_object_array_add(list, batch_item(&out, PQgetvalue(rows, i, PCOL_ID)));
		PQclear(out.row);
	}
	for (int k = 0; k <= CHAINPAY_DB; k++)
		if (counts[k])
			json_object_object_add(sum, chainpay_kind_name((enum chainpay_kind)k), json_object_new_int(counts[k]));
	json_object_object_add(data, "checked", json_object_new_int(checked));
	json_object_object_add(data, "remainingInBatch", json_object_new_int(PQntuples(rows) - checked));
	json_object_object_add(data, "outcomes", sum);
	json_object_object_add(data, "results", list);
	log_info("verify-all-pending by %s: %d checked", actor, checked);
	resp_ok(resp, 200, data, NULL);
	PQclear(rows);
}

void h_chain_fetch_tx(struct request *req, struct response *resp)
{
	struct chainpay_outcome out;
	const char *id = req_path_param(req, "id");
	/* POST /payments/:id/fetch-tx, or the older GET /fetch-tx/:paymentId. */
	PGresult *pay = id ? payment_visible(req, resp, id, "id", PARTY_BUYER)
	                   : payment_visible(req, resp, req_path_param(req, "paymentId"), "paymentId", PARTY_BUYER);

	if (pay == NULL)
		return;
	bool shkeeper = strcmp(PQgetvalue(pay, 0, PCOL_PROVIDER), "shkeeper") == 0;
	/* The search covers the payment's own wallet only, for its buyer and an
	 * admin alike; a payment without one is not searched (409). */
	chainpay_fetch_tx(req->app->db, req->app->cfg, pay, 0, req->auth.sub, req->request_id,
	                  time(NULL) + FETCH_ONE_SECONDS, &out);
	if (out.kind == CHAINPAY_CONFIRMED) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "paymentId", json_object_new_string(PQgetvalue(pay, 0, PCOL_ID)));
		json_object_object_add(o, "transactionHash", json_object_new_string(out.tx_hash));
		json_object_object_add(o, "network", PQgetisnull(pay, 0, PCOL_NETWORK) ? NULL :
		                       json_object_new_string(PQgetvalue(pay, 0, PCOL_NETWORK)));
		json_object_object_add(o, "source", json_object_new_string(shkeeper ? "shkeeper" : "eth_getLogs"));
		if (out.row)
			json_object_object_add(o, "payment", payment_json(out.row, 0));
		resp_ok(resp, 200, o, out.message);
	} else {
		answer(resp, &out, PQgetvalue(pay, 0, PCOL_ID));
	}
	PQclear(out.row);
	PQclear(pay);
}

void h_chain_fetch_missing(struct request *req, struct response *resp)
{
	long limit;
	PGresult *rows = NULL;
	enum db_status st;
	time_t deadline = time(NULL) + BATCH_SECONDS;

	if (batch_limit(req, resp, FETCH_ALL_DEFAULT, FETCH_ALL_MAX, &limit) != 0)
		return;
	st = chainpay_select_missing_tx(req->app->db, limit, &rows);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	json_object *list = json_object_new_array(), *data = json_object_new_object();
	int found = 0, checked = 0;
	for (int i = 0; i < PQntuples(rows) && time(NULL) < deadline; i++) {
		struct chainpay_outcome out;
		chainpay_fetch_tx(req->app->db, req->app->cfg, rows, i, req->auth.sub, req->request_id, deadline, &out);
		found += out.kind == CHAINPAY_CONFIRMED;
		checked++;
		json_object_array_add(list, batch_item(&out, PQgetvalue(rows, i, PCOL_ID)));
		PQclear(out.row);
	}
	json_object_object_add(data, "checked", json_object_new_int(checked));
	json_object_object_add(data, "found", json_object_new_int(found));
	json_object_object_add(data, "results", list);
	resp_ok(resp, 200, data, NULL);
	PQclear(rows);
}
