#!/usr/bin/env bash
# test_cloudevents_sdk.sh: the npm `cloudevents` SDK reads every record type through its Kafka
# binding (issue 14 "Done when"), through the real pipeline.
#
# One pod (scripts/run.sh: redis-server, kafka-dev, redis-registry, kafka-bridge, ocpp-core,
# ws-edge) on loopback, with a 1 s reconciliation and heartbeat events on. Producers of every
# event type:
#  - an ocpp-rpc 2.0.1 station (strict.js) and a 1.6 one: connection, boot, status, authorize,
#    transaction, meter values, heartbeat, data transfer, firmware / log status, security event,
#    NotifyEvent, NotifyReport, other messages (ocpp.message), and the core's device.disconnected
#    when each closes;
#  - a 2.1 station (tests/e2e/v21.js): 2.1's own types (der.alarm, der.start_stop,
#    device.event_stream from a SEND, battery.swap, payment.settlement);
#  - redis-registry's own device.disconnected: a mapping of this pod in Redis that no
#    connection holds (as a lost UNREGISTER leaves it) is released by the reconciliation;
# commands written to commands-down with kcat, as a backend would: a reset the 1.6 station
# accepts (result from ocpp-core), a 49-character cp_id (result invalid from kafka-bridge, DLQ
# copy) and an unknown unified action (invalid from ocpp-core, DLQ copy by the bridge).
# Every record of the three topics is read with kcat -J (key, headers, value) and handed to
# tests/e2e/cloudevents_sdk.js, which converts it with Kafka.toEvent and checks it against
# docs/unified-model.md and proto/unified; it fails when a published event type is missing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
command -v kcat >/dev/null || fail "kcat not installed"
[ -d "$E2E/node_modules/cloudevents" ] || fail "npm package cloudevents missing: scripts/install-deps.sh"

POD=itest-ce
export OCPPGW_RECONCILE_GRACE_MS=1s OCPPGW_RECONCILE_INTERVAL_MS=1s
export OCPPGW_EVENT_HEARTBEAT=true # heartbeat events are off by default
start_pod "$POD"
ok "pod ready on ws port $WS_PORT"
base="ws://127.0.0.1:$WS_PORT"

node "$E2E/strict.js" "$base" CE201 ocpp2.0.1 >"$TMP/CE201.out" 2>&1 || { cat "$TMP/CE201.out"; fail "strict 2.0.1"; }
node "$E2E/v21.js" "$base" CE21 >"$TMP/CE21.out" 2>&1 || { cat "$TMP/CE21.out"; fail "2.1 session"; }
node "$E2E/strict.js" "$base" CE16 ocpp1.6 8000 >"$TMP/CE16.out" 2>&1 &
c16=$!
wait_until 20 "the 1.6 session" grep -q '^session done' "$TMP/CE16.out"
ok "a 2.0.1, a 2.1 (its new event types) and a 1.6 session ran (ocpp-rpc)"

# commands, as a backend writes them (key: the owner pod)
TP=00-5e1b3a8c0d2f4e6a8b9c0d1e2f3a4b5c-1a2b3c4d5e6f7a8b-01
CP49=0123456789012345678901234567890123456789012345678
RESET='{"command_id":"ce-reset","cp_id":"CE16","action":"reset","payload":{"type":"soft"},"ttl_ms":60000}'
BADCP="{\"command_id\":\"ce-badcp\",\"cp_id\":\"$CP49\",\"action\":\"reset\",\"ttl_ms\":60000}"
UNKNOWN='{"command_id":"ce-unknown","cp_id":"CE16","action":"fly_away","payload":{},"ttl_ms":60000}'
for rec in "$RESET" "$BADCP" "$UNKNOWN"; do
  printf '%s|%s\n' "$POD" "$rec" |
    timeout 10 kcat -b "$KAFKA" -P -t commands-down -K'|' -H "traceparent=$TP" -X topic.partitioner=murmur2_random
done

# the registry's device.disconnected: a mapping of this pod that no connection holds
redis-cli -u "$REDIS_URL" SET 'conn:CE-GHOST' "$POD" >/dev/null
redis-cli -u "$REDIS_URL" SET '{conn:CE-GHOST}:epoch' 77 >/dev/null
redis-cli -u "$REDIS_URL" SADD "pod:{$POD}:conns" CE-GHOST >/dev/null
wait_until 15 "CE-GHOST released by the reconciliation" bash -c "[ \"\$(redis-cli -u $REDIS_URL EXISTS conn:CE-GHOST)\" = 0 ]"
ghost_id="$(printf 'device.disconnected\n%s\n%s\n%s' CE-GHOST released 77 | sha256sum | cut -c1-32)"

wait "$c16" || fail "1.6 station failed: $(cat "$TMP/CE16.out")"
grep -q 'command Reset {"type":"Soft"}' "$TMP/CE16.out" || fail "the reset did not reach CE16: $(cat "$TMP/CE16.out")"
! grep -q fly_away "$TMP/CE16.out" || fail "an invalid command reached the station"

read_topic() { timeout 20 kcat -C -b "$KAFKA" -t "$1" -o beginning -e -q -J 2>/dev/null || true; }
# both stations' device.disconnected (core) and CE-GHOST's (registry), three results, two copies
wait_until 20 "three device.disconnected" bash -c "[ \"\$(timeout 20 kcat -C -b $KAFKA -t ocpp-events-up -o beginning -e -q | grep -c device.disconnected)\" -ge 3 ]"
wait_until 20 "three results" bash -c "[ \"\$(timeout 20 kcat -C -b $KAFKA -t command-results -o beginning -e -q | wc -l)\" -ge 3 ]"
wait_until 20 "two DLQ copies" bash -c "[ \"\$(timeout 20 kcat -C -b $KAFKA -t commands-dlq -o beginning -e -q | wc -l)\" -ge 2 ]"
read_topic ocpp-events-up >"$TMP/events.jsonl"
read_topic command-results >"$TMP/results.jsonl"
read_topic commands-dlq >"$TMP/dlq.jsonl"

python3 - "$TMP/expect.json" "$ghost_id" "$BADCP" "$UNKNOWN" <<'PY'
import json, sys
out, ghost, badcp, unknown = sys.argv[1:]
json.dump({"results": {"ce-reset": "accepted", "ce-badcp": "invalid", "ce-unknown": "invalid"},
           "dlq": {"ce-badcp": badcp, "ce-unknown": unknown},
           "registry": {"subject": "CE-GHOST", "id": ghost}}, open(out, "w"))
PY
(cd "$E2E" && node cloudevents_sdk.js "$ROOT/proto/unified" "$POD" "$TMP/events.jsonl" \
  "$TMP/results.jsonl" "$TMP/dlq.jsonl" "$TMP/expect.json") || fail "the cloudevents SDK does not read the records as specified"
ok "the cloudevents SDK reads every event type, the results and the DLQ copies as docs/unified-model.md and docs/commands.md say"

stop_pod "$POD_PID"
ok "test_cloudevents_sdk passed"
