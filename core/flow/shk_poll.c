#include "flow/shk_poll.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "base/jstr.h"
#include "base/log.h"
#include "flow/shk_onchain.h"
#include "pay/payment.h"
#include "shkeeper/shkeeper.h"

/* The open SHKeeper pay-ins the fallback asks about: each with an invoice to look up. */
#define OPEN_SHK \
	" p.provider = 'shkeeper' AND p.direction = 'in' AND p.status IN ('pending', 'processing')" \
	" AND p.external_id IS NOT NULL"

enum db_status shk_poll_claim(struct db *db, int after_minutes, int every_seconds, int limit, PGresult **rows)
{
	char after[16], every[16], lim[16];
	const char *p[3] = { after, every, lim };

	snprintf(after, sizeof(after), "%d", after_minutes);
	snprintf(every, sizeof(every), "%d", every_seconds);
	snprintf(lim, sizeof(lim), "%d", limit);
	/*
	 * The claim is the conditional update: a pay-in asked about less than an
	 * interval ago (by this run's rival too, whose row lock it waits for) is
	 * not returned. Never asked first, then the longest waiting.
	 */
	return db_exec(db, rows,
	               "WITH due AS (SELECT p.id FROM payments p LEFT JOIN shkeeper_polls s ON s.payment_id = p.id"
	               "  WHERE" OPEN_SHK " AND p.created_at < now() - make_interval(mins => $1::integer)"
	               "   AND (s.polled_at IS NULL OR s.polled_at < now() - make_interval(secs => $2::integer))"
	               "  ORDER BY s.polled_at NULLS FIRST, p.created_at LIMIT $3::integer),"
	               " claimed AS (INSERT INTO shkeeper_polls AS s (payment_id, polled_at) SELECT id, now() FROM due"
	               "  ON CONFLICT (payment_id) DO UPDATE SET polled_at = now(), polls = s.polls + 1"
	               "  WHERE s.polled_at < now() - make_interval(secs => $2::integer) RETURNING s.payment_id)"
	               " SELECT " PAYMENT_COLUMNS ", p.crypto_name, " SHK_REPRICED_SQL
	               " FROM payments p JOIN claimed c ON c.payment_id = p.id"
	               " ORDER BY p.created_at, p.id", 3, p);
}

enum db_status shk_poll_counts(struct db *db, int after_minutes, struct shk_poll_counts *out)
{
	char after[16];
	const char *p[1] = { after };
	PGresult *res = NULL;
	enum db_status st;

	memset(out, 0, sizeof(*out));
	snprintf(after, sizeof(after), "%d", after_minutes);
	st = db_exec(db, &res,
	             "SELECT count(*), count(*) FILTER (WHERE p.created_at < now() - make_interval(mins => $1::integer)),"
	             " count(s.payment_id),"
	             " coalesce(to_char(max(s.polled_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), '')"
	             " FROM payments p LEFT JOIN shkeeper_polls s ON s.payment_id = p.id WHERE" OPEN_SHK, 1, p);
	if (st == DB_OK) {
		out->open = atoll(PQgetvalue(res, 0, 0));
		out->due = atoll(PQgetvalue(res, 0, 1));
		out->polled = atoll(PQgetvalue(res, 0, 2));
		snprintf(out->last_polled_at, sizeof(out->last_polled_at), "%s", PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	return st;
}

static const char *member(json_object *o, const char *name)
{
	json_object *v;

	return json_object_object_get_ex(o, name, &v) ? jstr(v) : NULL;
}

static void copy_member(json_object *to, json_object *from, const char *name, const char *as)
{
	const char *v = member(from, name);

	if (v)
		json_object_object_add(to, as, json_object_new_string(v));
}

/*
 * SHKeeper's invoice in the shape of its callback: the status and fiat
 * figures, and the confirmed transactions (each with its own crypto, so a
 * stray token stays SHKeeper's to count). The newest of the invoice's own
 * crypto is the one the claim is about.
 */
static json_object *report_of(json_object *inv, const char *external_id, const char *crypto)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array(), *txs;
	int trigger = -1;

	json_object_object_add(o, "external_id", json_object_new_string(external_id));
	if (crypto)
		json_object_object_add(o, "crypto", json_object_new_string(crypto));
	copy_member(o, inv, "status", "status");
	copy_member(o, inv, "fiat", "fiat");
	copy_member(o, inv, "balance_fiat", "balance_fiat");
	if (json_object_object_get_ex(inv, "txs", &txs) && json_object_is_type(txs, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(txs); i++) {
			json_object *tx = json_object_array_get_idx(txs, i), *t;
			const char *status = member(tx, "status"), *c = member(tx, "crypto");
			if (status == NULL || strcmp(status, "CONFIRMED") != 0 || member(tx, "txid") == NULL)
				continue;
			t = json_object_new_object();
			copy_member(t, tx, "txid", "txid");
			copy_member(t, tx, "crypto", "crypto");
			copy_member(t, tx, "amount", "amount_crypto");
			json_object_object_add(t, "trigger", json_object_new_boolean(0));
			json_object_array_add(list, t);
			if (crypto && c && strcmp(c, crypto) == 0)
				trigger = (int)json_object_array_length(list) - 1;
		}
	}
	if (trigger >= 0)
		json_object_object_add(json_object_array_get_idx(list, (size_t)trigger), "trigger",
		                       json_object_new_boolean(1));
	json_object_object_add(o, "transactions", list);
	return o;
}

/*
 * Once SHKeeper may have re-priced the invoice, each transfer is worth what
 * SHKeeper valued it at, which its callback lists and its invoice lookup does
 * not: asked for each of the invoice's own transactions. 0, or -1 with msg
 * filled (SHKeeper did not answer: ask again later).
 */
static int add_fiat_values(const struct config *cfg, json_object *report, const char *external_id,
                           const char *crypto, char *msg, size_t msglen)
{
	json_object *list;

	if (!json_object_object_get_ex(report, "transactions", &list))
		return 0;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *t = json_object_array_get_idx(list, i);
		const char *txid = member(t, "txid"), *c = member(t, "crypto");
		char fiat[64];

		if (crypto == NULL || c == NULL || strcmp(c, crypto) != 0)
			continue;
		if (shk_tx_fiat(cfg, txid, external_id, fiat, sizeof(fiat), msg, msglen) != SHK_OK)
			return -1;
		if (fiat[0])
			json_object_object_add(t, "amount_fiat", json_object_new_string(fiat));
	}
	return 0;
}

/* What SHKeeper said and what came of it, kept with the claim; a failure to keep it changes nothing else. */
static void remember(struct db *db, const char *id, const char *said, const char *outcome)
{
	const char *p[3] = { id, said[0] ? said : NULL, outcome };

	if (db_exec(db, NULL, "UPDATE shkeeper_polls SET last_status = $2, last_outcome = $3 WHERE payment_id = $1",
	            3, p) != DB_OK)
		log_warn("payment %s: what the poll found was not kept", id);
}

void shk_poll_one(struct db *db, const struct config *cfg, const PGresult *pay, int r, const char *actor,
                  const char *request_id, char said[33], struct shk_applied *a)
{
	const char *id = PQgetvalue(pay, r, PCOL_ID), *external_id = PQgetvalue(pay, r, PCOL_EXTERNAL_ID);
	const char *crypto = PQgetisnull(pay, r, SHK_POLL_CRYPTO) ? NULL : PQgetvalue(pay, r, SHK_POLL_CRYPTO);
	json_object *inv = NULL, *report = NULL;
	const char *status;
	char msg[300];

	assert(!db->in_tx);
	memset(a, 0, sizeof(*a));
	said[0] = '\0';
	snprintf(a->payment, sizeof(a->payment), "%s", id);
	/* After this point, all errors should use goto out. */
	switch (shk_invoice_lookup(cfg, external_id, &inv, msg, sizeof(msg))) {
	case SHK_OK:
		break;
	case SHK_UNAVAILABLE:
	case SHK_REFUSED:
		snprintf(a->note, sizeof(a->note), "%s", msg);
		a->outcome = "received";
		a->detail = a->note;
		a->retry_later = true;
		goto out;
	}
	if (inv == NULL) {
		snprintf(said, 33, "UNKNOWN");
		a->outcome = "unknown_payment";
		a->detail = "SHKeeper knows no invoice with this external id";
		goto out;
	}
	status = member(inv, "status");
	if (status == NULL || strlen(status) > 32 || strspn(status, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_") !=
	                                                 strlen(status)) {
		a->outcome = "ignored";
		a->detail = "SHKeeper's invoice has no status we can read";
		goto out;
	}
	snprintf(said, 33, "%s", status);
	report = report_of(inv, external_id, crypto);
	if (strcmp(PQgetvalue(pay, r, SHK_POLL_REPRICED), "t") == 0 &&
	    add_fiat_values(cfg, report, external_id, crypto, msg, sizeof(msg)) != 0) {
		snprintf(a->note, sizeof(a->note), "%s", msg);
		a->outcome = "received";
		a->detail = a->note;
		a->retry_later = true;
		goto out;
	}
	struct shk_claim claim = {
		.report = report, .external_id = external_id, .status = status, .source = "shkeeper", .actor = actor,
		.how = "SHKeeper invoice lookup", .request_id = request_id,
	};
	shk_apply(db, cfg, &claim, a);
out:
	if (a->outcome)
		remember(db, id, said, a->outcome);
	json_object_put(report);
	json_object_put(inv);
}
