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
export OCPPGW_DRAIN_WINDOW_MS=1s
start_pod itest-share
admin_base="$(grep -o 'edge :[0-9]*' "$POD_OUT" | grep -o '[0-9]*')"
metric() { # ADMIN_PORT NAME
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="ocppgw_$2" '$1 == m {print $2}'
}
e0=$admin_base
e1=$((admin_base + 1))
[ "$(metric $e0 edge_connections)" = 0 ] && [ "$(metric $e1 edge_connections)" = 0 ] ||
  fail "two edges are not both up"

$CLIENT "$WS_PORT" hold 40 127.0.0.2 30 >"$TMP/hold.out" &
holder=$!
wait_until 20 "40 held" grep -q '^held' "$TMP/hold.out"
a="$(metric $e0 edge_connections)"
b="$(metric $e1 edge_connections)"
[ $((a + b)) -eq 40 ] || fail "edges hold $a + $b connections, expected 40"
[ "$a" -ge 1 ] && [ "$b" -ge 1 ] || fail "SO_REUSEPORT did not spread: edge-0 $a, edge-1 $b"
ok "40 connections spread over two edges on one port: $a and $b"

# every connection reached core through its own edge: core knows both edges
core_log="$TMP/itest-share/log/ocpp-core-0.log"
grep -q 'edge edge-0 at' "$core_log" && grep -q 'edge edge-1 at' "$core_log" ||
  fail "core did not learn both edges"
ok "core addresses each edge by its own id"

# drain edge-0: its connections close with 1001, the port stays open through edge-1
edge0_pid="$(pgrep -P "$POD_PID" -x ws-edge | head -1)"
for p in $(pgrep -P "$POD_PID" -x ws-edge); do
  if tr '\0' '\n' <"/proc/$p/environ" | grep -q '^OCPPGW_EDGE_ID=edge-0$'; then edge0_pid=$p; fi
done
kill -TERM "$edge0_pid"
wait_until 10 "edge-0 gone" bash -c "! kill -0 $edge0_pid 2>/dev/null"
statuses="$($CLIENT "$WS_PORT" connect-many 5 127.0.0.3)" || fail "connect after drain"
[ "$statuses" = "[101, 101, 101, 101, 101]" ] || fail "after edge-0 drained: $statuses"
ok "edge-0 drained and exited; new connections are served by edge-1 ($statuses)"
wait "$holder" || true
python3 - "$(tail -1 "$TMP/hold.out")" "$a" <<'PY'
import json, sys
r, on_edge0 = json.loads(sys.argv[1]), int(sys.argv[2])
codes = [c for _, c in r["closes"]]
assert codes.count(1001) == on_edge0, (codes, on_edge0)
print(f"ok: the {on_edge0} connections of edge-0 closed with 1001, the {r['open']} on edge-1 stayed open")
PY

$CLIENT "$WS_PORT" slow-reader 20000
[ "$(metric $e1 'edge_send_queue_drops_total{reason="send_queue_full"}')" -ge 1 ] ||
  fail "slow reader not counted"
ok "send-queue drop counted"
