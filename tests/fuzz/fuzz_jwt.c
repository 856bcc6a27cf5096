/* Bearer tokens: any bytes, verified against a fixed key; nothing may crash or be accepted unsigned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char key[] = "fuzzing key of thirty-two bytes!";
	char *tok = malloc(len + 1);
	struct jwt_claims c;

	memcpy(tok, data, len);
	tok[len] = '\0';
	/* A random input that verifies would mean a forgery. */
	if (jwt_verify(tok, key, strlen(key), 1700000000, 30, &c) == JWT_OK)
		abort();
	free(tok);
	return 0;
}
