#include "api/app.h"

#include <string.h>
#include <strings.h>

#include "http/jwt.h"
#include "base/log.h"
#include "http/router.h"
#include "api/routes.h"

/* Fills req->auth from the bearer token; answers 401 itself on failure. */
static int authenticate(struct request *req, struct response *resp)
{
	const char *h = req_param(req, "HTTP_AUTHORIZATION");
	struct jwt_claims claims;
	enum jwt_err err;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
		resp_header(resp, "WWW-Authenticate", "Bearer");
		resp_error(resp, 401, "unauthorized", NULL, "an Authorization: Bearer token is required");
		return -1;
	}
	err = jwt_verify(h + 7, req->app->cfg->jwt_secret, req->app->cfg->jwt_secret_len,
	                 time(NULL), req->app->cfg->jwt_leeway_seconds, &claims);
	if (err != JWT_OK) {
		resp_header(resp, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		resp_error(resp, 401, "invalid_token", NULL, "%s", jwt_strerror(err));
		return -1;
	}
	req->auth.ok = true;
	req->auth.role = claims.role;
	memcpy(req->auth.sub, claims.sub, sizeof(req->auth.sub));
	return 0;
}

void app_handle(struct request *req, struct response *resp)
{
	const struct route *route = NULL;
	char allow[64];
	enum route_match m = router_find(app_routes, app_routes_len, req, &route, allow);

	if (m == ROUTE_FOUND && (route->flags & ROUTE_DEV) && !req->app->cfg->dev_mode)
		m = ROUTE_NOT_FOUND;
	if (m == ROUTE_NOT_FOUND) {
		resp_error(resp, 404, "not_found", NULL, "no such endpoint: %s %s", req->method_name,
		           req->path);
		return;
	}
	if (m == ROUTE_BAD_METHOD) {
		resp_header(resp, "Allow", "%s", allow);
		resp_error(resp, 405, "method_not_allowed", NULL, "%s is not allowed on %s",
		           req->method_name, req->path);
		return;
	}
	if (route->access != ACCESS_PUBLIC && authenticate(req, resp) != 0)
		return;
	if (route->access == ACCESS_ADMIN && req->auth.role != ROLE_ADMIN) {
		resp_error(resp, 403, "forbidden", NULL, "this endpoint is for admins only");
		return;
	}
	if ((route->flags & ROUTE_DB) && db_ready(req->app->db) != DB_OK) {
		resp_header(resp, "Retry-After", "5");
		resp_error(resp, 503, "database_unavailable", NULL,
		           "the database is unavailable; retry shortly");
		return;
	}
	route->fn(req, resp);
	/* A handler that returned mid-transaction must not leave it open for the next request. */
	if (req->app->db->in_tx) {
		log_error("handler for %s left a transaction open; rolled back", route->pattern);
		db_rollback(req->app->db);
	}
	if (req->app->db->tx_lost)
		db_rollback(req->app->db);
}
