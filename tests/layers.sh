#!/bin/sh
# Checks that dependencies in core/ point one way: a file may include headers
# of its own folder and of the folders below it, never of one above or beside.
# The order is the one README.md's map gives.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# folder: the folders it may include from (besides itself)
allowed() {
	case "$1" in
	base) echo "" ;;
	http | evm | shkeeper | bvnk) echo "base" ;;
	pay) echo "base" ;;
	flow) echo "base http evm shkeeper bvnk pay" ;;
	jobs) echo "base http evm shkeeper bvnk pay flow" ;;
	api) echo "base http evm shkeeper bvnk pay flow jobs" ;;
	*) echo "?" ;;
	esac
}

bad=0
for f in core/*/*.[ch]; do
	dir=${f#core/}
	dir=${dir%%/*}
	ok=$(allowed "$dir")
	if [ "$ok" = "?" ]; then
		echo "layers: $f is in a folder the map does not know (add it to tests/layers.sh and README.md)"
		bad=1
		continue
	fi
	for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		case "$inc" in
		*/*) to=${inc%%/*} ;;
		*)
			echo "layers: $f includes \"$inc\" without its folder"
			bad=1
			continue
			;;
		esac
		[ "$to" = "$dir" ] && continue
		case " $ok " in
		*" $to "*) ;;
		*)
			echo "layers: $f ($dir) includes $inc: $to is not below $dir"
			bad=1
			;;
		esac
	done
done
# Unit tests are built by folder: one left at the top would silently never run.
for t in tests/unit/test_*.c; do
	[ -e "$t" ] || continue
	echo "layers: $t is not built: move it into tests/unit/<folder of what it tests>/"
	bad=1
done
[ "$bad" -eq 0 ] && echo "layers: every include in core/ points down"
exit "$bad"
