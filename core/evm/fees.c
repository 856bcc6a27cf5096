#include "evm/fees.h"

#include <stdio.h>
#include <string.h>

#include "evm/units.h"

static int set_word(const BIGNUM *v, uint8_t out[32], struct rpc_error *e)
{
	if (units_to_word(v, out) != UNITS_OK) {
		e->kind = RPC_EBADANSWER;
		snprintf(e->message, sizeof(e->message), "a fee does not fit 256 bits");
		return RPC_EBADANSWER;
	}
	return RPC_OK;
}

static void gwei(const BIGNUM *wei, char *out, size_t cap)
{
	if (units_format(wei, 9, out, cap) != UNITS_OK)
		snprintf(out, cap, "?");
}

static int quote_legacy(struct rpc_client *c, const BIGNUM *cap, struct fee_quote *q, BIGNUM *price,
    struct rpc_error *e)
{
	int rc = rpc_gas_price(c, price, e);

	if (rc != RPC_OK)
		return rc;
	if (BN_cmp(price, cap) > 0) {
		char a[40], b[40];
		gwei(price, a, sizeof(a));
		gwei(cap, b, sizeof(b));
		q->over_cap = true;
		snprintf(q->message, sizeof(q->message), "the network's gas price is %s gwei, above the cap of %s gwei", a, b);
	}
	return set_word(price, q->gas_price, e);
}

static int quote_1559(struct rpc_client *c, const struct network_conf *net, const BIGNUM *cap,
    struct fee_quote *q, BIGNUM *base, BIGNUM *tip, BIGNUM *max, struct rpc_error *e)
{
	bool found;
	int rc = rpc_base_fee(c, base, &found, e);

	if (rc != RPC_OK)
		return rc;
	if (!found) {
		e->kind = RPC_EBADANSWER;
		snprintf(e->message, sizeof(e->message),
		         "the %s node reports no base fee: set fee_model.%s = legacy", net->name, net->name);
		return RPC_EBADANSWER;
	}
	if (net->priority_fee_wei > 0) {
		if (!BN_set_word(tip, net->priority_fee_wei))
			return RPC_EBADANSWER;
	} else if ((rc = rpc_max_priority_fee(c, tip, e)) == RPC_EREMOTE) {
		/* A node without the method: a tip of 1 gwei. */
		if (!BN_set_word(tip, 1000000000ULL))
			return RPC_EBADANSWER;
	} else if (rc != RPC_OK) {
		return rc;
	}
	/* max = 2 * base + tip, lowered to the cap; the tip never above max. */
	if (!BN_lshift1(max, base) || !BN_add(max, max, tip))
		return RPC_EBADANSWER;
	if (BN_cmp(max, cap) > 0 && !BN_copy(max, cap))
		return RPC_EBADANSWER;
	if (BN_cmp(tip, max) > 0 && !BN_copy(tip, max))
		return RPC_EBADANSWER;
	BIGNUM *need = BN_new();
	if (need == NULL || !BN_add(need, base, tip)) {
		BN_free(need);
		return RPC_EBADANSWER;
	}
	if (BN_cmp(need, cap) > 0) {
		char a[40], b[40];
		gwei(need, a, sizeof(a));
		gwei(cap, b, sizeof(b));
		q->over_cap = true;
		snprintf(q->message, sizeof(q->message), "the network's base fee and tip are %s gwei, above the cap of %s gwei",
		         a, b);
	}
	BN_free(need);
	if ((rc = set_word(max, q->max_fee, e)) != RPC_OK)
		return rc;
	return set_word(tip, q->max_priority, e);
}

int fee_quote(struct rpc_client *c, const struct network_conf *net, struct fee_quote *q,
    struct rpc_error *e)
{
	BIGNUM *cap = BN_new(), *a = BN_new(), *b = BN_new(), *d = BN_new();
	int rc = RPC_EBADANSWER;

	memset(q, 0, sizeof(*q));
	q->eip1559 = net->eip1559;
	if (cap == NULL || a == NULL || b == NULL || d == NULL || !BN_set_word(cap, net->max_gas_price_wei)) {
		e->kind = RPC_EBADANSWER;
		snprintf(e->message, sizeof(e->message), "out of memory");
		goto out;
	}
	rc = net->eip1559 ? quote_1559(c, net, cap, q, a, b, d, e) : quote_legacy(c, cap, q, a, e);
out:
	BN_free(cap);
	BN_free(a);
	BN_free(b);
	BN_free(d);
	return rc;
}

int fee_max_cost(const struct fee_quote *q, uint64_t gas_limit, BIGNUM *out)
{
	BIGNUM *g = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	int rc = -1;

	if (g && ctx && BN_set_word(g, gas_limit) &&
	    units_from_word(q->eip1559 ? q->max_fee : q->gas_price, out) == UNITS_OK && BN_mul(out, out, g, ctx))
		rc = 0;
	BN_free(g);
	BN_CTX_free(ctx);
	return rc;
}

uint64_t fee_gas_limit(uint64_t estimate)
{
	uint64_t limit = estimate + estimate / 4;

	return limit < 21000 ? 21000 : limit;
}
