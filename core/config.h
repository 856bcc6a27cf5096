#ifndef PAY_CONFIG_H
#define PAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The service's settings: one file of `key = value` lines, each key
 * overridable by the environment variable PAYMENTS_<KEY> (upper case, dots
 * as underscores). Secrets are never written in the file itself: `*_file`
 * keys name files to read, resolved against $CREDENTIALS_DIRECTORY when
 * relative, so systemd's LoadCredential= works unchanged.
 *
 * config_load() either returns a complete, validated config or fails with a
 * message naming the offending setting; nothing starts on a bad config.
 */

#define CONFIG_MAX_TOKENS 16
#define CONFIG_MAX_CURRENCIES 16
#define CONFIG_MAX_NETWORKS 4

enum listen_kind { LISTEN_UNIX, LISTEN_TCP, LISTEN_SYSTEMD };

struct token_conf {
	char network[16];
	char symbol[12];
	char contract[43];   /* 0x + 40 hex, as configured */
};

struct currency_conf {
	char code[12];
	int scale;           /* decimals an amount in this currency may carry */
};

struct config {
	enum listen_kind listen_kind;
	char listen_addr[256];        /* socket path, or host:port */
	unsigned socket_mode;
	int workers;
	long max_requests;            /* 0: never recycle */
	size_t max_body_bytes;
	int drain_seconds;

	char database_url[1024];
	int db_connect_timeout;

	char *jwt_secret;             /* owned; wiped by config_free() */
	size_t jwt_secret_len;
	int jwt_leeway_seconds;

	bool dev_mode;
	char public_base_url[256];
	int stale_pending_minutes;
	char escrow_address[43];
	char redirect_success_url[256];
	char redirect_cancel_url[256];
	int log_level;

	struct currency_conf currencies[CONFIG_MAX_CURRENCIES];
	size_t n_currencies;
	char networks[CONFIG_MAX_NETWORKS][16];
	size_t n_networks;
	struct token_conf tokens[CONFIG_MAX_TOKENS];
	size_t n_tokens;
};

/* Returns 0, or -1 with a message for a person in err. */
int config_load(const char *path, struct config *out, char *err, size_t errlen);
void config_free(struct config *cfg);

/* Lookups; NULL or -1 when not configured. */
const struct currency_conf *config_currency(const struct config *cfg, const char *code);
const struct token_conf *config_token(const struct config *cfg, const char *network,
                                      const char *symbol);
bool config_has_network(const struct config *cfg, const char *network);

#endif
