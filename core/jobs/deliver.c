/* deliver_<name>: one subscriber's webhooks, in a process of its own, so a
 * subscriber that is slow or gone holds up no one but itself. The relay
 * made one delivery per event the subscriber wants; this job sends those
 * that are due, oldest first, one at a time: a delivery is leased (its next
 * attempt moved past the time one attempt can take) before it is sent, so
 * a copy that dies mid-send leaves it to be sent again, never lost. Each
 * attempt is recorded; a failed one waits webhook_backoff() before the
 * next, and after subscriber_give_up_seconds the delivery is marked failed
 * for an admin to redeliver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "base/httpc.h"
#include "base/log.h"
#include "jobs/jobs.h"
#include "jobs/webhook.h"

/* What one attempt came to. */
struct attempt {
	long status;                /* HTTP status, 0 without an answer */
	bool ok;
	char error[256];
	long ms;
};

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

static void send_one(const struct subscriber_conf *sub, const struct subscribers_conf *sc, const char *event_id,
                     const char *event, const char *body, int attempt_no, struct attempt *a)
{
	char ts[24], sig[65], h_id[64], h_event[96], h_ts[64], h_sig[96], h_attempt[48], err[256];
	const char *headers[] = { "Content-Type: application/json", h_id, h_event, h_ts, h_sig, h_attempt, NULL };
	struct httpc_request rq = {
		.method = "POST", .url = sub->url, .headers = headers, .body = body, .body_len = strlen(body),
		.connect_timeout_ms = sc->connect_timeout_ms, .timeout_ms = sc->timeout_ms, .max_response = 65536,
	};
	struct httpc_response rs = { 0, BUF_INIT };
	struct timespec t0, t1;

	memset(a, 0, sizeof(*a));
	/* A fresh timestamp and signature on every attempt, as SHKeeper does: receivers may refuse old ones. */
	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	if (webhook_sign(sub->secret, sub->secret_len, ts, body, strlen(body), sig) != 0) {
		snprintf(a->error, sizeof(a->error), "cannot sign the delivery");
		return;
	}
	snprintf(h_id, sizeof(h_id), "X-Payments-Event-Id: %s", event_id);
	snprintf(h_event, sizeof(h_event), "X-Payments-Event: %s", event);
	snprintf(h_ts, sizeof(h_ts), "X-Payments-Timestamp: %s", ts);
	snprintf(h_sig, sizeof(h_sig), "X-Payments-Signature: %s", sig);
	snprintf(h_attempt, sizeof(h_attempt), "X-Payments-Attempt: %d", attempt_no);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (httpc_do(&rq, &rs, err, sizeof(err)) != HTTPC_OK) {
		snprintf(a->error, sizeof(a->error), "%s", err);
	} else {
		a->status = rs.status;
		a->ok = rs.status >= 200 && rs.status <= 299;
		if (!a->ok)
			snprintf(a->error, sizeof(a->error), "HTTP %ld", rs.status);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	a->ms = ms_between(&t0, &t1);
	buf_free(&rs.body);
}

static enum db_status record(struct job_ctx *ctx, const char *delivery_id, int attempts, const struct attempt *a)
{
	const struct subscribers_conf *sc = &ctx->cfg->subscribers;
	char status[16], ms[24], wait[16];
	const char *p[6] = { delivery_id, a->status ? status : NULL, a->ok ? NULL : a->error, ms,
		             a->ok ? "true" : "false", wait };

	snprintf(status, sizeof(status), "%ld", a->status);
	snprintf(ms, sizeof(ms), "%ld", a->ms);
	snprintf(wait, sizeof(wait), "%d", webhook_backoff(attempts, sc->retry_base_seconds, sc->retry_max_seconds));
	return db_exec(ctx->db, NULL,
	               "WITH a AS (INSERT INTO event_delivery_attempts (delivery_id, http_status, error, duration_ms)"
	               "  VALUES ($1::bigint, $2::integer, $3, $4::integer))"
	               " UPDATE event_deliveries SET attempts = attempts + 1, last_attempt_at = now(),"
	               "  last_status = $2::integer, last_error = $3,"
	               "  state = CASE WHEN $5::boolean THEN 'delivered'"
	               "   WHEN now() + make_interval(secs => $6::integer) > give_up_at THEN 'failed' ELSE 'pending' END,"
	               "  delivered_at = CASE WHEN $5::boolean THEN now() END,"
	               "  next_attempt_at = CASE WHEN $5::boolean THEN next_attempt_at"
	               "   ELSE now() + make_interval(secs => $6::integer) END"
	               " WHERE id = $1::bigint", 6, p);
}

int jobs_deliver(struct job_ctx *ctx, struct job_result *res)
{
	const struct subscriber_conf *sub = &ctx->cfg->subscribers.list[ctx->arg];
	const struct subscribers_conf *sc = &ctx->cfg->subscribers;
	char lease[16];
	const char *p[2] = { sub->name, lease };
	PGresult *left = NULL;

	/* Longer than one attempt can take, so no other copy sends it meanwhile. */
	snprintf(lease, sizeof(lease), "%d", (sc->timeout_ms + sc->connect_timeout_ms) / 1000 + 30);
	while (jobs_continue(ctx)) {
		PGresult *d = NULL;
		struct attempt a;

		if (db_exec(ctx->db, &d,
		            "WITH due AS (SELECT id FROM event_deliveries WHERE subscriber = $1 AND state = 'pending'"
		            "  AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
		            " UPDATE event_deliveries d SET next_attempt_at = now() + make_interval(secs => $2::integer)"
		            " FROM due, events e WHERE d.id = due.id AND e.id = d.event_id"
		            " RETURNING d.id, d.event_id, d.attempts, e.event, event_message(e)::text", 2, p) != DB_OK)
			return -1;
		if (PQntuples(d) == 0) {
			PQclear(d);
			break;
		}
		int attempts = atoi(PQgetvalue(d, 0, 2));
		send_one(sub, sc, PQgetvalue(d, 0, 1), PQgetvalue(d, 0, 3), PQgetvalue(d, 0, 4), attempts + 1, &a);
		if (!a.ok)
			log_warn("deliver: event %s to %s: attempt %d failed: %s", PQgetvalue(d, 0, 1), sub->name,
			         attempts + 1, a.error);
		res->seen++;
		res->changed += a.ok;
		res->errors += !a.ok;
		/* Not recorded: the lease runs out and the delivery is sent again. */
		if (record(ctx, PQgetvalue(d, 0, 0), attempts, &a) != DB_OK) {
			PQclear(d);
			return -1;
		}
		PQclear(d);
	}
	if (db_exec(ctx->db, &left, "SELECT count(*) FROM event_deliveries WHERE subscriber = $1 AND state = 'pending'",
	            1, p) == DB_OK)
		res->backlog = atol(PQgetvalue(left, 0, 0));
	PQclear(left);
	return 0;
}
