/* The verifier's decision over parsed receipts: every failure reason, the
 * summing rule, and depth counted against the finalized block or below head;
 * then verify_tx through the real RPC client against a fake node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evm/eip55.h"
#include "evm/verify.h"

#define TOKEN  "0x55d398326f99059ff775485246999027b3197955"
#define OTHER  "0x8ac76a51cc950d9822d68b83fe1ad97b32cd580d"
#define ESCROW "0x00000000000000000000000000000000000e5c20"
#define BUYER  "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
#define TRANSFER_T "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
#define APPROVAL_T "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
#define PAD "0x000000000000000000000000"
#define TXHASH "0x1111111111111111111111111111111111111111111111111111111111111111"
#define TXHASH2 "0x2222222222222222222222222222222222222222222222222222222222222222"
#define TXHASH_LAST "0x1111111111111111111111111111111111111111111111111111111111111112"

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

/* A receipt of transaction `hash` sent by `from`; the caller frees the text. */
static char *receipt_text(const char *hash, const char *status, const char *block, const char *from,
                          const char *to, const char *logs)
{
	char *buf;

	assert_true(asprintf(&buf, "{\"transactionHash\":\"%s\",\"status\":\"%s\",\"blockNumber\":\"%s\","
	                     "\"from\":\"%s\",\"to\":\"%s\",\"logs\":[%s]}", hash, status, block, from, to,
	                     logs) > 0);
	return buf;
}

static json_object *receipt_from(const char *status, const char *block, const char *from, const char *to,
                                 const char *logs)
{
	char *buf = receipt_text(TXHASH, status, block, from, to, logs);
	json_object *o = json_tokener_parse(buf);

	free(buf);
	assert_non_null(o);
	return o;
}

static json_object *receipt(const char *status, const char *block, const char *to, const char *logs)
{
	return receipt_from(status, block, BUYER, to, logs);
}

/* 12.5 tokens at 18 decimals = 0xad78ebc5ac620000 */
#define V12_5 "000000000000000000000000000000000000000000000000ad78ebc5ac620000"
#define V6_25 "00000000000000000000000000000000000000000000000056bc75e2d6310000"
#define V12   "000000000000000000000000000000000000000000000000a688906bd8b00000"

static struct config cfg;

static void expect(struct verify_expect *x, bool with_sender)
{
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
	assert_true(out.final);     /* the call went to our token, in a final block */

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

/* A payout is exactly its amount: more is refused too, from the expected sender only. */
static void test_payout_exact(void **state)
{
	char a[512], b[512], logs[1100];
	struct verify_expect x;
	struct verify_result out;
	char err[128];
	json_object *r;

	(void)state;
	expect(&x, true);
	x.exact = true;
	log_json(a, sizeof(a), TOKEN, BUYER, ESCROW, V12_5, 0);
	r = receipt("0x1", "0x64", TOKEN, a);
	assert_int_equal(verify_parse_receipt(r, &parsed, err, sizeof(err)), 0);
	json_object_put(r);
	verify_decide(&x, &parsed, 200, true, 150, &out);
	assert_int_equal(out.verdict, VERIFY_CONFIRMED);
	/* Two halves and a third: 18.75 where 12.5 is expected. */
	log_json(b, sizeof(b), TOKEN, BUYER, ESCROW, V6_25, 0);
	snprintf(logs, sizeof(logs), "%s,%s", a, b);
	r = receipt("0x1", "0x64", TOKEN, logs);
	assert_int_equal(verify_parse_receipt(r, &parsed, err, sizeof(err)), 0);
	json_object_put(r);
	verify_decide(&x, &parsed, 200, true, 150, &out);
	assert_int_equal(out.verdict, VERIFY_FAILED);
	assert_int_equal(out.reason, VR_AMOUNT_OVER);
	assert_string_equal(verify_reason_name(out.reason), "amount_over");
	assert_non_null(strstr(out.message, "exactly 12.5"));
	/* Not final yet and too much: refused at once, never pending. */
	verify_decide(&x, &parsed, 100, true, 0, &out);
	assert_int_equal(out.reason, VR_AMOUNT_OVER);
	/* The same receipt without exact is fine. */
	x.exact = false;
	verify_decide(&x, &parsed, 200, true, 150, &out);
	assert_int_equal(out.verdict, VERIFY_CONFIRMED);
}

static void test_parse_refusals(void **state)
{
#define H "\"transactionHash\":\"" TXHASH "\","
	static const char *const bad[] = {
		"[]",
		"{" H "\"status\":\"0x2\",\"blockNumber\":\"0x1\",\"logs\":[]}",
		"{" H "\"status\":\"0x1\",\"blockNumber\":\"1\",\"logs\":[]}",
		"{" H "\"status\":\"0x1\",\"blockNumber\":\"0x1\"}",
		"{" H "\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"to\":\"0x12\",\"logs\":[]}",
		"{" H "\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"from\":\"0x12\",\"logs\":[]}",
		"{" H "\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"logs\":[{\"topics\":[]}]}",
		"{" H "\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"logs\":[7]}",
		/* Without the hash it answers for, a receipt cannot be matched to the question. */
		"{\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"logs\":[]}",
		"{\"transactionHash\":null,\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"logs\":[]}",
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
	    "{" H "\"status\":\"0x1\",\"blockNumber\":\"0x1\",\"to\":null,\"logs\":["
	    "{\"address\":\"" TOKEN "\",\"topics\":[\"" APPROVAL_T "\"],\"data\":\"0x\"},"
	    "{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T "\",\"" PAD "70997970c51812dc3a010c7d01b50e0d17dc79c8\","
	    "\"" PAD "00000000000000000000000000000000000e5c20\",\"0x01\"],\"data\":\"0x\"}]}");
	assert_int_equal(verify_parse_receipt(o, &parsed, err, sizeof(err)), 0);
	assert_int_equal(parsed.n_logs, 0);
	assert_false(parsed.has_to);
	json_object_put(o);
#undef H
}

static void test_expectation(void **state)
{
	struct verify_expect x;
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


/* A revert is final only in a final block: a reorganisation may yet put the
 * transaction in another block, where it succeeds. */
static void test_revert_waits_for_finality(void **state)
{
	struct verify_expect x;
	struct verify_result out;
	char err[128];
	json_object *r;

	(void)state;
	/* Block 100 (0x64), finalized 99: pending, nothing final. */
	decide("0x0", "", 101, true, 99, true, &out);
	assert_int_equal(out.verdict, VERIFY_PENDING);
	assert_int_equal(out.reason, VR_REVERTED);
	assert_false(out.final);
	/* No finalized block: 3 below head are needed, as for a transfer. */
	decide("0x0", "", 102, false, 0, true, &out);
	assert_int_equal(out.verdict, VERIFY_PENDING);
	decide("0x0", "", 103, false, 0, true, &out);
	assert_int_equal(out.verdict, VERIFY_FAILED);
	assert_true(out.final);
	/* Final, but sent from another wallet than the payment's: says nothing about it. */
	expect(&x, true);
	r = receipt_from("0x0", "0x64", ESCROW, TOKEN, "");
	assert_int_equal(verify_parse_receipt(r, &parsed, err, sizeof(err)), 0);
	json_object_put(r);
	verify_decide(&x, &parsed, 200, true, 150, &out);
	assert_int_equal(out.verdict, VERIFY_FAILED);
	assert_int_equal(out.reason, VR_REVERTED);
	assert_false(out.final);
}

/* Appends n copies of an Approval log (another event of the token) and a comma to *buf. */
static void approvals(char **buf, size_t *len, size_t n)
{
	static const char one[] = "{\"address\":\"" TOKEN "\",\"topics\":[\"" APPROVAL_T "\",\"" PAD
	                          "70997970c51812dc3a010c7d01b50e0d17dc79c8\",\"" PAD
	                          "00000000000000000000000000000000000e5c20\"],\"data\":\"0x" V12 "\","
	                          "\"blockNumber\":\"0x64\",\"transactionHash\":\"" TXHASH "\",\"logIndex\":\"0x0\","
	                          "\"removed\":false},";

	*buf = realloc(*buf, *len + n * (sizeof(one) - 1) + 1);
	assert_non_null(*buf);
	for (size_t i = 0; i < n; i++) {
		memcpy(*buf + *len, one, sizeof(one) - 1);
		*len += sizeof(one) - 1;
	}
	(*buf)[*len] = '\0';
}

/* `n_other` Approval logs, then one Transfer of 12.5 to the escrow: a payment
 * inside a batch. The caller frees the text. */
static char *batch_logs(size_t n_other)
{
	char l[512], *buf = NULL;
	size_t len = 0;

	approvals(&buf, &len, n_other);
	log_json(l, sizeof(l), TOKEN, BUYER, ESCROW, V12_5, 0);
	buf = realloc(buf, len + strlen(l) + 1);
	assert_non_null(buf);
	memcpy(buf + len, l, strlen(l) + 1);
	return buf;
}

/* The log cap counts Transfers only: other events in the same transaction do not refuse it. */
static void test_cap_counts_transfers_only(void **state)
{
	struct verify_expect x;
	struct verify_result out;
	char err[128], l[512], *logs = batch_logs(VERIFY_MAX_LOGS + 100), *text;
	json_object *r;

	(void)state;
	expect(&x, true);
	r = receipt("0x1", "0x64", TOKEN, logs);
	assert_int_equal(verify_parse_receipt(r, &parsed, err, sizeof(err)), 0);
	json_object_put(r);
	assert_int_equal(parsed.n_logs, 1);
	verify_decide(&x, &parsed, 200, true, 150, &out);
	assert_int_equal(out.verdict, VERIFY_CONFIRMED);
	free(logs);
	/* More Transfers than the cap are still refused. */
	log_json(l, sizeof(l), TOKEN, BUYER, ESCROW, V12_5, 0);
	size_t n = VERIFY_MAX_LOGS + 1, len = strlen(l) + 1;
	logs = malloc(n * len);
	assert_non_null(logs);
	for (size_t i = 0; i < n; i++)
		snprintf(logs + i * len, len + 1, "%s%s", l, i + 1 < n ? "," : "");
	text = receipt_text(TXHASH, "0x1", "0x64", BUYER, TOKEN, logs);
	r = json_tokener_parse(text);
	assert_non_null(r);
	assert_int_equal(verify_parse_receipt(r, &parsed, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Transfer logs"));
	json_object_put(r);
	free(text);
	free(logs);
}

/* eth_getLogs entries as a misbehaving node may write them: a null or a
 * wrong type anywhere is skipped, never decoded. */
static void test_found_log_fields(void **state)
{
	static const char *const skipped[] = {
		"null",
		"7",
		"{\"address\":null,\"topics\":[\"" TRANSFER_T "\",\"" PAD "70997970c51812dc3a010c7d01b50e0d17dc79c8\",\"" PAD "00000000000000000000000000000000000e5c20\"],\"data\":\"0x" V12_5 "\",\"transactionHash\":\"" TXHASH "\",\"blockNumber\":\"0x64\"}",
		"{\"address\":\"" TOKEN "\",\"topics\":null,\"data\":\"0x" V12_5 "\",\"transactionHash\":\"" TXHASH "\",\"blockNumber\":\"0x64\"}",
		"{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T "\",null,\"" PAD "00000000000000000000000000000000000e5c20\"],\"data\":\"0x" V12_5 "\",\"transactionHash\":\"" TXHASH "\",\"blockNumber\":\"0x64\"}",
		"{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T "\",\"" PAD "70997970c51812dc3a010c7d01b50e0d17dc79c8\",\"" PAD "00000000000000000000000000000000000e5c20\"],\"data\":null,\"transactionHash\":\"" TXHASH "\",\"blockNumber\":\"0x64\"}",
		"{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T "\",\"" PAD "70997970c51812dc3a010c7d01b50e0d17dc79c8\",\"" PAD "00000000000000000000000000000000000e5c20\"],\"data\":\"0x" V12_5 "\",\"transactionHash\":null,\"blockNumber\":\"0x64\"}",
		"{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T "\",\"" PAD "70997970c51812dc3a010c7d01b50e0d17dc79c8\",\"" PAD "00000000000000000000000000000000000e5c20\"],\"data\":\"0x" V12_5 "\",\"transactionHash\":7,\"blockNumber\":\"0x64\"}",
		"{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T "\",\"" PAD "70997970c51812dc3a010c7d01b50e0d17dc79c8\",\"" PAD "00000000000000000000000000000000000e5c20\"],\"data\":\"0x" V12_5 "\",\"transactionHash\":\"" TXHASH "\",\"blockNumber\":null}",
		"{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T "\",\"" PAD "70997970c51812dc3a010c7d01b50e0d17dc79c8\",\"" PAD "00000000000000000000000000000000000e5c20\"],\"data\":\"0x" V12_5 "\",\"transactionHash\":\"" TXHASH "\",\"blockNumber\":\"0x64\",\"removed\":true}",
		"{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T "\",\"" PAD "70997970c51812dc3a010c7d01b50e0d17dc79c8\",\"" PAD "00000000000000000000000000000000000e5c20\"],\"data\":\"0x" V12_5 "\",\"transactionHash\":\"" TXHASH "\",\"blockNumber\":\"0x64\",\"removed\":\"yes\"}",
	};
	const char *good = "{\"address\":\"" TOKEN "\",\"topics\":[\"" TRANSFER_T "\",\"" PAD
	                   "70997970c51812dc3a010c7d01b50e0d17dc79c8\",\"" PAD
	                   "00000000000000000000000000000000000e5c20\"],\"data\":\"0x" V12_5 "\","
	                   "\"transactionHash\":\"" TXHASH "\",\"blockNumber\":\"0x64\",\"removed\":false}";
	struct verify_log l;
	char hash[RPC_HASH_BUFSZ];
	uint64_t block = 0;
	json_object *o;

	(void)state;
	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
		o = json_tokener_parse(skipped[i]);
		assert_int_equal(verify_parse_found_log(o, &l, hash, &block), 0);
		json_object_put(o);
	}
	o = json_tokener_parse(good);
	assert_int_equal(verify_parse_found_log(o, &l, hash, &block), 1);
	assert_string_equal(hash, TXHASH);
	assert_int_equal(block, 100);
	assert_int_equal(l.value[24], 0xad);
	json_object_put(o);
}

/*
 * A fake node: a child process answering JSON-RPC over HTTP on a loopback
 * port with one canned answer per method, so verify_tx runs through the real
 * client (curl, answer size limits, id checks) without a chain.
 */
struct canned {
	const char *method;
	const char *answer;     /* the members after "id", e.g. "\"result\":\"0x38\"" */
};

static pid_t node_pid;

static void node_answer(int fd, const char *body, const struct canned *c)
{
	json_object *rq = json_tokener_parse(body), *m = NULL, *id = NULL;
	const char *a = "\"error\":{\"code\":-32601,\"message\":\"method not found\"}";
	char *out;
	int n;

	json_object_object_get_ex(rq, "method", &m);
	json_object_object_get_ex(rq, "id", &id);
	for (; c->method; c++)
		if (m && strcmp(c->method, json_object_get_string(m)) == 0)
			a = c->answer;
	n = asprintf(&out, "{\"jsonrpc\":\"2.0\",\"id\":%lld,%s}", (long long)json_object_get_int64(id), a);
	dprintf(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
	        "Connection: close\r\n\r\n", n);
	for (int off = 0; off < n;) {
		ssize_t w = write(fd, out + off, (size_t)(n - off));
		if (w <= 0)
			break;
		off += (int)w;
	}
	free(out);
	json_object_put(rq);
}

static void node_serve(int s, const struct canned *c)
{
	static char rq[1 << 16];

	for (;;) {
		int fd = accept(s, NULL, NULL);
		size_t got = 0;
		if (fd < 0)
			_exit(1);
		for (;;) {
			ssize_t r = read(fd, rq + got, sizeof(rq) - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			rq[got] = '\0';
			char *end = strstr(rq, "\r\n\r\n"), *cl = strcasestr(rq, "Content-Length:");
			if (end && cl && got >= (size_t)(end + 4 - rq) + strtoul(cl + 15, NULL, 10)) {
				node_answer(fd, end + 4, c);
				break;
			}
		}
		close(fd);
	}
}

/* Starts the fake node and points cfg's bsc network at it. */
static void node_start(const struct canned *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 16), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	snprintf(cfg.networks[0].rpc_urls[0], sizeof(cfg.networks[0].rpc_urls[0]), "http://127.0.0.1:%d/",
	         ntohs(a.sin_port));
	cfg.networks[0].n_rpc = 1;
	cfg.rpc_timeout_ms = 5000;
	cfg.rpc_connect_timeout_ms = 1000;
	node_pid = fork();
	assert_true(node_pid >= 0);
	if (node_pid == 0)
		node_serve(s, c);
	close(s);
}

static void node_stop(void)
{
	kill(node_pid, SIGKILL);
	waitpid(node_pid, NULL, 0);
}

/* verify_tx of TXHASH against a fake node whose receipt answer is `receipt_answer`. */
static enum verify_verdict verify_against(const char *receipt_answer, struct verify_result *out)
{
	const struct canned c[] = {
		{ "eth_chainId", "\"result\":\"0x38\"" },
		{ "eth_blockNumber", "\"result\":\"0xc8\"" },
		{ "eth_getBlockByNumber", "\"result\":{\"number\":\"0x96\"}" },
		{ "eth_getTransactionReceipt", receipt_answer },
		{ "eth_getTransactionByHash", "\"result\":null" },
		{ NULL, NULL },
	};
	struct verify_expect x;
	struct rpc_client rc;
	struct rpc_error e;

	expect(&x, true);
	node_start(c);
	assert_int_equal(rpc_client_init(&rc, &cfg, "bsc", &e), RPC_OK);
	verify_tx(&rc, &x, TXHASH, out);
	node_stop();
	return out->verdict;
}

/* A node on another chain (a testnet at the same URL, say) is never asked about a payment. */
static void test_node_on_another_chain(void **state)
{
	const struct canned c[] = {
		{ "eth_chainId", "\"result\":\"0x61\"" },
		{ "eth_blockNumber", "\"result\":\"0xc8\"" },
		{ "eth_getTransactionReceipt", "\"result\":null" },
		{ NULL, NULL },
	};
	struct verify_expect x;
	struct verify_result out;
	struct rpc_client rc;
	struct rpc_error e;

	(void)state;
	expect(&x, true);
	node_start(c);
	assert_int_equal(rpc_client_init(&rc, &cfg, "bsc", &e), RPC_OK);
	verify_tx(&rc, &x, TXHASH, &out);
	node_stop();
	assert_int_equal(out.verdict, VERIFY_ERROR);
	assert_int_equal(out.rpc.kind, RPC_EUNAVAILABLE);
	assert_non_null(strstr(out.rpc.message, "serves another chain"));
}

static char *result_of(char *receipt_json)
{
	char *a;

	assert_true(asprintf(&a, "\"result\":%s", receipt_json) > 0);
	free(receipt_json);
	return a;
}

static void test_node_answers(void **state)
{
	struct verify_result out;
	char l[512], *a;

	(void)state;
	log_json(l, sizeof(l), TOKEN, BUYER, ESCROW, V12_5, 0);
	a = result_of(receipt_text(TXHASH, "0x1", "0x64", BUYER, TOKEN, l));
	assert_int_equal(verify_against(a, &out), VERIFY_CONFIRMED);
	free(a);
	/* The node answers with the receipt of another transaction. */
	a = result_of(receipt_text(TXHASH2, "0x1", "0x64", BUYER, TOKEN, l));
	assert_int_equal(verify_against(a, &out), VERIFY_ERROR);
	assert_int_equal(out.rpc.kind, RPC_EBADANSWER);
	assert_non_null(strstr(out.message, "another transaction"));
	free(a);
	/* …even one whose hash differs from ours only in its last digit. */
	a = result_of(receipt_text(TXHASH_LAST, "0x1", "0x64", BUYER, TOKEN, l));
	assert_int_equal(verify_against(a, &out), VERIFY_ERROR);
	assert_non_null(strstr(out.message, "another transaction"));
	free(a);
	/* A node's error text stays in the logs: the message (for clients) has the code only. */
	assert_int_equal(verify_against("\"error\":{\"code\":-32000,\"message\":\"geth at 10.0.3.7: /srv/geth/chaindata corrupt\"}",
	                                &out), VERIFY_ERROR);
	assert_int_equal(out.rpc.kind, RPC_EREMOTE);
	assert_null(strstr(out.message, "10.0.3.7"));
	assert_null(strstr(out.message, "/srv"));
	assert_non_null(strstr(out.message, "-32000"));
}

/* A receipt over 1 MiB (a payment among thousands of other events) is read. */
static void test_node_large_receipt(void **state)
{
	struct verify_result out;
	char *logs = batch_logs(5000), *a;

	(void)state;
	a = result_of(receipt_text(TXHASH, "0x1", "0x64", BUYER, TOKEN, logs));
	free(logs);
	assert_true(strlen(a) > (1u << 20) + (1u << 19));
	assert_int_equal(verify_against(a, &out), VERIFY_CONFIRMED);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confirmed_and_depth),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_summing),
		cmocka_unit_test(test_payout_exact),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_expectation),
		cmocka_unit_test(test_result_json),
		cmocka_unit_test(test_revert_waits_for_finality),
		cmocka_unit_test(test_cap_counts_transfers_only),
		cmocka_unit_test(test_found_log_fields),
		cmocka_unit_test(test_node_answers),
		cmocka_unit_test(test_node_on_another_chain),
		cmocka_unit_test(test_node_large_receipt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
