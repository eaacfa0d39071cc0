#!/usr/bin/env bash
# bench/dbsize.sh — bytes per link and per blob in PostgreSQL, measured.
#
# Creates a scratch database next to `partage` on the PostgreSQL the DSN
# names, lets partaged create the schema in it (its own migrations:
# `partaged admin user list` opens the database and migrates it), inserts
# DBSIZE_ROWS (default 100000) realistic blobs and as many links, one per
# blob, then VACUUM ANALYZE and reads pg_relation_size (heap),
# pg_indexes_size, pg_total_relation_size (heap + indexes + TOAST + maps)
# and each index's size, divided by the row count.  The scratch database is
# dropped at the end.  scripts/capacity.py scales these to 250 M files.
#
# What "realistic" means here (the columns partaged fills for an upload):
#   links.id        12 characters of [0-9A-Za-z] (ids.h ID_LEN)
#   sha256, delete_hash   64 hex characters (a SHA-256)
#   name            20-59 bytes, mean 40 (e.g. "holiday-2012-part3.mkv")
#   mime            one of 6 common types
#   owner_id        half the links anonymous (0), half an account's id
#   expires         half with an expiry, password_hash empty (no password)
#
# Usage: bench/dbsize.sh [DSN]   (default: PGPORT=${PGPORT:-25432}
#        scripts/start-postgres.sh, which starts one if none runs there)
# Env: DBSIZE_ROWS=100000, BENCH_RESULTS=bench/results, PARTAGED=bin/partaged.
# Prints a Markdown table and writes it to bench/results/dbsize-*.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROWS=${DBSIZE_ROWS:-100000}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
PARTAGED=${PARTAGED:-$ROOT/bin/partaged}
log() { printf '[dbsize %s] %s\n' "$(date +%T)" "$*" >&2; }

dsn=${1:-$("$ROOT/scripts/start-postgres.sh")}
[ -x "$PARTAGED" ] || make -C "$ROOT" >/dev/null
db=partage_dbsize_$$
# the scratch database's DSN: the same URI with the database name replaced
sdsn=$(python3 - "$dsn" "$db" <<'PY'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))
PY
)
work=$(mktemp -d)
cleanup() {
	psql -q "$dsn" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

psql -q -v ON_ERROR_STOP=1 "$dsn" -c "CREATE DATABASE $db TEMPLATE template0 LOCALE 'C.UTF-8'" >/dev/null
printf '[metadata]\nbackend = postgres\npostgres_dsn = %s\n' "$sdsn" >"$work/c.ini"
"$PARTAGED" admin --config "$work/c.ini" --data "$work/data" user list >/dev/null
log "schema created by partaged; inserting $ROWS blobs and links"

psql -q -v ON_ERROR_STOP=1 "$sdsn" >/dev/null <<SQL
INSERT INTO blobs(sha256, size, created)
  SELECT encode(sha256(('b' || i)::bytea), 'hex'),
         (abs(hashtextextended('s' || i, 0)) % 200000000000) / 1000,
         1700000000 + i
  FROM generate_series(1, $ROWS) AS i;
INSERT INTO links(id, sha256, name, mime, size, created, expires,
                  max_downloads, delete_hash, owner_id, password_hash)
  SELECT translate(left(encode(sha256(('l' || i)::bytea), 'base64'), 12),
                   '+/=', 'xyz'),
         encode(sha256(('b' || i)::bytea), 'hex'),
         left(md5('n' || i) || md5('m' || i), 16 + i % 40) || '.mkv',
         (ARRAY['application/octet-stream', 'video/mp4', 'application/zip',
                'image/jpeg', 'application/pdf', 'video/x-matroska'])[1 + i % 6],
         (abs(hashtextextended('s' || i, 0)) % 200000000000) / 1000,
         1700000000 + i,
         CASE WHEN i % 2 = 0 THEN 1800000000 + i ELSE 0 END,
         0,
         encode(sha256(('d' || i)::bytea), 'hex'),
         CASE WHEN i % 2 = 0 THEN 0 ELSE abs(hashtextextended('u' || (i % 5000), 0)) END,
         ''
  FROM generate_series(1, $ROWS) AS i;
VACUUM ANALYZE blobs;
VACUUM ANALYZE links;
SQL

pgver=$(psql -At "$sdsn" -c "SHOW server_version")
rows=$(psql -At -F'|' "$sdsn" <<SQL
SELECT 'links heap', pg_relation_size('links')
UNION ALL SELECT 'links indexes', pg_indexes_size('links')
UNION ALL SELECT 'links total', pg_total_relation_size('links')
UNION ALL SELECT 'blobs heap', pg_relation_size('blobs')
UNION ALL SELECT 'blobs indexes', pg_indexes_size('blobs')
UNION ALL SELECT 'blobs total', pg_total_relation_size('blobs')
UNION ALL SELECT * FROM (SELECT 'index ' || indexrelname, pg_relation_size(indexrelid)
  FROM pg_stat_user_indexes WHERE relname IN ('links', 'blobs')
  ORDER BY relname DESC, indexrelname) AS ix;
SQL
)

mkdir -p "$RESULTS"
out="$RESULTS/dbsize-$(date +%Y%m%d-%H%M%S).md"
{
	echo "## dbsize — $(date -u '+%F %T UTC'), PostgreSQL $pgver, $ROWS links and $ROWS blobs"
	echo
	echo "Bytes per row: the relation's size after VACUUM ANALYZE divided by $ROWS."
	echo
	echo "| metric | unit | value |"
	echo "|---|---|---:|"
	while IFS='|' read -r what bytes; do
		[ -n "$what" ] || continue
		per=$(python3 -c "print(f'{$bytes / $ROWS:.1f}')")
		echo "| PostgreSQL $what per row | B | $per |"
	done <<<"$rows"
} | tee "$out"
log "results written to $out"
