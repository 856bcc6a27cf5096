#!/bin/sh
# Writes a C file holding every sql/NNN_name.sql as a migration entry, in order.
# The bytes are emitted as hex so no quoting of the SQL text can go wrong.
set -eu
echo '/* Generated from sql/ by sql/embed.sh. */'
echo '#include "base/migrate.h"'
n=0
for f in "$@"; do
	base=$(basename "$f" .sql)
	echo "static const char sql_$n[] = {"
	od -An -v -tx1 "$f" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
	echo '0x00 };'
	n=$((n + 1))
done
echo 'const struct migration migrations[] = {'
n=0
for f in "$@"; do
	base=$(basename "$f" .sql)
	version=$(echo "$base" | sed 's/_.*//' | sed 's/^0*//')
	name=$(echo "$base" | sed 's/^[0-9]*_//')
	echo "	{ ${version:-0}, \"$name\", sql_$n },"
	n=$((n + 1))
done
echo '};'
echo "const size_t migrations_len = $n;"
