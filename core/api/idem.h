/* idem: Idempotency-Key on the POSTs a client may retry (routes flagged
 * ROUTE_IDEMPOTENT), as Stripe defines it. A key row per (caller, key) holds
 * the method, path and a SHA-256 digest of query and body, a lease while a
 * request runs it (locked_at), a recovery point (started, finished) and,
 * once finished, the answer's status, headers and exact bytes:
 *
 *   - the first request with a key takes the lease and runs;
 *   - a repeat with the same method, path and body answers the stored
 *     answer byte for byte (Idempotent-Replayed: true) and runs nothing;
 *   - the same key with anything else is 422 idempotency_key_reused;
 *   - a repeat while the lease is held is 409 idempotency_in_flight with
 *     Retry-After;
 *   - a key older than idempotency_key_hours counts as new.
 *
 * What a handler refuses before any effect (400, 401, 403, 404, 405, 413,
 * 415, 429) and every 5xx is not kept: the key is released so the retry runs.
 * A worker that dies mid-request leaves the key at `started`; once its lease
 * runs out the next request with the key runs the handler again, which is
 * safe because every effect is idempotent in the database (one active pay-in
 * per buyer and request, one payout per pay-in, a payout signed once), so the
 * only recovery point a request needs to record is "finished".
 *
 * Layer: api (uses http, base). app_handle() calls both functions.
 */
#ifndef PAY_IDEM_H
#define PAY_IDEM_H

#include <stdbool.h>

#include "http/req.h"

#define IDEM_KEY_MAX 255

struct idem {
	bool held;              /* this request holds a key: idem_finish() settles it */
	char id[24];            /* the key row */
	char lease[40];         /* locked_at as this request set it, for a compare-and-set */
};

enum idem_step {
	IDEM_RUN,               /* run the handler (holding the key, or without one) */
	IDEM_ANSWERED,          /* the response is written: a replay, 409, 422, 400 or a database error */
};

/*
 * Before the handler of a ROUTE_IDEMPOTENT route, for an authenticated
 * caller. Without an Idempotency-Key header: IDEM_RUN, nothing held.
 */
enum idem_step idem_begin(struct request *req, struct response *resp, struct idem *k);

/* After the handler: keeps its answer for replays, or releases the key. */
void idem_finish(struct request *req, const struct response *resp, struct idem *k);

/* Is a header value a key this service takes: 1 to 255 visible ASCII characters? */
bool idem_key_valid(const char *key);

#endif
