#ifndef PAY_ROUTER_H
#define PAY_ROUTER_H

#include "http.h"

/*
 * Routes: a method, a path pattern with `:name` segments, the handler, who
 * may call it, and what it needs. The dispatcher enforces access and the
 * database before the handler runs, so handlers start from a checked caller.
 */

typedef void handler_fn(struct request *req, struct response *resp);

enum access {
	ACCESS_PUBLIC,          /* anyone; providers' webhooks authenticate by signature */
	ACCESS_USER,            /* any valid token; the handler checks ownership */
	ACCESS_ADMIN,           /* role admin */
};

#define ROUTE_DB   0x1u     /* needs the database: 503 when it is down */
#define ROUTE_DEV  0x2u     /* exists only in dev mode */

struct route {
	enum http_method method;
	const char *pattern;
	handler_fn *fn;
	enum access access;
	unsigned flags;
};

enum route_match { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

/*
 * Finds the first route whose pattern matches req->path and method; fills the
 * request's path parameters. Literal routes must precede patterns that would
 * shadow them (`/stats` before `/:id`).
 */
enum route_match router_find(const struct route *routes, size_t n, struct request *req,
                             const struct route **found);

#endif
