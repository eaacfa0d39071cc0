#!/usr/bin/env bash
# install-deps.sh — install every Debian package that partage's build, tests,
# static analysis (make analyze, make format-check) and benchmarks need.
# Idempotent: installs only what is missing.
#   scripts/install-deps.sh            install what is missing
#   scripts/install-deps.sh --missing  print what is missing, install nothing
# Waits up to PARTAGE_APT_LOCK_TIMEOUT seconds (default 120) for a package
# lock held by another process (unattended-upgrades, another apt), then
# fails.  Exits 0 when everything is installed, 1 with the reason on stderr
# otherwise (no root nor sudo, a lock still held, apt failing).
set -uo pipefail
pkgs=(
  build-essential pkg-config clang libclang-rt-14-dev
  libmicrohttpd-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libssl-dev
  libsodium-dev libjansson-dev libmagic-dev libmagic-mgc libarchive-dev
  libinih-dev libcmocka-dev libdeflate-dev zlib1g-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libseccomp-dev ffmpeg
  libqrencode-dev
  curl wget aria2 python3 sqlite3 file util-linux unzip clamav-daemon
  cppcheck clang-tools clang-format
)
[ "${PARTAGE_BENCH:-0}" = 1 ] && pkgs+=(nginx-light wrk gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${1:-}" = --missing ]; then
  [ ${#missing[@]} -eq 0 ] || echo "${missing[*]}"
  exit 0
fi
[ ${#missing[@]} -eq 0 ] && exit 0

fail() { echo "install-deps: $*" >&2; echo "install-deps: missing: ${missing[*]}" >&2; exit 1; }
command -v apt-get >/dev/null || fail "no apt-get: not a Debian system; install the packages by hand"
sudo=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || fail "not root and no sudo: run this script as root"
  sudo=sudo
fi
lock=${PARTAGE_APT_LOCK_TIMEOUT:-120}
case $lock in ''|*[!0-9]*) fail "PARTAGE_APT_LOCK_TIMEOUT='$lock' is not a number of seconds" ;; esac
# DPkg::Lock::Timeout: wait for the dpkg and lists locks instead of failing
# at once, but not forever
apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -o "DPkg::Lock::Timeout=$lock")
echo "install-deps: installing ${missing[*]}" >&2
# apt-get update ignores that timeout for the lists lock: try again while
# the failure is a held lock, until the same deadline
deadline=$(( $(date +%s) + lock ))
while :; do
  err=$("${apt[@]}" update -qq 2>&1 >/dev/null); rc=$?
  [ $rc -eq 0 ] && break
  if ! grep -q 'Could not get lock' <<<"$err" || [ "$(date +%s)" -ge "$deadline" ]; then
    echo "$err" >&2
    fail "'apt-get update' failed (exit $rc)$(grep -q 'Could not get lock' <<<"$err" && echo ": a package lock still held after ${lock} s")"
  fi
  sleep 2
done
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || fail "'apt-get install' failed (exit $?; the reason is above)"
exit 0
