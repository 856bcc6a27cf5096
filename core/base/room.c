#include "base/room.h"

#include <stdio.h>
#include <string.h>

bool room_parse(const char *s, struct room *out)
{
	static const struct {
		const char *prefix;
		enum room_kind kind;
	} keyed[] = { { "user:", ROOM_USER }, { "request:", ROOM_REQUEST }, { "service:", ROOM_SERVICE } };

	memset(out, 0, sizeof(*out));
	if (strcmp(s, "admin") == 0 || strcmp(s, "global") == 0) {
		out->kind = s[0] == 'a' ? ROOM_ADMIN : ROOM_GLOBAL;
		return true;
	}
	for (size_t i = 0; i < sizeof(keyed) / sizeof(keyed[0]); i++) {
		size_t n = strlen(keyed[i].prefix);

		if (strncmp(s, keyed[i].prefix, n) == 0 && valid_id(s + n)) {
			out->kind = keyed[i].kind;
			snprintf(out->id, sizeof(out->id), "%s", s + n);
			return true;
		}
	}
	return false;
}

bool room_is_public(const struct room *r)
{
	return r->kind != ROOM_SERVICE;
}
