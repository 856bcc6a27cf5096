/* router: a route is a method, a path pattern with `:name` segments, the handler, who
 * may call it, and what it needs. The dispatcher enforces access and the
 * database before the handler runs, so handlers start from a checked caller.
 */
#ifndef PAY_ROUTER_H
#define PAY_ROUTER_H

#include "http/req.h"

typedef void handler_fn(struct request *req, struct response *resp);

enum access {
	ACCESS_PUBLIC,          /* anyone; providers' webhooks authenticate by signature */
	ACCESS_USER,            /* any valid token; the handler checks ownership of the rows */
	ACCESS_SELF,            /* any valid token; a :userId in the path is the caller, or an admin asks */
	ACCESS_SELLER,          /* role seller or admin; the handler checks ownership of the rows */
	ACCESS_ADMIN,           /* role admin */
	ACCESS_JOB,             /* role admin, or the internal token a scheduler sends */
	ACCESS_METRICS,         /* an address the nginx site trusts for metrics, or the internal token */
};

#define ROUTE_DB   0x1u     /* needs the database: 503 when it is down */
#define ROUTE_DEV  0x2u     /* exists only in dev mode */
#define ROUTE_OPT_AUTH 0x4u /* public, but a valid bearer token is read (health shows admins more) */
#define ROUTE_IDEMPOTENT 0x8u /* a retry may send Idempotency-Key: the first answer is kept and replayed */

struct route {
	enum http_method method;
	const char *pattern;
	handler_fn *fn;
	enum access access;
	unsigned flags;
};

enum route_match { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

/*
 * Finds the route for req->path and method; fills the request's path
 * parameters. A parameter matches only a segment of its shape: `:id` and
 * `:paymentId` a UUID, `:deliveryId` digits, any other up to ID_MAX bytes. A path that some literal route names (`/stats`) is that
 * route's, never a `/:id` value: asked with another method it is
 * ROUTE_BAD_METHOD. On ROUTE_BAD_METHOD, allow (if not NULL) lists the
 * methods the path does take, e.g. "GET, PUT". Routes with any of the `skip`
 * flags (ROUTE_DEV outside dev mode) are not there at all: neither found nor
 * named in allow.
 */
enum route_match router_find(const struct route *routes, size_t n, unsigned skip, struct request *req,
                             const struct route **found, char allow[64]);

const char *http_method_name(enum http_method m);

#endif
