#!/usr/bin/env bash
# install-deps.sh — install every Debian package that partage's build, tests,
# static analysis (make analyze, make format-check) and benchmarks need.
# Idempotent: installs only what is missing.
set -euo pipefail
pkgs=(
  build-essential pkg-config clang libclang-rt-14-dev
  libmicrohttpd-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libssl-dev
  libsodium-dev libjansson-dev libmagic-dev libmagic-mgc libarchive-dev
  libinih-dev libcmocka-dev libdeflate-dev zlib1g-dev
  curl wget aria2 python3 sqlite3 file util-linux unzip
  cppcheck clang-tools clang-format
)
[ "${PARTAGE_BENCH:-0}" = 1 ] && pkgs+=(nginx-light wrk)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
