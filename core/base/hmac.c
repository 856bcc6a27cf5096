#include "base/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

int hmac_sha256_hex(const void *key, size_t keylen, const struct hmac_part *parts, size_t n,
                    char out[65])
{
	static const char digits[] = "0123456789abcdef";
	static EVP_MAC *mac;        /* fetched once per process */
	unsigned char md[32];
	size_t mdlen = 0;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx;
	int rc = -1;

	out[0] = '\0';
	if (mac == NULL && (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -1;
	if ((ctx = EVP_MAC_CTX_new(mac)) == NULL)
		return -1;
	/* After this point, all errors should use goto out. */
	if (!EVP_MAC_init(ctx, key, keylen, params))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (parts[i].len && !EVP_MAC_update(ctx, parts[i].data, parts[i].len))
			goto out;
	if (!EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) || mdlen != sizeof(md))
		goto out;
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	return rc;
}
