/* Wallet-direct payments: the buyer's intent, its status, history, the
 * receiving address, and the admin's limited update. Verification against the
 * chain is in chain_verify.c. */
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>

#include "api/handlers.h"
#include "base/log.h"
#include "evm/chain.h"
#include "evm/units.h"
#include "flow/chainpay.h"
#include "http/jsonin.h"
#include "pay/coord.h"
#include "pay/payment.h"

#define METADATA_MAX 8192

enum { S_REQUEST, S_OFFER, S_BUYER, S_SELLER, S_AMOUNT, S_CURRENCY, S_TOKEN, S_NETWORK, S_FROM,
       S_WALLET, S_TX, S_META, S_N };
static const struct jfield save_fields[S_N] = {
	[S_REQUEST] = { "purchaseRequestId", JK_ID, true, 0, 0, NULL },
	[S_OFFER] = { "sellerOfferId", JK_ID, false, 0, 0, NULL },
	[S_BUYER] = { "buyerId", JK_ID, false, 0, 0, NULL },
	[S_SELLER] = { "sellerId", JK_ID, false, 0, 0, NULL },
	[S_AMOUNT] = { "amount", JK_AMOUNT, true, 0, 0, NULL },
	[S_CURRENCY] = { "currency", JK_CURRENCY, false, 0, 0, NULL },
	[S_TOKEN] = { "token", JK_CURRENCY, false, 0, 0, NULL },
	[S_NETWORK] = { "network", JK_NETWORK, false, 0, 0, NULL },
	[S_FROM] = { "fromAddress", JK_ADDRESS, false, 0, 0, NULL },
	[S_WALLET] = { "walletAddress", JK_ADDRESS, false, 0, 0, NULL },
	[S_TX] = { "transactionHash", JK_TXHASH, false, 0, 0, NULL },
	[S_META] = { "metadata", JK_OBJECT, false, 0, METADATA_MAX, NULL },
};

/* What the buyer's wallet needs to pay: the escrow address and the exact amount. */
static json_object *intent_json(const struct config *cfg, PGresult *row)
{
	const struct token_conf *t = config_token(cfg, PQgetvalue(row, 0, PCOL_NETWORK), PQgetvalue(row, 0, PCOL_TOKEN));
	const struct network_conf *net = config_network(cfg, PQgetvalue(row, 0, PCOL_NETWORK));
	json_object *o = json_object_new_object();
	char base[UNITS_DEC_BUFSZ] = "";
	BIGNUM *v = BN_new();

	json_object_object_add(o, "paymentId", json_object_new_string(PQgetvalue(row, 0, PCOL_ID)));
	json_object_object_add(o, "status", json_object_new_string(PQgetvalue(row, 0, PCOL_STATUS)));
	json_object_object_add(o, "escrowAddress", json_object_new_string(PQgetvalue(row, 0, PCOL_RECEIVER)));
	json_object_object_add(o, "network", json_object_new_string(PQgetvalue(row, 0, PCOL_NETWORK)));
	json_object_object_add(o, "chainId", net && net->chain_id ? json_object_new_int64(net->chain_id) : NULL);
	json_object_object_add(o, "token", json_object_new_string(PQgetvalue(row, 0, PCOL_TOKEN)));
	json_object_object_add(o, "tokenContract", json_object_new_string(PQgetvalue(row, 0, PCOL_CONTRACT)));
	json_object_object_add(o, "decimals", t ? json_object_new_int(t->decimals) : NULL);
	json_add_amount(o, "amount", PQgetvalue(row, 0, PCOL_AMOUNT));
	/* Base units as a string: 18-decimal amounts do not fit a JSON client's double. */
	if (t && v && units_parse(PQgetvalue(row, 0, PCOL_AMOUNT), (unsigned)t->decimals, v) == UNITS_OK &&
	    units_format(v, 0, base, sizeof(base)) == UNITS_OK)
		json_object_object_add(o, "amountBaseUnits", json_object_new_string(base));
	json_object_object_add(o, "payment", payment_json(row, 0));
	BN_free(v);
	return o;
}

static enum db_status find_active(struct db *db, const char *buyer, const char *request, PGresult **row)
{
	const char *p[2] = { buyer, request };

	return db_exec(db, row,
	               "SELECT " PAYMENT_COLUMNS " FROM payments p WHERE p.buyer_id = $1"
	               " AND p.purchase_request_id = $2 AND p.provider = 'decentralized'"
	               " AND p.direction = 'in' AND p.status IN ('pending', 'processing')", 2, p);
}

/* Checks the body and fills the token and the exact amount; 400 written on failure. */
static int check_save(struct request *req, struct response *resp, struct jval *v,
                      const struct token_conf **tok, char amount[MONEY_TEXT_MAX])
{
	const struct config *cfg = req->app->cfg;
	const char *network = v[S_NETWORK].present ? v[S_NETWORK].str : "bsc";
	const char *symbol = v[S_TOKEN].present ? v[S_TOKEN].str : v[S_CURRENCY].present ? v[S_CURRENCY].str : "USDT";
	const struct currency_conf *cur;
	const struct network_conf *net = config_network(cfg, network);
	enum money_err e;
	int scale;

	if ((*tok = config_token(cfg, network, symbol)) == NULL) {
		resp_error(resp, 400, "invalid_field", "token", "token %s is not accepted on %s", symbol, network);
		return -1;
	}
	if (v[S_CURRENCY].present && strcmp(v[S_CURRENCY].str, symbol) != 0) {
		resp_error(resp, 400, "invalid_field", "currency", "currency %s does not match token %s",
		           v[S_CURRENCY].str, symbol);
		return -1;
	}
	if (net == NULL || net->n_rpc == 0) {
		resp_error(resp, 400, "invalid_field", "network",
		           "wallet-direct payments are not accepted on %s: no RPC is configured to verify them", network);
		return -1;
	}
	/* The amount must be exact in the token's base units and within the currency's scale. */
	scale = (*tok)->decimals < MONEY_MAX_SCALE ? (*tok)->decimals : MONEY_MAX_SCALE;
	if ((cur = config_currency(cfg, symbol)) != NULL && cur->scale < scale)
		scale = cur->scale;
	if ((e = money_from_json(v[S_AMOUNT].obj, scale, amount)) != MONEY_OK) {
		resp_error(resp, 400, "invalid_field", "amount", "amount %s (%s allows %d decimals)",
		           money_strerror(e), symbol, scale);
		return -1;
	}
	return 0;
}

/*
 * The payment's sender: the buyer's wallet as the marketplace registered it
 * (user_wallets, kept after the buyer proved they own it), never an address
 * the body declares. All wallet-direct payments share one escrow address, so
 * the sender is what tells this buyer's transfer from anyone else's. A wallet
 * the body names must be that one. Fills sender; on failure writes the answer.
 */
static int registered_wallet(struct request *req, struct response *resp, const char *buyer,
                             const char *network, const struct jval *v, char sender[64])
{
	const char *p[2] = { buyer, network };
	PGresult *res = NULL;
	enum db_status st;

	if ((st = db_exec(req->app->db, &res, "SELECT address FROM user_wallets WHERE user_id = $1 AND network = $2",
	                  2, p)) != DB_OK) {
		resp_db_error(resp, st);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		resp_error(resp, 409, "wallet_not_registered", NULL,
		           "buyer %s has no %s wallet registered with the marketplace: register the wallet you will pay from, then create the payment",
		           buyer, network);
		return -1;
	}
	snprintf(sender, 64, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	for (int f = S_FROM; f <= S_WALLET; f++)
		if (v[f].present && strcasecmp(v[f].str, sender) != 0) {
			resp_error(resp, 400, "invalid_field", save_fields[f].name,
			           "%s is not the buyer's registered %s wallet; transfers count only from %s",
			           save_fields[f].name, network, sender);
			return -1;
		}
	return 0;
}

/*
 * An offer the body names on its request is paid on the offer's terms: its
 * seller, and its price when it states one. (The coordinator checks the same
 * again when the money arrives, under the request's lock; this is the early,
 * friendly answer.) A body that names no seller is the offer's: seller gets
 * it (else stays ""). 0, or -1 with the answer written.
 */
static int offer_terms(struct request *req, struct response *resp, const struct jval *v, const char *amount,
                       char seller[72])
{
	const char *p[4] = { v[S_OFFER].str, v[S_REQUEST].str, v[S_SELLER].present ? v[S_SELLER].str : NULL, amount };
	PGresult *res = NULL;
	enum db_status st;
	int rc = -1;

	seller[0] = '\0';
	if (!v[S_OFFER].present)
		return 0;
	if ((st = db_exec(req->app->db, &res,
	                  "SELECT $3::text IS NOT NULL AND seller_id <> $3, amount <> $4::numeric, seller_id, amount::text"
	                  " FROM seller_offers WHERE id = $1 AND purchase_request_id = $2", 4, p)) != DB_OK) {
		resp_db_error(resp, st);
		return -1;
	}
	if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		resp_error(resp, 400, "invalid_field", "sellerId", "offer %s is from seller %s", v[S_OFFER].str,
		           PQgetvalue(res, 0, 2));
	else if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		resp_error(resp, 400, "invalid_field", "amount", "amount %s is not the offer's %s", amount,
		           PQgetvalue(res, 0, 3));
	else {
		if (PQntuples(res) == 1)
			snprintf(seller, 72, "%s", PQgetvalue(res, 0, 2));
		rc = 0;
	}
	PQclear(res);
	return rc;
}

static const char *save_metadata(struct jval *v, json_object **owned)
{
	if (!v[S_META].present && !v[S_TX].present)
		return NULL;
	*owned = v[S_META].present ? json_object_get(v[S_META].obj) : json_object_new_object();
	/* A hash given up front is only a hint for the re-verify job: it holds nothing. */
	if (v[S_TX].present)
		json_object_object_add(*owned, "submittedTxHash", json_object_new_string(v[S_TX].str));
	return json_object_to_json_string_ext(*owned, JSON_C_TO_STRING_PLAIN);
}

void h_chain_save(struct request *req, struct response *resp)
{
	struct jval v[S_N];
	const struct token_conf *tok;
	const char *buyer, *meta;
	char amount[MONEY_TEXT_MAX], key[256], sender[64], offer_seller[72];
	json_object *body = jin_body(req, resp), *meta_obj = NULL;
	PGresult *row = NULL;
	struct db *db = req->app->db;
	enum db_status st;
	int created = 0;

	if (body == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if (jin_check(save_fields, S_N, body, NULL, v, resp) != 0 ||
	    check_save(req, resp, v, &tok, amount) != 0)
		goto out;
	buyer = v[S_BUYER].present ? v[S_BUYER].str : req->auth.sub;
	if (!req_may_see(req, buyer)) {
		resp_error(resp, 403, "forbidden", "buyerId", "you may only create payments as their buyer");
		goto out;
	}
	if (registered_wallet(req, resp, buyer, tok->network, v, sender) != 0 ||
	    offer_terms(req, resp, v, amount, offer_seller) != 0)
		goto out;
	meta = save_metadata(v, &meta_obj);
	snprintf(key, sizeof(key), "%s/%s/decentralized", buyer, v[S_REQUEST].str);
	const char *k[1] = { key };
	if ((st = db_begin(db)) != DB_OK ||
	    /* Two clicks of "pay" must give one payment: the second waits here and finds the first. */
	    (st = db_exec(db, NULL, "SELECT pg_advisory_xact_lock(" LOCK_NS_PAYIN ", hashtext($1))", 1, k)) != DB_OK ||
	    (st = find_active(db, buyer, v[S_REQUEST].str, &row)) != DB_OK)
		goto dberr;
	if (PQntuples(row) == 0) {
		PQclear(row);
		row = NULL;
		const char *seller = v[S_SELLER].present ? v[S_SELLER].str : offer_seller[0] ? offer_seller : NULL;
		const char *p[11] = { v[S_REQUEST].str, v[S_OFFER].present ? v[S_OFFER].str : NULL, buyer, seller,
		                      amount, tok->symbol, tok->network, tok->contract, req->app->cfg->escrow_address,
		                      sender, meta };
		const char *pc[12] = { p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10],
		                       req->auth.sub };
		st = db_exec(db, &row,
		             "INSERT INTO payments AS p (direction, provider, purchase_request_id, seller_offer_id,"
		             " buyer_id, seller_id, amount, currency, network, token, token_contract,"
		             " receiver_address, sender_address, metadata, created_by)"
		             " VALUES ('in', 'decentralized', $1, $2, $3, $4, $5::numeric, $6, $7, $6, $8, $9, $10,"
		             "  coalesce($11::jsonb, '{}'::jsonb), $12)"
		             " RETURNING " PAYMENT_COLUMNS, 12, pc);
		if (st != DB_OK)
			goto dberr;
		if ((st = coord_created(db, row, "decentralized", req->auth.sub, "wallet-direct intent created",
		                        req->request_id)) != DB_OK)
			goto dberr;
		created = 1;
	}
	if ((st = db_commit(db)) != DB_OK)
		goto dberr;
	if (created)
		log_info("wallet-direct payment %s created by %s", PQgetvalue(row, 0, PCOL_ID), req->auth.sub);
	resp_ok(resp, created ? 201 : 200, intent_json(req->app->cfg, row),
	        created ? "payment created: transfer the exact amount to the escrow address, then verify"
	                : "an active payment already exists for this purchase request; returned as it is");
	goto out;
dberr:
	db_rollback(db);
	/* The unique index caught a racer that did not take the lock: answer with its payment. */
	if (st == DB_UNIQUE) {
		PQclear(row);
		row = NULL;
		if (find_active(db, buyer, v[S_REQUEST].str, &row) == DB_OK && PQntuples(row) == 1) {
			resp_ok(resp, 200, intent_json(req->app->cfg, row),
			        "an active payment already exists for this purchase request; returned as it is");
			goto out;
		}
	}
	resp_db_error(resp, st);
out:
	PQclear(row);
	json_object_put(meta_obj);
	json_object_put(body);
}

void h_chain_status(struct request *req, struct response *resp)
{
	/* The owner reads it: its buyer or its seller (or an admin). */
	PGresult *row = payment_visible(req, resp, req_path_param(req, "paymentId"), "paymentId", PARTY_BUYER_OR_SELLER);
	json_object *o;

	if (row == NULL)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "paymentId", json_object_new_string(PQgetvalue(row, 0, PCOL_ID)));
	json_object_object_add(o, "status", json_object_new_string(PQgetvalue(row, 0, PCOL_STATUS)));
	json_object_object_add(o, "escrowState", json_object_new_string(PQgetvalue(row, 0, 4)));
	json_object_object_add(o, "transactionHash", PQgetisnull(row, 0, PCOL_TX) ? NULL :
	                       json_object_new_string(PQgetvalue(row, 0, PCOL_TX)));
	json_object_object_add(o, "confirmations", json_object_new_int(atoi(PQgetvalue(row, 0, PCOL_CONFIRMATIONS))));
	json_object_object_add(o, "payment", payment_json(row, 0));
	resp_ok(resp, 200, o, NULL);
	PQclear(row);
}

void h_chain_receiver(struct request *req, struct response *resp)
{
	const struct config *cfg = req->app->cfg;
	json_object *o = json_object_new_object(), *nets = json_object_new_array();

	for (size_t i = 0; i < cfg->n_networks; i++) {
		const struct network_conf *net = &cfg->networks[i];
		json_object *n = json_object_new_object(), *toks = json_object_new_array();
		for (size_t k = 0; k < cfg->n_tokens; k++) {
			const struct token_conf *t = &cfg->tokens[k];
			if (strcmp(t->network, net->name) != 0)
				continue;
			json_object *to = json_object_new_object();
			json_object_object_add(to, "symbol", json_object_new_string(t->symbol));
			json_object_object_add(to, "contract", json_object_new_string(t->contract));
			json_object_object_add(to, "decimals", json_object_new_int(t->decimals));
			json_object_array_add(toks, to);
		}
		json_object_object_add(n, "network", json_object_new_string(net->name));
		json_object_object_add(n, "chainId", net->chain_id ? json_object_new_int64(net->chain_id) : NULL);
		json_object_object_add(n, "acceptsWalletPayments", json_object_new_boolean(net->n_rpc > 0));
		json_object_object_add(n, "tokens", toks);
		json_object_array_add(nets, n);
	}
	json_object_object_add(o, "address", json_object_new_string(cfg->escrow_address));
	json_object_object_add(o, "receiverAddress", json_object_new_string(cfg->escrow_address));
	json_object_object_add(o, "networks", nets);
	resp_ok(resp, 200, o, NULL);
}

void h_chain_history(struct request *req, struct response *resp)
{
	payments_list(req, resp, scope_user(req), NULL, "decentralized");
}

/* An admin may record progress and give up on a payment; only the chain completes one. */
static const char *const update_statuses[] = { "pending", "processing", "failed", "cancelled", NULL };

enum { U_ID, U_STATUS, U_CONF, U_N };
static const struct jfield update_fields[U_N] = {
	[U_ID] = { "paymentId", JK_UUID, true, 0, 0, NULL },
	[U_STATUS] = { "status", JK_ANY, false, 0, 0, NULL },
	[U_CONF] = { "confirmations", JK_INT, false, 0, 1000000, NULL },
};

void h_chain_update(struct request *req, struct response *resp)
{
	struct jval v[U_N];
	json_object *body = jin_body(req, resp);
	PGresult *row = NULL;
	enum db_status st = DB_OK;
	const char *status = NULL;

	if (body == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if (jin_check(update_fields, U_N, body, NULL, v, resp) != 0)
		goto out;
	if (v[U_STATUS].present) {
		status = json_object_is_type(v[U_STATUS].obj, json_type_string) ? json_object_get_string(v[U_STATUS].obj) : "";
		if (payment_status_valid(status) && strcmp(status, "completed") == 0) {
			resp_error(resp, 409, "verification_required", "status",
			           "completing a wallet-direct payment requires on-chain verification: POST /api/payment/decentralized/verify/%s",
			           v[U_ID].str);
			goto out;
		}
		bool ok = false;
		for (const char *const *s = update_statuses; *s; s++)
			ok = ok || strcmp(*s, status) == 0;
		if (!ok) {
			resp_error(resp, 400, "invalid_field", "status", "status must be one of: pending, processing, failed, cancelled");
			goto out;
		}
	}
	if (!v[U_STATUS].present && !v[U_CONF].present) {
		resp_error(resp, 400, "invalid_field", NULL, "nothing to change: give status or confirmations");
		goto out;
	}
	if ((row = payment_visible(req, resp, v[U_ID].str, "paymentId", PARTY_BUYER)) == NULL)
		goto out;
	if (strcmp(PQgetvalue(row, 0, PCOL_PROVIDER), "decentralized") != 0) {
		resp_error(resp, 409, "not_verifiable", "paymentId", "payment %s is not a wallet-direct payment", v[U_ID].str);
		goto out;
	}
	if (status) {
		PQclear(row);
		row = NULL;
		struct coord_change change = {
			.status = status, .source = "admin", .actor = req->auth.sub,
			.reason = "PUT /api/payment/decentralized/update", .request_id = req->request_id,
		};
		switch (coord_apply(req->app->db, v[U_ID].str, &change, &row, &st)) {
		case COORD_APPLIED:
		case COORD_UNCHANGED:
			break;
		case COORD_BACKWARD:
			resp_error(resp, 409, "invalid_transition", "status", "payment %s is %s; it cannot move to %s",
			           v[U_ID].str, PQgetvalue(row, 0, PCOL_STATUS), status);
			goto out;
		case COORD_NOT_FOUND:
			resp_error(resp, 404, "not_found", NULL, "payment %s not found", v[U_ID].str);
			goto out;
		default:
			resp_db_error(resp, st);
			goto out;
		}
	}
	if (v[U_CONF].present) {
		char n[24];
		snprintf(n, sizeof(n), "%lld", v[U_CONF].num);
		const char *p[2] = { v[U_ID].str, n };
		PQclear(row);
		row = NULL;
		if ((st = db_exec(req->app->db, &row, "UPDATE payments p SET confirmations = $2::integer,"
		                  " updated_at = now() WHERE p.id = $1 RETURNING " PAYMENT_COLUMNS, 2, p)) != DB_OK) {
			resp_db_error(resp, st);
			goto out;
		}
	}
	resp_ok(resp, 200, payment_json(row, 0), "payment updated");
out:
	PQclear(row);
	json_object_put(body);
}
