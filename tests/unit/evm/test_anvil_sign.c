/* Our signer against a real node: transactions signed by core/ethtx (legacy
 * EIP-155 and type 2) are accepted by anvil, the hash the node reports is
 * ours, the signer we recover is the key's address, and the transactions are
 * mined successfully. Uses core/rpc for every call (nonce, gas price, gas
 * estimate, broadcast, receipt).
 *
 * Runs only with ANVIL_URL and CHAIN_SIGNER_KEY set (the e2e suite sets them
 * from the test chain, tests/chain); otherwise every test is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "base/hex.h"
#include "evm/eip55.h"
#include "evm/erc20.h"
#include "evm/ethtx.h"
#include "evm/rpc.h"
#include "evm/units.h"

static struct config cfg;
static struct rpc_client client;
static struct ethtx_ctx *ctx;
static uint8_t key[ETHTX_KEY_LEN];
static uint8_t self[ETHTX_ADDR_LEN];
static char self_hex[EIP55_BUFSZ];

static int setup(void **state)
{
	const char *url = getenv("ANVIL_URL"), *hex = getenv("CHAIN_SIGNER_KEY");
	struct rpc_error e;

	(void)state;
	if (url == NULL || hex == NULL)
		return 0;
	cfg.n_networks = 1;
	snprintf(cfg.networks[0].name, sizeof(cfg.networks[0].name), "bsc");
	cfg.networks[0].chain_id = 56;
	cfg.networks[0].n_rpc = 1;
	snprintf(cfg.networks[0].rpc_urls[0], sizeof(cfg.networks[0].rpc_urls[0]), "%s", url);
	cfg.rpc_timeout_ms = 5000;
	cfg.rpc_connect_timeout_ms = 2000;
	if (rpc_client_init(&client, &cfg, "bsc", &e) != RPC_OK || ethtx_ctx_new(&ctx) != ETHTX_OK ||
	    ethtx_key_from_hex(ctx, hex, key) != ETHTX_OK || ethtx_address_from_key(ctx, key, self) != ETHTX_OK)
		return -1;
	eip55_format(self, self_hex);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	OPENSSL_cleanse(key, sizeof(key));
	ethtx_ctx_free(ctx);
	return 0;
}

static void mine(void)
{
	json_object *res = NULL;
	struct rpc_error e;

	assert_int_equal(rpc_call(&client, "evm_mine", NULL, 0, &res, &e), RPC_OK);
	json_object_put(res);
}

/* Signs tx, checks the recovered signer, broadcasts, mines, checks the receipt. */
static void sign_send_mine(struct ethtx *tx)
{
	struct rlp_buf raw;
	uint8_t hash[ETHTX_HASH_LEN], from[ETHTX_ADDR_LEN];
	char ours[RPC_HASH_BUFSZ], theirs[RPC_HASH_BUFSZ];
	struct rpc_error e;
	json_object *receipt = NULL, *status;

	rlp_buf_init(&raw);
	assert_int_equal(ethtx_sign(ctx, tx, key, &raw, hash), ETHTX_OK);
	assert_int_equal(ethtx_recover(ctx, raw.data, raw.len, NULL, from), ETHTX_OK);
	assert_memory_equal(from, self, ETHTX_ADDR_LEN);
	hex_encode_0x(hash, sizeof(hash), ours, sizeof(ours));
	if (rpc_send_raw(&client, raw.data, raw.len, theirs, &e) != RPC_OK)
		fail_msg("eth_sendRawTransaction: %s", e.message);
	assert_string_equal(theirs, ours);
	rlp_buf_free(&raw);
	mine();
	assert_int_equal(rpc_get_receipt(&client, ours, &receipt, &e), RPC_OK);
	assert_non_null(receipt);
	assert_true(json_object_object_get_ex(receipt, "status", &status));
	assert_string_equal(json_object_get_string(status), "0x1");
	json_object_put(receipt);
}

/* A zero-amount token transfer, so the calldata path is exercised too. */
static void fill_common(struct ethtx *tx, uint8_t data[ERC20_TRANSFER_CALLDATA_LEN])
{
	const char *token = getenv("CHAIN_TOKEN_USDT");
	uint8_t to[ERC20_ADDR_LEN], amount[ERC20_WORD_LEN] = { 0 };
	struct rpc_error e;
	uint64_t nonce, gas;

	assert_non_null(token);
	assert_int_equal(eip55_parse(token, tx->to, NULL), EIP55_OK);
	memset(to, 0x42, sizeof(to));
	erc20_transfer_calldata(to, amount, data);
	tx->data = data;
	tx->data_len = ERC20_TRANSFER_CALLDATA_LEN;
	tx->chain_id = 56;
	assert_int_equal(rpc_tx_count(&client, self_hex, "pending", &nonce, &e), RPC_OK);
	tx->nonce = nonce;
	if (rpc_estimate_gas(&client, self_hex, token, data, ERC20_TRANSFER_CALLDATA_LEN, &gas, &e) != RPC_OK)
		fail_msg("eth_estimateGas: %s", e.message);
	tx->gas_limit = gas + gas / 5;
}

static void test_legacy_accepted(void **state)
{
	struct ethtx tx = { 0 };
	uint8_t data[ERC20_TRANSFER_CALLDATA_LEN];
	struct rpc_error e;
	BIGNUM *price;

	(void)state;
	if (getenv("ANVIL_URL") == NULL)
		skip();
	price = BN_new();
	tx.type = ETHTX_LEGACY;
	fill_common(&tx, data);
	assert_int_equal(rpc_gas_price(&client, price, &e), RPC_OK);
	assert_int_equal(units_to_word(price, tx.gas_price), UNITS_OK);
	BN_free(price);
	sign_send_mine(&tx);
}

static void test_eip1559_accepted(void **state)
{
	struct ethtx tx = { 0 };
	uint8_t data[ERC20_TRANSFER_CALLDATA_LEN];
	struct rpc_error e;
	BIGNUM *price, *fee;

	(void)state;
	if (getenv("ANVIL_URL") == NULL)
		skip();
	price = BN_new();
	fee = BN_new();
	tx.type = ETHTX_EIP1559;
	fill_common(&tx, data);
	assert_int_equal(rpc_gas_price(&client, price, &e), RPC_OK);
	/* Twice the current price covers the base fee of the next block. */
	assert_true(BN_lshift1(fee, price));
	assert_int_equal(units_to_word(fee, tx.max_fee), UNITS_OK);
	assert_true(BN_set_word(price, 1000000000));
	assert_int_equal(units_to_word(price, tx.max_priority_fee), UNITS_OK);
	BN_free(price);
	BN_free(fee);
	sign_send_mine(&tx);
}

/* A revert surfaces as the node's JSON-RPC error, with its code. */
static void test_estimate_revert(void **state)
{
	const char *token = getenv("CHAIN_TOKEN_USDT");
	uint8_t to[ERC20_ADDR_LEN], amount[ERC20_WORD_LEN] = { 0 }, data[ERC20_TRANSFER_CALLDATA_LEN];
	struct rpc_error e;
	uint64_t gas;

	(void)state;
	if (getenv("ANVIL_URL") == NULL)
		skip();
	memset(to, 0x42, sizeof(to));
	amount[0] = 1;  /* 2^248: far above the signer's balance (it holds none) */
	erc20_transfer_calldata(to, amount, data);
	assert_int_equal(rpc_estimate_gas(&client, self_hex, token, data, sizeof(data), &gas, &e), RPC_EREMOTE);
	assert_int_equal(e.code, 3);
	assert_non_null(strstr(e.message, "revert"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy_accepted),
		cmocka_unit_test(test_eip1559_accepted),
		cmocka_unit_test(test_estimate_revert),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
