/* req: a request as handlers see it, independent of FastCGI. The worker fills
 * it from the FastCGI params and body; handlers read it through these
 * functions, which bound and decode what they return. Readers that can refuse
 * a value (a query number, a page) write the 400 themselves, so a handler only
 * returns when one fails.
 *
 * Layer: http (uses base). Nothing here knows what a payment is.
 */
#ifndef PAY_REQ_H
#define PAY_REQ_H

#include <stdbool.h>
#include <stddef.h>

#include "base/valid.h"
#include "http/resp.h"

enum http_method { HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_PATCH, HTTP_OTHER };

enum role { ROLE_NONE, ROLE_BUYER, ROLE_SELLER, ROLE_ADMIN };

struct auth {
	bool ok;
	bool internal;                  /* the internal token, not a user: sub is "internal" */
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
	unsigned route_slot;            /* the matched route's index in the table + 1; 0: none (metrics) */
};

/* FastCGI param lookup: "HTTP_X_SHKEEPER_SIGNATURE", "CONTENT_TYPE", … */
const char *req_param(const struct request *req, const char *name);
/* A request header's value as FastCGI names it (HTTP_X_SIGNATURE, CONTENT_TYPE); NULL when absent or empty. */
const char *req_header(const struct request *req, const char *name);
/* The :name part of the matched route pattern; NULL if the route has none. */
const char *req_path_param(const struct request *req, const char *name);
/*
 * Copies the percent-decoded value of query parameter `name` into out.
 * Returns 1 found, 0 absent, -1 malformed, longer than outlen - 1, or given
 * more than once (which of two values was meant is not ours to guess).
 */
int req_query(const struct request *req, const char *name, char *out, size_t outlen);
bool req_is_admin(const struct request *req);
/* True when the caller is `user_id` or an admin. */
bool req_may_see(const struct request *req, const char *user_id);

/*
 * Query parameter `name` as a whole number in [min, max] written as plain
 * digits ("+5", " 5", "05x" are not), dflt when absent; 400 written on a bad one.
 */
int req_query_long(struct request *req, struct response *resp, const char *name, long dflt,
                   long min, long max, long *out);
/*
 * Is a Content-Type value application/json? Parameters are allowed (RFC 9110
 * syntax), a charset only if it is UTF-8; "application/jsonx" is not JSON.
 */
bool req_media_type_is_json(const char *value);
/* Does the request declare its body application/json? */
bool req_body_is_json(const struct request *req);

/* Reads limit (1..100, default dflt) and offset (>= 0) from the query; 400 on bad values. */
int req_page(struct request *req, struct response *resp, long dflt, char limit[16],
             char offset[24]);

#endif
