#!/bin/sh
# Install the Debian packages the build and the local stack need.
#
#   tests/stack/deps.sh          install what is missing (as root), or say how
#   tests/stack/deps.sh --check  only report: exit 1 with the install line if
#                                anything is missing
#
# Quiet and fast when everything is already installed, so make can call it
# before every build and test run.
set -eu

PACKAGES="build-essential pkg-config libfcgi-dev libpq-dev libcurl4-openssl-dev
libjson-c-dev libssl-dev libsecp256k1-dev libcmocka-dev postgresql
postgresql-client pgbouncer nginx-light libnginx-mod-nchan openssl curl systemd"

usage() {
	echo "usage: $0 [--check]" >&2
	exit 2
}

# One dpkg-query for all packages keeps the common case fast.  A package
# counts as present only when fully installed: a removed one leaves
# "deinstall ok config-files" behind, and an unknown one prints nothing.
missing_packages() {
	# shellcheck disable=SC2086 # word splitting of the package list is wanted
	installed=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' $PACKAGES 2>/dev/null |
		sed -n 's/^installed //p') || true
	for pkg in $PACKAGES; do
		printf '%s\n' "$installed" | grep -qx "$pkg" || printf '%s ' "$pkg"
	done
	# Node may come from elsewhere (nodesource, a version manager): only
	# when there is no node at all do we ask Debian for it, and for npm.
	if ! command -v node >/dev/null 2>&1; then
		printf 'nodejs npm '
	fi
}

install_line() {
	prefix=""
	[ "$(id -u)" -eq 0 ] || prefix="sudo "
	echo "${prefix}apt-get install -y --no-install-recommends $1"
}

# apt-get update is slow and needs the network: run it only when the package
# lists are empty or do not know one of the packages we want.
lists_need_update() {
	ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || return 0
	for pkg in $1; do
		candidate=$(apt-cache policy "$pkg" 2>/dev/null |
			sed -n 's/^ *Candidate: *//p')
		case "$candidate" in
		"" | "(none)") return 0 ;;
		esac
	done
	return 1
}

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

main() {
	check=0
	case "${1-}" in
	"") ;;
	--check) check=1 ;;
	*) usage ;;
	esac

	missing=$(missing_packages)
	missing=${missing% }
	[ -n "$missing" ] || exit 0

	if [ "$check" -eq 1 ] || [ "$(id -u)" -ne 0 ]; then
		install_line "$missing" >&2
		exit 1
	fi

	updated=0
	if lists_need_update "$missing"; then
		apt-get update
		updated=1
	fi
	# shellcheck disable=SC2086 # word splitting of the package list is wanted
	if ! apt_install $missing; then
		# Stale lists point at files the mirror no longer has: refresh once.
		[ "$updated" -eq 0 ] || exit 1
		apt-get update
		# shellcheck disable=SC2086
		apt_install $missing
	fi
}

main "$@"
