/* The strict JSON syntax check that runs before json-c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/jsoncheck.h"

static bool ok(const char *s) { return json_strict_valid(s, strlen(s), 16); }

static void test_accepts(void **state)
{
	(void)state;
	const char *good[] = {
		"{}", "[]", " {\"a\" : [1, -2.5e+3, 0, 0.1, true, false, null, \"x\\u00e9\\n\"]} ",
		"\"caf\xc3\xa9\"", "\"\xf0\x9f\x98\x80\"", "-0", "1E5", "{\"a\":{\"b\":{}}}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!ok(good[i]))
			fail_msg("refused valid JSON: %s", good[i]);
}

static void test_refuses(void **state)
{
	(void)state;
	const char *bad[] = {
		"", " ", "{'a':1}", "{\"a\":'x'}", "{\"a\":\"\x01\"}", "{\"a\":\"line\nbreak\"}", "NaN",
		"Infinity", "-Infinity", "1.", ".5", "01", "+1", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{a:1}",
		"[1] [2]", "{\"a\":1}x", "\"\\x41\"", "\"\\u12\"", "\"\xc3\"", "\"\xc0\xaf\"",
		"\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"", "tru", "nul", "{\"a\":1", "[", "\"abc",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ok(bad[i]))
			fail_msg("accepted invalid JSON #%zu: %s", i, bad[i]);
	/* An embedded NUL is a control character, not the end of the body. */
	assert_false(json_strict_valid("{\"a\":\"\0\"}", 9, 16));
}

static void test_depth_is_bounded(void **state)
{
	(void)state;
	char deep[64];

	memset(deep, '[', 20);
	memset(deep + 20, ']', 20);
	deep[40] = '\0';
	assert_false(ok(deep));
	assert_true(json_strict_valid(deep, 40, 20));
}

/* What the check says about s: the fault's kind, and its path in *path. */
static enum json_fault_kind fault_of(const char *s, char path[JSON_PATH_MAX])
{
	struct json_fault f;

	json_strict_check(s, strlen(s), 16, &f, NULL);
	memcpy(path, f.path, JSON_PATH_MAX);
	return f.kind;
}

static void test_value_faults_name_their_member(void **state)
{
	static const struct { const char *json; enum json_fault_kind kind; const char *path; } cases[] = {
		{ "{\"amount\":\"1\\u00002\"}", JSON_FAULT_NUL, "amount" },
		{ "{\"amount\":{\"amount\":\"10\\u0000999\",\"currency\":\"USD\"}}", JSON_FAULT_NUL, "amount.amount" },
		{ "{\"metadata\":{\"a\\u0000b\":1}}", JSON_FAULT_NUL, "metadata.a?b" },
		{ "{\"metadata\":{\"tags\":[1,\"x\",\"\\ud800\"]}}", JSON_FAULT_SURROGATE, "metadata.tags[2]" },
		{ "{\"m\":\"\\udc00\"}", JSON_FAULT_SURROGATE, "m" },
		{ "{\"m\":\"\\ud800\\u0041\"}", JSON_FAULT_SURROGATE, "m" },
		{ "{\"metadata\":{\"x\":99999999999999999999999}}", JSON_FAULT_NUMBER, "metadata.x" },
		{ "{\"n\":18446744073709551616}", JSON_FAULT_NUMBER, "n" },
		{ "{\"n\":-9223372036854775809}", JSON_FAULT_NUMBER, "n" },
		{ "{\"n\":1e309}", JSON_FAULT_NUMBER, "n" },
		{ "{\"n\":1E-400}", JSON_FAULT_NUMBER, "n" },
		{ "{\"n\":1.00000000000000000000000000000000000000000000000000000000000000001}", JSON_FAULT_NUMBER, "n" },
		{ "[{\"a\":1},{\"b\":\"\\u0000\"}]", JSON_FAULT_NUL, "[1].b" },
		/* A syntax error wins over an earlier value fault. */
		{ "{\"a\":\"\\u0000\"", JSON_FAULT_SYNTAX, "" },
		{ "{\"n\":18446744073709551615,\"m\":-9223372036854775808,\"x\":1e308,\"y\":\"\\ud83d\\ude00\"}",
		  JSON_FAULT_NONE, "" },
	};
	char path[JSON_PATH_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum json_fault_kind k = fault_of(cases[i].json, path);
		if (k != cases[i].kind || strcmp(path, cases[i].path) != 0)
			fail_msg("%s: fault %d at \"%s\", expected %d at \"%s\"", cases[i].json, k, path,
			         cases[i].kind, cases[i].path);
	}
}

static void test_parse_refuses_duplicate_names(void **state)
{
	struct json_fault f;
	json_object *o;
	const char *twice = "{\"role\":\"buyer\",\"role\":\"admin\"}", *escaped = "{\"a\":{\"b\":1,\"\\u0062\":2}}",
	           *apart = "{\"a\":{\"b\":1},\"c\":[{\"b\":2}]}";

	(void)state;
	o = json_strict_parse(twice, strlen(twice), 8, &f);
	assert_null(o);
	assert_int_equal(f.kind, JSON_FAULT_DUPLICATE);
	/* The same name spelt with an escape is the same name. */
	o = json_strict_parse(escaped, strlen(escaped), 8, &f);
	assert_null(o);
	assert_int_equal(f.kind, JSON_FAULT_DUPLICATE);
	o = json_strict_parse(apart, strlen(apart), 8, &f);
	assert_non_null(o);
	assert_int_equal(f.kind, JSON_FAULT_NONE);
	json_object_put(o);
	/* Any value at the top, a number at the very end included. */
	o = json_strict_parse("8", 1, 8, &f);
	assert_int_equal(f.kind, JSON_FAULT_NONE);
	assert_int_equal(json_object_get_int(o), 8);
	json_object_put(o);
	assert_null(json_strict_parse("null", 4, 8, &f));
	assert_int_equal(f.kind, JSON_FAULT_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_refuses),
		cmocka_unit_test(test_depth_is_bounded),
		cmocka_unit_test(test_value_faults_name_their_member),
		cmocka_unit_test(test_parse_refuses_duplicate_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
