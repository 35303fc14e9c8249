#!/usr/bin/env bash
# bench_edge_tls.sh: ws-edge's TLS costs (run by `make bench`; figures in bench/README.md).
#
#  1. Idle memory per connection: a fresh ws-edge (with ocpp-core behind it, no bridge or
#     registry) holds BENCH_TLS_N idle connections (bench/tls_hold.js) over ws, over wss (TLS 1.3
#     and TLS 1.2), and over wss with a client certificate (profile 3), each variant in its own
#     fresh edge in the same run; the edge's RSS delta per connection (VmRSS before and after) against ws as the
#     reference. Target: at most 16 KiB per idle wss connection (issue 13).
#  2. Full TLS handshakes per second per core, ECDSA P-256 and RSA 2048 server certificates
#     (TLS 1.3, X25519): the edge pinned to one CPU, `openssl s_time -new` pinned to another for
#     BENCH_TLS_SECONDS; the edge's CPU (utime + stime) per handshake, and 1 / that = handshakes
#     per second per core.
#  3. Password checks: build/bench/edge_auth_bench (PBKDF2 per iteration count, a first and a
#     remembered upgrade decision).
# The load average is printed with each part: the machine is shared, compare ratios.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-build}"
BIN="$here/$BUILD/bin"
N="${BENCH_TLS_N:-3000}"
SECS="${BENCH_TLS_SECONDS:-10}"
RUN="$(mktemp -d /tmp/ocppgw-bench-tls.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_ok() { # SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "bench_edge_tls: timed out: $*" >&2; exit 1; }
    sleep 0.1
  done
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- certificates ---------------------------------------------------------------------------
(
  cd "$RUN"
  q() { "$@" >/dev/null 2>&1; }
  q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 2 -subj "/CN=bench CA"
  printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
  q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.csr -subj /CN=localhost
  q openssl x509 -req -in ec.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out ec.pem
  q openssl req -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.csr -subj /CN=localhost
  q openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out rsa.pem
  q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr -subj /CN=B0
  q openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem
)

# an ocpp-core and a ws-edge with ws and wss (ECDSA or RSA certificate); sets EDGE, WS, WSS
start_gateway() { # NAME CERT(ec|rsa) [taskset CPU]
  local dir="$RUN/$1" cpu="${3:-}"
  mkdir -p "$dir/ipc"
  export OCPPGW_IPC_DIR="$dir/ipc" OCPPGW_LOG_LEVEL=warn OCPPGW_POD_ID=bench
  OCPPGW_ZMQ_HWM=1000000 OCPPGW_ADMIN_PORT=0 "$BIN/ocpp-core" >"$dir/core.log" 2>&1 &
  pids+=($!)
  WS="$(free_port)"
  WSS="$(free_port)"
  local admin
  admin="$(free_port)"
  local pin=()
  [ -n "$cpu" ] && pin=(taskset -c "$cpu")
  OCPPGW_WS_PORT="$WS" OCPPGW_WSS_PORT="$WSS" OCPPGW_WS_BIND=127.0.0.1 OCPPGW_ADMIN_PORT="$admin" \
    OCPPGW_TLS_CERT_FILE="$RUN/$2.pem" OCPPGW_TLS_KEY_FILE="$RUN/$2.key" \
    OCPPGW_TLS_CLIENT_CA_FILE="$RUN/ca.pem" OCPPGW_SECURITY_PROFILE=0 \
    OCPPGW_ALLOW_UNKNOWN_STATIONS=true OCPPGW_IP_CONNECT_RATE=0 OCPPGW_IP_MAX_CONNECTIONS=0 \
    OCPPGW_HANDSHAKE_TIMEOUT_MS=60s \
    "${pin[@]}" "$BIN/ws-edge" >"$dir/edge.log" 2>&1 &
  EDGE=$!
  pids+=("$EDGE")
  wait_ok 20 curl -sf "http://127.0.0.1:$admin/readyz"
}
stop_gateway() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

# --- 1. idle memory per connection ------------------------------------------------------------
echo "idle memory per connection: $N connections per variant, each in a fresh edge (load $(load))"
declare -A per
for variant in ws wss wss-tls12 wss-mtls; do
  start_gateway "mem-$variant" ec
  case "$variant" in
    ws) url="ws://127.0.0.1:$WS/ocpp"; extra=() ;;
    wss) url="wss://127.0.0.1:$WSS/ocpp"; extra=(--ca "$RUN/ca.pem") ;;
    wss-tls12) url="wss://127.0.0.1:$WSS/ocpp"; extra=(--ca "$RUN/ca.pem" --tls12 1) ;;
    wss-mtls) url="wss://127.0.0.1:$WSS/ocpp"; extra=(--ca "$RUN/ca.pem" --cert "$RUN/client.pem" --key "$RUN/client.key") ;;
  esac
  sleep 1
  rss0="$(rss_kib "$EDGE")"
  mkfifo "$RUN/hold-$variant.in"
  node "$here/bench/tls_hold.js" "$url" "$N" "${extra[@]}" <"$RUN/hold-$variant.in" >"$RUN/hold-$variant.out" 2>&1 &
  holder=$!
  exec 9>"$RUN/hold-$variant.in"
  wait_ok 300 grep -q '^ready' "$RUN/hold-$variant.out"
  sleep 2 # let the handshake buffers go
  rss1="$(rss_kib "$EDGE")"
  opened="$(awk '/^open/ {print $2}' "$RUN/hold-$variant.out")"
  per[$variant]="$(( (rss1 - rss0) * 1024 / (opened > 0 ? opened : 1) ))"
  printf '%-10s %s; edge RSS %d -> %d KiB: %d bytes (%.2f KiB) per connection\n' "$variant" \
    "$(head -1 "$RUN/hold-$variant.out")" "$rss0" "$rss1" "${per[$variant]}" \
    "$(echo "scale=2; ${per[$variant]} / 1024" | bc)"
  exec 9>&-
  wait "$holder" || true
  stop_gateway
done
printf 'wss costs %d bytes more per idle connection than ws (TLS 1.2: %d, mTLS: %d); target: at most 16 KiB per wss connection\n' \
  "$(( per[wss] - per[ws] ))" "$(( per[wss-tls12] - per[ws] ))" "$(( per[wss-mtls] - per[ws] ))"

# --- 2. handshakes per second per core ---------------------------------------------------------
if [ "$(nproc)" -ge 2 ]; then edge_cpu=0 client_cpu=1; else edge_cpu=0 client_cpu=0; fi
for cert in ec rsa; do
  start_gateway "hs-$cert" "$cert" "$edge_cpu"
  sleep 0.5
  c0="$(cpu_ticks "$EDGE")"
  out="$(taskset -c "$client_cpu" openssl s_time -connect "127.0.0.1:$WSS" -new -time "$SECS" 2>&1 || true)"
  c1="$(cpu_ticks "$EDGE")"
  hs="$(grep -o '^[0-9]* connections in [0-9.]*s' <<<"$out" | head -1)"
  count="${hs%% *}"
  cpu="$(echo "scale=4; ($c1 - $c0) / $(getconf CLK_TCK)" | bc)"
  python3 - "$cert" "$count" "$SECS" "$cpu" "$(load)" <<'PY'
import sys
cert, n, secs, cpu, load = sys.argv[1], int(sys.argv[2] or 0), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
name = {"ec": "ECDSA P-256", "rsa": "RSA 2048"}[cert]
per = cpu / n if n else float("nan")
print(f"{name:11s} full handshakes (TLS 1.3, X25519): {n} in {secs:.0f} s = {n / secs:.0f}/s from one "
      f"client; edge CPU {cpu:.2f} s = {per * 1e6:.0f} us per handshake = {1 / per:.0f} handshakes/s "
      f"per core (load {load})")
PY
  stop_gateway
done

# --- 3. password checks -------------------------------------------------------------------------
echo "password checks (load $(load)):"
"$here/$BUILD/bench/edge_auth_bench" 1
