/* The chain watcher: each network with an RPC is read block window by block
 * window, in final blocks only, for Transfer logs of the configured tokens
 * to the escrow wallet and to the deposit addresses of SHKeeper pay-ins.
 * A transfer to the escrow is offered to the open wallet-direct pay-ins of
 * the wallet it came from (flow/chainpay), so a pay-in completes even when
 * its buyer never comes back with the hash; a deposit address that received
 * one has its pay-in judged by SHKeeper's own rule on everything the address
 * received (flow/shk_deposit), so a lost callback loses nothing. A window's
 * cursor moves only after every transfer in it was applied; a failure leaves
 * it to be read again, which changes nothing twice (the coordinator and the
 * unique hash see to that). A node that refuses a range gets smaller ones. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <libpq-fe.h>

#include "base/hex.h"
#include "base/log.h"
#include "evm/rpc.h"
#include "evm/units.h"
#include "evm/verify.h"
#include "flow/chainpay.h"
#include "flow/shk_deposit.h"
#include "jobs/jobs.h"

/* A run reads at most this many windows per network, then yields to the other jobs. */
#define WATCH_WINDOWS_PER_RUN 20
/* Deposit addresses asked about in one eth_getLogs (topics[2] as a list). */
#define WATCH_ADDRESSES_PER_CALL 50

/* The window each network's node accepts now; 0 until first used. */
static uint64_t window_of[CONFIG_MAX_NETWORKS];

/* The newest block whose logs can no longer be undone: finalized, else head - depth. */
static int final_block(struct rpc_client *c, uint64_t *head, uint64_t *safe, struct rpc_error *e)
{
	bool has_fin;

	if (rpc_block_number(c, head, e) != RPC_OK || rpc_finalized_block(c, safe, &has_fin, e) != RPC_OK)
		return -1;
	if (!has_fin)
		*safe = *head > (uint64_t)c->net->confirmations ? *head - (uint64_t)c->net->confirmations : 0;
	return 0;
}

static int load_cursor(struct db *db, const char *network, uint64_t *last, bool *found)
{
	const char *p[1] = { network };
	PGresult *r = NULL;

	if (db_exec(db, &r, "SELECT last_block FROM chain_cursors WHERE network = $1", 1, p) != DB_OK)
		return -1;
	*found = PQntuples(r) == 1;
	if (*found)
		*last = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

static int save_cursor(struct db *db, const char *network, uint64_t last, uint64_t safe, uint64_t head)
{
	char l[24], s[24], h[24];
	const char *p[4] = { network, l, s, h };

	snprintf(l, sizeof(l), "%llu", (unsigned long long)last);
	snprintf(s, sizeof(s), "%llu", (unsigned long long)safe);
	snprintf(h, sizeof(h), "%llu", (unsigned long long)head);
	return db_exec(db, NULL,
	               "INSERT INTO chain_cursors (network, last_block, safe_block, head_block)"
	               " VALUES ($1, $2::bigint, $3::bigint, $4::bigint) ON CONFLICT (network) DO UPDATE"
	               " SET last_block = greatest(chain_cursors.last_block, EXCLUDED.last_block),"
	               " safe_block = EXCLUDED.safe_block, head_block = EXCLUDED.head_block, updated_at = now()",
	               4, p) == DB_OK ? 0 : -1;
}

/* Applies the transfers of one token in [from, to]. 0 when each is settled, -1 to read the window again. */
static int scan_token(struct job_ctx *ctx, struct rpc_client *c, const char *network,
                      const struct token_conf *tok, uint64_t from, uint64_t to, struct job_result *res,
                      bool *refused)
{
	struct rpc_log_filter f = { tok->contract, NULL, ctx->cfg->escrow_address, from, to };
	struct rpc_error e;
	json_object *logs = NULL;
	int rc = 0;

	if (rpc_transfer_logs(c, &f, &logs, &e) != RPC_OK) {
		*refused = e.kind == RPC_EREMOTE;
		log_warn("watch %s: eth_getLogs %llu-%llu of %s: %s", network, (unsigned long long)from,
		         (unsigned long long)to, tok->symbol, e.message);
		res->errors++;
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(logs) && rc == 0; i++) {
		struct verify_log lg;
		struct chainpay_outcome out;
		char hash[RPC_HASH_BUFSZ], sender[43], amount[96] = "0";
		uint64_t block;
		BIGNUM *v;

		if (verify_parse_found_log(json_object_array_get_idx(logs, i), &lg, hash, &block) != 1)
			continue;   /* removed by a reorganisation, or not a Transfer */
		hex_encode_0x(lg.from, sizeof(lg.from), sender, sizeof(sender));
		if ((v = BN_new()) == NULL || units_from_word(lg.value, v) != 0 ||
		    units_format(v, (unsigned)tok->decimals, amount, sizeof(amount)) != 0)
			snprintf(amount, sizeof(amount), "0");
		BN_free(v);
		chainpay_apply_transfer(ctx->db, ctx->cfg, network, tok->contract, sender, amount, hash,
		                        ctx->actor, ctx->tag, &out);
		res->seen++;
		switch (out.kind) {
		case CHAINPAY_CONFIRMED:
			res->changed++;
			log_info("watch %s: %s from %s completes a pay-in", network, hash, sender);
			break;
		case CHAINPAY_NOT_FOUND:
		case CHAINPAY_TX_USED:
		case CHAINPAY_FAILED:
		case CHAINPAY_CONFLICT:
		case CHAINPAY_NOT_VERIFIABLE:
			break;      /* settled: nothing waits for it, or it pays what it already pays */
		default:
			res->errors++;
			rc = -1;    /* the chain or the database failed: read this window again */
		}
		PQclear(out.row);
	}
	json_object_put(logs);
	return rc;
}

/*
 * The deposits in [from, to] to the watched addresses of one token (rows of
 * shk_deposit_watched); each pay-in that received one is judged once, on
 * every final transfer its address received. 0 when each is settled, -1 to
 * read the window again.
 */
static int scan_deposits(struct job_ctx *ctx, struct rpc_client *c, const char *network,
                         const struct token_conf *tok, const PGresult *watched, uint64_t from, uint64_t to,
                         uint64_t safe, struct job_result *res, bool *refused)
{
	int n = PQntuples(watched), rc = 0;
	bool *hit = n > 0 ? calloc((size_t)n, sizeof(*hit)) : NULL;

	if (n == 0)
		return 0;
	if (hit == NULL) {
		res->errors++;
		return -1;
	}
	for (int start = 0; start < n && rc == 0; start += WATCH_ADDRESSES_PER_CALL) {
		const char *addrs[WATCH_ADDRESSES_PER_CALL];
		size_t k = 0;
		json_object *logs = NULL;
		struct rpc_error e;

		for (int i = start; i < n && k < WATCH_ADDRESSES_PER_CALL; i++)
			addrs[k++] = PQgetvalue(watched, i, SHK_DEPOSIT_ADDR);
		struct rpc_log_filter f = { .contract = tok->contract, .from_block = from, .to_block = to,
		                            .to_any = addrs, .n_to_any = k };
		if (rpc_transfer_logs(c, &f, &logs, &e) != RPC_OK) {
			*refused = e.kind == RPC_EREMOTE;
			log_warn("watch %s: eth_getLogs %llu-%llu of %s to %zu deposit addresses: %s", network,
			         (unsigned long long)from, (unsigned long long)to, tok->symbol, k, e.message);
			res->errors++;
			rc = -1;
			break;
		}
		for (size_t l = 0; l < json_object_array_length(logs); l++) {
			struct verify_log lg;
			char hash[RPC_HASH_BUFSZ], to_addr[43];
			uint64_t block;

			if (verify_parse_found_log(json_object_array_get_idx(logs, l), &lg, hash, &block) != 1)
				continue;   /* removed by a reorganisation, or not a Transfer */
			hex_encode_0x(lg.to, sizeof(lg.to), to_addr, sizeof(to_addr));
			for (size_t i = 0; i < k; i++)
				if (strcmp(addrs[i], to_addr) == 0)
					hit[start + (int)i] = true;
		}
		json_object_put(logs);
	}
	for (int i = 0; i < n && rc == 0; i++) {
		struct shk_applied a;

		if (!hit[i])
			continue;
		/* Stopping now leaves the window to be read again: nothing is skipped. */
		if (!jobs_continue(ctx)) {
			rc = -1;
			break;
		}
		shk_deposit_seen(ctx->db, ctx->cfg, c, watched, i, safe, ctx->actor, ctx->tag, &a);
		res->seen++;
		if (a.outcome == NULL || a.retry_later) {
			log_warn("watch %s: deposit to %s (payment %s) left for the next run: %s", network,
			         PQgetvalue(watched, i, SHK_DEPOSIT_ADDR), PQgetvalue(watched, i, PCOL_ID),
			         a.outcome == NULL ? "database error" : a.detail);
			res->errors++;
			rc = -1;
			break;
		}
		if (strcmp(a.outcome, "applied") == 0)
			res->changed++;
		log_info("watch %s: deposit to %s (payment %s): %s%s%s", network, PQgetvalue(watched, i, SHK_DEPOSIT_ADDR),
		         PQgetvalue(watched, i, PCOL_ID), a.outcome, a.detail ? ": " : "", a.detail ? a.detail : "");
	}
	free(hit);
	return rc;
}

static void watch_network(struct job_ctx *ctx, const struct network_conf *net, size_t idx,
                          struct job_result *res)
{
	PGresult *watched[CONFIG_MAX_TOKENS] = { NULL };
	struct rpc_client c;
	struct rpc_error e;
	uint64_t head, safe, last = 0;
	bool found;
	const uint64_t max_window = (uint64_t)ctx->cfg->jobs.watch_window_blocks;

	if (rpc_client_init(&c, ctx->cfg, net->name, &e) != RPC_OK)
		return;
	if (final_block(&c, &head, &safe, &e) != 0) {
		log_warn("watch %s: %s", net->name, e.message);
		res->errors++;
		return;
	}
	if (load_cursor(ctx->db, net->name, &last, &found) != 0) {
		res->errors++;
		return;
	}
	/* After this point, all errors should use goto out. */
	for (size_t t = 0; t < ctx->cfg->n_tokens; t++)
		if (strcmp(ctx->cfg->tokens[t].network, net->name) == 0 &&
		    shk_deposit_watched(ctx->db, net->name, ctx->cfg->tokens[t].symbol, &watched[t]) != DB_OK) {
			res->errors++;
			goto out;
		}
	/* A first run starts one window back: older transfers are the buyers' to claim. */
	if (!found)
		last = safe > max_window ? safe - max_window : 0;
	if (window_of[idx] == 0 || window_of[idx] > max_window)
		window_of[idx] = max_window;
	for (int w = 0; w < WATCH_WINDOWS_PER_RUN && last < safe && jobs_continue(ctx); w++) {
		uint64_t from = last + 1, to = from + window_of[idx] - 1;
		bool refused = false;
		int rc = 0;

		if (to > safe)
			to = safe;
		for (size_t t = 0; t < ctx->cfg->n_tokens && rc == 0; t++) {
			if (strcmp(ctx->cfg->tokens[t].network, net->name) != 0)
				continue;
			rc = scan_token(ctx, &c, net->name, &ctx->cfg->tokens[t], from, to, res, &refused);
			if (rc == 0)
				rc = scan_deposits(ctx, &c, net->name, &ctx->cfg->tokens[t], watched[t], from, to, safe, res,
				                   &refused);
		}
		if (rc != 0) {
			if (refused && window_of[idx] > 1)
				window_of[idx] /= 2;
			break;
		}
		last = to;
		if (window_of[idx] < max_window)
			window_of[idx] = window_of[idx] * 2 > max_window ? max_window : window_of[idx] * 2;
	}
	if (save_cursor(ctx->db, net->name, last, safe, head) != 0)
		res->errors++;
	res->backlog += (long)(safe > last ? (safe - last + window_of[idx] - 1) / window_of[idx] : 0);
out:
	for (size_t t = 0; t < CONFIG_MAX_TOKENS; t++)
		PQclear(watched[t]);
}

int jobs_watch(struct job_ctx *ctx, struct job_result *res)
{
	for (size_t i = 0; i < ctx->cfg->n_networks && jobs_continue(ctx); i++)
		if (ctx->cfg->networks[i].n_rpc > 0)
			watch_network(ctx, &ctx->cfg->networks[i], i, res);
	return 0;
}
