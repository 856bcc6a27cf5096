/*
 * Tokens we could have signed: any header and payload bytes, signed with the
 * key, so the claims reader itself is what the fuzzer reaches. Nothing may
 * crash or overflow (UBSan), and an accepted token has a valid sub and role.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/b64url.h"
#include "http/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char key[] = "fuzzing key of thirty-two bytes!";
	char tok[3 * 2048], sig[64];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	struct jwt_claims c;
	/* The first byte splits the input into header and payload; the second picks the leeway. */
	size_t cut = len ? data[0] % (len + 1) : 0;
	int leeway = len > 1 ? data[1] * 2 : 30;

	if (len > 2048)
		return 0;
	if (cut > len - (len ? 1 : 0))
		cut = len ? len - 1 : 0;
	const uint8_t *h = len ? data + 1 : data, *p = h + cut;
	size_t hlen = cut, plen = len ? len - 1 - cut : 0;
	b64url_encode(h, hlen, tok);
	size_t o = strlen(tok);
	tok[o++] = '.';
	b64url_encode(p, plen, tok + o);
	HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)tok, strlen(tok), mac, &maclen);
	b64url_encode(mac, maclen, sig);
	strcat(tok, ".");
	strcat(tok, sig);
	if (jwt_verify(tok, key, strlen(key), 1700000000, leeway, &c) == JWT_OK &&
	    (!valid_id(c.sub) || c.role == ROLE_NONE || c.exp < 0 || c.exp > JWT_MAX_TIME))
		abort();
	return 0;
}
