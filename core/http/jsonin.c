#include "http/jsonin.h"

#include <stdio.h>
#include <string.h>

#include "base/jstr.h"

void jin_fault(struct response *resp, const struct json_fault *f, const char *what)
{
	switch (f->kind) {
	case JSON_FAULT_NUL:
	case JSON_FAULT_SURROGATE:
	case JSON_FAULT_NUMBER:
		if (f->path[0]) {
			resp_error(resp, 400, "invalid_field", f->path, "%s %s", f->path, json_fault_text(f->kind));
			return;
		}
		resp_error(resp, 400, "invalid_json", NULL, "%s %s", what, json_fault_text(f->kind));
		return;
	case JSON_FAULT_DUPLICATE:
	case JSON_FAULT_DEPTH:
		resp_error(resp, 400, "invalid_json", NULL, "%s %s (at most %d levels)", what,
		           json_fault_text(f->kind), JSON_MAX_DEPTH);
		return;
	default:
		resp_error(resp, 400, "invalid_json", NULL,
		           "%s is not valid JSON (RFC 8259: double-quoted strings, no control characters "
		           "in strings, UTF-8, one value; byte %zu)", what, f->offset);
	}
}

json_object *jin_body(const struct request *req, struct response *resp)
{
	struct json_fault fault;
	json_object *obj;
	const char *ctype = req_param(req, "CONTENT_TYPE");

	if (ctype && *ctype && !req_media_type_is_json(ctype)) {
		resp_error(resp, 415, "unsupported_media_type", NULL,
		           "the body must be application/json (UTF-8)");
		return NULL;
	}
	if (req->body_len == 0) {
		resp_error(resp, 400, "invalid_json", NULL, "a JSON object body is required");
		return NULL;
	}
	if (ctype == NULL || *ctype == '\0') {
		resp_error(resp, 415, "unsupported_media_type", NULL,
		           "the body must be declared Content-Type: application/json");
		return NULL;
	}
	obj = json_strict_parse(req->body, req->body_len, JSON_MAX_DEPTH, &fault);
	if (fault.kind != JSON_FAULT_NONE) {
		jin_fault(resp, &fault, "the body");
		return NULL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		resp_error(resp, 400, "invalid_json", NULL, "the body must be a JSON object");
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static int bad(struct response *resp, const char *prefix, const char *name, const char *what)
{
	char field[128];

	snprintf(field, sizeof(field), "%s%s", prefix ? prefix : "", name);
	resp_error(resp, 400, "invalid_field", field, "%s %s", field, what);
	return -1;
}

static int check_string(const struct jfield *f, json_object *v, struct jval *out)
{
	/* An embedded NUL would make the C string disagree with the JSON one. */
	if ((out->str = jstr(v)) == NULL)
		return -1;
	switch (f->kind) {
	case JK_ID: return valid_id(out->str) ? 0 : -1;
	case JK_UUID: return valid_uuid(out->str) ? 0 : -1;
	case JK_TXHASH: return valid_tx_hash(out->str) ? 0 : -1;
	case JK_ADDRESS: return valid_address(out->str) ? 0 : -1;
	case JK_NETWORK: return valid_network(out->str) ? 0 : -1;
	case JK_CURRENCY: return valid_currency(out->str) ? 0 : -1;
	case JK_ENUM:
		for (const char *const *c = f->choices; *c; c++)
			if (strcmp(*c, out->str) == 0)
				return 0;
		return -1;
	default:
		return (long long)strlen(out->str) <= (f->max ? f->max : 1024) ? 0 : -1;
	}
}

/* Is v (a container at nesting level `depth`) within JIN_OBJECT_MAX_DEPTH levels and, counting into *values, JIN_OBJECT_MAX_VALUES values? */
static bool within(json_object *v, int depth, size_t *values)
{
	if (json_object_is_type(v, json_type_object)) {
		if (depth > JIN_OBJECT_MAX_DEPTH)
			return false;
		json_object_object_foreach(v, key, child) {
			(void)key;
			if (++*values > JIN_OBJECT_MAX_VALUES || !within(child, depth + 1, values))
				return false;
		}
	} else if (json_object_is_type(v, json_type_array)) {
		if (depth > JIN_OBJECT_MAX_DEPTH)
			return false;
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (++*values > JIN_OBJECT_MAX_VALUES || !within(json_object_array_get_idx(v, i), depth + 1, values))
				return false;
	}
	return true;
}

static const char *kind_expectation(const struct jfield *f, char *buf, size_t len)
{
	switch (f->kind) {
	case JK_ID: return "must be an id of 1 to 64 letters, digits, '_' or '-'";
	case JK_UUID: return "must be a payment id (UUID)";
	case JK_STRING: snprintf(buf, len, "must be a string of at most %lld bytes", f->max ? f->max : 1024); return buf;
	case JK_TXHASH: return "must be a transaction hash: 0x and 64 hex digits";
	case JK_ADDRESS: return "must be an address: 0x and 40 hex digits";
	case JK_NETWORK: return "must be one of: bsc, ethereum";
	case JK_CURRENCY: return "must be a currency code such as USDT";
	case JK_OBJECT:
		snprintf(buf, len, "must be an object of at most %lld bytes, %d levels and %d members and elements",
		         f->max, JIN_OBJECT_MAX_DEPTH, JIN_OBJECT_MAX_VALUES);
		return buf;
	case JK_INT: snprintf(buf, len, "must be a whole number from %lld to %lld", f->min, f->max); return buf;
	case JK_BOOL: return "must be true or false";
	case JK_ENUM: {
		size_t o = (size_t)snprintf(buf, len, "must be one of:");
		for (const char *const *c = f->choices; *c && o < len; c++)
			o += (size_t)snprintf(buf + o, len - o, "%s %s", c == f->choices ? "" : ",", *c);
		return buf;
	}
	default: return "is invalid";
	}
}

int jin_check(const struct jfield *spec, size_t n, json_object *obj, const char *prefix,
              struct jval *out, struct response *resp)
{
	char expect[256];

	if (!json_object_is_type(obj, json_type_object)) {
		char name[64];
		snprintf(name, sizeof(name), "%.*s", prefix ? (int)strlen(prefix) - 1 : 0, prefix ? prefix : "");
		resp_error(resp, 400, "invalid_field", name, "%s must be an object", name);
		return -1;
	}
	json_object_object_foreach(obj, key, val) {
		size_t i;
		(void)val;
		for (i = 0; i < n; i++)
			if (strcmp(spec[i].name, key) == 0)
				break;
		if (i == n) {
			char field[128];
			snprintf(field, sizeof(field), "%s%.64s", prefix ? prefix : "", key);
			resp_error(resp, 400, "unknown_field", field, "unknown field %s", field);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct jfield *f = &spec[i];
		json_object *v = NULL;
		struct jval *o = &out[i];

		memset(o, 0, sizeof(*o));
		if (!json_object_object_get_ex(obj, f->name, &v) || v == NULL) {
			if (f->required)
				return bad(resp, prefix, f->name, "is required");
			continue;
		}
		o->present = true;
		o->obj = v;
		switch (f->kind) {
		case JK_AMOUNT: {
			enum money_err e = money_from_json(v, MONEY_MAX_SCALE, o->amount);
			if (e != MONEY_OK)
				return bad(resp, prefix, f->name, money_strerror(e));
			break;
		}
		case JK_OBJECT: {
			size_t values = 0;
			if (!json_object_is_type(v, json_type_object) || !within(v, 1, &values) ||
			    strlen(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) > (size_t)f->max)
				return bad(resp, prefix, f->name, kind_expectation(f, expect, sizeof(expect)));
			break;
		}
		case JK_INT:
			if (!json_object_is_type(v, json_type_int) ||
			    json_object_get_int64(v) < f->min || json_object_get_int64(v) > f->max)
				return bad(resp, prefix, f->name, kind_expectation(f, expect, sizeof(expect)));
			o->num = json_object_get_int64(v);
			break;
		case JK_BOOL:
			if (!json_object_is_type(v, json_type_boolean))
				return bad(resp, prefix, f->name, kind_expectation(f, expect, sizeof(expect)));
			o->num = json_object_get_boolean(v) ? 1 : 0;
			break;
		case JK_ANY:
			break;
		default:
			if (check_string(f, v, o) != 0)
				return bad(resp, prefix, f->name, kind_expectation(f, expect, sizeof(expect)));
		}
	}
	return 0;
}

int jin_optional(const struct request *req, struct response *resp, const struct jfield *spec,
                 size_t n, struct jval *out, json_object **body)
{
	memset(out, 0, n * sizeof(*out));
	*body = NULL;
	if (req->body_len == 0)
		return 0;
	if ((*body = jin_body(req, resp)) == NULL)
		return -1;
	return jin_check(spec, n, *body, NULL, out, resp);
}
