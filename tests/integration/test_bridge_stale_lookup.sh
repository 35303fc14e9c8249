#!/usr/bin/env bash
# test_bridge_stale_lookup.sh: commands written to a dead pod's partition long after its takeover
# drained (a backend whose lookup is stale, issue 12). Two real pods, pod-a and pod-b, on one
# Redis and one kafka-dev; pod-c (partition 0 of 4) never runs: its lease is simply absent, and
# the registry's TAKEOVER for it is played to pod-a with `envelope-tool takeover` (the envelope
# the registry sends; test_bridge_failover.sh has a real registry take over a real dead pod).
#   drain     a first record on pod-c's partition is handled; pod-a says it drained and reads on
#             (no TAKEOVER_DONE while pod-c is dead)
#   delivered 8 s later, a command for a station connected to pod-b (cp-sim) is written to
#             pod-c's partition: pod-a still reads it and forwards it, pod-b delivers it, the
#             station executes it once, exactly one final result (accepted)
#   expired   one for a station connected nowhere: parked, then exactly one result, expired,
#             and its DLQ copy
#   stop      TAKEOVER active=false (pod-c back, or the claim lost): the reader stops, its
#             offsets are committed, TAKEOVER_DONE
# Env: BUILD. Exit 0 on success.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/registry_lib.sh
source "$(dirname "$0")/registry_lib.sh"
# shellcheck source=tests/integration/bridge_lib.sh
source "$(dirname "$0")/bridge_lib.sh"
itest_cleanup_on_exit
command -v kcat >/dev/null || fail "kcat not installed"

start_backends
export OCPPGW_COMMAND_PARK_BACKOFF_MS=200 OCPPGW_COMMAND_PARK_BACKOFF_MAX_MS=1000

start_pod pod-a
PA=$POD_PID
start_pod pod-b
PB=$POD_PID
WSB=$WS_PORT

bad() {
  bridge_logs pod-a pod-b
  fail "$*"
}

# one 1.6 station on pod-b
"$BIN/cp-sim" --url "ws://127.0.0.1:$WSB/ocpp" --source_addresses 127.0.0.2-127.0.0.3 --count 1 \
  --identity_prefix STL --v201_percent 0 --duration_ms 120s --heartbeat_interval_ms 5s \
  --session_every_ms 0 --log_file "$TMP/sim.log" --progress off >"$TMP/sim.txt" 2>&1 &
SIM=$!
wait_until 20 "STL000001 on pod-b" bash -c "[ \"\$(redis-cli -p $RPORT GET 'conn:STL000001')\" = pod-b ]"
ok "station STL000001 connected to pod-b"

# drain ------------------------------------------------------------------------------------
put pod-c '{"command_id":"s-first","cp_id":"CP-GONE","action":"reset","target_pod":"pod-c","ttl_ms":1000}'
"$TBIN/envelope-tool" takeover "$TMP/pod-a/ipc" pod-c 7 1
wait_until 15 "s-first expired by the taker" has command-results '"command_id":"s-first"'
wait_until 15 "pod-c drained" in_log pod-a "pod pod-c drained (epoch 7): reading on"
ok "pod-a took pod-c over and drained its partition"

# delivered, long after the drain -----------------------------------------------------------
sleep 8
in_log pod-a "TAKEOVER_DONE" && bad "TAKEOVER_DONE while pod-c is dead"
put pod-c '{"command_id":"s-late","cp_id":"STL000001","action":"ClearCache","payload":{},"target_pod":"pod-c","ttl_ms":60000}'
put pod-c '{"command_id":"s-nowhere","cp_id":"CP-NOWHERE","action":"reset","target_pod":"pod-c","ttl_ms":3000}'
wait_until 20 "the result of s-late" has command-results '"command_id":"s-late"'
grep -F '"command_id":"s-late"' <<<"$(topic command-results)" | grep -qF '"status":"accepted"' ||
  bad "s-late not accepted: $(topic command-results | grep -F s-late)"
in_log pod-a "command s-late for STL000001 forwarded to pod pod-b" || bad "pod-a did not forward s-late"
ok "a command written 8 s after the drain was read by the taker, forwarded, delivered, accepted"
wait_until 20 "the result of s-nowhere" has command-results '"command_id":"s-nowhere"'
grep -F '"command_id":"s-nowhere"' <<<"$(topic command-results)" | grep -qF '"status":"expired"' ||
  bad "s-nowhere not expired"
wait_until 10 "the DLQ copy of s-nowhere" has commands-dlq '"command_id":"s-nowhere"'
ok "a command for a station connected nowhere: parked, then expired with its DLQ copy"

# exactly once -----------------------------------------------------------------------------
sleep 3 # a second result would come now
for id in s-first s-late s-nowhere; do
  n=$(topic command-results | grep -cF "\"command_id\":\"$id\"" || true)
  [ "$n" -eq 1 ] || bad "$id has $n results (want 1)"
done
kill -TERM "$SIM"
wait "$SIM" || true
n=$(grep -c '^D 0 STL000001 ClearCache' "$TMP/sim.log" || true)
[ "$n" -eq 1 ] || bad "the station executed s-late $n times (want 1)"
ok "exactly one final result each; the station executed s-late once"

# stop -------------------------------------------------------------------------------------
"$TBIN/envelope-tool" takeover "$TMP/pod-a/ipc" pod-c 7 0
wait_until 15 "TAKEOVER_DONE" in_log pod-a "orphan takeover of pod pod-c (epoch 7) over: TAKEOVER_DONE"
ok "TAKEOVER active=false: the reader stopped, TAKEOVER_DONE"
stop_pod "$PB"
stop_pod "$PA"
echo "test_bridge_stale_lookup: all passed"
