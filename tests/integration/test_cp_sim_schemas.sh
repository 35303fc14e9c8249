#!/usr/bin/env bash
# test_cp_sim_schemas.sh: what cp-sim sends and answers is valid OCPP (issue 8).
#
# tests/e2e/strict-csms.js validates every CALL of 20 stations (both versions, compressed life
# with sessions) against the official OCPP 1.6 / 2.0.1 JSON schemas (ocpp-rpc's, strict ajv) and
# sends every CSMS-initiated action of each version in turn; each CALLRESULT must validate
# against the action's response schema. Run twice: answering positively, then negatively.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

for reply in accept reject; do
  node "$E2E/strict-csms.js" 0 2 >"$TMP/csms-$reply.out" 2>&1 &   # port 0: any free port
  csms=$!
  wait_until 20 "strict CSMS listening" grep -q listening "$TMP/csms-$reply.out"
  port="$(sed -nE 's/^strict-csms listening on ([0-9]+)$/\1/p' "$TMP/csms-$reply.out")"
  "$BIN/cp-sim" --url "ws://127.0.0.1:$port/ocpp" --count 20 --v201_percent 50 --duration_ms 8s \
    --heartbeat_interval_ms 300ms --session_every_ms 300ms --session_length_ms 1s \
    --meter_interval_ms 100ms --backoff_min_ms 100ms --backoff_range_ms 100ms \
    --downlink_reply "$reply" --progress off >"$TMP/report-$reply.txt"
  kill -TERM "$csms"; wait "$csms" || true
  tail -1 "$TMP/csms-$reply.out" >"$TMP/summary-$reply.json"
  python3 - "$TMP/summary-$reply.json" "$reply" <<'PY'
import json, sys
s, reply = json.load(open(sys.argv[1])), sys.argv[2]
assert not s["invalidCalls"], "CALLs failing their schema:\n" + "\n".join(s["invalidCalls"])
assert not s["invalidReplies"], "replies failing their schema:\n" + "\n".join(s["invalidReplies"])
assert not s["callErrors"], f"CALLERRORs: {s['callErrors']}"
for v in ("ocpp1.6", "ocpp2.0.1"):
    missing = s["expected"][v] - len(s["covered"][v])
    assert missing == 0, f"{v}: {missing} CSMS actions not answered validly (got {s['covered'][v]})"
want = ["ocpp1.6 BootNotification", "ocpp1.6 Heartbeat", "ocpp1.6 StatusNotification", "ocpp1.6 Authorize",
        "ocpp1.6 StartTransaction", "ocpp1.6 MeterValues", "ocpp1.6 StopTransaction",
        "ocpp2.0.1 BootNotification", "ocpp2.0.1 Heartbeat", "ocpp2.0.1 StatusNotification",
        "ocpp2.0.1 Authorize", "ocpp2.0.1 TransactionEvent"]
missing = [w for w in want if not s["seen"].get(w)]
assert not missing, f"actions never sent: {missing}"
print(f"ok ({reply}): {s['calls']} CALLs valid against the OCPP schemas ({len(s['seen'])} version/action pairs); "
      f"{s['replies']} replies to {s['expected']['ocpp1.6']} + {s['expected']['ocpp2.0.1']} CSMS actions all valid")
PY
done
