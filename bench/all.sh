#!/usr/bin/env bash
# bench/all.sh — every row of issue 13's table, each against its reference
# in the same run, then the two charts, and one summary of the newest
# results in bench/results/all-DATE.md.  Run it on a quiet machine (no
# builds, tests or other benchmarks at the same time): about 30 minutes
# with the defaults.
#
#   bench/download.sh   4 KiB GET (64 and 1000 conns), 1 MiB GET, 1 GiB GET vs nginx
#   bench/upload.sh     1 GiB PUT vs nginx dav, and vs nginx dav + fsync; 1 MiB PUTs
#   bench/tus.sh        tus upload vs @tus/server, and vs dd conv=fdatasync
#   bench/throttle.sh   THROTTLE_CONNS (10 000 here) capped downloads vs nginx limit_rate
#   bench/sweep.sh      req/s against connections; p99 against capped downloads
#
# Knobs: those of each script (bench/lib.sh); ALL_SKIP=REGEX skips the
# scripts whose name matches (e.g. ALL_SKIP='sweep|tus').
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
results=${BENCH_RESULTS:-$dir/results}
start=$(date +%Y%m%d-%H%M%S)
run() {
	local name=$1
	shift
	if [ -n "${ALL_SKIP:-}" ] && grep -qE -- "$ALL_SKIP" <<<"$name"; then
		echo "[all] skipping $name" >&2
		return 0
	fi
	echo "[all] $name" >&2
	"$@"
}
run download "$dir/download.sh"
run upload "$dir/upload.sh"
run tus "$dir/tus.sh"
run throttle env THROTTLE_CONNS="${THROTTLE_CONNS:-10000}" "$dir/throttle.sh"
run sweep "$dir/sweep.sh"

# the summary: every result file written by this run, in order
out="$results/all-$start.md"
{
	echo "# bench/all.sh — $(date -u '+%F %T UTC'), $(nproc) CPUs"
	echo
	for f in "$results"/*.md; do
		b=$(basename "$f" .md)
		case $b in all-*) continue ;; esac
		# newer than the start of this run
		ts=$(sed -E 's/.*-([0-9]{8}-[0-9]{6})$/\1/' <<<"$b")
		[[ "$ts" > "$start" || "$ts" == "$start" ]] || continue
		cat "$f"
		echo
	done
	for f in "$results"/sweep-*.dat; do
		ts=$(sed -E 's/.*-([0-9]{8}-[0-9]{6})\.dat$/\1/' <<<"$f")
		[[ "$ts" > "$start" || "$ts" == "$start" ]] || continue
		echo "### $(basename "$f")"
		echo
		echo '```'
		cat "$f"
		echo '```'
		echo
	done
} >"$out"
echo "[all] summary: $out" >&2
