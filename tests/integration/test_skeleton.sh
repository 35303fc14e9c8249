#!/usr/bin/env bash
# test_skeleton.sh: the walking skeleton through the real pipeline (issue 2).
#
# `make run`'s script starts a private redis-server, kafka-dev and the four services on free
# loopback ports; a real WebSocket client (npm ws) boots as CP1 (OCPP 1.6) and CP2 (2.0.1);
# then: the CallResults are right, device.online (CloudEvents JSON, key = identity) is on
# ocpp-events-up, Redis maps each charge point to the pod while it is connected and releases
# it after, bad upgrades are refused with the right HTTP status, /metrics counts what happened,
# and SIGTERM stops everything with no process left behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

export OCPPGW_EVENT_HEARTBEAT=true # heartbeat events are off by default; this test follows one
start_pod itest-pod-a
ok "pod ready on ws port $WS_PORT ($REDIS_URL, kafka $KAFKA)"
base="ws://127.0.0.1:$WS_PORT"

for pair in "CP1 ocpp1.6" "CP2 ocpp2.0.1"; do
  set -- $pair
  node "$E2E/skeleton.js" "$base" "$1" "$2" 3000 >"$TMP/$1.out" 2>&1 &
  client=$!
  wait_until 10 "$1 boot checks" grep -q '^holding' "$TMP/$1.out"
  cat "$TMP/$1.out"
  wait_until 5 "conn:$1 in Redis" redis_is "conn:$1" itest-pod-a
  ok "Redis maps conn:$1 to itest-pod-a while connected"
  boot="$(redis-cli -u "$REDIS_URL" HGET "{conn:$1}:meta" boot)"
  [ "$boot" = accepted ] || fail "boot state of $1 is '$boot', expected accepted"
  ok "registry records boot state accepted for $1"
  wait "$client" || fail "client $1 failed: $(cat "$TMP/$1.out")"
  wait_until 5 "conn:$1 released" redis_is "conn:$1" ""
  ok "mapping of $1 released after disconnect"
done

# The events, read back from Kafka by kcat, an independent client.
timeout 20 kcat -C -b "$KAFKA" -t ocpp-events-up -o beginning -e -q -f '%k\t%s\n' >"$TMP/events.tsv"
python3 - "$TMP/events.tsv" <<'PY'
import json, sys
rows = [l.rstrip('\n').split('\t', 1) for l in open(sys.argv[1]) if l.strip()]
seen = {}
for key, value in rows:
    ev = json.loads(value)
    for f in ("specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"):
        assert f in ev, f"CloudEvents attribute {f} missing in {value}"
    assert ev["specversion"] == "1.0" and ev["subject"] == key, value
    seen.setdefault(key, []).append(ev["type"])
for cp, version in (("CP1", "1.6"), ("CP2", "2.0.1")):
    types = seen.get(cp, [])
    want = ["device.connected", "device.online", "ocpp.message", "heartbeat", "device.disconnected"]
    assert types == want, f"{cp}: events {types}, expected {want}"
    online = [json.loads(v) for k, v in rows if k == cp and json.loads(v)["type"] == "device.online"][0]
    assert online["data"]["vendor"] == "OCPPGW" and online["data"]["ocpp"]["version"] == version, online
    print(f"ok: {cp}: {', '.join(types)} on ocpp-events-up with key {cp}")
PY

node "$E2E/refuse.js" "$base/ocpp/bad:id" ocpp1.6 400
node "$E2E/refuse.js" "$base/elsewhere/CP1" ocpp1.6 404
node "$E2E/refuse.js" "$base/ocpp/CP1" - 400
node "$E2E/refuse.js" "$base/ocpp/CP1" ocpp9.9 400

edge_admin="$(grep -o 'edge :[0-9]*' "$POD_OUT" | grep -o '[0-9]*')"
metrics="$(curl -sf "http://127.0.0.1:$edge_admin/metrics")"
grep -q '^ocppgw_edge_connections_accepted_total 2$' <<<"$metrics" || fail "accepted counter: $(grep accepted <<<"$metrics")"
grep -q 'ocppgw_edge_upgrades_refused_total{reason="bad_identity"} 1' <<<"$metrics" || fail "refusal counter missing"
ok "edge /metrics counts 2 accepted connections and the refusals by reason"

children="$(pgrep -P "$POD_PID" | tr '\n' ' ')"
[ "$(wc -w <<<"$children")" -ge 6 ] || fail "expected redis, kafka-dev and 4 services, found: $children"
start=$SECONDS
stop_pod "$POD_PID"
ok "pod stopped on SIGTERM in $((SECONDS - start)) s"
for p in $children; do
  if kill -0 "$p" 2>/dev/null; then fail "process $p ($(cat /proc/$p/comm)) left behind"; fi
done
ok "no process left behind (${children% })"
