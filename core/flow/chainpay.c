#include "flow/chainpay.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "evm/chain.h"
#include "evm/units.h"
#include "pay/coord.h"
#include "pay/payment.h"
#include "pay/review.h"
#include "shkeeper/shkeeper.h"

#define STR(x) #x
#define XSTR(x) STR(x)

/* getLogs in windows providers accept, over a bounded stretch of history. */
#define FETCH_WINDOW 2000
#define FETCH_MAX_BLOCKS 200000

static void say(struct chainpay_outcome *out, enum chainpay_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct chainpay_outcome *out, enum chainpay_kind kind, const char *fmt, ...)
{
	va_list ap;

	out->kind = kind;
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

static const char *col(const PGresult *pay, int r, int c)
{
	return PQgetisnull(pay, r, c) ? NULL : PQgetvalue(pay, r, c);
}

const char *chainpay_kind_name(enum chainpay_kind k)
{
	switch (k) {
	case CHAINPAY_CONFIRMED: return "confirmed";
	case CHAINPAY_PENDING: return "pending";
	case CHAINPAY_FAILED: return "failed";
	case CHAINPAY_TX_USED: return "tx_hash_used";
	case CHAINPAY_CONFLICT: return "invalid_state";
	case CHAINPAY_NOT_VERIFIABLE: return "not_verifiable";
	case CHAINPAY_NOT_FOUND: return "not_found";
	case CHAINPAY_UNAVAILABLE: return "chain_unavailable";
	case CHAINPAY_UPSTREAM: return "chain_error";
	case CHAINPAY_DB: return "database";
	}
	return "unknown";
}

int chainpay_http_status(const struct chainpay_outcome *out)
{
	switch (out->kind) {
	case CHAINPAY_CONFIRMED: return 200;
	case CHAINPAY_PENDING: return 202;
	case CHAINPAY_FAILED: return 422;
	case CHAINPAY_TX_USED:
	case CHAINPAY_CONFLICT:
	case CHAINPAY_NOT_VERIFIABLE: return 409;
	case CHAINPAY_NOT_FOUND: return 404;
	case CHAINPAY_UNAVAILABLE: return 503;
	case CHAINPAY_UPSTREAM: return 502;
	case CHAINPAY_DB: return out->dbst == DB_UNAVAILABLE ? 503 : 500;
	}
	return 500;
}

/* The payment (other than `self`) that already holds this hash on this network. */
static enum db_status find_tx_owner(struct db *db, const char *tx, const char *network,
    const char *self, char used_by[40])
{
	const char *p[3] = { tx, network, self };
	PGresult *res = NULL;
	enum db_status st;

	used_by[0] = '\0';
	st = db_exec(db, &res,
	             "SELECT id::text FROM payments WHERE direction = 'in' AND tx_hash IS NOT NULL"
	             " AND lower(tx_hash) = lower($1) AND coalesce(network, '') = coalesce($2, '')"
	             " AND id <> $3::uuid LIMIT 1", 3, p);
	if (st == DB_OK && PQntuples(res) > 0)
		snprintf(used_by, 40, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return st;
}

/* Only pay-ins we can check on chain: ours, with a network, token and receiver. */
static int check_verifiable(const PGresult *pay, int r, struct chainpay_outcome *out)
{
	const char *provider = PQgetvalue(pay, r, PCOL_PROVIDER);

	if (strcmp(provider, "shkeeper") == 0) {
		say(out, CHAINPAY_NOT_VERIFIABLE, "payment %s is a SHKeeper payment: confirm it through /api/payment/shkeeper/confirm-transaction",
		    PQgetvalue(pay, r, PCOL_ID));
		return -1;
	}
	if (strcmp(PQgetvalue(pay, r, PCOL_DIRECTION), "in") != 0 ||
	    (strcmp(provider, "decentralized") != 0 && strcmp(provider, "manual") != 0)) {
		say(out, CHAINPAY_NOT_VERIFIABLE, "payment %s is not a wallet-direct pay-in", PQgetvalue(pay, r, PCOL_ID));
		return -1;
	}
	if (col(pay, r, PCOL_NETWORK) == NULL || col(pay, r, PCOL_CONTRACT) == NULL || col(pay, r, PCOL_RECEIVER) == NULL) {
		say(out, CHAINPAY_NOT_VERIFIABLE, "payment %s has no network, token contract or receiving address to check",
		    PQgetvalue(pay, r, PCOL_ID));
		return -1;
	}
	/*
	 * Every wallet-direct payment shares the escrow address, so a transfer
	 * counts for a payment only when it comes from its buyer's registered
	 * wallet (sender_address, set at save from user_wallets). Without one,
	 * anyone's transfer could be claimed: nothing is checked or searched.
	 */
	if (col(pay, r, PCOL_SENDER) == NULL) {
		say(out, CHAINPAY_NOT_VERIFIABLE, "payment %s has no sender wallet: only transfers from the buyer's registered wallet count",
		    PQgetvalue(pay, r, PCOL_ID));
		return -1;
	}
	return 0;
}

static int expectation(const struct config *cfg, const PGresult *pay, int r, struct verify_expect *x,
    struct chainpay_outcome *out)
{
	char err[256];

	if (verify_expect_init(x, cfg, PQgetvalue(pay, r, PCOL_NETWORK), PQgetvalue(pay, r, PCOL_CONTRACT),
	                       PQgetvalue(pay, r, PCOL_RECEIVER), PQgetvalue(pay, r, PCOL_AMOUNT),
	                       col(pay, r, PCOL_SENDER), err, sizeof(err)) != 0) {
		say(out, CHAINPAY_NOT_VERIFIABLE, "payment %s cannot be checked: %s", PQgetvalue(pay, r, PCOL_ID), err);
		return -1;
	}
	out->decimals = x->decimals;
	return 0;
}

static void rpc_trouble(struct chainpay_outcome *out, const struct rpc_error *e)
{
	out->retry_after = e->retry_after > 0 ? e->retry_after : 5;
	say(out, e->kind == RPC_EREMOTE || e->kind == RPC_EBADANSWER ? CHAINPAY_UPSTREAM : CHAINPAY_UNAVAILABLE,
	    "%s", e->message);
}

/* Raises the confirmations column (a progress count, not a state) and reloads the row. */
static void record_depth(struct db *db, const char *id, uint64_t depth, struct chainpay_outcome *out)
{
	char n[24];
	PGresult *res = NULL;

	snprintf(n, sizeof(n), "%" PRIu64, depth > INT32_MAX ? (uint64_t)INT32_MAX : depth);
	const char *p[2] = { id, n };
	if (db_exec(db, &res,
	            "UPDATE payments p SET confirmations = greatest(p.confirmations, $2::integer)"
	            " WHERE p.id = $1 RETURNING " PAYMENT_COLUMNS, 2, p) == DB_OK && PQntuples(res) == 1) {
		PQclear(out->row);
		out->row = res;
		return;
	}
	PQclear(res);
}

/* Applies a verifier answer through the coordinator; replace_tx records tx over another hash. */
/*
 * A confirmed transfer that pays more than the payment asks: what it paid, as
 * the coordinator reports an overpayment (the excess is held in the escrow,
 * and a person decides what becomes of it). NULL when it paid exactly.
 */
static struct coord_delivery *overpaid(const struct verify_result *vr, const struct verify_expect *x,
                                       const char *token, struct coord_delivery *d, char *seen, size_t seenlen)
{
	BIGNUM *v;
	int bad;

	if (memcmp(vr->amount, x->min_amount, VERIFY_WORD_LEN) <= 0 || (v = BN_new()) == NULL)
		return NULL;
	bad = units_from_word(vr->amount, v) != 0 || units_format(v, x->decimals, seen, seenlen) != 0;
	BN_free(v);
	if (bad)
		return NULL;
	*d = (struct coord_delivery){ .provider = "chain", .provider_status = "confirmed", .seen_crypto = seen,
	                              .crypto = token, .overpaid = true };
	return d;
}

static void apply(struct db *db, const char *id, const char *status, const char *tx, bool replace_tx,
    const char *was_recorded, const char *network, const char *actor, const char *request_id, const char *reason,
    struct coord_delivery *delivery, struct chainpay_outcome *out, enum chainpay_kind on_success)
{
	json_object *meta = json_object_new_object(), *v = verify_result_json(&out->vr, out->decimals);
	enum coord_result cr;

	json_object_object_add(v, "transactionHash", json_object_new_string(tx));
	json_object_object_add(meta, "chainVerification", v);
	struct coord_change change = {
		.status = status,
		/* A confirmed transfer is money in: should the payment have closed meanwhile, a person hears of it. */
		.escrow = strcmp(status, "completed") == 0 ? "funded" : NULL,
		.tx_hash = out->vr.verdict == VERIFY_FAILED ? NULL : tx,
		.replace_tx = replace_tx,
		/* Decided on the row as read before the chain was asked: another transfer may have paid it since. */
		.if_tx_was = was_recorded ? was_recorded : "",
		.metadata = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN),
		.source = "chain",
		.actor = actor,
		.reason = reason,
		.request_id = request_id,
		.delivery = delivery,
	};
	cr = coord_apply(db, id, &change, &out->row, &out->dbst);
	switch (cr) {
	case COORD_APPLIED:
	case COORD_UNCHANGED:
		out->kind = on_success;
		if (out->vr.mined && out->vr.verdict != VERIFY_FAILED)
			record_depth(db, id, out->vr.confirmations, out);
		break;
	case COORD_BACKWARD:
	case COORD_SKIPPED: {
		const char *now = out->row ? PQgetvalue(out->row, 0, PCOL_STATUS) : "?";
		const char *paid_by = out->row && !PQgetisnull(out->row, 0, PCOL_TX) ? PQgetvalue(out->row, 0, PCOL_TX) : NULL;
		/* Money in for a payment closed meanwhile: the coordinator wrote the review under the lock. */
		out->reported = cr == COORD_BACKWARD && change.escrow && payment_status_closed(now);
		if (cr == COORD_SKIPPED && paid_by && strcasecmp(paid_by, tx) != 0)
			say(out, CHAINPAY_CONFLICT, "payment %s is %s, paid meanwhile by transaction %s: transfer %s is not"
			    " recorded on it", id, now, paid_by, tx);
		else if (out->reported)
			say(out, CHAINPAY_CONFLICT, "payment %s is %s, but transfer %s reached the escrow: the admins are"
			    " told (payment-needs-review) and nothing moves", id, now, tx);
		else
			say(out, CHAINPAY_CONFLICT, "payment %s is %s; the chain's answer (%s) cannot move it", id, now,
			    verify_verdict_name(out->vr.verdict));
		break;
	}
	case COORD_NOT_FOUND:
		say(out, CHAINPAY_CONFLICT, "payment %s disappeared", id);
		break;
	case COORD_TX_USED:
		find_tx_owner(db, tx, network, id, out->used_by);
		say(out, CHAINPAY_TX_USED, "transaction %s already pays payment %s", tx, out->used_by);
		break;
	case COORD_DB:
		say(out, CHAINPAY_DB, "database error");
		break;
	}
	json_object_put(meta);
}

/*
 * A payment waiting on a recorded hash takes no other, so a buyer cannot swap
 * hashes under it; unless the node no longer knows the recorded transaction
 * at all. A reorganisation dropped it (or it left the pool), and refusing
 * every other hash would leave the payment in processing for good: the new
 * hash, once it verifies on its own, is recorded in its place through the
 * coordinator. Returns 0 when the recorded hash is gone, else -1 with out
 * filled (a conflict, or the chain could not be asked).
 */
static int recorded_gone(struct rpc_client *c, const struct verify_expect *x, const char *id,
    const char *recorded, struct chainpay_outcome *out)
{
	struct verify_result vr;

	if (verify_tx(c, x, recorded, &vr) == VERIFY_ERROR) {
		rpc_trouble(out, &vr.rpc);
		return -1;
	}
	if (vr.verdict == VERIFY_PENDING && vr.reason == VR_NOT_FOUND) {
		log_info("payment %s: the node does not know its recorded transaction %s any more; another may replace it",
		         id, recorded);
		return 0;
	}
	say(out, CHAINPAY_CONFLICT, "payment %s is already being paid by transaction %s", id, recorded);
	return -1;
}

void chainpay_verify(struct db *db, const struct config *cfg, const PGresult *pay, int r,
    const char *tx_hash, const char *actor, const char *request_id,
    struct chainpay_outcome *out)
{
	const char *id = PQgetvalue(pay, r, PCOL_ID), *status = PQgetvalue(pay, r, PCOL_STATUS);
	const char *recorded = col(pay, r, PCOL_TX), *network = col(pay, r, PCOL_NETWORK);
	bool replacing = recorded && strcasecmp(recorded, tx_hash) != 0;
	struct verify_expect x;
	struct rpc_client c;
	struct rpc_error e;

	memset(out, 0, sizeof(*out));
	snprintf(out->tx_hash, sizeof(out->tx_hash), "%s", tx_hash);
	if (check_verifiable(pay, r, out) != 0 || expectation(cfg, pay, r, &x, out) != 0)
		return;
	if (strcmp(status, "completed") == 0 || strcmp(status, "released") == 0 ||
	    strcmp(status, "refunded") == 0) {
		/* Asking again about the hash that completed it is answered as it was. */
		if (recorded && strcasecmp(recorded, tx_hash) == 0)
			say(out, CHAINPAY_CONFIRMED, "payment %s was already confirmed by this transaction", id);
		else
			say(out, CHAINPAY_CONFLICT, "payment %s is already %s%s%s", id, status,
			    recorded ? " by transaction " : "", recorded ? recorded : "");
		return;
	}
	/* A closed payment moves no more; its transfer is still checked, and reported when it paid. */
	bool closed = payment_status_closed(status);
	if (!closed && strcmp(status, "pending") != 0 && strcmp(status, "processing") != 0) {
		say(out, CHAINPAY_CONFLICT, "payment %s is %s; it cannot be verified", id, status);
		return;
	}
	/* A friendly answer before asking the chain; the unique index decides under a race. */
	if ((out->dbst = find_tx_owner(db, tx_hash, network, id, out->used_by)) != DB_OK) {
		say(out, CHAINPAY_DB, "database error");
		return;
	}
	if (out->used_by[0]) {
		say(out, CHAINPAY_TX_USED, "transaction %s already pays payment %s", tx_hash, out->used_by);
		return;
	}
	/* No transaction is open here: the RPC calls may take seconds. */
	assert(!db->in_tx);
	if (chain_ready(cfg, network, &e) != RPC_OK || rpc_client_init(&c, cfg, network, &e) != RPC_OK) {
		rpc_trouble(out, &e);
		return;
	}
	if (!closed && replacing && recorded_gone(&c, &x, id, recorded, out) != 0)
		return;
	verify_tx(&c, &x, tx_hash, &out->vr);
	out->verified = true;
	snprintf(out->message, sizeof(out->message), "%s", out->vr.message);
	if (closed && out->vr.verdict != VERIFY_CONFIRMED && out->vr.verdict != VERIFY_ERROR) {
		/* Nothing to record on a closed payment until the transfer is final. */
		out->kind = out->vr.verdict == VERIFY_PENDING ? CHAINPAY_PENDING : CHAINPAY_FAILED;
		return;
	}
	switch (out->vr.verdict) {
	case VERIFY_CONFIRMED:
		/* Moving to completed records the hash; never over one that completed it meanwhile. */
	{
		struct coord_delivery d;
		char seen[96];
		apply(db, id, "completed", tx_hash, false, recorded, network, actor, request_id, "on-chain transfer confirmed",
		      overpaid(&out->vr, &x, col(pay, r, PCOL_TOKEN), &d, seen, sizeof(seen)), out, CHAINPAY_CONFIRMED);
		break;
	}
	case VERIFY_PENDING:
		if (out->vr.reason != VR_NOT_DEEP) {
			/* Not seen on chain: nothing is recorded, so a wrong hash holds nothing. */
			out->kind = CHAINPAY_PENDING;
			break;
		}
		/* Polling a payment already waiting on this hash only moves its depth:
		 * no transition, no event for every poll. */
		if (recorded && !replacing && strcmp(status, "processing") == 0) {
			out->kind = CHAINPAY_PENDING;
			record_depth(db, id, out->vr.confirmations, out);
			break;
		}
		/* Two racing replacements: the last one wins, and both came from the buyer's wallet. */
		apply(db, id, "processing", tx_hash, replacing, recorded, network, actor, request_id,
		      "on-chain transfer seen, awaiting confirmations", NULL, out, CHAINPAY_PENDING);
		/* No status moves, so no audit row: the log keeps the replacement. */
		if (replacing && out->kind == CHAINPAY_PENDING)
			log_info("payment %s: transaction %s recorded in place of %s", id, tx_hash, recorded);
		break;
	case VERIFY_FAILED:
		if (!out->vr.final) {
			out->kind = CHAINPAY_FAILED;
			break;
		}
		apply(db, id, "failed", tx_hash, false, recorded, network, actor, request_id, out->vr.message, NULL, out,
		      CHAINPAY_FAILED);
		break;
	case VERIFY_ERROR:
		rpc_trouble(out, &out->vr.rpc);
		break;
	}
	if (out->kind == CHAINPAY_CONFIRMED || out->kind == CHAINPAY_PENDING || out->kind == CHAINPAY_FAILED)
		snprintf(out->message, sizeof(out->message), "%s", out->vr.message);
}

/*
 * Looks through one window of logs, newest first, for an unused transfer of
 * exactly the amount from the payment's wallet, in a final block (at most
 * `safe`). The node was asked for exactly these; each is checked again, so a
 * node that ignores part of the filter cannot hand us someone else's transfer.
 */
static int scan_logs(struct db *db, json_object *logs, const struct verify_expect *x, uint64_t safe,
    const char *network, const char *self, struct chainpay_outcome *out)
{
	for (size_t i = json_object_array_length(logs); i-- > 0;) {
		struct verify_log l;
		char hash[RPC_HASH_BUFSZ], used_by[40];
		uint64_t block;

		if (verify_parse_found_log(json_object_array_get_idx(logs, i), &l, hash, &block) != 1 ||
		    block > safe || !verify_same_address(l.token, x->token) ||
		    !verify_same_address(l.to, x->recipient) || !verify_same_address(l.from, x->sender) ||
		    memcmp(l.value, x->min_amount, VERIFY_WORD_LEN) != 0)
			continue;
		if ((out->dbst = find_tx_owner(db, hash, network, self, used_by)) != DB_OK)
			return -1;
		if (used_by[0])
			continue;
		snprintf(out->tx_hash, sizeof(out->tx_hash), "%s", hash);
		out->vr.block_number = block;
		return 1;
	}
	return 0;
}

/* The newest block a found transfer may be in (rpc_safe_block); none while the chain is not that deep. */
static int safe_block(struct rpc_client *c, uint64_t *safe, struct chainpay_outcome *out)
{
	struct rpc_error e;

	if (rpc_safe_block(c, safe, &e) != RPC_OK) {
		rpc_trouble(out, &e);
		return -1;
	}
	if (*safe == 0) {
		say(out, CHAINPAY_NOT_FOUND, "the chain has no final block yet");
		return -1;
	}
	return 0;
}

/*
 * Records a found hash on a completed payment through the coordinator (no
 * state moves: the coordinator records a hash where none is) and fills out.
 * `how` names where it was found; `source` is the audit source.
 */
static void record_found(struct db *db, const char *id, const char *network, const char *how,
                         const char *source, const char *actor, const char *request_id,
                         struct chainpay_outcome *out)
{
	char reason[96];
	json_object *meta = json_object_new_object(), *info = json_object_new_object();

	snprintf(reason, sizeof(reason), "transaction hash found by %s", how);
	json_object_object_add(info, "transactionHash", json_object_new_string(out->tx_hash));
	if (out->vr.block_number)
		json_object_object_add(info, "blockNumber", json_object_new_int64((int64_t)out->vr.block_number));
	json_object_object_add(info, "source", json_object_new_string(how));
	json_object_object_add(meta, "txFetch", info);
	struct coord_change change = {
		.tx_hash = out->tx_hash,
		.metadata = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN),
		.source = source,
		.actor = actor,
		.reason = reason,
		.request_id = request_id,
	};
	switch (coord_apply(db, id, &change, &out->row, &out->dbst)) {
	case COORD_APPLIED:
	case COORD_UNCHANGED:
		say(out, CHAINPAY_CONFIRMED, "transaction %s found by %s", out->tx_hash, how);
		log_info("payment %s: transaction hash %s found by %s", id, out->tx_hash, how);
		break;
	case COORD_TX_USED:
		find_tx_owner(db, out->tx_hash, network, id, out->used_by);
		say(out, CHAINPAY_TX_USED, "transaction %s already pays payment %s", out->tx_hash, out->used_by);
		break;
	case COORD_DB:
		say(out, CHAINPAY_DB, "database error");
		break;
	default:
		say(out, CHAINPAY_CONFLICT, "payment %s changed meanwhile", id);
	}
	json_object_put(meta);
}

/*
 * A SHKeeper pay-in's hash comes from SHKeeper's own record of its invoice:
 * only a transaction of the invoice's token, and only once the chain shows it
 * as a final transfer to the invoice's deposit address. SHKeeper's word alone
 * is never recorded. Of those, the largest transfer is recorded: SHKeeper's
 * order is no promise, and anyone can send dust to a deposit address to have
 * it taken for the payment. One that already pays another payment gives way
 * to the next largest.
 */
static void fetch_from_shkeeper(struct db *db, const struct config *cfg, const PGresult *pay, int r,
                                const char *actor, const char *request_id, time_t deadline,
                                struct chainpay_outcome *out)
{
	const char *id = PQgetvalue(pay, r, PCOL_ID), *network = col(pay, r, PCOL_NETWORK);
	char crypto[24], msg[300], txids[SHK_MAX_INVOICE_TXS][67];
	/* The transfers the chain confirms, largest first (the newer first among equals). */
	struct { size_t i; struct verify_result vr; } found[SHK_MAX_INVOICE_TXS];
	size_t n = 0, nfound = 0;

	if (PQgetisnull(pay, r, PCOL_EXTERNAL_ID) || network == NULL || col(pay, r, PCOL_RECEIVER) == NULL ||
	    col(pay, r, PCOL_CONTRACT) == NULL ||
	    shk_crypto_name(network, PQgetvalue(pay, r, PCOL_TOKEN), crypto) != 0) {
		say(out, CHAINPAY_NOT_VERIFIABLE, "payment %s has no SHKeeper invoice to look up", id);
		return;
	}
	switch (shk_invoice_txids(cfg, PQgetvalue(pay, r, PCOL_EXTERNAL_ID), crypto, txids, SHK_MAX_INVOICE_TXS, &n, msg,
	                          sizeof(msg))) {
	case SHK_OK:
		break;
	case SHK_UNAVAILABLE:
		out->retry_after = 5;
		say(out, CHAINPAY_UNAVAILABLE, "%s", msg);
		return;
	case SHK_REFUSED:
		say(out, CHAINPAY_UPSTREAM, "%s", msg);
		return;
	}
	if (n == 0) {
		say(out, CHAINPAY_NOT_FOUND, "SHKeeper lists no confirmed %s transaction for payment %s", crypto, id);
		return;
	}
	for (size_t i = n; i-- > 0;) {
		struct verify_result vr;
		if (time(NULL) > deadline) {
			out->retry_after = 1;
			say(out, CHAINPAY_UNAVAILABLE, "gave up after checking %zu of the %zu transaction(s) SHKeeper lists"
			    " (time budget spent)", n - 1 - i, n);
			return;
		}
		enum verify_verdict v = verify_payment_tx(cfg, network, PQgetvalue(pay, r, PCOL_CONTRACT),
		                                          PQgetvalue(pay, r, PCOL_RECEIVER), "0", NULL, txids[i], &vr);
		bool pays = false;
		for (size_t b = 0; v == VERIFY_CONFIRMED && b < sizeof(vr.amount); b++)
			pays = pays || vr.amount[b] != 0;
		if (v == VERIFY_ERROR) {
			out->vr = vr;
			out->verified = true;
			if (vr.rpc.kind == RPC_ENOCONF) {
				say(out, CHAINPAY_NOT_VERIFIABLE, "SHKeeper names %s, which cannot be checked here: %s", txids[i],
				    vr.message[0] ? vr.message : vr.rpc.message);
				return;
			}
			rpc_trouble(out, &vr.rpc);
			return;
		}
		if (!pays) {
			log_warn("payment %s: SHKeeper names %s, which the chain does not show paying the deposit address: %s",
			         id, txids[i], vr.message);
			continue;
		}
		/* Amounts are big-endian words of one width: memcmp orders them. */
		size_t at = nfound;
		while (at > 0 && memcmp(found[at - 1].vr.amount, vr.amount, sizeof(vr.amount)) < 0) {
			found[at] = found[at - 1];
			at--;
		}
		found[at].i = i;
		found[at].vr = vr;
		nfound++;
	}
	for (size_t k = 0; k < nfound; k++) {
		PQclear(out->row);
		out->row = NULL;
		snprintf(out->tx_hash, sizeof(out->tx_hash), "%s", txids[found[k].i]);
		out->vr = found[k].vr;
		out->verified = true;
		record_found(db, id, network, "SHKeeper invoice lookup, checked on chain", "shkeeper", actor, request_id,
		             out);
		if (out->kind != CHAINPAY_TX_USED)
			return;
		log_warn("payment %s: %s already pays payment %s; trying SHKeeper's next transaction", id, out->tx_hash,
		         out->used_by);
	}
	if (nfound > 0)
		return;   /* each one pays another payment: the last refusal says so */
	say(out, CHAINPAY_NOT_FOUND, "none of the %zu %s transaction(s) SHKeeper lists for payment %s is a final transfer"
	    " to its deposit address", n, crypto, id);
}

void chainpay_fetch_tx(struct db *db, const struct config *cfg, const PGresult *pay, int r,
    const char *actor, const char *request_id, time_t deadline, struct chainpay_outcome *out)
{
	const char *id = PQgetvalue(pay, r, PCOL_ID), *status = PQgetvalue(pay, r, PCOL_STATUS);
	const char *network = col(pay, r, PCOL_NETWORK), *recorded = col(pay, r, PCOL_TX);
	struct verify_expect x;
	struct rpc_client c;
	struct rpc_error e;
	uint64_t safe, scanned = 0;
	int found = 0;

	memset(out, 0, sizeof(*out));
	if (recorded) {
		snprintf(out->tx_hash, sizeof(out->tx_hash), "%s", recorded);
		say(out, CHAINPAY_CONFIRMED, "payment %s already has its transaction hash", id);
		return;
	}
	if (strcmp(status, "completed") != 0 && strcmp(status, "released") != 0 && strcmp(status, "refunded") != 0) {
		say(out, CHAINPAY_CONFLICT, "payment %s is %s: only a completed payment's hash is looked up; verify a pending one with its hash",
		    id, status);
		return;
	}
	if (strcmp(PQgetvalue(pay, r, PCOL_PROVIDER), "shkeeper") == 0) {
		fetch_from_shkeeper(db, cfg, pay, r, actor, request_id, deadline, out);
		return;
	}
	/* Only the payment's own wallet is searched (check_verifiable): never everyone's transfers. */
	if (check_verifiable(pay, r, out) != 0 || expectation(cfg, pay, r, &x, out) != 0)
		return;
	if (chain_ready(cfg, network, &e) != RPC_OK || rpc_client_init(&c, cfg, network, &e) != RPC_OK) {
		rpc_trouble(out, &e);
		return;
	}
	/* A hash recorded on a completed payment is never checked again: it must be final now. */
	if (safe_block(&c, &safe, out) != 0)
		return;
	/* Newest first: the payment was completed recently more often than not. */
	for (uint64_t hi = safe; scanned < FETCH_MAX_BLOCKS && found == 0; ) {
		uint64_t lo = hi >= FETCH_WINDOW - 1 ? hi - (FETCH_WINDOW - 1) : 0;
		json_object *logs = NULL;
		struct rpc_log_filter f = {
			.contract = PQgetvalue(pay, r, PCOL_CONTRACT), .from = PQgetvalue(pay, r, PCOL_SENDER),
			.to = PQgetvalue(pay, r, PCOL_RECEIVER), .from_block = lo, .to_block = hi,
		};
		if (time(NULL) > deadline) {
			out->retry_after = 1;
			say(out, CHAINPAY_UNAVAILABLE, "gave up after searching %" PRIu64 " blocks (time budget spent)", scanned);
			return;
		}
		if (rpc_transfer_logs(&c, &f, &logs, &e) != RPC_OK) {
			rpc_trouble(out, &e);
			return;
		}
		found = scan_logs(db, logs, &x, safe, network, id, out);
		json_object_put(logs);
		if (found < 0) {
			say(out, CHAINPAY_DB, "database error");
			return;
		}
		scanned += hi - lo + 1;
		if (lo == 0)
			break;
		hi = lo - 1;
	}
	if (!found) {
		say(out, CHAINPAY_NOT_FOUND, "no unclaimed transfer of exactly the payment's amount from %s to %s in the last %" PRIu64 " final blocks",
		    PQgetvalue(pay, r, PCOL_SENDER), PQgetvalue(pay, r, PCOL_RECEIVER), scanned);
		return;
	}
	record_found(db, id, network, "eth_getLogs", "chain", actor, request_id, out);
}

enum db_status chainpay_select_unverified(struct db *db, long limit, PGresult **rows)
{
	char lim[24];
	const char *p[1] = { lim };

	snprintf(lim, sizeof(lim), "%ld", limit);
	/* A payment without a sender wallet cannot be verified: it would head every batch. */
	return db_exec(db, rows,
	               "SELECT " PAYMENT_COLUMNS ", coalesce(p.tx_hash, p.metadata->>'submittedTxHash')"
	               " FROM payments p WHERE p.provider = 'decentralized' AND p.direction = 'in'"
	               " AND p.status IN ('pending', 'processing') AND p.sender_address IS NOT NULL"
	               " AND coalesce(p.tx_hash, p.metadata->>'submittedTxHash') ~ '^0x[0-9a-fA-F]{64}$'"
	               " ORDER BY p.updated_at, p.id LIMIT $1::integer", 1, p);
}

enum db_status chainpay_select_missing_tx(struct db *db, long limit, PGresult **rows)
{
	char lim[24];
	const char *p[1] = { lim };

	snprintf(lim, sizeof(lim), "%ld", limit);
	return db_exec(db, rows,
	               "SELECT " PAYMENT_COLUMNS " FROM payments p WHERE p.direction = 'in'"
	               " AND p.status = 'completed' AND p.tx_hash IS NULL"
	               /* Payments with nothing to search by would fill every batch. */
	               " AND (p.provider = 'shkeeper' OR (p.network IS NOT NULL AND p.token_contract IS NOT NULL"
	               "      AND p.receiver_address IS NOT NULL AND p.sender_address IS NOT NULL))"
	               " ORDER BY p.provider = 'shkeeper', p.completed_at DESC NULLS LAST, p.id"
	               " LIMIT $1::integer", 1, p);
}

/*
 * A transfer from a buyer's wallet that none of its pay-ins takes (less than
 * a price, one part of several, a second payment) is money in the escrow
 * nobody placed: a person hears of it, on that wallet's open pay-in (else its
 * latest), under the coordinator's locks, once per transaction
 * (pay/review.h). A wallet no pay-in names is nobody's buyer: only logged.
 */
static void report_unplaced(struct db *db, const char *const key[3], const char *amount, const char *tx_hash,
                            struct chainpay_outcome *out)
{
	const char *seen[2] = { review_kind_name(REVIEW_DEPOSIT_UNPLACED), tx_hash };
	PGresult *pay = NULL, *cur = NULL, *told = NULL;
	char reason[400], used_by[40];
	enum db_status st;

	if ((st = db_exec(db, &pay,
	                  "SELECT p.id, p.purchase_request_id, p.token FROM payments p WHERE p.provider = 'decentralized'"
	                  " AND p.direction = 'in' AND p.network = $1 AND lower(p.token_contract) = lower($2)"
	                  " AND lower(p.sender_address) = lower($3)"
	                  " ORDER BY p.status IN ('pending', 'processing') DESC, p.created_at DESC, p.id LIMIT 1",
	                  3, key)) != DB_OK)
		goto out;
	if (PQntuples(pay) == 0) {
		log_warn("transfer %s of %s from %s to the escrow: no pay-in names that wallet", tx_hash, amount, key[2]);
		goto out;
	}
	const char *id = PQgetvalue(pay, 0, 0), *ids[1] = { id }, *p[1] = { id };
	snprintf(reason, sizeof(reason),
	         "transfer %s of %s %s from %s to the escrow pays none of that wallet's pay-ins (less than a price, one"
	         " part of several, or a second payment): nothing moved; the money is in the escrow for a person to place",
	         tx_hash, amount, PQgetvalue(pay, 0, 2), key[2]);
	if ((st = db_begin(db)) != DB_OK)
		goto out;
	/* After this point, all errors should use goto out. */
	if ((st = coord_lock(db, PQgetvalue(pay, 0, 1), ids, 1)) != DB_OK ||
	    (st = db_exec(db, &cur, "SELECT status, escrow_state FROM payments WHERE id = $1 FOR UPDATE", 1, p)) != DB_OK ||
	    (st = find_tx_owner(db, tx_hash, key[0], PAYMENT_ID_NONE, used_by)) != DB_OK ||
	    (st = db_exec(db, &told,
	                  "SELECT 1 FROM events WHERE event = 'payment-needs-review' AND payload->>'kind' = $1"
	                  " AND lower(payload->>'transactionHash') = lower($2) LIMIT 1", 2, seen)) != DB_OK)
		goto out;
	/*
	 * Under the lock, read again: a transfer that completed a pay-in by its
	 * buyer's hash is placed; one reported already (on the pay-in that was
	 * open then) is not reported again on another. Findings are few among
	 * the outbox's rows, and events_event reads only them.
	 */
	if (used_by[0] || PQntuples(told) > 0)
		goto out;
	struct review rv = {
		.kind = REVIEW_DEPOSIT_UNPLACED, .payment_id = id, .reason = reason, .status = PQgetvalue(cur, 0, 0),
		.escrow = PQgetvalue(cur, 0, 1), .provider = "chain", .seen_crypto = amount, .crypto = PQgetvalue(pay, 0, 2),
		.tx_hash = tx_hash, .purchase_request_id = PQgetvalue(pay, 0, 1),
	};
	if ((st = review_write(db, &rv)) != DB_OK || (st = db_commit(db)) != DB_OK)
		goto out;
	out->reported = true;
	say(out, CHAINPAY_NOT_FOUND, "%s", reason);
out:
	db_rollback(db);
	PQclear(pay);
	PQclear(cur);
	PQclear(told);
	if (st != DB_OK) {
		out->dbst = st;
		say(out, CHAINPAY_DB, "database error");
	}
}

void chainpay_apply_transfer(struct db *db, const struct config *cfg, const char *network,
    const char *contract, const char *from, const char *amount, const char *tx_hash,
    const char *actor, const char *request_id, struct chainpay_outcome *out)
{
	const char *p[4] = { network, contract, from, amount };
	PGresult *rows = NULL;

	memset(out, 0, sizeof(*out));
	snprintf(out->tx_hash, sizeof(out->tx_hash), "%s", tx_hash);
	if ((out->dbst = db_exec(db, &rows,
	                         "SELECT " PAYMENT_COLUMNS " FROM payments p WHERE p.provider = 'decentralized'"
	                         " AND p.direction = 'in' AND (p.status IN ('pending', 'processing')"
	                         "  OR (p.status IN ('failed', 'cancelled')"
	                         "      AND p.updated_at > now() - interval '" XSTR(CHAINPAY_CLOSED_DAYS) " days'))"
	                         " AND p.network = $1 AND lower(p.token_contract) = lower($2)"
	                         " AND lower(p.sender_address) = lower($3)"
	                         " ORDER BY p.status IN ('pending', 'processing') DESC, p.amount = $4::numeric DESC,"
	                         " p.created_at, p.id LIMIT 20", 4, p)) != DB_OK) {
		say(out, CHAINPAY_DB, "database error");
		return;
	}
	say(out, CHAINPAY_NOT_FOUND, "no open pay-in from %s waits for this transfer", from);
	bool answered = false;
	for (int i = 0; i < PQntuples(rows) && !answered; i++) {
		struct chainpay_outcome one;

		chainpay_verify(db, cfg, rows, i, tx_hash, actor, request_id, &one);
		/* Another pay-in of the same wallet may be the one this transfer pays; one reported it already. */
		if (!one.reported && (one.kind == CHAINPAY_FAILED || one.kind == CHAINPAY_CONFLICT)) {
			PQclear(one.row);
			continue;
		}
		*out = one;
		answered = true;
	}
	/* Every pay-in of the wallet declined it, or none is open. */
	if (!answered)
		report_unplaced(db, p, amount, tx_hash, out);
	PQclear(rows);
}
