#!/usr/bin/env bash
# bench/bench_cp_sim.sh: how fast is the load generator itself? cp-sim against ws_echo
# (tests/tools/ws_echo/ws_echo.c, a trivial epoll WebSocket server answering every CALL with a
# canned CALLRESULT), on loopback.
#
#   bench/bench_cp_sim.sh max      1,000 connections, closed loop: the simulator's top message rate
#   bench/bench_cp_sim.sh hold     250,000 connections from 10 source addresses, paced at 100,000 msg/s
#   bench/bench_cp_sim.sh all      both
# Environment: SECONDS_RUN (default 20 for max, 60 for hold), COUNT, RATE override the scenario;
# PROCS splits the stations over that many cp-sim processes (and as many ws_echo processes on
# one SO_REUSEPORT port). Default: enough processes that each stays under the descriptor limit
# (`ulimit -Hn`; 20,000 in this container, which lacks CAP_SYS_RESOURCE to raise it).
# Prints the reports, the echo counters, the total CPU time and peak RSS of both sides (from
# /proc), so CPU per message and memory per connection can be compared.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
ws_echo="$BUILD/tests/bin/ws_echo" # a test double, built by make tests and make bench
make --no-print-directory BUILD="$BUILD" "$BUILD/bin/cp-sim" "$ws_echo" >/dev/null
port="${PORT:-9300}"
tmp="$(mktemp -d)"
echo_pids=()
trap 'for p in "${echo_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
scen_value() { sed -nE "s/^ *$2: *([0-9]+).*/\1/p" "$1"; }

run() { # scenario, seconds
  local scen="$1" secs="$2"
  local count="${COUNT:-$(scen_value "$scen" count)}"
  local rate="${RATE:-$(scen_value "$scen" msg_rate)}"
  local ramp; ramp="$(scen_value "$scen" ramp_rate)"
  local limit; limit="$(ulimit -Hn)"
  local procs="${PROCS:-$(( (count + limit - 2000) / (limit - 1000) ))}"
  [ "$procs" -ge 1 ] || procs=1
  local per=$(( (count + procs - 1) / procs ))
  local hz; hz="$(getconf CLK_TCK)"
  echo "== $scen: $count stations, msg_rate ${rate:-0} (0 = closed loop), $secs s, $procs cp-sim + $procs ws_echo process(es), nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo_pids=()
  for ((i = 0; i < procs; i++)); do
    "$ws_echo" "$port" >"$tmp/echo.$i" 2>&1 &
    echo_pids+=($!)
  done
  sleep 0.5
  local sims=() left="$count"
  for ((i = 0; i < procs; i++)); do
    local n=$(( left < per ? left : per )); left=$(( left - n ))
    "$BUILD/bin/cp-sim" --config "$scen" --url "ws://127.0.0.1:$port/ocpp" --duration_ms "${secs}s" \
      --progress off --count "$n" --identity_start $(( 1 + i * per )) \
      --msg_rate $(( ${rate:-0} / procs )) --ramp_rate $(( (ramp + procs - 1) / procs )) \
      >"$tmp/report.$i" 2>"$tmp/err.$i" &
    sims+=($!)
  done
  local e0=0 s_cpu=0 s_rss_peak=0 e_rss_peak=0
  for p in "${echo_pids[@]}"; do e0=$(( e0 + $(cpu_ticks "$p") )); done
  while :; do
    local alive=0 c=0 r=0 er=0
    for p in "${sims[@]}"; do
      kill -0 "$p" 2>/dev/null && alive=1
      c=$(( c + $(cpu_ticks "$p") )); r=$(( r + $(rss_kb "$p") ))
    done
    for p in "${echo_pids[@]}"; do er=$(( er + $(rss_kb "$p") )); done
    [ "$c" -gt "$s_cpu" ] && s_cpu=$c
    [ "$r" -gt "$s_rss_peak" ] && s_rss_peak=$r
    [ "$er" -gt "$e_rss_peak" ] && e_rss_peak=$er
    [ $alive -eq 1 ] || break
    sleep 0.5
  done
  for p in "${sims[@]}"; do wait "$p" || { cat "$tmp"/err.*; exit 1; }; done
  local e_cpu=0
  for p in "${echo_pids[@]}"; do e_cpu=$(( e_cpu + $(cpu_ticks "$p") )); done
  e_cpu=$(( e_cpu - e0 ))
  for p in "${echo_pids[@]}"; do kill -TERM "$p"; wait "$p" || true; done
  echo_pids=()
  if [ "$procs" -eq 1 ]; then cat "$tmp/report.0"; else sed -n '1,5p;/latency ms  all/p;/error/p' "$tmp/report.0"; echo "(report of process 0 of $procs above)"; fi
  python3 - "$tmp" "$procs" "$s_cpu" "$e_cpu" "$hz" "$s_rss_peak" "$e_rss_peak" <<'PY'
import re, sys
tmp, procs, s_cpu, e_cpu, hz, s_rss, e_rss = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:8])
answered = open_end = peak = 0; secs = 0.0; p99 = 0.0
for i in range(procs):
    t = open(f"{tmp}/report.{i}").read()
    answered += int(re.search(r"answered (\d+),", t).group(1))
    open_end += int(re.search(r"open at end (\d+)", t).group(1))
    peak += int(re.search(r"peak open (\d+)", t).group(1))
    secs = max(secs, float(re.search(r"run: ([\d.]+) s", t).group(1)))
    m = re.search(r"latency ms  all +\d+ +([\d.]+) +([\d.]+) +([\d.]+)", t)
    if m: p99 = max(p99, float(m.group(3)))
ec = ea = 0
for i in range(procs):
    t = open(f"{tmp}/echo.{i}").read()
    m = re.search(r"connections (\d+), upgrades \d+, calls answered (\d+)", t)
    if m: ec += int(m.group(1)); ea += int(m.group(2))
print(f"ws_echo: connections {ec}, calls answered {ea}")
print(f"total: open at end {open_end}, peak open {peak}, answered {answered} in {secs:.1f} s = {answered/secs:.0f} msg/s, worst per-process p99 {p99:.2f} ms")
print(f"cpu: cp-sim {s_cpu/hz:.1f} s ({s_cpu/hz*1e6/max(answered,1):.2f} us/msg), ws_echo {e_cpu/hz:.1f} s ({e_cpu/hz*1e6/max(answered,1):.2f} us/msg)")
print(f"memory: cp-sim peak RSS {s_rss/1024:.0f} MiB ({s_rss*1024/max(peak,1):.0f} B/connection), ws_echo {e_rss/1024:.0f} MiB")
PY
}

case "${1:-all}" in
  max) run bench/scenarios/echo-max.yaml "${SECONDS_RUN:-20}" ;;
  hold) run bench/scenarios/echo-250k.yaml "${SECONDS_RUN:-60}" ;;
  all)
    run bench/scenarios/echo-max.yaml "${SECONDS_RUN:-20}"
    run bench/scenarios/echo-250k.yaml "${SECONDS_RUN:-60}"
    ;;
  *) echo "usage: $0 max|hold|all" >&2; exit 2 ;;
esac
