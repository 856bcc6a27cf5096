#!/bin/bash
# The local stack: a throwaway PostgreSQL cluster, the FastCGI pool and nginx
# with the production site file rendered for local paths, all under one
# directory.  Used by the end-to-end tests and by `make run`.
#
#   tests/stack/stack.sh up DIR        start everything under DIR (created);
#                                      DIR/env then holds what tests need
#   tests/stack/stack.sh down DIR      stop everything; never fails
#   tests/stack/stack.sh pg-stop DIR   stop only PostgreSQL (database outage)
#   tests/stack/stack.sh pg-start DIR  start it again
#   tests/stack/stack.sh pool-restart DIR  restart the first pool (e.g. with
#                                      another PAYMENTS_WORKERS)
#   tests/stack/stack.sh pool2-up DIR  a second pool and nginx on the same
#                                      database (ports +1, or POOL2_HTTPS_PORT and
#                                      POOL2_HTTP_PORT), connected through PgBouncer
#                                      in transaction mode as a second host would
#                                      be; DIR/env gets BASE_URL2
#   tests/stack/stack.sh pool2-down DIR  stop them again
#   tests/stack/stack.sh run           `up .run` in the repository, print a
#                                      development token, wait; Ctrl-C stops
#
# Environment: HTTPS_PORT (8443), HTTP_PORT (8080), PGPORT_LOCAL (25432; ports below 32768 stay clear of outgoing connections),
# SHKEEPER_PORT (18990, the fake SHKeeper tests/fakes/shkeeper.mjs),
# BVNK_PORT (18991, the fake BVNK tests/fakes/bvnk.mjs),
# POOL2_HTTPS_PORT, POOL2_HTTP_PORT (pool2-up's ports; the stack's own plus one),
# POOL2_RPC_BSC (pool2-up: the bsc node it asks, e.g. a test's proxy of anvil),
# BIN (the built binary, $BUILD/fcgi-payments, BUILD defaulting to build),
# POOL_DB_SOCKET (1: the first pool reaches PostgreSQL over its unix socket,
# as on a host that runs both; the default is TCP).
set -eu
set -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
HTTPS_PORT=${HTTPS_PORT:-8443}
HTTP_PORT=${HTTP_PORT:-8080}
PGPORT_LOCAL=${PGPORT_LOCAL:-25432}
SHKEEPER_PORT=${SHKEEPER_PORT:-18990}
BVNK_PORT=${BVNK_PORT:-18991}
BIN=${BIN:-$ROOT/${BUILD:-build}/fcgi-payments}
DB_NAME=payments
DB_USER=payments
# The wallet the fake SHKeeper pays payouts from: an address anvil signs for
# (impersonated by the fake, which funds it), written into the pool's config.
SHKEEPER_PAYOUT_WALLET=0x5a4e000000000000000000000000000000000001
# The same for the fake BVNK, and the merchant and Hawk id it knows the pool by.
BVNK_PAYOUT_WALLET=0xb0b0000000000000000000000000000000000002
BVNK_MERCHANT_ID=a7eddadd-fd9b-45fb-82a1-dc12eaa14cba
BVNK_HAWK_ID=stack-hawk-id
POOL_STOP_SECONDS=40
NCHAN_MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so

say() { echo "stack: $*" >&2; }
die() {
	say "$*"
	exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# PostgreSQL refuses to run as root: as root, its commands run as the
# postgres user over files it owns; otherwise as whoever runs this script.
as_pg() {
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A process counts as alive until it is gone or a zombie: a daemon we
# started is not our child, and the reaper of orphans may be slow.
alive() {
	local state
	[ -n "${1-}" ] || return 1
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case "$state" in Z*) return 1 ;; esac
}

gone() { ! alive "$1"; }

read_pid() {
	if [ -s "$1" ]; then head -n 1 "$1"; fi
}

# stop_pidfile FILE SECONDS: SIGTERM to the process FILE names, SIGKILL if it
# is still there after SECONDS, and FILE removed.
stop_pidfile() {
	local pid
	pid=$(read_pid "$1")
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_for "$2" gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

# Wait up to $1 seconds for the command in "$@" (after $1) to succeed.
wait_for() {
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# DIR is written unquoted into nginx's, PostgreSQL's and the service's
# configuration and into DIR/env: refuse anything that would need quoting.
# Only `up` creates DIR; the other subcommands leave a missing one alone.
set_dir() {
	[ -n "${1-}" ] || die "missing DIR argument"
	case "$1" in
	*[!A-Za-z0-9_./+-]*) die "DIR may only hold letters, digits and _./+-: $1" ;;
	esac
	if [ "${2-}" = create ]; then mkdir -p "$1"; fi
	[ -d "$1" ] || exit 0
	DIR=$(cd "$1" && pwd)
	PGDATA_DIR=$DIR/pg
	PGSOCK_DIR=$DIR/pg-socket
	NGINX_DIR=$DIR/nginx
	FCGI_SOCK=fcgi.sock
	DATABASE_URL=postgresql://$DB_USER@127.0.0.1:$PGPORT_LOCAL/$DB_NAME
	POOL_DATABASE_URL=$DATABASE_URL
	if [ "${POOL_DB_SOCKET-}" = 1 ]; then
		POOL_DATABASE_URL="postgresql://$DB_USER@/$DB_NAME?host=$PGSOCK_DIR&port=$PGPORT_LOCAL"
	fi
}

# --- PostgreSQL -------------------------------------------------------------

pg_running() {
	[ -f "$PGDATA_DIR/PG_VERSION" ] &&
		as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1
}

# A throwaway cluster: trust authentication and no fsync, since nothing in it
# outlives the tests.
pg_init() {
	mkdir -p "$PGDATA_DIR" "$PGSOCK_DIR"
	touch "$DIR/pg.log"
	if is_root; then
		# postgres must reach its files through DIR.
		chmod a+x "$DIR"
		chown postgres:postgres "$PGDATA_DIR" "$PGSOCK_DIR" "$DIR/pg.log"
		runuser -u postgres -- test -x "$DIR" ||
			die "user postgres cannot reach $DIR: make its parent directories traversable"
	fi
	chmod 0700 "$PGDATA_DIR"
	if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
		as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 \
			--no-locale --no-sync >"$DIR/initdb.log" 2>&1 ||
			{
				cat "$DIR/initdb.log" >&2
				die "initdb failed"
			}
		echo "include = 'stack.conf'" >>"$PGDATA_DIR/postgresql.conf"
	fi
	# Rewritten on every `up`, so a new PGPORT_LOCAL takes effect.
	cat >"$PGDATA_DIR/stack.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		port = $PGPORT_LOCAL
		unix_socket_directories = '$PGSOCK_DIR'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
	EOF
	if is_root; then chown postgres:postgres "$PGDATA_DIR/stack.conf"; fi
}

pg_start() {
	[ -f "$PGDATA_DIR/PG_VERSION" ] || die "no cluster in $PGDATA_DIR (run up first)"
	pg_running && return 0
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$DIR/pg.log" -w -t 60 start >/dev/null || {
		tail -n 20 "$DIR/pg.log" >&2
		die "PostgreSQL did not start (port $PGPORT_LOCAL busy? see $DIR/pg.log)"
	}
}

pg_stop() {
	pg_running || return 0
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null ||
		say "PostgreSQL did not stop cleanly"
}

superuser_psql() {
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT_LOCAL" \
		-U postgres -d postgres
}

# The service's role owns its database, as in production, and is no
# superuser, so the tests see the same permissions.
pg_create_db() {
	superuser_psql <<-EOF
		SELECT 'CREATE ROLE $DB_USER LOGIN'
		 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER')\gexec
		SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
		 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')\gexec
	EOF
}

# --- Secrets, configuration, certificate ------------------------------------

write_secret() {
	[ -s "$DIR/jwt_secret" ] && return 0
	(umask 077 && openssl rand -hex 32 >"$DIR/jwt_secret")
}

# Shared by the fake SHKeeper (which signs its callbacks with it) and the
# service (which sends it and checks those signatures).
write_shkeeper_key() {
	[ -s "$DIR/shkeeper_api_key" ] && return 0
	(umask 077 && openssl rand -hex 24 >"$DIR/shkeeper_api_key")
}

# SHKeeper's admin login, which its payout API takes as HTTP Basic credentials.
write_shkeeper_payout_auth() {
	[ -s "$DIR/shkeeper_payout_auth" ] && return 0
	(umask 077 && echo "payouts:$(openssl rand -hex 16)" >"$DIR/shkeeper_payout_auth")
}

# BVNK's secret key: the Hawk key of API calls, and what its webhooks are signed with.
write_bvnk_secret() {
	[ -s "$DIR/bvnk_secret" ] && return 0
	(umask 077 && openssl rand -hex 32 >"$DIR/bvnk_secret")
}

# The hot wallet's key: a fresh one for each stack, owner-only as the service requires.
write_hot_wallet_key() {
	[ -s "$DIR/hot_wallet_key" ] && return 0
	(umask 077 && openssl rand -hex 32 >"$DIR/hot_wallet_key")
}

write_config() {
	sed -e "s|@STACK_DIR@|$DIR|g" \
		-e "s|@DATABASE_URL@|${POOL_DATABASE_URL//&/\\&}|g" \
		-e "s|@PUBLIC_BASE_URL@|https://localhost:$HTTPS_PORT|g" \
		-e "s|@SHKEEPER_URL@|http://127.0.0.1:$SHKEEPER_PORT|g" \
		-e "s|@SHKEEPER_PAYOUT_WALLET@|$SHKEEPER_PAYOUT_WALLET|g" \
		-e "s|@BVNK_URL@|http://127.0.0.1:$BVNK_PORT|g" \
		-e "s|@BVNK_PAYOUT_WALLET@|$BVNK_PAYOUT_WALLET|g" \
		-e "s|@BVNK_MERCHANT_ID@|$BVNK_MERCHANT_ID|g" \
		-e "s|@BVNK_HAWK_ID@|$BVNK_HAWK_ID|g" \
		"$ROOT/tests/stack/payments.conf.in" >"$DIR/payments.conf"
	# The second pool of pool2-up: the same service on its own socket, through
	# PgBouncer (pgbouncer_start) with no prepared statements.
	sed -e "s|^listen = unix:$DIR/fcgi.sock\$|listen = unix:$DIR/fcgi2.sock|" \
		-e "s|^database_url = .*|database_url = postgresql://$DB_USER@/$DB_NAME?host=$DIR/$PGBOUNCER_DIR_NAME\&port=$PGPORT_LOCAL|" \
		"$DIR/payments.conf" >"$DIR/payments2.conf"
	echo "db_prepare = false" >>"$DIR/payments2.conf"
}

migrate() {
	(cd "$ROOT" && "$BIN" -c "$DIR/payments.conf" migrate) >"$DIR/migrate.log" 2>&1 || {
		cat "$DIR/migrate.log" >&2
		die "migrate failed"
	}
}

# Self-signed, for localhost by name and by address; kept across runs while
# it has a day left.
make_cert() {
	if [ -s "$DIR/fullchain.pem" ] &&
		openssl x509 -checkend 86400 -noout -in "$DIR/fullchain.pem" >/dev/null 2>&1; then
		return 0
	fi
	(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 30 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
		-keyout "$DIR/privkey.pem" -out "$DIR/fullchain.pem") >/dev/null 2>&1 ||
		die "openssl could not make a certificate"
	chmod 0644 "$DIR/fullchain.pem"
}

# --- The FastCGI pool -------------------------------------------------------

# The pool functions take a suffix: "" for the main pool (payments.conf,
# fcgi.sock, pool.pid, pool.log), 2 for the second one of pool2-up.
pool_pid() { read_pid "$DIR/pool${1-}.pid"; }

# Listening, or dead: either way there is no point in waiting longer.
pool_settled() { [ -S "$DIR/fcgi${1-}.sock" ] || ! alive "$(pool_pid "${1-}")"; }

# In a session of its own: a Ctrl-C at the terminal reaches this script,
# which stops the pool in order, not the pool directly; and the pool's
# process group is its workers, so a final SIGKILL can take them all.
pool_start() {
	local pid n=${1-}
	rm -f "$DIR/fcgi$n.sock" "$DIR/pool$n.pid"
	(
		cd "$ROOT"
		unset LISTEN_FDS LISTEN_PID LISTEN_FDNAMES
		# shellcheck disable=SC2016 # $$ and "$@" belong to the inner sh
		setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$DIR/pool$n.pid" \
			"$BIN" -c "$DIR/payments$n.conf" serve </dev/null >>"$DIR/pool$n.log" 2>&1 &
	)
	wait_for 10 test -s "$DIR/pool$n.pid" || die "the pool did not start"
	pid=$(pool_pid "$n")
	wait_for 30 pool_settled "$n" || true
	if ! alive "$pid" || [ ! -S "$DIR/fcgi$n.sock" ]; then
		tail -n 20 "$DIR/pool$n.log" >&2
		die "the pool did not open $DIR/fcgi$n.sock (see $DIR/pool$n.log)"
	fi
}

# SIGTERM lets the master drain its workers; after POOL_STOP_SECONDS
# whatever is left of the process group is killed.
pool_stop() {
	local pid n=${1-}
	pid=$(pool_pid "$n")
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_for "$POOL_STOP_SECONDS" gone "$pid"; then
			say "the pool did not stop within ${POOL_STOP_SECONDS}s: killing it"
		fi
	fi
	# Workers left behind by a master that died or was killed.
	if [ -n "$pid" ] && kill -0 -- "-$pid" 2>/dev/null; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$DIR/pool$n.pid" "$DIR/fcgi$n.sock"
}

# --- nginx ------------------------------------------------------------------

have_ipv6_loopback() {
	grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null
}

# The production site file with local paths and ports, listening on the
# loopback only.
render_site() {
	local site=$NGINX_DIR/site.conf leftover
	sed -e "s|/run/fcgi-payments/fcgi.sock|$DIR/$FCGI_SOCK|g" \
		-e "s|/run/fcgi-payments/stream.sock|$NGINX_DIR/stream.sock|g" \
		-e "s|/etc/ssl/fcgi-payments/|$DIR/|g" \
		-e "s|/var/log/nginx/|$NGINX_DIR/logs/|g" \
		-e "s|listen 443 |listen 127.0.0.1:$HTTPS_PORT |" \
		-e "s|listen \[::\]:443 |listen [::1]:$HTTPS_PORT |" \
		-e "s|listen 80;|listen 127.0.0.1:$HTTP_PORT;|" \
		-e "s|listen \[::\]:80;|listen [::1]:$HTTP_PORT;|" \
		-e "s|https://\$host\$request_uri|https://\$host:$HTTPS_PORT\$request_uri|" \
		"$ROOT/nginx/fcgi-payments.conf" >"$site"
	if ! have_ipv6_loopback; then
		sed -i '/listen \[::1\]:/d' "$site"
	fi
	# A path or port added to the site file that the lines above do not
	# know would silently point the tests at the machine's own nginx setup.
	leftover=$(sed -E -e "s|$DIR||g" -e 's/(^|[[:space:]])#.*//' "$site" |
		grep -nE "(^|[ \"'])/(etc|var|run|usr|srv|opt|home|root|tmp)/|listen +(\[::\]:)?(80|443)[ ;]" ||
		true)
	[ -z "$leftover" ] ||
		die "nginx/fcgi-payments.conf has paths or ports stack.sh does not render: $leftover"
	# The site's relative include resolves next to the main configuration.
	cp /etc/nginx/fastcgi_params "$NGINX_DIR/fastcgi_params"
}

# As root, nginx's workers would run as nobody, which may not reach DIR:
# this configuration is for tests only, so they run as root.
render_main() {
	local user_line=""
	if is_root; then user_line="user root;"; fi
	cat >"$NGINX_DIR/nginx.conf" <<-EOF
		# Rendered by tests/stack/stack.sh for the local stack; not for production.
		# Debian's own nginx.conf loads the modules in modules-enabled/; the live
		# streams need nchan (libnginx-mod-nchan).
		load_module $NCHAN_MODULE;
		$user_line
		worker_processes 2;
		pid $NGINX_DIR/nginx.pid;
		error_log $NGINX_DIR/logs/error.log warn;

		events {
		    worker_connections 1024;
		}

		http {
		    include /etc/nginx/mime.types;
		    default_type application/octet-stream;
		    access_log $NGINX_DIR/logs/access.log;
		    client_body_temp_path $NGINX_DIR/tmp/client_body;
		    fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
		    proxy_temp_path $NGINX_DIR/tmp/proxy;
		    scgi_temp_path $NGINX_DIR/tmp/scgi;
		    uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
		    include $NGINX_DIR/site.conf;
		}
	EOF
}

nginx_cmd() {
	nginx -c "$NGINX_DIR/nginx.conf" -p "$NGINX_DIR/" "$@"
}

https_answers() {
	local code
	code=$(curl -ks -o /dev/null -w '%{http_code}' --max-time 2 \
		"https://127.0.0.1:$HTTPS_PORT/api/payment/health") || true
	[ -n "$code" ] && [ "$code" != 000 ]
}

nginx_start() {
	local out code
	mkdir -p "$NGINX_DIR/logs" "$NGINX_DIR/tmp"
	render_site
	render_main
	out=$(nginx_cmd -t -q 2>&1) || {
		echo "$out" >&2
		die "nginx -t rejected $NGINX_DIR/nginx.conf"
	}
	out=$(nginx_cmd 2>&1) || {
		echo "$out" >&2
		die "nginx did not start (ports $HTTPS_PORT/$HTTP_PORT busy?)"
	}
	wait_for 20 https_answers || die "nginx does not answer on https://127.0.0.1:$HTTPS_PORT"
	code=$(curl -ks -o /dev/null -w '%{http_code}' "https://127.0.0.1:$HTTPS_PORT/api/payment/health")
	[ "$code" = 200 ] || say "warning: GET /api/payment/health answered $code"
}

nginx_stop() {
	local pid
	pid=$(read_pid "$NGINX_DIR/nginx.pid")
	alive "$pid" || return 0
	# SIGTERM is nginx's fast shutdown; graceful draining buys tests nothing.
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for 10 gone "$pid"; then
		say "nginx did not stop within 10s: killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

# --- The fake SHKeeper ------------------------------------------------------

shkeeper_pid() { read_pid "$DIR/shkeeper.pid"; }

shkeeper_listening() { grep -q listening "$DIR/shkeeper.log" 2>/dev/null; }

# The fake's callbacks go to the service through nginx, so it trusts the
# stack's certificate. It pays its invoices with real transfers on the test
# chain, whose settings (chain_env) it reads from its environment: the chain
# is up first. In a session of its own, like the pool.
shkeeper_start() {
	local pid
	rm -f "$DIR/shkeeper.pid"
	: >"$DIR/shkeeper.log"
	# shellcheck disable=SC2016 # $$ and "$@" belong to the inner sh
	setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$DIR/shkeeper.pid" \
		node "$ROOT/tests/fakes/shkeeper.mjs" --port "$SHKEEPER_PORT" \
		--api-key-file "$DIR/shkeeper_api_key" --ca "$DIR/fullchain.pem" \
		--payout-auth-file "$DIR/shkeeper_payout_auth" --payout-wallet "$SHKEEPER_PAYOUT_WALLET" --payout-callbacks \
		</dev/null >>"$DIR/shkeeper.log" 2>&1 &
	wait_for 10 test -s "$DIR/shkeeper.pid" || die "the fake SHKeeper did not start"
	pid=$(shkeeper_pid)
	if ! wait_for 10 shkeeper_listening || ! alive "$pid"; then
		tail -n 20 "$DIR/shkeeper.log" >&2
		die "the fake SHKeeper did not listen on port $SHKEEPER_PORT (see $DIR/shkeeper.log)"
	fi
}

shkeeper_stop() { stop_pidfile "$DIR/shkeeper.pid" 5; }

# --- The fake BVNK ------------------------------------------------------------

bvnk_pid() { read_pid "$DIR/bvnk.pid"; }

bvnk_listening() { grep -q listening "$DIR/bvnk.log" 2>/dev/null; }

# Like the fake SHKeeper: its webhooks go to the service through nginx, signed
# over the URL the pool is configured with, and it pays with real transfers.
bvnk_start() {
	local pid
	rm -f "$DIR/bvnk.pid"
	: >"$DIR/bvnk.log"
	# shellcheck disable=SC2016 # $$ and "$@" belong to the inner sh
	setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$DIR/bvnk.pid" \
		node "$ROOT/tests/fakes/bvnk.mjs" --port "$BVNK_PORT" --hawk-id "$BVNK_HAWK_ID" \
		--hawk-key-file "$DIR/bvnk_secret" --merchant-id "$BVNK_MERCHANT_ID" \
		--webhook-url "https://localhost:$HTTPS_PORT/api/payment/bvnk/webhook" --ca "$DIR/fullchain.pem" \
		--payout-wallet "$BVNK_PAYOUT_WALLET" \
		</dev/null >>"$DIR/bvnk.log" 2>&1 &
	wait_for 10 test -s "$DIR/bvnk.pid" || die "the fake BVNK did not start"
	pid=$(bvnk_pid)
	if ! wait_for 10 bvnk_listening || ! alive "$pid"; then
		tail -n 20 "$DIR/bvnk.log" >&2
		die "the fake BVNK did not listen on port $BVNK_PORT (see $DIR/bvnk.log)"
	fi
}

bvnk_stop() { stop_pidfile "$DIR/bvnk.pid" 5; }

# --- The test chain (tests/chain/setup.sh) -----------------------------------

# anvil with test tokens; DIR/chain.env points the pool's bsc network at it.
chain_up() {
	[ -x "$ROOT/tests/chain/setup.sh" ] || return 0
	"$ROOT/tests/chain/setup.sh" up "$DIR" || die "the test chain did not start (see $DIR/anvil.log)"
}

# Every pool this script starts (also pool2-up) sees the chain's settings.
chain_env() {
	if [ -f "$DIR/chain.env" ]; then set -a && . "$DIR/chain.env" && set +a; fi
}

chain_down() {
	if [ -x "$ROOT/tests/chain/setup.sh" ]; then "$ROOT/tests/chain/setup.sh" down "$DIR" || true; fi
}

# --- PgBouncer (the second pool's way to the database) -----------------------

# In transaction mode, as pool hosts usually reach a shared PostgreSQL: a
# server connection is the client's only for one transaction, so nothing
# may live in a session (no prepared statements: db_prepare = false). It
# listens on a unix socket only, so it takes no port; it refuses to run as
# root, so as root it runs as postgres like PostgreSQL itself.
PGBOUNCER_DIR_NAME=pgbouncer

pgbouncer_pid() { read_pid "$DIR/$PGBOUNCER_DIR_NAME/pgbouncer.pid"; }

pgbouncer_start() {
	local d=$DIR/$PGBOUNCER_DIR_NAME
	pgbouncer_stop
	mkdir -p "$d"
	cat >"$d/pgbouncer.ini" <<-EOF
		[databases]
		$DB_NAME = host=127.0.0.1 port=$PGPORT_LOCAL dbname=$DB_NAME
		[pgbouncer]
		listen_addr =
		listen_port = $PGPORT_LOCAL
		unix_socket_dir = $d
		unix_socket_mode = 0777
		auth_type = trust
		auth_file = $d/userlist.txt
		pool_mode = transaction
		stats_users = $DB_USER
		max_client_conn = 200
		default_pool_size = 20
		logfile = $DIR/pgbouncer.log
		pidfile = $d/pgbouncer.pid
	EOF
	echo "\"$DB_USER\" \"\"" >"$d/userlist.txt"
	touch "$DIR/pgbouncer.log"
	if is_root; then chown -R postgres:postgres "$d" "$DIR/pgbouncer.log"; fi
	as_pg pgbouncer -q -d "$d/pgbouncer.ini" >>"$DIR/pgbouncer.log" 2>&1 ||
		die "pgbouncer did not start (see $DIR/pgbouncer.log)"
	wait_for 10 test -S "$d/.s.PGSQL.$PGPORT_LOCAL" || die "pgbouncer did not listen in $d"
}

pgbouncer_stop() { stop_pidfile "$DIR/$PGBOUNCER_DIR_NAME/pgbouncer.pid" 10; }

# --- The second pool (pool2-up) ---------------------------------------------

# Another master on the same database behind another nginx, so tests can
# deliver webhooks through two independent pools at once. Ports and binary
# come from DIR/env, i.e. from the stack that is already up.
pool2_env() {
	[ -s "$DIR/env" ] || die "no stack in $DIR (run up first)"
	HTTPS_PORT=${POOL2_HTTPS_PORT:-$(($(sed -n 's/^HTTPS_PORT=//p' "$DIR/env") + 1))}
	HTTP_PORT=${POOL2_HTTP_PORT:-$(($(sed -n 's/^HTTP_PORT=//p' "$DIR/env") + 1))}
	BIN=$(sed -n 's/^BIN=//p' "$DIR/env")
	PGPORT_LOCAL=$(sed -n 's/^PGPORT=//p' "$DIR/env")
	NGINX_DIR=$DIR/nginx2
	FCGI_SOCK=fcgi2.sock
	chain_env
	if [ -n "${POOL2_RPC_BSC-}" ]; then export PAYMENTS_RPC_BSC=$POOL2_RPC_BSC; fi
}

pool2_failed() {
	local rc=$?
	[ "$rc" -eq 0 ] && return 0
	say "pool2-up failed: stopping what was started"
	pool2_down
	exit "$rc"
}

pool2_up() {
	pool2_down
	pool2_env
	trap pool2_failed EXIT
	pgbouncer_start
	pool_start 2
	nginx_start
	trap - EXIT
	sed -i '/^BASE_URL2=/d' "$DIR/env"
	echo "BASE_URL2=https://localhost:$HTTPS_PORT" >>"$DIR/env"
	say "pool2 up: https://localhost:$HTTPS_PORT"
}

pool2_down() {
	NGINX_DIR=$DIR/nginx2 nginx_stop
	pool_stop 2
	pgbouncer_stop
	if [ -f "$DIR/env" ]; then sed -i '/^BASE_URL2=/d' "$DIR/env"; fi
}

# The first pool again, e.g. with another PAYMENTS_WORKERS (the bench's sweep).
pool_restart() {
	[ -s "$DIR/env" ] || die "no stack in $DIR (run up first)"
	BIN=$(sed -n 's/^BIN=//p' "$DIR/env")
	chain_env
	pool_stop
	pool_start
}

# --- Subcommands ------------------------------------------------------------

write_env() {
	cat >"$DIR/env" <<-EOF
		BASE_URL=https://localhost:$HTTPS_PORT
		HTTP_URL=http://localhost:$HTTP_PORT
		HTTPS_PORT=$HTTPS_PORT
		HTTP_PORT=$HTTP_PORT
		CA_CERT=$DIR/fullchain.pem
		PGHOST=127.0.0.1
		PGPORT=$PGPORT_LOCAL
		PGDATABASE=$DB_NAME
		PGUSER=$DB_USER
		DATABASE_URL=$DATABASE_URL
		CONFIG=$DIR/payments.conf
		POOL_PID_FILE=$DIR/pool.pid
		NGINX_PID_FILE=$NGINX_DIR/nginx.pid
		BIN=$BIN
		STACK_DIR=$DIR
		SHKEEPER_URL=http://127.0.0.1:$SHKEEPER_PORT
		SHKEEPER_API_KEY_FILE=$DIR/shkeeper_api_key
		SHKEEPER_PAYOUT_AUTH_FILE=$DIR/shkeeper_payout_auth
		SHKEEPER_PAYOUT_WALLET=$SHKEEPER_PAYOUT_WALLET
		BVNK_URL=http://127.0.0.1:$BVNK_PORT
		BVNK_SECRET_FILE=$DIR/bvnk_secret
		BVNK_PAYOUT_WALLET=$BVNK_PAYOUT_WALLET
		BVNK_MERCHANT_ID=$BVNK_MERCHANT_ID
		HOT_WALLET_KEY_FILE=$DIR/hot_wallet_key
		DEV_FAULT_FILE=$DIR/dev_fault
	EOF
	if [ -f "$DIR/chain.env" ]; then cat "$DIR/chain.env" >>"$DIR/env"; fi
}

stack_down() {
	pool2_down
	nginx_stop
	pool_stop
	shkeeper_stop
	bvnk_stop
	chain_down
	pg_stop
}

up_failed() {
	local rc=$?
	[ "$rc" -eq 0 ] && return 0
	say "up failed: stopping what was started"
	stack_down
	exit "$rc"
}

stack_up() {
	case "$BIN" in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
	[ -x "$BIN" ] || die "$BIN is not built (run make)"
	# Whatever a previous run left behind would hold the ports.
	pool2_down
	nginx_stop
	pool_stop
	shkeeper_stop
	bvnk_stop
	# Stop what this run started if a step fails, so a retry starts clean.
	trap up_failed EXIT

	pg_init
	pg_start
	pg_create_db
	write_secret
	write_shkeeper_key
	write_shkeeper_payout_auth
	write_bvnk_secret
	write_hot_wallet_key
	write_config
	migrate
	make_cert
	chain_up
	chain_env
	shkeeper_start
	bvnk_start
	pool_start
	nginx_start
	write_env
	trap - EXIT
	say "up: https://localhost:$HTTPS_PORT (logs in $DIR)"
}

stack_run() {
	local token pid
	set_dir "$ROOT/.run" create
	stack_up
	token=$("$BIN" -c "$DIR/payments.conf" token --sub dev-admin --role admin --ttl 86400) ||
		{
			stack_down
			die "could not mint a development token"
		}
	cat <<-EOF

		Local stack is up (logs: $DIR/pool.log, $NGINX_DIR/logs/).
		Development admin token (24 h):
		  $token

		  curl -k -H "Authorization: Bearer $token" https://localhost:$HTTPS_PORT/api/payment
		  curl -k https://localhost:$HTTPS_PORT/api/payment/health

		Fake SHKeeper at http://127.0.0.1:$SHKEEPER_PORT (log: $DIR/shkeeper.log). To pay an invoice
		(a real transfer on the local chain, checked by the service before it funds anything):
		  curl -X POST http://127.0.0.1:$SHKEEPER_PORT/__control/pay -d '{"external_id":"<externalId>","amount_crypto":"<amount>"}'

		Fake BVNK at http://127.0.0.1:$BVNK_PORT (log: $DIR/bvnk.log): payouts through it
		(POST /api/payment/bvnk/payout) complete with a real transfer and its signed webhooks.

		Live events need the jobs process (its relay publishes them), in another terminal:
		  $BIN -c $DIR/payments.conf jobs
		  curl -kN "https://localhost:$HTTPS_PORT/api/payment/events/stream/admin?access_token=$token"

		Ctrl-C stops everything.
	EOF
	trap 'echo; say "stopping"; stack_down; exit 0' INT TERM
	pid=$(pool_pid)
	# `wait` returns as soon as a signal arrives, where a plain sleep would
	# hold the trap back until it finishes.
	while alive "$pid"; do
		sleep 2 &
		wait $! || true
	done
	tail -n 20 "$DIR/pool.log" >&2
	say "the pool exited (see $DIR/pool.log): stopping"
	stack_down
	exit 1
}

usage() {
	grep '^#   ' "$0" | sed 's/^#//' >&2
	exit 2
}

main() {
	[ $# -ge 1 ] || usage
	case "$1" in
	up) set_dir "${2-}" create && stack_up ;;
	down) set_dir "${2-}" && stack_down ;;
	pg-stop) set_dir "${2-}" && pg_stop ;;
	pg-start) set_dir "${2-}" && pg_start ;;
	pool-restart) set_dir "${2-}" && pool_restart ;;
	pool2-up) set_dir "${2-}" && pool2_up ;;
	pool2-down) set_dir "${2-}" && pool2_down ;;
	run) stack_run ;;
	*) usage ;;
	esac
}

main "$@"
