#!/usr/bin/env bash
# run.sh — the browser tests (tests/browser/run.mjs): Debian's chromium driven
# by playwright-core against the real partaged.
#
#     tests/browser/run.sh [--bin DIR] [more run.mjs options]
#
# Installs what is missing first (scripts/install-browser.sh, quietly).  Ends
# with "browser: N passed, N failed", or "browser: skipped (reason)" and exit 0
# when chromium, node or playwright-core cannot be had on this machine.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

ready() {
  [ -x /usr/bin/chromium ] && command -v node >/dev/null &&
    [ -f tests/browser/node_modules/playwright-core/package.json ] &&
    [ -f tests/browser/node_modules/axe-core/axe.min.js ]
}
if ! ready; then
  ilog=$(mktemp)
  if ! scripts/install-browser.sh >"$ilog" 2>&1; then
    echo "browser: install-browser.sh failed: $(grep -v '^\s*$' "$ilog" | tail -1)"
  fi
  rm -f "$ilog"
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "browser: skipped (chromium cannot be installed)"; exit 0
fi
if ! command -v node >/dev/null; then
  echo "browser: skipped (node is not installed)"; exit 0
fi
if [ ! -f tests/browser/node_modules/playwright-core/package.json ]; then
  echo "browser: skipped (playwright-core cannot be installed from npm)"; exit 0
fi
if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)'; then
  echo "browser: skipped (node $(node --version) is older than 18)"; exit 0
fi

exec node tests/browser/run.mjs --bin "$BIN" ${args[@]+"${args[@]}"}
