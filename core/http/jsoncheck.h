/* jsoncheck: the strict JSON reader every JSON input passes through (request
 * bodies, signed webhook bodies, the parts of a bearer token).
 *
 * A linear, allocation-free RFC 8259 check runs before json-c parses: json-c's
 * own strict mode still reads single-quoted strings, raw control characters,
 * NaN and Infinity, and a payment API should not guess what such input meant.
 * The check also refuses what json-c or PostgreSQL would silently change or
 * refuse later: a string or member name holding U+0000 (a C string would end
 * there), half a surrogate pair (json-c makes it U+FFFD, jsonb refuses it), a
 * number no reader holds exactly (an integer beyond 64 bits, which json-c
 * clamps; an exponent beyond ±308; a literal of more than 64 characters), and
 * a member name given twice in one object (json-c keeps the last). Such a
 * fault names the member it sits in, as a dotted path, so a 400 can say which
 * field is wrong.
 *
 * Layer: http (uses json-c only).
 */
#ifndef PAY_JSONCHECK_H
#define PAY_JSONCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

enum json_fault_kind {
	JSON_FAULT_NONE = 0,
	JSON_FAULT_SYNTAX,      /* not one RFC 8259 value (invalid UTF-8 included) */
	JSON_FAULT_DEPTH,       /* nested deeper than allowed */
	JSON_FAULT_NUL,         /* a string or member name holds U+0000 */
	JSON_FAULT_SURROGATE,   /* a \u escape of half a surrogate pair */
	JSON_FAULT_NUMBER,      /* a number no reader holds exactly */
	JSON_FAULT_DUPLICATE,   /* a member name twice in one object */
};

#define JSON_NUMBER_MAX_LEN 64
#define JSON_EXPONENT_MAX 308
#define JSON_PATH_MAX 128

struct json_fault {
	enum json_fault_kind kind;
	size_t offset;              /* byte offset in the input where it was found */
	/*
	 * The member it sits in: "amount.amount", "metadata.tags[2]"; "" at the
	 * top level or when unknown. Name characters other than letters,
	 * digits, '_' and '-' are shown as '?'.
	 */
	char path[JSON_PATH_MAX];
};

/*
 * Checks that the whole input is one JSON value with no fault, at most
 * max_depth containers deep. On failure, fault (if not NULL) says what and
 * where; a syntax error wins over an earlier value fault. *members (if not
 * NULL) is the number of object members seen.
 */
bool json_strict_check(const char *s, size_t len, int max_depth, struct json_fault *fault,
                       size_t *members);
/* json_strict_check() without the details. */
bool json_strict_valid(const char *s, size_t len, int max_depth);

/*
 * Checks, then parses with json-c. Returns the value (the caller puts it;
 * any type, and NULL for a literal null), or NULL with fault->kind set.
 */
json_object *json_strict_parse(const char *s, size_t len, int max_depth, struct json_fault *fault);

/* "holds a NUL character (\u0000)", …: completes a sentence about the member. */
const char *json_fault_text(enum json_fault_kind kind);

#endif
