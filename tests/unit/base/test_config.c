/* Configuration: defaults, environment overrides, and refusals that name the setting. */
#include <setjmp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/config.h"
#include "config_fixture.h"
#include "base/log.h"


static int load(const char *text, struct config *cfg, char *err, size_t len)
{
	write_file(conf, text);
	return config_load(conf, cfg, err, len);
}

static void test_defaults_and_secret(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];

	assert_int_equal(load(base_conf(), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.jwt_secret_len, 32);   /* trailing newline is not part of it */
	assert_int_equal(cfg.max_body_bytes, 1 << 20);
	assert_string_equal(cfg.public_base_url, "https://pay.example.com");
	assert_false(cfg.dev_mode);
	assert_non_null(config_token(&cfg, "bsc", "USDT"));
	assert_null(config_token(&cfg, "ethereum", "USDT"));
	assert_int_equal(config_currency(&cfg, "USDT")->scale, 6);
	assert_int_equal(config_currency(&cfg, "USD")->scale, 2);
	/* SHKeeper's own default threshold, and the check on the chain on. */
	assert_string_equal(cfg.shkeeper_llimit, "95");
	assert_true(cfg.shkeeper_verify_on_chain);
	assert_int_equal(cfg.log_format, LOG_FORMAT_TEXT);
	config_free(&cfg);
	char text[1200];
	snprintf(text, sizeof(text), "%slog_format = json\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
	config_free(&cfg);
	snprintf(text, sizeof(text), "%sshkeeper_llimit = 97.50\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.shkeeper_llimit, "97.5");
	config_free(&cfg);
	snprintf(text, sizeof(text), "%sshkeeper_llimit = 100\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	config_free(&cfg);
	snprintf(text, sizeof(text), "%sshkeeper_llimit = 50\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.shkeeper_llimit, "50");
	config_free(&cfg);
}

/* SHKeeper keeps llimit per wallet: one crypto may differ from the rest. */
static void test_llimit_per_crypto(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], text[1200];

	snprintf(text, sizeof(text), "%sshkeeper_llimit = 96\nshkeeper_llimit.BNB-USDT = 90.25\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(config_shkeeper_llimit(&cfg, "BNB-USDT"), "90.25");
	assert_string_equal(config_shkeeper_llimit(&cfg, "BNB-USDC"), "96");
	assert_string_equal(config_shkeeper_llimit(&cfg, NULL), "96");
	config_free(&cfg);
	/* From the environment, '_' standing for the crypto's '-'. */
	setenv("PAYMENTS_SHKEEPER_LLIMIT_ETH_USDC", "99", 1);
	assert_int_equal(load(base_conf(), &cfg, err, sizeof(err)), 0);
	assert_string_equal(config_shkeeper_llimit(&cfg, "ETH-USDC"), "99");
	assert_string_equal(config_shkeeper_llimit(&cfg, "ETH-USDT"), "95");
	config_free(&cfg);
	setenv("PAYMENTS_SHKEEPER_LLIMIT_ETH_USDC", "49", 1);
	assert_int_equal(load(base_conf(), &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shkeeper_llimit.ETH-USDC"));
	unsetenv("PAYMENTS_SHKEEPER_LLIMIT_ETH_USDC");
}

static void test_environment_overrides(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];

	setenv("PAYMENTS_WORKERS", "7", 1);
	setenv("PAYMENTS_TOKEN_ETHEREUM_USDC", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 1);
	assert_int_equal(load(base_conf(), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.workers, 7);
	assert_non_null(config_token(&cfg, "ethereum", "USDC"));
	config_free(&cfg);
	unsetenv("PAYMENTS_TOKEN_ETHEREUM_USDC");
	setenv("PAYMENTS_WORKERS", "many", 1);
	assert_int_equal(load(base_conf(), &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "workers"));
	unsetenv("PAYMENTS_WORKERS");
}

static void test_payout_fees(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], text[2048];

	assert_int_equal(load(base_conf(), &cfg, err, sizeof(err)), 0);
	/* Defaults: legacy on BSC, EIP-1559 on Ethereum, each with a cap; the tip is the node's. */
	assert_false(config_network(&cfg, "bsc")->eip1559);
	assert_true(config_network(&cfg, "ethereum")->eip1559);
	assert_true(config_network(&cfg, "bsc")->max_gas_price_wei == 20000000000ULL);
	assert_true(config_network(&cfg, "ethereum")->max_gas_price_wei == 200000000000ULL);
	assert_true(config_network(&cfg, "ethereum")->priority_fee_wei == 0);
	config_free(&cfg);
	snprintf(text, sizeof(text), "%sfee_model.bsc = eip1559\nmax_gas_price_gwei.bsc = 0.5\npriority_fee_gwei.bsc = 0.000000001\n",
	         base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_true(config_network(&cfg, "bsc")->eip1559);
	assert_true(config_network(&cfg, "bsc")->max_gas_price_wei == 500000000ULL);
	assert_true(config_network(&cfg, "bsc")->priority_fee_wei == 1);
	config_free(&cfg);
	setenv("PAYMENTS_MAX_GAS_PRICE_GWEI_ETHEREUM", "35.25", 1);
	assert_int_equal(load(base_conf(), &cfg, err, sizeof(err)), 0);
	assert_true(config_network(&cfg, "ethereum")->max_gas_price_wei == 35250000000ULL);
	config_free(&cfg);
	unsetenv("PAYMENTS_MAX_GAS_PRICE_GWEI_ETHEREUM");
	static const struct { const char *extra, *named; } bad[] = {
		{ "fee_model.bsc = london\n", "fee_model.bsc" },
		{ "max_gas_price_gwei.bsc = 0\n", "max_gas_price_gwei.bsc" },
		{ "max_gas_price_gwei.bsc = 1.0000000001\n", "max_gas_price_gwei.bsc" },
		{ "max_gas_price_gwei.bsc = -1\n", "max_gas_price_gwei.bsc" },
		{ "max_gas_price_gwei.bsc = 1e3\n", "max_gas_price_gwei.bsc" },
		{ "priority_fee_gwei.bsc = 21\n", "priority_fee_gwei.bsc" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base_conf(), bad[i].extra);
		assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
		if (strstr(err, bad[i].named) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, err, bad[i].named);
	}
}

/* Payouts SHKeeper sends: its login from a file, a fee always said, a wallet per network it pays from. */
static void test_shkeeper_payouts(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], text[2048], auth[160], key[160];

	snprintf(auth, sizeof(auth), "%s/shk_auth", dir);
	snprintf(key, sizeof(key), "%s/shk_key", dir);
	write_file(auth, "payouts:s3cret\n");
	write_file(key, "api-key\n");
	assert_int_equal(load(base_conf(), &cfg, err, sizeof(err)), 0);
	assert_null(cfg.shkeeper_payout_auth);
	assert_string_equal(config_network(&cfg, "bsc")->shkeeper_payout_wallet, "");
	config_free(&cfg);
	snprintf(text, sizeof(text),
	         "%sshkeeper_url = https://shk.example.com\nshkeeper_api_key_file = %s\nshkeeper_payout_auth_file = %s\n"
	         "shkeeper_payout_fee = 2.50\nshkeeper_payout_wallet.bsc = 0x5a4e000000000000000000000000000000000001\n",
	         base_conf(), key, auth);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.shkeeper_payout_auth, "payouts:s3cret");
	assert_string_equal(cfg.shkeeper_payout_fee, "2.5");
	assert_string_equal(config_network(&cfg, "bsc")->shkeeper_payout_wallet, "0x5a4e000000000000000000000000000000000001");
	config_free(&cfg);
	setenv("PAYMENTS_SHKEEPER_PAYOUT_WALLET_ETHEREUM", "0x5a4e000000000000000000000000000000000002", 1);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(config_network(&cfg, "ethereum")->shkeeper_payout_wallet, "0x5a4e000000000000000000000000000000000002");
	config_free(&cfg);
	unsetenv("PAYMENTS_SHKEEPER_PAYOUT_WALLET_ETHEREUM");
	static const struct { const char *extra, *named; } bad[] = {
		{ "shkeeper_payout_fee = 1\nshkeeper_payout_wallet.tron = 0x5a4e000000000000000000000000000000000001\n",
		  "shkeeper_payout_wallet.tron" },
		{ "shkeeper_payout_fee = 1\nshkeeper_payout_wallet.bsc = 0x5a4e\n", "shkeeper_payout_wallet.bsc" },
		{ "", "shkeeper_payout_fee" },
		{ "shkeeper_payout_fee = -1\n", "shkeeper_payout_fee" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%sshkeeper_url = https://shk.example.com\nshkeeper_api_key_file = %s\n"
		         "shkeeper_payout_auth_file = %s\n%s", base_conf(), key, auth, bad[i].extra);
		assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
		if (strstr(err, bad[i].named) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, err, bad[i].named);
	}
	write_file(auth, "no-colon\n");
	snprintf(text, sizeof(text), "%sshkeeper_url = https://shk.example.com\nshkeeper_api_key_file = %s\n"
	         "shkeeper_payout_auth_file = %s\nshkeeper_payout_fee = 1\n", base_conf(), key, auth);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shkeeper_payout_auth_file"));
	unlink(auth);
	unlink(key);
}

/* BVNK: Hawk credentials and a merchant with its URL, the webhook URL it signs by default, the variants. */
static void test_bvnk_payouts(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], text[2048], key[160];

	snprintf(key, sizeof(key), "%s/bvnk_key", dir);
	write_file(key, "0123456789abcdef0123456789abcdef\n");
	snprintf(text, sizeof(text),
	         "%sbvnk_url = https://api.sandbox.bvnk.com/\nbvnk_hawk_id = hawk-1\nbvnk_hawk_key_file = %s\n"
	         "bvnk_merchant_id = a7eddadd-fd9b-45fb-82a1-dc12eaa14cba\nbvnk_protocol.bsc = BSC\n",
	         base_conf(), key);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.bvnk_url, "https://api.sandbox.bvnk.com");
	assert_int_equal(cfg.bvnk_hawk_key_len, 32);
	/* Webhooks are signed with the same secret key unless another is named. */
	assert_int_equal(cfg.bvnk_webhook_secret_len, 32);
	assert_memory_equal(cfg.bvnk_webhook_secret, cfg.bvnk_hawk_key, 32);
	assert_string_equal(cfg.bvnk_webhook_url, "https://pay.example.com/api/payment/bvnk/webhook");
	assert_int_equal(cfg.bvnk_webhook_signing, BVNK_SIGNS_URL);
	assert_string_equal(config_network(&cfg, "bsc")->bvnk_protocol, "BSC");
	config_free(&cfg);
	setenv("PAYMENTS_BVNK_WEBHOOK_SIGNING", "path", 1);
	setenv("PAYMENTS_BVNK_PROTOCOL_ETHEREUM", "ETH", 1);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.bvnk_webhook_signing, BVNK_SIGNS_PATH);
	assert_string_equal(config_network(&cfg, "ethereum")->bvnk_protocol, "ETH");
	config_free(&cfg);
	unsetenv("PAYMENTS_BVNK_WEBHOOK_SIGNING");
	unsetenv("PAYMENTS_BVNK_PROTOCOL_ETHEREUM");
	static const struct { const char *extra, *named; } bad[] = {
		{ "bvnk_url = http://api.bvnk.com\n", "bvnk_url" },
		{ "bvnk_url = https://api.bvnk.com\n", "bvnk_hawk_id" },
		{ "bvnk_url = https://api.bvnk.com\nbvnk_hawk_id = h\n", "bvnk_hawk_key_file" },
		{ "bvnk_webhook_signing = header\n", "bvnk_webhook_signing" },
		{ "bvnk_protocol.bsc = B S C\n", "bvnk_protocol.bsc" },
		{ "bvnk_payout_wallet.bsc = 0x12\n", "bvnk_payout_wallet.bsc" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base_conf(), bad[i].extra);
		assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
		if (strstr(err, bad[i].named) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, err, bad[i].named);
	}
	unlink(key);
}

static void test_hot_wallet_key_file(void **state)
{
	(void)state;
	struct config cfg;
	char err[512], text[2048], key[160];

	snprintf(key, sizeof(key), "%s/hot_wallet_key", dir);
	write_file(key, "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n");
	snprintf(text, sizeof(text), "%shot_wallet_key_file = %s\n", base_conf(), key);
	/* Readable by group or others: refused, naming the setting and the mode. */
	assert_int_equal(chmod(key, 0644), 0);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "hot_wallet_key_file"));
	assert_non_null(strstr(err, "0644"));
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.hot_wallet_key_path, key);
	config_free(&cfg);
	/* A relative path is resolved against the credentials directory. */
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	snprintf(text, sizeof(text), "%shot_wallet_key_file = hot_wallet_key\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.hot_wallet_key_path, key);
	config_free(&cfg);
	unsetenv("CREDENTIALS_DIRECTORY");
	/* Missing, or an address without a key. */
	snprintf(text, sizeof(text), "%shot_wallet_key_file = %s/none\n", base_conf(), dir);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "hot_wallet_key_file"));
	snprintf(text, sizeof(text), "%shot_wallet_address = 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "hot_wallet_address"));
	/* The dev fault file exists in dev mode only. */
	snprintf(text, sizeof(text), "%sdev_fault_file = %s/fault\n", base_conf(), dir);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "dev_fault_file"));
	snprintf(text, sizeof(text), "%smode = dev\ndev_fault_file = %s/fault\n", base_conf(), dir);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	config_free(&cfg);
	unlink(key);
}

static void test_refusals_name_the_setting(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], text[2048];
	static const struct { const char *extra, *named; } cases[] = {
		{ "max_body_bytes = -1\n", "max_body_bytes" },
		{ "listen = ftp://x\n", "listen" },
		{ "mode = staging\n", "mode" },
		{ "log_format = JSON\n", "log_format" },
		{ "escrow_address = 0x123\n", "escrow_address" },
		{ "token.bsc.USDT = nope\n", "token.bsc.USDT" },
		{ "token.tron.USDT = 0x55d398326f99059fF775485246999027B3197955\n", "token.tron.USDT" },
		{ "currencies = USD:two\n", "currencies" },
		{ "colour = blue\n", "colour" },
		{ "shkeeper_llimit = 0\n", "shkeeper_llimit" },
		{ "shkeeper_llimit = 49.9999\n", "shkeeper_llimit" },
		{ "shkeeper_llimit = 5\n", "shkeeper_llimit" },
		{ "shkeeper_llimit.BNB-USDT = 30\n", "shkeeper_llimit.BNB-USDT" },
		{ "shkeeper_llimit.BNB-USDT = 100.01\n", "shkeeper_llimit.BNB-USDT" },
		{ "shkeeper_llimit.bnb-usdt = 95\n", "shkeeper_llimit.bnb-usdt" },
		{ "shkeeper_llimit.BNB--USDT = 95\n", "shkeeper_llimit.BNB--USDT" },
		{ "shkeeper_llimit. = 95\n", "shkeeper_llimit." },
		{ "shkeeper_llimit = 100.5\n", "shkeeper_llimit" },
		{ "shkeeper_llimit = 101\n", "shkeeper_llimit" },
		{ "shkeeper_llimit = 95%\n", "shkeeper_llimit" },
		{ "shkeeper_llimit = 95.00001\n", "shkeeper_llimit" },
		{ "no equals sign\n", "payments.conf:7" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base_conf(), cases[i].extra);
		assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
		if (strstr(err, cases[i].named) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, err, cases[i].named);
	}
	assert_int_equal(load("database_url = x\n", &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "jwt_secret_file"));
	write_file(secret, "short\n");
	assert_int_equal(load(base_conf(), &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shorter than 32"));
	write_file(secret, "0123456789abcdef0123456789abcdef\n");
}

static void test_streams_and_subscribers(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], text[2048];

	assert_int_equal(load(base_conf(), &cfg, err, sizeof(err)), 0);
	/* The site file's publisher socket and buffer, no subscriber, a day of retries. */
	assert_string_equal(cfg.stream.publisher_socket, "/run/fcgi-payments/stream.sock");
	assert_int_equal(cfg.stream.buffer_messages, 200);
	assert_int_equal(cfg.stream.buffer_seconds, 3600);
	assert_int_equal(cfg.subscribers.n, 0);
	assert_int_equal(cfg.subscribers.retry_base_seconds, 10);
	assert_int_equal(cfg.subscribers.give_up_seconds, 86400);
	assert_int_equal(cfg.jobs.relay_seconds, 5);
	/* The jobs on pay-ins and payouts run by default; the automatic release does not. */
	assert_int_equal(cfg.jobs.cleanup_seconds, 300);
	assert_int_equal(cfg.jobs.shkeeper_poll_seconds, 120);
	assert_int_equal(cfg.jobs.shkeeper_poll_after_minutes, 10);
	assert_int_equal(cfg.jobs.reconcile_seconds, 300);
	assert_int_equal(cfg.jobs.reconcile_after_minutes, 30);
	assert_int_equal(cfg.jobs.auto_release_seconds, 0);
	assert_int_equal(cfg.jobs.auto_release_grace_hours, 72);
	assert_string_equal(cfg.jobs.auto_release_rail, "admin_wallet");
	config_free(&cfg);

	snprintf(text, sizeof(text), "%sauto_release_rail = hot_wallet\njobs_auto_release_seconds = 60\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.jobs.auto_release_rail, "hot_wallet");
	assert_int_equal(cfg.jobs.auto_release_seconds, 60);
	config_free(&cfg);
	/* A rail that needs no person to sign and is not ours, or no grace at all, is refused by name. */
	snprintf(text, sizeof(text), "%sauto_release_rail = bvnk\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "auto_release_rail"));
	snprintf(text, sizeof(text), "%sauto_release_grace_hours = 0\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "auto_release_grace_hours"));

	snprintf(text, sizeof(text),
	         "%sstream_publisher = http://127.0.0.1:8081/\n"
	         "subscriber.orders.url = https://orders.example/hooks?x=1\n"
	         "subscriber.orders.events = payment-update, payment-completed\n"
	         "subscriber.orders.secret_file = %s\n",
	         base_conf(), secret);
	setenv("PAYMENTS_SUBSCRIBER_CHAT_SERVICE_URL", "http://localhost:9000/chat", 1);
	setenv("PAYMENTS_SUBSCRIBER_CHAT_SERVICE_EVENTS", "*", 1);
	setenv("PAYMENTS_SUBSCRIBER_CHAT_SERVICE_SECRET_FILE", secret, 1);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	unsetenv("PAYMENTS_SUBSCRIBER_CHAT_SERVICE_URL");
	unsetenv("PAYMENTS_SUBSCRIBER_CHAT_SERVICE_EVENTS");
	unsetenv("PAYMENTS_SUBSCRIBER_CHAT_SERVICE_SECRET_FILE");
	assert_string_equal(cfg.stream.publisher_socket, "");
	assert_string_equal(cfg.stream.publisher_url, "http://127.0.0.1:8081");
	assert_int_equal(cfg.subscribers.n, 2);
	const struct subscriber_conf *orders = NULL, *chat = NULL;
	for (size_t i = 0; i < cfg.subscribers.n; i++) {
		if (strcmp(cfg.subscribers.list[i].name, "orders") == 0)
			orders = &cfg.subscribers.list[i];
		if (strcmp(cfg.subscribers.list[i].name, "chat_service") == 0)
			chat = &cfg.subscribers.list[i];
	}
	assert_non_null(orders);
	assert_non_null(chat);
	assert_int_equal(orders->secret_len, 32);
	assert_true(config_subscriber_wants(orders, "payment-completed"));
	assert_false(config_subscriber_wants(orders, "payment-created"));
	assert_true(config_subscriber_wants(chat, "anything-at-all"));
	assert_string_equal(chat->url, "http://localhost:9000/chat");
	config_free(&cfg);

	snprintf(text, sizeof(text), "%sstream_publisher = none\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.stream.publisher_socket, "");
	assert_string_equal(cfg.stream.publisher_url, "");
	config_free(&cfg);
}

static void test_subscriber_refusals_name_the_setting(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], text[2048], sub[512];
	static const struct { const char *url, *events, *named; } cases[] = {
		/* Plain HTTP leaves the host only in dev mode. */
		{ "http://orders.example/hook", "*", "subscriber.orders.url" },
		{ "ftp://orders.example/", "*", "subscriber.orders.url" },
		{ "https://orders.example/", "Payment Update", "subscriber.orders.events" },
		{ "https://orders.example/", NULL, "subscriber.orders.events" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = snprintf(sub, sizeof(sub), "subscriber.orders.url = %s\nsubscriber.orders.secret_file = %s\n",
		                 cases[i].url, secret);
		if (cases[i].events)
			snprintf(sub + n, sizeof(sub) - (size_t)n, "subscriber.orders.events = %s\n", cases[i].events);
		snprintf(text, sizeof(text), "%s%s", base_conf(), sub);
		assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
		if (strstr(err, cases[i].named) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, err, cases[i].named);
	}
	static const struct { const char *extra, *named; } more[] = {
		{ "subscriber.Orders.url = https://x.example/\n", "subscriber.Orders.url" },
		{ "subscriber.orders.colour = blue\n", "subscriber.orders.colour" },
		{ "subscriber.orders.url = https://x.example/\nsubscriber.orders.events = *\n", "subscriber.orders.secret_file" },
		{ "stream_publisher = https://elsewhere.example\n", "stream_publisher" },
		{ "stream_buffer_messages = 0\n", "stream_buffer_messages" },
		{ "subscriber_retry_base_seconds = 60\nsubscriber_retry_max_seconds = 30\n", "subscriber_retry_max_seconds" },
	};
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base_conf(), more[i].extra);
		assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
		if (strstr(err, more[i].named) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, err, more[i].named);
	}
	/* A subscriber's key is signed with: as long as the service's own. */
	char shortkey[160];
	snprintf(shortkey, sizeof(shortkey), "%s/short", dir);
	write_file(shortkey, "too short\n");
	snprintf(text, sizeof(text), "%ssubscriber.orders.url = https://x.example/\nsubscriber.orders.events = *\n"
	         "subscriber.orders.secret_file = %s\n", base_conf(), shortkey);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shorter than 32"));
	unlink(shortkey);
}

/* The generic loop over config_keys[]: each number's bounds, each bool, each word list, by the key's name. */
static void test_rows_bounds_and_words(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], text[2048];

	for (size_t i = 0; i < config_n_keys; i++) {
		const struct config_key *r = &config_keys[i];
		char bad[3][64] = { "", "", "" }, good[2][64] = { "", "" };

		if (r->flags & (CONFIG_F_FAMILY | CONFIG_F_NETWORK) || r->after)
			continue;
		if (r->kind == CONFIG_INT || r->kind == CONFIG_LONG || r->kind == CONFIG_SIZE) {
			if (r->min > LONG_MIN)
				snprintf(bad[0], sizeof(bad[0]), "%ld", r->min - 1);
			if (r->max < LONG_MAX)
				snprintf(bad[1], sizeof(bad[1]), "%ld", r->max + 1);
			snprintf(bad[2], sizeof(bad[2]), "12x");
			snprintf(good[0], sizeof(good[0]), "%ld", r->min);
			snprintf(good[1], sizeof(good[1]), "%ld", r->max);
		} else if (r->kind == CONFIG_BOOL) {
			snprintf(bad[0], sizeof(bad[0]), "yes");
			snprintf(bad[1], sizeof(bad[1]), "TRUE");
			snprintf(good[0], sizeof(good[0]), "true");
			snprintf(good[1], sizeof(good[1]), "false");
		} else if (r->kind == CONFIG_ENUM || r->kind == CONFIG_WORD) {
			snprintf(bad[0], sizeof(bad[0]), "none-of-these");
			snprintf(good[0], sizeof(good[0]), "%.*s", (int)strcspn(r->words, "|"), r->words);
		} else {
			continue;
		}
		for (size_t b = 0; b < 3; b++) {
			if (bad[b][0] == '\0')
				continue;
			snprintf(text, sizeof(text), "%s%s = %s\n", base_conf(), r->name, bad[b]);
			if (load(text, &cfg, err, sizeof(err)) == 0) {
				config_free(&cfg);
				fail_msg("%s = %s loaded", r->name, bad[b]);
			}
			if (strstr(err, r->name) == NULL)
				fail_msg("%s = %s: \"%s\" does not name it", r->name, bad[b], err);
		}
		for (size_t g = 0; g < 2; g++) {
			if (good[g][0] == '\0')
				continue;
			snprintf(text, sizeof(text), "%s%s = %s\n", base_conf(), r->name, good[g]);
			if (load(text, &cfg, err, sizeof(err)) != 0)
				fail_msg("%s = %s: %s", r->name, good[g], err);
			config_free(&cfg);
		}
	}
	/* What a bool and a bound land as. */
	snprintf(text, sizeof(text), "%sdb_prepare = false\nmax_requests = 0\nsocket_mode = 0600\nlog_level = warn\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_false(cfg.db_prepare);
	assert_int_equal(cfg.max_requests, 0);
	assert_int_equal(cfg.socket_mode, 0600);
	assert_int_equal(cfg.log_level, 2);
	config_free(&cfg);
	snprintf(text, sizeof(text), "%ssocket_mode = 0800\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "socket_mode"));
}

/* The environment over the file, for scalar and per-network keys alike, and for a required key. */
static void test_environment_over_file(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], text[2048];

	snprintf(text, sizeof(text), "%sdrain_seconds = 5\nconfirmations.bsc = 20\ndb_prepare = true\n", base_conf());
	setenv("PAYMENTS_DRAIN_SECONDS", "7", 1);
	setenv("PAYMENTS_CONFIRMATIONS_BSC", "21", 1);
	setenv("PAYMENTS_DB_PREPARE", "false", 1);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.drain_seconds, 7);
	assert_int_equal(config_network(&cfg, "bsc")->confirmations, 21);
	assert_int_equal(config_network(&cfg, "ethereum")->confirmations, 12);
	assert_false(cfg.db_prepare);
	config_free(&cfg);
	setenv("PAYMENTS_DB_PREPARE", "no", 1);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "db_prepare"));
	unsetenv("PAYMENTS_DB_PREPARE");
	unsetenv("PAYMENTS_DRAIN_SECONDS");
	unsetenv("PAYMENTS_CONFIRMATIONS_BSC");
	/* A required key from the environment alone; an unknown variable is no setting. */
	snprintf(text, sizeof(text), "jwt_secret_file = %s\npublic_base_url = https://pay.example.com\n"
	         "escrow_address = 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\n", secret);
	setenv("PAYMENTS_DATABASE_URL", "dbname=from_env", 1);
	setenv("PAYMENTS_COLOUR", "blue", 1);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.database_url, "dbname=from_env");
	assert_string_equal(cfg.jobs.lock_database_url, "dbname=from_env");
	config_free(&cfg);
	unsetenv("PAYMENTS_DATABASE_URL");
	unsetenv("PAYMENTS_COLOUR");
}

/* Each key always required, left out, is refused by its name; one required with another only then. */
static void test_required_keys(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], text[2048];

	for (size_t i = 0; i < config_n_keys; i++) {
		const struct config_key *r = &config_keys[i];
		const char *s = base_conf();
		size_t o = 0, n = strlen(r->name);

		if (r->required_with == NULL || r->required_with[0] != '\0')
			continue;
		/* The base configuration without the key's line. */
		while (*s) {
			const char *nl = strchr(s, '\n');
			if (!(strncmp(s, r->name, n) == 0 && s[n] == ' '))
				o += (size_t)snprintf(text + o, sizeof(text) - o, "%.*s", (int)(nl - s + 1), s);
			s = nl + 1;
		}
		assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
		if (strstr(err, r->name) == NULL || strstr(err, "required") == NULL)
			fail_msg("%s left out: \"%s\"", r->name, err);
	}
	snprintf(text, sizeof(text), "%sshkeeper_url = https://shk.example.com\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shkeeper_api_key_file"));
	snprintf(text, sizeof(text), "%srpc.bsc = https://bsc.example\n", base_conf());
	assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chain_id.bsc"));
	/* Plain http only to this host: the host is the whole authority. */
	static const char *const rpc_ok[] = { "http://127.0.0.1:8545", "http://localhost", "http://[::1]:8545/rpc" };
	static const char *const rpc_refused[] = {
		"http://127.0.0.1.example.net", "http://localhost@example.net", "http://127.0.0.1:8545@example.net/",
		"http://localhost.example.net:8545", "http://127.0.0.1:", "http://127.0.0.1:85x5", "http://example.net",
	};
	for (size_t i = 0; i < sizeof(rpc_ok) / sizeof(rpc_ok[0]); i++) {
		snprintf(text, sizeof(text), "%srpc.bsc = %s\nchain_id.bsc = 56\n", base_conf(), rpc_ok[i]);
		if (load(text, &cfg, err, sizeof(err)) != 0)
			fail_msg("%s refused: %s", rpc_ok[i], err);
		config_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(rpc_refused) / sizeof(rpc_refused[0]); i++) {
		snprintf(text, sizeof(text), "%srpc.bsc = %s\nchain_id.bsc = 56\n", base_conf(), rpc_refused[i]);
		assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
		if (strstr(err, "rpc.bsc") == NULL)
			fail_msg("%s: \"%s\"", rpc_refused[i], err);
	}
	/* BVNK's credentials are read only with bvnk_url: without it, they are not looked at. */
	snprintf(text, sizeof(text), "%sbvnk_merchant_id = not an id\nbvnk_hawk_key_file = %s/none\n", base_conf(), dir);
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.bvnk_merchant_id, "");
	assert_null(cfg.bvnk_hawk_key);
	config_free(&cfg);
	/* Unknown keys, however close to a known one. */
	static const char *const unknown[] = { "jobs_batches = 1\n", "subscriber_x = 1\n", "Workers = 2\n", "rpc = x\n" };
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base_conf(), unknown[i]);
		assert_int_equal(load(text, &cfg, err, sizeof(err)), -1);
		if (strstr(err, "unknown setting") == NULL)
			fail_msg("%s: \"%s\"", unknown[i], err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_secret),
		cmocka_unit_test(test_llimit_per_crypto),
		cmocka_unit_test(test_environment_overrides),
		cmocka_unit_test(test_payout_fees),
		cmocka_unit_test(test_hot_wallet_key_file),
		cmocka_unit_test(test_shkeeper_payouts),
		cmocka_unit_test(test_bvnk_payouts),
		cmocka_unit_test(test_refusals_name_the_setting),
		cmocka_unit_test(test_streams_and_subscribers),
		cmocka_unit_test(test_subscriber_refusals_name_the_setting),
		cmocka_unit_test(test_rows_bounds_and_words),
		cmocka_unit_test(test_environment_over_file),
		cmocka_unit_test(test_required_keys),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
