#!/usr/bin/env bash
# test_core_restart.sh: ocpp-core alone killed with SIGKILL and started again with the same
# environment, as the kubelet restarts one container (issue 12, DESIGN-12-13 "Instances"), while
# a 2.0.1 station stays connected to ws-edge and keeps sending (tests/e2e/steady.js: a CALL every
# 300 ms, Heartbeat, StatusNotification and TransactionEvent, whose answer waits for Kafka). The
# pod runs with OCPPGW_RESTART_STAGES=1, so run.sh starts the killed core again (within 0.5 s)
# instead of stopping the pod.
#
# Checked: no CALL is black-holed (every CALL the station sends is answered within 10 s, or its
# connection is closed so that it reconnects); the CALLs after the restart are answered,
# TransactionEvent included (the event reaches Kafka and its ack the new core); a downlink command
# sent through Kafka after the restart reaches the station and ends `accepted`; Redis keeps the
# station's mapping to the pod and its boot state; the pod stops cleanly.
#
# Which path the new core takes depends on the edge in the build:
#  - an edge that sends FRAME.identity (and re-announces its connections on the core's ANNOUNCE)
#    lets the core recover the connection: then the station must stay connected throughout (no
#    close at all) and the core counts the recovery (core_conn_recovered_total);
#  - an older edge (no identity in FRAME) makes the core close the connection 1011 "connection
#    state lost, reconnect" (core_conn_state_lost_total): the station reconnects, without
#    booting again, and is served at once (the registry kept its boot state).
# The test says which one it saw; CORE_RESTART_STRICT=1 requires the first.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/metrics_lib.sh"
itest_cleanup_on_exit

# on a failure: the end of the station's log and of the core's, then fail as lib.sh does
fail() {
  echo "--- station:" >&2
  tail -n 30 "$TMP/station.log" >&2 2>/dev/null || true
  echo "--- ocpp-core:" >&2
  tail -n 30 "$TMP/$POD/log/ocpp-core-0.log" >&2 2>/dev/null || true
  echo "--- ws-edge:" >&2
  tail -n 15 "$TMP/$POD/log/ws-edge.log" >&2 2>/dev/null || true
  echo "FAIL: $*" >&2
  exit 1
}

POD=itest-core-restart
export OCPPGW_RESTART_STAGES=1
start_pod "$POD"
export OCPPGW_REDIS_URL="$REDIS_URL" OCPPGW_KAFKA_BROKERS="$KAFKA"
ok "pod ready on ws port $WS_PORT"

node "$E2E/steady.js" "ws://127.0.0.1:$WS_PORT" CPR1 ocpp2.0.1 30000 300 >"$TMP/station.log" 2>&1 &
station=$!
wait_until 10 "CPR1 booted" grep -q '^booted' "$TMP/station.log"
wait_until 15 "conn:CPR1 -> $POD" redis_is 'conn:CPR1' "$POD"
answered() { [ "$(grep -c '^A ' "$TMP/station.log")" -ge "$1" ]; }
wait_until 10 "the station served" answered 6
ok "CPR1 (2.0.1) booted and is served; Redis maps it to $POD"

# the core process of the pod: the child of run.sh running ocpp-core
core_pid() {
  local p
  for p in $(ps -o pid= --ppid "$POD_PID"); do
    [[ "$(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)" == */ocpp-core* ]] && echo "$p"
  done
  return 0
}
old="$(core_pid)"
[ -n "$old" ] || fail "no ocpp-core under run.sh ($POD_PID)"
core_admin="$(tr '\0' '\n' <"/proc/$old/environ" | sed -n 's/^OCPPGW_ADMIN_PORT=//p')"
before="$(grep -c '^S ' "$TMP/station.log")"
kill -KILL "$old"
ok "ocpp-core ($old) killed with SIGKILL after $before CALLs"
restarted() { local p; p="$(core_pid)"; [ -n "$p" ] && [ "$p" != "$old" ]; }
wait_until 20 "run.sh starting ocpp-core again" restarted
core_ready() { curl -sf --max-time 2 "http://127.0.0.1:$core_admin/readyz" >/dev/null; }
wait_until 20 "the new ocpp-core ready" core_ready
grep -q 'ocpp-core-0 exited with status 137: started again' "$POD_OUT" || fail "run.sh did not say so"
ok "ocpp-core started again ($(core_pid)) with the same environment"

# what the station sends afterwards is answered
after="$(grep -c '^S ' "$TMP/station.log")"
answered_since() { # every CALL from the n-th on answered, and at least k more of them
  awk -v n="$1" -v k="$2" '$1 == "S" { s++; if (s > n) want[$3] = 1 } $1 == "A" && ($3 in want) { a++ }
    END { exit !(a >= k) }' "$TMP/station.log"
}
wait_until 15 "CALLs answered after the restart" answered_since "$after" 6
ok "CALLs sent after the restart are answered"

# a downlink command through Kafka reaches the station and ends accepted
rc=0
"$BIN/ocppctl" send CPR1 Reset '{"type":"OnIdle"}' --wait --timeout 30s >"$TMP/cmd.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "Reset after the restart: exit $rc ($(cat "$TMP/cmd.out"))"
grep -q '^C .* Reset$' "$TMP/station.log" || fail "the station never received the Reset"
ok "a command sent after the restart reached the station: $(grep '^{' "$TMP/cmd.out" | tail -1 | cut -c1-100)"

[ "$(redis-cli -u "$REDIS_URL" GET 'conn:CPR1')" = "$POD" ] || fail "conn:CPR1 lost"
[ "$(redis-cli -u "$REDIS_URL" HGET '{conn:CPR1}:meta' boot)" = accepted ] || fail "boot state lost"
ok "Redis still maps CPR1 to $POD with boot state accepted"

wait "$station" || fail "the station failed: $(tail -5 "$TMP/station.log")"
# every CALL answered within 10 s, or its connection closed (never black-holed)
python3 - "$TMP/station.log" >"$TMP/verdict" <<'PY'
import sys
sent, answered, lost, closes, errors = {}, {}, set(), [], []
for line in open(sys.argv[1]):
    f = line.split()
    if not f:
        continue
    if f[0] == 'S':
        sent[f[2]] = (int(f[1]), f[3])
    elif f[0] == 'A':
        answered[f[2]] = int(f[1])
        if f[3] == '4':
            errors.append((f[2], f[4]))
    elif f[0] == 'L':
        lost.add(f[1])
    elif f[0] == 'X' and f[2] != '1000':
        closes.append(' '.join(f[2:]))
last = max(t for t, _ in sent.values())
black = [i for i, (t, _) in sent.items() if i not in answered and i not in lost]
late = [i for i, (t, _) in sent.items() if i in answered and answered[i] - t > 10000]
tx = [i for i, (t, a) in sent.items() if a == 'TransactionEvent' and i in answered]
assert not black, f"CALLs never answered: {black}"
assert not late, f"CALLs answered after more than 10 s: {late}"
print(f"sent {len(sent)}, answered {len(answered)}, closed before an answer {len(lost)}, "
      f"CALLERRORs {len(errors)} {sorted(set(c for _, c in errors))}, "
      f"TransactionEvents answered {len(tx)}, closes {closes}")
PY
verdict="$(cat "$TMP/verdict")"
ok "no CALL black-holed: $verdict"

recovered="$(curl -sf "http://127.0.0.1:$core_admin/metrics" | awk '/^ocppgw_core_conn_recovered_total/ {s += $NF} END {print s + 0}')"
lost="$(curl -sf "http://127.0.0.1:$core_admin/metrics" | awk '/^ocppgw_core_conn_state_lost_total/ {s += $NF} END {print s + 0}')"
if [ "$recovered" -gt 0 ]; then
  closes="$(grep '^X ' "$TMP/station.log" | grep -v ' 1000 done$' || true)"
  [ -z "$closes" ] || fail "the core recovered the connection ($recovered) but the station was closed: $closes"
  ok "the new core recovered the connection ($recovered, no close): the station stayed connected"
elif [ "$lost" -gt 0 ]; then
  [ "${CORE_RESTART_STRICT:-0}" = 1 ] && fail "CORE_RESTART_STRICT: the edge sends no FRAME.identity"
  grep -q '^X .* 1011 connection_state_lost,_reconnect' "$TMP/station.log" || fail "no 1011 close seen"
  grep -q '^R ' "$TMP/station.log" || fail "the station did not reconnect"
  ok "this edge sends no FRAME.identity: the core closed the connection 1011 ($lost) and the station reconnected without booting"
else
  fail "the new core neither recovered nor closed the connection (recovered $recovered, lost $lost)"
fi

stop_pod "$POD_PID"
ok "the pod (with its new core) stopped cleanly"
