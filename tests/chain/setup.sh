#!/bin/bash
# The local EVM chain for the end-to-end tests: anvil (npm @foundry-rs/anvil)
# as BSC (chain id 56) on a free loopback port, mining only when a test asks
# (evm_mine / anvil_mine), with the test tokens of TestToken.sol deployed.
#
#   tests/chain/setup.sh up DIR     install the npm packages if needed (npm ci
#                                   from the lock file), start anvil, deploy;
#                                   writes DIR/chain.env for the pool and tests
#   tests/chain/setup.sh down DIR   stop anvil; never fails
#
# DIR/chain.env holds PAYMENTS_* settings (the pool's bsc network points at
# anvil) and what tests and the fake SHKeeper need (ANVIL_URL, token
# addresses, a signer key, the account the fake pays its invoices from).
set -eu
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ANVIL=$HERE/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

say() { echo "chain: $*" >&2; }
die() {
	say "$*"
	exit 1
}

alive() {
	local state
	[ -n "${1-}" ] || return 1
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case "$state" in Z*) return 1 ;; esac
}

# Install only when node_modules does not match the lock file. Not `npm ci`:
# npm leaves anvil's optional packages for other platforms out of the lock it
# writes, and `npm ci` then refuses the lock as out of sync on a fresh clone;
# `npm install --no-save` installs the locked versions and leaves the lock be.
# Install scripts are not run: the binary ships in the platform package.
install_packages() {
	if [ -x "$ANVIL" ] && [ -f "$HERE/node_modules/solc/soljson.js" ] &&
		[ "$HERE/node_modules/.package-lock.json" -nt "$HERE/package-lock.json" ]; then
		return 0
	fi
	command -v npm >/dev/null 2>&1 || die "npm is missing (tests/stack/deps.sh installs it)"
	(cd "$HERE" && npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error) >&2 ||
		die "npm install failed in $HERE"
	[ -x "$ANVIL" ] || die "the anvil package has no linux-x64 binary at $ANVIL"
}

free_port() {
	node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

rpc_answers() {
	curl -s --max-time 1 -H 'content-type: application/json' \
		-d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$1" 2>/dev/null |
		grep -q '"result":"0x38"'
}

chain_down() {
	local pid
	pid=$(head -n 1 "$DIR/anvil.pid" 2>/dev/null || true)
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
		if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
	fi
	rm -f "$DIR/anvil.pid" "$DIR/chain.env"
}

chain_up() {
	local port url pid
	install_packages
	chain_down
	port=$(free_port)
	url=http://127.0.0.1:$port
	# One slot per epoch: anvil's finalized block is then head - 2, so a test
	# reaches finality with a couple of mined blocks.
	setsid "$ANVIL" --host 127.0.0.1 --port "$port" --chain-id 56 --no-mining \
		--slots-in-an-epoch 1 --accounts 11 --config-out "$DIR/anvil-accounts.json" \
		</dev/null >"$DIR/anvil.log" 2>&1 &
	pid=$!
	echo "$pid" >"$DIR/anvil.pid"
	for _ in $(seq 100); do
		rpc_answers "$url" && break
		alive "$pid" || break
		sleep 0.1
	done
	rpc_answers "$url" || {
		tail -n 20 "$DIR/anvil.log" >&2
		die "anvil did not answer on $url"
	}
	node "$HERE/deploy.mjs" "$url" "$DIR/anvil-accounts.json" "$DIR/chain.env.tmp" ||
		die "deploying the test tokens failed"
	# The internal token of job endpoints (verify-all-pending), for the tests.
	[ -s "$DIR/internal_token" ] || (umask 077 && openssl rand -hex 32 >"$DIR/internal_token")
	echo "PAYMENTS_INTERNAL_TOKEN_FILE=$DIR/internal_token" >>"$DIR/chain.env.tmp"
	mv "$DIR/chain.env.tmp" "$DIR/chain.env"
	say "anvil on $url (chain id 56), tokens deployed"
}

[ $# -eq 2 ] || die "usage: $0 up|down DIR"
case "$2" in
*[!A-Za-z0-9_./+-]*) die "DIR may only hold letters, digits and _./+-: $2" ;;
esac
[ -d "$2" ] || { [ "$1" = down ] && exit 0; die "no directory $2"; }
DIR=$(cd "$2" && pwd)
case "$1" in
up) chain_up ;;
down) chain_down ;;
*) die "usage: $0 up|down DIR" ;;
esac
