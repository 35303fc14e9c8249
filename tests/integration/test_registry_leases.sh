#!/usr/bin/env bash
# test_registry_leases.sh: pod leases, stale mappings, the sweeper and the partition takeover,
# with a real redis-server and three real redis-registry processes (issue 7).
#  1. pod-a holds 20 charge points and dies (SIGKILL: no goodbye). Once its lease expires,
#     lookups report its mappings stale (live=false) before they are swept;
#  2. after the grace period exactly one sweeper at a time removes them: every mapping is gone
#     and exactly one device.disconnected (CloudEvents JSON, key = identity) per charge point
#     was emitted towards kafka-bridge, across both surviving pods;
#  3. exactly one surviving pod wins the fenced takeover of pod-a's partition (TAKEOVER active)
#     and keeps it while pod-a is dead: TAKEOVER_DONE (the bridge stopped reading) does not end a
#     claim still held, it is repeated; once pod-a has been dead for orphan_forget_ms it is
#     forgotten (TAKEOVER active=false, gone from the pods set, never taken over again);
#  4. a pod that is only paused loses its lease, gets taken over, and on SIGCONT the takeover is
#     stopped (TAKEOVER active=false) as its lease comes back.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit

start_redis
start_registry pod-a
start_registry pod-b OCPPGW_SWEEP_GRACE_MS=3s OCPPGW_ORPHAN_FORGET_MS=10s
start_registry pod-c OCPPGW_SWEEP_GRACE_MS=3s OCPPGW_ORPHAN_FORGET_MS=10s

for i in $(seq 0 19); do drv pod-a register 0 "S$i" "$((100 + i))" accepted; done
registered_s() { [ "$(grep -E '^registered 0 S[0-9]+ ' "$TMP/pod-a.drv" | cut -d' ' -f3 | sort -u | wc -l)" = 20 ]; }
wait_until 10 "20 registrations" registered_s
[ "$(rcli SCARD 'pod:{pod-a}:conns')" = 20 ] || fail "pod-a's set does not hold 20"
drv pod-b lookup 1 S1
expect_line 5 pod-b '^owner 1 S1 pod-a [0-9]+ 1 0$' >/dev/null
ok "20 charge points on pod-a, lookup from pod-b: live"

kill_registry pod-a
wait_until 10 "pod-a's lease to expire" key_is 'pod:{pod-a}' EXISTS 0
drv pod-b lookup 2 S1
expect_line 5 pod-b '^owner 2 S1 pod-a [0-9]+ 0 0$' >/dev/null
ok "pod-a killed, lease expired: lookup reports S1 stale (live=0) while the grace period runs"

wait_until 15 "pod-a's mappings swept" key_is 'pod:{pod-a}:conns' SCARD 0
sleep 1 # a second sweeper round must not emit anything again
for i in $(seq 0 19); do
  [ -z "$(rcli GET "conn:S$i")" ] || fail "conn:S$i not swept"
done
cat "$TMP/pod-b.drv" "$TMP/pod-c.drv" | grep '^event ocpp-events-up ' >"$TMP/events" || true
[ "$(wc -l <"$TMP/events")" = 20 ] || fail "expected 20 device.disconnected, got $(wc -l <"$TMP/events")"
python3 - "$TMP/events" <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    _, topic, key, value = line.rstrip("\n").split(" ", 3)
    ev = json.loads(value)
    for f in ("specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"):
        assert f in ev, f"{f} missing: {value}"
    assert ev["type"] == "device.disconnected" and ev["subject"] == key, value
    assert ev["data"]["close_code"] == 1006 and "(pod pod-a, epoch " in ev["data"]["reason"], value
    assert set(ev["data"]) == {"close_code", "reason"}, value  # the published schema's fields
    assert len(ev["id"]) == 32 and all(c in "0123456789abcdef" for c in ev["id"]), value
    assert ev["dataschema"].endswith("/event-device.disconnected.json"), value
    assert key not in seen, f"{key} swept twice"
    seen.add(key)
assert seen == {f"S{i}" for i in range(20)}, seen
PY
drv pod-b lookup 3 S1
expect_line 5 pod-b '^owner 3 S1 - 0 0 0$' >/dev/null
ok "all 20 stale mappings swept, exactly one device.disconnected each, lookup now says none"

wait_until 10 "a takeover of pod-a" grep -qh '^takeover pod-a [0-9]* 1$' "$TMP/pod-b.drv" "$TMP/pod-c.drv"
winners="$(grep -l '^takeover pod-a [0-9]* 1$' "$TMP/pod-b.drv" "$TMP/pod-c.drv")"
[ "$(echo "$winners" | wc -l)" = 1 ] || fail "more than one pod took pod-a over"
winner="$(basename "$winners" .drv)"
tepoch="$(grep '^takeover pod-a [0-9]* 1$' "$TMP/$winner.drv" | cut -d' ' -f3)"
[ "$(rcli GET 'takeover:{pod-a}')" = "$winner $tepoch" ] || fail "takeover key: $(rcli GET 'takeover:{pod-a}')"
drv "$winner" takeover_done pod-a "$tepoch"
expect_line 5 "$winner" "^takeover pod-a $tepoch 1$" >/dev/null
wait_until 5 "the takeover repeated" sh -c "[ \$(grep -c '^takeover pod-a $tepoch 1$' '$TMP/$winner.drv') -ge 2 ]"
[ "$(rcli GET 'takeover:{pod-a}')" = "$winner $tepoch" ] || fail "claim not kept: $(rcli GET 'takeover:{pod-a}')"
ok "exactly one pod ($winner, epoch $tepoch) took over pod-a's partition; TAKEOVER_DONE did not end the claim (repeated)"
pod_known() { [ "$(rcli SISMEMBER ocppgw:pods "$1")" = 1 ]; }
wait_until 15 "pod-a forgotten after orphan_forget_ms" not pod_known pod-a
expect_line 5 "$winner" "^takeover pod-a $tepoch 0$" >/dev/null
[ -z "$(rcli GET 'takeover:{pod-a}')" ] || fail "takeover claim still held"
sleep 1.5
[ "$(cat "$TMP/pod-b.drv" "$TMP/pod-c.drv" | grep -c '^takeover pod-a [0-9]* 1$')" = 2 ] ||
  fail "pod-a taken over again after it was forgotten"
ok "after orphan_forget_ms pod-a is forgotten (TAKEOVER active=false), no longer a known pod, not taken over again"

start_registry pod-d
kill -STOP "$(reg_pid pod-d)"
wait_until 10 "a takeover of pod-d" grep -qh '^takeover pod-d [0-9]* 1$' "$TMP/pod-b.drv" "$TMP/pod-c.drv"
kill -CONT "$(reg_pid pod-d)"
wait_until 10 "takeover of pod-d stopped" grep -qh '^takeover pod-d [0-9]* 0$' "$TMP/pod-b.drv" "$TMP/pod-c.drv"
[ -z "$(rcli GET 'takeover:{pod-d}')" ] || fail "takeover claim of pod-d still held"
ok "paused pod-d was taken over and the takeover stopped when its lease came back"

m=""
for p in pod-b pod-c; do
  m+="$(curl -sf "$(admin_url "$p")/metrics")"$'\n'
done
swept="$(echo "$m" | awk '/^ocppgw_registry_stale_swept_total /{s+=$2} END{print s}')"
[ "$swept" = 20 ] || fail "stale swept metric sums to $swept"
ok "ocppgw_registry_stale_swept_total sums to 20 across the sweepers"
