#!/usr/bin/env bash
# bench_e2e.sh: the end-to-end benchmark of issue 15 (run by `make bench`; bench/README.md).
#
# Three servers, one after the other, driven by the same load generator (cp-sim, scenario
# bench/scenarios/e2e.yaml: 1,000 connections, one CALL outstanding per connection, a mix of
# transaction messages, StatusNotification and Heartbeat, half OCPP 1.6, half 2.0.1):
#   limit    bench/lws_echo: bare libwebsockets on libuv answering every CALL with a fixed CALLRESULT
#   gateway  the whole pod (scripts/run.sh: ws-edge, ocpp-core, kafka-bridge, redis-registry, with
#            a private redis-server and kafka-dev); every event persisted with acks=all
#   peer     bench/peer/csms.js: ocpp-rpc (strict) + kafkajs (acks=all) against its own kafka-dev
# Each server: one closed-loop run (saturation: its maximum rate), then fixed rates: E2E_RATES
# (default 5000) and 25 %, 50 %, 90 % of the maximum it just reached. Every run measures
# answered msg/s, latency percentiles (cp-sim's histograms) and the CPU time (utime + stime from
# /proc/PID/stat) of each server process over the run; kafka-dev (the broker) is not counted,
# redis-server is shown apart.
# Writes bench/results/<date>.md (the tables) and bench/results/<date>.png (gnuplot), prints the
# tables. Every process it starts is stopped on exit; every wait is bounded.
#
#   E2E_SECONDS=10 E2E_RATES=5000 E2E_SERVERS="limit gateway peer" bench/bench_e2e.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$here/$BUILD" ;; esac
SECS="${E2E_SECONDS:-10}"
RATES="${E2E_RATES:-5000}"
SERVERS="${E2E_SERVERS:-limit gateway peer}"
SCEN="$here/bench/scenarios/e2e.yaml"
NODE_DIR="$BUILD/bench-node" # the peer's npm packages (bench/peer/package.json), not committed
STAMP="${E2E_STAMP:-$(date -u +%Y-%m-%d-%H%M)}"
OUT="${E2E_OUT:-$here/bench/results}"
mkdir -p "$OUT"

source "$here/bench/lib.sh"
BENCH_STOP_WAIT=250
bench_start e2e

# --- dependencies: the peer's npm packages, gnuplot from Debian --------------------------------
if [[ " $SERVERS " == *" peer "* ]] && [ ! -d "$NODE_DIR/node_modules/kafkajs" ]; then
  mkdir -p "$NODE_DIR"
  cp bench/peer/package.json "$NODE_DIR/"
  (cd "$NODE_DIR" && timeout 300 npm install --no-audit --no-fund --silent) ||
    { echo "e2e: npm install of the peer's packages failed"; exit 1; }
fi
if ! command -v gnuplot >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "e2e: installing gnuplot-nox (Debian) for the plot"
    (apt-get install -y -qq gnuplot-nox >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq gnuplot-nox >/dev/null 2>&1; }) ||
      echo "e2e: gnuplot could not be installed: no plot"
  fi
fi

# --- servers: each start_<name> sets port, procs (name=pid ...) ----------------------------------
port=0
declare -A procs
start_limit() {
  port="$(free_port)"
  "$BUILD/bench/lws_echo" "$port" 512 >"$RUN/limit.log" 2>&1 &
  pids+=($!)
  procs=([lws_echo]=$!)
  wait_ok 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
}
start_gateway() {
  port="$(free_port)"
  OCPPGW_POD_ID=bench OCPPGW_LOG_LEVEL=warn OCPPGW_WS_PORT="$port" OCPPGW_ADMIN_BASE_PORT="$(free_ports 8)" \
    OCPPGW_MESSAGE_RATE=0 OCPPGW_IP_CONNECT_RATE=0 OCPPGW_IP_MAX_CONNECTIONS=0 \
    OCPPGW_RUN_DIR="$RUN/pod" OCPPGW_BIN="$BUILD/bin" setsid "$here/scripts/run.sh" >"$RUN/gateway.log" 2>&1 &
  pids+=($!)
  local run=$!
  wait_ok 90 grep -q '^ocppgw: ready' "$RUN/gateway.log"
  procs=()
  local n
  for n in ws-edge ocpp-core kafka-bridge redis-registry redis-server; do
    procs[$n]="$(pgrep -P "$run" -x "$n" | head -n 1)"
  done
}
start_peer() {
  port="$(free_port)"
  OCPPGW_BOOTSTRAP_FILE="$RUN/peer-kafka" OCPPGW_CONTROL_PATH="$RUN/peer-kafka-control" \
    "$BUILD/bin/kafka-dev" >"$RUN/peer-kafka.log" 2>&1 &
  pids+=($!)
  wait_ok 20 test -s "$RUN/peer-kafka"
  NODE_PATH="$NODE_DIR/node_modules" node bench/peer/csms.js "$port" "$(cat "$RUN/peer-kafka")" >"$RUN/peer.log" 2>&1 &
  pids+=($!)
  procs=([node]=$!)
  wait_ok 30 grep -q '^peer: listening' "$RUN/peer.log"
}

# one cp-sim run against the server: appends a line to $RUN/results.tsv
RESULTS="$RUN/results.tsv"
run_load() { # server, level label, msg_rate (0 = closed loop)
  local server="$1" level="$2" rate="$3" n t0=() t1=()
  local names=("${!procs[@]}")
  for n in "${names[@]}"; do t0+=("$(ticks "${procs[$n]}")"); done
  timeout $((SECS + 60)) "$BUILD/bin/cp-sim" --config "$SCEN" --url "ws://127.0.0.1:$port/ocpp" \
    --duration_ms "${SECS}s" --progress off --msg_rate "$rate" >"$RUN/report" 2>"$RUN/cpsim.err" ||
    { cat "$RUN/cpsim.err" "$RUN/report"; echo "e2e: cp-sim failed against $server"; exit 1; }
  for n in "${names[@]}"; do t1+=("$(ticks "${procs[$n]}")"); done
  local cpu="" i
  for i in "${!names[@]}"; do cpu+="${names[$i]}=$(( ${t1[$i]} - ${t0[$i]} )),"; done
  python3 - "$server" "$level" "$rate" "$cpu" "$HZ" "$(cut -d' ' -f1 /proc/loadavg)" "$RUN/report" >>"$RESULTS" <<'PY'
import re, sys
server, level, rate, cpu, hz, load, report = sys.argv[1:8]
t = open(report).read()
answered = int(re.search(r"answered (\d+),", t).group(1))
secs = float(re.search(r"run: ([\d.]+) s", t).group(1))
m = re.search(r"latency ms  all +\d+ +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)", t)
errs = ",".join(f"{k}={v}" for k, v in re.findall(r"error (\S+): (\d+)", t)) or "none"
lost = re.search(r"not delivered: (\d+) queued, (\d+) unanswered", t)
print("\t".join([server, level, rate, str(answered), f"{secs:.2f}", *m.groups(), cpu.rstrip(","), hz, load,
                 errs, f"{lost.group(1)}/{lost.group(2)}"]))
PY
  tail -n 1 "$RESULTS" | awk -F'\t' '{printf "e2e: %-8s %-6s rate %-6s answered %s in %s s, p50/p99 %s/%s ms, cpu ticks %s, load %s, errors %s\n", $1, $2, $3, $4, $5, $6, $8, $10, $12, $13}'
}

echo "e2e: $(nproc) CPUs, load average before $(cut -d' ' -f1-3 /proc/loadavg); $SECS s per run; servers: $SERVERS"
: >"$RESULTS"
for server in $SERVERS; do
  "start_$server"
  echo "e2e: $server on port $port: ${!procs[*]}"
  run_load "$server" max 0
  max="$(tail -n 1 "$RESULTS" | awk -F'\t' '{printf "%d", $4 / $5}')"
  for r in $RATES; do run_load "$server" "fixed" "$r"; done
  for pct in 25 50 90; do run_load "$server" "${pct}%" $((max * pct / 100)); done
  stop_started
done
echo "e2e: load average after $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/e2e_report.py "$RESULTS" "$OUT/$STAMP" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
