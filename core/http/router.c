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

/*
 * Matches one pattern against a path, a character at a time: most patterns
 * differ from the path a few characters after "/api/payment/", and every
 * request tries them all. Fills params only on success.
 */
static bool match(const char *pattern, const char *path, struct request *req)
{
	const char *names[REQ_MAX_PARAMS];
	const char *values[REQ_MAX_PARAMS];
	size_t lens[REQ_MAX_PARAMS], n = 0;
	bool segment_start = false;

	for (;;) {
		if (segment_start && *pattern == ':') {
			size_t nlen = strcspn(pattern + 1, "/"), slen = strcspn(path, "/");
			if (slen == 0 || slen > ID_MAX || n == REQ_MAX_PARAMS ||
			    !param_shape(pattern + 1, nlen, path, slen))
				return false;
			names[n] = pattern + 1;
			values[n] = path;
			lens[n++] = slen;
			pattern += 1 + nlen;
			path += slen;
			segment_start = false;
			continue;
		}
		if (*pattern != *path)
			return false;
		if (*pattern == '\0')
			break;
		segment_start = *pattern == '/';
		pattern++, path++;
	}
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
static enum route_match find_kind(const struct route *routes, size_t n, bool literal, unsigned skip,
                                  struct request *req, const struct route **found, char allow[64])
{
	enum route_match result = ROUTE_NOT_FOUND;
	size_t used = 0;

	for (size_t i = 0; i < n; i++) {
		if ((routes[i].flags & skip) || is_literal(routes[i].pattern) != literal ||
		    !match(routes[i].pattern, req->path, req))
			continue;
		if (routes[i].method == req->method) {
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

enum route_match router_find(const struct route *routes, size_t n, unsigned skip, struct request *req,
                             const struct route **found, char allow[64])
{
	enum route_match m;

	if (allow)
		allow[0] = '\0';
	m = find_kind(routes, n, true, skip, req, found, allow);
	if (m != ROUTE_NOT_FOUND)
		return m;
	return find_kind(routes, n, false, skip, req, found, allow);
}
