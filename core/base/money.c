#include "base/money.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/printbuf.h>

#include "base/jstr.h"

enum money_err money_parse(const char *text, int max_scale, char out[MONEY_TEXT_MAX])
{
	const char *p = text, *int_start, *int_end, *frac_start = NULL, *frac_end = NULL;

	if (*p == '-' || *p == '+') {
		/* "-0" is as unacceptable as "-5"; say why in terms of sign. */
		const char *q = p + 1;
		while (isdigit((unsigned char)*q) || *q == '.')
			q++;
		return *q == '\0' && q > p + 1 ? MONEY_NOT_POSITIVE : MONEY_NOT_NUMBER;
	}
	int_start = p;
	while (isdigit((unsigned char)*p))
		p++;
	int_end = p;
	if (int_end == int_start)
		return MONEY_NOT_NUMBER;
	if (*p == '.') {
		frac_start = ++p;
		while (isdigit((unsigned char)*p))
			p++;
		frac_end = p;
		if (frac_end == frac_start)
			return MONEY_NOT_NUMBER;
	}
	if (*p != '\0')
		return MONEY_NOT_NUMBER;

	while (int_start < int_end - 1 && *int_start == '0')
		int_start++;
	if (frac_start)
		while (frac_end > frac_start && frac_end[-1] == '0')
			frac_end--;
	size_t int_len = (size_t)(int_end - int_start);
	size_t frac_len = frac_start ? (size_t)(frac_end - frac_start) : 0;

	if (int_len == 1 && *int_start == '0' && frac_len == 0)
		return MONEY_NOT_POSITIVE;
	if (int_len > MONEY_MAX_INT_DIGITS)
		return MONEY_OUT_OF_RANGE;
	if ((int)frac_len > max_scale)
		return MONEY_TOO_PRECISE;
	memcpy(out, int_start, int_len);
	if (frac_len) {
		out[int_len] = '.';
		memcpy(out + int_len + 1, frac_start, frac_len);
		out[int_len + 1 + frac_len] = '\0';
	} else {
		out[int_len] = '\0';
	}
	return MONEY_OK;
}

enum money_err money_from_json(json_object *v, int max_scale, char out[MONEY_TEXT_MAX])
{
	switch (json_object_get_type(v)) {
	case json_type_int:
		/* json-c clamps integers beyond 64 bits; a clamped value is out of range anyway. */
		if (json_object_get_int64(v) == INT64_MAX || json_object_get_int64(v) == INT64_MIN)
			return MONEY_OUT_OF_RANGE;
		return money_parse(json_object_get_string(v), max_scale, out);
	case json_type_double:
		/* json-c keeps the source text of a parsed decimal: no binary rounding here. */
		return money_parse(json_object_get_string(v), max_scale, out);
	case json_type_string:
		if (json_object_get_string_len(v) >= 64)
			return MONEY_OUT_OF_RANGE;
		/* "1\u00002" is not 1: a string with a NUL in it is no number. */
		if (jstr(v) == NULL)
			return MONEY_NOT_NUMBER;
		return money_parse(jstr(v), max_scale, out);
	default:
		return MONEY_NOT_NUMBER;
	}
}

int money_with_scale(const char *text, int scale, char *out, size_t outlen)
{
	const char *dot = strchr(text, '.');
	size_t len = strlen(text), have = dot ? len - (size_t)(dot - text) - 1 : 0;
	size_t add = scale > 0 && (size_t)scale > have ? (size_t)scale - have : 0;

	if (len + add + (add && !dot) + 1 > outlen)
		return -1;
	memcpy(out, text, len);
	if (add && !dot)
		out[len++] = '.';
	memset(out + len, '0', add);
	out[len + add] = '\0';
	return 0;
}

const char *money_strerror(enum money_err err)
{
	switch (err) {
	case MONEY_OK: return "ok";
	case MONEY_NOT_NUMBER: return "must be a plain decimal number such as 12 or 12.50";
	case MONEY_NOT_POSITIVE: return "must be greater than zero";
	case MONEY_TOO_PRECISE: return "has more decimals than the currency allows";
	case MONEY_OUT_OF_RANGE: return "is too large";
	}
	return "is invalid";
}

static int decimal_serializer(json_object *jso, struct printbuf *pb, int level, int flags)
{
	(void)level;
	(void)flags;
	const char *s = json_object_get_string(jso);

	printbuf_memappend(pb, s, (int)strlen(s));
	return 0;
}

json_object *json_decimal(const char *text)
{
	json_object *o = json_object_new_string(text);

	json_object_set_serializer(o, decimal_serializer, NULL, NULL);
	return o;
}

void json_add_amount(json_object *obj, const char *name, const char *text)
{
	char sibling[64];

	snprintf(sibling, sizeof(sibling), "%sDecimal", name);
	json_object_object_add(obj, name, text ? json_decimal(text) : NULL);
	json_object_object_add(obj, sibling, text ? json_object_new_string(text) : NULL);
}
