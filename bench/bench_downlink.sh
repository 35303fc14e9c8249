#!/usr/bin/env bash
# bench_downlink.sh: the downlink benchmark of issue 15 (run by `make bench`; bench/README.md):
# commands per second from `commands-down` to the stations and back to `command-results`, through
# the whole pod (scripts/run.sh: ws-edge, ocpp-core, kafka-bridge, redis-registry, a private
# redis-server and kafka-dev).
#
# 1. the uplink reference in the same run and pod: cp-sim with bench/scenarios/e2e.yaml, closed
#    loop for DL_UPLINK_SECONDS (answered msg/s and CPU per message per stage, as bench_e2e.sh);
# 2. DL_STATIONS cp-sim stations (half 1.6, half 2.0.1, no sessions) connected and answering every
#    CSMS action; DL_COMMANDS command records (unified DL_ACTION, station i % DL_STATIONS, key =
#    the pod id as docs/commands.md says) written as fast as `ocppctl produce` (librdkafka,
#    acks=all) goes, while kcat reads command-results; the clock stops at the N-th result or after
#    DL_WAIT seconds.
# Reports commands/s end to end (first record's Kafka timestamp on commands-down to the last
# result's on command-results), latency percentiles per command (result timestamp - command
# timestamp, and the bridge's finished_at - received_at), CPU per command per stage
# (utime + stime from /proc/PID/stat; kafka-dev not counted, redis-server apart), the status
# counts and a check that every command got exactly one result. The Node peer (bench/peer/csms.js)
# and the lws limit have no command path: there is nothing to compare with but the uplink.
# Appends its table to bench/results/<E2E_STAMP>.md (the file bench_e2e.sh wrote in the same
# `make bench`) or writes bench/results/<date>-downlink.md when run alone.
#
#   DL_COMMANDS=20000 DL_STATIONS=1000 DL_ACTION=clear_cache DL_WAIT=120 bench/bench_downlink.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$here/$BUILD" ;; esac
N="${DL_COMMANDS:-20000}"
STATIONS="${DL_STATIONS:-1000}"
ACTION="${DL_ACTION:-clear_cache}"
PAYLOAD="${DL_PAYLOAD:-{\}}"
WAIT="${DL_WAIT:-120}"
UPSECS="${DL_UPLINK_SECONDS:-10}"
# commands queued per station behind the one in flight: N / STATIONS arrive at once, the default
# 16 would turn the rest into `rejected` (that is the rule, not the throughput this measures)
QMAX="${DL_QUEUE_MAX:-$((N / STATIONS + 16))}"
OUT="${E2E_OUT:-$here/bench/results}"
if [ -n "${E2E_STAMP:-}" ]; then REPORT="$OUT/$E2E_STAMP.md"; else REPORT="$OUT/$(date -u +%Y-%m-%d-%H%M)-downlink.md"; fi
mkdir -p "$OUT"
command -v kcat >/dev/null || { echo "downlink: kcat is needed (Debian package kcat)"; exit 1; }

source "$here/bench/lib.sh"
bench_start downlink
STAGES=(ws-edge ocpp-core kafka-bridge redis-registry redis-server)
all_ticks() { local n; for n in "${STAGES[@]}"; do printf '%s=%s,' "$n" "$(ticks "${procs[$n]}")"; done; }

# --- the pod ----------------------------------------------------------------------------------
port="$(free_port)"
admin="$(free_ports 8)" # run.sh: registry, bridge, core, edge
OCPPGW_POD_ID=bench OCPPGW_LOG_LEVEL=warn OCPPGW_WS_PORT="$port" OCPPGW_ADMIN_BASE_PORT="$admin" \
  OCPPGW_MESSAGE_RATE=0 OCPPGW_IP_CONNECT_RATE=0 OCPPGW_IP_MAX_CONNECTIONS=0 \
  OCPPGW_COMMAND_QUEUE_MAX="$QMAX" \
  OCPPGW_RUN_DIR="$RUN/pod" OCPPGW_BIN="$BUILD/bin" setsid "$here/scripts/run.sh" >"$RUN/pod.log" 2>&1 &
pids+=($!)
pod=$!
wait_ok 90 grep -q '^ocppgw: ready' "$RUN/pod.log"
declare -A procs
for n in "${STAGES[@]}"; do procs[$n]="$(pgrep -P "$pod" -x "$n" | head -n 1)"; done
OCPPGW_KAFKA_BROKERS="$(cat "$RUN/pod/kafka-bootstrap")"
OCPPGW_REDIS_URL="$(sed -n 's/.*private redis-server at \(redis:[^ ]*\).*/\1/p' "$RUN/pod.log" | head -n 1)"
export OCPPGW_KAFKA_BROKERS OCPPGW_REDIS_URL
[ -n "$OCPPGW_REDIS_URL" ] || { echo "downlink: no redis URL in run.sh's output"; exit 1; }
echo "downlink: $(nproc) CPUs, load average before $(cut -d' ' -f1-3 /proc/loadavg); pod on port $port" \
  "(kafka $OCPPGW_KAFKA_BROKERS); $N x $ACTION over $STATIONS stations, command_queue_max $QMAX"

# --- 1. the uplink reference: e2e.yaml closed loop --------------------------------------------
up0="$(all_ticks)"
timeout $((UPSECS + 60)) "$BUILD/bin/cp-sim" --config bench/scenarios/e2e.yaml --url "ws://127.0.0.1:$port/ocpp" \
  --duration_ms "${UPSECS}s" --progress off --msg_rate 0 >"$RUN/uplink.report" 2>"$RUN/uplink.log" ||
  { cat "$RUN/uplink.log" "$RUN/uplink.report"; echo "downlink: the uplink run failed"; exit 1; }
up1="$(all_ticks)"
uplink_load="$(cut -d' ' -f1 /proc/loadavg)"

# --- 2. the stations -----------------------------------------------------------------------------
timeout $((WAIT + 300)) "$BUILD/bin/cp-sim" --url "ws://127.0.0.1:$port/ocpp" --count "$STATIONS" \
  --identity_prefix DL --v201_percent 50 --mode life --session_every_ms 0 --heartbeat_interval_ms 1h \
  --ramp_rate 2000 --call_timeout_ms 60s --duration_ms $((WAIT + 240))s --progress off \
  >"$RUN/sim.report" 2>"$RUN/sim.log" &
pids+=($!)
sim=$!
connected() { "$BUILD/bin/ocppctl" pods 2>/dev/null | awk -v n="$STATIONS" '$1 == "bench" && $2 >= n {ok = 1} END {exit !ok}'; }
wait_ok 60 connected
sleep 2 # the boots answered, the stations idle

# --- 3. the commands ----------------------------------------------------------------------------
tag="dl$$-$RANDOM"
python3 - "$N" "$STATIONS" "$ACTION" "$PAYLOAD" "$tag" >"$RUN/commands.tsv" <<'PY'
import sys
n, stations, action, payload, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
out = sys.stdout
for i in range(n):
    out.write(f'-\tbench\t{{"command_id":"{tag}-{i}","cp_id":"DL{i % stations + 1:06d}",'
              f'"action":"{action}","payload":{payload}}}\n')
PY
# from the beginning: nothing else writes command-results in this pod, and a consumer still
# being assigned when the first results arrive cannot miss them
kcat -C -b "$OCPPGW_KAFKA_BROKERS" -t command-results -o beginning -u -q -f '%T\t%s\n' >"$RUN/results.tsv" 2>"$RUN/kcat.log" &
pids+=($!)
kc=$!
sleep 1
t0="$(all_ticks)"
p0="$(date +%s%3N)"
timeout $((WAIT + 60)) "$BUILD/bin/ocppctl" produce commands-down --timeout "${WAIT}s" <"$RUN/commands.tsv" >"$RUN/produce.out" 2>"$RUN/produce.log" ||
  { tail -n 3 "$RUN/produce.out" "$RUN/produce.log"; echo "downlink: ocppctl produce failed"; exit 1; }
p1="$(date +%s%3N)"
deadline=$((SECONDS + WAIT))
peak=0 # the bridge's commands in flight, sampled: above command_max_inflight its readers pause
while [ "$(wc -l <"$RUN/results.tsv")" -lt "$N" ] && [ $SECONDS -lt $deadline ]; do
  v="$(curl -s -m 1 "http://127.0.0.1:$((admin + 1))/metrics" | awk '/^ocppgw_bridge_commands_inflight / {printf "%d", $2}')"
  [ "${v:-0}" -le "$peak" ] || peak="$v"
  sleep 0.2
done
t1="$(all_ticks)"
sleep 3 # room for a duplicate result to show
kill -TERM "$kc" 2>/dev/null || true
kill -INT "$sim" 2>/dev/null || true # cp-sim prints its report when it ends
for _ in $(seq 1 100); do kill -0 "$sim" 2>/dev/null || break; sleep 0.1; done
timeout 60 kcat -C -b "$OCPPGW_KAFKA_BROKERS" -t commands-down -o beginning -e -q -f '%T\t%s\n' >"$RUN/down.tsv" 2>>"$RUN/kcat.log" || true
echo "downlink: load average after $(cut -d' ' -f1-3 /proc/loadavg)"

python3 bench/downlink_report.py "$RUN" "$tag" "$N" "$STATIONS" "$ACTION" "$HZ" "$((p1 - p0))" \
  "$up0" "$up1" "$uplink_load" "$t0" "$t1" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$QMAX" "$REPORT" "$peak"
