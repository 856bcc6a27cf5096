#include "jobs/stream.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "base/httpc.h"

/* nginx is on this host: anything slower than this is nginx in trouble, and the relay tries again. */
#define PUBLISH_CONNECT_MS 1000
#define PUBLISH_TIMEOUT_MS 5000

bool stream_enabled(const struct config *cfg)
{
	return cfg->stream.publisher_socket[0] != '\0' || cfg->stream.publisher_url[0] != '\0';
}

enum stream_err stream_frame(const char *id, const char *event, const char *data, struct buf *out)
{
	if (*id == '\0' || strspn(id, "0123456789") != strlen(id) || *event == '\0' ||
	    strpbrk(event, "\r\n") != NULL || strpbrk(data, "\r\n") != NULL)
		return STREAM_BAD_EVENT;
	buf_printf(out, "id: %s\nevent: %s\ndata: %s\n", id, event, data);
	return STREAM_OK;
}

bool stream_parse_msg_id(const char *answer, size_t len, char out[STREAM_MSG_ID_MAX + 1])
{
	json_tokener *tok = json_tokener_new();
	json_object *root = json_tokener_parse_ex(tok, answer, (int)len), *id;
	const char *s, *colon;
	bool ok = false;

	out[0] = '\0';
	if (root && json_object_object_get_ex(root, "last_message_id", &id) &&
	    json_object_is_type(id, json_type_string)) {
		s = json_object_get_string(id);
		colon = strchr(s, ':');
		/* One channel per publication, so one tag: "<seconds>:<tag>". */
		ok = colon && colon > s && colon - s <= 20 && strlen(colon + 1) >= 1 && strlen(colon + 1) <= 6 &&
		     strspn(s, "0123456789") == (size_t)(colon - s) &&
		     strspn(colon + 1, "0123456789") == strlen(colon + 1);
		if (ok)
			snprintf(out, STREAM_MSG_ID_MAX + 1, "%s", s);
	}
	json_object_put(root);
	json_tokener_free(tok);
	return ok;
}

enum stream_err stream_publish(const struct config *cfg, const char *room, const struct buf *frame,
                               char msg_id[STREAM_MSG_ID_MAX + 1], char *err, size_t errlen)
{
	static const char *const headers[] = { "Content-Type: text/event-stream", "Accept: application/json", NULL };
	const struct stream_conf *sc = &cfg->stream;
	char url[512];
	struct httpc_request rq = {
		.method = "POST", .url = url, .headers = headers, .body = frame->data, .body_len = frame->len,
		.connect_timeout_ms = PUBLISH_CONNECT_MS, .timeout_ms = PUBLISH_TIMEOUT_MS, .max_response = 4096,
		.unix_socket = sc->publisher_socket[0] ? sc->publisher_socket : NULL,
	};
	struct httpc_response rs = { 0, BUF_INIT };
	enum httpc_err he;
	enum stream_err rc = STREAM_UNAVAILABLE;

	msg_id[0] = '\0';
	/* The room is in the path as it is: its shape (checked by the schema) needs no escaping. */
	snprintf(url, sizeof(url), "%s/pub/%s", sc->publisher_socket[0] ? "http://localhost" : sc->publisher_url,
	         room);
	he = httpc_do(&rq, &rs, err, errlen);
	if (he != HTTPC_OK)
		goto out;
	/* 201: someone was listening; 202: kept for whoever comes. */
	if (rs.status != 201 && rs.status != 202) {
		snprintf(err, errlen, "the stream publisher answered HTTP %ld", rs.status);
		goto out;
	}
	if (!stream_parse_msg_id(rs.body.data ? rs.body.data : "", rs.body.len, msg_id))
		snprintf(err, errlen, "the stream publisher's answer carries no message id");
	rc = STREAM_OK;
out:
	buf_free(&rs.body);
	return rc;
}
