#!/usr/bin/env bash
# bench.sh: what `make bench` does (bench/README.md): the end-to-end benchmark first
# (bench/bench_e2e.sh: the pod against the Node peer and the bare-lws limit, tables and
# bench/results/<date>.md + .png), then every other bench/bench_*.sh (bench_downlink.sh appends
# its table to the same results file), the idle-connection one with
# the whole pod (BENCH_PIPELINE=full: Redis and kafka-dev running). Each prints its own time;
# BENCH_ONLY=<pattern> runs only the scripts whose name contains it.
set -uo pipefail
cd "$(dirname "$0")/.."
export BENCH_PIPELINE="${BENCH_PIPELINE:-full}"
# one results file per `make bench`: bench_e2e.sh writes it, bench_downlink.sh appends its table
export E2E_STAMP="${E2E_STAMP:-$(date -u +%Y-%m-%d-%H%M)}"
rc=0
start=$SECONDS
for b in bench/bench_e2e.sh $(ls bench/bench_*.sh | grep -v bench_e2e.sh); do
  case "$b" in *"${BENCH_ONLY:-}"*) ;; *) continue ;; esac
  echo "=== $b"
  t=$SECONDS
  "$b" || { echo "=== $b failed"; rc=1; }
  echo "=== $b: $((SECONDS - t)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
done
echo "=== make bench: $((SECONDS - start)) s in all"
exit $rc
