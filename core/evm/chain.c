#include "evm/chain.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

/* What one network's check found; plain data, so it can cross a pipe. */
struct net_state {
	char name[16];
	enum chain_status status;
	long long seen_chain_id;    /* 0: not read */
	long long checked_at;       /* unix time */
	char detail[RPC_MSG_MAX + 64];
};

/* Set in the master before fork, inherited by workers, updated by each worker. */
static struct net_state states[CONFIG_MAX_NETWORKS];

const char *chain_status_name(enum chain_status s)
{
	switch (s) {
	case CHAIN_UNCONFIGURED: return "unconfigured";
	case CHAIN_UNCHECKED: return "unchecked";
	case CHAIN_OK: return "ok";
	case CHAIN_UNAVAILABLE: return "unavailable";
	case CHAIN_MISMATCH: return "mismatch";
	}
	return "unknown";
}

static struct net_state *state_for(const char *network)
{
	for (size_t i = 0; i < CONFIG_MAX_NETWORKS; i++)
		if (strcmp(states[i].name, network) == 0)
			return &states[i];
	for (size_t i = 0; i < CONFIG_MAX_NETWORKS; i++)
		if (states[i].name[0] == '\0') {
			snprintf(states[i].name, sizeof(states[i].name), "%s", network);
			states[i].status = CHAIN_UNCHECKED;
			return &states[i];
		}
	return NULL;
}

/* Chain id, then every token of the network; the first problem decides. */
static void check_network(const struct config *cfg, const struct network_conf *net,
    struct net_state *st)
{
	struct rpc_client c;
	struct rpc_error e;
	uint64_t id;

	snprintf(st->name, sizeof(st->name), "%s", net->name);
	st->checked_at = (long long)time(NULL);
	st->seen_chain_id = 0;
	if (net->n_rpc == 0) {
		st->status = CHAIN_UNCONFIGURED;
		snprintf(st->detail, sizeof(st->detail), "no rpc.%s configured", net->name);
		return;
	}
	if (rpc_client_init(&c, cfg, net->name, &e) != RPC_OK || rpc_chain_id(&c, &id, &e) != RPC_OK) {
		st->status = e.kind == RPC_EUNAVAILABLE ? CHAIN_UNAVAILABLE : CHAIN_MISMATCH;
		snprintf(st->detail, sizeof(st->detail), "eth_chainId: %s", e.message);
		return;
	}
	st->seen_chain_id = (long long)id;
	if ((long long)id != net->chain_id) {
		st->status = CHAIN_MISMATCH;
		snprintf(st->detail, sizeof(st->detail), "the RPC of %s reports chain id %llu; chain_id.%s is %lld",
		         net->name, (unsigned long long)id, net->name, net->chain_id);
		return;
	}
	for (size_t i = 0; i < cfg->n_tokens; i++) {
		const struct token_conf *t = &cfg->tokens[i];
		unsigned dec;
		if (strcmp(t->network, net->name) != 0)
			continue;
		if (rpc_token_decimals(&c, t->contract, &dec, &e) != RPC_OK) {
			st->status = e.kind == RPC_EUNAVAILABLE ? CHAIN_UNAVAILABLE : CHAIN_MISMATCH;
			snprintf(st->detail, sizeof(st->detail), "token.%s.%s (%s): %s", t->network,
			         t->symbol, t->contract, e.message);
			return;
		}
		if ((int)dec != t->decimals) {
			st->status = CHAIN_MISMATCH;
			snprintf(st->detail, sizeof(st->detail),
			         "token.%s.%s (%s) has %u decimals on chain; token_decimals.%s.%s is %d",
			         t->network, t->symbol, t->contract, dec, t->network, t->symbol, t->decimals);
			return;
		}
	}
	st->status = CHAIN_OK;
	snprintf(st->detail, sizeof(st->detail), "chain id and token decimals match");
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t read_all(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int chain_check_startup(const struct config *cfg, char *err, size_t errlen)
{
	struct net_state found[CONFIG_MAX_NETWORKS];
	int fds[2], status = 0;
	pid_t pid;
	ssize_t got;

	memset(found, 0, sizeof(found));
	if (pipe(fds) != 0) {
		snprintf(err, errlen, "chain check: pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "chain check: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		for (size_t i = 0; i < cfg->n_networks; i++)
			check_network(cfg, &cfg->networks[i], &found[i]);
		_exit(write_all(fds[1], found, sizeof(found)) == 0 ? 0 : 1);
	}
	close(fds[1]);
	got = read_all(fds[0], found, sizeof(found));
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != (ssize_t)sizeof(found) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "chain check: the checking process failed");
		return -1;
	}
	/* A refusal keeps what was known: a reload refused leaves the running configuration's states. */
	for (size_t i = 0; i < cfg->n_networks; i++) {
		struct net_state *st = &found[i];
		st->name[sizeof(st->name) - 1] = '\0';
		st->detail[sizeof(st->detail) - 1] = '\0';
		if (st->status == CHAIN_MISMATCH) {
			snprintf(err, errlen, "network %s: %s", st->name, st->detail);
			return -1;
		}
	}
	memset(states, 0, sizeof(states));
	for (size_t i = 0; i < cfg->n_networks; i++) {
		struct net_state *st = &found[i];
		states[i] = *st;
		if (st->status == CHAIN_UNAVAILABLE)
			log_warn("network %s unavailable at start (%s); it is checked again before use",
			         st->name, st->detail);
		else if (st->status == CHAIN_OK)
			log_info("network %s: chain id %lld, token decimals match", st->name, st->seen_chain_id);
	}
	return 0;
}

int chain_ready(const struct config *cfg, const char *network, struct rpc_error *e)
{
	const struct network_conf *net = config_network(cfg, network);
	struct net_state *st = state_for(network);

	e->retry_after = 0;
	e->code = 0;
	if (net == NULL || net->n_rpc == 0 || st == NULL) {
		e->kind = RPC_ENOCONF;
		snprintf(e->message, sizeof(e->message), "no RPC is configured for network %s", network);
		return RPC_ENOCONF;
	}
	if (st->status != CHAIN_OK && st->status != CHAIN_MISMATCH)
		check_network(cfg, net, st);
	switch (st->status) {
	case CHAIN_OK:
		e->kind = RPC_OK;
		e->message[0] = '\0';
		return RPC_OK;
	case CHAIN_UNAVAILABLE:
		e->kind = RPC_EUNAVAILABLE;
		e->retry_after = 5;
		snprintf(e->message, sizeof(e->message), "network %s is unavailable: %.200s", network, st->detail);
		return RPC_EUNAVAILABLE;
	default:
		e->kind = RPC_ENOCONF;
		snprintf(e->message, sizeof(e->message), "network %s is not usable: %.200s", network, st->detail);
		return RPC_ENOCONF;
	}
}

json_object *chain_status_json(const struct config *cfg)
{
	json_object *all = json_object_new_object();

	for (size_t i = 0; i < cfg->n_networks; i++) {
		const struct network_conf *net = &cfg->networks[i];
		struct net_state *st = state_for(net->name);
		json_object *o = json_object_new_object();
		enum chain_status s = net->n_rpc == 0 ? CHAIN_UNCONFIGURED : st ? st->status : CHAIN_UNCHECKED;

		json_object_object_add(o, "status", json_object_new_string(chain_status_name(s)));
		json_object_object_add(o, "available", json_object_new_boolean(s == CHAIN_OK));
		json_object_object_add(o, "chainId", net->chain_id ? json_object_new_int64(net->chain_id) : NULL);
		json_object_object_add(o, "rpcUrls", json_object_new_int((int)net->n_rpc));
		json_object_object_add(o, "confirmations", json_object_new_int(net->confirmations));
		if (st && st->checked_at && s != CHAIN_UNCONFIGURED) {
			json_object_object_add(o, "detail", json_object_new_string(st->detail));
			json_object_object_add(o, "checkedAt", json_object_new_int64(st->checked_at));
		}
		json_object_object_add(all, net->name, o);
	}
	return all;
}
