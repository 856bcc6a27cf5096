#include "http/req.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int req_query(const struct request *req, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = req->query;

	while (p && *p) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);

		if ((size_t)(end - p) >= nlen && strncmp(p, name, nlen) == 0 &&
		    (p[nlen] == '=' || p + nlen == end)) {
			const char *v = p[nlen] == '=' ? p + nlen + 1 : end;
			size_t o = 0;

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
	char text[24], *end;
	int found = req_query(req, name, text, sizeof(text));

	*out = dflt;
	if (found == 0)
		return 0;
	long v = found > 0 ? strtol(text, &end, 10) : 0;
	if (found < 0 || *text == '\0' || *end != '\0' || v < min || v > max) {
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
