#!/usr/bin/env bash
# shellcheck disable=SC2016 # measure_pair evals its commands: single quotes on purpose
# bench/upload.sh — PUT throughput, partaged vs nginx (dav module), loopback.
#
#   1 GiB PUT, GiB/s, one curl -T, source in page cache   target ≥ 1.00× nginx
#   1 GiB PUT against nginx + fsync of the file and its directory, timed
#     together: the same durability as partaged (reported, no target)
#   1 MiB PUT, req/s, wrk -c16 with bench/put.lua (reported, no target)
#
# partaged hashes (SHA-256) while it writes, fsyncs the file and its
# directory, and inserts a row in SQLite before it answers; nginx's dav PUT
# writes the body to a temp file (client_body_temp_path, same file system)
# and renames it, without fsync.  Both write into the same file system.
# Each partaged run uploads different content (no dedup shortcut); nginx
# overwrites one path.  Medians of BENCH_RUNS runs (default 3).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

bench_init
start_nginx
start_partaged

# one source file per run so partaged never deduplicates (all in page cache)
big=0
{ want "1 GiB PUT, 1 conn (curl -T)" || want "1 GiB PUT, nginx + fsync (durable)"; } && big=1
if [ $big = 1 ]; then
	for i in $(seq 0 "$BENCH_RUNS"); do
		make_file "$BT/src/up$i.bin" 1073741824
	done
	for i in $(seq 0 "$BENCH_RUNS"); do cat "$BT/src/up$i.bin" >/dev/null; done
fi
make_file "$BT/src/up1m.bin" 1048576


# 1 GiB PUT to nginx, then fsync of the file and its directory, timed as one:
# the durability partaged gives before its 201 (no fsync → no target)
ng_put_durable() { # FILE
	local t0 t1
	t0=$(date +%s.%N)
	curl -sS -f -o /dev/null -T "$1" "$NG_URL/dav/up.bin" || return 1
	sync "$BT/www/dav/up.bin" "$BT/www/dav"
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" -v n="$(stat -c %s "$1")" 'BEGIN { printf "%.0f\n", n / (b - a) }'
}

# 1 MiB PUTs with wrk (same content each time: partaged deduplicates it,
# but still hashes, fsyncs and inserts a row for each)
wrk_put() { # CONNS URL
	BENCH_PUT_FILE="$BT/src/up1m.bin" wrk_rps "$1" "$2" -s "$BENCH_ROOT/bench/put.lua"
}

# warm-up: one throwaway 1 GiB PUT each (run 0's file)
if [ $big = 1 ]; then
	curl_put "$BT/src/up0.bin" "$NG_URL/dav/warm.bin" >/dev/null
	curl_put "$BT/src/up0.bin" "$PD_URL/warm.bin" >/dev/null
	rm -f "$BT/www/dav/warm.bin"
	sync -f "$BT/www"
fi

# sync before each run: nginx does not fsync, so without this its dirty pages
# would be written back during the next (partaged) run
PRE_RUN="sync -f $BT/www"
measure_pair "1 GiB PUT, 1 conn (curl -T)" "GiB/s" 1.00 1073741824 \
	'with_cpu ng curl_put "$BT/src/up$RUN.bin" "$NG_URL/dav/up.bin"' \
	'with_cpu pd curl_put "$BT/src/up$RUN.bin" "$PD_URL/up$RUN.bin"'
# new content again (16 more bytes), so partaged does not deduplicate
[ $big = 0 ] || for i in $(seq "$BENCH_RUNS"); do head -c 16 /dev/urandom >>"$BT/src/up$i.bin"; done
measure_pair "1 GiB PUT, nginx + fsync (durable)" "GiB/s" - 1073741824 \
	'with_cpu ng ng_put_durable "$BT/src/up$RUN.bin"' \
	'with_cpu pd curl_put "$BT/src/up$RUN.bin" "$PD_URL/up$RUN-d.bin"'
PRE_RUN=
measure_pair "1 MiB PUT, 16 conns (wrk)" "req/s" - 1 \
	'with_cpu ng wrk_put 16 "$NG_URL/dav/m.bin"' 'with_cpu pd wrk_put 16 "$PD_URL/m.bin"'

print_results upload
