/*
 * Development helpers from the older API, registered only in dev mode (the
 * router answers 404 for them otherwise): they poke SHKeeper, echo what a
 * callback looks like, and send a correctly signed callback to ourselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "api/handlers.h"
#include "base/httpc.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "http/jsonin.h"
#include "pay/payment.h"
#include "shkeeper/shkeeper.h"

void h_shk_test(struct request *req, struct response *resp)
{
	json_object *crypto = NULL;
	char msg[300];

	if (shk_list_crypto(req->app->cfg, &crypto, msg, sizeof(msg)) != SHK_OK) {
		resp_header(resp, "Retry-After", "5");
		resp_error(resp, 502, "upstream_unavailable", NULL, "%s", msg);
		return;
	}
	json_object *data = json_object_new_object();
	json_object_object_add(data, "reachable", json_object_new_boolean(1));
	json_object_object_add(data, "shkeeper", crypto);
	resp_ok(resp, 200, data, "SHKeeper answered");
}

void h_shk_callback_test(struct request *req, struct response *resp)
{
	static const char *const names[] = { "HTTP_X_SHKEEPER_TIMESTAMP", "HTTP_X_SHKEEPER_SIGNATURE",
	                                     "CONTENT_TYPE", "HTTP_USER_AGENT" };
	json_object *data = json_object_new_object(), *h = json_object_new_object();

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = req_param(req, names[i]);
		json_object_object_add(h, names[i], v ? json_object_new_string_len(v, (int)strnlen(v, 256)) : NULL);
	}
	json_object_object_add(data, "method", json_object_new_string(req->method_name));
	json_object_object_add(data, "bodyBytes", json_object_new_int64((int64_t)req->body_len));
	json_object_object_add(data, "headers", h);
	json_object_object_add(data, "receivedAt", json_object_new_int64((int64_t)time(NULL)));
	resp_ok(resp, 200, data, "callback endpoint reachable");
}

static const struct jfield test_payment_fields[3] = {
	{ "buyerId", JK_ID, false, 0, 0, NULL },
	{ "amount", JK_AMOUNT, false, 0, 0, NULL },
	{ "purchaseRequestId", JK_ID, false, 0, 0, NULL },
};

void h_shk_create_test_payment(struct request *req, struct response *resp)
{
	struct jval v[3];
	json_object *body;
	PGresult *row = NULL;
	char request[48];

	if (jin_optional(req, resp, test_payment_fields, 3, v, &body) != 0)
		goto out;
	snprintf(request, sizeof(request), "test-request-%ld", (long)time(NULL));
	const char *p[3] = { v[0].present ? v[0].str : "test-buyer", v[1].present ? v[1].amount : "10",
	                     v[2].present ? v[2].str : request };
	enum db_status st = db_exec(req->app->db, &row,
	                            "WITH g AS (SELECT gen_random_uuid() AS id)"
	                            " INSERT INTO payments AS p (id, external_id, direction, provider, buyer_id,"
	                            "  purchase_request_id, amount, currency, network, token, crypto_name,"
	                            "  crypto_amount, created_by, metadata)"
	                            " SELECT g.id, g.id::text, 'in', 'shkeeper', $1, $3, $2::numeric, 'USD',"
	                            "  'bsc', 'USDT', 'BNB-USDT', $2::numeric, 'dev', '{\"test\": true}' FROM g"
	                            " RETURNING " PAYMENT_COLUMNS, 3, p);
	if (st == DB_UNIQUE)
		resp_error(resp, 409, "payment_exists", NULL, "an active test payment exists for that buyer and request");
	else if (st != DB_OK)
		resp_db_error(resp, st);
	else
		resp_ok(resp, 201, payment_json(row, 0), "test payment created");
out:
	PQclear(row);
	json_object_put(body);
}

static const char *const trigger_statuses[] = { "PAID", "OVERPAID", "PARTIAL", "EXPIRED", "CANCELLED",
	                                        "UNPAID", "REFUNDED", NULL };
static const struct jfield trigger_fields[3] = {
	{ "paymentId", JK_UUID, true, 0, 0, NULL },
	{ "status", JK_ENUM, false, 0, 0, trigger_statuses },
	/* A real transfer to name, so that the on-chain check can pass; else a made-up one. */
	{ "transactionHash", JK_TXHASH, false, 0, 0, NULL },
};

/* A callback as SHKeeper builds it: compact, keys in sorted order, amounts as strings. */
static char *callback_body(const PGresult *row, const char *status, const char *txid, const char *date)
{
	const char *fiat = PQgetvalue(row, 0, PCOL_AMOUNT);
	const char *crypto_amount = PQgetisnull(row, 0, PCOL_CRYPTO_AMOUNT) ? fiat : PQgetvalue(row, 0, PCOL_CRYPTO_AMOUNT);
	const char *crypto = PQgetvalue(row, 0, 29);
	json_object *b = json_object_new_object(), *txs = json_object_new_array(), *t = json_object_new_object();
	bool paid = strcmp(status, "PAID") == 0 || strcmp(status, "OVERPAID") == 0;

	json_object_object_add(t, "amount_crypto", json_object_new_string(crypto_amount));
	json_object_object_add(t, "amount_fiat", json_object_new_string(fiat));
	json_object_object_add(t, "crypto", json_object_new_string(crypto));
	json_object_object_add(t, "date", json_object_new_string(date));
	json_object_object_add(t, "trigger", json_object_new_boolean(1));
	json_object_object_add(t, "txid", json_object_new_string(txid));
	json_object_array_add(txs, t);
	json_object_object_add(b, "addr", json_object_new_string(PQgetisnull(row, 0, PCOL_RECEIVER) ? "" : PQgetvalue(row, 0, PCOL_RECEIVER)));
	json_object_object_add(b, "balance_crypto", json_object_new_string(crypto_amount));
	json_object_object_add(b, "balance_fiat", json_object_new_string(fiat));
	json_object_object_add(b, "crypto", json_object_new_string(crypto));
	json_object_object_add(b, "external_id", json_object_new_string(PQgetvalue(row, 0, PCOL_EXTERNAL_ID)));
	json_object_object_add(b, "fee_fixed", json_object_new_string("0"));
	json_object_object_add(b, "fee_percent", json_object_new_string("0"));
	json_object_object_add(b, "fee_policy", json_object_new_string("PERCENT_FEE"));
	json_object_object_add(b, "fiat", json_object_new_string("USD"));
	json_object_object_add(b, "overpaid_fiat", json_object_new_string("0.00"));
	json_object_object_add(b, "paid", json_object_new_boolean(paid));
	json_object_object_add(b, "status", json_object_new_string(status));
	json_object_object_add(b, "transactions", txs);
	char *text = xstrdup(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(b);
	return text;
}

void h_shk_trigger_webhook(struct request *req, struct response *resp)
{
	struct jval v[3];
	json_object *body = jin_body(req, resp);
	PGresult *row = NULL;
	char *cb = NULL, txid[67] = "0x", ts[24], sig[65], date[24], url[400], sig_h[100], ts_h[64];
	unsigned char rnd[32];
	struct httpc_response answer = { 0 };
	time_t now = time(NULL);
	struct tm tm;

	if (body == NULL || jin_check(trigger_fields, 3, body, NULL, v, resp) != 0)
		goto out;
	if (req->app->cfg->shkeeper_api_key == NULL) {
		resp_error(resp, 409, "not_configured", NULL, "no SHKeeper API key is configured to sign with");
		goto out;
	}
	const char *p[1] = { v[0].str };
	enum db_status st = db_exec(req->app->db, &row, "SELECT " PAYMENT_COLUMNS ", p.crypto_name FROM payments p"
	                            " WHERE p.id = $1 AND p.provider = 'shkeeper'", 1, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (PQntuples(row) == 0 || PQgetisnull(row, 0, 29) ||
	    !(req_may_see(req, PQgetvalue(row, 0, PCOL_BUYER)))) {
		resp_error(resp, 404, "not_found", "paymentId", "SHKeeper payment %s not found", v[0].str);
		goto out;
	}
	if (v[2].present) {
		snprintf(txid, sizeof(txid), "%s", v[2].str);
	} else {
		RAND_bytes(rnd, sizeof(rnd));
		for (int i = 0; i < 32; i++)
			snprintf(txid + 2 + 2 * i, 3, "%02x", rnd[i]);
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
	cb = callback_body(row, v[1].present ? v[1].str : "PAID", txid, date);
	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	shk_sign(req->app->cfg->shkeeper_api_key, req->app->cfg->shkeeper_api_key_len, ts, cb, strlen(cb), sig);
	snprintf(url, sizeof(url), "%s/api/payment/shkeeper/webhook", req->app->cfg->public_base_url);
	snprintf(ts_h, sizeof(ts_h), "X-Shkeeper-Timestamp: %s", ts);
	snprintf(sig_h, sizeof(sig_h), "X-Shkeeper-Signature: %s", sig);
	const char *headers[4] = { "Content-Type: application/json", ts_h, sig_h, NULL };
	/* Our own endpoint, in dev mode only: its certificate is the local self-signed one. */
	struct httpc_request rq = { .method = "POST", .url = url, .headers = headers, .body = cb,
	                            .body_len = strlen(cb), .connect_timeout_ms = 2000, .timeout_ms = 10000,
	                            .insecure = true };
	char err[256];
	if (httpc_do(&rq, &answer, err, sizeof(err)) != HTTPC_OK) {
		resp_error(resp, 502, "upstream_unavailable", NULL, "our own webhook did not answer: %s", err);
		goto out;
	}
	json_object *data = json_object_new_object();
	json_object_object_add(data, "webhookStatus", json_object_new_int((int)answer.status));
	json_object_object_add(data, "webhookAnswer", json_tokener_parse(answer.body.data ? answer.body.data : "null"));
	json_object_object_add(data, "sentBody", json_object_new_string(cb));
	resp_ok(resp, 200, data, "signed callback delivered to our webhook");
out:
	free(cb);
	buf_free(&answer.body);
	PQclear(row);
	json_object_put(body);
}
