/* Seller payouts through SHKeeper: SHKeeper signs and sends, the chain confirms.
 *
 *   POST /shkeeper/payout                    (admin) open the payout and ask SHKeeper to pay it; a repeat answers it
 *   GET  /shkeeper/payout/status/:taskId     (admin) ask SHKeeper how its task went and apply a final answer
 *                                            (alias /shkeeper/payout/:taskId)
 *   POST /shkeeper/payout/webhook            SHKeeper's signed success callback: stored, 202, then the chain decides
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/handlers.h"
#include "api/provider_payout.h"
#include "base/log.h"
#include "base/valid.h"
#include "flow/shkpayout.h"
#include "http/jsonin.h"
#include "pay/inbox.h"
#include "pay/payout.h"
#include "shkeeper/shkeeper.h"

/* The seed's answer: {payoutId, taskId, status}, with everything else the outcome says. */
static json_object *task_of(const struct prov_outcome *o)
{
	json_object *extra = json_object_new_object();

	json_object_object_add(extra, "taskId", o->row && !PQgetisnull(o->row, 0, PCOL_PROVIDER_ID)
	                       ? json_object_new_string(PQgetvalue(o->row, 0, PCOL_PROVIDER_ID)) : NULL);
	return extra;
}

void h_shk_payout(struct request *req, struct response *resp)
{
	struct prov_outcome o = { 0 };
	bool checked_not_sent = false;
	PGresult *out = provider_payout_open(req, resp, "shkeeper", &checked_not_sent);

	if (out == NULL)
		return;
	shkpayout_send(req->app->db, req->app->cfg, out, req->auth.sub, req->request_id, checked_not_sent, &o);
	log_info("SHKeeper payout %s: %s (%s)", PQgetvalue(out, 0, PCOL_ID), prov_kind_name(o.kind), o.message);
	provider_payout_answer(resp, &o, task_of(&o));
	PQclear(o.row);
	PQclear(out);
}

void h_shk_payout_status(struct request *req, struct response *resp)
{
	struct prov_outcome o = { 0 };
	PGresult *out = provider_payout_by_provider_id(req, resp, "shkeeper", req_path_param(req, "taskId"));

	if (out == NULL)
		return;
	shkpayout_poll(req->app->db, req->app->cfg, out, req->auth.sub, req->request_id, &o);
	log_info("SHKeeper payout %s polled: %s (%s)", PQgetvalue(out, 0, PCOL_ID), prov_kind_name(o.kind), o.message);
	provider_payout_answer(resp, &o, task_of(&o));
	PQclear(o.row);
	PQclear(out);
}

/* The inbox outcome of a callback, from what came of it. */
static const char *outcome_of(const struct prov_outcome *o)
{
	switch (o->kind) {
	case PROV_COMPLETED: return "applied";
	case PROV_ACCEPTED: return "recorded";
	case PROV_REFUTED: return "rejected";
	case PROV_FAILED:
	case PROV_CONFLICT: return "ignored";
	default: return NULL;    /* not decided: left received, SHKeeper delivers again */
	}
}

/* Acts on a stored, authentic callback and answers: 202, or 503 so SHKeeper delivers it again. */
static void process(struct request *req, struct response *resp, const struct payout_delivery *dl, json_object *cb)
{
	struct shk_payout_callback c;
	struct prov_outcome o = { 0 };
	PGresult *out = NULL;
	char err[160];
	const char *payout;

	if (shk_payout_callback_read(cb, &c, err, sizeof(err)) != 0) {
		payout_delivery_end(req, resp, dl, NULL, "rejected", err, NULL);
		return;
	}
	/* Our external id is the outgoing payment's id. */
	if (valid_uuid(c.external_id)) {
		const char *p[1] = { c.external_id };
		enum db_status st = db_exec(req->app->db, &out,
		                            "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1::uuid"
		                            " AND p.direction = 'out' AND p.provider = 'shkeeper'", 1, p);
		if (st != DB_OK) {
			resp_db_error(resp, st);
			return;
		}
	}
	if (out == NULL || PQntuples(out) == 0) {
		snprintf(err, sizeof(err), "no SHKeeper payout %.72s", c.external_id);
		payout_delivery_end(req, resp, dl, NULL, "unknown_payment", err, NULL);
		goto out;
	}
	payout = PQgetvalue(out, 0, PCOL_ID);
	shkpayout_callback(req->app->db, req->app->cfg, out, &c, dl->id, req->request_id, &o);
	log_info("SHKeeper payout callback %lld for %s (%s %s): %s (%s)", dl->id, payout, c.status, c.tx_hash,
	         prov_kind_name(o.kind), o.message);
	/* Left unfinished (no outcome): the chain is not final yet, or cannot be asked, or the database failed. */
	payout_delivery_end(req, resp, dl, &o, outcome_of(&o), o.message, payout);
out:
	PQclear(o.row);
	PQclear(out);
}

void h_shk_payout_webhook(struct request *req, struct response *resp)
{
	/* Payout callbacks are signed and carry no API key header: only the signature authenticates them. */
	struct shk_auth_input in = {
		.signature = req_header(req, "HTTP_X_SHKEEPER_SIGNATURE"), .timestamp = req_header(req, "HTTP_X_SHKEEPER_TIMESTAMP"),
	};
	struct json_fault fault;
	struct inbox_entry entry;
	struct shk_payout_callback c;
	json_object *cb = NULL, *headers = NULL;
	char err[160], key[160] = "";
	enum db_status st;

	if (delivery_admissible(req, resp, "a SHKeeper callback") != 0)
		return;
	enum shk_auth auth = shk_authenticate(req->app->cfg, &in, req->body, req->body_len, time(NULL));
	if (auth != SHK_AUTH_SIGNED) {
		const char *why = auth == SHK_AUTH_MISSING || auth == SHK_AUTH_STALE ? shk_auth_name(auth) : "bad signature";
		delivery_refused(req, "shkeeper_payout", why);
		log_warn("SHKeeper payout callback refused: %s", why);
		resp_error(resp, 401, "invalid_signature", NULL, "webhook authentication failed: %s", why);
		return;
	}
	cb = json_strict_parse(req->body, req->body_len, JSON_MAX_DEPTH, &fault);
	bool readable = fault.kind == JSON_FAULT_NONE && json_object_is_type(cb, json_type_object);
	bool known = readable && shk_payout_callback_read(cb, &c, err, sizeof(err)) == 0;
	if (known)
		snprintf(key, sizeof(key), "%s:%s:%s", c.external_id, c.status, c.tx_hash);
	headers = delivery_headers(req, true);
	struct inbox_delivery d = {
		.provider = "shkeeper_payout", .body = req->body, .body_len = req->body_len,
		.headers_json = json_object_to_json_string_ext(headers, JSON_C_TO_STRING_PLAIN),
		.verdict = readable ? "valid" : "invalid", .external_id = known ? c.external_id : NULL,
		.event_key = known ? key : NULL,
	};
	/* After this point, all errors should use goto out. */
	if ((st = inbox_store(req->app->db, &d, &entry)) != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (!readable) {
		delivery_unreadable(req, resp, "shkeeper_payout", entry.id, &fault, "the callback");
		goto out;
	}
	struct payout_delivery dl = { .provider = "shkeeper_payout", .id = entry.id, .duplicate = entry.duplicate, .ack_status = 202 };
	if (entry.duplicate && !entry.first_unfinished) {
		payout_delivery_ack(resp, &dl, "duplicate", NULL);
		goto out;
	}
	process(req, resp, &dl, cb);
out:
	json_object_put(cb);
	json_object_put(headers);
}
