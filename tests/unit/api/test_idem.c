/* The Idempotency-Key header's shape, on its edge strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/idem.h"

static void test_key_shape(void **state)
{
	char longest[IDEM_KEY_MAX + 2];

	(void)state;
	assert_true(idem_key_valid("a"));
	assert_true(idem_key_valid("5b2f7c64-0d55-4f5e-9a47-7c2f0e6d3a10"));
	assert_true(idem_key_valid("!~"));                  /* the first and last visible characters */
	memset(longest, 'k', IDEM_KEY_MAX);
	longest[IDEM_KEY_MAX] = '\0';
	assert_true(idem_key_valid(longest));
	longest[IDEM_KEY_MAX] = 'k';
	longest[IDEM_KEY_MAX + 1] = '\0';
	assert_false(idem_key_valid(longest));             /* 256 characters */
	assert_false(idem_key_valid(""));
	assert_false(idem_key_valid("has space"));
	assert_false(idem_key_valid("tab\tin"));
	assert_false(idem_key_valid("del\x7f"));
	assert_false(idem_key_valid("caf\xc3\xa9"));        /* not ASCII */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
