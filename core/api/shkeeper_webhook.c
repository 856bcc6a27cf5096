/*
 * SHKeeper's invoice callbacks. Every delivery is stored before anything
 * acts on it; the answer is 202 for every stored delivery (SHKeeper repeats
 * anything else every minute, forever), 401 for a bad signature, and 503 only
 * when the delivery could not be stored, so SHKeeper's retry brings it back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handlers.h"
#include "base/jstr.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/jsonin.h"
#include "flow/shk_onchain.h"
#include "pay/coord.h"
#include "pay/inbox.h"
#include "pay/payment.h"
#include "shkeeper/shkeeper.h"

static const char *header(const struct request *req, const char *name)
{
	const char *v = req_param(req, name);
	return v && *v ? v : NULL;
}

static const char *string_member(json_object *obj, const char *name)
{
	json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, name, &v))
		return NULL;
	if (jstr(v) != NULL && json_object_get_string_len(v) <= 128)
		return jstr(v);
	/* SHKeeper sends external_id as a string; a number from an older server is taken as text. */
	if (json_object_is_type(v, json_type_int))
		return json_object_get_string(v);
	return NULL;
}

static void answer(struct response *resp, long long delivery, const char *outcome, const char *payment)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "deliveryId", json_object_new_int64(delivery));
	json_object_object_add(d, "outcome", json_object_new_string(outcome));
	json_object_object_add(d, "paymentId", payment ? json_object_new_string(payment) : NULL);
	resp_ok(resp, 202, d, "delivery accepted");
}

/* What came of applying a callback: an inbox outcome, or "ask again later". */
struct applied {
	const char *outcome;        /* NULL: a database error (see st) */
	const char *detail;
	bool retry_later;           /* the chain is not final or not reachable: answer 503 */
	bool finished;              /* the coordinator recorded the outcome with its decision */
	char payment[40];
	char note[300];
	enum db_status st;
};

/* A figure of the callback (an amount, a currency, a crypto name), or NULL when it is not one. */
static const char *figure(json_object *cb, const char *name)
{
	const char *v = string_member(cb, name);

	if (v == NULL || *v == '\0' || strlen(v) > 64 ||
	    strspn(v, "0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZ-") != strlen(v))
		return NULL;
	return v;
}

/* Columns of the lookup: the payment, then what the on-chain check needs (SHK_CHECK_COLUMNS). */
#define CB_CRYPTO_COL 29
/* Receipts checked one by one: well inside the 30 s SHKeeper waits for an answer. */
#define CHECK_SECONDS 20

/*
 * Applies a stored, authentic callback. What it comes to (and whether a
 * person must look at the money it reports) is decided by the coordinator
 * from the payment row under its lock, and recorded in the inbox in the
 * same transaction; the read here only finds the payment and says whether
 * the chain must be asked first.
 */
static void apply(struct request *req, json_object *cb, long long delivery, const char *external_id,
                  const char *status, struct applied *a)
{
	struct shk_effect effect;
	char txid[67], reason[64];
	PGresult *res = NULL;

	memset(a, 0, sizeof(*a));
	if (shk_map_status(status, &effect) != 0) {
		a->outcome = "ignored";
		a->detail = "status not known to SHKeeper";
		return;
	}
	const char *p[1] = { external_id };
	if ((a->st = db_exec(req->app->db, &res,
	                     "SELECT " PAYMENT_COLUMNS ", " SHK_CHECK_COLUMNS " FROM payments p"
	                     " WHERE p.provider = 'shkeeper' AND p.external_id = $1", 1, p)) != DB_OK)
		return;
	/* After this point, all errors should use goto out. */
	if (PQntuples(res) == 0) {
		a->outcome = "unknown_payment";
		goto out;
	}
	snprintf(a->payment, sizeof(a->payment), "%s", PQgetvalue(res, 0, PCOL_ID));
	if (effect.record_only) {
		a->outcome = "recorded";
		a->detail = "noted; no state change";
		goto out;
	}
	struct coord_delivery d = {
		.inbox_id = delivery, .provider = "shkeeper", .provider_status = status,
		.seen_crypto = figure(cb, "balance_crypto"), .crypto = figure(cb, "crypto"),
		.seen_fiat = figure(cb, "balance_fiat"), .fiat = figure(cb, "fiat"),
		.overpaid = strcmp(status, "OVERPAID") == 0, .overpaid_fiat = figure(cb, "overpaid_fiat"),
	};
	shk_own_txid(cb, PQgetisnull(res, 0, CB_CRYPTO_COL) ? NULL : PQgetvalue(res, 0, CB_CRYPTO_COL), txid);
	snprintf(reason, sizeof(reason), "SHKeeper callback %s", status);
	struct coord_change change = {
		.status = effect.status, .escrow = effect.escrow, .tx_hash = txid[0] ? txid : NULL,
		.source = "shkeeper", .actor = "shkeeper", .reason = reason, .request_id = req->request_id,
		.delivery = &d,
	};
	/* Funding moves money in our books: SHKeeper's word is held to its own rule, on the chain where checked. */
	if (effect.escrow && strcmp(effect.escrow, "funded") == 0 &&
	    strcmp(PQgetvalue(res, 0, PCOL_STATUS), "completed") != 0) {
		enum onchain oc = shk_check_on_chain(req->app->cfg, cb, res, CB_CRYPTO_COL, time(NULL) + CHECK_SECONDS, txid,
		                                     a->note, sizeof(a->note));
		a->detail = a->note;
		/* The hash recorded is one the check vouches for, not merely the callback's trigger. */
		change.tx_hash = txid[0] ? txid : NULL;
		if (oc == ONCHAIN_NOT_FINAL || oc == ONCHAIN_UNAVAILABLE) {
			a->outcome = "received";
			a->retry_later = true;
			goto out;
		}
		if (oc == ONCHAIN_REFUTED) {
			log_error("SHKeeper says %s paid, but it does not add up: %s", external_id, a->note);
			/* Nothing moves; the delivery is kept (replayable) and a person hears of the money. */
			d.refuted = a->note;
			change.status = change.escrow = change.tx_hash = NULL;
		}
	} else if (strcmp(PQgetvalue(res, 0, PCOL_STATUS), "completed") == 0) {
		/* Nothing was checked: the callback's hash is not recorded on its word (backfill finds one, verified). */
		change.tx_hash = NULL;
	}
	d.note = a->note[0] ? a->note : NULL;
	switch (coord_apply(req->app->db, a->payment, &change, NULL, &a->st)) {
	case COORD_DB:
		a->outcome = NULL;
		break;
	case COORD_NOT_FOUND:
		a->outcome = "unknown_payment";
		break;
	default:
		a->outcome = d.outcome;
		/* The coordinator's word on the outcome, else what the check found. */
		if (d.detail[0])
			snprintf(a->note, sizeof(a->note), "%s", d.detail);
		a->detail = a->note[0] ? a->note : NULL;
		a->finished = true;
		break;
	}
out:
	PQclear(res);
}

/*
 * Acts on a stored, authentic delivery and answers for it: 202 with what
 * came of it, 503 when the database failed or the chain asks to wait.
 */
static void process(struct request *req, struct response *resp, long long delivery, bool duplicate,
                    json_object *cb)
{
	const char *external_id = string_member(cb, "external_id"), *status = string_member(cb, "status");
	struct applied a = { .outcome = "rejected" };
	enum db_status st;

	if (external_id == NULL || status == NULL) {
		a.detail = "not a SHKeeper callback: external_id or status missing";
	} else {
		apply(req, cb, delivery, external_id, status, &a);
		if (a.outcome == NULL) {
			/* Stored but not applied: a 503 makes SHKeeper retry, and the retry finishes it. */
			metrics_webhook("shkeeper", "valid", "error");
			resp_db_error(resp, a.st);
			return;
		}
	}
	if (!a.finished &&
	    (st = inbox_finish(req->app->db, delivery, a.outcome, a.payment[0] ? a.payment : NULL, a.detail)) != DB_OK)
		log_warn("delivery %lld: outcome %s not recorded", delivery, a.outcome);
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
		.signature = header(req, "HTTP_X_SHKEEPER_SIGNATURE"),
		.timestamp = header(req, "HTTP_X_SHKEEPER_TIMESTAMP"),
		.api_key = header(req, "HTTP_X_SHKEEPER_API_KEY"),
		.alt_signatures = { header(req, "HTTP_X_SIGNATURE"), header(req, "HTTP_SIGNATURE"),
		                    header(req, "HTTP_X_HUB_SIGNATURE"), header(req, "HTTP_X_HUB_SIGNATURE_256") },
	};
	struct json_fault fault;
	json_object *cb = NULL, *headers = NULL;
	char txid[67] = "";
	struct inbox_entry entry;
	enum db_status st;

	if (req->body_len > INBOX_MAX_BODY) {
		resp_error(resp, 413, "body_too_large", NULL, "a SHKeeper callback is at most %d bytes", INBOX_MAX_BODY);
		return;
	}
	if (!req_body_is_json(req)) {
		resp_error(resp, 415, "unsupported_media_type", NULL, "a SHKeeper callback is application/json");
		return;
	}
	enum shk_auth auth = shk_authenticate(req->app->cfg, &in, req->body, req->body_len, time(NULL));
	if (!shk_auth_ok(auth)) {
		/* Anyone can send this: counted for the operator, never stored. */
		delivery_refused(req, "shkeeper", shk_auth_name(auth));
		metrics_webhook("shkeeper", "refused", "refused");
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
	const char *external_id = readable ? string_member(cb, "external_id") : NULL;
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
	if ((st = inbox_store(req->app->db, &d, &entry)) != DB_OK) {
		metrics_webhook("shkeeper", d.verdict, "error");
		resp_db_error(resp, st);
		goto out;
	}
	if (!readable) {
		metrics_webhook("shkeeper", "invalid", "rejected");
		inbox_finish(req->app->db, entry.id, "rejected", NULL, "signed, but not one strict JSON object");
		log_warn("SHKeeper delivery %lld refused: signed, but not one strict JSON object", entry.id);
		if (fault.kind != JSON_FAULT_NONE)
			jin_fault(resp, &fault, "the callback");
		else
			resp_error(resp, 400, "invalid_json", NULL, "the callback must be a JSON object");
		goto out;
	}
	if (entry.duplicate && !entry.first_unfinished) {
		metrics_webhook("shkeeper", "valid", "duplicate");
		answer(resp, entry.id, "duplicate", NULL);
		goto out;
	}
	process(req, resp, entry.id, entry.duplicate, cb);
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
	process(req, resp, atoll(id), false, cb);
out:
	json_object_put(cb);
	PQclear(res);
}
