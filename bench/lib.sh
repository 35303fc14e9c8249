# bench/lib.sh: what the benchmark scripts share (sourced, not run). bench_start NAME makes the
# run directory $RUN, raises the descriptor limit and arranges for every process in pids[] to be
# stopped on exit; the rest are small helpers on /proc and free loopback ports.
# BENCH_STOP_WAIT: tenths of a second a started process gets after SIGTERM before SIGKILL.

bench_start() { # NAME: for messages and the run directory
  BENCH_NAME="$1"
  ulimit -n "$(ulimit -Hn)"
  RUN="$(mktemp -d "/tmp/ocppgw-$BENCH_NAME.XXXXXX")"
  pids=()
  trap 'rc=$?; [ $rc -eq 0 ] || tail -n 5 "$RUN"/*.log 2>/dev/null; stop_started; rm -rf "$RUN"' EXIT
}

stop_started() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 "${BENCH_STOP_WAIT:-300}"); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  pids=()
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

free_ports() { # N: the first of N consecutive free ports (run.sh's admin ports: 2 + cores + edges)
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

wait_ok() { # SECONDS COMMAND...: until the command succeeds, or exit 1
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "$BENCH_NAME: timed out waiting for: $*"; exit 1; }
    sleep 0.2
  done
}

# CPU time (utime + stime, all threads) in clock ticks of HZ, and resident memory in KiB
HZ="$(getconf CLK_TCK)"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
sum_cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(ticks "$p"))); done; echo $t; }
sum_rss_kib() { local t=0 p; for p in "$@"; do t=$((t + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status"))); done; echo $t; }
