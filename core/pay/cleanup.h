/* cleanup: stale pending pay-ins cancelled, never money already seen.
 *
 * A pay-in left pending with nothing received for longer than a threshold
 * is cancelled, never deleted: the record and its audit stay. The same rule
 * serves an admin's POST /payments/cleanup-pending and the jobs process's
 * periodic cleanup: cleanup_select() finds the candidates, and
 * cleanup_cancel() moves each through the coordinator, which checks "nothing
 * received yet" (escrow unfunded) again under the row lock at the moment of
 * the move, so a deposit that lands meanwhile always wins over the cleanup.
 * A deposit that arrives after the cancellation is still recorded by the
 * coordinator and raised for review (pay/review.h), never lost.
 *
 * Layer: pay (uses base).
 */
#ifndef PAY_CLEANUP_H
#define PAY_CLEANUP_H

#include <libpq-fe.h>

#include "base/db.h"
#include "pay/coord.h"

/* Bounded so one call cannot hold a worker (or a job run) for long; call again for the rest. */
#define CLEANUP_BATCH 500

/* Ids (column 0) of pending, unfunded pay-ins unchanged for `minutes`, oldest first; the caller PQclear()s *rows. */
enum db_status cleanup_select(struct db *db, int minutes, PGresult **rows);

/* COORD_APPLIED (cancelled), COORD_SKIPPED (money arrived meanwhile: kept), or what the coordinator said. */
enum coord_result cleanup_cancel(struct db *db, const char *id, const char *source, const char *actor,
                                 const char *request_id, enum db_status *dbst);

#endif
