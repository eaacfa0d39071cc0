#!/usr/bin/env bash
# bench/put-ab.sh — A/B of partaged builds on 1 GiB PUTs: each binary gets
# its own server (SQLite + fs in a temp dir, anonymous uploads up to 4 GiB),
# then rounds of one `curl -T` each, alternating between the binaries, each
# PUT with new content (no dedup).  Prints every run (GiB/s and the server's
# user+sys seconds, from /proc/PID/stat) and the medians per binary.
#
#   bench/put-ab.sh [ROUNDS] BIN_A BIN_B...       (ROUNDS defaults to 5)
#
# Alternating pairs are what a noisy machine allows: compare runs of one
# round, not the absolute numbers of different hours.
set -euo pipefail
rounds=5
[[ ${1:-} =~ ^[0-9]+$ ]] && { rounds=$1; shift; }
[ $# -ge 1 ] || { echo "usage: $0 [ROUNDS] BIN..." >&2; exit 2; }
T=$(mktemp -d /tmp/partage-putab-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
head -c 1073741824 /dev/urandom >"$T/src.bin"
ports=()
for i in $(seq 0 $(($# - 1))); do
	b=${*:$((i + 1)):1}
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$T/d$i"
	printf '[tier.anonymous]\nmax_upload_bytes = 4G\nwait_seconds = 0\n' >"$T/c$i.ini"
	"$b" serve --config "$T/c$i.ini" --listen "127.0.0.1:$port" --data "$T/d$i" >"$T/log$i" 2>&1 &
	pids+=($!)
	ports+=("$port")
done
for p in "${ports[@]}"; do
	for _ in $(seq 50); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
done
for r in $(seq "$rounds"); do
	for i in $(seq 0 $(($# - 1))); do
		b=${*:$((i + 1)):1}
		printf '%016d' "$r$i$RANDOM" | dd of="$T/src.bin" conv=notrunc status=none
		c0=$(awk '{print $14 + $15}' "/proc/${pids[$i]}/stat")
		t=$(curl -sf -o /dev/null -w '%{time_total}' -T "$T/src.bin" "http://127.0.0.1:${ports[$i]}/ab.bin")
		c1=$(awk '{print $14 + $15}' "/proc/${pids[$i]}/stat")
		echo "$i $b $r $t $((c1 - c0))" >>"$T/runs"
		awk -v t="$t" -v c=$((c1 - c0)) -v b="$b" -v r="$r" \
			'BEGIN { printf "round %d %-40s %.3f GiB/s  server CPU %.2f s\n", r, b, 1 / t, c / 100 }'
		rm -rf "$T/d$i/blobs"/*
	done
done
echo
sort -k1,1n -k4,4n "$T/runs" | awk '
	{ n[$1]++; t[$1, n[$1]] = $4; c[$1, n[$1]] = $5; name[$1] = $2 }
	END {
		for (i = 0; i in n; i++) {
			m = n[i]; mt = (m % 2) ? t[i, (m + 1) / 2] : (t[i, m / 2] + t[i, m / 2 + 1]) / 2
			if (i == 0) base = mt
			printf "median %-40s %.3f GiB/s  %.2fx of the first\n", name[i], 1 / mt, base / mt
		}
	}'
