#!/usr/bin/env bash
# install-browser.sh — what the browser tests (tests/browser) need: Debian's
# chromium and playwright-core from npm into tests/browser/node_modules.
# Idempotent; never downloads a browser build of its own (the tests drive
# /usr/bin/chromium).  Exit 0 when both are there, non-zero otherwise.
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if [ ! -x /usr/bin/chromium ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  if ! $SUDO apt-get install -y -q --no-install-recommends chromium; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends chromium
  fi
fi

if [ ! -f tests/browser/node_modules/playwright-core/package.json ] ||
   [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
  command -v npm >/dev/null || { echo "install-browser: npm not found" >&2; exit 1; }
  cd tests/browser
  # Playwright must never fetch its own browser builds.
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    npm install --no-package-lock --no-audit --no-fund --loglevel=error
  fi
fi
