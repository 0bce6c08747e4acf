#!/usr/bin/env bash
# The whole test suite: install what is missing, then lint, format check,
# type check and Jest against a real Temporal dev server, the time-skipping
# server and a real MongoDB-compatible database (started and stopped by Jest).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/install.sh --with-browser

echo "[test] eslint" >&2
npx eslint --max-warnings 0 .
echo "[test] prettier --check" >&2
npx prettier --check --log-level warn .
echo "[test] tsc" >&2
npx tsc -p tsconfig.json

# Whatever a crashed Jest leaves behind (the servers its global setup started) is killed here.
export OTA_TEST_PID_FILE="$(mktemp)"
cleanup() {
  if [ -s "$OTA_TEST_PID_FILE" ]; then xargs -r kill -9 < "$OTA_TEST_PID_FILE" 2>/dev/null || true; fi
  rm -f "$OTA_TEST_PID_FILE"
}
trap cleanup EXIT

echo "[test] jest" >&2
ci_flags=()
if [ -n "${CI:-}" ]; then ci_flags+=(--ci); fi
results="$(mktemp)"
status=0
npx jest "${ci_flags[@]}" --json --outputFile="$results" "$@" || status=$?
# One plain closing line, the same for every runner that reads this output.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const failed = r.numFailedTests + r.numRuntimeErrorTestSuites;
  console.log(`jest: ${r.numPassedTests} passed, ${failed} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$results" 2>/dev/null || echo "jest: 0 passed, 1 failed (Jest wrote no results)"
rm -f "$results"
exit "$status"
