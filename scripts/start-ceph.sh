#!/bin/sh
# start-ceph.sh — Ceph's S3 gateway (radosgw) on loopback, the second S3
# implementation the tests run against (scripts/start-s3.sh is Swift):
# a single-node cluster from Debian's packages, one monitor, one OSD, one
# radosgw, no cephx (the cluster listens on 127.0.0.1 only; the S3 keys
# are RGW's own).
#
#   scripts/start-ceph.sh [DIR]      (default /tmp/partage-ceph; radosgw on
#                                     port $S3_PORT or 28180, the monitor
#                                     on the next two, the OSD on
#                                     PORT+10..PORT+40; buckets $S3_BUCKET,
#                                     default "partage", may be a list:
#                                     "partage partage-e2e partage-unit")
#   scripts/stop-ceph.sh [--purge] [DIR]
#
# Other knobs: S3_ACCESS_KEY and S3_SECRET_KEY (the S3 user's keys),
# CEPH_STORE = memstore (default: the OSD keeps objects in RAM, up to
# CEPH_MEM_BYTES, default 4G; nothing survives a stop) or bluestore (a
# sparse file DIR/osd/block of CEPH_BLOCK_BYTES, default 20G; survives a
# stop).
#
# Idempotent: installs the packages when missing, makes the cluster once
# (a stopped memstore cluster is made again: its objects are gone),
# starts whatever daemon is not running, makes the S3 user and the
# buckets, waits until radosgw answers and prints the [storage] settings.
# The daemons run as the `ceph` service user (--setuser), never as root.
# Virtual-hosted style: rgw_dns_name = localhost, so BUCKET.localhost:PORT
# names a bucket as well as localhost:PORT/BUCKET.
set -eu

DIR=${1:-/tmp/partage-ceph}
PORT=${S3_PORT:-28180}
BUCKETS=${S3_BUCKET:-partage}
AK=${S3_ACCESS_KEY:-PARTAGETESTACCESSKEY}
SK=${S3_SECRET_KEY:-partage-test-secret-key-0123456789abcdef}
STORE=${CEPH_STORE:-memstore}
MON2=$((PORT + 1))
MON1=$((PORT + 2))
SVC=ceph
T0=$(date +%s.%N)

die() { echo "start-ceph: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (installs packages, runs the daemons as '$SVC')"
case $STORE in memstore|bluestore) ;; *) die "CEPH_STORE is memstore or bluestore, not '$STORE'" ;; esac

# ---- packages -------------------------------------------------------------
need=
for p in ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl python3; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		need="$need $p"
done
if [ -n "$need" ]; then
	echo "start-ceph: installing$need" >&2
	# the packages enable systemd units; we run the daemons ourselves
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
		--no-install-recommends $need >/dev/null ||
		{ apt-get update >/dev/null &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends $need >/dev/null; } ||
		die "cannot install$need"
fi
getent passwd "$SVC" >/dev/null || die "no '$SVC' user (package ceph-common makes it)"

C=$DIR/ceph.conf
CEPH="ceph -c $C --connect-timeout 10"
running() { [ -f "$DIR/run/$1.pid" ] && kill -0 "$(cat "$DIR/run/$1.pid")" 2>/dev/null; }

# a memstore OSD forgets everything when it stops: make the cluster again
if [ "$STORE" = memstore ] && [ -f "$C" ] && ! running osd; then
	for d in rgw osd mon; do
		running $d && { kill -TERM -- "-$(cat "$DIR/run/$d.pid")" 2>/dev/null || true; }
	done
	sleep 0.5
	rm -rf "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/run" "$C" "$DIR/keyring" "$DIR/monmap"
fi

# ---- the cluster, made once -----------------------------------------------
mkdir -p "$DIR/run" "$DIR/log"
if [ ! -f "$C" ]; then
	fsid=$(uuidgen)
	rm -rf "$DIR/mon" "$DIR/osd"
	mkdir -p "$DIR/mon/a" "$DIR/osd/0" "$DIR/rgw"
	cat >"$C.tmp" <<EOF
[global]
fsid = $fsid
mon initial members = a
mon host = [v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
# one OSD: one copy of everything, no CRUSH failure domain above it
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon allow pool delete = true
ms bind port min = $((PORT + 10))
ms bind port max = $((PORT + 40))
run dir = $DIR/run
keyring = $DIR/keyring
# the command-line tools (run as root) log nowhere; the daemons below
log file = /dev/null
admin socket =
[mon]
mon data = $DIR/mon/\$id
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
[osd]
osd data = $DIR/osd/\$id
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
osd objectstore = $STORE
memstore device bytes = ${CEPH_MEM_BYTES:-4G}
bluestore block path = $DIR/osd/block
bluestore block create = true
bluestore block size = ${CEPH_BLOCK_BYTES:-20G}
bluestore cache size = 128M
osd memory target = 1G
# a small cluster on a shared machine: few threads
osd op num shards = 2
osd op num threads per shard = 2
[client.rgw.gw]
# radosgw asks the monitor for a "secure" connection by default, which
# no cephx means cannot have
ms mon client mode = crc secure
ms client mode = crc secure
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw dns name = localhost
rgw data = $DIR/rgw
rgw thread pool size = 64
EOF
	mv "$C.tmp" "$C"
	# keys exist even without cephx: ceph-mon --mkfs wants its own
	rm -f "$DIR/keyring"
	ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null
	ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' \
		--cap osd 'allow *' --cap mgr 'allow *' >/dev/null
	monmaptool --create --clobber --fsid "$fsid" \
		--addv a "[v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]" \
		"$DIR/monmap" >/dev/null
	uuidgen >"$DIR/osd/uuid"
	chown -R "$SVC:$SVC" "$DIR"
	ceph-mon -c "$C" --mkfs -i a --monmap "$DIR/monmap" \
		--keyring "$DIR/keyring" --setuser "$SVC" --setgroup "$SVC" ||
		die "ceph-mon --mkfs failed"
fi
chown -R "$SVC:$SVC" "$DIR/run" "$DIR/log"

# -f: in the foreground (we keep the pid); setsid: stop-ceph.sh signals
# the whole group
start() { # NAME COMMAND...
	name=$1
	shift
	running "$name" && return 0
	setsid "$@" -f -c "$C" --setuser "$SVC" --setgroup "$SVC" \
		>>"$DIR/log/$name.out" 2>&1 </dev/null &
	echo $! >"$DIR/run/$name.pid"
}
wait_for() { # WHAT TENTHS COMMAND...
	what=$1 n=$2 i=0
	shift 2
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt "$n" ] || die "$what not ready after $((n / 10)) s (logs in $DIR/log)"
		sleep 0.1
	done
}

# ---- monitor, OSD ---------------------------------------------------------
start mon ceph-mon -i a
wait_for "the monitor" 300 $CEPH mon stat
if [ ! -f "$DIR/osd/0/fsid" ]; then
	id=$($CEPH osd new "$(cat "$DIR/osd/uuid")") || die "ceph osd new failed"
	[ "$id" = 0 ] || die "the OSD got id $id, not 0"
	ceph-osd -c "$C" -i 0 --mkfs --osd-uuid "$(cat "$DIR/osd/uuid")" \
		--setuser "$SVC" --setgroup "$SVC" >>"$DIR/log/osd.out" 2>&1 ||
		die "ceph-osd --mkfs failed (log in $DIR/log/osd.out)"
fi
start osd ceph-osd -i 0
osd_up() { $CEPH osd dump 2>/dev/null | grep -q '^osd\.0 up  *in'; }
wait_for "the OSD" 600 osd_up

# ---- radosgw, its S3 user --------------------------------------------------
start rgw radosgw -n client.rgw.gw
# anonymous GET /: an empty bucket list once radosgw serves
wait_for "radosgw on port $PORT" 600 curl -fsS "http://127.0.0.1:$PORT/"
radosgw-admin -c "$C" user info --uid=partage >/dev/null 2>&1 ||
	radosgw-admin -c "$C" user create --uid=partage --display-name=partage \
		--access-key="$AK" --secret-key="$SK" >/dev/null ||
	die "cannot make the S3 user"

# ---- buckets: an S3 PUT /BUCKET, signed (SigV4) -----------------------------
s3_put_bucket() {
	python3 - "$PORT" "$1" "$AK" "$SK" <<'EOF'
import datetime, hashlib, hmac, http.client, sys
port, bucket, ak, sk = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
region = "us-east-1"
t = datetime.datetime.now(datetime.timezone.utc)
amz, day = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
h = {"host": "127.0.0.1:%d" % port, "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
     "x-amz-date": amz}
names = ";".join(sorted(h))
creq = "\n".join(["PUT", "/" + bucket, "",
                  "".join("%s:%s\n" % (k, h[k]) for k in sorted(h)),
                  names, "UNSIGNED-PAYLOAD"])
scope = "%s/%s/s3/aws4_request" % (day, region)
sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                 hashlib.sha256(creq.encode()).hexdigest()])
k = ("AWS4" + sk).encode()
for m in (day, region, "s3", "aws4_request"):
    k = hmac.new(k, m.encode(), hashlib.sha256).digest()
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
h["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                      "Signature=%s" % (ak, scope, names, sig))
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
c.request("PUT", "/" + bucket, headers=h)
r = c.getresponse()
body = r.read()
# 409 BucketAlreadyExists / OwnedByYou: made by an earlier run
if r.status not in (200, 409):
    print(r.status, body.decode(errors="replace"), file=sys.stderr)
    sys.exit(1)
EOF
}
for b in $BUCKETS; do
	i=0
	until s3_put_bucket "$b"; do
		i=$((i + 1))
		[ $i -lt 50 ] || die "cannot create bucket '$b'"
		sleep 0.2
	done
done

T1=$(date +%s.%N)
echo "start-ceph: Ceph radosgw ($STORE) ready on 127.0.0.1:$PORT in $(awk "BEGIN { printf \"%.1f\", $T1 - $T0 }") s (data in $DIR)" >&2
cat <<EOF
[storage]
backend = s3
s3_endpoint = http://127.0.0.1:$PORT
s3_bucket = ${BUCKETS%% *}
s3_region = us-east-1
s3_access_key = $AK
s3_secret_key = $SK
EOF
