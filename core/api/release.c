/* Admin-signed release and refund of a pay-in's escrow: the transaction the
 * escrow signer must sign, then its hash confirmed on chain.
 *
 *   POST /:id/release, /:id/refund                  open the payout, answer the unsigned transaction
 *   POST /:id/release/confirm, /:id/refund/confirm  {txHash}: verified, then completed
 *
 * :id is the pay-in. The seed's spellings under /shkeeper/ are aliases. */
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "api/payout_answer.h"
#include "base/log.h"
#include "flow/outgoing.h"
#include "http/jsonin.h"
#include "pay/payout.h"

#define REASON_MAX 500

static const char *const bases[] = { "escrow", "partial", "excess", "closed", NULL };

enum { O_RECIPIENT, O_REASON, O_BASIS, O_AMOUNT, O_N };
static const struct jfield open_fields[O_N] = {
	[O_RECIPIENT] = { "recipientAddress", JK_ADDRESS, false, 0, 0, NULL },
	[O_REASON] = { "reason", JK_STRING, false, 0, REASON_MAX, NULL },
	[O_BASIS] = { "basis", JK_ENUM, false, 0, 0, bases },
	[O_AMOUNT] = { "amount", JK_AMOUNT, false, 0, 0, NULL },
};

static void open_payout(struct request *req, struct response *resp, const char *kind)
{
	struct jval v[O_N];
	json_object *body = NULL;
	struct payout_refusal why = { "", "" };
	PGresult *payin = NULL, *row = NULL;
	enum db_status st = DB_OK;
	const struct config *cfg = req->app->cfg;
	int http;

	if (jin_optional(req, resp, open_fields, O_N, v, &body) != 0)
		goto out;
	if (strcmp(kind, "release") == 0 && (v[O_BASIS].present || v[O_AMOUNT].present)) {
		resp_error(resp, 400, "invalid_field", v[O_BASIS].present ? "basis" : "amount",
		           "a release pays out the funded escrow: basis and amount are for refunds");
		goto out;
	}
	if ((payin = payment_visible(req, resp, req_path_param(req, "id"), "id", PARTY_BUYER)) == NULL)
		goto out;
	const char *basis = v[O_BASIS].present ? v[O_BASIS].str : "escrow";
	/* A repeat answers the payout that is open, whatever the pay-in's state is now. */
	if ((st = payout_find_active(req->app->db, PQgetvalue(payin, 0, PCOL_ID), kind, basis, &row)) != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (row) {
		payout_answer_opened(resp, PAYOUT_EXISTS, row, &why, st, "admin_wallet", PQgetvalue(payin, 0, PCOL_ID));
		goto out;
	}
	struct outgoing_ask ask = {
		.kind = kind, .basis = basis, .provider = "admin_wallet",
		.sender = cfg->escrow_address, .recipient = v[O_RECIPIENT].present ? v[O_RECIPIENT].str : NULL,
		.reason = v[O_REASON].present ? v[O_REASON].str : NULL,
		.amount = v[O_AMOUNT].present ? v[O_AMOUNT].amount : NULL,
		.actor = req->auth.sub, .request_id = req->request_id,
	};
	enum payout_result r;
	if ((http = outgoing_open(req->app->db, cfg, payin, &ask, &r, &row, &why, &st)) != 0) {
		if (http >= 500)
			resp_db_error(resp, st);
		else
			resp_error(resp, http, why.code, strcmp(why.code, "invalid_recipient") == 0 ? "recipientAddress" : NULL,
			           "%s", why.message);
		goto out;
	}
	payout_answer_opened(resp, r, row, &why, st, "admin_wallet", PQgetvalue(payin, 0, PCOL_ID));
out:
	json_object_put(body);
	PQclear(payin);
	PQclear(row);
}

enum { C_TX, C_BASIS, C_N };
static const struct jfield confirm_fields[C_N] = {
	[C_TX] = { "txHash", JK_TXHASH, true, 0, 0, NULL },
	[C_BASIS] = { "basis", JK_ENUM, false, 0, 0, bases },
};

static void confirm_payout(struct request *req, struct response *resp, const char *kind)
{
	struct jval v[C_N];
	struct outgoing_outcome o = { 0 };
	json_object *body = jin_body(req, resp);
	PGresult *payin = NULL, *out = NULL;
	enum db_status st;

	if (body == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if (jin_check(confirm_fields, C_N, body, NULL, v, resp) != 0 ||
	    (payin = payment_visible(req, resp, req_path_param(req, "id"), "id", PARTY_BUYER)) == NULL)
		goto out;
	const char *id = PQgetvalue(payin, 0, PCOL_ID);
	if ((st = payout_find_active(req->app->db, id, kind, v[C_BASIS].present ? v[C_BASIS].str : "escrow", &out)) != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (out == NULL) {
		resp_error(resp, 409, "no_active_payout", NULL, "payment %s has no %s in progress: open it with POST /api/payment/%s/%s",
		           id, kind, id, kind);
		goto out;
	}
	if (strcmp(PQgetvalue(out, 0, PCOL_PROVIDER), "admin_wallet") != 0) {
		resp_error(resp, 409, "payout_exists", NULL, "the %s of payment %s is a %s payout (%s): it is not confirmed by hash",
		           kind, id, PQgetvalue(out, 0, PCOL_PROVIDER), PQgetvalue(out, 0, PCOL_ID));
		goto out;
	}
	outgoing_confirm(req->app->db, req->app->cfg, out, v[C_TX].str, req->auth.sub, req->request_id, &o);
	log_info("payout %s: confirm %s -> %s (%s)", PQgetvalue(out, 0, PCOL_ID), v[C_TX].str,
	         outgoing_kind_name(o.kind), o.message);
	payout_answer_outcome(resp, &o, "txHash");
out:
	PQclear(o.row);
	PQclear(out);
	PQclear(payin);
	json_object_put(body);
}

void h_payout_release(struct request *req, struct response *resp)
{
	open_payout(req, resp, "release");
}

void h_payout_refund(struct request *req, struct response *resp)
{
	open_payout(req, resp, "refund");
}

void h_payout_release_confirm(struct request *req, struct response *resp)
{
	confirm_payout(req, resp, "release");
}

void h_payout_refund_confirm(struct request *req, struct response *resp)
{
	confirm_payout(req, resp, "refund");
}
