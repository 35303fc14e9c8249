#!/usr/bin/env bash
# test_cp_sim_schemas.sh: what cp-sim sends and answers is valid OCPP (issue 8).
#
# tests/e2e/strict-csms.js validates every CALL of 30 stations (1.6, 2.0.1 and 2.1, compressed life
# with sessions) against the official OCPP 1.6 / 2.0.1 JSON schemas (ocpp-rpc's, strict ajv) and
# the official 2.1 file (proto/ocpp/ocpp2_1.json, ajv), and sends every CSMS-initiated action of
# each version in turn; each CALLRESULT must validate against the action's response schema. The
# 2.1 stations sign their transaction registers (16 KiB each: an Ended frame exceeds 32 KiB) and
# stream NotifyPeriodicEventStream as SEND frames, validated and never answered. Run twice:
# answering positively, then negatively. Before that, offline: every 2.1 message cp-sim's
# builders make in test_ocpp_msg (requests, SENDs, the reply to every 2.1 CSMS action both ways)
# is validated against the official 2.1 file, and a broken one must be refused.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

CPSIM_FRAMES_OUT="$TMP/frames21.jsonl" "$BUILD/tests/tools/cp-sim/test_ocpp_msg" >/dev/null
(cd "$E2E" && node ocpp21-frames.js "$ROOT/proto/ocpp/ocpp2_1.json" "$TMP/frames21.jsonl") \
  >"$TMP/frames21.out"
python3 - "$TMP/frames21.out" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
need = ["request BootNotification", "request TransactionEvent", "request OpenPeriodicEventStream",
        "send NotifyPeriodicEventStream", "response SetDERControl", "response SetDefaultTariff",
        "response GetVariables", "response RequestStartTransaction", "response ClearTariffs"]
missing = [n for n in need if n not in s["seen"]]
assert not missing, f"not built: {missing}"
print(f"ok: {s['valid']} cp-sim 2.1 messages valid against proto/ocpp/ocpp2_1.json (offline)")
PY
grep -m1 '"action":"SetDERControl"' "$TMP/frames21.jsonl" | sed 's/"Accepted"/"Fine"/' >"$TMP/bad21.jsonl"
if (cd "$E2E" && node ocpp21-frames.js "$ROOT/proto/ocpp/ocpp2_1.json" "$TMP/bad21.jsonl" >/dev/null); then
  echo "the 2.1 check accepted status Fine"; exit 1
fi

for reply in accept reject; do
  node "$E2E/strict-csms.js" 0 2 >"$TMP/csms-$reply.out" 2>&1 &   # port 0: any free port
  csms=$!
  wait_until 20 "strict CSMS listening" grep -q listening "$TMP/csms-$reply.out"
  port="$(sed -nE 's/^strict-csms listening on ([0-9]+)$/\1/p' "$TMP/csms-$reply.out")"
  "$BIN/cp-sim" --url "ws://127.0.0.1:$port/ocpp" --count 30 --v201_percent 33 --v21_percent 34 \
    --signed_meter_bytes 16384 --stream_interval_ms 300ms --duration_ms 8s \
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
for v in ("ocpp1.6", "ocpp2.0.1", "ocpp2.1"):
    missing = s["expected"][v] - len(s["covered"][v])
    assert missing == 0, f"{v}: {missing} CSMS actions not answered validly (got {s['covered'][v]})"
want = ["ocpp1.6 BootNotification", "ocpp1.6 Heartbeat", "ocpp1.6 StatusNotification", "ocpp1.6 Authorize",
        "ocpp1.6 StartTransaction", "ocpp1.6 MeterValues", "ocpp1.6 StopTransaction",
        "ocpp2.0.1 BootNotification", "ocpp2.0.1 Heartbeat", "ocpp2.0.1 StatusNotification",
        "ocpp2.0.1 Authorize", "ocpp2.0.1 TransactionEvent",
        "ocpp2.1 BootNotification", "ocpp2.1 Heartbeat", "ocpp2.1 StatusNotification",
        "ocpp2.1 Authorize", "ocpp2.1 TransactionEvent", "ocpp2.1 OpenPeriodicEventStream",
        "ocpp2.1 NotifyPeriodicEventStream"]
missing = [w for w in want if not s["seen"].get(w)]
assert not missing, f"actions never sent: {missing}"
assert s["sends"] > 0, "no SEND frame"
assert s["maxFrame"] > 32 * 1024, f"largest frame {s['maxFrame']} bytes: no 2.1 Ended with two signed values"
print(f"ok ({reply}): {s['calls']} CALLs valid against the OCPP schemas ({len(s['seen'])} version/action pairs); "
      f"{s['replies']} replies to {s['expected']['ocpp1.6']} + {s['expected']['ocpp2.0.1']} + "
      f"{s['expected']['ocpp2.1']} CSMS actions all valid; {s['sends']} SEND frames, largest frame {s['maxFrame']} bytes")
PY
done
