#!/bin/sh
# stop-ceph.sh — stop the Ceph cluster started by scripts/start-ceph.sh
# [DIR] (radosgw first, the monitor last).  `--purge` also deletes DIR
# (the cluster, its objects and the configuration).
set -u

purge=
[ "${1:-}" = --purge ] && { purge=1; shift; }
DIR=${1:-/tmp/partage-ceph}

for d in rgw osd mon; do
	f=$DIR/run/$d.pid
	[ -f "$f" ] || continue
	pid=$(cat "$f")
	# started with setsid: the pid leads its own process group
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
	fi
	rm -f "$f"
done
[ -n "$purge" ] && rm -rf "$DIR"
exit 0
