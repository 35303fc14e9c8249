#!/usr/bin/env bash
# test_two_pods.sh: two `make run` pods against one Redis and one Kafka form a cluster.
#
# Pod A brings the private redis-server and kafka-dev; pod B is started with
# OCPPGW_REDIS_URL and OCPPGW_KAFKA_BROKERS pointing at them. CP1 boots on pod A; after it
# disconnects and reconnects to pod B WITHOUT booting again (as a station does after a blip or a
# failover), Redis maps it to pod B and pod B already knows the boot was accepted; both pods'
# events are on the one ocpp-events-up topic; both pods hold leases.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

export OCPPGW_EVENT_HEARTBEAT=true # pod B's heartbeat event is checked below (off by default)
start_pod itest-a
PID_A=$POD_PID; PORT_A=$WS_PORT
export OCPPGW_REDIS_URL="$REDIS_URL" OCPPGW_KAFKA_BROKERS="$KAFKA"
start_pod itest-b
PID_B=$POD_PID; PORT_B=$WS_PORT
ok "pods itest-a (:$PORT_A) and itest-b (:$PORT_B) share $REDIS_URL and kafka $KAFKA"

for p in itest-a itest-b; do
  wait_until 10 "lease of $p" redis_nonempty "pod:{$p}"
done
ok "both pods hold a lease (pod:{itest-a}, pod:{itest-b})"

node "$E2E/skeleton.js" "ws://127.0.0.1:$PORT_A" CP1 ocpp1.6 >/dev/null || fail "boot on pod A"
ok "CP1 booted on pod A"

# Reconnect to pod B and send a Heartbeat only: no BootNotification.
node - "ws://127.0.0.1:$PORT_B/ocpp/CP1" <<'JS' &
const WebSocket = require(process.env.E2E + '/node_modules/ws');
const ws = new WebSocket(process.argv[2], ['ocpp1.6']);
ws.on('open', () => ws.send(JSON.stringify([2, 'h1', 'Heartbeat', {}])));
ws.on('message', () => { console.log('answered'); setTimeout(() => ws.close(1000), 3000); });
ws.on('close', () => process.exit(0));
setTimeout(() => process.exit(1), 10000);
JS
client=$!
wait_until 10 "conn:CP1 -> itest-b" redis_is 'conn:CP1' itest-b
ok "Redis maps CP1 to pod B after the reconnect"
[ "$(redis-cli -u "$REDIS_URL" HGET '{conn:CP1}:meta' boot)" = accepted ] || fail "boot state lost"
ok "the boot state accepted on pod A is known for the connection on pod B"
wait "$client" || fail "heartbeat on pod B"

timeout 20 kcat -C -b "$KAFKA" -t ocpp-events-up -o beginning -e -q -f '%k %s\n' >"$TMP/events"
grep -q '"source":"/ocppgw/itest-a","type":"device.online"' "$TMP/events" || fail "pod A's device.online missing"
grep -q '"source":"/ocppgw/itest-b","type":"heartbeat"' "$TMP/events" || fail "pod B's heartbeat missing"
ok "events of both pods on ocpp-events-up"

stop_pod "$PID_B"
stop_pod "$PID_A"
ok "both pods stopped"
