#ifndef FCGI_LISTEN_H
#define FCGI_LISTEN_H

#include "base/config.h"

/*
 * Opens the FastCGI listening socket the configuration names, or takes the
 * one systemd passed (LISTEN_FDS, fd 3). The socket is non-blocking: workers
 * wait for it with ppoll() so a drain signal is never lost inside accept().
 * Returns the fd, or -1 with a message in err.
 */
int listen_open(const struct config *cfg, char *err, size_t errlen);

#endif
