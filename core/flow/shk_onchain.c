#include "flow/shk_onchain.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "base/valid.h"
#include "evm/chain.h"
#include "evm/rpc.h"
#include "evm/units.h"
#include "pay/payment.h"

/* More than any invoice needs; a longer list is not SHKeeper's. */
#define MAX_TXS 32
/* confirm-transaction's search for the buyer's other transfers: getLogs windows, newest first. */
#define SUM_WINDOW 2000
#define SUM_MAX_BLOCKS 100000
#define SUM_SECONDS 15

/* "12.50" -> 1250 with scale 2; "7" -> 7 with scale 0. Returns 0, or -1 for anything else. */
static int decimal_bn(const char *s, BIGNUM *out, unsigned *scale)
{
	const char *dot = strchr(s, '.');

	*scale = dot ? (unsigned)strlen(dot + 1) : 0;
	if (*scale > UNITS_MAX_DECIMALS)
		return -1;
	return units_parse(s, *scale, out) == UNITS_OK ? 0 : -1;
}

static int mul_pow10(BIGNUM *x, unsigned k)
{
	while (k-- > 0)
		if (!BN_mul_word(x, 10))
			return -1;
	return 0;
}

int shk_paid_threshold(const char *price, const char *rate, const char *llimit, unsigned decimals, BIGNUM *out)
{
	BIGNUM *p = BN_new(), *r = BN_new(), *l = BN_new(), *rem = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	unsigned sp, sr, sl;
	int rc = -1;

	/* After this point, all errors should use goto out. */
	if (!p || !r || !l || !rem || !ctx || decimal_bn(price, p, &sp) != 0 || decimal_bn(rate, r, &sr) != 0 ||
	    decimal_bn(llimit, l, &sl) != 0 || BN_is_zero(r))
		goto out;
	/* price × llimit / 100 / rate in base units: (p·10^-sp)(l·10^-sl)/100 / (r·10^-sr) · 10^dec. */
	if (!BN_mul(p, p, l, ctx) || mul_pow10(p, sr + decimals) != 0 || !BN_mul_word(r, 100) ||
	    mul_pow10(r, sp + sl) != 0 || !BN_div(out, rem, p, r, ctx))
		goto out;
	/* Rounded up: a deposit one base unit short of the fiat threshold is PARTIAL for SHKeeper too. */
	if (!BN_is_zero(rem) && !BN_add_word(out, 1))
		goto out;
	rc = 0;
out:
	BN_free(p);
	BN_free(r);
	BN_free(l);
	BN_free(rem);
	BN_CTX_free(ctx);
	return rc;
}

int shk_payment_threshold(const struct config *cfg, const PGresult *pay, BIGNUM *out,
                          const struct token_conf **tok, char *msg, size_t msglen)
{
	const char *network = PQgetisnull(pay, 0, PCOL_NETWORK) ? NULL : PQgetvalue(pay, 0, PCOL_NETWORK);

	*tok = network ? config_token(cfg, network, PQgetvalue(pay, 0, PCOL_TOKEN)) : NULL;
	if (*tok == NULL) {
		snprintf(msg, msglen, "the payment's token is not configured here");
		return -1;
	}
	if (PQgetisnull(pay, 0, PCOL_RECEIVER) || PQgetisnull(pay, 0, PCOL_RATE) ||
	    shk_paid_threshold(PQgetvalue(pay, 0, PCOL_AMOUNT), PQgetvalue(pay, 0, PCOL_RATE), cfg->shkeeper_llimit,
	                       (unsigned)(*tok)->decimals, out) != 0) {
		snprintf(msg, msglen, "the payment has no invoice to check against");
		return -1;
	}
	return 0;
}

int shk_invoice_amount(const char *crypto_amount, unsigned decimals, char *out, size_t outlen)
{
	const char *dot = strchr(crypto_amount, '.');
	size_t len = strlen(crypto_amount);

	if (dot) {
		size_t keep = (size_t)(dot - crypto_amount) + (decimals ? 1 + decimals : 0);
		if (keep < len)
			len = keep;
	}
	if (len + 1 > outlen)
		return -1;
	memcpy(out, crypto_amount, len);
	out[len] = '\0';
	return 0;
}

/* A decimal amount in base units, cut to what the token holds. */
static int amount_units(const char *amount, unsigned decimals, BIGNUM *out)
{
	char text[96];

	if (shk_invoice_amount(amount, decimals, text, sizeof(text)) != 0)
		return -1;
	return units_parse(text, decimals, out) == UNITS_OK ? 0 : -1;
}

static bool listed_before(json_object *txs, size_t upto, const char *txid)
{
	for (size_t i = 0; i < upto; i++) {
		json_object *id;
		if (json_object_object_get_ex(json_object_array_get_idx(txs, i), "txid", &id) &&
		    json_object_is_type(id, json_type_string) && strcasecmp(json_object_get_string(id), txid) == 0)
			return true;
	}
	return false;
}

static const char *string_member(json_object *obj, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The i-th listed transaction's txid when it is one of the invoice's token, listed once; else NULL. */
static const char *own_txid(json_object *txs, size_t i, const char *crypto)
{
	json_object *t = json_object_array_get_idx(txs, i);
	const char *c = string_member(t, "crypto"), *txid = string_member(t, "txid");

	/* Stray deposits of another crypto are SHKeeper's to count, not ours. */
	if (c == NULL || strcmp(c, crypto) != 0 || txid == NULL || !valid_tx_hash(txid) || listed_before(txs, i, txid))
		return NULL;
	return txid;
}

static void describe_short(const BIGNUM *got, const BIGNUM *need, unsigned decimals, const PGresult *pay,
                           const struct config *cfg, const char *what, char *msg, size_t msglen)
{
	char got_s[UNITS_DEC_BUFSZ] = "?", need_s[UNITS_DEC_BUFSZ] = "?";

	units_format(got, decimals, got_s, sizeof(got_s));
	units_format(need, decimals, need_s, sizeof(need_s));
	snprintf(msg, msglen, "%s total %s %s; SHKeeper's PAID needs %s (%s %% of %s %s at %s)", what, got_s,
	         PQgetvalue(pay, 0, PCOL_TOKEN), need_s, cfg->shkeeper_llimit, PQgetvalue(pay, 0, PCOL_AMOUNT),
	         PQgetvalue(pay, 0, PCOL_CURRENCY), PQgetvalue(pay, 0, PCOL_RATE));
}

/*
 * With the chain check off: the callback's own figures must add up. Its fiat
 * balance reaches the price at llimit, and its transactions of the invoice's
 * token (at least one) reach the threshold in token units.
 */
static enum onchain check_figures(const struct config *cfg, json_object *cb, const PGresult *pay, const char *crypto,
                                  const BIGNUM *need, unsigned decimals, char *msg, size_t msglen)
{
	const char *balance = string_member(cb, "balance_fiat"), *cb_crypto = string_member(cb, "crypto");
	BIGNUM *bal = BN_new(), *price = BN_new(), *lim = BN_new(), *sum = BN_new(), *part = BN_new();
	enum onchain result = ONCHAIN_REFUTED;
	unsigned sb, sp, sl;
	json_object *txs;
	size_t own = 0;
	const char *pre = "not checked on chain (shkeeper_verify_on_chain = false), and the callback does not add up";

	/* After this point, all errors should use goto out. */
	if (!bal || !price || !lim || !sum || !part) {
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	if (cb_crypto == NULL || strcmp(cb_crypto, crypto) != 0) {
		snprintf(msg, msglen, "%s: it is about %s, the invoice is %s", pre, cb_crypto ? cb_crypto : "no crypto", crypto);
		goto out;
	}
	/* balance_fiat × 100 ≥ price × llimit, each at its own scale. */
	if (balance == NULL || decimal_bn(balance, bal, &sb) != 0 ||
	    decimal_bn(PQgetvalue(pay, 0, PCOL_AMOUNT), price, &sp) != 0 ||
	    decimal_bn(cfg->shkeeper_llimit, lim, &sl) != 0) {
		snprintf(msg, msglen, "%s: balance_fiat is missing or not a decimal", pre);
		goto out;
	}
	BN_CTX *ctx = BN_CTX_new();
	bool low = ctx == NULL || !BN_mul(price, price, lim, ctx) || !BN_mul_word(bal, 100) ||
	           mul_pow10(bal, sp + sl) != 0 || mul_pow10(price, sb) != 0 || BN_cmp(bal, price) < 0;
	BN_CTX_free(ctx);
	if (low) {
		snprintf(msg, msglen, "%s: balance_fiat %s %s is below %s %% of the price %s", pre, balance,
		         PQgetvalue(pay, 0, PCOL_CURRENCY), cfg->shkeeper_llimit, PQgetvalue(pay, 0, PCOL_AMOUNT));
		goto out;
	}
	if (!json_object_object_get_ex(cb, "transactions", &txs) || !json_object_is_type(txs, json_type_array) ||
	    json_object_array_length(txs) > MAX_TXS) {
		snprintf(msg, msglen, "%s: no transactions listed (or more than %d)", pre, MAX_TXS);
		goto out;
	}
	BN_zero(sum);
	for (size_t i = 0; i < json_object_array_length(txs); i++) {
		const char *amount;
		if (own_txid(txs, i, crypto) == NULL)
			continue;
		own++;
		amount = string_member(json_object_array_get_idx(txs, i), "amount_crypto");
		if (amount == NULL || amount_units(amount, decimals, part) != 0 || !BN_add(sum, sum, part)) {
			snprintf(msg, msglen, "%s: a %s transaction has no usable amount_crypto", pre, crypto);
			goto out;
		}
	}
	if (own == 0) {
		snprintf(msg, msglen, "%s: it lists no %s transaction", pre, crypto);
		goto out;
	}
	if (BN_cmp(sum, need) < 0) {
		char what[200];
		snprintf(what, sizeof(what), "%s: its %s transactions", pre, crypto);
		describe_short(sum, need, decimals, pay, cfg, what, msg, msglen);
		goto out;
	}
	snprintf(msg, msglen, "not checked on chain (shkeeper_verify_on_chain = false); the callback's %zu %s transaction(s) add up",
	         own, crypto);
	result = ONCHAIN_UNCHECKED;
out:
	BN_free(bal);
	BN_free(price);
	BN_free(lim);
	BN_free(sum);
	BN_free(part);
	return result;
}

enum onchain shk_check_on_chain(const struct config *cfg, json_object *callback, const PGresult *pay,
                                int crypto_col, char *msg, size_t msglen)
{
	const char *network = PQgetisnull(pay, 0, PCOL_NETWORK) ? NULL : PQgetvalue(pay, 0, PCOL_NETWORK);
	const struct network_conf *net = network ? config_network(cfg, network) : NULL;
	const struct token_conf *tok = NULL;
	const char *crypto = PQgetvalue(pay, 0, crypto_col);
	json_object *txs;
	BIGNUM *sum = BN_new(), *need = BN_new(), *part = BN_new();
	enum onchain result = ONCHAIN_REFUTED;
	bool not_final = false;
	size_t checked = 0;

	msg[0] = '\0';
	/* After this point, all errors should use goto out. */
	if (sum == NULL || need == NULL || part == NULL) {
		snprintf(msg, msglen, "out of memory");
		result = ONCHAIN_UNAVAILABLE;
		goto out;
	}
	if (shk_payment_threshold(cfg, pay, need, &tok, msg, msglen) != 0)
		goto out;
	if (!cfg->shkeeper_verify_on_chain) {
		result = check_figures(cfg, callback, pay, crypto, need, (unsigned)tok->decimals, msg, msglen);
		goto out;
	}
	/* Unchecked is not trusted: held (SHKeeper delivers again) until an RPC is configured. */
	if (net == NULL || net->n_rpc == 0) {
		snprintf(msg, msglen, "no rpc.%s to check it on: configure one (or set shkeeper_verify_on_chain = false)",
		         network ? network : "<none>");
		result = ONCHAIN_UNAVAILABLE;
		goto out;
	}
	if (!json_object_object_get_ex(callback, "transactions", &txs) || !json_object_is_type(txs, json_type_array) ||
	    json_object_array_length(txs) > MAX_TXS) {
		snprintf(msg, msglen, "the callback lists no transactions (or more than %d)", MAX_TXS);
		goto out;
	}
	BN_zero(sum);
	for (size_t i = 0; i < json_object_array_length(txs); i++) {
		const char *txid = own_txid(txs, i, crypto);
		struct verify_result vr;

		if (txid == NULL)
			continue;
		checked++;
		/* No minimum per transaction: SHKeeper's rule is on their sum. */
		switch (verify_payment_tx(cfg, network, PQgetvalue(pay, 0, PCOL_CONTRACT),
		                          PQgetvalue(pay, 0, PCOL_RECEIVER), "0", NULL, txid, &vr)) {
		case VERIFY_CONFIRMED:
			if (units_from_word(vr.amount, part) != UNITS_OK || !BN_add(sum, sum, part)) {
				snprintf(msg, msglen, "cannot add up the transfers");
				goto out;
			}
			break;
		case VERIFY_PENDING:
			not_final = true;
			snprintf(msg, msglen, "transaction %s: %s", txid, vr.message);
			break;
		case VERIFY_FAILED:
			snprintf(msg, msglen, "transaction %s does not pay the deposit address: %s", txid, vr.message);
			goto out;
		case VERIFY_ERROR:
			snprintf(msg, msglen, "the chain cannot be asked: %s", vr.message);
			result = ONCHAIN_UNAVAILABLE;
			goto out;
		}
	}
	if (checked == 0) {
		snprintf(msg, msglen, "the callback lists no %s transaction", crypto);
		goto out;
	}
	if (not_final) {
		result = ONCHAIN_NOT_FINAL;
		goto out;
	}
	if (BN_cmp(sum, need) < 0) {
		describe_short(sum, need, (unsigned)tok->decimals, pay, cfg, "the transfers to the deposit address", msg,
		               msglen);
		goto out;
	}
	snprintf(msg, msglen, "%zu transaction(s) confirmed on chain", checked);
	result = ONCHAIN_CONFIRMED;
out:
	BN_free(sum);
	BN_free(need);
	BN_free(part);
	return result;
}

/* The newest block a counted transfer may be in: the finalized one, else head - confirmations. */
static int safe_block(struct rpc_client *c, const struct network_conf *net, uint64_t *safe, struct rpc_error *e)
{
	uint64_t head;
	bool has_fin;

	if (rpc_finalized_block(c, safe, &has_fin, e) != RPC_OK)
		return -1;
	if (has_fin)
		return 0;
	if (rpc_block_number(c, &head, e) != RPC_OK)
		return -1;
	*safe = head >= (uint64_t)net->confirmations ? head - (uint64_t)net->confirmations : 0;
	return 0;
}

/*
 * Adds to sum the final transfers in `logs` that are the token's, from payer
 * to the deposit address, other than tx_hash's own (already counted). The
 * node was asked for exactly these; each is checked again, so a node that
 * ignores part of the filter cannot count someone else's transfer.
 */
static int add_logs(json_object *logs, const struct verify_expect *x, const uint8_t *payer, uint64_t safe,
                    const char *tx_hash, BIGNUM *sum, BIGNUM *part)
{
	for (size_t i = 0; i < json_object_array_length(logs); i++) {
		struct verify_log l;
		char hash[RPC_HASH_BUFSZ];
		uint64_t block;

		if (verify_parse_found_log(json_object_array_get_idx(logs, i), &l, hash, &block) != 1 || block > safe ||
		    !verify_same_address(l.token, x->token) || !verify_same_address(l.to, x->recipient) ||
		    !verify_same_address(l.from, payer) || strcasecmp(hash, tx_hash) == 0)
			continue;
		if (units_from_word(l.value, part) != UNITS_OK || !BN_add(sum, sum, part))
			return -1;
	}
	return 0;
}

enum onchain shk_confirm_total(const struct config *cfg, const PGresult *pay, const char *tx_hash,
                               const struct verify_result *vr, char *msg, size_t msglen, int *retry_after)
{
	const char *network = PQgetvalue(pay, 0, PCOL_NETWORK);
	const struct network_conf *net = config_network(cfg, network);
	const struct token_conf *tok;
	BIGNUM *sum = BN_new(), *need = BN_new(), *part = BN_new();
	enum onchain result = ONCHAIN_REFUTED;
	struct verify_expect x;
	struct rpc_client c;
	struct rpc_error e;
	char payer[43];
	uint64_t safe, scanned = 0;
	time_t deadline = time(NULL) + SUM_SECONDS;

	msg[0] = '\0';
	*retry_after = 0;
	/* After this point, all errors should use goto out. */
	if (sum == NULL || need == NULL || part == NULL || units_from_word(vr->amount, sum) != UNITS_OK) {
		snprintf(msg, msglen, "out of memory");
		result = ONCHAIN_UNAVAILABLE;
		goto out;
	}
	if (shk_payment_threshold(cfg, pay, need, &tok, msg, msglen) != 0)
		goto out;
	if (BN_cmp(sum, need) >= 0)
		goto enough;
	/* Short on its own: the buyer may have paid in parts. Their other final transfers count too. */
	if (!vr->has_payer || net == NULL ||
	    verify_expect_init(&x, cfg, network, PQgetvalue(pay, 0, PCOL_CONTRACT), PQgetvalue(pay, 0, PCOL_RECEIVER), "0",
	                       NULL, msg, msglen) != 0)
		goto short_of;
	snprintf(payer, sizeof(payer), "0x");
	for (int i = 0; i < VERIFY_ADDR_LEN; i++)
		snprintf(payer + 2 + 2 * i, 3, "%02x", vr->payer[i]);
	if (chain_ready(cfg, network, &e) != RPC_OK || rpc_client_init(&c, cfg, network, &e) != RPC_OK ||
	    safe_block(&c, net, &safe, &e) != 0)
		goto trouble;
	for (uint64_t hi = safe; scanned < SUM_MAX_BLOCKS && BN_cmp(sum, need) < 0;) {
		uint64_t lo = hi >= SUM_WINDOW - 1 ? hi - (SUM_WINDOW - 1) : 0;
		json_object *logs = NULL;
		struct rpc_log_filter f = { .contract = PQgetvalue(pay, 0, PCOL_CONTRACT), .from = payer,
		                            .to = PQgetvalue(pay, 0, PCOL_RECEIVER), .from_block = lo, .to_block = hi };
		if (time(NULL) > deadline) {
			snprintf(e.message, sizeof(e.message), "gave up after searching %" PRIu64 " blocks (time budget spent)",
			         scanned);
			e.retry_after = 1;
			goto trouble;
		}
		if (rpc_transfer_logs(&c, &f, &logs, &e) != RPC_OK)
			goto trouble;
		int rc = add_logs(logs, &x, vr->payer, safe, tx_hash, sum, part);
		json_object_put(logs);
		if (rc != 0) {
			snprintf(msg, msglen, "cannot add up the transfers");
			goto out;
		}
		scanned += hi - lo + 1;
		if (lo == 0)
			break;
		hi = lo - 1;
	}
	if (BN_cmp(sum, need) >= 0)
		goto enough;
short_of:
	describe_short(sum, need, (unsigned)tok->decimals, pay, cfg, "the buyer's final transfers to the deposit address",
	               msg, msglen);
	goto out;
trouble:
	snprintf(msg, msglen, "the chain cannot be searched for the buyer's other transfers: %s", e.message);
	*retry_after = e.retry_after > 0 ? e.retry_after : 5;
	result = ONCHAIN_UNAVAILABLE;
	goto out;
enough:
	snprintf(msg, msglen, "the buyer's transfers reach SHKeeper's PAID");
	result = ONCHAIN_CONFIRMED;
out:
	BN_free(sum);
	BN_free(need);
	BN_free(part);
	return result;
}

int shk_payment_uri(const struct config *cfg, const char *network, const char *token, const char *deposit,
                    const char *crypto_amount, char *out, size_t outlen)
{
	const struct token_conf *tok = config_token(cfg, network, token);
	const struct network_conf *net = config_network(cfg, network);
	BIGNUM *units = BN_new();
	char *dec = NULL;
	long long chain_id;
	int rc = -1;

	/* After this point, all errors should use goto out. */
	if (units == NULL || tok == NULL || net == NULL || !valid_address(deposit) ||
	    amount_units(crypto_amount, (unsigned)tok->decimals, units) != 0 || (dec = BN_bn2dec(units)) == NULL)
		goto out;
	/* The chain the wallet must be on: only one configured (and checked against the node at start-up). */
	if ((chain_id = net->chain_id) <= 0)
		goto out;
	if ((size_t)snprintf(out, outlen, "ethereum:%s@%lld/transfer?address=%s&uint256=%s", tok->contract, chain_id,
	                     deposit, dec) < outlen)
		rc = 0;
out:
	OPENSSL_free(dec);
	BN_free(units);
	return rc;
}

size_t shk_unverifiable_networks(const struct config *cfg, const char **out, size_t max)
{
	size_t n = 0;

	if (cfg->shkeeper_url[0] == '\0' || !cfg->shkeeper_verify_on_chain)
		return 0;
	for (size_t i = 0; i < cfg->n_networks; i++) {
		const struct network_conf *net = &cfg->networks[i];
		bool takes = false;
		for (size_t t = 0; t < cfg->n_tokens && !takes; t++)
			takes = strcmp(cfg->tokens[t].network, net->name) == 0;
		if (!takes || net->n_rpc > 0)
			continue;
		if (n < max)
			out[n] = net->name;
		n++;
	}
	return n;
}

/* What a person must be told about such a network, in the log and in /health alike. */
static void unverifiable_text(const char *net, char *out, size_t outlen)
{
	snprintf(out, outlen, "SHKeeper pay-ins on %s will never be funded: shkeeper_verify_on_chain is on and rpc.%s is"
	         " not set, so every PAID for %s is held (answered 503) until it is. Set rpc.%s and chain_id.%s"
	         " (or shkeeper_verify_on_chain = false, trusting SHKeeper's word)", net, net, net, net, net);
}

void shk_warn_unverifiable(const struct config *cfg)
{
	const char *nets[CONFIG_MAX_NETWORKS];
	size_t n = shk_unverifiable_networks(cfg, nets, CONFIG_MAX_NETWORKS);
	char text[400];

	for (size_t i = 0; i < n && i < CONFIG_MAX_NETWORKS; i++) {
		unverifiable_text(nets[i], text, sizeof(text));
		log_error("!!! %s !!!", text);
	}
	if (cfg->shkeeper_url[0] == '\0')
		return;
	for (size_t i = 0; i < cfg->n_networks; i++) {
		bool takes = false;
		for (size_t t = 0; t < cfg->n_tokens && !takes; t++)
			takes = strcmp(cfg->tokens[t].network, cfg->networks[i].name) == 0;
		if (takes && cfg->networks[i].chain_id <= 0)
			log_warn("SHKeeper pay-ins on %s get no payment link (paymentUrl is null): set chain_id.%s",
			         cfg->networks[i].name, cfg->networks[i].name);
	}
}

json_object *shk_status_json(const struct config *cfg, json_object *warnings)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	const char *nets[CONFIG_MAX_NETWORKS];
	size_t n = shk_unverifiable_networks(cfg, nets, CONFIG_MAX_NETWORKS);
	char text[400];

	for (size_t i = 0; i < n && i < CONFIG_MAX_NETWORKS; i++) {
		json_object_array_add(list, json_object_new_string(nets[i]));
		unverifiable_text(nets[i], text, sizeof(text));
		json_object_array_add(warnings, json_object_new_string(text));
	}
	json_object_object_add(o, "configured", json_object_new_boolean(cfg->shkeeper_url[0] != '\0'));
	json_object_object_add(o, "verifyOnChain", json_object_new_boolean(cfg->shkeeper_verify_on_chain));
	json_object_object_add(o, "llimit", json_object_new_string(cfg->shkeeper_llimit));
	json_object_object_add(o, "unverifiableNetworks", list);
	return o;
}
