#include "http/jwt.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/b64url.h"
#include "base/buf.h"
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

static enum jwt_err check_claims(json_object *payload, time_t now, int leeway,
                                 struct jwt_claims *out)
{
	json_object *v;
	const char *text;
	long long t;
	int has;

	if (leeway < 0 || leeway > JWT_MAX_LEEWAY || now < 0)
		return JWT_BAD_CLAIMS;
	if (time_claim(payload, "exp", &out->exp) != 1)
		return JWT_BAD_CLAIMS;
	if (out->exp + leeway < (long long)now)
		return JWT_EXPIRED;
	if ((has = time_claim(payload, "nbf", &t)) < 0)
		return JWT_BAD_CLAIMS;
	if (has && t - leeway > (long long)now)
		return JWT_NOT_YET_VALID;
	if ((has = time_claim(payload, "iat", &t)) < 0)
		return JWT_BAD_CLAIMS;
	if (has && t - leeway > (long long)now)
		return JWT_NOT_YET_VALID;
	if (!json_object_object_get_ex(payload, "sub", &v) || (text = jstr(v)) == NULL || !valid_id(text))
		return JWT_BAD_CLAIMS;
	snprintf(out->sub, sizeof(out->sub), "%s", text);
	if (!json_object_object_get_ex(payload, "role", &v) || (text = jstr(v)) == NULL ||
	    (out->role = role_parse(text)) == ROLE_NONE)
		return JWT_BAD_CLAIMS;
	return JWT_OK;
}

enum jwt_err jwt_verify(const char *token, const void *key, size_t keylen, time_t now,
                        int leeway, struct jwt_claims *out)
{
	const char *dot1, *dot2;
	unsigned char mac[EVP_MAX_MD_SIZE], sig[64];
	unsigned maclen = 0;
	ssize_t siglen;
	json_object *header = NULL, *payload = NULL, *alg, *crit;
	enum jwt_err rc = JWT_MALFORMED;
	size_t len = strnlen(token, JWT_MAX_LEN + 1);

	memset(out, 0, sizeof(*out));
	if (len > JWT_MAX_LEN || (dot1 = strchr(token, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL || strchr(dot2 + 1, '.') != NULL)
		return JWT_MALFORMED;
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
	siglen = b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof(sig));
	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)token,
	         (size_t)(dot2 - token), mac, &maclen) == NULL) {
		rc = JWT_BAD_SIGNATURE;
		goto out;
	}
	if (siglen != (ssize_t)maclen || CRYPTO_memcmp(mac, sig, maclen) != 0) {
		rc = JWT_BAD_SIGNATURE;
		goto out;
	}
	/* Only a token we signed gets its payload read. */
	if ((payload = parse_part(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL)
		goto out;
	rc = check_claims(payload, now, leeway, out);
out:
	json_object_put(header);
	json_object_put(payload);
	return rc;
}

char *jwt_sign(const void *key, size_t keylen, const char *sub, enum role role, time_t exp)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char part[512], sigtxt[64];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
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
	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)tok.data, tok.len, mac, &maclen);
	b64url_encode(mac, maclen, sigtxt);
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
