/* ethtx: signing EVM transactions (EIP-155 legacy and EIP-1559 type 2) with
 * libsecp256k1, deriving addresses, and recovering the signer of a signed raw
 * transaction.
 *
 * Keys: a private key is 32 bytes the caller owns. Nothing here copies, keeps
 * or logs it; the caller wipes it with OPENSSL_cleanse when done. */
#ifndef ETHTX_H
#define ETHTX_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>

#include "evm/rlp.h"

#define ETHTX_KEY_LEN 32
#define ETHTX_ADDR_LEN 20
#define ETHTX_HASH_LEN 32
#define ETHTX_WORD_LEN 32
/* Nodes refuse transactions above 128 KiB; our calldata is 68 bytes. */
#define ETHTX_MAX_DATA (64 * 1024)
#define ETHTX_MAX_RAW (128 * 1024)

enum ethtx_err {
	ETHTX_OK = 0,
	ETHTX_ENOMEM = -1,
	ETHTX_EINVAL = -2,      /* bad argument: key out of range, v overflow, data too long */
	ETHTX_EMALFORMED = -3,  /* raw transaction is not a well-formed tx of its type */
	ETHTX_ESIG = -4,        /* signature out of range, high s, or no signer recovers */
	ETHTX_EUNSUPPORTED = -5, /* another tx type, pre-EIP-155, access list, contract creation */
	ETHTX_ECRYPTO = -6,     /* libsecp256k1 refused an argument or randomisation failed */
	ETHTX_EFORKED = -7,     /* context created in another process: make one per worker */
	ETHTX_ECHAIN = -8       /* signed for another chain than the one expected */
};

/* One secp256k1 context, randomised, with an illegal-argument callback that
 * records instead of aborting. Create it in each worker after fork: a copy
 * inherited across fork shares its blinding with the siblings, so every
 * function refuses one with ETHTX_EFORKED. Not for use by two threads at once. */
struct ethtx_ctx;

/* *out is the caller's; free with ethtx_ctx_free. */
int ethtx_ctx_new(struct ethtx_ctx **out);
void ethtx_ctx_free(struct ethtx_ctx *ctx);
/* The library's message for the last illegal argument it reported, or NULL. */
const char *ethtx_ctx_last_error(const struct ethtx_ctx *ctx);

enum ethtx_type {
	ETHTX_LEGACY = 0, /* EIP-155: chain id folded into v */
	ETHTX_EIP1559 = 2 /* type 2, always with an empty access list */
};

/* Quantities of 256 bits are 32-byte big-endian words.
 *
 * What no node would accept, or what would mean something else than meant, is
 * refused when signing (ETHTX_EINVAL) and when recovering: a chain id of 0 (a
 * legacy v of 35/36 would claim EIP-155 protection for no chain at all), and
 * a type-2 priority fee above its max fee. */
struct ethtx {
	enum ethtx_type type;
	uint64_t chain_id;
	uint64_t nonce;
	uint64_t gas_limit;
	uint8_t gas_price[ETHTX_WORD_LEN];        /* legacy only */
	uint8_t max_priority_fee[ETHTX_WORD_LEN]; /* type 2 only */
	uint8_t max_fee[ETHTX_WORD_LEN];          /* type 2 only */
	uint8_t to[ETHTX_ADDR_LEN];
	uint8_t value[ETHTX_WORD_LEN];
	const uint8_t *data; /* borrowed; NULL when data_len is 0 */
	size_t data_len;
};

/* The bytes whose Keccak-256 is signed, appended to out (rlp_buf_init'ed by the
 * caller, who frees it with rlp_buf_free). */
int ethtx_signing_payload(const struct ethtx *tx, struct rlp_buf *out);
int ethtx_signing_hash(const struct ethtx *tx, uint8_t hash[ETHTX_HASH_LEN]);

/* Signs tx with key (RFC 6979 nonce, low s). raw (rlp_buf_init'ed by the caller,
 * who frees it with rlp_buf_free) receives the signed transaction as
 * eth_sendRawTransaction takes it, appended; txhash (may be NULL) its hash. On
 * failure raw may hold a partial encoding: discard it. */
int ethtx_sign(struct ethtx_ctx *ctx, const struct ethtx *tx,
    const uint8_t key[ETHTX_KEY_LEN], struct rlp_buf *raw, uint8_t txhash[ETHTX_HASH_LEN]);

/* Parses a signed raw transaction of either type and recovers its sender.
 * Refuses high-s signatures (EIP-2), non-canonical RLP, and anything this module
 * could not have produced. tx (may be NULL) receives the fields; tx->data then
 * points into raw. */
int ethtx_recover(struct ethtx_ctx *ctx, const uint8_t *raw, size_t len,
    struct ethtx *tx, uint8_t from[ETHTX_ADDR_LEN]);

/* ethtx_recover() that also requires the chain id the signature commits to
 * be chain_id (ETHTX_ECHAIN otherwise): a transaction signed for another
 * network is never taken for one on ours. */
int ethtx_recover_chain(struct ethtx_ctx *ctx, const uint8_t *raw, size_t len, uint64_t chain_id,
    struct ethtx *tx, uint8_t from[ETHTX_ADDR_LEN]);

/* A 256-bit field of struct ethtx from a BIGNUM: ETHTX_EINVAL when it is
 * negative or wider than 256 bits (never truncated). */
int ethtx_quantity(const BIGNUM *v, uint8_t out[ETHTX_WORD_LEN]);

/* Address: the last 20 bytes of keccak256 of the 64-byte uncompressed point. */
int ethtx_address_from_key(struct ethtx_ctx *ctx, const uint8_t key[ETHTX_KEY_LEN],
    uint8_t addr[ETHTX_ADDR_LEN]);
/* pub: 33 (compressed), 65 (0x04 prefix) or 64 bytes (bare x || y). */
int ethtx_address_from_pubkey(struct ethtx_ctx *ctx, const uint8_t *pub, size_t len,
    uint8_t addr[ETHTX_ADDR_LEN]);

/* A private key from hex (optional 0x, exactly 64 digits), checked to be in
 * range. On failure key is wiped; the caller still wipes hex itself. */
int ethtx_key_from_hex(struct ethtx_ctx *ctx, const char *hex, uint8_t key[ETHTX_KEY_LEN]);

#endif
