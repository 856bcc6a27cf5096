/* jstr: JSON strings as C strings, and JSON text passed through verbatim.
 *
 * json-c keeps a JSON string's length, so a decoded "\u0000" stays inside
 * it; read as a C string the value would silently end there ("1\u00002"
 * would read as "1"). Every reader that takes a JSON string as a number, id,
 * address, hash or enum goes through jstr(), which refuses such a string.
 *
 * Layer: base (uses json-c only).
 */
#ifndef PAY_JSTR_H
#define PAY_JSTR_H

#include <json-c/json.h>

/* v's text if v is a string whose C string is all of it; else NULL. Owned by v. */
const char *jstr(json_object *v);

/*
 * A value that serialises as `json_text` unchanged (a document the database
 * wrote, such as a jsonb column's text), so nothing json-c would reformat or
 * clamp passes through it. The text must be valid JSON; it is copied.
 */
json_object *jstr_verbatim(const char *json_text);

#endif
