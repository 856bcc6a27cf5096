/* breaker: a circuit breaker per upstream, shared by every worker of the pool: the
 * state lives in an anonymous shared mapping made by the master before it
 * forks, and is changed only with atomic operations. After `failures`
 * consecutive failures the breaker opens and callers are answered at once;
 * after `cooldown` seconds one caller is let through as a probe; its success
 * closes the breaker, its failure opens it for another cool-down.
 */
#ifndef PAY_BREAKER_H
#define PAY_BREAKER_H

#include <stdbool.h>

#include <json-c/json.h>

enum upstream {
	UPSTREAM_SHKEEPER,
	UPSTREAM_BVNK,
	UPSTREAM_RPC_BSC,
	UPSTREAM_RPC_ETHEREUM,
	UPSTREAM_COUNT,
};

/* Once, in the master, before fork. Returns 0 or -1. */
int breaker_init(int failures, int cooldown_seconds);
/* May a call go out now? False while open (or while another worker's probe is out). */
bool breaker_allow(enum upstream u);
void breaker_success(enum upstream u);
void breaker_failure(enum upstream u);
/* Seconds until a probe will be let through; 0 when closed. */
int breaker_retry_after(enum upstream u);
const char *upstream_name(enum upstream u);
/* Every call a breaker has seen since the pool started, and its state now (metrics). */
struct breaker_counts {
	int state;                      /* 0 closed, 1 open, 2 half-open */
	long long successes, failures, rejected;
};
void breaker_counts(enum upstream u, struct breaker_counts *out);
/* {"shkeeper": {"state": "closed", "failures": 0, ...}, ...}; caller owns it. */
json_object *breaker_json(void);

#endif
