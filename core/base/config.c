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

/* CONFIG_ENUM stores a word's index: these enums follow their rows' word lists. */
_Static_assert(LOG_DEBUG == 0 && LOG_INFO == 1 && LOG_WARN == 2 && LOG_ERROR == 3, "log_level's words");
_Static_assert(LOG_FORMAT_TEXT == 0 && LOG_FORMAT_JSON == 1, "log_format's words");
_Static_assert(BVNK_SIGNS_URL == 0 && BVNK_SIGNS_PATH == 1 && BVNK_SIGNS_BODY == 2, "bvnk_webhook_signing's words");

struct entry {
	char key[64];
	char value[1024];
};

/* The settings as written: the file's, then the environment's over them. */
struct config_kv {
	struct entry e[MAX_ENTRIES];
	size_t n;
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

/* A row that stands for many keys: <name><network>, or a family's <name>…. */
static bool is_prefix_row(const struct config_key *r)
{
	return (r->flags & (CONFIG_F_NETWORK | CONFIG_F_FAMILY)) != 0;
}

static bool is_known(const char *key)
{
	for (size_t i = 0; i < config_n_keys; i++) {
		const struct config_key *r = &config_keys[i];

		if (is_prefix_row(r) ? strncmp(key, r->name, strlen(r->name)) == 0 : strcmp(key, r->name) == 0)
			return true;
	}
	return false;
}

static const struct config_key *row_named(const char *name)
{
	for (size_t i = 0; i < config_n_keys; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* A family's row by README's spelling of it. */
static const struct config_key *row_documented(const char *doc)
{
	for (size_t i = 0; i < config_n_keys; i++)
		if (config_keys[i].doc && strcmp(config_keys[i].doc, doc) == 0)
			return &config_keys[i];
	return NULL;
}

static struct entry *kv_find(struct config_kv *kv, const char *key)
{
	for (size_t i = 0; i < kv->n; i++)
		if (strcmp(kv->e[i].key, key) == 0)
			return &kv->e[i];
	return NULL;
}

static int kv_set(struct config_kv *kv, const char *key, const char *value, char *err, size_t errlen)
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

/* A key written with an empty value is as if not written. */
static const char *get(struct config_kv *kv, const char *key, const char *fallback)
{
	struct entry *e = kv_find(kv, key);

	return e && e->value[0] ? e->value : fallback;
}

static int read_file_lines(const char *path, struct config_kv *kv, char *err, size_t errlen)
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
static int apply_env_subscribers(struct config_kv *kv, char *err, size_t errlen)
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
static int apply_env_llimits(struct config_kv *kv, char *err, size_t errlen)
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

/* PAYMENTS_ and the row's name in upper case, dots as underscores: token. is PAYMENTS_TOKEN_. */
static void env_name(const char *name, char *out, size_t outlen)
{
	size_t n = (size_t)snprintf(out, outlen, "PAYMENTS_%s", name);

	for (size_t j = 9; j < n && j < outlen; j++)
		out[j] = out[j] == '.' ? '_' : (char)toupper((unsigned char)out[j]);
}

/*
 * Scalar keys map 1:1 (PAYMENTS_WORKERS is workers). Per-network and token
 * keys take the network in lower case and the symbol as written:
 * PAYMENTS_TOKEN_BSC_USDT is token.bsc.USDT, PAYMENTS_RPC_BSC is rpc.bsc; the
 * longest row name wins (PAYMENTS_TOKEN_DECIMALS_ before PAYMENTS_TOKEN_).
 */
static int apply_env(struct config_kv *kv, char *err, size_t errlen)
{
	char key[64], name[96];

	for (size_t i = 0; i < config_n_keys; i++) {
		const char *v;

		if (is_prefix_row(&config_keys[i]))
			continue;
		env_name(config_keys[i].name, name, sizeof(name));
		if ((v = getenv(name)) != NULL && kv_set(kv, config_keys[i].name, v, err, errlen) != 0)
			return -1;
	}
	for (char **ep = environ; *ep; ep++) {
		const char *s = *ep, *eq = strchr(s, '=');
		const struct config_key *row = NULL;
		size_t plen = 0;

		for (size_t i = 0; eq && i < config_n_keys; i++) {
			const struct config_key *r = &config_keys[i];

			if (!is_prefix_row(r) || (r->flags & CONFIG_F_OWN_ENV))
				continue;
			env_name(r->name, name, sizeof(name));
			if (strlen(name) > plen && strncmp(s, name, strlen(name)) == 0) {
				row = r;
				plen = strlen(name);
			}
		}
		if (row == NULL)
			continue;
		s += plen;
		if ((size_t)(eq - s) >= 40 || eq == s)
			return fail(err, errlen, "%.*s: malformed name", (int)(eq - *ep), *ep);
		size_t k = (size_t)snprintf(key, sizeof(key), "%s", row->name);
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

static int parse_long(const char *key, const char *v, long min, long max, long *out, char *err, size_t errlen)
{
	char *end;

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

static int apply_value(const struct config_key *r, const char *key, const char *v, void *base,
                       struct config *cfg, bool bounded, char *err, size_t errlen);
static int apply_row(struct config_kv *kv, const struct config_key *r, const char *key, const char *network,
                     void *base, struct config *cfg, char *err, size_t errlen);

/* The index of v in "a|b|c", or -1. */
static int word_index(const char *words, const char *v)
{
	size_t n = strlen(v);
	int i = 0;

	for (const char *w = words; *w; i++) {
		size_t len = strcspn(w, "|");

		if (len == n && strncmp(w, v, n) == 0)
			return i;
		w += len + (w[len] == '|');
	}
	return -1;
}

/* "a|b|c" as "a, b or c". */
static void words_text(const char *words, char *out, size_t outlen)
{
	size_t o = 0;

	for (const char *w = words; *w && o < outlen;) {
		size_t len = strcspn(w, "|");
		const char *sep = w[len] != '|' ? "" : strchr(w + len + 1, '|') ? ", " : " or ";

		o += (size_t)snprintf(out + o, outlen - o, "%.*s%s", (int)len, w, sep);
		w += len + (w[len] == '|');
	}
}

/*
 * Decimal text as base/money writes it (97.50 is 97.5), its whole part from
 * min to max (max itself without decimals); "0" where min is 0, which
 * money_parse, made for amounts, refuses.
 */
static int parse_decimal(const struct config_key *r, const char *key, const char *v, char *field, char *err,
                         size_t errlen)
{
	char text[MONEY_TEXT_MAX];
	long whole = -1;

	if (r->min == 0 && strcmp(v, "0") == 0) {
		snprintf(text, sizeof(text), "0");
		whole = 0;
	} else if (money_parse(v, r->scale, text) == MONEY_OK) {
		whole = strtol(text, NULL, 10);
	}
	if (whole < r->min || whole > r->max || (whole == r->max && strchr(text, '.') != NULL) ||
	    strlen(text) >= r->size) {
		if (r->max == LONG_MAX)
			return fail(err, errlen, "setting %s: expected a decimal of at least %ld (up to %d decimals) such as 1.5, got \"%s\"",
			            key, r->min, r->scale, v);
		return fail(err, errlen, "setting %s: expected a decimal from %ld to %ld (up to %d decimals), got \"%s\"",
		            key, r->min, r->max, r->scale, v);
	}
	memcpy(field, text, strlen(text) + 1);
	return 0;
}

/*
 * One value into its field at base + r->off, by the row's kind. A default
 * (bounded false) is not held to the bounds: a machine-dependent one such as
 * workers' is taken as computed; the unit tests hold the literal ones.
 */
static int apply_value(const struct config_key *r, const char *key, const char *v, void *base,
                       struct config *cfg, bool bounded, char *err, size_t errlen)
{
	char *field = (char *)base + r->off, list[256];
	unsigned long long wei;
	long n = 0;
	int i;

	switch (r->kind) {
	case CONFIG_INT:
	case CONFIG_LONG:
	case CONFIG_LLONG:
	case CONFIG_SIZE:
		if (parse_long(key, v, bounded ? r->min : LONG_MIN, bounded ? r->max : LONG_MAX, &n, err, errlen))
			return -1;
		if (r->kind == CONFIG_INT)
			*(int *)field = (int)n;
		else if (r->kind == CONFIG_LONG)
			*(long *)field = n;
		else if (r->kind == CONFIG_LLONG)
			*(long long *)field = n;
		else
			*(size_t *)field = (size_t)n;
		return 0;
	case CONFIG_OCTAL: {
		char *end;

		n = strtol(v, &end, 8);
		if (*end || n < r->min || n > r->max)
			return fail(err, errlen, "setting %s: expected an octal mode such as %s", key, r->dflt);
		*(unsigned *)field = (unsigned)n;
		return 0;
	}
	case CONFIG_BOOL:
		if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
			return fail(err, errlen, "setting %s: expected true or false, got \"%s\"", key, v);
		*(bool *)field = strcmp(v, "true") == 0;
		return 0;
	case CONFIG_ENUM:
	case CONFIG_WORD:
		if ((i = word_index(r->words, v)) < 0) {
			words_text(r->words, list, sizeof(list));
			return fail(err, errlen, "setting %s: expected %s, got \"%s\"", key, list, v);
		}
		if (r->kind == CONFIG_WORD)
			return copy_str(key, v, field, r->size, err, errlen);
		if (r->size == sizeof(bool))
			*(bool *)field = i != 0;
		else
			*(int *)field = i;
		return 0;
	case CONFIG_STRING:
		return copy_str(key, v, field, r->size, err, errlen);
	case CONFIG_URL:
		if (*v && strncmp(v, "https://", 8) != 0 && !(cfg->dev_mode && strncmp(v, "http://", 7) == 0))
			return fail(err, errlen, "setting %s: expected an https:// URL", key);
		if (copy_str(key, v, field, r->size, err, errlen))
			return -1;
		/* A path is appended to it. */
		if ((r->flags & CONFIG_F_BASE_URL) && *field && field[strlen(field) - 1] == '/')
			field[strlen(field) - 1] = '\0';
		return 0;
	case CONFIG_ADDRESS:
		if (!valid_address(v))
			return fail(err, errlen, "setting %s: expected a 0x-prefixed 20-byte address", key);
		return copy_str(key, v, field, r->size, err, errlen);
	case CONFIG_ID:
		if (!valid_id(v))
			return fail(err, errlen, "setting %s: expected letters, digits, _ and -, got \"%s\"", key, v);
		return copy_str(key, v, field, r->size, err, errlen);
	case CONFIG_DECIMAL:
		return parse_decimal(r, key, v, field, err, errlen);
	case CONFIG_GWEI:
		if (parse_gwei(v, &wei) != 0 || wei < (unsigned long long)r->min)
			return fail(err, errlen, "setting %s: expected %s amount of gwei such as 20 or 0.5, got \"%s\"", key,
			            r->min > 0 ? "a positive" : "an", v);
		*(unsigned long long *)field = wei;
		return 0;
	case CONFIG_SECRET:
		return read_secret(key, v, (size_t)r->min, (char **)field, (size_t *)((char *)base + r->len_off), err,
		                   errlen);
	case CONFIG_CUSTOM:
		return r->parse(r, key, v, base, cfg, err, errlen);
	}
	return fail(err, errlen, "setting %s: no parser for its kind", key);
}

static const char *default_listen(const struct config *cfg, char *buf, size_t len)
{
	(void)cfg, (void)buf, (void)len;
	return getenv("LISTEN_FDS") ? "systemd" : "unix:/run/fcgi-payments/fcgi.sock";
}

/* Two per core: a worker waits on PostgreSQL or an upstream for part of every
 * request, and on the bench's sweep (README, "Performance") two per core serve the
 * GETs a tenth faster than one, while four crowd PostgreSQL's transactions onto the
 * same cores and the webhook loses a third. */
static const char *default_workers(const struct config *cfg, char *buf, size_t len)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	(void)cfg;
	snprintf(buf, len, "%ld", cpus <= 0 ? 4 : cpus > 128 ? 256 : 2 * cpus);
	return buf;
}

static const char *default_lock_database_url(const struct config *cfg, char *buf, size_t len)
{
	(void)buf, (void)len;
	return cfg->database_url;
}

static const char *default_bvnk_webhook_url(const struct config *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%s/api/payment/bvnk/webhook", cfg->public_base_url);
	return buf;
}

static int parse_listen(const struct config_key *r, const char *key, const char *v, void *base, struct config *cfg,
                        char *err, size_t errlen)
{
	(void)r, (void)base;
	if (strcmp(v, "systemd") == 0) {
		cfg->listen_kind = LISTEN_SYSTEMD;
		return 0;
	}
	if (strncmp(v, "unix:", 5) == 0 && v[5] == '/') {
		cfg->listen_kind = LISTEN_UNIX;
		/* sun_path holds 108 bytes. */
		if (strlen(v + 5) >= 108)
			return fail(err, errlen, "setting %s: socket path longer than 107 bytes", key);
		return copy_str(key, v + 5, cfg->listen_addr, sizeof(cfg->listen_addr), err, errlen);
	}
	if (strncmp(v, "tcp:", 4) == 0 && strrchr(v + 4, ':') != NULL) {
		cfg->listen_kind = LISTEN_TCP;
		return copy_str(key, v + 4, cfg->listen_addr, sizeof(cfg->listen_addr), err, errlen);
	}
	return fail(err, errlen, "setting %s: expected unix:/path, tcp:host:port or systemd, got \"%s\"", key, v);
}

static int parse_currencies(const struct config_key *r, const char *key, const char *v, void *base,
                            struct config *cfg, char *err, size_t errlen)
{
	char copy[1024], *save = NULL;

	(void)r, (void)base;
	snprintf(copy, sizeof(copy), "%s", v);
	cfg->n_currencies = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':'), *end;
		struct currency_conf *c;

		tok = trim(tok);
		if (colon == NULL || cfg->n_currencies == CONFIG_MAX_CURRENCIES)
			return fail(err, errlen, "setting %s: expected CODE:DECIMALS,… (at most %d)", key,
			            CONFIG_MAX_CURRENCIES);
		*colon = '\0';
		c = &cfg->currencies[cfg->n_currencies];
		long scale = strtol(colon + 1, &end, 10);
		if (!valid_currency(trim(tok)) || *end || scale < 0 || scale > 18)
			return fail(err, errlen, "setting %s: bad entry \"%s\"", key, tok);
		snprintf(c->code, sizeof(c->code), "%s", trim(tok));
		c->scale = (int)scale;
		cfg->n_currencies++;
	}
	if (cfg->n_currencies == 0)
		return fail(err, errlen, "setting %s: empty", key);
	return 0;
}

/* The networks accepted; each then takes the per-network rows that follow in the table. */
static int parse_networks(const struct config_key *r, const char *key, const char *v, void *base,
                          struct config *cfg, char *err, size_t errlen)
{
	char copy[1024], *save = NULL;

	(void)r, (void)base;
	snprintf(copy, sizeof(copy), "%s", v);
	cfg->n_networks = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (!valid_network(tok))
			return fail(err, errlen, "setting %s: unsupported network \"%s\" (bsc, ethereum)", key, tok);
		if (cfg->n_networks == CONFIG_MAX_NETWORKS)
			return fail(err, errlen, "setting %s: too many", key);
		snprintf(cfg->networks[cfg->n_networks++].name, sizeof(cfg->networks[0].name), "%s", tok);
	}
	return 0;
}

/*
 * Is u plain http to this host: http://127.0.0.1, localhost or [::1], with a
 * port of digits at most? The host is the whole authority, so neither
 * "127.0.0.1.example.net" nor userinfo ("localhost@example.net") passes.
 */
static bool http_to_this_host(const char *u)
{
	static const char *const hosts[] = { "127.0.0.1", "localhost", "[::1]" };
	const char *auth = u + 7;
	size_t alen;

	if (strncmp(u, "http://", 7) != 0)
		return false;
	alen = strcspn(auth, "/?#");
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t n = strlen(hosts[i]);
		if (alen < n || strncmp(auth, hosts[i], n) != 0)
			continue;
		if (alen == n)
			return true;
		return auth[n] == ':' && alen > n + 1 && alen - n - 1 <= 5 && strspn(auth + n + 1, "0123456789") == alen - n - 1;
	}
	return false;
}

/* rpc.<network>: the JSON-RPC URLs of one network, tried in order. */
static int parse_rpc(const struct config_key *r, const char *key, const char *v, void *base, struct config *cfg,
                     char *err, size_t errlen)
{
	struct network_conf *net = base;
	char ucopy[1100], *usave = NULL;

	(void)r, (void)cfg;
	snprintf(ucopy, sizeof(ucopy), "%s", v);
	for (char *u = strtok_r(ucopy, ",", &usave); u; u = strtok_r(NULL, ",", &usave)) {
		u = trim(u);
		/* Receipts decide whether money arrived: plain HTTP only to a node on this host. */
		if (net->n_rpc == CONFIG_MAX_RPC || strlen(u) >= sizeof(net->rpc_urls[0]) ||
		    (strncmp(u, "https://", 8) != 0 && !http_to_this_host(u)))
			return fail(err, errlen, "setting %s: expected up to %d https URLs (http only to this host), comma-separated",
			            key, CONFIG_MAX_RPC);
		snprintf(net->rpc_urls[net->n_rpc++], sizeof(net->rpc_urls[0]), "%s", u);
	}
	return 0;
}

static int after_priority_fee(const struct config_key *r, const char *key, void *base, struct config *cfg,
                              char *err, size_t errlen)
{
	const struct network_conf *net = base;

	(void)r, (void)cfg;
	if (net->priority_fee_wei > net->max_gas_price_wei)
		return fail(err, errlen, "setting %s: expected an amount of gwei up to max_gas_price_gwei.%s", key,
		            net->name);
	return 0;
}

static struct network_conf *network_named(struct config *cfg, const char *name)
{
	for (size_t j = 0; j < cfg->n_networks; j++)
		if (strcmp(cfg->networks[j].name, name) == 0)
			return &cfg->networks[j];
	return NULL;
}

/* token.<network>.<SYMBOL>, each with its token_decimals.<network>.<SYMBOL>. */
static int apply_tokens(const struct config_key *r, struct config_kv *kv, struct config *cfg, char *err,
                        size_t errlen)
{
	const struct config_key *decimals = row_named("token_decimals.");

	for (size_t i = 0; i < kv->n; i++) {
		const char *key = kv->e[i].key, *dot;
		struct token_conf *t;

		if (strncmp(key, r->name, strlen(r->name)) != 0)
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
		if (apply_value(r, key, kv->e[i].value, t, cfg, true, err, errlen))
			return -1;
		char dkey[64];
		snprintf(dkey, sizeof(dkey), "%s%s.%s", decimals->name, t->network, t->symbol);
		if (apply_row(kv, decimals, dkey, t->network, t, cfg, err, errlen))
			return -1;
		cfg->n_tokens++;
	}
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
static int apply_llimits(const struct config_key *r, struct config_kv *kv, struct config *cfg, char *err,
                         size_t errlen)
{
	size_t plen = strlen(r->name);

	cfg->n_shkeeper_llimits = 0;
	for (size_t i = 0; i < kv->n; i++) {
		const char *key = kv->e[i].key;
		struct shk_llimit_conf *l;

		if (strncmp(key, r->name, plen) != 0)
			continue;
		if (!valid_shk_crypto(key + plen))
			return fail(err, errlen, "setting %s: expected shkeeper_llimit.<CRYPTO>, SHKeeper's crypto name"
			            " such as BNB-USDT", key);
		if (cfg->n_shkeeper_llimits == CONFIG_MAX_TOKENS)
			return fail(err, errlen, "setting %s: too many shkeeper_llimit.<CRYPTO> settings", key);
		l = &cfg->shkeeper_llimits[cfg->n_shkeeper_llimits];
		snprintf(l->crypto, sizeof(l->crypto), "%s", key + plen);
		if (apply_value(r, key, kv->e[i].value, l, cfg, true, err, errlen))
			return -1;
		cfg->n_shkeeper_llimits++;
	}
	return 0;
}

/*
 * The hot wallet's key file is only checked here: it must exist, be a
 * regular file, and be readable by its owner alone. The key is read when a
 * payout is signed (flow/hotwallet.c), never kept in the configuration.
 */
static int parse_hot_wallet_key(const struct config_key *r, const char *key, const char *v, void *base,
                                struct config *cfg, char *err, size_t errlen)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	struct stat sb;

	(void)r, (void)base;
	if ((size_t)snprintf(cfg->hot_wallet_key_path, sizeof(cfg->hot_wallet_key_path), "%s%s%s",
	                     v[0] != '/' && dir ? dir : "", v[0] != '/' && dir ? "/" : "", v) >=
	    sizeof(cfg->hot_wallet_key_path))
		return fail(err, errlen, "setting %s: path too long", key);
	if (stat(cfg->hot_wallet_key_path, &sb) != 0)
		return fail(err, errlen, "setting %s: cannot read %s: %s", key, cfg->hot_wallet_key_path,
		            strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return fail(err, errlen, "setting %s: %s is not a regular file", key, cfg->hot_wallet_key_path);
	if ((sb.st_mode & 077) != 0)
		return fail(err, errlen, "setting %s: %s is readable or writable by group or others (mode %04o); chmod 0600 or 0400 it",
		            key, cfg->hot_wallet_key_path, (unsigned)(sb.st_mode & 07777));
	return 0;
}

/* SHKeeper's payout API takes HTTP Basic credentials: one line user:password. */
static int after_payout_auth(const struct config_key *r, const char *key, void *base, struct config *cfg,
                             char *err, size_t errlen)
{
	const char *auth = cfg->shkeeper_payout_auth, *colon;

	(void)r, (void)base;
	if (auth && ((colon = strchr(auth, ':')) == NULL || colon == auth || strchr(auth, '\n') != NULL))
		return fail(err, errlen, "setting %s: expected one line user:password", key);
	return 0;
}

/* BVNK signs webhooks with the merchant's secret key: the Hawk key unless another is named. */
static int after_bvnk_webhook_secret(const struct config_key *r, const char *key, void *base, struct config *cfg,
                                     char *err, size_t errlen)
{
	(void)r, (void)key, (void)base, (void)err, (void)errlen;
	if (cfg->bvnk_webhook_secret == NULL && cfg->bvnk_hawk_key) {
		cfg->bvnk_webhook_secret = xmalloc(cfg->bvnk_hawk_key_len + 1);
		memcpy(cfg->bvnk_webhook_secret, cfg->bvnk_hawk_key, cfg->bvnk_hawk_key_len + 1);
		cfg->bvnk_webhook_secret_len = cfg->bvnk_hawk_key_len;
	}
	return 0;
}

static int after_retry_max(const struct config_key *r, const char *key, void *base, struct config *cfg,
                           char *err, size_t errlen)
{
	(void)r, (void)base;
	if (cfg->subscribers.retry_max_seconds < cfg->subscribers.retry_base_seconds)
		return fail(err, errlen, "setting %s: below subscriber_retry_base_seconds", key);
	return 0;
}

/* Plain HTTP is for this host (or any host in dev mode): what goes over it is signed, not secret-proof. */
static bool url_allowed(const char *u, bool dev_mode)
{
	if (strncmp(u, "https://", 8) == 0 && u[8] != '\0')
		return true;
	if (strncmp(u, "http://", 7) != 0 || u[7] == '\0')
		return false;
	return dev_mode || http_to_this_host(u);
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

static int parse_stream_publisher(const struct config_key *r, const char *key, const char *v, void *base,
                                  struct config *cfg, char *err, size_t errlen)
{
	(void)r, (void)base;
	if (strcmp(v, "none") == 0)
		;
	else if (strncmp(v, "unix:/", 6) == 0) {
		if (strlen(v + 5) >= sizeof(cfg->stream.publisher_socket))
			return fail(err, errlen, "setting %s: socket path longer than 107 bytes", key);
		snprintf(cfg->stream.publisher_socket, sizeof(cfg->stream.publisher_socket), "%s", v + 5);
	} else if (url_allowed(v, false) && strncmp(v, "http://", 7) == 0 &&
	           strlen(v) < sizeof(cfg->stream.publisher_url)) {
		snprintf(cfg->stream.publisher_url, sizeof(cfg->stream.publisher_url), "%s", v);
		size_t len = strlen(cfg->stream.publisher_url);
		if (cfg->stream.publisher_url[len - 1] == '/')
			cfg->stream.publisher_url[len - 1] = '\0';
	} else {
		return fail(err, errlen, "setting %s: expected unix:/path, http:// on this host, or none", key);
	}
	return 0;
}

/* subscriber.<name>.url, .events and .secret_file, all three for each name used. */
static int apply_subscribers(const struct config_key *r, struct config_kv *kv, struct config *cfg, char *err,
                             size_t errlen)
{
	struct subscribers_conf *subs = &cfg->subscribers;
	const struct config_key *secret_row = row_documented("subscriber.<name>.secret_file");

	(void)r;
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
		if (read_secret(k, v, (size_t)secret_row->min, &sub->secret, &sub->secret_len, err, errlen))
			return -1;
next:;
	}
	return 0;
}

#define FIELD(f) .off = offsetof(struct config, f), .size = sizeof(((struct config *)0)->f)
#define NET_FIELD(f) .off = offsetof(struct network_conf, f), .size = sizeof(((struct network_conf *)0)->f)
#define SECRET_FIELD(f) FIELD(f), .len_off = offsetof(struct config, f##_len)
#define SECONDS_A_DAY 86400

/*
 * Every key, in the order applied: a row may use those before it (mode
 * before the URLs it loosens, networks before the per-network rows,
 * database_url before the default of jobs_lock_database_url).
 */
const struct config_key config_keys[] = {
	{ .name = "listen", .kind = CONFIG_CUSTOM, .parse = parse_listen, .dflt_fn = default_listen,
	  .dflt_doc = "systemd when a socket is passed, else unix:/run/fcgi-payments/fcgi.sock",
	  .meaning = "unix:/path, tcp:host:port or systemd" },
	{ .name = "socket_mode", .kind = CONFIG_OCTAL, FIELD(socket_mode), .dflt = "0660", .min = 0, .max = 0777,
	  .meaning = "mode of a unix socket the master creates" },
	{ .name = "workers", .kind = CONFIG_INT, FIELD(workers), .dflt_fn = default_workers,
	  .dflt_doc = "two per CPU", .min = 1, .max = 256, .meaning = "size of the pool" },
	{ .name = "max_requests", .kind = CONFIG_LONG, FIELD(max_requests), .dflt = "10000", .min = 0, .max = LONG_MAX,
	  .meaning = "requests after which a worker is recycled (0: never)" },
	{ .name = "max_body_bytes", .kind = CONFIG_SIZE, FIELD(max_body_bytes), .dflt = "1048576", .min = 1024,
	  .max = 64L << 20, .meaning = "larger bodies get 413" },
	{ .name = "drain_seconds", .kind = CONFIG_INT, FIELD(drain_seconds), .dflt = "30", .min = 1, .max = 3600,
	  .meaning = "how long SIGTERM waits for requests in flight" },
	{ .name = "database_url", .kind = CONFIG_STRING, FIELD(database_url), .required_with = "",
	  .meaning = "a libpq connection string or URI" },
	{ .name = "db_connect_timeout", .kind = CONFIG_INT, FIELD(db_connect_timeout), .dflt = "3", .min = 1, .max = 60,
	  .meaning = "seconds" },
	{ .name = "db_prepare", .kind = CONFIG_BOOL, FIELD(db_prepare), .dflt = "true",
	  .meaning = "prepare each statement once per connection; false behind a pooler that cannot keep them" },
	{ .name = "jwt_secret_file", .kind = CONFIG_SECRET, .flags = CONFIG_F_SECRET, SECRET_FIELD(jwt_secret),
	  .min = 32, .required_with = "", .meaning = "HS256 key, at least 32 bytes" },
	{ .name = "jwt_leeway_seconds", .kind = CONFIG_INT, FIELD(jwt_leeway_seconds), .dflt = "30", .min = 0,
	  .max = 300, .meaning = "clock leeway for exp, nbf, iat" },
	{ .name = "mode", .kind = CONFIG_ENUM, FIELD(dev_mode), .dflt = "production", .words = "production|dev",
	  .meaning = "dev enables the development helpers" },
	{ .name = "public_base_url", .kind = CONFIG_URL, .flags = CONFIG_F_BASE_URL, FIELD(public_base_url),
	  .required_with = "", .meaning = "e.g. https://pay.example.com; callback URLs are built from it" },
	{ .name = "stale_pending_minutes", .kind = CONFIG_INT, FIELD(stale_pending_minutes), .dflt = "60", .min = 1,
	  .max = 525600, .meaning = "default threshold of cleanup-pending, and the cleanup job's" },
	{ .name = "idempotency_key_hours", .kind = CONFIG_INT, FIELD(idempotency_key_hours), .dflt = "24", .min = 1,
	  .max = 720, .meaning = "how long an Idempotency-Key and its answer are kept" },
	{ .name = "idempotency_lease_seconds", .kind = CONFIG_INT, FIELD(idempotency_lease_seconds), .dflt = "60",
	  .min = 5, .max = 3600, .meaning = "how long a request holds its key before a retry may take it over" },
	{ .name = "escrow_address", .kind = CONFIG_ADDRESS, FIELD(escrow_address), .required_with = "",
	  .meaning = "a 0x-prefixed 20-byte address: the escrow wallet pay-ins go to" },
	{ .name = "redirect_success_url", .kind = CONFIG_STRING, FIELD(redirect_success_url), .dflt = "",
	  .meaning = "returned by /configuration" },
	{ .name = "redirect_cancel_url", .kind = CONFIG_STRING, FIELD(redirect_cancel_url), .dflt = "",
	  .meaning = "returned by /configuration" },
	{ .name = "log_level", .kind = CONFIG_ENUM, FIELD(log_level), .dflt = "info", .words = "debug|info|warn|error",
	  .meaning = "the least severe level logged" },
	{ .name = "log_format", .kind = CONFIG_ENUM, FIELD(log_format), .dflt = "text", .words = "text|json",
	  .meaning = "text lines, or one JSON object per line for journald and log shippers" },
	{ .name = "currencies", .kind = CONFIG_CUSTOM, .parse = parse_currencies,
	  .dflt = "USD:2,EUR:2,USDT:6,USDC:6,BNB:18,ETH:18", .meaning = "accepted currencies and their decimals" },
	{ .name = "networks", .kind = CONFIG_CUSTOM, .parse = parse_networks, .dflt = "bsc,ethereum",
	  .meaning = "accepted networks" },

	/* Per network: <name><network>, into its struct network_conf. */
	{ .name = "chain_id.", .doc = "chain_id.<network>", .kind = CONFIG_LLONG, .flags = CONFIG_F_NETWORK,
	  NET_FIELD(chain_id), .min = 1, .max = LONG_MAX, .required_with = "rpc.",
	  .meaning = "checked against eth_chainId at start-up" },
	/* At least one block on top: a transaction in the head block is never final. */
	{ .name = "confirmations.", .doc = "confirmations.<network>", .kind = CONFIG_INT, .flags = CONFIG_F_NETWORK,
	  NET_FIELD(confirmations), .dflt = "12", .dflt_bsc = "15", .min = 1, .max = 10000,
	  .meaning = "depth required when the node reports no finalized block" },
	{ .name = "fee_model.", .doc = "fee_model.<network>", .kind = CONFIG_ENUM, .flags = CONFIG_F_NETWORK,
	  NET_FIELD(eip1559), .dflt = "eip1559", .dflt_bsc = "legacy", .words = "legacy|eip1559",
	  .meaning = "how payout transactions pay for gas" },
	{ .name = "max_gas_price_gwei.", .doc = "max_gas_price_gwei.<network>", .kind = CONFIG_GWEI,
	  .flags = CONFIG_F_NETWORK, NET_FIELD(max_gas_price_wei), .dflt = "200", .dflt_bsc = "20", .min = 1,
	  .meaning = "cap of a payout's gas price or max fee per gas" },
	{ .name = "priority_fee_gwei.", .doc = "priority_fee_gwei.<network>", .kind = CONFIG_GWEI,
	  .flags = CONFIG_F_NETWORK, NET_FIELD(priority_fee_wei), .dflt = "0",
	  .dflt_doc = "the node's eth_maxPriorityFeePerGas", .min = 0, .after = after_priority_fee,
	  .meaning = "the tip an EIP-1559 payout offers (0: the node's suggestion)" },
	{ .name = "rpc.", .doc = "rpc.<network>", .kind = CONFIG_CUSTOM, .flags = CONFIG_F_NETWORK, .parse = parse_rpc,
	  .meaning = "JSON-RPC URLs, comma-separated, tried in order" },

	/* Per token: token.<network>.<SYMBOL>, into a struct token_conf. */
	{ .name = "token.", .doc = "token.<network>.<SYMBOL>", .kind = CONFIG_ADDRESS, .flags = CONFIG_F_FAMILY,
	  .off = offsetof(struct token_conf, contract), .size = sizeof(((struct token_conf *)0)->contract),
	  .apply = apply_tokens, .meaning = "a token's contract address" },
	{ .name = "token_decimals.", .doc = "token_decimals.<network>.<SYMBOL>", .kind = CONFIG_INT,
	  .flags = CONFIG_F_FAMILY, .off = offsetof(struct token_conf, decimals),
	  .size = sizeof(((struct token_conf *)0)->decimals), .dflt = "6", .dflt_bsc = "18", .min = 0, .max = 36,
	  .meaning = "checked against decimals() at start-up (applied with its token)" },

	/* Upstreams. */
	{ .name = "rpc_timeout_ms", .kind = CONFIG_INT, FIELD(rpc_timeout_ms), .dflt = "10000", .min = 100,
	  .max = 120000, .meaning = "one JSON-RPC call" },
	{ .name = "rpc_connect_timeout_ms", .kind = CONFIG_INT, FIELD(rpc_connect_timeout_ms), .dflt = "3000",
	  .min = 100, .max = 60000, .meaning = "connecting to a node" },
	{ .name = "shkeeper_timeout_ms", .kind = CONFIG_INT, FIELD(shkeeper_timeout_ms), .dflt = "10000", .min = 100,
	  .max = 120000, .meaning = "one SHKeeper call" },
	{ .name = "shkeeper_connect_timeout_ms", .kind = CONFIG_INT, FIELD(shkeeper_connect_timeout_ms),
	  .dflt = "3000", .min = 100, .max = 60000, .meaning = "connecting to SHKeeper" },
	{ .name = "breaker_failures", .kind = CONFIG_INT, FIELD(breaker_failures), .dflt = "5", .min = 1, .max = 1000,
	  .meaning = "failures in a row that open an upstream's circuit breaker" },
	{ .name = "breaker_cooldown_seconds", .kind = CONFIG_INT, FIELD(breaker_cooldown_seconds), .dflt = "30",
	  .min = 1, .max = 3600, .meaning = "how long an open breaker stays open" },
	{ .name = "shkeeper_url", .kind = CONFIG_URL, .flags = CONFIG_F_BASE_URL, FIELD(shkeeper_url),
	  .meaning = "SHKeeper's base URL, without /api/v1" },
	{ .name = "shkeeper_api_key_file", .kind = CONFIG_SECRET, .flags = CONFIG_F_SECRET,
	  SECRET_FIELD(shkeeper_api_key), .min = 1, .required_with = "shkeeper_url",
	  .meaning = "the API key; also the callback signing key" },
	{ .name = "shkeeper_webhook_secret_file", .kind = CONFIG_SECRET, .flags = CONFIG_F_SECRET,
	  SECRET_FIELD(shkeeper_webhook_secret), .min = 16,
	  .meaning = "accept the older HMAC-of-body callback signature too" },
	{ .name = "shkeeper_allow_api_key_header", .kind = CONFIG_BOOL, FIELD(shkeeper_allow_api_key_header),
	  .dflt = "false", .meaning = "accept the legacy X-Shkeeper-Api-Key callback header alone" },
	{ .name = "shkeeper_verify_on_chain", .kind = CONFIG_BOOL, FIELD(shkeeper_verify_on_chain), .dflt = "true",
	  .meaning = "check a PAID callback's transactions on the chain before funding the escrow" },
	/* SHKeeper keeps llimit as a Decimal. Below half the price a deposit is not
	 * "paid" in any sense a seller would accept: a lower value is a typo. */
	{ .name = "shkeeper_llimit", .kind = CONFIG_DECIMAL, FIELD(shkeeper_llimit), .dflt = "95", .min = 50,
	  .max = 100, .scale = 4, .meaning = "SHKeeper's PAID threshold, percent of the fiat price without its fee" },
	{ .name = "shkeeper_llimit.", .doc = "shkeeper_llimit.<CRYPTO>", .kind = CONFIG_DECIMAL,
	  .flags = CONFIG_F_FAMILY | CONFIG_F_OWN_ENV, .off = offsetof(struct shk_llimit_conf, llimit),
	  .size = sizeof(((struct shk_llimit_conf *)0)->llimit), .min = 50, .max = 100, .scale = 4,
	  .dflt_doc = "shkeeper_llimit", .apply = apply_llimits,
	  .meaning = "the same for one of SHKeeper's cryptos whose wallet has its own llimit" },
	{ .name = "internal_token_file", .kind = CONFIG_SECRET, .flags = CONFIG_F_SECRET,
	  SECRET_FIELD(internal_token), .min = 32, .meaning = "bearer token for internal callers of job endpoints" },
	{ .name = "hot_wallet_address", .kind = CONFIG_ADDRESS, FIELD(hot_wallet_address),
	  .needs = "hot_wallet_key_file", .meaning = "the address the hot wallet's key must have" },
	/* A fault point kills the process on purpose: never outside development. */
	{ .name = "dev_fault_file", .kind = CONFIG_STRING, .flags = CONFIG_F_DEV_ONLY, FIELD(dev_fault_file),
	  .meaning = "a file a test names a fault point in" },
	{ .name = "hot_wallet_key_file", .kind = CONFIG_CUSTOM, .parse = parse_hot_wallet_key,
	  .meaning = "the hot wallet's private key, readable by its owner alone" },

	/* Payouts a provider signs and sends. */
	{ .name = "shkeeper_payout_auth_file", .kind = CONFIG_SECRET, .flags = CONFIG_F_SECRET,
	  SECRET_FIELD(shkeeper_payout_auth), .min = 3, .needs = "shkeeper_url", .after = after_payout_auth,
	  .meaning = "SHKeeper's admin login as one line user:password, for its payout API" },
	/* SHKeeper's payout API refuses a request without `fee`: it is said, never guessed. */
	{ .name = "shkeeper_payout_fee", .kind = CONFIG_DECIMAL, .flags = CONFIG_F_ONLY_WITH,
	  FIELD(shkeeper_payout_fee), .min = 0, .max = LONG_MAX, .scale = MONEY_MAX_SCALE,
	  .required_with = "shkeeper_payout_auth_file", .meaning = "the fee SHKeeper's payout API requires" },
	{ .name = "bvnk_timeout_ms", .kind = CONFIG_INT, FIELD(bvnk_timeout_ms), .dflt = "10000", .min = 100,
	  .max = 120000, .meaning = "one BVNK call" },
	{ .name = "bvnk_connect_timeout_ms", .kind = CONFIG_INT, FIELD(bvnk_connect_timeout_ms), .dflt = "3000",
	  .min = 100, .max = 60000, .meaning = "connecting to BVNK" },
	{ .name = "bvnk_url", .kind = CONFIG_URL, .flags = CONFIG_F_BASE_URL, FIELD(bvnk_url),
	  .meaning = "BVNK's API base" },
	{ .name = "bvnk_hawk_id", .kind = CONFIG_STRING, .flags = CONFIG_F_ONLY_WITH, FIELD(bvnk_hawk_id),
	  .required_with = "bvnk_url", .meaning = "the Hawk key id" },
	{ .name = "bvnk_hawk_key_file", .kind = CONFIG_SECRET, .flags = CONFIG_F_SECRET | CONFIG_F_ONLY_WITH,
	  SECRET_FIELD(bvnk_hawk_key), .min = 16, .required_with = "bvnk_url", .meaning = "the Hawk key" },
	{ .name = "bvnk_merchant_id", .kind = CONFIG_ID, .flags = CONFIG_F_ONLY_WITH, FIELD(bvnk_merchant_id),
	  .required_with = "bvnk_url", .meaning = "the merchant payouts are made from: letters, digits, _ and -" },
	{ .name = "bvnk_webhook_secret_file", .kind = CONFIG_SECRET, .flags = CONFIG_F_SECRET,
	  SECRET_FIELD(bvnk_webhook_secret), .min = 16, .dflt_doc = "the Hawk key",
	  .after = after_bvnk_webhook_secret, .meaning = "the secret BVNK signs webhooks with" },
	{ .name = "bvnk_webhook_url", .kind = CONFIG_URL, FIELD(bvnk_webhook_url), .dflt_fn = default_bvnk_webhook_url,
	  .dflt_doc = "public_base_url + /api/payment/bvnk/webhook",
	  .meaning = "the complete webhook URL configured in BVNK: what its signature covers" },
	{ .name = "bvnk_webhook_signing", .kind = CONFIG_ENUM, FIELD(bvnk_webhook_signing), .dflt = "url",
	  .words = "url|path|body", .meaning = "what BVNK's webhook signature covers besides the body" },
	{ .name = "shkeeper_payout_wallet.", .doc = "shkeeper_payout_wallet.<network>", .kind = CONFIG_ADDRESS,
	  .flags = CONFIG_F_NETWORK | CONFIG_F_LISTED, NET_FIELD(shkeeper_payout_wallet),
	  .meaning = "the wallet SHKeeper pays payouts from on that network" },
	{ .name = "bvnk_payout_wallet.", .doc = "bvnk_payout_wallet.<network>", .kind = CONFIG_ADDRESS,
	  .flags = CONFIG_F_NETWORK | CONFIG_F_LISTED, NET_FIELD(bvnk_payout_wallet),
	  .meaning = "the wallet BVNK pays payouts from on that network" },
	{ .name = "bvnk_protocol.", .doc = "bvnk_protocol.<network>", .kind = CONFIG_ID,
	  .flags = CONFIG_F_NETWORK | CONFIG_F_LISTED, NET_FIELD(bvnk_protocol),
	  .meaning = "the protocol BVNK's currency list gives the network, such as BSC" },

	/* The jobs process; the request path reads none of it. */
	{ .name = "jobs_watch_seconds", .kind = CONFIG_INT, FIELD(jobs.watch_seconds), .dflt = "15", .min = 0,
	  .max = SECONDS_A_DAY, .meaning = "reading new final blocks for transfers to the escrow (0: off)" },
	{ .name = "watch_window_blocks", .kind = CONFIG_INT, FIELD(jobs.watch_window_blocks), .dflt = "2000", .min = 1,
	  .max = 100000, .meaning = "blocks per eth_getLogs at most" },
	{ .name = "jobs_reverify_seconds", .kind = CONFIG_INT, FIELD(jobs.reverify_seconds), .dflt = "60", .min = 0,
	  .max = SECONDS_A_DAY, .meaning = "re-checking unfinished wallet-direct pay-ins (0: off)" },
	{ .name = "jobs_backfill_seconds", .kind = CONFIG_INT, FIELD(jobs.backfill_seconds), .dflt = "600", .min = 0,
	  .max = SECONDS_A_DAY, .meaning = "finding missing hashes of completed pay-ins (0: off)" },
	{ .name = "jobs_retention_seconds", .kind = CONFIG_INT, FIELD(jobs.retention_seconds), .dflt = "3600",
	  .min = 0, .max = SECONDS_A_DAY, .meaning = "pruning old inbox rows and events (0: off)" },
	{ .name = "jobs_relay_seconds", .kind = CONFIG_INT, FIELD(jobs.relay_seconds), .dflt = "5", .min = 0,
	  .max = 3600, .meaning = "the relay's poll when no notification wakes it (0: off)" },
	{ .name = "jobs_deliver_seconds", .kind = CONFIG_INT, FIELD(jobs.deliver_seconds), .dflt = "1", .min = 0,
	  .max = 3600, .meaning = "how often each subscriber's queue is looked at (0: no webhooks)" },
	{ .name = "jobs_batch", .kind = CONFIG_INT, FIELD(jobs.batch), .dflt = "50", .min = 1, .max = 1000,
	  .meaning = "items a job takes per run" },
	{ .name = "retention_inbox_days", .kind = CONFIG_INT, FIELD(jobs.retention_inbox_days), .dflt = "30",
	  .min = 1, .max = 3650, .meaning = "age after which an inbox row that changed nothing is pruned" },
	{ .name = "retention_events_days", .kind = CONFIG_INT, FIELD(jobs.retention_events_days), .dflt = "30",
	  .min = 1, .max = 3650, .meaning = "age after which announced outbox events are pruned" },
	{ .name = "jobs_cleanup_seconds", .kind = CONFIG_INT, FIELD(jobs.cleanup_seconds), .dflt = "300", .min = 0,
	  .max = SECONDS_A_DAY, .meaning = "cancelling stale pending pay-ins (0: off)" },
	{ .name = "jobs_shkeeper_poll_seconds", .kind = CONFIG_INT, FIELD(jobs.shkeeper_poll_seconds), .dflt = "120",
	  .min = 0, .max = SECONDS_A_DAY, .meaning = "asking SHKeeper about open invoices (0: off)" },
	{ .name = "shkeeper_poll_after_minutes", .kind = CONFIG_INT, FIELD(jobs.shkeeper_poll_after_minutes),
	  .dflt = "10", .min = 0, .max = 10080, .meaning = "age at which a SHKeeper pay-in is polled" },
	{ .name = "jobs_reconcile_seconds", .kind = CONFIG_INT, FIELD(jobs.reconcile_seconds), .dflt = "300",
	  .min = 0, .max = SECONDS_A_DAY, .meaning = "settling stuck outgoing payments from the chain (0: off)" },
	{ .name = "reconcile_after_minutes", .kind = CONFIG_INT, FIELD(jobs.reconcile_after_minutes), .dflt = "30",
	  .min = 0, .max = 10080, .meaning = "how long an outgoing payment waits before it is reconciled" },
	{ .name = "jobs_auto_release_seconds", .kind = CONFIG_INT, FIELD(jobs.auto_release_seconds), .dflt = "0",
	  .min = 0, .max = SECONDS_A_DAY, .meaning = "releasing delivered requests after their grace (0: off)" },
	{ .name = "auto_release_grace_hours", .kind = CONFIG_INT, FIELD(jobs.auto_release_grace_hours), .dflt = "72",
	  .min = 1, .max = 8760, .meaning = "how long a request stays delivered before its release" },
	/* The rails a payout can be opened on without a person: an admin still signs one, the hot wallet pays itself. */
	{ .name = "auto_release_rail", .kind = CONFIG_WORD, FIELD(jobs.auto_release_rail), .dflt = "admin_wallet",
	  .words = "admin_wallet|hot_wallet", .meaning = "the rail an automatic release is opened on" },
	{ .name = "jobs_lock_database_url", .kind = CONFIG_STRING, FIELD(jobs.lock_database_url),
	  .dflt_fn = default_lock_database_url, .dflt_doc = "database_url",
	  .meaning = "where the leader locks live: PostgreSQL itself, never a transaction-mode pooler" },

	/* Live streams and subscribers. */
	{ .name = "stream_buffer_messages", .kind = CONFIG_INT, FIELD(stream.buffer_messages), .dflt = "200", .min = 1,
	  .max = 100000, .meaning = "the site's nchan_message_buffer_length" },
	{ .name = "stream_buffer_seconds", .kind = CONFIG_INT, FIELD(stream.buffer_seconds), .dflt = "3600", .min = 60,
	  .max = 7 * SECONDS_A_DAY, .meaning = "the site's nchan_message_timeout" },
	{ .name = "subscriber_timeout_ms", .kind = CONFIG_INT, FIELD(subscribers.timeout_ms), .dflt = "10000",
	  .min = 100, .max = 120000, .meaning = "one delivery attempt" },
	{ .name = "subscriber_connect_timeout_ms", .kind = CONFIG_INT, FIELD(subscribers.connect_timeout_ms),
	  .dflt = "3000", .min = 100, .max = 60000, .meaning = "connecting to a subscriber" },
	{ .name = "subscriber_retry_base_seconds", .kind = CONFIG_INT, FIELD(subscribers.retry_base_seconds),
	  .dflt = "10", .min = 1, .max = 3600, .meaning = "the wait after a first failed attempt" },
	{ .name = "subscriber_retry_max_seconds", .kind = CONFIG_INT, FIELD(subscribers.retry_max_seconds),
	  .dflt = "3600", .min = 1, .max = SECONDS_A_DAY, .after = after_retry_max,
	  .meaning = "the longest wait between attempts" },
	{ .name = "subscriber_give_up_seconds", .kind = CONFIG_INT, FIELD(subscribers.give_up_seconds),
	  .dflt = "86400", .min = 1, .max = 30 * SECONDS_A_DAY, .meaning = "after this a delivery is marked failed" },
	{ .name = "stream_publisher", .kind = CONFIG_CUSTOM, .parse = parse_stream_publisher,
	  .dflt = "unix:/run/fcgi-payments/stream.sock", .meaning = "where the relay publishes live events" },
	{ .name = "subscriber.", .doc = "subscriber.<name>.url", .kind = CONFIG_CUSTOM,
	  .flags = CONFIG_F_FAMILY | CONFIG_F_OWN_ENV, .apply = apply_subscribers,
	  .meaning = "a subscriber's webhook URL (with .events and .secret_file)" },
	{ .name = "subscriber.", .doc = "subscriber.<name>.events", .kind = CONFIG_CUSTOM,
	  .flags = CONFIG_F_FAMILY | CONFIG_F_OWN_ENV, .dflt_doc = "required with the URL",
	  .meaning = "* or the event names it takes (applied with its URL)" },
	{ .name = "subscriber.", .doc = "subscriber.<name>.secret_file", .kind = CONFIG_SECRET,
	  .flags = CONFIG_F_FAMILY | CONFIG_F_OWN_ENV | CONFIG_F_SECRET, .min = 32,
	  .dflt_doc = "required with the URL", .meaning = "the key its webhooks are signed with (applied with its URL)" },
};
const size_t config_n_keys = sizeof(config_keys) / sizeof(config_keys[0]);

static const char *default_text(const struct config_key *r, const struct config *cfg, const char *network,
                                char *buf, size_t len)
{
	if (r->dflt_fn)
		return r->dflt_fn(cfg, buf, len);
	if (r->dflt_bsc && network && strcmp(network, "bsc") == 0)
		return r->dflt_bsc;
	return r->dflt;
}

/*
 * One key of a row: its value, else its default; a required key missing,
 * or one set without the key it needs, is refused by name. `network` is the
 * network of a per-network or per-token key (its default, and the sibling
 * it is required with); base is where the row's field lives.
 */
static int apply_row(struct config_kv *kv, const struct config_key *r, const char *key, const char *network,
                     void *base, struct config *cfg, char *err, size_t errlen)
{
	char with[64] = "", dflt[1100];
	const char *v, *d;

	if (r->required_with && *r->required_with)
		snprintf(with, sizeof(with), "%s%s", r->required_with, network && (r->flags & CONFIG_F_NETWORK) ? network : "");
	if (*with && (r->flags & CONFIG_F_ONLY_WITH) && get(kv, with, NULL) == NULL)
		return 0;
	if ((v = get(kv, key, NULL)) != NULL) {
		if ((r->flags & CONFIG_F_DEV_ONLY) && !cfg->dev_mode)
			return fail(err, errlen, "setting %s is only allowed with mode = dev", key);
		if (apply_value(r, key, v, base, cfg, true, err, errlen) ||
		    (r->after && r->after(r, key, base, cfg, err, errlen)))
			return -1;
		if (r->needs && get(kv, r->needs, NULL) == NULL)
			return fail(err, errlen, "setting %s needs %s", key, r->needs);
		return 0;
	} else if (r->required_with && (*with == '\0' || get(kv, with, NULL) != NULL)) {
		return fail(err, errlen, "setting %s is required%s%s (%s)", key, *with ? " with " : "", with, r->meaning);
	} else if ((d = default_text(r, cfg, network, dflt, sizeof(dflt))) != NULL &&
	           apply_value(r, key, d, base, cfg, false, err, errlen)) {
		return -1;
	}
	return r->after ? r->after(r, key, base, cfg, err, errlen) : 0;
}

/*
 * A per-network row: for each network in `networks`, its <name><network> or
 * the default; a LISTED row only where written, naming a network in
 * `networks` (an empty value is then malformed, not absent).
 */
static int apply_network_row(struct config_kv *kv, const struct config_key *r, struct config *cfg, char *err,
                             size_t errlen)
{
	size_t plen = strlen(r->name);
	char key[64];

	if (!(r->flags & CONFIG_F_LISTED)) {
		for (size_t j = 0; j < cfg->n_networks; j++) {
			snprintf(key, sizeof(key), "%s%s", r->name, cfg->networks[j].name);
			if (apply_row(kv, r, key, cfg->networks[j].name, &cfg->networks[j], cfg, err, errlen))
				return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < kv->n; i++) {
		const char *k = kv->e[i].key;
		struct network_conf *net;

		if (strncmp(k, r->name, plen) != 0)
			continue;
		if ((net = network_named(cfg, k + plen)) == NULL)
			return fail(err, errlen, "setting %s: network %s is not in `networks`", k, k + plen);
		if (apply_value(r, k, kv->e[i].value, net, cfg, true, err, errlen))
			return -1;
	}
	return 0;
}

static int apply_rows(struct config_kv *kv, struct config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < config_n_keys; i++) {
		const struct config_key *r = &config_keys[i];
		int rc;

		if (r->flags & CONFIG_F_FAMILY)
			rc = r->apply ? r->apply(r, kv, cfg, err, errlen) : 0;
		else if (r->flags & CONFIG_F_NETWORK)
			rc = apply_network_row(kv, r, cfg, err, errlen);
		else
			rc = apply_row(kv, r, r->name, NULL, cfg, cfg, err, errlen);
		if (rc != 0)
			return -1;
	}
	return 0;
}

int config_load(const char *path, struct config *out, char *err, size_t errlen)
{
	struct config_kv *kv = xcalloc(1, sizeof(*kv));
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (path != NULL && read_file_lines(path, kv, err, errlen) != 0)
		goto out;
	if (apply_env(kv, err, errlen) != 0 || apply_rows(kv, out, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		config_free(out);
	OPENSSL_cleanse(kv, sizeof(*kv));
	free(kv);
	return rc;
}

/* Every secret a row read, and each subscriber's. */
void config_free(struct config *cfg)
{
	for (size_t i = 0; i < config_n_keys; i++) {
		const struct config_key *r = &config_keys[i];

		if (r->kind == CONFIG_SECRET && !is_prefix_row(r))
			wipe((char **)((char *)cfg + r->off), (size_t *)((char *)cfg + r->len_off));
	}
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
