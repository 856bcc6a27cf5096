#include "jobs/jobs.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

struct job {
	const char *name;
	int lock_id;                /* stable across versions: two versions never share a job */
	job_fn *run;
	size_t interval;            /* offset of its interval in struct jobs_conf */
};

static const struct job jobs[] = {
	{ "reverify", 1, jobs_reverify, offsetof(struct jobs_conf, reverify_seconds) },
	{ "backfill", 2, jobs_backfill, offsetof(struct jobs_conf, backfill_seconds) },
	{ "retention", 3, jobs_retention, offsetof(struct jobs_conf, retention_seconds) },
	{ "watch", 4, jobs_watch, offsetof(struct jobs_conf, watch_seconds) },
};

#define N_JOBS (sizeof(jobs) / sizeof(jobs[0]))

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

bool jobs_continue(struct job_ctx *ctx)
{
	return !stopping && leader_alive(ctx->leader);
}

static int interval_of(const struct config *cfg, const struct job *job)
{
	return *(const int *)((const char *)&cfg->jobs + job->interval);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* What the admin view shows; a failure to record is logged and changes nothing else. */
static void record(struct db *db, const struct job *job, time_t started, int rc,
                   const struct job_result *res, int interval)
{
	char host[64] = "", pid[16], start[24], seen[24], changed[24], errors[24], backlog[24], next[16];
	const char *p[10] = { job->name, host, pid, start, seen, changed, errors,
		              rc == 0 ? "ok" : "failed", backlog, next };

	gethostname(host, sizeof(host) - 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(start, sizeof(start), "%lld", (long long)started);
	snprintf(seen, sizeof(seen), "%ld", res->seen);
	snprintf(changed, sizeof(changed), "%ld", res->changed);
	snprintf(errors, sizeof(errors), "%ld", res->errors);
	snprintf(backlog, sizeof(backlog), "%ld", res->backlog);
	snprintf(next, sizeof(next), "%d", interval);
	db_exec(db, NULL,
	        "INSERT INTO job_runs (job, leader_host, leader_pid, last_started_at, last_finished_at,"
	        " last_seen, last_changed, last_errors, last_result, backlog, next_run_at)"
	        " VALUES ($1, $2, $3::integer, to_timestamp($4::bigint), now(), $5::bigint, $6::bigint,"
	        " $7::bigint, $8, $9::bigint, now() + make_interval(secs => $10::integer))"
	        " ON CONFLICT (job) DO UPDATE SET leader_host = EXCLUDED.leader_host,"
	        " leader_pid = EXCLUDED.leader_pid, last_started_at = EXCLUDED.last_started_at,"
	        " last_finished_at = EXCLUDED.last_finished_at, last_seen = EXCLUDED.last_seen,"
	        " last_changed = EXCLUDED.last_changed, last_errors = EXCLUDED.last_errors,"
	        " last_result = EXCLUDED.last_result, backlog = EXCLUDED.backlog,"
	        " next_run_at = EXCLUDED.next_run_at",
	        10, p);
}

static void run_one(const struct config *cfg, struct db *db, struct leader *leader,
                    const struct job *job, unsigned long run_no)
{
	struct job_ctx ctx = { .cfg = cfg, .db = db, .leader = leader, .actor = "jobs" };
	struct job_result res = { 0 };
	struct timespec t0;
	time_t started = time(NULL);
	int rc;

	snprintf(ctx.tag, sizeof(ctx.tag), "job-%s-%lu", job->name, run_no);
	log_set_request_id(ctx.tag);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = job->run(&ctx, &res);
	/* A job that returned mid-transaction must not leave it to the next. */
	if (db->in_tx || db->tx_lost)
		db_rollback(db);
	log_info("job=%s result=%s seen=%ld changed=%ld errors=%ld backlog=%ld duration_ms=%ld",
	         job->name, rc == 0 ? "ok" : "failed", res.seen, res.changed, res.errors, res.backlog,
	         ms_since(&t0));
	record(db, job, started, rc, &res, interval_of(cfg, job));
	log_set_request_id(NULL);
}

int jobs_main(const struct config *cfg)
{
	struct sigaction sa;
	struct db db;
	struct leader leader;
	time_t due[N_JOBS] = { 0 };
	unsigned long run_no = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;        /* no SA_RESTART: a sleep ends at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	db_init(&db, cfg->database_url, cfg->db_connect_timeout, cfg->db_prepare);
	leader_init(&leader, cfg->jobs.lock_database_url, cfg->db_connect_timeout);
	log_info("jobs: started (pid %d)", (int)getpid());
	while (!stopping) {
		time_t now = time(NULL);

		for (size_t i = 0; i < N_JOBS && !stopping; i++) {
			int every = interval_of(cfg, &jobs[i]);

			if (every == 0 || now < due[i])
				continue;
			due[i] = now + every;
			/* Another copy leads this job, or PostgreSQL is away: try again next interval. */
			if (leader_acquire(&leader, jobs[i].lock_id) != 1)
				continue;
			run_one(cfg, &db, &leader, &jobs[i], ++run_no);
		}
		struct timespec nap = { 1, 0 };
		while (nanosleep(&nap, &nap) != 0 && errno == EINTR && !stopping)
			;
	}
	log_info("jobs: stopping on signal; every item in hand is finished");
	leader_close(&leader);
	db_close(&db);
	return 0;
}
