#include "flow/bvnkpayout.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "base/breaker.h"
#include "base/log.h"
#include "bvnk/bvnk.h"
#include "pay/payout.h"
#include "pay/payout_call.h"

/* One payout being taken forward: its row's figures, and who asks. */
struct job {
	struct db *db;
	const struct config *cfg;
	const PGresult *out;
	char id[40];
	const char *network, *token, *recipient, *amount;
	struct prov_source src;
};

static bool is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static const char *col(const PGresult *r, int c)
{
	return PQgetisnull(r, 0, c) ? NULL : PQgetvalue(r, 0, c);
}

static void job_init(struct job *j, struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                     const char *request_id, struct prov_outcome *o)
{
	memset(o, 0, sizeof(*o));
	*j = (struct job){
		.db = db, .cfg = cfg, .out = out, .network = col(out, PCOL_NETWORK) ? col(out, PCOL_NETWORK) : "",
		.token = col(out, PCOL_TOKEN) ? col(out, PCOL_TOKEN) : "", .recipient = PQgetvalue(out, 0, PCOL_RECEIVER),
		.amount = PQgetvalue(out, 0, PCOL_AMOUNT),
		.src = { .provider = "bvnk", .actor = actor, .request_id = request_id },
	};
	snprintf(j->id, sizeof(j->id), "%s", PQgetvalue(out, 0, PCOL_ID));
}

static void unavailable(struct prov_outcome *o, enum bvnk_call r, const char *text)
{
	prov_say(o, PROV_UNAVAILABLE, r == BVNK_REFUSED ? "provider_refused" : "provider_unavailable", "%s", text);
	int wait = breaker_retry_after(UPSTREAM_BVNK);
	o->retry_after = wait > 0 ? wait : 10;
}

/* BVNK's word in the payout's metadata: {"bvnk": {uuid, status, onHold}}; caller owns it. */
static json_object *bvnk_meta(const struct bvnk_payout *p, const char *note)
{
	json_object *meta = json_object_new_object(), *b = json_object_new_object();

	if (p && p->uuid[0])
		json_object_object_add(b, "uuid", json_object_new_string(p->uuid));
	if (p && p->status[0])
		json_object_object_add(b, "status", json_object_new_string(p->status));
	if (p)
		json_object_object_add(b, "onHold", json_object_new_boolean(p->on_hold));
	if (note)
		json_object_object_add(b, "note", json_object_new_string(note));
	json_object_object_add(meta, "bvnk", b);
	return meta;
}

/* The payout taken by BVNK (its uuid, when known) and BVNK's word recorded; NULL with o set on failure. */
static PGresult *accept(struct job *j, const struct bvnk_payout *p, const char *note, struct prov_outcome *o)
{
	struct payout_refusal why = { "", "" };
	json_object *meta = bvnk_meta(p, note);
	struct payout_acceptance a = {
		.provider_id = p && p->uuid[0] ? p->uuid : NULL,
		.metadata = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN), .source = "bvnk",
		.actor = j->src.actor, .reason = "BVNK took the payout", .request_id = j->src.request_id,
	};
	PGresult *row = NULL;
	enum payout_result r = payout_accept(j->db, j->id, &a, &row, &why, &o->dbst);

	json_object_put(meta);
	switch (r) {
	case PAYOUT_DONE:
	case PAYOUT_EXISTS:
		return row;
	case PAYOUT_REFUSED:
	case PAYOUT_NOT_FOUND:
		prov_reload(j->db, j->id, o);
		if (r == PAYOUT_REFUSED && prov_overtaken(o, "BVNK", j->id))
			break;
		prov_say(o, PROV_CONFLICT, why.code[0] ? why.code : "not_found", "%s",
		         why.message[0] ? why.message : "the payout is gone");
		break;
	default:
		prov_say(o, PROV_DB, "database", "database error");
		break;
	}
	PQclear(row);
	return NULL;
}

/* The pay-in's escrow as it is now: whether a hold is to be let go (decided again under the lock). */
static bool payin_on_hold(struct job *j)
{
	const char *p[1] = { PQgetvalue(j->out, 0, POCOL_PAYIN) };
	PGresult *res = NULL;
	bool held = db_exec(j->db, &res, "SELECT escrow_state = 'on_hold' FROM payments WHERE id = $1", 1, p) == DB_OK &&
	            PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	PQclear(res);
	return held;
}

static void set_hold(struct job *j, bool hold, const struct bvnk_payout *p, struct prov_outcome *o)
{
	struct payout_refusal why = { "", "" };
	char reason[300];

	snprintf(reason, sizeof(reason), "BVNK holds the transfer of payout %s for review (status %s)", j->id, p->status);
	struct payout_hold h = {
		.hold = hold, .reason = reason, .provider = "bvnk", .provider_status = p->status,
		.delivery_id = j->src.delivery_id, .source = "bvnk", .actor = j->src.actor, .request_id = j->src.request_id,
	};
	switch (payout_set_hold(j->db, j->id, &h, &why, &o->dbst)) {
	case PAYOUT_DONE:
	case PAYOUT_EXISTS:
		prov_reload(j->db, j->id, o);
		prov_say(o, PROV_ACCEPTED, hold ? "on_hold" : "released_from_hold",
		         hold ? "BVNK holds payout %s for review: its escrow is on hold and the admins are told"
		              : "BVNK let payout %s go on: its escrow is no longer on hold", j->id);
		break;
	case PAYOUT_DB:
		prov_say(o, PROV_DB, "database", "database error");
		break;
	default:
		prov_reload(j->db, j->id, o);
		prov_say(o, PROV_CONFLICT, why.code[0] ? why.code : "invalid_state", "%s", why.message);
		break;
	}
}

/* COMPLETE on a network the service cannot check: BVNK's word, said so in the payout. */
static void complete_unchecked(struct job *j, const struct bvnk_payout *p, struct prov_outcome *o)
{
	struct payout_refusal why = { "", "" };
	char note[160];

	snprintf(note, sizeof(note), "completed on BVNK's word: no rpc.%s to check its transaction on", j->network);
	json_object *meta = bvnk_meta(p, note);
	struct payout_settlement s = {
		.completed = true, .tx_hash = p->tx_hash, .metadata = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN),
		.source = "bvnk", .actor = j->src.actor, .reason = note, .request_id = j->src.request_id,
	};
	PGresult *row = NULL;

	switch (payout_settle(j->db, j->id, &s, &row, &why, &o->dbst)) {
	case PAYOUT_DONE:
	case PAYOUT_EXISTS:
		prov_say(o, PROV_COMPLETED, "completed", "%s", note);
		break;
	case PAYOUT_DB:
		prov_say(o, PROV_DB, "database", "database error");
		break;
	default:
		prov_say(o, PROV_CONFLICT, why.code[0] ? why.code : "invalid_state", "%s", why.message);
		break;
	}
	PQclear(row);
	prov_reload(j->db, j->id, o);
}

/* BVNK says the payout was not paid, and the chain shows it was: completed, and a person hears of it. */
static void contradicted(struct job *j, const struct bvnk_payout *p, bool moved, struct prov_outcome *o)
{
	char reason[320];

	snprintf(reason, sizeof(reason), "BVNK says %s of payout %s, but its transaction %s paid it on the chain", p->status,
	         j->id, p->tx_hash);
	struct payout_finding f = {
		.kind = REVIEW_PAYOUT_CONTRADICTED, .reason = reason, .provider = "bvnk", .provider_status = p->status,
		.tx_hash = p->tx_hash, .delivery_id = j->src.delivery_id,
	};
	if (payout_review(j->db, j->id, &f) != DB_OK)
		log_error("payout %s: the finding was not written: %s", j->id, reason);
	log_warn("%s", reason);
	prov_say(o, PROV_COMPLETED, moved ? "completed" : "contradicted", "%s", reason);
}

/* What BVNK says of the payout, applied. */
static void apply(struct job *j, const struct bvnk_payout *p, struct prov_outcome *o)
{
	const struct network_conf *net = config_network(j->cfg, j->network);
	const char *held = col(j->out, PCOL_PROVIDER_ID), *status = PQgetvalue(j->out, 0, PCOL_STATUS);
	bool in_flight = is(status, "pending") || is(status, "processing");
	PGresult *row = NULL;
	char reason[160];

	snprintf(o->provider_status, sizeof(o->provider_status), "%s", p->status);
	j->src.provider_status = p->status;
	if (!is(p->reference, j->id) || (held && !is(held, p->uuid))) {
		prov_reload(j->db, j->id, o);
		prov_say(o, PROV_CONFLICT, "provider_mismatch", "BVNK's payout %s (reference %s) is not payout %s", p->uuid,
		         p->reference, j->id);
		return;
	}
	if (is(p->status, "EXPIRED") || is(p->status, "CANCELLED")) {
		/* A transaction it names outweighs the status: a payout whose money left is never failed, or a
		 * retry would pay twice. Only what the chain cannot show fails it. */
		if (p->tx_hash[0] && net && net->n_rpc > 0) {
			prov_confirm(j->db, j->cfg, j->out, p->tx_hash, &j->src, o);
			if (o->kind == PROV_COMPLETED) {
				contradicted(j, p, in_flight, o);
				return;
			}
			if (o->kind == PROV_PENDING || o->kind == PROV_UNAVAILABLE || o->kind == PROV_DB)
				return;
		}
		snprintf(reason, sizeof(reason), "BVNK says %s", p->status);
		prov_fail(j->db, j->id, is(p->status, "EXPIRED") ? "provider_expired" : "provider_cancelled", reason, &j->src, o);
		return;
	}
	if (!in_flight) {
		/* Settled already: a COMPLETE is checked against it (the same transaction, or a contradiction);
		 * a late PROCESSING is recorded and changes nothing. */
		if (is(p->status, "COMPLETE") && p->tx_hash[0]) {
			prov_confirm(j->db, j->cfg, j->out, p->tx_hash, &j->src, o);
			if (o->kind == PROV_COMPLETED)
				prov_say(o, PROV_COMPLETED, "already_completed", "payout %s was completed already by %s", j->id,
				         p->tx_hash);
			return;
		}
		prov_reload(j->db, j->id, o);
		prov_say(o, PROV_CONFLICT, "late_status", "BVNK says %s of payout %s, which is %s: recorded, not applied",
		         p->status, j->id, status);
		return;
	}
	/* Its uuid and status recorded first: a payout BVNK took is processing whatever comes next. */
	if ((row = accept(j, p, NULL, o)) == NULL)
		return;
	if (is(p->status, "COMPLETE")) {
		if (p->tx_hash[0] == '\0') {
			PQclear(o->row);
			o->row = row;
			prov_say(o, PROV_PENDING, "no_transaction", "BVNK says payout %s is COMPLETE but names no transaction yet", j->id);
			o->retry_after = 60;
		} else if (net && net->n_rpc > 0) {
			prov_confirm(j->db, j->cfg, row, p->tx_hash, &j->src, o);
			PQclear(row);
		} else {
			PQclear(row);
			complete_unchecked(j, p, o);
		}
		return;
	}
	PQclear(o->row);
	o->row = row;
	if (p->on_hold) {
		set_hold(j, true, p, o);
	} else if ((is(p->status, "PROCESSING") || is(p->status, "PENDING")) && payin_on_hold(j)) {
		set_hold(j, false, p, o);
	} else if (is(p->status, "PROCESSING") || is(p->status, "PENDING")) {
		prov_say(o, PROV_ACCEPTED, "accepted", "BVNK has payout %s (%s)", j->id, p->status);
	} else {
		prov_say(o, PROV_ACCEPTED, "status_recorded", "BVNK says %s of payout %s: recorded, not final", p->status, j->id);
	}
}

void bvnkpayout_send(struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                     const char *request_id, struct prov_outcome *o)
{
	struct job j;
	struct payout_call call;
	struct bvnk_payout p;
	char msg[300], text[600];
	const char *status = PQgetvalue(out, 0, PCOL_STATUS);
	const struct network_conf *net;

	job_init(&j, db, cfg, out, actor, request_id, o);
	if (is(status, "completed") || is(status, "failed") || is(status, "cancelled")) {
		prov_reload(db, j.id, o);
		prov_say(o, is(status, "completed") ? PROV_COMPLETED : PROV_FAILED, status, "payout %s is %s", j.id, status);
		return;
	}
	if (is(status, "processing")) {
		if (PQgetisnull(out, 0, PCOL_PROVIDER_ID) && PQgetisnull(out, 0, PCOL_TX)) {
			/* BVNK has it (a duplicate reference said so) but its uuid is not known yet: look it up. */
			bvnkpayout_poll(db, cfg, out, actor, request_id, o);
			return;
		}
		prov_reload(db, j.id, o);
		prov_say(o, PROV_ACCEPTED, "accepted", "payout %s is with BVNK%s%s: nothing is sent again", j.id,
		         PQgetisnull(out, 0, PCOL_PROVIDER_ID) ? "" : " as ",
		         PQgetisnull(out, 0, PCOL_PROVIDER_ID) ? "" : PQgetvalue(out, 0, PCOL_PROVIDER_ID));
		return;
	}
	if ((net = config_network(cfg, j.network)) == NULL || net->bvnk_protocol[0] == '\0') {
		prov_say(o, PROV_CONFLICT, "not_configured", "BVNK payouts are not configured on %s (bvnk_protocol.%s)",
		         j.network, j.network);
		return;
	}
	if ((o->dbst = payout_call_begin(db, j.id, "bvnk", &call)) != DB_OK) {
		prov_say(o, PROV_DB, "database", "database error");
		return;
	}
	if (!call.leased && call.moved) {
		prov_moved_on(db, "BVNK", j.id, o);
		return;
	}
	if (!call.leased) {
		prov_reload(db, j.id, o);
		prov_say(o, PROV_PENDING, "call_in_flight", "a call to BVNK for payout %s is in flight: ask again shortly", j.id);
		o->retry_after = 5;
		return;
	}
	/* After this point, the lease is let go on every path. */
	enum payout_call_state end = call.prior;
	const char *error = NULL;
	/*
	 * An earlier call may have created it: BVNK is asked first, and one it has
	 * is followed, never created again. Sending again would only be answered
	 * "Duplicate Reference" if BVNK checked that before anything else; a
	 * refusal it gives first (its balance, spent by the payout it made) would
	 * fail a payout that is being paid.
	 */
	if (payout_call_may_exist(call.prior)) {
		enum bvnk_call f = bvnk_find_payout(cfg, j.id, &p, msg, sizeof(msg));
		if (f == BVNK_OK) {
			end = PCALL_ACCEPTED;
			apply(&j, &p, o);
			goto done;
		}
		if (f != BVNK_NOT_FOUND) {
			error = msg;
			snprintf(text, sizeof(text), "payout %s may be with BVNK already, and BVNK cannot be asked: %s", j.id, msg);
			unavailable(o, f, text);
			goto done;
		}
	}
	if ((o->dbst = payout_call_sending(db, j.id)) != DB_OK) {
		prov_say(o, PROV_DB, "database", "database error");
		goto done;
	}
	/* A repeat of a call that may have landed is safe here: BVNK takes a reference once. */
	struct bvnk_payout_request rq = {
		.reference = j.id, .amount = j.amount, .currency = j.token, .address = j.recipient, .protocol = net->bvnk_protocol,
	};
	assert(!db->in_tx);    /* the call is recorded (payout_call_begin) and committed first */
	enum bvnk_call r = bvnk_create_payout(cfg, &rq, &p, msg, sizeof(msg));
	log_info("payout %s: BVNK payout call (%s %s to %s): %s: %s", j.id, j.amount, j.token, j.recipient,
	         bvnk_call_name(r), r == BVNK_OK ? p.uuid : msg);
	switch (r) {
	case BVNK_OK:
		end = PCALL_ACCEPTED;
		apply(&j, &p, o);
		break;
	case BVNK_DUPLICATE: {
		/* The first call landed: find it, never create another. */
		end = PCALL_ACCEPTED;
		enum bvnk_call f = bvnk_find_payout(cfg, j.id, &p, msg, sizeof(msg));
		if (f == BVNK_OK) {
			apply(&j, &p, o);
			break;
		}
		PGresult *row = accept(&j, NULL, "BVNK has this reference already; its uuid comes with its webhook", o);
		if (row == NULL)
			break;
		PQclear(o->row);
		o->row = row;
		prov_say(o, PROV_ACCEPTED, "accepted", "BVNK already has payout %s (duplicate reference): it is followed from BVNK's webhook",
		         j.id);
		break;
	}
	case BVNK_REFUSED:
		end = PCALL_REFUSED;
		error = msg;
		prov_fail(db, j.id, "provider_refused", msg, &j.src, o);
		break;
	case BVNK_UNCERTAIN:
		end = PCALL_UNKNOWN;
		error = msg;
		prov_say(o, PROV_UNCERTAIN, "provider_uncertain",
		         "BVNK may have received payout %s (%s): a retry sends the same reference, which BVNK takes once", j.id, msg);
		o->retry_after = 10;
		break;
	case BVNK_NOT_FOUND:
	case BVNK_UNAVAILABLE:
		error = msg;
		snprintf(text, sizeof(text), "payout %s was not sent: %s", j.id, msg);
		unavailable(o, r, text);
		break;
	}
done:
	if (payout_call_end(db, j.id, end, error) != DB_OK)
		log_error("payout %s: the end of its BVNK call (%s) was not recorded; the lease lapses by itself", j.id,
		          payout_call_state_name(end));
	if (o->row == NULL && o->kind != PROV_DB)
		prov_reload(db, j.id, o);
}

void bvnkpayout_poll(struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                     const char *request_id, struct prov_outcome *o)
{
	struct job j;
	struct bvnk_payout p;
	char msg[300], text[600];
	const char *status = PQgetvalue(out, 0, PCOL_STATUS), *uuid = col(out, PCOL_PROVIDER_ID);
	enum bvnk_call r;

	job_init(&j, db, cfg, out, actor, request_id, o);
	if (!is(status, "pending") && !is(status, "processing")) {
		prov_reload(db, j.id, o);
		prov_say(o, is(status, "completed") ? PROV_COMPLETED : PROV_FAILED, status, "payout %s is %s", j.id, status);
		return;
	}
	if (uuid == NULL && is(status, "pending")) {
		prov_reload(db, j.id, o);
		prov_say(o, PROV_PENDING, "not_sent", "payout %s has not reached BVNK yet: POST /bvnk/payout sends it", j.id);
		return;
	}
	r = uuid ? bvnk_get_payout(cfg, uuid, &p, msg, sizeof(msg)) : bvnk_find_payout(cfg, j.id, &p, msg, sizeof(msg));
	if (r == BVNK_OK) {
		apply(&j, &p, o);
	} else if (r == BVNK_NOT_FOUND && uuid == NULL) {
		prov_reload(db, j.id, o);
		prov_say(o, PROV_ACCEPTED, "not_listed", "BVNK has payout %s but does not list it yet: %s", j.id, msg);
	} else if (r == BVNK_NOT_FOUND) {
		prov_reload(db, j.id, o);
		prov_say(o, PROV_CONFLICT, "provider_lost", "BVNK no longer knows payout %s (%s): a person must look", j.id, uuid);
	} else {
		snprintf(text, sizeof(text), "BVNK's payout %s cannot be read now: %s", j.id, msg);
		unavailable(o, r, text);
	}
	if (o->row == NULL && o->kind != PROV_DB)
		prov_reload(db, j.id, o);
}

void bvnkpayout_webhook(struct db *db, const struct config *cfg, const PGresult *out, const char *uuid,
                        long long delivery_id, const char *request_id, struct prov_outcome *o)
{
	struct job j;
	struct bvnk_payout p;
	char msg[300], text[600];
	const char *held = col(out, PCOL_PROVIDER_ID);

	job_init(&j, db, cfg, out, "bvnk", request_id, o);
	j.src.delivery_id = delivery_id;
	if (held && !is(held, uuid)) {
		prov_reload(db, j.id, o);
		prov_say(o, PROV_CONFLICT, "provider_mismatch", "the webhook names BVNK payout %s; payout %s is BVNK's %s", uuid,
		         j.id, held);
		return;
	}
	/* A webhook only says where to look: BVNK's API says what is. */
	enum bvnk_call r = bvnk_get_payout(cfg, uuid, &p, msg, sizeof(msg));
	if (r == BVNK_OK) {
		apply(&j, &p, o);
	} else if (r == BVNK_NOT_FOUND) {
		prov_reload(db, j.id, o);
		prov_say(o, PROV_CONFLICT, "provider_unknown", "BVNK's API knows no payout %s: the webhook is not applied", uuid);
	} else {
		snprintf(text, sizeof(text), "BVNK's payout %s cannot be read now (%s): the webhook waits", uuid, msg);
		unavailable(o, r, text);
	}
	if (o->row == NULL && o->kind != PROV_DB)
		prov_reload(db, j.id, o);
}
