#include "pay/inbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "base/hex.h"
#include "base/xalloc.h"

#define STR(x) #x
#define XSTR(x) STR(x)
#define INBOX_MAX_REJECTS_SQL XSTR(INBOX_MAX_REJECTS)

void inbox_digest(const char *body, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)body, len, md);
	hex_encode(md, sizeof(md), out, 65);
}

enum db_status inbox_store(struct db *db, const struct inbox_delivery *d, struct inbox_entry *out)
{
	char digest[65];
	/* The raw bytes travel as hex: a body need not be valid UTF-8 to be kept. */
	size_t hexlen = 2 * d->body_len + 1;
	char *body_hex = xmalloc(hexlen);
	PGresult *res = NULL;
	enum db_status st;

	memset(out, 0, sizeof(*out));
	inbox_digest(d->body, d->body_len, digest);
	hex_encode((const uint8_t *)d->body, d->body_len, body_hex, hexlen);
	const char *p[7] = { d->provider, d->headers_json, body_hex, digest,
	                     d->verdict, d->external_id, d->event_key };
	st = db_exec(db, &res,
	             "INSERT INTO webhook_inbox (provider, headers, body, body_digest, verdict,"
	             " external_id, event_key, outcome)"
	             " VALUES ($1, $2::jsonb, decode($3, 'hex'), $4, $5, $6, $7,"
	             "  CASE WHEN $5 = 'invalid' THEN 'rejected' ELSE 'received' END)"
	             " ON CONFLICT (provider, body_digest) WHERE duplicate_of IS NULL AND verdict = 'valid'"
	             " DO NOTHING RETURNING id", 7, p);
	if (st == DB_OK && PQntuples(res) == 0) {
		PQclear(res);
		res = NULL;
		st = db_exec(db, &res,
		             "WITH first AS ("
		             "  SELECT id, outcome FROM webhook_inbox WHERE provider = $1 AND body_digest = $4"
		             "  AND duplicate_of IS NULL AND verdict = 'valid'),"
		             " ins AS ("
		             "  INSERT INTO webhook_inbox (provider, headers, body, body_digest, verdict,"
		             "   external_id, event_key, outcome, duplicate_of, processed_at)"
		             "  SELECT $1, $2::jsonb, decode($3, 'hex'), $4, $5, $6, $7, 'duplicate', first.id, now()"
		             "  FROM first RETURNING id)"
		             " SELECT ins.id, first.outcome = 'received' FROM ins, first",
		             7, p);
		if (st == DB_OK && PQntuples(res) == 1) {
			out->duplicate = true;
			out->first_unfinished = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		}
	}
	if (st == DB_OK && PQntuples(res) == 1)
		out->id = atoll(PQgetvalue(res, 0, 0));
	else if (st == DB_OK)
		st = DB_FAILED;
	PQclear(res);
	free(body_hex);
	return st;
}

enum db_status inbox_reject(struct db *db, const struct inbox_refusal *r)
{
	char digest[65], size[24];

	inbox_digest(r->body, r->body_len, digest);
	snprintf(size, sizeof(size), "%zu", r->body_len);
	const char *p[6] = { r->provider, digest, r->reason, size, r->headers_json, r->source };
	/*
	 * A digest already summarised is counted again (keeping the reason it was
	 * first refused for); a new one gets its row while the table is below its
	 * cap, else it is counted in 'overflow'.
	 */
	return db_exec(db, NULL,
	               "INSERT INTO webhook_rejects AS w (provider, body_digest, reason, body_bytes, headers, source)"
	               " SELECT $1, CASE WHEN EXISTS (SELECT 1 FROM webhook_rejects WHERE provider = $1 AND body_digest = $2)"
	               "   OR (SELECT count(*) FROM (SELECT 1 FROM webhook_rejects LIMIT " INBOX_MAX_REJECTS_SQL ") c) < "
	               INBOX_MAX_REJECTS_SQL " THEN $2 ELSE 'overflow' END,"
	               "  left($3, 100), $4::integer, $5::jsonb, left($6, 64)"
	               " ON CONFLICT (provider, body_digest) DO UPDATE SET count = w.count + 1, last_seen = now(),"
	               "  body_bytes = EXCLUDED.body_bytes, headers = EXCLUDED.headers, source = EXCLUDED.source", 6, p);
}

enum db_status inbox_finish(struct db *db, long long id, const char *outcome,
                            const char *payment_id, const char *detail)
{
	char idtext[24];

	snprintf(idtext, sizeof(idtext), "%lld", id);
	const char *p[4] = { idtext, outcome, payment_id, detail };
	/*
	 * A repeat keeps its 'duplicate' label; what it found is in detail. When
	 * a repeat finishes what the first delivery left unfinished, the first
	 * is finished with it, so nothing stays 'received' that was acted on.
	 */
	return db_exec(db, NULL,
	               "UPDATE webhook_inbox SET outcome = CASE WHEN outcome = 'duplicate' THEN outcome ELSE $2 END,"
	               " payment_id = coalesce($3::uuid, payment_id), detail = $4, processed_at = now()"
	               " WHERE id = $1::bigint"
	               "  OR (id = (SELECT duplicate_of FROM webhook_inbox WHERE id = $1::bigint)"
	               "      AND outcome = 'received' AND $2 <> 'received')", 4, p);
}
