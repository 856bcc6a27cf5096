/* Paths and query strings as nginx passes them: routing, percent-decoding,
 * and the room a stream or its catch-up names; nginx's answer to the relay. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "base/room.h"
#include "http/router.h"
#include "jobs/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *text = malloc(len + 1), out[96], allow[64], msg_id[STREAM_MSG_ID_MAX + 1];
	struct request req = { 0 };
	struct room room;
	const struct route *r;

	memcpy(text, data, len);
	text[len] = '\0';
	stream_parse_msg_id(text, len, msg_id);
	room_parse(text, &room);
	char *q = strchr(text, '?');
	if (q)
		*q++ = '\0';
	req.path = text;
	req.query = q ? q : "";
	req.method = len ? (enum http_method)(data[0] % 6) : HTTP_GET;
	router_find(app_routes, app_routes_len, 0, &req, &r, allow);
	req_query(&req, "status", out, sizeof(out));
	req_query(&req, "limit", out, sizeof(out));
	if (req_query(&req, "room", out, sizeof(out)) == 1)
		room_parse(out, &room);
	free(text);
	return 0;
}
