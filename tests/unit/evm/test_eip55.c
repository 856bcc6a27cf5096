/* EIP-55: the published valid addresses, their single-case forms, and refusal
 * of a mixed-case address whose checksum is wrong by one letter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <ctype.h>

#include <cmocka.h>

#include "evm/eip55.h"

static const char *const valid[] = {
	"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	/* the token contracts of PROVIDERS.md, as published there */
	"0x55d398326f99059fF775485246999027B3197955",
	"0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d",
	"0xdAC17F958D2ee523a2206206994597C13D831ec7",
	"0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
};

/* "0x" kept lowercase, the 40 digits changed by f. */
static void recase(char *dst, const char *src, int (*f)(int))
{
	size_t i;

	strcpy(dst, src);
	for (i = 2; dst[i]; i++)
		dst[i] = (char)f((unsigned char)dst[i]);
}

static void test_valid(void **state)
{
	uint8_t addr[EIP55_ADDR_LEN], again[EIP55_ADDR_LEN];
	char out[EIP55_BUFSZ], form[EIP55_BUFSZ];
	size_t i;
	int cs;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		assert_int_equal(eip55_parse(valid[i], addr, &cs), EIP55_OK);
		assert_int_equal(cs, 1);
		eip55_format(addr, out);
		assert_string_equal(out, valid[i]);

		/* single-case forms: same address, no checksum claimed */
		recase(form, valid[i], tolower);
		assert_int_equal(eip55_parse(form, again, &cs), EIP55_OK);
		assert_int_equal(cs, 0);
		assert_memory_equal(addr, again, EIP55_ADDR_LEN);
		recase(form, valid[i], toupper);
		assert_int_equal(eip55_parse(form, again, &cs), EIP55_OK);
		assert_int_equal(cs, 0);
		assert_memory_equal(addr, again, EIP55_ADDR_LEN);
	}
}

static void test_single_case_vectors(void **state)
{
	uint8_t addr[EIP55_ADDR_LEN];
	char out[EIP55_BUFSZ];

	(void)state;
	assert_int_equal(eip55_parse("0x52908400098527886E0F7030069857D2E4169EE7", addr, NULL), EIP55_OK);
	eip55_format(addr, out);
	assert_string_equal(out, "0x52908400098527886E0F7030069857D2E4169EE7");
	assert_int_equal(eip55_parse("0xde709f2102306220921060314715629080e2fb77", addr, NULL), EIP55_OK);
	eip55_format(addr, out);
	assert_string_equal(out, "0xde709f2102306220921060314715629080e2fb77");
}

static void test_wrong_checksum(void **state)
{
	uint8_t addr[EIP55_ADDR_LEN];
	int cs = 7;

	(void)state;
	/* first valid vector with its 'a' at index 3 upper-cased */
	assert_int_equal(eip55_parse("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", addr, &cs), EIP55_ECHECKSUM);
	assert_int_equal(cs, 0);
	/* last letter flipped */
	assert_int_equal(eip55_check("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9adb"), EIP55_ECHECKSUM);
	assert_int_equal(eip55_check("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"), EIP55_OK);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"0x",
		"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",
		" 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe ",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("input %zu\n", i);
		assert_int_equal(eip55_check(bad[i]), EIP55_EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_single_case_vectors),
		cmocka_unit_test(test_wrong_checksum),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
