#include "http/jsonin.h"

#include <stdio.h>
#include <string.h>

#include "http/jsoncheck.h"

json_object *jin_body(const struct request *req, struct response *resp)
{
	json_tokener *tok;
	json_object *obj;
	const char *ctype = req_param(req, "CONTENT_TYPE");

	if (ctype && *ctype && strncasecmp(ctype, "application/json", 16) != 0) {
		resp_error(resp, 415, "unsupported_media_type", NULL,
		           "the body must be application/json");
		return NULL;
	}
	if (req->body_len == 0) {
		resp_error(resp, 400, "invalid_json", NULL, "a JSON object body is required");
		return NULL;
	}
	if (!json_strict_valid(req->body, req->body_len, JSON_MAX_DEPTH)) {
		resp_error(resp, 400, "invalid_json", NULL,
		           "the body is not valid JSON (RFC 8259: double-quoted strings, no control "
		           "characters in strings, UTF-8, at most %d levels deep)", JSON_MAX_DEPTH);
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, req->body, (int)req->body_len);
	if (obj == NULL || json_tokener_get_parse_end(tok) != req->body_len) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		resp_error(resp, 400, "invalid_json", NULL, "the body is not valid JSON: %s",
		           obj ? "trailing data after the value" : json_tokener_error_desc(jerr));
		json_object_put(obj);
		obj = NULL;
	} else if (!json_object_is_type(obj, json_type_object)) {
		resp_error(resp, 400, "invalid_json", NULL, "the body must be a JSON object");
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
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
	if (!json_object_is_type(v, json_type_string))
		return -1;
	out->str = json_object_get_string(v);
	/* An embedded NUL would make the C string disagree with the JSON one. */
	if (strlen(out->str) != (size_t)json_object_get_string_len(v))
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
	case JK_OBJECT: snprintf(buf, len, "must be an object of at most %lld bytes", f->max); return buf;
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
		case JK_OBJECT:
			if (!json_object_is_type(v, json_type_object) ||
			    strlen(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) > (size_t)f->max)
				return bad(resp, prefix, f->name, kind_expectation(f, expect, sizeof(expect)));
			break;
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
