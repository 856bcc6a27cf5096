/* Amounts: exact decimal <-> base-unit conversion at 6 and 18 decimals, the
 * refusals that keep a typo from becoming a payout, and JSON-RPC quantities. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "evm/units.h"

#define MAX256 "115792089237316195423570985008687907853269984665640564039457584007913129639935"
#define MAX256_PLUS1 "115792089237316195423570985008687907853269984665640564039457584007913129639936"

static BIGNUM *bn;

static int setup(void **state)
{
	(void)state;
	bn = BN_new();
	return bn ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	BN_free(bn);
	return 0;
}

/* Parses s, checks the base units, and that formatting gives back canon. */
static void assert_amount(const char *s, unsigned decimals, const char *base_units,
    const char *canon)
{
	char *dec, out[UNITS_DEC_BUFSZ];

	assert_int_equal(units_parse(s, decimals, bn), UNITS_OK);
	dec = BN_bn2dec(bn);
	assert_non_null(dec);
	assert_string_equal(dec, base_units);
	OPENSSL_free(dec);
	assert_int_equal(units_format(bn, decimals, out, sizeof(out)), UNITS_OK);
	assert_string_equal(out, canon);
}

static void test_parse_6(void **state)
{
	(void)state;
	assert_amount("12.5", 6, "12500000", "12.5");
	assert_amount("0.000001", 6, "1", "0.000001");
	assert_amount("0", 6, "0", "0");
	assert_amount("0.0", 6, "0", "0");
	assert_amount("1", 6, "1000000", "1");
	assert_amount("1.500000", 6, "1500000", "1.5");
	assert_amount("100.010000", 6, "100010000", "100.01");
	assert_amount("123456789.123456", 6, "123456789123456", "123456789.123456");
	assert_amount("115792089237316195423570985008687907853269984665640564039457584007913129.639935",
	    6, MAX256, "115792089237316195423570985008687907853269984665640564039457584007913129.639935");
}

static void test_parse_18(void **state)
{
	(void)state;
	assert_amount("12.5", 18, "12500000000000000000", "12.5");
	assert_amount("0.000000000000000001", 18, "1", "0.000000000000000001");
	assert_amount("1", 18, "1000000000000000000", "1");
	assert_amount("115792089237316195423570985008687907853269984665640564039457.584007913129639935",
	    18, MAX256, "115792089237316195423570985008687907853269984665640564039457.584007913129639935");
	assert_amount(MAX256, 0, MAX256, MAX256);
}

static void test_parse_precision(void **state)
{
	(void)state;
	/* refused, never rounded, even when the extra digits are zeros */
	assert_int_equal(units_parse("0.0000001", 6, bn), UNITS_EPRECISION);
	assert_int_equal(units_parse("1.0000000", 6, bn), UNITS_EPRECISION);
	assert_int_equal(units_parse("12.3456789", 6, bn), UNITS_EPRECISION);
	assert_int_equal(units_parse("0.0000000000000000001", 18, bn), UNITS_EPRECISION);
	assert_int_equal(units_parse("1.5", 0, bn), UNITS_EPRECISION);
	assert_true(BN_is_zero(bn));
}

static void test_parse_garbage(void **state)
{
	static const char *const bad[] = {
		"", "-1", "-0.5", "+1", ".5", "5.", "1e6", "1E6", "1e-6", "1,5", " 1",
		"1 ", "0x10", "00.5", "01", "1.2.3", "abc", "NaN", "inf", "1..2",
		"1.-2", "1.5x", "\xef\xbc\x91", "1\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("input %zu\n", i);
		assert_int_equal(units_parse(bad[i], 6, bn), UNITS_EINVAL);
	}
	assert_int_equal(units_parse("1", UNITS_MAX_DECIMALS + 1, bn), UNITS_EINVAL);
}

static void test_parse_overflow(void **state)
{
	char big[300];

	(void)state;
	assert_int_equal(units_parse(MAX256_PLUS1, 0, bn), UNITS_ERANGE);
	assert_int_equal(units_parse("115792089237316195423570985008687907853269984665640564039457.584007913129639936",
	    18, bn), UNITS_ERANGE);
	/* fits as base units at 0 decimals, not once scaled by 10^6 */
	assert_int_equal(units_parse(MAX256, 6, bn), UNITS_ERANGE);
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(units_parse(big, 18, bn), UNITS_ERANGE);
	assert_true(BN_is_zero(bn));
}

static void test_format_refusals(void **state)
{
	char out[UNITS_DEC_BUFSZ];

	(void)state;
	assert_int_equal(units_parse("12.5", 6, bn), UNITS_OK);
	assert_int_equal(units_format(bn, 6, out, 5), UNITS_OK);
	assert_int_equal(units_format(bn, 6, out, 4), UNITS_ERANGE);
	assert_string_equal(out, "");
	BN_set_negative(bn, 1);
	assert_int_equal(units_format(bn, 6, out, sizeof(out)), UNITS_EINVAL);
	assert_int_equal(BN_dec2bn(&bn, MAX256_PLUS1), 78);
	assert_int_equal(units_format(bn, 18, out, sizeof(out)), UNITS_ERANGE);
	/* the buffer size advertised in units.h is enough for the widest value */
	assert_int_equal(BN_dec2bn(&bn, MAX256), 78);
	assert_int_equal(units_format(bn, 18, out, sizeof(out)), UNITS_OK);
	assert_int_equal(units_format(bn, 1, out, sizeof(out)), UNITS_OK);
	assert_int_equal(BN_dec2bn(&bn, "1"), 1);
	assert_int_equal(units_format(bn, UNITS_MAX_DECIMALS, out, sizeof(out)), UNITS_OK);
}

static void test_hexqty(void **state)
{
	static const char *const bad[] = {
		"", "0x", "0x00", "0x01", "38", "0X38", "0x1g", "-0x1", "0x 1", "0x1 ", "x1",
	};
	char out[UNITS_HEX_BUFSZ], *dec;
	uint64_t v;
	uint8_t w[32];
	size_t i;

	(void)state;
	assert_int_equal(units_hexqty_u64("0x0", &v), UNITS_OK);
	assert_true(v == 0);
	assert_int_equal(units_hexqty_u64("0x38", &v), UNITS_OK);
	assert_true(v == 56);
	assert_int_equal(units_hexqty_u64("0xFfFfFfFfFfFfFfFf", &v), UNITS_OK);
	assert_true(v == UINT64_MAX);
	assert_int_equal(units_hexqty_u64("0x10000000000000000", &v), UNITS_ERANGE);

	assert_int_equal(units_hexqty_parse("0xde0b6b3a7640000", bn), UNITS_OK);
	dec = BN_bn2dec(bn);
	assert_string_equal(dec, "1000000000000000000");
	OPENSSL_free(dec);
	assert_int_equal(units_hexqty_parse("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", bn), UNITS_OK);
	dec = BN_bn2dec(bn);
	assert_string_equal(dec, MAX256);
	OPENSSL_free(dec);
	assert_int_equal(units_hexqty_format(bn, out, sizeof(out)), UNITS_OK);
	assert_string_equal(out, "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	assert_int_equal(units_hexqty_parse("0x1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", bn), UNITS_ERANGE);

	assert_int_equal(units_hexqty_word("0x1234", w), UNITS_OK);
	assert_int_equal(w[30], 0x12);
	assert_int_equal(w[31], 0x34);
	assert_int_equal(units_hexqty_word("0x123", w), UNITS_OK);
	assert_int_equal(w[30], 0x01);
	assert_int_equal(w[31], 0x23);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("input %zu\n", i);
		assert_int_equal(units_hexqty_u64(bad[i], &v), UNITS_EINVAL);
	}

	assert_int_equal(units_hexqty_format_u64(0, out, sizeof(out)), UNITS_OK);
	assert_string_equal(out, "0x0");
	assert_int_equal(units_hexqty_format_u64(56, out, sizeof(out)), UNITS_OK);
	assert_string_equal(out, "0x38");
	assert_int_equal(units_hexqty_format_u64(UINT64_MAX, out, sizeof(out)), UNITS_OK);
	assert_string_equal(out, "0xffffffffffffffff");
	assert_int_equal(units_hexqty_format_u64(56, out, 5), UNITS_OK);
	assert_int_equal(units_hexqty_format_u64(56, out, 4), UNITS_ERANGE);
	BN_zero(bn);
	assert_int_equal(units_hexqty_format(bn, out, sizeof(out)), UNITS_OK);
	assert_string_equal(out, "0x0");
	BN_set_word(bn, 1);
	BN_set_negative(bn, 1);
	assert_int_equal(units_hexqty_format(bn, out, sizeof(out)), UNITS_EINVAL);
}

static void test_word(void **state)
{
	uint8_t w[32];
	char out[UNITS_DEC_BUFSZ];

	(void)state;
	assert_int_equal(units_parse("12.5", 6, bn), UNITS_OK);
	assert_int_equal(units_to_word(bn, w), UNITS_OK);
	assert_memory_equal(w + 28, "\x00\xbe\xbc\x20", 4); /* 12500000 */
	BN_zero(bn);
	assert_int_equal(units_from_word(w, bn), UNITS_OK);
	assert_int_equal(units_format(bn, 6, out, sizeof(out)), UNITS_OK);
	assert_string_equal(out, "12.5");
	assert_int_equal(BN_dec2bn(&bn, MAX256_PLUS1), 78);
	assert_int_equal(units_to_word(bn, w), UNITS_ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_6),
		cmocka_unit_test(test_parse_18),
		cmocka_unit_test(test_parse_precision),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_parse_overflow),
		cmocka_unit_test(test_format_refusals),
		cmocka_unit_test(test_hexqty),
		cmocka_unit_test(test_word),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
