#include "flow/shk_onchain.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "base/valid.h"
#include "base/xalloc.h"
#include "evm/chain.h"
#include "evm/rpc.h"
#include "evm/units.h"
#include "pay/payment.h"
#include "shkeeper/shkeeper.h"

/* More than any invoice needs; a longer list is not SHKeeper's. */
#define MAX_TXS 32
/* confirm-transaction's search for the buyer's other transfers: getLogs windows, newest first. */
#define SUM_WINDOW 2000
#define SUM_SECONDS 10
/* Distinct transfers from one buyer to one deposit address: more is not a buyer paying an invoice. */
#define SUM_MAX_TRANSFERS 256

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
                          const struct token_conf **tok, const char **llimit, char *msg, size_t msglen)
{
	const char *network = PQgetisnull(pay, 0, PCOL_NETWORK) ? NULL : PQgetvalue(pay, 0, PCOL_NETWORK);
	char crypto[24];

	*tok = network ? config_token(cfg, network, PQgetvalue(pay, 0, PCOL_TOKEN)) : NULL;
	if (*tok == NULL) {
		snprintf(msg, msglen, "the payment's token is not configured here");
		return -1;
	}
	/* SHKeeper keeps llimit per crypto (wallet): the one this invoice is in. */
	*llimit = config_shkeeper_llimit(cfg, shk_crypto_name(network, PQgetvalue(pay, 0, PCOL_TOKEN), crypto) == 0
	                                      ? crypto : NULL);
	if (PQgetisnull(pay, 0, PCOL_RECEIVER) || PQgetisnull(pay, 0, PCOL_RATE) ||
	    shk_paid_threshold(PQgetvalue(pay, 0, PCOL_AMOUNT), PQgetvalue(pay, 0, PCOL_RATE), *llimit,
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

int shk_worth_init(struct shk_worth *w, bool repriced, unsigned decimals, const BIGNUM *need, const char *price,
                   const char *llimit)
{
	*w = (struct shk_worth){ .repriced = repriced, .decimals = decimals, .need = need, .price = price,
	                         .llimit = llimit, .units = BN_new(), .num = BN_new(), .den = BN_new() };
	if (w->units == NULL || w->num == NULL || w->den == NULL || !BN_one(w->den)) {
		shk_worth_free(w);
		return -1;
	}
	BN_zero(w->units);
	BN_zero(w->num);
	return 0;
}

void shk_worth_free(struct shk_worth *w)
{
	BN_free(w->units);
	BN_free(w->num);
	BN_free(w->den);
	w->units = w->num = w->den = NULL;
}

int shk_worth_add(struct shk_worth *w, json_object *entry, const BIGNUM *amount)
{
	BIGNUM *af = NULL, *ac = NULL, *tn = NULL;
	BN_CTX *ctx = NULL;
	const char *fiat, *crypto;
	unsigned saf, sac;
	int rc = -1;

	if (!BN_add(w->units, w->units, amount))
		return -1;
	w->counted++;
	if (!w->repriced)
		return 0;
	fiat = string_member(entry, "amount_fiat");
	crypto = string_member(entry, "amount_crypto");
	/* After this point, all errors should use goto out. */
	if ((af = BN_new()) == NULL || (ac = BN_new()) == NULL || (tn = BN_new()) == NULL || (ctx = BN_CTX_new()) == NULL ||
	    fiat == NULL || crypto == NULL || decimal_bn(fiat, af, &saf) != 0 || decimal_bn(crypto, ac, &sac) != 0 ||
	    BN_is_zero(ac))
		goto out;
	/*
	 * amount / 10^dec tokens at (af / 10^saf) / (ac / 10^sac) fiat each:
	 * amount · af · 10^sac / (10^dec · ac · 10^saf), added to num / den.
	 */
	if (!BN_mul(tn, amount, af, ctx) || mul_pow10(tn, sac) != 0 || mul_pow10(ac, w->decimals + saf) != 0 ||
	    !BN_mul(w->num, w->num, ac, ctx) || !BN_mul(tn, tn, w->den, ctx) || !BN_add(w->num, w->num, tn) ||
	    !BN_mul(w->den, w->den, ac, ctx))
		goto out;
	rc = 0;
out:
	BN_free(af);
	BN_free(ac);
	BN_free(tn);
	BN_CTX_free(ctx);
	return rc;
}

/* price × llimit / 100 as an integer at scale *scale; 0, or -1. */
static int fiat_needed(const struct shk_worth *w, BIGNUM *out, unsigned *scale, BN_CTX *ctx)
{
	BIGNUM *l = BN_new();
	unsigned sp, sl;
	int rc = -1;

	if (l && decimal_bn(w->price, out, &sp) == 0 && decimal_bn(w->llimit, l, &sl) == 0 && BN_mul(out, out, l, ctx)) {
		*scale = sp + sl + 2;
		rc = 0;
	}
	BN_free(l);
	return rc;
}

bool shk_worth_reaches(const struct shk_worth *w)
{
	BIGNUM *need = NULL, *have = NULL;
	BN_CTX *ctx = NULL;
	unsigned scale;
	bool yes = false;

	if (!w->repriced)
		return BN_cmp(w->units, w->need) >= 0;
	/* num / den ≥ need / 10^scale  ⇔  num · 10^scale ≥ need · den. */
	if ((need = BN_new()) != NULL && (have = BN_dup(w->num)) != NULL && (ctx = BN_CTX_new()) != NULL &&
	    fiat_needed(w, need, &scale, ctx) == 0 && mul_pow10(have, scale) == 0 && BN_mul(need, need, w->den, ctx))
		yes = BN_cmp(have, need) >= 0;
	BN_free(need);
	BN_free(have);
	BN_CTX_free(ctx);
	return yes;
}

/* num / den cut to `places` decimals, as text. */
static void fraction_text(const BIGNUM *num, const BIGNUM *den, unsigned places, char *out, size_t outlen)
{
	BIGNUM *q = BN_new(), *r = BN_new(), *n = BN_dup(num);
	BN_CTX *ctx = BN_CTX_new();

	snprintf(out, outlen, "?");
	if (q && r && n && ctx && mul_pow10(n, places) == 0 && BN_div(q, r, n, den, ctx))
		units_format(q, places, out, outlen);
	BN_free(q);
	BN_free(r);
	BN_free(n);
	BN_CTX_free(ctx);
}

void shk_worth_describe(const struct shk_worth *w, const char *what, const char *token, const char *fiat,
                        const char *rate, char *msg, size_t msglen)
{
	char got_s[UNITS_DEC_BUFSZ] = "?", need_s[UNITS_DEC_BUFSZ] = "?", worth_s[UNITS_DEC_BUFSZ];
	BIGNUM *need = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	unsigned scale;

	units_format(w->units, w->decimals, got_s, sizeof(got_s));
	if (!w->repriced) {
		units_format(w->need, w->decimals, need_s, sizeof(need_s));
		snprintf(msg, msglen, "%s total %s %s; SHKeeper's PAID needs %s (%s %% of %s %s at %s)", what, got_s, token,
		         need_s, w->llimit, w->price, fiat, rate);
	} else {
		fraction_text(w->num, w->den, 6, worth_s, sizeof(worth_s));
		if (need && ctx && fiat_needed(w, need, &scale, ctx) == 0)
			units_format(need, scale, need_s, sizeof(need_s));
		snprintf(msg, msglen, "%s total %s %s, worth %s %s at the rates SHKeeper re-priced the invoice at;"
		         " SHKeeper's PAID needs %s %s (%s %% of %s %s)", what, got_s, token, worth_s, fiat, need_s, fiat,
		         w->llimit, w->price, fiat);
	}
	BN_free(need);
	BN_CTX_free(ctx);
}

/*
 * With the chain check off: the callback's own figures must add up. Its fiat
 * balance reaches the price at llimit, and its transactions of the invoice's
 * token (at least one) are worth that much by themselves. w is set up and
 * empty; their worth is added to it here.
 */
static enum onchain check_figures(json_object *cb, const PGresult *pay, const char *crypto, struct shk_worth *w,
                                  char tx_hash[67], char *msg, size_t msglen)
{
	const char *balance = string_member(cb, "balance_fiat"), *cb_crypto = string_member(cb, "crypto");
	BIGNUM *bal = BN_new(), *price = BN_new(), *lim = BN_new(), *part = BN_new();
	enum onchain result = ONCHAIN_REFUTED;
	unsigned sb, sp, sl;
	json_object *txs;
	const char *pre = "not checked on chain (shkeeper_verify_on_chain = false), and the callback does not add up";

	/* After this point, all errors should use goto out. */
	if (!bal || !price || !lim || !part) {
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
	    decimal_bn(w->llimit, lim, &sl) != 0) {
		snprintf(msg, msglen, "%s: balance_fiat is missing or not a decimal", pre);
		goto out;
	}
	BN_CTX *ctx = BN_CTX_new();
	bool low = ctx == NULL || !BN_mul(price, price, lim, ctx) || !BN_mul_word(bal, 100) ||
	           mul_pow10(bal, sp + sl) != 0 || mul_pow10(price, sb) != 0 || BN_cmp(bal, price) < 0;
	BN_CTX_free(ctx);
	if (low) {
		snprintf(msg, msglen, "%s: balance_fiat %s %s is below %s %% of the price %s", pre, balance,
		         PQgetvalue(pay, 0, PCOL_CURRENCY), w->llimit, PQgetvalue(pay, 0, PCOL_AMOUNT));
		goto out;
	}
	if (!json_object_object_get_ex(cb, "transactions", &txs) || !json_object_is_type(txs, json_type_array) ||
	    json_object_array_length(txs) > MAX_TXS) {
		snprintf(msg, msglen, "%s: no transactions listed (or more than %d)", pre, MAX_TXS);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(txs); i++) {
		json_object *t = json_object_array_get_idx(txs, i);
		const char *amount;
		if (own_txid(txs, i, crypto) == NULL)
			continue;
		amount = string_member(t, "amount_crypto");
		if (amount == NULL || amount_units(amount, w->decimals, part) != 0 || shk_worth_add(w, t, part) != 0) {
			snprintf(msg, msglen, "%s: a %s transaction has no usable amount_crypto%s", pre, crypto,
			         w->repriced ? " or amount_fiat" : "");
			goto out;
		}
	}
	if (w->counted == 0) {
		snprintf(msg, msglen, "%s: it lists no %s transaction", pre, crypto);
		goto out;
	}
	if (!shk_worth_reaches(w)) {
		char what[200];
		snprintf(what, sizeof(what), "%s: its %s transactions", pre, crypto);
		shk_worth_describe(w, what, PQgetvalue(pay, 0, PCOL_TOKEN), PQgetvalue(pay, 0, PCOL_CURRENCY),
		                   PQgetvalue(pay, 0, PCOL_RATE), msg, msglen);
		goto out;
	}
	snprintf(msg, msglen, "not checked on chain (shkeeper_verify_on_chain = false); the callback's %zu %s transaction(s) add up",
	         w->counted, crypto);
	shk_own_txid(cb, crypto, tx_hash);
	result = ONCHAIN_UNCHECKED;
out:
	BN_free(bal);
	BN_free(price);
	BN_free(lim);
	BN_free(part);
	return result;
}

static bool is_trigger(json_object *entry)
{
	json_object *v;

	return json_object_object_get_ex(entry, "trigger", &v) && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

enum onchain shk_check_on_chain(const struct config *cfg, json_object *callback, const PGresult *pay, int col,
                                time_t deadline, char tx_hash[67], char *msg, size_t msglen)
{
	const char *network = PQgetisnull(pay, 0, PCOL_NETWORK) ? NULL : PQgetvalue(pay, 0, PCOL_NETWORK);
	const struct network_conf *net = network ? config_network(cfg, network) : NULL;
	const struct token_conf *tok = NULL;
	const char *crypto, *llimit = NULL;
	json_object *txs;
	BIGNUM *need = BN_new(), *part = BN_new();
	struct shk_worth w = { 0 };
	enum onchain result = ONCHAIN_REFUTED;
	const char *pending = NULL;
	char pending_msg[sizeof(((struct verify_result *)0)->message)] = "", newest[67] = "";
	bool trigger_ok = false, out_of_time = false;
	size_t listed = 0;

	msg[0] = '\0';
	tx_hash[0] = '\0';
	/* After this point, all errors should use goto out. */
	if (PQnfields(pay) < col + 2) {
		/* A caller that does not say whether SHKeeper re-priced would be judged at a stale rate. */
		snprintf(msg, msglen, "internal: the payment row lacks SHK_CHECK_COLUMNS");
		result = ONCHAIN_UNAVAILABLE;
		goto out;
	}
	crypto = PQgetvalue(pay, 0, col);
	if (need == NULL || part == NULL) {
		snprintf(msg, msglen, "out of memory");
		result = ONCHAIN_UNAVAILABLE;
		goto out;
	}
	if (shk_payment_threshold(cfg, pay, need, &tok, &llimit, msg, msglen) != 0)
		goto out;
	if (shk_worth_init(&w, strcmp(PQgetvalue(pay, 0, col + 1), "t") == 0, (unsigned)tok->decimals, need,
	                   PQgetvalue(pay, 0, PCOL_AMOUNT), llimit) != 0) {
		snprintf(msg, msglen, "out of memory");
		result = ONCHAIN_UNAVAILABLE;
		goto out;
	}
	if (!cfg->shkeeper_verify_on_chain) {
		result = check_figures(callback, pay, crypto, &w, tx_hash, msg, msglen);
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
	for (size_t i = 0; i < json_object_array_length(txs); i++) {
		json_object *t = json_object_array_get_idx(txs, i);
		const char *txid = own_txid(txs, i, crypto);
		struct verify_result vr;

		if (txid == NULL)
			continue;
		listed++;
		/* Up to 32 receipts, one after another, in a worker SHKeeper waits on for 30 s at most. */
		if (time(NULL) > deadline) {
			out_of_time = true;
			continue;
		}
		/* No minimum per transaction: SHKeeper's rule is on their sum. */
		switch (verify_payment_tx(cfg, network, PQgetvalue(pay, 0, PCOL_CONTRACT),
		                          PQgetvalue(pay, 0, PCOL_RECEIVER), "0", NULL, txid, &vr)) {
		case VERIFY_CONFIRMED:
			if (units_from_word(vr.amount, part) != UNITS_OK || shk_worth_add(&w, t, part) != 0) {
				snprintf(msg, msglen, "cannot add up the transfers: transaction %s has no usable amounts", txid);
				goto out;
			}
			/* The hash recorded is one the chain confirmed: the trigger's, else the newest. */
			if (!trigger_ok)
				snprintf(newest, sizeof(newest), "%s", txid);
			trigger_ok = trigger_ok || is_trigger(t);
			break;
		case VERIFY_PENDING:
			/* Only matters if the final ones fall short: a dropped transaction never becomes final. */
			pending = txid;
			snprintf(pending_msg, sizeof(pending_msg), "%s", vr.message);
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
	if (listed == 0) {
		snprintf(msg, msglen, "the callback lists no %s transaction", crypto);
		goto out;
	}
	if (shk_worth_reaches(&w)) {
		snprintf(msg, msglen, "%zu of %zu transaction(s) confirmed on chain reach SHKeeper's PAID", w.counted, listed);
		snprintf(tx_hash, 67, "%s", newest);
		result = ONCHAIN_CONFIRMED;
	} else if (out_of_time) {
		snprintf(msg, msglen, "out of time after checking %zu of %zu transaction(s) on chain", w.counted, listed);
		result = ONCHAIN_UNAVAILABLE;
	} else if (pending) {
		snprintf(msg, msglen, "transaction %s: %s", pending, pending_msg);
		result = ONCHAIN_NOT_FINAL;
	} else {
		shk_worth_describe(&w, "the transfers to the deposit address", PQgetvalue(pay, 0, PCOL_TOKEN),
		                   PQgetvalue(pay, 0, PCOL_CURRENCY), PQgetvalue(pay, 0, PCOL_RATE), msg, msglen);
	}
out:
	shk_worth_free(&w);
	BN_free(need);
	BN_free(part);
	return result;
}

/* The newest block a counted transfer may be in: the finalized one, else head - confirmations. */
static int safe_block(struct rpc_client *c, const struct network_conf *net, uint64_t head, uint64_t *safe,
                      struct rpc_error *e)
{
	bool has_fin;

	if (rpc_finalized_block(c, safe, &has_fin, e) != RPC_OK)
		return -1;
	if (!has_fin)
		*safe = head >= (uint64_t)net->confirmations ? head - (uint64_t)net->confirmations : 0;
	return 0;
}

/* A transfer already counted: (transaction, log index), each as the node spelled it. */
struct seen {
	char (*keys)[RPC_HASH_BUFSZ + 20];
	size_t n;
};

/* Adds the key; false when it was there already (or there is no room: not counted twice either way). */
static bool first_sight(struct seen *s, const char *hash, const char *log_index)
{
	char key[RPC_HASH_BUFSZ + 20];

	snprintf(key, sizeof(key), "%s/%s", hash, log_index);
	for (size_t i = 0; i < s->n; i++)
		if (strcasecmp(s->keys[i], key) == 0)
			return false;
	if (s->n == SUM_MAX_TRANSFERS)
		return false;
	memcpy(s->keys[s->n++], key, sizeof(key));
	return true;
}

/*
 * Adds the transfers in `logs` that are the token's, from payer to the
 * deposit address, other than tx_hash's own (already counted): final ones
 * (block ≤ safe) to sum, newer ones to later. Each counts once, whatever
 * the node repeats. The node was asked for exactly these; each is checked
 * again, so a node that ignores part of the filter cannot count someone
 * else's transfer.
 */
static int add_logs(json_object *logs, const struct verify_expect *x, const uint8_t *payer, uint64_t safe,
                    const char *tx_hash, struct seen *seen, BIGNUM *sum, BIGNUM *later, BIGNUM *part)
{
	for (size_t i = 0; i < json_object_array_length(logs); i++) {
		json_object *log = json_object_array_get_idx(logs, i);
		const char *index = string_member(log, "logIndex");
		struct verify_log l;
		char hash[RPC_HASH_BUFSZ];
		uint64_t block;

		if (verify_parse_found_log(log, &l, hash, &block) != 1 || index == NULL || strlen(index) > 18 ||
		    !verify_same_address(l.token, x->token) || !verify_same_address(l.to, x->recipient) ||
		    !verify_same_address(l.from, payer) || strcasecmp(hash, tx_hash) == 0 || !first_sight(seen, hash, index))
			continue;
		if (units_from_word(l.value, part) != UNITS_OK || !BN_add(block > safe ? later : sum, block > safe ? later : sum, part))
			return -1;
	}
	return 0;
}

int shk_first_block(const struct config *cfg, const char *network, uint64_t *out)
{
	const struct network_conf *net = config_network(cfg, network);
	struct rpc_client c;
	struct rpc_error e;
	uint64_t head;

	if (net == NULL || chain_ready(cfg, network, &e) != RPC_OK || rpc_client_init(&c, cfg, network, &e) != RPC_OK ||
	    rpc_block_number(&c, &head, &e) != RPC_OK)
		return -1;
	/* A reorganisation may put a transfer sent after this read below today's head: not below this. */
	*out = head >= (uint64_t)net->confirmations ? head - (uint64_t)net->confirmations : 0;
	return 0;
}

enum onchain shk_confirm_total(const struct config *cfg, const PGresult *pay, int64_t from_block, const char *tx_hash,
                               const struct verify_result *vr, char *msg, size_t msglen, int *retry_after)
{
	const char *network = PQgetvalue(pay, 0, PCOL_NETWORK), *llimit;
	const struct network_conf *net = config_network(cfg, network);
	const struct token_conf *tok;
	BIGNUM *sum = BN_new(), *later = BN_new(), *need = BN_new(), *part = BN_new();
	enum onchain result = ONCHAIN_REFUTED;
	struct verify_expect x;
	struct rpc_client c;
	struct rpc_error e;
	struct seen seen = { xcalloc(SUM_MAX_TRANSFERS, sizeof(*seen.keys)), 0 };
	struct shk_worth w = { 0 };
	char payer[43];
	uint64_t head, safe, first, scanned = 0;
	time_t deadline = time(NULL) + SUM_SECONDS;
	bool bounded = from_block >= 0;

	msg[0] = '\0';
	*retry_after = 0;
	/* After this point, all errors should use goto out. */
	if (sum == NULL || later == NULL || need == NULL || part == NULL || units_from_word(vr->amount, sum) != UNITS_OK) {
		snprintf(msg, msglen, "out of memory");
		result = ONCHAIN_UNAVAILABLE;
		goto out;
	}
	BN_zero(later);
	/* What this service cannot judge as configured is not the buyer's shortfall. */
	if (shk_payment_threshold(cfg, pay, need, &tok, &llimit, msg, msglen) != 0) {
		result = ONCHAIN_NOT_VERIFIABLE;
		goto out;
	}
	if (BN_cmp(sum, need) >= 0)
		goto enough;
	/* Short on its own: the buyer may have paid in parts. Their other final transfers count too. */
	if (!vr->has_payer)
		goto short_of;
	if (net == NULL || verify_expect_init(&x, cfg, network, PQgetvalue(pay, 0, PCOL_CONTRACT),
	                                      PQgetvalue(pay, 0, PCOL_RECEIVER), "0", NULL, msg, msglen) != 0) {
		result = ONCHAIN_NOT_VERIFIABLE;
		goto out;
	}
	snprintf(payer, sizeof(payer), "0x");
	for (int i = 0; i < VERIFY_ADDR_LEN; i++)
		snprintf(payer + 2 + 2 * i, 3, "%02x", vr->payer[i]);
	if (chain_ready(cfg, network, &e) != RPC_OK || rpc_client_init(&c, cfg, network, &e) != RPC_OK ||
	    rpc_block_number(&c, &head, &e) != RPC_OK || safe_block(&c, net, head, &safe, &e) != 0)
		goto trouble;
	/* From the pay-in's first block; an older pay-in that has none, as far back as the fallback goes. */
	if (!bounded && head <= SHK_SUM_FALLBACK_BLOCKS)
		bounded = true;   /* that is the whole chain */
	first = from_block >= 0 ? (uint64_t)from_block : bounded ? 0 : head - SHK_SUM_FALLBACK_BLOCKS;
	for (uint64_t hi = head; hi >= first && BN_cmp(sum, need) < 0;) {
		uint64_t lo = hi - first >= SUM_WINDOW - 1 ? hi - (SUM_WINDOW - 1) : first;
		json_object *logs = NULL;
		struct rpc_log_filter f = { .contract = PQgetvalue(pay, 0, PCOL_CONTRACT), .from = payer,
		                            .to = PQgetvalue(pay, 0, PCOL_RECEIVER), .from_block = lo, .to_block = hi };
		if (time(NULL) > deadline) {
			/* Cut off is not short: the rest may be in the blocks not searched yet. */
			snprintf(e.message, sizeof(e.message), "out of time after searching %" PRIu64 " of %" PRIu64 " blocks",
			         scanned, head - first + 1);
			e.kind = RPC_EUNAVAILABLE;
			e.retry_after = 5;
			goto trouble;
		}
		if (rpc_transfer_logs(&c, &f, &logs, &e) != RPC_OK)
			goto trouble;
		int rc = add_logs(logs, &x, vr->payer, safe, tx_hash, &seen, sum, later, part);
		json_object_put(logs);
		if (rc != 0) {
			snprintf(msg, msglen, "cannot add up the transfers");
			result = ONCHAIN_UNAVAILABLE;
			goto out;
		}
		scanned += hi - lo + 1;
		if (lo == first)
			break;
		hi = lo - 1;
	}
	if (BN_cmp(sum, need) >= 0)
		goto enough;
	if (!BN_add(part, sum, later))
		goto short_of;
	if (BN_cmp(part, need) >= 0) {
		snprintf(msg, msglen, "the buyer's transfers reach SHKeeper's PAID once those not final yet are; try again"
		         " in a few blocks");
		*retry_after = 15;
		result = ONCHAIN_NOT_FINAL;
		goto out;
	}
	if (!bounded) {
		snprintf(msg, msglen, "this payment's first block is not known, and its buyer's transfers in the last %d blocks"
		         " fall short: SHKeeper's own PAID (its callback) completes it", SHK_SUM_FALLBACK_BLOCKS);
		result = ONCHAIN_NOT_VERIFIABLE;
		goto out;
	}
short_of:
	snprintf(msg, msglen, "the buyer's final transfers to the deposit address fall short of SHKeeper's PAID");
	if (shk_worth_init(&w, false, (unsigned)tok->decimals, need, PQgetvalue(pay, 0, PCOL_AMOUNT), llimit) == 0 &&
	    shk_worth_add(&w, NULL, sum) == 0)
		shk_worth_describe(&w, "the buyer's final transfers to the deposit address", PQgetvalue(pay, 0, PCOL_TOKEN),
		                   PQgetvalue(pay, 0, PCOL_CURRENCY), PQgetvalue(pay, 0, PCOL_RATE), msg, msglen);
	goto out;
trouble:
	snprintf(msg, msglen, "the chain cannot be searched for the buyer's other transfers: %s", e.message);
	if (e.kind == RPC_ENOCONF) {
		result = ONCHAIN_NOT_VERIFIABLE;
		goto out;
	}
	*retry_after = e.retry_after > 0 ? e.retry_after : 5;
	result = ONCHAIN_UNAVAILABLE;
	goto out;
enough:
	snprintf(msg, msglen, "the buyer's transfers reach SHKeeper's PAID");
	result = ONCHAIN_CONFIRMED;
out:
	shk_worth_free(&w);
	free(seen.keys);
	BN_free(sum);
	BN_free(later);
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

/* Is `crypto` the SHKeeper name of a configured token? */
static bool crypto_taken(const struct config *cfg, const char *crypto)
{
	char name[24];

	for (size_t t = 0; t < cfg->n_tokens; t++)
		if (shk_crypto_name(cfg->tokens[t].network, cfg->tokens[t].symbol, name) == 0 && strcmp(name, crypto) == 0)
			return true;
	return false;
}

static void unused_llimit_text(const char *crypto, char *out, size_t outlen)
{
	snprintf(out, outlen, "shkeeper_llimit.%s is set, but no configured token is paid in %s through SHKeeper: check"
	         " the crypto's name (BNB-USDT, ETH-USDC, …)", crypto, crypto);
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
	for (size_t i = 0; i < cfg->n_shkeeper_llimits; i++)
		if (!crypto_taken(cfg, cfg->shkeeper_llimits[i].crypto)) {
			unused_llimit_text(cfg->shkeeper_llimits[i].crypto, text, sizeof(text));
			log_error("%s", text);
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
	json_object *by = json_object_new_object();
	for (size_t i = 0; i < cfg->n_shkeeper_llimits; i++) {
		json_object_object_add(by, cfg->shkeeper_llimits[i].crypto,
		                       json_object_new_string(cfg->shkeeper_llimits[i].llimit));
		if (cfg->shkeeper_url[0] && !crypto_taken(cfg, cfg->shkeeper_llimits[i].crypto)) {
			unused_llimit_text(cfg->shkeeper_llimits[i].crypto, text, sizeof(text));
			json_object_array_add(warnings, json_object_new_string(text));
		}
	}
	json_object_object_add(o, "configured", json_object_new_boolean(cfg->shkeeper_url[0] != '\0'));
	json_object_object_add(o, "verifyOnChain", json_object_new_boolean(cfg->shkeeper_verify_on_chain));
	json_object_object_add(o, "llimit", json_object_new_string(cfg->shkeeper_llimit));
	json_object_object_add(o, "llimitByCrypto", by);
	json_object_object_add(o, "unverifiableNetworks", list);
	return o;
}
