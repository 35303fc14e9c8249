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
[ $status -eq 0 ] && echo "code-check: generated sources up to date"
exit $status
