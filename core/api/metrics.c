/*
 * GET /metrics: the Prometheus text exposition of the pool. Counters and
 * histograms come from the pool's shared memory (base/metrics, the
 * breakers), so every worker's requests are in every scrape; the backlog of
 * the outbox and the jobs' last runs are read from the database at scrape
 * time, and are left out (with payments_scrape_database_up 0) while it is down.
 */
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "api/routes.h"
#include "base/breaker.h"
#include "base/metrics.h"

/* A route slot's labels: the pattern and method of the route table, never a raw path. */
static const char *route_name(unsigned slot, const char **method)
{
	if (slot == 0) {
		*method = "any";
		return "unmatched";
	}
	if (slot > app_routes_len)
		return NULL;
	*method = http_method_name(app_routes[slot - 1].method);
	return app_routes[slot - 1].pattern;
}

static void write_upstreams(struct buf *out)
{
	static const char *const states[] = { "closed", "open", "half_open" };
	struct breaker_counts c[UPSTREAM_COUNT];

	for (int u = 0; u < UPSTREAM_COUNT; u++)
		breaker_counts((enum upstream)u, &c[u]);
	buf_puts(out, "# HELP payments_upstream_calls_total Calls to each upstream by result (rejected: the breaker was open).\n"
	              "# TYPE payments_upstream_calls_total counter\n");
	for (int u = 0; u < UPSTREAM_COUNT; u++) {
		const char *n = upstream_name((enum upstream)u);
		buf_printf(out, "payments_upstream_calls_total{upstream=\"%s\",result=\"ok\"} %lld\n", n, c[u].successes);
		buf_printf(out, "payments_upstream_calls_total{upstream=\"%s\",result=\"failed\"} %lld\n", n, c[u].failures);
		buf_printf(out, "payments_upstream_calls_total{upstream=\"%s\",result=\"rejected\"} %lld\n", n, c[u].rejected);
	}
	buf_puts(out, "# HELP payments_upstream_breaker_state The circuit breaker of each upstream: 1 for its state now.\n"
	              "# TYPE payments_upstream_breaker_state gauge\n");
	for (int u = 0; u < UPSTREAM_COUNT; u++)
		for (int s = 0; s < 3; s++)
			buf_printf(out, "payments_upstream_breaker_state{upstream=\"%s\",state=\"%s\"} %d\n",
			           upstream_name((enum upstream)u), states[s], c[u].state == s);
}

/* Gauges read from the database: 0 when it could not be read. */
static int write_database_gauges(struct request *req, struct buf *out)
{
	PGresult *backlog = NULL, *jobs = NULL;
	int rc = -1;

	if (db_exec(req->app->db, &backlog,
	            "SELECT (SELECT count(*) FROM events WHERE relayed_at IS NULL),"
	            "       (SELECT count(*) FROM event_deliveries WHERE state = 'pending'),"
	            "       coalesce(extract(epoch FROM now() - least("
	            "         (SELECT min(created_at) FROM events WHERE relayed_at IS NULL),"
	            "         (SELECT min(e.created_at) FROM event_deliveries d JOIN events e ON e.id = d.event_id"
	            "           WHERE d.state = 'pending'))), 0)::numeric(20,3)",
	            0, NULL) != DB_OK ||
	    db_exec(req->app->db, &jobs,
	            "SELECT job, extract(epoch FROM last_finished_at)::numeric(20,3), (last_result = 'ok')::int,"
	            "       backlog, greatest(0, extract(epoch FROM now() - next_run_at))::numeric(20,3)"
	            "  FROM job_runs ORDER BY job",
	            0, NULL) != DB_OK)
		goto out;
	buf_printf(out,
	           "# HELP payments_outbox_unrelayed_events Outbox events the relay has not carried yet.\n"
	           "# TYPE payments_outbox_unrelayed_events gauge\npayments_outbox_unrelayed_events %s\n"
	           "# HELP payments_outbox_pending_deliveries Subscriber webhooks not delivered yet (retrying included).\n"
	           "# TYPE payments_outbox_pending_deliveries gauge\npayments_outbox_pending_deliveries %s\n"
	           "# HELP payments_outbox_oldest_undelivered_age_seconds Age of the oldest event not relayed or not delivered.\n"
	           "# TYPE payments_outbox_oldest_undelivered_age_seconds gauge\npayments_outbox_oldest_undelivered_age_seconds %s\n",
	           PQgetvalue(backlog, 0, 0), PQgetvalue(backlog, 0, 1), PQgetvalue(backlog, 0, 2));
	buf_puts(out, "# HELP payments_job_last_run_timestamp_seconds When each background job last finished a run.\n"
	              "# TYPE payments_job_last_run_timestamp_seconds gauge\n");
	for (int i = 0; i < PQntuples(jobs); i++)
		buf_printf(out, "payments_job_last_run_timestamp_seconds{job=\"%s\"} %s\n", PQgetvalue(jobs, i, 0), PQgetvalue(jobs, i, 1));
	buf_puts(out, "# HELP payments_job_last_run_success Whether each job's last run succeeded (1) or failed (0).\n"
	              "# TYPE payments_job_last_run_success gauge\n");
	for (int i = 0; i < PQntuples(jobs); i++)
		buf_printf(out, "payments_job_last_run_success{job=\"%s\"} %s\n", PQgetvalue(jobs, i, 0), PQgetvalue(jobs, i, 2));
	buf_puts(out, "# HELP payments_job_backlog Items each job left for its next run.\n# TYPE payments_job_backlog gauge\n");
	for (int i = 0; i < PQntuples(jobs); i++)
		buf_printf(out, "payments_job_backlog{job=\"%s\"} %s\n", PQgetvalue(jobs, i, 0), PQgetvalue(jobs, i, 3));
	buf_puts(out, "# HELP payments_job_lag_seconds How long each job is past its next run (0: on time).\n"
	              "# TYPE payments_job_lag_seconds gauge\n");
	for (int i = 0; i < PQntuples(jobs); i++)
		buf_printf(out, "payments_job_lag_seconds{job=\"%s\"} %s\n", PQgetvalue(jobs, i, 0), PQgetvalue(jobs, i, 4));
	rc = 0;
out:
	PQclear(backlog);
	PQclear(jobs);
	return rc;
}

void h_metrics(struct request *req, struct response *resp)
{
	struct buf out = BUF_INIT;

	metrics_write(&out, route_name);
	write_upstreams(&out);
	int up = write_database_gauges(req, &out) == 0;
	buf_printf(&out, "# HELP payments_scrape_database_up Whether this scrape could read the database's gauges.\n"
	                 "# TYPE payments_scrape_database_up gauge\npayments_scrape_database_up %d\n", up);
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	resp_write(resp, out.data, out.len);
	buf_free(&out);
}
