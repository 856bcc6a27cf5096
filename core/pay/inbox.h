/* inbox: the webhook inbox: every authenticated delivery from a provider is stored
 * raw, with its verdict, before anything acts on it, so it can be inspected
 * and replayed. A byte-identical repeat of a valid delivery is stored too,
 * pointing at the first (the unique index webhook_inbox_once decides which is
 * first).
 *
 * A delivery that proves nothing (no or a wrong signature, a stale one, an
 * unsigned callback naming no payment) is not stored: anyone can send one,
 * and each would cost the database its body. inbox_reject() keeps a summary
 * instead, one row per body digest with a count, in a table of at most
 * INBOX_MAX_REJECTS rows (webhook_rejects).
 */
#ifndef PAY_INBOX_H
#define PAY_INBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "base/db.h"

/*
 * The largest delivery kept. A SHKeeper callback listing a hundred
 * transactions is a few tens of kilobytes; anything far larger is not a
 * provider's and would only fill the inbox.
 */
#define INBOX_MAX_BODY (256 * 1024)

struct inbox_delivery {
	const char *provider;       /* webhook_inbox.provider */
	const char *headers_json;   /* the headers that matter, never a secret */
	const char *body;
	size_t body_len;
	const char *verdict;        /* valid, invalid, or unsigned (a caller with no signature) */
	const char *external_id;    /* may be NULL */
	const char *event_key;      /* e.g. the provider's transaction id; may be NULL */
};

struct inbox_entry {
	long long id;
	bool duplicate;             /* a byte-identical valid delivery came before */
	bool first_unfinished;      /* …and that one was never processed */
};

/* Distinct refused bodies summarised; further new ones are only counted (digest "overflow"). */
#define INBOX_MAX_REJECTS 10000

enum db_status inbox_store(struct db *db, const struct inbox_delivery *d, struct inbox_entry *out);
/* The body digest the inbox keys deliveries by: lower-case hex SHA-256. */
void inbox_digest(const char *body, size_t len, char out[65]);

/*
 * Counts a refused delivery in webhook_rejects: provider, why (shk_auth_name()
 * or "unknown payment"), the headers that matter (names and short values,
 * never a secret), the sender's address, the body's size and digest.
 */
struct inbox_refusal {
	const char *provider;
	const char *reason;
	const char *headers_json;
	const char *source;         /* REMOTE_ADDR; may be NULL */
	const char *body;
	size_t body_len;
};
enum db_status inbox_reject(struct db *db, const struct inbox_refusal *r);
/* Records what came of a delivery; payment_id and detail may be NULL. */
enum db_status inbox_finish(struct db *db, long long id, const char *outcome,
                            const char *payment_id, const char *detail);

#endif
