#include "base/hmac.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* Keys kept prepared, each with a private copy to recognise it by: one thread
 * per process, as everywhere in the service. */
#define HMAC_KEYS 4

struct prepared {
	EVP_MAC_CTX *ctx;           /* initialised with the key: re-initialising keeps it */
	unsigned char *key;         /* owned copy, wiped when dropped */
	size_t keylen;
};

static struct prepared keys[HMAC_KEYS];
static unsigned next_slot;

static void drop(struct prepared *p)
{
	EVP_MAC_CTX_free(p->ctx);
	if (p->key) {
		OPENSSL_cleanse(p->key, p->keylen);
		free(p->key);
	}
	memset(p, 0, sizeof(*p));
}

/* The slot holding key, or NULL. The comparison runs on our own secrets, but in constant time all the same. */
static struct prepared *kept(const void *key, size_t keylen)
{
	for (size_t i = 0; i < HMAC_KEYS; i++)
		if (keys[i].ctx && keys[i].keylen == keylen && CRYPTO_memcmp(keys[i].key, key, keylen) == 0)
			return &keys[i];
	return NULL;
}

/* A context ready for a MAC under key: a kept one reset to the key, or a new one. */
static EVP_MAC_CTX *ready_for(const void *key, size_t keylen)
{
	static EVP_MAC *mac;        /* fetched once per process */
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	struct prepared *p = kept(key, keylen);

	if (p && EVP_MAC_init(p->ctx, NULL, 0, NULL))
		return p->ctx;
	/* Not kept (it takes the oldest slot), or kept but unable to start again (prepared anew in its own). */
	if (p == NULL)
		p = &keys[next_slot++ % HMAC_KEYS];
	drop(p);
	if (mac == NULL && (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	p->ctx = EVP_MAC_CTX_new(mac);
	p->key = malloc(keylen ? keylen : 1);
	if (p->ctx == NULL || p->key == NULL || !EVP_MAC_init(p->ctx, key, keylen, params)) {
		drop(p);
		return NULL;
	}
	memcpy(p->key, key, keylen);
	p->keylen = keylen;
	return p->ctx;
}

int hmac_sha256(const void *key, size_t keylen, const struct hmac_part *parts, size_t n,
                unsigned char out[HMAC_SHA256_LEN])
{
	EVP_MAC_CTX *ctx = ready_for(key, keylen);
	size_t outlen = 0;

	if (ctx == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (parts[i].len && !EVP_MAC_update(ctx, parts[i].data, parts[i].len))
			return -1;
	if (!EVP_MAC_final(ctx, out, &outlen, HMAC_SHA256_LEN) || outlen != HMAC_SHA256_LEN)
		return -1;
	return 0;
}

int hmac_sha256_hex(const void *key, size_t keylen, const struct hmac_part *parts, size_t n,
                    char out[2 * HMAC_SHA256_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[HMAC_SHA256_LEN];

	out[0] = '\0';
	if (hmac_sha256(key, keylen, parts, n, md) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * HMAC_SHA256_LEN] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}
