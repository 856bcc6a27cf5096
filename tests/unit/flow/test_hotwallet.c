/* The hot wallet's key: read from its file, owner-only, checked against the
 * configured address, and a dev fault point that fires once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/config.h"
#include "base/devfault.h"
#include "flow/hotwallet.h"

/* anvil's first account */
#define KEY "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
#define ADDRESS "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

static char dir[] = "/tmp/payments-hotwallet-XXXXXX";
static char keyfile[128];

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(keyfile, sizeof(keyfile), "%s/key", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(keyfile);
	rmdir(dir);
	return 0;
}

static void test_address_from_the_key(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(hotwallet_startup(&cfg, err, sizeof(err)), 0);   /* none configured */
	assert_null(hotwallet_address(&cfg));
	snprintf(cfg.hot_wallet_key_path, sizeof(cfg.hot_wallet_key_path), "%s", keyfile);
	write_file(keyfile, "  " KEY "\n", 0600);
	assert_int_equal(hotwallet_startup(&cfg, err, sizeof(err)), 0);
	assert_string_equal(hotwallet_address(&cfg), ADDRESS);
	/* The configured address must be the key's. */
	snprintf(cfg.hot_wallet_address, sizeof(cfg.hot_wallet_address), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
	assert_int_equal(hotwallet_startup(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "hot_wallet_address"));
	snprintf(cfg.hot_wallet_address, sizeof(cfg.hot_wallet_address), "%s", ADDRESS);
	assert_int_equal(hotwallet_startup(&cfg, err, sizeof(err)), 0);
}

static void test_key_file_refusals(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.hot_wallet_key_path, sizeof(cfg.hot_wallet_key_path), "%s", keyfile);
	/* Made readable by others after start-up: every read checks again. */
	write_file(keyfile, KEY "\n", 0604);
	assert_int_equal(hotwallet_startup(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "readable by its owner only"));
	assert_null(strstr(err, "ac0974"));   /* never the key in a message */
	write_file(keyfile, "not a key\n", 0600);
	assert_int_equal(hotwallet_startup(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not hold a private key"));
	write_file(keyfile, "0x0000000000000000000000000000000000000000000000000000000000000000\n", 0600);
	assert_int_equal(hotwallet_startup(&cfg, err, sizeof(err)), -1);
	write_file(keyfile, KEY KEY "\n", 0600);
	assert_int_equal(hotwallet_startup(&cfg, err, sizeof(err)), -1);
	unlink(keyfile);
	assert_int_equal(hotwallet_startup(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot read"));
}

/* The fault point kills its process once, in dev mode, at the named point only. */
static void test_dev_fault_fires_once(void **state)
{
	struct config cfg;
	char fault[160];
	int status;
	pid_t pid;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(fault, sizeof(fault), "%s/fault", dir);
	snprintf(cfg.dev_fault_file, sizeof(cfg.dev_fault_file), "%s", fault);
	write_file(fault, "hot_wallet_after_commit\n", 0600);
	devfault_trip(&cfg, "hot_wallet_after_commit");     /* not dev mode: nothing */
	cfg.dev_mode = true;
	devfault_trip(&cfg, "another_point");               /* another point: nothing */
	assert_int_equal(access(fault, F_OK), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		devfault_trip(&cfg, "hot_wallet_after_commit");
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_not_equal(access(fault, F_OK), 0);       /* consumed: fires once */
	devfault_trip(&cfg, "hot_wallet_after_commit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_from_the_key),
		cmocka_unit_test(test_key_file_refusals),
		cmocka_unit_test(test_dev_fault_fires_once),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
