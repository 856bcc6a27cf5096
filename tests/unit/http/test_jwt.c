/* JWT: HS256 only, exp required, and every way a token can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/b64url.h"
#include "http/jwt.h"

static const char key[] = "0123456789abcdef0123456789abcdef";
#define NOW 1700000000

/* Builds header.payload.signature from JSON texts, signed with `k`. */
static char *make(const char *header, const char *payload, const char *k)
{
	static char tok[2048];
	char h[512], p[1024], s[128];
	unsigned char mac[32];
	unsigned maclen;

	b64url_encode((const unsigned char *)header, strlen(header), h);
	b64url_encode((const unsigned char *)payload, strlen(payload), p);
	snprintf(tok, sizeof(tok), "%s.%s", h, p);
	HMAC(EVP_sha256(), k, (int)strlen(k), (unsigned char *)tok, strlen(tok), mac, &maclen);
	b64url_encode(mac, maclen, s);
	strcat(tok, ".");
	strcat(tok, s);
	return tok;
}

static enum jwt_err check(const char *tok)
{
	struct jwt_claims c;
	return jwt_verify(tok, key, strlen(key), NOW, 30, &c);
}

static void test_sign_then_verify(void **state)
{
	(void)state;
	time_t now = time(NULL);
	char *tok = jwt_sign(key, strlen(key), "user-1", ROLE_SELLER, now + 60);
	struct jwt_claims c;

	assert_non_null(tok);
	assert_int_equal(jwt_verify(tok, key, strlen(key), now, 0, &c), JWT_OK);
	assert_string_equal(c.sub, "user-1");
	assert_int_equal(c.role, ROLE_SELLER);
	assert_int_equal(c.exp, now + 60);
	assert_int_equal(jwt_verify(tok, key, strlen(key), now + 61, 0, &c), JWT_EXPIRED);
	assert_null(jwt_sign(key, strlen(key), "bad id", ROLE_SELLER, now + 60));
	assert_null(jwt_sign(key, strlen(key), "u", ROLE_NONE, now + 60));
	free(tok);
}

/*
 * A token read before is still judged on its times, on the key in force and
 * on its every byte: remembering it saves reading it, never a check.
 */
static void test_verified_again(void **state)
{
	static const char rotated[] = "a new key that replaced the first";
	const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char tok[2048], other[2048], payload[256];
	struct jwt_claims c;

	(void)state;
	snprintf(tok, sizeof(tok), "%s", make(h, "{\"sub\":\"again\",\"role\":\"admin\",\"exp\":1700001000,"
	                                        "\"nbf\":1700000100,\"iat\":1700000100}", key));
	assert_int_equal(jwt_verify(tok, key, strlen(key), NOW, 0, &c), JWT_NOT_YET_VALID);
	assert_int_equal(jwt_verify(tok, key, strlen(key), NOW + 200, 0, &c), JWT_OK);
	assert_string_equal(c.sub, "again");
	assert_int_equal(c.role, ROLE_ADMIN);
	assert_int_equal(c.exp, 1700001000);
	/* Again, now remembered: the same answers at the same times, and its times judged anew. */
	assert_int_equal(jwt_verify(tok, key, strlen(key), NOW + 200, 0, &c), JWT_OK);
	assert_string_equal(c.sub, "again");
	assert_int_equal(c.role, ROLE_ADMIN);
	assert_int_equal(jwt_verify(tok, key, strlen(key), NOW + 50, 0, &c), JWT_NOT_YET_VALID);
	assert_string_equal(c.sub, "");
	assert_int_equal(jwt_verify(tok, key, strlen(key), NOW + 50, 60, &c), JWT_OK);
	assert_int_equal(jwt_verify(tok, key, strlen(key), NOW + 1001, 0, &c), JWT_EXPIRED);
	assert_int_equal(c.role, ROLE_NONE);
	assert_int_equal(jwt_verify(tok, key, strlen(key), NOW + 200, -1, &c), JWT_BAD_CLAIMS);
	/* The key rotated: the admin token it signed is refused at once, remembered or not. */
	assert_int_equal(jwt_verify(tok, rotated, strlen(rotated), NOW + 200, 0, &c), JWT_BAD_SIGNATURE);
	assert_int_equal(c.role, ROLE_NONE);
	assert_string_equal(c.sub, "");
	snprintf(other, sizeof(other), "%s", make(h, "{\"sub\":\"again\",\"role\":\"buyer\",\"exp\":1700001000}", rotated));
	assert_int_equal(jwt_verify(other, rotated, strlen(rotated), NOW + 200, 0, &c), JWT_OK);
	assert_int_equal(c.role, ROLE_BUYER);
	assert_int_equal(jwt_verify(other, key, strlen(key), NOW + 200, 0, &c), JWT_BAD_SIGNATURE);
	/* One byte changed is a token never verified. */
	snprintf(other, sizeof(other), "%s", tok);
	other[strlen(other) - 2] ^= 1;
	assert_int_equal(jwt_verify(other, key, strlen(key), NOW + 200, 0, &c), JWT_BAD_SIGNATURE);
	/* Many other tokens later, the first is read afresh, with the same result. */
	for (int i = 0; i < 40; i++) {
		snprintf(payload, sizeof(payload), "{\"sub\":\"u%d\",\"role\":\"seller\",\"exp\":1700001000}", i);
		assert_int_equal(jwt_verify(make(h, payload, key), key, strlen(key), NOW, 0, &c), JWT_OK);
		assert_int_equal(c.role, ROLE_SELLER);
	}
	assert_int_equal(jwt_verify(tok, key, strlen(key), NOW + 200, 0, &c), JWT_OK);
	assert_string_equal(c.sub, "again");
	assert_int_equal(jwt_verify(tok, rotated, strlen(rotated), NOW + 200, 0, &c), JWT_BAD_SIGNATURE);
}

static void test_refuses_other_algorithms(void **state)
{
	(void)state;
	const char *payload = "{\"sub\":\"u\",\"role\":\"admin\",\"exp\":1700000100}";
	char unsigned_tok[512], h[128], p[256];

	assert_int_equal(check(make("{\"alg\":\"HS512\"}", payload, key)), JWT_BAD_ALG);
	assert_int_equal(check(make("{\"alg\":\"RS256\"}", payload, key)), JWT_BAD_ALG);
	assert_int_equal(check(make("{\"typ\":\"JWT\"}", payload, key)), JWT_BAD_ALG);
	/* alg none with an empty signature: the classic forgery. */
	b64url_encode((const unsigned char *)"{\"alg\":\"none\"}", 14, h);
	b64url_encode((const unsigned char *)payload, strlen(payload), p);
	snprintf(unsigned_tok, sizeof(unsigned_tok), "%s.%s.", h, p);
	assert_int_equal(check(unsigned_tok), JWT_BAD_ALG);
}

static void test_refuses_bad_signature(void **state)
{
	(void)state;
	const char *payload = "{\"sub\":\"u\",\"role\":\"admin\",\"exp\":1700000100}";
	char *tok = make("{\"alg\":\"HS256\"}", payload, "another key of thirty-two bytes!!");

	assert_int_equal(check(tok), JWT_BAD_SIGNATURE);
	tok = make("{\"alg\":\"HS256\"}", payload, key);
	tok[strlen(tok) - 2] ^= 1;
	assert_int_equal(check(tok), JWT_BAD_SIGNATURE);
}

static void test_claims(void **state)
{
	(void)state;
	const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"admin\"}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"admin\",\"exp\":\"soon\"}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"root\",\"exp\":1700000100}", key)), JWT_BAD_CLAIMS);
	/* A role is a whole name: a prefix or an extension of one is no role. */
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"adm\",\"exp\":1700000100}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"\",\"exp\":1700000100}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"administrator\",\"exp\":1700000100}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"sub\":\"a b\",\"role\":\"buyer\",\"exp\":1700000100}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"role\":\"buyer\",\"exp\":1700000100}", key)), JWT_BAD_CLAIMS);
	/* Expiry honours the leeway of 30 s, and no more. */
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1699999980}", key)), JWT_OK);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1699999960}", key)), JWT_EXPIRED);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1700000100,\"nbf\":1700000100}", key)), JWT_NOT_YET_VALID);
}

/* What every body reader refuses, a token's parts are refused for too. */
static void test_strict_json(void **state)
{
	(void)state;
	const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\\u0000admin\",\"exp\":1700000100}", key)), JWT_MALFORMED);
	assert_int_equal(check(make(h, "{\"sub\":\"alice\\u0000x\",\"role\":\"buyer\",\"exp\":1700000100}", key)), JWT_MALFORMED);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1700000100,\"x\":NaN}", key)), JWT_MALFORMED);
	assert_int_equal(check(make(h, "{\"sub\":\"u\tv\",\"role\":\"buyer\",\"exp\":1700000100}", key)), JWT_MALFORMED);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"role\":\"admin\",\"exp\":1700000100}", key)), JWT_MALFORMED);
	assert_int_equal(check(make("{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1700000100}", key)), JWT_MALFORMED);
	assert_int_equal(check(make("{'alg':'HS256'}", "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1700000100}", key)), JWT_MALFORMED);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1700000100}", key)), JWT_OK);
}

static void test_critical_extensions(void **state)
{
	(void)state;
	const char *p = "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1700000100}";

	assert_int_equal(check(make("{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", p, key)), JWT_CRITICAL);
	assert_int_equal(check(make("{\"alg\":\"HS256\",\"crit\":[]}", p, key)), JWT_CRITICAL);
}

/* Time claims are bounded before any arithmetic, so none can overflow. */
static void test_time_bounds(void **state)
{
	(void)state;
	const char *h = "{\"alg\":\"HS256\"}";
	struct jwt_claims c;

	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":9223372036854775807}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":18446744073709551615}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":-1}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1700000100,\"nbf\":-9223372036854775808}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1700000100,\"iat\":-9223372036854775807}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":253402300799}", key)), JWT_OK);
	assert_int_equal(check(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":253402300800}", key)), JWT_BAD_CLAIMS);
	assert_int_equal(jwt_verify(make(h, "{\"sub\":\"u\",\"role\":\"buyer\",\"exp\":1700000100}", key), key, strlen(key), NOW,
	                            JWT_MAX_LEEWAY + 1, &c), JWT_BAD_CLAIMS);
}

static void test_malformed(void **state)
{
	(void)state;
	assert_int_equal(check(""), JWT_MALFORMED);
	assert_int_equal(check("abc"), JWT_MALFORMED);
	assert_int_equal(check("a.b"), JWT_MALFORMED);
	assert_int_equal(check("a.b.c.d"), JWT_MALFORMED);
	assert_int_equal(check("!!!.e30.abc"), JWT_MALFORMED);
	assert_int_equal(check(make("[1]", "{}", key)), JWT_MALFORMED);
	assert_int_equal(check(make("{\"alg\":\"HS256\"}", "not json", key)), JWT_MALFORMED);
	char *huge = malloc(JWT_MAX_LEN + 10);
	memset(huge, 'a', JWT_MAX_LEN + 9);
	huge[JWT_MAX_LEN + 9] = '\0';
	huge[10] = '.';
	huge[20] = '.';
	assert_int_equal(check(huge), JWT_MALFORMED);
	free(huge);
}

static void test_b64url_vectors(void **state)
{
	(void)state;
	/* RFC 4648 §10 vectors, without padding. */
	static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const out[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	char enc[16];
	unsigned char dec[16];

	for (size_t i = 0; i < 7; i++) {
		b64url_encode((const unsigned char *)in[i], strlen(in[i]), enc);
		assert_string_equal(enc, out[i]);
		assert_int_equal(b64url_decode(out[i], strlen(out[i]), dec, sizeof(dec)), (ssize_t)strlen(in[i]));
		assert_memory_equal(dec, in[i], strlen(in[i]));
	}
	assert_int_equal(b64url_decode("Zg=", 3, dec, sizeof(dec)), -1);
	assert_int_equal(b64url_decode("Z", 1, dec, sizeof(dec)), -1);
	assert_int_equal(b64url_decode("Zh", 2, dec, sizeof(dec)), -1);  /* non-zero padding bits */
	assert_int_equal(b64url_decode("+/", 2, dec, sizeof(dec)), -1);  /* standard alphabet */
	assert_int_equal(b64url_decode("Zm9vYmFy", 8, dec, 5), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_then_verify),
		cmocka_unit_test(test_verified_again),
		cmocka_unit_test(test_refuses_other_algorithms),
		cmocka_unit_test(test_refuses_bad_signature),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_strict_json),
		cmocka_unit_test(test_critical_extensions),
		cmocka_unit_test(test_time_bounds),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_b64url_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
