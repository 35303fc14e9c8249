#!/usr/bin/env bash
# test_config_errors.sh: every service refuses to start on an invalid setting, with exit code 2
# and one message naming the key, the value, where it came from and what is allowed; and a
# YAML file's own section wins over `common:` while the environment wins over both.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

expect_refusal() { # binary, env assignment, text expected in the message
  local bin="$1" assign="$2" want="$3" out rc=0
  out="$(env "$assign" timeout 10 "$BIN/$bin" 2>&1)" || rc=$?
  [ $rc -eq 2 ] || fail "$bin with $assign: exit $rc, expected 2 ($out)"
  grep -qF "$want" <<<"$out" || fail "$bin with $assign: message '$out' lacks '$want'"
  ok "$bin refuses $assign: $out"
}

expect_refusal ws-edge OCPPGW_WS_PORT=abc "invalid value 'abc' for ws_port (from OCPPGW_WS_PORT): expected an integer between 0 and 65535"
expect_refusal ws-edge OCPPGW_SUBPROTOCOLS=ocpp1.6,ocpp3 "ocpp3"
expect_refusal ocpp-core OCPPGW_LOG_LEVEL=loud "log_level"
expect_refusal ocpp-core OCPPGW_CORE_INDEX=3 "core_index"
expect_refusal kafka-bridge OCPPGW_KAFKA_COMPRESSION=rar "kafka_compression"
expect_refusal redis-registry OCPPGW_REDIS_URL=http://x "redis_url"
expect_refusal redis-registry OCPPGW_LEASE_TTL_MS=5parsecs "lease_ttl_ms"

cat >"$TMP/gw.yaml" <<'YAML'
common:
  heartbeat_interval_s: 100
  ws_port: 1234
ocpp-core:
  heartbeat_interval_s: 200
YAML
out="$("$BIN/ocpp-core" --config "$TMP/gw.yaml" --print-config)"
grep -q '^heartbeat_interval_s = 200$' <<<"$out" || fail "own section did not win: $out"
out="$(OCPPGW_HEARTBEAT_INTERVAL_S=300 "$BIN/ocpp-core" --config "$TMP/gw.yaml" --print-config)"
grep -q '^heartbeat_interval_s = 300$' <<<"$out" || fail "environment did not win: $out"
ok "YAML: own section beats common (ws_port in common ignored by core), environment beats both"

printf 'ocpp-core:\n  heartbeat_intervall_s: 5\n' >"$TMP/typo.yaml"
rc=0; out="$("$BIN/ocpp-core" --config "$TMP/typo.yaml" 2>&1)" || rc=$?
[ $rc -eq 2 ] && grep -q 'heartbeat_intervall_s' <<<"$out" || fail "unknown key accepted: $out"
ok "unknown key in the service's own section refused: $out"
