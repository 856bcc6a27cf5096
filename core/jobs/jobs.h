/* jobs: the work beside the request path, as one process (`fcgi-payments
 * jobs`) on the same core code. Each job runs in a process of its own,
 * forked and watched by the one the operator started, so a job that waits
 * on a chain node or a subscriber never delays another (the relay, that
 * browsers wait on, least of all). A job runs on its own interval, only in
 * the copy holding its leader lock (leader.h), on batches it takes from
 * the database; every state change goes through the coordinator like any
 * request's. A run ends with one log line (job, items seen and changed,
 * errors, duration) and a row in job_runs for the admin view. SIGTERM lets
 * the item in hand finish, then the process exits.
 *
 * Layer: jobs (uses flow, pay, shkeeper, evm, http, base).
 */
#ifndef PAY_JOBS_H
#define PAY_JOBS_H

#include <stdbool.h>

#include "base/config.h"
#include "base/db.h"
#include "jobs/leader.h"

struct job_ctx {
	const struct config *cfg;
	struct db *db;              /* the work connection */
	struct leader *leader;
	const char *actor;          /* audit source of what the job changes: "jobs" */
	char tag[48];               /* stands for a request id in the log: "job-<name>-<run>" */
	int arg;                    /* which one, for a job run once per subscriber */
};

struct job_result {
	long seen;                  /* items looked at */
	long changed;               /* items the run changed */
	long errors;                /* items that failed (database, chain or provider down) */
	long backlog;               /* items known to be left for later runs */
};

/* A job's run. Returns 0, or -1 when the run failed as a whole (logged). */
typedef int job_fn(struct job_ctx *ctx, struct job_result *res);
/*
 * Between two runs of a job this copy leads: returns when `seconds` have
 * passed, sooner when work for the job arrived or SIGTERM came. Jobs
 * without one sleep out their interval.
 */
typedef void job_wait_fn(struct job_ctx *ctx, int seconds);

/* Between items: false once SIGTERM came or this copy lost its leader lock. */
bool jobs_continue(struct job_ctx *ctx);
/* True once SIGTERM (or SIGINT) came: for waits that must end early. */
bool jobs_stopping(void);

/* The jobs process; returns the exit status. */
int jobs_main(const struct config *cfg);

/* The jobs: watch.c, chainpay.c (reverify, backfill), retention.c, relay.c, deliver.c, shk_poll.c, cleanup.c,
 * reconcile.c, autorelease.c. */
job_fn jobs_watch, jobs_reverify, jobs_backfill, jobs_retention, jobs_relay, jobs_deliver, jobs_shkeeper_poll,
    jobs_cleanup, jobs_reconcile, jobs_auto_release;
job_wait_fn jobs_relay_wait;

#endif
