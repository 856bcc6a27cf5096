/* SHKeeper's PAID rule: transfers worth it after a re-pricing, the unchecked figures, the checker's time budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/bn.h>

#include "evm/units.h"
#include "flow/shk_onchain.h"
#include "pay/payment.h"

#define COLS 31     /* PAYMENT_COLUMNS, then SHK_CHECK_COLUMNS */
#define CRYPTO_COL 29
#define DEPOSIT "0x8695ab0b4e1e0d8a0c6d5cc6af2b3e5f6a7b8c9d"
#define TXID_A "0x1111111111111111111111111111111111111111111111111111111111111111"
#define TXID_B "0x2222222222222222222222222222222222222222222222222222222222222222"

static struct config *bsc_config(bool verify)
{
	static struct config c;

	memset(&c, 0, sizeof(c));
	snprintf(c.shkeeper_url, sizeof(c.shkeeper_url), "https://shkeeper.example.com");
	c.shkeeper_verify_on_chain = verify;
	snprintf(c.shkeeper_llimit, sizeof(c.shkeeper_llimit), "95");
	c.n_networks = 1;
	snprintf(c.networks[0].name, sizeof(c.networks[0].name), "bsc");
	c.networks[0].chain_id = 56;
	c.networks[0].confirmations = 3;
	c.networks[0].n_rpc = 1;
	snprintf(c.networks[0].rpc_urls[0], sizeof(c.networks[0].rpc_urls[0]), "http://127.0.0.1:9");
	c.n_tokens = 1;
	snprintf(c.tokens[0].network, sizeof(c.tokens[0].network), "bsc");
	snprintf(c.tokens[0].symbol, sizeof(c.tokens[0].symbol), "USDT");
	snprintf(c.tokens[0].contract, sizeof(c.tokens[0].contract), "0x55d398326f99059fF775485246999027B3197955");
	c.tokens[0].decimals = 18;
	return &c;
}

/* A SHKeeper pay-in of 10 USD at 0.9985 as the webhook reads it; repriced: SHKeeper may have re-priced it. */
static PGresult *payin(bool repriced)
{
	PGresAttDesc attrs[COLS];
	char names[COLS][16];
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < COLS; i++) {
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		attrs[i].name = names[i];
		attrs[i].typid = 25;
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	assert_int_equal(PQsetResultAttrs(r, COLS, attrs), 1);
	for (int i = 0; i < COLS; i++)
		PQsetvalue(r, 0, i, NULL, -1);
	static const struct { int col; const char *v; } set[] = {
		{ PCOL_ID, "7d3f6f59-2f1e-4a4e-9d62-5c1a4c7a0b11" }, { PCOL_STATUS, "pending" }, { PCOL_AMOUNT, "10" },
		{ PCOL_CURRENCY, "USD" }, { PCOL_NETWORK, "bsc" }, { PCOL_TOKEN, "USDT" },
		{ PCOL_CONTRACT, "0x55d398326f99059fF775485246999027B3197955" }, { PCOL_RECEIVER, DEPOSIT },
		{ PCOL_RATE, "0.9985" }, { CRYPTO_COL, "BNB-USDT" },
	};
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		PQsetvalue(r, 0, set[i].col, (char *)set[i].v, (int)strlen(set[i].v));
	PQsetvalue(r, 0, CRYPTO_COL + 1, repriced ? "t" : "f", 1);
	return r;
}

static BIGNUM *units(const char *tokens)
{
	BIGNUM *b = BN_new();
	assert_int_equal(units_parse(tokens, 18, b), UNITS_OK);
	return b;
}

static json_object *entry(const char *amount_crypto, const char *amount_fiat)
{
	char text[200];

	snprintf(text, sizeof(text), "{\"amount_crypto\":\"%s\",\"amount_fiat\":\"%s\"}", amount_crypto, amount_fiat);
	return json_tokener_parse(text);
}

/* Adds a transfer of `chain` tokens listed as (amount_crypto, amount_fiat). */
static void add(struct shk_worth *w, const char *chain, const char *ac, const char *af)
{
	json_object *e = entry(ac, af);
	BIGNUM *u = units(chain);
	assert_int_equal(shk_worth_add(w, e, u), 0);
	BN_free(u);
	json_object_put(e);
}

static void test_worth_at_the_invoice_rate(void **state)
{
	(void)state;
	BIGNUM *need = units("9.514271407110665999");   /* 9.5 USD at 0.9985, rounded up */
	struct shk_worth w;
	char msg[300];

	assert_int_equal(shk_worth_init(&w, false, 18, need, "10", "95"), 0);
	add(&w, "9.514271407110665998", "1", "1");   /* the entry's figures do not matter before a re-pricing */
	assert_false(shk_worth_reaches(&w));
	shk_worth_describe(&w, "the transfers", "USDT", "USD", "0.9985", msg, sizeof(msg));
	assert_string_equal(msg, "the transfers total 9.514271407110665998 USDT; SHKeeper's PAID needs"
	                         " 9.514271407110665999 (95 % of 10 USD at 0.9985)");
	add(&w, "0.000000000000000001", "1", "1");
	assert_true(shk_worth_reaches(&w));
	shk_worth_free(&w);
	BN_free(need);
}

static void test_worth_after_repricing(void **state)
{
	(void)state;
	BIGNUM *need = units("9.514271407110665999");
	struct shk_worth w;
	char msg[400];

	/* Re-priced at 1.1: 8.8 tokens are 9.68 USD, PAID for SHKeeper, though short at the creation rate. */
	assert_int_equal(shk_worth_init(&w, true, 18, need, "10", "95"), 0);
	add(&w, "8.8", "8.8", "9.68");
	assert_true(shk_worth_reaches(&w));
	shk_worth_free(&w);

	/* Exactly 9.5 USD reaches it; one base unit less does not. */
	assert_int_equal(shk_worth_init(&w, true, 18, need, "10", "95"), 0);
	add(&w, "8.799999999999999999", "8.8", "9.5");
	assert_false(shk_worth_reaches(&w));
	add(&w, "0.000000000000000001", "8.8", "9.5");
	assert_true(shk_worth_reaches(&w));
	shk_worth_free(&w);

	/* Two transfers at two rates (before and after the re-pricing): 5 × 0.9985 + 4.5 × 1.0 = 9.4925, short. */
	assert_int_equal(shk_worth_init(&w, true, 18, need, "10", "95"), 0);
	add(&w, "5", "5", "4.9925");
	add(&w, "4.5", "4.5", "4.5");
	assert_false(shk_worth_reaches(&w));
	shk_worth_describe(&w, "the transfers", "USDT", "USD", "0.9985", msg, sizeof(msg));
	assert_string_equal(msg, "the transfers total 9.5 USDT, worth 9.4925 USD at the rates SHKeeper re-priced the"
	                         " invoice at; SHKeeper's PAID needs 9.5 USD (95 % of 10 USD)");
	add(&w, "0.0075", "0.0075", "0.0075");
	assert_true(shk_worth_reaches(&w));
	shk_worth_free(&w);

	/* The chain's amount counts, not the entry's: SHKeeper saying 9.5 for a transfer of 9 is worth 9. */
	assert_int_equal(shk_worth_init(&w, true, 18, need, "10", "95"), 0);
	add(&w, "9", "9.5", "9.5");
	assert_false(shk_worth_reaches(&w));
	shk_worth_free(&w);

	/* An entry without usable figures cannot be valued. */
	assert_int_equal(shk_worth_init(&w, true, 18, need, "10", "95"), 0);
	json_object *zero = entry("0", "9.5");
	BIGNUM *u = units("9.5");
	assert_int_equal(shk_worth_add(&w, zero, u), -1);
	json_object_put(zero);
	zero = json_tokener_parse("{\"amount_crypto\":\"9.5\"}");
	assert_int_equal(shk_worth_add(&w, zero, u), -1);
	json_object_put(zero);
	BN_free(u);
	shk_worth_free(&w);
	BN_free(need);
}

static json_object *paid_callback(const char *ac, const char *af, const char *balance)
{
	char text[600];

	snprintf(text, sizeof(text), "{\"status\":\"PAID\",\"crypto\":\"BNB-USDT\",\"balance_fiat\":\"%s\","
	         "\"transactions\":[{\"crypto\":\"BNB-USDT\",\"txid\":\"" TXID_A "\",\"amount_crypto\":\"%s\","
	         "\"amount_fiat\":\"%s\",\"trigger\":true}]}", balance, ac, af);
	return json_tokener_parse(text);
}

/* With the chain check off, a re-priced invoice's figures are held to the rate SHKeeper valued them at. */
static void test_unchecked_after_repricing(void **state)
{
	(void)state;
	struct config *c = bsc_config(false);
	json_object *cb = paid_callback("8.8", "9.68", "9.68");
	char tx[67], msg[400];

	PGresult *before = payin(false), *after = payin(true);
	/* At the creation rate 8.8 tokens are short ... */
	assert_int_equal(shk_check_on_chain(c, cb, before, CRYPTO_COL, time(NULL) + 10, tx, msg, sizeof(msg)),
	                 ONCHAIN_REFUTED);
	assert_string_equal(tx, "");
	/* ... but SHKeeper re-priced: worth 9.68 USD, PAID. */
	assert_int_equal(shk_check_on_chain(c, cb, after, CRYPTO_COL, time(NULL) + 10, tx, msg, sizeof(msg)),
	                 ONCHAIN_UNCHECKED);
	assert_string_equal(tx, TXID_A);
	json_object_put(cb);
	/* Re-priced lower: 9.6 tokens at 0.9 are 8.64 USD, short whatever the balance says. */
	cb = paid_callback("9.6", "8.64", "9.6");
	assert_int_equal(shk_check_on_chain(c, cb, after, CRYPTO_COL, time(NULL) + 10, tx, msg, sizeof(msg)),
	                 ONCHAIN_REFUTED);
	assert_non_null(strstr(msg, "worth 8.64 USD"));
	json_object_put(cb);
	/* The llimit of the invoice's crypto, where it has its own. */
	c->n_shkeeper_llimits = 1;
	snprintf(c->shkeeper_llimits[0].crypto, sizeof(c->shkeeper_llimits[0].crypto), "BNB-USDT");
	snprintf(c->shkeeper_llimits[0].llimit, sizeof(c->shkeeper_llimits[0].llimit), "86");
	cb = paid_callback("9.6", "8.64", "9.6");
	assert_int_equal(shk_check_on_chain(c, cb, after, CRYPTO_COL, time(NULL) + 10, tx, msg, sizeof(msg)),
	                 ONCHAIN_UNCHECKED);
	json_object_put(cb);
	PQclear(before);
	PQclear(after);
}

/* The receipts are asked for within a time budget; past it, SHKeeper is asked to deliver again. */
static void test_check_time_budget(void **state)
{
	(void)state;
	struct config *c = bsc_config(true);
	json_object *cb = paid_callback("10", "9.985", "9.985");
	PGresult *pay = payin(false);
	char tx[67], msg[400];

	assert_int_equal(shk_check_on_chain(c, cb, pay, CRYPTO_COL, time(NULL) - 1, tx, msg, sizeof(msg)),
	                 ONCHAIN_UNAVAILABLE);
	assert_string_equal(msg, "out of time after checking 0 of 1 transaction(s) on chain");
	assert_string_equal(tx, "");
	/* A row that does not say whether SHKeeper re-priced (one column short) is not judged at all. */
	assert_int_equal(shk_check_on_chain(c, cb, pay, CRYPTO_COL + 1, time(NULL) + 10, tx, msg, sizeof(msg)),
	                 ONCHAIN_UNAVAILABLE);
	assert_non_null(strstr(msg, "SHK_CHECK_COLUMNS"));
	json_object_put(cb);
	PQclear(pay);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worth_at_the_invoice_rate),
		cmocka_unit_test(test_worth_after_repricing),
		cmocka_unit_test(test_unchecked_after_repricing),
		cmocka_unit_test(test_check_time_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
