/* inbox: the webhook inbox: every delivery from a provider is stored raw, with its
 * verdict, before anything acts on it, so it can be inspected and replayed.
 * A byte-identical repeat of a valid delivery is stored too, pointing at the
 * first (the unique index webhook_inbox_once decides which is first).
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

enum db_status inbox_store(struct db *db, const struct inbox_delivery *d, struct inbox_entry *out);
/* Records what came of a delivery; payment_id and detail may be NULL. */
enum db_status inbox_finish(struct db *db, long long id, const char *outcome,
                            const char *payment_id, const char *detail);

#endif
