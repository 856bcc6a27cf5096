/*
 * What webhook and callback handlers keep of a delivery besides its body: the
 * headers that matter, and for a delivery that proves nothing, a counted
 * summary instead of the delivery itself (pay/inbox.h).
 */
#include <string.h>

#include "api/handlers.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/jsonin.h"
#include "pay/inbox.h"

#define HEADER_VALUE_MAX 128

/* A header value as the database can always take it: printable ASCII, bounded. */
static json_object *header_value(const char *v)
{
	char out[HEADER_VALUE_MAX + 1];
	size_t n = 0;

	for (; v[n] && n < HEADER_VALUE_MAX; n++)
		out[n] = v[n] >= 0x20 && v[n] < 0x7f ? v[n] : '?';
	out[n] = '\0';
	return json_object_new_string(out);
}

json_object *delivery_headers(const struct request *req, bool credentials)
{
	static const struct { const char *param, *name; bool credential; } kept[] = {
		{ "CONTENT_TYPE", "content-type", false }, { "HTTP_USER_AGENT", "user-agent", false },
		{ "HTTP_X_SHKEEPER_TIMESTAMP", "x-shkeeper-timestamp", false },
		{ "HTTP_X_SHKEEPER_SIGNATURE", "x-shkeeper-signature", true },
		{ "HTTP_X_SIGNATURE", "x-signature", true }, { "HTTP_SIGNATURE", "signature", true },
		{ "HTTP_X_HUB_SIGNATURE", "x-hub-signature", true },
		{ "HTTP_X_HUB_SIGNATURE_256", "x-hub-signature-256", true },
		{ "REMOTE_ADDR", "remote-addr", false },
	};
	json_object *h = json_object_new_object();

	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		const char *v = req_header(req, kept[i].param);
		if (v == NULL)
			continue;
		json_object_object_add(h, kept[i].name, kept[i].credential && !credentials
		                       ? json_object_new_string("(present)") : header_value(v));
	}
	/* The legacy key header is the API key itself: only its presence is ever kept. */
	if (req_header(req, "HTTP_X_SHKEEPER_API_KEY"))
		json_object_object_add(h, "x-shkeeper-api-key", json_object_new_string("(present, not stored)"));
	return h;
}

enum db_status delivery_refused(struct request *req, const char *provider, const char *reason)
{
	json_object *headers = delivery_headers(req, false);
	struct inbox_refusal r = {
		.provider = provider, .reason = reason, .source = req_header(req, "REMOTE_ADDR"),
		.headers_json = json_object_to_json_string_ext(headers, JSON_C_TO_STRING_PLAIN),
		.body = req->body, .body_len = req->body_len,
	};
	enum db_status st = inbox_reject(req->app->db, &r);

	metrics_webhook(provider, "refused", "refused");
	if (st != DB_OK)
		log_warn("refused %s delivery (%s) not counted", provider, reason);
	json_object_put(headers);
	return st;
}

int delivery_admissible(const struct request *req, struct response *resp, const char *what)
{
	if (req->body_len > INBOX_MAX_BODY) {
		resp_error(resp, 413, "body_too_large", NULL, "%s is at most %d bytes", what, INBOX_MAX_BODY);
		return -1;
	}
	if (!req_body_is_json(req)) {
		resp_error(resp, 415, "unsupported_media_type", NULL, "%s is application/json", what);
		return -1;
	}
	return 0;
}

void delivery_unreadable(struct request *req, struct response *resp, const char *provider, long long id,
                         const struct json_fault *fault, const char *what)
{
	inbox_finish(req->app->db, id, "rejected", NULL, "signed, but not one strict JSON object");
	metrics_webhook(provider, "invalid", "rejected");
	log_warn("delivery %lld refused: signed, but not one strict JSON object", id);
	if (fault->kind != JSON_FAULT_NONE)
		jin_fault(resp, fault, what);
	else
		resp_error(resp, 400, "invalid_json", NULL, "%s must be a JSON object", what);
}
