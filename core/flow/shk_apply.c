#include "flow/shk_apply.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/jstr.h"
#include "base/log.h"
#include "flow/shk_onchain.h"
#include "pay/coord.h"
#include "pay/payment.h"
#include "pay/review.h"
#include "shkeeper/shkeeper.h"

const char *shk_claim_member(json_object *obj, const char *name)
{
	json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, name, &v))
		return NULL;
	if (jstr(v) != NULL && json_object_get_string_len(v) <= 128)
		return jstr(v);
	/* SHKeeper sends external_id as a string; a number from an older server is taken as text. */
	if (json_object_is_type(v, json_type_int))
		return json_object_get_string(v);
	return NULL;
}

/* A figure of the callback (an amount, a currency, a crypto name), or NULL when it is not one. */
static const char *figure(json_object *cb, const char *name)
{
	const char *v = shk_claim_member(cb, name);

	if (v == NULL || *v == '\0' || strlen(v) > 64 ||
	    strspn(v, "0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZ-") != strlen(v))
		return NULL;
	return v;
}

/* Columns of the lookup: the payment, then what the on-chain check needs. */
#define CB_CRYPTO_COL 29
/* Receipts checked one by one: well inside the 30 s SHKeeper waits for an answer. */
#define CHECK_SECONDS 20

/*
 * Money SHKeeper reports for an invoice no payment here holds (a database
 * restored from a backup older than the invoice, say): authentic, since the
 * delivery was, and placed by nobody. The admins are told once per figure, in
 * the delivery's transaction, or in one of its own for a replay outside any.
 */
static enum db_status unknown_invoice_review(struct db *db, const struct shk_claim *c, json_object *cb)
{
	char reason[200];
	struct review rv = {
		.kind = REVIEW_UNKNOWN_INVOICE, .reason = reason, .provider = "shkeeper", .provider_status = c->status,
		.seen_crypto = figure(cb, "balance_crypto"), .crypto = figure(cb, "crypto"),
		.seen_fiat = figure(cb, "balance_fiat"), .fiat = figure(cb, "fiat"), .delivery_id = c->delivery,
	};
	bool own = !db->in_tx;
	enum db_status st;

	snprintf(reason, sizeof(reason), "SHKeeper reports %s for invoice %s, which no payment here holds: find whose"
	         " money it is, or return it", c->status, c->external_id);
	if (own && (st = db_begin(db)) != DB_OK)
		return st;
	st = review_write(db, &rv);
	if (own) {
		if (st == DB_OK)
			st = db_commit(db);
		else
			db_rollback(db);
	}
	return st;
}

static void apply_once(struct db *db, const struct config *cfg, const struct shk_claim *c, struct shk_applied *a)
{
	json_object *cb = c->report;
	const char *status = c->status, *source = c->source ? c->source : "shkeeper";
	struct shk_effect effect;
	char txid[67], reason[96];
	PGresult *res = NULL;

	memset(a, 0, sizeof(*a));
	if (shk_map_status(status, &effect) != 0) {
		a->outcome = "ignored";
		a->detail = "status not known to SHKeeper";
		return;
	}
	const char *p[1] = { c->external_id };
	if ((a->st = db_exec(db, &res,
	                     "SELECT " PAYMENT_COLUMNS ", " SHK_CHECK_COLUMNS " FROM payments p"
	                     " WHERE p.provider = 'shkeeper' AND p.external_id = $1", 1, p)) != DB_OK)
		return;
	/* After this point, all errors should use goto out. */
	if (PQntuples(res) == 0) {
		a->outcome = "unknown_payment";
		if (effect.escrow && (a->st = unknown_invoice_review(db, c, cb)) != DB_OK)
			a->outcome = NULL;
		goto out;
	}
	snprintf(a->payment, sizeof(a->payment), "%s", PQgetvalue(res, 0, PCOL_ID));
	if (effect.record_only) {
		a->outcome = "recorded";
		a->detail = "noted; no state change";
		goto out;
	}
	struct coord_delivery d = {
		.inbox_id = c->delivery, .provider = source, .provider_status = status,
		.seen_crypto = figure(cb, "balance_crypto"), .crypto = figure(cb, "crypto"),
		.seen_fiat = figure(cb, "balance_fiat"), .fiat = figure(cb, "fiat"),
		.overpaid = strcmp(status, "OVERPAID") == 0, .overpaid_fiat = figure(cb, "overpaid_fiat"),
	};
	shk_own_txid(cb, PQgetisnull(res, 0, CB_CRYPTO_COL) ? NULL : PQgetvalue(res, 0, CB_CRYPTO_COL), txid);
	snprintf(reason, sizeof(reason), "%s %s", c->how ? c->how : "SHKeeper callback", status);
	struct coord_change change = {
		.status = effect.status, .escrow = effect.escrow, .tx_hash = txid[0] ? txid : NULL,
		.source = source, .actor = c->actor ? c->actor : "shkeeper", .reason = reason,
		.request_id = c->request_id, .delivery = &d,
	};
	/* Funding moves money in our books: SHKeeper's word is held to its own rule, on the chain where checked. */
	if (effect.escrow && strcmp(effect.escrow, "funded") == 0 &&
	    strcmp(PQgetvalue(res, 0, PCOL_STATUS), "completed") != 0) {
		enum onchain oc = ONCHAIN_CONFIRMED;
		if (c->in_tx && !c->chain_checked && cfg->shkeeper_verify_on_chain) {
			a->needs_chain = true;
			goto out;
		}
		if (c->chain_checked)
			snprintf(a->note, sizeof(a->note), "%s", c->chain_checked);
		else
			oc = shk_check_on_chain(cfg, cb, res, CB_CRYPTO_COL, time(NULL) + CHECK_SECONDS, txid, a->note,
			                        sizeof(a->note));
		a->detail = a->note;
		/* The hash recorded is one the check vouches for, not merely the callback's trigger. */
		if (!c->chain_checked)
			change.tx_hash = txid[0] ? txid : NULL;
		if (oc == ONCHAIN_NOT_FINAL || oc == ONCHAIN_UNAVAILABLE) {
			a->outcome = "received";
			a->retry_later = true;
			goto out;
		}
		if (oc == ONCHAIN_REFUTED) {
			log_error("%s says %s paid, but it does not add up: %s", c->how ? c->how : "SHKeeper",
			          c->external_id, a->note);
			/* Nothing moves; the delivery is kept (replayable) and a person hears of the money. */
			d.refuted = a->note;
			change.status = change.escrow = change.tx_hash = NULL;
		}
	} else if (strcmp(PQgetvalue(res, 0, PCOL_STATUS), "completed") == 0) {
		/* Nothing was checked: the callback's hash is not recorded on its word (backfill finds one, verified). */
		change.tx_hash = NULL;
	}
	d.note = a->note[0] ? a->note : NULL;
	switch (c->in_tx ? coord_apply_in(db, a->payment, &change, NULL, &a->st)
	                 : coord_apply(db, a->payment, &change, NULL, &a->st)) {
	case COORD_DB:
		a->outcome = NULL;
		break;
	case COORD_NOT_FOUND:
		a->outcome = "unknown_payment";
		break;
	default:
		a->outcome = d.outcome;
		/* The coordinator's word on the outcome, else what the check found. */
		if (d.detail[0])
			snprintf(a->note, sizeof(a->note), "%s", d.detail);
		a->detail = a->note[0] ? a->note : NULL;
		a->finished = true;
		break;
	}
out:
	PQclear(res);
}

void shk_apply(struct db *db, const struct config *cfg, const struct shk_claim *c, struct shk_applied *a)
{
	enum db_status st;

	if (!c->in_tx) {
		apply_once(db, cfg, c, a);
		return;
	}
	/* Sent with the apply's first statement, which answers for it. */
	if ((st = db_defer(db, "SAVEPOINT shk_apply", 0, NULL)) != DB_OK) {
		memset(a, 0, sizeof(*a));
		a->st = st;
		return;
	}
	/* coord_apply() retries a serialisation failure whole; here it is tried again from the savepoint. */
	for (int i = 0; i < 3; i++) {
		apply_once(db, cfg, c, a);
		if (a->outcome != NULL || a->needs_chain || a->st == DB_UNAVAILABLE)
			return;
		/* What failed is undone; what the caller wrote before the savepoint stays. */
		if (db_exec(db, NULL, "ROLLBACK TO SAVEPOINT shk_apply", 0, NULL) != DB_OK) {
			a->st = DB_UNAVAILABLE;
			return;
		}
		if (a->st != DB_RETRY)
			return;
	}
}
