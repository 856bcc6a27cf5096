/* The SHKeeper poll fallback: the invoices of open SHKeeper pay-ins older
 * than shkeeper_poll_after_minutes are asked about (flow/shk_poll), each at
 * most once per interval, and what SHKeeper says is applied as its callback
 * would be: a PAID only once the chain confirms it. */
#include <string.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "flow/shk_poll.h"
#include "jobs/jobs.h"
#include "pay/payment.h"

int jobs_shkeeper_poll(struct job_ctx *ctx, struct job_result *res)
{
	const struct jobs_conf *j = &ctx->cfg->jobs;
	PGresult *rows = NULL;
	int n;

	/* Without SHKeeper there is nobody to ask. */
	if (ctx->cfg->shkeeper_url[0] == '\0')
		return 0;
	if (shk_poll_claim(ctx->db, j->shkeeper_poll_after_minutes, j->shkeeper_poll_seconds, j->batch, &rows) != DB_OK)
		return -1;
	n = PQntuples(rows);
	/* A claim left when SIGTERM comes is asked about after the interval, by whichever copy leads then. */
	for (int i = 0; i < n && jobs_continue(ctx); i++) {
		struct shk_applied a;
		char said[33];

		shk_poll_one(ctx->db, ctx->cfg, rows, i, ctx->actor, ctx->tag, said, &a);
		res->seen++;
		/* SHKeeper or the database away is an error; a transfer not final yet is only a wait. */
		if (a.outcome == NULL || said[0] == '\0') {
			res->errors++;
			log_warn("poll: payment %s: %s", PQgetvalue(rows, i, PCOL_ID),
			         a.outcome == NULL ? "database error" : a.detail ? a.detail : "SHKeeper cannot be asked");
			continue;
		}
		if (strcmp(a.outcome, "applied") == 0)
			res->changed++;
		if (strcmp(a.outcome, "recorded") != 0)
			log_info("poll: payment %s: SHKeeper says %s: %s%s%s", PQgetvalue(rows, i, PCOL_ID), said, a.outcome,
			         a.detail ? ": " : "", a.detail ? a.detail : "");
	}
	res->backlog = n - res->seen;
	PQclear(rows);
	return 0;
}
