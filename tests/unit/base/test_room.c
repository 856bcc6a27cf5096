/* Rooms as the outbox names them: the shapes taken, and the ones refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/room.h"

static void test_rooms(void **state)
{
	struct room r;

	(void)state;
	assert_true(room_parse("user:alice_1-x", &r));
	assert_int_equal(r.kind, ROOM_USER);
	assert_string_equal(r.id, "alice_1-x");
	assert_true(room_is_public(&r));
	assert_true(room_parse("request:pr-9", &r));
	assert_int_equal(r.kind, ROOM_REQUEST);
	assert_true(room_parse("admin", &r));
	assert_int_equal(r.kind, ROOM_ADMIN);
	assert_string_equal(r.id, "");
	assert_true(room_parse("global", &r));
	assert_int_equal(r.kind, ROOM_GLOBAL);
	assert_true(room_parse("service:chat", &r));
	assert_false(room_is_public(&r));

	static const char *const bad[] = {
		"", "user:", "user", "users:alice", "user:al ice", "user:a/b", "user:a:b", "Admin", "admin ",
		"request:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 characters */
		"user:%41", "user:é",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (room_parse(bad[i], &r))
			fail_msg("\"%s\" was taken for a room", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_rooms) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
