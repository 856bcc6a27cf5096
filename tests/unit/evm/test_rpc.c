/* JSON-RPC answers as nodes write them, and the ones a client must refuse:
 * wrong id, both or neither of result and error, garbage after the object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "evm/rpc.h"

static int parse(const char *body, long long id, json_object **res, struct rpc_error *e)
{
	return rpc_parse_answer(body, strlen(body), id, res, e);
}

static void test_result(void **state)
{
	json_object *res;
	struct rpc_error e;
	uint64_t v;

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"0x38\"}", 7, &res, &e), RPC_OK);
	assert_int_equal(rpc_result_u64(res, "eth_chainId", &v, &e), RPC_OK);
	assert_int_equal(v, 56);
	json_object_put(res);

	/* A null result (unknown receipt) is an answer, not an error. */
	assert_int_equal(parse("{\"id\":3,\"jsonrpc\":\"2.0\",\"result\":null}", 3, &res, &e), RPC_OK);
	assert_null(res);

	/* Quantities are strict: leading zeros and decimals are refused. */
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x01\"}", 1, &res, &e), RPC_OK);
	assert_int_equal(rpc_result_u64(res, "eth_blockNumber", &v, &e), RPC_EBADANSWER);
	json_object_put(res);
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":12}", 1, &res, &e), RPC_OK);
	assert_int_equal(rpc_result_u64(res, "eth_blockNumber", &v, &e), RPC_EBADANSWER);
	json_object_put(res);
}

static void test_error(void **state)
{
	json_object *res;
	struct rpc_error e;

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":3,\"message\":\"execution reverted\","
	                       "\"data\":\"0x08c379a0\"}}", 2, &res, &e), RPC_EREMOTE);
	assert_null(res);
	assert_int_equal(e.kind, RPC_EREMOTE);
	assert_int_equal(e.code, 3);
	assert_string_equal(e.detail, "execution reverted");
	assert_non_null(strstr(e.message, "reverted"));

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}",
	                       2, &res, &e), RPC_EREMOTE);
	assert_int_equal(e.code, -32601);
}

/* A node's error text can name its software, paths and internal hosts: the
 * message (what clients see) keeps only the code; the text is in detail. */
static void test_error_text_stays_internal(void **state)
{
	json_object *res;
	struct rpc_error e;

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32000,"
	                       "\"message\":\"geth/v1.13 at 10.0.3.7: leveldb /srv/geth/chaindata corrupt\"}}",
	                       4, &res, &e), RPC_EREMOTE);
	assert_int_equal(e.code, -32000);
	assert_null(strstr(e.message, "10.0.3.7"));
	assert_null(strstr(e.message, "/srv"));
	assert_non_null(strstr(e.message, "-32000"));
	assert_non_null(strstr(e.detail, "/srv/geth/chaindata"));
	/* Other answers leave no detail behind. */
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":\"0x1\"}", 5, &res, &e), RPC_OK);
	assert_string_equal(e.detail, "");
	json_object_put(res);
}

static void test_refusals(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"} trailing",
		"{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":\"0x1\"}",
		"{\"id\":1,\"result\":\"0x1\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"0x1\"}",          /* another request's answer */
		"{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":\"0x1\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\",\"error\":{\"code\":1,\"message\":\"x\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"message\":\"no code\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.5,\"message\":\"x\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"flat\"}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	};
	json_object *res;
	struct rpc_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		res = (json_object *)1;
		assert_int_equal(parse(bad[i], 1, &res, &e), RPC_EBADANSWER);
		assert_null(res);
		assert_true(e.message[0] != '\0');
	}
}

static void test_no_rpc_configured(void **state)
{
	static struct config cfg;
	struct rpc_client c;
	struct rpc_error e;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_networks = 1;
	strcpy(cfg.networks[0].name, "bsc");
	assert_int_equal(rpc_client_init(&c, &cfg, "bsc", &e), RPC_ENOCONF);
	assert_int_equal(rpc_client_init(&c, &cfg, "polygon", &e), RPC_ENOCONF);
}

/* A port nothing listens on: the call fails over every URL, then the breaker opens. */
static void test_unreachable_and_breaker(void **state)
{
	static struct config cfg;
	struct rpc_client c;
	struct rpc_error e;
	uint64_t id;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_networks = 1;
	strcpy(cfg.networks[0].name, "ethereum");
	cfg.networks[0].chain_id = 1;
	cfg.networks[0].n_rpc = 2;
	strcpy(cfg.networks[0].rpc_urls[0], "http://127.0.0.1:9/a-secret-key");
	strcpy(cfg.networks[0].rpc_urls[1], "http://127.0.0.1:9/another");
	cfg.rpc_timeout_ms = 500;
	cfg.rpc_connect_timeout_ms = 200;
	assert_int_equal(rpc_client_init(&c, &cfg, "ethereum", &e), RPC_OK);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(rpc_chain_id(&c, &id, &e), RPC_EUNAVAILABLE);
		/* URLs may carry API keys: messages name them by position only. */
		assert_null(strstr(e.message, "secret"));
		assert_true(e.retry_after > 0);
	}
	/* The default breaker (5 failures) is open now: answered without a call. */
	assert_int_equal(rpc_chain_id(&c, &id, &e), RPC_EUNAVAILABLE);
	assert_non_null(strstr(e.message, "paused"));
}

/* eth_getLogs filters: one recipient, a list of them (topics[2] as an array), or any recipient from one sender. */
static void test_log_filters(void **state)
{
	static const char *const deposits[] = { "0x00000000000000000000000000000000000000aa",
		                                "0x00000000000000000000000000000000000000bb" };
	const char *too_many[RPC_MAX_LOG_RECIPIENTS + 1];
	struct rpc_log_filter f = { .contract = "0x55d398326f99059fF775485246999027B3197955",
		                    .to = "0x00000000000000000000000000000000000e5c20", .from_block = 16, .to_block = 31 };
	json_object *params;
	struct rpc_error e;
	const char *t = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
	char want[600];

	(void)state;
	assert_int_equal(rpc_transfer_log_params(&f, &params, &e), RPC_OK);
	snprintf(want, sizeof(want), "[{\"fromBlock\":\"0x10\",\"toBlock\":\"0x1f\",\"address\":\"%s\","
	         "\"topics\":[\"%s\",null,\"0x00000000000000000000000000000000000000000000000000000000000e5c20\"]}]",
	         f.contract, t);
	assert_string_equal(json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), want);
	json_object_put(params);

	f.to = NULL;
	f.to_any = deposits;
	f.n_to_any = 2;
	assert_int_equal(rpc_transfer_log_params(&f, &params, &e), RPC_OK);
	json_object *topics = json_object_object_get(json_object_array_get_idx(params, 0), "topics");
	json_object *to = json_object_array_get_idx(topics, 2);
	assert_int_equal(json_object_array_length(to), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(to, 1)),
	                    "0x00000000000000000000000000000000000000000000000000000000000000bb");
	json_object_put(params);

	/* From one wallet to anyone: the escrow's outgoing transfers. */
	f.n_to_any = 0;
	f.from = "0x00000000000000000000000000000000000e5c20";
	assert_int_equal(rpc_transfer_log_params(&f, &params, &e), RPC_OK);
	topics = json_object_object_get(json_object_array_get_idx(params, 0), "topics");
	assert_int_equal(json_object_array_length(topics), 3);
	assert_null(json_object_array_get_idx(topics, 2));
	json_object_put(params);

	/* Neither sender nor recipient: every transfer of the token, which we never ask for. */
	f.from = NULL;
	assert_int_equal(rpc_transfer_log_params(&f, &params, &e), RPC_EBADANSWER);
	assert_null(params);
	/* Too many recipients at once, or one that is not an address. */
	for (size_t i = 0; i <= RPC_MAX_LOG_RECIPIENTS; i++)
		too_many[i] = deposits[0];
	f.to_any = too_many;
	f.n_to_any = RPC_MAX_LOG_RECIPIENTS + 1;
	assert_int_equal(rpc_transfer_log_params(&f, &params, &e), RPC_EBADANSWER);
	too_many[1] = "0xnot-an-address";
	f.n_to_any = 2;
	assert_int_equal(rpc_transfer_log_params(&f, &params, &e), RPC_EBADANSWER);
	assert_null(params);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_error_text_stays_internal),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_no_rpc_configured),
		cmocka_unit_test(test_unreachable_and_breaker),
		cmocka_unit_test(test_log_filters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
