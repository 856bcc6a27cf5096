/* Routing by method and pattern, query parsing, and the forward-only state rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"
#include "pay/payment.h"

static void h_a(struct request *req, struct response *resp) { (void)req; (void)resp; }
static void h_b(struct request *req, struct response *resp) { (void)req; (void)resp; }
static void h_c(struct request *req, struct response *resp) { (void)req; (void)resp; }

static const struct route routes[] = {
	{ HTTP_GET, "/api/payment/stats", h_a, ACCESS_USER, 0 },
	{ HTTP_GET, "/api/payment/:id/debug", h_b, ACCESS_ADMIN, 0 },
	{ HTTP_GET, "/api/payment/:id", h_c, ACCESS_USER, 0 },
	{ HTTP_PUT, "/api/payment/:id", h_c, ACCESS_USER, 0 },
	{ HTTP_POST, "/api/payment/webhooks/:deliveryId/replay", h_a, ACCESS_ADMIN, 0 },
	{ HTTP_GET, "/api/payment/user/:userId", h_b, ACCESS_SELF, 0 },
	{ HTTP_POST, "/api/payment/dev/test", h_a, ACCESS_PUBLIC, ROUTE_DEV },
};

#define ID "6f1c2a4e-0000-4000-8000-000000000001"

static char allow[64];

static enum route_match find(enum http_method m, const char *path, struct request *req,
                             const struct route **r)
{
	memset(req, 0, sizeof(*req));
	req->method = m;
	req->path = path;
	return router_find(routes, sizeof(routes) / sizeof(routes[0]), 0, req, r, allow);
}

static void test_literal_before_pattern(void **state)
{
	(void)state;
	struct request req;
	const struct route *r;

	assert_int_equal(find(HTTP_GET, "/api/payment/stats", &req, &r), ROUTE_FOUND);
	assert_ptr_equal(r->fn, h_a);
	assert_int_equal(find(HTTP_GET, "/api/payment/" ID "/debug", &req, &r), ROUTE_FOUND);
	assert_ptr_equal(r->fn, h_b);
	assert_string_equal(req_path_param(&req, "id"), ID);
	assert_int_equal(find(HTTP_GET, "/api/payment/" ID, &req, &r), ROUTE_FOUND);
	assert_string_equal(req_path_param(&req, "id"), ID);
	assert_null(req_path_param(&req, "userId"));
}

static void test_misses(void **state)
{
	(void)state;
	struct request req;
	const struct route *r;
	char long_id[200] = "/api/payment/";

	assert_int_equal(find(HTTP_DELETE, "/api/payment/" ID, &req, &r), ROUTE_BAD_METHOD);
	assert_string_equal(allow, "GET, PUT");
	/* A literal path is never taken as an id, whatever the method. */
	assert_int_equal(find(HTTP_PUT, "/api/payment/stats", &req, &r), ROUTE_BAD_METHOD);
	assert_string_equal(allow, "GET");
	assert_int_equal(find(HTTP_GET, "/api/payment/" ID "/other", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_GET, "/api/payment//debug", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_GET, "/api/paymentx", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_GET, "/", &req, &r), ROUTE_NOT_FOUND);
	memset(long_id + 13, 'a', 100);
	assert_int_equal(find(HTTP_GET, long_id, &req, &r), ROUTE_NOT_FOUND);
}

/* A parameter matches only a segment of its shape: an unknown path is not a payment id. */
static void test_parameter_shapes(void **state)
{
	(void)state;
	struct request req;
	const struct route *r;

	assert_int_equal(find(HTTP_GET, "/api/payment/xyz", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_DELETE, "/api/payment/xyz", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_GET, "/api/payment/xyz/debug", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_GET, "/api/payment/6f1c2a4e000040008000000000000001", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_GET, "/api/payment/6F1C2A4E-0000-4000-8000-00000000000A", &req, &r), ROUTE_FOUND);
	assert_int_equal(find(HTTP_POST, "/api/payment/webhooks/123/replay", &req, &r), ROUTE_FOUND);
	assert_string_equal(req_path_param(&req, "deliveryId"), "123");
	assert_int_equal(find(HTTP_POST, "/api/payment/webhooks/12a/replay", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_POST, "/api/payment/webhooks/1234567890123456789/replay", &req, &r), ROUTE_NOT_FOUND);
	/* Other parameters take any segment; their handler or the dispatcher checks them. */
	assert_int_equal(find(HTTP_GET, "/api/payment/user/bad!id", &req, &r), ROUTE_FOUND);
	assert_string_equal(req_path_param(&req, "userId"), "bad!id");
}

static void test_query(void **state)
{
	(void)state;
	struct request req = { .query = "status=completed%2Cpending&limit=10&flag&x=a+b&bad=%zz&cut=%4" };
	char out[32];

	assert_int_equal(req_query(&req, "status", out, sizeof(out)), 1);
	assert_string_equal(out, "completed,pending");
	assert_int_equal(req_query(&req, "limit", out, sizeof(out)), 1);
	assert_string_equal(out, "10");
	assert_int_equal(req_query(&req, "flag", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(req_query(&req, "x", out, sizeof(out)), 1);
	assert_string_equal(out, "a b");
	assert_int_equal(req_query(&req, "lim", out, sizeof(out)), 0);
	assert_int_equal(req_query(&req, "bad", out, sizeof(out)), -1);
	assert_int_equal(req_query(&req, "cut", out, sizeof(out)), -1);
	assert_int_equal(req_query(&req, "status", out, 5), -1);
	/* A parameter given twice is not ours to choose from. */
	struct request twice = { .query = "limit=1&x=2&limit=100&li=3" };
	assert_int_equal(req_query(&twice, "limit", out, sizeof(out)), -1);
	assert_int_equal(req_query(&twice, "li", out, sizeof(out)), 1);
	assert_string_equal(out, "3");
}

static void test_query_numbers(void **state)
{
	(void)state;
	static const char *const bad[] = { "n=+5", "n=%205", "n=5%20", "n=-1", "n=0x1", "n=1e2", "n=", "n",
	                                   "n=1234567890123456789", "n=5&n=5", "n=%2B5", "n=1.0" };
	static const char *const good[] = { "n=5", "n=005", "n=0", "x=1" };
	struct response resp;
	struct sink sink = { NULL, NULL };
	long v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct request req = { .query = bad[i] };
		resp_init(&resp, &sink, "t");
		if (req_query_long(&req, &resp, "n", 7, 0, 100, &v) != -1 || resp.status != 400)
			fail_msg("accepted %s", bad[i]);
		resp_free(&resp);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct request req = { .query = good[i] };
		resp_init(&resp, &sink, "t");
		if (req_query_long(&req, &resp, "n", 7, 0, 100, &v) != 0)
			fail_msg("refused %s", good[i]);
		resp_free(&resp);
	}
	struct request req = { .query = "n=005" };
	resp_init(&resp, &sink, "t");
	assert_int_equal(req_query_long(&req, &resp, "n", 7, 0, 100, &v), 0);
	assert_int_equal(v, 5);
	resp_free(&resp);
}

static void test_media_types(void **state)
{
	(void)state;
	static const char *const json[] = {
		"application/json", "APPLICATION/JSON", "application/json;charset=utf-8", "application/json; charset=UTF8",
		"application/json ; charset=\"utf-8\"", "application/json;", "application/json; a=b; c=\"d;e\"",
		" application/json ", "application/json;;",
	};
	static const char *const other[] = {
		"", "application/jsonx", "application/json-seq", "application/json+x", "text/json", "application/",
		"application/json x", "application/json; charset=latin1", "application/json; charset=\"utf-16\"",
		"application/json; a", "application/json; a=", "application/json; =b", "application/json; a=\"b",
		"application/json; a=b c", "application/json,text/plain", "application/json\t;x=\"\x01\"",
	};
	for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++)
		if (!req_media_type_is_json(json[i]))
			fail_msg("refused %s", json[i]);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (req_media_type_is_json(other[i]))
			fail_msg("accepted %s", other[i]);
}

static void test_state_moves_forward_only(void **state)
{
	(void)state;
	assert_true(payment_status_allows("pending", "completed"));
	assert_true(payment_status_allows("processing", "completed"));
	assert_true(payment_status_allows("completed", "released"));
	assert_true(payment_status_allows("completed", "refunded"));
	assert_false(payment_status_allows("completed", "pending"));
	assert_false(payment_status_allows("completed", "failed"));
	assert_false(payment_status_allows("failed", "completed"));
	assert_false(payment_status_allows("released", "refunded"));
	assert_false(payment_status_allows("pending", "released"));
	assert_true(payment_escrow_allows("unfunded", "partial"));
	assert_true(payment_escrow_allows("partial", "funded"));
	assert_false(payment_escrow_allows("funded", "partial"));
	assert_false(payment_escrow_allows("released", "funded"));
	assert_string_equal(payment_escrow_for("completed", "unfunded"), "funded");
	assert_string_equal(payment_escrow_for("failed", "unfunded"), "unfunded");
}

/* A skipped route (dev routes outside dev mode) is not there: 404 for every method, never a 405 naming it. */
static void test_skipped_routes_absent(void **state)
{
	(void)state;
	struct request req;
	const struct route *r = NULL;

	assert_int_equal(find(HTTP_POST, "/api/payment/dev/test", &req, &r), ROUTE_FOUND);
	assert_int_equal(find(HTTP_GET, "/api/payment/dev/test", &req, &r), ROUTE_BAD_METHOD);
	assert_string_equal(allow, "POST");
	for (enum http_method m = HTTP_GET; m <= HTTP_PATCH; m++) {
		memset(&req, 0, sizeof(req));
		req.method = m;
		req.path = "/api/payment/dev/test";
		allow[0] = 'x';
		assert_int_equal(router_find(routes, sizeof(routes) / sizeof(routes[0]), ROUTE_DEV, &req, &r, allow),
		                 ROUTE_NOT_FOUND);
		assert_string_equal(allow, "");
	}
	/* The others are found as before. */
	memset(&req, 0, sizeof(req));
	req.method = HTTP_GET;
	req.path = "/api/payment/stats";
	assert_int_equal(router_find(routes, sizeof(routes) / sizeof(routes[0]), ROUTE_DEV, &req, &r, allow), ROUTE_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_before_pattern),
		cmocka_unit_test(test_misses),
		cmocka_unit_test(test_parameter_shapes),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_numbers),
		cmocka_unit_test(test_media_types),
		cmocka_unit_test(test_state_moves_forward_only),
		cmocka_unit_test(test_skipped_routes_absent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
