/* Keccak-256 against the vectors in PROVIDERS.md section 3, plus block-boundary
 * cases checked for agreement between the one-shot and incremental forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/hex.h"
#include "evm/keccak.h"

static void assert_digest(const uint8_t d[KECCAK256_LEN], const char *want)
{
	char got[HEX_BUFSZ(KECCAK256_LEN)];

	assert_int_equal(hex_encode(d, KECCAK256_LEN, got, sizeof(got)), HEX_OK);
	assert_string_equal(got, want);
}

static void test_empty(void **state)
{
	uint8_t d[KECCAK256_LEN];

	(void)state;
	keccak256("", 0, d);
	assert_digest(d, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

static void test_abc(void **state)
{
	uint8_t d[KECCAK256_LEN];

	(void)state;
	keccak256("abc", 3, d);
	assert_digest(d, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

/* The ERC-20 selectors and topic are keccak prefixes of their signatures: a
 * second, independent set of published values. */
static void test_signatures(void **state)
{
	uint8_t d[KECCAK256_LEN];
	const char *sig = "Transfer(address,address,uint256)";

	(void)state;
	keccak256(sig, strlen(sig), d);
	assert_digest(d, "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
	sig = "transfer(address,uint256)";
	keccak256(sig, strlen(sig), d);
	assert_memory_equal(d, "\xa9\x05\x9c\xbb", 4);
	sig = "decimals()";
	keccak256(sig, strlen(sig), d);
	assert_memory_equal(d, "\x31\x3c\xe5\x67", 4);
}

/* The signed EIP-155 example from PROVIDERS.md hashes to its tx hash: a
 * 110-byte input, closer to real use than "abc". */
static void test_raw_tx(void **state)
{
	uint8_t raw[200], d[KECCAK256_LEN];
	size_t n;

	(void)state;
	assert_int_equal(hex_decode("f86c808401a213988261a894aa000000000000000000000000000000000000000a8255448718e5bb3abd109fa073fbe7ff7e74339e7cc61fb3cb3f7630cd3f1d5fef653d7297654b2d22894daea042a188d30f35f19408c73c803bc1e9e17ce129c457e31fd2a368b54507af2f4c",
	    raw, sizeof(raw), &n), HEX_OK);
	keccak256(raw, n, d);
	assert_digest(d, "b55b6dfd4ba0bb2b00283b0e84cda496c90bc7c5ae9025e07edc3a7fbaf6a269");
}

/* Lengths around the 136-byte rate, fed in uneven pieces. */
static void test_incremental(void **state)
{
	static const size_t lens[] = { 0, 1, 135, 136, 137, 271, 272, 273, 1000 };
	uint8_t buf[1000], one[KECCAK256_LEN], inc[KECCAK256_LEN];
	size_t i, j, step;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (step = 1; step <= 137; step += 17) {
			struct keccak256_ctx ctx;

			keccak256(buf, lens[i], one);
			keccak256_init(&ctx);
			for (j = 0; j < lens[i]; j += step)
				keccak256_update(&ctx, buf + j,
				    lens[i] - j < step ? lens[i] - j : step);
			keccak256_final(&ctx, inc);
			assert_memory_equal(one, inc, KECCAK256_LEN);
		}
	}
}

/* 135 bytes puts both padding bits in the last byte of the block. */
static void test_pad_single_byte(void **state)
{
	uint8_t buf[135], d[KECCAK256_LEN], e[KECCAK256_LEN];

	(void)state;
	memset(buf, 'a', sizeof(buf));
	keccak256(buf, sizeof(buf), d);
	keccak256(buf, sizeof(buf) - 1, e);
	assert_memory_not_equal(d, e, KECCAK256_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_abc),
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_raw_tx),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_pad_single_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
