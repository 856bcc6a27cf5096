#include "flow/outgoing.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>

#include "base/hex.h"
#include "base/log.h"
#include "base/money.h"
#include "evm/chain.h"
#include "evm/eip55.h"
#include "evm/erc20.h"
#include "evm/fees.h"
#include "evm/units.h"
#include "pay/payment.h"

/* What an ERC-20 transfer costs at most when the node cannot estimate it. */
#define DEFAULT_TRANSFER_GAS 100000

static void refuse(struct payout_refusal *why, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(struct payout_refusal *why, const char *code, const char *fmt, ...)
{
	va_list ap;

	snprintf(why->code, sizeof(why->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(why->message, sizeof(why->message), fmt, ap);
	va_end(ap);
}

static void say(struct outgoing_outcome *o, enum outgoing_kind kind, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(struct outgoing_outcome *o, enum outgoing_kind kind, const char *code, const char *fmt, ...)
{
	va_list ap;

	o->kind = kind;
	snprintf(o->code, sizeof(o->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(o->message, sizeof(o->message), fmt, ap);
	va_end(ap);
}

static const char *col(const PGresult *r, int c)
{
	return PQgetisnull(r, 0, c) ? NULL : PQgetvalue(r, 0, c);
}

/* ---- preparing ---- */

/* The pay-in's money in token units, and the token it is in. */
static int amount_of(const struct config *cfg, const PGresult *payin, char amount[48],
                     const struct token_conf **token, struct payout_refusal *why)
{
	const char *id = PQgetvalue(payin, 0, PCOL_ID), *network = col(payin, PCOL_NETWORK);
	const char *symbol = col(payin, PCOL_TOKEN), *contract = col(payin, PCOL_CONTRACT);
	const char *value;
	BIGNUM *v;

	*token = network && symbol ? config_token(cfg, network, symbol) : NULL;
	if (*token == NULL || (contract && strcasecmp(contract, (*token)->contract) != 0)) {
		refuse(why, "token_not_configured", "payment %s is not in a token configured on its network", id);
		return -1;
	}
	if (strcmp(PQgetvalue(payin, 0, PCOL_CURRENCY), symbol) == 0)
		value = PQgetvalue(payin, 0, PCOL_AMOUNT);
	else if ((value = col(payin, PCOL_CRYPTO_AMOUNT)) == NULL) {
		refuse(why, "no_token_amount", "payment %s is priced in %s and records no amount of %s", id,
		       PQgetvalue(payin, 0, PCOL_CURRENCY), symbol);
		return -1;
	}
	v = BN_new();
	int ok = v && units_parse(value, (unsigned)(*token)->decimals, v) == UNITS_OK && !BN_is_zero(v);
	BN_free(v);
	if (!ok) {
		refuse(why, "no_token_amount", "payment %s's amount %s cannot be paid exactly in %s", id, value, symbol);
		return -1;
	}
	snprintf(amount, 48, "%s", value);
	return 0;
}

/* An amount an admin gives (partial, excess, closed money), compared with the pay-in's. */
static int given_amount(const struct token_conf *token, const char *given, const char *payin_amount,
                        bool below_payin, struct payout_refusal *why)
{
	BIGNUM *g = BN_new(), *p = BN_new();
	int rc = -1;

	if (g == NULL || p == NULL || units_parse(given, (unsigned)token->decimals, g) != UNITS_OK || BN_is_zero(g)) {
		refuse(why, "invalid_amount", "amount %s cannot be paid exactly in %s (%d decimals)", given, token->symbol,
		       token->decimals);
		goto out;
	}
	if (below_payin && units_parse(payin_amount, (unsigned)token->decimals, p) == UNITS_OK && BN_cmp(g, p) >= 0) {
		refuse(why, "invalid_amount", "a partly paid pay-in received less than its amount %s %s; %s is not less",
		       payin_amount, token->symbol, given);
		goto out;
	}
	rc = 0;
out:
	BN_free(g);
	BN_free(p);
	return rc;
}

/* Not malformed, not a typo'd checksum, and not a wallet the money would not leave. */
static int check_recipient(const struct config *cfg, const char *address, const char *sender,
                           const struct token_conf *token, char normalised[43], struct payout_refusal *why)
{
	static const uint8_t zero[EIP55_ADDR_LEN];
	uint8_t a[EIP55_ADDR_LEN], other[EIP55_ADDR_LEN];

	switch (eip55_parse(address, a, NULL)) {
	case EIP55_OK:
		break;
	case EIP55_ECHECKSUM:
		refuse(why, "invalid_recipient", "recipient %s fails its EIP-55 checksum: a mistyped address", address);
		return -1;
	default:
		refuse(why, "invalid_recipient", "recipient %s is not an address (0x and 40 hex digits)", address);
		return -1;
	}
	if (memcmp(a, zero, sizeof(a)) == 0) {
		refuse(why, "invalid_recipient", "the zero address burns what is sent to it");
		return -1;
	}
	if (eip55_parse(cfg->escrow_address, other, NULL) == EIP55_OK && memcmp(a, other, sizeof(a)) == 0) {
		refuse(why, "invalid_recipient", "the recipient is the escrow wallet itself");
		return -1;
	}
	if (sender && eip55_parse(sender, other, NULL) == EIP55_OK && memcmp(a, other, sizeof(a)) == 0) {
		refuse(why, "invalid_recipient", "the recipient is the wallet that pays");
		return -1;
	}
	if (eip55_parse(token->contract, other, NULL) == EIP55_OK && memcmp(a, other, sizeof(a)) == 0) {
		refuse(why, "invalid_recipient", "the recipient is the token contract");
		return -1;
	}
	eip55_format(a, normalised);
	return 0;
}

int outgoing_prepare(struct db *db, const struct config *cfg, const PGresult *payin,
                     const struct outgoing_ask *ask, struct outgoing_prep *prep,
                     struct payout_refusal *why, enum db_status *dbst)
{
	const char *basis = ask->basis ? ask->basis : "escrow";
	bool release = strcmp(ask->kind, "release") == 0, escrow = strcmp(basis, "escrow") == 0;
	char registered[43], user[72];
	const char *source;

	memset(prep, 0, sizeof(*prep));
	*dbst = DB_OK;
	if (strcmp(PQgetvalue(payin, 0, PCOL_DIRECTION), "in") != 0) {
		refuse(why, "not_a_payin", "payment %s is an outgoing payment, not a pay-in", PQgetvalue(payin, 0, PCOL_ID));
		return 409;
	}
	if (release && !escrow) {
		refuse(why, "invalid_basis", "a release pays out a funded escrow only");
		return 400;
	}
	/* Checked again under the locks when the payout opens; here to answer before asking the chain. */
	switch (payout_preconditions(db, payin, ask->kind, basis, why, dbst)) {
	case 1:
		break;
	case 0:
		return 409;
	default:
		refuse(why, "database", "database error");
		return *dbst == DB_UNAVAILABLE ? 503 : 500;
	}
	if (amount_of(cfg, payin, prep->amount, &prep->token, why) != 0)
		return 409;
	if (!escrow) {
		if (ask->amount == NULL || ask->reason == NULL) {
			refuse(why, "amount_required", "refunding %s money needs the amount actually received and a reason", basis);
			return 400;
		}
		if (given_amount(prep->token, ask->amount, prep->amount, strcmp(basis, "partial") == 0, why) != 0)
			return 400;
		snprintf(prep->amount, sizeof(prep->amount), "%s", ask->amount);
	} else if (ask->amount) {
		/* The escrow pays out what it holds; a differing amount is a mistake, not a choice. */
		BIGNUM *g = BN_new(), *p = BN_new();
		bool same = g && p && units_parse(ask->amount, (unsigned)prep->token->decimals, g) == UNITS_OK &&
		            units_parse(prep->amount, (unsigned)prep->token->decimals, p) == UNITS_OK && BN_cmp(g, p) == 0;
		BN_free(g);
		BN_free(p);
		if (!same) {
			refuse(why, "amount_mismatch", "the escrow of payment %s holds %s %s; the amount asked (%s) differs",
			       PQgetvalue(payin, 0, PCOL_ID), prep->amount, prep->token->symbol, ask->amount);
			return 409;
		}
	}
	if (ask->recipient) {
		if (ask->reason == NULL || ask->reason[0] == '\0') {
			refuse(why, "reason_required", "an address entered by an admin needs a reason");
			return 400;
		}
		source = RECIPIENT_ADMIN;
		if (check_recipient(cfg, ask->recipient, ask->sender, prep->token, prep->recipient, why) != 0)
			return 400;
	} else {
		int found = payout_registered_recipient(db, payin, ask->kind, registered, user, dbst);
		if (found < 0) {
			refuse(why, "database", "database error");
			return *dbst == DB_UNAVAILABLE ? 503 : 500;
		}
		if (found == 0) {
			refuse(why, "recipient_missing",
			       "%s %s has no %s wallet registered with the marketplace: give recipientAddress and a reason",
			       release ? "the seller" : "the buyer", user[0] ? user : "(unknown)", prep->token->network);
			return 409;
		}
		source = release ? RECIPIENT_SELLER_WALLET : RECIPIENT_BUYER_WALLET;
		if (check_recipient(cfg, registered, ask->sender, prep->token, prep->recipient, why) != 0)
			return 409;
	}
	prep->rq = (struct payout_request){
		.payin_id = PQgetvalue(payin, 0, PCOL_ID), .kind = ask->kind, .basis = basis,
		.provider = ask->provider, .recipient = prep->recipient, .recipient_source = source,
		.amount = prep->amount, .token = prep->token->symbol, .sender = ask->sender, .reason = ask->reason,
		.actor = ask->actor, .request_id = ask->request_id, .source = ask->source,
		.auto_release_grace_hours = ask->auto_release_grace_hours,
	};
	return 0;
}

int outgoing_open(struct db *db, const struct config *cfg, const PGresult *payin, const struct outgoing_ask *ask,
                  enum payout_result *r, PGresult **row, struct payout_refusal *why, enum db_status *dbst)
{
	const char *network = col(payin, PCOL_NETWORK);
	const struct network_conf *net = network ? config_network(cfg, network) : NULL;
	struct outgoing_prep prep;
	json_object *meta;
	int http;

	*row = NULL;
	*r = PAYOUT_REFUSED;
	*dbst = DB_OK;
	/* A payout on a network we cannot ask could never be confirmed: nothing is opened. */
	if (net == NULL || net->n_rpc == 0) {
		refuse(why, "not_verifiable", "payment %s is on a network without an RPC to check a payout on: nothing was opened",
		       PQgetvalue(payin, 0, PCOL_ID));
		return 409;
	}
	if ((http = outgoing_prepare(db, cfg, payin, ask, &prep, why, dbst)) != 0)
		return http;
	meta = json_object_new_object();
	/* Built before the payout opens and stored with it: a repeat answers the same nonce. */
	if (strcmp(ask->provider, "admin_wallet") == 0)
		json_object_object_add(meta, "unsignedTransaction", outgoing_unsigned_tx(cfg, &prep));
	if (ask->auto_release_grace_hours > 0) {
		json_object *a = json_object_new_object();
		json_object_object_add(a, "graceHours", json_object_new_int(ask->auto_release_grace_hours));
		json_object_object_add(meta, "autoRelease", a);
	}
	if (json_object_object_length(meta) > 0)
		prep.rq.metadata = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN);
	*r = payout_open(db, &prep.rq, row, why, dbst);
	json_object_put(meta);
	return 0;
}

/* ---- the transaction an admin signs ---- */

static void add_hex_word(json_object *o, const char *name, const uint8_t w[32])
{
	char hex[UNITS_HEX_BUFSZ];
	BIGNUM *v = BN_new();

	if (v && units_from_word(w, v) == UNITS_OK && units_hexqty_format(v, hex, sizeof(hex)) == UNITS_OK)
		json_object_object_add(o, name, json_object_new_string(hex));
	BN_free(v);
}

static void add_hex_u64(json_object *o, const char *name, uint64_t n)
{
	char hex[UNITS_HEX_BUFSZ];

	units_hexqty_format_u64(n, hex, sizeof(hex));
	json_object_object_add(o, name, json_object_new_string(hex));
}

/* transfer(recipient, amount) calldata; 0 or -1. */
static int transfer_calldata(const struct token_conf *tok, const char *recipient, const char *amount,
                             uint8_t data[ERC20_TRANSFER_CALLDATA_LEN], char base[UNITS_DEC_BUFSZ])
{
	uint8_t to[EIP55_ADDR_LEN], word[32];
	BIGNUM *v = BN_new();
	int rc = -1;

	if (v && eip55_parse(recipient, to, NULL) == EIP55_OK &&
	    units_parse(amount, (unsigned)tok->decimals, v) == UNITS_OK &&
	    units_to_word(v, word) == UNITS_OK && units_format(v, 0, base, UNITS_DEC_BUFSZ) == UNITS_OK) {
		erc20_transfer_calldata(to, word, data);
		rc = 0;
	}
	BN_free(v);
	return rc;
}

json_object *outgoing_unsigned_tx(const struct config *cfg, const struct outgoing_prep *prep)
{
	const struct token_conf *tok = prep->token;
	const char *network = tok->network, *from = prep->rq.sender;
	const struct network_conf *net = config_network(cfg, network);
	uint8_t data[ERC20_TRANSFER_CALLDATA_LEN];
	char hex[HEX_BUFSZ_0X(ERC20_TRANSFER_CALLDATA_LEN)], base[UNITS_DEC_BUFSZ], summary[512];
	json_object *tx = json_object_new_object(), *notes = json_object_new_array();
	struct rpc_client c;
	struct rpc_error e;
	struct fee_quote q;
	uint64_t nonce, gas;

	if (net == NULL || from == NULL || transfer_calldata(tok, prep->recipient, prep->amount, data, base) != 0) {
		json_object_array_add(notes, json_object_new_string("the payout's network, token or recipient is not usable"));
		json_object_object_add(tx, "notes", notes);
		return tx;
	}
	hex_encode_0x(data, sizeof(data), hex, sizeof(hex));
	json_object_object_add(tx, "chainId", json_object_new_int64(net->chain_id));
	json_object_object_add(tx, "network", json_object_new_string(network));
	json_object_object_add(tx, "type", json_object_new_string(net->eip1559 ? "0x2" : "0x0"));
	json_object_object_add(tx, "from", json_object_new_string(from));
	json_object_object_add(tx, "to", json_object_new_string(tok->contract));
	json_object_object_add(tx, "value", json_object_new_string("0x0"));
	json_object_object_add(tx, "data", json_object_new_string(hex));
	json_object_object_add(tx, "token", json_object_new_string(tok->symbol));
	json_object_object_add(tx, "decimals", json_object_new_int(tok->decimals));
	json_object_object_add(tx, "amount", json_object_new_string(prep->amount));
	json_object_object_add(tx, "amountBaseUnits", json_object_new_string(base));
	json_object_object_add(tx, "recipient", json_object_new_string(prep->recipient));
	snprintf(summary, sizeof(summary),
	         "%s of payment %s: from %s, transfer %s %s (token %s on %s, chain id %lld) to %s (%s)",
	         strcmp(prep->rq.kind, "release") == 0 ? "Release" : "Refund", prep->rq.payin_id, from,
	         prep->amount, tok->symbol, tok->contract, network, net->chain_id, prep->recipient,
	         prep->rq.recipient_source);
	json_object_object_add(tx, "summary", json_object_new_string(summary));
	/* What only the node knows: suggestions, each left out (with a note) when it cannot say. */
	if (chain_ready(cfg, network, &e) != RPC_OK || rpc_client_init(&c, cfg, network, &e) != RPC_OK) {
		json_object_array_add(notes, json_object_new_string(e.message));
		json_object_object_add(tx, "notes", notes);
		return tx;
	}
	if (rpc_tx_count(&c, from, "pending", &nonce, &e) == RPC_OK)
		add_hex_u64(tx, "nonce", nonce);
	else
		json_object_array_add(notes, json_object_new_string(e.message));
	if (rpc_estimate_gas(&c, from, tok->contract, data, sizeof(data), &gas, &e) == RPC_OK) {
		add_hex_u64(tx, "gas", fee_gas_limit(gas));
	} else {
		add_hex_u64(tx, "gas", DEFAULT_TRANSFER_GAS);
		json_object_array_add(notes, json_object_new_string(
			"the node could not estimate the transfer (does the paying wallet hold the amount?): gas is a default"));
	}
	if (fee_quote(&c, net, &q, &e) == RPC_OK) {
		if (q.eip1559) {
			add_hex_word(tx, "maxFeePerGas", q.max_fee);
			add_hex_word(tx, "maxPriorityFeePerGas", q.max_priority);
		} else {
			add_hex_word(tx, "gasPrice", q.gas_price);
		}
		if (q.over_cap)
			json_object_array_add(notes, json_object_new_string(q.message));
	} else {
		json_object_array_add(notes, json_object_new_string(e.message));
	}
	json_object_object_add(tx, "notes", notes);
	return tx;
}

/* ---- confirming ---- */

const char *outgoing_kind_name(enum outgoing_kind k)
{
	switch (k) {
	case OUTGOING_CONFIRMED: return "confirmed";
	case OUTGOING_PENDING: return "pending";
	case OUTGOING_REFUSED: return "refused";
	case OUTGOING_TX_USED: return "tx_hash_used";
	case OUTGOING_CONFLICT: return "invalid_state";
	case OUTGOING_UNAVAILABLE: return "chain_unavailable";
	case OUTGOING_UPSTREAM: return "chain_error";
	case OUTGOING_DB: return "database";
	}
	return "unknown";
}

int outgoing_http_status(const struct outgoing_outcome *o)
{
	switch (o->kind) {
	case OUTGOING_CONFIRMED: return 200;
	case OUTGOING_PENDING: return 202;
	case OUTGOING_REFUSED: return 422;
	case OUTGOING_TX_USED:
	case OUTGOING_CONFLICT: return 409;
	case OUTGOING_UNAVAILABLE: return 503;
	case OUTGOING_UPSTREAM: return 502;
	case OUTGOING_DB: return o->dbst == DB_UNAVAILABLE ? 503 : 500;
	}
	return 500;
}

json_object *outgoing_outcome_json(const struct outgoing_outcome *o)
{
	json_object *d = o->verified ? verify_result_json(&o->vr, o->decimals) : json_object_new_object();

	json_object_object_add(d, "transactionHash", json_object_new_string(o->tx_hash));
	if (!o->verified)
		json_object_object_add(d, "status", json_object_new_string(outgoing_kind_name(o->kind)));
	/* The verifier's words are about pay-ins; the payout's own message replaces them. */
	json_object_object_add(d, "message", json_object_new_string(o->message));
	if (o->used_by[0])
		json_object_object_add(d, "usedByPaymentId", json_object_new_string(o->used_by));
	if (o->row)
		json_object_object_add(d, "payout", payout_json(o->row, 0));
	return d;
}

enum db_status outgoing_tx_owner(struct db *db, const char *tx, const char *network, const char *self,
                                 char used_by[40])
{
	const char *p[3] = { tx, network, self ? self : PAYMENT_ID_NONE };
	PGresult *res = NULL;
	enum db_status st;

	used_by[0] = '\0';
	st = db_exec(db, &res,
	             "SELECT id::text FROM payments WHERE direction = 'out' AND tx_hash IS NOT NULL"
	             " AND lower(tx_hash) = lower($1) AND coalesce(network, '') = coalesce($2, '') AND id <> $3::uuid"
	             " UNION ALL"
	             " SELECT id::text FROM payments WHERE direction = 'in' AND tx_hash IS NOT NULL"
	             " AND lower(tx_hash) = lower($1) AND coalesce(network, '') = coalesce($2, '') AND id <> $3::uuid"
	             " LIMIT 1", 3, p);
	if (st == DB_OK && PQntuples(res) > 0)
		snprintf(used_by, 40, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return st;
}

int outgoing_expect(const struct config *cfg, const char *network, const char *contract,
                    const char *recipient, const char *amount, const char *sender,
                    struct verify_expect *x, char *err, size_t errlen)
{
	if (sender == NULL || sender[0] == '\0') {
		snprintf(err, errlen, "the payout names no wallet it must come from");
		return -1;
	}
	if (verify_expect_init(x, cfg, network, contract, recipient, amount, sender, err, errlen) != 0)
		return -1;
	x->exact = true;
	return 0;
}

static void rpc_trouble(struct outgoing_outcome *o, const struct rpc_error *e)
{
	o->retry_after = e->retry_after > 0 ? e->retry_after : 5;
	say(o, e->kind == RPC_EREMOTE || e->kind == RPC_EBADANSWER ? OUTGOING_UPSTREAM : OUTGOING_UNAVAILABLE,
	    e->kind == RPC_EREMOTE || e->kind == RPC_EBADANSWER ? "chain_error" : "chain_unavailable", "%s", e->message);
}

/* The verifier's refusal in a payout's words. */
static void refused(struct outgoing_outcome *o, const char *recipient, const char *sender)
{
	const char *code = verify_reason_name(o->vr.reason);

	switch (o->vr.reason) {
	case VR_WRONG_RECIPIENT:
		say(o, OUTGOING_REFUSED, code, "the token was transferred, but not to the payout's recipient %s", recipient);
		break;
	case VR_WRONG_SENDER:
		say(o, OUTGOING_REFUSED, code, "the transfer to %s is not from %s, the wallet this payout must come from",
		    recipient, sender);
		break;
	default:
		say(o, OUTGOING_REFUSED, code, "%s", o->vr.message);
	}
}

/* Raises the confirmations column (progress, not a state) and reloads the row. */
static void record_depth(struct db *db, const char *id, uint64_t depth, struct outgoing_outcome *o)
{
	char n[24];
	PGresult *res = NULL;

	snprintf(n, sizeof(n), "%" PRIu64, depth > INT32_MAX ? (uint64_t)INT32_MAX : depth);
	const char *p[2] = { id, n };
	if (db_exec(db, &res,
	            "UPDATE payments p SET confirmations = greatest(p.confirmations, $2::integer)"
	            " WHERE p.id = $1 RETURNING " PAYOUT_COLUMNS, 2, p) == DB_OK && PQntuples(res) == 1) {
		PQclear(o->row);
		o->row = res;
		return;
	}
	PQclear(res);
}

static json_object *verification_meta(const struct outgoing_outcome *o)
{
	json_object *meta = json_object_new_object(), *v = verify_result_json(&o->vr, o->decimals);

	json_object_object_add(v, "transactionHash", json_object_new_string(o->tx_hash));
	json_object_object_add(meta, "chainVerification", v);
	return meta;
}

/* A verified answer applied to an existing outgoing payment. */
static void apply(struct db *db, const char *id, const char *network, bool replacing, const char *actor,
                  const char *request_id, struct outgoing_outcome *o)
{
	json_object *meta = verification_meta(o);
	const char *m = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN);
	struct payout_refusal why = { "", "" };
	enum payout_result r;

	PQclear(o->row);
	o->row = NULL;
	if (o->vr.verdict == VERIFY_CONFIRMED) {
		struct payout_settlement s = {
			.completed = true, .tx_hash = o->tx_hash, .metadata = m, .source = "chain", .actor = actor,
			.reason = "payout transfer confirmed on chain", .request_id = request_id,
		};
		r = payout_settle(db, id, &s, &o->row, &why, &o->dbst);
	} else {
		struct payout_record rc = {
			.tx_hash = o->tx_hash, .replace = replacing, .metadata = m, .source = "chain", .actor = actor,
			.reason = "payout transfer seen, awaiting confirmations", .request_id = request_id,
		};
		r = payout_record(db, id, &rc, &o->row, &why, &o->dbst);
	}
	json_object_put(meta);
	switch (r) {
	case PAYOUT_DONE:
	case PAYOUT_EXISTS:
		o->kind = o->vr.verdict == VERIFY_CONFIRMED ? OUTGOING_CONFIRMED : OUTGOING_PENDING;
		snprintf(o->message, sizeof(o->message), "%s", o->vr.message);
		if (o->kind == OUTGOING_PENDING)
			record_depth(db, id, o->vr.confirmations, o);
		break;
	case PAYOUT_TX_USED:
		outgoing_tx_owner(db, o->tx_hash, network, id, o->used_by);
		say(o, OUTGOING_TX_USED, "tx_hash_used", "transaction %s already pays payment %s", o->tx_hash,
		    o->used_by[0] ? o->used_by : "(another)");
		break;
	case PAYOUT_REFUSED:
	case PAYOUT_NOT_FOUND:
		say(o, OUTGOING_CONFLICT, why.code[0] ? why.code : "invalid_state", "%s",
		    why.message[0] ? why.message : "the payout changed meanwhile");
		break;
	case PAYOUT_DB:
		say(o, OUTGOING_DB, "database", "database error");
		break;
	}
}

/* A recorded hash gives way to another only when the node no longer knows it (dropped, replaced). */
static int recorded_gone(struct rpc_client *c, const struct verify_expect *x, const char *id,
                         const char *recorded, struct outgoing_outcome *o)
{
	struct verify_result vr;

	if (verify_tx(c, x, recorded, &vr) == VERIFY_ERROR) {
		rpc_trouble(o, &vr.rpc);
		return -1;
	}
	if (vr.verdict == VERIFY_PENDING && vr.reason == VR_NOT_FOUND)
		return 0;
	say(o, OUTGOING_CONFLICT, "already_paying", "payout %s is already being paid by transaction %s", id, recorded);
	return -1;
}

/* Asks the chain; fills o->vr. Returns 0 when the verifier answered, -1 with o filled otherwise. */
static int ask_chain(const struct config *cfg, const char *network, const struct verify_expect *x,
                     const char *id, const char *recorded, const char *tx, struct outgoing_outcome *o)
{
	struct rpc_client c;
	struct rpc_error e;

	if (chain_ready(cfg, network, &e) != RPC_OK || rpc_client_init(&c, cfg, network, &e) != RPC_OK) {
		rpc_trouble(o, &e);
		return -1;
	}
	if (recorded && strcasecmp(recorded, tx) != 0 && recorded_gone(&c, x, id, recorded, o) != 0)
		return -1;
	verify_tx(&c, x, tx, &o->vr);
	o->verified = true;
	if (o->vr.verdict == VERIFY_ERROR) {
		rpc_trouble(o, &o->vr.rpc);
		return -1;
	}
	return 0;
}

/* The verdict in a payout's terms: what may be applied, or the refusal. Returns 1 to apply. */
static int judge(struct outgoing_outcome *o, const char *recipient, const char *sender)
{
	switch (o->vr.verdict) {
	case VERIFY_CONFIRMED:
		return 1;
	case VERIFY_PENDING:
		/* Not seen, not mined, or a revert not yet final: nothing is recorded for it. */
		if (o->vr.reason == VR_NOT_DEEP)
			return 1;
		say(o, OUTGOING_PENDING, verify_reason_name(o->vr.reason), "%s", o->vr.message);
		return 0;
	case VERIFY_FAILED:
		refused(o, recipient, sender);
		return 0;
	case VERIFY_ERROR:
		break;
	}
	return 0;
}

void outgoing_confirm(struct db *db, const struct config *cfg, const PGresult *out, const char *tx_hash,
                      const char *actor, const char *request_id, struct outgoing_outcome *o)
{
	const char *id = PQgetvalue(out, 0, PCOL_ID), *status = PQgetvalue(out, 0, PCOL_STATUS);
	const char *recorded = col(out, PCOL_TX), *network = PQgetvalue(out, 0, PCOL_NETWORK);
	const char *recipient = PQgetvalue(out, 0, PCOL_RECEIVER), *sender = col(out, PCOL_SENDER);
	struct verify_expect x;
	char err[256];

	memset(o, 0, sizeof(*o));
	snprintf(o->tx_hash, sizeof(o->tx_hash), "%s", tx_hash);
	if (strcmp(status, "pending") != 0 && strcmp(status, "processing") != 0) {
		/* Answered with the payout as it stands. */
		const char *p[1] = { id };
		if (db_exec(db, &o->row, "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1", 1, p) != DB_OK)
			o->row = NULL;
	}
	if (strcmp(status, "completed") == 0) {
		if (recorded && strcasecmp(recorded, tx_hash) == 0)
			say(o, OUTGOING_CONFIRMED, "confirmed", "payout %s was already completed by this transaction", id);
		else
			say(o, OUTGOING_CONFLICT, "already_completed", "payout %s is already completed by transaction %s", id,
			    recorded ? recorded : "?");
		return;
	}
	if (strcmp(status, "pending") != 0 && strcmp(status, "processing") != 0) {
		say(o, OUTGOING_CONFLICT, "invalid_state", "payout %s is %s", id, status);
		return;
	}
	if ((o->dbst = outgoing_tx_owner(db, tx_hash, network, id, o->used_by)) != DB_OK) {
		say(o, OUTGOING_DB, "database", "database error");
		return;
	}
	if (o->used_by[0]) {
		say(o, OUTGOING_TX_USED, "tx_hash_used", "transaction %s already pays payment %s", tx_hash, o->used_by);
		return;
	}
	if (outgoing_expect(cfg, network, PQgetvalue(out, 0, PCOL_CONTRACT), recipient, PQgetvalue(out, 0, PCOL_AMOUNT),
	                    sender, &x, err, sizeof(err)) != 0) {
		say(o, OUTGOING_CONFLICT, "not_verifiable", "payout %s cannot be checked: %s", id, err);
		return;
	}
	o->decimals = x.decimals;
	if (ask_chain(cfg, network, &x, id, recorded, tx_hash, o) != 0 || judge(o, recipient, sender) == 0)
		return;
	apply(db, id, network, recorded && strcasecmp(recorded, tx_hash) != 0, actor, request_id, o);
}

void outgoing_confirm_new(struct db *db, const struct config *cfg, const struct outgoing_prep *prep,
                          const char *tx_hash, struct outgoing_outcome *o)
{
	const char *network = prep->token->network;
	struct payout_refusal why = { "", "" };
	struct verify_expect x;
	PGresult *row = NULL;
	char err[256];

	memset(o, 0, sizeof(*o));
	snprintf(o->tx_hash, sizeof(o->tx_hash), "%s", tx_hash);
	if ((o->dbst = outgoing_tx_owner(db, tx_hash, network, NULL, o->used_by)) != DB_OK) {
		say(o, OUTGOING_DB, "database", "database error");
		return;
	}
	if (o->used_by[0]) {
		say(o, OUTGOING_TX_USED, "tx_hash_used", "transaction %s already pays payment %s", tx_hash, o->used_by);
		return;
	}
	if (outgoing_expect(cfg, network, prep->token->contract, prep->recipient, prep->amount, prep->rq.sender, &x,
	                    err, sizeof(err)) != 0) {
		say(o, OUTGOING_CONFLICT, "not_verifiable", "the payout cannot be checked: %s", err);
		return;
	}
	o->decimals = x.decimals;
	if (ask_chain(cfg, network, &x, "(new)", NULL, tx_hash, o) != 0 || judge(o, prep->recipient, prep->rq.sender) == 0)
		return;
	switch (payout_open(db, &prep->rq, &row, &why, &o->dbst)) {
	case PAYOUT_DONE:
		o->opened = true;
		break;
	case PAYOUT_EXISTS:
		/* Opened meanwhile (or before, by another provider): that one decides. */
		if (strcmp(PQgetvalue(row, 0, PCOL_PROVIDER), prep->rq.provider) != 0) {
			say(o, OUTGOING_CONFLICT, "payout_exists", "a %s payout %s is already active for this payment",
			    PQgetvalue(row, 0, PCOL_PROVIDER), PQgetvalue(row, 0, PCOL_ID));
			o->row = row;
			return;
		}
		break;
	case PAYOUT_REFUSED:
		say(o, OUTGOING_CONFLICT, why.code, "%s", why.message);
		return;
	case PAYOUT_NOT_FOUND:
		say(o, OUTGOING_CONFLICT, "not_found", "payment %s not found", prep->rq.payin_id);
		return;
	default:
		say(o, OUTGOING_DB, "database", "database error");
		return;
	}
	const char *recorded = col(row, PCOL_TX);
	char id[40];
	snprintf(id, sizeof(id), "%s", PQgetvalue(row, 0, PCOL_ID));
	if (recorded && strcasecmp(recorded, tx_hash) != 0) {
		say(o, OUTGOING_CONFLICT, "already_paying", "payout %s is already being paid by transaction %s", id, recorded);
		o->row = row;
		return;
	}
	PQclear(row);
	apply(db, id, network, false, prep->rq.actor, prep->rq.request_id, o);
}
