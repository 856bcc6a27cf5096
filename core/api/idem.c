#include "api/idem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/app.h"
#include "base/hex.h"
#include "base/log.h"
#include "base/xalloc.h"

bool idem_key_valid(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > IDEM_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
			return false;
	return true;
}

/*
 * SHA-256 of what makes two requests the same: method, path, query and body,
 * each ended by a NUL so that no two different requests run together into
 * the same bytes. Lowercase hex into out.
 */
static void request_digest(const struct request *req, char out[HEX_BUFSZ(32)])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL)
		abort();        /* out of memory: the policy of base/xalloc */
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, req->method_name, strlen(req->method_name) + 1);
	EVP_DigestUpdate(ctx, req->path, strlen(req->path) + 1);
	EVP_DigestUpdate(ctx, req->query, strlen(req->query) + 1);
	EVP_DigestUpdate(ctx, req->body ? req->body : "", req->body_len);
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	hex_encode(md, len, out, HEX_BUFSZ(32));
}

/* The stored answer, as it was: status, extra headers and the exact bytes (always JSON: see keeps_answer()). */
static void replay(struct response *resp, const PGresult *row)
{
	const char *hex = PQgetvalue(row, 0, 6);
	size_t cap = strlen(hex) / 2, len = 0;
	uint8_t *body = xmalloc(cap + 1);

	if (hex_decode(hex, body, cap, &len) != HEX_OK) {
		free(body);
		resp_error(resp, 500, "internal", NULL, "the stored answer of this Idempotency-Key is unreadable");
		return;
	}
	resp->status = atoi(PQgetvalue(row, 0, 3));
	resp->content_type = "application/json";
	buf_reset(&resp->headers);
	buf_puts(&resp->headers, PQgetvalue(row, 0, 5));
	resp_header(resp, "Idempotent-Replayed", "true");
	buf_reset(&resp->body);
	buf_append(&resp->body, body, len);
	free(body);
}

/*
 * The key exists: replay it, refuse the request, or take over a key whose
 * request died (lease run out) or expired. Inside the transaction of
 * idem_begin(), the row locked. Returns IDEM_RUN when this request now holds
 * the key (k filled), IDEM_ANSWERED with the answer written.
 */
static enum idem_step existing(struct request *req, struct response *resp, struct idem *k, const char *digest,
                               const char *const base[2])
{
	const struct config *cfg = req->app->cfg;
	struct db *db = req->app->db;
	char hours[16], lease[16];
	PGresult *row = NULL, *upd = NULL;
	enum idem_step step = IDEM_ANSWERED;
	enum db_status st;

	snprintf(hours, sizeof(hours), "%d", cfg->idempotency_key_hours);
	snprintf(lease, sizeof(lease), "%d", cfg->idempotency_lease_seconds);
	const char *p[5] = { base[0], base[1], digest, hours, lease };
	st = db_exec(db, &row,
	             "SELECT id, created_at < now() - make_interval(hours => $4::int), request_hash = decode($3, 'hex'),"
	             "       response_status, response_type, coalesce(response_headers, ''),"
	             "       encode(response_body, 'hex'), recovery_point = 'finished',"
	             "       recovery_point = 'started' AND locked_at > clock_timestamp() - make_interval(secs => $5::int),"
	             "       greatest(1, ceil(extract(epoch FROM locked_at + make_interval(secs => $5::int)"
	             "                                          - clock_timestamp())))::int"
	             "  FROM idempotency_keys WHERE caller = $1 AND idem_key = $2 FOR UPDATE", 5, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	if (PQntuples(row) == 0) {
		/* Pruned between the insert and this read: the caller may simply try again. */
		resp_header(resp, "Retry-After", "1");
		resp_error(resp, 409, "idempotency_in_flight", "Idempotency-Key", "this Idempotency-Key changed meanwhile; retry");
		goto out;
	}
	bool expired = strcmp(PQgetvalue(row, 0, 1), "t") == 0;
	bool same = strcmp(PQgetvalue(row, 0, 2), "t") == 0;
	bool finished = strcmp(PQgetvalue(row, 0, 7), "t") == 0;
	bool leased = !expired && strcmp(PQgetvalue(row, 0, 8), "t") == 0;

	if (!expired && !same) {
		resp_error(resp, 422, "idempotency_key_reused", "Idempotency-Key",
		           "this Idempotency-Key was used with another request (method, path or body); use a new key");
		goto out;
	}
	if (!expired && finished) {
		replay(resp, row);
		goto out;
	}
	if (leased) {
		resp_header(resp, "Retry-After", "%s", PQgetvalue(row, 0, 9));
		resp_error(resp, 409, "idempotency_in_flight", "Idempotency-Key",
		           "a request with this Idempotency-Key is still running; retry after it");
		goto out;
	}
	/* Expired, or its request died before it finished: this one runs it afresh. */
	const char *q[5] = { PQgetvalue(row, 0, 0), req->method_name, req->path, digest, expired ? "t" : "f" };
	st = db_exec(db, &upd,
	             "UPDATE idempotency_keys SET locked_at = clock_timestamp(), recovery_point = 'started',"
	             "       method = $2, path = $3, request_hash = decode($4, 'hex'),"
	             "       response_status = NULL, response_type = NULL, response_headers = NULL,"
	             "       response_body = NULL, finished_at = NULL,"
	             "       created_at = CASE WHEN $5::boolean THEN now() ELSE created_at END"
	             " WHERE id = $1 RETURNING locked_at::text", 5, q);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		goto out;
	}
	snprintf(k->id, sizeof(k->id), "%s", PQgetvalue(row, 0, 0));
	snprintf(k->lease, sizeof(k->lease), "%s", PQgetvalue(upd, 0, 0));
	step = IDEM_RUN;
out:
	PQclear(row);
	PQclear(upd);
	return step;
}

enum idem_step idem_begin(struct request *req, struct response *resp, struct idem *k)
{
	const char *key = req_param(req, "HTTP_IDEMPOTENCY_KEY");
	struct db *db = req->app->db;
	char digest[HEX_BUFSZ(32)];
	PGresult *res = NULL;
	enum idem_step step = IDEM_ANSWERED;
	enum db_status st;

	memset(k, 0, sizeof(*k));
	if (key == NULL)
		return IDEM_RUN;
	if (!idem_key_valid(key)) {
		resp_error(resp, 400, "invalid_field", "Idempotency-Key",
		           "Idempotency-Key must be 1 to %d visible ASCII characters", IDEM_KEY_MAX);
		return IDEM_ANSWERED;
	}
	request_digest(req, digest);
	const char *base[2] = { req->auth.sub, key };
	const char *p[5] = { req->auth.sub, key, req->method_name, req->path, digest };

	/* After this point, all errors should use goto fail. */
	if ((st = db_begin(db)) != DB_OK)
		goto fail;
	/* A concurrent first request with the same key waits here until the other commits, then conflicts. */
	st = db_exec(db, &res,
	             "INSERT INTO idempotency_keys (caller, idem_key, method, path, request_hash, locked_at)"
	             " VALUES ($1, $2, $3, $4, decode($5, 'hex'), clock_timestamp())"
	             " ON CONFLICT (caller, idem_key) DO NOTHING RETURNING id, locked_at::text", 5, p);
	if (st != DB_OK)
		goto fail;
	if (PQntuples(res) == 1) {
		snprintf(k->id, sizeof(k->id), "%s", PQgetvalue(res, 0, 0));
		snprintf(k->lease, sizeof(k->lease), "%s", PQgetvalue(res, 0, 1));
		step = IDEM_RUN;
	} else {
		step = existing(req, resp, k, digest, base);
	}
	if (step == IDEM_RUN) {
		if ((st = db_commit(db)) != DB_OK)
			goto fail;
		k->held = true;
	} else {
		db_rollback(db);
	}
	PQclear(res);
	return step;
fail:
	db_rollback(db);
	PQclear(res);
	resp_db_error(resp, st);
	return IDEM_ANSWERED;
}

/*
 * Refusals before any effect, failures a retry may get past, and a "not yet"
 * (202: a transfer not final, a payout broadcast but not confirmed): the key
 * is not kept for them, so the retry asks again and sees what changed.
 */
static bool keeps_answer(const struct response *resp)
{
	switch (resp->status) {
	case 202:
	case 400: case 401: case 403: case 404: case 405: case 413: case 415: case 429:
		return false;
	default:
		/* A streamed answer is not in resp->body to keep; every answer of an idempotent route is JSON. */
		return resp->status < 500 && !resp->started && strcmp(resp->content_type, "application/json") == 0;
	}
}

void idem_finish(struct request *req, const struct response *resp, struct idem *k)
{
	struct db *db = req->app->db;
	PGresult *res = NULL;
	enum db_status st;

	if (!k->held)
		return;
	k->held = false;
	if (!keeps_answer(resp)) {
		const char *p[2] = { k->id, k->lease };
		st = db_exec(db, NULL, "DELETE FROM idempotency_keys WHERE id = $1 AND locked_at = $2::timestamptz"
		             " AND recovery_point = 'started'", 2, p);
	} else {
		char status[8], *hex = xmalloc(HEX_BUFSZ(resp->body.len));
		snprintf(status, sizeof(status), "%d", resp->status);
		hex_encode((const uint8_t *)resp->body.data, resp->body.len, hex, HEX_BUFSZ(resp->body.len));
		const char *headers = resp->headers.len ? resp->headers.data : "";
		const char *p[6] = { k->id, k->lease, status, resp->content_type, headers, hex };
		/* Only while this request still holds the lease: one that took over after it ran out answers for the key. */
		st = db_exec(db, &res,
		             "UPDATE idempotency_keys SET recovery_point = 'finished', locked_at = NULL,"
		             "       response_status = $3::int, response_type = $4, response_headers = $5,"
		             "       response_body = decode($6, 'hex'), finished_at = now()"
		             " WHERE id = $1 AND locked_at = $2::timestamptz RETURNING id", 6, p);
		if (st == DB_OK && PQntuples(res) == 0)
			log_warn("Idempotency-Key row %s was taken over before its answer was kept", k->id);
		free(hex);
	}
	/* Not kept: the key stays `started` and its lease runs out, after which a retry runs again. */
	if (st != DB_OK)
		log_warn("Idempotency-Key row %s could not be settled; a retry runs after its lease", k->id);
	PQclear(res);
}
