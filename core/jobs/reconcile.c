/* Payout reconciliation: outgoing payments stuck in releasing or refunding
 * for reconcile_after_minutes are settled from the chain.
 *
 * Hot-wallet payouts whose signed transaction is in flight go through the
 * hot wallet's own resume path (hotwallet_advance): committed but never
 * seen, the same bytes are broadcast again; refused, reported
 * (hot-wallet-alert); mined, followed to finality. Every other payout is
 * matched against its paying wallet's outgoing transfers (flow/reconcile):
 * a unique match completes it, verified; an ambiguous one is reported to the
 * admins and left alone. */
#include <stdio.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "flow/hotwallet.h"
#include "flow/reconcile.h"
#include "jobs/jobs.h"
#include "pay/payout.h"

static void hot_wallet(struct job_ctx *ctx, struct job_result *res)
{
	PGresult *rows = NULL;
	int n;

	if (hotwallet_select_in_flight(ctx->db, ctx->cfg->jobs.reconcile_after_minutes, ctx->cfg->jobs.batch, &rows) != DB_OK) {
		res->errors++;
		return;
	}
	n = PQntuples(rows);
	for (int i = 0; i < n && jobs_continue(ctx); i++) {
		const char *p[1] = { PQgetvalue(rows, i, 0) };
		struct hot_outcome o;
		PGresult *one = NULL;

		res->seen++;
		/* Each payout read alone: hotwallet_advance works on row 0. */
		if (db_exec(ctx->db, &one, "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1", 1, p) != DB_OK ||
		    PQntuples(one) != 1) {
			res->errors++;
			PQclear(one);
			continue;
		}
		hotwallet_advance(ctx->db, ctx->cfg, one, ctx->actor, ctx->tag, &o);
		switch (o.kind) {
		case HOT_COMPLETED:
		case HOT_FAILED:
			res->changed++;
			log_info("reconcile: hot-wallet payout %s: %s (%s)", p[0], hot_kind_name(o.kind), o.message);
			break;
		case HOT_REFUSED:
		case HOT_UNAVAILABLE:
		case HOT_DB:
			res->errors++;
			log_warn("reconcile: hot-wallet payout %s: %s (%s)", p[0], hot_kind_name(o.kind), o.message);
			break;
		default:
			break;      /* on its way: followed again next run */
		}
		PQclear(o.row);
		PQclear(one);
	}
	res->backlog += n - res->seen;
	PQclear(rows);
}

int jobs_reconcile(struct job_ctx *ctx, struct job_result *res)
{
	PGresult *rows = NULL;
	long before;
	int n;

	hot_wallet(ctx, res);
	if (reconcile_select(ctx->db, ctx->cfg->jobs.reconcile_after_minutes, ctx->cfg->jobs.batch, &rows) != DB_OK)
		return -1;
	n = PQntuples(rows);
	before = res->seen;
	for (int i = 0; i < n && jobs_continue(ctx); i++) {
		struct reconcile_outcome o;

		reconcile_one(ctx->db, ctx->cfg, PQgetvalue(rows, i, 0), RECONCILE_FINAL, ctx->actor, ctx->tag, &o);
		res->seen++;
		switch (o.kind) {
		case RECONCILE_COMPLETED:
			res->changed++;
			log_info("reconcile: payout %s completed by %s", PQgetvalue(rows, i, 0), o.tx_hash);
			break;
		case RECONCILE_AMBIGUOUS:
		case RECONCILE_REFUSED:
			log_warn("reconcile: %s", o.message);
			break;
		case RECONCILE_UNAVAILABLE:
		case RECONCILE_DB:
			res->errors++;
			log_warn("reconcile: payout %s: %s", PQgetvalue(rows, i, 0), o.message);
			break;
		default:
			break;
		}
	}
	res->backlog += n - (res->seen - before);
	PQclear(rows);
	return 0;
}
