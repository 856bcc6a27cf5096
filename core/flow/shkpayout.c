#include "flow/shkpayout.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/breaker.h"
#include "base/log.h"
#include "base/money.h"
#include "flow/reconcile.h"
#include "pay/payout.h"
#include "pay/payout_call.h"
#include "pay/review.h"
#include "shkeeper/shkeeper.h"

/* How long after a lost call an admin's "nothing was paid" is believed: SHKeeper's wallet sends within minutes. */
#define SHK_RECHECK_SECONDS 600
/* How long a failed payout waits on its wallet's unmined transactions before a person hears of it. */
#define SHK_UNMINED_REPORT_SECONDS 3600

/* One payout being taken forward: its row's figures, and who asks. */
struct job {
	struct db *db;
	const struct config *cfg;
	const PGresult *out;
	char id[40];
	char crypto[24];
	const char *recipient, *amount;
	struct prov_source src;
};

static int job_init(struct job *j, struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                    const char *request_id, struct prov_outcome *o)
{
	const char *network = PQgetisnull(out, 0, PCOL_NETWORK) ? "" : PQgetvalue(out, 0, PCOL_NETWORK);
	const char *token = PQgetisnull(out, 0, PCOL_TOKEN) ? "" : PQgetvalue(out, 0, PCOL_TOKEN);

	memset(o, 0, sizeof(*o));
	*j = (struct job){
		.db = db, .cfg = cfg, .out = out, .recipient = PQgetvalue(out, 0, PCOL_RECEIVER),
		.amount = PQgetvalue(out, 0, PCOL_AMOUNT),
		.src = { .provider = "shkeeper", .actor = actor, .request_id = request_id },
	};
	snprintf(j->id, sizeof(j->id), "%s", PQgetvalue(out, 0, PCOL_ID));
	if (shk_crypto_name(network, token, j->crypto) != 0) {
		prov_say(o, PROV_CONFLICT, "not_payable", "payout %s is in %s on %s, which SHKeeper has no crypto for", j->id,
		         token, network);
		return -1;
	}
	return 0;
}

static bool is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static void unavailable(struct prov_outcome *o, enum shk_call r, const char *text)
{
	prov_say(o, PROV_UNAVAILABLE, r == SHK_CALL_REFUSED ? "provider_refused" : "provider_unavailable", "%s", text);
	int wait = breaker_retry_after(UPSTREAM_SHKEEPER);
	o->retry_after = wait > 0 ? wait : 10;
}

/* Records a provider's status in the payout, moving it to processing; o answers on failure. */
static PGresult *accept(struct job *j, const char *task_id, json_object *meta, struct prov_outcome *o)
{
	struct payout_refusal why = { "", "" };
	struct payout_acceptance a = {
		.provider_id = task_id, .metadata = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN),
		.source = "shkeeper", .actor = j->src.actor, .reason = "SHKeeper took the payout", .request_id = j->src.request_id,
	};
	PGresult *row = NULL;

	switch (payout_accept(j->db, j->id, &a, &row, &why, &o->dbst)) {
	case PAYOUT_DONE:
	case PAYOUT_EXISTS:
		return row;
	case PAYOUT_REFUSED:
	case PAYOUT_NOT_FOUND:
		/* SHKeeper's callback may complete it before its create call is answered. */
		prov_reload(j->db, j->id, o);
		if (o->row && is(PQgetvalue(o->row, 0, PCOL_STATUS), "completed"))
			prov_say(o, PROV_COMPLETED, "completed", "payout %s is completed", j->id);
		else
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

static json_object *shk_meta(const char *member, json_object *value)
{
	json_object *meta = json_object_new_object(), *shk = json_object_new_object();

	json_object_object_add(shk, member, value);
	json_object_object_add(meta, "shkeeper", shk);
	return meta;
}

/* A transfer fits the failed payout but does not verify as it: a person decides; the payout stays open. */
static void fits_unverified(struct job *j, const char *reason, const struct reconcile_outcome *r,
                            struct prov_outcome *o)
{
	char text[900];

	snprintf(text, sizeof(text), "SHKeeper says payout %s failed (%.200s), but transfer %s fits it and does not"
	         " verify: %.400s", j->id, reason, r->tx_hash, r->message);
	prov_finding(j->db, j->id, REVIEW_PAYOUT_CONTRADICTED, text, r->tx_hash, &j->src, NULL, o);
	prov_say(o, PROV_CONFLICT, "sent_despite_failure", "%s", text);
}

/*
 * A wallet whose transactions stay unmined (one stuck on too low a fee holds
 * back every later one) would keep a failed payout waiting for ever: after an
 * hour since the call a person hears of it, once.
 */
static void stuck_unmined(struct job *j, const char *reason, struct prov_outcome *o)
{
	char text[600];
	long quiet = 0;

	if (payout_call_quiet(j->db, j->id, &quiet) != DB_OK || quiet < SHK_UNMINED_REPORT_SECONDS)
		return;
	snprintf(text, sizeof(text), "SHKeeper says payout %s failed (%.200s), and its payout wallet has had transactions"
	         " waiting unmined for over an hour since the call: one may be this payout's. Check the wallet before"
	         " anything is paid again", j->id, reason);
	prov_finding(j->db, j->id, REVIEW_PAYOUT_CONTRADICTED, text, NULL, &j->src, NULL, o);
}

/*
 * SHKeeper's wallet reports a failed task for an exception anywhere in it,
 * also after its transaction went out (a receipt it gave up waiting for), and
 * a failed entry of a task that ran: the payout fails only when the chain,
 * asked up to its newest block, shows nothing that could be it, SHKeeper's
 * wallet has nothing waiting to be mined, and SHKeeper's wallet has had
 * SHK_RECHECK_SECONDS since the call to send. A lone transfer that fits is
 * followed instead (recorded once final, then completing the payout); one
 * that fits but does not verify, or several that could be it, go to a person
 * and the payout stays open.
 */
static void fail_unless_sent(struct job *j, const char *reason, struct prov_outcome *o)
{
	struct reconcile_outcome r;
	long quiet = 0;

	reconcile_one(j->db, j->cfg, j->id, RECONCILE_ANY_BLOCK, j->src.actor, j->src.request_id, &r);
	snprintf(o->tx_hash, sizeof(o->tx_hash), "%s", r.tx_hash);
	switch (r.kind) {
	case RECONCILE_SETTLED:     /* settled meanwhile: prov_fail() says how, and reports a contradiction */
		prov_fail(j->db, j->id, "provider_failed", reason, &j->src, o);
		return;
	case RECONCILE_NONE:
		if ((o->dbst = payout_call_quiet(j->db, j->id, &quiet)) != DB_OK) {
			prov_say(o, PROV_DB, "database", "database error");
			return;
		}
		if (quiet < SHK_RECHECK_SECONDS) {
			prov_say(o, PROV_PENDING, "failure_unconfirmed",
			         "SHKeeper says payout %s failed (%s) and the chain shows nothing of it yet: it fails once %d"
			         " minutes have passed since the call with still nothing", j->id, reason, SHK_RECHECK_SECONDS / 60);
			o->retry_after = (int)(SHK_RECHECK_SECONDS - quiet);
			break;
		}
		prov_fail(j->db, j->id, "provider_failed", reason, &j->src, o);
		return;
	case RECONCILE_REFUSED:
		if (r.tx_hash[0] == '\0') {
			/* The chain cannot be asked about this payout (a network's configuration at fault): nothing is decided. */
			prov_say(o, PROV_UNAVAILABLE, "not_verifiable",
			         "SHKeeper says payout %s failed (%s), and the chain cannot be asked about it: %s", j->id, reason,
			         r.message);
			o->retry_after = 60;
			break;
		}
		fits_unverified(j, reason, &r, o);
		break;
	case RECONCILE_COMPLETED:
		prov_say(o, PROV_COMPLETED, "completed", "SHKeeper says payout %s failed (%s), but the chain shows it paid: %s",
		         j->id, reason, r.message);
		break;
	case RECONCILE_WAITING:
		if (r.unmined) {
			prov_say(o, PROV_PENDING, "failure_unconfirmed",
			         "SHKeeper says payout %s failed (%s), but its wallet has transactions not mined yet, and one may"
			         " be this payout's: it waits for them", j->id, reason);
			stuck_unmined(j, reason, o);
		} else
			prov_say(o, PROV_PENDING, "sent_despite_failure", "SHKeeper says payout %s failed (%s), but %s", j->id,
			         reason, r.message);
		o->retry_after = 15;
		break;
	case RECONCILE_AMBIGUOUS:
		prov_say(o, PROV_CONFLICT, "sent_despite_failure", "SHKeeper says payout %s failed (%s), but %s", j->id, reason,
		         r.message);
		break;
	case RECONCILE_UNAVAILABLE:
		prov_say(o, PROV_UNAVAILABLE, "chain_unavailable",
		         "SHKeeper says payout %s failed (%s); the chain, asked first, cannot answer now: %s", j->id, reason,
		         r.message);
		o->retry_after = 10;
		break;
	case RECONCILE_DB:
		o->dbst = DB_UNAVAILABLE;
		prov_say(o, PROV_DB, "database", "database error");
		return;
	}
	prov_reload(j->db, j->id, o);
}

/* SHKeeper's record of the payout, by external id: what it says, applied. */
static void apply_state(struct job *j, const struct shk_payout_state *st, struct prov_outcome *o)
{
	char ours[MONEY_TEXT_MAX];
	PGresult *row;

	snprintf(o->provider_status, sizeof(o->provider_status), "%s", st->status);
	j->src.provider_status = st->status;
	/* Our external id on another destination or amount would be someone else's payout: never taken as ours. */
	if ((st->destination[0] && strcasecmp(st->destination, j->recipient) != 0) ||
	    (st->amount[0] && (money_parse(j->amount, MONEY_MAX_SCALE, ours) != MONEY_OK || strcmp(ours, st->amount) != 0))) {
		prov_say(o, PROV_CONFLICT, "provider_mismatch",
		         "SHKeeper's payout %lld with external id %s pays %s %s, not %s %s: a person must look", st->id, j->id,
		         st->amount, st->destination, j->amount, j->recipient);
		return;
	}
	if (is(st->status, "FAIL")) {
		char reason[160];
		snprintf(reason, sizeof(reason), "SHKeeper's payout %lld says FAIL", st->id);
		fail_unless_sent(j, reason, o);
		return;
	}
	json_object *detail = json_object_new_object();
	json_object_object_add(detail, "payoutId", json_object_new_int64(st->id));
	json_object_object_add(detail, "status", json_object_new_string(st->status));
	json_object *meta = shk_meta("payout", detail);
	row = accept(j, NULL, meta, o);
	json_object_put(meta);
	if (row == NULL)
		return;
	if (is(st->status, "SUCCESS") && st->txid[0]) {
		prov_confirm(j->db, j->cfg, row, st->txid, &j->src, o);
		PQclear(row);
		return;
	}
	PQclear(o->row);
	o->row = row;
	prov_say(o, PROV_ACCEPTED, "accepted", "SHKeeper has payout %s (its payout %lld, %s)", j->id, st->id, st->status);
}

/* Is there a payout with our external id at SHKeeper? 1 yes (applied), 0 it has no record, -1 cannot tell (o says). */
static int ask_first(struct job *j, struct prov_outcome *o)
{
	struct shk_payout_state st;
	char msg[300];
	enum shk_call r = shk_payout_status(j->cfg, j->crypto, j->id, &st, msg, sizeof(msg));

	if (r == SHK_CALL_OK) {
		log_warn("payout %s: SHKeeper already has it (its payout %lld, %s): taken as ours, not sent again", j->id, st.id,
		         st.status);
		apply_state(j, &st, o);
		return 1;
	}
	if (r == SHK_CALL_NOT_FOUND) {
		log_info("payout %s: SHKeeper has no payout with its id", j->id);
		return 0;
	}
	char text[600];
	snprintf(text, sizeof(text), "whether SHKeeper received the earlier call for payout %s cannot be told now (%s): "
	         "nothing is sent until it can", j->id, msg);
	unavailable(o, r, text);
	return -1;
}

/*
 * SHKeeper hands a payout to its wallet first and records it after: a call
 * answered with a timeout or a 500 may have paid with no record to show for
 * it, and SHKeeper's own duplicate check would let a second call pay again.
 * Its "no record" is no proof; an admin who looked at SHKeeper's payout
 * wallet on the chain is, where a look can settle it: not once SHKeeper
 * answered with a task (it holds the payout whatever its status says), and
 * not before its wallet has had time to send. True, with o answered, when the
 * call must not be made again.
 */
static bool resend_refused(const struct job *j, const struct payout_call *call, bool checked_not_sent,
                           struct prov_outcome *o)
{
	if (!checked_not_sent)
		prov_say(o, PROV_UNCERTAIN, "provider_unconfirmed",
		         "SHKeeper has no record of payout %s, but it records a payout only after its wallet took it, so"
		         " the earlier call may have paid: nothing is sent again on that word. Its transfer on the chain"
		         " completes it (the reconcile job, or confirm-tx with the hash); an admin sure that none was"
		         " made asks again with \"checkedNotSent\": true", j->id);
	else if (call->prior == PCALL_ACCEPTED)
		prov_say(o, PROV_UNCERTAIN, "provider_unconfirmed", "SHKeeper answered an earlier call for payout %s"
		         " with a task, so it holds the payout whatever its status says: nothing is sent again;"
		         " look at SHKeeper itself", j->id);
	else if (call->quiet_seconds < SHK_RECHECK_SECONDS) {
		prov_say(o, PROV_UNCERTAIN, "provider_unconfirmed", "the earlier call for payout %s was %lds ago:"
		         " SHKeeper's wallet may not have sent it yet, so the chain proves nothing before %d minutes"
		         " have passed; ask again then", j->id, call->quiet_seconds, SHK_RECHECK_SECONDS / 60);
		o->retry_after = (int)(SHK_RECHECK_SECONDS - call->quiet_seconds);
	} else
		return false;
	return true;
}

void shkpayout_send(struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                    const char *request_id, bool checked_not_sent, struct prov_outcome *o)
{
	struct job j;
	struct payout_call call;
	char task[SHK_TASK_ID_MAX], msg[300], callback[512], text[600];
	const char *status = PQgetvalue(out, 0, PCOL_STATUS);

	if (job_init(&j, db, cfg, out, actor, request_id, o) != 0)
		return;
	if (is(status, "completed") || is(status, "failed") || is(status, "cancelled")) {
		prov_reload(db, j.id, o);
		prov_say(o, is(status, "completed") ? PROV_COMPLETED : PROV_FAILED, status, "payout %s is %s", j.id, status);
		return;
	}
	if (is(status, "processing")) {
		if (PQgetisnull(out, 0, PCOL_PROVIDER_ID) && PQgetisnull(out, 0, PCOL_TX)) {
			/* Taken over from SHKeeper's status without a task id: follow it by external id. */
			shkpayout_poll(db, cfg, out, actor, request_id, o);
			return;
		}
		prov_reload(db, j.id, o);
		prov_say(o, PROV_ACCEPTED, "accepted", "payout %s is with SHKeeper%s%s: nothing is sent again", j.id,
		         PQgetisnull(out, 0, PCOL_PROVIDER_ID) ? "" : " as task ",
		         PQgetisnull(out, 0, PCOL_PROVIDER_ID) ? "" : PQgetvalue(out, 0, PCOL_PROVIDER_ID));
		return;
	}
	if ((o->dbst = payout_call_begin(db, j.id, "shkeeper", &call)) != DB_OK) {
		prov_say(o, PROV_DB, "database", "database error");
		return;
	}
	if (!call.leased && call.moved) {
		prov_moved_on(db, "SHKeeper", j.id, o);
		return;
	}
	if (!call.leased) {
		prov_reload(db, j.id, o);
		prov_say(o, PROV_PENDING, "call_in_flight", "a call to SHKeeper for payout %s is in flight: ask again shortly", j.id);
		o->retry_after = 5;
		return;
	}
	/* After this point, the lease is let go on every path. */
	enum payout_call_state end = call.prior;
	const char *error = NULL;
	if (payout_call_may_exist(call.prior)) {
		int found = ask_first(&j, o);
		if (found != 0) {
			end = found > 0 ? PCALL_ACCEPTED : call.prior;
			error = found > 0 ? NULL : o->message;
			goto done;
		}
		if (resend_refused(&j, &call, checked_not_sent, o)) {
			error = o->message;
			goto done;
		}
		log_warn("payout %s: %s checked that SHKeeper's earlier call paid nothing: the call is made again", j.id, actor);
	}
	if ((o->dbst = payout_call_sending(db, j.id)) != DB_OK) {
		prov_say(o, PROV_DB, "database", "database error");
		goto done;
	}
	snprintf(callback, sizeof(callback), "%s/api/payment/shkeeper/payout/webhook", cfg->public_base_url);
	struct shk_payout_request rq = {
		.crypto = j.crypto, .external_id = j.id, .destination = j.recipient, .amount = j.amount,
		.callback_url = callback,
	};
	assert(!db->in_tx);    /* the call is recorded (payout_call_begin) and committed first */
	enum shk_call r = shk_payout_create(cfg, &rq, task, msg, sizeof(msg));
	log_info("payout %s: SHKeeper payout call (%s %s to %s): %s: %s", j.id, j.amount, j.crypto, j.recipient,
	         shk_call_name(r), r == SHK_CALL_OK ? task : msg);
	switch (r) {
	case SHK_CALL_OK: {
		json_object *meta = shk_meta("taskId", json_object_new_string(task));
		PGresult *row = accept(&j, task, meta, o);
		json_object_put(meta);
		/* SHKeeper has it whatever our database says: a later call asks it first. */
		end = PCALL_ACCEPTED;
		if (row == NULL)
			break;
		PQclear(o->row);
		o->row = row;
		prov_say(o, PROV_ACCEPTED, "accepted", "SHKeeper took payout %s as task %s", j.id, task);
		break;
	}
	case SHK_CALL_DUPLICATE: {
		int found = ask_first(&j, o);
		end = found > 0 ? PCALL_ACCEPTED : PCALL_UNKNOWN;
		if (found == 0) {
			prov_say(o, PROV_UNCERTAIN, "provider_inconsistent",
			         "SHKeeper refuses payout %s as a duplicate but knows no payout with its id: a person must look", j.id);
			error = o->message;
		}
		break;
	}
	case SHK_CALL_REFUSED:
		end = PCALL_REFUSED;
		error = msg;
		prov_fail(db, j.id, "provider_refused", msg, &j.src, o);
		break;
	case SHK_CALL_UNCERTAIN:
		end = PCALL_UNKNOWN;
		error = msg;
		prov_say(o, PROV_UNCERTAIN, "provider_uncertain",
		         "SHKeeper may have received payout %s (%s): before anything is sent again, SHKeeper is asked whether it has it",
		         j.id, msg);
		o->retry_after = 10;
		break;
	case SHK_CALL_NOT_FOUND:
	case SHK_CALL_UNAVAILABLE:
		/* Nothing left: the previous state stands. */
		error = msg;
		snprintf(text, sizeof(text), "payout %s was not sent: %s", j.id, msg);
		unavailable(o, r, text);
		break;
	}
done:
	if (payout_call_end(db, j.id, end, error) != DB_OK)
		log_error("payout %s: the end of its SHKeeper call (%s) was not recorded; the lease lapses by itself", j.id,
		          payout_call_state_name(end));
	if (o->row == NULL && o->kind != PROV_DB)
		prov_reload(db, j.id, o);
}

void shkpayout_poll(struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                    const char *request_id, struct prov_outcome *o)
{
	struct job j;
	char msg[300], text[600];
	const char *status = PQgetvalue(out, 0, PCOL_STATUS);

	if (job_init(&j, db, cfg, out, actor, request_id, o) != 0)
		return;
	if (!is(status, "pending") && !is(status, "processing")) {
		prov_reload(db, j.id, o);
		prov_say(o, is(status, "completed") ? PROV_COMPLETED : PROV_FAILED, status, "payout %s is %s", j.id, status);
		return;
	}
	/* A transfer SHKeeper named already, not final then: the chain decides now. */
	if (!PQgetisnull(out, 0, PCOL_TX)) {
		prov_confirm(db, cfg, out, PQgetvalue(out, 0, PCOL_TX), &j.src, o);
		return;
	}
	if (!PQgetisnull(out, 0, PCOL_PROVIDER_ID)) {
		struct shk_task t;
		const char *task = PQgetvalue(out, 0, PCOL_PROVIDER_ID);
		enum shk_call r = shk_payout_task(cfg, j.crypto, task, j.recipient, &t, msg, sizeof(msg));
		if (r != SHK_CALL_OK) {
			snprintf(text, sizeof(text), "SHKeeper's task for payout %s cannot be read now: %s", j.id, msg);
			unavailable(o, r, text);
			prov_reload(db, j.id, o);
			return;
		}
		snprintf(o->provider_status, sizeof(o->provider_status), "%s", t.status);
		j.src.provider_status = t.status;
		if (t.final && t.failed) {
			fail_unless_sent(&j, t.error, o);
		} else if (t.final && t.txid[0]) {
			prov_confirm(db, cfg, out, t.txid, &j.src, o);
		} else {
			prov_reload(db, j.id, o);
			prov_say(o, PROV_ACCEPTED, t.final ? "no_transaction" : "accepted", "SHKeeper's task %s is %s%s", task,
			         t.status, t.final ? ", naming no transaction to the recipient" : "");
		}
		return;
	}
	if (is(status, "pending")) {
		prov_reload(db, j.id, o);
		prov_say(o, PROV_PENDING, "not_sent", "payout %s has not reached SHKeeper yet: POST /shkeeper/payout sends it", j.id);
		return;
	}
	struct shk_payout_state st;
	enum shk_call r = shk_payout_status(cfg, j.crypto, j.id, &st, msg, sizeof(msg));
	if (r == SHK_CALL_OK) {
		apply_state(&j, &st, o);
	} else if (r == SHK_CALL_NOT_FOUND) {
		prov_say(o, PROV_CONFLICT, "provider_lost", "SHKeeper no longer knows payout %s, which it had: a person must look",
		         j.id);
	} else {
		snprintf(text, sizeof(text), "SHKeeper's payout status for %s cannot be read now: %s", j.id, msg);
		unavailable(o, r, text);
	}
	if (o->row == NULL && o->kind != PROV_DB)
		prov_reload(db, j.id, o);
}

void shkpayout_callback(struct db *db, const struct config *cfg, const PGresult *out,
                        const struct shk_payout_callback *cb, long long delivery_id, const char *request_id,
                        struct prov_outcome *o)
{
	struct job j;

	if (job_init(&j, db, cfg, out, "shkeeper", request_id, o) != 0)
		return;
	j.src.delivery_id = delivery_id;
	j.src.provider_status = cb->status;
	snprintf(o->provider_status, sizeof(o->provider_status), "%s", cb->status);
	/* SHKeeper calls back on success only; anything else is noted, not acted on. */
	if (!is(cb->status, "SUCCESS")) {
		prov_reload(db, j.id, o);
		prov_say(o, PROV_ACCEPTED, "status_recorded", "SHKeeper says %s: only SUCCESS is acted on", cb->status);
		return;
	}
	if (cb->tx_hash[0] == '\0') {
		prov_reload(db, j.id, o);
		prov_say(o, PROV_CONFLICT, "no_transaction", "SHKeeper's SUCCESS for payout %s names no transaction", j.id);
		return;
	}
	prov_confirm(db, cfg, out, cb->tx_hash, &j.src, o);
}
