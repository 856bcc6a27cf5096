#include "api/provider_payout.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/handlers.h"
#include "api/payout_answer.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/valid.h"
#include "flow/outgoing.h"
#include "http/jsonin.h"
#include "pay/inbox.h"
#include "pay/payout.h"

#define REASON_MAX 500
#define METADATA_MAX 8192

static const char *const kinds[] = { "release", "refund", NULL };

enum {
	F_REQUEST, F_OFFER, F_BUYER, F_SELLER, F_AMOUNT, F_RECIPIENT, F_TOKEN, F_NETWORK, F_METADATA,
	F_PAYMENT, F_KIND, F_REASON, F_CHECKED, F_N
};
static const struct jfield fields[F_N] = {
	[F_REQUEST] = { "purchaseRequestId", JK_ID, true, 0, 0, NULL },
	[F_OFFER] = { "sellerOfferId", JK_ID, true, 0, 0, NULL },
	[F_BUYER] = { "buyerId", JK_ID, true, 0, 0, NULL },
	[F_SELLER] = { "sellerId", JK_ID, true, 0, 0, NULL },
	[F_AMOUNT] = { "amount", JK_AMOUNT, true, 0, 0, NULL },
	[F_RECIPIENT] = { "recipientAddress", JK_ADDRESS, true, 0, 0, NULL },
	[F_TOKEN] = { "token", JK_CURRENCY, false, 0, 0, NULL },
	[F_NETWORK] = { "network", JK_STRING, false, 0, 16, NULL },
	[F_METADATA] = { "metadata", JK_OBJECT, false, 0, METADATA_MAX, NULL },
	[F_PAYMENT] = { "paymentId", JK_UUID, false, 0, 0, NULL },
	[F_KIND] = { "kind", JK_ENUM, false, 0, 0, kinds },
	[F_REASON] = { "reason", JK_STRING, false, 0, REASON_MAX, NULL },
	[F_CHECKED] = { "checkedNotSent", JK_BOOL, false, 0, 0, NULL },
};

static const char *col(const PGresult *r, int c)
{
	return PQgetisnull(r, 0, c) ? "" : PQgetvalue(r, 0, c);
}

/* The seller the pay-in pays: its own, else its offer's. */
static enum db_status payin_seller(struct request *req, const PGresult *payin, char seller[72])
{
	const char *p[1] = { PQgetvalue(payin, 0, PCOL_ID) };
	PGresult *res = NULL;
	enum db_status st;

	seller[0] = '\0';
	st = db_exec(req->app->db, &res,
	             "SELECT coalesce(i.seller_id, (SELECT o.seller_id FROM seller_offers o WHERE o.id = i.seller_offer_id))"
	             " FROM payments i WHERE i.id = $1", 1, p);
	if (st == DB_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		snprintf(seller, 72, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return st;
}

/* Every figure the body gives must be the pay-in's: a payout is never made from a guess. */
static int matches_payin(struct request *req, struct response *resp, const PGresult *payin, const struct jval *v)
{
	char seller[72];
	enum db_status st;

	if (strcmp(v[F_BUYER].str, col(payin, PCOL_BUYER)) != 0) {
		resp_error(resp, 409, "buyer_mismatch", "buyerId", "the pay-in's buyer is %s, not %s", col(payin, PCOL_BUYER),
		           v[F_BUYER].str);
		return -1;
	}
	if (strcmp(v[F_OFFER].str, col(payin, PCOL_OFFER)) != 0) {
		resp_error(resp, 409, "offer_mismatch", "sellerOfferId", "the pay-in paid offer %s, not %s", col(payin, PCOL_OFFER),
		           v[F_OFFER].str);
		return -1;
	}
	if ((st = payin_seller(req, payin, seller)) != DB_OK) {
		resp_db_error(resp, st);
		return -1;
	}
	if (strcmp(v[F_SELLER].str, seller) != 0) {
		resp_error(resp, 409, "seller_mismatch", "sellerId", "the pay-in's seller is %s, not %s", seller[0] ? seller : "unknown",
		           v[F_SELLER].str);
		return -1;
	}
	if (v[F_NETWORK].present && strcasecmp(v[F_NETWORK].str, col(payin, PCOL_NETWORK)) != 0) {
		resp_error(resp, 409, "network_mismatch", "network", "the pay-in is on %s, not %s", col(payin, PCOL_NETWORK),
		           v[F_NETWORK].str);
		return -1;
	}
	if (v[F_TOKEN].present && strcmp(v[F_TOKEN].str, col(payin, PCOL_TOKEN)) != 0) {
		resp_error(resp, 409, "currency_mismatch", "token", "the pay-in's escrow holds %s, not %s", col(payin, PCOL_TOKEN),
		           v[F_TOKEN].str);
		return -1;
	}
	return 0;
}

/* The payout already active is answered only when the request asks for that same payout. */
static int same_payout(struct response *resp, const PGresult *out, const char *provider, const struct jval *v)
{
	if (strcmp(PQgetvalue(out, 0, PCOL_PROVIDER), provider) != 0) {
		resp_error(resp, 409, "payout_exists", NULL, "a %s payout %s is already active for payment %s",
		           PQgetvalue(out, 0, PCOL_PROVIDER), PQgetvalue(out, 0, PCOL_ID), PQgetvalue(out, 0, POCOL_PAYIN));
		return -1;
	}
	if (strcasecmp(PQgetvalue(out, 0, PCOL_RECEIVER), v[F_RECIPIENT].str) != 0) {
		resp_error(resp, 409, "payout_exists", "recipientAddress", "payout %s is already on its way to %s, not %s",
		           PQgetvalue(out, 0, PCOL_ID), PQgetvalue(out, 0, PCOL_RECEIVER), v[F_RECIPIENT].str);
		return -1;
	}
	return 0;
}

/* A recipient the body names that is the registered wallet anyway needs no reason. */
static const char *entered_recipient(struct request *req, const PGresult *payin, const char *kind, const char *given,
                                     enum db_status *st)
{
	char registered[43], user[72];

	if (payout_registered_recipient(req->app->db, payin, kind, registered, user, st) == 1 &&
	    strcasecmp(registered, given) == 0)
		return NULL;
	return given;
}

PGresult *provider_payout_open(struct request *req, struct response *resp, const char *provider,
                               bool *checked_not_sent)
{
	struct jval v[F_N];
	struct outgoing_prep prep;
	struct payout_refusal why = { "", "" };
	json_object *body = jin_body(req, resp), *meta = NULL;
	PGresult *payin = NULL, *out = NULL;
	const struct config *cfg = req->app->cfg;
	enum db_status st = DB_OK;
	char err[300];
	int http;

	if (body == NULL)
		return NULL;
	/* After this point, all errors should use goto out. */
	if (jin_check(fields, F_N, body, NULL, v, resp) != 0)
		goto out;
	if (v[F_CHECKED].present && checked_not_sent == NULL) {
		resp_error(resp, 400, "invalid_field", "checkedNotSent", "checkedNotSent is for SHKeeper payouts only: %s"
		           " refuses a second payout with the same reference by itself", provider);
		goto out;
	}
	if (checked_not_sent)
		*checked_not_sent = v[F_CHECKED].present && v[F_CHECKED].num == 1;
	const char *kind = v[F_KIND].present ? v[F_KIND].str : "release";
	const char *request_id = v[F_REQUEST].present ? v[F_REQUEST].str : NULL;
	const char *payment_id = v[F_PAYMENT].present ? v[F_PAYMENT].str : NULL;
	if ((payin = payout_payin(req, resp, request_id, payment_id, kind)) == NULL || matches_payin(req, resp, payin, v) != 0)
		goto out;
	const char *id = PQgetvalue(payin, 0, PCOL_ID);
	if ((st = payout_find_active(req->app->db, id, kind, "escrow", &out)) != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (out) {
		if (same_payout(resp, out, provider, v) != 0) {
			PQclear(out);
			out = NULL;
		}
		goto out;
	}
	if (prov_network_ready(cfg, provider, col(payin, PCOL_NETWORK), err, sizeof(err)) != 0) {
		resp_error(resp, 409, "not_configured", NULL, "payment %s cannot be paid out through %s: %s", id, provider, err);
		goto out;
	}
	struct outgoing_ask ask = {
		.kind = kind, .basis = "escrow", .provider = provider,
		.sender = prov_sender(cfg, provider, col(payin, PCOL_NETWORK)),
		.recipient = entered_recipient(req, payin, kind, v[F_RECIPIENT].str, &st),
		.reason = v[F_REASON].present ? v[F_REASON].str : NULL, .amount = v[F_AMOUNT].amount,
		.actor = req->auth.sub, .request_id = req->request_id,
	};
	if ((http = outgoing_prepare(req->app->db, cfg, payin, &ask, &prep, &why, &st)) != 0) {
		bool bad_recipient = strcmp(why.code, "invalid_recipient") == 0;
		if (http >= 500)
			resp_db_error(resp, st);
		else
			/* The address is the body's even when it is the registered one: a bad one is the request's fault. */
			resp_error(resp, bad_recipient ? 400 : http, why.code, bad_recipient ? "recipientAddress" : NULL, "%s",
			           why.message);
		goto out;
	}
	if (v[F_METADATA].present) {
		meta = json_object_new_object();
		json_object_object_add(meta, "requestMetadata", json_object_get(v[F_METADATA].obj));
		prep.rq.metadata = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN);
	}
	switch (payout_open(req->app->db, &prep.rq, &out, &why, &st)) {
	case PAYOUT_DONE:
		break;
	case PAYOUT_EXISTS:
		/* Opened meanwhile by another request: that one is answered, if it is this one. */
		if (same_payout(resp, out, provider, v) != 0) {
			PQclear(out);
			out = NULL;
		}
		break;
	case PAYOUT_REFUSED:
		resp_error(resp, 409, why.code, NULL, "%s", why.message);
		break;
	case PAYOUT_NOT_FOUND:
		resp_error(resp, 404, "not_found", NULL, "payment %s not found", id);
		break;
	default:
		resp_db_error(resp, st == DB_OK ? DB_FAILED : st);
		break;
	}
out:
	json_object_put(meta);
	PQclear(payin);
	json_object_put(body);
	return out;
}

void provider_payout_answer(struct response *resp, const struct prov_outcome *o, json_object *extra)
{
	int status = prov_http_status(o);
	json_object *data = prov_outcome_json(o);

	if (extra) {
		json_object_object_foreach(extra, k, val) json_object_object_add(data, k, json_object_get(val));
		json_object_put(extra);
	}
	if (o->retry_after > 0 && (o->kind == PROV_PENDING || o->kind == PROV_UNCERTAIN || o->kind == PROV_UNAVAILABLE))
		resp_header(resp, "Retry-After", "%d", o->retry_after);
	switch (o->kind) {
	case PROV_COMPLETED:
	case PROV_ACCEPTED:
	case PROV_PENDING:
		resp_ok(resp, status, data, o->message);
		return;
	case PROV_FAILED:
	case PROV_CONFLICT:
	case PROV_REFUTED:
	case PROV_UNCERTAIN:
	case PROV_UNAVAILABLE:
		resp_error_data(resp, status, o->code, NULL, data, "%s", o->message);
		return;
	case PROV_DB:
		break;
	}
	json_object_put(data);
	resp_db_error(resp, o->dbst);
}

PGresult *provider_payout_by_provider_id(struct request *req, struct response *resp, const char *provider,
                                         const char *provider_id)
{
	PGresult *res = NULL;
	enum db_status st;

	if (provider_id == NULL || !valid_id(provider_id)) {
		resp_error(resp, 400, "invalid_field", "id", "the provider's id is 1 to 64 letters, digits, '_' or '-'");
		return NULL;
	}
	const char *p[2] = { provider, provider_id };
	st = db_exec(req->app->db, &res,
	             "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.direction = 'out' AND p.provider = $1"
	             " AND p.provider_payment_id = $2", 2, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return NULL;
	}
	if (PQntuples(res) == 0) {
		resp_error(resp, 404, "not_found", NULL, "no %s payout is known as %s", provider, provider_id);
		PQclear(res);
		return NULL;
	}
	return res;
}

void payout_delivery_end(struct request *req, struct response *resp, const struct payout_delivery *d,
                         const struct prov_outcome *o, const char *outcome, const char *detail, const char *payout)
{
	if (o && outcome == NULL) {
		metrics_webhook(d->provider, "valid", o->kind == PROV_DB ? "error" : "not_final");
		if (o->kind == PROV_DB) {
			resp_db_error(resp, o->dbst);
		} else {
			resp_header(resp, "Retry-After", "%d", o->retry_after > 0 ? o->retry_after : 60);
			resp_error(resp, 503, o->code, NULL, "%s; deliver again later", o->message);
		}
		return;
	}
	if (!(o && o->finished) && inbox_finish(req->app->db, d->id, outcome, payout, detail) != DB_OK)
		log_warn("delivery %lld: outcome %s not recorded", d->id, outcome);
	payout_delivery_ack(resp, d, outcome, payout);
}

void payout_delivery_ack(struct response *resp, const struct payout_delivery *d, const char *outcome,
                         const char *payout)
{
	json_object *data = json_object_new_object();

	metrics_webhook(d->provider, "valid", d->duplicate ? "duplicate" : outcome);
	json_object_object_add(data, "deliveryId", json_object_new_int64(d->id));
	json_object_object_add(data, "outcome", json_object_new_string(d->duplicate ? "duplicate" : outcome));
	json_object_object_add(data, "paymentId", payout ? json_object_new_string(payout) : NULL);
	resp_ok(resp, d->ack_status, data, "delivery accepted");
}
