#include "shkeeper/shk_payout.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/breaker.h"
#include "base/httpc.h"
#include "base/jstr.h"
#include "base/log.h"
#include "base/valid.h"

const char *shk_call_name(enum shk_call c)
{
	switch (c) {
	case SHK_CALL_OK: return "ok";
	case SHK_CALL_NOT_FOUND: return "not_found";
	case SHK_CALL_DUPLICATE: return "duplicate";
	case SHK_CALL_REFUSED: return "refused";
	case SHK_CALL_UNCERTAIN: return "uncertain";
	case SHK_CALL_UNAVAILABLE: return "unavailable";
	}
	return "unknown";
}

/* What came back: the HTTP status and the body read as a JSON object (NULL when it is not one). */
struct answer {
	long status;
	json_object *obj;
};

/*
 * One call. Basic auth for the payout and task endpoints, the API key for the
 * status lookup. SHK_CALL_UNAVAILABLE when nothing was sent; SHK_CALL_UNCERTAIN
 * when the exchange broke off (it may have reached SHKeeper: connections are
 * kept alive, so even a failed connect time says nothing sure); else SHK_CALL_OK
 * with the answer, whatever its status.
 */
static enum shk_call exchange(const struct config *cfg, const char *method, const char *path, const char *body,
                              bool basic, struct answer *a, char *msg, size_t msglen)
{
	char url[512], key_header[300], err[256];
	const char *headers[3] = { "Content-Type: application/json", NULL, NULL };
	struct httpc_response resp = { 0 };
	struct httpc_request rq = {
		.method = method, .url = url, .headers = headers, .body = body, .body_len = body ? strlen(body) : 0,
		.connect_timeout_ms = cfg->shkeeper_connect_timeout_ms, .timeout_ms = cfg->shkeeper_timeout_ms,
		.max_response = 256 * 1024, .userpwd = basic ? cfg->shkeeper_payout_auth : NULL,
		/* Only a POST creates anything; it must never be sent again by curl on its own. */
		.fresh_connection = strcmp(method, "POST") == 0,
	};
	enum shk_call result = SHK_CALL_UNCERTAIN;

	a->status = 0;
	a->obj = NULL;
	if (cfg->shkeeper_url[0] == '\0' || (basic ? cfg->shkeeper_payout_auth == NULL : cfg->shkeeper_api_key == NULL)) {
		snprintf(msg, msglen, "SHKeeper payouts are not configured (shkeeper_url, shkeeper_payout_auth_file)");
		return SHK_CALL_UNAVAILABLE;
	}
	if (!basic) {
		if (cfg->shkeeper_api_key_len > 256) {
			snprintf(msg, msglen, "the SHKeeper API key is too long");
			return SHK_CALL_UNAVAILABLE;
		}
		snprintf(key_header, sizeof(key_header), "X-Shkeeper-Api-Key: %s", cfg->shkeeper_api_key);
		headers[1] = key_header;
	}
	if (!breaker_allow(UPSTREAM_SHKEEPER)) {
		snprintf(msg, msglen, "SHKeeper is unavailable (circuit open after repeated failures)");
		return SHK_CALL_UNAVAILABLE;
	}
	snprintf(url, sizeof(url), "%s%s", cfg->shkeeper_url, path);
	/* After this point, all errors should use goto out. */
	enum httpc_err e = httpc_do(&rq, &resp, err, sizeof(err));
	if (e != HTTPC_OK) {
		snprintf(msg, msglen, "SHKeeper %s", err);
		breaker_failure(UPSTREAM_SHKEEPER);
		goto out;
	}
	/* SHKeeper answers its own errors with 500; a proxy's 502-504 says it is not there. */
	if (resp.status >= 502 && resp.status <= 504)
		breaker_failure(UPSTREAM_SHKEEPER);
	else
		breaker_success(UPSTREAM_SHKEEPER);
	a->status = resp.status;
	a->obj = json_tokener_parse(resp.body.data ? resp.body.data : "");
	if (a->obj && !json_object_is_type(a->obj, json_type_object)) {
		json_object_put(a->obj);
		a->obj = NULL;
	}
	result = SHK_CALL_OK;
out:
	buf_free(&resp.body);
	return result;
}

static const char *member(json_object *o, const char *name)
{
	json_object *v;

	return o && json_object_object_get_ex(o, name, &v) ? jstr(v) : NULL;
}

/* SHKeeper's {"status":"error","message":…} inside a 200: a refusal before anything was done. */
static bool said_error(json_object *o, char *msg, size_t msglen)
{
	const char *status = member(o, "status"), *m = member(o, "message");

	if (status == NULL || strcmp(status, "error") != 0)
		return false;
	snprintf(msg, msglen, "SHKeeper refused: %.200s", m ? m : "no message");
	return true;
}

enum shk_call shk_payout_create(const struct config *cfg, const struct shk_payout_request *rq,
                                char task_id[SHK_TASK_ID_MAX], char *msg, size_t msglen)
{
	char path[128];
	json_object *body = json_object_new_object();
	struct answer a;
	enum shk_call r;

	task_id[0] = '\0';
	snprintf(path, sizeof(path), "/api/v1/%s/payout", rq->crypto);
	/* Amounts go as strings: SHKeeper reads them with Decimal(), exactly. */
	json_object_object_add(body, "amount", json_object_new_string(rq->amount));
	json_object_object_add(body, "destination", json_object_new_string(rq->destination));
	json_object_object_add(body, "fee", json_object_new_string(cfg->shkeeper_payout_fee));
	json_object_object_add(body, "callback_url", json_object_new_string(rq->callback_url));
	json_object_object_add(body, "external_id", json_object_new_string(rq->external_id));
	r = exchange(cfg, "POST", path,
	             json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), true,
	             &a, msg, msglen);
	json_object_put(body);
	if (r != SHK_CALL_OK)
		return r;
	/* After this point, all errors should use goto out. */
	const char *task = member(a.obj, "task_id"), *m = member(a.obj, "message");
	if (a.status == 200 && said_error(a.obj, msg, msglen)) {
		r = SHK_CALL_REFUSED;
	} else if (a.status == 200 && task && *task && strlen(task) < SHK_TASK_ID_MAX && valid_id(task)) {
		snprintf(task_id, SHK_TASK_ID_MAX, "%s", task);
		r = SHK_CALL_OK;
	} else if (a.status == 200) {
		snprintf(msg, msglen, "SHKeeper answered the payout without a task id");
		r = SHK_CALL_UNCERTAIN;
	} else if (a.status >= 300 && a.status < 400) {
		snprintf(msg, msglen, "SHKeeper sent the payout to its login page (HTTP %ld): check shkeeper_payout_auth_file",
		         a.status);
		r = SHK_CALL_REFUSED;
	} else if (a.status == 500 && m && strstr(m, "already exists") != NULL) {
		snprintf(msg, msglen, "SHKeeper already has a payout with external id %s", rq->external_id);
		r = SHK_CALL_DUPLICATE;
	} else if (a.status >= 400 && a.status < 500) {
		snprintf(msg, msglen, "SHKeeper refused the payout with HTTP %ld%s%.200s", a.status, m ? ": " : "", m ? m : "");
		r = SHK_CALL_REFUSED;
	} else {
		/* A 500 is SHKeeper's answer to any exception, one raised after the money left included. */
		snprintf(msg, msglen, "SHKeeper answered the payout with HTTP %ld%s%.200s", a.status, m ? ": " : "", m ? m : "");
		r = SHK_CALL_UNCERTAIN;
	}
	json_object_put(a.obj);
	return r;
}

/* A decimal SHKeeper printed ("2.0000000000") as our normalised text, or "" when it is none. */
static void decimal_member(json_object *o, const char *name, char out[MONEY_TEXT_MAX])
{
	json_object *v;

	out[0] = '\0';
	if (o && json_object_object_get_ex(o, name, &v) && money_from_json(v, MONEY_MAX_SCALE, out) != MONEY_OK)
		out[0] = '\0';
}

static void hash_member(json_object *o, const char *name, char out[67])
{
	const char *v = member(o, name);

	snprintf(out, 67, "%s", v && valid_tx_hash(v) ? v : "");
}

enum shk_call shk_payout_status(const struct config *cfg, const char *crypto, const char *external_id,
                                struct shk_payout_state *out, char *msg, size_t msglen)
{
	char path[200];
	struct answer a;
	json_object *v;
	enum shk_call r;

	memset(out, 0, sizeof(*out));
	/* Our external ids are UUIDs: nothing to escape in a query. */
	if (!valid_uuid(external_id)) {
		snprintf(msg, msglen, "external id %.64s cannot be looked up", external_id);
		return SHK_CALL_REFUSED;
	}
	snprintf(path, sizeof(path), "/api/v1/%s/payout/status?external_id=%s", crypto, external_id);
	if ((r = exchange(cfg, "GET", path, NULL, false, &a, msg, msglen)) != SHK_CALL_OK)
		return r;
	const char *status = member(a.obj, "status"), *ext = member(a.obj, "external_id");
	if (a.status == 200 && said_error(a.obj, msg, msglen)) {
		r = SHK_CALL_REFUSED;
	} else if (a.status == 200 && status && ext && strcmp(ext, external_id) == 0) {
		snprintf(out->status, sizeof(out->status), "%s", status);
		if (json_object_object_get_ex(a.obj, "id", &v) && json_object_is_type(v, json_type_int))
			out->id = json_object_get_int64(v);
		decimal_member(a.obj, "amount", out->amount);
		const char *dest = member(a.obj, "destination");
		snprintf(out->destination, sizeof(out->destination), "%s", dest ? dest : "");
		hash_member(a.obj, "txid", out->txid);
		r = SHK_CALL_OK;
	} else if (a.status == 404 && member(a.obj, "error") != NULL) {
		/* Only SHKeeper's own "Payout not found" is a definite no; a proxy's 404 page is not. */
		snprintf(msg, msglen, "SHKeeper knows no payout with external id %s", external_id);
		r = SHK_CALL_NOT_FOUND;
	} else if (a.status == 400) {
		const char *why = member(a.obj, "error");
		snprintf(msg, msglen, "SHKeeper refused the status lookup: %.200s", why ? why : "HTTP 400");
		r = SHK_CALL_REFUSED;
	} else {
		snprintf(msg, msglen, "SHKeeper's payout status answered HTTP %ld, not one it gives", a.status);
		r = SHK_CALL_UNCERTAIN;
	}
	json_object_put(a.obj);
	return r;
}

static bool is_final(const char *status)
{
	return strcmp(status, "SUCCESS") == 0 || strcmp(status, "ERROR") == 0 || strcmp(status, "FAILED") == 0 ||
	       strcmp(status, "FAILURE") == 0;
}

/* The entry of a SUCCESS result for our destination. */
static void read_entry(json_object *result, const char *destination, struct shk_task *t)
{
	if (!json_object_is_type(result, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(result); i++) {
		json_object *e = json_object_array_get_idx(result, i), *txids;
		const char *dest = member(e, "dest"), *status = member(e, "status");
		if (dest == NULL || strcasecmp(dest, destination) != 0)
			continue;
		t->has_entry = true;
		/* "success" naming no transaction is not a failure: money may have left; only the chain can say. */
		if (status && strcmp(status, "success") == 0) {
			if (json_object_object_get_ex(e, "txids", &txids) && json_object_is_type(txids, json_type_array) &&
			    json_object_array_length(txids) > 0) {
				const char *tx = jstr(json_object_array_get_idx(txids, 0));
				if (tx && valid_tx_hash(tx))
					snprintf(t->txid, sizeof(t->txid), "%s", tx);
			}
		} else {
			const char *m = member(e, "msg") ? member(e, "msg") : member(e, "message");
			t->failed = true;
			snprintf(t->error, sizeof(t->error), "the payout to %s says %s%s%.150s", destination,
			         status ? status : "no status", m ? ": " : "", m ? m : "");
		}
		return;
	}
}

enum shk_call shk_payout_task(const struct config *cfg, const char *crypto, const char *task_id,
                              const char *destination, struct shk_task *out, char *msg, size_t msglen)
{
	char path[200];
	struct answer a;
	json_object *result = NULL;
	enum shk_call r;

	memset(out, 0, sizeof(*out));
	if (!valid_id(task_id)) {
		snprintf(msg, msglen, "task id %.64s cannot be looked up", task_id);
		return SHK_CALL_REFUSED;
	}
	snprintf(path, sizeof(path), "/api/v1/%s/task/%s", crypto, task_id);
	if ((r = exchange(cfg, "GET", path, NULL, true, &a, msg, msglen)) != SHK_CALL_OK)
		return r;
	const char *status = member(a.obj, "status");
	if (a.status == 200 && said_error(a.obj, msg, msglen)) {
		r = SHK_CALL_REFUSED;
	} else if (a.status >= 300 && a.status < 400) {
		snprintf(msg, msglen, "SHKeeper sent the task lookup to its login page: check shkeeper_payout_auth_file");
		r = SHK_CALL_REFUSED;
	} else if (a.status == 200 && status && strlen(status) < sizeof(out->status)) {
		snprintf(out->status, sizeof(out->status), "%s", status);
		out->final = is_final(status);
		json_object_object_get_ex(a.obj, "result", &result);
		if (strcmp(status, "SUCCESS") == 0) {
			read_entry(result, destination, out);
		} else if (out->final) {
			out->failed = true;
			const char *text = result ? json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN) : "no result";
			snprintf(out->error, sizeof(out->error), "task %s: %.180s", status, jstr(result) ? jstr(result) : text);
		}
		r = SHK_CALL_OK;
	} else {
		snprintf(msg, msglen, "SHKeeper's task lookup answered HTTP %ld without a task status", a.status);
		r = SHK_CALL_UNCERTAIN;
	}
	json_object_put(a.obj);
	return r;
}

int shk_payout_callback_read(json_object *cb, struct shk_payout_callback *out, char *err, size_t errlen)
{
	json_object *v;
	const char *ext = NULL, *status = member(cb, "status");

	memset(out, 0, sizeof(*out));
	if (json_object_object_get_ex(cb, "external_id", &v))
		ext = json_object_is_type(v, json_type_int) ? json_object_get_string(v) : jstr(v);
	if (ext == NULL || *ext == '\0' || strlen(ext) >= sizeof(out->external_id) || status == NULL ||
	    strlen(status) >= sizeof(out->status)) {
		snprintf(err, errlen, "not a SHKeeper payout callback: external_id or status missing");
		return -1;
	}
	snprintf(out->external_id, sizeof(out->external_id), "%s", ext);
	snprintf(out->status, sizeof(out->status), "%s", status);
	hash_member(cb, "tx_hash", out->tx_hash);
	decimal_member(cb, "amount", out->amount);
	const char *crypto = member(cb, "crypto");
	if (crypto && strlen(crypto) < sizeof(out->crypto))
		snprintf(out->crypto, sizeof(out->crypto), "%s", crypto);
	if (json_object_object_get_ex(cb, "payout_id", &v) && json_object_is_type(v, json_type_int))
		out->payout_id = json_object_get_int64(v);
	return 0;
}
