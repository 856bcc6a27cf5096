/* The relay: the one reader that carries the outbox further, in two steps
 * a run repeats until both are done.
 *
 * 1. Sequence: events nobody has taken yet, oldest id first, get their
 *    place in the stream (stream_seq, and stream_prev, the event before in
 *    their room) and a delivery for each subscriber that wants them, in one
 *    transaction. An outbox id is taken before its transaction commits, so
 *    a smaller id may become visible after a larger one: numbering events
 *    as they are taken, instead of following ids, is what lets no event be
 *    skipped.
 * 2. Publish: sequenced events go to nginx's pub/sub in stream order, each
 *    marked relayed (with nginx's message id) once nginx took it. A relay
 *    that dies between the two publishes that event again: at-least-once,
 *    the outbox id being what consumers deduplicate by, and never out of
 *    order, since the next event waits for this one.
 *
 * Between runs the relay sleeps on LISTEN payment_events (the outbox's
 * NOTIFY) on a connection of its own, and runs at least every
 * jobs_relay_seconds should a notification be lost. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "base/room.h"
#include "jobs/jobs.h"
#include "jobs/stream.h"

/* The LISTEN connection: this process runs only the relay, so it is the process's. */
static PGconn *listener;
/* nginx refused the last publication: new events must not turn each NOTIFY into another failed try. */
static bool publish_failing;

static void listener_drop(void)
{
	PQfinish(listener);
	listener = NULL;
}

/* LISTEN before reading the outbox, so nothing committed after the read goes unannounced. */
static void listener_ensure(const struct config *cfg)
{
	PGresult *res;

	if (listener != NULL && PQstatus(listener) == CONNECTION_OK)
		return;
	listener_drop();
	/* Straight to PostgreSQL, like the leader locks: a transaction-mode pooler would lose LISTEN. */
	listener = PQconnectdb(cfg->jobs.lock_database_url);
	if (PQstatus(listener) != CONNECTION_OK) {
		log_warn("relay: cannot listen for new events (polling every %ds instead)", cfg->jobs.relay_seconds);
		listener_drop();
		return;
	}
	res = PQexec(listener, "LISTEN payment_events");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		listener_drop();
	PQclear(res);
}

void jobs_relay_wait(struct job_ctx *ctx, int seconds)
{
	struct pollfd pfd;
	PGnotify *n;
	bool woken = false;

	(void)ctx;
	if (listener == NULL || publish_failing) {
		/* No listener (PostgreSQL away), or nginx away: the runner's interval is the poll. */
		for (int i = 0; i < seconds && !jobs_stopping(); i++)
			poll(NULL, 0, 1000);
		return;
	}
	/* Notifications that came while the run was busy wake it at once. */
	PQconsumeInput(listener);
	while ((n = PQnotifies(listener)) != NULL) {
		woken = true;
		PQfreemem(n);
	}
	if (woken)
		return;
	pfd.fd = PQsocket(listener);
	pfd.events = POLLIN;
	if (poll(&pfd, 1, seconds * 1000) > 0) {
		if (!PQconsumeInput(listener)) {
			listener_drop();
			return;
		}
		while ((n = PQnotifies(listener)) != NULL)
			PQfreemem(n);
	}
}

/* `{a,b}`: subscriber names are [a-z0-9_], so the array literal needs no quoting. */
static void wanted_by(const struct config *cfg, const char *event, char *out, size_t len)
{
	size_t o = (size_t)snprintf(out, len, "{");

	for (size_t i = 0; i < cfg->subscribers.n && o < len; i++)
		if (config_subscriber_wants(&cfg->subscribers.list[i], event))
			o += (size_t)snprintf(out + o, len - o, "%s%s", o > 1 ? "," : "", cfg->subscribers.list[i].name);
	if (o < len)
		snprintf(out + o, len - o, "}");
}

/* Step 1; returns the number of events sequenced, or -1. */
static long sequence_batch(struct job_ctx *ctx)
{
	char limit[16], give_up[16], subs[CONFIG_MAX_SUBSCRIBERS * 26 + 4];
	const char *p[1] = { limit };
	PGresult *rows = NULL;
	long n = -1;

	snprintf(limit, sizeof(limit), "%d", ctx->cfg->jobs.batch);
	snprintf(give_up, sizeof(give_up), "%d", ctx->cfg->subscribers.give_up_seconds);
	if (db_begin(ctx->db) != DB_OK)
		return -1;
	/* After this point, all errors should use goto out. */
	if (db_exec(ctx->db, &rows,
	            "SELECT id, event FROM events WHERE stream_seq IS NULL ORDER BY id LIMIT $1::integer"
	            " FOR UPDATE", 1, p) != DB_OK)
		goto out;
	for (int i = 0; i < PQntuples(rows); i++) {
		const char *e[1] = { PQgetvalue(rows, i, 0) };
		const char *d[3] = { PQgetvalue(rows, i, 0), subs, give_up };

		if (db_exec(ctx->db, NULL,
		            "UPDATE events e SET stream_seq = nextval('events_stream_seq'),"
		            " stream_prev = (SELECT p.id FROM events p WHERE p.room = e.room"
		            "  AND p.stream_seq IS NOT NULL ORDER BY p.stream_seq DESC LIMIT 1)"
		            " WHERE e.id = $1::bigint AND e.stream_seq IS NULL", 1, e) != DB_OK)
			goto out;
		wanted_by(ctx->cfg, PQgetvalue(rows, i, 1), subs, sizeof(subs));
		if (strcmp(subs, "{}") != 0 &&
		    db_exec(ctx->db, NULL,
		            "INSERT INTO event_deliveries (event_id, subscriber, give_up_at)"
		            " SELECT $1::bigint, s, now() + make_interval(secs => $3::integer)"
		            " FROM unnest($2::text[]) AS s ON CONFLICT (subscriber, event_id) DO NOTHING",
		            3, d) != DB_OK)
			goto out;
	}
	if (db_commit(ctx->db) != DB_OK)
		goto out;
	n = PQntuples(rows);
out:
	db_rollback(ctx->db);
	PQclear(rows);
	return n;
}

static int mark_relayed(struct job_ctx *ctx, const char *id, const char *msg_id)
{
	const char *p[2] = { id, msg_id[0] ? msg_id : NULL };

	return db_exec(ctx->db, NULL,
	               "UPDATE events SET relayed_at = now(), stream_msg_id = $2"
	               " WHERE id = $1::bigint AND relayed_at IS NULL", 2, p) == DB_OK ? 0 : -1;
}

/* Step 2 for one batch; returns the number of events relayed, or -1 (res->errors says why). */
static long publish_batch(struct job_ctx *ctx, struct job_result *res)
{
	char limit[16], err[256], msg_id[STREAM_MSG_ID_MAX + 1];
	const char *p[1] = { limit };
	PGresult *rows = NULL;
	struct buf frame = BUF_INIT;
	long done = 0;
	int n;

	snprintf(limit, sizeof(limit), "%d", ctx->cfg->jobs.batch);
	if (db_exec(ctx->db, &rows,
	            "SELECT e.id, e.event, e.room, event_message(e)::text FROM events e"
	            " WHERE e.relayed_at IS NULL AND e.stream_seq IS NOT NULL ORDER BY e.stream_seq"
	            " LIMIT $1::integer", 1, p) != DB_OK)
		return -1;
	n = PQntuples(rows);
	for (int i = 0; i < n && jobs_continue(ctx); i++) {
		const char *id = PQgetvalue(rows, i, 0), *room = PQgetvalue(rows, i, 2);
		struct room r;

		msg_id[0] = '\0';
		/* service: rooms are for webhooks only; with publishing off, the stream is the outbox alone. */
		if (stream_enabled(ctx->cfg) && room_parse(room, &r) && room_is_public(&r)) {
			buf_reset(&frame);
			if (stream_frame(id, PQgetvalue(rows, i, 1), PQgetvalue(rows, i, 3), &frame) != STREAM_OK) {
				log_error("relay: event %s cannot be framed; it is marked relayed unpublished", id);
			} else if (stream_publish(ctx->cfg, room, &frame, msg_id, err, sizeof(err)) != STREAM_OK) {
				/* Order matters more than progress: the next event waits for this one. */
				log_warn("relay: publishing event %s failed: %s", id, err);
				publish_failing = true;
				res->errors++;
				res->backlog = n - i;
				done = -1;
				break;
			} else if (msg_id[0] == '\0') {
				log_warn("relay: event %s: %s; a subscription cannot resume from it", id, err);
			}
		}
		if (mark_relayed(ctx, id, msg_id) != 0) {
			res->errors++;
			done = -1;
			break;
		}
		done++;
	}
	buf_free(&frame);
	PQclear(rows);
	return done;
}

int jobs_relay(struct job_ctx *ctx, struct job_result *res)
{
	long n;

	listener_ensure(ctx->cfg);
	publish_failing = false;
	do {
		if ((n = sequence_batch(ctx)) < 0)
			return -1;
		res->seen += n;
	} while (n == ctx->cfg->jobs.batch && jobs_continue(ctx));
	do {
		if ((n = publish_batch(ctx, res)) < 0)
			return res->errors ? 0 : -1;
		res->changed += n;
	} while (n == ctx->cfg->jobs.batch && jobs_continue(ctx));
	return 0;
}
