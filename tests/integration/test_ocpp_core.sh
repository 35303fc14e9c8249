#!/usr/bin/env bash
# test_ocpp_core.sh: ocpp-core's OCPP engine through the real pipeline (issue 4).
#
# One pod (scripts/run.sh: redis-server, kafka-dev, the four services) on loopback, with a
# short command timeout. Then:
#  - ocpp-rpc in strict schema mode (an independent implementation) runs boot, status,
#    authorize, a full transaction with meter values and the other notifications as 1.6 and
#    as 2.0.1 and finds every gateway response valid;
#  - a raw WebSocket client gets each error code spelled as its version spells it, 2.0.1 boot
#    gating, no answer to responses nobody asked for, and a usable connection after;
#  - persist-before-ack: with kafka-bridge stopped (SIGSTOP) StartTransaction is not answered,
#    and is answered once the bridge resumes and Kafka confirmed the event; StopTransaction
#    with the bridge stopped gets InternalError after persist_timeout_ms (8 s here);
#  - downlink commands (handed to the core as the bridge would, by `envelope-tool command`):
#    Reset is sent, answered and reported `accepted` on command-results; an invalid payload is
#    reported `invalid` without reaching the charge point; an unanswered CALL ends `timeout`
#    and a late response is dropped and counted;
#  - the generated examples agree with ocpp-rpc's ajv validator.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
command -v kcat >/dev/null || fail "kcat not installed"

node "$E2E/examples-ajv.js" "$ROOT/tests/services/ocpp-core/ocpp_examples.json"
ok "ajv (ocpp-rpc) agrees with every generated example"

export OCPPGW_COMMAND_TIMEOUT_MS=1500 OCPPGW_PERSIST_TIMEOUT_MS=8000
export OCPPGW_EVENT_RAW_PAYLOAD=true # unified events also carry the payload as received
start_pod itest-core
ok "pod ready on ws port $WS_PORT"
base="ws://127.0.0.1:$WS_PORT"

for pair in "ERR16 ocpp1.6" "ERR201 ocpp2.0.1"; do
  set -- $pair
  node "$E2E/errors.js" "$base" "$1" "$2" >"$TMP/$1.out" 2>&1 || { cat "$TMP/$1.out"; fail "errors.js $2"; }
  sed "s/^/  $2: /" "$TMP/$1.out"
done
ok "error answers spelled per version"

bridge_pid="$(pgrep -P "$POD_PID" -x kafka-bridge)"
[ -n "$bridge_pid" ] || fail "no kafka-bridge child of the pod"
node "$E2E/persist.js" "$base" TX16 "$bridge_pid" >"$TMP/persist.out" 2>&1 || { cat "$TMP/persist.out"; fail "persist.js"; }
sed 's/^/  /' "$TMP/persist.out"
ok "persist-before-ack with a stalled bridge"

# strict sessions; the 1.6 one stays connected to serve commands
node "$E2E/strict.js" "$base" CP201 ocpp2.0.1 >"$TMP/CP201.out" 2>&1 || { cat "$TMP/CP201.out"; fail "strict 2.0.1"; }
sed 's/^/  2.0.1: /' "$TMP/CP201.out"
node "$E2E/strict.js" "$base" CP16 ocpp1.6 12000 >"$TMP/CP16.out" 2>&1 &
client=$!
wait_until 15 "1.6 strict session" grep -q '^session done' "$TMP/CP16.out"
sed 's/^/  1.6: /' "$TMP/CP16.out"
ok "ocpp-rpc strict mode found every response valid (1.6 and 2.0.1)"

inject() { "$TBIN/envelope-tool" command "$TMP/itest-core/ipc" "$@"; }
inject CP16 cmd-reset '{"command_id":"cmd-reset","action":"Reset","payload":{"type":"Soft"}}' 11
inject CP16 cmd-bad '{"command_id":"cmd-bad","action":"Reset","payload":{"type":"Bogus"}}' 12
inject CP16 cmd-silent '{"command_id":"cmd-silent","action":"GetConfiguration","payload":{}}' 13
inject CP16 cmd-late '{"command_id":"cmd-late","action":"ClearCache","payload":{}}' 14
inject NOBODY cmd-nobody '{"command_id":"cmd-nobody","action":"Reset","payload":{"type":"Soft"}}' 15
(wait_until 15 "late response" grep -q "command ClearCache" "$TMP/CP16.out") || { tail -n 30 "$TMP"/itest-core/log/ocpp-core-0.log "$TMP"/itest-core/log/kafka-bridge.log; cat "$TMP/CP16.out"; exit 1; }
sleep 3 # the late answer arrives 2.5 s after the CALL, after the 1.5 s timeout
grep -q 'command Reset {"type":"Soft"}' "$TMP/CP16.out" || fail "Reset did not reach the charge point"
! grep -q Bogus "$TMP/CP16.out" || fail "an invalid command reached the charge point"

timeout 20 kcat -C -b "$KAFKA" -t command-results -o beginning -e -q -f '%k\t%s\n' >"$TMP/results.tsv"
python3 - "$TMP/results.tsv" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    if line.strip():
        k, v = line.rstrip("\n").split("\t", 1)
        rows.setdefault(k, []).append(json.loads(v))
want = {"cmd-reset": "accepted", "cmd-bad": "invalid", "cmd-silent": "timeout",
        "cmd-late": "timeout", "cmd-nobody": "rejected"}
for cid, status in want.items():
    got = rows.get(cid)
    assert got and len(got) == 1, f"{cid}: expected exactly one result, got {got}"
    r = got[0]
    assert r["status"] == status and r["command_id"] == cid, f"{cid}: {r}"
    print(f"ok: {cid}: one result, status {status}" + (f" ({r.get('reason')})" if r.get("reason") else ""))
assert rows["cmd-reset"][0]["response"] == {"status": "Accepted"}, rows["cmd-reset"]
assert rows["cmd-reset"][0]["message_id"].startswith("gw-"), rows["cmd-reset"]
PY
ok "downlink commands: accepted, invalid, timeout, late response, not connected"

core_admin="$(grep -o 'core :[0-9]*' "$POD_OUT" | grep -o '[0-9]*' || true)"
if [ -n "$core_admin" ]; then
  metrics="$(curl -sf "http://127.0.0.1:$core_admin/metrics")"
  # 4 unexpected responses from errors.js (2 per version) + the late ClearCache answer
  grep -q '^ocppgw_core_responses_dropped_total 5$' <<<"$metrics" || fail "late response not counted: $(grep dropped <<<"$metrics")"
  grep -q 'ocppgw_core_ocpp_errors_total{code="SecurityError"} 1' <<<"$metrics" || fail "errors by code: $(grep ocpp_errors <<<"$metrics")"
  ok "core /metrics counts the late response and the errors by code"
fi
wait "$client" || fail "1.6 client failed: $(cat "$TMP/CP16.out")"

# the transaction events are in Kafka, key = identity
timeout 20 kcat -C -b "$KAFKA" -t ocpp-events-up -o beginning -e -q -f '%k\t%s\n' >"$TMP/events.tsv"
python3 - "$TMP/events.tsv" <<'PY'
import json, sys
types = {}
raw = 0
for line in open(sys.argv[1]):
    if line.strip():
        k, v = line.rstrip("\n").split("\t", 1)
        ev = json.loads(v)
        types.setdefault(k, []).append(ev["type"])
        if ev["type"] == "transaction.started" and k == "CP16":
            assert ev["data"]["raw"]["connectorId"] == ev["data"]["location"]["evse_id"], ev
            raw += 1
assert raw, "no 1.6 transaction.started with its raw payload"
for cp, want in (("CP16", ["transaction.started", "transaction.updated", "meter.values", "transaction.ended", "security.event"]),
                 ("CP201", ["transaction.started", "transaction.updated", "transaction.ended", "meter.values"]),
                 ("TX16", ["transaction.started"])):
    for t in want:
        assert t in types.get(cp, []), f"{cp}: {t} missing in {types.get(cp)}"
    print(f"ok: {cp}: {', '.join(sorted(set(types[cp])))}")
PY
# contract test on what the real pipeline produced: every record validates against proto/unified
cut -f2- "$TMP/events.tsv" >"$TMP/events.ndjson"
(cd "$E2E" && node contract.js "$ROOT/proto/unified" "$TMP/events.ndjson") || fail "events break the contract"
ok "every event on ocpp-events-up matches proto/unified"
stop_pod "$POD_PID"
ok "pod stopped"
