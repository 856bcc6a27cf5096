#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "base/money.h"
#include "base/valid.h"
#include "base/xalloc.h"

extern char **environ;

#define MAX_ENTRIES 128
#define MAX_SECRET 4096

struct entry {
	char key[64];
	char value[1024];
};

struct kv {
	struct entry e[MAX_ENTRIES];
	size_t n;
};

static const char *const known_keys[] = {
	"listen", "socket_mode", "workers", "max_requests", "max_body_bytes", "drain_seconds",
	"database_url", "db_connect_timeout", "db_prepare", "jwt_secret_file", "jwt_leeway_seconds", "mode",
	"public_base_url", "stale_pending_minutes", "escrow_address", "currencies", "networks",
	"redirect_success_url", "redirect_cancel_url", "log_level", "rpc_timeout_ms",
	"rpc_connect_timeout_ms", "shkeeper_url", "shkeeper_api_key_file",
	"shkeeper_webhook_secret_file", "shkeeper_allow_api_key_header", "shkeeper_timeout_ms",
	"shkeeper_connect_timeout_ms", "shkeeper_verify_on_chain", "shkeeper_llimit", "breaker_failures",
	"breaker_cooldown_seconds",
	"internal_token_file",
	"jobs_lock_database_url", "jobs_watch_seconds", "watch_window_blocks", "jobs_reverify_seconds", "jobs_backfill_seconds",
	"jobs_retention_seconds", "jobs_batch", "retention_inbox_days", "retention_events_days",
	"internal_token_file", "hot_wallet_key_file", "hot_wallet_address", "dev_fault_file",
	"jobs_relay_seconds", "jobs_deliver_seconds", "stream_publisher", "stream_buffer_messages",
	"stream_buffer_seconds", "subscriber_timeout_ms", "subscriber_connect_timeout_ms",
	"subscriber_retry_base_seconds", "subscriber_retry_max_seconds", "subscriber_give_up_seconds",
	"idempotency_key_hours", "idempotency_lease_seconds",
	"jobs_cleanup_seconds", "jobs_shkeeper_poll_seconds", "shkeeper_poll_after_minutes", "jobs_reconcile_seconds",
	"reconcile_after_minutes", "jobs_auto_release_seconds", "auto_release_grace_hours", "auto_release_rail",
	"shkeeper_payout_auth_file", "shkeeper_payout_fee", "bvnk_url", "bvnk_hawk_id", "bvnk_hawk_key_file",
	"bvnk_webhook_secret_file", "bvnk_merchant_id", "bvnk_webhook_url", "bvnk_webhook_signing",
	"bvnk_timeout_ms", "bvnk_connect_timeout_ms",
};

/* Per-network and per-token keys: <prefix><network>[.<SYMBOL>]. */
static const char *const keyed_prefixes[] = {
	"token.", "token_decimals.", "rpc.", "chain_id.", "confirmations.", "subscriber.",
	"fee_model.", "max_gas_price_gwei.", "priority_fee_gwei.", "shkeeper_llimit.",
	"shkeeper_payout_wallet.", "bvnk_payout_wallet.", "bvnk_protocol.",
};

/* The per-network keys of provider payouts, each a field of struct network_conf. */
static const struct {
	const char *prefix;
	size_t off, len;
	bool address;
} payout_keys[] = {
	{ "shkeeper_payout_wallet.", offsetof(struct network_conf, shkeeper_payout_wallet),
	  sizeof(((struct network_conf *)0)->shkeeper_payout_wallet), true },
	{ "bvnk_payout_wallet.", offsetof(struct network_conf, bvnk_payout_wallet),
	  sizeof(((struct network_conf *)0)->bvnk_payout_wallet), true },
	{ "bvnk_protocol.", offsetof(struct network_conf, bvnk_protocol),
	  sizeof(((struct network_conf *)0)->bvnk_protocol), false },
};

/* subscriber.<name>.<field>: what each subscriber is configured with. */
static const char *const subscriber_fields[] = { "url", "events", "secret_file" };

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static bool is_known(const char *key)
{
	for (size_t i = 0; i < sizeof(keyed_prefixes) / sizeof(keyed_prefixes[0]); i++)
		if (strncmp(key, keyed_prefixes[i], strlen(keyed_prefixes[i])) == 0)
			return true;
	for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		if (strcmp(key, known_keys[i]) == 0)
			return true;
	return false;
}

static struct entry *kv_find(struct kv *kv, const char *key)
{
	for (size_t i = 0; i < kv->n; i++)
		if (strcmp(kv->e[i].key, key) == 0)
			return &kv->e[i];
	return NULL;
}

static int kv_set(struct kv *kv, const char *key, const char *value, char *err, size_t errlen)
{
	struct entry *e = kv_find(kv, key);

	if (strlen(key) >= sizeof(e->key))
		return fail(err, errlen, "setting name too long: %.64s…", key);
	if (e == NULL) {
		if (kv->n == MAX_ENTRIES)
			return fail(err, errlen, "too many settings (at most %d)", MAX_ENTRIES);
		e = &kv->e[kv->n++];
		snprintf(e->key, sizeof(e->key), "%s", key);
	}
	if (strlen(value) >= sizeof(e->value))
		return fail(err, errlen, "setting %s: value too long", key);
	snprintf(e->value, sizeof(e->value), "%s", value);
	return 0;
}

static int read_file_lines(const char *path, struct kv *kv, char *err, size_t errlen)
{
	char line[1200];
	int lineno = 0, rc = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return fail(err, errlen, "config file %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s, *eq;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			rc = fail(err, errlen, "%s:%d: line too long", path, lineno);
			break;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			rc = fail(err, errlen, "%s:%d: expected `key = value`", path, lineno);
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		if (!is_known(key)) {
			rc = fail(err, errlen, "%s:%d: unknown setting %s", path, lineno, key);
			break;
		}
		if ((rc = kv_set(kv, key, value, err, errlen)) != 0)
			break;
	}
	fclose(f);
	return rc;
}

/*
 * PAYMENTS_SUBSCRIBER_<NAME>_URL, _EVENTS and _SECRET_FILE are
 * subscriber.<name>.url, .events and .secret_file: the field is known by
 * its suffix, so a name may hold underscores.
 */
static int apply_env_subscribers(struct kv *kv, char *err, size_t errlen)
{
	static const char prefix[] = "PAYMENTS_SUBSCRIBER_";
	static const char *const suffixes[] = { "_URL", "_EVENTS", "_SECRET_FILE" };
	char key[64];

	for (char **ep = environ; *ep; ep++) {
		const char *s = *ep, *eq = strchr(s, '=');

		if (eq == NULL || strncmp(s, prefix, sizeof(prefix) - 1) != 0)
			continue;
		s += sizeof(prefix) - 1;
		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
			size_t sl = strlen(suffixes[i]), nl;

			if ((size_t)(eq - s) <= sl || strncmp(eq - sl, suffixes[i], sl) != 0)
				continue;
			nl = (size_t)(eq - s) - sl;
			if (nl >= 25)
				return fail(err, errlen, "%.*s: subscriber name too long", (int)(eq - *ep), *ep);
			size_t k = (size_t)snprintf(key, sizeof(key), "subscriber.");
			for (size_t c = 0; c < nl; c++)
				key[k++] = (char)tolower((unsigned char)s[c]);
			snprintf(key + k, sizeof(key) - k, ".%s", subscriber_fields[i]);
			if (kv_set(kv, key, eq + 1, err, errlen) != 0)
				return -1;
			break;
		}
	}
	return 0;
}

/*
 * PAYMENTS_SHKEEPER_LLIMIT_<CRYPTO> is shkeeper_llimit.<CRYPTO>, with the
 * crypto's '-' written '_' as a variable's name needs: _BNB_USDT is BNB-USDT.
 */
static int apply_env_llimits(struct kv *kv, char *err, size_t errlen)
{
	static const char prefix[] = "PAYMENTS_SHKEEPER_LLIMIT_";
	char key[64];

	for (char **ep = environ; *ep; ep++) {
		const char *s = *ep, *eq = strchr(s, '=');

		if (eq == NULL || strncmp(s, prefix, sizeof(prefix) - 1) != 0)
			continue;
		s += sizeof(prefix) - 1;
		if (eq == s || eq - s >= 40)
			return fail(err, errlen, "%.*s: malformed name", (int)(eq - *ep), *ep);
		size_t k = (size_t)snprintf(key, sizeof(key), "shkeeper_llimit.");
		for (const char *c = s; c < eq; c++)
			key[k++] = *c == '_' ? '-' : *c;
		key[k] = '\0';
		if (kv_set(kv, key, eq + 1, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/*
 * Fixed keys map 1:1 (PAYMENTS_WORKERS is workers). Keyed ones take the
 * network in lower case and the symbol as written: PAYMENTS_TOKEN_BSC_USDT is
 * token.bsc.USDT, PAYMENTS_RPC_BSC is rpc.bsc.
 */
static int apply_env(struct kv *kv, char *err, size_t errlen)
{
	char key[64];

	for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++) {
		char name[96];
		const char *v;
		size_t j;

		snprintf(name, sizeof(name), "PAYMENTS_%s", known_keys[i]);
		for (j = 9; name[j]; j++)
			name[j] = (char)toupper((unsigned char)name[j]);
		if ((v = getenv(name)) != NULL && kv_set(kv, known_keys[i], v, err, errlen) != 0)
			return -1;
	}
	static const struct { const char *env, *key; } keyed[] = {
		{ "PAYMENTS_TOKEN_DECIMALS_", "token_decimals." }, { "PAYMENTS_TOKEN_", "token." },
		{ "PAYMENTS_RPC_", "rpc." }, { "PAYMENTS_CHAIN_ID_", "chain_id." },
		{ "PAYMENTS_CONFIRMATIONS_", "confirmations." },
		{ "PAYMENTS_FEE_MODEL_", "fee_model." },
		{ "PAYMENTS_MAX_GAS_PRICE_GWEI_", "max_gas_price_gwei." },
		{ "PAYMENTS_PRIORITY_FEE_GWEI_", "priority_fee_gwei." },
		{ "PAYMENTS_SHKEEPER_PAYOUT_WALLET_", "shkeeper_payout_wallet." },
		{ "PAYMENTS_BVNK_PAYOUT_WALLET_", "bvnk_payout_wallet." },
		{ "PAYMENTS_BVNK_PROTOCOL_", "bvnk_protocol." },
	};
	for (char **ep = environ; *ep; ep++) {
		const char *s = *ep, *eq = strchr(s, '=');
		size_t i;

		for (i = 0; i < sizeof(keyed) / sizeof(keyed[0]); i++)
			if (strncmp(s, keyed[i].env, strlen(keyed[i].env)) == 0)
				break;
		if (eq == NULL || i == sizeof(keyed) / sizeof(keyed[0]))
			continue;
		s += strlen(keyed[i].env);
		if ((size_t)(eq - s) >= 40 || eq == s)
			return fail(err, errlen, "%.*s: malformed name", (int)(eq - *ep), *ep);
		size_t k = (size_t)snprintf(key, sizeof(key), "%s", keyed[i].key);
		const char *us = memchr(s, '_', (size_t)(eq - s));
		const char *net_end = us ? us : eq;
		for (const char *c = s; c < net_end; c++)
			key[k++] = (char)tolower((unsigned char)*c);
		if (us) {
			key[k++] = '.';
			for (const char *c = us + 1; c < eq; c++)
				key[k++] = *c;
		}
		key[k] = '\0';
		if (kv_set(kv, key, eq + 1, err, errlen) != 0)
			return -1;
	}
	if (apply_env_subscribers(kv, err, errlen) != 0)
		return -1;
	return apply_env_llimits(kv, err, errlen);
}

static const char *get(struct kv *kv, const char *key, const char *fallback)
{
	struct entry *e = kv_find(kv, key);

	return e && e->value[0] ? e->value : fallback;
}

static int get_long(struct kv *kv, const char *key, long fallback, long min, long max,
                    long *out, char *err, size_t errlen)
{
	const char *v = get(kv, key, NULL);
	char *end;

	if (v == NULL) {
		*out = fallback;
		return 0;
	}
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < min || n > max)
		return fail(err, errlen, "setting %s: expected a whole number from %ld to %ld, got \"%s\"",
		            key, min, max, v);
	*out = n;
	return 0;
}

static int copy_str(const char *key, const char *v, char *dst, size_t dstlen, char *err,
                    size_t errlen)
{
	if (strlen(v) >= dstlen)
		return fail(err, errlen, "setting %s: value too long (at most %zu bytes)", key,
		            dstlen - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* Reads a secret file whole; *out is owned by the caller (wipe, then free). */
static int read_secret(const char *key, const char *path, size_t min_len, char **out,
                       size_t *outlen, char *err, size_t errlen)
{
	char full[PATH_MAX];
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	unsigned char *data = NULL;
	ssize_t n;
	size_t len = 0;
	int fd, rc = -1;

	if (path[0] != '/' && dir != NULL)
		snprintf(full, sizeof(full), "%s/%s", dir, path);
	else
		snprintf(full, sizeof(full), "%s", path);
	if ((fd = open(full, O_RDONLY | O_CLOEXEC)) < 0)
		return fail(err, errlen, "setting %s: cannot read %s: %s", key, full, strerror(errno));
	/* After this point, all errors should use goto out. */
	data = xmalloc(MAX_SECRET + 1);
	while ((n = read(fd, data + len, MAX_SECRET + 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		fail(err, errlen, "setting %s: reading %s: %s", key, full, strerror(errno));
		goto out;
	}
	if (len > MAX_SECRET) {
		fail(err, errlen, "setting %s: %s is larger than %d bytes", key, full, MAX_SECRET);
		goto out;
	}
	/* A trailing newline from `echo > file` is not part of the secret. */
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len < min_len) {
		fail(err, errlen, "setting %s: the secret in %s is shorter than %zu bytes", key, full,
		     min_len);
		goto out;
	}
	data[len] = '\0';
	*out = (char *)data;
	*outlen = len;
	data = NULL;
	rc = 0;
out:
	if (data) {
		OPENSSL_cleanse(data, MAX_SECRET + 1);
		free(data);
	}
	close(fd);
	return rc;
}

static void wipe(char **secret, size_t *len)
{
	if (*secret) {
		OPENSSL_cleanse(*secret, *len);
		free(*secret);
	}
	*secret = NULL;
	*len = 0;
}

static int parse_listen(const char *v, struct config *cfg, char *err, size_t errlen)
{
	if (strcmp(v, "systemd") == 0) {
		cfg->listen_kind = LISTEN_SYSTEMD;
		return 0;
	}
	if (strncmp(v, "unix:", 5) == 0 && v[5] == '/') {
		cfg->listen_kind = LISTEN_UNIX;
		/* sun_path holds 108 bytes. */
		if (strlen(v + 5) >= 108)
			return fail(err, errlen, "setting listen: socket path longer than 107 bytes");
		return copy_str("listen", v + 5, cfg->listen_addr, sizeof(cfg->listen_addr), err,
		                errlen);
	}
	if (strncmp(v, "tcp:", 4) == 0 && strrchr(v + 4, ':') != NULL) {
		cfg->listen_kind = LISTEN_TCP;
		return copy_str("listen", v + 4, cfg->listen_addr, sizeof(cfg->listen_addr), err,
		                errlen);
	}
	return fail(err, errlen, "setting listen: expected unix:/path, tcp:host:port or systemd, got \"%s\"", v);
}

static int parse_currencies(const char *v, struct config *cfg, char *err, size_t errlen)
{
	char copy[1024], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", v);
	cfg->n_currencies = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':'), *end;
		struct currency_conf *c;

		tok = trim(tok);
		if (colon == NULL || cfg->n_currencies == CONFIG_MAX_CURRENCIES)
			return fail(err, errlen, "setting currencies: expected CODE:DECIMALS,… (at most %d)",
			            CONFIG_MAX_CURRENCIES);
		*colon = '\0';
		c = &cfg->currencies[cfg->n_currencies];
		long scale = strtol(colon + 1, &end, 10);
		if (!valid_currency(trim(tok)) || *end || scale < 0 || scale > 18)
			return fail(err, errlen, "setting currencies: bad entry \"%s\"", tok);
		snprintf(c->code, sizeof(c->code), "%s", trim(tok));
		c->scale = (int)scale;
		cfg->n_currencies++;
	}
	if (cfg->n_currencies == 0)
		return fail(err, errlen, "setting currencies: empty");
	return 0;
}

/* A decimal amount of gwei ("20", "0.1", at most 9 decimals) as wei. */
static int parse_gwei(const char *v, unsigned long long *wei)
{
	unsigned long long whole = 0, frac = 0;
	int digits = 0, frac_digits = 0;
	const char *s = v;

	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (whole > 18000000000ULL)
			return -1;
		whole = whole * 10 + (unsigned long long)(*s - '0');
	}
	if (digits == 0)
		return -1;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, frac_digits++) {
			if (frac_digits == 9)
				return -1;
			frac = frac * 10 + (unsigned long long)(*s - '0');
		}
		if (frac_digits == 0)
			return -1;
	}
	if (*s != '\0')
		return -1;
	for (; frac_digits < 9; frac_digits++)
		frac *= 10;
	*wei = whole * 1000000000ULL + frac;
	return 0;
}

/* How payouts on one network pay for gas. */
static int parse_fees(struct kv *kv, struct network_conf *net, char *err, size_t errlen)
{
	char key[64];
	const char *v;
	bool bsc = strcmp(net->name, "bsc") == 0;

	snprintf(key, sizeof(key), "fee_model.%s", net->name);
	v = get(kv, key, bsc ? "legacy" : "eip1559");
	if (strcmp(v, "eip1559") != 0 && strcmp(v, "legacy") != 0)
		return fail(err, errlen, "setting %s: expected eip1559 or legacy, got \"%s\"", key, v);
	net->eip1559 = strcmp(v, "eip1559") == 0;
	snprintf(key, sizeof(key), "max_gas_price_gwei.%s", net->name);
	v = get(kv, key, bsc ? "20" : "200");
	if (parse_gwei(v, &net->max_gas_price_wei) != 0 || net->max_gas_price_wei == 0)
		return fail(err, errlen, "setting %s: expected a positive amount of gwei such as 20 or 0.5, got \"%s\"", key, v);
	snprintf(key, sizeof(key), "priority_fee_gwei.%s", net->name);
	v = get(kv, key, "0");
	if (parse_gwei(v, &net->priority_fee_wei) != 0 || net->priority_fee_wei > net->max_gas_price_wei)
		return fail(err, errlen, "setting %s: expected an amount of gwei up to max_gas_price_gwei.%s, got \"%s\"", key,
		            net->name, v);
	return 0;
}

static int parse_networks(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	char copy[1024], key[64], *save = NULL;
	long n;

	snprintf(copy, sizeof(copy), "%s", get(kv, "networks", "bsc,ethereum"));
	cfg->n_networks = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct network_conf *net;
		tok = trim(tok);
		if (!valid_network(tok))
			return fail(err, errlen, "setting networks: unsupported network \"%s\" (bsc, ethereum)", tok);
		if (cfg->n_networks == CONFIG_MAX_NETWORKS)
			return fail(err, errlen, "setting networks: too many");
		net = &cfg->networks[cfg->n_networks++];
		snprintf(net->name, sizeof(net->name), "%s", tok);

		snprintf(key, sizeof(key), "chain_id.%s", tok);
		if (get_long(kv, key, 0, 1, LONG_MAX, &n, err, errlen))
			return -1;
		net->chain_id = n;
		snprintf(key, sizeof(key), "confirmations.%s", tok);
		/* At least one block on top: a transaction in the head block is never final. */
		if (get_long(kv, key, strcmp(tok, "bsc") == 0 ? 15 : 12, 1, 10000, &n, err, errlen))
			return -1;
		net->confirmations = (int)n;
		if (parse_fees(kv, net, err, errlen) != 0)
			return -1;
		snprintf(key, sizeof(key), "rpc.%s", tok);
		const char *urls = get(kv, key, NULL);
		if (urls == NULL)
			continue;
		if (net->chain_id == 0)
			return fail(err, errlen, "setting chain_id.%s is required when rpc.%s is set", tok, tok);
		char ucopy[1100], *usave = NULL;
		snprintf(ucopy, sizeof(ucopy), "%s", urls);
		for (char *u = strtok_r(ucopy, ",", &usave); u; u = strtok_r(NULL, ",", &usave)) {
			u = trim(u);
			/* Receipts decide whether money arrived: plain HTTP only to a node on this host. */
			bool local = strncmp(u, "http://127.0.0.1", 16) == 0 || strncmp(u, "http://localhost", 16) == 0 ||
			             strncmp(u, "http://[::1]", 12) == 0;
			if (net->n_rpc == CONFIG_MAX_RPC || strlen(u) >= sizeof(net->rpc_urls[0]) ||
			    (strncmp(u, "https://", 8) != 0 && !local))
				return fail(err, errlen, "setting %s: expected up to %d https URLs (http only to this host), comma-separated",
				            key, CONFIG_MAX_RPC);
			snprintf(net->rpc_urls[net->n_rpc++], sizeof(net->rpc_urls[0]), "%s", u);
		}
	}
	return 0;
}

static int parse_tokens(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < kv->n; i++) {
		const char *key = kv->e[i].key, *dot;
		struct token_conf *t;

		if (strncmp(key, "token.", 6) != 0)
			continue;
		dot = strchr(key + 6, '.');
		if (dot == NULL || (size_t)(dot - key - 6) >= sizeof(t->network) ||
		    strlen(dot + 1) >= sizeof(t->symbol))
			return fail(err, errlen, "setting %s: expected token.<network>.<SYMBOL>", key);
		if (cfg->n_tokens == CONFIG_MAX_TOKENS)
			return fail(err, errlen, "setting %s: too many tokens", key);
		t = &cfg->tokens[cfg->n_tokens];
		snprintf(t->network, sizeof(t->network), "%.*s", (int)(dot - key - 6), key + 6);
		snprintf(t->symbol, sizeof(t->symbol), "%s", dot + 1);
		if (!config_has_network(cfg, t->network))
			return fail(err, errlen, "setting %s: network %s is not in `networks`", key,
			            t->network);
		if (!valid_token_symbol(t->symbol))
			return fail(err, errlen, "setting %s: bad token symbol", key);
		if (!valid_address(kv->e[i].value))
			return fail(err, errlen, "setting %s: expected a 0x-prefixed 20-byte address", key);
		memcpy(t->contract, kv->e[i].value, sizeof(t->contract));
		char dkey[64];
		long dec;
		snprintf(dkey, sizeof(dkey), "token_decimals.%s.%s", t->network, t->symbol);
		if (get_long(kv, dkey, strcmp(t->network, "bsc") == 0 ? 18 : 6, 0, 36, &dec, err, errlen))
			return -1;
		t->decimals = (int)dec;
		cfg->n_tokens++;
	}
	return 0;
}

static int get_bool(struct kv *kv, const char *key, bool dflt, bool *out, char *err, size_t errlen)
{
	const char *v = get(kv, key, dflt ? "true" : "false");

	if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
		return fail(err, errlen, "setting %s: expected true or false, got \"%s\"", key, v);
	*out = strcmp(v, "true") == 0;
	return 0;
}

/*
 * The hot wallet's key file is only checked here: it must exist, be a
 * regular file, and be readable by its owner alone. The key is read when a
 * payout is signed (flow/hotwallet.c), never kept in the configuration.
 */
static int build_hot_wallet(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY"), *v;
	struct stat sb;

	if ((v = get(kv, "hot_wallet_address", NULL)) != NULL) {
		if (!valid_address(v))
			return fail(err, errlen, "setting hot_wallet_address: expected a 0x-prefixed 20-byte address");
		memcpy(cfg->hot_wallet_address, v, sizeof(cfg->hot_wallet_address));
	}
	if ((v = get(kv, "dev_fault_file", NULL)) != NULL) {
		/* A fault point kills the process on purpose: never outside development. */
		if (!cfg->dev_mode)
			return fail(err, errlen, "setting dev_fault_file is only allowed with mode = dev");
		if (copy_str("dev_fault_file", v, cfg->dev_fault_file, sizeof(cfg->dev_fault_file), err, errlen))
			return -1;
	}
	if ((v = get(kv, "hot_wallet_key_file", NULL)) == NULL) {
		if (cfg->hot_wallet_address[0])
			return fail(err, errlen, "setting hot_wallet_address needs hot_wallet_key_file");
		return 0;
	}
	if ((size_t)snprintf(cfg->hot_wallet_key_path, sizeof(cfg->hot_wallet_key_path), "%s%s%s",
	                     v[0] != '/' && dir ? dir : "", v[0] != '/' && dir ? "/" : "", v) >=
	    sizeof(cfg->hot_wallet_key_path))
		return fail(err, errlen, "setting hot_wallet_key_file: path too long");
	if (stat(cfg->hot_wallet_key_path, &sb) != 0)
		return fail(err, errlen, "setting hot_wallet_key_file: cannot read %s: %s", cfg->hot_wallet_key_path,
		            strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return fail(err, errlen, "setting hot_wallet_key_file: %s is not a regular file", cfg->hot_wallet_key_path);
	if ((sb.st_mode & 077) != 0)
		return fail(err, errlen, "setting hot_wallet_key_file: %s is readable or writable by group or others (mode %04o); chmod 0600 or 0400 it",
		            cfg->hot_wallet_key_path, (unsigned)(sb.st_mode & 07777));
	return 0;
}

/*
 * SHKeeper's llimit: a percentage from 50 to 100, up to four decimals (SHKeeper
 * keeps it as a Decimal). Below half the price a deposit is not "paid" in any
 * sense a seller would accept, so a lower value is a typo, not a policy.
 */
static int parse_llimit(const char *key, const char *v, char out[16], char *err, size_t errlen)
{
	char text[MONEY_TEXT_MAX];
	long whole = -1;

	if (money_parse(v, 4, text) == MONEY_OK)
		whole = strtol(text, NULL, 10);
	if (whole < 50 || whole > 100 || (whole == 100 && strchr(text, '.') != NULL) || strlen(text) >= 16)
		return fail(err, errlen, "setting %s: expected a percentage from 50 to 100 (up to 4 decimals), got \"%s\"",
		            key, v);
	memcpy(out, text, strlen(text) + 1);
	return 0;
}

/* SHKeeper's crypto names: upper-case letters and digits in parts joined by '-' (BNB-USDT, ETH-USDC). */
static bool valid_shk_crypto(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= sizeof(((struct shk_llimit_conf *)0)->crypto) || name[0] == '-' || name[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isupper((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    !(name[i] == '-' && name[i + 1] != '-'))
			return false;
	return true;
}

/* shkeeper_llimit.<CRYPTO>: one crypto's llimit where its SHKeeper wallet differs from the rest. */
static int parse_llimits(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	static const char prefix[] = "shkeeper_llimit.";

	cfg->n_shkeeper_llimits = 0;
	for (size_t i = 0; i < kv->n; i++) {
		const char *key = kv->e[i].key;
		struct shk_llimit_conf *l;

		if (strncmp(key, prefix, sizeof(prefix) - 1) != 0)
			continue;
		if (!valid_shk_crypto(key + sizeof(prefix) - 1))
			return fail(err, errlen, "setting %s: expected shkeeper_llimit.<CRYPTO>, SHKeeper's crypto name"
			            " such as BNB-USDT", key);
		if (cfg->n_shkeeper_llimits == CONFIG_MAX_TOKENS)
			return fail(err, errlen, "setting %s: too many shkeeper_llimit.<CRYPTO> settings", key);
		l = &cfg->shkeeper_llimits[cfg->n_shkeeper_llimits];
		snprintf(l->crypto, sizeof(l->crypto), "%s", key + sizeof(prefix) - 1);
		if (parse_llimit(key, kv->e[i].value, l->llimit, err, errlen))
			return -1;
		cfg->n_shkeeper_llimits++;
	}
	return 0;
}

/* Timeouts, breaker and provider credentials: everything that talks to the outside. */
static int build_upstreams(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	const char *v;
	long n;

	if (get_long(kv, "rpc_timeout_ms", 10000, 100, 120000, &n, err, errlen))
		return -1;
	cfg->rpc_timeout_ms = (int)n;
	if (get_long(kv, "rpc_connect_timeout_ms", 3000, 100, 60000, &n, err, errlen))
		return -1;
	cfg->rpc_connect_timeout_ms = (int)n;
	if (get_long(kv, "shkeeper_timeout_ms", 10000, 100, 120000, &n, err, errlen))
		return -1;
	cfg->shkeeper_timeout_ms = (int)n;
	if (get_long(kv, "shkeeper_connect_timeout_ms", 3000, 100, 60000, &n, err, errlen))
		return -1;
	cfg->shkeeper_connect_timeout_ms = (int)n;
	if (get_long(kv, "breaker_failures", 5, 1, 1000, &n, err, errlen))
		return -1;
	cfg->breaker_failures = (int)n;
	if (get_long(kv, "breaker_cooldown_seconds", 30, 1, 3600, &n, err, errlen))
		return -1;
	cfg->breaker_cooldown_seconds = (int)n;

	v = get(kv, "shkeeper_url", "");
	if (*v && strncmp(v, "https://", 8) != 0 && !(cfg->dev_mode && strncmp(v, "http://", 7) == 0))
		return fail(err, errlen, "setting shkeeper_url: expected an https:// URL");
	if (copy_str("shkeeper_url", v, cfg->shkeeper_url, sizeof(cfg->shkeeper_url), err, errlen))
		return -1;
	size_t ulen = strlen(cfg->shkeeper_url);
	if (ulen && cfg->shkeeper_url[ulen - 1] == '/')
		cfg->shkeeper_url[ulen - 1] = '\0';
	if ((v = get(kv, "shkeeper_api_key_file", NULL)) != NULL &&
	    read_secret("shkeeper_api_key_file", v, 1, &cfg->shkeeper_api_key,
	                &cfg->shkeeper_api_key_len, err, errlen))
		return -1;
	if (cfg->shkeeper_url[0] && cfg->shkeeper_api_key == NULL)
		return fail(err, errlen, "setting shkeeper_api_key_file is required when shkeeper_url is set");
	if ((v = get(kv, "shkeeper_webhook_secret_file", NULL)) != NULL &&
	    read_secret("shkeeper_webhook_secret_file", v, 16, &cfg->shkeeper_webhook_secret,
	                &cfg->shkeeper_webhook_secret_len, err, errlen))
		return -1;
	if (get_bool(kv, "shkeeper_allow_api_key_header", false, &cfg->shkeeper_allow_api_key_header, err, errlen) ||
	    get_bool(kv, "shkeeper_verify_on_chain", true, &cfg->shkeeper_verify_on_chain, err, errlen))
		return -1;
	if (parse_llimit("shkeeper_llimit", get(kv, "shkeeper_llimit", "95"), cfg->shkeeper_llimit, err, errlen) ||
	    parse_llimits(kv, cfg, err, errlen))
		return -1;
	if ((v = get(kv, "internal_token_file", NULL)) != NULL &&
	    read_secret("internal_token_file", v, 32, &cfg->internal_token, &cfg->internal_token_len,
	                err, errlen))
		return -1;
	return build_hot_wallet(kv, cfg, err, errlen);
}

/* Plain HTTP is for this host (or any host in dev mode): what goes over it is signed, not secret-proof. */
static bool url_allowed(const char *u, bool dev_mode)
{
	static const char *const local[] = { "http://127.0.0.1", "http://localhost", "http://[::1]" };

	if (strncmp(u, "https://", 8) == 0 && u[8] != '\0')
		return true;
	if (strncmp(u, "http://", 7) != 0 || u[7] == '\0')
		return false;
	if (dev_mode)
		return true;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		size_t n = strlen(local[i]);
		if (strncmp(u, local[i], n) == 0 && (u[n] == '\0' || u[n] == ':' || u[n] == '/'))
			return true;
	}
	return false;
}

static bool valid_subscriber_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 24 || !islower((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) && name[i] != '_')
			return false;
	return true;
}

static bool valid_event_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63 || !islower((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)name[i]) && name[i] != '-')
			return false;
	return true;
}

static int parse_subscriber_events(struct subscriber_conf *sub, const char *v, char *err, size_t errlen)
{
	char copy[1024], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", v);
	if (strcmp(trim(copy), "*") == 0) {
		sub->all_events = true;
		return 0;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (!valid_event_name(tok) || sub->n_events == CONFIG_MAX_SUBSCRIBER_EVENTS)
			return fail(err, errlen, "setting subscriber.%s.events: expected * or up to %d event names "
			            "(payment-update, …), comma-separated", sub->name, CONFIG_MAX_SUBSCRIBER_EVENTS);
		snprintf(sub->events[sub->n_events++], sizeof(sub->events[0]), "%s", tok);
	}
	if (sub->n_events == 0)
		return fail(err, errlen, "setting subscriber.%s.events: empty", sub->name);
	return 0;
}

/* subscriber.<name>.url, .events and .secret_file, all three for each name used. */
static int parse_subscribers(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	struct subscribers_conf *subs = &cfg->subscribers;

	for (size_t i = 0; i < kv->n; i++) {
		const char *key = kv->e[i].key, *dot;
		char name[25], k[64];
		struct subscriber_conf *sub;
		const char *v;
		bool known = false;

		if (strncmp(key, "subscriber.", 11) != 0)
			continue;
		dot = strchr(key + 11, '.');
		for (size_t f = 0; dot && f < sizeof(subscriber_fields) / sizeof(subscriber_fields[0]); f++)
			known |= strcmp(dot + 1, subscriber_fields[f]) == 0;
		if (!known || (size_t)(dot - key - 11) >= sizeof(name))
			return fail(err, errlen, "setting %s: expected subscriber.<name>.url, .events or .secret_file", key);
		snprintf(name, sizeof(name), "%.*s", (int)(dot - key - 11), key + 11);
		if (!valid_subscriber_name(name))
			return fail(err, errlen, "setting %s: a subscriber's name is 1 to 24 of a-z, 0-9 and _, "
			            "starting with a letter", key);
		for (size_t j = 0; j < subs->n; j++)
			if (strcmp(subs->list[j].name, name) == 0)
				goto next;
		if (subs->n == CONFIG_MAX_SUBSCRIBERS)
			return fail(err, errlen, "setting %s: at most %d subscribers", key, CONFIG_MAX_SUBSCRIBERS);
		sub = &subs->list[subs->n++];
		snprintf(sub->name, sizeof(sub->name), "%s", name);
		snprintf(k, sizeof(k), "subscriber.%s.url", name);
		if ((v = get(kv, k, NULL)) == NULL || !url_allowed(v, cfg->dev_mode) || strlen(v) >= sizeof(sub->url))
			return fail(err, errlen, "setting %s: expected an https:// URL (http:// only to this host)", k);
		snprintf(sub->url, sizeof(sub->url), "%s", v);
		snprintf(k, sizeof(k), "subscriber.%s.events", name);
		if ((v = get(kv, k, NULL)) == NULL)
			return fail(err, errlen, "setting %s is required: * or the event names to send", k);
		if (parse_subscriber_events(sub, v, err, errlen))
			return -1;
		snprintf(k, sizeof(k), "subscriber.%s.secret_file", name);
		if ((v = get(kv, k, NULL)) == NULL)
			return fail(err, errlen, "setting %s is required: the key its webhooks are signed with", k);
		if (read_secret(k, v, 32, &sub->secret, &sub->secret_len, err, errlen))
			return -1;
next:;
	}
	return 0;
}

/* Live streams and subscribers: where the relay publishes and how webhooks are retried. */
static int build_events(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	const struct {
		const char *key;
		long dflt, min, max;
		int *dst;
	} ints[] = {
		{ "stream_buffer_messages", 200, 1, 100000, &cfg->stream.buffer_messages },
		{ "stream_buffer_seconds", 3600, 60, 86400 * 7, &cfg->stream.buffer_seconds },
		{ "subscriber_timeout_ms", 10000, 100, 120000, &cfg->subscribers.timeout_ms },
		{ "subscriber_connect_timeout_ms", 3000, 100, 60000, &cfg->subscribers.connect_timeout_ms },
		{ "subscriber_retry_base_seconds", 10, 1, 3600, &cfg->subscribers.retry_base_seconds },
		{ "subscriber_retry_max_seconds", 3600, 1, 86400, &cfg->subscribers.retry_max_seconds },
		{ "subscriber_give_up_seconds", 86400, 1, 86400 * 30, &cfg->subscribers.give_up_seconds },
	};
	const char *v = get(kv, "stream_publisher", "unix:/run/fcgi-payments/stream.sock");
	long n;

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (get_long(kv, ints[i].key, ints[i].dflt, ints[i].min, ints[i].max, &n, err, errlen))
			return -1;
		*ints[i].dst = (int)n;
	}
	if (cfg->subscribers.retry_max_seconds < cfg->subscribers.retry_base_seconds)
		return fail(err, errlen, "setting subscriber_retry_max_seconds: below subscriber_retry_base_seconds");
	if (strcmp(v, "none") == 0)
		;
	else if (strncmp(v, "unix:/", 6) == 0) {
		if (strlen(v + 5) >= sizeof(cfg->stream.publisher_socket))
			return fail(err, errlen, "setting stream_publisher: socket path longer than 107 bytes");
		snprintf(cfg->stream.publisher_socket, sizeof(cfg->stream.publisher_socket), "%s", v + 5);
	} else if (url_allowed(v, false) && strncmp(v, "http://", 7) == 0 &&
	           strlen(v) < sizeof(cfg->stream.publisher_url)) {
		snprintf(cfg->stream.publisher_url, sizeof(cfg->stream.publisher_url), "%s", v);
		size_t len = strlen(cfg->stream.publisher_url);
		if (cfg->stream.publisher_url[len - 1] == '/')
			cfg->stream.publisher_url[len - 1] = '\0';
	} else {
		return fail(err, errlen, "setting stream_publisher: expected unix:/path, http:// on this host, or none");
	}
	return parse_subscribers(kv, cfg, err, errlen);
}

/* <prefix><network> keys of provider payouts: each names a configured network. */
static int parse_payout_networks(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < kv->n; i++) {
		const char *key = kv->e[i].key, *v = kv->e[i].value;

		for (size_t k = 0; k < sizeof(payout_keys) / sizeof(payout_keys[0]); k++) {
			size_t plen = strlen(payout_keys[k].prefix);
			if (strncmp(key, payout_keys[k].prefix, plen) != 0)
				continue;
			struct network_conf *net = NULL;
			for (size_t j = 0; j < cfg->n_networks; j++)
				if (strcmp(cfg->networks[j].name, key + plen) == 0)
					net = &cfg->networks[j];
			if (net == NULL)
				return fail(err, errlen, "setting %s: network %s is not in `networks`", key, key + plen);
			if (payout_keys[k].address ? !valid_address(v)
			                           : (strlen(v) == 0 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(v)))
				return fail(err, errlen, "setting %s: expected %s", key,
				            payout_keys[k].address ? "a 0x-prefixed 20-byte address" : "a protocol name such as BSC");
			if (copy_str(key, v, (char *)net + payout_keys[k].off, payout_keys[k].len, err, errlen))
				return -1;
		}
	}
	return 0;
}

/*
 * Payouts a provider signs and sends: SHKeeper's payout login and fee, BVNK's
 * API, Hawk credentials and webhook signature, each network's paying wallet.
 */
static int build_payouts(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	const char *v;
	long n;

	if ((v = get(kv, "shkeeper_payout_auth_file", NULL)) != NULL) {
		if (read_secret("shkeeper_payout_auth_file", v, 3, &cfg->shkeeper_payout_auth, &cfg->shkeeper_payout_auth_len,
		                err, errlen))
			return -1;
		const char *colon = strchr(cfg->shkeeper_payout_auth, ':');
		if (colon == NULL || colon == cfg->shkeeper_payout_auth || strchr(cfg->shkeeper_payout_auth, '\n') != NULL)
			return fail(err, errlen, "setting shkeeper_payout_auth_file: expected one line user:password");
		if (cfg->shkeeper_url[0] == '\0')
			return fail(err, errlen, "setting shkeeper_payout_auth_file needs shkeeper_url");
		/* SHKeeper's payout API refuses a request without `fee`: it is said, never guessed. */
		if ((v = get(kv, "shkeeper_payout_fee", NULL)) == NULL)
			return fail(err, errlen, "setting shkeeper_payout_fee is required with shkeeper_payout_auth_file");
		char fee[MONEY_TEXT_MAX];
		if ((strcmp(v, "0") != 0 && money_parse(v, MONEY_MAX_SCALE, fee) != MONEY_OK) ||
		    copy_str("shkeeper_payout_fee", strcmp(v, "0") == 0 ? "0" : fee, cfg->shkeeper_payout_fee,
		             sizeof(cfg->shkeeper_payout_fee), err, errlen))
			return fail(err, errlen, "setting shkeeper_payout_fee: expected a decimal such as 0 or 1.5, got \"%s\"", v);
	}
	if (get_long(kv, "bvnk_timeout_ms", 10000, 100, 120000, &n, err, errlen))
		return -1;
	cfg->bvnk_timeout_ms = (int)n;
	if (get_long(kv, "bvnk_connect_timeout_ms", 3000, 100, 60000, &n, err, errlen))
		return -1;
	cfg->bvnk_connect_timeout_ms = (int)n;
	v = get(kv, "bvnk_url", "");
	if (*v && strncmp(v, "https://", 8) != 0 && !(cfg->dev_mode && strncmp(v, "http://", 7) == 0))
		return fail(err, errlen, "setting bvnk_url: expected an https:// URL");
	if (copy_str("bvnk_url", v, cfg->bvnk_url, sizeof(cfg->bvnk_url), err, errlen))
		return -1;
	size_t ulen = strlen(cfg->bvnk_url);
	if (ulen && cfg->bvnk_url[ulen - 1] == '/')
		cfg->bvnk_url[ulen - 1] = '\0';
	if (cfg->bvnk_url[0]) {
		if ((v = get(kv, "bvnk_hawk_id", NULL)) == NULL ||
		    copy_str("bvnk_hawk_id", v, cfg->bvnk_hawk_id, sizeof(cfg->bvnk_hawk_id), err, errlen))
			return fail(err, errlen, "setting bvnk_hawk_id is required with bvnk_url (the Hawk key id)");
		if ((v = get(kv, "bvnk_hawk_key_file", NULL)) == NULL)
			return fail(err, errlen, "setting bvnk_hawk_key_file is required with bvnk_url");
		if (read_secret("bvnk_hawk_key_file", v, 16, &cfg->bvnk_hawk_key, &cfg->bvnk_hawk_key_len, err, errlen))
			return -1;
		if ((v = get(kv, "bvnk_merchant_id", NULL)) == NULL || !valid_id(v) ||
		    copy_str("bvnk_merchant_id", v, cfg->bvnk_merchant_id, sizeof(cfg->bvnk_merchant_id), err, errlen))
			return fail(err, errlen, "setting bvnk_merchant_id is required with bvnk_url (letters, digits, _ and -)");
	}
	/* BVNK signs webhooks with the merchant's secret key: the Hawk key unless another is named. */
	if ((v = get(kv, "bvnk_webhook_secret_file", NULL)) != NULL) {
		if (read_secret("bvnk_webhook_secret_file", v, 16, &cfg->bvnk_webhook_secret, &cfg->bvnk_webhook_secret_len,
		                err, errlen))
			return -1;
	} else if (cfg->bvnk_hawk_key) {
		cfg->bvnk_webhook_secret = xmalloc(cfg->bvnk_hawk_key_len + 1);
		memcpy(cfg->bvnk_webhook_secret, cfg->bvnk_hawk_key, cfg->bvnk_hawk_key_len + 1);
		cfg->bvnk_webhook_secret_len = cfg->bvnk_hawk_key_len;
	}
	char dflt[512];
	snprintf(dflt, sizeof(dflt), "%s/api/payment/bvnk/webhook", cfg->public_base_url);
	v = get(kv, "bvnk_webhook_url", dflt);
	if ((strncmp(v, "https://", 8) != 0 && !(cfg->dev_mode && strncmp(v, "http://", 7) == 0)) ||
	    copy_str("bvnk_webhook_url", v, cfg->bvnk_webhook_url, sizeof(cfg->bvnk_webhook_url), err, errlen))
		return fail(err, errlen, "setting bvnk_webhook_url: expected the complete https:// URL configured in BVNK");
	v = get(kv, "bvnk_webhook_signing", "url");
	if (strcmp(v, "url") == 0)
		cfg->bvnk_webhook_signing = BVNK_SIGNS_URL;
	else if (strcmp(v, "path") == 0)
		cfg->bvnk_webhook_signing = BVNK_SIGNS_PATH;
	else if (strcmp(v, "body") == 0)
		cfg->bvnk_webhook_signing = BVNK_SIGNS_BODY;
	else
		return fail(err, errlen, "setting bvnk_webhook_signing: expected url, path or body, got \"%s\"", v);
	return parse_payout_networks(kv, cfg, err, errlen);
}

/* The jobs process; the request path reads none of it. */
static int build_jobs(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		long dflt, min, max;
		size_t off;
	} ints[] = {
		{ "jobs_watch_seconds", 15, 0, 86400, offsetof(struct jobs_conf, watch_seconds) },
		{ "watch_window_blocks", 2000, 1, 100000, offsetof(struct jobs_conf, watch_window_blocks) },
		{ "jobs_reverify_seconds", 60, 0, 86400, offsetof(struct jobs_conf, reverify_seconds) },
		{ "jobs_backfill_seconds", 600, 0, 86400, offsetof(struct jobs_conf, backfill_seconds) },
		{ "jobs_retention_seconds", 3600, 0, 86400, offsetof(struct jobs_conf, retention_seconds) },
		{ "jobs_relay_seconds", 5, 0, 3600, offsetof(struct jobs_conf, relay_seconds) },
		{ "jobs_deliver_seconds", 1, 0, 3600, offsetof(struct jobs_conf, deliver_seconds) },
		{ "jobs_batch", 50, 1, 1000, offsetof(struct jobs_conf, batch) },
		{ "retention_inbox_days", 30, 1, 3650, offsetof(struct jobs_conf, retention_inbox_days) },
		{ "retention_events_days", 30, 1, 3650, offsetof(struct jobs_conf, retention_events_days) },
		{ "jobs_cleanup_seconds", 300, 0, 86400, offsetof(struct jobs_conf, cleanup_seconds) },
		{ "jobs_shkeeper_poll_seconds", 120, 0, 86400, offsetof(struct jobs_conf, shkeeper_poll_seconds) },
		{ "shkeeper_poll_after_minutes", 10, 0, 10080, offsetof(struct jobs_conf, shkeeper_poll_after_minutes) },
		{ "jobs_reconcile_seconds", 300, 0, 86400, offsetof(struct jobs_conf, reconcile_seconds) },
		{ "reconcile_after_minutes", 30, 0, 10080, offsetof(struct jobs_conf, reconcile_after_minutes) },
		{ "jobs_auto_release_seconds", 0, 0, 86400, offsetof(struct jobs_conf, auto_release_seconds) },
		{ "auto_release_grace_hours", 72, 1, 8760, offsetof(struct jobs_conf, auto_release_grace_hours) },
	};
	long n;

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (get_long(kv, ints[i].key, ints[i].dflt, ints[i].min, ints[i].max, &n, err, errlen))
			return -1;
		*(int *)((char *)&cfg->jobs + ints[i].off) = (int)n;
	}
	/* The rails a payout can be opened on without a person: an admin still signs one, the hot wallet pays itself. */
	const char *rail = get(kv, "auto_release_rail", "admin_wallet");
	if (strcmp(rail, "admin_wallet") != 0 && strcmp(rail, "hot_wallet") != 0)
		return fail(err, errlen, "setting auto_release_rail: expected admin_wallet or hot_wallet, got \"%.32s\"", rail);
	snprintf(cfg->jobs.auto_release_rail, sizeof(cfg->jobs.auto_release_rail), "%.15s", rail);
	return copy_str("jobs_lock_database_url", get(kv, "jobs_lock_database_url", cfg->database_url),
	                cfg->jobs.lock_database_url, sizeof(cfg->jobs.lock_database_url), err, errlen);
}

static int build(struct kv *kv, struct config *cfg, char *err, size_t errlen)
{
	const char *v;
	long n;
	char *end;
	enum log_level level;

	if (parse_listen(get(kv, "listen", getenv("LISTEN_FDS") ? "systemd" : "unix:/run/fcgi-payments/fcgi.sock"),
	                 cfg, err, errlen))
		return -1;
	v = get(kv, "socket_mode", "0660");
	n = strtol(v, &end, 8);
	if (*end || n < 0 || n > 0777)
		return fail(err, errlen, "setting socket_mode: expected an octal mode such as 0660");
	cfg->socket_mode = (unsigned)n;

	/* Four per core: a worker waiting on PostgreSQL or an upstream leaves its core
	 * idle, and a webhook's commit waits for the disk, where more committers
	 * share a flush. The bench's sweep (README, "Performance") still rises from
	 * two to four per core on the webhook path. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (get_long(kv, "workers", cpus > 0 ? 4 * cpus : 8, 1, 256, &n, err, errlen))
		return -1;
	cfg->workers = (int)n;
	if (get_long(kv, "max_requests", 10000, 0, LONG_MAX, &cfg->max_requests, err, errlen))
		return -1;
	if (get_long(kv, "max_body_bytes", 1L << 20, 1024, 64L << 20, &n, err, errlen))
		return -1;
	cfg->max_body_bytes = (size_t)n;
	if (get_long(kv, "drain_seconds", 30, 1, 3600, &n, err, errlen))
		return -1;
	cfg->drain_seconds = (int)n;

	if ((v = get(kv, "database_url", NULL)) == NULL)
		return fail(err, errlen, "setting database_url is required (a libpq connection string)");
	if (copy_str("database_url", v, cfg->database_url, sizeof(cfg->database_url), err, errlen))
		return -1;
	if (get_long(kv, "db_connect_timeout", 3, 1, 60, &n, err, errlen) ||
	    get_bool(kv, "db_prepare", true, &cfg->db_prepare, err, errlen))
		return -1;
	cfg->db_connect_timeout = (int)n;

	if ((v = get(kv, "jwt_secret_file", NULL)) == NULL)
		return fail(err, errlen, "setting jwt_secret_file is required");
	if (read_secret("jwt_secret_file", v, 32, &cfg->jwt_secret, &cfg->jwt_secret_len, err, errlen))
		return -1;
	if (get_long(kv, "jwt_leeway_seconds", 30, 0, 300, &n, err, errlen))
		return -1;
	cfg->jwt_leeway_seconds = (int)n;

	v = get(kv, "mode", "production");
	if (strcmp(v, "dev") != 0 && strcmp(v, "production") != 0)
		return fail(err, errlen, "setting mode: expected production or dev, got \"%s\"", v);
	cfg->dev_mode = strcmp(v, "dev") == 0;

	if ((v = get(kv, "public_base_url", NULL)) == NULL)
		return fail(err, errlen, "setting public_base_url is required (e.g. https://pay.example.com)");
	if (strncmp(v, "https://", 8) != 0 && !(cfg->dev_mode && strncmp(v, "http://", 7) == 0))
		return fail(err, errlen, "setting public_base_url: expected an https:// URL");
	if (copy_str("public_base_url", v, cfg->public_base_url, sizeof(cfg->public_base_url), err, errlen))
		return -1;
	/* The webhook URL is built by appending a path. */
	size_t blen = strlen(cfg->public_base_url);
	if (blen && cfg->public_base_url[blen - 1] == '/')
		cfg->public_base_url[blen - 1] = '\0';

	if (get_long(kv, "stale_pending_minutes", 60, 1, 525600, &n, err, errlen))
		return -1;
	cfg->stale_pending_minutes = (int)n;
	if (get_long(kv, "idempotency_key_hours", 24, 1, 720, &n, err, errlen))
		return -1;
	cfg->idempotency_key_hours = (int)n;
	if (get_long(kv, "idempotency_lease_seconds", 60, 5, 3600, &n, err, errlen))
		return -1;
	cfg->idempotency_lease_seconds = (int)n;

	if ((v = get(kv, "escrow_address", NULL)) == NULL || !valid_address(v))
		return fail(err, errlen, "setting escrow_address is required: a 0x-prefixed 20-byte address");
	memcpy(cfg->escrow_address, v, sizeof(cfg->escrow_address));  /* valid_address(): 42 bytes + NUL */
	if (copy_str("redirect_success_url", get(kv, "redirect_success_url", ""),
	             cfg->redirect_success_url, sizeof(cfg->redirect_success_url), err, errlen) ||
	    copy_str("redirect_cancel_url", get(kv, "redirect_cancel_url", ""),
	             cfg->redirect_cancel_url, sizeof(cfg->redirect_cancel_url), err, errlen))
		return -1;

	if (log_level_parse(get(kv, "log_level", "info"), &level) != 0)
		return fail(err, errlen, "setting log_level: expected debug, info, warn or error");
	cfg->log_level = (int)level;

	if (parse_currencies(get(kv, "currencies", "USD:2,EUR:2,USDT:6,USDC:6,BNB:18,ETH:18"),
	                     cfg, err, errlen) ||
	    parse_networks(kv, cfg, err, errlen) ||
	    parse_tokens(kv, cfg, err, errlen))
		return -1;
	return build_upstreams(kv, cfg, err, errlen) || build_payouts(kv, cfg, err, errlen) ||
	       build_jobs(kv, cfg, err, errlen) || build_events(kv, cfg, err, errlen) ? -1 : 0;
}

int config_load(const char *path, struct config *out, char *err, size_t errlen)
{
	struct kv *kv = xcalloc(1, sizeof(*kv));
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (path != NULL && read_file_lines(path, kv, err, errlen) != 0)
		goto out;
	if (apply_env(kv, err, errlen) != 0 || build(kv, out, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		config_free(out);
	OPENSSL_cleanse(kv, sizeof(*kv));
	free(kv);
	return rc;
}

void config_free(struct config *cfg)
{
	wipe(&cfg->jwt_secret, &cfg->jwt_secret_len);
	wipe(&cfg->shkeeper_api_key, &cfg->shkeeper_api_key_len);
	wipe(&cfg->shkeeper_webhook_secret, &cfg->shkeeper_webhook_secret_len);
	wipe(&cfg->internal_token, &cfg->internal_token_len);
	wipe(&cfg->shkeeper_payout_auth, &cfg->shkeeper_payout_auth_len);
	wipe(&cfg->bvnk_hawk_key, &cfg->bvnk_hawk_key_len);
	wipe(&cfg->bvnk_webhook_secret, &cfg->bvnk_webhook_secret_len);
	for (size_t i = 0; i < cfg->subscribers.n; i++)
		wipe(&cfg->subscribers.list[i].secret, &cfg->subscribers.list[i].secret_len);
}

bool config_subscriber_wants(const struct subscriber_conf *sub, const char *event)
{
	if (sub->all_events)
		return true;
	for (size_t i = 0; i < sub->n_events; i++)
		if (strcmp(sub->events[i], event) == 0)
			return true;
	return false;
}

const struct currency_conf *config_currency(const struct config *cfg, const char *code)
{
	for (size_t i = 0; i < cfg->n_currencies; i++)
		if (strcmp(cfg->currencies[i].code, code) == 0)
			return &cfg->currencies[i];
	return NULL;
}

const struct token_conf *config_token(const struct config *cfg, const char *network,
                                      const char *symbol)
{
	for (size_t i = 0; i < cfg->n_tokens; i++)
		if (strcmp(cfg->tokens[i].network, network) == 0 &&
		    strcmp(cfg->tokens[i].symbol, symbol) == 0)
			return &cfg->tokens[i];
	return NULL;
}

const struct network_conf *config_network(const struct config *cfg, const char *network)
{
	for (size_t i = 0; i < cfg->n_networks; i++)
		if (strcmp(cfg->networks[i].name, network) == 0)
			return &cfg->networks[i];
	return NULL;
}

const char *config_shkeeper_llimit(const struct config *cfg, const char *crypto)
{
	for (size_t i = 0; crypto && i < cfg->n_shkeeper_llimits; i++)
		if (strcmp(cfg->shkeeper_llimits[i].crypto, crypto) == 0)
			return cfg->shkeeper_llimits[i].llimit;
	return cfg->shkeeper_llimit;
}

bool config_has_network(const struct config *cfg, const char *network)
{
	return config_network(cfg, network) != NULL;
}
