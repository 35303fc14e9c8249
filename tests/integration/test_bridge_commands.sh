#!/usr/bin/env bash
# test_bridge_commands.sh: command routing of kafka-bridge with two pods, one Redis, one
# kafka-dev (DESIGN §5, docs/commands.md). Pods pod-a (partition 3 of 4) and pod-b (partition 2).
# Records are written the way a backend does: key = target pod, murmur2 partitioner.
#   here     CP connected to pod-b        -> pod-b asks DEDUP (then COMMAND to core)
#   moved    CP connected to pod-b        -> re-published to partition 2, target_pod pod-b,
#                                            hops 1; pod-b takes it as "here"
#   nowhere  CP connected nowhere         -> parked; result expired + DLQ copy at expiry
#   appears  CP shows up while parked     -> re-check finds it on pod-b: forwarded
#   hops     hops already at the bound    -> result expired (hop limit) + DLQ copy
#   invalid  bad JSON / missing fields    -> result invalid + DLQ copy; the partition goes on
#   skip     record for another pod sharing pod-b's partition -> skipped
#   restart  parked command, pod-a restarted -> read again (offset was not committed), then
#            forwarded exactly once
#   takeover TAKEOVER for dead pod-c (partition 0) -> pod-a drains it from group ocppgw-pod-c's
#            committed offsets (forward + expire) and reads on (no TAKEOVER_DONE): a command
#            written long after the drain (a backend with a stale lookup) is still read and
#            forwarded; the registry repeating its claim keeps the reader; active=false ends it
#            (TAKEOVER_DONE once its offsets are committed); a new claim resumes from the
#            committed offsets, nothing handled twice; active=false leaves a parked command
#            uncommitted, so the next claim reads it again.
# The pods run the real redis-registry (DEDUP, leases), but the test writes the ownership keys
# conn:<cp> and the lease keys pod:{<pod>} itself so that each case starts from a known map,
# and plays the registry's TAKEOVER for pod-c, a pod that never ran, with `envelope-tool
# takeover` (the exact envelope the registry sends; test_bridge_failover.sh has a real registry
# take over a real dead pod).
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
export OCPPGW_COMMAND_REGISTRY_TIMEOUT_MS=1000

start_pod pod-a
PA=$POD_PID
start_pod pod-b
PB=$POD_PID
R() { redis-cli -p "$RPORT" "$@" >/dev/null; }
R set 'pod:{pod-a}' 1 EX 600
R set 'pod:{pod-b}' 1 EX 600

blog() { grep -v "\"level\":\"debug\"" "$TMP/$1/log/kafka-bridge.log" || true; }
bad() {
  LOG_LINES=40 bridge_logs pod-a pod-b
  fail "$*"
}
# line_of TOPIC ID: the record(s) of command ID in TOPIC (no pipe into grep -q: pipefail+SIGPIPE)
line_of() { topic "$1" | grep -F "\"command_id\":\"$2\"" || true; }
metric() { { curl -s -m 5 "http://127.0.0.1:$1/metrics" || true; } | sed -n "s/^ocppgw_$2 //p"; }
admin_of() { grep -o 'bridge :[0-9]*' "$TMP/$1.out" | tail -1 | cut -d: -f2; }
AA=$(admin_of pod-a)
AB=$(admin_of pod-b)

# here ---------------------------------------------------------------------------------------
# (on pod-b: until the registry answers DEDUP, c-here holds back pod-b's commits, and pod-a is
# the pod restarted below)
R set 'conn:CP-H' pod-b
put pod-b '{"command_id":"c-here","cp_id":"CP-H","action":"reset","target_pod":"pod-b","ttl_ms":60000}'
wait_until 15 "c-here to be taken as here" in_log pod-b "command c-here for CP-H: connected here, DEDUP"
ok "here: pod-b routes c-here to its core via DEDUP"

# moved --------------------------------------------------------------------------------------
R set 'conn:CP-M' pod-b
put pod-a '{"command_id":"c-moved","cp_id":"CP-M","action":"reset","target_pod":"pod-a","ttl_ms":60000,"payload":{"type":"Soft"}}'
wait_until 15 "c-moved on pod-b's partition" has commands-down '"command_id":"c-moved"' -p 2
rec=$(topic commands-down -p 2 | grep -F '"command_id":"c-moved"' || true)
case "$rec" in
  *'target_pod=pod-b'*'"target_pod":"pod-b"'*'"hops":1'*) ;;
  *) bad "forwarded record wrong: $rec" ;;
esac
grep -qF '"payload":{"type":"Soft"}' <<<"$rec" || bad "payload lost in the forward: $rec"
wait_until 15 "pod-b to take c-moved" in_log pod-b "command c-moved for CP-M: connected here, DEDUP"
ok "moved: re-published to partition 2 with target_pod pod-b, hops 1; pod-b takes it"

# nowhere -> expired -----------------------------------------------------------------------
# (its 2.5 s count from the record's timestamp, just after $written, not from when the bridge
# read it: on a loaded machine it may be parked late, so the topic is looked at right after the
# park only while 1.5 s are left, and "not finished before it expired" is proved by finished_at)
written=$(date +%s.%N)
put pod-a '{"command_id":"c-nowhere","cp_id":"CP-N","action":"reset","ttl_ms":2500}'
wait_until 10 "c-nowhere parked" in_log pod-a "command c-nowhere parked"
if python3 -c 'import sys, time; sys.exit(0 if time.time() - float(sys.argv[1]) < 1 else 1)' "$written"; then
  has command-results '"command_id":"c-nowhere"' && bad "c-nowhere finished before it expired"
fi
wait_until 20 "result expired for c-nowhere" has command-results '"command_id":"c-nowhere"'
res=$(line_of command-results c-nowhere)
grep -qF '"status":"expired"' <<<"$res" || bad "c-nowhere result is not expired"
python3 - "$res" "$written" <<'PY' || bad "c-nowhere finished before it expired (written at $written): $res"
import datetime, json, sys
v = json.loads(sys.argv[1][sys.argv[1].index("{"):])
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
sys.exit(0 if t(v["finished_at"]) - float(sys.argv[2]) >= 2.45 else 1)
PY
wait_until 10 "DLQ copy of c-nowhere" has commands-dlq '"command_id":"c-nowhere"'
ok "nowhere: parked, then result expired + DLQ copy"

# appears while parked -------------------------------------------------------------------------
put pod-a '{"command_id":"c-appears","cp_id":"CP-L","action":"reset","ttl_ms":60000}'
wait_until 10 "c-appears parked" in_log pod-a "command c-appears parked"
R set 'conn:CP-L' pod-b
wait_until 15 "c-appears forwarded" has commands-down '"command_id":"c-appears"' -p 2
ok "appears: a parked command follows its charge point once the registry knows it"

# hop bound ------------------------------------------------------------------------------------
put pod-a '{"command_id":"c-hops","cp_id":"CP-M","action":"reset","target_pod":"pod-a","hops":3,"ttl_ms":60000}'
wait_until 15 "result for c-hops" has command-results '"command_id":"c-hops"'
grep -F '"status":"expired"' <<<"$(line_of command-results c-hops)" | grep -qF 'hop limit' ||
  bad "c-hops result is not expired/hop limit"
wait_until 10 "DLQ copy of c-hops" has commands-dlq '"command_id":"c-hops"'
[ "$(count_in commands-down '"command_id":"c-hops"' -p 2)" -eq 0 ] || bad "c-hops forwarded beyond the bound"
ok "hop bound: result expired (hop limit) + DLQ, not forwarded"

# invalid, and the partition goes on -----------------------------------------------------------
put pod-a '{not json'
put pod-a '{"command_id":"c-noaction","cp_id":"CP-X"}'
put pod-a '{"command_id":"c-after","cp_id":"CP-M","action":"reset","ttl_ms":60000}'
wait_until 15 "result for c-noaction" has command-results '"command_id":"c-noaction"'
grep -F '"status":"invalid"' <<<"$(line_of command-results c-noaction)" | grep -qF 'action missing' ||
  bad "c-noaction result wrong"
has command-results '"reason":"record is not valid JSON"' || bad "no invalid result for the bad JSON record"
has commands-dlq '{not json' || bad "bad JSON record not copied to the DLQ"
wait_until 15 "c-after forwarded after the invalid records" has commands-down '"command_id":"c-after"' -p 2
ok "invalid: results invalid with reasons + DLQ copies; the next record is still routed"

# skip -----------------------------------------------------------------------------------------
before=$(metric "$AB" bridge_commands_skipped_total)
put pod-zzz '{"command_id":"c-zzz","cp_id":"CP-M","action":"reset","target_pod":"pod-zzz"}'
wait_until 15 "pod-b to skip c-zzz" bash -c "[ \"\$(curl -s http://127.0.0.1:$AB/metrics | sed -n 's/^ocppgw_bridge_commands_skipped_total //p')\" -gt $before ]"
sleep 1
has command-results '"command_id":"c-zzz"' && bad "a record for another pod got a result"
ok "skip: pod-b leaves the record of pod-zzz (same partition) alone"

# restart: a parked command is read again ------------------------------------------------------
put pod-a '{"command_id":"c-park","cp_id":"CP-P","action":"reset","ttl_ms":120000}'
wait_until 10 "c-park parked" in_log pod-a "command c-park parked"
sleep 1.5 # past an auto-commit: the commit must not include the parked record
stop_pod "$PA"
mv "$TMP/pod-a" "$TMP/pod-a.1"
mv "$TMP/pod-a.out" "$TMP/pod-a.1.out" # start_pod must not find the old "ready"
start_pod pod-a
PA=$POD_PID
AA=$(admin_of pod-a)
wait_until 15 "c-park read again after the restart" in_log pod-a "command c-park parked"
in_log pod-a "command c-moved" && bad "pod-a re-read a command it had finished before the restart"
R set 'conn:CP-P' pod-b
wait_until 15 "c-park forwarded" has commands-down '"command_id":"c-park"' -p 2
sleep 1
[ "$(count_in commands-down '"command_id":"c-park"' -p 2)" -eq 1 ] || bad "c-park forwarded more than once"
ok "restart: the parked command survived the restart and was forwarded once"

# orphan takeover --------------------------------------------------------------------------------
put pod-c '{"command_id":"c-orphan-1","cp_id":"CP-M","action":"reset","target_pod":"pod-c","ttl_ms":60000}'
put pod-c '{"command_id":"c-orphan-2","cp_id":"CP-N2","action":"reset","target_pod":"pod-c","ttl_ms":1500}'
sleep 2
"$TBIN/envelope-tool" takeover "$TMP/pod-a/ipc" pod-c 7 1
wait_until 15 "c-orphan-1 forwarded by the taker" has commands-down '"command_id":"c-orphan-1"' -p 2
wait_until 15 "c-orphan-2 expired" has command-results '"command_id":"c-orphan-2"'
wait_until 15 "pod-c drained, read on" in_log pod-a "pod pod-c drained (epoch 7): reading on"
n=$(metric "$AA" bridge_orphan_takeovers_total)
[ "$n" = 1 ] || bad "takeover counted '$n' on port $AA"
ok "takeover: pod-c's partition drained by pod-a (forward + expire), read on"
"$TBIN/envelope-tool" takeover "$TMP/pod-a/ipc" pod-c 8 1 # the registry repeats its claim
sleep 3 # long after the drain: a backend with a stale lookup writes to pod-c's partition
put pod-c '{"command_id":"c-orphan-late","cp_id":"CP-M","action":"reset","target_pod":"pod-c","ttl_ms":60000}'
wait_until 15 "c-orphan-late forwarded by the taker" has commands-down '"command_id":"c-orphan-late"' -p 2
wait_until 15 "pod-c drained again" in_log pod-a "pod pod-c drained (epoch 8): reading on"
in_log pod-a "TAKEOVER_DONE" && bad "TAKEOVER_DONE while pod-c is dead"
[ "$(grep -cF 'for pod pod-c (group ocppgw-pod-c): orphan takeover' "$TMP/pod-a/log/kafka-bridge.log")" -eq 1 ] ||
  bad "the repeated claim started a second reader"
ok "stale lookup: a command written 3 s after the drain is read and forwarded by the same reader"
sleep 1.5 # past an auto-commit
"$TBIN/envelope-tool" takeover "$TMP/pod-a/ipc" pod-c 8 0
wait_until 15 "TAKEOVER_DONE after the stop" in_log pod-a "orphan takeover of pod pod-c (epoch 8) over: TAKEOVER_DONE"
"$TBIN/envelope-tool" takeover "$TMP/pod-a/ipc" pod-c 9 1
wait_until 15 "the new claim to drain" in_log pod-a "pod pod-c drained (epoch 9): reading on"
[ "$(count_in commands-down '"command_id":"c-orphan-1"' -p 2)" -eq 1 ] || bad "a drained record was handled twice"
[ "$(count_in commands-down '"command_id":"c-orphan-late"' -p 2)" -eq 1 ] || bad "c-orphan-late was handled twice"
ok "active=false: TAKEOVER_DONE; a new claim resumes from pod-c's committed offsets, nothing handled twice"
put pod-c '{"command_id":"c-orphan-3","cp_id":"CP-Q","action":"reset","target_pod":"pod-c","ttl_ms":120000}'
wait_until 15 "c-orphan-3 parked by the taker" in_log pod-a "command c-orphan-3 parked"
"$TBIN/envelope-tool" takeover "$TMP/pod-a/ipc" pod-c 9 0
wait_until 15 "takeover stopped" in_log pod-a "orphan takeover of pod pod-c (epoch 9) over: TAKEOVER_DONE"
"$TBIN/envelope-tool" takeover "$TMP/pod-a/ipc" pod-c 10 1
wait_until 15 "c-orphan-3 read again" bash -c "[ \"\$(grep -cF 'command c-orphan-3 parked' '$TMP/pod-a/log/kafka-bridge.log')\" -ge 2 ]"
ok "takeover stop (active=false): the parked record stays uncommitted and is read again"

stop_pod "$PB"
stop_pod "$PA"
echo "test_bridge_commands: all passed"
