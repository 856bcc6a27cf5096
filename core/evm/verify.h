/* verify: does a transaction hash pay what we expect, deep enough to count?
 *
 * A claim about the chain (from a buyer, an admin or a provider) counts only
 * when the receipt succeeded, ERC-20 Transfer logs from the configured token
 * contract go to the expected recipient (from the expected sender, when one is
 * known), their values add up to at least the expected amount, and the block
 * is final: at or below the node's `finalized` block where it reports one,
 * else at least `confirmations` blocks below head. A revert is final only in
 * a final block too: until then a reorganisation may still replace it.
 *
 * The decision (verify_decide) is pure, over a parsed receipt and a view of
 * the chain's head; verify_tx does the RPC calls around it. */
#ifndef VERIFY_H
#define VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "base/config.h"
#include "evm/rpc.h"

#define VERIFY_ADDR_LEN 20
#define VERIFY_WORD_LEN 32
/* Two 20-byte addresses (public values, compared plainly). */
static inline bool verify_same_address(const uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < VERIFY_ADDR_LEN; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* A receipt with more Transfer logs than this is refused rather than summed.
 * Other events do not count: a payment inside an exchange's batch withdrawal,
 * among hundreds of other events, must still verify. */
#define VERIFY_MAX_LOGS 512

struct verify_expect {
	char network[16];
	uint64_t chain_id;
	uint8_t token[VERIFY_ADDR_LEN];
	uint8_t recipient[VERIFY_ADDR_LEN];
	bool has_sender;
	uint8_t sender[VERIFY_ADDR_LEN];
	uint8_t min_amount[VERIFY_WORD_LEN];    /* base units, big-endian uint256 */
	unsigned decimals;                      /* of the token, for messages */
	uint64_t confirmations;                 /* depth when there is no finalized block */
	bool exact;                             /* a payout: exactly min_amount, not at least */
};

enum verify_verdict {
	VERIFY_CONFIRMED,
	VERIFY_PENDING,     /* unknown, unmined, or not deep enough yet */
	VERIFY_FAILED,      /* the transaction does not pay this expectation */
	VERIFY_ERROR,       /* the chain could not be asked: see rpc */
};

enum verify_reason {
	VR_OK,
	VR_NOT_FOUND,        /* pending: the node does not know the hash */
	VR_NOT_MINED,        /* pending: known, not in a block yet */
	VR_NOT_DEEP,         /* pending: mined, not final yet */
	VR_REVERTED,         /* failed; pending while its block is not final */
	VR_NO_TRANSFER,      /* no Transfer log at all */
	VR_WRONG_TOKEN,      /* Transfer logs, none from the configured token contract */
	VR_WRONG_RECIPIENT,  /* token transfers, none to the expected recipient */
	VR_WRONG_SENDER,     /* to the recipient, but not from the buyer's wallet */
	VR_AMOUNT_SHORT,     /* less than expected in total */
	VR_WRONG_CHAIN,      /* the node serves another chain than the payment's */
	VR_RPC,              /* VERIFY_ERROR */
	VR_AMOUNT_OVER,      /* more than expected, where exactly that is expected (a payout) */
};

struct verify_result {
	enum verify_verdict verdict;
	enum verify_reason reason;
	bool final;                  /* FAILED for good: the payment may be marked failed */
	bool mined;
	uint64_t block_number;
	uint64_t head;
	bool has_finalized;
	uint64_t finalized;
	uint64_t confirmations;      /* head - block: blocks on top of the transaction's */
	uint64_t required;           /* depth needed when there is no finalized block */
	uint8_t amount[VERIFY_WORD_LEN];    /* sum of the matching transfers */
	bool has_payer;
	uint8_t payer[VERIFY_ADDR_LEN];     /* `from` of the first matching transfer: whose money it is */
	char message[RPC_MSG_MAX + 64];
	struct rpc_error rpc;        /* VERIFY_ERROR */
};

/* One Transfer-shaped log of a receipt, already decoded. */
struct verify_log {
	uint8_t token[VERIFY_ADDR_LEN];
	uint8_t from[VERIFY_ADDR_LEN];
	uint8_t to[VERIFY_ADDR_LEN];
	uint8_t value[VERIFY_WORD_LEN];
};

/* What the decision needs of a receipt. */
struct verify_receipt {
	char tx_hash[RPC_HASH_BUFSZ];    /* the transaction the node answered about */
	bool success;
	uint64_t block_number;
	bool has_from;
	uint8_t from[VERIFY_ADDR_LEN];   /* who sent the transaction */
	bool has_to;
	uint8_t to[VERIFY_ADDR_LEN];     /* the called contract */
	size_t n_logs;                   /* Transfer logs, removed ones left out */
	struct verify_log logs[VERIFY_MAX_LOGS];
};

/* Reads an eth_getTransactionReceipt result. Logs that are not ERC-20
 * Transfers are skipped; a malformed field is an error. Returns 0 or -1 with
 * a message in err. */
int verify_parse_receipt(json_object *receipt, struct verify_receipt *out, char *err,
    size_t errlen);

/* Reads one entry of an eth_getLogs answer: the Transfer it carries (decoded
 * as in receipts), its transaction hash and block number. Returns 1 for a
 * Transfer to consider, 0 to skip it: removed by a reorganisation, another
 * event, or any field missing or of the wrong JSON type (a node's null never
 * reaches a decoder). */
int verify_parse_found_log(json_object *log, struct verify_log *out, char tx_hash[RPC_HASH_BUFSZ],
    uint64_t *block);

/* The decision, given the receipt and the chain's head (and finalized block,
 * when has_finalized). Fills out (verdict, reason, final, depth, amount). */
void verify_decide(const struct verify_expect *x, const struct verify_receipt *r, uint64_t head,
    bool has_finalized, uint64_t finalized, struct verify_result *out);

/* Builds an expectation from a payment's columns: network, token contract
 * (must be a configured token of that network), recipient, amount as decimal
 * text in token units, and the sender's address or NULL. Returns 0, or -1 with
 * a message in err. */
int verify_expect_init(struct verify_expect *x, const struct config *cfg, const char *network,
    const char *token_contract, const char *recipient, const char *amount,
    const char *sender, char *err, size_t errlen);

/* Asks the chain about tx_hash and decides. Always fills out; returns its verdict. */
enum verify_verdict verify_tx(struct rpc_client *c, const struct verify_expect *x,
    const char *tx_hash, struct verify_result *out);

/*
 * For other providers' confirm paths (SHKeeper's confirm-transaction): checks
 * the network is usable (chain_ready), builds the expectation and verifies.
 * A configuration or expectation problem comes back as VERIFY_ERROR with
 * rpc.kind RPC_ENOCONF. The caller applies the outcome with coord_apply.
 */
enum verify_verdict verify_payment_tx(const struct config *cfg, const char *network,
    const char *token_contract, const char *recipient, const char *amount, const char *sender,
    const char *tx_hash, struct verify_result *out);

const char *verify_verdict_name(enum verify_verdict v);    /* confirmed, pending, failed, error */
const char *verify_reason_name(enum verify_reason r);      /* not_found, reverted, … */
/* {"status", "reason", "message", "blockNumber", "confirmations", …}; caller owns it. */
json_object *verify_result_json(const struct verify_result *r, unsigned decimals);

#endif
