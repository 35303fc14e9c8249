#!/usr/bin/env bash
# test_redis_outage_pod.sh: Redis unreachable for 30 s under a whole pod (issue 12): scripts/run.sh
# with its own redis-server, kafka-dev, 20 cp-sim stations sending a Heartbeat every second.
#  - while Redis is down, every stage's /readyz stays 200 (Redis down never makes the pod unready),
#    ocppgw_registry_redis_up is 0, the 20 stations keep being answered (no timeout, no reconnect)
#    and 10 new stations connect and boot;
#  - Redis comes back empty: every connected station's conn: mapping is back (the registry
#    re-asserts what it holds and claims what was queued), ocppgw_registry_redis_up is 1 and the
#    degraded seconds are counted.
# OUTAGE_S (default 30) sets the outage.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit
OUTAGE_S="${OUTAGE_S:-30}"

start_redis
export OCPPGW_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
start_pod itest-rdown
ADMIN_BASE="$(sed -n 's/.*admin: registry :\([0-9]*\),.*/\1/p' "$POD_OUT" | head -1)"
edge_port="$(sed -n 's/.*, edge :\([0-9]*\) .*/\1/p' "$POD_OUT" | head -1)"
[ -n "$ADMIN_BASE" ] && [ -n "$edge_port" ] || fail "admin ports not in $(cat "$POD_OUT")"
PORTS=()
for ((p = ADMIN_BASE; p <= edge_port; p++)); do PORTS+=("$p"); done # registry, bridge, cores, edge
sim() { # sim PREFIX COUNT DURATION
  "$BIN/cp-sim" --url "ws://127.0.0.1:$WS_PORT/ocpp" --source_addresses 127.0.0.2-127.0.0.3 \
    --count "$2" --identity_prefix "$1" --v201_percent 50 --duration_ms "$3" \
    --heartbeat_interval_ms 1s --session_every_ms 0 --call_timeout_ms 5s \
    --log_file "$TMP/$1.log" --progress off >"$TMP/$1.txt" 2>&1
}
mapped() { # mapped PREFIX COUNT: every station of PREFIX maps to the pod
  local n=0 i
  for i in $(seq 1 "$2"); do
    [ "$(redis-cli -p "$REDIS_PORT" GET "conn:$1$(printf %06d "$i")")" = itest-rdown ] && n=$((n + 1))
  done
  [ "$n" = "$2" ]
}
sim OLD 20 "$((OUTAGE_S + 40))s" &
old=$!
wait_until 20 "20 stations registered" mapped OLD 20
ok "20 stations connected and registered"

kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
t0=$SECONDS
answered0="$(grep -c '^A ' "$TMP/OLD.log" || true)"
sim NEW 10 "$((OUTAGE_S + 20))s" &
new=$!
reg="http://127.0.0.1:$ADMIN_BASE"
wait_until 10 "ocppgw_registry_redis_up 0" sh -c "curl -s '$reg/metrics' | grep -q '^ocppgw_registry_redis_up 0$'"
while [ $((SECONDS - t0)) -lt "$OUTAGE_S" ]; do
  for p in "${PORTS[@]}"; do
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/readyz")"
    [ "$code" = 200 ] || fail "admin port $p /readyz $code while Redis is down: $(curl -s "http://127.0.0.1:$p/readyz")"
  done
  sleep 2
done
answered1="$(grep -c '^A ' "$TMP/OLD.log" || true)"
[ $((answered1 - answered0)) -ge $((20 * OUTAGE_S / 2)) ] ||
  fail "old stations answered $((answered1 - answered0)) CALLs in ${OUTAGE_S} s"
new_answered="$(grep -c '^A ' "$TMP/NEW.log" || true)"
[ "$new_answered" -ge 10 ] || fail "new stations answered $new_answered CALLs"
ok "Redis down ${OUTAGE_S} s: every stage ready, the 20 stations answered $((answered1 - answered0)) CALLs, 10 new stations admitted ($new_answered answers)"

start_redis # same port, empty
all_mapped() { mapped OLD 20 && mapped NEW 10; }
wait_until 15 "every mapping back" all_mapped
m="$(curl -sf "$reg/metrics")"
echo "$m" | grep -q '^ocppgw_registry_redis_up 1$' || fail "redis_up not 1"
echo "$m" | grep -qE "^ocppgw_registry_degraded_seconds_total ([2-9][0-9]|[1-9][0-9][0-9])" ||
  fail "degraded seconds: $(echo "$m" | grep degraded)"
ok "Redis back (empty): all 30 stations mapped to the pod again, redis_up 1, $(echo "$m" | grep '^ocppgw_registry_degraded_seconds_total')"

wait "$old" || fail "cp-sim OLD: $(cat "$TMP/OLD.txt")"
wait "$new" || fail "cp-sim NEW: $(cat "$TMP/NEW.txt")"
for s in OLD NEW; do
  grep -q 'errors: none' "$TMP/$s.txt" || fail "$s: $(grep -A3 'error' "$TMP/$s.txt")"
done
grep -q 'connect attempts 20$' "$TMP/OLD.txt" || fail "old stations reconnected: $(grep connections "$TMP/OLD.txt")"
grep -q 'boots accepted 10,' "$TMP/NEW.txt" || fail "new stations: $(grep connections "$TMP/NEW.txt")"
ok "no station timed out or reconnected; the 10 new ones booted ($(grep 'messages:' "$TMP/OLD.txt" | sed 's/^ *//'))"
