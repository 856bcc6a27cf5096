/*
 * The rows of config_keys[] against README.md's Configuration table (run
 * from the repository's root, as make test does): every row is documented
 * with its default, every documented key is a row, a secret comes from a
 * *_file key. And every row's own default is within its bounds and loads
 * as if it were not written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/config.h"
#include "config_fixture.h"

#define MAX_DOCUMENTED 160

struct documented {
	char key[96];
	char dflt[512];      /* the default cell for this key, backticks removed */
};

static struct documented docs[MAX_DOCUMENTED];
static size_t n_docs;


static const char *key_of(const struct config_key *r)
{
	return r->doc ? r->doc : r->name;
}

static void strip_backticks(const char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < outlen; i++)
		if (in[i] != '`')
			out[o++] = in[i];
	out[o] = '\0';
	while (o > 0 && out[o - 1] == ' ')
		out[--o] = '\0';
}

/*
 * A line `| `a`, `b` | `1`, `2` | … |` documents a and b, defaults 1 and 2;
 * a default cell that is not one part per key applies to each.
 */
static void read_line(char *line)
{
	char *cell1 = strchr(line, '|'), *cell2 = NULL, *end = NULL;
	const char *keys[8];
	size_t n = 0;

	if (cell1 == NULL || (cell2 = strchr(cell1 + 1, '|')) == NULL || (end = strchr(cell2 + 1, '|')) == NULL)
		fail_msg("README: not a table line: %s", line);
	*cell2 = *end = '\0';
	for (char *s = cell1 + 1; (s = strchr(s, '`')) != NULL && n < 8;) {
		char *close = strchr(s + 1, '`');

		assert_non_null(close);
		*close = '\0';
		keys[n++] = s + 1;
		s = close + 1;
	}
	const char *cell = cell2 + 1;
	while (*cell == ' ')
		cell++;
	const char *parts[8];
	size_t np = 0;
	for (const char *p = cell; p && np < 8; np++) {
		parts[np] = p;
		p = strstr(p, ", ");
		if (p)
			p += 2;
	}
	for (size_t i = 0; i < n; i++) {
		struct documented *d = &docs[n_docs++];

		assert_true(n_docs <= MAX_DOCUMENTED);
		snprintf(d->key, sizeof(d->key), "%s", keys[i]);
		if (n > 1 && np == n) {
			const char *p = parts[i], *e = i + 1 < n ? parts[i + 1] - 2 : p + strlen(p);
			strip_backticks(p, (size_t)(e - p), d->dflt, sizeof(d->dflt));
		} else {
			strip_backticks(cell, strlen(cell), d->dflt, sizeof(d->dflt));
		}
	}
}

static void read_readme(void)
{
	char line[4096];
	bool in_section = false, in_table = false;
	FILE *f = fopen("README.md", "r");

	if (f == NULL)
		fail_msg("README.md: not found; run from the repository's root");
	n_docs = 0;
	/* The section's table of keys: the one headed "| key | default | meaning |", not the others it holds. */
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "## ", 3) == 0)
			in_section = strcmp(line, "## Configuration\n") == 0;
		else if (strncmp(line, "| ", 2) != 0)
			in_table = false;
		else if (in_section && strcmp(line, "| key | default | meaning |\n") == 0)
			in_table = true;
		else if (in_table && strncmp(line, "| `", 3) == 0)
			read_line(line);
	}
	fclose(f);
	assert_true(n_docs > 50);
}

static const struct documented *documented(const char *key)
{
	for (size_t i = 0; i < n_docs; i++)
		if (strcmp(docs[i].key, key) == 0)
			return &docs[i];
	return NULL;
}

/* What README must say of a row's default. */
static void expected_default(const struct config_key *r, char *out, size_t len)
{
	if (r->dflt_doc)
		snprintf(out, len, "%s", r->dflt_doc);
	else if (r->required_with && r->required_with[0] == '\0')
		snprintf(out, len, "required");
	else if (r->required_with)
		snprintf(out, len, "required with %s%s", r->required_with, r->flags & CONFIG_F_NETWORK ? "<network>" : "");
	else if (r->dflt_bsc)
		snprintf(out, len, "%s on bsc, %s on ethereum", r->dflt_bsc, r->dflt);
	else if (r->dflt)
		snprintf(out, len, "%s", r->dflt[0] ? r->dflt : "empty");
	else
		snprintf(out, len, "none");
}

static void test_readme_documents_every_row(void **state)
{
	(void)state;
	char want[512];

	read_readme();
	for (size_t i = 0; i < config_n_keys; i++) {
		const struct config_key *r = &config_keys[i];
		const struct documented *d = documented(key_of(r));
		size_t n;

		if (d == NULL)
			fail_msg("%s: no line in README's Configuration table", key_of(r));
		expected_default(r, want, sizeof(want));
		n = strlen(want);
		/* The default, then at most a remark in parentheses. */
		if (strncmp(d->dflt, want, n) != 0 || (d->dflt[n] != '\0' && strncmp(d->dflt + n, " (", 2) != 0))
			fail_msg("%s: README's default is \"%s\", the row's \"%s\"", key_of(r), d->dflt, want);
	}
}

static void test_every_documented_key_is_a_row(void **state)
{
	(void)state;

	read_readme();
	for (size_t i = 0; i < n_docs; i++) {
		bool found = false;

		for (size_t j = 0; j < config_n_keys && !found; j++)
			found = strcmp(key_of(&config_keys[j]), docs[i].key) == 0;
		if (!found)
			fail_msg("README documents %s, which no row of config_keys[] knows", docs[i].key);
		for (size_t j = 0; j < i; j++)
			if (strcmp(docs[i].key, docs[j].key) == 0)
				fail_msg("README documents %s twice", docs[i].key);
	}
}

/* A secret is read from a file a *_file key names, never written in the configuration itself. */
static void test_secrets_come_from_files(void **state)
{
	(void)state;

	for (size_t i = 0; i < config_n_keys; i++) {
		const struct config_key *r = &config_keys[i];
		const char *k = key_of(r);
		size_t n = strlen(k);

		if ((r->kind == CONFIG_SECRET) != ((r->flags & CONFIG_F_SECRET) != 0))
			fail_msg("%s: a secret's kind and its flag go together", k);
		if ((r->flags & CONFIG_F_SECRET) && (n < 5 || strcmp(k + n - 5, "_file") != 0))
			fail_msg("%s: a secret row is a *_file key", k);
		if ((r->flags & CONFIG_F_SECRET) && !(r->flags & CONFIG_F_FAMILY) && r->len_off == 0)
			fail_msg("%s: a secret row has a length field", k);
	}
}

static bool is_number(enum config_kind k)
{
	return k == CONFIG_INT || k == CONFIG_LONG || k == CONFIG_LLONG || k == CONFIG_SIZE || k == CONFIG_OCTAL;
}

static void check_bounds(const struct config_key *r, const char *v)
{
	char *end;
	long n = strtol(v, &end, r->kind == CONFIG_OCTAL ? 8 : 10);

	if (*end || end == v || n < r->min || n > r->max)
		fail_msg("%s: default \"%s\" is not within %ld … %ld", key_of(r), v, r->min, r->max);
}

static bool has_word(const char *words, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = words; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
		if (strncmp(p, w, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return true;
	return false;
}

/* The field a row writes fits its kind: offsetof and sizeof are the row's, the kind says how it is written. */
static void test_fields_fit_their_kinds(void **state)
{
	(void)state;

	for (size_t i = 0; i < config_n_keys; i++) {
		const struct config_key *r = &config_keys[i];
		size_t want = 0;

		switch (r->kind) {
		case CONFIG_INT: want = sizeof(int); break;
		case CONFIG_LONG: want = sizeof(long); break;
		case CONFIG_LLONG: want = sizeof(long long); break;
		case CONFIG_SIZE: want = sizeof(size_t); break;
		case CONFIG_OCTAL: want = sizeof(unsigned); break;
		case CONFIG_BOOL: want = sizeof(bool); break;
		case CONFIG_GWEI: want = sizeof(unsigned long long); break;
		case CONFIG_ENUM: want = r->size == sizeof(bool) ? sizeof(bool) : sizeof(int); break;
		case CONFIG_SECRET: want = r->flags & CONFIG_F_FAMILY ? 0 : sizeof(char *); break;
		case CONFIG_CUSTOM: want = 0; break;
		default: want = r->size > 1 ? r->size : 2; break;  /* a buffer */
		}
		if (r->size != want)
			fail_msg("%s: field of %zu bytes for its kind, expected %zu", key_of(r), r->size, want);
		if ((r->kind == CONFIG_ENUM || r->kind == CONFIG_WORD) && r->words == NULL)
			fail_msg("%s: a word list is needed", key_of(r));
		if (r->kind == CONFIG_CUSTOM && r->parse == NULL && r->apply == NULL && !(r->flags & CONFIG_F_FAMILY))
			fail_msg("%s: a custom row needs its parser", key_of(r));
	}
}

/* Each literal and computed default is within its row's own bounds or words. */
static void test_defaults_within_bounds(void **state)
{
	(void)state;
	struct config cfg;
	char err[256], buf[1100];

	write_file(conf, base_conf());
	assert_int_equal(config_load(conf, &cfg, err, sizeof(err)), 0);
	for (size_t i = 0; i < config_n_keys; i++) {
		const struct config_key *r = &config_keys[i];
		const char *d[3] = { r->dflt, r->dflt_bsc, r->dflt_fn ? r->dflt_fn(&cfg, buf, sizeof(buf)) : NULL };

		for (size_t j = 0; j < 3; j++) {
			if (d[j] == NULL)
				continue;
			if (is_number(r->kind))
				check_bounds(r, d[j]);
			if ((r->kind == CONFIG_ENUM || r->kind == CONFIG_WORD) && !has_word(r->words, d[j]))
				fail_msg("%s: default \"%s\" is not one of %s", key_of(r), d[j], r->words);
			if (r->kind == CONFIG_STRING && strlen(d[j]) >= r->size)
				fail_msg("%s: default longer than its field", key_of(r));
		}
		if (r->required_with && r->required_with[0] == '\0' && (r->dflt || r->dflt_fn))
			fail_msg("%s: a key always required has no default", key_of(r));
	}
	config_free(&cfg);
}

/* The configuration loaded with nothing but the required keys, secrets wiped. */
static void load_cleared(const char *text, struct config *cfg)
{
	char err[256];

	write_file(conf, text);
	memset(cfg, 0, sizeof(*cfg));
	if (config_load(conf, cfg, err, sizeof(err)) != 0)
		fail_msg("%s\n---\n%s", err, text);
	config_free(cfg);
}

/* A default written out loads as it does when left out, for every row that has one. */
static void test_defaults_written_out_load_the_same(void **state)
{
	(void)state;
	static struct config plain, written;
	char text[2048], buf[1100];

	load_cleared(base_conf(), &plain);
	for (size_t i = 0; i < config_n_keys; i++) {
		const struct config_key *r = &config_keys[i];
		const char *d = r->dflt_fn ? r->dflt_fn(&plain, buf, sizeof(buf)) : r->dflt;

		if (d == NULL || (r->flags & CONFIG_F_FAMILY))
			continue;
		if (r->flags & CONFIG_F_NETWORK)
			snprintf(text, sizeof(text), "%s%sbsc = %s\n%sethereum = %s\n", base_conf(), r->name,
			         r->dflt_bsc ? r->dflt_bsc : d, r->name, d);
		else
			snprintf(text, sizeof(text), "%s%s = %s\n", base_conf(), r->name, d);
		load_cleared(text, &written);
		if (memcmp(&plain, &written, sizeof(plain)) != 0)
			fail_msg("%s = %s does not load as the default does", key_of(r), d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readme_documents_every_row),
		cmocka_unit_test(test_every_documented_key_is_a_row),
		cmocka_unit_test(test_secrets_come_from_files),
		cmocka_unit_test(test_fields_fit_their_kinds),
		cmocka_unit_test(test_defaults_within_bounds),
		cmocka_unit_test(test_defaults_written_out_load_the_same),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
