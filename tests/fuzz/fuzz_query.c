/* Paths and query strings as nginx passes them: routing and percent-decoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *text = malloc(len + 1), out[64], allow[64];
	struct request req = { 0 };
	const struct route *r;

	memcpy(text, data, len);
	text[len] = '\0';
	char *q = strchr(text, '?');
	if (q)
		*q++ = '\0';
	req.path = text;
	req.query = q ? q : "";
	req.method = len ? (enum http_method)(data[0] % 6) : HTTP_GET;
	router_find(app_routes, app_routes_len, &req, &r, allow);
	req_query(&req, "status", out, sizeof(out));
	req_query(&req, "limit", out, sizeof(out));
	free(text);
	return 0;
}
