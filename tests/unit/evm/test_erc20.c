/* ERC-20 calldata and Transfer log decoding, with the byte layouts checked
 * against hand-assembled strings and every malformed variant refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/hex.h"
#include "evm/eip55.h"
#include "evm/erc20.h"

#define FROM_T "0x0000000000000000000000005aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
#define TO_T   "0x000000000000000000000000fb6916095ca1df60bb79ce92ce3ea74c37c5d359"
/* 12.5 * 10^18 */
#define VALUE  "0x000000000000000000000000000000000000000000000000ad78ebc5ac620000"
#define TOKEN  "0x55d398326f99059ff775485246999027b3197955"

static void test_transfer_calldata(void **state)
{
	uint8_t to[20], amount[32] = { 0 }, cd[ERC20_TRANSFER_CALLDATA_LEN];
	uint8_t to2[20], amount2[32];
	char hex[HEX_BUFSZ(ERC20_TRANSFER_CALLDATA_LEN)];

	(void)state;
	memset(to, 0x35, sizeof(to));
	amount[29] = 0xbe; /* 12.5 USDT at 6 decimals = 12500000 = 0xbebc20 */
	amount[30] = 0xbc;
	amount[31] = 0x20;
	erc20_transfer_calldata(to, amount, cd);
	hex_encode(cd, sizeof(cd), hex, sizeof(hex));
	assert_string_equal(hex,
	    "a9059cbb"
	    "0000000000000000000000003535353535353535353535353535353535353535"
	    "0000000000000000000000000000000000000000000000000000000000bebc20");

	assert_int_equal(erc20_parse_transfer_calldata(cd, sizeof(cd), to2, amount2), ERC20_OK);
	assert_memory_equal(to, to2, 20);
	assert_memory_equal(amount, amount2, 32);
	assert_int_equal(erc20_parse_transfer_calldata(cd, sizeof(cd) - 1, to2, amount2), ERC20_EINVAL);
	assert_int_equal(erc20_parse_transfer_calldata(cd, 3, to2, amount2), ERC20_ENOMATCH);
	cd[4 + 11] = 1;
	assert_int_equal(erc20_parse_transfer_calldata(cd, sizeof(cd), to2, amount2), ERC20_EPADDING);
	cd[4 + 11] = 0;
	cd[0] = 0x70;
	assert_int_equal(erc20_parse_transfer_calldata(cd, sizeof(cd), to2, amount2), ERC20_ENOMATCH);
}

static void test_other_calldata(void **state)
{
	uint8_t owner[20], cd[ERC20_BALANCE_OF_CALLDATA_LEN];
	char hex[HEX_BUFSZ(ERC20_BALANCE_OF_CALLDATA_LEN)], topic[ERC20_TOPIC_BUFSZ];

	(void)state;
	erc20_decimals_calldata(cd);
	hex_encode(cd, ERC20_DECIMALS_CALLDATA_LEN, hex, sizeof(hex));
	assert_string_equal(hex, "313ce567");
	assert_int_equal(eip55_parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", owner, NULL), EIP55_OK);
	erc20_balance_of_calldata(owner, cd);
	hex_encode(cd, sizeof(cd), hex, sizeof(hex));
	assert_string_equal(hex, "70a08231"
	    "0000000000000000000000005aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
	erc20_address_topic(owner, topic);
	assert_string_equal(topic, FROM_T);
}

static void test_decode_results(void **state)
{
	uint8_t w[32];
	unsigned d;

	(void)state;
	assert_int_equal(erc20_decode_decimals("0x0000000000000000000000000000000000000000000000000000000000000012", &d), ERC20_OK);
	assert_int_equal(d, 18);
	assert_int_equal(erc20_decode_decimals("0x0000000000000000000000000000000000000000000000000000000000000006", &d), ERC20_OK);
	assert_int_equal(d, 6);
	assert_int_equal(erc20_decode_decimals("0x0000000000000000000000000000000000000000000000000000000000000100", &d), ERC20_EPADDING);
	assert_int_equal(erc20_decode_decimals("0x12", &d), ERC20_EINVAL);
	assert_int_equal(erc20_decode_decimals("0x", &d), ERC20_EINVAL);
	assert_int_equal(erc20_decode_decimals("0000000000000000000000000000000000000000000000000000000000000012", &d), ERC20_EINVAL);
	assert_int_equal(erc20_decode_word(VALUE, w), ERC20_OK);
	assert_int_equal(erc20_decode_word(VALUE "00", w), ERC20_EINVAL);
}

static void test_transfer_log(void **state)
{
	const char *topics[3] = { ERC20_TRANSFER_TOPIC, FROM_T, TO_T };
	struct erc20_transfer t;
	char s[EIP55_BUFSZ], v[HEX_BUFSZ(32)];

	(void)state;
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 3, VALUE, &t), ERC20_OK);
	eip55_format(t.token, s);
	assert_string_equal(s, "0x55d398326f99059fF775485246999027B3197955");
	eip55_format(t.from, s);
	assert_string_equal(s, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
	eip55_format(t.to, s);
	assert_string_equal(s, "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359");
	hex_encode(t.value, 32, v, sizeof(v));
	assert_string_equal(v, VALUE + 2);

	/* upper-case hex digits are still the same bytes */
	topics[0] = "0xDDF252AD1BE2C89B69C2B068FC378DAA952BA7F163C4A11628F55A4DF523B3EF";
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 3, VALUE, &t), ERC20_OK);
}

static void test_transfer_log_refusals(void **state)
{
	const char *topics[4] = { ERC20_TRANSFER_TOPIC, FROM_T, TO_T, VALUE };
	struct erc20_transfer t;

	(void)state;
	/* ERC-721 Transfer: same topic0, tokenId as a fourth topic, no data */
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 4, "0x", &t), ERC20_ENOMATCH);
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 2, VALUE, &t), ERC20_ENOMATCH);
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 0, VALUE, &t), ERC20_ENOMATCH);
	/* Approval(address,address,uint256) has the same shape */
	topics[0] = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925";
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 3, VALUE, &t), ERC20_ENOMATCH);
	topics[0] = ERC20_TRANSFER_TOPIC;

	/* a non-zero byte in the padding of an address topic */
	topics[1] = "0x0000000000000000000000015aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 3, VALUE, &t), ERC20_EPADDING);
	topics[1] = FROM_T;
	topics[2] = "0x100000000000000000000000fb6916095ca1df60bb79ce92ce3ea74c37c5d359";
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 3, VALUE, &t), ERC20_EPADDING);
	assert_true(t.value[31] == 0 && t.from[19] == 0);
	topics[2] = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359";
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 3, VALUE, &t), ERC20_EINVAL);
	topics[2] = TO_T;

	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 3, "0x", &t), ERC20_EINVAL);
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 3, VALUE "00", &t), ERC20_EINVAL);
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 3, VALUE + 2, &t), ERC20_EINVAL);
	assert_int_equal(erc20_decode_transfer_log("0x55d3", topics, 3, VALUE, &t), ERC20_EINVAL);
	/* a mixed-case contract address with a wrong checksum */
	assert_int_equal(erc20_decode_transfer_log("0x55D398326f99059fF775485246999027B3197955",
	    topics, 3, VALUE, &t), ERC20_EINVAL);
	topics[1] = "0xzz00000000000000000000005aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
	assert_int_equal(erc20_decode_transfer_log(TOKEN, topics, 3, VALUE, &t), ERC20_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transfer_calldata),
		cmocka_unit_test(test_other_calldata),
		cmocka_unit_test(test_decode_results),
		cmocka_unit_test(test_transfer_log),
		cmocka_unit_test(test_transfer_log_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
