#!/usr/bin/env bash
# shellcheck disable=SC2016 # measure_pair evals its commands: single quotes on purpose
# bench/download.sh — GET throughput, partaged vs nginx, on loopback.
#
#   4 KiB GET, requests/s, wrk -c64 and -c1000      target ≥ 1.00× nginx
#   1 MiB GET, requests/s, wrk -c64                  (reported, no target)
#   1 GiB GET, GiB/s, one curl, file in page cache   target ≥ 0.97× nginx
#
# Both servers serve the very same bytes: each file is uploaded to partaged and
# copied into nginx's root.  Runs alternate between the servers; the table
# shows medians of BENCH_RUNS runs (default 3).  See bench/lib.sh for knobs.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

bench_init
start_nginx
start_partaged

declare -A NG PD
for spec in 4k:4096 1m:1048576 1g:1073741824; do
	name=${spec%%:*} size=${spec#*:}
	case $name in # skip files that no selected metric (BENCH_ONLY) uses
	4k) want "4 KiB GET, 64 conns" || want "4 KiB GET, 1000 conns" ;;
	1m) want "1 MiB GET, 64 conns" ;;
	1g) want "1 GiB GET, 1 conn (curl)" ;;
	esac || continue
	make_file "$BT/src/f$name.bin" "$size"
	PD[$name]=$(upload_partaged "$BT/src/f$name.bin" "f$name.bin")
	cp "$BT/src/f$name.bin" "$BT/www/f$name.bin"
	NG[$name]="$NG_URL/f$name.bin"
	cat "$BT/www/f$name.bin" >/dev/null
	# same bytes from both servers?
	[ "$(curl -sS -f "${PD[$name]}" | sha256sum)" = "$(curl -sS -f "${NG[$name]}" | sha256sum)" ] ||
		die "f$name: partaged and nginx serve different bytes"
	log "f$name: nginx ${NG[$name]}  partaged ${PD[$name]}"
done
# the blob partaged serves is its own copy: warm it too
find "$BT/pd/data" -type f -size +1M -exec cat {} + >/dev/null

# a short warm-up of both servers (connections, caches, CPU frequency)
if [ -n "${NG[4k]:-}" ]; then
	BENCH_DURATION=2s wrk_rps 64 "${NG[4k]}" >/dev/null
	BENCH_DURATION=2s wrk_rps 64 "${PD[4k]}" >/dev/null
fi

measure_pair "4 KiB GET, 64 conns" "req/s" 1.00 1 \
	'with_cpu ng wrk_rps 64 "${NG[4k]}"' 'with_cpu pd wrk_rps 64 "${PD[4k]}"'
measure_pair "4 KiB GET, 1000 conns" "req/s" 1.00 1 \
	'with_cpu ng wrk_rps 1000 "${NG[4k]}"' 'with_cpu pd wrk_rps 1000 "${PD[4k]}"'
measure_pair "1 MiB GET, 64 conns" "req/s" - 1 \
	'with_cpu ng wrk_rps 64 "${NG[1m]}"' 'with_cpu pd wrk_rps 64 "${PD[1m]}"'
measure_pair "1 GiB GET, 1 conn (curl)" "GiB/s" 0.97 1073741824 \
	'with_cpu ng curl_get "${NG[1g]}"' 'with_cpu pd curl_get "${PD[1g]}"'

print_results download
