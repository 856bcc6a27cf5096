#include "base/jw.h"

#include <string.h>

#include "base/utf8.h"

/* Bytes that json-c escapes: the two that JSON reserves and those below 0x20. */
static bool needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

void jw_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = { '\\', 0, '0', '0', 0, 0 };
		size_t n = 2;

		if (c >= 0x80) {
			size_t len = utf8_char_len(s);
			if (len > 0) {
				s += len - 1;
				continue;
			}
			/* A byte that is no character: the replacement character in its place. */
			buf_append(b, run, (size_t)(s - run));
			buf_append(b, "\\ufffd", 6);
			run = s + 1;
			continue;
		}
		if (!needs_escape(c))
			continue;
		buf_append(b, run, (size_t)(s - run));
		switch (c) {
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		default:
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			n = 6;
			break;
		}
		buf_append(b, esc, n);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
	buf_putc(b, '"');
}

void jw_str_or_null(struct buf *b, const char *s)
{
	if (s)
		jw_str(b, s);
	else
		buf_append(b, "null", 4);
}

void jw_key(struct buf *b, const char *name, bool first)
{
	size_t n = strlen(name);

	if (!first)
		buf_putc(b, ',');
	buf_putc(b, '"');
	buf_append(b, name, n);
	buf_append(b, "\":", 2);
}

void jw_int(struct buf *b, long long v)
{
	char digits[24], *p = digits + sizeof(digits);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

void jw_raw(struct buf *b, const char *json_text)
{
	buf_puts(b, json_text);
}

void jw_amount(struct buf *b, const char *name, const char *text, bool first)
{
	jw_key(b, name, first);
	jw_raw(b, text ? text : "null");
	buf_printf(b, ",\"%sDecimal\":", name);
	jw_str_or_null(b, text);
}
