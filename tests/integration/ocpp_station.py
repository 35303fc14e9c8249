#!/usr/bin/env python3
"""ocpp_station.py: one OCPP 1.6 charge point (stdlib only) that logs when each CALL was sent and
answered, line by line and flushed, so a test can tell what was answered while a fault lasted
(cp-sim buffers its log until it ends).

    ocpp_station.py PORT IDENTITY MODE LOG SECONDS

MODE hb: BootNotification, then a Heartbeat every 0.5 s. MODE tx: BootNotification,
StartTransaction, then MeterValues of that transaction every 0.5 s, StopTransaction at the end.
One CALL at a time (OCPP), each waiting up to 120 s for its answer. LOG lines:
    S <unix time> <message id> <action>
    A <unix time> <message id> ok|error:<code>
Exit 0 after SECONDS (and the last answer), 1 on a protocol failure or a close.
"""
import base64
import json
import os
import select
import socket
import struct
import sys
import time

PORT, IDENT, MODE, LOG, SECONDS = (int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4],
                                   float(sys.argv[5]))
log = open(LOG, "a", buffering=1)


def fail(msg):
    print(f"FAIL: {IDENT}: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /ocpp/{IDENT} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n")
                       .encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(4096)
            if not chunk:
                fail("closed during the upgrade")
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            fail(f"upgrade refused: {head.splitlines()[0]}")

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode])
        hdr += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.s], [], [], left)[0]:
                raise socket.timeout()
            chunk = self.s.recv(65536)
            if not chunk:
                fail("connection closed")
            self.buf += chunk

    def message(self, deadline):
        while True:
            self.need(2, deadline)
            op, n, off = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
            if n == 126:
                self.need(4, deadline)
                n, off = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                self.need(10, deadline)
                n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
            self.need(off + n, deadline)
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            if op == 9:
                self.send(10, payload)
            elif op == 8:
                fail(f"closed by the gateway: {payload[2:].decode(errors='replace')}")
            elif op == 1:
                return json.loads(payload)

    def call(self, msg_id, action, payload):
        log.write(f"S {time.time():.3f} {msg_id} {action}\n")
        self.send(1, json.dumps([2, msg_id, action, payload]).encode())
        deadline = time.time() + 120
        while True:
            msg = self.message(deadline)
            if msg[0] == 2:  # a CSMS call: not expected here, answered empty
                self.send(1, json.dumps([3, msg[1], {}]).encode())
                continue
            if msg[1] != msg_id:
                continue
            ok = msg[0] == 3
            log.write(f"A {time.time():.3f} {msg_id} {'ok' if ok else 'error:' + msg[2]}\n")
            return msg[2] if ok else None


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


c = Conn()
n = 0


def mid():
    global n
    n += 1
    return f"{IDENT}-{n}"


boot = c.call(mid(), "BootNotification", {"chargePointVendor": "itest", "chargePointModel": "kd"})
if not boot or boot.get("status") != "Accepted":
    fail(f"boot not accepted: {boot}")
end = time.time() + SECONDS
if MODE == "hb":
    while time.time() < end:
        c.call(mid(), "Heartbeat", {})
        time.sleep(0.5)
    sys.exit(0)
meter = 1000
start = c.call(mid(), "StartTransaction", {"connectorId": 1, "idTag": "TAG1", "meterStart": meter,
                                           "timestamp": now_iso()})
if not start:
    fail("StartTransaction refused")
tx = start["transactionId"]
while time.time() < end:
    time.sleep(0.5)
    meter += 10
    c.call(mid(), "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
        {"timestamp": now_iso(), "sampledValue": [{"value": str(meter)}]}]})
c.call(mid(), "StopTransaction", {"transactionId": tx, "meterStop": meter + 1,
                                  "timestamp": now_iso()})
