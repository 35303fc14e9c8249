#!/usr/bin/env bash
# test_edge_proxy_protocol.sh: ws-edge with proxy_protocol v2 behind HAProxy from Debian in TCP
# mode (`send-proxy-v2`, health checks with `check-send-proxy`: PROXY LOCAL). Every connection
# reaches the edge from HAProxy's address, yet the per-address cap applies to the charge point's
# own address from the header: 5 connections from 127.0.0.3 are held, the 6th from there gets 429
# while 127.0.0.4 is still accepted, and the edge logs the real addresses. A connection that does
# not start with a valid header (plain HTTP straight to the edge) is dropped, one that sends
# nothing is dropped after the handshake timeout, both counted; a hand-made header is honoured.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
CLIENT="python3 $(dirname "$0")/ws_edge_client.py"
command -v haproxy >/dev/null || fail "haproxy is not installed (apt-get install haproxy)"
fail() {
  echo "FAIL: $*" >&2
  tail -n 5 "$TMP"/itest-proxy/log/ws-edge.log >&2 2>/dev/null || true
  tail -n 5 "$TMP/haproxy.log" >&2 2>/dev/null || true
  exit 1
}

export OCPPGW_PROXY_PROTOCOL=v2 OCPPGW_IP_MAX_CONNECTIONS=5 OCPPGW_HANDSHAKE_TIMEOUT_MS=2s
start_pod itest-proxy
edge_admin="$(grep -o 'edge :[0-9]*' "$POD_OUT" | grep -o '[0-9]*')"
metric() {
  curl -sf "http://127.0.0.1:$edge_admin/metrics" | awk -v m="ocppgw_$1" '$1 == m {print $2; f=1} END {if (!f) print 0}'
}
edge_log="$TMP/itest-proxy/log/ws-edge.log"

HA_PORT="$(free_port)"
cat >"$TMP/haproxy.cfg" <<EOF
global
  maxconn 1000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend charge_points
  bind 127.0.0.1:$HA_PORT
  default_backend edges
backend edges
  server edge0 127.0.0.1:$WS_PORT send-proxy-v2 check check-send-proxy inter 500ms
EOF
haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
port_open() { python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$1"; }
wait_until 10 "haproxy listening" port_open "$HA_PORT"
sleep 1.5 # a few health checks (PROXY LOCAL) reach the edge

# the cap applies to the charge point's address, not to HAProxy's
$CLIENT "$HA_PORT" hold 5 127.0.0.3 30 >"$TMP/hold.out" &
wait_until 15 "5 connections held through haproxy" grep -q '^held' "$TMP/hold.out"
[ "$($CLIENT "$HA_PORT" connect-many 1 127.0.0.3)" = "[429]" ] ||
  fail "a 6th connection from 127.0.0.3 was not refused"
[ "$($CLIENT "$HA_PORT" connect-many 1 127.0.0.4)" = "[101]" ] ||
  fail "127.0.0.4 was refused: the edge did not tell the addresses apart"
[ "$(metric 'edge_upgrades_refused_total{reason="ip_connections"}')" -ge 1 ] || fail "429 not counted"
ok "behind haproxy (send-proxy-v2) the per-address cap applies to the client's address: 5 from 127.0.0.3 held, the 6th refused with 429, 127.0.0.4 accepted"
grep -q '"msg":"connected conn_id=.*peer=127\.0\.0\.3:' "$edge_log" || fail "the edge did not log the client's address"
if grep '"msg":"connected conn_id=' "$edge_log" | grep -v 'peer=127\.0\.0\.[34]:'; then
  fail "a connection logged with another address"
fi
ok "connections are logged with the client's address from the PROXY header"
[ "$(metric 'edge_sockets_dropped_total{reason="proxy_invalid"}')" -eq 0 ] ||
  fail "health checks (PROXY LOCAL) were counted as invalid"
ok "haproxy's health checks (PROXY LOCAL, closed with a reset) are not counted as invalid ($(metric 'edge_sockets_dropped_total{reason="proxy_closed"}') proxy_closed)"

# straight to the edge without a header: dropped and counted
python3 - "$WS_PORT" <<'PY' || fail "direct connection"
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /ocpp/SNEAKY HTTP/1.1\r\nHost: x\r\n\r\n")
s.settimeout(3)
try:  # closed with the request unread: a reset, or an end of file
    assert s.recv(100) == b"", "the edge answered a request without a PROXY header"
except ConnectionResetError:
    pass
silent = socket.create_connection(("127.0.0.1", port))
silent.settimeout(6)
t0 = time.time()
assert silent.recv(100) == b""
waited = time.time() - t0
assert 1.5 <= waited <= 4, f"silent connection dropped after {waited:.1f}s (timeout 2 s)"
print(f"ok: a request without a PROXY header is dropped at once; a silent connection after {waited:.1f}s")
PY
[ "$(metric 'edge_sockets_dropped_total{reason="proxy_invalid"}')" -eq 1 ] || fail "proxy_invalid not counted"
[ "$(metric 'edge_sockets_dropped_total{reason="proxy_timeout"}')" -eq 1 ] || fail "proxy_timeout not counted"
ok "counted: proxy_invalid 1, proxy_timeout 1"

# a hand-made header (as another balancer would send it), in two pieces, and the request
# in the same segment as its end
python3 - "$WS_PORT" <<'PY' || fail "hand-made header"
import base64, os, socket, struct, sys, time
port = int(sys.argv[1])
sig = b"\r\n\r\n\x00\r\nQUIT\n"
body = bytes([10, 9, 8, 7, 127, 0, 0, 1]) + struct.pack("!HH", 4321, port)
hdr = sig + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body
key = base64.b64encode(os.urandom(16)).decode()
req = (f"GET /ocpp/HANDMADE HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
       "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n").encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(hdr[:10])
time.sleep(0.3)
s.sendall(hdr[10:] + req)
s.settimeout(5)
head = s.recv(4096)
assert head.startswith(b"HTTP/1.1 101"), head[:40]
print("ok: a PROXY v2 header in two pieces, followed by the upgrade in one segment: 101")
# LOCAL (the balancer's own connection): the socket's own address is the peer's
local = sig + bytes([0x20, 0x00, 0, 0])
s2 = socket.socket()
s2.bind(("127.0.0.5", 0))
s2.connect(("127.0.0.1", port))
s2.sendall(local + req.replace(b"HANDMADE", b"LOCALCMD"))
s2.settimeout(5)
assert s2.recv(4096).startswith(b"HTTP/1.1 101")
print("ok: a PROXY LOCAL header: the connection is served with the socket's own address")
PY
wait_until 5 "the hand-made address logged" grep -q 'identity":"HANDMADE".*peer=10\.9\.8\.7:4321' "$edge_log"
wait_until 5 "the LOCAL connection logged" grep -q 'identity":"LOCALCMD".*peer=127\.0\.0\.5:' "$edge_log"
ok "the edge took the address of the hand-made header (10.9.8.7:4321), and its own for LOCAL"
stop_pod "$POD_PID"
