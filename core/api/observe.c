/* What admins and dashboards watch: webhook deliveries, watchers, and the outbox of events. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "flow/shk_deposit.h"
#include "flow/shk_poll.h"

/*
 * Deliveries refused without being stored (pay/inbox.h), by provider and
 * reason: {"total": n, "byProvider": {"shkeeper": {"bad signature": {"deliveries": n,
 * "distinctBodies": n, "lastSeenAt": "…"}}}}.
 */
static json_object *refused_json(PGresult *res)
{
	json_object *out = json_object_new_object(), *by = json_object_new_object();
	long long total = 0;

	for (int i = 0; i < PQntuples(res); i++) {
		json_object *prov, *r = json_object_new_object();
		if (!json_object_object_get_ex(by, PQgetvalue(res, i, 0), &prov)) {
			prov = json_object_new_object();
			json_object_object_add(by, PQgetvalue(res, i, 0), prov);
		}
		json_object_object_add(r, "deliveries", json_object_new_int64(atoll(PQgetvalue(res, i, 2))));
		json_object_object_add(r, "distinctBodies", json_object_new_int64(atoll(PQgetvalue(res, i, 3))));
		json_object_object_add(r, "lastSeenAt", json_object_new_string(PQgetvalue(res, i, 4)));
		json_object_object_add(prov, PQgetvalue(res, i, 1), r);
		total += atoll(PQgetvalue(res, i, 2));
	}
	json_object_object_add(out, "total", json_object_new_int64(total));
	json_object_object_add(out, "byProvider", by);
	return out;
}

void h_webhook_stats(struct request *req, struct response *resp)
{
	PGresult *res = NULL, *refused = NULL;
	enum db_status st = db_exec(req->app->db, &res,
	                            "SELECT provider, verdict, outcome, count(*),"
	                            " to_char(max(received_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
	                            " FROM webhook_inbox GROUP BY provider, verdict, outcome"
	                            " ORDER BY provider, verdict, outcome", 0, NULL);
	if (st == DB_OK)
		st = db_exec(req->app->db, &refused,
		             "SELECT provider, reason, sum(count), count(*),"
		             " to_char(max(last_seen) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
		             " FROM webhook_rejects GROUP BY provider, reason ORDER BY provider, reason", 0, NULL);
	if (st != DB_OK) {
		PQclear(res);
		resp_db_error(resp, st);
		return;
	}
	json_object *data = json_object_new_object(), *rows = json_object_new_array(),
	            *totals = json_object_new_object();
	long long total = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *r = json_object_new_object(), *t;
		long long n = atoll(PQgetvalue(res, i, 3));
		const char *outcome = PQgetvalue(res, i, 2);
		json_object_object_add(r, "provider", json_object_new_string(PQgetvalue(res, i, 0)));
		json_object_object_add(r, "verdict", json_object_new_string(PQgetvalue(res, i, 1)));
		json_object_object_add(r, "outcome", json_object_new_string(outcome));
		json_object_object_add(r, "count", json_object_new_int64(n));
		json_object_object_add(r, "lastReceivedAt", json_object_new_string(PQgetvalue(res, i, 4)));
		json_object_array_add(rows, r);
		/* The totals are SHKeeper's; the rows cover every provider. */
		if (strcmp(PQgetvalue(res, i, 0), "shkeeper") != 0)
			continue;
		long long prev = json_object_object_get_ex(totals, outcome, &t) ? json_object_get_int64(t) : 0;
		json_object_object_add(totals, outcome, json_object_new_int64(prev + n));
		total += n;
	}
	json_object_object_add(data, "provider", json_object_new_string("shkeeper"));
	json_object_object_add(data, "total", json_object_new_int64(total));
	json_object_object_add(data, "byOutcome", totals);
	json_object_object_add(data, "deliveries", rows);
	json_object_object_add(data, "refused", refused_json(refused));
	resp_ok(resp, 200, data, NULL);
	PQclear(res);
	PQclear(refused);
}

/* What the chain watcher of the jobs process watches, and how far behind each network it is. */
void h_wallet_monitor_status(struct request *req, struct response *resp)
{
	PGresult *res = NULL, *addr = NULL;
	long long deposits = 0;
	enum db_status st = db_exec(req->app->db, &res,
	                            "SELECT network, last_block, safe_block, head_block,"
	                            " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	                            " updated_at > now() - interval '5 minutes'"
	                            " FROM chain_cursors ORDER BY network", 0, NULL);

	if (st == DB_OK)
		st = db_exec(req->app->db, &addr,
		             "SELECT count(DISTINCT lower(sender_address)) FROM payments WHERE provider = 'decentralized'"
		             " AND direction = 'in' AND status IN ('pending', 'processing') AND sender_address IS NOT NULL",
		             0, NULL);
	if (st == DB_OK)
		st = shk_deposit_count(req->app->db, &deposits);
	if (st != DB_OK) {
		PQclear(res);
		PQclear(addr);
		resp_db_error(resp, st);
		return;
	}
	json_object *data = json_object_new_object(), *nets = json_object_new_array();
	bool running = false;
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *n = json_object_new_object();
		long long last = atoll(PQgetvalue(res, i, 1)), head = atoll(PQgetvalue(res, i, 3));

		json_object_object_add(n, "network", json_object_new_string(PQgetvalue(res, i, 0)));
		json_object_object_add(n, "cursor", json_object_new_int64(last));
		json_object_object_add(n, "finalBlock", json_object_new_int64(atoll(PQgetvalue(res, i, 2))));
		json_object_object_add(n, "headBlock", json_object_new_int64(head));
		json_object_object_add(n, "lagBlocks", json_object_new_int64(head > last ? head - last : 0));
		json_object_object_add(n, "updatedAt", json_object_new_string(PQgetvalue(res, i, 4)));
		running |= *PQgetvalue(res, i, 5) == 't';
		json_object_array_add(nets, n);
	}
	json_object_object_add(data, "isMonitoring", json_object_new_boolean(running));
	json_object_object_add(data, "watchedSenderWallets", json_object_new_int64(atoll(PQgetvalue(addr, 0, 0))));
	/* SHKeeper pay-ins' deposit addresses: open ones, and those closed lately (flow/shk_deposit.h). */
	json_object_object_add(data, "watchedDepositAddresses", json_object_new_int64(deposits));
	json_object_object_add(data, "networks", nets);
	resp_ok(resp, 200, data, NULL);
	PQclear(res);
	PQclear(addr);
}

/*
 * What the SHKeeper poll fallback of the jobs process asks about, and when
 * it last did. Counts and times only: the route is public.
 */
void h_auto_webhook_status(struct request *req, struct response *resp)
{
	const struct jobs_conf *j = &req->app->cfg->jobs;
	struct shk_poll_counts n;
	PGresult *run = NULL;
	enum db_status st = shk_poll_counts(req->app->db, j->shkeeper_poll_after_minutes, &n);

	if (st == DB_OK)
		st = db_exec(req->app->db, &run,
		             "SELECT to_char(last_finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
		             " to_char(next_run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
		             " last_seen, last_changed, last_errors, next_run_at >= now() - interval '1 minute'"
		             " FROM job_runs WHERE job = 'shkeeper_poll'", 0, NULL);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	json_object *data = json_object_new_object(), *last = NULL;
	bool ran = PQntuples(run) == 1;
	json_object_object_add(data, "isRunning",
	                       json_object_new_boolean(j->shkeeper_poll_seconds > 0 && ran && *PQgetvalue(run, 0, 5) == 't'));
	json_object_object_add(data, "intervalSeconds", json_object_new_int(j->shkeeper_poll_seconds));
	json_object_object_add(data, "pollAfterMinutes", json_object_new_int(j->shkeeper_poll_after_minutes));
	/* Open SHKeeper pay-ins; those old enough to be asked about; those asked about at least once. */
	json_object_object_add(data, "pendingInvoices", json_object_new_int64(n.open));
	json_object_object_add(data, "dueInvoices", json_object_new_int64(n.due));
	json_object_object_add(data, "polledInvoices", json_object_new_int64(n.polled));
	json_object_object_add(data, "lastPolledAt", n.last_polled_at[0] ? json_object_new_string(n.last_polled_at) : NULL);
	if (ran) {
		last = json_object_new_object();
		json_object_object_add(last, "finishedAt", json_object_new_string(PQgetvalue(run, 0, 0)));
		json_object_object_add(last, "asked", json_object_new_int64(atoll(PQgetvalue(run, 0, 2))));
		json_object_object_add(last, "applied", json_object_new_int64(atoll(PQgetvalue(run, 0, 3))));
		json_object_object_add(last, "errors", json_object_new_int64(atoll(PQgetvalue(run, 0, 4))));
	}
	json_object_object_add(data, "lastRun", last);
	json_object_object_add(data, "nextRunAt", ran ? json_object_new_string(PQgetvalue(run, 0, 1)) : NULL);
	resp_ok(resp, 200, data, NULL);
	PQclear(run);
}

/*
 * The outbox in order, for a dashboard to follow; `event` narrows it to one
 * kind (event=payment-needs-review is the admins' list of money to place).
 */
void h_admin_events(struct request *req, struct response *resp)
{
	char after[24], limit[16], event[65];
	PGresult *res = NULL;
	long long av;
	long a, l;
	int found = req_query(req, "event", event, sizeof(event));

	if (found < 0 || (found > 0 && (event[0] == '\0' ||
	                                strspn(event, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(event)))) {
		resp_error(resp, 400, "invalid_field", "event", "event must be an event name (lower case, digits, '-')");
		return;
	}
	/* Event ids fit a long on the platforms this runs on (LP64). */
	if (req_query_long(req, resp, "after", 0, 0, LONG_MAX, &a) != 0 ||
	    req_query_long(req, resp, "limit", 100, 1, 500, &l) != 0)
		return;
	av = a;
	snprintf(after, sizeof(after), "%ld", a);
	snprintf(limit, sizeof(limit), "%ld", l);
	const char *p[3] = { after, limit, found > 0 ? event : NULL };
	enum db_status st = db_exec(req->app->db, &res,
	                            "SELECT id, event, room, payload::text, payment_id,"
	                            " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
	                            " FROM events WHERE id > $1::bigint AND ($3::text IS NULL OR event = $3)"
	                            " ORDER BY id LIMIT $2::int", 3, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	json_object *data = json_object_new_object(), *list = json_object_new_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "id", json_object_new_int64(atoll(PQgetvalue(res, i, 0))));
		json_object_object_add(e, "event", json_object_new_string(PQgetvalue(res, i, 1)));
		json_object_object_add(e, "room", json_object_new_string(PQgetvalue(res, i, 2)));
		json_object_object_add(e, "payload", json_tokener_parse(PQgetvalue(res, i, 3)));
		json_object_object_add(e, "paymentId", PQgetisnull(res, i, 4) ? NULL : json_object_new_string(PQgetvalue(res, i, 4)));
		json_object_object_add(e, "createdAt", json_object_new_string(PQgetvalue(res, i, 5)));
		json_object_array_add(list, e);
	}
	int n = PQntuples(res);
	json_object_object_add(data, "events", list);
	json_object_object_add(data, "nextAfter", json_object_new_int64(n ? atoll(PQgetvalue(res, n - 1, 0)) : av));
	resp_ok(resp, 200, data, NULL);
	PQclear(res);
}

static const char *const inbox_outcomes[] = {
	"received", "applied", "duplicate", "stale", "ignored", "unknown_payment", "rejected", "recorded",
	"failed", "review", NULL,
};

/* The inbox, newest first, without bodies: what arrived, whether it was authentic, what came of it. */
void h_admin_webhooks(struct request *req, struct response *resp)
{
	char outcome[32], limit[16], offset[24];
	PGresult *res = NULL;
	int found = req_query(req, "outcome", outcome, sizeof(outcome));
	bool known = false;

	for (const char *const *o = inbox_outcomes; found > 0 && *o; o++)
		known |= strcmp(*o, outcome) == 0;
	if (found < 0 || (found > 0 && !known)) {
		resp_error(resp, 400, "invalid_field", "outcome", "outcome must be one of the inbox's outcomes (received, applied, …)");
		return;
	}
	if (req_page(req, resp, 50, limit, offset) != 0)
		return;
	const char *p[3] = { found > 0 ? outcome : NULL, limit, offset };
	enum db_status st = db_exec(req->app->db, &res,
	                            "SELECT id::text, provider, verdict, outcome, external_id, payment_id::text,"
	                            " event_key, detail, duplicate_of::text, length(body),"
	                            " to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
	                            " FROM webhook_inbox WHERE $1::text IS NULL OR outcome = $1"
	                            /* The column, not the text alias: "999" sorts after "1000" as text. */
	                            " ORDER BY webhook_inbox.id DESC LIMIT $2::int OFFSET $3::bigint", 3, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	static const char *const names[] = { "id", "provider", "verdict", "outcome", "externalId", "paymentId",
	                                     "eventKey", "detail", "duplicateOf", "bodyBytes", "receivedAt" };
	json_object *list = json_object_new_array(), *data = json_object_new_object();
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *d = json_object_new_object();
		for (int c = 0; c < (int)(sizeof(names) / sizeof(names[0])); c++)
			json_object_object_add(d, names[c], PQgetisnull(res, i, c) ? NULL :
			                       c == 9 ? json_object_new_int64(atoll(PQgetvalue(res, i, c)))
			                              : json_object_new_string(PQgetvalue(res, i, c)));
		json_object_array_add(list, d);
	}
	json_object_object_add(data, "deliveries", list);
	resp_ok(resp, 200, data, NULL);
	PQclear(res);
}

/* Each job as the copy that last ran it recorded it; overdue means no copy is leading it now. */
void h_admin_jobs(struct request *req, struct response *resp)
{
	static const char *const names[] = { "job", "leaderHost", "leaderPid", "lastStartedAt",
		                             "lastFinishedAt", "seen", "changed", "errors", "result",
		                             "backlog", "nextRunAt", "overdue" };
	PGresult *res = NULL;
	enum db_status st = db_exec(req->app->db, &res,
	                            "SELECT job, leader_host, leader_pid,"
	                            " to_char(last_started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	                            " to_char(last_finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	                            " last_seen, last_changed, last_errors, last_result, backlog,"
	                            " to_char(next_run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	                            " next_run_at < now() - interval '1 minute'"
	                            " FROM job_runs ORDER BY job", 0, NULL);

	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	json_object *list = json_object_new_array(), *data = json_object_new_object();
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *d = json_object_new_object();
		for (int c = 0; c < (int)(sizeof(names) / sizeof(names[0])); c++) {
			const char *v = PQgetvalue(res, i, c);
			json_object *o;

			if (c == 2 || (c >= 5 && c <= 7) || c == 9)
				o = json_object_new_int64(atoll(v));
			else if (c == 11)
				o = json_object_new_boolean(*v == 't');
			else
				o = json_object_new_string(v);
			json_object_object_add(d, names[c], o);
		}
		json_object_array_add(list, d);
	}
	json_object_object_add(data, "jobs", list);
	resp_ok(resp, 200, data, NULL);
	PQclear(res);
}
