#!/bin/bash
# The npm tools of the test suite (package.json, locked by package-lock.json):
# @redocly/cli lints the OpenAPI document, ajv holds every answer of the
# end-to-end tests to it (tests/e2e/openapi.mjs), parse-prometheus-text-format
# reads the metrics the way a scraper does.
#
#   tests/tools/setup.sh install   install the locked versions if node_modules
#                                  does not match the lock file (offline after
#                                  the first install)
#   tests/tools/setup.sh lint      install, then lint core/api/openapi.json
set -eu
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

say() { echo "tools: $*" >&2; }
die() {
	say "$*"
	exit 1
}

# As tests/chain/setup.sh does: only when node_modules is older than the lock
# file, and without install scripts (none of these packages needs one).
install_packages() {
	if [ -f "$HERE/node_modules/.package-lock.json" ] &&
		[ "$HERE/node_modules/.package-lock.json" -nt "$HERE/package-lock.json" ]; then
		return 0
	fi
	command -v npm >/dev/null 2>&1 || die "npm is missing (tests/stack/deps.sh installs it)"
	(cd "$HERE" && npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error) >&2 ||
		die "npm install failed in $HERE"
}

# Clean means no error and no warning either (the CLI fails on errors only).
# Redocly's CLI would otherwise send usage data and look for a newer version.
lint() {
	local out rc=0
	install_packages
	out=$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1 \
		"$HERE/node_modules/.bin/redocly" lint --config "$HERE/redocly.yaml" --format=stylish \
		"$ROOT/core/api/openapi.json" 2>&1) || rc=$?
	printf '%s\n' "$out" | grep -v '[║╔╚]' | grep -v '^ *$' >&2 || true
	[ "$rc" -eq 0 ] || die "core/api/openapi.json has lint errors"
	if printf '%s\n' "$out" | grep -q '  warning  '; then die "core/api/openapi.json has lint warnings"; fi
	say "core/api/openapi.json is lint-clean"
}

case "${1-}" in
install) install_packages ;;
lint) lint ;;
*) die "usage: $0 install|lint" ;;
esac
