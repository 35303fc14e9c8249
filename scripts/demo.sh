#!/usr/bin/env bash
# demo.sh: what `make demo` runs: one pod (scripts/run.sh), 100 simulated charge points
# (cp-sim with scripts/cp-sim-demo.yaml, half OCPP 1.6, half 2.0.1) and the live event stream
# (ocppctl events --follow). Ctrl-C stops everything; cp-sim's report is printed at the end.
# OCPPGW_WS_PORT (default 8080) and DEMO_SECONDS (stop by itself after that long) can be set.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${OCPPGW_BIN:-$here/build/bin}"
port="${OCPPGW_WS_PORT:-8080}"
tmp="$(mktemp -d /tmp/ocppgw-demo.XXXXXX)"
pod="" sim="" follow=""
cleanup() {
  trap - INT TERM EXIT
  [ -n "$follow" ] && kill -TERM "$follow" 2>/dev/null
  if [ -n "$sim" ] && kill -TERM "$sim" 2>/dev/null; then
    wait "$sim" 2>/dev/null || true
    echo; cat "$tmp/cp-sim.report"
  fi
  [ -n "$pod" ] && kill -TERM "$pod" 2>/dev/null && wait "$pod" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup INT TERM EXIT

OCPPGW_WS_PORT="$port" "$here/scripts/run.sh" >"$tmp/pod.out" 2>&1 &
pod=$!
for _ in $(seq 1 200); do
  grep -q '^ocppgw: ready' "$tmp/pod.out" && break
  kill -0 "$pod" 2>/dev/null || { cat "$tmp/pod.out"; exit 1; }
  sleep 0.2
done
grep -q '^ocppgw: ready' "$tmp/pod.out" || { cat "$tmp/pod.out"; echo "demo: the pod did not start"; exit 1; }
cat "$tmp/pod.out"
export OCPPGW_REDIS_URL="$(grep -o 'redis://[0-9.:]*' "$tmp/pod.out" | head -1)"
export OCPPGW_KAFKA_BROKERS="$(grep -oE 'kafka-dev\) at [0-9.:]+' "$tmp/pod.out" | awk '{print $3}')"

"$BIN/cp-sim" --config "$here/scripts/cp-sim-demo.yaml" --url "ws://127.0.0.1:$port/ocpp" \
  --progress off >"$tmp/cp-sim.report" 2>&1 &
sim=$!
echo "demo: 100 charge points connecting (cp-sim); live events below (ocppctl events --follow)."
echo "demo: in another terminal: OCPPGW_REDIS_URL=$OCPPGW_REDIS_URL OCPPGW_KAFKA_BROKERS=$OCPPGW_KAFKA_BROKERS $BIN/ocppctl pods | status DEMO000001"
echo "demo: Ctrl-C stops everything."
"$BIN/ocppctl" events --follow &
follow=$!
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
  "$BIN/ocppctl" pods
else
  wait "$follow" || true
fi
