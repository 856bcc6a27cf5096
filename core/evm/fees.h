/* fees: what a payout transaction offers for gas, as the network's settings
 * say (fee_model.<net>, max_gas_price_gwei.<net>, priority_fee_gwei.<net>).
 *
 * EIP-1559 networks: the tip is the configured priority fee, else the node's
 * eth_maxPriorityFeePerGas; the max fee is twice the latest base fee plus the
 * tip, lowered to the cap when above it. Legacy networks: the node's
 * eth_gasPrice. Either way a network that asks more than the cap (base fee
 * plus tip, or the gas price) is marked over_cap: the hot wallet then signs
 * nothing, and an admin's suggestion says so. The tip never exceeds the max
 * fee (a node refuses such a transaction). */
#ifndef FEES_H
#define FEES_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/bn.h>

#include "base/config.h"
#include "evm/rpc.h"

struct fee_quote {
	bool eip1559;
	uint8_t gas_price[32];       /* legacy */
	uint8_t max_fee[32];         /* type 2 */
	uint8_t max_priority[32];    /* type 2 */
	bool over_cap;
	char message[256];           /* over_cap: why */
};

int fee_quote(struct rpc_client *c, const struct network_conf *net, struct fee_quote *q,
    struct rpc_error *e);

/* The most a transaction with this quote and gas limit can cost, in wei. */
int fee_max_cost(const struct fee_quote *q, uint64_t gas_limit, BIGNUM *out);

/* A gas limit from a node's estimate: a quarter more, at least 21000. */
uint64_t fee_gas_limit(uint64_t estimate);

#endif
