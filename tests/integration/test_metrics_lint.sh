#!/usr/bin/env bash
# test_metrics_lint.sh: every stage's /metrics passes `promtool check metrics` (Prometheus' own
# linter: _total on counters, base units, no reserved suffixes, help texts) and every family it
# exports is documented in docs/operations.md with its type and labels.
#
# A pod (scripts/run.sh) gets a little traffic first, so that the series created on first use
# exist too: two charge points boot (1.6 and 2.0.1, each also sends an unknown action: a
# CALLERROR), an upgrade is refused, one charge point connects twice (superseded), one reads
# nothing until the edge closes it as a slow reader, and one command goes down to a station.
# Then the same check on every family the sources register (tests/deploy/source_metrics.js), so
# that the names of families no traffic here creates are judged too.
# Metrics whose rename is pending (tests/deploy/pending_renames.tsv) may still be complained about.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/metrics_lib.sh"
itest_cleanup_on_exit
command -v promtool >/dev/null || fail "promtool missing (Debian package prometheus: make deps)"

export OCPPGW_SEND_QUEUE_BYTES=4096 OCPPGW_MESSAGE_RATE=0   # so that a slow reader is cut quickly
start_pod itest-lint
base="ws://127.0.0.1:$WS_PORT"
node "$E2E/skeleton.js" "$base" LINT-16 ocpp1.6 6000 >"$TMP/cp1.out" 2>&1 &
cp1=$!
wait_until 10 "LINT-16 booted" grep -q '^holding' "$TMP/cp1.out"
# skeleton.js does not answer CSMS calls: any final result (ocppctl exit 0 or 10..16, here
# timeout once LINT-16 hangs up) shows the command went down and its result came back. Sent at
# once, while LINT-16 holds its connection (the traffic below takes seconds under load).
OCPPGW_REDIS_URL="$REDIS_URL" OCPPGW_KAFKA_BROKERS="$KAFKA" timeout 40 \
  "$BIN/ocppctl" send LINT-16 GetConfiguration '{}' --wait --timeout 30s >"$TMP/cmd.out" 2>&1 &
ctl=$!
node "$E2E/skeleton.js" "$base" LINT-201 ocpp2.0.1 >"$TMP/cp2.out" 2>&1 || fail "LINT-201: $(cat "$TMP/cp2.out")"
node "$E2E/refuse.js" "$base/ocpp/bad:id" ocpp1.6 400 >/dev/null
python3 "$ROOT/tests/integration/ws_edge_client.py" "$WS_PORT" duplicate >/dev/null
python3 "$ROOT/tests/integration/ws_edge_client.py" "$WS_PORT" slow-reader 5000 >/dev/null
rc=0
wait "$ctl" || rc=$?
[ $rc -eq 0 ] || { [ $rc -ge 10 ] && [ $rc -le 16 ]; } || fail "command to LINT-16 (exit $rc): $(cat "$TMP/cmd.out")"
wait "$cp1" || fail "LINT-16: $(cat "$TMP/cp1.out")"
ok "traffic: 2 boots, CALLERRORs, a refused upgrade, a duplicate and a slow connection, a command"

scrape_stages "$TMP/scrape"
lint_metrics "$TMP"/scrape/*.prom
check_metrics_documented "$TMP"/scrape/*.prom
NODE_PATH="$ROOT/tests/e2e/node_modules" node "$ROOT/tests/deploy/source_metrics.js" >"$TMP/sources.prom"
n="$(grep -c '^# TYPE ' "$TMP/sources.prom")"
[ "$n" -ge 60 ] || fail "only $n metric families found in the sources"
lint_metrics "$TMP/sources.prom"
ok "($n families registered in the sources)"
stop_pod "$POD_PID"
