#!/usr/bin/env bash
# shellcheck disable=SC2016 # measure_pair evals its commands: single quotes on purpose
# bench/sweep.sh — the two curves of docs/benchmarks.md, partaged and nginx
# on one chart each, drawn with gnuplot (SVG into docs/img/):
#
#   conns.svg   4 KiB GET requests/s against the number of connections
#               (SWEEP_CONNS, default "1 10 100 1000"; wrk, medians of
#               BENCH_RUNS runs, alternating)
#   capped.svg  p99 of a 4 KiB GET (wrk -t2 -c32) against the number of
#               capped downloads open (SWEEP_CAPPED, default
#               "1000 2500 5000 10000"; 0 is the idle run), one
#               bench/throttle.sh run per point
#
# The data behind each chart goes to bench/results/sweep-*.dat beside it.
# Knobs: those of bench/lib.sh and bench/throttle.sh, and SWEEP_ONLY=conns
# or capped for one of the two.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SWEEP_CONNS=${SWEEP_CONNS:-"1 10 100 1000"}
SWEEP_CAPPED=${SWEEP_CAPPED:-"1000 2500 5000 10000"}
IMG=${SWEEP_IMG:-$BENCH_ROOT/docs/img}
stamp=$(date +%Y%m%d-%H%M%S)

command -v gnuplot >/dev/null || PARTAGE_BENCH=1 "$BENCH_ROOT/scripts/install-deps.sh"
command -v gnuplot >/dev/null || die "no gnuplot (Debian: gnuplot-nox)"
mkdir -p "$IMG" "$BENCH_RESULTS"

conns_sweep() {
	bench_init
	start_nginx
	start_partaged
	make_file "$BT/src/f4k.bin" 4096
	local pd ng c dat=$BENCH_RESULTS/sweep-conns-$stamp.dat
	pd=$(upload_partaged "$BT/src/f4k.bin" f4k.bin)
	cp "$BT/src/f4k.bin" "$BT/www/f4k.bin"
	ng="$NG_URL/f4k.bin"
	BENCH_DURATION=2s wrk_rps 64 "$ng" >/dev/null
	BENCH_DURATION=2s wrk_rps 64 "$pd" >/dev/null
	echo "# conns nginx_rps partaged_rps (4 KiB GET, medians of $BENCH_RUNS)" >"$dat"
	for c in $SWEEP_CONNS; do
		RESULT_ROWS=()
		# wrk needs at least as many connections as threads
		local t=$BENCH_THREADS
		[ "$c" -lt "$t" ] && t=$c
		BENCH_THREADS=$t measure_pair "4 KiB GET, $c conns" "req/s" - 1 \
			"wrk_rps $c '$ng'" "wrk_rps $c '$pd'"
		IFS='|' read -r _ _ a b _ <<<"${RESULT_ROWS[0]}"
		echo "$c $a $b" >>"$dat"
		log "conns $c: nginx $a partaged $b"
	done
	bench_cleanup
	trap - EXIT
	gnuplot <<GP
set terminal svg size 720,420 dynamic noenhanced font "sans,12"
set output "$IMG/conns.svg"
set title "4 KiB GET, requests/s against open connections ($(nproc) CPUs, loopback)"
set logscale x
set xlabel "connections (wrk)"
set ylabel "requests/s"
set yrange [0:*]
set key bottom right
set grid
plot "$dat" using 1:2 with linespoints lw 2 title "nginx", \
     "$dat" using 1:3 with linespoints lw 2 title "partaged"
GP
	log "chart: $IMG/conns.svg (data $dat)"
}

capped_sweep() {
	local rows=$BT_SWEEP/rows dat=$BENCH_RESULTS/sweep-capped-$stamp.dat n
	echo "# capped nginx_p99_ms partaged_p99_ms nginx_rps partaged_rps nginx_aggregate_ratio partaged_aggregate_ratio" >"$dat"
	for n in $SWEEP_CAPPED; do
		: >"$rows"
		THROTTLE_CONNS=$n THROTTLE_ROWS=$rows "$BENCH_ROOT/bench/throttle.sh" >&2
		python3 - "$rows" "$n" "${THROTTLE_CAP:-64K}" >>"$dat" <<'PY'
import json, sys
rows, n, cap = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = {"K": 1 << 10, "M": 1 << 20}
cap = int(cap[:-1]) * m[cap[-1]] if cap[-1] in m else int(cap)
r = {x["name"]: x for x in map(json.loads, open(rows))}
ng, pd = r["ng"], r["pd"]
# the idle run of this throttle.sh run is the point at 0
print("#0 %s %s %s %s" % (ng["idle"][1], pd["idle"][1], ng["idle"][2], pd["idle"][2]))
print("%d %s %s %s %s %.3f %.3f" % (n, ng["load"][1], pd["load"][1], ng["load"][2], pd["load"][2],
      ng["stats"]["aggregate_Bps"] / (n * cap), pd["stats"]["aggregate_Bps"] / (n * cap)))
PY
	done
	# the point at 0: the median of the idle runs
	python3 - "$dat" <<'PY'
import statistics, sys
p = sys.argv[1]
lines = open(p).read().splitlines()
idle = [l.split()[1:] for l in lines if l.startswith("#0 ")]
rest = [l for l in lines if not l.startswith("#0 ")]
med = [statistics.median(float(x[i]) for x in idle) for i in range(4)]
rest.insert(1, "0 %.3f %.3f %.0f %.0f 1 1" % tuple(med))
open(p, "w").write("\n".join(rest) + "\n")
PY
	gnuplot <<GP
set terminal svg size 720,420 dynamic noenhanced font "sans,12"
set output "$IMG/capped.svg"
set title "p99 of a 4 KiB GET (wrk -t2 -c32) while capped downloads run (${THROTTLE_CAP:-64K}/s each)"
set xlabel "capped downloads open"
set ylabel "p99 latency (ms)"
set yrange [0:*]
set key top left
set grid
plot "$dat" using 1:2 with linespoints lw 2 title "nginx (limit_rate)", \
     "$dat" using 1:3 with linespoints lw 2 title "partaged"
GP
	log "chart: $IMG/capped.svg (data $dat)"
}

BT_SWEEP=$(mktemp -d)
trap 'rm -rf "$BT_SWEEP"' EXIT
case ${SWEEP_ONLY:-} in
conns) conns_sweep ;;
capped) capped_sweep ;;
*) (conns_sweep); capped_sweep ;;
esac
