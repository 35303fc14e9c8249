#!/usr/bin/env bash
# bench_edge_idle.sh: the idle-connection benchmark of ws-edge (run by `make bench`; figures in bench/README.md).
#
# Starts BENCH_EDGES ws-edge processes sharing one port (SO_REUSEPORT) with ocpp-core behind
# them (BENCH_PIPELINE=core, the default: Redis and Kafka add nothing to an idle connection's
# cost in the edge) or the whole pod through run.sh (BENCH_PIPELINE=full, what `make bench` runs:
# then the memory and CPU are those of every process of the pod but kafka-dev), holds BENCH_CONNS
# idle WebSocket connections with bench/loadgen and reports the ramp rate and the edges' RSS
# per connection (sum of VmRSS deltas / connections). Then the same load against "the limit"
# (bench/lws_echo: bare lws echo on libuv, docs/PERFORMANCE.md), as many processes as edges.
#
# Several processes on each side because a process may hold at most RLIMIT_NOFILE
# descriptors, and the hard limit cannot be raised without CAP_SYS_RESOURCE (20,000 on the
# machine this was written on); the script raises the soft limit to the hard one.
# Every step is bounded in time; everything started here is stopped on exit.
#
#   BENCH_CONNS=100000 BENCH_HOLD=20 BENCH_INFLIGHT=500 BENCH_PIPELINE=core bench/bench_edge_idle.sh
#   BENCH_CONNS=250000 BENCH_PIPELINE=full BENCH_PING_INTERVAL=300s bench/bench_edge_idle.sh  (opt-in size)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$here/$BUILD" ;; esac
BIN="$BUILD/bin"
N="${BENCH_CONNS:-100000}"
HOLD="${BENCH_HOLD:-20}"
INFLIGHT="${BENCH_INFLIGHT:-500}" # handshakes in flight per loadgen process
PIPELINE="${BENCH_PIPELINE:-core}"

# --- limits -------------------------------------------------------------------------------
ulimit -Hn "$(cat /proc/sys/fs/nr_open)" 2>/dev/null || true # works only with CAP_SYS_RESOURCE
ulimit -n "$(ulimit -Hn)"
per_proc=$(($(ulimit -n) - 2000)) # connections one process holds, with room for the rest
[ "$per_proc" -ge 1000 ] || { echo "bench: descriptor limit $(ulimit -n) too low"; exit 1; }
PROCS="${BENCH_EDGES:-$(((N + per_proc - 1) / per_proc + 1))}" # +1: SO_REUSEPORT is uneven
LOADGENS=$(((N + per_proc - 1) / per_proc))
# source addresses per loadgen: at most 10,000 connections per (source, destination) pair. Linux
# gives connect() the odd half of ip_local_port_range first (14,116 ports here); past it every
# connect() scans that whole half before trying the even one, the loadgens' loops slow down and
# handshakes time out at the edge: the first 250,000 run stalled at 14,200 per loadgen.
SOURCES=$(((N / LOADGENS + 9999) / 10000))
echo "bench: $N idle connections: $PROCS server processes, $LOADGENS loadgen processes" \
  "x $SOURCES source addresses x $INFLIGHT handshakes in flight, hold ${HOLD}s, pipeline=$PIPELINE"
echo "bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
echo "bench: limits: nofile $(ulimit -n) (fs.nr_open $(cat /proc/sys/fs/nr_open))," \
  "somaxconn $(cat /proc/sys/net/core/somaxconn)," \
  "tcp_max_syn_backlog $(cat /proc/sys/net/ipv4/tcp_max_syn_backlog)," \
  "nf_conntrack_max $(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null || echo n/a)"

source "$here/bench/lib.sh"
# 90 s: run.sh stops the pod stage by stage (edges drain first); killing it early would leave
# the stages behind it running
BENCH_STOP_WAIT=900
bench_start bench

# run_load NAME PORT PID...: LOADGENS loadgen processes against PORT, measuring the PIDs
run_load() {
  local name="$1" port="$2"; shift 2
  local servers=("$@") rss0 cpu0 rss1 cpu1 lgs=() i
  sleep 1
  rss0="$(sum_rss_kib "${servers[@]}")"
  local per0=() p
  for p in "${servers[@]}"; do per0+=("$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")"); done
  cpu0="$(sum_cpu_ticks "${servers[@]}")"
  local t0
  t0="$(date +%s.%N)"
  for ((i = 0; i < LOADGENS; i++)); do
    local n=$((N / LOADGENS + (i < N % LOADGENS ? 1 : 0)))
    timeout $((HOLD + 100 + (N / 500 > 300 ? N / 500 : 300))) "$BUILD/bench/loadgen" -p "$port" -n "$n" -c "$INFLIGHT" -s "$SOURCES" -b $((i * SOURCES)) \
      -x "/ocpp/bench${i}x" -t "$HOLD" >"$RUN/$name.$i.load" 2>&1 &
    lgs+=($!)
    pids+=($!) # stopped on exit too
  done
  local ramp_max=$((N / 500 > 300 ? N / 500 : 300)) # 500 connections/s at least
  local deadline=$((SECONDS + ramp_max))
  for ((i = 0; i < LOADGENS; i++)); do
    until grep -q '^ready' "$RUN/$name.$i.load" 2>/dev/null; do
      kill -0 "${lgs[$i]}" 2>/dev/null || { cat "$RUN/$name.$i.load"; echo "bench: loadgen $i ended early"; exit 1; }
      [ $SECONDS -lt $deadline ] || { tail -n 2 "$RUN/$name".*.load; echo "bench: ramp did not finish in $ramp_max s"; exit 1; }
      sleep 0.1
    done
  done
  cpu1="$(sum_cpu_ticks "${servers[@]}")"
  echo "bench: $name ramp done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  sleep 2 # let the servers settle
  rss1="$(sum_rss_kib "${servers[@]}")"
  # per process kind (issue 15: where the bytes of an idle connection go); the connections
  # held are read from the loadgens' reports below, the same count divides every row
  local rows="" k
  for k in "${!servers[@]}"; do
    p="${servers[$k]}"
    rows+="$(cat "/proc/$p/comm") ${per0[$k]} $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")"$'\n'
  done
  for p in "${lgs[@]}"; do wait "$p" || true; done
  # ramp: each loadgen measured from its start to its last open; they started together
  cat "$RUN/$name".*.load | python3 -c '
import re, sys
name, n, rss0, rss1, cpu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
opened = refused = failed = still = closed = 0; ramp = 0.0
for line in sys.stdin:
    m = re.match(r"ramp: (\d+) open, (\d+) refused, (\d+) failed of \d+ in ([\d.]+) s", line)
    if m:
        opened += int(m[1]); refused += int(m[2]); failed += int(m[3]); ramp = max(ramp, float(m[4]))
    m = re.match(r"hold: (\d+) still open after \d+ s, (\d+) closed", line)
    if m:
        still += int(m[1]); closed += int(m[2])
per = (rss1 - rss0) * 1024 / max(opened, 1)  # per connection actually held
print(f"{name:9s} ramp: {opened} of {n} open in {ramp:.2f} s = {opened / ramp:.0f} connections/s; "
      f"{refused} refused, {failed} failed")
print(f"{name:9s} hold: {still} still open at the end of the hold, {closed} closed by the server")
print(f"{name:9s} RSS: {rss0} KiB -> {rss1} KiB = {per:.0f} bytes ({per / 1024:.2f} KiB) per open connection; "
      f"server CPU during the ramp {cpu:.2f} s ({cpu * 1e6 / max(opened, 1):.0f} us per connection)")
kinds = {}
for row in sys.argv[6].splitlines():
    comm, a, b = row.split()
    k = kinds.setdefault(comm, [0, 0, 0])
    k[0] += 1; k[1] += int(a); k[2] += int(b)
if len(kinds) > 1:
    for comm, (cnt, a, b) in sorted(kinds.items()):
        print(f"{name:9s}   {comm:15s} x{cnt}: {a} KiB -> {b} KiB = {(b - a) * 1024 / max(opened, 1):.0f} bytes per open connection")
' "$name" "$N" "$rss0" "$rss1" "$(echo "scale=2; ($cpu1 - $cpu0) / $(getconf CLK_TCK)" | bc)" "$rows"
}

# --- the gateway --------------------------------------------------------------------------
port="$(free_port)"
export OCPPGW_POD_ID=bench OCPPGW_LOG_LEVEL=warn OCPPGW_IP_CONNECT_RATE=0 OCPPGW_IP_MAX_CONNECTIONS=0
export OCPPGW_SECURITY_PROFILE=0 OCPPGW_ALLOW_UNKNOWN_STATIONS=true # no credentials here
# BENCH_PING_INTERVAL (e.g. 300s): the edges' ping period for silent connections (default 30 s;
# idle timeout 3x). At 250,000 connections the default pings 8,300 connections a second, whose
# pongs the loadgens on the same 2 cores must write: the ramp stalled at 203,000 with handshakes
# timing out (bench/README.md). The limit (lws_echo) sends no pings at all.
if [ -n "${BENCH_PING_INTERVAL:-}" ]; then
  export OCPPGW_PING_INTERVAL_MS="$BENCH_PING_INTERVAL"
  export OCPPGW_IDLE_TIMEOUT_MS="$(python3 -c 'import re,sys; m=re.fullmatch(r"(\d+)(ms|s|m|h)?", sys.argv[1]); print(str(int(m[1])*3)+(m[2] or "ms"))' "$BENCH_PING_INTERVAL")"
  echo "bench: ping interval $OCPPGW_PING_INTERVAL_MS, idle timeout $OCPPGW_IDLE_TIMEOUT_MS"
fi
edge_pids=()
pod_pids=()
edge_admins=()
if [ "$PIPELINE" = full ]; then
  OCPPGW_EDGE_COUNT="$PROCS" OCPPGW_WS_PORT="$port" OCPPGW_ADMIN_BASE_PORT="$(free_ports $((PROCS + 8)))" \
    OCPPGW_RUN_DIR="$RUN/pod" OCPPGW_BIN="$BIN" setsid "$here/scripts/run.sh" >"$RUN/pod.out" 2>&1 &
  pids+=($!)
  wait_ok 60 grep -q '^ocppgw: ready' "$RUN/pod.out"
  mapfile -t edge_pids < <(pgrep -P "${pids[0]}" -x ws-edge)
  # the whole pod's memory and CPU (issue 15): every stage and its Redis, not kafka-dev (the
  # broker's stand-in)
  mapfile -t pod_pids < <(pgrep -P "${pids[0]}" -x 'ws-edge|ocpp-core|kafka-bridge|redis-registry|redis-server')
else
  mkdir -p "$RUN/ipc"
  export OCPPGW_IPC_DIR="$RUN/ipc"
  # no bridge or registry here: core queues their envelopes instead of blocking on them
  OCPPGW_ZMQ_HWM=1000000 OCPPGW_ADMIN_PORT="$(free_port)" "$BIN/ocpp-core" >"$RUN/core.log" 2>&1 &
  pids+=($!)
  for ((i = 0; i < PROCS; i++)); do
    admin="$(free_port)"
    edge_admins+=("$admin")
    OCPPGW_EDGE_ID="edge-$i" OCPPGW_WS_PORT="$port" OCPPGW_WS_BIND=127.0.0.1 \
      OCPPGW_ADMIN_PORT="$admin" "$BIN/ws-edge" >"$RUN/edge-$i.log" 2>&1 &
    pids+=($!)
    edge_pids+=($!)
    wait_ok 20 curl -sf "http://127.0.0.1:$admin/readyz"
  done
fi
if [ "$PIPELINE" = full ]; then
  echo "bench: measuring the whole pod: ${#pod_pids[@]} processes (edges, core, bridge, registry, redis-server)"
  run_load pod "$port" "${pod_pids[@]}"
else
  run_load ws-edge "$port" "${edge_pids[@]}"
fi
for a in "${edge_admins[@]}"; do curl -sf "http://127.0.0.1:$a/metrics"; done |
  awk '/^ocppgw_edge_(handshakes_failed_total|upgrades_refused_total|accept_errors_total)/ {s[$1] += $2}
       END {for (k in s) printf "ws-edge   %s %d (all edges)\n", k, s[k]}'
stop_started

# --- the limit: bare lws echo on the same event library ------------------------------------
port="$(free_port)"
for ((i = 0; i < PROCS; i++)); do
  "$BUILD/bench/lws_echo" "$port" 512 >"$RUN/echo-$i.log" 2>&1 &
  pids+=($!)
done
wait_ok 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
sleep 1
for p in "${pids[@]}"; do kill -0 "$p" || { echo "bench: lws_echo $p is not running"; exit 1; }; done
run_load lws-echo "$port" "${pids[@]}"
