# bridge_lib.sh: helpers of the kafka-bridge integration tests (sourced after lib.sh): a kafka-dev
# with its control FIFO, commands-down records written the way a backend writes them, topics read
# from the beginning, the bridge's log.

# start_kafka_dev: kafka-dev (one broker, 4 partitions per topic: an explicit count, since the
# bridge tests name the partitions of their pods; kafka-dev's default for commands-down is 128)
# with its bootstrap file and a control FIFO in $TMP; sets K (the bootstrap list) and CTL (the
# FIFO).
start_kafka_dev() {
  CTL=$TMP/kafka-control
  OCPPGW_COMMANDS_PARTITIONS=4 OCPPGW_EVENTS_PARTITIONS=4 \
    OCPPGW_BOOTSTRAP_FILE=$TMP/boot OCPPGW_CONTROL_PATH=$CTL "$BIN/kafka-dev" </dev/null \
    >"$TMP/kd.out" 2>"$TMP/kd.log" &
  wait_until 15 "kafka-dev" test -s "$TMP/boot"
  K=$(cat "$TMP/boot")
}

# kafka_ctl COMMAND: a fault-injection command (docs/kafka-dev.md) through the FIFO; returns once
# kafka-dev applied it.
kafka_ctl() {
  local line="control fifo: '$1': ok" before
  before=$(grep -cF -- "$line" "$TMP/kd.log" || true)
  timeout 5 bash -c 'printf "%s\n" "$1" > "$2"' _ "$1" "$CTL" || fail "cannot write '$1' to $CTL"
  wait_until 10 "kafka-dev to apply '$1'" bash -c '[ "$(grep -cF -- "$1" "$2" || true)" -gt "$3" ]' \
    _ "$line" "$TMP/kd.log" "$before"
}

# put KEY JSON: one record to commands-down, partition by murmur2(KEY) like a backend
put() { printf '%s|%s\n' "$1" "$2" | timeout 10 kcat -b "$K" -P -t commands-down -K'|' -X topic.partitioner=murmur2_random; }
# topic TOPIC [kcat args]: every record of TOPIC as "headers value" lines
topic() { timeout 20 kcat -b "$K" -C -t "$1" "${@:2}" -o beginning -e -q -f '%h %s\n' 2>/dev/null || true; }
# count_in TOPIC TEXT [kcat args]: records of TOPIC holding TEXT
count_in() { topic "$1" "${@:3}" | grep -cF -- "$2" || true; }
has() { [ "$(count_in "$@")" -ge 1 ]; }
# in_log POD TEXT: the bridge of POD logged TEXT
in_log() { grep -qF -- "$2" "$TMP/$1/log/kafka-bridge.log"; }
# bridge_logs POD...: the end of their bridges' logs (no debug lines), for a failure
bridge_logs() {
  local p
  for p in "$@"; do
    echo "--- $p bridge log:" >&2
    grep -v '"level":"debug"' "$TMP/$p/log/kafka-bridge.log" 2>/dev/null | tail -n "${LOG_LINES:-20}" | cut -c1-300 >&2 || true
  done
}

# start_backends: the Redis (registry_lib.sh's start_redis) and the kafka-dev pods share, exported
# for start_pod; sets RPORT and K.
start_backends() {
  start_redis
  RPORT=$REDIS_PORT
  start_kafka_dev
  export OCPPGW_REDIS_URL="redis://127.0.0.1:$RPORT" OCPPGW_KAFKA_BROKERS="$K"
}
