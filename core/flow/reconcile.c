#include "flow/reconcile.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "evm/chain.h"
#include "evm/rpc.h"
#include "evm/verify.h"
#include "flow/outgoing.h"
#include "pay/coord.h"
#include "pay/payment.h"
#include "pay/payout.h"
#include "pay/review.h"

/*
 * The search for a payout's transfer: newest first, back to when it was
 * opened, within these bounds (500 windows: a million blocks at the default
 * watch_window_blocks, nine days of BSC's). A search cut short by either has
 * not seen every block the payout could have been sent in, so it finds
 * nothing for sure.
 */
#define SEARCH_MAX_WINDOWS 500
#define SEARCH_SECONDS 20
#define MAX_CANDIDATES 8
/* Block times and our clock may differ a little. */
#define SLACK_SECONDS 120
/* The payout read alone: PAYOUT_COLUMNS, then when it was opened (unix seconds). */
#define OPENED_COL 32

const char *reconcile_kind_name(enum reconcile_kind k)
{
	switch (k) {
	case RECONCILE_COMPLETED: return "completed";
	case RECONCILE_WAITING: return "waiting";
	case RECONCILE_NONE: return "none";
	case RECONCILE_SETTLED: return "settled";
	case RECONCILE_AMBIGUOUS: return "ambiguous";
	case RECONCILE_REFUSED: return "refused";
	case RECONCILE_UNAVAILABLE: return "unavailable";
	case RECONCILE_DB: return "database";
	}
	return "unknown";
}

static void say(struct reconcile_outcome *o, enum reconcile_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct reconcile_outcome *o, enum reconcile_kind kind, const char *fmt, ...)
{
	va_list ap;

	o->kind = kind;
	va_start(ap, fmt);
	vsnprintf(o->message, sizeof(o->message), fmt, ap);
	va_end(ap);
}

static const char *col(const PGresult *r, int c)
{
	return PQgetisnull(r, 0, c) ? NULL : PQgetvalue(r, 0, c);
}

enum db_status reconcile_select(struct db *db, int after_minutes, int limit, PGresult **rows)
{
	char after[16], lim[16];
	const char *p[2] = { after, lim };

	snprintf(after, sizeof(after), "%d", after_minutes);
	snprintf(lim, sizeof(lim), "%d", limit);
	/* Taken and marked looked at in one statement, as the SHKeeper poll claims its invoices. */
	return db_exec(db, rows,
	               "WITH due AS (SELECT p.id FROM payments p LEFT JOIN payout_reconciles r ON r.payment_id = p.id"
	               "  WHERE p.direction = 'out' AND p.provider <> 'hot_wallet'"
	               "   AND p.status IN ('pending', 'processing')"
	               "   AND p.updated_at <= now() - make_interval(mins => $1::integer)"
	               /* A payout with neither a hash nor a known paying wallet has nothing to match by. */
	               "   AND (p.tx_hash IS NOT NULL OR (p.sender_address IS NOT NULL AND p.network IS NOT NULL"
	               "        AND p.token_contract IS NOT NULL AND p.receiver_address IS NOT NULL))"
	               /* Never looked at first, then the longest unseen: a batch left as it was does not come first again. */
	               "  ORDER BY r.looked_at NULLS FIRST, p.updated_at, p.id LIMIT $2::integer)"
	               " INSERT INTO payout_reconciles AS r (payment_id, looked_at) SELECT id, now() FROM due"
	               " ON CONFLICT (payment_id) DO UPDATE SET looked_at = now() RETURNING r.payment_id", 2, p);
}

/* What outgoing_confirm() found, in our words. */
static void from_confirm(struct reconcile_outcome *o, const struct outgoing_outcome *oc)
{
	static const enum reconcile_kind map[] = {
		[OUTGOING_CONFIRMED] = RECONCILE_COMPLETED, [OUTGOING_PENDING] = RECONCILE_WAITING,
		[OUTGOING_REFUSED] = RECONCILE_REFUSED, [OUTGOING_TX_USED] = RECONCILE_REFUSED,
		[OUTGOING_CONFLICT] = RECONCILE_REFUSED, [OUTGOING_UNAVAILABLE] = RECONCILE_UNAVAILABLE,
		[OUTGOING_UPSTREAM] = RECONCILE_UNAVAILABLE, [OUTGOING_DB] = RECONCILE_DB,
	};

	snprintf(o->tx_hash, sizeof(o->tx_hash), "%s", oc->tx_hash);
	say(o, map[oc->kind], "%s", oc->message);
}

struct candidates {
	size_t n;                   /* every fitting transfer, listed or not */
	char hash[MAX_CANDIDATES][RPC_HASH_BUFSZ];
	uint64_t block[MAX_CANDIDATES];
	uint64_t final;             /* the newest final block when they were looked for */
	bool unmined;               /* RECONCILE_ANY_BLOCK: the paying wallet has transactions not mined yet */
};

/*
 * Adds the transfers in `logs` that fit x exactly, are in blocks up to
 * `upto`, pay no other payment and are not older than the payout.
 */
static int add_fitting(struct db *db, struct rpc_client *c, json_object *logs, const struct verify_expect *x,
                       uint64_t upto, const PGresult *out, uint64_t opened, struct candidates *k,
                       struct reconcile_outcome *o)
{
	const char *id = PQgetvalue(out, 0, PCOL_ID), *network = PQgetvalue(out, 0, PCOL_NETWORK);

	for (size_t i = 0; i < json_object_array_length(logs); i++) {
		struct verify_log l;
		struct rpc_error e;
		char hash[RPC_HASH_BUFSZ], used_by[40];
		uint64_t block, ts;
		bool listed = false;

		/* The node was asked for exactly these; each is checked again all the same. */
		if (verify_parse_found_log(json_object_array_get_idx(logs, i), &l, hash, &block) != 1 || block > upto ||
		    !verify_same_address(l.token, x->token) || !verify_same_address(l.from, x->sender) ||
		    !verify_same_address(l.to, x->recipient) || memcmp(l.value, x->min_amount, VERIFY_WORD_LEN) != 0)
			continue;
		for (size_t j = 0; j < k->n && j < MAX_CANDIDATES; j++)
			listed = listed || strcasecmp(k->hash[j], hash) == 0;
		if (listed)
			continue;
		if (outgoing_tx_owner(db, hash, network, id, used_by) != DB_OK) {
			say(o, RECONCILE_DB, "database error");
			return -1;
		}
		if (used_by[0])
			continue;
		if (rpc_block_timestamp(c, block, &ts, &e) != RPC_OK) {
			say(o, RECONCILE_UNAVAILABLE, "%s", e.message);
			return -1;
		}
		/* Mined before the payout existed: another payment's, whatever it looks like. */
		if (ts + SLACK_SECONDS < opened)
			continue;
		if (k->n < MAX_CANDIDATES) {
			snprintf(k->hash[k->n], RPC_HASH_BUFSZ, "%s", hash);
			k->block[k->n] = block;
		}
		k->n++;
	}
	return 0;
}

/*
 * Has `wallet` sent transactions the node holds but has not mined? 0, or -1
 * with e filled. A node that keeps no pool (it refuses "pending") cannot
 * tell: nothing is waiting as far as it knows.
 */
static int unmined_from(struct rpc_client *c, const char *wallet, bool *any, struct rpc_error *e)
{
	uint64_t pending, latest;
	int rc;

	*any = false;
	if ((rc = rpc_tx_count(c, wallet, "pending", &pending, e)) == RPC_EREMOTE) {
		log_warn("the node cannot count %s's pending transactions: %s", wallet, e->message);
		return 0;
	}
	if (rc != RPC_OK || rpc_tx_count(c, wallet, "latest", &latest, e) != RPC_OK)
		return -1;
	*any = pending > latest;
	return 0;
}

/*
 * The paying wallet's transfers that could be this payout, newest first, in
 * final blocks or (scope RECONCILE_ANY_BLOCK) up to the newest. 0, or -1 with
 * o filled.
 */
static int find_candidates(struct db *db, const struct config *cfg, const PGresult *out, enum reconcile_scope scope,
                           struct candidates *k, struct reconcile_outcome *o)
{
	const char *id = PQgetvalue(out, 0, PCOL_ID), *network = PQgetvalue(out, 0, PCOL_NETWORK);
	const uint64_t window = (uint64_t)cfg->jobs.watch_window_blocks;
	uint64_t opened = strtoull(PQgetvalue(out, 0, OPENED_COL), NULL, 10), upto, scanned = 0, ts;
	time_t deadline = time(NULL) + SEARCH_SECONDS;
	struct verify_expect x;
	struct rpc_client c;
	struct rpc_error e;
	char err[256];

	if (outgoing_expect(cfg, network, PQgetvalue(out, 0, PCOL_CONTRACT), PQgetvalue(out, 0, PCOL_RECEIVER),
	                    PQgetvalue(out, 0, PCOL_AMOUNT), PQgetvalue(out, 0, PCOL_SENDER), &x, err, sizeof(err)) != 0) {
		say(o, RECONCILE_REFUSED, "payout %s cannot be matched: %s", id, err);
		return -1;
	}
	if (chain_ready(cfg, network, &e) != RPC_OK || rpc_client_init(&c, cfg, network, &e) != RPC_OK ||
	    rpc_safe_block(&c, &k->final, &e) != RPC_OK) {
		say(o, e.kind == RPC_ENOCONF ? RECONCILE_REFUSED : RECONCILE_UNAVAILABLE, "%s", e.message);
		return -1;
	}
	upto = k->final;
	if (scope == RECONCILE_ANY_BLOCK && (unmined_from(&c, PQgetvalue(out, 0, PCOL_SENDER), &k->unmined, &e) != 0 ||
	                                     rpc_block_number(&c, &upto, &e) != RPC_OK)) {
		say(o, RECONCILE_UNAVAILABLE, "%s", e.message);
		return -1;
	}
	for (uint64_t hi = upto, lo;; hi = lo - 1) {
		lo = hi >= window - 1 ? hi - (window - 1) : 0;
		struct rpc_log_filter f = { .contract = PQgetvalue(out, 0, PCOL_CONTRACT), .from = PQgetvalue(out, 0, PCOL_SENDER),
		                            .to = PQgetvalue(out, 0, PCOL_RECEIVER), .from_block = lo, .to_block = hi };
		json_object *logs = NULL;

		if (time(NULL) > deadline) {
			say(o, RECONCILE_UNAVAILABLE, "gave up after searching %" PRIu64 " blocks (time budget spent)", scanned);
			return -1;
		}
		if (rpc_transfer_logs(&c, &f, &logs, &e) != RPC_OK) {
			say(o, RECONCILE_UNAVAILABLE, "%s", e.message);
			return -1;
		}
		int rc = add_fitting(db, &c, logs, &x, upto, out, opened, k, o);
		json_object_put(logs);
		if (rc != 0)
			return -1;
		scanned += hi - lo + 1;
		if (lo == 0)
			return 0;
		/* Blocks from before the payout was opened hold none of its transfers. */
		if (rpc_block_timestamp(&c, lo, &ts, &e) != RPC_OK) {
			say(o, RECONCILE_UNAVAILABLE, "%s", e.message);
			return -1;
		}
		if (ts + SLACK_SECONDS < opened)
			return 0;
		if (scanned >= window * SEARCH_MAX_WINDOWS) {
			say(o, RECONCILE_UNAVAILABLE, "searched the newest %" PRIu64 " blocks without reaching the block"
			    " payout %s was opened in: whether it was sent cannot be told from here; look it up on the"
			    " paying wallet", scanned, id);
			return -1;
		}
	}
}

/* Other open payouts with the same terms, with no hash yet: a transfer could as well be theirs. */
static enum db_status same_terms(struct db *db, const PGresult *out, long *n)
{
	const char *p[6] = { PQgetvalue(out, 0, PCOL_ID), PQgetvalue(out, 0, PCOL_NETWORK), PQgetvalue(out, 0, PCOL_CONTRACT),
		             PQgetvalue(out, 0, PCOL_SENDER), PQgetvalue(out, 0, PCOL_RECEIVER), PQgetvalue(out, 0, PCOL_AMOUNT) };
	PGresult *res = NULL;
	enum db_status st;

	*n = 0;
	st = db_exec(db, &res,
	             "SELECT count(*) FROM payments q WHERE q.direction = 'out' AND q.id <> $1::uuid"
	             " AND q.status IN ('pending', 'processing') AND q.tx_hash IS NULL AND q.network = $2"
	             " AND lower(q.token_contract) = lower($3) AND lower(q.sender_address) = lower($4)"
	             " AND lower(q.receiver_address) = lower($5) AND q.amount = $6::numeric", 6, p);
	if (st == DB_OK)
		*n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return st;
}

/*
 * Tells the admins, in a transaction under the coordinator's locks, while
 * the payout is still open with no hash: what fits, and that nothing was
 * guessed. Written once per finding (pay/review.h).
 */
static enum db_status report(struct db *db, const PGresult *out, enum reconcile_scope scope, const struct candidates *k,
                             long others)
{
	const char *id = PQgetvalue(out, 0, PCOL_ID), *payin = PQgetvalue(out, 0, POCOL_PAYIN);
	const char *ids[2] = { payin, id }, *p[1] = { id };
	char reason[900], list[600] = "";
	PGresult *cur = NULL;
	enum db_status st;
	size_t len = 0;

	for (size_t i = 0; i < k->n && i < MAX_CANDIDATES; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", k->hash[i]);
	len = (size_t)snprintf(reason, sizeof(reason), "%zu %stransfer(s) of %s %s from %s to %s (%s) fit %s %s", k->n,
	                       scope == RECONCILE_FINAL ? "final " : "", PQgetvalue(out, 0, PCOL_AMOUNT),
	                       PQgetvalue(out, 0, PCOL_TOKEN), PQgetvalue(out, 0, PCOL_SENDER),
	                       PQgetvalue(out, 0, PCOL_RECEIVER), list, PQgetvalue(out, 0, POCOL_KIND), id);
	if (len < sizeof(reason))
		snprintf(reason + len, sizeof(reason) - len, "%s%s: which pays which is not guessed. Confirm the right one"
		         " with its hash (POST /api/payment/admin/confirm-tx/%s)",
		         others ? " and " : "", others ? "other open payouts with the same terms" : "", id);
	if ((st = db_begin(db)) != DB_OK)
		return st;
	/* After this point, all errors should use goto out. */
	if ((st = coord_lock(db, PQgetvalue(out, 0, PCOL_REQUEST), ids, 2)) != DB_OK ||
	    (st = db_exec(db, &cur, "SELECT status, escrow_state, tx_hash IS NULL FROM payments WHERE id = $1 FOR UPDATE",
	                  1, p)) != DB_OK)
		goto out;
	/* Settled or given a hash meanwhile: nothing to tell. */
	if (PQntuples(cur) != 1 || *PQgetvalue(cur, 0, 2) != 't' ||
	    (strcmp(PQgetvalue(cur, 0, 0), "pending") != 0 && strcmp(PQgetvalue(cur, 0, 0), "processing") != 0))
		goto out;
	struct review rv = {
		.kind = REVIEW_PAYOUT_AMBIGUOUS, .payment_id = payin, .reason = reason, .status = PQgetvalue(cur, 0, 0),
		.escrow = PQgetvalue(cur, 0, 1), .provider = PQgetvalue(out, 0, PCOL_PROVIDER),
		.seen_crypto = PQgetvalue(out, 0, PCOL_AMOUNT), .crypto = PQgetvalue(out, 0, PCOL_TOKEN),
		.tx_hash = k->n == 1 ? k->hash[0] : NULL, .purchase_request_id = PQgetvalue(out, 0, PCOL_REQUEST),
		.payout_id = id,
	};
	if ((st = review_write(db, &rv)) == DB_OK)
		st = db_commit(db);
out:
	db_rollback(db);
	PQclear(cur);
	return st;
}

void reconcile_one(struct db *db, const struct config *cfg, const char *id, enum reconcile_scope scope, const char *actor,
                   const char *request_id, struct reconcile_outcome *o)
{
	const char *p[1] = { id };
	struct outgoing_outcome oc = { 0 };
	struct candidates k = { 0 };
	PGresult *out = NULL;
	long others = 0;

	assert(!db->in_tx);
	memset(o, 0, sizeof(*o));
	/* After this point, all errors should use goto out. */
	if (db_exec(db, &out, "SELECT " PAYOUT_COLUMNS ", extract(epoch FROM p.created_at)::bigint FROM payments p"
	                      " WHERE p.id = $1 AND p.direction = 'out'", 1, p) != DB_OK) {
		say(o, RECONCILE_DB, "database error");
		goto out;
	}
	if (PQntuples(out) != 1 || (strcmp(PQgetvalue(out, 0, PCOL_STATUS), "pending") != 0 &&
	                            strcmp(PQgetvalue(out, 0, PCOL_STATUS), "processing") != 0)) {
		say(o, RECONCILE_SETTLED, "payout %s is no longer open", id);
		goto out;
	}
	/* A hash we have is followed to finality, verified like an admin's. */
	if (col(out, PCOL_TX)) {
		outgoing_confirm(db, cfg, out, PQgetvalue(out, 0, PCOL_TX), actor, request_id, &oc);
		from_confirm(o, &oc);
		goto out;
	}
	if (col(out, PCOL_NETWORK) == NULL || col(out, PCOL_CONTRACT) == NULL || col(out, PCOL_RECEIVER) == NULL ||
	    col(out, PCOL_SENDER) == NULL) {
		say(o, RECONCILE_REFUSED, "payout %s names no paying wallet, token or recipient to match by", id);
		goto out;
	}
	if (find_candidates(db, cfg, out, scope, &k, o) != 0)
		goto out;
	if (k.n == 0 && k.unmined) {
		o->unmined = true;
		say(o, RECONCILE_WAITING, "no transfer from %s pays payout %s yet, but that wallet has transactions not mined"
		    " yet: one may be it", PQgetvalue(out, 0, PCOL_SENDER), id);
		goto out;
	}
	if (k.n == 0) {
		say(o, RECONCILE_NONE, "no %stransfer from %s pays payout %s", scope == RECONCILE_FINAL ? "final " : "",
		    PQgetvalue(out, 0, PCOL_SENDER), id);
		goto out;
	}
	if (same_terms(db, out, &others) != DB_OK) {
		say(o, RECONCILE_DB, "database error");
		goto out;
	}
	/* Not recorded before it is final: a reorganisation could take it away and leave the payout waiting on nothing. */
	if (k.n == 1 && others == 0 && k.block[0] > k.final) {
		snprintf(o->tx_hash, sizeof(o->tx_hash), "%s", k.hash[0]);
		say(o, RECONCILE_WAITING, "transfer %s fits payout %s, in block %" PRIu64 ", not final yet", k.hash[0], id,
		    k.block[0]);
		goto out;
	}
	if (k.n == 1 && others == 0) {
		outgoing_confirm(db, cfg, out, k.hash[0], actor, request_id, &oc);
		from_confirm(o, &oc);
		if (o->kind == RECONCILE_COMPLETED)
			log_info("payout %s: completed by transaction %s, found on chain", id, k.hash[0]);
		goto out;
	}
	if (report(db, out, scope, &k, others) != DB_OK) {
		say(o, RECONCILE_DB, "database error");
		goto out;
	}
	say(o, RECONCILE_AMBIGUOUS, "payout %s: %zu transfer(s) and %ld other payout(s) fit: reported, left alone", id, k.n,
	    others);
out:
	PQclear(oc.row);
	PQclear(out);
}
