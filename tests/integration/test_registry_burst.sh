#!/usr/bin/env bash
# test_registry_burst.sh: 10,000 connection claims in one burst through a real redis-registry and
# a real redis-server complete, every one of them lands in Redis, and the registry pipelines
# them (far fewer Redis round trips than claims). The time is reported, not asserted beyond a
# generous bound (shared machine): the figures live in bench/README.md (bench/bench_registry_burst.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit

start_redis
CORES=2 start_registry pod-a
drv pod-a burst 10000 B
line="$(expect_line 130 pod-a '^burst(-timeout)? B 10000 ')"
case "$line" in burst-timeout*) fail "$line" ;; esac
[ "$(rcli SCARD 'pod:{pod-a}:conns')" = 10000 ] || fail "pod-a's set holds $(rcli SCARD 'pod:{pod-a}:conns')"
[ "$(rcli GET 'conn:{B9999}')" = pod-a ] || fail "conn:{B9999} missing"
trips="$(curl -sf "$(admin_url pod-a)/metrics" | awk '/^ocppgw_registry_redis_batch_seconds_count /{print $2}')"
[ "$trips" -lt 1000 ] || fail "$trips round trips for 10000 claims: not pipelined"
ok "10000 claims in ${line##* } ms, all in Redis, $trips pipelined round trips"
