#include "http/router.h"

#include <stdio.h>
#include <string.h>

/*
 * Does a path segment look like what the parameter names? A payment (`:id`,
 * `:paymentId`) is a UUID and a stored delivery (`:deliveryId`) a number, so
 * "/api/payment/nonsense" names no payment and is an unknown path (404) for
 * everyone, before any token is looked at. Other parameters take any segment
 * and are checked where they are used.
 */
static bool param_shape(const char *name, size_t nlen, const char *value, size_t vlen)
{
	char v[ID_MAX + 1];

	memcpy(v, value, vlen);
	v[vlen] = '\0';
	if ((nlen == 2 && strncmp(name, "id", 2) == 0) || (nlen == 9 && strncmp(name, "paymentId", 9) == 0))
		return valid_uuid(v);
	if (nlen == 10 && strncmp(name, "deliveryId", 10) == 0)
		return vlen <= 18 && strspn(v, "0123456789") == vlen;
	return true;
}

/* Matches one pattern against a path; fills params only on success. */
static bool match(const char *pattern, const char *path, struct request *req)
{
	const char *names[REQ_MAX_PARAMS];
	const char *values[REQ_MAX_PARAMS];
	size_t lens[REQ_MAX_PARAMS], n = 0;

	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++, path++;
		size_t plen = strcspn(pattern, "/"), slen = strcspn(path, "/");
		if (*pattern == ':') {
			if (slen == 0 || slen > ID_MAX || n == REQ_MAX_PARAMS ||
			    !param_shape(pattern + 1, plen - 1, path, slen))
				return false;
			names[n] = pattern + 1;
			values[n] = path;
			lens[n++] = slen;
		} else if (plen != slen || strncmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern += plen;
		path += slen;
	}
	if (*pattern || *path)
		return false;
	for (size_t i = 0; i < n; i++) {
		req->param_name[i] = names[i];
		memcpy(req->param_value[i], values[i], lens[i]);
		req->param_value[i][lens[i]] = '\0';
	}
	req->n_params = n;
	return true;
}

const char *http_method_name(enum http_method m)
{
	static const char *const names[] = { "GET", "POST", "PUT", "DELETE", "PATCH", "OTHER" };
	return names[m];
}

static bool is_literal(const char *pattern)
{
	return strchr(pattern, ':') == NULL;
}

/* One pass over the routes of one kind (literal or with parameters). */
static enum route_match find_kind(const struct route *routes, size_t n, bool literal,
                                  struct request *req, const struct route **found, char allow[64])
{
	enum route_match result = ROUTE_NOT_FOUND;
	struct request scratch;
	size_t used = 0;

	for (size_t i = 0; i < n; i++) {
		if (is_literal(routes[i].pattern) != literal)
			continue;
		scratch = *req;
		if (!match(routes[i].pattern, req->path, &scratch))
			continue;
		if (routes[i].method == req->method) {
			*req = scratch;
			*found = &routes[i];
			return ROUTE_FOUND;
		}
		result = ROUTE_BAD_METHOD;
		if (allow && used < 56)
			used += (size_t)snprintf(allow + used, 64 - used, "%s%s", used ? ", " : "",
			                         http_method_name(routes[i].method));
	}
	return result;
}

enum route_match router_find(const struct route *routes, size_t n, struct request *req,
                             const struct route **found, char allow[64])
{
	enum route_match m;

	if (allow)
		allow[0] = '\0';
	m = find_kind(routes, n, true, req, found, allow);
	if (m != ROUTE_NOT_FOUND)
		return m;
	return find_kind(routes, n, false, req, found, allow);
}
