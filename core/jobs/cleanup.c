/* The periodic cleanup: what POST /payments/cleanup-pending does, on the
 * jobs process's schedule. Pending pay-ins that received nothing for
 * stale_pending_minutes are cancelled through the coordinator, each only
 * while its escrow is still unfunded under the lock (pay/cleanup.h): money
 * already seen is never cancelled, and money arriving afterwards is recorded
 * and raised for review by the coordinator. */
#include <libpq-fe.h>

#include "base/log.h"
#include "jobs/jobs.h"
#include "pay/cleanup.h"

int jobs_cleanup(struct job_ctx *ctx, struct job_result *res)
{
	PGresult *stale = NULL;
	int n;

	if (cleanup_select(ctx->db, ctx->cfg->stale_pending_minutes, &stale) != DB_OK)
		return -1;
	n = PQntuples(stale);
	for (int i = 0; i < n && jobs_continue(ctx); i++) {
		enum db_status st;

		switch (cleanup_cancel(ctx->db, PQgetvalue(stale, i, 0), "job", ctx->actor, ctx->tag, &st)) {
		case COORD_APPLIED:
			res->changed++;
			break;
		case COORD_DB:
			res->errors++;
			break;
		case COORD_SKIPPED:
			log_info("cleanup: payment %s received money meanwhile: kept", PQgetvalue(stale, i, 0));
			break;
		default:
			break;      /* moved meanwhile (a late webhook): left alone */
		}
		res->seen++;
	}
	/* Those SIGTERM left; a full batch may have more behind it, taken by the next run. */
	res->backlog = n - res->seen;
	PQclear(stale);
	return 0;
}
