# registry_lib.sh: helpers of the redis-registry integration tests (sourced after lib.sh).
# A "pod" here is one real redis-registry process plus a driver that stands in for the pod's cores
# and kafka-bridge (`envelope-tool registry`, tests/tools/envelope-tool/registry.c): commands go
# to the driver through a FIFO, every envelope the registry sends comes back as one line in
# $TMP/<pod>.drv.

# start_redis: a private redis-server on a free port without persistence; sets REDIS_PORT, REDIS_PID.
start_redis() {
  REDIS_PORT="${REDIS_PORT:-$(free_port)}"
  mkdir -p "$TMP/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$TMP/redis" --save "" \
    --appendonly no >"$TMP/redis.log" 2>&1 &
  REDIS_PID=$!
  wait_until 10 "redis-server on $REDIS_PORT" redis-cli -p "$REDIS_PORT" ping
}

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# key_is KEY COMMAND VALUE: true when `COMMAND KEY` answers VALUE (for wait_until, which must
# re-run the query each time).
key_is() { [ "$(rcli "$2" "$1")" = "$3" ]; }

# start_registry POD [VAR=value...]: driver + redis-registry for POD (1 core unless
# CORES is set). Extra arguments are environment settings for the registry.
start_registry() {
  local pod="$1"; shift
  local dir="$TMP/$pod"
  mkdir -p "$dir"
  rm -f "$dir/in"; mkfifo "$dir/in"
  "$TBIN/envelope-tool" registry "$dir" "${CORES:-1}" <"$dir/in" >"$TMP/$pod.drv" 2>&1 &
  eval "DRV_PID_${pod//-/_}=$!"
  exec {fd}>"$dir/in"
  eval "DRV_FD_${pod//-/_}=$fd"
  wait_until 10 "driver of $pod" grep -q '^driver ready' "$TMP/$pod.drv"
  printf '%s\n' OCPPGW_POD_ID="$pod" OCPPGW_IPC_DIR="$dir" OCPPGW_CORE_COUNT="${CORES:-1}" \
    OCPPGW_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" OCPPGW_ADMIN_PORT="$(free_port)" \
    OCPPGW_LEASE_TTL_MS="${LEASE_TTL:-2s}" OCPPGW_LEASE_REFRESH_MS="${LEASE_REFRESH:-300ms}" \
    "$@" >"$TMP/$pod.env"
  run_registry "$pod"
  [ -n "${NO_LEASE_WAIT:-}" ] || wait_until 10 "lease of $pod" key_is "pod:{$pod}" EXISTS 1
}

# run_registry POD: (re)starts POD's redis-registry with the environment start_registry gave it
# (as the kubelet restarts one container: same settings, same ipc directory; its log appended).
run_registry() {
  local pod="$1" envs
  mapfile -t envs <"$TMP/$pod.env"
  env "${envs[@]}" "$BIN/redis-registry" >>"$TMP/$pod.log" 2>&1 &
  eval "REG_PID_${pod//-/_}=$!"
}

reg_pid() { eval "echo \$REG_PID_${1//-/_}"; }

# kill_registry POD: SIGKILL (a pod dying without a goodbye), reaped quietly.
kill_registry() {
  local pid; pid="$(reg_pid "$1")"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
}

# admin_url POD: base URL of the registry's /metrics, /readyz.
admin_url() {
  echo "http://127.0.0.1:$(grep -o 'listening on 127.0.0.1:[0-9]*' "$TMP/$1.log" | head -1 | cut -d: -f2)"
}

# drv POD COMMAND...: one command line to POD's driver.
drv() {
  local pod="$1"; shift
  local fd; eval "fd=\$DRV_FD_${pod//-/_}"
  echo "$*" >&"$fd"
}

# expect_line SECONDS POD REGEX: waits for a matching output line of POD's driver; prints it.
expect_line() {
  local secs="$1" pod="$2" re="$3"
  wait_until "$secs" "'$re' from $pod (got: $(tail -n 5 "$TMP/$pod.drv" | tr '\n' '|'))" \
    grep -Eq "$re" "$TMP/$pod.drv"
  grep -E "$re" "$TMP/$pod.drv" | tail -n 1
}

not() { ! "$@"; }

count_lines() { grep -Ec "$2" "$TMP/$1.drv" || true; }

# On failure, show the tail of every registry log and driver transcript.
fail() {
  echo "FAIL: $*" >&2
  for f in "$TMP"/*.log "$TMP"/*.drv; do
    [ -f "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
