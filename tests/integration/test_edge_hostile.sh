#!/usr/bin/env bash
# test_edge_hostile.sh: one hostile host against a whole pod (issue 13 item 6). From 127.0.0.3 it
# makes HOSTILE_COUNT connection attempts: the edge accepts ip_max_connections of them and refuses
# the rest with 429; then every accepted connection sends 60 KiB of a fragmented message and never
# finishes it: the edge keeps at most rx_budget_bytes of partial messages (the others are closed
# with 1009) and closes the rest with 1008 after message_timeout_ms. Meanwhile a station on
# 127.0.0.2 sends a Heartbeat every 0.5 s: every one is answered. Reported: the statuses and close
# codes, the edge's RSS before / at its peak / after, the peak of edge_partial_bytes, and the
# station's answers and latency.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
CLIENT="python3 $(dirname "$0")/edge_hostile_client.py"
COUNT="${HOSTILE_COUNT:-3000}"
CAP=1000
BUDGET=$((16 * 1024 * 1024))
fail() { # with the pod's last words
  echo "FAIL: $*" >&2
  tail -n 5 "$TMP"/itest-hostile/log/ws-edge.log >&2 2>/dev/null || true
  exit 1
}
[ "$(ulimit -n)" -ge $((COUNT + 2000)) ] || ulimit -n $((COUNT + 2000)) 2>/dev/null ||
  COUNT=$(($(ulimit -n) - 2000))

export OCPPGW_IP_MAX_CONNECTIONS=$CAP OCPPGW_IP_CONNECT_RATE=0 # the cap, not the rate, here
export OCPPGW_RX_BUDGET_BYTES=$BUDGET OCPPGW_MESSAGE_TIMEOUT_MS=8s
start_pod itest-hostile
edge_admin="$(grep -o 'edge :[0-9]*' "$POD_OUT" | grep -o '[0-9]*')"
edge_pid="$(pgrep -P "$POD_PID" -x ws-edge)"
metric() {
  curl -sf "http://127.0.0.1:$edge_admin/metrics" | awk -v m="ocppgw_$1" '$1 == m {print $2; f=1} END {if (!f) print 0}'
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$edge_pid/status"; }

# the other station: answered throughout
$CLIENT station "$WS_PORT" 127.0.0.2 40 0.5 GOODCP >"$TMP/station.json" &
station=$!
sleep 3
rss_before="$(rss_kib)"

# sampler: the edge's RSS and partial bytes every 0.2 s while the attack goes on
(
  while :; do
    echo "$(rss_kib) $(metric edge_partial_bytes) $(metric edge_connections)"
    sleep 0.2
  done
) >"$TMP/samples" 2>/dev/null &
sampler=$!

$CLIENT hostile "$WS_PORT" 127.0.0.3 "$COUNT" 20 >"$TMP/hostile.json" || fail "hostile client"
cat "$TMP/hostile.json"
edge_conns_are() { [ "$(metric edge_connections)" = "$1" ]; }
wait_until 20 "the hostile connections gone" edge_conns_are 1
kill "$sampler" 2>/dev/null || true
wait "$station" || { cat "$TMP/station.json"; fail "station client"; }
cat "$TMP/station.json"
sleep 1
rss_after="$(rss_kib)"

# under a sanitizer (ASan keeps freed memory in quarantine) the RSS is reported, not bounded
sanitized=0
ldd "$BIN/ws-edge" | grep -q 'libasan' && sanitized=1
python3 - "$TMP/hostile.json" "$TMP/station.json" "$TMP/samples" "$COUNT" "$CAP" "$BUDGET" \
  "$rss_before" "$rss_after" "$sanitized" <<'PY' || fail "figures"
import json, sys
h = json.load(open(sys.argv[1]))
st = json.load(open(sys.argv[2]))
samples = [list(map(int, l.split())) for l in open(sys.argv[3]) if len(l.split()) == 3]
count, cap, budget, rss0, rss1, sanitized = map(int, sys.argv[4:10])
s = {int(k): v for k, v in h["statuses"].items()}
assert s.get(101, 0) == cap, f"{s.get(101)} upgrades accepted, expected exactly the cap {cap}: {s}"
assert s.get(429, 0) == count - cap, f"expected {count - cap} refusals with 429: {s}"
c = h["closes"]
peak_rss = max(x[0] for x in samples)
peak_partial = max(x[1] for x in samples)
print(f"figures: partial bytes peak {peak_partial}, RSS {rss0} / {peak_rss} / {rss1} KiB")
# a connection closed while it still sends may see the reset of its socket before the close
# frame ("eof"): the edge counts it as a budget close all the same (checked below)
assert set(c) <= {"1008", "1009", "eof"}, f"closes other than 1008/1009: {c}"
assert c.get("1009", 0) + c.get("eof", 0) > 0 and c.get("1008", 0) > 0, f"both limits: {c}"
assert sum(c.values()) == cap, c
assert 0 < peak_partial <= budget, f"partial bytes peak {peak_partial} (budget {budget})"
# the budget plus what 1,000 connections in lws cost (buffers, ~10 KiB each) and slack
assert sanitized or (peak_rss - rss0) * 1024 <= budget + 64 * 1024 * 1024, f"RSS grew {peak_rss - rss0} KiB"
assert st["sent"] >= 60 and st["answered"] == st["sent"] and not st["errors"], st
print(f"ok: {count} attempts from one address: {s.get(101)} accepted (ip_max_connections {cap}), "
      f"{s.get(429)} refused with 429")
print(f"ok: every accepted connection closed by a limit: {c.get('1009', 0)} with 1009 and "
      f"{c.get('eof', 0)} reset while still sending (budget), {c.get('1008')} with 1008 "
      f"(message timeout), between {h['first_close_s']} and {h['last_close_s']} s")
open(sys.argv[1] + ".timeouts", "w").write(str(c.get("1008", 0)))
print(f"ok: partial bytes peak {peak_partial / 1048576:.1f} MiB of a {budget / 1048576:.0f} MiB "
      f"budget; edge RSS {rss0 / 1024:.1f} MiB before, {peak_rss / 1024:.1f} MiB at the peak, "
      f"{rss1 / 1024:.1f} MiB after")
print(f"ok: the station on another address: {st['answered']}/{st['sent']} answered, latency "
      f"p50 {st['p50_ms']} ms, p99 {st['p99_ms']} ms, max {st['max_ms']} ms")
PY
[ "$(metric 'edge_upgrades_refused_total{reason="ip_connections"}')" -eq $((COUNT - CAP)) ] ||
  fail "refusals not counted as ip_connections"
budget_closes="$(metric 'edge_limit_closes_total{reason="rx_budget"}')"
timeout_closes="$(metric 'edge_limit_closes_total{reason="message_timeout"}')"
[ "$((budget_closes + timeout_closes))" -eq "$CAP" ] ||
  fail "limit closes counted: $budget_closes + $timeout_closes, expected $CAP"
[ "$timeout_closes" -eq "$(cat "$TMP/hostile.json.timeouts")" ] ||
  fail "message_timeout closes counted $timeout_closes, the client saw $(cat "$TMP/hostile.json.timeouts")"
[ "$(metric edge_partial_bytes)" -eq 0 ] || fail "partial bytes left: $(metric edge_partial_bytes)"
ok "counted: $((COUNT - CAP)) ip_connections refusals, $budget_closes rx_budget and $timeout_closes message_timeout closes; no partial byte left"
# a new connection from the hostile address is accepted again once its connections are gone
$CLIENT station "$WS_PORT" 127.0.0.3 1 0.5 AFTERCP >"$TMP/after.json"
grep -q '"answered": [1-9]' "$TMP/after.json" || fail "the address was not served again: $(cat "$TMP/after.json")"
ok "the address is served again once its connections are gone"
stop_pod "$POD_PID"
