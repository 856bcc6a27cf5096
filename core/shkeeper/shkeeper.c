#include "shkeeper/shkeeper.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/breaker.h"
#include "base/hmac.h"
#include "base/httpc.h"
#include "base/jstr.h"
#include "base/log.h"
#include "base/valid.h"

int shk_crypto_name(const char *network, const char *token, char out[24])
{
	const char *prefix = strcmp(network, "bsc") == 0 ? "BNB" :
	                     strcmp(network, "ethereum") == 0 ? "ETH" : NULL;

	if (prefix == NULL || !valid_token_symbol(token))
		return -1;
	snprintf(out, 24, "%s-%s", prefix, token);
	return 0;
}

/* HMAC-SHA256 hex of ["<prefix>."] + body; a failure leaves out empty, which matches nothing. */
static void hmac_hex(const void *key, size_t keylen, const char *prefix, const char *body,
                     size_t body_len, char out[65])
{
	struct hmac_part parts[3] = { { prefix, prefix ? strlen(prefix) : 0 },
	                              { ".", prefix ? 1 : 0 }, { body, body_len } };

	hmac_sha256_hex(key, keylen, parts, 3, out);
}

void shk_sign(const void *key, size_t keylen, const char *timestamp, const char *body,
              size_t body_len, char out[65])
{
	hmac_hex(key, keylen, timestamp, body, body_len, out);
}

/* Constant-time comparison of a received hex MAC (any case) with ours (lower case). */
static bool mac_equal(const char *given, const char *ours)
{
	char lower[65];

	if (given == NULL || strlen(given) != 64 || ours[0] == '\0')
		return false;
	for (int i = 0; i < 64; i++)
		lower[i] = (char)tolower((unsigned char)given[i]);
	lower[64] = '\0';
	return CRYPTO_memcmp(lower, ours, 64) == 0;
}

static bool secret_equal(const char *given, const char *secret, size_t len)
{
	return given != NULL && strlen(given) == len && CRYPTO_memcmp(given, secret, len) == 0;
}

enum shk_auth shk_authenticate(const struct config *cfg, const struct shk_auth_input *in,
                               const char *body, size_t body_len, time_t now)
{
	char ours[65];
	bool any = false;

	if (in->signature && in->timestamp && cfg->shkeeper_api_key) {
		size_t tslen = strlen(in->timestamp);
		/* Unix seconds as digits only: strtoll would also take "+", "-" and leading blanks. */
		bool digits = tslen > 0 && tslen <= 12 && strspn(in->timestamp, "0123456789") == tslen;
		long long ts = digits ? strtoll(in->timestamp, NULL, 10) : 0;

		any = true;
		if (digits) {
			hmac_hex(cfg->shkeeper_api_key, cfg->shkeeper_api_key_len, in->timestamp, body,
			         body_len, ours);
			if (mac_equal(in->signature, ours))
				return llabs((long long)now - ts) <= SHK_MAX_SKEW ? SHK_AUTH_SIGNED : SHK_AUTH_STALE;
		}
	}
	if (cfg->shkeeper_webhook_secret) {
		hmac_hex(cfg->shkeeper_webhook_secret, cfg->shkeeper_webhook_secret_len, NULL, body,
		         body_len, ours);
		const char *candidates[5] = { in->signature, in->alt_signatures[0], in->alt_signatures[1],
		                              in->alt_signatures[2], in->alt_signatures[3] };
		for (int i = 0; i < 5; i++) {
			const char *c = candidates[i];
			if (c == NULL)
				continue;
			any = true;
			if (strncmp(c, "sha256=", 7) == 0)
				c += 7;
			if (mac_equal(c, ours))
				return SHK_AUTH_BODY_HMAC;
		}
	}
	if (in->api_key) {
		any = true;
		if (cfg->shkeeper_allow_api_key_header && cfg->shkeeper_api_key &&
		    secret_equal(in->api_key, cfg->shkeeper_api_key, cfg->shkeeper_api_key_len))
			return SHK_AUTH_API_KEY;
	}
	any |= in->signature != NULL;
	return any ? SHK_AUTH_BAD : SHK_AUTH_MISSING;
}

bool shk_auth_ok(enum shk_auth a)
{
	return a == SHK_AUTH_SIGNED || a == SHK_AUTH_BODY_HMAC || a == SHK_AUTH_API_KEY;
}

const char *shk_auth_name(enum shk_auth a)
{
	switch (a) {
	case SHK_AUTH_SIGNED: return "signed";
	case SHK_AUTH_BODY_HMAC: return "body_hmac";
	case SHK_AUTH_API_KEY: return "api_key";
	case SHK_AUTH_MISSING: return "missing credentials";
	case SHK_AUTH_BAD: return "bad signature";
	case SHK_AUTH_STALE: return "stale timestamp";
	}
	return "unknown";
}

int shk_map_status(const char *status, struct shk_effect *out)
{
	static const struct { const char *name; struct shk_effect effect; } map[] = {
		{ "PAID", { "completed", "funded", false } },
		{ "OVERPAID", { "completed", "funded", false } },
		{ "PARTIAL", { NULL, "partial", false } },
		{ "PENDING", { NULL, NULL, true } },
		{ "UNPAID", { NULL, NULL, true } },
		{ "unconfirmed", { NULL, NULL, true } },
		{ "EXPIRED", { "failed", NULL, false } },
		{ "CANCELLED", { "cancelled", NULL, false } },
		{ "REFUNDED", { "refunded", "refunded", false } },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, status) == 0) {
			*out = map[i].effect;
			return 0;
		}
	return -1;
}

/* Is t (a transaction entry, or the unconfirmed notice) of `crypto`? NULL: any. */
static bool of_crypto(json_object *t, const char *crypto)
{
	json_object *c;

	return crypto == NULL || (json_object_object_get_ex(t, "crypto", &c) && jstr(c) != NULL &&
	                          strcmp(jstr(c), crypto) == 0);
}

static void pick_txid(json_object *callback, const char *crypto, char txid[67])
{
	json_object *txs, *chosen = NULL, *v;

	txid[0] = '\0';
	if (json_object_object_get_ex(callback, "txid", &v) && jstr(v) != NULL) {
		/* the early "unconfirmed" notice carries txid at the top */
		if (of_crypto(callback, crypto))
			chosen = callback;
	} else if (json_object_object_get_ex(callback, "transactions", &txs) &&
	           json_object_is_type(txs, json_type_array)) {
		size_t n = json_object_array_length(txs);
		json_object *last = NULL;
		for (size_t i = 0; i < n; i++) {
			json_object *t = json_object_array_get_idx(txs, i), *trig;
			if (!of_crypto(t, crypto))
				continue;
			last = t;
			if (json_object_object_get_ex(t, "trigger", &trig) && json_object_get_boolean(trig))
				chosen = t;
		}
		if (chosen == NULL)
			chosen = last;
	}
	if (chosen && json_object_object_get_ex(chosen, "txid", &v) && jstr(v) != NULL && valid_tx_hash(jstr(v)))
		snprintf(txid, 67, "%s", jstr(v));
}

void shk_trigger_txid(json_object *callback, char txid[67])
{
	pick_txid(callback, NULL, txid);
}

void shk_own_txid(json_object *callback, const char *crypto, char txid[67])
{
	pick_txid(callback, crypto, txid);
}

static int copy_decimal(json_object *resp, const char *name, char out[MONEY_TEXT_MAX])
{
	json_object *v;

	if (!json_object_object_get_ex(resp, name, &v))
		return -1;
	/* SHKeeper prints amounts as strings; a bare number is taken from its text too. */
	return money_from_json(v, MONEY_MAX_SCALE, out) == MONEY_OK ? 0 : -1;
}

/* Shared by every call: breaker, timeouts, the API key header, and "status":"error". */
static enum shk_err call(const struct config *cfg, const char *method, const char *path,
                         const char *body, json_object **out, char *msg, size_t msglen)
{
	char url[512], key_header[300], err[256];
	const char *headers[3] = { key_header, "Content-Type: application/json", NULL };
	struct httpc_response resp = { 0 };
	struct httpc_request rq = {
		.method = method, .url = url, .headers = headers, .body = body,
		.body_len = body ? strlen(body) : 0, .connect_timeout_ms = cfg->shkeeper_connect_timeout_ms,
		.timeout_ms = cfg->shkeeper_timeout_ms, .max_response = 256 * 1024,
	};
	enum shk_err result = SHK_REFUSED;
	json_object *obj = NULL, *status;

	*out = NULL;
	if (cfg->shkeeper_url[0] == '\0' || cfg->shkeeper_api_key == NULL) {
		snprintf(msg, msglen, "SHKeeper is not configured (shkeeper_url)");
		return SHK_UNAVAILABLE;
	}
	if (!breaker_allow(UPSTREAM_SHKEEPER)) {
		snprintf(msg, msglen, "SHKeeper is unavailable (circuit open after repeated failures)");
		return SHK_UNAVAILABLE;
	}
	snprintf(url, sizeof(url), "%s%s", cfg->shkeeper_url, path);
	if (cfg->shkeeper_api_key_len > 256) {
		snprintf(msg, msglen, "the SHKeeper API key is too long");
		return SHK_REFUSED;
	}
	snprintf(key_header, sizeof(key_header), "X-Shkeeper-Api-Key: %s", cfg->shkeeper_api_key);
	/* After this point, all errors should use goto out. */
	enum httpc_err e = httpc_do(&rq, &resp, err, sizeof(err));
	if (e != HTTPC_OK) {
		snprintf(msg, msglen, "SHKeeper %s", err);
		result = e == HTTPC_TOO_LARGE ? SHK_REFUSED : SHK_UNAVAILABLE;
		goto out;
	}
	if (resp.status != 200) {
		snprintf(msg, msglen, "SHKeeper answered HTTP %ld", resp.status);
		result = resp.status >= 500 ? SHK_UNAVAILABLE : SHK_REFUSED;
		goto out;
	}
	obj = json_tokener_parse(resp.body.data ? resp.body.data : "");
	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "status", &status) || jstr(status) == NULL) {
		snprintf(msg, msglen, "SHKeeper answered something that is not its JSON");
		goto out;
	}
	if (strcmp(jstr(status), "success") != 0) {
		json_object *m;
		snprintf(msg, msglen, "SHKeeper refused: %.200s",
		         json_object_object_get_ex(obj, "message", &m) && json_object_get_string(m) ? json_object_get_string(m) : "no message");
		goto out;
	}
	*out = obj;
	obj = NULL;
	result = SHK_OK;
out:
	/* An answer of any kind, even a refusal, shows the gateway is up. */
	if (result == SHK_UNAVAILABLE)
		breaker_failure(UPSTREAM_SHKEEPER);
	else if (result == SHK_OK || e == HTTPC_OK)
		breaker_success(UPSTREAM_SHKEEPER);
	json_object_put(obj);
	buf_free(&resp.body);
	return result;
}

enum shk_err shk_create_invoice(const struct config *cfg, const char *crypto,
                                const char *external_id, const char *fiat_amount,
                                struct shk_invoice *out, char *msg, size_t msglen,
                                int *retry_after)
{
	char path[128], callback[512];
	json_object *req = json_object_new_object(), *resp = NULL, *v;
	enum shk_err e;

	memset(out, 0, sizeof(*out));
	*retry_after = 5;
	snprintf(path, sizeof(path), "/api/v1/%s/payment_request", crypto);
	snprintf(callback, sizeof(callback), "%s/api/payment/shkeeper/webhook", cfg->public_base_url);
	json_object_object_add(req, "external_id", json_object_new_string(external_id));
	json_object_object_add(req, "fiat", json_object_new_string("USD"));
	json_object_object_add(req, "amount", json_object_new_string(fiat_amount));
	json_object_object_add(req, "callback_url", json_object_new_string(callback));
	e = call(cfg, "POST", path, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
	                                                                JSON_C_TO_STRING_NOSLASHESCAPE),
	         &resp, msg, msglen);
	json_object_put(req);
	if (e != SHK_OK) {
		int wait = breaker_retry_after(UPSTREAM_SHKEEPER);
		if (wait > 0)
			*retry_after = wait;
		return e;
	}
	if (!json_object_object_get_ex(resp, "id", &v) || !json_object_is_type(v, json_type_int) ||
	    (out->id = json_object_get_int64(v)) <= 0 ||
	    !json_object_object_get_ex(resp, "wallet", &v) || jstr(v) == NULL ||
	    json_object_get_string_len(v) >= (int)sizeof(out->wallet) ||
	    copy_decimal(resp, "amount", out->amount) != 0 ||
	    copy_decimal(resp, "exchange_rate", out->exchange_rate) != 0) {
		snprintf(msg, msglen, "SHKeeper's invoice lacks id, wallet, amount or exchange_rate");
		json_object_put(resp);
		return SHK_REFUSED;
	}
	snprintf(out->wallet, sizeof(out->wallet), "%s", jstr(v));
	if (json_object_object_get_ex(resp, "recalculate_after", &v))
		out->recalculate_after = (long)json_object_get_int64(v);
	if (json_object_object_get_ex(resp, "display_name", &v) && jstr(v) != NULL)
		snprintf(out->display_name, sizeof(out->display_name), "%s", jstr(v));
	json_object_put(resp);
	return SHK_OK;
}

enum shk_err shk_list_crypto(const struct config *cfg, json_object **out, char *msg, size_t msglen)
{
	return call(cfg, "GET", "/api/v1/crypto", NULL, out, msg, msglen);
}

/*
 * GET /invoices/<external_id>: the whole answer into *resp (the caller puts it)
 * and its "invoices" array, borrowed from it, into *invoices.
 */
static enum shk_err fetch_invoices(const struct config *cfg, const char *external_id, json_object **resp,
                                   json_object **invoices, char *msg, size_t msglen)
{
	char path[200];
	enum shk_err e;

	*resp = NULL;
	/* Our external ids are UUIDs or "template-" + UUID: nothing to escape in a path. */
	if (!valid_id(external_id)) {
		snprintf(msg, msglen, "external id %.64s cannot be looked up", external_id);
		return SHK_REFUSED;
	}
	snprintf(path, sizeof(path), "/api/v1/invoices/%s", external_id);
	if ((e = call(cfg, "GET", path, NULL, resp, msg, msglen)) != SHK_OK)
		return e;
	if (!json_object_object_get_ex(*resp, "invoices", invoices) || !json_object_is_type(*invoices, json_type_array)) {
		snprintf(msg, msglen, "SHKeeper's invoice lookup has no invoices list");
		json_object_put(*resp);
		*resp = NULL;
		return SHK_REFUSED;
	}
	return SHK_OK;
}

enum shk_err shk_invoice_txids(const struct config *cfg, const char *external_id, const char *crypto,
                               char txids[][67], size_t max, size_t *n, char *msg, size_t msglen)
{
	json_object *resp, *invoices;
	enum shk_err e;

	*n = 0;
	if ((e = fetch_invoices(cfg, external_id, &resp, &invoices, msg, msglen)) != SHK_OK)
		return e;
	for (size_t i = 0; i < json_object_array_length(invoices); i++) {
		json_object *inv = json_object_array_get_idx(invoices, i), *ext, *txs;
		if (!json_object_object_get_ex(inv, "external_id", &ext) || jstr(ext) == NULL ||
		    strcmp(jstr(ext), external_id) != 0 ||
		    !json_object_object_get_ex(inv, "txs", &txs) || !json_object_is_type(txs, json_type_array))
			continue;
		for (size_t t = 0; t < json_object_array_length(txs) && max > 0; t++) {
			json_object *tx = json_object_array_get_idx(txs, t), *id, *status, *c;
			if (json_object_object_get_ex(tx, "status", &status) && jstr(status) != NULL &&
			    strcmp(jstr(status), "CONFIRMED") == 0 &&
			    json_object_object_get_ex(tx, "crypto", &c) && jstr(c) != NULL &&
			    strcmp(jstr(c), crypto) == 0 &&
			    json_object_object_get_ex(tx, "txid", &id) && jstr(id) != NULL && valid_tx_hash(jstr(id))) {
				/* The newest are listed last: when full, the oldest give way. */
				if (*n == max) {
					memmove(txids[0], txids[1], (max - 1) * sizeof(txids[0]));
					(*n)--;
				}
				snprintf(txids[(*n)++], 67, "%s", jstr(id));
			}
		}
	}
	json_object_put(resp);
	return SHK_OK;
}

enum shk_err shk_tx_fiat(const struct config *cfg, const char *txid, const char *external_id, char *fiat,
                         size_t fiatlen, char *msg, size_t msglen)
{
	char path[200];
	json_object *resp, *info, *amount;
	enum shk_err e;

	fiat[0] = '\0';
	if (!valid_tx_hash(txid) || !valid_id(external_id)) {
		snprintf(msg, msglen, "transaction %.70s of %.64s cannot be looked up", txid, external_id);
		return SHK_REFUSED;
	}
	snprintf(path, sizeof(path), "/api/v1/tx-info/%s/%s", txid, external_id);
	if ((e = call(cfg, "GET", path, NULL, &resp, msg, msglen)) != SHK_OK)
		return e;
	/* An empty info is a transaction SHKeeper does not hold for this invoice. */
	if (json_object_object_get_ex(resp, "info", &info) && json_object_is_type(info, json_type_object) &&
	    json_object_object_get_ex(info, "amount", &amount) && jstr(amount) != NULL && strlen(jstr(amount)) < fiatlen)
		snprintf(fiat, fiatlen, "%s", jstr(amount));
	json_object_put(resp);
	return SHK_OK;
}

enum shk_err shk_invoice_lookup(const struct config *cfg, const char *external_id, json_object **invoice,
                                char *msg, size_t msglen)
{
	json_object *resp, *invoices;
	enum shk_err e;

	*invoice = NULL;
	if ((e = fetch_invoices(cfg, external_id, &resp, &invoices, msg, msglen)) != SHK_OK)
		return e;
	/* SHKeeper lists the newest last; only an exact match is ours. */
	for (size_t i = json_object_array_length(invoices); i-- > 0 && *invoice == NULL;) {
		json_object *inv = json_object_array_get_idx(invoices, i), *ext;
		if (json_object_is_type(inv, json_type_object) && json_object_object_get_ex(inv, "external_id", &ext) &&
		    jstr(ext) != NULL && strcmp(jstr(ext), external_id) == 0)
			*invoice = json_object_get(inv);
	}
	json_object_put(resp);
	return SHK_OK;
}
