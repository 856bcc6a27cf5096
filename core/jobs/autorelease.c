/* The automatic release (off unless jobs_auto_release_seconds is set): a
 * purchase request delivered for auto_release_grace_hours, with no dispute,
 * whose one funded pay-in has never had a release and whose seller has a
 * wallet on record for the pay-in's network, gets its payout on the
 * configured rail, opened exactly as an admin's request opens it
 * (outgoing_open): admin_wallet leaves the transaction for the escrow signer,
 * hot_wallet signs and sends it at once. The grace period and the dispute
 * flag are checked again under the coordinator's locks when it opens.
 *
 * At most one release per pay-in ever comes from here: one that failed is
 * not tried again (a person looks at why), and the unique index of active
 * outgoing payments holds under any race. A request with more than one
 * pay-in holding money is left to a person. */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "flow/hotwallet.h"
#include "flow/outgoing.h"
#include "jobs/jobs.h"
#include "pay/payout.h"

static enum db_status due(struct db *db, int grace_hours, int limit, PGresult **rows)
{
	char hours[16], lim[16];
	const char *p[2] = { hours, lim };

	snprintf(hours, sizeof(hours), "%d", grace_hours);
	snprintf(lim, sizeof(lim), "%d", limit);
	return db_exec(db, rows,
	               "SELECT " PAYMENT_COLUMNS " FROM payments p JOIN purchase_requests r ON r.id = p.purchase_request_id"
	               " WHERE r.status = 'delivered' AND NOT r.disputed"
	               " AND r.delivered_at <= now() - make_interval(hours => $1::integer)"
	               " AND p.direction = 'in' AND p.status = 'completed' AND p.escrow_state = 'funded'"
	               " AND NOT EXISTS (SELECT 1 FROM payments o WHERE o.payin_id = p.id AND o.direction = 'out'"
	               "  AND o.kind = 'release')"
	               " AND NOT EXISTS (SELECT 1 FROM payments q WHERE q.purchase_request_id = p.purchase_request_id"
	               "  AND q.direction = 'in' AND q.id <> p.id AND q.escrow_state <> 'unfunded')"
	               " AND EXISTS (SELECT 1 FROM user_wallets w WHERE w.network = p.network AND w.user_id ="
	               "  coalesce(p.seller_id, (SELECT o.seller_id FROM seller_offers o WHERE o.id = p.seller_offer_id)))"
	               " ORDER BY r.delivered_at, p.id LIMIT $2::integer", 2, p);
}

/* The hot wallet pays at once, as it does for an admin. */
static void send_now(struct job_ctx *ctx, const PGresult *out, struct job_result *res)
{
	struct hot_outcome o;

	hotwallet_advance(ctx->db, ctx->cfg, out, ctx->actor, ctx->tag, &o);
	if (o.kind == HOT_REFUSED || o.kind == HOT_UNAVAILABLE || o.kind == HOT_DB)
		res->errors++;
	/*
	 * Opened and not signed (the node or the key missing): no job signs it
	 * later, since the order may be disputed by then; a person decides, with
	 * POST /decentralized/admin-payout for the request, which signs it.
	 */
	if (o.row && strcmp(PQgetvalue(o.row, 0, PCOL_STATUS), "pending") == 0 && PQgetisnull(o.row, 0, PCOL_TX)) {
		char msg[600];
		snprintf(msg, sizeof(msg), "an automatic release opened this payout and could not sign it (%s): it waits"
		         " for an admin's admin-payout for purchase request %s", o.message, PQgetvalue(out, 0, PCOL_REQUEST));
		hotwallet_alert(ctx->db, PQgetvalue(out, 0, PCOL_ID), NULL, "auto_release_unsigned", msg, NULL);
	}
	log_info("auto-release: hot-wallet payout %s: %s (%s)", PQgetvalue(out, 0, PCOL_ID), hot_kind_name(o.kind),
	         o.message);
	PQclear(o.row);
}

int jobs_auto_release(struct job_ctx *ctx, struct job_result *res)
{
	const struct jobs_conf *j = &ctx->cfg->jobs;
	bool hot = strcmp(j->auto_release_rail, "hot_wallet") == 0;
	const char *sender = hot ? hotwallet_address(ctx->cfg) : ctx->cfg->escrow_address;
	char reason[128];
	PGresult *rows = NULL;
	int n;

	if (sender == NULL) {
		log_error("auto-release: the rail is hot_wallet and no hot wallet is configured: nothing is released");
		return -1;
	}
	if (due(ctx->db, j->auto_release_grace_hours, j->batch, &rows) != DB_OK)
		return -1;
	snprintf(reason, sizeof(reason), "automatic release: delivered more than %d hours ago, no dispute",
	         j->auto_release_grace_hours);
	n = PQntuples(rows);
	for (int i = 0; i < n && jobs_continue(ctx); i++) {
		const char *id = PQgetvalue(rows, i, PCOL_ID), *p[1] = { id };
		struct payout_refusal why = { "", "" };
		PGresult *payin = NULL, *out = NULL;
		enum payout_result r = PAYOUT_DB;
		enum db_status st;
		int http;

		res->seen++;
		/* The pay-in read alone: the flow reads row 0. */
		if (db_exec(ctx->db, &payin, "SELECT " PAYMENT_COLUMNS " FROM payments p WHERE p.id = $1", 1, p) != DB_OK ||
		    PQntuples(payin) != 1) {
			res->errors++;
			PQclear(payin);
			continue;
		}
		struct outgoing_ask ask = {
			.kind = "release", .basis = "escrow", .provider = j->auto_release_rail, .sender = sender,
			.reason = reason, .actor = ctx->actor, .request_id = ctx->tag, .source = "job",
			.auto_release_grace_hours = j->auto_release_grace_hours,
		};
		http = outgoing_open(ctx->db, ctx->cfg, payin, &ask, &r, &out, &why, &st);
		if (http == 0 && r == PAYOUT_DONE) {
			res->changed++;
			log_info("auto-release: payment %s: %s payout %s opened", id, j->auto_release_rail,
			         PQgetvalue(out, 0, PCOL_ID));
			if (hot)
				send_now(ctx, out, res);
		} else if (http >= 500 || (http == 0 && r == PAYOUT_DB)) {
			res->errors++;
			log_warn("auto-release: payment %s: database error", id);
		} else if (http != 0 || r == PAYOUT_REFUSED) {
			/* Moved, disputed or no longer due under the locks, or nothing to pay with: a person's. */
			log_warn("auto-release: payment %s not released: %s (%s)", id, why.code, why.message);
		}
		PQclear(out);
		PQclear(payin);
	}
	res->backlog = n - res->seen;
	PQclear(rows);
	return 0;
}
