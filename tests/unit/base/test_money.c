/* Amounts: exact text in, exact text out, refusals named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/jw.h"
#include "base/money.h"

static void expect(const char *in, int scale, enum money_err err, const char *out)
{
	char buf[MONEY_TEXT_MAX];

	assert_int_equal(money_parse(in, scale, buf), err);
	if (out)
		assert_string_equal(buf, out);
}

static void test_accepts_and_normalises(void **state)
{
	(void)state;
	expect("12", 2, MONEY_OK, "12");
	expect("12.50", 2, MONEY_OK, "12.5");
	expect("0012.500000000", 2, MONEY_OK, "12.5");
	expect("0.000001", 6, MONEY_OK, "0.000001");
	expect("123456789012345678", 0, MONEY_OK, "123456789012345678");
	expect("0.000000000000000001", 18, MONEY_OK, "0.000000000000000001");
}

static void test_refuses(void **state)
{
	(void)state;
	expect("0", 2, MONEY_NOT_POSITIVE, NULL);
	expect("0.00", 2, MONEY_NOT_POSITIVE, NULL);
	expect("-1", 2, MONEY_NOT_POSITIVE, NULL);
	expect("-0", 2, MONEY_NOT_POSITIVE, NULL);
	expect("1.234", 2, MONEY_TOO_PRECISE, NULL);
	expect("0.0000001", 6, MONEY_TOO_PRECISE, NULL);
	expect("1234567890123456789", 2, MONEY_OUT_OF_RANGE, NULL);
	const char *bad[] = { "", "abc", "1e3", "1E-2", ".5", "5.", "1,5", " 1", "1 ", "0x10",
	                      "+1", "1..2", "NaN", "Infinity" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[MONEY_TEXT_MAX];
		assert_int_not_equal(money_parse(bad[i], 18, buf), MONEY_OK);
	}
}

static void test_json_keeps_source_text(void **state)
{
	(void)state;
	char buf[MONEY_TEXT_MAX];
	/* 0.1 + 0.2 in binary floating point is not 0.3; the text must survive untouched. */
	json_object *o = json_tokener_parse("{\"a\":0.30000000000000001,\"b\":\"7.25\",\"c\":9223372036854775808,\"d\":true,\"e\":5}");
	json_object *v;

	json_object_object_get_ex(o, "a", &v);
	assert_int_equal(money_from_json(v, 18, buf), MONEY_OK);
	assert_string_equal(buf, "0.30000000000000001");
	json_object_object_get_ex(o, "b", &v);
	assert_int_equal(money_from_json(v, 2, buf), MONEY_OK);
	assert_string_equal(buf, "7.25");
	json_object_object_get_ex(o, "c", &v);
	assert_int_equal(money_from_json(v, 2, buf), MONEY_OUT_OF_RANGE);
	json_object_object_get_ex(o, "d", &v);
	assert_int_equal(money_from_json(v, 2, buf), MONEY_NOT_NUMBER);
	json_object_object_get_ex(o, "e", &v);
	assert_int_equal(money_from_json(v, 0, buf), MONEY_OK);
	assert_string_equal(buf, "5");
	json_object_put(o);
}

/* A string whose C string is shorter than its JSON value is no number: "1\u00002" is not 1. */
static void test_json_string_with_nul(void **state)
{
	(void)state;
	char buf[MONEY_TEXT_MAX];
	json_object *o = json_tokener_parse("{\"a\":\"1\\u00002\",\"b\":\"10\\u0000\",\"c\":\"\\u00005\"}");
	json_object *v;

	json_object_object_get_ex(o, "a", &v);
	assert_int_equal(money_from_json(v, 18, buf), MONEY_NOT_NUMBER);
	json_object_object_get_ex(o, "b", &v);
	assert_int_equal(money_from_json(v, 18, buf), MONEY_NOT_NUMBER);
	json_object_object_get_ex(o, "c", &v);
	assert_int_equal(money_from_json(v, 18, buf), MONEY_NOT_NUMBER);
	json_object_put(o);
}

static void test_with_scale(void **state)
{
	(void)state;
	char out[64];

	assert_int_equal(money_with_scale("5.5", 2, out, sizeof(out)), 0);
	assert_string_equal(out, "5.50");
	assert_int_equal(money_with_scale("7", 6, out, sizeof(out)), 0);
	assert_string_equal(out, "7.000000");
	/* Never cut: a sum with more decimals keeps them. */
	assert_int_equal(money_with_scale("0.125", 2, out, sizeof(out)), 0);
	assert_string_equal(out, "0.125");
	assert_int_equal(money_with_scale("12", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "12");
	assert_int_equal(money_with_scale("1.5", 18, out, 8), -1);
}

static void test_decimal_output_is_unquoted(void **state)
{
	(void)state;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "amount", json_decimal("1234567890.123456789012345678"));
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
	                    "{\"amount\":1234567890.123456789012345678}");
	json_object_put(o);
}

/* The API's one rule, written the same by the json-c tree and by jw: the number, then its string. */
static void test_amount_and_its_string(void **state)
{
	static const char *const want[] = {
		"{\"price\":0.000000000000000001,\"priceDecimal\":\"0.000000000000000001\"}",
		"{\"price\":123456789012345678.50,\"priceDecimal\":\"123456789012345678.50\"}",
		"{\"price\":null,\"priceDecimal\":null}",
	};
	static const char *const text[] = { "0.000000000000000001", "123456789012345678.50", NULL };

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		json_object *o = json_object_new_object();
		struct buf b = BUF_INIT;

		json_add_amount(o, "price", text[i]);
		assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), want[i]);
		json_object_put(o);
		buf_putc(&b, '{');
		jw_amount(&b, "price", text[i], true);
		buf_putc(&b, '}');
		assert_string_equal(b.data, want[i]);
		buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_and_normalises),
		cmocka_unit_test(test_refuses),
		cmocka_unit_test(test_json_keeps_source_text),
		cmocka_unit_test(test_json_string_with_nul),
		cmocka_unit_test(test_with_scale),
		cmocka_unit_test(test_decimal_output_is_unquoted),
		cmocka_unit_test(test_amount_and_its_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
