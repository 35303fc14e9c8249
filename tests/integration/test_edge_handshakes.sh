#!/usr/bin/env bash
# test_edge_handshakes.sh: the bounds on sockets still in the handshake (issue 13 item 6), with
# silent sockets (a slow-loris host): at most ip_max_connections of them per address (the rest
# dropped at accept), at most max_handshakes in all (the oldest, once a second old, makes room;
# when all are younger, accepting pauses, with one more in the table), and a station is still
# upgraded meanwhile.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
fail() {
  echo "FAIL: $*" >&2
  tail -n 5 "$TMP"/itest-hs/log/ws-edge.log >&2 2>/dev/null || true
  exit 1
}
export OCPPGW_MAX_HANDSHAKES=20 OCPPGW_IP_MAX_CONNECTIONS=10 OCPPGW_HANDSHAKE_TIMEOUT_MS=8s
start_pod itest-hs
edge_admin="$(grep -o 'edge :[0-9]*' "$POD_OUT" | grep -o '[0-9]*')"

python3 - "$WS_PORT" "$edge_admin" <<'PY' || fail "scenario"
import base64, os, socket, sys, time, urllib.request
port, admin = int(sys.argv[1]), int(sys.argv[2])

def metric(name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.split(" ")[0] == "ocppgw_" + name:
            return float(line.split(" ")[1])
    return 0.0

def dropped(reason):
    return metric(f'edge_sockets_dropped_total{{reason="{reason}"}}')

def wait(pred, what, secs=10):  # (returns as soon as pred holds: the time is for a loaded machine)
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out: {what} (handshakes {metric('edge_handshakes')}, "
                     f"ip {dropped('ip_handshakes')}, evicted {dropped('handshake_evicted')}, "
                     f"pauses {metric('edge_accept_pauses_total')})")

def silent(src, n):
    out = []
    for _ in range(n):
        s = socket.socket()
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        out.append(s)
    return out

def station(src):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ocpp/HSCP HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n").encode())
    head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head[:40]
    return s

held = silent("127.0.0.3", 15)
wait(lambda: dropped("ip_handshakes") == 5 and metric("edge_handshakes") == 10,
     "5 of 15 silent sockets of one address dropped")
print("ok: one address: 10 sockets in the handshake (ip_max_connections), 5 more dropped at accept")
held += silent("127.0.0.4", 10)
wait(lambda: metric("edge_handshakes") == 20, "20 sockets in the handshake")
time.sleep(1.3)  # the oldest are a second old now
held += silent("127.0.0.5", 5)
wait(lambda: dropped("handshake_evicted") == 5, "5 of the oldest evicted")
assert metric("edge_handshakes") == 20
print("ok: max_handshakes 20 reached: each new socket made the oldest (over a second old) go")
st = station("127.0.0.2")
print("ok: a station is upgraded while the handshake table is full of silent sockets")
for src in ("127.0.0.6", "127.0.0.7", "127.0.0.8"):  # the old ones go first, then: pause
    held += silent(src, 10)
wait(lambda: metric("edge_accept_pauses_total") >= 1, "accepting paused")
print(f"ok: with only young sockets in the handshake accepting pauses "
      f"({int(metric('edge_accept_pauses_total'))} pause(s)) instead of closing them")
# (8 s after the last of them was accepted, which may be after a pause: 25 s for a loaded machine)
wait(lambda: metric("edge_handshakes") == 0, "every silent socket timed out", 25)
print("ok: the silent sockets are gone after the handshake timeout, the table is empty")
assert metric("edge_connections") == 1  # the station is still connected
for s in held:
    s.close()
PY
stop_pod "$POD_PID"
