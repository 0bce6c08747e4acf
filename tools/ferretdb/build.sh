#!/usr/bin/env bash
# The embedded database: FerretDB v1.24.2 from the Go module proxy, with our
# SQLite index-pushdown patch (sqlite-pushdown.patch) applied to a copy of the
# module.
#   build.sh <output binary>   builds our command (main.go) against the patched copy
#   build.sh --test            runs FerretDB's own tests of the patched packages and ours
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODULE=github.com/FerretDB/FerretDB
VERSION=v1.24.2
# sha256 of the sha256sum lines of the files the patch changes, as published:
# another source (a re-tagged version, an edited module cache) is not patched.
SOURCE_SHA=1e3dd99be510a95336ccf75ace2359a52bacd426d6b23996588c346b798c579e
PATCHED_FILES="internal/backends/collection.go internal/backends/sqlite/collection.go internal/handler/msg_count.go internal/handler/msg_find.go internal/backends/decorators/oplog/collection.go internal/handler/msg_explain.go"
TEST_PACKAGES="./internal/backends/sqlite/... ./internal/backends/decorators/... ./internal/handler/ ./internal/handler/common/"

cd "$HERE"
# Downloads the module if needed; Go checks it against go.sum.
src="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
if [ -z "$src" ] || [ ! -d "$src" ]; then echo "cannot find $MODULE@$VERSION in the module cache" >&2; exit 1; fi
got="$(cd "$src" && sha256sum $PATCHED_FILES | sha256sum | cut -d' ' -f1)"
if [ "$got" != "$SOURCE_SHA" ]; then
  echo "$MODULE@$VERSION: source checksum $got, expected $SOURCE_SHA; not patching an unknown version" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/FerretDB"
chmod -R u+w "$work/FerretDB"
patch --quiet -p1 -d "$work/FerretDB" < "$HERE/sqlite-pushdown.patch"

if [ "${1:-}" = "--test" ]; then
  cd "$work/FerretDB"
  # What FerretDB's test helpers expect of a git checkout of theirs.
  mkdir -p .git && echo "$VERSION" > build/version/version.txt
  # With upstream's debug tag, as their own test task runs them (some tests check debug builds).
  go test -count=1 -tags=ferretdb_debug $TEST_PACKAGES
  # The backend contract tests run every backend, PostgreSQL's and MySQL's servers included:
  # -short compiles them and runs what needs no server.
  go test -count=1 -tags=ferretdb_debug -short ./internal/backends/
  exit 0
fi

out="$1"
mkdir "$work/main"
cp "$HERE"/*.go "$HERE/go.mod" "$HERE/go.sum" "$work/main/"
cd "$work/main"
go mod edit -replace "$MODULE=../FerretDB"
go build -trimpath -o "$out" .
