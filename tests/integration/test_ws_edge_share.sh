#!/usr/bin/env bash
# test_ws_edge_share.sh: two ws-edge processes share one port (SO_REUSEPORT), each with its
# own edge_id: connections spread over both, every one is served by core through its own
# edge, and draining one edge leaves the port to the other. Also the slow reader: a
# connection that reads nothing is closed with 1008 when its send queue is full.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
CLIENT="python3 $(dirname "$0")/ws_edge_client.py"
export OCPPGW_EDGE_COUNT=2 OCPPGW_MESSAGE_RATE=0 OCPPGW_SEND_QUEUE_BYTES=4096
export OCPPGW_DRAIN_WINDOW_MS=2s
start_pod itest-share
admin_base="$(grep -o 'edge :[0-9]*' "$POD_OUT" | grep -o '[0-9]*')"
metric() { # ADMIN_PORT NAME
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="ocppgw_$2" '$1 == m {print $2}'
}
e0=$admin_base
e1=$((admin_base + 1))
[ "$(metric $e0 edge_connections)" = 0 ] && [ "$(metric $e1 edge_connections)" = 0 ] ||
  fail "two edges are not both up"

# a third edge started by hand on the same port and ipc directory, so that it can be drained
# and exit without run.sh stopping the pod (run.sh stops everything when one of its own dies)
ex="$(free_port)"
OCPPGW_EDGE_ID=edge-x OCPPGW_ADMIN_PORT="$ex" OCPPGW_IPC_DIR="$TMP/itest-share/ipc" \
  OCPPGW_WS_PORT="$WS_PORT" OCPPGW_WS_BIND=127.0.0.1 OCPPGW_POD_ID=itest-share \
  OCPPGW_SECURITY_PROFILE=0 OCPPGW_ALLOW_UNKNOWN_STATIONS=true \
  "$BIN/ws-edge" >"$TMP/edge-x.log" 2>&1 &
edgex=$!
wait_until 10 "edge-x ready" curl -sf "http://127.0.0.1:$ex/readyz"

$CLIENT "$WS_PORT" hold 60 127.0.0.2 15 >"$TMP/hold.out" &
holder=$!
wait_until 20 "60 held" grep -q '^held' "$TMP/hold.out"
a="$(metric $e0 edge_connections)"
b="$(metric $e1 edge_connections)"
x="$(metric $ex edge_connections)"
[ $((a + b + x)) -eq 60 ] || fail "edges hold $a + $b + $x connections, expected 60"
[ "$a" -ge 1 ] && [ "$b" -ge 1 ] && [ "$x" -ge 1 ] || fail "SO_REUSEPORT did not spread: $a, $b, $x"
ok "60 connections spread over three edges on one port: $a, $b and $x"

# every connection reached core through its own edge: core knows each edge by its id
core_log="$TMP/itest-share/log/ocpp-core-0.log"
for e in edge-0 edge-1 edge-x; do
  grep -q "edge $e at" "$core_log" || fail "core did not learn $e"
done
ok "core addresses each edge by its own id"

# drain edge-x: its connections close with 1001, the port stays open through the others
kill -TERM "$edgex"
statuses="$($CLIENT "$WS_PORT" connect-many 5 127.0.0.3)" || fail "connect during the drain"
[ "$statuses" = "[101, 101, 101, 101, 101]" ] || fail "during the drain of edge-x: $statuses"
ok "while edge-x drains, new connections are served by the others ($statuses)"
wait_until 10 "edge-x gone" bash -c "! kill -0 $edgex 2>/dev/null"
wait "$holder" || true
python3 - "$(tail -1 "$TMP/hold.out")" "$x" <<'PY'
import json, sys
r, on_x = json.loads(sys.argv[1]), int(sys.argv[2])
codes = [c for _, c in r["closes"]]
assert codes == [1001] * on_x, (codes, on_x)
assert r["open"] == 60 - on_x, r
print(f"ok: the {on_x} connections of edge-x closed with 1001, the other {r['open']} stayed open")
PY

$CLIENT "$WS_PORT" slow-reader 5000
drops=0
for port in $e0 $e1; do # whichever edge got it
  v="$(metric $port 'edge_send_queue_drops_total{reason="send_queue_full"}')"
  drops=$((drops + ${v:-0}))
done
[ "$drops" -ge 1 ] || fail "slow reader not counted"
ok "send-queue drop counted ($drops)"
