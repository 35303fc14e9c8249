#!/usr/bin/env bash
# test_edge_proxy_protocol.sh: ws-edge with proxy_protocol v2 behind HAProxy from Debian in TCP
# mode (`send-proxy-v2`, health checks with `check-send-proxy`: PROXY LOCAL). Every connection
# reaches the edge from HAProxy's address, yet the per-address cap applies to the charge point's
# own address from the header: 5 connections from 127.0.0.3 are held, the 6th from there gets 429
# while 127.0.0.4 is still accepted, and the edge logs the real addresses. A connection that does
# not start with a valid header (plain HTTP straight to the edge) is dropped, one that sends
# nothing is dropped after the handshake timeout, both counted; a hand-made header is honoured.
# The wss listener takes the same path (the header is read before TLS): 5 wss connections from
# 127.0.0.6 through HAProxy are held, the 6th gets 429, 127.0.0.7 gets in. Authentication
# failures are throttled by the same address: 10 failed upgrades from 127.0.0.8 through HAProxy
# block 127.0.0.8 (429 auth_throttled, even with the right password) while 127.0.0.9 gets in.
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

STATION="node $E2E/tls_station.js"
# the wss listener's certificate (self-signed, for 127.0.0.1: the station trusts it as its CA)
PKI="$TMP/pki"
mkdir -p "$PKI"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/server.key" \
  -out "$PKI/server.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  >/dev/null 2>&1 || fail "openssl could not make the certificate"
# security profile 1 with unknown stations let in (unauthenticated): PX-1 has a password, written
# to the pod's Redis once it runs (provision_cred: the registry moves it to the edge)
PXPW=proxy-station-password
cred_record 1 "$PXPW" >"$TMP/px.rec"

WSS_PORT="$(free_port)"
export OCPPGW_PROXY_PROTOCOL=v2 OCPPGW_IP_MAX_CONNECTIONS=5 OCPPGW_HANDSHAKE_TIMEOUT_MS=2s
export OCPPGW_WSS_PORT="$WSS_PORT" OCPPGW_TLS_CERT_FILE="$PKI/server.pem"
export OCPPGW_TLS_KEY_FILE="$PKI/server.key" OCPPGW_SECURITY_PROFILE=1
export OCPPGW_ALLOW_UNKNOWN_STATIONS=true
start_pod itest-proxy
edge_admin="$(grep -o 'edge :[0-9]*' "$POD_OUT" | grep -o '[0-9]*')"
metric() {
  curl -sf "http://127.0.0.1:$edge_admin/metrics" | awk -v m="ocppgw_$1" '$1 == m {print $2; f=1} END {if (!f) print 0}'
}
edge_log="$TMP/itest-proxy/log/ws-edge.log"
# shellcheck disable=SC2046 # the record's fields, one word each
provision_cred PX-1 $(cat "$TMP/px.rec")
wait_until 10 "PX-1's record at the edge" bash -c "[ \"\$(curl -sf http://127.0.0.1:$edge_admin/metrics | awk '\$1 == \"ocppgw_edge_credentials\" {print \$2}')\" = 1 ]"

HA_PORT="$(free_port)"
HA_TLS_PORT="$(free_port)"
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
frontend charge_points_tls
  bind 127.0.0.1:$HA_TLS_PORT
  default_backend edges_tls
backend edges_tls
  server edge0 127.0.0.1:$WSS_PORT send-proxy-v2
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
silent.settimeout(9)
t0 = time.time()
assert silent.recv(100) == b""
waited = time.time() - t0
# (the edge checks every 100 ms from when it accepted the socket; up to 4 s more for a loaded
# machine, still well below the 10 s default a missing setting would give)
assert 1.5 <= waited <= 6, f"silent connection dropped after {waited:.1f}s (timeout 2 s)"
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

# wss through HAProxy: the PROXY header is read before TLS, and the cap holds on wss too
check() { # DESCRIPTION JSON PYTHON-CONDITION-ON-r
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$2" "$3" || fail "$1: $2"
}
WSSU="wss://127.0.0.1:$HA_TLS_PORT/ocpp"
held=()
for i in 1 2 3 4 5; do
  $STATION "$WSSU/TLS-$i" --ca "$PKI/server.pem" --src 127.0.0.6 --hold 15 >"$TMP/tls-$i.out" &
  held+=($!)
done
wait_until 15 "5 wss connections through haproxy" bash -c \
  "[ \$(grep -c 'connected conn_id=.*peer=127\.0\.0\.6:' '$edge_log') -ge 5 ]"
check "a 6th wss connection from 127.0.0.6 is refused" \
  "$($STATION "$WSSU/TLS-6" --ca "$PKI/server.pem" --src 127.0.0.6)" \
  "r['result'] == 'refused' and r['status'] == 429 and 'ip_connections' in r['body']"
check "127.0.0.7 gets in over wss" "$($STATION "$WSSU/TLS-7" --ca "$PKI/server.pem" --src 127.0.0.7)" \
  "r['result'] == 'open'"
ok "wss behind haproxy (send-proxy-v2): the header is read before TLS, the cap applies to the client's address (5 held from 127.0.0.6, the 6th 429, 127.0.0.7 accepted)"

# authentication failures are throttled by the PROXY header's address (the cap's key)
WSU="ws://127.0.0.1:$HA_PORT/ocpp"
for i in $(seq 1 10); do # a Basic username that is not the identity: a failed attempt
  check "failed attempt $i" "$($STATION "$WSU/PX-1" --user PX-2 --pass "$PXPW" --src 127.0.0.8)" \
    "r['result'] == 'refused' and r['status'] == 401 and r['body'] == 'wrong_username'"
done
check "127.0.0.8 is throttled, even with the right password" \
  "$($STATION "$WSU/PX-1" --user PX-1 --pass "$PXPW" --src 127.0.0.8)" \
  "r['result'] == 'refused' and r['status'] == 429 and r['body'] == 'auth_throttled'"
check "127.0.0.9 is not" "$($STATION "$WSU/PX-1" --user PX-1 --pass "$PXPW" --src 127.0.0.9)" \
  "r['result'] == 'open'"
wait_until 5 "PX-1 connected with Basic from 127.0.0.9" grep -q \
  'identity":"PX-1".*connected conn_id=.*peer=127\.0\.0\.9:[0-9]* auth=basic profile=1' "$edge_log"
ok "10 failed upgrades from 127.0.0.8 through haproxy throttle 127.0.0.8 (429 auth_throttled), not 127.0.0.9 (auth basic, profile 1)"
wait "${held[@]}"
for i in 1 2 3 4 5; do
  check "wss connection $i held" "$(cat "$TMP/tls-$i.out")" "r['result'] == 'open' and r['closed'] is None"
done
stop_pod "$POD_PID"
