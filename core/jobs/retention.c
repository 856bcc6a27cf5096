/* Pruning what no one needs any more, in bounded batches so no run holds
 * long locks: inbox deliveries that changed nothing (refused signatures,
 * repeats, deliveries ignored as irrelevant), what the SHKeeper poll kept
 * about pay-ins long settled, and outbox events, after their configured
 * ages, once relayed and delivered to every subscriber (their deliveries go
 * with them). A delivery that moved money, or that someone must still look
 * at (an inbox row, a subscriber's delivery that gave up), is never pruned. */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "jobs/jobs.h"

static int prune(struct job_ctx *ctx, struct job_result *res, const char *sql, int days)
{
	char d[16], lim[16];
	const char *p[2] = { d, lim };

	snprintf(d, sizeof(d), "%d", days);
	snprintf(lim, sizeof(lim), "%d", ctx->cfg->jobs.batch);
	while (jobs_continue(ctx)) {
		PGresult *r = NULL;
		long n;

		if (db_exec(ctx->db, &r, sql, 2, p) != DB_OK) {
			res->errors++;
			return -1;
		}
		n = atol(PQcmdTuples(r));
		PQclear(r);
		res->seen += n;
		res->changed += n;
		if (n < ctx->cfg->jobs.batch)
			break;
	}
	return 0;
}

int jobs_retention(struct job_ctx *ctx, struct job_result *res)
{
	int rc = prune(ctx, res,
	               "DELETE FROM webhook_inbox w WHERE w.id IN (SELECT i.id FROM webhook_inbox i"
	               " WHERE i.received_at < now() - make_interval(days => $1::integer)"
	               " AND (i.verdict <> 'valid' OR i.outcome IN ('duplicate', 'ignored'))"
	               " AND NOT EXISTS (SELECT 1 FROM webhook_inbox o WHERE o.duplicate_of = i.id)"
	               " ORDER BY i.id LIMIT $2::integer FOR UPDATE SKIP LOCKED)",
	               ctx->cfg->jobs.retention_inbox_days);

	/* What the SHKeeper poll found about pay-ins long settled. */
	if (prune(ctx, res,
	          "DELETE FROM shkeeper_polls s WHERE s.payment_id IN (SELECT q.payment_id FROM shkeeper_polls q"
	          " JOIN payments p ON p.id = q.payment_id WHERE p.status NOT IN ('pending', 'processing')"
	          " AND q.polled_at < now() - make_interval(days => $1::integer)"
	          " ORDER BY q.polled_at LIMIT $2::integer FOR UPDATE OF q SKIP LOCKED)",
	          ctx->cfg->jobs.retention_inbox_days) != 0)
		rc = -1;
	if (prune(ctx, res,
	          "DELETE FROM events e WHERE e.id IN (SELECT v.id FROM events v"
	          " WHERE v.created_at < now() - make_interval(days => $1::integer)"
	          /* Never one the relay has not carried yet, nor one a subscriber still waits for or an admin may redeliver. */
	          " AND v.relayed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM event_deliveries d"
	          "  WHERE d.event_id = v.id AND d.state <> 'delivered')"
	          " ORDER BY v.id LIMIT $2::integer FOR UPDATE SKIP LOCKED)",
	          ctx->cfg->jobs.retention_events_days) != 0)
		rc = -1;
	/* An Idempotency-Key past its time counts as new anyway; its row is only kept space. */
	if (prune(ctx, res,
	          "DELETE FROM idempotency_keys k WHERE k.id IN (SELECT i.id FROM idempotency_keys i"
	          " WHERE i.created_at < now() - make_interval(hours => $1::integer)"
	          " ORDER BY i.id LIMIT $2::integer FOR UPDATE SKIP LOCKED)",
	          ctx->cfg->idempotency_key_hours) != 0)
		rc = -1;
	return rc;
}
