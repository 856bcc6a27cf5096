/* chain: is each configured EVM network the chain we think it is?
 *
 * At start-up, for every network with RPC URLs, the node's chain id must equal
 * chain_id.<net> and every configured token's decimals() must equal
 * token_decimals.<net>.<SYM>: a wrong node or a wrong contract address would
 * otherwise have us accept payments on the wrong chain or misread amounts by
 * orders of magnitude, so the service refuses to start. A node that cannot be
 * reached is not a reason to stay down: the network is marked unavailable
 * (health says so) and a worker checks it again before first use. */
#ifndef CHAIN_H
#define CHAIN_H

#include <stddef.h>

#include <json-c/json.h>

#include "base/config.h"
#include "evm/rpc.h"

enum chain_status {
	CHAIN_UNCONFIGURED = 0, /* no RPC URL: not checked, not usable */
	CHAIN_UNCHECKED,        /* not checked yet in this process */
	CHAIN_OK,               /* chain id and every token's decimals match */
	CHAIN_UNAVAILABLE,      /* the RPC did not answer */
	CHAIN_MISMATCH,         /* wrong chain id or decimals: never used */
};

/*
 * In the master, before the first fork. The checks run in a short-lived child
 * process, so the master never holds a libcurl handle (with live connections)
 * that every worker would inherit. Returns 0 (networks that did not answer are
 * marked unavailable), or -1 with err naming the mismatch: refuse to start.
 * Only a success replaces the states later workers inherit: a refused reload
 * leaves the running configuration's. A reload runs it last.
 */
int chain_check_startup(const struct config *cfg, char *err, size_t errlen);

/*
 * In a worker, before trusting a network: checks it now unless it is already
 * known good. Returns RPC_OK; RPC_ENOCONF for an unconfigured or mismatched
 * network (e says which); RPC_EUNAVAILABLE while its node cannot be reached.
 */
int chain_ready(const struct config *cfg, const char *network, struct rpc_error *e);

/* {"bsc": {"status": "ok", "chainId": 56, "detail": …}, …} for health; caller owns it. */
json_object *chain_status_json(const struct config *cfg);

const char *chain_status_name(enum chain_status s);

#endif
