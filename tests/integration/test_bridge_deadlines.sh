#!/usr/bin/env bash
# test_bridge_deadlines.sh: issue 14 at kafka-bridge, through the real pipeline (one pod, its
# redis-registry, kafka-dev), with command_default_ttl_ms shortened to 4 s:
#   default   a record with neither expires_at nor ttl_ms, for a station connected nowhere, is
#             parked and finished as expired after the default counted from the record's
#             timestamp (not before; the bridge may read the record a while after it was
#             written on a loaded machine), with its DLQ copy;
#             the traceparent header it was written with comes back on the result and the DLQ
#             copy; both carry content-type application/json
#   cp_id     a 49-character cp_id (one more than the edge accepts) gives result invalid with the
#             reason, and a DLQ copy; a record written without traceparent gets a new trace
#   metrics   bridge_command_duration_seconds counts both, by action and status (the refused one
#             as action "other": its action was never read)
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
export OCPPGW_COMMAND_DEFAULT_TTL_MS=4000
export OCPPGW_COMMAND_PARK_BACKOFF_MS=200 OCPPGW_COMMAND_PARK_BACKOFF_MAX_MS=500
export OCPPGW_COMMAND_REGISTRY_TIMEOUT_MS=1000
start_pod pod-a
PA=$POD_PID
admin=$(grep -o 'bridge :[0-9]*' "$TMP/pod-a.out" | tail -1 | cut -d: -f2)
bad() {
  LOG_LINES=40 bridge_logs pod-a
  fail "$*"
}
# put_tp KEY TRACEPARENT JSON: a record with a traceparent header ("" none)
put_tp() {
  local h=()
  [ -z "$2" ] || h=(-H "traceparent=$2")
  printf '%s|%s\n' "$1" "$3" |
    timeout 10 kcat -b "$K" -P -t commands-down -K'|' -X topic.partitioner=murmur2_random "${h[@]}"
}
line_of() { topic "$1" | grep -F "\"command_id\":\"$2\"" || true; }
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01

# default ----------------------------------------------------------------------------------------
written=$(date +%s.%N)
put_tp pod-a "$TP" '{"command_id":"dl-1","cp_id":"CP-NOWHERE","action":"reset"}'
wait_until 15 "dl-1 to be parked" in_log pod-a "command dl-1 parked"
# parked_by: the bridge read dl-1 before this (a loaded machine may read it seconds late)
parked_by=$(date +%s.%N)
sleep 1
# no result while the record is younger than its lifetime (looked at only while 2 s are left
# for kcat to read the topic: finished_at below proves the lower bound in every case)
if python3 -c 'import sys, time; sys.exit(0 if time.time() - float(sys.argv[1]) < 2 else 1)' "$written"; then
  [ -z "$(line_of command-results dl-1)" ] || bad "dl-1 finished before its default lifetime"
fi
wait_until 20 "the result of dl-1" has command-results '"command_id":"dl-1"'
res=$(line_of command-results dl-1)
case "$res" in
  *'status=expired'*'content-type=application/json'*"traceparent=$TP"*'"status":"expired"'*'"reason":"expires_at passed before the charge point was reached"'*) ;;
  *) bad "dl-1 result wrong: $res" ;;
esac
# the deadline counts from the record's timestamp (set by kcat just after $written), not from
# when the bridge read it (received_at)
python3 - "$res" "$written" <<'PY' || bad "dl-1 expired too early or too late (written at $written): $res"
import datetime, json, sys
v = json.loads(sys.argv[1][sys.argv[1].index("{"):])
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
d = t(v["finished_at"]) - float(sys.argv[2])
sys.exit(0 if 3.9 <= d <= 12 else 1)
PY
wait_until 15 "the DLQ copy of dl-1" has commands-dlq '"command_id":"dl-1"'
dlq=$(line_of commands-dlq dl-1)
case "$dlq" in
  *'status=expired'*'content-type=application/json'*"traceparent=$TP"*) ;;
  *) bad "dl-1 DLQ copy wrong: $dlq" ;;
esac
ok "default: a record without expiry is expired after command_default_ttl_ms (4 s) from the record's timestamp, DLQ copy, its traceparent and content-type application/json on both"

# cp_id ------------------------------------------------------------------------------------------
cp49=0123456789012345678901234567890123456789012345678
put_tp pod-a "" "{\"command_id\":\"dl-2\",\"cp_id\":\"$cp49\",\"action\":\"reset\"}"
wait_until 15 "the result of dl-2" has command-results '"command_id":"dl-2"'
res=$(line_of command-results dl-2)
case "$res" in
  *'status=invalid'*'content-type=application/json'*'"status":"invalid"'*'"reason":"cp_id is not an identity (1..48 of A-Z a-z 0-9 * - _ = + | @ .)"'*) ;;
  *) bad "dl-2 result wrong: $res" ;;
esac
grep -qE 'traceparent=00-[0-9a-f]{32}-[0-9a-f]{16}-00' <<<"$res" || bad "dl-2 has no new trace: $res"
wait_until 15 "the DLQ copy of dl-2" has commands-dlq '"command_id":"dl-2"'
ok "cp_id: 49 characters give result invalid with its reason and a DLQ copy; a new trace when the record had none"

# metrics ----------------------------------------------------------------------------------------
m=$(curl -s -m 5 "http://127.0.0.1:$admin/metrics" || true)
grep -q '^ocppgw_bridge_command_duration_seconds_count{action="reset",status="expired"} 1$' <<<"$m" ||
  bad "no duration for dl-1: $(grep command_duration <<<"$m" | head -5)"
# (a record refused before its action was read counts as action "other")
grep -q '^ocppgw_bridge_command_duration_seconds_count{action="other",status="invalid"} 1$' <<<"$m" ||
  bad "no duration for dl-2"
# (the duration counts from when the bridge read dl-1: above 1 s when it read it within 2.9 s of
# its writing, 4 s before the expiry; a bridge that read it later may rightly count less)
if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) - float(sys.argv[2]) < 2.9 else 1)' "$parked_by" "$written"; then
  grep -q '^ocppgw_bridge_command_duration_seconds_bucket{action="reset",status="expired",le="1"} 0$' <<<"$m" ||
    bad "dl-1 counted below 1 s"
else
  echo "note: dl-1 read $(python3 -c 'import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 1))' "$parked_by" "$written") s after its writing: its duration is not bounded below"
fi
ok "metrics: bridge_command_duration_seconds by action and status"

stop_pod "$PA"
ok "test_bridge_deadlines passed"
