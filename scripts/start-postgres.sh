#!/usr/bin/env bash
# start-postgres.sh — a private PostgreSQL 15 for partage's tests, CI and
# developers: one cluster in a directory of its own (default /tmp/partage-pg,
# or $1), listening on 127.0.0.1:$PGPORT (default 25432) and on a Unix
# socket inside that directory, with a database `partage` owned by a user
# `partage` that loopback clients reach without a password (trust auth: a
# test cluster, never a production one).  Prints the DSN on stdout, and only
# that, so `dsn=$(scripts/start-postgres.sh)` works; progress goes to stderr.
#
# Idempotent: installs the Debian packages only if missing (without letting
# them create or start a cluster of their own), runs initdb only once, starts
# the server only if it is not running, creates the user and the database
# only if absent.  As root, the server runs as the `postgres` user because
# initdb and postgres refuse root.  Stop it with scripts/stop-postgres.sh.
#
# The default port is below Linux's ephemeral range (32768-60999): a port in
# that range can be held by some client socket in TIME_WAIT, and then the
# server cannot bind it (seen with 55432 while the e2e suite ran).
#
# Env: PGPORT (25432), PARTAGE_PG_DURABLE=1 keeps fsync on (it is off by
# default: a throwaway cluster for tests gains speed and loses nothing).
set -euo pipefail
cd /  # the server user may not be able to enter the caller's directory

DIR=${1:-/tmp/partage-pg}
PORT=${PGPORT:-25432}
PGBIN=/usr/lib/postgresql/15/bin
DBUSER=partage
DBNAME=partage

say() { echo "start-postgres: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- packages: the server binaries and psql, but no cluster of Debian's
if [ ! -x "$PGBIN/postgres" ] || [ ! -x "$PGBIN/psql" ]; then
	[ "$(id -u)" -eq 0 ] || die "postgresql-15 is not installed; run me as root once (or apt-get install postgresql-15 postgresql-client-15)"
	say "installing postgresql-15 postgresql-client-15"
	# Without this the package's postinst creates and starts a 'main'
	# cluster on port 5432 that nobody asked for.
	mkdir -p /etc/postgresql-common/createcluster.d
	echo "create_main_cluster = false" \
		>/etc/postgresql-common/createcluster.d/partage.conf
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends \
		postgresql-15 postgresql-client-15 >&2
fi

# ---- who runs the server: ourselves, or `postgres` when we are root
if [ "$(id -u)" -eq 0 ]; then
	RUNAS=postgres
	getent passwd "$RUNAS" >/dev/null || die "no user '$RUNAS' (the postgresql-common package creates it)"
	as_owner() { setpriv --reuid="$RUNAS" --regid="$RUNAS" --init-groups -- "$@"; }
else
	RUNAS=$(id -un)
	as_owner() { "$@"; }
fi

# ---- the cluster directory (the socket lives in it too, so no /run access)
DIR=$(realpath -m "$DIR")
[ ${#DIR} -le 90 ] || die "'$DIR' is too long for a Unix socket path"
if [ ! -d "$DIR" ]; then
	mkdir -p "$DIR"
	[ "$RUNAS" = "$(id -un)" ] || chown "$RUNAS:" "$DIR"
	chmod 700 "$DIR"
fi
owner=$(stat -c %U "$DIR")
[ "$owner" = "$RUNAS" ] || die "'$DIR' belongs to $owner, not $RUNAS"
as_owner test -w "$DIR" || die "$RUNAS cannot write '$DIR' (is a parent directory closed to it?)"

if [ ! -f "$DIR/PG_VERSION" ]; then
	say "initdb in $DIR"
	as_owner "$PGBIN/initdb" -D "$DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=trust >"$DIR.initdb.log" 2>&1 ||
		{ cat "$DIR.initdb.log" >&2; die "initdb failed"; }
	rm -f "$DIR.initdb.log"
	fsync=off
	[ "${PARTAGE_PG_DURABLE:-0}" = 1 ] && fsync=on
	# Loopback only; the socket in DIR; room for many partaged threads.
	as_owner tee -a "$DIR/postgresql.conf" >/dev/null <<EOF

# partage (scripts/start-postgres.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
max_connections = 200
fsync = $fsync
synchronous_commit = $fsync
full_page_writes = $fsync
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
fi

# ---- start unless running (pg_ctl status: 0 running, 3 not running)
running_port() { sed -n 4p "$DIR/postmaster.pid" 2>/dev/null; }
if as_owner "$PGBIN/pg_ctl" status -D "$DIR" >/dev/null 2>&1; then
	PORT=$(running_port)
	say "already running on port $PORT"
else
	say "starting on 127.0.0.1:$PORT"
	as_owner "$PGBIN/pg_ctl" start -D "$DIR" -l "$DIR/postgres.log" -w -t 60 \
		-o "-p $PORT" >/dev/null ||
		{ tail -n 20 "$DIR/postgres.log" >&2; die "the server did not start"; }
fi

# ---- readiness, then the user and the database (as the superuser)
for _ in $(seq 1 100); do
	"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres && break
	sleep 0.1
done
"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres || die "the server is not ready on port $PORT"

psql_su() {
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres \
		-d postgres -tA "$@"
}
if [ -z "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname = '$DBUSER'")" ]; then
	psql_su -c "CREATE ROLE $DBUSER LOGIN CREATEDB"
fi
if [ -z "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" ]; then
	psql_su -c "CREATE DATABASE $DBNAME OWNER $DBUSER"
fi

echo "postgresql://$DBUSER@127.0.0.1:$PORT/$DBNAME"
