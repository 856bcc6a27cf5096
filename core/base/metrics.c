#include "base/metrics.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

const double metrics_buckets[METRICS_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 0 };

/* The statuses a request is counted under; anything else is "other" (slot 0). */
static const int statuses[] = { 0, 200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429,
	                        500, 502, 503, 504 };
#define N_STATUS (sizeof(statuses) / sizeof(statuses[0]))

/* The inbox's providers, verdicts and outcomes, plus what is answered without a stored delivery. */
static const char *const providers[] = { "other", "shkeeper", "shkeeper_payout", "bvnk", "callback" };
static const char *const verdicts[] = { "other", "valid", "invalid", "unsigned", "refused" };
static const char *const outcomes[] = { "other", "received", "applied", "duplicate", "stale", "ignored",
	                                "unknown_payment", "rejected", "recorded", "failed", "review",
	                                "refused", "not_final", "error" };
#define N_PROV (sizeof(providers) / sizeof(providers[0]))
#define N_VERD (sizeof(verdicts) / sizeof(verdicts[0]))
#define N_OUT (sizeof(outcomes) / sizeof(outcomes[0]))

static const char *const coord_names[MC_COUNT] = { "applied", "unchanged", "backward", "conflict" };
static const char *const db_names[MD_COUNT] = { "unavailable", "unique_violation", "check_violation",
	                                        "serialization", "failed", "reconnect" };

struct route_counters {
	atomic_ullong by_status[N_STATUS];
	atomic_ullong bucket[METRICS_BUCKETS];  /* cumulative is computed when written */
	atomic_ullong micros;                   /* sum of durations */
};

struct shared {
	struct route_counters route[METRICS_ROUTES];
	atomic_ullong webhook[N_PROV][N_VERD][N_OUT];
	atomic_ullong coord[MC_COUNT];
	atomic_ullong db[MD_COUNT];
};

static struct shared *shared;
static struct shared local;     /* until metrics_init(): unit tests, CLI commands, the jobs process */

static struct shared *sh(void) { return shared ? shared : &local; }

int metrics_init(void)
{
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	shared = p;
	return 0;
}

static size_t index_of(const char *const *set, size_t n, const char *v)
{
	for (size_t i = 1; v && i < n; i++)
		if (strcmp(set[i], v) == 0)
			return i;
	return 0;
}

void metrics_request(unsigned slot, int status, uint64_t micros)
{
	struct route_counters *r = &sh()->route[slot < METRICS_ROUTES ? slot : 0];
	size_t s = 0, b = 0;

	for (size_t i = 1; i < N_STATUS; i++)
		if (statuses[i] == status)
			s = i;
	while (b < METRICS_BUCKETS - 1 && (double)micros / 1e6 > metrics_buckets[b])
		b++;
	atomic_fetch_add(&r->by_status[s], 1);
	atomic_fetch_add(&r->bucket[b], 1);
	atomic_fetch_add(&r->micros, micros);
}

void metrics_webhook(const char *provider, const char *verdict, const char *outcome)
{
	atomic_fetch_add(&sh()->webhook[index_of(providers, N_PROV, provider)][index_of(verdicts, N_VERD, verdict)]
	                                [index_of(outcomes, N_OUT, outcome)], 1);
}

void metrics_coord(enum metric_coord result) { atomic_fetch_add(&sh()->coord[result], 1); }

void metrics_db(enum metric_db what) { atomic_fetch_add(&sh()->db[what], 1); }

static void head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_requests(struct buf *out, const char *(*route_name)(unsigned, const char **))
{
	struct shared *s = sh();

	head(out, "payments_http_requests_total", "counter", "Requests served by the pool, by route pattern, method and status.");
	for (unsigned slot = 0; slot < METRICS_ROUTES; slot++) {
		const char *method = NULL, *name = route_name(slot, &method);
		if (name == NULL)
			continue;
		for (size_t i = 0; i < N_STATUS; i++) {
			unsigned long long n = atomic_load(&s->route[slot].by_status[i]);
			if (n == 0)
				continue;
			if (i == 0)
				buf_printf(out, "payments_http_requests_total{route=\"%s\",method=\"%s\",status=\"other\"} %llu\n", name, method, n);
			else
				buf_printf(out, "payments_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n", name, method,
				           statuses[i], n);
		}
	}
	head(out, "payments_http_request_duration_seconds", "histogram",
	     "Time from the request's arrival at a worker to its last byte, by route pattern and method.");
	for (unsigned slot = 0; slot < METRICS_ROUTES; slot++) {
		const char *method = NULL, *name = route_name(slot, &method);
		unsigned long long cum = 0;
		if (name == NULL)
			continue;
		for (size_t b = 0; b < METRICS_BUCKETS; b++)
			cum += atomic_load(&s->route[slot].bucket[b]);
		if (cum == 0)
			continue;
		cum = 0;
		for (size_t b = 0; b < METRICS_BUCKETS; b++) {
			cum += atomic_load(&s->route[slot].bucket[b]);
			if (b == METRICS_BUCKETS - 1)
				buf_printf(out, "payments_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"+Inf\"} %llu\n",
				           name, method, cum);
			else
				buf_printf(out, "payments_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"%g\"} %llu\n",
				           name, method, metrics_buckets[b], cum);
		}
		unsigned long long us = atomic_load(&s->route[slot].micros);
		buf_printf(out, "payments_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %llu.%06llu\n", name, method,
		           us / 1000000, us % 1000000);
		buf_printf(out, "payments_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %llu\n", name, method, cum);
	}
}

void metrics_write(struct buf *out, const char *(*route_name)(unsigned slot, const char **method))
{
	struct shared *s = sh();

	write_requests(out, route_name);
	head(out, "payments_webhook_deliveries_total", "counter",
	     "Webhook deliveries by provider, verdict (refused: failed authentication, not stored) and outcome.");
	for (size_t p = 0; p < N_PROV; p++)
		for (size_t v = 0; v < N_VERD; v++)
			for (size_t o = 0; o < N_OUT; o++) {
				unsigned long long n = atomic_load(&s->webhook[p][v][o]);
				if (n)
					buf_printf(out, "payments_webhook_deliveries_total{provider=\"%s\",verdict=\"%s\",outcome=\"%s\"} %llu\n",
					           providers[p], verdicts[v], outcomes[o], n);
			}
	head(out, "payments_coordinator_results_total", "counter",
	     "What the coordinator made of the changes asked of it in the pool's requests.");
	for (int i = 0; i < MC_COUNT; i++)
		buf_printf(out, "payments_coordinator_results_total{result=\"%s\"} %llu\n", coord_names[i],
		           (unsigned long long)atomic_load(&s->coord[i]));
	head(out, "payments_db_errors_total", "counter", "Database statements that failed, by kind.");
	for (int i = 0; i < MD_RECONNECT; i++)
		buf_printf(out, "payments_db_errors_total{kind=\"%s\"} %llu\n", db_names[i], (unsigned long long)atomic_load(&s->db[i]));
	head(out, "payments_db_reconnects_total", "counter", "Connections to the database made again after one was lost.");
	buf_printf(out, "payments_db_reconnects_total %llu\n", (unsigned long long)atomic_load(&s->db[MD_RECONNECT]));
}
