#include "pay/cleanup.h"

#include <stdio.h>

enum db_status cleanup_select(struct db *db, int minutes, PGresult **rows)
{
	char m[16], lim[16];
	const char *p[2] = { m, lim };

	snprintf(m, sizeof(m), "%d", minutes);
	snprintf(lim, sizeof(lim), "%d", CLEANUP_BATCH);
	/* Money already seen (a partial deposit) is never cleaned up: it needs a person. */
	return db_exec(db, rows,
	               "SELECT id FROM payments WHERE status = 'pending' AND direction = 'in' AND escrow_state = 'unfunded'"
	               " AND updated_at < now() - make_interval(mins => $1::int)"
	               " ORDER BY created_at LIMIT $2::int", 2, p);
}

enum coord_result cleanup_cancel(struct db *db, const char *id, const char *source, const char *actor,
                                 const char *request_id, enum db_status *dbst)
{
	/* The condition is checked under the row lock: a payment that moved meanwhile is left alone. */
	const struct coord_change change = {
		.status = "cancelled", .source = source, .actor = actor,
		.reason = "stale pending payment cleanup", .request_id = request_id,
		.if_escrow = "unfunded",
	};

	return coord_apply(db, id, &change, NULL, dbst);
}
