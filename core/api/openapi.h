/* openapi: the API's contract, core/api/openapi.json, compiled into the binary
 * (the build embeds the file's bytes), so the document a client reads is the
 * one this build was checked against. GET /openapi.json answers it as it is;
 * tests/unit/api/test_openapi.c holds it to the route table.
 *
 * Layer: api (uses http).
 */
#ifndef PAY_OPENAPI_H
#define PAY_OPENAPI_H

#include <stddef.h>

/* The document's bytes, NUL-terminated; openapi_json_len excludes the NUL. */
extern const char openapi_json[];
extern const size_t openapi_json_len;

#endif
