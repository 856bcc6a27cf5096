#ifndef FCGI_MASTER_H
#define FCGI_MASTER_H

#include "base/config.h"

/*
 * The master process: forks cfg->workers workers on listen_fd and keeps that
 * many alive until told to stop.
 *   SIGCHLD   a dead or recycled worker is replaced;
 *   SIGTERM   drain: workers finish the request in flight and exit; after
 *             drain_seconds the stragglers are killed;
 *   SIGHUP    re-read the configuration, then restart workers one at a time.
 * Takes ownership of *cfg (replaced on reload). Returns the exit status.
 */
int master_run(struct config *cfg, const char *config_path, int listen_fd);

#endif
