/* Payment records: create, read, list and the admin's or owner's update. */
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "base/jw.h"
#include "base/log.h"
#include "http/jsonin.h"
#include "pay/coord.h"
#include "pay/payment.h"

#define METADATA_MAX 8192
/* What a payment's metadata may hold after updates are merged in (the schema allows some more for the service's own notes). */
#define METADATA_MERGED_MAX 16384

const char *scope_user(const struct request *req)
{
	const char *wanted = req_path_param(req, "userId");

	if (wanted != NULL)
		return wanted;
	return req_is_admin(req) ? NULL : req->auth.sub;
}

/* "completed,pending" → a PostgreSQL array literal of checked statuses; an empty one ("", ",,") is refused. */
static int status_filter(struct request *req, struct response *resp, const char *dflt,
                         char out[128])
{
	char text[100];     /* so that "{" + the list + "}" always fits out */
	int found = req_query(req, "status", text, sizeof(text));
	size_t o = 0;

	if (found < 0) {
		resp_error(resp, 400, "invalid_field", "status", "status is malformed or given twice");
		return -1;
	}
	if (found == 0 || strcmp(text, "all") == 0) {
		if (found == 0 && dflt) {
			snprintf(out, 128, "{%s}", dflt);
			return 0;
		}
		out[0] = '\0';
		return 0;
	}
	out[o++] = '{';
	for (char *s = text, *comma; s; s = comma ? comma + 1 : NULL) {
		if ((comma = strchr(s, ',')) != NULL)
			*comma = '\0';
		if (!payment_status_valid(s)) {
			resp_error(resp, 400, "invalid_field", "status",
			           "status must be all or a comma-separated list of: pending, processing, "
			           "completed, failed, cancelled, released, refunded");
			return -1;
		}
		o += (size_t)snprintf(out + o, 128 - o, "%s%s", o > 1 ? "," : "", s);
	}
	snprintf(out + o, 128 - o, "}");
	return 0;
}

void payments_list(struct request *req, struct response *resp, const char *user,
                   const char *dflt_status, const char *provider)
{
	char statuses[128], limit[16], offset[24];
	PGresult *rows = NULL, *count = NULL;
	enum db_status st;

	if (status_filter(req, resp, dflt_status, statuses) != 0 ||
	    req_page(req, resp, 50, limit, offset) != 0)
		return;
	const char *p[5] = { user, statuses[0] ? statuses : NULL, provider, limit, offset };
	st = db_exec(req->app->db, &rows,
	             "SELECT " PAYMENT_COLUMNS " FROM payments p"
	             " WHERE ($1::text IS NULL OR p.buyer_id = $1 OR p.seller_id = $1)"
	             "   AND ($2::text[] IS NULL OR p.status = ANY ($2::text[]))"
	             "   AND ($3::text IS NULL OR p.provider = $3)"
	             " ORDER BY p.created_at DESC, p.id LIMIT $4 OFFSET $5", 5, p);
	if (st == DB_OK)
		st = db_exec(req->app->db, &count,
		             "SELECT count(*) FROM payments p"
		             " WHERE ($1::text IS NULL OR p.buyer_id = $1 OR p.seller_id = $1)"
		             "   AND ($2::text[] IS NULL OR p.status = ANY ($2::text[]))"
		             "   AND ($3::text IS NULL OR p.provider = $3)", 3, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	/* Written straight into the answer: a page of 50 as json-c trees was most of this request's CPU. */
	struct buf *b = resp_ok_open(resp, 200, NULL);
	buf_putc(b, '{');
	jw_key(b, "userId", true);
	jw_str_or_null(b, user);
	jw_key(b, "payments", false);
	buf_putc(b, '[');
	for (int i = 0; i < PQntuples(rows); i++) {
		if (i)
			buf_putc(b, ',');
		payment_write(b, rows, i);
	}
	buf_putc(b, ']');
	jw_key(b, "pagination", false);
	buf_putc(b, '{');
	jw_key(b, "total", true);
	jw_int(b, atoll(PQgetvalue(count, 0, 0)));
	jw_key(b, "limit", false);
	jw_int(b, atoi(limit));
	jw_key(b, "offset", false);
	jw_int(b, atoll(offset));
	buf_putc(b, '}');
	buf_putc(b, '}');
	resp_ok_close(resp);
out:
	PQclear(rows);
	PQclear(count);
}

void h_payment_list(struct request *req, struct response *resp)
{
	/* The older API listed settled payments unless asked otherwise; status=all lifts that. */
	payments_list(req, resp, req_is_admin(req) ? NULL : req->auth.sub, "completed", NULL);
}

void h_payment_by_user(struct request *req, struct response *resp)
{
	payments_list(req, resp, scope_user(req), NULL, NULL);
}

PGresult *payment_visible(struct request *req, struct response *resp, const char *id,
                          const char *field, enum party who)
{
	PGresult *res = NULL;
	enum db_status st;

	if (id == NULL || !valid_uuid(id)) {
		resp_error(resp, 400, "invalid_field", field, "%s must be a payment id (UUID)", field);
		return NULL;
	}
	const char *p[1] = { id };
	st = db_exec(req->app->db, &res, "SELECT " PAYMENT_COLUMNS " FROM payments p WHERE p.id = $1", 1, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return NULL;
	}
	/* Someone else's payment is answered exactly like a missing one. */
	if (PQntuples(res) == 0 || !(req_may_see(req, PQgetvalue(res, 0, PCOL_BUYER)) ||
	                             (who == PARTY_BUYER_OR_SELLER &&
	                              req_may_see(req, PQgetvalue(res, 0, PCOL_SELLER))))) {
		resp_error(resp, 404, "not_found", NULL, "payment %s not found", id);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* The payment at :id, for its buyer, its seller or an admin. */
static PGresult *visible_payment(struct request *req, struct response *resp, const char **id)
{
	*id = req_path_param(req, "id");
	return payment_visible(req, resp, *id, "id", PARTY_BUYER_OR_SELLER);
}

void h_payment_get(struct request *req, struct response *resp)
{
	const char *id;
	PGresult *res = visible_payment(req, resp, &id);

	if (res == NULL)
		return;
	payment_write(resp_ok_open(resp, 200, NULL), res, 0);
	resp_ok_close(resp);
	PQclear(res);
}

static json_object *rows_json(PGresult *res)
{
	json_object *list = json_object_new_array();

	for (int i = 0; i < PQntuples(res); i++) {
		json_object *row = json_object_new_object();
		for (int c = 0; c < PQnfields(res); c++) {
			const char *name = PQfname(res, c), *v = PQgetvalue(res, i, c);
			json_object *val = NULL;
			if (!PQgetisnull(res, i, c))
				val = PQftype(res, c) == 3802 /* jsonb */ ? json_tokener_parse(v)
				                                         : json_object_new_string(v);
			json_object_object_add(row, name, val);
		}
		json_object_array_add(list, row);
	}
	return list;
}

void h_payment_debug(struct request *req, struct response *resp)
{
	const char *id;
	PGresult *pay = visible_payment(req, resp, &id), *audit = NULL, *events = NULL, *inbox = NULL;
	enum db_status st;

	if (pay == NULL)
		return;
	const char *p[1] = { id };
	/* Each list in id order: the column, not the text alias ("1000" sorts before "999" as text). */
	st = db_exec(req->app->db, &audit,
	             "SELECT id::text, from_status AS \"fromStatus\", to_status AS \"toStatus\","
	             " from_escrow_state AS \"fromEscrowState\", to_escrow_state AS \"toEscrowState\","
	             " source, actor, reason, request_id AS \"requestId\", " PAYMENT_TS("created_at") " AS \"createdAt\""
	             " FROM payment_transitions WHERE payment_id = $1 ORDER BY payment_transitions.id", 1, p);
	if (st == DB_OK)
		st = db_exec(req->app->db, &events,
		             "SELECT id::text, event, room, payload, " PAYMENT_TS("created_at") " AS \"createdAt\""
		             " FROM events WHERE payment_id = $1 ORDER BY events.id", 1, p);
	if (st == DB_OK)
		st = db_exec(req->app->db, &inbox,
		             "SELECT id::text, provider, verdict, outcome, detail,"
		             " " PAYMENT_TS("received_at") " AS \"receivedAt\""
		             " FROM webhook_inbox WHERE payment_id = $1 ORDER BY webhook_inbox.id", 1, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
	} else {
		json_object *data = json_object_new_object(), *monitor = json_object_new_object();
		json_object_object_add(data, "payment", payment_json(pay, 0));
		json_object_object_add(data, "transitions", rows_json(audit));
		json_object_object_add(data, "events", rows_json(events));
		json_object_object_add(data, "webhookDeliveries", rows_json(inbox));
		json_object_object_add(monitor, "watching", json_object_new_boolean(0));
		json_object_object_add(monitor, "reason", json_object_new_string("no chain watcher runs in this deployment"));
		json_object_object_add(data, "walletMonitor", monitor);
		resp_ok(resp, 200, data, NULL);
	}
	PQclear(pay);
	PQclear(audit);
	PQclear(events);
	PQclear(inbox);
}

enum { C_REQUEST, C_OFFER, C_BUYER, C_SELLER, C_AMOUNT, C_CHAIN, C_META, C_N };
static const struct jfield create_fields[C_N] = {
	[C_REQUEST] = { "purchaseRequestId", JK_ID, true, 0, 0, NULL },
	[C_OFFER] = { "sellerOfferId", JK_ID, true, 0, 0, NULL },
	[C_BUYER] = { "buyerId", JK_ID, true, 0, 0, NULL },
	[C_SELLER] = { "sellerId", JK_ID, true, 0, 0, NULL },
	[C_AMOUNT] = { "amount", JK_ANY, true, 0, 0, NULL },
	[C_CHAIN] = { "blockchain", JK_ANY, false, 0, 0, NULL },
	[C_META] = { "metadata", JK_OBJECT, false, 0, METADATA_MAX, NULL },
};

static const struct jfield amount_fields[2] = {
	{ "amount", JK_AMOUNT, true, 0, 0, NULL },
	{ "currency", JK_CURRENCY, true, 0, 0, NULL },
};

static const struct jfield chain_fields[2] = {
	{ "network", JK_NETWORK, true, 0, 0, NULL },
	{ "token", JK_CURRENCY, true, 0, 0, NULL },
};

/* Checks {amount, currency} against the configured currencies; fills the normalised amount. */
static int check_amount(struct request *req, struct response *resp, json_object *obj,
                        char amount[MONEY_TEXT_MAX], const char **currency)
{
	struct jval v[2];
	const struct currency_conf *cur;
	enum money_err e;

	if (jin_check(amount_fields, 2, obj, "amount.", v, resp) != 0)
		return -1;
	if ((cur = config_currency(req->app->cfg, v[1].str)) == NULL) {
		resp_error(resp, 400, "invalid_field", "amount.currency", "amount.currency %s is not accepted",
		           v[1].str);
		return -1;
	}
	if ((e = money_from_json(v[0].obj, cur->scale, amount)) != MONEY_OK) {
		resp_error(resp, 400, "invalid_field", "amount.amount", "amount.amount %s (%s allows %d decimals)",
		           money_strerror(e), cur->code, cur->scale);
		return -1;
	}
	*currency = v[1].str;
	return 0;
}

static void answer_active_conflict(struct request *req, struct response *resp, const char *buyer,
                                   const char *request)
{
	const char *p[2] = { buyer, request };
	PGresult *res = NULL;

	db_exec(req->app->db, &res,
	        "SELECT id FROM payments WHERE buyer_id = $1 AND purchase_request_id = $2"
	        " AND provider = 'manual' AND direction = 'in' AND status IN ('pending', 'processing')", 2, p);
	resp_error(resp, 409, "payment_exists", NULL,
	           "an active payment %s already exists for this buyer and purchase request",
	           res && PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
}

/*
 * A record names a real sale: the buyer's own purchase request, and an offer
 * on it from the seller named, so no one pads a seller's list, stats or
 * export with sales that never were. 0, or -1 with the 409 written.
 */
static int check_sale(struct request *req, struct response *resp, const char *buyer, const char *request,
                      const char *offer, const char *seller)
{
	const char *p[2] = { request, offer };
	PGresult *res = NULL;
	enum db_status st;
	int rc = -1;

	st = db_exec(req->app->db, &res,
	             "SELECT r.buyer_id, o.purchase_request_id, o.seller_id FROM purchase_requests r"
	             " LEFT JOIN seller_offers o ON o.id = $2 WHERE r.id = $1", 2, p);
	if (st != DB_OK)
		resp_db_error(resp, st);
	else if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), buyer) != 0)
		resp_error(resp, 409, "request_mismatch", "purchaseRequestId",
		           "purchase request %s is not a request of buyer %s", request, buyer);
	else if (PQgetisnull(res, 0, 1) || strcmp(PQgetvalue(res, 0, 1), request) != 0)
		resp_error(resp, 409, "offer_mismatch", "sellerOfferId", "offer %s is not an offer on request %s",
		           offer, request);
	else if (strcmp(PQgetvalue(res, 0, 2), seller) != 0)
		resp_error(resp, 409, "offer_mismatch", "sellerId", "offer %s is not from seller %s", offer, seller);
	else
		rc = 0;
	PQclear(res);
	return rc;
}

void h_payment_create(struct request *req, struct response *resp)
{
	struct jval v[C_N], c[2];
	char amount[MONEY_TEXT_MAX];
	const char *currency, *network = NULL, *token = NULL, *contract = NULL, *receiver = NULL;
	const char *meta = NULL;
	json_object *body = jin_body(req, resp);
	PGresult *row = NULL;
	struct db *db = req->app->db;
	enum db_status st;

	if (body == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if (jin_check(create_fields, C_N, body, NULL, v, resp) != 0 ||
	    check_amount(req, resp, v[C_AMOUNT].obj, amount, &currency) != 0)
		goto out;
	if (v[C_CHAIN].present) {
		const struct token_conf *t;
		if (jin_check(chain_fields, 2, v[C_CHAIN].obj, "blockchain.", c, resp) != 0)
			goto out;
		if ((t = config_token(req->app->cfg, c[0].str, c[1].str)) == NULL) {
			resp_error(resp, 400, "invalid_field", "blockchain.token",
			           "token %s is not accepted on %s", c[1].str, c[0].str);
			goto out;
		}
		network = t->network;
		token = t->symbol;
		contract = t->contract;
		receiver = req->app->cfg->escrow_address;
	}
	if (!req_may_see(req, v[C_BUYER].str)) {
		resp_error(resp, 403, "forbidden", "buyerId", "you may only create payments as their buyer");
		goto out;
	}
	if (check_sale(req, resp, v[C_BUYER].str, v[C_REQUEST].str, v[C_OFFER].str, v[C_SELLER].str) != 0)
		goto out;
	if (v[C_META].present)
		meta = json_object_to_json_string_ext(v[C_META].obj, JSON_C_TO_STRING_PLAIN);

	const char *p[12] = { v[C_REQUEST].str, v[C_OFFER].str, v[C_BUYER].str, v[C_SELLER].str,
	                      amount, currency, network, token, contract, receiver, meta,
	                      req->auth.sub };
	if ((st = db_begin(db)) != DB_OK)
		goto dberr;
	st = db_exec(db, &row,
	             "INSERT INTO payments AS p (direction, provider, purchase_request_id, seller_offer_id,"
	             " buyer_id, seller_id, amount, currency, network, token, token_contract,"
	             " receiver_address, metadata, created_by)"
	             " VALUES ('in', 'manual', $1, $2, $3, $4, $5::numeric, $6, $7, $8, $9, $10,"
	             "  coalesce($11::jsonb, '{}'::jsonb), $12)"
	             " RETURNING " PAYMENT_COLUMNS, 12, p);
	if (st == DB_UNIQUE) {
		db_rollback(db);
		answer_active_conflict(req, resp, v[C_BUYER].str, v[C_REQUEST].str);
		goto out;
	}
	if (st != DB_OK)
		goto dberr;
	st = coord_created(db, row, "api", req->auth.sub, "created", req->request_id);
	if (st == DB_OK)
		st = db_commit(db);
	if (st != DB_OK)
		goto dberr;
	log_info("payment %s created by %s", PQgetvalue(row, 0, PCOL_ID), req->auth.sub);
	resp_ok(resp, 201, payment_json(row, 0), "payment created");
	goto out;
dberr:
	db_rollback(db);
	resp_db_error(resp, st);
out:
	PQclear(row);
	json_object_put(body);
}

enum { U_STATUS, U_TX, U_CHAIN, U_META, U_OVERRIDE, U_REASON, U_N };
static const struct jfield update_fields[U_N] = {
	[U_STATUS] = { "status", JK_ENUM, false, 0, 0, payment_statuses },
	[U_TX] = { "transactionHash", JK_TXHASH, false, 0, 0, NULL },
	[U_CHAIN] = { "blockchain", JK_ANY, false, 0, 0, NULL },
	[U_META] = { "metadata", JK_OBJECT, false, 0, METADATA_MAX, NULL },
	[U_OVERRIDE] = { "override", JK_ANY, false, 0, 0, NULL },
	[U_REASON] = { "reason", JK_STRING, false, 0, 500, NULL },
};

static void answer_tx_used(struct request *req, struct response *resp, const char *tx)
{
	const char *p[1] = { tx };
	PGresult *res = NULL;

	db_exec(req->app->db, &res,
	        "SELECT id FROM payments WHERE direction = 'in' AND lower(tx_hash) = lower($1)", 1, p);
	resp_error(resp, 409, "tx_hash_used", "transactionHash",
	           "this transaction hash already pays payment %s",
	           res && PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
}

void h_payment_update(struct request *req, struct response *resp)
{
	struct jval v[U_N];
	const char *id;
	json_object *body = NULL;
	PGresult *cur = visible_payment(req, resp, &id), *row = NULL;
	enum db_status st = DB_OK;

	if (cur == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if ((body = jin_body(req, resp)) == NULL || jin_check(update_fields, U_N, body, NULL, v, resp) != 0)
		goto out;
	if (v[U_CHAIN].present) {
		resp_error(resp, 400, "invalid_field", "blockchain",
		           "blockchain cannot change after a payment is created");
		goto out;
	}
	/* The buyer's payment record is the buyer's to annotate; the seller may read it, not write it. */
	if (!req_is_admin(req) && strcmp(req->auth.sub, PQgetvalue(cur, 0, PCOL_BUYER)) != 0) {
		resp_error(resp, 403, "forbidden", NULL, "only the buyer or an admin may change payment %s", id);
		goto out;
	}
	if (!req_is_admin(req) && (v[U_STATUS].present || v[U_TX].present)) {
		resp_error(resp, 403, "forbidden", v[U_STATUS].present ? "status" : "transactionHash",
		           "only an admin may change a payment's status or transaction hash");
		goto out;
	}
	/*
	 * A payout's status and hash follow its transfer (confirm-tx, the provider,
	 * the hot wallet), each with the pay-in's escrow alongside: moved here, the
	 * pay-in would stay `releasing` and a provider or a signed transaction
	 * could still pay a payout the books call closed.
	 */
	if (strcmp(PQgetvalue(cur, 0, PCOL_DIRECTION), "out") == 0 && (v[U_STATUS].present || v[U_TX].present)) {
		resp_error(resp, 409, "payout_managed", v[U_STATUS].present ? "status" : "transactionHash",
		           "payment %s is a payout: its status and transaction move with its transfer"
		           " (POST /admin/confirm-tx/%s, or its provider's endpoints), not by PUT", id, id);
		goto out;
	}
	if (v[U_META].present &&
	    strlen(PQgetvalue(cur, 0, PCOL_METADATA)) +
	    strlen(json_object_to_json_string_ext(v[U_META].obj, JSON_C_TO_STRING_PLAIN)) > METADATA_MERGED_MAX) {
		resp_error(resp, 400, "invalid_field", "metadata",
		           "metadata merged into what payment %s holds would exceed %d bytes", id, METADATA_MERGED_MAX);
		goto out;
	}
	if (!v[U_STATUS].present && !v[U_TX].present && !v[U_META].present) {
		resp_error(resp, 400, "invalid_field", NULL,
		           "nothing to change: give status, transactionHash or metadata");
		goto out;
	}
	char override_reason[520];
	bool overridden;
	if (payment_override_rule(resp, cur, v[U_STATUS].present ? v[U_STATUS].str : NULL, v[U_OVERRIDE].obj,
	                          v[U_REASON].present ? v[U_REASON].str : NULL, &overridden, override_reason,
	                          sizeof(override_reason)) != 0)
		goto out;
	struct coord_change change = {
		.status = v[U_STATUS].present ? v[U_STATUS].str : NULL,
		.tx_hash = v[U_TX].present ? v[U_TX].str : NULL,
		.replace_tx = true,
		.metadata = v[U_META].present ? json_object_to_json_string_ext(v[U_META].obj, JSON_C_TO_STRING_PLAIN) : NULL,
		.source = req_is_admin(req) ? "admin" : "api",
		.actor = req->auth.sub,
		.reason = overridden ? override_reason : "PUT /api/payment/:id",
		.request_id = req->request_id,
		.review = overridden ? override_reason : NULL,
	};
	switch (coord_apply(req->app->db, id, &change, &row, &st)) {
	case COORD_APPLIED:
	case COORD_UNCHANGED:
		resp_ok(resp, 200, payment_json(row, 0), "payment updated");
		break;
	case COORD_BACKWARD:
	case COORD_SKIPPED:
		resp_error(resp, 409, "invalid_transition", "status",
		           "payment %s is %s; it cannot move to %s", id, PQgetvalue(row, 0, PCOL_STATUS),
		           change.status ? change.status : "that state");
		break;
	case COORD_NOT_FOUND:
		resp_error(resp, 404, "not_found", NULL, "payment %s not found", id);
		break;
	case COORD_TX_USED:
		answer_tx_used(req, resp, change.tx_hash);
		break;
	case COORD_DB:
		resp_db_error(resp, st);
		break;
	}
out:
	PQclear(cur);
	PQclear(row);
	json_object_put(body);
}
