#!/bin/sh
# Writes a C file holding core/api/openapi.json as the bytes GET /openapi.json
# answers. The bytes are emitted as hex so no quoting of the text can go wrong.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 openapi.json" >&2; exit 2; }
echo '/* Generated from core/api/openapi.json by core/api/openapi_embed.sh. */'
echo '#include "api/openapi.h"'
echo 'const char openapi_json[] = {'
od -An -v -tx1 "$1" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
echo '0x00 };'
echo "const size_t openapi_json_len = $(wc -c <"$1");"
