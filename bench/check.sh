#!/usr/bin/env bash
# bench/check.sh — the link checker: POST /api/v1/check with 1000 mixed
# ids (alive, removed, unknown) against a partaged on loopback; prints the
# median of 7 timings (curl's time_total, connection included).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s all
work=$(mktemp -d); port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
printf '[server]\naccess_log = off\n[tier.anonymous]\nwait_seconds = 0\n' > "$work/c.ini"
bin/partaged --config "$work/c.ini" --listen "127.0.0.1:$port" --data "$work/data" >"$work/log" 2>&1 &
pid=$!; trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -fs -o /dev/null "$url/healthz" && break; sleep 0.1; done
: > "$work/ids"
for i in $(seq 1 400); do
  head -c 64 /dev/urandom | curl -s -H 'Accept: application/json' -T - "$url/f$i.bin" \
    | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["id"], o["delete_token"])' >> "$work/ids"
done
# a quarter removed, then 1000 lines: alive, removed, unknown
head -100 "$work/ids" | while read -r id tok; do curl -s -o /dev/null -X DELETE -H "X-Delete-Token: $tok" "$url/$id"; done
python3 - "$work/ids" > "$work/lines" <<'PY'
import sys
ids = [l.split()[0] for l in open(sys.argv[1])]
for i in range(1000):
    print(ids[i % len(ids)] if i % 3 else "Zz%010d" % i)
PY
# the table goes to stdout and bench/results/check-*.md (scripts/capacity.py
# reads its median)
results=${BENCH_RESULTS:-bench/results}
mkdir -p "$results"
for _ in $(seq 7); do
  curl -s -o /dev/null -w '%{time_total}\n' --data-binary @"$work/lines" "$url/api/v1/check"
done | sort -n | awk -v d="$(date -u '+%F %T UTC')" '{a[NR]=$1} END {
  printf "## check — %s, link checker, 7 runs\n\n| what | median | min | max |\n|---|---:|---:|---:|\n", d
  printf "| 1000 ids, SQLite | %.1f ms | %.1f ms | %.1f ms |\n", a[4]*1000, a[1]*1000, a[7]*1000}' |
  tee "$results/check-$(date +%Y%m%d-%H%M%S).md"
