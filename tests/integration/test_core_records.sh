#!/usr/bin/env bash
# test_core_records.sh: what ocpp-core puts on the records it produces, through the real pipeline
# (issue 14 items 1, 6, 7, 8; docs/unified-model.md "Event ids").
#
# One pod on loopback and a raw 1.6 station (stdlib Python) that boots twice with the very same
# BootNotification, starts a transaction, sends that StartTransaction again with a new message
# id on the same connection, reconnects and sends it a third time, then answers a ClearCache
# command written to commands-down with kcat and a W3C traceparent header, as a backend would:
#  - the two identical boots are two device.online events with two ids (occurrences);
#  - the StartTransaction resent on the same connection is answered with the same transactionId
#    and not published again (ocppgw_core_resends_suppressed_total); sent again on the new
#    connection it is published with the same event id;
#  - every event record carries `content-type: application/cloudevents+json; charset=UTF-8`, a
#    valid traceparent (distinct per message) and a dataschema naming its type's schema, and its
#    ce_id header is the event's id;
#  - the command's result comes back with the command's own traceparent as a header;
#  - ocppgw_core_call_duration_seconds has series for the actions the station sent.
# (The npm `cloudevents` SDK reads these records in test_cloudevents_sdk.sh.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/metrics_lib.sh"
itest_cleanup_on_exit
command -v kcat >/dev/null || fail "kcat not installed"

start_pod itest-rec
ok "pod ready on ws port $WS_PORT"

TP="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
cat >"$TMP/station.py" <<'PY'
import base64, json, os, select, socket, struct, sys, time
PORT, IDENT, OUT = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "a", buffering=1)

class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /ocpp/{IDENT} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(4096)
            assert chunk, "closed during the upgrade"
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def message(self, deadline):
        while True:
            while True:
                if len(self.buf) >= 2:
                    n, off = self.buf[1] & 0x7F, 2
                    if n == 126 and len(self.buf) >= 4:
                        n, off = struct.unpack("!H", self.buf[2:4])[0], 4
                    if n != 126 and len(self.buf) >= off + n:
                        break
                left = deadline - time.time()
                if left <= 0 or not select.select([self.s], [], [], left)[0]:
                    raise TimeoutError()
                chunk = self.s.recv(65536)
                assert chunk, "connection closed"
                self.buf += chunk
            op, payload, self.buf = self.buf[0] & 0x0F, self.buf[off:off + n], self.buf[off + n:]
            if op == 9:
                self.send(10, payload)
            elif op == 1:
                return json.loads(payload)

    def call(self, msg_id, action, payload):
        self.send(1, json.dumps([2, msg_id, action, payload]).encode())
        deadline = time.time() + 30
        while True:
            msg = self.message(deadline)
            if msg[0] == 3 and msg[1] == msg_id:
                OUT.write(f"answer {msg_id} {action} {json.dumps(msg[2])}\n")
                return msg[2]
            assert not (msg[0] == 4 and msg[1] == msg_id), f"CALLERROR to {action}: {msg}"

    def close(self):
        self.send(8, struct.pack("!H", 1000))
        time.sleep(0.3)
        self.s.close()

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}
START = {"connectorId": 1, "idTag": "TAG1", "meterStart": 0,
         "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
c = Conn()
c.call("b1", "BootNotification", BOOT)
c.call("b2", "BootNotification", BOOT)
c.call("s1", "StartTransaction", START)
c.call("s2", "StartTransaction", START)   # resent, same connection
c.close()
c = Conn()
c.call("b3", "BootNotification", BOOT)
c.call("s3", "StartTransaction", START)   # resent after a reconnect
OUT.write("calls done\n")
deadline = time.time() + 60
while time.time() < deadline:             # the command, answered Accepted
    try:
        msg = c.message(deadline)
    except TimeoutError:
        break
    if msg[0] == 2:
        OUT.write(f"command {msg[2]}\n")
        c.send(1, json.dumps([3, msg[1], {"status": "Accepted"}]).encode())
        time.sleep(0.5)
        break
c.close()
OUT.write("station done\n")
PY
python3 "$TMP/station.py" "$WS_PORT" REC16 "$TMP/station.out" >"$TMP/station.err" 2>&1 &
st=$!
calls_done() { grep -q '^calls done' "$TMP/station.out" || { ! kill -0 "$st" && cat "$TMP/station.err" >&2 && fail "station failed"; }; }
wait_until 30 "the station's CALLs answered" calls_done

# the resent StartTransactions: one transactionId
python3 - "$TMP/station.out" <<'PY' || fail "resent StartTransactions were answered differently"
import json, sys
tx = [json.loads(l.split(" ", 3)[3])["transactionId"] for l in open(sys.argv[1]) if l.startswith("answer s")]
assert len(tx) == 3 and len(set(tx)) == 1, tx
PY
ok "a StartTransaction resent with new message ids got the same transactionId three times"

# the command, with a traceparent header on its record (key: the owner pod)
printf '%s|%s\n' itest-rec '{"command_id":"rec-cc","cp_id":"REC16","action":"ClearCache","payload":{},"ttl_ms":60000}' |
  timeout 10 kcat -b "$KAFKA" -P -t commands-down -K'|' -H "traceparent=$TP" -X topic.partitioner=murmur2_random
wait_until 30 "the station answered the command" grep -q '^station done' "$TMP/station.out"
wait "$st" || { cat "$TMP/station.err"; fail "station exited with an error"; }
grep -q '^command ClearCache' "$TMP/station.out" || fail "ClearCache did not reach the station"
result_line() { timeout 20 kcat -C -b "$KAFKA" -t command-results -o beginning -e -q -f '%k\t%h\t%s\n' 2>/dev/null | grep '^rec-cc' || true; }
has_result() { [ -n "$(result_line)" ]; }
wait_until 30 "the command's result" has_result
result_line >"$TMP/result.tsv"
grep -q '"status":"accepted"' "$TMP/result.tsv" || fail "result not accepted: $(cat "$TMP/result.tsv")"
grep -q "traceparent=$TP" "$TMP/result.tsv" || fail "the result's traceparent is not the command's: $(cat "$TMP/result.tsv")"
grep -q "content-type=application/json" "$TMP/result.tsv" || fail "the result has no content-type header: $(cat "$TMP/result.tsv")"
ok "the command's traceparent came back on its result record (content-type application/json)"

# every event record of the station: headers and ids
events() { timeout 20 kcat -C -b "$KAFKA" -t ocpp-events-up -o beginning -e -q -f '%k\t%h\t%s\n' 2>/dev/null | grep '^REC16'$'\t' || true; }
two_starts() { [ "$(events | grep -c transaction.started)" -ge 2 ]; }
wait_until 30 "the second transaction.started" two_starts
events >"$TMP/events.tsv"
python3 - "$TMP/events.tsv" <<'PY' || fail "event records break the contract (above)"
import json, re, sys
TP = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
evs, traces = [], set()
for line in open(sys.argv[1]):
    key, hdrs, value = line.rstrip("\n").split("\t", 2)
    h = dict(kv.split("=", 1) for kv in hdrs.split(",") if "=" in kv)
    ev = json.loads(value)
    assert h.get("content-type") == "application/cloudevents+json; charset=UTF-8", (h, ev["type"])
    assert TP.match(h.get("traceparent", "")), (h, ev["type"])
    assert h.get("traceparent") not in traces, f"a trace used twice: {h}"
    traces.add(h["traceparent"])
    assert re.match(r"^[0-9a-f]{32}$", ev["id"]) and h.get("ce_id") == ev["id"], (h, ev["id"])
    assert ev["dataschema"] == f"https://ocppgw.example/unified/event-{ev['type']}.json", ev
    evs.append(ev)
types = [e["type"] for e in evs]
online = [e["id"] for e in evs if e["type"] == "device.online"]
started = [e["id"] for e in evs if e["type"] == "transaction.started"]
assert len(online) == 3 and len(set(online)) == 3, f"device.online ids {online}"
assert len(started) == 2 and len(set(started)) == 1, f"transaction.started ids {started} (types {types})"
print(f"{len(evs)} records: {' '.join(types)}")
PY
ok "identical boots: distinct device.online ids; the resent StartTransaction: one event id, published once per connection"
ok "every event record: CloudEvents content-type header, its own traceparent, ce_id = id, dataschema of its type"

# metrics: the resend suppressed, the latency per action
prom="$TMP/core.prom"
curl -sf --max-time 5 "http://127.0.0.1:$(admin_port core)/metrics" >"$prom" || fail "core /metrics"
awk '$1 == "ocppgw_core_resends_suppressed_total" && $2 >= 1 {f=1} END {exit !f}' "$prom" ||
  fail "no suppressed resend counted: $(grep resends "$prom")"
for a in BootNotification StartTransaction; do
  grep -q "^ocppgw_core_call_duration_seconds_count{action=\"$a\",version=\"1.6\"} [1-9]" "$prom" ||
    fail "no latency series for $a: $(grep call_duration "$prom" | head -5)"
done
ok "core_resends_suppressed_total counted the resend; core_call_duration_seconds per action and version"

# the core's log line about the suppressed resend names its trace
grep -h '"identity":"REC16"' "$TMP"/itest-rec/log/*core*.log 2>/dev/null | grep 'resent' |
  grep -qE '"trace_id":"[0-9a-f]{32}"' || fail "no trace_id on the core's line about the resend"
ok "the core logs trace_id on the lines about a message"

stop_pod "$POD_PID"
ok "test_core_records passed"
