#!/usr/bin/env python3
"""zmtp_push.py: sends one raw message to a stage's ZeroMQ PULL socket, as a PUSH peer would.

    zmtp_push.py SOCKET_PATH HEX_BYTES

A minimal ZMTP 3.0 peer (NULL mechanism) written from the protocol (rfc.zeromq.org/spec/23) with
the standard library only, so a test can hand a stage bytes that no gateway process would ever
send (an undecodable envelope) without linking libzmq. Exit 0 once the message was written and
the stage had half a second to read it.
"""
import socket
import struct
import sys
import time

path, payload = sys.argv[1], bytes.fromhex(sys.argv[2])


def frame(flags, body):
    if len(body) < 256:
        return bytes([flags]) + bytes([len(body)]) + body
    return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("peer closed during the handshake")
        buf += chunk
    return buf


s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(path)
# greeting: signature, version 3.0, mechanism NULL, as-server 0, filler
s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31)
greeting = read_exact(s, 64)
if greeting[0] != 0xFF or greeting[9] != 0x7F or greeting[10] < 3:
    sys.exit(f"zmtp_push: not a ZMTP 3 peer: {greeting[:12].hex()}")
# READY command with our socket type
ready = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 4) + b"PUSH"
s.sendall(frame(0x04, ready))
flags = read_exact(s, 1)[0]
size = read_exact(s, 8 if flags & 0x02 else 1)
body = read_exact(s, struct.unpack(">Q", size)[0] if flags & 0x02 else size[0])
if not flags & 0x04 or not body.startswith(b"\x05READY"):
    sys.exit("zmtp_push: no READY from the peer")
s.sendall(frame(0x00, payload))
time.sleep(0.5)
s.close()
print(f"sent {len(payload)} bytes to {path}")
