#!/usr/bin/env bash
# test_commands_e2e.sh: a backend command reaches a charge point and its one final result comes
# back, through the whole gateway: ocppctl writes the record to the owner pod's commands-down
# partition -> kafka-bridge (route, DEDUP) -> ocpp-core (validate for the station's version,
# queue, CALL with a generated id) -> ws-edge -> cp-sim station -> CALLRESULT -> core -> result
# on command-results -> ocppctl --wait. Both OCPP versions, an accepted and a rejected answer,
# a payload invalid for the station's version, and a replay of the same command_id that must not
# reach the station a second time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

start_pod itest-cmd
export OCPPGW_REDIS_URL="$REDIS_URL" OCPPGW_KAFKA_BROKERS="$KAFKA"
ctl="$BIN/ocppctl"
# 8 stations, about half of them 2.0.1; every station rejects UnlockConnector
"$BIN/cp-sim" --url "ws://127.0.0.1:$WS_PORT/ocpp" --source_addresses 127.0.0.2-127.0.0.3 --count 8 \
  --identity_prefix CMD --v201_percent 50 --duration_ms 90s --heartbeat_interval_ms 5s \
  --session_every_ms 0 --downlink_reject UnlockConnector --log_file "$TMP/sim.log" --progress off \
  >"$TMP/sim.txt" 2>&1 &
sim=$!

pods_show() { "$ctl" pods | grep -qE "^itest-cmd +8 "; }
wait_until 20 "8 stations connected" pods_show

# one station of each version
v16="" v201=""
for i in 1 2 3 4 5 6 7 8; do
  id="$(printf 'CMD%06d' "$i")"
  ver="$("$ctl" status "$id" | awk '$1 == "version" {print $2}')"
  [ "$ver" = 1.6 ] && [ -z "$v16" ] && v16="$id"
  [ "$ver" = 2.0.1 ] && [ -z "$v201" ] && v201="$id"
done
[ -n "$v16" ] && [ -n "$v201" ] || fail "need one station of each version (1.6: '$v16', 2.0.1: '$v201')"
ok "stations $v16 (1.6) and $v201 (2.0.1) connected"

send() { # identity action payload expected-exit [extra args]: prints the result line
  local id="$1" action="$2" payload="$3" want="$4"; shift 4
  local rc=0
  "$ctl" send "$id" "$action" "$payload" --wait --timeout 30s "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  [ $rc -eq "$want" ] || fail "$action to $id: exit $rc, expected $want ($(cat "$TMP/out" "$TMP/err"))"
  grep '^{' "$TMP/out" | tail -1
}

res="$(send "$v16" UnlockConnector '{"connectorId":1}' 10)"
ok "a station's negative answer is result rejected (exit 10): $res"

res="$(send "$v201" Reset '{"type":"Soft"}' 14)"
ok "a payload invalid for the station's version (1.6 shape to 2.0.1) is result invalid (exit 14): $res"

# last: cp-sim stations reboot (disconnect and reconnect) after accepting a Reset
res="$(send "$v16" Reset '{"type":"Soft"}' 0)"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["status"]=="accepted" and r["cp_id"]==sys.argv[2], r' "$res" "$v16"
ok "1.6 Reset delivered and accepted: $res"
res="$(send "$v201" Reset '{"type":"Immediate"}' 0)"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["status"]=="accepted", r' "$res"
ok "2.0.1 Reset delivered and accepted: $res"

# the same command_id again: de-duplicated, the station must not see it twice (the 1.6 station
# rebooted after its Reset: wait until it is back)
back() { "$ctl" status "$v16" 2>/dev/null | grep -qE '^owner +itest-cmd \(live\)$'; }
wait_until 30 "$v16 back after its reboot" back
cid="e2e-dup-$RANDOM"
send "$v16" ClearCache '{}' 0 --command-id "$cid" >/dev/null
"$ctl" send "$v16" ClearCache '{}' --command-id "$cid" >/dev/null 2>&1
sleep 3                                 # give a wrongly delivered replay time to arrive
kill -INT "$sim"; wait "$sim" || true   # cp-sim writes its log out when it ends
seen="$(grep -c "^D 0 $v16 ClearCache:" "$TMP/sim.log" || true)"
[ "$seen" = 1 ] || fail "ClearCache reached $v16 $seen times, expected once"
ok "a replayed command_id is not delivered twice (the station saw ClearCache once)"

timeout 10 kcat -C -b "$KAFKA" -t command-results -o beginning -e -q -f '%k\t%s\n' >"$TMP/results.tsv"
n="$(grep -c "^$cid"$'\t' "$TMP/results.tsv" || true)"
[ "$n" -ge 1 ] || fail "no result for $cid on command-results"
ok "results on command-results keyed by command_id ($(wc -l <"$TMP/results.tsv") results)"
