#!/usr/bin/env bash
# run.sh — the whole test suite: cmocka unit tests, then the end-to-end,
# interop and crash tests against the real binary (tests/e2e/run.py).
# Ends with one line "N passed, N failed".  Env: BIN (bin), BUILD (build),
# E2E_FILTER (substring of test names to run).
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}; BUILD=${BUILD:-build}
passed=0; failed=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  "$t" >"$log" 2>&1; rc=$?
  p=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  f=$(grep -oE '^\[  FAILED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$f" -ne 0 ]; then echo "unit: $(basename "$t"): FAILED"; cat "$log"
  else echo "unit: $(basename "$t"): $p passed"; fi
done

python3 tests/e2e/run.py --bin "$BIN" 2>&1 | tee "$log"
e=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
if [ -n "$e" ]; then
  passed=$((passed + $(echo "$e" | awk '{print $2}')))
  failed=$((failed + $(echo "$e" | awk '{print $4}')))
else
  echo "e2e: runner did not finish"; failed=$((failed + 1))
fi

bash tests/browser/run.sh --bin "$BIN" 2>&1 | tee "$log"
b=$(grep -E '^browser: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
if [ -n "$b" ]; then
  passed=$((passed + $(echo "$b" | awk '{print $2}')))
  failed=$((failed + $(echo "$b" | awk '{print $4}')))
elif ! grep -qE '^browser: skipped' "$log"; then
  echo "browser: runner did not finish"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
