/* hmac: HMAC-SHA256 over the concatenation of up to four byte strings: webhook
 * signatures are MACs over "<timestamp>." + body, or over the body alone, and
 * a token's over its first two parts. Returns 0, or -1 if OpenSSL fails.
 *
 * The few keys a process uses (the token secret, a provider's, a subscriber's)
 * are prepared once and kept: a MAC under a key seen lately costs the hashing
 * of the message only, not OpenSSL's look-up of the algorithm and the hashing
 * of the key, which were most of a small request's cryptography.
 */
#ifndef PAY_HMAC_H
#define PAY_HMAC_H

#include <stddef.h>

#define HMAC_SHA256_LEN 32

struct hmac_part {
	const void *data;
	size_t len;
};

int hmac_sha256(const void *key, size_t keylen, const struct hmac_part *parts, size_t n,
                unsigned char out[HMAC_SHA256_LEN]);
/* The same MAC as lower-case hex. */
int hmac_sha256_hex(const void *key, size_t keylen, const struct hmac_part *parts, size_t n,
                    char out[2 * HMAC_SHA256_LEN + 1]);

#endif
