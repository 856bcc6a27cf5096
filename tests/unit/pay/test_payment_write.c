/*
 * A payment's JSON, written by payment_write() (base/jw), the one place it is
 * made: strings escaped byte for byte as json-c escapes them with the flags
 * every response uses (where json-c passes a byte that is no UTF-8 through,
 * jw writes U+FFFD: base/utf8), and each row's bytes exactly what clients have
 * always received (fields in order, nulls, exact decimals, metadata as the
 * database holds it, the link that pays only while the payment takes payment).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/jw.h"
#include "http/resp.h"
#include "pay/payment.h"
#include "pay/payout.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define NCOLS 32

static void same_string(const char *s)
{
	struct buf b = BUF_INIT;
	json_object *o = json_object_new_string(s);

	jw_str(&b, s);
	assert_string_equal(b.data, json_object_to_json_string_ext(o, FLAGS));
	json_object_put(o);
	buf_free(&b);
}

static void test_strings(void **state)
{
	char all[256];

	(void)state;
	/* Every ASCII byte but NUL, alone between others and all in one run; a lone byte above is no character. */
	for (int c = 1; c < 256; c++) {
		char one[4] = { 'a', (char)c, 'z', 0 };
		struct buf b = BUF_INIT;
		if (c < 0x80) {
			same_string(one);
			all[c - 1] = (char)c;
			continue;
		}
		jw_str(&b, one);
		assert_string_equal(b.data, "\"a\\ufffdz\"");
		buf_free(&b);
	}
	all[0x7f] = '\0';
	same_string(all);
	same_string("");
	same_string("plain");
	same_string("a/b\\c\"d\u00e9\u20ac\U0001F600 \x7f");
	same_string("\"");
	same_string("\\\\");
	same_string("\n\r\t\b\f\x01\x1f");
}

static void test_ints(void **state)
{
	static const long long v[] = { 0, 1, -1, 9, 10, 12345, -987654321, INT64_MAX, INT64_MIN };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct buf b = BUF_INIT;
		json_object *o = json_object_new_int64(v[i]);
		jw_int(&b, v[i]);
		assert_string_equal(b.data, json_object_to_json_string_ext(o, FLAGS));
		json_object_put(o);
		buf_free(&b);
	}
}

/* One row of PAYOUT_COLUMNS as libpq hands it (NULL: SQL null). */
static PGresult *result_of(const char *const *values)
{
	PGresAttDesc attrs[NCOLS];
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	char names[NCOLS][16];     /* "c" and any int */

	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < NCOLS; i++) {
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		attrs[i].name = names[i];
		attrs[i].typid = 25;
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	assert_int_equal(PQsetResultAttrs(res, NCOLS, attrs), 1);
	for (int i = 0; i < NCOLS; i++)
		assert_int_equal(PQsetvalue(res, 0, i, (char *)values[i], values[i] ? (int)strlen(values[i]) : -1), 1);
	return res;
}

/* Rows as the database returns them (the payout columns at the end), and what clients have always got for them. */
static const char *const full[NCOLS] = {
	"6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5a", "in", "shkeeper", "pending", "unfunded", "pr-1", "o-1",
	"buyer_1", "seller-2", "12.50", "USDT", "bsc", "USDT", "0x55d398326f99059fF775485246999027B3197955",
	"0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222",
	"0xab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12", "12", "inv/42",
	"ext-\"quoted\"\\", "https://pay.example/i/42?x=1&y=\u00e9", "12.755102040816326530", "0.9985",
	"2026-01-01T12:00:00.000Z", "{\"big\": 123456789012345678901234567890, \"note\": \"a\\nb\", \"u\": \"\u00e9\"}",
	"buyer_1", "2026-01-01T11:00:00.000Z", "2026-01-01T12:00:01.123Z", NULL,
};
static const char *const sparse[NCOLS] = {
	"00000000-0000-0000-0000-000000000000", "out", "manual", "processing", "unfunded", "pr\t2", NULL,
	"b", NULL, "0.000000000000000001", "EUR", NULL, NULL, NULL, NULL, NULL, NULL, "0", NULL, NULL, NULL,
	NULL, NULL, NULL, "{}", "admin\x01", "2026-01-01T11:00:00.000Z", "2026-01-01T11:00:00.000Z", NULL,
	"release", "6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5a", "escrow",
};
static const char *const settled[NCOLS] = {
	"6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5a", "in", "shkeeper", "completed", "funded", "pr-1", "o-1",
	"buyer_1", "seller-2", "100000000000000000000.000000000000000000", "USDT", "bsc", "USDT", NULL,
	NULL, NULL, NULL, "3", NULL, NULL, "https://pay.example/i/42", NULL, NULL,
	NULL, "[1, 2.50, -0.0, \"</script>\"]", "buyer_1", "2026-01-01T11:00:00.000Z", "2026-01-01T12:00:01.123Z", "2026-01-01T12:00:01.123Z",
};
static const char full_json[] =
	"{\"id\":\"6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5a\",\"direction\":\"in\","
	"\"provider\":\"shkeeper\",\"status\":\"pending\",\"escrowState\":\"unfunded\","
	"\"purchaseRequestId\":\"pr-1\",\"sellerOfferId\":\"o-1\",\"buyerId\":\"buyer_1\","
	"\"sellerId\":\"seller-2\",\"amount\":{\"amount\":12.50,\"amountDecimal\":\"12.50\",\"currency\":\"USDT\"},"
	"\"blockchain\":{\"network\":\"bsc\",\"token\":\"USDT\","
	"\"tokenContract\":\"0x55d398326f99059fF775485246999027B3197955\"},"
	"\"receiverAddress\":\"0x1111111111111111111111111111111111111111\","
	"\"senderAddress\":\"0x2222222222222222222222222222222222222222\","
	"\"transactionHash\":\"0xab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12\","
	"\"confirmations\":12,\"providerPaymentId\":\"inv/42\","
	"\"externalId\":\"ext-\\\"quoted\\\"\\\\\","
	"\"paymentUrl\":\"https://pay.example/i/42?x=1&y=\xc3\xa9" "\","
	"\"cryptoAmount\":12.755102040816326530,\"cryptoAmountDecimal\":\"12.755102040816326530\","
	"\"exchangeRate\":0.9985,\"exchangeRateDecimal\":\"0.9985\","
	"\"expiresAt\":\"2026-01-01T12:00:00.000Z\","
	"\"metadata\":{\"big\": 123456789012345678901234567890, \"note\": \"a\\nb\","
	" \"u\": \"\xc3\xa9" "\"},\"createdBy\":\"buyer_1\","
	"\"createdAt\":\"2026-01-01T11:00:00.000Z\",\"updatedAt\":\"2026-01-01T12:00:01.123Z\","
	"\"completedAt\":null}";

static const char sparse_json[] =
	"{\"id\":\"00000000-0000-0000-0000-000000000000\",\"direction\":\"out\","
	"\"provider\":\"manual\",\"status\":\"processing\",\"escrowState\":\"unfunded\","
	"\"purchaseRequestId\":\"pr\\t2\",\"sellerOfferId\":null,\"buyerId\":\"b\","
	"\"sellerId\":null,\"amount\":{\"amount\":0.000000000000000001,"
	"\"amountDecimal\":\"0.000000000000000001\",\"currency\":\"EUR\"},"
	"\"blockchain\":{\"network\":null,\"token\":null,\"tokenContract\":null},"
	"\"receiverAddress\":null,\"senderAddress\":null,\"transactionHash\":null,"
	"\"confirmations\":0,\"providerPaymentId\":null,\"externalId\":null,\"paymentUrl\":null,"
	"\"cryptoAmount\":null,\"cryptoAmountDecimal\":null,\"exchangeRate\":null,"
	"\"exchangeRateDecimal\":null,\"expiresAt\":null,\"metadata\":{},"
	"\"createdBy\":\"admin\\u0001\",\"createdAt\":\"2026-01-01T11:00:00.000Z\","
	"\"updatedAt\":\"2026-01-01T11:00:00.000Z\",\"completedAt\":null}";

static const char settled_json[] =
	"{\"id\":\"6f1c2a4e-8d0b-4c52-9a53-1f1e2d3c4b5a\",\"direction\":\"in\","
	"\"provider\":\"shkeeper\",\"status\":\"completed\",\"escrowState\":\"funded\","
	"\"purchaseRequestId\":\"pr-1\",\"sellerOfferId\":\"o-1\",\"buyerId\":\"buyer_1\","
	"\"sellerId\":\"seller-2\",\"amount\":{\"amount\":100000000000000000000.000000000000000000,"
	"\"amountDecimal\":\"100000000000000000000.000000000000000000\",\"currency\":\"USDT\"},\"blockchain\":{\"network\":\"bsc\",\"token\":\"USDT\","
	"\"tokenContract\":null},\"receiverAddress\":null,\"senderAddress\":null,"
	"\"transactionHash\":null,\"confirmations\":3,\"providerPaymentId\":null,"
	"\"externalId\":null,\"paymentUrl\":null,\"cryptoAmount\":null,\"cryptoAmountDecimal\":null,"
	"\"exchangeRate\":null,\"exchangeRateDecimal\":null,"
	"\"expiresAt\":null,\"metadata\":[1, 2.50, -0.0, \"</script>\"],\"createdBy\":\"buyer_1\","
	"\"createdAt\":\"2026-01-01T11:00:00.000Z\",\"updatedAt\":\"2026-01-01T12:00:01.123Z\","
	"\"completedAt\":\"2026-01-01T12:00:01.123Z\"}";
static int sink_keep(void *ctx, const void *data, size_t len)
{
	buf_append(ctx, data, len);
	return 0;
}

/* The body a client receives for data answered as a json-c tree (the head cut off). */
static char *tree_answer(int status, json_object *data, const char *message)
{
	struct buf got = BUF_INIT;
	struct sink s = { sink_keep, &got };
	struct response r;
	char *body;

	resp_init(&r, &s, "rid");
	resp_ok(&r, status, data, message);
	resp_finish(&r);
	resp_free(&r);
	body = strstr(got.data, "\r\n\r\n");
	assert_non_null(body);
	body = strdup(body + 4);
	buf_free(&got);
	return body;
}

static void same_payment(const char *const *values, const char *want)
{
	PGresult *res = result_of(values);
	struct buf b = BUF_INIT, got = BUF_INIT, envelope = BUF_INIT;
	struct sink s = { sink_keep, &got };
	struct response r;
	char *tree;

	payment_write(&b, res, 0);
	assert_string_equal(b.data, want);
	/* Valid JSON, an object. */
	json_object *parsed = json_tokener_parse(b.data);
	assert_non_null(parsed);
	assert_true(json_object_is_type(parsed, json_type_object));
	json_object_put(parsed);

	/* Nested in a tree, the same bytes: alone, with a message, in a list. */
	buf_reset(&b);
	buf_printf(&b, "{\"success\":true,\"data\":%s}", want);
	tree = tree_answer(200, payment_json(res, 0), NULL);
	assert_string_equal(tree, b.data);
	free(tree);
	json_object *list = json_object_new_array();
	json_object_array_add(list, payment_json(res, 0));
	json_object_array_add(list, payment_json(res, 0));
	buf_reset(&b);
	buf_printf(&b, "{\"success\":true,\"message\":\"payment \\\"x\\\"\\n\",\"data\":[%s,%s]}", want, want);
	tree = tree_answer(201, list, "payment \"x\"\n");
	assert_string_equal(tree, b.data);
	free(tree);

	/* Written into the envelope by hand, as GET /:id does: what resp_ok() writes. */
	resp_init(&r, &s, "rid");
	payment_write(resp_ok_open(&r, 201, "payment \"x\"\n"), res, 0);
	resp_ok_close(&r);
	resp_finish(&r);
	resp_free(&r);
	buf_reset(&b);
	buf_printf(&b, "{\"success\":true,\"message\":\"payment \\\"x\\\"\\n\",\"data\":%s}", want);
	assert_non_null(strstr(got.data, "\r\n\r\n"));
	assert_string_equal(strstr(got.data, "\r\n\r\n") + 4, b.data);

	/* A payout: the payment's members, then its own. */
	buf_reset(&b);
	buf_append(&b, want, strlen(want) - 1);
	buf_printf(&b, ",\"kind\":%s%s%s,\"payinId\":%s%s%s,\"basis\":%s%s%s}",
	           values[29] ? "\"" : "", values[29] ? values[29] : "null", values[29] ? "\"" : "",
	           values[30] ? "\"" : "", values[30] ? values[30] : "null", values[30] ? "\"" : "",
	           values[31] ? "\"" : "", values[31] ? values[31] : "null", values[31] ? "\"" : "");
	buf_reset(&envelope);
	payout_write(&envelope, res, 0);
	assert_string_equal(envelope.data, b.data);
	json_object *payout = payout_json(res, 0);
	assert_string_equal(json_object_to_json_string_ext(payout, FLAGS), b.data);
	json_object_put(payout);

	buf_free(&b);
	buf_free(&got);
	buf_free(&envelope);
	PQclear(res);
}

static void test_payment_rows(void **state)
{
	(void)state;
	same_payment(full, full_json);
	same_payment(sparse, sparse_json);
	same_payment(settled, settled_json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_payment_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
