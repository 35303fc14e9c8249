#!/usr/bin/env bash
# test_cp_sim_downlink.sh: cp-sim answers CSMS-initiated calls over a real WebSocket (issue 8).
#
# The CSMS here is ws_echo (tests/tools/ws_echo/, a real epoll WebSocket server built by
# `make tests`) rather than the gateway, so that hundreds of CSMS calls of several actions come
# at a steady rate (test_commands_e2e.sh sends commands through the gateway): it answers every
# CALL and, after every 3rd answer, sends a CSMS call (ChangeAvailability, DataTransfer,
# TriggerMessage Heartbeat, UnlockConnector, GetLocalListVersion in turn). Checked: every call
# gets a CALLRESULT (none lost, no CALLERROR), the stations answer positively except the actions
# of downlink_reject, TriggerMessage makes them send a Heartbeat, and nothing is left unanswered.
# A second run with log_format detailed: every line has its time (non-decreasing), one C line
# (with the local port) per station, D lines with the CSMS call's message id and the command
# reference a DataTransfer carries, the fields per kind, and E last.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

"$TBIN/ws_echo" 0 3 >"$TMP/echo.out" 2>&1 &   # port 0: it binds a free port and prints it
echo_pid=$!
wait_until 10 "ws_echo listening ($(cat "$TMP/echo.out" 2>/dev/null))" grep -q listening "$TMP/echo.out"
port="$(sed -nE 's/^ws_echo: listening on ([0-9]+)$/\1/p' "$TMP/echo.out")"

"$BIN/cp-sim" --url "ws://127.0.0.1:$port/ocpp" --count 40 --v201_percent 50 --mode load \
  --msg_rate 400 --duration_ms 4s --downlink_reject UnlockConnector --log_file "$TMP/sim.log" \
  --progress off >"$TMP/report.txt"
kill -TERM "$echo_pid"; wait "$echo_pid"
cat "$TMP/report.txt" "$TMP/echo.out"

sent="$(sed -nE 's/.*downlink calls sent ([0-9]+), replies ([0-9]+) results \+ ([0-9]+) errors/\1 \2 \3/p' "$TMP/echo.out")"
read -r dl_sent dl_results dl_errors <<<"$sent"
[ "$dl_sent" -ge 100 ] || fail "only $dl_sent CSMS calls sent"
[ "$dl_results" -eq "$dl_sent" ] || fail "CSMS sent $dl_sent calls, got $dl_results CALLRESULTs"
[ "$dl_errors" -eq 0 ] || fail "$dl_errors CALLERRORs"
grep -q "downlink calls answered $dl_sent\$" "$TMP/report.txt" || fail "cp-sim counted a different number of CSMS calls"
ok "$dl_sent CSMS calls, $dl_results CALLRESULTs, 0 CALLERRORs"

for a in ChangeAvailability:accept DataTransfer:accept TriggerMessage:accept GetLocalListVersion:accept UnlockConnector:reject; do
  grep -q " $a\$" "$TMP/sim.log" || fail "no $a in the log"
done
if grep -q ' UnlockConnector:accept$' "$TMP/sim.log"; then fail "UnlockConnector accepted despite downlink_reject"; fi
ok "answers accept every action except UnlockConnector (downlink_reject)"

python3 - "$TMP/sim.log" <<'PY'
import sys
lines = [l.split() for l in open(sys.argv[1])]
trig = {i for i, l in enumerate(lines) if l[0] == 'D' and l[3] == 'TriggerMessage:accept'}
# the station answers TriggerMessage Heartbeat with a Heartbeat it sends next
hb_after = 0
for i in trig:
    ident = lines[i][2]
    for l in lines[i + 1:]:
        if l[2] == ident and l[0] == 'S':
            hb_after += l[3] == 'Heartbeat'
            break
assert hb_after >= len(trig) // 2, f"{hb_after} of {len(trig)} triggers followed by a Heartbeat"
sent = {l[1] for l in lines if l[0] == 'S'}
acked = {l[1] for l in lines if l[0] == 'A'}
assert sent == acked, f"unanswered: {sorted(sent - acked)[:5]}"
print(f"ok: {hb_after} of {len(trig)} TriggerMessage(Heartbeat) answered by an immediate Heartbeat; all {len(sent)} CALLs answered")
PY

"$TBIN/ws_echo" 0 3 >"$TMP/echo2.out" 2>&1 &
echo_pid=$!
wait_until 10 "ws_echo listening" grep -q listening "$TMP/echo2.out"
port="$(sed -nE 's/^ws_echo: listening on ([0-9]+)$/\1/p' "$TMP/echo2.out")"
"$BIN/cp-sim" --url "ws://127.0.0.1:$port/ocpp" --count 20 --mode load --msg_rate 200 \
  --duration_ms 2s --log_file "$TMP/detailed.log" --log_format detailed --progress off >/dev/null
kill -TERM "$echo_pid"; wait "$echo_pid"
python3 - "$TMP/detailed.log" <<'PY'
import re, sys
lines = [l.split() for l in open(sys.argv[1])]
assert lines and lines[-1][1:] == ["E", "0", "-", "end"], f"last line {lines[-1]}"
times = [int(l[0]) for l in lines]
assert times == sorted(times), "times go backwards"
fields = {"S": 5, "A": 5, "Q": 5, "C": 5, "X": 5, "E": 5, "D": 6}
for l in lines:
    assert len(l) == fields[l[1]], f"fields of {l}"
conns = [l for l in lines if l[1] == "C"]
assert len({l[3] for l in conns}) == 20 and all(l[2].isdigit() and l[4] in ("ocpp1.6", "ocpp2.0.1") for l in conns), conns[:3]
dl = [l for l in lines if l[1] == "D"]
assert dl and all(re.fullmatch(r"d[0-9]+", l[2]) for l in dl), dl[:3]
assert len({l[2] for l in dl}) == len(dl), "a CSMS message id logged twice"
dt = [l for l in dl if l[4].startswith("DataTransfer:")]
assert dt and all(l[5] == "ws-echo-ref" for l in dt), dt[:3]
assert all(l[5] == "-" for l in dl if not l[4].startswith("DataTransfer:"))
print(f"ok: detailed log: {len(lines)} lines, {len(conns)} connections, {len(dl)} CSMS calls with message ids, {len(dt)} DataTransfer references")
PY
