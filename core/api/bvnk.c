/* Seller payouts through BVNK: BVNK sends, its API is asked before its webhooks are trusted.
 *
 *   POST /bvnk/payout                 (admin) open the payout and create it at BVNK; a repeat answers it
 *   GET  /bvnk/payout/status/:uuid    (admin) read it from BVNK and apply what it says
 *   POST /bvnk/webhook                BVNK's signed webhooks (both envelopes): stored, then applied; 200
 */
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "api/provider_payout.h"
#include "base/log.h"
#include "base/valid.h"
#include "bvnk/bvnk.h"
#include "flow/bvnkpayout.h"
#include "http/jsonin.h"
#include "pay/inbox.h"
#include "pay/payout.h"

void h_bvnk_payout(struct request *req, struct response *resp)
{
	struct prov_outcome o = { 0 };
	PGresult *out = provider_payout_open(req, resp, "bvnk", NULL);

	if (out == NULL)
		return;
	bvnkpayout_send(req->app->db, req->app->cfg, out, req->auth.sub, req->request_id, &o);
	log_info("BVNK payout %s: %s (%s)", PQgetvalue(out, 0, PCOL_ID), prov_kind_name(o.kind), o.message);
	provider_payout_answer(resp, &o, NULL);
	PQclear(o.row);
	PQclear(out);
}

void h_bvnk_payout_status(struct request *req, struct response *resp)
{
	struct prov_outcome o = { 0 };
	PGresult *out = provider_payout_by_provider_id(req, resp, "bvnk", req_path_param(req, "uuid"));

	if (out == NULL)
		return;
	bvnkpayout_poll(req->app->db, req->app->cfg, out, req->auth.sub, req->request_id, &o);
	log_info("BVNK payout %s polled: %s (%s)", PQgetvalue(out, 0, PCOL_ID), prov_kind_name(o.kind), o.message);
	provider_payout_answer(resp, &o, NULL);
	PQclear(o.row);
	PQclear(out);
}

static const char *outcome_of(const struct prov_outcome *o)
{
	switch (o->kind) {
	case PROV_COMPLETED:
		/* Completed before, or only contradicted now: recorded, nothing moved. */
		return strcmp(o->code, "completed") == 0 ? "applied" : "ignored";
	case PROV_FAILED: return "applied";
	case PROV_ACCEPTED: return strcmp(o->code, "on_hold") == 0 || strcmp(o->code, "released_from_hold") == 0
	                           ? "applied" : "recorded";
	case PROV_REFUTED: return "rejected";
	case PROV_CONFLICT: return "ignored";
	default: return NULL;    /* not decided now: left received, BVNK delivers again */
	}
}

/* The payout a webhook is about: by BVNK's uuid, else by our reference. NULL with *st set on a database error. */
static PGresult *find_payout(struct request *req, const struct bvnk_payout *p, enum db_status *st)
{
	const char *ref = valid_uuid(p->reference) ? p->reference : NULL;
	const char *q[2] = { p->uuid, ref };
	PGresult *res = NULL;

	*st = db_exec(req->app->db, &res,
	              "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.direction = 'out' AND p.provider = 'bvnk'"
	              " AND (p.provider_payment_id = $1 OR ($2::uuid IS NOT NULL AND p.id = $2::uuid))"
	              " ORDER BY (p.provider_payment_id = $1) DESC NULLS LAST LIMIT 1", 2, q);
	if (*st != DB_OK || PQntuples(res) == 0) {
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Acts on a stored, authentic webhook and answers: 200, or 503 so BVNK delivers it again. */
static void process(struct request *req, struct response *resp, const struct payout_delivery *dl, json_object *root)
{
	struct bvnk_event ev;
	struct bvnk_payout p;
	struct prov_outcome o = { 0 };
	PGresult *out = NULL;
	enum db_status st = DB_OK;
	char err[200];
	const char *payout;

	if (bvnk_read_event(root, &ev, err, sizeof(err)) != 0 || bvnk_read_payout(ev.data, &p, err, sizeof(err)) != 0) {
		payout_delivery_end(req, resp, dl, NULL, "rejected", err, NULL);
		return;
	}
	if ((out = find_payout(req, &p, &st)) == NULL) {
		if (st != DB_OK) {
			resp_db_error(resp, st);
			return;
		}
		snprintf(err, sizeof(err), "no BVNK payout %.64s (reference %.72s)", p.uuid, p.reference);
		payout_delivery_end(req, resp, dl, NULL, "unknown_payment", err, NULL);
		return;
	}
	payout = PQgetvalue(out, 0, PCOL_ID);
	bvnkpayout_webhook(req->app->db, req->app->cfg, out, p.uuid, dl->id, req->request_id, &o);
	log_info("BVNK webhook %lld (%s, %s) for %s: %s (%s)", dl->id, ev.event, p.status, payout, prov_kind_name(o.kind),
	         o.message);
	payout_delivery_end(req, resp, dl, &o, outcome_of(&o), o.message, payout);
	PQclear(o.row);
	PQclear(out);
}

/*
 * Was this event acted on already? BVNK repeats with new bytes. An eventId
 * names one event wherever it comes again; the legacy envelope has none, so
 * there a repeat is the same payout and status as the last delivery acted on
 * for that payout: the same status after another one (PROCESSING, a hold,
 * PROCESSING again) is a new move, not a repeat.
 */
static enum db_status seen_before(struct request *req, const char *key, bool by_event_id, const char *reference,
                                  long long id, bool *seen)
{
	char idtext[24];
	PGresult *res = NULL;
	enum db_status st;

	*seen = false;
	snprintf(idtext, sizeof(idtext), "%lld", id);
	const char *p[3] = { key, idtext, reference };
	if (by_event_id)
		st = db_exec(req->app->db, &res,
		             "SELECT 1 FROM webhook_inbox WHERE provider = 'bvnk' AND event_key = $1 AND id <> $2::bigint"
		             " AND outcome IN ('applied', 'recorded', 'ignored', 'rejected') LIMIT 1", 2, p);
	else
		st = db_exec(req->app->db, &res,
		             "SELECT 1 FROM (SELECT event_key FROM webhook_inbox WHERE provider = 'bvnk' AND external_id = $3"
		             "  AND id < $2::bigint AND outcome IN ('applied', 'recorded', 'ignored', 'rejected')"
		             "  ORDER BY id DESC LIMIT 1) last WHERE last.event_key = $1", 3, p);
	if (st == DB_OK)
		*seen = PQntuples(res) > 0;
	PQclear(res);
	return st;
}

void h_bvnk_webhook(struct request *req, struct response *resp)
{
	const char *signature = req_header(req, "HTTP_X_SIGNATURE"), *content_type = req_header(req, "CONTENT_TYPE");
	struct json_fault fault;
	struct inbox_entry entry;
	struct bvnk_event ev;
	struct bvnk_payout p;
	json_object *root = NULL, *headers = NULL;
	char err[200], key[200] = "";
	enum db_status st;
	bool seen;

	if (delivery_admissible(req, resp, "a BVNK webhook") != 0)
		return;
	if (!bvnk_webhook_authentic(req->app->cfg, signature, content_type, req->body, req->body_len)) {
		const char *why = signature ? "bad signature" : "missing credentials";
		/* Anyone can send this: counted for the operator, never stored. */
		delivery_refused(req, "bvnk", why);
		log_warn("BVNK webhook refused: %s", why);
		resp_error(resp, 401, "invalid_signature", NULL, "webhook authentication failed: %s", why);
		return;
	}
	root = json_strict_parse(req->body, req->body_len, JSON_MAX_DEPTH, &fault);
	bool readable = fault.kind == JSON_FAULT_NONE && json_object_is_type(root, json_type_object);
	bool known = readable && bvnk_read_event(root, &ev, err, sizeof(err)) == 0 &&
	             bvnk_read_payout(ev.data, &p, err, sizeof(err)) == 0;
	/* BVNK's newer envelope names each event; the legacy one is told apart by payout and status. */
	if (known && ev.event_id[0])
		snprintf(key, sizeof(key), "%s", ev.event_id);
	else if (known)
		snprintf(key, sizeof(key), "%s:%s:%s", p.uuid, ev.on_hold ? "hold" : "status", p.status);
	headers = delivery_headers(req, true);
	struct inbox_delivery d = {
		.provider = "bvnk", .body = req->body, .body_len = req->body_len,
		.headers_json = json_object_to_json_string_ext(headers, JSON_C_TO_STRING_PLAIN),
		.verdict = readable ? "valid" : "invalid", .external_id = known && p.reference[0] ? p.reference : NULL,
		.event_key = key[0] ? key : NULL,
	};
	/* After this point, all errors should use goto out. */
	if ((st = inbox_store(req->app->db, &d, &entry)) != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (!readable) {
		delivery_unreadable(req, resp, "bvnk", entry.id, &fault, "the webhook");
		goto out;
	}
	struct payout_delivery dl = { .provider = "bvnk", .id = entry.id, .duplicate = entry.duplicate, .ack_status = 200 };
	if (entry.duplicate && !entry.first_unfinished) {
		payout_delivery_ack(resp, &dl, "duplicate", NULL);
		goto out;
	}
	if (key[0] && !entry.duplicate) {
		if ((st = seen_before(req, key, ev.event_id[0] != '\0', p.reference, entry.id, &seen)) != DB_OK) {
			resp_db_error(resp, st);
			goto out;
		}
		if (seen) {
			payout_delivery_end(req, resp, &dl, NULL, "duplicate", "this event was acted on already", NULL);
			goto out;
		}
	}
	process(req, resp, &dl, root);
out:
	json_object_put(root);
	json_object_put(headers);
}
