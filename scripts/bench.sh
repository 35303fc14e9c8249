#!/usr/bin/env bash
# bench.sh: runs every bench/bench_*.sh (what `make bench` does); see bench/README.md.
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
for b in bench/bench_*.sh; do
  echo "=== $b"
  "$b" || rc=1
done
exit $rc
