#!/bin/sh
# Check the production systemd units: `systemd-analyze verify` must find
# nothing to complain about, and `systemd-analyze security` scores the
# service's sandbox.  Works without systemd running as PID 1.
#
#   tests/stack/systemd-check.sh   (BIN, or BUILD, names the built binary)
#
# Exits non-zero if verify reports any problem with the units.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/${BUILD:-build}/fcgi-payments}

die() {
	echo "systemd-check: $*" >&2
	exit 1
}

# verify checks that ExecStart= names an executable, so the units are copied
# with the path of the binary built here instead of the installed one.
render_units() {
	sed "s|/usr/local/bin/fcgi-payments|$BIN|g" \
		"$ROOT/systemd/fcgi-payments.service" >"$1/fcgi-payments.service"
	sed "s|/usr/local/bin/fcgi-payments|$BIN|g" \
		"$ROOT/systemd/fcgi-payments-jobs.service" >"$1/fcgi-payments-jobs.service"
	cp "$ROOT/systemd/fcgi-payments.socket" "$1/fcgi-payments.socket"
}

# verify exits 0 on unknown keys and unparsable values, which it only warns
# about ("file:line: ..., ignoring"): any line it prints about our files
# counts as an error too.  --man=no and --generators=no keep it from looking
# at things that have nothing to do with these units.
verify_units() {
	out=$1/verify.out
	rc=0
	(cd "$1" && systemd-analyze verify --man=no --generators=no \
		./fcgi-payments.socket ./fcgi-payments.service ./fcgi-payments-jobs.service) >"$out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] || grep -q 'fcgi-payments' "$out"; then
		cat "$out" >&2
		die "systemd-analyze verify reported problems (exit $rc)"
	fi
	echo "systemd-analyze verify: units OK"
}

security_score() {
	(cd "$1" && systemd-analyze security --offline=yes "./$2") \
		>"$1/security.out" 2>&1 || true
	line=$(grep 'Overall exposure level' "$1/security.out" || true)
	if [ -z "$line" ]; then
		cat "$1/security.out" >&2
		die "systemd-analyze security printed no exposure level for $2"
	fi
	echo "$2: $line"
	# Both units keep the sandbox the service was given: 2.0 at most (systemd's "OK").
	score=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9][0-9]*\.[0-9]\).*/\1/p')
	awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' ||
		die "$2: exposure ${score:-unknown} is above 2.0"
}

main() {
	command -v systemd-analyze >/dev/null 2>&1 ||
		die "systemd-analyze not found (tests/stack/deps.sh installs systemd)"
	[ -x "$BIN" ] || die "$BIN is not built yet (run make)"
	case "$BIN" in
	/*) ;;
	*) BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") ;;
	esac

	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	render_units "$tmp"
	verify_units "$tmp"
	security_score "$tmp" fcgi-payments.service
	security_score "$tmp" fcgi-payments-jobs.service
}

main "$@"
