#!/usr/bin/env bash
# bench/throttle.sh — capped downloads must not starve other requests.
#
# docs/internals.md §6: "Every limit is enforced without holding a worker thread:
# 10 000 throttled downloads must not starve other requests."  This opens
# THROTTLE_CONNS (default 1000) concurrent downloads of a 64 MiB file under
# the anonymous speed cap (THROTTLE_CAP, default 64K/s: none of them ends
# during the run), and while they run measures the latency of a small GET
# (4 KiB) with `wrk -t2 -c32 --latency`; then the same wrk with no
# downloads open.  Reports p50/p99 both ways, and the aggregate throughput
# of the capped downloads (ideal: THROTTLE_CONNS × cap).  The reference
# runs the same in the same run: nginx with `limit_rate` at the same cap
# (its own per-connection rate limit), so what the machine itself costs
# (the download client, loopback TCP, other work) shows in both.
#
# The downloads are a small Python asyncio client (one process, one socket
# per download, reading whatever the server sends).  The downloads are
# anonymous (capped); the 4 KiB GETs carry a premium user's token, so they
# are not capped themselves (the bucket starts empty: an anonymous 4 KiB
# GET at 64K/s takes 62 ms by design) and wrk measures how fast the server
# answers while it paces the downloads.
#
# Knobs (environment): THROTTLE_CONNS=1000 THROTTLE_CAP=64K
# THROTTLE_ROWS=FILE (append the run's raw rows, JSON, for bench/sweep.sh)
# BENCH_DURATION=10s (wrk) BENCH_THREADS=$(nproc) (partaged threads)
# BENCH_RESULTS=bench/results PARTAGED=bin/partaged; see bench/lib.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

THROTTLE_CONNS=${THROTTLE_CONNS:-1000}
THROTTLE_CAP=${THROTTLE_CAP:-64K}

cap_bytes=$(python3 -c '
import sys; s = sys.argv[1].strip().upper(); m = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
print(int(s[:-1]) * m[s[-1]] if s[-1] in m else int(s))' "$THROTTLE_CAP")

bench_init
LOAD_PID=
cleanup() {
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null && wait "$LOAD_PID" 2>/dev/null
	bench_cleanup
}
trap cleanup EXIT

PD_CONF_EXTRA="[server]
max_connections = $((THROTTLE_CONNS + 4000))
timeout_seconds = 300
[tier.anonymous]
speed_bytes_per_second = $THROTTLE_CAP"
NG_SERVER_EXTRA="        location /capped/ { limit_rate $cap_bytes; }"
start_partaged
start_nginx
log "cap $THROTTLE_CAP/s ($cap_bytes B/s), $THROTTLE_CONNS downloads, $(nproc) CPUs"

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
mkdir -p "$BT/www/capped"
cp "$BT/src/big.bin" "$BT/www/capped/big.bin"
cp "$BT/src/small.bin" "$BT/www/small.bin"
NG_BIG="$NG_URL/capped/big.bin" NG_SMALL="$NG_URL/small.bin"

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

HZ=$(getconf CLK_TCK)

wrk_latency() { # URL [HEADER] → "p50 p99 rps errors"
	local out
	out=$(wrk -t2 -c32 -d"$BENCH_DURATION" --timeout 10s --latency ${2:+-H "$2"} "$1" 2>&1) ||
		{ echo "$out" >&2; return 1; }
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

cpu_pct() { # PIDS_TICKS_BEFORE T0 PIDS → CPU % since
	awk -v a="$1" -v b="$(cpu_ticks $3)" -v t0="$2" -v t1="$(date +%s.%N)" -v hz="$HZ" \
		'BEGIN { printf "%.0f", 100 * (b - a) / hz / (t1 - t0) }'
}

# measure NAME SMALL_URL BIG_URL [HEADER]: idle, then under the downloads;
# appends a JSON line to $BT/rows
measure() {
	local name=$1 small=$2 big=$3 hdr=${4:-} pids c0 s0 l0
	pids=$(server_pids "$name")
	wrk -t2 -c32 -d2s ${hdr:+-H "$hdr"} "$small" >/dev/null 2>&1 # warm-up
	c0=$(cpu_ticks $pids) s0=$(date +%s.%N)
	read -r idle_p50 idle_p99 idle_rps idle_err <<<"$(wrk_latency "$small" "$hdr")"
	idle_cpu=$(cpu_pct "$c0" "$s0" "$pids")
	log "$name, no downloads open: CPU ${idle_cpu}%, p50 ${idle_p50} ms, p99 ${idle_p99} ms, ${idle_rps} req/s, errors: $idle_err"

	python3 "$BT/load.py" "$big" "$THROTTLE_CONNS" "$((${BENCH_DURATION%s} + 2))" >"$BT/load.out" 2>"$BT/load.err" &
	LOAD_PID=$!
	for _ in $(seq 900); do
		grep -q ready "$BT/load.out" 2>/dev/null && break
		kill -0 "$LOAD_PID" 2>/dev/null || { cat "$BT/load.err" >&2; die "the download client died"; }
		sleep 0.1
	done
	grep -q ready "$BT/load.out" || die "the $THROTTLE_CONNS downloads did not all start"
	c0=$(cpu_ticks $pids) l0=$(cpu_ticks "$LOAD_PID") s0=$(date +%s.%N)
	read -r load_p50 load_p99 load_rps load_err <<<"$(wrk_latency "$small" "$hdr")"
	load_cpu=$(cpu_pct "$c0" "$s0" "$pids")
	client_cpu=$(cpu_pct "$l0" "$s0" "$LOAD_PID")
	wait "$LOAD_PID" || { cat "$BT/load.err" >&2; die "the download client failed"; }
	LOAD_PID=
	local stats
	stats=$(tail -n 1 "$BT/load.out")
	log "$name, $THROTTLE_CONNS downloads open: CPU ${load_cpu}%, client CPU ${client_cpu}%, p50 ${load_p50} ms, p99 ${load_p99} ms, ${load_rps} req/s, errors: $load_err"
	log "$name downloads: $stats"
	python3 -c 'import json, sys; a = sys.argv; print(json.dumps({"name": a[1], "idle": a[2:7], "load": a[7:13], "stats": json.loads(a[13])}))' \
		"$name" "$idle_p50" "$idle_p99" "$idle_rps" "$idle_err" "$idle_cpu" \
		"$load_p50" "$load_p99" "$load_rps" "$load_err" "$load_cpu" "$client_cpu" "$stats" >>"$BT/rows"
}

measure pd "$SMALL" "$BIG" "$AUTH"
measure ng "$NG_SMALL" "$NG_BIG"
kill -0 "$PD_PID" 2>/dev/null || die "partaged died during the run"

[ -n "${THROTTLE_ROWS:-}" ] && cat "$BT/rows" >>"$THROTTLE_ROWS"
mkdir -p "$BENCH_RESULTS"
out="$BENCH_RESULTS/throttle-$(date +%Y%m%d-%H%M%S).md"
python3 - "$BT/rows" "$cap_bytes" "$THROTTLE_CONNS" "$THROTTLE_CAP" "$BENCH_DURATION" "$(nproc)" \
	"$BENCH_THREADS" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY' | tee "$out"
import json, sys, time
rows, cap, n, capname, dur, cpus, threads, loadavg = sys.argv[1:]
cap, n = int(cap), int(n)
r = {x["name"]: x for x in map(json.loads, open(rows))}
names = {"pd": "partaged", "ng": "nginx (limit_rate)"}
print("## throttle — %s, %s CPUs, partaged threads = nginx workers = %s" % (time.strftime("%F %T UTC", time.gmtime()), cpus, threads))
print()
print("%d downloads of a 64 MiB file capped at %s/s, and `wrk -t2 -c32 -d%s --latency` on a 4 KiB file (uncapped: a premium token on partaged, another location on nginx), in one run." % (n, capname, dur))
print()
print("| server | downloads open | p50 ms | p99 ms | req/s | server CPU | client CPU |")
print("|---|---|---:|---:|---:|---:|---:|")
for k in ("pd", "ng"):
    i, l = r[k]["idle"], r[k]["load"]
    print("| %s | none | %s | %s | %s | %s %% | |" % (names[k], i[0], i[1], i[2], i[4]))
    print("| %s | %d capped | %s | %s | %s | %s %% | %s %% |" % (names[k], n, l[0], l[1], l[2], l[4], l[5]))
print()
def f(x): return float(x)
for k in ("pd", "ng"):
    i, l, s = r[k]["idle"], r[k]["load"], r[k]["stats"]
    print("- %s: under the downloads p99 × %.2f, req/s × %.2f; capped downloads %d of %d receiving, aggregate %.3f × ideal (%d × %s/s), per download min %.1f / median %.1f / max %.1f KiB/s%s." % (
        names[k], f(l[1]) / f(i[1]), f(l[2]) / f(i[2]), s["receiving"], n, s["aggregate_Bps"] / (n * cap), n, capname,
        s["per_conn_min_Bps"] / 1024, s["per_conn_median_Bps"] / 1024, s["per_conn_max_Bps"] / 1024,
        "" if l[3] == "none" else "; wrk errors: " + l[3]))
pl, nl = r["pd"]["load"], r["ng"]["load"]
print()
print("partaged / nginx under the downloads: p99 %.2f×, req/s %.2f×.  Load average at the end: %s." % (f(pl[1]) / f(nl[1]), f(pl[2]) / f(nl[2]), loadavg))
PY
log "results written to $out"
