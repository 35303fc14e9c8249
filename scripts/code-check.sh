#!/usr/bin/env bash
# code-check.sh: fail if regenerating the generated sources from proto/ would change them.
# Each generator writes into a temporary directory; the results are compared with the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 scripts/gen_envelope.py proto/envelope.json "$tmp/envelope.h" "$tmp/envelope.c"
status=0
for f in envelope.h envelope.c; do
  if ! cmp -s "$tmp/$f" "common/$f"; then
    echo "code-check: common/$f differs from what proto/envelope.json generates (run: make code)"
    diff -u "common/$f" "$tmp/$f" | head -20
    status=1
  fi
done
# the OCPP schema tables and the test examples come from proto/ocpp (clang-formatted like the tree)
python3 scripts/gen_ocpp_schema.py proto/ocpp "$tmp/ocpp_schema_data.c" "$tmp/ocpp_examples.json" 2>/dev/null
cp .clang-format "$tmp/" 2>/dev/null || true
clang-format -i "$tmp/ocpp_schema_data.c"
for pair in "ocpp_schema_data.c services/ocpp-core" "ocpp_examples.json tests/services/ocpp-core"; do
  set -- $pair
  if ! cmp -s "$tmp/$1" "$2/$1"; then
    echo "code-check: $2/$1 differs from what proto/ocpp generates (run: make code)"
    diff -u "$2/$1" "$tmp/$1" | head -20
    status=1
  fi
done
# docs/configuration.md comes from the services' configuration tables (built binaries)
BIN="${BUILD:-build}/bin"
if [ -x "$BIN/ws-edge" ]; then
  scripts/gen-config-doc.sh "$BIN" "$tmp/configuration.md"
  if ! cmp -s "$tmp/configuration.md" docs/configuration.md; then
    echo "code-check: docs/configuration.md is stale (run: scripts/gen-config-doc.sh $BIN docs/configuration.md)"
    diff -u docs/configuration.md "$tmp/configuration.md" | head -20
    status=1
  fi
fi
[ $status -eq 0 ] && echo "code-check: generated sources and docs up to date"
exit $status
