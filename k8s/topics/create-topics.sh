#!/bin/sh
# create-topics.sh: creates the gateway's four Kafka topics, idempotently, with Kafka's own tools
# (the apache/kafka image: /opt/kafka/bin). Run by the Kubernetes Job k8s/topics-job.yaml and by
# docker compose's kafka-init; docs/operations.md#kafka-topics explains the counts.
#
# For each topic: kafka-topics.sh --create --if-not-exists with the partitions, the replication
# factor and min.insync.replicas; then kafka-configs.sh --alter sets min.insync.replicas again,
# so that a topic that already existed (created by hand, or by an older run) gets it too. The
# partition count of an existing topic is never changed (for commands-down that would move every
# pod's partition): a difference is reported, and the run still succeeds. Running it again
# changes nothing. Exit 0 when the four topics exist; 1 when Kafka stays unreachable or a
# command fails.
#
# Environment (defaults in brackets):
#   BOOTSTRAP_SERVERS     Kafka bootstrap servers (required)
#   COMMANDS_PARTITIONS   commands-down [128]     EVENTS_PARTITIONS  ocpp-events-up [64]
#   RESULTS_PARTITIONS    command-results [16]    DLQ_PARTITIONS     commands-dlq [4]
#   REPLICATION_FACTOR    [3]                     MIN_INSYNC_REPLICAS [2]
#   KAFKA_BIN             directory of kafka-topics.sh [/opt/kafka/bin]
#   WAIT_SECONDS          how long to wait for the cluster to answer [300]
set -eu

: "${BOOTSTRAP_SERVERS:?BOOTSTRAP_SERVERS is required}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
RF="${REPLICATION_FACTOR:-3}"
MIN_ISR="${MIN_INSYNC_REPLICAS:-2}"
WAIT_SECONDS="${WAIT_SECONDS:-300}"

say() { echo "create-topics: $*"; }

for n in "${COMMANDS_PARTITIONS:-128}" "${EVENTS_PARTITIONS:-64}" "${RESULTS_PARTITIONS:-16}" \
  "${DLQ_PARTITIONS:-4}" "$RF" "$MIN_ISR" "$WAIT_SECONDS"; do
  case "$n" in '' | *[!0-9]*) say "not a number: '$n'"; exit 1 ;; esac
done
if [ "$MIN_ISR" -gt "$RF" ]; then
  say "MIN_INSYNC_REPLICAS $MIN_ISR > REPLICATION_FACTOR $RF: no write could ever succeed"
  exit 1
fi

# the cluster may still be starting (compose, a fresh cluster): wait, bounded
waited=0
until "$KAFKA_BIN/kafka-broker-api-versions.sh" --bootstrap-server "$BOOTSTRAP_SERVERS" >/dev/null 2>&1; do
  if [ "$waited" -ge "$WAIT_SECONDS" ]; then
    say "Kafka at $BOOTSTRAP_SERVERS did not answer within $WAIT_SECONDS s"
    exit 1
  fi
  sleep 5
  waited=$((waited + 5))
done

create() { # topic partitions
  "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \
    --topic "$1" --partitions "$2" --replication-factor "$RF" --config "min.insync.replicas=$MIN_ISR"
  "$KAFKA_BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP_SERVERS" --alter \
    --entity-type topics --entity-name "$1" --add-config "min.insync.replicas=$MIN_ISR"
  desc="$("$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP_SERVERS" --describe --topic "$1")"
  have="$(printf '%s\n' "$desc" | sed -n 's/.*PartitionCount: *\([0-9][0-9]*\).*/\1/p' | head -n 1)"
  if [ -z "$have" ]; then
    say "$1: not found after creating it"
    exit 1
  elif [ "$have" != "$2" ]; then
    say "$1 has $have partitions, configured $2: left unchanged (docs/operations.md#kafka-topics)"
  else
    say "$1: $have partitions, replication factor $RF, min.insync.replicas $MIN_ISR"
  fi
}

create commands-down "${COMMANDS_PARTITIONS:-128}"
create ocpp-events-up "${EVENTS_PARTITIONS:-64}"
create command-results "${RESULTS_PARTITIONS:-16}"
create commands-dlq "${DLQ_PARTITIONS:-4}"
say "done"
