# bench/lib.sh — shared helpers for the partage benchmarks (sourced, not run).
#
# Starts partaged and a private nginx side by side on loopback, each with its
# own generated config in a temp directory, measures with wrk and curl, and
# prints medians and partaged/nginx ratios.  Never touches a system nginx: our
# nginx runs in the foreground (daemon off) as a child of this shell, with its
# own prefix, pid file, logs and temp paths, on free ports.
#
# Knobs (environment):
#   BENCH_RUNS=3        runs per metric (median of these; at least 3)
#   BENCH_DURATION=10s  wrk duration per run
#   BENCH_THREADS=2     partaged threads = nginx worker_processes = wrk -t
#   BENCH_TMPDIR=/tmp   where the temp dir goes (nginx root, partaged data,
#                       nginx client_body_temp_path: one file system)
#   BENCH_RESULTS=bench/results  where the result tables are written
#   PARTAGED=bin/partaged        the binary (copied at start: concurrent
#                                rebuilds do not swap it mid-run)
#   BENCH_ONLY=REGEX    run only the metrics whose name matches (grep -E),
#                       e.g. BENCH_ONLY='4 KiB' bench/download.sh
#   BENCH_KEEP=1        keep the temp dir (configs, logs, wrk output)
#   BENCH_ENGINE=event  partaged's HTTP engine (server.engine; default:
#                       the configuration's)
#
# A bench may add to the generated configs: PD_CONF_EXTRA (INI appended to
# partaged's, later keys win) and NG_SERVER_EXTRA (inside nginx's server {}).

set -euo pipefail

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_DURATION=${BENCH_DURATION:-10s}
BENCH_THREADS=${BENCH_THREADS:-$(nproc)}
BENCH_RESULTS=${BENCH_RESULTS:-$BENCH_ROOT/bench/results}
PARTAGED=${PARTAGED:-$BENCH_ROOT/bin/partaged}

PD_PID='' NG_PID='' PD_PORT='' NG_PORT='' PD_URL='' NG_URL='' BT=''
RESULT_ROWS=()

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- setup ---------------------------------------------------------------

bench_deps() {
	local need=0
	for c in nginx wrk curl python3; do
		command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || need=1
	done
	if [ $need = 1 ]; then
		log "installing benchmark dependencies"
		PARTAGE_BENCH=1 "$BENCH_ROOT/scripts/install-deps.sh"
	fi
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	nginx_has_dav || die "this nginx has no dav module (install nginx-light)"
	if [ ! -x "$PARTAGED" ]; then
		log "building partaged"
		make -C "$BENCH_ROOT" >/dev/null
	fi
}

nginx_has_dav() { "$NGINX" -V 2>&1 | grep -q -- --with-http_dav_module; }

# 1000 connections need more than 1024 descriptors on both sides.
bench_ulimit() {
	local want=65536 hard
	hard=$(ulimit -Hn)
	[ "$hard" != unlimited ] && [ "$hard" -lt $want ] && want=$hard
	ulimit -n "$want" 2>/dev/null || true
	[ "$(ulimit -n)" -ge 4096 ] || log "warning: ulimit -n is $(ulimit -n); -c1000 may fail"
}

bench_init() {
	bench_deps
	bench_ulimit
	BT=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/partage-bench.XXXXXX")
	chmod 755 "$BT"
	mkdir -p "$BT/www/dav" "$BT/nginx/logs" "$BT/nginx/tmp" "$BT/pd/data" "$BT/src"
	cp "$PARTAGED" "$BT/partaged"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	log "temp dir $BT; $(nproc) CPUs; runs=$BENCH_RUNS duration=$BENCH_DURATION threads=$BENCH_THREADS"
}

bench_cleanup() {
	stop_partaged
	stop_nginx
	[ -n "${BT:-}" ] && [ -d "$BT" ] && [ -z "${BENCH_KEEP:-}" ] && rm -rf "$BT"
	return 0
}

# A port nobody listens on (the kernel picks it; we close it right away).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() { # URL: wait up to 10 s for any HTTP answer
	local i
	for i in $(seq 100); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.1
	done
	return 1
}

# --- partaged ------------------------------------------------------------

start_partaged() {
	PD_PORT=$(free_port)
	PD_URL="http://127.0.0.1:$PD_PORT"
	cat >"$BT/pd/partaged.ini" <<EOF
[server]
access_log = off
threads = $BENCH_THREADS
max_connections = 20000
per_ip_connections = 0
timeout_seconds = 120
${BENCH_ENGINE:+engine = $BENCH_ENGINE}
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
connections_per_download = 0
cooldown_seconds = 0
max_upload_bytes = 0
max_download_bytes = 0
${PD_CONF_EXTRA:-}
EOF
	"$BT/partaged" --config "$BT/pd/partaged.ini" --listen "127.0.0.1:$PD_PORT" \
		--data "$BT/pd/data" --public-url "$PD_URL" \
		>"$BT/pd/stdout.log" 2>"$BT/pd/stderr.log" &
	PD_PID=$!
	wait_http "$PD_URL/healthz" || { cat "$BT/pd/stderr.log" >&2; die "partaged did not start"; }
	log "partaged pid $PD_PID on $PD_URL"
}

stop_partaged() {
	[ -n "${PD_PID:-}" ] || return 0
	kill "$PD_PID" 2>/dev/null || true
	wait "$PD_PID" 2>/dev/null || true
	PD_PID=
}

# upload_partaged FILE NAME → prints the download URL
upload_partaged() {
	curl -sS -f -T "$1" -H 'Accept: application/json' "$PD_URL/$2" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["download_url"])'
}

# --- nginx ---------------------------------------------------------------

start_nginx() {
	NG_PORT=$(free_port)
	NG_URL="http://127.0.0.1:$NG_PORT"
	local user=
	[ "$(id -u)" = 0 ] && user="user root;"
	cat >"$BT/nginx/nginx.conf" <<EOF
# generated by bench/lib.sh — a private nginx, not the system one
$user
daemon off;
master_process on;
worker_processes $BENCH_THREADS;
worker_rlimit_nofile 65536;
pid $BT/nginx/nginx.pid;
error_log $BT/nginx/logs/error.log warn;
events {
    worker_connections 20000;
    use epoll;
    multi_accept on;
}
http {
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    client_body_temp_path $BT/www/.body;
    proxy_temp_path $BT/nginx/tmp/proxy;
    fastcgi_temp_path $BT/nginx/tmp/fastcgi;
    uwsgi_temp_path $BT/nginx/tmp/uwsgi;
    scgi_temp_path $BT/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$NG_PORT;
        root $BT/www;
        location /dav/ {
            dav_methods PUT DELETE;
            create_full_put_path on;
            client_max_body_size 0;
            client_body_buffer_size 256k;
        }
${NG_SERVER_EXTRA:-}
    }
}
EOF
	"$NGINX" -p "$BT/nginx/" -e "$BT/nginx/logs/error.log" -c "$BT/nginx/nginx.conf" \
		>"$BT/nginx/stdout.log" 2>&1 &
	NG_PID=$!
	wait_http "$NG_URL/" || { cat "$BT/nginx/logs/error.log" >&2; die "nginx did not start"; }
	log "nginx pid $NG_PID on $NG_URL ($("$NGINX" -v 2>&1 | sed 's/.*: //'))"
}

stop_nginx() {
	[ -n "${NG_PID:-}" ] || return 0
	kill -QUIT "$NG_PID" 2>/dev/null || true # graceful: master stops its workers
	local i
	for i in $(seq 50); do kill -0 "$NG_PID" 2>/dev/null || break; sleep 0.1; done
	kill "$NG_PID" 2>/dev/null || true
	wait "$NG_PID" 2>/dev/null || true
	NG_PID=
}

# --- files ---------------------------------------------------------------

# make_file PATH BYTES: random content, then read once so it is in page cache
make_file() {
	if [ ! -s "$1" ] || [ "$(stat -c %s "$1")" != "$2" ]; then
		head -c "$2" /dev/urandom >"$1"
	fi
	cat "$1" >/dev/null
}

# --- measurements --------------------------------------------------------

# wrk_rps CONNS URL [WRK ARGS…] → requests/s (warns if wrk saw errors)
wrk_rps() {
	local out rps c=$1 u=$2
	shift 2
	out=$(wrk -t"$BENCH_THREADS" -c"$c" -d"$BENCH_DURATION" --timeout 10s "$@" "$u" 2>&1) ||
		{ echo "$out" >&2; return 1; }
	echo "$out" >>"$BT/wrk.log"
	if grep -q -E 'Non-2xx|Socket errors' <<<"$out"; then
		log "wrk reported errors for $u -c$c:"
		grep -E 'Non-2xx|Socket errors' <<<"$out" >&2
	fi
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	[ -n "$rps" ] || { echo "$out" >&2; return 1; }
	echo "$rps"
}

# curl_get URL → bytes/s of one GET (body discarded)
curl_get() {
	curl -sS -f -o /dev/null -w '%{speed_download}\n' "$1"
}

# curl_put FILE URL → bytes/s of one PUT
curl_put() {
	curl -sS -f -o /dev/null -T "$1" -w '%{speed_upload}\n' "$2"
}

# CPU accounting: how much CPU (user+sys, all threads or workers) a server
# used per unit of work.  Unlike throughput, this hardly depends on what else
# the (shared, 2-core) machine is doing at the time.
server_pids() { # ng|pd
	if [ "$1" = ng ]; then pgrep -P "$NG_PID" | paste -sd' '; else echo "$PD_PID"; fi
}
cpu_ticks() { # PIDS…
	local t=0 p
	for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}
# with_cpu ng|pd CMD… : runs CMD (which prints one rate: units per second),
# passes its output on, and appends "server cpu_seconds units" to
# $BT/cpu.cur, where units = rate × wall time.
with_cpu() {
	local who=$1 pids a b t0 t1 v
	shift
	read -r -a pids <<<"$(server_pids "$who")"
	a=$(cpu_ticks "${pids[@]}")
	t0=$(date +%s.%N)
	v=$("$@") || return 1
	t1=$(date +%s.%N)
	b=$(cpu_ticks "${pids[@]}")
	awk -v w="$who" -v t=$((b - a)) -v hz="$(getconf CLK_TCK)" -v v="$v" \
		-v a="$t0" -v b="$t1" 'BEGIN { printf "%s %.3f %.6g\n", w, t / hz, v * (b - a) }' \
		>>"$BT/cpu.cur"
	echo "$v"
}
cpu_median() { # ng|pd SCALE → median CPU seconds per SCALE units, or "-"
	[ -s "$BT/cpu.cur" ] || { echo -; return; }
	local v
	v=$(awk -v w="$1" -v s="$2" '$1 == w && $3 > 0 { print $2 / $3 * s }' "$BT/cpu.cur")
	[ -n "$v" ] || { echo -; return; }
	# shellcheck disable=SC2086 # one number a line
	median $v
}

median() { # numbers as arguments → median
	printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {
		if (NR == 0) exit 1
		if (NR % 2) print a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2 }'
}

# measure_pair NAME UNIT TARGET SCALE "nginx command" "partaged command"
# Runs both commands BENCH_RUNS times, interleaved (nginx, partaged, nginx…;
# the order alternates each round so neither always runs on a warmer or
# noisier machine), each command printing one number; records the medians,
# divided by SCALE, and the ratio partaged/nginx against TARGET ("-" = none).
# The commands see the run number in $RUN; $PRE_RUN (if set) is evaluated,
# untimed, before every single run (e.g. "sync" so that one server's dirty
# pages are not written back during the other's run).
want() { [ -z "${BENCH_ONLY:-}" ] || grep -q -E -- "$BENCH_ONLY" <<<"$1"; }

measure_pair() {
	want "$1" || return 0
	local name=$1 unit=$2 target=$3 scale=$4 ngcmd=$5 pdcmd=$6
	local ng=() pd=() i v
	rm -f "$BT/cpu.cur"
	for i in $(seq "$BENCH_RUNS"); do
		# shellcheck disable=SC2034 # read by the eval'd commands
		RUN=$i
		if [ $((i % 2)) = 1 ]; then
			eval "${PRE_RUN:-:}"
			v=$(eval "$ngcmd") || die "$name: nginx run failed"; ng+=("$v")
			eval "${PRE_RUN:-:}"
			v=$(eval "$pdcmd") || die "$name: partaged run failed"; pd+=("$v")
		else
			eval "${PRE_RUN:-:}"
			v=$(eval "$pdcmd") || die "$name: partaged run failed"; pd+=("$v")
			eval "${PRE_RUN:-:}"
			v=$(eval "$ngcmd") || die "$name: nginx run failed"; ng+=("$v")
		fi
		log "$name run $i: nginx ${ng[-1]} partaged ${pd[-1]}"
	done
	local ngm pdm ngc pdc cu
	ngm=$(median "${ng[@]}")
	pdm=$(median "${pd[@]}")
	# CPU per request (µs) for req/s rows, per GiB (s) for GiB/s rows
	if [ "$scale" = 1 ]; then cu=1000000; else cu=$scale; fi
	ngc=$(cpu_median ng "$cu")
	pdc=$(cpu_median pd "$cu")
	RESULT_ROWS+=("$(awk -v n="$name" -v u="$unit" -v t="$target" -v s="$scale" \
		-v a="$ngm" -v b="$pdm" -v ra="${ng[*]}" -v rb="${pd[*]}" \
		-v nc="$ngc" -v pc="$pdc" 'BEGIN {
		r = b / a
		verdict = "-"
		if (t != "-") verdict = (r >= t) ? "met" : "MISSED"
		cpu = (nc == "-" || pc == "-") ? "-" : sprintf("%.3g / %.3g", nc, pc)
		printf "%s|%s|%.3f|%.3f|%.3f|%s|%s|%s|%s|%s\n", n, u, a/s, b/s, r,
			(t == "-" ? "-" : sprintf("≥ %.2f", t)), verdict, ra, rb, cpu }')")
}

# print_results TITLE: the table on stdout and into BENCH_RESULTS
print_results() {
	local title=$1 out
	mkdir -p "$BENCH_RESULTS"
	out="$BENCH_RESULTS/$title-$(date +%Y%m%d-%H%M%S).md"
	{
		echo "## $title — $(date -u '+%F %T UTC'), $(nproc) CPUs, medians of $BENCH_RUNS runs"
		echo
		echo "Load average at the end (other tenants of the machine): $(cut -d' ' -f1-3 /proc/loadavg);" \
			"wrk -t$BENCH_THREADS -d$BENCH_DURATION; partaged threads = nginx workers = $BENCH_THREADS."
		echo
		echo "| metric | unit | nginx | partaged | ratio | target | verdict | server CPU nginx / partaged |"
		echo "|---|---|---:|---:|---:|---|---|---|"
		local row
		for row in "${RESULT_ROWS[@]}"; do
			IFS='|' read -r n u a b r t v _ _ c <<<"$row"
			case $u in req/s) cu=" µs/req" ;; GiB/s) cu=" s/GiB" ;; *) cu= ;; esac
			[ "$c" = - ] && cu=
			echo "| $n | $u | $a | $b | $r× | $t | $v | $c$cu |"
		done
		echo
		echo "Server CPU: user+sys seconds of partaged (all threads) or of nginx's"
		echo "workers during each run, divided by the work done (median of runs)."
		echo
		echo "Raw runs (unscaled; requests/s or bytes/s):"
		echo
		for row in "${RESULT_ROWS[@]}"; do
			IFS='|' read -r n _ _ _ _ _ _ ra rb _ <<<"$row"
			echo "- $n: nginx [$ra] partaged [$rb]"
		done
	} | tee "$out"
	log "results written to $out"
}
