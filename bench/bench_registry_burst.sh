#!/usr/bin/env bash
# bench_registry_burst.sh: how long a burst of N connection claims takes through a real
# redis-registry against a real redis-server, and what it costs Redis (issue 7).
# `envelope-tool registry` (through tests/integration/registry_lib.sh) stands in for the pod's
# cores: it pushes N REGISTER envelopes as fast as the registry takes them and stops the clock
# when the N-th REGISTERED came back. Each claim is one EVALSHA of the claim script (INCR epoch,
# SET owner, HSET meta, SADD pod set), pipelined: every batch the registry drains from its
# socket is one round trip.
#   bench/bench_registry_burst.sh [N=10000] [ROUNDS=3]
# Prints per round: wall time, claims/s, Redis CPU seconds used, pipelined round trips.
set -euo pipefail
N="${1:-10000}"
ROUNDS="${2:-3}"
source "$(dirname "$0")/../tests/integration/lib.sh"
source "$(dirname "$0")/../tests/integration/registry_lib.sh"
itest_cleanup_on_exit

redis_cpu() {
  rcli INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/{s+=$2} END{printf "%.3f", s}'
}
batches() {
  curl -sf "$(admin_url bench-pod)/metrics" | awk '/^ocppgw_registry_redis_batch_seconds_count /{print $2}'
}

start_redis
CORES=4 start_registry bench-pod
echo "redis-server $(redis-server --version | grep -o 'v=[0-9.]*'), $(nproc) cores, $(date -u +%FT%TZ)"
for r in $(seq 1 "$ROUNDS"); do
  cpu0="$(redis_cpu)"; b0="$(batches)"
  drv bench-pod burst "$N" "R${r}-"
  line="$(expect_line 150 bench-pod "^burst(-timeout)? R${r}- $N ")"
  case "$line" in burst-timeout*) fail "round $r: $line" ;; esac
  ms="${line##* }"
  cpu1="$(redis_cpu)"; b1="$(batches)"
  awk -v n="$N" -v ms="$ms" -v c0="$cpu0" -v c1="$cpu1" -v b="$((b1 - b0))" -v r="$r" \
    'BEGIN{printf "round %d: %d claims in %d ms = %.0f claims/s; redis cpu %.3f s (%.1f us/claim); %d round trips\n", r, n, ms, n*1000/(ms>0?ms:1), c1-c0, (c1-c0)*1e6/n, b}'
done
echo "keys in redis: $(rcli DBSIZE)"
