#include "http/jsoncheck.h"

#include <stdio.h>
#include <string.h>

/* Deeper than any input this service reads; max_depth is clamped to it. */
#define FRAMES_MAX 64

/* One open container: where its current member name is, or which element we are at. */
struct frame {
	bool object;
	const unsigned char *key;   /* the raw member name (between its quotes), objects only */
	size_t keylen;
	long index;                 /* arrays: the element being read */
};

struct scan {
	const unsigned char *start, *p, *end;
	int depth, max_depth;
	size_t members;
	struct frame frames[FRAMES_MAX];
	struct json_fault fault;    /* the first value fault, kept while the syntax check goes on */
	bool key_fault;             /* a fault now is in the member name being read */
};

/* Appends one member name to the path, escapes and unusual bytes shown as '?'. */
static size_t path_name(char *out, size_t o, const unsigned char *k, size_t n)
{
	size_t shown = 0;

	for (size_t i = 0; i < n && o + 1 < JSON_PATH_MAX && shown < 64; i++, shown++) {
		unsigned char c = k[i];
		if (c == '\\')
			i += i + 1 < n && k[i + 1] == 'u' ? 5 : 1;
		out[o++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		           c == '_' || c == '-' ? (char)c : '?';
	}
	return o;
}

/* The length of the member name starting at k, up to its closing quote (escapes skipped). */
static size_t name_length(const unsigned char *k, const unsigned char *end)
{
	const unsigned char *p = k;

	while (p < end && *p != '"')
		p += *p == '\\' && p + 1 < end ? 2 : 1;
	return (size_t)(p - k);
}

/* Records the first value fault, with the path of the members it sits in. */
static void value_fault(struct scan *s, enum json_fault_kind kind)
{
	char *out = s->fault.path;
	size_t o = 0;

	if (s->fault.kind != JSON_FAULT_NONE)
		return;
	s->fault.kind = kind;
	s->fault.offset = (size_t)(s->p - s->start);
	for (int i = 0; i < s->depth; i++) {
		const struct frame *f = &s->frames[i];
		if (f->object) {
			/* In a member name being read, the member is that name: measure it. */
			size_t n = s->key_fault && i == s->depth - 1 ? name_length(f->key, s->end) : f->keylen;
			if (o && o + 1 < JSON_PATH_MAX)
				out[o++] = '.';
			o = path_name(out, o, f->key, n);
		} else if (o + 24 < JSON_PATH_MAX) {
			o += (size_t)snprintf(out + o, JSON_PATH_MAX - o, "[%ld]", f->index);
		}
	}
	out[o] = '\0';
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at p, or -1. */
static long hex4(const unsigned char *p, const unsigned char *end)
{
	long v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int d = hex_digit(p[i]);
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* One UTF-8 sequence starting at s->p (a byte >= 0x80): shortest form, no surrogates. */
static bool utf8(struct scan *s)
{
	unsigned char c = *s->p;
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
	unsigned long cp;

	if (n == 0 || c > 0xf4 || (size_t)(s->end - s->p) < n)
		return false;
	cp = c & (0x3f >> (n - 1));
	for (size_t i = 1; i < n; i++) {
		if ((s->p[i] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (s->p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return false;
	s->p += n;
	return true;
}

/* A \u escape at s->p (on the 'u'): U+0000 and unpaired surrogates are value faults. */
static bool unicode_escape(struct scan *s)
{
	long cp = hex4(s->p + 1, s->end);

	if (cp < 0)
		return false;
	if (cp == 0)
		value_fault(s, JSON_FAULT_NUL);
	s->p += 5;
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		value_fault(s, JSON_FAULT_SURROGATE);
	} else if (cp >= 0xd800 && cp <= 0xdbff) {
		long low = s->end - s->p >= 2 && s->p[0] == '\\' && s->p[1] == 'u' ? hex4(s->p + 2, s->end) : -1;
		if (low >= 0xdc00 && low <= 0xdfff)
			s->p += 6;
		else
			value_fault(s, JSON_FAULT_SURROGATE);
	}
	return true;
}

static bool string(struct scan *s)
{
	s->p++;     /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;
		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++s->p == s->end)
				return false;
			if (*s->p == 'u') {
				if (!unicode_escape(s))
					return false;
			} else if (strchr("\"\\/bfnrt", *s->p) != NULL && *s->p) {
				s->p++;
			} else {
				return false;
			}
		} else if (c >= 0x80) {
			if (!utf8(s))
				return false;
		} else {
			s->p++;
		}
	}
	return false;
}

static size_t digits(struct scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return (size_t)(s->p - start);
}

/* Does the integer literal [p, p + n) (digits, no sign) exceed `limit` (same form)? */
static bool beyond(const unsigned char *p, size_t n, const char *limit)
{
	size_t ln = strlen(limit);

	return n != ln ? n > ln : memcmp(p, limit, n) > 0;
}

static bool number(struct scan *s)
{
	const unsigned char *start = s->p, *int_start;
	bool negative = false, plain = true;
	size_t int_len, exp_len;
	long exponent = 0;

	if (*s->p == '-') {
		negative = true;
		s->p++;
	}
	int_start = s->p;
	if (s->p < s->end && *s->p == '0')
		s->p++;     /* no leading zeros: "01" is not JSON */
	else if (digits(s) == 0)
		return false;
	int_len = (size_t)(s->p - int_start);
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		plain = false;
		if (digits(s) == 0)
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		plain = false;
		/* The bound is the same both ways: 1e-400 is as far from any reader as 1e400. */
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		const unsigned char *exp_start = s->p;
		if ((exp_len = digits(s)) == 0)
			return false;
		for (size_t i = 0; i < exp_len && exponent <= JSON_EXPONENT_MAX; i++)
			exponent = exponent * 10 + (exp_start[i] - '0');
	}
	/* json-c holds integers from INT64_MIN to UINT64_MAX and clamps the rest. */
	if ((size_t)(s->p - start) > JSON_NUMBER_MAX_LEN || exponent > JSON_EXPONENT_MAX ||
	    (plain && beyond(int_start, int_len, negative ? "9223372036854775808" : "18446744073709551615")))
		value_fault(s, JSON_FAULT_NUMBER);
	return true;
}

static bool literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool value(struct scan *s);

static bool container(struct scan *s, bool object)
{
	unsigned char close = object ? '}' : ']';
	struct frame *f;

	if (s->depth >= s->max_depth) {
		s->fault.kind = JSON_FAULT_DEPTH;
		s->fault.path[0] = '\0';
		return false;
	}
	f = &s->frames[s->depth++];
	*f = (struct frame){ .object = object };
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		if (object) {
			skip_ws(s);
			if (s->p == s->end || *s->p != '"')
				return false;
			f->key = s->p + 1;
			s->key_fault = true;
			if (!string(s))
				return false;
			s->key_fault = false;
			f->keylen = (size_t)(s->p - 1 - f->key);
			s->members++;
			skip_ws(s);
			if (s->p == s->end || *s->p++ != ':')
				return false;
		}
		if (!value(s))
			return false;
		skip_ws(s);
		if (s->p == s->end)
			return false;
		if (*s->p == ',') {
			s->p++;
			f->index++;
			continue;
		}
		if (*s->p++ != close)
			return false;
		s->depth--;
		return true;
	}
}

static bool value(struct scan *s)
{
	skip_ws(s);
	if (s->p == s->end)
		return false;
	switch (*s->p) {
	case '{': return container(s, true);
	case '[': return container(s, false);
	case '"': return string(s);
	case 't': return literal(s, "true");
	case 'f': return literal(s, "false");
	case 'n': return literal(s, "null");
	default: return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && number(s);
	}
}

bool json_strict_check(const char *text, size_t len, int max_depth, struct json_fault *fault,
                       size_t *members)
{
	struct scan s;
	bool ok;

	memset(&s, 0, sizeof(s));
	s.start = s.p = (const unsigned char *)text;
	s.end = s.start + len;
	s.max_depth = max_depth < FRAMES_MAX ? max_depth : FRAMES_MAX;
	ok = value(&s);
	if (ok) {
		skip_ws(&s);
		ok = s.p == s.end;
	}
	if (!ok && s.fault.kind != JSON_FAULT_DEPTH) {
		/* A syntax error wins: the value faults before it were read from broken input. */
		s.fault.kind = JSON_FAULT_SYNTAX;
		s.fault.path[0] = '\0';
	}
	if (!ok)
		s.fault.offset = (size_t)(s.p - s.start);
	if (fault)
		*fault = s.fault;
	if (members)
		*members = s.members;
	return ok && s.fault.kind == JSON_FAULT_NONE;
}

bool json_strict_valid(const char *text, size_t len, int max_depth)
{
	return json_strict_check(text, len, max_depth, NULL, NULL);
}

/* Members of every object in v, counted as json-c holds them. */
static size_t count_members(json_object *v)
{
	size_t n = 0;

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, child) {
			(void)key;
			n += 1 + count_members(child);
		}
	} else if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++)
			n += count_members(json_object_array_get_idx(v, i));
	}
	return n;
}

json_object *json_strict_parse(const char *text, size_t len, int max_depth, struct json_fault *fault)
{
	struct json_fault ignored;
	json_tokener *tok;
	json_object *obj;
	size_t members;

	if (fault == NULL)
		fault = &ignored;
	if (!json_strict_check(text, len, max_depth, fault, &members))
		return NULL;
	tok = json_tokener_new_ex(max_depth);
	if (tok == NULL) {
		fault->kind = JSON_FAULT_DEPTH;
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	bool whole = json_tokener_get_parse_end(tok) == len;
	if (json_tokener_get_error(tok) == json_tokener_continue) {
		/* A number at the very end: json-c waits for the byte that ends it. */
		obj = json_tokener_parse_ex(tok, " ", 1);
		whole = true;
	}
	if (json_tokener_get_error(tok) != json_tokener_success || !whole) {
		/* The check and json-c disagree: refuse rather than guess which is right. */
		json_object_put(obj);
		obj = NULL;
		fault->kind = JSON_FAULT_SYNTAX;
	} else if (count_members(obj) != members) {
		/* Fewer members than written: json-c kept one of two equal names. */
		json_object_put(obj);
		obj = NULL;
		fault->kind = JSON_FAULT_DUPLICATE;
	}
	json_tokener_free(tok);
	return obj;
}

const char *json_fault_text(enum json_fault_kind kind)
{
	switch (kind) {
	case JSON_FAULT_NONE: return "is valid";
	case JSON_FAULT_SYNTAX: return "is not valid JSON";
	case JSON_FAULT_DEPTH: return "is nested too deeply";
	case JSON_FAULT_NUL: return "holds a NUL character (\\u0000)";
	case JSON_FAULT_SURROGATE: return "holds half a UTF-16 surrogate pair";
	case JSON_FAULT_NUMBER:
		return "holds a number that cannot be held exactly (integers fit 64 bits, exponents "
		       "at most 308, at most 64 characters)";
	case JSON_FAULT_DUPLICATE: return "names one member twice";
	}
	return "is invalid";
}
