/* payout_call: the call that asks a provider to pay, recorded so it is never made twice.
 *
 * A payout a provider sends (SHKeeper, BVNK) is created at the provider by
 * one HTTP call. Whether that call landed is not always known: a timeout, a
 * 5xx or a reset connection may come after the provider recorded (and paid)
 * it. So the call is recorded in payout_calls before it goes out, and its
 * ending after:
 *
 *   payout_call_begin    takes the lease (one caller at a time per payout)
 *                        and says what the previous attempt came to;
 *   payout_call_sending  commits "a create call is going out now";
 *   payout_call_end      records how it ended and lets the lease go.
 *
 * A payout whose last call is `sending` or `unknown` may exist at the
 * provider: the caller asks the provider before it calls again, and calls
 * only on a definite "no such payout". This is bookkeeping of calls, not a
 * payment state: moves of the payout go through the coordinator (pay/payout.h).
 *
 * Layer: pay (uses base).
 */
#ifndef PAY_PAYOUT_CALL_H
#define PAY_PAYOUT_CALL_H

#include <stdbool.h>

#include "base/db.h"

enum payout_call_state {
	PCALL_IDLE,         /* nothing sent yet */
	PCALL_SENDING,      /* a create call went out; its answer was never recorded */
	PCALL_UNKNOWN,      /* it ended without a clear answer: the payout may exist */
	PCALL_ACCEPTED,     /* the provider answered with its id */
	PCALL_REFUSED,      /* the provider refused it: nothing was created */
};

struct payout_call {
	bool leased;                    /* this caller holds the lease */
	bool moved;                     /* not leased: the payout is no longer pending (read it again) */
	enum payout_call_state prior;   /* what the last attempt came to */
	int attempts;                   /* create calls made so far */
	long quiet_seconds;             /* since the last create call went out (0: none did) */
};

/* Seconds a lease lasts: longer than any one call, so it lapses only when its holder died. */
#define PAYOUT_CALL_LEASE_SECONDS 300

const char *payout_call_state_name(enum payout_call_state s);
/* May an earlier call have created the payout at the provider? */
bool payout_call_may_exist(enum payout_call_state s);

enum db_status payout_call_begin(struct db *db, const char *out_id, const char *provider, struct payout_call *c);
enum db_status payout_call_sending(struct db *db, const char *out_id);
/* Seconds since the payout's last create call went out (since it was opened, when none is on record). */
enum db_status payout_call_quiet(struct db *db, const char *out_id, long *seconds);
/* error: what the provider said, for the admins (bounded), or NULL. */
enum db_status payout_call_end(struct db *db, const char *out_id, enum payout_call_state st, const char *error);

#endif
