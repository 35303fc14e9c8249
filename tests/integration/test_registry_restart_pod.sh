#!/usr/bin/env bash
# test_registry_restart_pod.sh: redis-registry alone frozen (SIGSTOP), then killed (SIGKILL) and
# started again by the pod's supervisor with the same environment (OCPPGW_RESTART_STAGES=1 of
# scripts/run.sh: what the kubelet does to one container; issue 12), while cp-sim stations stay
# connected:
#  - the table is rebuilt from the cores (each re-registers its connections with the epochs they
#    hold when it hears the registry's new instance): every connected station keeps its mapping,
#    with the same epoch (re-asserted, not claimed afresh), and no station notices (no timeout,
#    no reconnect);
#  - stations that disconnected while the registry was down have no conn: mapping left after the
#    reconcile grace (their UNREGISTER reached the new registry, or the reconciliation released
#    the mapping nobody holds).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

export OCPPGW_RECONCILE_GRACE_MS=4s OCPPGW_RECONCILE_INTERVAL_MS=5s OCPPGW_RESTART_STAGES=1
start_pod itest-rr
export OCPPGW_REDIS_URL="$REDIS_URL"
sim() { # sim PREFIX COUNT DURATION
  "$BIN/cp-sim" --url "ws://127.0.0.1:$WS_PORT/ocpp" --source_addresses 127.0.0.2-127.0.0.3 \
    --count "$2" --identity_prefix "$1" --v201_percent 50 --duration_ms "$3" --drain_ms 0s \
    --heartbeat_interval_ms 1s --session_every_ms 0 --call_timeout_ms 5s --progress off \
    >"$TMP/$1.txt" 2>&1
}
epochs() { # epochs PREFIX COUNT: "identity owner epoch" lines
  local i id
  for i in $(seq 1 "$2"); do
    id="$1$(printf %06d "$i")"
    echo "$id $(redis-cli -u "$REDIS_URL" GET "conn:$id") $(redis-cli -u "$REDIS_URL" GET "{conn:$id}:epoch")"
  done
}
all_mapped() { [ "$(epochs "$1" "$2" | grep -c " itest-rr ")" = "$2" ]; }
none_mapped() { [ "$(epochs "$1" "$2" | grep -c " itest-rr ")" = 0 ]; }

sim STAY 20 40s &
stay=$!
sim LEAVE 5 10s &
leave=$!
# (LEAVE first: its stations go after 10 s of their own, and must be seen registered before;
# 50 redis-cli per look at STAY take a while on a loaded machine)
wait_until 20 "LEAVE registered" all_mapped LEAVE 5
wait_until 20 "STAY registered" all_mapped STAY 20
epochs STAY 20 >"$TMP/before"
ok "25 stations connected and registered"

reg="$(pgrep -P "$POD_PID" -x redis-registry)"
[ -n "$reg" ] || fail "no redis-registry child of the pod"
kill -STOP "$reg"     # what the LEAVE stations' core says meanwhile dies with this instance
wait "$leave" || true # the LEAVE stations go while the registry is frozen
kill -KILL "$reg"
restarted() { local p; p="$(pgrep -P "$POD_PID" -x redis-registry)" && [ "$p" != "$reg" ]; }
wait_until 10 "redis-registry started again by the pod" restarted
ok "redis-registry frozen; the 5 LEAVE stations disconnected meanwhile; killed and started again by the pod"

wait_until 15 "LEAVE mappings released" none_mapped LEAVE 5
epochs STAY 20 >"$TMP/after"
diff "$TMP/before" "$TMP/after" >/dev/null || fail "STAY mappings changed: $(diff "$TMP/before" "$TMP/after")"
grep -q 'registry restarted (instance' "$TMP"/itest-rr/log/ocpp-core-*.log || fail "no core saw the new registry instance"
regs="$(curl -sf "http://127.0.0.1:$(sed -n 's/.*admin: registry :\([0-9]*\),.*/\1/p' "$POD_OUT" | head -1)/metrics" |
  sed -n 's/^ocppgw_registry_registrations //p')"
[ "$regs" = 20 ] || fail "the restarted registry holds $regs registrations"
ok "table rebuilt from the cores (20 registrations), every STAY mapping kept with its epoch, no LEAVE mapping left"

wait "$stay" || fail "cp-sim STAY: $(cat "$TMP/STAY.txt")"
grep -q 'errors: none' "$TMP/STAY.txt" || fail "STAY: $(grep error "$TMP/STAY.txt")"
grep -q 'connect attempts 20$' "$TMP/STAY.txt" || fail "STAY reconnected: $(grep connections "$TMP/STAY.txt")"
ok "no connected station noticed (no timeout, no reconnect)"
