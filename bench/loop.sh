#!/usr/bin/env bash
# bench/loop.sh — micro-benchmarks of the event core (src/http/timer.c,
# src/http/loop.c): timer insert+cancel at 10 000 and 1 000 000 timers,
# posts/s from threads, and loop_bench's fixed 4 KiB answer on LOOPS loops
# under wrk.  Builds build/bench/loop_bench first.  Run it on a quiet
# machine; each part is short.
#
# Knobs: LOOPS=2, WRK_THREADS=2, WRK_CONNS=64, WRK_DURATION=5s, POST_THREADS=4
set -euo pipefail
cd "$(dirname "$0")/.."
LOOPS=${LOOPS:-2}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-64}
WRK_DURATION=${WRK_DURATION:-5s}
POST_THREADS=${POST_THREADS:-4}
make -s bench-loop
B=build/bench/loop_bench

$B timers 10000
$B timers 1000000
$B posts "$POST_THREADS" 4000000

if ! command -v wrk >/dev/null; then
	echo "loop.sh: wrk not installed, skipping the server (apt-get install wrk)"
	exit 0
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
secs=$(( ${WRK_DURATION%s} + 3 ))
$B serve "$port" "$LOOPS" "$secs" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 0.5
echo "wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION http://127.0.0.1:$port/"
wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" --latency "http://127.0.0.1:$port/"
wait $pid
trap - EXIT
