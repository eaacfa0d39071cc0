#!/usr/bin/env bash
# bench/throttle.sh — capped downloads must not starve other requests.
#
# design.md: "Every limit is enforced without holding a worker thread:
# 10 000 throttled downloads must not starve other requests."  This opens
# THROTTLE_CONNS (default 1000) concurrent downloads of a 64 MiB file under
# the anonymous speed cap (THROTTLE_CAP, default 64K/s: none of them ends
# during the run), and while they run measures the latency of a small GET
# (4 KiB) with `wrk -t2 -c32 --latency`; then the same wrk with no
# downloads open.  Reports p50/p99 both ways, and the aggregate throughput
# of the capped downloads (ideal: THROTTLE_CONNS × cap).
#
# The downloads are a small Python asyncio client (one process, one socket
# per download, reading whatever the server sends).  The downloads are
# anonymous (capped); the 4 KiB GETs carry a premium user's token, so they
# are not capped themselves (the bucket starts empty: an anonymous 4 KiB
# GET at 64K/s takes 62 ms by design) and wrk measures how fast the server
# answers while it paces the downloads.
#
# Knobs (environment): THROTTLE_CONNS=1000 THROTTLE_CAP=64K
# BENCH_DURATION=10s (wrk) BENCH_THREADS=$(nproc) (partaged threads)
# BENCH_RESULTS=bench/results PARTAGED=bin/partaged; see bench/lib.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

THROTTLE_CONNS=${THROTTLE_CONNS:-1000}
THROTTLE_CAP=${THROTTLE_CAP:-64K}

for c in wrk curl python3; do
	command -v "$c" >/dev/null 2>&1 || { log "installing wrk"; PARTAGE_BENCH=1 "$BENCH_ROOT/scripts/install-deps.sh"; break; }
done
[ -x "$PARTAGED" ] || make -C "$BENCH_ROOT" >/dev/null
bench_ulimit
BT=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/partage-throttle.XXXXXX")
mkdir -p "$BT/pd/data" "$BT/src"
cp "$PARTAGED" "$BT/partaged"
LOAD_PID=
cleanup() {
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null && wait "$LOAD_PID" 2>/dev/null
	bench_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cap_bytes=$(python3 -c '
import sys; s = sys.argv[1].strip().upper(); m = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
print(int(s[:-1]) * m[s[-1]] if s[-1] in m else int(s))' "$THROTTLE_CAP")

PD_PORT=$(free_port)
PD_URL="http://127.0.0.1:$PD_PORT"
cat >"$BT/pd/partaged.ini" <<EOF
[server]
access_log = off
threads = $BENCH_THREADS
max_connections = $((THROTTLE_CONNS + 4000))
per_ip_connections = 0
timeout_seconds = 300
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = $THROTTLE_CAP
parallel_downloads = 0
max_upload_bytes = 0
max_download_bytes = 0
EOF
"$BT/partaged" --config "$BT/pd/partaged.ini" --listen "127.0.0.1:$PD_PORT" \
	--data "$BT/pd/data" --public-url "$PD_URL" \
	>"$BT/pd/stdout.log" 2>"$BT/pd/stderr.log" &
PD_PID=$!
wait_http "$PD_URL/healthz" || { cat "$BT/pd/stderr.log" >&2; die "partaged did not start"; }
log "partaged pid $PD_PID on $PD_URL; cap $THROTTLE_CAP/s ($cap_bytes B/s), $THROTTLE_CONNS downloads, $(nproc) CPUs"

# a premium user for the measured GETs (admin works beside the server)
printf 'bench password\n' | "$BT/partaged" admin --config "$BT/pd/partaged.ini" --data "$BT/pd/data" \
	user add bench >/dev/null
"$BT/partaged" admin --config "$BT/pd/partaged.ini" --data "$BT/pd/data" user set-tier bench premium >/dev/null
TOKEN=$(curl -sS -f -H 'Content-Type: application/json' -d '{"name":"bench","password":"bench password"}' \
	"$PD_URL/api/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
AUTH="Authorization: Bearer $TOKEN"
[ "$(curl -sS -f -H "$AUTH" "$PD_URL/api/v1/me" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tier"])')" = premium ] ||
	die "the bench user is not premium"

make_file "$BT/src/big.bin" $((64 << 20))
make_file "$BT/src/small.bin" 4096
BIG=$(upload_partaged "$BT/src/big.bin" big.bin)
SMALL=$(upload_partaged "$BT/src/small.bin" small.bin)
[ "$(curl -sS -f "$SMALL" | sha256sum)" = "$(sha256sum <"$BT/src/small.bin")" ] || die "small file differs"

# the slow readers: connect THROTTLE_CONNS sockets, check every reply is a
# 200, print "ready", count the bytes received over the next DURATION
# seconds, print one JSON line of results.
cat >"$BT/load.py" <<'EOF'
import asyncio, json, sys, time, urllib.parse
url, n, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
u = urllib.parse.urlsplit(url)
got = [0] * n
status = [None] * n
window = {}

async def one(i):
    r, w = await asyncio.open_connection(u.hostname, u.port, limit=1 << 20)
    w.write(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (u.path, u.netloc)).encode())
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    status[i] = int(head.split()[1])
    while True:
        b = await r.read(1 << 16)
        if not b:
            break
        got[i] += len(b)

async def main():
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(one(i)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)  # do not overflow the listen backlog
    t_end = time.monotonic() + 60
    while sum(s is not None for s in status) < n and time.monotonic() < t_end:
        await asyncio.sleep(0.1)
    bad = sum(s != 200 for s in status)
    await asyncio.sleep(2)  # past the first bursts: steady state
    b0, t0 = list(got), time.monotonic()
    print("ready", flush=True)
    await asyncio.sleep(duration)
    b1, t1 = list(got), time.monotonic()
    per = sorted((b1[i] - b0[i]) / (t1 - t0) for i in range(n))
    print(json.dumps({"conns": n, "not_200": bad, "seconds": round(t1 - t0, 2),
                      "aggregate_Bps": round(sum(per)), "per_conn_min_Bps": round(per[0]),
                      "per_conn_median_Bps": round(per[n // 2]), "per_conn_max_Bps": round(per[-1]),
                      "receiving": sum(1 for p in per if p > 0)}), flush=True)
    for t in tasks:
        t.cancel()

asyncio.run(main())
EOF

# cpu_ticks PID → utime+stime of a process, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# wrk_latency → "p50_ms p99_ms rps errors"
wrk_latency() {
	local out
	out=$(wrk -t2 -c32 -d"$BENCH_DURATION" --timeout 10s --latency -H "$AUTH" "$SMALL" 2>&1) || { echo "$out" >&2; return 1; }
	echo "$out" >>"$BT/wrk.log"
	awk '
	function ms(v) {
		if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
		if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
		if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
		return v
	}
	$1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
	/^Requests\/sec:/ { rps = $2 }
	/Non-2xx|Socket errors/ { err = err $0 ";" }
	END { printf "%.3f %.3f %s %s\n", p50, p99, rps, (err == "" ? "none" : err) }' <<<"$out"
}

wrk -t2 -c32 -d2s -H "$AUTH" "$SMALL" >/dev/null 2>&1 # warm-up
c0=$(cpu_ticks "$PD_PID") s0=$(date +%s.%N)
read -r idle_p50 idle_p99 idle_rps idle_err <<<"$(wrk_latency)"
idle_cpu=$(awk -v a="$c0" -v b="$(cpu_ticks "$PD_PID")" -v t0="$s0" -v t1="$(date +%s.%N)" -v hz="$HZ" \
	'BEGIN { printf "%.0f", 100 * (b - a) / hz / (t1 - t0) }')
log "no downloads open: partaged CPU ${idle_cpu}%, p50 ${idle_p50} ms, p99 ${idle_p99} ms, ${idle_rps} req/s, errors: $idle_err"

dur=${BENCH_DURATION%s}
python3 "$BT/load.py" "$BIG" "$THROTTLE_CONNS" "$dur" >"$BT/load.out" 2>"$BT/load.err" &
LOAD_PID=$!
for _ in $(seq 900); do
	grep -q ready "$BT/load.out" 2>/dev/null && break
	kill -0 "$LOAD_PID" 2>/dev/null || { cat "$BT/load.err" >&2; die "the download client died"; }
	sleep 0.1
done
grep -q ready "$BT/load.out" || die "the $THROTTLE_CONNS downloads did not all start"
c0=$(cpu_ticks "$PD_PID") l0=$(cpu_ticks "$LOAD_PID") s0=$(date +%s.%N)
read -r load_p50 load_p99 load_rps load_err <<<"$(wrk_latency)"
read -r load_cpu client_cpu < <(awk -v a="$c0" -v b="$(cpu_ticks "$PD_PID")" -v la="$l0" \
	-v lb="$(cpu_ticks "$LOAD_PID")" -v t0="$s0" -v t1="$(date +%s.%N)" -v hz="$HZ" \
	'BEGIN { printf "%.0f %.0f\n", 100 * (b - a) / hz / (t1 - t0), 100 * (lb - la) / hz / (t1 - t0) }')
wait "$LOAD_PID" || { cat "$BT/load.err" >&2; die "the download client failed"; }
LOAD_PID=
stats=$(tail -n 1 "$BT/load.out")
log "$THROTTLE_CONNS downloads open: partaged CPU ${load_cpu}%, download client CPU ${client_cpu}%, p50 ${load_p50} ms, p99 ${load_p99} ms, ${load_rps} req/s, errors: $load_err"
log "downloads: $stats"
kill -0 "$PD_PID" 2>/dev/null || die "partaged died during the run"

mkdir -p "$BENCH_RESULTS"
out="$BENCH_RESULTS/throttle-$(date +%Y%m%d-%H%M%S).md"
python3 - "$stats" "$cap_bytes" "$THROTTLE_CONNS" "$THROTTLE_CAP" "$idle_p50" "$idle_p99" "$idle_rps" \
	"$load_p50" "$load_p99" "$load_rps" "$load_err" "$BENCH_DURATION" "$(nproc)" "$BENCH_THREADS" \
	"$idle_cpu" "$load_cpu" "$client_cpu" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF' | tee "$out"
import json, sys, time
(stats, cap, n, capname, ip50, ip99, irps, lp50, lp99, lrps, lerr, dur, cpus, threads,
 icpu, lcpu, ccpu, loadavg) = sys.argv[1:]
s, cap, n = json.loads(stats), int(cap), int(n)
ideal = n * cap
print("## throttle — %s, %s CPUs, partaged threads %s" % (time.strftime("%F %T UTC", time.gmtime()), cpus, threads))
print()
print("%d anonymous downloads of a 64 MiB file capped at %s/s, and `wrk -t2 -c32 -d%s --latency` on a 4 KiB file as a premium user (uncapped)." % (n, capname, dur))
print()
print("| 4 KiB GET | p50 ms | p99 ms | req/s | partaged CPU |")
print("|---|---:|---:|---:|---:|")
print("| no downloads open | %s | %s | %s | %s %% |" % (ip50, ip99, irps, icpu))
print("| %d capped downloads open | %s | %s | %s | %s %% |" % (n, lp50, lp99, lrps, lcpu))
print()
print("The download client (Python asyncio, same machine) used %s %% CPU meanwhile; load average at the end %s." % (ccpu, loadavg))
print()
print("Capped downloads over %ss: %d of %d receiving (%d replies not 200); aggregate %.2f MiB/s = %.3f × the ideal %d × %s/s (%.2f MiB/s); per download min %.1f / median %.1f / max %.1f KiB/s." % (
    s["seconds"], s["receiving"], n, s["not_200"], s["aggregate_Bps"] / 2**20, s["aggregate_Bps"] / ideal, n, capname,
    ideal / 2**20, s["per_conn_min_Bps"] / 1024, s["per_conn_median_Bps"] / 1024, s["per_conn_max_Bps"] / 1024))
if lerr != "none":
    print()
    print("wrk errors under load: %s" % lerr)
EOF
log "results written to $out"
