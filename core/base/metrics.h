/* metrics: the pool's counters and latency histograms, shared by every worker:
 * they live in an anonymous shared mapping the master makes before it forks
 * (as the breakers do), are changed only with atomic operations, and so
 * survive a worker that dies, SIGKILL included. Labels are small fixed sets
 * (a route's slot in the route table, a status, an upstream, a provider,
 * verdict and outcome from the inbox's own lists), so cardinality is bounded
 * by construction: a value outside a set counts as "other".
 *
 * Layer: base. The api layer names route slots when it writes the
 * exposition (api/metrics.c); before metrics_init() (unit tests, CLI
 * commands, the jobs process) counts go to process-local memory.
 */
#ifndef PAY_METRICS_H
#define PAY_METRICS_H

#include <stdint.h>

#include "base/buf.h"

#define METRICS_ROUTES 160          /* route slots: 0 is "no route", i + 1 route i */
#define METRICS_BUCKETS 12          /* latency buckets, the last one +Inf */

/* Upper bounds of the latency buckets, in seconds (the last is +Inf). */
extern const double metrics_buckets[METRICS_BUCKETS];

enum metric_coord { MC_APPLIED, MC_UNCHANGED, MC_BACKWARD, MC_CONFLICT, MC_COUNT };
enum metric_db { MD_UNAVAILABLE, MD_UNIQUE, MD_CHECK, MD_RETRY, MD_FAILED, MD_RECONNECT, MD_COUNT };

/* Once, in the master, before fork. Returns 0 or -1. */
int metrics_init(void);

/* One request served: its route slot, status and time from accept to last byte. */
void metrics_request(unsigned slot, int status, uint64_t micros);
/* A webhook delivery and what came of it (provider, verdict, outcome as the inbox names them). */
void metrics_webhook(const char *provider, const char *verdict, const char *outcome);
void metrics_coord(enum metric_coord result);
void metrics_db(enum metric_db what);

/* The exposition of the counters, with route_name(slot) for each route slot in use. */
void metrics_write(struct buf *out, const char *(*route_name)(unsigned slot, const char **method));

#endif
