#include "pay/payout_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR(x) #x
#define XSTR(x) STR(x)

static const char *const names[] = {
	[PCALL_IDLE] = "idle", [PCALL_SENDING] = "sending", [PCALL_UNKNOWN] = "unknown",
	[PCALL_ACCEPTED] = "accepted", [PCALL_REFUSED] = "refused",
};

const char *payout_call_state_name(enum payout_call_state s)
{
	return names[s];
}

bool payout_call_may_exist(enum payout_call_state s)
{
	return s == PCALL_SENDING || s == PCALL_UNKNOWN || s == PCALL_ACCEPTED;
}

static enum payout_call_state state_of(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i], name) == 0)
			return (enum payout_call_state)i;
	/* The schema allows no other: anything else is taken as the most careful. */
	return PCALL_UNKNOWN;
}

enum db_status payout_call_begin(struct db *db, const char *out_id, const char *provider, struct payout_call *c)
{
	const char *p[2] = { out_id, provider };
	PGresult *res = NULL;
	enum db_status st;

	memset(c, 0, sizeof(*c));
	st = db_exec(db, NULL, "INSERT INTO payout_calls (payment_id, provider) VALUES ($1, $2) ON CONFLICT DO NOTHING",
	             2, p);
	if (st != DB_OK)
		return st;
	/*
	 * A compare-and-set on the lease: a second caller meanwhile gets no row.
	 * The payout must still be pending as the lease is taken: the caller's
	 * copy was read before, and a payout an earlier call settled (refused
	 * and failed, say) must not be sent by a request that read it pending.
	 */
	st = db_exec(db, &res,
	             "UPDATE payout_calls SET lease_until = now() + interval '" XSTR(PAYOUT_CALL_LEASE_SECONDS) " seconds',"
	             " updated_at = now() WHERE payment_id = $1 AND (lease_until IS NULL OR lease_until < now())"
	             " AND EXISTS (SELECT 1 FROM payments p WHERE p.id = $1::uuid AND p.status = 'pending')"
	             " RETURNING state, attempts, coalesce(floor(extract(epoch FROM now() - sent_at)), 0)::bigint", 1, p);
	if (st == DB_OK && PQntuples(res) == 1) {
		c->leased = true;
		c->prior = state_of(PQgetvalue(res, 0, 0));
		c->attempts = atoi(PQgetvalue(res, 0, 1));
		c->quiet_seconds = atol(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	res = NULL;
	if (st == DB_OK && !c->leased &&
	    (st = db_exec(db, &res, "SELECT status <> 'pending' FROM payments WHERE id = $1::uuid", 1, p)) == DB_OK)
		c->moved = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return st;
}

enum db_status payout_call_sending(struct db *db, const char *out_id)
{
	const char *p[1] = { out_id };

	return db_exec(db, NULL,
	               "UPDATE payout_calls SET state = 'sending', attempts = attempts + 1, sent_at = now(), updated_at = now()"
	               " WHERE payment_id = $1", 1, p);
}

enum db_status payout_call_end(struct db *db, const char *out_id, enum payout_call_state state, const char *error)
{
	const char *p[3] = { out_id, names[state], error };

	return db_exec(db, NULL,
	               "UPDATE payout_calls SET state = $2, last_error = left($3, 500), lease_until = NULL,"
	               " updated_at = now() WHERE payment_id = $1", 3, p);
}

enum db_status payout_call_quiet(struct db *db, const char *out_id, long *seconds)
{
	const char *p[1] = { out_id };
	PGresult *res = NULL;
	enum db_status st;

	*seconds = 0;
	/* No call on record (a payout taken over from the provider's own status): counted from its opening. */
	st = db_exec(db, &res,
	             "SELECT floor(extract(epoch FROM now() - coalesce(c.sent_at, o.created_at)))::bigint"
	             " FROM payments o LEFT JOIN payout_calls c ON c.payment_id = o.id WHERE o.id = $1", 1, p);
	if (st == DB_OK && PQntuples(res) == 1)
		*seconds = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return st;
}
