#include "jobs/runner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

void runner_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool jobs_stopping(void)
{
	return stopping;
}

bool jobs_continue(struct job_ctx *ctx)
{
	return !stopping && leader_alive(ctx->leader);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* What the admin view shows; a failure to record is logged and changes nothing else. */
static void record(struct db *db, const struct job *job, pid_t supervisor, time_t started, int rc,
                   const struct job_result *res)
{
	char host[64] = "", pid[16], start[24], seen[24], changed[24], errors[24], backlog[24], next[16];
	const char *p[10] = { job->name, host, pid, start, seen, changed, errors,
		              rc == 0 ? "ok" : "failed", backlog, next };

	gethostname(host, sizeof(host) - 1);
	snprintf(pid, sizeof(pid), "%d", (int)supervisor);
	snprintf(start, sizeof(start), "%lld", (long long)started);
	snprintf(seen, sizeof(seen), "%ld", res->seen);
	snprintf(changed, sizeof(changed), "%ld", res->changed);
	snprintf(errors, sizeof(errors), "%ld", res->errors);
	snprintf(backlog, sizeof(backlog), "%ld", res->backlog);
	snprintf(next, sizeof(next), "%d", job->interval);
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

static void run_one(struct job_ctx *ctx, const struct job *job, pid_t supervisor, unsigned long run_no)
{
	struct job_result res = { 0 };
	struct timespec t0;
	time_t started = time(NULL);
	long ms;
	int rc;

	snprintf(ctx->tag, sizeof(ctx->tag), "job-%s-%lu", job->name, run_no);
	log_set_request_id(ctx->tag);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Like a request: a run starts on a live connection (a failure now is the run's to report). */
	(void)db_ready(ctx->db);
	rc = job->run(ctx, &res);
	/* A job that returned mid-transaction must not leave it to the next. */
	if (ctx->db->in_tx || ctx->db->tx_lost)
		db_rollback(ctx->db);
	ms = ms_since(&t0);
	if (!(job->flags & JOB_QUIET) || rc != 0 || res.seen || res.changed || res.errors)
		log_timed(LOG_INFO, -1, ms,
		          "job=%s result=%s seen=%ld changed=%ld errors=%ld backlog=%ld duration_ms=%ld",
		          job->name, rc == 0 ? "ok" : "failed", res.seen, res.changed, res.errors,
		          res.backlog, ms);
	record(ctx->db, job, supervisor, started, rc, &res);
	log_set_request_id(NULL);
}

/* Sleeps until `due`, in naps a signal cuts short. */
static void sleep_until(time_t due)
{
	while (!stopping && time(NULL) < due) {
		struct timespec nap = { 1, 0 };
		while (nanosleep(&nap, &nap) != 0 && errno == EINTR && !stopping)
			;
	}
}

int runner_main(const struct config *cfg, const struct job *job, pid_t supervisor)
{
	struct db db;
	struct leader leader;
	struct job_ctx ctx = { .cfg = cfg, .db = &db, .leader = &leader, .actor = "jobs", .arg = job->arg };
	unsigned long run_no = 0;
	char title[16];

	/* A supervisor that died, even by SIGKILL, takes its jobs with it: their locks must go free. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != supervisor)
		return 0;
	/* `ps` and tests tell the processes apart by name. */
	snprintf(title, sizeof(title), "jobs-%.10s", job->name);
	prctl(PR_SET_NAME, title);
	log_set_job(job->name);

	db_init(&db, cfg->database_url, cfg->db_connect_timeout, cfg->db_prepare);
	leader_init(&leader, cfg->jobs.lock_database_url, cfg->db_connect_timeout);
	while (!stopping) {
		time_t due = time(NULL) + job->interval;
		/* Another copy leads this job, or PostgreSQL is away: try again next interval. */
		bool leads = leader_acquire(&leader, job->lock_id) == 1;

		if (leads)
			run_one(&ctx, job, supervisor, ++run_no);
		if (leads && job->wait && !stopping) {
			int left = (int)(due - time(NULL));
			job->wait(&ctx, left > 0 ? left : 0);
		} else {
			sleep_until(due);
		}
	}
	leader_close(&leader);
	db_close(&db);
	return 0;
}
