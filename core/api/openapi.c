/* GET /openapi.json: the embedded OpenAPI document, byte for byte. */
#include "api/handlers.h"
#include "api/openapi.h"

void h_openapi(struct request *req, struct response *resp)
{
	(void)req;
	resp->status = 200;
	resp->content_type = "application/json";
	resp_write(resp, openapi_json, openapi_json_len);
}
