#!/usr/bin/env bash
# bench_bridge_publish.sh: publish throughput of kafka-bridge to kafka-dev, acks=all.
#
# One kafka-dev (BENCH_BROKERS brokers, default 1), one kafka-bridge with its default producer
# settings (idempotent, acks=all, linger 5 ms, lz4, batch 10000) and commands off;
# `envelope-tool events` (tests/tools/envelope-tool/, built by make bench) plays core 0: pushes BENCH_EVENTS EVENTs (default 100000, ~40-byte JSON values, 100 keys) with
# ack tokens and waits for every EVENT_ACK. Prints events/s counted from the first send to the
# last ack (persisted, acks=all), and the bridge process's CPU time per event (utime + stime
# from /proc, all its threads incl. librdkafka's). Short by design: a shared 2-core machine.
# Env: BUILD, BENCH_EVENTS, BENCH_BROKERS, BENCH_RUNS (default 3). Exit 0 when every run had all
# events acknowledged as persisted.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
BIN="$BUILD/bin"
TBIN="$BUILD/tests/bin" # the test doubles (tests/tools/)
N="${BENCH_EVENTS:-100000}"
RUNS="${BENCH_RUNS:-3}"
TMP="$(mktemp -d /tmp/ocppgw-bench.XXXXXX)"
trap 'for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$TMP"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

OCPPGW_KAFKA_DEV_BROKERS="${BENCH_BROKERS:-1}" OCPPGW_BOOTSTRAP_FILE="$TMP/boot" \
  "$BIN/kafka-dev" </dev/null >"$TMP/kd.out" 2>"$TMP/kd.log" &
for _ in $(seq 100); do [ -s "$TMP/boot" ] && break; sleep 0.1; done
[ -s "$TMP/boot" ] || { echo "kafka-dev did not start" >&2; exit 1; }
mkdir -p "$TMP/ipc"
APORT=$(free_port)
OCPPGW_IPC_DIR="$TMP/ipc" OCPPGW_KAFKA_BROKERS="$(cat "$TMP/boot")" OCPPGW_ADMIN_PORT="$APORT" \
  OCPPGW_COMMANDS_ENABLED=false OCPPGW_LOG_LEVEL=warn "$BIN/kafka-bridge" 2>"$TMP/bridge.log" &
BRIDGE=$!
# cpu_ticks PID: utime + stime of the process (all threads), in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$APORT/readyz" >/dev/null && break; sleep 0.1; done

"$TBIN/envelope-tool" events "$TMP/ipc" 1000 bench-warm 30 warm >/dev/null
echo "kafka-bridge publish, acks=all, ${BENCH_BROKERS:-1} broker(s), $N events per run"
rc=0
for r in $(seq "$RUNS"); do
  t0=$(cpu_ticks "$BRIDGE")
  if ! "$TBIN/envelope-tool" events "$TMP/ipc" "$N" bench-events 120 "run$r" >"$TMP/run$r.out"; then
    rc=1
  fi
  t1=$(cpu_ticks "$BRIDGE")
  us=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$N" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }')
  echo "run $r: $(tail -n 1 "$TMP/run$r.out") bridge_cpu_us_per_event=$us"
done
curl -s "http://127.0.0.1:$APORT/metrics" | grep -E '^ocppgw_bridge_(records_(delivered|failed)_total|queue_full_total|delivery_seconds_(sum|count)) '
exit $rc
