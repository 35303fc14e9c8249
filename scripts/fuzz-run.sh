#!/usr/bin/env bash
# fuzz-run.sh: run each libFuzzer driver for FUZZ_SECONDS (default 60) on a scratch copy of its
# committed seed corpus (fuzz/corpus/<name>/), so new inputs do not pollute the repository.
# A crash leaves its reproducer in build/fuzz/artifacts/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-60}"
mkdir -p build/fuzz/artifacts
status=0
for bin in "$@"; do
  name="$(basename "$bin")"
  corpus="fuzz/corpus/${name#fuzz_}"
  work="$(mktemp -d)"
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  echo "fuzz: $name for ${secs}s (seeds: $(ls "$work" | wc -l))"
  if ! "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/ \
      "$work" >"build/fuzz/$name.log" 2>&1; then
    echo "fuzz: $name FAILED, see build/fuzz/$name.log and build/fuzz/artifacts/"
    status=1
  fi
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "build/fuzz/$name.log" | sed "s/^/fuzz: $name /"
  rm -rf "$work"
done
exit $status
