/* Events for browsers: who may follow a room, the authorisation nginx asks
 * for before it holds a live stream (GET /events/authorize, reachable only
 * as nginx's auth subrequest), and the catch-up from the outbox
 * (GET /events?room=&after=) for what the stream's buffer no longer holds.
 * Both read events in stream order (stream_seq), the order the relay
 * published them in. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "base/room.h"

/*
 * Whether the caller may follow `name`: their own user room, the room of a
 * purchase request they are a party to (its buyer, a seller who offered,
 * or a party of one of its payments), admin and global for admins. 0, or
 * -1 with 400 (not a room a browser can follow), 403 or a database error
 * written.
 */
static int room_allowed(struct request *req, struct response *resp, const char *name, struct room *room)
{
	PGresult *res = NULL;
	enum db_status st;
	bool party;

	if (!room_parse(name, room) || !room_is_public(room)) {
		resp_error(resp, 400, "invalid_field", "room",
		           "room must be user:<id>, request:<id>, admin or global");
		return -1;
	}
	if (req_is_admin(req))
		return 0;
	switch (room->kind) {
	case ROOM_USER:
		if (strcmp(room->id, req->auth.sub) == 0)
			return 0;
		break;
	case ROOM_REQUEST: {
		const char *p[2] = { room->id, req->auth.sub };
		st = db_exec(req->app->db, &res,
		             "SELECT EXISTS (SELECT 1 FROM purchase_requests WHERE id = $1 AND buyer_id = $2)"
		             " OR EXISTS (SELECT 1 FROM seller_offers WHERE purchase_request_id = $1 AND seller_id = $2)"
		             " OR EXISTS (SELECT 1 FROM payments WHERE purchase_request_id = $1"
		             "            AND (buyer_id = $2 OR seller_id = $2))", 2, p);
		if (st != DB_OK) {
			resp_db_error(resp, st);
			return -1;
		}
		party = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (party)
			return 0;
		break;
	}
	case ROOM_ADMIN:
	case ROOM_GLOBAL:
	case ROOM_SERVICE:
		break;
	}
	resp_error(resp, 403, "forbidden", "room", "you may not follow %s", name);
	return -1;
}

/* An outbox id as a client sends it: 1 to 19 digits. */
static bool event_id_shape(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 19 && strspn(s, "0123456789") == n;
}

/* The stream cannot resume from what the client has: nginx answers 410 and the client catches up first. */
static void resume_refused(struct response *resp, const char *room, const char *why)
{
	resp_header(resp, "X-Stream-Gap", "1");
	resp_error(resp, 403, "stream_gap", "lastEventId",
	           "%s: catch up with GET /api/payment/events?room=%s&after=<last id>, then subscribe again",
	           why, room);
}

/*
 * nginx's auth subrequest for a subscription to /events/stream/<room>: the
 * room comes as STREAM_ROOM, the client's last event (Last-Event-ID or
 * ?last_event_id=) as STREAM_LAST_EVENT_ID, the token as usual. 200 lets the
 * subscription in, with X-Stream-Resume naming nginx's message to start
 * after when the client resumes; 403 with X-Stream-Gap when nginx's buffer
 * cannot hold everything since that event.
 */
void h_events_authorize(struct request *req, struct response *resp)
{
	const struct stream_conf *sc = &req->app->cfg->stream;
	const char *name = req_param(req, "STREAM_ROOM"), *last = req_param(req, "STREAM_LAST_EVENT_ID");
	char max[16], margin[16];
	PGresult *res = NULL;
	struct room room;
	enum db_status st;

	if (name == NULL || *name == '\0') {
		resp_error(resp, 400, "invalid_field", "room", "no room: this is nginx's subrequest for a stream");
		return;
	}
	if (room_allowed(req, resp, name, &room) != 0)
		return;
	json_object *data = json_object_new_object();
	json_object_object_add(data, "room", json_object_new_string(name));
	if (last == NULL || *last == '\0') {
		json_object_object_add(data, "resumeAfter", NULL);
		resp_ok(resp, 200, data, NULL);
		return;
	}
	if (!event_id_shape(last)) {
		json_object_put(data);
		resume_refused(resp, name, "the last event id is not an event id");
		return;
	}
	/* nginx's buffer keeps the last buffer_messages of a room, none older than buffer_seconds. */
	snprintf(max, sizeof(max), "%d", sc->buffer_messages + 1);
	snprintf(margin, sizeof(margin), "%d", sc->buffer_seconds > 120 ? sc->buffer_seconds - 60 : sc->buffer_seconds / 2);
	const char *p[4] = { last, name, max, margin };
	st = db_exec(req->app->db, &res,
	             "SELECT l.stream_msg_id,"
	             " (SELECT count(*) FROM (SELECT 1 FROM events a WHERE a.room = $2 AND a.stream_seq > l.stream_seq"
	             "   AND a.relayed_at IS NOT NULL ORDER BY a.stream_seq LIMIT $3::integer) m),"
	             " coalesce((SELECT a.relayed_at < now() - make_interval(secs => $4::integer) FROM events a"
	             "   WHERE a.room = $2 AND a.stream_seq > l.stream_seq AND a.relayed_at IS NOT NULL"
	             "   ORDER BY a.stream_seq LIMIT 1), false)"
	             " FROM events l WHERE l.id = $1::bigint AND l.room = $2 AND l.relayed_at IS NOT NULL", 4, p);
	if (st != DB_OK) {
		json_object_put(data);
		resp_db_error(resp, st);
		return;
	}
	long missed = PQntuples(res) ? atol(PQgetvalue(res, 0, 1)) : 0;
	bool known = PQntuples(res) == 1, has_id = known && !PQgetisnull(res, 0, 0);
	if (!known || (missed > 0 && (!has_id || missed >= sc->buffer_messages ||
	                              strcmp(PQgetvalue(res, 0, 2), "t") == 0))) {
		json_object_put(data);
		resume_refused(resp, name, known ? "the stream's buffer no longer holds every event since then"
		                                 : "no such event in this room");
		PQclear(res);
		return;
	}
	/* Nothing missed needs no resume point: the stream starts with the next event. */
	if (missed > 0)
		resp_header(resp, "X-Stream-Resume", "%s", PQgetvalue(res, 0, 0));
	json_object_object_add(data, "resumeAfter", json_object_new_int64(atoll(last)));
	resp_ok(resp, 200, data, NULL);
	PQclear(res);
}

/* The events of a room after `after`, as the stream carried them: for a client the stream's buffer cannot serve. */
void h_events_list(struct request *req, struct response *resp)
{
	char name[96], after[24], limit[16];
	PGresult *cur = NULL, *rows = NULL;
	struct room room;
	long a, l;
	int found = req_query(req, "room", name, sizeof(name));
	enum db_status st;

	if (found <= 0) {
		resp_error(resp, 400, "invalid_field", "room",
		           "room is required: user:<id>, request:<id>, admin or global");
		return;
	}
	if (room_allowed(req, resp, name, &room) != 0 ||
	    req_query_long(req, resp, "after", 0, 0, LONG_MAX, &a) != 0 ||
	    req_query_long(req, resp, "limit", 100, 1, 500, &l) != 0)
		return;
	snprintf(after, sizeof(after), "%ld", a);
	snprintf(limit, sizeof(limit), "%ld", l);
	const char *c[2] = { after, name };
	/* The cursor is an event of this room the client saw; its place in the stream is where to go on. */
	st = db_exec(req->app->db, &cur,
	             "SELECT (SELECT stream_seq FROM events WHERE id = $1::bigint AND room = $2 AND relayed_at IS NOT NULL),"
	             " (SELECT id FROM events WHERE room = $2 AND relayed_at IS NOT NULL ORDER BY stream_seq DESC LIMIT 1)",
	             2, c);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	if (a > 0 && PQgetisnull(cur, 0, 0)) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "room", json_object_new_string(name));
		json_object_object_add(d, "latest", PQgetisnull(cur, 0, 1) ? NULL :
		                       json_object_new_int64(atoll(PQgetvalue(cur, 0, 1))));
		resp_error_data(resp, 410, "cursor_unknown", "after", d,
		                "event %ld is not in %s's stream any more (or never was): load the state afresh, then follow from latest",
		                a, name);
		PQclear(cur);
		return;
	}
	const char *p[3] = { name, a > 0 ? PQgetvalue(cur, 0, 0) : "0", limit };
	st = db_exec(req->app->db, &rows,
	             "SELECT e.id, event_message(e)::text FROM events e WHERE e.room = $1 AND e.relayed_at IS NOT NULL"
	             " AND e.stream_seq > $2::bigint ORDER BY e.stream_seq LIMIT $3::integer", 3, p);
	PQclear(cur);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return;
	}
	json_object *data = json_object_new_object(), *list = json_object_new_array();
	int n = PQntuples(rows);
	for (int i = 0; i < n; i++)
		json_object_array_add(list, json_tokener_parse(PQgetvalue(rows, i, 1)));
	json_object_object_add(data, "room", json_object_new_string(name));
	json_object_object_add(data, "events", list);
	json_object_object_add(data, "nextAfter", json_object_new_int64(n ? atoll(PQgetvalue(rows, n - 1, 0)) : a));
	json_object_object_add(data, "more", json_object_new_boolean(n == l));
	resp_ok(resp, 200, data, NULL);
	PQclear(rows);
}
