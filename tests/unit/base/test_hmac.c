/* HMAC-SHA256 against RFC 4231's vectors, also when the keys kept prepared
 * are taken in turn and pushed out by others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/hmac.h"

struct vector {
	const char *key;            /* hex */
	const char *data;           /* hex */
	const char *mac;            /* hex, the whole 32 bytes */
};

/* RFC 4231 test cases 1, 2, 4, 6 and 7 (3 is 2 with other bytes; 5 truncates). */
static const struct vector vectors[] = {
	{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ "0102030405060708090a0b0c0d0e0f10111213141516171819",
	  "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920"
	  "616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f"
	  "20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e",
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

static size_t unhex(const char *hex, unsigned char *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = hex[2 * i + (size_t)k];
			v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
		}
		out[i] = (unsigned char)v;
	}
	return n;
}

static void check(const struct vector *v)
{
	unsigned char key[256], data[256];
	size_t keylen = unhex(v->key, key), datalen = unhex(v->data, data);
	char mac[2 * HMAC_SHA256_LEN + 1];
	/* The message in two parts, cut in its middle, gives the same MAC. */
	struct hmac_part parts[2] = { { data, datalen / 2 }, { data + datalen / 2, datalen - datalen / 2 } };

	assert_int_equal(hmac_sha256_hex(key, keylen, parts, 2, mac), 0);
	assert_string_equal(mac, v->mac);
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		check(&vectors[i]);
}

/* Five keys in turn, more than are kept prepared, in an order that finds
 * some kept and pushes others out: every MAC stays the vector's. */
static void test_keys_in_turn(void **state)
{
	static const size_t order[] = { 0, 1, 0, 2, 3, 4, 1, 4, 0, 3, 3, 2, 1, 0, 4 };

	(void)state;
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
			check(&vectors[order[i]]);
}

/* A key that differs from a kept one only in its last byte, or only in its length, is another key. */
static void test_near_keys(void **state)
{
	unsigned char key[20], data[8];
	char a[65], b[65], c[65];
	struct hmac_part part = { data, unhex("4869205468657265", data) };

	(void)state;
	unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", key);
	assert_int_equal(hmac_sha256_hex(key, 20, &part, 1, a), 0);
	key[19] ^= 1;
	assert_int_equal(hmac_sha256_hex(key, 20, &part, 1, b), 0);
	key[19] ^= 1;
	assert_int_equal(hmac_sha256_hex(key, 19, &part, 1, c), 0);
	assert_string_equal(a, vectors[0].mac);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(b, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_keys_in_turn),
		cmocka_unit_test(test_near_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
