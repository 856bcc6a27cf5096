#include "flow/shk_onchain.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>

#include "base/valid.h"
#include "evm/units.h"
#include "evm/verify.h"
#include "pay/payment.h"

/* More than any invoice needs; a longer list is not SHKeeper's. */
#define MAX_TXS 32

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

/* The invoice's amount in base units. */
static int required_units(const char *amount, unsigned decimals, BIGNUM *out)
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

enum onchain shk_check_on_chain(const struct config *cfg, json_object *callback, const PGresult *pay,
                                int crypto_col, char *msg, size_t msglen)
{
	const char *network = PQgetisnull(pay, 0, PCOL_NETWORK) ? NULL : PQgetvalue(pay, 0, PCOL_NETWORK);
	const struct network_conf *net = network ? config_network(cfg, network) : NULL;
	const struct token_conf *tok;
	const char *crypto = PQgetvalue(pay, 0, crypto_col);
	json_object *txs;
	BIGNUM *sum = BN_new(), *need = BN_new(), *part = BN_new();
	enum onchain result = ONCHAIN_REFUTED;
	bool not_final = false;
	size_t checked = 0;

	msg[0] = '\0';
	if (!cfg->shkeeper_verify_on_chain) {
		snprintf(msg, msglen, "not checked on chain (shkeeper_verify_on_chain = false)");
		result = ONCHAIN_UNCHECKED;
		goto out;
	}
	/* Unchecked is not trusted: held (SHKeeper delivers again) until an RPC is configured. */
	if (net == NULL || net->n_rpc == 0) {
		snprintf(msg, msglen, "no rpc.%s to check it on: configure one (or set shkeeper_verify_on_chain = false)",
		         network ? network : "<none>");
		result = ONCHAIN_UNAVAILABLE;
		goto out;
	}
	/* After this point, all errors should use goto out. */
	tok = config_token(cfg, network, PQgetvalue(pay, 0, PCOL_TOKEN));
	if (sum == NULL || need == NULL || part == NULL || tok == NULL || PQgetisnull(pay, 0, PCOL_RECEIVER) ||
	    PQgetisnull(pay, 0, PCOL_CRYPTO_AMOUNT) ||
	    required_units(PQgetvalue(pay, 0, PCOL_CRYPTO_AMOUNT), (unsigned)tok->decimals, need) != 0) {
		snprintf(msg, msglen, "the payment has no invoice to check against");
		goto out;
	}
	if (!json_object_object_get_ex(callback, "transactions", &txs) || !json_object_is_type(txs, json_type_array) ||
	    json_object_array_length(txs) > MAX_TXS) {
		snprintf(msg, msglen, "the callback lists no transactions (or more than %d)", MAX_TXS);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(txs); i++) {
		json_object *t = json_object_array_get_idx(txs, i), *id, *c;
		struct verify_result vr;
		const char *txid;

		/* Stray deposits of another crypto are SHKeeper's to count, not ours. */
		if (!json_object_object_get_ex(t, "crypto", &c) || !json_object_is_type(c, json_type_string) ||
		    strcmp(json_object_get_string(c), crypto) != 0 ||
		    !json_object_object_get_ex(t, "txid", &id) || !json_object_is_type(id, json_type_string) ||
		    !valid_tx_hash(txid = json_object_get_string(id)) ||
		    listed_before(txs, i, txid))
			continue;
		checked++;
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
	/* SHKeeper calls an invoice PAID from 95 % of its amount: sum * 100 >= need * 95. */
	BIGNUM *lhs = BN_new(), *rhs = BN_new();
	bool enough = lhs && rhs && BN_copy(lhs, sum) && BN_copy(rhs, need) && BN_mul_word(lhs, 100) &&
	              BN_mul_word(rhs, 95) && BN_cmp(lhs, rhs) >= 0;
	BN_free(lhs);
	BN_free(rhs);
	if (!enough) {
		char got[96] = "?", want[96] = "?";
		units_format(sum, (unsigned)tok->decimals, got, sizeof(got));
		units_format(need, (unsigned)tok->decimals, want, sizeof(want));
		snprintf(msg, msglen, "the transfers to the deposit address total %s %s; the invoice asks %s",
		         got, PQgetvalue(pay, 0, PCOL_TOKEN), want);
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
