/* hmac: HMAC-SHA256 over the concatenation of up to four byte strings, as lower-case
 * hex: webhook signatures are MACs over "<timestamp>." + body, or over the
 * body alone. Returns 0, or -1 if OpenSSL fails.
 */
#ifndef PAY_HMAC_H
#define PAY_HMAC_H

#include <stddef.h>

struct hmac_part {
	const void *data;
	size_t len;
};

int hmac_sha256_hex(const void *key, size_t keylen, const struct hmac_part *parts, size_t n,
                    char out[65]);

#endif
