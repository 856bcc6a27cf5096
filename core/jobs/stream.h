/* stream: what the relay hands nginx's pub/sub (nchan) for the browsers.
 * Each event is published to its room's channel as one Server-Sent Events
 * block that nginx passes through as it is, so the SSE id a client sees,
 * and sends back as Last-Event-ID, is the event's outbox id:
 *
 *     id: <outbox id>\n event: <name>\n data: <event_message() JSON>\n
 *
 * nginx answers a publication with its own id for the message; the relay
 * records it so a subscription resumed from an outbox id can start after
 * that message in nginx's buffer.
 *
 * Layer: jobs (uses base).
 */
#ifndef PAY_STREAM_H
#define PAY_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/config.h"

/* nginx's message ids: "<seconds>:<tag>". */
#define STREAM_MSG_ID_MAX 28

enum stream_err {
	STREAM_OK = 0,
	STREAM_UNAVAILABLE,         /* nginx unreachable or refusing: try again later */
	STREAM_BAD_EVENT,           /* the event cannot be framed (should never be: the schema checks it) */
};

/* Publishing is configured at all (stream_publisher is not `none`). */
bool stream_enabled(const struct config *cfg);
/*
 * The SSE block for one event, appended to out. STREAM_BAD_EVENT when the
 * id is not a number, or the name or data holds a line break.
 */
enum stream_err stream_frame(const char *id, const char *event, const char *data, struct buf *out);
/* Takes nginx's message id out of its answer to a publication ({"last_message_id": "…"}). */
bool stream_parse_msg_id(const char *answer, size_t len, char out[STREAM_MSG_ID_MAX + 1]);
/*
 * Publishes `frame` to `room`'s channel. On STREAM_OK msg_id holds nginx's
 * id for it, or "" if its answer carried none.
 */
enum stream_err stream_publish(const struct config *cfg, const char *room, const struct buf *frame,
                               char msg_id[STREAM_MSG_ID_MAX + 1], char *err, size_t errlen);

#endif
