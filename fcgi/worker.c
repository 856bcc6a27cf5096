#include "worker.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>
#include <openssl/rand.h>

#include "api/app.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/xalloc.h"

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static int fcgi_sink_write(void *ctx, const void *data, size_t len)
{
	FCGX_Stream *out = ctx;

	while (len > 0) {
		int chunk = len > 65536 ? 65536 : (int)len;
		if (FCGX_PutStr(data, chunk, out) != chunk)
			return -1;
		data = (const char *)data + chunk;
		len -= (size_t)chunk;
	}
	return 0;
}

static enum http_method method_of(const char *m)
{
	static const struct { const char *name; enum http_method method; } methods[] = {
		{ "GET", HTTP_GET }, { "HEAD", HTTP_GET }, { "POST", HTTP_POST },
		{ "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE }, { "PATCH", HTTP_PATCH },
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].method;
	return HTTP_OTHER;
}

/* nginx's $request_id is 32 hex digits; anything else is replaced by our own. */
static void pick_request_id(const char *given, char out[33])
{
	unsigned char raw[16];
	size_t n = given ? strlen(given) : 0;

	if (n > 0 && n <= 32 && strspn(given, "0123456789abcdefABCDEF-") == n) {
		memcpy(out, given, n + 1);
		return;
	}
	RAND_bytes(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/*
 * Reads exactly CONTENT_LENGTH bytes. A body over the limit is read into a
 * scratch buffer and dropped, never kept: closing early would make nginx
 * see a reset while it is still sending, and answer 502 instead of our 413.
 */
static int read_body(FCGX_Request *fr, size_t limit, char **out, size_t *outlen,
                     struct response *resp)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	char *end, scratch[8192];
	unsigned long long want = 0;

	*out = NULL;
	*outlen = 0;
	if (cl && *cl) {
		errno = 0;
		want = strtoull(cl, &end, 10);
		if (errno || *end || !isdigit((unsigned char)*cl)) {
			resp_error(resp, 400, "bad_request", NULL, "invalid Content-Length");
			return -1;
		}
	}
	if (want > limit) {
		while (FCGX_GetStr(scratch, sizeof(scratch), fr->in) > 0)
			;
		resp_error(resp, 413, "body_too_large", NULL, "the body is larger than %zu bytes", limit);
		return -1;
	}
	*out = xmalloc((size_t)want + 1);
	int got = want ? FCGX_GetStr(*out, (int)want, fr->in) : 0;
	if (got < 0 || (unsigned long long)got != want) {
		resp_error(resp, 400, "bad_request", NULL, "the body ended before Content-Length bytes");
		free(*out);
		*out = NULL;
		return -1;
	}
	(*out)[want] = '\0';
	*outlen = (size_t)want;
	return 0;
}

/* Serves one request; true when its answer must be cut off (resp_cut). */
static bool serve(FCGX_Request *fr, struct app *app)
{
	char request_id[33], path[2048];
	struct request req = { 0 };
	struct response resp;
	struct sink sink = { fcgi_sink_write, fr->out };
	char *body = NULL;
	struct timespec t0, t1;
	const char *uri;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pick_request_id(FCGX_GetParam("REQUEST_ID", fr->envp), request_id);
	log_set_request_id(request_id);
	resp_init(&resp, &sink, request_id);

	req.app = app;
	req.env = fr->envp;
	req.request_id = request_id;
	req.method_name = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	if (req.method_name == NULL)
		req.method_name = "GET";
	req.method = method_of(req.method_name);
	req.query = FCGX_GetParam("QUERY_STRING", fr->envp);
	if (req.query == NULL)
		req.query = "";
	/*
	 * nginx's DOCUMENT_URI is decoded and holds no query: a '?' in it was
	 * sent as %3F, and is kept, so that "/callback%3F" is no route here as it
	 * was none of the locations (and rate limits) nginx chose by path.
	 */
	if ((uri = FCGX_GetParam("DOCUMENT_URI", fr->envp)) != NULL) {
		snprintf(path, sizeof(path), "%s", uri);
	} else {
		uri = FCGX_GetParam("REQUEST_URI", fr->envp);
		snprintf(path, sizeof(path), "%s", uri ? uri : "/");
		path[strcspn(path, "?")] = '\0';
	}
	/* "/api/payment/" and "/api/payment" are the same resource. */
	size_t plen = strlen(path);
	if (plen > 1 && path[plen - 1] == '/')
		path[plen - 1] = '\0';
	req.path = path;

	if (read_body(fr, app->cfg->max_body_bytes, &body, &req.body_len, &resp) == 0) {
		req.body = body;
		app_handle(&req, &resp);
	}
	resp_finish(&resp);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_request(req.route_slot, resp.status,
	                (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000));
	log_request_done(req.method_name, req.path, resp.status,
	                 (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000),
	                 resp.failed);
	bool cut = resp.cut;
	resp_free(&resp);
	free(body);
	log_set_request_id(NULL);
	return cut;
}

/*
 * libfcgi ends a connection the careful way: it shuts down its sending side
 * and reads until nginx closes, so that input still unread can never turn
 * the close into a reset that loses the answer. That wait costs three more
 * system calls and a round of scheduling before the next accept. Here the
 * answer goes out whole first (closing the output streams sends the end of
 * the request, after which nginx, which keeps no connection, sends nothing
 * more), then the input is read to its end: the record that ends the body,
 * already here. With nothing left unread the connection is closed at once;
 * if the input did not end cleanly (nginx gone), the careful close runs.
 * FCGX_Detach is what tells libfcgi to skip it.
 *
 * An answer to be cut off must not end at all: nginx takes a FastCGI
 * connection that closes after some output for an answer that ended there.
 * FastCGI gives an application no way to abort, so the last thing sent is a
 * record nginx refuses (version 0): it logs the error and cuts its own answer
 * short, with no last chunk for HTTP/1.1 and a reset stream for HTTP/2.
 * Output libfcgi still buffers is dropped with the connection.
 */
static void finish(FCGX_Request *fr, bool cut)
{
	static const unsigned char refused[8] = { 0, FCGI_STDOUT, 0, 1, 0, 0, 0, 0 };
	char scratch[512];

	if (cut) {
		if (write(fr->ipcFd, refused, sizeof(refused)) < 0)
			log_info("cutting an answer off: nginx is gone already (%s)", strerror(errno));
		shutdown(fr->ipcFd, SHUT_RDWR);
	} else if (!fr->keepConnection) {
		FCGX_FClose(fr->err);
		FCGX_FClose(fr->out);
		while (FCGX_GetStr(scratch, sizeof(scratch), fr->in) > 0)
			;
		if (FCGX_HasSeenEOF(fr->in) == EOF && FCGX_GetError(fr->in) == 0)
			FCGX_Detach(fr);
	}
	FCGX_Finish_r(fr);
}

/* An epoll set on the listening socket that wakes one waiting worker per
 * connection, not all of them to race for one accept; a kernel without
 * EPOLLEXCLUSIVE (before 4.5) wakes them all, which is slower but correct. */
static int listen_events(int listen_fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		return -1;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) == 0)
		return ep;
	ev.events = EPOLLIN;
	if (errno == EINVAL && epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) == 0)
		return ep;
	close(ep);
	return -1;
}

int worker_run(int listen_fd, const struct config *cfg, time_t started)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t blocked, waiting;
	FCGX_Request fr;
	struct db db;
	struct app app = { .cfg = cfg, .db = &db, .started = started };
	long served = 0;
	int ep = -1, rc = 1;

	/*
	 * SIGTERM stays blocked while a request is served and is let in only
	 * inside epoll_pwait(): a drain never interrupts a request, and a signal sent
	 * just before the wait is not lost. SIGUSR1 is libfcgi's "finish and
	 * exit": its own handler would make every later accept fail at once while
	 * the listening socket stays readable, a worker spinning for ever, so
	 * ours replaces it (after FCGX_Init, which installs it) and does what
	 * it means: the worker ends like a recycled one.
	 */
	sigemptyset(&sa.sa_mask);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGUSR1);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	sigemptyset(&waiting);

	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, listen_fd, 0) != 0) {
		log_error("FastCGI initialisation failed");
		goto out;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	if ((ep = listen_events(listen_fd)) < 0) {
		log_error("epoll on the listening socket: %s", strerror(errno));
		goto out;
	}
	db_init(&db, cfg->database_url, cfg->db_connect_timeout, cfg->db_prepare);
	log_info("worker ready");
	rc = 0;

	while (!stopping && (cfg->max_requests == 0 || served < cfg->max_requests)) {
		struct epoll_event ready;
		int n = epoll_pwait(ep, &ready, 1, -1, &waiting);

		if (n < 0 && errno != EINTR) {
			log_error("epoll on the listening socket: %s", strerror(errno));
			rc = 1;
			break;
		}
		if (n <= 0 || stopping)
			continue;
		/* Another worker may still have taken the connection: that is EAGAIN, not an error. */
		n = FCGX_Accept_r(&fr);
		if (n < 0) {
			if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR || n == -ECONNABORTED)
				continue;
			/* Anything else would fail again on the next wake-up: a fresh worker is better than a spinning one. */
			log_error("accept failed (%d: %s); the worker ends", n, n > -4096 ? strerror(-n) : "libfcgi");
			rc = 1;
			break;
		}
		finish(&fr, serve(&fr, &app));
		served++;
	}
	if (rc == 0)
		log_info(stopping ? "worker drained after %ld requests" : "worker recycled after %ld requests",
		         served);
	db_close(&db);
out:
	if (ep >= 0)
		close(ep);
	return rc;
}
