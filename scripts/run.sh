#!/usr/bin/env bash
# run.sh: start the whole pipeline of one gateway pod on this machine (what `make run` does).
#
# Starts, for pod OCPPGW_POD_ID (default: host name):
#   - a private redis-server (own port, own temporary directory) unless OCPPGW_REDIS_URL is set;
#   - kafka-dev (librdkafka's mock cluster) unless OCPPGW_KAFKA_BROKERS is set;
#   - redis-registry, kafka-bridge, OCPPGW_CORE_COUNT x ocpp-core, ws-edge.
# Prints where it listens, then "ocppgw: ready". Ctrl-C or SIGTERM stops everything (edge
# first, so connections close with 1001 before the stages behind them go) and leaves no
# process or socket behind. Two runs with different OCPPGW_POD_ID and OCPPGW_WS_PORT against
# the same OCPPGW_REDIS_URL and OCPPGW_KAFKA_BROKERS form a two-pod cluster.
#
# Other variables: OCPPGW_WS_BIND (127.0.0.1 here; the service default is 0.0.0.0),
# OCPPGW_SECURITY_PROFILE (0 here) and OCPPGW_ALLOW_UNKNOWN_STATIONS (true here; the service
# defaults are 1 and false: docs/security.md),
# OCPPGW_ADMIN_BASE_PORT (admin ports base, default WS_PORT+1020: registry, bridge, core..., edge),
# OCPPGW_RUN_DIR (state directory, default a new temporary one), OCPPGW_BIN (binaries),
# OCPPGW_RESTART_STAGES=1 (a stage that dies is started again with the same environment, as the
# kubelet restarts a container, instead of stopping the pod: restart tests kill one stage alone),
# and every OCPPGW_<KEY> of the services' configuration tables (see README).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${OCPPGW_BIN:-$here/build/bin}"
export OCPPGW_POD_ID="${OCPPGW_POD_ID:-$(hostname)}"
export OCPPGW_WS_PORT="${OCPPGW_WS_PORT:-8080}"
export OCPPGW_WS_BIND="${OCPPGW_WS_BIND:-127.0.0.1}"
export OCPPGW_CORE_COUNT="${OCPPGW_CORE_COUNT:-1}"
# development defaults of the edge's authentication (docs/security.md): stations without
# credentials are accepted. A deployment keeps the service defaults (profile 1, unknown refused).
export OCPPGW_SECURITY_PROFILE="${OCPPGW_SECURITY_PROFILE:-0}"
export OCPPGW_ALLOW_UNKNOWN_STATIONS="${OCPPGW_ALLOW_UNKNOWN_STATIONS:-true}"
EDGE_COUNT="${OCPPGW_EDGE_COUNT:-1}" # ws-edge processes sharing the port (SO_REUSEPORT)
ADMIN_BASE="${OCPPGW_ADMIN_BASE_PORT:-$((OCPPGW_WS_PORT + 1020))}"

RUN_DIR="${OCPPGW_RUN_DIR:-}"
own_run_dir=0
if [ -z "$RUN_DIR" ]; then
  RUN_DIR="$(mktemp -d /tmp/ocppgw-run.XXXXXX)"
  own_run_dir=1
fi
mkdir -p "$RUN_DIR/log" "$RUN_DIR/env"
mkdir -p -m 700 "$RUN_DIR/ipc" # the pod's sockets: private to its user
export OCPPGW_IPC_DIR="$RUN_DIR/ipc"

pids=()      # started services, in start order
names=()
cmds=()      # their commands, quoted (OCPPGW_RESTART_STAGES)

say() { echo "ocppgw: $*"; }

# Stops every stage, edge first. A stage that exits non-zero (a crash, a sanitizer report,
# a stage that had to be killed) is reported with the end of its log, and run.sh then exits 1.
stop_all() {
  trap - INT TERM EXIT
  local i rc failed=0
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    # wait for this stage before stopping the one behind it (drain order)
    for _ in $(seq 1 200); do # 20 s: the edge drains over drain_window_ms
      kill -0 "${pids[$i]}" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      say "${names[$i]} did not stop within 20 s: killed"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
    rc=0
    wait "${pids[$i]}" 2>/dev/null || rc=$?
    if [ $rc -ne 0 ]; then
      say "${names[$i]} exited with status $rc; end of its log:"
      tail -n 40 "$RUN_DIR/log/${names[$i]}.log" >&2 || true
      failed=1
    fi
  done
  if [ $own_run_dir -eq 1 ]; then rm -rf "$RUN_DIR"; fi
  say "stopped"
  return $failed
}
trap 'stop_all && exit 0; exit 1' INT TERM
trap 'stop_all' EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() { # name, command...
  local name="$1"; shift
  env -0 >"$RUN_DIR/env/$name" # with the caller's per-stage assignments, for a restart
  "$@" >>"$RUN_DIR/log/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
  cmds+=("$(printf '%q ' "$@")")
}

# OCPPGW_RESTART_STAGES=1: a stage that exited is started again with the environment it had.
restart_dead() {
  local i rc
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null && continue
    rc=0
    wait "${pids[$i]}" 2>/dev/null || rc=$?
    say "${names[$i]} exited with status $rc: started again"
    local -a stage_env
    mapfile -d '' stage_env <"$RUN_DIR/env/${names[$i]}"
    eval "exec env -i \"\${stage_env[@]}\" ${cmds[$i]}" >>"$RUN_DIR/log/${names[$i]}.log" 2>&1 &
    pids[$i]=$!
  done
}

wait_for() { # description, seconds, command...
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      say "timed out waiting for $what (logs in $RUN_DIR/log)"
      tail -n 20 "$RUN_DIR"/log/*.log >&2 || true
      exit 1
    fi
    check_alive
    sleep 0.1
  done
}

check_alive() {
  local i
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      say "${names[$i]} exited early; its log:"
      tail -n 30 "$RUN_DIR/log/${names[$i]}.log" >&2 || true
      exit 1
    fi
  done
}

for b in ws-edge ocpp-core kafka-bridge redis-registry kafka-dev; do
  [ -x "$BIN/$b" ] || { say "missing $BIN/$b: run 'make' first"; exit 1; }
done

# --- Redis --------------------------------------------------------------------------------
if [ -z "${OCPPGW_REDIS_URL:-}" ]; then
  rport="$(free_port)"
  mkdir -p "$RUN_DIR/redis"
  start redis redis-server --port "$rport" --bind 127.0.0.1 --dir "$RUN_DIR/redis" \
    --save '' --appendonly no --daemonize no --protected-mode yes
  export OCPPGW_REDIS_URL="redis://127.0.0.1:$rport"
  wait_for "redis-server" 10 redis-cli -p "$rport" ping
  say "private redis-server at $OCPPGW_REDIS_URL"
fi

# --- Kafka --------------------------------------------------------------------------------
if [ -z "${OCPPGW_KAFKA_BROKERS:-}" ]; then
  OCPPGW_BOOTSTRAP_FILE="$RUN_DIR/kafka-bootstrap" \
  OCPPGW_CONTROL_PATH="$RUN_DIR/kafka-control" \
    start kafka-dev "$BIN/kafka-dev"
  wait_for "kafka-dev" 20 test -s "$RUN_DIR/kafka-bootstrap"
  export OCPPGW_KAFKA_BROKERS="$(cat "$RUN_DIR/kafka-bootstrap")"
  say "embedded Kafka broker (kafka-dev) at $OCPPGW_KAFKA_BROKERS (control: $RUN_DIR/kafka-control)"
fi

# --- the pod ------------------------------------------------------------------------------
# Stages bind their own input socket; start order is registry, bridge, cores, edge so that
# the edge accepts charge points only once everything behind it runs.
admin() { echo $((ADMIN_BASE + $1)); }
OCPPGW_ADMIN_PORT="$(admin 0)" start redis-registry "$BIN/redis-registry"
OCPPGW_ADMIN_PORT="$(admin 1)" start kafka-bridge "$BIN/kafka-bridge"
for ((i = 0; i < OCPPGW_CORE_COUNT; i++)); do
  OCPPGW_CORE_INDEX=$i OCPPGW_ADMIN_PORT="$(admin $((2 + i)))" start "ocpp-core-$i" "$BIN/ocpp-core"
done
edge_admin="$(admin $((2 + OCPPGW_CORE_COUNT)))"
if [ "$EDGE_COUNT" -le 1 ]; then
  OCPPGW_ADMIN_PORT="$edge_admin" start ws-edge "$BIN/ws-edge"
else
  for ((i = 0; i < EDGE_COUNT; i++)); do
    OCPPGW_EDGE_ID="edge-$i" OCPPGW_ADMIN_PORT="$(admin $((2 + OCPPGW_CORE_COUNT + i)))" \
      start "ws-edge-$i" "$BIN/ws-edge"
  done
fi

for ((k = 0; k < 2 + OCPPGW_CORE_COUNT + EDGE_COUNT; k++)); do
  wait_for "readiness on admin port $(admin $k)" 20 curl -sf "http://127.0.0.1:$(admin $k)/readyz"
done

say "pod $OCPPGW_POD_ID: ws://$OCPPGW_WS_BIND:$OCPPGW_WS_PORT/ocpp/{identity} (subprotocols ${OCPPGW_SUBPROTOCOLS:-ocpp2.1,ocpp2.0.1,ocpp1.6})"
say "admin: registry :$(admin 0), bridge :$(admin 1), core :$(admin 2).., edge :$edge_admin  (/metrics /healthz /readyz)"
say "logs: $RUN_DIR/log/"
say "ready"

# Stay in the foreground; if a service dies, stop the rest and report it (or start it again).
while true; do
  if [ "${OCPPGW_RESTART_STAGES:-0}" = 1 ]; then restart_dead; else check_alive; fi
  sleep 0.5
done
