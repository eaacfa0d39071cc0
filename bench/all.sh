#!/usr/bin/env bash
# bench/all.sh — run every benchmark, one after the other.
set -euo pipefail
dir=$(dirname "$0")
"$dir/download.sh"
"$dir/upload.sh"
