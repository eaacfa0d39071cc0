#!/usr/bin/env bash
# bench/cluster-sim.sh — the capacity simulation of issue 19: many partaged
# nodes against one PostgreSQL, doing only their periodic work (counter
# flushes, storage gauges, gc passes, health checks, the media rescan…)
# and no traffic, and what that costs PostgreSQL as the node count grows.
#
# Each node is a real partaged: listeners on port 0 (nobody connects),
# one worker thread, metadata in one scratch database shared by all,
# blobs on a local directory of its own (the periodic work's queries do
# not depend on the blob backend; the bucket listing of an S3 gc does not
# touch PostgreSQL), gc every SIM_GC seconds instead of 600 so that a
# short window sees several passes.  The database holds SIM_LINKS links
# and blobs (realistic rows, as bench/dbsize.sh makes them; none expired
# or expiring; every one already probed by media.c) so that work that
# scans whole tables shows its cost.
#
# For each node count in turn (nodes are added, never restarted) it waits
# SIM_SETTLE seconds, then measures over SIM_WINDOW seconds:
#   xact/s      transactions committed + rolled back (pg_stat_database)
#   stmt/s      statements executed (pg_stat_statements' calls, when the
#               extension is loaded: always on the PostgreSQL this script
#               starts itself)
#   rows/s      rows read (tup_returned + tup_fetched): full scans show here
#   PG CPU      CPU of the postmaster and its children (/proc), % of one
#               core
#   backends    connections to the scratch database at the end
#   node RSS    mean resident size of a node (MiB), and the nodes' CPU
# then prints a Markdown table (also written to bench/results/
# cluster-sim-*.md, where scripts/capacity.py reads its per-node rates).
#
# Usage: bench/cluster-sim.sh [N...]        (default: 1 10 50 100)
#   SIM_DSN=postgresql://…   an existing server to use (needs a role that
#                            may CREATE DATABASE; max_connections must
#                            cover N × (1 + 3) connections); default: a
#                            private PostgreSQL started by
#                            scripts/start-postgres.sh in $SIM_PGDIR
#                            (/tmp/partage-sim-pg) on port $SIM_PGPORT
#                            (25932), with max_connections = 1000 and
#                            pg_stat_statements, stopped at the end
#   SIM_LINKS=100000  rows in links and in blobs
#   SIM_GC=60         gc_interval_seconds of every node
#   SIM_WINDOW=130    seconds measured per step (two gauge ticks of 60 s,
#                     two gc passes at least)
#   SIM_SETTLE=10     seconds between the last start and the window
#   SIM_EXTRA=        INI appended to every node's config (later keys win)
#   PARTAGED=bin/partaged, BENCH_RESULTS=bench/results, SIM_KEEP=1 keeps
#   the work directory (configs and logs of every node).
# Memory: about 4 connections a node; the table shows each node's RSS: read
# it at 10 nodes before asking for 100.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEPS=${*:-1 10 50 100}
LINKS=${SIM_LINKS:-100000}
GC=${SIM_GC:-60}
WINDOW=${SIM_WINDOW:-130}
SETTLE=${SIM_SETTLE:-10}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
PARTAGED=${PARTAGED:-$ROOT/bin/partaged}
PGDIR=${SIM_PGDIR:-/tmp/partage-sim-pg}
PGPORT_SIM=${SIM_PGPORT:-25932}
HZ=$(getconf CLK_TCK)
log() { printf '[cluster-sim %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for n in $STEPS; do
	case $n in '' | *[!0-9]*) die "node counts are numbers, not '$n'" ;; esac
done
[ -x "$PARTAGED" ] || make -C "$ROOT" >/dev/null
work=$(mktemp -d /tmp/partage-sim.XXXXXX)
own_pg=0
if [ -n "${SIM_DSN:-}" ]; then
	dsn=$SIM_DSN
else
	own_pg=1
	dsn=$(PGPORT=$PGPORT_SIM "$ROOT/scripts/start-postgres.sh" "$PGDIR")
	# room for a hundred nodes' connections, and per-statement counts:
	# both need a restart, done once (the lines stay in the cluster's
	# configuration)
	if ! grep -q '^# cluster-sim' "$PGDIR/postgresql.conf"; then
		owner=$(stat -c %U "$PGDIR")
		setpriv --reuid="$owner" --regid="$owner" --init-groups \
			tee -a "$PGDIR/postgresql.conf" >/dev/null <<EOF
# cluster-sim
max_connections = 1000
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
EOF
		(cd / && setpriv --reuid="$owner" --regid="$owner" --init-groups \
			/usr/lib/postgresql/15/bin/pg_ctl restart -D "$PGDIR" \
			-l "$PGDIR/postgres.log" -w -t 60 >/dev/null)
	fi
fi
db=partage_sim_$$
sdsn=$(python3 - "$dsn" "$db" <<'PY'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))
PY
)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	psql -q "$dsn" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	[ "$own_pg" = 1 ] && "$ROOT/scripts/stop-postgres.sh" "$PGDIR" >/dev/null 2>&1
	[ "${SIM_KEEP:-0}" = 1 ] && log "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

psql -q -v ON_ERROR_STOP=1 "$dsn" -c "CREATE DATABASE $db TEMPLATE template0 LOCALE 'C.UTF-8'" >/dev/null
printf '[metadata]\nbackend = postgres\npostgres_dsn = %s\n' "$sdsn" >"$work/c.ini"
"$PARTAGED" admin --config "$work/c.ini" --data "$work/admin" user list >/dev/null
now=$(date +%s)
log "schema created by partaged; inserting $LINKS blobs and links"
psql -q -v ON_ERROR_STOP=1 "$sdsn" >/dev/null <<SQL
INSERT INTO blobs(sha256, size, created)
  SELECT encode(sha256(('b' || i)::bytea), 'hex'),
         (abs(hashtextextended('s' || i, 0)) % 200000000000) / 1000,
         $now - 86400 + i % 86400
  FROM generate_series(1, $LINKS) AS i;
INSERT INTO links(id, sha256, name, mime, size, created, expires,
                  max_downloads, delete_hash, owner_id, last_download)
  SELECT translate(left(encode(sha256(('l' || i)::bytea), 'base64'), 12),
                   '+/=', 'xyz'),
         encode(sha256(('b' || i)::bytea), 'hex'),
         left(md5('n' || i) || md5('m' || i), 16 + i % 40) || '.mkv',
         (ARRAY['application/octet-stream', 'video/mp4', 'application/zip',
                'image/jpeg', 'application/pdf', 'video/x-matroska'])[1 + i % 6],
         (abs(hashtextextended('s' || i, 0)) % 200000000000) / 1000,
         $now - 86400 + i % 86400,
         CASE WHEN i % 2 = 0 THEN $now + 365 * 86400 + i ELSE 0 END,
         0,
         encode(sha256(('d' || i)::bytea), 'hex'),
         CASE WHEN i % 2 = 0 THEN 0 ELSE abs(hashtextextended('u' || (i % 5000), 0)) END,
         $now - i % 86400
  FROM generate_series(1, $LINKS) AS i;
-- steady state: every file probed already (media.c's rescan finds none)
INSERT INTO media(sha256, state, probed) SELECT sha256, 1, $now FROM blobs;
VACUUM ANALYZE blobs;
VACUUM ANALYZE links;
VACUUM ANALYZE media;
SQL
stmts=0
if [ "$own_pg" = 1 ]; then
	# the extension needs a superuser: the cluster's owner, on its socket
	owner=$(stat -c %U "$PGDIR")
	(cd / && setpriv --reuid="$owner" --regid="$owner" --init-groups \
		psql -q -h "$PGDIR" -p "$PGPORT_SIM" -d "$db" \
		-c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements") >/dev/null 2>&1 || true
fi
if psql -q "$sdsn" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 &&
	psql -At "$sdsn" -c "SELECT 1 FROM pg_stat_statements LIMIT 1" >/dev/null 2>&1; then
	stmts=1
else
	log "no pg_stat_statements on this server: stmt/s not measured"
fi
pgdata=$PGDIR
[ "$own_pg" = 1 ] || pgdata=$(psql -At "$sdsn" -c "SHOW data_directory" 2>/dev/null || true)
postmaster=$(head -1 "$pgdata/postmaster.pid" 2>/dev/null || true)
[ -n "$postmaster" ] && [ -d "/proc/$postmaster" ] ||
	log "the postmaster's pid is not readable here: PG CPU not measured"

# CPU ticks of the postmaster, its children, and its dead children
pg_ticks() {
	[ -n "$postmaster" ] && [ -d "/proc/$postmaster" ] || { echo 0; return; }
	python3 - "$postmaster" <<'PY'
import glob, sys
pm, t = sys.argv[1], 0
for f in glob.glob("/proc/[0-9]*/stat"):
    try:
        v = open(f).read().rsplit(")", 1)[1].split()
    except OSError:
        continue  # gone meanwhile
    # v[0] state, v[1] ppid, v[11] utime, v[12] stime, v[13:15] children's
    if f == "/proc/%s/stat" % pm:
        t += int(v[11]) + int(v[12]) + int(v[13]) + int(v[14])
    elif v[1] == pm:
        t += int(v[11]) + int(v[12])
print(t)
PY
}
nodes_ticks() {
	local t=0 p s
	for p in "${pids[@]}"; do
		s=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
		set -- $s
		t=$((t + ${12} + ${13}))
	done
	echo $t
}
nodes_rss_kib() {
	local t=0 p k
	for p in "${pids[@]}"; do
		k=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
		t=$((t + ${k:-0}))
	done
	echo $t
}
snapshot() { # xact rows stmts
	psql -At -F' ' "$sdsn" <<SQL
SELECT xact_commit + xact_rollback, tup_returned + tup_fetched,
       $( [ $stmts = 1 ] && echo "(SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database())" || echo 0)
  FROM pg_stat_database WHERE datname = current_database();
SQL
}

start_node() { # I
	local d=$work/n$1
	mkdir -p "$d"
	cat >"$d/c.ini" <<EOF
[server]
listen = 127.0.0.1:0
threads = 1
gc_interval_seconds = $GC
access_log = off
[metadata]
backend = postgres
postgres_dsn = $sdsn
${SIM_EXTRA:-}
EOF
	"$PARTAGED" --config "$d/c.ini" --data "$d/data" >"$d/log" 2>&1 </dev/null &
	pids+=($!)
}
wait_nodes() {
	local i=0 left
	while :; do
		left=0
		for ((k = 0; k < ${#pids[@]}; k++)); do
			grep -q 'partaged listening' "$work/n$k/log" 2>/dev/null || left=$((left + 1))
			kill -0 "${pids[$k]}" 2>/dev/null || die "node $k exited: $(tail -3 "$work/n$k/log")"
		done
		[ $left = 0 ] && return 0
		i=$((i + 1))
		[ $i -lt 600 ] || die "$left nodes not listening after 60 s"
		sleep 0.1
	done
}

pgver=$(psql -At "$sdsn" -c "SHOW server_version")
rows=()
for n in $STEPS; do
	while [ ${#pids[@]} -lt "$n" ]; do start_node ${#pids[@]}; done
	wait_nodes
	log "$n nodes up; settling ${SETTLE} s, then measuring ${WINDOW} s"
	sleep "$SETTLE"
	read -r x0 r0 s0 <<<"$(snapshot)"
	c0=$(pg_ticks) k0=$(nodes_ticks) t0=$(date +%s.%N)
	sleep "$WINDOW"
	read -r x1 r1 s1 <<<"$(snapshot)"
	c1=$(pg_ticks) k1=$(nodes_ticks) t1=$(date +%s.%N)
	rss=$(nodes_rss_kib)
	conns=$(psql -At "$sdsn" -c "SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()")
	row=$(python3 - "$n" "$x0" "$x1" "$r0" "$r1" "$s0" "$s1" "$c0" "$c1" "$k0" "$k1" \
		"$t0" "$t1" "$rss" "$conns" "$HZ" "$stmts" <<'PY'
import sys
a = sys.argv[1:]
n = int(a[0]); x0, x1, r0, r1, s0, s1, c0, c1, k0, k1 = map(int, a[1:11])
dt = float(a[12]) - float(a[11]); rss = int(a[13]); conns = int(a[14])
hz = int(a[15]); stmts = a[16] == "1"
q = (s1 - s0) / dt if stmts else None
cells = [n, "%.1f" % ((x1 - x0) / dt), "%.2f" % ((x1 - x0) / dt / n),
         "%.1f" % q if stmts else "–", "%.2f" % (q / n) if stmts else "–",
         "%.0f" % ((r1 - r0) / dt), "%.1f" % (100.0 * (c1 - c0) / hz / dt),
         conns, "%.1f" % (rss / 1024.0 / n), "%.1f" % (100.0 * (k1 - k0) / hz / dt)]
print("| " + " | ".join(map(str, cells)) + " |")
# per node, for the summary: statements, transactions, PG CPU %, RSS MiB
print("%s %.3f %.3f %.1f" % ("%.3f" % (q / n) if stmts else "–", (x1 - x0) / dt / n,
                              100.0 * (c1 - c0) / hz / dt / n, rss / 1024.0 / n))
PY
)
	read -r last_stmt last_xact last_cpu last_rss <<<"$(sed -n 2p <<<"$row")"
	last_n=$n
	row=$(sed -n 1p <<<"$row")
	rows+=("$row")
	log "$row"
done

# what the statements were, for whoever reads the curve
top=
[ $stmts = 1 ] && top=$(psql -At -F' | ' "$sdsn" <<SQL
SELECT '| ' || s.calls, round(s.total_exec_time::numeric, 1),
       s.rows, left(regexp_replace(s.query, '\s+', ' ', 'g'), 150) || ' |'
  FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = current_database()
 ORDER BY s.calls DESC LIMIT ${SIM_TOP:-15};
SQL
)

mkdir -p "$RESULTS"
out="$RESULTS/cluster-sim-$(date +%Y%m%d-%H%M%S).md"
{
	echo "## cluster-sim — $(date -u '+%F %T UTC'), PostgreSQL $pgver, $LINKS links and blobs, gc every $GC s, ${WINDOW} s windows"
	echo
	echo "Idle nodes (no traffic) on one PostgreSQL: what their periodic work costs it."
	echo "PG CPU and node CPU in % of one core; node RSS is a node's mean resident size."
	echo
	echo "| nodes | xact/s | xact/s per node | stmt/s | stmt/s per node | rows read/s | PG CPU % | backends | node RSS MiB | nodes' CPU % |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Per idle node, at $last_n nodes (scripts/capacity.py reads these):"
	echo
	echo "| metric | unit | value |"
	echo "|---|---|---:|"
	[ "$last_stmt" != – ] &&
		echo "| PostgreSQL statements per second per idle node | stmt/s | $last_stmt |"
	echo "| PostgreSQL transactions per second per idle node | xact/s | $last_xact |"
	[ -n "$postmaster" ] &&
		echo "| PostgreSQL CPU per idle node | % of a core | $last_cpu |"
	echo "| partaged RSS per idle node | MiB | $last_rss |"
	if [ -n "$top" ]; then
		echo
		echo "The statements, over the whole run, by calls:"
		echo
		echo "| calls | ms | rows | statement |"
		echo "|---:|---:|---:|---|"
		printf '%s\n' "$top" | sed 's/\\|/\\\\|/g'
	fi
} | tee "$out"
log "results written to $out"
