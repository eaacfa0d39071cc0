#!/usr/bin/env bash
# stop-haproxy.sh — stop the haproxy that scripts/start-haproxy.sh started
# as a daemon in DIR (its pid file is DIR/haproxy.pid).  Safe to run twice:
# no pid file, or a process that is gone, is not an error.  With --purge
# (after DIR) the directory is deleted too.
set -euo pipefail

DIR=
PURGE=0
for a in "$@"; do
	case $a in
	--purge) PURGE=1 ;;
	*) DIR=$a ;;
	esac
done
say() { echo "stop-haproxy: $*" >&2; }
[ -n "$DIR" ] || { say "usage: stop-haproxy.sh DIR [--purge]"; exit 1; }

PIDF=$DIR/haproxy.pid
if [ -s "$PIDF" ]; then
	pid=$(cat "$PIDF")
	# only a haproxy: the pid file may be stale and the pid reused
	if kill -0 "$pid" 2>/dev/null &&
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = haproxy ]; then
		kill -USR1 "$pid" # soft stop: connections in flight finish
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "haproxy $pid still runs after 5 s: SIGTERM"
			kill -TERM "$pid" 2>/dev/null || true
		fi
		say "stopped haproxy $pid"
	else
		say "haproxy of '$DIR' is not running"
	fi
	rm -f "$PIDF"
else
	say "no haproxy pid file in '$DIR'"
fi
[ "$PURGE" = 0 ] || rm -rf "$DIR"
