#include "base/logline.h"

#include <stdio.h>
#include <string.h>

/* A cursor into the caller's buffer; `room` stops short of what the tail needs. */
struct cur {
	char *p;
	size_t n, room;
};

static bool put(struct cur *c, const char *s, size_t len)
{
	if (len > c->room - c->n)
		return false;
	memcpy(c->p + c->n, s, len);
	c->n += len;
	return true;
}

/*
 * Length of the well-formed UTF-8 character s begins (1 to 4), or 0 when it
 * begins none (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF). A NUL ends the check early, so nothing past the string is read.
 */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char b = s[0], lo = 0x80, hi = 0xbf;

	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (b >= 0xe0 && b <= 0xef) {
		if (b == 0xe0)
			lo = 0xa0;
		if (b == 0xed)
			hi = 0x9f;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (b >= 0xf0 && b <= 0xf4) {
		if (b == 0xf0)
			lo = 0x90;
		if (b == 0xf4)
			hi = 0x8f;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/*
 * The string's JSON escape, one character at a time: false when the next
 * one does not fit, so what was written always ends on a whole character.
 */
static bool put_escaped(struct cur *c, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	char esc[8];

	while (*s) {
		size_t len = utf8_len(s), ulen = len;
		const char *unit = (const char *)s;

		if (len == 0) {
			unit = "\\ufffd";
			ulen = 6;
			len = 1;
		} else if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s;
			unit = esc;
			ulen = 2;
		} else if (*s < 0x20 || *s == 0x7f) {
			static const char shorts[] = { ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r' };
			if (*s < sizeof(shorts) && shorts[*s]) {
				esc[0] = '\\';
				esc[1] = shorts[*s];
				ulen = 2;
			} else {
				snprintf(esc, sizeof(esc), "\\u%04x", *s);
				ulen = 6;
			}
			unit = esc;
		}
		if (!put(c, unit, ulen))
			return false;
		s += len;
	}
	return true;
}

/* ,"name":"value" when value is set; a field that does not fit is left out whole. */
static bool put_field(struct cur *c, const char *name, const char *value)
{
	size_t mark = c->n;

	if (value == NULL || value[0] == '\0')
		return true;
	if (put(c, ",\"", 2) && put(c, name, strlen(name)) && put(c, "\":\"", 3) &&
	    put_escaped(c, value) && put(c, "\"", 1))
		return true;
	c->n = mark;
	return false;
}

static int stamp(char *out, size_t cap, const struct timespec *ts)
{
	struct tm tm;

	gmtime_r(&ts->tv_sec, &tm);
	return snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                ts->tv_nsec / 1000000);
}

size_t logline_json(char *out, size_t cap, const struct logline *l)
{
	/* Kept back from the start: the longest way to close the line, and the NUL. */
	static const char cut_tail[] = "\",\"truncated\":true}\n";
	struct cur c = { out, 0, cap - sizeof(cut_tail) };
	char head[192], time_text[80];
	bool whole = !l->truncated, in_message;
	const char *tail;
	int n;

	stamp(time_text, sizeof(time_text), &l->time);
	n = snprintf(head, sizeof(head), "{\"time\":\"%s\",\"level\":\"%s\",\"pid\":%d", time_text,
	             l->level, l->pid);
	put(&c, head, (size_t)n);
	whole &= put_field(&c, "requestId", l->request_id);
	whole &= put_field(&c, "route", l->route);
	whole &= put_field(&c, "job", l->job);
	if (l->status >= 0) {
		n = snprintf(head, sizeof(head), ",\"status\":%d", l->status);
		whole &= put(&c, head, (size_t)n);
	}
	if (l->duration_ms >= 0) {
		n = snprintf(head, sizeof(head), ",\"durationMs\":%ld", l->duration_ms);
		whole &= put(&c, head, (size_t)n);
	}
	whole &= put_field(&c, "paymentId", l->payment_id);
	/* The message last: when it is cut, everything else is already whole. */
	in_message = put(&c, ",\"message\":\"", 12);
	whole &= in_message && put_escaped(&c, l->message);
	/* Outside the message string the tail starts after its closing quote. */
	tail = whole ? "\"}\n" : in_message ? cut_tail : cut_tail + 1;
	memcpy(out + c.n, tail, strlen(tail) + 1);
	return c.n + strlen(tail);
}

size_t logline_text(char *out, size_t cap, const struct logline *l)
{
	char time_text[80];
	size_t n;
	int h;

	stamp(time_text, sizeof(time_text), &l->time);
	h = snprintf(out, cap, "%s %s [%d] %s ", time_text, l->level, l->pid,
	             l->request_id && l->request_id[0] ? l->request_id : "-");
	n = h < 0 ? 0 : (size_t)h < cap - 2 ? (size_t)h : cap - 2;
	/* Paths and provider texts are outside input: a line break in one must not forge a log line. */
	for (const char *m = l->message; *m && n < cap - 2; m++)
		out[n++] = (unsigned char)*m < 0x20 || *m == 0x7f ? '?' : *m;
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}
