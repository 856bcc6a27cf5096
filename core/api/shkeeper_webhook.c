/*
 * SHKeeper's invoice callbacks. Every delivery is stored before anything
 * acts on it; the answer is 202 for every stored delivery (SHKeeper repeats
 * anything else every minute, forever), 401 for a bad signature, and 503 only
 * when the delivery could not be stored, so SHKeeper's retry brings it back.
 *
 * A delivery is stored and applied in one transaction, one commit: the inbox
 * row, a savepoint, the coordinator's work with the outcome, commit. When
 * applying fails it is rolled back to the savepoint and the stored delivery
 * still commits, unfinished, before the 503. Only a delivery whose claim the
 * chain must confirm first commits on arrival, on its own: the RPC calls run
 * between two transactions, never inside one. Nothing is answered 2xx before
 * the commit that holds what it says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handlers.h"
#include "base/devfault.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/jsonin.h"
#include "flow/shk_apply.h"
#include "pay/inbox.h"
#include "shkeeper/shkeeper.h"

static void answer(struct response *resp, long long delivery, const char *outcome, const char *payment)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "deliveryId", json_object_new_int64(delivery));
	json_object_object_add(d, "outcome", json_object_new_string(outcome));
	json_object_object_add(d, "paymentId", payment ? json_object_new_string(payment) : NULL);
	resp_ok(resp, 202, d, "delivery accepted");
}

/* Nothing of the delivery committed: the transaction is undone, counted, and
 * answered 503, so that SHKeeper sends it again. */
static void not_stored(struct db *db, struct response *resp, const char *verdict, enum db_status st)
{
	db_rollback(db);
	metrics_webhook("shkeeper", verdict, "error");
	resp_db_error(resp, st);
}

/*
 * Acts on a stored, authentic delivery and answers for it: 202 with what
 * came of it, 503 when the database failed or the chain asks to wait. With
 * in_tx the delivery was stored in the transaction still open, which this
 * commits before answering.
 */
static void process(struct request *req, struct response *resp, long long delivery, bool duplicate,
                    json_object *cb, bool in_tx)
{
	const char *external_id = shk_claim_member(cb, "external_id"), *status = shk_claim_member(cb, "status");
	struct shk_applied a = { .outcome = "rejected" };
	struct db *db = req->app->db;
	enum db_status st;

	if (external_id == NULL || status == NULL) {
		a.detail = "not a SHKeeper callback: external_id or status missing";
	} else {
		struct shk_claim c = {
			.report = cb, .external_id = external_id, .status = status, .delivery = delivery,
			.request_id = req->request_id, .in_tx = in_tx,
		};
		shk_apply(db, req->app->cfg, &c, &a);
		if (a.needs_chain) {
			/* The chain is asked outside any transaction: the stored delivery commits first. */
			if ((st = db_commit(db)) != DB_OK) {
				not_stored(db, resp, "valid", st);
				return;
			}
			in_tx = c.in_tx = false;
			shk_apply(db, req->app->cfg, &c, &a);
		}
		if (a.outcome == NULL) {
			/* Stored but not applied: the delivery commits unfinished, a 503 makes SHKeeper retry, and the retry finishes it. */
			if (in_tx && db_commit(db) != DB_OK)
				db_rollback(db);
			metrics_webhook("shkeeper", "valid", "error");
			resp_db_error(resp, a.st);
			return;
		}
	}
	if (!a.finished &&
	    (st = inbox_finish(db, delivery, a.outcome, a.payment[0] ? a.payment : NULL, a.detail)) != DB_OK) {
		if (in_tx) {
			/* Its outcome is part of what commits: without it nothing is stored, nothing acknowledged. */
			not_stored(db, resp, "valid", st);
			return;
		}
		log_warn("delivery %lld: outcome %s not recorded", delivery, a.outcome);
	}
	if (in_tx) {
		devfault_trip(req->app->cfg, "webhook_before_commit");
		if ((st = db_commit(db)) != DB_OK) {
			not_stored(db, resp, "valid", st);
			return;
		}
	}
	log_info("SHKeeper delivery %lld for %s (%s): %s%s%s", delivery, external_id ? external_id : "?",
	         status ? status : "?", a.outcome, a.detail ? ": " : "", a.detail ? a.detail : "");
	metrics_webhook("shkeeper", "valid", a.retry_later ? "not_final" : duplicate ? "duplicate" : a.outcome);
	if (a.retry_later) {
		/* Stored and left unfinished: SHKeeper delivers again in a minute, and that one finishes it. */
		resp_header(resp, "Retry-After", "60");
		resp_error(resp, 503, "not_final", NULL, "%s; deliver again later", a.detail);
		return;
	}
	answer(resp, delivery, duplicate ? "duplicate" : a.outcome, a.payment[0] ? a.payment : NULL);
}

void h_shkeeper_webhook(struct request *req, struct response *resp)
{
	struct shk_auth_input in = {
		.signature = req_header(req, "HTTP_X_SHKEEPER_SIGNATURE"),
		.timestamp = req_header(req, "HTTP_X_SHKEEPER_TIMESTAMP"),
		.api_key = req_header(req, "HTTP_X_SHKEEPER_API_KEY"),
		.alt_signatures = { req_header(req, "HTTP_X_SIGNATURE"), req_header(req, "HTTP_SIGNATURE"),
		                    req_header(req, "HTTP_X_HUB_SIGNATURE"), req_header(req, "HTTP_X_HUB_SIGNATURE_256") },
	};
	struct json_fault fault;
	json_object *cb = NULL, *headers = NULL;
	char txid[67] = "";
	struct inbox_entry entry;
	struct db *db = req->app->db;
	enum db_status st;

	if (delivery_admissible(req, resp, "a SHKeeper callback") != 0)
		return;
	enum shk_auth auth = shk_authenticate(req->app->cfg, &in, req->body, req->body_len, time(NULL));
	if (!shk_auth_ok(auth)) {
		/* Anyone can send this: counted for the operator, never stored. */
		delivery_refused(req, "shkeeper", shk_auth_name(auth));
		log_warn("SHKeeper delivery refused: %s", shk_auth_name(auth));
		resp_error(resp, 401, "invalid_signature", NULL, "webhook authentication failed: %s",
		           shk_auth_name(auth));
		return;
	}
	/*
	 * Authentic bytes are kept whatever they hold; only the same strict
	 * reader as every other body decides what they say, so trailing bytes or
	 * a second object after a signed one are refused, not half-read.
	 */
	cb = json_strict_parse(req->body, req->body_len, JSON_MAX_DEPTH, &fault);
	bool readable = fault.kind == JSON_FAULT_NONE && json_object_is_type(cb, json_type_object);
	const char *external_id = readable ? shk_claim_member(cb, "external_id") : NULL;
	if (readable)
		shk_trigger_txid(cb, txid);
	headers = delivery_headers(req, true);
	struct inbox_delivery d = {
		.provider = "shkeeper", .body = req->body, .body_len = req->body_len,
		.headers_json = json_object_to_json_string_ext(headers, JSON_C_TO_STRING_PLAIN),
		.verdict = readable ? "valid" : "invalid", .external_id = external_id,
		.event_key = txid[0] ? txid : NULL,
	};
	/* After this point, all errors should use goto out. */
	if ((st = db_begin(db)) != DB_OK || (st = inbox_store(db, &d, &entry)) != DB_OK) {
		not_stored(db, resp, d.verdict, st);
		goto out;
	}
	if (!readable) {
		if ((st = inbox_finish(db, entry.id, "rejected", NULL, "signed, but not one strict JSON object")) != DB_OK ||
		    (st = db_commit(db)) != DB_OK) {
			not_stored(db, resp, "invalid", st);
			goto out;
		}
		metrics_webhook("shkeeper", "invalid", "rejected");
		log_warn("SHKeeper delivery %lld refused: signed, but not one strict JSON object", entry.id);
		if (fault.kind != JSON_FAULT_NONE)
			jin_fault(resp, &fault, "the callback");
		else
			resp_error(resp, 400, "invalid_json", NULL, "the callback must be a JSON object");
		goto out;
	}
	if (entry.duplicate && !entry.first_unfinished) {
		if ((st = db_commit(db)) != DB_OK) {
			not_stored(db, resp, "valid", st);
			goto out;
		}
		metrics_webhook("shkeeper", "valid", "duplicate");
		answer(resp, entry.id, "duplicate", NULL);
		goto out;
	}
	process(req, resp, entry.id, entry.duplicate, cb, true);
out:
	json_object_put(cb);
	json_object_put(headers);
}

/*
 * An admin acts again on a stored delivery that changed nothing the first
 * time (left unfinished, its payment unknown then, refuted by the chain, or
 * left for review):
 * the stored bytes were authenticated when they arrived and are used as
 * they are. Deliveries that did change something are not replayed.
 */
void h_webhook_replay(struct request *req, struct response *resp)
{
	const char *id = req_path_param(req, "deliveryId");
	PGresult *res = NULL;
	json_object *cb = NULL;
	enum db_status st;

	if (id == NULL || strspn(id, "0123456789") != strlen(id) || strlen(id) > 18) {
		resp_error(resp, 400, "invalid_field", "id", "id must be a delivery id (a whole number)");
		return;
	}
	const char *p[1] = { id };
	st = db_exec(req->app->db, &res,
	             "SELECT provider, verdict, outcome, convert_from(body, 'UTF8') FROM webhook_inbox WHERE id = $1::bigint",
	             1, p);
	if (st == DB_CHECK) {
		resp_error(resp, 409, "not_replayable", NULL, "delivery %s is not text", id);
		return;
	}
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	/* After this point, all errors should use goto out. */
	if (PQntuples(res) == 0) {
		resp_error(resp, 404, "not_found", NULL, "delivery %s not found", id);
		goto out;
	}
	const char *outcome = PQgetvalue(res, 0, 2);
	if (strcmp(PQgetvalue(res, 0, 0), "shkeeper") != 0 || strcmp(PQgetvalue(res, 0, 1), "valid") != 0) {
		resp_error(resp, 409, "not_replayable", NULL, "only authentic SHKeeper deliveries are replayed");
		goto out;
	}
	if (strcmp(outcome, "received") != 0 && strcmp(outcome, "unknown_payment") != 0 &&
	    strcmp(outcome, "rejected") != 0 && strcmp(outcome, "ignored") != 0 && strcmp(outcome, "review") != 0) {
		resp_error(resp, 409, "already_processed", NULL, "delivery %s was %s: nothing to replay", id, outcome);
		goto out;
	}
	const char *stored = PQgetvalue(res, 0, 3);
	cb = json_strict_parse(stored, strlen(stored), JSON_MAX_DEPTH, NULL);
	log_info("delivery %s replayed by %s (was %s)", id, req->auth.sub, outcome);
	process(req, resp, atoll(id), false, cb, false);
out:
	json_object_put(cb);
	PQclear(res);
}
