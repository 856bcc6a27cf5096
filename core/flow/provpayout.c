#include "flow/provpayout.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "flow/outgoing.h"
#include "pay/payout.h"

void prov_say(struct prov_outcome *o, enum prov_kind kind, const char *code, const char *fmt, ...)
{
	va_list ap;

	o->kind = kind;
	snprintf(o->code, sizeof(o->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(o->message, sizeof(o->message), fmt, ap);
	va_end(ap);
}

const char *prov_kind_name(enum prov_kind k)
{
	switch (k) {
	case PROV_COMPLETED: return "completed";
	case PROV_ACCEPTED: return "accepted";
	case PROV_PENDING: return "pending";
	case PROV_FAILED: return "failed";
	case PROV_CONFLICT: return "invalid_state";
	case PROV_REFUTED: return "refuted";
	case PROV_UNCERTAIN: return "uncertain";
	case PROV_UNAVAILABLE: return "unavailable";
	case PROV_DB: return "database";
	}
	return "unknown";
}

int prov_http_status(const struct prov_outcome *o)
{
	switch (o->kind) {
	case PROV_COMPLETED:
	case PROV_ACCEPTED: return 200;
	case PROV_PENDING: return 202;
	case PROV_FAILED:
	case PROV_CONFLICT: return 409;
	case PROV_REFUTED: return 422;
	case PROV_UNCERTAIN: return 502;
	case PROV_UNAVAILABLE: return 503;
	case PROV_DB: return o->dbst == DB_UNAVAILABLE ? 503 : 500;
	}
	return 500;
}

json_object *prov_outcome_json(const struct prov_outcome *o)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "status", json_object_new_string(prov_kind_name(o->kind)));
	json_object_object_add(d, "code", json_object_new_string(o->code));
	json_object_object_add(d, "message", json_object_new_string(o->message));
	json_object_object_add(d, "providerStatus", o->provider_status[0] ? json_object_new_string(o->provider_status) : NULL);
	json_object_object_add(d, "transactionHash", o->tx_hash[0] ? json_object_new_string(o->tx_hash) : NULL);
	if (o->verified)
		json_object_object_add(d, "verification", verify_result_json(&o->vr, o->decimals));
	if (o->row) {
		json_object_object_add(d, "payoutId", json_object_new_string(PQgetvalue(o->row, 0, PCOL_ID)));
		json_object_object_add(d, "providerPaymentId", PQgetisnull(o->row, 0, PCOL_PROVIDER_ID) ? NULL
		                       : json_object_new_string(PQgetvalue(o->row, 0, PCOL_PROVIDER_ID)));
		json_object_object_add(d, "payout", payout_json(o->row, 0));
	}
	return d;
}

void prov_reload(struct db *db, const char *id, struct prov_outcome *o)
{
	const char *p[1] = { id };
	PGresult *res = NULL;

	if (db_exec(db, &res, "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1", 1, p) == DB_OK &&
	    PQntuples(res) == 1) {
		PQclear(o->row);
		o->row = res;
		return;
	}
	PQclear(res);
}

bool prov_overtaken(struct prov_outcome *o, const char *provider, const char *id)
{
	json_object *meta, *failure, *v;
	const char *status, *code = "provider_failed", *reason = "";

	if (o->row == NULL)
		return false;
	status = PQgetvalue(o->row, 0, PCOL_STATUS);
	if (strcmp(status, "completed") == 0) {
		prov_say(o, PROV_COMPLETED, "completed", "payout %s was completed before %s answered the call that made it",
		         id, provider);
		return true;
	}
	if (strcmp(status, "failed") != 0)
		return false;
	meta = json_tokener_parse(PQgetvalue(o->row, 0, PCOL_METADATA));
	if (json_object_object_get_ex(meta, "failure", &failure)) {
		if (json_object_object_get_ex(failure, "code", &v) && json_object_is_type(v, json_type_string))
			code = json_object_get_string(v);
		if (json_object_object_get_ex(failure, "reason", &v) && json_object_is_type(v, json_type_string))
			reason = json_object_get_string(v);
	}
	prov_say(o, PROV_FAILED, code, "payout %s failed before %s answered the call that made it%s%s; its escrow is"
	         " funded again and a new payout may be opened", id, provider, reason[0] ? ": " : "", reason);
	json_object_put(meta);
	return true;
}

void prov_moved_on(struct db *db, const char *provider, const char *id, struct prov_outcome *o)
{
	prov_reload(db, id, o);
	if (!prov_overtaken(o, provider, id))
		prov_say(o, PROV_ACCEPTED, "accepted", "payout %s is with %s: nothing is sent again", id, provider);
}

const char *prov_sender(const struct config *cfg, const char *provider, const char *network)
{
	const struct network_conf *net = config_network(cfg, network);
	const char *w = net == NULL ? NULL : strcmp(provider, "shkeeper") == 0 ? net->shkeeper_payout_wallet
	                                   : strcmp(provider, "bvnk") == 0 ? net->bvnk_payout_wallet : NULL;

	return w && w[0] ? w : NULL;
}

int prov_network_ready(const struct config *cfg, const char *provider, const char *network, char *err, size_t errlen)
{
	const struct network_conf *net = network ? config_network(cfg, network) : NULL;
	bool shk = strcmp(provider, "shkeeper") == 0;

	if (net == NULL) {
		snprintf(err, errlen, "the pay-in is on no configured network");
		return -1;
	}
	if (shk && (cfg->shkeeper_url[0] == '\0' || cfg->shkeeper_payout_auth == NULL)) {
		snprintf(err, errlen, "SHKeeper payouts are not configured (shkeeper_url, shkeeper_payout_auth_file)");
		return -1;
	}
	if (!shk && (cfg->bvnk_url[0] == '\0' || net->bvnk_protocol[0] == '\0')) {
		snprintf(err, errlen, "BVNK payouts are not configured on %s (bvnk_url, bvnk_protocol.%s)", network, network);
		return -1;
	}
	/* SHKeeper's word is applied only once the chain agrees; BVNK's wherever the chain can be asked. */
	if (shk && net->n_rpc == 0) {
		snprintf(err, errlen, "%s has no rpc.%s to check a SHKeeper payout on", network, network);
		return -1;
	}
	if (net->n_rpc > 0 && prov_sender(cfg, provider, network) == NULL) {
		snprintf(err, errlen, "%s_payout_wallet.%s is not set: the wallet %s pays from is what the chain check holds it to",
		         provider, network, shk ? "SHKeeper" : "BVNK");
		return -1;
	}
	return 0;
}

/* A provider's word no rule can apply: a person looks; with a delivery, its outcome is written alongside. */
void prov_finding(struct db *db, const char *out_id, enum review_kind kind, const char *reason, const char *tx,
                  const struct prov_source *src, const char *inbox_outcome, struct prov_outcome *o)
{
	struct payout_finding f = {
		.kind = kind, .reason = reason, .provider = src->provider, .provider_status = src->provider_status,
		.tx_hash = tx, .delivery_id = src->delivery_id, .inbox_outcome = inbox_outcome,
	};
	enum db_status st = payout_review(db, out_id, &f);

	if (st == DB_OK)
		o->finished = src->delivery_id > 0;
	else
		log_error("payout %s: the finding (%s) was not written: %s", out_id, review_kind_name(kind), reason);
}

void prov_confirm(struct db *db, const struct config *cfg, const PGresult *out, const char *tx_hash,
                  const struct prov_source *src, struct prov_outcome *o)
{
	struct outgoing_outcome oo;
	char id[40], reason[520];

	snprintf(id, sizeof(id), "%s", PQgetvalue(out, 0, PCOL_ID));
	snprintf(o->tx_hash, sizeof(o->tx_hash), "%s", tx_hash);
	outgoing_confirm(db, cfg, out, tx_hash, src->actor, src->request_id, &oo);
	o->verified = oo.verified;
	o->vr = oo.vr;
	o->decimals = oo.decimals;
	PQclear(o->row);
	o->row = oo.row;
	o->dbst = oo.dbst;
	o->retry_after = oo.retry_after;
	switch (oo.kind) {
	case OUTGOING_CONFIRMED:
		prov_say(o, PROV_COMPLETED, "completed", "%s", oo.message);
		break;
	case OUTGOING_PENDING:
		prov_say(o, PROV_PENDING, oo.code, "%s", oo.message);
		if (o->retry_after <= 0)
			o->retry_after = 15;
		break;
	case OUTGOING_REFUSED:
	case OUTGOING_TX_USED:
		snprintf(reason, sizeof(reason), "%s says payout %s was sent by transaction %s, which does not pay it: %s",
		         src->provider, id, tx_hash, oo.message);
		log_error("%s", reason);
		prov_finding(db, id, REVIEW_PAYOUT_REFUTED, reason, tx_hash, src, "rejected", o);
		prov_say(o, PROV_REFUTED, oo.code, "%s", reason);
		break;
	case OUTGOING_CONFLICT:
		if (strcmp(oo.code, "already_completed") == 0 || strcmp(oo.code, "invalid_state") == 0) {
			/* Settled otherwise already: the provider's transaction may be money that left twice. */
			snprintf(reason, sizeof(reason), "%s names transaction %s for payout %s: %s", src->provider, tx_hash, id,
			         oo.message);
			prov_finding(db, id, REVIEW_PAYOUT_CONTRADICTED, reason, tx_hash, src, "ignored", o);
		}
		prov_say(o, PROV_CONFLICT, oo.code, "%s", oo.message);
		break;
	case OUTGOING_UNAVAILABLE:
	case OUTGOING_UPSTREAM:
		prov_say(o, PROV_UNAVAILABLE, oo.code, "%s", oo.message);
		break;
	case OUTGOING_DB:
		prov_say(o, PROV_DB, "database", "database error");
		break;
	}
	if (o->row == NULL && o->kind != PROV_DB)
		prov_reload(db, id, o);
}

void prov_fail(struct db *db, const char *out_id, const char *code, const char *reason,
               const struct prov_source *src, struct prov_outcome *o)
{
	struct payout_refusal why = { "", "" };
	struct payout_settlement s = {
		.completed = false, .failure_code = code, .notify_admins = true, .if_no_hash = true, .source = src->provider,
		.actor = src->actor, .reason = reason, .request_id = src->request_id,
	};
	PGresult *row = NULL;
	char text[520];

	switch (payout_settle(db, out_id, &s, &row, &why, &o->dbst)) {
	case PAYOUT_DONE:
	case PAYOUT_EXISTS:
		prov_say(o, PROV_FAILED, code, "payout %s failed: %s; its escrow is funded again and a new payout may be opened",
		         out_id, reason);
		break;
	case PAYOUT_REFUSED:
		/* Settled on the chain's word already, or holding a transaction the chain decides: the failure contradicts it. */
		snprintf(text, sizeof(text), "%s says payout %s failed (%s), but %s%s", src->provider, out_id, reason,
		         strcmp(why.code, "transaction_recorded") == 0 ? "" : "it is settled: ", why.message);
		prov_reload(db, out_id, o);
		prov_finding(db, out_id, REVIEW_PAYOUT_CONTRADICTED, text,
		        o->row && !PQgetisnull(o->row, 0, PCOL_TX) ? PQgetvalue(o->row, 0, PCOL_TX) : NULL, src, "ignored", o);
		prov_say(o, PROV_CONFLICT, why.code, "%s", text);
		break;
	case PAYOUT_NOT_FOUND:
		prov_say(o, PROV_CONFLICT, "not_found", "payout %s not found", out_id);
		break;
	default:
		prov_say(o, PROV_DB, "database", "database error");
		break;
	}
	PQclear(row);
	if (o->kind != PROV_DB)
		prov_reload(db, out_id, o);
}
