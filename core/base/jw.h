/*
 * jw: a small JSON writer that appends to a struct buf, for answers built
 * on the hot path without a tree of json-c objects (one allocation per
 * member, a hash table per object). It writes exactly what json-c writes
 * with JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, the flags
 * every response uses, so a client cannot tell which wrote an answer:
 * strings escape '"', '\\', \b \f \n \r \t and other bytes below 0x20 as
 * \u00xx (lower-case hex); every other byte, UTF-8 included, as it is.
 *
 * The caller writes members in order and puts the commas: jw_key() takes a
 * member name written in the source (no escaping needed) with its comma.
 *
 * Layer: base (uses buf).
 */
#ifndef PAY_JW_H
#define PAY_JW_H

#include <stdbool.h>

#include "base/buf.h"

/* A JSON string of s (a C string), quoted and escaped as json-c does. */
void jw_str(struct buf *b, const char *s);
/* jw_str(), or null when s is NULL. */
void jw_str_or_null(struct buf *b, const char *s);
/* `,"name":`, or `"name":` when first. name is a literal that needs no escaping. */
void jw_key(struct buf *b, const char *name, bool first);
/* A number as json-c prints an int64. */
void jw_int(struct buf *b, long long v);
/* JSON text written as it is (a decimal's digits, a jsonb document's text). */
void jw_raw(struct buf *b, const char *json_text);
/*
 * An amount by the API's one rule (money.h, json_add_amount): `name` as a
 * number of exactly the decimal `text`, then `<name>Decimal` as a string of
 * the same digits; both null when text is NULL. Each with its comma, as jw_key().
 */
void jw_amount(struct buf *b, const char *name, const char *text, bool first);

#endif
