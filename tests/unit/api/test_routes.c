/*
 * The route table read as data: who may call what is decided there, so a
 * route that opens up by mistake, or a user route whose access rule would
 * be left to its handler, fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/routes.h"

/* Every route anyone may call without a token; a new one is added here on purpose. */
static const char *const public_routes[] = {
	"GET /api/payment/health",
	"POST /api/payment/configuration",
	"GET /api/payment/shkeeper/config",
	"GET /api/payment/openapi.json",
	"POST /api/payment/callback",
	"POST /api/payment/shkeeper/webhook",
	"POST /api/payment/shkeeper/payout/webhook",
	"POST /api/payment/bvnk/webhook",
	"GET /api/payment/shkeeper/wallet-monitor/status",
	"GET /api/payment/shkeeper/auto-webhook/status",
	"GET /api/payment/decentralized/receiver",
};

static bool listed_public(const struct route *r)
{
	char key[256];

	snprintf(key, sizeof(key), "%s %s", http_method_name(r->method), r->pattern);
	for (size_t i = 0; i < sizeof(public_routes) / sizeof(public_routes[0]); i++)
		if (strcmp(key, public_routes[i]) == 0)
			return true;
	return false;
}

static void test_public_routes_are_listed(void **state)
{
	(void)state;
	for (size_t i = 0; i < app_routes_len; i++) {
		const struct route *r = &app_routes[i];

		if (r->access != ACCESS_PUBLIC || (r->flags & ROUTE_DEV))
			continue;
		if (!listed_public(r))
			fail_msg("%s %s is public but not in the allow-list", http_method_name(r->method),
			         r->pattern);
	}
}

static void test_user_scoped_routes_check_the_user(void **state)
{
	(void)state;
	for (size_t i = 0; i < app_routes_len; i++) {
		const struct route *r = &app_routes[i];

		if (strstr(r->pattern, ":userId") != NULL && r->access != ACCESS_SELF &&
		    r->access != ACCESS_ADMIN)
			fail_msg("%s names a user but is not ACCESS_SELF", r->pattern);
	}
}

static void test_dev_routes_are_the_seed_helpers(void **state)
{
	static const char *const dev[] = { "/shkeeper/test", "/shkeeper/callback-test",
		                           "/shkeeper/create-test-payment", "/shkeeper/trigger-webhook" };

	(void)state;
	for (size_t i = 0; i < app_routes_len; i++) {
		const struct route *r = &app_routes[i];
		bool known = false;

		if (!(r->flags & ROUTE_DEV))
			continue;
		for (size_t k = 0; k < sizeof(dev) / sizeof(dev[0]); k++)
			known |= strcmp(r->pattern + strlen("/api/payment"), dev[k]) == 0;
		if (!known)
			fail_msg("%s is dev-only but not one of the seeds' development helpers", r->pattern);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_routes_are_listed),
		cmocka_unit_test(test_user_scoped_routes_check_the_user),
		cmocka_unit_test(test_dev_routes_are_the_seed_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
