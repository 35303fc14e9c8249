#!/usr/bin/env bash
# test_core_txid.sh: global OCPP 1.6 transactionIds through the real pipeline (issue 14 item 2,
# docs/ocpp-core.md "Transaction ids"): one redis-server (AOF, as docs/registry.md asks of the
# counter), two `make run` pods on it and one kafka-dev (pod B with 2 cores), real WebSocket
# clients (node ws). Checks:
#  (a) two stations starting on the same connector in the same second get different ids, and so
#      do connectors 1 and 9 of one station (the old formula: connector & 7);
#  (b) a StartTransaction resent with a new message id on the other pod gets the same
#      transactionId, and both transaction.started records carry the same event id and that id;
#  (c) 1,000 concurrent starts (200 stations x 5 connectors, half on each pod) give 1,000
#      distinct ids, all answered, within a bound;
#  (d) Redis stopped: a StartTransaction is answered CALLERROR InternalError once
#      txid_claim_budget_ms passed (stations resend), counted; once Redis is back, starts work
#      again with ids above every earlier one (the counter survived in the AOF).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit
command -v kcat >/dev/null || fail "kcat missing"

REDIS_PORT="$(free_port)"
mkdir -p "$TMP/redis"
redis_start() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$TMP/redis" --save "" \
    --appendonly yes --appendfsync always >>"$TMP/redis.log" 2>&1 &
  REDIS_PID=$!
  wait_until 10 "redis-server on $REDIS_PORT" redis-cli -p "$REDIS_PORT" ping
}
redis_start
export OCPPGW_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export OCPPGW_TXID_CLAIM_BUDGET_MS=3s
start_pod itest-txa
PID_A=$POD_PID; PORT_A=$WS_PORT; OUT_A=$POD_OUT
export OCPPGW_KAFKA_BROKERS="$KAFKA"
OCPPGW_CORE_COUNT=2 start_pod itest-txb
PID_B=$POD_PID; PORT_B=$WS_PORT
CORE_A="$(sed -n 's/.*admin: registry :\([0-9]*\),.*core :\([0-9]*\).*/\2/p' "$OUT_A" | head -1)"
[ -n "$CORE_A" ] || fail "core admin port not in $(cat "$OUT_A")"
metric() { curl -sf "http://127.0.0.1:$CORE_A/metrics" | sed -n "s/^ocppgw_$1 //p"; }
ok "pods itest-txa (:$PORT_A) and itest-txb (:$PORT_B, 2 cores) on $OCPPGW_REDIS_URL"

cat >"$TMP/txid.js" <<'JS'
// node txid.js start URL IDENT CONNECTOR TIMESTAMP IDTAG MESSAGE_ID: one StartTransaction, prints
//   the answer frame; node txid.js many URL_A URL_B STATIONS STARTS PREFIX: STATIONS stations
//   (alternating pods) send STARTS StartTransactions each (connectors 1..STARTS, one CALL at a
//   time), prints {"answered", "ids", "distinct", "errors", "ms"}.
const WebSocket = require(process.env.E2E + '/node_modules/ws');
function station(url, ident) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url + '/ocpp/' + ident, ['ocpp1.6']);
    const waiting = new Map();
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      const w = waiting.get(m[1]);
      if ((m[0] === 3 || m[0] === 4) && w) { waiting.delete(m[1]); w(m); }
    });
    ws.on('open', () => resolve({
      call: (id, action, payload) => new Promise((res) => {
        waiting.set(id, res);
        ws.send(JSON.stringify([2, id, action, payload]));
      }),
      close: () => ws.close(1000),
    }));
    ws.on('error', reject);
  });
}
const start = (connector, timestamp, idTag) =>
  ({connectorId: connector, idTag, meterStart: 0, timestamp});
const [mode, ...a] = process.argv.slice(2);
setTimeout(() => { console.error('timed out'); process.exit(2); }, 150000);
(async () => {
  if (mode === 'start') {
    const [url, ident, connector, ts, tag, mid] = a;
    const s = await station(url, ident);
    console.log(JSON.stringify(await s.call(mid, 'StartTransaction', start(+connector, ts, tag))));
    s.close();
  } else {
    const [urlA, urlB, n, starts, prefix] = a;
    const t0 = Date.now(), ids = [];
    let errors = 0;
    await Promise.all(Array.from({length: +n}, async (_, i) => {
      const s = await station(i % 2 ? urlB : urlA, prefix + i);
      for (let c = 1; c <= +starts; c++) {
        const r = await s.call('s' + c, 'StartTransaction',
                               start(c, '2026-12-03T10:00:00Z', 'TAG' + i));
        if (r[0] === 3) ids.push(r[2].transactionId); else errors++;
      }
      s.close();
    }));
    console.log(JSON.stringify({answered: ids.length, distinct: new Set(ids).size, errors,
                                ms: Date.now() - t0, min: Math.min(...ids), max: Math.max(...ids)}));
  }
  setTimeout(() => process.exit(0), 200);
})().catch((e) => { console.error(e.message); process.exit(1); });
JS
A="ws://127.0.0.1:$PORT_A" B="ws://127.0.0.1:$PORT_B"
txstart() { timeout 30 node "$TMP/txid.js" start "$@"; }
txid_of() { python3 -c 'import json,sys; m=json.loads(sys.argv[1]); assert m[0]==3, m; print(m[2]["transactionId"])' "$1"; }

# ---- (a) same connector, same second, two stations; connectors 1 and 9 ---------------------
TS=2026-12-03T09:00:00Z
x1="$(txid_of "$(txstart "$A" TXS1 1 "$TS" TAG m1)")" || fail "TXS1 start"
x2="$(txid_of "$(txstart "$A" TXS2 1 "$TS" TAG m1)")" || fail "TXS2 start"
x9="$(txid_of "$(txstart "$A" TXS1 9 "$TS" TAG m2)")" || fail "TXS1 connector 9"
[ "$x1" != "$x2" ] && [ "$x1" != "$x9" ] && [ "$x2" != "$x9" ] || fail "ids collide: $x1 $x2 $x9"
ok "two stations on connector 1 in one second: $x1, $x2; connector 9: $x9"

# ---- (b) resent on the other pod: same id, same event id -----------------------------------
r1="$(txid_of "$(txstart "$A" TXR 2 2026-12-03T09:30:00Z TAGR first)")" || fail "TXR on pod A"
r2="$(txid_of "$(txstart "$B" TXR 2 2026-12-03T09:30:00Z TAGR resent)")" || fail "TXR on pod B"
[ "$r1" = "$r2" ] || fail "resend on pod B got $r2, pod A gave $r1"
got_two() {
  timeout 20 kcat -C -b "$KAFKA" -t ocpp-events-up -o beginning -e -q -f '%s\n' 2>/dev/null |
    grep '"type":"transaction.started"' | grep '"subject":"TXR"' >"$TMP/txr" || true
  [ "$(wc -l <"$TMP/txr")" -ge 2 ]
}
wait_until 40 "two transaction.started records of TXR" got_two
python3 - "$TMP/txr" "$r1" <<'PY' || fail "records of TXR: $(cat "$TMP/txr")"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert {e["data"]["transaction_id"] for e in evs} == {sys.argv[2]}, evs
assert len({e["id"] for e in evs}) == 1, [e["id"] for e in evs]
assert {e["source"] for e in evs} == {"/ocppgw/itest-txa", "/ocppgw/itest-txb"}, evs
PY
ok "StartTransaction resent (new message id) on pod B: transactionId $r1 again, both records one event id"

# ---- (c) 1,000 concurrent starts across both pods ------------------------------------------
res="$(timeout 160 node "$TMP/txid.js" many "$A" "$B" 200 5 TXM)" || fail "1,000 starts: $res"
python3 - "$res" <<'PY' || fail "1,000 starts: $res"
import json, sys
r = json.loads(sys.argv[1])
assert r["answered"] == 1000 and r["distinct"] == 1000 and r["errors"] == 0, r
assert 0 < r["min"] and r["max"] <= 2**31 - 1, r
PY
ok "1,000 concurrent StartTransactions on two pods (3 cores): 1,000 distinct ids ($res, load $(cut -d' ' -f1 /proc/loadavg))"

# ---- (d) Redis stopped, then back ----------------------------------------------------------
max_before="$(redis-cli -p "$REDIS_PORT" GET ocppgw:txid)"
budget0="$(metric 'core_txid_unanswered_total{reason="budget"}')"
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
t0=$SECONDS
down="$(txstart "$A" TXD 1 2026-12-03T11:00:00Z TAGD d1)" || fail "no answer while Redis is down"
python3 -c 'import json,sys; m=json.loads(sys.argv[1]); assert m[0]==4 and m[2]=="InternalError", m' "$down" ||
  fail "while Redis is down: $down"
[ $((SECONDS - t0)) -le 10 ] || fail "the fallback took $((SECONDS - t0)) s"
budget1="$(metric 'core_txid_unanswered_total{reason="budget"}')"
[ "${budget1:-0}" -gt "${budget0:-0}" ] || fail "fallback not counted ($budget0 -> $budget1)"
[ "$(metric 'core_txid_claims_total{result="unavailable"}')" -gt 0 ] || fail "-EAGAIN claims not counted"
grep -q 'no transaction id after' "$TMP/itest-txa"/log/ocpp-core-0.log 2>/dev/null ||
  grep -rq 'no transaction id after' "$TMP/itest-txa" || fail "fallback not logged"
ok "Redis down: StartTransaction answered InternalError after the claim budget ($down), counted and logged"
redis_start
d2="$(txid_of "$(txstart "$A" TXD 1 2026-12-03T11:00:00Z TAGD d2)")" || fail "start after Redis is back"
[ "$d2" -le 2147483647 ] || fail "id $d2"
[ "$d2" != "$x1" ] && [ "$d2" != "$r1" ] || fail "id $d2 after the outage repeats an earlier one"
[ "$(redis-cli -p "$REDIS_PORT" GET ocppgw:txid)" -ge "$max_before" ] || fail "the counter went back"
ok "Redis back: the resent StartTransaction gets id $d2; the counter kept its value (>= $max_before)"

stop_pod "$PID_B"
stop_pod "$PID_A"
ok "both pods stopped"
