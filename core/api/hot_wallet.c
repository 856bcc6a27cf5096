/* Payouts from the service's hot wallet.
 *
 *   POST /decentralized/admin-payout          (admin) pay a request's escrow out from the hot wallet; a repeat resumes it
 *   POST /decentralized/admin-payout/resume   (admin or internal token) take every hot-wallet payout in flight forward
 *   GET  /decentralized/admin-payout/wallet   (admin) the hot wallet: address, nonces, balances */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bn.h>

#include "api/handlers.h"
#include "api/payout_answer.h"
#include "base/log.h"
#include "evm/chain.h"
#include "evm/units.h"
#include "flow/hotwallet.h"
#include "flow/outgoing.h"
#include "http/jsonin.h"
#include "pay/payout.h"

#define REASON_MAX 500
#define RESUME_DEFAULT 20
#define RESUME_MAX 100
#define RESUME_SECONDS 40

static const char *const kinds[] = { "release", "refund", NULL };

enum { A_REQUEST, A_PAYMENT, A_RECEIVER, A_AMOUNT, A_CURRENCY, A_NETWORK, A_KIND, A_REASON, A_N };
static const struct jfield payout_fields[A_N] = {
	[A_REQUEST] = { "purchaseRequestId", JK_ID, false, 0, 0, NULL },
	[A_PAYMENT] = { "paymentId", JK_UUID, false, 0, 0, NULL },
	[A_RECEIVER] = { "receiverWalletAddress", JK_ADDRESS, false, 0, 0, NULL },
	[A_AMOUNT] = { "amount", JK_AMOUNT, false, 0, 0, NULL },
	[A_CURRENCY] = { "currency", JK_CURRENCY, false, 0, 0, NULL },
	[A_NETWORK] = { "network", JK_STRING, false, 0, 16, NULL },
	[A_KIND] = { "kind", JK_ENUM, false, 0, 0, kinds },
	[A_REASON] = { "reason", JK_STRING, false, 0, REASON_MAX, NULL },
};

static void answer(struct response *resp, const struct hot_outcome *o)
{
	int status = hot_http_status(o);

	switch (o->kind) {
	case HOT_COMPLETED:
	case HOT_PENDING:
		resp_ok(resp, status, hot_outcome_json(o), o->message);
		return;
	case HOT_UNAVAILABLE:
		resp_header(resp, "Retry-After", "%d", o->retry_after > 0 ? o->retry_after : 5);
		/* fall through */
	case HOT_FAILED:
	case HOT_CONFLICT:
	case HOT_REFUSED:
		resp_error_data(resp, status, o->code, NULL, hot_outcome_json(o), "%s", o->message);
		return;
	case HOT_DB:
		resp_db_error(resp, o->dbst);
		return;
	}
}

/* The body's network and currency, when given, must be the pay-in's (the seed sends "BSC"). */
static int matches_payin(struct response *resp, const PGresult *payin, const struct jval *v)
{
	const char *network = PQgetisnull(payin, 0, PCOL_NETWORK) ? "" : PQgetvalue(payin, 0, PCOL_NETWORK);
	const char *token = PQgetisnull(payin, 0, PCOL_TOKEN) ? "" : PQgetvalue(payin, 0, PCOL_TOKEN);

	if (v[A_NETWORK].present && strcasecmp(v[A_NETWORK].str, network) != 0) {
		resp_error(resp, 409, "network_mismatch", "network", "the pay-in is on %s, not %s", network, v[A_NETWORK].str);
		return -1;
	}
	if (v[A_CURRENCY].present && strcmp(v[A_CURRENCY].str, token) != 0) {
		resp_error(resp, 409, "currency_mismatch", "currency", "the pay-in's escrow holds %s, not %s", token,
		           v[A_CURRENCY].str);
		return -1;
	}
	return 0;
}

/* A receiver the body names that is the registered wallet anyway needs no reason. */
static const char *entered_recipient(struct request *req, const PGresult *payin, const char *kind, const struct jval *v,
                                     enum db_status *st)
{
	char registered[43], user[72];

	if (!v[A_RECEIVER].present)
		return NULL;
	if (payout_registered_recipient(req->app->db, payin, kind, registered, user, st) == 1 &&
	    strcasecmp(registered, v[A_RECEIVER].str) == 0)
		return NULL;
	return v[A_RECEIVER].str;
}

void h_hot_wallet_payout(struct request *req, struct response *resp)
{
	struct jval v[A_N];
	struct hot_outcome o = { 0 };
	struct payout_refusal why = { "", "" };
	json_object *body = jin_body(req, resp);
	PGresult *payin = NULL, *out = NULL;
	const struct config *cfg = req->app->cfg;
	const char *hot = hotwallet_address(cfg);
	enum db_status st = DB_OK;
	int http;

	if (body == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if (jin_check(payout_fields, A_N, body, NULL, v, resp) != 0)
		goto out;
	const char *kind = v[A_KIND].present ? v[A_KIND].str : "release";
	if (hot == NULL) {
		resp_error(resp, 409, "hot_wallet_not_configured", NULL, "no hot wallet is configured (hot_wallet_key_file)");
		goto out;
	}
	const char *request_id = v[A_REQUEST].present ? v[A_REQUEST].str : NULL;
	const char *payment_id = v[A_PAYMENT].present ? v[A_PAYMENT].str : NULL;
	if ((payin = payout_payin(req, resp, request_id, payment_id, kind)) == NULL || matches_payin(resp, payin, v) != 0)
		goto out;
	const char *id = PQgetvalue(payin, 0, PCOL_ID);
	if ((st = payout_find_active(req->app->db, id, kind, "escrow", &out)) != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (out == NULL) {
		struct outgoing_ask ask = {
			.kind = kind, .basis = "escrow", .provider = "hot_wallet", .sender = hot,
			.recipient = entered_recipient(req, payin, kind, v, &st),
			.reason = v[A_REASON].present ? v[A_REASON].str : NULL,
			.amount = v[A_AMOUNT].present ? v[A_AMOUNT].amount : NULL,
			.actor = req->auth.sub, .request_id = req->request_id,
		};
		enum payout_result r;
		if ((http = outgoing_open(req->app->db, cfg, payin, &ask, &r, &out, &why, &st)) != 0) {
			if (http >= 500)
				resp_db_error(resp, st);
			else
				resp_error(resp, http, why.code,
				           strcmp(why.code, "invalid_recipient") == 0 ? "receiverWalletAddress" : NULL, "%s", why.message);
			goto out;
		}
		switch (r) {
		case PAYOUT_DONE:
		case PAYOUT_EXISTS:
			break;
		case PAYOUT_REFUSED:
			resp_error(resp, 409, why.code, NULL, "%s", why.message);
			goto out;
		case PAYOUT_NOT_FOUND:
			resp_error(resp, 404, "not_found", NULL, "payment %s not found", id);
			goto out;
		default:
			resp_db_error(resp, st);
			goto out;
		}
	}
	if (strcmp(PQgetvalue(out, 0, PCOL_PROVIDER), "hot_wallet") != 0) {
		resp_error(resp, 409, "payout_exists", NULL, "a %s payout %s is already active for payment %s",
		           PQgetvalue(out, 0, PCOL_PROVIDER), PQgetvalue(out, 0, PCOL_ID), id);
		goto out;
	}
	hotwallet_advance(req->app->db, cfg, out, req->auth.sub, req->request_id, &o);
	log_info("hot-wallet payout %s: %s (%s)", PQgetvalue(out, 0, PCOL_ID), hot_kind_name(o.kind), o.message);
	answer(resp, &o);
out:
	PQclear(o.row);
	PQclear(out);
	PQclear(payin);
	json_object_put(body);
}

void h_hot_wallet_resume(struct request *req, struct response *resp)
{
	const struct jfield f[1] = { { "limit", JK_INT, false, 1, RESUME_MAX, NULL } };
	struct jval v[1];
	json_object *body = NULL;
	PGresult *rows = NULL;
	time_t deadline = time(NULL) + RESUME_SECONDS;
	enum db_status st;

	if (jin_optional(req, resp, f, 1, v, &body) != 0)
		goto out;
	st = hotwallet_select_in_flight(req->app->db, 0, v[0].present ? (int)v[0].num : RESUME_DEFAULT, &rows);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	json_object *list = json_object_new_array(), *data = json_object_new_object(), *sum = json_object_new_object();
	int checked = 0, counts[HOT_DB + 1] = { 0 };
	for (int i = 0; i < PQntuples(rows) && time(NULL) < deadline; i++) {
		struct hot_outcome o;
		PGresult *one = NULL;
		const char *ip[1] = { PQgetvalue(rows, i, PCOL_ID) };
		/* Each payout read alone: hotwallet_advance works on row 0. */
		if (db_exec(req->app->db, &one, "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1", 1, ip) != DB_OK)
			break;
		hotwallet_advance(req->app->db, req->app->cfg, one, req->auth.sub, req->request_id, &o);
		json_object *item = json_object_new_object();
		json_object_object_add(item, "payoutId", json_object_new_string(ip[0]));
		json_object_object_add(item, "outcome", json_object_new_string(hot_kind_name(o.kind)));
		json_object_object_add(item, "code", json_object_new_string(o.code));
		json_object_object_add(item, "transactionHash", o.tx_hash[0] ? json_object_new_string(o.tx_hash) : NULL);
		json_object_object_add(item, "message", json_object_new_string(o.message));
		json_object_array_add(list, item);
		counts[o.kind]++;
		checked++;
		PQclear(o.row);
		PQclear(one);
	}
	for (int k = 0; k <= HOT_DB; k++)
		if (counts[k])
			json_object_object_add(sum, hot_kind_name((enum hot_kind)k), json_object_new_int(counts[k]));
	json_object_object_add(data, "checked", json_object_new_int(checked));
	json_object_object_add(data, "outcomes", sum);
	json_object_object_add(data, "results", list);
	log_info("hot-wallet resume by %s: %d checked", req->auth.sub, checked);
	resp_ok(resp, 200, data, NULL);
out:
	PQclear(rows);
	json_object_put(body);
}

/* A balance in whole units as decimal text, or NULL when the node cannot say. */
static json_object *balance_json(const BIGNUM *v, unsigned decimals)
{
	char text[UNITS_DEC_BUFSZ];

	return units_format(v, decimals, text, sizeof(text)) == UNITS_OK ? json_object_new_string(text) : NULL;
}

void h_hot_wallet_status(struct request *req, struct response *resp)
{
	const struct config *cfg = req->app->cfg;
	const char *hot = hotwallet_address(cfg);
	json_object *data = json_object_new_object(), *nets = json_object_new_array();
	BIGNUM *v = BN_new();

	json_object_object_add(data, "configured", json_object_new_boolean(hot != NULL));
	json_object_object_add(data, "address", hot ? json_object_new_string(hot) : NULL);
	for (size_t i = 0; hot && v && i < cfg->n_networks; i++) {
		const struct network_conf *net = &cfg->networks[i];
		json_object *n = json_object_new_object(), *toks = json_object_new_array();
		struct rpc_client c;
		struct rpc_error e;
		uint64_t latest, pending;

		json_object_object_add(n, "network", json_object_new_string(net->name));
		json_object_object_add(n, "feeModel", json_object_new_string(net->eip1559 ? "eip1559" : "legacy"));
		if (net->n_rpc == 0 || chain_ready(cfg, net->name, &e) != RPC_OK || rpc_client_init(&c, cfg, net->name, &e) != RPC_OK) {
			json_object_object_add(n, "available", json_object_new_boolean(0));
			json_object_array_add(nets, n);
			json_object_put(toks);
			continue;
		}
		json_object_object_add(n, "available", json_object_new_boolean(1));
		json_object_object_add(n, "chainId", json_object_new_int64(net->chain_id));
		if (rpc_tx_count(&c, hot, "latest", &latest, &e) == RPC_OK && rpc_tx_count(&c, hot, "pending", &pending, &e) == RPC_OK) {
			json_object_object_add(n, "nonce", json_object_new_int64((int64_t)latest));
			json_object_object_add(n, "pendingNonce", json_object_new_int64((int64_t)pending));
		}
		if (rpc_balance(&c, hot, "latest", v, &e) == RPC_OK)
			json_object_object_add(n, "balance", balance_json(v, 18));
		for (size_t t = 0; t < cfg->n_tokens; t++) {
			if (strcmp(cfg->tokens[t].network, net->name) != 0)
				continue;
			json_object *tok = json_object_new_object();
			json_object_object_add(tok, "symbol", json_object_new_string(cfg->tokens[t].symbol));
			json_object_object_add(tok, "contract", json_object_new_string(cfg->tokens[t].contract));
			if (rpc_token_balance(&c, cfg->tokens[t].contract, hot, "latest", v, &e) == RPC_OK)
				json_object_object_add(tok, "balance", balance_json(v, (unsigned)cfg->tokens[t].decimals));
			json_object_array_add(toks, tok);
		}
		json_object_object_add(n, "tokens", toks);
		json_object_array_add(nets, n);
	}
	BN_free(v);
	json_object_object_add(data, "networks", nets);
	PGresult *res = NULL;
	if (db_exec(req->app->db, &res, "SELECT count(*) FROM hot_wallet_txs WHERE status IN ('signed', 'broadcast')", 0, NULL) == DB_OK)
		json_object_object_add(data, "inFlight", json_object_new_int64(atoll(PQgetvalue(res, 0, 0))));
	PQclear(res);
	resp_ok(resp, 200, data, NULL);
}
