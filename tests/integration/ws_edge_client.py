#!/usr/bin/env python3
"""ws_edge_client.py: a raw WebSocket client (stdlib only) for the ws-edge integration tests.

Raw on purpose: the tests need what polite client libraries will not do: fragment a message,
send binary or invalid UTF-8, stay silent to pings, trickle an upgrade request, send huge
headers. Each scenario prints "ok: ..." lines and exits non-zero on the first failure.

    ws_edge_client.py PORT SCENARIO [args...]
"""
import base64
import json
import os
import select
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]
ARGS = sys.argv[3:]
SRC = os.environ.get("SRC", "127.0.0.1")  # source address: each scenario its own (ip rate)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print("ok: " + msg, flush=True)


def tcp(src=None):
    src = src or SRC
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", PORT))
    return s


def read_http_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            return None, buf
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    return status, rest


def upgrade(path, protocols=("ocpp1.6",), src=None, extra=""):
    """Returns (status, socket, leftover bytes)."""
    s = tcp(src)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if protocols:
        req += "Sec-WebSocket-Protocol: " + ", ".join(protocols) + "\r\n"
    req += extra + "\r\n"
    s.sendall(req.encode())
    try:
        status, rest = read_http_head(s)
    except (ConnectionResetError, socket.timeout):
        status, rest = None, b""
    return status, s, rest


class Conn:
    def __init__(self, path, protocols=("ocpp1.6",), src=None, pong=True):
        status, self.s, self.buf = upgrade(path, protocols, src)
        if status != 101:
            fail(f"{path}: upgrade answered {status}, expected 101")
        self.pong = pong
        self.pings = 0
        self.closed = None  # (code, reason) once a close frame arrived

    def send(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.s.sendall(hdr + mask + body)

    def send_quietly(self, opcode, payload, fin=True):
        """send() that tolerates the server closing meanwhile (what it sent stays readable)."""
        try:
            self.send(opcode, payload, fin)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def text(self, obj):
        self.send(1, json.dumps(obj).encode())

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise socket.timeout()
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                raise socket.timeout()
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError()
            self.buf += chunk

    def frame(self, timeout=5.0):
        """Next data or close frame; answers pings unless silent. Raises EOFError, timeout."""
        deadline = time.time() + timeout
        while True:
            self._need(2, deadline)
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                self._need(4, deadline)
                n, off = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10, deadline)
                n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
            self._need(off + n, deadline)
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            op = b0 & 0x0F
            if op == 9:
                self.pings += 1
                if self.pong:
                    self.send(10, payload)
                continue
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.closed = (code, payload[2:].decode(errors="replace"))
                return op, payload
            return op, payload

    def call(self, msg_id, action, payload, timeout=10.0):
        self.text([2, msg_id, action, payload])
        return self.reply(msg_id, timeout)

    def reply(self, msg_id, timeout=10.0):
        deadline = time.time() + timeout
        while True:
            op, data = self.frame(max(0.01, deadline - time.time()))
            if op == 8:
                fail(f"closed {self.closed} while waiting for {msg_id}")
            msg = json.loads(data)
            if msg[1] == msg_id:
                return msg

    def expect_close(self, code, timeout=5.0):
        deadline = time.time() + timeout
        while self.closed is None:
            try:
                self.frame(max(0.01, deadline - time.time()))
            except EOFError:
                fail(f"EOF without a close frame, expected {code}")
            except socket.timeout:
                fail(f"no close frame within {timeout}s, expected {code}")
        if self.closed[0] != code:
            fail(f"closed with {self.closed}, expected {code}")
        return self.closed


BOOT16 = {"chargePointVendor": "itest", "chargePointModel": "edge"}


def scenario_refusals():
    cases = [("/other/CP1", ("ocpp1.6",), 404, "bad path"),
             ("/ocpp/bad:id", ("ocpp1.6",), 400, "bad identity"),
             ("/ocpp/" + "A" * 49, ("ocpp1.6",), 400, "identity of 49 characters"),
             ("/ocpp/CP1", (), 400, "no subprotocol"),
             ("/ocpp/CP1", ("ocpp9.9",), 400, "unknown subprotocol")]
    for path, protos, want, what in cases:
        status, s, _ = upgrade(path, protos)
        s.close()
        if status != want:
            fail(f"{what}: {path} answered {status}, expected {want}")
        ok(f"{what} ({path} {list(protos)}) refused with {status}")
    # a plain GET is not an upgrade
    s = tcp()
    s.sendall(f"GET /ocpp/CP1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    status, _ = read_http_head(s)
    s.close()
    if status != 404:
        fail(f"plain GET answered {status}")
    ok("plain HTTP GET refused with 404")
    # headers beyond the limit: never upgraded
    status, s, _ = upgrade("/ocpp/CPBIG", extra="X-Padding: " + "p" * 8000 + "\r\n")
    s.close()
    if status == 101:
        fail("an 8 KB header was accepted")
    ok(f"8 KB of headers refused (status {status}, None = connection closed)")
    # percent-encoded identity, both prefixes, the client's subprotocol list
    c = Conn("/ocpp/CP%2D7", ("ocpp1.6",))
    r = c.call("b1", "BootNotification", BOOT16)
    if r[0] != 3:
        fail(f"boot of CP-7 answered {r}")
    c.s.close()
    ok("identity CP%2D7 percent-decoded and served")
    c = Conn("/ws/CP8", ("ocpp2.0.1",))
    c.s.close()
    ok("/ws/ prefix accepted with ocpp2.0.1")


def scenario_messages():
    # fragmented message reassembled
    c = Conn("/ocpp/CPFRAG")
    msg = json.dumps([2, "f1", "BootNotification", BOOT16]).encode()
    third = len(msg) // 3
    c.send(1, msg[:third], fin=False)
    c.send(0, msg[third:2 * third], fin=False)
    c.send(0, msg[2 * third:], fin=True)
    r = c.reply("f1")
    if r[0] != 3:
        fail(f"fragmented boot answered {r}")
    ok("a message in 3 fragments is reassembled and answered")
    # fragmented beyond max_message_bytes: 1009 (the edge may close while we still send)
    c.send_quietly(1, b"[" + b" " * 40000, fin=False)
    c.send_quietly(0, b" " * 40000, fin=False)
    c.expect_close(1009)
    ok("a fragmented message beyond max_message_bytes closes with 1009")
    c = Conn("/ocpp/CPBIG1")
    c.send_quietly(1, b"[" + b" " * 70000 + b"]")
    c.expect_close(1009)
    ok("a single frame beyond max_message_bytes closes with 1009")
    c = Conn("/ocpp/CPBIN")
    c.send(2, b"\x00\x01")
    c.expect_close(1003)
    ok("a binary frame closes with 1003")
    c = Conn("/ocpp/CPUTF")
    c.send(1, b'[2,"u1","Heartbeat",{"x":"\xc3\x28"}]')
    c.expect_close(1007)
    ok("invalid UTF-8 closes with 1007")


def scenario_duplicate():
    a = Conn("/ocpp/CPDUP")
    a.call("d1", "BootNotification", BOOT16)
    b = Conn("/ocpp/CPDUP")
    code, reason = a.expect_close(1000)
    ok(f"first connection of CPDUP closed by core ({code} {reason!r}) when the second came")
    r = b.call("d2", "Heartbeat", {})
    if r[0] not in (3, 4):
        fail(f"second connection answered {r}")
    ok("second connection of CPDUP is served")


def scenario_slowloris():
    limit = float(ARGS[0])
    s = tcp()
    s.sendall(b"GET /ocpp/SLOW HTTP/1.1\r\nHost: x\r\n")
    start = time.time()
    s.settimeout(limit + 10)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    took = time.time() - start
    if took > limit + 5:
        fail(f"an incomplete upgrade was held {took:.1f}s (timeout {limit}s)")
    ok(f"an incomplete upgrade request was dropped after {took:.1f}s (handshake timeout {limit}s)")


def scenario_ping():
    idle = float(ARGS[0])
    silent = Conn("/ocpp/CPSILENT", pong=False)
    polite = Conn("/ocpp/CPPOLITE", pong=True)
    start = time.time()
    gone = None
    while time.time() - start < idle + 5:
        for c in (silent, polite):
            try:
                c.frame(0.2)
            except socket.timeout:
                pass
            except EOFError:
                if c is polite:
                    fail("the connection answering pings was closed")
                if gone is None:
                    gone = time.time() - start
        if gone is not None and time.time() - start > idle + 2:
            break
    if gone is None:
        fail(f"a connection silent to pings was still open after {idle + 5}s")
    if silent.pings < 1 or polite.pings < 1:
        fail(f"pings received: silent {silent.pings}, polite {polite.pings}")
    ok(f"silent connection got {silent.pings} ping(s) and was hung up after {gone:.1f}s "
       f"(window {idle}s); the one answering pings ({polite.pings} pings) stays open")


def scenario_flood():
    """Sends N padded CALLs at once, then expects N answers, whatever they are (the shell
    stalls core meanwhile: the connection is not even booted when they are sent)."""
    n, pad = int(ARGS[0]), int(ARGS[1])
    c = Conn("/ocpp/CPFLOOD")
    for i in range(n):
        c.text([2, f"h{i}", "Heartbeat", {"pad": "x" * pad}])
    print("sent", flush=True)
    seen = set()
    deadline = time.time() + 60
    while len(seen) < n and time.time() < deadline:
        op, data = c.frame(max(0.01, deadline - time.time()))
        if op == 8:
            fail(f"closed {c.closed} after {len(seen)} answers")
        seen.add(json.loads(data)[1])
    if len(seen) != n:
        fail(f"{len(seen)} of {n} CALLs answered")
    ok(f"all {n} CALLs answered after the stall, none lost")


def scenario_slow_reader():
    """Sends N CALLs and reads nothing (small receive buffer): the edge must close with 1008
    once its send queue for this connection is full; the close arrives after the answers."""
    n = int(ARGS[0])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((SRC, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", PORT))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ocpp/CPSLOW HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n").encode())
    status, rest = read_http_head(s)
    if status != 101:
        fail(f"slow reader upgrade answered {status}")
    c = Conn.__new__(Conn)
    c.s, c.buf, c.pong, c.pings, c.closed = s, rest, True, 0, None
    sent = 0
    try:
        for i in range(n):
            c.text([2, f"s{i}", "Heartbeat", {}])
            sent += 1
    except (BrokenPipeError, ConnectionResetError):
        pass  # the edge gave up on us while we were still sending
    time.sleep(1)
    answers = 0
    deadline = time.time() + 30
    how = None
    while how is None and time.time() < deadline:
        try:
            op, _ = c.frame(max(0.01, deadline - time.time()))
        except (EOFError, ConnectionResetError):
            how = "dropped (the close frame could not be written to a full socket)"
            break
        if op == 8:
            if c.closed[0] != 1008:
                fail(f"slow reader closed with {c.closed}, expected 1008")
            how = f"closed with 1008 {c.closed[1]!r}"
        else:
            answers += 1
    if how is None:
        fail(f"slow reader still connected after {answers} answers")
    ok(f"slow reader {how} after reading {answers} answers to {sent} CALLs")


def scenario_hold():
    """Opens N connections from SRC, prints 'held', then records every close: code and time."""
    n, src, secs = int(ARGS[0]), ARGS[1], float(ARGS[2])
    conns = [Conn(f"/ocpp/HOLD{src.split('.')[-1]}x{i}", src=src) for i in range(n)]
    print("held", flush=True)
    deadline = time.time() + secs
    closes = []
    while len(closes) < n and time.time() < deadline:
        for c in conns:
            if c.closed is not None:
                continue
            try:
                c.frame(0.05)
            except socket.timeout:
                continue
            except EOFError:
                c.closed = (1006, "")
            if c.closed is not None:
                closes.append((time.time(), c.closed[0]))
    print(json.dumps({"open": n - len(closes), "closes": closes}), flush=True)


def scenario_connect_many():
    """Opens N connections from SRC one after the other (closing each): prints the statuses."""
    n, src = int(ARGS[0]), ARGS[1]
    statuses = []
    for i in range(n):
        status, s, _ = upgrade(f"/ocpp/RATE{i}", src=src)
        statuses.append(status)
        s.close()
    print(json.dumps(statuses))


globals()["scenario_" + SCENARIO.replace("-", "_")]()
