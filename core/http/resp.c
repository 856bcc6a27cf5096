#include "http/resp.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/jw.h"
#include "base/log.h"
#include "base/utf8.h"

void resp_init(struct response *resp, const struct sink *sink, const char *request_id)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	resp->content_type = "application/json";
	resp->sink = sink;
	resp->request_id = request_id;
}

void resp_free(struct response *resp)
{
	buf_free(&resp->headers);
	buf_free(&resp->body);
}

void resp_header(struct response *resp, const char *name, const char *fmt, ...)
{
	va_list ap;

	buf_printf(&resp->headers, "%s: ", name);
	va_start(ap, fmt);
	buf_vprintf(&resp->headers, fmt, ap);
	va_end(ap);
	buf_puts(&resp->headers, "\r\n");
}

static void set_json_body(struct response *resp, int status, json_object *root)
{
	resp->status = status;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	buf_puts(&resp->body, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

void resp_ok_with(struct response *resp, int status, json_object *data, const char *message,
                  json_object *extra)
{
	json_object *root = json_object_new_object();

	json_object_object_add(root, "success", json_object_new_boolean(1));
	if (message)
		json_object_object_add(root, "message", json_object_new_string(message));
	json_object_object_add(root, "data", data ? data : json_object_new_object());
	if (extra) {
		json_object_object_foreach(extra, k, v)
			json_object_object_add(root, k, json_object_get(v));
		json_object_put(extra);
	}
	set_json_body(resp, status, root);
}

void resp_ok(struct response *resp, int status, json_object *data, const char *message)
{
	resp_ok_with(resp, status, data, message, NULL);
}

struct buf *resp_ok_open(struct response *resp, int status, const char *message)
{
	resp->status = status;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	buf_puts(&resp->body, "{\"success\":true");
	if (message) {
		jw_key(&resp->body, "message", false);
		jw_str(&resp->body, message);
	}
	jw_key(&resp->body, "data", false);
	return &resp->body;
}

void resp_ok_close(struct response *resp)
{
	buf_putc(&resp->body, '}');
}

static void error_body(struct response *resp, int status, const char *code, const char *field,
                       json_object *data, const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

static void error_body(struct response *resp, int status, const char *code, const char *field,
                       json_object *data, const char *fmt, va_list ap)
{
	char raw[512], msg[3 * sizeof(raw)];
	json_object *root = json_object_new_object(), *err = json_object_new_object();

	/* json-c writes a string's bytes as they are: a message naming what a client sent must be made UTF-8 first. */
	vsnprintf(raw, sizeof(raw), fmt, ap);
	utf8_scrub(msg, sizeof(msg), raw);
	json_object_object_add(root, "success", json_object_new_boolean(0));
	json_object_object_add(root, "message", json_object_new_string(msg));
	json_object_object_add(err, "code", json_object_new_string(code));
	if (field)
		json_object_object_add(err, "field", json_object_new_string(field));
	json_object_object_add(root, "error", err);
	if (data)
		json_object_object_add(root, "data", data);
	set_json_body(resp, status, root);
}

void resp_error(struct response *resp, int status, const char *code, const char *field,
                const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_body(resp, status, code, field, NULL, fmt, ap);
	va_end(ap);
}

void resp_error_data(struct response *resp, int status, const char *code, const char *field,
                     json_object *data, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_body(resp, status, code, field, data, fmt, ap);
	va_end(ap);
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static int sink_write(struct response *resp, const void *data, size_t len)
{
	if (resp->failed)
		return -1;
	if (len && resp->sink->write(resp->sink->ctx, data, len) != 0) {
		resp->failed = true;
		return -1;
	}
	return 0;
}

static int write_head(struct response *resp)
{
	struct buf head = BUF_INIT;
	int rc;

	buf_printf(&head, "Status: %d %s\r\nContent-Type: %s\r\n", resp->status,
	           http_reason(resp->status), resp->content_type);
	if (resp->request_id && resp->request_id[0])
		buf_printf(&head, "X-Request-Id: %s\r\n", resp->request_id);
	buf_puts(&head, "Cache-Control: no-store\r\n");
	if (resp->headers.len)
		buf_append(&head, resp->headers.data, resp->headers.len);
	buf_puts(&head, "\r\n");
	rc = sink_write(resp, head.data, head.len);
	buf_free(&head);
	resp->started = true;
	return rc;
}

int resp_stream_begin(struct response *resp, int status, const char *content_type)
{
	resp->status = status;
	resp->content_type = content_type;
	return write_head(resp);
}

int resp_write(struct response *resp, const void *data, size_t len)
{
	if (!resp->started) {
		buf_append(&resp->body, data, len);
		return 0;
	}
	return sink_write(resp, data, len);
}

void resp_cut(struct response *resp)
{
	if (resp->started)
		resp->cut = true;
}

int resp_finish(struct response *resp)
{
	if (resp->started)
		return resp->failed ? -1 : 0;
	if (write_head(resp) != 0)
		return -1;
	return sink_write(resp, resp->body.data, resp->body.len);
}

void resp_db_error(struct response *resp, enum db_status st)
{
	if (st == DB_UNAVAILABLE) {
		resp_header(resp, "Retry-After", "5");
		resp_error(resp, 503, "database_unavailable", NULL,
		           "the database is unavailable; retry shortly");
	} else {
		resp_error(resp, 500, "internal", NULL, "internal error (request %s)",
		           log_request_id());
	}
}
