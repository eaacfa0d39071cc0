#!/bin/sh
# stop-s3.sh — stop the Swift started by scripts/start-s3.sh [DIR].
# `--purge` also deletes DIR (the stored objects and the configuration).
set -u

purge=
[ "${1:-}" = --purge ] && { purge=1; shift; }
DIR=${1:-/tmp/partage-s3}

for kind in proxy object container account; do
	f=$DIR/run/$kind.pid
	[ -f "$f" ] || continue
	pid=$(cat "$f")
	# started with setsid: the pid leads its own process group
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
	fi
	rm -f "$f"
done
mountpoint -q "$DIR/srv" 2>/dev/null && umount "$DIR/srv"
[ -n "$purge" ] && rm -rf "$DIR"
exit 0
