/*
 * The OpenAPI document against the route table: every route is an operation
 * of the document with the access the table enforces, the dev-only mark and
 * the Idempotency-Key where the dispatcher takes one; every operation is a
 * route, or says it is served by nginx. A route added without its operation
 * (or the other way round) fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "api/openapi.h"
#include "api/routes.h"

#define PREFIX "/api/payment"

static json_object *doc;

static int setup(void **state)
{
	(void)state;
	doc = json_tokener_parse(openapi_json);
	return doc == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	json_object_put(doc);
	return 0;
}

/* "/api/payment/:id/release" -> "/{id}/release"; the bare prefix is "/". */
static void doc_path(const char *pattern, char *out, size_t len)
{
	const char *p = pattern + strlen(PREFIX);
	size_t n = 0;

	if (*p == '\0')
		p = "/";
	while (*p && n + 2 < len) {
		if (*p == ':') {
			size_t k = strcspn(p + 1, "/");
			n += (size_t)snprintf(out + n, len - n, "{%.*s}", (int)k, p + 1);
			p += k + 1;
		} else {
			out[n++] = *p++;
		}
	}
	out[n < len ? n : len - 1] = '\0';
}

static void lower(const char *in, char *out, size_t len)
{
	size_t i = 0;

	for (; in[i] && i + 1 < len; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
	out[i] = '\0';
}

static json_object *operation(const struct route *r)
{
	json_object *paths, *item, *op;
	char path[256], method[16];

	doc_path(r->pattern, path, sizeof(path));
	lower(http_method_name(r->method), method, sizeof(method));
	if (!json_object_object_get_ex(doc, "paths", &paths) || !json_object_object_get_ex(paths, path, &item) ||
	    !json_object_object_get_ex(item, method, &op))
		return NULL;
	return op;
}

static const char *access_word(enum access a)
{
	switch (a) {
	case ACCESS_PUBLIC: return "public";
	case ACCESS_USER: return "user";
	case ACCESS_SELF: return "self";
	case ACCESS_SELLER: return "seller";
	case ACCESS_ADMIN: return "admin";
	case ACCESS_JOB: return "job";
	case ACCESS_METRICS: return "metrics";
	}
	return "?";
}

static bool flag(json_object *op, const char *name)
{
	json_object *v;

	return json_object_object_get_ex(op, name, &v) && json_object_get_boolean(v);
}

/* Does the operation list the shared Idempotency-Key header parameter? */
static bool takes_idempotency_key(json_object *op)
{
	json_object *params, *ref;

	if (!json_object_object_get_ex(op, "parameters", &params))
		return false;
	for (size_t i = 0; i < json_object_array_length(params); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(params, i), "$ref", &ref) &&
		    strcmp(json_object_get_string(ref), "#/components/parameters/IdempotencyKey") == 0)
			return true;
	return false;
}

static void test_every_route_is_documented(void **state)
{
	(void)state;
	for (size_t i = 0; i < app_routes_len; i++) {
		const struct route *r = &app_routes[i];
		json_object *op = operation(r), *access;

		if (op == NULL)
			fail_msg("%s %s is not in core/api/openapi.json", http_method_name(r->method), r->pattern);
		if (!json_object_object_get_ex(op, "x-access", &access) ||
		    strcmp(json_object_get_string(access), access_word(r->access)) != 0)
			fail_msg("%s %s: x-access must be \"%s\"", http_method_name(r->method), r->pattern,
			         access_word(r->access));
		if (flag(op, "x-dev-only") != ((r->flags & ROUTE_DEV) != 0))
			fail_msg("%s %s: x-dev-only must say whether the route is dev-only", http_method_name(r->method),
			         r->pattern);
		if (takes_idempotency_key(op) != ((r->flags & ROUTE_IDEMPOTENT) != 0))
			fail_msg("%s %s: the Idempotency-Key parameter must be listed exactly when the route takes one",
			         http_method_name(r->method), r->pattern);
	}
}

static bool routed(const char *path, const char *method)
{
	for (size_t i = 0; i < app_routes_len; i++) {
		char p[256], m[16];

		doc_path(app_routes[i].pattern, p, sizeof(p));
		lower(http_method_name(app_routes[i].method), m, sizeof(m));
		if (strcmp(p, path) == 0 && strcmp(m, method) == 0)
			return true;
	}
	return false;
}

static void test_every_operation_is_routed(void **state)
{
	json_object *paths, *by;

	(void)state;
	assert_true(json_object_object_get_ex(doc, "paths", &paths));
	json_object_object_foreach(paths, path, item) {
		json_object_object_foreach(item, method, op) {
			if (strcmp(method, "parameters") == 0 || strcmp(method, "summary") == 0 ||
			    strcmp(method, "description") == 0)
				continue;
			bool nginx = json_object_object_get_ex(op, "x-served-by", &by) &&
			             strcmp(json_object_get_string(by), "nginx") == 0;
			if (nginx == routed(path, method))
				fail_msg("%s %s: %s", method, path,
				         nginx ? "is served by nginx, yet in the route table" : "is in the document, not in the route table");
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_is_documented),
		cmocka_unit_test(test_every_operation_is_routed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
