#include "router.h"

#include <string.h>

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
			if (slen == 0 || slen > ID_MAX || n == REQ_MAX_PARAMS)
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

enum route_match router_find(const struct route *routes, size_t n, struct request *req,
                             const struct route **found)
{
	enum route_match result = ROUTE_NOT_FOUND;
	struct request scratch;

	for (size_t i = 0; i < n; i++) {
		/* Path parameter names point into the pattern; param names end at '/'. */
		scratch = *req;
		if (!match(routes[i].pattern, req->path, &scratch))
			continue;
		if (routes[i].method != req->method) {
			result = ROUTE_BAD_METHOD;
			continue;
		}
		*req = scratch;
		*found = &routes[i];
		return ROUTE_FOUND;
	}
	return result;
}
