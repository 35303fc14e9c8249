#!/usr/bin/env bash
# test_unified_e2e.sh: the unified model through the real pipeline (issue 5).
#
# One pod (scripts/run.sh: redis-server, kafka-dev, the four services) on loopback. Then:
#  - equivalence: the same physical session (boot, plug in, authorize, charge with meter values,
#    stop, unplug) run by a 1.6 and a 2.0.1 ocpp-rpc client (strict mode) yields the same
#    sequence of event types on ocpp-events-up with equal unified data, compared field by field
#    (ids, the ocpp member and the members only one version has are left out:
#    docs/unified-model.md); every event validates against proto/unified (ajv);
#  - unified commands written to commands-down with kcat, as a backend would: reset reaches the
#    1.6 client as Reset Soft and the 2.0.1 client as Reset OnIdle, start_transaction reaches
#    2.0.1 as RequestStartTransaction with a remoteStartId; results accepted with the response
#    in unified and raw form and the three timestamps; a unified action with no 1.6 equivalent
#    gets unsupported; an unknown unified action and a payload breaking its shape get invalid
#    with a reason and a DLQ copy, and the partition goes on; every result validates against
#    proto/unified/result.json.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
command -v kcat >/dev/null || fail "kcat not installed"

start_pod itest-unified
ok "pod ready on ws port $WS_PORT"
base="ws://127.0.0.1:$WS_PORT"

node "$E2E/equivalence.js" "$base" EQ16 ocpp1.6 15000 >"$TMP/EQ16.out" 2>&1 &
c16=$!
node "$E2E/equivalence.js" "$base" EQ201 ocpp2.0.1 15000 >"$TMP/EQ201.out" 2>&1 &
c201=$!
(wait_until 20 "1.6 session" grep -q "^session done" "$TMP/EQ16.out") || { cat "$TMP/EQ16.out" "$TMP/EQ201.out"; exit 1; }
wait_until 20 "2.0.1 session" grep -q '^session done' "$TMP/EQ201.out"
ok "both sessions ran (ocpp-rpc strict mode)"

# the events: same types in the same order, equal unified data
events() { timeout 20 kcat -C -b "$KAFKA" -t ocpp-events-up -o beginning -e -q -f '%k\t%s\n' >"$TMP/events.tsv"; }
n_tx_events() { events; grep -c 'transaction.ended' "$TMP/events.tsv" || true; }
wait_until 15 "both transaction.ended events" bash -c "[ \"\$(timeout 20 kcat -C -b $KAFKA -t ocpp-events-up -o beginning -e -q | grep -c transaction.ended)\" -ge 2 ]"
events
python3 - "$TMP/events.tsv" <<'PY'
import json, sys
seq = {"EQ16": [], "EQ201": []}
for line in open(sys.argv[1]):
    if line.strip():
        k, v = line.rstrip("\n").split("\t", 1)
        if k in seq:
            seq[k].append(json.loads(v))
# members only one version has, and ids (docs/unified-model.md, "comparing versions")
ONLY = {"ocpp", "raw", "reason", "status_detail", "trigger_reason", "seq_no", "charging_state",
        "transaction_id", "remote_start_id", "offline"}
def unified(ev):
    d = {k: v for k, v in ev["data"].items() if k not in ONLY}
    if "id_token" in d:
        d["id_token"] = {k: v for k, v in d["id_token"].items() if k != "type"}
    if ev["type"] in ("device.connected", "device.disconnected"):
        d = {}  # transport: peer address and version differ by nature
    return ev["type"], d
a = [unified(e) for e in seq["EQ16"] if e["type"] != "device.disconnected"]
b = [unified(e) for e in seq["EQ201"] if e["type"] != "device.disconnected"]
ta, tb = [t for t, _ in a], [t for t, _ in b]
assert ta == tb, f"event types differ:\n 1.6   {ta}\n 2.0.1 {tb}"
want = ["device.connected", "device.online", "connector.status_changed", "authorization.requested",
        "transaction.started", "transaction.updated", "transaction.ended", "connector.status_changed"]
assert ta == want, ta
for (t, da), (_, db) in zip(a, b):
    assert da == db, f"{t} differs field by field:\n 1.6   {json.dumps(da, sort_keys=True)}\n 2.0.1 {json.dumps(db, sort_keys=True)}"
    print(f"ok: {t}: equal ({len(da)} members)")
# the 1.6 transaction id is the gateway's, consistent across the transaction
ids = {e["data"]["transaction_id"] for e in seq["EQ16"] if e["type"].startswith("transaction.")}
assert len(ids) == 1, ids
ended = [e for e in seq["EQ16"] if e["type"] == "transaction.ended"][0]["data"]
assert ended["meter_wh"] == 2500 and ended["stopped_reason"] == "EVDisconnected", ended
PY
ok "1.6 and 2.0.1 sessions yield the same event sequence with equal unified data"
cut -f2- "$TMP/events.tsv" >"$TMP/events.ndjson"
(cd "$E2E" && node contract.js "$ROOT/proto/unified" "$TMP/events.ndjson") || fail "events break the contract"
ok "every event matches proto/unified"

# unified commands through commands-down
put() { printf '%s|%s\n' itest-unified "$1" | timeout 10 kcat -b "$KAFKA" -P -t commands-down -K'|' -X topic.partitioner=murmur2_random; }
put '{"command_id":"u-reset16","cp_id":"EQ16","action":"reset","payload":{"type":"soft"},"ttl_ms":60000}'
put '{"command_id":"u-reset201","cp_id":"EQ201","action":"reset","payload":{"type":"soft"},"ttl_ms":60000}'
put '{"command_id":"u-start201","cp_id":"EQ201","action":"start_transaction","payload":{"id_token":{"id":"TAG9"},"evse_id":1},"ttl_ms":60000}'
put '{"command_id":"u-unsup16","cp_id":"EQ16","action":"trigger_message","payload":{"message":"transaction_event"},"ttl_ms":60000}'
put '{"command_id":"u-unknown16","cp_id":"EQ16","action":"fly_away","payload":{},"ttl_ms":60000}'
put '{"command_id":"u-bad201","cp_id":"EQ201","action":"start_transaction","payload":{},"ttl_ms":60000}'
put '{"command_id":"u-after16","cp_id":"EQ16","action":"clear_cache","ttl_ms":60000}'
results() { timeout 20 kcat -C -b "$KAFKA" -t command-results -o beginning -e -q -f '%k\t%s\n' 2>/dev/null || true; }
wait_until 30 "seven results" bash -c "[ \"\$(timeout 20 kcat -C -b $KAFKA -t command-results -o beginning -e -q 2>/dev/null | wc -l)\" -ge 7 ]"
results >"$TMP/results.tsv"
grep -qF 'command Reset {"type":"Soft"}' "$TMP/EQ16.out" || fail "1.6 did not get Reset Soft: $(cat "$TMP/EQ16.out")"
grep -qF 'command Reset {"type":"OnIdle"}' "$TMP/EQ201.out" || fail "2.0.1 did not get Reset OnIdle"
grep -qE 'command RequestStartTransaction \{"idToken":\{"idToken":"TAG9","type":"Central"\},"remoteStartId":[0-9]+,"evseId":1\}' "$TMP/EQ201.out" ||
  fail "2.0.1 did not get RequestStartTransaction: $(grep command "$TMP/EQ201.out")"
! grep -q TriggerMessage "$TMP/EQ16.out" || fail "an unsupported command reached the charge point"
python3 - "$TMP/results.tsv" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    if line.strip():
        k, v = line.rstrip("\n").split("\t", 1)
        rows.setdefault(k, []).append(json.loads(v))
want = {"u-reset16": "accepted", "u-reset201": "accepted", "u-start201": "accepted",
        "u-unsup16": "unsupported", "u-unknown16": "invalid", "u-bad201": "invalid",
        "u-after16": "accepted"}
for cid, st in want.items():
    got = rows.get(cid)
    assert got and len(got) == 1, f"{cid}: expected one result, got {got}"
    r = got[0]
    assert r["status"] == st, f"{cid}: {r}"
    print(f"ok: {cid}: {st}" + (f" ({r['reason']})" if r.get("reason") else ""))
r = rows["u-reset201"][0]
assert r["unified_action"] == "reset" and r["action"] == "Reset", r
assert r["response"] == {"status": "Accepted"} and r["response_unified"] == {"status": "accepted"}, r
assert r["received_at"] <= r["sent_at"] <= r["answered_at"], r
assert "unknown unified action" in rows["u-unknown16"][0]["reason"], rows["u-unknown16"]
assert "id_token is required" in rows["u-bad201"][0]["reason"], rows["u-bad201"]
PY
ok "unified commands: converted per version, results with unified and raw response and times"
cut -f2- "$TMP/results.tsv" >"$TMP/results.ndjson"
(cd "$E2E" && node contract.js "$ROOT/proto/unified" "$TMP/results.ndjson" result.json) || fail "results break the contract"
ok "every result matches proto/unified/result.json"
(wait_until 15 "DLQ copies" bash -c "timeout 20 kcat -C -b $KAFKA -t commands-dlq -o beginning -e -q 2>/dev/null | grep -q u-bad201") ||
  { grep -v '"level":"debug"' "$TMP/itest-unified/log/kafka-bridge.log" | tail -20; fail "no DLQ copies"; }
dlq="$(timeout 20 kcat -C -b "$KAFKA" -t commands-dlq -o beginning -e -q -f '%k %h\n' 2>/dev/null || true)"
grep -q '^u-unknown16 .*status=invalid' <<<"$dlq" || fail "no DLQ copy of u-unknown16: $dlq"
grep -q '^u-bad201 .*status=invalid' <<<"$dlq" || fail "no DLQ copy of u-bad201: $dlq"
! grep -q '^u-unsup16' <<<"$dlq" || fail "an unsupported command went to the DLQ"
ok "invalid unified records: result invalid with a reason + DLQ copy; the partition goes on"

wait "$c16" || fail "1.6 client failed: $(cat "$TMP/EQ16.out")"
wait "$c201" || fail "2.0.1 client failed: $(cat "$TMP/EQ201.out")"
stop_pod "$POD_PID"
ok "pod stopped"
