#!/usr/bin/env bash
# rootfs_replay.sh: the container image without Docker. Replays the Dockerfile's instructions
# (FROM debian:bookworm-slim = a debootstrap minbase of bookworm, RUN, COPY, WORKDIR, ENV)
# into chroot directories, then runs one gateway pod from the runtime root file system the way
# Kubernetes would: as uid 10001, root file system read-only, the ipc directory a separate
# writable mount, the k8s ConfigMap's file as OCPPGW_CONFIG, OCPPGW_POD_ID=ocppgw-0. A real
# WebSocket client boots through it; the event must reach Kafka and the mapping Redis; the
# compose health check is run inside the root file system as uid 10001; SIGTERM in the pod's
# drain order (edge, core, bridge, registry) must stop each stage cleanly.
#
#   sudo tests/deploy/rootfs_replay.sh          # ~4 minutes the first time (downloads ~150 MB)
#
# NOT run by `make check`: it needs root, debootstrap and Debian's archive. Redis and the
# Kafka-protocol broker (kafka-dev) run on the host's loopback; everything binds 127.0.0.1.
# ROOTFS_DIR (default /tmp/ocppgw-rootfs) keeps the debootstrap base between runs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
W="${ROOTFS_DIR:-/tmp/ocppgw-rootfs}"

say() { echo "rootfs-replay: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ "${1:-}" != --pod ]; then
  [ "$(id -u)" -eq 0 ] || fail "needs root (chroot, mounts)"
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  [ -x "$ROOT/build/bin/kafka-dev" ] || fail "build/bin/kafka-dev missing: run make first"
  mkdir -p "$W"
  if [ ! -x "$W/base/bin/sh" ]; then
    say "debootstrap --variant=minbase bookworm (the base of debian:bookworm-slim)"
    rm -rf "$W/base"
    debootstrap --variant=minbase bookworm "$W/base" http://deb.debian.org/debian >"$W/debootstrap.log" 2>&1 \
      || fail "debootstrap failed, see $W/debootstrap.log"
    rm -f "$W/base/etc/apt/sources.list"
    cat >"$W/base/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi

  # Translate the Dockerfile into shell: one root file system per stage.
  python3 - "$ROOT/Dockerfile" "$W" "$ROOT" >"$W/replay.sh" <<'PY'
import json, shlex, sys
dockerfile, w, ctx = sys.argv[1:]
text = open(dockerfile).read().replace("\\\n", " ")
out = ["set -euo pipefail"]
stage, names, cwd, env = -1, {}, "/", {}
for raw in text.split("\n"):
    line = raw.strip()
    if not line or line.startswith("#"):
        continue
    op, _, arg = line.partition(" ")
    op, arg = op.upper(), arg.strip()
    q = shlex.quote
    if op == "FROM":
        stage += 1
        parts = arg.split()
        if parts[0] != "debian:bookworm-slim":
            sys.exit(f"cannot replay FROM {parts[0]}")
        if len(parts) == 3 and parts[1].upper() == "AS":
            names[parts[2]] = stage
        cwd, env = "/", {}
        r = f"{w}/stage{stage}"
        out += [f"rm -rf {r}", f"cp -a {w}/base {r}", f"cp /etc/resolv.conf {r}/etc/resolv.conf"]
    elif op == "WORKDIR":
        cwd = arg
        out.append(f"mkdir -p {r}{arg}")
    elif op == "ENV":
        k, _, v = arg.partition("=")
        env[k] = v
    elif op == "RUN":
        exports = "".join(f"export {k}={q(v)}; " for k, v in env.items())
        cmd = f"{exports}cd {q(cwd)} && {arg}"
        out += [f"mount --bind /proc {r}/proc", f"mount --bind /dev {r}/dev",
                f"chroot {r} /bin/sh -c {q(cmd)} || {{ umount {r}/proc {r}/dev; exit 1; }}",
                f"umount {r}/proc {r}/dev"]
    elif op == "COPY":
        parts = arg.split()
        src_root = ctx
        if parts[0].startswith("--from="):
            src_root = f"{w}/stage{names[parts[0][7:]]}"
            parts = parts[1:]
        *srcs, dst = parts
        dst_abs = dst if dst.startswith("/") else f"{cwd.rstrip('/')}/{dst}"
        out.append(f"mkdir -p {r}{dst_abs if dst.endswith('/') else dst_abs.rsplit('/', 1)[0] or '/'}")
        for s in srcs:  # as Docker does: a directory's contents, a file into dst/ or as dst
            src = f"{src_root}/{s.rstrip('/')}"
            out.append(f"if [ -d {src} ]; then mkdir -p {r}{dst_abs} && cp -a {src}/. {r}{dst_abs}; "
                       f"else cp -a {src} {r}{dst_abs}; fi")
    elif op in ("USER", "CMD", "ENTRYPOINT", "EXPOSE", "LABEL"):
        out.append(f"echo {q(op + ' ' + arg)} > {r}/.replay-{op.lower()}")
    else:
        sys.exit(f"cannot replay {op}")
out.append(f"echo {stage} > {w}/last-stage")
print("\n".join(out))
PY
  say "replaying the Dockerfile"
  bash "$W/replay.sh" >"$W/replay.log" 2>&1 || { tail -n 30 "$W/replay.log"; fail "Dockerfile replay failed ($W/replay.log)"; }
  say "image root file system: $W/stage$(cat "$W/last-stage") ($(du -sm --exclude=proc "$W/stage$(cat "$W/last-stage")" | cut -f1) MB)"
  exec unshare --mount --propagation private "$0" --pod
fi

# ---- inside a private mount namespace: run the pod from the runtime root file system -------
R="$W/stage$(cat "$W/last-stage")"
TMP="$(mktemp -d /tmp/ocppgw-rootfs-pod.XXXXXX)"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# USER of the image, read-only root, writable ipc dir, the ConfigMap's file
user="$(cut -d' ' -f2 "$R/.replay-user")"
[ "$user" = "10001:10001" ] || fail "image USER is '$user'"
mkdir -p "$TMP/ipc" "$TMP/etc"
chown 10001:10001 "$TMP/ipc"
python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); open(sys.argv[2], "w").write(d["data"]["ocppgw.yaml"])' \
  "$ROOT/k8s/configmap.yaml" "$TMP/etc/ocppgw.yaml"
mount --bind "$R" "$R"
mount --bind "$TMP/ipc" "$R/run/ocppgw"
mkdir -p "$R/etc/ocppgw"
mount --bind "$TMP/etc" "$R/etc/ocppgw"
mount --bind /proc "$R/proc"
mount -o remount,bind,ro "$R"
touch "$R/probe" 2>/dev/null && fail "root file system is writable"
say "root file system read-only, /run/ocppgw writable, running as $user"

rport="$(free_port)"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
pids+=($!)
OCPPGW_BOOTSTRAP_FILE="$TMP/kafka-bootstrap" "$ROOT/build/bin/kafka-dev" >"$TMP/kafka-dev.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$TMP/kafka-bootstrap" ] && redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.2; done
[ -s "$TMP/kafka-bootstrap" ] || fail "kafka-dev did not start"
brokers="$(cat "$TMP/kafka-bootstrap")"

ws_port="$(free_port)"
declare -A admin
stage_pid=()
start_stage() { # name: environment as in k8s/statefulset.yaml, loopback ports for this machine
  local n="$1" port
  port="$(free_port)"
  admin[$n]=$port
  # like a container: the stage is process 1 of its own PID namespace (the kernel delivers
  # SIGTERM to a process 1 only if it installed a handler)
  unshare --pid --fork --kill-child chroot --userspec=10001:10001 "$R" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin \
    OCPPGW_IPC_DIR=/run/ocppgw OCPPGW_POD_ID=ocppgw-0 OCPPGW_CONFIG=/etc/ocppgw/ocppgw.yaml \
    OCPPGW_CORE_INDEX=0 OCPPGW_ADMIN_BIND=127.0.0.1 OCPPGW_ADMIN_PORT="$port" \
    OCPPGW_WS_BIND=127.0.0.1 OCPPGW_WS_PORT="$ws_port" OCPPGW_KAFKA_BROKERS="$brokers" \
    OCPPGW_REDIS_URL="redis://127.0.0.1:$rport" "/usr/local/bin/$n" >"$TMP/$n.log" 2>&1 &
  local outer=$! inner=""
  pids+=("$outer")
  for _ in $(seq 50); do inner="$(pgrep -P "$outer" | head -1 || true)"; [ -n "$inner" ] && break; sleep 0.1; done
  [ -n "$inner" ] || fail "$n did not start"
  stage_pid+=("$n:$inner:$outer")
  # the compose health check, run inside the image as its user
  local check
  check="$(python3 -c 'import sys, yaml; t = yaml.safe_load(open(sys.argv[1]))["services"][sys.argv[2]]["healthcheck"]["test"]; print(t[3])' \
    "$ROOT/docker-compose.yml" "$n")"
  check="$(sed -E "s#/dev/tcp/127.0.0.1/[0-9]+#/dev/tcp/127.0.0.1/$port#" <<<"$check")"
  for _ in $(seq 100); do
    chroot --userspec=10001:10001 "$R" /bin/bash -c "$check" 2>/dev/null && { say "$n healthy (compose check inside the image)"; return 0; }
    kill -0 "$inner" 2>/dev/null || { cat "$TMP/$n.log"; fail "$n exited"; }
    sleep 0.2
  done
  cat "$TMP/$n.log"
  fail "$n not healthy"
}
for n in redis-registry kafka-bridge ocpp-core ws-edge; do start_stage "$n"; done
grep -q 'pod_id\|ocppgw-0' "$TMP/ws-edge.log" || true

node "$ROOT/tests/e2e/skeleton.js" "ws://127.0.0.1:$ws_port" CP-ROOTFS ocpp1.6 2000 >"$TMP/client.log" 2>&1 &
client=$!
for _ in $(seq 50); do grep -q '^holding' "$TMP/client.log" && break; sleep 0.2; done
grep -q '^holding' "$TMP/client.log" || { cat "$TMP/client.log"; fail "skeleton client did not boot"; }
owner="$(redis-cli -p "$rport" GET 'conn:CP-ROOTFS')"
[ "$owner" = ocppgw-0 ] || fail "conn:CP-ROOTFS is '$owner', expected ocppgw-0"
say "charge point booted through the image's binaries; Redis maps it to ocppgw-0"
wait "$client" || { cat "$TMP/client.log"; fail "skeleton client failed"; }
timeout 20 kcat -C -b "$brokers" -t ocpp-events-up -o beginning -e -q -f '%k %s\n' >"$TMP/events" || true
grep -q '^CP-ROOTFS .*"type":"device.online"' "$TMP/events" || { cat "$TMP/events"; fail "device.online not on Kafka"; }
say "device.online for CP-ROOTFS is on ocpp-events-up"
curl -sf "http://127.0.0.1:${admin[ws-edge]}/metrics" | grep -q '^ocppgw_edge_connections_accepted_total 1' \
  || fail "edge metrics do not count the connection"

# drain order of the pod: edge, core, bridge, registry; each must exit by itself, promptly and
# with status 0 (a stage that ignores SIGTERM would be killed only when the grace period ends)
problems=0
for n in ws-edge ocpp-core kafka-bridge redis-registry; do
  for e in "${stage_pid[@]}"; do
    if [ "${e%%:*}" = "$n" ]; then IFS=: read -r _ p outer <<<"$e"; fi
  done
  kill -TERM "$p"
  if ! timeout 20 tail --pid="$p" -f /dev/null; then
    echo "FAIL: $n (process 1 of its PID namespace) did not exit within 20 s of SIGTERM" >&2
    kill -KILL "$p" 2>/dev/null || true
    problems=$((problems + 1))
    continue
  fi
  rc=0
  wait "$outer" || rc=$?
  if [ $rc -eq 0 ] && grep -q '"msg":"stopping' "$TMP/$n.log"; then
    say "$n stopped on SIGTERM through its shutdown path"
  else
    echo "FAIL: $n exited with status $rc without its shutdown path (no \"stopping\" log line)" >&2
    problems=$((problems + 1))
  fi
done
[ $problems -eq 0 ] || fail "$problems stage(s) did not shut down cleanly"
say "passed"
