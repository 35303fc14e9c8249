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
#  - the station's events arrive on ocpp-events-up (the SEND's too), and the core counted the
#    SEND as published.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
command -v kcat >/dev/null || fail "kcat not installed"

node "$E2E/examples-ajv.js" "$ROOT/tests/services/ocpp-core/ocpp_examples.json"
ok "ajv agrees with every generated example (2.1 over the official file)"

unset OCPPGW_SUBPROTOCOLS OCPPGW_MAX_MESSAGE_BYTES # the defaults are under test
start_pod itest-v21
ok "pod ready on ws port $WS_PORT"
base="ws://127.0.0.1:$WS_PORT"

node "$E2E/v21.js" "$base" CP21 >"$TMP/CP21.out" 2>&1 || { cat "$TMP/CP21.out"; tail -n 20 "$TMP"/itest-v21/log/ocpp-core-0.log; fail "v21.js"; }
sed 's/^/  2.1: /' "$TMP/CP21.out"
ok "2.1 session: every gateway response valid against the official 2.1 schemas"

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
actions = {}
for line in open(sys.argv[1]):
    if line.strip():
        k, v = line.rstrip("\n").split("\t", 1)
        if k != "CP21":
            continue
        ev = json.loads(v)
        actions.setdefault((ev.get("data") or {}).get("ocpp", {}).get("action"), []).append(ev["type"])
for a in ("BootNotification", "TransactionEvent", "NotifyPeriodicEventStream", "NotifyDERAlarm",
          "BatterySwap", "NotifySettlement"):
    assert a in actions, f"no event of {a}: {sorted(x for x in actions if x)}"
assert len(actions["TransactionEvent"]) == 3, actions["TransactionEvent"]
print("ok: events of CP21:", ", ".join(f"{a} -> {sorted(set(t))}" for a, t in sorted(actions.items(), key=str)))
PY
ok "the 2.1 station's events are on ocpp-events-up"
stop_pod "$POD_PID"
ok "pod stopped"
