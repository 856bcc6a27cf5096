#include "master.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "evm/chain.h"
#include "flow/hotwallet.h"
#include "flow/shk_onchain.h"
#include "worker.h"

struct slot {
	pid_t pid;              /* 0: empty */
	unsigned generation;    /* config generation the worker was forked with */
	time_t started;
	time_t respawn_at;      /* back-off after a worker died young */
	int stopping;           /* asked to exit as part of a rolling restart */
	time_t stop_deadline;   /* …and killed if still there at this time */
};

struct master {
	struct config *cfg;
	const char *config_path;
	int listen_fd;
	struct slot *slots;
	int n_slots;
	unsigned generation;
	int draining;
	time_t started;
	time_t drain_deadline;
};

static void spawn(struct master *m, struct slot *s)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("fork failed: %s", strerror(errno));
		s->respawn_at = time(NULL) + 1;
		return;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGCHLD, SIG_DFL);
		/*
		 * exit(), not _exit(): the master has no stdio buffers to flush twice,
		 * and exit handlers let a sanitizer build check the worker for leaks.
		 */
		exit(worker_run(m->listen_fd, m->cfg, m->started));
	}
	s->pid = pid;
	s->generation = m->generation;
	s->started = time(NULL);
	s->respawn_at = 0;
	s->stopping = 0;
}

static struct slot *slot_of(struct master *m, pid_t pid)
{
	for (int i = 0; i < m->n_slots; i++)
		if (m->slots[i].pid == pid)
			return &m->slots[i];
	return NULL;
}

static void reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct slot *s = slot_of(m, pid);
		time_t now = time(NULL);

		if (s == NULL)
			continue;
		bool failed = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
		if (WIFSIGNALED(status))
			log_warn("worker %d killed by signal %d", (int)pid, WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			log_warn("worker %d exited with status %d", (int)pid, WEXITSTATUS(status));
		/*
		 * A worker that fails at once would be respawned in a tight loop: wait
		 * a second. One recycled after max_requests is replaced at once, however
		 * fast it got there.
		 */
		s->respawn_at = failed && now - s->started < 1 && !s->stopping ? now + 1 : now;
		s->pid = 0;
	}
}

static int live_workers(const struct master *m)
{
	int n = 0;

	for (int i = 0; i < m->n_slots; i++)
		n += m->slots[i].pid != 0;
	return n;
}

static void signal_all(struct master *m, int sig)
{
	for (int i = 0; i < m->n_slots; i++)
		if (m->slots[i].pid)
			kill(m->slots[i].pid, sig);
}

static void reload(struct master *m)
{
	struct config *fresh = xcalloc(1, sizeof(*fresh));
	char err[512];

	/*
	 * What start-up refuses, a reload refuses too: an unusable hot-wallet key,
	 * a wrong chain or decimals. The chain check goes last: its success is what
	 * replaces the chain states new workers inherit.
	 */
	if (config_load(m->config_path, fresh, err, sizeof(err)) != 0 || hotwallet_startup(fresh, err, sizeof(err)) != 0 ||
	    chain_check_startup(fresh, err, sizeof(err)) != 0) {
		log_error("reload refused, keeping the running configuration: %s", err);
		config_free(fresh);
		free(fresh);
		return;
	}
	log_set_level((enum log_level)fresh->log_level);
	log_set_format((enum log_format)fresh->log_format);
	/* The socket and the pool size are fixed for the master's life. */
	fresh->workers = m->cfg->workers;
	fresh->listen_kind = m->cfg->listen_kind;
	memcpy(fresh->listen_addr, m->cfg->listen_addr, sizeof(fresh->listen_addr));
	config_free(m->cfg);
	free(m->cfg);
	m->cfg = fresh;
	m->generation++;
	log_info("configuration reloaded; restarting workers one by one");
	shk_warn_unverifiable(m->cfg);
}

/* Keeps the pool full, and moves a rolling restart one worker forward. */
static void tend(struct master *m)
{
	time_t now = time(NULL);
	int restarting = 0;

	for (int i = 0; i < m->n_slots; i++) {
		struct slot *s = &m->slots[i];
		if (s->pid == 0 && now >= s->respawn_at)
			spawn(m, s);
		restarting |= s->pid && s->stopping;
		/* A worker held up past the drain time (a slow client, say) must not stall the restart. */
		if (s->pid && s->stopping && now >= s->stop_deadline) {
			log_warn("worker %d did not finish within %d s of the restart; killing it", (int)s->pid,
			         m->cfg->drain_seconds);
			kill(s->pid, SIGKILL);
			s->stop_deadline = now + 5;
		}
	}
	if (restarting)
		return;
	for (int i = 0; i < m->n_slots; i++) {
		struct slot *s = &m->slots[i];
		if (s->pid && s->generation != m->generation) {
			s->stopping = 1;
			s->stop_deadline = now + m->cfg->drain_seconds;
			kill(s->pid, SIGTERM);
			return;
		}
	}
}

int master_run(struct config *cfg, const char *config_path, int listen_fd)
{
	struct master m = { .cfg = cfg, .config_path = config_path, .listen_fd = listen_fd,
	                    .started = time(NULL) };
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Log rotation's habit: it means nothing to a pool that logs to stderr, and must not end it. */
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	m.n_slots = cfg->workers;
	m.slots = xcalloc((size_t)m.n_slots, sizeof(*m.slots));
	log_info("master started: %d workers", m.n_slots);

	for (;;) {
		struct timespec tick = { 1, 0 };

		if (!m.draining)
			tend(&m);
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGCHLD || sig < 0)
			reap(&m);
		if ((sig == SIGTERM || sig == SIGINT) && !m.draining) {
			log_info("draining: waiting up to %d s for requests in flight", m.cfg->drain_seconds);
			m.draining = 1;
			m.drain_deadline = time(NULL) + m.cfg->drain_seconds;
			signal_all(&m, SIGTERM);
		}
		if (sig == SIGHUP && !m.draining)
			reload(&m);
		if (sig == SIGUSR1)
			log_info("SIGUSR1 ignored: the pool logs to stderr and has nothing to reopen");
		if (m.draining) {
			reap(&m);
			if (live_workers(&m) == 0)
				break;
			if (time(NULL) >= m.drain_deadline) {
				log_warn("drain deadline passed; killing %d workers", live_workers(&m));
				signal_all(&m, SIGKILL);
				m.drain_deadline = time(NULL) + 5;
			}
		}
	}
	log_info("master stopped");
	free(m.slots);
	config_free(m.cfg);
	free(m.cfg);
	return 0;
}
