#!/bin/sh
# start-s3.sh — a real S3-compatible store on loopback for tests and for
# trying the s3 blob backend: OpenStack Swift with the s3api middleware,
# single node, from Debian's packages, data in a plain directory.
#
#   scripts/start-s3.sh [DIR]        (default /tmp/partage-s3; port $S3_PORT
#                                     or 28080, backends on the next three;
#                                     below the ephemeral port range, so no
#                                     client socket can be holding it)
#                                     buckets $S3_BUCKET, default "partage",
#                                     may be a list: "partage partage-e2e")
#   scripts/stop-s3.sh [DIR]
#
# Idempotent: installs the packages when missing, builds the rings and the
# configuration once, starts whatever daemon is not running, creates the
# bucket, waits for every /healthcheck and prints the [storage] settings.
# The daemons run as the `swift` service user (setpriv), never as root, so
# the data directory holds no root-owned files.  Swift keeps its metadata
# in user xattrs: when DIR's file system has none, the data goes on a
# loop-mounted ext4 image instead.
set -eu

DIR=${1:-/tmp/partage-s3}
PORT=${S3_PORT:-28080}
BUCKETS=${S3_BUCKET:-partage}
OBJ_PORT=$((PORT + 1))
CONT_PORT=$((PORT + 2))
ACCT_PORT=$((PORT + 3))
SVC=swift
T0=$(date +%s.%N)

die() { echo "start-s3: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (installs packages, drops to the '$SVC' user)"

# ---- packages -------------------------------------------------------------
need=
for p in swift swift-proxy swift-object swift-container swift-account \
	 python3-swift curl; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		need="$need $p"
done
if [ -n "$need" ]; then
	echo "start-s3: installing$need" >&2
	# the packages enable systemd units; we run the daemons ourselves
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
		--no-install-recommends $need >/dev/null ||
		{ apt-get update >/dev/null &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends $need >/dev/null; } ||
		die "cannot install$need"
fi
getent passwd "$SVC" >/dev/null || die "no '$SVC' user (package swift makes it)"
# Swift always reads /etc/swift/swift.conf (hash path salt, policies)
[ -s /etc/swift/swift.conf ] || {
	mkdir -p /etc/swift
	cat >/etc/swift/swift.conf <<EOF
[swift-hash]
swift_hash_path_suffix = partage-test
swift_hash_path_prefix = partage-test
[storage-policy:0]
name = Policy-0
default = yes
EOF
}

# ---- directories, xattrs --------------------------------------------------
mkdir -p "$DIR/etc" "$DIR/run" "$DIR/log" "$DIR/srv"
has_xattr() {
	python3 - "$1" <<'EOF' 2>/dev/null
import os, sys, tempfile
fd, p = tempfile.mkstemp(dir=sys.argv[1])
try:
    os.setxattr(p, "user.partage", b"1")
finally:
    os.close(fd); os.unlink(p)
EOF
}
if ! mountpoint -q "$DIR/srv" && ! has_xattr "$DIR/srv"; then
	echo "start-s3: no user xattrs on $DIR: using a loop-mounted ext4 image" >&2
	[ -f "$DIR/srv.img" ] || {
		truncate -s "${S3_IMAGE_SIZE:-8G}" "$DIR/srv.img"
		mkfs.ext4 -q -F "$DIR/srv.img"
	}
	mount -o loop,user_xattr "$DIR/srv.img" "$DIR/srv"
fi
mkdir -p "$DIR/srv/d1"
chown -R "$SVC:$SVC" "$DIR/srv" "$DIR/run" "$DIR/log"

# ---- configuration (written once; delete DIR/etc to regenerate) -----------
E=$DIR/etc
if [ ! -f "$E/proxy-server.conf" ]; then
	for kind in account container object; do
		case $kind in
		account) p=$ACCT_PORT ;; container) p=$CONT_PORT ;;
		object) p=$OBJ_PORT ;;
		esac
		cat >"$E/$kind-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $p
workers = 0
user = $SVC
swift_dir = $E
devices = $DIR/srv
mount_check = false
disable_fallocate = true
log_name = $kind-server
log_level = WARNING

[pipeline:main]
pipeline = healthcheck $kind-server

[app:$kind-server]
use = egg:swift#$kind

[filter:healthcheck]
use = egg:swift#healthcheck

[$kind-replicator]
[$kind-auditor]
[$kind-updater]
EOF
	done
	# slo after s3api is what makes multipart upload work; tempauth wants
	# the cache filter (no memcached daemon needed).  Part and segment
	# limits raised to AWS's, so the client behaves the same on both.
	cat >"$E/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PORT
workers = 0
user = $SVC
swift_dir = $E
log_name = proxy-server
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
max_upload_part_num = 10000
# virtual-hosted style too: Host BUCKET.localhost[:PORT] names the bucket
storage_domain = localhost

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:slo]
use = egg:swift#slo
max_manifest_segments = 10000

[filter:dlo]
use = egg:swift#dlo
[filter:copy]
use = egg:swift#copy
[filter:cache]
use = egg:swift#memcache
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
EOF
	(
		cd "$E"
		for kind in account container object; do
			case $kind in
			account) p=$ACCT_PORT ;; container) p=$CONT_PORT ;;
			object) p=$OBJ_PORT ;;
			esac
			swift-ring-builder $kind.builder create 6 1 1 >/dev/null
			swift-ring-builder $kind.builder add \
				r1z1-127.0.0.1:$p/d1 100 >/dev/null
			swift-ring-builder $kind.builder rebalance >/dev/null
		done
	)
	chown -R "$SVC:$SVC" "$E"
fi

# configurations written before virtual-hosted style was tested get it
grep -q '^storage_domain' "$E/proxy-server.conf" ||
	sed -i 's/^\[filter:s3api\]$/&\nstorage_domain = localhost/' \
		"$E/proxy-server.conf"

# ---- daemons --------------------------------------------------------------
running() { [ -f "$DIR/run/$1.pid" ] && kill -0 "$(cat "$DIR/run/$1.pid")" 2>/dev/null; }
for kind in account container object proxy; do
	running $kind && continue
	# -v: log to stderr as well (no syslog needed); setsid: stop-s3.sh
	# signals the whole group
	setsid setpriv --reuid="$SVC" --regid="$SVC" --init-groups \
		"swift-$kind-server" "$E/$kind-server.conf" -v \
		>>"$DIR/log/$kind.log" 2>&1 </dev/null &
	echo $! >"$DIR/run/$kind.pid"
done

# ---- readiness ------------------------------------------------------------
for p in $ACCT_PORT $CONT_PORT $OBJ_PORT $PORT; do
	i=0
	until curl -fsS "http://127.0.0.1:$p/healthcheck" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 300 ] || die "port $p not healthy after 30 s (logs in $DIR/log)"
		sleep 0.1
	done
done

# ---- bucket: an S3 PUT /BUCKET, signed (SigV4) by a few lines of Python --
# (tempauth tokens would need a memcached; curl's --user cannot carry the
# colon of the access key "test:tester")
s3_put_bucket() {
	python3 - "$PORT" "$1" <<'EOF'
import datetime, hashlib, hmac, http.client, sys
port, bucket = int(sys.argv[1]), sys.argv[2]
ak, sk, region = "test:tester", "testing", "us-east-1"
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
# 409 BucketAlreadyOwnedByYou: made by an earlier run
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
echo "start-s3: Swift s3api ready on 127.0.0.1:$PORT in $(awk "BEGIN { printf \"%.1f\", $T1 - $T0 }") s (data in $DIR)" >&2
cat <<EOF
[storage]
backend = s3
s3_endpoint = http://127.0.0.1:$PORT
s3_bucket = ${BUCKETS%% *}
s3_region = us-east-1
s3_access_key = test:tester
s3_secret_key = testing
EOF
