#!/usr/bin/env python3
"""edge_hostile_client.py: one hostile host and one well-behaved station against ws-edge
(asyncio, standard library only), for tests/integration/test_edge_hostile.sh.

    edge_hostile_client.py hostile PORT SRC COUNT HOLD_S
        COUNT connection attempts from SRC, at most 200 handshakes in flight. Once every attempt
        has its answer, each upgraded connection sends 60 KiB of one text message in 60
        fragments of 1 KiB and never the last one, then waits up to HOLD_S for the edge to
        close it (it answers no ping). Prints one JSON line: the HTTP statuses (0: the socket
        was closed without an answer), the close codes received ("eof": closed without a close
        frame, "open": still open after HOLD_S) and when they came.
    edge_hostile_client.py station PORT SRC SECONDS INTERVAL_S NAME
        one charge point from SRC: BootNotification, then a Heartbeat every INTERVAL_S for
        SECONDS, each answer timed. Prints one JSON line: sent, answered (CALLRESULTs), errors,
        latency p50 / p99 / max in ms.
PORT may be HOST:PORT (a balancer in front of the edge).
"""
import asyncio
import base64
import json
import os
import struct
import sys
import time

MODE, TARGET = sys.argv[1], sys.argv[2]
HOST, PORT = (TARGET.rsplit(":", 1) if ":" in TARGET else ("127.0.0.1", TARGET))
PORT = int(PORT)


def ws_frame(opcode, payload, fin=True):
    """A masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    hdr = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        hdr += bytes([0x80 | n])
    elif n < 65536:
        hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
    m = int.from_bytes(mask * ((n + 3) // 4), "big") if n else 0
    body = (int.from_bytes(payload, "big") ^ (m >> (8 * (-n % 4)))).to_bytes(n, "big") if n else b""
    return hdr + mask + body


async def upgrade(src, path, timeout=10):
    """(status, reader, writer); status 0 when the socket closed without an answer."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(HOST, PORT, local_addr=(src, 0)), timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {path} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n").encode())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        return int(head.split(b" ", 2)[1]), reader, writer
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError):
        return 0, reader, writer


async def read_frame(reader):
    """(opcode, payload) of the next server frame (unmasked)."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return b0 & 0x0F, await reader.readexactly(n)


async def hostile(src, count, hold):
    t0 = time.monotonic()
    sem = asyncio.Semaphore(200)
    all_answered = asyncio.Event()
    answered = 0
    statuses, closes = {}, {}
    close_times = []

    async def one(i):
        nonlocal answered
        writer = None
        try:
            async with sem:
                try:
                    status, reader, writer = await upgrade(src, f"/ocpp/HOSTILE{i}")
                except (OSError, asyncio.TimeoutError):
                    status = 0
            statuses[status] = statuses.get(status, 0) + 1
        finally:
            answered += 1
            if answered == count:
                all_answered.set()
        if status != 101:
            if writer:
                writer.close()
            return
        await all_answered.wait()
        outcome = "open"
        try:
            chunk = b"x" * 1024
            for k in range(60):  # 60 KiB, never the final fragment
                writer.write(ws_frame(1 if k == 0 else 0, chunk, fin=False))
            # no drain(): the edge stops reading a connection it closes, and its close frame must
            # be read while what it did not take is still queued here
            deadline = time.monotonic() + hold
            while True:
                op, payload = await asyncio.wait_for(read_frame(reader),
                                                     max(0.01, deadline - time.monotonic()))
                if op == 8:
                    outcome = str(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else "1005"
                    break
        except asyncio.TimeoutError:
            outcome = "open"
        except (asyncio.IncompleteReadError, ConnectionError):
            outcome = "eof"
        closes[outcome] = closes.get(outcome, 0) + 1
        if outcome != "open":
            close_times.append(round(time.monotonic() - t0, 2))
        writer.close()

    await asyncio.gather(*(one(i) for i in range(count)))
    close_times.sort()
    print(json.dumps({"attempts": count, "statuses": statuses, "closes": closes,
                      "first_close_s": close_times[0] if close_times else None,
                      "last_close_s": close_times[-1] if close_times else None,
                      "seconds": round(time.monotonic() - t0, 2)}), flush=True)


async def station(src, seconds, interval, name):
    status, reader, writer = await upgrade(src, f"/ocpp/{name}")
    if status != 101:
        print(json.dumps({"error": f"upgrade answered {status}"}), flush=True)
        return 1
    pending = {}
    lat, errors = [], []
    sent = 0

    async def receive():
        while True:
            op, payload = await read_frame(reader)
            if op == 9:
                writer.write(ws_frame(10, payload))
                continue
            if op == 8:
                errors.append("closed " + payload[:2].hex())
                return
            msg = json.loads(payload)
            t = pending.pop(msg[1], None)
            if t is None:
                continue
            if msg[0] == 3:
                lat.append((time.monotonic() - t) * 1000)
            else:
                errors.append(str(msg[2:4]))

    rx = asyncio.ensure_future(receive())

    def call(action, payload):
        nonlocal sent
        mid = f"{name}-{sent}"
        sent += 1
        pending[mid] = time.monotonic()
        writer.write(ws_frame(1, json.dumps([2, mid, action, payload]).encode()))

    call("BootNotification", {"chargePointVendor": "itest", "chargePointModel": "hostile"})
    end = time.monotonic() + seconds
    while time.monotonic() < end and not rx.done():
        await asyncio.sleep(interval)
        call("Heartbeat", {})
    await asyncio.sleep(min(5.0, interval * 4))  # the last answers
    rx.cancel()
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None

    print(json.dumps({"sent": sent, "answered": len(lat), "unanswered": len(pending),
                      "errors": errors[:5], "p50_ms": pct(0.5), "p99_ms": pct(0.99),
                      "max_ms": round(lat[-1], 1) if lat else None}), flush=True)
    writer.close()
    return 0


def main():
    if MODE == "hostile":
        asyncio.run(hostile(sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
        return 0
    if MODE == "station":
        return asyncio.run(station(sys.argv[3], float(sys.argv[4]), float(sys.argv[5]),
                                   sys.argv[6]))
    print(__doc__, file=sys.stderr)
    return 2


sys.exit(main())
