/* rpc: JSON-RPC 2.0 over HTTP to an EVM node (BSC, Ethereum).
 *
 * A client is one configured network: its URLs are tried in order until one
 * answers, every call has the configured connect and total timeouts, and the
 * network's circuit breaker (shared by the pool) is asked before and told
 * after. A JSON-RPC error from a node is an answer, not an outage: it comes
 * back with the node's code and does not trip the breaker. The node's own
 * text is logged and kept in `detail`, never in `message`: messages reach API
 * clients, and a node's text can name its software, paths or internal hosts.
 *
 * Quantities arrive as hex strings and are read with units_*: nothing here
 * goes through a double. Messages never contain an RPC URL (they often carry
 * an API key): URLs are named by network and position, "rpc.bsc #2". */
#ifndef RPC_H
#define RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/bn.h>

#include "base/breaker.h"
#include "base/config.h"

#define RPC_MSG_MAX 256
#define RPC_DETAIL_MAX 512
/* "0x" + 64 hex + NUL: a transaction hash as nodes write it. */
#define RPC_HASH_BUFSZ 67
/*
 * Answers are bounded; getLogs windows are kept small enough to fit. A
 * receipt is as large as its transaction makes it: 4 MiB holds several
 * thousand logs (an exchange's batch withdrawal) and is still a bounded parse
 * per worker. A larger one is a bad answer, never an outage (see rpc_call).
 */
#define RPC_MAX_ANSWER (1u << 20)
#define RPC_MAX_RECEIPT_ANSWER (4u << 20)
#define RPC_MAX_LOGS_ANSWER (8u << 20)

enum rpc_err {
	RPC_OK = 0,
	RPC_ENOCONF,      /* the network is unknown or has no RPC URL */
	RPC_EUNAVAILABLE, /* every URL failed to answer, or the breaker is open */
	RPC_EREMOTE,      /* the node answered with a JSON-RPC error: code and message */
	RPC_EBADANSWER,   /* the answer is not JSON-RPC 2.0, or a result has the wrong shape */
};

struct rpc_error {
	enum rpc_err kind;
	long long code;               /* RPC_EREMOTE: the node's error code */
	char message[RPC_MSG_MAX];    /* for a person, client-safe; names the method */
	char detail[RPC_DETAIL_MAX];  /* RPC_EREMOTE: the node's own text, for logs only */
	int retry_after;              /* RPC_EUNAVAILABLE: seconds until worth retrying */
};

/* Plain data on the caller's stack; borrows cfg, which must outlive it. */
struct rpc_client {
	const struct network_conf *net;
	enum upstream upstream;
	int connect_timeout_ms;
	int timeout_ms;
	long long next_id;
};

const char *rpc_strerror(enum rpc_err e);

/* RPC_ENOCONF (with e filled) when the network is not configured with URLs. */
int rpc_client_init(struct rpc_client *c, const struct config *cfg, const char *network,
    struct rpc_error *e);

/* Reads one JSON-RPC answer (pure: no I/O). On RPC_OK *result is the
 * caller's (json_object_put), and may be NULL for a JSON null result. An
 * answer whose id is not `id`, or that has both or neither of result and
 * error, is RPC_EBADANSWER. An error is RPC_EREMOTE with the node's code, a
 * generic message and the node's text in detail. */
int rpc_parse_answer(const char *body, size_t len, long long id, json_object **result,
    struct rpc_error *e);

/* One call. params is taken over (an array; NULL for []). *result as above. */
int rpc_call(struct rpc_client *c, const char *method, json_object *params, size_t max_answer,
    json_object **result, struct rpc_error *e);

/* A hex quantity result ("0x1a") as uint64 / BIGNUM; RPC_EBADANSWER if malformed. */
int rpc_result_u64(json_object *result, const char *what, uint64_t *out, struct rpc_error *e);

int rpc_chain_id(struct rpc_client *c, uint64_t *out, struct rpc_error *e);
int rpc_block_number(struct rpc_client *c, uint64_t *out, struct rpc_error *e);
/* The node's `finalized` block. *found is false when the node has none (null,
 * or an error for an unknown tag, as older nodes answer): callers then count
 * depth below head instead. */
int rpc_finalized_block(struct rpc_client *c, uint64_t *out, bool *found, struct rpc_error *e);
/* The newest final block: the node's finalized one, else head less the
 * network's confirmations (0 while the chain is not that deep). */
int rpc_safe_block(struct rpc_client *c, uint64_t *out, struct rpc_error *e);
/* The timestamp (unix seconds) of block `number`; RPC_EBADANSWER for a block the node does not have. */
int rpc_block_timestamp(struct rpc_client *c, uint64_t number, uint64_t *out, struct rpc_error *e);
/* *out is the caller's, NULL while the node does not know the transaction
 * (unknown, or not mined for the receipt). Answers up to RPC_MAX_RECEIPT_ANSWER. */
int rpc_get_receipt(struct rpc_client *c, const char *tx_hash, json_object **out,
    struct rpc_error *e);
int rpc_get_transaction(struct rpc_client *c, const char *tx_hash, json_object **out,
    struct rpc_error *e);
/* eth_getTransactionCount(address, block): block is "latest", "pending" or a number in hex. */
int rpc_tx_count(struct rpc_client *c, const char *address, const char *block, uint64_t *out,
    struct rpc_error *e);
int rpc_gas_price(struct rpc_client *c, BIGNUM *out, struct rpc_error *e);
/* eth_estimateGas({from, to, data}); a revert comes back as RPC_EREMOTE (code 3). */
int rpc_estimate_gas(struct rpc_client *c, const char *from, const char *to,
    const uint8_t *data, size_t len, uint64_t *out, struct rpc_error *e);
/* Broadcasts raw; hash gets the hash the node reports. */
int rpc_send_raw(struct rpc_client *c, const uint8_t *raw, size_t len,
    char hash[RPC_HASH_BUFSZ], struct rpc_error *e);
/* eth_call({to, data}, "latest"); *out (hex string, caller frees) is the return data. */
int rpc_eth_call(struct rpc_client *c, const char *to, const uint8_t *data, size_t len,
    char **out, struct rpc_error *e);
/* decimals() of an ERC-20 contract; RPC_EBADANSWER when it has no such function. */
int rpc_token_decimals(struct rpc_client *c, const char *contract, unsigned *out,
    struct rpc_error *e);

/* eth_getBalance(address, block) in wei; block is "latest" or "pending". */
int rpc_balance(struct rpc_client *c, const char *address, const char *block, BIGNUM *out,
    struct rpc_error *e);
/* balanceOf(owner) of an ERC-20 contract at block ("latest" or "pending"), in base units. */
int rpc_token_balance(struct rpc_client *c, const char *contract, const char *owner,
    const char *block, BIGNUM *out, struct rpc_error *e);
/* The latest block's baseFeePerGas; *found is false on a chain without one (pre-London). */
int rpc_base_fee(struct rpc_client *c, BIGNUM *out, bool *found, struct rpc_error *e);
/* eth_maxPriorityFeePerGas: the node's suggested tip; RPC_EREMOTE where the node has none. */
int rpc_max_priority_fee(struct rpc_client *c, BIGNUM *out, struct rpc_error *e);

/* ERC-20 Transfer logs of one contract in [from_block, to_block], to `to`
 * (and from `from` when not NULL). *out is the caller's array of log objects. */
#define RPC_MAX_LOG_RECIPIENTS 100
struct rpc_log_filter {
	const char *contract;
	const char *from;   /* may be NULL: any sender */
	const char *to;     /* may be NULL: to_any, else any recipient (then from is required) */
	uint64_t from_block, to_block;
	/* With to NULL: to any of these (topics[2] as a list), 1 to RPC_MAX_LOG_RECIPIENTS of them. */
	const char *const *to_any;
	size_t n_to_any;
};
int rpc_transfer_logs(struct rpc_client *c, const struct rpc_log_filter *f, json_object **out,
    struct rpc_error *e);
/* The eth_getLogs params for f (pure, for tests): RPC_OK, or RPC_EBADANSWER for a malformed or unbounded filter. */
int rpc_transfer_log_params(const struct rpc_log_filter *f, json_object **params, struct rpc_error *e);

#endif
