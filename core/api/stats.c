/* Counts and exact sums of payments per status and currency. */
#include <stdlib.h>

#include "api/handlers.h"
#include "base/money.h"

/* An exact sum, written with its currency's decimals like the amounts it adds up ("5.50" USD). */
static void add_total(json_object *g, const struct config *cfg, const char *currency, const char *sum)
{
	const struct currency_conf *cur = config_currency(cfg, currency);
	char text[160];

	if (cur == NULL || money_with_scale(sum, cur->scale, text, sizeof(text)) != 0)
		json_add_amount(g, "totalAmount", sum);
	else
		json_add_amount(g, "totalAmount", text);
}

void h_stats(struct request *req, struct response *resp)
{
	const char *user;
	PGresult *res = NULL;
	enum db_status st;

	user = scope_user(req);
	const char *p[1] = { user };
	st = db_exec(req->app->db, &res,
	             "SELECT status, currency, count(*), sum(amount)::text FROM payments"
	             " WHERE $1::text IS NULL OR buyer_id = $1 OR seller_id = $1"
	             " GROUP BY status, currency ORDER BY status, currency", 1, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	json_object *data = json_object_new_object(), *groups = json_object_new_array();
	long long total = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *g = json_object_new_object();
		long long n = atoll(PQgetvalue(res, i, 2));
		json_object_object_add(g, "status", json_object_new_string(PQgetvalue(res, i, 0)));
		json_object_object_add(g, "currency", json_object_new_string(PQgetvalue(res, i, 1)));
		json_object_object_add(g, "count", json_object_new_int64(n));
		add_total(g, req->app->cfg, PQgetvalue(res, i, 1), PQgetvalue(res, i, 3));
		json_object_array_add(groups, g);
		total += n;
	}
	json_object_object_add(data, "userId", user ? json_object_new_string(user) : NULL);
	json_object_object_add(data, "totalCount", json_object_new_int64(total));
	json_object_object_add(data, "byStatus", groups);
	resp_ok(resp, 200, data, NULL);
	PQclear(res);
}
