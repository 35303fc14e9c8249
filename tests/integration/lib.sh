# lib.sh: helpers shared by the integration tests (sourced, not run).
# Every test runs with `set -euo pipefail`, bounds its waits, uses loopback only and cleans up
# on any exit through the trap it installs with itest_cleanup_on_exit.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
BIN="$BUILD/bin"
TBIN="$BUILD/tests/bin" # the test doubles of tests/tools/ (envelope-tool, ws_echo): make tests
export E2E="$ROOT/tests/e2e"

ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# free_port_block N: first of N consecutive free loopback ports, below the kernel's ephemeral
# range (32768+), so that outgoing connections of running tests cannot take one meanwhile.
free_port_block() {
  python3 -c '
import random, socket, sys
n = int(sys.argv[1])
for _ in range(500):
    base = random.randrange(20000, 32000 - n)
    socks = []
    try:
        for p in range(base, base + n):
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

# wait_until SECONDS DESCRIPTION COMMAND...: poll every 0.1 s, fail after SECONDS.
wait_until() {
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${secs}s waiting for $what"
    sleep 0.1
  done
}

# start_pod NAME: runs scripts/run.sh for pod NAME in the background with free ports; sets
# POD_PID, POD_OUT (its output file), WS_PORT and waits for "ocppgw: ready".
start_pod() {
  local name="$1"
  WS_PORT="${ITEST_WS_PORT:-$(free_port)}"  # ITEST_WS_PORT: restart a pod on the same port
  POD_OUT="$TMP/$name.out"
  OCPPGW_POD_ID="$name" OCPPGW_WS_PORT="$WS_PORT" OCPPGW_WS_BIND=127.0.0.1 \
    OCPPGW_ADMIN_BASE_PORT="$(free_port_block 16)" OCPPGW_RUN_DIR="$TMP/$name" OCPPGW_BIN="$BIN" \
    setsid "$ROOT/scripts/run.sh" >"$POD_OUT" 2>&1 &
  POD_PID=$!
  local deadline=$((SECONDS + 40))
  until grep -q "^ocppgw: ready" "$POD_OUT" 2>/dev/null; do
    if ! kill -0 "$POD_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      cat "$POD_OUT" >&2
      tail -n 20 "$TMP/$name"/log/*.log >&2 2>/dev/null || true
      fail "pod $name did not become ready"
    fi
    sleep 0.2
  done
  # a pod started with OCPPGW_REDIS_URL / OCPPGW_KAFKA_BROKERS set (second pod) has no private ones
  REDIS_URL="${OCPPGW_REDIS_URL:-$(grep -o 'redis://[0-9.:]*' "$POD_OUT" | head -1 || true)}"
  KAFKA="${OCPPGW_KAFKA_BROKERS:-$(cat "$TMP/$name/kafka-bootstrap" 2>/dev/null || true)}"
}

# stop_pod PID: SIGTERM to run.sh; fail if it does not end within 60 s or if any stage exited
# non-zero (a crash or a sanitizer report under SANITIZER=...; run.sh prints which one).
stop_pod() {
  local pid="$1" rc=0
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { kill -KILL -- "-$pid" 2>/dev/null; fail "pod did not stop within 60 s"; }
    sleep 0.1
  done
  wait "$pid" || rc=$?
  [ $rc -eq 0 ] || { grep -A40 'exited with status' "$TMP"/*.out >&2 || true; fail "a stage of the pod exited with an error (run.sh status $rc)"; }
}

# (|| true: set -e applies inside the trap; a job that already ended must not turn a pass into
# exit 1)
itest_cleanup_on_exit() {
  TMP="$(mktemp -d /tmp/ocppgw-itest.XXXXXX)"
  trap 'rc=$?; for p in $(jobs -p); do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done; for _ in $(seq 1 100); do [ -z "$(jobs -rp)" ] && break; sleep 0.2; done; for p in $(jobs -rp); do kill -KILL -- "-$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; exit $rc' EXIT
}

# redis_is KEY VALUE: true when GET KEY (on $REDIS_URL) equals VALUE ("" for a missing key).
# A function, so that wait_until re-reads the key on every poll.
redis_is() {
  [ "$(redis-cli -u "$REDIS_URL" GET "$1")" = "$2" ]
}

# redis_set_nonempty KEY: true when KEY exists with a non-empty value.
redis_nonempty() {
  [ -n "$(redis-cli -u "$REDIS_URL" GET "$1")" ]
}

# provision_cred IDENTITY name=value...: a station's credential record written as a backend does
# (docs/security.md "A backend writing Redis directly"): HSET cred:<identity>, then PUBLISH
# ocppgw:cred, so the pod's redis-registry moves it to every edge. Needs REDIS_URL (start_pod).
# cred_record PROFILE PASSWORD|- [PREVIOUS]: the fields of a credential record (name=value, one
# word each) as ocppctl makes them (docs/security.md): PBKDF2-SHA256 with 1,000 iterations and a
# random salt; "-" for no password (profile 3: the certificate alone); PREVIOUS adds the prev_*
# fields of a rotation. For provision_cred and `envelope-tool creds set`.
cred_record() {
  python3 - "$@" <<'PY'
import base64, hashlib, os, sys
prof, pw = sys.argv[1], sys.argv[2]
out = ["v=1", f"profile={prof}"]
def h(prefix, p):
    salt = os.urandom(16)
    d = hashlib.pbkdf2_hmac("sha256", p.encode(), salt, 1000)
    return [f"{prefix}alg=pbkdf2-sha256", f"{prefix}iter=1000",
            f"{prefix}salt={base64.b64encode(salt).decode()}", f"{prefix}hash={base64.b64encode(d).decode()}"]
out += ["alg=none"] if pw == "-" else h("", pw)
if len(sys.argv) > 3:
    out += h("prev_", sys.argv[3])
print(" ".join(out + ["updated_ms=1700000000000"]))
PY
}

provision_cred() {
  local id="$1" kv args=()
  shift
  for kv in "$@"; do args+=("${kv%%=*}" "${kv#*=}"); done
  redis-cli -u "$REDIS_URL" HSET "cred:$id" "${args[@]}" >/dev/null
  redis-cli -u "$REDIS_URL" PUBLISH ocppgw:cred "$id" >/dev/null
}
