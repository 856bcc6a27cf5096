/* Admin maintenance, and the older SDK's generic payment callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/jsonin.h"
#include "pay/cleanup.h"
#include "pay/inbox.h"

static const struct jfield cleanup_fields[1] = {
	{ "olderThanMinutes", JK_INT, false, 1, 525600, NULL },
};

void h_cleanup_pending(struct request *req, struct response *resp)
{
	struct jval v[1];
	json_object *body;
	PGresult *stale = NULL;
	char minutes[16];
	long cancelled = 0, kept = 0;
	enum db_status st;

	if (jin_optional(req, resp, cleanup_fields, 1, v, &body) != 0)
		goto out;
	snprintf(minutes, sizeof(minutes), "%lld",
	         v[0].present ? v[0].num : (long long)req->app->cfg->stale_pending_minutes);
	if ((st = cleanup_select(req->app->db, atoi(minutes), &stale)) != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	/* Each through the coordinator, "nothing received yet" checked again under its lock (pay/cleanup.h). */
	for (int i = 0; i < PQntuples(stale); i++) {
		enum coord_result r = cleanup_cancel(req->app->db, PQgetvalue(stale, i, 0), "admin", req->auth.sub,
		                                     req->request_id, &st);
		if (r == COORD_DB) {
			resp_db_error(resp, st);
			goto out;
		}
		cancelled += r == COORD_APPLIED;
		kept += r == COORD_SKIPPED;
	}
	char msg[128];
	snprintf(msg, sizeof(msg), "cancelled %ld stale pending payments", cancelled);
	json_object *data = json_object_new_object(), *extra = json_object_new_object();
	json_object_object_add(data, "cancelledCount", json_object_new_int64(cancelled));
	/* Found idle, but money arrived before each could be cancelled. */
	json_object_object_add(data, "keptWithDepositCount", json_object_new_int64(kept));
	json_object_object_add(data, "olderThanMinutes", json_object_new_int(atoi(minutes)));
	json_object_object_add(extra, "deletedCount", json_object_new_int64(cancelled));
	resp_ok_with(resp, 200, data, msg, extra);
out:
	PQclear(stale);
	json_object_put(body);
}

static const struct jfield callback_fields[4] = {
	{ "paymentId", JK_UUID, true, 0, 0, NULL },
	{ "transactionHash", JK_TXHASH, false, 0, 0, NULL },
	{ "status", JK_STRING, false, 0, 32, NULL },
	{ "data", JK_ANY, false, 0, 0, NULL },
};

/* An SDK callback is a few hundred bytes; what a payment keeps of them is bounded too. */
#define CALLBACK_MAX_BODY (16 * 1024)
#define CALLBACK_MAX_PER_PAYMENT 20

/*
 * The older SDK reports a payment's outcome here, unsigned. Its word is not
 * enough to complete a payment (only a check on the chain is), so the call is
 * recorded against the payment it names and answered 202. Since anyone can
 * call, the answer is the same whether the payment exists or not (it must not
 * tell which ids do), and what is stored is bounded: a payment keeps at most
 * CALLBACK_MAX_PER_PAYMENT distinct callbacks; repeats, the rest and those
 * naming no payment are only counted (pay/inbox.h).
 */
void h_callback(struct request *req, struct response *resp)
{
	struct jval v[4];
	json_object *body, *headers = NULL;
	PGresult *pay = NULL;
	char digest[65];
	const char *refused = NULL;
	enum db_status st;

	if (req->body_len > CALLBACK_MAX_BODY) {
		resp_error(resp, 413, "body_too_large", NULL, "a callback is at most %d bytes", CALLBACK_MAX_BODY);
		return;
	}
	if ((body = jin_body(req, resp)) == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if (jin_check(callback_fields, 4, body, NULL, v, resp) != 0)
		goto out;
	inbox_digest(req->body, req->body_len, digest);
	const char *q[2] = { v[0].str, digest };
	st = db_exec(req->app->db, &pay,
	             "SELECT (SELECT count(*) FROM webhook_inbox w WHERE w.provider = 'callback' AND w.external_id = $1),"
	             " EXISTS (SELECT 1 FROM webhook_inbox w WHERE w.provider = 'callback' AND w.external_id = $1"
	             "  AND w.body_digest = $2)"
	             " FROM payments p WHERE p.id = $1::uuid", 2, q);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (PQntuples(pay) == 0)
		refused = "unknown payment";
	else if (strcmp(PQgetvalue(pay, 0, 1), "t") == 0)
		refused = "repeat of a recorded callback";
	else if (atol(PQgetvalue(pay, 0, 0)) >= CALLBACK_MAX_PER_PAYMENT)
		refused = "the payment's callbacks are at their limit";
	if (refused) {
		st = delivery_refused(req, "callback", refused);
	} else {
		struct inbox_entry entry;
		headers = delivery_headers(req, false);
		struct inbox_delivery d = {
			.provider = "callback", .verdict = "unsigned", .body = req->body, .body_len = req->body_len,
			.headers_json = json_object_to_json_string_ext(headers, JSON_C_TO_STRING_PLAIN),
			.external_id = v[0].str, .event_key = v[1].present ? v[1].str : NULL,
		};
		st = inbox_store(req->app->db, &d, &entry);
		if (st == DB_OK)
			st = inbox_finish(req->app->db, entry.id, "recorded", v[0].str,
			                  "the SDK callback is unsigned; awaiting verification");
	}
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	metrics_webhook("callback", refused ? "refused" : "unsigned", refused ? "refused" : "recorded");
	log_info("callback for payment %s: %s", v[0].str, refused ? refused : "recorded");
	json_object *data = json_object_new_object();
	json_object_object_add(data, "paymentId", json_object_new_string(v[0].str));
	json_object_object_add(data, "recorded", json_object_new_boolean(1));
	resp_ok(resp, 202, data, "callback recorded; the payment changes only after on-chain verification");
out:
	PQclear(pay);
	json_object_put(headers);
	json_object_put(body);
}
