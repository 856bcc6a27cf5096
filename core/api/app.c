#include "api/app.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api/idem.h"
#include "api/routes.h"
#include "base/log.h"
#include "http/jwt.h"
#include "http/router.h"

/* The internal token of a scheduler calling a job endpoint, compared in constant time. */
static bool is_internal_token(const struct config *cfg, const char *token)
{
	size_t len = strlen(token);

	return cfg->internal_token != NULL && len == cfg->internal_token_len &&
	       CRYPTO_memcmp(token, cfg->internal_token, len) == 0;
}

/*
 * Fills req->auth from the bearer token. Returns 0; -1 when there is no
 * bearer token; -2 when there is one and it is refused (*err says why).
 */
static int read_token(struct request *req, enum access access, enum jwt_err *err)
{
	const char *h = req_param(req, "HTTP_AUTHORIZATION");
	const struct config *cfg = req->app->cfg;
	struct jwt_claims claims;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0')
		return -1;
	if (access == ACCESS_JOB && is_internal_token(cfg, h + 7)) {
		req->auth.ok = true;
		req->auth.internal = true;
		req->auth.role = ROLE_ADMIN;
		strcpy(req->auth.sub, "internal");
		return 0;
	}
	*err = jwt_verify(h + 7, cfg->jwt_secret, cfg->jwt_secret_len, time(NULL),
	                  cfg->jwt_leeway_seconds, &claims);
	if (*err != JWT_OK)
		return -2;
	req->auth.ok = true;
	req->auth.role = claims.role;
	memcpy(req->auth.sub, claims.sub, sizeof(req->auth.sub));
	return 0;
}

/* Fills req->auth from the bearer token; answers 401 itself on failure. */
static int authenticate(struct request *req, struct response *resp, enum access access)
{
	enum jwt_err err = JWT_OK;

	switch (read_token(req, access, &err)) {
	case 0:
		return 0;
	case -1:
		resp_header(resp, "WWW-Authenticate", "Bearer");
		resp_error(resp, 401, "unauthorized", NULL, "an Authorization: Bearer token is required");
		return -1;
	default:
		resp_header(resp, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		resp_error(resp, 401, "invalid_token", NULL, "%s", jwt_strerror(err));
		return -1;
	}
}

/*
 * The metrics scraper: nginx marks a request from an address its site trusts
 * for metrics (METRICS_TRUSTED, from a geo block: loopback by default);
 * anyone else needs the internal token. 0, or -1 with 401 written.
 */
static int admit_scraper(struct request *req, struct response *resp)
{
	const char *trusted = req_param(req, "METRICS_TRUSTED");
	const char *h = req_param(req, "HTTP_AUTHORIZATION");

	if (trusted != NULL && strcmp(trusted, "1") == 0)
		return 0;
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 && is_internal_token(req->app->cfg, h + 7))
		return 0;
	resp_header(resp, "WWW-Authenticate", "Bearer");
	resp_error(resp, 401, "unauthorized", NULL,
	           "metrics are served to the addresses the site trusts for them, or with the internal token");
	return -1;
}

/* What the route's access allows this authenticated caller; 400/403 written when nothing. */
static int authorize(struct request *req, struct response *resp, enum access access)
{
	const char *user = req_path_param(req, "userId");

	switch (access) {
	case ACCESS_ADMIN:
	case ACCESS_JOB:
		if (req->auth.role != ROLE_ADMIN) {
			resp_error(resp, 403, "forbidden", NULL, "this endpoint is for admins only");
			return -1;
		}
		return 0;
	case ACCESS_SELLER:
		if (req->auth.role != ROLE_SELLER && req->auth.role != ROLE_ADMIN) {
			resp_error(resp, 403, "forbidden", NULL, "this endpoint is for sellers and admins");
			return -1;
		}
		return 0;
	case ACCESS_SELF:
		if (user == NULL)
			return 0;
		if (!valid_id(user)) {
			resp_error(resp, 400, "invalid_field", "userId",
			           "userId must be an id of 1 to 64 letters, digits, '_' or '-'");
			return -1;
		}
		if (!req_may_see(req, user)) {
			resp_error(resp, 403, "forbidden", NULL, "you may only see your own payments");
			return -1;
		}
		return 0;
	case ACCESS_PUBLIC:
	case ACCESS_USER:
	case ACCESS_METRICS:
		return 0;
	}
	return 0;
}

/* The payment a request's path names, for its log lines: `:paymentId`, or
 * `:id` on every route but a template's. NULL when it names none. */
static const char *path_payment(const struct request *req, const struct route *route)
{
	const char *id = req_path_param(req, "paymentId");

	if (id == NULL && strstr(route->pattern, "/templates/") == NULL)
		id = req_path_param(req, "id");
	return id;
}

void app_handle(struct request *req, struct response *resp)
{
	const struct route *route = NULL;
	char allow[64];
	/* Outside dev mode the dev routes do not exist: 404, never a 405 naming their methods. */
	enum route_match m = router_find(app_routes, app_routes_len, req->app->cfg->dev_mode ? 0 : ROUTE_DEV, req,
	                                 &route, allow);

	if (m == ROUTE_NOT_FOUND) {
		resp_error(resp, 404, "not_found", NULL, "no such endpoint: %s %s", req->method_name,
		           req->path);
		return;
	}
	if (m == ROUTE_FOUND) {
		req->route_slot = (unsigned)(route - app_routes) + 1;
		log_set_route(route->pattern);
		log_set_payment_id(path_payment(req, route));
	}
	if (m == ROUTE_BAD_METHOD) {
		resp_header(resp, "Allow", "%s", allow);
		resp_error(resp, 405, "method_not_allowed", NULL, "%s is not allowed on %s",
		           req->method_name, req->path);
		return;
	}
	if (route->access == ACCESS_METRICS) {
		if (admit_scraper(req, resp) != 0)
			return;
	} else if (route->access != ACCESS_PUBLIC &&
	           (authenticate(req, resp, route->access) != 0 || authorize(req, resp, route->access) != 0)) {
		return;
	}
	if (route->access == ACCESS_PUBLIC && (route->flags & ROUTE_OPT_AUTH)) {
		/* A public answer never fails for a token: a bad one leaves the caller anonymous. */
		enum jwt_err ignored;
		if (read_token(req, ACCESS_PUBLIC, &ignored) != 0)
			memset(&req->auth, 0, sizeof(req->auth));
	}
	enum db_status st;
	if ((route->flags & ROUTE_DB) && (st = db_ready(req->app->db)) != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	/* A retry with the same Idempotency-Key is answered here, without running again. */
	struct idem key = { 0 };
	if ((route->flags & ROUTE_IDEMPOTENT) && idem_begin(req, resp, &key) == IDEM_ANSWERED)
		return;
	route->fn(req, resp);
	/* A handler that returned mid-transaction must not leave it open for the next request. */
	if (req->app->db->in_tx) {
		log_error("handler for %s left a transaction open; rolled back", route->pattern);
		db_rollback(req->app->db);
	}
	if (req->app->db->tx_lost)
		db_rollback(req->app->db);
	idem_finish(req, resp, &key);
}
