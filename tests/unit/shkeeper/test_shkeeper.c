/* SHKeeper: callback authentication (PROVIDERS.md's vector), status meanings, the trigger transaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "flow/shk_onchain.h"
#include "shkeeper/shkeeper.h"

static const char body[] = "{\"external_id\":\"147\",\"paid\":true,\"status\":\"PAID\"}";
static const char vector_sig[] = "d5ed95bc2abd1ea10589d1cafd4c4132664461135eefc011789e744e8c3d4ee3";
#define TS 1700000000

static struct config cfg_with(const char *api_key, const char *secret, bool allow_key_header)
{
	struct config c;

	memset(&c, 0, sizeof(c));
	c.shkeeper_api_key = (char *)api_key;
	c.shkeeper_api_key_len = api_key ? strlen(api_key) : 0;
	c.shkeeper_webhook_secret = (char *)secret;
	c.shkeeper_webhook_secret_len = secret ? strlen(secret) : 0;
	c.shkeeper_allow_api_key_header = allow_key_header;
	return c;
}

static enum shk_auth auth(const struct config *c, struct shk_auth_input in, time_t now)
{
	return shk_authenticate(c, &in, body, strlen(body), now);
}

static void test_signature_vector(void **state)
{
	(void)state;
	char sig[65];

	shk_sign("test-api-key", 12, "1700000000", body, strlen(body), sig);
	assert_string_equal(sig, vector_sig);
}

static void test_timestamped_signature(void **state)
{
	(void)state;
	struct config c = cfg_with("test-api-key", NULL, false);
	char upper[65];

	assert_int_equal(auth(&c, (struct shk_auth_input){ .signature = vector_sig, .timestamp = "1700000000" }, TS),
	                 SHK_AUTH_SIGNED);
	/* ±300 s is the window SHKeeper's own verifier uses. */
	assert_int_equal(auth(&c, (struct shk_auth_input){ .signature = vector_sig, .timestamp = "1700000000" }, TS + 300),
	                 SHK_AUTH_SIGNED);
	assert_int_equal(auth(&c, (struct shk_auth_input){ .signature = vector_sig, .timestamp = "1700000000" }, TS + 301),
	                 SHK_AUTH_STALE);
	assert_int_equal(auth(&c, (struct shk_auth_input){ .signature = vector_sig, .timestamp = "1700000000" }, TS - 301),
	                 SHK_AUTH_STALE);
	for (int i = 0; i < 64; i++)
		upper[i] = (char)(vector_sig[i] >= 'a' ? vector_sig[i] - 32 : vector_sig[i]);
	upper[64] = '\0';
	assert_int_equal(auth(&c, (struct shk_auth_input){ .signature = upper, .timestamp = "1700000000" }, TS),
	                 SHK_AUTH_SIGNED);
	/* Another timestamp, a truncated MAC, a key of another installation. */
	assert_int_equal(auth(&c, (struct shk_auth_input){ .signature = vector_sig, .timestamp = "1700000001" }, TS),
	                 SHK_AUTH_BAD);
	assert_int_equal(auth(&c, (struct shk_auth_input){ .signature = "d5ed95bc", .timestamp = "1700000000" }, TS),
	                 SHK_AUTH_BAD);
	struct config other = cfg_with("another-key", NULL, false);
	assert_int_equal(auth(&other, (struct shk_auth_input){ .signature = vector_sig, .timestamp = "1700000000" }, TS),
	                 SHK_AUTH_BAD);
	assert_int_equal(auth(&c, (struct shk_auth_input){ 0 }, TS), SHK_AUTH_MISSING);
}

static void test_older_schemes(void **state)
{
	(void)state;
	const char *secret = "a webhook secret of some length";
	struct config c = cfg_with("test-api-key", secret, false);
	char mac[65], prefixed[80];

	/* The body alone, keyed with the webhook secret, in any of the seed's headers. */
	shk_sign(secret, strlen(secret), NULL, body, strlen(body), mac);
	assert_int_equal(auth(&c, (struct shk_auth_input){ .signature = mac }, TS), SHK_AUTH_BODY_HMAC);
	assert_int_equal(auth(&c, (struct shk_auth_input){ .alt_signatures = { NULL, mac } }, TS), SHK_AUTH_BODY_HMAC);
	snprintf(prefixed, sizeof(prefixed), "sha256=%s", mac);
	assert_int_equal(auth(&c, (struct shk_auth_input){ .alt_signatures = { NULL, NULL, NULL, prefixed } }, TS),
	                 SHK_AUTH_BODY_HMAC);
	/* Without the secret configured, the same header proves nothing. */
	struct config no_secret = cfg_with("test-api-key", NULL, false);
	assert_int_equal(auth(&no_secret, (struct shk_auth_input){ .signature = mac }, TS), SHK_AUTH_BAD);

	/* The bare API key header only where the operator allowed it. */
	assert_int_equal(auth(&c, (struct shk_auth_input){ .api_key = "test-api-key" }, TS), SHK_AUTH_BAD);
	struct config legacy = cfg_with("test-api-key", NULL, true);
	assert_int_equal(auth(&legacy, (struct shk_auth_input){ .api_key = "test-api-key" }, TS), SHK_AUTH_API_KEY);
	assert_int_equal(auth(&legacy, (struct shk_auth_input){ .api_key = "test-api-ke" }, TS), SHK_AUTH_BAD);
	assert_int_equal(auth(&legacy, (struct shk_auth_input){ .api_key = "test-api-keyy" }, TS), SHK_AUTH_BAD);
}

static void test_status_meanings(void **state)
{
	(void)state;
	struct shk_effect e;

	assert_int_equal(shk_map_status("PAID", &e), 0);
	assert_string_equal(e.status, "completed");
	assert_string_equal(e.escrow, "funded");
	assert_int_equal(shk_map_status("OVERPAID", &e), 0);
	assert_string_equal(e.escrow, "funded");
	assert_int_equal(shk_map_status("PARTIAL", &e), 0);
	assert_null(e.status);
	assert_string_equal(e.escrow, "partial");
	assert_int_equal(shk_map_status("EXPIRED", &e), 0);
	assert_string_equal(e.status, "failed");
	assert_int_equal(shk_map_status("CANCELLED", &e), 0);
	assert_string_equal(e.status, "cancelled");
	for (const char *const *s = (const char *const[]){ "PENDING", "UNPAID", "unconfirmed", NULL }; *s; s++) {
		assert_int_equal(shk_map_status(*s, &e), 0);
		assert_true(e.record_only);
	}
	assert_int_equal(shk_map_status("paid", &e), -1);
	assert_int_equal(shk_map_status("OUTGOING", &e), -1);
}

static void test_trigger_transaction(void **state)
{
	(void)state;
	char txid[67];
	const char *a = "0x" "1111111111111111111111111111111111111111111111111111111111111111";
	const char *b = "0x" "2222222222222222222222222222222222222222222222222222222222222222";
	char text[512];

	snprintf(text, sizeof(text), "{\"transactions\":[{\"txid\":\"%s\",\"trigger\":true},{\"txid\":\"%s\",\"trigger\":false}]}", a, b);
	json_object *o = json_tokener_parse(text);
	shk_trigger_txid(o, txid);
	assert_string_equal(txid, a);
	json_object_put(o);
	/* No trigger marked: the last listed. */
	snprintf(text, sizeof(text), "{\"transactions\":[{\"txid\":\"%s\"},{\"txid\":\"%s\"}]}", a, b);
	o = json_tokener_parse(text);
	shk_trigger_txid(o, txid);
	assert_string_equal(txid, b);
	json_object_put(o);
	/* The early notice carries it at the top; a malformed id is ignored. */
	snprintf(text, sizeof(text), "{\"status\":\"unconfirmed\",\"txid\":\"%s\"}", a);
	o = json_tokener_parse(text);
	shk_trigger_txid(o, txid);
	assert_string_equal(txid, a);
	json_object_put(o);
	o = json_tokener_parse("{\"transactions\":[{\"txid\":\"0x12\",\"trigger\":true}]}");
	shk_trigger_txid(o, txid);
	assert_string_equal(txid, "");
	json_object_put(o);
}

static void test_crypto_names(void **state)
{
	(void)state;
	char name[24];

	assert_int_equal(shk_crypto_name("bsc", "USDT", name), 0);
	assert_string_equal(name, "BNB-USDT");
	assert_int_equal(shk_crypto_name("ethereum", "USDC", name), 0);
	assert_string_equal(name, "ETH-USDC");
	assert_int_equal(shk_crypto_name("tron", "USDT", name), -1);
	assert_int_equal(shk_crypto_name("bsc", "usdt", name), -1);
}

static void test_invoice_amount_in_token_units(void **state)
{
	(void)state;
	char out[64];

	/* SHKeeper prints ten decimals; a 6-decimal token holds six, and the buyer is never asked for more. */
	assert_int_equal(shk_invoice_amount("18.2536507301", 6, out, sizeof(out)), 0);
	assert_string_equal(out, "18.253650");
	assert_int_equal(shk_invoice_amount("0.01080125", 18, out, sizeof(out)), 0);
	assert_string_equal(out, "0.01080125");
	assert_int_equal(shk_invoice_amount("10", 6, out, sizeof(out)), 0);
	assert_string_equal(out, "10");
	assert_int_equal(shk_invoice_amount("7.5", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "7");
	assert_int_equal(shk_invoice_amount("123456.789", 2, out, 5), -1);
}

static char *threshold(const char *price, const char *rate, const char *llimit, unsigned decimals)
{
	static char text[96];
	BIGNUM *n = BN_new();
	char *dec = NULL;

	assert_non_null(n);
	if (shk_paid_threshold(price, rate, llimit, decimals, n) != 0) {
		BN_free(n);
		return NULL;
	}
	dec = BN_bn2dec(n);
	snprintf(text, sizeof(text), "%s", dec);
	OPENSSL_free(dec);
	BN_free(n);
	return text;
}

static void test_paid_threshold(void **state)
{
	(void)state;
	/* SHKeeper's PAID: price × llimit / 100 ÷ rate, in base units, rounded up. */
	assert_string_equal(threshold("10", "1", "95", 6), "9500000");
	assert_string_equal(threshold("10", "0.9985", "95", 18), "9514271407110665999");
	assert_string_equal(threshold("10.00", "0.9985", "95", 18), "9514271407110665999");
	assert_string_equal(threshold("18.25", "3379.24", "95", 18), "5130591493945385");
	assert_string_equal(threshold("100", "3", "95", 6), "31666667");
	assert_string_equal(threshold("10", "1", "97.5", 6), "9750000");
	assert_string_equal(threshold("10", "1", "100", 0), "10");
	/* With the default 2 % fee, that is about 93.1 % of the invoice's amount: (10 + 0.2) / rate. */
	assert_string_equal(threshold("10.2", "1", "93.1372549019", 6), "9500000");
	assert_null(threshold("10", "0", "95", 6));
	assert_null(threshold("10", "-1", "95", 6));
	assert_null(threshold("ten", "1", "95", 6));
	assert_null(threshold("10", "1e3", "95", 6));
}

static void test_own_transaction(void **state)
{
	(void)state;
	char txid[67], text[600];
	const char *own = "0x" "1111111111111111111111111111111111111111111111111111111111111111";
	const char *stray = "0x" "2222222222222222222222222222222222222222222222222222222222222222";

	/* A stray token's transaction triggered the callback: the invoice's own is still the last of its crypto. */
	snprintf(text, sizeof(text), "{\"transactions\":[{\"crypto\":\"BNB-USDT\",\"txid\":\"%s\",\"trigger\":false},"
	         "{\"crypto\":\"BNB-USDC\",\"txid\":\"%s\",\"trigger\":true}]}", own, stray);
	json_object *o = json_tokener_parse(text);
	shk_own_txid(o, "BNB-USDT", txid);
	assert_string_equal(txid, own);
	shk_trigger_txid(o, txid);
	assert_string_equal(txid, stray);
	shk_own_txid(o, "ETH-USDT", txid);
	assert_string_equal(txid, "");
	json_object_put(o);
	snprintf(text, sizeof(text), "{\"status\":\"unconfirmed\",\"crypto\":\"BNB-USDC\",\"txid\":\"%s\"}", stray);
	o = json_tokener_parse(text);
	shk_own_txid(o, "BNB-USDT", txid);
	assert_string_equal(txid, "");
	shk_own_txid(o, "BNB-USDC", txid);
	assert_string_equal(txid, stray);
	json_object_put(o);
}

static struct config *two_networks(void)
{
	static struct config c;

	memset(&c, 0, sizeof(c));
	snprintf(c.shkeeper_url, sizeof(c.shkeeper_url), "https://shkeeper.example.com");
	c.shkeeper_verify_on_chain = true;
	snprintf(c.shkeeper_llimit, sizeof(c.shkeeper_llimit), "95");
	c.n_networks = 2;
	snprintf(c.networks[0].name, sizeof(c.networks[0].name), "bsc");
	c.networks[0].chain_id = 97;
	c.networks[0].n_rpc = 1;
	snprintf(c.networks[1].name, sizeof(c.networks[1].name), "ethereum");
	c.n_tokens = 2;
	snprintf(c.tokens[0].network, sizeof(c.tokens[0].network), "bsc");
	snprintf(c.tokens[0].symbol, sizeof(c.tokens[0].symbol), "USDT");
	snprintf(c.tokens[0].contract, sizeof(c.tokens[0].contract), "0x55d398326f99059fF775485246999027B3197955");
	c.tokens[0].decimals = 18;
	snprintf(c.tokens[1].network, sizeof(c.tokens[1].network), "ethereum");
	snprintf(c.tokens[1].symbol, sizeof(c.tokens[1].symbol), "USDC");
	snprintf(c.tokens[1].contract, sizeof(c.tokens[1].contract), "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
	c.tokens[1].decimals = 6;
	return &c;
}

static void test_payment_uri(void **state)
{
	(void)state;
	struct config *c = two_networks();
	char uri[400];
	const char *deposit = "0x8695aB0B4E1e0D8a0c6d5Cc6aF2b3e5F6a7b8c9D";

	assert_int_equal(shk_payment_uri(c, "bsc", "USDT", deposit, "10.21532298", uri, sizeof(uri)), 0);
	assert_string_equal(uri, "ethereum:0x55d398326f99059fF775485246999027B3197955@97/transfer"
	                         "?address=0x8695aB0B4E1e0D8a0c6d5Cc6aF2b3e5F6a7b8c9D&uint256=10215322980000000000");
	/* No chain_id configured: no link, rather than one to a chain guessed at. */
	assert_int_equal(shk_payment_uri(c, "ethereum", "USDC", deposit, "18.2536507301", uri, sizeof(uri)), -1);
	/* Ten decimals cut to the token's six. */
	c->networks[1].chain_id = 11155111;
	assert_int_equal(shk_payment_uri(c, "ethereum", "USDC", deposit, "18.2536507301", uri, sizeof(uri)), 0);
	assert_string_equal(uri, "ethereum:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48@11155111/transfer"
	                         "?address=0x8695aB0B4E1e0D8a0c6d5Cc6aF2b3e5F6a7b8c9D&uint256=18253650");
	assert_int_equal(shk_payment_uri(c, "bsc", "USDC", deposit, "1", uri, sizeof(uri)), -1);
	assert_int_equal(shk_payment_uri(c, "bsc", "USDT", "0x1234", "1", uri, sizeof(uri)), -1);
	assert_int_equal(shk_payment_uri(c, "bsc", "USDT", deposit, "1", uri, 20), -1);
}

static void test_unverifiable_networks(void **state)
{
	(void)state;
	struct config *c = two_networks();
	const char *nets[4];

	assert_int_equal(shk_unverifiable_networks(c, nets, 4), 1);
	assert_string_equal(nets[0], "ethereum");
	c->shkeeper_verify_on_chain = false;
	assert_int_equal(shk_unverifiable_networks(c, nets, 4), 0);
	c->shkeeper_verify_on_chain = true;
	c->shkeeper_url[0] = '\0';
	assert_int_equal(shk_unverifiable_networks(c, nets, 4), 0);
	c = two_networks();
	c->n_tokens = 1;   /* no token on ethereum: no pay-ins there */
	assert_int_equal(shk_unverifiable_networks(c, nets, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_vector),
		cmocka_unit_test(test_timestamped_signature),
		cmocka_unit_test(test_older_schemes),
		cmocka_unit_test(test_status_meanings),
		cmocka_unit_test(test_trigger_transaction),
		cmocka_unit_test(test_crypto_names),
		cmocka_unit_test(test_invoice_amount_in_token_units),
		cmocka_unit_test(test_paid_threshold),
		cmocka_unit_test(test_own_transaction),
		cmocka_unit_test(test_payment_uri),
		cmocka_unit_test(test_unverifiable_networks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
