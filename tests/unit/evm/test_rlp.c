/* RLP: the encodings from the Ethereum specification's examples, round trips,
 * and refusal of every non-canonical or malformed form. The hex helpers, which
 * these tests lean on, are checked here first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/hex.h"
#include "evm/rlp.h"

/* ---- hex ---- */

static void test_hex_encode(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(hex_encode((const uint8_t *)"\x00\xab\xff", 3, out, sizeof(out)), HEX_OK);
	assert_string_equal(out, "00abff");
	assert_int_equal(hex_encode_0x((const uint8_t *)"\x12", 1, out, sizeof(out)), HEX_OK);
	assert_string_equal(out, "0x12");
	assert_int_equal(hex_encode_0x(NULL, 0, out, sizeof(out)), HEX_OK);
	assert_string_equal(out, "0x");
	/* exactly enough room, then one byte short */
	assert_int_equal(hex_encode((const uint8_t *)"abc", 3, out, 7), HEX_OK);
	assert_int_equal(hex_encode((const uint8_t *)"abc", 3, out, 6), HEX_ERANGE);
	assert_string_equal(out, "");
	assert_int_equal(hex_encode_0x((const uint8_t *)"abc", 3, out, 8), HEX_ERANGE);
}

static void test_hex_decode(void **state)
{
	uint8_t out[4];
	size_t n;

	(void)state;
	assert_int_equal(hex_decode("0xDEadBe", out, sizeof(out), &n), HEX_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\xde\xad\xbe", 3);
	assert_int_equal(hex_decode("deadbeef", out, sizeof(out), &n), HEX_OK);
	assert_int_equal(n, 4);
	assert_int_equal(hex_decode("0x", out, sizeof(out), &n), HEX_OK);
	assert_int_equal(n, 0);
	assert_int_equal(hex_decode("", out, sizeof(out), &n), HEX_OK);
	assert_int_equal(n, 0);

	assert_int_equal(hex_decode("0xabc", out, sizeof(out), &n), HEX_EINVAL);
	assert_int_equal(hex_decode("0xag", out, sizeof(out), &n), HEX_EINVAL);
	assert_int_equal(hex_decode("0X12", out, sizeof(out), &n), HEX_EINVAL);
	assert_int_equal(hex_decode(" 12", out, sizeof(out), &n), HEX_EINVAL);
	assert_int_equal(hex_decode("12 ", out, sizeof(out), &n), HEX_EINVAL);
	assert_int_equal(hex_decode("0x0x12", out, sizeof(out), &n), HEX_EINVAL);
	assert_int_equal(hex_decode("-1", out, sizeof(out), &n), HEX_EINVAL);
	assert_int_equal(hex_decode("0011223344", out, sizeof(out), &n), HEX_ERANGE);
	assert_int_equal(hex_decode("001122334", out, sizeof(out), &n), HEX_ERANGE);

	assert_int_equal(hex_decode_exact("0x0102", out, 2), HEX_OK);
	assert_int_equal(hex_decode_exact("0x01", out, 2), HEX_ERANGE);
	assert_int_equal(hex_decode_exact("0x010203", out, 2), HEX_ERANGE);
	assert_int_equal(hex_nibble('F'), 15);
	assert_int_equal(hex_nibble('g'), -1);
}

/* ---- encoding ---- */

static void assert_buf_hex(const struct rlp_buf *b, const char *want)
{
	char got[512];

	assert_int_equal(b->err, RLP_OK);
	assert_int_equal(hex_encode(b->data, b->len, got, sizeof(got)), HEX_OK);
	assert_string_equal(got, want);
}

static void test_encode_strings(void **state)
{
	static const char lorem[] = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
	struct rlp_buf b;

	(void)state;
	rlp_buf_init(&b);
	rlp_put_bytes(&b, "dog", 3);
	assert_buf_hex(&b, "83646f67");
	b.len = 0;
	rlp_put_bytes(&b, "", 0);
	assert_buf_hex(&b, "80");
	b.len = 0;
	rlp_put_bytes(&b, "\x00", 1);
	assert_buf_hex(&b, "00");
	b.len = 0;
	rlp_put_bytes(&b, "\x7f", 1);
	assert_buf_hex(&b, "7f");
	b.len = 0;
	rlp_put_bytes(&b, "\x80", 1);
	assert_buf_hex(&b, "8180");
	b.len = 0;
	/* 56 bytes: the first length that needs the long form */
	rlp_put_bytes(&b, lorem, strlen(lorem));
	assert_int_equal(b.len, 58);
	assert_memory_equal(b.data, "\xb8\x38", 2);
	assert_memory_equal(b.data + 2, lorem, 56);
	rlp_buf_free(&b);
}

static void test_encode_integers(void **state)
{
	struct rlp_buf b;
	uint8_t word[32] = { 0 };

	(void)state;
	rlp_buf_init(&b);
	rlp_put_u64(&b, 0);
	assert_buf_hex(&b, "80");
	b.len = 0;
	rlp_put_u64(&b, 15);
	assert_buf_hex(&b, "0f");
	b.len = 0;
	rlp_put_u64(&b, 1024);
	assert_buf_hex(&b, "820400");
	b.len = 0;
	rlp_put_u64(&b, UINT64_MAX);
	assert_buf_hex(&b, "88ffffffffffffffff");
	b.len = 0;
	rlp_put_uint_be(&b, word, sizeof(word));
	assert_buf_hex(&b, "80");
	b.len = 0;
	word[31] = 0x80;
	word[30] = 0x01;
	rlp_put_uint_be(&b, word, sizeof(word));
	assert_buf_hex(&b, "820180");
	rlp_buf_free(&b);
}

static void test_encode_lists(void **state)
{
	struct rlp_buf b;
	size_t m0, m1, m2, m3;
	int i;

	(void)state;
	rlp_buf_init(&b);
	m0 = rlp_list_begin(&b);
	rlp_put_bytes(&b, "cat", 3);
	rlp_put_bytes(&b, "dog", 3);
	assert_int_equal(rlp_list_end(&b, m0), RLP_OK);
	assert_buf_hex(&b, "c88363617483646f67");
	b.len = 0;
	m0 = rlp_list_begin(&b);
	rlp_list_end(&b, m0);
	assert_buf_hex(&b, "c0");
	b.len = 0;
	/* [ [], [[]], [ [], [[]] ] ] */
	m0 = rlp_list_begin(&b);
	m1 = rlp_list_begin(&b);
	rlp_list_end(&b, m1);
	m1 = rlp_list_begin(&b);
	m2 = rlp_list_begin(&b);
	rlp_list_end(&b, m2);
	rlp_list_end(&b, m1);
	m1 = rlp_list_begin(&b);
	m2 = rlp_list_begin(&b);
	rlp_list_end(&b, m2);
	m2 = rlp_list_begin(&b);
	m3 = rlp_list_begin(&b);
	rlp_list_end(&b, m3);
	rlp_list_end(&b, m2);
	rlp_list_end(&b, m1);
	rlp_list_end(&b, m0);
	assert_buf_hex(&b, "c7c0c1c0c3c0c1c0");
	b.len = 0;
	/* a 300-byte payload needs a two-byte length: f9 01 2c */
	m0 = rlp_list_begin(&b);
	for (i = 0; i < 75; i++)
		rlp_put_bytes(&b, "abc", 3);
	rlp_list_end(&b, m0);
	assert_int_equal(b.err, RLP_OK);
	assert_int_equal(b.len, 303);
	assert_memory_equal(b.data, "\xf9\x01\x2c\x83" "abc", 7);
	rlp_buf_free(&b);
}

static void test_encode_errors(void **state)
{
	struct rlp_buf b;
	static uint8_t big[RLP_MAX_LEN + 1];

	(void)state;
	rlp_buf_init(&b);
	assert_int_equal(rlp_put_bytes(&b, big, sizeof(big)), RLP_ELIMIT);
	/* sticky: later calls fail too and leave the buffer alone */
	assert_int_equal(rlp_put_u64(&b, 1), RLP_ELIMIT);
	assert_int_equal(b.len, 0);
	rlp_buf_free(&b);

	rlp_buf_init(&b);
	assert_int_equal(rlp_put_bytes(&b, big, RLP_MAX_LEN - 4), RLP_OK);
	assert_int_equal(rlp_put_bytes(&b, "abcd", 4), RLP_ELIMIT);
	rlp_buf_free(&b);

	rlp_buf_init(&b);
	assert_int_equal(rlp_list_end(&b, 5), RLP_EMISUSE);
	rlp_buf_free(&b);
}

/* ---- decoding ---- */

static int decode_hex(const char *hex, struct rlp_item *top)
{
	static uint8_t in[512];
	size_t n;

	assert_int_equal(hex_decode(hex, in, sizeof(in), &n), HEX_OK);
	return rlp_decode(in, n, top);
}

static void test_decode_round_trip(void **state)
{
	struct rlp_buf b;
	struct rlp_item top, items[4], inner[2];
	size_t n, m0, m1;
	uint64_t v;
	uint8_t word[32], blob[200];

	(void)state;
	memset(blob, 0xab, sizeof(blob));
	rlp_buf_init(&b);
	m0 = rlp_list_begin(&b);
	rlp_put_u64(&b, 0x0123456789);
	rlp_put_bytes(&b, blob, sizeof(blob));
	m1 = rlp_list_begin(&b);
	rlp_put_u64(&b, 0);
	rlp_put_bytes(&b, "x", 1);
	rlp_list_end(&b, m1);
	rlp_put_u64(&b, 127);
	assert_int_equal(rlp_list_end(&b, m0), RLP_OK);

	assert_int_equal(rlp_decode(b.data, b.len, &top), RLP_OK);
	assert_true(top.is_list);
	assert_int_equal(rlp_list_items(&top, items, 4, &n), RLP_OK);
	assert_int_equal(n, 4);
	assert_int_equal(rlp_item_u64(&items[0], &v), RLP_OK);
	assert_true(v == 0x0123456789);
	assert_int_equal(rlp_item_word(&items[0], word), RLP_OK);
	assert_memory_equal(word + 27, "\x01\x23\x45\x67\x89", 5);
	assert_false(items[1].is_list);
	assert_int_equal(items[1].len, sizeof(blob));
	assert_memory_equal(items[1].payload, blob, sizeof(blob));
	assert_int_equal(rlp_list_items(&items[2], inner, 2, &n), RLP_OK);
	assert_int_equal(n, 2);
	assert_int_equal(rlp_item_u64(&inner[0], &v), RLP_OK);
	assert_true(v == 0);
	assert_memory_equal(inner[1].payload, "x", 1);
	assert_int_equal(rlp_item_u64(&items[3], &v), RLP_OK);
	assert_true(v == 127);
	/* raw spans let a caller re-emit an item unchanged */
	assert_ptr_equal(items[2].raw, items[1].raw + items[1].raw_len);
	assert_int_equal(rlp_list_items(&top, items, 3, &n), RLP_ERANGE);
	assert_int_equal(rlp_list_items(&items[0], inner, 2, &n), RLP_ETYPE);
	rlp_buf_free(&b);

	assert_int_equal(decode_hex("c7c0c1c0c3c0c1c0", &top), RLP_OK);
	assert_int_equal(decode_hex("83646f67", &top), RLP_OK);
	assert_false(top.is_list);
	assert_int_equal(top.len, 3);
}

static void test_decode_noncanonical(void **state)
{
	struct rlp_item top;

	(void)state;
	/* single byte below 0x80 wrapped as a string */
	assert_int_equal(decode_hex("8100", &top), RLP_ENONCANON);
	assert_int_equal(decode_hex("817f", &top), RLP_ENONCANON);
	assert_int_equal(decode_hex("8180", &top), RLP_OK);
	/* long form for a short payload */
	assert_int_equal(decode_hex("b80161", &top), RLP_ENONCANON);
	assert_int_equal(decode_hex("f80180", &top), RLP_ENONCANON);
	/* leading zero in the length */
	assert_int_equal(decode_hex("b90038" "4c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164697069736963696e6720656c6974", &top), RLP_ENONCANON);
	assert_int_equal(decode_hex("f800", &top), RLP_ENONCANON);
	/* the same inside a list */
	assert_int_equal(decode_hex("c28100", &top), RLP_ENONCANON);
}

static void test_decode_truncated(void **state)
{
	struct rlp_item top;

	(void)state;
	assert_int_equal(rlp_decode((const uint8_t *)"", 0, &top), RLP_ETRUNC);
	assert_int_equal(decode_hex("83646f", &top), RLP_ETRUNC);
	assert_int_equal(decode_hex("b8", &top), RLP_ETRUNC);
	assert_int_equal(decode_hex("b938", &top), RLP_ETRUNC);
	assert_int_equal(decode_hex("c88363617483646f", &top), RLP_ETRUNC);
	/* an inner item running past the end of its list */
	assert_int_equal(decode_hex("c3836162", &top), RLP_ETRUNC);
	/* absurd lengths must not overflow into something that looks present */
	assert_int_equal(decode_hex("bfffffffffffffffff00", &top), RLP_ETRUNC);
	assert_int_equal(decode_hex("ffffffffffffffffff00", &top), RLP_ETRUNC);
	assert_int_equal(decode_hex("bb7fffffff00", &top), RLP_ETRUNC);
}

static void test_decode_trailing(void **state)
{
	struct rlp_item top;

	(void)state;
	assert_int_equal(decode_hex("83646f6700", &top), RLP_ETRAILING);
	assert_int_equal(decode_hex("c0c0", &top), RLP_ETRAILING);
	assert_int_equal(decode_hex("0101", &top), RLP_ETRAILING);
}

static void test_decode_depth(void **state)
{
	uint8_t in[RLP_MAX_DEPTH + 1];
	struct rlp_item top;
	int depth, i;

	(void)state;
	for (depth = RLP_MAX_DEPTH; depth <= RLP_MAX_DEPTH + 1; depth++) {
		/* depth lists, each holding the next; the innermost is empty */
		for (i = 0; i < depth; i++)
			in[i] = (uint8_t)(0xc0 + depth - 1 - i);
		assert_int_equal(rlp_decode(in, (size_t)depth, &top),
		    depth <= RLP_MAX_DEPTH ? RLP_OK : RLP_EDEPTH);
	}
}

static void test_decode_integers(void **state)
{
	struct rlp_item top;
	uint64_t v;
	uint8_t word[32];

	(void)state;
	assert_int_equal(decode_hex("00", &top), RLP_OK);
	assert_int_equal(rlp_item_u64(&top, &v), RLP_ENONCANON);
	assert_int_equal(decode_hex("820004", &top), RLP_OK);
	assert_int_equal(rlp_item_u64(&top, &v), RLP_ENONCANON);
	assert_int_equal(rlp_item_word(&top, word), RLP_ENONCANON);
	assert_int_equal(decode_hex("89010000000000000000", &top), RLP_OK);
	assert_int_equal(rlp_item_u64(&top, &v), RLP_ERANGE);
	assert_int_equal(rlp_item_word(&top, word), RLP_OK);
	assert_int_equal(word[23], 1);
	assert_int_equal(decode_hex("a1" "01" "0000000000000000000000000000000000000000000000000000000000000000", &top), RLP_OK);
	assert_int_equal(rlp_item_word(&top, word), RLP_ERANGE);
	assert_int_equal(decode_hex("c0", &top), RLP_OK);
	assert_int_equal(rlp_item_u64(&top, &v), RLP_ETYPE);
	assert_int_equal(decode_hex("80", &top), RLP_OK);
	assert_int_equal(rlp_item_u64(&top, &v), RLP_OK);
	assert_true(v == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_encode),
		cmocka_unit_test(test_hex_decode),
		cmocka_unit_test(test_encode_strings),
		cmocka_unit_test(test_encode_integers),
		cmocka_unit_test(test_encode_lists),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_decode_round_trip),
		cmocka_unit_test(test_decode_noncanonical),
		cmocka_unit_test(test_decode_truncated),
		cmocka_unit_test(test_decode_trailing),
		cmocka_unit_test(test_decode_depth),
		cmocka_unit_test(test_decode_integers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
