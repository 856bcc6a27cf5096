/*
 * BVNK's wire formats: the Hawk header of API calls (against Hawk's own
 * published example, whose normalised string without `ext` is the one we
 * send), the webhook signature in each signed-material variant, both webhook
 * envelopes, and the payout object of BVNK's documented examples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bvnk/bvnk.h"

static void test_hawk_header(void **state)
{
	static const char key[] = "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn";
	char out[300];

	(void)state;
	/* Hawk's example request (id dh37fgj492je, ts 1353832234, nonce j4h3g2, GET /resource/1?b=1&a=2 on
	 * example.com:8000); with ext "some-app-ext-data" its MAC is 6R4rV5iE…, without ext this one. */
	assert_int_equal(bvnk_hawk_header("dh37fgj492je", key, strlen(key), "GET", "example.com", 8000,
	                                  "/resource/1?b=1&a=2", 1353832234, "j4h3g2", out, sizeof(out)), 0);
	assert_string_equal(out, "Hawk id=\"dh37fgj492je\", ts=\"1353832234\", nonce=\"j4h3g2\", "
	                         "mac=\"nfp3t5BVkMvjhU3PrD0ftTp7NcVpETEX2HEi/Fo4S2g=\"");
	assert_int_equal(bvnk_hawk_header("dh37fgj492je", key, strlen(key), "GET", "example.com", 8000,
	                                  "/resource/1?b=1&a=2", 1353832234, "j4h3g2", out, 40), -1);
}

static const char body[] = "{\"source\":\"payment\",\"event\":\"statusChanged\",\"data\":{\"uuid\":\"u-1\",\"status\":\"COMPLETE\"}}";

static void test_webhook_signature_variants(void **state)
{
	static char secret[] = "bvnk-webhook-secret-0123456789";
	struct config cfg;
	static const struct {
		enum config_bvnk_signing mode;
		const char *signature;
	} cases[] = {
		/* HMAC-SHA256 over URL + Content-Type + body, over path + Content-Type + body, over the body alone. */
		{ BVNK_SIGNS_URL, "d5926dfa7cfbae39c382ac53a7b27a495fd1a5f6fe3014f9df44e7d3821fb01b" },
		{ BVNK_SIGNS_PATH, "b7ccb9251c42af3480c2fde6f87497384057540e884498a4bc176a14b589e482" },
		{ BVNK_SIGNS_BODY, "e5591759fa2bfc5cda4c8dd136dee8cce5c602483e2f4d97d7334abe984b0721" },
	};

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.bvnk_webhook_url, sizeof(cfg.bvnk_webhook_url), "https://pay.example.com/api/payment/bvnk/webhook");
	cfg.bvnk_webhook_secret = secret;
	cfg.bvnk_webhook_secret_len = strlen(secret);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg.bvnk_webhook_signing = cases[i].mode;
		assert_true(bvnk_webhook_authentic(&cfg, cases[i].signature, "application/json", body, strlen(body)));
		/* Each variant refuses the others' signatures. */
		assert_false(bvnk_webhook_authentic(&cfg, cases[(i + 1) % 3].signature, "application/json", body, strlen(body)));
	}
	cfg.bvnk_webhook_signing = BVNK_SIGNS_URL;
	char upper[65];
	for (int i = 0; i < 64; i++)
		upper[i] = (char)(cases[0].signature[i] >= 'a' ? cases[0].signature[i] - 32 : cases[0].signature[i]);
	upper[64] = '\0';
	assert_true(bvnk_webhook_authentic(&cfg, upper, "application/json", body, strlen(body)));
	/* The Content-Type received is part of what is signed; so is every byte of the body. */
	assert_false(bvnk_webhook_authentic(&cfg, cases[0].signature, "application/json; charset=utf-8", body, strlen(body)));
	assert_false(bvnk_webhook_authentic(&cfg, cases[0].signature, "application/json", body, strlen(body) - 1));
	assert_false(bvnk_webhook_authentic(&cfg, NULL, "application/json", body, strlen(body)));
	assert_false(bvnk_webhook_authentic(&cfg, "d5926dfa", "application/json", body, strlen(body)));
	cfg.bvnk_webhook_secret = NULL;
	assert_false(bvnk_webhook_authentic(&cfg, cases[0].signature, "application/json", body, strlen(body)));
}

static void test_envelopes_and_payout(void **state)
{
	struct bvnk_event ev;
	struct bvnk_payout p;
	char err[200];
	json_object *legacy = json_tokener_parse(
		"{\"source\":\"payment\",\"event\":\"transactionOnHold\",\"data\":{\"uuid\":\"da19a0a7-73de-4033-b042-e3545682c06d\","
		"\"reference\":\"REF286000\",\"type\":\"OUT\",\"status\":\"PROCESSING\",\"address\":{\"address\":"
		"\"0x84A4a239805d06c685219801B82BEA7c76702214\"},\"transactions\":[{\"hash\":null,\"amount\":0.011,\"isOnHold\":true}]}}");
	json_object *newer = json_tokener_parse(
		"{\"event\":\"bvnk:payment:crypto:status-change\",\"eventId\":\"3f1c0a8e-0d55-4f5e-9a47-7c2f0e6d3a10\","
		"\"timestamp\":\"2026-01-01T12:00:00Z\",\"data\":{\"uuid\":\"07905528-d72e-40dd-a1b4-fb8ec2f748c8\","
		"\"reference\":\"r-1\",\"status\":\"COMPLETE\",\"transactions\":[{\"hash\":"
		"\"0x30c18d5eed6c02418506d69d87c59ee52c2e10753bbccea035346b81c1e1a7e0\",\"isOnHold\":false}]}}");
	json_object *neither = json_tokener_parse("{\"event\":\"statusChanged\",\"data\":[]}");

	(void)state;
	assert_int_equal(bvnk_read_event(legacy, &ev, err, sizeof(err)), 0);
	assert_string_equal(ev.event, "transactionOnHold");
	assert_string_equal(ev.event_id, "");
	assert_true(ev.on_hold);
	assert_int_equal(bvnk_read_payout(ev.data, &p, err, sizeof(err)), 0);
	assert_string_equal(p.uuid, "da19a0a7-73de-4033-b042-e3545682c06d");
	assert_string_equal(p.status, "PROCESSING");
	assert_true(p.on_hold);
	assert_string_equal(p.tx_hash, "");
	assert_string_equal(p.address, "0x84A4a239805d06c685219801B82BEA7c76702214");

	assert_int_equal(bvnk_read_event(newer, &ev, err, sizeof(err)), 0);
	assert_string_equal(ev.event_id, "3f1c0a8e-0d55-4f5e-9a47-7c2f0e6d3a10");
	assert_false(ev.on_hold);
	assert_int_equal(bvnk_read_payout(ev.data, &p, err, sizeof(err)), 0);
	assert_string_equal(p.status, "COMPLETE");
	assert_false(p.on_hold);
	assert_string_equal(p.tx_hash, "0x30c18d5eed6c02418506d69d87c59ee52c2e10753bbccea035346b81c1e1a7e0");

	assert_int_equal(bvnk_read_event(neither, &ev, err, sizeof(err)), -1);
	json_object_put(legacy);
	json_object_put(newer);
	json_object_put(neither);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hawk_header),
		cmocka_unit_test(test_webhook_signature_variants),
		cmocka_unit_test(test_envelopes_and_payout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
