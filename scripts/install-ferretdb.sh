#!/usr/bin/env bash
# Builds FerretDB v1.24.2 (a MongoDB wire-protocol server over SQLite) for the MongoDB store tests.
# Idempotent: skips the build when the binary already exists. Needs Go and the Go module proxy.
#
# A plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` builds a binary that
# panics at start-up: the module zip lacks the generated build/version/version.txt. So the
# module's source is downloaded with `go mod download`, copied, given that file, and built.
set -euo pipefail
cd "$(dirname "$0")/.."
version=v1.24.2
out="$PWD/.servers/bin"
mkdir -p "$out"
if [ -x "$out/ferretdb" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "go not found: cannot build FerretDB; the MongoDB store tests will skip"
  exit 0
fi
echo "building FerretDB $version (takes a few minutes the first time)"
src=$(cd /tmp && GOFLAGS= go mod download -json "github.com/FerretDB/FerretDB@$version" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$src" ] && [ -d "$src" ] || { echo "go mod download did not give a source dir"; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -R "$src" "$work/ferretdb"
chmod -R u+w "$work/ferretdb"
echo "$version" > "$work/ferretdb/build/version/version.txt"
(cd "$work/ferretdb" && GOFLAGS=-mod=mod go build -trimpath -o "$out/ferretdb.tmp" ./cmd/ferretdb)
mv "$out/ferretdb.tmp" "$out/ferretdb"
