#!/usr/bin/env bash
# test_ws_edge.sh: ws-edge against the real pipeline (make run's script), with a raw WebSocket
# client (ws_edge_client.py) that can misbehave: every refusal reason with its HTTP status,
# handshake timeout and header limit, fragmentation, 1009/1003/1007, duplicate identities,
# ping timeout, message-rate and per-address connection-rate limits, max connections,
# flow control with a stalled (SIGSTOPped) core losing nothing, and the staggered drain.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
CLIENT="python3 $(dirname "$0")/ws_edge_client.py"
fail() { # with the pod's last words
  echo "FAIL: $*" >&2
  tail -n 5 "$POD_OUT" >&2 2>/dev/null || true
  tail -n 3 "$TMP"/itest-edge/log/*.log >&2 2>/dev/null || true
  exit 1
}

export OCPPGW_HANDSHAKE_TIMEOUT_MS=2s OCPPGW_PING_INTERVAL_MS=1s OCPPGW_IDLE_TIMEOUT_MS=3s
export OCPPGW_MESSAGE_RATE=20 OCPPGW_MESSAGE_BURST=20 OCPPGW_MAX_CONNECTIONS=30
export OCPPGW_IP_CONNECT_RATE=1 OCPPGW_IP_CONNECT_BURST=10 OCPPGW_DRAIN_WINDOW_MS=3s
export OCPPGW_ZMQ_HWM=4 # small, so that a stalled core fills the queue fast
export OCPPGW_CORE_OUTBOX_BYTES=4096 # and the outbox in front of it
export OCPPGW_MAX_MESSAGE_BYTES=65536 # ws_edge_client.py sends 70-80 KB to pass it (the default is 256 KiB)
start_pod itest-edge
edge_admin="$(grep -o 'edge :[0-9]*' "$POD_OUT" | grep -o '[0-9]*')"
metric() { curl -sf "http://127.0.0.1:$edge_admin/metrics" | awk -v m="ocppgw_$1" '$1 == m {print $2}'; }
# each scenario connects from its own loopback address: the per-address burst is 10
SRC=127.0.0.11 $CLIENT "$WS_PORT" refusals
for r in bad_path bad_identity no_subprotocol unsupported_subprotocol not_websocket; do
  [ "$(metric "edge_upgrades_refused_total{reason=\"$r\"}")" -ge 1 ] || fail "no refusal counted for $r"
done
ok "each refusal is counted by reason"

SRC=127.0.0.12 $CLIENT "$WS_PORT" slowloris 2
SRC=127.0.0.13 $CLIENT "$WS_PORT" messages
for code in 1009 1003 1007; do
  [ "$(metric "edge_connections_closed_total{code=\"$code\"}")" -ge 1 ] || fail "close $code not counted"
done
ok "closes are counted by code"
SRC=127.0.0.14 $CLIENT "$WS_PORT" duplicate
SRC=127.0.0.15 $CLIENT "$WS_PORT" ping 3
[ "$(metric edge_ping_timeouts_total)" -ge 1 ] || fail "ping timeout not counted"

# a function, so that wait_until reads the metric again on every poll
edge_conns_are() { [ "$(metric edge_connections)" = "$1" ]; }
wait_until 10 "earlier connections gone" edge_conns_are 0
# max_connections: 30 allowed, the 31st is refused with 503 (from 127.0.0.2..4: ip burst 10)
holders=()
for s in 2 3 4; do
  $CLIENT "$WS_PORT" hold 10 "127.0.0.$s" 30 >"$TMP/hold$s.out" &
  holders+=($!)
done
for _ in $(seq 200); do held="$(metric edge_connections)"; [ "$held" = 30 ] && break; sleep 0.1; done
[ "$held" = 30 ] || { grep -h "HOLD\|refused" "$TMP"/itest-edge/log/*.log | tail -20; fail "$held connections held, expected 30"; }
status="$($CLIENT "$WS_PORT" connect-many 1 127.0.0.5)"
[ "$status" = "[503]" ] || fail "connection 31 answered $status, expected [503]"
ok "connection beyond max_connections refused with 503"
kill "${holders[@]}" 2>/dev/null || true
wait_until 10 "held connections gone" edge_conns_are 0

# per-address connection rate: burst 10 then 1/s -> 429; another address is not affected
statuses="$($CLIENT "$WS_PORT" connect-many 14 127.0.0.6)" || fail "connect-many"
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s[:10]==[101]*10 and 429 in s[10:], s' "$statuses" \
  || fail "per-address rate: $statuses"
[ "$($CLIENT "$WS_PORT" connect-many 1 127.0.0.7)" = "[101]" ] || fail "another address was limited too"
ok "per-address connection rate: 10 accepted, then 429 ($statuses); other addresses unaffected"

# flow control: core stopped, the edge's PUSH fills up (hwm 4), the edge stops reading the
# connection; when core resumes, every CALL is answered. 40 CALLs of 30 KB > ipc buffers.
core_pid="$(pgrep -P "$POD_PID" -x ocpp-core)"
kill -STOP "$core_pid"
SRC=127.0.0.16 $CLIENT "$WS_PORT" flood 40 30000 >"$TMP/flood.out" 2>&1 &
flood=$!
for _ in $(seq 200); do
  [ "$(metric edge_flow_control_pauses_total)" -ge 1 ] && break
  sleep 0.1
done
[ "$(metric edge_flow_control_pauses_total)" -ge 1 ] || { cat "$TMP/flood.out"; fail "no flow-control pause"; }
ok "edge paused reading while core was stopped ($(metric edge_flow_control_pauses_total) pause(s))"
sleep 1
kill -CONT "$core_pid"
wait "$flood" || { cat "$TMP/flood.out"; fail "flood client"; }
cat "$TMP/flood.out" | grep '^ok'
[ "$(metric edge_rate_limited_total)" -ge 1 ] || fail "40 messages at once were not rate limited (rate 20, burst 20)"
ok "message rate limit held messages back ($(metric edge_rate_limited_total)) without losing any"

# handshake latency histogram and conn ids
[ "$(metric edge_handshake_seconds_count)" -ge 10 ] || fail "handshake histogram empty"
ok "handshake latency histogram has $(metric edge_handshake_seconds_count) observations"

# drain: 10 connections, SIGTERM to ws-edge: not ready, new upgrades refused, every close is
# 1001 and the closes are spread over the 3 s window
$CLIENT "$WS_PORT" hold 10 127.0.0.8 15 >"$TMP/drain.out" &
drainer=$!
wait_until 10 "10 held" grep -q '^held' "$TMP/drain.out"
edge_pid="$(pgrep -P "$POD_PID" -x ws-edge)"
kill -TERM "$edge_pid"
wait_until 3 "not ready" bash -c "! curl -sf http://127.0.0.1:$edge_admin/readyz"
ok "edge reports not ready while draining"
after="$($CLIENT "$WS_PORT" connect-many 1 127.0.0.9 2>&1 || true)"
case "$after" in *101*) fail "a new connection was accepted while draining: $after" ;; esac
ok "no new connection accepted while draining ($(tail -c 80 <<<"$after" | tr '\n' ' '))"
wait "$drainer"
python3 - "$(tail -1 "$TMP/drain.out")" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert r["open"] == 0, r
codes = {c for _, c in r["closes"]}
assert codes == {1001}, codes
times = sorted(t for t, _ in r["closes"])
spread = times[-1] - times[0]
assert spread >= 1.5, f"closes spread over {spread:.2f}s only"
print(f"ok: 10 connections closed with 1001 spread over {spread:.2f}s (window 3s)")
PY
wait_until 10 "ws-edge exit" bash -c "! kill -0 $edge_pid 2>/dev/null"
ok "ws-edge exited after the drain"
