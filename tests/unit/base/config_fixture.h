/* config_fixture: what the configuration tests share: a scratch directory with
 * a JWT secret in it, a configuration file path, and the smallest
 * configuration that loads. Include after <cmocka.h>. */
#ifndef TEST_CONFIG_FIXTURE_H
#define TEST_CONFIG_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/payments-config-XXXXXX";
static char conf[128], secret[128];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Every required key, with the secret of the fixture's directory. */
static const char *base_conf(void)
{
	static char text[1024];

	snprintf(text, sizeof(text),
	         "# comment\n"
	         "database_url = dbname=payments\n"
	         "jwt_secret_file = %s\n"
	         "public_base_url = https://pay.example.com/\n"
	         "escrow_address = 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\n"
	         "token.bsc.USDT = 0x55d398326f99059fF775485246999027B3197955\n",
	         secret);
	return text;
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/payments.conf", dir);
	snprintf(secret, sizeof(secret), "%s/jwt_secret", dir);
	write_file(secret, "0123456789abcdef0123456789abcdef\n");
	/* The listen default depends on it: a test sets it where it means to. */
	unsetenv("LISTEN_FDS");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(conf);
	unlink(secret);
	rmdir(dir);
	return 0;
}

#endif
