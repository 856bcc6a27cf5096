#include "http/jwt.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/b64url.h"
#include "base/buf.h"
#include "base/hmac.h"
#include "base/jstr.h"
#include "http/jsoncheck.h"

static const char *const role_names[] = { "", "buyer", "seller", "admin" };

const char *role_name(enum role role) { return role_names[role]; }

enum role role_parse(const char *name)
{
	for (int r = ROLE_BUYER; r <= ROLE_ADMIN; r++)
		if (strcmp(name, role_names[r]) == 0)
			return (enum role)r;
	return ROLE_NONE;
}

/*
 * One part of the token as a JSON object, through the same strict reader as
 * every request body: no NaN, no raw control characters, no NUL, no member
 * given twice (json-c would keep the last "role").
 */
static json_object *parse_part(const char *s, size_t len)
{
	unsigned char raw[JWT_MAX_LEN];
	ssize_t n = b64url_decode(s, len, raw, sizeof(raw) - 1);
	struct json_fault fault;
	json_object *obj;

	if (n <= 0)
		return NULL;
	obj = json_strict_parse((const char *)raw, (size_t)n, 8, &fault);
	if (obj && !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		obj = NULL;
	}
	return obj;
}

/*
 * A NumericDate claim: 1 present, 0 absent, -1 malformed. Bounded to
 * [0, JWT_MAX_TIME] so that adding or taking the leeway cannot overflow.
 */
static int time_claim(json_object *payload, const char *name, long long *out)
{
	json_object *v;

	if (!json_object_object_get_ex(payload, name, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return *out >= 0 && *out <= JWT_MAX_TIME ? 1 : -1;
}

/* A token's time claims, kept so that a token read before is judged again at `now`. */
struct jwt_times {
	long long exp, nbf, iat;
	bool has_nbf, has_iat;
};

static enum jwt_err check_times(const struct jwt_times *t, time_t now, int leeway)
{
	if (leeway < 0 || leeway > JWT_MAX_LEEWAY || now < 0)
		return JWT_BAD_CLAIMS;
	if (t->exp + leeway < (long long)now)
		return JWT_EXPIRED;
	if (t->has_nbf && t->nbf - leeway > (long long)now)
		return JWT_NOT_YET_VALID;
	if (t->has_iat && t->iat - leeway > (long long)now)
		return JWT_NOT_YET_VALID;
	return JWT_OK;
}

/* The claims, judged in the order a reader meets them: the first fault found is the one reported. */
static enum jwt_err check_claims(json_object *payload, time_t now, int leeway,
                                 struct jwt_claims *out, struct jwt_times *t)
{
	json_object *v;
	const char *text;
	enum jwt_err rc;
	int has;

	memset(t, 0, sizeof(*t));
	if (time_claim(payload, "exp", &t->exp) != 1)
		return JWT_BAD_CLAIMS;
	out->exp = t->exp;
	if ((rc = check_times(t, now, leeway)) != JWT_OK)
		return rc;
	if ((has = time_claim(payload, "nbf", &t->nbf)) < 0)
		return JWT_BAD_CLAIMS;
	t->has_nbf = has;
	if ((rc = check_times(t, now, leeway)) != JWT_OK)
		return rc;
	if ((has = time_claim(payload, "iat", &t->iat)) < 0)
		return JWT_BAD_CLAIMS;
	t->has_iat = has;
	if ((rc = check_times(t, now, leeway)) != JWT_OK)
		return rc;
	if (!json_object_object_get_ex(payload, "sub", &v) || (text = jstr(v)) == NULL || !valid_id(text))
		return JWT_BAD_CLAIMS;
	snprintf(out->sub, sizeof(out->sub), "%s", text);
	if (!json_object_object_get_ex(payload, "role", &v) || (text = jstr(v)) == NULL ||
	    (out->role = role_parse(text)) == ROLE_NONE)
		return JWT_BAD_CLAIMS;
	return JWT_OK;
}

/* Is the third part the HMAC-SHA256 of the first two under key? Computed on every call. */
static bool signature_ok(const char *token, const char *dot2, const void *key, size_t keylen)
{
	unsigned char mac[HMAC_SHA256_LEN], sig[64];
	struct hmac_part signed_part = { token, (size_t)(dot2 - token) };
	ssize_t siglen = b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof(sig));

	if (hmac_sha256(key, keylen, &signed_part, 1, mac) != 0)
		return false;
	return siglen == (ssize_t)sizeof(mac) && CRYPTO_memcmp(mac, sig, sizeof(mac)) == 0;
}

/*
 * Tokens this process read lately. A client sends the same token with every
 * request, and reading it (base64 and the strict JSON reader, twice) was
 * most of what a small GET cost in user time. The signature is still checked
 * under the key of the moment on every request, so a token is served from
 * here only while the key that signed it is the key in force (a rotated key
 * refuses it at once, and with it every role it carried); what is kept is
 * only what its header and payload say, which its bytes fix, and its times
 * are judged again each time. Only tokens whose claims held are kept, so
 * forged or broken ones cost what they always did; the bytes are compared in
 * constant time.
 */
#define JWT_SEEN 16
#define JWT_SEEN_LEN 1024

static struct jwt_seen {
	size_t len;
	char token[JWT_SEEN_LEN];
	struct jwt_claims claims;
	struct jwt_times times;
} seen[JWT_SEEN];
static unsigned seen_next;

static const struct jwt_seen *seen_find(const char *token, size_t len)
{
	for (unsigned i = 0; i < JWT_SEEN; i++)
		if (seen[i].len == len && CRYPTO_memcmp(seen[i].token, token, len) == 0)
			return &seen[i];
	return NULL;
}

static void seen_add(const char *token, size_t len, const struct jwt_claims *claims, const struct jwt_times *times)
{
	struct jwt_seen *e = &seen[seen_next++ % JWT_SEEN];

	if (len == 0 || len > sizeof(e->token))
		return;
	memcpy(e->token, token, len);
	e->len = len;
	e->claims = *claims;
	e->times = *times;
}

enum jwt_err jwt_verify(const char *token, const void *key, size_t keylen, time_t now,
                        int leeway, struct jwt_claims *out)
{
	const char *dot1, *dot2;
	json_object *header = NULL, *payload = NULL, *alg, *crit;
	enum jwt_err rc = JWT_MALFORMED;
	size_t len = strnlen(token, JWT_MAX_LEN + 1);
	const struct jwt_seen *known;
	struct jwt_times times;

	memset(out, 0, sizeof(*out));
	if (len > JWT_MAX_LEN || (dot1 = strchr(token, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL || strchr(dot2 + 1, '.') != NULL)
		return JWT_MALFORMED;
	if ((known = seen_find(token, len)) != NULL) {
		/* Its header was read and held when it was kept: the same bytes say the same. */
		if (!signature_ok(token, dot2, key, keylen))
			return JWT_BAD_SIGNATURE;
		if ((rc = check_times(&known->times, now, leeway)) == JWT_OK)
			*out = known->claims;
		return rc;
	}
	/* After this point, all errors should use goto out. */
	if ((header = parse_part(token, (size_t)(dot1 - token))) == NULL)
		goto out;
	if (!json_object_object_get_ex(header, "alg", &alg) || jstr(alg) == NULL ||
	    strcmp(jstr(alg), "HS256") != 0) {
		rc = JWT_BAD_ALG;
		goto out;
	}
	/* RFC 7515 §4.1.11: extensions the token calls critical must be understood; we implement none. */
	if (json_object_object_get_ex(header, "crit", &crit)) {
		rc = JWT_CRITICAL;
		goto out;
	}
	if (!signature_ok(token, dot2, key, keylen)) {
		rc = JWT_BAD_SIGNATURE;
		goto out;
	}
	/* Only a token we signed gets its payload read. */
	if ((payload = parse_part(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL)
		goto out;
	rc = check_claims(payload, now, leeway, out, &times);
	if (rc == JWT_OK)
		seen_add(token, len, out, &times);
out:
	json_object_put(header);
	json_object_put(payload);
	return rc;
}

char *jwt_sign(const void *key, size_t keylen, const char *sub, enum role role, time_t exp)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char part[512], sigtxt[64];
	unsigned char mac[HMAC_SHA256_LEN];
	struct buf tok = BUF_INIT;
	json_object *payload;

	if (!valid_id(sub) || role == ROLE_NONE)
		return NULL;
	b64url_encode((const unsigned char *)header, sizeof(header) - 1, part);
	buf_puts(&tok, part);
	buf_putc(&tok, '.');
	payload = json_object_new_object();
	json_object_object_add(payload, "sub", json_object_new_string(sub));
	json_object_object_add(payload, "role", json_object_new_string(role_name(role)));
	json_object_object_add(payload, "iat", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(payload, "exp", json_object_new_int64((int64_t)exp));
	const char *ptxt = json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN);
	b64url_encode((const unsigned char *)ptxt, strlen(ptxt), part);
	json_object_put(payload);
	buf_puts(&tok, part);
	struct hmac_part signed_part = { tok.data, tok.len };
	if (hmac_sha256(key, keylen, &signed_part, 1, mac) != 0) {
		buf_free(&tok);
		return NULL;
	}
	b64url_encode(mac, sizeof(mac), sigtxt);
	buf_putc(&tok, '.');
	buf_puts(&tok, sigtxt);
	return buf_steal(&tok);
}

const char *jwt_strerror(enum jwt_err err)
{
	switch (err) {
	case JWT_OK: return "ok";
	case JWT_MALFORMED: return "the token is malformed";
	case JWT_BAD_ALG: return "the token's algorithm is not accepted (HS256 only)";
	case JWT_BAD_SIGNATURE: return "the token's signature is invalid";
	case JWT_EXPIRED: return "the token has expired";
	case JWT_NOT_YET_VALID: return "the token is not valid yet";
	case JWT_BAD_CLAIMS: return "the token lacks exp, a valid sub or a known role, or a time claim is out of range";
	case JWT_CRITICAL: return "the token lists critical header extensions (crit), which are not supported";
	}
	return "the token is invalid";
}
