/* The shape checks every outside identifier passes: each kind on its edge strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/valid.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void takes(bool (*check)(const char *), const char *name, const char *const *good, size_t n_good,
                  const char *const *bad, size_t n_bad)
{
	for (size_t i = 0; i < n_good; i++)
		if (!check(good[i]))
			fail_msg("%s refused \"%s\"", name, good[i]);
	for (size_t i = 0; i < n_bad; i++)
		if (check(bad[i]))
			fail_msg("%s took \"%s\"", name, bad[i]);
}

static void test_id(void **state)
{
	char longest[ID_MAX + 2];
	memset(longest, 'a', ID_MAX);
	longest[ID_MAX] = '\0';
	const char *good[] = { "a", "Z", "0", "_", "-", "pr-1_X", longest };
	char over[ID_MAX + 2];
	memset(over, 'a', ID_MAX + 1);
	over[ID_MAX + 1] = '\0';
	const char *bad[] = { "", over, "a b", "a.b", "a/b", "a:b", "é", "a\tb", "a\nb", "%41", "a'b", "a\"b" };

	(void)state;
	takes(valid_id, "valid_id", good, N(good), bad, N(bad));
}

static void test_uuid(void **state)
{
	const char *good[] = {
		"6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5a", "6F1C2A4E-8D0B-4C52-9A53-1F1E2D3C4B5A",
		"00000000-0000-0000-0000-000000000000",
	};
	const char *bad[] = {
		"", "6f1c2a4e8d0b4c529a531f1e2d3c4b5a",                      /* no dashes */
		"6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5",                        /* one digit short */
		"6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5a0",                      /* one digit over */
		"{6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5a}",                     /* braces */
		"6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5g",                       /* not hex */
		"6f1c2a4e-8d0b4-c52-9a53-1f1e2d3c4b5a",                       /* dash moved */
		" 6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5a",                      /* leading blank */
		"6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5a\n",                     /* trailing line break */
		"6f1c2a4e_8d0b_4c52_9a53_1f1e2d3c4b5a",
	};

	(void)state;
	takes(valid_uuid, "valid_uuid", good, N(good), bad, N(bad));
}

static void test_currency(void **state)
{
	const char *good[] = { "US", "USD", "USDT", "BNB", "USDC", "A1", "ABCDEFGHIJ" };
	const char *bad[] = { "", "U", "usd", "Usd", "ABCDEFGHIJK", "US D", "US-D", "USD\n", "ÉUR" };

	(void)state;
	takes(valid_currency, "valid_currency", good, N(good), bad, N(bad));
	takes(valid_token_symbol, "valid_token_symbol", good, N(good), bad, N(bad));
}

static void test_network(void **state)
{
	const char *good[] = { "bsc", "ethereum" };
	const char *bad[] = { "", "BSC", "Ethereum", "bsc ", "eth", "ethereum2", "tron", "bsc\n" };

	(void)state;
	takes(valid_network, "valid_network", good, N(good), bad, N(bad));
}

static void test_address_and_hash(void **state)
{
	const char *addr_good[] = {
		"0x0000000000000000000000000000000000000000", "0x55d398326f99059fF775485246999027B3197955",
		"0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
	};
	const char *addr_bad[] = {
		"", "0x", "55d398326f99059fF775485246999027B3197955ab",   /* 42 characters, no prefix */
		"0X55d398326f99059fF775485246999027B3197955",                /* upper-case prefix */
		"0x55d398326f99059fF775485246999027B319795",                 /* 39 digits */
		"0x55d398326f99059fF775485246999027B31979550",               /* 41 digits */
		"0x55d398326f99059fF775485246999027B319795g",
		"0x55d398326f99059fF775485246999027B319795 ",
		"0x6f1c2a4e8d0b4c529a531f1e2d3c4b5a6f1c2a4e8d0b4c529a531f1e2d3c4b5a", /* a hash */
	};
	const char *hash_good[] = {
		"0xab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12",
		"0xAB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12",
	};
	const char *hash_bad[] = {
		"", "0x", "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab",
		"0Xab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12",
		"0xab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab1",
		"0xab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab120",
		"0xab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab1z",
		"0x55d398326f99059fF775485246999027B3197955",               /* an address */
	};

	(void)state;
	takes(valid_address, "valid_address", addr_good, N(addr_good), addr_bad, N(addr_bad));
	takes(valid_tx_hash, "valid_tx_hash", hash_good, N(hash_good), hash_bad, N(hash_bad));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_currency),
		cmocka_unit_test(test_network),
		cmocka_unit_test(test_address_and_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
