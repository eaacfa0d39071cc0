#!/usr/bin/env bash
# bench/backends.sh — the backends side by side, in one run, on loopback:
#
#   A  SQLite + fs        B  PostgreSQL + fs        C  PostgreSQL + S3
#   D  PostgreSQL + S3 with storage.s3_redirect = presigned: a second node
#      on C's database schema and bucket prefix (several nodes share state)
#
#   upload     PUT of BENCH_SIZE (256 MiB) random bytes, curl -T: A, B, C
#              (a different file each run: no dedup hit on S3)
#   download   GET of the same, curl: A, B, C (streamed through the node),
#              D (curl -L: a 302, then the bytes straight from the store)
#   CPU        user+sys seconds of the partaged doing each transfer, per GiB
#              (for D the node that redirects: the store's CPU is not in it)
#   lookup     GET /api/v1/files/{id}, wrk -c16 --latency, random ids among
#              BENCH_LOOKUP_LINKS links (bench/lookup.lua): A, B — req/s,
#              p50, p99
#
# Every metric runs BENCH_RUNS times (default 3), the configurations in a
# rotating order within each round so none always runs on the quieter
# machine; the table gives medians, ratios and the load average seen.
#
# Needs a PostgreSQL and an S3 store, by environment (without them only A
# runs):
#   BENCH_PG_DSN      a libpq DSN (scripts/start-postgres.sh prints one);
#                     each run uses two fresh schemas, dropped at the end
#   BENCH_S3          the S3 endpoint (scripts/start-s3.sh prints one);
#   BENCH_S3_BUCKET   (partage) — a prefix of its own per run; its objects
#                     stay in the bucket: use a throwaway store
#   BENCH_S3_KEY, BENCH_S3_SECRET  (test:tester, testing: Swift's tempauth)
# Knobs of bench/lib.sh apply (BENCH_RUNS, BENCH_DURATION, BENCH_THREADS,
# BENCH_KEEP, BENCH_RESULTS, PARTAGED), plus BENCH_SIZE (bytes, 268435456)
# and BENCH_LOOKUP_LINKS (500).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SIZE=${BENCH_SIZE:-268435456}
LINKS=${BENCH_LOOKUP_LINKS:-500}
PG=${BENCH_PG_DSN:-}
S3=${BENCH_S3:-}
S3_BUCKET=${BENCH_S3_BUCKET:-partage}
S3_KEY=${BENCH_S3_KEY:-test:tester}
S3_SECRET=${BENCH_S3_SECRET:-testing}
TAG=b$(date +%s)$$

declare -A URL PID
CONFS=(A)
LOADS=()

psql_do() {
	PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 \
		-d "$PG" -c "$1" >/dev/null
}

pg_dsn_schema() { # SCHEMA → the DSN with search_path set
	if [[ $PG == *://* ]]; then
		[[ $PG == *\?* ]] && echo "$PG&options=-csearch_path%3D$1" ||
			echo "$PG?options=-csearch_path%3D$1"
	else
		echo "$PG options=-csearch_path=$1"
	fi
}

conf_extra() { # A|B|C|D → the [storage]/[metadata] of that configuration
	case $1 in
	A) ;;
	B) printf '[metadata]\nbackend = postgres\npostgres_dsn = %s\n' \
		"$(pg_dsn_schema "${TAG}_fs")" ;;
	C | D)
		printf '[metadata]\nbackend = postgres\npostgres_dsn = %s\n' \
			"$(pg_dsn_schema "${TAG}_s3")"
		printf '[storage]\nbackend = s3\ns3_endpoint = %s\ns3_bucket = %s/%s\n' \
			"$S3" "$S3_BUCKET" "$TAG"
		printf 's3_access_key = %s\ns3_secret_key = %s\n' "$S3_KEY" "$S3_SECRET"
		[ "$1" = D ] && printf 's3_redirect = presigned\n'
		;;
	esac
	return 0
}

start_conf() { # A|B|C|D: a partaged of its own (D shares C's data dir name)
	local c=$1 port dir
	port=$(free_port)
	dir="$BT/$c"
	mkdir -p "$dir/data"
	{
		cat <<EOF
[server]
access_log = off
threads = $BENCH_THREADS
max_connections = 20000
per_ip_connections = 0
timeout_seconds = 300
[tier.anonymous]
wait_seconds = 0
speed_bytes_per_second = 0
parallel_downloads = 0
stream_minutes = 0
max_upload_bytes = 0
max_download_bytes = 0
EOF
		conf_extra "$c"
	} >"$dir/partaged.ini"
	"$BT/partaged" --config "$dir/partaged.ini" --listen "127.0.0.1:$port" \
		--data "$dir/data" --public-url "http://127.0.0.1:$port" \
		>"$dir/stdout.log" 2>"$dir/stderr.log" &
	PID[$c]=$!
	URL[$c]="http://127.0.0.1:$port"
	wait_http "${URL[$c]}/healthz" || { cat "$dir/stderr.log" >&2; die "partaged $c did not start"; }
	log "partaged $c pid ${PID[$c]} on ${URL[$c]}"
}

stop_confs() {
	local c
	for c in "${!PID[@]}"; do
		kill "${PID[$c]}" 2>/dev/null || true
		wait "${PID[$c]}" 2>/dev/null || true
	done
	PID=()
	if [ -n "$PG" ]; then
		psql_do "DROP SCHEMA IF EXISTS ${TAG}_fs CASCADE" || true
		psql_do "DROP SCHEMA IF EXISTS ${TAG}_s3 CASCADE" || true
	fi
}

load_now() { cut -d' ' -f1 /proc/loadavg; }

# put FILE BASE → "bytes/s url" of one PUT (a 201 or the run fails)
put() {
	curl -sS -f -o "$BT/put.json" -H 'Accept: application/json' -T "$1" \
		-w '%{size_upload} %{time_total}\n' "$2/$(basename "$1")" |
		awk '{ printf "%.6g\n", $1 / $2 }'
}

# get URL [CURL ARGS…] → bytes/s of one GET (whole transfer, redirect included)
get() {
	local u=$1 out n t r
	shift
	out=$(curl -sS -f -o /dev/null -w '%{size_download} %{time_total} %{num_redirects}\n' "$@" "$u")
	read -r n t r <<<"$out"
	[ "$n" = "$SIZE" ] || die "GET $u: $n bytes, expected $SIZE"
	awk -v n="$n" -v t="$t" 'BEGIN { printf "%.6g\n", n / t }'
}

# lookup BASE → "req/s p50_ms p99_ms" of one wrk run over the ids of BASE
lookup() {
	local out
	out=$(LOOKUP_IDS="$BT/ids.$2" wrk -t"$BENCH_THREADS" -c16 -d"$BENCH_DURATION" --timeout 10s \
		--latency -s "$BENCH_ROOT/bench/lookup.lua" "$1" 2>&1) || { echo "$out" >&2; return 1; }
	echo "$out" >>"$BT/wrk.log"
	grep -q -E 'Non-2xx|Socket errors' <<<"$out" && { echo "$out" >&2; die "lookup on $1: errors"; }
	awk 'function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		return v }
	/^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
	/^Requests\/sec:/ { rps = $2 }
	END { printf "%s %.3f %.3f\n", rps, p50, p99 }' <<<"$out"
}

# rotate N A B C… → the list rotated by N
rotate() {
	local n=$1
	shift
	local a=("$@") i
	local k=${#a[@]}
	for i in $(seq 0 $((k - 1))); do printf '%s ' "${a[$(((i + n) % k))]}"; done
}

bench_init
trap 'stop_confs; bench_cleanup' EXIT
LOADS+=("$(cut -d' ' -f1-3 /proc/loadavg)")
log "load average at start: ${LOADS[0]}"
if [ -n "$PG" ]; then
	command -v psql >/dev/null || die "BENCH_PG_DSN needs psql"
	psql_do "CREATE SCHEMA ${TAG}_fs"
	psql_do "CREATE SCHEMA ${TAG}_s3"
	CONFS+=(B)
	[ -n "$S3" ] && CONFS+=(C)
else
	log "no BENCH_PG_DSN: SQLite + fs only"
fi
for c in "${CONFS[@]}"; do start_conf "$c"; done
HAVE_D=
if [[ " ${CONFS[*]} " == *" C "* ]]; then
	start_conf D
	HAVE_D=1
fi

# ---- files: one per run, so no upload is a dedup hit on its store
for i in $(seq "$BENCH_RUNS"); do
	make_file "$BT/src/big$i.bin" "$SIZE"
done

declare -A UP DOWN RPS P50 P99 DL UPCPU DOWNCPU
HZ=$(getconf CLK_TCK)
# cpu_per_gib C TICKS_BEFORE → CPU seconds of node C per GiB moved
cpu_per_gib() {
	awk -v t=$(($(cpu_ticks "${PID[$1]}") - $2)) -v hz="$HZ" -v n="$SIZE" \
		'BEGIN { printf "%.3f\n", t / hz / (n / 1073741824) }'
}
for i in $(seq "$BENCH_RUNS"); do
	for c in $(rotate "$i" "${CONFS[@]}"); do
		sync
		t0=$(cpu_ticks "${PID[$c]}")
		v=$(put "$BT/src/big$i.bin" "${URL[$c]}")
		UP[$c]+="$v "
		UPCPU[$c]+="$(cpu_per_gib "$c" "$t0") "
		DL[$c]=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["download_url"])' "$BT/put.json")
		LOADS+=("$(load_now)")
		log "upload $c run $i: $(awk -v v="$v" 'BEGIN { printf "%.1f MB/s", v / 1e6 }')"
	done
done

GCONFS=("${CONFS[@]}")
if [ -n "$HAVE_D" ]; then
	# D is another node of C: C's link, served through D's redirect
	DL[D]=${DL[C]/${URL[C]}/${URL[D]}}
	code=$(curl -s -o /dev/null -w '%{http_code}' "${DL[D]}")
	[ "$code" = 302 ] || die "node D answers $code, not a 302 redirect"
	log "D redirects to $(curl -s -o /dev/null -w '%{redirect_url}' "${DL[D]}" | cut -c1-80)…"
	GCONFS+=(D)
fi
for i in $(seq "$BENCH_RUNS"); do
	for c in $(rotate "$i" "${GCONFS[@]}"); do
		t0=$(cpu_ticks "${PID[$c]}")
		if [ "$c" = D ]; then v=$(get "${DL[$c]}" -L); else v=$(get "${DL[$c]}"); fi
		DOWN[$c]+="$v "
		DOWNCPU[$c]+="$(cpu_per_gib "$c" "$t0") "
		LOADS+=("$(load_now)")
		log "download $c run $i: $(awk -v v="$v" 'BEGIN { printf "%.1f MB/s", v / 1e6 }')"
	done
done

# ---- link lookups: LINKS small links on each metadata store
LCONFS=(A)
[[ " ${CONFS[*]} " == *" B "* ]] && LCONFS+=(B)
head -c 1000 /dev/urandom >"$BT/src/small.bin"
for c in "${LCONFS[@]}"; do
	cfg="$BT/curl.$c"
	: >"$cfg"
	for j in $(seq "$LINKS"); do
		printf 'upload-file = "%s"\nurl = "%s/s%d.bin"\noutput = "/dev/null"\n' \
			"$BT/src/small.bin" "${URL[$c]}" "$j" >>"$cfg"
	done
	curl -sS -f -K "$cfg" -w '%header{x-partage-id}\n' >"$BT/ids.$c"
	[ "$(grep -c -E '^[0-9A-Za-z]{12}$' "$BT/ids.$c")" = "$LINKS" ] ||
		die "$c: $LINKS uploads did not give $LINKS ids"
	LOOKUP_IDS="$BT/ids.$c" wrk -t1 -c4 -d2s -s "$BENCH_ROOT/bench/lookup.lua" "${URL[$c]}" >/dev/null
done
for i in $(seq "$BENCH_RUNS"); do
	for c in $(rotate "$i" "${LCONFS[@]}"); do
		read -r r p5 p9 <<<"$(lookup "${URL[$c]}" "$c")"
		RPS[$c]+="$r " P50[$c]+="$p5 " P99[$c]+="$p9 "
		LOADS+=("$(load_now)")
		log "lookup $c run $i: $r req/s, p50 $p5 ms, p99 $p9 ms"
	done
done
LOADS+=("$(cut -d' ' -f1-3 /proc/loadavg)")

# ---- the table
name() {
	case $1 in
	A) echo "SQLite + fs" ;; B) echo "PostgreSQL + fs" ;; C) echo "PostgreSQL + S3 (streamed)" ;;
	D) echo "PostgreSQL + S3 (presigned 302)" ;;
	esac
}
mb() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# shellcheck disable=SC2086 # one number a word
med() { median $1; }

mkdir -p "$BENCH_RESULTS"
out="$BENCH_RESULTS/backends-$(date +%Y%m%d-%H%M%S).md"
{
	echo "## backends — $(date -u '+%F %T UTC'), $(nproc) CPUs, medians of $BENCH_RUNS runs"
	echo
	echo "Load average: at start ${LOADS[0]}, at end ${LOADS[-1]}; 1-min load sampled after each run:" \
		"$(printf '%s\n' "${LOADS[@]:1:${#LOADS[@]}-2}" | sort -g | sed -n '1p;$p' | paste -sd'-')."
	echo "$(numfmt --to=iec "$SIZE") per transfer, curl on loopback; partaged threads = $BENCH_THREADS;" \
		"lookups: wrk -t$BENCH_THREADS -c16 -d$BENCH_DURATION over $LINKS links."
	echo
	echo "| configuration | upload MB/s | download MB/s | node CPU s/GiB up / down |"
	echo "|---|---:|---:|---:|"
	for c in "${GCONFS[@]}"; do
		u=- uc=-
		[ -n "${UP[$c]:-}" ] && u=$(mb "$(med "${UP[$c]}")") && uc=$(med "${UPCPU[$c]}")
		echo "| $(name "$c") | $u | $(mb "$(med "${DOWN[$c]}")") | $uc / $(med "${DOWNCPU[$c]}") |"
	done
	echo
	if [ -n "${UP[C]:-}" ]; then
		echo "Ratios: upload S3 / fs (PostgreSQL) $(ratio "$(med "${UP[C]}")" "$(med "${UP[B]}")")×;" \
			"download streamed S3 / fs $(ratio "$(med "${DOWN[C]}")" "$(med "${DOWN[B]}")")×;" \
			"presigned / streamed S3 $(ratio "$(med "${DOWN[D]}")" "$(med "${DOWN[C]}")")×."
		echo
	fi
	echo "| link lookup | req/s | p50 ms | p99 ms |"
	echo "|---|---:|---:|---:|"
	for c in "${LCONFS[@]}"; do
		echo "| $(name "$c" | sed 's/ + .*//') | $(med "${RPS[$c]}") | $(med "${P50[$c]}") | $(med "${P99[$c]}") |"
	done
	echo
	if [ -n "${RPS[B]:-}" ]; then
		echo "Ratios PostgreSQL / SQLite: req/s $(ratio "$(med "${RPS[B]}")" "$(med "${RPS[A]}")")×," \
			"p50 $(ratio "$(med "${P50[B]}")" "$(med "${P50[A]}")")×, p99 $(ratio "$(med "${P99[B]}")" "$(med "${P99[A]}")")×."
		echo
	fi
	echo "Raw runs (bytes/s; req/s, ms):"
	echo
	for c in "${GCONFS[@]}"; do
		echo "- $(name "$c"): upload [${UP[$c]:-}] download [${DOWN[$c]}]" \
			"node CPU s/GiB upload [${UPCPU[$c]:-}] download [${DOWNCPU[$c]}]"
	done
	for c in "${LCONFS[@]}"; do
		echo "- lookup $(name "$c"): req/s [${RPS[$c]}] p50 [${P50[$c]}] p99 [${P99[$c]}]"
	done
	echo "- 1-min load after each run: ${LOADS[*]:1:${#LOADS[@]}-2}"
} | tee "$out"
log "results written to $out"
