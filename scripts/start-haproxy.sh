#!/usr/bin/env bash
# start-haproxy.sh — haproxy in front of several partaged nodes, for tests,
# CI and developers, with the configuration docs/scaling.md recommends:
#
#   scripts/start-haproxy.sh [--foreground | --print-config] DIR PORT NODE...
#       NODE = HOST:PORT of a partaged (or the list in $HAPROXY_NODES)
#   scripts/start-haproxy.sh --install     (only install the package)
#   scripts/stop-haproxy.sh DIR
#
# Writes DIR/haproxy.cfg and starts haproxy listening on $HAPROXY_BIND
# (default 127.0.0.1) port PORT.  Run again with other nodes, it reloads
# gracefully (haproxy -sf: connections in flight finish on the old process).
# --foreground execs haproxy in the foreground instead of as a daemon, for a
# test harness that owns the process; --print-config only prints the
# configuration.  Installs Debian's haproxy when it is missing (as root),
# without letting the package start a haproxy of its own.
#
# What the configuration does, and why (docs/scaling.md, "Several nodes"):
# - balance source + hash-type consistent: one client address always goes
#   to the same node, so the limits partaged keeps per node in memory
#   (failed logins, the unknown-id rate; parallel downloads are shared in
#   PostgreSQL anyway) hold for the whole cluster; when a node fails, only
#   its clients move.
# - option forwardfor: X-Forwarded-For carries the client's address; the
#   nodes believe it because their [server] trusted_proxies names this
#   balancer (wait tickets are bound to that address too).
# - health checks on GET /healthz, each given `timeout check` to answer (on
#   $HAPROXY_CHECK_PORT when set: the nodes' [server] health_listen, a port
#   whose answers never wait behind downloads); a request whose connection
#   to a dead node fails is sent to another (retries + redispatch), and so
#   is a GET/HEAD/OPTIONS sent on a kept-alive connection to a node that
#   died before answering (retry-on).
# - when every node is down, haproxy's own 503 says Retry-After (an
#   http-error in the configuration itself: no error file to lose).
# - connections per client address are limited here, for all nodes at once
#   ($HAPROXY_PER_IP_CONNECTIONS, default 64, 0 = off); nodes behind the
#   balancer set per_ip_connections = 0, since to them every connection
#   comes from the balancer.
# - long inactivity timeouts: a multi-GiB upload is committed (hashed,
#   copied to its content key on S3) before the reply comes, and a
#   throttled download can run for hours.
#
# Env: HAPROXY_BIND (127.0.0.1), HAPROXY_NODES, HAPROXY_PER_IP_CONNECTIONS
# (64), HAPROXY_STATS_PORT (none: a stats page on that port of
# HAPROXY_BIND), HAPROXY_CHECK_INTERVAL (2s), HAPROXY_CHECK_TIMEOUT (2s),
# HAPROXY_CHECK_PORT (none: the nodes' own port), HAPROXY_RETRY_AFTER (10,
# seconds, in the all-down 503), HAPROXY_MAXCONN (none: haproxy derives it
# from the descriptor limit, so the printed configuration starts anywhere;
# when set, lowered to what that limit allows).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # haproxy lives in /usr/sbin

MODE=daemon
case ${1:-} in
--foreground) MODE=foreground; shift ;;
--print-config) MODE=print; shift ;;
--install) MODE=install; shift ;;
esac

say() { echo "start-haproxy: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- the package: haproxy, without a service of its own ------------------
install_haproxy() {
	command -v haproxy >/dev/null 2>&1 && return 0
	[ "$(id -u)" -eq 0 ] || die "haproxy is not installed; run me as root once (or apt-get install haproxy)"
	say "installing haproxy"
	# the package starts /etc/haproxy's haproxy unless policy-rc.d says no
	local made_policy=0 rc=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends haproxy >/dev/null 2>&1 ||
		{ apt-get update -qq >&2 &&
		  apt-get install -y -qq --no-install-recommends haproxy >/dev/null; } ||
		rc=1
	[ "$made_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
	[ "$rc" = 0 ] || die "cannot install haproxy"
}
if [ "$MODE" = install ]; then
	install_haproxy
	exit 0
fi

[ $# -ge 2 ] || die "usage: start-haproxy.sh [--foreground|--print-config] DIR PORT HOST:PORT..."
DIR=$1
PORT=$2
shift 2
NODES=("$@")
if [ ${#NODES[@]} -eq 0 ] && [ -n "${HAPROXY_NODES:-}" ]; then
	read -r -a NODES <<<"$HAPROXY_NODES"
fi
[ ${#NODES[@]} -gt 0 ] || die "no nodes: give HOST:PORT arguments or HAPROXY_NODES"
BIND=${HAPROXY_BIND:-127.0.0.1}
PER_IP=${HAPROXY_PER_IP_CONNECTIONS:-64}
STATS=${HAPROXY_STATS_PORT:-}
INTER=${HAPROXY_CHECK_INTERVAL:-2s}
CHECK_TIMEOUT=${HAPROXY_CHECK_TIMEOUT:-2s}
CHECK_PORT=${HAPROXY_CHECK_PORT:-}
RETRY_AFTER=${HAPROXY_RETRY_AFTER:-10}
MAXCONN=${HAPROXY_MAXCONN:-}

[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] ||
	die "'$PORT' is not a port"
[[ $PER_IP =~ ^[0-9]+$ ]] || die "HAPROXY_PER_IP_CONNECTIONS '$PER_IP' is not a number"
[ -z "$STATS" ] || [[ $STATS =~ ^[0-9]+$ ]] || die "HAPROXY_STATS_PORT '$STATS' is not a port"
[ -z "$MAXCONN" ] || [[ $MAXCONN =~ ^[1-9][0-9]*$ ]] || die "HAPROXY_MAXCONN '$MAXCONN' is not a number"
[[ $INTER =~ ^[0-9]+(ms|s)?$ ]] || die "HAPROXY_CHECK_INTERVAL '$INTER' is not a time (2s, 500ms)"
for n in "${NODES[@]}"; do
	[[ $n =~ ^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]+$ ]] ||
		die "node '$n' is not HOST:PORT"
done
[[ $CHECK_TIMEOUT =~ ^[0-9]+(ms|s)?$ ]] || die "HAPROXY_CHECK_TIMEOUT '$CHECK_TIMEOUT' is not a time (2s, 500ms)"
[ -z "$CHECK_PORT" ] || { [[ $CHECK_PORT =~ ^[0-9]+$ ]] && [ "$CHECK_PORT" -ge 1 ] &&
	[ "$CHECK_PORT" -le 65535 ]; } || die "HAPROXY_CHECK_PORT '$CHECK_PORT' is not a port"
[[ $RETRY_AFTER =~ ^[0-9]+$ ]] || die "HAPROXY_RETRY_AFTER '$RETRY_AFTER' is not a number of seconds"

# ---- the configuration -----------------------------------------------------
config() {
	local dir=$1 i=0
	cat <<EOF
# haproxy in front of partaged nodes (written by scripts/start-haproxy.sh;
# docs/scaling.md explains each choice)
global
EOF
	# no maxconn by default: haproxy derives it from the descriptor limit
	# (a fixed 20000 refuses to start where that limit is lower)
	[ -z "$MAXCONN" ] || printf '\tmaxconn %s\n' "$MAXCONN"
	cat <<EOF
	stats socket $dir/admin.sock mode 600 level admin

defaults
	mode http
	no log
	# X-Forwarded-For: the client's address, for the nodes' trusted_proxies
	option forwardfor
	# a request whose connection to a dead node fails goes to another one
	retries 3
	option redispatch 1
	timeout connect 5s
	# the request head must come in 30 s (slow-header clients)
	timeout http-request 30s
	timeout http-keep-alive 60s
	timeout queue 30s
	# inactivity, not duration: uploads and downloads may last for hours;
	# the reply to a big upload comes after its commit (hash, S3 copy)
	timeout client 10m
	timeout server 1h
	timeout client-fin 30s
	timeout server-fin 30s
	# a health check that gets no answer in this time failed (a node
	# whose every thread is busy is ejected, not waited for)
	timeout check $CHECK_TIMEOUT
	# every node down: haproxy's own 503, with Retry-After as partaged's
	http-error status 503 content-type "text/plain; charset=utf-8" hdr Retry-After $RETRY_AFTER string "service unavailable: no node can answer now, retry in $RETRY_AFTER s"

frontend partage
	bind $BIND:$PORT
EOF
	if [ "$PER_IP" -gt 0 ]; then
		cat <<EOF
	# connections per client address, counted here for all nodes at once
	stick-table type ipv6 size 1m expire 10m store conn_cur
	tcp-request connection track-sc0 src
	tcp-request connection reject if { sc0_conn_cur gt $PER_IP }
EOF
	fi
	cat <<EOF
	default_backend partaged

backend partaged
	# affinity by client address: per-node limits become global, and
	# consistent hashing moves only a failed node's clients elsewhere
	balance source
	hash-type consistent
	option httpchk
	http-check send meth GET uri /healthz
	http-check expect status 200
	default-server check inter $INTER fall 3 rise 2${CHECK_PORT:+ port $CHECK_PORT}
	# a request sent on a kept-alive connection to a node that has just
	# died gets no answer (502): send it to another node when it is safe
	# to repeat (GET, HEAD, OPTIONS: a tus client's HEAD after a node's
	# death must find its upload, not a 502 that makes it start over)
	retry-on conn-failure empty-response
	http-request disable-l7-retry unless METH_GET || METH_OPTIONS
EOF
	for n in "${NODES[@]}"; do
		i=$((i + 1))
		echo "	server node$i $n"
	done
	if [ -n "$STATS" ]; then
		cat <<EOF

listen stats
	bind $BIND:$STATS
	stats enable
	stats uri /
	stats refresh 5s
EOF
	fi
}

if [ "$MODE" = print ]; then
	config "$(realpath -m "$DIR")"
	exit 0
fi

install_haproxy
# each connection costs haproxy two descriptors (client and node side); it
# refuses to start when the hard limit cannot hold maxconn of them
hard=$(ulimit -Hn)
if [ -n "$MAXCONN" ] && [[ $hard =~ ^[0-9]+$ ]] && [ "$MAXCONN" -gt $(((hard - 200) / 2)) ]; then
	MAXCONN=$(((hard - 200) / 2))
	say "maxconn lowered to $MAXCONN (descriptor limit $hard)"
fi
mkdir -p "$DIR"
DIR=$(realpath "$DIR")
CFG=$DIR/haproxy.cfg
PIDF=$DIR/haproxy.pid
config "$DIR" >"$CFG.tmp"
haproxy -c -q -f "$CFG.tmp" >&2 || die "haproxy refuses the configuration in $CFG.tmp"
mv "$CFG.tmp" "$CFG"

if [ "$MODE" = foreground ]; then
	say "haproxy on $BIND:$PORT in front of ${NODES[*]} (foreground, $CFG)"
	exec haproxy -db -f "$CFG"
fi

old=
if [ -s "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; then
	old=$(cat "$PIDF")
fi
if [ -n "$old" ]; then
	haproxy -D -f "$CFG" -p "$PIDF" -sf "$old"
else
	haproxy -D -f "$CFG" -p "$PIDF"
fi

# ready when the frontend accepts connections
for _ in $(seq 1 100); do
	if (exec 3<>"/dev/tcp/$BIND/$PORT") 2>/dev/null; then
		say "haproxy on $BIND:$PORT in front of ${NODES[*]} (pid $(cat "$PIDF"), $CFG)"
		echo "http://$BIND:$PORT"
		exit 0
	fi
	sleep 0.1
done
die "haproxy did not listen on $BIND:$PORT within 10 s"
