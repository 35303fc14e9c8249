#!/usr/bin/env bash
# test_ocpp21.sh: OCPP 2.1 through the real pipeline (issue 17).
#
# One pod (scripts/run.sh with its defaults: ocpp2.1 enabled, 256 KiB messages) on loopback:
#  - the generated 2.1 examples agree with ajv over the official 2.1 schemas;
#  - an independent 2.1 client (ocpp-rpc, non-strict; tests/e2e/v21.js) negotiates ocpp2.1 and
#    runs boot, status, heartbeat, authorize, a transaction with signed meter values of 32,768
#    characters (the Ended event over 64 KiB), a NotifyPeriodicEventStream as SEND (never
#    answered), NotifyDERAlarm and the other new station messages; every response is valid
#    against proto/ocpp/ocpp2_1.json;
#  - the station's events arrive on ocpp-events-up with their unified types (transactions with
#    signed samples, device.event_stream from the SEND, der.alarm, der.start_stop, battery.swap,
#    payment.settlement), and the core counted the SEND as published;
#  - two commands to the 2.1 station, a unified reset and a native SetDERControl, each reach it
#    valid and give exactly one final result, accepted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
command -v kcat >/dev/null || fail "kcat not installed"

node "$E2E/examples-ajv.js" "$ROOT/tests/services/ocpp-core/ocpp_examples.json"
ok "ajv agrees with every generated example (2.1 over the official file)"

unset OCPPGW_SUBPROTOCOLS OCPPGW_MAX_MESSAGE_BYTES # the defaults are under test
POD=itest-v21
start_pod "$POD"
ok "pod ready on ws port $WS_PORT"
base="ws://127.0.0.1:$WS_PORT"

node "$E2E/v21.js" "$base" CP21 8000 >"$TMP/CP21.out" 2>&1 &
v21=$!
wait_until 30 "the 2.1 session's calls" grep -q '^session calls done' "$TMP/CP21.out"
# commands, as a backend writes them (key: the owner pod): unified and native 2.1
RESET='{"command_id":"v21-reset","cp_id":"CP21","action":"reset","payload":{"type":"soft"},"ttl_ms":60000}'
DER='{"command_id":"v21-der","cp_id":"CP21","action":"SetDERControl","ttl_ms":60000,"payload":{"isDefault":true,"controlId":"der-1","controlType":"FixedPFAbsorb","fixedPFAbsorb":{"priority":0,"displacement":0.95,"excitation":true}}}'
for rec in "$RESET" "$DER"; do
  printf '%s|%s\n' "$POD" "$rec" |
    timeout 10 kcat -b "$KAFKA" -P -t commands-down -K'|' -X topic.partitioner=murmur2_random
done
wait "$v21" || { cat "$TMP/CP21.out"; tail -n 20 "$TMP"/itest-v21/log/ocpp-core-0.log; fail "v21.js"; }
sed 's/^/  2.1: /' "$TMP/CP21.out"
ok "2.1 session: every gateway response valid against the official 2.1 schemas"
grep -q '^command Reset ' "$TMP/CP21.out" || fail "the unified reset did not reach the 2.1 station"
grep -q '^command SetDERControl {"isDefault":true,"controlId":"der-1"' "$TMP/CP21.out" ||
  fail "the native SetDERControl did not reach the 2.1 station"
wait_until 20 "two results" bash -c "[ \"\$(timeout 20 kcat -C -b $KAFKA -t command-results -o beginning -e -q | wc -l)\" -ge 2 ]"
timeout 20 kcat -C -b "$KAFKA" -t command-results -o beginning -e -q -f '%k\t%s\n' >"$TMP/results.tsv"
python3 - "$TMP/results.tsv" <<'PY'
import json, sys
res = {}
for line in open(sys.argv[1]):
    if line.strip():
        k, v = line.rstrip("\n").split("\t", 1)
        res.setdefault(k, []).append(json.loads(v)["status"])
for cid in ("v21-reset", "v21-der"):
    assert res.get(cid) == ["accepted"], f"{cid}: results {res.get(cid)}"
print("ok: results:", res)
PY
ok "a unified and a native 2.1 command: one final result each, accepted"

core_admin="$(grep -o 'core :[0-9]*' "$POD_OUT" | grep -o '[0-9]*')"
[ -n "$core_admin" ] || fail "no core admin port in the pod output"
{
  sends="$(curl -sf "http://127.0.0.1:$core_admin/metrics" | awk '$1 == "ocppgw_core_sends_total{result=\"published\"}" {print $2}')"
  [ "${sends:-0}" = 1 ] || fail "core_sends_total{result=\"published\"} is '${sends:-}', want 1"
  ok "the SEND was published, once"
}

timeout 20 kcat -C -b "$KAFKA" -t ocpp-events-up -o beginning -e -q -f '%k\t%s\n' >"$TMP/events.tsv"
python3 - "$TMP/events.tsv" <<'PY'
import json, sys
def longest(x):  # the longest string anywhere in x
    if isinstance(x, dict):
        return max([longest(v) for v in x.values()] + [0])
    if isinstance(x, list):
        return max([longest(v) for v in x] + [0])
    return len(x) if isinstance(x, str) else 0
actions, signed = {}, {}
for line in open(sys.argv[1]):
    if line.strip():
        k, v = line.rstrip("\n").split("\t", 1)
        if k != "CP21":
            continue
        ev = json.loads(v)
        actions.setdefault((ev.get("data") or {}).get("ocpp", {}).get("action"), []).append(ev["type"])
        if ev["type"] in ("transaction.started", "transaction.ended"):
            signed[ev["type"]] = longest(ev["data"])
want = {"BootNotification": ["device.online"],
        "StatusNotification": ["connector.status_changed"],
        "TransactionEvent": ["transaction.started", "transaction.updated", "transaction.ended"],
        "NotifyPeriodicEventStream": ["device.event_stream"], "NotifyDERAlarm": ["der.alarm"],
        "NotifyDERStartStop": ["der.start_stop"], "BatterySwap": ["battery.swap"],
        "NotifySettlement": ["payment.settlement"]}
for a, types in want.items():
    assert sorted(actions.get(a, [])) == sorted(types), f"{a}: events {actions.get(a)}, want {types}"
# the 32,768-character signed meter values are carried whole
assert all(signed.get(t) == 32768 for t in ("transaction.started", "transaction.ended")), signed
print("ok: events of CP21:", ", ".join(f"{a} -> {sorted(set(t))}" for a, t in sorted(actions.items(), key=str)))
PY
ok "the 2.1 station's events are on ocpp-events-up"
stop_pod "$POD_PID"
ok "pod stopped"
