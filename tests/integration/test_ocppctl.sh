#!/usr/bin/env bash
# test_ocppctl.sh: ocppctl against a real pod with cp-sim stations (issue 8).
#
# pods lists the pod with its connection count; status shows owner, liveness, version and boot
# state, and exits 4 for an unknown identity; events filters by identity and type and --follow
# sees new events; send refuses invalid payloads (exit 2) and unknown identities (exit 4),
# writes the command record to the owner pod's commands-down partition (checked with kcat and an
# independent murmur2), and --wait ends with the exit code of the result's status (the pod's
# bridge and core answer a command to a connected station), or 124 when no result comes; --wait
# is checked for every result status, with the test writing the results for a pod without a
# bridge ("ghost-pod") as kafka-bridge would, and for the resend (same command_id) after the
# target pod's lease expires, answered by the real pod; an unreachable Redis or Kafka gives exit
# 3 and says which.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

export OCPPGW_EVENT_HEARTBEAT=true # events --follow follows heartbeat events (off by default)
start_pod itest-ctl
export OCPPGW_REDIS_URL="$REDIS_URL" OCPPGW_KAFKA_BROKERS="$KAFKA"
ctl="$BIN/ocppctl"
"$BIN/cp-sim" --url "ws://127.0.0.1:$WS_PORT/ocpp" --source_addresses 127.0.0.2-127.0.0.3 --count 6 --identity_prefix CTL --v201_percent 50 \
  --duration_ms 60s --heartbeat_interval_ms 1s --session_every_ms 0 --progress off >"$TMP/sim.txt" 2>&1 &
sim=$!

pods_show() { "$ctl" pods | grep -qE "^itest-ctl +$1 "; }
wait_until 15 "ocppctl pods shows 6 connections" pods_show 6
"$ctl" pods
ok "pods: itest-ctl with 6 connections"

"$ctl" status CTL000001 | tee "$TMP/status.txt"
grep -qE '^owner +itest-ctl \(live\)$' "$TMP/status.txt" || fail "status: owner line"
grep -qE '^boot +accepted$' "$TMP/status.txt" || fail "status: boot line"
grep -qE '^version +(1\.6|2\.0\.1)$' "$TMP/status.txt" || fail "status: version line"
grep -qE '^since +20[0-9-]+T' "$TMP/status.txt" || fail "status: since line"
rc=0; "$ctl" status NOSUCH 2>"$TMP/err" || rc=$?
[ $rc -eq 4 ] && grep -q 'unknown identity NOSUCH' "$TMP/err" || fail "status of an unknown identity: rc $rc, $(cat "$TMP/err")"
ok "status: owner, live lease, version, boot, since; unknown identity exits 4"

online_count() { [ "$("$ctl" events --type device.online | wc -l)" -eq "$1" ]; }
wait_until 15 "6 device.online events" online_count 6
"$ctl" events --identity CTL000002 >"$TMP/ev2.txt"
[ -s "$TMP/ev2.txt" ] || fail "no events for CTL000002"
awk '{print $2}' "$TMP/ev2.txt" | sort -u | grep -qx CTL000002 || fail "events of another identity: $(cat "$TMP/ev2.txt")"
[ "$(awk '{print $2}' "$TMP/ev2.txt" | sort -u | wc -l)" -eq 1 ] || fail "identity filter leaks"
grep -q ' device.online ' "$TMP/ev2.txt" || fail "no device.online for CTL000002"
ok "events: --type device.online lists the 6 stations, --identity keeps only CTL000002's"

"$ctl" events --follow --type heartbeat >"$TMP/follow.txt" 2>&1 &
follower=$!
before="$(grep -c . "$TMP/follow.txt" || true)"
more_heartbeats() { [ "$(grep -c ' heartbeat ' "$TMP/follow.txt")" -gt "$1" ]; }
wait_until 15 "events --follow sees heartbeats" more_heartbeats 0
sleep 2.5
first="$(grep -c ' heartbeat ' "$TMP/follow.txt")"
wait_until 15 "events --follow sees new heartbeats" more_heartbeats "$first"
kill -TERM "$follower"; wait "$follower" || true
ok "events --follow prints new heartbeats as they come (${before}->$(grep -c . "$TMP/follow.txt") lines)"

rc=0; "$ctl" send CTL000001 Reset '{"type":' 2>"$TMP/err" || rc=$?
[ $rc -eq 2 ] && grep -q 'invalid payload for Reset: line 1' "$TMP/err" || fail "invalid payload: rc $rc $(cat "$TMP/err")"
rc=0; "$ctl" send NOSUCH Reset '{}' 2>"$TMP/err" || rc=$?
[ $rc -eq 4 ] && grep -q 'unknown identity NOSUCH' "$TMP/err" || fail "unknown identity: rc $rc $(cat "$TMP/err")"
ok "send refuses an invalid payload (2) and an unknown identity (4)"

echo '{"type":"Soft"}' >"$TMP/reset.json"
cid="$("$ctl" send CTL000003 Reset @"$TMP/reset.json" --ttl 30s 2>"$TMP/err")" || fail "send: $(cat "$TMP/err")"
grep -q 'written to commands-down partition' "$TMP/err" || fail "send: $(cat "$TMP/err")"
timeout 20 kcat -C -b "$KAFKA" -t commands-down -o beginning -e -q -f '%p\t%k\t%s\n' >"$TMP/cmds.tsv"
nparts="$(kcat -L -b "$KAFKA" -t commands-down | grep -c 'partition ')"
python3 - "$TMP/cmds.tsv" "$cid" "$nparts" <<'PY'
import json, sys
def murmur2(data):  # Kafka's Utils.murmur2, written independently of common/hash.c
    m, r, length = 0x5bd1e995, 24, len(data)
    h = (0x9747b28c ^ length) & 0xffffffff
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xffffffff; k ^= k >> r; k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff; h ^= k
    rest = length % 4; tail = data[length - rest:]
    if rest >= 3: h ^= tail[2] << 16
    if rest >= 2: h ^= tail[1] << 8
    if rest >= 1: h ^= tail[0]; h = (h * m) & 0xffffffff
    h ^= h >> 13; h = (h * m) & 0xffffffff; h ^= h >> 15
    return h
rows = [l.rstrip("\n").split("\t", 2) for l in open(sys.argv[1]) if l.strip()]
mine = [(int(p), k, json.loads(v)) for p, k, v in rows if json.loads(v).get("command_id") == sys.argv[2]]
assert len(mine) == 1, f"command {sys.argv[2]} found {len(mine)} times in {rows}"
part, key, rec = mine[0]
want = (murmur2(b"itest-ctl") & 0x7fffffff) % int(sys.argv[3])
assert part == want, f"partition {part}, expected {want}"
assert key == "itest-ctl", key
assert rec["cp_id"] == "CTL000003" and rec["target_pod"] == "itest-ctl" and rec["action"] == "Reset"
assert rec["payload"] == {"type": "Soft"} and rec["ttl_ms"] == 30000 and "expires_at" in rec, rec
print(f"ok: record {sys.argv[2]} on commands-down partition {part} of {sys.argv[3]} (murmur2 of the pod), key = pod, fields right")
PY

rc=0; "$ctl" send CTL000004 Reset '{"type":"Soft"}' --wait --timeout 6s >"$TMP/wait.out" 2>"$TMP/err" || rc=$?
if [ $rc -eq 124 ]; then
  grep -q 'no result for' "$TMP/err" || fail "--wait 124 without saying so"
  ok "send --wait: no final result within 6 s: exit 124"
else
  python3 - "$TMP/wait.out" "$rc" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
cid, res = lines[0], json.loads(lines[1])
codes = {"accepted": 0, "rejected": 10, "ocpp_error": 11, "timeout": 12, "expired": 13, "invalid": 14, "unsupported": 15}
assert res["command_id"] == cid, res
assert codes.get(res["status"], 16) == int(sys.argv[2]), f"status {res['status']} but exit {sys.argv[2]}"
print(f"ok: send --wait printed the result ({res['status']}) and exited {sys.argv[2]}")
PY
fi

# --wait for every result status, and the retry after the target pod dies. To produce each
# status on demand the test plays the bridge: it reads the command from commands-down with kcat
# and writes the result to command-results (key command_id), as kafka-bridge does. The charge
# point is mapped to "ghost-pod", a pod with a lease the test sets and no bridge, so the real
# pod's bridge never answers these records itself.
redis-cli -u "$REDIS_URL" SET 'conn:GHOST1' ghost-pod >/dev/null
redis-cli -u "$REDIS_URL" SET 'pod:{ghost-pod}' '{"registrations":1}' PX 120000 >/dev/null
answer() { # command_id status: write the final result
  printf '%s\t{"command_id":"%s","cp_id":"GHOST1","status":"%s","response":null}\n' "$1" "$1" "$2" |
    kcat -P -b "$KAFKA" -t command-results -K $'\t'
}
record_count() { [ "$(timeout 10 kcat -C -b "$KAFKA" -t commands-down -o beginning -e -q -f '%s\n' | grep -c "\"command_id\":\"$1\"")" -ge "$2" ]; }
for pair in accepted:0 rejected:10 ocpp_error:11 timeout:12 expired:13 invalid:14 unsupported:15 weird:16; do
  st="${pair%%:*}" want="${pair##*:}" cid="wait-$st-$RANDOM"
  "$ctl" send GHOST1 Reset '{"type":"Soft"}' --wait --timeout 20s --command-id "$cid" >"$TMP/w.out" 2>"$TMP/w.err" &
  sender=$!
  wait_until 10 "command $cid on commands-down" record_count "$cid" 1
  answer "$cid" "$st"
  rc=0; wait "$sender" || rc=$?
  [ $rc -eq "$want" ] || fail "result $st: exit $rc, expected $want ($(cat "$TMP/w.err"))"
  grep -q "\"status\":\"$st\"" "$TMP/w.out" || fail "result $st not printed: $(cat "$TMP/w.out")"
done
ok "send --wait prints the result and exits 0/10/11/12/13/14/15/16 for accepted/rejected/ocpp_error/timeout/expired/invalid/unsupported/unknown"

cid="retry-$RANDOM"
redis-cli -u "$REDIS_URL" SET 'pod:{ghost-pod}' '{"registrations":1}' PX 3000 >/dev/null
"$ctl" send GHOST1 Reset '{"type":"Hard"}' --wait --timeout 30s --command-id "$cid" >"$TMP/r.out" 2>"$TMP/r.err" &
sender=$!
wait_until 10 "command $cid on commands-down" record_count "$cid" 1
wait_until 10 "ghost-pod lease expired" redis_is 'pod:{ghost-pod}' ""
redis-cli -u "$REDIS_URL" SET 'conn:GHOST1' itest-ctl >/dev/null   # the station moved to a live pod
wait_until 10 "command $cid resent" record_count "$cid" 2
# itest-ctl is a real pod: its bridge and core now give the resent command its final result
# (GHOST1 holds no connection there, so core answers it); the exit code must follow that result
rc=0; wait "$sender" || rc=$?
python3 - "$TMP/r.out" "$rc" <<'PY' || fail "retry: exit $rc does not match the result ($(cat "$TMP/r.out" "$TMP/r.err"))"
import json, sys
res = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
codes = {"accepted": 0, "rejected": 10, "ocpp_error": 11, "timeout": 12, "expired": 13, "invalid": 14, "unsupported": 15}
assert codes.get(res["status"], 16) == int(sys.argv[2]), (res, sys.argv[2])
print(f"ok: the resent command got its final result from the live pod ({res['status']}), exit {sys.argv[2]}")
PY
grep -q "pod ghost-pod died before a result; resending $cid to itest-ctl" "$TMP/r.err" || fail "retry not reported: $(cat "$TMP/r.err")"
timeout 10 kcat -C -b "$KAFKA" -t commands-down -o beginning -e -q -f '%p\t%k\t%s\n' | grep "\"$cid\"" >"$TMP/retry.tsv"
python3 - "$TMP/retry.tsv" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t", 2) for l in open(sys.argv[1]) if l.strip()]
assert len(rows) == 2, rows
# two partitions: kcat's order between them is arbitrary; the expiry tells which came first
(p1, k1, v1), (p2, k2, v2) = sorted(rows, key=lambda r: json.loads(r[2])["expires_at"])
r1, r2 = json.loads(v1), json.loads(v2)
assert r1["command_id"] == r2["command_id"], "the retry must keep the command_id"
assert (k1, r1["target_pod"]) == ("ghost-pod", "ghost-pod") and (k2, r2["target_pod"]) == ("itest-ctl", "itest-ctl"), rows
print(f"ok: retry kept command_id {r1['command_id']}: first to ghost-pod (partition {p1}), then to itest-ctl (partition {p2})")
PY

rc=0; "$ctl" --redis redis://127.0.0.1:1 status CTL000001 2>"$TMP/err" || rc=$?
[ $rc -eq 3 ] && grep -q 'cannot reach Redis at 127.0.0.1:1' "$TMP/err" || fail "unreachable Redis: rc $rc $(cat "$TMP/err")"
rc=0; "$ctl" --kafka 127.0.0.1:1 send CTL000001 Reset '{}' 2>"$TMP/err" || rc=$?
[ $rc -eq 3 ] && grep -q 'cannot reach Kafka at 127.0.0.1:1' "$TMP/err" || fail "unreachable Kafka: rc $rc $(cat "$TMP/err")"
ok "unreachable Redis or Kafka: exit 3 and which one"

kill -TERM "$sim"; wait "$sim" || fail "cp-sim failed"
stop_pod "$POD_PID"
ok "pod stopped"
