#!/usr/bin/env bash
# test_bridge_kafka_down.sh: every Kafka broker down for ~10 s under the real pipeline (issue 12):
# one pod (start_pod) on a kafka-dev we control, a producer queue of 2 records so that the bridge
# meets QUEUE_FULL, two stations sending Heartbeats and six stations in a transaction sending
# MeterValues (tests/integration/ocpp_station.py logs when each CALL was sent and answered).
# While every broker is down:
#   - the bridge's /healthz stays 200 (its loop never waits on Kafka) and /readyz too;
#   - Heartbeats keep being answered (they need no Kafka);
#   - no transaction message sent during the outage is answered before the brokers are back
#     (persist before acknowledging), and the bridge stopped reading its input (QUEUE_FULL:
#     bridge_queue_full_total, bridge_input_paused);
# and afterwards every transaction message answered is on ocpp-events-up (by message id), the
# input is read again and nothing is left waiting.
# Env: BUILD. Exit 0 on success.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/bridge_lib.sh
source "$(dirname "$0")/bridge_lib.sh"
itest_cleanup_on_exit
command -v kcat >/dev/null || fail "kcat not installed"

start_kafka_dev
export OCPPGW_KAFKA_BROKERS="$K" OCPPGW_KAFKA_QUEUE_MESSAGES=2 OCPPGW_KAFKA_LINGER_MS=5
start_pod pod-k
POD=$POD_PID
BA=$(grep -o 'bridge :[0-9]*' "$TMP/pod-k.out" | tail -1 | cut -d: -f2)
[ -n "$BA" ] || fail "no admin port of the bridge in $TMP/pod-k.out"

bad() {
  echo "--- bridge / core log:" >&2
  grep -hv '"level":"debug"' "$TMP/pod-k/log/kafka-bridge.log" "$TMP/pod-k/log/ocpp-core.log" 2>/dev/null | tail -n 25 | cut -c1-300 >&2 || true
  fail "$*"
}
ctl() { kafka_ctl "$@"; }
metric() { { curl -s -m 5 "http://127.0.0.1:$BA/metrics" || true; } | sed -n "s/^ocppgw_$1 //p"; }

# stations: 2 heartbeat, 6 in a transaction, for 30 s
for i in 1 2; do
  python3 "$ROOT/tests/integration/ocpp_station.py" "$WS_PORT" "KD-HB$i" hb "$TMP/hb.log" 30 \
    2>>"$TMP/stations.err" &
  echo $! >>"$TMP/hb.pids"
done
for i in 1 2 3 4 5 6; do
  python3 "$ROOT/tests/integration/ocpp_station.py" "$WS_PORT" "KD-TX$i" tx "$TMP/tx.log" 30 \
    2>>"$TMP/stations.err" &
  echo $! >>"$TMP/tx.pids"
done
answered() { [ "$(grep -c "^A .* ok$" "$1" 2>/dev/null || true)" -ge "$2" ]; }
wait_until 30 "transactions running" answered "$TMP/tx.log" 30
wait_until 10 "heartbeats answered" answered "$TMP/hb.log" 4
ok "8 stations connected: heartbeats and meter values answered"

# /healthz and /readyz polled every 0.2 s for the whole outage
( while :; do
    echo "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$BA/healthz") \
$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$BA/readyz")"
    sleep 0.2
  done ) >"$TMP/health.log" 2>/dev/null &
HEALTH=$!

ctl "broker-down all"
T1=$(date +%s.%N) # from here nothing reaches a broker
sleep 5
paused=$(metric bridge_input_paused)
sleep 5
T2=$(date +%s.%N)
ctl "broker-up all"
ok "every broker down for 10 s"
kill "$HEALTH" 2>/dev/null || true
full=$(metric bridge_queue_full_total)
[ "${full:-0}" -ge 1 ] || bad "the producer queue never filled (bridge_queue_full_total '$full')"
[ "$paused" = 1 ] || bad "the input was not paused in the middle of the outage (bridge_input_paused '$paused')"

# the transaction stations end their runs; every one of their CALLs gets its answer
for p in $(cat "$TMP/tx.pids" "$TMP/hb.pids"); do
  wait "$p" || bad "a station failed: $(cat "$TMP/stations.err")"
done
ok "stations done"

grep -qv '^200 200$' "$TMP/health.log" && bad "/healthz or /readyz not 200 during the outage: $(sort "$TMP/health.log" | uniq -c)"
ok "bridge /healthz and /readyz 200 throughout ($(wc -l <"$TMP/health.log") probes)"

python3 - "$TMP/hb.log" "$TMP/tx.log" "$T1" "$T2" <<'PY' || bad "answers during the outage wrong"
import sys
hb, tx, t1, t2 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
def read(path):
    sent, ans, act = {}, {}, {}
    for line in open(path):
        k, t, mid, what = line.split()
        if k == "S":
            sent[mid], act[mid] = float(t), what
        else:
            ans[mid] = (float(t), what)
    return sent, ans, act
s, a, _ = read(hb)
during = sorted(t for t, w in a.values() if t1 + 1 <= t <= t2 and w == "ok")
assert len(during) >= 10, f"only {len(during)} heartbeats answered during the outage"
gaps = [b - x for x, b in zip([t1 + 1] + during, during + [t2])]
assert max(gaps) < 3, f"heartbeats not answered for {max(gaps):.1f} s during the outage"
print(f"ok: {len(during)} heartbeats answered during the outage, longest gap {max(gaps):.1f} s")
s, a, act = read(tx)
late = [m for m, t in s.items() if t1 <= t < t2]
assert late, "no transaction message sent during the outage"
early = [m for m in late if m in a and a[m][0] < t2]
assert not early, f"answered before the brokers were back: {early}"
unanswered = [m for m in s if m not in a]
assert not unanswered, f"never answered: {unanswered}"
errors = [m for m in s if a[m][1] != "ok"]
assert not errors, f"answered with an error: {[(m, a[m]) for m in errors]}"
print(f"ok: {len(late)} transaction messages sent during the outage, all answered after it")
PY

# every transaction message answered is on ocpp-events-up
timeout 30 kcat -b "$K" -C -t ocpp-events-up -o beginning -e -q -f '%s\n' 2>/dev/null |
  python3 -c '
import json, sys
ids = set()
for line in sys.stdin:
    try:
        ids.add(json.loads(line)["data"]["ocpp"]["message_id"])
    except Exception:
        pass
missing = []
for line in open(sys.argv[1]):
    k, t, mid, what = line.split()
    if k == "A" and what == "ok" and mid.split("-")[-1] != "1":  # not the BootNotification
        if mid not in ids:
            missing.append(mid)
assert not missing, f"answered but not on ocpp-events-up: {missing}"
print("ok: every transaction message answered is on ocpp-events-up")
' "$TMP/tx.log" || bad "an acknowledged transaction message is missing from Kafka"
[ "$(metric bridge_input_paused)" = 0 ] || bad "the input is still paused"
ok "input read again (bridge_input_paused 0), $full QUEUE_FULL pauses"
stop_pod "$POD"
echo "test_bridge_kafka_down: all passed"
