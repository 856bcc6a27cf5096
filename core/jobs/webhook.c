#include "jobs/webhook.h"

#include <string.h>

#include "base/hmac.h"

int webhook_sign(const char *secret, size_t secret_len, const char *timestamp, const char *body,
                 size_t body_len, char out[65])
{
	const struct hmac_part parts[3] = {
		{ timestamp, strlen(timestamp) }, { ".", 1 }, { body, body_len },
	};

	return hmac_sha256_hex(secret, secret_len, parts, 3, out);
}

int webhook_backoff(int attempts, int base, int max)
{
	long wait = base;

	/* Doubling stops at max long before it could overflow. */
	for (int i = 0; i < attempts && wait < max; i++)
		wait *= 2;
	return wait > max ? max : (int)wait;
}
