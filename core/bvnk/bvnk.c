#include "bvnk/bvnk.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/breaker.h"
#include "base/hex.h"
#include "base/hmac.h"
#include "base/httpc.h"
#include "base/jstr.h"
#include "base/log.h"
#include "base/valid.h"

const char *bvnk_call_name(enum bvnk_call c)
{
	switch (c) {
	case BVNK_OK: return "ok";
	case BVNK_NOT_FOUND: return "not_found";
	case BVNK_DUPLICATE: return "duplicate";
	case BVNK_REFUSED: return "refused";
	case BVNK_UNCERTAIN: return "uncertain";
	case BVNK_UNAVAILABLE: return "unavailable";
	}
	return "unknown";
}

static const char *member(json_object *o, const char *name)
{
	json_object *v;

	return o && json_object_object_get_ex(o, name, &v) ? jstr(v) : NULL;
}

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src && strlen(src) < len ? src : "");
}

int bvnk_read_payout(json_object *o, struct bvnk_payout *out, char *err, size_t errlen)
{
	json_object *txs, *address, *v;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(o, json_type_object) || member(o, "uuid") == NULL || member(o, "status") == NULL) {
		snprintf(err, errlen, "BVNK's payout has no uuid or status");
		return -1;
	}
	copy(out->uuid, sizeof(out->uuid), member(o, "uuid"));
	copy(out->reference, sizeof(out->reference), member(o, "reference"));
	copy(out->status, sizeof(out->status), member(o, "status"));
	copy(out->type, sizeof(out->type), member(o, "type"));
	if (out->uuid[0] == '\0' || !valid_id(out->uuid) || out->status[0] == '\0') {
		snprintf(err, errlen, "BVNK's payout has a malformed uuid or status");
		return -1;
	}
	if (json_object_object_get_ex(o, "address", &address) && json_object_is_type(address, json_type_object))
		copy(out->address, sizeof(out->address), member(address, "address"));
	if (json_object_object_get_ex(o, "transactions", &txs) && json_object_is_type(txs, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(txs); i++) {
			json_object *t = json_object_array_get_idx(txs, i);
			const char *hash = member(t, "hash");
			if (json_object_object_get_ex(t, "isOnHold", &v) && json_object_is_type(v, json_type_boolean) &&
			    json_object_get_boolean(v))
				out->on_hold = true;
			if (out->tx_hash[0] == '\0' && hash && valid_tx_hash(hash))
				copy(out->tx_hash, sizeof(out->tx_hash), hash);
		}
	}
	return 0;
}

/* ---- calls ---- */

/* The parts of bvnk_url Hawk's MAC covers: lower-case host, port, and any base path. */
struct endpoint {
	char host[256];
	unsigned port;
	char base[128];
};

static int split_url(const char *url, struct endpoint *e)
{
	bool tls = strncmp(url, "https://", 8) == 0;
	const char *h = url + (tls ? 8 : 7), *end = h + strcspn(h, ":/");
	size_t n = (size_t)(end - h);

	if ((!tls && strncmp(url, "http://", 7) != 0) || n == 0 || n >= sizeof(e->host))
		return -1;
	for (size_t i = 0; i < n; i++)
		e->host[i] = (char)tolower((unsigned char)h[i]);
	e->host[n] = '\0';
	e->port = tls ? 443 : 80;
	if (*end == ':') {
		char *after;
		long p = strtol(end + 1, &after, 10);
		if (p <= 0 || p > 65535)
			return -1;
		e->port = (unsigned)p;
		end = after;
	}
	if (strlen(end) >= sizeof(e->base))
		return -1;
	snprintf(e->base, sizeof(e->base), "%s", end);
	return 0;
}

int bvnk_hawk_header(const char *id, const void *key, size_t keylen, const char *method, const char *host,
                     unsigned port, const char *path_query, long long ts, const char *nonce, char *out,
                     size_t outlen)
{
	char normalized[2048];
	unsigned char mac[HMAC_SHA256_LEN];
	char mac64[4 * ((HMAC_SHA256_LEN + 2) / 3) + 1];
	struct hmac_part part = { normalized, 0 };
	int n;

	/* Hawk 1.0's header MAC: no payload hash, no ext. */
	n = snprintf(normalized, sizeof(normalized), "hawk.1.header\n%lld\n%s\n%s\n%s\n%s\n%u\n\n\n", ts, nonce, method,
	             path_query, host, port);
	if (n < 0 || (size_t)n >= sizeof(normalized))
		return -1;
	part.len = (size_t)n;
	if (hmac_sha256(key, keylen, &part, 1, mac) != 0)
		return -1;
	EVP_EncodeBlock((unsigned char *)mac64, mac, (int)sizeof(mac));
	OPENSSL_cleanse(mac, sizeof(mac));
	n = snprintf(out, outlen, "Hawk id=\"%s\", ts=\"%lld\", nonce=\"%s\", mac=\"%s\"", id, ts, nonce, mac64);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

struct answer {
	long status;
	json_object *json;      /* the body, parsed; NULL when it is not JSON */
};

/* One call: UNAVAILABLE when nothing was sent, UNCERTAIN when the exchange broke off, else OK. */
static enum bvnk_call exchange(const struct config *cfg, const char *method, const char *path_query,
                               const char *body, struct answer *a, char *msg, size_t msglen)
{
	char url[640], auth[600], auth_header[640], err[256], nonce[17];
	unsigned char raw[8];
	const char *headers[4] = { "Content-Type: application/json", "Accept: application/json", auth_header, NULL };
	struct httpc_response resp = { 0 };
	struct httpc_request rq = {
		.method = method, .url = url, .headers = headers, .body = body, .body_len = body ? strlen(body) : 0,
		.connect_timeout_ms = cfg->bvnk_connect_timeout_ms, .timeout_ms = cfg->bvnk_timeout_ms,
		.max_response = 512 * 1024, .fresh_connection = strcmp(method, "POST") == 0,
	};
	struct endpoint e;
	char full_path[512];
	enum bvnk_call result = BVNK_UNCERTAIN;

	a->status = 0;
	a->json = NULL;
	if (cfg->bvnk_url[0] == '\0' || cfg->bvnk_hawk_key == NULL || split_url(cfg->bvnk_url, &e) != 0) {
		snprintf(msg, msglen, "BVNK is not configured (bvnk_url, bvnk_hawk_id, bvnk_hawk_key_file)");
		return BVNK_UNAVAILABLE;
	}
	snprintf(full_path, sizeof(full_path), "%s%s", e.base, path_query);
	if (RAND_bytes(raw, sizeof(raw)) != 1 || hex_encode(raw, sizeof(raw), nonce, sizeof(nonce)) < 0 ||
	    bvnk_hawk_header(cfg->bvnk_hawk_id, cfg->bvnk_hawk_key, cfg->bvnk_hawk_key_len, method, e.host, e.port,
	                     full_path, (long long)time(NULL), nonce, auth, sizeof(auth)) != 0) {
		snprintf(msg, msglen, "the Hawk header for BVNK could not be made");
		return BVNK_UNAVAILABLE;
	}
	snprintf(auth_header, sizeof(auth_header), "Authorization: %s", auth);
	if (!breaker_allow(UPSTREAM_BVNK)) {
		snprintf(msg, msglen, "BVNK is unavailable (circuit open after repeated failures)");
		return BVNK_UNAVAILABLE;
	}
	snprintf(url, sizeof(url), "%s%s", cfg->bvnk_url, path_query);
	/* After this point, all errors should use goto out. */
	enum httpc_err he = httpc_do(&rq, &resp, err, sizeof(err));
	if (he != HTTPC_OK) {
		snprintf(msg, msglen, "BVNK %s", err);
		breaker_failure(UPSTREAM_BVNK);
		goto out;
	}
	if (resp.status >= 500)
		breaker_failure(UPSTREAM_BVNK);
	else
		breaker_success(UPSTREAM_BVNK);
	a->status = resp.status;
	a->json = json_tokener_parse(resp.body.data ? resp.body.data : "");
	result = BVNK_OK;
out:
	OPENSSL_cleanse(auth, sizeof(auth));
	buf_free(&resp.body);
	return result;
}

/* BVNK's {"errorList":[{"parameter","code","message"}]}: the first entry, and whether it is the duplicate reference. */
static bool error_list(json_object *json, char *msg, size_t msglen, bool *duplicate)
{
	json_object *list, *first;

	*duplicate = false;
	if (json == NULL || !json_object_object_get_ex(json, "errorList", &list) ||
	    !json_object_is_type(list, json_type_array) || json_object_array_length(list) == 0)
		return false;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i);
		const char *p = member(e, "parameter"), *c = member(e, "code");
		if (p && c && strcmp(p, "reference") == 0 && strcmp(c, "unique") == 0)
			*duplicate = true;
	}
	first = json_object_array_get_idx(list, 0);
	const char *p = member(first, "parameter"), *c = member(first, "code"), *m = member(first, "message");
	snprintf(msg, msglen, "BVNK refused the payout: %.60s %.60s %.160s", p ? p : "", c ? c : "", m ? m : "");
	return true;
}

enum bvnk_call bvnk_create_payout(const struct config *cfg, const struct bvnk_payout_request *rq,
                                  struct bvnk_payout *out, char *msg, size_t msglen)
{
	json_object *body = json_object_new_object(), *details = json_object_new_object();
	struct answer a;
	enum bvnk_call r;
	bool duplicate;
	char err[160];

	memset(out, 0, sizeof(*out));
	json_object_object_add(body, "merchantId", json_object_new_string(cfg->bvnk_merchant_id));
	json_object_object_add(body, "amount", json_decimal(rq->amount));
	json_object_object_add(body, "currency", json_object_new_string(rq->currency));
	json_object_object_add(body, "reference", json_object_new_string(rq->reference));
	json_object_object_add(body, "type", json_object_new_string("OUT"));
	json_object_object_add(details, "code", json_object_new_string("crypto"));
	json_object_object_add(details, "currency", json_object_new_string(rq->currency));
	json_object_object_add(details, "address", json_object_new_string(rq->address));
	json_object_object_add(details, "protocol", json_object_new_string(rq->protocol));
	json_object_object_add(body, "payOutDetails", details);
	r = exchange(cfg, "POST", "/api/v1/pay/summary",
	             json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), &a,
	             msg, msglen);
	json_object_put(body);
	if (r != BVNK_OK)
		return r;
	if ((a.status == 200 || a.status == 201) && bvnk_read_payout(a.json, out, err, sizeof(err)) == 0) {
		r = BVNK_OK;
	} else if (a.status >= 400 && a.status < 500 && error_list(a.json, msg, msglen, &duplicate)) {
		r = duplicate ? BVNK_DUPLICATE : BVNK_REFUSED;
	} else if (a.status == 401 || a.status == 403) {
		snprintf(msg, msglen, "BVNK refused our credentials (HTTP %ld): check bvnk_hawk_id and bvnk_hawk_key_file", a.status);
		r = BVNK_REFUSED;
	} else {
		snprintf(msg, msglen, "BVNK answered the payout with HTTP %ld and no payout", a.status);
		r = BVNK_UNCERTAIN;
	}
	json_object_put(a.json);
	return r;
}

enum bvnk_call bvnk_get_payout(const struct config *cfg, const char *uuid, struct bvnk_payout *out,
                               char *msg, size_t msglen)
{
	char path[160], err[160];
	struct answer a;
	enum bvnk_call r;

	memset(out, 0, sizeof(*out));
	if (!valid_id(uuid)) {
		snprintf(msg, msglen, "uuid %.64s cannot be looked up", uuid);
		return BVNK_REFUSED;
	}
	snprintf(path, sizeof(path), "/api/v1/pay/%s/summary", uuid);
	if ((r = exchange(cfg, "GET", path, NULL, &a, msg, msglen)) != BVNK_OK)
		return r;
	if (a.status == 200 && bvnk_read_payout(a.json, out, err, sizeof(err)) == 0 && strcmp(out->uuid, uuid) == 0) {
		r = BVNK_OK;
	} else if (a.status == 404) {
		snprintf(msg, msglen, "BVNK knows no payout %s", uuid);
		r = BVNK_NOT_FOUND;
	} else if (a.status == 401 || a.status == 403) {
		snprintf(msg, msglen, "BVNK refused our credentials (HTTP %ld)", a.status);
		r = BVNK_REFUSED;
	} else {
		snprintf(msg, msglen, "BVNK answered the payout's status with HTTP %ld and no payout", a.status);
		r = BVNK_UNCERTAIN;
	}
	json_object_put(a.json);
	return r;
}

enum bvnk_call bvnk_find_payout(const struct config *cfg, const char *reference, struct bvnk_payout *out,
                                char *msg, size_t msglen)
{
	char path[256], err[160];
	struct answer a;
	json_object *list;
	enum bvnk_call r;

	memset(out, 0, sizeof(*out));
	/* Newest first: the payout we look for was made moments ago. */
	snprintf(path, sizeof(path), "/api/v1/pay/summary?merchantId=%s&max=100&order=desc", cfg->bvnk_merchant_id);
	if ((r = exchange(cfg, "GET", path, NULL, &a, msg, msglen)) != BVNK_OK)
		return r;
	list = a.json;
	if (list && json_object_is_type(list, json_type_object))
		json_object_object_get_ex(a.json, "content", &list);
	r = BVNK_UNCERTAIN;
	if (a.status == 200 && list && json_object_is_type(list, json_type_array)) {
		r = BVNK_NOT_FOUND;
		snprintf(msg, msglen, "BVNK lists no payout with reference %s among the merchant's latest", reference);
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			json_object *p = json_object_array_get_idx(list, i);
			const char *ref = member(p, "reference"), *type = member(p, "type");
			if (ref && strcmp(ref, reference) == 0 && (type == NULL || strcmp(type, "OUT") == 0) &&
			    bvnk_read_payout(p, out, err, sizeof(err)) == 0) {
				r = BVNK_OK;
				break;
			}
		}
	} else {
		snprintf(msg, msglen, "BVNK's payout list answered HTTP %ld", a.status);
	}
	json_object_put(a.json);
	return r;
}

/* ---- webhooks ---- */

bool bvnk_webhook_authentic(const struct config *cfg, const char *signature, const char *content_type,
                            const char *body, size_t body_len)
{
	const char *url = cfg->bvnk_webhook_url, *signed_url = url;
	struct hmac_part parts[3];
	char ours[65], given[65];
	size_t n = 0;

	if (cfg->bvnk_webhook_secret == NULL || signature == NULL || strlen(signature) != 64)
		return false;
	if (cfg->bvnk_webhook_signing == BVNK_SIGNS_PATH) {
		/* The path of the configured URL: what comes after scheme://host[:port]. */
		const char *scheme = strstr(url, "://");
		signed_url = scheme ? scheme + 3 + strcspn(scheme + 3, "/") : url;
	}
	if (cfg->bvnk_webhook_signing != BVNK_SIGNS_BODY) {
		parts[n++] = (struct hmac_part){ signed_url, strlen(signed_url) };
		parts[n++] = (struct hmac_part){ content_type ? content_type : "", content_type ? strlen(content_type) : 0 };
	}
	parts[n++] = (struct hmac_part){ body, body_len };
	if (hmac_sha256_hex(cfg->bvnk_webhook_secret, cfg->bvnk_webhook_secret_len, parts, n, ours) != 0)
		return false;
	for (int i = 0; i < 64; i++)
		given[i] = (char)tolower((unsigned char)signature[i]);
	given[64] = '\0';
	return CRYPTO_memcmp(given, ours, 64) == 0;
}

int bvnk_read_event(json_object *root, struct bvnk_event *out, char *err, size_t errlen)
{
	const char *event = member(root, "event"), *id = member(root, "eventId");

	memset(out, 0, sizeof(*out));
	if (event == NULL || strlen(event) >= sizeof(out->event) || !json_object_object_get_ex(root, "data", &out->data) ||
	    !json_object_is_type(out->data, json_type_object)) {
		snprintf(err, errlen, "not a BVNK webhook: event or data missing");
		return -1;
	}
	snprintf(out->event, sizeof(out->event), "%s", event);
	if (id && strlen(id) < sizeof(out->event_id) && valid_id(id))
		snprintf(out->event_id, sizeof(out->event_id), "%s", id);
	out->on_hold = strcmp(event, "transactionOnHold") == 0 || strstr(event, "on-hold") != NULL;
	return 0;
}
