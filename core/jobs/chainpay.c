/* The jobs on the wallet-direct flow:
 * - reverify: pay-ins whose buyer gave a hash that was not final yet are
 *   asked again, so a payment does not wait for its buyer to come back;
 * - backfill: completed pay-ins without a hash get it found on the chain (or
 *   in SHKeeper's record), verified and recorded. */
#include <time.h>

#include <libpq-fe.h>

#include "flow/chainpay.h"
#include "jobs/jobs.h"

/* One backfill run never outlasts this, however slow the node. */
#define BACKFILL_SECONDS 60

static void tally(struct job_result *res, struct chainpay_outcome *out)
{
	res->seen++;
	res->changed += out->kind == CHAINPAY_CONFIRMED;
	res->errors += out->kind == CHAINPAY_DB || out->kind == CHAINPAY_UNAVAILABLE ||
	               out->kind == CHAINPAY_UPSTREAM;
	PQclear(out->row);
}

int jobs_reverify(struct job_ctx *ctx, struct job_result *res)
{
	PGresult *rows = NULL;
	int n;

	if (chainpay_select_unverified(ctx->db, ctx->cfg->jobs.batch, &rows) != DB_OK)
		return -1;
	n = PQntuples(rows);
	for (int i = 0; i < n && jobs_continue(ctx); i++) {
		struct chainpay_outcome out;
		const int txcol = PQnfields(rows) - 1;

		chainpay_verify(ctx->db, ctx->cfg, rows, i, PQgetvalue(rows, i, txcol), ctx->actor,
		                ctx->tag, &out);
		tally(res, &out);
	}
	res->backlog = n - res->seen;
	PQclear(rows);
	return 0;
}

int jobs_backfill(struct job_ctx *ctx, struct job_result *res)
{
	PGresult *rows = NULL;
	time_t deadline = time(NULL) + BACKFILL_SECONDS;
	int n;

	if (chainpay_select_missing_tx(ctx->db, ctx->cfg->jobs.batch, &rows) != DB_OK)
		return -1;
	n = PQntuples(rows);
	for (int i = 0; i < n && time(NULL) < deadline && jobs_continue(ctx); i++) {
		struct chainpay_outcome out;

		chainpay_fetch_tx(ctx->db, ctx->cfg, rows, i, ctx->actor, ctx->tag, deadline, &out);
		tally(res, &out);
	}
	res->backlog = n - res->seen;
	PQclear(rows);
	return 0;
}
