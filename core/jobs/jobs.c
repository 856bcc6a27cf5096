/* The supervisor: the process the operator starts. It forks one process
 * per job (runner.c), starts again one that died, and on SIGTERM passes the
 * signal on and waits for each to finish the item in hand. */
#include "jobs/jobs.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "jobs/runner.h"

struct job_def {
	const char *name;
	int lock_id;                /* for a per-subscriber job, the first of CONFIG_MAX_SUBSCRIBERS ids */
	job_fn *run;
	job_wait_fn *wait;
	size_t interval;            /* offset of its interval in struct jobs_conf */
	unsigned flags;
	bool per_subscriber;
};

/* Lock ids are stable across versions: two versions never share a job. */
static const struct job_def defs[] = {
	{ "reverify", 1, jobs_reverify, NULL, offsetof(struct jobs_conf, reverify_seconds), 0, false },
	{ "backfill", 2, jobs_backfill, NULL, offsetof(struct jobs_conf, backfill_seconds), 0, false },
	{ "retention", 3, jobs_retention, NULL, offsetof(struct jobs_conf, retention_seconds), 0, false },
	{ "relay", 4, jobs_relay, jobs_relay_wait, offsetof(struct jobs_conf, relay_seconds), JOB_QUIET, false },
	{ "watch", 5, jobs_watch, NULL, offsetof(struct jobs_conf, watch_seconds), 0, false },
	{ "cleanup", 6, jobs_cleanup, NULL, offsetof(struct jobs_conf, cleanup_seconds), 0, false },
	{ "shkeeper_poll", 7, jobs_shkeeper_poll, NULL, offsetof(struct jobs_conf, shkeeper_poll_seconds), 0, false },
	{ "reconcile", 8, jobs_reconcile, NULL, offsetof(struct jobs_conf, reconcile_seconds), 0, false },
	{ "auto_release", 9, jobs_auto_release, NULL, offsetof(struct jobs_conf, auto_release_seconds), 0, false },
	/* deliver_<name>: subscriber i (in configuration order) has lock 16 + i. */
	{ "deliver", 16, jobs_deliver, NULL, offsetof(struct jobs_conf, deliver_seconds), JOB_QUIET, true },
};

#define N_DEFS (sizeof(defs) / sizeof(defs[0]))
#define MAX_JOBS (N_DEFS + CONFIG_MAX_SUBSCRIBERS)
/* A job that dies this soon after it started is started again more slowly, up to RESTART_MAX. */
#define YOUNG_SECONDS 10
#define RESTART_MAX 30

struct slot {
	struct job job;
	pid_t pid;                  /* 0: not running */
	time_t started;
	time_t restart_at;
	int delay;                  /* seconds before the next restart of a job that keeps dying */
};

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static int interval_of(const struct config *cfg, const struct job_def *def)
{
	return *(const int *)((const char *)&cfg->jobs + def->interval);
}

/* The jobs this configuration runs: every one with an interval, a deliver job per subscriber. */
static size_t plan(const struct config *cfg, struct slot *slots)
{
	size_t n = 0;

	for (size_t d = 0; d < N_DEFS; d++) {
		size_t copies = defs[d].per_subscriber ? cfg->subscribers.n : 1;
		int every = interval_of(cfg, &defs[d]);

		for (size_t i = 0; i < copies && every > 0; i++) {
			struct job *j = &slots[n].job;

			memset(&slots[n], 0, sizeof(slots[n]));
			if (defs[d].per_subscriber)
				snprintf(j->name, sizeof(j->name), "%s_%s", defs[d].name, cfg->subscribers.list[i].name);
			else
				snprintf(j->name, sizeof(j->name), "%s", defs[d].name);
			j->lock_id = defs[d].lock_id + (int)i;
			j->run = defs[d].run;
			j->wait = defs[d].wait;
			j->interval = every;
			j->arg = (int)i;
			j->flags = defs[d].flags;
			slots[n].delay = 1;
			n++;
		}
	}
	return n;
}

static void spawn(const struct config *cfg, struct slot *s, pid_t self)
{
	sigset_t stop, old;
	pid_t pid;

	/* A SIGTERM between fork and the child's own handlers must wait for those, not be lost. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, &old);
	pid = fork();
	if (pid == 0) {
		runner_signals();
		sigprocmask(SIG_SETMASK, &old, NULL);
		exit(runner_main(cfg, &s->job, self));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		log_error("jobs: fork for %s failed: %s", s->job.name, strerror(errno));
		s->restart_at = time(NULL) + s->delay;
		return;
	}
	s->pid = pid;
	s->started = time(NULL);
	log_info("jobs: %s runs in pid %d", s->job.name, (int)pid);
}

static void reap(struct slot *slots, size_t n)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < n; i++) {
			struct slot *s = &slots[i];
			time_t now = time(NULL);

			if (s->pid != pid)
				continue;
			s->pid = 0;
			if (stopping)
				break;
			/* Only SIGTERM ends a job on purpose, and that goes through the supervisor. */
			if (WIFSIGNALED(status))
				log_error("jobs: %s (pid %d) was killed by signal %d", s->job.name, (int)pid, WTERMSIG(status));
			else
				log_error("jobs: %s (pid %d) exited with status %d", s->job.name, (int)pid, WEXITSTATUS(status));
			if (now - s->started >= YOUNG_SECONDS)
				s->delay = 1;
			else if ((s->delay *= 2) > RESTART_MAX)
				s->delay = RESTART_MAX;
			s->restart_at = now + s->delay;
			break;
		}
	}
}

int jobs_main(const struct config *cfg)
{
	struct sigaction sa;
	struct slot slots[MAX_JOBS];
	size_t n = plan(cfg, slots);
	pid_t self = getpid();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;        /* no SA_RESTART: a sleep ends at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("jobs: started (pid %d)", (int)self);
	while (!stopping) {
		time_t now = time(NULL);

		for (size_t i = 0; i < n && !stopping; i++)
			if (slots[i].pid == 0 && now >= slots[i].restart_at)
				spawn(cfg, &slots[i], self);
		struct timespec nap = { 1, 0 };
		while (nanosleep(&nap, &nap) != 0 && errno == EINTR && !stopping)
			;
		reap(slots, n);
	}
	for (size_t i = 0; i < n; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, SIGTERM);
	for (size_t i = 0; i < n; i++)
		if (slots[i].pid > 0)
			while (waitpid(slots[i].pid, NULL, 0) < 0 && errno == EINTR)
				;
	log_info("jobs: stopping on signal; every item in hand is finished");
	return 0;
}
