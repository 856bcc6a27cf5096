/*
 * fcgi-payments: the escrow payments service.
 *
 *   fcgi-payments [-c FILE] serve      run the prefork FastCGI pool
 *   fcgi-payments [-c FILE] migrate    apply the schema migrations
 *   fcgi-payments [-c FILE] check      validate the configuration
 *   fcgi-payments [-c FILE] token --sub ID --role buyer|seller|admin [--ttl SECONDS]
 *                                      print a signed token (development and operations)
 *
 * FILE defaults to $PAYMENTS_CONFIG, then /etc/fcgi-payments/payments.conf.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/breaker.h"
#include "base/config.h"
#include "base/db.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/migrate.h"
#include "base/xalloc.h"
#include "evm/chain.h"
#include "flow/shk_onchain.h"
#include "flow/hotwallet.h"
#include "http/jwt.h"
#include "jobs/jobs.h"
#include "listen.h"
#include "master.h"

static int usage(void)
{
	fprintf(stderr,
	        "usage: fcgi-payments [-c FILE] serve | jobs | migrate | check\n"
	        "       fcgi-payments [-c FILE] token --sub ID --role buyer|seller|admin [--ttl SECONDS]\n");
	return 2;
}

static int cmd_token(const struct config *cfg, int argc, char **argv)
{
	const char *sub = NULL, *role = NULL;
	long ttl = 3600;
	char *token;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--sub") == 0)
			sub = argv[i + 1];
		else if (strcmp(argv[i], "--role") == 0)
			role = argv[i + 1];
		else if (strcmp(argv[i], "--ttl") == 0)
			ttl = strtol(argv[i + 1], NULL, 10);
		else
			return usage();
	}
	if (argc % 2 != 0 || sub == NULL || role == NULL || ttl <= 0)
		return usage();
	token = jwt_sign(cfg->jwt_secret, cfg->jwt_secret_len, sub, role_parse(role), time(NULL) + ttl);
	if (token == NULL) {
		fprintf(stderr, "fcgi-payments: --sub must be an id ([A-Za-z0-9_-]{1,64}) and --role one of buyer, seller, admin\n");
		return 2;
	}
	printf("%s\n", token);
	free(token);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = getenv("PAYMENTS_CONFIG");
	struct config *cfg;
	char err[512];
	int i = 1, rc;

	if (path == NULL)
		path = "/etc/fcgi-payments/payments.conf";
	if (argc > 2 && strcmp(argv[1], "-c") == 0) {
		path = argv[2];
		i = 3;
	}
	if (i >= argc)
		return usage();
	cfg = xcalloc(1, sizeof(*cfg));
	if (config_load(path, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fcgi-payments: %s\n", err);
		free(cfg);
		return 1;
	}
	log_set_level((enum log_level)cfg->log_level);
	log_set_format((enum log_format)cfg->log_format);

	if (strcmp(argv[i], "serve") == 0) {
		int fd = listen_open(cfg, err, sizeof(err));
		/* Breaker state is shared by the whole pool: mapped before the first fork. */
		if (fd >= 0 && breaker_init(cfg->breaker_failures, cfg->breaker_cooldown_seconds) != 0) {
			snprintf(err, sizeof(err), "cannot map the shared breaker state");
			fd = -1;
		}
		/* So are the metrics: a worker that dies, even by SIGKILL, takes none of the counts with it. */
		if (fd >= 0 && metrics_init() != 0) {
			snprintf(err, sizeof(err), "cannot map the shared metrics");
			fd = -1;
		}
		/* A node on the wrong chain or a token with other decimals: refuse to start. */
		if (fd >= 0 && chain_check_startup(cfg, err, sizeof(err)) != 0)
			fd = -1;
		/* A hot-wallet key that cannot be read or is not a key: refuse to start. */
		if (fd >= 0 && hotwallet_startup(cfg, err, sizeof(err)) != 0)
			fd = -1;
		/* Not a refusal (the other networks still work), but never quietly. */
		if (fd >= 0)
			shk_warn_unverifiable(cfg);
		if (fd < 0) {
			fprintf(stderr, "fcgi-payments: %s\n", err);
			rc = 1;
		} else {
			return master_run(cfg, path, fd);
		}
	} else if (strcmp(argv[i], "jobs") == 0) {
		if (breaker_init(cfg->breaker_failures, cfg->breaker_cooldown_seconds) != 0) {
			fprintf(stderr, "fcgi-payments: cannot map the breaker state\n");
			rc = 1;
		} else if (chain_check_startup(cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "fcgi-payments: %s\n", err);
			rc = 1;
		} else {
			rc = jobs_main(cfg);
		}
	} else if (strcmp(argv[i], "migrate") == 0) {
		struct db db;
		db_init(&db, cfg->database_url, cfg->db_connect_timeout, false);
		rc = migrate_run(&db) == 0 ? 0 : 1;
		db_close(&db);
	} else if (strcmp(argv[i], "check") == 0) {
		if (hotwallet_startup(cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "fcgi-payments: %s\n", err);
			rc = 1;
		} else {
			printf("configuration %s is valid\n", path);
			if (hotwallet_address(cfg))
				printf("hot wallet %s\n", hotwallet_address(cfg));
			rc = 0;
		}
	} else if (strcmp(argv[i], "token") == 0) {
		rc = cmd_token(cfg, argc - i - 1, argv + i + 1);
	} else {
		rc = usage();
	}
	config_free(cfg);
	free(cfg);
	return rc;
}
