#include "base/httpc.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "base/log.h"

static CURL *handle;

struct sink {
	struct buf *body;
	size_t max;
	int overflow;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n;

	if (s->body->len + len > s->max) {
		s->overflow = 1;
		return 0;   /* makes curl stop with CURLE_WRITE_ERROR */
	}
	buf_append(s->body, data, len);
	return len;
}

const char *httpc_strerror(enum httpc_err e)
{
	switch (e) {
	case HTTPC_OK: return "ok";
	case HTTPC_UNREACHABLE: return "unreachable";
	case HTTPC_TIMEOUT: return "timed out";
	case HTTPC_TOO_LARGE: return "answer too large";
	case HTTPC_FAILED: return "failed";
	}
	return "failed";
}

enum httpc_err httpc_do(const struct httpc_request *rq, struct httpc_response *out, char *err,
                        size_t errlen)
{
	struct curl_slist *headers = NULL;
	struct sink sink = { &out->body, rq->max_response ? rq->max_response : 1u << 20, 0 };
	char curl_err[CURL_ERROR_SIZE] = "";
	enum httpc_err result = HTTPC_FAILED;
	CURLcode rc;

	out->status = 0;
	buf_reset(&out->body);
	if (handle == NULL) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		if ((handle = curl_easy_init()) == NULL) {
			snprintf(err, errlen, "cannot create an HTTP client");
			return HTTPC_FAILED;
		}
	}
	curl_easy_reset(handle);
	for (const char *const *h = rq->headers; h && *h; h++)
		headers = curl_slist_append(headers, *h);
	/* curl adds "Expect: 100-continue" to larger POSTs; providers need not support it. */
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(handle, CURLOPT_URL, rq->url);
	curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, (long)rq->connect_timeout_ms);
	curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
	curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(handle, CURLOPT_USERAGENT, "fcgi-payments");
	if (rq->insecure) {
		curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (rq->unix_socket)
		curl_easy_setopt(handle, CURLOPT_UNIX_SOCKET_PATH, rq->unix_socket);
	if (rq->fresh_connection) {
		curl_easy_setopt(handle, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(handle, CURLOPT_FORBID_REUSE, 1L);
	}
	if (rq->userpwd) {
		curl_easy_setopt(handle, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(handle, CURLOPT_USERPWD, rq->userpwd);
	}
	if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(handle, CURLOPT_POST, 1L);
		curl_easy_setopt(handle, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
	}

	rc = curl_easy_perform(handle);
	switch (rc) {
	case CURLE_OK:
		curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &out->status);
		result = HTTPC_OK;
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		result = HTTPC_UNREACHABLE;
		break;
	case CURLE_OPERATION_TIMEDOUT: {
		long connected = 0;
		curl_easy_getinfo(handle, CURLINFO_CONNECT_TIME_T, &connected);
		result = connected ? HTTPC_TIMEOUT : HTTPC_UNREACHABLE;
		break;
	}
	case CURLE_WRITE_ERROR:
		result = sink.overflow ? HTTPC_TOO_LARGE : HTTPC_FAILED;
		break;
	default:
		result = HTTPC_FAILED;
	}
	if (result != HTTPC_OK)
		snprintf(err, errlen, "%s: %s", httpc_strerror(result), curl_err[0] ? curl_err : curl_easy_strerror(rc));
	curl_slist_free_all(headers);
	return result;
}
