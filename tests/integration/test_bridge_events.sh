#!/usr/bin/env bash
# test_bridge_events.sh: kafka-bridge's event promise against kafka-dev fault injection.
#
# One kafka-bridge (its own ipc dir) on a one-broker kafka-dev; `envelope-tool events` plays
# ocpp-core: pushes EVENTs with tokens and counts the EVENT_ACKs.
#   1. broker down: no event is acknowledged as persisted while the broker is down; after
#      broker-up every event is acknowledged persisted, and the topic holds each exactly once.
#   2. request errors (Produce fails with a retriable error 5 times): all events persisted,
#      each exactly once (idempotent producer retries without duplicates). A permanent error
#      (INVALID_MSG): the events of that batch are acked as NOT persisted, the others as
#      persisted, and the topic holds exactly the ones acked persisted; counted by error code.
#   3. SIGTERM with events queued while the broker is down then up: the bridge flushes before
#      exit (every acknowledged event is in the topic).
#   4. a full producer queue (a second bridge with a queue of 20 records, broker down, 500
#      events): the bridge stops reading its input (bridge_input_paused 1) instead of waiting in
#      a produce call, its /healthz stays 200; after broker-up every event is persisted exactly
#      once and, per key, in the order sent (the EVENT that met the full queue went first).
# Env: BUILD. Exit 0 on success.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/bridge_lib.sh
source "$(dirname "$0")/bridge_lib.sh"
itest_cleanup_on_exit
command -v kcat >/dev/null || fail "kcat not installed"

start_kafka_dev

IPC=$TMP/ipc
mkdir -p "$IPC"
APORT=$(free_port)
OCPPGW_POD_ID=events-pod OCPPGW_IPC_DIR=$IPC OCPPGW_KAFKA_BROKERS=$K OCPPGW_ADMIN_PORT=$APORT \
  OCPPGW_COMMANDS_ENABLED=false OCPPGW_KAFKA_LINGER_MS=5 "$BIN/kafka-bridge" 2>"$TMP/bridge.log" &
BRIDGE=$!
wait_until 15 "bridge ready" curl -sf "http://127.0.0.1:$APORT/readyz"

bad() {
  echo "--- bridge log:" >&2
  grep -v '"level":"debug"' "$TMP/bridge.log" | tail -n 15 >&2 || true
  fail "$*"
}
ctl() { kafka_ctl "$@"; }
# records TOPIC RUN: number of records and of distinct seq values of run RUN in TOPIC
records() {
  timeout 20 kcat -b "$K" -C -t "$1" -o beginning -e -q -f '%s\n' 2>/dev/null |
    grep -F "\"run\":\"$2\"" >"$TMP/rec" || true
  echo "$(wc -l <"$TMP/rec") $(sort -u "$TMP/rec" | wc -l)"
}
last_line() { tail -n 1 "$1" 2>/dev/null; }

# warm-up: the producer knows the broker and has its producer id
"$TBIN/envelope-tool" events "$IPC" 10 itest-warm 20 warm >"$TMP/warm.out" || bad "warm-up: $(last_line "$TMP/warm.out")"
ok "warm-up: 10 events persisted"

# 1. broker down ---------------------------------------------------------------------------
ctl "broker-down 1"
"$TBIN/envelope-tool" events "$IPC" 500 itest-down 60 down >"$TMP/down.out" &
LOAD=$!
# 3 s of load by the sender's own clock (it reports every 0.5 s; on a loaded machine it may
# start late, and a line it has not printed yet is not "no event acknowledged")
wait_until 20 "3 s of events sent while the broker is down" \
  grep -qE 'seconds=([3-9]|[1-9][0-9])\.' "$TMP/down.out"
line=$(last_line "$TMP/down.out")
case "$line" in
  *" ok=0 "*) ok "broker down 3 s: no event acknowledged as persisted ($line)" ;;
  *) bad "events acknowledged while the broker was down: $line" ;;
esac
ctl "broker-up 1"
wait "$LOAD" || bad "after broker-up not all events persisted: $(last_line "$TMP/down.out")"
ok "broker up: $(last_line "$TMP/down.out")"
read -r n u <<<"$(records itest-down down)"
[ "$n" -eq 500 ] && [ "$u" -eq 500 ] || bad "itest-down holds $n records, $u distinct (want 500/500)"
ok "itest-down holds every event exactly once (500)"

# 2. request errors --------------------------------------------------------------------------
ctl "request-errors Produce 5 NOT_LEADER_OR_FOLLOWER"
"$TBIN/envelope-tool" events "$IPC" 1000 itest-errors 60 errs >"$TMP/errs.out" ||
  bad "with request errors: $(last_line "$TMP/errs.out")"
ok "request errors: $(last_line "$TMP/errs.out")"
read -r n u <<<"$(records itest-errors errs)"
[ "$n" -eq 1000 ] && [ "$u" -eq 1000 ] || bad "itest-errors holds $n records, $u distinct (want 1000/1000)"
ok "retried without duplicates: 1000 records, 1000 distinct"
metrics=$(curl -s "http://127.0.0.1:$APORT/metrics")
grep -q '^ocppgw_bridge_delivery_seconds_count [1-9]' <<<"$metrics" || bad "delivery latency histogram is empty"

# 2b. a permanent error: reported as not persisted, never as persisted ------------------------
ctl "request-errors Produce 1 INVALID_MSG"
"$TBIN/envelope-tool" events "$IPC" 300 itest-perm 60 perm >"$TMP/perm.out" || true
line=$(last_line "$TMP/perm.out")
okn=$(sed -n 's/.* ok=\([0-9]*\) .*/\1/p' <<<"$line")
errn=$(sed -n 's/.* err=\([0-9]*\) .*/\1/p' <<<"$line")
[ "$errn" -gt 0 ] && [ $((okn + errn)) -eq 300 ] || bad "permanent error not reported: $line"
read -r n u <<<"$(records itest-perm perm)"
[ "$n" -eq "$okn" ] && [ "$u" -eq "$okn" ] || bad "itest-perm holds $n records ($u distinct) but $okn were acked persisted"
metrics=$(curl -s "http://127.0.0.1:$APORT/metrics")
grep -q '^ocppgw_bridge_delivery_errors_total{error="INVALID_MSG"} [1-9]' <<<"$metrics" ||
  bad "delivery errors by code not counted"
ok "permanent error: $errn acked as not persisted, $okn persisted and exactly those in the topic"

# 3. flush on SIGTERM ------------------------------------------------------------------------
ctl "broker-down 1"
"$TBIN/envelope-tool" events "$IPC" 200 itest-flush 30 flush >"$TMP/flush.out" &
LOAD=$!
wait_until 10 "events queued in the bridge" bash -c "tail -n 1 '$TMP/flush.out' | grep -q 'sent=200'"
kill -TERM "$BRIDGE"
sleep 1
ctl "broker-up 1"
wait_until 30 "the bridge to exit after its flush" bash -c "! kill -0 $BRIDGE 2>/dev/null"
wait "$BRIDGE" || bad "bridge exit status $?"
wait "$LOAD" || true
read -r n u <<<"$(records itest-flush flush)"
acked=$(last_line "$TMP/flush.out" | sed -n 's/.* ok=\([0-9]*\) .*/\1/p')
[ "$n" -eq 200 ] && [ "$u" -eq 200 ] || bad "after SIGTERM itest-flush holds $n records, $u distinct (want 200)"
ok "SIGTERM while the broker was down: flushed after broker-up, 200 records ($acked acks seen)"
grep -q '"flush incomplete' "$TMP/bridge.log" && bad "flush reported incomplete"

# 4. a full producer queue ------------------------------------------------------------------
IPC2=$TMP/ipc2
mkdir -p "$IPC2"
APORT2=$(free_port)
OCPPGW_POD_ID=events-pod-2 OCPPGW_IPC_DIR=$IPC2 OCPPGW_KAFKA_BROKERS=$K OCPPGW_ADMIN_PORT=$APORT2   OCPPGW_COMMANDS_ENABLED=false OCPPGW_KAFKA_LINGER_MS=5 OCPPGW_KAFKA_QUEUE_MESSAGES=20   "$BIN/kafka-bridge" 2>"$TMP/bridge2.log" &
BRIDGE2=$!
wait_until 15 "bridge 2 ready" curl -sf "http://127.0.0.1:$APORT2/readyz"
"$TBIN/envelope-tool" events "$IPC2" 10 itest-warm 20 warm2 >"$TMP/warm2.out" || bad "warm-up 2"
ctl "broker-down 1"
"$TBIN/envelope-tool" events "$IPC2" 500 itest-full 60 full >"$TMP/full.out" &
LOAD=$!
metric2() { { curl -s -m 2 "http://127.0.0.1:$APORT2/metrics" || true; } | sed -n "s/^ocppgw_$1 //p"; }
wait_until 10 "bridge 2 to pause its input" bash -c "curl -s http://127.0.0.1:$APORT2/metrics | grep -q '^ocppgw_bridge_input_paused 1'"
for _ in 1 2 3 4 5 6 7 8 9 10; do
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$APORT2/healthz")
  [ "$code" = 200 ] || bad "bridge 2 /healthz $code while its producer queue is full"
  sleep 0.3
done
line=$(last_line "$TMP/full.out")
case "$line" in *" ok=0 "*) ;; *) bad "events acknowledged while the broker was down: $line" ;; esac
ok "producer queue full: input paused (queue_full $(metric2 bridge_queue_full_total)), /healthz 200, nothing acknowledged"
ctl "broker-up 1"
wait "$LOAD" || bad "after broker-up not all events persisted: $(last_line "$TMP/full.out")"
read -r n u <<<"$(records itest-full full)"
[ "$n" -eq 500 ] && [ "$u" -eq 500 ] || bad "itest-full holds $n records, $u distinct (want 500/500)"
timeout 20 kcat -b "$K" -C -t itest-full -o beginning -e -q -f '%k %s\n' 2>/dev/null |
  python3 -c '
import json, sys
last = {}
for line in sys.stdin:
    key, value = line.split(" ", 1)
    seq = json.loads(value)["seq"]
    assert seq > last.get(key, 0), f"key {key}: seq {seq} after {last[key]}"
    last[key] = seq
' || bad "events of one key out of order after the full queue"
[ "$(metric2 bridge_input_paused)" = 0 ] || bad "bridge 2 input still paused"
ok "after broker-up: 500 records exactly once, in order per key, input read again"
kill -TERM "$BRIDGE2"
wait "$BRIDGE2" || bad "bridge 2 exit status $?"
echo "test_bridge_events: all passed"
