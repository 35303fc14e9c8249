# registry_lib.sh: helpers of the redis-registry integration tests (sourced after lib.sh).
# A "pod" here is one real redis-registry process plus a driver that stands in for the pod's cores
# and kafka-bridge (`envelope-tool registry`, tests/tools/envelope-tool/registry.c): commands go
# to the driver through a FIFO, every envelope the registry sends comes back as one line in
# $TMP/<pod>.drv.

# start_redis: a private redis-server on a free port without persistence; sets REDIS_PORT,
# REDIS_PID and REDIS_URL (what the registries are given). With REGISTRY_TEST_CLUSTER=1 it is a
# 3-master Redis Cluster instead (start_redis_cluster), REDIS_PORT one of its masters, and rcli
# follows redirects: every registry test runs unchanged against a cluster.
start_redis() {
  if [ "${REGISTRY_TEST_CLUSTER:-0}" = 1 ]; then
    start_redis_cluster 3 "${REGISTRY_TEST_REPLICAS:-0}"
    return
  fi
  REDIS_PORT="${REDIS_PORT:-$(free_port)}"
  mkdir -p "$TMP/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$TMP/redis" --save "" \
    --appendonly no >"$TMP/redis.log" 2>&1 &
  REDIS_PID=$!
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  wait_until 10 "redis-server on $REDIS_PORT" redis-cli -p "$REDIS_PORT" ping
}

# start_redis_cluster MASTERS REPLICAS_PER_MASTER: a Redis Cluster of Debian's redis-server on
# consecutive free loopback ports (cluster-enabled, no persistence, node timeout 2 s so that a
# failover is quick), created with redis-cli --cluster create. Sets CLUSTER_PORTS (all nodes,
# masters first), REDIS_PORT (the first master), REDIS_URL (redis+cluster://...),
# CLUSTER_PIDS and REDIS_PID (the first node's, for tests that stop "the" redis).
start_redis_cluster() {
  local masters="$1" replicas="$2" n base i port addrs=()
  n=$((masters * (1 + replicas)))
  base="$(cluster_port_block "$n")"
  CLUSTER_PORTS=(); CLUSTER_PIDS=()
  for i in $(seq 0 $((n - 1))); do
    port=$((base + i))
    mkdir -p "$TMP/redis-$port"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$TMP/redis-$port" --save "" \
      --appendonly no --cluster-enabled yes --cluster-config-file "$TMP/redis-$port/nodes.conf" \
      --cluster-node-timeout 2000 >"$TMP/redis-$port.log" 2>&1 &
    CLUSTER_PIDS+=("$!"); CLUSTER_PORTS+=("$port"); addrs+=("127.0.0.1:$port")
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    wait_until 10 "redis-server on $port" redis-cli -p "$port" ping
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes \
    >"$TMP/cluster-create.log" 2>&1 || fail "redis-cli --cluster create: $(tail -n 5 "$TMP/cluster-create.log")"
  for port in "${CLUSTER_PORTS[@]}"; do
    wait_until 20 "cluster state ok on $port" cluster_ok "$port"
  done
  REDIS_PORT="${CLUSTER_PORTS[0]}"
  REDIS_PID="${CLUSTER_PIDS[0]}"
  REDIS_URL="redis+cluster://$(IFS=,; echo "${addrs[*]:0:$masters}")"
  RCLI_CLUSTER=(-c)
}

# cluster_port_block N: first of N consecutive free loopback ports whose cluster bus ports
# (port + 10000) are free too, all below the kernel's ephemeral range.
cluster_port_block() {
  python3 -c '
import random, socket, sys
n = int(sys.argv[1])
for _ in range(500):
    base = random.randrange(20000, 22700 - n)
    socks = []
    try:
        for p in list(range(base, base + n)) + list(range(base + 10000, base + 10000 + n)):
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p)); socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks: s.close()
    print(base); break
else:
    sys.exit(1)' "$1"
}

RCLI_CLUSTER=()
cluster_ok() { redis-cli -p "$1" CLUSTER INFO | grep -q '^cluster_state:ok'; }

# RCLI_AUTH: redis-cli's authentication options, when the test set up ACL users.
RCLI_AUTH=()
rcli() { redis-cli "${RCLI_AUTH[@]}" "${RCLI_CLUSTER[@]}" -p "$REDIS_PORT" "$@"; }

# redis_ports: the port of every redis-server of the test (each node of a cluster).
redis_ports() {
  if [ "${#RCLI_CLUSTER[@]}" -gt 0 ]; then echo "${CLUSTER_PORTS[@]}"; else echo "$REDIS_PORT"; fi
}

# rcli_scan [ARGS]: every key (redis-cli --scan on each master of a cluster).
rcli_scan() {
  local p
  for p in $(redis_ports); do
    if redis-cli "${RCLI_AUTH[@]}" -p "$p" ROLE | head -1 | grep -qx master; then
      redis-cli "${RCLI_AUTH[@]}" -p "$p" --scan "$@"
    fi
  done
}

# rcli_all ARGS: the command on every node (ACL, CONFIG are per node in a cluster).
rcli_all() {
  local p
  for p in $(redis_ports); do redis-cli "${RCLI_AUTH[@]}" -p "$p" "$@"; done
}

# redis_url_with USERINFO: REDIS_URL with "USERINFO@" before its host(s).
redis_url_with() { echo "${REDIS_URL%%://*}://$1@${REDIS_URL#*://}"; }

# stop_redis: SIGKILL of the redis-server (every node of a cluster), reaped.
stop_redis() {
  local p
  for p in ${CLUSTER_PIDS[@]+"${CLUSTER_PIDS[@]}"} "$REDIS_PID"; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

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
    OCPPGW_REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}" OCPPGW_ADMIN_PORT="$(free_port)" \
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
