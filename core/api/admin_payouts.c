/* Outgoing payments for admins: the manual payout an admin signed outside the
 * service, confirmed by its hash, and the list of payouts.
 *
 *   POST /admin/confirm-tx/:paymentId   {txHash, kind, basis?, recipientAddress?, reason?, amount?}
 *   GET  /admin/payouts                 status, kind, provider, sellerId, from, to, limit, offset */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/payout_answer.h"
#include "base/log.h"
#include "flow/outgoing.h"
#include "http/jsonin.h"
#include "pay/payout.h"

#define REASON_MAX 500

static const char *const kinds[] = { "release", "refund", NULL };
static const char *const bases[] = { "escrow", "partial", "excess", "closed", NULL };

enum { T_TX, T_KIND, T_BASIS, T_RECIPIENT, T_REASON, T_AMOUNT, T_N };
static const struct jfield confirm_fields[T_N] = {
	[T_TX] = { "txHash", JK_TXHASH, true, 0, 0, NULL },
	[T_KIND] = { "kind", JK_ENUM, true, 0, 0, kinds },
	[T_BASIS] = { "basis", JK_ENUM, false, 0, 0, bases },
	[T_RECIPIENT] = { "recipientAddress", JK_ADDRESS, false, 0, 0, NULL },
	[T_REASON] = { "reason", JK_STRING, false, 0, REASON_MAX, NULL },
	[T_AMOUNT] = { "amount", JK_AMOUNT, false, 0, 0, NULL },
};

/* :paymentId is an outgoing payment of this kind: confirm it as it is. */
static void confirm_outgoing(struct request *req, struct response *resp, const PGresult *out, const struct jval *v,
                             struct outgoing_outcome *o)
{
	const char *id = PQgetvalue(out, 0, PCOL_ID);

	if (strcmp(PQgetvalue(out, 0, POCOL_KIND), v[T_KIND].str) != 0) {
		resp_error(resp, 409, "kind_mismatch", "kind", "payout %s is a %s, not a %s", id, PQgetvalue(out, 0, POCOL_KIND),
		           v[T_KIND].str);
		return;
	}
	/*
	 * A provider's payout whose answer was lost can only be settled from the
	 * chain: the hash must show a transfer from its payout wallet, as the
	 * snapshot says. The hot wallet's own transactions are its to follow.
	 */
	const char *provider = PQgetvalue(out, 0, PCOL_PROVIDER);
	if (strcmp(provider, "admin_wallet") != 0 && strcmp(provider, "shkeeper") != 0 && strcmp(provider, "bvnk") != 0) {
		resp_error(resp, 409, "payout_exists", NULL, "payout %s is a %s payout: it is not confirmed by hash", id,
		           provider);
		return;
	}
	outgoing_confirm(req->app->db, req->app->cfg, out, v[T_TX].str, req->auth.sub, req->request_id, o);
	payout_answer_outcome(resp, o, "txHash");
}

void h_admin_confirm_tx(struct request *req, struct response *resp)
{
	struct jval v[T_N];
	struct outgoing_outcome o = { 0 };
	struct outgoing_prep prep;
	struct payout_refusal why = { "", "" };
	json_object *body = jin_body(req, resp);
	PGresult *pay = NULL, *out = NULL;
	const struct config *cfg = req->app->cfg;
	enum db_status st = DB_OK;
	int http;

	if (body == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if (jin_check(confirm_fields, T_N, body, NULL, v, resp) != 0 ||
	    (pay = payment_visible(req, resp, req_path_param(req, "paymentId"), "paymentId", PARTY_BUYER)) == NULL)
		goto out;
	const char *id = PQgetvalue(pay, 0, PCOL_ID);
	if (strcmp(PQgetvalue(pay, 0, PCOL_DIRECTION), "out") == 0) {
		/* payment_visible reads PAYMENT_COLUMNS; the outgoing payment is read again with its own. */
		const char *p[1] = { id };
		if ((st = db_exec(req->app->db, &out, "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1", 1, p)) != DB_OK) {
			resp_db_error(resp, st);
			goto out;
		}
		confirm_outgoing(req, resp, out, v, &o);
		goto out;
	}
	const char *basis = v[T_BASIS].present ? v[T_BASIS].str : "escrow";
	if ((st = payout_find_active(req->app->db, id, v[T_KIND].str, basis, &out)) != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (out) {
		confirm_outgoing(req, resp, out, v, &o);
		goto out;
	}
	/* Nothing open yet: the hash must pay what a payout of this pay-in would, or nothing is written. */
	struct outgoing_ask ask = {
		.kind = v[T_KIND].str, .basis = basis, .provider = "admin_wallet", .sender = cfg->escrow_address,
		.recipient = v[T_RECIPIENT].present ? v[T_RECIPIENT].str : NULL,
		.reason = v[T_REASON].present ? v[T_REASON].str : NULL,
		.amount = v[T_AMOUNT].present ? v[T_AMOUNT].amount : NULL,
		.actor = req->auth.sub, .request_id = req->request_id,
	};
	if ((http = outgoing_prepare(req->app->db, cfg, pay, &ask, &prep, &why, &st)) != 0) {
		if (http >= 500)
			resp_db_error(resp, st);
		else
			resp_error(resp, http, why.code, strcmp(why.code, "invalid_recipient") == 0 ? "recipientAddress" : NULL,
			           "%s", why.message);
		goto out;
	}
	outgoing_confirm_new(req->app->db, cfg, &prep, v[T_TX].str, &o);
	log_info("payment %s: manual %s %s -> %s (%s)", id, v[T_KIND].str, v[T_TX].str, outgoing_kind_name(o.kind),
	         o.message);
	payout_answer_outcome(resp, &o, "txHash");
out:
	PQclear(o.row);
	PQclear(out);
	PQclear(pay);
	json_object_put(body);
}

/* ---- the list ---- */

/* "completed,failed" -> a PostgreSQL array literal of checked statuses; 400 written on a bad one. */
static int statuses(struct request *req, struct response *resp, char out[128])
{
	char text[128], *save = NULL;
	int found = req_query(req, "status", text, sizeof(text));
	size_t o = 0;

	out[0] = '\0';
	if (found < 0) {
		resp_error(resp, 400, "invalid_field", "status", "status is malformed");
		return -1;
	}
	if (found == 0 || strcmp(text, "all") == 0)
		return 0;
	out[o++] = '{';
	for (char *s = strtok_r(text, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		if (!payment_status_valid(s)) {
			resp_error(resp, 400, "invalid_field", "status",
			           "status must be all or a comma-separated list of: pending, processing, completed, failed, cancelled");
			return -1;
		}
		o += (size_t)snprintf(out + o, 128 - o, "%s%s", o > 1 ? "," : "", s);
	}
	snprintf(out + o, 128 - o, "}");
	return 0;
}

/* An optional query value that must be one of `choices`; 400 written on another. */
static int one_of(struct request *req, struct response *resp, const char *name, const char *const *choices,
                  char out[32])
{
	int found = req_query(req, name, out, 32);

	if (found == 0) {
		out[0] = '\0';
		return 0;
	}
	for (const char *const *c = choices; found > 0 && *c; c++)
		if (strcmp(*c, out) == 0)
			return 0;
	resp_error(resp, 400, "invalid_field", name, "%s is not one of the accepted values", name);
	return -1;
}

/* YYYY-MM-DD, optionally THH:MM[:SS[.ffffff]] and Z or ±HH:MM. Shape only: PostgreSQL checks the calendar. */
static bool timestamp_shape(const char *s)
{
	static const char date[] = "dddd-dd-dd", time[] = "Tdd:dd";
	size_t i;

	for (i = 0; date[i]; i++)
		if (date[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != date[i])
			return false;
	if (s[i] == '\0')
		return true;
	for (size_t j = 0; time[j]; j++, i++)
		if (time[j] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != time[j])
			return false;
	if (s[i] == ':' && isdigit((unsigned char)s[i + 1]) && isdigit((unsigned char)s[i + 2])) {
		i += 3;
		if (s[i] == '.') {
			size_t n = 0;
			for (i++; isdigit((unsigned char)s[i]) && n < 6; i++, n++)
				;
			if (n == 0)
				return false;
		}
	}
	if (s[i] == 'Z')
		return s[i + 1] == '\0';
	if ((s[i] == '+' || s[i] == '-') && isdigit((unsigned char)s[i + 1]) && isdigit((unsigned char)s[i + 2]) &&
	    s[i + 3] == ':' && isdigit((unsigned char)s[i + 4]) && isdigit((unsigned char)s[i + 5]))
		return s[i + 6] == '\0';
	return s[i] == '\0';
}

static int timestamp_param(struct request *req, struct response *resp, const char *name, char out[40])
{
	int found = req_query(req, name, out, 40);

	if (found == 0) {
		out[0] = '\0';
		return 0;
	}
	if (found < 0 || !timestamp_shape(out)) {
		resp_error(resp, 400, "invalid_field", name, "%s must be a date (2026-05-01) or an ISO 8601 time", name);
		return -1;
	}
	return 0;
}

#define PAYOUT_FILTER \
	" WHERE p.direction = 'out'" \
	"   AND ($1::text[] IS NULL OR p.status = ANY ($1::text[]))" \
	"   AND ($2::text IS NULL OR p.kind = $2)" \
	"   AND ($3::text IS NULL OR p.provider = $3)" \
	"   AND ($4::text IS NULL OR p.seller_id = $4 OR (p.seller_id IS NULL AND EXISTS" \
	"        (SELECT 1 FROM seller_offers o WHERE o.id = p.seller_offer_id AND o.seller_id = $4)))" \
	"   AND ($5::timestamptz IS NULL OR p.created_at >= $5::timestamptz)" \
	"   AND ($6::timestamptz IS NULL OR p.created_at < $6::timestamptz)"

void h_admin_payouts(struct request *req, struct response *resp)
{
	static const char *const providers[] = { "admin_wallet", "hot_wallet", "shkeeper", "bvnk", NULL };
	char st_list[128], kind[32], provider[32], seller[ID_MAX + 1], from[40], to[40], limit[16], offset[24];
	PGresult *rows = NULL, *count = NULL;
	enum db_status st;
	int found;

	if (statuses(req, resp, st_list) != 0 || one_of(req, resp, "kind", kinds, kind) != 0 ||
	    one_of(req, resp, "provider", providers, provider) != 0 || timestamp_param(req, resp, "from", from) != 0 ||
	    timestamp_param(req, resp, "to", to) != 0 || req_page(req, resp, 50, limit, offset) != 0)
		return;
	if ((found = req_query(req, "sellerId", seller, sizeof(seller))) < 0 || (found > 0 && !valid_id(seller))) {
		resp_error(resp, 400, "invalid_field", "sellerId", "sellerId must be an id of 1 to 64 letters, digits, '_' or '-'");
		return;
	}
	const char *p[8] = { st_list[0] ? st_list : NULL, kind[0] ? kind : NULL, provider[0] ? provider : NULL,
	                     found > 0 ? seller : NULL, from[0] ? from : NULL, to[0] ? to : NULL, limit, offset };
	st = db_exec(req->app->db, &rows,
	             "SELECT " PAYOUT_COLUMNS " FROM payments p" PAYOUT_FILTER
	             " ORDER BY p.created_at DESC, p.id LIMIT $7::integer OFFSET $8::bigint", 8, p);
	if (st == DB_OK)
		st = db_exec(req->app->db, &count, "SELECT count(*) FROM payments p" PAYOUT_FILTER, 6, p);
	if (st == DB_CHECK) {
		resp_error(resp, 400, "invalid_field", from[0] ? "from" : "to", "from or to is not a valid date or time");
		goto out;
	}
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	json_object *list = json_object_new_array(), *data = json_object_new_object(), *page = json_object_new_object();
	for (int i = 0; i < PQntuples(rows); i++)
		json_object_array_add(list, payout_json(rows, i));
	json_object_object_add(page, "total", json_object_new_int64(atoll(PQgetvalue(count, 0, 0))));
	json_object_object_add(page, "limit", json_object_new_int(atoi(limit)));
	json_object_object_add(page, "offset", json_object_new_int64(atoll(offset)));
	json_object_object_add(data, "payouts", list);
	json_object_object_add(data, "pagination", page);
	resp_ok(resp, 200, data, NULL);
out:
	PQclear(rows);
	PQclear(count);
}
