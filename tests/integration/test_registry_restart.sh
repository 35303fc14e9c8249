#!/usr/bin/env bash
# test_registry_restart.sh: reconciliation between redis-registry and its cores (issue 12), with a
# real redis-server and a real redis-registry; `envelope-tool registry` plays the pod's two cores
# and re-registers their connections as ocpp-core does (DESIGN-12-13 "Instances").
#  1. the registry announces its instance to every core and the bridge, every second;
#  2. redis-registry alone is killed (SIGKILL) and started again with the same environment while
#     six connections stay open: on its new instance the cores re-register five of them with the
#     epoch each holds, and the registry re-asserts them (same epochs, nothing claimed afresh, no
#     device.disconnected); the sixth station disconnected while the registry was down (its
#     UNREGISTER never arrived): after reconcile_grace_ms its conn: mapping is released, with one
#     device.disconnected event;
#  3. core 0 restarts (a new instance): the connections it re-registers within the grace stay,
#     the one it does not is released with a device.disconnected ("ocpp-core restarted"); core 1's
#     registrations are untouched;
#  4. a mapping of this pod that no registration holds (left by anything) is released by the
#     periodic reconciliation, a newer owner's mapping never.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit
# the id of the registry's device.disconnected: SHA-256 of (type, identity, kind, epoch), 32 hex
disc_id() { printf 'device.disconnected\n%s\n%s\n%s' "$2" "$1" "$3" | sha256sum | cut -c1-32; }

start_redis
CORES=2 start_registry pod-a OCPPGW_RECONCILE_GRACE_MS=3s OCPPGW_RECONCILE_INTERVAL_MS=2s
expect_line 5 pod-a '^announce 0 registry 0 [0-9]+$' >/dev/null
expect_line 5 pod-a '^announce -1 registry 0 [0-9]+$' >/dev/null
inst1="$(grep -E '^announce 0 registry ' "$TMP/pod-a.drv" | tail -1 | cut -d' ' -f5)"
ok "the registry announces instance $inst1 to the cores and the bridge"

drv pod-a announce core 0 1000
drv pod-a announce core 1 1000
declare -A core epoch
for i in 1 2 3 4 5 6; do
  core[K$i]=$((i % 2))
  drv pod-a register "${core[K$i]}" "K$i" "$((10 + i))" accepted 0 1
done
for i in 1 2 3 4 5 6; do
  line="$(expect_line 5 pod-a "^registered ${core[K$i]} K$i $((10 + i)) [0-9]+ 0 ")"
  epoch[K$i]="$(echo "$line" | cut -d' ' -f5)"
done
ok "six connections registered (epochs ${epoch[*]})"

kill_registry pod-a
sleep 0.5
run_registry pod-a
inst_is_new() { [ "$(grep -E '^announce 0 registry ' "$TMP/pod-a.drv" | tail -1 | cut -d' ' -f5)" != "$inst1" ]; }
wait_until 10 "the new instance announced" inst_is_new
inst2="$(grep -E '^announce 0 registry ' "$TMP/pod-a.drv" | tail -1 | cut -d' ' -f5)"
[ "$inst2" -gt "$inst1" ] || fail "instance did not grow: $inst1 -> $inst2"
: >"$TMP/pod-a.drv.mark"
before="$(wc -l <"$TMP/pod-a.drv")"
drv pod-a announce core 0 1000 # the cores did not restart: their first instance for this registry
drv pod-a announce core 1 1000
for i in 1 2 3 4 5; do # K6 went while the registry was down
  drv pod-a register "${core[K$i]}" "K$i" "$((10 + i))" accepted "${epoch[K$i]}" 1
done
for i in 1 2 3 4 5; do
  expect_line 5 pod-a "^registered ${core[K$i]} K$i $((10 + i)) ${epoch[K$i]} 0 " >/dev/null
  [ "$(rcli HGET "{conn:K$i}:meta" epoch)" = "${epoch[K$i]}" ] || fail "K$i epoch changed in Redis"
done
ok "registry killed and restarted (instance $inst1 -> $inst2): the cores' five connections re-asserted with their epochs"

wait_until 10 "K6's mapping released" key_is 'conn:K6' EXISTS 0
for i in 1 2 3 4 5; do
  [ "$(rcli GET "conn:K$i")" = pod-a ] || fail "K$i lost its mapping"
done
tail -n +"$((before + 1))" "$TMP/pod-a.drv" | grep '^event ' >"$TMP/events1" || true
[ "$(wc -l <"$TMP/events1")" = 1 ] || fail "expected one event, got: $(cat "$TMP/events1")"
grep -q "^event ocpp-events-up K6 .*\"id\":\"$(disc_id released K6 "${epoch[K6]}")\".*no connection on this pod" "$TMP/events1" ||
  fail "K6's event: $(cat "$TMP/events1")"
[ "$(rcli SISMEMBER 'pod:{pod-a}:conns' K6)" = 0 ] || fail "K6 still in the pod's set"
ok "after reconcile_grace_ms the mapping of the station that left meanwhile is released, one device.disconnected"

# core 0 restarts: K2 and K4 are its connections (i % 2 == 0); only K2 comes back
before="$(wc -l <"$TMP/pod-a.drv")"
drv pod-a announce core 0 "$(date +%s%6N)"
drv pod-a register 0 K2 12 accepted "${epoch[K2]}" 1
expect_line 5 pod-a "^registered 0 K2 12 ${epoch[K2]} 0 " >/dev/null
wait_until 10 "K4 released" key_is 'conn:K4' EXISTS 0
sleep 0.5
for k in K1 K2 K3 K5; do
  [ "$(rcli GET "conn:$k")" = pod-a ] || fail "$k lost its mapping"
done
tail -n +"$((before + 1))" "$TMP/pod-a.drv" | grep '^event ' >"$TMP/events2" || true
[ "$(wc -l <"$TMP/events2")" = 1 ] || fail "expected one event, got: $(cat "$TMP/events2")"
grep -q "^event ocpp-events-up K4 .*ocpp-core restarted" "$TMP/events2" || fail "K4's event: $(cat "$TMP/events2")"
ok "core 0 restarted: K2 re-registered and kept, K4 released with device.disconnected; core 1's K1, K3, K5 untouched"

# a mapping of pod-a nobody holds, and one of K7 that pod-b took meanwhile
rcli SET 'conn:K8' pod-a >/dev/null
rcli SET '{conn:K8}:epoch' 77 >/dev/null
rcli SADD 'pod:{pod-a}:conns' K8 K9 >/dev/null
rcli SET 'conn:K9' pod-b >/dev/null
rcli SET '{conn:K9}:epoch' 99 >/dev/null
wait_until 10 "K8 released by the reconciliation" key_is 'conn:K8' EXISTS 0
wait_until 5 "K9 out of pod-a's set" sh -c "[ \"\$(redis-cli ${RCLI_CLUSTER[*]} -p $REDIS_PORT SISMEMBER 'pod:{pod-a}:conns' K9)\" = 0 ]"
[ "$(rcli GET 'conn:K9')" = pod-b ] || fail "pod-b's mapping of K9 touched"
grep -q "\"id\":\"$(disc_id released K8 77)\"" "$TMP/pod-a.drv" || fail "no event for K8"
! grep -q '^event ocpp-events-up K9 ' "$TMP/pod-a.drv" || fail "an event for K9"
m="$(curl -sf "$(admin_url pod-a)/metrics")"
echo "$m" | grep -q '^ocppgw_registry_reconcile_released_total{why="reconcile"} 2$' || fail "reconcile count: $(echo "$m" | grep reconcile)"
echo "$m" | grep -q '^ocppgw_registry_reconcile_released_total{why="core_restart"} 1$' || fail "core restart count"
ok "the periodic reconciliation released pod-a's orphan mapping K8 and left pod-b's K9 alone"
