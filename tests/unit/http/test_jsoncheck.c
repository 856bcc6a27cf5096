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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_refuses),
		cmocka_unit_test(test_depth_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
