#!/usr/bin/env bash
# stop-postgres.sh — stop the PostgreSQL that scripts/start-postgres.sh
# started in $1 (default /tmp/partage-pg).  Safe to run twice: a server that
# is not running, or a directory that does not exist, is not an error.
# With --purge (after the directory, if any) the cluster is deleted too.
set -euo pipefail
cd /  # the server user may not be able to enter the caller's directory

DIR=/tmp/partage-pg
PURGE=0
for a in "$@"; do
	case $a in
	--purge) PURGE=1 ;;
	*) DIR=$a ;;
	esac
done
PGBIN=/usr/lib/postgresql/15/bin

say() { echo "stop-postgres: $*" >&2; }

if [ ! -d "$DIR" ]; then
	say "no cluster in '$DIR'"
	exit 0
fi
[ -f "$DIR/PG_VERSION" ] || { say "'$DIR' is not a PostgreSQL cluster"; exit 1; }

# pg_ctl refuses root: act as the directory's owner, like the server does.
owner=$(stat -c %U "$DIR")
if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
	as_owner() { setpriv --reuid="$owner" --regid="$owner" --init-groups -- "$@"; }
else
	as_owner() { "$@"; }
fi

if as_owner "$PGBIN/pg_ctl" status -D "$DIR" >/dev/null 2>&1; then
	# fast: roll back open transactions and disconnect clients now
	as_owner "$PGBIN/pg_ctl" stop -D "$DIR" -m fast -w -t 60 >/dev/null
	say "stopped"
else
	say "not running"
fi
if [ "$PURGE" = 1 ]; then
	rm -rf -- "$DIR"
	say "removed '$DIR'"
fi
