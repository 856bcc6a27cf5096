#include "http/jsoncheck.h"

#include <string.h>

struct scan {
	const unsigned char *p, *end;
	int depth, max_depth;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
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
				if (s->end - s->p < 5 || !is_hex(s->p[1]) || !is_hex(s->p[2]) || !is_hex(s->p[3]) || !is_hex(s->p[4]))
					return false;
				s->p += 5;
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

static bool digits(struct scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static bool number(struct scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;     /* no leading zeros: "01" is not JSON */
	else if (!digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return false;
	}
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

	if (++s->depth > s->max_depth)
		return false;
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
			if (s->p == s->end || *s->p != '"' || !string(s))
				return false;
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

bool json_strict_valid(const char *text, size_t len, int max_depth)
{
	struct scan s = { (const unsigned char *)text, (const unsigned char *)text + len, 0, max_depth };

	if (!value(&s))
		return false;
	skip_ws(&s);
	return s.p == s.end;
}
