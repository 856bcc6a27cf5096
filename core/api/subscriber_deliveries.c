/* Webhooks to subscribers, as admins watch them: each subscriber's queue
 * (what is pending, what failed, how its last attempt went) and the
 * deliveries themselves, and a way to send one (or every failed one of a
 * subscriber) again. The jobs process does the sending; these only read
 * and reschedule rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "http/jsonin.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define DELIVERY_COLUMNS \
	"d.id, d.event_id, e.event, d.subscriber, d.state, d.attempts, " TS("d.next_attempt_at") ", " \
	TS("d.give_up_at") ", " TS("d.last_attempt_at") ", d.last_status, d.last_error, " TS("d.delivered_at") \
	", " TS("d.created_at")

static json_object *delivery_json(const PGresult *res, int i)
{
	static const char *const names[] = { "id", "eventId", "event", "subscriber", "state", "attempts",
		                             "nextAttemptAt", "giveUpAt", "lastAttemptAt", "lastStatus",
		                             "lastError", "deliveredAt", "createdAt" };
	json_object *d = json_object_new_object();

	for (int c = 0; c < (int)(sizeof(names) / sizeof(names[0])); c++) {
		bool number = c == 0 || c == 1 || c == 5 || c == 9;
		json_object_object_add(d, names[c], PQgetisnull(res, i, c) ? NULL :
		                       number ? json_object_new_int64(atoll(PQgetvalue(res, i, c)))
		                              : json_object_new_string(PQgetvalue(res, i, c)));
	}
	return d;
}

/* scheme://host[:port] of a subscriber's URL: its path or query may carry a credential. */
static json_object *url_origin(const char *url)
{
	const char *host = strstr(url, "://");
	size_t n = host ? (size_t)(host + 3 - url) + strcspn(host + 3, "/?#") : strlen(url);

	return json_object_new_string_len(url, (int)n);
}

static const char *const states[] = { "pending", "delivered", "failed", NULL };

/* Each subscriber's standing, then the deliveries (newest first), filtered by subscriber and state. */
void h_admin_deliveries(struct request *req, struct response *resp)
{
	const struct subscribers_conf *subs = &req->app->cfg->subscribers;
	char subscriber[32], state[16], limit[16], offset[24];
	int fs = req_query(req, "subscriber", subscriber, sizeof(subscriber));
	int fst = req_query(req, "state", state, sizeof(state));
	PGresult *stats = NULL, *rows = NULL;
	bool known = false;
	enum db_status st;

	for (const char *const *s = states; fst > 0 && *s; s++)
		known |= strcmp(*s, state) == 0;
	if (fs < 0 || fst < 0 || (fst > 0 && !known)) {
		resp_error(resp, 400, "invalid_field", fs < 0 ? "subscriber" : "state",
		           "subscriber must be a subscriber's name, state one of pending, delivered, failed");
		return;
	}
	if (req_page(req, resp, 50, limit, offset) != 0)
		return;
	st = db_exec(req->app->db, &stats,
	             "SELECT s.subscriber, s.pending, s.failed, " TS("s.oldest_pending") ", " TS("s.last_delivered") ","
	             " " TS("l.last_attempt_at") ", l.last_status, l.last_error, l.state"
	             " FROM (SELECT subscriber, count(*) FILTER (WHERE state = 'pending') AS pending,"
	             "  count(*) FILTER (WHERE state = 'failed') AS failed,"
	             "  min(created_at) FILTER (WHERE state = 'pending') AS oldest_pending,"
	             "  max(delivered_at) AS last_delivered"
	             "  FROM event_deliveries WHERE state <> 'delivered' OR delivered_at > now() - interval '1 day'"
	             "  GROUP BY subscriber) s"
	             " LEFT JOIN LATERAL (SELECT last_attempt_at, last_status, last_error, state FROM event_deliveries d"
	             "  WHERE d.subscriber = s.subscriber AND d.last_attempt_at IS NOT NULL"
	             "  ORDER BY d.last_attempt_at DESC LIMIT 1) l ON true ORDER BY s.subscriber", 0, NULL);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	const char *p[4] = { fs > 0 ? subscriber : NULL, fst > 0 ? state : NULL, limit, offset };
	st = db_exec(req->app->db, &rows,
	             "SELECT " DELIVERY_COLUMNS " FROM event_deliveries d JOIN events e ON e.id = d.event_id"
	             " WHERE ($1::text IS NULL OR d.subscriber = $1) AND ($2::text IS NULL OR d.state = $2)"
	             " ORDER BY d.id DESC LIMIT $3::integer OFFSET $4::bigint", 4, p);
	if (st != DB_OK) {
		PQclear(stats);
		resp_db_error(resp, st);
		return;
	}
	json_object *data = json_object_new_object(), *list = json_object_new_array(),
	            *sublist = json_object_new_array();
	/* Every configured subscriber, and any that has deliveries left but was taken out of the configuration. */
	for (int i = 0; i < PQntuples(stats); i++) {
		const char *name = PQgetvalue(stats, i, 0);
		json_object *s = json_object_new_object();
		const struct subscriber_conf *conf = NULL;
		long long pending = atoll(PQgetvalue(stats, i, 1)), failed = atoll(PQgetvalue(stats, i, 2));
		bool last_failed = !PQgetisnull(stats, i, 5) && strcmp(PQgetvalue(stats, i, 8), "delivered") != 0;

		for (size_t k = 0; k < subs->n; k++)
			if (strcmp(subs->list[k].name, name) == 0)
				conf = &subs->list[k];
		json_object_object_add(s, "name", json_object_new_string(name));
		json_object_object_add(s, "configured", json_object_new_boolean(conf != NULL));
		json_object_object_add(s, "url", conf ? url_origin(conf->url) : NULL);
		json_object_object_add(s, "pending", json_object_new_int64(pending));
		json_object_object_add(s, "failed", json_object_new_int64(failed));
		json_object_object_add(s, "failing", json_object_new_boolean(failed > 0 || last_failed));
		json_object_object_add(s, "oldestPendingAt", PQgetisnull(stats, i, 3) ? NULL : json_object_new_string(PQgetvalue(stats, i, 3)));
		json_object_object_add(s, "lastDeliveredAt", PQgetisnull(stats, i, 4) ? NULL : json_object_new_string(PQgetvalue(stats, i, 4)));
		json_object_object_add(s, "lastAttemptAt", PQgetisnull(stats, i, 5) ? NULL : json_object_new_string(PQgetvalue(stats, i, 5)));
		json_object_object_add(s, "lastStatus", PQgetisnull(stats, i, 6) ? NULL : json_object_new_int64(atoll(PQgetvalue(stats, i, 6))));
		json_object_object_add(s, "lastError", PQgetisnull(stats, i, 7) ? NULL : json_object_new_string(PQgetvalue(stats, i, 7)));
		json_object_array_add(sublist, s);
	}
	for (size_t k = 0; k < subs->n; k++) {
		bool listed = false;
		for (int i = 0; i < PQntuples(stats); i++)
			listed |= strcmp(PQgetvalue(stats, i, 0), subs->list[k].name) == 0;
		if (listed)
			continue;
		json_object *s = json_object_new_object();
		json_object_object_add(s, "name", json_object_new_string(subs->list[k].name));
		json_object_object_add(s, "configured", json_object_new_boolean(1));
		json_object_object_add(s, "url", url_origin(subs->list[k].url));
		json_object_object_add(s, "pending", json_object_new_int64(0));
		json_object_object_add(s, "failed", json_object_new_int64(0));
		json_object_object_add(s, "failing", json_object_new_boolean(0));
		json_object_array_add(sublist, s);
	}
	for (int i = 0; i < PQntuples(rows); i++)
		json_object_array_add(list, delivery_json(rows, i));
	json_object_object_add(data, "subscribers", sublist);
	json_object_object_add(data, "deliveries", list);
	resp_ok(resp, 200, data, NULL);
	PQclear(stats);
	PQclear(rows);
}

static const struct jfield redeliver_fields[1] = {
	{ "subscriber", JK_STRING, true, 0, 24, NULL },
};

/*
 * POST /admin/deliveries/:id/redeliver sends one delivery again, whatever
 * became of it; POST /admin/deliveries/redeliver {"subscriber"} every failed
 * one of a subscriber. Each is due at once, with a fresh day of retries.
 */
void h_deliveries_redeliver(struct request *req, struct response *resp)
{
	const char *id = req_path_param(req, "deliveryId");
	char give_up[16];
	struct jval v[1];
	json_object *body = NULL;
	PGresult *res = NULL;
	enum db_status st;

	snprintf(give_up, sizeof(give_up), "%d", req->app->cfg->subscribers.give_up_seconds);
	if (id != NULL) {
		if (strlen(id) > 19 || strspn(id, "0123456789") != strlen(id) || *id == '\0') {
			resp_error(resp, 400, "invalid_field", "id", "id must be a delivery id");
			return;
		}
	} else if (jin_optional(req, resp, redeliver_fields, 1, v, &body) != 0) {
		return;
	} else if (!v[0].present) {
		resp_error(resp, 400, "invalid_field", "subscriber", "subscriber is required");
		goto out;
	}
	const char *p[3] = { id, id ? NULL : v[0].str, give_up };
	st = db_exec(req->app->db, &res,
	             "WITH again AS (UPDATE event_deliveries SET state = 'pending', delivered_at = NULL,"
	             "  next_attempt_at = now(), give_up_at = now() + make_interval(secs => $3::integer)"
	             "  WHERE ($1::bigint IS NOT NULL AND id = $1::bigint)"
	             "   OR ($1::bigint IS NULL AND subscriber = $2 AND state = 'failed') RETURNING *)"
	             " SELECT " DELIVERY_COLUMNS " FROM again d JOIN events e ON e.id = d.event_id ORDER BY d.id", 3, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (id != NULL && PQntuples(res) == 0) {
		resp_error(resp, 404, "not_found", "id", "no delivery %s", id);
		goto out;
	}
	json_object *data = json_object_new_object(), *list = json_object_new_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_object_array_add(list, delivery_json(res, i));
	json_object_object_add(data, "redelivered", json_object_new_int64(PQntuples(res)));
	json_object_object_add(data, "deliveries", list);
	resp_ok(resp, 200, data, NULL);
out:
	PQclear(res);
	json_object_put(body);
}
