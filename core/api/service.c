/* Service endpoints: health and the provider configuration the checkout widget reads. */
#include <string.h>

#include "api/handlers.h"
#include "base/breaker.h"
#include "base/log.h"
#include "evm/chain.h"
#include "flow/shk_onchain.h"
#include "http/jsonin.h"

/* name → one of its members' value, for every member of `all`: each dependency's state alone. */
static json_object *states(json_object *all, const char *member)
{
	json_object *out = json_object_new_object(), *v;

	json_object_object_foreach(all, name, detail) {
		if (json_object_object_get_ex(detail, member, &v))
			json_object_object_add(out, name, json_object_get(v));
	}
	return out;
}

/*
 * Anyone may ask whether the service is up; what it runs and how its
 * upstreams have been failing is for admins (it tells an attacker which
 * version to aim at and when a dependency is weak).
 */
void h_health(struct request *req, struct response *resp)
{
	struct app *app = req->app;
	json_object *data, *deps, *breakers, *chains;
	enum db_status st = db_exec(app->db, NULL, "SELECT 1", 0, NULL);

	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	breakers = breaker_json();
	chains = chain_status_json(app->cfg);
	data = json_object_new_object();
	deps = json_object_new_object();
	json_object_object_add(data, "status", json_object_new_string("ok"));
	json_object_object_add(data, "database", json_object_new_string("ok"));
	json_object_object_add(deps, "upstreams", states(breakers, "state"));
	json_object_object_add(deps, "chains", states(chains, "status"));
	json_object_object_add(data, "dependencies", deps);
	if (!req_is_admin(req)) {
		json_object_put(breakers);
		json_object_put(chains);
		resp_ok(resp, 200, data, "payment service is healthy");
		return;
	}
	json_object *endpoints = json_object_new_object();
	json_object_object_add(data, "version", json_object_new_string(PAYMENTS_VERSION));
	json_object_object_add(data, "uptimeSeconds", json_object_new_int64((int64_t)(time(NULL) - app->started)));
	json_object_object_add(data, "mode", json_object_new_string(app->cfg->dev_mode ? "dev" : "production"));
	json_object_object_add(endpoints, "shkeeper", json_object_new_string("/api/payment/shkeeper"));
	json_object_object_add(endpoints, "decentralized", json_object_new_string("/api/payment/decentralized"));
	json_object_object_add(endpoints, "health", json_object_new_string("/api/payment/health"));
	json_object_object_add(data, "endpoints", endpoints);
	json_object_object_add(data, "breakers", breakers);
	json_object_object_add(data, "chains", chains);
	/* A network whose SHKeeper pay-ins can never be funded is said out loud, not left to be found. */
	json_object *warnings = json_object_new_array();
	json_object_object_add(data, "shkeeper", shk_status_json(app->cfg, warnings));
	json_object_object_add(data, "warnings", warnings);
	resp_ok(resp, 200, data, "payment service is healthy");
}

static json_object *widget_config(const struct config *cfg)
{
	json_object *data = json_object_new_object(), *accept = json_object_new_array(),
	            *redirect = json_object_new_object();
	char webhook[512];

	for (size_t i = 0; i < cfg->n_tokens; i++) {
		json_object *t = json_object_new_object();
		json_object_object_add(t, "blockchain", json_object_new_string(cfg->tokens[i].network));
		json_object_object_add(t, "token", json_object_new_string(cfg->tokens[i].contract));
		json_object_object_add(t, "symbol", json_object_new_string(cfg->tokens[i].symbol));
		json_object_object_add(t, "receiver", json_object_new_string(cfg->escrow_address));
		json_object_array_add(accept, t);
	}
	snprintf(webhook, sizeof(webhook), "%s/api/payment/shkeeper/webhook", cfg->public_base_url);
	json_object_object_add(redirect, "success", cfg->redirect_success_url[0] ?
	                       json_object_new_string(cfg->redirect_success_url) : NULL);
	json_object_object_add(redirect, "cancel", cfg->redirect_cancel_url[0] ?
	                       json_object_new_string(cfg->redirect_cancel_url) : NULL);
	json_object_object_add(data, "accept", accept);
	json_object_object_add(data, "redirect", redirect);
	json_object_object_add(data, "webhook", json_object_new_string(webhook));
	return data;
}

static const struct jfield config_fields[] = {
	{ "amount", JK_AMOUNT, false, 0, 0, NULL },
	{ "currency", JK_CURRENCY, false, 0, 0, NULL },
	{ "purchaseRequestId", JK_ID, false, 0, 0, NULL },
};

void h_configuration(struct request *req, struct response *resp)
{
	struct jval v[3];
	json_object *body;

	/* The body only scopes the answer; an empty one is fine, a malformed one is not. */
	if (jin_optional(req, resp, config_fields, 3, v, &body) != 0)
		goto out;
	if (v[1].present && config_currency(req->app->cfg, v[1].str) == NULL) {
		resp_error(resp, 400, "invalid_field", "currency", "currency %s is not accepted", v[1].str);
		goto out;
	}
	resp_ok(resp, 200, widget_config(req->app->cfg), NULL);
out:
	json_object_put(body);
}

void h_shkeeper_config(struct request *req, struct response *resp)
{
	/* The SHKeeper-hosted widget reads this from another origin. */
	resp_header(resp, "Access-Control-Allow-Origin", "*");
	resp_header(resp, "Access-Control-Allow-Methods", "GET");
	resp_ok(resp, 200, widget_config(req->app->cfg), NULL);
}
