/* JSON strings: escaped as json-c escapes them, and always valid UTF-8 (base/utf8), whatever bytes they are given; a scrubbed message cut on whole characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "base/jw.h"
#include "base/utf8.h"

static char *str(const char *s)
{
	struct buf b = BUF_INIT;

	jw_str(&b, s);
	buf_putc(&b, '\0');
	return buf_steal(&b);
}

static void expect(const char *in, const char *want)
{
	char *got = str(in);

	assert_string_equal(got, want);
	free(got);
}

static void test_escapes(void **state)
{
	(void)state;
	expect("", "\"\"");
	expect("plain", "\"plain\"");
	expect("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect("\b\f\n\r\t\x01\x1f", "\"\\b\\f\\n\\r\\t\\u0001\\u001f\"");
}

static void test_utf8_kept(void **state)
{
	(void)state;
	/* Two, three and four bytes, at the edges of what each may hold. */
	expect("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	expect("\xc2\x80\xdf\xbf", "\"\xc2\x80\xdf\xbf\"");
	expect("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf", "\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"");
	expect("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
}

static void test_invalid_bytes_replaced(void **state)
{
	(void)state;
	/* A lone byte of a decoded %FF, a stray continuation, a cut sequence. */
	expect("/api/\xff", "\"/api/\\ufffd\"");
	expect("\x80x", "\"\\ufffdx\"");
	expect("ab\xc3", "\"ab\\ufffd\"");
	expect("\xe2\x82", "\"\\ufffd\\ufffd\"");
	/* Overlong forms, a surrogate, past U+10FFFF, the bytes no sequence starts with. */
	expect("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	expect("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
	expect("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	expect("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	expect("\xf5\xfe", "\"\\ufffd\\ufffd\"");
}

/* Whatever the bytes, the result is a JSON string a strict parser reads back. */
static void test_any_bytes_parse(void **state)
{
	(void)state;
	unsigned seed = 12345;

	for (int round = 0; round < 2000; round++) {
		char in[24];
		size_t n = 1 + (seed % 22);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (char)(1 + (seed >> 16) % 255);
		}
		in[n] = '\0';
		char *got = str(in);
		json_tokener *tok = json_tokener_new();
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		json_object *o = json_tokener_parse_ex(tok, got, (int)strlen(got));
		assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
		assert_true(json_object_is_type(o, json_type_string));
		json_object_put(o);
		json_tokener_free(tok);
		free(got);
	}
}

static void test_scrub(void **state)
{
	(void)state;
	char out[8];

	utf8_scrub(out, sizeof(out), "a\xff" "b");
	assert_string_equal(out, "a" UTF8_REPLACEMENT "b");
	/* Cut where a whole character no longer fits, never inside one. */
	utf8_scrub(out, 7, "abcde\xc3\xa9");
	assert_string_equal(out, "abcde");
	utf8_scrub(out, sizeof(out), "abcd\xc3\xa9x");
	assert_string_equal(out, "abcd\xc3\xa9x");
	utf8_scrub(out, 1, "abc");
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_utf8_kept),
		cmocka_unit_test(test_invalid_bytes_replaced),
		cmocka_unit_test(test_any_bytes_parse),
		cmocka_unit_test(test_scrub),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
