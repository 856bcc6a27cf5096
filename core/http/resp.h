/* resp: a response as handlers build it. JSON answers use the envelope every
 * endpoint shares ({"success":…}); a streamed answer writes its head once and
 * then goes straight to the sink the worker gave, which writes to FastCGI.
 * The response owns its buffers; resp_free() releases them.
 *
 * Layer: http (uses base).
 */
#ifndef PAY_RESP_H
#define PAY_RESP_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "base/buf.h"
#include "base/db.h"

/* Where a response's bytes go. write() returns 0, or -1 when the client is gone. */
struct sink {
	int (*write)(void *ctx, const void *data, size_t len);
	void *ctx;
};

struct response {
	int status;
	const char *content_type;
	struct buf headers;             /* extra "Name: value\r\n" lines */
	struct buf body;
	const struct sink *sink;
	const char *request_id;
	bool started;                   /* head already written (streaming) */
	bool failed;                    /* the client went away mid-stream */
	bool cut;                       /* a stream that cannot be finished: dropped, never ended */
};

void resp_init(struct response *resp, const struct sink *sink, const char *request_id);
/*
 * A streamed answer that failed after its head went out: the connection is
 * dropped rather than ended, so that nginx, and the client after it, sees an
 * answer cut short and never takes the part for the whole.
 */
void resp_cut(struct response *resp);
void resp_free(struct response *resp);
void resp_header(struct response *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* {"success":true,"data":data[,"message":message]}; takes ownership of data. */
void resp_ok(struct response *resp, int status, json_object *data, const char *message);
/* Like resp_ok with extra top-level members merged in from `extra` (owned). */
void resp_ok_with(struct response *resp, int status, json_object *data, const char *message,
                  json_object *extra);
/*
 * resp_ok() for data written by hand (base/jw.h): resp_ok_open() puts
 * {"success":true[,"message":…],"data": in the body and returns the body,
 * into which the caller writes one JSON value; resp_ok_close() ends it.
 * The bytes are those resp_ok() writes for the same data.
 */
struct buf *resp_ok_open(struct response *resp, int status, const char *message);
void resp_ok_close(struct response *resp);
/* {"success":false,"message":…,"error":{"code":…,"field":…}}; field may be NULL. */
void resp_error(struct response *resp, int status, const char *code, const char *field,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* resp_error() that also carries data (owned), e.g. what the chain said about a refused hash. */
void resp_error_data(struct response *resp, int status, const char *code, const char *field,
                     json_object *data, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Writes the head now; later resp_write() calls go straight to the client. */
int resp_stream_begin(struct response *resp, int status, const char *content_type);
int resp_write(struct response *resp, const void *data, size_t len);
/* Sends whatever was not streamed. Called once by the worker. */
int resp_finish(struct response *resp);
const char *http_reason(int status);

/* Answers for a failed database call: 503 with Retry-After when it is down, else 500. */
void resp_db_error(struct response *resp, enum db_status st);

#endif
