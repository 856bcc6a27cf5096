/* The verifier's decision over parsed receipts: every failure reason, the
 * summing rule, and depth counted against the finalized block or below head. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "eip55.h"
#include "verify.h"

#define TOKEN  "0x55d398326f99059ff775485246999027b3197955"
#define OTHER  "0x8ac76a51cc950d9822d68b83fe1ad97b32cd580d"
#define ESCROW "0x00000000000000000000000000000000000e5c20"
#define BUYER  "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
#define TRANSFER_T "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
#define PAD "0x000000000000000000000000"

static struct verify_receipt parsed;

/* A Transfer log of `value` (64 hex digits) from contract, buyer -> to. */
static void log_json(char *out, size_t len, const char *contract, const char *from, const char *to,
                     const char *value, int removed)
{
	snprintf(out, len,
	         "{\"address\":\"%s\",\"topics\":[\"" TRANSFER_T "\",\"" PAD "%s\",\"" PAD "%s\"],"
	         "\"data\":\"0x%s\",\"logIndex\":\"0x0\",\"removed\":%s}",
	         contract, from + 2, to + 2, value, removed ? "true" : "false");
}

static json_object *receipt(const char *status, const char *block, const char *to, const char *logs)
{
	char buf[8192];

	snprintf(buf, sizeof(buf), "{\"status\":\"%s\",\"blockNumber\":\"%s\",\"to\":\"%s\",\"logs\":[%s]}",
	         status, block, to, logs);
	json_object *o = json_tokener_parse(buf);
	assert_non_null(o);
	return o;
}

/* 12.5 tokens at 18 decimals = 0xad78ebc5ac620000 */
#define V12_5 "000000000000000000000000000000000000000000000000ad78ebc5ac620000"
#define V6_25 "00000000000000000000000000000000000000000000000056bc75e2d6310000"
#define V12   "000000000000000000000000000000000000000000000000a688906bd8b00000"

static void expect(struct verify_expect *x, bool with_sender)
{
	static struct config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_networks = 1;
	strcpy(cfg.networks[0].name, "bsc");
	cfg.networks[0].chain_id = 56;
	cfg.networks[0].confirmations = 3;
	cfg.n_tokens = 1;
	strcpy(cfg.tokens[0].network, "bsc");
	strcpy(cfg.tokens[0].symbol, "USDT");
	strcpy(cfg.tokens[0].contract, "0x55d398326f99059fF775485246999027B3197955");
	cfg.tokens[0].decimals = 18;
	char err[128];
	assert_int_equal(verify_expect_init(x, &cfg, "bsc", TOKEN, ESCROW, "12.5", with_sender ? BUYER : NULL,
	                                    err, sizeof(err)), 0);
}

static void decide(const char *status, const char *logs, uint64_t head, bool has_fin, uint64_t fin,
                   bool with_sender, struct verify_result *out)
{
	struct verify_expect x;
	char err[128];
	json_object *r = receipt(status, "0x64", TOKEN, logs);

	expect(&x, with_sender);
	assert_int_equal(verify_parse_receipt(r, &parsed, err, sizeof(err)), 0);
	json_object_put(r);
	verify_decide(&x, &parsed, head, has_fin, fin, out);
}

static void test_confirmed_and_depth(void **state)
{
	char l[512];
	struct verify_result out;

	(void)state;
	log_json(l, sizeof(l), TOKEN, BUYER, ESCROW, V12_5, 0);
	/* Block 100; finalized 99: pending, with the depth so far. */
	decide("0x1", l, 101, true, 99, false, &out);
	assert_int_equal(out.verdict, VERIFY_PENDING);
	assert_int_equal(out.reason, VR_NOT_DEEP);
	assert_int_equal(out.confirmations, 1);
	/* Finalized reaches the block: confirmed, whatever the depth setting. */
	decide("0x1", l, 102, true, 100, false, &out);
	assert_int_equal(out.verdict, VERIFY_CONFIRMED);
	assert_int_equal(out.block_number, 100);
	/* No finalized block: 3 blocks below head are needed. */
	decide("0x1", l, 102, false, 0, false, &out);
	assert_int_equal(out.verdict, VERIFY_PENDING);
	assert_int_equal(out.required, 3);
	decide("0x1", l, 103, false, 0, true, &out);
	assert_int_equal(out.verdict, VERIFY_CONFIRMED);
	/* A node behind the one that gave the receipt: depth 0, not an underflow. */
	decide("0x1", l, 90, false, 0, false, &out);
	assert_int_equal(out.verdict, VERIFY_PENDING);
	assert_int_equal(out.confirmations, 0);
}

static void test_failures(void **state)
{
	char l[512], l2[1100];
	struct verify_result out;

	(void)state;
	log_json(l, sizeof(l), TOKEN, BUYER, ESCROW, V12_5, 0);
	decide("0x0", "", 200, true, 150, false, &out);
	assert_int_equal(out.verdict, VERIFY_FAILED);
	assert_int_equal(out.reason, VR_REVERTED);
	assert_true(out.final);     /* the call went to our token */

	decide("0x1", "", 200, true, 150, false, &out);
	assert_int_equal(out.reason, VR_NO_TRANSFER);
	assert_false(out.final);

	log_json(l, sizeof(l), OTHER, BUYER, ESCROW, V12_5, 0);
	decide("0x1", l, 200, true, 150, false, &out);
	assert_int_equal(out.reason, VR_WRONG_TOKEN);

	log_json(l, sizeof(l), TOKEN, BUYER, BUYER, V12_5, 0);
	decide("0x1", l, 200, true, 150, false, &out);
	assert_int_equal(out.reason, VR_WRONG_RECIPIENT);

	log_json(l, sizeof(l), TOKEN, BUYER, ESCROW, V12, 0);
	decide("0x1", l, 200, true, 150, false, &out);
	assert_int_equal(out.reason, VR_AMOUNT_SHORT);
	assert_non_null(strstr(out.message, "12.5"));

	/* From another wallet than the payment's. */
	log_json(l, sizeof(l), TOKEN, ESCROW, ESCROW, V12_5, 0);
	decide("0x1", l, 200, true, 150, true, &out);
	assert_int_equal(out.reason, VR_WRONG_SENDER);

	/* A removed log (reorganised away) does not count. */
	log_json(l, sizeof(l), TOKEN, BUYER, ESCROW, V12_5, 1);
	decide("0x1", l, 200, true, 150, false, &out);
	assert_int_equal(out.reason, VR_NO_TRANSFER);

	/* Failures are failures before depth: a wrong transfer never becomes pending. */
	log_json(l, sizeof(l), TOKEN, BUYER, BUYER, V12_5, 0);
	snprintf(l2, sizeof(l2), "%s", l);
	decide("0x1", l2, 100, true, 0, false, &out);
	assert_int_equal(out.verdict, VERIFY_FAILED);
}

static void test_summing(void **state)
{
	char a[512], b[512], c[512], logs[1600];
	struct verify_result out;

	(void)state;
	/* Two halves to the escrow add up. */
	log_json(a, sizeof(a), TOKEN, BUYER, ESCROW, V6_25, 0);
	snprintf(logs, sizeof(logs), "%s,%s", a, a);
	decide("0x1", logs, 200, true, 150, false, &out);
	assert_int_equal(out.verdict, VERIFY_CONFIRMED);
	/* Half to the escrow and half elsewhere does not. */
	log_json(b, sizeof(b), TOKEN, BUYER, BUYER, V6_25, 0);
	snprintf(logs, sizeof(logs), "%s,%s", a, b);
	decide("0x1", logs, 200, true, 150, false, &out);
	assert_int_equal(out.reason, VR_AMOUNT_SHORT);
	/* Nor does half from another token. */
	log_json(c, sizeof(c), OTHER, BUYER, ESCROW, V6_25, 0);
	snprintf(logs, sizeof(logs), "%s,%s", a, c);
	decide("0x1", logs, 200, true, 150, false, &out);
	assert_int_equal(out.reason, VR_AMOUNT_SHORT);
	/* More than expected is fine. */
	snprintf(logs, sizeof(logs), "%s,%s,%s", a, a, a);
	decide("0x1", logs, 200, true, 150, false, &out);
	assert_int_equal(out.verdict, VERIFY_CONFIRMED);
}

static void test_parse_refusals(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"status\":\"0x2\",\"blockNumber\":\"0x1\",\"logs\":[]}",
		"{\"status\":\"0x1\",\"blockNumber\":\"1\",\"logs\":[]}",
		"{\"status\":\"0x1\",\"blockNumber\":\"0x1\"}",
		"{\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"to\":\"0x12\",\"logs\":[]}",
		"{\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"logs\":[{\"topics\":[]}]}",
		"{\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"logs\":[7]}",
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o = json_tokener_parse(bad[i]);
		assert_int_equal(verify_parse_receipt(o, &parsed, err, sizeof(err)), -1);
		json_object_put(o);
	}
	/* Other events and ERC-721-shaped Transfers are skipped, not errors. */
	json_object *o = json_tokener_parse(
	    "{\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"to\":null,\"logs\":["
	    "{\"address\":\"" TOKEN "\",\"topics\":[\"0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925\"],\"data\":\"0x\"},"
	    "{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T "\",\"" PAD "70997970c51812dc3a010c7d01b50e0d17dc79c8\","
	    "\"" PAD "00000000000000000000000000000000000e5c20\",\"0x01\"],\"data\":\"0x\"}]}");
	assert_int_equal(verify_parse_receipt(o, &parsed, err, sizeof(err)), 0);
	assert_int_equal(parsed.n_logs, 0);
	assert_false(parsed.has_to);
	json_object_put(o);
}

static void test_expectation(void **state)
{
	struct verify_expect x;
	static struct config cfg;
	char err[128];

	(void)state;
	expect(&x, false);
	/* 12.5 * 10^18 as a big-endian word */
	assert_int_equal(x.min_amount[24], 0xad);
	assert_int_equal(x.min_amount[31], 0x00);
	assert_int_equal(x.chain_id, 56);
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_networks = 1;
	strcpy(cfg.networks[0].name, "bsc");
	assert_int_equal(verify_expect_init(&x, &cfg, "bsc", TOKEN, ESCROW, "1", NULL, err, sizeof(err)), -1);
	assert_int_equal(verify_expect_init(&x, &cfg, "ethereum", TOKEN, ESCROW, "1", NULL, err, sizeof(err)), -1);
}

static void test_result_json(void **state)
{
	char l[512];
	struct verify_result out;

	(void)state;
	log_json(l, sizeof(l), TOKEN, BUYER, ESCROW, V12_5, 0);
	decide("0x1", l, 102, true, 100, false, &out);
	json_object *j = verify_result_json(&out, 18);
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	assert_non_null(strstr(s, "\"status\":\"confirmed\""));
	assert_non_null(strstr(s, "\"amountReceivedBaseUnits\":\"12500000000000000000\""));
	assert_non_null(strstr(s, "\"amountReceived\":\"12.5\""));
	json_object_put(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confirmed_and_depth),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_summing),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_expectation),
		cmocka_unit_test(test_result_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
