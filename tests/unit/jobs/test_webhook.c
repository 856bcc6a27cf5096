/*
 * What leaves the relay and the delivery jobs, byte for byte: the webhook
 * signature (README's test vector), the retry schedule, the SSE block nginx
 * passes to browsers as it is, and nginx's message id read from its answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/stream.h"
#include "jobs/webhook.h"

static void test_signature_vector(void **state)
{
	static const char secret[] = "subscriber-secret-0123456789abcdef";
	static const char body[] =
	    "{\"id\": 1, \"data\": {\"status\": \"completed\", \"paymentId\": \"5b2f7c64-0d55-4f5e-9a47-7c2f0e6d3a10\"}, "
	    "\"prev\": null, \"room\": \"user:alice\", \"event\": \"payment-update\", \"createdAt\": "
	    "\"2026-01-01T12:00:00.000Z\", \"paymentId\": \"5b2f7c64-0d55-4f5e-9a47-7c2f0e6d3a10\"}";
	char sig[65];

	(void)state;
	assert_int_equal(webhook_sign(secret, strlen(secret), "1700000000", body, strlen(body), sig), 0);
	assert_string_equal(sig, "18be7aae4722200fe120d17eea2ac5a28b0e2e920e05aeda8725484a17ab833d");
	/* Every byte counts: the timestamp, the separator, the body. */
	assert_int_equal(webhook_sign(secret, strlen(secret), "1700000001", body, strlen(body), sig), 0);
	assert_string_not_equal(sig, "18be7aae4722200fe120d17eea2ac5a28b0e2e920e05aeda8725484a17ab833d");
	assert_int_equal(webhook_sign(secret, strlen(secret), "1700000000", body, strlen(body) - 1, sig), 0);
	assert_string_not_equal(sig, "18be7aae4722200fe120d17eea2ac5a28b0e2e920e05aeda8725484a17ab833d");
}

static void test_backoff_doubles_up_to_the_cap(void **state)
{
	(void)state;
	assert_int_equal(webhook_backoff(0, 10, 3600), 10);
	assert_int_equal(webhook_backoff(1, 10, 3600), 20);
	assert_int_equal(webhook_backoff(5, 10, 3600), 320);
	assert_int_equal(webhook_backoff(9, 10, 3600), 3600);
	assert_int_equal(webhook_backoff(10000, 10, 3600), 3600);
	assert_int_equal(webhook_backoff(3, 1, 2), 2);
}

static void test_frame(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(stream_frame("42", "payment-update", "{\"id\": 42}", &b), STREAM_OK);
	assert_string_equal(b.data, "id: 42\nevent: payment-update\ndata: {\"id\": 42}\n");
	buf_reset(&b);
	/* A line break would end the block early or forge another field: never framed. */
	assert_int_equal(stream_frame("42", "payment-update", "{\"a\":\n1}", &b), STREAM_BAD_EVENT);
	assert_int_equal(stream_frame("42", "x\ndata: forged", "{}", &b), STREAM_BAD_EVENT);
	assert_int_equal(stream_frame("4\r2", "x", "{}", &b), STREAM_BAD_EVENT);
	assert_int_equal(stream_frame("", "x", "{}", &b), STREAM_BAD_EVENT);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_msg_id(void **state)
{
	static const char answer[] = "{\"messages\": 3, \"requested\": 0, \"subscribers\": 1, \"last_message_id\": \"1796030260:12\" }";
	char id[STREAM_MSG_ID_MAX + 1];

	(void)state;
	assert_true(stream_parse_msg_id(answer, strlen(answer), id));
	assert_string_equal(id, "1796030260:12");
	assert_false(stream_parse_msg_id("{\"last_message_id\": \"1:2,3\"}", 28, id));
	assert_string_equal(id, "");
	assert_false(stream_parse_msg_id("{\"last_message_id\": \"x:1\"}", 26, id));
	assert_false(stream_parse_msg_id("{\"last_message_id\": 5}", 22, id));
	assert_false(stream_parse_msg_id("queued messages: 3", 18, id));
	assert_false(stream_parse_msg_id("", 0, id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_vector),
		cmocka_unit_test(test_backoff_doubles_up_to_the_cap),
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_msg_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
