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
};

static char allow[64];

static enum route_match find(enum http_method m, const char *path, struct request *req,
                             const struct route **r)
{
	memset(req, 0, sizeof(*req));
	req->method = m;
	req->path = path;
	return router_find(routes, 4, req, r, allow);
}

static void test_literal_before_pattern(void **state)
{
	(void)state;
	struct request req;
	const struct route *r;

	assert_int_equal(find(HTTP_GET, "/api/payment/stats", &req, &r), ROUTE_FOUND);
	assert_ptr_equal(r->fn, h_a);
	assert_int_equal(find(HTTP_GET, "/api/payment/abc/debug", &req, &r), ROUTE_FOUND);
	assert_ptr_equal(r->fn, h_b);
	assert_string_equal(req_path_param(&req, "id"), "abc");
	assert_int_equal(find(HTTP_GET, "/api/payment/xyz", &req, &r), ROUTE_FOUND);
	assert_string_equal(req_path_param(&req, "id"), "xyz");
	assert_null(req_path_param(&req, "userId"));
}

static void test_misses(void **state)
{
	(void)state;
	struct request req;
	const struct route *r;
	char long_id[200] = "/api/payment/";

	assert_int_equal(find(HTTP_DELETE, "/api/payment/xyz", &req, &r), ROUTE_BAD_METHOD);
	assert_string_equal(allow, "GET, PUT");
	/* A literal path is never taken as an id, whatever the method. */
	assert_int_equal(find(HTTP_PUT, "/api/payment/stats", &req, &r), ROUTE_BAD_METHOD);
	assert_string_equal(allow, "GET");
	assert_int_equal(find(HTTP_GET, "/api/payment/xyz/other", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_GET, "/api/payment//debug", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_GET, "/api/paymentx", &req, &r), ROUTE_NOT_FOUND);
	assert_int_equal(find(HTTP_GET, "/", &req, &r), ROUTE_NOT_FOUND);
	memset(long_id + 13, 'a', 100);
	assert_int_equal(find(HTTP_GET, long_id, &req, &r), ROUTE_NOT_FOUND);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_before_pattern),
		cmocka_unit_test(test_misses),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_state_moves_forward_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
