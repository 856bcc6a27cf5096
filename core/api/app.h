/* app: the entry of every request. app_handle() finds the route, enforces
 * what the route table says (method, access, dev-only, the database being
 * up), calls the handler and makes sure no transaction outlives it. The
 * struct app is what a worker holds for its whole life; fcgi/ fills it and
 * hands requests in, so nothing below the api layer knows about processes.
 */
#ifndef PAY_APP_H
#define PAY_APP_H

#include <time.h>

#include "base/config.h"
#include "base/db.h"
#include "http/req.h"

#define PAYMENTS_VERSION "0.1.0"

/* What a worker process holds for its whole life. */
struct app {
	const struct config *cfg;
	struct db *db;
	time_t started;
};

/* Routes one request and fills the response. Never fails: errors are responses. */
void app_handle(struct request *req, struct response *resp);

#endif
