#!/usr/bin/env bash
# test_registry_outage.sh: Redis outages with a real redis-server and a real redis-registry
# (issue 7).
#  1. 200 live registrations; redis-server is killed: lookups and de-dup checks are answered at
#     once with status -EAGAIN (-11), /readyz stays ready (Redis down never makes the pod unready)
#     while ocppgw_registry_redis_up says 0, new registrations queue and, past queue_limit, every
#     core is told REGISTRY_BUSY;
#  2. redis-server restarts EMPTY on the same port: within a few seconds every live connection
#     (the 200 and the ones that arrived meanwhile) is registered again with a fresh epoch, higher
#     than any epoch handed out before the restart; cores are told the registry is no longer busy;
#     registry_redis_up is 1 again and the metrics count the reconnect and the degraded seconds.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit

start_redis
CORES=2 start_registry pod-a OCPPGW_QUEUE_LIMIT=100
drv pod-a burst 200 L
line="$(expect_line 20 pod-a '^burst L 200 ')"
[ "$(rcli EXISTS 'conn:L0' 'conn:L199')" = 2 ] || fail "burst not in Redis"
old_epoch="$(rcli HGET '{conn:L7}:meta' epoch)"
curl -sf "$(admin_url pod-a)/metrics" >"$TMP/a.metrics" # (grep -q in a pipe: SIGPIPE under pipefail)
grep -q '^ocppgw_registry_redis_up 1$' "$TMP/a.metrics" || fail "redis_up not 1 on a healthy registry"
ok "200 registrations in Redis (${line##* } ms), ocppgw_registry_redis_up 1"

kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
drv pod-a lookup 1 L7
expect_line 5 pod-a '^owner 1 L7 - 0 0 -11$' >/dev/null
drv pod-a dedup 2 cmd-x 1000
expect_line 5 pod-a '^dedup_result 2 cmd-x 0 -11$' >/dev/null
ok "Redis down: lookup and dedup answered at once with -EAGAIN"
wait_until 5 "ocppgw_registry_redis_up 0" sh -c "curl -s '$(admin_url pod-a)/metrics' | grep -q '^ocppgw_registry_redis_up 0$'"
curl -sf "$(admin_url pod-a)/readyz" >/dev/null || fail "/readyz not ready while Redis is down: $(curl -s "$(admin_url pod-a)/readyz")"
ok "/readyz stays ready ($(curl -s "$(admin_url pod-a)/readyz" | tr -d '\n')); ocppgw_registry_redis_up 0"

for i in $(seq 0 119); do drv pod-a register "$((i % 2))" "N$i" "$((500 + i))" none; done
expect_line 5 pod-a '^busy 0 1 [0-9]+ 100 0$' >/dev/null
expect_line 5 pod-a '^busy 1 1 [0-9]+ 100 0$' >/dev/null
ok "120 new registrations queued past queue_limit=100: both cores told busy"

sleep 1.2 # at least a second of degraded time to count
t0="$(date +%s%3N)"
start_redis # same port, empty
wait_until 10 "every registration back" sh -c \
  "[ \"\$(redis-cli -p $REDIS_PORT EVAL \"local n=0 for i=0,199 do n=n+redis.call('EXISTS','conn:L'..i..'') end for i=0,119 do n=n+redis.call('EXISTS','conn:N'..i..'') end return n\" 0)\" = 320 ]"
took=$(($(date +%s%3N) - t0))
[ "$(rcli GET 'conn:L7')" = pod-a ] || fail "L7 not re-registered to pod-a"
new_epoch="$(rcli HGET '{conn:L7}:meta' epoch)"
[ "$new_epoch" -gt "$old_epoch" ] || fail "epoch went backwards: $old_epoch -> $new_epoch"
ok "redis restarted empty: all 320 live connections registered again within ${took} ms (epoch $old_epoch -> $new_epoch)"
expect_line 10 pod-a '^busy 0 0 [0-9]+ 100 1$' >/dev/null
expect_line 10 pod-a '^busy 1 0 [0-9]+ 100 1$' >/dev/null
ok "cores told the registry is no longer busy"
m="$(curl -sf "$(admin_url pod-a)/metrics")"
echo "$m" | grep -q '^ocppgw_registry_redis_up 1$' || fail "redis_up not back to 1"
echo "$m" | grep -q '^ocppgw_registry_redis_connects_total [2-9]' || fail "reconnect not counted"
echo "$m" | grep -q '^ocppgw_registry_degraded_seconds_total [1-9]' || fail "degraded time not counted"
echo "$m" | grep -q '^ocppgw_registry_queue_depth 0' || fail "queue not empty"
ok "Redis back; metrics: $(echo "$m" | grep -E '^ocppgw_registry_(redis_up|redis_connects_total|degraded_seconds_total) ' | tr '\n' ' ')"
