/* keccak: Keccak-256 as Ethereum uses it (original Keccak padding 0x01, not
 * SHA3-256's 0x06), for addresses, tx hashes, selectors and topics. OpenSSL 3.0
 * lacks it, hence this small implementation. */
#ifndef KECCAK_H
#define KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define KECCAK256_LEN 32

/* Incremental state; plain data, lives on the caller's stack, nothing to free. */
struct keccak256_ctx {
	uint64_t lane[25];
	size_t pos; /* bytes absorbed into the current block */
};

void keccak256_init(struct keccak256_ctx *ctx);
void keccak256_update(struct keccak256_ctx *ctx, const void *data, size_t len);
/* Writes the digest and wipes ctx; init again to reuse it. */
void keccak256_final(struct keccak256_ctx *ctx, uint8_t out[KECCAK256_LEN]);

/* One-shot digest of data[0..len). */
void keccak256(const void *data, size_t len, uint8_t out[KECCAK256_LEN]);

#endif
