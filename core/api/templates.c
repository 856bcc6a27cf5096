/*
 * Checkout templates: what a template checkout sells, owned by a seller (or
 * an admin acting for one). A buyer's checkout names a template as its
 * purchase request, "template-checkout-<id>", and the pay-in takes its
 * seller, price and currency from here: nothing of the sale is the buyer's
 * to choose. A template is deactivated, never deleted: payments name it.
 */
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "base/log.h"
#include "http/jsonin.h"
#include "pay/cascade.h"

#define TEMPLATE_COLUMNS \
	"t.id::text, t.seller_id, t.title, t.price::text, t.currency, t.active, t.created_by, " \
	"to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), " \
	"to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
enum { TCOL_ID, TCOL_SELLER, TCOL_TITLE, TCOL_PRICE, TCOL_CURRENCY, TCOL_ACTIVE, TCOL_CREATED_BY,
       TCOL_CREATED, TCOL_UPDATED };

/* Template checkouts are invoiced by SHKeeper, which this service asks in USD. */
#define TEMPLATE_CURRENCY "USD"

static json_object *template_json(const PGresult *res, int row)
{
	json_object *o = json_object_new_object();
	char request[96];

	snprintf(request, sizeof(request), TEMPLATE_CHECKOUT_PREFIX "%s", PQgetvalue(res, row, TCOL_ID));
	json_object_object_add(o, "id", json_object_new_string(PQgetvalue(res, row, TCOL_ID)));
	json_object_object_add(o, "sellerId", json_object_new_string(PQgetvalue(res, row, TCOL_SELLER)));
	json_object_object_add(o, "title", json_object_new_string(PQgetvalue(res, row, TCOL_TITLE)));
	json_add_amount(o, "price", PQgetvalue(res, row, TCOL_PRICE));
	json_object_object_add(o, "currency", json_object_new_string(PQgetvalue(res, row, TCOL_CURRENCY)));
	json_object_object_add(o, "active", json_object_new_boolean(strcmp(PQgetvalue(res, row, TCOL_ACTIVE), "t") == 0));
	json_object_object_add(o, "purchaseRequestId", json_object_new_string(request));
	json_object_object_add(o, "createdBy", json_object_new_string(PQgetvalue(res, row, TCOL_CREATED_BY)));
	json_object_object_add(o, "createdAt", json_object_new_string(PQgetvalue(res, row, TCOL_CREATED)));
	json_object_object_add(o, "updatedAt", json_object_new_string(PQgetvalue(res, row, TCOL_UPDATED)));
	return o;
}

enum { T_TITLE, T_PRICE, T_CURRENCY, T_ACTIVE, T_SELLER, T_N };
static const struct jfield template_fields[T_N] = {
	[T_TITLE] = { "title", JK_STRING, true, 0, 200, NULL },
	[T_PRICE] = { "price", JK_AMOUNT, true, 0, 0, NULL },
	[T_CURRENCY] = { "currency", JK_CURRENCY, false, 0, 0, NULL },
	[T_ACTIVE] = { "active", JK_BOOL, false, 0, 0, NULL },
	[T_SELLER] = { "sellerId", JK_ID, false, 0, 0, NULL },
};

void h_template_create(struct request *req, struct response *resp)
{
	struct jval v[T_N];
	char price[MONEY_TEXT_MAX];
	const char *seller, *currency;
	const struct currency_conf *cur;
	json_object *body = jin_body(req, resp);
	PGresult *row = NULL;
	enum money_err e;
	enum db_status st;

	if (body == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if (jin_check(template_fields, T_N, body, NULL, v, resp) != 0)
		goto out;
	if (v[T_TITLE].str[0] == '\0') {
		resp_error(resp, 400, "invalid_field", "title", "title must not be empty");
		goto out;
	}
	currency = v[T_CURRENCY].present ? v[T_CURRENCY].str : TEMPLATE_CURRENCY;
	if (strcmp(currency, TEMPLATE_CURRENCY) != 0 || (cur = config_currency(req->app->cfg, currency)) == NULL) {
		resp_error(resp, 400, "invalid_field", "currency",
		           "currency must be " TEMPLATE_CURRENCY ": template checkouts are invoiced in it");
		goto out;
	}
	if ((e = money_from_json(v[T_PRICE].obj, cur->scale, price)) != MONEY_OK) {
		resp_error(resp, 400, "invalid_field", "price", "price %s (%s allows %d decimals)", money_strerror(e),
		           cur->code, cur->scale);
		goto out;
	}
	/* A seller sells as itself; an admin names the seller it acts for. */
	if (req_is_admin(req)) {
		if (!v[T_SELLER].present) {
			resp_error(resp, 400, "invalid_field", "sellerId", "sellerId is required when an admin creates a template");
			goto out;
		}
		seller = v[T_SELLER].str;
	} else {
		if (v[T_SELLER].present && strcmp(v[T_SELLER].str, req->auth.sub) != 0) {
			resp_error(resp, 403, "forbidden", "sellerId", "a seller creates templates only as itself");
			goto out;
		}
		seller = req->auth.sub;
	}
	const char *p[6] = { seller, v[T_TITLE].str, price, currency,
	                     !v[T_ACTIVE].present || v[T_ACTIVE].num ? "t" : "f", req->auth.sub };
	st = db_exec(req->app->db, &row,
	             "INSERT INTO checkout_templates AS t (seller_id, title, price, currency, active, created_by)"
	             " VALUES ($1, $2, $3::numeric, $4, $5::boolean, $6) RETURNING " TEMPLATE_COLUMNS, 6, p);
	if (st == DB_CHECK) {
		resp_error(resp, 400, "invalid_field", "title", "title must be 1 to 200 characters");
		goto out;
	}
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	log_info("checkout template %s created by %s for seller %s", PQgetvalue(row, 0, TCOL_ID), req->auth.sub, seller);
	resp_ok(resp, 201, template_json(row, 0), "template created");
out:
	PQclear(row);
	json_object_put(body);
}

/* A seller's own templates; an admin's: everyone's, or one seller's with ?sellerId=. */
void h_template_list(struct request *req, struct response *resp)
{
	char seller[ID_MAX + 1], limit[16], offset[24];
	PGresult *res = NULL;
	int found = req_query(req, "sellerId", seller, sizeof(seller));

	if (found < 0 || (found > 0 && !valid_id(seller))) {
		resp_error(resp, 400, "invalid_field", "sellerId", "sellerId must be an id of 1 to 64 letters, digits, '_' or '-'");
		return;
	}
	if (found > 0 && !req_may_see(req, seller)) {
		resp_error(resp, 403, "forbidden", "sellerId", "you may only list your own templates");
		return;
	}
	if (req_page(req, resp, 50, limit, offset) != 0)
		return;
	const char *p[3] = { found > 0 ? seller : req_is_admin(req) ? NULL : req->auth.sub, limit, offset };
	enum db_status st = db_exec(req->app->db, &res,
	                            "SELECT " TEMPLATE_COLUMNS " FROM checkout_templates t"
	                            " WHERE $1::text IS NULL OR t.seller_id = $1"
	                            " ORDER BY t.created_at DESC, t.id LIMIT $2::int OFFSET $3::bigint", 3, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	json_object *data = json_object_new_object(), *list = json_object_new_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_object_array_add(list, template_json(res, i));
	json_object_object_add(data, "templates", list);
	resp_ok(resp, 200, data, NULL);
	PQclear(res);
}

/*
 * The template `:id` as the caller may see it: an active one is the buyer's
 * to see (it is what they would pay for); an inactive one only its seller's
 * and admins'. NULL with a 404 written otherwise.
 */
static PGresult *visible_template(struct request *req, struct response *resp, bool owner_only)
{
	const char *id = req_path_param(req, "id");
	PGresult *res = NULL;
	enum db_status st;

	if (id == NULL || !valid_uuid(id)) {
		resp_error(resp, 404, "not_found", NULL, "template not found");
		return NULL;
	}
	const char *p[1] = { id };
	if ((st = db_exec(req->app->db, &res, "SELECT " TEMPLATE_COLUMNS " FROM checkout_templates t WHERE t.id = $1::uuid",
	                  1, p)) != DB_OK) {
		resp_db_error(resp, st);
		return NULL;
	}
	bool mine = PQntuples(res) == 1 && req_may_see(req, PQgetvalue(res, 0, TCOL_SELLER));
	bool active = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, TCOL_ACTIVE), "t") == 0;
	if (!mine && (owner_only || !active)) {
		resp_error(resp, 404, "not_found", NULL, "template %s not found", id);
		PQclear(res);
		return NULL;
	}
	return res;
}

void h_template_get(struct request *req, struct response *resp)
{
	PGresult *res = visible_template(req, resp, false);

	if (res == NULL)
		return;
	resp_ok(resp, 200, template_json(res, 0), NULL);
	PQclear(res);
}

/* Deactivates: a checkout of it is then 404, and payments that name it keep their record. */
void h_template_delete(struct request *req, struct response *resp)
{
	PGresult *res = visible_template(req, resp, true), *row = NULL;
	enum db_status st;

	if (res == NULL)
		return;
	const char *p[1] = { PQgetvalue(res, 0, TCOL_ID) };
	st = db_exec(req->app->db, &row,
	             "UPDATE checkout_templates t SET active = false,"
	             " updated_at = CASE WHEN t.active THEN now() ELSE t.updated_at END"
	             " WHERE t.id = $1::uuid RETURNING " TEMPLATE_COLUMNS, 1, p);
	if (st != DB_OK)
		resp_db_error(resp, st);
	else {
		log_info("checkout template %s deactivated by %s", p[0], req->auth.sub);
		resp_ok(resp, 200, template_json(row, 0), "template deactivated");
	}
	PQclear(res);
	PQclear(row);
}
