/* httpc: outbound HTTP over libcurl, for provider APIs and JSON-RPC. One handle per
 * process, made on first use (so after fork) and reused, keeping connections
 * to an upstream alive between requests. Every call has a connect timeout,
 * a total timeout and a bound on the answer's size.
 */
#ifndef PAY_HTTPC_H
#define PAY_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

enum httpc_err {
	HTTPC_OK = 0,
	HTTPC_UNREACHABLE,      /* DNS, refused, TLS handshake or connect timeout */
	HTTPC_TIMEOUT,          /* connected, but no complete answer in time */
	HTTPC_TOO_LARGE,        /* the answer exceeded max_response */
	HTTPC_FAILED,           /* anything else curl reports */
};

struct httpc_request {
	const char *method;             /* "GET" or "POST" */
	const char *url;
	const char *const *headers;     /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *body;               /* POST body, or NULL */
	size_t body_len;
	int connect_timeout_ms;
	int timeout_ms;
	size_t max_response;            /* 0: 1 MiB */
	const char *userpwd;            /* "user:password" for HTTP Basic, or NULL */
	bool insecure;                  /* skip certificate checks: dev-mode calls to ourselves only */
	const char *unix_socket;        /* connect to this socket instead of the URL's host, or NULL */
	/* A new connection, closed after: curl sends a request again by itself when a kept-alive
	 * connection turns out dead, which must never happen to a call that moves money. */
	bool fresh_connection;
};

struct httpc_response {
	long status;
	struct buf body;                /* owned by the caller: buf_free() */
};

/* On HTTPC_OK, out->status and out->body are set, whatever the HTTP status. */
enum httpc_err httpc_do(const struct httpc_request *rq, struct httpc_response *out, char *err,
                        size_t errlen);
const char *httpc_strerror(enum httpc_err e);

#endif
