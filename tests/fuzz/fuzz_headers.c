/*
 * Header values read as more than text: Content-Type as a media type, a
 * SHKeeper callback's timestamp and signatures, query numbers. Nothing may
 * crash; a timestamp that is not plain digits never authenticates.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/req.h"
#include "shkeeper/shkeeper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static char api_key[] = "fuzzing api key";
	static struct config cfg;
	char *text = malloc(len + 1), sig[65];
	struct response resp;
	struct sink sink = { NULL, NULL };
	long n;

	memcpy(text, data, len);
	text[len] = '\0';
	cfg.shkeeper_api_key = api_key;
	cfg.shkeeper_api_key_len = strlen(api_key);
	req_media_type_is_json(text);

	/* The input as a timestamp, correctly signed over a fixed body. */
	shk_sign(api_key, strlen(api_key), text, "{}", 2, sig);
	struct shk_auth_input in = { .signature = sig, .timestamp = text };
	enum shk_auth a = shk_authenticate(&cfg, &in, "{}", 2, 1700000000);
	if (shk_auth_ok(a) && (len == 0 || len > 12 || strspn(text, "0123456789") != len))
		abort();

	struct request req = { .query = text };
	resp_init(&resp, &sink, "fuzz");
	if (req_query_long(&req, &resp, "n", 1, 0, 1000, &n) == 0 && (n < 0 || n > 1000))
		abort();
	resp_free(&resp);
	free(text);
	return 0;
}
