/* The log line writer: every line one valid JSON object (or one text line),
 * whatever bytes the message holds, and cut whole when it is too long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "base/logline.h"
#include "http/jsoncheck.h"

/* 2023-11-14T22:13:20.123Z */
static const struct timespec when = { 1700000000, 123456789 };

static struct logline line_of(const char *message)
{
	struct logline l = {
		.time = when, .level = "warn", .pid = 4242, .request_id = "0123456789abcdef0123456789abcdef",
		.route = "/api/payment/:id", .payment_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7",
		.status = 409, .duration_ms = 17, .message = message,
	};
	return l;
}

/* The line is one RFC 8259 object and one line; returns it parsed (json_object_put it). */
static json_object *parse_line(const char *out, size_t len, size_t cap)
{
	json_object *o;

	assert_true(len < cap);
	assert_int_equal(strlen(out), len);
	assert_true(len > 0 && out[len - 1] == '\n');
	assert_null(memchr(out, '\n', len - 1));
	if (!json_strict_valid(out, len - 1, 4))
		fail_msg("not one JSON value: %s", out);
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static bool has(json_object *o, const char *key) { return json_object_object_get_ex(o, key, NULL); }

static void test_fields(void **state)
{
	char out[LOGLINE_MAX];
	struct logline l = line_of("payment moved");
	json_object *o, *v;

	(void)state;
	o = parse_line(out, logline_json(out, sizeof(out), &l), sizeof(out));
	assert_string_equal(str(o, "time"), "2023-11-14T22:13:20.123Z");
	assert_string_equal(str(o, "level"), "warn");
	assert_true(json_object_object_get_ex(o, "pid", &v) && json_object_get_int(v) == 4242);
	assert_string_equal(str(o, "requestId"), "0123456789abcdef0123456789abcdef");
	assert_string_equal(str(o, "route"), "/api/payment/:id");
	assert_true(json_object_object_get_ex(o, "status", &v) && json_object_get_int(v) == 409);
	assert_true(json_object_object_get_ex(o, "durationMs", &v) && json_object_get_int(v) == 17);
	assert_string_equal(str(o, "paymentId"), "7c9e6679-7425-40de-944b-e07fc1f90ae7");
	assert_string_equal(str(o, "message"), "payment moved");
	assert_false(has(o, "job"));
	assert_false(has(o, "truncated"));
	json_object_put(o);

	/* What a line does not have is left out, not written empty. */
	l = (struct logline){ .time = when, .level = "info", .pid = 1, .job = "watch", .status = -1,
	                      .duration_ms = -1, .message = "" };
	o = parse_line(out, logline_json(out, sizeof(out), &l), sizeof(out));
	assert_string_equal(str(o, "job"), "watch");
	assert_string_equal(str(o, "message"), "");
	assert_false(has(o, "requestId") || has(o, "route") || has(o, "status") || has(o, "durationMs") ||
	             has(o, "paymentId"));
	json_object_put(o);
}

/* Quotes, escapes, line breaks, control bytes, and every kind of bad UTF-8. */
static void test_hostile_message(void **state)
{
	static const char hostile[] =
		"say \"hi\" \\ back\nforged 2023-01-01 info [1] - line\r\t\b\f\x01\x1b\x7f|"
		"\xff|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xf8\x88\x80\x80\x80|\x80|"
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80|\xe2\x82";
	static const char decoded[] =
		"say \"hi\" \\ back\nforged 2023-01-01 info [1] - line\r\t\b\f\x01\x1b\x7f|"
		"\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd|"
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80|\xef\xbf\xbd\xef\xbf\xbd";
	char out[LOGLINE_MAX];
	struct logline l = line_of(hostile);
	size_t len;
	json_object *o;

	(void)state;
	len = logline_json(out, sizeof(out), &l);
	o = parse_line(out, len, sizeof(out));
	assert_string_equal(str(o, "message"), decoded);
	assert_false(has(o, "truncated"));
	json_object_put(o);
	/* Nothing raw below 0x20 (nor DEL) reaches the line. */
	for (size_t i = 0; i + 1 < len; i++)
		assert_true((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);

	/* The text format: one line, each control byte a '?'. */
	len = logline_text(out, sizeof(out), &l);
	assert_int_equal(strlen(out), len);
	assert_null(memchr(out, '\n', len - 1));
	assert_int_equal(out[len - 1], '\n');
	assert_non_null(strstr(out, "2023-11-14T22:13:20.123Z warn [4242] 0123456789abcdef0123456789abcdef say \"hi\" \\ back?forged"));
}

/* A message too long for the line: cut on a whole character, still one object, flagged. */
static void test_cut(void **state)
{
	static const char *const units[] = { "\x01", "\xe2\x82\xac", "\xff", "\"", "a" };
	static const char *const decoded[] = { "\x01", "\xe2\x82\xac", "\xef\xbf\xbd", "\"", "a" };
	size_t n = LOGLINE_MAX + 1;

	(void)state;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t ulen = strlen(units[u]);
		char *msg = malloc(n * ulen + 1), out[LOGLINE_MAX];

		assert_non_null(msg);
		for (size_t i = 0; i < n; i++)
			memcpy(msg + i * ulen, units[u], ulen);
		msg[n * ulen] = '\0';
		/* Every size of buffer, so the cut lands on every byte of an escape. */
		for (size_t cap = LOGLINE_MIN; cap <= sizeof(out); cap += cap < 700 ? 1 : 97) {
			struct logline l = line_of(msg);
			json_object *o, *v;
			const char *m;
			size_t dlen = strlen(decoded[u]);

			o = parse_line(out, logline_json(out, cap, &l), cap);
			assert_true(json_object_object_get_ex(o, "truncated", &v) && json_object_get_boolean(v));
			assert_string_equal(str(o, "paymentId"), "7c9e6679-7425-40de-944b-e07fc1f90ae7");
			m = str(o, "message");
			assert_true(strlen(m) > 0 && strlen(m) % dlen == 0);
			for (size_t i = 0; m[i]; i += dlen)
				assert_memory_equal(m + i, decoded[u], dlen);
			json_object_put(o);
		}
		free(msg);
	}
}

/* A message the caller already cut (log.c formats into a fixed buffer) says so too. */
static void test_caller_cut(void **state)
{
	char out[LOGLINE_MAX];
	struct logline l = line_of("the first 2047 bytes");
	json_object *o, *v;

	(void)state;
	l.truncated = true;
	o = parse_line(out, logline_json(out, sizeof(out), &l), sizeof(out));
	assert_string_equal(str(o, "message"), "the first 2047 bytes");
	assert_true(json_object_object_get_ex(o, "truncated", &v) && json_object_get_boolean(v));
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_hostile_message),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_caller_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
