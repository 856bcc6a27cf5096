/* room: the rooms events are written to, as the outbox names them:
 * user:<id> (one user), request:<id> (the parties of a purchase request),
 * admin, global (every payment's creation) and service:<name> (another
 * service of the marketplace, reached by webhook only). Browsers follow the
 * first four through nginx; who may follow which is the api layer's rule.
 *
 * Layer: base.
 */
#ifndef PAY_ROOM_H
#define PAY_ROOM_H

#include <stdbool.h>

#include "base/valid.h"

enum room_kind { ROOM_USER, ROOM_REQUEST, ROOM_ADMIN, ROOM_GLOBAL, ROOM_SERVICE };

struct room {
	enum room_kind kind;
	char id[ID_MAX + 1];        /* user, request or service id; "" for admin and global */
};

/* Parses a whole room name; false when it is not one of the shapes above. */
bool room_parse(const char *s, struct room *out);
/* A room a browser may subscribe to (everything but service:). */
bool room_is_public(const struct room *r);

#endif
