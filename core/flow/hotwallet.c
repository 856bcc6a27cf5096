#include "flow/hotwallet.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "base/devfault.h"
#include "base/hex.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "evm/chain.h"
#include "evm/eip55.h"
#include "evm/erc20.h"
#include "evm/ethtx.h"
#include "evm/fees.h"
#include "evm/units.h"
#include "flow/outgoing.h"
#include "pay/coord.h"

/* A key file holds 64 hex digits, maybe 0x and a newline: anything much longer is not one. */
#define KEY_FILE_MAX 256

static char hot_address[EIP55_BUFSZ];   /* derived once; inherited by the workers */
static struct ethtx_ctx *signer;        /* one per process, made after fork */

static void say(struct hot_outcome *o, enum hot_kind kind, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(struct hot_outcome *o, enum hot_kind kind, const char *code, const char *fmt, ...)
{
	va_list ap;

	o->kind = kind;
	snprintf(o->code, sizeof(o->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(o->message, sizeof(o->message), fmt, ap);
	va_end(ap);
}

static struct ethtx_ctx *signer_ctx(void)
{
	static pid_t owner;

	if (signer && owner != getpid()) {
		/* A copy inherited across fork shares its blinding: never used, never freed here. */
		signer = NULL;
	}
	if (signer == NULL && ethtx_ctx_new(&signer) == ETHTX_OK)
		owner = getpid();
	return signer;
}

/*
 * Reads the key: a regular file readable by its owner only, 64 hex digits
 * (0x and surrounding whitespace allowed). Everything read is wiped before
 * returning; on failure key is wiped too. 0, or -1 with err.
 */
static int load_key(const struct config *cfg, uint8_t key[ETHTX_KEY_LEN], char *err, size_t errlen)
{
	char buf[KEY_FILE_MAX + 1];
	struct ethtx_ctx *ctx = signer_ctx();
	struct stat sb;
	ssize_t n;
	size_t len = 0;
	int fd, rc = -1;

	OPENSSL_cleanse(key, ETHTX_KEY_LEN);
	if (ctx == NULL) {
		snprintf(err, errlen, "the signer could not be initialised");
		return -1;
	}
	if ((fd = open(cfg->hot_wallet_key_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "hot_wallet_key_file: cannot read %s: %s", cfg->hot_wallet_key_path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "hot_wallet_key_file: %s must be a regular file readable by its owner only",
		         cfg->hot_wallet_key_path);
		close(fd);
		return -1;
	}
	while (len < KEY_FILE_MAX && (n = read(fd, buf + len, KEY_FILE_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	char *s = buf, *end = buf + len;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	if (len == KEY_FILE_MAX || ethtx_key_from_hex(ctx, s, key) != ETHTX_OK)
		snprintf(err, errlen, "hot_wallet_key_file: %s does not hold a private key (64 hex digits)",
		         cfg->hot_wallet_key_path);
	else
		rc = 0;
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static int derive_address(const struct config *cfg, char out[EIP55_BUFSZ], char *err, size_t errlen)
{
	uint8_t key[ETHTX_KEY_LEN], addr[ETHTX_ADDR_LEN];
	int rc = -1;

	if (load_key(cfg, key, err, errlen) != 0)
		return -1;
	if (ethtx_address_from_key(signer_ctx(), key, addr) == ETHTX_OK) {
		eip55_format(addr, out);
		rc = 0;
	} else {
		snprintf(err, errlen, "hot_wallet_key_file: the key has no address");
	}
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

int hotwallet_startup(const struct config *cfg, char *err, size_t errlen)
{
	uint8_t want[EIP55_ADDR_LEN], got[EIP55_ADDR_LEN];

	hot_address[0] = '\0';
	if (cfg->hot_wallet_key_path[0] == '\0')
		return 0;
	int rc = derive_address(cfg, hot_address, err, errlen);
	/* The master's signer is not for the workers: each makes its own after fork. */
	ethtx_ctx_free(signer);
	signer = NULL;
	if (rc != 0)
		return -1;
	if (cfg->hot_wallet_address[0] &&
	    (eip55_parse(cfg->hot_wallet_address, want, NULL) != EIP55_OK ||
	     eip55_parse(hot_address, got, NULL) != EIP55_OK || memcmp(want, got, sizeof(want)) != 0)) {
		snprintf(err, errlen, "hot_wallet_address %s is not the address of the key in hot_wallet_key_file (%s)",
		         cfg->hot_wallet_address, hot_address);
		hot_address[0] = '\0';
		return -1;
	}
	log_info("hot wallet %s", hot_address);
	return 0;
}

const char *hotwallet_address(const struct config *cfg)
{
	char err[256];

	if (cfg->hot_wallet_key_path[0] == '\0')
		return NULL;
	if (hot_address[0] == '\0' && derive_address(cfg, hot_address, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return NULL;
	}
	return hot_address;
}

/* ---- answers ---- */

const char *hot_kind_name(enum hot_kind k)
{
	switch (k) {
	case HOT_COMPLETED: return "completed";
	case HOT_PENDING: return "pending";
	case HOT_FAILED: return "failed";
	case HOT_CONFLICT: return "invalid_state";
	case HOT_REFUSED: return "broadcast_refused";
	case HOT_UNAVAILABLE: return "chain_unavailable";
	case HOT_DB: return "database";
	}
	return "unknown";
}

int hot_http_status(const struct hot_outcome *o)
{
	switch (o->kind) {
	case HOT_COMPLETED: return 200;
	case HOT_PENDING: return 202;
	case HOT_FAILED:
	case HOT_CONFLICT: return 409;
	case HOT_REFUSED: return 502;
	case HOT_UNAVAILABLE: return 503;
	case HOT_DB: return o->dbst == DB_UNAVAILABLE ? 503 : 500;
	}
	return 500;
}

json_object *hot_outcome_json(const struct hot_outcome *o)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "status", json_object_new_string(hot_kind_name(o->kind)));
	json_object_object_add(d, "code", json_object_new_string(o->code));
	json_object_object_add(d, "message", json_object_new_string(o->message));
	json_object_object_add(d, "transactionHash", o->tx_hash[0] ? json_object_new_string(o->tx_hash) : NULL);
	json_object_object_add(d, "nonce", o->has_nonce ? json_object_new_int64((int64_t)o->nonce) : NULL);
	if (o->verified)
		json_object_object_add(d, "verification", verify_result_json(&o->vr, o->decimals));
	if (o->row)
		json_object_object_add(d, "payout", payout_json(o->row, 0));
	return d;
}

/* ---- the stored transaction ---- */

struct hot_tx {
	bool found;
	char status[16];
	char hash[68];
	uint64_t nonce;
	uint8_t *raw;
	size_t raw_len;
	char last_error[256];
};

static void hot_tx_free(struct hot_tx *t)
{
	free(t->raw);
	t->raw = NULL;
}

static enum db_status load_tx(struct db *db, const char *payout, struct hot_tx *t)
{
	const char *p[1] = { payout };
	PGresult *res = NULL;
	enum db_status st;

	memset(t, 0, sizeof(*t));
	st = db_exec(db, &res, "SELECT status, tx_hash, nonce, encode(raw_tx, 'hex'), coalesce(last_error, '')"
	                       " FROM hot_wallet_txs WHERE payment_id = $1", 1, p);
	if (st != DB_OK || PQntuples(res) == 0) {
		PQclear(res);
		return st;
	}
	const char *hex = PQgetvalue(res, 0, 3);
	size_t cap = strlen(hex) / 2;
	t->raw = xmalloc(cap ? cap : 1);
	if (hex_decode(hex, t->raw, cap, &t->raw_len) != HEX_OK) {
		PQclear(res);
		hot_tx_free(t);
		return DB_FAILED;
	}
	t->found = true;
	snprintf(t->status, sizeof(t->status), "%s", PQgetvalue(res, 0, 0));
	snprintf(t->hash, sizeof(t->hash), "%s", PQgetvalue(res, 0, 1));
	t->nonce = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
	snprintf(t->last_error, sizeof(t->last_error), "%s", PQgetvalue(res, 0, 4));
	PQclear(res);
	return DB_OK;
}

/* status and error of the stored transaction (a record, not a payout's state: that moves through the coordinator). */
static enum db_status mark_tx(struct db *db, const char *hash, const char *status, bool broadcast, const char *error)
{
	const char *p[4] = { hash, status, broadcast ? "1" : "0", error };

	return db_exec(db, NULL,
	               "UPDATE hot_wallet_txs SET status = $2, broadcasts = broadcasts + $3::integer,"
	               " last_error = $4, updated_at = now() WHERE tx_hash = $1", 4, p);
}

/* An admin should look: said once per distinct problem, not on every poll. */
void hotwallet_alert(struct db *db, const char *payout, const char *hash, const char *code, const char *message,
                     const char *previous)
{
	const char *p[4] = { payout, hash, code, message };

	if (previous && strcmp(previous, message) == 0)
		return;
	log_error("hot wallet payout %s (%s): %s", payout, code, message);
	db_exec(db, NULL,
	        "INSERT INTO events (event, room, payload, payment_id) VALUES ('hot-wallet-alert', 'admin',"
	        " jsonb_build_object('payoutId', $1::text, 'transactionHash', $2::text, 'code', $3::text,"
	        "  'message', $4::text), $1::uuid)", 4, p);
}

/* ---- settling ---- */

static void reload(struct db *db, const char *id, struct hot_outcome *o)
{
	const char *p[1] = { id };

	PQclear(o->row);
	if (db_exec(db, &o->row, "SELECT " PAYOUT_COLUMNS " FROM payments p WHERE p.id = $1", 1, p) != DB_OK)
		o->row = NULL;
}

static void settle_if(struct db *db, const char *id, bool completed, bool if_pending, const char *code,
                      const char *reason, const char *actor, const char *request_id, struct hot_outcome *o)
{
	struct payout_refusal why = { "", "" };
	json_object *meta = NULL;
	struct payout_settlement s = {
		.completed = completed, .tx_hash = completed ? o->tx_hash : NULL, .failure_code = code,
		.if_pending = if_pending, .source = "chain", .actor = actor, .reason = reason, .request_id = request_id,
	};

	if (completed && o->verified) {
		json_object *v = verify_result_json(&o->vr, o->decimals);
		meta = json_object_new_object();
		json_object_object_add(v, "transactionHash", json_object_new_string(o->tx_hash));
		json_object_object_add(meta, "chainVerification", v);
		s.metadata = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN);
	}
	PQclear(o->row);
	o->row = NULL;
	switch (payout_settle(db, id, &s, &o->row, &why, &o->dbst)) {
	case PAYOUT_DONE:
	case PAYOUT_EXISTS:
		if (completed)
			say(o, HOT_COMPLETED, "completed", "%s", reason);
		else
			say(o, HOT_FAILED, code, "%s", reason);
		break;
	case PAYOUT_REFUSED:
	case PAYOUT_NOT_FOUND:
	case PAYOUT_TX_USED:
		say(o, HOT_CONFLICT, why.code[0] ? why.code : "invalid_state", "%s",
		    why.message[0] ? why.message : "the payout changed meanwhile");
		reload(db, id, o);
		break;
	case PAYOUT_DB:
		say(o, HOT_DB, "database", "database error");
		break;
	}
	json_object_put(meta);
}

static void settle(struct db *db, const char *id, bool completed, const char *code, const char *reason,
                   const char *actor, const char *request_id, struct hot_outcome *o)
{
	settle_if(db, id, completed, false, code, reason, actor, request_id, o);
}

/*
 * A failure seen before signing (the fee, the node's estimate) was read from
 * the payout as this request found it: another request may have signed it
 * since, and then it is not this one's to fail.
 */
static void fail_unsigned(struct db *db, const char *id, const char *code, const char *reason, const char *actor,
                          const char *request_id, struct hot_outcome *o)
{
	settle_if(db, id, false, true, code, reason, actor, request_id, o);
}

/* ---- signing ---- */

struct sign_ctx {
	const struct config *cfg;
	const struct network_conf *net;
	const struct token_conf *token;
	struct rpc_client *c;
	const char *from;                        /* the hot wallet */
	struct fee_quote fees;
	uint64_t gas_limit;
	uint8_t data[ERC20_TRANSFER_CALLDATA_LEN];
	uint8_t amount[32];
	/* filled by the step */
	uint64_t nonce;
	char meta[256];
	char error[256];                         /* a database or chain problem, not a refusal */
	bool unavailable;
};

static void rpc_failed(struct sign_ctx *s, const struct rpc_error *e)
{
	s->unavailable = true;
	snprintf(s->error, sizeof(s->error), "%s", e->message);
}

/* Committed but never broadcast (a process that died in between): sent first, bytes unchanged. */
static enum db_status send_leftovers(struct db *db, struct sign_ctx *s)
{
	char chain[24];
	const char *p[2] = { chain, s->from };
	PGresult *res = NULL;
	enum db_status st;

	assert(db->in_tx);    /* under the wallet's lock, so no nonce is chosen before they are sent */
	snprintf(chain, sizeof(chain), "%lld", s->net->chain_id);
	st = db_exec(db, &res, "SELECT tx_hash, encode(raw_tx, 'hex') FROM hot_wallet_txs WHERE chain_id = $1::bigint"
	                       " AND lower(address) = lower($2) AND status = 'signed' ORDER BY nonce", 2, p);
	for (int i = 0; st == DB_OK && i < PQntuples(res); i++) {
		const char *hex = PQgetvalue(res, i, 1);
		size_t cap = strlen(hex) / 2, len;
		uint8_t *raw = xmalloc(cap ? cap : 1);
		char hash[RPC_HASH_BUFSZ];
		struct rpc_error e;
		json_object *known = NULL;
		if (hex_decode(hex, raw, cap, &len) == HEX_OK &&
		    (rpc_send_raw(s->c, raw, len, hash, &e) == RPC_OK ||
		     (rpc_get_transaction(s->c, PQgetvalue(res, i, 0), &known, &e) == RPC_OK && known != NULL))) {
			log_info("hot wallet: transaction %s (committed, never broadcast) sent", PQgetvalue(res, i, 0));
			st = mark_tx(db, PQgetvalue(res, i, 0), "broadcast", true, NULL);
		}
		json_object_put(known);
		free(raw);
	}
	PQclear(res);
	return st;
}

/* The next nonce of (chain, wallet): the larger of the node's pending count and ours + 1. */
static enum db_status next_nonce(struct db *db, struct sign_ctx *s, bool *ok)
{
	char chain[24];
	const char *p[2] = { chain, s->from };
	PGresult *res = NULL;
	struct rpc_error e;
	uint64_t pending;
	enum db_status st;

	*ok = false;
	if (rpc_tx_count(s->c, s->from, "pending", &pending, &e) != RPC_OK) {
		rpc_failed(s, &e);
		return DB_OK;
	}
	snprintf(chain, sizeof(chain), "%lld", s->net->chain_id);
	st = db_exec(db, &res, "SELECT max(nonce) FROM hot_wallet_txs WHERE chain_id = $1::bigint AND lower(address) = lower($2)",
	             2, p);
	if (st != DB_OK)
		return st;
	s->nonce = pending;
	if (!PQgetisnull(res, 0, 0)) {
		uint64_t ours = strtoull(PQgetvalue(res, 0, 0), NULL, 10) + 1;
		if (ours > s->nonce)
			s->nonce = ours;
	}
	PQclear(res);
	*ok = true;
	return DB_OK;
}

/* Enough token and gas, counting what is already pending from the wallet. 1 enough, 0 refused (why), -1 the node. */
static int balances(struct sign_ctx *s, struct payout_refusal *why)
{
	BIGNUM *have = BN_new(), *need = BN_new();
	struct rpc_error e;
	int rc = -1;
	char a[UNITS_DEC_BUFSZ] = "?", b[UNITS_DEC_BUFSZ] = "?";

	if (have == NULL || need == NULL)
		goto out;
	if (rpc_token_balance(s->c, s->token->contract, s->from, "pending", have, &e) != RPC_OK) {
		rpc_failed(s, &e);
		goto out;
	}
	if (units_from_word(s->amount, need) != UNITS_OK)
		goto out;
	if (BN_cmp(have, need) < 0) {
		units_format(have, (unsigned)s->token->decimals, a, sizeof(a));
		units_format(need, (unsigned)s->token->decimals, b, sizeof(b));
		snprintf(why->code, sizeof(why->code), "insufficient_token_balance");
		snprintf(why->message, sizeof(why->message), "the hot wallet %s holds %s %s; the payout needs %s", s->from, a,
		         s->token->symbol, b);
		rc = 0;
		goto out;
	}
	if (rpc_balance(s->c, s->from, "pending", have, &e) != RPC_OK) {
		rpc_failed(s, &e);
		goto out;
	}
	if (fee_max_cost(&s->fees, s->gas_limit, need) != 0)
		goto out;
	if (BN_cmp(have, need) < 0) {
		units_format(have, 18, a, sizeof(a));
		units_format(need, 18, b, sizeof(b));
		snprintf(why->code, sizeof(why->code), "insufficient_gas_balance");
		snprintf(why->message, sizeof(why->message), "the hot wallet %s holds %s of the network's coin for gas; the payout may cost %s",
		         s->from, a, b);
		rc = 0;
		goto out;
	}
	rc = 1;
out:
	BN_free(have);
	BN_free(need);
	return rc;
}

/* Signs, then recovers what was signed: our wallet, our chain, our transfer, this nonce. 0 or -1. */
static int sign(struct sign_ctx *s, struct rlp_buf *raw, char hash[68])
{
	struct ethtx tx = { 0 }, back;
	uint8_t key[ETHTX_KEY_LEN], txhash[ETHTX_HASH_LEN], from[ETHTX_ADDR_LEN], want[ETHTX_ADDR_LEN];
	struct ethtx_ctx *ctx = signer_ctx();
	int rc;

	tx.type = s->fees.eip1559 ? ETHTX_EIP1559 : ETHTX_LEGACY;
	tx.chain_id = (uint64_t)s->net->chain_id;
	tx.nonce = s->nonce;
	tx.gas_limit = s->gas_limit;
	memcpy(tx.gas_price, s->fees.gas_price, 32);
	memcpy(tx.max_fee, s->fees.max_fee, 32);
	memcpy(tx.max_priority_fee, s->fees.max_priority, 32);
	if (eip55_parse(s->token->contract, tx.to, NULL) != EIP55_OK || eip55_parse(s->from, want, NULL) != EIP55_OK) {
		snprintf(s->error, sizeof(s->error), "the token contract or the hot wallet is not an address");
		return -1;
	}
	tx.data = s->data;
	tx.data_len = sizeof(s->data);
	if (ctx == NULL || load_key(s->cfg, key, s->error, sizeof(s->error)) != 0)
		return -1;
	rc = ethtx_sign(ctx, &tx, key, raw, txhash);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != ETHTX_OK) {
		snprintf(s->error, sizeof(s->error), "the signer refused the transaction (%d)", rc);
		return -1;
	}
	/* Recovered as a node would, held to the network's chain id. */
	rc = ethtx_recover_chain(ctx, raw->data, raw->len, (uint64_t)s->net->chain_id, &back, from);
	if (rc != ETHTX_OK || memcmp(from, want, sizeof(want)) != 0 ||
	    back.nonce != tx.nonce || memcmp(back.to, tx.to, sizeof(tx.to)) != 0 ||
	    back.data_len != tx.data_len || memcmp(back.data, tx.data, tx.data_len) != 0 ||
	    memcmp(back.value, (uint8_t[32]){ 0 }, 32) != 0) {
		snprintf(s->error, sizeof(s->error), "the signed transaction does not recover to what was meant to be signed");
		return -1;
	}
	hex_encode_0x(txhash, sizeof(txhash), hash, 68);
	return 0;
}

/* payout_record's step: runs with the coordinator's locks held. */
static enum db_status sign_step(struct db *db, const PGresult *out, void *vctx, char tx_hash[68],
                                struct payout_refusal *why)
{
	struct sign_ctx *s = vctx;
	char lock[96], chain[24], nonce[24];
	struct rlp_buf raw;
	enum db_status st;
	bool ok;

	snprintf(lock, sizeof(lock), "%lld:%s", s->net->chain_id, s->from);
	for (char *c = lock; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
	const char *lp[1] = { lock };
	if ((st = db_exec(db, NULL, "SELECT pg_advisory_xact_lock(" LOCK_NS_HOT_WALLET ", hashtext($1))", 1, lp)) != DB_OK ||
	    (st = send_leftovers(db, s)) != DB_OK || (st = next_nonce(db, s, &ok)) != DB_OK)
		return st;
	if (!ok)
		return DB_OK;
	switch (balances(s, why)) {
	case 1:
		break;
	case 0:
		return DB_OK;   /* refused: why says so */
	default:
		if (s->error[0] == '\0')
			snprintf(s->error, sizeof(s->error), "the balances could not be checked");
		return DB_OK;
	}
	rlp_buf_init(&raw);
	if (sign(s, &raw, tx_hash) != 0) {
		rlp_buf_free(&raw);
		tx_hash[0] = '\0';
		return DB_OK;
	}
	char *hex = xmalloc(HEX_BUFSZ(raw.len) + 2);
	hex[0] = '\\';
	hex[1] = 'x';
	hex_encode(raw.data, raw.len, hex + 2, HEX_BUFSZ(raw.len));
	rlp_buf_free(&raw);
	snprintf(chain, sizeof(chain), "%lld", s->net->chain_id);
	snprintf(nonce, sizeof(nonce), "%" PRIu64, s->nonce);
	const char *p[6] = { PQgetvalue(out, 0, PCOL_ID), chain, s->from, nonce, hex, tx_hash };
	st = db_exec(db, NULL,
	             "INSERT INTO hot_wallet_txs (payment_id, chain_id, address, nonce, raw_tx, tx_hash)"
	             " VALUES ($1, $2::bigint, $3, $4::bigint, $5::bytea, $6)", 6, p);
	free(hex);
	if (st != DB_OK) {
		tx_hash[0] = '\0';
		return st;
	}
	snprintf(s->meta, sizeof(s->meta), "{\"hotWallet\":{\"from\":\"%s\",\"nonce\":%" PRIu64 ",\"chainId\":%lld}}",
	         s->from, s->nonce, s->net->chain_id);
	return DB_OK;
}

/*
 * Quotes, estimates and signs under the locks; the signed bytes and hash are
 * committed with the payout moved to processing. Returns 0 when committed; -1
 * with o filled otherwise (the payout failed and was reported, or nothing
 * happened and the next call tries again).
 */
static int sign_and_commit(struct db *db, const struct config *cfg, const PGresult *out, struct rpc_client *c,
                           const char *actor, const char *request_id, struct hot_outcome *o)
{
	const char *id = PQgetvalue(out, 0, PCOL_ID), *network = PQgetvalue(out, 0, PCOL_NETWORK);
	struct sign_ctx s = { .cfg = cfg, .c = c, .from = PQgetvalue(out, 0, PCOL_SENDER) };
	struct payout_refusal why = { "", "" };
	struct rpc_error e;
	uint8_t to[EIP55_ADDR_LEN];
	uint64_t estimate;
	BIGNUM *v = BN_new();

	s.net = config_network(cfg, network);
	s.token = config_token(cfg, network, PQgetvalue(out, 0, PCOL_TOKEN));
	if (s.net == NULL || s.token == NULL || v == NULL || eip55_parse(PQgetvalue(out, 0, PCOL_RECEIVER), to, NULL) != EIP55_OK ||
	    units_parse(PQgetvalue(out, 0, PCOL_AMOUNT), (unsigned)s.token->decimals, v) != UNITS_OK ||
	    units_to_word(v, s.amount) != UNITS_OK) {
		BN_free(v);
		say(o, HOT_CONFLICT, "not_payable", "payout %s's network, token, recipient or amount is not usable any more", id);
		return -1;
	}
	BN_free(v);
	erc20_transfer_calldata(to, s.amount, s.data);
	if (fee_quote(c, s.net, &s.fees, &e) != RPC_OK) {
		o->retry_after = e.retry_after > 0 ? e.retry_after : 5;
		say(o, HOT_UNAVAILABLE, "chain_unavailable", "%s", e.message);
		return -1;
	}
	if (s.fees.over_cap) {
		fail_unsigned(db, id, "gas_price_over_cap", s.fees.message, actor, request_id, o);
		return -1;
	}
	if (rpc_estimate_gas(c, s.from, s.token->contract, s.data, sizeof(s.data), &estimate, &e) != RPC_OK) {
		if (e.kind != RPC_EREMOTE || e.code != 3) {
			o->retry_after = e.retry_after > 0 ? e.retry_after : 5;
			say(o, HOT_UNAVAILABLE, "chain_unavailable", "%s", e.message);
			return -1;
		}
		/* The node says the transfer would revert: most often, too little token. */
		BIGNUM *have = BN_new(), *need = BN_new();
		bool short_of_token = have && need && rpc_token_balance(c, s.token->contract, s.from, "pending", have, &e) == RPC_OK &&
		                      units_from_word(s.amount, need) == UNITS_OK && BN_cmp(have, need) < 0;
		BN_free(have);
		BN_free(need);
		fail_unsigned(db, id, short_of_token ? "insufficient_token_balance" : "transfer_would_revert",
		              short_of_token ? "the hot wallet holds less of the token than the payout needs"
		                             : "the node says the transfer would revert",
		              actor, request_id, o);
		return -1;
	}
	s.gas_limit = fee_gas_limit(estimate);
	struct payout_record rc = {
		.step = sign_step, .step_ctx = &s, .metadata = s.meta, .source = "admin", .actor = actor,
		.reason = "signed by the hot wallet", .request_id = request_id,
	};
	PGresult *row = NULL;
	switch (payout_record(db, id, &rc, &row, &why, &o->dbst)) {
	case PAYOUT_DONE:
		PQclear(row);
		o->has_nonce = true;
		o->nonce = s.nonce;
		log_info("payout %s: signed by the hot wallet %s, nonce %" PRIu64 ", committed before broadcast", id, s.from,
		         s.nonce);
		return 0;
	case PAYOUT_REFUSED:
		if (why.code[0] && strncmp(why.code, "insufficient_", 13) == 0) {
			fail_unsigned(db, id, why.code, why.message, actor, request_id, o);
			return -1;
		}
		if (s.unavailable) {
			o->retry_after = 5;
			say(o, HOT_UNAVAILABLE, "chain_unavailable", "%s", s.error);
			return -1;
		}
		if (s.error[0]) {
			say(o, HOT_CONFLICT, "not_signed", "nothing was signed: %s", s.error);
			return -1;
		}
		say(o, HOT_CONFLICT, why.code[0] ? why.code : "invalid_state", "%s", why.message);
		return -1;
	case PAYOUT_DB:
		say(o, HOT_DB, "database", "database error");
		return -1;
	default:
		say(o, HOT_CONFLICT, why.code[0] ? why.code : "invalid_state", "%s",
		    why.message[0] ? why.message : "the payout changed meanwhile");
		return -1;
	}
}

/* ---- broadcasting and following ---- */

/*
 * Who holds the payout's nonce. Only a final block settles it: a transaction
 * of the wallet that holds it in a newer block may still be undone by a
 * reorganisation, and ours mined in its place. A node whose answers come from
 * different moments (or different backends) may have counted ours while not
 * finding it: it is looked for again after the count, and found means ours.
 */
enum nonce_holder {
	NONCE_UNKNOWN = -1, /* the chain could not be asked (e filled) */
	NONCE_FREE,         /* no block holds it: ours may be sent again */
	NONCE_NOT_FINAL,    /* held in a block not final yet: wait */
	NONCE_OURS,         /* held, and ours turned up on the second look: it is followed */
	NONCE_TAKEN,        /* a final block holds it, and ours is not on the chain */
};

static enum nonce_holder nonce_holder(struct rpc_client *c, const char *from, const struct hot_tx *t,
                                      struct rpc_error *e)
{
	uint64_t latest, safe, final_count;
	json_object *receipt = NULL;
	char block[24];
	bool ours;

	if (rpc_tx_count(c, from, "latest", &latest, e) != RPC_OK)
		return NONCE_UNKNOWN;
	if (latest <= t->nonce)
		return NONCE_FREE;
	if (rpc_safe_block(c, &safe, e) != RPC_OK)
		return NONCE_UNKNOWN;
	snprintf(block, sizeof(block), "0x%" PRIx64, safe);
	if (rpc_tx_count(c, from, block, &final_count, e) != RPC_OK)
		return NONCE_UNKNOWN;
	if (final_count <= t->nonce)
		return NONCE_NOT_FINAL;
	if (rpc_get_receipt(c, t->hash, &receipt, e) != RPC_OK)
		return NONCE_UNKNOWN;
	ours = receipt != NULL;
	json_object_put(receipt);
	return ours ? NONCE_OURS : NONCE_TAKEN;
}

/* Held, and not decided: the transaction is not sent again as lost, the payout is followed. */
static void say_held(struct hot_outcome *o, enum nonce_holder h)
{
	if (h == NONCE_OURS)
		say(o, HOT_PENDING, "found_on_recheck",
		    "the node did not find this payout's transaction, then found it after counting the wallet's nonce: it is "
		    "followed");
	else
		say(o, HOT_PENDING, "nonce_not_final",
		    "a transaction in a block not final yet holds this payout's nonce: this payout's is not sent again as "
		    "lost, and the payout fails only once that block is final without it");
}

/* The stored bytes sent (again). 0 sent or known; 1 refused (o filled, reported); -1 cannot say (o filled). */
static int broadcast(struct db *db, struct rpc_client *c, const char *id, const char *from, const struct hot_tx *t,
                     const char *actor, const char *request_id, struct hot_outcome *o)
{
	char hash[RPC_HASH_BUFSZ];
	struct rpc_error e, e2;
	json_object *known = NULL;
	int rc;

	assert(!db->in_tx);
	rc = rpc_send_raw(c, t->raw, t->raw_len, hash, &e);
	if (rc == RPC_OK && strcasecmp(hash, t->hash) != 0)
		log_error("payout %s: the node reports hash %s for transaction %s", id, hash, t->hash);
	if (rc == RPC_OK || (rc == RPC_EREMOTE && rpc_get_transaction(c, t->hash, &known, &e2) == RPC_OK && known)) {
		json_object_put(known);
		o->dbst = mark_tx(db, t->hash, "broadcast", true, NULL);
		return 0;
	}
	json_object_put(known);
	if (rc != RPC_EREMOTE) {
		o->retry_after = e.retry_after > 0 ? e.retry_after : 5;
		say(o, HOT_UNAVAILABLE, "chain_unavailable", "%s; the signed transaction is sent again by the next call", e.message);
		return -1;
	}
	/* Refused and unknown: a nonce finally taken by another transaction means ours can never be mined. */
	enum nonce_holder h = nonce_holder(c, from, t, &e2);
	switch (h) {
	case NONCE_TAKEN:
		mark_tx(db, t->hash, "failed", false, "nonce used by another transaction");
		settle(db, id, false, "nonce_used",
		       "the hot wallet's nonce was used by another transaction: this payout can no longer be mined", actor,
		       request_id, o);
		return 1;
	case NONCE_OURS:
		/* Sent before after all (the refusal was "already known" or "nonce too low"): followed from here. */
		o->dbst = mark_tx(db, t->hash, "broadcast", true, NULL);
		return 0;
	case NONCE_NOT_FINAL:
		say_held(o, h);
		return 1;
	case NONCE_FREE:
		break;
	case NONCE_UNKNOWN:
		o->retry_after = 5;
		say(o, HOT_UNAVAILABLE, "chain_unavailable", "%s", e2.message);
		return -1;
	}
	hotwallet_alert(db, id, t->hash, "broadcast_refused", e.message, t->last_error);
	mark_tx(db, t->hash, t->status, false, e.message);
	say(o, HOT_REFUSED, "broadcast_refused", "%s: the node refused the signed transaction; it is reported and sent again, unchanged, by the next call",
	    e.message);
	return 1;
}

static void follow(struct db *db, const struct config *cfg, const PGresult *out, struct rpc_client *c, struct hot_tx *t,
                   const char *actor, const char *request_id, struct hot_outcome *o)
{
	const char *id = PQgetvalue(out, 0, PCOL_ID), *from = PQgetvalue(out, 0, PCOL_SENDER);
	struct verify_expect x;
	struct rpc_error e;
	char err[256];

	if (outgoing_expect(cfg, PQgetvalue(out, 0, PCOL_NETWORK), PQgetvalue(out, 0, PCOL_CONTRACT),
	                    PQgetvalue(out, 0, PCOL_RECEIVER), PQgetvalue(out, 0, PCOL_AMOUNT), from, &x, err,
	                    sizeof(err)) != 0) {
		say(o, HOT_CONFLICT, "not_verifiable", "payout %s cannot be checked: %s", id, err);
		return;
	}
	o->decimals = x.decimals;
	verify_tx(c, &x, t->hash, &o->vr);
	o->verified = true;
	switch (o->vr.verdict) {
	case VERIFY_CONFIRMED:
		mark_tx(db, t->hash, "confirmed", false, NULL);
		settle(db, id, true, NULL, "hot-wallet transfer confirmed on chain", actor, request_id, o);
		return;
	case VERIFY_PENDING:
		break;
	case VERIFY_FAILED:
		if (o->vr.reason == VR_REVERTED && o->vr.final) {
			mark_tx(db, t->hash, "failed", false, "reverted");
			settle(db, id, false, "reverted", o->vr.message, actor, request_id, o);
			return;
		}
		/* Our own bytes paying something else: the configuration changed under the payout. */
		hotwallet_alert(db, id, t->hash, "needs_review", o->vr.message, t->last_error);
		say(o, HOT_CONFLICT, "needs_review", "the hot wallet's transaction does not verify as this payout: %s", o->vr.message);
		return;
	case VERIFY_ERROR:
		o->retry_after = o->vr.rpc.retry_after > 0 ? o->vr.rpc.retry_after : 5;
		say(o, HOT_UNAVAILABLE, "chain_unavailable", "%s", o->vr.message);
		return;
	}
	if (o->vr.reason != VR_NOT_FOUND) {
		if (o->vr.reason == VR_NOT_DEEP) {
			char n[24];
			const char *p[2] = { id, n };
			snprintf(n, sizeof(n), "%" PRIu64, o->vr.confirmations > INT32_MAX ? (uint64_t)INT32_MAX : o->vr.confirmations);
			db_exec(db, NULL, "UPDATE payments SET confirmations = greatest(confirmations, $2::integer) WHERE id = $1", 2, p);
		}
		say(o, HOT_PENDING, verify_reason_name(o->vr.reason), "%s", o->vr.message);
		return;
	}
	/* The node does not know it: replaced (its nonce finally used by another) or dropped (send it again). */
	enum nonce_holder h = nonce_holder(c, from, t, &e);
	switch (h) {
	case NONCE_TAKEN:
		mark_tx(db, t->hash, "failed", false, "replaced: its nonce was used by another transaction");
		settle(db, id, false, "replaced",
		       "the hot wallet's transaction was replaced (its nonce is used by another): this payout can no longer be mined",
		       actor, request_id, o);
		return;
	case NONCE_NOT_FINAL:
	case NONCE_OURS:
		say_held(o, h);
		return;
	case NONCE_FREE:
		if (broadcast(db, c, id, from, t, actor, request_id, o) == 0)
			say(o, HOT_PENDING, "rebroadcast", "the node had lost the transaction: the same signed bytes were sent again");
		return;
	case NONCE_UNKNOWN:
		o->retry_after = 5;
		say(o, HOT_UNAVAILABLE, "chain_unavailable", "%s", e.message);
	}
}

void hotwallet_advance(struct db *db, const struct config *cfg, const PGresult *out, const char *actor,
                       const char *request_id, struct hot_outcome *o)
{
	const char *id = PQgetvalue(out, 0, PCOL_ID), *status = PQgetvalue(out, 0, PCOL_STATUS);
	const char *network = PQgetvalue(out, 0, PCOL_NETWORK), *from = PQgetvalue(out, 0, PCOL_SENDER);
	const char *addr = hotwallet_address(cfg);
	struct rpc_client c;
	struct rpc_error e;
	struct hot_tx t;

	memset(o, 0, sizeof(*o));
	if (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0) {
		reload(db, id, o);
		if (!PQgetisnull(out, 0, PCOL_TX))
			snprintf(o->tx_hash, sizeof(o->tx_hash), "%s", PQgetvalue(out, 0, PCOL_TX));
		if (strcmp(status, "completed") == 0)
			say(o, HOT_COMPLETED, "completed", "payout %s is completed", id);
		else
			say(o, HOT_FAILED, "payout_failed", "payout %s is %s: open a new one to try again", id, status);
		return;
	}
	if ((o->dbst = load_tx(db, id, &t)) != DB_OK) {
		say(o, HOT_DB, "database", "database error");
		return;
	}
	/* After this point, all exits should use goto out. */
	if (!t.found && (addr == NULL || strcasecmp(addr, from) != 0)) {
		say(o, HOT_CONFLICT, "hot_wallet_changed", "payout %s is to be paid from %s, which is not the configured hot wallet", id,
		    from);
		goto out;
	}
	if (chain_ready(cfg, network, &e) != RPC_OK || rpc_client_init(&c, cfg, network, &e) != RPC_OK) {
		o->retry_after = e.retry_after > 0 ? e.retry_after : 5;
		say(o, HOT_UNAVAILABLE, "chain_unavailable", "%s", e.message);
		goto out;
	}
	if (!t.found) {
		if (strcmp(status, "pending") != 0) {
			say(o, HOT_CONFLICT, "invalid_state", "payout %s is %s without a hot-wallet transaction", id, status);
			goto out;
		}
		if (sign_and_commit(db, cfg, out, &c, actor, request_id, o) != 0)
			goto out;
		/* Committed: from here on a crash loses nothing, the next call sends these bytes. */
		devfault_trip(cfg, "hot_wallet_after_commit");
		if ((o->dbst = load_tx(db, id, &t)) != DB_OK || !t.found) {
			say(o, HOT_DB, "database", "database error");
			goto out;
		}
	}
	snprintf(o->tx_hash, sizeof(o->tx_hash), "%s", t.hash);
	o->has_nonce = true;
	o->nonce = t.nonce;
	if (strcmp(t.status, "failed") == 0) {
		settle(db, id, false, "failed", t.last_error[0] ? t.last_error : "the hot-wallet transaction failed", actor,
		       request_id, o);
		goto out;
	}
	if (strcmp(t.status, "signed") == 0) {
		if (broadcast(db, &c, id, from, &t, actor, request_id, o) != 0)
			goto out;
		snprintf(t.status, sizeof(t.status), "broadcast");
	}
	follow(db, cfg, out, &c, &t, actor, request_id, o);
out:
	if (o->row == NULL)
		reload(db, id, o);
	hot_tx_free(&t);
}

enum db_status hotwallet_select_in_flight(struct db *db, int idle_minutes, int limit, PGresult **rows)
{
	char idle[16], lim[16];
	const char *p[2] = { idle, lim };

	snprintf(idle, sizeof(idle), "%d", idle_minutes);
	snprintf(lim, sizeof(lim), "%d", limit);
	/*
	 * Signed payouts only. One nobody signed yet is signed when an admin asks
	 * again, whose judgement it needs (the order may be disputed since); an
	 * automatic release that could not sign says so (hot-wallet-alert).
	 */
	return db_exec(db, rows,
	               "SELECT " PAYOUT_COLUMNS " FROM payments p JOIN hot_wallet_txs h ON h.payment_id = p.id"
	               " WHERE p.direction = 'out' AND p.provider = 'hot_wallet' AND p.status IN ('pending', 'processing')"
	               " AND h.updated_at <= now() - make_interval(mins => $1::integer)"
	               " ORDER BY h.nonce, p.created_at LIMIT $2::integer", 2, p);
}
