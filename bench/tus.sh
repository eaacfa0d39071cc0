#!/usr/bin/env bash
# bench/tus.sh — tus 1.0.0 uploads, partaged vs @tus/server + @tus/file-store
# (Node), side by side on loopback in one run.
#
#   1 GiB tus upload (POST, then 16 PATCHes of 64 MiB on one keep-alive
#     connection), GiB/s from the POST to the last 204      ratio reported
#   the same upload against dd bs=4M conv=fdatasync of the same bytes (the
#     disk's durable write speed, the physical limit)   target ≥ 0.9×
#   HEAD on one upload (Tus-Resumable), requests/s, wrk -c64 and -c1
#
# The client is a small raw-HTTP tus client in Python (below) that sends each
# PATCH body with sendfile(2) from a file in page cache: it costs next to no
# CPU, so the servers, not the client, are measured, and both servers get
# byte-identical requests.  (tus-js-client would copy every chunk through
# Node streams on the same CPUs as the servers; it is used for interop in
# tests/e2e/test_36_tus_client.py instead.)  Each run changes the file's
# first 16 bytes so partaged never deduplicates.  partaged hashes the bytes
# as they arrive (the hash state saved with each durable offset), fsyncs
# the partial at the end of each PATCH and, at the end, commits it as a
# blob plus a SQLite row without reading it again; @tus/file-store
# appends to a file and never fsyncs.  Medians of BENCH_RUNS (default 3), alternating
# which server goes first.
#
# Knobs: BENCH_RUNS, BENCH_DURATION (wrk), BENCH_THREADS (partaged threads,
# wrk -t), BENCH_TMPDIR, BENCH_RESULTS, PARTAGED (see bench/lib.sh),
# TUS_SIZE (bytes, default 1 GiB), TUS_CHUNK (default 64 MiB).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TUS_SIZE=${TUS_SIZE:-1073741824}
TUS_CHUNK=${TUS_CHUNK:-67108864}
TN_PID= TN_PORT= TN_URL=
TUS_NODE_DIR=$BENCH_ROOT/bench/tus-node

tus_deps() {
	command -v wrk >/dev/null 2>&1 || {
		log "installing wrk"
		PARTAGE_BENCH=1 "$BENCH_ROOT/scripts/install-deps.sh"
	}
	command -v node >/dev/null 2>&1 || die "node is not installed (needed for @tus/server)"
	if [ ! -f "$TUS_NODE_DIR/node_modules/@tus/server/package.json" ] ||
		[ ! -f "$TUS_NODE_DIR/node_modules/@tus/file-store/package.json" ]; then
		log "installing @tus/server and @tus/file-store into bench/tus-node/node_modules"
		(cd "$TUS_NODE_DIR" && npm install --no-package-lock --no-audit --no-fund --loglevel=error)
	fi
	[ -x "$PARTAGED" ] || { log "building partaged"; make -C "$BENCH_ROOT" >/dev/null; }
}

tus_init() {
	tus_deps
	bench_ulimit
	BT=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/partage-bench-tus.XXXXXX")
	mkdir -p "$BT/pd/data" "$BT/tn/store" "$BT/src"
	cp "$PARTAGED" "$BT/partaged"
	trap tus_cleanup EXIT
	trap 'exit 130' INT TERM
	log "temp dir $BT; $(nproc) CPUs; runs=$BENCH_RUNS duration=$BENCH_DURATION threads=$BENCH_THREADS;" \
		"node $(node --version), @tus/server $(node -p "require('$TUS_NODE_DIR/node_modules/@tus/server/package.json').version")"
	write_client
}

tus_cleanup() {
	stop_partaged
	stop_tusnode
	[ -n "${BT:-}" ] && [ -d "$BT" ] && [ -z "${BENCH_KEEP:-}" ] && rm -rf "$BT"
	return 0
}

start_tusnode() {
	TN_PORT=$(free_port)
	TN_URL="http://127.0.0.1:$TN_PORT"
	(cd "$TUS_NODE_DIR" && exec node server.mjs "$TN_PORT" "$BT/tn/store") \
		>"$BT/tn/stdout.log" 2>&1 &
	TN_PID=$!
	wait_http "$TN_URL/files" || { cat "$BT/tn/stdout.log" >&2; die "@tus/server did not start"; }
	log "@tus/server pid $TN_PID on $TN_URL/files"
}

stop_tusnode() {
	[ -n "${TN_PID:-}" ] || return 0
	kill "$TN_PID" 2>/dev/null || true
	wait "$TN_PID" 2>/dev/null || true
	TN_PID=
}

# The tus client: POST, then PATCHes of CHUNK bytes with sendfile(2) on one
# keep-alive connection; prints bytes/s (POST to the last reply), or with
# --create-only prints the upload URL after creating it and sending half.
write_client() {
	cat >"$BT/tusup.py" <<'PY'
import os, socket, sys, time, urllib.parse

def read_reply(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise SystemExit("connection closed before a reply")
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if status in (204, 304) or 100 <= status < 200:
        return status, hdrs, buf
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        while len(buf) < n:
            buf += s.recv(65536)
        return status, hdrs, buf[n:]
    if "chunked" in hdrs.get("transfer-encoding", ""):
        while b"0\r\n\r\n" not in buf:
            buf += s.recv(65536)
        return status, hdrs, buf.split(b"0\r\n\r\n", 1)[1]
    return status, hdrs, buf

def main():
    create, path, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
    half = len(sys.argv) > 4 and sys.argv[4] == "--create-only"
    u = urllib.parse.urlsplit(create)
    size = os.path.getsize(path)
    s = socket.create_connection((u.hostname, u.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    host = "%s:%d" % (u.hostname, u.port)
    buf = b""
    t0 = time.perf_counter()
    s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nUpload-Length: %d\r\n"
               "Content-Length: 0\r\n\r\n" % (u.path, host, size)).encode())
    st, h, buf = read_reply(s, buf)
    if st != 201:
        raise SystemExit("POST: %d" % st)
    upath = urllib.parse.urlsplit(urllib.parse.urljoin(create, h["location"])).path
    off = 0
    end = size // 2 if half else size
    with open(path, "rb") as f:
        while off < end:
            n = min(chunk, end - off)
            s.sendall(("PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: %d\r\n"
                       "Content-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n"
                       % (upath, host, off, n)).encode())
            sent = 0
            while sent < n:
                sent += s.sendfile(f, off + sent, n - sent)
            st, h, buf = read_reply(s, buf)
            if st != 204 or int(h.get("upload-offset", -1)) != off + n:
                raise SystemExit("PATCH at %d: %d %r" % (off, st, h))
            off += n
    t1 = time.perf_counter()
    s.close()
    if half:
        print("http://%s%s" % (host, upath))
    else:
        print("%.0f" % (size / (t1 - t0)))

main()
PY
}

tus_put() { # CREATE_URL → bytes/s
	python3 "$BT/tusup.py" "$1" "$BT/src/tus.bin" "$TUS_CHUNK"
}

# wrk HEAD with Tus-Resumable, all on the same upload
head_rps() { # CONNS URL
	cat >"$BT/head.lua" <<'LUA'
wrk.method = "HEAD"
wrk.headers["Tus-Resumable"] = "1.0.0"
LUA
	local t=$BENCH_THREADS
	[ "$1" -lt "$t" ] && t=$1
	BENCH_THREADS=$t wrk_rps "$1" "$2" -s "$BT/head.lua"
}

# new content for each run (first 16 bytes), so partaged never dedups
fresh_content() {
	head -c 16 /dev/urandom | dd of="$BT/src/tus.bin" bs=16 count=1 conv=notrunc status=none
}

tus_measure() { # NAME UNIT SCALE "reference command" "partaged command" [REFERENCE]
	local name=$1 unit=$2 scale=$3 tncmd=$4 pdcmd=$5 ref=${6:-@tus/server}
	local tn=() pd=() i v
	for i in $(seq "$BENCH_RUNS"); do
		RUN=$i
		if [ $((i % 2)) = 1 ]; then
			eval "${PRE_RUN:-:}"; v=$(eval "$tncmd") || die "$name: $ref run failed"; tn+=("$v")
			eval "${PRE_RUN:-:}"; v=$(eval "$pdcmd") || die "$name: partaged run failed"; pd+=("$v")
		else
			eval "${PRE_RUN:-:}"; v=$(eval "$pdcmd") || die "$name: partaged run failed"; pd+=("$v")
			eval "${PRE_RUN:-:}"; v=$(eval "$tncmd") || die "$name: $ref run failed"; tn+=("$v")
		fi
		log "$name run $i: $ref ${tn[-1]} partaged ${pd[-1]}"
	done
	RESULT_ROWS+=("$(awk -v n="$name" -v u="$unit" -v s="$scale" -v ref="$ref" \
		-v a="$(median "${tn[@]}")" -v b="$(median "${pd[@]}")" -v ra="${tn[*]}" -v rb="${pd[*]}" \
		'BEGIN { printf "%s|%s|%s|%.3f|%.3f|%.2f|%s|%s\n", n, u, ref, a/s, b/s, b/a, ra, rb }')")
}

tus_results() {
	local out row
	mkdir -p "$BENCH_RESULTS"
	out="$BENCH_RESULTS/tus-$(date +%Y%m%d-%H%M%S).md"
	{
		echo "## tus — $(date -u '+%F %T UTC'), $(nproc) CPUs, medians of $BENCH_RUNS runs"
		echo
		echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); partaged threads = $BENCH_THREADS;" \
			"@tus/server $(node -p "require('$TUS_NODE_DIR/node_modules/@tus/server/package.json').version")" \
			"on node $(node --version) (one process); upload $((TUS_SIZE >> 20)) MiB in $((TUS_CHUNK >> 20)) MiB PATCHes."
		echo
		echo "| metric | unit | reference | reference's | partaged | ratio partaged/reference |"
		echo "|---|---|---|---:|---:|---:|"
		for row in "${RESULT_ROWS[@]}"; do
			IFS='|' read -r n u ref a b r _ _ <<<"$row"
			echo "| $n | $u | $ref | $a | $b | $r× |"
		done
		echo
		echo "Raw runs (bytes/s or requests/s):"
		echo
		for row in "${RESULT_ROWS[@]}"; do
			IFS='|' read -r n _ ref _ _ _ ra rb <<<"$row"
			echo "- $n: $ref [$ra] partaged [$rb]"
		done
	} | tee "$out"
	log "results written to $out"
}

tus_init
start_partaged
start_tusnode
make_file "$BT/src/tus.bin" "$TUS_SIZE"

# warm-up: one throwaway upload each
fresh_content; tus_put "$PD_URL/api/v1/uploads" >/dev/null
fresh_content; tus_put "$TN_URL/files" >/dev/null
rm -rf "$BT/tn/store"/* && sync -f "$BT"

# @tus/server does not fsync: flush its dirty pages before each run so they
# are not written back during partaged's run (and the other way round)
PRE_RUN='fresh_content; sync -f "$BT"'
tus_measure "$((TUS_SIZE >> 20)) MiB tus upload, $((TUS_CHUNK >> 20)) MiB PATCHes" "GiB/s" 1073741824 \
	'tus_put "$TN_URL/files"' 'tus_put "$PD_URL/api/v1/uploads"'
# the physical limit: the same bytes written durably by dd (one fdatasync
# at the end), in the same run, alternating with partaged
dd_durable() { # → bytes/s
	local t0 t1
	t0=$(date +%s.%N)
	dd if="$BT/src/tus.bin" of="$BT/dd.out" bs=4M conv=fdatasync status=none
	t1=$(date +%s.%N)
	rm -f "$BT/dd.out"
	awk -v s="$TUS_SIZE" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", s / (b - a) }'
}
tus_measure "$((TUS_SIZE >> 20)) MiB tus upload vs the disk's durable write (dd conv=fdatasync)" "GiB/s" 1073741824 \
	'dd_durable' 'tus_put "$PD_URL/api/v1/uploads"' "dd bs=4M conv=fdatasync"
PRE_RUN=

# HEAD on a half-done upload (each server's own)
TN_HEAD=$(python3 "$BT/tusup.py" "$TN_URL/files" "$BT/src/tus.bin" "$TUS_CHUNK" --create-only)
PD_HEAD=$(python3 "$BT/tusup.py" "$PD_URL/api/v1/uploads" "$BT/src/tus.bin" "$TUS_CHUNK" --create-only)
tus_measure "HEAD upload, 64 conns (wrk)" "req/s" 1 \
	'head_rps 64 "$TN_HEAD"' 'head_rps 64 "$PD_HEAD"'
tus_measure "HEAD upload, 1 conn (wrk)" "req/s" 1 \
	'head_rps 1 "$TN_HEAD"' 'head_rps 1 "$PD_HEAD"'

tus_results
