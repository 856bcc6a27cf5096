/* jsoncheck: a strict RFC 8259 syntax check, run on a body before json-c parses it.
 * json-c's own strict mode still reads single-quoted strings, raw control
 * characters in strings, NaN and Infinity; a payment API should not guess
 * what such a body meant. Linear in the input, no allocation, bounded depth.
 * Also refuses invalid UTF-8. Returns true if the whole input is one JSON value.
 */
#ifndef PAY_JSONCHECK_H
#define PAY_JSONCHECK_H

#include <stdbool.h>
#include <stddef.h>

bool json_strict_valid(const char *s, size_t len, int max_depth);

#endif
