#include "http/req.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *req_param(const struct request *req, const char *name)
{
	size_t n = strlen(name);

	if (req->env == NULL)
		return NULL;
	for (char **p = req->env; *p; p++)
		if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

const char *req_header(const struct request *req, const char *name)
{
	const char *v = req_param(req, name);

	return v && *v ? v : NULL;
}

const char *req_path_param(const struct request *req, const char *name)
{
	size_t n = strlen(name);

	/* Names point into the route pattern, so each ends at '/' or at its end. */
	for (size_t i = 0; i < req->n_params; i++)
		if (strncmp(req->param_name[i], name, n) == 0 &&
		    (req->param_name[i][n] == '\0' || req->param_name[i][n] == '/'))
			return req->param_value[i];
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The `name=value` (or bare `name`) part of the query at p..end names `name`. */
static bool query_names(const char *p, const char *end, const char *name, size_t nlen)
{
	return (size_t)(end - p) >= nlen && strncmp(p, name, nlen) == 0 && (p[nlen] == '=' || p + nlen == end);
}

int req_query(const struct request *req, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = req->query;

	while (p && *p) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);

		if (query_names(p, end, name, nlen)) {
			const char *v = p[nlen] == '=' ? p + nlen + 1 : end;
			size_t o = 0;

			for (const char *q = amp ? amp + 1 : NULL; q && *q;) {
				const char *qamp = strchr(q, '&'), *qend = qamp ? qamp : q + strlen(q);
				if (query_names(q, qend, name, nlen))
					return -1;
				q = qamp ? qamp + 1 : NULL;
			}

			for (; v < end; v++) {
				int c = (unsigned char)*v;
				if (c == '+')
					c = ' ';
				else if (c == '%') {
					if (end - v < 3)
						return -1;
					int hi = hexval((unsigned char)v[1]);
					int lo = hexval((unsigned char)v[2]);
					if (hi < 0 || lo < 0)
						return -1;
					c = hi * 16 + lo;
					v += 2;
				}
				if (c == 0 || o + 1 >= outlen)
					return -1;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

bool req_is_admin(const struct request *req)
{
	return req->auth.ok && req->auth.role == ROLE_ADMIN;
}

bool req_may_see(const struct request *req, const char *user_id)
{
	return req_is_admin(req) ||
	       (req->auth.ok && user_id != NULL && strcmp(req->auth.sub, user_id) == 0);
}

int req_query_long(struct request *req, struct response *resp, const char *name, long dflt,
                   long min, long max, long *out)
{
	char text[24];
	int found = req_query(req, name, text, sizeof(text));
	size_t len = found > 0 ? strlen(text) : 0;

	*out = dflt;
	if (found == 0)
		return 0;
	/* Plain digits only: strtol would also take a sign and leading blanks. 18 digits fit a long. */
	bool digits = len > 0 && len <= 18 && strspn(text, "0123456789") == len;
	long v = digits ? strtol(text, NULL, 10) : 0;
	if (found < 0 || !digits || v < min || v > max) {
		resp_error(resp, 400, "invalid_field", name, "%s must be a whole number from %ld to %ld",
		           name, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int req_page(struct request *req, struct response *resp, long dflt, char limit[16],
             char offset[24])
{
	long l, o;

	if (req_query_long(req, resp, "limit", dflt, 1, 100, &l) != 0 ||
	    req_query_long(req, resp, "offset", 0, 0, 1000000000L, &o) != 0)
		return -1;
	snprintf(limit, 16, "%ld", l);
	snprintf(offset, 24, "%ld", o);
	return 0;
}

/* RFC 9110 tchar. */
static bool tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * One parameter value at p (a token or a quoted-string); copies up to 15 bytes
 * of it, unescaped, into val. Returns the byte after it, or NULL if malformed.
 */
static const char *param_value(const char *p, char val[16])
{
	size_t o = 0;

	if (*p != '"') {
		const char *start = p;
		while (tchar((unsigned char)*p))
			p++;
		if (p == start)
			return NULL;
		snprintf(val, 16, "%.*s", (int)(p - start), start);
		return p;
	}
	for (p++; *p != '"'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\\' && p[1] != '\0' && p[1] != '\r' && p[1] != '\n')
			c = (unsigned char)*++p;
		else if (c == '\0' || c == 0x7f || (c < 0x20 && c != '\t') || c == '\\')
			return NULL;
		if (o < 15)
			val[o++] = (char)c;
	}
	val[o] = '\0';
	return p + 1;
}

bool req_media_type_is_json(const char *v)
{
	const char *p = skip_ows(v);

	if (strncasecmp(p, "application/json", 16) != 0 || tchar((unsigned char)p[16]))
		return false;
	for (p += 16;;) {
		const char *name;
		size_t nlen;
		char val[16];

		p = skip_ows(p);
		if (*p == '\0')
			return true;
		if (*p++ != ';')
			return false;
		p = skip_ows(p);
		if (*p == '\0' || *p == ';')
			continue;       /* RFC 9110 allows an empty parameter */
		for (name = p; tchar((unsigned char)*p); p++)
			;
		nlen = (size_t)(p - name);
		if (nlen == 0 || *p++ != '=' || (p = param_value(p, val)) == NULL)
			return false;
		/* JSON is UTF-8 (RFC 8259 §8.1): a body declared in another charset is not ours to read. */
		if (nlen == 7 && strncasecmp(name, "charset", 7) == 0 &&
		    strcasecmp(val, "utf-8") != 0 && strcasecmp(val, "utf8") != 0)
			return false;
	}
}

bool req_body_is_json(const struct request *req)
{
	const char *ct = req_param(req, "CONTENT_TYPE");

	return ct != NULL && req_media_type_is_json(ct);
}
