#!/usr/bin/env bash
# test_kafka_dev.sh: integration test of kafka-dev (tools/kafka-dev), the embedded mock Kafka.
#
# Starts kafka-dev on loopback with a bootstrap file and a control FIFO, then checks with kcat:
# topics and partition counts, keyed produce/consume, a chosen partition, fault injection through
# the FIFO (broker-down makes a produce fail, broker-up makes it succeed), answers on stdin, and a
# clean exit 0 on SIGTERM with nothing left behind. Every step is bounded in time.
# Env: BUILD (build directory, default build). Exit 0 on success.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

KAFKA_DEV=$BIN/kafka-dev
[ -x "$KAFKA_DEV" ] || fail "$KAFKA_DEV not built (make build/bin/kafka-dev)"
command -v kcat >/dev/null || fail "kcat not installed"

LOG=$TMP/kafka-dev.log
OUT=$TMP/kafka-dev.out
BOOT=$TMP/bootstrap
CTL=$TMP/control

# bad MESSAGE: fail, showing the end of the kafka-dev log first.
bad() {
  if [ -f "$LOG" ]; then
    echo "--- last lines of the kafka-dev log:" >&2
    tail -n 20 "$LOG" >&2
  fi
  fail "$*"
}

count_in_log() { grep -cF -- "$1" "$LOG" || true; }
log_count_above() { [ "$(count_in_log "$1")" -gt "$2" ]; }
not_running() { ! kill -0 "$1" 2>/dev/null; }
lines_at_least() { [ "$(wc -l <"$1")" -ge "$2" ]; }

# ctl COMMAND EXPECT: write COMMAND to the FIFO and wait for its answer in the log; EXPECT is
# "ok" or "error".
ctl() {
  local line="control fifo: '$1': $2" before
  before=$(count_in_log "$line")
  # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
  timeout 5 bash -c 'printf "%s\n" "$1" > "$2"' _ "$1" "$CTL" || bad "cannot write '$1' to $CTL"
  wait_until 15 "'$2' answer to '$1'" log_count_above "$line" "$before"
}

kc() { timeout 20 kcat -b "$BOOTSTRAP" "$@"; }

# ---------------------------------------------------------------------------------------------
# 1. start: 3 brokers, non-default partition counts, bootstrap file and control FIFO
OCPPGW_KAFKA_DEV_BROKERS=3 OCPPGW_COMMANDS_PARTITIONS=6 OCPPGW_EVENTS_PARTITIONS=3 \
  OCPPGW_BOOTSTRAP_FILE=$BOOT OCPPGW_CONTROL_PATH=$CTL OCPPGW_LOG_LEVEL=info \
  "$KAFKA_DEV" </dev/null >"$OUT" 2>"$LOG" &
KD=$!

wait_until 10 "the bootstrap file" test -s "$BOOT"
BOOTSTRAP=$(cat "$BOOT")
[ -p "$CTL" ] || bad "control FIFO $CTL missing"
[ "$(head -n 1 "$OUT")" = "bootstrap=$BOOTSTRAP" ] || bad "stdout line '$(head -n 1 "$OUT")' != bootstrap file"
[ "$(wc -l <"$OUT")" -eq 1 ] || bad "stdout has more than the bootstrap line"
IFS=, read -r -a addrs <<<"$BOOTSTRAP"
[ ${#addrs[@]} -eq 3 ] || bad "expected 3 brokers in '$BOOTSTRAP'"
for a in "${addrs[@]}"; do
  [[ $a == 127.0.0.1:* ]] || bad "broker address $a is not on loopback"
done
ok "started, bootstrap=$BOOTSTRAP (file and stdout agree, loopback only)"

# 2. metadata: brokers, topics and partition counts
META=$(kc -L -m 10) || bad "kcat -L failed"
grep -q ' 3 brokers:' <<<"$META" || bad "kcat -L does not list 3 brokers"
for spec in ocpp-events-up:3 commands-down:6 command-results:3 commands-dlq:3; do
  topic=${spec%%:*}
  parts=${spec##*:}
  grep -q "topic \"$topic\" with $parts partitions:" <<<"$META" ||
    bad "topic $topic with $parts partitions not listed"
done
ok "kcat -L lists ocpp-events-up(3) commands-down(6) command-results(3) commands-dlq(3)"

# 3. keyed produce / consume on ocpp-events-up
printf 'CP-001:{"n":1}\nCP-002:{"n":2}\nCP-003:{"n":3}\n' |
  kc -P -t ocpp-events-up -K: -X message.timeout.ms=10000 || bad "kcat -P to ocpp-events-up failed"
GOT=$(kc -C -t ocpp-events-up -o beginning -e -q -f '%k=%s\n' | sort)
WANT=$'CP-001={"n":1}\nCP-002={"n":2}\nCP-003={"n":3}'
[ "$GOT" = "$WANT" ] || bad "consumed '$GOT', expected '$WANT'"
ok "3 keyed messages produced to and consumed back from ocpp-events-up"

# 4. a chosen partition of commands-down
echo 'pod-a:{"command_id":"c-1"}' |
  kc -P -t commands-down -p 2 -K: -X message.timeout.ms=10000 || bad "kcat -P to commands-down/2 failed"
GOT=$(kc -C -t commands-down -p 2 -o beginning -e -q -f '%p %k=%s\n')
[ "$GOT" = '2 pod-a={"command_id":"c-1"}' ] || bad "commands-down/2 returned '$GOT'"
GOT=$(kc -C -t commands-down -p 3 -o beginning -e -q -f '%k=%s\n')
[ -z "$GOT" ] || bad "commands-down/3 should be empty, returned '$GOT'"
ok "commands-down partition 2 holds exactly the record produced to it"

# 5. fault injection through the control FIFO
ctl "ping" ok
ctl "no-such-command 1" error
grep -qF "unknown command 'no-such-command'" "$LOG" || bad "no reason logged for a bad command"
ctl "partition-leader ocpp-events-up 0 1" ok
ctl "broker-down 1" ok
if echo "down:lost" | kc -P -t ocpp-events-up -p 0 -K: -X message.timeout.ms=2000 2>/dev/null; then
  bad "produce to a partition led by a down broker succeeded"
fi
ok "broker-down 1: produce to ocpp-events-up/0 (leader 1) fails"
ctl "broker-up 1" ok
echo "up:delivered" | kc -P -t ocpp-events-up -p 0 -K: -X message.timeout.ms=10000 ||
  bad "produce after broker-up failed"
GOT=$(kc -C -t ocpp-events-up -p 0 -o beginning -e -q -f '%k:%s\n')
grep -qx 'up:delivered' <<<"$GOT" || bad "message produced after broker-up not found"
! grep -q 'down' <<<"$GOT" || bad "message produced while the leader was down was stored"
ok "broker-up 1: produce succeeds and is consumed back"

ctl "request-errors Produce 2 NOT_LEADER_OR_FOLLOWER" ok
echo "retry:ok" | kc -P -t ocpp-events-up -p 1 -K: -X message.timeout.ms=10000 ||
  bad "produce did not survive 2 injected retriable errors"
ok "request-errors Produce 2 NOT_LEADER_OR_FOLLOWER: the producer retries and succeeds"
ctl "request-errors Produce 1 INVALID_MSG" ok
if echo "bad:rejected" | kc -P -t ocpp-events-up -p 1 -K: -X message.timeout.ms=5000 2>/dev/null; then
  bad "produce succeeded although a permanent error was injected"
fi
echo "good:accepted" | kc -P -t ocpp-events-up -p 1 -K: -X message.timeout.ms=10000 ||
  bad "produce after the injected error was consumed failed"
GOT=$(kc -C -t ocpp-events-up -p 1 -o beginning -e -q -f '%k:%s\n')
grep -qx 'good:accepted' <<<"$GOT" || bad "message produced after the injected error not found"
! grep -q 'bad:' <<<"$GOT" || bad "message rejected by an injected error was stored"
ok "request-errors Produce 1 INVALID_MSG: that produce fails, the next one succeeds"
ctl "rtt 2 50" ok
ctl "rtt all 0" ok
ctl "broker-down 9" error
ok "rtt accepted; broker-down of an unknown broker refused"

# 6. SIGTERM: exit 0 within 5 s, FIFO and bootstrap file removed
kill -TERM "$KD"
wait_until 5 "kafka-dev to exit after SIGTERM" not_running "$KD"
set +e
wait "$KD"
rc=$?
set -e
[ $rc -eq 0 ] || bad "kafka-dev exited $rc after SIGTERM"
[ ! -e "$CTL" ] || bad "control FIFO left behind"
[ ! -e "$BOOT" ] || bad "bootstrap file left behind"
ok "SIGTERM: exit 0, control FIFO and bootstrap file removed"

# 7. stdin control channel: answers on stdout, one line per command
IN=$TMP/stdin
mkfifo "$IN"
"$KAFKA_DEV" <"$IN" >"$OUT" 2>"$LOG" &
KD=$!
exec 3>"$IN"
printf 'ping\n\n# comment\nbroker-down 7\nrtt 1 x\nbroker-down 1\nbroker-up all\n' >&3
wait_until 10 "6 lines on stdout" lines_at_least "$OUT" 6
GOT=$(tail -n +2 "$OUT")
WANT=$'ok\nerror: no broker 7 in this cluster\nerror: rtt \'x\' is not a number of milliseconds (usage: rtt <id|all> <ms>)\nok\nok'
[ "$GOT" = "$WANT" ] || bad "stdin answers were '$GOT', expected '$WANT'"
grep -q '^bootstrap=127\.0\.0\.1:[0-9]*$' <(head -n 1 "$OUT") || bad "first stdout line is not bootstrap="
exec 3>&-
sleep 0.2
kill -0 "$KD" 2>/dev/null || bad "kafka-dev stopped when stdin closed"
kill -INT "$KD"
wait_until 5 "kafka-dev to exit after SIGINT" not_running "$KD"
set +e
wait "$KD"
rc=$?
set -e
[ $rc -eq 0 ] || bad "kafka-dev exited $rc after SIGINT"
ok "stdin: ok/error answers in order, keeps running after EOF, SIGINT exits 0"

echo "kafka-dev: all checks passed"
