/* config: the service's settings: one file of `key = value` lines, each key
 * overridable by the environment variable PAYMENTS_<KEY> (upper case, dots
 * as underscores). Secrets are never written in the file itself: `*_file`
 * keys name files to read, resolved against $CREDENTIALS_DIRECTORY when
 * relative, so systemd's LoadCredential= works unchanged.
 *
 * config_load() either returns a complete, validated config or fails with a
 * message naming the offending setting; nothing starts on a bad config.
 */
#ifndef PAY_CONFIG_H
#define PAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_MAX_TOKENS 16
#define CONFIG_MAX_CURRENCIES 16
#define CONFIG_MAX_NETWORKS 4
#define CONFIG_MAX_RPC 4

/* The jobs process: how often each job runs (0: never) and what it keeps. */
struct jobs_conf {
	/* Leader locks are session locks: this URL must reach PostgreSQL itself,
	 * never a transaction-mode pooler, which would hand the lock to others. */
	char lock_database_url[1024];
	int watch_seconds;
	int watch_window_blocks;        /* blocks per eth_getLogs, at most */
	int reverify_seconds;
	int backfill_seconds;
	int retention_seconds;
	int relay_seconds;              /* the relay's poll when no NOTIFY wakes it */
	int deliver_seconds;            /* how often a subscriber's queue is looked at */
	int batch;                      /* items a job takes per run */
	int retention_inbox_days;       /* inbox rows that changed nothing */
	int retention_events_days;      /* outbox events, once announced */
	int cleanup_seconds;            /* stale pending pay-ins cancelled (stale_pending_minutes) */
	int shkeeper_poll_seconds;      /* SHKeeper invoices asked about, each at most this often */
	int shkeeper_poll_after_minutes;    /* …once their pay-in is this old */
	int reconcile_seconds;          /* outgoing payments matched against the chain */
	int reconcile_after_minutes;    /* …once they have waited this long */
	int auto_release_seconds;       /* 0 (the default): no automatic release */
	int auto_release_grace_hours;   /* how long a request stays delivered before its release */
	char auto_release_rail[16];     /* admin_wallet or hot_wallet */
};

/* Live streams: where the relay publishes (nginx's pub/sub), and the
 * buffer nginx keeps per room, which must match the site file's nchan
 * settings: a resumed subscription is served from that buffer only while
 * it still holds everything the client missed. */
struct stream_conf {
	char publisher_socket[108];     /* unix socket of the publisher; "" when publishing is off */
	char publisher_url[256];        /* http://host[:port] when not a socket */
	int buffer_messages;
	int buffer_seconds;
};

/* A service of the marketplace that gets events as signed webhooks. */
#define CONFIG_MAX_SUBSCRIBERS 8
#define CONFIG_MAX_SUBSCRIBER_EVENTS 24

struct subscriber_conf {
	char name[25];                  /* [a-z][a-z0-9_]{0,23} */
	char url[256];
	bool all_events;
	char events[CONFIG_MAX_SUBSCRIBER_EVENTS][64];
	size_t n_events;
	char *secret;                   /* owned; wiped by config_free() */
	size_t secret_len;
};

struct subscribers_conf {
	struct subscriber_conf list[CONFIG_MAX_SUBSCRIBERS];
	size_t n;
	int timeout_ms;
	int connect_timeout_ms;
	int retry_base_seconds;         /* first retry; each next one waits twice as long… */
	int retry_max_seconds;          /* …up to this */
	int give_up_seconds;            /* after this long a delivery is marked failed */
};

enum listen_kind { LISTEN_UNIX, LISTEN_TCP, LISTEN_SYSTEMD };

/* What BVNK's webhook signature covers (its docs leave the variant unconfirmed): the complete
 * URL, the URL's path, or nothing but the body; then the Content-Type and the raw body. */
enum config_bvnk_signing { BVNK_SIGNS_URL, BVNK_SIGNS_PATH, BVNK_SIGNS_BODY };

struct token_conf {
	char network[16];
	char symbol[12];
	char contract[43];   /* 0x + 40 hex, as configured */
	int decimals;        /* as configured; checked against decimals() on chain */
};

struct network_conf {
	char name[16];
	long long chain_id;          /* 0: not configured (no RPC for this network) */
	char rpc_urls[CONFIG_MAX_RPC][256];   /* tried in order */
	size_t n_rpc;
	int confirmations;           /* depth below head when the node has no finalized block */
	/* Payouts signed or suggested by the service (fee_model.<net>, max_gas_price_gwei.<net>,
	 * priority_fee_gwei.<net>). */
	bool eip1559;                          /* type-2 fees, else a legacy gas price */
	unsigned long long max_gas_price_wei;  /* cap of the gas price or the max fee per gas */
	unsigned long long priority_fee_wei;   /* the tip offered; 0: the node's suggestion */
	/* Payouts a provider signs and sends: the wallet each pays from on this network (what the
	 * on-chain check holds the transfer's sender to; "" when not set), and the protocol name
	 * BVNK's currency list gives the network (shkeeper_payout_wallet.<net>,
	 * bvnk_payout_wallet.<net>, bvnk_protocol.<net>). */
	char shkeeper_payout_wallet[43];
	char bvnk_payout_wallet[43];
	char bvnk_protocol[24];
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
	bool db_prepare;              /* off behind a transaction-mode pooler without prepared-statement support */

	char *jwt_secret;             /* owned; wiped by config_free() */
	size_t jwt_secret_len;
	int jwt_leeway_seconds;

	bool dev_mode;
	char public_base_url[256];
	int stale_pending_minutes;
	int idempotency_key_hours;      /* how long an Idempotency-Key's answer is kept */
	int idempotency_lease_seconds;  /* how long a request holds its key before a retry may take it over */
	char escrow_address[43];
	char redirect_success_url[256];
	char redirect_cancel_url[256];
	int log_level;
	int log_format;                 /* enum log_format: text, or one JSON object per line */

	struct currency_conf currencies[CONFIG_MAX_CURRENCIES];
	size_t n_currencies;
	struct network_conf networks[CONFIG_MAX_NETWORKS];
	size_t n_networks;
	int rpc_timeout_ms;
	int rpc_connect_timeout_ms;

	/* SHKeeper: base URL without /api/v1; empty when not configured. */
	char shkeeper_url[256];
	char *shkeeper_api_key;          /* owned; wiped by config_free() */
	size_t shkeeper_api_key_len;
	char *shkeeper_webhook_secret;   /* the older HMAC-of-body scheme; NULL if unset */
	size_t shkeeper_webhook_secret_len;
	bool shkeeper_allow_api_key_header;
	bool shkeeper_verify_on_chain;   /* check a PAID callback's transactions before funding */
	/* SHKeeper's PAID threshold, percent of the fiat price without its fee (its wallet setting llimit). */
	char shkeeper_llimit[16];
	/* shkeeper_llimit.<CRYPTO>: SHKeeper keeps llimit per wallet, so a crypto may differ. */
	struct shk_llimit_conf {
		char crypto[24];             /* SHKeeper's crypto name as written, e.g. BNB-USDT */
		char llimit[16];
	} shkeeper_llimits[CONFIG_MAX_TOKENS];
	size_t n_shkeeper_llimits;
	int shkeeper_timeout_ms;
	int shkeeper_connect_timeout_ms;
	/* SHKeeper payouts: its admin login as "user:password" for HTTP Basic (NULL: no
	 * payouts through SHKeeper), and the `fee` its payout API requires, as decimal text. */
	char *shkeeper_payout_auth;      /* owned; wiped by config_free() */
	size_t shkeeper_payout_auth_len;
	char shkeeper_payout_fee[40];

	/* BVNK payouts: API base URL ("" when not configured), Hawk credentials, the merchant
	 * payouts are made from, and how its webhooks are signed. */
	char bvnk_url[256];
	char bvnk_hawk_id[128];
	char *bvnk_hawk_key;             /* owned; wiped by config_free() */
	size_t bvnk_hawk_key_len;
	char *bvnk_webhook_secret;       /* owned; the Hawk key when no file of its own is named */
	size_t bvnk_webhook_secret_len;
	char bvnk_merchant_id[128];
	char bvnk_webhook_url[512];      /* the complete URL as configured in BVNK */
	enum config_bvnk_signing bvnk_webhook_signing;
	int bvnk_timeout_ms;
	int bvnk_connect_timeout_ms;

	/* Circuit breaker for every upstream. */
	int breaker_failures;
	int breaker_cooldown_seconds;

	/* A token for internal callers (cron) of job endpoints; NULL if unset. */
	char *internal_token;
	size_t internal_token_len;
	struct token_conf tokens[CONFIG_MAX_TOKENS];
	size_t n_tokens;

	struct jobs_conf jobs;
	/*
	 * The hot wallet the service signs payouts with: the path of its key file
	 * (resolved against $CREDENTIALS_DIRECTORY; empty: no hot wallet). The key
	 * itself is never kept here: flow/hotwallet.c reads it when it signs and
	 * wipes it at once. A file readable by group or others is refused.
	 */
	char hot_wallet_key_path[512];
	char hot_wallet_address[43];     /* optional: the address the key must have */

	/* Dev mode only: a file naming a fault point to trip once (base/devfault.h). */
	char dev_fault_file[256];
	struct stream_conf stream;
	struct subscribers_conf subscribers;
};

/*
 * Every key the service knows is a row of config_keys[] (config.c), in the
 * order it is applied: a scalar row is read by one generic loop (the file,
 * then PAYMENTS_<KEY>, else its default; then its kind's check and bounds);
 * a family of keys (per network, per token, per subscriber) is a row too,
 * read by its own parser. README's Configuration table documents the rows,
 * which tests/unit/base/test_config_keys.c holds it to.
 */
enum config_kind {
	CONFIG_INT,          /* whole number in [min, max], into an int */
	CONFIG_LONG,         /* …into a long */
	CONFIG_LLONG,        /* …into a long long */
	CONFIG_SIZE,         /* …into a size_t */
	CONFIG_OCTAL,        /* an octal file mode in [min, max], into an unsigned */
	CONFIG_BOOL,         /* true or false */
	CONFIG_ENUM,         /* one of `words` ("a|b"): its index, into a bool or an int-sized enum */
	CONFIG_WORD,         /* one of `words`, as text into a fixed buffer */
	CONFIG_STRING,       /* text into a fixed buffer */
	CONFIG_URL,          /* https:// (http:// too in dev mode) into a fixed buffer */
	CONFIG_ADDRESS,      /* 0x-prefixed 20-byte address into a fixed buffer */
	CONFIG_ID,           /* letters, digits, _ and - into a fixed buffer */
	CONFIG_DECIMAL,      /* decimal text from min to max, up to `scale` decimals, as base/money writes it */
	CONFIG_GWEI,         /* decimal gwei, at least min wei, into an unsigned long long of wei */
	CONFIG_SECRET,       /* a file's contents, at least min bytes: owned char * and its size_t length at len_off */
	CONFIG_CUSTOM,       /* a value its row's parse() reads */
};

/* Row flags. */
#define CONFIG_F_SECRET    0x01u  /* the value read is a secret: never logged or echoed */
#define CONFIG_F_NETWORK   0x02u  /* <name><network>, one per configured network, into its struct network_conf */
#define CONFIG_F_LISTED    0x04u  /* …set only where written, and the network must be in `networks` */
#define CONFIG_F_FAMILY    0x08u  /* <name>… keys of one family, applied by its row's apply() */
#define CONFIG_F_OWN_ENV   0x10u  /* the family maps its own environment names */
#define CONFIG_F_ONLY_WITH 0x20u  /* read only when required_with is set, ignored otherwise */
#define CONFIG_F_DEV_ONLY  0x40u  /* refused unless mode = dev */
#define CONFIG_F_BASE_URL  0x80u  /* a URL paths are appended to: one trailing slash dropped */

struct config_kv;
struct config_key {
	const char *name;            /* the key; a family's or a per-network row's prefix, dot included */
	const char *doc;             /* how README writes a family's keys, e.g. token.<network>.<SYMBOL> */
	enum config_kind kind;
	unsigned flags;
	size_t off, size;            /* the field: in struct config, struct network_conf, or the family's struct */
	size_t len_off;              /* CONFIG_SECRET: its length */
	const char *dflt;            /* as if written in the file; NULL: none (the field stays zero) */
	const char *dflt_bsc;        /* CONFIG_F_NETWORK: the default on bsc, where it differs */
	/* A default that depends on the machine or on other keys, written into buf; dflt_doc says it. */
	const char *(*dflt_fn)(const struct config *cfg, char *buf, size_t len);
	const char *dflt_doc;        /* README's default, when it is not the literal default */
	long min, max;               /* numbers: bounds; CONFIG_DECIMAL: of the whole part; CONFIG_SECRET: min bytes */
	int scale;                   /* CONFIG_DECIMAL: decimals at most */
	const char *words;           /* CONFIG_ENUM, CONFIG_WORD: "a|b|c" */
	const char *required_with;   /* "": always required; a key: required when that one is set ("x." per network) */
	const char *needs;           /* a key that must be set for this one to be */
	int (*parse)(const struct config_key *r, const char *key, const char *v, void *base, struct config *cfg,
	             char *err, size_t errlen);
	int (*apply)(const struct config_key *r, struct config_kv *kv, struct config *cfg, char *err, size_t errlen);
	/* Cross-key rules and derived values, once the row is applied (set or not). */
	int (*after)(const struct config_key *r, const char *key, void *base, struct config *cfg, char *err,
	             size_t errlen);
	const char *meaning;
};

extern const struct config_key config_keys[];
extern const size_t config_n_keys;

/* Returns 0, or -1 with a message for a person in err. */
int config_load(const char *path, struct config *out, char *err, size_t errlen);
void config_free(struct config *cfg);

/* Lookups; NULL or -1 when not configured. */
const struct currency_conf *config_currency(const struct config *cfg, const char *code);
const struct token_conf *config_token(const struct config *cfg, const char *network,
                                      const char *symbol);
bool config_has_network(const struct config *cfg, const char *network);
/* SHKeeper's llimit for one of its cryptos: its shkeeper_llimit.<CRYPTO>, else shkeeper_llimit. */
const char *config_shkeeper_llimit(const struct config *cfg, const char *crypto);
/* Does the subscriber take events named `event`? */
bool config_subscriber_wants(const struct subscriber_conf *sub, const char *event);
const struct network_conf *config_network(const struct config *cfg, const char *network);

#endif
