#!/bin/sh
# install-tus-client.sh — install tus-js-client (npm) for the interop test
# tests/e2e/test_36_tus_client.py into tests/e2e/tus-client/node_modules.
# Idempotent: does nothing when the pinned version is there already.
# Needs node (>= 18) and npm; exits non-zero (and says why) without them.
set -eu
cd "$(dirname "$0")/../tests/e2e/tus-client"
want=$(node -e 'console.log(require("./package.json").dependencies["tus-js-client"])' 2>/dev/null) || {
	echo "install-tus-client: node is not installed" >&2
	exit 1
}
have=$(node -e 'console.log(require("./node_modules/tus-js-client/package.json").version)' 2>/dev/null || true)
if [ "$have" = "$want" ]; then
	echo "install-tus-client: tus-js-client $have already installed"
	exit 0
fi
command -v npm >/dev/null 2>&1 || {
	echo "install-tus-client: npm is not installed" >&2
	exit 1
}
npm install --no-package-lock --no-audit --no-fund --loglevel=error
node -e 'console.log("install-tus-client: tus-js-client " + require("./node_modules/tus-js-client/package.json").version + " installed")'
