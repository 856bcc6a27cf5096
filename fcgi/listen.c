#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BACKLOG 256

static int from_systemd(char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid() || atoi(fds) < 1) {
		snprintf(err, errlen, "setting listen = systemd, but no socket was passed (LISTEN_FDS)");
		return -1;
	}
	/* Children must not think the socket was passed to them. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 3;
}

static int open_unix(const struct config *cfg, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	/* config_load() refused paths that do not fit sun_path. */
	memcpy(sa.sun_path, cfg->listen_addr, strnlen(cfg->listen_addr, sizeof(sa.sun_path) - 1));
	/* A stale socket from a previous run blocks bind; anything else at that path is not ours. */
	if (lstat(sa.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "setting listen: %s exists and is not a socket", sa.sun_path);
			return -1;
		}
		unlink(sa.sun_path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(sa.sun_path, cfg->socket_mode) != 0 || listen(fd, BACKLOG) != 0) {
		close(fd);
		goto fail;
	}
	return fd;
fail:
	snprintf(err, errlen, "setting listen: cannot listen on %s: %s", sa.sun_path, strerror(errno));
	return -1;
}

static int open_tcp(const struct config *cfg, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(cfg->listen_addr, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_PASSIVE }, *res = NULL;
	int fd = -1, one = 1, rc;

	snprintf(host, sizeof(host), "%.*s", (int)(colon - cfg->listen_addr), cfg->listen_addr);
	if ((rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "setting listen: %s: %s", cfg->listen_addr, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, BACKLOG) != 0) {
		snprintf(err, errlen, "setting listen: cannot listen on %s: %s", cfg->listen_addr,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int listen_open(const struct config *cfg, char *err, size_t errlen)
{
	int fd;

	switch (cfg->listen_kind) {
	case LISTEN_SYSTEMD: fd = from_systemd(err, errlen); break;
	case LISTEN_UNIX: fd = open_unix(cfg, err, errlen); break;
	default: fd = open_tcp(cfg, err, errlen); break;
	}
	if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "listen socket: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
