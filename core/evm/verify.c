#include "evm/verify.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>

#include "base/hex.h"
#include "base/valid.h"
#include "evm/chain.h"
#include "evm/eip55.h"
#include "evm/erc20.h"
#include "evm/units.h"

/* A Transfer log has three topics; a fourth would make it ERC-721's. */
#define MAX_TOPICS 4

/* Chain id of the node, per process, once it matched: saves a call per verification. */
static uint64_t matched_chain_id[CONFIG_MAX_NETWORKS];
static char matched_network[CONFIG_MAX_NETWORKS][16];

static void say(struct verify_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(struct verify_result *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

static const char *string_field(json_object *o, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A log removed by a reorganisation is not part of the chain any more; an
 * odd `removed` (neither false nor null) is taken as removed, never as paid. */
static bool removed_log(json_object *log)
{
	json_object *v;

	if (!json_object_object_get_ex(log, "removed", &v) || v == NULL)
		return false;
	return !json_object_is_type(v, json_type_boolean) || json_object_get_boolean(v);
}

/* Decodes one log into out; 1 if it is a Transfer to keep, 0 to skip, -1 malformed. */
static int parse_log(json_object *log, struct verify_log *out, char *err, size_t errlen)
{
	const char *topics[MAX_TOPICS], *address, *data;
	json_object *arr;
	struct erc20_transfer t;
	size_t n;

	if (!json_object_is_type(log, json_type_object)) {
		snprintf(err, errlen, "a log is not an object");
		return -1;
	}
	if (removed_log(log))
		return 0;
	address = string_field(log, "address");
	data = string_field(log, "data");
	if (address == NULL || data == NULL || !json_object_object_get_ex(log, "topics", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		snprintf(err, errlen, "a log lacks address, topics or data");
		return -1;
	}
	n = json_object_array_length(arr);
	if (n == 0 || n > MAX_TOPICS)
		return 0;
	for (size_t i = 0; i < n; i++) {
		json_object *t0 = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(t0, json_type_string)) {
			snprintf(err, errlen, "a log topic is not a string");
			return -1;
		}
		topics[i] = json_object_get_string(t0);
	}
	/* Other events, and Transfer-shaped logs that do not decode (another
	 * contract's odd event), simply do not pay anything. */
	if (erc20_decode_transfer_log(address, topics, n, data, &t) != ERC20_OK)
		return 0;
	memcpy(out->token, t.token, VERIFY_ADDR_LEN);
	memcpy(out->from, t.from, VERIFY_ADDR_LEN);
	memcpy(out->to, t.to, VERIFY_ADDR_LEN);
	memcpy(out->value, t.value, VERIFY_WORD_LEN);
	return 1;
}

int verify_parse_found_log(json_object *log, struct verify_log *out, char tx_hash[RPC_HASH_BUFSZ],
    uint64_t *block)
{
	const char *hash, *num;
	char err[128];

	if (parse_log(log, out, err, sizeof(err)) != 1)
		return 0;
	hash = string_field(log, "transactionHash");
	num = string_field(log, "blockNumber");
	if (hash == NULL || !valid_tx_hash(hash) || num == NULL || units_hexqty_u64(num, block) != UNITS_OK)
		return 0;
	snprintf(tx_hash, RPC_HASH_BUFSZ, "%s", hash);
	return 1;
}

/* Optional address field: 0 absent or null, 1 read into out, -1 not an address. */
static int address_field(json_object *o, const char *name, uint8_t out[VERIFY_ADDR_LEN])
{
	const char *s = string_field(o, name);

	if (s == NULL)
		return 0;
	return eip55_parse(s, out, NULL) == EIP55_OK ? 1 : -1;
}

/* The Transfer logs of a receipt; the cap counts Transfers only. */
static int parse_logs(json_object *logs, struct verify_receipt *out, char *err, size_t errlen)
{
	struct verify_log l;
	size_t n = json_object_array_length(logs);

	for (size_t i = 0; i < n; i++) {
		int rc = parse_log(json_object_array_get_idx(logs, i), &l, err, errlen);
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		if (out->n_logs == VERIFY_MAX_LOGS) {
			snprintf(err, errlen, "the receipt has more than %d Transfer logs", VERIFY_MAX_LOGS);
			return -1;
		}
		out->logs[out->n_logs++] = l;
	}
	return 0;
}

int verify_parse_receipt(json_object *receipt, struct verify_receipt *out, char *err,
    size_t errlen)
{
	const char *status, *block, *hash;
	json_object *logs;
	uint64_t st;
	int rc;

	memset(out, 0, offsetof(struct verify_receipt, logs));
	if (!json_object_is_type(receipt, json_type_object)) {
		snprintf(err, errlen, "the receipt is not an object");
		return -1;
	}
	if ((hash = string_field(receipt, "transactionHash")) == NULL || !valid_tx_hash(hash)) {
		snprintf(err, errlen, "the receipt's transactionHash is not a transaction hash");
		return -1;
	}
	snprintf(out->tx_hash, sizeof(out->tx_hash), "%s", hash);
	status = string_field(receipt, "status");
	block = string_field(receipt, "blockNumber");
	if (status == NULL || units_hexqty_u64(status, &st) != UNITS_OK || st > 1) {
		snprintf(err, errlen, "the receipt's status is not 0x0 or 0x1");
		return -1;
	}
	out->success = st == 1;
	if (block == NULL || units_hexqty_u64(block, &out->block_number) != UNITS_OK) {
		snprintf(err, errlen, "the receipt's blockNumber is not a hex quantity");
		return -1;
	}
	/* `to` is null for a contract creation. */
	if ((rc = address_field(receipt, "to", out->to)) < 0) {
		snprintf(err, errlen, "the receipt's to is not an address");
		return -1;
	}
	out->has_to = rc == 1;
	if ((rc = address_field(receipt, "from", out->from)) < 0) {
		snprintf(err, errlen, "the receipt's from is not an address");
		return -1;
	}
	out->has_from = rc == 1;
	if (!json_object_object_get_ex(receipt, "logs", &logs) || !json_object_is_type(logs, json_type_array)) {
		snprintf(err, errlen, "the receipt has no logs array");
		return -1;
	}
	return parse_logs(logs, out, err, errlen);
}

static void set_depth(const struct verify_expect *x, const struct verify_receipt *r, uint64_t head,
    bool has_finalized, uint64_t finalized, struct verify_result *out)
{
	out->mined = true;
	out->block_number = r->block_number;
	out->head = head;
	out->has_finalized = has_finalized;
	out->finalized = finalized;
	out->required = x->confirmations;
	/* A node behind another (several URLs) may report a head below the block. */
	out->confirmations = head > r->block_number ? head - r->block_number : 0;
}

static bool deep_enough(const struct verify_result *out)
{
	if (out->has_finalized)
		return out->block_number <= out->finalized;
	return out->head >= out->block_number && out->head - out->block_number >= out->required;
}

/*
 * A reverted transaction pays nothing, but it fails the payment only once its
 * block is final (a reorganisation may yet put the transaction in another
 * block, where it succeeds), and only when it was the payment's wallet calling
 * our token: a reverted call to some other contract, or from someone else's
 * wallet, says nothing about this payment.
 */
static void decide_reverted(const struct verify_expect *x, const struct verify_receipt *r,
    struct verify_result *out)
{
	out->reason = VR_REVERTED;
	if (!deep_enough(out)) {
		out->verdict = VERIFY_PENDING;
		say(out, "the transaction reverted in block %llu, which is not final yet",
		    (unsigned long long)r->block_number);
		return;
	}
	out->verdict = VERIFY_FAILED;
	out->final = r->has_to && verify_same_address(r->to, x->token) &&
	             (!x->has_sender || (r->has_from && verify_same_address(r->from, x->sender)));
	say(out, "the transaction reverted in block %llu", (unsigned long long)r->block_number);
}

void verify_decide(const struct verify_expect *x, const struct verify_receipt *r, uint64_t head,
    bool has_finalized, uint64_t finalized, struct verify_result *out)
{
	BIGNUM *sum = BN_new(), *v = BN_new(), *want = BN_new();
	bool any_transfer = false, from_token = false, to_recipient = false, from_sender = false;

	memset(out, 0, sizeof(*out));
	set_depth(x, r, head, has_finalized, finalized, out);
	out->verdict = VERIFY_FAILED;
	if (sum == NULL || v == NULL || want == NULL) {
		out->verdict = VERIFY_ERROR;
		out->reason = VR_RPC;
		say(out, "out of memory");
		goto out;
	}
	/* After this point, all errors should use goto out. */
	if (!r->success) {
		decide_reverted(x, r, out);
		goto out;
	}
	BN_zero(sum);
	for (size_t i = 0; i < r->n_logs; i++) {
		const struct verify_log *l = &r->logs[i];
		any_transfer = true;
		if (!verify_same_address(l->token, x->token))
			continue;
		from_token = true;
		if (!verify_same_address(l->to, x->recipient))
			continue;
		to_recipient = true;
		/* Several transfers to us in one transaction add up; a transfer of
		 * ours elsewhere, or from someone else's wallet, does not. */
		if (x->has_sender && !verify_same_address(l->from, x->sender))
			continue;
		from_sender = true;
		if (!out->has_payer) {
			out->has_payer = true;
			memcpy(out->payer, l->from, sizeof(out->payer));
		}
		if (units_from_word(l->value, v) != UNITS_OK || !BN_add(sum, sum, v))
			goto oom;
	}
	if (!any_transfer) {
		out->reason = VR_NO_TRANSFER;
		say(out, "the transaction carries no ERC-20 Transfer");
		goto out;
	}
	if (!from_token) {
		out->reason = VR_WRONG_TOKEN;
		say(out, "no Transfer from the configured token contract");
		goto out;
	}
	if (!to_recipient) {
		out->reason = VR_WRONG_RECIPIENT;
		say(out, "the token was transferred, but not to the escrow address");
		goto out;
	}
	if (!from_sender) {
		out->reason = VR_WRONG_SENDER;
		say(out, "the transfer to the escrow address is not from the payment's wallet");
		goto out;
	}
	/* A sum beyond 256 bits cannot be written back as a word: cap at the maximum. */
	if (units_to_word(sum, out->amount) != UNITS_OK)
		memset(out->amount, 0xff, sizeof(out->amount));
	if (units_from_word(x->min_amount, want) != UNITS_OK)
		goto oom;
	if (BN_cmp(sum, want) < 0) {
		char got_s[UNITS_DEC_BUFSZ] = "?", want_s[UNITS_DEC_BUFSZ] = "?";
		units_format(sum, x->decimals, got_s, sizeof(got_s));
		units_format(want, x->decimals, want_s, sizeof(want_s));
		out->reason = VR_AMOUNT_SHORT;
		say(out, "the transfer carries %s; the payment expects %s", got_s, want_s);
		goto out;
	}
	/* A payout pays exactly its amount: more is another payment's money leaving. */
	if (x->exact && BN_cmp(sum, want) > 0) {
		char got_s[UNITS_DEC_BUFSZ] = "?", want_s[UNITS_DEC_BUFSZ] = "?";
		units_format(sum, x->decimals, got_s, sizeof(got_s));
		units_format(want, x->decimals, want_s, sizeof(want_s));
		out->reason = VR_AMOUNT_OVER;
		say(out, "the transfer carries %s; the payout is exactly %s", got_s, want_s);
		goto out;
	}
	if (!deep_enough(out)) {
		out->verdict = VERIFY_PENDING;
		out->reason = VR_NOT_DEEP;
		if (out->has_finalized)
			say(out, "mined in block %llu, %llu confirmations; waiting for the block to be finalized (finalized: %llu)",
			    (unsigned long long)out->block_number, (unsigned long long)out->confirmations,
			    (unsigned long long)out->finalized);
		else
			say(out, "mined in block %llu, %llu of %llu confirmations",
			    (unsigned long long)out->block_number, (unsigned long long)out->confirmations,
			    (unsigned long long)out->required);
		goto out;
	}
	out->verdict = VERIFY_CONFIRMED;
	out->reason = VR_OK;
	say(out, "confirmed in block %llu with %llu confirmations", (unsigned long long)out->block_number,
	    (unsigned long long)out->confirmations);
	goto out;
oom:
	out->verdict = VERIFY_ERROR;
	out->reason = VR_RPC;
	say(out, "out of memory");
out:
	BN_free(sum);
	BN_free(v);
	BN_free(want);
}

int verify_expect_init(struct verify_expect *x, const struct config *cfg, const char *network,
    const char *token_contract, const char *recipient, const char *amount,
    const char *sender, char *err, size_t errlen)
{
	const struct network_conf *net = config_network(cfg, network);
	const struct token_conf *tok = NULL;
	BIGNUM *base = NULL;
	int rc = -1;

	memset(x, 0, sizeof(*x));
	if (net == NULL) {
		snprintf(err, errlen, "network %s is not configured", network);
		return -1;
	}
	for (size_t i = 0; i < cfg->n_tokens; i++)
		if (strcmp(cfg->tokens[i].network, network) == 0 &&
		    strcasecmp(cfg->tokens[i].contract, token_contract) == 0)
			tok = &cfg->tokens[i];
	if (tok == NULL) {
		snprintf(err, errlen, "token contract %s is not a configured token of %s", token_contract, network);
		return -1;
	}
	if (eip55_parse(tok->contract, x->token, NULL) != EIP55_OK ||
	    eip55_parse(recipient, x->recipient, NULL) != EIP55_OK) {
		snprintf(err, errlen, "the token contract or the recipient is not a valid address");
		return -1;
	}
	if (sender && sender[0]) {
		if (eip55_parse(sender, x->sender, NULL) != EIP55_OK) {
			snprintf(err, errlen, "the sender %s is not a valid address", sender);
			return -1;
		}
		x->has_sender = true;
	}
	if ((base = BN_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* After this point, all errors should use goto out. */
	if (units_parse(amount, (unsigned)tok->decimals, base) != UNITS_OK ||
	    units_to_word(base, x->min_amount) != UNITS_OK) {
		snprintf(err, errlen, "amount %s cannot be held exactly with %d decimals", amount, tok->decimals);
		goto out;
	}
	snprintf(x->network, sizeof(x->network), "%s", network);
	x->chain_id = (uint64_t)net->chain_id;
	x->decimals = (unsigned)tok->decimals;
	x->confirmations = (uint64_t)net->confirmations;
	rc = 0;
out:
	BN_free(base);
	return rc;
}

static void rpc_failed(struct verify_result *out, const struct rpc_error *e)
{
	out->verdict = VERIFY_ERROR;
	out->reason = VR_RPC;
	out->rpc = *e;
	say(out, "%s", e->message);
}

/* The node answered, but not with something we can use (RPC_EBADANSWER). */
static void bad_receipt(struct verify_result *out, const char *why)
{
	struct rpc_error e = { .kind = RPC_EBADANSWER };

	snprintf(e.message, sizeof(e.message), "eth_getTransactionReceipt: %s", why);
	rpc_failed(out, &e);
}

/* The node must serve the payment's chain; once it did, this process trusts it. */
static int check_chain(struct rpc_client *c, const struct verify_expect *x, struct verify_result *out)
{
	struct rpc_error e;
	uint64_t id;
	size_t slot = CONFIG_MAX_NETWORKS;

	for (size_t i = 0; i < CONFIG_MAX_NETWORKS; i++) {
		if (strcmp(matched_network[i], x->network) == 0) {
			if (matched_chain_id[i] == x->chain_id)
				return 0;
			slot = i;
			break;
		}
		if (matched_network[i][0] == '\0' && slot == CONFIG_MAX_NETWORKS)
			slot = i;
	}
	if (rpc_chain_id(c, &id, &e) != RPC_OK) {
		rpc_failed(out, &e);
		return -1;
	}
	if (id != x->chain_id) {
		out->verdict = VERIFY_FAILED;
		out->reason = VR_WRONG_CHAIN;
		say(out, "the %s node serves chain %llu; the payment is on chain %llu", x->network,
		    (unsigned long long)id, (unsigned long long)x->chain_id);
		return -1;
	}
	if (slot < CONFIG_MAX_NETWORKS) {
		snprintf(matched_network[slot], sizeof(matched_network[slot]), "%s", x->network);
		matched_chain_id[slot] = id;
	}
	return 0;
}

enum verify_verdict verify_tx(struct rpc_client *c, const struct verify_expect *x,
    const char *tx_hash, struct verify_result *out)
{
	static struct verify_receipt parsed;    /* large: kept off the stack */
	json_object *receipt = NULL, *tx = NULL;
	struct rpc_error e;
	uint64_t head, fin = 0;
	bool has_fin;
	char err[128];

	memset(out, 0, sizeof(*out));
	if (!valid_tx_hash(tx_hash)) {
		out->verdict = VERIFY_FAILED;
		out->reason = VR_NOT_FOUND;
		say(out, "not a transaction hash");
		return out->verdict;
	}
	if (check_chain(c, x, out) != 0)
		return out->verdict;
	/* After this point, all errors should use goto out. */
	if (rpc_get_receipt(c, tx_hash, &receipt, &e) != RPC_OK) {
		rpc_failed(out, &e);
		goto out;
	}
	if (receipt == NULL) {
		if (rpc_get_transaction(c, tx_hash, &tx, &e) != RPC_OK) {
			rpc_failed(out, &e);
			goto out;
		}
		out->verdict = VERIFY_PENDING;
		out->reason = tx ? VR_NOT_MINED : VR_NOT_FOUND;
		out->required = x->confirmations;
		say(out, tx ? "the transaction is not mined yet" : "transaction not found or still pending");
		goto out;
	}
	if (verify_parse_receipt(receipt, &parsed, err, sizeof(err)) != 0) {
		bad_receipt(out, err);
		goto out;
	}
	/* A misbehaving node or proxy must not answer for one transaction with another's receipt. */
	if (strcasecmp(parsed.tx_hash, tx_hash) != 0) {
		bad_receipt(out, "the receipt is of another transaction");
		goto out;
	}
	if (rpc_block_number(c, &head, &e) != RPC_OK || rpc_finalized_block(c, &fin, &has_fin, &e) != RPC_OK) {
		rpc_failed(out, &e);
		goto out;
	}
	verify_decide(x, &parsed, head, has_fin, fin, out);
out:
	json_object_put(receipt);
	json_object_put(tx);
	return out->verdict;
}

enum verify_verdict verify_payment_tx(const struct config *cfg, const char *network,
    const char *token_contract, const char *recipient, const char *amount, const char *sender,
    const char *tx_hash, struct verify_result *out)
{
	struct verify_expect x;
	struct rpc_client c;
	struct rpc_error e = { .kind = RPC_ENOCONF };

	memset(out, 0, sizeof(*out));
	if (verify_expect_init(&x, cfg, network, token_contract, recipient, amount, sender,
	                       e.message, sizeof(e.message)) != 0) {
		rpc_failed(out, &e);
		return out->verdict;
	}
	if (chain_ready(cfg, network, &e) != RPC_OK || rpc_client_init(&c, cfg, network, &e) != RPC_OK) {
		rpc_failed(out, &e);
		return out->verdict;
	}
	return verify_tx(&c, &x, tx_hash, out);
}

const char *verify_verdict_name(enum verify_verdict v)
{
	switch (v) {
	case VERIFY_CONFIRMED: return "confirmed";
	case VERIFY_PENDING: return "pending";
	case VERIFY_FAILED: return "failed";
	case VERIFY_ERROR: return "error";
	}
	return "error";
}

const char *verify_reason_name(enum verify_reason r)
{
	static const char *const names[] = {
		[VR_OK] = "ok", [VR_NOT_FOUND] = "not_found", [VR_NOT_MINED] = "not_mined",
		[VR_NOT_DEEP] = "not_deep", [VR_REVERTED] = "reverted", [VR_NO_TRANSFER] = "no_transfer",
		[VR_WRONG_TOKEN] = "wrong_token", [VR_WRONG_RECIPIENT] = "wrong_recipient",
		[VR_WRONG_SENDER] = "wrong_sender", [VR_AMOUNT_SHORT] = "amount_short",
		[VR_WRONG_CHAIN] = "wrong_chain", [VR_RPC] = "rpc_error", [VR_AMOUNT_OVER] = "amount_over",
	};
	return (size_t)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

json_object *verify_result_json(const struct verify_result *r, unsigned decimals)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "status", json_object_new_string(verify_verdict_name(r->verdict)));
	json_object_object_add(o, "reason", json_object_new_string(verify_reason_name(r->reason)));
	json_object_object_add(o, "message", json_object_new_string(r->message));
	json_object_object_add(o, "final", json_object_new_boolean(r->final));
	json_object_object_add(o, "requiredConfirmations", json_object_new_int64((int64_t)r->required));
	if (!r->mined)
		return o;
	BIGNUM *sum = BN_new();
	char base[UNITS_DEC_BUFSZ], dec[UNITS_DEC_BUFSZ];
	json_object_object_add(o, "blockNumber", json_object_new_int64((int64_t)r->block_number));
	json_object_object_add(o, "confirmations", json_object_new_int64((int64_t)r->confirmations));
	json_object_object_add(o, "headBlock", json_object_new_int64((int64_t)r->head));
	json_object_object_add(o, "finalizedBlock", r->has_finalized ? json_object_new_int64((int64_t)r->finalized) : NULL);
	/* Amounts leave as strings: exact at any size, never a double on the client. */
	if (sum && units_from_word(r->amount, sum) == UNITS_OK &&
	    units_format(sum, 0, base, sizeof(base)) == UNITS_OK &&
	    units_format(sum, decimals, dec, sizeof(dec)) == UNITS_OK) {
		json_object_object_add(o, "amountReceivedBaseUnits", json_object_new_string(base));
		json_object_object_add(o, "amountReceived", json_object_new_string(dec));
	}
	BN_free(sum);
	return o;
}
