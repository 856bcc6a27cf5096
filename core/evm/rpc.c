#include "evm/rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hex.h"
#include "base/httpc.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "evm/eip55.h"
#include "evm/erc20.h"
#include "evm/units.h"

/* Nesting of any answer we read is shallow: a receipt is four levels deep. */
#define ANSWER_MAX_DEPTH 16

static int fail(struct rpc_error *e, enum rpc_err kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct rpc_error *e, enum rpc_err kind, const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	e->code = 0;
	e->retry_after = 0;
	e->detail[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return kind;
}

/*
 * What a JSON-RPC error code means, in our words: clients learn what kind of
 * refusal it was (a revert matters to a payout) without the node's own text.
 */
static const char *code_text(long long code)
{
	switch (code) {
	case 3: return "execution reverted";
	case -32600: return "invalid request";
	case -32601: return "method not supported by the node";
	case -32602: return "invalid parameters";
	case -32005: return "the node's rate or size limit was exceeded";
	default: return "the node refused the call";
	}
}

const char *rpc_strerror(enum rpc_err e)
{
	switch (e) {
	case RPC_OK: return "ok";
	case RPC_ENOCONF: return "no RPC configured";
	case RPC_EUNAVAILABLE: return "RPC unavailable";
	case RPC_EREMOTE: return "RPC error";
	case RPC_EBADANSWER: return "malformed RPC answer";
	}
	return "RPC failure";
}

int rpc_client_init(struct rpc_client *c, const struct config *cfg, const char *network,
    struct rpc_error *e)
{
	const struct network_conf *net = config_network(cfg, network);

	memset(c, 0, sizeof(*c));
	if (net == NULL || net->n_rpc == 0)
		return fail(e, RPC_ENOCONF, "no RPC is configured for network %s", network);
	c->net = net;
	c->upstream = strcmp(network, "ethereum") == 0 ? UPSTREAM_RPC_ETHEREUM : UPSTREAM_RPC_BSC;
	c->connect_timeout_ms = cfg->rpc_connect_timeout_ms;
	c->timeout_ms = cfg->rpc_timeout_ms;
	c->next_id = 1;
	e->kind = RPC_OK;
	e->message[0] = '\0';
	e->detail[0] = '\0';
	return RPC_OK;
}

int rpc_parse_answer(const char *body, size_t len, long long id, json_object **result,
    struct rpc_error *e)
{
	json_tokener *tok = json_tokener_new_ex(ANSWER_MAX_DEPTH);
	json_object *root, *v, *res = NULL, *err = NULL;
	int rc;

	*result = NULL;
	if (tok == NULL)
		return fail(e, RPC_EBADANSWER, "out of memory parsing the answer");
	root = json_tokener_parse_ex(tok, body, (int)(len > (size_t)INT32_MAX ? INT32_MAX : len));
	/* Anything after the object (a second document, garbage) is refused too. */
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_tokener_free(tok);
		json_object_put(root);
		return fail(e, RPC_EBADANSWER, "the answer is not one JSON document");
	}
	json_tokener_free(tok);
	/* After this point, all errors should use goto out. */
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "jsonrpc", &v) || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "2.0") != 0) {
		rc = fail(e, RPC_EBADANSWER, "the answer is not a JSON-RPC 2.0 object");
		goto out;
	}
	if (!json_object_object_get_ex(root, "id", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != id) {
		rc = fail(e, RPC_EBADANSWER, "the answer's id is not the request's (%lld)", id);
		goto out;
	}
	bool has_result = json_object_object_get_ex(root, "result", &res);
	bool has_error = json_object_object_get_ex(root, "error", &err);
	if (has_result == has_error) {
		rc = fail(e, RPC_EBADANSWER, "the answer must hold exactly one of result and error");
		goto out;
	}
	if (has_error) {
		json_object *code, *msg;
		if (!json_object_is_type(err, json_type_object) ||
		    !json_object_object_get_ex(err, "code", &code) || !json_object_is_type(code, json_type_int) ||
		    !json_object_object_get_ex(err, "message", &msg) || !json_object_is_type(msg, json_type_string)) {
			rc = fail(e, RPC_EBADANSWER, "the answer's error lacks an integer code or a message");
			goto out;
		}
		/* The node's text stays in detail: clients get the code and a generic message. */
		long long n = json_object_get_int64(code);
		rc = fail(e, RPC_EREMOTE, "%s (JSON-RPC error %lld)", code_text(n), n);
		e->code = n;
		snprintf(e->detail, sizeof(e->detail), "%s", json_object_get_string(msg));
		goto out;
	}
	*result = json_object_get(res);
	e->kind = RPC_OK;
	e->message[0] = '\0';
	e->detail[0] = '\0';
	rc = RPC_OK;
out:
	json_object_put(root);
	return rc;
}

/* One URL, one exchange: RPC_OK and RPC_EREMOTE are answers, the rest failures of this URL. */
static int call_url(struct rpc_client *c, size_t i, const char *payload, size_t plen, long long id,
    size_t max_answer, json_object **result, struct rpc_error *e)
{
	static const char *const headers[] = { "Content-Type: application/json",
		                               "Accept: application/json", NULL };
	struct httpc_request rq = {
		.method = "POST", .url = c->net->rpc_urls[i], .headers = headers,
		.body = payload, .body_len = plen, .connect_timeout_ms = c->connect_timeout_ms,
		.timeout_ms = c->timeout_ms, .max_response = max_answer,
	};
	struct httpc_response rs = { 0, BUF_INIT };
	char err[256];
	enum httpc_err he;
	int rc;

	he = httpc_do(&rq, &rs, err, sizeof(err));
	/*
	 * An answer too large to read came from a working node (a buyer can name
	 * a huge transaction on purpose): a bad answer, not an outage, so it
	 * never trips the breaker that every verification depends on.
	 */
	if (he == HTTPC_TOO_LARGE)
		rc = fail(e, RPC_EBADANSWER, "the answer is larger than %zu bytes", rq.max_response);
	else if (he != HTTPC_OK)
		/* curl's message may quote the URL: give only the kind of failure. */
		rc = fail(e, RPC_EUNAVAILABLE, "rpc.%s #%zu: %s", c->net->name, i + 1, httpc_strerror(he));
	else if (rs.status != 200)
		rc = fail(e, RPC_EUNAVAILABLE, "rpc.%s #%zu: HTTP %ld", c->net->name, i + 1, rs.status);
	else
		rc = rpc_parse_answer(rs.body.data ? rs.body.data : "", rs.body.len, id, result, e);
	if (rc == RPC_EBADANSWER) {
		char msg[RPC_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", e->message);
		fail(e, RPC_EBADANSWER, "rpc.%s #%zu: %.200s", c->net->name, i + 1, msg);
	}
	buf_free(&rs.body);
	return rc;
}

/*
 * Does URL i serve the configured chain? Asked once per URL in each worker,
 * before its first answer is used: a fallback node on another chain (a
 * testnet, a fork) must never confirm a payment. RPC_OK, or a failure that
 * makes the caller try the next URL.
 */
static int url_serves_chain(struct rpc_client *c, size_t i, struct rpc_error *e)
{
	/* URLs (with the chain they were checked for) seen to serve it, in this process. */
	static struct { char url[256]; long long chain_id; } seen[CONFIG_MAX_NETWORKS * CONFIG_MAX_RPC];
	static size_t n_seen;
	static const char ask[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"eth_chainId\",\"params\":[]}";
	const char *url = c->net->rpc_urls[i];
	json_object *res = NULL;
	uint64_t id = 0;
	int rc;

	for (size_t k = 0; k < n_seen; k++)
		if (seen[k].chain_id == c->net->chain_id && strcmp(seen[k].url, url) == 0)
			return RPC_OK;
	rc = call_url(c, i, ask, sizeof(ask) - 1, 0, 4096, &res, e);
	if (rc == RPC_OK && (!json_object_is_type(res, json_type_string) ||
	                     units_hexqty_u64(json_object_get_string(res), &id) != UNITS_OK))
		rc = fail(e, RPC_EBADANSWER, "rpc.%s #%zu: eth_chainId answered no quantity", c->net->name, i + 1);
	json_object_put(res);
	if (rc != RPC_OK)
		return rc == RPC_EREMOTE ? RPC_EUNAVAILABLE : rc;
	if ((long long)id != c->net->chain_id) {
		log_error("rpc.%s #%zu serves chain %llu, not %lld: it is not used", c->net->name, i + 1,
		          (unsigned long long)id, c->net->chain_id);
		return fail(e, RPC_EUNAVAILABLE, "rpc.%s #%zu serves another chain", c->net->name, i + 1);
	}
	if (n_seen < sizeof(seen) / sizeof(seen[0])) {
		snprintf(seen[n_seen].url, sizeof(seen[n_seen].url), "%s", url);
		seen[n_seen++].chain_id = c->net->chain_id;
	}
	return RPC_OK;
}

int rpc_call(struct rpc_client *c, const char *method, json_object *params, size_t max_answer,
    json_object **result, struct rpc_error *e)
{
	json_object *rq = json_object_new_object();
	long long id = c->next_id++;
	int rc = RPC_EUNAVAILABLE;

	*result = NULL;
	json_object_object_add(rq, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(rq, "id", json_object_new_int64(id));
	json_object_object_add(rq, "method", json_object_new_string(method));
	json_object_object_add(rq, "params", params ? params : json_object_new_array());
	/* After this point, all errors should use goto out. */
	if (!breaker_allow(c->upstream)) {
		fail(e, RPC_EUNAVAILABLE, "%s: the %s RPC is failing; calls are paused", method, c->net->name);
		e->retry_after = breaker_retry_after(c->upstream);
		goto out;
	}
	const char *payload = json_object_to_json_string_ext(rq, JSON_C_TO_STRING_PLAIN);
	size_t plen = strlen(payload);
	for (size_t i = 0; i < c->net->n_rpc; i++) {
		/* eth_chainId itself is how the start-up check learns a node's chain: asked as is. */
		if (strcmp(method, "eth_chainId") != 0 && (rc = url_serves_chain(c, i, e)) != RPC_OK) {
			log_warn("%s: %s", method, e->message);
			continue;
		}
		rc = call_url(c, i, payload, plen, id, max_answer ? max_answer : RPC_MAX_ANSWER, result, e);
		if (rc == RPC_OK || rc == RPC_EREMOTE)
			break;
		log_warn("%s: %s", method, e->message);
	}
	if (rc == RPC_OK || rc == RPC_EREMOTE || rc == RPC_EBADANSWER) {
		breaker_success(c->upstream);
	} else {
		breaker_failure(c->upstream);
		e->retry_after = breaker_retry_after(c->upstream);
		if (e->retry_after == 0)
			e->retry_after = 5;
	}
	if (rc == RPC_EREMOTE) {
		/* The operator reads the node's own words here; the caller's message stays generic. */
		log_warn("%s: the %s node answered JSON-RPC error %lld: %s", method, c->net->name, e->code, e->detail);
		snprintf(e->message, sizeof(e->message), "%s: %s (JSON-RPC error %lld)", method, code_text(e->code),
		         e->code);
	}
out:
	json_object_put(rq);
	return rc;
}

int rpc_result_u64(json_object *result, const char *what, uint64_t *out, struct rpc_error *e)
{
	if (!json_object_is_type(result, json_type_string) ||
	    units_hexqty_u64(json_object_get_string(result), out) != UNITS_OK)
		return fail(e, RPC_EBADANSWER, "%s: expected a hex quantity", what);
	return RPC_OK;
}

/* Calls a method whose result is a hex quantity. */
static int call_u64(struct rpc_client *c, const char *method, json_object *params, uint64_t *out,
    struct rpc_error *e)
{
	json_object *res;
	int rc = rpc_call(c, method, params, 0, &res, e);

	if (rc == RPC_OK)
		rc = rpc_result_u64(res, method, out, e);
	json_object_put(res);
	return rc;
}

int rpc_chain_id(struct rpc_client *c, uint64_t *out, struct rpc_error *e)
{
	return call_u64(c, "eth_chainId", NULL, out, e);
}

int rpc_block_number(struct rpc_client *c, uint64_t *out, struct rpc_error *e)
{
	return call_u64(c, "eth_blockNumber", NULL, out, e);
}

int rpc_finalized_block(struct rpc_client *c, uint64_t *out, bool *found, struct rpc_error *e)
{
	json_object *params = json_object_new_array(), *res = NULL, *num;
	int rc;

	*found = false;
	json_object_array_add(params, json_object_new_string("finalized"));
	json_object_array_add(params, json_object_new_boolean(0));
	rc = rpc_call(c, "eth_getBlockByNumber", params, 0, &res, e);
	if (rc == RPC_EREMOTE) {
		/* A node that does not know the tag: depth below head is the fallback. */
		rc = RPC_OK;
	} else if (rc == RPC_OK && res != NULL) {
		if (!json_object_is_type(res, json_type_object) ||
		    !json_object_object_get_ex(res, "number", &num))
			rc = fail(e, RPC_EBADANSWER, "eth_getBlockByNumber: the block has no number");
		else if ((rc = rpc_result_u64(num, "eth_getBlockByNumber", out, e)) == RPC_OK)
			*found = true;
	}
	json_object_put(res);
	return rc;
}

int rpc_safe_block(struct rpc_client *c, uint64_t *out, struct rpc_error *e)
{
	uint64_t head, depth = (uint64_t)c->net->confirmations;
	bool has_fin;
	int rc;

	if ((rc = rpc_finalized_block(c, out, &has_fin, e)) != RPC_OK || has_fin)
		return rc;
	if ((rc = rpc_block_number(c, &head, e)) != RPC_OK)
		return rc;
	*out = head > depth ? head - depth : 0;
	return RPC_OK;
}

int rpc_block_timestamp(struct rpc_client *c, uint64_t number, uint64_t *out, struct rpc_error *e)
{
	char n[UNITS_HEX_BUFSZ];
	json_object *params = json_object_new_array(), *res = NULL, *ts;
	int rc;

	units_hexqty_format_u64(number, n, sizeof(n));
	json_object_array_add(params, json_object_new_string(n));
	json_object_array_add(params, json_object_new_boolean(0));
	rc = rpc_call(c, "eth_getBlockByNumber", params, 0, &res, e);
	if (rc == RPC_OK && (res == NULL || !json_object_is_type(res, json_type_object) ||
	                     !json_object_object_get_ex(res, "timestamp", &ts)))
		rc = fail(e, RPC_EBADANSWER, "eth_getBlockByNumber: block %llu unknown, or without a timestamp",
		          (unsigned long long)number);
	else if (rc == RPC_OK)
		rc = rpc_result_u64(ts, "eth_getBlockByNumber", out, e);
	json_object_put(res);
	return rc;
}

static int by_hash(struct rpc_client *c, const char *method, const char *tx_hash, json_object **out,
    struct rpc_error *e)
{
	json_object *params = json_object_new_array();
	int rc;

	json_object_array_add(params, json_object_new_string(tx_hash));
	rc = rpc_call(c, method, params, RPC_MAX_RECEIPT_ANSWER, out, e);
	if (rc == RPC_OK && *out != NULL && !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		rc = fail(e, RPC_EBADANSWER, "%s: expected an object or null", method);
	}
	return rc;
}

int rpc_get_receipt(struct rpc_client *c, const char *tx_hash, json_object **out,
    struct rpc_error *e)
{
	return by_hash(c, "eth_getTransactionReceipt", tx_hash, out, e);
}

int rpc_get_transaction(struct rpc_client *c, const char *tx_hash, json_object **out,
    struct rpc_error *e)
{
	return by_hash(c, "eth_getTransactionByHash", tx_hash, out, e);
}

int rpc_tx_count(struct rpc_client *c, const char *address, const char *block, uint64_t *out,
    struct rpc_error *e)
{
	json_object *params = json_object_new_array();

	json_object_array_add(params, json_object_new_string(address));
	json_object_array_add(params, json_object_new_string(block));
	return call_u64(c, "eth_getTransactionCount", params, out, e);
}

int rpc_gas_price(struct rpc_client *c, BIGNUM *out, struct rpc_error *e)
{
	json_object *res;
	int rc = rpc_call(c, "eth_gasPrice", NULL, 0, &res, e);

	if (rc == RPC_OK && (!json_object_is_type(res, json_type_string) ||
	                     units_hexqty_parse(json_object_get_string(res), out) != UNITS_OK))
		rc = fail(e, RPC_EBADANSWER, "eth_gasPrice: expected a hex quantity");
	json_object_put(res);
	return rc;
}

/* {to, data[, from]} as eth_call and eth_estimateGas take it. */
static json_object *call_object(const char *from, const char *to, const uint8_t *data, size_t len)
{
	json_object *o = json_object_new_object();
	char *hex = xmalloc(HEX_BUFSZ_0X(len));

	hex_encode_0x(data, len, hex, HEX_BUFSZ_0X(len));
	if (from)
		json_object_object_add(o, "from", json_object_new_string(from));
	json_object_object_add(o, "to", json_object_new_string(to));
	json_object_object_add(o, "data", json_object_new_string(hex));
	free(hex);
	return o;
}

int rpc_estimate_gas(struct rpc_client *c, const char *from, const char *to,
    const uint8_t *data, size_t len, uint64_t *out, struct rpc_error *e)
{
	json_object *params = json_object_new_array();

	json_object_array_add(params, call_object(from, to, data, len));
	return call_u64(c, "eth_estimateGas", params, out, e);
}

int rpc_send_raw(struct rpc_client *c, const uint8_t *raw, size_t len,
    char hash[RPC_HASH_BUFSZ], struct rpc_error *e)
{
	json_object *params = json_object_new_array(), *res;
	char *hex = xmalloc(HEX_BUFSZ_0X(len));
	int rc;

	hex_encode_0x(raw, len, hex, HEX_BUFSZ_0X(len));
	json_object_array_add(params, json_object_new_string(hex));
	free(hex);
	rc = rpc_call(c, "eth_sendRawTransaction", params, 0, &res, e);
	if (rc == RPC_OK) {
		const char *h = json_object_is_type(res, json_type_string) ? json_object_get_string(res) : "";
		uint8_t bytes[32];
		if (hex_decode_exact(h, bytes, sizeof(bytes)) != HEX_OK || strncmp(h, "0x", 2) != 0)
			rc = fail(e, RPC_EBADANSWER, "eth_sendRawTransaction: expected a transaction hash");
		else
			snprintf(hash, RPC_HASH_BUFSZ, "%s", h);
	}
	json_object_put(res);
	return rc;
}

int rpc_eth_call(struct rpc_client *c, const char *to, const uint8_t *data, size_t len,
    char **out, struct rpc_error *e)
{
	json_object *params = json_object_new_array(), *res;
	int rc;

	*out = NULL;
	json_object_array_add(params, call_object(NULL, to, data, len));
	json_object_array_add(params, json_object_new_string("latest"));
	rc = rpc_call(c, "eth_call", params, 0, &res, e);
	if (rc == RPC_OK) {
		if (!json_object_is_type(res, json_type_string) ||
		    strncmp(json_object_get_string(res), "0x", 2) != 0)
			rc = fail(e, RPC_EBADANSWER, "eth_call: expected hex return data");
		else
			*out = xstrdup(json_object_get_string(res));
	}
	json_object_put(res);
	return rc;
}

int rpc_token_decimals(struct rpc_client *c, const char *contract, unsigned *out,
    struct rpc_error *e)
{
	uint8_t data[ERC20_DECIMALS_CALLDATA_LEN];
	char *ret = NULL;
	int rc;

	erc20_decimals_calldata(data);
	rc = rpc_eth_call(c, contract, data, sizeof(data), &ret, e);
	/* "0x" is what a call to an address without code returns. */
	if (rc == RPC_OK && erc20_decode_decimals(ret, out) != ERC20_OK)
		rc = fail(e, RPC_EBADANSWER, "decimals() of %s: %s", contract,
		          strcmp(ret, "0x") == 0 ? "no contract at this address"
		                                 : "not one 32-byte word below 256");
	free(ret);
	return rc;
}

static int address_topic(const char *address, char out[ERC20_TOPIC_BUFSZ])
{
	uint8_t addr[EIP55_ADDR_LEN];

	if (eip55_parse(address, addr, NULL) != EIP55_OK)
		return -1;
	erc20_address_topic(addr, out);
	return 0;
}

/* One address as a topic (a string), NULL for a malformed one. */
static json_object *topic_of(const char *address)
{
	char t[ERC20_TOPIC_BUFSZ];

	return address_topic(address, t) == 0 ? json_object_new_string(t) : NULL;
}

int rpc_transfer_log_params(const struct rpc_log_filter *f, json_object **params, struct rpc_error *e)
{
	char from_block[UNITS_HEX_BUFSZ], to_block[UNITS_HEX_BUFSZ];
	json_object *filter, *topics, *from = NULL, *to = NULL;

	*params = NULL;
	/* Every Transfer of a token in a window is no question we ask. */
	if (f->to == NULL && f->from == NULL && f->n_to_any == 0)
		return fail(e, RPC_EBADANSWER, "eth_getLogs: a filter names a sender or a recipient");
	if (f->to == NULL && (f->n_to_any > RPC_MAX_LOG_RECIPIENTS || (f->n_to_any > 0 && f->to_any == NULL)))
		return fail(e, RPC_EBADANSWER, "eth_getLogs: at most %d recipients at once", RPC_MAX_LOG_RECIPIENTS);
	if ((f->from && (from = topic_of(f->from)) == NULL) || (f->to && (to = topic_of(f->to)) == NULL))
		goto bad;
	if (f->to == NULL && f->n_to_any > 0) {
		to = json_object_new_array();
		for (size_t i = 0; i < f->n_to_any; i++) {
			json_object *t = topic_of(f->to_any[i]);
			if (t == NULL)
				goto bad;
			json_object_array_add(to, t);
		}
	}
	units_hexqty_format_u64(f->from_block, from_block, sizeof(from_block));
	units_hexqty_format_u64(f->to_block, to_block, sizeof(to_block));
	topics = json_object_new_array();
	json_object_array_add(topics, json_object_new_string(ERC20_TRANSFER_TOPIC));
	json_object_array_add(topics, from);
	/* A trailing null would say the same as none; nodes take both. */
	json_object_array_add(topics, to);
	filter = json_object_new_object();
	json_object_object_add(filter, "fromBlock", json_object_new_string(from_block));
	json_object_object_add(filter, "toBlock", json_object_new_string(to_block));
	json_object_object_add(filter, "address", json_object_new_string(f->contract));
	json_object_object_add(filter, "topics", topics);
	*params = json_object_new_array();
	json_object_array_add(*params, filter);
	return RPC_OK;
bad:
	json_object_put(from);
	json_object_put(to);
	return fail(e, RPC_EBADANSWER, "eth_getLogs: a filter address is not a valid address");
}

int rpc_transfer_logs(struct rpc_client *c, const struct rpc_log_filter *f, json_object **out,
    struct rpc_error *e)
{
	json_object *params;
	int rc;

	*out = NULL;
	if ((rc = rpc_transfer_log_params(f, &params, e)) != RPC_OK)
		return rc;
	rc = rpc_call(c, "eth_getLogs", params, RPC_MAX_LOGS_ANSWER, out, e);
	if (rc == RPC_OK && !json_object_is_type(*out, json_type_array)) {
		json_object_put(*out);
		*out = NULL;
		rc = fail(e, RPC_EBADANSWER, "eth_getLogs: expected an array");
	}
	return rc;
}

/* Calls a method whose result is a hex quantity of any size. */
static int call_bn(struct rpc_client *c, const char *method, json_object *params, BIGNUM *out,
    struct rpc_error *e)
{
	json_object *res;
	int rc = rpc_call(c, method, params, 0, &res, e);

	if (rc == RPC_OK && (!json_object_is_type(res, json_type_string) ||
	                     units_hexqty_parse(json_object_get_string(res), out) != UNITS_OK))
		rc = fail(e, RPC_EBADANSWER, "%s: expected a hex quantity", method);
	json_object_put(res);
	return rc;
}

int rpc_balance(struct rpc_client *c, const char *address, const char *block, BIGNUM *out,
    struct rpc_error *e)
{
	json_object *params = json_object_new_array();

	json_object_array_add(params, json_object_new_string(address));
	json_object_array_add(params, json_object_new_string(block));
	return call_bn(c, "eth_getBalance", params, out, e);
}

int rpc_token_balance(struct rpc_client *c, const char *contract, const char *owner,
    const char *block, BIGNUM *out, struct rpc_error *e)
{
	uint8_t addr[EIP55_ADDR_LEN], data[ERC20_BALANCE_OF_CALLDATA_LEN], word[ERC20_WORD_LEN];
	json_object *params, *res = NULL;
	int rc;

	if (eip55_parse(owner, addr, NULL) != EIP55_OK)
		return fail(e, RPC_EBADANSWER, "balanceOf: %s is not an address", owner);
	erc20_balance_of_calldata(addr, data);
	params = json_object_new_array();
	json_object_array_add(params, call_object(NULL, contract, data, sizeof(data)));
	json_object_array_add(params, json_object_new_string(block));
	rc = rpc_call(c, "eth_call", params, 0, &res, e);
	if (rc == RPC_OK && (!json_object_is_type(res, json_type_string) ||
	                     erc20_decode_word(json_object_get_string(res), word) != ERC20_OK ||
	                     units_from_word(word, out) != UNITS_OK))
		rc = fail(e, RPC_EBADANSWER, "balanceOf of %s: not one 32-byte word", contract);
	json_object_put(res);
	return rc;
}

int rpc_base_fee(struct rpc_client *c, BIGNUM *out, bool *found, struct rpc_error *e)
{
	json_object *params = json_object_new_array(), *res = NULL, *fee;
	int rc;

	*found = false;
	json_object_array_add(params, json_object_new_string("latest"));
	json_object_array_add(params, json_object_new_boolean(0));
	rc = rpc_call(c, "eth_getBlockByNumber", params, 0, &res, e);
	if (rc == RPC_OK && !json_object_is_type(res, json_type_object))
		rc = fail(e, RPC_EBADANSWER, "eth_getBlockByNumber: expected the latest block");
	if (rc == RPC_OK && json_object_object_get_ex(res, "baseFeePerGas", &fee) && fee != NULL) {
		if (!json_object_is_type(fee, json_type_string) ||
		    units_hexqty_parse(json_object_get_string(fee), out) != UNITS_OK)
			rc = fail(e, RPC_EBADANSWER, "eth_getBlockByNumber: baseFeePerGas is not a hex quantity");
		else
			*found = true;
	}
	json_object_put(res);
	return rc;
}

int rpc_max_priority_fee(struct rpc_client *c, BIGNUM *out, struct rpc_error *e)
{
	return call_bn(c, "eth_maxPriorityFeePerGas", NULL, out, e);
}
