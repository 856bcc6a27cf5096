/* runner: one job in the process that runs it. The supervisor (jobs.c)
 * forks a process per job and hands it the job; runner_main() then loops
 * until SIGTERM: take the job's leader lock, run it, record the run, wait
 * for the next one. The process holds its own database and leader
 * connections, so it shares nothing with its siblings but the code.
 *
 * Layer: jobs (uses base).
 */
#ifndef PAY_RUNNER_H
#define PAY_RUNNER_H

#include <sys/types.h>

#include "jobs/jobs.h"

#define JOB_QUIET 0x1u          /* a run that found nothing to do leaves no log line */

/* A job as the supervisor starts it: one per entry of the table, one per subscriber for a per-subscriber one. */
struct job {
	char name[40];              /* in the log and in job_runs */
	int lock_id;                /* stable across versions: two versions never share a job */
	job_fn *run;
	job_wait_fn *wait;          /* NULL: sleep out the interval */
	int interval;               /* seconds between runs; 0: the job is off */
	int arg;                    /* job_ctx.arg */
	unsigned flags;
};

/* Runs `job` until SIGTERM; `supervisor` is the pid recorded as the copy leading it. Returns the exit status. */
int runner_main(const struct config *cfg, const struct job *job, pid_t supervisor);
/* Installs the handlers that make jobs_stopping() true (no SA_RESTART: a wait ends at once). */
void runner_signals(void);

#endif
