#!/usr/bin/env bash
# bench/profile.sh — where partaged (and nginx, for comparison) spend their
# time under one benchmark load.
#
#   bench/profile.sh get4k [CONNS]   wrk on a 4 KiB file (default 64 conns)
#   bench/profile.sh get1g           curl GETs of a 1 GiB file
#   bench/profile.sh put1g           curl -T of a 1 GiB file
#   bench/profile.sh put1m [CONNS]   wrk PUTs of a 1 MiB file (default 16 conns)
#
# Runs the same load against nginx and then partaged while `perf record -g`
# samples exactly those processes (partaged and nginx's workers: the busy
# machine's other processes stay out), then prints, per server, CPU seconds
# used, samples by shared object, and the hottest symbols.  Output also goes
# to BENCH_RESULTS/profile-WHAT-*.txt.  Needs perf (Debian: linux-perf).
# Libraries without symbols (libmicrohttpd) show as addresses; resolve them
# with `objdump -d` or install the -dbgsym package.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

what=${1:-get4k}
conns=${2:-64}
command -v perf >/dev/null || die "perf missing (apt-get install linux-perf)"
perf stat -e instructions true >/dev/null 2>&1 || die "perf cannot count here"

bench_init
start_nginx
start_partaged
mkdir -p "$BENCH_RESULTS"
out="$BENCH_RESULTS/profile-$what-$(date +%Y%m%d-%H%M%S).txt"

case $what in
get4k)
	make_file "$BT/src/f.bin" 4096
	pdurl=$(upload_partaged "$BT/src/f.bin" f.bin)
	cp "$BT/src/f.bin" "$BT/www/f.bin"
	BENCH_DURATION=2s wrk_rps "$conns" "$pdurl" >/dev/null
	BENCH_DURATION=2s wrk_rps "$conns" "$NG_URL/f.bin" >/dev/null
	load() { BENCH_DURATION=10s wrk_rps "$conns" "$1"; } ;;
get1g)
	make_file "$BT/src/f.bin" 1073741824
	pdurl=$(upload_partaged "$BT/src/f.bin" f.bin)
	cp "$BT/src/f.bin" "$BT/www/f.bin"
	find "$BT" -type f -size +1M -exec cat {} + >/dev/null
	load() { for i in 1 2 3; do curl_get "$1"; done; } ;;
put1g)
	make_file "$BT/src/f.bin" 1073741824
	pdurl=$PD_URL/p
	curl_put "$BT/src/f.bin" "$NG_URL/dav/w.bin" >/dev/null
	curl_put "$BT/src/f.bin" "$PD_URL/w.bin" >/dev/null
	load() { for i in 1 2 3; do
		head -c 16 /dev/urandom >>"$BT/src/f.bin" # new content: no dedup
		sync -f "$BT/www"
		curl_put "$BT/src/f.bin" "$1$i.bin"
	done; } ;;
put1m)
	make_file "$BT/src/f.bin" 1048576
	pdurl=$PD_URL/p.bin
	[ -n "${2:-}" ] || conns=16
	load() { BENCH_PUT_FILE="$BT/src/f.bin" BENCH_DURATION=10s \
		wrk_rps "$conns" "$1" -s "$BENCH_ROOT/bench/put.lua"; } ;;
*) die "unknown workload $what" ;;
esac
ngurl=$NG_URL/f.bin
case $what in put1g) ngurl=$NG_URL/dav/p ;; put1m) ngurl=$NG_URL/dav/p.bin ;; esac

ngpids=$(pgrep -P "$NG_PID" | paste -sd,)
ticks() { local t=0 p; for p in ${1//,/ }; do
	t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }

perf record -F 999 -g -p "$PD_PID,$ngpids" -o "$BT/perf.data" 2>"$BT/perf.err" &
perf_pid=$!
sleep 1
a=$(ticks "$ngpids"); ngres=$(load "$ngurl" | paste -sd' '); b=$(ticks "$ngpids")
ngcpu=$(awk -v t=$((b - a)) -v h="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / h }')
a=$(ticks "$PD_PID"); pdres=$(load "$pdurl" | paste -sd' '); b=$(ticks "$PD_PID")
pdcpu=$(awk -v t=$((b - a)) -v h="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / h }')
kill -INT "$perf_pid"
wait "$perf_pid" || true
[ -s "$BT/perf.data" ] || { cat "$BT/perf.err" >&2; die "perf record failed"; }

# Only these processes were recorded, so the thread names tell them apart
# (perf report's --pid/--tid filters drop kernel samples of the MHD threads).
report() { # COMM → dso and symbol tables
	echo "## by shared object"
	perf report -i "$BT/perf.data" --sort comm,dso --no-children --stdio \
		-g none 2>/dev/null | grep -v -e '^#' -e '^$' | grep -F " $1 " | head -12 || true
	echo "## hottest symbols (self)"
	perf report -i "$BT/perf.data" --sort comm,dso,sym --no-children --stdio \
		-g none 2>/dev/null | grep -v -e '^#' -e '^$' | grep -F " $1 " | head -30 || true
}
{
	echo "# workload: $what (conns $conns), $(date -u '+%F %T UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# percentages are of all samples of both servers together"
	echo
	echo "# nginx workers: results $ngres; CPU ${ngcpu}s (user+sys)"
	report nginx
	echo
	echo "# partaged: results $pdres; CPU ${pdcpu}s (user+sys)"
	report MHD-worker
} | tee "$out"
log "profile written to $out"
