#include "base/breaker.h"

#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "base/log.h"

enum { CLOSED, OPEN, HALF_OPEN };

struct breaker {
	atomic_int state;
	atomic_int failures;            /* consecutive */
	atomic_llong opened_at;         /* when it last opened, or the probe left */
	atomic_llong total_failures;
	atomic_llong total_rejected;
	atomic_llong total_successes;
};

struct shared {
	int threshold;
	int cooldown;
	struct breaker b[UPSTREAM_COUNT];
};

static struct shared *shared;
static struct shared local;     /* used until breaker_init() (unit tests, CLI commands) */

static const char *const names[UPSTREAM_COUNT] = { "shkeeper", "bvnk", "rpc_bsc", "rpc_ethereum" };

const char *upstream_name(enum upstream u) { return names[u]; }

static struct shared *sh(void)
{
	if (shared == NULL) {
		if (local.threshold == 0) {
			local.threshold = 5;
			local.cooldown = 30;
		}
		return &local;
	}
	return shared;
}

static long long now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int breaker_init(int failures, int cooldown_seconds)
{
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	shared = p;
	shared->threshold = failures;
	shared->cooldown = cooldown_seconds;
	return 0;
}

bool breaker_allow(enum upstream u)
{
	struct shared *s = sh();
	struct breaker *b = &s->b[u];
	int state = atomic_load(&b->state);

	if (state == CLOSED)
		return true;
	/* Open, or a probe that never reported back: after the cool-down, one caller probes. */
	if (now_s() - atomic_load(&b->opened_at) >= s->cooldown &&
	    atomic_compare_exchange_strong(&b->state, &state, HALF_OPEN)) {
		atomic_store(&b->opened_at, now_s());
		log_info("breaker %s: letting one probe through", names[u]);
		return true;
	}
	atomic_fetch_add(&b->total_rejected, 1);
	return false;
}

void breaker_success(enum upstream u)
{
	struct breaker *b = &sh()->b[u];

	atomic_fetch_add(&b->total_successes, 1);
	atomic_store(&b->failures, 0);
	if (atomic_exchange(&b->state, CLOSED) != CLOSED)
		log_info("breaker %s: closed", names[u]);
}

void breaker_failure(enum upstream u)
{
	struct shared *s = sh();
	struct breaker *b = &s->b[u];
	int n = atomic_fetch_add(&b->failures, 1) + 1;

	atomic_fetch_add(&b->total_failures, 1);
	if (atomic_load(&b->state) == HALF_OPEN || n >= s->threshold) {
		atomic_store(&b->opened_at, now_s());
		if (atomic_exchange(&b->state, OPEN) != OPEN)
			log_warn("breaker %s: open after %d consecutive failures", names[u], n);
	}
}

int breaker_retry_after(enum upstream u)
{
	struct shared *s = sh();
	struct breaker *b = &s->b[u];

	if (atomic_load(&b->state) == CLOSED)
		return 0;
	long long left = s->cooldown - (now_s() - atomic_load(&b->opened_at));
	return left > 0 ? (int)left : 1;
}

void breaker_counts(enum upstream u, struct breaker_counts *out)
{
	struct breaker *b = &sh()->b[u];

	out->state = atomic_load(&b->state);
	out->successes = atomic_load(&b->total_successes);
	out->failures = atomic_load(&b->total_failures);
	out->rejected = atomic_load(&b->total_rejected);
}

json_object *breaker_json(void)
{
	static const char *const state_names[] = { "closed", "open", "half_open" };
	struct shared *s = sh();
	json_object *all = json_object_new_object();

	for (int u = 0; u < UPSTREAM_COUNT; u++) {
		struct breaker *b = &s->b[u];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "state", json_object_new_string(state_names[atomic_load(&b->state)]));
		json_object_object_add(o, "consecutiveFailures", json_object_new_int(atomic_load(&b->failures)));
		json_object_object_add(o, "totalFailures", json_object_new_int64(atomic_load(&b->total_failures)));
		json_object_object_add(o, "rejectedWhileOpen", json_object_new_int64(atomic_load(&b->total_rejected)));
		json_object_object_add(o, "retryAfterSeconds", json_object_new_int(breaker_retry_after((enum upstream)u)));
		json_object_object_add(all, names[u], o);
	}
	return all;
}
