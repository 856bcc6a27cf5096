#include "flow/shk_deposit.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/bn.h>

#include "base/log.h"
#include "evm/units.h"
#include "evm/verify.h"
#include "flow/shk_onchain.h"
#include "pay/payment.h"
#include "shkeeper/shkeeper.h"

/* The stretch of history searched for an address's deposits, newest first, and the time it may take. */
#define SUM_MAX_BLOCKS 100000
#define SUM_SECONDS 20
/* More than any invoice needs; beyond it the sum still counts, the list stops. */
#define MAX_LISTED 32
/* The payment read again alone: PAYMENT_COLUMNS, then crypto_name and when it was made (unix seconds). */
#define CRYPTO_COL 29
#define CREATED_COL 30
#define REPRICED_COL 31
/* Block times and our clock may differ a little. */
#define SLACK_SECONDS 120

/*
 * Open pay-ins, and those closed lately ($3 days); an address shared by two
 * pay-ins is nobody's. $1 and $2 narrow it to a network and token (NULL: all).
 */
#define WATCHED_SQL \
	" FROM (SELECT " PAYMENT_COLUMNS ", lower(p.receiver_address) AS addr, p.created_at AS since," \
	"   count(*) OVER (PARTITION BY lower(p.receiver_address)) AS holders" \
	"  FROM payments p WHERE p.provider = 'shkeeper' AND p.direction = 'in'" \
	"   AND p.receiver_address IS NOT NULL AND p.external_id IS NOT NULL" \
	"   AND (p.status IN ('pending', 'processing') OR (p.status IN ('failed', 'cancelled')" \
	"        AND p.updated_at > now() - make_interval(days => $3::integer)))" \
	"   AND ($1::text IS NULL OR p.network = $1) AND ($2::text IS NULL OR p.token = $2)) w" \
	" WHERE w.holders = 1"

enum db_status shk_deposit_watched(struct db *db, const char *network, const char *token, PGresult **rows)
{
	char days[16], limit[16];
	const char *p[4] = { network, token, days, limit };

	snprintf(days, sizeof(days), "%d", SHK_WATCH_CLOSED_DAYS);
	snprintf(limit, sizeof(limit), "%d", SHK_WATCH_MAX);
	/* Every column of the inner row but the helpers, in PAYMENT_COLUMNS' order. */
	return db_exec(db, rows, "SELECT w.*" WATCHED_SQL " ORDER BY w.since LIMIT $4::integer", 4, p);
}

enum db_status shk_deposit_count(struct db *db, long long *n)
{
	char days[16];
	const char *p[3] = { NULL, NULL, days };
	PGresult *res = NULL;
	enum db_status st;

	*n = 0;
	snprintf(days, sizeof(days), "%d", SHK_WATCH_CLOSED_DAYS);
	if ((st = db_exec(db, &res, "SELECT count(*)" WATCHED_SQL, 3, p)) == DB_OK)
		*n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return st;
}

/* What the search found: the sum, and the transfers behind it (the newest one is the trigger). */
struct found {
	BIGNUM *sum;
	size_t n, listed;
	char txid[MAX_LISTED][RPC_HASH_BUFSZ];
	char amount[MAX_LISTED][UNITS_DEC_BUFSZ];
	uint64_t block[MAX_LISTED];
};

/* Adds the final transfers in `logs` of the expected token to the expected address. */
static int add_logs(json_object *logs, const struct verify_expect *x, uint64_t safe, unsigned decimals,
                    struct found *f, BIGNUM *part)
{
	for (size_t i = 0; i < json_object_array_length(logs); i++) {
		struct verify_log l;
		char hash[RPC_HASH_BUFSZ];
		uint64_t block;

		/* The node was asked for exactly these; each is checked again all the same. */
		if (verify_parse_found_log(json_object_array_get_idx(logs, i), &l, hash, &block) != 1 || block > safe ||
		    !verify_same_address(l.token, x->token) || !verify_same_address(l.to, x->recipient))
			continue;
		if (units_from_word(l.value, part) != UNITS_OK || !BN_add(f->sum, f->sum, part))
			return -1;
		f->n++;
		if (f->listed < MAX_LISTED) {
			snprintf(f->txid[f->listed], RPC_HASH_BUFSZ, "%s", hash);
			if (units_format(part, decimals, f->amount[f->listed], UNITS_DEC_BUFSZ) != UNITS_OK)
				return -1;
			f->block[f->listed++] = block;
		}
	}
	return 0;
}

/*
 * Every final transfer of the token to the address, newest first, back to
 * the block before the pay-in was made (its address is its own from then
 * on), within the bounds. 0, or -1 with e.
 */
static int search(const struct config *cfg, struct rpc_client *c, const struct verify_expect *x, const char *contract,
                  const char *address, uint64_t safe, uint64_t since, unsigned decimals, struct found *f,
                  struct rpc_error *e)
{
	const uint64_t window = (uint64_t)cfg->jobs.watch_window_blocks;
	time_t deadline = time(NULL) + SUM_SECONDS;
	BIGNUM *part = BN_new();
	uint64_t scanned = 0;
	int rc = -1;

	/* After this point, all errors should use goto out. */
	if (part == NULL) {
		snprintf(e->message, sizeof(e->message), "out of memory");
		goto out;
	}
	for (uint64_t hi = safe; scanned < SUM_MAX_BLOCKS;) {
		uint64_t lo = hi >= window - 1 ? hi - (window - 1) : 0;
		struct rpc_log_filter flt = { .contract = contract, .to = address, .from_block = lo, .to_block = hi };
		json_object *logs = NULL;

		if (time(NULL) > deadline) {
			snprintf(e->message, sizeof(e->message), "gave up after searching %" PRIu64 " blocks (time budget spent)",
			         scanned);
			goto out;
		}
		if (rpc_transfer_logs(c, &flt, &logs, e) != RPC_OK)
			goto out;
		int added = add_logs(logs, x, safe, decimals, f, part);
		json_object_put(logs);
		if (added != 0) {
			snprintf(e->message, sizeof(e->message), "cannot add up the transfers");
			goto out;
		}
		scanned += hi - lo + 1;
		if (lo == 0)
			break;
		uint64_t ts;
		if (rpc_block_timestamp(c, lo, &ts, e) != RPC_OK)
			goto out;
		if (ts + SLACK_SECONDS < since)
			break;
		hi = lo - 1;
	}
	rc = 0;
out:
	BN_free(part);
	return rc;
}

/* SHKeeper's callback shape, from what the chain shows: what shk_apply reads. */
static json_object *report_of(const char *external_id, const char *crypto, const char *status, const char *total,
                              const struct found *f)
{
	json_object *o = json_object_new_object(), *txs = json_object_new_array();
	size_t newest = 0;

	for (size_t i = 1; i < f->listed; i++)
		if (f->block[i] >= f->block[newest])
			newest = i;
	for (size_t i = 0; i < f->listed; i++) {
		json_object *t = json_object_new_object();
		json_object_object_add(t, "txid", json_object_new_string(f->txid[i]));
		json_object_object_add(t, "crypto", json_object_new_string(crypto));
		json_object_object_add(t, "amount_crypto", json_object_new_string(f->amount[i]));
		json_object_object_add(t, "trigger", json_object_new_boolean(i == newest));
		json_object_array_add(txs, t);
	}
	json_object_object_add(o, "external_id", json_object_new_string(external_id));
	json_object_object_add(o, "crypto", json_object_new_string(crypto));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "balance_crypto", json_object_new_string(total));
	json_object_object_add(o, "transactions", txs);
	return o;
}

void shk_deposit_seen(struct db *db, const struct config *cfg, struct rpc_client *c, const PGresult *pay, int r,
                      uint64_t safe, const char *actor, const char *request_id, struct shk_applied *a)
{
	const char *id = PQgetvalue(pay, r, PCOL_ID);
	const char *p[1] = { id };
	struct found *f = calloc(1, sizeof(*f));
	const struct token_conf *tok = NULL;
	const char *llimit = NULL;
	BIGNUM *need = BN_new();
	PGresult *one = NULL;
	json_object *report = NULL;
	struct verify_expect x;
	struct rpc_error e;
	char msg[300], crypto[24], total[UNITS_DEC_BUFSZ], need_s[UNITS_DEC_BUFSZ], checked[300];

	assert(!db->in_tx);
	memset(a, 0, sizeof(*a));
	/* After this point, all errors should use goto out. */
	if (f == NULL || need == NULL || (f->sum = BN_new()) == NULL) {
		a->outcome = "received";
		a->retry_later = true;
		a->detail = "out of memory";
		goto out;
	}
	/* The row as it is now, alone: the threshold reads row 0. */
	if ((a->st = db_exec(db, &one, "SELECT " PAYMENT_COLUMNS ", p.crypto_name, extract(epoch FROM p.created_at)::bigint, "
	                               SHK_REPRICED_SQL " FROM payments p WHERE p.id = $1", 1, p)) != DB_OK)
		goto out;
	if (PQntuples(one) != 1) {
		a->outcome = "unknown_payment";
		goto out;
	}
	snprintf(a->payment, sizeof(a->payment), "%s", id);
	/* Re-priced, each transfer is worth what SHKeeper's rate at its arrival says, which only
	 * SHKeeper knows: its callback or the poll of its invoice decides, never the chain alone. */
	if (*PQgetvalue(one, 0, REPRICED_COL) == 't') {
		a->outcome = "ignored";
		a->detail = "the invoice was re-priced: left to SHKeeper's own word (its callback, or the poll)";
		goto out;
	}
	if (shk_payment_threshold(cfg, one, need, &tok, &llimit, msg, sizeof(msg)) != 0 ||
	    verify_expect_init(&x, cfg, tok->network, PQgetvalue(one, 0, PCOL_CONTRACT), PQgetvalue(one, 0, PCOL_RECEIVER),
	                       "0", NULL, msg, sizeof(msg)) != 0) {
		snprintf(a->note, sizeof(a->note), "%s", msg);
		a->outcome = "ignored";
		a->detail = a->note;
		goto out;
	}
	if (!PQgetisnull(one, 0, CRYPTO_COL))
		snprintf(crypto, sizeof(crypto), "%s", PQgetvalue(one, 0, CRYPTO_COL));
	else if (shk_crypto_name(tok->network, tok->symbol, crypto) != 0)
		snprintf(crypto, sizeof(crypto), "%s", tok->symbol);
	if (search(cfg, c, &x, tok->contract, PQgetvalue(one, 0, PCOL_RECEIVER), safe,
	           strtoull(PQgetvalue(one, 0, CREATED_COL), NULL, 10), (unsigned)tok->decimals, f, &e) != 0) {
		snprintf(a->note, sizeof(a->note), "the chain cannot be searched for the deposit's transfers: %.200s",
		         e.message);
		a->outcome = "received";
		a->retry_later = true;
		a->detail = a->note;
		goto out;
	}
	if (f->n == 0 || units_format(f->sum, (unsigned)tok->decimals, total, sizeof(total)) != UNITS_OK ||
	    units_format(need, (unsigned)tok->decimals, need_s, sizeof(need_s)) != UNITS_OK) {
		a->outcome = "ignored";
		a->detail = "no final transfer of the invoice's token to its deposit address";
		goto out;
	}
	bool paid = BN_cmp(f->sum, need) >= 0;
	snprintf(checked, sizeof(checked), "%zu final transfer(s) of %s to the deposit address total %s; SHKeeper's PAID"
	         " needs %s", f->n, tok->symbol, total, need_s);
	report = report_of(PQgetvalue(one, 0, PCOL_EXTERNAL_ID), crypto, paid ? "PAID" : "PARTIAL", total, f);
	struct shk_claim claim = {
		.report = report, .external_id = PQgetvalue(one, 0, PCOL_EXTERNAL_ID), .status = paid ? "PAID" : "PARTIAL",
		.source = "chain", .actor = actor, .how = "deposit address watched on chain:",
		.chain_checked = checked, .request_id = request_id,
	};
	shk_apply(db, cfg, &claim, a);
	/* A partial deposit is not checked by shk_apply: what the sum came to is the detail. */
	if (a->outcome && a->note[0] == '\0') {
		snprintf(a->note, sizeof(a->note), "%s", checked);
		a->detail = a->note;
	}
out:
	if (f)
		BN_free(f->sum);
	free(f);
	BN_free(need);
	json_object_put(report);
	PQclear(one);
}
