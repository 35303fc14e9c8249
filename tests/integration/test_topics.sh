#!/usr/bin/env bash
# test_topics.sh: k8s/topics/create-topics.sh (the topics Job and compose's kafka-init) against
# stand-ins of Kafka's kafka-topics.sh, kafka-configs.sh and kafka-broker-api-versions.sh that
# keep the cluster's topics in files. There is no Kafka broker on the development machine and
# kafka-dev's mock cluster has no admin API, so this checks the script's own logic: the four
# topics with the documented defaults (128/64/16/4 partitions, replication factor 3,
# min.insync.replicas 2), the overrides, idempotence (a second run creates nothing), repairing
# min.insync.replicas of a topic created by hand while leaving its partition count alone, and the
# failures (Kafka unreachable within WAIT_SECONDS, min.insync.replicas above the replication
# factor, a count that is not a number). The flags it passes are those of Kafka 3.9's tools.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
SCRIPT="$ROOT/k8s/topics/create-topics.sh"
STUB="$TMP/bin" STATE="$TMP/cluster"
mkdir -p "$STUB" "$STATE"

cat >"$STUB/kafka-broker-api-versions.sh" <<'SH'
#!/bin/sh
[ "$1" = --bootstrap-server ] && [ -n "$2" ] && [ -e "$STATE/up" ]
SH
cat >"$STUB/kafka-topics.sh" <<'SH'
#!/bin/sh
# the subset of Kafka 3.9's kafka-topics.sh that create-topics.sh uses, state in $STATE/<topic>
echo "kafka-topics.sh $*" >>"$STATE/calls"
mode="" topic="" parts="" rf="" cfg="" ifne=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bootstrap-server) [ -n "$2" ] || exit 9; shift 2 ;;
    --create) mode=create; shift ;;
    --describe) mode=describe; shift ;;
    --if-not-exists) ifne=1; shift ;;
    --topic) topic="$2"; shift 2 ;;
    --partitions) parts="$2"; shift 2 ;;
    --replication-factor) rf="$2"; shift 2 ;;
    --config) cfg="$2"; shift 2 ;;
    *) echo "kafka-topics.sh: unknown option $1" >&2; exit 9 ;;
  esac
done
case "$mode" in
  create)
    if [ -e "$STATE/$topic" ]; then
      [ $ifne -eq 1 ] && exit 0
      echo "Topic '$topic' already exists." >&2; exit 1
    fi
    echo "$parts $rf" >"$STATE/$topic"; echo "$cfg" >"$STATE/$topic.configs"
    echo "created" >>"$STATE/$topic.log"; echo "Created topic $topic." ;;
  describe)
    [ -e "$STATE/$topic" ] || { echo "Topic '$topic' does not exist" >&2; exit 1; }
    read -r p r <"$STATE/$topic"
    printf 'Topic: %s\tTopicId: x\tPartitionCount: %s\tReplicationFactor: %s\tConfigs: %s\n' \
      "$topic" "$p" "$r" "$(cat "$STATE/$topic.configs" 2>/dev/null)" ;;
  *) exit 9 ;;
esac
SH
cat >"$STUB/kafka-configs.sh" <<'SH'
#!/bin/sh
echo "kafka-configs.sh $*" >>"$STATE/calls"
[ "$1 $3 $4 $5 $6 $7" = "--bootstrap-server --alter --entity-type topics --entity-name $7" ] || exit 9
[ -e "$STATE/$7" ] || exit 1
[ "$8" = --add-config ] || exit 9
echo "$9" >"$STATE/$7.configs"
SH
chmod +x "$STUB"/*.sh
export STATE
run() { env KAFKA_BIN="$STUB" BOOTSTRAP_SERVERS=kafka-0:9092 WAIT_SECONDS=0 "$@" sh "$SCRIPT"; }
expect_topic() { # topic partitions rf min-isr
  [ "$(cat "$STATE/$1")" = "$2 $3" ] || fail "$1: $(cat "$STATE/$1" 2>/dev/null) instead of '$2 $3'"
  [ "$(cat "$STATE/$1.configs")" = "min.insync.replicas=$4" ] || fail "$1: configs $(cat "$STATE/$1.configs")"
}

# Kafka unreachable: bounded wait, exit 1
run >"$TMP/out" 2>&1 && fail "succeeded without a cluster"
grep -q "did not answer within 0 s" "$TMP/out" || fail "unreachable Kafka not reported: $(cat "$TMP/out")"
ok "Kafka unreachable: exit 1 after WAIT_SECONDS"
touch "$STATE/up"

# defaults
run >"$TMP/out" 2>&1 || fail "first run: $(cat "$TMP/out")"
expect_topic commands-down 128 3 2
expect_topic ocpp-events-up 64 3 2
expect_topic command-results 16 3 2
expect_topic commands-dlq 4 3 2
ok "first run: commands-down 128, ocpp-events-up 64, command-results 16, commands-dlq 4 partitions, rf 3, min.insync.replicas 2"

# idempotent
run >"$TMP/out2" 2>&1 || fail "second run: $(cat "$TMP/out2")"
for t in commands-down ocpp-events-up command-results commands-dlq; do
  [ "$(wc -l <"$STATE/$t.log")" -eq 1 ] || fail "$t created twice"
done
grep -c -- '--create --if-not-exists' "$STATE/calls" | grep -qx 8 || fail "create calls: $(grep -c -- --create "$STATE/calls")"
ok "second run: exit 0, nothing created again (--if-not-exists)"

# a topic made by hand: min.insync.replicas repaired, partitions left alone and reported
rm -rf "$STATE"/commands-down* && echo "12 3" >"$STATE/commands-down" && echo "" >"$STATE/commands-down.configs"
run >"$TMP/out3" 2>&1 || fail "run over a hand-made topic: $(cat "$TMP/out3")"
expect_topic commands-down 12 3 2
grep -q "commands-down has 12 partitions, configured 128: left unchanged" "$TMP/out3" || fail "difference not reported: $(cat "$TMP/out3")"
ok "hand-made commands-down (12 partitions, no min.insync.replicas): repaired to min.insync.replicas 2, partitions reported and kept"

# overrides (compose: one broker)
rm -rf "$STATE"/command* "$STATE"/ocpp* && touch "$STATE/up"
run COMMANDS_PARTITIONS=32 EVENTS_PARTITIONS=8 RESULTS_PARTITIONS=2 DLQ_PARTITIONS=1 \
  REPLICATION_FACTOR=1 MIN_INSYNC_REPLICAS=1 >"$TMP/out4" 2>&1 || fail "overrides: $(cat "$TMP/out4")"
expect_topic commands-down 32 1 1
expect_topic ocpp-events-up 8 1 1
expect_topic command-results 2 1 1
expect_topic commands-dlq 1 1 1
ok "every count configurable through the environment"

# refused settings
run MIN_INSYNC_REPLICAS=3 REPLICATION_FACTOR=2 >"$TMP/out5" 2>&1 && fail "min.insync.replicas 3 > rf 2 accepted"
run COMMANDS_PARTITIONS=lots >"$TMP/out6" 2>&1 && fail "a non-number accepted"
ok "min.insync.replicas above the replication factor and non-numbers refused"
