#ifndef PAY_HTTP_H
#define PAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "base/buf.h"
#include "base/valid.h"

/*
 * A request and its response as handlers see them, independent of FastCGI:
 * the worker fills a request from the FastCGI params and body, and gives the
 * response a sink that writes to the FastCGI stream.
 */

enum http_method { HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_PATCH, HTTP_OTHER };

enum role { ROLE_NONE, ROLE_BUYER, ROLE_SELLER, ROLE_ADMIN };

struct auth {
	bool ok;
	char sub[ID_MAX + 1];
	enum role role;
};

#define REQ_MAX_PARAMS 3

struct app;

struct request {
	enum http_method method;
	const char *method_name;
	const char *path;               /* without the query string */
	const char *query;              /* raw query string, may be "" */
	const char *request_id;
	char **env;                     /* FastCGI params, valid for this request */
	const char *body;               /* exactly body_len bytes, NUL-terminated */
	size_t body_len;
	const char *param_name[REQ_MAX_PARAMS];
	char param_value[REQ_MAX_PARAMS][ID_MAX + 1];
	size_t n_params;
	struct auth auth;
	struct app *app;
};

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
};

/* FastCGI param lookup: "HTTP_X_SHKEEPER_SIGNATURE", "CONTENT_TYPE", … */
const char *req_param(const struct request *req, const char *name);
/* The :name part of the matched route pattern; NULL if the route has none. */
const char *req_path_param(const struct request *req, const char *name);
/*
 * Copies the percent-decoded value of query parameter `name` into out.
 * Returns 1 found, 0 absent, -1 malformed or longer than outlen - 1.
 */
int req_query(const struct request *req, const char *name, char *out, size_t outlen);
bool req_is_admin(const struct request *req);
/* True when the caller is `user_id` or an admin. */
bool req_may_see(const struct request *req, const char *user_id);

void resp_init(struct response *resp, const struct sink *sink, const char *request_id);
void resp_free(struct response *resp);
void resp_header(struct response *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* {"success":true,"data":data[,"message":message]}; takes ownership of data. */
void resp_ok(struct response *resp, int status, json_object *data, const char *message);
/* Like resp_ok with extra top-level members merged in from `extra` (owned). */
void resp_ok_with(struct response *resp, int status, json_object *data, const char *message,
                  json_object *extra);
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

#endif
