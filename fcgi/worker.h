#ifndef FCGI_WORKER_H
#define FCGI_WORKER_H

#include <time.h>

#include "base/config.h"

/*
 * A worker's whole life: accept one FastCGI request at a time on listen_fd,
 * serve it, repeat; return after SIGTERM (the request in flight completes
 * first) or after cfg->max_requests requests. Called in the child after fork.
 */
int worker_run(int listen_fd, const struct config *cfg, time_t started);

#endif
