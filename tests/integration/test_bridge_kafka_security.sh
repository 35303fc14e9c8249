#!/usr/bin/env bash
# test_bridge_kafka_security.sh: Kafka TLS / SASL settings of kafka-bridge (issue 13 item 7,
# docs/security.md "Kafka") reach librdkafka, are checked at start with librdkafka's own
# messages, and no secret is ever logged. kafka-dev (librdkafka's mock cluster) speaks neither
# SASL nor TLS, so what is shown is that the bridge configures them: librdkafka refuses bad values
# at start, loads the CA / certificate / encrypted key it is given (a wrong key password stops the
# bridge), and attempts the SASL or TLS handshake against the plaintext mock (its errors prove
# it). A successful authenticated session needs a real cluster and is not tested here.
# Env: BUILD. Exit 0 on success.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/bridge_lib.sh
source "$(dirname "$0")/bridge_lib.sh"
itest_cleanup_on_exit
command -v openssl >/dev/null || fail "openssl not installed"

start_kafka_dev
SECRETS=(TOPSECRET-sasl-1 TOPSECRET-file-2 TOPSECRET-key-3 TOPSECRET-props-4)

n=0
# bridge EXPECT_EXIT LOGNAME [VAR=VALUE...]: runs kafka-bridge with the settings; EXPECT_EXIT
# "ready" waits for /readyz, then for $ATTEMPT in its log (librdkafka's handshake attempt: it
# connects on its own threads, seconds later on a loaded machine), then SIGTERM; a number expects
# that exit status within 20 s.
bridge() {
  local want="$1" name="$2"
  shift 2
  n=$((n + 1))
  local ipc="$TMP/ipc$n" port
  mkdir -p "$ipc"
  port=$(free_port)
  env OCPPGW_POD_ID=sec-pod OCPPGW_IPC_DIR="$ipc" OCPPGW_KAFKA_BROKERS="$K" OCPPGW_ADMIN_PORT="$port" \
    OCPPGW_COMMANDS_ENABLED=false OCPPGW_FLUSH_TIMEOUT_MS=1s "$@" \
    "$BIN/kafka-bridge" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  if [ "$want" = ready ]; then
    wait_until 15 "bridge $name ready" curl -sf "http://127.0.0.1:$port/readyz"
    # librdkafka connects (and fails to authenticate) meanwhile
    wait_until 30 "bridge $name to attempt the handshake ('$ATTEMPT')" grep -qF -- "$ATTEMPT" "$TMP/$name.log"
    kill -TERM "$pid"
    wait_until 20 "bridge $name to stop" bash -c "! kill -0 $pid 2>/dev/null"
    wait "$pid" || fail "bridge $name exited with $?: $(tail -n 5 "$TMP/$name.log")"
  else
    local rc=0
    wait_until 20 "bridge $name to exit" bash -c "! kill -0 $pid 2>/dev/null"
    wait "$pid" || rc=$?
    [ "$rc" = "$want" ] || fail "bridge $name: exit $rc, expected $want: $(tail -n 5 "$TMP/$name.log")"
  fi
}
logged() { grep -qF -- "$2" "$TMP/$1.log" || fail "$1: no '$2' in its log: $(grep -v '"debug"' "$TMP/$1.log" | tail -n 5)"; }

# refused at start, with librdkafka's message -------------------------------------------------
bridge 1 badvalue OCPPGW_KAFKA_PROPERTIES="socket.keepalive.enable=maybe"
logged badvalue "kafka setting socket.keepalive.enable=maybe refused: "
logged badvalue "Expected bool value"
bridge 1 unknown OCPPGW_KAFKA_PROPERTIES="no.such.property=1"
logged unknown "No such configuration property"
ok "a value or a property librdkafka refuses stops the bridge at start with librdkafka's message"
bridge 1 owned OCPPGW_KAFKA_PROPERTIES="socket.keepalive.enable=true;acks=1"
logged owned "kafka_properties: acks cannot be set there: set by kafka-bridge to all"
bridge 1 secretprop OCPPGW_KAFKA_PROPERTIES="sasl.password=${SECRETS[3]}"
logged secretprop "kafka_properties: sasl.password is a secret"
ok "kafka_properties may not carry a property the bridge owns, nor a secret"
bridge 1 nopw OCPPGW_KAFKA_SECURITY_PROTOCOL=sasl_plaintext OCPPGW_KAFKA_SASL_USERNAME=gw
logged nopw "needs kafka_sasl_username and a password"
bridge 1 nofile OCPPGW_KAFKA_SECURITY_PROTOCOL=sasl_plaintext OCPPGW_KAFKA_SASL_USERNAME=gw \
  OCPPGW_KAFKA_SASL_PASSWORD_FILE="$TMP/missing"
logged nofile "kafka_sasl_password_file $TMP/missing: No such file or directory"
bridge 2 badproto OCPPGW_KAFKA_SECURITY_PROTOCOL=tls
logged badproto "kafka_security_protocol"
bridge 1 noca OCPPGW_KAFKA_SECURITY_PROTOCOL=ssl OCPPGW_KAFKA_SSL_CA_LOCATION="$TMP/missing-ca.pem"
logged noca "ssl.ca.location"
ok "SASL without a password, a missing password file, an unknown protocol, a missing CA file: refused at start"

# SASL reaches librdkafka ------------------------------------------------------------------------
ATTEMPT="Failed to initialize SASL authentication" bridge ready sasl \
  OCPPGW_KAFKA_SECURITY_PROTOCOL=sasl_plaintext OCPPGW_KAFKA_SASL_USERNAME=gw \
  OCPPGW_KAFKA_SASL_PASSWORD="${SECRETS[0]}"
logged sasl "Failed to initialize SASL authentication: SASL Handshake not supported by broker (required by mechanism PLAIN)"
printf '%s\n' "${SECRETS[1]}" >"$TMP/pw"
ATTEMPT="(required by mechanism SCRAM-SHA-256)" bridge ready saslfile \
  OCPPGW_KAFKA_SECURITY_PROTOCOL=sasl_plaintext OCPPGW_KAFKA_SASL_USERNAME=gw \
  OCPPGW_KAFKA_SASL_MECHANISM=SCRAM-SHA-256 OCPPGW_KAFKA_SASL_PASSWORD_FILE="$TMP/pw"
logged saslfile "(required by mechanism SCRAM-SHA-256)"
out=$(OCPPGW_KAFKA_SASL_PASSWORD="${SECRETS[0]}" "$BIN/kafka-bridge" --print-config)
grep -qx 'kafka_sasl_password = \*\*\*' <<<"$out" || fail "--print-config shows the SASL password"
ok "SASL/PLAIN and SCRAM (password from the environment and from a file) reach librdkafka: it attempts the handshake"

# TLS reaches librdkafka: a CA, and a client certificate with an encrypted key ---------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=itest-ca \
  -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=ocppgw -passout "pass:${SECRETS[2]}" \
  -keyout "$TMP/client.key" -out "$TMP/client.csr" 2>/dev/null
openssl x509 -req -in "$TMP/client.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
  -days 2 -out "$TMP/client.pem" 2>/dev/null
TLS=(OCPPGW_KAFKA_SECURITY_PROTOCOL=ssl OCPPGW_KAFKA_SSL_CA_LOCATION="$TMP/ca.pem"
  OCPPGW_KAFKA_SSL_CERTIFICATE_LOCATION="$TMP/client.pem" OCPPGW_KAFKA_SSL_KEY_LOCATION="$TMP/client.key")
bridge 1 badkeypw "${TLS[@]}" OCPPGW_KAFKA_SSL_KEY_PASSWORD=wrong-password
logged badkeypw "kafka producer: "
logged badkeypw "ssl.key.location"
ATTEMPT="SSL handshake failed" bridge ready tls \
  "${TLS[@]}" OCPPGW_KAFKA_SSL_KEY_PASSWORD="${SECRETS[2]}" \
  OCPPGW_KAFKA_PROPERTIES="ssl.endpoint.identification.algorithm=https"
logged tls "SSL handshake failed"
ok "TLS: the CA, the client certificate and its encrypted key reach librdkafka (a wrong key password stops the bridge; the right one loads it and the TLS handshake is attempted)"

# no secret anywhere --------------------------------------------------------------------------
for s in "${SECRETS[@]}"; do
  if grep -rlF -- "$s" "$TMP"/*.log >/dev/null 2>&1; then
    fail "secret $s logged in $(grep -rlF -- "$s" "$TMP"/*.log | paste -sd' ')"
  fi
done
ok "no password or key password in any log (${#SECRETS[@]} secrets, $n bridges)"
echo "test_bridge_kafka_security: all passed"
