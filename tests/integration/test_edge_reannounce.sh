#!/usr/bin/env bash
# test_edge_reannounce.sh: ws-edge's side of the reconciliation with a restarted core (issue 12),
# against a scripted core (envelope-tool core) so that every envelope is seen: HELLO with the
# edge's instance every second; a core's first ANNOUNCE and every new instance re-announce the
# live connection (CONNECT resumed, original at_us, the boot state of CONN_STATE); FRAMEs carry
# identity, subprotocol and boot state; with the core stopped and its queue full, the re-announce
# comes before every message handed on after the new instance, nothing is lost or doubled, five
# DISCONNECTs queue without blocking the loop (/healthz and /readyz stay 200) and all arrive.
# With the secure defaults (security profile 1, unknown stations refused) and a scripted
# registry (envelope-tool creds ... registry): the edge's one PUSH to the registry carries its
# HELLO (which starts the credential sync), /readyz is 503 until the sync ended, every station
# connects with Basic auth, a station without a record is refused (401), and how each station
# authenticated (auth basic, profile 1) is in its CONNECT, every re-announce and every FRAME.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
fail() {
  echo "FAIL: $*" >&2
  tail -n 8 "$TMP/edge.log" "$TMP/core.out" >&2 2>/dev/null || true
  exit 1
}
mkdir -p "$TMP/ipc"
WS_PORT="$(free_port)"
ADMIN="$(free_port)"
mkfifo "$TMP/core.in"
"$TBIN/envelope-tool" core "$TMP/ipc" 4 <"$TMP/core.in" >"$TMP/core.out" 2>"$TMP/core.err" &
exec 3>"$TMP/core.in" # the scripted core's commands
wait_until 10 "the scripted core" grep -q "driver ready" "$TMP/core.out"
OCPPGW_POD_ID=itest-reann OCPPGW_IPC_DIR="$TMP/ipc" OCPPGW_CORE_COUNT=1 OCPPGW_WS_BIND=127.0.0.1 \
  OCPPGW_WS_PORT="$WS_PORT" OCPPGW_ADMIN_BIND=127.0.0.1 OCPPGW_ADMIN_PORT="$ADMIN" \
  OCPPGW_ZMQ_HWM=4 OCPPGW_CORE_OUTBOX_BYTES=4096 OCPPGW_MESSAGE_RATE=0 \
  "$BIN/ws-edge" >"$TMP/edge.log" 2>&1 &
edge_pid=$!
wait_until 10 "ws-edge up" curl -s "http://127.0.0.1:$ADMIN/readyz"
[ "$(curl -s "http://127.0.0.1:$ADMIN/readyz")" = "not ready: credentials not synced" ] ||
  fail "readyz before the credential sync: $(curl -s "http://127.0.0.1:$ADMIN/readyz")"
# the registry: CP-R1 and CP-D0..CP-D4 have a password (profile 1, as ocppctl makes records:
# docs/security.md); the edge's HELLO starts the full sync
PW=station-r1-password
{
  echo "set CP-R1 $(cred_record 1 "$PW")"
  for i in 0 1 2 3 4; do echo "set CP-D$i $(cred_record 1 "$PW-d$i")"; done
} >"$TMP/records"
mkfifo "$TMP/creds.in"
"$TBIN/envelope-tool" creds "$TMP/ipc" edge-0 registry <"$TMP/creds.in" >"$TMP/creds.out" 2>&1 &
exec 4>"$TMP/creds.in"
cat "$TMP/records" >&4
# records set after the sync the HELLO started go as changes (CRED), as the registry does
wait_until 10 "the HELLO-triggered credential sync" grep -q '^sync 1 ' "$TMP/creds.out"
wait_until 10 "6 records in the edge" bash -c \
  "curl -s http://127.0.0.1:$ADMIN/metrics | grep -q '^ocppgw_edge_credentials 6\$'"
wait_until 10 "ws-edge ready" curl -sf "http://127.0.0.1:$ADMIN/readyz"
ok "not ready until the credential sync the edge's HELLO (through its registry outbox) started"
wait_until 5 "two HELLOs" bash -c "[ \$(grep -c '^hello ' '$TMP/core.out') -ge 2 ]"
instance="$(grep -m1 '^hello ' "$TMP/core.out" | awk '{print $4}')"
[ "$instance" -gt 1000000000000000 ] || fail "HELLO without an instance: $(grep -m1 '^hello ' "$TMP/core.out")"
ok "HELLO every second with the edge's instance ($instance, its start in microseconds)"

python3 - "$WS_PORT" "$ADMIN" "$TMP/core.out" "$TMP/core.in" "$PW" <<'PY' || fail "scenario"
import base64, json, os, socket, struct, sys, time, urllib.request
port, admin, out_path, in_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
password = sys.argv[5]
core_in = open(in_path, "w")

def core(cmd):
    core_in.write(cmd + "\n")
    core_in.flush()

def lines():  # a FRAME's data is the rest of its line
    return [l.split(" ", 6) if l.startswith("frame ") else l.split(" ")
            for l in open(out_path).read().splitlines()]

def wait_for(pred, what, secs=10):
    end = time.time() + secs
    while time.time() < end:
        got = [l for l in lines() if pred(l)]
        if got:
            return got
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}; core saw: {lines()[-6:]}")

def connect(name, pw=None, expect=b"101"):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    basic = "" if pw is None else \
        "Authorization: Basic " + base64.b64encode(f"{name}:{pw}".encode()).decode() + "\r\n"
    s.sendall((f"GET /ocpp/{name} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n{basic}"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n").encode())
    head = s.recv(4096)
    assert head.split(b" ")[1:2] == [expect], f"{name}: {head[:200]}"
    return s

def send(s, text, opcode=1):
    p = text.encode()
    mask = os.urandom(4)
    hdr = bytes([0x80 | opcode])
    hdr += bytes([0x80 | len(p)]) if len(p) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(p))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(p)))

def status(path):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{admin}{path}", timeout=2).status
    except Exception as e:
        return getattr(e, "code", 0)

s = connect("CP-R1", password)
c = wait_for(lambda l: l[0] == "connect" and l[2] == "CP-R1", "CONNECT")[0]
conn, at = c[1], c[5]
assert c[6] == "0" and c[3] == "ocpp1.6" and c[4].startswith("127.0.0.1:"), c
assert c[8:10] == ["basic", "1"], f"CONNECT auth and profile: {c}"
send(s, "m1")
f = wait_for(lambda l: l[0] == "frame" and l[-1] == "m1", "FRAME m1")[0]
assert f[1:6] == [conn, "CP-R1", "ocpp1.6", "-", "basic"], f
print("ok: CONNECT (auth basic, security profile 1), then a FRAME with identity, subprotocol, "
      "(no) boot state and auth")
# refused before the upgrade (401): no credentials, a station without a record (unknown
# stations are refused by default), a wrong password; none of them reaches core
connect("CP-R1", expect=b"401").close()
connect("CP-X9", "some-password-16chars", expect=b"401").close()
connect("CP-R1", "not-the-password!", expect=b"401").close()
time.sleep(0.2)
assert len([l for l in lines() if l[0] == "connect"]) == 1, "a refused upgrade reached core"
print("ok: no credentials, no record, a wrong password: 401, nothing reaches core")

core("announce 111")  # the first instance the edge sees: it re-announces
r = wait_for(lambda l: l[0] == "connect" and l[6] == "1", "resumed CONNECT")[0]
assert r[1] == conn and r[5] == at and r[7] == "-" and r[8:10] == ["basic", "1"], r
core(f"conn_state {conn} accepted")
time.sleep(0.3)
core("announce 222")
r = wait_for(lambda l: l[0] == "connect" and l[6] == "1" and l[7] == "accepted", "resumed CONNECT, accepted")[0]
assert r[1] == conn and r[5] == at, r
core("announce 222")  # the same instance: nothing
send(s, "m2")
f = wait_for(lambda l: l[0] == "frame" and l[-1] == "m2", "FRAME m2")[0]
assert f[4:6] == ["accepted", "basic"], f
time.sleep(0.5)
assert sum(1 for l in lines() if l[0] == "connect" and l[6] == "1") == 2, "a re-announce too many"
print("ok: first instance and new instance re-announce the connection (resumed, original at_us "
      "%s, boot state accepted, auth basic, profile 1); the same instance again changes nothing"
      % at)

# the core stops reading: the queues (hwm 4 each side, the ipc socket's buffers) and the edge's
# outbox (4 KiB) fill up, the edge
# holds the rest of the station's messages and stops reading it
core("pause")
time.sleep(0.3)
n = 40
for i in range(n):
    send(s, f"p{i:02d}-" + "x" * 30000)  # 1.2 MB: more than the ipc socket buffers hold
others = [connect(f"CP-D{i}", f"{password}-d{i}") for i in range(5)]  # Basic, as CP-R1
time.sleep(1.0)
core("announce 333")  # the core restarted while full
time.sleep(0.5)
for o in others:  # their DISCONNECTs must not block the edge's loop
    o.close()
time.sleep(0.5)
assert status("/healthz") == 200 and status("/readyz") == 200, "not healthy or not ready while core is full"
core("resume")
wait_for(lambda l: l[0] == "frame" and l[-1].startswith(f"p{n - 1:02d}-"), "the last held message", 20)
wait_for(lambda l: l[0] == "disconnect" and sum(1 for k in lines() if k[0] == "disconnect") >= 5,
         "5 DISCONNECTs", 10)
seq = [l for l in lines() if (l[0] == "frame" and l[-1].startswith("p")) or
       (l[0] == "connect" and l[1] == conn and l[6] == "1")][0:]
seq = seq[[i for i, l in enumerate(seq) if l[0] == "frame"][0]:]  # from the first p-message on
got = [l[-1][:3] for l in seq if l[0] == "frame"]
assert got == [f"p{i:02d}" for i in range(n)], f"messages lost, doubled or reordered: {got}"
marks = [i for i, l in enumerate(seq) if l[0] == "connect"]
assert len(marks) == 1 and 0 < marks[0] < len(seq) - 1, f"re-announce at {marks} of {len(seq)}"
assert seq[marks[0]][8:10] == ["basic", "1"], seq[marks[0]]
ds = [l for l in lines() if l[0] == "connect" and l[2].startswith("CP-D") and l[6] == "0"]
assert len(ds) == 5 and all(l[8:10] == ["basic", "1"] for l in ds), ds
k = marks[0]
print(f"ok: core full: {k} messages were queued before the new instance, the re-announce came "
      f"before the {n - k} held after it; all {n} in order, none lost or doubled")
print("ok: 5 DISCONNECTs queued while core was full without blocking (/healthz and /readyz 200), "
      "all delivered")
send(s, "", opcode=8)
s.close()
PY
wait_until 5 "the station's DISCONNECT" bash -c "[ \$(grep -c '^disconnect ' '$TMP/core.out') -ge 6 ]"
ok "the station's DISCONNECT"
exec 4>&-
kill -TERM "$edge_pid"
rc=0
wait "$edge_pid" || rc=$?
[ $rc -eq 0 ] || fail "ws-edge exited with $rc (a sanitizer report under SANITIZER=...)"
ok "ws-edge drained and exited cleanly"
exec 3>&-
